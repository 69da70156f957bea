// SPDX-License-Identifier: MIT
/*
 * The panic policies: vm.memory_failure_recovery=0 (mainline) and the
 * proposed vm.panic_on_unrecoverable_memory_failure under each rule:
 *
 *   rule       panics on (with MF_IGNORED)
 *   mainline   nothing: the sysctl does not exist
 *   v4         MF_MSG_KERNEL, MF_MSG_KERNEL_HIGH_ORDER, MF_MSG_UNKNOWN
 *   v9         MF_MSG_KERNEL only
 *
 * The panic is the last thing action_result() does: after the trace event,
 * the counters and the "recovery action" line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tests/harness/t_model.h"

static __printf(2, 3) bool logged(struct t_host *th, const char *fmt, ...)
{
	char line[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return t_logged(th, line);
}

/* ---- pages of each category ------------------------------------------------------- */

struct pp {
	struct t_host *th;
	struct host_race race;
	struct folio *folio;
	struct folio *pinned;
	unsigned long block;
	bool in_flight;
};

static unsigned long pp_reserved(struct pp *s)
{
	return 0x100;
}

static unsigned long pp_slab(struct pp *s)
{
	struct folio *f = alloc_kernel_pages(s->th->host, 0, 0, PGTY_slab, FOLIO_OWNER_KERNEL);

	ASSERT_NOT_NULL(f);
	return folio_pfn(f);
}

static unsigned long pp_driver(struct pp *s)
{
	struct folio *f = alloc_kernel_pages(s->th->host, 0, 0, PGTY_none, FOLIO_OWNER_DRIVER);

	ASSERT_NOT_NULL(f);
	return folio_pfn(f);
}

static void take_in_flight(struct host *host, void *arg)
{
	struct pp *s = arg;

	if (!alloc_contig_pfn_range(host, s->block, 4))
		s->in_flight = true;
}

/* Free at get_hwpoison_page(), allocated right after (the v4 review's race). */
static unsigned long pp_high_order(struct pp *s)
{
	s->block = 0x30000;
	s->race = (struct host_race){ .label = "memory_failure:after_get_hwpoison_page",
				      .fn = take_in_flight, .arg = s };
	host_add_race(s->th->host, &s->race);
	return 0x30001;
}

static struct folio *shmem_folio(struct pp *s)
{
	struct file *f = file_create(s->th->host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	struct folio *folio;
	int err;

	ASSERT_NOT_NULL(f);
	folio = filemap_grab_folio(f, 0, &err);
	ASSERT_NOT_NULL(folio);
	return folio;
}

static void isolate_lru(struct host *host, void *arg)
{
	folio_clear_lru(arg);
}

/* An LRU page isolated before its flags are read: the catch-all row. */
static unsigned long pp_unknown(struct pp *s)
{
	s->folio = shmem_folio(s);
	s->race = (struct host_race){ .label = "memory_failure:after_get_hwpoison_page",
				      .fn = isolate_lru, .arg = s->folio };
	host_add_race(s->th->host, &s->race);
	return folio_pfn(s->folio);
}

static unsigned long pp_lru(struct pp *s)
{
	s->folio = shmem_folio(s);
	return folio_pfn(s->folio);
}

/* A mapped shmem page with a GUP pin: "still referenced", MF_FAILED. */
static unsigned long pp_pinned(struct pp *s)
{
	struct task_struct *t = t_process(s->th, "pinner");
	struct file *f = file_create(s->th->host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	unsigned long addr;

	ASSERT_NOT_NULL(f);
	addr = t_mmap_file(t, f, 4 * PAGE_SIZE, 0, 0);
	ASSERT_OK(pin_user_page(t, addr, &s->pinned));
	return folio_pfn(s->pinned);
}

/* In use but not migratable HugeTLB: MF_MSG_GET_HWPOISON through the hugetlb path. */
static unsigned long pp_hugetlb_busy(struct pp *s)
{
	struct task_struct *t = t_process(s->th, "hugeapp");
	unsigned long addr = t_mmap_anon(t, PMD_SIZE, VM_HUGETLB);
	unsigned long pfn = t_touch(t, addr, true);

	folio_clear_hugetlb_migratable(pfn_folio_lookup(s->th->host, pfn));
	return pfn;
}

static void pp_cleanup(struct pp *s)
{
	if (s->in_flight) {
		struct folio *f = folio_new(s->th->host, s->block, 2,
					    FOLIO_OWNER_KERNEL_HIGH_ORDER, __GFP_NOFAIL);

		atomic_set(&f->_refcount, 1);
		f->extra_refs = 1;
	}
	if (s->pinned)
		unpin_user_page(s->pinned);
}

enum cat { CAT_RESERVED, CAT_SLAB, CAT_HIGH_ORDER, CAT_UNKNOWN, CAT_DRIVER, CAT_HUGETLB_BUSY,
	   CAT_LRU, CAT_PINNED, NR_CATS };

static const struct category {
	const char *name;
	unsigned long (*setup)(struct pp *s);
	/* The type each rule reports: mainline, v4, v9. */
	enum mf_action_page_type type[__NR_MF_PANIC_RULES];
	enum mf_result result;
} categories[NR_CATS] = {
	[CAT_RESERVED] = { "reserved", pp_reserved,
			   { MF_MSG_GET_HWPOISON, MF_MSG_KERNEL, MF_MSG_KERNEL }, MF_IGNORED },
	[CAT_SLAB] = { "slab", pp_slab,
		       { MF_MSG_GET_HWPOISON, MF_MSG_GET_HWPOISON, MF_MSG_KERNEL }, MF_IGNORED },
	[CAT_HIGH_ORDER] = { "high order", pp_high_order,
			     { MF_MSG_KERNEL_HIGH_ORDER, MF_MSG_KERNEL_HIGH_ORDER,
			       MF_MSG_KERNEL_HIGH_ORDER }, MF_IGNORED },
	[CAT_UNKNOWN] = { "unknown", pp_unknown,
			  { MF_MSG_UNKNOWN, MF_MSG_UNKNOWN, MF_MSG_UNKNOWN }, MF_IGNORED },
	[CAT_DRIVER] = { "driver", pp_driver,
			 { MF_MSG_GET_HWPOISON, MF_MSG_GET_HWPOISON, MF_MSG_GET_HWPOISON }, MF_IGNORED },
	[CAT_HUGETLB_BUSY] = { "hugetlb busy", pp_hugetlb_busy,
			       { MF_MSG_GET_HWPOISON, MF_MSG_GET_HWPOISON, MF_MSG_GET_HWPOISON },
			       MF_IGNORED },
	[CAT_LRU] = { "lru", pp_lru, { MF_MSG_CLEAN_LRU, MF_MSG_CLEAN_LRU, MF_MSG_CLEAN_LRU },
		      MF_RECOVERED },
	[CAT_PINNED] = { "pinned", pp_pinned,
			 { MF_MSG_CLEAN_LRU, MF_MSG_CLEAN_LRU, MF_MSG_CLEAN_LRU }, MF_FAILED },
};

static bool rule_panics(enum mf_panic_rule rule, enum mf_action_page_type type,
			enum mf_result result)
{
	if (result != MF_IGNORED)
		return false;
	switch (rule) {
	case MF_PANIC_RULE_V4:
		return type == MF_MSG_KERNEL || type == MF_MSG_KERNEL_HIGH_ORDER ||
		       type == MF_MSG_UNKNOWN;
	case MF_PANIC_RULE_V9:
		return type == MF_MSG_KERNEL;
	default:
		return false;
	}
}

/* Every category under every rule, with the sysctl off and on. */
TEST(panic_matrix_rule_by_sysctl_by_category)
{
	for (int rule = 0; rule < __NR_MF_PANIC_RULES; rule++) {
		for (int on = 0; on <= 1; on++) {
			for (int c = 0; c < NR_CATS; c++) {
				const struct category *cat = &categories[c];
				enum mf_action_page_type type = cat->type[rule];
				bool want = on && rule_panics((enum mf_panic_rule)rule, type, cat->result);
				struct t_host th;
				struct pp s = { .th = &th };
				unsigned long pfn;
				int ret;

				t_host_init(&th, NULL);
				th.host->sysctl.panic_rule = (enum mf_panic_rule)rule;
				th.host->sysctl.panic_on_unrecoverable_memory_failure = on;
				pfn = cat->setup(&s);
				ret = memory_failure(th.host, pfn, 0);
				if (mf_last_outcome(th.host).type != type || th.host->panicked != want)
					fprintf(stderr, "# rule %s sysctl %d category %s\n",
						mf_panic_rule_names[rule], on, cat->name);
				EXPECT_EQ(ret, cat->result == MF_RECOVERED ? 0 : -EBUSY);
				EXPECT_EQ(mf_last_outcome(th.host).type, type);
				EXPECT_EQ(mf_last_outcome(th.host).result, cat->result);
				EXPECT_EQ(th.host->panicked, want);
				EXPECT_EQ(t_count_events(&th, TRACE_PANIC, NULL), want);
				if (want) {
					char msg[64];

					snprintf(msg, sizeof(msg), "Memory failure: %#lx: unrecoverable page", pfn);
					EXPECT_STREQ(th.host->panic_msg, msg);
				}
				pp_cleanup(&s);
				T_VALIDATE(&th);
				t_host_free(&th);
			}
		}
	}
}

/* The message names the pfn, with the pr_fmt prefix written out (panic() has none). */
TEST(panic_message_names_the_pfn)
{
	static const struct { enum mf_panic_rule rule; enum cat cat; } cases[] = {
		{ MF_PANIC_RULE_V4, CAT_RESERVED },
		{ MF_PANIC_RULE_V4, CAT_HIGH_ORDER },
		{ MF_PANIC_RULE_V4, CAT_UNKNOWN },
		{ MF_PANIC_RULE_V9, CAT_RESERVED },
		{ MF_PANIC_RULE_V9, CAT_SLAB },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct pp s = { .th = &th };
		char want[96];
		unsigned long pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.panic_rule = cases[i].rule;
		th.host->sysctl.panic_on_unrecoverable_memory_failure = 1;
		pfn = categories[cases[i].cat].setup(&s);
		(void)memory_failure(th.host, pfn, 0);
		snprintf(want, sizeof(want), "Memory failure: %#lx: unrecoverable page", pfn);
		ASSERT_TRUE(th.host->panicked);
		EXPECT_STREQ(th.host->panic_msg, want);
		pp_cleanup(&s);
		t_host_free(&th);
	}
}

static long find_event(struct t_host *th, enum trace_kind kind, const char *substr)
{
	for (unsigned long i = 0; i < th->trace.nr; i++) {
		const struct trace_event *e = &th->trace.ev[i];

		if (e->kind != kind)
			continue;
		if (kind == TRACE_COUNTER) {
			if (strcmp(e->counter, substr))
				continue;
		} else if (substr && (!e->message || !strstr(e->message, substr))) {
			continue;
		}
		return (long)i;
	}
	return -1;
}

/*
 * action_result() order: tracepoint, HardwareCorrupted and the node's
 * counters, the "recovery action" line, then the panic.
 */
TEST(panic_comes_after_counters_and_log_line)
{
	static const struct { enum mf_panic_rule rule; enum cat cat; } cases[] = {
		{ MF_PANIC_RULE_V4, CAT_RESERVED },
		{ MF_PANIC_RULE_V4, CAT_UNKNOWN },
		{ MF_PANIC_RULE_V9, CAT_SLAB },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct pp s = { .th = &th };
		long result, hwc, total, ignored, line, panic;
		unsigned long pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.panic_rule = cases[i].rule;
		th.host->sysctl.panic_on_unrecoverable_memory_failure = 1;
		pfn = categories[cases[i].cat].setup(&s);
		(void)memory_failure(th.host, pfn, 0);
		result = find_event(&th, TRACE_RESULT, NULL);
		hwc = find_event(&th, TRACE_COUNTER, "HardwareCorrupted");
		total = find_event(&th, TRACE_COUNTER, "node0/memory_failure/total");
		ignored = find_event(&th, TRACE_COUNTER, "node0/memory_failure/ignored");
		line = find_event(&th, TRACE_LOG, "recovery action for");
		panic = find_event(&th, TRACE_PANIC, NULL);
		ASSERT_GE(result, 0);
		EXPECT_LT(result, hwc);
		EXPECT_LT(hwc, total);
		EXPECT_LT(total, ignored);
		EXPECT_LT(ignored, line);
		EXPECT_LT(line, panic);
		/* Nothing after the panic. */
		EXPECT_EQ(panic, (long)th.trace.nr - 1);
		EXPECT_EQ(th.trace.ev[hwc].value, 4);
		EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for %s: Ignored", pfn,
				   action_page_types[mf_last_outcome(th.host).type]));
		EXPECT_EQ(atomic_long_read(&th.host->num_poisoned_pages), 1);
		EXPECT_EQ(th.host->nodes[0].mf_stats.ignored, 1);
		pp_cleanup(&s);
		t_host_free(&th);
	}
}

/*
 * vm.memory_failure_recovery=0: panic("Memory failure on page %lx") is the
 * first step, before the mutex, the poison flag, any counter or log line.
 */
TEST(recovery_disabled_panics_before_anything_else)
{
	static const enum cat cats[] = { CAT_LRU, CAT_RESERVED, CAT_SLAB, CAT_DRIVER };

	for (size_t i = 0; i < ARRAY_SIZE(cats); i++) {
		struct t_host th;
		struct pp s = { .th = &th };
		unsigned long pfn, nr_before;
		struct folio *f;
		int refs;
		char want[64];

		t_host_init(&th, NULL);
		th.host->sysctl.memory_failure_recovery = 0;
		/* Whatever the proposed sysctl says, this one comes first. */
		th.host->sysctl.panic_rule = MF_PANIC_RULE_V4;
		th.host->sysctl.panic_on_unrecoverable_memory_failure = 1;
		pfn = categories[cats[i]].setup(&s);
		f = pfn_folio_lookup(th.host, pfn);
		refs = folio_ref_count(f);
		nr_before = th.trace.nr;
		EXPECT_OK(memory_failure(th.host, pfn, 0));
		snprintf(want, sizeof(want), "Memory failure on page %lx", pfn);
		ASSERT_TRUE(th.host->panicked);
		EXPECT_STREQ(th.host->panic_msg, want);
		/* Exactly one event: the panic. */
		EXPECT_EQ(th.trace.nr, nr_before + 1);
		EXPECT_EQ(th.trace.ev[th.trace.nr - 1].kind, TRACE_PANIC);
		EXPECT_FALSE(mf_last_outcome(th.host).has_result);
		EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, pfn)));
		EXPECT_EQ(folio_ref_count(f), refs);
		EXPECT_EQ(f->mf_pins, 0);
		EXPECT_FALSE(th.host->hw_memory_failure);
		EXPECT_EQ(atomic_long_read(&th.host->num_poisoned_pages), 0);
		EXPECT_EQ(th.host->nodes[0].mf_stats.total, 0);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* A free page with recovery off: still free, nothing taken off buddy. */
TEST(recovery_disabled_leaves_free_page_in_buddy)
{
	struct t_host th;
	struct page *p;

	t_host_init(&th, NULL);
	th.host->sysctl.memory_failure_recovery = 0;
	p = pfn_to_page(th.host, 0x20000);
	EXPECT_OK(memory_failure(th.host, 0x20000, MF_ACTION_REQUIRED));
	EXPECT_STREQ(th.host->panic_msg, "Memory failure on page 20000");
	EXPECT_TRUE(is_free_buddy_page(p));
	EXPECT_FALSE(PageHWPoison(p));
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, NULL), 0);
	EXPECT_EQ(t_count_events(&th, TRACE_COUNTER, NULL), 0);
	T_VALIDATE(&th);
	t_host_free(&th);
}

static const struct t_case cases[] = {
	T(panic_matrix_rule_by_sysctl_by_category),
	T(panic_message_names_the_pfn),
	T(panic_comes_after_counters_and_log_line),
	T(recovery_disabled_panics_before_anything_else),
	T(recovery_disabled_leaves_free_page_in_buddy),
};

T_MAIN("mm/test_panic", cases)
