// SPDX-License-Identifier: MIT
/*
 * identify_page_state(): every row of error_states[], what its handler does
 * to the page, and the second pass over the flags saved before unmapping.
 *
 * Rows, in the kernel's order (mf_last_outcome().error_state is the index):
 *
 *   0 reserved          MF_MSG_KERNEL                 me_kernel
 *   1 head              MF_MSG_HUGE                   me_huge_page
 *   2 swapcache|dirty   MF_MSG_DIRTY_SWAPCACHE        me_swapcache_dirty
 *   3 swapcache         MF_MSG_CLEAN_SWAPCACHE        me_swapcache_clean
 *   4 mlocked|dirty     MF_MSG_DIRTY_MLOCKED_LRU      me_pagecache_dirty
 *   5 mlocked           MF_MSG_CLEAN_MLOCKED_LRU      me_pagecache_clean
 *   6 unevictable|dirty MF_MSG_DIRTY_UNEVICTABLE_LRU  me_pagecache_dirty
 *   7 unevictable       MF_MSG_CLEAN_UNEVICTABLE_LRU  me_pagecache_clean
 *   8 lru|dirty         MF_MSG_DIRTY_LRU              me_pagecache_dirty
 *   9 lru               MF_MSG_CLEAN_LRU              me_pagecache_clean
 *  10 (catch-all)       MF_MSG_UNKNOWN                me_unknown
 */
#include <stdio.h>
#include <string.h>

#include "tests/harness/t_model.h"

enum {
	ROW_RESERVED, ROW_HEAD, ROW_DIRTY_SWAPCACHE, ROW_CLEAN_SWAPCACHE,
	ROW_DIRTY_MLOCKED, ROW_CLEAN_MLOCKED, ROW_DIRTY_UNEVICTABLE, ROW_CLEAN_UNEVICTABLE,
	ROW_DIRTY_LRU, ROW_CLEAN_LRU, ROW_UNKNOWN,
};

#define NO_ROW (~0U)

static void expect_result_line(struct t_host *th, unsigned long pfn,
			       enum mf_action_page_type type, enum mf_result result)
{
	char line[160];

	snprintf(line, sizeof(line), "Memory failure: %#lx: recovery action for %s: %s", pfn,
		 action_page_types[type], action_name[result]);
	EXPECT_TRUE(t_logged(th, line));
}

static unsigned long mf_stat(const struct memory_failure_stats *s, enum mf_result result)
{
	switch (result) {
	case MF_IGNORED: return s->ignored;
	case MF_FAILED: return s->failed;
	case MF_DELAYED: return s->delayed;
	case MF_RECOVERED: return s->recovered;
	default: return ~0UL;
	}
}

/* ---- page setups: each returns the pfn to fail ------------------------------- */

struct es_setup {
	struct t_host *th;
	struct task_struct *task;
	struct file *file;
	struct folio *folio;
	unsigned long addr;
};

static unsigned long anon_page(struct es_setup *s, bool write)
{
	s->task = t_process(s->th, "app");
	s->addr = t_mmap_anon(s->task, 4 * PAGE_SIZE, 0);
	return t_touch(s->task, s->addr + PAGE_SIZE, write);
}

/* An unmapped shmem page-cache folio; the test sets its flags directly. */
static unsigned long shmem_page(struct es_setup *s, bool write, bool unevictable)
{
	int err;

	s->file = file_create(s->th->host, FILE_SHMEM, "memfd", 8 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(s->file);
	if (unevictable)
		set_bit(AS_UNEVICTABLE, &s->file->f_mapping.flags);	/* mapping_set_unevictable() */
	s->folio = filemap_grab_folio(s->file, 3, &err);
	ASSERT_NOT_NULL(s->folio);
	if (write)
		ASSERT_OK(file_write(s->file, 3 * PAGE_SIZE, 100));
	return folio_pfn(s->folio);
}

static unsigned long setup_reserved(struct es_setup *s)
{
	unsigned long pfn = shmem_page(s, false, false);

	/* PG_reserved on a page that get_hwpoison_page() still accepts (LRU). */
	folio_set_reserved(s->folio);
	return pfn;
}

static unsigned long setup_head(struct es_setup *s)
{
	s->task = t_process(s->th, "hugeapp");
	s->addr = t_mmap_anon(s->task, PMD_SIZE, VM_HUGETLB);
	return t_touch(s->task, s->addr + 5 * PAGE_SIZE, true);
}

static unsigned long setup_swapcache(struct es_setup *s, bool dirty)
{
	unsigned long pfn = anon_page(s, dirty);

	s->folio = pfn_folio_lookup(s->th->host, pfn);
	ASSERT_OK(swap_cache_add_folio(s->folio));
	return pfn;
}

static unsigned long setup_dirty_swapcache(struct es_setup *s) { return setup_swapcache(s, true); }
static unsigned long setup_clean_swapcache(struct es_setup *s) { return setup_swapcache(s, false); }

static unsigned long setup_mlocked(struct es_setup *s, bool dirty)
{
	unsigned long pfn = shmem_page(s, dirty, false);

	/* mlock_folio(): PG_mlocked, and the folio moves to the unevictable LRU. */
	folio_set_mlocked(s->folio);
	folio_set_unevictable(s->folio);
	return pfn;
}

static unsigned long setup_dirty_mlocked(struct es_setup *s) { return setup_mlocked(s, true); }
static unsigned long setup_clean_mlocked(struct es_setup *s) { return setup_mlocked(s, false); }
static unsigned long setup_dirty_unevictable(struct es_setup *s) { return shmem_page(s, true, true); }
static unsigned long setup_clean_unevictable(struct es_setup *s) { return shmem_page(s, false, true); }
static unsigned long setup_dirty_lru(struct es_setup *s) { return anon_page(s, true); }
static unsigned long setup_clean_lru(struct es_setup *s) { return anon_page(s, false); }

/* Someone isolates the folio from the LRU before memory_failure() saves its flags. */
static void isolate_lru(struct host *host, void *arg)
{
	folio_clear_lru(arg);
}

static struct host_race isolate_race = {
	.label = "memory_failure:after_get_hwpoison_page", .fn = isolate_lru,
};

static unsigned long setup_unknown(struct es_setup *s)
{
	unsigned long pfn = shmem_page(s, false, false);

	isolate_race.arg = s->folio;
	host_add_race(s->th->host, &isolate_race);
	return pfn;
}

static const struct es_case {
	const char *name;
	unsigned long (*setup)(struct es_setup *s);
	unsigned int row;
	enum mf_action_page_type type;
	enum mf_result result;
	int ret;
} es_cases[] = {
	{ "reserved", setup_reserved, ROW_RESERVED, MF_MSG_KERNEL, MF_IGNORED, -EBUSY },
	{ "head", setup_head, ROW_HEAD, MF_MSG_HUGE, MF_RECOVERED, 0 },
	{ "dirty swapcache", setup_dirty_swapcache, ROW_DIRTY_SWAPCACHE,
	  MF_MSG_DIRTY_SWAPCACHE, MF_DELAYED, 0 },
	{ "clean swapcache", setup_clean_swapcache, ROW_CLEAN_SWAPCACHE,
	  MF_MSG_CLEAN_SWAPCACHE, MF_RECOVERED, 0 },
	{ "dirty mlocked", setup_dirty_mlocked, ROW_DIRTY_MLOCKED,
	  MF_MSG_DIRTY_MLOCKED_LRU, MF_RECOVERED, 0 },
	{ "clean mlocked", setup_clean_mlocked, ROW_CLEAN_MLOCKED,
	  MF_MSG_CLEAN_MLOCKED_LRU, MF_RECOVERED, 0 },
	{ "dirty unevictable", setup_dirty_unevictable, ROW_DIRTY_UNEVICTABLE,
	  MF_MSG_DIRTY_UNEVICTABLE_LRU, MF_RECOVERED, 0 },
	{ "clean unevictable", setup_clean_unevictable, ROW_CLEAN_UNEVICTABLE,
	  MF_MSG_CLEAN_UNEVICTABLE_LRU, MF_RECOVERED, 0 },
	{ "dirty lru", setup_dirty_lru, ROW_DIRTY_LRU, MF_MSG_DIRTY_LRU, MF_RECOVERED, 0 },
	{ "clean lru", setup_clean_lru, ROW_CLEAN_LRU, MF_MSG_CLEAN_LRU, MF_RECOVERED, 0 },
	{ "unknown", setup_unknown, ROW_UNKNOWN, MF_MSG_UNKNOWN, MF_IGNORED, -EBUSY },
};

/* Each row: the outcome, the log line, the counters, and the page left poisoned. */
TEST(every_error_state_row_classifies_and_counts)
{
	for (size_t i = 0; i < ARRAY_SIZE(es_cases); i++) {
		const struct es_case *c = &es_cases[i];
		struct t_host th;
		struct es_setup s = { .th = &th };
		const struct memory_failure_stats *st;
		struct mf_outcome o;
		unsigned long pfn;
		int ret;

		t_host_init(&th, NULL);
		pfn = c->setup(&s);
		ret = memory_failure(th.host, pfn, 0);
		o = mf_last_outcome(th.host);
		if (ret != c->ret || o.error_state != c->row || o.type != c->type ||
		    o.result != c->result)
			fprintf(stderr, "# case %s\n", c->name);
		ASSERT_ERR(ret, c->ret);
		ASSERT_TRUE(o.has_result);
		EXPECT_EQ(o.error_state, c->row);
		EXPECT_EQ(o.type, c->type);
		EXPECT_EQ(o.result, c->result);
		EXPECT_EQ(o.ret, c->ret);
		expect_result_line(&th, pfn, c->type, c->result);
		EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
		EXPECT_EQ(atomic_long_read(&th.host->num_poisoned_pages), 1);
		st = &th.host->nodes[host_node_of_pfn(th.host, pfn)].mf_stats;
		EXPECT_EQ(st->total, 1);
		EXPECT_EQ(mf_stat(st, c->result), 1);
		EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 1);
		EXPECT_FALSE(th.host->panicked);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * A page of unknown use that is not on the LRU (a driver's page) never gets
 * as far as the catch-all row: get_hwpoison_page() refuses it first.
 */
TEST(driver_page_never_reaches_the_table)
{
	struct t_host th;
	struct folio *f;
	char line[96];

	t_host_init(&th, NULL);
	f = alloc_kernel_pages(th.host, 0, 0, PGTY_none, FOLIO_OWNER_DRIVER);
	ASSERT_NOT_NULL(f);
	ASSERT_ERR(memory_failure(th.host, folio_pfn(f), 0), -EBUSY);
	EXPECT_EQ(mf_last_outcome(th.host).error_state, NO_ROW);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_GET_HWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_IGNORED);
	snprintf(line, sizeof(line), "Memory failure: %#lx: unhandlable page.", folio_pfn(f));
	EXPECT_TRUE(t_logged(&th, line));
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "Unknown page state"), 0);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* me_kernel() and me_unknown() do nothing: the page stays where it was. */
TEST(ignored_rows_leave_the_page_in_place)
{
	static const struct { unsigned long (*setup)(struct es_setup *s); bool unknown; } cases[] = {
		{ setup_reserved, false },
		{ setup_unknown, true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct es_setup s = { .th = &th };
		unsigned long pfn;

		t_host_init(&th, NULL);
		pfn = cases[i].setup(&s);
		ASSERT_ERR(memory_failure(th.host, pfn, 0), -EBUSY);
		/* Still in the page cache, with the MF reference on top. */
		EXPECT_TRUE(filemap_get_folio(&s.file->f_mapping, 3) == s.folio);
		EXPECT_EQ(folio_ref_count(s.folio), 2);
		EXPECT_EQ(s.folio->mf_pins, 1);
		{
			char line[96];

			snprintf(line, sizeof(line), "Memory failure: %#lx: Unknown page state", pfn);
			EXPECT_EQ(t_logged(&th, line), cases[i].unknown);
		}
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * me_swapcache_dirty(): dirty and uptodate cleared, off the LRU, kept in the
 * swap cache so that a later swap-in finds the poison; the swap cache's
 * reference is the expected extra one.
 */
TEST(dirty_swapcache_page_stays_in_swap_cache_delayed)
{
	struct t_host th;
	struct es_setup s = { .th = &th };
	unsigned long pfn;
	char line[96];

	t_host_init(&th, NULL);
	pfn = setup_dirty_swapcache(&s);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	snprintf(line, sizeof(line), "Memory failure: %#lx: keeping poisoned page in swap cache", pfn);
	EXPECT_TRUE(t_logged(&th, line));
	EXPECT_TRUE(folio_test_swapcache(s.folio));
	EXPECT_FALSE(folio_test_dirty(s.folio));
	EXPECT_FALSE(folio_test_uptodate(s.folio));
	EXPECT_FALSE(folio_test_lru(s.folio));
	EXPECT_EQ(folio_ref_count(s.folio), 2);	/* swap cache + MF */
	EXPECT_FALSE(folio_mapped(s.folio));
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "still referenced"), 0);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* me_swapcache_clean(): deleted from the swap cache, only the MF pin is left. */
TEST(clean_swapcache_page_leaves_swap_cache_recovered)
{
	struct t_host th;
	struct es_setup s = { .th = &th };
	unsigned long pfn;

	t_host_init(&th, NULL);
	pfn = setup_clean_swapcache(&s);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	EXPECT_FALSE(folio_test_swapcache(s.folio));
	EXPECT_FALSE(folio_test_lru(s.folio));
	EXPECT_EQ(folio_ref_count(s.folio), 1);
	EXPECT_EQ(s.folio->mf_pins, 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * me_pagecache_dirty() sets AS_EIO on the mapping (a disk file's next fsync
 * reports EIO once; tmpfs's noop_fsync reports nothing); the clean rows leave
 * the error state alone.
 */
TEST(pagecache_rows_set_mapping_error_only_when_dirty)
{
	static const struct { unsigned long (*setup)(struct es_setup *s); bool dirty; } cases[] = {
		{ setup_dirty_mlocked, true },
		{ setup_clean_mlocked, false },
		{ setup_dirty_unevictable, true },
		{ setup_clean_unevictable, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct es_setup s = { .th = &th };
		unsigned long pfn;

		t_host_init(&th, NULL);
		pfn = cases[i].setup(&s);
		ASSERT_OK(memory_failure(th.host, pfn, 0));
		EXPECT_EQ(test_bit(AS_EIO, &s.file->f_mapping.flags), cases[i].dirty);
		/* tmpfs has noop_fsync: the error is recorded but fsync reports none. */
		EXPECT_OK(file_fsync(s.file));
		/* Off the LRU lists; shmem keeps the folio in the page cache. */
		EXPECT_FALSE(folio_test_lru(s.folio));
		EXPECT_FALSE(folio_test_unevictable(s.folio));
		EXPECT_TRUE(filemap_get_folio(&s.file->f_mapping, 3) == s.folio);
		EXPECT_ERR(file_read(s.file, 3 * PAGE_SIZE, 10), -EIO);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * A mapped mlocked page loses PG_mlocked when it is unmapped (munlock); the
 * mlock batch is drained by shake_folio(), so pass 1 finds it back on the
 * (evictable) LRU: it is reported as an LRU page, not an mlocked one.
 */
TEST(mapped_mlocked_page_is_classified_after_munlock_drain)
{
	static const struct { bool write; unsigned int row; } cases[] = {
		{ true, ROW_DIRTY_LRU },
		{ false, ROW_CLEAN_LRU },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct task_struct *t;
		struct folio *f;
		unsigned long addr, pfn;

		t_host_init(&th, NULL);
		t = t_process(&th, "locked");
		addr = t_mmap_anon(t, 2 * PAGE_SIZE, VM_LOCKED);
		pfn = t_touch(t, addr, cases[i].write);
		f = pfn_folio_lookup(th.host, pfn);
		ASSERT_TRUE(folio_test_mlocked(f));
		ASSERT_OK(memory_failure(th.host, pfn, 0));
		EXPECT_EQ(mf_last_outcome(th.host).error_state, cases[i].row);
		EXPECT_FALSE(folio_test_mlocked(f));
		EXPECT_EQ(pte_lookup(t->mm, addr)->kind, PTE_HWPOISON);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * Pass 2: the folio is isolated from the LRU (reclaim, compaction) after
 * memory_failure() saved its flags but before identify_page_state() looks.
 * Pass 1 over the current flags only hits the catch-all; pass 2 uses the
 * saved flags plus the current PG_dirty.
 *
 * The isolation happens at collect_procs_file()'s i_mmap lock, inside
 * hwpoison_user_mappings().
 */
struct isolate_hook {
	struct folio *folio;
	bool fired;
};

static void isolate_at_i_mmap(void *ctx, enum sync_op op, const void *obj, const char *name)
{
	struct isolate_hook *h = ctx;

	if (!h->fired && op == SYNC_LOCK_READ && !strcmp(name, "i_mmap_rwsem")) {
		h->fired = true;
		folio_clear_lru(h->folio);
	}
}

static void never_block(void *ctx, const void *obj, const char *name)
{
}

static unsigned long one_thread(void *ctx)
{
	return 1;
}

TEST(second_pass_uses_saved_flags_after_lru_isolation)
{
	static const struct { bool write; unsigned int row; enum mf_action_page_type type; } cases[] = {
		{ false, ROW_CLEAN_LRU, MF_MSG_CLEAN_LRU },
		{ true, ROW_DIRTY_LRU, MF_MSG_DIRTY_LRU },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct task_struct *t;
		struct file *f;
		struct folio *folio;
		struct isolate_hook hook = { 0 };
		struct sync_hooks hooks = {
			.point = isolate_at_i_mmap, .block = never_block, .self = one_thread, .ctx = &hook,
		};
		const struct sync_hooks *old;
		unsigned long addr, pfn;
		int ret;

		t_host_init(&th, NULL);
		t = t_process(&th, "app");
		f = file_create(th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
		ASSERT_NOT_NULL(f);
		addr = t_mmap_file(t, f, 4 * PAGE_SIZE, 0, 0);
		pfn = t_touch(t, addr, cases[i].write);
		folio = pfn_folio_lookup(th.host, pfn);
		hook.folio = folio;
		old = sync_set_hooks(&hooks);
		ret = memory_failure(th.host, pfn, 0);
		sync_set_hooks(old);
		ASSERT_TRUE(hook.fired);
		ASSERT_OK(ret);
		EXPECT_FALSE(folio_test_lru(folio));
		EXPECT_EQ(mf_last_outcome(th.host).error_state, cases[i].row);
		EXPECT_EQ(mf_last_outcome(th.host).type, cases[i].type);
		EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
		EXPECT_EQ(t_count_events(&th, TRACE_LOG, "Unknown page state"), 0);
		EXPECT_EQ(pte_lookup(t->mm, addr)->kind, PTE_HWPOISON);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * Without the isolation the same mapped shmem page is found by pass 1:
 * the saved flags are never needed.
 */
TEST(first_pass_wins_when_flags_survive_unmapping)
{
	struct t_host th;
	struct task_struct *t;
	struct file *f;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	f = file_create(th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(f);
	addr = t_mmap_file(t, f, 4 * PAGE_SIZE, 0, 0);
	pfn = t_touch(t, addr + PAGE_SIZE, true);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	/* The PTE's dirty bit reached the folio when it was unmapped. */
	EXPECT_EQ(mf_last_outcome(th.host).error_state, ROW_DIRTY_LRU);
	EXPECT_TRUE(folio_test_dirty(pfn_folio_lookup(th.host, pfn)));
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * v9 drops the reserved row: a reserved page is classified by
 * get_hwpoison_page() (-ENOTRECOVERABLE) and never reaches error_states[].
 * v4 and mainline still have the row.
 */
TEST(reserved_row_is_dropped_under_v9)
{
	static const struct { enum mf_panic_rule rule; unsigned int row; } cases[] = {
		{ MF_PANIC_RULE_MAINLINE, ROW_RESERVED },
		{ MF_PANIC_RULE_V4, ROW_RESERVED },
		{ MF_PANIC_RULE_V9, NO_ROW },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct es_setup s = { .th = &th };
		unsigned long pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.panic_rule = cases[i].rule;
		pfn = setup_reserved(&s);
		ASSERT_ERR(memory_failure(th.host, pfn, 0), -EBUSY);
		EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_KERNEL);
		EXPECT_EQ(mf_last_outcome(th.host).result, MF_IGNORED);
		EXPECT_EQ(mf_last_outcome(th.host).error_state, cases[i].row);
		/* Under v9 memory_failure() never took a reference. */
		EXPECT_EQ(s.folio->mf_pins, cases[i].row == NO_ROW ? 0 : 1);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* Under v9 the other rows keep their index and outcome: only row 0 is skipped. */
TEST(rows_after_reserved_are_unchanged_under_v9)
{
	for (size_t i = 1; i < ARRAY_SIZE(es_cases); i++) {
		const struct es_case *c = &es_cases[i];
		struct t_host th;
		struct es_setup s = { .th = &th };
		unsigned long pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.panic_rule = MF_PANIC_RULE_V9;
		pfn = c->setup(&s);
		ASSERT_ERR(memory_failure(th.host, pfn, 0), c->ret);
		EXPECT_EQ(mf_last_outcome(th.host).error_state, c->row);
		EXPECT_EQ(mf_last_outcome(th.host).type, c->type);
		EXPECT_EQ(mf_last_outcome(th.host).result, c->result);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * Before the table: an LRU page-cache page truncated while someone still
 * holds it (a GUP pin here) keeps PG_lru until its last reference goes but
 * has lost its mapping: "already truncated LRU page", MF_IGNORED.
 */
TEST(truncated_lru_page_is_reported_before_the_table)
{
	struct t_host th;
	struct task_struct *t;
	struct file *f;
	struct folio *pinned;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	f = file_create(th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(f);
	addr = t_mmap_file(t, f, 4 * PAGE_SIZE, 0, 0);
	ASSERT_OK(pin_user_page(t, addr, &pinned));
	pfn = folio_pfn(pinned);
	ASSERT_OK(file_fallocate_punch(f, 0, PAGE_SIZE));
	ASSERT_TRUE(pinned->mapping == NULL);
	ASSERT_EQ(folio_ref_count(pinned), 1);
	EXPECT_TRUE(folio_test_lru(pinned));
	ASSERT_ERR(memory_failure(th.host, pfn, 0), -EBUSY);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_TRUNCATED_LRU);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_IGNORED);
	EXPECT_EQ(mf_last_outcome(th.host).error_state, NO_ROW);
	expect_result_line(&th, pfn, MF_MSG_TRUNCATED_LRU, MF_IGNORED);
	EXPECT_EQ(pinned->mf_pins, 1);
	EXPECT_EQ(atomic_long_read(&th.host->num_poisoned_pages), 1);
	/* The pin goes; the MF reference keeps the page out of buddy. */
	unpin_user_page(pinned);
	EXPECT_EQ(folio_ref_count(pinned), 1);
	EXPECT_FALSE(is_free_buddy_page(pfn_to_page(th.host, pfn)));
	T_VALIDATE(&th);
	t_host_free(&th);
}

static const struct t_case cases[] = {
	T(every_error_state_row_classifies_and_counts),
	T(driver_page_never_reaches_the_table),
	T(ignored_rows_leave_the_page_in_place),
	T(dirty_swapcache_page_stays_in_swap_cache_delayed),
	T(clean_swapcache_page_leaves_swap_cache_recovered),
	T(pagecache_rows_set_mapping_error_only_when_dirty),
	T(mapped_mlocked_page_is_classified_after_munlock_drain),
	T(second_pass_uses_saved_flags_after_lru_isolation),
	T(first_pass_wins_when_flags_survive_unmapping),
	T(reserved_row_is_dropped_under_v9),
	T(rows_after_reserved_are_unchanged_under_v9),
	T(truncated_lru_page_is_reported_before_the_table),
};

T_MAIN("mm/test_error_states", cases)
