// SPDX-License-Identifier: MIT
/*
 * Invariants of the mm model. The same functions serve tests (after every
 * operation and at teardown), scenarios, the explorer and fuzzers.
 *
 * Each failure emits a trace note naming the invariant and the object, and
 * returns -EUCLEAN.
 */
#include "mm/memory-failure.h"

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

#define BROKEN(host, fmt, ...) ({						\
	trace_note((host)->trace, "invariant broken: " fmt, ##__VA_ARGS__);	\
	-EUCLEAN; })

/*
 * Mid-operation (the explorer checks at every decision point where no lock
 * is held): a count and what it counts are updated by separate statements
 * there, in the kernel as in the model, so those equalities wait for the
 * end of the operation; everything else is checked.
 */
static bool at_step;

/* How many references @folio should have, from what the model knows holds them. */
static long expected_refs(const struct folio *f)
{
	long refs = (long)list_count(&f->rmap) + f->_pincount + f->mf_pins + f->extra_refs;

	if (f->mapping)
		refs += (long)f->nr_pages;
	if (folio_test_swapcache(f))
		refs += (long)f->nr_pages;
	return refs;
}

int folio_validate(const struct folio *f)
{
	struct host *host = f->host;
	const struct pte_entry *pte;

	if (f->owner == FOLIO_OWNER_RESERVED)
		return folio_ref_count(f) == 1 ? 0 :
			BROKEN(host, "reserved range %#lx has refcount %d", folio_pfn(f), folio_ref_count(f));
	if (!at_step && folio_ref_count(f) != expected_refs(f))
		return BROKEN(host, "folio %#lx (%s, order %u): refcount %d, holders %ld "
			      "(maps %lu, pins %d, mf %d, extra %d, cache %d, swapcache %d)",
			      folio_pfn(f), folio_owner_names[f->owner], f->order, folio_ref_count(f),
			      expected_refs(f), list_count(&f->rmap), f->_pincount, f->mf_pins,
			      f->extra_refs, f->mapping != NULL, folio_test_swapcache(f));
	if (f->mf_pins < 0 || f->_pincount < 0)
		return BROKEN(host, "folio %#lx: negative pin count", folio_pfn(f));
	if (folio_test_hugetlb(f) != (f->hstate != NULL && f->owner == FOLIO_OWNER_HUGETLB))
		return BROKEN(host, "folio %#lx: hugetlb type and hstate disagree", folio_pfn(f));
	/* Only HugeTLB folios are charged; a split page's pieces leave it to the split. */
	if ((f->memcg || f->h_cg) && !folio_test_hugetlb(f))
		return BROKEN(host, "folio %#lx (%s) carries a cgroup charge", folio_pfn(f),
			      folio_owner_names[f->owner]);
	if (folio_test_hugetlb(f) && folio_test_hugetlb_freed(f) && folio_ref_count(f))
		return BROKEN(host, "free hugetlb folio %#lx has refcount %d", folio_pfn(f),
			      folio_ref_count(f));
	if (f->mapping) {
		if (filemap_get_folio(f->mapping, f->index) != f)
			return BROKEN(host, "folio %#lx not in its mapping at index %lu", folio_pfn(f),
				      f->index);
	}
	list_for_each_entry(pte, &f->rmap, rmap) {
		unsigned long n = 1UL << (pte->shift - PAGE_SHIFT);

		if (pte->folio != f || pte->kind != PTE_PRESENT || pte->pfn < folio_pfn(f) ||
		    pte->pfn + n > folio_pfn(f) + f->nr_pages)
			return BROKEN(host, "folio %#lx: rmap entry at %#lx maps pfn %#lx outside it",
				      folio_pfn(f), pte->addr, pte->pfn);
	}
	return 0;
}

static int validate_buddy(struct host *host)
{
	unsigned long folio_pages[MAX_NUMNODES] = { 0 };
	struct range_node *n, *tmp;
	int nid;

	rangemap_for_each(&host->memmap, n, tmp) {
		const struct folio *f = container_of(n, struct folio, pfn_node);

		folio_pages[host_node_of_pfn(host, n->start)] += n->last - n->start + 1;
		if (host_node_of_pfn(host, n->start) != host_node_of_pfn(host, n->last))
			return BROKEN(host, "folio %#lx spans nodes", n->start);
		(void)f;
	}
	for (nid = 0; nid < host->nr_nodes; nid++) {
		struct pglist_data *pgdat = &host->nodes[nid];
		unsigned long free = 0;

		if (rangemap_validate(&pgdat->free_blocks))
			return BROKEN(host, "node %d: free block map corrupt", nid);
		rangemap_for_each(&pgdat->free_blocks, n, tmp) {
			const struct free_block *b = container_of(n, struct free_block, node);
			unsigned long nr = n->last - n->start + 1;

			if (!IS_ALIGNED(n->start, 1UL << b->order) || nr % (1UL << b->order) ||
			    (b->order < MAX_PAGE_ORDER && nr != 1UL << b->order))
				return BROKEN(host, "node %d: free block %#lx order %u misaligned", nid,
					      n->start, b->order);
			if (rangemap_lower(&host->memmap, n->start) &&
			    rangemap_lower(&host->memmap, n->start)->start <= n->last)
				return BROKEN(host, "free block %#lx overlaps an allocated folio", n->start);
			free += nr;
		}
		if (free != pgdat->nr_free_pages)
			return BROKEN(host, "node %d: %lu free pages counted, %lu on the lists", nid,
				      pgdat->nr_free_pages, free);
		if (free + folio_pages[nid] != pgdat->node_spanned_pages)
			return BROKEN(host, "node %d: %lu free + %lu allocated != %lu pages", nid, free,
				      folio_pages[nid], pgdat->node_spanned_pages);
	}
	return 0;
}

static int validate_hugetlb(struct host *host)
{
	for (int i = 0; i < HUGE_MAX_HSTATE; i++) {
		struct hstate *h = &host->hstates[i];
		unsigned long nr = 0, free = 0;
		struct folio *f;

		for (int nid = 0; nid < host->nr_nodes; nid++) {
			unsigned long nfree = 0;

			list_for_each_entry(f, &h->hugepage_freelists[nid], lru) {
				if (folio_contains_hwpoison(f))
					return BROKEN(host, "poisoned hugetlb folio %#lx in the free pool",
						      folio_pfn(f));
				nfree++;
			}
			if (nfree != h->free_huge_pages_node[nid])
				return BROKEN(host, "%s node %d: %lu free counted, %lu listed", h->name,
					      nid, h->free_huge_pages_node[nid], nfree);
			free += nfree;
			nr += h->nr_huge_pages_node[nid];
		}
		if (free != h->free_huge_pages || nr != h->nr_huge_pages)
			return BROKEN(host, "%s: pool counts disagree", h->name);
		if (h->resv_huge_pages > h->free_huge_pages)
			return BROKEN(host, "%s: %lu pages reserved but only %lu free", h->name,
				      h->resv_huge_pages, h->free_huge_pages);
		if (h->surplus_huge_pages > h->nr_huge_pages)
			return BROKEN(host, "%s: more surplus pages than pages", h->name);
	}
	return 0;
}

static int validate_poison(struct host *host)
{
	long counted = 0;
	bool unreliable = false;
	struct range_node *n, *tmp;
	struct guestmem_split *gs;

	rangemap_for_each(&host->pages, n, tmp) {
		const struct page *p = container_of(n, struct page, node);
		const struct folio *f = pfn_folio_lookup(host, n->start);

		if (!PageHWPoison(p))
			continue;
		if (is_free_buddy_page(p))
			return BROKEN(host, "poisoned pfn %#lx is on a free list", n->start);
		/* memory_failure() marks the raw page first, the folio when it gets there. */
		if (f && folio_test_hugetlb(f) && !folio_test_hwpoison(f) &&
		    !(host->mf_running && host->mf_pfn == n->start))
			return BROKEN(host, "poisoned pfn %#lx is inside the healthy %s folio at %#lx",
				      n->start, f->hstate ? f->hstate->name : "HugeTLB", folio_pfn(f));
		if (f && folio_test_hugetlb(f) && folio_pfn(f) == n->start)
			continue;	/* the folio flag: its raw pages are counted below */
		gs = guestmem_split_lookup(host, n->start);
		if (gs && gs->hwpoison)
			continue;	/* RFC v2's copies of the head flag: the stash counts */
		counted++;
		if (!p->mf_unmapped)
			continue;
		/* Handled by memory_failure(): no user mapping may remain. */
		if (f) {
			const struct pte_entry *pte;

			list_for_each_entry(pte, &f->rmap, rmap) {
				unsigned long npages = 1UL << (pte->shift - PAGE_SHIFT);

				if (n->start >= pte->pfn && n->start < pte->pfn + npages)
					return BROKEN(host, "poisoned pfn %#lx is still mapped at %#lx",
						      n->start, pte->addr);
			}
		}
	}
	rangemap_for_each(&host->memmap, n, tmp) {
		const struct folio *f = container_of(n, struct folio, pfn_node);

		/* Still set on a folio that was leaked whole because of it. */
		if (folio_test_hugetlb_raw_hwp_unreliable(f))
			unreliable = true;
		if (!folio_test_hugetlb(f) || !folio_test_hwpoison(f))
			continue;
		counted += (long)list_count(&f->raw_hwp_list);
		if (folio_pfn(f) == n->start && page_lookup(host, n->start)->mf_unmapped &&
		    folio_mapped(f))
			return BROKEN(host, "poisoned hugetlb folio %#lx is still mapped", n->start);
	}
	rangemap_for_each(&host->guestmem_splits, n, tmp) {
		gs = container_of(n, struct guestmem_split, node);
		if (gs->raw_hwp_unreliable)
			unreliable = true;
		if (gs->hwpoison)
			counted += (long)list_count(&gs->raw_hwp_list);
	}
	/* With an unreliable raw list the kernel's own count drifts (see divergences.md). */
	if (!unreliable && !at_step && counted != atomic_long_read(&host->num_poisoned_pages))
		return BROKEN(host, "num_poisoned_pages is %ld but %ld raw pages are poisoned",
			      atomic_long_read(&host->num_poisoned_pages), counted);
	return 0;
}

static int validate_mm(struct host *host, struct mm_struct *mm)
{
	struct range_node *n, *tmp;

	if (rangemap_validate(&mm->ptes) || rangemap_validate(&mm->mm_mt))
		return BROKEN(host, "page table or VMA tree corrupt");
	rangemap_for_each(&mm->ptes, n, tmp) {
		const struct pte_entry *pte = container_of(n, struct pte_entry, node);

		if (!find_vma(mm, pte->addr))
			return BROKEN(host, "entry at %#lx outside any VMA", pte->addr);
		if (pte->kind == PTE_PRESENT) {
			const struct folio *f = pfn_folio_lookup(host, pte->pfn);

			if (f != pte->folio)
				return BROKEN(host, "entry at %#lx maps pfn %#lx of another folio",
					      pte->addr, pte->pfn);
		}
	}
	return 0;
}

int host_validate_step(struct host *host)
{
	int ret;

	at_step = true;
	ret = host_validate(host);
	at_step = false;
	return ret;
}

int host_validate(struct host *host)
{
	struct range_node *n, *tmp;
	struct task_struct *t;
	int ret;

	if (rangemap_validate(&host->memmap) || rangemap_validate(&host->pages))
		return BROKEN(host, "memmap corrupt");
	rangemap_for_each(&host->memmap, n, tmp) {
		ret = folio_validate(container_of(n, struct folio, pfn_node));
		if (ret)
			return ret;
	}
	ret = validate_buddy(host);
	if (!ret)
		ret = validate_hugetlb(host);
	if (!ret)
		ret = guestmem_validate(host);
	if (!ret)
		ret = cgroup_validate(host);
	if (!ret)
		ret = validate_poison(host);
	if (ret)
		return ret;
	list_for_each_entry(t, &host->tasks, tasks) {
		if (t->group_leader != t || t->exited)
			continue;
		ret = validate_mm(host, t->mm);
		if (ret)
			return ret;
	}
	return 0;
}
