/* SPDX-License-Identifier: MIT */
/* Scalar types with the kernel's names. */
#ifndef GMF_BASE_TYPES_H
#define GMF_BASE_TYPES_H

#include <stdbool.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

typedef unsigned long pgoff_t;
typedef u64 gfn_t;
typedef u64 gpa_t;
typedef u64 phys_addr_t;

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))
#define PMD_SHIFT	21
#define PUD_SHIFT	30
#define PMD_SIZE	(1UL << PMD_SHIFT)
#define PUD_SIZE	(1UL << PUD_SHIFT)
#define PMD_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#define PUD_ORDER	(PUD_SHIFT - PAGE_SHIFT)

#define U64_MAX	((u64)~0ULL)

#define SZ_1K	0x400UL
#define SZ_1M	0x100000UL
#define SZ_1G	0x40000000UL

#endif
