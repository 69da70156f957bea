// SPDX-License-Identifier: MIT
/* memory_failure() on each kind of page: classification, result, signals, counters. */
#include "tests/harness/t_model.h"

static long hw_corrupted_kb(struct t_host *th)
{
	return atomic_long_read(&th->host->num_poisoned_pages) * 4;
}

/*
 * A free page in the buddy allocator is taken off the free lists and pinned.
 *
 *   free: [.......X.......]  ->  [.......P.......]   P: poisoned, off buddy
 */
TEST(free_buddy_page_is_taken_off_buddy)
{
	struct t_host th;
	unsigned long pfn = 0x20000;	/* 512 MiB: free at boot */
	struct page *p;

	t_host_init(&th, NULL);
	p = pfn_to_page(th.host, pfn);
	ASSERT_TRUE(is_free_buddy_page(p));
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	EXPECT_TRUE(t_logged(&th, "Memory failure: 0x20000: recovery action for free buddy page: Recovered"));
	EXPECT_FALSE(is_free_buddy_page(p));
	EXPECT_TRUE(PageHWPoison(p));
	EXPECT_EQ(page_count(p), 1);
	EXPECT_EQ(hw_corrupted_kb(&th), 4);
	EXPECT_EQ(th.host->nodes[0].mf_stats.recovered, 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(already_poisoned_page_returns_ehwpoison_uncounted)
{
	struct t_host th;

	t_host_init(&th, NULL);
	ASSERT_OK(memory_failure(th.host, 0x20000, 0));
	ASSERT_ERR(memory_failure(th.host, 0x20000, 0), -EHWPOISON);
	EXPECT_TRUE(t_logged(&th, "Memory failure: 0x20000: recovery action for already poisoned page: Failed"));
	EXPECT_EQ(hw_corrupted_kb(&th), 4);
	EXPECT_EQ(th.host->nodes[0].mf_stats.total, 1);
	t_host_free(&th);
}

TEST(pfn_outside_memory_is_enxio)
{
	struct t_host th;

	t_host_init(&th, NULL);
	ASSERT_ERR(memory_failure(th.host, th.host->max_pfn + 5, 0), -ENXIO);
	t_host_free(&th);
}

/* A dirty anonymous page: unmapped, hwpoison entry installed, killed if early. */
TEST(dirty_anon_page_early_kill_gets_ao)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;
	const struct trace_event *sig;

	t_host_init(&th, NULL);
	th.host->sysctl.memory_failure_early_kill = 1;
	t = t_process(&th, "app");
	addr = t_mmap_anon(t, 16 * PAGE_SIZE, 0);
	pfn = t_touch(t, addr + 3 * PAGE_SIZE, true);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_DIRTY_LRU);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	sig = t_last_signal(&th, t);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->code, BUS_MCEERR_AO);
	EXPECT_EQ(sig->addr, addr + 3 * PAGE_SIZE);
	EXPECT_EQ(sig->lsb, 12);
	EXPECT_EQ(pte_lookup(t->mm, addr + 3 * PAGE_SIZE)->kind, PTE_HWPOISON);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(dirty_anon_page_late_kill_no_signal_then_ar_on_touch)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;
	const struct trace_event *sig;

	t_host_init(&th, NULL);
	t = task_create(th.host, "app", NULL);
	addr = t_mmap_anon(t, 16 * PAGE_SIZE, 0);
	pfn = t_touch(t, addr, true);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	EXPECT_EQ(t_signals_to(&th, t), 0);
	EXPECT_EQ(handle_user_access(t, addr + 8, false, NULL), ACCESS_SIGBUS);
	sig = t_last_signal(&th, t);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->code, BUS_MCEERR_AR);
	EXPECT_EQ(sig->addr, addr + 8);
	signals_deliver(th.host);
	EXPECT_TRUE(t->exited);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(action_required_signals_current_ar)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;
	const struct trace_event *sig;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	addr = t_mmap_anon(t, 4 * PAGE_SIZE, 0);
	pfn = t_touch(t, addr, true);
	th.host->current = t;
	ASSERT_OK(memory_failure(th.host, pfn, MF_ACTION_REQUIRED));
	sig = t_last_signal(&th, t);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->code, BUS_MCEERR_AR);
	EXPECT_TRUE(t_logged(&th, "Memory failure: 0x80: Sending SIGBUS to app:100 due to hardware memory corruption") ||
		    t_count_events(&th, TRACE_LOG, "Sending SIGBUS to app:100") == 1);
	th.host->current = NULL;
	t_host_free(&th);
}

TEST(slab_page_is_get_hwpoison_ignored)
{
	struct t_host th;
	struct folio *f;

	t_host_init(&th, NULL);
	f = alloc_kernel_pages(th.host, 0, 0, PGTY_slab, FOLIO_OWNER_KERNEL);
	ASSERT_NOT_NULL(f);
	ASSERT_ERR(memory_failure(th.host, folio_pfn(f), 0), -EBUSY);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_GET_HWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_IGNORED);
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "unhandlable page."), 1);
	EXPECT_FALSE(th.host->panicked);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(reserved_page_v4_panics_v9_panics_mainline_does_not)
{
	static const enum mf_panic_rule rules[] = { MF_PANIC_RULE_MAINLINE, MF_PANIC_RULE_V4,
						    MF_PANIC_RULE_V9 };
	static const enum mf_action_page_type want[] = { MF_MSG_GET_HWPOISON, MF_MSG_KERNEL,
							 MF_MSG_KERNEL };

	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		struct t_host th;

		t_host_init(&th, NULL);
		th.host->sysctl.panic_rule = rules[i];
		th.host->sysctl.panic_on_unrecoverable_memory_failure = 1;
		ASSERT_ERR(memory_failure(th.host, 0x100, 0), -EBUSY);
		EXPECT_EQ(mf_last_outcome(th.host).type, want[i]);
		EXPECT_EQ(th.host->panicked, rules[i] != MF_PANIC_RULE_MAINLINE);
		t_host_free(&th);
	}
}

/* The seed thread's race: a free page allocated while memory_failure() runs. */
static void alloc_in_flight(struct host *host, void *arg)
{
	unsigned long pfn = *(unsigned long *)arg;

	(void)alloc_contig_pfn_range(host, ALIGN_DOWN(pfn, 4), 4);
}

TEST(in_flight_high_order_page_panics_v4_not_v9)
{
	static const enum mf_panic_rule rules[] = { MF_PANIC_RULE_V4, MF_PANIC_RULE_V9 };

	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		struct t_host th;
		unsigned long pfn = 0x30001;
		struct host_race race = { .label = "memory_failure:after_get_hwpoison_page",
					  .fn = alloc_in_flight, .arg = &pfn };
		struct folio *f;

		t_host_init(&th, NULL);
		th.host->sysctl.panic_rule = rules[i];
		th.host->sysctl.panic_on_unrecoverable_memory_failure = 1;
		host_add_race(th.host, &race);
		ASSERT_ERR(memory_failure(th.host, pfn, 0), -EBUSY);
		EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_KERNEL_HIGH_ORDER);
		EXPECT_EQ(th.host->panicked, rules[i] == MF_PANIC_RULE_V4);
		/* Give the in-flight block an owner so the host stays consistent. */
		f = folio_new(th.host, 0x30000, 2, FOLIO_OWNER_KERNEL_HIGH_ORDER, __GFP_NOFAIL);
		atomic_set(&f->_refcount, 1);
		f->extra_refs = 1;
		t_host_free(&th);
	}
}

TEST(free_hugetlb_page_is_dissolved)
{
	struct t_host th;
	struct hstate *h;
	struct folio *f;
	unsigned long pfn;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	f = list_first_entry(&h->hugepage_freelists[0], struct folio, lru);
	pfn = folio_pfn(f) + 7;
	ASSERT_EQ(h->nr_huge_pages, 8);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_FREE_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(h->free_huge_pages, 7);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
	EXPECT_TRUE(is_free_buddy_page(pfn_to_page(th.host, pfn - 1)));
	EXPECT_EQ(hw_corrupted_kb(&th), 4);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(anon_hugetlb_in_use_is_unmapped_and_dissolved)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;
	struct hstate *h;
	const struct trace_event *sig;

	t_host_init(&th, NULL);
	h = &th.host->hstates[0];
	th.host->sysctl.memory_failure_early_kill = 1;
	t = t_process(&th, "hugeapp");
	addr = t_mmap_anon(t, PMD_SIZE, VM_HUGETLB);
	pfn = t_touch(t, addr + 5 * PAGE_SIZE, true);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_HUGE);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	sig = t_last_signal(&th, t);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->lsb, 21);
	EXPECT_EQ(sig->addr, addr + 5 * PAGE_SIZE);
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(handle_user_access(t, addr, false, NULL), ACCESS_SIGBUS);
	EXPECT_EQ(t_last_signal(&th, t)->lsb, 21);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(thp_is_split_then_handled)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;
	struct folio *f;

	t_host_init(&th, NULL);
	t = t_process(&th, "thp");
	addr = t_mmap_anon(t, 2 * PMD_SIZE, VM_HUGEPAGE);
	pfn = t_touch(t, addr + 9 * PAGE_SIZE, true);
	f = pfn_folio_lookup(th.host, pfn);
	ASSERT_EQ(folio_order(f), 9);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_DIRTY_LRU);
	f = pfn_folio_lookup(th.host, pfn);
	EXPECT_EQ(folio_order(f), 0);
	EXPECT_EQ(pte_lookup(t->mm, addr + 9 * PAGE_SIZE)->kind, PTE_HWPOISON);
	EXPECT_EQ(pte_lookup(t->mm, addr + 8 * PAGE_SIZE)->kind, PTE_PRESENT);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(pinned_thp_is_unsplit_and_killed)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;
	struct folio *f, *pinned;

	t_host_init(&th, NULL);
	t = t_process(&th, "thp");
	addr = t_mmap_anon(t, PMD_SIZE, VM_HUGEPAGE);
	pfn = t_touch(t, addr, true);
	ASSERT_OK(pin_user_page(t, addr, &pinned));
	th.host->current = t;
	ASSERT_ERR(memory_failure(th.host, pfn + 1, MF_ACTION_REQUIRED), -EHWPOISON);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_UNSPLIT_THP);
	EXPECT_EQ(t_last_signal(&th, t)->code, BUS_MCEERR_AR);
	f = pfn_folio_lookup(th.host, pfn);
	EXPECT_EQ(folio_order(f), 9);
	th.host->current = NULL;
	unpin_user_page(pinned);
	t_host_free(&th);
}

TEST(shmem_clean_page_kept_in_cache_recovered)
{
	struct t_host th;
	struct file *f;
	struct folio *folio;
	int err;

	t_host_init(&th, NULL);
	f = file_create(th.host, FILE_SHMEM, "memfd", 16 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(f);
	folio = filemap_grab_folio(f, 2, &err);
	ASSERT_NOT_NULL(folio);
	ASSERT_OK(memory_failure(th.host, folio_pfn(folio), 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_CLEAN_LRU);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_EQ(file_read(f, 2 * PAGE_SIZE, 100), -EIO);
	EXPECT_EQ(file_read(f, PAGE_SIZE, 2 * PAGE_SIZE), (long)PAGE_SIZE);
	T_VALIDATE(&th);
	fput(f);
	t_host_free(&th);
}

TEST(regular_dirty_file_page_sets_eio_and_truncates)
{
	struct t_host th;
	struct file *f;
	struct folio *folio;
	int err;

	t_host_init(&th, NULL);
	f = file_create(th.host, FILE_REGULAR, "data", 16 * PAGE_SIZE, NULL);
	ASSERT_OK(file_write(f, 0, PAGE_SIZE));
	folio = filemap_get_folio(&f->f_mapping, 0);
	ASSERT_OK(memory_failure(th.host, folio_pfn(folio), 0));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_DIRTY_LRU);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_TRUE(filemap_get_folio(&f->f_mapping, 0) == NULL);
	EXPECT_ERR(file_fsync(f), -EIO);
	EXPECT_OK(file_fsync(f));
	(void)err;
	T_VALIDATE(&th);
	fput(f);
	t_host_free(&th);
}

TEST(unpoison_after_software_injection_only)
{
	struct t_host th;

	t_host_init(&th, NULL);
	ASSERT_OK(hwpoison_inject(th.host, 0x20000));
	ASSERT_OK(unpoison_memory(th.host, 0x20000));
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, 0x20000)));
	EXPECT_TRUE(is_free_buddy_page(pfn_to_page(th.host, 0x20000)));
	EXPECT_EQ(hw_corrupted_kb(&th), 0);
	ASSERT_OK(memory_failure(th.host, 0x20001, 0));
	ASSERT_ERR(unpoison_memory(th.host, 0x20001), -EOPNOTSUPP);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(soft_offline_migrates_anon_page)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	addr = t_mmap_anon(t, PAGE_SIZE, 0);
	pfn = t_touch(t, addr, true);
	ASSERT_OK(soft_offline_page(th.host, pfn, 0));
	EXPECT_TRUE(PageHWPoison(pfn_to_page(th.host, pfn)));
	EXPECT_NE(t_touch(t, addr, false), pfn);
	EXPECT_EQ(t_signals_to(&th, t), 0);
	T_VALIDATE(&th);
	th.host->sysctl.enable_soft_offline = 0;
	EXPECT_ERR(soft_offline_page(th.host, 0x20000, 0), -EOPNOTSUPP);
	t_host_free(&th);
}

TEST(recovery_disabled_panics_first)
{
	struct t_host th;

	t_host_init(&th, NULL);
	th.host->sysctl.memory_failure_recovery = 0;
	(void)memory_failure(th.host, 0x20000, 0);
	EXPECT_TRUE(th.host->panicked);
	EXPECT_STREQ(th.host->panic_msg, "Memory failure on page 20000");
	EXPECT_FALSE(PageHWPoison(pfn_to_page(th.host, 0x20000)));
	t_host_free(&th);
}

static const struct t_case cases[] = {
	T(free_buddy_page_is_taken_off_buddy),
	T(already_poisoned_page_returns_ehwpoison_uncounted),
	T(pfn_outside_memory_is_enxio),
	T(dirty_anon_page_early_kill_gets_ao),
	T(dirty_anon_page_late_kill_no_signal_then_ar_on_touch),
	T(action_required_signals_current_ar),
	T(slab_page_is_get_hwpoison_ignored),
	T(reserved_page_v4_panics_v9_panics_mainline_does_not),
	T(in_flight_high_order_page_panics_v4_not_v9),
	T(free_hugetlb_page_is_dissolved),
	T(anon_hugetlb_in_use_is_unmapped_and_dissolved),
	T(thp_is_split_then_handled),
	T(pinned_thp_is_unsplit_and_killed),
	T(shmem_clean_page_kept_in_cache_recovered),
	T(regular_dirty_file_page_sets_eio_and_truncates),
	T(unpoison_after_software_injection_only),
	T(soft_offline_migrates_anon_page),
	T(recovery_disabled_panics_first),
};

T_MAIN("mm/test_memory_failure", cases)
