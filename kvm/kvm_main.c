// SPDX-License-Identifier: MIT
/*
 * VMs, vCPUs, memslots and VM-level memory attributes.
 *
 * Models: virt/kvm/kvm_main.c: kvm_create_vm(), kvm_vm_ioctl_create_vcpu(),
 * kvm_set_memory_region() with check_memory_region_flags(),
 * kvm_vm_ioctl_set_mem_attributes(); KVM Userfault (v3 of the series, see
 * kvm.h): the memslot flag, kvm_arch_userfault_enabled().
 *
 * MODEL: an existing memslot can be deleted (memory_size 0) or have its
 * flags changed, not be moved or resized; at most 64 slots per address
 * space. A VM fd is not a file: kvm_destroy_vm() stands for its last close.
 */
#include <string.h>

#include "kvm/attr.h"
#include "kvm/kvm.h"

const char *const gmem_mf_stage_names[__NR_GMEM_MF_STAGES] = {
	[GMEM_MF_EVENTUAL] = "eventual",
	[GMEM_MF_INITIAL] = "initial",
};

const char *const gmem_mf_kill_names[__NR_GMEM_MF_KILLS] = {
	[GMEM_MF_KILL_SIGBUS] = "sigbus",
	[GMEM_MF_KILL_CURRENT] = "sigkill_current",
};

const char *const tdx_bug_policy_names[__NR_TDX_BUG_POLICIES] = {
	[TDX_BUG_HWPOISON] = "hwpoison",
	[TDX_BUG_BUGGY_CLEANUP] = "buggy_cleanup",
};

/*
 * Models kvm_mmu_notifier_invalidate_range_start(): user mappings of the
 * VMM are going away, so stage-2 entries made from them go too.
 */
static void kvm_mmu_notifier(struct host *host, struct mm_struct *mm, unsigned long start,
			     unsigned long end)
{
	struct kvm_state *ks = host->kvm_state;
	struct kvm *kvm;

	list_for_each_entry(kvm, &ks->vms, node) {
		struct range_node *n;

		if (!kvm->vmm || kvm->vmm->mm != mm)
			continue;
		for (n = rangemap_first(&kvm->memslots); n; n = rangemap_next(n)) {
			struct kvm_memory_slot *slot = container_of(n, struct kvm_memory_slot, node);
			unsigned long s = slot->userspace_addr;
			unsigned long e = s + (slot->npages << PAGE_SHIFT);

			if (slot->gmem.gmem_only || e <= start || s >= end)
				continue;
			s = max(s, start);
			e = min(e, end);
			kvm_mmu_unmap_gfn_range(kvm,
				slot->base_gfn + ((s - slot->userspace_addr) >> PAGE_SHIFT),
				slot->base_gfn + ((e - slot->userspace_addr + PAGE_SIZE - 1) >> PAGE_SHIFT),
				KVM_FILTER_SHARED);
		}
	}
}

struct kvm_state *kvm_state(struct host *host)
{
	struct kvm_state *ks = host->kvm_state;

	if (!ks) {
		ks = kzalloc(sizeof(*ks), __GFP_NOFAIL);
		INIT_LIST_HEAD(&ks->vms);
		host->kvm_state = ks;
		host->mmu_notifier = kvm_mmu_notifier;
	}
	return ks;
}

void kvm_host_teardown(struct host *host)
{
	struct kvm_state *ks = host->kvm_state;
	struct task_struct *t;

	if (!ks)
		return;
	/* Processes go first: their mappings hold guest_memfd files. */
	list_for_each_entry(t, &host->tasks, tasks)
		if (t->group_leader == t && !t->exited)
			do_exit(t, 0);
	while (!list_empty(&ks->vms)) {
		struct kvm *kvm = list_first_entry(&ks->vms, struct kvm, node);
		struct kvm_gmem *g, *gtmp;

		kvm->users++;	/* hold it while its files close */
		list_for_each_entry_safe(g, gtmp, &kvm->gmems, node)
			if (g->fd_open)
				kvm_gmem_close(g);
		if (kvm->fd_open)
			kvm_vm_close(kvm);
		kvm_destroy_vm(kvm);
	}
	kfree(ks);
	host->kvm_state = NULL;
	host->mmu_notifier = NULL;
}

/*
 * KVM_BUG_ON() on a confidential VM, as seed 001 proposes for TDX. The TDX
 * module may still touch private pages, so they must never be handed out
 * again. "hwpoison": the private pages still mapped in the secure EPT are
 * marked HWPoison directly, with no memory_failure() call; guest_memfd then
 * refuses them on every fault and at free time. "buggy_cleanup" (the
 * alternative in the same thread): one callback bugs the whole file and
 * hands every page of it to memory_failure().
 */
void kvm_vm_bugged(struct kvm *kvm)
{
	struct kvm_state *ks = kvm_state(kvm->host);
	struct range_node *n;
	unsigned long marked = 0;

	kvm->bugged = true;
	if (!kvm_arch_has_private_mem(kvm))
		return;
	if (ks->tdx_bug_policy == TDX_BUG_BUGGY_CLEANUP) {
		struct kvm_gmem *g;
		struct task_struct *saved = kvm->host->current;

		kvm->host->current = NULL;
		list_for_each_entry(g, &kvm->gmems, node) {
			struct range_node *c, *tmp;

			g->failed = true;
			rangemap_for_each(&g->file->f_mapping.i_pages, c, tmp) {
				struct folio *f = container_of(c, struct folio, cache_node);
				unsigned long pfn = folio_pfn(f), nr = folio_nr_pages(f);

				for (unsigned long i = 0; i < nr; i++, marked++)
					(void)memory_failure(kvm->host, pfn + i, 0);
			}
		}
		kvm->host->current = saved;
		trace_note(kvm->host->trace, "vm%d: KVM_BUG_ON: buggy cleanup handed %lu pages to memory_failure()",
			   kvm->id, marked);
		return;
	}
	for (n = rangemap_first(&kvm->stage2); n; n = rangemap_next(n)) {
		struct kvm_spte *s = container_of(n, struct kvm_spte, node);

		if (!s->private)
			continue;
		for (unsigned long i = 0; i < (1UL << s->order); i++, marked++)
			hwpoison_mark_page(pfn_to_page(kvm->host, s->pfn + i));
	}
	trace_note(kvm->host->trace, "vm%d: KVM_BUG_ON: %lu private pages marked HWPoison", kvm->id,
		   marked);
}

bool kvm_arch_has_private_mem(const struct kvm *kvm)
{
	return kvm->type != KVM_X86_DEFAULT_VM;
}

struct kvm *kvm_create_vm(struct host *host, struct task_struct *vmm, unsigned long type, int *errp)
{
	struct kvm_state *ks = kvm_state(host);
	struct kvm *kvm;

	*errp = 0;
	if (type != KVM_X86_DEFAULT_VM && type != KVM_X86_SW_PROTECTED_VM &&
	    type != KVM_X86_SNP_VM && type != KVM_X86_TDX_VM) {
		*errp = -EINVAL;
		return NULL;
	}
	kvm = kzalloc(sizeof(*kvm), GFP_KERNEL);
	if (!kvm) {
		*errp = -ENOMEM;
		return NULL;
	}
	kvm->host = host;
	kvm->id = ks->next_vm_id++;
	kvm->type = type;
	kvm->vmm = vmm;
	kvm->users = 1;
	kvm->fd_open = true;
	rangemap_init(&kvm->memslots);
	rangemap_init(&kvm->mem_attr);
	rangemap_init(&kvm->stage2);
	INIT_LIST_HEAD(&kvm->vcpus);
	INIT_LIST_HEAD(&kvm->gmems);
	mutex_init(&kvm->slots_lock, "slots_lock");
	spin_lock_init(&kvm->mmu_lock, "mmu_lock");
	list_add_tail(&kvm->node, &ks->vms);
	return kvm;
}

static void kvm_delete_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_mmu_unmap_gfn_range(kvm, slot->base_gfn, slot->base_gfn + slot->npages, KVM_FILTER_ALL);
	if (slot->flags & KVM_MEM_GUEST_MEMFD)
		kvm_gmem_unbind(slot);
	rangemap_erase(&kvm->memslots, &slot->node);
	kvm->slots[slot->as_id][slot->id] = NULL;
	kfree(slot);
}

/* The VM fd's last close. guest_memfd files hold their own reference. */
void kvm_destroy_vm(struct kvm *kvm)
{
	struct kvm_vcpu *v, *vtmp;

	if (--kvm->users > 0)
		return;
	for (int as = 0; as < KVM_ADDRESS_SPACE_NUM; as++)
		for (int i = 0; i < 64; i++)
			if (kvm->slots[as][i])
				kvm_delete_memslot(kvm, kvm->slots[as][i]);
	kvm_mmu_unmap_gfn_range(kvm, 0, ~0ULL, KVM_FILTER_ALL);
	list_for_each_entry_safe(v, vtmp, &kvm->vcpus, node) {
		list_del(&v->node);
		kfree(v);
	}
	attr_clear_all(&kvm->mem_attr);
	list_del(&kvm->node);
	kfree(kvm);
}

/*
 * KVM_CAP_USERFAULT is informational only (KVM_CHECK_EXTENSION): enabling
 * it directly is -EINVAL, as for any capability KVM does not enable.
 */
int kvm_vm_enable_cap(struct kvm *kvm, u32 cap, u64 flags)
{
	if (cap == KVM_CAP_ARM_SEA_TO_USER && kvm->host->arch == ARCH_ARM64 && !flags) {
		kvm->sea_to_user = true;	/* KVM_ARCH_FLAG_EXIT_SEA */
		return 0;
	}
	return -EINVAL;
}

void kvm_vm_close(struct kvm *kvm)
{
	if (!kvm->fd_open)
		return;
	kvm->fd_open = false;
	kvm_destroy_vm(kvm);
}

struct kvm_vcpu *kvm_create_vcpu(struct kvm *kvm, int id, struct task_struct *thread, int *errp)
{
	struct kvm_vcpu *v;

	*errp = 0;
	if (id < 0 || id >= 1024) {
		*errp = -EINVAL;
		return NULL;
	}
	list_for_each_entry(v, &kvm->vcpus, node)
		if (v->vcpu_id == id) {
			*errp = -EEXIST;
			return NULL;
		}
	v = kzalloc(sizeof(*v), GFP_KERNEL);
	if (!v) {
		*errp = -ENOMEM;
		return NULL;
	}
	v->kvm = kvm;
	v->vcpu_id = id;
	v->thread = thread;
	list_add_tail(&v->node, &kvm->vcpus);
	kvm->nr_vcpus++;
	return v;
}

struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
	struct range_node *n = rangemap_find(&kvm->memslots, (unsigned long)gfn);

	return n ? container_of(n, struct kvm_memory_slot, node) : NULL;
}

/*
 * Models check_memory_region_flags(). KVM_MEM_USERFAULT is valid where the
 * arch uses the generic page fault (CONFIG_KVM_GENERIC_PAGE_FAULT: x86 and
 * arm64 in the series, so both of the model's), guest_memfd slots included.
 */
static int check_memory_region_flags(const struct kvm *kvm, const struct kvm_userspace_memory_region2 *mem)
{
	u32 valid = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_GUEST_MEMFD | KVM_MEM_READONLY | KVM_MEM_USERFAULT;

	/* Neither dirty logging nor read-only memslots with guest_memfd. */
	if (mem->flags & KVM_MEM_GUEST_MEMFD)
		valid &= ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY);
	return mem->flags & ~valid ? -EINVAL : 0;
}

/*
 * access_ok() and untagged_addr() on the userfault bitmap's address.
 * x86-64 (4-level paging, no LAM): user addresses end below 1 << 47, one
 * page short of it. arm64 (VA_BITS 48): below 1 << 48, and the top byte
 * may hold a tag, which the series refuses (the address must be untagged).
 */
static bool userfault_bitmap_ok(const struct kvm *kvm, u64 addr, u64 npages)
{
	u64 len = (npages + BITS_PER_LONG - 1) / BITS_PER_LONG * sizeof(long);
	u64 limit;

	if (kvm->host->arch == ARCH_ARM64) {
		u64 untagged = (u64)((s64)(addr << 8) >> 8);

		if (untagged != addr)
			return false;
		limit = 1ULL << 48;
	} else {
		limit = (1ULL << 47) - PAGE_SIZE;
	}
	return len <= limit && addr <= limit - len;
}

/*
 * Models kvm_arch_userfault_enabled(): new faults on pages marked in the
 * bitmap must exit, so translations the bitmap covers must go. The
 * series' generic version drops the whole slot
 * (kvm_arch_flush_shadow_memslot()); bits set later have no effect on
 * pages mapped meanwhile until the flag is cleared and set again.
 */
static void kvm_arch_userfault_enabled(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_mmu_unmap_gfn_range(kvm, slot->base_gfn, slot->base_gfn + slot->npages, KVM_FILTER_ALL);
}

/*
 * A flags-only change (KVM_MR_FLAGS_ONLY), the series' way to toggle
 * KVM_MEM_USERFAULT on a live slot, guest_memfd slots included.
 */
static void kvm_commit_flags_change(struct kvm *kvm, struct kvm_memory_slot *slot,
				    const struct kvm_userspace_memory_region2 *mem)
{
	u32 old_flags = slot->flags;

	slot->flags = mem->flags;
	slot->userfault_bitmap = mem->flags & KVM_MEM_USERFAULT ? mem->userfault_bitmap_mem : NULL;
	if (!(old_flags & KVM_MEM_USERFAULT) && (mem->flags & KVM_MEM_USERFAULT)) {
		kvm_arch_userfault_enabled(kvm, slot);
		trace_note(kvm->host->trace, "vm%d: KVM_MEM_USERFAULT set on slot %u: stage-2 of gfn %#llx-%#llx zapped",
			   kvm->id, slot->id, (unsigned long long)slot->base_gfn,
			   (unsigned long long)(slot->base_gfn + slot->npages - 1));
	} else if ((old_flags & KVM_MEM_USERFAULT) && !(mem->flags & KVM_MEM_USERFAULT) &&
		   kvm->host->arch == ARCH_X86) {
		/*
		 * x86 recovers huge pages when the flag goes (kvm_mmu_slot_apply_flags()),
		 * as after dirty logging; arm64 leaves the 4K mappings.
		 * MODEL: by zapping the slot, so that the next faults map huge.
		 */
		kvm_mmu_unmap_gfn_range(kvm, slot->base_gfn, slot->base_gfn + slot->npages, KVM_FILTER_ALL);
	}
}

int kvm_set_user_memory_region2(struct kvm *kvm, const struct kvm_userspace_memory_region2 *mem)
{
	u16 as_id = (u16)(mem->slot >> 16), id = (u16)mem->slot;
	struct kvm_memory_slot *old, *slot;
	int ret;

	ret = check_memory_region_flags(kvm, mem);
	if (ret)
		return ret;
	if (as_id >= KVM_ADDRESS_SPACE_NUM || id >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	if ((mem->memory_size & (PAGE_SIZE - 1)) || (mem->guest_phys_addr & (PAGE_SIZE - 1)) ||
	    (mem->userspace_addr & (PAGE_SIZE - 1)))
		return -EINVAL;
	if ((mem->flags & KVM_MEM_GUEST_MEMFD) &&
	    ((mem->guest_memfd_offset & (PAGE_SIZE - 1)) ||
	     mem->guest_memfd_offset + mem->memory_size < mem->guest_memfd_offset))
		return -EINVAL;
	if (mem->guest_phys_addr + mem->memory_size < mem->guest_phys_addr)
		return -EINVAL;
	if ((mem->flags & KVM_MEM_USERFAULT) &&
	    !userfault_bitmap_ok(kvm, mem->userfault_bitmap, mem->memory_size >> PAGE_SHIFT))
		return -EINVAL;
	if (id >= 64)
		return -EINVAL;	/* MODEL: 64 slots per address space */

	mutex_lock(&kvm->slots_lock);
	old = kvm->slots[as_id][id];
	if (!mem->memory_size) {
		ret = old ? 0 : -EINVAL;
		if (old)
			kvm_delete_memslot(kvm, old);
		goto out;
	}
	if (old) {
		/*
		 * Without the series a guest_memfd slot is immutable; with it
		 * only moving one is refused. MODEL: no move at all, and
		 * KVM_MEM_GUEST_MEMFD itself cannot be toggled.
		 */
		ret = -EINVAL;
		if (mem->guest_phys_addr >> PAGE_SHIFT != old->base_gfn ||
		    mem->userspace_addr != old->userspace_addr ||
		    mem->memory_size >> PAGE_SHIFT != old->npages ||
		    ((mem->flags ^ old->flags) & (KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD)))
			goto out;
		/* Nothing to change: the bitmap address is not looked at either. */
		if (mem->flags != old->flags)
			kvm_commit_flags_change(kvm, old, mem);
		ret = 0;
		goto out;
	}
	for (struct range_node *n = rangemap_lower(&kvm->memslots, (unsigned long)(mem->guest_phys_addr >> PAGE_SHIFT));
	     n && n->start < (mem->guest_phys_addr + mem->memory_size) >> PAGE_SHIFT; n = rangemap_next(n)) {
		if (container_of(n, struct kvm_memory_slot, node)->as_id == as_id) {
			ret = -EEXIST;
			goto out;
		}
	}
	slot = kzalloc(sizeof(*slot), GFP_KERNEL);
	if (!slot) {
		ret = -ENOMEM;
		goto out;
	}
	slot->id = id;
	slot->as_id = as_id;
	slot->base_gfn = mem->guest_phys_addr >> PAGE_SHIFT;
	slot->npages = (unsigned long)(mem->memory_size >> PAGE_SHIFT);
	slot->userspace_addr = (unsigned long)mem->userspace_addr;
	slot->flags = mem->flags;
	if (mem->flags & KVM_MEM_USERFAULT)
		slot->userfault_bitmap = mem->userfault_bitmap_mem;
	slot->node.start = (unsigned long)slot->base_gfn;
	slot->node.last = (unsigned long)slot->base_gfn + slot->npages - 1;
	INIT_LIST_HEAD(&slot->gmem_node);
	if (mem->flags & KVM_MEM_GUEST_MEMFD) {
		ret = kvm_gmem_bind(kvm, slot, mem->guest_memfd_valid ? mem->guest_memfd : NULL,
				    mem->guest_memfd_offset);
		if (ret) {
			kfree(slot);
			goto out;
		}
	}
	if (rangemap_insert(&kvm->memslots, &slot->node)) {
		/* Another address space holds these gfns: the model keeps one map. */
		if (slot->flags & KVM_MEM_GUEST_MEMFD)
			kvm_gmem_unbind(slot);
		kfree(slot);
		ret = -EEXIST;
		goto out;
	}
	kvm->slots[as_id][id] = slot;
	ret = 0;
out:
	mutex_unlock(&kvm->slots_lock);
	return ret;
}

int kvm_vm_set_mem_attributes(struct kvm *kvm, u64 address, u64 size, u64 attributes, u64 flags)
{
	gfn_t start, end;
	int ret;

	if (flags || (attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) || !size ||
	    address + size <= address || (address | size) & (PAGE_SIZE - 1))
		return -EINVAL;
	if (!kvm_arch_has_private_mem(kvm) && attributes)
		return -EINVAL;
	start = address >> PAGE_SHIFT;
	end = (address + size) >> PAGE_SHIFT;
	ret = attr_set_range(&kvm->mem_attr, (unsigned long)start, (unsigned long)end - 1,
			     attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE);
	if (ret)
		return ret;
	kvm_mmu_unmap_gfn_range(kvm, start, end, KVM_FILTER_ALL);
	return 0;
}

bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	struct kvm_gmem *gmem;

	/* gmem-only slots follow the attributes of the guest_memfd itself. */
	if (slot && slot->gmem.gmem_only && slot->gmem.file) {
		gmem = kvm_gmem_of_mapping(&slot->gmem.file->f_mapping);
		return attr_test(&gmem->private,
				 (unsigned long)(slot->gmem.pgoff + (gfn - slot->base_gfn)));
	}
	return kvm_arch_has_private_mem(kvm) && attr_test(&kvm->mem_attr, (unsigned long)gfn);
}

/*
 * The gfn of @slot that holds the user address @addr, whose VMA maps @file at
 * page @index (NULL: anonymous); @own: the VM's VMM has the address's mm.
 */
static bool uaddr_in_slot(const struct kvm_memory_slot *slot, unsigned long addr,
			  const struct file *file, pgoff_t index, bool own, gfn_t *gfn, bool *gmem)
{
	if ((slot->flags & KVM_MEM_GUEST_MEMFD) && file && slot->gmem.file == file &&
	    index >= slot->gmem.pgoff && index - slot->gmem.pgoff < slot->npages) {
		*gfn = slot->base_gfn + (index - slot->gmem.pgoff);
		*gmem = true;
		return true;
	}
	if (own && !slot->gmem.gmem_only && addr >= slot->userspace_addr &&
	    (addr - slot->userspace_addr) >> PAGE_SHIFT < slot->npages) {
		*gfn = slot->base_gfn + ((addr - slot->userspace_addr) >> PAGE_SHIFT);
		*gmem = false;
		return true;
	}
	return false;
}

/*
 * The reverse of what KVM does on a fault (__gfn_to_hva_memslot(), and
 * kvm_gmem_get_pfn() for a guest_memfd slot): which gpa of which VM a user
 * address is. The kernel has no such function; the model answers it for
 * observers (gmf vmm run --errors-from) from its own structures, so that
 * they never guess where the model placed a mapping.
 */
int kvm_uaddr_to_gpa(struct task_struct *t, unsigned long addr, struct kvm_uaddr_gpa *out, int max)
{
	struct mm_struct *mm = t ? t->mm : NULL;
	struct vm_area_struct *vma = mm ? find_vma(mm, addr) : NULL;
	struct kvm_state *ks;
	struct file *file;
	pgoff_t index = 0;
	struct kvm *kvm;
	int nr = 0;

	if (!vma)
		return -EFAULT;
	file = vma->vm_file;
	if (file)
		index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	ks = mm->host->kvm_state;
	if (!ks)
		return -ENOENT;
	list_for_each_entry(kvm, &ks->vms, node) {
		bool own = kvm->vmm && kvm->vmm->mm == mm;

		for (int as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
			for (int id = 0; id < 64; id++) {
				struct kvm_memory_slot *slot = kvm->slots[as][id];
				struct kvm_uaddr_gpa r = { .kvm = kvm, .slot = slot, .file = file };
				gfn_t gfn;

				if (!slot || !uaddr_in_slot(slot, addr, file, index, own, &gfn, &r.gmem))
					continue;
				r.gpa = ((u64)gfn << PAGE_SHIFT) | (addr & (PAGE_SIZE - 1));
				r.private = kvm_mem_is_private(kvm, gfn);
				if (file)
					r.offset = ((u64)index << PAGE_SHIFT) | (addr & (PAGE_SIZE - 1));
				if (nr < max)
					out[nr] = r;
				nr++;
			}
		}
	}
	return nr ? nr : -ENOENT;
}
