// SPDX-License-Identifier: MIT
/*
 * The hugetlb cgroup controller: hugetlb.<size>.current and .max.
 *
 * Models: mm/hugetlb_cgroup.c (hugetlb_cgroup_charge_cgroup(),
 * hugetlb_cgroup_commit_charge(), hugetlb_cgroup_uncharge_cgroup(),
 * hugetlb_cgroup_uncharge_folio(), hugetlb_cgroup_migrate()).
 *
 * The group charged is current's at allocation (a kworker's: the root);
 * alloc_hugetlb_folio() turns a refused charge into -ENOSPC.
 *
 * MODEL: only the fault-time counters. The reservation counters
 * (hugetlb.<size>.rsvd.current/.max, charged at mmap or file creation for
 * reserved pages and at fault for the others) and hugetlb.<size>.events
 * are not modelled.
 */
#include "mm/mm.h"

int hugetlb_cgroup_charge_cgroup(struct host *host, int idx, unsigned long nr_pages,
				 struct hugetlb_cgroup **ptr)
{
	struct hugetlb_cgroup *h_cg = &task_cgroup(host, host->current)->h_cg;

	*ptr = NULL;
	if (!page_counter_try_charge(&h_cg->hugepage[idx], nr_pages))
		return -ENOMEM;
	*ptr = h_cg;
	return 0;
}

void hugetlb_cgroup_commit_charge(int idx, unsigned long nr_pages, struct hugetlb_cgroup *h_cg,
				  struct folio *folio)
{
	(void)idx;
	(void)nr_pages;
	folio->h_cg = h_cg;
}

void hugetlb_cgroup_uncharge_cgroup(int idx, unsigned long nr_pages, struct hugetlb_cgroup *h_cg)
{
	if (h_cg)
		page_counter_uncharge(&h_cg->hugepage[idx], nr_pages);
}

void hugetlb_cgroup_uncharge_folio(int idx, unsigned long nr_pages, struct folio *folio)
{
	struct hugetlb_cgroup *h_cg = folio->h_cg;

	if (!h_cg)
		return;
	folio->h_cg = NULL;
	page_counter_uncharge(&h_cg->hugepage[idx], nr_pages);
}

void hugetlb_cgroup_migrate(struct folio *old, struct folio *new)
{
	new->h_cg = old->h_cg;
	old->h_cg = NULL;
}
