// SPDX-License-Identifier: MIT
/*
 * gmf demo: the built-in demonstration behind `make run`. One host, a few
 * memory failures of different kinds, each printed in the kernel's words,
 * then a table of outcomes.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "mm/memory-failure.h"

struct demo_row {
	const char *what;
	const char *type;
	const char *result;
	int ret;
	unsigned long signals;
	bool panicked;
};

struct demo {
	struct host *host;
	struct trace trace;
	struct demo_row rows[16];
	int nr;
	bool json;
};

static void demo_heading(struct demo *d, const char *what)
{
	if (d->json) {
		struct trace_event e = { .kind = TRACE_NOTE, .has = TF_MESSAGE };

		e.message = (char *)what;
		trace_emit(&d->trace, &e);
	} else {
		printf("\n== %s\n", what);
	}
}

static unsigned long signals_sent(const struct demo *d)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < d->trace.nr; i++)
		n += d->trace.ev[i].kind == TRACE_SIGNAL;
	return n;
}

static void demo_record(struct demo *d, const char *what, int ret, unsigned long signals_before)
{
	struct mf_outcome o = mf_last_outcome(d->host);
	struct demo_row *r = &d->rows[d->nr++];

	r->what = what;
	r->type = o.has_result ? action_page_types[o.type] : "-";
	r->result = o.has_result ? action_name[o.result] : "-";
	r->ret = ret;
	r->signals = signals_sent(d) - signals_before;
	r->panicked = d->host->panicked;
	signals_deliver(d->host);
}

static int demo_new_host(struct demo *d, enum mf_panic_rule rule, int panic_sysctl)
{
	static const struct host_config cfg = {
		.memory_bytes = 8ULL << 30, .nr_nodes = 2, .nr_cpus = 2,
		.reserved_bytes = 64ULL << 20, .hugepages = { 16, 2 },
	};

	if (d->host)
		host_destroy(d->host);
	d->host = host_create(&cfg, &d->trace);
	if (IS_ERR(d->host)) {
		fprintf(stderr, "gmf demo: host_create: %s\n", errno_name((int)PTR_ERR(d->host)));
		d->host = NULL;
		return 1;
	}
	d->host->sysctl.panic_rule = rule;
	d->host->sysctl.panic_on_unrecoverable_memory_failure = panic_sysctl;
	return 0;
}

static int run_demo(struct demo *d)
{
	struct task_struct *db, *web, *kv;
	struct file *shm;
	unsigned long addr, addr2, pfn, before;
	struct folio *f;
	int ret, err;

	if (demo_new_host(d, MF_PANIC_RULE_MAINLINE, 0))
		return 1;
	if (!d->json)
		printf("host: 8 GiB, 2 nodes, 16 x 2M and 2 x 1G HugeTLB pages; "
		       "vm.memory_failure_early_kill=0\n");

	demo_heading(d, "1. a free page in the buddy allocator (a scrubber finds it)");
	before = signals_sent(d);
	ret = memory_failure(d->host, 0x40000, 0);
	demo_record(d, "free buddy page", ret, before);

	demo_heading(d, "2. a dirty anonymous page of a process that asked for early kill");
	db = task_create(d->host, "db", NULL);
	if (!db || task_prctl_mce_kill(db, 1, 1))
		return 1;
	db->sigbus_handler = true;
	addr = do_mmap(db, NULL, 0, 64 * PAGE_SIZE, VM_READ | VM_WRITE, 0, &err);
	if (err || handle_user_access(db, addr + 5 * PAGE_SIZE, true, &pfn) != ACCESS_OK)
		return 1;
	before = signals_sent(d);
	ret = memory_failure(d->host, pfn, 0);
	demo_record(d, "dirty anon page, early kill", ret, before);

	demo_heading(d, "3. a dirty shmem page mapped by two processes; the writer consumes it");
	shm = file_create(d->host, FILE_SHMEM, "memfd:shared", 16 * PAGE_SIZE, NULL);
	web = task_create(d->host, "web", NULL);
	kv = task_create(d->host, "kv", NULL);
	if (IS_ERR(shm) || !web || !kv)
		return 1;
	addr = do_mmap(web, shm, 0, 16 * PAGE_SIZE, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	addr2 = do_mmap(kv, shm, 0, 16 * PAGE_SIZE, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	if (handle_user_access(web, addr, true, &pfn) != ACCESS_OK ||
	    handle_user_access(kv, addr2, false, NULL) != ACCESS_OK)
		return 1;
	d->host->current = web;
	before = signals_sent(d);
	ret = memory_failure(d->host, pfn, MF_ACTION_REQUIRED);
	d->host->current = NULL;
	demo_record(d, "dirty shmem page, consumed (AR)", ret, before);
	before = signals_sent(d);
	(void)handle_user_access(kv, addr2, false, NULL);
	if (!d->json)
		printf("  (kv touches its mapping later and gets the AR SIGBUS of the fault path)\n");
	demo_record(d, "the other mapper touches it", 0, before);
	d->host->mf_has_result = false;
	d->rows[d->nr - 1].type = "-";
	d->rows[d->nr - 1].result = "-";

	demo_heading(d, "4. a slab page: the kernel cannot recover it (today's kernel)");
	f = alloc_kernel_pages(d->host, 0, 0, PGTY_slab, FOLIO_OWNER_KERNEL);
	before = signals_sent(d);
	ret = memory_failure(d->host, folio_pfn(f), 0);
	demo_record(d, "slab page (mainline)", ret, before);

	demo_heading(d, "5. a free 1G HugeTLB page: dissolved, only the raw page kept out");
	f = list_first_entry(&d->host->hstates[1].hugepage_freelists[0], struct folio, lru);
	before = signals_sent(d);
	ret = memory_failure(d->host, folio_pfn(f) + 12345, 0);
	demo_record(d, "free 1G huge page", ret, before);
	if (!d->json)
		printf("  HugePages_Total(1G): %lu  HardwareCorrupted: %ld kB\n",
		       d->host->hstates[1].nr_huge_pages,
		       atomic_long_read(&d->host->num_poisoned_pages) * 4);

	demo_heading(d, "6. the same slab page with vm.panic_on_unrecoverable_memory_failure=1, rule v9");
	if (demo_new_host(d, MF_PANIC_RULE_V9, 1))
		return 1;
	f = alloc_kernel_pages(d->host, 0, 0, PGTY_slab, FOLIO_OWNER_KERNEL);
	before = signals_sent(d);
	ret = memory_failure(d->host, folio_pfn(f), 0);
	demo_record(d, "slab page (v9, panic on)", ret, before);
	return 0;
}

int cmd_demo(int argc, char **argv)
{
	struct demo d = { 0 };
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			d.json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: gmf demo [--json]\n\n"
			       "A host, a few memory failures of different kinds, their kernel log\n"
			       "lines, signals and outcomes. --json prints the events as JSON Lines.\n");
			return 0;
		} else {
			fprintf(stderr, "gmf demo: unknown option '%s' (expected --json)\n", argv[i]);
			return 2;
		}
	}
	trace_init(&d.trace, true);
	d.trace.out = stdout;
	d.trace.format = d.json ? TRACE_JSON : TRACE_TEXT;
	ret = run_demo(&d);
	host_destroy(d.host);
	trace_destroy(&d.trace);
	if (ret) {
		fprintf(stderr, "gmf demo: the demonstration could not be set up\n");
		return 1;
	}
	if (d.json)
		return 0;
	printf("\n%-34s %-24s %-10s %-11s %-7s %s\n", "case", "type", "result", "return",
	       "signals", "panic");
	for (int i = 0; i < d.nr; i++) {
		const struct demo_row *r = &d.rows[i];
		char ret_s[24];

		if (r->ret < 0)
			snprintf(ret_s, sizeof(ret_s), "-%s", errno_name(r->ret));
		else
			snprintf(ret_s, sizeof(ret_s), "%d", r->ret);
		printf("%-34s %-24s %-10s %-11s %-7lu %s\n", r->what, r->type, r->result, ret_s,
		       r->signals, r->panicked ? "yes" : "no");
	}
	return 0;
}
