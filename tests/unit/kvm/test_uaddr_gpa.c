// SPDX-License-Identifier: MIT
/*
 * kvm_uaddr_to_gpa(): a user address of a task as guest memory, from the
 * model's own VMAs and memslots; and the trace sink that lets an observer
 * ask it while the event that named the address is being recorded.
 */
#include "kvm/kvm.h"
#include "tests/harness/t_model.h"

struct t_vmm {
	struct t_host th;
	struct task_struct *vmm;
	struct kvm *kvm;
};

static void t_vmm_init(struct t_vmm *v, unsigned long type)
{
	int err;

	t_host_init(&v->th, NULL);
	v->vmm = t_process(&v->th, "vmm");
	v->vmm->sigbus_handler = true;
	v->kvm = kvm_create_vm(v->th.host, v->vmm, type, &err);
	ASSERT_OK(err);
}

static void t_vmm_free(struct t_vmm *v)
{
	t_kvm_host_free(&v->th);
}

static int t_gmem_slot(struct kvm *kvm, u32 slot, u64 gpa, u64 size, struct kvm_gmem *g, u64 off)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = gpa,
		.memory_size = size, .guest_memfd = g->file, .guest_memfd_valid = true,
		.guest_memfd_offset = off,
	};

	return kvm_set_user_memory_region2(kvm, &m);
}

static int t_user_slot(struct kvm *kvm, u32 slot, u64 gpa, u64 size, unsigned long uaddr)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size, .userspace_addr = uaddr,
	};

	return kvm_set_user_memory_region2(kvm, &m);
}

/* A guest_memfd slot is found by the file and offset the VMM's mapping has there. */
TEST(uaddr_gpa_gmem_by_file_offset)
{
	struct t_vmm v;
	struct kvm_gmem *g;
	struct kvm_uaddr_gpa r[2];
	unsigned long addr;
	u64 eoff = 0;
	int err;

	t_vmm_init(&v, KVM_X86_SW_PROTECTED_VM);
	g = kvm_gmem_create(v.kvm, 4 << 20, GUEST_MEMFD_FLAG_MMAP, &err);
	ASSERT_OK(err);
	ASSERT_OK(kvm_gmem_set_attributes(g, 0, 4 << 20, 0, 0, &eoff));
	/* Slot 3: file offset 1M.. at gpa 16M.. */
	ASSERT_OK(t_gmem_slot(v.kvm, 3, 16 << 20, 2 << 20, g, 1 << 20));
	/* The mapping starts at file offset 512K. */
	addr = t_mmap_file(v.vmm, g->file, 2 << 20, (512 << 10) >> PAGE_SHIFT, VM_SHARED);
	ASSERT_NE(addr, 0);
	ASSERT_EQ(kvm_uaddr_to_gpa(v.vmm, addr + (512 << 10) + 0x5123, r, 2), 1);
	EXPECT_TRUE(r[0].kvm == v.kvm);
	EXPECT_EQ(r[0].slot->id, 3);
	EXPECT_EQ(r[0].gpa, (16 << 20) + 0x5123);
	EXPECT_TRUE(r[0].gmem);
	EXPECT_FALSE(r[0].private);
	EXPECT_TRUE(r[0].file == g->file);
	EXPECT_EQ(r[0].offset, (1 << 20) + 0x5123);
	/* Below the slot's offset: the file, but no memslot. */
	EXPECT_ERR(kvm_uaddr_to_gpa(v.vmm, addr + 0x1000, r, 2), -ENOENT);
	/* Not mapped at all. */
	EXPECT_ERR(kvm_uaddr_to_gpa(v.vmm, addr + (4 << 20), r, 2), -EFAULT);
	EXPECT_ERR(kvm_uaddr_to_gpa(v.vmm, 0x1000, r, 2), -EFAULT);
	/* A page converted to private (the file's own attributes) is reported so. */
	ASSERT_OK(kvm_gmem_set_attributes(g, (1 << 20) + 0x10000, PAGE_SIZE,
					  KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, &eoff));
	ASSERT_EQ(kvm_uaddr_to_gpa(v.vmm, addr + (512 << 10) + 0x10000, r, 2), 1);
	EXPECT_TRUE(r[0].private);
	EXPECT_EQ(r[0].gpa, (16 << 20) + 0x10000);
	/* Once the slot is deleted nothing maps it. */
	ASSERT_OK(t_gmem_slot(v.kvm, 3, 16 << 20, 0, g, 1 << 20));
	EXPECT_ERR(kvm_uaddr_to_gpa(v.vmm, addr + (512 << 10) + 0x5123, r, 2), -ENOENT);
	t_vmm_free(&v);
}

/* Another process's mapping of the same guest_memfd is the same guest memory. */
TEST(uaddr_gpa_gmem_other_process)
{
	struct t_vmm v;
	struct task_struct *helper;
	struct kvm_gmem *g;
	struct kvm_uaddr_gpa r;
	unsigned long addr;
	int err;

	t_vmm_init(&v, KVM_X86_DEFAULT_VM);
	helper = t_process(&v.th, "helper");
	g = kvm_gmem_create(v.kvm, 2 << 20, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, &err);
	ASSERT_OK(err);
	ASSERT_OK(t_gmem_slot(v.kvm, 0, 0, 2 << 20, g, 0));
	addr = t_mmap_file(helper, g->file, 2 << 20, 0, VM_SHARED);
	ASSERT_NE(addr, 0);
	ASSERT_EQ(kvm_uaddr_to_gpa(helper, addr + 0x5000, &r, 1), 1);
	EXPECT_TRUE(r.kvm == v.kvm);
	EXPECT_EQ(r.gpa, 0x5000);
	EXPECT_TRUE(r.gmem);
	t_vmm_free(&v);
}

/*
 * A plain slot is found by its userspace_addr range, for the VMs whose VMM
 * has the task's mm (its threads included); another process's same address
 * is other memory.
 */
TEST(uaddr_gpa_user_slots)
{
	struct t_vmm v;
	struct task_struct *thread, *other;
	struct kvm *kvm2;
	struct kvm_uaddr_gpa r[2];
	unsigned long addr, oaddr;
	int err;

	t_vmm_init(&v, KVM_X86_DEFAULT_VM);
	thread = task_create(v.th.host, "vcpu0", v.vmm);
	ASSERT_NOT_NULL(thread);
	other = t_process(&v.th, "other");
	addr = t_mmap_anon(v.vmm, 2 << 20, 0);
	oaddr = t_mmap_anon(other, 2 << 20, 0);
	ASSERT_OK(t_user_slot(v.kvm, 1, 1 << 20, 1 << 20, addr + (1 << 20)));
	EXPECT_ERR(kvm_uaddr_to_gpa(v.vmm, addr + 0x1000, r, 2), -ENOENT);
	ASSERT_EQ(kvm_uaddr_to_gpa(thread, addr + (1 << 20) + 0x2345, r, 2), 1);
	EXPECT_TRUE(r[0].kvm == v.kvm);
	EXPECT_EQ(r[0].slot->id, 1);
	EXPECT_EQ(r[0].gpa, (1 << 20) + 0x2345);
	EXPECT_FALSE(r[0].gmem);
	EXPECT_TRUE(r[0].file == NULL);
	EXPECT_FALSE(r[0].private);
	if (oaddr == addr)
		EXPECT_ERR(kvm_uaddr_to_gpa(other, oaddr + (1 << 20) + 0x2345, r, 2), -ENOENT);
	/* Two VMs of the same VMM over the same memory: both, however many fit. */
	kvm2 = kvm_create_vm(v.th.host, v.vmm, KVM_X86_DEFAULT_VM, &err);
	ASSERT_OK(err);
	ASSERT_OK(t_user_slot(kvm2, 0, 0, 2 << 20, addr));
	ASSERT_EQ(kvm_uaddr_to_gpa(v.vmm, addr + (1 << 20) + 0x2345, r, 2), 2);
	EXPECT_TRUE(r[0].kvm == v.kvm);
	EXPECT_EQ(r[0].gpa, (1 << 20) + 0x2345);
	EXPECT_TRUE(r[1].kvm == kvm2);
	EXPECT_EQ(r[1].gpa, (1 << 20) + 0x2345);
	EXPECT_EQ(kvm_uaddr_to_gpa(v.vmm, addr + (1 << 20) + 0x2345, r, 1), 2);
	EXPECT_TRUE(r[0].kvm == v.kvm);
	ASSERT_EQ(kvm_uaddr_to_gpa(v.vmm, addr + 0x2345, r, 2), 1);
	EXPECT_TRUE(r[0].kvm == kvm2);
	EXPECT_EQ(r[0].gpa, 0x2345);
	t_vmm_free(&v);
}

struct t_sink {
	struct host *host;
	int signals;
	int found;
	struct kvm_uaddr_gpa r;
};

/* At the signal, while memory_failure() still runs: where the address is guest memory. */
static void t_sink_fn(void *arg, const struct trace_event *e)
{
	struct t_sink *s = arg;

	if (e->kind != TRACE_SIGNAL)
		return;
	s->signals++;
	s->found = kvm_uaddr_to_gpa(find_task_by_pid(s->host, e->pid), (unsigned long)e->addr,
				    &s->r, 1);
}

/* The sink sees each event as it is recorded, with the model state live. */
TEST(uaddr_gpa_from_trace_sink)
{
	struct t_vmm v;
	struct t_sink s = { 0 };
	struct kvm_gmem *g;
	unsigned long addr, pfn;
	unsigned long nr;
	int err;

	t_vmm_init(&v, KVM_X86_DEFAULT_VM);
	v.th.host->sysctl.mf_delayed_fix = true;
	ASSERT_OK(task_prctl_mce_kill(v.vmm, 1, 1));	/* early kill */
	g = kvm_gmem_create(v.kvm, 4 << 20, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, &err);
	ASSERT_OK(err);
	ASSERT_OK(t_gmem_slot(v.kvm, 0, 0, 4 << 20, g, 0));
	addr = t_mmap_file(v.vmm, g->file, 4 << 20, 0, VM_SHARED);
	ASSERT_NE(addr, 0);
	pfn = t_touch(v.vmm, addr + 0x3ff000, true);
	s.host = v.th.host;
	v.th.trace.sink = t_sink_fn;
	v.th.trace.sink_arg = &s;
	nr = v.th.trace.nr;
	(void)memory_failure(v.th.host, pfn, 0);
	v.th.trace.sink = NULL;
	EXPECT_EQ(s.signals, 1);
	ASSERT_EQ(s.found, 1);
	EXPECT_TRUE(s.r.kvm == v.kvm);
	EXPECT_EQ(s.r.gpa, 0x3ff000);
	EXPECT_TRUE(s.r.gmem);
	/* The sink saw what the trace stored, no more. */
	EXPECT_EQ(t_count_events(&v.th, TRACE_SIGNAL, NULL), 1);
	EXPECT_GT(v.th.trace.nr, nr);
	signals_deliver(v.th.host);
	t_vmm_free(&v);
}

static const struct t_case cases[] = {
	T(uaddr_gpa_gmem_by_file_offset),
	T(uaddr_gpa_gmem_other_process),
	T(uaddr_gpa_user_slots),
	T(uaddr_gpa_from_trace_sink),
};

T_MAIN("kvm/test_uaddr_gpa", cases)
