/* SPDX-License-Identifier: MIT */
/*
 * A small VMM on real KVM: one VM, its vCPUs each on a thread of its own,
 * guest memory from guest_memfd (KVM_CREATE_GUEST_MEMFD with
 * GUEST_MEMFD_FLAG_MMAP, bound with KVM_SET_USER_MEMORY_REGION2, its mmap as
 * userspace_addr) or from a memfd where guest_memfd is missing, machine-check
 * banks set up with KVM_X86_SETUP_MCE, and the payload of vmm/guest/ started
 * in 64-bit long mode.
 *
 * The payload reports its workload's progress and every #MC it takes (the
 * MSRs its handler read) over I/O ports; the vCPU threads collect the reports
 * and vm_wait_*() wait for them. vmm_inject_mce() injects a machine check
 * with KVM_X86_SET_MCE.
 *
 * A guest asks for a machine reset with a triple fault (KVM_EXIT_SHUTDOWN),
 * an OUT to the reset control register (port 0xcf9, RST_CPU set) or the
 * keyboard controller's pulse reset (0xfe to port 0x64), as a PC: the vCPU
 * stops (VCPU_RESET), every other vCPU is asked to stop at its next exit,
 * the request is kept (vm_reset_request()) and the reset handler is called;
 * the controlling thread then resets the guest (vm_reset(), which serves the
 * request; intake_system_reset() with the intake's repair).
 *
 * Threads: vm_create(), vm_start(), vm_stop(), vm_reset() and vm_destroy()
 * from one controlling thread (a guest reset is vm_stop(), vm_reset(),
 * vm_start()); the vm_wait_*(), vm_vcpu_*(), vm_reset_request(),
 * vm_guest_request() and vmm_inject_mce() calls from any thread while the VM
 * runs.
 */
#ifndef GMF_VMM_VM_H
#define GMF_VMM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/compiler.h"
#include "base/types.h"

/* MCG_CAP, MCG_STATUS and MCi_STATUS bits (Intel SDM vol. 3B, 16.3). */
#define MCG_BANKCNT_MASK	0xffULL
#define MCG_CTL_P		(1ULL << 8)
#define MCG_SER_P		(1ULL << 24)
#define MCG_LMCE_P		(1ULL << 27)	/* local machine check offered */
#define MCG_STATUS_RIPV		(1ULL << 0)
#define MCG_STATUS_EIPV		(1ULL << 1)
#define MCG_STATUS_MCIP		(1ULL << 2)
#define MCG_STATUS_LMCES	(1ULL << 3)	/* this #MC went to this CPU only */
#define MCI_STATUS_VAL		(1ULL << 63)
#define MCI_STATUS_OVER		(1ULL << 62)
#define MCI_STATUS_UC		(1ULL << 61)
#define MCI_STATUS_EN		(1ULL << 60)
#define MCI_STATUS_MISCV	(1ULL << 59)
#define MCI_STATUS_ADDRV	(1ULL << 58)
#define MCI_STATUS_PCC		(1ULL << 57)
#define MCI_STATUS_S		(1ULL << 56)
#define MCI_STATUS_AR		(1ULL << 55)
/* MCi_MISC: bits 5:0 the lsb of the address, 8:6 the address mode. */
#define MCI_MISC_ADDR_PHYS	2ULL
#define MCI_MISC(mode, lsb)	(((u64)(mode) << 6) | ((u64)(lsb) & 0x3f))
/* MCACOD of a data-cache load error (what Linux calls MCACOD_DATA). */
#define MCACOD_DATA		0x0134ULL

#define VMM_MAX_VCPUS		4
#define VMM_MAX_BANKS		32	/* KVM_MAX_MCE_BANKS */
#define VMM_MAX_REPORTS		16	/* per vCPU; later ones are counted only */
/* A vCPU held by its hold hook asks it again at least this often (a guard only). */
#define VMM_HOLD_GUARD_MS	100

enum vmm_mem_kind {
	VMM_MEM_AUTO,		/* guest_memfd when the kernel has it, else memfd */
	VMM_MEM_GUEST_MEMFD,	/* guest_memfd, or vm_create() fails */
	VMM_MEM_MEMFD,		/* memfd_create(), a plain memslot */
};

struct vm_config {
	u64 mem_size;		/* bytes, a multiple of 2M, >= GUEST_MEM_MIN; 0: 4M */
	int nr_vcpus;		/* 1..VMM_MAX_VCPUS; 0: 1 */
	enum vmm_mem_kind mem;
	/*
	 * Live update (issue 8 §5): with @inherit set, the guest memory is the
	 * open fd @mem_fd (a memfd, or a guest_memfd when @mem says so) of
	 * @mem_size bytes, inherited across exec; vm_create() takes it over
	 * (sets FD_CLOEXEC, closes it on failure or in vm_destroy()), maps and
	 * binds it and loads nothing: no payload, no page tables, no zeroing.
	 * The vCPUs start at the payload's entry on the memory as it is.
	 */
	bool inherit;
	int mem_fd;
	/*
	 * Local machine checks (Intel LMCE): MCG_CAP gets MCG_LMCE_P; vm_create()
	 * fails with -EOPNOTSUPP, naming it, when KVM_X86_GET_MCE_CAP_SUPPORTED
	 * does not offer it.
	 */
	bool lmce;
};

/*
 * Hooks the error intake (vmm/intake.c) sets with vm_set_hooks() before
 * vm_start(); each runs on the vCPU thread named by @vcpu.
 *   thread_start  first thing on the thread (its sigaltstack, its identity);
 *   hold          before each KVM_RUN, with no lock held, without waiting:
 *                 true to hold the vCPU out of the guest. vm.c then waits on
 *                 the vCPU's own lock until a request is posted (and handles
 *                 it), a stop, or vm_vcpu_wake(), and asks again; so an error
 *                 the vCPU consumed is injected before it re-runs. Whoever
 *                 makes the hook's answer false must call vm_vcpu_wake();
 *   run_failed    KVM_RUN failed with @err other than EINTR/EAGAIN; @run is
 *                 the vCPU's struct kvm_run. True when the hook took it (the
 *                 vCPU goes on), false to stop the vCPU as VCPU_FAILED;
 *   exit          KVM_RUN returned an exit vm.c does not handle itself (not
 *                 IO, SHUTDOWN or INTR; @run the struct kvm_run): true when
 *                 the hook took it (the vCPU goes on), false to stop the
 *                 vCPU as VCPU_FAILED (arm64's KVM_EXIT_ARM_SEA, intake.c);
 *   thread_exit   last thing on the thread (vm_stop(), a reset's restart
 *                 makes a new one): undo what thread_start did.
 */
struct vm_hooks {
	void (*thread_start)(void *arg, int vcpu);
	bool (*exit)(void *arg, int vcpu, const void *run);
	void (*thread_exit)(void *arg, int vcpu);
	bool (*hold)(void *arg, int vcpu);
	bool (*run_failed)(void *arg, int vcpu, int err, const void *run);
};

/* What the guest's #MC handler read, in the order it read it. */
struct vmm_mce_report {
	u64 mcg_cap;
	u64 mcg_status;
	unsigned int nr_banks;
	struct {
		u64 status, addr, misc;
	} bank[VMM_MAX_BANKS];
};

/* Why a vCPU thread stopped running its guest. */
enum vcpu_stop {
	VCPU_RUNNING,
	VCPU_STOPPED,		/* vm_stop() asked it to (or another vCPU's reset) */
	VCPU_UNEXPECTED,	/* the guest took an exception other than #MC */
	VCPU_RESET,		/* the guest asked for a reset (enum vm_reset_cause) */
	VCPU_FAILED,		/* KVM_RUN failed or an exit we do not handle */
};

/* How the guest asked for a reset. */
enum vm_reset_cause {
	VM_RESET_NONE,
	VM_RESET_TRIPLE_FAULT,	/* KVM_EXIT_SHUTDOWN (e.g. a #MC while MCIP was set) */
	VM_RESET_PORT_CF9,	/* OUT to port 0xcf9 with RST_CPU (0x04) set */
	VM_RESET_PORT_KBC,	/* OUT of 0xfe to port 0x64 (keyboard controller) */
};

/* A guest's reset request: the first since the last vm_reset(). */
struct vm_reset_request {
	enum vm_reset_cause cause;	/* VM_RESET_NONE: none pending */
	int vcpu;			/* the vCPU that asked */
	u32 value;			/* the byte written (the port causes) */
	unsigned int nr;		/* requests since the last vm_reset(), this one included */
};

/*
 * Called on the vCPU thread that took the request, with no lock held, after
 * the request is kept; @req is the vCPU's own (its cause, vcpu and value),
 * nr counting it. The vCPU thread then ends. Not for doing the reset (that
 * joins this very thread): wake the controlling thread.
 */
typedef void (*vm_reset_fn)(void *arg, const struct vm_reset_request *req);

struct vm;
struct vcpu;

/*
 * Create the VM, its memory, its vCPUs (registers, CPUID, MCE banks) and load
 * the payload; no thread runs yet. 0 and *@out, or -errno with @why saying
 * which step failed (-ENODEV without /dev/kvm, -EOPNOTSUPP when @cfg asks for
 * guest_memfd and there is none).
 */
int __must_check vm_create(const struct vm_config *cfg, struct vm **out, char *why, size_t len);

/* Start one thread per vCPU, each looping on KVM_RUN. */
int __must_check vm_start(struct vm *vm);

/*
 * Stop the vCPU threads, kicking them out of KVM_RUN, and join them; guest
 * memory and the vCPU state stay readable. Each stops as VCPU_STOPPED.
 */
void vm_stop(struct vm *vm);

/* vm_stop(), then free everything. */
void vm_destroy(struct vm *vm);

/*
 * Guest reset, with the vCPUs stopped (vm_stop(); -EBUSY otherwise): reload
 * the GDT, page tables and payload, zero the workload's pass counters and
 * requests, put every vCPU back at the payload's entry state (registers,
 * MCG_STATUS and every MCi_STATUS 0, no pending exception, interrupt or NMI,
 * runnable) and make it ready for vm_start() again (progress 0; its #MC
 * reports are kept). A reset request of the guest is served: cleared
 * (vm_reset_request() says none). 0, or -errno with @why.
 */
int __must_check vm_reset(struct vm *vm, char *why, size_t len);

/*
 * The guest's pending reset request into *@req (may be NULL): true when
 * there is one (not yet served by vm_reset()).
 */
bool vm_reset_request(struct vm *vm, struct vm_reset_request *req);

/*
 * Wait until the guest asked for a reset not yet served: 0 and *@req (may be
 * NULL), or -ETIMEDOUT.
 */
int __must_check vm_wait_reset_request(struct vm *vm, struct vm_reset_request *req,
				       int timeout_ms);

/* Set the reset handler (may be NULL) and its argument; before vm_start(). */
void vm_set_reset_handler(struct vm *vm, vm_reset_fn fn, void *arg);

/* "triple fault (KVM_EXIT_SHUTDOWN)", "port 0xcf9 (reset control register)", ... */
const char *vm_reset_cause_name(enum vm_reset_cause cause);

/*
 * Ask the payload on @vcpu to do @req (GUEST_REQ_*, vmm/guest/layout.h): it
 * reads its request qword after each pass of its workload. 0, or -EINVAL.
 */
int __must_check vm_guest_request(struct vm *vm, int vcpu, u64 req);

/*
 * Punch the 4K page at @offset out of the guest memory file
 * (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE on the guest_memfd or memfd):
 * KVM and the VMM's mapping drop it, the next touch allocates a fresh zeroed
 * page. 0, -ERANGE beyond guest memory, or fallocate()'s -errno.
 */
int __must_check vm_punch_page(struct vm *vm, u64 offset);

struct vcpu *vm_vcpu(struct vm *vm, int index);

/* The number of vCPUs. */
int vm_nr_vcpus(const struct vm *vm);

/* Set the hooks (copied) and their argument; before vm_start(). */
void vm_set_hooks(struct vm *vm, const struct vm_hooks *hooks, void *arg);

/* Which memory backs the guest: VMM_MEM_GUEST_MEMFD or VMM_MEM_MEMFD. */
enum vmm_mem_kind vm_mem_kind(const struct vm *vm);

/* The fd of the guest memory (the VM owns it; dup() it to keep it). */
int vm_mem_fd(const struct vm *vm);

/* The host mapping of guest physical memory (gpa 0), its size. */
void *vm_mem(const struct vm *vm);
u64 vm_mem_size(const struct vm *vm);

/* The MCG_CAP given to KVM_X86_SETUP_MCE. */
u64 vm_mcg_cap(const struct vm *vm);

/*
 * The MCG_CAP for KVM_X86_SETUP_MCE from what KVM offers (@supported, from
 * KVM_X86_GET_MCE_CAP_SUPPORTED; @max_banks, from KVM_CAP_MCE): its bank
 * count (at most VMM_MAX_BANKS), MCG_CTL_P and MCG_SER_P if offered, and
 * MCG_LMCE_P with @lmce. 0 and *@cap, or -EOPNOTSUPP with @why (no
 * KVM_CAP_MCE; @lmce and no MCG_LMCE_P offered).
 */
int __must_check vm_mce_cap(u64 supported, int max_banks, bool lmce, u64 *cap, char *why,
			    size_t len);

/*
 * Wait until @vcpu's workload has reported pass @pass or later (0), its
 * thread stopped (-ESRCH) or @timeout_ms passed (-ETIMEDOUT).
 */
int __must_check vm_wait_progress(struct vcpu *vcpu, u64 pass, int timeout_ms);

/* The last pass @vcpu's workload reported, and the number of bad read-backs. */
u64 vm_vcpu_progress(struct vcpu *vcpu);
u64 vm_vcpu_bad_reads(struct vcpu *vcpu);

/* Why @vcpu's thread stopped (VCPU_RUNNING while it runs), with KVM's exit reason. */
enum vcpu_stop vm_vcpu_stop_reason(struct vcpu *vcpu, u32 *exit_reason);

/*
 * Wait for @vcpu's guest to have completed its report of #MC number @nth
 * (0 the first) and copy it into @r: 0, -ESRCH when the thread stopped
 * first, -ETIMEDOUT, or -ENOSPC when @nth >= VMM_MAX_REPORTS.
 */
int __must_check vm_wait_mce_report(struct vcpu *vcpu, unsigned int nth,
				    struct vmm_mce_report *r, int timeout_ms);

/*
 * Make a vCPU held by its hold hook ask the hook again now; any thread, any
 * time (a vCPU that is not held ignores it).
 */
void vm_vcpu_wake(struct vcpu *vcpu);

/* Completed #MC reports so far. */
unsigned int vm_vcpu_nr_mce_reports(struct vcpu *vcpu);

/*
 * For make bench (bench/bench_vmm.c): completed #MC reports so far, and in
 * *@ts the CLOCK_MONOTONIC time the VMM saw the first OUT of the last one
 * (the guest's #MC handler running); zero before any.
 */
unsigned int vm_vcpu_mce_report_time(struct vcpu *vcpu, struct timespec *ts);

/*
 * Inject a machine check into @vcpu with KVM_X86_SET_MCE: MCi_STATUS,
 * MCi_ADDR, MCi_MISC of @bank and MCG_STATUS. The ioctl runs on the vCPU's
 * own thread between two KVM_RUNs (it is kicked out of the guest) when the
 * thread runs; directly otherwise. Returns the ioctl's 0 or -errno, -EINVAL
 * for a bank beyond MCG_CAP's count, -ESRCH when the thread stopped first.
 */
int __must_check vmm_inject_mce(struct vcpu *vcpu, unsigned int bank, u64 status, u64 addr,
				u64 misc, u64 mcg_status);

/*
 * vmm_inject_mce() for a caller that knows @vcpu's thread is held out of
 * KVM_RUN by its hold hook, and stays held until the caller releases it: the
 * ioctl runs on the calling thread at once (no request, no wake-up of the
 * vCPU thread). 0 or -errno, -EINVAL for a bank beyond MCG_CAP's count.
 */
int __must_check vmm_inject_mce_held(struct vcpu *vcpu, unsigned int bank, u64 status, u64 addr,
				     u64 misc, u64 mcg_status);

#endif
