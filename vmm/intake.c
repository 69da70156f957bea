// SPDX-License-Identifier: MIT
/*
 * Memory-error intake (see intake.h).
 *
 * The values injected follow QEMU's kvm_mce_inject() (target/i386/kvm/kvm.c)
 * and cpu_x86_inject_mce() (target/i386/helper.c):
 *
 *              MCi_STATUS                                  MCG_STATUS
 *   Intel AR   VAL|UC|EN|MISCV|ADDRV|S|AR | 0x134          MCIP|RIPV|EIPV
 *   Intel AO   VAL|UC|EN|MISCV|ADDRV|S    | 0x0c0          MCIP|RIPV
 *   AMD AR     VAL|UC|EN|MISCV|ADDRV|POISON                MCIP|RIPV|EIPV
 *   AMD AO     not injected
 *   MCi_ADDR the gpa, MCi_MISC (MCI_MISC_ADDR_PHYS << 6) | 12 = 0x8c, bank 9;
 *   broadcast: the other vCPUs get bank 1, VAL|UC, MCG_STATUS MCIP|RIPV;
 *   local (cfg->local) on Intel with MCG_LMCE_P in MCG_CAP: no broadcast and
 *   MCG_STATUS_LMCES in MCG_STATUS (QEMU's kvm_mce_inject() with LMCE on).
 *
 * The guest memory is one memslot at gpa 0 backed from offset 0 of the guest
 * memory file and mapped whole at vm_mem() (vm.c), so hva, gpa and file
 * offset differ by constants.
 */
#define _GNU_SOURCE	/* gettid, si_addr_lsb */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "base/types.h"
#include "vmm/intake.h"
#include "vmm/kvm_uapi.h"
#include "vmm/vm.h"

/* uAPI an older <linux/kvm.h> lacks (include/uapi/linux/kvm.h). */
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT	39
#endif
#ifndef EHWPOISON
#define EHWPOISON		133
#endif

#define PAGE_SHIFT_4K		12
#define ALTSTACK_SIZE		(64 * 1024)

enum rec_src { REC_SIGNAL, REC_MEMORY_FAULT, REC_STOP, REC_RESET, REC_SEA };

/* One record through the pipe: well under PIPE_BUF, so a write is atomic. */
struct intake_rec {
	u32 src;
	s32 si_code;
	s32 lsb;
	s32 vcpu;		/* the posting thread's vCPU, or -1 */
	s32 tid;
	u32 vseq;		/* the vCPU's posted count, 0 when not held */
	u64 addr;		/* si_addr, the memory fault's gpa, the reset's request */
	u64 flags, size;	/* the memory fault's; an SEA's flags */
	u64 esr, gva;		/* an SEA's (KVM_EXIT_ARM_SEA) */
};

BUILD_BUG_ON(sizeof(struct intake_rec) > 512);

struct intake {
	struct vm *vm;
	struct intake_config cfg;
	int pipe[2];
	pthread_t thread;
	bool thread_started, stopped;
	struct sigaction old_sigbus;
	stack_t old_stack;		/* the starting thread's */
	void *stacks[VMM_MAX_VCPUS + 2];	/* vCPUs, intake thread, starter */

	/* Written by the handler (atomics), read by the intake thread and hold. */
	u32 posted[VMM_MAX_VCPUS];
	u32 done[VMM_MAX_VCPUS];
	pid_t tids[VMM_MAX_VCPUS];
	unsigned long dropped, dropped_seen;

	/* Intake thread only. */
	u8 *poisoned;			/* one bit per 4K page */
	unsigned int injected[VMM_MAX_VCPUS];
	bool busy;			/* the last inject_one() found MCIP pending */

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* done[], calls or events changed */
	struct {
		void (*fn)(void *arg);
		void *arg;
		bool pending;
	} call[VMM_MAX_VCPUS];
	struct intake_event events[INTAKE_MAX_EVENTS];
	unsigned int nr_events;
	unsigned int resets_done;	/* REC_RESET records handled */
};

/* A guest reset, handed to the intake thread (REC_RESET) and waited for. */
struct reset_req {
	struct intake_repair *out;
	unsigned int max, nr;
};

static struct intake *intake_active;
static __thread int tls_vcpu = -1;

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- the signal handler ------------------------------------------------------ */

/* Post @r; from the handler or a vCPU thread. Async-signal-safe. */
static bool post(struct intake *in, struct intake_rec *r)
{
	bool hold = r->vcpu >= 0 && ((r->src == REC_SIGNAL && r->si_code == BUS_MCEERR_AR) ||
				     r->src == REC_MEMORY_FAULT || r->src == REC_SEA);

	/* Only the vCPU's own thread posts to its counter: no race on the undo. */
	if (hold)
		r->vseq = __atomic_add_fetch(&in->posted[r->vcpu], 1, __ATOMIC_SEQ_CST);
	if (write(in->pipe[1], r, sizeof(*r)) == (ssize_t)sizeof(*r))
		return true;
	if (hold)
		__atomic_sub_fetch(&in->posted[r->vcpu], 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&in->dropped, 1, __ATOMIC_SEQ_CST);
	return false;
}

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	struct intake *in = __atomic_load_n(&intake_active, __ATOMIC_ACQUIRE);
	int saved = errno;
	struct intake_rec r;

	if (!in) {
		/* No intake: the default action on the next one (a real fault re-faults). */
		signal(SIGBUS, SIG_DFL);
		errno = saved;
		return;
	}
	memset(&r, 0, sizeof(r));
	r.src = REC_SIGNAL;
	r.si_code = si->si_code;
	r.lsb = si->si_addr_lsb;
	r.addr = (u64)(unsigned long)si->si_addr;
	r.vcpu = tls_vcpu;
	r.tid = my_tid();
	post(in, &r);
	errno = saved;
}

/* ---- hooks on the vCPU threads ----------------------------------------------- */

static void set_altstack(void *base, stack_t *old)
{
	stack_t ss = { .ss_sp = base, .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };

	sigaltstack(&ss, old);
}

static void hook_thread_start(void *arg, int vcpu)
{
	struct intake *in = arg;

	tls_vcpu = vcpu;
	__atomic_store_n(&in->tids[vcpu], my_tid(), __ATOMIC_SEQ_CST);
	set_altstack(in->stacks[vcpu], NULL);
}

/*
 * The sigaltstack is ours (in->stacks[]), kept for the next thread: a thread
 * exiting with it installed may see it freed (ASan's thread teardown unmaps
 * the alternate stack it finds).
 */
static void drop_altstack(void)
{
	stack_t off = { .ss_flags = SS_DISABLE };

	sigaltstack(&off, NULL);
}

static void hook_thread_exit(void *arg, int vcpu)
{
	drop_altstack();
}

/*
 * Held while an error this vCPU consumed is not handled yet. No waiting here:
 * vm.c waits on the vCPU's own lock, where a vmm_inject_mce() request (a
 * broadcast, a test's) wakes it too, and handle() releases it with
 * vm_vcpu_wake() when done[] moves. (The hook used to wait on in->cond for
 * 1 ms: while it did, a request the intake thread had posted to this very
 * thread went undone, so every AR cost a full timeout.)
 */
static bool hook_hold(void *arg, int vcpu)
{
	struct intake *in = arg;
	bool held;

	if (__atomic_load_n(&in->call[vcpu].pending, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&in->lock);
		in->call[vcpu].fn(in->call[vcpu].arg);
		in->call[vcpu].pending = false;
		pthread_cond_broadcast(&in->cond);
		pthread_mutex_unlock(&in->lock);
	}
	if (__atomic_load_n(&in->done[vcpu], __ATOMIC_SEQ_CST) ==
	    __atomic_load_n(&in->posted[vcpu], __ATOMIC_SEQ_CST))
		return false;
	pthread_mutex_lock(&in->lock);
	held = !in->stopped && in->done[vcpu] != in->posted[vcpu];
	pthread_mutex_unlock(&in->lock);
	return held;
}

static bool hook_run_failed(void *arg, int vcpu, int err, const void *run_)
{
	const struct kvm_run *run = run_;
	struct intake *in = arg;
	struct intake_rec r;
	u64 mf[3];

	if (err != EHWPOISON || run->exit_reason != KVM_EXIT_MEMORY_FAULT)
		return false;	/* not a poison exit: vm.c stops the vCPU and says why */
	/* flags, gpa, size: the memory_fault member of the exit union. */
	memcpy(mf, (const u8 *)run + offsetof(struct kvm_run, hw), sizeof(mf));
	if (mf[1] >= vm_mem_size(in->vm))
		return false;	/* not our memslot: re-running would only fault again */
	memset(&r, 0, sizeof(r));
	r.src = REC_MEMORY_FAULT;
	r.vcpu = vcpu;
	r.tid = my_tid();
	r.lsb = PAGE_SHIFT_4K;
	r.flags = mf[0];
	r.addr = mf[1];
	r.size = mf[2];
	/* Queue full: the vCPU re-runs, faults again and re-posts. */
	post(in, &r);
	return true;
}

/* ---- translation -------------------------------------------------------------- */

int intake_translate_hva(const struct vm *vm, const void *hva, u64 *gpa, u64 *offset)
{
	unsigned long base = (unsigned long)vm_mem(vm), a = (unsigned long)hva;

	if (!base || a < base || a - base >= vm_mem_size(vm))
		return -EFAULT;
	*gpa = a - base;	/* the memslot starts at gpa 0 */
	if (offset)
		*offset = a - base;	/* and at file offset 0 */
	return 0;
}

int intake_translate_offset(const struct vm *vm, u64 offset, u64 *gpa)
{
	if (offset >= vm_mem_size(vm))
		return -ERANGE;
	*gpa = offset;
	return 0;
}

/*
 * KVM_EXIT_ARM_SEA's report -> a guest page. Arch-independent (plain
 * numbers), so x86 builds compile and test it; only the exit itself is
 * arm64's (hook_exit() below).
 */
int intake_sea_gpa(u64 flags, u64 esr, u64 gpa, u64 mem_size, u64 *out)
{
	u64 ec = (esr & UAPI_ESR_ELx_EC_MASK) >> UAPI_ESR_ELx_EC_SHIFT;

	if (ec != UAPI_ESR_ELx_EC_DABT_LOW && ec != UAPI_ESR_ELx_EC_IABT_LOW)
		return -EINVAL;
	/* Without it the IPA is unknown (api.rst): no page to name. */
	if (!(flags & KVM_EXIT_ARM_SEA_FLAG_GPA_VALID))
		return -ENODATA;
	/* One memslot at gpa 0 (intake_translate_hva()): the IPA is the gpa. */
	if (gpa >= mem_size)
		return -ERANGE;
	*out = gpa & ~(u64)((1ULL << PAGE_SHIFT_4K) - 1);
	return 0;
}

static const char *sea_error(int err)
{
	return err == -EINVAL ? "the syndrome is no abort from the guest (EC not DABT_LOW/IABT_LOW)" :
	       err == -ENODATA ? "no valid gpa (KVM_EXIT_ARM_SEA_FLAG_GPA_VALID clear): no page to name" :
	       err == -ERANGE ? "outside guest memory" : "?";
}

/* ---- the intake thread -------------------------------------------------------- */

static __printf(2, 3) void logline(struct intake *in, const char *fmt, ...)
{
	char line[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (in->cfg.log_fn) {
		in->cfg.log_fn(in->cfg.log_arg, line);
		return;
	}
	fprintf(in->cfg.log ? in->cfg.log : stderr, "%s\n", line);
	fflush(in->cfg.log ? in->cfg.log : stderr);
}

static const char *code_name(int si_code)
{
	return si_code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" :
	       si_code == BUS_MCEERR_AO ? "BUS_MCEERR_AO" : "?";
}

const char *intake_kind_name(enum intake_kind kind)
{
	static const char *const names[] = { "AR", "AO", "memory-fault", "unknown" };

	return (unsigned int)kind < ARRAY_SIZE(names) ? names[kind] : "?";
}

const char *intake_action_name(enum intake_action action)
{
	static const char *const names[] = { "injected", "duplicate", "ignored", "fatal",
					     "inject-failed" };

	return (unsigned int)action < ARRAY_SIZE(names) ? names[action] : "?";
}

bool intake_mce_values(enum intake_vendor vendor, bool local, u64 mcg_cap, bool ar, u64 gpa,
		       struct intake_mce *out)
{
	unsigned int banks = (unsigned int)(mcg_cap & MCG_BANKCNT_MASK);
	u64 status = MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV |
		     MCI_STATUS_ADDRV;
	u64 mcg = MCG_STATUS_MCIP | MCG_STATUS_RIPV;

	if (vendor == INTAKE_AMD) {
		if (!ar)
			return false;
		status |= MCI_STATUS_POISON;
		mcg |= MCG_STATUS_EIPV;
	} else if (ar) {
		status |= MCI_STATUS_S | MCI_STATUS_AR | MCACOD_DATA;
		mcg |= MCG_STATUS_EIPV;
	} else {
		status |= MCI_STATUS_S | MCACOD_SCRUB;
	}
	/* A local machine check, signalled to this vCPU only: the kernel's LMCES. */
	if (vendor == INTAKE_INTEL && local && (mcg_cap & MCG_LMCE_P))
		mcg |= MCG_STATUS_LMCES;
	out->bank = banks > INTAKE_MCE_BANK ? INTAKE_MCE_BANK : banks ? banks - 1 : 0;
	out->status = status;
	out->addr = gpa;
	out->misc = MCI_MISC(MCI_MISC_ADDR_PHYS, PAGE_SHIFT_4K);
	out->mcg_status = mcg;
	return true;
}

/* Fill @ev's injected values for an AR (@ar) or AO; false when none (AMD AO). */
static bool mce_values(struct intake *in, bool ar, struct intake_event *ev)
{
	struct intake_mce m;

	if (!intake_mce_values(in->cfg.vendor, in->cfg.local, vm_mcg_cap(in->vm), ar, ev->gpa, &m))
		return false;
	ev->bank = m.bank;
	ev->status = m.status;
	ev->addr = m.addr;
	ev->misc = m.misc;
	ev->mcg_status = m.mcg_status;
	return true;
}

/*
 * KVM turns a #MC into a vCPU whose MCG_STATUS.MCIP is still set into a triple
 * fault (as real hardware would). The payload reports each #MC it finished
 * (vm.h); wait for the previous one into @vcpu, at most a second.
 *
 * @held: @vcpu's thread is held out of KVM_RUN for the very error being
 * handled (hook_hold()) and stays so until handle() sets done[]; the ioctl
 * then runs here (vmm_inject_mce_held()) instead of as a request for that
 * thread to carry out, which would cost two thread wake-ups more.
 */
static int inject_one(struct intake *in, int vcpu, bool held, unsigned int bank, u64 status,
		      u64 addr, u64 misc, u64 mcg_status)
{
	struct vcpu *v = vm_vcpu(in->vm, vcpu);
	struct vmm_mce_report r;
	int ret;

	if (in->injected[vcpu] && in->injected[vcpu] <= VMM_MAX_REPORTS &&
	    vm_wait_mce_report(v, in->injected[vcpu] - 1, &r, 1000)) {
		in->busy = true;
		logline(in, "intake: vCPU %d has not finished its previous #MC, injecting anyway",
			vcpu);
	}
	if (held)
		ret = vmm_inject_mce_held(v, bank, status, addr, misc, mcg_status);
	else
		ret = vmm_inject_mce(v, bank, status, addr, misc, mcg_status);
	if (!ret)
		in->injected[vcpu]++;
	return ret;
}

/* @held_vcpu: the vCPU held for this error (r->vseq set), or -1. */
static void inject(struct intake *in, struct intake_event *ev, int held_vcpu)
{
	int nr = vm_nr_vcpus(in->vm);

	in->busy = false;
	ev->ret = inject_one(in, ev->target, ev->target == held_vcpu, ev->bank, ev->status,
			     ev->addr, ev->misc, ev->mcg_status);
	ev->recursive = in->busy;
	ev->action = ev->ret ? INTAKE_INJECT_FAILED : INTAKE_INJECTED;
	if (ev->ret || in->cfg.local || in->cfg.vendor == INTAKE_AMD)
		return;
	for (int i = 0; i < nr; i++) {
		int ret;

		if (i == ev->target)
			continue;
		ret = inject_one(in, i, i == held_vcpu, INTAKE_BCAST_BANK,
				 MCI_STATUS_VAL | MCI_STATUS_UC, 0, 0,
				 MCG_STATUS_MCIP | MCG_STATUS_RIPV);
		if (ret)
			logline(in, "intake: broadcast #MC to vCPU %d failed: %s", i,
				strerror(-ret));
	}
}

static bool test_and_set_poisoned(struct intake *in, u64 gpa)
{
	u64 pfn = gpa >> PAGE_SHIFT_4K;
	u8 bit = (u8)(1u << (pfn % 8));

	/* Atomic: intake_mark_poisoned() may set bits from another thread. */
	return __atomic_fetch_or(&in->poisoned[pfn / 8], bit, __ATOMIC_RELAXED) & bit;
}

int intake_mark_poisoned(struct intake *in, u64 gpa)
{
	if (gpa >= vm_mem_size(in->vm))
		return -ERANGE;
	(void)test_and_set_poisoned(in, gpa);
	return 0;
}

static void handle_guest(struct intake *in, struct intake_event *ev, const struct intake_rec *r)
{
	bool ar = ev->kind != INTAKE_AO;
	const char *what = r->src == REC_SEA ? "KVM_EXIT_ARM_SEA" :
			   ev->kind == INTAKE_MEMORY_FAULT ? "KVM_EXIT_MEMORY_FAULT/EHWPOISON" :
			   code_name(ev->si_code);
	bool again = test_and_set_poisoned(in, ev->gpa);

	if (again && !ar) {
		ev->action = INTAKE_DUPLICATE;
		logline(in, "intake: %s at gpa %#llx: page already poisoned, not injected again",
			what, (unsigned long long)ev->gpa);
		return;
	}
	/* An AR on a thread that is no vCPU: no guest instruction consumed it. */
	if (ar && r->vcpu < 0) {
		ar = false;
		ev->target = 0;
	} else {
		ev->target = ar ? r->vcpu : 0;
	}
	if (!mce_values(in, ar, ev)) {
		ev->action = INTAKE_IGNORED;
		logline(in, "intake: %s at gpa %#llx: no AO injection on AMD, ignored", what,
			(unsigned long long)ev->gpa);
		return;
	}
	inject(in, ev, r->vseq ? r->vcpu : -1);
	if (ev->action == INTAKE_INJECT_FAILED) {
		logline(in, "intake: %s at gpa %#llx: injecting into vCPU %d failed: %s", what,
			(unsigned long long)ev->gpa, ev->target, strerror(-ev->ret));
		return;
	}
	logline(in, "intake: guest MCE memory error at host addr %#llx, gpa %#llx, offset %#llx, "
		"%s, injected into vCPU %d as %s%s",
		(unsigned long long)ev->hva, (unsigned long long)ev->gpa,
		(unsigned long long)ev->offset, what, ev->target, ar ? "AR" : "AO",
		again ? " (again: the guest touched it again)" : "");
}

/*
 * Commit @ev to the poison record (a guest page) or the event log (the VMM's
 * own memory), with QEMU's MEMORY_FAILURE fields (intake.h has the table).
 */
static void commit_record(struct intake *in, struct intake_event *ev)
{
	struct record_error e = {
		.time_ns = (s64)ev->time.tv_sec * 1000000000LL + ev->time.tv_nsec,
		.gpa = ev->gpa,
		.offset = ev->offset,
		.action = intake_action_name(ev->action),
		.recursive = ev->recursive,
	};

	if (!in->cfg.record || ev->kind == INTAKE_UNKNOWN)
		return;
	e.kind = ev->kind == INTAKE_AO ? RECORD_AO :
		 ev->kind == INTAKE_AR ? RECORD_AR : RECORD_MEMORY_FAULT;
	if (!ev->in_guest) {
		e.recipient = RECORD_TO_HYPERVISOR;
		e.mf_action = ev->action == INTAKE_FATAL ? RECORD_MF_FATAL : RECORD_MF_IGNORE;
		e.action_required = ev->kind == INTAKE_AR;
		e.gpa = e.offset = ev->hva;
		ev->record_ret = record_event(in->cfg.record, &e);
	} else {
		e.recipient = RECORD_TO_GUEST;
		e.mf_action = ev->action == INTAKE_INJECTED ? RECORD_MF_INJECT : RECORD_MF_IGNORE;
		/* What was injected: an AR on a non-vCPU thread went in as AO. */
		e.action_required = ev->action == INTAKE_INJECTED ?
				    !!(ev->mcg_status & MCG_STATUS_EIPV) : ev->kind != INTAKE_AO;
		ev->record_ret = record_add(in->cfg.record, &e, &ev->evict);
	}
	if (ev->record_ret)
		logline(in, "intake: recording the error at %s %#llx failed: %s",
			ev->in_guest ? "gpa" : "host addr",
			(unsigned long long)(ev->in_guest ? ev->gpa : ev->hva),
			strerror(-ev->record_ret));
	if (ev->evict)
		logline(in, "intake: poison threshold reached at gpa %#llx: requesting eviction, exiting with status %d",
			(unsigned long long)ev->gpa, RECORD_EXIT_EVICT);
}

static void handle(struct intake *in, const struct intake_rec *r)
{
	struct intake_event ev;

	memset(&ev, 0, sizeof(ev));
	clock_gettime(CLOCK_REALTIME, &ev.time);
	ev.si_code = r->src == REC_SIGNAL ? r->si_code : 0;
	ev.lsb = r->lsb;
	ev.tid = r->tid;
	ev.from_vcpu = r->vcpu;
	ev.target = -1;

	if (r->src == REC_SEA) {
		int err;

		/* The same path as a memory-fault exit: a consumed page, its vCPU held. */
		ev.kind = INTAKE_MEMORY_FAULT;
		ev.sea = true;
		ev.esr = r->esr;
		err = intake_sea_gpa(r->flags, r->esr, r->addr, vm_mem_size(in->vm), &ev.gpa);
		if (err) {
			ev.action = INTAKE_IGNORED;
			logline(in, "intake: KVM_EXIT_ARM_SEA on vCPU %d (esr %#llx, flags %#llx, gpa %#llx): %s, ignored",
				r->vcpu, (unsigned long long)r->esr, (unsigned long long)r->flags,
				(unsigned long long)r->addr, sea_error(err));
		} else {
			ev.offset = ev.gpa;
			ev.in_guest = true;
			handle_guest(in, &ev, r);
		}
	} else if (r->src == REC_MEMORY_FAULT) {
		ev.kind = INTAKE_MEMORY_FAULT;
		ev.gpa = r->addr;
		ev.offset = r->addr;
		ev.in_guest = r->addr < vm_mem_size(in->vm);
		if (!ev.in_guest) {
			ev.action = INTAKE_IGNORED;
			logline(in, "intake: memory fault on vCPU %d at gpa %#llx (size %#llx, flags %#llx): outside guest memory, ignored",
				r->vcpu, (unsigned long long)r->addr, (unsigned long long)r->size,
				(unsigned long long)r->flags);
		} else {
			handle_guest(in, &ev, r);
		}
	} else if (r->si_code != BUS_MCEERR_AR && r->si_code != BUS_MCEERR_AO) {
		ev.kind = INTAKE_UNKNOWN;
		ev.hva = r->addr;
		ev.action = INTAKE_IGNORED;
		logline(in, "intake: SIGBUS with unknown si_code %d at %#llx (tid %d): ignored",
			r->si_code, (unsigned long long)r->addr, r->tid);
	} else {
		ev.kind = r->si_code == BUS_MCEERR_AR ? INTAKE_AR : INTAKE_AO;
		ev.hva = r->addr;
		ev.in_guest = !intake_translate_hva(in->vm, (const void *)(unsigned long)r->addr,
						    &ev.gpa, &ev.offset);
		if (ev.in_guest) {
			handle_guest(in, &ev, r);
		} else if (ev.kind == INTAKE_AO) {
			ev.action = INTAKE_IGNORED;
			logline(in, "intake: BUS_MCEERR_AO at %#llx (tid %d): not guest memory (the VMM's own), ignored",
				(unsigned long long)r->addr, r->tid);
		} else {
			ev.action = INTAKE_FATAL;
			logline(in, "intake: BUS_MCEERR_AR at %#llx (tid %d): the VMM's own memory, the thread cannot go on: exiting with status %d",
				(unsigned long long)r->addr, r->tid, INTAKE_EXIT_VMM_MEMORY);
		}
	}

	/* Acknowledged only once recorded: before the event and the vCPU's release. */
	commit_record(in, &ev);

	if (ev.action == INTAKE_FATAL) {
		if (!in->cfg.fatal)
			exit(INTAKE_EXIT_VMM_MEMORY);
		in->cfg.fatal(in->cfg.fatal_arg, INTAKE_EXIT_VMM_MEMORY);
	}

	pthread_mutex_lock(&in->lock);
	if (in->nr_events < INTAKE_MAX_EVENTS)
		in->events[in->nr_events] = ev;
	in->nr_events++;
	if (r->vseq)
		__atomic_store_n(&in->done[r->vcpu], r->vseq, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	/* The held vCPU waits on its own lock (vm.c): release it now. */
	if (r->vseq)
		vm_vcpu_wake(vm_vcpu(in->vm, r->vcpu));

	if (ev.evict) {
		if (!in->cfg.fatal)
			exit(RECORD_EXIT_EVICT);
		in->cfg.fatal(in->cfg.fatal_arg, RECORD_EXIT_EVICT);
	}
}

/*
 * The guest was reset (its vCPUs stopped): replace every poisoned page. On
 * the intake thread, in order with the errors, so the record has one writer.
 */
static void handle_reset(struct intake *in, struct reset_req *q)
{
	u64 pages = vm_mem_size(in->vm) >> PAGE_SHIFT_4K;
	const char *file = vm_mem_kind(in->vm) == VMM_MEM_GUEST_MEMFD ? "guest_memfd" : "memfd";

	/* The #MCs in flight went with the old guest: count from its reports. */
	for (int i = 0; i < vm_nr_vcpus(in->vm); i++)
		in->injected[i] = vm_vcpu_nr_mce_reports(vm_vcpu(in->vm, i));
	for (u64 pfn = 0; pfn < pages; pfn++) {
		u8 bit = (u8)(1u << (pfn % 8));
		struct intake_repair rep = { .gpa = pfn << PAGE_SHIFT_4K };

		if (!(__atomic_load_n(&in->poisoned[pfn / 8], __ATOMIC_RELAXED) & bit))
			continue;
		/* One memslot at gpa 0, file offset 0 (intake_translate_hva()). */
		rep.offset = rep.gpa;
		rep.punch_ret = vm_punch_page(in->vm, rep.offset);
		if (rep.punch_ret) {
			logline(in, "intake: reset: gpa %#llx, offset %#llx: punching out of the %s failed: %s; still poisoned",
				(unsigned long long)rep.gpa, (unsigned long long)rep.offset, file,
				strerror(-rep.punch_ret));
		} else {
			/* A new error on it is news again: injected, not a duplicate. */
			__atomic_fetch_and(&in->poisoned[pfn / 8], (u8)~bit, __ATOMIC_RELAXED);
			if (in->cfg.record)
				rep.record_ret = record_repair(in->cfg.record, rep.gpa, rep.offset, 0);
			logline(in, "intake: reset: gpa %#llx, offset %#llx punched out of the %s (FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE), a fresh page on next touch%s%s",
				(unsigned long long)rep.gpa, (unsigned long long)rep.offset, file,
				!in->cfg.record ? "" : rep.record_ret ? "; marking it repaired failed: " :
				"; marked repaired in the record",
				in->cfg.record && rep.record_ret ? strerror(-rep.record_ret) : "");
		}
		if (q->nr < q->max)
			q->out[q->nr] = rep;
		q->nr++;
	}
}

static void *intake_thread(void *arg)
{
	struct intake *in = arg;
	struct intake_rec r;

	set_altstack(in->stacks[VMM_MAX_VCPUS], NULL);
	for (;;) {
		ssize_t n = read(in->pipe[0], &r, sizeof(r));
		unsigned long dropped;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(r) || r.src == REC_STOP)
			break;
		if (r.src == REC_RESET) {
			handle_reset(in, (struct reset_req *)(unsigned long)r.addr);
			pthread_mutex_lock(&in->lock);
			in->resets_done++;
			pthread_cond_broadcast(&in->cond);
			pthread_mutex_unlock(&in->lock);
			continue;
		}
		dropped = __atomic_load_n(&in->dropped, __ATOMIC_SEQ_CST);
		if (dropped != in->dropped_seen) {
			logline(in, "intake: %lu error records lost: the queue was full",
				dropped - in->dropped_seen);
			in->dropped_seen = dropped;
		}
		handle(in, &r);
	}
	drop_altstack();
	return NULL;
}

/* ---- entry points ------------------------------------------------------------- */

static void intake_free(struct intake *in)
{
	for (size_t i = 0; i < ARRAY_SIZE(in->stacks); i++)
		if (in->stacks[i])
			munmap(in->stacks[i], ALTSTACK_SIZE);
	if (in->pipe[0] >= 0)
		close(in->pipe[0]);
	if (in->pipe[1] >= 0)
		close(in->pipe[1]);
	kfree(in->poisoned);
	pthread_cond_destroy(&in->cond);
	pthread_mutex_destroy(&in->lock);
	kfree(in);
}

#if defined(__aarch64__)
/*
 * KVM_EXIT_ARM_SEA (KVM_CAP_ARM_SEA_TO_USER enabled on the VM): the guest
 * consumed an error host APEI did not claim. The report is the kvm_run
 * union's arm_sea member; hand it to the intake as a memory-fault exit is
 * (intake_post_sea(): translated, the vCPU held until it is handled). An
 * exit that names no guest page stops the vCPU: re-running it would only
 * abort again. (vm.c is x86's; this is the arm64 VMM's entry point.)
 */
static bool hook_exit(void *arg, int vcpu, const void *run_)
{
	const struct kvm_run *run = run_;
	struct uapi_arm_sea sea;

	if (run->exit_reason != KVM_EXIT_ARM_SEA)
		return false;
	memcpy(&sea, (const u8 *)run + offsetof(struct kvm_run, hw), sizeof(sea));
	return !intake_post_sea(arg, vcpu, sea.flags, sea.esr,
				sea.esr & UAPI_ESR_ELx_FnV ? 0 : sea.gva, sea.gpa);
}
#endif

int intake_start(struct vm *vm, const struct intake_config *cfg, struct intake **out)
{
	static const struct vm_hooks hooks = {
		.thread_start = hook_thread_start,
#if defined(__aarch64__)
		.exit = hook_exit,
#endif
		.thread_exit = hook_thread_exit,
		.hold = hook_hold,
		.run_failed = hook_run_failed,
	};
	struct intake *expected = NULL;
	struct sigaction sa;
	struct intake *in;
	sigset_t set, old;
	int ret;

	*out = NULL;
	in = kzalloc(sizeof(*in), GFP_KERNEL);
	if (!in)
		return -ENOMEM;
	in->vm = vm;
	in->pipe[0] = in->pipe[1] = -1;
	if (cfg)
		in->cfg = *cfg;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	in->poisoned = kzalloc((size_t)(vm_mem_size(vm) >> PAGE_SHIFT_4K) / 8 + 1, GFP_KERNEL);
	if (!in->poisoned) {
		intake_free(in);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ARRAY_SIZE(in->stacks); i++) {
		in->stacks[i] = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (in->stacks[i] == MAP_FAILED) {
			in->stacks[i] = NULL;
			intake_free(in);
			return -ENOMEM;
		}
	}
	/* The handler must never block: a full pipe drops and counts. */
	if (pipe2(in->pipe, O_CLOEXEC) < 0 || fcntl(in->pipe[1], F_SETFL, O_NONBLOCK) < 0) {
		ret = -errno;
		intake_free(in);
		return ret;
	}
	if (!__atomic_compare_exchange_n(&intake_active, &expected, in, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST)) {
		intake_free(in);
		return -EBUSY;
	}

	set_altstack(in->stacks[VMM_MAX_VCPUS + 1], &in->old_stack);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigbus_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &in->old_sigbus);
	vm_set_hooks(vm, &hooks, in);

	/* The intake thread takes SIGBUS too, but nothing else. */
	sigfillset(&set);
	sigdelset(&set, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	ret = -pthread_create(&in->thread, NULL, intake_thread, in);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		intake_stop(in);
		intake_free(in);
		return ret;
	}
	in->thread_started = true;
	*out = in;
	return 0;
}

void intake_stop(struct intake *in)
{
	struct intake_rec r = { .src = REC_STOP };

	if (!in || in->stopped)
		return;
	if (in->thread_started) {
		/* The stop record queues behind every error already posted. */
		while (write(in->pipe[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			usleep(1000);
		pthread_join(in->thread, NULL);
		in->thread_started = false;
	}
	sigaction(SIGBUS, &in->old_sigbus, NULL);
	if (!(in->old_stack.ss_flags & SS_DISABLE) || in->old_stack.ss_sp)
		sigaltstack(&in->old_stack, NULL);
	else {
		stack_t off = { .ss_flags = SS_DISABLE };

		sigaltstack(&off, NULL);
	}
	__atomic_store_n(&intake_active, NULL, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&in->lock);
	in->stopped = true;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	/* A vCPU held for an error is held no more. */
	for (int i = 0; i < vm_nr_vcpus(in->vm); i++)
		vm_vcpu_wake(vm_vcpu(in->vm, i));
}

void intake_destroy(struct intake *in)
{
	if (!in)
		return;
	intake_stop(in);
	intake_free(in);
}

int intake_post_memory_fault(struct intake *in, int vcpu, u64 flags, u64 gpa, u64 size)
{
	struct intake_rec r;

	memset(&r, 0, sizeof(r));
	r.src = REC_MEMORY_FAULT;
	r.vcpu = vcpu;
	r.tid = my_tid();
	r.lsb = PAGE_SHIFT_4K;
	r.flags = flags;
	r.addr = gpa;
	r.size = size;
	return post(in, &r) ? 0 : -EAGAIN;
}

int intake_post_sea(struct intake *in, int vcpu, u64 flags, u64 esr, u64 gva, u64 gpa)
{
	struct intake_rec r;
	u64 page;
	int ret;

	memset(&r, 0, sizeof(r));
	r.src = REC_SEA;
	r.vcpu = vcpu;
	r.tid = my_tid();
	r.lsb = PAGE_SHIFT_4K;
	r.flags = flags;
	r.esr = esr;
	r.gva = gva;
	r.addr = gpa;
	ret = intake_sea_gpa(flags, esr, gpa, vm_mem_size(in->vm), &page);
	/* Posted either way: the intake thread logs what it could not attribute. */
	if (!post(in, &r))
		return -EAGAIN;
	return ret;
}

int intake_wait_events(struct intake *in, unsigned int n, int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&in->lock);
	while (in->nr_events < n && !ret)
		if (pthread_cond_timedwait(&in->cond, &in->lock, &ts) == ETIMEDOUT)
			ret = in->nr_events >= n ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&in->lock);
	return ret;
}

unsigned int intake_events(struct intake *in, struct intake_event *out, unsigned int max)
{
	unsigned int n;

	pthread_mutex_lock(&in->lock);
	n = in->nr_events;
	for (unsigned int i = 0; i < n && i < max && i < INTAKE_MAX_EVENTS; i++)
		out[i] = in->events[i];
	pthread_mutex_unlock(&in->lock);
	return n;
}

int intake_run_on_vcpu(struct intake *in, int vcpu, void (*fn)(void *arg), void *arg,
		       int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	if (vcpu < 0 || vcpu >= vm_nr_vcpus(in->vm))
		return -EINVAL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&in->lock);
	while (in->call[vcpu].pending && !ret)
		ret = -pthread_cond_timedwait(&in->cond, &in->lock, &ts);
	if (!ret) {
		in->call[vcpu].fn = fn;
		in->call[vcpu].arg = arg;
		__atomic_store_n(&in->call[vcpu].pending, true, __ATOMIC_SEQ_CST);
		/* A held vCPU runs it at once; one in the guest at its next exit. */
		vm_vcpu_wake(vm_vcpu(in->vm, vcpu));
		while (in->call[vcpu].pending && !ret)
			ret = -pthread_cond_timedwait(&in->cond, &in->lock, &ts);
		if (ret && in->call[vcpu].pending)
			in->call[vcpu].pending = false;	/* withdrawn: the caller's @arg goes away */
		else
			ret = 0;
	}
	pthread_mutex_unlock(&in->lock);
	return ret;
}

int intake_guest_reset(struct intake *in, struct intake_repair *out, unsigned int max)
{
	struct reset_req q = { .out = out, .max = max };
	struct intake_rec r;
	unsigned int target;

	memset(&r, 0, sizeof(r));
	r.src = REC_RESET;
	r.vcpu = -1;
	r.addr = (u64)(unsigned long)&q;
	pthread_mutex_lock(&in->lock);
	if (in->stopped || !in->thread_started) {
		pthread_mutex_unlock(&in->lock);
		return -ESRCH;
	}
	/* One reset at a time: @q is on this stack until the intake thread is done. */
	target = in->resets_done + 1;
	while (write(in->pipe[1], &r, sizeof(r)) != (ssize_t)sizeof(r)) {
		pthread_mutex_unlock(&in->lock);
		usleep(1000);	/* the queue is full of errors: they go first anyway */
		pthread_mutex_lock(&in->lock);
	}
	while (in->resets_done < target)
		pthread_cond_wait(&in->cond, &in->lock);
	pthread_mutex_unlock(&in->lock);
	return (int)q.nr;
}

int intake_system_reset(struct intake *in, struct intake_repair *out, unsigned int max,
			char *why, size_t len)
{
	int nr, ret;

	if (why && len)
		why[0] = '\0';
	vm_stop(in->vm);
	nr = intake_guest_reset(in, out, max);
	if (nr < 0) {
		if (why && len)
			snprintf(why, len, "the intake is stopped: no page replaced");
		return nr;
	}
	ret = vm_reset(in->vm, why, len);
	if (ret)
		return ret;
	ret = vm_start(in->vm);
	if (ret) {
		if (why && len)
			snprintf(why, len, "cannot start the vCPUs: %s", strerror(-ret));
		return ret;
	}
	return nr;
}

pid_t intake_vcpu_tid(struct intake *in, int vcpu)
{
	if (vcpu < 0 || vcpu >= VMM_MAX_VCPUS)
		return 0;
	return __atomic_load_n(&in->tids[vcpu], __ATOMIC_SEQ_CST);
}

unsigned long intake_dropped(struct intake *in)
{
	return __atomic_load_n(&in->dropped, __ATOMIC_SEQ_CST);
}
