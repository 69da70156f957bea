// SPDX-License-Identifier: MIT
/*
 * The buddy allocator, and struct folio objects for allocated memory.
 *
 * Models: mm/page_alloc.c (mm-new, 2026): __free_one_page(),
 * free_pages_prepare(), take_page_off_buddy(), put_page_back_buddy(),
 * is_free_buddy_page(), alloc_contig_range().
 *
 * MODEL: one zone per node and no per-cpu lists. Free max-order blocks are
 * kept as ranges of blocks (one object for a whole free node), smaller free
 * blocks one by one, all in the node's free_blocks map so that "is this pfn
 * free" is one lookup. Allocation takes the lowest-addressed block of the
 * smallest order that fits, so runs are deterministic.
 */
#include "mm/mm.h"

#define MAX_ORDER_NR_PAGES (1UL << MAX_PAGE_ORDER)

static struct pglist_data *pfn_pgdat(struct host *host, unsigned long pfn)
{
	int nid = host_node_of_pfn(host, pfn);

	return nid < 0 ? NULL : &host->nodes[nid];
}

static struct free_block *block_new(unsigned long pfn, unsigned long nr, unsigned int order)
{
	/* Free-list bookkeeping is struct page state in the kernel: it cannot fail. */
	struct free_block *b = kzalloc(sizeof(*b), __GFP_NOFAIL);

	b->node.start = pfn;
	b->node.last = pfn + nr - 1;
	b->order = order;
	return b;
}

static unsigned long block_blocks(const struct free_block *b)
{
	return (b->node.last - b->node.start + 1) >> b->order;
}

static void block_insert(struct pglist_data *pgdat, struct free_block *b)
{
	int ret = rangemap_insert(&pgdat->free_blocks, &b->node);

	BUILD_BUG_ON(MAX_PAGE_ORDER >= 64);
	(void)ret;	/* callers only insert ranges they removed or own */
	list_add_tail(&b->list, &pgdat->free_area[b->order].free_list);
	pgdat->free_area[b->order].nr_free += block_blocks(b);
	pgdat->nr_free_pages += b->node.last - b->node.start + 1;
}

static void block_remove(struct pglist_data *pgdat, struct free_block *b)
{
	rangemap_erase(&pgdat->free_blocks, &b->node);
	list_del(&b->list);
	pgdat->free_area[b->order].nr_free -= block_blocks(b);
	pgdat->nr_free_pages -= b->node.last - b->node.start + 1;
}

static struct free_block *block_at(struct pglist_data *pgdat, unsigned long pfn)
{
	struct range_node *n = rangemap_find(&pgdat->free_blocks, pfn);

	return n ? container_of(n, struct free_block, node) : NULL;
}

/* Add max-order blocks [pfn, pfn + nr) as a range, merging with its neighbours. */
static void free_max_range(struct pglist_data *pgdat, unsigned long pfn, unsigned long nr)
{
	struct free_block *prev = pfn ? block_at(pgdat, pfn - 1) : NULL;
	struct free_block *next = block_at(pgdat, pfn + nr);

	if (prev && prev->order == MAX_PAGE_ORDER) {
		block_remove(pgdat, prev);
		pfn = prev->node.start;
		nr += prev->node.last - prev->node.start + 1;
		kfree(prev);
	}
	if (next && next->order == MAX_PAGE_ORDER) {
		block_remove(pgdat, next);
		nr += next->node.last - next->node.start + 1;
		kfree(next);
	}
	block_insert(pgdat, block_new(pfn, nr, MAX_PAGE_ORDER));
}

static bool pfn_in_node(const struct pglist_data *pgdat, unsigned long pfn)
{
	return pfn >= pgdat->node_start_pfn &&
	       pfn < pgdat->node_start_pfn + pgdat->node_spanned_pages;
}

/* Models __free_one_page(): merge with free buddies of the same order. */
static void __free_one_page(struct pglist_data *pgdat, unsigned long pfn, unsigned int order)
{
	while (order < MAX_PAGE_ORDER) {
		unsigned long buddy_pfn = pfn ^ (1UL << order);
		struct free_block *buddy;

		if (!pfn_in_node(pgdat, buddy_pfn))
			break;
		buddy = block_at(pgdat, buddy_pfn);
		if (!buddy || buddy->order != order || buddy->node.start != buddy_pfn)
			break;
		block_remove(pgdat, buddy);
		kfree(buddy);
		pfn &= ~(1UL << order);
		order++;
	}
	if (order == MAX_PAGE_ORDER)
		free_max_range(pgdat, pfn, MAX_ORDER_NR_PAGES);
	else
		block_insert(pgdat, block_new(pfn, 1UL << order, order));
}

/* The first poisoned raw page in [pfn, end), or @end. */
static unsigned long next_poisoned_pfn(struct host *host, unsigned long pfn, unsigned long end)
{
	struct range_node *n, *tmp;

	rangemap_for_each_in(&host->pages, n, tmp, pfn, end - 1)
		if (PageHWPoison(container_of(n, struct page, node)))
			return n->start;
	return end;
}

/*
 * Free [pfn, pfn + nr) to buddy in the largest aligned blocks. A poisoned raw
 * page is kept out (free_pages_prepare() drops a poisoned order-0 page):
 * it stays behind as a FOLIO_OWNER_LEAKED page with no references.
 */
void free_pfn_range_to_buddy(struct host *host, unsigned long pfn, unsigned long nr)
{
	unsigned long end = pfn + nr;

	while (pfn < end) {
		struct pglist_data *pgdat = pfn_pgdat(host, pfn);
		unsigned long stop = min(end, pgdat->node_start_pfn + pgdat->node_spanned_pages);
		unsigned long bad = next_poisoned_pfn(host, pfn, stop);
		unsigned int order;

		if (bad == pfn) {
			folio_new(host, pfn, 0, FOLIO_OWNER_LEAKED, __GFP_NOFAIL);
			host->nr_leaked_pages++;
			pfn++;
			continue;
		}
		if (IS_ALIGNED(pfn, MAX_ORDER_NR_PAGES) && ALIGN_DOWN(bad, MAX_ORDER_NR_PAGES) > pfn) {
			unsigned long run = ALIGN_DOWN(bad, MAX_ORDER_NR_PAGES) - pfn;

			free_max_range(pgdat, pfn, run);
			pfn += run;
			continue;
		}
		for (order = MAX_PAGE_ORDER - 1;
		     order && (!IS_ALIGNED(pfn, 1UL << order) || pfn + (1UL << order) > bad);
		     order--)
			;
		__free_one_page(pgdat, pfn, order);
		pfn += 1UL << order;
	}
}

bool is_free_buddy_page(const struct page *page)
{
	struct pglist_data *pgdat = pfn_pgdat(page->host, page_to_pfn(page));

	return pgdat && block_at(pgdat, page_to_pfn(page)) != NULL;
}

/*
 * Remove [pfn, pfn + nr) from free block @b (which contains it), giving back
 * the rest of @b in naturally aligned pieces.
 */
static void carve_block(struct pglist_data *pgdat, struct free_block *b,
			unsigned long pfn, unsigned long nr)
{
	unsigned long start = b->node.start, last = b->node.last;
	unsigned int order = b->order;

	block_remove(pgdat, b);
	kfree(b);
	if (order == MAX_PAGE_ORDER) {
		unsigned long lo = ALIGN_DOWN(pfn, MAX_ORDER_NR_PAGES);
		unsigned long hi = ALIGN(pfn + nr, MAX_ORDER_NR_PAGES);

		if (lo > start)
			free_max_range(pgdat, start, lo - start);
		if (hi <= last)
			free_max_range(pgdat, hi, last - hi + 1);
		/* Now split [lo, hi) down around [pfn, pfn + nr). */
		for (unsigned long blk = lo; blk < hi; blk += MAX_ORDER_NR_PAGES) {
			unsigned long s = max(blk, pfn), e = min(blk + MAX_ORDER_NR_PAGES, pfn + nr);

			if (s > blk)
				free_pfn_range_to_buddy(pgdat->host, blk, s - blk);
			if (e < blk + MAX_ORDER_NR_PAGES)
				free_pfn_range_to_buddy(pgdat->host, e, blk + MAX_ORDER_NR_PAGES - e);
		}
		return;
	}
	if (pfn > start)
		free_pfn_range_to_buddy(pgdat->host, start, pfn - start);
	if (pfn + nr <= last)
		free_pfn_range_to_buddy(pgdat->host, pfn + nr, last - (pfn + nr) + 1);
}

/* Take [pfn, pfn + nr) out of the free lists; all of it must be free. */
int alloc_contig_pfn_range(struct host *host, unsigned long pfn, unsigned long nr)
{
	unsigned long p = pfn, end = pfn + nr;

	if (!nr || end > host->max_pfn || host_node_of_pfn(host, pfn) != host_node_of_pfn(host, end - 1))
		return -EINVAL;
	/* Check first, so that nothing is half-taken on failure. */
	while (p < end) {
		struct free_block *b = block_at(pfn_pgdat(host, p), p);

		if (!b)
			return -EBUSY;
		p = b->node.last + 1;
	}
	while (pfn < end) {
		struct pglist_data *pgdat = pfn_pgdat(host, pfn);
		struct free_block *b = block_at(pgdat, pfn);
		unsigned long e = min(end, b->node.last + 1);

		carve_block(pgdat, b, pfn, e - pfn);
		pfn = e;
	}
	return 0;
}

long find_free_contig_range(const struct host *host, int nid, unsigned int order)
{
	const struct pglist_data *pgdat = &host->nodes[nid];
	unsigned long nr = 1UL << order;
	struct range_node *n;

	/* Highest address first: boot-time gigantic pages come from the top. */
	for (n = rangemap_last(&pgdat->free_blocks); n; n = rangemap_prev(n)) {
		unsigned long s = n->start, e = n->last + 1, cand;

		/* Extend over adjacent free blocks downwards is not needed for order <= MAX. */
		if (order <= MAX_PAGE_ORDER) {
			const struct free_block *b = container_of(n, struct free_block, node);

			if (b->order >= order)
				return (long)ALIGN_DOWN(e - nr, nr);
			continue;
		}
		/* Gigantic: a run of max-order ranges; ranges are merged, so one suffices. */
		cand = ALIGN_DOWN(e - nr, nr);
		if (e >= nr && cand >= s)
			return (long)cand;
	}
	return -ENOMEM;
}

struct folio *folio_new(struct host *host, unsigned long pfn, unsigned int order,
			enum folio_owner owner, gfp_t gfp)
{
	struct folio *f = kzalloc(sizeof(*f), gfp);
	int ret;

	if (!f)
		return NULL;
	f->host = host;
	f->order = order;
	f->nr_pages = 1UL << order;
	f->owner = owner;
	f->nid = host_node_of_pfn(host, pfn);
	f->pfn_node.start = pfn;
	f->pfn_node.last = pfn + f->nr_pages - 1;
	INIT_LIST_HEAD(&f->rmap);
	INIT_LIST_HEAD(&f->lru);
	INIT_LIST_HEAD(&f->raw_hwp_list);
	/* Being built, out of every other thread's reach: a plain store. */
	if (order && owner != FOLIO_OWNER_KERNEL_HIGH_ORDER)
		f->flags |= 1UL << PG_head;
	ret = rangemap_insert(&host->memmap, &f->pfn_node);
	if (WARN_ON(host, ret)) {
		kfree(f);
		return NULL;
	}
	host->nr_folios++;
	return f;
}

void folio_destroy(struct folio *folio)
{
	struct host *host = folio->host;

	rangemap_erase(&host->memmap, &folio->pfn_node);
	host->nr_folios--;
	folio_free(folio);
}

void folio_free(struct folio *folio)
{
	struct host *host = folio->host;

	if (!sync_hooks_installed) {
		kfree(folio);
		return;
	}
	folio_set_count(folio, 0);
	folio->dead_next = host->dead_folios;
	host->dead_folios = folio;
}

struct folio *folio_alloc_node(struct host *host, int nid, unsigned int order,
			       enum folio_owner owner)
{
	for (int i = 0; i < host->nr_nodes; i++) {
		struct pglist_data *pgdat = &host->nodes[(nid + i) % host->nr_nodes];

		for (unsigned int o = order; o < NR_PAGE_ORDERS; o++) {
			struct free_block *b;
			unsigned long pfn;
			struct folio *f;

			b = list_first_entry_or_null(&pgdat->free_area[o].free_list,
						     struct free_block, list);
			if (!b)
				continue;
			pfn = b->node.start;
			carve_block(pgdat, b, pfn, 1UL << order);
			f = folio_new(host, pfn, order, owner, __GFP_NOFAIL);
			atomic_set(&f->_refcount, 1);
			return f;
		}
	}
	return NULL;
}

struct folio *alloc_kernel_pages(struct host *host, int nid, unsigned int order,
				 enum pagetype type, enum folio_owner owner)
{
	struct folio *f = folio_alloc_node(host, nid, order, owner);

	if (!f)
		return NULL;
	f->page_type = type;
	f->extra_refs = 1;	/* the kernel user's reference */
	return f;
}

/*
 * The last reference is gone: give the memory back. Models
 * free_frozen_pages() with free_pages_prepare()'s poison check.
 */
void free_frozen_pages(struct folio *folio)
{
	struct host *host = folio->host;
	unsigned long pfn = folio_pfn(folio), nr = folio_nr_pages(folio);

	if (folio->page_type == PGTY_guestmem_hugetlb) {
		/* A piece of a split HugeTLB folio goes back to its huge page, not to buddy. */
		guestmem_hugetlb_free_piece(folio);
		return;
	}
	if (!folio_test_large(folio) && folio_test_hwpoison(folio)) {
		/* A poisoned order-0 page is never freed to buddy: it is dropped. */
		folio->owner = FOLIO_OWNER_LEAKED;
		folio->flags = 0;
		folio->page_type = PGTY_none;
		folio->mapping = NULL;
		folio->anon_vma = NULL;
		host->nr_leaked_pages++;
		return;
	}
	folio_destroy(folio);
	free_pfn_range_to_buddy(host, pfn, nr);
}

bool take_page_off_buddy(struct page *page)
{
	struct host *host = page->host;
	unsigned long pfn = page_to_pfn(page);
	struct pglist_data *pgdat = pfn_pgdat(host, pfn);
	struct free_block *b = pgdat ? block_at(pgdat, pfn) : NULL;
	struct folio *f;

	if (!b) {
		/*
		 * Already kept out of buddy when it was freed poisoned. A folio
		 * leaked whole (unreliable HugeTLB raw list) never reached buddy.
		 */
		f = pfn_folio_lookup(host, pfn);
		if (!f || f->owner != FOLIO_OWNER_LEAKED || folio_nr_pages(f) != 1)
			return false;
		f->owner = FOLIO_OWNER_HWPOISON;
		host->nr_leaked_pages--;
	} else {
		carve_block(pgdat, b, pfn, 1);
		f = folio_new(host, pfn, 0, FOLIO_OWNER_HWPOISON, __GFP_NOFAIL);
	}
	page->private = MAGIC_HWPOISON;	/* SetPageHWPoisonTakenOff() */
	return true;
}

bool put_page_back_buddy(struct page *page)
{
	struct folio *f = page_folio(page);

	if (!f || f->owner != FOLIO_OWNER_HWPOISON || page->private != MAGIC_HWPOISON)
		return false;
	if (!TestClearPageHWPoison(page))
		return false;
	page->private = 0;
	folio_destroy(f);
	free_pfn_range_to_buddy(page->host, page_to_pfn(page), 1);
	return true;
}

unsigned long node_free_pages(const struct host *host, int nid)
{
	return host->nodes[nid].nr_free_pages;
}
