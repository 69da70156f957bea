// SPDX-License-Identifier: MIT
/*
 * get_hwpoison_page() and what memory_failure() makes of each outcome:
 *
 *   0  free buddy page          take_page_off_buddy()   MF_MSG_BUDDY
 *      (lost the race)          retry the whole function once
 *      not buddy, refcount 0    MF_MSG_KERNEL_HIGH_ORDER / MF_IGNORED
 *   <0 -EIO "unhandlable page." MF_MSG_GET_HWPOISON / MF_IGNORED
 *      -ENOTRECOVERABLE (v9)    MF_MSG_KERNEL / MF_IGNORED
 *   1  a reference is held (or adopted with MF_COUNT_INCREASED)
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

static long nr_poisoned(struct t_host *th)
{
	return atomic_long_read(&th->host->num_poisoned_pages);
}

/*
 * Give a block taken off the free lists by a race an owner, so that the host
 * stays consistent: a kernel allocation holding one reference.
 */
static void own_in_flight_block(struct t_host *th, unsigned long pfn, unsigned int order)
{
	struct folio *f = folio_new(th->host, pfn, order, FOLIO_OWNER_KERNEL_HIGH_ORDER,
				    __GFP_NOFAIL);

	atomic_set(&f->_refcount, 1);
	f->extra_refs = 1;
}

/* ---- 0: free pages ----------------------------------------------------------- */

TEST(free_buddy_page_on_each_node_is_taken_off)
{
	static const unsigned long pfns[] = { 0x20000, 0x90003 };

	for (size_t i = 0; i < ARRAY_SIZE(pfns); i++) {
		unsigned long pfn = pfns[i];
		int nid;
		struct t_host th;
		struct page *p;
		struct folio *f;
		unsigned long free_before;

		t_host_init(&th, NULL);
		nid = host_node_of_pfn(th.host, pfn);
		p = pfn_to_page(th.host, pfn);
		ASSERT_TRUE(is_free_buddy_page(p));
		free_before = node_free_pages(th.host, nid);
		ASSERT_OK(memory_failure(th.host, pfn, 0));
		EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_BUDDY);
		EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
		EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for free buddy page: Recovered", pfn));
		EXPECT_FALSE(is_free_buddy_page(p));
		EXPECT_TRUE(PageHWPoison(p));
		EXPECT_EQ(p->private, MAGIC_HWPOISON);
		f = page_folio(p);
		ASSERT_TRUE(f != NULL);
		EXPECT_EQ(f->owner, FOLIO_OWNER_HWPOISON);
		EXPECT_EQ(folio_nr_pages(f), 1);
		EXPECT_EQ(page_count(p), 1);
		EXPECT_EQ(node_free_pages(th.host, nid), free_before - 1);
		/* Neighbours stay free. */
		EXPECT_TRUE(is_free_buddy_page(pfn_to_page(th.host, pfn - 1)));
		EXPECT_TRUE(is_free_buddy_page(pfn_to_page(th.host, pfn + 1)));
		EXPECT_EQ(nr_poisoned(&th), 1);
		EXPECT_EQ(th.host->nodes[nid].mf_stats.total, 1);
		EXPECT_EQ(th.host->nodes[nid].mf_stats.recovered, 1);
		EXPECT_EQ(th.host->nodes[!nid].mf_stats.total, 0);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* ---- 0 with a race: the page is allocated under memory_failure() ------------------ */

struct alloc_race {
	struct host_race race;
	unsigned long pfn;
	struct file *file;		/* the page becomes page cache of this file */
};

/* The free page is allocated as shmem page cache (index 0): an LRU page. */
static void alloc_as_page_cache(struct host *host, void *arg)
{
	struct alloc_race *r = arg;
	struct folio *f;

	if (alloc_contig_pfn_range(host, r->pfn, 1))
		return;
	f = folio_new(host, r->pfn, 0, FOLIO_OWNER_FILE, __GFP_NOFAIL);
	atomic_set(&f->_refcount, 1);
	if (filemap_add_folio(&r->file->f_mapping, f, 0))
		return;
	folio_put(f);	/* the page cache holds it now */
}

/*
 * take_page_off_buddy() finds the page gone (allocated as page cache): the
 * poison flag is cleared and memory_failure() starts over, this time with
 * an LRU page it can take a reference on.
 */
TEST(buddy_race_retries_whole_function_once)
{
	struct t_host th;
	struct alloc_race r = { .pfn = 0x20000 };
	struct folio *f;

	t_host_init(&th, NULL);
	r.file = file_create(th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(r.file);
	r.race = (struct host_race){ .label = "memory_failure:before_take_page_off_buddy",
				     .fn = alloc_as_page_cache, .arg = &r };
	host_add_race(th.host, &r.race);
	ASSERT_OK(memory_failure(th.host, r.pfn, 0));
	f = filemap_get_folio(&r.file->f_mapping, 0);
	ASSERT_TRUE(f != NULL);
	EXPECT_EQ(folio_pfn(f), r.pfn);
	EXPECT_EQ(t_count_events(&th, TRACE_NOTE, "race at memory_failure:before_take_page_off_buddy"), 1);
	/* One action_result only: the one of the second pass. */
	EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 1);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_CLEAN_LRU);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_FALSE(logged(&th, "Memory failure: %#lx: recovery action for free buddy page: Failed", r.pfn));
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, r.pfn)));
	EXPECT_EQ(f->mf_pins, 1);
	EXPECT_EQ(nr_poisoned(&th), 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * Lost twice: the block comes back to buddy before the second pass looks
 * (freed at the hugetlb_lock that try_memory_failure_hugetlb() takes) and
 * is allocated again before take_page_off_buddy(). No third try:
 * MF_MSG_BUDDY / MF_FAILED, -EBUSY, and the page stays marked.
 */
struct free_at_lock {
	struct host *host;
	unsigned long pfn;
	unsigned int order;
	bool armed, fired;
};

static void free_block_at_hugetlb_lock(void *ctx, enum sync_op op, const void *obj, const char *name)
{
	struct free_at_lock *h = ctx;

	if (h->armed && !h->fired && op == SYNC_LOCK && !strcmp(name, "hugetlb_lock")) {
		h->fired = true;
		free_pfn_range_to_buddy(h->host, h->pfn, 1UL << h->order);
	}
}

static void never_block(void *ctx, const void *obj, const char *name)
{
}

static unsigned long one_thread(void *ctx)
{
	return 1;
}

struct twice {
	struct host_race first, second;
	struct free_at_lock *lock;
	unsigned long block;
};

static void take_block_second(struct host *host, void *arg)
{
	struct twice *t = arg;

	(void)alloc_contig_pfn_range(host, t->block, 4);
}

static void take_block_first(struct host *host, void *arg)
{
	struct twice *t = arg;

	if (alloc_contig_pfn_range(host, t->block, 4))
		return;
	t->lock->armed = true;
	host_add_race(host, &t->second);
}

TEST(buddy_race_lost_twice_is_failed)
{
	struct t_host th;
	unsigned long pfn = 0x30001;
	struct free_at_lock lock = { .pfn = 0x30000, .order = 2 };
	struct sync_hooks hooks = {
		.point = free_block_at_hugetlb_lock, .block = never_block, .self = one_thread,
		.ctx = &lock,
	};
	struct twice tw = { .lock = &lock, .block = 0x30000 };
	const struct sync_hooks *old;
	int ret;

	t_host_init(&th, NULL);
	lock.host = th.host;
	tw.first = (struct host_race){ .label = "memory_failure:before_take_page_off_buddy",
				       .fn = take_block_first, .arg = &tw };
	tw.second = (struct host_race){ .label = "memory_failure:before_take_page_off_buddy",
					.fn = take_block_second, .arg = &tw };
	host_add_race(th.host, &tw.first);
	old = sync_set_hooks(&hooks);
	ret = memory_failure(th.host, pfn, 0);
	sync_set_hooks(old);
	ASSERT_TRUE(lock.fired);
	ASSERT_ERR(ret, -EBUSY);
	EXPECT_EQ(t_count_events(&th, TRACE_NOTE, "race at memory_failure:before_take_page_off_buddy"), 2);
	EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 1);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_BUDDY);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_FAILED);
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for free buddy page: Failed", pfn));
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
	EXPECT_EQ(nr_poisoned(&th), 1);
	EXPECT_EQ(th.host->nodes[0].mf_stats.failed, 1);
	own_in_flight_block(&th, 0x30000, 2);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* Free when get_hwpoison_page() looked, off buddy right after: a page being allocated. */
static void alloc_in_flight(struct host *host, void *arg)
{
	(void)alloc_contig_pfn_range(host, *(unsigned long *)arg, 4);
}

TEST(page_allocated_after_get_is_kernel_high_order)
{
	struct t_host th;
	unsigned long pfn = 0x30002, block = 0x30000;
	struct host_race race = { .label = "memory_failure:after_get_hwpoison_page",
				  .fn = alloc_in_flight, .arg = &block };

	t_host_init(&th, NULL);
	host_add_race(th.host, &race);
	ASSERT_ERR(memory_failure(th.host, pfn, 0), -EBUSY);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_KERNEL_HIGH_ORDER);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_IGNORED);
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for high-order kernel page: Ignored", pfn));
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "unhandlable page."), 0);
	/* Nothing holds it: memory_failure() took no reference. */
	EXPECT_EQ(page_count(pfn_to_page(th.host, pfn)), 0);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
	EXPECT_EQ(nr_poisoned(&th), 1);
	EXPECT_EQ(th.host->nodes[0].mf_stats.ignored, 1);
	EXPECT_FALSE(th.host->panicked);
	own_in_flight_block(&th, block, 2);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* ---- <0: pages memory_failure() cannot handle --------------------------------------- */

struct kpage {
	const char *name;
	enum pagetype type;
	enum folio_owner owner;
	unsigned int order;
	unsigned long offset;		/* which page of the allocation fails */
	bool kernel_owned;		/* v9: -ENOTRECOVERABLE */
};

static const struct kpage kpages[] = {
	{ "slab", PGTY_slab, FOLIO_OWNER_KERNEL, 0, 0, true },
	{ "page table", PGTY_table, FOLIO_OWNER_KERNEL, 0, 0, true },
	{ "large kmalloc", PGTY_large_kmalloc, FOLIO_OWNER_KERNEL, 1, 1, true },
	{ "driver page", PGTY_none, FOLIO_OWNER_DRIVER, 0, 0, false },
	{ "high-order head", PGTY_none, FOLIO_OWNER_KERNEL_HIGH_ORDER, 2, 0, false },
	{ "high-order tail", PGTY_none, FOLIO_OWNER_KERNEL_HIGH_ORDER, 2, 3, false },
	{ "reserved", PGTY_none, FOLIO_OWNER_RESERVED, 0, 0, true },
};

/* The pfn of @k on a fresh host: a kernel allocation, or a memblock-reserved page. */
static unsigned long kpage_pfn(struct t_host *th, const struct kpage *k, struct folio **fp)
{
	struct folio *f;

	if (k->owner == FOLIO_OWNER_RESERVED) {
		*fp = pfn_folio_lookup(th->host, 0x100);
		return 0x100;
	}
	f = alloc_kernel_pages(th->host, 0, k->order, k->type, k->owner);
	ASSERT_NOT_NULL(f);
	*fp = f;
	return folio_pfn(f) + k->offset;
}

TEST(unhandlable_pages_are_eio_get_hwpoison_ignored)
{
	for (size_t i = 0; i < ARRAY_SIZE(kpages); i++) {
		const struct kpage *k = &kpages[i];
		struct t_host th;
		struct folio *f;
		unsigned long pfn;
		int refs, ret;

		t_host_init(&th, NULL);
		pfn = kpage_pfn(&th, k, &f);
		refs = folio_ref_count(f);
		ret = memory_failure(th.host, pfn, 0);
		if (ret != -EBUSY || mf_last_outcome(th.host).type != MF_MSG_GET_HWPOISON)
			fprintf(stderr, "# case %s\n", k->name);
		ASSERT_ERR(ret, -EBUSY);
		EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_GET_HWPOISON);
		EXPECT_EQ(mf_last_outcome(th.host).result, MF_IGNORED);
		EXPECT_EQ(mf_last_outcome(th.host).error_state, ~0U);
		EXPECT_TRUE(logged(&th, "Memory failure: %#lx: unhandlable page.", pfn));
		EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for get hwpoison page: Ignored", pfn));
		/* Marked and counted, but no reference kept. */
		EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
		EXPECT_EQ(folio_ref_count(f), refs);
		EXPECT_EQ(f->mf_pins, 0);
		EXPECT_EQ(nr_poisoned(&th), 1);
		EXPECT_EQ(th.host->nodes[0].mf_stats.ignored, 1);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * v9: get_any_page() returns -ENOTRECOVERABLE for pages that are certainly
 * kernel-owned (reserved, slab, page table, large kmalloc), which become
 * MF_MSG_KERNEL without the "unhandlable page." line; the others stay -EIO.
 * v4 changes only the type of a reserved page that was refused.
 */
TEST(kernel_owned_pages_by_panic_rule)
{
	static const enum mf_panic_rule rules[] = { MF_PANIC_RULE_MAINLINE, MF_PANIC_RULE_V4,
						    MF_PANIC_RULE_V9 };

	for (size_t r = 0; r < ARRAY_SIZE(rules); r++) {
		for (size_t i = 0; i < ARRAY_SIZE(kpages); i++) {
			const struct kpage *k = &kpages[i];
			bool reserved = k->owner == FOLIO_OWNER_RESERVED;
			bool v9 = rules[r] == MF_PANIC_RULE_V9 && k->kernel_owned;
			enum mf_action_page_type want = MF_MSG_GET_HWPOISON;
			struct t_host th;
			struct folio *f;
			unsigned long pfn;
			int ret;

			if (v9 || (rules[r] == MF_PANIC_RULE_V4 && reserved))
				want = MF_MSG_KERNEL;
			t_host_init(&th, NULL);
			th.host->sysctl.panic_rule = rules[r];
			pfn = kpage_pfn(&th, k, &f);
			ret = memory_failure(th.host, pfn, 0);
			if (ret != -EBUSY || mf_last_outcome(th.host).type != want)
				fprintf(stderr, "# rule %s case %s\n", mf_panic_rule_names[rules[r]], k->name);
			ASSERT_ERR(ret, -EBUSY);
			EXPECT_EQ(mf_last_outcome(th.host).type, want);
			EXPECT_EQ(mf_last_outcome(th.host).result, MF_IGNORED);
			EXPECT_EQ(logged(&th, "Memory failure: %#lx: unhandlable page.", pfn), !v9);
			EXPECT_EQ(nr_poisoned(&th), 1);
			EXPECT_FALSE(th.host->panicked);	/* the sysctl is off */
			T_VALIDATE(&th);
			t_host_free(&th);
		}
	}
}

/*
 * An in-use HugeTLB folio that is not migratable: no reference can be
 * taken. The second pass (MF_NO_RETRY) still records the raw page, then
 * reports MF_MSG_GET_HWPOISON / MF_IGNORED without touching the mappings.
 */
TEST(hugetlb_not_migratable_is_get_hwpoison_after_retry)
{
	struct t_host th;
	struct task_struct *t;
	struct folio *f;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	t = t_process(&th, "hugeapp");
	addr = t_mmap_anon(t, PMD_SIZE, VM_HUGETLB);
	pfn = t_touch(t, addr + 3 * PAGE_SIZE, true);
	f = pfn_folio_lookup(th.host, pfn);
	folio_clear_hugetlb_migratable(f);
	ASSERT_ERR(memory_failure(th.host, pfn, 0), -EBUSY);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_GET_HWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_IGNORED);
	EXPECT_TRUE(folio_test_hwpoison(f));
	EXPECT_TRUE(is_raw_hwpoison_page_in_hugepage(f, pfn_to_page(th.host, pfn)));
	EXPECT_FALSE(is_raw_hwpoison_page_in_hugepage(f, pfn_to_page(th.host, pfn + 1)));
	EXPECT_EQ(list_count(&f->raw_hwp_list), 1);
	EXPECT_EQ(f->mf_pins, 0);
	EXPECT_EQ(pte_lookup(t->mm, addr)->kind, PTE_PRESENT);
	EXPECT_EQ(nr_poisoned(&th), 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* ---- 1: a reference is held --------------------------------------------------------- */

/* memory_failure() takes one reference on an in-use page and keeps it. */
TEST(in_use_page_keeps_one_reference_forever)
{
	struct t_host th;
	struct file *f;
	struct folio *folio;
	int err;

	t_host_init(&th, NULL);
	f = file_create(th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(f);
	folio = filemap_grab_folio(f, 1, &err);
	ASSERT_NOT_NULL(folio);
	ASSERT_EQ(folio_ref_count(folio), 1);
	ASSERT_OK(memory_failure(th.host, folio_pfn(folio), 0));
	EXPECT_EQ(folio_ref_count(folio), 2);
	EXPECT_EQ(folio->mf_pins, 1);
	/* Truncation drops the page cache's reference; the MF pin keeps the page out. */
	ASSERT_OK(file_fallocate_punch(f, PAGE_SIZE, PAGE_SIZE));
	EXPECT_TRUE(filemap_get_folio(&f->f_mapping, 1) == NULL);
	EXPECT_TRUE(pfn_folio_lookup(th.host, folio_pfn(folio)) == folio);
	EXPECT_EQ(folio_ref_count(folio), 1);
	EXPECT_FALSE(is_free_buddy_page(pfn_to_page(th.host, folio_pfn(folio))));
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * madvise(MADV_HWPOISON): get_user_pages() took the reference, and
 * memory_failure(MF_COUNT_INCREASED) adopts it as its own instead of taking
 * another. The caller is current: a dirty page gets it an AR SIGBUS.
 */
TEST(madvise_reference_becomes_the_mf_pin)
{
	struct t_host th;
	struct task_struct *t;
	struct folio *f;
	unsigned long addr, pfn;
	const struct trace_event *sig;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	t->sigbus_handler = true;
	addr = t_mmap_anon(t, 4 * PAGE_SIZE, 0);
	pfn = t_touch(t, addr + 2 * PAGE_SIZE, true);
	f = pfn_folio_lookup(th.host, pfn);
	ASSERT_EQ(folio_ref_count(f), 1);	/* the mapping */
	ASSERT_OK(madvise_hwpoison(t, addr + 2 * PAGE_SIZE, PAGE_SIZE));
	EXPECT_TRUE(logged(&th, "Injecting memory failure for pfn %#lx at process virtual address %#lx",
			   pfn, addr + 2 * PAGE_SIZE));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_DIRTY_LRU);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	/* Unmapped; only the adopted reference is left. */
	EXPECT_EQ(folio_ref_count(f), 1);
	EXPECT_EQ(f->mf_pins, 1);
	EXPECT_EQ(pte_lookup(t->mm, addr + 2 * PAGE_SIZE)->kind, PTE_HWPOISON);
	sig = t_last_signal(&th, t);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->signal, SIGBUS);
	EXPECT_EQ(sig->code, BUS_MCEERR_AR);
	EXPECT_EQ(sig->addr, addr + 2 * PAGE_SIZE);
	EXPECT_EQ(sig->lsb, PAGE_SHIFT);
	/* Software injection does not disable unpoison. */
	EXPECT_FALSE(th.host->hw_memory_failure);
	EXPECT_TRUE(th.host->current == NULL);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * MF_COUNT_INCREASED on a page already poisoned: the caller's reference is
 * dropped (put_ref_page), the accessing process gets an AR SIGBUS, -EHWPOISON.
 */
TEST(madvise_on_poisoned_mapped_page_drops_callers_reference)
{
	struct t_host th;
	struct task_struct *t;
	struct file *file;
	struct folio *f;
	unsigned long addr, pfn;
	const struct trace_event *sig;
	int refs;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	t->sigbus_handler = true;
	file = file_create(th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(file);
	addr = t_mmap_file(t, file, 4 * PAGE_SIZE, 0, 0);
	pfn = t_touch(t, addr, true);
	f = pfn_folio_lookup(th.host, pfn);
	/* A page memory_failure() leaves mapped: me_kernel() ignores it. */
	folio_set_reserved(f);
	ASSERT_ERR(memory_failure(th.host, pfn, 0), -EBUSY);
	ASSERT_EQ(mf_last_outcome(th.host).type, MF_MSG_KERNEL);
	ASSERT_EQ(pte_lookup(t->mm, addr)->kind, PTE_PRESENT);
	refs = folio_ref_count(f);
	ASSERT_ERR(madvise_hwpoison(t, addr, PAGE_SIZE), -EHWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_ALREADY_POISONED);
	EXPECT_EQ(folio_ref_count(f), refs);
	EXPECT_EQ(f->mf_pins, 1);
	sig = t_last_signal(&th, t);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->code, BUS_MCEERR_AR);
	EXPECT_EQ(sig->addr, addr);
	EXPECT_EQ(nr_poisoned(&th), 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

static const struct t_case cases[] = {
	T(free_buddy_page_on_each_node_is_taken_off),
	T(buddy_race_retries_whole_function_once),
	T(buddy_race_lost_twice_is_failed),
	T(page_allocated_after_get_is_kernel_high_order),
	T(unhandlable_pages_are_eio_get_hwpoison_ignored),
	T(kernel_owned_pages_by_panic_rule),
	T(hugetlb_not_migratable_is_get_hwpoison_after_retry),
	T(in_use_page_keeps_one_reference_forever),
	T(madvise_reference_becomes_the_mf_pin),
	T(madvise_on_poisoned_mapped_page_drops_callers_reference),
};

T_MAIN("mm/test_get_hwpoison", cases)
