// SPDX-License-Identifier: MIT
/*
 * Allocation failure at every allocation point of an operation, SQLite
 * style: for n = 1, 2, 3... make the n-th allocation from the start of the
 * operation fail (once, then from there on), run it on a fresh host, check
 * the outcome is one the kernel could produce, validate the host and check
 * that tearing it down frees everything. Stop at the first n the operation
 * completes without reaching.
 */
#include <stdio.h>
#include <string.h>

#include "tests/harness/t_model.h"

struct op_ctx {
	struct t_host th;
	struct task_struct *task, *other;
	struct file *file;
	unsigned long addr, addr2, pfn;
	unsigned long nr_tasks, nr_files;
	long result;			/* the operation's return value */
};

struct op {
	const char *name;
	void (*setup)(struct op_ctx *c);
	long (*run)(struct op_ctx *c);
	/* Check the state the operation left; @failed: allocations failed. */
	void (*check)(struct op_ctx *c, unsigned long failed);
};

static unsigned long nr_files(struct host *host)
{
	return list_count(&host->files);
}

/*
 * Run @op with the n-th allocation failing for n = 1, 2, ... until it
 * completes without a failure. Returns the number of allocation points met.
 */
static unsigned long for_each_failure_point(const struct op *op, bool persist)
{
	unsigned long n;

	for (n = 1; n < 64; n++) {
		struct op_ctx c;
		unsigned long failed;
		long live = kmalloc_live();

		memset(&c, 0, sizeof(c));
		t_host_init(&c.th, NULL);
		if (op->setup)
			op->setup(&c);
		c.nr_tasks = list_count(&c.th.host->tasks);
		c.nr_files = nr_files(c.th.host);
		failed = kmalloc_failed();
		kmalloc_fault_set(n, persist);
		c.result = op->run(&c);
		kmalloc_fault_set(0, false);
		failed = kmalloc_failed() - failed;
		if (failed && !persist && failed != 1)
			fprintf(stderr, "# %s n=%lu: %lu failures\n", op->name, n, failed);
		op->check(&c, failed);
		T_VALIDATE(&c.th);
		t_host_free(&c.th);
		if (kmalloc_live() != live)
			fprintf(stderr, "# %s n=%lu persist=%d\n", op->name, n, persist);
		ASSERT_EQ(kmalloc_live(), live);
		if (!failed)
			return n - 1;
	}
	t_fail(__FILE__, __LINE__, __func__, true, "%s: still failing at n=%lu", op->name, n);
	return 0;
}

static void run_both(const struct op *op, unsigned long points)
{
	EXPECT_EQ(for_each_failure_point(op, false), points);
	EXPECT_EQ(for_each_failure_point(op, true), points);
}

/* ---- memory_failure() with early kill: one to_kill per process ---------------------------- */

static void setup_shared_dirty(struct op_ctx *c)
{
	struct host *host = c->th.host;

	host->sysctl.memory_failure_early_kill = 1;
	c->file = file_create(host, FILE_SHMEM, "shared", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(c->file);
	c->task = t_process(&c->th, "a");
	c->other = t_process(&c->th, "b");
	c->addr = t_mmap_file(c->task, c->file, 4 * PAGE_SIZE, 0, 0);
	c->addr2 = t_mmap_file(c->other, c->file, 4 * PAGE_SIZE, 0, 0);
	c->pfn = t_touch(c->task, c->addr, true);
	ASSERT_EQ(t_touch(c->other, c->addr2, true), c->pfn);
}

static long run_memory_failure(struct op_ctx *c)
{
	return memory_failure(c->th.host, c->pfn, 0);
}

/*
 * A failed to_kill allocation costs that process its early signal (the
 * kernel logs it and goes on); the containment itself never fails.
 */
static void check_shared_dirty(struct op_ctx *c, unsigned long failed)
{
	struct t_host *th = &c->th;
	unsigned long sigs = t_signals_to(th, c->task) + t_signals_to(th, c->other);

	EXPECT_OK(c->result);
	EXPECT_EQ(mf_last_outcome(th->host).type, MF_MSG_DIRTY_LRU);
	EXPECT_EQ(mf_last_outcome(th->host).result, MF_RECOVERED);
	EXPECT_EQ(t_count_events(th, TRACE_LOG, "Memory failure: Out of memory while machine check handling"),
		  failed);
	EXPECT_EQ(sigs, 2 - failed);
	EXPECT_EQ(pte_lookup(c->task->mm, c->addr)->kind, PTE_HWPOISON);
	EXPECT_EQ(pte_lookup(c->other->mm, c->addr2)->kind, PTE_HWPOISON);
	EXPECT_EQ(atomic_long_read(&th->host->num_poisoned_pages), 1);
}

TEST(memory_failure_early_kill_every_to_kill_allocation)
{
	static const struct op op = { "memory_failure", setup_shared_dirty, run_memory_failure,
				      check_shared_dirty };

	run_both(&op, 2);
}

/* The AR consumer loses its SIGBUS too when its to_kill cannot be allocated. */
static void setup_madvise(struct op_ctx *c)
{
	c->task = t_process(&c->th, "app");
	c->task->sigbus_handler = true;
	c->addr = t_mmap_anon(c->task, 2 * PAGE_SIZE, 0);
	c->pfn = t_touch(c->task, c->addr, true);
}

static long run_madvise(struct op_ctx *c)
{
	return madvise_hwpoison(c->task, c->addr, PAGE_SIZE);
}

static void check_madvise(struct op_ctx *c, unsigned long failed)
{
	struct folio *f = pfn_folio_lookup(c->th.host, c->pfn);

	EXPECT_OK(c->result);
	EXPECT_EQ(t_signals_to(&c->th, c->task), !failed);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(c->th.host, c->pfn)));
	ASSERT_TRUE(f != NULL);
	EXPECT_EQ(folio_ref_count(f), 1);
	EXPECT_EQ(f->mf_pins, 1);
}

TEST(madvise_hwpoison_every_allocation)
{
	static const struct op op = { "madvise_hwpoison", setup_madvise, run_madvise, check_madvise };

	run_both(&op, 1);
}

/* ---- HugeTLB: the raw_hwp_page, then the to_kill ------------------------------------ */

static void setup_anon_hugetlb(struct op_ctx *c)
{
	c->th.host->sysctl.memory_failure_early_kill = 1;
	c->task = t_process(&c->th, "hugeapp");
	c->addr = t_mmap_anon(c->task, PMD_SIZE, VM_HUGETLB);
	c->pfn = t_touch(c->task, c->addr + 5 * PAGE_SIZE, true);
}

/*
 * n=1: no raw_hwp_page: the list is unreliable, the freed folio is leaked
 * whole and the raw page cannot be taken off buddy (MF_FAILED).
 * n=2: no to_kill: dissolved normally, but the process gets no AO.
 */
static void check_anon_hugetlb(struct op_ctx *c, unsigned long failed)
{
	struct host *host = c->th.host;
	struct hstate *h = &host->hstates[0];
	unsigned long no_to_kill = t_count_events(&c->th, TRACE_LOG, "Out of memory");
	bool no_raw = failed > no_to_kill;

	EXPECT_EQ(mf_last_outcome(host).type, MF_MSG_HUGE);
	EXPECT_EQ(h->nr_huge_pages, 7);
	EXPECT_EQ(pte_lookup(c->task->mm, c->addr)->kind, PTE_HWPOISON);
	EXPECT_EQ(atomic_long_read(&host->num_poisoned_pages), 1);
	if (no_raw) {
		EXPECT_ERR(c->result, -EBUSY);
		EXPECT_EQ(mf_last_outcome(host).result, MF_FAILED);
		EXPECT_EQ(host->nr_leaked_pages, HPAGE_PMD_NR);
	} else {
		EXPECT_OK(c->result);
		EXPECT_EQ(mf_last_outcome(host).result, MF_RECOVERED);
		EXPECT_EQ(host->nr_leaked_pages, 0);
		EXPECT_TRUE(is_free_buddy_page(pfn_to_page(host, c->pfn + 1)));
	}
	EXPECT_EQ(t_signals_to(&c->th, c->task), !no_to_kill);
}

TEST(anon_hugetlb_every_raw_list_and_to_kill_allocation)
{
	static const struct op op = { "anon hugetlb", setup_anon_hugetlb, run_memory_failure,
				      check_anon_hugetlb };

	run_both(&op, 2);
}

static void setup_hugetlbfs(struct op_ctx *c)
{
	struct host *host = c->th.host;

	c->file = file_create(host, FILE_HUGETLBFS, "huge", PMD_SIZE, &host->hstates[0]);
	ASSERT_NOT_NULL(c->file);
	c->task = t_process(&c->th, "app");
	c->addr = t_mmap_file(c->task, c->file, PMD_SIZE, 0, 0);
	c->pfn = t_touch(c->task, c->addr, true) + 5;
}

/* A file folio stays cached either way; without a raw list every read fails. */
static void check_hugetlbfs(struct op_ctx *c, unsigned long failed)
{
	struct folio *f = filemap_get_folio(&c->file->f_mapping, 0);

	EXPECT_OK(c->result);
	ASSERT_TRUE(f != NULL);
	EXPECT_EQ(folio_test_hugetlb_raw_hwp_unreliable(f), failed > 0);
	EXPECT_EQ(list_count(&f->raw_hwp_list), failed ? 0 : 1);
	EXPECT_EQ(file_read(c->file, 0, PMD_SIZE), failed ? -EIO : (long)(5 * PAGE_SIZE));
	EXPECT_EQ(file_read(c->file, 6 * PAGE_SIZE, PAGE_SIZE), failed ? -EIO : (long)PAGE_SIZE);
}

TEST(hugetlbfs_every_raw_list_allocation)
{
	static const struct op op = { "hugetlbfs", setup_hugetlbfs, run_memory_failure,
				      check_hugetlbfs };

	run_both(&op, 1);
}

/* ---- do_mmap(): the VMA, then the anon_vma -------------------------------------------- */

static void setup_task(struct op_ctx *c)
{
	c->task = t_process(&c->th, "app");
}

static long run_mmap_anon(struct op_ctx *c)
{
	int err;

	c->addr = do_mmap(c->task, NULL, 0, 4 * PAGE_SIZE, VM_READ | VM_WRITE, 0, &err);
	return err;
}

static void check_mmap_anon(struct op_ctx *c, unsigned long failed)
{
	if (failed) {
		EXPECT_ERR(c->result, -ENOMEM);
		EXPECT_EQ(c->addr, 0);
		EXPECT_EQ(c->task->mm->mm_mt.nr, 0);
		return;
	}
	EXPECT_OK(c->result);
	ASSERT_TRUE(find_vma(c->task->mm, c->addr) != NULL);
	EXPECT_TRUE(find_vma(c->task->mm, c->addr)->anon_vma != NULL);
	EXPECT_EQ(t_touch(c->task, c->addr, true) != 0, true);
}

TEST(do_mmap_anon_every_allocation)
{
	static const struct op op = { "do_mmap anon", setup_task, run_mmap_anon, check_mmap_anon };

	run_both(&op, 2);
}

static void setup_task_and_file(struct op_ctx *c)
{
	c->task = t_process(&c->th, "app");
	c->file = file_create(c->th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	ASSERT_NOT_NULL(c->file);
}

static long run_mmap_shared(struct op_ctx *c)
{
	int err;

	c->addr = do_mmap(c->task, c->file, 0, 4 * PAGE_SIZE, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	return err;
}

/* A failed shared mapping takes no reference on the file and is not in i_mmap. */
static void check_mmap_shared(struct op_ctx *c, unsigned long failed)
{
	if (failed) {
		EXPECT_ERR(c->result, -ENOMEM);
		EXPECT_EQ(c->file->refs, 1);
		EXPECT_TRUE(list_empty(&c->file->f_mapping.i_mmap));
		return;
	}
	EXPECT_OK(c->result);
	EXPECT_EQ(c->file->refs, 2);
	EXPECT_EQ(list_count(&c->file->f_mapping.i_mmap), 1);
}

TEST(do_mmap_shared_file_every_allocation)
{
	static const struct op op = { "do_mmap shared", setup_task_and_file, run_mmap_shared,
				      check_mmap_shared };

	run_both(&op, 1);
}

/* ---- file_create(): the file, then (hugetlbfs) its subpool ------------------------------- */

static long run_file_create_shmem(struct op_ctx *c)
{
	c->file = file_create(c->th.host, FILE_SHMEM, "memfd", 4 * PAGE_SIZE, NULL);
	return IS_ERR(c->file) ? PTR_ERR(c->file) : 0;
}

static long run_file_create_hugetlbfs(struct op_ctx *c)
{
	c->file = file_create(c->th.host, FILE_HUGETLBFS, "huge", PMD_SIZE, &c->th.host->hstates[0]);
	return IS_ERR(c->file) ? PTR_ERR(c->file) : 0;
}

static void check_file_create(struct op_ctx *c, unsigned long failed)
{
	if (failed) {
		EXPECT_ERR(c->result, -ENOMEM);
		EXPECT_EQ(nr_files(c->th.host), c->nr_files);
		return;
	}
	EXPECT_OK(c->result);
	EXPECT_EQ(nr_files(c->th.host), c->nr_files + 1);
	EXPECT_EQ(c->file->refs, 1);
}

TEST(file_create_every_allocation)
{
	static const struct op shmem = { "file_create shmem", NULL, run_file_create_shmem,
					 check_file_create };
	static const struct op huge = { "file_create hugetlbfs", NULL, run_file_create_hugetlbfs,
					check_file_create };

	run_both(&shmem, 1);
	run_both(&huge, 2);
}

/* ---- task_create(): the task, then (a new process) its mm -------------------------------- */

static long run_task_create(struct op_ctx *c)
{
	c->task = task_create(c->th.host, "new", NULL);
	return c->task ? 0 : -ENOMEM;
}

static long run_thread_create(struct op_ctx *c)
{
	c->other = task_create(c->th.host, "thread", c->task);
	return c->other ? 0 : -ENOMEM;
}

static void check_task_create(struct op_ctx *c, unsigned long failed)
{
	if (failed) {
		EXPECT_ERR(c->result, -ENOMEM);
		EXPECT_EQ(list_count(&c->th.host->tasks), c->nr_tasks);
		return;
	}
	EXPECT_OK(c->result);
	EXPECT_EQ(list_count(&c->th.host->tasks), c->nr_tasks + 1);
}

static void check_thread_create(struct op_ctx *c, unsigned long failed)
{
	check_task_create(c, failed);
	EXPECT_EQ(list_count(&c->task->thread_list), failed ? 1 : 2);
	EXPECT_EQ(c->task->mm->mm_users, failed ? 1 : 2);
}

TEST(task_create_every_allocation)
{
	static const struct op proc = { "task_create", NULL, run_task_create, check_task_create };
	static const struct op thread = { "task_create thread", setup_task, run_thread_create,
					  check_thread_create };

	run_both(&proc, 2);
	run_both(&thread, 1);
}

/* ---- the page fault: the page-table entry ------------------------------------------------- */

static void setup_anon_region(struct op_ctx *c)
{
	c->task = t_process(&c->th, "app");
	c->addr = t_mmap_anon(c->task, PMD_SIZE, VM_HUGETLB);
	c->addr2 = t_mmap_anon(c->task, PAGE_SIZE, 0);
}

static long run_faults(struct op_ctx *c)
{
	enum access_result a = handle_user_access(c->task, c->addr, true, NULL);
	enum access_result b = handle_user_access(c->task, c->addr2, true, NULL);

	return (a == ACCESS_OK ? 0 : 1) | (b == ACCESS_OK ? 0 : 2);
}

/* A fault that cannot install its entry gives the page back (VM_FAULT_OOM). */
static void check_faults(struct op_ctx *c, unsigned long failed)
{
	struct hstate *h = &c->th.host->hstates[0];
	bool huge_ok = !(c->result & 1);

	EXPECT_EQ(pte_lookup(c->task->mm, c->addr) != NULL, huge_ok);
	EXPECT_EQ(pte_lookup(c->task->mm, c->addr2) != NULL, !(c->result & 2));
	EXPECT_EQ(h->free_huge_pages, huge_ok ? 7 : 8);
	if (!failed)
		EXPECT_EQ(c->result, 0);
}

TEST(user_fault_every_allocation)
{
	static const struct op op = { "fault", setup_anon_region, run_faults, check_faults };

	run_both(&op, 2);
}

/* ---- operations without an allocation point ------------------------------------------------ */

static long run_soft_offline(struct op_ctx *c)
{
	return soft_offline_page(c->th.host, c->pfn, 0);
}

static void check_soft_offline(struct op_ctx *c, unsigned long failed)
{
	EXPECT_OK(c->result);
	EXPECT_EQ(failed, 0);
	EXPECT_TRUE(PageHWPoison(pfn_to_page(c->th.host, c->pfn)));
}

/* Migration targets come from the buddy allocator, not from kmalloc. */
TEST(soft_offline_has_no_allocation_point)
{
	static const struct op op = { "soft_offline", setup_madvise, run_soft_offline,
				      check_soft_offline };

	run_both(&op, 0);
}

static const struct t_case cases[] = {
	T(memory_failure_early_kill_every_to_kill_allocation),
	T(madvise_hwpoison_every_allocation),
	T(anon_hugetlb_every_raw_list_and_to_kill_allocation),
	T(hugetlbfs_every_raw_list_allocation),
	T(do_mmap_anon_every_allocation),
	T(do_mmap_shared_file_every_allocation),
	T(file_create_every_allocation),
	T(task_create_every_allocation),
	T(user_fault_every_allocation),
	T(soft_offline_has_no_allocation_point),
};

T_MAIN("mm/test_alloc_fail", cases)
