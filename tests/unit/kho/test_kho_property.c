// SPDX-License-Identifier: MIT
/*
 * Live update of guest_memfd, property-checked: random host states are
 * preserved, frozen, kexeced and retrieved, and the new host must hold the
 * same guest_memfd state (kc_expect_same_gmem(): size, flags, every folio's
 * index, pfn, order, uptodate and dirty, attributes, split pages and their
 * pieces, poison), the same mempolicy, the same poison counters, the
 * HugeTLB pool back to its size after the finish, and pass every
 * invariant on both hosts.
 *
 * Each iteration builds a host (t_default_config) with one to three
 * guest_memfd files (4K, 2M HugeTLB, now and then 1G HugeTLB), each with a
 * random mempolicy, bound in its own memslot and mmapped by the VMM when
 * it can be, then runs random operations: fallocate and punch, conversions
 * (which split and merge huge pages), guest and VMM accesses, and
 * memory_failure() on pages of the files and on free pages. The run's seed
 * is printed first (-s SEED replays it); KHO_PROP_ITERS sets the number of
 * iterations.
 */
#include <stdlib.h>

#include "arch/x86/kvm.h"
#include "base/prng.h"
#include "kho/kho.h"
#include "tests/harness/t_model.h"
#include "tests/unit/kho/kho_check.h"

#define SZ_2M		(2ULL << 20)
#define MAX_FILES	3
#define SLOT_GPA(i)	((u64)(i) << 32)

struct p_file {
	struct kvm_gmem *g;
	u64 size;
	u64 align;		/* fallocate/punch granule: the page size */
	unsigned long addr;	/* the VMM's mapping, 0 when the file has no MMAP */
};

struct p_run {
	struct prng r;
	struct t_host old, new;
	struct task_struct *vmm, *vthread, *vmm2;
	struct kvm *kvm, *kvm2;
	struct kvm_vcpu *vcpu;
	struct p_file f[MAX_FILES];
	struct kvm_gmem *g2[MAX_FILES];
	int nf;
	struct kho_session s;
	unsigned long ops, poisoned_file, poisoned_free, splits;
	unsigned long unretrieved[HUGE_MAX_HSTATE];
};

static u64 rnd(struct p_run *p, u64 bound)
{
	return prng_below(&p->r, bound);
}

static void p_bind(struct kvm *kvm, int i, struct kvm_gmem *g, u64 size)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = (u32)i, .flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = SLOT_GPA(i + 1),
		.memory_size = size, .guest_memfd = g->file, .guest_memfd_valid = true,
	};

	ASSERT_OK(kvm_set_user_memory_region2(kvm, &m));
}

static void p_policy(struct p_run *p, struct kvm_gmem *g)
{
	static const u32 modes[] = { MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE };
	u32 mode = modes[rnd(p, ARRAY_SIZE(modes))];
	unsigned long nodes = mode == MPOL_DEFAULT ? 0 : mode == MPOL_INTERLEAVE ? 3 : 1UL << rnd(p, 2);

	ASSERT_OK(kvm_gmem_set_policy(g, mode, nodes));
}

/* One to three files; the 2M pool (8 pages) and the 1G page are shared out. */
static void p_files(struct p_run *p, int iter)
{
	unsigned long left2m = 8;
	bool gig = iter % 10 == 9;
	int err;

	p->nf = 1 + (int)rnd(p, MAX_FILES);
	for (int i = 0; i < p->nf; i++) {
		struct p_file *f = &p->f[i];
		u64 flags = GUEST_MEMFD_FLAG_MMAP;
		int kind = (int)rnd(p, 2);	/* 0: 4K, 1: 2M */

		if (gig && i == 0)
			kind = 2;
		if (kind == 1 && !left2m)
			kind = 0;
		/* INIT_SHARED: not on a VM with private memory (kvm_gmem_supported_flags()). */
		if (rnd(p, 5) == 0)
			flags &= ~GUEST_MEMFD_FLAG_MMAP;
		switch (kind) {
		case 0:
			f->align = PAGE_SIZE;
			f->size = (4 + rnd(p, 60)) * PAGE_SIZE;
			break;
		case 1: {
			unsigned long n = 1 + rnd(p, min(left2m, 3UL));

			left2m -= n;
			f->align = SZ_2M;
			f->size = n * SZ_2M;
			flags |= GUESTMEM_HUGETLB_FLAG_2MB;
			break;
		}
		default:
			f->align = SZ_1G;
			f->size = SZ_1G;
			flags |= GUESTMEM_HUGETLB_FLAG_1GB;
			break;
		}
		f->g = kvm_gmem_create(p->kvm, f->size, flags, &err);
		ASSERT_OK(err);
		p_policy(p, f->g);
		p_bind(p->kvm, i, f->g, f->size);
		f->addr = 0;
		if (flags & GUEST_MEMFD_FLAG_MMAP) {
			f->addr = do_mmap(p->vmm, f->g->file, 0, f->size, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
			ASSERT_OK(err);
		}
	}
}

/* A random range of file @f in its granule, for fallocate and punch. */
static void p_range(struct p_run *p, const struct p_file *f, u64 *off, u64 *len)
{
	u64 units = f->size / f->align, a = rnd(p, units), n = 1 + rnd(p, units - a);

	*off = a * f->align;
	*len = n * f->align;
}

/* A random 4K range, kept short in a 1G file. */
static void p_small_range(struct p_run *p, const struct p_file *f, u64 *off, u64 *len)
{
	u64 pages = f->size >> PAGE_SHIFT, a = rnd(p, pages), n = 1 + rnd(p, min(pages - a, 16ULL));

	if (f->align != SZ_1G && rnd(p, 4) == 0)
		n = pages - a;	/* now and then to the end: whole huge pages go private and merge */
	*off = a << PAGE_SHIFT;
	*len = n << PAGE_SHIFT;
}

static void p_op(struct p_run *p)
{
	struct p_file *f = &p->f[rnd(p, (u64)p->nf)];
	struct host *host = p->old.host;
	u64 off, len, eo = 0;
	unsigned long pfn;

	switch (rnd(p, 8)) {
	case 0:
	case 1:
		p_range(p, f, &off, &len);
		(void)kvm_gmem_fallocate(f->g, FALLOC_FL_KEEP_SIZE, off, len);
		break;
	case 2:
		p_range(p, f, &off, &len);
		(void)kvm_gmem_fallocate(f->g, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, off, len);
		break;
	case 3:
		p_small_range(p, f, &off, &len);
		(void)kvm_gmem_set_attributes(f->g, off, len, rnd(p, 2) ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
					      0, &eo);
		break;
	case 4:
		p_small_range(p, f, &off, &len);
		(void)x86_vcpu_access(p->vcpu, SLOT_GPA((f - p->f) + 1) + off, rnd(p, 2), -1);
		break;
	case 5:
		p_small_range(p, f, &off, &len);
		if (f->addr && !attr_test(&f->g->private, (unsigned long)(off >> PAGE_SHIFT)))
			(void)handle_user_access(p->vmm, f->addr + off, rnd(p, 2), &pfn);
		break;
	case 6: {
		/* A page of the file. */
		struct range_node *n = rangemap_first(&f->g->file->f_mapping.i_pages);
		unsigned long skip = rnd(p, 8);

		for (; n && skip; skip--)
			n = rangemap_next(n) ? rangemap_next(n) : n;
		if (!n || rnd(p, 2))
			break;
		pfn = folio_pfn(container_of(n, struct folio, cache_node)) +
		      (unsigned long)rnd(p, n->last - n->start + 1);
		(void)memory_failure(host, pfn, 0);
		p->poisoned_file++;
		break;
	}
	default:
		/* A free page, now and then. */
		if (rnd(p, 4))
			break;
		pfn = 0x1000 + (unsigned long)rnd(p, host->max_pfn - 0x1000);
		if (!pfn_folio_lookup(host, pfn)) {
			ASSERT_OK(memory_failure(host, pfn, 0));
			p->poisoned_free++;
		}
		break;
	}
	p->ops++;
}

/* What the iterations did, summed: operations, split pages and poison preserved, files not retrieved. */
struct p_totals {
	unsigned long ops, splits, poisoned_file, poisoned_free, poison_carried, unretrieved;
};

static void p_iteration(int iter, u64 seed, struct p_totals *tot)
{
	struct p_run *p = calloc(1, sizeof(*p));
	long poisoned_old;
	unsigned long in_use_old[HUGE_MAX_HSTATE], total_old[HUGE_MAX_HSTATE];
	bool any_poison;
	int err, nops;

	ASSERT_NOT_NULL(p);
	prng_seed(&p->r, seed);
	t_host_init(&p->old, NULL);
	p->vmm = t_process(&p->old, "vmm");
	p->vmm->sigbus_handler = true;
	p->vthread = task_create(p->old.host, "vcpu0", p->vmm);
	p->kvm = kvm_create_vm(p->old.host, p->vmm, KVM_X86_SW_PROTECTED_VM, &err);
	ASSERT_OK(err);
	p->vcpu = kvm_create_vcpu(p->kvm, 0, p->vthread, &err);
	ASSERT_OK(err);
	p_files(p, iter);
	nops = 10 + (int)rnd(p, 30);
	for (int i = 0; i < nops; i++)
		p_op(p);
	T_VALIDATE(&p->old);
	ASSERT_OK(kvm_validate_all(p->old.host));

	any_poison = atomic_long_read(&p->old.host->num_poisoned_pages) != 0;
	kho_session_init(&p->s, p->old.host, any_poison || rnd(p, 2) ? KHO_POISON_CARRY : KHO_POISON_REFUSE);
	for (int i = 0; i < p->nf; i++) {
		ASSERT_OK(kho_preserve(&p->s, p->f[i].g, 100 + (u64)i, 1));
		p->splits += p->s.img.files[i].nr_splits;
	}
	/* A memory error between preserve and freeze may still split a preserved page. */
	if (p->s.poison == KHO_POISON_CARRY && rnd(p, 3) == 0) {
		struct range_node *n = rangemap_first(&p->f[0].g->file->f_mapping.i_pages);

		if (n)
			(void)memory_failure(p->old.host, folio_pfn(container_of(n, struct folio, cache_node)), 0);
	}
	ASSERT_OK(kho_freeze(&p->s));
	poisoned_old = atomic_long_read(&p->old.host->num_poisoned_pages);
	for (int i = 0; i < HUGE_MAX_HSTATE; i++) {
		const struct hstate *h = &p->old.host->hstates[i];

		total_old[i] = h->nr_huge_pages;
		in_use_old[i] = h->nr_huge_pages - h->free_huge_pages;
	}
	T_VALIDATE(&p->old);

	trace_init(&p->new.trace, true);
	p->new.host = kho_kexec(p->old.host, &p->s.img, &p->new.trace);
	ASSERT_TRUE(!IS_ERR(p->new.host));
	T_VALIDATE(&p->new);
	EXPECT_EQ(atomic_long_read(&p->new.host->num_poisoned_pages), poisoned_old);
	p->vmm2 = task_create(p->new.host, "vmm", NULL);
	p->vmm2->sigbus_handler = true;
	p->kvm2 = kvm_create_vm(p->new.host, p->vmm2, KVM_X86_SW_PROTECTED_VM, &err);
	ASSERT_OK(err);
	for (int i = 0; i < p->nf; i++) {
		const struct kho_gmem *kf = &p->s.img.files[i];
		struct hstate *h = kf->page_order ? hstate_of_order(p->new.host, kf->page_order) : NULL;
		long need = 0;
		struct kc_snap before = { 0 }, after = { 0 };

		if (h) {
			need = (long)(kf->size >> (PAGE_SHIFT + kf->page_order)) - (long)kf->nr_splits;
			for (size_t j = 0; j < kf->nr_folios; j++)
				need -= kf->folios[j].order == kf->page_order;
		}
		kc_snap_take(p->new.host, &before);
		p->g2[i] = kho_retrieve(p->kvm2, &p->s.img, 100 + (u64)i, &err);
		if (err == -ENOMEM && h && (long)(h->free_huge_pages - h->resv_huge_pages) < need) {
			/*
			 * The new pool cannot reserve the file's missing pages
			 * (the old file had lost its reservation with a poisoned
			 * page): the retrieve fails whole.
			 */
			kc_snap_take(p->new.host, &after);
			EXPECT_EQ(kc_snap_diff(&before, &after), -1);
			kc_snap_free(&before);
			kc_snap_free(&after);
			p->unretrieved[hstate_index(p->new.host, h)]++;
			p->g2[i] = NULL;
			continue;
		}
		kc_snap_free(&before);
		ASSERT_OK(err);
		kc_expect_same_gmem(p->old.host, p->f[i].g, p->new.host, p->g2[i]);
		EXPECT_EQ(p->g2[i]->policy.mode, p->f[i].g->policy.mode);
		EXPECT_EQ(p->g2[i]->policy.nodes, p->f[i].g->policy.nodes);
		p_bind(p->kvm2, i, p->g2[i], p->f[i].size);
	}
	T_VALIDATE(&p->new);
	ASSERT_OK(kvm_validate_all(p->new.host));
	EXPECT_EQ(atomic_long_read(&p->new.host->num_poisoned_pages), poisoned_old);
	(void)kho_finish(p->new.host);
	EXPECT_EQ(atomic_long_read(&p->new.host->num_poisoned_pages), poisoned_old);
	for (int i = 0; i < HUGE_MAX_HSTATE; i++) {
		const struct hstate *h = &p->new.host->hstates[i];

		/* Every file was retrieved: the same pages in use. */
		if (!p->unretrieved[i])
			EXPECT_EQ(h->nr_huge_pages - h->free_huge_pages, in_use_old[i]);
		/* The pool is hugepages=N again, unless memory lost to poison cannot hold it. */
		EXPECT_LE(h->nr_huge_pages, t_default_config.hugepages[i]);
		if (total_old[i] == t_default_config.hugepages[i])
			EXPECT_EQ(h->nr_huge_pages, total_old[i]);
	}
	T_VALIDATE(&p->new);
	ASSERT_OK(kvm_validate_all(p->new.host));

	tot->ops += p->ops;
	tot->splits += p->splits;
	tot->poisoned_file += p->poisoned_file;
	tot->poisoned_free += p->poisoned_free;
	tot->poison_carried += p->s.img.nr_poison;
	for (int i = 0; i < HUGE_MAX_HSTATE; i++)
		tot->unretrieved += p->unretrieved[i];
	kho_session_destroy(&p->s);
	kvm_host_teardown(p->new.host);
	t_host_free(&p->new);
	ASSERT_OK(kvm_validate_all(p->old.host));
	kvm_host_teardown(p->old.host);
	t_host_free(&p->old);
	free(p);
}

TEST(preserve_kexec_retrieve_keeps_everything)
{
	const char *env = getenv("KHO_PROP_ITERS");
	int iters = env ? atoi(env) : 40;
	struct p_totals tot = { 0 };
	u64 seed = t_seed();

	for (int iter = 0; iter < iters; iter++) {
		u64 s = seed * 0x9e3779b97f4a7c15ULL + (u64)iter;

		printf("# iteration %d: prng seed %#llx\n", iter, (unsigned long long)s);
		p_iteration(iter, s, &tot);
	}
	printf("# %d iterations: %lu operations, %lu split pages and %lu poisoned pfns carried (%lu memory errors on file pages, %lu on free pages), %lu files not retrieved (pool short)\n",
	       iters, tot.ops, tot.splits, tot.poison_carried, tot.poisoned_file, tot.poisoned_free,
	       tot.unretrieved);
}

static const struct t_case cases[] = {
	T(preserve_kexec_retrieve_keeps_everything),
};

T_MAIN("kho/test_kho_property", cases)
