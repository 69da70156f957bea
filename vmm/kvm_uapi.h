/* SPDX-License-Identifier: MIT */
/*
 * guest_memfd uAPI that an older <linux/kvm.h> lacks (Debian 12 ships 6.1
 * headers), for the real-KVM side (vmm/). The values are the kernel's, from
 * include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h.
 *
 * The two argument structs are our own copies, laid out as the kernel's
 * struct kvm_create_guest_memfd and struct kvm_userspace_memory_region2, so
 * the code builds with or without them in <linux/kvm.h>. The ioctl number
 * encodes the size; the assertions catch any disagreement with a system
 * header that does define the ioctls.
 */
#ifndef GMF_VMM_KVM_UAPI_H
#define GMF_VMM_KVM_UAPI_H

#include <linux/kvm.h>

#include "base/compiler.h"
#include "base/types.h"

#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2		231
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD		234
#endif
#ifndef KVM_CAP_GUEST_MEMFD_FLAGS
#define KVM_CAP_GUEST_MEMFD_FLAGS	244
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD		(1UL << 2)
#endif
#ifndef GUEST_MEMFD_FLAG_MMAP
#define GUEST_MEMFD_FLAG_MMAP		(1ULL << 0)
#endif
#ifndef GUEST_MEMFD_FLAG_INIT_SHARED
#define GUEST_MEMFD_FLAG_INIT_SHARED	(1ULL << 1)
#endif
#ifndef KVM_X86_DEFAULT_VM
#define KVM_X86_DEFAULT_VM		0
#endif

/*
 * arm64: a guest's synchronous external abort (SEA) that host APEI did not
 * claim, handed to the VMM instead of a virtual SError once the VM enabled
 * KVM_CAP_ARM_SEA_TO_USER (Jiaqi Yan's series; the values and the layout
 * are those merged in include/uapi/linux/kvm.h, flags first: an earlier
 * posting had esr first). The exit's fields are the kvm_run union member
 * arm_sea; struct uapi_arm_sea is our copy of it, read at
 * offsetof(struct kvm_run, hw) as the memory-fault member is.
 */
#ifndef KVM_EXIT_ARM_SEA
#define KVM_EXIT_ARM_SEA		41
#endif
#ifndef KVM_CAP_ARM_SEA_TO_USER
#define KVM_CAP_ARM_SEA_TO_USER		245
#endif
#ifndef KVM_EXIT_ARM_SEA_FLAG_GPA_VALID
#define KVM_EXIT_ARM_SEA_FLAG_GPA_VALID	(1ULL << 0)
#endif

struct uapi_arm_sea {
	u64 flags;		/* KVM_EXIT_ARM_SEA_FLAG_GPA_VALID: gpa is valid */
	u64 esr;		/* ESR_EL2, sanitized: EC, IL, FnV, EA, CM, WNR, FSC, SET */
	u64 gva;		/* FAR_EL2, valid when ESR.FnV is clear */
	u64 gpa;		/* the faulting IPA, page-aligned */
};

/* ESR_ELx fields the intake looks at (arch/arm64/include/asm/esr.h). */
#define UAPI_ESR_ELx_EC_SHIFT		26
#define UAPI_ESR_ELx_EC_MASK		(0x3fULL << UAPI_ESR_ELx_EC_SHIFT)
#define UAPI_ESR_ELx_EC_IABT_LOW	0x20
#define UAPI_ESR_ELx_EC_DABT_LOW	0x24
#define UAPI_ESR_ELx_FnV		(1ULL << 10)
#define UAPI_ESR_ELx_WNR		(1ULL << 6)

struct uapi_create_guest_memfd {
	u64 size;
	u64 flags;
	u64 reserved[6];
};

struct uapi_userspace_memory_region2 {
	u32 slot;
	u32 flags;
	u64 guest_phys_addr;
	u64 memory_size;
	u64 userspace_addr;
	u64 guest_memfd_offset;
	u32 guest_memfd;
	u32 pad1;
	u64 pad2[14];
};

#ifndef KVM_CREATE_GUEST_MEMFD
#define KVM_CREATE_GUEST_MEMFD		_IOWR(KVMIO, 0xd4, struct uapi_create_guest_memfd)
#endif
#ifndef KVM_SET_USER_MEMORY_REGION2
#define KVM_SET_USER_MEMORY_REGION2	_IOW(KVMIO, 0x49, struct uapi_userspace_memory_region2)
#endif

BUILD_BUG_ON(sizeof(struct uapi_arm_sea) != 32);
BUILD_BUG_ON(sizeof(struct uapi_create_guest_memfd) != 64);
BUILD_BUG_ON(sizeof(struct uapi_userspace_memory_region2) != 160);
BUILD_BUG_ON(KVM_CREATE_GUEST_MEMFD != 0xC040AED4u);
BUILD_BUG_ON(KVM_SET_USER_MEMORY_REGION2 != 0x40A0AE49u);

#endif
