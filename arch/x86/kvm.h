/* SPDX-License-Identifier: MIT */
/* x86 KVM: a guest access that may consume poison (see kvm.c). */
#ifndef GMF_ARCH_X86_KVM_H
#define GMF_ARCH_X86_KVM_H

#include "arch/x86/mce.h"
#include "kvm/kvm.h"

/* KVM_RUN around one guest access; returns what KVM_RUN returns. */
int x86_vcpu_access(struct kvm_vcpu *vcpu, u64 gpa, bool write, int private);

#endif
