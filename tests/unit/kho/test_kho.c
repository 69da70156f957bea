// SPDX-License-Identifier: MIT
/*
 * Live update of guest_memfd (kho/kho.c): preserve, freeze, kexec into a new
 * host over the same memory, retrieve, finish. Each test builds the old
 * host with t_default_config (4 GiB, two nodes, eight 2M and one 1G page),
 * a software-protected VM with one guest_memfd bound at gpa 0, and checks
 * both hosts' invariants at the end.
 */
#include "kho/kho.h"
#include "kvm/attr.h"
#include "tests/harness/t_model.h"
#include "tests/unit/kho/kho_check.h"

#define SZ_2M	(2ULL << 20)
#define HNR	512UL

struct t_side {
	struct t_host th;
	struct task_struct *vmm;
	struct kvm *kvm;
};

struct t_lu {
	struct t_side old, new;
	struct kvm_gmem *g;		/* on the old host */
	struct kvm_gmem *g2;		/* retrieved on the new host */
	struct kho_session s;
	bool kexeced;
};


static void side_vm(struct t_side *sd)
{
	int err;

	sd->vmm = task_create(sd->th.host, "vmm", NULL);
	ASSERT_NOT_NULL(sd->vmm);
	sd->vmm->sigbus_handler = true;
	sd->kvm = kvm_create_vm(sd->th.host, sd->vmm, KVM_X86_SW_PROTECTED_VM, &err);
	ASSERT_OK(err);
}

static int bind(struct kvm *kvm, struct kvm_gmem *g, u32 slot, u64 gpa, u64 size, u64 off)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = gpa,
		.memory_size = size, .guest_memfd = g->file, .guest_memfd_valid = true,
		.guest_memfd_offset = off,
	};

	return kvm_set_user_memory_region2(kvm, &m);
}

static void lu_init(struct t_lu *l, u64 size, u64 flags, enum kho_poison_policy policy)
{
	int err;

	memset(l, 0, sizeof(*l));
	t_host_init(&l->old.th, NULL);
	side_vm(&l->old);
	l->g = kvm_gmem_create(l->old.kvm, size, flags, &err);
	ASSERT_OK(err);
	ASSERT_OK(bind(l->old.kvm, l->g, 0, 0, size, 0));
	kho_session_init(&l->s, l->old.th.host, policy);
}

static void lu_kexec(struct t_lu *l)
{
	ASSERT_OK(kho_freeze(&l->s));
	trace_init(&l->new.th.trace, true);
	l->new.th.host = kho_kexec(l->old.th.host, &l->s.img, &l->new.th.trace);
	l->kexeced = true;
	ASSERT_NOT_NULL(l->new.th.host);
	T_VALIDATE(&l->new.th);
	side_vm(&l->new);
}

static void side_free(struct t_side *sd)
{
	int ret = kvm_validate_all(sd->th.host);

	if (ret)
		t_dump_trace(&sd->th);
	kvm_host_teardown(sd->th.host);
	t_host_free(&sd->th);
	ASSERT_OK(ret);
}

static void lu_free(struct t_lu *l)
{
	kho_session_destroy(&l->s);
	if (l->kexeced && !IS_ERR_OR_NULL(l->new.th.host))
		side_free(&l->new);
	else if (l->kexeced)
		trace_destroy(&l->new.th.trace);
	side_free(&l->old);
}

static void lu_validate_new(struct t_lu *l)
{
	T_VALIDATE(&l->new.th);
	ASSERT_OK(kvm_validate_all(l->new.th.host));
}

static struct folio *gfolio(struct kvm_gmem *g, pgoff_t index)
{
	return filemap_get_folio(&g->file->f_mapping, index);
}

static bool poisoned(struct host *host, unsigned long pfn)
{
	const struct page *p = page_lookup(host, pfn);

	return p && PageHWPoison(p);
}

/* Every folio of the old file is in the new one at the same index and pfn, with its flags. */
static void expect_same_file(struct t_lu *l)
{
	struct address_space *m = &l->g->file->f_mapping, *m2 = &l->g2->file->f_mapping;
	unsigned long pages = (unsigned long)(l->g->file->i_size >> PAGE_SHIFT);
	struct range_node *n;

	EXPECT_EQ(l->g2->file->i_size, l->g->file->i_size);
	EXPECT_EQ(l->g2->flags, l->g->flags);
	EXPECT_EQ(m2->nrpages, m->nrpages);
	for (n = rangemap_first(&m->i_pages); n; n = rangemap_next(n)) {
		const struct folio *f = container_of(n, struct folio, cache_node);
		const struct folio *f2 = gfolio(l->g2, f->index);

		ASSERT_TRUE(f2 != NULL);
		EXPECT_EQ(folio_pfn(f2), folio_pfn(f));
		EXPECT_EQ(f2->index, f->index);
		EXPECT_EQ(f2->order, f->order);
		EXPECT_EQ(folio_test_dirty(f2), folio_test_dirty(f));
		EXPECT_EQ(folio_test_uptodate(f2), folio_test_uptodate(f));
		EXPECT_EQ(f2->page_type, f->page_type);
	}
	for (unsigned long i = 0; i < pages; i++)
		EXPECT_EQ(attr_test(&l->g2->private, i), attr_test(&l->g->private, i));
}

TEST(roundtrip_4k_shared_private_dirty)
{
	struct t_lu lu;
	struct kho_image parsed;
	struct kho_error err;
	u64 eo = 0;
	void *blob;
	size_t len;
	int e;

	lu_init(&lu, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_REFUSE);
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 40 * 1024));
	ASSERT_OK(kvm_gmem_set_attributes(lu.g, 16 * 1024, 16 * 1024, 0, 0, &eo));
	folio_set_dirty(gfolio(lu.g, 2));
	folio_set_dirty(gfolio(lu.g, 5));

	ASSERT_OK(kho_preserve(&lu.s, lu.g, 0x100, 0x1));
	EXPECT_ERR(kho_preserve(&lu.s, lu.g, 0x101, 0x1), -EEXIST);
	/* Frozen: no allocation, punch or conversion; pages already there still work. */
	EXPECT_ERR(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 48 * 1024, 4096), -EPERM);
	EXPECT_ERR(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 4096), -EPERM);
	EXPECT_ERR(kvm_gmem_set_attributes(lu.g, 0, 4096, 0, 0, &eo), -EPERM);
	{
		unsigned long pfn;
		int order;

		EXPECT_OK(kvm_gmem_get_pfn(lu.old.kvm, lu.old.kvm->slots[0][0], 1, &pfn, &order));
		EXPECT_ERR(kvm_gmem_get_pfn(lu.old.kvm, lu.old.kvm->slots[0][0], 12, &pfn, &order), -EPERM);
	}

	/* What the new kernel sees went through the FDT. */
	ASSERT_OK(kho_freeze(&lu.s));
	ASSERT_OK(kho_image_build(&lu.s.img, &blob, &len, &err));
	ASSERT_OK(kho_image_parse(blob, len, &parsed, &err));
	kfree(blob);
	EXPECT_TRUE(kho_image_equal(&parsed, &lu.s.img));
	EXPECT_EQ(parsed.files[0].nr_folios, 10);
	kho_image_free(&parsed);

	lu_kexec(&lu);
	lu.g2 = kho_retrieve(lu.new.kvm, &lu.s.img, 0x100, &e);
	ASSERT_OK(e);
	EXPECT_ERR(kho_retrieve(lu.new.kvm, &lu.s.img, 0x100, &e) ? 0 : e, -EINVAL);
	EXPECT_ERR(kho_retrieve(lu.new.kvm, &lu.s.img, 0x999, &e) ? 0 : e, -ENOENT);
	expect_same_file(&lu);
	EXPECT_TRUE(folio_test_dirty(gfolio(lu.g2, 5)));
	EXPECT_FALSE(attr_test(&lu.g2->private, 4));
	EXPECT_TRUE(attr_test(&lu.g2->private, 0));
	ASSERT_OK(bind(lu.new.kvm, lu.g2, 0, 0, 64 * 1024, 0));
	lu_validate_new(&lu);
	/* The retrieved file works: a new page, a conversion. */
	EXPECT_OK(kvm_gmem_fallocate(lu.g2, FALLOC_FL_KEEP_SIZE, 48 * 1024, 4096));
	EXPECT_OK(kvm_gmem_set_attributes(lu.g2, 0, 4096, 0, 0, &eo));
	EXPECT_EQ(kho_finish(lu.new.th.host), 0);
	lu_validate_new(&lu);
	lu_free(&lu);
}

TEST(roundtrip_hugetlb_2m_unsplit_and_split)
{
	struct t_lu lu;
	struct hstate *h;
	unsigned long head0, head1;
	u64 eo = 0;
	int e;

	lu_init(&lu, 2 * SZ_2M, GUESTMEM_HUGETLB_FLAG_2MB | GUEST_MEMFD_FLAG_MMAP, KHO_POISON_REFUSE);
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 2 * SZ_2M));
	head0 = folio_pfn(gfolio(lu.g, 0));
	head1 = folio_pfn(gfolio(lu.g, HNR));
	/* One 4K page of the second huge page shared: it is split. */
	ASSERT_OK(kvm_gmem_set_attributes(lu.g, SZ_2M + 4096, 4096, 0, 0, &eo));
	ASSERT_TRUE(guestmem_split_find(&lu.g->file->f_mapping, HNR) != NULL);
	folio_set_dirty(gfolio(lu.g, HNR + 1));

	ASSERT_OK(kho_preserve(&lu.s, lu.g, 7, 1));
	ASSERT_EQ(lu.s.img.files[0].nr_splits, 1);
	EXPECT_EQ(lu.s.img.files[0].nr_folios, 1 + HNR);
	lu_kexec(&lu);
	h = &lu.new.th.host->hstates[0];
	/* hugepages=8: six in the pool, two preserved outside it. */
	EXPECT_EQ(h->nr_huge_pages, 6);
	EXPECT_EQ(h->free_huge_pages, 6);

	lu.g2 = kho_retrieve(lu.new.kvm, &lu.s.img, 7, &e);
	ASSERT_OK(e);
	expect_same_file(&lu);
	EXPECT_EQ(folio_pfn(gfolio(lu.g2, 0)), head0);
	EXPECT_TRUE(folio_test_hugetlb(gfolio(lu.g2, 0)));
	EXPECT_TRUE(guestmem_split_lookup(lu.new.th.host, head1) != NULL);
	EXPECT_TRUE(folio_test_dirty(gfolio(lu.g2, HNR + 1)));
	EXPECT_EQ(h->nr_huge_pages, 8);
	EXPECT_EQ(h->free_huge_pages, 6);
	EXPECT_EQ(h->resv_huge_pages, 0);
	EXPECT_EQ(lu.g2->file->spool->used_hpages, 2);
	ASSERT_OK(bind(lu.new.kvm, lu.g2, 0, 0, 2 * SZ_2M, 0));
	lu_validate_new(&lu);
	/* The split state is live: making the page private again merges it. */
	ASSERT_OK(kvm_gmem_set_attributes(lu.g2, SZ_2M + 4096, 4096, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, &eo));
	EXPECT_TRUE(guestmem_split_find(&lu.g2->file->f_mapping, HNR) == NULL);
	EXPECT_TRUE(folio_test_hugetlb(gfolio(lu.g2, HNR)));
	EXPECT_EQ(folio_pfn(gfolio(lu.g2, HNR)), head1);
	lu_validate_new(&lu);
	/* Punching the file gives both pages to the pool, reserved for it again. */
	ASSERT_OK(kvm_gmem_fallocate(lu.g2, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 2 * SZ_2M));
	EXPECT_EQ(h->free_huge_pages, 8);
	lu_validate_new(&lu);
	lu_free(&lu);
}

TEST(poison_carried_4k)
{
	struct t_lu lu;
	struct host *nh;
	unsigned long bad, freebad, pfn;
	struct kvm_memory_slot *slot;
	int e, order;

	lu_init(&lu, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_CARRY);
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 16 * 1024));
	bad = folio_pfn(gfolio(lu.g, 1));
	/* -EBUSY: MF_FAILED, the page cache holds it (mf_delayed_fix off); poisoned all the same. */
	(void)memory_failure(lu.old.th.host, bad, 0);
	ASSERT_TRUE(poisoned(lu.old.th.host, bad));
	/* A free page poisoned too: taken off buddy on the old host. */
	freebad = 0x80000;
	ASSERT_TRUE(pfn_folio_lookup(lu.old.th.host, freebad) == NULL);
	ASSERT_OK(memory_failure(lu.old.th.host, freebad, 0));
	ASSERT_EQ(atomic_long_read(&lu.old.th.host->num_poisoned_pages), 2);

	ASSERT_OK(kho_preserve(&lu.s, lu.g, 1, 1));
	EXPECT_EQ(lu.s.img.files[0].nr_poison, 1);
	lu_kexec(&lu);
	nh = lu.new.th.host;
	EXPECT_EQ(lu.s.img.nr_poison, 2);
	EXPECT_EQ(atomic_long_read(&nh->num_poisoned_pages), 2);
	EXPECT_TRUE(poisoned(nh, bad));
	EXPECT_TRUE(poisoned(nh, freebad));
	EXPECT_FALSE(is_free_buddy_page(pfn_to_page(nh, freebad)));
	EXPECT_EQ(pfn_folio_lookup(nh, freebad)->owner, FOLIO_OWNER_HWPOISON);

	lu.g2 = kho_retrieve(lu.new.kvm, &lu.s.img, 1, &e);
	ASSERT_OK(e);
	expect_same_file(&lu);
	ASSERT_OK(bind(lu.new.kvm, lu.g2, 0, 0, 64 * 1024, 0));
	slot = lu.new.kvm->slots[0][0];
	/* The poisoned page is in the file, never usable: the guest gets -EHWPOISON. */
	EXPECT_ERR(kvm_gmem_get_pfn(lu.new.kvm, slot, 1, &pfn, &order), -EHWPOISON);
	EXPECT_OK(kvm_gmem_get_pfn(lu.new.kvm, slot, 2, &pfn, &order));
	EXPECT_EQ(gfolio(lu.g2, 1)->mf_pins, 1);
	lu_validate_new(&lu);
	EXPECT_EQ(kho_finish(nh), 0);
	EXPECT_EQ(atomic_long_read(&nh->num_poisoned_pages), 2);
	lu_validate_new(&lu);
	lu_free(&lu);
}

TEST(poison_refused_nothing_frozen)
{
	struct t_lu lu;
	unsigned long bad;

	lu_init(&lu, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_REFUSE);
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 16 * 1024));
	bad = folio_pfn(gfolio(lu.g, 3));
	/* -EBUSY: MF_FAILED, the page cache holds it (mf_delayed_fix off); poisoned all the same. */
	(void)memory_failure(lu.old.th.host, bad, 0);
	ASSERT_TRUE(poisoned(lu.old.th.host, bad));
	EXPECT_ERR(kho_preserve(&lu.s, lu.g, 1, 1), -EHWPOISON);
	EXPECT_FALSE(lu.g->frozen);
	EXPECT_EQ(lu.s.img.nr_files, 0);
	EXPECT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 32 * 1024, 4096));
	T_VALIDATE(&lu.old.th);
	lu_free(&lu);
}

TEST(poison_after_preserve_fails_freeze_under_refuse)
{
	struct t_lu lu;
	lu_init(&lu, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_REFUSE);
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 16 * 1024));
	ASSERT_OK(kho_preserve(&lu.s, lu.g, 1, 1));
	/* -EBUSY: MF_FAILED, the page cache holds it (mf_delayed_fix off); poisoned all the same. */
	(void)memory_failure(lu.old.th.host, folio_pfn(gfolio(lu.g, 0)), 0);
	ASSERT_TRUE(poisoned(lu.old.th.host, folio_pfn(gfolio(lu.g, 0))));
	EXPECT_ERR(kho_freeze(&lu.s), -EHWPOISON);
	EXPECT_FALSE(lu.s.frozen);
	kho_session_abort(&lu.s);
	EXPECT_FALSE(lu.g->frozen);
	lu_free(&lu);
}

TEST(preserved_pages_not_handed_out)
{
	struct t_lu lu;
	struct folio **got;
	size_t n = 0, cap = 4096;
	unsigned long pfns[4];
	struct host *nh;

	lu_init(&lu, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_CARRY);
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 16 * 1024));
	for (int i = 0; i < 4; i++)
		pfns[i] = folio_pfn(gfolio(lu.g, (pgoff_t)i));
	ASSERT_OK(kho_preserve(&lu.s, lu.g, 1, 1));
	lu_kexec(&lu);
	nh = lu.new.th.host;
	/* Take every free page of the new host. */
	got = kcalloc(cap, sizeof(*got), GFP_KERNEL);
	ASSERT_TRUE(got != NULL);
	for (int order = MAX_PAGE_ORDER; order >= 0; order--) {
		for (int nid = 0; nid < nh->nr_nodes; nid++) {
			struct folio *f;

			while (n < cap && (f = folio_alloc_node(nh, nid, (unsigned int)order, FOLIO_OWNER_DRIVER))) {
				f->extra_refs = 1;
				got[n++] = f;
			}
		}
	}
	EXPECT_LT(n, cap);
	EXPECT_EQ(node_free_pages(nh, 0) + node_free_pages(nh, 1), 0);
	for (int i = 0; i < 4; i++) {
		struct folio *f = pfn_folio_lookup(nh, pfns[i]);

		ASSERT_TRUE(f != NULL);
		EXPECT_EQ(f->owner, FOLIO_OWNER_RESERVED);
		EXPECT_EQ(page_lookup(nh, pfns[i])->private, KHO_PAGE_MAGIC);
	}
	T_VALIDATE(&lu.new.th);
	while (n) {
		struct folio *f = got[--n];

		f->extra_refs = 0;
		folio_put(f);
	}
	kfree(got);
	lu_free(&lu);
}

TEST(finish_frees_unclaimed_keeps_poison_out)
{
	struct t_lu lu;
	struct host *nh;
	unsigned long bad, before, hugehead;
	struct kvm_gmem *hg;
	struct hstate *h;
	int err;

	lu_init(&lu, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_CARRY);
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 16 * 1024));
	bad = folio_pfn(gfolio(lu.g, 2));
	/* -EBUSY: MF_FAILED, the page cache holds it (mf_delayed_fix off); poisoned all the same. */
	(void)memory_failure(lu.old.th.host, bad, 0);
	ASSERT_TRUE(poisoned(lu.old.th.host, bad));
	hg = kvm_gmem_create(lu.old.kvm, SZ_2M, GUESTMEM_HUGETLB_FLAG_2MB, &err);
	ASSERT_OK(err);
	ASSERT_OK(kvm_gmem_fallocate(hg, FALLOC_FL_KEEP_SIZE, 0, SZ_2M));
	hugehead = folio_pfn(gfolio(hg, 0));
	ASSERT_OK(kho_preserve(&lu.s, lu.g, 1, 1));
	ASSERT_OK(kho_preserve(&lu.s, hg, 2, 1));
	lu_kexec(&lu);
	nh = lu.new.th.host;
	h = &nh->hstates[0];
	EXPECT_EQ(h->nr_huge_pages, 7);
	before = node_free_pages(nh, 0) + node_free_pages(nh, 1);
	/* Nobody retrieves: three healthy 4K pages go to buddy, the huge page to its pool. */
	EXPECT_EQ(kho_finish(nh), 3 + HNR);
	EXPECT_EQ(node_free_pages(nh, 0) + node_free_pages(nh, 1), before + 3);
	EXPECT_EQ(h->nr_huge_pages, 8);
	EXPECT_EQ(h->free_huge_pages, 8);
	EXPECT_EQ(pfn_folio_lookup(nh, hugehead)->hstate, h);
	EXPECT_EQ(pfn_folio_lookup(nh, bad)->owner, FOLIO_OWNER_HWPOISON);
	EXPECT_FALSE(is_free_buddy_page(pfn_to_page(nh, bad)));
	EXPECT_EQ(atomic_long_read(&nh->num_poisoned_pages), 1);
	EXPECT_ERR(kho_retrieve(lu.new.kvm, &lu.s.img, 1, &err) ? 0 : err, -EINVAL);
	T_VALIDATE(&lu.new.th);
	lu_free(&lu);
}

TEST(rebind_must_match_preserved_bindings)
{
	struct t_lu lu;
	int e;

	lu_init(&lu, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_REFUSE);
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 8 * 1024));
	ASSERT_OK(kho_preserve(&lu.s, lu.g, 1, 1));
	EXPECT_EQ(lu.s.img.files[0].nr_bindings, 1);
	lu_kexec(&lu);
	lu.g2 = kho_retrieve(lu.new.kvm, &lu.s.img, 1, &e);
	ASSERT_OK(e);
	/* Another gpa, another slot, another offset or size: not as preserved. */
	EXPECT_ERR(bind(lu.new.kvm, lu.g2, 0, 0x100000, 64 * 1024, 0), -EINVAL);
	EXPECT_ERR(bind(lu.new.kvm, lu.g2, 1, 0, 64 * 1024, 0), -EINVAL);
	EXPECT_ERR(bind(lu.new.kvm, lu.g2, 0, 0, 32 * 1024, 0), -EINVAL);
	EXPECT_OK(bind(lu.new.kvm, lu.g2, 0, 0, 64 * 1024, 0));
	/* After the finish the VMM binds as it likes. */
	kho_finish(lu.new.th.host);
	EXPECT_OK(bind(lu.new.kvm, lu.g2, 0, 0, 0, 0));
	EXPECT_OK(bind(lu.new.kvm, lu.g2, 1, 0x100000, 64 * 1024, 0));
	lu_validate_new(&lu);
	lu_free(&lu);
}


/* ---- allocation failures: every call fails whole and can be retried ---- */

/*
 * A host worth preserving, under carry: the 4K file of lu_init (part
 * shared, dirty pages, a poisoned page), a 2M HugeTLB file bound in slot 1
 * with a whole page and two split pages with a poisoned piece each, and a
 * poisoned free page.
 */
static struct kvm_gmem *rich_init(struct t_lu *l)
{
	struct host *host;
	struct kvm_gmem *hg;
	u64 eo = 0;
	int err;

	lu_init(l, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_CARRY);
	host = l->old.th.host;
	ASSERT_OK(kvm_gmem_fallocate(l->g, FALLOC_FL_KEEP_SIZE, 0, 40 * 1024));
	ASSERT_OK(kvm_gmem_set_attributes(l->g, 16 * 1024, 16 * 1024, 0, 0, &eo));
	folio_set_dirty(gfolio(l->g, 2));
	(void)memory_failure(host, folio_pfn(gfolio(l->g, 1)), 0);
	ASSERT_OK(memory_failure(host, 0x80000, 0));

	hg = kvm_gmem_create(l->old.kvm, 3 * SZ_2M, GUESTMEM_HUGETLB_FLAG_2MB | GUEST_MEMFD_FLAG_MMAP, &err);
	ASSERT_OK(err);
	ASSERT_OK(bind(l->old.kvm, hg, 1, 0x10000000, 3 * SZ_2M, 0));
	ASSERT_OK(kvm_gmem_fallocate(hg, FALLOC_FL_KEEP_SIZE, 0, 3 * SZ_2M));
	ASSERT_OK(kvm_gmem_set_attributes(hg, SZ_2M + 4096, 4096, 0, 0, &eo));
	folio_set_dirty(gfolio(hg, HNR + 1));
	(void)memory_failure(host, folio_pfn(gfolio(hg, HNR + 2)), 0);
	ASSERT_OK(kvm_gmem_set_attributes(hg, 2 * SZ_2M, 8192, 0, 0, &eo));
	(void)memory_failure(host, folio_pfn(gfolio(hg, 2 * HNR + 100)), 0);
	ASSERT_TRUE(guestmem_split_find(&hg->file->f_mapping, 2 * HNR) != NULL);
	T_VALIDATE(&l->old.th);
	return hg;
}

/* Preserve both files and freeze, with each allocation of each call failing in turn. */
TEST(preserve_and_freeze_fail_each_allocation)
{
	struct kvm_gmem *files[2];
	struct kho_session ref;
	unsigned long nth, most = 0;
	struct t_lu lu;
	long live;
	int ret;

	files[1] = rich_init(&lu);
	files[0] = lu.g;
	for (int i = 0; i < 2; i++) {
		for (nth = 1;; nth++) {
			live = kc_live(&lu.old.th.trace);
			kmalloc_fault_set(nth, false);
			ret = kho_preserve(&lu.s, files[i], 1 + (u64)i, 1);
			kmalloc_fault_set(0, false);
			if (!ret)
				break;
			EXPECT_ERR(ret, -ENOMEM);
			EXPECT_EQ(kc_live(&lu.old.th.trace), live);
			EXPECT_EQ(lu.s.img.nr_files, (size_t)i);
			EXPECT_FALSE(files[i]->frozen);
		}
		most = max(most, nth);
		EXPECT_TRUE(files[i]->frozen);
	}
	EXPECT_GT(most, 5);
	for (nth = 1;; nth++) {
		live = kc_live(&lu.old.th.trace);
		kmalloc_fault_set(nth, false);
		ret = kho_freeze(&lu.s);
		kmalloc_fault_set(0, false);
		if (!ret)
			break;
		EXPECT_ERR(ret, -ENOMEM);
		EXPECT_EQ(kc_live(&lu.old.th.trace), live);
		EXPECT_FALSE(lu.s.frozen);
		EXPECT_EQ(lu.s.img.nr_poison, 0);	/* the image of preserve, not half a freeze */
	}
	EXPECT_GT(nth, 5);
	EXPECT_TRUE(lu.s.frozen);
	/* The same image as a session that never failed. */
	kho_session_init(&ref, lu.old.th.host, KHO_POISON_CARRY);
	ASSERT_OK(kho_preserve(&ref, files[0], 1, 1));
	ASSERT_OK(kho_preserve(&ref, files[1], 2, 1));
	ASSERT_OK(kho_freeze(&ref));
	EXPECT_TRUE(kho_image_equal(&ref.img, &lu.s.img));
	EXPECT_EQ(lu.s.img.nr_poison, 4);
	kho_session_destroy(&ref);
	T_VALIDATE(&lu.old.th);
	lu_free(&lu);
}

/* kexec with each allocation failing in turn: -ENOMEM, nothing of the new host left, the old one untouched. */
TEST(kexec_fails_each_allocation)
{
	struct kc_snap before = { 0 }, after = { 0 };
	struct kvm_gmem *hg;
	struct host *nh;
	unsigned long nth;
	struct t_lu lu;
	long live;

	hg = rich_init(&lu);
	ASSERT_OK(kho_preserve(&lu.s, lu.g, 1, 1));
	ASSERT_OK(kho_preserve(&lu.s, hg, 2, 1));
	ASSERT_OK(kho_freeze(&lu.s));
	kc_snap_take(lu.old.th.host, &before);
	for (nth = 1;; nth++) {
		struct trace tr;

		live = kc_live(&lu.old.th.trace);
		trace_init(&tr, true);
		kmalloc_fault_set(nth, false);
		nh = kho_kexec(lu.old.th.host, &lu.s.img, &tr);
		kmalloc_fault_set(0, false);
		if (!IS_ERR(nh)) {
			lu.new.th.trace = tr;
			break;
		}
		trace_destroy(&tr);
		EXPECT_ERR((int)PTR_ERR(nh), -ENOMEM);
		EXPECT_EQ(kc_live(&lu.old.th.trace), live);
		kc_snap_take(lu.old.th.host, &after);
		EXPECT_EQ(kc_snap_diff(&before, &after), -1);
	}
	EXPECT_GT(nth, 2);
	lu.new.th.host = nh;
	lu.kexeced = true;
	lu_validate_new(&lu);
	EXPECT_EQ(atomic_long_read(&nh->num_poisoned_pages), 4);
	kc_snap_free(&before);
	kc_snap_free(&after);
	lu_free(&lu);
}

/*
 * Retrieve each file with each allocation failing in turn: -ENOMEM and the
 * new host exactly as before the call (every page preserved again, no file,
 * no charge, no pool change), then the retry gives the file as it was.
 */
TEST(retrieve_fails_each_allocation_and_is_undone)
{
	struct kc_snap before = { 0 }, after = { 0 };
	struct kvm_gmem *old[2], *got[2];
	unsigned long nth, most = 0;
	struct host *nh;
	struct t_lu lu;
	long live;
	int e;

	old[1] = rich_init(&lu);
	old[0] = lu.g;
	ASSERT_OK(kho_preserve(&lu.s, old[0], 1, 1));
	ASSERT_OK(kho_preserve(&lu.s, old[1], 2, 1));
	lu_kexec(&lu);
	nh = lu.new.th.host;
	/* The split pages are restored last: fail them before and after the rest. */
	for (int i = 1; i >= 0; i--) {
		for (nth = 1;; nth++) {
			kc_snap_take(nh, &before);
			live = kc_live(&lu.new.th.trace);
			kmalloc_fault_set(nth, false);
			got[i] = kho_retrieve(lu.new.kvm, &lu.s.img, 1 + (u64)i, &e);
			kmalloc_fault_set(0, false);
			if (got[i])
				break;
			EXPECT_ERR(e, -ENOMEM);
			EXPECT_EQ(kc_live(&lu.new.th.trace), live);
			kc_snap_take(nh, &after);
			EXPECT_EQ(kc_snap_diff(&before, &after), -1);
			lu_validate_new(&lu);
		}
		ASSERT_OK(e);
		most = max(most, nth);
		kc_expect_same_gmem(lu.old.th.host, old[i], nh, got[i]);
		lu_validate_new(&lu);
	}
	/* The HugeTLB file: creation, its attributes, three split pages' tables and splits. */
	EXPECT_GT(most, 6);
	lu.g2 = got[0];
	ASSERT_OK(bind(lu.new.kvm, got[0], 0, 0, 64 * 1024, 0));
	ASSERT_OK(bind(lu.new.kvm, got[1], 1, 0x10000000, 3 * SZ_2M, 0));
	lu_validate_new(&lu);
	EXPECT_EQ(kho_finish(nh), 0);
	EXPECT_EQ(atomic_long_read(&nh->num_poisoned_pages),
		  atomic_long_read(&lu.old.th.host->num_poisoned_pages));
	EXPECT_EQ(nh->hstates[0].nr_huge_pages, lu.old.th.host->hstates[0].nr_huge_pages);
	EXPECT_EQ(nh->hstates[0].free_huge_pages, lu.old.th.host->hstates[0].free_huge_pages);
	lu_validate_new(&lu);
	kc_snap_free(&before);
	kc_snap_free(&after);
	lu_free(&lu);
}

/*
 * The file's mempolicy: an interleaved 4K file and a HugeTLB file bound to
 * node 1 allocate by it, carry it across the live update, and the retrieved
 * files allocate by it again. Bad policies are refused.
 */
TEST(mempolicy_carried)
{
	struct kvm_gmem *hg, *hg2;
	struct t_lu lu;
	int e;

	lu_init(&lu, 64 * 1024, GUEST_MEMFD_FLAG_MMAP, KHO_POISON_REFUSE);
	EXPECT_ERR(kvm_gmem_set_policy(lu.g, MPOL_DEFAULT, 1), -EINVAL);
	EXPECT_ERR(kvm_gmem_set_policy(lu.g, MPOL_BIND, 0), -EINVAL);
	EXPECT_ERR(kvm_gmem_set_policy(lu.g, MPOL_BIND, 1UL << 2), -EINVAL);	/* two nodes */
	EXPECT_ERR(kvm_gmem_set_policy(lu.g, 4, 1), -EINVAL);
	ASSERT_OK(kvm_gmem_set_policy(lu.g, MPOL_INTERLEAVE, 3));
	ASSERT_OK(kvm_gmem_fallocate(lu.g, FALLOC_FL_KEEP_SIZE, 0, 16 * 1024));
	for (pgoff_t i = 0; i < 4; i++)
		EXPECT_EQ(gfolio(lu.g, i)->nid, (int)(i % 2));
	hg = kvm_gmem_create(lu.old.kvm, SZ_2M, GUESTMEM_HUGETLB_FLAG_2MB, &e);
	ASSERT_OK(e);
	ASSERT_OK(kvm_gmem_set_policy(hg, MPOL_BIND, 1UL << 1));
	ASSERT_OK(kvm_gmem_fallocate(hg, FALLOC_FL_KEEP_SIZE, 0, SZ_2M));
	EXPECT_EQ(gfolio(hg, 0)->nid, 1);

	ASSERT_OK(kho_preserve(&lu.s, lu.g, 1, 1));
	ASSERT_OK(kho_preserve(&lu.s, hg, 2, 1));
	EXPECT_EQ(lu.s.img.files[0].policy.mode, KHO_MPOL_INTERLEAVE);
	EXPECT_EQ(lu.s.img.files[0].policy.nodemask[0], 3);
	EXPECT_EQ(lu.s.img.files[1].policy.mode, KHO_MPOL_BIND);
	lu_kexec(&lu);
	/* A policy this host cannot hold is refused before anything is claimed. */
	lu.s.img.files[0].policy.nodemask[0] = 1ULL << 5;
	EXPECT_ERR(kho_retrieve(lu.new.kvm, &lu.s.img, 1, &e) ? 0 : e, -EINVAL);
	lu.s.img.files[0].policy.nodemask[0] = 3;
	lu.g2 = kho_retrieve(lu.new.kvm, &lu.s.img, 1, &e);
	ASSERT_OK(e);
	hg2 = kho_retrieve(lu.new.kvm, &lu.s.img, 2, &e);
	ASSERT_OK(e);
	EXPECT_EQ(lu.g2->policy.mode, MPOL_INTERLEAVE);
	EXPECT_EQ(lu.g2->policy.nodes, 3);
	EXPECT_EQ(hg2->policy.mode, MPOL_BIND);
	EXPECT_EQ(hg2->policy.nodes, 2);
	ASSERT_OK(kvm_gmem_fallocate(lu.g2, FALLOC_FL_KEEP_SIZE, 5 * 4096, 2 * 4096));
	EXPECT_EQ(gfolio(lu.g2, 5)->nid, 1);
	EXPECT_EQ(gfolio(lu.g2, 6)->nid, 0);
	lu_validate_new(&lu);
	kho_finish(lu.new.th.host);
	lu_free(&lu);
}

static const struct t_case cases[] = {
	T(roundtrip_4k_shared_private_dirty),
	T(roundtrip_hugetlb_2m_unsplit_and_split),
	T(poison_carried_4k),
	T(poison_refused_nothing_frozen),
	T(poison_after_preserve_fails_freeze_under_refuse),
	T(preserved_pages_not_handed_out),
	T(finish_frees_unclaimed_keeps_poison_out),
	T(rebind_must_match_preserved_bindings),
	T(preserve_and_freeze_fail_each_allocation),
	T(kexec_fails_each_allocation),
	T(retrieve_fails_each_allocation_and_is_undone),
	T(mempolicy_carried),
};

T_MAIN("kho/test_kho", cases)
