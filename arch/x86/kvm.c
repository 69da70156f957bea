// SPDX-License-Identifier: MIT
/*
 * The guest side of the x86 machine-check path: a #MC while the guest runs
 * exits to KVM, which runs the host's #MC handler in the vCPU thread as if
 * the thread had consumed the poison in user mode; then the vCPU re-enters
 * the guest, which re-executes the access.
 *
 * Models: arch/x86/kvm/vmx/vmx.c (handle_exception_nmi_irqoff(),
 * kvm_machine_check()), arch/x86/kernel/cpu/mce/core.c (the user-mode
 * path to kill_me_maybe()).
 */
#include "arch/x86/kvm.h"

int x86_vcpu_access(struct kvm_vcpu *vcpu, u64 gpa, bool write, int private)
{
	struct host *host = vcpu->kvm->host;

	for (int tries = 0; tries < 2; tries++) {
		unsigned long pfn = 0;
		int ret = kvm_vcpu_guest_access(vcpu, gpa, write, private, &pfn);

		if (ret != KVM_ACCESS_MACHINE_CHECK)
			return ret;
		trace_note(host->trace, "vcpu%d: machine check in the guest at gpa %#llx (pfn %#lx)",
			   vcpu->vcpu_id, (unsigned long long)gpa, pfn);
		(void)mce_kill_me_maybe(vcpu->thread, pfn, 0, true);
		if (vcpu->thread->exited || kvm_vcpu_signal_pending(vcpu)) {
			vcpu->run.exit_reason = KVM_EXIT_INTR;
			return -EINTR;
		}
	}
	/* The retry consumed poison again: the vCPU thread takes the signal. */
	vcpu->run.exit_reason = KVM_EXIT_INTR;
	return -EINTR;
}
