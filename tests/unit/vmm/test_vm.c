// SPDX-License-Identifier: MIT
/*
 * Tests of vmm/vm: the small VMM boots its payload on real KVM, on
 * guest_memfd and on a memfd, the workload makes progress with correct
 * read-backs, and a machine check injected with KVM_X86_SET_MCE reaches the
 * guest's #MC handler with exactly the values sent. Without /dev/kvm every
 * test skips and the binary exits 77.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "base/types.h"
#include "tests/harness/t.h"
#include "vmm/guest/layout.h"
#include "vmm/vm.h"

#define TIMEOUT_MS	10000

/* An action-required data load error, as a recoverable SRAR #MC on Intel. */
#define SRAR_STATUS	(MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV | \
			 MCI_STATUS_ADDRV | MCI_STATUS_S | MCI_STATUS_AR | MCACOD_DATA)
#define SRAR_MCG	(MCG_STATUS_RIPV | MCG_STATUS_EIPV | MCG_STATUS_MCIP)
#define PHYS_LSB12	MCI_MISC(MCI_MISC_ADDR_PHYS, 12)

static const struct vm_config configs[] = {
	{ .mem = VMM_MEM_GUEST_MEMFD },
	{ .mem = VMM_MEM_MEMFD },
};

static const char *mem_name(enum vmm_mem_kind k)
{
	return k == VMM_MEM_GUEST_MEMFD ? "guest_memfd" : k == VMM_MEM_MEMFD ? "memfd" : "auto";
}

/*
 * Create a VM for @cfg or skip: without /dev/kvm the whole test skips; a
 * config asking for guest_memfd on a kernel without it is reported and
 * returns NULL (the caller goes on with the next config).
 */
static struct vm *create_or_skip(const struct vm_config *cfg)
{
	char why[160] = "";
	struct vm *vm;
	int ret;

	ret = vm_create(cfg, &vm, why, sizeof(why));
	if (ret == -ENODEV || ret == -ENOENT || ret == -EACCES)
		T_SKIP(why);
	if (ret == -EOPNOTSUPP) {
		printf("# %s: %s\n", mem_name(cfg->mem), why);
		return NULL;
	}
	if (ret)
		t_fail(__FILE__, __LINE__, __func__, true, "vm_create(%s): %d (%s)",
		       mem_name(cfg->mem), ret, why);
	return vm;
}

/* The workload runs passes over its data area and every read-back matches. */
TEST(guest_boots_and_makes_progress)
{
	for (size_t i = 0; i < ARRAY_SIZE(configs); i++) {
		struct vm *vm = create_or_skip(&configs[i]);
		struct vcpu *vcpu;

		if (!vm)
			continue;
		EXPECT_EQ(vm_mem_kind(vm), configs[i].mem);
		vcpu = vm_vcpu(vm, 0);
		ASSERT_OK(vm_start(vm));
		EXPECT_OK(vm_wait_progress(vcpu, 20, TIMEOUT_MS));
		EXPECT_EQ(vm_vcpu_stop_reason(vcpu, NULL), VCPU_RUNNING);
		EXPECT_EQ(vm_vcpu_bad_reads(vcpu), 0);
		EXPECT_EQ(vm_vcpu_nr_mce_reports(vcpu), 0);
		vm_destroy(vm);
	}
}

/* The guest's writes land in the memory the VMM maps: the last pass's pattern. */
TEST(guest_writes_visible_in_host_mapping)
{
	for (size_t i = 0; i < ARRAY_SIZE(configs); i++) {
		struct vm *vm = create_or_skip(&configs[i]);
		const volatile u64 *data;
		struct vcpu *vcpu;
		u64 v, pass;

		if (!vm)
			continue;
		vcpu = vm_vcpu(vm, 0);
		ASSERT_OK(vm_start(vm));
		EXPECT_OK(vm_wait_progress(vcpu, 3, TIMEOUT_MS));
		data = (const volatile u64 *)((u8 *)vm_mem(vm) + GUEST_DATA_GPA + 0x5000);
		v = *data;
		pass = v ^ (GUEST_DATA_GPA + 0x5000);
		/* Pass n writes address ^ n; the pass in flight is at most a few ahead. */
		EXPECT_GE(pass, 2);
		EXPECT_LE(pass, vm_vcpu_progress(vcpu) + 1);
		vm_destroy(vm);
	}
}

/* MCG_CAP: a bank count and MCG_SER_P | MCG_CTL_P where KVM offers them. */
TEST(mce_cap_has_banks)
{
	struct vm *vm = create_or_skip(&configs[1]);
	u64 cap;

	ASSERT_TRUE(vm != NULL);
	cap = vm_mcg_cap(vm);
	EXPECT_GE(cap & MCG_BANKCNT_MASK, 2);
	EXPECT_LE(cap & MCG_BANKCNT_MASK, VMM_MAX_BANKS);
	EXPECT_EQ(cap & ~(MCG_BANKCNT_MASK | MCG_CTL_P | MCG_SER_P), 0);
	vm_destroy(vm);
}

static void check_report(const struct vmm_mce_report *r, u64 cap, unsigned int bank, u64 status,
			 u64 addr, u64 misc, u64 mcg_status)
{
	EXPECT_EQ(r->mcg_cap, cap);
	EXPECT_EQ(r->mcg_status, mcg_status);
	EXPECT_EQ(r->nr_banks, cap & MCG_BANKCNT_MASK);
	for (unsigned int b = 0; b < r->nr_banks; b++) {
		if (b == bank) {
			EXPECT_EQ(r->bank[b].status, status);
			EXPECT_EQ(r->bank[b].addr, addr);
			EXPECT_EQ(r->bank[b].misc, misc);
		} else {
			EXPECT_EQ(r->bank[b].status & MCI_STATUS_VAL, 0);
		}
	}
}

/*
 * An action-required data load #MC at a guest physical address in the
 * workload's data area: the handler reads back what was sent, clears MCIP,
 * and the workload goes on.
 */
TEST(inject_srar_reported_exactly)
{
	for (size_t i = 0; i < ARRAY_SIZE(configs); i++) {
		struct vm *vm = create_or_skip(&configs[i]);
		struct vmm_mce_report r;
		struct vcpu *vcpu;
		u64 gpa = GUEST_DATA_GPA + 0x5000, cap, pass;
		unsigned int bank = 1;

		if (!vm)
			continue;
		vcpu = vm_vcpu(vm, 0);
		cap = vm_mcg_cap(vm);
		ASSERT_OK(vm_start(vm));
		ASSERT_OK(vm_wait_progress(vcpu, 2, TIMEOUT_MS));
		ASSERT_OK(vmm_inject_mce(vcpu, bank, SRAR_STATUS, gpa, PHYS_LSB12, SRAR_MCG));
		ASSERT_OK(vm_wait_mce_report(vcpu, 0, &r, TIMEOUT_MS));
		check_report(&r, cap, bank, SRAR_STATUS, gpa, PHYS_LSB12, SRAR_MCG);
		/* MCIP cleared: the guest runs on. */
		pass = vm_vcpu_progress(vcpu);
		EXPECT_OK(vm_wait_progress(vcpu, pass + 3, TIMEOUT_MS));
		EXPECT_EQ(vm_vcpu_stop_reason(vcpu, NULL), VCPU_RUNNING);
		EXPECT_EQ(vm_vcpu_nr_mce_reports(vcpu), 1);
		vm_destroy(vm);
	}
}

/*
 * Two #MCs one after the other, in different banks and addresses: the
 * handler cleared MCG_STATUS.MCIP and the bank after the first, so the second
 * is delivered (not a shutdown) and does not carry OVER.
 */
TEST(inject_twice_each_reported)
{
	struct vm *vm = create_or_skip(&configs[0]);
	struct vmm_mce_report r;
	struct vcpu *vcpu;
	u64 cap;

	if (!vm)
		vm = create_or_skip(&configs[1]);
	ASSERT_TRUE(vm != NULL);
	vcpu = vm_vcpu(vm, 0);
	cap = vm_mcg_cap(vm);
	ASSERT_OK(vm_start(vm));
	ASSERT_OK(vm_wait_progress(vcpu, 1, TIMEOUT_MS));
	ASSERT_OK(vmm_inject_mce(vcpu, 0, SRAR_STATUS, GUEST_DATA_GPA, PHYS_LSB12, SRAR_MCG));
	ASSERT_OK(vm_wait_mce_report(vcpu, 0, &r, TIMEOUT_MS));
	check_report(&r, cap, 0, SRAR_STATUS, GUEST_DATA_GPA, PHYS_LSB12, SRAR_MCG);
	ASSERT_OK(vmm_inject_mce(vcpu, 1, SRAR_STATUS, GUEST_DATA_GPA + 0x1000, PHYS_LSB12,
				 SRAR_MCG));
	ASSERT_OK(vm_wait_mce_report(vcpu, 1, &r, TIMEOUT_MS));
	check_report(&r, cap, 1, SRAR_STATUS, GUEST_DATA_GPA + 0x1000, PHYS_LSB12, SRAR_MCG);
	EXPECT_EQ(vm_vcpu_stop_reason(vcpu, NULL), VCPU_RUNNING);
	vm_destroy(vm);
}

/* A bank beyond MCG_CAP's count is refused before KVM sees it. */
TEST(inject_bad_bank_einval)
{
	struct vm *vm = create_or_skip(&configs[1]);
	unsigned int banks;

	ASSERT_TRUE(vm != NULL);
	banks = (unsigned int)(vm_mcg_cap(vm) & MCG_BANKCNT_MASK);
	EXPECT_ERR(vmm_inject_mce(vm_vcpu(vm, 0), banks, SRAR_STATUS, GUEST_DATA_GPA,
				  PHYS_LSB12, SRAR_MCG), -EINVAL);
	vm_destroy(vm);
}

/* Two vCPUs, each its own thread and workload; a #MC goes to the one it is sent to. */
TEST(two_vcpus_inject_one)
{
	struct vm_config cfg = { .mem = VMM_MEM_MEMFD, .nr_vcpus = 2 };
	struct vm *vm = create_or_skip(&cfg);
	struct vmm_mce_report r;

	ASSERT_TRUE(vm != NULL);
	ASSERT_OK(vm_start(vm));
	EXPECT_OK(vm_wait_progress(vm_vcpu(vm, 0), 2, TIMEOUT_MS));
	EXPECT_OK(vm_wait_progress(vm_vcpu(vm, 1), 2, TIMEOUT_MS));
	ASSERT_OK(vmm_inject_mce(vm_vcpu(vm, 1), 0, SRAR_STATUS, GUEST_DATA_GPA, PHYS_LSB12,
				 SRAR_MCG));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(vm, 1), 0, &r, TIMEOUT_MS));
	EXPECT_EQ(r.bank[0].addr, GUEST_DATA_GPA);
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vm_vcpu(vm, 0)), 0);
	EXPECT_TRUE(vm_vcpu(vm, 2) == NULL);
	vm_destroy(vm);
}

/* Bad configurations are refused with -EINVAL and nothing is left behind. */
TEST(bad_config_einval)
{
	static const struct vm_config bad[] = {
		{ .mem_size = 2 * SZ_1M },
		{ .mem_size = GUEST_MEM_MIN + 4096 },
		{ .nr_vcpus = VMM_MAX_VCPUS + 1 },
		{ .nr_vcpus = -1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct vm *vm = (struct vm *)1;
		char why[128];

		EXPECT_ERR(vm_create(&bad[i], &vm, why, sizeof(why)), -EINVAL);
		EXPECT_TRUE(vm == NULL);
	}
}

/*
 * Live update (issue 8 §5): a second VM on the first one's memfd sees its
 * memory as it was (nothing reloaded or zeroed) and its workload resumes
 * from the pass counter kept there.
 */
TEST(inherit_memfd_keeps_memory)
{
	struct vm_config cfg = { .mem = VMM_MEM_MEMFD };
	volatile u64 *pass, *mark;
	struct vm *vm, *vm2;
	u64 kept;

	vm = create_or_skip(&cfg);
	ASSERT_TRUE(vm != NULL);
	ASSERT_OK(vm_start(vm));
	EXPECT_OK(vm_wait_progress(vm_vcpu(vm, 0), 5, TIMEOUT_MS));
	cfg.inherit = true;
	cfg.mem_fd = dup(vm_mem_fd(vm));
	ASSERT_TRUE(cfg.mem_fd >= 0);
	vm_destroy(vm);		/* the guest stopped: its counter stays put */

	vm2 = create_or_skip(&cfg);
	ASSERT_TRUE(vm2 != NULL);
	EXPECT_EQ(vm_mem_kind(vm2), VMM_MEM_MEMFD);
	pass = (volatile u64 *)((u8 *)vm_mem(vm2) + GUEST_PASS_GPA);
	mark = (volatile u64 *)((u8 *)vm_mem(vm2) + 0x180000);
	kept = *pass;
	EXPECT_GE(kept, 5);
	*mark = 0x5a5a1234;
	ASSERT_OK(vm_start(vm2));
	EXPECT_OK(vm_wait_progress(vm_vcpu(vm2, 0), kept + 3, TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_bad_reads(vm_vcpu(vm2, 0)), 0);
	EXPECT_EQ(*mark, 0x5a5a1234);
	vm_destroy(vm2);
}

/* A guest_memfd is tied to its VM: another VM cannot bind it (-EINVAL). */
TEST(inherit_guest_memfd_refused)
{
	struct vm_config cfg = { .mem = VMM_MEM_GUEST_MEMFD };
	struct vm *vm, *vm2 = (struct vm *)1;
	char why[160];

	vm = create_or_skip(&cfg);
	if (!vm)
		T_SKIP("no guest_memfd");
	cfg.inherit = true;
	cfg.mem_fd = dup(vm_mem_fd(vm));
	ASSERT_TRUE(cfg.mem_fd >= 0);
	EXPECT_ERR(vm_create(&cfg, &vm2, why, sizeof(why)), -EINVAL);
	printf("# %s\n", why);
	EXPECT_TRUE(vm2 == NULL);
	vm_destroy(vm);
}

static struct {
	bool hold;
	unsigned int held;	/* answers "held" */
} hs;

static bool test_hold(void *arg, int vcpu)
{
	bool h = __atomic_load_n(&hs.hold, __ATOMIC_SEQ_CST);

	if (h)
		__atomic_add_fetch(&hs.held, 1, __ATOMIC_SEQ_CST);
	return h;
}

static s64 ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (s64)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * A vCPU its hold hook holds out of the guest: it waits (does not spin, does
 * not run the guest), carries out a vmm_inject_mce() posted meanwhile at once
 * (the intake injects into the very vCPU it holds), and runs again as soon as
 * vm_vcpu_wake() says the hook's answer changed. (How long each takes is a
 * figure of make bench, not an assertion.)
 */
TEST(hold_serves_requests_and_wakes)
{
	static const struct vm_hooks hooks = { .hold = test_hold };
	struct vm *vm = create_or_skip(&configs[1]);
	struct timespec t0, nap = { 0, 1000000 };
	struct vmm_mce_report r;
	struct vcpu *vcpu;
	u64 pass;
	unsigned int held;

	ASSERT_TRUE(vm != NULL);
	vcpu = vm_vcpu(vm, 0);
	hs.hold = false;
	hs.held = 0;
	vm_set_hooks(vm, &hooks, NULL);
	ASSERT_OK(vm_start(vm));
	ASSERT_OK(vm_wait_progress(vcpu, 2, TIMEOUT_MS));
	__atomic_store_n(&hs.hold, true, __ATOMIC_SEQ_CST);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&hs.held, __ATOMIC_SEQ_CST) && ms_since(&t0) < TIMEOUT_MS)
		nanosleep(&nap, NULL);
	ASSERT_GT(hs.held, 0);
	pass = vm_vcpu_progress(vcpu);
	held = __atomic_load_n(&hs.held, __ATOMIC_SEQ_CST);
	nap.tv_nsec = 30 * 1000000;
	nanosleep(&nap, NULL);
	EXPECT_EQ(vm_vcpu_progress(vcpu), pass);
	/* Waiting, not asking in a loop: the guard alone would ask once in 30 ms. */
	EXPECT_LE(__atomic_load_n(&hs.held, __ATOMIC_SEQ_CST), held + 1);

	ASSERT_OK(vmm_inject_mce(vcpu, 1, SRAR_STATUS, GUEST_DATA_GPA + 0x3000, PHYS_LSB12,
				 SRAR_MCG));
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vcpu), 0);	/* injected, the guest still held */

	__atomic_store_n(&hs.hold, false, __ATOMIC_SEQ_CST);
	vm_vcpu_wake(vcpu);
	ASSERT_OK(vm_wait_mce_report(vcpu, 0, &r, TIMEOUT_MS));
	check_report(&r, vm_mcg_cap(vm), 1, SRAR_STATUS, GUEST_DATA_GPA + 0x3000, PHYS_LSB12,
		     SRAR_MCG);
	EXPECT_OK(vm_wait_progress(vcpu, pass + 2, TIMEOUT_MS));
	vm_destroy(vm);
}

/* "GenuineIntel", "AuthenticAMD", ... from /proc/cpuinfo, or "". */
static const char *host_vendor(void)
{
	static char vendor[32];
	char line[256];
	FILE *f;

	if (vendor[0])
		return vendor;
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "vendor_id : %31s", vendor) == 1)
			break;
	if (f)
		fclose(f);
	return vendor;
}

/* MCG_CAP from what KVM offers: LMCE only when offered, and refused by name otherwise. */
TEST(mce_cap_lmce)
{
	u64 cap = 0;
	char why[256] = "";

	ASSERT_OK(vm_mce_cap(MCG_CTL_P | MCG_SER_P | MCG_LMCE_P, 32, true, &cap, why, sizeof(why)));
	EXPECT_EQ(cap, 32 | MCG_CTL_P | MCG_SER_P | MCG_LMCE_P);
	ASSERT_OK(vm_mce_cap(MCG_CTL_P | MCG_SER_P | MCG_LMCE_P, 32, false, &cap, why,
			     sizeof(why)));
	EXPECT_EQ(cap, 32 | MCG_CTL_P | MCG_SER_P);
	/* A count in the supported MCG_CAP wins; at most VMM_MAX_BANKS. */
	ASSERT_OK(vm_mce_cap(10 | MCG_SER_P, 32, false, &cap, why, sizeof(why)));
	EXPECT_EQ(cap, 10 | MCG_SER_P);
	ASSERT_OK(vm_mce_cap(MCG_SER_P, 64, false, &cap, why, sizeof(why)));
	EXPECT_EQ(cap, VMM_MAX_BANKS | MCG_SER_P);
	cap = 7;
	EXPECT_ERR(vm_mce_cap(MCG_CTL_P | MCG_SER_P, 32, true, &cap, why, sizeof(why)),
		   -EOPNOTSUPP);
	printf("# %s\n", why);
	EXPECT_TRUE(strstr(why, "MCG_LMCE_P") != NULL);
	EXPECT_TRUE(strstr(why, "KVM_X86_GET_MCE_CAP_SUPPORTED (0x1000100)") != NULL);
	EXPECT_EQ(cap, 7);
	EXPECT_ERR(vm_mce_cap(MCG_SER_P, 0, false, &cap, why, sizeof(why)), -EOPNOTSUPP);
	EXPECT_TRUE(strstr(why, "KVM_CAP_MCE") != NULL);
}

/*
 * On real KVM: a VM asking for LMCE gets MCG_LMCE_P in the MCG_CAP its guest
 * reads where KVM offers it, and vm_create() fails naming it where not (an
 * AMD host's KVM never offers it; an Intel one does).
 */
TEST(lmce_vm)
{
	struct vm_config cfg = { .mem = VMM_MEM_MEMFD, .lmce = true };
	struct vmm_mce_report r;
	char why[256] = "";
	struct vm *vm;
	int ret;

	ret = vm_create(&cfg, &vm, why, sizeof(why));
	if (ret == -ENODEV || ret == -ENOENT || ret == -EACCES)
		T_SKIP(why);
	printf("# host CPU vendor %s\n", host_vendor());
	if (strcmp(host_vendor(), "GenuineIntel")) {
		/* SVM's KVM has no LMCE: refused, by name. */
		printf("# %s\n", why);
		if (!strcmp(host_vendor(), "AuthenticAMD"))
			EXPECT_ERR(ret, -EOPNOTSUPP);
		if (ret) {
			EXPECT_TRUE(strstr(why, "MCG_LMCE_P") != NULL);
			return;
		}
		vm_destroy(vm);
		T_SKIP("neither Intel nor AMD: KVM offers LMCE here");
	}
	ASSERT_OK(ret);
	EXPECT_TRUE(vm_mcg_cap(vm) & MCG_LMCE_P);
	ASSERT_OK(vm_start(vm));
	ASSERT_OK(vm_wait_progress(vm_vcpu(vm, 0), 2, TIMEOUT_MS));
	ASSERT_OK(vmm_inject_mce(vm_vcpu(vm, 0), 1, SRAR_STATUS, GUEST_DATA_GPA, PHYS_LSB12,
				 SRAR_MCG | MCG_STATUS_LMCES));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(vm, 0), 0, &r, TIMEOUT_MS));
	check_report(&r, vm_mcg_cap(vm), 1, SRAR_STATUS, GUEST_DATA_GPA, PHYS_LSB12,
		     SRAR_MCG | MCG_STATUS_LMCES);
	vm_destroy(vm);
}

/*
 * vm_punch_page(): the page's contents are gone (a fresh zeroed page on next
 * touch, in the VMM's mapping as for the guest), its neighbours untouched,
 * on guest_memfd and on memfd; beyond guest memory -ERANGE.
 */
TEST(punch_page_replaces_it)
{
	for (size_t i = 0; i < ARRAY_SIZE(configs); i++) {
		struct vm *vm = create_or_skip(&configs[i]);
		volatile u64 *p;

		if (!vm)
			continue;
		p = (volatile u64 *)((u8 *)vm_mem(vm) + GUEST_DATA_GPA + 0x6000);
		p[-512] = 0x1111;		/* the page before */
		p[0] = 0x2222;
		p[511] = 0x3333;
		p[512] = 0x4444;		/* the page after */
		ASSERT_OK(vm_punch_page(vm, GUEST_DATA_GPA + 0x6123));
		EXPECT_EQ(p[0], 0);
		EXPECT_EQ(p[511], 0);
		EXPECT_EQ(p[-512], 0x1111);
		EXPECT_EQ(p[512], 0x4444);
		p[0] = 0x5555;			/* a fresh page, writable again */
		EXPECT_EQ(p[0], 0x5555);
		EXPECT_ERR(vm_punch_page(vm, vm_mem_size(vm)), -ERANGE);
		vm_destroy(vm);
	}
}

/*
 * vm_reset(): refused while the vCPUs run; after vm_stop() the guest starts
 * over at its entry (its pass counter from 0, the payload reloaded even where
 * it was punched out) and takes a #MC again, on both memory kinds.
 */
TEST(reset_restarts_guest)
{
	for (size_t i = 0; i < ARRAY_SIZE(configs); i++) {
		struct vm *vm = create_or_skip(&configs[i]);
		struct vmm_mce_report r;
		struct vcpu *vcpu;
		char why[160] = "";
		u64 before;

		if (!vm)
			continue;
		vcpu = vm_vcpu(vm, 0);
		ASSERT_OK(vm_start(vm));
		ASSERT_OK(vm_wait_progress(vcpu, 30, TIMEOUT_MS));
		ASSERT_OK(vmm_inject_mce(vcpu, 1, SRAR_STATUS, GUEST_DATA_GPA, PHYS_LSB12, SRAR_MCG));
		ASSERT_OK(vm_wait_mce_report(vcpu, 0, &r, TIMEOUT_MS));
		EXPECT_ERR(vm_reset(vm, why, sizeof(why)), -EBUSY);
		vm_stop(vm);
		EXPECT_EQ(vm_vcpu_stop_reason(vcpu, NULL), VCPU_STOPPED);
		before = *(volatile u64 *)((u8 *)vm_mem(vm) + GUEST_PASS_GPA);
		EXPECT_GE(before, 30);
		/* The payload's first page gone: the reset reloads it. */
		ASSERT_OK(vm_punch_page(vm, GUEST_CODE_GPA));
		ASSERT_OK(vm_reset(vm, why, sizeof(why)));
		EXPECT_EQ(vm_vcpu_progress(vcpu), 0);
		EXPECT_EQ(vm_vcpu_stop_reason(vcpu, NULL), VCPU_RUNNING);
		ASSERT_OK(vm_start(vm));
		ASSERT_OK(vm_wait_progress(vcpu, 3, TIMEOUT_MS));
		EXPECT_LT(vm_vcpu_progress(vcpu), before);
		EXPECT_EQ(vm_vcpu_bad_reads(vcpu), 0);
		ASSERT_OK(vmm_inject_mce(vcpu, 2, SRAR_STATUS, GUEST_DATA_GPA + 0x1000, PHYS_LSB12,
					 SRAR_MCG));
		ASSERT_OK(vm_wait_mce_report(vcpu, 1, &r, TIMEOUT_MS));
		check_report(&r, vm_mcg_cap(vm), 2, SRAR_STATUS, GUEST_DATA_GPA + 0x1000, PHYS_LSB12,
			     SRAR_MCG);
		EXPECT_EQ(vm_vcpu_stop_reason(vcpu, NULL), VCPU_RUNNING);
		vm_destroy(vm);
	}
}

/* The reset handler's calls (on the vCPU thread that took the request). */
static struct {
	unsigned int calls;
	struct vm_reset_request last;
} rs;

static void test_reset_fn(void *arg, const struct vm_reset_request *req)
{
	rs.last = *req;
	__atomic_add_fetch(&rs.calls, 1, __ATOMIC_SEQ_CST);
}

/*
 * The guest asks for a reset as a PC's does (its payload's request qword):
 * an OUT of 0x06 to port 0xcf9, of 0xfe to port 0x64, a triple fault. Each
 * stops its vCPU as VCPU_RESET, is kept (vm_reset_request()) and handed to
 * the reset handler once; the other vCPU stops too; vm_reset() serves it and
 * the guest runs again from its entry, until it asks again.
 */
TEST(guest_asks_for_reset)
{
	static const struct {
		u64 req;
		enum vm_reset_cause cause;
		u32 exit_reason, value;
	} ways[] = {
		{ GUEST_REQ_RESET_CF9, VM_RESET_PORT_CF9, KVM_EXIT_IO, 0x06 },
		{ GUEST_REQ_RESET_KBC, VM_RESET_PORT_KBC, KVM_EXIT_IO, 0xfe },
		{ GUEST_REQ_TRIPLE_FAULT, VM_RESET_TRIPLE_FAULT, KVM_EXIT_SHUTDOWN, 0 },
	};
	struct vm_config cfg = { .mem = VMM_MEM_MEMFD, .nr_vcpus = 2 };
	struct vm *vm = create_or_skip(&cfg);
	struct vm_reset_request req;
	char why[160] = "";

	ASSERT_TRUE(vm != NULL);
	memset(&rs, 0, sizeof(rs));
	vm_set_reset_handler(vm, test_reset_fn, NULL);
	EXPECT_FALSE(vm_reset_request(vm, &req));
	EXPECT_EQ(req.cause, VM_RESET_NONE);
	EXPECT_ERR(vm_guest_request(vm, 2, GUEST_REQ_RESET_CF9), -EINVAL);
	ASSERT_OK(vm_start(vm));
	for (size_t i = 0; i < ARRAY_SIZE(ways); i++) {
		u32 exit_reason = 0;

		printf("# %s\n", vm_reset_cause_name(ways[i].cause));
		ASSERT_OK(vm_wait_progress(vm_vcpu(vm, 0), 3, TIMEOUT_MS));
		ASSERT_OK(vm_wait_progress(vm_vcpu(vm, 1), 3, TIMEOUT_MS));
		ASSERT_OK(vm_guest_request(vm, 0, ways[i].req));
		ASSERT_OK(vm_wait_reset_request(vm, &req, TIMEOUT_MS));
		EXPECT_EQ(req.cause, ways[i].cause);
		EXPECT_EQ(req.vcpu, 0);
		EXPECT_EQ(req.value, ways[i].value);
		EXPECT_EQ(req.nr, 1);
		ASSERT_EQ(vm_wait_progress(vm_vcpu(vm, 0), ~0ULL, TIMEOUT_MS), -ESRCH);
		EXPECT_EQ(vm_vcpu_stop_reason(vm_vcpu(vm, 0), &exit_reason), VCPU_RESET);
		EXPECT_EQ(exit_reason, ways[i].exit_reason);
		/* The other vCPU stops at its next exit: a reset stops the machine. */
		EXPECT_ERR(vm_wait_progress(vm_vcpu(vm, 1), ~0ULL, TIMEOUT_MS), -ESRCH);
		EXPECT_EQ(vm_vcpu_stop_reason(vm_vcpu(vm, 1), NULL), VCPU_STOPPED);
		vm_stop(vm);
		/* The handler ran on the thread before it ended, once. */
		EXPECT_EQ(__atomic_load_n(&rs.calls, __ATOMIC_SEQ_CST), i + 1);
		EXPECT_EQ(rs.last.cause, ways[i].cause);
		EXPECT_EQ(rs.last.vcpu, 0);
		EXPECT_TRUE(vm_reset_request(vm, NULL));
		ASSERT_OK(vm_reset(vm, why, sizeof(why)));
		EXPECT_FALSE(vm_reset_request(vm, NULL));
		EXPECT_EQ(vm_vcpu_stop_reason(vm_vcpu(vm, 0), NULL), VCPU_RUNNING);
		ASSERT_OK(vm_start(vm));
	}
	/* Served: the guest runs on, and asks nothing more (its requests were cleared). */
	ASSERT_OK(vm_wait_progress(vm_vcpu(vm, 0), 5, TIMEOUT_MS));
	ASSERT_OK(vm_wait_progress(vm_vcpu(vm, 1), 5, TIMEOUT_MS));
	EXPECT_FALSE(vm_reset_request(vm, NULL));
	EXPECT_EQ(__atomic_load_n(&rs.calls, __ATOMIC_SEQ_CST), ARRAY_SIZE(ways));
	vm_destroy(vm);
}

/*
 * A #MC while the previous one is in progress: KVM_X86_SET_MCE with MCIP
 * already set in the vCPU's MCG_STATUS makes KVM_REQ_TRIPLE_FAULT (x86.c,
 * kvm_vcpu_x86_set_mce()), the next KVM_RUN exits KVM_EXIT_SHUTDOWN. Made
 * deterministic by holding the vCPU (its hold hook) across both
 * injections: the guest cannot take the first and clear MCIP in between.
 * The vCPU stops for a reset, and after vm_reset() the guest runs again
 * (its pass counter advances) and takes a #MC as before.
 */
TEST(triple_fault_mcip_resets)
{
	static const struct vm_hooks hooks = { .hold = test_hold };
	struct vm *vm = create_or_skip(&configs[1]);
	struct vm_reset_request req;
	struct vmm_mce_report r;
	struct timespec t0, nap = { 0, 1000000 };
	struct vcpu *vcpu;
	char why[160] = "";
	u32 exit_reason = 0;

	ASSERT_TRUE(vm != NULL);
	vcpu = vm_vcpu(vm, 0);
	memset(&rs, 0, sizeof(rs));
	hs.hold = false;
	hs.held = 0;
	vm_set_hooks(vm, &hooks, NULL);
	vm_set_reset_handler(vm, test_reset_fn, NULL);
	ASSERT_OK(vm_start(vm));
	ASSERT_OK(vm_wait_progress(vcpu, 2, TIMEOUT_MS));
	__atomic_store_n(&hs.hold, true, __ATOMIC_SEQ_CST);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&hs.held, __ATOMIC_SEQ_CST) && ms_since(&t0) < TIMEOUT_MS)
		nanosleep(&nap, NULL);
	ASSERT_GT(hs.held, 0);

	/* Both done by the held thread between two KVM_RUNs: the second finds MCIP. */
	ASSERT_OK(vmm_inject_mce(vcpu, 1, SRAR_STATUS, GUEST_DATA_GPA + 0x5000, PHYS_LSB12,
				 SRAR_MCG));
	ASSERT_OK(vmm_inject_mce(vcpu, 2, SRAR_STATUS, GUEST_DATA_GPA + 0x6000, PHYS_LSB12,
				 SRAR_MCG));
	EXPECT_FALSE(vm_reset_request(vm, NULL));
	__atomic_store_n(&hs.hold, false, __ATOMIC_SEQ_CST);
	vm_vcpu_wake(vcpu);

	ASSERT_OK(vm_wait_reset_request(vm, &req, TIMEOUT_MS));
	EXPECT_EQ(req.cause, VM_RESET_TRIPLE_FAULT);
	EXPECT_EQ(req.vcpu, 0);
	ASSERT_EQ(vm_wait_progress(vcpu, ~0ULL, TIMEOUT_MS), -ESRCH);
	EXPECT_EQ(vm_vcpu_stop_reason(vcpu, &exit_reason), VCPU_RESET);
	EXPECT_EQ(exit_reason, KVM_EXIT_SHUTDOWN);
	EXPECT_EQ(vm_vcpu_nr_mce_reports(vcpu), 0);	/* the first #MC never ran */

	vm_stop(vm);
	EXPECT_EQ(__atomic_load_n(&rs.calls, __ATOMIC_SEQ_CST), 1);
	ASSERT_OK(vm_reset(vm, why, sizeof(why)));
	EXPECT_FALSE(vm_reset_request(vm, NULL));
	ASSERT_OK(vm_start(vm));
	ASSERT_OK(vm_wait_progress(vcpu, 3, TIMEOUT_MS));
	/* MCG_STATUS is clear again: one #MC is one #MC, not a shutdown. */
	ASSERT_OK(vmm_inject_mce(vcpu, 1, SRAR_STATUS, GUEST_DATA_GPA + 0x7000, PHYS_LSB12,
				 SRAR_MCG));
	ASSERT_OK(vm_wait_mce_report(vcpu, 0, &r, TIMEOUT_MS));
	check_report(&r, vm_mcg_cap(vm), 1, SRAR_STATUS, GUEST_DATA_GPA + 0x7000, PHYS_LSB12,
		     SRAR_MCG);
	EXPECT_OK(vm_wait_progress(vcpu, vm_vcpu_progress(vcpu) + 2, TIMEOUT_MS));
	EXPECT_EQ(vm_vcpu_stop_reason(vcpu, NULL), VCPU_RUNNING);
	EXPECT_EQ(__atomic_load_n(&rs.calls, __ATOMIC_SEQ_CST), 1);
	vm_destroy(vm);
}

static const struct t_case cases[] = {
	T(guest_boots_and_makes_progress),
	T(guest_writes_visible_in_host_mapping),
	T(mce_cap_has_banks),
	T(inject_srar_reported_exactly),
	T(inject_twice_each_reported),
	T(inject_bad_bank_einval),
	T(two_vcpus_inject_one),
	T(bad_config_einval),
	T(inherit_memfd_keeps_memory),
	T(inherit_guest_memfd_refused),
	T(hold_serves_requests_and_wakes),
	T(mce_cap_lmce),
	T(lmce_vm),
	T(punch_page_replaces_it),
	T(reset_restarts_guest),
	T(guest_asks_for_reset),
	T(triple_fault_mcip_resets),
};

T_MAIN("vmm/test_vm", cases)
