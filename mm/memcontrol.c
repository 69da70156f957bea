// SPDX-License-Identifier: MIT
/*
 * cgroups with the memory controller, as far as HugeTLB needs them: the
 * groups a task can be in, page counters, and the memcg charge of HugeTLB
 * folios (memory.current).
 *
 * Models: mm/page_counter.c (page_counter_try_charge(),
 * page_counter_uncharge()), mm/memcontrol.c (try_charge(),
 * mem_cgroup_charge_hugetlb(), mem_cgroup_uncharge(),
 * mem_cgroup_migrate()), kernel/cgroup/cgroup.c (cgroup_mkdir(), writing
 * cgroup.procs).
 *
 * MODEL: cgroup2 is taken to be mounted with memory_hugetlb_accounting,
 * so HugeTLB folios are charged to memory.current; without it (the
 * kernel's default) mem_cgroup_charge_hugetlb() charges nothing and never
 * fails (host->memory_hugetlb_accounting = false does that). The charge
 * is tried before the folio is taken from the pool (as
 * mem_cgroup_hugetlb_try_charge() did up to 6.12); since 6.13 the kernel
 * charges the folio afterwards and frees it on failure. Either way a
 * group at memory.max fails the allocation with -ENOMEM: HugeTLB memory
 * cannot be reclaimed and __GFP_RETRY_MAYFAIL does not invoke the OOM
 * killer. The root group's memory counter is not charged (try_charge()
 * returns early for the root).
 */
#include <stdio.h>
#include <string.h>

#include "mm/mm.h"

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

static void cgroup_init_one(struct cgroup *cgrp, const char *name)
{
	snprintf(cgrp->name, sizeof(cgrp->name), "%s", name);
	cgrp->memcg.memory.max = PAGE_COUNTER_MAX;
	for (int i = 0; i < HUGE_MAX_HSTATE; i++)
		cgrp->h_cg.hugepage[i].max = PAGE_COUNTER_MAX;
}

void cgroup_init(struct host *host)
{
	INIT_LIST_HEAD(&host->cgroups);
	cgroup_init_one(&host->root_cgroup, "");
	host->memory_hugetlb_accounting = true;
}

void cgroup_exit(struct host *host)
{
	struct cgroup *cgrp, *tmp;

	list_for_each_entry_safe(cgrp, tmp, &host->cgroups, node) {
		list_del(&cgrp->node);
		kfree(cgrp);
	}
}

struct cgroup *cgroup_find(struct host *host, const char *name)
{
	struct cgroup *cgrp;

	list_for_each_entry(cgrp, &host->cgroups, node)
		if (!strcmp(cgrp->name, name))
			return cgrp;
	return NULL;
}

struct cgroup *cgroup_create(struct host *host, const char *name)
{
	struct cgroup *cgrp;

	if (!*name || strlen(name) >= sizeof(cgrp->name) || strchr(name, '/'))
		return ERR_PTR(-EINVAL);
	if (cgroup_find(host, name))
		return ERR_PTR(-EEXIST);
	cgrp = kzalloc(sizeof(*cgrp), GFP_KERNEL);
	if (!cgrp)
		return ERR_PTR(-ENOMEM);
	cgroup_init_one(cgrp, name);
	list_add_tail(&cgrp->node, &host->cgroups);
	return cgrp;
}

struct cgroup *task_cgroup(const struct host *host, const struct task_struct *t)
{
	return t && t->cgroup ? t->cgroup : (struct cgroup *)&host->root_cgroup;
}

void cgroup_attach_task(struct cgroup *cgrp, struct task_struct *t)
{
	struct task_struct *th;

	for_each_thread(t->group_leader, th)
		th->cgroup = cgrp;
}

bool page_counter_try_charge(struct page_counter *counter, unsigned long nr_pages)
{
	if (counter->usage + nr_pages > counter->max) {
		counter->failcnt++;
		return false;
	}
	counter->usage += nr_pages;
	return true;
}

void page_counter_uncharge(struct page_counter *counter, unsigned long nr_pages)
{
	/* The kernel WARNs on a negative counter and clamps it at zero. */
	counter->usage = counter->usage >= nr_pages ? counter->usage - nr_pages : 0;
}

static bool mem_cgroup_is_root(const struct host *host, const struct mem_cgroup *memcg)
{
	return memcg == &host->root_cgroup.memcg;
}

int mem_cgroup_hugetlb_try_charge(struct host *host, unsigned long nr_pages,
				  struct mem_cgroup **memcgp)
{
	struct mem_cgroup *memcg = &task_cgroup(host, host->current)->memcg;

	*memcgp = NULL;
	if (!host->memory_hugetlb_accounting || mem_cgroup_is_root(host, memcg))
		return 0;
	if (!page_counter_try_charge(&memcg->memory, nr_pages))
		return -ENOMEM;
	*memcgp = memcg;
	return 0;
}

void mem_cgroup_cancel_charge(struct mem_cgroup *memcg, unsigned long nr_pages)
{
	if (memcg)
		page_counter_uncharge(&memcg->memory, nr_pages);
}

void mem_cgroup_commit_charge(struct folio *folio, struct mem_cgroup *memcg)
{
	folio->memcg = memcg;
}

void mem_cgroup_uncharge(struct folio *folio)
{
	if (!folio->memcg)
		return;
	page_counter_uncharge(&folio->memcg->memory, folio_nr_pages(folio));
	folio->memcg = NULL;
}

void mem_cgroup_migrate(struct folio *old, struct folio *new)
{
	new->memcg = old->memcg;
	old->memcg = NULL;
}

/* The pages charged to @cgrp by what holds HugeTLB charges now. */
static void cgroup_charged(struct host *host, const struct cgroup *cgrp, unsigned long *memory,
			   unsigned long hugepage[HUGE_MAX_HSTATE])
{
	struct range_node *n;
	struct folio *folio;

	*memory = 0;
	for (int i = 0; i < HUGE_MAX_HSTATE; i++) {
		hugepage[i] = 0;
		list_for_each_entry(folio, &host->hstates[i].hugepage_activelist, lru) {
			if (folio->h_cg == &cgrp->h_cg)
				hugepage[i] += folio_nr_pages(folio);
			if (folio->memcg == &cgrp->memcg)
				*memory += folio_nr_pages(folio);
		}
	}
	for (n = rangemap_first(&host->guestmem_splits); n; n = rangemap_next(n)) {
		struct guestmem_split *gs = container_of(n, struct guestmem_split, node);
		unsigned long nr = 1UL << gs->order;

		if (gs->h_cg == &cgrp->h_cg)
			hugepage[hstate_index(host, gs->h)] += nr;
		if (gs->memcg == &cgrp->memcg)
			*memory += nr;
	}
}

static int cgroup_validate_one(struct host *host, const struct cgroup *cgrp)
{
	unsigned long memory, hugepage[HUGE_MAX_HSTATE];
	const char *name = cgrp->name[0] ? cgrp->name : "(root)";

	cgroup_charged(host, cgrp, &memory, hugepage);
	if (!mem_cgroup_is_root(host, &cgrp->memcg) && memory != cgrp->memcg.memory.usage) {
		trace_note(host->trace, "invariant broken: cgroup %s memory.current is %lu pages, "
			   "its HugeTLB folios hold %lu", name, cgrp->memcg.memory.usage, memory);
		return -EUCLEAN;
	}
	for (int i = 0; i < HUGE_MAX_HSTATE; i++) {
		if (hugepage[i] != cgrp->h_cg.hugepage[i].usage) {
			trace_note(host->trace, "invariant broken: cgroup %s %s usage is %lu pages, "
				   "its HugeTLB folios hold %lu", name, host->hstates[i].name,
				   cgrp->h_cg.hugepage[i].usage, hugepage[i]);
			return -EUCLEAN;
		}
	}
	return 0;
}

int cgroup_validate(struct host *host)
{
	struct cgroup *cgrp;
	struct folio *folio;
	int ret;

	/* A free pool folio carries no charge: free_huge_folio() dropped it. */
	for (int i = 0; i < HUGE_MAX_HSTATE; i++)
		for (int nid = 0; nid < host->nr_nodes; nid++)
			list_for_each_entry(folio, &host->hstates[i].hugepage_freelists[nid], lru)
				if (folio->memcg || folio->h_cg) {
					trace_note(host->trace, "invariant broken: free HugeTLB folio %#lx is charged",
						   folio_pfn(folio));
					return -EUCLEAN;
				}
	ret = cgroup_validate_one(host, &host->root_cgroup);
	list_for_each_entry(cgrp, &host->cgroups, node)
		if (!ret)
			ret = cgroup_validate_one(host, cgrp);
	return ret;
}
