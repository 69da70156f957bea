// SPDX-License-Identifier: MIT
/*
 * Invariants of the KVM model: stage-2 entries lie in memslots and never map
 * a page memory_failure() has handled, nor a guest_memfd page its file no
 * longer holds; private memory comes from
 * guest_memfd and is never mapped into userspace; a KVM_MEM_USERFAULT slot
 * has only 4K stage-2 entries.
 */
#include "kvm/attr.h"
#include "kvm/kvm.h"

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

#define BROKEN(host, fmt, ...) ({						\
	trace_note((host)->trace, "invariant broken: " fmt, ##__VA_ARGS__);	\
	-EUCLEAN; })

static int validate_vm(struct kvm *kvm)
{
	struct host *host = kvm->host;
	struct range_node *n;

	if (rangemap_validate(&kvm->stage2) || rangemap_validate(&kvm->memslots))
		return BROKEN(host, "vm%d: stage-2 or memslot tree corrupt", kvm->id);
	for (n = rangemap_first(&kvm->stage2); n; n = rangemap_next(n)) {
		struct kvm_spte *s = container_of(n, struct kvm_spte, node);
		struct kvm_memory_slot *slot = gfn_to_memslot(kvm, n->start);

		if (!slot || n->last > slot->node.last)
			return BROKEN(host, "vm%d: stage-2 entry for gfn %#lx outside any memslot", kvm->id,
				      n->start);
		if (s->private && !(slot->flags & KVM_MEM_GUEST_MEMFD))
			return BROKEN(host, "vm%d: private stage-2 entry for gfn %#lx without guest_memfd",
				      kvm->id, n->start);
		if ((s->private || slot->gmem.gmem_only) && slot->gmem.file) {
			const struct folio *f = pfn_folio_lookup(host, s->pfn);

			if (!f || f->mapping != &slot->gmem.file->f_mapping ||
			    s->pfn + (1UL << s->order) > folio_pfn(f) + folio_nr_pages(f))
				return BROKEN(host, "vm%d: stage-2 maps gfn %#lx to pfn %#lx, which its "
					      "guest_memfd does not hold", kvm->id, n->start, s->pfn);
		}
		if (s->order && kvm_is_userfault_memslot(slot))
			return BROKEN(host, "vm%d: order-%u stage-2 entry for gfn %#lx in a KVM_MEM_USERFAULT slot",
				      kvm->id, s->order, n->start);
		if (kvm->bugged)
			continue;
		for (unsigned long i = 0; i < (1UL << s->order); i++) {
			const struct page *p = page_lookup(host, s->pfn + i);

			if (p && p->mf_handled && PageHWPoison(p))
				return BROKEN(host, "vm%d: stage-2 maps gfn %#lx to pfn %#lx, poisoned and "
					      "handled by memory_failure()", kvm->id, n->start + i, s->pfn + i);
		}
	}
	return 0;
}

static int validate_gmem(struct kvm_gmem *gmem)
{
	struct host *host = gmem->kvm->host;
	struct range_node *n;

	if (rangemap_validate(&gmem->private))
		return BROKEN(host, "guest_memfd attributes corrupt");
	for (n = rangemap_first(&gmem->file->f_mapping.i_pages); n; n = rangemap_next(n)) {
		struct folio *f = container_of(n, struct folio, cache_node);
		struct pte_entry *pte;

		list_for_each_entry(pte, &f->rmap, rmap) {
			pgoff_t index = f->index + (pte->pfn - folio_pfn(f));

			if (attr_test(&gmem->private, index))
				return BROKEN(host, "private guest_memfd page %lu is mapped into userspace at %#lx",
					      index, pte->addr);
		}
	}
	return 0;
}

int kvm_validate_all(struct host *host)
{
	struct kvm_state *ks = host->kvm_state;
	struct kvm *kvm;
	int ret;

	if (!ks)
		return 0;
	list_for_each_entry(kvm, &ks->vms, node) {
		struct kvm_gmem *g;

		ret = validate_vm(kvm);
		if (ret)
			return ret;
		list_for_each_entry(g, &kvm->gmems, node) {
			ret = validate_gmem(g);
			if (ret)
				return ret;
		}
	}
	return 0;
}
