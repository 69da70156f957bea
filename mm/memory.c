// SPDX-License-Identifier: MIT
/*
 * Address spaces, VMAs and page tables; the user page-fault path; reverse
 * mapping and unmapping; THP split; GUP pins; the swap cache as a flag.
 *
 * Models: mm/mmap.c (do_mmap, do_munmap), mm/memory.c (do_anonymous_page,
 * __do_fault, the VM_FAULT_HWPOISON path), mm/hugetlb.c (hugetlb_no_page),
 * arch/x86/mm/fault.c (do_sigbus), mm/rmap.c (try_to_unmap_one,
 * page_address_in_vma, page_mapped_in_vma), mm/huge_memory.c
 * (split_huge_page_to_order), mm/gup.c (pin_user_pages), mm/mlock.c.
 *
 * MODEL: an entry per mapped page-table entry (PTE, PMD or PUD), no
 * page-table pages. A read of untouched anonymous memory allocates a page
 * (no shared zero page). munmap takes whole VMAs only. Dirty bits live in
 * the entries and reach the folio when it is unmapped, as in the kernel.
 */
#include <string.h>

#include "mm/mm.h"

const char *const access_result_names[] = {
	[ACCESS_OK] = "ok",
	[ACCESS_SIGSEGV] = "SIGSEGV",
	[ACCESS_SIGBUS] = "SIGBUS",
	[ACCESS_CONSUMED_POISON] = "consumed-poison",
	[ACCESS_OOM] = "oom",
};

#define TASK_UNMAPPED_BASE	0x7f0000000000UL

/* ---- rmap ---------------------------------------------------------------- */

bool folio_mapped(const struct folio *f)
{
	return !list_empty(&f->rmap);
}

int folio_mapcount(const struct folio *f)
{
	return (int)list_count(&f->rmap);
}

struct address_space *folio_mapping(const struct folio *f)
{
	return f->mapping;
}

unsigned long page_address_in_vma(const struct folio *folio, const struct page *page,
				  const struct vm_area_struct *vma)
{
	pgoff_t pgoff = folio->index + (page_to_pfn(page) - folio_pfn(folio));
	unsigned long addr;

	if (pgoff < vma->vm_pgoff)
		return (unsigned long)-EFAULT;
	addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
	if (addr >= vma->vm_end)
		return (unsigned long)-EFAULT;
	return addr;
}

unsigned long page_mapped_in_vma(const struct page *page, const struct vm_area_struct *vma)
{
	struct folio *folio = page_folio(page);
	struct pte_entry *pte;
	unsigned long pfn = page_to_pfn(page);

	if (!folio)
		return (unsigned long)-EFAULT;
	list_for_each_entry(pte, &folio->rmap, rmap) {
		if (pte->vma != vma)
			continue;
		if (pfn >= pte->pfn && pfn < pte->pfn + (1UL << (pte->shift - PAGE_SHIFT)))
			return pte->addr + ((pfn - pte->pfn) << PAGE_SHIFT);
	}
	return (unsigned long)-EFAULT;
}

/* ---- page-table entries --------------------------------------------------- */

static struct pte_entry *pte_install(struct mm_struct *mm, struct vm_area_struct *vma,
				     unsigned long addr, unsigned int shift, struct folio *folio,
				     unsigned long pfn)
{
	struct pte_entry *pte = kzalloc(sizeof(*pte), GFP_KERNEL);

	if (!pte)
		return NULL;
	pte->vma = vma;
	pte->addr = addr;
	pte->shift = shift;
	pte->kind = PTE_PRESENT;
	pte->pfn = pfn;
	pte->folio = folio;
	pte->node.start = addr >> PAGE_SHIFT;
	pte->node.last = ((addr + (1UL << shift)) >> PAGE_SHIFT) - 1;
	if (rangemap_insert(&mm->ptes, &pte->node)) {
		kfree(pte);
		return NULL;
	}
	list_add_tail(&pte->rmap, &folio->rmap);
	return pte;
}

struct pte_entry *pte_lookup(struct mm_struct *mm, unsigned long addr)
{
	struct range_node *n = rangemap_find(&mm->ptes, addr >> PAGE_SHIFT);

	return n ? container_of(n, struct pte_entry, node) : NULL;
}

/* munlock on the last locked mapping: the folio goes through an LRU batch. */
static void munlock_folio(struct folio *folio)
{
	if (!folio_test_mlocked(folio))
		return;
	folio_clear_mlocked(folio);
	if (folio_test_lru(folio)) {
		folio_clear_lru(folio);		/* isolated into the mlock batch */
		folio_clear_unevictable(folio);
		folio_set(folio, PG_reclaim);	/* MODEL: marks "in an LRU batch" */
	}
}

/* Remove a present entry and its reference, or a hwpoison entry. */
static void mmu_notify(struct pte_entry *pte)
{
	struct mm_struct *mm = pte->vma->vm_mm;

	if (mm->host->mmu_notifier && pte->kind == PTE_PRESENT)
		mm->host->mmu_notifier(mm->host, mm, pte->addr, pte->addr + (1UL << pte->shift));
}

void zap_pte(struct pte_entry *pte)
{
	struct mm_struct *mm = pte->vma->vm_mm;
	struct folio *folio = pte->folio;

	mmu_notify(pte);
	rangemap_erase(&mm->ptes, &pte->node);
	if (folio) {
		list_del(&pte->rmap);
		if (pte->dirty)
			folio_set_dirty(folio);
		if ((pte->vma->vm_flags & VM_LOCKED) && !folio_mapped(folio))
			munlock_folio(folio);
		folio_put(folio);
	}
	kfree(pte);
}

/*
 * Unmap @folio everywhere. With @hwpoison each entry becomes a hwpoison
 * entry (TTU_HWPOISON), so a later access faults with VM_FAULT_HWPOISON.
 * The caller holds a reference of its own.
 */
void try_to_unmap(struct folio *folio, bool hwpoison)
{
	struct pte_entry *pte, *tmp;

	list_for_each_entry_safe(pte, tmp, &folio->rmap, rmap) {
		/* An anonymous page in the swap cache leaves a swap entry behind. */
		bool swap = !hwpoison && folio_test_anon(folio) && folio_test_swapcache(folio);

		if (!hwpoison && !swap) {
			zap_pte(pte);
			continue;
		}
		mmu_notify(pte);
		list_del_init(&pte->rmap);
		if (pte->dirty)
			folio_set_dirty(folio);
		pte->kind = swap ? PTE_SWAP : PTE_HWPOISON;
		pte->folio = NULL;
		pte->dirty = false;
		if ((pte->vma->vm_flags & VM_LOCKED) && !folio_mapped(folio))
			munlock_folio(folio);
		folio_put(folio);
	}
}

bool folio_mkclean(struct folio *folio)
{
	struct pte_entry *pte;
	bool dirty = false;

	list_for_each_entry(pte, &folio->rmap, rmap) {
		dirty |= pte->dirty;
		pte->dirty = false;
	}
	return dirty;
}

/* Models lru_add_drain_all() for one folio: batched folios reach the LRU. */
void shake_folio(struct folio *folio)
{
	if (folio_test_hugetlb(folio) || folio_test_slab(folio))
		return;
	if (folio_test(folio, PG_reclaim)) {
		folio_clear(folio, PG_reclaim);
		folio_set_lru(folio);
	}
}

/* Models delete_from_lru_cache() of mm/memory-failure.c. */
int delete_from_lru_cache(struct folio *folio)
{
	if (!folio_test_lru(folio))
		return -EIO;
	folio_clear_lru(folio);
	folio_clear_active(folio);
	folio_clear_unevictable(folio);
	return 0;
}

int swap_cache_add_folio(struct folio *folio)
{
	if (folio->owner != FOLIO_OWNER_ANON || folio_test_swapcache(folio))
		return -EINVAL;
	folio_set_swapcache(folio);
	folio_ref_add(folio, (int)folio_nr_pages(folio));
	return 0;
}

void swap_cache_del_folio(struct folio *folio)
{
	if (!folio_test_swapcache(folio))
		return;
	folio_clear_swapcache(folio);
	folio_ref_sub(folio, (int)folio_nr_pages(folio));
}

/* ---- address spaces ---------------------------------------------------------- */

struct mm_struct *mm_alloc(struct host *host);
void mmput(struct mm_struct *mm);

struct mm_struct *mm_alloc(struct host *host)
{
	struct mm_struct *mm = kzalloc(sizeof(*mm), GFP_KERNEL);

	if (!mm)
		return NULL;
	mm->host = host;
	rangemap_init(&mm->mm_mt);
	rangemap_init(&mm->ptes);
	init_rwsem(&mm->mmap_lock, "mmap_lock");
	mm->mm_users = 1;
	mm->mmap_base = TASK_UNMAPPED_BASE;
	return mm;
}

static void remove_vma(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	struct range_node *n, *tmp;

	rangemap_for_each_in(&mm->ptes, n, tmp, vma->vm_start >> PAGE_SHIFT,
			     (vma->vm_end >> PAGE_SHIFT) - 1)
		zap_pte(container_of(n, struct pte_entry, node));
	rangemap_erase(&mm->mm_mt, &vma->node);
	if (vma->vm_file) {
		list_del(&vma->shared);
		fput(vma->vm_file);
	}
	if (vma->anon_vma) {
		list_del(&vma->anon_vma_node);
		if (--vma->anon_vma->refs == 0)
			kfree(vma->anon_vma);
	}
	kfree(vma);
}

void mmput(struct mm_struct *mm)
{
	struct range_node *n, *tmp;

	if (--mm->mm_users > 0)
		return;
	rangemap_for_each(&mm->mm_mt, n, tmp)
		remove_vma(container_of(n, struct vm_area_struct, node));
	kfree(mm);
}

struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr)
{
	struct range_node *n = rangemap_find(&mm->mm_mt, addr >> PAGE_SHIFT);

	return n ? container_of(n, struct vm_area_struct, node) : NULL;
}

unsigned long do_mmap(struct task_struct *t, struct file *file, unsigned long addr, u64 len,
		      unsigned long vm_flags, pgoff_t pgoff, int *errp)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *vma;
	unsigned long align = PAGE_SIZE;
	struct hstate *h = NULL;

	*errp = 0;
	if (!mm || t->exited) {
		*errp = -ESRCH;
		return 0;
	}
	if (file && file->kind == FILE_HUGETLBFS) {
		vm_flags |= VM_HUGETLB;
		h = file->hstate;
	} else if (vm_flags & VM_HUGETLB) {
		h = file ? NULL : mm->host->hstates[0].order ? &mm->host->hstates[0] : NULL;
	}
	if (h)
		align = PAGE_SIZE << h->order;
	else if (vm_flags & VM_HUGEPAGE)
		align = PMD_SIZE;
	if (file && file->f_op && file->f_op->mmap) {
		*errp = file->f_op->mmap(file, vm_flags);
		if (*errp)
			return 0;
	}
	if (!len || len % (h ? align : PAGE_SIZE) || addr % align ||
	    (file && (((u64)pgoff << PAGE_SHIFT) % (h ? align : PAGE_SIZE)))) {
		*errp = -EINVAL;
		return 0;
	}
	if (!addr) {
		addr = ALIGN(mm->mmap_base, max(align, (unsigned long)PUD_SIZE));
		mm->mmap_base = addr + (unsigned long)len;
	}
	vma = kzalloc(sizeof(*vma), GFP_KERNEL);
	if (!vma) {
		*errp = -ENOMEM;
		return 0;
	}
	vma->vm_start = addr;
	vma->vm_end = addr + (unsigned long)len;
	vma->vm_flags = vm_flags;
	vma->vm_mm = mm;
	vma->vm_hstate = h;
	vma->vm_pgoff = file ? pgoff : addr >> PAGE_SHIFT;
	vma->node.start = addr >> PAGE_SHIFT;
	vma->node.last = (vma->vm_end >> PAGE_SHIFT) - 1;
	INIT_LIST_HEAD(&vma->shared);
	INIT_LIST_HEAD(&vma->anon_vma_node);
	if (!file || !(vm_flags & VM_SHARED)) {
		vma->anon_vma = kzalloc(sizeof(*vma->anon_vma), GFP_KERNEL);
		if (!vma->anon_vma) {
			kfree(vma);
			*errp = -ENOMEM;
			return 0;
		}
		INIT_LIST_HEAD(&vma->anon_vma->vmas);
		vma->anon_vma->refs = 1;
		list_add_tail(&vma->anon_vma_node, &vma->anon_vma->vmas);
	}
	if (rangemap_insert(&mm->mm_mt, &vma->node)) {
		kfree(vma->anon_vma);
		kfree(vma);
		*errp = -EEXIST;
		return 0;
	}
	if (file && file->kind == FILE_HUGETLBFS && (vm_flags & VM_SHARED)) {
		pgoff_t hpages = (pgoff_t)(len >> (PAGE_SHIFT + h->order));

		*errp = hugetlb_reserve_pages(file, pgoff >> h->order, (pgoff >> h->order) + hpages);
		if (*errp) {
			rangemap_erase(&mm->mm_mt, &vma->node);
			if (vma->anon_vma) {
				list_del(&vma->anon_vma_node);
				kfree(vma->anon_vma);
			}
			kfree(vma);
			return 0;
		}
	}
	if (file) {
		vma->vm_file = file;
		file->refs++;
		list_add_tail(&vma->shared, &file->f_mapping.i_mmap);
	}
	return addr;
}

int do_munmap(struct mm_struct *mm, unsigned long start, u64 len)
{
	struct vm_area_struct *vma = find_vma(mm, start);

	if (!vma || vma->vm_start != start || vma->vm_end - vma->vm_start != len)
		return -EINVAL;
	remove_vma(vma);
	return 0;
}

/* ---- faults ------------------------------------------------------------------ */

/* The x86 SIGBUS for a hwpoison fault: BUS_MCEERR_AR at the address. */
static void do_sigbus(struct task_struct *t, unsigned long addr, unsigned int lsb)
{
	struct host *host = t->mm->host;
	struct task_struct *saved = host->current;

	host->current = t;
	/* arch/x86/mm/fault.c do_sigbus() */
	trace_log(host->trace, LOGLEVEL_ERR,
		  "MCE: Killing %s:%d due to hardware memory corruption fault at %lx", t->comm, t->pid,
		  addr);
	force_sig_mceerr(host, BUS_MCEERR_AR, addr, (short)lsb);
	host->current = saved;
}

static pgoff_t linear_page_index(const struct vm_area_struct *vma, unsigned long addr)
{
	return ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
}

static bool range_unmapped(struct mm_struct *mm, unsigned long start, unsigned long size)
{
	struct range_node *n = rangemap_lower(&mm->ptes, start >> PAGE_SHIFT);

	return !n || n->start > ((start + size) >> PAGE_SHIFT) - 1;
}

static struct folio *fault_anon(struct vm_area_struct *vma, unsigned long addr,
				unsigned int *shiftp, unsigned long *mapaddr)
{
	struct host *host = vma->vm_mm->host;
	unsigned long haddr = ALIGN_DOWN(addr, PMD_SIZE);
	struct folio *folio = NULL;
	unsigned int order = 0;

	if (vma->vm_hstate) {
		struct hstate *h = vma->vm_hstate;

		haddr = ALIGN_DOWN(addr, PAGE_SIZE << h->order);
		folio = alloc_hugetlb_folio(host, h, 0, NULL, NULL);
		if (IS_ERR(folio))
			return NULL;
		order = h->order;
		folio_set_hugetlb_migratable(folio);
	} else {
		if ((vma->vm_flags & VM_HUGEPAGE) && haddr >= vma->vm_start &&
		    haddr + PMD_SIZE <= vma->vm_end && range_unmapped(vma->vm_mm, haddr, PMD_SIZE)) {
			folio = folio_alloc_node(host, 0, HPAGE_PMD_ORDER, FOLIO_OWNER_ANON);
			order = HPAGE_PMD_ORDER;
		}
		if (!folio) {
			folio = folio_alloc_node(host, 0, 0, FOLIO_OWNER_ANON);
			order = 0;
			haddr = addr & PAGE_MASK;
		}
		if (!folio)
			return NULL;
		folio_set_lru(folio);
		folio_set_swapbacked(folio);
		if (vma->vm_flags & VM_LOCKED) {
			folio_set_mlocked(folio);
			folio_set_unevictable(folio);
		}
	}
	folio_set_anon(folio);
	folio->anon_vma = vma->anon_vma;
	folio->index = linear_page_index(vma, haddr);
	*shiftp = PAGE_SHIFT + order;
	*mapaddr = haddr;
	return folio;
}

/*
 * A user access to @addr by @t. Faults pages in as needed, marks written
 * entries dirty, and reports what the access met. On ACCESS_CONSUMED_POISON
 * *pfnp is the poisoned pfn: the CPU would now raise #MC (or SEA), which is
 * the arch front end's business.
 */
static enum access_result __handle_user_access(struct task_struct *t, unsigned long addr,
					       bool write, unsigned long *pfnp, bool gup);

/* The fault runs in @t's context: what it allocates is charged to @t's cgroup. */
static enum access_result user_access_as(struct task_struct *t, unsigned long addr, bool write,
					 unsigned long *pfnp, bool gup)
{
	struct host *host = t->mm ? t->mm->host : NULL;
	struct task_struct *saved;
	enum access_result r;
	bool saved_alive;

	if (!host)
		return __handle_user_access(t, addr, write, pfnp, gup);
	saved = host->current;
	saved_alive = saved && !saved->exited;
	host->current = t;
	r = __handle_user_access(t, addr, write, pfnp, gup);
	/* As do_exit() would have: no current whose thread group died meanwhile. */
	host->current = saved_alive && saved->exited ? NULL : saved;
	return r;
}

enum access_result handle_user_access(struct task_struct *t, unsigned long addr, bool write,
				      unsigned long *pfnp)
{
	return user_access_as(t, addr, write, pfnp, false);
}

/*
 * get_user_pages() for one page: the same fault path, but failures are
 * returned to the caller instead of signalled (hva_to_pfn() and friends
 * decide what to send).
 */
enum access_result get_user_page(struct task_struct *t, unsigned long addr, bool write,
				 unsigned long *pfnp)
{
	return user_access_as(t, addr, write, pfnp, true);
}

static enum access_result __handle_user_access(struct task_struct *t, unsigned long addr,
					       bool write, unsigned long *pfnp, bool gup)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *vma;
	struct pte_entry *pte;
	struct folio *folio;
	struct page *page;
	unsigned long pfn, mapaddr;
	unsigned int shift;
	int err;

	if (!mm || t->exited)
		return ACCESS_SIGSEGV;
	vma = find_vma(mm, addr);
	if (!vma || (write && !(vma->vm_flags & VM_WRITE))) {
		if (!gup)
			force_sig_fault(t, SIGSEGV, SEGV_MAPERR, addr);
		return ACCESS_SIGSEGV;
	}
	pte = pte_lookup(mm, addr);
	if (pte && pte->kind == PTE_SWAP) {
		/* do_swap_page(): the folio is still in the swap cache, or comes back from swap. */
		struct folio *sf = pfn_folio_lookup(mm->host, pte->pfn);
		struct page *sp = page_lookup(mm->host, pte->pfn);

		if (sf && folio_test_swapcache(sf) && folio_test_anon(sf)) {
			if ((sp && PageHWPoison(sp)) || folio_test_hwpoison(sf)) {
				if (!gup)
					do_sigbus(t, addr, PAGE_SHIFT);
				return ACCESS_SIGBUS;
			}
			pte->kind = PTE_PRESENT;
			pte->folio = sf;
			list_add_tail(&pte->rmap, &sf->rmap);
			folio_get(sf);
		} else {
			/* Swapped out meanwhile: read back into a new page. */
			zap_pte(pte);
			pte = NULL;
		}
	}
	if (pte && pte->kind == PTE_HWPOISON) {
		/* VM_FAULT_HWPOISON(_LARGE): x86 reports the hugetlb page size. */
		if (!gup)
			do_sigbus(t, addr, vma->vm_hstate ? huge_page_shift(vma->vm_hstate) : PAGE_SHIFT);
		return ACCESS_SIGBUS;
	}
	if (!pte) {
		if (!vma->vm_file) {
			folio = fault_anon(vma, addr, &shift, &mapaddr);
			if (!folio)
				return ACCESS_OOM;
			pfn = folio_pfn(folio);
		} else if (vma->vm_file->f_op && vma->vm_file->f_op->fault) {
			pgoff_t index = linear_page_index(vma, addr);
			int fault = vma->vm_file->f_op->fault(vma->vm_file, index, &folio);

			if (fault & VM_FAULT_OOM)
				return ACCESS_OOM;
			if (fault & VM_FAULT_HWPOISON) {
				if (!gup)
					do_sigbus(t, addr, PAGE_SHIFT);
				return ACCESS_SIGBUS;
			}
			if (fault) {
				/* VM_FAULT_SIGBUS: x86 do_sigbus() sends BUS_ADRERR at the address. */
				if (!gup)
					force_sig_fault(t, SIGBUS, BUS_ADRERR, addr);
				return ACCESS_SIGBUS;
			}
			/* ->fault returned it with a reference: the pte's now. */
			shift = PAGE_SHIFT;
			mapaddr = addr & PAGE_MASK;
			pfn = folio_pfn(folio) + (index - folio->index);
		} else {
			pgoff_t index = linear_page_index(vma, addr);
			struct hstate *h = vma->vm_hstate;

			if (h)
				index = ALIGN_DOWN(index, pages_per_huge_page(h));
			folio = filemap_grab_folio(vma->vm_file, index, &err);
			if (!folio) {
				/* vmf_error(): only -ENOMEM is VM_FAULT_OOM; -ENOSPC is SIGBUS. */
				if (err == -ENOMEM)
					return ACCESS_OOM;
				if (!gup)
					force_sig_fault(t, SIGBUS, BUS_ADRERR, addr);
				return ACCESS_SIGBUS;
			}
			if (h) {
				/* hugetlb_no_page(): VM_FAULT_HWPOISON_LARGE */
				if (folio_test_hwpoison(folio)) {
					if (!gup)
						do_sigbus(t, addr, huge_page_shift(h));
					return ACCESS_SIGBUS;
				}
				shift = huge_page_shift(h);
				mapaddr = ALIGN_DOWN(addr, PAGE_SIZE << h->order);
				pfn = folio_pfn(folio);
			} else {
				page = page_lookup(mm->host, folio_pfn(folio) + (index - folio->index));
				if ((page && PageHWPoison(page)) || folio_test_hwpoison(folio)) {
					bool evicted;

					/* __do_fault(): the MF reference keeps it from being evicted. */
					folio_get(folio);
					evicted = mapping_evict_folio(folio->mapping, folio);
					folio_put(folio);
					if (!evicted) {
						if (!gup)
							do_sigbus(t, addr, PAGE_SHIFT);
						return ACCESS_SIGBUS;
					}
					folio = filemap_grab_folio(vma->vm_file, index, &err);
					if (!folio)
						return ACCESS_OOM;
				}
				shift = PAGE_SHIFT;
				mapaddr = addr & PAGE_MASK;
				pfn = folio_pfn(folio) + (index - folio->index);
			}
			folio_get(folio);
		}
		pte = pte_install(mm, vma, mapaddr, shift, folio, pfn);
		if (!pte) {
			folio_put(folio);
			return ACCESS_OOM;
		}
		pte->write = !!(vma->vm_flags & VM_WRITE);
	}
	pfn = pte->pfn + ((addr - pte->addr) >> PAGE_SHIFT);
	if (pfnp)
		*pfnp = pfn;
	page = page_lookup(mm->host, pfn);
	if (page && page->hw_bad)
		return ACCESS_CONSUMED_POISON;
	if (write)
		pte->dirty = true;
	return ACCESS_OK;
}

/* ---- GUP pins ------------------------------------------------------------------ */

int pin_user_page(struct task_struct *t, unsigned long addr, struct folio **foliop)
{
	enum access_result r = handle_user_access(t, addr, false, NULL);
	struct pte_entry *pte;

	if (r != ACCESS_OK)
		return -EFAULT;
	pte = pte_lookup(t->mm, addr);
	folio_get(pte->folio);
	pte->folio->_pincount++;
	*foliop = pte->folio;
	return 0;
}

void unpin_user_page(struct folio *folio)
{
	folio->_pincount--;
	folio_put(folio);
}

/* ---- THP split ------------------------------------------------------------------ */

/*
 * Split the THP containing @page to order-0 folios; the caller holds a
 * reference on it, which moves to the new folio of @page. -EAGAIN when
 * references beyond the mappings, the page cache and the caller's exist
 * (a GUP pin, say), -EINVAL for HugeTLB or an order we cannot split to.
 */
int split_huge_page_to_order(struct page *page, unsigned int new_order)
{
	struct host *host = page->host;
	struct folio *folio = page_folio(page), *sub;
	unsigned long pfn0, nr, i, target;
	struct pte_entry *pte, *ptmp;
	int expected, extra_mf;
	struct address_space *mapping;

	if (!folio || !folio_test_large(folio) || folio_test_hugetlb(folio) || new_order)
		return -EINVAL;
	mapping = folio->mapping;
	expected = folio_mapcount(folio) + 1;
	if (mapping)
		expected += (int)folio_nr_pages(folio);
	if (folio_test_swapcache(folio))
		expected += (int)folio_nr_pages(folio);
	if (folio_ref_count(folio) != expected)
		return -EAGAIN;

	pfn0 = folio_pfn(folio);
	nr = folio_nr_pages(folio);
	target = page_to_pfn(page);
	extra_mf = folio->mf_pins;
	rangemap_erase(&host->memmap, &folio->pfn_node);
	if (mapping)
		rangemap_erase(&mapping->i_pages, &folio->cache_node);

	for (i = 0; i < nr; i++) {
		sub = folio_new(host, pfn0 + i, 0, folio->owner, __GFP_NOFAIL);
		sub->flags = folio->flags & ~((1UL << PG_head) | (1UL << PG_has_hwpoisoned));
		sub->mapping = mapping;
		sub->index = folio->index + i;
		sub->anon_vma = folio->anon_vma;
		if (mapping) {
			sub->cache_node.start = sub->cache_node.last = sub->index;
			WARN_ON(host, rangemap_insert(&mapping->i_pages, &sub->cache_node));
			atomic_set(&sub->_refcount, 1);
		}
		if (folio_test_swapcache(folio))
			atomic_add(1, &sub->_refcount);
		if (pfn0 + i == target) {
			atomic_add(1, &sub->_refcount);	/* the caller's reference */
			sub->mf_pins = extra_mf;
		}
	}
	/* Each mapping of the THP becomes one PTE per subpage (remap_page). */
	list_for_each_entry_safe(pte, ptmp, &folio->rmap, rmap) {
		struct mm_struct *mm = pte->vma->vm_mm;
		unsigned long n = 1UL << (pte->shift - PAGE_SHIFT);

		list_del(&pte->rmap);
		rangemap_erase(&mm->ptes, &pte->node);
		for (i = 0; i < n; i++) {
			struct pte_entry *np;

			sub = pfn_folio_lookup(host, pte->pfn + i);
			np = pte_install(mm, pte->vma, pte->addr + (i << PAGE_SHIFT), PAGE_SHIFT,
					 sub, pte->pfn + i);
			if (WARN_ON(host, !np))
				continue;
			np->dirty = pte->dirty;
			np->write = pte->write;
			atomic_add(1, &sub->_refcount);
		}
		kfree(pte);
	}
	host->nr_folios--;
	folio_free(folio);
	return 0;
}
