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

#include "base/plant.h"
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
	u64 huge = GUESTMEM_HUGETLB_FLAG_MASK << GUESTMEM_HUGETLB_FLAG_SHIFT;

	/* kvm_gmem_get_supported_flags(): memory can start shared only without private memory. */
	if (kvm_arch_has_private_mem(kvm))
		return GUEST_MEMFD_FLAG_MMAP | huge;
	return GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | huge;
}

static unsigned long gmem_nr(const struct kvm_gmem *gmem)
{
	return gmem->h ? pages_per_huge_page(gmem->h) : 1;
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

static bool range_has_shared(struct kvm_gmem *gmem, pgoff_t base, unsigned long nr)
{
	return attr_first_not(&gmem->private, base, base + nr - 1, true) <= base + nr - 1;
}

int kvm_gmem_set_policy(struct kvm_gmem *gmem, u32 mode, unsigned long nodes)
{
	struct host *host = gmem->kvm->host;
	unsigned long all = (1UL << host->nr_nodes) - 1;

	if (mode > MPOL_INTERLEAVE || nodes & ~all || (mode == MPOL_DEFAULT) != !nodes)
		return -EINVAL;
	gmem->policy.mode = mode;
	gmem->policy.nodes = nodes;
	return 0;
}

/*
 * The node a new folio for @index comes from first (policy_node()): the
 * first node of the mask, or for MPOL_INTERLEAVE the mask's nodes in turn
 * by folio index (interleave_nid()). MPOL_DEFAULT keeps the model's usual
 * node 0 (the "local" node: the model runs on no particular CPU).
 */
static int kvm_gmem_policy_nid(const struct kvm_gmem *gmem, pgoff_t index)
{
	unsigned long nodes = gmem->policy.nodes, nth;
	int nid;

	if (gmem->policy.mode == MPOL_DEFAULT || !nodes)
		return 0;
	nth = gmem->policy.mode == MPOL_INTERLEAVE ?
	      (index / gmem_nr(gmem)) % (unsigned long)__builtin_popcountl(nodes) : 0;
	for (nid = 0; nid < MAX_NUMNODES; nid++)
		if (nodes & (1UL << nid) && !nth--)
			return nid;
	return 0;
}

/* A 4K page-cache folio for @index from the policy's node (filemap_grab_folio()). */
static struct folio *kvm_gmem_grab_folio(struct kvm_gmem *gmem, pgoff_t index, int *errp)
{
	struct address_space *mapping = &gmem->file->f_mapping;
	struct folio *folio = filemap_get_folio(mapping, index);
	int ret;

	*errp = 0;
	if (folio)
		return folio;
	if ((u64)index << PAGE_SHIFT >= gmem->file->i_size) {
		*errp = -EFAULT;
		return NULL;
	}
	folio = folio_alloc_node(mapping->host, kvm_gmem_policy_nid(gmem, index), 0, FOLIO_OWNER_FILE);
	if (!folio) {
		*errp = -ENOMEM;
		return NULL;
	}
	ret = filemap_add_folio(mapping, folio, index);
	folio_put(folio);	/* the page cache holds it now */
	if (ret) {
		*errp = ret;
		return NULL;
	}
	return folio;
}

/*
 * The folio caching @index, allocated if need be. With HugeTLB backing a
 * huge folio comes from the file's reservation and is split at once when
 * part of its range is shared; a freed piece of a split page is reused.
 */
static struct folio *kvm_gmem_get_folio(struct kvm_gmem *gmem, pgoff_t index, int *errp)
{
	struct address_space *mapping = &gmem->file->f_mapping;
	struct host *host = mapping->host;
	unsigned long nr = gmem_nr(gmem);
	struct guestmem_split *gs;
	struct folio *folio;
	pgoff_t base;
	int ret;

	if (gmem->frozen) {
		/* Preserved for a live update (the LUO series): no new pages. */
		folio = filemap_get_folio(mapping, index);
		*errp = folio ? 0 : -EPERM;
		return folio;
	}
	if (!gmem->h)
		return kvm_gmem_grab_folio(gmem, index, errp);
	*errp = 0;
	folio = filemap_get_folio(mapping, index);
	if (folio)
		return folio;
	if ((u64)index << PAGE_SHIFT >= gmem->file->i_size) {
		*errp = -EFAULT;
		return NULL;
	}
	gs = guestmem_split_find(mapping, index);
	if (gs) {
		folio = guestmem_hugetlb_reuse(mapping, gs, index);
		if (!folio)
			*errp = -EHWPOISON;	/* a poisoned piece is never handed out again */
		return folio;
	}
	base = ALIGN_DOWN(index, nr);
	folio = alloc_hugetlb_folio(host, gmem->h, kvm_gmem_policy_nid(gmem, index), gmem->file->spool,
				    &gmem->file->resv_hpages);
	if (IS_ERR(folio)) {
		*errp = (int)PTR_ERR(folio);
		return NULL;
	}
	ret = filemap_add_folio(mapping, folio, base);
	folio_put(folio);	/* the page cache holds it now */
	if (ret) {
		*errp = ret;
		return NULL;
	}
	/*
	 * MODEL: the RFC's folios are not hugetlb_migratable, so a real error
	 * takes memory_failure()'s RETRY path; the eventual design is taken to
	 * handle them like any in-use HugeTLB folio.
	 */
	if (kvm_state(host)->gmem_mf_stage == GMEM_MF_INITIAL)
		folio_clear_hugetlb_migratable(folio);
	if (range_has_shared(gmem, base, nr)) {
		unsigned long lock_pfn = folio_lock_pfn(folio);

		folio_lock(folio);
		ret = guestmem_hugetlb_split(folio);
		folio_unlock_pfn(host, lock_pfn);
		if (ret) {
			/* Never leave a whole folio cached under a shared index. */
			folio_get(folio);
			filemap_remove_folio(folio);
			folio_put(folio);
			*errp = ret;
			return NULL;
		}
		folio = filemap_get_folio(mapping, index);
	}
	return folio;
}

/* Models kvm_gmem_fault_user_mapping(). */
static int kvm_gmem_fault(struct file *file, pgoff_t index, struct folio **foliop)
{
	struct kvm_gmem *gmem = file_gmem(file);
	struct folio *folio;
	struct page *p;
	int err;

	int ret = 0;

	if ((u64)index << PAGE_SHIFT >= file->i_size)
		return VM_FAULT_SIGBUS;
	/*
	 * The in-place conversion series: the attribute cannot change while
	 * the folio is looked up, and the reference returned (vmf->page's)
	 * makes a conversion's safe-refcount check fail until the pte is in.
	 */
	down_read(&file->f_mapping.invalidate_lock);
	/* Private memory is never mapped into userspace. */
	if (attr_test(&gmem->private, index)) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	if (gmem->failed) {
		ret = VM_FAULT_HWPOISON;
		goto out;
	}
	folio = kvm_gmem_get_folio(gmem, index, &err);
	if (!folio) {
		ret = err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
		goto out;
	}
	p = page_lookup(file->f_mapping.host, folio_pfn(folio) + (index - folio->index));
	if (folio_test_hwpoison(folio) || (p && PageHWPoison(p))) {
		ret = VM_FAULT_HWPOISON;	/* __do_fault(): the MF pin keeps it */
		goto out;
	}
	folio_get(folio);
	*foliop = folio;
out:
	up_read(&file->f_mapping.invalidate_lock);
	return ret;
}

static long kvm_gmem_rw(struct file *file, u64 pos, u64 len)
{
	/* No read_iter/write_iter. */
	return -EINVAL;
}

static void kvm_gmem_release(struct file *file);

static int kvm_gmem_fallocate_fop(struct file *file, int mode, u64 offset, u64 len)
{
	return kvm_gmem_fallocate(file_gmem(file), mode, offset, len);
}

static const struct file_operations kvm_gmem_fops = {
	.mmap = kvm_gmem_mmap,
	.fallocate = kvm_gmem_fallocate_fop,
	.fault = kvm_gmem_fault,
	.read = kvm_gmem_rw,
	.write = kvm_gmem_rw,
	.release = kvm_gmem_release,
};

struct kvm_gmem *kvm_gmem_create(struct kvm *kvm, u64 size, u64 flags, int *errp)
{
	struct kvm_gmem *gmem;
	struct hstate *h = NULL;
	struct file *file;
	unsigned int shift;
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
	shift = (flags >> GUESTMEM_HUGETLB_FLAG_SHIFT) & GUESTMEM_HUGETLB_FLAG_MASK;
	if (shift) {
		h = size_to_hstate(kvm->host, 1UL << shift);
		if (!h || size % (PAGE_SIZE << h->order)) {
			*errp = -EINVAL;
			return NULL;
		}
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
	if (h) {
		/* guestmem_hugetlb's inode_setup: a subpool reserving the whole file. */
		long n = (long)(size >> (PAGE_SHIFT + h->order));

		file->hstate = h;
		file->spool = hugepage_new_subpool(h, n, n);
		if (!file->spool || (long)(h->free_huge_pages - h->resv_huge_pages) < n) {
			fput(file);
			attr_clear_all(&gmem->private);
			kfree(gmem);
			*errp = -ENOMEM;
			return NULL;
		}
		h->resv_huge_pages += (unsigned long)n;
		file->resv_hpages = n;
		file->spool->resv_owner = &file->resv_hpages;
	}
	file->f_op = &kvm_gmem_fops;
	file->private_data = gmem;
	file->f_mapping.a_ops = &kvm_gmem_aops;
	file->f_mapping.private_data = gmem;
	set_bit(AS_UNEVICTABLE, &file->f_mapping.flags);
	gmem->file = file;
	gmem->kvm = kvm;
	gmem->flags = flags;
	gmem->h = h;
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
	kfree(gmem->luo_bindings);
	guestmem_hugetlb_forget_mapping(&file->f_mapping);
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

/* A retrieved file is rebound only as it was bound before the live update. */
static bool kvm_gmem_luo_binding_ok(const struct kvm_gmem *gmem, const struct kvm_memory_slot *slot,
				    pgoff_t pgoff)
{
	for (size_t i = 0; i < gmem->nr_luo_bindings; i++) {
		const struct kvm_gmem_binding *b = &gmem->luo_bindings[i];

		if (b->slot == ((u32)slot->as_id << 16 | slot->id) && b->base_gfn == slot->base_gfn &&
		    b->npages == slot->npages && b->pgoff == pgoff)
			return true;
	}
	return false;
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
	if (gmem->luo_bindings && !kvm_gmem_luo_binding_ok(gmem, slot, start))
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
	u64 align = PAGE_SIZE * gmem_nr(gmem);
	pgoff_t start, end;
	int err = 0;

	if (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)))
		return -EOPNOTSUPP;
	if ((offset | len) & (PAGE_SIZE - 1) || !len)
		return -EINVAL;
	/* MODEL: HugeTLB backing works in whole huge pages. */
	if ((offset | len) & (align - 1))
		return -EINVAL;
	if (gmem->frozen)
		return -EPERM;	/* preserved for a live update */
	start = (pgoff_t)(offset >> PAGE_SHIFT);
	end = (pgoff_t)((offset + len) >> PAGE_SHIFT);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		down_write(&mapping->invalidate_lock);
		/* Like the truncation it ends in, the merge needs the VMM's mappings gone. */
		kvm_gmem_unmap_user(gmem, start, end);
		/*
		 * A split huge page is merged first: it goes back to the file
		 * whole. One with a poisoned piece cannot be: its pieces are
		 * truncated and the last one freed returns the huge page.
		 */
		for (pgoff_t i = start; gmem->h && i < end && !err; i += gmem_nr(gmem))
			if (guestmem_split_find(mapping, i)) {
				err = guestmem_hugetlb_merge(mapping, i);
				if (err == -EHWPOISON)
					err = 0;
			}
		if (!err) {
			kvm_gmem_invalidate(gmem, start, end, KVM_FILTER_ALL);
			truncate_inode_pages_range(mapping, offset, offset + len - 1);
		}
		up_write(&mapping->invalidate_lock);
		return err;
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
	} else if (folio_test_hugetlb(folio)) {
		/*
		 * The eventual design: split the huge folio and unmap only the
		 * failed page. The stage-2 mapping is huge, so all of it goes;
		 * the guest faults the healthy pieces back in at 4K.
		 */
		pgoff_t index = folio->index, nr = folio_nr_pages(folio);

		kvm_gmem_invalidate(gmem, index, index + nr, KVM_FILTER_ALL);
		if (guestmem_hugetlb_split(folio))
			trace_note(mapping->host->trace, "guest_memfd: cannot split the poisoned huge page");
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
	/* A huge mapping needs the file offset and the gfn to line up. */
	if (folio_test_large(folio) &&
	    !((slot->gmem.pgoff - slot->base_gfn) & (folio_nr_pages(folio) - 1)))
		*max_order = (int)folio_order(folio);
	return 0;
}

/* The safe-refcount check of a conversion to private: the page cache's references only. */
static bool conversion_safe(struct kvm_gmem *gmem, struct folio *f)
{
	int extra = 0;

	/* The eventual design lets a poisoned piece stay split inside private memory. */
	if (gmem->h && f->page_type == PGTY_guestmem_hugetlb &&
	    kvm_state(gmem->kvm->host)->gmem_mf_stage == GMEM_MF_EVENTUAL)
		extra = f->mf_pins;
	return !folio_mapped(f) && !f->_pincount &&
	       folio_ref_count(f) == (int)folio_nr_pages(f) + extra;
}

/* Unmap [start, end) from the VMM, then the safe-refcount check: 0 or -EAGAIN. */
static int convert_private_check(struct kvm_gmem *gmem, pgoff_t start, pgoff_t end, u64 *error_offset)
{
	struct address_space *mapping = &gmem->file->f_mapping;
	struct range_node *n, *tmp;

	kvm_gmem_unmap_user(gmem, start, end);
	rangemap_for_each_in(&mapping->i_pages, n, tmp, start, end - 1) {
		struct folio *f = container_of(n, struct folio, cache_node);

		if (!conversion_safe(gmem, f)) {
			*error_offset = (u64)max(f->index, start) << PAGE_SHIFT;
			return -EAGAIN;
		}
	}
	return 0;
}

/* A failed conversion to shared merges back the huge pages it split in [first, last). */
static void unsplit(struct kvm_gmem *gmem, pgoff_t first, pgoff_t last, const unsigned long *split_here)
{
	unsigned long nr = gmem_nr(gmem);

	for (pgoff_t i = first; i < last; i += nr) {
		unsigned long bit = (i - first) / nr;

		if (split_here[bit / BITS_PER_LONG] & (1UL << (bit % BITS_PER_LONG)))
			(void)guestmem_hugetlb_merge(&gmem->file->f_mapping, i);
	}
}

int kvm_gmem_set_attributes(struct kvm_gmem *gmem, u64 offset, u64 size, u64 attributes,
			    u64 flags, u64 *error_offset)
{
	struct address_space *mapping = &gmem->file->f_mapping;
	bool to_private = attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE;
	unsigned long nr = gmem_nr(gmem);
	pgoff_t start, end, rstart, rend;
	unsigned long *split_here = NULL;	/* huge pages this call split */
	int ret;

	if (flags || (attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) || *error_offset || !size ||
	    offset + size <= offset || (offset | size) & (PAGE_SIZE - 1) ||
	    offset + size > gmem->file->i_size)
		return -EINVAL;
	if (gmem->frozen)
		return -EPERM;	/* preserved for a live update */
	start = (pgoff_t)(offset >> PAGE_SHIFT);
	end = (pgoff_t)((offset + size) >> PAGE_SHIFT);
	/* Invalidation is rounded to the huge page. */
	rstart = ALIGN_DOWN(start, nr);
	rend = ALIGN(end, nr);
	if (to_private && PLANTED(PLANT_CONVERSION_CHECKS_UNLOCKED)) {
		/* PLANTED: unmap and check before the lock, not again under it. */
		ret = convert_private_check(gmem, start, end, error_offset);
		if (ret)
			return ret;
	}
	down_write(&mapping->invalidate_lock);
	if (to_private) {
		/* Userspace must not keep the pages: unmap, then the safe-refcount check. */
		ret = PLANTED(PLANT_CONVERSION_CHECKS_UNLOCKED) ? 0 :
		      convert_private_check(gmem, start, end, error_offset);
		if (ret)
			goto out;
		kvm_gmem_invalidate(gmem, rstart, rend, KVM_FILTER_SHARED);
	} else {
		if (gmem->h) {
			unsigned long pages = (rend - rstart) / nr;

			split_here = kcalloc((pages + BITS_PER_LONG - 1) / BITS_PER_LONG,
					     sizeof(*split_here), GFP_KERNEL);
			if (!split_here) {
				ret = -ENOMEM;
				goto out;
			}
		}
		kvm_gmem_invalidate(gmem, rstart, rend, KVM_FILTER_PRIVATE);
		/*
		 * Shared pages need 4K folios: split every whole huge page of the
		 * range before the attributes change, so that a failure leaves
		 * them as they were (the pages split by this call are merged back).
		 */
		for (pgoff_t i = rstart; gmem->h && i < rend; i += nr) {
			struct folio *f = filemap_get_folio(mapping, i);
			unsigned long lock_pfn;

			if (!f || !folio_test_hugetlb(f))
				continue;
			kvm_gmem_invalidate(gmem, i, i + nr, KVM_FILTER_ALL);
			lock_pfn = folio_lock_pfn(f);
			folio_lock(f);
			/* The folio lock is the huge page's: still the same folio? */
			if (filemap_get_folio(mapping, i) != f || !folio_test_hugetlb(f))
				ret = -EAGAIN;
			else
				ret = guestmem_hugetlb_split(f);
			folio_unlock_pfn(gmem->kvm->host, lock_pfn);
			if (ret) {
				unsplit(gmem, rstart, i, split_here);
				*error_offset = (u64)max(i, start) << PAGE_SHIFT;
				goto out;
			}
			split_here[(i - rstart) / nr / BITS_PER_LONG] |= 1UL << ((i - rstart) / nr % BITS_PER_LONG);
		}
	}
	ret = attr_set_range(&gmem->private, start, end - 1, to_private);
	if (ret && !to_private && gmem->h)
		unsplit(gmem, rstart, rend, split_here);
	if (ret || !gmem->h || !to_private)
		goto out;
	/* An all-private huge page is merged. */
	for (pgoff_t i = rstart; i < rend; i += nr) {
		if (guestmem_split_find(mapping, i) && !range_has_shared(gmem, i, nr)) {
			/* Not possible while a piece is poisoned or referenced: it stays split. */
			kvm_gmem_invalidate(gmem, i, i + nr, KVM_FILTER_ALL);
			(void)guestmem_hugetlb_merge(mapping, i);
		}
	}
out:
	up_write(&mapping->invalidate_lock);
	kfree(split_here);
	return ret;
}
