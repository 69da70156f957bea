// SPDX-License-Identifier: MIT
/*
 * Who gets a SIGBUS, with which si_code, address and si_addr_lsb:
 * early and late kill (the sysctl and PR_MCE_KILL), action required and
 * action optional, pages mapped by several processes, clean and dirty
 * pages, threads, huge mappings, delivery, and kill_accessing_process() on
 * a page that is already poisoned.
 */
#include <stdarg.h>
#include <stdio.h>

#include "tests/harness/t_model.h"

/* kernel/sys.c, include/uapi/linux/prctl.h */
#define PR_MCE_KILL_CLEAR	0
#define PR_MCE_KILL_SET		1
#define PR_MCE_KILL_LATE	0
#define PR_MCE_KILL_EARLY	1
#define PR_MCE_KILL_DEFAULT	2

static __printf(2, 3) bool logged(struct t_host *th, const char *fmt, ...)
{
	char line[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return t_logged(th, line);
}

static void expect_sigbus(struct t_host *th, const struct task_struct *t, int code,
			  unsigned long addr, int lsb)
{
	const struct trace_event *sig = t_last_signal(th, t);

	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->signal, SIGBUS);
	EXPECT_EQ(sig->code, code);
	EXPECT_EQ(sig->addr, addr);
	EXPECT_EQ(sig->lsb, lsb);
}

/* A process with one dirty anonymous page; returns its pfn. */
static unsigned long dirty_anon(struct t_host *th, struct task_struct *t, unsigned long *addrp)
{
	*addrp = t_mmap_anon(t, 4 * PAGE_SIZE, 0) + PAGE_SIZE;
	return t_touch(t, *addrp, true);
}

/* ---- early and late kill ----------------------------------------------------------- */

TEST(early_kill_policy_sysctl_by_prctl)
{
	/* prctl: -1 none, else PR_MCE_KILL_SET with that value. */
	static const struct { int sysctl; int prctl; bool signalled; } cases[] = {
		{ 0, -1, false },
		{ 1, -1, true },
		{ 0, PR_MCE_KILL_EARLY, true },
		{ 1, PR_MCE_KILL_EARLY, true },
		{ 0, PR_MCE_KILL_LATE, false },
		{ 1, PR_MCE_KILL_LATE, false },
		{ 0, PR_MCE_KILL_DEFAULT, false },
		{ 1, PR_MCE_KILL_DEFAULT, true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct task_struct *t;
		unsigned long addr, pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.memory_failure_early_kill = cases[i].sysctl;
		t = t_process(&th, "app");
		if (cases[i].prctl >= 0)
			ASSERT_OK(task_prctl_mce_kill(t, PR_MCE_KILL_SET, (unsigned long)cases[i].prctl));
		pfn = dirty_anon(&th, t, &addr);
		ASSERT_OK(memory_failure(th.host, pfn, 0));
		if (t_signals_to(&th, t) != cases[i].signalled)
			fprintf(stderr, "# case %zu\n", i);
		EXPECT_EQ(t_signals_to(&th, t), cases[i].signalled);
		EXPECT_EQ(logged(&th, "Memory failure: %#lx: Sending SIGBUS to app:%d due to hardware memory corruption",
				 pfn, t->pid), cases[i].signalled);
		if (cases[i].signalled)
			expect_sigbus(&th, t, BUS_MCEERR_AO, addr, PAGE_SHIFT);
		/* Early or late, the page is unmapped the same way. */
		EXPECT_EQ(pte_lookup(t->mm, addr)->kind, PTE_HWPOISON);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* A late-kill process finds out when it touches the page: AR at the address it touched. */
TEST(late_kill_process_gets_ar_on_next_access)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	t = t_process(&th, "late");
	pfn = dirty_anon(&th, t, &addr);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	ASSERT_EQ(t_signals_to(&th, t), 0);
	EXPECT_EQ(handle_user_access(t, addr + 0x123, true, NULL), ACCESS_SIGBUS);
	expect_sigbus(&th, t, BUS_MCEERR_AR, addr + 0x123, PAGE_SHIFT);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(prctl_mce_kill_set_get_and_einval)
{
	static const struct { unsigned long arg2, arg3; int ret; int get; } steps[] = {
		/* kernel/sys.c sets PF_MCE_PROCESS before it rejects arg3. */
		{ PR_MCE_KILL_SET, 3, -EINVAL, PR_MCE_KILL_LATE },
		{ PR_MCE_KILL_CLEAR, 0, 0, PR_MCE_KILL_DEFAULT },
		{ PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, PR_MCE_KILL_EARLY },
		{ PR_MCE_KILL_SET, PR_MCE_KILL_LATE, 0, PR_MCE_KILL_LATE },
		{ PR_MCE_KILL_SET, PR_MCE_KILL_DEFAULT, 0, PR_MCE_KILL_DEFAULT },
		{ PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, PR_MCE_KILL_EARLY },
		{ PR_MCE_KILL_CLEAR, 0, 0, PR_MCE_KILL_DEFAULT },
		{ PR_MCE_KILL_CLEAR, 1, -EINVAL, PR_MCE_KILL_DEFAULT },
		{ 2, 0, -EINVAL, PR_MCE_KILL_DEFAULT },
		{ 7, PR_MCE_KILL_EARLY, -EINVAL, PR_MCE_KILL_DEFAULT },
		/* CLEAR drops PF_MCE_PROCESS only: PF_MCE_EARLY from before is back. */
		{ PR_MCE_KILL_SET, 3, -EINVAL, PR_MCE_KILL_EARLY },
		{ PR_MCE_KILL_SET, PR_MCE_KILL_LATE, 0, PR_MCE_KILL_LATE },
		{ PR_MCE_KILL_SET, 42, -EINVAL, PR_MCE_KILL_LATE },
		{ PR_MCE_KILL_CLEAR, 0, 0, PR_MCE_KILL_DEFAULT },
	};
	struct t_host th;
	struct task_struct *t;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	EXPECT_EQ(task_prctl_mce_kill_get(t), PR_MCE_KILL_DEFAULT);
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		int ret = task_prctl_mce_kill(t, steps[i].arg2, steps[i].arg3);

		if (ret != steps[i].ret || task_prctl_mce_kill_get(t) != steps[i].get)
			fprintf(stderr, "# step %zu\n", i);
		EXPECT_ERR(ret, steps[i].ret);
		EXPECT_EQ(task_prctl_mce_kill_get(t), steps[i].get);
	}
	t_host_free(&th);
}

/* clone() copies the policy: a thread made after prctl() starts with it. */
TEST(prctl_policy_is_inherited_by_new_threads)
{
	struct t_host th;
	struct task_struct *leader, *before, *after;

	t_host_init(&th, NULL);
	leader = t_process(&th, "app");
	before = task_create(th.host, "before", leader);
	ASSERT_TRUE(before != NULL);
	ASSERT_OK(task_prctl_mce_kill(leader, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY));
	after = task_create(th.host, "after", leader);
	ASSERT_TRUE(after != NULL);
	EXPECT_EQ(task_prctl_mce_kill_get(before), PR_MCE_KILL_DEFAULT);
	EXPECT_EQ(task_prctl_mce_kill_get(after), PR_MCE_KILL_EARLY);
	EXPECT_EQ(after->tgid, leader->pid);
	EXPECT_TRUE(after->mm == leader->mm);
	t_host_free(&th);
}

/* ---- action required and action optional --------------------------------------------- */

/*
 * A dirty shmem page mapped by two processes at different addresses. The
 * consumer (current, MF_ACTION_REQUIRED) gets BUS_MCEERR_AR whatever its
 * policy; the other gets BUS_MCEERR_AO only if it is an early-kill process.
 */
TEST(action_required_goes_to_current_others_get_ao_if_early)
{
	static const struct { int sysctl; bool other_signalled; } cases[] = {
		{ 0, false },
		{ 1, true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct task_struct *a, *b;
		struct file *f;
		unsigned long addr_a, addr_b, pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.memory_failure_early_kill = cases[i].sysctl;
		f = file_create(th.host, FILE_SHMEM, "shared", 8 * PAGE_SIZE, NULL);
		ASSERT_NOT_NULL(f);
		a = t_process(&th, "consumer");
		b = t_process(&th, "other");
		addr_a = t_mmap_file(a, f, 8 * PAGE_SIZE, 0, 0);
		(void)t_mmap_anon(b, PAGE_SIZE, 0);	/* b maps the file elsewhere */
		addr_b = t_mmap_file(b, f, 8 * PAGE_SIZE, 0, 0);
		ASSERT_NE(addr_a, addr_b);
		pfn = t_touch(a, addr_a + 5 * PAGE_SIZE, true);
		ASSERT_EQ(t_touch(b, addr_b + 5 * PAGE_SIZE, false), pfn);
		th.host->current = a;
		ASSERT_OK(memory_failure(th.host, pfn, MF_ACTION_REQUIRED));
		expect_sigbus(&th, a, BUS_MCEERR_AR, addr_a + 5 * PAGE_SIZE, PAGE_SHIFT);
		EXPECT_EQ(t_signals_to(&th, a), 1);
		EXPECT_EQ(t_signals_to(&th, b), cases[i].other_signalled);
		if (cases[i].other_signalled)
			expect_sigbus(&th, b, BUS_MCEERR_AO, addr_b + 5 * PAGE_SIZE, PAGE_SHIFT);
		/* force_sig_mceerr() for the consumer, send_sig_mceerr() for the other. */
		EXPECT_TRUE(list_last_entry(&a->pending, struct kernel_siginfo, node)->forced);
		EXPECT_EQ(list_last_entry(&a->pending, struct kernel_siginfo, node)->si_addr_lsb, PAGE_SHIFT);
		EXPECT_EQ(pte_lookup(a->mm, addr_a + 5 * PAGE_SIZE)->kind, PTE_HWPOISON);
		EXPECT_EQ(pte_lookup(b->mm, addr_b + 5 * PAGE_SIZE)->kind, PTE_HWPOISON);
		th.host->current = NULL;
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* Both processes early: each gets an AO at its own address, in process order. */
TEST(page_mapped_by_two_processes_both_early)
{
	struct t_host th;
	struct task_struct *a, *b;
	struct file *f;
	unsigned long addr_a, addr_b, pfn;

	t_host_init(&th, NULL);
	f = file_create(th.host, FILE_SHMEM, "shared", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(f);
	a = t_process(&th, "a");
	b = t_process(&th, "b");
	ASSERT_OK(task_prctl_mce_kill(a, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY));
	ASSERT_OK(task_prctl_mce_kill(b, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY));
	addr_a = t_mmap_file(a, f, 4 * PAGE_SIZE, 0, 0);
	(void)t_mmap_anon(b, PAGE_SIZE, 0);
	/* b maps the file from page 1: the page's address differs by that too. */
	addr_b = t_mmap_file(b, f, 3 * PAGE_SIZE, 1, 0);
	pfn = t_touch(a, addr_a + 2 * PAGE_SIZE, true);
	ASSERT_EQ(t_touch(b, addr_b + PAGE_SIZE, true), pfn);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	expect_sigbus(&th, a, BUS_MCEERR_AO, addr_a + 2 * PAGE_SIZE, PAGE_SHIFT);
	expect_sigbus(&th, b, BUS_MCEERR_AO, addr_b + PAGE_SIZE, PAGE_SHIFT);
	EXPECT_LT(t_last_signal(&th, a)->seq, t_last_signal(&th, b)->seq);
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: Sending SIGBUS to a:%d due to hardware memory corruption", pfn, a->pid));
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: Sending SIGBUS to b:%d due to hardware memory corruption", pfn, b->pid));
	/* Each finds the poison at its own address later. */
	EXPECT_EQ(handle_user_access(b, addr_b + PAGE_SIZE, false, NULL), ACCESS_SIGBUS);
	expect_sigbus(&th, b, BUS_MCEERR_AR, addr_b + PAGE_SIZE, PAGE_SHIFT);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * collect_procs_file() goes by the VMA, not the PTE: an early-kill process
 * whose mapping covers the page gets AO even if it never touched it. An
 * anonymous page is found through the PTEs that map it only.
 */
TEST(early_kill_file_vma_covering_page_is_enough)
{
	struct t_host th;
	struct task_struct *user, *bystander, *unrelated;
	struct file *f;
	unsigned long addr_u, addr_b, pfn;

	t_host_init(&th, NULL);
	th.host->sysctl.memory_failure_early_kill = 1;
	f = file_create(th.host, FILE_SHMEM, "shared", 8 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(f);
	user = t_process(&th, "user");
	bystander = t_process(&th, "bystander");
	unrelated = t_process(&th, "unrelated");
	addr_u = t_mmap_file(user, f, 8 * PAGE_SIZE, 0, 0);
	addr_b = t_mmap_file(bystander, f, 8 * PAGE_SIZE, 0, 0);
	/* unrelated maps pages 4..7 only. */
	(void)t_mmap_file(unrelated, f, 4 * PAGE_SIZE, 4, 0);
	pfn = t_touch(user, addr_u + 2 * PAGE_SIZE, true);
	ASSERT_TRUE(pte_lookup(bystander->mm, addr_b + 2 * PAGE_SIZE) == NULL);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	expect_sigbus(&th, user, BUS_MCEERR_AO, addr_u + 2 * PAGE_SIZE, PAGE_SHIFT);
	expect_sigbus(&th, bystander, BUS_MCEERR_AO, addr_b + 2 * PAGE_SIZE, PAGE_SHIFT);
	EXPECT_EQ(t_signals_to(&th, unrelated), 0);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * forcekill = dirty || MF_MUST_KILL || unmap failed. A clean shmem page is
 * unmapped (hwpoison entry) but nobody is signalled, even early-kill
 * processes and even the AR consumer; they fault on the entry later.
 */
TEST(clean_page_kills_nobody_unless_dirty_or_must_kill)
{
	static const struct { bool write; int flags; bool signalled; int code; } cases[] = {
		{ false, 0, false, 0 },
		{ true, 0, true, BUS_MCEERR_AO },
		{ false, MF_MUST_KILL, true, BUS_MCEERR_AO },
		{ false, MF_ACTION_REQUIRED, false, 0 },
		{ true, MF_ACTION_REQUIRED, true, BUS_MCEERR_AR },
		{ false, MF_ACTION_REQUIRED | MF_MUST_KILL, true, BUS_MCEERR_AR },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct task_struct *t;
		struct file *f;
		unsigned long addr, pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.memory_failure_early_kill = 1;
		t = t_process(&th, "app");
		f = file_create(th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
		ASSERT_NOT_NULL(f);
		addr = t_mmap_file(t, f, 4 * PAGE_SIZE, 0, 0);
		pfn = t_touch(t, addr, cases[i].write);
		if (cases[i].flags & MF_ACTION_REQUIRED)
			th.host->current = t;
		ASSERT_OK(memory_failure(th.host, pfn, cases[i].flags));
		th.host->current = NULL;
		if (t_signals_to(&th, t) != cases[i].signalled)
			fprintf(stderr, "# case %zu\n", i);
		EXPECT_EQ(t_signals_to(&th, t), cases[i].signalled);
		if (cases[i].signalled)
			expect_sigbus(&th, t, cases[i].code, addr, PAGE_SHIFT);
		EXPECT_EQ(mf_last_outcome(th.host).type,
			  cases[i].write ? MF_MSG_DIRTY_LRU : MF_MSG_CLEAN_LRU);
		EXPECT_EQ(pte_lookup(t->mm, addr)->kind, PTE_HWPOISON);
		EXPECT_EQ(handle_user_access(t, addr, false, NULL), ACCESS_SIGBUS);
		expect_sigbus(&th, t, BUS_MCEERR_AR, addr, PAGE_SHIFT);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/*
 * A clean page of a file with writeback is dropped, not poisoned in the page
 * tables: no signal, and the next access reads the data back from disk.
 */
TEST(clean_writeback_file_page_is_dropped_without_side_effects)
{
	struct t_host th;
	struct task_struct *t;
	struct file *f;
	unsigned long addr, pfn, pfn2;

	t_host_init(&th, NULL);
	th.host->sysctl.memory_failure_early_kill = 1;
	t = t_process(&th, "reader");
	f = file_create(th.host, FILE_REGULAR, "data", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(f);
	addr = t_mmap_file(t, f, 4 * PAGE_SIZE, 0, 0);
	pfn = t_touch(t, addr, false);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: corrupted page was clean: dropped without side effects", pfn));
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_CLEAN_LRU);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_RECOVERED);
	EXPECT_EQ(t_signals_to(&th, t), 0);
	EXPECT_TRUE(pte_lookup(t->mm, addr) == NULL);
	pfn2 = t_touch(t, addr, false);
	EXPECT_NE(pfn2, pfn);
	EXPECT_EQ(t_signals_to(&th, t), 0);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* ---- threads ------------------------------------------------------------------------ */

/*
 * find_early_kill_thread(): the first thread with PF_MCE_PROCESS|PF_MCE_EARLY,
 * or the first without PF_MCE_PROCESS when the sysctl is on.
 */
TEST(early_kill_thread_is_chosen_among_threads)
{
	/* Per thread (leader, t1, t2): -1 default, else PR_MCE_KILL_SET value. */
	static const struct { int sysctl; int policy[3]; int victim; } cases[] = {
		{ 0, { -1, -1, PR_MCE_KILL_EARLY }, 2 },
		{ 0, { -1, PR_MCE_KILL_EARLY, PR_MCE_KILL_EARLY }, 1 },
		{ 1, { -1, -1, -1 }, 0 },
		{ 1, { PR_MCE_KILL_LATE, -1, -1 }, 1 },
		{ 1, { PR_MCE_KILL_LATE, PR_MCE_KILL_LATE, PR_MCE_KILL_EARLY }, 2 },
		{ 0, { -1, -1, -1 }, -1 },
		{ 1, { PR_MCE_KILL_LATE, PR_MCE_KILL_LATE, PR_MCE_KILL_LATE }, -1 },
		{ 0, { PR_MCE_KILL_LATE, PR_MCE_KILL_DEFAULT, PR_MCE_KILL_LATE }, -1 },
		{ 1, { PR_MCE_KILL_LATE, PR_MCE_KILL_DEFAULT, PR_MCE_KILL_LATE }, 1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_host th;
		struct task_struct *tt[3];
		unsigned long addr, pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.memory_failure_early_kill = cases[i].sysctl;
		tt[0] = t_process(&th, "leader");
		tt[1] = task_create(th.host, "t1", tt[0]);
		tt[2] = task_create(th.host, "t2", tt[0]);
		ASSERT_TRUE(tt[1] && tt[2]);
		for (int k = 0; k < 3; k++)
			if (cases[i].policy[k] >= 0)
				ASSERT_OK(task_prctl_mce_kill(tt[k], PR_MCE_KILL_SET,
							      (unsigned long)cases[i].policy[k]));
		pfn = dirty_anon(&th, tt[0], &addr);
		ASSERT_OK(memory_failure(th.host, pfn, 0));
		for (int k = 0; k < 3; k++) {
			bool want = k == cases[i].victim;

			if (t_signals_to(&th, tt[k]) != want)
				fprintf(stderr, "# case %zu thread %d\n", i, k);
			EXPECT_EQ(t_signals_to(&th, tt[k]), want);
			if (want)
				expect_sigbus(&th, tt[k], BUS_MCEERR_AO, addr, PAGE_SHIFT);
		}
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* AR from a thread: that thread (current) gets it, not the group's early-kill thread. */
TEST(action_required_goes_to_the_consuming_thread)
{
	struct t_host th;
	struct task_struct *leader, *worker, *handler;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	leader = t_process(&th, "leader");
	worker = task_create(th.host, "worker", leader);
	handler = task_create(th.host, "handler", leader);
	ASSERT_TRUE(worker && handler);
	ASSERT_OK(task_prctl_mce_kill(handler, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY));
	pfn = dirty_anon(&th, leader, &addr);
	th.host->current = worker;
	ASSERT_OK(memory_failure(th.host, pfn, MF_ACTION_REQUIRED));
	th.host->current = NULL;
	expect_sigbus(&th, worker, BUS_MCEERR_AR, addr, PAGE_SHIFT);
	EXPECT_EQ(t_signals_to(&th, handler), 0);
	EXPECT_EQ(t_signals_to(&th, leader), 0);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* ---- si_addr_lsb -------------------------------------------------------------------- */

enum backing { B_ANON, B_THP, B_SHMEM, B_ANON_HUGETLB, B_HUGETLBFS_2M, B_HUGETLBFS_1G };

static const struct { const char *name; enum backing b; int lsb; unsigned long off; } lsb_cases[] = {
	{ "anon 4K", B_ANON, 12, 3 * PAGE_SIZE },
	{ "thp", B_THP, 12, 9 * PAGE_SIZE },
	{ "shmem 4K", B_SHMEM, 12, 3 * PAGE_SIZE },
	{ "anon hugetlb 2M", B_ANON_HUGETLB, 21, 77 * PAGE_SIZE },
	{ "hugetlbfs 2M", B_HUGETLBFS_2M, 21, 5 * PAGE_SIZE },
	{ "hugetlbfs 1G", B_HUGETLBFS_1G, 30, 0x12345 * PAGE_SIZE },
};

/* Map @b in @t and touch @addr + @off for writing; returns the pfn there. */
static unsigned long map_backing(struct t_host *th, struct task_struct *t, enum backing b,
				 unsigned long off, unsigned long *addrp)
{
	struct host *host = th->host;
	struct file *f = NULL;
	unsigned long addr;

	switch (b) {
	case B_ANON:
		addr = t_mmap_anon(t, 16 * PAGE_SIZE, 0);
		break;
	case B_THP:
		addr = t_mmap_anon(t, PMD_SIZE, VM_HUGEPAGE);
		break;
	case B_SHMEM:
		f = file_create(host, FILE_SHMEM, "memfd", 16 * PAGE_SIZE, NULL);
		ASSERT_NOT_NULL(f);
		addr = t_mmap_file(t, f, 16 * PAGE_SIZE, 0, 0);
		break;
	case B_ANON_HUGETLB:
		addr = t_mmap_anon(t, PMD_SIZE, VM_HUGETLB);
		break;
	case B_HUGETLBFS_2M:
		f = file_create(host, FILE_HUGETLBFS, "huge2m", PMD_SIZE, &host->hstates[0]);
		ASSERT_NOT_NULL(f);
		addr = t_mmap_file(t, f, PMD_SIZE, 0, 0);
		break;
	case B_HUGETLBFS_1G:
	default:
		f = file_create(host, FILE_HUGETLBFS, "huge1g", PUD_SIZE, &host->hstates[1]);
		ASSERT_NOT_NULL(f);
		addr = t_mmap_file(t, f, PUD_SIZE, 0, 0);
		break;
	}
	*addrp = addr;
	return t_touch(t, addr + off, true);
}

/* si_addr_lsb is the folio's shift (the huge page's for HugeTLB), at the failure and at the fault. */
TEST(si_addr_lsb_follows_mapping_size)
{
	for (size_t i = 0; i < ARRAY_SIZE(lsb_cases); i++) {
		struct t_host th;
		struct task_struct *t;
		unsigned long addr, pfn, bad;

		t_host_init(&th, NULL);
		th.host->sysctl.memory_failure_early_kill = 1;
		t = t_process(&th, "app");
		pfn = map_backing(&th, t, lsb_cases[i].b, lsb_cases[i].off, &addr);
		bad = addr + lsb_cases[i].off;
		ASSERT_OK(memory_failure(th.host, pfn, 0));
		if (!t_last_signal(&th, t) || t_last_signal(&th, t)->lsb != lsb_cases[i].lsb)
			fprintf(stderr, "# case %s\n", lsb_cases[i].name);
		expect_sigbus(&th, t, BUS_MCEERR_AO, bad, lsb_cases[i].lsb);
		EXPECT_EQ(list_last_entry(&t->pending, struct kernel_siginfo, node)->si_addr_lsb,
			  lsb_cases[i].lsb);
		/* The later fault reports the same size, at the address touched. */
		EXPECT_EQ(handle_user_access(t, bad + 8, false, NULL), ACCESS_SIGBUS);
		expect_sigbus(&th, t, BUS_MCEERR_AR, bad + 8, lsb_cases[i].lsb);
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* ---- delivery ----------------------------------------------------------------------- */

/* At return to user a SIGBUS kills the whole thread group, unless it is caught. */
TEST(signals_deliver_kills_without_a_sigbus_handler)
{
	static const bool handler[] = { false, true };

	for (size_t i = 0; i < ARRAY_SIZE(handler); i++) {
		struct t_host th;
		struct task_struct *t, *thread;
		unsigned long addr, pfn;

		t_host_init(&th, NULL);
		th.host->sysctl.memory_failure_early_kill = 1;
		t = t_process(&th, "app");
		t->sigbus_handler = handler[i];
		thread = task_create(th.host, "worker", t);
		ASSERT_TRUE(thread != NULL);
		pfn = dirty_anon(&th, t, &addr);
		ASSERT_OK(memory_failure(th.host, pfn, 0));
		ASSERT_EQ(t_signals_to(&th, t), 1);
		/* Queued, not acted on yet. */
		EXPECT_FALSE(t->exited);
		signals_deliver(th.host);
		EXPECT_EQ(t->exited, !handler[i]);
		EXPECT_EQ(thread->exited, !handler[i]);
		EXPECT_EQ(t->exit_signal, handler[i] ? 0 : SIGBUS);
		EXPECT_TRUE(list_first_entry(&t->pending, struct kernel_siginfo, node)->delivered);
		EXPECT_EQ(t_count_events(&th, TRACE_NOTE, "killed by SIGBUS"), !handler[i]);
		/* A dead process is no victim: the next failure signals nobody. */
		if (!handler[i]) {
			EXPECT_TRUE(t->mm == NULL);
			EXPECT_ERR(send_sig_mceerr(BUS_MCEERR_AO, addr, PAGE_SHIFT, t), -ESRCH);
		}
		T_VALIDATE(&th);
		t_host_free(&th);
	}
}

/* ---- kill_accessing_process() ------------------------------------------------------- */

/*
 * A second error on a page already handled (late kill: hwpoison entry in
 * place), consumed by the process: kill_accessing_process() walks its page
 * tables, finds the entry and sends AR at that address; -EHWPOISON, and the
 * counters do not move.
 */
TEST(already_poisoned_action_required_kills_accessing_process)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	t = t_process(&th, "app");
	pfn = dirty_anon(&th, t, &addr);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	ASSERT_EQ(t_signals_to(&th, t), 0);
	th.host->current = t;
	ASSERT_ERR(memory_failure(th.host, pfn, MF_ACTION_REQUIRED), -EHWPOISON);
	th.host->current = NULL;
	expect_sigbus(&th, t, BUS_MCEERR_AR, addr, PAGE_SHIFT);
	EXPECT_TRUE(list_last_entry(&t->pending, struct kernel_siginfo, node)->forced);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_ALREADY_POISONED);
	EXPECT_EQ(mf_last_outcome(th.host).result, MF_FAILED);
	EXPECT_TRUE(logged(&th, "Memory failure: %#lx: recovery action for already poisoned page: Failed", pfn));
	EXPECT_EQ(atomic_long_read(&th.host->num_poisoned_pages), 1);
	EXPECT_EQ(th.host->nodes[0].mf_stats.total, 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* The consumer does not map the page: nothing to kill, 0 (older kernels: -EFAULT). */
TEST(already_poisoned_action_required_without_mapping_returns_zero)
{
	struct t_host th;
	struct task_struct *owner, *other;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	owner = t_process(&th, "owner");
	other = t_process(&th, "other");
	(void)t_mmap_anon(other, PAGE_SIZE, 0);
	pfn = dirty_anon(&th, owner, &addr);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	th.host->current = other;
	ASSERT_OK(memory_failure(th.host, pfn, MF_ACTION_REQUIRED));
	th.host->current = NULL;
	EXPECT_EQ(t_signals_to(&th, other), 0);
	EXPECT_EQ(t_signals_to(&th, owner), 0);
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_ALREADY_POISONED);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/* Already poisoned, AR in a kworker (no mm): -EFAULT. Without AR: -EHWPOISON. */
TEST(already_poisoned_return_values_without_current)
{
	struct t_host th;

	t_host_init(&th, NULL);
	ASSERT_OK(memory_failure(th.host, 0x20000, 0));
	EXPECT_ERR(memory_failure(th.host, 0x20000, 0), -EHWPOISON);
	EXPECT_ERR(memory_failure(th.host, 0x20000, MF_ACTION_REQUIRED), -EFAULT);
	EXPECT_EQ(t_count_events(&th, TRACE_LOG, "already poisoned page: Failed"), 2);
	EXPECT_EQ(atomic_long_read(&th.host->num_poisoned_pages), 1);
	T_VALIDATE(&th);
	t_host_free(&th);
}

/*
 * HugeTLB and THP entries: the hugetlb walk reports the huge page's shift
 * from a hwpoison PMD; a present THP PMD reports PAGE_SHIFT.
 */
TEST(kill_accessing_process_reports_entry_size)
{
	struct t_host th;
	struct task_struct *t;
	unsigned long addr, pfn;

	/* hugetlbfs: the entry is a hwpoison PMD after the first failure. */
	t_host_init(&th, NULL);
	t = t_process(&th, "huge");
	pfn = map_backing(&th, t, B_HUGETLBFS_2M, 5 * PAGE_SIZE, &addr);
	ASSERT_OK(memory_failure(th.host, pfn, 0));
	th.host->current = t;
	ASSERT_ERR(memory_failure(th.host, pfn, MF_ACTION_REQUIRED), -EHWPOISON);
	th.host->current = NULL;
	EXPECT_EQ(mf_last_outcome(th.host).type, MF_MSG_ALREADY_POISONED);
	expect_sigbus(&th, t, BUS_MCEERR_AR, addr + 5 * PAGE_SIZE, PMD_SHIFT);
	T_VALIDATE(&th);
	t_host_free(&th);
}

TEST(kill_accessing_process_on_unsplit_thp_reports_page_shift)
{
	struct t_host th;
	struct task_struct *t;
	struct folio *pinned;
	unsigned long addr, pfn;

	t_host_init(&th, NULL);
	t = t_process(&th, "thp");
	addr = t_mmap_anon(t, PMD_SIZE, VM_HUGEPAGE);
	pfn = t_touch(t, addr, true) + 7;
	ASSERT_OK(pin_user_page(t, addr, &pinned));
	/* The split fails (pinned): the THP stays mapped by its PMD. */
	ASSERT_ERR(memory_failure(th.host, pfn, 0), -EHWPOISON);
	ASSERT_EQ(mf_last_outcome(th.host).type, MF_MSG_UNSPLIT_THP);
	ASSERT_EQ(pte_lookup(t->mm, addr)->shift, PMD_SHIFT);
	th.host->current = t;
	ASSERT_ERR(memory_failure(th.host, pfn, MF_ACTION_REQUIRED), -EHWPOISON);
	th.host->current = NULL;
	expect_sigbus(&th, t, BUS_MCEERR_AR, addr + 7 * PAGE_SIZE, PAGE_SHIFT);
	unpin_user_page(pinned);
	T_VALIDATE(&th);
	t_host_free(&th);
}

static const struct t_case cases[] = {
	T(early_kill_policy_sysctl_by_prctl),
	T(late_kill_process_gets_ar_on_next_access),
	T(prctl_mce_kill_set_get_and_einval),
	T(prctl_policy_is_inherited_by_new_threads),
	T(action_required_goes_to_current_others_get_ao_if_early),
	T(page_mapped_by_two_processes_both_early),
	T(early_kill_file_vma_covering_page_is_enough),
	T(clean_page_kills_nobody_unless_dirty_or_must_kill),
	T(clean_writeback_file_page_is_dropped_without_side_effects),
	T(early_kill_thread_is_chosen_among_threads),
	T(action_required_goes_to_the_consuming_thread),
	T(si_addr_lsb_follows_mapping_size),
	T(signals_deliver_kills_without_a_sigbus_handler),
	T(already_poisoned_action_required_kills_accessing_process),
	T(already_poisoned_action_required_without_mapping_returns_zero),
	T(already_poisoned_return_values_without_current),
	T(kill_accessing_process_reports_entry_size),
	T(kill_accessing_process_on_unsplit_thp_reports_page_shift),
};

T_MAIN("mm/test_kill", cases)
