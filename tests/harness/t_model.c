// SPDX-License-Identifier: MIT
/* Model fixtures: see t_model.h. */
#include <string.h>

#include "kvm/kvm.h"
#include "tests/harness/t_model.h"

const struct host_config t_default_config = {
	.memory_bytes = 4ULL << 30,
	.nr_nodes = 2,
	.nr_cpus = 2,
	.reserved_bytes = 16ULL << 20,
	.hugepages = { 8, 1 },
};

void t_host_init(struct t_host *th, const struct host_config *cfg)
{
	trace_init(&th->trace, true);
	th->host = host_create(cfg ? cfg : &t_default_config, &th->trace);
	if (IS_ERR(th->host))
		t_fail(__FILE__, __LINE__, __func__, true, "host_create: %s",
		       errno_name((int)PTR_ERR(th->host)));
}

void t_dump_trace(struct t_host *th)
{
	for (unsigned long i = 0; i < th->trace.nr; i++) {
		fputs("#   ", stderr);
		trace_print_text(stderr, &th->trace.ev[i]);
	}
}

void t_validate(struct t_host *th, const char *file, int line)
{
	int ret = host_validate(th->host);

	if (ret) {
		t_dump_trace(th);
		t_fail(file, line, "t_validate", true, "host_validate: %s", errno_name(ret));
	}
}

void t_host_free(struct t_host *th)
{
	int ret = host_validate(th->host);

	if (ret)
		t_dump_trace(th);
	host_destroy(th->host);
	trace_destroy(&th->trace);
	if (ret)
		t_fail(__FILE__, __LINE__, __func__, true, "invariants broken at teardown");
}

void t_kvm_host_free(struct t_host *th)
{
	int ret = kvm_validate_all(th->host);

	if (ret)
		t_dump_trace(th);
	kvm_host_teardown(th->host);
	t_host_free(th);
	if (ret)
		t_fail(__FILE__, __LINE__, __func__, true, "KVM invariants broken at teardown");
}

unsigned long t_count_events(struct t_host *th, enum trace_kind kind, const char *substr)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < th->trace.nr; i++) {
		const struct trace_event *e = &th->trace.ev[i];

		if (e->kind != kind)
			continue;
		if (substr && (!e->message || !strstr(e->message, substr)))
			continue;
		n++;
	}
	return n;
}

const struct trace_event *t_last_signal(struct t_host *th, const struct task_struct *t)
{
	const struct trace_event *last = NULL;

	for (unsigned long i = 0; i < th->trace.nr; i++) {
		const struct trace_event *e = &th->trace.ev[i];

		if (e->kind == TRACE_SIGNAL && e->pid == t->pid)
			last = e;
	}
	return last;
}

unsigned long t_signals_to(struct t_host *th, const struct task_struct *t)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < th->trace.nr; i++)
		if (th->trace.ev[i].kind == TRACE_SIGNAL && th->trace.ev[i].pid == t->pid)
			n++;
	return n;
}

bool t_logged(struct t_host *th, const char *line)
{
	for (unsigned long i = 0; i < th->trace.nr; i++) {
		const struct trace_event *e = &th->trace.ev[i];

		if (e->kind == TRACE_LOG && !strcmp(e->message, line))
			return true;
	}
	return false;
}

struct task_struct *t_process(struct t_host *th, const char *comm)
{
	struct task_struct *t = task_create(th->host, comm, NULL);

	if (!t)
		t_fail(__FILE__, __LINE__, __func__, true, "task_create failed");
	return t;
}

unsigned long t_mmap_anon(struct task_struct *t, u64 len, unsigned long extra_flags)
{
	int err;
	unsigned long addr = do_mmap(t, NULL, 0, len, VM_READ | VM_WRITE | extra_flags, 0, &err);

	if (err)
		t_fail(__FILE__, __LINE__, __func__, true, "do_mmap: %s", errno_name(err));
	return addr;
}

unsigned long t_mmap_file(struct task_struct *t, struct file *f, u64 len, pgoff_t pgoff,
			  unsigned long extra_flags)
{
	int err;
	unsigned long addr = do_mmap(t, f, 0, len, VM_READ | VM_WRITE | VM_SHARED | extra_flags,
				     pgoff, &err);

	if (err)
		t_fail(__FILE__, __LINE__, __func__, true, "do_mmap: %s", errno_name(err));
	return addr;
}

unsigned long t_touch(struct task_struct *t, unsigned long addr, bool write)
{
	unsigned long pfn = 0;
	enum access_result r = handle_user_access(t, addr, write, &pfn);

	if (r != ACCESS_OK)
		t_fail(__FILE__, __LINE__, __func__, true, "access %#lx: %s", addr,
		       access_result_names[r]);
	return pfn;
}
