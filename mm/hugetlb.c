// SPDX-License-Identifier: MIT
/*
 * HugeTLB: hstates (2M and 1G), per-node pools, subpools, allocation,
 * freeing and dissolving, with the hwpoison rules of the free path.
 *
 * Models: mm/hugetlb.c (mm-new, 2026): set_max_huge_pages(),
 * alloc_hugetlb_folio(), alloc_hugetlb_folio_nodemask(), free_huge_folio(),
 * dissolve_free_hugetlb_folio(),
 * dequeue_hugetlb_folio_node_exact(), hugepage_new_subpool();
 * mm/memory-failure.c: folio_clear_hugetlb_hwpoison().
 *
 * MODEL: no reservation maps: a shared mapping reserves the pages of its
 * range not yet in the page cache, counted per file rather than per range,
 * and the reservation goes with the file. Surplus pages come only from
 * overcommit at allocation (gather_surplus_pages() is not modelled).
 * No vmemmap optimization (HVO): every folio can be dissolved.
 * A poisoned folio that is freed is dissolved at once (the kernel enqueues
 * it, its dequeue skips it, and it is dissolved later); the pool counts are
 * the same once it is gone.
 */
#include "mm/mm.h"

struct hstate *hstate_of_order(struct host *host, unsigned int order)
{
	for (int i = 0; i < HUGE_MAX_HSTATE; i++)
		if (host->hstates[i].order == order)
			return &host->hstates[i];
	return NULL;
}

struct hstate *size_to_hstate(struct host *host, unsigned long size)
{
	for (int i = 0; i < HUGE_MAX_HSTATE; i++)
		if ((PAGE_SIZE << host->hstates[i].order) == size)
			return &host->hstates[i];
	return NULL;
}

static void enqueue_hugetlb_folio(struct hstate *h, struct folio *folio)
{
	list_move_tail(&folio->lru, &h->hugepage_freelists[folio->nid]);
	h->free_huge_pages++;
	h->free_huge_pages_node[folio->nid]++;
	folio_set_hugetlb_freed(folio);
}

/* Models dequeue_hugetlb_folio_node_exact(): poisoned folios are skipped. */
static struct folio *dequeue_hugetlb_folio_node_exact(struct hstate *h, int nid)
{
	struct folio *folio;

	list_for_each_entry(folio, &h->hugepage_freelists[nid], lru) {
		if (folio_test_hwpoison(folio))
			continue;
		list_move_tail(&folio->lru, &h->hugepage_activelist);
		folio_clear_hugetlb_freed(folio);
		h->free_huge_pages--;
		h->free_huge_pages_node[nid]--;
		return folio;
	}
	return NULL;
}

static struct folio *alloc_fresh_hugetlb_folio(struct host *host, struct hstate *h, int nid)
{
	struct folio *folio;
	long pfn;

	pfn = find_free_contig_range(host, nid, h->order);
	if (pfn < 0 || alloc_contig_pfn_range(host, (unsigned long)pfn, pages_per_huge_page(h)))
		return NULL;
	folio = folio_new(host, (unsigned long)pfn, h->order, FOLIO_OWNER_HUGETLB, __GFP_NOFAIL);
	folio->page_type = PGTY_hugetlb;
	folio->hstate = h;
	h->nr_huge_pages++;
	h->nr_huge_pages_node[nid]++;
	enqueue_hugetlb_folio(h, folio);
	return folio;
}

/*
 * Return a free (refcount 0) folio's memory to buddy. Models
 * update_and_free_hugetlb_folio() with folio_clear_hugetlb_hwpoison():
 * the poison moves from the head to the raw pages on the list, which stay
 * out of buddy; with an unreliable list the folio is leaked whole.
 */
static void update_and_free_hugetlb_folio(struct hstate *h, struct folio *folio)
{
	struct host *host = folio->host;
	unsigned long pfn = folio_pfn(folio), nr = folio_nr_pages(folio);
	struct raw_hwp_page *r, *tmp;

	list_del_init(&folio->lru);
	h->nr_huge_pages--;
	h->nr_huge_pages_node[folio->nid]--;
	if (folio_test_hwpoison(folio) && folio_test_hugetlb_raw_hwp_unreliable(folio)) {
		/* Which raw pages are bad is unknown: none of it can be reused. */
		folio->owner = FOLIO_OWNER_LEAKED;
		folio->page_type = PGTY_none;
		folio->hstate = NULL;
		host->nr_leaked_pages += nr;
		return;
	}
	if (folio_test_hwpoison(folio)) {
		folio_clear_hwpoison(folio);
		list_for_each_entry_safe(r, tmp, &folio->raw_hwp_list, node) {
			SetPageHWPoison(r->page);
			list_del(&r->node);
			kfree(r);
		}
	}
	folio_destroy(folio);
	free_pfn_range_to_buddy(host, pfn, nr);
}

int set_max_huge_pages(struct hstate *h, struct host *host, unsigned long count, int nid)
{
	int ret = 0;

	if (nid < 0 || nid >= host->nr_nodes)
		return -EINVAL;
	mutex_lock(&host->hugetlb_lock);
	while (h->nr_huge_pages_node[nid] < count) {
		if (!alloc_fresh_hugetlb_folio(host, h, nid)) {
			ret = -ENOMEM;
			break;
		}
	}
	while (h->nr_huge_pages_node[nid] > count) {
		struct folio *folio = list_first_entry_or_null(&h->hugepage_freelists[nid],
							       struct folio, lru);

		/* In-use pages stay: the kernel would make them surplus. */
		if (!folio || h->free_huge_pages - h->resv_huge_pages == 0)
			break;
		h->free_huge_pages--;
		h->free_huge_pages_node[nid]--;
		folio_clear_hugetlb_freed(folio);
		update_and_free_hugetlb_folio(h, folio);
	}
	mutex_unlock(&host->hugetlb_lock);
	return ret;
}

struct hugepage_subpool *hugepage_new_subpool(struct hstate *h, long max_hpages, long min_hpages)
{
	struct hugepage_subpool *spool = kzalloc(sizeof(*spool), GFP_KERNEL);

	if (!spool)
		return NULL;
	spool->count = 1;
	spool->max_hpages = max_hpages;
	spool->min_hpages = min_hpages;
	spool->hstate = h;
	return spool;
}

void hugepage_put_subpool(struct hugepage_subpool *spool)
{
	if (--spool->count == 0)
		kfree(spool);
}

/* A fresh page beyond the pool, within nr_overcommit_hugepages. */
static struct folio *alloc_surplus_hugetlb_folio(struct host *host, struct hstate *h, int nid)
{
	struct folio *folio = NULL;

	if (h->surplus_huge_pages >= h->nr_overcommit_huge_pages)
		return NULL;
	for (int i = 0; i < host->nr_nodes && !folio; i++) {
		int n = (nid + i) % host->nr_nodes;

		if (!alloc_fresh_hugetlb_folio(host, h, n))
			continue;
		folio = dequeue_hugetlb_folio_node_exact(h, n);
		if (folio) {
			h->surplus_huge_pages++;
			h->surplus_huge_pages_node[n]++;
		}
	}
	return folio;
}

int hugetlb_reserve_pages(struct file *file, pgoff_t from, pgoff_t to)
{
	struct hstate *h = file->hstate;
	struct host *host = file->f_mapping.host;
	long needed = 0;

	for (pgoff_t i = from; i < to; i++)
		if (!filemap_get_folio(&file->f_mapping, i << h->order))
			needed++;
	needed -= file->resv_hpages;
	if (needed <= 0)
		return 0;
	mutex_lock(&host->hugetlb_lock);
	if ((long)(h->free_huge_pages - h->resv_huge_pages) < needed) {
		mutex_unlock(&host->hugetlb_lock);
		return -ENOMEM;
	}
	h->resv_huge_pages += (unsigned long)needed;
	file->resv_hpages += needed;
	mutex_unlock(&host->hugetlb_lock);
	return 0;
}

void hugetlb_unreserve_pages(struct file *file)
{
	if (!file->hstate || !file->resv_hpages)
		return;
	file->hstate->resv_huge_pages -= (unsigned long)file->resv_hpages;
	file->resv_hpages = 0;
}

/* The pool part: a free page (a reserved one with @reserved), else a surplus page. */
static struct folio *dequeue_hugetlb_folio(struct host *host, struct hstate *h, int nid,
					   bool reserved)
{
	struct folio *folio = NULL;

	mutex_lock(&host->hugetlb_lock);
	/* Unreserved allocations may not take pages others have reserved. */
	if (reserved || h->free_huge_pages > h->resv_huge_pages)
		for (int i = 0; i < host->nr_nodes && !folio; i++)
			folio = dequeue_hugetlb_folio_node_exact(h, (nid + i) % host->nr_nodes);
	if (!folio && !reserved)
		folio = alloc_surplus_hugetlb_folio(host, h, nid);
	if (folio && reserved)
		h->resv_huge_pages--;
	mutex_unlock(&host->hugetlb_lock);
	if (folio)
		atomic_set(&folio->_refcount, 1);
	return folio;
}

/*
 * Charges, as the kernel takes them: the subpool, then current's hugetlb
 * cgroup (over hugetlb.<size>.max: -ENOSPC, like a full subpool), then its
 * memcg (over memory.max: -ENOMEM). See mm/memcontrol.c for the order of
 * the memcg charge.
 */
struct folio *alloc_hugetlb_folio(struct host *host, struct hstate *h, int nid,
				  struct hugepage_subpool *spool, long *resv)
{
	int idx = hstate_index(host, h);
	unsigned long nr = pages_per_huge_page(h);
	bool reserved = resv && *resv > 0;
	struct hugetlb_cgroup *h_cg;
	struct mem_cgroup *memcg;
	struct folio *folio;

	if (spool && spool->max_hpages >= 0 && spool->used_hpages >= spool->max_hpages)
		return ERR_PTR(-ENOSPC);
	if (hugetlb_cgroup_charge_cgroup(host, idx, nr, &h_cg))
		return ERR_PTR(-ENOSPC);
	if (mem_cgroup_hugetlb_try_charge(host, nr, &memcg)) {
		hugetlb_cgroup_uncharge_cgroup(idx, nr, h_cg);
		return ERR_PTR(-ENOMEM);
	}
	folio = dequeue_hugetlb_folio(host, h, nid, reserved);
	if (!folio) {
		mem_cgroup_cancel_charge(memcg, nr);
		hugetlb_cgroup_uncharge_cgroup(idx, nr, h_cg);
		return ERR_PTR(-ENOMEM);
	}
	if (reserved)
		(*resv)--;
	hugetlb_cgroup_commit_charge(idx, nr, h_cg, folio);
	mem_cgroup_commit_charge(folio, memcg);
	if (spool) {
		spool->used_hpages++;
		spool->count++;
		folio->spool = spool;
	}
	return folio;
}

struct folio *alloc_hugetlb_folio_nodemask(struct host *host, struct hstate *h, int nid)
{
	struct folio *folio = dequeue_hugetlb_folio(host, h, nid, false);

	return folio ? folio : ERR_PTR(-ENOMEM);
}

/* The last reference to a HugeTLB folio is gone. */
void free_huge_folio(struct folio *folio)
{
	struct host *host = folio->host;
	struct hstate *h = folio->hstate;

	struct hugepage_subpool *spool = folio->spool;

	hugetlb_cgroup_uncharge_folio(hstate_index(host, h), pages_per_huge_page(h), folio);
	mem_cgroup_uncharge(folio);
	/* update_and_free_hugetlb_folio() may free @folio: keep what we need. */
	if (spool) {
		spool->used_hpages--;
		folio->spool = NULL;
	}
	folio->mapping = NULL;
	folio->anon_vma = NULL;
	folio->flags &= (1UL << PG_head) | (1UL << PG_hugetlb_raw_hwp_unreliable);
	mutex_lock(&host->hugetlb_lock);
	if (folio_test_hwpoison(folio)) {
		update_and_free_hugetlb_folio(h, folio);
	} else if (h->surplus_huge_pages_node[folio->nid]) {
		/* A surplus page goes back to buddy when freed. */
		h->surplus_huge_pages--;
		h->surplus_huge_pages_node[folio->nid]--;
		update_and_free_hugetlb_folio(h, folio);
	} else {
		enqueue_hugetlb_folio(h, folio);
		/*
		 * hugepage_subpool_put_pages(): below its minimum the subpool
		 * keeps the reservation, so the file can fault the page again.
		 */
		if (spool && spool->resv_owner && spool->used_hpages < spool->min_hpages) {
			(*spool->resv_owner)++;
			h->resv_huge_pages++;
		}
	}
	mutex_unlock(&host->hugetlb_lock);
	if (spool)
		hugepage_put_subpool(spool);
}

/*
 * Models dissolve_free_hugetlb_folio(): 0 when @folio is not a free HugeTLB
 * folio or was dissolved, -EBUSY when it may not be (reserved pages).
 */
int dissolve_free_hugetlb_folio(struct folio *folio)
{
	struct hstate *h;
	struct host *host;

	if (!folio || !folio_test_hugetlb(folio) || !folio_test_hugetlb_freed(folio))
		return 0;
	h = folio->hstate;
	host = folio->host;
	if (h->free_huge_pages - h->resv_huge_pages == 0)
		return -EBUSY;
	mutex_lock(&host->hugetlb_lock);
	h->free_huge_pages--;
	h->free_huge_pages_node[folio->nid]--;
	folio_clear_hugetlb_freed(folio);
	update_and_free_hugetlb_folio(h, folio);
	mutex_unlock(&host->hugetlb_lock);
	return 0;
}
