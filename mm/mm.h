/* SPDX-License-Identifier: MIT */
/*
 * The host-kernel memory model: physical memory, struct page and struct
 * folio, the buddy allocator, HugeTLB, the page cache, processes with VMAs
 * and page tables, reverse mapping and signals. memory_failure() and its
 * friends are declared in mm/memory-failure.h.
 *
 * Everything a modelled machine has hangs off one struct host: there is no
 * mutable file-scope state in model code, so hosts are independent and an
 * explored execution can be thrown away whole.
 *
 * Sparse physical memory
 * ----------------------
 * A host of 16 TiB has 2^32 pfns; the model never holds state per pfn.
 *
 *   host->memmap   pfn ranges owned by a folio (in use, in a HugeTLB pool,
 *                  kernel-owned, reserved, or poisoned and taken off buddy)
 *   zone free area everything else in a node is free: max-order blocks are
 *                  kept as ranges, smaller blocks one by one
 *   host->pages    struct page, created on first use for a pfn that needs
 *                  per-page state (PG_hwpoison); never freed before the host
 *
 *      pfn 0                                                    max_pfn
 *      |RRRR|.....free.....|AA|F|....free....|HHHHHHHHHHHHHHHHHHHHHHHH|
 *       reserved            folios            1G HugeTLB pool folios
 *
 * MODEL: struct page exists for every pfn in the kernel; here it is made on
 * demand and cannot fail (like reading the kernel's memmap).
 */
#ifndef GMF_MM_MM_H
#define GMF_MM_MM_H

#include "base/alloc.h"
#include "base/compiler.h"
#include "base/err.h"
#include "base/list.h"
#include "base/rangemap.h"
#include "base/sync.h"
#include "base/trace.h"
#include "base/types.h"
#include "mm/page-flags.h"

#define MAX_NUMNODES		8
#define MAX_PAGE_ORDER		10
#define NR_PAGE_ORDERS		(MAX_PAGE_ORDER + 1)
#define HUGE_MAX_HSTATE		2
#define HPAGE_PMD_ORDER		PMD_ORDER
#define HPAGE_PMD_NR		(1UL << HPAGE_PMD_ORDER)
#define NR_CPUS_MAX		64

struct host;
struct folio;
struct hstate;
struct address_space;
struct file;
struct anon_vma;
struct hugepage_subpool;
struct mm_struct;
struct vm_area_struct;
struct task_struct;
struct mem_cgroup;
struct hugetlb_cgroup;

/* ---- struct page ------------------------------------------------------- */

struct page {
	struct range_node node;	/* key: pfn; in host->pages */
	struct host *host;
	unsigned long flags;	/* only PG_hwpoison is kept here */
	bool hw_bad;		/* MODEL: the hardware's truth: reading it raises #MC/SEA */
	bool mf_unmapped;	/* MODEL: memory_failure() unmapped it from user space */
	bool mf_handled;	/* MODEL: memory_failure() ran its handler on it */
	unsigned long private;	/* MAGIC_HWPOISON when taken off buddy */
};

#define MAGIC_HWPOISON	0x48575053U	/* "HWPS" */

static inline unsigned long page_to_pfn(const struct page *p) { return p->node.start; }

/* ---- struct folio ------------------------------------------------------ */

/*
 * Who owns a folio. The kernel derives this from flags, page types and
 * ->mapping; the model keeps it explicitly so that validation can say
 * what each reference is for.
 */
enum folio_owner {
	FOLIO_OWNER_ANON,		/* anonymous memory of a process */
	FOLIO_OWNER_FILE,		/* page cache of a file */
	FOLIO_OWNER_HUGETLB,		/* in a HugeTLB pool (free, anon or file) */
	FOLIO_OWNER_KERNEL,		/* slab, page table, large kmalloc */
	FOLIO_OWNER_KERNEL_HIGH_ORDER,	/* alloc_pages(order > 0) without __GFP_COMP */
	FOLIO_OWNER_RESERVED,		/* memblock-reserved range (PG_reserved) */
	FOLIO_OWNER_HWPOISON,		/* a raw poisoned page kept out of buddy */
	FOLIO_OWNER_DRIVER,		/* a driver's page: refcounted, not LRU */
	FOLIO_OWNER_LEAKED,		/* freed while poisoned: leaked for good */
	FOLIO_OWNER_GUESTMEM_FREE,	/* a freed piece of a split guest_memfd HugeTLB folio */
	__NR_FOLIO_OWNERS,
};

extern const char *const folio_owner_names[__NR_FOLIO_OWNERS];

struct folio {
	struct range_node pfn_node;	/* in host->memmap: [pfn, pfn + nr - 1] */
	struct folio *dead_next;	/* folio_free() under the explorer: kept until the host goes */
	struct host *host;
	unsigned long flags;		/* PG_* of the head page, but PG_hwpoison */
	enum pagetype page_type;
	enum folio_owner owner;
	unsigned int order;
	unsigned long nr_pages;		/* 1 << order, or a reserved range's length */
	int nid;
	atomic_t _refcount;
	int _pincount;			/* GUP pins (each also holds a reference) */
	int mf_pins;			/* references memory_failure() keeps forever */
	int extra_refs;			/* other holders the model knows about */

	/* page cache (owner FILE, or HUGETLB with a file) */
	struct address_space *mapping;
	pgoff_t index;
	struct range_node cache_node;	/* in mapping->i_pages: [index, index + nr - 1] */

	/* anonymous memory */
	struct anon_vma *anon_vma;

	/* every page-table entry that maps part or all of the folio */
	struct list_head rmap;

	/* HugeTLB */
	struct hstate *hstate;
	struct list_head lru;		/* on a hstate free list or active list */
	struct list_head raw_hwp_list;	/* struct raw_hwp_page */
	struct hugepage_subpool *spool;

	/* The cgroups charged for it (memcg_data, _hugetlb_cgroup); NULL: none */
	struct mem_cgroup *memcg;
	struct hugetlb_cgroup *h_cg;
};

struct raw_hwp_page {
	struct list_head node;
	struct page *page;
};

static inline unsigned long folio_pfn(const struct folio *f) { return f->pfn_node.start; }
static inline unsigned long folio_nr_pages(const struct folio *f) { return f->nr_pages; }
static inline unsigned int folio_order(const struct folio *f) { return f->order; }
static inline unsigned int folio_shift(const struct folio *f) { return PAGE_SHIFT + f->order; }
static inline bool folio_test_large(const struct folio *f) { return f->order > 0 && f->owner != FOLIO_OWNER_RESERVED && f->owner != FOLIO_OWNER_KERNEL_HIGH_ORDER; }

static inline bool folio_test(const struct folio *f, enum pageflags b) { return test_bit(b, &f->flags); }
static inline void folio_set(struct folio *f, enum pageflags b) { set_bit(b, (unsigned long *)&f->flags); }
static inline void folio_clear(struct folio *f, enum pageflags b) { clear_bit(b, (unsigned long *)&f->flags); }

#define FOLIO_FLAG_FUNCS(name, bit)							\
static inline bool folio_test_##name(const struct folio *f) { return folio_test(f, bit); } \
static inline void folio_set_##name(struct folio *f) { folio_set(f, bit); }		\
static inline void folio_clear_##name(struct folio *f) { folio_clear(f, bit); }

FOLIO_FLAG_FUNCS(writeback, PG_writeback)
FOLIO_FLAG_FUNCS(uptodate, PG_uptodate)
FOLIO_FLAG_FUNCS(dirty, PG_dirty)
FOLIO_FLAG_FUNCS(lru, PG_lru)
FOLIO_FLAG_FUNCS(active, PG_active)
FOLIO_FLAG_FUNCS(swapcache, PG_swapcache)
FOLIO_FLAG_FUNCS(reserved, PG_reserved)
FOLIO_FLAG_FUNCS(swapbacked, PG_swapbacked)
FOLIO_FLAG_FUNCS(unevictable, PG_unevictable)
FOLIO_FLAG_FUNCS(mlocked, PG_mlocked)
FOLIO_FLAG_FUNCS(has_hwpoisoned, PG_has_hwpoisoned)
FOLIO_FLAG_FUNCS(hugetlb_freed, PG_hugetlb_freed)
FOLIO_FLAG_FUNCS(hugetlb_migratable, PG_hugetlb_migratable)
FOLIO_FLAG_FUNCS(hugetlb_raw_hwp_unreliable, PG_hugetlb_raw_hwp_unreliable)
FOLIO_FLAG_FUNCS(hugetlb_vmemmap_optimized, PG_hugetlb_vmemmap_optimized)
FOLIO_FLAG_FUNCS(anon, PG_anon)

static inline bool folio_test_hugetlb(const struct folio *f) { return f->page_type == PGTY_hugetlb; }
static inline bool folio_test_slab(const struct folio *f) { return f->page_type == PGTY_slab; }
static inline bool folio_test_pgtable(const struct folio *f) { return f->page_type == PGTY_table; }
static inline bool folio_test_offline(const struct folio *f) { return f->page_type == PGTY_offline; }
static inline bool folio_test_large_kmalloc(const struct folio *f) { return f->page_type == PGTY_large_kmalloc; }

static inline int folio_ref_count(const struct folio *f) { return atomic_read(&f->_refcount); }
/*
 * The count of a folio being built or torn down, out of other threads'
 * reach (the kernel's folio_set_count()). MODEL: a plain store, so it is no
 * decision point of the race explorer: the folio appears with its count.
 */
static inline void folio_set_count(struct folio *f, int v) { f->_refcount.counter = v; }
static inline void folio_get(struct folio *f) { atomic_inc(&f->_refcount); }
static inline bool folio_try_get(struct folio *f) { return atomic_inc_not_zero(&f->_refcount); }
/* Drop a reference; the last one frees the folio (mm/swap.c). */
void folio_put(struct folio *f);
void folio_ref_add(struct folio *f, int nr);
void folio_ref_sub(struct folio *f, int nr);

bool folio_mapped(const struct folio *f);
int folio_mapcount(const struct folio *f);
struct address_space *folio_mapping(const struct folio *f);

/* ---- nodes, zones, the buddy allocator ------------------------------------ */

struct free_block {
	struct range_node node;	/* [pfn, pfn + (1 << order) - 1] */
	struct list_head list;
	unsigned int order;
};

/*
 * Free memory of a zone. Blocks below MAX_PAGE_ORDER are objects on
 * per-order lists; max-order blocks are kept as ranges of whole blocks, so a
 * node of free memory costs one range.
 */
struct free_area {
	struct list_head free_list;
	unsigned long nr_free;
};

struct memory_failure_stats {
	unsigned long total, ignored, failed, delayed, recovered;
};

struct pglist_data {
	struct host *host;
	int node_id;
	unsigned long node_start_pfn, node_spanned_pages;
	/* Blocks of each order; free_area[MAX_PAGE_ORDER] holds ranges of max-order blocks. */
	struct free_area free_area[NR_PAGE_ORDERS];
	struct rangemap free_blocks;	/* every free block, below and at max order */
	unsigned long nr_free_pages;
	struct memory_failure_stats mf_stats;
};

/* ---- HugeTLB ------------------------------------------------------------- */

struct hstate {
	unsigned int order;
	char name[32];			/* "hugepages-2048kB" */
	unsigned long nr_huge_pages, free_huge_pages, resv_huge_pages, surplus_huge_pages;
	unsigned long nr_overcommit_huge_pages;
	unsigned long nr_huge_pages_node[MAX_NUMNODES];
	unsigned long free_huge_pages_node[MAX_NUMNODES];
	unsigned long surplus_huge_pages_node[MAX_NUMNODES];
	struct list_head hugepage_freelists[MAX_NUMNODES];
	struct list_head hugepage_activelist;
};

static inline unsigned int huge_page_order(const struct hstate *h) { return h->order; }
static inline unsigned int huge_page_shift(const struct hstate *h) { return h->order + PAGE_SHIFT; }
static inline unsigned long pages_per_huge_page(const struct hstate *h) { return 1UL << h->order; }

struct hugepage_subpool {
	long count;		/* references: the files using it */
	long max_hpages;	/* -1: no limit */
	long used_hpages;
	long min_hpages;	/* -1: none */
	long rsv_hpages;
	struct hstate *hstate;
	/*
	 * MODEL: the reservation count of the file whose subpool keeps a
	 * minimum (guest_memfd), NULL once it is released: a page freed back
	 * to the pool while the file lives is reserved for it again.
	 */
	long *resv_owner;
};

/* ---- files and the page cache ------------------------------------------- */

struct address_space_operations {
	const char *name;
	/* Returns 0, MF_DELAYED, or a negative errno. */
	int (*error_remove_folio)(struct address_space *mapping, struct folio *folio);
	/*
	 * MODEL: no such hook in the kernel. For the "SIGKILL current only"
	 * design discussed for guest_memfd: memory_failure() leaves the user
	 * mappings (and their owners) alone when it returns true.
	 */
	bool (*keep_user_mappings)(struct address_space *mapping);
};

enum file_kind {
	FILE_SHMEM,		/* tmpfs / memfd without hugetlb */
	FILE_HUGETLBFS,		/* hugetlbfs / memfd with MFD_HUGETLB */
	FILE_REGULAR,		/* a disk file with writeback (ext4-like) */
	FILE_GUEST_MEMFD,	/* set up by kvm/ */
	__NR_FILE_KINDS,
};

extern const char *const file_kind_names[__NR_FILE_KINDS];

enum { AS_EIO = 0, AS_ENOSPC = 1, AS_UNEVICTABLE = 3 };

struct address_space {
	struct host *host;
	struct rangemap i_pages;	/* folios by index */
	struct rangemap guestmem_splits; /* split guest_memfd HugeTLB pages by index */
	unsigned long nrpages;
	const struct address_space_operations *a_ops;
	struct list_head i_mmap;	/* VMAs mapping this file (vma->shared) */
	struct rw_semaphore i_mmap_rwsem;
	struct rw_semaphore invalidate_lock;
	unsigned long flags;		/* AS_* */
	int wb_err;			/* errseq-like: last error set by mapping_set_error */
	bool can_writeback;
	void *private_data;		/* the owner of a guest_memfd mapping (kvm/) */
};

/* VM_FAULT_* results of a file's fault handler. */
#define VM_FAULT_SIGBUS		0x0002
#define VM_FAULT_HWPOISON	0x0010
#define VM_FAULT_OOM		0x0001

/*
 * Operations of files that are not plain page cache (guest_memfd). Each is
 * optional; NULL means the page-cache behaviour of mm/filemap.c.
 */
/* fallocate(2) modes (include/uapi/linux/falloc.h). */
#define FALLOC_FL_KEEP_SIZE		0x01
#define FALLOC_FL_PUNCH_HOLE		0x02
#define FALLOC_FL_ZERO_RANGE		0x10

struct file_operations {
	/* mmap(2): 0 or -errno (ENODEV, EINVAL). */
	int (*mmap)(struct file *file, unsigned long vm_flags);
	/* A user fault at page @index: 0 with *foliop and a reference for the pte, or VM_FAULT_*. */
	int (*fault)(struct file *file, pgoff_t index, struct folio **foliop);
	long (*read)(struct file *file, u64 pos, u64 len);
	long (*write)(struct file *file, u64 pos, u64 len);
	/* fallocate(2): 0 or -errno; NULL for the generic page-cache punch. */
	int (*fallocate)(struct file *file, int mode, u64 offset, u64 len);
	/* The last reference is going: called before the page cache is dropped. */
	void (*release)(struct file *file);
};

struct file {
	struct list_head list;		/* host->files */
	const struct file_operations *f_op;
	void *private_data;
	struct address_space f_mapping;	/* i_data */
	enum file_kind kind;
	char name[32];
	u64 i_size;
	struct hstate *hstate;		/* hugetlbfs */
	struct hugepage_subpool *spool;
	long resv_hpages;		/* HugeTLB pages reserved for this file's mappings */
	int refs;			/* open fds and mappings */
	int f_err;			/* errseq position of this open file */
};

/* ---- processes, address spaces, page tables ----------------------------- */

#define VM_READ		0x00000001UL
#define VM_WRITE	0x00000002UL
#define VM_SHARED	0x00000008UL
#define VM_LOCKED	0x00002000UL
#define VM_HUGETLB	0x00400000UL
#define VM_HUGEPAGE	0x20000000UL	/* MADV_HUGEPAGE: THP at fault */

struct anon_vma {
	struct list_head vmas;		/* vma->anon_vma_node */
	int refs;
};

struct vm_area_struct {
	struct range_node node;		/* in mm->mm_mt: page numbers of [vm_start, vm_end) */
	unsigned long vm_start, vm_end;
	unsigned long vm_flags;
	pgoff_t vm_pgoff;
	struct file *vm_file;
	struct anon_vma *anon_vma;
	struct mm_struct *vm_mm;
	struct hstate *vm_hstate;	/* VM_HUGETLB: the page size it maps */
	struct list_head shared;	/* in vm_file->f_mapping.i_mmap */
	struct list_head anon_vma_node;	/* in anon_vma->vmas */
};

enum pte_kind { PTE_PRESENT, PTE_HWPOISON, PTE_SWAP };

/*
 * One page-table entry at any level: a PTE maps 4K, a PMD 2M and a PUD 1G.
 * A hwpoison entry keeps the pfn it replaced, as the kernel's swap entry does;
 * a swap entry of an anonymous page in the swap cache keeps the pfn of the
 * swap-cache folio (MODEL: the swap slot itself is not modelled).
 * MODEL: page-table pages themselves are not modelled.
 */
struct pte_entry {
	struct range_node node;		/* in mm->ptes: page numbers it covers */
	struct vm_area_struct *vma;
	unsigned long addr;
	unsigned int shift;		/* PAGE_SHIFT, PMD_SHIFT or PUD_SHIFT */
	enum pte_kind kind;
	unsigned long pfn;		/* first pfn mapped */
	struct folio *folio;		/* NULL for a hwpoison entry */
	bool dirty, write;
	struct list_head rmap;		/* in folio->rmap */
};

struct mm_struct {
	struct host *host;
	struct rangemap mm_mt;		/* VMAs */
	struct rangemap ptes;		/* page-table entries */
	struct rw_semaphore mmap_lock;
	int mm_users;
	unsigned long mmap_base;	/* next address mmap hands out */
};

#define PF_EXITING	0x00000004U
#define PF_MCE_PROCESS	0x00000080U
#define PF_MCE_EARLY	0x08000000U

#define SIGBUS		7
#define SIGKILL		9
#define SIGSEGV		11
#define BUS_MCEERR_AR	4
#define BUS_MCEERR_AO	5
#define BUS_ADRERR	2
#define SEGV_MAPERR	1
#define SI_KERNEL	0x80

struct kernel_siginfo {
	struct list_head node;
	bool delivered;
	bool forced;
	int si_signo;
	int si_code;
	unsigned long si_addr;
	short si_addr_lsb;
};

struct task_struct {
	struct list_head tasks;		/* host->tasks: every thread, in creation order */
	struct list_head thread_node;	/* group_leader->thread_list */
	struct list_head thread_list;	/* threads, leader first (leader only) */
	struct task_struct *group_leader;
	int pid, tgid;
	char comm[16];
	unsigned int flags;		/* PF_* */
	struct mm_struct *mm;
	bool sigbus_handler;		/* the process catches SIGBUS */
	bool exited;
	int exit_signal;		/* the signal that killed it, 0 when alive */
	struct list_head pending;	/* struct kernel_siginfo, delivered order */
	unsigned long nr_signals;
	/* x86 #MC task work (arch/x86): queued by the handler, run on return to user */
	int mce_count;
	unsigned long mce_pfn;
	unsigned long mce_vaddr;
	bool mce_ripv;
	bool mce_task_work;
	struct cgroup *cgroup;		/* its cgroup (task->cgroups); never NULL */
};

#define for_each_thread(leader, t) \
	list_for_each_entry(t, &(leader)->thread_list, thread_node)

/* ---- cgroups (memcontrol.c, hugetlb_cgroup.c) ------------------------------ */

/*
 * A cgroup v2 group with the memory and hugetlb controllers. Counters are
 * in pages, as page_counter's; the interface files show bytes.
 *
 *   memory.current          mem_cgroup.memory.usage (HugeTLB only, see below)
 *   memory.max              mem_cgroup.memory.max
 *   hugetlb.<size>.current  hugetlb_cgroup.hugepage[idx].usage
 *   hugetlb.<size>.max      hugetlb_cgroup.hugepage[idx].max
 *
 * MODEL: one level below the root, no hierarchy: a group's counters hold
 * its own tasks' charges only, and the root's those of tasks left in it.
 * Only HugeTLB folios are charged (anonymous and page-cache memory is
 * not), so memory.current is the HugeTLB memory charged to the group.
 */
#define PAGE_COUNTER_MAX	((~0UL >> 1) >> PAGE_SHIFT)

struct page_counter {
	unsigned long usage;
	unsigned long max;
	unsigned long failcnt;
};

struct mem_cgroup {
	struct page_counter memory;
};

struct hugetlb_cgroup {
	struct page_counter hugepage[HUGE_MAX_HSTATE];	/* fault-time usage, by hstate */
};

struct cgroup {
	struct list_head node;		/* host->cgroups; the root is on none */
	char name[32];
	struct mem_cgroup memcg;
	struct hugetlb_cgroup h_cg;
};

/* ---- the host ---------------------------------------------------------- */

enum mf_panic_rule {
	MF_PANIC_RULE_MAINLINE,	/* today's kernel: no such sysctl */
	MF_PANIC_RULE_V4,	/* KERNEL, KERNEL_HIGH_ORDER or UNKNOWN with IGNORED */
	MF_PANIC_RULE_V9,	/* KERNEL with IGNORED; -ENOTRECOVERABLE classification */
	__NR_MF_PANIC_RULES,
};

extern const char *const mf_panic_rule_names[__NR_MF_PANIC_RULES];

struct mf_sysctl {
	/*
	 * Model switch: part (b) of Lisa Wang's MF_DELAYED fix. When an
	 * error_remove_folio() returns MF_DELAYED, me_pagecache_clean() does not
	 * count the page cache's reference as an extra user.
	 */
	bool mf_delayed_fix;
	/*
	 * Model switch: what splitting a poisoned guest_memfd HugeTLB folio does
	 * with the poison: 0 distributes it to the raw pages (the eventual
	 * design), 1 copies the head's flag to every page (RFC v2's code).
	 */
	int guestmem_split_poison;
	int memory_failure_early_kill;			/* vm.memory_failure_early_kill */
	int memory_failure_recovery;			/* vm.memory_failure_recovery */
	int enable_soft_offline;			/* vm.enable_soft_offline */
	int panic_on_unrecoverable_memory_failure;	/* proposed */
	enum mf_panic_rule panic_rule;			/* model switch */
};

struct memory_failure_entry {
	unsigned long pfn;
	int flags;
};

#define MEMORY_FAILURE_FIFO_SIZE	16

struct memory_failure_cpu {
	struct memory_failure_entry fifo[MEMORY_FAILURE_FIFO_SIZE];
	unsigned int head, len;
};

/* A race point: an action run when memory_failure() reaches @label. */
struct host_race {
	struct list_head node;
	const char *label;
	void (*fn)(struct host *host, void *arg);
	void *arg;
};

/* The architecture the host runs (a runtime choice of the model). */
enum host_arch { ARCH_X86, ARCH_ARM64, __NR_HOST_ARCHS };

extern const char *const host_arch_names[__NR_HOST_ARCHS];

struct host_config {
	u64 memory_bytes;		/* total; split evenly over nodes */
	int nr_nodes;
	int nr_cpus;
	u64 reserved_bytes;		/* memblock-reserved at the start of node 0 */
	unsigned long hugepages[HUGE_MAX_HSTATE];	/* boot pool: 2M, 1G */
};

struct host {
	struct trace *trace;
	struct task_struct *current;	/* NULL: a kernel thread (kworker) */
	struct host_config config;
	int nr_nodes;
	int nr_cpus;
	unsigned long max_pfn;
	struct pglist_data nodes[MAX_NUMNODES];
	struct rangemap memmap;		/* folios by pfn range */
	struct rangemap pages;		/* materialized struct pages */
	struct rangemap guestmem_splits;	/* struct guestmem_split by pfn range */
	struct hstate hstates[HUGE_MAX_HSTATE];
	struct mf_sysctl sysctl;
	atomic_long_t num_poisoned_pages;
	bool hw_memory_failure;
	struct mutex mf_mutex;
	struct mutex hugetlb_lock;
	struct memory_failure_cpu mf_cpu[NR_CPUS_MAX];
	struct list_head tasks;
	struct list_head files;
	struct list_head races;
	int next_pid;
	bool panicked;
	char *panic_msg;
	unsigned long nr_folios;	/* live struct folio objects */
	void *kvm_state;		/* kvm/'s per-host state, opaque to mm/ */
	enum host_arch arch;
	struct {
		bool feat_ras;		/* the CPU has FEAT_RAS */
		bool apei;		/* firmware-first: GHES claims synchronous external aborts */
	} arm64;
	/*
	 * The secondary-MMU notifier (mmu_notifier_invalidate_range_start()):
	 * user mappings of [start, end) in @mm are going away. KVM registers it.
	 */
	void (*mmu_notifier)(struct host *host, struct mm_struct *mm, unsigned long start,
			     unsigned long end);
	unsigned int mf_error_state;	/* error_states[] row of the last identify_page_state() */
	/*
	 * The memory_failure() running now (mf_mutex allows one): the pfn it
	 * holds a reference on (ULONG_MAX: none yet), and whether it holds the
	 * folio lock. Between the two a split or merge of that page must see
	 * the reference as one in flight, as the kernel's refcount freeze does.
	 */
	bool mf_running;
	unsigned long mf_pfn;		/* the pfn it handles */
	unsigned long mf_ref_pfn;
	bool mf_locked;
	unsigned long nr_warnings;	/* WARN_ON()s that fired */
	struct folio *dead_folios;	/* see folio_free() */
	bool mf_has_result;
	int mf_last_type, mf_last_result, mf_last_ret;
	unsigned long nr_leaked_pages;	/* poisoned pages freed and leaked */
	struct cgroup root_cgroup;	/* cgrp_dfl_root: unlimited */
	struct list_head cgroups;	/* the others, in creation order */
	/* cgroup2's memory_hugetlb_accounting mount option (on in the model) */
	bool memory_hugetlb_accounting;
};

/* host.c */
struct host *host_create(const struct host_config *cfg, struct trace *trace);
void host_destroy(struct host *host);
int host_node_of_pfn(const struct host *host, unsigned long pfn);
bool pfn_valid(const struct host *host, unsigned long pfn);
struct page *pfn_to_page(struct host *host, unsigned long pfn);
struct page *pfn_to_online_page(struct host *host, unsigned long pfn);
struct page *page_lookup(const struct host *host, unsigned long pfn);
struct folio *pfn_folio_lookup(const struct host *host, unsigned long pfn);
struct folio *page_folio(const struct page *page);
struct page *folio_page(struct folio *folio, unsigned long n);
void panic(struct host *host, const char *fmt, ...) __printf(2, 3);
void host_add_race(struct host *host, struct host_race *race);
/* Run and forget the race actions registered for @label. */
void host_race_point(struct host *host, const char *label);
void host_counter(struct host *host, const char *name, long value, long delta);

/* printk into the host's trace, with the caller's pr_fmt prefix. */
#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif
#define host_printk(host, level, fmt, ...) \
	trace_log((host)->trace, level, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(host, fmt, ...)	host_printk(host, LOGLEVEL_ERR, fmt, ##__VA_ARGS__)
#define pr_warn(host, fmt, ...)	host_printk(host, LOGLEVEL_WARNING, fmt, ##__VA_ARGS__)
#define pr_info(host, fmt, ...)	host_printk(host, LOGLEVEL_INFO, fmt, ##__VA_ARGS__)

/* A kernel WARN: recorded as a finding in the trace, never an abort. */
#define WARN_ON(host, cond) ({								\
	bool __w = !!(cond);								\
	if (unlikely(__w)) {								\
		(host)->nr_warnings++;							\
		trace_log((host)->trace, LOGLEVEL_WARNING,				\
			  "WARNING: %s:%d: %s", __FILE__, __LINE__, #cond);		\
	}										\
	__w; })

/*
 * The folio lock. MODEL: PG_locked lives in the struct page of the folio's
 * head, which outlives the folio, so the lock stays put when the folio is
 * split or merged; the pieces of a split guest_memfd HugeTLB page share the
 * lock of the huge page's head (one lock for the 2M or 1G page, not one per
 * piece). Each operation is a decision point of the explorer.
 */
unsigned long folio_lock_pfn(const struct folio *folio);
void folio_lock(struct folio *folio);
/*
 * Unlock the lock at @pfn (folio_lock_pfn() taken before the folio was
 * locked): the folio itself may have been split or merged away meanwhile.
 */
void folio_unlock_pfn(struct host *host, unsigned long pfn);

static inline bool PageHWPoison(const struct page *p) { return test_bit(PG_hwpoison, &p->flags); }
static inline void SetPageHWPoison(struct page *p) { set_bit(PG_hwpoison, &p->flags); }
static inline void ClearPageHWPoison(struct page *p) { clear_bit(PG_hwpoison, &p->flags); }
static inline bool TestSetPageHWPoison(struct page *p) { return test_and_set_bit(PG_hwpoison, &p->flags); }
static inline bool TestClearPageHWPoison(struct page *p) { return test_and_clear_bit(PG_hwpoison, &p->flags); }
bool folio_test_hwpoison(const struct folio *folio);
bool folio_test_set_hwpoison(struct folio *folio);
void folio_clear_hwpoison(struct folio *folio);
bool folio_test_clear_hwpoison(struct folio *folio);
/* Any raw page of @folio poisoned? */
bool folio_contains_hwpoison(const struct folio *folio);
/*
 * Mark @page HWPoison outside memory_failure() (the KVM_BUG_ON path of seed
 * 001), counting it in HardwareCorrupted. MODEL: see docs/divergences.md.
 */
void hwpoison_mark_page(struct page *page);
int page_count(const struct page *page);

/* page_alloc.c */
struct folio *folio_alloc_node(struct host *host, int nid, unsigned int order,
			       enum folio_owner owner);
struct folio *alloc_kernel_pages(struct host *host, int nid, unsigned int order,
				 enum pagetype type, enum folio_owner owner);
void free_frozen_pages(struct folio *folio);
bool is_free_buddy_page(const struct page *page);
bool take_page_off_buddy(struct page *page);
bool put_page_back_buddy(struct page *page);
/* Free [pfn, pfn + nr) to buddy, keeping poisoned raw pages out. */
void free_pfn_range_to_buddy(struct host *host, unsigned long pfn, unsigned long nr);
/* Take [pfn, pfn + nr) out of buddy if it is all free (alloc_contig_range). */
int alloc_contig_pfn_range(struct host *host, unsigned long pfn, unsigned long nr);
/* Find a free naturally aligned range of 1 << order pages on @nid. */
long find_free_contig_range(const struct host *host, int nid, unsigned int order);
struct folio *folio_new(struct host *host, unsigned long pfn, unsigned int order,
			enum folio_owner owner, gfp_t gfp);
void folio_destroy(struct folio *folio);
/*
 * Free a folio's struct. MODEL: the kernel's struct page never goes away,
 * so code may look a folio up and only then try to get it. While the race
 * explorer runs threads the struct is kept, with a reference count of 0
 * that makes folio_try_get() fail, until the host goes.
 */
void folio_free(struct folio *folio);
unsigned long node_free_pages(const struct host *host, int nid);

/* hugetlb.c */
struct hstate *size_to_hstate(struct host *host, unsigned long size);
struct hstate *hstate_of_order(struct host *host, unsigned int order);
int set_max_huge_pages(struct hstate *h, struct host *host, unsigned long count, int nid);
/*
 * Allocate a HugeTLB folio: from @resv (a file's reservation) when it has
 * one, else from the unreserved free pages, else a surplus page within
 * nr_overcommit_hugepages. Charges current's cgroups. ERR_PTR(-ENOMEM), or
 * -ENOSPC (subpool full, or over the hugetlb cgroup's limit).
 */
struct folio *alloc_hugetlb_folio(struct host *host, struct hstate *h, int nid,
				  struct hugepage_subpool *spool, long *resv);
/* A migration target: no subpool, no reservation, no charge (the source's moves). */
struct folio *alloc_hugetlb_folio_nodemask(struct host *host, struct hstate *h, int nid);
/* Reserve pages for a shared hugetlbfs mapping of [from, to) (huge-page indexes). */
int hugetlb_reserve_pages(struct file *file, pgoff_t from, pgoff_t to);
void hugetlb_unreserve_pages(struct file *file);
void free_huge_folio(struct folio *folio);
int dissolve_free_hugetlb_folio(struct folio *folio);
struct hugepage_subpool *hugepage_new_subpool(struct hstate *h, long max_hpages, long min_hpages);
void hugepage_put_subpool(struct hugepage_subpool *spool);

/* filemap.c */
struct file *file_create(struct host *host, enum file_kind kind, const char *name,
			 u64 size, struct hstate *h);
void fput(struct file *file);
struct folio *filemap_get_folio(struct address_space *mapping, pgoff_t index);
int filemap_add_folio(struct address_space *mapping, struct folio *folio, pgoff_t index);
void filemap_remove_folio(struct folio *folio);
int truncate_inode_folio(struct address_space *mapping, struct folio *folio);
void truncate_inode_pages_range(struct address_space *mapping, u64 lstart, u64 lend);
/* Allocate (if needed) the folio caching @index; returns it without a new reference. */
struct folio *filemap_grab_folio(struct file *file, pgoff_t index, int *errp);
int file_write(struct file *file, u64 pos, u64 len);
long file_read(struct file *file, u64 pos, u64 len);
int file_fsync(struct file *file);
int file_fallocate_punch(struct file *file, u64 offset, u64 len);
void mapping_set_error(struct address_space *mapping, int error);
bool shmem_mapping(const struct address_space *mapping);
bool mapping_can_writeback(const struct address_space *mapping);
bool mapping_evict_folio(struct address_space *mapping, struct folio *folio);

/* mmap.c, memory.c, rmap.c */
struct task_struct *task_create(struct host *host, const char *comm, struct task_struct *leader);
int task_prctl_mce_kill(struct task_struct *t, unsigned long arg2, unsigned long arg3);
int task_prctl_mce_kill_get(const struct task_struct *t);
void do_exit(struct task_struct *t, int signal);
unsigned long do_mmap(struct task_struct *t, struct file *file, unsigned long addr, u64 len,
		      unsigned long vm_flags, pgoff_t pgoff, int *errp);
int do_munmap(struct mm_struct *mm, unsigned long start, u64 len);
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr);
struct pte_entry *pte_lookup(struct mm_struct *mm, unsigned long addr);
/* A user access by @t at @addr: a fault where needed, then the access. */
enum access_result {
	ACCESS_OK,
	ACCESS_SIGSEGV,		/* no VMA, or a permission fault */
	ACCESS_SIGBUS,		/* the fault path sent SIGBUS */
	ACCESS_CONSUMED_POISON,	/* a present mapping to a poisoned page: the CPU raises #MC/SEA */
	ACCESS_OOM,
};
enum access_result handle_user_access(struct task_struct *t, unsigned long addr, bool write,
				      unsigned long *pfnp);
extern const char *const access_result_names[];
enum access_result get_user_page(struct task_struct *t, unsigned long addr, bool write,
				 unsigned long *pfnp);
/* Propagate dirty bits of @folio's mappings to the folio (folio_mkclean's test). */
bool folio_mkclean(struct folio *folio);
void shake_folio(struct folio *folio);
int delete_from_lru_cache(struct folio *folio);
int swap_cache_add_folio(struct folio *folio);
void swap_cache_del_folio(struct folio *folio);
void zap_pte(struct pte_entry *pte);
void try_to_unmap(struct folio *folio, bool hwpoison);
unsigned long page_address_in_vma(const struct folio *folio, const struct page *page,
				  const struct vm_area_struct *vma);
unsigned long page_mapped_in_vma(const struct page *page, const struct vm_area_struct *vma);
int split_huge_page_to_order(struct page *page, unsigned int new_order);
int pin_user_page(struct task_struct *t, unsigned long addr, struct folio **foliop);
void unpin_user_page(struct folio *folio);

/* signals (task.c) */
int send_sig_mceerr(int code, unsigned long addr, short lsb, struct task_struct *t);
int force_sig_mceerr(struct host *host, int code, unsigned long addr, short lsb);
void force_sig(struct host *host, int sig);
int force_sig_fault(struct task_struct *t, int sig, int code, unsigned long addr);
void do_send_sig_info(int sig, struct task_struct *t);
/* Deliver pending signals: fatal ones end the thread group ("return to user"). */
void signals_deliver(struct host *host);
struct task_struct *find_task_by_pid(struct host *host, int pid);

/* guestmem_hugetlb.c: splitting and merging guest_memfd HugeTLB folios */
enum { GUESTMEM_POISON_DISTRIBUTE, GUESTMEM_POISON_COPY_HEAD };

/* Metadata of a split HugeTLB folio, kept outside the folios, keyed by its pfns. */
struct guestmem_split {
	struct range_node node;		/* host->guestmem_splits: the huge page's pfns */
	struct range_node file_node;	/* mapping->guestmem_splits: its page indices */
	struct hstate *h;
	unsigned int order;
	int nid;
	struct hugepage_subpool *spool;
	/*
	 * The huge folio's charges while it is split: the pieces carry none,
	 * a merge or the final free takes them back.
	 */
	struct mem_cgroup *memcg;
	struct hugetlb_cgroup *h_cg;
	struct list_head raw_hwp_list;	/* stashed raw list (copy-head policy) */
	bool hwpoison;			/* the head's flag at split (copy-head policy) */
	bool raw_hwp_unreliable;
	unsigned long nr_free;		/* pieces whose last reference is gone */
	struct address_space *mapping;	/* the file it was split in, NULL once released */
	pgoff_t index;			/* its first page index there */
};

struct guestmem_split *guestmem_split_lookup(const struct host *host, unsigned long pfn);
/* Split @folio (in a page cache, unmapped) into 4K folios: 0, -EAGAIN, -ENOMEM. */
int guestmem_hugetlb_split(struct folio *folio);
/*
 * Merge the split page holding @index back: 0, -EAGAIN (a piece is gone or
 * has an unsafe reference), -EHWPOISON (a piece is poisoned: it stays split).
 */
int guestmem_hugetlb_merge(struct address_space *mapping, pgoff_t index);
/* Put a freed piece back in @mapping at @index; NULL if it is not free. */
struct folio *guestmem_hugetlb_reuse(struct address_space *mapping, struct guestmem_split *gs,
				     pgoff_t index);
void guestmem_hugetlb_free_piece(struct folio *folio);
/* The split page of @mapping holding @index, or NULL. */
struct guestmem_split *guestmem_split_find(struct address_space *mapping, pgoff_t index);
/* @mapping is going away: its split pages may outlive it. */
void guestmem_hugetlb_forget_mapping(struct address_space *mapping);
void guestmem_hugetlb_teardown(struct host *host);
int guestmem_validate(struct host *host);

/* memcontrol.c: cgroups, the memory controller */
void cgroup_init(struct host *host);
void cgroup_exit(struct host *host);
/* A new group under the root: ERR_PTR(-EEXIST), -EINVAL (bad name), -ENOMEM. */
struct cgroup *cgroup_create(struct host *host, const char *name);
struct cgroup *cgroup_find(struct host *host, const char *name);
/* Move @t's thread group into @cgrp (cgroup.procs); charges stay where they are. */
void cgroup_attach_task(struct cgroup *cgrp, struct task_struct *t);
struct cgroup *task_cgroup(const struct host *host, const struct task_struct *t);
bool page_counter_try_charge(struct page_counter *counter, unsigned long nr_pages);
void page_counter_uncharge(struct page_counter *counter, unsigned long nr_pages);
/* Charge current's memcg for a HugeTLB folio about to be allocated: 0 or -ENOMEM. */
int mem_cgroup_hugetlb_try_charge(struct host *host, unsigned long nr_pages,
				  struct mem_cgroup **memcgp);
void mem_cgroup_cancel_charge(struct mem_cgroup *memcg, unsigned long nr_pages);
void mem_cgroup_commit_charge(struct folio *folio, struct mem_cgroup *memcg);
void mem_cgroup_uncharge(struct folio *folio);
/* Move @old's memcg charge to @new (migration). */
void mem_cgroup_migrate(struct folio *old, struct folio *new);
/* Charges equal the HugeTLB pages charged to each group (split pages included). */
int cgroup_validate(struct host *host);

/* hugetlb_cgroup.c */
static inline int hstate_index(const struct host *host, const struct hstate *h)
{
	return (int)(h - host->hstates);
}
/* 0, or -ENOMEM over hugetlb.<size>.max; *ptr: current's group. */
int hugetlb_cgroup_charge_cgroup(struct host *host, int idx, unsigned long nr_pages,
				 struct hugetlb_cgroup **ptr);
void hugetlb_cgroup_commit_charge(int idx, unsigned long nr_pages, struct hugetlb_cgroup *h_cg,
				  struct folio *folio);
void hugetlb_cgroup_uncharge_cgroup(int idx, unsigned long nr_pages, struct hugetlb_cgroup *h_cg);
void hugetlb_cgroup_uncharge_folio(int idx, unsigned long nr_pages, struct folio *folio);
void hugetlb_cgroup_migrate(struct folio *old, struct folio *new);

/* validate.c: 0, or -EUCLEAN with a trace note naming the broken invariant */
int folio_validate(const struct folio *folio);
int host_validate(struct host *host);
/* The same at a point inside an operation: counts and their holders may differ. */
int host_validate_step(struct host *host);

#endif
