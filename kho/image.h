/* SPDX-License-Identifier: MIT */
/*
 * The KHO image: what one host preserves across kexec, as a flattened
 * device tree (libfdt). docs/kho-image.md has the node layout, the
 * properties and the validation rules.
 *
 *   /                          compatible "kho-v1", memory-pages
 *   /poison                    compatible "gmemfail,poison-v1", pfns
 *   /guest_memfd@<token>       compatible "gmemfail,guest_memfd-v1", ...
 *   /guest_memfd@<token>/split@<head pfn>
 *                              compatible "gmemfail,guestmem_hugetlb_split-v1", ...
 *
 * struct kho_image is a plain description (numbers and strings, no model
 * pointers): the preserve side fills one from a host and builds the blob,
 * the restore side parses the blob into one and rebuilds the host.
 *
 * MODEL: the kernel's KHO root holds a preserved-memory map and one sub-FDT
 * per subsystem (kho_add_subtree()); guest_memfd's LUO handler is
 * "guest_memfd_luo_v1". Ours is one tree that carries more (see
 * docs/divergences.md).
 */
#ifndef GMF_KHO_IMAGE_H
#define GMF_KHO_IMAGE_H

#include <stddef.h>
#include <stdio.h>

#include "base/compiler.h"
#include "base/types.h"

#define KHO_COMPATIBLE		"kho-v1"
#define KHO_GMEM_COMPATIBLE	"gmemfail,guest_memfd-v1"
#define KHO_SPLIT_COMPATIBLE	"gmemfail,guestmem_hugetlb_split-v1"
#define KHO_POISON_COMPATIBLE	"gmemfail,poison-v1"

/* File flags: guest_memfd's creation flags as the model has them (kvm/kvm.h). */
#define KHO_GMEM_FLAG_MMAP		(1ULL << 0)
#define KHO_GMEM_FLAG_INIT_SHARED	(1ULL << 1)
#define KHO_GMEM_HUGETLB_SHIFT		58	/* log2 of the page size, 0 for 4K */
#define KHO_GMEM_HUGETLB_MASK		(0x3fULL << KHO_GMEM_HUGETLB_SHIFT)

/* Folio flags. */
#define KHO_FOLIO_UPTODATE	(1U << 0)
#define KHO_FOLIO_DIRTY		(1U << 1)

/* Memory policy modes, the kernel's enum mempolicy_mode values. */
enum kho_mpol_mode {
	KHO_MPOL_DEFAULT,
	KHO_MPOL_PREFERRED,
	KHO_MPOL_BIND,
	KHO_MPOL_INTERLEAVE,
	KHO_MPOL_LOCAL,
	KHO_MPOL_PREFERRED_MANY,
	KHO_MPOL_WEIGHTED_INTERLEAVE,
	KHO_MPOL_MAX,
};

/* 1024 nodes, the kernel's largest MAX_NUMNODES. */
#define KHO_NODEMASK_WORDS	16

struct kho_mempolicy {
	u32 mode;				/* enum kho_mpol_mode */
	u64 nodemask[KHO_NODEMASK_WORDS];	/* bit n: node n */
};

/* A memslot bound to the file: gfns [base_gfn, +npages) are pages [pgoff, +npages). */
struct kho_binding {
	u64 slot;		/* as_id << 16 | id, as KVM numbers slots */
	u64 base_gfn;
	u64 npages;
	u64 pgoff;
};

/* File pages [first, first + count) are private (or shared). */
struct kho_attr_run {
	u64 first;
	u64 count;
	bool private;
};

struct kho_folio {
	u64 index;		/* file page index of the first page */
	u64 pfn;
	u32 order;
	u32 flags;		/* KHO_FOLIO_* */
};

/*
 * A HugeTLB page of the file that is split into 4K folios, with what the
 * restructuring keeps for the merge: the subpool reservation, the cgroup
 * charges and the raw poisoned pages.
 */
struct kho_split {
	u64 head_pfn;
	u32 order;
	u64 subpool_resv;
	char *memcg;		/* cgroup path of the memcg charge */
	char *hugetlb_cg;	/* cgroup path of the hugetlb charge */
	u64 *raw_poison;
	size_t nr_raw_poison;
};

struct kho_gmem {
	u64 token;		/* the LUO token: unique in the image */
	u64 size;		/* bytes */
	u64 flags;		/* KHO_GMEM_FLAG_*, HugeTLB page size */
	u32 page_order;		/* 0 for 4K pages, 9 for 2M, 18 for 1G */
	u64 vm_token;
	struct kho_mempolicy policy;
	struct kho_binding *bindings;
	size_t nr_bindings;
	struct kho_attr_run *attrs;
	size_t nr_attrs;
	struct kho_folio *folios;
	size_t nr_folios;
	struct kho_split *splits;
	size_t nr_splits;
	u64 *poison;		/* the file's poisoned pfns */
	size_t nr_poison;
};

struct kho_image {
	u64 memory_pages;	/* the host's memory size; every pfn is below it */
	struct kho_gmem *files;
	size_t nr_files;
	u64 *poison;		/* every poisoned pfn of the host */
	size_t nr_poison;
};

/* Why a build or a parse failed: node path, property, what was expected. */
struct kho_error {
	char msg[256];
};

/*
 * Check @img and build its FDT into a new buffer (*blob, free with kfree(),
 * *len bytes). 0, or -EINVAL (@img is not valid) or -ENOMEM, with @err
 * filled.
 */
int __must_check kho_image_build(const struct kho_image *img, void **blob, size_t *len,
				 struct kho_error *err);

/*
 * Build without the check: the blob an old kernel with a bug (or a hostile
 * one) could hand over. For tests and fuzz corpora of invalid images; the
 * same errors as kho_image_build() otherwise.
 */
int __must_check kho_image_emit(const struct kho_image *img, void **blob, size_t *len,
				struct kho_error *err);

/*
 * Parse and validate @len bytes at @blob into @img, whose arrays and strings
 * are then allocated with kmalloc() (kho_image_free()). On error @img is
 * left empty and the return is -EINVAL (malformed or inconsistent),
 * -EPROTONOSUPPORT (a compatible string this version does not know) or
 * -ENOMEM.
 */
int __must_check kho_image_parse(const void *blob, size_t len, struct kho_image *img,
				 struct kho_error *err);

/* Free what kho_image_parse() allocated and empty @img. */
void kho_image_free(struct kho_image *img);

/*
 * Print the image in words to @out. An image whose properties decode is
 * printed even when it is inconsistent; the result is kho_image_parse()'s.
 */
int __must_check kho_image_dump(const void *blob, size_t len, FILE *out, struct kho_error *err);

/* Same content, in the same order (what a build and a parse keep). */
bool kho_image_equal(const struct kho_image *a, const struct kho_image *b);

#endif
