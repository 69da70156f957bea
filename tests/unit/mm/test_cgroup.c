// SPDX-License-Identifier: MIT
/*
 * cgroups and HugeTLB: the memcg (memory.current, memory.max) and hugetlb
 * cgroup (hugetlb.<size>.current, .max) charges alloc_hugetlb_folio()
 * takes for current's group, the errors when a limit is hit, the uncharge
 * in free_huge_folio(), and the charge of a guest_memfd-style split page,
 * which moves into the split's metadata and back without changing:
 *
 *   alloc            split              merge            free
 *   folio: h_cg ---> gs->h_cg --------> folio: h_cg ---> uncharged
 *                    pieces: none
 *
 * host_validate() checks at every step that each group's counters equal
 * the pages of the folios and split pages that hold its charge.
 */
#include "tests/harness/t_model.h"

#define HNR	512UL		/* 4K pages in a 2M page */

struct t_cg {
	struct t_host th;
	struct host *host;
	struct hstate *h;		/* 2M */
	struct cgroup *cg;
	struct task_struct *t;		/* a process in cg */
};

static void t_cg_init(struct t_cg *v)
{
	t_host_init(&v->th, NULL);
	v->host = v->th.host;
	v->h = &v->host->hstates[0];
	v->cg = cgroup_create(v->host, "vmm");
	ASSERT_FALSE(IS_ERR(v->cg));
	v->t = t_process(&v->th, "vmm");
	cgroup_attach_task(v->cg, v->t);
	v->host->current = v->t;
}

static void t_cg_free(struct t_cg *v)
{
	v->host->current = NULL;
	t_host_free(&v->th);
}

/*
 * A HugeTLB allocation for current, held as a kernel user's reference
 * (extra_refs), so that the host's invariants know who holds it.
 */
static struct folio *huge_get(struct t_cg *v)
{
	struct folio *f = alloc_hugetlb_folio(v->host, v->h, 0, NULL, NULL);

	if (!IS_ERR(f))
		f->extra_refs++;
	return f;
}

static void huge_put(struct folio *f)
{
	f->extra_refs--;
	folio_put(f);
}

static unsigned long hugetlb_usage(const struct cgroup *cg)
{
	return cg->h_cg.hugepage[0].usage;
}

/*
 * A fault-time allocation charges both counters of current's group and the
 * folio records them; the last reference uncharges both. A kworker's
 * allocation (no current) is charged to the root, whose memory counter
 * try_charge() leaves alone.
 */
TEST(charge_and_uncharge)
{
	struct t_cg v;
	struct folio *f;

	t_cg_init(&v);
	EXPECT_OK(cgroup_validate(v.host));
	f = huge_get(&v);
	ASSERT_FALSE(IS_ERR(f));
	EXPECT_TRUE(f->h_cg == &v.cg->h_cg);
	EXPECT_TRUE(f->memcg == &v.cg->memcg);
	EXPECT_EQ(hugetlb_usage(v.cg), HNR);
	EXPECT_EQ(v.cg->memcg.memory.usage, HNR);
	EXPECT_EQ(hugetlb_usage(&v.host->root_cgroup), 0);
	EXPECT_EQ(v.cg->h_cg.hugepage[1].usage, 0);
	T_VALIDATE(&v.th);
	huge_put(f);
	EXPECT_EQ(hugetlb_usage(v.cg), 0);
	EXPECT_EQ(v.cg->memcg.memory.usage, 0);
	EXPECT_EQ(v.h->free_huge_pages, 8);
	T_VALIDATE(&v.th);

	v.host->current = NULL;
	f = huge_get(&v);
	ASSERT_FALSE(IS_ERR(f));
	EXPECT_TRUE(f->h_cg == &v.host->root_cgroup.h_cg);
	EXPECT_TRUE(f->memcg == NULL);
	EXPECT_EQ(hugetlb_usage(&v.host->root_cgroup), HNR);
	EXPECT_EQ(v.host->root_cgroup.memcg.memory.usage, 0);
	EXPECT_EQ(hugetlb_usage(v.cg), 0);
	T_VALIDATE(&v.th);
	huge_put(f);
	EXPECT_EQ(hugetlb_usage(&v.host->root_cgroup), 0);
	t_cg_free(&v);
}

/*
 * One page fits under each limit, the second does not: over
 * hugetlb.2MB.max alloc_hugetlb_folio() fails with -ENOSPC, over
 * memory.max with -ENOMEM (with memory_hugetlb_accounting; without it the
 * memcg is not charged and never refuses). A refused allocation leaves
 * no charge behind and takes no page from the pool.
 */
TEST(limit_failure)
{
	static const struct {
		unsigned long hugetlb_max, memory_max;
		bool accounting;
		int err;
		unsigned long failcnt_h, failcnt_m;
	} cases[] = {
		{ HNR, PAGE_COUNTER_MAX, true, -ENOSPC, 1, 0 },
		{ PAGE_COUNTER_MAX, HNR, true, -ENOMEM, 0, 1 },
		{ HNR, HNR, true, -ENOSPC, 1, 0 },
		{ PAGE_COUNTER_MAX, HNR, false, 0, 0, 0 },
		{ HNR + HNR / 2, PAGE_COUNTER_MAX, true, -ENOSPC, 1, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct t_cg v;
		struct folio *a, *b;
		unsigned long memory_after = cases[i].accounting ? HNR : 0;

		t_cg_init(&v);
		v.host->memory_hugetlb_accounting = cases[i].accounting;
		v.cg->h_cg.hugepage[0].max = cases[i].hugetlb_max;
		v.cg->memcg.memory.max = cases[i].memory_max;
		a = huge_get(&v);
		ASSERT_FALSE(IS_ERR(a));
		b = huge_get(&v);
		EXPECT_EQ(IS_ERR(b) ? PTR_ERR(b) : 0, cases[i].err);
		EXPECT_EQ(v.cg->h_cg.hugepage[0].failcnt, cases[i].failcnt_h);
		EXPECT_EQ(v.cg->memcg.memory.failcnt, cases[i].failcnt_m);
		if (cases[i].err) {
			EXPECT_EQ(hugetlb_usage(v.cg), HNR);
			EXPECT_EQ(v.cg->memcg.memory.usage, memory_after);
			EXPECT_EQ(v.h->free_huge_pages, 7);
		} else {
			EXPECT_EQ(hugetlb_usage(v.cg), 2 * HNR);
			EXPECT_EQ(v.cg->memcg.memory.usage, 0);
			huge_put(b);
		}
		T_VALIDATE(&v.th);
		huge_put(a);
		EXPECT_EQ(hugetlb_usage(v.cg), 0);
		EXPECT_EQ(v.cg->memcg.memory.usage, 0);
		/* Uncharged, the same allocation fits again. */
		a = huge_get(&v);
		ASSERT_FALSE(IS_ERR(a));
		huge_put(a);
		t_cg_free(&v);
	}
}

/* A hugetlbfs file with one 2M page cached at index 0, faulted by @v->t. */
static struct folio *cached_huge(struct t_cg *v, struct file **filep)
{
	struct folio *f;
	int err;

	*filep = file_create(v->host, FILE_HUGETLBFS, "f", 2ULL << 20, v->h);
	ASSERT_FALSE(IS_ERR(*filep));
	f = filemap_grab_folio(*filep, 0, &err);
	ASSERT_OK(err);
	ASSERT_NOT_NULL(f);
	return f;
}

/*
 * Split and merge move the charge, never change it: the split's metadata
 * holds it and no piece carries one; the rebuilt folio holds it again.
 * Splitting twice and freeing the split page piece by piece uncharges
 * exactly once, when the last piece goes.
 */
TEST(split_merge_conserve_charge)
{
	struct t_cg v;
	struct guestmem_split *gs;
	struct file *file;
	struct folio *f;
	unsigned long head;

	t_cg_init(&v);
	f = cached_huge(&v, &file);
	head = folio_pfn(f);
	EXPECT_EQ(hugetlb_usage(v.cg), HNR);

	for (int round = 0; round < 2; round++) {
		ASSERT_OK(guestmem_hugetlb_split(filemap_get_folio(&file->f_mapping, 0)));
		gs = guestmem_split_lookup(v.host, head);
		ASSERT_NOT_NULL(gs);
		EXPECT_TRUE(gs->h_cg == &v.cg->h_cg);
		EXPECT_TRUE(gs->memcg == &v.cg->memcg);
		for (unsigned long i = 0; i < HNR; i += 73) {
			EXPECT_TRUE(pfn_folio_lookup(v.host, head + i)->h_cg == NULL);
			EXPECT_TRUE(pfn_folio_lookup(v.host, head + i)->memcg == NULL);
		}
		EXPECT_EQ(hugetlb_usage(v.cg), HNR);
		EXPECT_EQ(v.cg->memcg.memory.usage, HNR);
		T_VALIDATE(&v.th);
		if (round)
			break;
		ASSERT_OK(guestmem_hugetlb_merge(&file->f_mapping, 0));
		f = filemap_get_folio(&file->f_mapping, 0);
		EXPECT_TRUE(folio_test_hugetlb(f));
		EXPECT_TRUE(f->h_cg == &v.cg->h_cg);
		EXPECT_TRUE(f->memcg == &v.cg->memcg);
		EXPECT_EQ(hugetlb_usage(v.cg), HNR);
		T_VALIDATE(&v.th);
	}
	/* All but the last piece go: still charged, held by the metadata. */
	truncate_inode_pages_range(&file->f_mapping, 0, ((HNR - 1) << PAGE_SHIFT) - 1);
	EXPECT_EQ(hugetlb_usage(v.cg), HNR);
	EXPECT_EQ(v.cg->memcg.memory.usage, HNR);
	T_VALIDATE(&v.th);
	truncate_inode_pages_range(&file->f_mapping, 0, U64_MAX);
	EXPECT_TRUE(guestmem_split_lookup(v.host, head) == NULL);
	EXPECT_EQ(hugetlb_usage(v.cg), 0);
	EXPECT_EQ(v.cg->memcg.memory.usage, 0);
	fput(file);
	t_cg_free(&v);
}

/*
 * The invariant sees a charge that went missing or was doubled: a split
 * page whose metadata lost its charge, and a piece that carries one.
 */
TEST(validate_catches_lost_and_doubled_charges)
{
	struct t_cg v;
	struct guestmem_split *gs;
	struct file *file;
	struct folio *f, *piece;
	unsigned long head;

	t_cg_init(&v);
	f = cached_huge(&v, &file);
	head = folio_pfn(f);
	ASSERT_OK(guestmem_hugetlb_split(f));
	gs = guestmem_split_lookup(v.host, head);
	ASSERT_NOT_NULL(gs);

	gs->h_cg = NULL;
	EXPECT_ERR(host_validate(v.host), -EUCLEAN);
	EXPECT_TRUE(t_count_events(&v.th, TRACE_NOTE, "invariant broken: cgroup vmm") > 0);
	gs->h_cg = &v.cg->h_cg;
	T_VALIDATE(&v.th);

	piece = pfn_folio_lookup(v.host, head + 3);
	piece->memcg = &v.cg->memcg;
	EXPECT_ERR(host_validate(v.host), -EUCLEAN);
	piece->memcg = NULL;
	T_VALIDATE(&v.th);
	truncate_inode_pages_range(&file->f_mapping, 0, U64_MAX);
	fput(file);
	t_cg_free(&v);
}

/* Moving a process moves its later charges only; the earlier stay put (cgroup v2). */
TEST(attach_moves_later_charges_only)
{
	struct t_cg v;
	struct cgroup *other;
	struct folio *a, *b;

	t_cg_init(&v);
	other = cgroup_create(v.host, "other");
	ASSERT_FALSE(IS_ERR(other));
	EXPECT_TRUE(cgroup_create(v.host, "other") == ERR_PTR(-EEXIST));
	EXPECT_TRUE(cgroup_create(v.host, "") == ERR_PTR(-EINVAL));
	a = huge_get(&v);
	ASSERT_FALSE(IS_ERR(a));
	cgroup_attach_task(other, v.t);
	b = huge_get(&v);
	ASSERT_FALSE(IS_ERR(b));
	EXPECT_EQ(hugetlb_usage(v.cg), HNR);
	EXPECT_EQ(hugetlb_usage(other), HNR);
	T_VALIDATE(&v.th);
	huge_put(a);
	huge_put(b);
	EXPECT_EQ(hugetlb_usage(v.cg), 0);
	EXPECT_EQ(hugetlb_usage(other), 0);
	t_cg_free(&v);
}

static const struct t_case cases[] = {
	T(charge_and_uncharge),
	T(limit_failure),
	T(split_merge_conserve_charge),
	T(validate_catches_lost_and_doubled_charges),
	T(attach_moves_later_charges_only),
};

T_MAIN("mm/test_cgroup", cases)
