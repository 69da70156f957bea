// SPDX-License-Identifier: MIT
/*
 * The modelled machine: nodes and their pfn ranges, the sparse memmap, struct
 * page on demand, panic, race points and counters.
 *
 * Models: mm/mm_init.c and mm/memblock.c (the layout at boot), mm/sparse.c
 * (pfn_valid, pfn_to_online_page), kernel/panic.c (panic).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mm/mm.h"

const char *const pageflag_names[__NR_PAGEFLAGS] = {
	[PG_locked] = "locked", [PG_writeback] = "writeback",
	[PG_referenced] = "referenced", [PG_uptodate] = "uptodate",
	[PG_dirty] = "dirty", [PG_lru] = "lru", [PG_head] = "head",
	[PG_active] = "active", [PG_owner_priv_1] = "swapcache",
	[PG_reserved] = "reserved", [PG_private] = "private",
	[PG_reclaim] = "reclaim", [PG_swapbacked] = "swapbacked",
	[PG_unevictable] = "unevictable", [PG_mlocked] = "mlocked",
	[PG_hwpoison] = "hwpoison", [PG_has_hwpoisoned] = "has_hwpoisoned",
	[PG_hugetlb_freed] = "hugetlb_freed",
	[PG_hugetlb_migratable] = "hugetlb_migratable",
	[PG_hugetlb_raw_hwp_unreliable] = "hugetlb_raw_hwp_unreliable",
	[PG_hugetlb_vmemmap_optimized] = "hugetlb_vmemmap_optimized",
	[PG_anon] = "anon",
};

const char *const pagetype_names[__NR_PGTY] = {
	[PGTY_none] = "none", [PGTY_buddy] = "buddy", [PGTY_offline] = "offline",
	[PGTY_table] = "table", [PGTY_guard] = "guard", [PGTY_hugetlb] = "hugetlb",
	[PGTY_slab] = "slab", [PGTY_zsmalloc] = "zsmalloc",
	[PGTY_unaccepted] = "unaccepted", [PGTY_large_kmalloc] = "large_kmalloc",
	[PGTY_guestmem_hugetlb] = "guestmem_hugetlb",
};

const char *const folio_owner_names[__NR_FOLIO_OWNERS] = {
	[FOLIO_OWNER_ANON] = "anon",
	[FOLIO_OWNER_FILE] = "file",
	[FOLIO_OWNER_HUGETLB] = "hugetlb",
	[FOLIO_OWNER_KERNEL] = "kernel",
	[FOLIO_OWNER_KERNEL_HIGH_ORDER] = "kernel-high-order",
	[FOLIO_OWNER_RESERVED] = "reserved",
	[FOLIO_OWNER_HWPOISON] = "hwpoison",
	[FOLIO_OWNER_DRIVER] = "driver",
	[FOLIO_OWNER_LEAKED] = "leaked",
	[FOLIO_OWNER_GUESTMEM_FREE] = "guestmem-free",
};

const char *const host_arch_names[__NR_HOST_ARCHS] = {
	[ARCH_X86] = "x86",
	[ARCH_ARM64] = "arm64",
};

const char *const mf_panic_rule_names[__NR_MF_PANIC_RULES] = {
	[MF_PANIC_RULE_MAINLINE] = "mainline",
	[MF_PANIC_RULE_V4] = "v4",
	[MF_PANIC_RULE_V9] = "v9",
};

static const u64 node_align = 1ULL << (MAX_PAGE_ORDER + PAGE_SHIFT);

struct host *host_create(const struct host_config *cfg, struct trace *trace)
{
	struct host *host;
	unsigned long pages_per_node, reserved;
	int nid, i;

	if (cfg->nr_nodes < 1 || cfg->nr_nodes > MAX_NUMNODES)
		return ERR_PTR(-EINVAL);
	if (cfg->nr_cpus < 0 || cfg->nr_cpus > NR_CPUS_MAX)
		return ERR_PTR(-EINVAL);
	if (!cfg->memory_bytes || cfg->memory_bytes % ((u64)cfg->nr_nodes * node_align))
		return ERR_PTR(-EINVAL);
	if (cfg->reserved_bytes % PAGE_SIZE ||
	    cfg->reserved_bytes >= cfg->memory_bytes / (u64)cfg->nr_nodes)
		return ERR_PTR(-EINVAL);

	host = kzalloc(sizeof(*host), GFP_KERNEL);
	if (!host)
		return ERR_PTR(-ENOMEM);
	host->config = *cfg;
	host->trace = trace;
	host->nr_nodes = cfg->nr_nodes;
	host->nr_cpus = cfg->nr_cpus ? cfg->nr_cpus : 1;
	host->max_pfn = (unsigned long)(cfg->memory_bytes >> PAGE_SHIFT);
	host->next_pid = 100;
	rangemap_init(&host->memmap);
	rangemap_init(&host->pages);
	rangemap_init(&host->guestmem_splits);
	INIT_LIST_HEAD(&host->tasks);
	INIT_LIST_HEAD(&host->files);
	INIT_LIST_HEAD(&host->races);
	cgroup_init(host);
	mutex_init(&host->mf_mutex, "mf_mutex");
	mutex_init(&host->hugetlb_lock, "hugetlb_lock");
	host->sysctl.memory_failure_early_kill = 0;
	host->sysctl.memory_failure_recovery = 1;
	host->sysctl.enable_soft_offline = 1;
	host->sysctl.panic_on_unrecoverable_memory_failure = 0;
	host->sysctl.panic_rule = MF_PANIC_RULE_MAINLINE;
	host->arch = ARCH_X86;
	host->arm64.feat_ras = true;
	host->arm64.apei = false;

	for (i = 0; i < HUGE_MAX_HSTATE; i++) {
		struct hstate *h = &host->hstates[i];

		h->order = i == 0 ? PMD_ORDER : PUD_ORDER;
		snprintf(h->name, sizeof(h->name), "hugepages-%lukB",
			 (PAGE_SIZE << h->order) / 1024);
		INIT_LIST_HEAD(&h->hugepage_activelist);
		for (nid = 0; nid < MAX_NUMNODES; nid++)
			INIT_LIST_HEAD(&h->hugepage_freelists[nid]);
	}

	pages_per_node = host->max_pfn / (unsigned long)cfg->nr_nodes;
	for (nid = 0; nid < host->nr_nodes; nid++) {
		struct pglist_data *pgdat = &host->nodes[nid];

		pgdat->host = host;
		pgdat->node_id = nid;
		pgdat->node_start_pfn = (unsigned long)nid * pages_per_node;
		pgdat->node_spanned_pages = pages_per_node;
		rangemap_init(&pgdat->free_blocks);
		for (i = 0; i < NR_PAGE_ORDERS; i++)
			INIT_LIST_HEAD(&pgdat->free_area[i].free_list);
		free_pfn_range_to_buddy(host, pgdat->node_start_pfn, pages_per_node);
	}

	/* memblock reservations: the kernel image and early allocations. */
	reserved = (unsigned long)(cfg->reserved_bytes >> PAGE_SHIFT);
	if (reserved) {
		struct folio *f;

		if (alloc_contig_pfn_range(host, 0, reserved))
			goto fail;
		f = folio_new(host, 0, 0, FOLIO_OWNER_RESERVED, __GFP_NOFAIL);
		/* One object for the whole range: each page in it counts as order 0. */
		rangemap_erase(&host->memmap, &f->pfn_node);
		f->nr_pages = reserved;
		f->pfn_node.last = reserved - 1;
		folio_set_reserved(f);
		atomic_set(&f->_refcount, 1);
		f->extra_refs = 1;
		if (rangemap_insert(&host->memmap, &f->pfn_node))
			goto fail;
	}

	/* Boot-time HugeTLB pools, spread over the nodes like hugepages=N. */
	for (i = HUGE_MAX_HSTATE - 1; i >= 0; i--) {
		struct hstate *h = &host->hstates[i];
		unsigned long want = cfg->hugepages[i];

		for (unsigned long n = 0; n < want; n++) {
			nid = (int)(n % (unsigned long)host->nr_nodes);
			if (set_max_huge_pages(h, host, h->nr_huge_pages_node[nid] + 1, nid))
				goto fail;
		}
	}
	return host;
fail:
	host_destroy(host);
	return ERR_PTR(-ENOMEM);
}

static void host_free_tasks(struct host *host)
{
	struct task_struct *t, *tmp;

	/* Exit every process first, so their mappings drop their references. */
	list_for_each_entry(t, &host->tasks, tasks)
		if (t->group_leader == t && !t->exited)
			do_exit(t, 0);
	list_for_each_entry_safe(t, tmp, &host->tasks, tasks) {
		struct kernel_siginfo *si, *stmp;

		list_for_each_entry_safe(si, stmp, &t->pending, node) {
			list_del(&si->node);
			kfree(si);
		}
		list_del(&t->tasks);
		kfree(t);
	}
}

void host_destroy(struct host *host)
{
	struct range_node *n, *tmp;
	struct file *file, *ftmp;
	int nid;

	if (IS_ERR_OR_NULL(host))
		return;
	host_free_tasks(host);
	list_for_each_entry_safe(file, ftmp, &host->files, list)
		fput(file);

	/* Whatever still owns memory is torn down without the free paths. */
	rangemap_for_each(&host->memmap, n, tmp) {
		struct folio *f = container_of(n, struct folio, pfn_node);
		struct raw_hwp_page *r, *rtmp;

		list_for_each_entry_safe(r, rtmp, &f->raw_hwp_list, node) {
			list_del(&r->node);
			kfree(r);
		}
		if (f->spool)
			hugepage_put_subpool(f->spool);
		rangemap_erase(&host->memmap, n);
		kfree(f);
	}
	for (nid = 0; nid < host->nr_nodes; nid++) {
		struct pglist_data *pgdat = &host->nodes[nid];

		rangemap_for_each(&pgdat->free_blocks, n, tmp) {
			rangemap_erase(&pgdat->free_blocks, n);
			kfree(container_of(n, struct free_block, node));
		}
	}
	rangemap_for_each(&host->pages, n, tmp) {
		rangemap_erase(&host->pages, n);
		kfree(container_of(n, struct page, node));
	}
	while (host->dead_folios) {
		struct folio *f = host->dead_folios;

		host->dead_folios = f->dead_next;
		kfree(f);
	}
	guestmem_hugetlb_teardown(host);
	cgroup_exit(host);
	kfree(host->panic_msg);
	kfree(host);
}

int host_node_of_pfn(const struct host *host, unsigned long pfn)
{
	unsigned long per_node = host->max_pfn / (unsigned long)host->nr_nodes;

	if (pfn >= host->max_pfn)
		return -1;
	return (int)(pfn / per_node);
}

bool pfn_valid(const struct host *host, unsigned long pfn)
{
	return pfn < host->max_pfn;
}

struct page *page_lookup(const struct host *host, unsigned long pfn)
{
	struct range_node *n = rangemap_find(&host->pages, pfn);

	return n ? container_of(n, struct page, node) : NULL;
}

struct page *pfn_to_page(struct host *host, unsigned long pfn)
{
	struct page *p = page_lookup(host, pfn);
	int ret;

	if (p)
		return p;
	/* The kernel's memmap always exists: making it here cannot fail. */
	p = kzalloc(sizeof(*p), __GFP_NOFAIL);
	p->host = host;
	p->node.start = p->node.last = pfn;
	ret = rangemap_insert(&host->pages, &p->node);
	WARN_ON(host, ret);
	return p;
}

struct page *pfn_to_online_page(struct host *host, unsigned long pfn)
{
	/* MODEL: all memory is online; there is no hotplug and no ZONE_DEVICE. */
	return pfn_valid(host, pfn) ? pfn_to_page(host, pfn) : NULL;
}

struct folio *pfn_folio_lookup(const struct host *host, unsigned long pfn)
{
	struct range_node *n = rangemap_find(&host->memmap, pfn);

	return n ? container_of(n, struct folio, pfn_node) : NULL;
}

struct folio *page_folio(const struct page *page)
{
	return pfn_folio_lookup(page->host, page_to_pfn(page));
}

struct page *folio_page(struct folio *folio, unsigned long n)
{
	return pfn_to_page(folio->host, folio_pfn(folio) + n);
}

int page_count(const struct page *page)
{
	struct folio *f = page_folio(page);

	if (!f)
		return 0;
	switch (f->owner) {
	case FOLIO_OWNER_RESERVED:
		return 1;
	case FOLIO_OWNER_KERNEL_HIGH_ORDER:
		/* A non-compound allocation: only the first page is refcounted. */
		return page_to_pfn(page) == folio_pfn(f) ? folio_ref_count(f) : 0;
	default:
		return folio_ref_count(f);
	}
}

bool folio_test_hwpoison(const struct folio *folio)
{
	const struct page *head = page_lookup(folio->host, folio_pfn(folio));

	return head && PageHWPoison(head);
}

bool folio_test_set_hwpoison(struct folio *folio)
{
	return TestSetPageHWPoison(folio_page(folio, 0));
}

void folio_clear_hwpoison(struct folio *folio)
{
	struct page *head = page_lookup(folio->host, folio_pfn(folio));

	if (head)
		ClearPageHWPoison(head);
}

bool folio_test_clear_hwpoison(struct folio *folio)
{
	struct page *head = page_lookup(folio->host, folio_pfn(folio));

	return head && TestClearPageHWPoison(head);
}

bool folio_contains_hwpoison(const struct folio *folio)
{
	struct range_node *n, *tmp;

	if (folio_test_hwpoison(folio))
		return true;
	rangemap_for_each_in(&folio->host->pages, n, tmp, folio_pfn(folio),
			     folio_pfn(folio) + folio_nr_pages(folio) - 1)
		if (PageHWPoison(container_of(n, struct page, node)))
			return true;
	return false;
}

void panic(struct host *host, const char *fmt, ...)
{
	struct trace_event e = { .kind = TRACE_PANIC, .has = TF_MESSAGE };
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (host->panicked)
		return;
	host->panicked = true;
	host->panic_msg = kstrdup(buf, __GFP_NOFAIL);
	e.message = buf;
	trace_emit(host->trace, &e);
}

void host_add_race(struct host *host, struct host_race *race)
{
	list_add_tail(&race->node, &host->races);
}

void host_race_point(struct host *host, const char *label)
{
	struct host_race *r, *tmp;

	sync_yield(label);
	list_for_each_entry_safe(r, tmp, &host->races, node) {
		if (strcmp(r->label, label))
			continue;
		list_del_init(&r->node);
		trace_note(host->trace, "race at %s", label);
		r->fn(host, r->arg);
	}
}

void host_counter(struct host *host, const char *name, long value, long delta)
{
	struct trace_event e = {
		.kind = TRACE_COUNTER, .has = TF_COUNTER,
		.counter = name, .value = value, .delta = delta,
	};

	trace_emit(host->trace, &e);
}
