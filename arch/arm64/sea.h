/* SPDX-License-Identifier: MIT */
/*
 * The arm64 front end of the model: synchronous external aborts (SEA) taken
 * by user tasks and by guests, firmware-first RAS (APEI/GHES) claiming them,
 * and KVM's choice between the host, a virtual SError and an exit to the VMM.
 *
 * Models: arch/arm64/mm/fault.c (do_sea()), drivers/acpi/apei/ghes.c
 * (ghes_do_memory_failure(), memory_failure_cb()), arch/arm64/kvm/mmu.c
 * (kvm_handle_guest_sea()), arch/arm64/kvm/guest.c (KVM_SET_VCPU_EVENTS).
 * MODEL: whether APEI claims an abort is the host's `apei` setting; there
 * is no CPER record. A SEA is a data abort from a lower EL on a read or a
 * write of one page.
 */
#ifndef GMF_ARCH_ARM64_SEA_H
#define GMF_ARCH_ARM64_SEA_H

#include "kvm/kvm.h"

/* ESR_ELx fields the model uses. */
#define ESR_ELx_EC_SHIFT	26
#define ESR_ELx_EC_DABT_LOW	0x24UL
#define ESR_ELx_IL		(1UL << 25)
#define ESR_ELx_SET_SHIFT	11
#define ESR_ELx_SET_UER		(0UL << ESR_ELx_SET_SHIFT)	/* recoverable */
#define ESR_ELx_FnV		(1UL << 10)
#define ESR_ELx_EA		(1UL << 9)
#define ESR_ELx_CM		(1UL << 8)
#define ESR_ELx_S1PTW		(1UL << 7)
#define ESR_ELx_WNR		(1UL << 6)
#define ESR_ELx_FSC_EXTABT	0x10UL
#define ESR_ELx_ISV		(1UL << 24)

/* A user task touched a page whose memory is bad. */
int arm64_user_sea(struct task_struct *t, unsigned long pfn, unsigned long addr);
/* An asynchronous error reported through GHES (SError, IRQ): memory_failure_queue(). */
void arm64_ghes_async(struct host *host, unsigned long pfn);
/*
 * KVM_RUN around one guest access on arm64. @s1ptw makes the access a
 * stage-1 page-table walk (the host owns such a SEA).
 */
int arm64_vcpu_access(struct kvm_vcpu *vcpu, u64 gpa, u64 gva, bool write, int private, bool s1ptw);
/* KVM_SET_VCPU_EVENTS: 0, or -EINVAL for both an SError and an external abort. */
int arm64_set_vcpu_events(struct kvm_vcpu *vcpu, bool serror_pending, bool ext_dabt_pending);

#endif
