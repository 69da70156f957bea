/* SPDX-License-Identifier: MIT */
/*
 * The x86 machine-check front end of the model: what the MCE handler does
 * when a task consumes poison (SRAR in user mode) and with memory_failure()'s
 * answer.
 *
 * Models: arch/x86/kernel/cpu/mce/core.c: kill_me_maybe(), kill_me_now(),
 * kill_me_never().
 * MODEL: severity grading, the MCE banks and the repeated-#MC rules come
 * with the guest_memfd work; this is the part memory_failure() needs.
 */
#ifndef GMF_ARCH_X86_MCE_H
#define GMF_ARCH_X86_MCE_H

#include "mm/memory-failure.h"

/*
 * @t consumed poison at user address @addr backed by @pfn. @ripv says
 * whether the interrupted instruction can be restarted (MCG_STATUS.RIPV).
 * Returns memory_failure()'s return value.
 */
int mce_kill_me_maybe(struct task_struct *t, unsigned long pfn, unsigned long addr, bool ripv);
/* A kernel copy from user memory hit poison and can fail with -EFAULT. */
int mce_kill_me_never(struct host *host, unsigned long pfn);

#endif
