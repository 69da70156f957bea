// SPDX-License-Identifier: MIT
/*
 * Stage-2 page tables and the guest fault path: what KVM_RUN returns when
 * the guest touches memory, poisoned or not.
 *
 * Models: arch/x86/kvm/mmu/mmu.c: kvm_mmu_faultin_pfn(),
 * kvm_mmu_faultin_pfn_gmem(), kvm_mmu_prepare_memory_fault_exit(),
 * kvm_handle_error_pfn(), kvm_send_hwpoison_signal(); KVM Userfault's
 * kvm_do_userfault() and 4K mappings in userfault slots (v3 of the series,
 * patches 04-06; see kvm.h).
 *
 * MODEL: the guest is not executed; an access is the unit. An access that
 * consumes poison is handed to the arch front end (a #MC VM exit on x86).
 * Stage-2 entries map 4K, or a whole folio when the gfn range and the folio
 * line up inside the memslot.
 */
#include "kvm/attr.h"
#include "kvm/kvm.h"

struct kvm_spte *kvm_spte_lookup(struct kvm *kvm, gfn_t gfn)
{
	struct range_node *n = rangemap_find(&kvm->stage2, (unsigned long)gfn);

	return n ? container_of(n, struct kvm_spte, node) : NULL;
}

void kvm_mmu_unmap_gfn_range(struct kvm *kvm, gfn_t start, gfn_t end, enum kvm_filter filter)
{
	struct range_node *n, *tmp;

	if (end <= start)
		return;
	spin_lock(&kvm->mmu_lock);
	atomic_long_inc(&kvm->mmu_invalidate_seq);
	rangemap_for_each_in(&kvm->stage2, n, tmp, (unsigned long)start, (unsigned long)(end - 1)) {
		struct kvm_spte *s = container_of(n, struct kvm_spte, node);

		if ((filter == KVM_FILTER_SHARED && s->private) ||
		    (filter == KVM_FILTER_PRIVATE && !s->private))
			continue;
		rangemap_erase(&kvm->stage2, n);
		kfree(s);
	}
	spin_unlock(&kvm->mmu_lock);
}

static int kvm_map_spte(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
			unsigned long pfn, unsigned int order, bool private, bool write)
{
	struct kvm_spte *s = kzalloc(sizeof(*s), GFP_KERNEL);
	unsigned long nr = 1UL << order;
	gfn_t base = gfn & ~((gfn_t)nr - 1);

	if (!s)
		return -ENOMEM;
	/* A huge mapping needs the whole range inside the slot. */
	if (order && (base < slot->base_gfn || base + nr > slot->base_gfn + slot->npages)) {
		order = 0;
		nr = 1;
		base = gfn;
	}
	s->node.start = (unsigned long)base;
	s->node.last = (unsigned long)(base + nr - 1);
	s->pfn = pfn - (unsigned long)(gfn - base);
	s->order = order;
	s->private = private;
	s->writable = write;
	if (rangemap_insert(&kvm->stage2, &s->node)) {
		kfree(s);
		return -EEXIST;
	}
	return 0;
}

/* kvm_mmu_prepare_memory_fault_exit(): the exit that comes with an error return. */
static int memory_fault_exit(struct kvm_vcpu *vcpu, gfn_t gfn, bool private, int err)
{
	vcpu->run.exit_reason = KVM_EXIT_MEMORY_FAULT;
	vcpu->run.memory_fault.gpa = gfn << PAGE_SHIFT;
	vcpu->run.memory_fault.size = PAGE_SIZE;
	/* arm64's gmem_abort() never sets the private flag. */
	vcpu->run.memory_fault.flags = private && vcpu->kvm->host->arch == ARCH_X86 ?
				       KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
	vcpu->kvm->nr_exits++;
	return err;
}

/*
 * Models kvm_do_userfault(), called at the top of __kvm_mmu_faultin_pfn()
 * on x86 (before the private/shared split, so private faults too) and
 * before __kvm_faultin_pfn() in arm64's user_mem_abort(): a fault on a gfn
 * whose bit is set in the slot's bitmap exits to userspace instead of
 * faulting the page in. True means exit with -EFAULT: a memory-fault exit
 * with KVM_MEMORY_EXIT_FLAG_USERFAULT, or, when the bitmap cannot be read,
 * a bare -EFAULT with no exit set up.
 */
static bool kvm_do_userfault(struct kvm_vcpu *vcpu, struct kvm_memory_slot *slot, gfn_t gfn,
			     bool private)
{
	unsigned long offset, chunk;

	if (!kvm_is_userfault_memslot(slot))
		return false;
	if (!slot->userfault_bitmap)
		return true;	/* __get_user() failed */
	offset = (unsigned long)(gfn - slot->base_gfn);
	chunk = slot->userfault_bitmap[offset / BITS_PER_LONG];
	if (!test_bit((unsigned int)(offset % BITS_PER_LONG), &chunk))
		return false;
	(void)memory_fault_exit(vcpu, gfn, private, -EFAULT);
	vcpu->run.memory_fault.flags |= KVM_MEMORY_EXIT_FLAG_USERFAULT;
	return true;
}

static int exit_intr(struct kvm_vcpu *vcpu)
{
	vcpu->run.exit_reason = KVM_EXIT_INTR;
	return -EINTR;
}

bool kvm_vcpu_signal_pending(const struct kvm_vcpu *vcpu)
{
	struct kernel_siginfo *si;

	list_for_each_entry(si, &vcpu->thread->pending, node)
		if (!si->delivered)
			return true;
	return false;
}

/* Fault in gfn and map it in stage-2. 0, or what KVM_RUN returns. */
static int kvm_tdp_fault(struct kvm_vcpu *vcpu, struct kvm_memory_slot *slot, gfn_t gfn,
			 bool write, bool private)
{
	struct kvm *kvm = vcpu->kvm;
	unsigned long pfn;
	long mmu_seq;
	int max_order, ret;

retry:
	max_order = 0;
	mmu_seq = atomic_long_read(&kvm->mmu_invalidate_seq);
	if (kvm_do_userfault(vcpu, slot, gfn, private))
		return -EFAULT;
	if (private || slot->gmem.gmem_only) {
		ret = kvm_gmem_get_pfn(kvm, slot, gfn, &pfn, &max_order);
		if (ret)
			return memory_fault_exit(vcpu, gfn, private, ret);
	} else {
		unsigned long hva = slot->userspace_addr + ((unsigned long)(gfn - slot->base_gfn) << PAGE_SHIFT);
		enum access_result r;
		struct folio *f;

		/* hva_to_pfn(): GUP in the vCPU thread's context. */
		r = get_user_page(vcpu->thread, hva, write, &pfn);
		if (r == ACCESS_SIGBUS) {
			struct pte_entry *pte = vcpu->thread->mm ? pte_lookup(vcpu->thread->mm, hva) : NULL;

			if (pte && pte->kind == PTE_HWPOISON) {
				/*
				 * KVM_PFN_ERR_HWPOISON: kvm_send_hwpoison_signal(), then retry.
				 * x86 reports PAGE_SHIFT; arm64's user_mem_abort() the VMA's
				 * mapping shift.
				 */
				unsigned int lsb = vcpu->kvm->host->arch == ARCH_ARM64 ? pte->shift : PAGE_SHIFT;

				send_sig_mceerr(BUS_MCEERR_AR, hva & ~((1UL << lsb) - 1), (short)lsb, vcpu->thread);
				return exit_intr(vcpu);
			}
			return memory_fault_exit(vcpu, gfn, false, -EFAULT);
		}
		if (r != ACCESS_OK && r != ACCESS_CONSUMED_POISON)
			return memory_fault_exit(vcpu, gfn, false, -EFAULT);
		f = pfn_folio_lookup(kvm->host, pfn);
		if (f && folio_test_large(f) && ((pfn - folio_pfn(f)) == ((gfn) & (folio_nr_pages(f) - 1))))
			max_order = (int)folio_order(f);
	}
	/*
	 * While KVM_MEM_USERFAULT is set only 4K mappings are made
	 * (kvm_mmu_hugepage_adjust() on x86, force_pte on arm64), so that a
	 * fault on a page the VMM has not marked never maps one it has.
	 */
	if (kvm_is_userfault_memslot(slot))
		max_order = 0;
	/*
	 * kvm_release_faultin_page(): a page mapped writable is marked dirty,
	 * guest_memfd's included.
	 */
	if (!(slot->flags & KVM_MEM_READONLY)) {
		struct folio *f = pfn_folio_lookup(kvm->host, pfn);

		if (f)
			folio_set_dirty(f);
	}
	spin_lock(&kvm->mmu_lock);
	if (atomic_long_read(&kvm->mmu_invalidate_seq) != mmu_seq) {
		/* A zap since the lookup: the pfn may be stale (is_page_fault_stale()). */
		spin_unlock(&kvm->mmu_lock);
		goto retry;
	}
	ret = kvm_map_spte(kvm, slot, gfn, pfn, (unsigned int)max_order, private, write);
	spin_unlock(&kvm->mmu_lock);
	return ret == -EEXIST ? 0 : ret;
}

int kvm_vcpu_guest_access(struct kvm_vcpu *vcpu, u64 gpa, bool write, int private,
			  unsigned long *pfnp)
{
	struct kvm *kvm = vcpu->kvm;
	gfn_t gfn = gpa >> PAGE_SHIFT;
	struct kvm_memory_slot *slot;
	struct task_struct *saved;
	struct kvm_spte *s;
	bool attr_private, is_private;
	unsigned long pfn;
	struct page *p;
	int ret;

	vcpu->run.exit_reason = KVM_EXIT_UNKNOWN;
	if (kvm->bugged)
		return -EIO;
	if (!vcpu->thread || vcpu->thread->exited)
		return -ESRCH;
	slot = gfn_to_memslot(kvm, gfn);
	if (!slot) {
		vcpu->run.exit_reason = KVM_EXIT_MMIO;
		vcpu->run.mmio.phys_addr = gpa;
		vcpu->run.mmio.is_write = write;
		return 0;
	}
	attr_private = kvm_mem_is_private(kvm, gfn);
	is_private = private < 0 ? attr_private : private;
	if (is_private != attr_private)
		return memory_fault_exit(vcpu, gfn, is_private, -EFAULT);
	s = kvm_spte_lookup(kvm, gfn);
	if (!s || s->private != is_private || (write && !s->writable)) {
		if (s)
			kvm_mmu_unmap_gfn_range(kvm, s->node.start, s->node.last + 1, KVM_FILTER_ALL);
		/* The fault runs in the vCPU thread: its allocations are charged to its cgroup. */
		saved = kvm->host->current;
		kvm->host->current = vcpu->thread;
		ret = kvm_tdp_fault(vcpu, slot, gfn, write, is_private);
		kvm->host->current = saved;
		if (ret || vcpu->run.exit_reason)
			return ret;
		s = kvm_spte_lookup(kvm, gfn);
		if (!s)
			return -ENOMEM;
	}
	pfn = s->pfn + (unsigned long)(gfn - s->node.start);
	p = page_lookup(kvm->host, pfn);
	if (!p || !p->hw_bad)
		return 0;	/* the access completes; the guest goes on */
	*pfnp = pfn;
	return KVM_ACCESS_MACHINE_CHECK;
}
