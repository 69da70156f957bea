/* SPDX-License-Identifier: MIT */
/*
 * Fixtures for model tests: a small host with its trace, helpers to set up
 * processes and pages, and observation helpers over the trace.
 *
 * t_host_free() validates the host (every invariant) before it frees it, so
 * every test that builds a host checks the invariants at its end.
 */
#ifndef GMF_TESTS_T_MODEL_H
#define GMF_TESTS_T_MODEL_H

#include "mm/memory-failure.h"
#include "tests/harness/t.h"

struct t_host {
	struct host *host;
	struct trace trace;
};

/* 4 GiB in 2 nodes, 16 MiB reserved, eight 2M and one 1G HugeTLB page. */
extern const struct host_config t_default_config;

void t_host_init(struct t_host *th, const struct host_config *cfg);
void t_host_free(struct t_host *th);
/* The same for a host with VMs: KVM's invariants checked, KVM torn down first. */
void t_kvm_host_free(struct t_host *th);
/* Validate now; fail the test with the trace's last note on a violation. */
void t_validate(struct t_host *th, const char *file, int line);
#define T_VALIDATE(th) t_validate(th, __FILE__, __LINE__)

/* The number of events of @kind (and, for logs, containing @substr). */
unsigned long t_count_events(struct t_host *th, enum trace_kind kind, const char *substr);
/* The last signal event sent to @t, or NULL. */
const struct trace_event *t_last_signal(struct t_host *th, const struct task_struct *t);
unsigned long t_signals_to(struct t_host *th, const struct task_struct *t);
/* Whether a log line equal to @line was printed. */
bool t_logged(struct t_host *th, const char *line);
void t_dump_trace(struct t_host *th);

/* A process with one anonymous mapping of @len bytes (VM_READ|VM_WRITE|@extra). */
struct task_struct *t_process(struct t_host *th, const char *comm);
unsigned long t_mmap_anon(struct task_struct *t, u64 len, unsigned long extra_flags);
unsigned long t_mmap_file(struct task_struct *t, struct file *f, u64 len, pgoff_t pgoff,
			  unsigned long extra_flags);
/* Touch @addr (fault it in); returns the pfn. Fails the test on anything but ACCESS_OK. */
unsigned long t_touch(struct task_struct *t, unsigned long addr, bool write);

#endif
