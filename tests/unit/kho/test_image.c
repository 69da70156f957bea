// SPDX-License-Identifier: MIT
/*
 * The KHO image (kho/image.c): round trips, and one test per class of
 * image that parse refuses, each checking that the message names the node
 * and the property.
 *
 * The fixture host (8 GiB, 0x200000 pfns) has three files:
 *
 *   /guest_memfd@1  4K pages, 16 pages, folios at 0x1000...
 *   /guest_memfd@2  2M pages, 4 pages: a huge folio at 0x40000 and, split,
 *                   the page at 0x40200 as three 4K pieces (else whole)
 *   /guest_memfd@3  1G pages, 2 pages: a huge folio at 0x100000 and, split,
 *                   the page at 0x140000 as two 4K pieces (else whole)
 *
 * With poison, each file has one poisoned pfn (in a piece when split) and
 * /poison lists them and 0x5, a pfn no file holds.
 *
 * GMF_KHO_CORPUS=DIR build/test/tests/kho/test_image -t corpus writes the
 * fuzz corpus (tests/fuzz/corpus/kho) from the same fixtures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "base/alloc.h"
#include "kho/image.h"
#include "tests/harness/t.h"

#define F_4K	1u
#define F_2M	2u
#define F_1G	4u
#define F_ALL	(F_4K | F_2M | F_1G)

#define MEMORY_PAGES	0x200000ULL

struct fix {
	struct kho_image img;
	struct kho_gmem files[3];
	u64 host_poison[8];
	struct kho_binding bind[3][2];
	struct kho_attr_run attrs[3][2];
	struct kho_folio folios[3][8];
	struct kho_split splits[3][1];
	u64 raw[3][2];
	u64 poison[3][2];
};

static struct kho_gmem *fix_file(struct fix *x, int i)
{
	struct kho_gmem *f = &x->img.files[x->img.nr_files++];

	memset(f, 0, sizeof(*f));
	f->bindings = x->bind[i];
	f->attrs = x->attrs[i];
	f->folios = x->folios[i];
	f->splits = x->splits[i];
	f->poison = x->poison[i];
	return f;
}

static void add_folio(struct kho_gmem *f, u64 index, u64 pfn, u32 order, u32 flags)
{
	f->folios[f->nr_folios++] = (struct kho_folio){ index, pfn, order, flags };
}

static void add_poison(struct fix *x, struct kho_gmem *f, u64 pfn)
{
	f->poison[f->nr_poison++] = pfn;
	x->host_poison[x->img.nr_poison++] = pfn;
}

/* A split HugeTLB page at @head with its pieces at @offs; @bad: the raw poisoned one. */
static void add_split(struct fix *x, int i, struct kho_gmem *f, u64 index, u64 head,
		      const u64 *offs, size_t n, bool poison, u64 bad)
{
	static char cg[] = "/machine.slice/vm1";
	struct kho_split *s = &f->splits[f->nr_splits++];

	*s = (struct kho_split){
		.head_pfn = head, .order = f->page_order, .subpool_resv = 1,
		.memcg = cg, .hugetlb_cg = cg,
		.raw_poison = x->raw[i],
	};
	for (size_t j = 0; j < n; j++)
		add_folio(f, index + offs[j], head + offs[j], 0, KHO_FOLIO_UPTODATE);
	if (poison) {
		s->raw_poison[s->nr_raw_poison++] = head + bad;
		add_poison(x, f, head + bad);
	}
}

static void fix_init(struct fix *x, unsigned int files, bool split, bool poison)
{
	static const u64 pieces_2m[] = { 0, 1, 5 }, pieces_1g[] = { 0, 0x123 };
	struct kho_gmem *f;

	memset(x, 0, sizeof(*x));
	x->img.memory_pages = MEMORY_PAGES;
	x->img.files = x->files;
	x->img.poison = x->host_poison;
	if (poison)
		x->host_poison[x->img.nr_poison++] = 0x5;

	if (files & F_4K) {
		f = fix_file(x, 0);
		f->token = 1;
		f->size = 16 * PAGE_SIZE;
		f->flags = KHO_GMEM_FLAG_MMAP | KHO_GMEM_FLAG_INIT_SHARED;
		f->vm_token = 0x70;
		f->bindings[f->nr_bindings++] = (struct kho_binding){ 0, 0x0, 16, 0 };
		f->attrs[f->nr_attrs++] = (struct kho_attr_run){ 0, 4, true };
		f->attrs[f->nr_attrs++] = (struct kho_attr_run){ 8, 8, false };
		add_folio(f, 0, 0x1000, 0, KHO_FOLIO_UPTODATE | KHO_FOLIO_DIRTY);
		add_folio(f, 1, 0x1001, 0, KHO_FOLIO_UPTODATE);
		add_folio(f, 2, 0x1010, 0, 0);
		add_folio(f, 9, 0x1003, 0, KHO_FOLIO_DIRTY);
		if (poison)
			add_poison(x, f, 0x1010);
	}
	if (files & F_2M) {
		f = fix_file(x, 1);
		f->token = 2;
		f->size = 4 * PMD_SIZE;
		f->flags = KHO_GMEM_FLAG_MMAP | (u64)PMD_SHIFT << KHO_GMEM_HUGETLB_SHIFT;
		f->page_order = PMD_ORDER;
		f->vm_token = 0x70;
		f->policy.mode = KHO_MPOL_BIND;
		f->policy.nodemask[0] = 0x3;
		f->bindings[f->nr_bindings++] = (struct kho_binding){ 1, 0x100000, 2048, 0 };
		f->attrs[f->nr_attrs++] = (struct kho_attr_run){ 0, 512, true };
		f->attrs[f->nr_attrs++] = (struct kho_attr_run){ 512, 1536, false };
		add_folio(f, 0, 0x40000, PMD_ORDER, KHO_FOLIO_UPTODATE);
		if (split)
			add_split(x, 1, f, 512, 0x40200, pieces_2m, ARRAY_SIZE(pieces_2m), poison, 5);
		else
			add_folio(f, 512, 0x40200, PMD_ORDER, KHO_FOLIO_UPTODATE);
		if (poison && !split)
			add_poison(x, f, 0x40010);
	}
	if (files & F_1G) {
		f = fix_file(x, 2);
		f->token = 3;
		f->size = 2 * PUD_SIZE;
		f->flags = (u64)PUD_SHIFT << KHO_GMEM_HUGETLB_SHIFT;
		f->page_order = PUD_ORDER;
		f->vm_token = 0x71;
		f->policy.mode = KHO_MPOL_PREFERRED;
		f->policy.nodemask[0] = 0x2;
		f->attrs[f->nr_attrs++] = (struct kho_attr_run){ 0, 0x80000, true };
		add_folio(f, 0, 0x100000, PUD_ORDER, KHO_FOLIO_UPTODATE | KHO_FOLIO_DIRTY);
		if (split)
			add_split(x, 2, f, 0x40000, 0x140000, pieces_1g, ARRAY_SIZE(pieces_1g), poison, 0x123);
		else
			add_folio(f, 0x40000, 0x140000, PUD_ORDER, KHO_FOLIO_UPTODATE);
		if (poison && !split)
			add_poison(x, f, 0x100abc);
	}
}

#define EXPECT_MSG(err, want) do {							\
	if (!strstr((err)->msg, (want)))						\
		t_fail(__FILE__, __LINE__, __func__, false,				\
		       "message \"%s\" does not contain \"%s\"", (err)->msg, (want));	\
} while (0)

static bool image_empty(const struct kho_image *img)
{
	static const struct kho_image zero;

	return !memcmp(img, &zero, sizeof(zero));
}

/* Parse @blob: it must fail with @want, a message containing @msg, nothing kept. */
static void expect_reject_blob(const void *blob, size_t len, int want, const char *msg)
{
	struct kho_image img;
	struct kho_error err = { "" };

	memset(&img, 0xa5, sizeof(img));
	EXPECT_ERR(kho_image_parse(blob, len, &img, &err), want);
	EXPECT_MSG(&err, msg);
	EXPECT_TRUE(image_empty(&img));
}

/*
 * An image the check refuses: kho_image_build() refuses it, and the blob
 * kho_image_emit() makes of it anyway fails parse with the same message.
 */
static void expect_reject(const struct kho_image *img, const char *msg)
{
	struct kho_error err = { "" };
	void *blob;
	size_t len;

	EXPECT_ERR(kho_image_build(img, &blob, &len, &err), -EINVAL);
	EXPECT_MSG(&err, msg);
	EXPECT_TRUE(blob == NULL);
	ASSERT_OK(kho_image_emit(img, &blob, &len, &err));
	expect_reject_blob(blob, len, -EINVAL, msg);
	kfree(blob);
}

/* A blob of @x in a malloc()ed buffer with room for libfdt edits. */
static void *editable(struct fix *x, size_t *len)
{
	struct kho_error err;
	void *blob, *fdt;
	size_t n;

	if (kho_image_build(&x->img, &blob, &n, &err))
		t_fail(__FILE__, __LINE__, __func__, true, "build: %s", err.msg);
	fdt = malloc(n + 4096);
	if (!fdt || fdt_open_into(blob, fdt, (int)n + 4096))
		t_fail(__FILE__, __LINE__, __func__, true, "fdt_open_into");
	kfree(blob);
	*len = n + 4096;
	return fdt;
}

static int node(void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	if (off < 0)
		t_fail(__FILE__, __LINE__, __func__, true, "no node %s", path);
	return off;
}

/* ---- round trips --------------------------------------------------------- */

static void roundtrip(const struct kho_image *img)
{
	struct kho_image back;
	struct kho_error err = { "" };
	void *blob;
	size_t len;
	char *text = NULL;
	size_t tlen = 0;
	FILE *out;

	ASSERT_OK(kho_image_build(img, &blob, &len, &err));
	ASSERT_EQ(len, fdt_totalsize(blob));
	EXPECT_OK(kho_image_parse(blob, len, &back, &err));
	EXPECT_TRUE(kho_image_equal(img, &back));
	out = open_memstream(&text, &tlen);
	ASSERT_TRUE(out != NULL);
	EXPECT_OK(kho_image_dump(blob, len, out, &err));
	fclose(out);
	{
		char root[64];

		snprintf(root, sizeof(root), "/ (kho-v1) memory-pages 0x%llx\n",
			 (unsigned long long)img->memory_pages);
		EXPECT_TRUE(strstr(text, root) != NULL);
	}
	for (size_t i = 0; i < img->nr_files; i++) {
		char name[64];

		snprintf(name, sizeof(name), "/guest_memfd@%llx (gmemfail,guest_memfd-v1)",
			 (unsigned long long)img->files[i].token);
		EXPECT_TRUE(strstr(text, name) != NULL);
	}
	free(text);
	kho_image_free(&back);
	EXPECT_TRUE(image_empty(&back));
	kfree(blob);
}

/* Every mix of 4K/2M/1G files, split and unsplit, with and without poison. */
TEST(roundtrip_table)
{
	static const unsigned int sets[] = { 0, F_4K, F_2M, F_1G, F_ALL };
	struct fix x;

	for (size_t s = 0; s < ARRAY_SIZE(sets); s++)
		for (int split = 0; split < 2; split++)
			for (int poison = 0; poison < 2; poison++) {
				fix_init(&x, sets[s], split, poison);
				roundtrip(&x.img);
			}
}

TEST(roundtrip_keeps_every_field)
{
	struct kho_image back;
	struct kho_error err;
	struct fix x;
	void *blob;
	size_t len;

	fix_init(&x, F_ALL, true, true);
	x.files[0].policy.mode = KHO_MPOL_INTERLEAVE;
	x.files[0].policy.nodemask[15] = 1ULL << 63;	/* node 1023 */
	x.files[0].bindings[0].slot = 1 << 16 | 3;	/* address space 1 */
	ASSERT_OK(kho_image_build(&x.img, &blob, &len, &err));
	ASSERT_OK(kho_image_parse(blob, len, &back, &err));
	ASSERT_EQ(back.nr_files, 3);
	EXPECT_EQ(back.files[0].policy.nodemask[15], 1ULL << 63);
	EXPECT_EQ(back.files[0].bindings[0].slot, 0x10003);
	EXPECT_EQ(back.files[1].nr_splits, 1);
	EXPECT_STREQ(back.files[1].splits[0].memcg, "/machine.slice/vm1");
	EXPECT_EQ(back.files[1].splits[0].raw_poison[0], 0x40205);
	EXPECT_EQ(back.files[2].folios[1].index, 0x40000);
	EXPECT_EQ(back.files[2].folios[2].pfn, 0x140123);
	EXPECT_EQ(back.nr_poison, 4);
	EXPECT_TRUE(kho_image_equal(&x.img, &back));
	back.files[1].folios[2].flags ^= KHO_FOLIO_DIRTY;
	EXPECT_FALSE(kho_image_equal(&x.img, &back));
	kho_image_free(&back);
	kfree(blob);
}

/* Every allocation of a parse and of a build can fail: -ENOMEM, nothing kept. */
TEST(allocation_failures)
{
	struct kho_image back;
	struct kho_error err;
	struct fix x;
	void *blob, *b2;
	size_t len, l2;
	unsigned long nth;
	int ret;

	fix_init(&x, F_ALL, true, true);
	ASSERT_OK(kho_image_build(&x.img, &blob, &len, &err));
	for (nth = 1;; nth++) {
		kmalloc_fault_reset();
		kmalloc_fault_set(nth, false);
		ret = kho_image_parse(blob, len, &back, &err);
		if (!ret)
			break;
		EXPECT_ERR(ret, -ENOMEM);
		EXPECT_TRUE(image_empty(&back));
	}
	kmalloc_fault_reset();
	EXPECT_GT(nth, 10);
	EXPECT_TRUE(kho_image_equal(&x.img, &back));
	kho_image_free(&back);
	for (nth = 1;; nth++) {
		kmalloc_fault_reset();
		kmalloc_fault_set(nth, false);
		ret = kho_image_build(&x.img, &b2, &l2, &err);
		if (!ret)
			break;
		EXPECT_ERR(ret, -ENOMEM);
		EXPECT_TRUE(b2 == NULL);
	}
	kmalloc_fault_reset();
	EXPECT_EQ(l2, len);
	EXPECT_TRUE(!memcmp(blob, b2, len));
	kfree(b2);
	kfree(blob);
}

/* A blob that is not 8-byte aligned is read through a copy. */
TEST(unaligned_blob_parses)
{
	struct kho_image back;
	struct kho_error err;
	struct fix x;
	void *blob;
	u8 *buf;
	size_t len;

	fix_init(&x, F_ALL, false, true);
	ASSERT_OK(kho_image_build(&x.img, &blob, &len, &err));
	buf = malloc(len + 1);
	ASSERT_TRUE(buf != NULL);
	memcpy(buf + 1, blob, len);
	EXPECT_OK(kho_image_parse(buf + 1, len, &back, &err));
	EXPECT_TRUE(kho_image_equal(&x.img, &back));
	kho_image_free(&back);
	free(buf);
	kfree(blob);
}

/* ---- the blob ------------------------------------------------------------ */

TEST(truncated_or_corrupt_blob)
{
	struct fix x;
	struct kho_error err;
	void *blob;
	size_t len;

	fix_init(&x, F_ALL, true, true);
	ASSERT_OK(kho_image_build(&x.img, &blob, &len, &err));
	expect_reject_blob(blob, len - 1, -EINVAL, "/: not a valid FDT of");
	expect_reject_blob(blob, 0, -EINVAL, "/: not a valid FDT of 0 bytes");
	expect_reject_blob(blob, 39, -EINVAL, "FDT_ERR_TRUNCATED");
	((u8 *)blob)[0] ^= 0xff;	/* the magic */
	expect_reject_blob(blob, len, -EINVAL, "FDT_ERR_BADMAGIC");
	((u8 *)blob)[0] ^= 0xff;
	((u8 *)blob)[fdt_off_dt_struct(blob) + 3] = 0x7;	/* not FDT_BEGIN_NODE */
	expect_reject_blob(blob, len, -EINVAL, "/: not a valid FDT");
	((u8 *)blob)[fdt_off_dt_struct(blob) + 3] = 0x1;
	/* Older than version 16: refused before libfdt 1.6.1's fdt_check_full() sees it. */
	fdt_set_version(blob, 2);
	expect_reject_blob(blob, len, -EINVAL, "/: FDT version 2, expected 16 or later");
	kfree(blob);
}

/* An unknown version of any node's compatible is -EPROTONOSUPPORT. */
TEST(unknown_compatible_versions)
{
	static const struct { const char *path, *compat, *msg; } cases[] = {
		{ "/", "kho-v2", "/: property \"compatible\": \"kho-v2\" is not \"kho-v1\"" },
		{ "/poison", "gmemfail,poison-v2", "/poison: property \"compatible\": \"gmemfail,poison-v2\"" },
		{ "/guest_memfd@2", "gmemfail,guest_memfd-v2",
		  "/guest_memfd@2: property \"compatible\": \"gmemfail,guest_memfd-v2\" is not \"gmemfail,guest_memfd-v1\"" },
		{ "/guest_memfd@2", "guest_memfd_luo_v1", "/guest_memfd@2: property \"compatible\": \"guest_memfd_luo_v1\"" },
		{ "/guest_memfd@3/split@140000", "gmemfail,guestmem_hugetlb_split-v2",
		  "/guest_memfd@3/split@140000: property \"compatible\"" },
	};
	struct fix x;
	size_t len;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		void *fdt;

		fix_init(&x, F_ALL, true, true);
		fdt = editable(&x, &len);
		ASSERT_OK(fdt_setprop_string(fdt, node(fdt, cases[i].path), "compatible", cases[i].compat));
		expect_reject_blob(fdt, len, -EPROTONOSUPPORT, cases[i].msg);
		free(fdt);
	}
}

/* Each property of each node is required; unknown ones and nodes are refused. */
TEST(missing_required_properties)
{
	static const struct { const char *path, *prop; } cases[] = {
		{ "/", "compatible" }, { "/", "memory-pages" },
		{ "/poison", "compatible" }, { "/poison", "pfns" },
		{ "/guest_memfd@1", "compatible" }, { "/guest_memfd@1", "token" },
		{ "/guest_memfd@1", "size" }, { "/guest_memfd@1", "flags" },
		{ "/guest_memfd@1", "page-order" }, { "/guest_memfd@1", "vm-token" },
		{ "/guest_memfd@1", "mempolicy-mode" }, { "/guest_memfd@1", "mempolicy-nodes" },
		{ "/guest_memfd@1", "bindings" }, { "/guest_memfd@1", "attributes" },
		{ "/guest_memfd@1", "folios" }, { "/guest_memfd@1", "poison" },
		{ "/guest_memfd@2/split@40200", "compatible" }, { "/guest_memfd@2/split@40200", "head-pfn" },
		{ "/guest_memfd@2/split@40200", "order" },
		{ "/guest_memfd@2/split@40200", "subpool-reservation" },
		{ "/guest_memfd@2/split@40200", "memcg" }, { "/guest_memfd@2/split@40200", "hugetlb-cgroup" },
		{ "/guest_memfd@2/split@40200", "raw-poison" },
	};
	struct fix x;
	size_t len;
	char msg[128];
	void *fdt;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		fix_init(&x, F_ALL, true, true);
		fdt = editable(&x, &len);
		ASSERT_OK(fdt_delprop(fdt, node(fdt, cases[i].path), cases[i].prop));
		snprintf(msg, sizeof(msg), "%s: property \"%s\" is missing", cases[i].path, cases[i].prop);
		expect_reject_blob(fdt, len, -EINVAL, msg);
		free(fdt);
	}

	fix_init(&x, F_ALL, true, true);
	fdt = editable(&x, &len);
	ASSERT_OK(fdt_del_node(fdt, node(fdt, "/poison")));
	expect_reject_blob(fdt, len, -EINVAL, "/poison: node is missing");
	free(fdt);

	fdt = editable(&x, &len);
	ASSERT_OK(fdt_setprop_u32(fdt, node(fdt, "/guest_memfd@1"), "zeroed", 1));
	expect_reject_blob(fdt, len, -EINVAL, "/guest_memfd@1: property \"zeroed\" is unknown");
	free(fdt);

	fdt = editable(&x, &len);
	ASSERT_GE(fdt_add_subnode(fdt, node(fdt, "/guest_memfd@1"), "extra"), 0);
	expect_reject_blob(fdt, len, -EINVAL, "/guest_memfd@1: unknown node \"extra\"");
	free(fdt);

	fdt = editable(&x, &len);
	ASSERT_GE(fdt_add_subnode(fdt, 0, "memfd@1"), 0);
	expect_reject_blob(fdt, len, -EINVAL, "/: unknown node \"memfd@1\"");
	free(fdt);
}

TEST(wrong_property_sizes)
{
	static const struct { const char *path, *prop; int len; const char *msg; } cases[] = {
		{ "/guest_memfd@1", "folios", 20, "/guest_memfd@1: property \"folios\": length 20 is not a multiple of 24" },
		{ "/guest_memfd@1", "bindings", 24, "/guest_memfd@1: property \"bindings\": length 24 is not a multiple of 32" },
		{ "/guest_memfd@1", "attributes", 8, "/guest_memfd@1: property \"attributes\": length 8 is not a multiple of 24" },
		{ "/guest_memfd@1", "poison", 12, "/guest_memfd@1: property \"poison\": length 12 is not a multiple of 8" },
		{ "/guest_memfd@1", "token", 4, "/guest_memfd@1: property \"token\": length 4, expected 8 (u64)" },
		{ "/guest_memfd@1", "page-order", 8, "/guest_memfd@1: property \"page-order\": length 8, expected 4 (u32)" },
		{ "/guest_memfd@1", "mempolicy-nodes", 136, "/guest_memfd@1: property \"mempolicy-nodes\": length 136, expected at most 128" },
		{ "/", "memory-pages", 0, "/: property \"memory-pages\": length 0, expected 8" },
		{ "/poison", "pfns", 7, "/poison: property \"pfns\": length 7 is not a multiple of 8" },
		{ "/guest_memfd@2/split@40200", "raw-poison", 9, "/guest_memfd@2/split@40200: property \"raw-poison\": length 9" },
		{ "/guest_memfd@2/split@40200", "order", 2, "/guest_memfd@2/split@40200: property \"order\": length 2, expected 4" },
	};
	static const u8 zeros[256];
	struct fix x;
	size_t len;
	void *fdt;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		fix_init(&x, F_ALL, true, true);
		fdt = editable(&x, &len);
		ASSERT_OK(fdt_setprop(fdt, node(fdt, cases[i].path), cases[i].prop, zeros, cases[i].len));
		expect_reject_blob(fdt, len, -EINVAL, cases[i].msg);
		free(fdt);
	}
	/* Strings: NUL-terminated, one of them. */
	fix_init(&x, F_ALL, true, true);
	fdt = editable(&x, &len);
	ASSERT_OK(fdt_setprop(fdt, node(fdt, "/guest_memfd@2/split@40200"), "memcg", "a\0b", 4));
	expect_reject_blob(fdt, len, -EINVAL,
			   "/guest_memfd@2/split@40200: property \"memcg\": not one NUL-terminated string");
	free(fdt);
	fdt = editable(&x, &len);
	ASSERT_OK(fdt_setprop(fdt, node(fdt, "/guest_memfd@1"), "compatible", "gmemfail", 8));
	expect_reject_blob(fdt, len, -EINVAL,
			   "/guest_memfd@1: property \"compatible\": not a NUL-terminated string list");
	free(fdt);
	/* A run's private is 0 or 1. */
	fdt = editable(&x, &len);
	{
		u8 run[24] = { 0 };

		run[15] = 4;	/* count 4 */
		run[23] = 2;	/* private 2 */
		ASSERT_OK(fdt_setprop(fdt, node(fdt, "/guest_memfd@1"), "attributes", run, sizeof(run)));
	}
	expect_reject_blob(fdt, len, -EINVAL,
			   "/guest_memfd@1: property \"attributes\": run 0: private is 2, expected 0 or 1");
	free(fdt);
}

/* A node's name is its token or head pfn in hex, as build writes it. */
TEST(node_name_must_match)
{
	struct fix x;
	size_t len;
	void *fdt;

	fix_init(&x, F_ALL, true, true);
	fdt = editable(&x, &len);
	ASSERT_OK(fdt_setprop_u64(fdt, node(fdt, "/guest_memfd@2"), "token", 0x22));
	expect_reject_blob(fdt, len, -EINVAL,
			   "/guest_memfd@2: property \"token\": 0x22 does not match the node name (expected guest_memfd@22)");
	free(fdt);
	fdt = editable(&x, &len);
	ASSERT_OK(fdt_setprop_u64(fdt, node(fdt, "/guest_memfd@2/split@40200"), "head-pfn", 0x40400));
	expect_reject_blob(fdt, len, -EINVAL,
			   "/guest_memfd@2/split@40200: property \"head-pfn\": 0x40400 does not match");
	free(fdt);
}

/* ---- what the numbers mean ----------------------------------------------- */

TEST(pfns_outside_memory)
{
	struct fix x;

	fix_init(&x, F_ALL, true, true);
	x.img.memory_pages = 0x180000;		/* the split 1G page is at its end */
	roundtrip(&x.img);
	x.img.memory_pages = 0x17ffff;
	expect_reject(&x.img, "/guest_memfd@3/split@140000: property \"head-pfn\": 0x140000 is not an order-18 page within memory-pages 0x17ffff");

	fix_init(&x, F_ALL, true, true);
	x.files[0].folios[3].pfn = MEMORY_PAGES;
	expect_reject(&x.img, "/guest_memfd@1: property \"folios\": folio 3 (pfn 0x200000, order 0) is beyond memory-pages 0x200000");

	fix_init(&x, F_ALL, false, true);
	x.files[2].folios[1].pfn = 0x1c0000;	/* 1G at the top: ends at 0x200000 */
	roundtrip(&x.img);
	x.files[2].folios[1].pfn = 0x200000;
	expect_reject(&x.img, "/guest_memfd@3: property \"folios\": folio 1 (pfn 0x200000, order 18) is beyond memory-pages");

	fix_init(&x, F_ALL, true, true);
	x.host_poison[0] = U64_MAX;
	expect_reject(&x.img, "/poison: property \"pfns\": pfn 0xffffffffffffffff (entry 0) is beyond memory-pages 0x200000");
}

TEST(overlapping_folios)
{
	struct fix x;

	/* The same pfn in two files. */
	fix_init(&x, F_ALL, false, false);
	x.files[2].folios[0].pfn = 0x0;		/* 1G folio over file 1's 4K folios */
	expect_reject(&x.img, "property \"folios\": folio 0 (pfns 0x1000-0x1000) overlaps folio 0 (pfns 0x0-0x3ffff) of /guest_memfd@3");

	/* Two folios of one file on the same pfn. */
	fix_init(&x, F_ALL, false, false);
	x.files[0].folios[1].pfn = 0x1000;
	expect_reject(&x.img, "/guest_memfd@1: property \"folios\": folio 1 (pfns 0x1000-0x1000) overlaps folio 0 (pfns 0x1000-0x1000) of /guest_memfd@1");

	/* The same file index twice. */
	fix_init(&x, F_ALL, false, false);
	x.files[0].folios[1].index = 0;
	expect_reject(&x.img, "/guest_memfd@1: property \"folios\": folio 1 (indexes 0x0-0x0) overlaps folio 0 (indexes 0x0-0x0) of /guest_memfd@1");

	/* A huge folio over another file's split page (where it has no piece). */
	fix_init(&x, F_ALL, true, false);
	x.files[1].folios[0].pfn = 0x140200;
	expect_reject(&x.img, "/guest_memfd@2: property \"folios\": folio 0 (pfns 0x140200-0x1403ff) overlaps split page (pfns 0x140000-0x17ffff) of /guest_memfd@3/split@140000");
}

TEST(folio_index_beyond_file_size)
{
	struct fix x;

	fix_init(&x, F_ALL, false, false);
	x.files[0].folios[3].index = 16;
	expect_reject(&x.img, "/guest_memfd@1: property \"folios\": folio 3 (index 0x10, order 0) is beyond the file's 0x10 pages");
	fix_init(&x, F_ALL, false, false);
	x.files[1].folios[1].index = 0x800;
	expect_reject(&x.img, "/guest_memfd@2: property \"folios\": folio 1 (index 0x800, order 9) is beyond the file's 0x800 pages");
}

TEST(folio_order_inconsistent_with_the_file)
{
	struct fix x;

	fix_init(&x, F_ALL, true, false);
	x.files[0].folios[0].order = 9;
	expect_reject(&x.img, "/guest_memfd@1: property \"folios\": folio 0 has order 9, expected the file's page order 0");
	fix_init(&x, F_ALL, true, false);
	x.files[1].folios[0].order = 3;
	expect_reject(&x.img, "/guest_memfd@2: property \"folios\": folio 0 has order 3, expected the file's page order 9");
	/* A 4K folio in a HugeTLB file only as a piece of a split page. */
	fix_init(&x, F_ALL, true, false);
	x.files[1].folios[1].pfn = 0x60000;
	expect_reject(&x.img, "/guest_memfd@2: property \"folios\": folio 1 (pfn 0x60000) has order 0 but is in none of the file's split pages");
	fix_init(&x, F_ALL, true, false);
	x.files[1].folios[2].index = 512 + 7;
	expect_reject(&x.img, "/guest_memfd@2: property \"folios\": folio 2 (index 0x207, pfn 0x40201) is not at its offset in split page 0x40200");
	/* Huge folios are aligned; split pages have the file's order. */
	fix_init(&x, F_ALL, true, false);
	x.files[1].folios[0].pfn = 0x40100;
	expect_reject(&x.img, "/guest_memfd@2: property \"folios\": folio 0 (index 0x0, pfn 0x40100) is not aligned to its order 9");
	fix_init(&x, F_ALL, true, false);
	x.files[1].splits[0].order = 18;
	expect_reject(&x.img, "/guest_memfd@2/split@40200: property \"order\": 18, expected the file's page order 9");
	/* The page order follows the HugeTLB bits of the flags. */
	fix_init(&x, F_ALL, true, false);
	x.files[1].page_order = 18;
	expect_reject(&x.img, "/guest_memfd@2: property \"page-order\": 18 does not match \"flags\" (expected 9)");
	fix_init(&x, F_ALL, true, false);
	x.files[1].flags |= 1ULL << 5;
	expect_reject(&x.img, "/guest_memfd@2: property \"flags\": unknown bits 0x20");
	fix_init(&x, F_ALL, true, false);
	x.files[1].size += PAGE_SIZE;
	expect_reject(&x.img, "/guest_memfd@2: property \"size\": 0x801000 is not a positive multiple of the page size 0x200000");
}

TEST(duplicate_tokens)
{
	struct fix x;

	fix_init(&x, F_ALL, false, false);
	x.files[2].token = 1;
	expect_reject(&x.img, "/guest_memfd@1: property \"token\": 0x1 is the token of guest_memfd 0 and 2");
}

TEST(attribute_runs_out_of_range_or_overlapping)
{
	struct fix x;

	fix_init(&x, F_ALL, false, false);
	x.files[0].attrs[1].count = 9;
	expect_reject(&x.img, "/guest_memfd@1: property \"attributes\": run 1 (first 0x8, count 0x9) is not within the file's 0x10 pages");
	fix_init(&x, F_ALL, false, false);
	x.files[0].attrs[1].first = U64_MAX;
	expect_reject(&x.img, "/guest_memfd@1: property \"attributes\": run 1 (first 0xffffffffffffffff");
	fix_init(&x, F_ALL, false, false);
	x.files[0].attrs[1].first = 3;
	expect_reject(&x.img, "/guest_memfd@1: property \"attributes\": run 1 (indexes 0x3-0xa) overlaps run 0 (indexes 0x0-0x3) of /guest_memfd@1");
	fix_init(&x, F_ALL, false, false);
	x.files[0].attrs[0].count = 0;
	expect_reject(&x.img, "/guest_memfd@1: property \"attributes\": run 0 (first 0x0, count 0x0)");
}

TEST(poison_contradicting_the_folios)
{
	struct fix x;

	/* A file's poisoned pfn in none of its folios (another file's). */
	fix_init(&x, F_ALL, true, true);
	x.files[0].poison[0] = 0x40000;
	expect_reject(&x.img, "/guest_memfd@1: property \"poison\": pfn 0x40000 (entry 0) is in none of the file's folios");
	/* In a split page but not in a piece the file holds. */
	fix_init(&x, F_ALL, true, true);
	x.files[1].poison[0] = 0x40206;
	x.files[1].splits[0].raw_poison[0] = 0x40206;
	x.host_poison[2] = 0x40206;
	expect_reject(&x.img, "/guest_memfd@2: property \"poison\": pfn 0x40206 (entry 0) is in none of the file's folios");
	/* Every poisoned pfn is in /poison. */
	fix_init(&x, F_ALL, true, true);
	x.img.nr_poison = 1;
	expect_reject(&x.img, "/guest_memfd@2/split@40200: property \"raw-poison\": pfn 0x40205 (entry 0) is not in /poison");
	fix_init(&x, F_ALL, false, true);
	x.img.nr_poison = 1;
	expect_reject(&x.img, "/guest_memfd@1: property \"poison\": pfn 0x1010 (entry 0) is not in /poison");
	/* A raw poisoned pfn outside its split page. */
	fix_init(&x, F_ALL, true, true);
	x.files[1].splits[0].raw_poison[0] = 0x40400;
	expect_reject(&x.img, "/guest_memfd@2/split@40200: property \"raw-poison\": pfn 0x40400 (entry 0) is outside the page 0x40200-0x403ff");
	/* Twice in a list. */
	fix_init(&x, F_ALL, true, true);
	x.host_poison[x.img.nr_poison++] = 0x5;
	expect_reject(&x.img, "/poison: property \"pfns\": pfn 0x5 (entry 4) appears twice");
	fix_init(&x, F_ALL, true, true);
	x.files[0].poison[x.files[0].nr_poison++] = 0x1010;
	expect_reject(&x.img, "/guest_memfd@1: property \"poison\": pfn 0x1010 (entry 1) appears twice");
	/* A split page in a 4K file. */
	fix_init(&x, F_ALL, true, true);
	x.files[0].splits[0] = x.files[1].splits[0];
	x.files[0].nr_splits = 1;
	expect_reject(&x.img, "/guest_memfd@1/split@40200: property \"order\": a split page in a file of 4K pages");
}

TEST(bindings_beyond_file_size)
{
	struct fix x;

	fix_init(&x, F_ALL, false, false);
	x.files[1].bindings[0].npages = 2049;
	expect_reject(&x.img, "/guest_memfd@2: property \"bindings\": binding 0 (pgoff 0x0, npages 0x801) is not within the file's 0x800 pages");
	fix_init(&x, F_ALL, false, false);
	x.files[0].bindings[0] = (struct kho_binding){ 0, 0, 4, 4 };
	x.files[0].bindings[1] = (struct kho_binding){ 1, 0x100, 8, 8 };
	x.files[0].nr_bindings = 2;
	roundtrip(&x.img);
	x.files[0].bindings[1].pgoff = 11;
	expect_reject(&x.img, "/guest_memfd@1: property \"bindings\": binding 1 (pgoff 0xb, npages 0x8) is not within");
	x.files[0].bindings[1].pgoff = 7;
	expect_reject(&x.img, "/guest_memfd@1: property \"bindings\": binding 1 (pgoffs 0x7-0xe) overlaps binding 0 (pgoffs 0x4-0x7) of /guest_memfd@1");
	x.files[0].bindings[1] = (struct kho_binding){ 1, U64_MAX - 2, 4, 12 };
	expect_reject(&x.img, "/guest_memfd@1: property \"bindings\": binding 1: base-gfn 0xfffffffffffffffd + npages overflows");
}

TEST(mempolicy_modes_and_nodes)
{
	struct fix x;

	fix_init(&x, F_ALL, false, false);
	x.files[0].policy.mode = KHO_MPOL_MAX;
	expect_reject(&x.img, "/guest_memfd@1: property \"mempolicy-mode\": 7 is not a mempolicy mode (0-6)");
	fix_init(&x, F_ALL, false, false);
	x.files[0].policy.nodemask[0] = 1;
	expect_reject(&x.img, "/guest_memfd@1: property \"mempolicy-nodes\": MPOL_DEFAULT takes no nodes, found 1");
	fix_init(&x, F_ALL, false, false);
	x.files[2].policy.nodemask[0] = 3;
	expect_reject(&x.img, "/guest_memfd@3: property \"mempolicy-nodes\": MPOL_PREFERRED takes one node, found 2");
	fix_init(&x, F_ALL, false, false);
	x.files[1].policy.nodemask[0] = 0;
	expect_reject(&x.img, "/guest_memfd@2: property \"mempolicy-nodes\": MPOL_BIND needs at least one node");
}

/* kho_image_dump() prints an image that decodes even when the check refuses it. */
TEST(dump_prints_then_names_the_problem)
{
	struct kho_error err;
	struct fix x;
	void *blob;
	size_t len, tlen = 0;
	char *text = NULL;
	FILE *out;

	fix_init(&x, F_ALL, true, true);
	x.files[0].folios[1].index = 0;
	ASSERT_OK(kho_image_emit(&x.img, &blob, &len, &err));
	out = open_memstream(&text, &tlen);
	ASSERT_TRUE(out != NULL);
	EXPECT_ERR(kho_image_dump(blob, len, out, &err), -EINVAL);
	fclose(out);
	EXPECT_TRUE(strstr(text, "  split@40200 (gmemfail,guestmem_hugetlb_split-v1)\n") != NULL);
	EXPECT_TRUE(strstr(text, "  flags 0x5400000000000001 MMAP|HUGETLB_2MB\n") != NULL);
	EXPECT_TRUE(strstr(text, "  mempolicy MPOL_BIND nodes 0,1\n") != NULL);
	EXPECT_TRUE(strstr(text, "  folio 0: index 0x0 pfn 0x1000 order 0 uptodate dirty\n") != NULL);
	EXPECT_TRUE(strstr(text, "invalid: /guest_memfd@1: property \"folios\": folio 1") != NULL);
	free(text);
	kfree(blob);
}

/* ---- the fuzz corpus ------------------------------------------------------ */

static void corpus_file(const char *dir, const char *name, const void *blob, size_t len)
{
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ASSERT_TRUE(f != NULL);
	EXPECT_EQ(fwrite(blob, 1, len, f), len);
	fclose(f);
}

/* Each corpus image parses (or fails) as named; with GMF_KHO_CORPUS, written there. */
TEST(corpus)
{
	static const struct { const char *name; unsigned int files; bool split, poison; int mutate; int want; } cases[] = {
		{ "valid-empty.dtb", 0, false, false, 0, 0 },
		{ "valid-4k.dtb", F_4K, false, true, 0, 0 },
		{ "valid-2m-unsplit.dtb", F_2M, false, false, 0, 0 },
		{ "valid-all-split-poison.dtb", F_ALL, true, true, 0, 0 },
		{ "valid-all-unsplit-poison.dtb", F_ALL, false, true, 0, 0 },
		{ "bad-truncated.dtb", F_ALL, true, true, 1, -EINVAL },
		{ "bad-compatible-v2.dtb", F_ALL, true, true, 2, -EPROTONOSUPPORT },
		{ "bad-folios-length.dtb", F_ALL, true, true, 3, -EINVAL },
		{ "bad-overlapping-folios.dtb", F_ALL, true, true, 4, -EINVAL },
		{ "bad-poison-outside-folios.dtb", F_ALL, true, true, 5, -EINVAL },
		{ "bad-duplicate-token.dtb", F_ALL, false, true, 6, -EINVAL },
	};
	const char *dir = getenv("GMF_KHO_CORPUS");
	struct kho_image back;
	struct kho_error err;
	struct fix x;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		void *blob;
		size_t len;
		int ret;

		fix_init(&x, cases[i].files, cases[i].split, cases[i].poison);
		switch (cases[i].mutate) {
		case 4:
			x.files[0].folios[1].pfn = 0x1000;
			break;
		case 5:
			x.files[0].poison[0] = 0x40000;
			break;
		case 6:
			x.files[1].token = 1;
			break;
		}
		ASSERT_OK(kho_image_emit(&x.img, &blob, &len, &err));
		if (cases[i].mutate == 1)
			len -= 9;
		if (cases[i].mutate == 2 || cases[i].mutate == 3) {
			void *fdt = editable(&x, &len);

			if (cases[i].mutate == 2)
				ASSERT_OK(fdt_setprop_string(fdt, node(fdt, "/guest_memfd@2"), "compatible",
							     "gmemfail,guest_memfd-v2"));
			else
				ASSERT_OK(fdt_setprop(fdt, node(fdt, "/guest_memfd@1"), "folios", blob, 20));
			ASSERT_OK(fdt_pack(fdt));
			len = fdt_totalsize(fdt);
			kfree(blob);
			blob = kmalloc(len, GFP_KERNEL);
			ASSERT_TRUE(blob != NULL);
			memcpy(blob, fdt, len);
			free(fdt);
		}
		EXPECT_LE(len, 4096);	/* make fuzz's -max_len */
		ret = kho_image_parse(blob, len, &back, &err);
		if (ret != cases[i].want)
			t_fail(__FILE__, __LINE__, __func__, false, "%s: %d (%s)", cases[i].name, ret,
			       ret ? err.msg : "");
		kho_image_free(&back);
		corpus_file(dir, cases[i].name, blob, len);
		kfree(blob);
	}
}

static const struct t_case cases[] = {
	T(roundtrip_table),
	T(roundtrip_keeps_every_field),
	T(allocation_failures),
	T(unaligned_blob_parses),
	T(truncated_or_corrupt_blob),
	T(unknown_compatible_versions),
	T(missing_required_properties),
	T(wrong_property_sizes),
	T(node_name_must_match),
	T(pfns_outside_memory),
	T(overlapping_folios),
	T(folio_index_beyond_file_size),
	T(folio_order_inconsistent_with_the_file),
	T(duplicate_tokens),
	T(attribute_runs_out_of_range_or_overlapping),
	T(poison_contradicting_the_folios),
	T(bindings_beyond_file_size),
	T(mempolicy_modes_and_nodes),
	T(dump_prints_then_names_the_problem),
	T(corpus),
};

T_MAIN("kho/test_image", cases)
