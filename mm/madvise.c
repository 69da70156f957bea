// SPDX-License-Identifier: MIT
/*
 * The ways userspace injects memory errors: madvise(MADV_HWPOISON) and
 * madvise(MADV_SOFT_OFFLINE), and the debugfs hwpoison injector.
 *
 * Models: mm/madvise.c (madvise_inject_error()), mm/hwpoison-inject.c
 * (hwpoison_inject(), hwpoison_unpoison()).
 *
 * MODEL: the caller has CAP_SYS_ADMIN; the debugfs filters are not modelled.
 */
#include "mm/memory-failure.h"

static int madvise_inject_error(struct task_struct *t, unsigned long start, u64 len, bool soft)
{
	struct host *host = t->mm ? t->mm->host : NULL;
	unsigned long end = start + (unsigned long)len;
	struct task_struct *saved;
	int ret = 0;

	if (!host)
		return -ESRCH;
	if (start & ~PAGE_MASK || !len)
		return -EINVAL;
	saved = host->current;
	host->current = t;
	while (start < end) {
		struct pte_entry *pte;
		struct folio *folio;
		unsigned long pfn, size;

		/* get_user_pages_fast(): fault the page in and take a reference; no signal. */
		if (get_user_page(t, start, false, NULL) != ACCESS_OK) {
			ret = -EFAULT;
			break;
		}
		pte = pte_lookup(t->mm, start);
		folio = pte->folio;
		pfn = pte->pfn + ((start - pte->addr) >> PAGE_SHIFT);
		size = PAGE_SIZE << folio_order(folio);
		folio_get(folio);
		folio->mf_pins++;	/* memory_failure() adopts it (MF_COUNT_INCREASED) */
		if (soft) {
			trace_log(host->trace, LOGLEVEL_INFO,
				  "Soft offlining pfn %#lx at process virtual address %#lx", pfn, start);
			ret = soft_offline_page(host, pfn, MF_COUNT_INCREASED);
		} else {
			trace_log(host->trace, LOGLEVEL_INFO,
				  "Injecting memory failure for pfn %#lx at process virtual address %#lx",
				  pfn, start);
			ret = memory_failure(host, pfn,
					     MF_ACTION_REQUIRED | MF_COUNT_INCREASED | MF_SW_SIMULATED);
			if (ret == -EOPNOTSUPP)
				ret = 0;
		}
		if (ret)
			break;
		start = ALIGN_DOWN(start, size) + size;
	}
	host->current = saved;
	return ret;
}

int madvise_hwpoison(struct task_struct *t, unsigned long start, u64 len)
{
	return madvise_inject_error(t, start, len, false);
}

int madvise_soft_offline(struct task_struct *t, unsigned long start, u64 len)
{
	return madvise_inject_error(t, start, len, true);
}

int hwpoison_inject(struct host *host, unsigned long pfn)
{
	int err;

	if (!pfn_valid(host, pfn))
		return -ENXIO;
	trace_log(host->trace, LOGLEVEL_INFO, "Injecting memory failure at pfn %#lx", pfn);
	err = memory_failure(host, pfn, MF_SW_SIMULATED);
	return err == -EOPNOTSUPP ? 0 : err;
}

int hwpoison_unpoison(struct host *host, unsigned long pfn)
{
	return unpoison_memory(host, pfn);
}
