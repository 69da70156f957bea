// SPDX-License-Identifier: MIT
/* The x86 #MC front end: see mce.h. */
#define pr_fmt(fmt) "mce: " fmt

#include "arch/x86/mce.h"

const char *const mce_severity_names[__NR_MCE_CLASSES] = {
	[MCE_SRAR] = "SRAR",
	[MCE_SRAO] = "SRAO",
	[MCE_UCNA] = "UCNA",
};

static struct host *task_host(struct task_struct *t)
{
	return t->group_leader->mm ? t->group_leader->mm->host : NULL;
}

int mce_queue_task_work(struct task_struct *t, unsigned long pfn, unsigned long vaddr, bool ripv)
{
	struct host *host = task_host(t);
	int count;

	if (!host)
		return -ESRCH;
	count = ++t->mce_count;
	if (count == 1) {
		t->mce_pfn = pfn;
		t->mce_vaddr = vaddr;
		t->mce_ripv = ripv;
	}
	/* Ten is more than enough: no more than two are expected before the task work runs. */
	if (count > 10) {
		panic(host, "Too many consecutive machine checks while accessing user data");
		return -EBUSY;
	}
	if (count > 1 && t->mce_pfn != pfn) {
		panic(host, "Consecutive machine checks to different user pages");
		return -EBUSY;
	}
	t->mce_task_work = true;	/* task_work_add() only once */
	return 0;
}

/* kill_me_maybe(): the task work of an action-required #MC in user mode. */
int mce_task_work_run(struct task_struct *t)
{
	struct host *host = task_host(t);
	struct task_struct *saved;
	int flags = MF_ACTION_REQUIRED, ret;

	if (!host || !t->mce_task_work)
		return 0;
	t->mce_task_work = false;
	t->mce_count = 0;
	if (!t->mce_ripv)
		flags |= MF_MUST_KILL;
	saved = host->current;
	host->current = t;
	pr_err(host, "Uncorrected hardware memory error in user-access at %llx\n",
	       (unsigned long long)t->mce_pfn << PAGE_SHIFT);
	ret = memory_failure(host, t->mce_pfn, flags);
	if (!ret) {
		/* set_mce_nospec(): the page leaves the kernel's direct map. */
		trace_note(host->trace, "set_mce_nospec(%#lx)", t->mce_pfn);
	} else if (ret != -EHWPOISON && ret != -EOPNOTSUPP) {
		pr_err(host, "Memory error not recovered\n");
		force_sig(host, SIGBUS);	/* kill_me_now() */
	}
	host->current = saved;
	return ret;
}

int mce_kill_me_maybe(struct task_struct *t, unsigned long pfn, unsigned long addr, bool ripv)
{
	int ret = mce_queue_task_work(t, pfn, addr, ripv);

	return ret ? ret : mce_task_work_run(t);
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

int mce_async_error(struct host *host, enum mce_severity_class sev, unsigned long pfn)
{
	struct task_struct *saved = host->current;
	int ret;

	/* uc_decode_notifier() runs from the MCE log's work: no user context. */
	host->current = NULL;
	trace_note(host->trace, "%s memory error at pfn %#lx, from the MCE log", mce_severity_names[sev], pfn);
	ret = memory_failure(host, pfn, 0);
	if (!ret)
		trace_note(host->trace, "set_mce_nospec(%#lx)", pfn);
	host->current = saved;
	return ret;
}
