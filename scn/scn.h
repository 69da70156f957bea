/* SPDX-License-Identifier: MIT */
/*
 * The scenario language: a file states a host, runs operations on it and
 * states what must happen. docs/scenario-language.md is the reference.
 *
 *   # comment
 *   host memory=8G nodes=2 hugepages-2M=16
 *   sysctl vm.memory_failure_early_kill=1
 *   process db
 *   mmap db m1 anon size=64K
 *   write m1+0x5000
 *   memory_failure at=m1+0x5000 => ret=0 type=MF_MSG_DIRTY_LRU result=MF_RECOVERED
 *   expect signal db SIGBUS code=BUS_MCEERR_AO addr=m1+0x5000 lsb=12
 *
 * A file is parsed and checked whole before anything runs: a file with an
 * error runs nothing. Then each line runs in order; after every line the
 * host's invariants are checked.
 */
#ifndef GMF_SCN_SCN_H
#define GMF_SCN_SCN_H

#include <stdio.h>

#include "base/trace.h"
#include "base/types.h"
#include "sim/sched.h"

struct scn_arg {
	char *key;		/* NULL for a positional argument */
	char *val;
	int col;		/* 1-based column of the argument */
	bool quoted;
};

struct scn_stmt {
	int line;
	int col;		/* of the verb */
	char *verb;
	struct scn_arg *args;
	int nargs;
	/* [key=v1,v2] guard: the line runs only when the varied switch has one of the values. */
	char *guard_key;
	char **guard_vals;
	int nguard;
	/* Expectations after "=>" on an operation line: one "expect" statement. */
	struct scn_stmt *inline_expect;
	const struct scn_verb *v;
	/* "LABEL: stmt" inside a concurrent block: the model thread, and its index. */
	char *thread;
	int thread_idx;
	int thread_col;
};

struct scn_file {
	char *path;
	struct scn_stmt *stmts;
	int n;
	/* "vary KEY=V1,V2,...": the file runs once per value. */
	char *vary_key;
	char **vary_vals;
	int nvary;
	int vary_line;
	/* The concurrent block (at most one): its threads in order of appearance. */
	int conc_line;			/* of "concurrent", 0 when none */
	char **threads;
	int nthreads;
	char **block_names;		/* names defined inside the block */
	int nblock_names;
};

/* A parse error: FILE:LINE:COL: message. */
struct scn_error {
	int line, col;
	char msg[256];
};

/* Parse @text (named @path in messages). 0, or -EINVAL with @err filled. */
int scn_parse(const char *path, const char *text, size_t len, struct scn_file **out,
	      struct scn_error *err);
void scn_file_free(struct scn_file *f);

/*
 * What a run's observer (scn_run_opts.on_event) is told, event by event, as
 * the model records it: facts read from the live model at that moment (its
 * tasks, VMAs, VMs, memslots), named as the scenario names them. Strings
 * and the trace event are valid during the call only.
 */
enum scn_event_kind {
	SCN_EV_SIGNAL,		/* a signal was sent to a task */
	SCN_EV_EXIT,		/* KVM_RUN returned */
	SCN_EV_PANIC,		/* the host panicked: the message is trace->message */
};

/* A VM of the model host as it is at the event; its names are "?" when unknown. */
struct scn_event_vm {
	int id;			/* kvm->id (vmN in the trace); -1: no VM */
	const char *name;	/* the scenario's name for it */
	const char *vmm;	/* the scenario's name for its process */
	bool vmm_handler;	/* that process catches SIGBUS */
	int nr_vcpus;
	int max_vcpu_id;	/* the highest vCPU id, -1 without vCPUs */
	const char *max_vcpu;	/* that vCPU's name */
	int nr_slots;		/* memslots */
	int nr_gmem_slots;	/* of them on guest_memfd */
	int nr_smm_slots;	/* of them in address space 1 */
	u64 mem_end;		/* gpa + size of its highest memslot; 0 without memslots */
};

struct scn_event {
	enum scn_event_kind kind;
	int line;		/* the scenario line that caused it, 0 when none */
	const struct trace_event *trace;	/* the model's trace event */
	int nr_vms;		/* VMs on the host */
	/*
	 * The VM concerned: the exit's; for a signal, the VM the target's
	 * process created, else the VM whose memory the address is, else the
	 * host's first VM (id -1 when the host has none).
	 */
	struct scn_event_vm vm;

	/* SCN_EV_SIGNAL: the target, a thread or process of the scenario. */
	const char *task;	/* its name in the scenario (comm when it has none) */
	int pid;
	bool main_thread;	/* it is its process (the thread group leader) */
	bool vmm;		/* it is a thread of vm's process (the main one included) */
	int vcpu;		/* the id of the vCPU of vm it runs, -1 none (also SCN_EV_EXIT) */
	int nr_vcpus_run;	/* how many vCPUs of vm it runs */
	int signal, code;	/* code: si_code */
	bool has_addr;		/* si_addr and si_addr_lsb */
	u64 addr;
	int lsb;
	/*
	 * The address as guest memory (kvm_uaddr_to_gpa()), of vm when vm
	 * maps it, else of the first VM that does; false: not guest memory.
	 */
	bool guest;
	int gpa_vm;		/* that VM's id */
	u64 gpa;		/* also SCN_EV_EXIT's */
	bool private;		/* the gfn is private */
	bool gmem;		/* through a guest_memfd binding, else a userspace_addr range */
	u32 slot;		/* the memslot: as << 16 | id */
	const char *file;	/* the file mapped there (the scenario's name), NULL anonymous */
	u64 offset;		/* the address's offset in it */
	const char *mapping;	/* the scenario's mapping there, NULL when none */

	/* SCN_EV_EXIT: vm.id and vcpu, and what KVM_RUN returned. */
	long ret;		/* 0 or -errno */
	const char *exit_reason;	/* "KVM_EXIT_MEMORY_FAULT", "none", ... */
	bool has_gpa;		/* gpa, size, flags */
	u64 size, flags;
};

/* Threads of a concurrent block: as many as the explorer's scheduler runs. */
#define SCN_MAX_THREADS	SCHED_MAX_THREADS

struct scn_run_opts {
	FILE *out;		/* trace and verdict output, or NULL */
	bool json;
	bool quiet;		/* only the verdict */
	u64 seed;
	u64 max_host_bytes;	/* refuse bigger hosts (fuzzing); 0: no limit */
	bool kho_image;		/* keep each run's KHO image in its result */
	/*
	 * Run the concurrent block under this explorer's schedule (sim/sched.h)
	 * instead of one thread after the other. The caller has prepared the
	 * execution (explorer_next()).
	 */
	struct explorer *explorer;
	/*
	 * Called at each signal, KVM exit and panic of the model, while the
	 * model state that made it is live (the trace's sink), or NULL.
	 */
	void (*on_event)(void *arg, const struct scn_event *ev);
	void *on_event_arg;
};

/* The outcome of one run of a file under one value of its varied switch. */
struct scn_result {
	char *vary_val;		/* NULL when the file varies nothing */
	bool passed;
	int expectations;	/* checked */
	int failed_line;	/* first failure, 0 if none */
	char failure[512];
	bool panicked;
	char summary[160];	/* a short description of what happened, for tables */
	/*
	 * With opts->kho_image: the KHO image (FDT blob) of the run, the frozen
	 * session's at the end or else the one the last kho_kexec handed over;
	 * NULL when there is none. The caller frees it with kfree().
	 */
	void *kho_blob;
	size_t kho_len;
	/* With opts->explorer: the execution's outcome (enum sched_outcome). */
	int sched_outcome;
	/* A digest of what happened, blind to the order of events: distinct outcomes. */
	u64 digest;
};

/*
 * Run @f once per varied value. Returns the number of runs stored in
 * @results (at most @max), or a negative errno.
 */
int scn_run(struct scn_file *f, const struct scn_run_opts *opts, struct scn_result *results,
	    int max);

/* Free what a result owns (its varied value, its KHO image); the struct stays. */
void scn_result_free(struct scn_result *r);

/* Run @f once, under its varied switch's value @vary (NULL when it varies nothing). */
int scn_run_one(struct scn_file *f, const struct scn_run_opts *opts, const char *vary,
		struct scn_result *result);

#endif
