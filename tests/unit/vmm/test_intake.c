// SPDX-License-Identifier: MIT
/*
 * Tests of vmm/intake: SIGBUS BUS_MCEERR_AR/AO sent through the real signal
 * path (rt_tgsigqueueinfo to a vCPU thread, rt_sigqueueinfo to the process),
 * a memory-fault exit posted as the vCPU loop posts it, and the bad inputs of
 * intake.h, each checked against the guest's #MC report, the event list and
 * the log line. Without /dev/kvm every test skips and the binary exits 77.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/types.h"
#include "tests/harness/t.h"
#include "vmm/guest/layout.h"
#include "vmm/intake.h"
#include "vmm/kvm_uapi.h"
#include "vmm/vm.h"

#define TIMEOUT_MS	10000

/* QEMU's kvm_mce_inject(), Intel form. */
#define AR_STATUS	(MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV | \
			 MCI_STATUS_ADDRV | MCI_STATUS_S | MCI_STATUS_AR | MCACOD_DATA)
#define AO_STATUS	(MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV | \
			 MCI_STATUS_ADDRV | MCI_STATUS_S | MCACOD_SCRUB)
#define AR_MCG		(MCG_STATUS_MCIP | MCG_STATUS_RIPV | MCG_STATUS_EIPV)
#define AO_MCG		(MCG_STATUS_MCIP | MCG_STATUS_RIPV)
#define MISC_PHYS_12	0x8cULL

/* Log lines captured from the intake thread. */
static struct {
	pthread_mutex_t lock;
	char lines[32][320];
	unsigned int n;
	int fatal_status;
} cap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void cap_log(void *arg, const char *line)
{
	pthread_mutex_lock(&cap.lock);
	if (cap.n < ARRAY_SIZE(cap.lines))
		snprintf(cap.lines[cap.n], sizeof(cap.lines[0]), "%s", line);
	cap.n++;
	pthread_mutex_unlock(&cap.lock);
	printf("# %s\n", line);
}

static void cap_fatal(void *arg, int status)
{
	pthread_mutex_lock(&cap.lock);
	cap.fatal_status = status;
	pthread_mutex_unlock(&cap.lock);
}

static bool cap_has(const char *needle)
{
	bool found = false;

	pthread_mutex_lock(&cap.lock);
	for (unsigned int i = 0; i < cap.n && i < ARRAY_SIZE(cap.lines); i++)
		found |= strstr(cap.lines[i], needle) != NULL;
	pthread_mutex_unlock(&cap.lock);
	return found;
}

struct rig {
	struct vm *vm;
	struct intake *in;
	u8 *mem;
};

/* A running VM (guest_memfd where there is one) with an intake; or skip. */
static void rig_up(struct rig *r, int nr_vcpus, bool local)
{
	struct vm_config cfg = { .mem = VMM_MEM_AUTO, .nr_vcpus = nr_vcpus };
	struct intake_config icfg = {
		.log_fn = cap_log,
		.fatal = cap_fatal,
		.local = local,
	};
	char why[160] = "";
	int ret;

	pthread_mutex_lock(&cap.lock);
	cap.n = 0;
	cap.fatal_status = 0;
	pthread_mutex_unlock(&cap.lock);
	ret = vm_create(&cfg, &r->vm, why, sizeof(why));
	if (ret == -ENODEV || ret == -ENOENT || ret == -EACCES)
		T_SKIP(why);
	if (ret)
		t_fail(__FILE__, __LINE__, __func__, true, "vm_create: %d (%s)", ret, why);
	ASSERT_OK(intake_start(r->vm, &icfg, &r->in));
	ASSERT_OK(vm_start(r->vm));
	for (int i = 0; i < nr_vcpus; i++)
		ASSERT_OK(vm_wait_progress(vm_vcpu(r->vm, i), 2, TIMEOUT_MS));
	r->mem = vm_mem(r->vm);
}

static void rig_down(struct rig *r)
{
	intake_stop(r->in);
	vm_destroy(r->vm);
	intake_destroy(r->in);
}

static int send_sigbus(pid_t tid, int code, void *addr)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = code;
	si.si_addr = addr;
	si.si_addr_lsb = 12;
	if (tid)
		return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGBUS, &si);
	return (int)syscall(SYS_rt_sigqueueinfo, getpid(), SIGBUS, &si);
}

struct sig_req {
	int code;
	void *addr;
	int ret;
};

static void sig_self(void *arg)
{
	struct sig_req *q = arg;

	q->ret = send_sigbus(gettid(), q->code, q->addr);
}

/*
 * rt_tgsigqueueinfo of SIGBUS from the vCPU thread to itself: the kernel lets
 * a thread queue a positive si_code (BUS_MCEERR_AR) only to itself.
 */
static int sigbus_on_vcpu(struct intake *in, int vcpu, int code, void *addr)
{
	struct sig_req q = { .code = code, .addr = addr, .ret = -1 };
	int ret = intake_run_on_vcpu(in, vcpu, sig_self, &q, TIMEOUT_MS);

	return ret ? ret : q.ret;
}

static struct intake_event last_event(struct intake *in, unsigned int n)
{
	static struct intake_event evs[INTAKE_MAX_EVENTS];
	struct intake_event none;

	memset(&none, 0, sizeof(none));
	if (intake_wait_events(in, n, TIMEOUT_MS) || n == 0)
		return none;
	intake_events(in, evs, ARRAY_SIZE(evs));
	return evs[n - 1];
}

static void check_bank(const struct vmm_mce_report *r, unsigned int bank, u64 status, u64 addr,
		       u64 misc, u64 mcg)
{
	EXPECT_EQ(r->mcg_status, mcg);
	ASSERT_LT(bank, r->nr_banks);
	EXPECT_EQ(r->bank[bank].status, status);
	EXPECT_EQ(r->bank[bank].addr, addr);
	EXPECT_EQ(r->bank[bank].misc, misc);
	for (unsigned int b = 0; b < r->nr_banks; b++)
		if (b != bank)
			EXPECT_EQ(r->bank[b].status & MCI_STATUS_VAL, 0);
}

/* (1) AR to the vCPU thread: the guest's #MC reports MCi_ADDR == gpa, QEMU's AR values. */
TEST(ar_signal_to_vcpu_thread)
{
	struct rig r;
	struct vmm_mce_report rep;
	struct intake_event ev;
	u64 gpa = GUEST_DATA_GPA + 0x5000;
	pid_t tid;

	rig_up(&r, 1, false);
	tid = intake_vcpu_tid(r.in, 0);
	ASSERT_GT(tid, 0);
	ASSERT_OK(sigbus_on_vcpu(r.in, 0, BUS_MCEERR_AR, r.mem + gpa));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(r.vm, 0), 0, &rep, TIMEOUT_MS));
	check_bank(&rep, INTAKE_MCE_BANK, AR_STATUS, gpa, MISC_PHYS_12, AR_MCG);
	ev = last_event(r.in, 1);
	EXPECT_EQ(ev.kind, INTAKE_AR);
	EXPECT_EQ(ev.action, INTAKE_INJECTED);
	EXPECT_EQ(ev.from_vcpu, 0);
	EXPECT_EQ(ev.tid, tid);
	EXPECT_EQ(ev.target, 0);
	EXPECT_EQ(ev.gpa, gpa);
	EXPECT_EQ(ev.offset, gpa);
	EXPECT_EQ(ev.lsb, 12);
	EXPECT_GT(ev.time.tv_sec, 0);
	EXPECT_TRUE(cap_has("injected into vCPU 0 as AR"));
	EXPECT_OK(vm_wait_progress(vm_vcpu(r.vm, 0), vm_vcpu_progress(vm_vcpu(r.vm, 0)) + 3,
				   TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_stop_reason(vm_vcpu(r.vm, 0), NULL), VCPU_RUNNING);
	rig_down(&r);
}

/* (2) AO to the process: injected into vCPU 0 with QEMU's AO values. */
TEST(ao_signal_to_process)
{
	struct rig r;
	struct vmm_mce_report rep;
	struct intake_event ev;
	u64 gpa = GUEST_DATA_GPA + 0x7000;

	rig_up(&r, 1, false);
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + gpa));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(r.vm, 0), 0, &rep, TIMEOUT_MS));
	check_bank(&rep, INTAKE_MCE_BANK, AO_STATUS, gpa, MISC_PHYS_12, AO_MCG);
	ev = last_event(r.in, 1);
	EXPECT_EQ(ev.kind, INTAKE_AO);
	EXPECT_EQ(ev.action, INTAKE_INJECTED);
	EXPECT_EQ(ev.target, 0);
	EXPECT_EQ(ev.gpa, gpa);
	EXPECT_TRUE(cap_has("injected into vCPU 0 as AO"));
	rig_down(&r);
}

/* Two vCPUs, AO: vCPU 0 gets the record, vCPU 1 the broadcast bank 1 VAL|UC (QEMU). */
TEST(ao_broadcast_two_vcpus)
{
	struct rig r;
	struct vmm_mce_report rep;
	u64 gpa = GUEST_DATA_GPA + 0x9000;

	rig_up(&r, 2, false);
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + gpa));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(r.vm, 0), 0, &rep, TIMEOUT_MS));
	check_bank(&rep, INTAKE_MCE_BANK, AO_STATUS, gpa, MISC_PHYS_12, AO_MCG);
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(r.vm, 1), 0, &rep, TIMEOUT_MS));
	check_bank(&rep, INTAKE_BCAST_BANK, MCI_STATUS_VAL | MCI_STATUS_UC, 0, 0, AO_MCG);
	rig_down(&r);
}

/* Local: the other vCPU gets nothing. */
TEST(ar_local_two_vcpus)
{
	struct rig r;
	struct vmm_mce_report rep;
	u64 gpa = GUEST_DATA_GPA + 0xa000;

	rig_up(&r, 2, true);
	ASSERT_OK(sigbus_on_vcpu(r.in, 1, BUS_MCEERR_AR, r.mem + gpa));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(r.vm, 1), 0, &rep, TIMEOUT_MS));
	check_bank(&rep, INTAKE_MCE_BANK, AR_STATUS, gpa, MISC_PHYS_12, AR_MCG);
	ASSERT_OK(intake_wait_events(r.in, 1, TIMEOUT_MS));
	EXPECT_OK(vm_wait_progress(vm_vcpu(r.vm, 0), vm_vcpu_progress(vm_vcpu(r.vm, 0)) + 2,
				   TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vm_vcpu(r.vm, 0)), 0);
	rig_down(&r);
}

/* (3) Outside guest memory: AO logged and ignored, the VM runs on; AR is fatal. */
TEST(outside_guest_memory)
{
	static u64 vmm_own;
	struct rig r;
	struct intake_event ev;

	rig_up(&r, 1, false);
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, &vmm_own));
	ev = last_event(r.in, 1);
	EXPECT_EQ(ev.kind, INTAKE_AO);
	EXPECT_EQ(ev.action, INTAKE_IGNORED);
	EXPECT_FALSE(ev.in_guest);
	EXPECT_TRUE(cap_has("not guest memory (the VMM's own), ignored"));
	EXPECT_OK(vm_wait_progress(vm_vcpu(r.vm, 0), vm_vcpu_progress(vm_vcpu(r.vm, 0)) + 3,
				   TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vm_vcpu(r.vm, 0)), 0);
	EXPECT_EQ(cap.fatal_status, 0);

	/* From this (non-vCPU) thread, as if it had consumed its own poisoned memory. */
	ASSERT_OK(send_sigbus(gettid(), BUS_MCEERR_AR, &vmm_own));
	ev = last_event(r.in, 2);
	EXPECT_EQ(ev.kind, INTAKE_AR);
	EXPECT_EQ(ev.action, INTAKE_FATAL);
	EXPECT_EQ(cap.fatal_status, INTAKE_EXIT_VMM_MEMORY);
	EXPECT_TRUE(cap_has("the VMM's own memory, the thread cannot go on: exiting with status 71"));
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vm_vcpu(r.vm, 0)), 0);
	rig_down(&r);
}

/* (4) An unknown si_code: logged, ignored. */
TEST(unknown_si_code)
{
	struct rig r;
	struct intake_event ev;

	rig_up(&r, 1, false);
	ASSERT_OK(send_sigbus(gettid(), BUS_ADRERR, r.mem + GUEST_DATA_GPA));
	ev = last_event(r.in, 1);
	EXPECT_EQ(ev.kind, INTAKE_UNKNOWN);
	EXPECT_EQ(ev.action, INTAKE_IGNORED);
	EXPECT_EQ(ev.si_code, BUS_ADRERR);
	EXPECT_TRUE(cap_has("unknown si_code 2"));
	EXPECT_OK(vm_wait_progress(vm_vcpu(r.vm, 0), vm_vcpu_progress(vm_vcpu(r.vm, 0)) + 2,
				   TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vm_vcpu(r.vm, 0)), 0);
	rig_down(&r);
}

/*
 * (5) The same page twice: a second AO is not injected again; an AR on it
 * (the guest touched it again) is.
 */
TEST(same_page_twice)
{
	struct rig r;
	struct vmm_mce_report rep;
	struct intake_event ev;
	u64 gpa = GUEST_DATA_GPA + 0xb000;
	struct vcpu *v;

	rig_up(&r, 1, false);
	v = vm_vcpu(r.vm, 0);
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + gpa));
	ASSERT_OK(vm_wait_mce_report(v, 0, &rep, TIMEOUT_MS));
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + gpa + 0x10));
	ev = last_event(r.in, 2);
	EXPECT_EQ(ev.action, INTAKE_DUPLICATE);
	EXPECT_EQ(ev.gpa, gpa + 0x10);
	EXPECT_TRUE(cap_has("page already poisoned, not injected again"));
	EXPECT_OK(vm_wait_progress(v, vm_vcpu_progress(v) + 2, TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_nr_mce_reports(v), 1);

	ASSERT_OK(sigbus_on_vcpu(r.in, 0, BUS_MCEERR_AR, r.mem + gpa));
	ASSERT_OK(vm_wait_mce_report(v, 1, &rep, TIMEOUT_MS));
	check_bank(&rep, INTAKE_MCE_BANK, AR_STATUS, gpa, MISC_PHYS_12, AR_MCG);
	ev = last_event(r.in, 3);
	EXPECT_EQ(ev.action, INTAKE_INJECTED);
	EXPECT_TRUE(cap_has("(again: the guest touched it again)"));
	rig_down(&r);
}

/* Errors arriving while one is handled queue up and are handled in order. */
TEST(queued_in_order)
{
	struct intake_event evs[4];
	struct rig r;
	struct vmm_mce_report rep;

	rig_up(&r, 1, false);
	for (int i = 0; i < 4; i++)
		ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + GUEST_DATA_GPA + 0x10000 +
				      (u64)i * 0x1000));
	ASSERT_OK(intake_wait_events(r.in, 4, TIMEOUT_MS));
	ASSERT_EQ(intake_events(r.in, evs, 4), 4);
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(evs[i].gpa, GUEST_DATA_GPA + 0x10000 + (u64)i * 0x1000);
		EXPECT_EQ(evs[i].action, INTAKE_INJECTED);
		ASSERT_OK(vm_wait_mce_report(vm_vcpu(r.vm, 0), (unsigned int)i, &rep, TIMEOUT_MS));
		EXPECT_EQ(rep.bank[INTAKE_MCE_BANK].addr, evs[i].gpa);
	}
	EXPECT_EQ(vm_vcpu_stop_reason(vm_vcpu(r.vm, 0), NULL), VCPU_RUNNING);
	EXPECT_EQ(intake_dropped(r.in), 0);
	rig_down(&r);
}

/* A memory-fault exit (as posted by the vCPU loop on EHWPOISON): AR into that vCPU. */
TEST(memory_fault_posted)
{
	struct rig r;
	struct vmm_mce_report rep;
	struct intake_event ev;
	u64 gpa = GUEST_DATA_GPA + 0xc000;

	rig_up(&r, 1, false);
	ASSERT_OK(intake_post_memory_fault(r.in, 0, 0, gpa, 0x1000));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(r.vm, 0), 0, &rep, TIMEOUT_MS));
	check_bank(&rep, INTAKE_MCE_BANK, AR_STATUS, gpa, MISC_PHYS_12, AR_MCG);
	ev = last_event(r.in, 1);
	EXPECT_EQ(ev.kind, INTAKE_MEMORY_FAULT);
	EXPECT_EQ(ev.action, INTAKE_INJECTED);
	EXPECT_EQ(ev.target, 0);
	EXPECT_EQ(ev.offset, gpa);
	rig_down(&r);
}

/*
 * The injected values (intake_mce_values(), QEMU's): Intel AR and AO, LMCES
 * only for a local #MC on a VM whose MCG_CAP has MCG_LMCE_P (the kernel's
 * MCG_STATUS_LMCES, bit 3), AMD's AR with POISON and no AO at all.
 */
TEST(mce_values)
{
	u64 mcg_cap = 10 | MCG_SER_P, lcap = mcg_cap | MCG_LMCE_P;
	struct intake_mce m;

	ASSERT_TRUE(intake_mce_values(INTAKE_INTEL, false, mcg_cap, true, 0x5000, &m));
	EXPECT_EQ(m.bank, INTAKE_MCE_BANK);
	EXPECT_EQ(m.status, AR_STATUS);
	EXPECT_EQ(m.addr, 0x5000);
	EXPECT_EQ(m.misc, MISC_PHYS_12);
	EXPECT_EQ(m.mcg_status, AR_MCG);
	ASSERT_TRUE(intake_mce_values(INTAKE_INTEL, false, mcg_cap, false, 0x5000, &m));
	EXPECT_EQ(m.status, AO_STATUS);
	EXPECT_EQ(m.mcg_status, AO_MCG);
	EXPECT_EQ(MCG_STATUS_LMCES, 1ULL << 3);
	EXPECT_EQ(MCG_LMCE_P, 1ULL << 27);
	ASSERT_TRUE(intake_mce_values(INTAKE_INTEL, true, lcap, true, 0x5000, &m));
	EXPECT_EQ(m.status, AR_STATUS);
	EXPECT_EQ(m.mcg_status, AR_MCG | MCG_STATUS_LMCES);
	ASSERT_TRUE(intake_mce_values(INTAKE_INTEL, true, lcap, false, 0x5000, &m));
	EXPECT_EQ(m.mcg_status, AO_MCG | MCG_STATUS_LMCES);
	/* Local without LMCE_P: no broadcast, but no LMCES the guest was not offered. */
	ASSERT_TRUE(intake_mce_values(INTAKE_INTEL, true, mcg_cap, true, 0x5000, &m));
	EXPECT_EQ(m.mcg_status, AR_MCG);
	/* Broadcast with LMCE_P offered: not local. */
	ASSERT_TRUE(intake_mce_values(INTAKE_INTEL, false, lcap, true, 0x5000, &m));
	EXPECT_EQ(m.mcg_status, AR_MCG);
	ASSERT_TRUE(intake_mce_values(INTAKE_AMD, true, lcap, true, 0x7000, &m));
	EXPECT_EQ(m.status, MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV |
			    MCI_STATUS_ADDRV | MCI_STATUS_POISON);
	EXPECT_EQ(m.mcg_status, AR_MCG);
	EXPECT_EQ(m.addr, 0x7000);
	EXPECT_FALSE(intake_mce_values(INTAKE_AMD, false, mcg_cap, false, 0x7000, &m));
	/* Fewer banks than QEMU's 10: the last one. */
	ASSERT_TRUE(intake_mce_values(INTAKE_INTEL, false, 4, true, 0, &m));
	EXPECT_EQ(m.bank, 3);
}

/* The AMD form through the real path: the guest reads what was sent; AO not injected. */
TEST(amd_form)
{
	struct vm_config cfg = { .mem = VMM_MEM_AUTO, .nr_vcpus = 2 };
	struct intake_config icfg = { .log_fn = cap_log, .fatal = cap_fatal,
				      .vendor = INTAKE_AMD };
	struct vmm_mce_report rep;
	struct intake_event ev;
	char why[160] = "";
	struct rig r;
	u64 gpa = GUEST_DATA_GPA + 0xd000;
	int ret;

	pthread_mutex_lock(&cap.lock);
	cap.n = 0;
	pthread_mutex_unlock(&cap.lock);
	ret = vm_create(&cfg, &r.vm, why, sizeof(why));
	if (ret == -ENODEV || ret == -ENOENT || ret == -EACCES)
		T_SKIP(why);
	ASSERT_OK(ret);
	ASSERT_OK(intake_start(r.vm, &icfg, &r.in));
	ASSERT_OK(vm_start(r.vm));
	ASSERT_OK(vm_wait_progress(vm_vcpu(r.vm, 0), 2, TIMEOUT_MS));
	r.mem = vm_mem(r.vm);
	ASSERT_OK(sigbus_on_vcpu(r.in, 0, BUS_MCEERR_AR, r.mem + gpa));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(r.vm, 0), 0, &rep, TIMEOUT_MS));
	ev = last_event(r.in, 1);
	EXPECT_EQ(ev.action, INTAKE_INJECTED);
	EXPECT_EQ(ev.status, MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV |
			     MCI_STATUS_ADDRV | MCI_STATUS_POISON);
	check_bank(&rep, ev.bank, ev.status, gpa, ev.misc, ev.mcg_status);
	/* AO: logged, ignored, nothing injected anywhere. */
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + gpa + 0x1000));
	ev = last_event(r.in, 2);
	EXPECT_EQ(ev.kind, INTAKE_AO);
	EXPECT_EQ(ev.action, INTAKE_IGNORED);
	EXPECT_TRUE(cap_has("no AO injection on AMD, ignored"));
	EXPECT_OK(vm_wait_progress(vm_vcpu(r.vm, 0), vm_vcpu_progress(vm_vcpu(r.vm, 0)) + 2,
				   TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vm_vcpu(r.vm, 0)), 1);
	/* No broadcast on AMD either. */
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vm_vcpu(r.vm, 1)), 0);
	rig_down(&r);
}

/*
 * Guest reset: every poisoned page is punched out (its contents gone, a
 * fresh page), forgotten (an AO on it is injected again, an AR is not "again")
 * and the guest starts over; a page never poisoned keeps its contents.
 */
TEST(guest_reset_replaces_poisoned)
{
	struct intake_repair reps[4];
	struct vmm_mce_report rep;
	struct intake_event ev;
	char why[160] = "";
	u64 a = GUEST_DATA_GPA + 0x21000, b = 0x180000;
	struct vcpu *v;
	struct rig r;

	rig_up(&r, 1, false);
	v = vm_vcpu(r.vm, 0);
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + a));
	ASSERT_OK(vm_wait_mce_report(v, 0, &rep, TIMEOUT_MS));
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + a));
	EXPECT_EQ(last_event(r.in, 2).action, INTAKE_DUPLICATE);

	vm_stop(r.vm);
	*(volatile u64 *)(r.mem + a + 8) = 0xabcd;	/* not the workload's qword */
	*(volatile u64 *)(r.mem + b) = 0x1234;
	ASSERT_EQ(intake_guest_reset(r.in, reps, ARRAY_SIZE(reps)), 1);
	EXPECT_EQ(reps[0].gpa, a);
	EXPECT_EQ(reps[0].offset, a);
	EXPECT_OK(reps[0].punch_ret);
	EXPECT_EQ(*(volatile u64 *)(r.mem + a + 8), 0);
	EXPECT_EQ(*(volatile u64 *)(r.mem + b), 0x1234);
	EXPECT_TRUE(cap_has("intake: reset: gpa 0x221000, offset 0x221000 punched out of the"));
	/* Nothing poisoned any more: a second reset finds nothing. */
	ASSERT_EQ(intake_guest_reset(r.in, reps, ARRAY_SIZE(reps)), 0);
	ASSERT_OK(vm_reset(r.vm, why, sizeof(why)));
	ASSERT_OK(vm_start(r.vm));
	ASSERT_OK(vm_wait_progress(v, 2, TIMEOUT_MS));

	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + a));
	ASSERT_OK(vm_wait_mce_report(v, 1, &rep, TIMEOUT_MS));
	ev = last_event(r.in, 3);
	EXPECT_EQ(ev.action, INTAKE_INJECTED);
	EXPECT_EQ(rep.bank[INTAKE_MCE_BANK].addr, a);
	EXPECT_FALSE(cap_has("vCPU 0 has not finished its previous #MC"));
	EXPECT_EQ(vm_vcpu_stop_reason(v, NULL), VCPU_RUNNING);
	rig_down(&r);
}

/* On the held vCPU thread (intake_run_on_vcpu()): two #MCs, the second with MCIP set. */
static void double_mce(void *arg)
{
	struct vcpu *v = arg;

	/* Out of KVM_RUN here: the guest cannot take the first before the second. */
	if (vmm_inject_mce_held(v, INTAKE_MCE_BANK, AO_STATUS, GUEST_DATA_GPA, MISC_PHYS_12, AO_MCG) ||
	    vmm_inject_mce_held(v, INTAKE_MCE_BANK, AO_STATUS, GUEST_DATA_GPA, MISC_PHYS_12, AO_MCG))
		printf("# vmm_inject_mce_held failed\n");
}

static unsigned int reset_calls;

static void count_reset(void *arg, const struct vm_reset_request *req)
{
	__atomic_add_fetch(&reset_calls, 1, __ATOMIC_SEQ_CST);
}

/*
 * A reset the guest causes goes the way of the operator's: a triple fault
 * (KVM_EXIT_SHUTDOWN: a #MC injected while MCIP is still set) stops the
 * vCPU and is kept as the guest's request; intake_system_reset() stops the
 * VM, punches out the poisoned page, resets and restarts the guest, which
 * runs again; the request is served; a new error on the page is news.
 */
TEST(guest_triple_fault_repairs)
{
	struct intake_repair reps[4];
	struct vm_reset_request req;
	struct vmm_mce_report rep;
	char why[160] = "";
	u64 a = GUEST_DATA_GPA + 0x23000;
	struct vcpu *v;
	struct rig r;

	rig_up(&r, 1, false);
	v = vm_vcpu(r.vm, 0);
	reset_calls = 0;
	vm_set_reset_handler(r.vm, count_reset, NULL);
	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + a));
	ASSERT_OK(vm_wait_mce_report(v, 0, &rep, TIMEOUT_MS));
	*(volatile u64 *)(r.mem + a + 8) = 0xabcd;

	ASSERT_OK(intake_run_on_vcpu(r.in, 0, double_mce, v, TIMEOUT_MS));
	ASSERT_OK(vm_wait_reset_request(r.vm, &req, TIMEOUT_MS));
	EXPECT_EQ(req.cause, VM_RESET_TRIPLE_FAULT);
	EXPECT_EQ(req.vcpu, 0);

	ASSERT_EQ(intake_system_reset(r.in, reps, ARRAY_SIZE(reps), why, sizeof(why)), 1);
	EXPECT_EQ(reps[0].gpa, a);
	EXPECT_OK(reps[0].punch_ret);
	EXPECT_EQ(*(volatile u64 *)(r.mem + a + 8), 0);
	EXPECT_TRUE(cap_has("intake: reset: gpa 0x223000, offset 0x223000 punched out of the"));
	EXPECT_FALSE(vm_reset_request(r.vm, NULL));
	EXPECT_EQ(__atomic_load_n(&reset_calls, __ATOMIC_SEQ_CST), 1);
	ASSERT_OK(vm_wait_progress(v, 3, TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_stop_reason(v, NULL), VCPU_RUNNING);

	ASSERT_OK(send_sigbus(0, BUS_MCEERR_AO, r.mem + a));
	ASSERT_OK(vm_wait_mce_report(v, 1, &rep, TIMEOUT_MS));
	EXPECT_EQ(last_event(r.in, 2).action, INTAKE_INJECTED);
	EXPECT_EQ(rep.bank[INTAKE_MCE_BANK].addr, a);
	EXPECT_EQ(vm_vcpu_stop_reason(v, NULL), VCPU_RUNNING);
	rig_down(&r);
}

/* ESR of a data abort from the guest (EC 0x24), EA, FSC external abort; of an SVC. */
#define SEA_ESR_DABT	((0x24ULL << 26) | (1ULL << 25) | (1ULL << 9) | 0x10)
#define SEA_ESR_IABT	((0x20ULL << 26) | (1ULL << 25) | (1ULL << 9) | 0x10)
#define SEA_ESR_SVC	((0x15ULL << 26) | (1ULL << 25))

/* KVM_EXIT_ARM_SEA's report -> a guest page: the arch-independent half, on x86. */
TEST(sea_gpa)
{
	u64 size = 0x400000, gpa = 1;

	EXPECT_EQ(KVM_EXIT_ARM_SEA, 41);
	EXPECT_EQ(KVM_CAP_ARM_SEA_TO_USER, 245);
	EXPECT_EQ(offsetof(struct uapi_arm_sea, gpa), 24);
	EXPECT_OK(intake_sea_gpa(KVM_EXIT_ARM_SEA_FLAG_GPA_VALID, SEA_ESR_DABT, 0x205000, size,
				 &gpa));
	EXPECT_EQ(gpa, 0x205000);
	EXPECT_OK(intake_sea_gpa(KVM_EXIT_ARM_SEA_FLAG_GPA_VALID, SEA_ESR_IABT | UAPI_ESR_ELx_FnV,
				 0x3ff123, size, &gpa));
	EXPECT_EQ(gpa, 0x3ff000);
	gpa = 1;
	EXPECT_ERR(intake_sea_gpa(0, SEA_ESR_DABT, 0x205000, size, &gpa), -ENODATA);
	EXPECT_ERR(intake_sea_gpa(KVM_EXIT_ARM_SEA_FLAG_GPA_VALID, SEA_ESR_SVC, 0x205000, size, &gpa),
		   -EINVAL);
	EXPECT_ERR(intake_sea_gpa(KVM_EXIT_ARM_SEA_FLAG_GPA_VALID, SEA_ESR_DABT, size, size, &gpa),
		   -ERANGE);
	EXPECT_EQ(gpa, 1);
}

/*
 * A KVM_EXIT_ARM_SEA handed to the intake (what the aarch64 vCPU loop does)
 * takes the memory-fault path: an AR #MC into that vCPU at the gpa, an event
 * marked sea with the ESR, one log line naming the exit; one that names no
 * guest page is logged and ignored, and the vCPU is not left held.
 */
TEST(sea_posted)
{
	struct vmm_mce_report rep;
	struct intake_event ev;
	u64 gpa = GUEST_DATA_GPA + 0xe000;
	struct vcpu *v;
	struct rig r;

	rig_up(&r, 1, false);
	v = vm_vcpu(r.vm, 0);
	ASSERT_OK(intake_post_sea(r.in, 0, KVM_EXIT_ARM_SEA_FLAG_GPA_VALID, SEA_ESR_DABT, 0x1234,
				  gpa));
	ASSERT_OK(vm_wait_mce_report(v, 0, &rep, TIMEOUT_MS));
	check_bank(&rep, INTAKE_MCE_BANK, AR_STATUS, gpa, MISC_PHYS_12, AR_MCG);
	ev = last_event(r.in, 1);
	EXPECT_EQ(ev.kind, INTAKE_MEMORY_FAULT);
	EXPECT_TRUE(ev.sea);
	EXPECT_EQ(ev.esr, SEA_ESR_DABT);
	EXPECT_EQ(ev.action, INTAKE_INJECTED);
	EXPECT_EQ(ev.target, 0);
	EXPECT_EQ(ev.gpa, gpa);
	EXPECT_TRUE(cap_has("gpa 0x20e000, offset 0x20e000, KVM_EXIT_ARM_SEA, injected into vCPU 0 as AR"));

	EXPECT_ERR(intake_post_sea(r.in, 0, 0, SEA_ESR_DABT, 0, gpa), -ENODATA);
	ev = last_event(r.in, 2);
	EXPECT_EQ(ev.action, INTAKE_IGNORED);
	EXPECT_FALSE(ev.in_guest);
	EXPECT_TRUE(cap_has("no valid gpa (KVM_EXIT_ARM_SEA_FLAG_GPA_VALID clear)"));
	EXPECT_OK(vm_wait_progress(v, vm_vcpu_progress(v) + 2, TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_nr_mce_reports(v), 1);
	rig_down(&r);
}

/* (6) Translation: hva -> gpa and offset, offset -> gpa, outside -> error. */
TEST(translate)
{
	struct vm_config cfg = { .mem = VMM_MEM_AUTO };
	char why[160] = "";
	struct vm *vm;
	u64 gpa = 1, off = 1, size;
	u8 *mem;
	int ret;

	ret = vm_create(&cfg, &vm, why, sizeof(why));
	if (ret == -ENODEV || ret == -ENOENT || ret == -EACCES)
		T_SKIP(why);
	ASSERT_OK(ret);
	mem = vm_mem(vm);
	size = vm_mem_size(vm);
	EXPECT_OK(intake_translate_hva(vm, mem, &gpa, &off));
	EXPECT_EQ(gpa, 0);
	EXPECT_EQ(off, 0);
	EXPECT_OK(intake_translate_hva(vm, mem + 0x201234, &gpa, &off));
	EXPECT_EQ(gpa, 0x201234);
	EXPECT_EQ(off, 0x201234);
	EXPECT_OK(intake_translate_hva(vm, mem + size - 1, &gpa, NULL));
	EXPECT_EQ(gpa, size - 1);
	EXPECT_ERR(intake_translate_hva(vm, mem + size, &gpa, &off), -EFAULT);
	EXPECT_ERR(intake_translate_hva(vm, mem - 1, &gpa, &off), -EFAULT);
	EXPECT_ERR(intake_translate_hva(vm, &gpa, &gpa, &off), -EFAULT);
	EXPECT_OK(intake_translate_offset(vm, 0x3000, &gpa));
	EXPECT_EQ(gpa, 0x3000);
	EXPECT_ERR(intake_translate_offset(vm, size, &gpa), -ERANGE);
	vm_destroy(vm);
}

/*
 * A real EHWPOISON from KVM_RUN: MADV_HWPOISON on a guest page, then the
 * guest touches it. Needs CONFIG_MEMORY_FAILURE (vm.memory_failure_recovery).
 */
TEST(real_hwpoison)
{
	if (access("/proc/sys/vm/memory_failure_recovery", F_OK))
		T_SKIP("no CONFIG_MEMORY_FAILURE (no /proc/sys/vm/memory_failure_recovery): "
		       "MADV_HWPOISON cannot poison a page here");
	T_SKIP("MADV_HWPOISON on guest memory is not exercised yet: our payload re-touches "
	       "the page after its #MC and would fault forever");
}

static const struct t_case cases[] = {
	T(ar_signal_to_vcpu_thread),
	T(ao_signal_to_process),
	T(ao_broadcast_two_vcpus),
	T(ar_local_two_vcpus),
	T(outside_guest_memory),
	T(unknown_si_code),
	T(same_page_twice),
	T(queued_in_order),
	T(memory_fault_posted),
	T(mce_values),
	T(amd_form),
	T(guest_reset_replaces_poisoned),
	T(guest_triple_fault_repairs),
	T(sea_gpa),
	T(sea_posted),
	T(translate),
	T(real_hwpoison),
};

T_MAIN("vmm/test_intake", cases)
