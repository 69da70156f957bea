// SPDX-License-Identifier: MIT
/*
 * The small VMM on real KVM (issue 8 §6): the time from a memory error's
 * notification to the guest's #MC handler running, next to a bare KVM_RUN
 * round trip measured in the same run.
 *
 *   round trip   a one-page real-mode guest that does OUT and jumps back,
 *                KVM_RUN in a loop: ns per exit to the VMM and back, the
 *                median of REPS runs of RT_EXITS exits;
 *   intake AR    from rt_tgsigqueueinfo of SIGBUS BUS_MCEERR_AR on the vCPU
 *                thread (the intake path: handler, pipe, intake thread,
 *                KVM_X86_SET_MCE on the vCPU it holds, vm_vcpu_wake(), the
 *                vCPU re-entering);
 *   direct       from a vmm_inject_mce() call on the main thread;
 * each to the VMM seeing the first OUT of the guest's #MC report (the
 * timestamp is taken on the vCPU thread, vm_vcpu_mce_report_time()), over
 * NR_ERRORS errors on distinct gpas, one at a time, the guest running on.
 *
 * Figures, not assertions. Without /dev/kvm, or when no VM can be created,
 * one line says the benchmark is skipped and it exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "bench/bench.h"
#include "vmm/guest/layout.h"
#include "vmm/intake.h"
#include "vmm/vm.h"

#define REPS		5
#define RT_EXITS	20000		/* KVM_RUN round trips per run */
#define NR_ERRORS	50		/* errors per path */
#define TIMEOUT_MS	10000
#define RT_PORT		0x80

/* QEMU's kvm_mce_inject(), Intel form, as the intake injects an AR. */
#define AR_STATUS	(MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV | \
			 MCI_STATUS_ADDRV | MCI_STATUS_S | MCI_STATUS_AR | MCACOD_DATA)
#define AR_MCG		(MCG_STATUS_MCIP | MCG_STATUS_RIPV | MCG_STATUS_EIPV)

static u64 ts_ns(const struct timespec *ts)
{
	return (u64)ts->tv_sec * 1000000000ULL + (u64)ts->tv_nsec;
}

static void skip(const char *why)
{
	printf("bench_vmm: skipped: %s\n", why);
	exit(0);
}

static void die(const char *what, long err)
{
	fprintf(stderr, "bench_vmm: %s: %ld\n", what, err);
	exit(1);
}

/* ---- (a) bare KVM_RUN round trip ------------------------------------------------ */

/* ns per round trip of each of REPS runs into @out; 0, or a reason in @why. */
static int bare_round_trip(double *out, char *why, size_t len)
{
	/* out %al, $RT_PORT; jmp . - 2 (real mode, at 0) */
	static const u8 code[] = { 0xe6, RT_PORT, 0xeb, 0xfc };
	struct kvm_userspace_memory_region region = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	int kvm, vm, vcpu, run_size, ret = -1;
	u8 *mem;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return -1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		snprintf(why, len, "KVM_CREATE_VM: %s", strerror(errno));
		goto out_kvm;
	}
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		snprintf(why, len, "mmap: %s", strerror(errno));
		goto out_vm;
	}
	memcpy(mem, code, sizeof(code));
	region.memory_size = 0x1000;
	region.userspace_addr = (u64)(unsigned long)mem;
	vcpu = -1;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0 ||
	    (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0 ||
	    ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(why, len, "setting up a vCPU: %s", strerror(errno));
		goto out_mem;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0;
	regs.rflags = 2;
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0 ||
	    run_size <= 0) {
		snprintf(why, len, "setting up a vCPU: %s", strerror(errno));
		goto out_vcpu;
	}
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		snprintf(why, len, "mmap of kvm_run: %s", strerror(errno));
		goto out_vcpu;
	}
	/* One warm-up run, then REPS timed ones. */
	for (int r = -1; r < REPS; r++) {
		u64 t0 = now_ns();

		for (int i = 0; i < RT_EXITS; i++) {
			if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_IO ||
			    run->io.port != RT_PORT) {
				snprintf(why, len, "KVM_RUN: %s, exit %u", strerror(errno),
					 run->exit_reason);
				goto out_run;
			}
		}
		if (r >= 0)
			out[r] = (double)(now_ns() - t0) / RT_EXITS;
	}
	ret = 0;
out_run:
	munmap(run, (size_t)run_size);
out_vcpu:
	close(vcpu);
out_mem:
	munmap(mem, 0x1000);
out_vm:
	close(vm);
out_kvm:
	close(kvm);
	return ret;
}

/* ---- (b) notification -> the guest's #MC handler running --------------------------- */

static void quiet_log(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

/* Wait for report number @n (1 the first) and return when its first OUT reached the VMM. */
static u64 wait_report(struct vcpu *v, unsigned int n)
{
	struct timespec ts, nap = { 0, 20000 };
	u64 deadline = now_ns() + (u64)TIMEOUT_MS * 1000000ULL;

	while (vm_vcpu_mce_report_time(v, &ts) < n) {
		if (vm_vcpu_stop_reason(v, NULL) != VCPU_RUNNING)
			die("the vCPU stopped", n);
		if (now_ns() > deadline)
			die("no #MC report", n);
		nanosleep(&nap, NULL);
	}
	return ts_ns(&ts);
}

struct sig_req {
	void *addr;
	u64 t0;
	int ret;
};

/* On the vCPU thread: a thread may queue BUS_MCEERR_AR only to itself. */
static void sig_self(void *arg)
{
	struct sig_req *q = arg;
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = BUS_MCEERR_AR;
	si.si_addr = q->addr;
	si.si_addr_lsb = 12;
	q->t0 = now_ns();
	q->ret = (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGBUS, &si);
}

static void print_row(const char *name, double *v, int n, double rt)
{
	double mn = v[0], mx = v[0], med;

	for (int i = 1; i < n; i++) {
		mn = v[i] < mn ? v[i] : mn;
		mx = v[i] > mx ? v[i] : mx;
	}
	med = median(v, n);
	printf("  %-36s %9.1f us  %9.1f  %9.1f   %8.0fx\n", name, med / 1000, mn / 1000,
	       mx / 1000, rt > 0 ? med / rt : 0);
}

int main(void)
{
	struct vm_config cfg = { .mem = VMM_MEM_AUTO, .nr_vcpus = 1 };
	struct intake_config icfg = { .log_fn = quiet_log, .local = true };
	double rt[REPS], ar[NR_ERRORS], direct[NR_ERRORS], rt_med, rt_min, rt_max;
	char why[160] = "";
	struct intake *in;
	struct vcpu *v;
	struct vm *vm;
	unsigned int n = 0;
	u8 *mem;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access("/dev/kvm", R_OK | W_OK))
		skip("no usable /dev/kvm");
	ret = vm_create(&cfg, &vm, why, sizeof(why));
	if (ret) {
		char line[240];

		snprintf(line, sizeof(line), "cannot create a VM: %s (%d)", why, ret);
		skip(line);
	}
	if (bare_round_trip(rt, why, sizeof(why))) {
		vm_destroy(vm);
		skip(why);
	}
	rt_min = rt[0];
	rt_max = rt[0];
	for (int i = 1; i < REPS; i++) {
		rt_min = rt[i] < rt_min ? rt[i] : rt_min;
		rt_max = rt[i] > rt_max ? rt[i] : rt_max;
	}
	rt_med = median(rt, REPS);

	ret = intake_start(vm, &icfg, &in);
	if (ret)
		die("intake_start", ret);
	ret = vm_start(vm);
	if (ret)
		die("vm_start", ret);
	v = vm_vcpu(vm, 0);
	ret = vm_wait_progress(v, 2, TIMEOUT_MS);
	if (ret)
		die("vm_wait_progress", ret);
	mem = vm_mem(vm);

	/* Intake path: distinct pages in the first half of the data area. */
	for (int i = 0; i < NR_ERRORS; i++) {
		struct sig_req q = { .addr = mem + GUEST_DATA_GPA + (u64)i * 0x1000, .ret = -1 };

		ret = intake_run_on_vcpu(in, 0, sig_self, &q, TIMEOUT_MS);
		if (ret || q.ret)
			die("SIGBUS on the vCPU thread", ret ? ret : q.ret);
		ar[i] = (double)(wait_report(v, ++n) - q.t0);
	}
	/* Direct injection: distinct pages in the second half. */
	for (int i = 0; i < NR_ERRORS; i++) {
		u64 gpa = GUEST_DATA_GPA + (GUEST_DATA_END - GUEST_DATA_GPA) / 2 + (u64)i * 0x1000;
		u64 t0 = now_ns();

		ret = vmm_inject_mce(v, INTAKE_MCE_BANK, AR_STATUS, gpa,
				     MCI_MISC(MCI_MISC_ADDR_PHYS, 12), AR_MCG);
		if (ret)
			die("vmm_inject_mce", ret);
		direct[i] = (double)(wait_report(v, ++n) - t0);
	}
	if (vm_vcpu_stop_reason(v, NULL) != VCPU_RUNNING)
		die("the guest stopped", 0);

	printf("bench_vmm: %s guest memory, 1 vCPU, %d errors per path, each waited for\n",
	       vm_mem_kind(vm) == VMM_MEM_GUEST_MEMFD ? "guest_memfd" : "memfd", NR_ERRORS);
	printf("  bare KVM_RUN round trip (OUT exit)    %9.2f us  min %.2f  max %.2f",
	       rt_med / 1000, rt_min / 1000, rt_max / 1000);
	printf("  (median of %d runs of %d)\n", REPS, RT_EXITS);
	printf("  notification -> guest #MC handler       median        min        max   /round trip\n");
	print_row("SIGBUS BUS_MCEERR_AR via the intake", ar, NR_ERRORS, rt_med);
	print_row("vmm_inject_mce() direct", direct, NR_ERRORS, rt_med);
	printf("  guest still running: pass %llu, %u #MC reports\n",
	       (unsigned long long)vm_vcpu_progress(v), vm_vcpu_nr_mce_reports(v));

	intake_stop(in);
	vm_destroy(vm);
	intake_destroy(in);
	return 0;
}
