// SPDX-License-Identifier: MIT
/*
 * memory_failure() and friends: classification, containment, signals,
 * counters, the panic policy, unpoison and soft offline.
 *
 * Models: mm/memory-failure.c (mm-new @004449ba): memory_failure(),
 * try_memory_failure_hugetlb(), __get_huge_page_for_hwpoison(),
 * hugetlb_update_hwpoison(), get_hwpoison_page(), get_any_page(),
 * __get_hwpoison_page(), hwpoison_user_mappings(), unmap_poisoned_folio(),
 * collect_procs_anon(), collect_procs_file(), task_early_kill(),
 * kill_procs(), kill_proc(), kill_accessing_process(), identify_page_state(),
 * error_states[], me_*(), truncate_error_folio(), has_extra_refcount(),
 * action_result(), memory_failure_queue(), unpoison_memory(),
 * soft_offline_page(); plus the proposed panic_on_unrecoverable_mf() of
 * Breno Leitao's series (v4 and v9 rules, a model switch).
 *
 * MODEL: memory_failure() keeps the reference it takes forever (the "MF
 * pin"); the model counts it in folio->mf_pins so that validation can tell
 * it from other holders. A panic is recorded and the function returns as if
 * the kernel had gone on; nothing after it has effects that matter.
 */
#define pr_fmt(fmt) "Memory failure: " fmt

#include <limits.h>
#include <string.h>

#include "mm/memory-failure.h"

const char *const action_name[__NR_MF_RESULTS] = {
	[MF_IGNORED] = "Ignored",
	[MF_FAILED] = "Failed",
	[MF_DELAYED] = "Delayed",
	[MF_RECOVERED] = "Recovered",
};

const char *const mf_result_enum_names[__NR_MF_RESULTS] = {
	[MF_IGNORED] = "MF_IGNORED",
	[MF_FAILED] = "MF_FAILED",
	[MF_DELAYED] = "MF_DELAYED",
	[MF_RECOVERED] = "MF_RECOVERED",
};

const char *const action_page_types[__NR_MF_MSGS] = {
	[MF_MSG_KERNEL] = "reserved kernel page",
	[MF_MSG_KERNEL_HIGH_ORDER] = "high-order kernel page",
	[MF_MSG_HUGE] = "huge page",
	[MF_MSG_FREE_HUGE] = "free huge page",
	[MF_MSG_GET_HWPOISON] = "get hwpoison page",
	[MF_MSG_UNMAP_FAILED] = "unmapping failed page",
	[MF_MSG_DIRTY_SWAPCACHE] = "dirty swapcache page",
	[MF_MSG_CLEAN_SWAPCACHE] = "clean swapcache page",
	[MF_MSG_DIRTY_MLOCKED_LRU] = "dirty mlocked LRU page",
	[MF_MSG_CLEAN_MLOCKED_LRU] = "clean mlocked LRU page",
	[MF_MSG_DIRTY_UNEVICTABLE_LRU] = "dirty unevictable LRU page",
	[MF_MSG_CLEAN_UNEVICTABLE_LRU] = "clean unevictable LRU page",
	[MF_MSG_DIRTY_LRU] = "dirty LRU page",
	[MF_MSG_CLEAN_LRU] = "clean LRU page",
	[MF_MSG_TRUNCATED_LRU] = "already truncated LRU page",
	[MF_MSG_BUDDY] = "free buddy page",
	[MF_MSG_DAX] = "dax page",
	[MF_MSG_UNSPLIT_THP] = "unsplit thp",
	[MF_MSG_ALREADY_POISONED] = "already poisoned page",
	[MF_MSG_PFN_MAP] = "non struct page pfn",
	[MF_MSG_UNKNOWN] = "unknown page",
};

const char *const mf_msg_enum_names[__NR_MF_MSGS] = {
	[MF_MSG_KERNEL] = "MF_MSG_KERNEL",
	[MF_MSG_KERNEL_HIGH_ORDER] = "MF_MSG_KERNEL_HIGH_ORDER",
	[MF_MSG_HUGE] = "MF_MSG_HUGE",
	[MF_MSG_FREE_HUGE] = "MF_MSG_FREE_HUGE",
	[MF_MSG_GET_HWPOISON] = "MF_MSG_GET_HWPOISON",
	[MF_MSG_UNMAP_FAILED] = "MF_MSG_UNMAP_FAILED",
	[MF_MSG_DIRTY_SWAPCACHE] = "MF_MSG_DIRTY_SWAPCACHE",
	[MF_MSG_CLEAN_SWAPCACHE] = "MF_MSG_CLEAN_SWAPCACHE",
	[MF_MSG_DIRTY_MLOCKED_LRU] = "MF_MSG_DIRTY_MLOCKED_LRU",
	[MF_MSG_CLEAN_MLOCKED_LRU] = "MF_MSG_CLEAN_MLOCKED_LRU",
	[MF_MSG_DIRTY_UNEVICTABLE_LRU] = "MF_MSG_DIRTY_UNEVICTABLE_LRU",
	[MF_MSG_CLEAN_UNEVICTABLE_LRU] = "MF_MSG_CLEAN_UNEVICTABLE_LRU",
	[MF_MSG_DIRTY_LRU] = "MF_MSG_DIRTY_LRU",
	[MF_MSG_CLEAN_LRU] = "MF_MSG_CLEAN_LRU",
	[MF_MSG_TRUNCATED_LRU] = "MF_MSG_TRUNCATED_LRU",
	[MF_MSG_BUDDY] = "MF_MSG_BUDDY",
	[MF_MSG_DAX] = "MF_MSG_DAX",
	[MF_MSG_UNSPLIT_THP] = "MF_MSG_UNSPLIT_THP",
	[MF_MSG_ALREADY_POISONED] = "MF_MSG_ALREADY_POISONED",
	[MF_MSG_PFN_MAP] = "MF_MSG_PFN_MAP",
	[MF_MSG_UNKNOWN] = "MF_MSG_UNKNOWN",
};

/* Counter names for the trace: static strings, one per node and result. */
#define NODE_STATS(n) {								\
	"node" #n "/memory_failure/total", "node" #n "/memory_failure/ignored",	\
	"node" #n "/memory_failure/failed", "node" #n "/memory_failure/delayed",	\
	"node" #n "/memory_failure/recovered" }
static const char *const mf_stat_names[MAX_NUMNODES][5] = {
	NODE_STATS(0), NODE_STATS(1), NODE_STATS(2), NODE_STATS(3),
	NODE_STATS(4), NODE_STATS(5), NODE_STATS(6), NODE_STATS(7),
};

struct mf_outcome mf_last_outcome(const struct host *host)
{
	struct mf_outcome o;

	o.has_result = host->mf_has_result;
	o.type = (enum mf_action_page_type)host->mf_last_type;
	o.result = (enum mf_result)host->mf_last_result;
	o.ret = host->mf_last_ret;
	o.error_state = host->mf_error_state;
	return o;
}

/* memory_failure() has its reference on @pfn: a restructuring must see it. */
static void mf_note_ref(struct host *host, unsigned long pfn)
{
	if (host->mf_running)
		host->mf_ref_pfn = pfn;
}

/* The reference memory_failure() holds, and keeps unless it drops it. */
static void mf_get(struct folio *folio)
{
	folio_get(folio);
	folio->mf_pins++;
}

static void mf_put(struct folio *folio)
{
	folio->mf_pins--;
	folio_put(folio);
}

/* page_ref_inc() on a page taken off buddy: the pin that keeps it out. */
static void page_ref_inc_mf(struct page *p)
{
	struct folio *f = page_folio(p);

	if (f->owner == FOLIO_OWNER_LEAKED) {
		f->owner = FOLIO_OWNER_HWPOISON;
		p->host->nr_leaked_pages--;
	}
	mf_get(f);
}

static void num_poisoned_pages_inc(struct host *host, unsigned long pfn)
{
	long v = atomic_long_add_return(1, &host->num_poisoned_pages);

	host_counter(host, "HardwareCorrupted", v * (long)(PAGE_SIZE / 1024), (long)(PAGE_SIZE / 1024));
}

static void num_poisoned_pages_sub(struct host *host, unsigned long pfn, long i)
{
	long v = atomic_long_add_return(-i, &host->num_poisoned_pages);

	host_counter(host, "HardwareCorrupted", v * (long)(PAGE_SIZE / 1024),
		     -i * (long)(PAGE_SIZE / 1024));
}

static void update_per_node_mf_stats(struct host *host, unsigned long pfn, enum mf_result result)
{
	int nid = host_node_of_pfn(host, pfn);
	struct memory_failure_stats *s;
	unsigned long *c;

	if (WARN_ON(host, nid < 0))
		return;
	s = &host->nodes[nid].mf_stats;
	switch (result) {
	case MF_IGNORED: c = &s->ignored; break;
	case MF_FAILED: c = &s->failed; break;
	case MF_DELAYED: c = &s->delayed; break;
	case MF_RECOVERED: c = &s->recovered; break;
	default: return;
	}
	++*c;
	++s->total;
	host_counter(host, mf_stat_names[nid][0], (long)s->total, 1);
	host_counter(host, mf_stat_names[nid][1 + result], (long)*c, 1);
}

/*
 * The proposed vm.panic_on_unrecoverable_memory_failure: which results
 * panic depends on the series version (the model's panic_rule switch).
 */
static bool panic_on_unrecoverable_mf(struct host *host, enum mf_action_page_type type,
				      enum mf_result result)
{
	if (!host->sysctl.panic_on_unrecoverable_memory_failure || result != MF_IGNORED)
		return false;
	switch (host->sysctl.panic_rule) {
	case MF_PANIC_RULE_V4:
		return type == MF_MSG_KERNEL || type == MF_MSG_KERNEL_HIGH_ORDER ||
		       type == MF_MSG_UNKNOWN;
	case MF_PANIC_RULE_V9:
		return type == MF_MSG_KERNEL;
	default:
		return false;
	}
}

static int action_result(struct host *host, unsigned long pfn, enum mf_action_page_type type,
			 enum mf_result result)
{
	struct trace_event e = {
		.kind = TRACE_RESULT, .has = TF_PFN | TF_TYPE | TF_RESULT,
		.pfn = pfn, .type = mf_msg_enum_names[type], .result = mf_result_enum_names[result],
	};
	int ret = (result == MF_RECOVERED || result == MF_DELAYED) ? 0 : -EBUSY;

	trace_emit(host->trace, &e);	/* trace_memory_failure_event() */
	if (type != MF_MSG_ALREADY_POISONED && type != MF_MSG_PFN_MAP) {
		num_poisoned_pages_inc(host, pfn);
		update_per_node_mf_stats(host, pfn, result);
	}
	pr_err(host, "%#lx: recovery action for %s: %s\n", pfn, action_page_types[type],
	       action_name[result]);
	host->mf_has_result = true;
	host->mf_last_type = type;
	host->mf_last_result = result;
	if (panic_on_unrecoverable_mf(host, type, result))
		panic(host, "Memory failure: %#lx: unrecoverable page", pfn);
	return ret;
}

void hwpoison_mark_page(struct page *p)
{
	if (!TestSetPageHWPoison(p))
		num_poisoned_pages_inc(p->host, page_to_pfn(p));
}

/* ---- killing ---------------------------------------------------------------- */

struct to_kill {
	struct list_head nd;
	struct task_struct *tsk;
	unsigned long addr;
	short size_shift;
};

static int kill_proc(struct host *host, struct to_kill *tk, unsigned long pfn, int flags)
{
	struct task_struct *t = tk->tsk;
	int ret;

	pr_err(host, "%#lx: Sending SIGBUS to %s:%d due to hardware memory corruption\n",
	       pfn, t->comm, t->pid);
	if ((flags & MF_ACTION_REQUIRED) && t == host->current)
		ret = force_sig_mceerr(host, BUS_MCEERR_AR, tk->addr, tk->size_shift);
	else
		ret = send_sig_mceerr(BUS_MCEERR_AO, tk->addr, tk->size_shift, t);
	if (ret < 0)
		pr_info(host, "Error sending signal to %s:%d: %d\n", t->comm, t->pid, ret);
	return ret;
}

static void __add_to_kill(struct host *host, struct task_struct *tsk, const struct page *p,
			  struct list_head *to_kill, unsigned long addr)
{
	struct to_kill *tk = kmalloc(sizeof(*tk), GFP_ATOMIC);

	if (!tk) {
		pr_err(host, "Out of memory while machine check handling\n");
		return;
	}
	tk->addr = addr;
	tk->size_shift = (short)folio_shift(page_folio(p));
	if (tk->addr == (unsigned long)-EFAULT)
		pr_info(host, "Unable to find user space address %lx in %s\n", page_to_pfn(p), tsk->comm);
	tk->tsk = tsk;
	list_add_tail(&tk->nd, to_kill);
}

static void add_to_kill_anon_file(struct host *host, struct task_struct *tsk,
				  const struct page *p, struct list_head *to_kill, unsigned long addr)
{
	if (addr == (unsigned long)-EFAULT)
		return;
	__add_to_kill(host, tsk, p, to_kill, addr);
}

static void kill_procs(struct host *host, struct list_head *to_kill, int forcekill,
		       unsigned long pfn, int flags)
{
	struct to_kill *tk, *next;

	list_for_each_entry_safe(tk, next, to_kill, nd) {
		if (forcekill) {
			if (tk->addr == (unsigned long)-EFAULT) {
				pr_err(host, "%#lx: forcibly killing %s:%d because of failure to unmap corrupted page\n",
				       pfn, tk->tsk->comm, tk->tsk->pid);
				do_send_sig_info(SIGKILL, tk->tsk);
			} else if (kill_proc(host, tk, pfn, flags) < 0) {
				pr_err(host, "%#lx: Cannot send advisory machine check signal to %s:%d\n",
				       pfn, tk->tsk->comm, tk->tsk->pid);
			}
		}
		list_del(&tk->nd);
		kfree(tk);
	}
}

static struct task_struct *find_early_kill_thread(struct host *host, struct task_struct *tsk)
{
	struct task_struct *t;

	for_each_thread(tsk, t) {
		if (t->flags & PF_MCE_PROCESS) {
			if (t->flags & PF_MCE_EARLY)
				return t;
		} else if (host->sysctl.memory_failure_early_kill) {
			return t;
		}
	}
	return NULL;
}

static struct task_struct *task_early_kill(struct host *host, struct task_struct *tsk,
					   int force_early)
{
	if (!tsk->mm)
		return NULL;
	if (force_early && host->current && tsk->mm == host->current->mm)
		return host->current;
	return find_early_kill_thread(host, tsk);
}

#define for_each_process(host, t)						\
	list_for_each_entry(t, &(host)->tasks, tasks)				\
		if ((t)->group_leader == (t) && !(t)->exited)

static void collect_procs_anon(struct host *host, struct folio *folio, struct page *page,
			       struct list_head *to_kill, int force_early)
{
	struct anon_vma *av = folio->anon_vma;
	struct task_struct *tsk;

	if (!av || !folio_mapped(folio))
		return;
	for_each_process(host, tsk) {
		struct task_struct *t = task_early_kill(host, tsk, force_early);
		struct vm_area_struct *vma;

		if (!t)
			continue;
		list_for_each_entry(vma, &av->vmas, anon_vma_node) {
			if (vma->vm_mm != t->mm)
				continue;
			add_to_kill_anon_file(host, t, page, to_kill, page_mapped_in_vma(page, vma));
		}
	}
}

static void collect_procs_file(struct host *host, struct folio *folio, struct page *page,
			       struct list_head *to_kill, int force_early)
{
	struct address_space *mapping = folio->mapping;
	pgoff_t pgoff = folio->index + (page_to_pfn(page) - folio_pfn(folio));
	struct task_struct *tsk;

	down_read(&mapping->i_mmap_rwsem);
	for_each_process(host, tsk) {
		struct task_struct *t = task_early_kill(host, tsk, force_early);
		struct vm_area_struct *vma;

		if (!t)
			continue;
		list_for_each_entry(vma, &mapping->i_mmap, shared) {
			pgoff_t npages = (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;

			/* vma_interval_tree_foreach(pgoff, pgoff) */
			if (pgoff < vma->vm_pgoff || pgoff >= vma->vm_pgoff + npages)
				continue;
			if (vma->vm_mm != t->mm)
				continue;
			add_to_kill_anon_file(host, t, page, to_kill,
					      page_address_in_vma(folio, page, vma));
		}
	}
	up_read(&mapping->i_mmap_rwsem);
}

static void collect_procs(struct host *host, struct folio *folio, struct page *page,
			  struct list_head *tokill, int force_early)
{
	if (!folio->mapping && !folio->anon_vma)
		return;
	if (folio_test_anon(folio))
		collect_procs_anon(host, folio, page, tokill, force_early);
	else
		collect_procs_file(host, folio, page, tokill, force_early);
}

/*
 * Models kill_accessing_process(): walk @p's page tables for an entry,
 * present or hwpoison, that maps @pfn, and send it BUS_MCEERR_AR there.
 */
static int kill_accessing_process(struct host *host, struct task_struct *p, unsigned long pfn,
				  int flags)
{
	struct to_kill tk = { .tsk = p };
	struct range_node *n, *tmp;
	bool found = false;

	if (!p || !p->mm)
		return -EFAULT;
	down_read(&p->mm->mmap_lock);
	rangemap_for_each(&p->mm->ptes, n, tmp) {
		struct pte_entry *pte = container_of(n, struct pte_entry, node);
		unsigned long npages = 1UL << (pte->shift - PAGE_SHIFT);
		bool huge_vma = pte->vma->vm_hstate != NULL;

		if (pte->kind != PTE_PRESENT && pte->kind != PTE_HWPOISON)
			continue;
		if (pfn < pte->pfn || pfn >= pte->pfn + npages)
			continue;
		if (pte->kind == PTE_HWPOISON && pte->shift == PMD_SHIFT && !huge_vma)
			continue;	/* a THP PMD is only checked when present */
		tk.addr = pte->addr + ((pfn - pte->pfn) << PAGE_SHIFT);
		/* hugetlb entries report their size; THP PMDs and PTEs a page. */
		tk.size_shift = (short)(huge_vma ? pte->shift : PAGE_SHIFT);
		found = true;
		break;
	}
	if (found && tk.addr)
		kill_proc(host, &tk, pfn, flags);
	up_read(&p->mm->mmap_lock);
	return found ? -EHWPOISON : 0;
}

/* ---- getting a reference ---------------------------------------------------- */

static bool PageReserved(const struct page *p)
{
	struct folio *f = page_folio(p);

	return f && folio_test_reserved(f);
}

static bool HWPoisonHandlable(const struct page *p, unsigned long flags)
{
	struct folio *f = page_folio(p);

	if (f && folio_test_slab(f))
		return false;
	/* MF_SOFT_OFFLINE with movable_ops pages: none are modelled. */
	return (f && folio_test_lru(f)) || is_free_buddy_page(p);
}

/* Kernel-owned for certain: v9's -ENOTRECOVERABLE classification. */
static bool HWPoisonKernelOwned(const struct page *p)
{
	struct folio *f = page_folio(p);

	return f && (folio_test_reserved(f) || folio_test_slab(f) || folio_test_pgtable(f) ||
		     folio_test_large_kmalloc(f));
}

static int get_hwpoison_hugetlb_folio(struct folio *folio, bool *hugetlb, bool unpoison)
{
	int ret = 2;

	*hugetlb = false;
	if (!folio)
		return ret;
	mutex_lock(&folio->host->hugetlb_lock);
	if (folio_test_hugetlb(folio)) {
		*hugetlb = true;
		if (folio_test_hugetlb_freed(folio))
			ret = 0;
		else if (folio_test_hugetlb_migratable(folio) || unpoison)
			ret = folio_try_get(folio);
		else
			ret = -EBUSY;
	}
	mutex_unlock(&folio->host->hugetlb_lock);
	return ret;
}

static int __get_hwpoison_page(struct page *page, unsigned long flags)
{
	struct folio *folio = page_folio(page);
	bool hugetlb = false;
	int ret;

	ret = get_hwpoison_hugetlb_folio(folio, &hugetlb, false);
	if (hugetlb) {
		if (ret > 0) {
			folio->mf_pins++;
			mf_note_ref(page->host, page_to_pfn(page));
		}
		return ret;
	}
	if (!HWPoisonHandlable(page, flags))
		return -EBUSY;
	if (folio && folio_try_get(folio)) {
		folio->mf_pins++;
		mf_note_ref(page->host, page_to_pfn(page));
		return 1;
	}
	return 0;
}

#define GET_PAGE_MAX_RETRY_NUM 3

static int get_any_page(struct page *p, unsigned long flags)
{
	struct host *host = p->host;
	bool count_increased = flags & MF_COUNT_INCREASED;
	int ret = 0, pass = 0;

	if (host->sysctl.panic_rule == MF_PANIC_RULE_V9 && HWPoisonKernelOwned(p)) {
		if (count_increased)
			mf_put(page_folio(p));
		return -ENOTRECOVERABLE;
	}
try_again:
	if (!count_increased) {
		ret = __get_hwpoison_page(p, flags);
		if (!ret) {
			if (page_count(p)) {
				/* We raced with an allocation, retry. */
				if (pass++ < GET_PAGE_MAX_RETRY_NUM)
					goto try_again;
				ret = -EBUSY;
			} else if (!(page_folio(p) && folio_test_hugetlb(page_folio(p))) &&
				   !is_free_buddy_page(p)) {
				/* We raced with put_page, retry. */
				if (pass++ < GET_PAGE_MAX_RETRY_NUM)
					goto try_again;
				ret = -EIO;
			}
			goto out;
		} else if (ret == -EBUSY) {
			if (pass++ < 3) {
				if (page_folio(p))
					shake_folio(page_folio(p));
				goto try_again;
			}
			ret = -EIO;
			goto out;
		}
	}
	if ((page_folio(p) && folio_test_hugetlb(page_folio(p))) || HWPoisonHandlable(p, flags)) {
		ret = 1;
	} else {
		if (pass++ < GET_PAGE_MAX_RETRY_NUM) {
			mf_put(page_folio(p));
			count_increased = false;
			goto try_again;
		}
		mf_put(page_folio(p));
		ret = -EIO;
	}
out:
	if (ret == -EIO)
		pr_err(host, "%#lx: unhandlable page.\n", page_to_pfn(p));
	return ret;
}

static int __get_unpoison_page(struct page *page)
{
	struct folio *folio = page_folio(page);
	bool hugetlb = false;
	int ret;

	ret = get_hwpoison_hugetlb_folio(folio, &hugetlb, true);
	if (hugetlb)
		return ret;
	if (page->private == MAGIC_HWPOISON && PageHWPoison(page))
		return -EHWPOISON;
	return folio && folio_try_get(folio) ? 1 : 0;
}

static int get_hwpoison_page(struct page *p, unsigned long flags)
{
	if (flags & MF_UNPOISON)
		return __get_unpoison_page(p);
	return get_any_page(p, flags);
}

/* ---- containment --------------------------------------------------------- */

static int unmap_poisoned_folio(struct host *host, struct folio *folio, unsigned long pfn,
				bool must_kill)
{
	struct address_space *mapping;
	bool ttu_hwpoison = true;

	if (folio_test_swapcache(folio)) {
		pr_err(host, "%#lx: keeping poisoned page in swap cache\n", pfn);
		ttu_hwpoison = false;
	}
	mapping = folio_mapping(folio);
	if (!must_kill && !folio_test_dirty(folio) && mapping && mapping_can_writeback(mapping)) {
		if (folio_mkclean(folio)) {
			folio_set_dirty(folio);
		} else {
			ttu_hwpoison = false;
			pr_info(host, "%#lx: corrupted page was clean: dropped without side effects\n", pfn);
		}
	}
	if (folio_test_hugetlb(folio) && !folio_test_anon(folio)) {
		if (!mapping) {
			pr_info(host, "%#lx: could not lock mapping for mapped hugetlb folio\n",
				folio_pfn(folio));
			return -EBUSY;
		}
		down_write(&mapping->i_mmap_rwsem);
		try_to_unmap(folio, ttu_hwpoison);
		up_write(&mapping->i_mmap_rwsem);
	} else {
		try_to_unmap(folio, ttu_hwpoison);
	}
	return folio_mapped(folio) ? -EBUSY : 0;
}

static bool hwpoison_user_mappings(struct host *host, struct folio *folio, struct page *p,
				   unsigned long pfn, int flags)
{
	LIST_HEAD(tokill);
	bool unmap_success, mlocked = folio_test_mlocked(folio);
	int forcekill;

	if (folio_test_reserved(folio) || folio_test_slab(folio) || folio_test_pgtable(folio) ||
	    folio_test_offline(folio))
		return true;
	if (!(folio_test_lru(folio) || folio_test_hugetlb(folio)))
		return true;
	if (!folio_mapped(folio))
		return true;
	if (folio->mapping && folio->mapping->a_ops && folio->mapping->a_ops->keep_user_mappings &&
	    folio->mapping->a_ops->keep_user_mappings(folio->mapping))
		return true;

	collect_procs(host, folio, p, &tokill, flags & MF_ACTION_REQUIRED);
	unmap_success = !unmap_poisoned_folio(host, folio, pfn, flags & MF_MUST_KILL);
	if (!unmap_success)
		pr_err(host, "%#lx: failed to unmap page (folio mapcount=%d)\n", pfn,
		       folio_mapcount(folio));
	else
		p->mf_unmapped = true;
	if (mlocked)
		shake_folio(folio);
	forcekill = folio_test_dirty(folio) || (flags & MF_MUST_KILL) || !unmap_success;
	kill_procs(host, &tokill, forcekill, pfn, flags);
	return unmap_success;
}

/* ---- page states and their handlers ------------------------------------------- */

struct page_state {
	unsigned long mask;
	unsigned long res;
	enum mf_action_page_type type;
	int (*action)(struct host *host, const struct page_state *ps, struct page *p);
};

static bool has_extra_refcount(struct host *host, const struct page_state *ps, struct page *p,
			       bool extra_pins)
{
	int count = page_count(p) - 1;

	if (extra_pins)
		count -= (int)folio_nr_pages(page_folio(p));
	if (count > 0) {
		pr_err(host, "%#lx: %s still referenced by %d users\n", page_to_pfn(p),
		       action_page_types[ps->type], count);
		return true;
	}
	return false;
}

static int truncate_error_folio(struct host *host, struct folio *folio, unsigned long pfn,
				struct address_space *mapping)
{
	int ret = MF_FAILED;

	if (mapping->a_ops && mapping->a_ops->error_remove_folio) {
		int err = mapping->a_ops->error_remove_folio(mapping, folio);

		if (err == MF_DELAYED)
			return err;
		if (err != 0)
			pr_info(host, "%#lx: Failed to punch page: %d\n", pfn, err);
		else
			ret = MF_RECOVERED;	/* filemap_release_folio(): no private data */
	} else {
		if (mapping_evict_folio(mapping, folio))
			ret = MF_RECOVERED;
		else
			pr_info(host, "%#lx: Failed to invalidate\n", pfn);
	}
	return ret;
}

static int me_kernel(struct host *host, const struct page_state *ps, struct page *p)
{
	return MF_IGNORED;
}

static int me_unknown(struct host *host, const struct page_state *ps, struct page *p)
{
	pr_err(host, "%#lx: Unknown page state\n", page_to_pfn(p));
	return MF_IGNORED;
}

static int me_pagecache_clean(struct host *host, const struct page_state *ps, struct page *p)
{
	struct folio *folio = page_folio(p);
	struct address_space *mapping;
	bool extra_pins;
	int ret;

	delete_from_lru_cache(folio);
	if (folio_test_anon(folio))
		return MF_RECOVERED;
	mapping = folio_mapping(folio);
	if (!mapping)
		return MF_FAILED;
	extra_pins = shmem_mapping(mapping);
	ret = truncate_error_folio(host, folio, page_to_pfn(p), mapping);
	/* The MF_DELAYED fix: a folio left in the page cache on purpose, as shmem's. */
	if (ret == MF_DELAYED && host->sysctl.mf_delayed_fix)
		extra_pins = true;
	if (has_extra_refcount(host, ps, p, extra_pins))
		ret = MF_FAILED;
	return ret;
}

static int me_pagecache_dirty(struct host *host, const struct page_state *ps, struct page *p)
{
	struct address_space *mapping = folio_mapping(page_folio(p));

	if (mapping)
		mapping_set_error(mapping, -EIO);
	return me_pagecache_clean(host, ps, p);
}

static int me_swapcache_dirty(struct host *host, const struct page_state *ps, struct page *p)
{
	struct folio *folio = page_folio(p);
	bool extra_pins = false;
	int ret;

	folio_clear_dirty(folio);
	folio_clear_uptodate(folio);
	ret = delete_from_lru_cache(folio) ? MF_FAILED : MF_DELAYED;
	if (ret == MF_DELAYED)
		extra_pins = true;
	if (has_extra_refcount(host, ps, p, extra_pins))
		ret = MF_FAILED;
	return ret;
}

static int me_swapcache_clean(struct host *host, const struct page_state *ps, struct page *p)
{
	struct folio *folio = page_folio(p);
	int ret;

	swap_cache_del_folio(folio);
	ret = delete_from_lru_cache(folio) ? MF_FAILED : MF_RECOVERED;
	if (has_extra_refcount(host, ps, p, false))
		ret = MF_FAILED;
	return ret;
}

static int __page_handle_poison(struct page *page)
{
	int ret = dissolve_free_hugetlb_folio(page_folio(page));

	if (!ret)
		ret = take_page_off_buddy(page);
	return ret;
}

static int me_huge_page(struct host *host, const struct page_state *ps, struct page *p)
{
	struct folio *folio = page_folio(p);
	struct address_space *mapping = folio_mapping(folio);
	bool extra_pins = false;
	int res;

	if (mapping) {
		res = truncate_error_folio(host, folio, page_to_pfn(p), mapping);
		extra_pins = true;	/* the folio is kept in the page cache */
	} else {
		/* Unmapped: free it, so that it is dissolved and the healthy pages reused. */
		mf_put(folio);
		if (__page_handle_poison(p) > 0) {
			page_ref_inc_mf(p);
			res = MF_RECOVERED;
		} else {
			res = MF_FAILED;
		}
	}
	if (has_extra_refcount(host, ps, p, extra_pins))
		res = MF_FAILED;
	return res;
}

#define dirty	(1UL << PG_dirty)
#define sc	((1UL << PG_swapcache) | (1UL << PG_swapbacked))
#define unevict	(1UL << PG_unevictable)
#define mlock	(1UL << PG_mlocked)
#define lru	(1UL << PG_lru)
#define head	(1UL << PG_head)
#define reserved (1UL << PG_reserved)

static const struct page_state error_states[] = {
	{ reserved,	reserved,	MF_MSG_KERNEL,			me_kernel },
	{ head,		head,		MF_MSG_HUGE,			me_huge_page },
	{ sc | dirty,	sc | dirty,	MF_MSG_DIRTY_SWAPCACHE,		me_swapcache_dirty },
	{ sc | dirty,	sc,		MF_MSG_CLEAN_SWAPCACHE,		me_swapcache_clean },
	{ mlock | dirty, mlock | dirty,	MF_MSG_DIRTY_MLOCKED_LRU,	me_pagecache_dirty },
	{ mlock | dirty, mlock,		MF_MSG_CLEAN_MLOCKED_LRU,	me_pagecache_clean },
	{ unevict | dirty, unevict | dirty, MF_MSG_DIRTY_UNEVICTABLE_LRU, me_pagecache_dirty },
	{ unevict | dirty, unevict,	MF_MSG_CLEAN_UNEVICTABLE_LRU,	me_pagecache_clean },
	{ lru | dirty,	lru | dirty,	MF_MSG_DIRTY_LRU,		me_pagecache_dirty },
	{ lru | dirty,	lru,		MF_MSG_CLEAN_LRU,		me_pagecache_clean },
	{ 0,		0,		MF_MSG_UNKNOWN,			me_unknown },	/* catch-all */
};

#undef dirty
#undef sc
#undef unevict
#undef mlock
#undef lru
#undef head
#undef reserved

/* v9 drops the "reserved" row: get_any_page() already classified those pages. */
static const struct page_state *first_error_state(const struct host *host)
{
	return host->sysctl.panic_rule == MF_PANIC_RULE_V9 ? &error_states[1] : &error_states[0];
}

static int identify_page_state(struct host *host, unsigned long pfn, struct page *p,
			       unsigned long page_flags)
{
	const struct folio *folio = page_folio(p);
	const struct page_state *ps;

	for (ps = first_error_state(host);; ps++)
		if ((folio->flags & ps->mask) == ps->res)
			break;
	page_flags |= folio->flags & (1UL << PG_dirty);
	if (!ps->mask)
		for (ps = first_error_state(host);; ps++)
			if ((page_flags & ps->mask) == ps->res)
				break;
	host->mf_error_state = (unsigned int)(ps - error_states);
	p->mf_handled = true;
	return action_result(host, pfn, ps->type, (enum mf_result)ps->action(host, ps, p));
}

/* ---- HugeTLB ----------------------------------------------------------------- */

#define MF_HUGETLB_FREED		0
#define MF_HUGETLB_IN_USED		1
#define MF_HUGETLB_NON_HUGEPAGE		2
#define MF_HUGETLB_FOLIO_PRE_POISONED	3
#define MF_HUGETLB_PAGE_PRE_POISONED	4
#define MF_HUGETLB_RETRY		5

bool is_raw_hwpoison_page_in_hugepage(struct folio *folio, const struct page *page)
{
	struct raw_hwp_page *r;

	if (!folio_test_hwpoison(folio))
		return false;
	if (!folio_test_hugetlb(folio))
		return page && PageHWPoison(page);
	if (folio_test_hugetlb_raw_hwp_unreliable(folio))
		return true;
	list_for_each_entry(r, &folio->raw_hwp_list, node)
		if (r->page == page)
			return true;
	return false;
}

static unsigned long __folio_free_raw_hwp(struct host *host, struct folio *folio, bool move_flag)
{
	struct raw_hwp_page *r, *tmp;
	unsigned long count = 0;

	list_for_each_entry_safe(r, tmp, &folio->raw_hwp_list, node) {
		if (move_flag)
			SetPageHWPoison(r->page);
		else
			num_poisoned_pages_sub(host, page_to_pfn(r->page), 1);
		list_del(&r->node);
		kfree(r);
		count++;
	}
	return count;
}

static int hugetlb_update_hwpoison(struct host *host, struct folio *folio, struct page *page)
{
	int ret = folio_test_set_hwpoison(folio) ? MF_HUGETLB_FOLIO_PRE_POISONED : 0;
	struct raw_hwp_page *r;

	if (folio_test_hugetlb_raw_hwp_unreliable(folio))
		return MF_HUGETLB_FOLIO_PRE_POISONED;
	list_for_each_entry(r, &folio->raw_hwp_list, node)
		if (r->page == page)
			return MF_HUGETLB_PAGE_PRE_POISONED;
	r = kmalloc(sizeof(*r), GFP_ATOMIC);
	if (r) {
		r->page = page;
		list_add(&r->node, &folio->raw_hwp_list);
	} else {
		/* The raw list cannot be trusted any more: refuse to dissolve later. */
		folio_set_hugetlb_raw_hwp_unreliable(folio);
		__folio_free_raw_hwp(host, folio, false);
	}
	return ret;
}

static unsigned long folio_free_raw_hwp(struct host *host, struct folio *folio, bool move_flag)
{
	if (move_flag && folio_test_hugetlb_vmemmap_optimized(folio))
		return 0;
	if (folio_test_hugetlb_raw_hwp_unreliable(folio))
		return 0;
	return __folio_free_raw_hwp(host, folio, move_flag);
}

static int __get_huge_page_for_hwpoison(struct host *host, unsigned long pfn, int flags,
					bool *migratable_cleared)
{
	struct page *page = pfn_to_page(host, pfn);
	struct folio *folio = page_folio(page);
	bool count_increased = false;
	int ret, rc;

	if (!folio || !folio_test_hugetlb(folio)) {
		ret = MF_HUGETLB_NON_HUGEPAGE;
		goto out;
	} else if (flags & MF_COUNT_INCREASED) {
		ret = MF_HUGETLB_IN_USED;
		count_increased = true;
	} else if (folio_test_hugetlb_freed(folio)) {
		ret = MF_HUGETLB_FREED;
	} else if (folio_test_hugetlb_migratable(folio)) {
		if (folio_try_get(folio)) {
			folio->mf_pins++;
			mf_note_ref(host, pfn);
			ret = MF_HUGETLB_IN_USED;
			count_increased = true;
		} else {
			ret = MF_HUGETLB_FREED;
		}
	} else {
		ret = MF_HUGETLB_RETRY;
		if (!(flags & MF_NO_RETRY))
			goto out;
	}
	rc = hugetlb_update_hwpoison(host, folio, page);
	if (rc >= MF_HUGETLB_FOLIO_PRE_POISONED) {
		ret = rc;
		goto out;
	}
	if (count_increased && folio_test_hugetlb_migratable(folio)) {
		folio_clear_hugetlb_migratable(folio);
		*migratable_cleared = true;
	}
	return ret;
out:
	if (count_increased)
		mf_put(folio);
	return ret;
}

/*
 * Take the folio lock of the page memory_failure() holds a reference on.
 * From here on a split or merge waits for it, or (memory_failure()'s own,
 * from error_remove_folio()) runs under it. Returns the lock's pfn.
 */
static unsigned long mf_folio_lock(struct host *host, struct folio *folio)
{
	unsigned long lock_pfn = folio_lock_pfn(folio);

	folio_lock(folio);
	host->mf_locked = true;
	return lock_pfn;
}

static int get_huge_page_for_hwpoison(struct host *host, unsigned long pfn, int flags,
				      bool *migratable_cleared)
{
	int ret;

	mutex_lock(&host->hugetlb_lock);
	ret = __get_huge_page_for_hwpoison(host, pfn, flags, migratable_cleared);
	mutex_unlock(&host->hugetlb_lock);
	return ret;
}

static int try_memory_failure_hugetlb(struct host *host, unsigned long pfn, int flags, int *hugetlb)
{
	struct page *p = pfn_to_page(host, pfn);
	bool migratable_cleared = false;
	unsigned long page_flags, lock_pfn;
	struct folio *folio;
	int res, rv;

	*hugetlb = 1;
retry:
	res = get_huge_page_for_hwpoison(host, pfn, flags, &migratable_cleared);
	switch (res) {
	case MF_HUGETLB_NON_HUGEPAGE:
		*hugetlb = 0;
		return 0;
	case MF_HUGETLB_RETRY:
		if (!(flags & MF_NO_RETRY)) {
			flags |= MF_NO_RETRY;
			goto retry;
		}
		return action_result(host, pfn, MF_MSG_GET_HWPOISON, MF_IGNORED);
	case MF_HUGETLB_FOLIO_PRE_POISONED:
	case MF_HUGETLB_PAGE_PRE_POISONED:
		rv = -EHWPOISON;
		if (flags & MF_ACTION_REQUIRED)
			rv = kill_accessing_process(host, host->current, pfn, flags);
		if (res == MF_HUGETLB_PAGE_PRE_POISONED)
			action_result(host, pfn, MF_MSG_ALREADY_POISONED, MF_FAILED);
		else
			action_result(host, pfn, MF_MSG_HUGE, MF_FAILED);
		return rv;
	default:
		WARN_ON(host, res != MF_HUGETLB_FREED && res != MF_HUGETLB_IN_USED);
		break;
	}

	folio = page_folio(p);
	/* hwpoison_filter(): no filter is modelled. */
	if (res == MF_HUGETLB_FREED) {
		if (__page_handle_poison(p) > 0) {
			page_ref_inc_mf(p);
			res = MF_RECOVERED;
		} else {
			res = MF_FAILED;
		}
		return action_result(host, pfn, MF_MSG_FREE_HUGE, (enum mf_result)res);
	}
	lock_pfn = mf_folio_lock(host, folio);
	page_flags = folio->flags;
	if (!hwpoison_user_mappings(host, folio, p, pfn, flags))
		res = action_result(host, pfn, MF_MSG_UNMAP_FAILED, MF_FAILED);
	else
		res = identify_page_state(host, pfn, p, page_flags);
	folio_unlock_pfn(host, lock_pfn);	/* the folio may have been split meanwhile */
	return res;
}

/* ---- memory_failure() ------------------------------------------------------------ */

static void kill_procs_now(struct host *host, struct page *p, unsigned long pfn, int flags,
			   struct folio *folio)
{
	LIST_HEAD(tokill);

	collect_procs(host, folio, p, &tokill, flags & MF_ACTION_REQUIRED);
	kill_procs(host, &tokill, true, pfn, flags);
}

static void put_ref_page(struct host *host, unsigned long pfn, int flags)
{
	struct folio *f;

	if (!(flags & MF_COUNT_INCREASED))
		return;
	f = pfn_folio_lookup(host, pfn);
	if (f)
		mf_put(f);
}

static int __memory_failure(struct host *host, unsigned long pfn, int flags)
{
	bool retry = true;
	struct folio *folio;
	unsigned long page_flags, lock_pfn;
	struct page *p;
	int res, hugetlb = 0;

	p = pfn_to_online_page(host, pfn);
	if (!p) {
		/* No pfn_space, no ZONE_DEVICE: memory outside kernel control. */
		pr_err(host, "%#lx: memory outside kernel control\n", pfn);
		return -ENXIO;
	}
try_again:
	res = try_memory_failure_hugetlb(host, pfn, flags, &hugetlb);
	if (hugetlb)
		return res;

	if (TestSetPageHWPoison(p)) {
		res = -EHWPOISON;
		if (flags & MF_ACTION_REQUIRED)
			res = kill_accessing_process(host, host->current, pfn, flags);
		put_ref_page(host, pfn, flags);
		action_result(host, pfn, MF_MSG_ALREADY_POISONED, MF_FAILED);
		return res;
	}

	res = get_hwpoison_page(p, (unsigned long)flags);
	host_race_point(host, "memory_failure:after_get_hwpoison_page");
	if (!res) {
		if (is_free_buddy_page(p)) {
			/* The page may be allocated between the two checks. */
			host_race_point(host, "memory_failure:before_take_page_off_buddy");
			if (take_page_off_buddy(p)) {
				page_ref_inc_mf(p);
				res = MF_RECOVERED;
			} else {
				if (retry) {
					ClearPageHWPoison(p);
					retry = false;
					goto try_again;
				}
				res = MF_FAILED;
			}
			return action_result(host, pfn, MF_MSG_BUDDY, (enum mf_result)res);
		}
		return action_result(host, pfn, MF_MSG_KERNEL_HIGH_ORDER, MF_IGNORED);
	} else if (res == -ENOTRECOVERABLE) {
		return action_result(host, pfn, MF_MSG_KERNEL, MF_IGNORED);
	} else if (res < 0) {
		/* v4 patch 1: a reserved page that get_hwpoison_page() refused. */
		if (host->sysctl.panic_rule == MF_PANIC_RULE_V4 && PageReserved(p))
			return action_result(host, pfn, MF_MSG_KERNEL, MF_IGNORED);
		return action_result(host, pfn, MF_MSG_GET_HWPOISON, MF_IGNORED);
	}

	folio = page_folio(p);
	if (folio_test_large(folio)) {
		int err;

		folio_set_has_hwpoisoned(folio);
		err = split_huge_page_to_order(p, 0);
		if (err) {
			folio = page_folio(p);
			kill_procs_now(host, p, pfn, flags, folio);
			mf_put(folio);
			action_result(host, pfn, MF_MSG_UNSPLIT_THP, MF_FAILED);
			return -EHWPOISON;
		}
		folio = page_folio(p);
	}

	shake_folio(folio);
	lock_pfn = mf_folio_lock(host, folio);
	page_flags = folio->flags;
	if (!folio_test_lru(folio) && !folio_test_writeback(folio))
		goto identify_page_state;
	if (!hwpoison_user_mappings(host, folio, p, pfn, flags)) {
		res = action_result(host, pfn, MF_MSG_UNMAP_FAILED, MF_FAILED);
		goto unlock;
	}
	if (folio_test_lru(folio) && !folio_test_swapcache(folio) && !folio->mapping &&
	    !folio_test_anon(folio)) {
		res = action_result(host, pfn, MF_MSG_TRUNCATED_LRU, MF_IGNORED);
		goto unlock;
	}
identify_page_state:
	res = identify_page_state(host, pfn, p, page_flags);
unlock:
	folio_unlock_pfn(host, lock_pfn);
	return res;
}

/**
 * memory_failure() - handle a hardware memory error on @pfn.
 * @host: the modelled machine; host->current is the consuming task for
 *        MF_ACTION_REQUIRED, NULL in a kworker.
 * @pfn: the raw page.
 * @flags: enum mf_flags.
 *
 * Context: takes mf_mutex; yields at every lock and atomic.
 * Return: 0, -ENXIO, -EOPNOTSUPP, -EHWPOISON, or -EBUSY, as the kernel.
 */
int memory_failure(struct host *host, unsigned long pfn, int flags)
{
	int res;

	host->mf_has_result = false;
	host->mf_error_state = ~0U;
	if (!host->sysctl.memory_failure_recovery) {
		panic(host, "Memory failure on page %lx", pfn);
		host->mf_last_ret = 0;
		return 0;
	}
	mutex_lock(&host->mf_mutex);
	if (!(flags & MF_SW_SIMULATED))
		host->hw_memory_failure = true;
	host->mf_running = true;
	host->mf_pfn = pfn;
	host->mf_ref_pfn = flags & MF_COUNT_INCREASED ? pfn : ULONG_MAX;
	host->mf_locked = false;
	res = __memory_failure(host, pfn, flags);
	host->mf_running = false;
	host->mf_ref_pfn = ULONG_MAX;
	host->mf_locked = false;
	mutex_unlock(&host->mf_mutex);
	host->mf_last_ret = res;
	return res;
}

void memory_failure_queue(struct host *host, int cpu, unsigned long pfn, int flags)
{
	struct memory_failure_cpu *mf_cpu;

	if (cpu < 0 || cpu >= host->nr_cpus)
		cpu = 0;
	mf_cpu = &host->mf_cpu[cpu];
	if (mf_cpu->len == MEMORY_FAILURE_FIFO_SIZE) {
		pr_err(host, "buffer overflow when queuing memory failure at %#lx\n", pfn);
		return;
	}
	mf_cpu->fifo[(mf_cpu->head + mf_cpu->len) % MEMORY_FAILURE_FIFO_SIZE] =
		(struct memory_failure_entry){ .pfn = pfn, .flags = flags };
	mf_cpu->len++;
}

void memory_failure_queue_kick(struct host *host, int cpu)
{
	struct task_struct *saved = host->current;

	host->current = NULL;	/* the work runs in a kworker */
	for (int c = 0; c < host->nr_cpus; c++) {
		struct memory_failure_cpu *mf_cpu = &host->mf_cpu[c];

		if (cpu >= 0 && c != cpu)
			continue;
		while (mf_cpu->len) {
			struct memory_failure_entry e = mf_cpu->fifo[mf_cpu->head];

			mf_cpu->head = (mf_cpu->head + 1) % MEMORY_FAILURE_FIFO_SIZE;
			mf_cpu->len--;
			if (e.flags & MF_SOFT_OFFLINE)
				(void)soft_offline_page(host, e.pfn, e.flags);
			else
				(void)memory_failure(host, e.pfn, e.flags);
		}
	}
	host->current = saved;
}

/* ---- unpoison ---------------------------------------------------------------- */

#undef pr_fmt
#define pr_fmt(fmt) "Unpoison: " fmt

int unpoison_memory(struct host *host, unsigned long pfn)
{
	struct folio *folio;
	struct page *p;
	int ret = -EBUSY, ghp;
	unsigned long count;
	bool huge = false;

	p = pfn_to_online_page(host, pfn);
	if (!p)
		return -EIO;
	folio = page_folio(p);
	mutex_lock(&host->mf_mutex);
	if (host->hw_memory_failure) {
		pr_info(host, "%#lx: disabled after HW memory failure\n", pfn);
		ret = -EOPNOTSUPP;
		goto unlock_mutex;
	}
	if (!PageHWPoison(p)) {
		pr_info(host, "%#lx: page was already unpoisoned\n", pfn);
		goto unlock_mutex;
	}
	if (!folio)
		goto unlock_mutex;
	if (folio_ref_count(folio) > 1) {
		pr_info(host, "%#lx: someone grabs the hwpoison page\n", pfn);
		goto unlock_mutex;
	}
	if (folio_test_slab(folio) || folio_test_pgtable(folio) || folio_test_reserved(folio) ||
	    folio_test_offline(folio))
		goto unlock_mutex;
	if (folio_mapped(folio)) {
		pr_info(host, "%#lx: someone maps the hwpoison page\n", pfn);
		goto unlock_mutex;
	}
	if (folio_mapping(folio)) {
		pr_info(host, "%#lx: the hwpoison page has non-NULL mapping\n", pfn);
		goto unlock_mutex;
	}
	ghp = get_hwpoison_page(p, MF_UNPOISON);
	if (!ghp) {
		if (folio_test_hugetlb(folio)) {
			huge = true;
			count = folio_free_raw_hwp(host, folio, false);
			if (count == 0)
				goto unlock_mutex;
		}
		ret = folio_test_clear_hwpoison(folio) ? 0 : -EBUSY;
	} else if (ghp < 0) {
		if (ghp == -EHWPOISON) {
			ret = put_page_back_buddy(p) ? 0 : -EBUSY;
		} else {
			ret = ghp;
			pr_info(host, "%#lx: failed to grab page\n", pfn);
		}
	} else {
		if (folio_test_hugetlb(folio)) {
			huge = true;
			count = folio_free_raw_hwp(host, folio, false);
			if (count == 0) {
				folio_put(folio);
				goto unlock_mutex;
			}
		}
		folio_put(folio);	/* the reference just taken */
		if (TestClearPageHWPoison(p)) {
			mf_put(folio);	/* the MF pin */
			ret = 0;
		}
	}
unlock_mutex:
	mutex_unlock(&host->mf_mutex);
	if (!ret) {
		if (!huge)
			num_poisoned_pages_sub(host, pfn, 1);
		pr_info(host, "%#lx: software-unpoisoned page\n", pfn);
	}
	return ret;
}

/* ---- soft offline ------------------------------------------------------------- */

#undef pr_fmt
#define pr_fmt(fmt) "Soft offline: " fmt

static bool page_handle_poison(struct page *page, bool hugepage_or_freepage, bool release)
{
	struct host *host = page->host;

	if (hugepage_or_freepage && __page_handle_poison(page) <= 0)
		return false;
	SetPageHWPoison(page);
	if (release)
		mf_put(page_folio(page));
	page_ref_inc_mf(page);
	num_poisoned_pages_inc(host, page_to_pfn(page));
	return true;
}

/*
 * Move @folio's contents to a new folio on the same node: page cache
 * entry, anonymous mappings and HugeTLB pool folio alike. Returns 0 or a
 * negative errno; the old folio keeps only the caller's reference.
 */
static int migrate_folio_away(struct host *host, struct folio *folio)
{
	struct folio *dst;
	struct pte_entry *pte, *tmp;
	struct address_space *mapping = folio->mapping;

	if (folio_test_hugetlb(folio)) {
		dst = alloc_hugetlb_folio_nodemask(host, folio->hstate, folio->nid);
		if (IS_ERR(dst))
			return -ENOMEM;
		/* In use from now on: rebuilt below with the source's holders. */
		atomic_set(&dst->_refcount, 0);
	} else {
		dst = folio_alloc_node(host, folio->nid, folio->order, folio->owner);
		if (!dst)
			return -ENOMEM;
		atomic_set(&dst->_refcount, 0);
	}
	dst->flags = folio->flags & ~((1UL << PG_hugetlb_freed) | (1UL << PG_has_hwpoisoned));
	dst->anon_vma = folio->anon_vma;
	dst->index = folio->index;
	if (mapping) {
		rangemap_erase(&mapping->i_pages, &folio->cache_node);
		folio->mapping = NULL;
		dst->mapping = mapping;
		dst->cache_node.start = folio->cache_node.start;
		dst->cache_node.last = folio->cache_node.last;
		WARN_ON(host, rangemap_insert(&mapping->i_pages, &dst->cache_node));
		atomic_add((int)folio_nr_pages(folio), &dst->_refcount);
		atomic_add(-(int)folio_nr_pages(folio), &folio->_refcount);
	}
	list_for_each_entry_safe(pte, tmp, &folio->rmap, rmap) {
		list_move_tail(&pte->rmap, &dst->rmap);
		pte->folio = dst;
		pte->pfn = folio_pfn(dst) + (pte->pfn - folio_pfn(folio));
		atomic_inc(&dst->_refcount);
		atomic_dec(&folio->_refcount);
	}
	if (folio_test_swapcache(folio)) {
		folio_clear_swapcache(folio);
		atomic_add((int)folio_nr_pages(folio), &dst->_refcount);
		atomic_add(-(int)folio_nr_pages(folio), &folio->_refcount);
	}
	if (folio_test_hugetlb(folio) && folio->spool) {
		dst->spool = folio->spool;
		folio->spool = NULL;
	}
	if (folio_test_hugetlb(folio)) {
		/* move_hugetlb_state() and the memcg: the charge goes with the contents. */
		hugetlb_cgroup_migrate(folio, dst);
		mem_cgroup_migrate(folio, dst);
	}
	folio->flags &= (1UL << PG_head);
	folio->anon_vma = NULL;
	return 0;
}

static int soft_offline_in_use_page(struct host *host, struct page *page)
{
	unsigned long pfn = page_to_pfn(page);
	struct folio *folio = page_folio(page);
	bool huge = folio_test_hugetlb(folio);
	int ret;

	if (!huge && folio_test_large(folio)) {
		if (split_huge_page_to_order(page, 0)) {
			mf_put(folio);
			pr_info(host, "%#lx: thp split failed\n", pfn);
			return -EBUSY;
		}
		folio = page_folio(page);
	}
	if (PageHWPoison(page)) {
		mf_put(folio);
		pr_info(host, "%#lx: page already poisoned\n", pfn);
		return 0;
	}
	if (!huge && folio_test_lru(folio) && !folio_test_swapcache(folio) &&
	    mapping_evict_folio(folio_mapping(folio), folio)) {
		pr_info(host, "%#lx: invalidated\n", pfn);
		page_handle_poison(page, false, true);
		return 0;
	}
	/* isolate_folio_to_list() takes LRU and HugeTLB folios, pinned or not. */
	if (folio_test_pgtable(folio) || folio_test_slab(folio)) {
		pr_info(host, "%#lx: %s isolation failed, page count %d\n", pfn,
			huge ? "hugepage" : "page", page_count(page));
		mf_put(folio);
		return -EBUSY;
	}
	/* migrate_pages() cannot move a pinned folio: it counts one failure. */
	ret = folio->_pincount ? 1 : migrate_folio_away(host, folio);
	if (ret) {
		pr_info(host, "%#lx: %s migration failed %d\n", pfn, huge ? "hugepage" : "page", ret);
		mf_put(folio);
		return ret > 0 ? -EBUSY : ret;
	}
	if (huge) {
		/* The source is free now: it goes back to the pool, then is dissolved. */
		mf_put(folio);
		if (!page_handle_poison(page, true, false))
			return -EBUSY;
		return 0;
	}
	if (!page_handle_poison(page, false, true))
		return -EBUSY;
	return 0;
}

int soft_offline_page(struct host *host, unsigned long pfn, int flags)
{
	bool try_again = true;
	struct page *page;
	int ret;

	if (!pfn_valid(host, pfn))
		return -ENXIO;
	page = pfn_to_online_page(host, pfn);
	if (!page) {
		put_ref_page(host, pfn, flags);
		return -EIO;
	}
	if (!host->sysctl.enable_soft_offline) {
		pr_info(host, "disabled by /proc/sys/vm/enable_soft_offline\n");
		put_ref_page(host, pfn, flags);
		return -EOPNOTSUPP;
	}
	mutex_lock(&host->mf_mutex);
	if (PageHWPoison(page)) {
		pr_info(host, "%#lx: page already poisoned\n", pfn);
		put_ref_page(host, pfn, flags);
		mutex_unlock(&host->mf_mutex);
		return 0;
	}
retry:
	ret = get_hwpoison_page(page, (unsigned long)(flags | MF_SOFT_OFFLINE));
	if (ret > 0) {
		ret = soft_offline_in_use_page(host, page);
	} else if (ret == 0) {
		if (!page_handle_poison(page, true, false)) {
			if (try_again) {
				try_again = false;
				flags &= ~MF_COUNT_INCREASED;
				goto retry;
			}
			ret = -EBUSY;
		}
	}
	mutex_unlock(&host->mf_mutex);
	return ret;
}
