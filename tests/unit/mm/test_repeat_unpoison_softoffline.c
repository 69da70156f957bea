// SPDX-License-Identifier: MIT
/*
 * What happens around a failure: the same page failing again, unpoison of
 * injected errors, soft offline of pages with corrected errors, and the
 * deferred memory_failure_queue().
 */
#include <stdarg.h>
#include <stdio.h>

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

static struct folio *shmem_folio(struct t_host *th, struct file **fp, pgoff_t index)
{
	struct file *f = file_create(th->host, FILE_SHMEM, "memfd", 8 * PAGE_SIZE, NULL);
	struct folio *folio;
	int err;

	ASSERT_NOT_NULL(f);
	folio = filemap_grab_folio(f, index, &err);
	ASSERT_NOT_NULL(folio);
	*fp = f;
	return folio;
}

/* A hugetlbfs file of one 2M page, mapped and written by @t; returns the head pfn. */
static unsigned long hugetlbfs_page(struct t_host *th, struct task_struct *t, struct file **fp,
				    unsigned long *addrp)
{
	struct file *f = file_create(th->host, FILE_HUGETLBFS, "huge", PMD_SIZE, &th->host->hstates[0]);

	ASSERT_NOT_NULL(f);
	*fp = f;
	*addrp = t_mmap_file(t, f, PMD_SIZE, 0, 0);
	return t_touch(t, *addrp, true);
}

/* ---- the same page again ----------------------------------------------------------- */

/*
 * A page that is already poisoned: -EHWPOISON and "already poisoned page:
 * Failed" each time, and neither HardwareCorrupted nor the node counters move.
 */
TEST(repeated_failure_is_already_poisoned_and_uncounted)
{
	enum { FREE, ANON, SHMEM };

	for (int kind = FREE; kind <= SHMEM; kind++) {
		struct t_host th;
		struct file *f;
		unsigned long pfn, addr;
		struct task_struct *t;

		t_host_init(&th, NULL);
		if (kind == FREE) {
			pfn = 0x20000;
		} else if (kind == ANON) {
			t = t_process(&th, "app");
			addr = t_mmap_anon(t, PAGE_SIZE, 0);
			pfn = t_touch(t, addr, true);
		} else {
			pfn = folio_pfn(shmem_folio(&th, &f, 2));
		}
		ASSERT_OK(memory_failure(th.host, pfn, 0));
		for (int i = 0; i < 3; i++) {
			ASSERT_ERR(memory_failure(th.host, pfn, 0), -EHWPOISON);
			EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_ALREADY_POISONED);
			EXPECT_EQ(mf_last_outcome(th.host).result, MF_FAILED);
		}
		EXPECT_EQ(t_count_events(&th, TRACE_LOG, "already poisoned page: Failed"), 3);
		EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for already poisoned page: Failed", pfn));
		EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 4);
		EXPECT_EQ(nr_poisoned(&th), 1);
		EXPECT_EQ(th.host->nodes[0].mf_stats.total, 1);
		EXPECT_EQ(th.host->nodes[0].mf_stats.failed, 0);
		/* Only the first failure's reference is kept. */
		EXPECT_EQ(pfn_folio_lookup(th.host, pfn)->mf_pins, 1);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * A HugeTLB folio kept in the page cache after a failure: another raw page
 * of it is MF_HUGETLB_FOLIO_PRE_POISONED, reported as "huge page: Failed"
 * and counted (a new raw page); the same raw page again is
 * MF_HUGETLB_PAGE_PRE_POISONED, "already poisoned" and not counted.
 */
TEST(hugetlb_folio_pre_poisoned_counts_each_new_raw_page)
{
	struct t_host th;
	struct task_struct *t;
	struct file *f;
	struct folio *folio;
	unsigned long head, addr;
	struct memory_failure_stats *st;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	head = hugetlbfs_page(&th, t, &f, &addr);
	folio = pfn_folio_lookup(th.host, head);
	st = &th.host->nodes[folio->nid].mf_stats;

	ASSERT_OK(memory_failure(th.host, head + 5, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_FALSE(folio_test_hugetlb_migratable(folio));
	EXPECT_TRUE(filemap_get_folio(&f->f_mapping, 0) == folio);

	ASSERT_ERR(memory_failure(th.host, head + 6, 0), -EHWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_FAILED);
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for huge page: Failed", head + 6));
	EXPECT_EQ(nr_poisoned(&th), 2);
	EXPECT_EQ(st->total, 2);
	EXPECT_EQ(st->failed, 1);

	ASSERT_ERR(memory_failure(th.host, head + 5, 0), -EHWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_ALREADY_POISONED);
	EXPECT_EQ(nr_poisoned(&th), 2);
	EXPECT_EQ(st->total, 2);

	/* The head page is a raw page like any other. */
	ASSERT_ERR(memory_failure(th.host, head, 0), -EHWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(nr_poisoned(&th), 3);

	EXPECT_EQ(list_count(&folio->raw_hwp_list), 3);
	for (unsigned long i = 0; i < 8; i++)
		EXPECT_EQ(is_raw_hwpoison_page_in_hugepage(folio, pfn_to_page(th.host, head + i)),
			  i == 0 || i == 5 || i == 6);
	/* Only the first failure took a reference. */
	EXPECT_EQ(folio->mf_pins, 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* ---- unpoison ------------------------------------------------------------------------ */

/* Injected into a free page: unpoison puts it back in buddy and uncounts it. */
TEST(unpoison_injected_free_page)
{
	struct t_host th;
	struct page *p;

	t_host_init(&th, NULL);
	p = pfn_to_page(th.host, 0x20000);
	ASSERT_OK(hwpoison_inject(th.host, 0x20000));
	EXPECT_TRUE(t_logged(&th, "Injecting memory failure at pfn 0x20000"));
	ASSERT_EQ(nr_poisoned(&th), 1);
	ASSERT_OK(hwpoison_unpoison(th.host, 0x20000));
	EXPECT_TRUE(t_logged(&th, "Unpoison: 0x20000: software-unpoisoned page"));
	EXPECT_FALSE(PageHWPoison(p));
	EXPECT_EQ(p->private, 0);
	EXPECT_TRUE(is_free_buddy_page(p));
	EXPECT_EQ(nr_poisoned(&th), 0);
	/* The per-node counters are never decremented. */
	EXPECT_EQ(th.host->nodes[0].mf_stats.total, 1);
	EXPECT_EQ(th.host->nodes[0].mf_stats.recovered, 1);
	/* It can fail again later. */
	ASSERT_OK(hwpoison_inject(th.host, 0x20000));
	EXPECT_EQ(nr_poisoned(&th), 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * The mm selftest's cycle: madvise(MADV_HWPOISON) on anonymous memory, the
 * AR SIGBUS, then unpoison: the MF reference goes and the page is freed;
 * HardwareCorrupted is back where it was.
 */
TEST(unpoison_after_madvise_frees_the_page)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	t->sigbus_handler = true;
	addr = t_mmap_anon(t, PAGE_SIZE, 0);
	pfn = t_touch(t, addr, true);
	ASSERT_OK(madvise_hwpoison(t, addr, PAGE_SIZE));
	ASSERT_EQ(t_last_signal(&th, t)->code, BUS_MCEERR_AR);
	ASSERT_EQ(nr_poisoned(&th), 1);
	ASSERT_OK(unpoison_memory(th.host, pfn));
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, pfn)));
	EXPECT_TRUE(pfn_folio_lookup(th.host, pfn) == NULL);
	EXPECT_TRUE(is_free_buddy_page(pfn_to_page(th.host, pfn)));
	EXPECT_EQ(nr_poisoned(&th), 0);
	/* The hwpoison entry stays: the old address still faults. */
	EXPECT_EQ(handle_user_access(t, addr, false, NULL), ACCESS_SIGBUS);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* Unpoison of a free HugeTLB page's raw page: back to buddy, the pool stays smaller. */
TEST(unpoison_dissolved_hugetlb_raw_page)
{
	struct t_host th;
	struct hstate *h;
	struct folio *f;
	unsigned long pfn;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	f = list_first_entry(&h->hugepage_freelists[0], struct folio, lru);
	pfn = folio_pfn(f) + 9;
	ASSERT_OK(hwpoison_inject(th.host, pfn));
	ASSERT_EQ(mf_last_outcome(th.host).type, MF_MSG_FREE_HUGE);
	ASSERT_EQ(h->nr_huge_pages, 7);
	ASSERT_OK(unpoison_memory(th.host, pfn));
	EXPECT_TRUE(is_free_buddy_page(pfn_to_page(th.host, pfn)));
	EXPECT_EQ(nr_poisoned(&th), 0);
	EXPECT_EQ(h->nr_huge_pages, 7);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* One real (not injected) failure anywhere disables unpoison for good. */
TEST(unpoison_is_disabled_after_a_hardware_failure)
{
	struct t_host th;

	t_host_init(&th, NULL);
	ASSERT_OK(hwpoison_inject(th.host, 0x20000));
	EXPECT_FALSE(th.host->hw_memory_failure);
	ASSERT_OK(memory_failure(th.host, 0x30000, 0));
	EXPECT_TRUE(th.host->hw_memory_failure);
	EXPECT_ERR(unpoison_memory(th.host, 0x20000), -EOPNOTSUPP);
	EXPECT_TRUE(t_logged(&th, "Unpoison: 0x20000: disabled after HW memory failure"));
	EXPECT_ERR(unpoison_memory(th.host, 0x30000), -EOPNOTSUPP);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, 0x20000)));
	EXPECT_EQ(nr_poisoned(&th), 2);
	/* Even for a page that was never poisoned. */
	EXPECT_ERR(unpoison_memory(th.host, 0x40000), -EOPNOTSUPP);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* A page that is not poisoned: nothing to do, and unpoison_memory() says -EBUSY. */
TEST(unpoison_of_unpoisoned_page_is_ebusy)
{
	struct t_host th;

	t_host_init(&th, NULL);
	EXPECT_ERR(unpoison_memory(th.host, 0x20000), -EBUSY);
	EXPECT_TRUE(t_logged(&th, "Unpoison: 0x20000: page was already unpoisoned"));
	ASSERT_OK(hwpoison_inject(th.host, 0x20000));
	ASSERT_OK(unpoison_memory(th.host, 0x20000));
	EXPECT_ERR(unpoison_memory(th.host, 0x20000), -EBUSY);
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "page was already unpoisoned"), 2);
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "software-unpoisoned page"), 1);
	EXPECT_TRUE(is_free_buddy_page(pfn_to_page(th.host, 0x20000)));
	EXPECT_EQ(nr_poisoned(&th), 0);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* Pages unpoison refuses: still referenced, or kernel-owned. The poison stays. */
TEST(unpoison_refuses_referenced_and_kernel_pages)
{
	enum { SHMEM, SLAB, RESERVED };
	static const char *const lines[] = {
		[SHMEM] = "someone grabs the hwpoison page",
		[SLAB] = NULL,
		[RESERVED] = NULL,
	};

	for (int kind = SHMEM; kind <= RESERVED; kind++) {
		struct t_host th;
		struct file *f;
		unsigned long pfn;

		t_host_init(&th, NULL);
		if (kind == SHMEM) {
			pfn = folio_pfn(shmem_folio(&th, &f, 0));
		} else if (kind == SLAB) {
			struct folio *s = alloc_kernel_pages(th.host, 0, 0, PGTY_slab, FOLIO_OWNER_KERNEL);

			ASSERT_NOT_NULL(s);
			pfn = folio_pfn(s);
		} else {
			pfn = 0x100;
		}
		(void)hwpoison_inject(th.host, pfn);
		ASSERT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
		EXPECT_ERR(unpoison_memory(th.host, pfn), -EBUSY);
		if (lines[kind])
			EXPECT_TRUE(logged(&th, "Unpoison: %#lx: %s", pfn, lines[kind]));
		EXPECT_EQ(t_count_events(&th, TRACE_LOG, "software-unpoisoned"), 0);
		EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
		EXPECT_EQ(nr_poisoned(&th), 1);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* No online page at that pfn: -EIO (pfn_to_online_page() finds none). */
TEST(unpoison_outside_memory_is_eio)
{
	struct t_host th;

	t_host_init(&th, NULL);
	EXPECT_ERR(unpoison_memory(th.host, th.host->max_pfn + 1), -EIO);
	EXPECT_ERR(memory_failure(th.host, th.host->max_pfn + 1, MF_SW_SIMULATED), -ENXIO);
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: memory outside kernel control", th.host->max_pfn + 1));
	t_host_free(&th);
}

/* ---- soft offline ------------------------------------------------------------------- */

/*
 * A free page: taken off buddy and marked, counted in HardwareCorrupted but
 * not in the per-node memory_failure counters (no action_result()).
 */
TEST(soft_offline_free_page)
{
	struct t_host th;
	struct page *p;

	t_host_init(&th, NULL);
	p = pfn_to_page(th.host, 0x20000);
	ASSERT_OK(soft_offline_page(th.host, 0x20000, 0));
	EXPECT_TRUE(PageHWPoison(p));
	EXPECT_FALSE(is_free_buddy_page(p));
	EXPECT_EQ(page_count(p), 1);
	EXPECT_EQ(nr_poisoned(&th), 1);
	EXPECT_EQ(th.host->nodes[0].mf_stats.total, 0);
	EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 0);
	/* Already offline: nothing more. */
	EXPECT_OK(soft_offline_page(th.host, 0x20000, 0));
	EXPECT_TRUE(t_logged(&th, "Soft offline: 0x20000: page already poisoned"));
	EXPECT_EQ(nr_poisoned(&th), 1);
	/* Soft offline is not a hardware failure: unpoison still works. */
	EXPECT_FALSE(th.host->hw_memory_failure);
	EXPECT_OK(unpoison_memory(th.host, 0x20000));
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* A mapped anonymous page is migrated: same address, new pfn, nobody signalled. */
TEST(soft_offline_anon_page_migrates_silently)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn, npfn;
	struct folio *old;

	t_host_init(&th, NULL);
	th.host->sysctl.memory_failure_early_kill = 1;
	t = t_process(&th, "app");
	addr = t_mmap_anon(t, 2 * PAGE_SIZE, 0);
	pfn = t_touch(t, addr + PAGE_SIZE, true);
	ASSERT_OK(madvise_soft_offline(t, addr + PAGE_SIZE, PAGE_SIZE));
	EXPECT_TRUE(logged(&th, "Soft offlining pfn %#lx at process virtual address %#lx", pfn, addr + PAGE_SIZE));
	npfn = t_touch(t, addr + PAGE_SIZE, false);
	EXPECT_NE(npfn, pfn);
	EXPECT_TRUE(pte_lookup(t->mm, addr + PAGE_SIZE)->dirty);
	EXPECT_EQ(t_signals_to(&th, t), 0);
	old = pfn_folio_lookup(th.host, pfn);
	ASSERT_TRUE(old != NULL);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
	EXPECT_FALSE(folio_mapped(old));
	EXPECT_EQ(folio_ref_count(old), 1);
	EXPECT_EQ(nr_poisoned(&th), 1);
	EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 0);
	/* The selftest's cleanup. */
	EXPECT_OK(unpoison_memory(th.host, pfn));
	EXPECT_EQ(nr_poisoned(&th), 0);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * Page cache: a clean page of a file with writeback is simply invalidated;
 * a dirty shmem page is migrated to a new page at the same index.
 */
TEST(soft_offline_page_cache_invalidates_clean_migrates_dirty)
{
	struct t_host th;
	struct file *reg, *shm;
	struct folio *clean, *dirty, *moved;
	unsigned long cpfn, dpfn;
	int err;

	t_host_init(&th, NULL);
	reg = file_create(th.host, FILE_REGULAR, "data", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(reg);
	clean = filemap_grab_folio(reg, 1, &err);
	ASSERT_NOT_NULL(clean);
	cpfn = folio_pfn(clean);
	ASSERT_OK(soft_offline_page(th.host, cpfn, 0));
	EXPECT_TRUE(logged(&th, "Soft offline: %#lx: invalidated", cpfn));
	EXPECT_TRUE(filemap_get_folio(&reg->f_mapping, 1) == NULL);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, cpfn)));
	EXPECT_EQ(file_read(reg, PAGE_SIZE, PAGE_SIZE), (long)PAGE_SIZE);

	dirty = shmem_folio(&th, &shm, 3);
	ASSERT_OK(file_write(shm, 3 * PAGE_SIZE, 10));
	dpfn = folio_pfn(dirty);
	ASSERT_OK(soft_offline_page(th.host, dpfn, 0));
	EXPECT_FALSE(logged(&th, "Soft offline: %#lx: invalidated", dpfn));
	moved = filemap_get_folio(&shm->f_mapping, 3);
	ASSERT_TRUE(moved != NULL);
	EXPECT_NE(folio_pfn(moved), dpfn);
	EXPECT_TRUE(folio_test_dirty(moved));
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, dpfn)));
	EXPECT_EQ(file_read(shm, 3 * PAGE_SIZE, PAGE_SIZE), (long)PAGE_SIZE);
	EXPECT_EQ(nr_poisoned(&th), 2);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* A free HugeTLB page: dissolved, the pool shrinks by one, only the raw page is lost. */
TEST(soft_offline_free_hugetlb_dissolves)
{
	struct t_host th;
	struct hstate *h;
	struct folio *f;
	unsigned long head, free_before;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	f = list_first_entry(&h->hugepage_freelists[0], struct folio, lru);
	head = folio_pfn(f);
	free_before = node_free_pages(th.host, 0);
	ASSERT_OK(soft_offline_page(th.host, head + 3, 0));
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(h->free_huge_pages, 7);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, head + 3)));
	EXPECT_EQ(node_free_pages(th.host, 0), free_before + HPAGE_PMD_NR - 1);
	EXPECT_EQ(nr_poisoned(&th), 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * An in-use HugeTLB page is migrated whole to another pool page; the old
 * one is dissolved. The pool loses one page; the new page is in use, not
 * free.
 */
TEST(soft_offline_in_use_hugetlb_migrates_and_dissolves)
{
	struct t_host th;
	struct task_struct *t;
	struct hstate *h;
	struct folio *now;
	unsigned long addr, pfn, head;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	t = t_process(&th, "hugeapp");
	addr = t_mmap_anon(t, PMD_SIZE, VM_HUGETLB);
	pfn = t_touch(t, addr + 4 * PAGE_SIZE, true);
	head = pfn - 4;
	ASSERT_EQ(h->free_huge_pages, 7);
	ASSERT_OK(madvise_soft_offline(t, addr + 4 * PAGE_SIZE, PAGE_SIZE));
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(h->free_huge_pages, 6);
	now = pte_lookup(t->mm, addr)->folio;
	ASSERT_TRUE(now != NULL);
	EXPECT_NE(folio_pfn(now), head);
	EXPECT_TRUE(folio_test_hugetlb(now));
	EXPECT_FALSE(folio_test_hugetlb_freed(now));
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, head)));
	EXPECT_EQ(t_signals_to(&th, t), 0);
	EXPECT_EQ(nr_poisoned(&th), 1);
	T_VALIDATE(&th);
	/* Every other free page can still be handed out, and the used one is not among them. */
	for (int i = 0; i < 6; i++) {
		struct folio *g = alloc_hugetlb_folio(th.host, h, 0, NULL, NULL);

		ASSERT_NOT_NULL(g);
		EXPECT_TRUE(g != now);
		folio_put(g);
	}
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * vm.enable_soft_offline=0: -EOPNOTSUPP, the reason logged, the caller's
 * reference dropped and the HugeTLB pool untouched (hugetlb-soft-offline.c).
 */
TEST(soft_offline_disabled_changes_nothing)
{
	struct t_host th;
	struct task_struct *t;
	struct hstate *h;
	struct folio *f;
	unsigned long addr, pfn;
	int refs;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	th.host->sysctl.enable_soft_offline = 0;
	t = t_process(&th, "hugeapp");
	addr = t_mmap_anon(t, PMD_SIZE, VM_HUGETLB);
	pfn = t_touch(t, addr, true);
	f = pfn_folio_lookup(th.host, pfn);
	refs = folio_ref_count(f);
	EXPECT_ERR(madvise_soft_offline(t, addr, PAGE_SIZE), -EOPNOTSUPP);
	EXPECT_TRUE(t_logged(&th, "Soft offline: disabled by /proc/sys/vm/enable_soft_offline"));
	EXPECT_EQ(folio_ref_count(f), refs);
	EXPECT_EQ(f->mf_pins, 0);
	EXPECT_EQ(h->nr_huge_pages, 8);
	EXPECT_EQ(h->free_huge_pages, 7);
	EXPECT_ERR(soft_offline_page(th.host, 0x20000, 0), -EOPNOTSUPP);
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, 0x20000)));
	EXPECT_TRUE(is_free_buddy_page(pfn_to_page(th.host, 0x20000)));
	EXPECT_EQ(nr_poisoned(&th), 0);
	/* Enabled again, the same page goes. */
	th.host->sysctl.enable_soft_offline = 1;
	EXPECT_OK(madvise_soft_offline(t, addr, PAGE_SIZE));
	EXPECT_EQ(h->nr_huge_pages, 7);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * A pinned page is isolated but migrate_pages() cannot move it: one folio
 * failed, -EBUSY, no poison, and the reference is given back.
 */
TEST(soft_offline_pinned_page_fails_isolation)
{
	struct t_host th;
	struct task_struct *t;
	struct folio *pinned;
	unsigned long addr, pfn;
	int refs;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	addr = t_mmap_anon(t, PAGE_SIZE, 0);
	pfn = t_touch(t, addr, true);
	ASSERT_OK(pin_user_page(t, addr, &pinned));
	refs = folio_ref_count(pinned);
	EXPECT_ERR(soft_offline_page(th.host, pfn, 0), -EBUSY);
	EXPECT_TRUE(logged(&th, "Soft offline: %#lx: page migration failed 1", pfn));
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "isolation failed"), 0);
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, pfn)));
	EXPECT_EQ(folio_ref_count(pinned), refs);
	EXPECT_EQ(pinned->mf_pins, 0);
	EXPECT_EQ(t_touch(t, addr, false), pfn);
	unpin_user_page(pinned);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* ---- memory_failure_queue() ----------------------------------------------------------- */

/* Nothing happens at queue time; the kick runs the entries in order, in a kworker. */
TEST(queue_runs_entries_in_order_at_kick)
{
	static const unsigned long pfns[] = { 0x20000, 0x20010, 0x20005 };
	struct t_host th;
	struct task_struct *t;
	unsigned long n = 0;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	th.host->current = t;
	for (size_t i = 0; i < ARRAY_SIZE(pfns); i++)
		memory_failure_queue(th.host, 0, pfns[i], 0);
	EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 0);
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, pfns[0])));
	memory_failure_queue_kick(th.host, 0);
	EXPECT_TRUE(th.host->current == t);
	for (unsigned long i = 0; i < th.trace.nr; i++) {
		const struct trace_event *e = &th.trace.ev[i];

		if (e->kind != TRACE_RESULT)
			continue;
		ASSERT_LT(n, ARRAY_SIZE(pfns));
		EXPECT_EQ(e->pfn, pfns[n]);
		n++;
	}
	EXPECT_EQ(n, ARRAY_SIZE(pfns));
	EXPECT_EQ(nr_poisoned(&th), 3);
	/* Drained: a second kick does nothing. */
	memory_failure_queue_kick(th.host, 0);
	EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 3);
	th.host->current = NULL;
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* 16 entries per cpu: the 17th is dropped with the kernel's message. */
TEST(queue_overflow_drops_the_seventeenth_entry)
{
	struct t_host th;
	unsigned long base = 0x20000;

	t_host_init(&th, NULL);
	for (unsigned long i = 0; i < MEMORY_FAILURE_FIFO_SIZE + 1; i++)
		memory_failure_queue(th.host, 1, base + i, 0);
	EXPECT_TRUE(logged(&th, "Memory failure: buffer overflow when queuing memory failure at %#lx",
			   base + MEMORY_FAILURE_FIFO_SIZE));
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "buffer overflow"), 1);
	/* Another cpu has room of its own. */
	memory_failure_queue(th.host, 0, base + 0x100, 0);
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "buffer overflow"), 1);
	memory_failure_queue_kick(th.host, 1);
	EXPECT_EQ(nr_poisoned(&th), MEMORY_FAILURE_FIFO_SIZE);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, base + MEMORY_FAILURE_FIFO_SIZE - 1)));
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, base + MEMORY_FAILURE_FIFO_SIZE)));
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, base + 0x100)));
	/* Room again after the drain. */
	memory_failure_queue(th.host, 1, base + MEMORY_FAILURE_FIFO_SIZE, 0);
	memory_failure_queue_kick(th.host, -1);
	EXPECT_EQ(nr_poisoned(&th), MEMORY_FAILURE_FIFO_SIZE + 2);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* MF_SOFT_OFFLINE entries go to soft_offline_page(): no action_result(). */
TEST(queue_routes_soft_offline_entries)
{
	struct t_host th;

	t_host_init(&th, NULL);
	memory_failure_queue(th.host, 0, 0x20000, MF_SOFT_OFFLINE);
	memory_failure_queue(th.host, 0, 0x20001, 0);
	memory_failure_queue_kick(th.host, 0);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, 0x20000)));
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, 0x20001)));
	EXPECT_EQ(t_count_events(&th, TRACE_RESULT, NULL), 1);
	EXPECT_EQ(nr_poisoned(&th), 2);
	EXPECT_EQ(th.host->nodes[0].mf_stats.total, 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * The worker runs with no current process: an MF_ACTION_REQUIRED entry
 * finds no consumer, so an early-kill process mapping the page gets AO.
 */
TEST(queued_action_required_runs_without_a_consumer)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;
	const struct trace_event *sig;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	ASSERT_OK(task_prctl_mce_kill(t, 1, 1));	/* PR_MCE_KILL_SET, PR_MCE_KILL_EARLY */
	addr = t_mmap_anon(t, PAGE_SIZE, 0);
	pfn = t_touch(t, addr, true);
	th.host->current = t;
	memory_failure_queue(th.host, 0, pfn, MF_ACTION_REQUIRED);
	memory_failure_queue_kick(th.host, 0);
	th.host->current = NULL;
	sig = t_last_signal(&th, t);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->code, BUS_MCEERR_AO);
	EXPECT_EQ(sig->addr, addr);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_DIRTY_LRU);
	T_VALIDATE(&th);
	t_host_free(&th);
}

static const struct t_case cases[] = {
	T(repeated_failure_is_already_poisoned_and_uncounted),
	T(hugetlb_folio_pre_poisoned_counts_each_new_raw_page),
	T(unpoison_injected_free_page),
	T(unpoison_after_madvise_frees_the_page),
	T(unpoison_dissolved_hugetlb_raw_page),
	T(unpoison_is_disabled_after_a_hardware_failure),
	T(unpoison_of_unpoisoned_page_is_ebusy),
	T(unpoison_refuses_referenced_and_kernel_pages),
	T(unpoison_outside_memory_is_eio),
	T(soft_offline_free_page),
	T(soft_offline_anon_page_migrates_silently),
	T(soft_offline_page_cache_invalidates_clean_migrates_dirty),
	T(soft_offline_free_hugetlb_dissolves),
	T(soft_offline_in_use_hugetlb_migrates_and_dissolves),
	T(soft_offline_disabled_changes_nothing),
	T(soft_offline_pinned_page_fails_isolation),
	T(queue_runs_entries_in_order_at_kick),
	T(queue_overflow_drops_the_seventeenth_entry),
	T(queue_routes_soft_offline_entries),
	T(queued_action_required_runs_without_a_consumer),
};

T_MAIN("mm/test_repeat_unpoison_softoffline", cases)
