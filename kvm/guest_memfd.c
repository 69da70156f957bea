// SPDX-License-Identifier: MIT
/*
 * guest_memfd: creation, binding to memslots, mmap and user faults,
 * fallocate, per-file memory attributes and conversion, memory failure
 * (kvm_gmem_error_folio) and kvm_gmem_get_pfn().
 *
 * Models: virt/kvm/guest_memfd.c (mm-new @02867409): kvm_gmem_create(),
 * kvm_gmem_bind(), kvm_gmem_fault_user_mapping(), kvm_gmem_fallocate(),
 * kvm_gmem_error_folio(), __kvm_gmem_get_pfn(), kvm_gmem_release(); the
 * in-place conversion series [P] for KVM_SET_MEMORY_ATTRIBUTES2.
 *
 * MODEL: one file per inode (the kernel allows more files on one inode only
 * internally). A memory error zaps the stage-2 mappings of both kinds (see
 * docs/divergences.md). Folios are order 0 here; HugeTLB backing comes with
 * restructuring.
 */
#include <string.h>

#include "kvm/attr.h"
#include "kvm/kvm.h"

static int kvm_gmem_error_folio(struct address_space *mapping, struct folio *folio);

static bool kvm_gmem_keep_user_mappings(struct address_space *mapping)
{
	return kvm_state(mapping->host)->gmem_mf_kill == GMEM_MF_KILL_CURRENT;
}

static const struct address_space_operations kvm_gmem_aops = {
	.name = "guest_memfd",
	.error_remove_folio = kvm_gmem_error_folio,
	.keep_user_mappings = kvm_gmem_keep_user_mappings,
};

struct kvm_gmem *kvm_gmem_of_mapping(const struct address_space *mapping)
{
	return mapping && mapping->a_ops == &kvm_gmem_aops ? mapping->private_data : NULL;
}

static struct kvm_gmem *file_gmem(struct file *file)
{
	return file->private_data;
}

u64 kvm_gmem_supported_flags(const struct kvm *kvm)
{
	/* Shared (mmap-able) guest_memfd needs a VM type that can share: not SNP or TDX. */
	if (kvm->type == KVM_X86_SNP_VM || kvm->type == KVM_X86_TDX_VM)
		return 0;
	return GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
}

/* Zap the stage-2 mappings of file pages [start, end) in every bound memslot. */
static void kvm_gmem_invalidate(struct kvm_gmem *gmem, pgoff_t start, pgoff_t end,
				enum kvm_filter filter)
{
	struct kvm_memory_slot *slot;

	list_for_each_entry(slot, &gmem->bindings, gmem_node) {
		pgoff_t s = max(start, slot->gmem.pgoff);
		pgoff_t e = min(end, slot->gmem.pgoff + slot->npages);

		if (s >= e)
			continue;
		kvm_mmu_unmap_gfn_range(gmem->kvm, slot->base_gfn + (s - slot->gmem.pgoff),
					slot->base_gfn + (e - slot->gmem.pgoff), filter);
	}
}

/* Remove user mappings of file pages [start, end) (unmap_mapping_pages()). */
static void kvm_gmem_unmap_user(struct kvm_gmem *gmem, pgoff_t start, pgoff_t end)
{
	struct range_node *n, *tmp;

	if (end <= start)
		return;
	rangemap_for_each_in(&gmem->file->f_mapping.i_pages, n, tmp, start, end - 1)
		try_to_unmap(container_of(n, struct folio, cache_node), false);
}

static int kvm_gmem_mmap(struct file *file, unsigned long vm_flags)
{
	struct kvm_gmem *gmem = file_gmem(file);

	if (!(gmem->flags & GUEST_MEMFD_FLAG_MMAP))
		return -ENODEV;
	if (!(vm_flags & VM_SHARED))
		return -EINVAL;
	return 0;
}

static struct folio *kvm_gmem_get_folio(struct kvm_gmem *gmem, pgoff_t index, int *errp)
{
	return filemap_grab_folio(gmem->file, index, errp);
}

/* Models kvm_gmem_fault_user_mapping(). */
static int kvm_gmem_fault(struct file *file, pgoff_t index, struct folio **foliop)
{
	struct kvm_gmem *gmem = file_gmem(file);
	struct folio *folio;
	struct page *p;
	int err;

	if ((u64)index << PAGE_SHIFT >= file->i_size)
		return VM_FAULT_SIGBUS;
	if (gmem->failed)
		return VM_FAULT_HWPOISON;
	/* Private memory is never mapped into userspace. */
	if (attr_test(&gmem->private, index))
		return VM_FAULT_SIGBUS;
	folio = kvm_gmem_get_folio(gmem, index, &err);
	if (!folio)
		return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	p = page_lookup(file->f_mapping.host, folio_pfn(folio) + (index - folio->index));
	if (folio_test_hwpoison(folio) || (p && PageHWPoison(p)))
		return VM_FAULT_HWPOISON;	/* __do_fault(): the MF pin keeps it */
	*foliop = folio;
	return 0;
}

static long kvm_gmem_rw(struct file *file, u64 pos, u64 len)
{
	/* No read_iter/write_iter. */
	return -EINVAL;
}

static void kvm_gmem_release(struct file *file);

static const struct file_operations kvm_gmem_fops = {
	.mmap = kvm_gmem_mmap,
	.fault = kvm_gmem_fault,
	.read = kvm_gmem_rw,
	.write = kvm_gmem_rw,
	.release = kvm_gmem_release,
};

struct kvm_gmem *kvm_gmem_create(struct kvm *kvm, u64 size, u64 flags, int *errp)
{
	struct kvm_gmem *gmem;
	struct file *file;
	char name[32];

	*errp = 0;
	if (flags & ~kvm_gmem_supported_flags(kvm)) {
		*errp = -EINVAL;
		return NULL;
	}
	if (!size || size & (PAGE_SIZE - 1) || (s64)size < 0) {
		*errp = -EINVAL;
		return NULL;
	}
	gmem = kzalloc(sizeof(*gmem), GFP_KERNEL);
	if (!gmem) {
		*errp = -ENOMEM;
		return NULL;
	}
	rangemap_init(&gmem->private);
	if (!(flags & GUEST_MEMFD_FLAG_INIT_SHARED) &&
	    attr_set_range(&gmem->private, 0, (unsigned long)(size >> PAGE_SHIFT) - 1, true)) {
		kfree(gmem);
		*errp = -ENOMEM;
		return NULL;
	}
	snprintf(name, sizeof(name), "[kvm-gmem]");
	file = file_create(kvm->host, FILE_GUEST_MEMFD, name, size, NULL);
	if (IS_ERR(file)) {
		attr_clear_all(&gmem->private);
		kfree(gmem);
		*errp = (int)PTR_ERR(file);
		return NULL;
	}
	file->f_op = &kvm_gmem_fops;
	file->private_data = gmem;
	file->f_mapping.a_ops = &kvm_gmem_aops;
	file->f_mapping.private_data = gmem;
	set_bit(AS_UNEVICTABLE, &file->f_mapping.flags);
	gmem->file = file;
	gmem->kvm = kvm;
	gmem->flags = flags;
	gmem->fd_open = true;
	INIT_LIST_HEAD(&gmem->bindings);
	list_add_tail(&gmem->node, &kvm->gmems);
	kvm->users++;
	return gmem;
}

/* The file's last reference is going: unbind, zap, drop the VM. */
static void kvm_gmem_release(struct file *file)
{
	struct kvm_gmem *gmem = file_gmem(file);
	struct kvm_memory_slot *slot, *tmp;
	struct kvm *kvm = gmem->kvm;

	kvm_gmem_invalidate(gmem, 0, ~0UL, KVM_FILTER_ALL);
	list_for_each_entry_safe(slot, tmp, &gmem->bindings, gmem_node) {
		list_del_init(&slot->gmem_node);
		slot->gmem.file = NULL;	/* later faults on the slot get -EFAULT */
	}
	list_del(&gmem->node);
	attr_clear_all(&gmem->private);
	file->private_data = NULL;
	file->f_mapping.private_data = NULL;
	kfree(gmem);
	kvm_destroy_vm(kvm);	/* drops the file's VM reference */
}

void kvm_gmem_close(struct kvm_gmem *gmem)
{
	if (!gmem->fd_open)
		return;
	gmem->fd_open = false;
	fput(gmem->file);
}

int kvm_gmem_bind(struct kvm *kvm, struct kvm_memory_slot *slot, struct file *file, u64 offset)
{
	pgoff_t start = (pgoff_t)(offset >> PAGE_SHIFT), end = start + slot->npages;
	struct kvm_memory_slot *other;
	struct kvm_gmem *gmem;

	if (!file)
		return -EBADF;
	/* Not a guest_memfd, or one of another VM. */
	gmem = kvm_gmem_of_mapping(&file->f_mapping);
	if (!gmem || gmem->kvm != kvm)
		return -EINVAL;
	if (offset + ((u64)slot->npages << PAGE_SHIFT) > gmem->file->i_size)
		return -EINVAL;
	list_for_each_entry(other, &gmem->bindings, gmem_node)
		if (start < other->gmem.pgoff + other->npages && other->gmem.pgoff < end)
			return -EINVAL;
	slot->gmem.file = gmem->file;
	slot->gmem.pgoff = start;
	slot->gmem.gmem_only = gmem->flags & GUEST_MEMFD_FLAG_MMAP;
	list_add_tail(&slot->gmem_node, &gmem->bindings);
	return 0;
}

void kvm_gmem_unbind(struct kvm_memory_slot *slot)
{
	if (!list_empty(&slot->gmem_node))
		list_del_init(&slot->gmem_node);
	slot->gmem.file = NULL;
}

int kvm_gmem_fallocate(struct kvm_gmem *gmem, int mode, u64 offset, u64 len)
{
	struct address_space *mapping = &gmem->file->f_mapping;
	pgoff_t start, end;
	int err = 0;

	if (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)))
		return -EOPNOTSUPP;
	if ((offset | len) & (PAGE_SIZE - 1) || !len)
		return -EINVAL;
	start = (pgoff_t)(offset >> PAGE_SHIFT);
	end = (pgoff_t)((offset + len) >> PAGE_SHIFT);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		down_write(&mapping->invalidate_lock);
		kvm_gmem_invalidate(gmem, start, end, KVM_FILTER_ALL);
		truncate_inode_pages_range(mapping, offset, offset + len - 1);
		up_write(&mapping->invalidate_lock);
		return 0;
	}
	if (offset + len > gmem->file->i_size)
		return -EINVAL;
	down_read(&mapping->invalidate_lock);
	for (pgoff_t i = start; i < end && !err; i++)
		if (!kvm_gmem_get_folio(gmem, i, &err))
			break;
	up_read(&mapping->invalidate_lock);
	return err;
}

/*
 * Models kvm_gmem_error_folio(): zap the stage-2 mappings of the folio and
 * leave the folio in the file; the VMM decides what happens next. The
 * "initial" stage of the seed table gives up on the whole file instead.
 */
static int kvm_gmem_error_folio(struct address_space *mapping, struct folio *folio)
{
	struct kvm_gmem *gmem = kvm_gmem_of_mapping(mapping);
	struct kvm_state *ks;

	if (!gmem)
		return MF_DELAYED;
	ks = kvm_state(mapping->host);
	if (ks->gmem_mf_kill == GMEM_MF_KILL_CURRENT && mapping->host->current &&
	    mapping->host->current->mm) {
		/* The discussed alternative: kill whoever consumed it, touch nothing else. */
		trace_note(mapping->host->trace, "guest_memfd: SIGKILL to %s:%d, which consumed the error",
			   mapping->host->current->comm, mapping->host->current->pid);
		do_send_sig_info(SIGKILL, mapping->host->current);
	}
	down_read(&mapping->invalidate_lock);
	if (ks->gmem_mf_stage == GMEM_MF_INITIAL) {
		kvm_gmem_invalidate(gmem, 0, ~0UL, KVM_FILTER_ALL);
		kvm_gmem_unmap_user(gmem, 0, ~0UL);
		gmem->failed = true;
		trace_note(mapping->host->trace, "guest_memfd: the whole file is unmapped and stops working");
	} else {
		kvm_gmem_invalidate(gmem, folio->index, folio->index + folio_nr_pages(folio),
				    KVM_FILTER_ALL);
	}
	up_read(&mapping->invalidate_lock);
	return MF_DELAYED;
}

int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
		     unsigned long *pfn, int *max_order)
{
	struct kvm_gmem *gmem;
	pgoff_t index;
	struct folio *folio;
	struct page *p;
	int err;

	if (!slot->gmem.file)
		return -EFAULT;
	gmem = file_gmem(slot->gmem.file);
	if (gmem->kvm != kvm)
		return -EIO;
	index = slot->gmem.pgoff + (pgoff_t)(gfn - slot->base_gfn);
	if (gmem->failed)
		return -EHWPOISON;
	folio = kvm_gmem_get_folio(gmem, index, &err);
	if (!folio)
		return err;
	p = page_lookup(kvm->host, folio_pfn(folio) + (index - folio->index));
	if (folio_test_hwpoison(folio) || (p && PageHWPoison(p)))
		return -EHWPOISON;
	*pfn = folio_pfn(folio) + (index - folio->index);
	*max_order = 0;
	return 0;
}

int kvm_gmem_set_attributes(struct kvm_gmem *gmem, u64 offset, u64 size, u64 attributes,
			    u64 flags, u64 *error_offset)
{
	struct address_space *mapping = &gmem->file->f_mapping;
	bool to_private = attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE;
	pgoff_t start, end;
	struct range_node *n, *tmp;
	int ret;

	if (flags || (attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) || *error_offset || !size ||
	    offset + size <= offset || (offset | size) & (PAGE_SIZE - 1) ||
	    offset + size > gmem->file->i_size)
		return -EINVAL;
	start = (pgoff_t)(offset >> PAGE_SHIFT);
	end = (pgoff_t)((offset + size) >> PAGE_SHIFT);
	down_write(&mapping->invalidate_lock);
	if (to_private) {
		/* Userspace must not keep the pages: unmap, then the safe-refcount check. */
		kvm_gmem_unmap_user(gmem, start, end);
		rangemap_for_each_in(&mapping->i_pages, n, tmp, start, end - 1) {
			struct folio *f = container_of(n, struct folio, cache_node);

			if (folio_ref_count(f) != (int)folio_nr_pages(f)) {
				*error_offset = (u64)max(f->index, start) << PAGE_SHIFT;
				ret = -EAGAIN;
				goto out;
			}
		}
		kvm_gmem_invalidate(gmem, start, end, KVM_FILTER_SHARED);
	} else {
		kvm_gmem_invalidate(gmem, start, end, KVM_FILTER_PRIVATE);
	}
	ret = attr_set_range(&gmem->private, start, end - 1, to_private);
out:
	up_write(&mapping->invalidate_lock);
	return ret;
}
