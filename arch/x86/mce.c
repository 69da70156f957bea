// SPDX-License-Identifier: MIT
/* The x86 #MC front end: see mce.h. */
#define pr_fmt(fmt) "mce: " fmt

#include "arch/x86/mce.h"

int mce_kill_me_maybe(struct task_struct *t, unsigned long pfn, unsigned long addr, bool ripv)
{
	struct host *host = t->mm ? t->mm->host : NULL;
	struct task_struct *saved;
	int flags = MF_ACTION_REQUIRED, ret;

	if (!host)
		return -ESRCH;
	if (!ripv)
		flags |= MF_MUST_KILL;
	saved = host->current;
	host->current = t;
	pr_err(host, "Uncorrected hardware memory error in user-access at %llx\n",
	       (unsigned long long)pfn << PAGE_SHIFT);
	ret = memory_failure(host, pfn, flags);
	if (!ret) {
		/* set_mce_nospec(): the page leaves the kernel's direct map. */
		trace_note(host->trace, "set_mce_nospec(%#lx)", pfn);
	} else if (ret != -EHWPOISON && ret != -EOPNOTSUPP) {
		pr_err(host, "Memory error not recovered\n");
		force_sig(host, SIGBUS);	/* kill_me_now() */
	}
	host->current = saved;
	(void)addr;
	return ret;
}

int mce_kill_me_never(struct host *host, unsigned long pfn)
{
	struct task_struct *saved = host->current;
	int ret;

	host->current = NULL;
	pr_err(host, "Kernel accessed poison in user space at %llx\n",
	       (unsigned long long)pfn << PAGE_SHIFT);
	ret = memory_failure(host, pfn, 0);
	if (!ret)
		trace_note(host->trace, "set_mce_nospec(%#lx)", pfn);
	host->current = saved;
	return ret;
}
