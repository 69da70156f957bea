// SPDX-License-Identifier: MIT
/*
 * The KHO image: build, parse, check and print (docs/kho-image.md).
 *
 * A parse runs in two steps, each of which can refuse the image:
 *
 *   decode   the tree's shape: compatibles, node names, required and
 *            unknown properties, property lengths, strings
 *   check    what the numbers mean: ranges, alignment, orders, overlaps,
 *            poison against folios; kho_image_build() runs the same check
 *            on its input, so a valid struct builds and only a valid blob
 *            parses
 *
 * Every message starts with the node's path and the property.
 *
 * Models: the record side of kho_add_subtree() and memfd_luo's or
 * guest_memfd_luo's serialization, not the preserved-memory map.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "base/alloc.h"
#include "kho/image.h"
#include "kvm/kvm.h"

/* The file flags are the model's guest_memfd flags, bit for bit. */
BUILD_BUG_ON(KHO_GMEM_FLAG_MMAP != GUEST_MEMFD_FLAG_MMAP);
BUILD_BUG_ON(KHO_GMEM_FLAG_INIT_SHARED != GUEST_MEMFD_FLAG_INIT_SHARED);
BUILD_BUG_ON(KHO_GMEM_HUGETLB_SHIFT != GUESTMEM_HUGETLB_FLAG_SHIFT);
BUILD_BUG_ON(KHO_GMEM_HUGETLB_MASK != GUESTMEM_HUGETLB_FLAG_MASK << GUESTMEM_HUGETLB_FLAG_SHIFT);

/* Record sizes on the wire (big-endian fields, no padding). */
#define BINDING_SIZE	32	/* u64 slot, u64 base-gfn, u64 npages, u64 pgoff */
#define ATTR_SIZE	24	/* u64 first, u64 count, u64 private (0 or 1) */
#define FOLIO_SIZE	24	/* u64 index, u64 pfn, u32 order, u32 flags */
#define PFN_SIZE	8

#define GMEM_NODE	"guest_memfd@"
#define SPLIT_NODE	"split@"
#define POISON_NODE	"poison"
#define PATH_MAX_LEN	96

static const char *const mpol_names[KHO_MPOL_MAX] = {
	"MPOL_DEFAULT", "MPOL_PREFERRED", "MPOL_BIND", "MPOL_INTERLEAVE",
	"MPOL_LOCAL", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE",
};

static __printf(3, 4) int kho_err(struct kho_error *err, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return ret;
}

static u64 get_be64(const u8 *p)
{
	u64 v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static u32 get_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static void put_be64(u8 *p, u64 v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (u8)v;
}

static void put_be32(u8 *p, u32 v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (u8)v;
}

static void gmem_path(char *buf, const struct kho_gmem *f)
{
	snprintf(buf, PATH_MAX_LEN, "/" GMEM_NODE "%llx", (unsigned long long)f->token);
}

static void split_path(char *buf, const struct kho_gmem *f, const struct kho_split *s)
{
	snprintf(buf, PATH_MAX_LEN, "/" GMEM_NODE "%llx/" SPLIT_NODE "%llx",
		 (unsigned long long)f->token, (unsigned long long)s->head_pfn);
}

static u64 file_pages(const struct kho_gmem *f)
{
	return f->size >> PAGE_SHIFT;
}

/* [first, first + n) lies in [0, limit), without overflow. */
static bool range_within(u64 first, u64 n, u64 limit)
{
	return first < limit && n <= limit - first;
}

static int hweight64(u64 w)
{
	return __builtin_popcountll(w);
}

/* ---- the check --------------------------------------------------------- */

/*
 * One closed interval [start, last] of something with a number line: pfns,
 * file indexes, tokens. Sorting them finds every overlap in O(n log n).
 */
enum krange_kind { KR_FOLIO, KR_SPLIT, KR_ATTR, KR_BINDING, KR_POISON };

struct krange {
	u64 start, last;
	const struct kho_gmem *f;	/* NULL: the host's /poison */
	size_t idx;
	u8 kind;
};

static int krange_cmp(const void *a, const void *b)
{
	const struct krange *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->f != y->f)
		return (uintptr_t)x->f < (uintptr_t)y->f ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* "folio 3 (pfns 0x200-0x3ff)" and the node and property it is in. */
static void krange_describe(const struct krange *r, bool by_index, char *path, const char **prop,
			    char *what, size_t n)
{
	const char *unit = by_index ? "indexes" : "pfns";

	if (!r->f)
		snprintf(path, PATH_MAX_LEN, "/" POISON_NODE);
	else if (r->kind == KR_SPLIT)
		split_path(path, r->f, &r->f->splits[r->idx]);
	else
		gmem_path(path, r->f);
	switch (r->kind) {
	case KR_FOLIO:
		*prop = "folios";
		snprintf(what, n, "folio %zu (%s 0x%llx-0x%llx)", r->idx, unit,
			 (unsigned long long)r->start, (unsigned long long)r->last);
		break;
	case KR_SPLIT:
		*prop = "head-pfn";
		snprintf(what, n, "split page (pfns 0x%llx-0x%llx)",
			 (unsigned long long)r->start, (unsigned long long)r->last);
		break;
	case KR_ATTR:
		*prop = "attributes";
		snprintf(what, n, "run %zu (indexes 0x%llx-0x%llx)", r->idx,
			 (unsigned long long)r->start, (unsigned long long)r->last);
		break;
	case KR_BINDING:
		*prop = "bindings";
		snprintf(what, n, "binding %zu (pgoffs 0x%llx-0x%llx)", r->idx,
			 (unsigned long long)r->start, (unsigned long long)r->last);
		break;
	default:
		*prop = r->f ? "poison" : "pfns";
		snprintf(what, n, "pfn 0x%llx (entry %zu)", (unsigned long long)r->start, r->idx);
		break;
	}
}

/* Sort @r; the first pair that overlaps is reported (the later one's node first). */
static int krange_check(struct krange *r, size_t n, bool by_index, struct kho_error *err)
{
	char path[PATH_MAX_LEN], opath[PATH_MAX_LEN], what[96], owhat[96];
	const char *prop, *oprop;

	qsort(r, n, sizeof(*r), krange_cmp);
	for (size_t i = 1; i < n; i++) {
		if (r[i].start > r[i - 1].last)
			continue;
		krange_describe(&r[i], by_index, path, &prop, what, sizeof(what));
		krange_describe(&r[i - 1], by_index, opath, &oprop, owhat, sizeof(owhat));
		if (r[i].kind == KR_POISON)
			return kho_err(err, -EINVAL, "%s: property \"%s\": %s appears twice",
				       path, prop, what);
		return kho_err(err, -EINVAL, "%s: property \"%s\": %s overlaps %s of %s",
			       path, prop, what, owhat, opath);
	}
	return 0;
}

/* The entry of sorted @r (no overlaps) that contains @x, or NULL. */
static const struct krange *krange_find(const struct krange *r, size_t n, u64 x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x < r[mid].start)
			hi = mid;
		else if (x > r[mid].last)
			lo = mid + 1;
		else
			return &r[mid];
	}
	return NULL;
}

static struct krange *krange_alloc(size_t n, struct kho_error *err)
{
	struct krange *r = kcalloc(n ? n : 1, sizeof(*r), GFP_KERNEL);

	if (!r)
		kho_err(err, -ENOMEM, "out of memory checking the image");
	return r;
}

struct check {
	const struct kho_image *img;
	struct krange *host_poison;	/* sorted */
	struct kho_error *err;
};

static bool host_poisoned(const struct check *c, u64 pfn)
{
	return krange_find(c->host_poison, c->img->nr_poison, pfn);
}

static int check_host_poison(struct check *c)
{
	const struct kho_image *img = c->img;

	for (size_t i = 0; i < img->nr_poison; i++) {
		u64 pfn = img->poison[i];

		if (pfn >= img->memory_pages)
			return kho_err(c->err, -EINVAL,
				       "/" POISON_NODE ": property \"pfns\": pfn 0x%llx (entry %zu) is beyond memory-pages 0x%llx",
				       (unsigned long long)pfn, i, (unsigned long long)img->memory_pages);
		c->host_poison[i] = (struct krange){ pfn, pfn, NULL, i, KR_POISON };
	}
	return krange_check(c->host_poison, img->nr_poison, false, c->err);
}

static int check_mempolicy(const struct kho_gmem *f, const char *path, struct kho_error *err)
{
	const struct kho_mempolicy *pol = &f->policy;
	int nodes = 0;

	if (pol->mode >= KHO_MPOL_MAX)
		return kho_err(err, -EINVAL, "%s: property \"mempolicy-mode\": %u is not a mempolicy mode (0-%d)",
			       path, pol->mode, KHO_MPOL_MAX - 1);
	for (int i = 0; i < KHO_NODEMASK_WORDS; i++)
		nodes += hweight64(pol->nodemask[i]);
	switch (pol->mode) {
	case KHO_MPOL_DEFAULT:
	case KHO_MPOL_LOCAL:
		if (nodes)
			return kho_err(err, -EINVAL, "%s: property \"mempolicy-nodes\": %s takes no nodes, found %d",
				       path, mpol_names[pol->mode], nodes);
		break;
	case KHO_MPOL_PREFERRED:
		if (nodes != 1)
			return kho_err(err, -EINVAL, "%s: property \"mempolicy-nodes\": %s takes one node, found %d",
				       path, mpol_names[pol->mode], nodes);
		break;
	default:
		if (!nodes)
			return kho_err(err, -EINVAL, "%s: property \"mempolicy-nodes\": %s needs at least one node",
				       path, mpol_names[pol->mode]);
		break;
	}
	return 0;
}

/* Flags, page order, size, policy, bindings, attribute runs: the file alone. */
static int check_file_shape(const struct kho_gmem *f, const char *path, struct kho_error *err)
{
	const u64 known = KHO_GMEM_FLAG_MMAP | KHO_GMEM_FLAG_INIT_SHARED | KHO_GMEM_HUGETLB_MASK;
	unsigned int shift = (unsigned int)((f->flags & KHO_GMEM_HUGETLB_MASK) >> KHO_GMEM_HUGETLB_SHIFT);
	unsigned int want_order;
	u64 pages = file_pages(f), huge;
	struct krange *r;
	int ret;

	if (f->flags & ~known)
		return kho_err(err, -EINVAL, "%s: property \"flags\": unknown bits 0x%llx",
			       path, (unsigned long long)(f->flags & ~known));
	if (shift && shift != PMD_SHIFT && shift != PUD_SHIFT)
		return kho_err(err, -EINVAL, "%s: property \"flags\": HugeTLB page shift %u is not %d or %d",
			       path, shift, PMD_SHIFT, PUD_SHIFT);
	want_order = shift ? shift - PAGE_SHIFT : 0;
	if (f->page_order != want_order)
		return kho_err(err, -EINVAL, "%s: property \"page-order\": %u does not match \"flags\" (expected %u)",
			       path, f->page_order, want_order);
	huge = PAGE_SIZE << f->page_order;
	if (!f->size || f->size % huge)
		return kho_err(err, -EINVAL, "%s: property \"size\": 0x%llx is not a positive multiple of the page size 0x%llx",
			       path, (unsigned long long)f->size, (unsigned long long)huge);
	ret = check_mempolicy(f, path, err);
	if (ret)
		return ret;

	for (size_t i = 0; i < f->nr_bindings; i++) {
		const struct kho_binding *b = &f->bindings[i];

		if (!b->npages || !range_within(b->pgoff, b->npages, pages))
			return kho_err(err, -EINVAL, "%s: property \"bindings\": binding %zu (pgoff 0x%llx, npages 0x%llx) is not within the file's 0x%llx pages",
				       path, i, (unsigned long long)b->pgoff,
				       (unsigned long long)b->npages, (unsigned long long)pages);
		if (b->base_gfn > U64_MAX - b->npages)
			return kho_err(err, -EINVAL, "%s: property \"bindings\": binding %zu: base-gfn 0x%llx + npages overflows",
				       path, i, (unsigned long long)b->base_gfn);
	}
	for (size_t i = 0; i < f->nr_attrs; i++) {
		const struct kho_attr_run *a = &f->attrs[i];

		if (!a->count || !range_within(a->first, a->count, pages))
			return kho_err(err, -EINVAL, "%s: property \"attributes\": run %zu (first 0x%llx, count 0x%llx) is not within the file's 0x%llx pages",
				       path, i, (unsigned long long)a->first,
				       (unsigned long long)a->count, (unsigned long long)pages);
	}

	r = krange_alloc(max(f->nr_bindings, f->nr_attrs), err);
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < f->nr_bindings; i++)
		r[i] = (struct krange){ f->bindings[i].pgoff,
					f->bindings[i].pgoff + f->bindings[i].npages - 1, f, i, KR_BINDING };
	ret = krange_check(r, f->nr_bindings, true, err);
	for (size_t i = 0; !ret && i < f->nr_attrs; i++)
		r[i] = (struct krange){ f->attrs[i].first, f->attrs[i].first + f->attrs[i].count - 1,
					f, i, KR_ATTR };
	if (!ret)
		ret = krange_check(r, f->nr_attrs, true, err);
	kfree(r);
	return ret;
}

/* Split pages: order, alignment, memory, raw poison. Fills sorted @splits. */
static int check_splits(const struct check *c, const struct kho_gmem *f, struct krange *splits)
{
	char path[PATH_MAX_LEN];
	u64 n = 1ULL << f->page_order;

	for (size_t i = 0; i < f->nr_splits; i++) {
		const struct kho_split *s = &f->splits[i];

		split_path(path, f, s);
		if (!f->page_order)
			return kho_err(c->err, -EINVAL, "%s: property \"order\": a split page in a file of 4K pages", path);
		if (s->order != f->page_order)
			return kho_err(c->err, -EINVAL, "%s: property \"order\": %u, expected the file's page order %u",
				       path, s->order, f->page_order);
		if (s->head_pfn & (n - 1) || !range_within(s->head_pfn, n, c->img->memory_pages))
			return kho_err(c->err, -EINVAL, "%s: property \"head-pfn\": 0x%llx is not an order-%u page within memory-pages 0x%llx",
				       path, (unsigned long long)s->head_pfn, s->order,
				       (unsigned long long)c->img->memory_pages);
		for (size_t j = 0; j < s->nr_raw_poison; j++) {
			u64 pfn = s->raw_poison[j];

			if (pfn < s->head_pfn || pfn - s->head_pfn >= n)
				return kho_err(c->err, -EINVAL, "%s: property \"raw-poison\": pfn 0x%llx (entry %zu) is outside the page 0x%llx-0x%llx",
					       path, (unsigned long long)pfn, j,
					       (unsigned long long)s->head_pfn,
					       (unsigned long long)(s->head_pfn + n - 1));
			if (!host_poisoned(c, pfn))
				return kho_err(c->err, -EINVAL, "%s: property \"raw-poison\": pfn 0x%llx (entry %zu) is not in /" POISON_NODE,
					       path, (unsigned long long)pfn, j);
			for (size_t k = 0; k < j; k++)
				if (s->raw_poison[k] == pfn)
					return kho_err(c->err, -EINVAL, "%s: property \"raw-poison\": pfn 0x%llx appears twice",
						       path, (unsigned long long)pfn);
		}
		splits[i] = (struct krange){ s->head_pfn, s->head_pfn + n - 1, f, i, KR_SPLIT };
	}
	return krange_check(splits, f->nr_splits, false, c->err);
}

/*
 * Folios of one file: flags, order, alignment, memory, file size, pieces
 * of split pages, overlapping indexes. Fills @byidx (sorted by index).
 */
static int check_folios(const struct check *c, const struct kho_gmem *f, const char *path,
			const struct krange *splits, struct krange *byidx)
{
	const u32 known = KHO_FOLIO_UPTODATE | KHO_FOLIO_DIRTY;
	u64 pages = file_pages(f), huge = 1ULL << f->page_order;

	for (size_t i = 0; i < f->nr_folios; i++) {
		const struct kho_folio *fo = &f->folios[i];
		const struct krange *sp;
		u64 n;

		if (fo->flags & ~known)
			return kho_err(c->err, -EINVAL, "%s: property \"folios\": folio %zu has unknown flags 0x%x",
				       path, i, fo->flags & ~known);
		if (fo->order != f->page_order && (fo->order || !f->page_order))
			return kho_err(c->err, -EINVAL, "%s: property \"folios\": folio %zu has order %u, expected the file's page order %u",
				       path, i, fo->order, f->page_order);
		n = 1ULL << fo->order;
		if (!range_within(fo->pfn, n, c->img->memory_pages))
			return kho_err(c->err, -EINVAL, "%s: property \"folios\": folio %zu (pfn 0x%llx, order %u) is beyond memory-pages 0x%llx",
				       path, i, (unsigned long long)fo->pfn, fo->order,
				       (unsigned long long)c->img->memory_pages);
		if (!range_within(fo->index, n, pages))
			return kho_err(c->err, -EINVAL, "%s: property \"folios\": folio %zu (index 0x%llx, order %u) is beyond the file's 0x%llx pages",
				       path, i, (unsigned long long)fo->index, fo->order,
				       (unsigned long long)pages);
		if ((fo->pfn | fo->index) & (n - 1))
			return kho_err(c->err, -EINVAL, "%s: property \"folios\": folio %zu (index 0x%llx, pfn 0x%llx) is not aligned to its order %u",
				       path, i, (unsigned long long)fo->index,
				       (unsigned long long)fo->pfn, fo->order);
		if (fo->order != f->page_order) {
			/* A 4K piece of a split HugeTLB page, at its own offset. */
			sp = krange_find(splits, f->nr_splits, fo->pfn);
			if (!sp)
				return kho_err(c->err, -EINVAL, "%s: property \"folios\": folio %zu (pfn 0x%llx) has order 0 but is in none of the file's split pages",
					       path, i, (unsigned long long)fo->pfn);
			if ((fo->index & (huge - 1)) != fo->pfn - sp->start)
				return kho_err(c->err, -EINVAL, "%s: property \"folios\": folio %zu (index 0x%llx, pfn 0x%llx) is not at its offset in split page 0x%llx",
					       path, i, (unsigned long long)fo->index,
					       (unsigned long long)fo->pfn, (unsigned long long)sp->start);
		}
		byidx[i] = (struct krange){ fo->index, fo->index + n - 1, f, i, KR_FOLIO };
	}
	return krange_check(byidx, f->nr_folios, true, c->err);
}

/* The file's poison: each pfn in one of its folios and in /poison, once. */
static int check_file_poison(const struct check *c, const struct kho_gmem *f)
{
	char path[PATH_MAX_LEN];
	struct krange *bypfn = krange_alloc(max(f->nr_folios, f->nr_poison), c->err);
	int ret = 0;

	if (!bypfn)
		return -ENOMEM;
	gmem_path(path, f);

	for (size_t i = 0; i < f->nr_folios; i++)
		bypfn[i] = (struct krange){ f->folios[i].pfn,
					    f->folios[i].pfn + (1ULL << f->folios[i].order) - 1,
					    f, i, KR_FOLIO };
	qsort(bypfn, f->nr_folios, sizeof(*bypfn), krange_cmp);
	for (size_t i = 0; i < f->nr_poison; i++) {
		u64 pfn = f->poison[i];

		if (!krange_find(bypfn, f->nr_folios, pfn))
			ret = kho_err(c->err, -EINVAL, "%s: property \"poison\": pfn 0x%llx (entry %zu) is in none of the file's folios",
				      path, (unsigned long long)pfn, i);
		else if (!host_poisoned(c, pfn))
			ret = kho_err(c->err, -EINVAL, "%s: property \"poison\": pfn 0x%llx (entry %zu) is not in /" POISON_NODE,
				      path, (unsigned long long)pfn, i);
		if (ret)
			goto out;
	}
	/* Duplicates: reuse the array, the folios are not needed any more. */
	for (size_t i = 0; i < f->nr_poison; i++)
		bypfn[i] = (struct krange){ f->poison[i], f->poison[i], f, i, KR_POISON };
	ret = krange_check(bypfn, f->nr_poison, false, c->err);
out:
	kfree(bypfn);
	return ret;
}

static int check_file(const struct check *c, const struct kho_gmem *f)
{
	char path[PATH_MAX_LEN];
	struct krange *splits, *tmp;
	int ret;

	gmem_path(path, f);
	ret = check_file_shape(f, path, c->err);
	if (ret)
		return ret;
	splits = krange_alloc(f->nr_splits, c->err);
	tmp = krange_alloc(f->nr_folios, c->err);
	if (!splits || !tmp) {
		ret = -ENOMEM;
		goto out;
	}
	ret = check_splits(c, f, splits);
	if (!ret)
		ret = check_folios(c, f, path, splits, tmp);
out:
	kfree(tmp);
	kfree(splits);
	return ret;
}

/*
 * Across files: tokens are unique; no two folios share a pfn; a split page
 * shares no pfn with a folio that is not one of its pieces.
 */
static int check_host(const struct check *c)
{
	const struct kho_image *img = c->img;
	size_t nr_folios = 0, nr_whole = 0, n;
	struct krange *r;
	int ret;

	for (size_t i = 0; i < img->nr_files; i++)
		for (size_t j = 0; j < i; j++)
			if (img->files[i].token == img->files[j].token) {
				char path[PATH_MAX_LEN];

				gmem_path(path, &img->files[i]);
				return kho_err(c->err, -EINVAL, "%s: property \"token\": 0x%llx is the token of guest_memfd %zu and %zu",
					       path, (unsigned long long)img->files[i].token, j, i);
			}
	for (size_t i = 0; i < img->nr_files; i++)
		nr_folios += img->files[i].nr_folios;
	for (size_t i = 0; i < img->nr_files; i++)
		nr_whole += img->files[i].nr_splits;
	r = krange_alloc(nr_folios + nr_whole, c->err);
	if (!r)
		return -ENOMEM;

	n = 0;
	for (size_t i = 0; i < img->nr_files; i++) {
		const struct kho_gmem *f = &img->files[i];

		for (size_t j = 0; j < f->nr_folios; j++)
			r[n++] = (struct krange){ f->folios[j].pfn,
						  f->folios[j].pfn + (1ULL << f->folios[j].order) - 1,
						  f, j, KR_FOLIO };
	}
	ret = krange_check(r, n, false, c->err);
	if (ret)
		goto out;

	n = 0;
	for (size_t i = 0; i < img->nr_files; i++) {
		const struct kho_gmem *f = &img->files[i];

		for (size_t j = 0; j < f->nr_folios; j++) {
			if (f->folios[j].order != f->page_order)
				continue;	/* a piece: inside its split page */
			r[n++] = (struct krange){ f->folios[j].pfn,
						  f->folios[j].pfn + (1ULL << f->folios[j].order) - 1,
						  f, j, KR_FOLIO };
		}
		for (size_t j = 0; j < f->nr_splits; j++)
			r[n++] = (struct krange){ f->splits[j].head_pfn,
						  f->splits[j].head_pfn + (1ULL << f->splits[j].order) - 1,
						  f, j, KR_SPLIT };
	}
	ret = krange_check(r, n, false, c->err);
out:
	kfree(r);
	return ret;
}

static int kho_image_check(const struct kho_image *img, struct kho_error *err)
{
	struct check c = { .img = img, .err = err };
	int ret;

	c.host_poison = krange_alloc(img->nr_poison, err);
	if (!c.host_poison)
		return -ENOMEM;
	ret = check_host_poison(&c);
	for (size_t i = 0; !ret && i < img->nr_files; i++)
		ret = check_file(&c, &img->files[i]);
	if (!ret)
		ret = check_host(&c);
	/* Last: finding a pfn's folio needs the folios not to overlap. */
	for (size_t i = 0; !ret && i < img->nr_files; i++)
		ret = check_file_poison(&c, &img->files[i]);
	kfree(c.host_poison);
	return ret;
}

/* ---- build ------------------------------------------------------------- */

static int emit_u64s(void *fdt, const char *name, const u64 *v, size_t n)
{
	void *p;
	int ret = fdt_property_placeholder(fdt, name, (int)(n * PFN_SIZE), &p);

	for (size_t i = 0; !ret && i < n; i++)
		put_be64((u8 *)p + i * PFN_SIZE, v[i]);
	return ret;
}

static int emit_split(void *fdt, const struct kho_split *s)
{
	char name[40];
	int ret;

	snprintf(name, sizeof(name), SPLIT_NODE "%llx", (unsigned long long)s->head_pfn);
	ret = fdt_begin_node(fdt, name);
	ret = ret ?: fdt_property_string(fdt, "compatible", KHO_SPLIT_COMPATIBLE);
	ret = ret ?: fdt_property_u64(fdt, "head-pfn", s->head_pfn);
	ret = ret ?: fdt_property_u32(fdt, "order", s->order);
	ret = ret ?: fdt_property_u64(fdt, "subpool-reservation", s->subpool_resv);
	ret = ret ?: fdt_property_string(fdt, "memcg", s->memcg ? s->memcg : "");
	ret = ret ?: fdt_property_string(fdt, "hugetlb-cgroup", s->hugetlb_cg ? s->hugetlb_cg : "");
	ret = ret ?: emit_u64s(fdt, "raw-poison", s->raw_poison, s->nr_raw_poison);
	return ret ?: fdt_end_node(fdt);
}

static int emit_gmem(void *fdt, const struct kho_gmem *f)
{
	char name[40];
	size_t words = KHO_NODEMASK_WORDS;
	void *p;
	int ret;

	snprintf(name, sizeof(name), GMEM_NODE "%llx", (unsigned long long)f->token);
	while (words && !f->policy.nodemask[words - 1])
		words--;
	ret = fdt_begin_node(fdt, name);
	ret = ret ?: fdt_property_string(fdt, "compatible", KHO_GMEM_COMPATIBLE);
	ret = ret ?: fdt_property_u64(fdt, "token", f->token);
	ret = ret ?: fdt_property_u64(fdt, "size", f->size);
	ret = ret ?: fdt_property_u64(fdt, "flags", f->flags);
	ret = ret ?: fdt_property_u32(fdt, "page-order", f->page_order);
	ret = ret ?: fdt_property_u64(fdt, "vm-token", f->vm_token);
	ret = ret ?: fdt_property_u32(fdt, "mempolicy-mode", f->policy.mode);
	ret = ret ?: emit_u64s(fdt, "mempolicy-nodes", f->policy.nodemask, words);
	ret = ret ?: fdt_property_placeholder(fdt, "bindings", (int)(f->nr_bindings * BINDING_SIZE), &p);
	for (size_t i = 0; !ret && i < f->nr_bindings; i++) {
		u8 *b = (u8 *)p + i * BINDING_SIZE;

		put_be64(b, f->bindings[i].slot);
		put_be64(b + 8, f->bindings[i].base_gfn);
		put_be64(b + 16, f->bindings[i].npages);
		put_be64(b + 24, f->bindings[i].pgoff);
	}
	ret = ret ?: fdt_property_placeholder(fdt, "attributes", (int)(f->nr_attrs * ATTR_SIZE), &p);
	for (size_t i = 0; !ret && i < f->nr_attrs; i++) {
		u8 *a = (u8 *)p + i * ATTR_SIZE;

		put_be64(a, f->attrs[i].first);
		put_be64(a + 8, f->attrs[i].count);
		put_be64(a + 16, f->attrs[i].private);
	}
	ret = ret ?: fdt_property_placeholder(fdt, "folios", (int)(f->nr_folios * FOLIO_SIZE), &p);
	for (size_t i = 0; !ret && i < f->nr_folios; i++) {
		u8 *o = (u8 *)p + i * FOLIO_SIZE;

		put_be64(o, f->folios[i].index);
		put_be64(o + 8, f->folios[i].pfn);
		put_be32(o + 16, f->folios[i].order);
		put_be32(o + 20, f->folios[i].flags);
	}
	ret = ret ?: emit_u64s(fdt, "poison", f->poison, f->nr_poison);
	for (size_t i = 0; !ret && i < f->nr_splits; i++)
		ret = emit_split(fdt, &f->splits[i]);
	return ret ?: fdt_end_node(fdt);
}

static int emit_image(void *fdt, int size, const struct kho_image *img)
{
	int ret = fdt_create(fdt, size);

	ret = ret ?: fdt_finish_reservemap(fdt);
	ret = ret ?: fdt_begin_node(fdt, "");
	ret = ret ?: fdt_property_string(fdt, "compatible", KHO_COMPATIBLE);
	ret = ret ?: fdt_property_u64(fdt, "memory-pages", img->memory_pages);
	ret = ret ?: fdt_begin_node(fdt, POISON_NODE);
	ret = ret ?: fdt_property_string(fdt, "compatible", KHO_POISON_COMPATIBLE);
	ret = ret ?: emit_u64s(fdt, "pfns", img->poison, img->nr_poison);
	ret = ret ?: fdt_end_node(fdt);
	for (size_t i = 0; !ret && i < img->nr_files; i++)
		ret = emit_gmem(fdt, &img->files[i]);
	ret = ret ?: fdt_end_node(fdt);
	return ret ?: fdt_finish(fdt);
}

/* A first guess at the blob's size; emit_image() reports when it was short. */
static size_t estimate(const struct kho_image *img)
{
	size_t n = 512 + img->nr_poison * PFN_SIZE;

	for (size_t i = 0; i < img->nr_files; i++) {
		const struct kho_gmem *f = &img->files[i];

		n += 512 + KHO_NODEMASK_WORDS * 8 + f->nr_bindings * BINDING_SIZE +
		     f->nr_attrs * ATTR_SIZE + f->nr_folios * FOLIO_SIZE + f->nr_poison * PFN_SIZE;
		for (size_t j = 0; j < f->nr_splits; j++) {
			const struct kho_split *s = &f->splits[j];

			n += 256 + s->nr_raw_poison * PFN_SIZE +
			     (s->memcg ? strlen(s->memcg) : 0) +
			     (s->hugetlb_cg ? strlen(s->hugetlb_cg) : 0);
		}
	}
	return n;
}

int kho_image_emit(const struct kho_image *img, void **blob, size_t *len, struct kho_error *err)
{
	size_t size = estimate(img);

	*blob = NULL;
	*len = 0;
	for (;;) {
		void *fdt;
		int ret;

		if (size > INT32_MAX)
			return kho_err(err, -EINVAL, "/: the image would be larger than 2 GiB");
		fdt = kmalloc(size, GFP_KERNEL);
		if (!fdt)
			return kho_err(err, -ENOMEM, "/: out of memory for a %zu-byte image", size);
		ret = emit_image(fdt, (int)size, img);
		if (!ret) {
			*blob = fdt;
			*len = fdt_totalsize(fdt);
			return 0;
		}
		kfree(fdt);
		if (ret != -FDT_ERR_NOSPACE)
			return kho_err(err, -EINVAL, "/: libfdt: %s", fdt_strerror(ret));
		size *= 2;
	}
}

int kho_image_build(const struct kho_image *img, void **blob, size_t *len, struct kho_error *err)
{
	int ret;

	*blob = NULL;
	*len = 0;
	ret = kho_image_check(img, err);
	return ret ?: kho_image_emit(img, blob, len, err);
}

/* ---- decode ------------------------------------------------------------ */

struct dec {
	const void *fdt;
	struct kho_error *err;
};

static int dec_prop(const struct dec *d, int node, const char *path, const char *name,
		    const u8 **val, int *len)
{
	const void *p = fdt_getprop(d->fdt, node, name, len);

	if (!p && *len == -FDT_ERR_NOTFOUND)
		return kho_err(d->err, -EINVAL, "%s: property \"%s\" is missing", path, name);
	if (!p)
		return kho_err(d->err, -EINVAL, "%s: property \"%s\": %s", path, name, fdt_strerror(*len));
	*val = p;
	return 0;
}

static int dec_u64(const struct dec *d, int node, const char *path, const char *name, u64 *v)
{
	const u8 *p = NULL;
	int len, ret = dec_prop(d, node, path, name, &p, &len);

	if (ret)
		return ret;
	if (len != 8)
		return kho_err(d->err, -EINVAL, "%s: property \"%s\": length %d, expected 8 (u64)",
			       path, name, len);
	*v = get_be64(p);
	return 0;
}

static int dec_u32(const struct dec *d, int node, const char *path, const char *name, u32 *v)
{
	const u8 *p = NULL;
	int len, ret = dec_prop(d, node, path, name, &p, &len);

	if (ret)
		return ret;
	if (len != 4)
		return kho_err(d->err, -EINVAL, "%s: property \"%s\": length %d, expected 4 (u32)",
			       path, name, len);
	*v = get_be32(p);
	return 0;
}

/* An array of @size-byte records: *nr of them at *val. */
static int dec_array(const struct dec *d, int node, const char *path, const char *name,
		     size_t size, const u8 **val, size_t *nr)
{
	int len, ret = dec_prop(d, node, path, name, val, &len);

	if (ret)
		return ret;
	if ((size_t)len % size)
		return kho_err(d->err, -EINVAL, "%s: property \"%s\": length %d is not a multiple of %zu",
			       path, name, len, size);
	*nr = (size_t)len / size;
	return 0;
}

/* A kcalloc()ed array of @nr records, NULL for none. */
static int dec_alloc(const struct dec *d, const char *path, const char *name, size_t nr,
		     size_t size, void **out)
{
	*out = NULL;
	if (!nr)
		return 0;
	*out = kcalloc(nr, size, GFP_KERNEL);
	if (!*out)
		return kho_err(d->err, -ENOMEM, "%s: property \"%s\": out of memory for %zu entries",
			       path, name, nr);
	return 0;
}

static int dec_u64s(const struct dec *d, int node, const char *path, const char *name,
		    u64 **out, size_t *nr)
{
	const u8 *p;
	int ret = dec_array(d, node, path, name, PFN_SIZE, &p, nr);

	ret = ret ?: dec_alloc(d, path, name, *nr, sizeof(u64), (void **)out);
	if (ret) {
		*nr = 0;
		return ret;
	}
	for (size_t i = 0; i < *nr; i++)
		(*out)[i] = get_be64(p + i * PFN_SIZE);
	return 0;
}

static int dec_string(const struct dec *d, int node, const char *path, const char *name, char **out)
{
	const u8 *p = NULL;
	int len, ret = dec_prop(d, node, path, name, &p, &len);

	if (ret)
		return ret;
	if (!len || p[len - 1] || memchr(p, 0, (size_t)len - 1))
		return kho_err(d->err, -EINVAL, "%s: property \"%s\": not one NUL-terminated string",
			       path, name);
	*out = kstrdup((const char *)p, GFP_KERNEL);
	if (!*out)
		return kho_err(d->err, -ENOMEM, "%s: property \"%s\": out of memory", path, name);
	return 0;
}

/* The node's compatible list must name @want; another version is -EPROTONOSUPPORT. */
static int dec_compatible(const struct dec *d, int node, const char *path, const char *want)
{
	const u8 *p = NULL;
	int len, ret = dec_prop(d, node, path, "compatible", &p, &len);

	if (ret)
		return ret;
	if (!len || p[len - 1])
		return kho_err(d->err, -EINVAL, "%s: property \"compatible\": not a NUL-terminated string list",
			       path);
	if (!fdt_stringlist_contains((const char *)p, len, want))
		return kho_err(d->err, -EPROTONOSUPPORT, "%s: property \"compatible\": \"%s\" is not \"%s\"",
			       path, (const char *)p, want);
	return 0;
}

/* Every property of @node is one of @known (a version adds none silently). */
static int dec_known(const struct dec *d, int node, const char *path, const char *const *known)
{
	int off;

	fdt_for_each_property_offset(off, d->fdt, node) {
		const char *name;
		int len;
		bool ok = false;

		if (!fdt_getprop_by_offset(d->fdt, off, &name, &len))
			return kho_err(d->err, -EINVAL, "%s: %s", path, fdt_strerror(len));
		for (int i = 0; known[i] && !ok; i++)
			ok = !strcmp(name, known[i]);
		if (!ok)
			return kho_err(d->err, -EINVAL, "%s: property \"%s\" is unknown", path, name);
	}
	if (off != -FDT_ERR_NOTFOUND)
		return kho_err(d->err, -EINVAL, "%s: %s", path, fdt_strerror(off));
	return 0;
}

static int dec_no_subnodes(const struct dec *d, int node, const char *path)
{
	int sub = fdt_first_subnode(d->fdt, node);

	if (sub >= 0)
		return kho_err(d->err, -EINVAL, "%s: unknown node \"%s\"", path,
			       fdt_get_name(d->fdt, sub, NULL));
	return 0;
}

/* The node's name must be @prefix followed by @v in hex, as build writes it. */
static int dec_name(const struct dec *d, int node, const char *path, const char *prefix,
		    const char *prop, u64 v)
{
	char want[40];
	const char *name = fdt_get_name(d->fdt, node, NULL);

	snprintf(want, sizeof(want), "%s%llx", prefix, (unsigned long long)v);
	if (!name || strcmp(name, want))
		return kho_err(d->err, -EINVAL, "%s: property \"%s\": 0x%llx does not match the node name (expected %s)",
			       path, prop, (unsigned long long)v, want);
	return 0;
}

static int dec_split(const struct dec *d, int node, const char *path, struct kho_split *s)
{
	static const char *const known[] = {
		"compatible", "head-pfn", "order", "subpool-reservation", "memcg",
		"hugetlb-cgroup", "raw-poison", NULL,
	};
	int ret = dec_compatible(d, node, path, KHO_SPLIT_COMPATIBLE);

	ret = ret ?: dec_known(d, node, path, known);
	ret = ret ?: dec_no_subnodes(d, node, path);
	ret = ret ?: dec_u64(d, node, path, "head-pfn", &s->head_pfn);
	ret = ret ?: dec_name(d, node, path, SPLIT_NODE, "head-pfn", s->head_pfn);
	ret = ret ?: dec_u32(d, node, path, "order", &s->order);
	ret = ret ?: dec_u64(d, node, path, "subpool-reservation", &s->subpool_resv);
	ret = ret ?: dec_string(d, node, path, "memcg", &s->memcg);
	ret = ret ?: dec_string(d, node, path, "hugetlb-cgroup", &s->hugetlb_cg);
	return ret ?: dec_u64s(d, node, path, "raw-poison", &s->raw_poison, &s->nr_raw_poison);
}

static int dec_records(const struct dec *d, int node, const char *path, struct kho_gmem *f)
{
	const u8 *p;
	size_t nr, words;
	u64 *nodes = NULL;
	int ret;

	ret = dec_u64s(d, node, path, "mempolicy-nodes", &nodes, &words);
	if (ret)
		return ret;
	if (words > KHO_NODEMASK_WORDS) {
		kfree(nodes);
		return kho_err(d->err, -EINVAL, "%s: property \"mempolicy-nodes\": length %zu, expected at most %d (%d nodes)",
			       path, words * PFN_SIZE, KHO_NODEMASK_WORDS * 8, KHO_NODEMASK_WORDS * 64);
	}
	for (size_t i = 0; i < words; i++)
		f->policy.nodemask[i] = nodes[i];
	kfree(nodes);

	ret = dec_array(d, node, path, "bindings", BINDING_SIZE, &p, &nr);
	ret = ret ?: dec_alloc(d, path, "bindings", nr, sizeof(*f->bindings), (void **)&f->bindings);
	if (ret)
		return ret;
	f->nr_bindings = nr;
	for (size_t i = 0; i < nr; i++, p += BINDING_SIZE)
		f->bindings[i] = (struct kho_binding){ get_be64(p), get_be64(p + 8),
						       get_be64(p + 16), get_be64(p + 24) };

	ret = dec_array(d, node, path, "attributes", ATTR_SIZE, &p, &nr);
	ret = ret ?: dec_alloc(d, path, "attributes", nr, sizeof(*f->attrs), (void **)&f->attrs);
	if (ret)
		return ret;
	f->nr_attrs = nr;
	for (size_t i = 0; i < nr; i++, p += ATTR_SIZE) {
		u64 priv = get_be64(p + 16);

		if (priv > 1)
			return kho_err(d->err, -EINVAL, "%s: property \"attributes\": run %zu: private is %llu, expected 0 or 1",
				       path, i, (unsigned long long)priv);
		f->attrs[i] = (struct kho_attr_run){ get_be64(p), get_be64(p + 8), priv };
	}

	ret = dec_array(d, node, path, "folios", FOLIO_SIZE, &p, &nr);
	ret = ret ?: dec_alloc(d, path, "folios", nr, sizeof(*f->folios), (void **)&f->folios);
	if (ret)
		return ret;
	f->nr_folios = nr;
	for (size_t i = 0; i < nr; i++, p += FOLIO_SIZE)
		f->folios[i] = (struct kho_folio){ get_be64(p), get_be64(p + 8),
						   get_be32(p + 16), get_be32(p + 20) };
	return dec_u64s(d, node, path, "poison", &f->poison, &f->nr_poison);
}

static int dec_gmem(const struct dec *d, int node, struct kho_gmem *f)
{
	static const char *const known[] = {
		"compatible", "token", "size", "flags", "page-order", "vm-token",
		"mempolicy-mode", "mempolicy-nodes", "bindings", "attributes", "folios",
		"poison", NULL,
	};
	char path[PATH_MAX_LEN], spath[2 * PATH_MAX_LEN];
	size_t n = 0;
	int sub, ret;

	const char *name = fdt_get_name(d->fdt, node, NULL);

	snprintf(path, sizeof(path), "/%s", name ? name : "");
	ret = dec_compatible(d, node, path, KHO_GMEM_COMPATIBLE);
	ret = ret ?: dec_known(d, node, path, known);
	ret = ret ?: dec_u64(d, node, path, "token", &f->token);
	ret = ret ?: dec_name(d, node, path, GMEM_NODE, "token", f->token);
	ret = ret ?: dec_u64(d, node, path, "size", &f->size);
	ret = ret ?: dec_u64(d, node, path, "flags", &f->flags);
	ret = ret ?: dec_u32(d, node, path, "page-order", &f->page_order);
	ret = ret ?: dec_u64(d, node, path, "vm-token", &f->vm_token);
	ret = ret ?: dec_u32(d, node, path, "mempolicy-mode", &f->policy.mode);
	ret = ret ?: dec_records(d, node, path, f);
	if (ret)
		return ret;

	fdt_for_each_subnode(sub, d->fdt, node) {
		const char *sname = fdt_get_name(d->fdt, sub, NULL);

		if (!sname || strncmp(sname, SPLIT_NODE, strlen(SPLIT_NODE)))
			return kho_err(d->err, -EINVAL, "%s: unknown node \"%s\"", path, sname ? sname : "");
		n++;
	}
	if (sub != -FDT_ERR_NOTFOUND)
		return kho_err(d->err, -EINVAL, "%s: %s", path, fdt_strerror(sub));
	ret = dec_alloc(d, path, "split pages", n, sizeof(*f->splits), (void **)&f->splits);
	if (ret)
		return ret;
	fdt_for_each_subnode(sub, d->fdt, node) {
		snprintf(spath, sizeof(spath), "%s/%s", path, fdt_get_name(d->fdt, sub, NULL));
		ret = dec_split(d, sub, spath, &f->splits[f->nr_splits++]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Decode the tree's shape into @img (which kho_image_free() can always free). */
static int kho_image_decode(const void *fdt, size_t len, struct kho_image *img, struct kho_error *err)
{
	static const char *const root_known[] = { "compatible", "memory-pages", NULL };
	static const char *const poison_known[] = { "compatible", "pfns", NULL };
	struct dec d = { .fdt = fdt, .err = err };
	size_t nr_files = 0;
	int node, poison = -1, ret;

	/*
	 * libfdt 1.6.1's fdt_check_full() dereferences NULL on a tree older
	 * than version 16 whose root name has no '/' (fdt_get_name() fails);
	 * we write version 17 and read nothing older.
	 */
	if (len >= FDT_V1_SIZE && fdt_magic(fdt) == FDT_MAGIC && fdt_version(fdt) < 16)
		return kho_err(err, -EINVAL, "/: FDT version %u, expected 16 or later",
			       fdt_version(fdt));
	ret = fdt_check_full(fdt, len);
	if (ret)
		return kho_err(err, -EINVAL, "/: not a valid FDT of %zu bytes: %s", len, fdt_strerror(ret));
	ret = dec_compatible(&d, 0, "/", KHO_COMPATIBLE);
	ret = ret ?: dec_known(&d, 0, "/", root_known);
	ret = ret ?: dec_u64(&d, 0, "/", "memory-pages", &img->memory_pages);
	if (ret)
		return ret;

	fdt_for_each_subnode(node, fdt, 0) {
		const char *name = fdt_get_name(fdt, node, NULL);

		if (name && !strcmp(name, POISON_NODE) && poison >= 0)
			return kho_err(err, -EINVAL, "/" POISON_NODE ": node appears twice");
		if (name && !strcmp(name, POISON_NODE))
			poison = node;
		else if (name && !strncmp(name, GMEM_NODE, strlen(GMEM_NODE)))
			nr_files++;
		else
			return kho_err(err, -EINVAL, "/: unknown node \"%s\"", name ? name : "");
	}
	if (node != -FDT_ERR_NOTFOUND)
		return kho_err(err, -EINVAL, "/: %s", fdt_strerror(node));
	if (poison < 0)
		return kho_err(err, -EINVAL, "/" POISON_NODE ": node is missing");
	ret = dec_compatible(&d, poison, "/" POISON_NODE, KHO_POISON_COMPATIBLE);
	ret = ret ?: dec_known(&d, poison, "/" POISON_NODE, poison_known);
	ret = ret ?: dec_no_subnodes(&d, poison, "/" POISON_NODE);
	ret = ret ?: dec_u64s(&d, poison, "/" POISON_NODE, "pfns", &img->poison, &img->nr_poison);
	ret = ret ?: dec_alloc(&d, "/", "guest_memfd nodes", nr_files, sizeof(*img->files),
			       (void **)&img->files);
	if (ret)
		return ret;
	fdt_for_each_subnode(node, fdt, 0) {
		if (node == poison)
			continue;
		ret = dec_gmem(&d, node, &img->files[img->nr_files++]);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * libfdt wants the tree 8-byte aligned (FDT_ERR_ALIGNMENT); a blob read
 * from anywhere is copied when it is not.
 */
static int aligned_blob(const void *blob, size_t len, const void **fdt, void **copy,
			struct kho_error *err)
{
	*copy = NULL;
	*fdt = blob;
	if (!((uintptr_t)blob & 7))
		return 0;
	*copy = kmalloc(len ? len : 1, GFP_KERNEL);
	if (!*copy)
		return kho_err(err, -ENOMEM, "/: out of memory copying a %zu-byte image", len);
	memcpy(*copy, blob, len);
	*fdt = *copy;
	return 0;
}

int kho_image_parse(const void *blob, size_t len, struct kho_image *img, struct kho_error *err)
{
	const void *fdt;
	void *copy;
	int ret;

	memset(img, 0, sizeof(*img));
	ret = aligned_blob(blob, len, &fdt, &copy, err);
	if (ret)
		return ret;
	ret = kho_image_decode(fdt, len, img, err);
	ret = ret ?: kho_image_check(img, err);
	kfree(copy);
	if (ret)
		kho_image_free(img);
	return ret;
}

void kho_image_free(struct kho_image *img)
{
	for (size_t i = 0; i < img->nr_files; i++) {
		struct kho_gmem *f = &img->files[i];

		for (size_t j = 0; j < f->nr_splits; j++) {
			kfree(f->splits[j].memcg);
			kfree(f->splits[j].hugetlb_cg);
			kfree(f->splits[j].raw_poison);
		}
		kfree(f->splits);
		kfree(f->bindings);
		kfree(f->attrs);
		kfree(f->folios);
		kfree(f->poison);
	}
	kfree(img->files);
	kfree(img->poison);
	memset(img, 0, sizeof(*img));
}

/* ---- equal ------------------------------------------------------------- */

static bool u64s_equal(const u64 *a, const u64 *b, size_t n)
{
	return !n || !memcmp(a, b, n * sizeof(*a));
}

static bool str_equal(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static bool split_equal(const struct kho_split *a, const struct kho_split *b)
{
	return a->head_pfn == b->head_pfn && a->order == b->order &&
	       a->subpool_resv == b->subpool_resv && str_equal(a->memcg, b->memcg) &&
	       str_equal(a->hugetlb_cg, b->hugetlb_cg) && a->nr_raw_poison == b->nr_raw_poison &&
	       u64s_equal(a->raw_poison, b->raw_poison, a->nr_raw_poison);
}

static bool gmem_equal(const struct kho_gmem *a, const struct kho_gmem *b)
{
	if (a->token != b->token || a->size != b->size || a->flags != b->flags ||
	    a->page_order != b->page_order || a->vm_token != b->vm_token ||
	    a->policy.mode != b->policy.mode ||
	    memcmp(a->policy.nodemask, b->policy.nodemask, sizeof(a->policy.nodemask)) ||
	    a->nr_bindings != b->nr_bindings || a->nr_attrs != b->nr_attrs ||
	    a->nr_folios != b->nr_folios || a->nr_splits != b->nr_splits ||
	    a->nr_poison != b->nr_poison)
		return false;
	for (size_t i = 0; i < a->nr_bindings; i++)
		if (a->bindings[i].slot != b->bindings[i].slot ||
		    a->bindings[i].base_gfn != b->bindings[i].base_gfn ||
		    a->bindings[i].npages != b->bindings[i].npages ||
		    a->bindings[i].pgoff != b->bindings[i].pgoff)
			return false;
	for (size_t i = 0; i < a->nr_attrs; i++)
		if (a->attrs[i].first != b->attrs[i].first || a->attrs[i].count != b->attrs[i].count ||
		    a->attrs[i].private != b->attrs[i].private)
			return false;
	for (size_t i = 0; i < a->nr_folios; i++)
		if (a->folios[i].index != b->folios[i].index || a->folios[i].pfn != b->folios[i].pfn ||
		    a->folios[i].order != b->folios[i].order || a->folios[i].flags != b->folios[i].flags)
			return false;
	for (size_t i = 0; i < a->nr_splits; i++)
		if (!split_equal(&a->splits[i], &b->splits[i]))
			return false;
	return u64s_equal(a->poison, b->poison, a->nr_poison);
}

bool kho_image_equal(const struct kho_image *a, const struct kho_image *b)
{
	if (a->memory_pages != b->memory_pages || a->nr_files != b->nr_files ||
	    a->nr_poison != b->nr_poison || !u64s_equal(a->poison, b->poison, a->nr_poison))
		return false;
	for (size_t i = 0; i < a->nr_files; i++)
		if (!gmem_equal(&a->files[i], &b->files[i]))
			return false;
	return true;
}

/* ---- dump -------------------------------------------------------------- */

static void dump_pfns(FILE *out, const char *indent, const char *what, const u64 *v, size_t n)
{
	fprintf(out, "%s%s (%zu):", indent, what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(out, " 0x%llx", (unsigned long long)v[i]);
	fputc('\n', out);
}

static void dump_gmem(FILE *out, const struct kho_gmem *f)
{
	unsigned int shift = (unsigned int)((f->flags & KHO_GMEM_HUGETLB_MASK) >> KHO_GMEM_HUGETLB_SHIFT);
	bool first = true;

	fprintf(out, "/" GMEM_NODE "%llx (" KHO_GMEM_COMPATIBLE ")\n", (unsigned long long)f->token);
	fprintf(out, "  token 0x%llx vm-token 0x%llx size 0x%llx (%llu pages of order %u)\n",
		(unsigned long long)f->token, (unsigned long long)f->vm_token,
		(unsigned long long)f->size, (unsigned long long)(f->size >> (PAGE_SHIFT + f->page_order)),
		f->page_order);
	fprintf(out, "  flags 0x%llx", (unsigned long long)f->flags);
	if (f->flags & KHO_GMEM_FLAG_MMAP)
		fprintf(out, "%sMMAP", first ? " " : "|"), first = false;
	if (f->flags & KHO_GMEM_FLAG_INIT_SHARED)
		fprintf(out, "%sINIT_SHARED", first ? " " : "|"), first = false;
	if (shift)
		fprintf(out, "%sHUGETLB_%s", first ? " " : "|",
			shift == PMD_SHIFT ? "2MB" : shift == PUD_SHIFT ? "1GB" : "?");
	fputc('\n', out);
	fprintf(out, "  mempolicy %s nodes", f->policy.mode < KHO_MPOL_MAX ? mpol_names[f->policy.mode] : "?");
	first = true;
	for (int n = 0; n < KHO_NODEMASK_WORDS * 64; n++)
		if (f->policy.nodemask[n / 64] >> (n % 64) & 1)
			fprintf(out, "%s%d", first ? " " : ",", n), first = false;
	fprintf(out, "%s\n", first ? " (none)" : "");
	for (size_t i = 0; i < f->nr_bindings; i++)
		fprintf(out, "  binding %zu: slot 0x%llx gfns 0x%llx+0x%llx at pgoff 0x%llx\n", i,
			(unsigned long long)f->bindings[i].slot, (unsigned long long)f->bindings[i].base_gfn,
			(unsigned long long)f->bindings[i].npages, (unsigned long long)f->bindings[i].pgoff);
	for (size_t i = 0; i < f->nr_attrs; i++)
		fprintf(out, "  attributes %zu: pages 0x%llx+0x%llx %s\n", i,
			(unsigned long long)f->attrs[i].first, (unsigned long long)f->attrs[i].count,
			f->attrs[i].private ? "private" : "shared");
	for (size_t i = 0; i < f->nr_folios; i++) {
		const struct kho_folio *fo = &f->folios[i];

		fprintf(out, "  folio %zu: index 0x%llx pfn 0x%llx order %u%s%s", i,
			(unsigned long long)fo->index, (unsigned long long)fo->pfn, fo->order,
			fo->flags & KHO_FOLIO_UPTODATE ? " uptodate" : "",
			fo->flags & KHO_FOLIO_DIRTY ? " dirty" : "");
		if (fo->flags & ~(KHO_FOLIO_UPTODATE | KHO_FOLIO_DIRTY))
			fprintf(out, " flags 0x%x", fo->flags);
		fputc('\n', out);
	}
	dump_pfns(out, "  ", "poison", f->poison, f->nr_poison);
	for (size_t i = 0; i < f->nr_splits; i++) {
		const struct kho_split *s = &f->splits[i];

		fprintf(out, "  " SPLIT_NODE "%llx (" KHO_SPLIT_COMPATIBLE ")\n",
			(unsigned long long)s->head_pfn);
		fprintf(out, "    head-pfn 0x%llx order %u subpool-reservation %llu memcg \"%s\" hugetlb-cgroup \"%s\"\n",
			(unsigned long long)s->head_pfn, s->order, (unsigned long long)s->subpool_resv,
			s->memcg, s->hugetlb_cg);
		dump_pfns(out, "    ", "raw-poison", s->raw_poison, s->nr_raw_poison);
	}
}

int kho_image_dump(const void *blob, size_t len, FILE *out, struct kho_error *err)
{
	struct kho_error local;
	struct kho_image img = { 0 };
	const void *fdt;
	void *copy;
	int ret;

	if (!err)
		err = &local;
	ret = aligned_blob(blob, len, &fdt, &copy, err);
	if (ret)
		return ret;
	ret = kho_image_decode(fdt, len, &img, err);
	kfree(copy);
	if (ret) {
		fprintf(out, "invalid: %s\n", err->msg);
		kho_image_free(&img);
		return ret;
	}
	fprintf(out, "/ (" KHO_COMPATIBLE ") memory-pages 0x%llx\n", (unsigned long long)img.memory_pages);
	fprintf(out, "/" POISON_NODE " (" KHO_POISON_COMPATIBLE ")\n");
	dump_pfns(out, "  ", "pfns", img.poison, img.nr_poison);
	for (size_t i = 0; i < img.nr_files; i++)
		dump_gmem(out, &img.files[i]);
	ret = kho_image_check(&img, err);
	if (ret)
		fprintf(out, "invalid: %s\n", err->msg);
	kho_image_free(&img);
	return ret;
}
