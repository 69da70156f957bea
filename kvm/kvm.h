/* SPDX-License-Identifier: MIT */
/*
 * KVM and guest_memfd in the model: VMs, vCPUs as threads of the VMM
 * process, memslots under the rules of KVM_SET_USER_MEMORY_REGION2, memory
 * attributes, guest_memfd files, stage-2 page tables, and KVM_RUN outcomes.
 *
 * Models: virt/kvm/kvm_main.c, virt/kvm/guest_memfd.c (mm-new @02867409),
 * arch/x86/kvm/mmu/mmu.c (kvm_mmu_faultin_pfn_gmem(),
 * kvm_mmu_prepare_memory_fault_exit(), kvm_handle_error_pfn()).
 *
 * The uAPI constants below carry the kernel's names and values
 * (include/uapi/linux/kvm.h); model code never includes the uAPI header.
 */
#ifndef GMF_KVM_KVM_H
#define GMF_KVM_KVM_H

#include "mm/memory-failure.h"

/* ---- uAPI names and numbers ------------------------------------------------ */

#define KVM_X86_DEFAULT_VM		0
#define KVM_X86_SW_PROTECTED_VM		1
#define KVM_X86_SEV_VM			2
#define KVM_X86_SEV_ES_VM		3
#define KVM_X86_SNP_VM			4
#define KVM_X86_TDX_VM			5

#define KVM_MEM_LOG_DIRTY_PAGES		(1U << 0)
#define KVM_MEM_READONLY		(1U << 1)
#define KVM_MEM_GUEST_MEMFD		(1U << 2)

/*
 * KVM Userfault, James Houghton's series "KVM: Introduce KVM Userfault"
 * (v3, 2025-06-18, <20250618042424.330664-1-jthoughton@google.com>; not
 * merged). Patch 04/15 adds KVM_MEM_USERFAULT (1UL << 3), the
 * userfault_bitmap field of struct kvm_userspace_memory_region2 (taken
 * from pad2[]) and KVM_MEMORY_EXIT_FLAG_USERFAULT (1ULL << 4); patch 07/15
 * adds KVM_CAP_USERFAULT 243. The two bits are the same in v1 (2024-12)
 * and v2 (2025-01); the capability number is not settled: v1 and v2 used
 * 239, Sean's rework of 2025-05 240, v3 243, and mainline has since given
 * 243 to KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED. A merged version will
 * carry a new number; the model keeps v3's.
 */
#define KVM_MEM_USERFAULT		(1U << 3)

#define GUEST_MEMFD_FLAG_MMAP		(1ULL << 0)
#define GUEST_MEMFD_FLAG_INIT_SHARED	(1ULL << 1)

/*
 * HugeTLB-backed guest_memfd, "1G page support" RFC v2 [P]: the page size
 * is encoded in the creation flags as mmap's MAP_HUGE_* are.
 * MODEL: the size bits alone select HugeTLB backing; the RFC also has a
 * GUEST_MEMFD_FLAG_HUGETLB bit, whose number collides with mm-new's
 * GUEST_MEMFD_FLAG_BIND_NODE.
 */
#define GUESTMEM_HUGETLB_FLAG_SHIFT	58
#define GUESTMEM_HUGETLB_FLAG_MASK	0x3fULL
#define GUESTMEM_HUGETLB_FLAG_2MB	(21ULL << GUESTMEM_HUGETLB_FLAG_SHIFT)
#define GUESTMEM_HUGETLB_FLAG_1GB	(30ULL << GUESTMEM_HUGETLB_FLAG_SHIFT)

#define KVM_MEMORY_ATTRIBUTE_PRIVATE	(1ULL << 3)

#define KVM_EXIT_UNKNOWN		0
#define KVM_EXIT_MMIO			6
#define KVM_EXIT_INTR			10
#define KVM_EXIT_MEMORY_FAULT		39
#define KVM_EXIT_ARM_SEA		41
#define KVM_EXIT_ARM_SEA_FLAG_GPA_VALID	(1ULL << 0)
#define KVM_CAP_ARM_SEA_TO_USER		245
#define KVM_MEMORY_EXIT_FLAG_PRIVATE	(1ULL << 3)
#define KVM_MEMORY_EXIT_FLAG_USERFAULT	(1ULL << 4)
#define KVM_CAP_USERFAULT		243

#define KVM_USER_MEM_SLOTS		32764
#define KVM_ADDRESS_SPACE_NUM		2


#ifndef BITS_PER_LONG
#define BITS_PER_LONG			(8 * (int)sizeof(long))
#endif

/* ---- model switches ------------------------------------------------------------ */

/* The seed table's two stages of memory-failure handling for guest_memfd. */
enum gmem_mf_stage {
	GMEM_MF_EVENTUAL,	/* unmap only the failed page (mainline for 4K folios) */
	GMEM_MF_INITIAL,	/* unmap the entire file; guest_memfd stops working */
	__NR_GMEM_MF_STAGES,
};

extern const char *const gmem_mf_stage_names[__NR_GMEM_MF_STAGES];

/* Who is killed when guest_memfd memory fails (seed 000's discussion). */
enum gmem_mf_kill {
	GMEM_MF_KILL_SIGBUS,		/* memory_failure() unmaps and signals mappers */
	GMEM_MF_KILL_CURRENT,		/* SIGKILL current only; mappings stay */
	__NR_GMEM_MF_KILLS,
};

extern const char *const gmem_mf_kill_names[__NR_GMEM_MF_KILLS];

/* What KVM_BUG_ON() does with a confidential VM's memory (seed 001). */
enum tdx_bug_policy {
	TDX_BUG_HWPOISON,		/* set HWPoison on the private pages mapped in S-EPT */
	TDX_BUG_BUGGY_CLEANUP,		/* bug the whole file: every page to memory_failure() */
	__NR_TDX_BUG_POLICIES,
};

extern const char *const tdx_bug_policy_names[__NR_TDX_BUG_POLICIES];

/* ---- objects --------------------------------------------------------------------- */

struct kvm;

struct kvm_run {
	u32 exit_reason;
	struct {
		u64 flags;
		u64 gpa;
		u64 size;
	} memory_fault;
	struct {
		u64 phys_addr;
		bool is_write;
	} mmio;
	struct {
		u64 flags;
		u64 esr;
		u64 gva;
		u64 gpa;
	} arm_sea;
};

struct kvm_vcpu {
	struct list_head node;		/* kvm->vcpus */
	struct kvm *kvm;
	int vcpu_id;
	struct task_struct *thread;	/* the VMM thread that runs KVM_RUN */
	struct kvm_run run;
	/* arm64: exceptions pending for the guest (KVM_SET_VCPU_EVENTS, SError injection) */
	bool ext_dabt_pending;
	bool serror_pending;
	unsigned long guest_aborts;	/* external aborts the guest took */
	unsigned long guest_serrors;	/* virtual SErrors the guest took */
};

struct kvm_memory_slot {
	struct range_node node;		/* kvm->memslots: [base_gfn, base_gfn + npages - 1] */
	u16 id;
	u16 as_id;
	gfn_t base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	/*
	 * KVM_MEM_USERFAULT: the VMM's bitmap, one bit per gfn of the slot.
	 * MODEL: the kernel holds a user pointer and reads it with
	 * __get_user(); the model's user pages hold no data, so this points at
	 * the VMM's array itself, NULL when nothing is mapped at the address
	 * userspace gave (the read faults).
	 */
	unsigned long *userfault_bitmap;
	u32 flags;
	struct {
		struct file *file;	/* NULL once the file is released */
		pgoff_t pgoff;
		bool gmem_only;		/* the bound gmem supports mmap: all faults from gmem */
	} gmem;
	struct list_head gmem_node;	/* gmem->bindings */
};

/* One stage-2 (EPT/NPT/S2) mapping of a guest page range. */
struct kvm_spte {
	struct range_node node;		/* kvm->stage2: gfn range */
	unsigned long pfn;
	unsigned int order;
	bool private;
	bool writable;
};

/*
 * A guest_memfd's NUMA memory policy (mbind() on a mapping of it: the
 * inode's shared policy, kvm_gmem_set_policy()). Modes carry the kernel's
 * enum mempolicy_mode values.
 * MODEL: one policy for the whole file, not one per range; MPOL_BIND is
 * where allocation starts, the allocators fall back to other nodes.
 */
#define MPOL_DEFAULT		0
#define MPOL_PREFERRED		1
#define MPOL_BIND		2
#define MPOL_INTERLEAVE		3

struct kvm_gmem_policy {
	u32 mode;
	unsigned long nodes;	/* bit n: node n (MAX_NUMNODES is 8) */
};

/* guest_memfd: one inode and one file per KVM_CREATE_GUEST_MEMFD. */
struct kvm_gmem {
	struct file *file;
	struct kvm *kvm;
	u64 flags;
	struct list_head bindings;	/* struct kvm_memory_slot gmem_node */
	struct list_head node;		/* kvm->gmems */
	struct rangemap private;	/* private page offsets (per-file attributes) */
	bool failed;			/* GMEM_MF_INITIAL: not functional after a failure */
	bool fd_open;			/* the fd KVM_CREATE_GUEST_MEMFD returned */
	struct hstate *h;		/* HugeTLB backing, or NULL for 4K pages */
	struct kvm_gmem_policy policy;	/* MPOL_DEFAULT at creation */
	/* Preserved for a live update (kho/): no new pages, no conversion (-EPERM). */
	bool frozen;
	/*
	 * A file retrieved after a live update: the memslot bindings it had,
	 * which a new binding must be one of (-EINVAL) until KHO finishes.
	 * MODEL: the LUO series leaves rebinding to the VMM unchecked.
	 */
	struct kvm_gmem_binding *luo_bindings;
	size_t nr_luo_bindings;
};

/* A memslot binding of a guest_memfd, as kho/ preserves it. */
struct kvm_gmem_binding {
	u32 slot;		/* as_id << 16 | id */
	gfn_t base_gfn;
	unsigned long npages;
	pgoff_t pgoff;
};

struct kvm {
	struct host *host;
	int id;
	unsigned long type;
	struct task_struct *vmm;	/* the process that created it */
	struct rangemap memslots;
	struct kvm_memory_slot *slots[KVM_ADDRESS_SPACE_NUM][64];	/* by id (model: 64 per AS) */
	struct rangemap mem_attr;	/* private gfn ranges (VM-level attributes) */
	struct rangemap stage2;
	struct list_head vcpus;
	struct list_head gmems;
	struct list_head node;		/* kvm_state->vms */
	int nr_vcpus;
	int users;			/* the VM fd and each gmem file */
	bool bugged;
	bool sea_to_user;		/* arm64 KVM_CAP_ARM_SEA_TO_USER enabled */
	bool fd_open;			/* the VM fd */
	struct mutex slots_lock;
	/*
	 * Stage-2 is changed under mmu_lock; every zap bumps the sequence, and
	 * a fault that looked up its pfn before a zap retries instead of
	 * mapping it (mmu_invalidate_retry_gfn(): RET_PF_RETRY).
	 */
	spinlock_t mmu_lock;
	atomic_long_t mmu_invalidate_seq;
	unsigned long nr_exits;
};

/* Per-host KVM state, at host->kvm_state. */
struct kvm_state {
	struct list_head vms;
	int next_vm_id;
	enum gmem_mf_stage gmem_mf_stage;
	enum gmem_mf_kill gmem_mf_kill;
	enum tdx_bug_policy tdx_bug_policy;
};

/* ---- VMs, vCPUs, memslots (kvm_main.c) ----------------------------------------- */

struct kvm_state *kvm_state(struct host *host);
void kvm_host_teardown(struct host *host);
struct kvm *kvm_create_vm(struct host *host, struct task_struct *vmm, unsigned long type, int *errp);
/* Drop a reference to the VM; the last one frees it. */
void kvm_destroy_vm(struct kvm *kvm);
/* close() of the VM fd. */
void kvm_vm_close(struct kvm *kvm);
bool kvm_arch_has_private_mem(const struct kvm *kvm);
struct kvm_vcpu *kvm_create_vcpu(struct kvm *kvm, int id, struct task_struct *thread, int *errp);

struct kvm_userspace_memory_region2 {
	u32 slot;
	u32 flags;
	u64 guest_phys_addr;
	u64 memory_size;
	u64 userspace_addr;
	u64 guest_memfd_offset;
	struct file *guest_memfd;	/* MODEL: the file itself, not an fd number */
	bool guest_memfd_valid;		/* MODEL: false stands for a bad fd (EBADF) */
	u64 userfault_bitmap;		/* KVM_MEM_USERFAULT: the bitmap's user address */
	unsigned long *userfault_bitmap_mem;	/* MODEL: the VMM's array there, or NULL */
};

int kvm_set_user_memory_region2(struct kvm *kvm, const struct kvm_userspace_memory_region2 *mem);
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn);

static inline bool kvm_is_userfault_memslot(const struct kvm_memory_slot *slot)
{
	return slot && (slot->flags & KVM_MEM_USERFAULT);
}
int kvm_vm_set_mem_attributes(struct kvm *kvm, u64 address, u64 size, u64 attributes, u64 flags);
bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn);
/* KVM_ENABLE_CAP on the VM fd: 0 or -EINVAL. */
int kvm_vm_enable_cap(struct kvm *kvm, u32 cap, u64 flags);

/*
 * A user address as guest memory: one memslot of one VM that maps it
 * (kvm_uaddr_to_gpa()).
 */
struct kvm_uaddr_gpa {
	struct kvm *kvm;
	struct kvm_memory_slot *slot;
	u64 gpa;			/* the byte's guest physical address */
	bool private;			/* the gfn is private now (kvm_mem_is_private()) */
	bool gmem;			/* by the slot's guest_memfd binding, else userspace_addr */
	struct file *file;		/* the file mapped at the address, NULL anonymous */
	u64 offset;			/* and the byte's offset in it */
};

/*
 * The memslots that map the user address @addr of @t, as KVM would see
 * them: the VMA of @t's mm at @addr, then every VM of the host whose
 * memslots map that memory: a guest_memfd slot by the file and page offset
 * it binds, a slot's userspace_addr range (not of a guest_memfd-only slot)
 * when the VM's VMM has @t's mm. Up to @max of them into @out, in VM and
 * memslot order. Returns how many map it (more than @max when they do not
 * fit), -EFAULT when nothing is mapped at @addr, -ENOENT when no memslot
 * maps it. Only looks: takes no lock, changes nothing.
 */
int kvm_uaddr_to_gpa(struct task_struct *t, unsigned long addr, struct kvm_uaddr_gpa *out, int max);

/* KVM_BUG_ON() on a confidential VM (the TDX path of seed 001). */
void kvm_vm_bugged(struct kvm *kvm);
/* Every KVM invariant of @host: 0 or -EUCLEAN with a trace note. */
int kvm_validate_all(struct host *host);

/* ---- guest_memfd (guest_memfd.c) ------------------------------------------------- */

struct kvm_gmem *kvm_gmem_create(struct kvm *kvm, u64 size, u64 flags, int *errp);
void kvm_gmem_close(struct kvm_gmem *gmem);
/*
 * Set @gmem's memory policy for the pages it allocates from now on: 0, or
 * -EINVAL (an unknown mode, an empty mask for a mode that needs one, a
 * mask with MPOL_DEFAULT, a node the host does not have).
 */
int kvm_gmem_set_policy(struct kvm_gmem *gmem, u32 mode, unsigned long nodes);
u64 kvm_gmem_supported_flags(const struct kvm *kvm);
int kvm_gmem_fallocate(struct kvm_gmem *gmem, int mode, u64 offset, u64 len);
int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
		     unsigned long *pfn, int *max_order);
int kvm_gmem_bind(struct kvm *kvm, struct kvm_memory_slot *slot, struct file *file, u64 offset);
void kvm_gmem_unbind(struct kvm_memory_slot *slot);
struct kvm_gmem *kvm_gmem_of_mapping(const struct address_space *mapping);
/*
 * KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd (the in-place conversion
 * series): convert [offset, offset + size) to private or shared. On -EAGAIN
 * *error_offset is the first offset with unsafe references.
 */
int kvm_gmem_set_attributes(struct kvm_gmem *gmem, u64 offset, u64 size, u64 attributes,
			    u64 flags, u64 *error_offset);

/* ---- stage-2 and KVM_RUN (mmu.c) ------------------------------------------------------ */

struct kvm_spte *kvm_spte_lookup(struct kvm *kvm, gfn_t gfn);
/* Zap stage-2 mappings of [start, end) gfns; only private or only shared ones with a filter. */
enum kvm_filter { KVM_FILTER_ALL, KVM_FILTER_SHARED, KVM_FILTER_PRIVATE };
void kvm_mmu_unmap_gfn_range(struct kvm *kvm, gfn_t start, gfn_t end, enum kvm_filter filter);

/* kvm_vcpu_guest_access() found the guest consuming poison at *pfnp. */
#define KVM_ACCESS_MACHINE_CHECK	1

/*
 * The guest on @vcpu accesses @gpa; @private says whether the access is
 * private (the guest's view), -1 to follow the page's current attribute.
 * Returns what KVM_RUN returns: 0 (run->exit_reason set, or the access
 * completed and the guest goes on: exit_reason KVM_EXIT_UNKNOWN), -errno
 * with run->exit_reason set (KVM_EXIT_MEMORY_FAULT, KVM_EXIT_INTR), or
 * KVM_ACCESS_MACHINE_CHECK when the access consumed poison: the arch front
 * end takes it from there (arch/x86/kvm.c).
 */
int kvm_vcpu_guest_access(struct kvm_vcpu *vcpu, u64 gpa, bool write, int private,
			  unsigned long *pfnp);
bool kvm_vcpu_signal_pending(const struct kvm_vcpu *vcpu);

#endif
