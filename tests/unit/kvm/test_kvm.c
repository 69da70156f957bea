// SPDX-License-Identifier: MIT
/* The KVM and guest_memfd model: uAPI rules, stage-2, exits, memory failure. */
#include "arch/x86/kvm.h"
#include "kvm/kvm.h"
#include "tests/harness/t_model.h"

struct t_vm {
	struct t_host th;
	struct task_struct *vmm, *vcpu_thread;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
};

static void t_vm_init(struct t_vm *v, unsigned long type)
{
	int err;

	t_host_init(&v->th, NULL);
	v->vmm = t_process(&v->th, "vmm");
	v->vmm->sigbus_handler = true;
	v->vcpu_thread = task_create(v->th.host, "vcpu0", v->vmm);
	v->kvm = kvm_create_vm(v->th.host, v->vmm, type, &err);
	ASSERT_OK(err);
	v->vcpu = kvm_create_vcpu(v->kvm, 0, v->vcpu_thread, &err);
	ASSERT_OK(err);
}

static void t_vm_free(struct t_vm *v)
{
	t_kvm_host_free(&v->th);
}

TEST(gmem_create_sizes_and_flags)
{
	static const struct { u64 size, flags; int err; } cases[] = {
		{ 0, 0, -EINVAL }, { 1, 0, -EINVAL }, { 4095, 0, -EINVAL }, { 4097, 0, -EINVAL },
		{ 4096, 0, 0 }, { 2 << 20, 0, 0 },
		{ 2 << 20, GUEST_MEMFD_FLAG_MMAP, 0 }, { 2 << 20, GUEST_MEMFD_FLAG_INIT_SHARED, 0 },
		{ 2 << 20, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, 0 },
		{ 2 << 20, 1ULL << 2, -EINVAL }, { 2 << 20, 1ULL << 63, -EINVAL },
	};
	struct t_vm v;

	t_vm_init(&v, KVM_X86_DEFAULT_VM);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int err;
		struct kvm_gmem *g = kvm_gmem_create(v.kvm, cases[i].size, cases[i].flags, &err);

		EXPECT_ERR(err, cases[i].err);
		EXPECT_EQ(g != NULL, cases[i].err == 0);
		if (g)
			kvm_gmem_close(g);
	}
	t_vm_free(&v);
}

TEST(gmem_mmap_needs_flag_and_shared)
{
	struct t_vm v;
	struct kvm_gmem *g, *gm;
	int err;

	t_vm_init(&v, KVM_X86_DEFAULT_VM);
	g = kvm_gmem_create(v.kvm, 2 << 20, 0, &err);
	gm = kvm_gmem_create(v.kvm, 2 << 20, GUEST_MEMFD_FLAG_MMAP, &err);
	(void)do_mmap(v.vmm, g->file, 0, 2 << 20, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	EXPECT_ERR(err, -ENODEV);
	(void)do_mmap(v.vmm, gm->file, 0, 2 << 20, VM_READ | VM_WRITE, 0, &err);
	EXPECT_ERR(err, -EINVAL);
	(void)do_mmap(v.vmm, gm->file, 0, 2 << 20, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	EXPECT_OK(err);
	EXPECT_EQ(file_read(g->file, 0, 16), -EINVAL);
	EXPECT_EQ(file_write(g->file, 0, 16), -EINVAL);
	t_vm_free(&v);
}

/* Private memory is never mapped into userspace: SIGBUS BUS_ADRERR at the address. */
TEST(gmem_user_access_private_sigbus_adrerr)
{
	struct t_vm v;
	struct kvm_gmem *g;
	unsigned long addr;
	const struct trace_event *sig;
	int err;

	t_vm_init(&v, KVM_X86_DEFAULT_VM);
	g = kvm_gmem_create(v.kvm, 2 << 20, GUEST_MEMFD_FLAG_MMAP, &err);
	addr = do_mmap(v.vmm, g->file, 0, 2 << 20, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	ASSERT_EQ(handle_user_access(v.vmm, addr + 0x3000, false, NULL), ACCESS_SIGBUS);
	sig = t_last_signal(&v.th, v.vmm);
	ASSERT_TRUE(sig != NULL);
	EXPECT_EQ(sig->code, BUS_ADRERR);
	EXPECT_EQ(sig->addr, addr + 0x3000);
	t_vm_free(&v);
}

TEST(gmem_fallocate_rules)
{
	static const struct { int mode; u64 off, len; int err; } cases[] = {
		{ FALLOC_FL_KEEP_SIZE, 0, 2 << 20, 0 },
		{ FALLOC_FL_KEEP_SIZE, 1, 4096, -EINVAL },
		{ FALLOC_FL_KEEP_SIZE, 0, 4095, -EINVAL },
		{ FALLOC_FL_KEEP_SIZE, 2 << 20, 4096, -EINVAL },
		{ FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 4096, 0 },
		{ FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 1, 4096, -EINVAL },
		{ 0, 0, 4096, -EOPNOTSUPP },
		{ FALLOC_FL_KEEP_SIZE | FALLOC_FL_ZERO_RANGE, 0, 4096, -EOPNOTSUPP },
	};
	struct t_vm v;
	struct kvm_gmem *g;
	int err;

	t_vm_init(&v, KVM_X86_DEFAULT_VM);
	g = kvm_gmem_create(v.kvm, 2 << 20, 0, &err);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		EXPECT_ERR(kvm_gmem_fallocate(g, cases[i].mode, cases[i].off, cases[i].len), cases[i].err);
	EXPECT_EQ(g->file->f_mapping.nrpages, 511);
	t_vm_free(&v);
}

TEST(memslot_binding_rules)
{
	struct t_vm v, other;
	struct kvm_gmem *g, *g4, *go;
	struct kvm_userspace_memory_region2 m = { 0 };
	int err;

	t_vm_init(&v, KVM_X86_DEFAULT_VM);
	t_vm_init(&other, KVM_X86_DEFAULT_VM);
	g = kvm_gmem_create(v.kvm, 2 << 20, 0, &err);
	g4 = kvm_gmem_create(v.kvm, 4 << 20, 0, &err);
	go = kvm_gmem_create(other.kvm, 2 << 20, 0, &err);
	m.flags = KVM_MEM_GUEST_MEMFD;
	m.memory_size = 2 << 20;
	m.guest_memfd = g4->file;
	m.guest_memfd_valid = true;
	m.guest_memfd_offset = 4095;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);
	m.guest_memfd = g->file;
	m.guest_memfd_offset = 4096;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);	/* beyond the file */
	m.guest_memfd_offset = 0;
	m.memory_size = 4097;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);
	m.memory_size = 2 << 20;
	m.guest_phys_addr = 0xfff;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);
	m.guest_phys_addr = 0;
	m.guest_memfd = go->file;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);	/* another VM's */
	m.guest_memfd = g->file;
	m.guest_memfd_valid = false;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EBADF);
	m.guest_memfd_valid = true;
	EXPECT_OK(kvm_set_user_memory_region2(v.kvm, &m));
	/* A second slot over the same file range: EINVAL; over the same gpa: EEXIST. */
	m.slot = 1;
	m.guest_phys_addr = 4 << 20;
	m.guest_memfd = g4->file;
	m.guest_memfd_offset = 0;
	EXPECT_OK(kvm_set_user_memory_region2(v.kvm, &m));
	m.slot = 2;
	m.guest_phys_addr = 8 << 20;
	m.memory_size = 1 << 20;
	m.guest_memfd_offset = 1 << 20;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);
	m.guest_phys_addr = 1 << 20;
	m.guest_memfd_offset = 2 << 20;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EEXIST);
	/* Read-only memslots cannot be backed by guest_memfd. */
	m.slot = 3;
	m.flags |= KVM_MEM_READONLY;
	m.guest_phys_addr = 16 << 20;
	m.memory_size = 1 << 20;
	m.guest_memfd_offset = 0;
	m.guest_memfd = go->file;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);
	m.flags = KVM_MEM_GUEST_MEMFD;
	/* Deleting a slot that does not exist. */
	m.slot = 9;
	m.memory_size = 0;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);
	t_vm_free(&other);
	t_vm_free(&v);
}

/*
 * Private guest_memfd page, hit by a consumed error, under both settings of
 * the MF_DELAYED fix: without it the vCPU thread gets a plain SIGBUS; with it
 * the next access exits with -EHWPOISON and KVM_EXIT_MEMORY_FAULT.
 */
TEST(private_gmem_consumed_error_and_mf_delayed_fix)
{
	for (int fix = 0; fix < 2; fix++) {
		struct t_vm v;
		struct kvm_gmem *g;
		struct kvm_userspace_memory_region2 m = {
			.flags = KVM_MEM_GUEST_MEMFD, .memory_size = 2 << 20, .guest_memfd_valid = true,
		};
		struct folio *f;
		int err;

		t_vm_init(&v, KVM_X86_SW_PROTECTED_VM);
		v.th.host->sysctl.mf_delayed_fix = fix;
		g = kvm_gmem_create(v.kvm, 2 << 20, 0, &err);
		m.guest_memfd = g->file;
		ASSERT_OK(kvm_set_user_memory_region2(v.kvm, &m));
		ASSERT_OK(kvm_vm_set_mem_attributes(v.kvm, 0, 2 << 20, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0));
		ASSERT_OK(x86_vcpu_access(v.vcpu, 0x5000, true, -1));
		EXPECT_TRUE(kvm_spte_lookup(v.kvm, 5) != NULL);
		f = filemap_get_folio(&g->file->f_mapping, 5);
		ASSERT_NOT_NULL(f);
		pfn_to_page(v.th.host, folio_pfn(f))->hw_bad = true;
		ASSERT_ERR(x86_vcpu_access(v.vcpu, 0x5000, false, -1), fix ? -EHWPOISON : -EINTR);
		EXPECT_EQ(v.vcpu->run.exit_reason, fix ? KVM_EXIT_MEMORY_FAULT : KVM_EXIT_INTR);
		EXPECT_EQ(mf_last_outcome(v.th.host).result, fix ? MF_DELAYED : MF_FAILED);
		EXPECT_EQ(t_signals_to(&v.th, v.vcpu_thread), fix ? 0 : 1);
		EXPECT_TRUE(kvm_spte_lookup(v.kvm, 5) == NULL);
		ASSERT_ERR(x86_vcpu_access(v.vcpu, 0x5000, false, -1), -EHWPOISON);
		EXPECT_EQ(v.vcpu->run.exit_reason, KVM_EXIT_MEMORY_FAULT);
		EXPECT_EQ(v.vcpu->run.memory_fault.gpa, 0x5000);
		EXPECT_EQ(v.vcpu->run.memory_fault.size, PAGE_SIZE);
		EXPECT_EQ(v.vcpu->run.memory_fault.flags, KVM_MEMORY_EXIT_FLAG_PRIVATE);
		signals_deliver(v.th.host);
		t_vm_free(&v);
	}
}

/* Shared -> private needs safe refcounts: a GUP pin or the MF pin gives -EAGAIN. */
TEST(conversion_to_private_refused_by_pins)
{
	struct t_vm v;
	struct kvm_gmem *g;
	struct folio *pinned;
	unsigned long addr;
	u64 eo = 0;
	int err;

	t_vm_init(&v, KVM_X86_DEFAULT_VM);
	g = kvm_gmem_create(v.kvm, 2 << 20, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, &err);
	addr = do_mmap(v.vmm, g->file, 0, 2 << 20, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	ASSERT_OK(pin_user_page(v.vmm, addr + 0x2000, &pinned));
	EXPECT_ERR(kvm_gmem_set_attributes(g, 0, 16 << 10, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, &eo), -EAGAIN);
	EXPECT_EQ(eo, 0x2000);
	unpin_user_page(pinned);
	eo = 0;
	t_touch(v.vmm, addr + 0x3000, true);
	/* Without the MF_DELAYED fix the page cache counts as a user: -EBUSY. */
	ASSERT_ERR(memory_failure(v.th.host, folio_pfn(filemap_get_folio(&g->file->f_mapping, 3)), 0),
		   -EBUSY);
	EXPECT_ERR(kvm_gmem_set_attributes(g, 0, 16 << 10, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, &eo), -EAGAIN);
	EXPECT_EQ(eo, 0x3000);
	eo = 0;
	ASSERT_OK(kvm_gmem_fallocate(g, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0x3000, 0x1000));
	EXPECT_OK(kvm_gmem_set_attributes(g, 0, 16 << 10, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, &eo));
	/* Bad input: flags, attributes, alignment, range, a non-zero error_offset. */
	EXPECT_ERR(kvm_gmem_set_attributes(g, 0, 4096, 0, 1, &eo), -EINVAL);
	EXPECT_ERR(kvm_gmem_set_attributes(g, 0, 4096, 1, 0, &eo), -EINVAL);
	EXPECT_ERR(kvm_gmem_set_attributes(g, 1, 4096, 0, 0, &eo), -EINVAL);
	EXPECT_ERR(kvm_gmem_set_attributes(g, 0, 4 << 20, 0, 0, &eo), -EINVAL);
	eo = 8;
	EXPECT_ERR(kvm_gmem_set_attributes(g, 0, 4096, 0, 0, &eo), -EINVAL);
	t_vm_free(&v);
}

/* The initial stage: one error and the whole file is gone for guest and host. */
TEST(initial_stage_unmaps_whole_file)
{
	struct t_vm v;
	struct kvm_gmem *g;
	struct kvm_userspace_memory_region2 m = {
		.flags = KVM_MEM_GUEST_MEMFD, .memory_size = 2 << 20, .guest_memfd_valid = true,
	};
	unsigned long addr;
	int err;

	t_vm_init(&v, KVM_X86_DEFAULT_VM);
	kvm_state(v.th.host)->gmem_mf_stage = GMEM_MF_INITIAL;
	g = kvm_gmem_create(v.kvm, 2 << 20, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, &err);
	m.guest_memfd = g->file;
	ASSERT_OK(kvm_set_user_memory_region2(v.kvm, &m));
	addr = do_mmap(v.vmm, g->file, 0, 2 << 20, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	t_touch(v.vmm, addr, true);
	t_touch(v.vmm, addr + 0x1000, true);
	ASSERT_OK(x86_vcpu_access(v.vcpu, 0x1000, false, -1));
	ASSERT_ERR(memory_failure(v.th.host, folio_pfn(filemap_get_folio(&g->file->f_mapping, 0)), 0),
		   -EBUSY);
	EXPECT_TRUE(kvm_spte_lookup(v.kvm, 1) == NULL);
	EXPECT_TRUE(pte_lookup(v.vmm->mm, addr + 0x1000) == NULL);
	EXPECT_ERR(x86_vcpu_access(v.vcpu, 0x1000, false, -1), -EHWPOISON);
	EXPECT_EQ(handle_user_access(v.vmm, addr + 0x1000, false, NULL), ACCESS_SIGBUS);
	EXPECT_EQ(t_last_signal(&v.th, v.vmm)->code, BUS_MCEERR_AR);
	t_vm_free(&v);
}

/*
 * KVM Userfault on a private guest_memfd slot: setting KVM_MEM_USERFAULT
 * late (a flags-only change) drops the slot's stage-2; a private fault on
 * a marked gfn exits with both memory-fault flags, before guest_memfd is
 * asked for the page; clearing the bit lets the next fault in.
 */
TEST(userfault_private_gmem_exit_flags)
{
	struct t_vm v;
	struct kvm_gmem *g;
	struct kvm_userspace_memory_region2 m = {
		.flags = KVM_MEM_GUEST_MEMFD, .memory_size = 2 << 20, .guest_memfd_valid = true,
	};
	unsigned long bits[(512 + BITS_PER_LONG - 1) / BITS_PER_LONG] = { 0 };
	int err;

	t_vm_init(&v, KVM_X86_SW_PROTECTED_VM);
	g = kvm_gmem_create(v.kvm, 2 << 20, 0, &err);
	ASSERT_OK(err);
	m.guest_memfd = g->file;
	ASSERT_OK(kvm_set_user_memory_region2(v.kvm, &m));
	ASSERT_OK(kvm_vm_set_mem_attributes(v.kvm, 0, 2 << 20, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0));
	ASSERT_OK(x86_vcpu_access(v.vcpu, 0x1000, true, -1));
	EXPECT_TRUE(kvm_spte_lookup(v.kvm, 1) != NULL);
	bits[0] = 1UL << 1;
	m.flags |= KVM_MEM_USERFAULT;
	m.userfault_bitmap = 0x7e0000000000ULL;
	m.userfault_bitmap_mem = bits;
	ASSERT_OK(kvm_set_user_memory_region2(v.kvm, &m));
	EXPECT_TRUE(kvm_spte_lookup(v.kvm, 1) == NULL);
	EXPECT_ERR(x86_vcpu_access(v.vcpu, 0x1000, false, -1), -EFAULT);
	EXPECT_EQ(v.vcpu->run.exit_reason, KVM_EXIT_MEMORY_FAULT);
	EXPECT_EQ(v.vcpu->run.memory_fault.gpa, 0x1000);
	EXPECT_EQ(v.vcpu->run.memory_fault.flags,
		  KVM_MEMORY_EXIT_FLAG_PRIVATE | KVM_MEMORY_EXIT_FLAG_USERFAULT);
	EXPECT_TRUE(kvm_spte_lookup(v.kvm, 1) == NULL);
	ASSERT_OK(x86_vcpu_access(v.vcpu, 0x2000, false, -1));
	EXPECT_EQ(kvm_spte_lookup(v.kvm, 2)->order, 0);
	bits[0] = 0;
	ASSERT_OK(x86_vcpu_access(v.vcpu, 0x1000, false, -1));
	EXPECT_TRUE(kvm_spte_lookup(v.kvm, 1) != NULL);
	/* KVM_MEM_GUEST_MEMFD itself cannot be dropped by a flags change. */
	m.flags = KVM_MEM_USERFAULT;
	EXPECT_ERR(kvm_set_user_memory_region2(v.kvm, &m), -EINVAL);
	t_vm_free(&v);
}

static const struct t_case cases[] = {
	T(gmem_create_sizes_and_flags),
	T(gmem_mmap_needs_flag_and_shared),
	T(gmem_user_access_private_sigbus_adrerr),
	T(gmem_fallocate_rules),
	T(memslot_binding_rules),
	T(private_gmem_consumed_error_and_mf_delayed_fix),
	T(conversion_to_private_refused_by_pins),
	T(initial_stage_unmaps_whole_file),
	T(userfault_private_gmem_exit_flags),
};

T_MAIN("kvm/test_kvm", cases)
