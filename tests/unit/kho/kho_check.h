/* SPDX-License-Identifier: MIT */
/*
 * Checks shared by the KHO tests: a snapshot of a host's whole page state
 * (to show that a failed call changed nothing), the allocator's live count
 * net of trace messages, and the comparison of a guest_memfd with the one
 * retrieved from it after a live update.
 *
 * Snapshots use libc memory, so that they stay out of the instrumented
 * allocator's counts and fault injection.
 */
#ifndef GMF_TESTS_KHO_CHECK_H
#define GMF_TESTS_KHO_CHECK_H

#include <stdint.h>
#include <stdlib.h>

#include "kvm/attr.h"
#include "kvm/kvm.h"
#include "tests/harness/t_model.h"

struct kc_snap {
	u64 *v;
	size_t n, cap;
};

static inline void kc_put(struct kc_snap *s, u64 x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = x;
}

static inline unsigned long kc_list_len(const struct list_head *head)
{
	const struct list_head *p;
	unsigned long n = 0;

	for (p = head->next; p != head; p = p->next)
		n++;
	return n;
}

static inline void kc_cgroup(struct kc_snap *s, const struct cgroup *c)
{
	kc_put(s, c->memcg.memory.usage);
	for (int i = 0; i < HUGE_MAX_HSTATE; i++)
		kc_put(s, c->h_cg.hugepage[i].usage);
}

/* Every folio, every struct page, the pools, counters, charges and KVM's objects of @host. */
static inline void kc_snap_take(struct host *host, struct kc_snap *s)
{
	struct range_node *n;
	struct cgroup *c;

	s->n = 0;
	for (n = rangemap_first(&host->memmap); n; n = rangemap_next(n)) {
		const struct folio *f = container_of(n, struct folio, pfn_node);

		kc_put(s, n->start);
		kc_put(s, f->nr_pages);
		kc_put(s, (u64)f->owner << 32 | (u64)f->page_type << 16 | f->order);
		kc_put(s, f->flags);
		kc_put(s, (u64)(u32)atomic_read(&f->_refcount) << 32 | (u32)f->mf_pins);
		kc_put(s, (u64)(u32)f->extra_refs << 32 | (u32)f->_pincount);
		kc_put(s, f->mapping ? f->index + 1 : 0);
		kc_put(s, (u64)(uintptr_t)f->memcg ^ (u64)(uintptr_t)f->h_cg ^ (u64)(uintptr_t)f->hstate);
		kc_put(s, kc_list_len(&f->raw_hwp_list));
	}
	kc_put(s, ~0ULL);
	for (n = rangemap_first(&host->pages); n; n = rangemap_next(n)) {
		const struct page *p = container_of(n, struct page, node);

		kc_put(s, n->start);
		kc_put(s, p->flags);
		kc_put(s, p->private);
		kc_put(s, (u64)p->hw_bad << 2 | (u64)p->mf_unmapped << 1 | p->mf_handled);
	}
	kc_put(s, ~0ULL);
	for (n = rangemap_first(&host->guestmem_splits); n; n = rangemap_next(n))
		kc_put(s, n->start);
	for (int nid = 0; nid < host->nr_nodes; nid++)
		kc_put(s, node_free_pages(host, nid));
	for (int i = 0; i < HUGE_MAX_HSTATE; i++) {
		const struct hstate *h = &host->hstates[i];

		kc_put(s, h->nr_huge_pages);
		kc_put(s, h->free_huge_pages);
		kc_put(s, h->resv_huge_pages);
		kc_put(s, h->surplus_huge_pages);
	}
	kc_put(s, (u64)atomic_long_read(&host->num_poisoned_pages));
	kc_put(s, host->nr_leaked_pages);
	kc_put(s, host->nr_folios);
	kc_put(s, kc_list_len(&host->files));
	kc_cgroup(s, &host->root_cgroup);
	list_for_each_entry(c, &host->cgroups, node)
		kc_cgroup(s, c);
	if (host->kvm_state) {
		struct kvm_state *ks = host->kvm_state;
		struct kvm *kvm;

		list_for_each_entry(kvm, &ks->vms, node) {
			kc_put(s, (u64)kvm->users);
			kc_put(s, kc_list_len(&kvm->gmems));
		}
	}
}

static inline void kc_snap_free(struct kc_snap *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* The first position where @a and @b differ, or -1. */
static inline long kc_snap_diff(const struct kc_snap *a, const struct kc_snap *b)
{
	size_t n = min(a->n, b->n);

	for (size_t i = 0; i < n; i++)
		if (a->v[i] != b->v[i])
			return (long)i;
	return a->n == b->n ? -1 : (long)n;
}

/* Objects the allocator holds, less the messages @t stores (a failure path may add a note). */
static inline long kc_live(const struct trace *t)
{
	long live = kmalloc_live();

	for (unsigned long i = 0; t && i < t->nr; i++)
		live -= t->ev[i].message != NULL;
	return live;
}

/*
 * Whether the raw page @pfn is poisoned, as the host counts it: a HugeTLB
 * folio's raw list, a copy-head split's stash, else PG_hwpoison.
 */
static inline bool kc_raw_poisoned(struct host *host, unsigned long pfn)
{
	const struct guestmem_split *gs = guestmem_split_lookup(host, pfn);
	const struct folio *f = pfn_folio_lookup(host, pfn);
	const struct page *p = page_lookup(host, pfn);
	const struct raw_hwp_page *r;

	if (gs && gs->hwpoison) {
		list_for_each_entry(r, &gs->raw_hwp_list, node)
			if (page_to_pfn(r->page) == pfn)
				return true;
		return false;
	}
	if (f && folio_test_hugetlb(f)) {
		if (!folio_test_hwpoison(f))
			return false;
		list_for_each_entry(r, &f->raw_hwp_list, node)
			if (page_to_pfn(r->page) == pfn)
				return true;
		return false;
	}
	return p && PageHWPoison(p);
}

/*
 * @b (on @hb), retrieved from @a (on @ha), holds the same state: size,
 * flags, every folio (index, pfn, order, uptodate, dirty, type), the
 * attributes, the split pages and their pieces, the poisoned pages.
 */
static inline void kc_expect_same_gmem(struct host *ha, struct kvm_gmem *a, struct host *hb,
				       struct kvm_gmem *b)
{
	struct address_space *ma = &a->file->f_mapping, *mb = &b->file->f_mapping;
	unsigned long pages = (unsigned long)(a->file->i_size >> PAGE_SHIFT);
	struct range_node *n;

	EXPECT_EQ(b->file->i_size, a->file->i_size);
	EXPECT_EQ(b->flags, a->flags);
	EXPECT_EQ(mb->nrpages, ma->nrpages);
	for (n = rangemap_first(&ma->i_pages); n; n = rangemap_next(n)) {
		const struct folio *f = container_of(n, struct folio, cache_node);
		const struct folio *f2 = filemap_get_folio(mb, f->index);

		ASSERT_TRUE(f2 != NULL);
		EXPECT_EQ(folio_pfn(f2), folio_pfn(f));
		EXPECT_EQ(f2->index, f->index);
		EXPECT_EQ(f2->order, f->order);
		EXPECT_EQ(folio_test_dirty(f2), folio_test_dirty(f));
		EXPECT_EQ(folio_test_uptodate(f2), folio_test_uptodate(f));
		EXPECT_EQ(f2->page_type, f->page_type);
		for (unsigned long i = 0; i < folio_nr_pages(f); i++)
			EXPECT_EQ(kc_raw_poisoned(hb, folio_pfn(f) + i), kc_raw_poisoned(ha, folio_pfn(f) + i));
	}
	for (n = rangemap_first(&mb->i_pages); n; n = rangemap_next(n))
		EXPECT_TRUE(filemap_get_folio(ma, n->start) != NULL);
	for (unsigned long i = 0; i < pages; i++)
		EXPECT_EQ(attr_test(&b->private, i), attr_test(&a->private, i));
	for (n = rangemap_first(&ma->guestmem_splits); n; n = rangemap_next(n)) {
		const struct guestmem_split *gs = container_of(n, struct guestmem_split, file_node);
		const struct guestmem_split *gs2 = guestmem_split_find(mb, n->start);
		unsigned long head = gs->node.start;

		ASSERT_TRUE(gs2 != NULL);
		EXPECT_EQ(gs2->node.start, head);
		EXPECT_EQ(gs2->order, gs->order);
		EXPECT_EQ(gs2->index, gs->index);
		EXPECT_EQ(gs2->nr_free, gs->nr_free);
		EXPECT_EQ(gs2->spool != NULL, gs->spool != NULL);
		for (unsigned long i = 0; i < 1UL << gs->order; i++) {
			const struct folio *p = pfn_folio_lookup(ha, head + i);
			const struct folio *p2 = pfn_folio_lookup(hb, head + i);

			ASSERT_TRUE(p2 != NULL);
			EXPECT_EQ(p2->owner, p->owner);
			EXPECT_EQ(p2->mapping != NULL, p->mapping != NULL);
			EXPECT_EQ(kc_raw_poisoned(hb, head + i), kc_raw_poisoned(ha, head + i));
		}
	}
	for (n = rangemap_first(&mb->guestmem_splits); n; n = rangemap_next(n))
		EXPECT_TRUE(guestmem_split_find(ma, n->start) != NULL);
}

#endif
