// SPDX-License-Identifier: MIT
/*
 * A small VMM on real KVM (see vm.h).
 *
 * The VM is a KVM_X86_DEFAULT_VM. Its guest_memfd is created with
 * GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED: every page is shared,
 * the VMM writes the payload and page tables through the file's own mmap, and
 * the guest faults its memory in from the same file (a guest_memfd-only
 * memslot). A KVM_X86_SW_PROTECTED_VM would make the pages private by
 * default, so the VMM could not load them through the mapping, and
 * INIT_SHARED is refused on a VM with private memory; the default type is
 * what gives a running guest on guest_memfd memory.
 *
 * Each vCPU thread loops on KVM_RUN. Anything another thread wants done on a
 * vCPU (injecting a #MC, stopping) is posted under the vCPU's lock, then the
 * vCPU is kicked: run->immediate_exit is set, so a KVM_RUN about to start
 * returns at once, and a signal interrupts one already in the guest. The
 * thread handles the request between two KVM_RUNs, where vCPU ioctls do not
 * wait for KVM_RUN's vcpu->mutex. A vCPU its hold hook keeps out of the guest
 * waits on that same lock and cond (hold_wait()), so a posted request wakes
 * it as well, and vm_vcpu_wake() releases it.
 *
 * A guest reset (vm_reset()) is done with the threads joined: the payload
 * reloaded, the vCPUs' registers, machine-check MSRs and pending events
 * reset, then vm_start() makes new threads. A reset the guest asks for (a
 * triple fault, port 0xcf9, port 0x64) ends its vCPU's thread; that thread
 * keeps the request under vm->reset_lock, asks the other vCPUs to stop
 * (stop_requested and immediate_exit, no signal: the controlling thread may
 * be joining them) and calls the reset handler, which wakes the controlling
 * thread to do the reset.
 */
#define _GNU_SOURCE	/* memfd_create(), fallocate() */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "base/err.h"
#include "base/types.h"
#include "vmm/guest/layout.h"
#include "vmm/kvm_uapi.h"
#include "vmm/vm.h"

/* The payload, built from vmm/guest/guest.S and embedded by vmm/guest/blob.S. */
extern const u8 vmm_guest_bin_start[];
extern const u8 vmm_guest_bin_end[];

/* Control registers and EFER for 64-bit paging (Intel SDM vol. 3A, 2.5). */
#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_MP	(1ULL << 1)
#define X86_CR0_ET	(1ULL << 4)
#define X86_CR0_NE	(1ULL << 5)
#define X86_CR0_WP	(1ULL << 16)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define X86_CR4_MCE	(1ULL << 6)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)
#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_PS		(1ULL << 7)
#define VMM_PAGE_SIZE		0x1000ULL
#define MSR_IA32_MCG_STATUS	0x17a
#define MSR_IA32_MC0_STATUS	0x401	/* MCi_STATUS: + 4 * i */

#define VMM_KICK_SIGNAL	SIGUSR1

struct mce_req {
	struct kvm_x86_mce mce;
	int ret;
	bool posted, done;
};

struct vcpu {
	struct vm *vm;
	int index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* any change below */
	bool stop_requested;
	u64 wake_seq;			/* vm_vcpu_wake() calls */
	enum vcpu_stop stop;
	u32 exit_reason;
	u64 progress;
	u64 bad_reads;
	struct mce_req req;

	/* The report being received (vCPU thread only), then the completed ones. */
	u32 words[2 + 3 * VMM_MAX_BANKS][2];
	unsigned int nwords;
	struct vmm_mce_report reports[VMM_MAX_REPORTS];
	unsigned int nr_reports;
	/* CLOCK_MONOTONIC at the first OUT of the report being received, of the last completed one. */
	struct timespec report_start, last_report_start;
};

struct vm {
	int kvm, fd;
	int mem_fd;
	enum vmm_mem_kind mem_kind;
	u8 *mem;
	u64 mem_size;
	u64 mcg_cap;
	int nr_vcpus;
	int nr_created;		/* vcpus[] whose lock and fd vm_free() releases */
	struct vm_hooks hooks;
	void *hooks_arg;
	vm_reset_fn reset_fn;
	void *reset_arg;
	pthread_mutex_t reset_lock;
	pthread_cond_t reset_cond;	/* reset_req changed */
	struct vm_reset_request reset_req;
	struct vcpu vcpus[VMM_MAX_VCPUS];
};

static __printf(4, 5) int fail(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -err;
}

#define FAIL(what) fail(why, len, errno, "%s: %s", what, strerror(errno))

/* ---- memory ------------------------------------------------------------------ */

static int create_gmem_memory(struct vm *vm, char *why, size_t len)
{
	u64 want = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	struct uapi_create_guest_memfd args = { .size = vm->mem_size, .flags = want };
	long flags;

	if (ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY2) <= 0 ||
	    ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) <= 0)
		return fail(why, len, EOPNOTSUPP, "no KVM_CAP_GUEST_MEMFD");
	flags = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (flags < 0 || ((u64)flags & want) != want)
		return fail(why, len, EOPNOTSUPP,
			    "guest_memfd lacks MMAP|INIT_SHARED (KVM_CAP_GUEST_MEMFD_FLAGS %#lx)",
			    flags);
	vm->mem_fd = ioctl(vm->fd, KVM_CREATE_GUEST_MEMFD, &args);
	if (vm->mem_fd < 0)
		return FAIL("KVM_CREATE_GUEST_MEMFD");
	vm->mem_kind = VMM_MEM_GUEST_MEMFD;
	return 0;
}

static int create_memfd_memory(struct vm *vm, char *why, size_t len)
{
	vm->mem_fd = memfd_create("gmf-guest", MFD_CLOEXEC);
	if (vm->mem_fd < 0)
		return FAIL("memfd_create");
	if (ftruncate(vm->mem_fd, (off_t)vm->mem_size) < 0)
		return FAIL("ftruncate memfd");
	vm->mem_kind = VMM_MEM_MEMFD;
	return 0;
}

static int bind_memory(struct vm *vm, char *why, size_t len)
{
	struct uapi_userspace_memory_region2 r2 = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem_size,
		.userspace_addr = (u64)(unsigned long)vm->mem,
	};
	struct kvm_userspace_memory_region r1 = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem_size,
		.userspace_addr = (u64)(unsigned long)vm->mem,
	};

	if (vm->mem_kind == VMM_MEM_GUEST_MEMFD) {
		r2.flags = KVM_MEM_GUEST_MEMFD;
		r2.guest_memfd = (u32)vm->mem_fd;
		r2.guest_memfd_offset = 0;
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r2) < 0)
			return FAIL("KVM_SET_USER_MEMORY_REGION2");
		return 0;
	}
	if (ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY2) > 0) {
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r2) < 0)
			return FAIL("KVM_SET_USER_MEMORY_REGION2");
		return 0;
	}
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r1) < 0)
		return FAIL("KVM_SET_USER_MEMORY_REGION");
	return 0;
}

/* Live update: the memory fd came over exec; check it, keep its contents. */
static int inherit_memory(struct vm *vm, const struct vm_config *cfg, char *why, size_t len)
{
	struct stat st;

	vm->mem_fd = cfg->mem_fd;
	vm->mem_kind = cfg->mem == VMM_MEM_GUEST_MEMFD ? VMM_MEM_GUEST_MEMFD : VMM_MEM_MEMFD;
	if (fcntl(vm->mem_fd, F_SETFD, FD_CLOEXEC) < 0)
		return FAIL("inherited guest memory fd");
	if (fstat(vm->mem_fd, &st) < 0)
		return FAIL("fstat inherited guest memory fd");
	if ((u64)st.st_size != vm->mem_size)
		return fail(why, len, EINVAL, "inherited guest memory fd has %lld bytes, not %#llx",
			    (long long)st.st_size, (unsigned long long)vm->mem_size);
	return 0;
}

static int setup_memory(struct vm *vm, const struct vm_config *cfg, char *why, size_t len)
{
	enum vmm_mem_kind kind = cfg ? cfg->mem : VMM_MEM_AUTO;
	int ret;

	if (cfg && cfg->inherit)
		ret = inherit_memory(vm, cfg, why, len);
	else if (kind == VMM_MEM_MEMFD)
		ret = create_memfd_memory(vm, why, len);
	else {
		ret = create_gmem_memory(vm, why, len);
		if (ret == -EOPNOTSUPP && kind == VMM_MEM_AUTO)
			ret = create_memfd_memory(vm, why, len);
	}
	if (ret)
		return ret;
	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->mem_fd, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		return FAIL("mmap guest memory");
	}
	return bind_memory(vm, why, len);
}

/* GDT, identity-mapped page tables for the first 1G, and the payload. */
static int load_guest(struct vm *vm, char *why, size_t len)
{
	size_t size = (size_t)(vmm_guest_bin_end - vmm_guest_bin_start);
	u64 *gdt = (u64 *)(vm->mem + GUEST_GDT_GPA);
	u64 *pml4 = (u64 *)(vm->mem + GUEST_PML4_GPA);
	u64 *pdpt = (u64 *)(vm->mem + GUEST_PDPT_GPA);
	u64 *pd = (u64 *)(vm->mem + GUEST_PD_GPA);

	if (size > GUEST_CODE_MAX)
		return fail(why, len, E2BIG, "payload is %zu bytes, more than %#x", size,
			    GUEST_CODE_MAX);
	gdt[0] = 0;
	gdt[GUEST_CS / 8] = 0x00af9a000000ffffULL;	/* code: P, DPL 0, L, G */
	gdt[GUEST_DS / 8] = 0x00cf92000000ffffULL;	/* data: P, DPL 0, RW, D/B, G */
	pml4[0] = GUEST_PDPT_GPA | PTE_P | PTE_RW;
	pdpt[0] = GUEST_PD_GPA | PTE_P | PTE_RW;
	for (u64 i = 0; i < 512; i++)
		pd[i] = (i * (2 * SZ_1M)) | PTE_P | PTE_RW | PTE_PS;
	memcpy(vm->mem + GUEST_CODE_GPA, vmm_guest_bin_start, size);
	return 0;
}

/* ---- vCPUs ------------------------------------------------------------------- */

static void set_seg(struct kvm_segment *s, u16 sel, u8 type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

static int setup_cpuid(struct vm *vm, struct vcpu *vcpu, char *why, size_t len)
{
	int nent = 256, ret = 0;
	struct kvm_cpuid2 *cpuid;

	cpuid = kzalloc(sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]), GFP_KERNEL);
	if (!cpuid)
		return fail(why, len, ENOMEM, "no memory for CPUID");
	cpuid->nent = (u32)nent;
	if (ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		ret = FAIL("KVM_GET_SUPPORTED_CPUID");
	else if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
		ret = FAIL("KVM_SET_CPUID2");
	kfree(cpuid);
	return ret;
}

static int setup_regs(struct vcpu *vcpu, char *why, size_t len)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return FAIL("KVM_GET_SREGS");
	set_seg(&sregs.cs, GUEST_CS, 11, true);		/* execute/read, accessed */
	set_seg(&sregs.ds, GUEST_DS, 3, false);		/* read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	/* VM entry wants a usable busy 64-bit TSS, never loaded by this guest. */
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.limit = 0x67;
	sregs.tr.type = 11;
	sregs.tr.present = 1;
	sregs.gdt.base = GUEST_GDT_GPA;
	sregs.gdt.limit = 3 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	sregs.cr3 = GUEST_PML4_GPA;
	sregs.cr4 = X86_CR4_PAE | X86_CR4_MCE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return FAIL("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_CODE_GPA;
	/* A stack per vCPU: two #MC handlers at once must not share one. */
	regs.rsp = GUEST_STACK_TOP - (u64)vcpu->index * GUEST_STACK_SIZE;
	regs.rflags = 0x2;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return FAIL("KVM_SET_REGS");
	return 0;
}

int vm_mce_cap(u64 supported, int max_banks, bool lmce, u64 *cap, char *why, size_t len)
{
	u64 banks;

	if (max_banks <= 0)
		return fail(why, len, EOPNOTSUPP, "no KVM_CAP_MCE");
	if (lmce && !(supported & MCG_LMCE_P))
		return fail(why, len, EOPNOTSUPP,
			    "KVM does not offer MCG_LMCE_P (MCG_CAP bit 27) in KVM_X86_GET_MCE_CAP_SUPPORTED (%#llx): no local machine check (LMCE) for the guest",
			    (unsigned long long)supported);
	/*
	 * KVM reports its bank limit through KVM_CAP_MCE (as QEMU reads it); the
	 * supported MCG_CAP carries a count too where a kernel fills one in.
	 */
	banks = supported & MCG_BANKCNT_MASK ? supported & MCG_BANKCNT_MASK : (u64)max_banks;
	banks = min(banks, (u64)VMM_MAX_BANKS);
	*cap = banks | (supported & (MCG_CTL_P | MCG_SER_P)) | (lmce ? MCG_LMCE_P : 0);
	return 0;
}

static int setup_mce_cap(struct vm *vm, bool lmce, char *why, size_t len)
{
	int max_banks = ioctl(vm->kvm, KVM_CHECK_EXTENSION, KVM_CAP_MCE);
	u64 sup = 0;

	if (max_banks > 0 && ioctl(vm->kvm, KVM_X86_GET_MCE_CAP_SUPPORTED, &sup) < 0)
		return FAIL("KVM_X86_GET_MCE_CAP_SUPPORTED");
	return vm_mce_cap(sup, max_banks, lmce, &vm->mcg_cap, why, len);
}

static int create_vcpu(struct vm *vm, int index, char *why, size_t len)
{
	struct vcpu *vcpu = &vm->vcpus[index];
	long run_size;
	int ret;

	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->stop = VCPU_RUNNING;
	pthread_mutex_init(&vcpu->lock, NULL);
	pthread_cond_init(&vcpu->cond, NULL);
	vm->nr_created = index + 1;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, index);
	if (vcpu->fd < 0)
		return FAIL("KVM_CREATE_VCPU");
	run_size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (long)sizeof(struct kvm_run))
		return FAIL("KVM_GET_VCPU_MMAP_SIZE");
	vcpu->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return FAIL("mmap kvm_run");
	}
	vcpu->run_size = (size_t)run_size;
	ret = setup_cpuid(vm, vcpu, why, len);
	if (!ret)
		ret = setup_regs(vcpu, why, len);
	if (ret)
		return ret;
	if (ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &vm->mcg_cap) < 0)
		return FAIL("KVM_X86_SETUP_MCE");
	return 0;
}

/* ---- the vCPU thread --------------------------------------------------------- */

static void deadline_after(struct timespec *ts, int timeout_ms);

static void kick_handler(int sig)
{
}

static void kick(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, VMM_KICK_SIGNAL);
}

/* Lock held. */
static void stop_locked(struct vcpu *vcpu, enum vcpu_stop why, u32 exit_reason)
{
	vcpu->stop = why;
	vcpu->exit_reason = exit_reason;
	if (vcpu->req.posted && !vcpu->req.done) {
		vcpu->req.ret = -ESRCH;
		vcpu->req.done = true;
	}
	pthread_cond_broadcast(&vcpu->cond);
}

static int do_set_mce(struct vcpu *vcpu, struct kvm_x86_mce *mce)
{
	return ioctl(vcpu->fd, KVM_X86_SET_MCE, mce) < 0 ? -errno : 0;
}

/* One 32-bit OUT on PORT_MCE; two make a value of the report. */
static void mce_word(struct vcpu *vcpu, u32 v)
{
	unsigned int i = vcpu->nwords / 2;

	if (!vcpu->nwords)
		clock_gettime(CLOCK_MONOTONIC, &vcpu->report_start);
	if (i < ARRAY_SIZE(vcpu->words))
		vcpu->words[i][vcpu->nwords % 2] = v;
	vcpu->nwords++;
}

static u64 word64(const struct vcpu *vcpu, unsigned int i)
{
	return (u64)vcpu->words[i][0] | (u64)vcpu->words[i][1] << 32;
}

/* PORT_MCE_END: turn the words into a report. Lock held. */
static void mce_end(struct vcpu *vcpu, u32 nr_banks)
{
	struct vmm_mce_report r;
	unsigned int n = vcpu->nwords / 2;

	memset(&r, 0, sizeof(r));
	if (n >= 2) {
		r.mcg_cap = word64(vcpu, 0);
		r.mcg_status = word64(vcpu, 1);
	}
	r.nr_banks = min(nr_banks, (u32)VMM_MAX_BANKS);
	for (unsigned int b = 0; b < r.nr_banks && 2 + 3 * b + 2 < n; b++) {
		r.bank[b].status = word64(vcpu, 2 + 3 * b);
		r.bank[b].addr = word64(vcpu, 3 + 3 * b);
		r.bank[b].misc = word64(vcpu, 4 + 3 * b);
	}
	if (vcpu->nr_reports < VMM_MAX_REPORTS)
		vcpu->reports[vcpu->nr_reports] = r;
	vcpu->nr_reports++;
	vcpu->last_report_start = vcpu->report_start;
	vcpu->nwords = 0;
	pthread_cond_broadcast(&vcpu->cond);
}

/*
 * The PC's reset ports: an OUT to the reset control register with RST_CPU,
 * or the keyboard controller's pulse reset, is a reset request (*@reset);
 * any other value written there is ignored, and both read as 0 (no reset
 * bit; the controller's buffers empty). False when @port is neither.
 */
static bool reset_port(struct kvm_run *run, u8 *data, struct vm_reset_request *reset)
{
	u8 v = data[0];

	if (run->io.port != PORT_RESET_CONTROL && run->io.port != PORT_KBC_COMMAND)
		return false;
	if (run->io.direction == KVM_EXIT_IO_IN) {
		memset(data, 0, run->io.size);
		return true;
	}
	if (run->io.port == PORT_RESET_CONTROL && (v & RESET_CONTROL_RST_CPU))
		reset->cause = VM_RESET_PORT_CF9;
	else if (run->io.port == PORT_KBC_COMMAND && v == KBC_PULSE_RESET)
		reset->cause = VM_RESET_PORT_KBC;
	reset->value = v;
	return true;
}

/*
 * KVM_EXIT_IO. Returns false when the guest stopped for good (for a reset
 * request, *@reset says which). Lock held.
 */
static bool handle_io(struct vcpu *vcpu, struct vm_reset_request *reset)
{
	struct kvm_run *run = vcpu->run;
	u8 *data = (u8 *)run + run->io.data_offset;
	u32 v = 0;

	if (run->io.count == 1 && (run->io.size == 1 || run->io.size == 2 || run->io.size == 4) &&
	    reset_port(run, data, reset)) {
		if (reset->cause == VM_RESET_NONE)
			return true;
		stop_locked(vcpu, VCPU_RESET, KVM_EXIT_IO);
		return false;
	}
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 || run->io.count != 1) {
		stop_locked(vcpu, VCPU_FAILED, KVM_EXIT_IO);
		return false;
	}
	memcpy(&v, data, sizeof(v));
	switch (run->io.port) {
	case PORT_PROGRESS:
		vcpu->progress = v;
		pthread_cond_broadcast(&vcpu->cond);
		return true;
	case PORT_BAD:
		vcpu->bad_reads++;
		return true;
	case PORT_MCE:
		mce_word(vcpu, v);
		return true;
	case PORT_MCE_END:
		mce_end(vcpu, v);
		return true;
	case PORT_UNEXPECTED:
		fprintf(stderr, "vmm: vcpu %d: unexpected guest exception, vector %u\n",
			vcpu->index, v);
		stop_locked(vcpu, VCPU_UNEXPECTED, KVM_EXIT_IO);
		return false;
	default:
		stop_locked(vcpu, VCPU_FAILED, KVM_EXIT_IO);
		return false;
	}
}

/*
 * Held (the hold hook said so): wait on the vCPU's own lock until a request
 * is posted (vmm_inject_mce(): the hook's owner may be waiting for it to be
 * done before it releases the vCPU), a stop, or a vm_vcpu_wake() since @seq.
 * Waiting anywhere else would leave a posted request undone until a timeout.
 * The timeout is a guard only: every release comes with a wake.
 */
static void hold_wait(struct vcpu *vcpu, u64 seq)
{
	struct timespec ts;

	deadline_after(&ts, VMM_HOLD_GUARD_MS);
	pthread_mutex_lock(&vcpu->lock);
	while (!vcpu->stop_requested && !(vcpu->req.posted && !vcpu->req.done) &&
	       vcpu->wake_seq == seq)
		if (pthread_cond_timedwait(&vcpu->cond, &vcpu->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&vcpu->lock);
}

/*
 * The guest on @vcpu asked for a reset (@req: cause and value): keep the
 * request (the first since the last vm_reset(); later ones are counted), ask
 * every other vCPU to stop at its next exit, call the reset handler. On the
 * vCPU's thread, no lock held; the thread ends after.
 */
static void request_reset(struct vcpu *vcpu, struct vm_reset_request *req)
{
	struct vm *vm = vcpu->vm;

	req->vcpu = vcpu->index;
	pthread_mutex_lock(&vm->reset_lock);
	if (vm->reset_req.cause == VM_RESET_NONE) {
		vm->reset_req = *req;
		vm->reset_req.nr = 0;
	}
	req->nr = ++vm->reset_req.nr;
	pthread_cond_broadcast(&vm->reset_cond);
	pthread_mutex_unlock(&vm->reset_lock);

	/*
	 * A machine reset stops every CPU. No signal: the controlling thread may
	 * be joining the other threads already; immediate_exit and the next
	 * exit of their guest stop them (hold_wait() sees stop_requested).
	 */
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *other = &vm->vcpus[i];

		if (other == vcpu)
			continue;
		pthread_mutex_lock(&other->lock);
		other->stop_requested = true;
		pthread_cond_broadcast(&other->cond);
		pthread_mutex_unlock(&other->lock);
		__atomic_store_n(&other->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	}
	if (vm->reset_fn)
		vm->reset_fn(vm->reset_arg, req);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	sigset_t set;

	if (vm->hooks.thread_start)
		vm->hooks.thread_start(vm->hooks_arg, vcpu->index);
	sigemptyset(&set);
	sigaddset(&set, VMM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		struct vm_reset_request reset = { .cause = VM_RESET_NONE };
		bool go = true;
		u64 seq;
		int rc, err;

		/* Clear before looking at requests: a request after this re-sets it. */
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		pthread_mutex_lock(&vcpu->lock);
		if (vcpu->stop_requested) {
			stop_locked(vcpu, VCPU_STOPPED, 0);
			go = false;
		} else if (vcpu->req.posted && !vcpu->req.done) {
			vcpu->req.ret = do_set_mce(vcpu, &vcpu->req.mce);
			vcpu->req.done = true;
			pthread_cond_broadcast(&vcpu->cond);
		}
		/* Before asking the hook: a vm_vcpu_wake() after its answer is not lost. */
		seq = vcpu->wake_seq;
		pthread_mutex_unlock(&vcpu->lock);
		if (!go)
			break;
		if (vm->hooks.hold && vm->hooks.hold(vm->hooks_arg, vcpu->index)) {
			hold_wait(vcpu, seq);
			continue;
		}

		rc = ioctl(vcpu->fd, KVM_RUN, 0);
		if (rc < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		err = errno;
		if (rc < 0 && vm->hooks.run_failed &&
		    vm->hooks.run_failed(vm->hooks_arg, vcpu->index, err, run))
			continue;
		if (rc >= 0 && run->exit_reason != KVM_EXIT_IO &&
		    run->exit_reason != KVM_EXIT_SHUTDOWN && run->exit_reason != KVM_EXIT_INTR &&
		    vm->hooks.exit && vm->hooks.exit(vm->hooks_arg, vcpu->index, run))
			continue;
		pthread_mutex_lock(&vcpu->lock);
		if (rc < 0) {
			fprintf(stderr, "vmm: vcpu %d: KVM_RUN: %s\n", vcpu->index, strerror(err));
			stop_locked(vcpu, VCPU_FAILED, 0);
			go = false;
		} else if (run->exit_reason == KVM_EXIT_IO) {
			go = handle_io(vcpu, &reset);
		} else if (run->exit_reason == KVM_EXIT_SHUTDOWN) {
			/* A triple fault: a PC resets (QEMU: a system reset request). */
			reset.cause = VM_RESET_TRIPLE_FAULT;
			stop_locked(vcpu, VCPU_RESET, run->exit_reason);
			go = false;
		} else if (run->exit_reason != KVM_EXIT_INTR) {
			fprintf(stderr, "vmm: vcpu %d: unhandled exit reason %u\n", vcpu->index,
				run->exit_reason);
			stop_locked(vcpu, VCPU_FAILED, run->exit_reason);
			go = false;
		}
		pthread_mutex_unlock(&vcpu->lock);
		if (reset.cause != VM_RESET_NONE)
			request_reset(vcpu, &reset);
		if (!go)
			break;
	}
	if (vm->hooks.thread_exit)
		vm->hooks.thread_exit(vm->hooks_arg, vcpu->index);
	return NULL;
}

/* ---- entry points ------------------------------------------------------------ */

static void vm_free(struct vm *vm)
{
	for (int i = 0; i < vm->nr_created; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->run)
			munmap(vcpu->run, vcpu->run_size);
		if (vcpu->fd >= 0)
			close(vcpu->fd);
		pthread_cond_destroy(&vcpu->cond);
		pthread_mutex_destroy(&vcpu->lock);
	}
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm >= 0)
		close(vm->kvm);
	pthread_cond_destroy(&vm->reset_cond);
	pthread_mutex_destroy(&vm->reset_lock);
	kfree(vm);
}

int vm_create(const struct vm_config *cfg, struct vm **out, char *why, size_t len)
{
	struct vm *vm;
	int ret, tries = 0;

	*out = NULL;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm) {
		if (cfg && cfg->inherit && cfg->mem_fd >= 0)
			close(cfg->mem_fd);
		return fail(why, len, ENOMEM, "no memory for the VM");
	}
	vm->kvm = vm->fd = vm->mem_fd = -1;
	pthread_mutex_init(&vm->reset_lock, NULL);
	pthread_cond_init(&vm->reset_cond, NULL);
	if (cfg && cfg->inherit) {
		if (cfg->mem_fd < 0) {
			vm_free(vm);
			return fail(why, len, EBADF, "no inherited guest memory fd");
		}
		vm->mem_fd = cfg->mem_fd;	/* vm_free() closes it on failure */
	}
	for (int i = 0; i < VMM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	vm->mem_size = cfg && cfg->mem_size ? cfg->mem_size : GUEST_MEM_MIN;
	vm->nr_vcpus = cfg && cfg->nr_vcpus ? cfg->nr_vcpus : 1;
	if (vm->mem_size < GUEST_MEM_MIN || vm->mem_size % (2 * SZ_1M) || vm->mem_size > SZ_1G ||
	    vm->nr_vcpus < 1 || vm->nr_vcpus > VMM_MAX_VCPUS) {
		vm_free(vm);
		return fail(why, len, EINVAL, "bad config: mem_size or nr_vcpus");
	}

	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0) {
		ret = fail(why, len, errno == ENOENT ? ENODEV : errno, "cannot open /dev/kvm: %s",
			   strerror(errno));
		goto err;
	}
	do {
		vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
	} while (vm->fd < 0 && errno == EINTR && ++tries < 10);
	if (vm->fd < 0) {
		ret = FAIL("KVM_CREATE_VM");
		goto err;
	}
	ret = setup_mce_cap(vm, cfg && cfg->lmce, why, len);
	if (!ret)
		ret = setup_memory(vm, cfg, why, len);
	if (!ret && !(cfg && cfg->inherit))
		ret = load_guest(vm, why, len);
	for (int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = create_vcpu(vm, i, why, len);
	if (ret)
		goto err;
	*out = vm;
	return 0;
err:
	vm_free(vm);
	return ret;
}

int vm_start(struct vm *vm)
{
	struct sigaction sa;
	sigset_t set, old;
	int ret = 0;

	/* The kick signal: no SA_RESTART, so KVM_RUN returns EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(VMM_KICK_SIGNAL, &sa, NULL);
	/* The threads start with the signal blocked and unblock it themselves. */
	sigemptyset(&set);
	sigaddset(&set, VMM_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		ret = -pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
		if (ret)
			break;
		vcpu->thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

void vm_stop(struct vm *vm)
{
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (!vcpu->thread_started)
			continue;
		pthread_mutex_lock(&vcpu->lock);
		vcpu->stop_requested = true;
		pthread_mutex_unlock(&vcpu->lock);
		kick(vcpu);
	}
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (!vcpu->thread_started)
			continue;
		/* A kick that landed before KVM_RUN is covered by immediate_exit. */
		pthread_join(vcpu->thread, NULL);
		vcpu->thread_started = false;
	}
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm_stop(vm);
	vm_free(vm);
}

int vm_punch_page(struct vm *vm, u64 offset)
{
	offset &= ~(u64)(VMM_PAGE_SIZE - 1);
	if (offset >= vm->mem_size)
		return -ERANGE;
	if (fallocate(vm->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      VMM_PAGE_SIZE) < 0)
		return -errno;
	return 0;
}

/* MCG_STATUS and every MCi_STATUS to 0, as at power-on (Intel SDM vol. 3B, 16.3). */
static int clear_mce_state(struct vm *vm, struct vcpu *vcpu, char *why, size_t len)
{
	unsigned int banks = (unsigned int)(vm->mcg_cap & MCG_BANKCNT_MASK);
	struct kvm_msrs *msrs;
	int ret = 0;

	msrs = kzalloc(sizeof(*msrs) + (banks + 1) * sizeof(msrs->entries[0]), GFP_KERNEL);
	if (!msrs)
		return fail(why, len, ENOMEM, "no memory for the MSRs");
	msrs->nmsrs = banks + 1;
	msrs->entries[0].index = MSR_IA32_MCG_STATUS;
	for (unsigned int b = 0; b < banks; b++)
		msrs->entries[b + 1].index = MSR_IA32_MC0_STATUS + 4 * b;
	if (ioctl(vcpu->fd, KVM_SET_MSRS, msrs) != (int)msrs->nmsrs)
		ret = fail(why, len, EIO, "KVM_SET_MSRS: MCG_STATUS and MCi_STATUS not cleared");
	kfree(msrs);
	return ret;
}

/* No exception, interrupt or NMI left pending from before the reset. */
static int clear_events(struct vcpu *vcpu, char *why, size_t len)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_vcpu_events ev;

	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return FAIL("KVM_GET_VCPU_EVENTS");
	memset(&ev.exception, 0, sizeof(ev.exception));
	memset(&ev.interrupt, 0, sizeof(ev.interrupt));
	memset(&ev.nmi, 0, sizeof(ev.nmi));
	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	if (ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return FAIL("KVM_SET_VCPU_EVENTS");
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0)
		return FAIL("KVM_SET_MP_STATE");
	return 0;
}

int vm_reset(struct vm *vm, char *why, size_t len)
{
	int ret;

	for (int i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_started)
			return fail(why, len, EBUSY, "vCPU %d still runs: vm_stop() first", i);
	ret = load_guest(vm, why, len);
	if (ret)
		return ret;
	/* The workload starts over: its pass counters are the guest's RAM, reset too. */
	memset(vm->mem + GUEST_PASS_GPA, 0, sizeof(u64) * (size_t)vm->nr_vcpus);
	/* And its requests: one that made this reset must not make the next. */
	memset(vm->mem + GUEST_REQUEST_GPA, 0, sizeof(u64) * (size_t)vm->nr_vcpus);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		ret = setup_regs(vcpu, why, len);
		if (!ret)
			ret = clear_mce_state(vm, vcpu, why, len);
		if (!ret)
			ret = clear_events(vcpu, why, len);
		if (ret)
			return ret;
		pthread_mutex_lock(&vcpu->lock);
		vcpu->stop_requested = false;
		vcpu->stop = VCPU_RUNNING;
		vcpu->exit_reason = 0;
		vcpu->progress = 0;
		vcpu->nwords = 0;
		memset(&vcpu->req, 0, sizeof(vcpu->req));
		pthread_mutex_unlock(&vcpu->lock);
	}
	/* Served: the threads that asked are joined, none asks again before vm_start(). */
	pthread_mutex_lock(&vm->reset_lock);
	memset(&vm->reset_req, 0, sizeof(vm->reset_req));
	pthread_cond_broadcast(&vm->reset_cond);
	pthread_mutex_unlock(&vm->reset_lock);
	return 0;
}

bool vm_reset_request(struct vm *vm, struct vm_reset_request *req)
{
	bool pending;

	pthread_mutex_lock(&vm->reset_lock);
	pending = vm->reset_req.cause != VM_RESET_NONE;
	if (req)
		*req = vm->reset_req;
	pthread_mutex_unlock(&vm->reset_lock);
	return pending;
}

int vm_wait_reset_request(struct vm *vm, struct vm_reset_request *req, int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&vm->reset_lock);
	while (vm->reset_req.cause == VM_RESET_NONE && !ret)
		if (pthread_cond_timedwait(&vm->reset_cond, &vm->reset_lock, &ts) == ETIMEDOUT)
			ret = vm->reset_req.cause != VM_RESET_NONE ? 0 : -ETIMEDOUT;
	if (!ret && req)
		*req = vm->reset_req;
	pthread_mutex_unlock(&vm->reset_lock);
	return ret;
}

void vm_set_reset_handler(struct vm *vm, vm_reset_fn fn, void *arg)
{
	vm->reset_fn = fn;
	vm->reset_arg = arg;
}

const char *vm_reset_cause_name(enum vm_reset_cause cause)
{
	switch (cause) {
	case VM_RESET_TRIPLE_FAULT:
		return "triple fault (KVM_EXIT_SHUTDOWN)";
	case VM_RESET_PORT_CF9:
		return "port 0xcf9 (reset control register)";
	case VM_RESET_PORT_KBC:
		return "port 0x64 (keyboard controller pulse reset)";
	default:
		return "none";
	}
}

int vm_guest_request(struct vm *vm, int vcpu, u64 req)
{
	if (vcpu < 0 || vcpu >= vm->nr_vcpus || !vm->mem)
		return -EINVAL;
	__atomic_store_n((u64 *)(vm->mem + GUEST_REQUEST_GPA) + vcpu, req, __ATOMIC_SEQ_CST);
	return 0;
}

struct vcpu *vm_vcpu(struct vm *vm, int index)
{
	return index >= 0 && index < vm->nr_vcpus ? &vm->vcpus[index] : NULL;
}

int vm_nr_vcpus(const struct vm *vm)
{
	return vm->nr_vcpus;
}

void vm_set_hooks(struct vm *vm, const struct vm_hooks *hooks, void *arg)
{
	vm->hooks = *hooks;
	vm->hooks_arg = arg;
}

enum vmm_mem_kind vm_mem_kind(const struct vm *vm)
{
	return vm->mem_kind;
}

int vm_mem_fd(const struct vm *vm)
{
	return vm->mem_fd;
}

void *vm_mem(const struct vm *vm)
{
	return vm->mem;
}

u64 vm_mem_size(const struct vm *vm)
{
	return vm->mem_size;
}

u64 vm_mcg_cap(const struct vm *vm)
{
	return vm->mcg_cap;
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int vm_wait_progress(struct vcpu *vcpu, u64 pass, int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&vcpu->lock);
	while (vcpu->progress < pass && !ret) {
		if (vcpu->stop != VCPU_RUNNING)
			ret = -ESRCH;
		else if (pthread_cond_timedwait(&vcpu->cond, &vcpu->lock, &ts) == ETIMEDOUT)
			ret = vcpu->progress >= pass ? 0 : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&vcpu->lock);
	return ret;
}

u64 vm_vcpu_progress(struct vcpu *vcpu)
{
	u64 v;

	pthread_mutex_lock(&vcpu->lock);
	v = vcpu->progress;
	pthread_mutex_unlock(&vcpu->lock);
	return v;
}

u64 vm_vcpu_bad_reads(struct vcpu *vcpu)
{
	u64 v;

	pthread_mutex_lock(&vcpu->lock);
	v = vcpu->bad_reads;
	pthread_mutex_unlock(&vcpu->lock);
	return v;
}

enum vcpu_stop vm_vcpu_stop_reason(struct vcpu *vcpu, u32 *exit_reason)
{
	enum vcpu_stop s;

	pthread_mutex_lock(&vcpu->lock);
	s = vcpu->stop;
	if (exit_reason)
		*exit_reason = vcpu->exit_reason;
	pthread_mutex_unlock(&vcpu->lock);
	return s;
}

int vm_wait_mce_report(struct vcpu *vcpu, unsigned int nth, struct vmm_mce_report *r,
		       int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	if (nth >= VMM_MAX_REPORTS)
		return -ENOSPC;
	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&vcpu->lock);
	while (vcpu->nr_reports <= nth && !ret) {
		if (vcpu->stop != VCPU_RUNNING)
			ret = -ESRCH;
		else if (pthread_cond_timedwait(&vcpu->cond, &vcpu->lock, &ts) == ETIMEDOUT)
			ret = vcpu->nr_reports > nth ? 0 : -ETIMEDOUT;
	}
	if (!ret)
		*r = vcpu->reports[nth];
	pthread_mutex_unlock(&vcpu->lock);
	return ret;
}

void vm_vcpu_wake(struct vcpu *vcpu)
{
	pthread_mutex_lock(&vcpu->lock);
	vcpu->wake_seq++;
	pthread_cond_broadcast(&vcpu->cond);
	pthread_mutex_unlock(&vcpu->lock);
}

unsigned int vm_vcpu_nr_mce_reports(struct vcpu *vcpu)
{
	unsigned int n;

	pthread_mutex_lock(&vcpu->lock);
	n = vcpu->nr_reports;
	pthread_mutex_unlock(&vcpu->lock);
	return n;
}

unsigned int vm_vcpu_mce_report_time(struct vcpu *vcpu, struct timespec *ts)
{
	unsigned int n;

	pthread_mutex_lock(&vcpu->lock);
	n = vcpu->nr_reports;
	*ts = vcpu->last_report_start;
	pthread_mutex_unlock(&vcpu->lock);
	return n;
}

int vmm_inject_mce_held(struct vcpu *vcpu, unsigned int bank, u64 status, u64 addr, u64 misc,
			u64 mcg_status)
{
	struct kvm_x86_mce mce = {
		.status = status,
		.addr = addr,
		.misc = misc,
		.mcg_status = mcg_status,
		.bank = (u8)bank,
	};

	if (bank >= (vcpu->vm->mcg_cap & MCG_BANKCNT_MASK))
		return -EINVAL;
	/* KVM takes vcpu->mutex: free, the thread is not in KVM_RUN. */
	return do_set_mce(vcpu, &mce);
}

int vmm_inject_mce(struct vcpu *vcpu, unsigned int bank, u64 status, u64 addr, u64 misc,
		   u64 mcg_status)
{
	struct kvm_x86_mce mce = {
		.status = status,
		.addr = addr,
		.misc = misc,
		.mcg_status = mcg_status,
		.bank = (u8)bank,
	};
	int ret;

	if (bank >= (vcpu->vm->mcg_cap & MCG_BANKCNT_MASK))
		return -EINVAL;
	if (!vcpu->thread_started)
		return do_set_mce(vcpu, &mce);

	pthread_mutex_lock(&vcpu->lock);
	/* One request at a time. */
	while (vcpu->req.posted && vcpu->stop == VCPU_RUNNING)
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	if (vcpu->stop != VCPU_RUNNING) {
		pthread_mutex_unlock(&vcpu->lock);
		return -ESRCH;
	}
	vcpu->req.mce = mce;
	vcpu->req.posted = true;
	vcpu->req.done = false;
	/* A held vCPU waits on its cond (hold_wait()), one in KVM_RUN gets the kick. */
	pthread_cond_broadcast(&vcpu->cond);
	pthread_mutex_unlock(&vcpu->lock);
	kick(vcpu);
	pthread_mutex_lock(&vcpu->lock);
	while (!vcpu->req.done)
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	ret = vcpu->req.ret;
	vcpu->req.posted = false;
	pthread_cond_broadcast(&vcpu->cond);
	pthread_mutex_unlock(&vcpu->lock);
	return ret;
}
