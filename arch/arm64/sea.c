// SPDX-License-Identifier: MIT
/* The arm64 SEA front end: see sea.h. */
#include "arch/arm64/sea.h"

static struct host *task_host(struct task_struct *t)
{
	return t->group_leader->mm ? t->group_leader->mm->host : NULL;
}

/*
 * ghes_do_memory_failure() for a synchronous error: task work that runs
 * memory_failure(MF_ACTION_REQUIRED) in the task that consumed it, and a
 * plain SIGBUS when that fails (memory_failure_cb()).
 */
static int ghes_memory_failure_cb(struct host *host, struct task_struct *t, unsigned long pfn)
{
	struct task_struct *saved = host->current;
	int ret;

	host->current = t;
	ret = memory_failure(host, pfn, MF_ACTION_REQUIRED);
	if (ret && ret != -EHWPOISON && ret != -EOPNOTSUPP) {
		trace_log(host->trace, LOGLEVEL_ERR,
			  "%#lx: Sending SIGBUS to %s:%d due to hardware memory corruption", pfn, t->comm,
			  t->pid);
		force_sig(host, SIGBUS);
	}
	host->current = saved;
	return ret;
}

int arm64_user_sea(struct task_struct *t, unsigned long pfn, unsigned long addr)
{
	struct host *host = task_host(t);

	if (!host)
		return -ESRCH;
	if (host->arm64.apei)
		return ghes_memory_failure_cb(host, t, pfn);
	/* Not claimed: do_sea() reports a plain synchronous external abort. */
	trace_note(host->trace, "SEA not claimed by APEI: SIGBUS BUS_OBJERR to %s:%d", t->comm, t->pid);
	force_sig_fault(t, SIGBUS, 3 /* BUS_OBJERR */, addr);
	return 0;
}

void arm64_ghes_async(struct host *host, unsigned long pfn)
{
	memory_failure_queue(host, 0, pfn, 0);
}

int arm64_set_vcpu_events(struct kvm_vcpu *vcpu, bool serror_pending, bool ext_dabt_pending)
{
	if (serror_pending && ext_dabt_pending)
		return -EINVAL;
	vcpu->serror_pending |= serror_pending;
	vcpu->ext_dabt_pending |= ext_dabt_pending;
	return 0;
}

/* The syndrome userspace sees: only EC, IL, FnV, EA, CM, WNR, FSC, and SET with FEAT_RAS. */
static u64 sanitize_esr(const struct host *host, u64 esr)
{
	u64 keep = (0x3fULL << ESR_ELx_EC_SHIFT) | ESR_ELx_IL | ESR_ELx_FnV | ESR_ELx_EA |
		   ESR_ELx_CM | ESR_ELx_WNR | 0x3fULL;

	if (host->arm64.feat_ras)
		keep |= 3ULL << ESR_ELx_SET_SHIFT;
	return esr & keep;
}

/* Models kvm_handle_guest_sea(). 0: resume the guest; otherwise what KVM_RUN returns. */
static int kvm_handle_guest_sea(struct kvm_vcpu *vcpu, u64 gpa, u64 gva, bool write,
				unsigned long pfn, bool s1ptw)
{
	struct host *host = vcpu->kvm->host;
	u64 esr = (ESR_ELx_EC_DABT_LOW << ESR_ELx_EC_SHIFT) | ESR_ELx_IL | ESR_ELx_EA |
		  ESR_ELx_FSC_EXTABT | ESR_ELx_ISV | (write ? ESR_ELx_WNR : 0) |
		  (s1ptw ? ESR_ELx_S1PTW : 0) | (gva ? 0 : ESR_ELx_FnV);

	/* Firmware-first: GHES claims it and memory_failure() runs in the vCPU thread. */
	if (host->arm64.apei) {
		trace_note(host->trace, "vcpu%d: SEA at gpa %#llx claimed by APEI", vcpu->vcpu_id,
			   (unsigned long long)gpa);
		(void)ghes_memory_failure_cb(host, vcpu->thread, pfn);
		return 0;
	}
	/* The host owns it, or the VMM did not ask: a virtual SError for the guest. */
	if (!host->arm64.feat_ras || s1ptw || !vcpu->kvm->sea_to_user) {
		trace_note(host->trace, "vcpu%d: SEA at gpa %#llx: virtual SError injected into the guest",
			   vcpu->vcpu_id, (unsigned long long)gpa);
		vcpu->serror_pending = true;
		return 0;
	}
	vcpu->run.exit_reason = KVM_EXIT_ARM_SEA;
	vcpu->run.arm_sea.esr = sanitize_esr(host, esr);
	vcpu->run.arm_sea.gva = gva;
	vcpu->run.arm_sea.gpa = gpa & PAGE_MASK;
	vcpu->run.arm_sea.flags = KVM_EXIT_ARM_SEA_FLAG_GPA_VALID;
	vcpu->kvm->nr_exits++;
	return 0;
}

int arm64_vcpu_access(struct kvm_vcpu *vcpu, u64 gpa, u64 gva, bool write, int private, bool s1ptw)
{
	struct host *host = vcpu->kvm->host;

	/* Pending exceptions are taken first, instead of the access. */
	if (vcpu->serror_pending || vcpu->ext_dabt_pending) {
		vcpu->run.exit_reason = KVM_EXIT_UNKNOWN;
		if (vcpu->ext_dabt_pending) {
			vcpu->guest_aborts++;
			trace_note(host->trace, "vcpu%d: the guest takes the injected external data abort",
				   vcpu->vcpu_id);
		} else {
			vcpu->guest_serrors++;
			trace_note(host->trace, "vcpu%d: the guest takes a virtual SError", vcpu->vcpu_id);
		}
		vcpu->ext_dabt_pending = vcpu->serror_pending = false;
		return 0;
	}
	for (int tries = 0; tries < 2; tries++) {
		unsigned long pfn = 0;
		int ret = kvm_vcpu_guest_access(vcpu, gpa, write, private, &pfn);

		if (ret != KVM_ACCESS_MACHINE_CHECK)
			return ret;
		ret = kvm_handle_guest_sea(vcpu, gpa, gva, write, pfn, s1ptw);
		if (ret || vcpu->run.exit_reason || vcpu->serror_pending)
			return ret;
		if (vcpu->thread->exited || kvm_vcpu_signal_pending(vcpu)) {
			vcpu->run.exit_reason = KVM_EXIT_INTR;
			return -EINTR;
		}
		/* Resumed: the guest re-executes the access. */
	}
	vcpu->run.exit_reason = KVM_EXIT_INTR;
	return -EINTR;
}
