/* SPDX-License-Identifier: MIT */
/*
 * Memory-error intake of the small VMM (vm.h): SIGBUS with BUS_MCEERR_AR or
 * BUS_MCEERR_AO, KVM_RUN failing with EHWPOISON on a KVM_EXIT_MEMORY_FAULT,
 * and (arm64) KVM_EXIT_ARM_SEA, handled as the memory fault is,
 * turned into a guest physical address and an x86 machine check injected into
 * the guest, with one log line and one event per error.
 *
 *   SIGBUS handler (any thread, on its sigaltstack)     vCPU thread, KVM_RUN
 *     records si_code, si_addr, si_addr_lsb, thread       -1/EHWPOISON + memory fault
 *            \                                            /
 *             +------ write(2) of one record to a pipe --+
 *                                  |
 *                          the intake thread: reads records in order,
 *                          translates, decides, injects, logs, records
 *
 * The handler only calls write(2), gettid and atomics: no allocation, no
 * stdio, no locks. A vCPU that consumed an error (AR on its thread, a
 * memory-fault exit) is held before its next KVM_RUN until the intake thread
 * has handled that error, so the #MC is pending when the guest runs again and
 * the guest does not touch the page a second time first. The intake thread
 * injects into that held vCPU itself (vmm_inject_mce_held(): it is out of
 * KVM_RUN) and releases it with vm_vcpu_wake(): no timeout on the way, two
 * thread wake-ups in all (the pipe, the release).
 *
 * Actions for each input (each logs one line and adds one event):
 *   AR or memory fault on a guest page       #MC (AR form) into the vCPU that
 *                                             consumed it; INTAKE_INJECTED
 *   AR on a guest page, non-vCPU thread      #MC (AO form) into vCPU 0: no guest
 *                                             instruction consumed it
 *   AO on a guest page                       #MC (AO form) into vCPU 0
 *   broadcast (Intel, not cfg->local)        every other vCPU: bank 1, VAL|UC,
 *                                             MCG_STATUS MCIP|RIPV (as QEMU)
 *   local (Intel, cfg->local, MCG_LMCE_P)    no broadcast; MCG_STATUS_LMCES set
 *   AO on an already poisoned page           not injected again; INTAKE_DUPLICATE
 *   AR/memory fault on a poisoned page       injected again: the guest touched it
 *                                             again and would otherwise re-fault
 *   AO on AMD                                not injected (as QEMU: AMD guest
 *                                             kernels panic on it); INTAKE_IGNORED
 *   AO outside guest memory (VMM's own)      ignored; INTAKE_IGNORED
 *   AR outside guest memory (VMM's own)      the thread cannot go on: INTAKE_FATAL,
 *                                             cfg->fatal(INTAKE_EXIT_VMM_MEMORY),
 *                                             exit() with that status by default
 *   unknown si_code                          ignored; INTAKE_IGNORED
 *   errors arriving while one is handled     queued in the pipe, handled in order
 *   the pipe full                            counted (intake_dropped()), logged
 *                                             by the intake thread when it sees it
 *
 * With cfg->record (vmm/record.h), every error on a guest page is committed
 * to the poison record (record_add()) before the error counts as handled:
 * before its event is added, before the held vCPU runs again, before a fatal
 * exit. An error in the VMM's own memory only goes to the event log. A record
 * that fails is logged ("recording ... failed") and the error is still
 * handled (the guest got its #MC); ev->record_ret says so. When the record's
 * threshold asks for eviction, cfg->fatal(RECORD_EXIT_EVICT) is called after
 * the event is added (exit(RECORD_EXIT_EVICT) by default).
 * Mapping to QEMU's MEMORY_FAILURE fields (recipient, action, action-required):
 *   injected AR/memory fault  guest, inject, true     injected AO   guest, inject, false
 *   duplicate, ignored, inject-failed on a guest page: guest, ignore
 *   AO in the VMM's memory    hypervisor, ignore      AR there      hypervisor, fatal, true
 *   recursive: the target vCPU had not finished its previous #MC.
 *
 * Threads: intake_start() and intake_stop() from the thread that created the
 * VM, intake_stop() before vm_destroy() (the intake thread injects through
 * the VM) and intake_destroy() after it (vCPU threads run on its stacks).
 */
#ifndef GMF_VMM_INTAKE_H
#define GMF_VMM_INTAKE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "base/compiler.h"
#include "base/types.h"
#include "vmm/record.h"
#include "vmm/vm.h"

/* AMD MCi_STATUS bits (the kernel's arch/x86/include/asm/mce.h). */
#define MCI_STATUS_DEFERRED	(1ULL << 44)
#define MCI_STATUS_POISON	(1ULL << 43)
/* MCACOD of a memory-scrub error: what QEMU sends for an AO. */
#define MCACOD_SCRUB		0x00c0ULL
/* The bank QEMU injects into (the last of its default 10). */
#define INTAKE_MCE_BANK		9
/* The bank of the record broadcast to the other vCPUs (QEMU's). */
#define INTAKE_BCAST_BANK	1

/* The exit status of a VMM that took an AR in its own memory. */
#define INTAKE_EXIT_VMM_MEMORY	71

#define INTAKE_MAX_EVENTS	256	/* later ones are counted only */

enum intake_kind {
	INTAKE_AR,		/* SIGBUS BUS_MCEERR_AR */
	INTAKE_AO,		/* SIGBUS BUS_MCEERR_AO */
	INTAKE_MEMORY_FAULT,	/* KVM_RUN -1/EHWPOISON, KVM_EXIT_MEMORY_FAULT */
	INTAKE_UNKNOWN,		/* SIGBUS with another si_code */
};

enum intake_action {
	INTAKE_INJECTED,	/* a #MC went into the guest */
	INTAKE_DUPLICATE,	/* page already poisoned: not injected again */
	INTAKE_IGNORED,		/* logged, nothing else */
	INTAKE_FATAL,		/* cfg->fatal() called */
	INTAKE_INJECT_FAILED,	/* KVM_X86_SET_MCE failed (ret) */
};

enum intake_vendor {
	INTAKE_INTEL,
	INTAKE_AMD,
};

struct intake_config {
	FILE *log;			/* NULL: stderr */
	/* Instead of @log when set: one line, no newline. */
	void (*log_fn)(void *arg, const char *line);
	void *log_arg;
	enum intake_vendor vendor;	/* the MCi_STATUS form */
	bool local;			/* no broadcast; LMCES where MCG_CAP has LMCE_P */
	/* An AR in the VMM's own memory; NULL: exit(status). */
	void (*fatal)(void *arg, int status);
	void *fatal_arg;
	struct record *record;		/* NULL: no poison record, no event log */
};

/* The machine check the intake injects for one error. */
struct intake_mce {
	unsigned int bank;
	u64 status, addr, misc, mcg_status;
};

/*
 * The values for an error at @gpa (the table in intake.c: QEMU's), AR (@ar)
 * or AO, in @vendor's form, for a VM with @mcg_cap; MCG_STATUS_LMCES when
 * @local on Intel and @mcg_cap has MCG_LMCE_P. False when nothing is injected
 * (AO on AMD). Pure: no VM needed.
 */
bool intake_mce_values(enum intake_vendor vendor, bool local, u64 mcg_cap, bool ar, u64 gpa,
		       struct intake_mce *out);

/* One error as the intake thread handled it. */
struct intake_event {
	struct timespec time;		/* CLOCK_REALTIME, when handled */
	enum intake_kind kind;
	enum intake_action action;
	int si_code;			/* 0 for a memory fault */
	int lsb;			/* si_addr_lsb, or 12 */
	pid_t tid;			/* the thread the signal or exit came on */
	int from_vcpu;			/* that thread's vCPU, or -1 */
	bool in_guest;			/* gpa and offset are valid */
	u64 hva;			/* si_addr (0 for a memory fault) */
	u64 gpa;
	u64 offset;			/* in the guest memory file */
	int target;			/* the vCPU injected into, or -1 */
	unsigned int bank;
	u64 status, addr, misc, mcg_status;	/* what was injected */
	int ret;			/* vmm_inject_mce()'s */
	bool recursive;			/* the target had not finished its previous #MC */
	int record_ret;			/* record_add()'s or record_event()'s */
	bool evict;			/* the record's threshold asked for eviction */
	bool sea;			/* a KVM_EXIT_ARM_SEA (kind INTAKE_MEMORY_FAULT) */
	u64 esr;			/* its ESR */
};

struct intake;

/*
 * Install the SIGBUS handler (SA_SIGINFO | SA_ONSTACK), a sigaltstack for the
 * calling thread, the VM's hooks (a sigaltstack on every vCPU thread, the
 * hold, the memory-fault path) and start the intake thread. One intake at a
 * time per process (-EBUSY). Before vm_start().
 */
int __must_check intake_start(struct vm *vm, const struct intake_config *cfg,
			      struct intake **out);

/* Stop the intake thread and restore SIGBUS; before vm_destroy(). */
void intake_stop(struct intake *in);

/* Free everything (stops first if needed); after vm_destroy(). */
void intake_destroy(struct intake *in);

/*
 * Host virtual address in the guest memory mapping -> gpa and offset in the
 * guest memory file: 0, or -EFAULT when @hva is not guest memory.
 */
int __must_check intake_translate_hva(const struct vm *vm, const void *hva, u64 *gpa,
				      u64 *offset);

/* Offset in the guest memory file -> gpa: 0, or -ERANGE beyond the file. */
int __must_check intake_translate_offset(const struct vm *vm, u64 offset, u64 *gpa);

/*
 * Queue a memory fault as the vCPU loop does on KVM_RUN -1/EHWPOISON with
 * KVM_EXIT_MEMORY_FAULT (@vcpu the consumer). 0, or -EAGAIN if the queue is full.
 */
int __must_check intake_post_memory_fault(struct intake *in, int vcpu, u64 flags, u64 gpa,
					  u64 size);

/*
 * arm64's KVM_EXIT_ARM_SEA report (flags, esr, gva, gpa of the kvm_run member
 * arm_sea) -> the guest page: 0 and *@out page-aligned; -EINVAL when ESR's EC
 * is neither a data nor an instruction abort from the guest, -ENODATA without
 * KVM_EXIT_ARM_SEA_FLAG_GPA_VALID (the IPA is unknown), -ERANGE outside guest
 * memory [0, @mem_size). Pure; compiled and tested on every arch.
 */
int __must_check intake_sea_gpa(u64 flags, u64 esr, u64 gpa, u64 mem_size, u64 *out);

/*
 * Queue a KVM_EXIT_ARM_SEA of vCPU @vcpu (the aarch64 vCPU loop's hook does;
 * tests call it on x86): handled as a memory-fault exit is (an AR injected
 * into @vcpu, held until then; kind INTAKE_MEMORY_FAULT with ev->sea), or
 * logged and ignored when it names no guest page. Returns intake_sea_gpa()'s
 * verdict (posted either way), or -EAGAIN if the queue is full.
 */
int intake_post_sea(struct intake *in, int vcpu, u64 flags, u64 esr, u64 gva, u64 gpa);

/* Wait until @n events were handled: 0 or -ETIMEDOUT. */
int __must_check intake_wait_events(struct intake *in, unsigned int n, int timeout_ms);

/* Copy up to @max events, oldest first; returns how many were handled in all. */
unsigned int intake_events(struct intake *in, struct intake_event *out, unsigned int max);

/*
 * Run @fn(@arg) on vCPU @vcpu's thread, between two KVM_RUNs (the next exit
 * the guest takes), and wait for it: 0, -ETIMEDOUT (withdrawn if not run) or
 * -EINVAL. For tests: a signal with si_code BUS_MCEERR_AR can only be queued
 * by a thread to itself (rt_tgsigqueueinfo refuses si_code >= 0 to others).
 */
int __must_check intake_run_on_vcpu(struct intake *in, int vcpu, void (*fn)(void *arg),
				    void *arg, int timeout_ms);

/* The thread id of vCPU @vcpu's thread (0 before it started). */
pid_t intake_vcpu_tid(struct intake *in, int vcpu);

/* Records the handler could not queue. */
unsigned long intake_dropped(struct intake *in);

const char *intake_kind_name(enum intake_kind kind);
const char *intake_action_name(enum intake_action action);

/* One page replaced at a guest reset (intake_guest_reset()). */
struct intake_repair {
	u64 gpa, offset;
	int punch_ret;			/* vm_punch_page()'s: 0, or still poisoned */
	int record_ret;			/* record_repair()'s (0 without a record) */
};

/*
 * The guest is being reset; call with its vCPUs stopped (vm_stop()), before
 * vm_reset(). On the intake thread, after the errors already queued: every
 * page the intake knows poisoned (the errors it handled, intake_mark_poisoned())
 * is punched out of the guest memory file (vm_punch_page(): a fresh page on
 * next touch), forgotten (a new error on it is injected again, an AO is no
 * duplicate) and marked repaired in cfg->record (record_repair(), which logs
 * a REPAIR event); one log line each. The #MCs injected and not yet reported
 * are forgotten with the old guest. Up to @max pages go to @out; returns the
 * number of poisoned pages found (punched or not), or -ESRCH after
 * intake_stop(). One caller at a time.
 */
int intake_guest_reset(struct intake *in, struct intake_repair *out, unsigned int max);

/*
 * A whole guest reset, on the thread that controls the VM (vm.h), the same
 * whoever asked for it (an operator's `gmf vmm reset`; the guest: a triple
 * fault, port 0xcf9 or 0x64, vm_reset_request()): vm_stop(),
 * intake_guest_reset() (up to @max repaired pages to @out), vm_reset()
 * (which serves the guest's request), vm_start(). Returns the number of
 * poisoned pages found (punched or not, as intake_guest_reset()); or -errno
 * with @why, the vCPUs left stopped: -ESRCH after intake_stop(), or
 * vm_reset()'s or vm_start()'s error.
 */
int intake_system_reset(struct intake *in, struct intake_repair *out, unsigned int max,
			char *why, size_t len);

/*
 * A page known poisoned from before (the record, after a restart or a live
 * update): a later AO on it is a duplicate, not injected again. Any thread;
 * 0, or -ERANGE beyond guest memory.
 */
int intake_mark_poisoned(struct intake *in, u64 gpa);

#endif
