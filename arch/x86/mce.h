/* SPDX-License-Identifier: MIT */
/*
 * The x86 machine-check front end of the model: the severity of an
 * uncorrected memory error decides who handles it; action-required errors
 * in user mode (or in a guest) queue task work that runs kill_me_maybe() on
 * return to user, with the kernel's rules for repeated #MCs.
 *
 * Models: arch/x86/kernel/cpu/mce/core.c: do_machine_check(),
 * queue_task_work(), kill_me_maybe(), kill_me_now(), kill_me_never(),
 * uc_decode_notifier(); arch/x86/kernel/cpu/mce/severity.c (the classes).
 * MODEL: no MCE banks or registers here (the real VMM injects those); an
 * error is its class, its context and its page. A fatal error outside a
 * recoverable context is not modelled.
 */
#ifndef GMF_ARCH_X86_MCE_H
#define GMF_ARCH_X86_MCE_H

#include "mm/memory-failure.h"

enum mce_severity_class {
	MCE_SRAR,	/* software recoverable, action required: a consumed error */
	MCE_SRAO,	/* software recoverable, action optional: found by a scrubber */
	MCE_UCNA,	/* uncorrected, no action: reported by CMCI */
	__NR_MCE_CLASSES,
};

extern const char *const mce_severity_names[__NR_MCE_CLASSES];

/*
 * An SRAR #MC while @t ran in user mode (or a guest on its behalf): queue
 * the task work, applying the repeated-#MC rules (which may panic). Returns
 * 0, or -EBUSY when the host panicked.
 */
int mce_queue_task_work(struct task_struct *t, unsigned long pfn, unsigned long vaddr, bool ripv);
/* Return to user: run @t's pending #MC task work. Returns memory_failure()'s value, or 0. */
int mce_task_work_run(struct task_struct *t);
/* Both: an SRAR consumed by @t, handled right away. */
int mce_kill_me_maybe(struct task_struct *t, unsigned long pfn, unsigned long addr, bool ripv);
/* A kernel copy from user memory hit poison and can fail with -EFAULT. */
int mce_kill_me_never(struct host *host, unsigned long pfn);
/* SRAO and UCNA: logged, then memory_failure(pfn, 0) from the decode notifier. */
int mce_async_error(struct host *host, enum mce_severity_class sev, unsigned long pfn);

#endif
