// SPDX-License-Identifier: MIT
/*
 * Restructuring of guest_memfd's HugeTLB folios: split into 4K folios when
 * part of a huge page becomes shared, merge back when it is all private and
 * safe, and return the huge page to HugeTLB when its last piece is freed,
 * with the split's metadata kept outside the folios meanwhile.
 *
 * Models: mm/guestmem_hugetlb.c of the "1G page support for guest_memfd"
 * RFC v2 (googleprodkernel/linux-cc): guestmem_hugetlb_split_folio(),
 * guestmem_hugetlb_merge_folio(), the stash keyed by the head pfn, and the
 * deferred merge on the last free. [P]: nothing of it is merged.
 *
 * What poison does across a split is the project's question (seed 000 says
 * "distribute HWpoison during split, disable merging while some part is
 * poisoned, summarize during the merge that returns the page to HugeTLB").
 * host->sysctl.guestmem_split_poison selects it:
 *   DISTRIBUTE  each raw poisoned page becomes a poisoned 4K folio that
 *               memory_failure() keeps pinned; the healthy pieces work on;
 *               no merge while a piece is poisoned; the final free
 *               summarizes the poison and the huge page is dissolved with
 *               only the raw pages kept out.
 *   COPY_HEAD   RFC v2's code: the head's flags are copied to every piece,
 *               so every 4K page looks poisoned; the raw list stays stashed;
 *               memory_failure()'s pin keeps the pieces from ever all being
 *               free, so the whole huge page is leaked.
 *
 * Under DISTRIBUTE a piece that only memory_failure() still holds (out of
 * the page cache) counts as free: its raw page is kept out when the huge
 * page is dissolved, rather than its pin keeping the huge page forever.
 *
 * The huge folio's memcg and hugetlb cgroup charges move into the split's
 * metadata and back onto the rebuilt folio at a merge or at the final
 * free, where free_huge_folio() drops them. Under COPY_HEAD a poisoned
 * page never gets there, so it stays charged for good, as a HugeTLB folio
 * that memory_failure() keeps a reference to does in the kernel.
 *
 * MODEL: pieces are put on the (unevictable) LRU like 4K guest_memfd
 * folios, so memory_failure() handles them as page cache; the RFC's pieces
 * may not be on the LRU. The deferred merge runs at once rather than from a
 * workqueue. The split huge page stays counted in its pool (in use).
 */
#include "base/plant.h"
#include "mm/mm.h"

struct guestmem_split *guestmem_split_lookup(const struct host *host, unsigned long pfn)
{
	struct range_node *n = rangemap_find(&host->guestmem_splits, pfn);

	return n ? container_of(n, struct guestmem_split, node) : NULL;
}

static unsigned long gs_head(const struct guestmem_split *gs)
{
	return gs->node.start;
}

static unsigned long gs_nr(const struct guestmem_split *gs)
{
	return 1UL << gs->order;
}

/* No mapping, no pin, and no reference beyond the page cache's (and @extra). */
static bool folio_safe(const struct folio *f, int extra)
{
	int expected = (f->mapping ? (int)f->nr_pages : 0) + extra;

	return !folio_mapped(f) && !f->_pincount && folio_ref_count(f) == expected;
}

/*
 * A memory_failure() holds a reference on a page of [@lo, @hi] and waits
 * for the folio lock: the kernel's refcount freeze would fail on it.
 */
static bool mf_in_flight(const struct host *host, unsigned long lo, unsigned long hi)
{
	return host->mf_running && !host->mf_locked && host->mf_ref_pfn >= lo && host->mf_ref_pfn <= hi;
}

int guestmem_hugetlb_split(struct folio *folio)
{
	struct host *host = folio->host;
	struct address_space *mapping = folio->mapping;
	unsigned long pfn = folio_pfn(folio), nr = folio_nr_pages(folio), i;
	bool copy_head = host->sysctl.guestmem_split_poison == GUESTMEM_POISON_COPY_HEAD;
	bool poisoned, unreliable;
	unsigned long keep;
	struct raw_hwp_page *r, *rtmp;
	struct guestmem_split *gs;
	pgoff_t index = folio->index;
	int mf_pins;

	if (!folio_test_hugetlb(folio) || !mapping)
		return -EINVAL;
	if (!folio_safe(folio, folio->mf_pins) || mf_in_flight(host, pfn, pfn + nr - 1))
		return -EAGAIN;
	gs = kzalloc(sizeof(*gs), GFP_KERNEL);
	if (!gs)
		return -ENOMEM;
	/*
	 * The folio is locked here. A memory_failure() that starts now either
	 * finishes without the folio lock (the RETRY path of a folio that is
	 * not migratable) or holds a reference while it waits for the lock:
	 * look again at the reference count and the poison.
	 */
	host_race_point(host, "guestmem_hugetlb_split:locked");
	/*
	 * The HugeTLB state changes under hugetlb_lock, which
	 * get_huge_page_for_hwpoison() takes too: memory_failure() finds the
	 * huge folio with its reference taken (and the split refuses), or the
	 * pieces.
	 */
	mutex_lock(&host->hugetlb_lock);
	mf_pins = folio->mf_pins;
	if (!folio_safe(folio, mf_pins) || mf_in_flight(host, pfn, pfn + nr - 1)) {
		mutex_unlock(&host->hugetlb_lock);
		kfree(gs);
		return -EAGAIN;
	}
	poisoned = folio_test_hwpoison(folio);
	unreliable = folio_test_hugetlb_raw_hwp_unreliable(folio);
	keep = folio->flags & ((1UL << PG_dirty) | (1UL << PG_uptodate));
	gs->node.start = pfn;
	gs->node.last = pfn + nr - 1;
	gs->h = folio->hstate;
	gs->order = folio->order;
	gs->nid = folio->nid;
	gs->spool = folio->spool;
	/* The charges stay with the huge page: the pieces carry none. */
	gs->memcg = folio->memcg;
	gs->h_cg = folio->h_cg;
	gs->mapping = mapping;
	gs->index = folio->index;
	INIT_LIST_HEAD(&gs->raw_hwp_list);

	/* Take the huge folio apart: out of the page cache, the memmap, the active list. */
	rangemap_erase(&mapping->i_pages, &folio->cache_node);
	rangemap_erase(&host->memmap, &folio->pfn_node);
	list_del_init(&folio->lru);
	host->nr_folios--;
	folio_clear_hwpoison(folio);	/* the head flag: poison is per piece now */
	if (copy_head || unreliable) {
		gs->hwpoison = poisoned;
		gs->raw_hwp_unreliable = unreliable;
		list_splice_init_tail(&folio->raw_hwp_list, &gs->raw_hwp_list);
	}
	for (i = 0; i < nr; i++) {
		struct folio *p = folio_new(host, pfn + i, 0, FOLIO_OWNER_FILE, __GFP_NOFAIL);

		p->page_type = PGTY_guestmem_hugetlb;
		p->flags = keep | (1UL << PG_lru) | (1UL << PG_unevictable);
		p->mapping = mapping;
		p->index = index + i;
		p->cache_node.start = p->cache_node.last = p->index;
		WARN_ON(host, rangemap_insert(&mapping->i_pages, &p->cache_node));
		/* The pieces appear together: no decision point per piece. */
		folio_set_count(p, 1);
		if ((copy_head || unreliable) && poisoned)
			SetPageHWPoison(pfn_to_page(host, pfn + i));
	}
	if (copy_head || unreliable) {
		/* memory_failure()'s references stay with the head piece. */
		struct folio *head = pfn_folio_lookup(host, pfn);

		head->mf_pins = mf_pins;
		atomic_add(mf_pins, &head->_refcount);
	} else {
		/*
		 * Each raw poisoned page becomes a poisoned piece. memory_failure()'s
		 * references on the huge folio go with them, one per piece in the
		 * order the errors came, any left over to the first: none is made
		 * up (an error that took the RETRY path holds none).
		 */
		struct folio *first = NULL;
		int pins = mf_pins;

		list_for_each_entry_safe(r, rtmp, &folio->raw_hwp_list, node) {
			struct folio *p = page_folio(r->page);

			SetPageHWPoison(r->page);
			if (!first)
				first = p;
			if (pins) {
				p->mf_pins++;
				folio_get(p);
				pins--;
			}
			list_del(&r->node);
			kfree(r);
		}
		if (pins) {
			if (!first)
				first = pfn_folio_lookup(host, pfn);
			first->mf_pins += pins;
			atomic_add(pins, &first->_refcount);
		}
	}
	WARN_ON(host, rangemap_insert(&host->guestmem_splits, &gs->node));
	gs->file_node.start = index;
	gs->file_node.last = index + nr - 1;
	WARN_ON(host, rangemap_insert(&mapping->guestmem_splits, &gs->file_node));
	folio_free(folio);
	mutex_unlock(&host->hugetlb_lock);
	trace_note(host->trace, "guest_memfd: split the %s page at pfn %#lx into %lu pieces",
		   gs->h->name, pfn, nr);
	return 0;
}

static struct folio *piece(struct host *host, const struct guestmem_split *gs, unsigned long i)
{
	return pfn_folio_lookup(host, gs_head(gs) + i);
}

/*
 * Why the split huge page cannot be merged: -EAGAIN when a piece is punched
 * out, mapped, pinned or referenced (memory_failure()'s own pin aside),
 * -EHWPOISON when it is safe but poisoned, 0 when it can be merged.
 */
static int merge_refused(struct address_space *mapping, const struct guestmem_split *gs, pgoff_t base,
			 unsigned long *dirty)
{
	struct host *host = mapping->host;
	bool poisoned = gs->hwpoison;

	for (unsigned long i = 0; i < gs_nr(gs); i++) {
		struct folio *p = piece(host, gs, i);
		const struct page *pg = page_lookup(host, gs_head(gs) + i);

		if (p->owner != FOLIO_OWNER_FILE || p->mapping != mapping || p->index != base + i ||
		    !folio_safe(p, p->mf_pins))
			return -EAGAIN;
		poisoned |= pg && PageHWPoison(pg);
		*dirty |= p->flags & (1UL << PG_dirty);
	}
	/* After the last reference count read: nothing may come in between. */
	if (mf_in_flight(host, gs_head(gs), gs_head(gs) + gs_nr(gs) - 1))
		return -EAGAIN;
	return poisoned ? -EHWPOISON : 0;
}

int guestmem_hugetlb_merge(struct address_space *mapping, pgoff_t index)
{
	struct host *host = mapping->host;
	struct folio *f = filemap_get_folio(mapping, index), *huge;
	struct guestmem_split *gs;
	unsigned long nr, i, head;
	pgoff_t base;
	unsigned long dirty = 0;
	int ret;

	if (!f || f->page_type != PGTY_guestmem_hugetlb)
		return 0;	/* whole already, or not a HugeTLB page */
	gs = guestmem_split_lookup(host, folio_pfn(f));
	nr = gs_nr(gs);
	head = gs_head(gs);
	base = f->index - (folio_pfn(f) - head);
	if (PLANTED(PLANT_MERGE_CHECKS_UNLOCKED)) {
		/* PLANTED: the checks before the lock, and not again under it. */
		ret = merge_refused(mapping, gs, base, &dirty);
		if (ret)
			return ret;
	}
	/* The pieces share the huge page's lock (folio_lock_pfn()). */
	folio_lock(f);
	if (guestmem_split_lookup(host, head) != gs) {
		/* Freed or merged while this waited for the lock. */
		folio_unlock_pfn(host, head);
		return -EAGAIN;
	}
	/*
	 * Every piece is locked here. A memory_failure() on one of them that
	 * starts now holds a reference while it waits for the lock, which
	 * the check sees.
	 */
	host_race_point(host, "guestmem_hugetlb_merge:locked");
	/* The check and the rebuild under hugetlb_lock, as the split's. */
	mutex_lock(&host->hugetlb_lock);
	ret = PLANTED(PLANT_MERGE_CHECKS_UNLOCKED) ? 0 : merge_refused(mapping, gs, base, &dirty);
	if (ret) {
		mutex_unlock(&host->hugetlb_lock);
		folio_unlock_pfn(host, head);
		return ret;
	}
	for (i = 0; i < nr; i++) {
		struct folio *p = piece(host, gs, i);

		/* The page cache's reference only (the kernel's refcount freeze). */
		WARN_ON(host, p->page_type != PGTY_guestmem_hugetlb || p->mf_pins ||
			       p->_refcount.counter != 1);
		rangemap_erase(&mapping->i_pages, &p->cache_node);
		folio_destroy(p);
	}
	rangemap_erase(&host->guestmem_splits, &gs->node);
	rangemap_erase(&mapping->guestmem_splits, &gs->file_node);
	huge = folio_new(host, gs_head(gs), gs->order, FOLIO_OWNER_HUGETLB, __GFP_NOFAIL);
	huge->page_type = PGTY_hugetlb;
	huge->hstate = gs->h;
	huge->spool = gs->spool;
	huge->memcg = gs->memcg;
	huge->h_cg = gs->h_cg;
	huge->mapping = mapping;
	huge->index = base;
	huge->flags |= (1UL << PG_uptodate) | dirty;
	huge->cache_node.start = base;
	huge->cache_node.last = base + nr - 1;
	WARN_ON(host, rangemap_insert(&mapping->i_pages, &huge->cache_node));
	/* Not a decision point: the huge folio appears whole (the pieces' refcounts are frozen). */
	folio_set_count(huge, (int)nr);
	list_add_tail(&huge->lru, &gs->h->hugepage_activelist);
	mutex_unlock(&host->hugetlb_lock);
	trace_note(host->trace, "guest_memfd: merged the %s page at pfn %#lx", gs->h->name, gs_head(gs));
	kfree(gs);
	folio_unlock_pfn(host, head);
	return 0;
}

/* Record @page on @folio's raw list (the summary at the final merge). */
static void add_raw(struct folio *folio, struct page *page)
{
	struct raw_hwp_page *r;

	if (folio_test_hugetlb_raw_hwp_unreliable(folio))
		return;
	r = kmalloc(sizeof(*r), GFP_ATOMIC);
	if (!r) {
		struct raw_hwp_page *x, *tmp;

		folio_set_hugetlb_raw_hwp_unreliable(folio);
		list_for_each_entry_safe(x, tmp, &folio->raw_hwp_list, node) {
			list_del(&x->node);
			kfree(x);
		}
		return;
	}
	r->page = page;
	list_add_tail(&r->node, &folio->raw_hwp_list);
}

/*
 * The last piece is free: rebuild the huge folio, summarize its poison and
 * give it back to HugeTLB (which dissolves a poisoned one).
 */
static void guestmem_hugetlb_return(struct host *host, struct guestmem_split *gs)
{
	unsigned long nr = gs_nr(gs), i;
	struct folio *huge;
	bool poisoned = gs->hwpoison;

	rangemap_erase(&host->guestmem_splits, &gs->node);
	if (gs->mapping)
		rangemap_erase(&gs->mapping->guestmem_splits, &gs->file_node);
	for (i = 0; i < nr; i++)
		folio_destroy(piece(host, gs, i));
	huge = folio_new(host, gs_head(gs), gs->order, FOLIO_OWNER_HUGETLB, __GFP_NOFAIL);
	huge->page_type = PGTY_hugetlb;
	huge->hstate = gs->h;
	huge->spool = gs->spool;
	/* free_huge_folio() uncharges them, once, dissolved or not. */
	huge->memcg = gs->memcg;
	huge->h_cg = gs->h_cg;
	list_add_tail(&huge->lru, &gs->h->hugepage_activelist);
	if (gs->raw_hwp_unreliable)
		folio_set_hugetlb_raw_hwp_unreliable(huge);
	if (gs->hwpoison) {
		/* Copy-head: the flags on the pieces are copies; the stash is the truth. */
		for (i = 0; i < nr; i++) {
			struct page *pg = page_lookup(host, gs_head(gs) + i);

			if (pg)
				ClearPageHWPoison(pg);
		}
		list_splice_init_tail(&gs->raw_hwp_list, &huge->raw_hwp_list);
	} else {
		for (i = 0; i < nr; i++) {
			struct page *pg = page_lookup(host, gs_head(gs) + i);

			if (pg && PageHWPoison(pg)) {
				ClearPageHWPoison(pg);
				add_raw(huge, pg);
				poisoned = true;
			}
		}
	}
	if (poisoned)
		(void)folio_test_set_hwpoison(huge);
	trace_note(host->trace, "guest_memfd: the %s page at pfn %#lx returns to HugeTLB%s",
		   gs->h->name, gs_head(gs), poisoned ? " poisoned" : "");
	kfree(gs);
	free_huge_folio(huge);	/* refcount 0 */
}

void guestmem_hugetlb_free_piece(struct folio *folio)
{
	struct host *host = folio->host;
	struct guestmem_split *gs = guestmem_split_lookup(host, folio_pfn(folio));

	if (folio->owner == FOLIO_OWNER_GUESTMEM_FREE)
		return;	/* a piece memory_failure() pinned, done with already */
	folio->owner = FOLIO_OWNER_GUESTMEM_FREE;
	folio->mapping = NULL;
	folio->flags = 0;
	if (WARN_ON(host, !gs))
		return;
	if (++gs->nr_free == gs_nr(gs))
		guestmem_hugetlb_return(host, gs);
}

struct folio *guestmem_hugetlb_reuse(struct address_space *mapping, struct guestmem_split *gs,
				     pgoff_t index)
{
	struct host *host = mapping->host;
	struct folio *p = piece(host, gs, index - gs->index);
	const struct page *pg = page_lookup(host, folio_pfn(p));

	if (p->owner != FOLIO_OWNER_GUESTMEM_FREE || (pg && PageHWPoison(pg)))
		return NULL;
	p->owner = FOLIO_OWNER_FILE;
	p->flags = (1UL << PG_lru) | (1UL << PG_unevictable);
	gs->nr_free--;
	if (filemap_add_folio(mapping, p, index)) {
		p->owner = FOLIO_OWNER_GUESTMEM_FREE;
		gs->nr_free++;
		return NULL;
	}
	folio_clear_swapbacked(p);
	return p;
}

struct guestmem_split *guestmem_split_find(struct address_space *mapping, pgoff_t index)
{
	struct range_node *n = rangemap_find(&mapping->guestmem_splits, index);

	return n ? container_of(n, struct guestmem_split, file_node) : NULL;
}

void guestmem_hugetlb_forget_mapping(struct address_space *mapping)
{
	struct range_node *n, *tmp;

	rangemap_for_each(&mapping->guestmem_splits, n, tmp) {
		container_of(n, struct guestmem_split, file_node)->mapping = NULL;
		rangemap_erase(&mapping->guestmem_splits, n);
	}
}

void guestmem_hugetlb_teardown(struct host *host)
{
	struct range_node *n, *tmp;

	rangemap_for_each(&host->guestmem_splits, n, tmp) {
		struct guestmem_split *gs = container_of(n, struct guestmem_split, node);
		struct raw_hwp_page *r, *rtmp;

		list_for_each_entry_safe(r, rtmp, &gs->raw_hwp_list, node) {
			list_del(&r->node);
			kfree(r);
		}
		rangemap_erase(&host->guestmem_splits, n);
		if (gs->mapping)
			rangemap_erase(&gs->mapping->guestmem_splits, &gs->file_node);
		if (gs->spool)
			hugepage_put_subpool(gs->spool);
		kfree(gs);
	}
}

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

int guestmem_validate(struct host *host)
{
	struct range_node *n;

	for (n = rangemap_first(&host->guestmem_splits); n; n = rangemap_next(n)) {
		struct guestmem_split *gs = container_of(n, struct guestmem_split, node);
		unsigned long free = 0;

		if (gs->mapping && guestmem_split_find(gs->mapping, gs->index) != gs) {
			trace_note(host->trace, "invariant broken: split page at %#lx is not indexed in its file",
				   gs_head(gs));
			return -EUCLEAN;
		}
		for (unsigned long i = 0; i < gs_nr(gs); i++) {
			struct folio *p = piece(host, gs, i);

			if (!p || p->order || p->page_type != PGTY_guestmem_hugetlb ||
			    (p->owner != FOLIO_OWNER_FILE && p->owner != FOLIO_OWNER_GUESTMEM_FREE)) {
				trace_note(host->trace, "invariant broken: piece %lu of the split page at %#lx is missing",
					   i, gs_head(gs));
				return -EUCLEAN;
			}
			if (p->owner == FOLIO_OWNER_GUESTMEM_FREE) {
				free++;
				if (folio_ref_count(p) != p->mf_pins) {
					trace_note(host->trace, "invariant broken: free piece %#lx has references",
						   folio_pfn(p));
					return -EUCLEAN;
				}
			}
		}
		if (free != gs->nr_free || free == gs_nr(gs)) {
			trace_note(host->trace, "invariant broken: split page at %#lx counts %lu free pieces, has %lu",
				   gs_head(gs), gs->nr_free, free);
			return -EUCLEAN;
		}
	}
	return 0;
}
