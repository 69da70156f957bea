/* SPDX-License-Identifier: MIT */
/*
 * Page and folio flags, page types, and their test/set helpers, with the
 * kernel's names (include/linux/page-flags.h).
 *
 * Models: include/linux/page-flags.h (mm-new, 2026).
 * MODEL: flag values are our own; the model matches flags by name, never by
 * bit number. PG_hwpoison lives on struct page (per raw page, as in the
 * kernel); every other flag lives on the folio (the head page's flags).
 */
#ifndef GMF_MM_PAGE_FLAGS_H
#define GMF_MM_PAGE_FLAGS_H

#include "base/sync.h"

enum pageflags {
	PG_locked,
	PG_writeback,
	PG_referenced,
	PG_uptodate,
	PG_dirty,
	PG_lru,
	PG_head,
	PG_active,
	PG_owner_priv_1,	/* PG_swapcache when swapbacked */
	PG_reserved,
	PG_private,
	PG_reclaim,
	PG_swapbacked,
	PG_unevictable,
	PG_mlocked,
	PG_hwpoison,		/* on struct page only */
	PG_has_hwpoisoned,	/* a large folio with a poisoned subpage */
	PG_hugetlb_freed,	/* hugetlb: on a free list */
	PG_hugetlb_migratable,
	PG_hugetlb_raw_hwp_unreliable,
	PG_hugetlb_vmemmap_optimized,
	PG_anon,		/* MODEL: the kernel tags folio->mapping instead */
	__NR_PAGEFLAGS,
	PG_swapcache = PG_owner_priv_1,
};

extern const char *const pageflag_names[__NR_PAGEFLAGS];

/* Page types (page_type), as enum pagetype in the kernel. */
enum pagetype {
	PGTY_none = 0,
	PGTY_buddy,
	PGTY_offline,
	PGTY_table,
	PGTY_guard,
	PGTY_hugetlb,
	PGTY_slab,
	PGTY_zsmalloc,
	PGTY_unaccepted,
	PGTY_large_kmalloc,
	PGTY_guestmem_hugetlb,	/* a 4K piece of a split guest_memfd HugeTLB folio (RFC v2) */
	__NR_PGTY,
};

extern const char *const pagetype_names[__NR_PGTY];

#endif
