// SPDX-License-Identifier: MIT
/*
 * Poisoned HugeTLB folios and the free path:
 *
 *   free folio poisoned      dissolved at once, the raw page taken off buddy
 *   in-use anonymous         unmapped; freed by me_huge_page() unless pinned,
 *                            then dissolved when the last reference goes
 *   hugetlbfs page cache     kept in the page cache (reads stop short at the
 *                            raw page); memory_failure() keeps its reference
 *   raw list unreliable      (a raw_hwp_page allocation failed) leaked whole
 *
 * MODEL: a poisoned folio is dissolved as soon as it is freed; the kernel
 * first enqueues it (dequeue skips it) and dissolves it later. The counts
 * below are those once it is gone.
 *
 * Dissolving keeps exactly the raw poisoned pages out of buddy:
 *
 *   2M folio  [HHHHHHHHHHHHHHHHHHHHHHHHHHHHHH]   raw list {5, 9}
 *   freed     [....X...X.....................]   X: poisoned, out of buddy
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

static bool page_free(struct t_host *th, unsigned long pfn)
{
	return is_free_buddy_page(pfn_to_page(th->host, pfn));
}

/* An anonymous 2M HugeTLB page of @t, written; returns the head pfn. */
static unsigned long anon_huge(struct t_host *th, struct task_struct *t, unsigned long *addrp)
{
	*addrp = t_mmap_anon(t, PMD_SIZE, VM_HUGETLB);
	return t_touch(t, *addrp, true);
}

/*
 * An in-use anonymous folio: unmapped, and me_huge_page() drops the last
 * reference, so it is dissolved at once; the raw page is pinned by MF.
 */
TEST(anon_hugetlb_is_dissolved_keeping_the_raw_page)
{
	struct t_host th;
	struct task_struct *t;
	struct hstate *h;
	struct page *raw;
	unsigned long addr, head, free_before;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	t = t_process(&th, "hugeapp");
	head = anon_huge(&th, t, &addr);
	free_before = node_free_pages(th.host, 0);
	ASSERT_OK(memory_failure(th.host, head + 5, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for huge page: Recovered", head + 5));
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(h->free_huge_pages, 7);
	raw = pfn_to_page(th.host, head + 5);
	EXPECT_TRUE(PageHWPoison(raw));
	EXPECT_EQ(raw->private, MAGIC_HWPOISON);
	EXPECT_EQ(page_folio(raw)->owner, FOLIO_OWNER_HWPOISON);
	EXPECT_EQ(page_count(raw), 1);
	EXPECT_TRUE(page_free(&th, head));
	EXPECT_TRUE(page_free(&th, head + 4));
	EXPECT_TRUE(page_free(&th, head + 6));
	EXPECT_TRUE(page_free(&th, head + HPAGE_PMD_NR - 1));
	EXPECT_EQ(node_free_pages(th.host, 0), free_before + HPAGE_PMD_NR - 1);
	EXPECT_EQ(th.host->nr_leaked_pages, 0);
	EXPECT_EQ(nr_poisoned(&th), 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * tools/testing/selftests/mm/memory-failure.c, anon_hugetlb: madvise()
 * injection (MF_COUNT_INCREASED) at the start of a huge page gets the
 * caller an AR SIGBUS with the huge page's shift, HardwareCorrupted grows
 * by 4 kB, the pool loses one page; unpoison at that pfn undoes the count.
 */
TEST(madvise_anon_hugetlb_as_the_selftest_sees_it)
{
	struct t_host th;
	struct task_struct *t;
	struct hstate *h;
	const struct trace_event *sig;
	unsigned long addr, head;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	t = t_process(&th, "selftest");
	t->sigbus_handler = true;
	addr = t_mmap_anon(t, 4 * PMD_SIZE, VM_HUGETLB);
	for (int i = 0; i < 4; i++)
		(void)t_touch(t, addr + (unsigned long)i * PMD_SIZE, true);
	head = pte_lookup(t->mm, addr)->pfn;
	ASSERT_EQ(h->nr_huge_pages, 8);
	ASSERT_OK(madvise_hwpoison(t, addr, PAGE_SIZE));
	sig = t_last_signal(&th, t);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->code, BUS_MCEERR_AR);
	EXPECT_EQ(sig->addr, addr);
	EXPECT_EQ(sig->lsb, PMD_SHIFT);
	EXPECT_EQ(nr_poisoned(&th), 1);
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, head)));
	EXPECT_EQ(handle_user_access(t, addr + 16, false, NULL), ACCESS_SIGBUS);
	EXPECT_EQ(t_last_signal(&th, t)->lsb, PMD_SHIFT);
	/* The other huge pages of the mapping are untouched. */
	EXPECT_EQ(handle_user_access(t, addr + PMD_SIZE, false, NULL), ACCESS_OK);
	ASSERT_OK(unpoison_memory(th.host, head));
	EXPECT_EQ(nr_poisoned(&th), 0);
	EXPECT_TRUE(page_free(&th, head));
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * A pinned folio survives me_huge_page() (MF_FAILED: it cannot be freed
 * yet); a second raw page is recorded (FOLIO_PRE_POISONED). When the pin
 * goes, the folio is dissolved with both raw pages kept out of buddy.
 */
TEST(pinned_hugetlb_freed_later_keeps_each_raw_page_out)
{
	struct t_host th;
	struct task_struct *t;
	struct hstate *h;
	struct folio *folio, *pin;
	unsigned long addr, head, free_before;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	t = t_process(&th, "hugeapp");
	head = anon_huge(&th, t, &addr);
	ASSERT_OK(pin_user_page(t, addr, &pin));
	folio = pfn_folio_lookup(th.host, head);

	ASSERT_ERR(memory_failure(th.host, head + 5, 0), -EBUSY);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_FAILED);
	EXPECT_TRUE(folio_test_hugetlb(folio));
	EXPECT_EQ(folio_ref_count(folio), 1);	/* the pin */
	EXPECT_EQ(pte_lookup(t->mm, addr)->kind, PTE_HWPOISON);
	ASSERT_ERR(memory_failure(th.host, head + 9, 0), -EHWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(list_count(&folio->raw_hwp_list), 2);
	EXPECT_EQ(h->nr_huge_pages, 8);
	EXPECT_EQ(nr_poisoned(&th), 2);
	T_VALIDATE(&th);

	free_before = node_free_pages(th.host, 0);
	unpin_user_page(pin);
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(h->free_huge_pages, 7);
	EXPECT_TRUE(pfn_folio_lookup(th.host, head) == NULL);
	for (unsigned long i = 0; i < 12; i++) {
		bool bad = i == 5 || i == 9;

		EXPECT_EQ(PageHWPoison(pfn_to_page(th.host, head + i)), bad);
		EXPECT_EQ(page_free(&th, head + i), !bad);
	}
	EXPECT_EQ(node_free_pages(th.host, 0), free_before + HPAGE_PMD_NR - 2);
	EXPECT_EQ(th.host->nr_leaked_pages, 2);
	EXPECT_EQ(nr_poisoned(&th), 2);
	T_VALIDATE(&th);

	/* The raw pages are plain poisoned pages now. */
	EXPECT_ERR(memory_failure(th.host, head + 5, 0), -EHWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_ALREADY_POISONED);
	EXPECT_OK(memory_failure(th.host, head + 6, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_BUDDY);
	EXPECT_EQ(nr_poisoned(&th), 3);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * The raw_hwp_page allocation for the second raw page fails: the list can
 * no longer be trusted (it is dropped and its count subtracted), every
 * subpage reads as poisoned, and the folio is leaked whole when freed.
 */
TEST(unreliable_raw_list_leaks_the_whole_folio)
{
	struct t_host th;
	struct task_struct *t;
	struct hstate *h;
	struct folio *folio, *pin;
	unsigned long addr, head, free_before;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	t = t_process(&th, "hugeapp");
	head = anon_huge(&th, t, &addr);
	ASSERT_OK(pin_user_page(t, addr, &pin));
	folio = pfn_folio_lookup(th.host, head);
	ASSERT_ERR(memory_failure(th.host, head + 5, 0), -EBUSY);
	ASSERT_EQ(nr_poisoned(&th), 1);

	/* The first allocation of the next failure is its raw_hwp_page. */
	kmalloc_fault_set(1, false);
	ASSERT_ERR(memory_failure(th.host, head + 9, 0), -EHWPOISON);
	kmalloc_fault_set(0, false);
	ASSERT_EQ(kmalloc_failed(), 1);
	EXPECT_TRUE(folio_test_hugetlb_raw_hwp_unreliable(folio));
	EXPECT_EQ(list_count(&folio->raw_hwp_list), 0);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_FAILED);
	/* The recorded page was subtracted, the new one counted: the kernel's drift. */
	EXPECT_EQ(nr_poisoned(&th), 1);
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i += 97)
		EXPECT_TRUE(is_raw_hwpoison_page_in_hugepage(folio, pfn_to_page(th.host, head + i)));
	/* Later errors are not recorded either, only counted. */
	ASSERT_ERR(memory_failure(th.host, head + 20, 0), -EHWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(list_count(&folio->raw_hwp_list), 0);
	EXPECT_EQ(nr_poisoned(&th), 2);
	T_VALIDATE(&th);

	free_before = node_free_pages(th.host, 0);
	unpin_user_page(pin);
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(h->free_huge_pages, 7);
	EXPECT_EQ(th.host->nr_leaked_pages, HPAGE_PMD_NR);
	EXPECT_EQ(node_free_pages(th.host, 0), free_before);
	EXPECT_FALSE(page_free(&th, head));
	EXPECT_FALSE(page_free(&th, head + 100));
	EXPECT_EQ(pfn_folio_lookup(th.host, head + 100)->owner, FOLIO_OWNER_LEAKED);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * The first raw_hwp_page allocation fails on an unpinned anonymous folio:
 * me_huge_page() frees it, the free path leaks it whole, and the raw page
 * cannot be taken off buddy (it never went there): MF_FAILED.
 */
TEST(unreliable_from_the_first_error_is_failed)
{
	struct t_host th;
	struct task_struct *t;
	struct hstate *h;
	unsigned long addr, head;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	t = t_process(&th, "hugeapp");
	head = anon_huge(&th, t, &addr);
	kmalloc_fault_set(1, false);
	ASSERT_ERR(memory_failure(th.host, head + 5, 0), -EBUSY);
	kmalloc_fault_set(0, false);
	ASSERT_EQ(kmalloc_failed(), 1);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_FAILED);
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(th.host->nr_leaked_pages, HPAGE_PMD_NR);
	EXPECT_EQ(pfn_folio_lookup(th.host, head + 5)->owner, FOLIO_OWNER_LEAKED);
	EXPECT_EQ(folio_nr_pages(pfn_folio_lookup(th.host, head + 5)), HPAGE_PMD_NR);
	EXPECT_FALSE(page_free(&th, head + 6));
	EXPECT_EQ(nr_poisoned(&th), 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * A hugetlbfs page stays in the page cache after a failure: a read stops
 * short at the raw poisoned page, a read that starts there fails with EIO,
 * and the data after it can still be read. Access through a mapping
 * (old or new) gets SIGBUS with the huge page's shift.
 */
TEST(hugetlbfs_page_stays_cached_and_reads_stop_at_the_raw_page)
{
	struct t_host th;
	struct task_struct *t, *late;
	struct hstate *h;
	struct file *f;
	struct folio *folio;
	unsigned long addr, head, addr2;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	t = t_process(&th, "writer");
	f = file_create(th.host, FILE_HUGETLBFS, "huge", 2 * PMD_SIZE, h);
	ASSERT_NOT_NULL(f);
	addr = t_mmap_file(t, f, 2 * PMD_SIZE, 0, 0);
	head = t_touch(t, addr, true);
	folio = pfn_folio_lookup(th.host, head);
	ASSERT_OK(memory_failure(th.host, head + 5, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_TRUE(filemap_get_folio(&f->f_mapping, 0) == folio);
	EXPECT_EQ(folio_ref_count(folio), (int)HPAGE_PMD_NR + 1);
	EXPECT_EQ(h->nr_huge_pages, 8);
	EXPECT_EQ(h->free_huge_pages, 7);

	EXPECT_EQ(file_read(f, 0, PMD_SIZE), (long)(5 * PAGE_SIZE));
	EXPECT_EQ(file_read(f, 4 * PAGE_SIZE + 100, 2 * PAGE_SIZE), (long)(PAGE_SIZE - 100));
	EXPECT_EQ(file_read(f, 5 * PAGE_SIZE, 100), -EIO);
	EXPECT_EQ(file_read(f, 5 * PAGE_SIZE + 4000, 10), -EIO);
	EXPECT_EQ(file_read(f, 6 * PAGE_SIZE, PMD_SIZE - 6 * PAGE_SIZE),
		  (long)(PMD_SIZE - 6 * PAGE_SIZE));
	EXPECT_EQ(file_write(f, 5 * PAGE_SIZE, 10), -EIO);
	EXPECT_OK(file_write(f, 0, 10));

	EXPECT_EQ(handle_user_access(t, addr + 8 * PAGE_SIZE, false, NULL), ACCESS_SIGBUS);
	EXPECT_EQ(t_last_signal(&th, t)->lsb, PMD_SHIFT);
	EXPECT_EQ(t_last_signal(&th, t)->addr, addr + 8 * PAGE_SIZE);
	late = t_process(&th, "late");
	addr2 = t_mmap_file(late, f, PMD_SIZE, 0, 0);
	EXPECT_EQ(handle_user_access(late, addr2 + 3, false, NULL), ACCESS_SIGBUS);
	EXPECT_EQ(t_last_signal(&th, late)->code, BUS_MCEERR_AR);
	EXPECT_EQ(t_last_signal(&th, late)->lsb, PMD_SHIFT);
	/* The file's other huge page is untouched. */
	EXPECT_EQ(file_read(f, PMD_SIZE, PMD_SIZE), (long)PMD_SIZE);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * Truncating (or closing) the file drops the page cache's references, but
 * memory_failure() kept its own: me_huge_page() never drops it for a
 * file folio. The folio is neither freed nor dissolved; the pool keeps
 * counting it as in use. Only unpoison (of an injected error, at the head
 * page) lets it go, back into the pool whole.
 */
TEST(truncated_hugetlbfs_page_stays_pinned_by_memory_failure)
{
	/* How the page cache lets go: a hole punch, or the last close. */
	static const bool close_file[] = { false, true };

	for (size_t i = 0; i < ARRAY_SIZE(close_file); i++) {
		struct t_host th;
		struct task_struct *t;
		struct hstate *h;
		struct file *f;
		struct folio *folio;
		unsigned long addr, head, free_before;

		t_host_init(&th, NULL);
		h = &th.host->hstates[0];
		t = t_process(&th, "app");
		f = file_create(th.host, FILE_HUGETLBFS, "huge", PMD_SIZE, h);
		ASSERT_NOT_NULL(f);
		addr = t_mmap_file(t, f, PMD_SIZE, 0, 0);
		head = t_touch(t, addr, true);
		folio = pfn_folio_lookup(th.host, head);
		ASSERT_OK(hwpoison_inject(th.host, head + 5));
		ASSERT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
		free_before = node_free_pages(th.host, folio->nid);

		ASSERT_OK(do_munmap(t->mm, addr, PMD_SIZE));
		if (close_file[i]) {
			fput(f);
		} else {
			ASSERT_OK(file_fallocate_punch(f, 0, PMD_SIZE));
			EXPECT_TRUE(filemap_get_folio(&f->f_mapping, 0) == NULL);
		}
		EXPECT_TRUE(folio->mapping == NULL);
		EXPECT_TRUE(pfn_folio_lookup(th.host, head) == folio);
		EXPECT_TRUE(folio_test_hugetlb(folio));
		EXPECT_EQ(folio_ref_count(folio), 1);
		EXPECT_EQ(folio->mf_pins, 1);
		EXPECT_EQ(h->nr_huge_pages, 8);
		EXPECT_EQ(h->free_huge_pages, 7);
		EXPECT_EQ(node_free_pages(th.host, folio->nid), free_before);
		EXPECT_EQ(nr_poisoned(&th), 1);
		T_VALIDATE(&th);

		/* Unpoison works on the head page, where the folio's flag lives. */
		EXPECT_ERR(unpoison_memory(th.host, head + 5), -EBUSY);
		ASSERT_OK(unpoison_memory(th.host, head));
		EXPECT_EQ(nr_poisoned(&th), 0);
		EXPECT_EQ(h->nr_huge_pages, 8);
		EXPECT_EQ(h->free_huge_pages, 8);
		EXPECT_TRUE(folio_test_hugetlb_freed(folio));
		EXPECT_FALSE(folio_test_hwpoison(folio));
		EXPECT_EQ(list_count(&folio->raw_hwp_list), 0);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* A free 1G page: dissolved, 2^18 - 1 pages back to buddy, the hstate empty. */
TEST(free_gigantic_page_is_dissolved)
{
	struct t_host th;
	struct hstate *h;
	struct folio *f;
	unsigned long head, free_before;
	int nid;

	t_host_init(&th, NULL);
	h = &th.host->hstates[1];
	ASSERT_EQ(h->nr_huge_pages, 1);
	f = list_first_entry(&h->hugepage_freelists[0], struct folio, lru);
	head = folio_pfn(f);
	nid = f->nid;
	free_before = node_free_pages(th.host, nid);
	ASSERT_OK(memory_failure(th.host, head + 0x12345, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_FREE_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for free huge page: Recovered",
			   head + 0x12345));
	EXPECT_EQ(h->nr_huge_pages, 0);
	EXPECT_EQ(h->free_huge_pages, 0);
	EXPECT_EQ(node_free_pages(th.host, nid), free_before + (1UL << PUD_ORDER) - 1);
	EXPECT_TRUE(page_free(&th, head + 0x12344));
	EXPECT_FALSE(page_free(&th, head + 0x12345));
	EXPECT_EQ(nr_poisoned(&th), 1);
	/* The 1G page is gone: a shared 1G hugetlbfs mapping cannot reserve one. */
	{
		struct task_struct *t = t_process(&th, "app");
		struct file *file = file_create(th.host, FILE_HUGETLBFS, "g", PUD_SIZE, h);
		int err;

		ASSERT_NOT_NULL(file);
		(void)do_mmap(t, file, 0, PUD_SIZE, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
		EXPECT_ERR(err, -ENOMEM);
	}
	T_VALIDATE(&th);
	t_host_free(&th);
}

static const struct t_case cases[] = {
	T(anon_hugetlb_is_dissolved_keeping_the_raw_page),
	T(madvise_anon_hugetlb_as_the_selftest_sees_it),
	T(pinned_hugetlb_freed_later_keeps_each_raw_page_out),
	T(unreliable_raw_list_leaks_the_whole_folio),
	T(unreliable_from_the_first_error_is_failed),
	T(hugetlbfs_page_stays_cached_and_reads_stop_at_the_raw_page),
	T(truncated_hugetlbfs_page_stays_pinned_by_memory_failure),
	T(free_gigantic_page_is_dissolved),
};

T_MAIN("mm/test_hugetlb_free", cases)
