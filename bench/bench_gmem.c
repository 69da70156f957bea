// SPDX-License-Identifier: MIT
/*
 * guest_memfd's HugeTLB backing at scale (issue #5): conversions per second
 * (a 4K private->shared conversion that splits a huge page, and the
 * conversion back that merges it), the model's memory per split page, and
 * memory_failure() calls per second on unsplit and split 1G folios.
 *
 * Figures, not assertions. Each figure is the median of REPS runs in this
 * process, and ratios compare figures of the same run. Only the measured
 * operations are timed: the host, the VMM process, the VM and the
 * guest_memfd (created private and fallocated whole) are set up before the
 * clock starts. Memory is what the model holds on the heap (mallinfo2:
 * bytes in use, read after malloc_trim()).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "kvm/kvm.h"

#define REPS		5
#define GiB		(1ULL << 30)
#define MF_PIECES	20000		/* memory_failure() calls on pieces of one split 1G page */

static double min_of(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double max_of(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

/* Bytes malloc has handed out and not had back, after giving back what it can. */
static double heap_bytes(void)
{
	struct mallinfo2 mi;

	malloc_trim(0);
	mi = mallinfo2();
	return (double)(mi.uordblks + mi.hblkhd);
}

/* "512 B", "12.3 KiB", "4.02 MiB": sizes from bytes to a few GiB in one column. */
static const char *fmt_bytes(double b, char *buf, size_t len)
{
	double a = b < 0 ? -b : b;

	if (a < 1024.0)
		snprintf(buf, len, "%9.0f B", b);
	else if (a < 1024.0 * 1024.0)
		snprintf(buf, len, "%7.1f KiB", b / 1024.0);
	else
		snprintf(buf, len, "%7.2f MiB", b / (1024.0 * 1024.0));
	return buf;
}

static void die(const char *what, long err)
{
	fprintf(stderr, "bench_gmem: %s: %ld\n", what, err);
	exit(1);
}

/* ---- a host with a VM and one private, fallocated HugeTLB guest_memfd ------------ */

enum hsize { H2M, H1G, NR_HSIZES };

static const struct {
	const char *name;
	u64 bytes;
	u64 flag;
} hsizes[NR_HSIZES] = {
	[H2M] = { "2M", 2ULL << 20, GUESTMEM_HUGETLB_FLAG_2MB },
	[H1G] = { "1G", 1ULL << 30, GUESTMEM_HUGETLB_FLAG_1GB },
};

struct gm_env {
	struct trace trace;
	struct host *host;
	struct task_struct *vmm;
	struct kvm *kvm;
	struct kvm_gmem *gmem;
	enum hsize hs;
	unsigned long nr_huge;		/* huge pages in the file */
	unsigned long nr_pieces;	/* 4K pages in one huge page */
};

/* Everything but the guest_memfd's folios: fallocate is gm_fill(). */
static void gm_create(struct gm_env *e, enum hsize hs, unsigned long nr_huge)
{
	struct host_config cfg = {
		.memory_bytes = nr_huge * hsizes[hs].bytes + 4 * GiB,
		.nr_nodes = 2,
		.nr_cpus = 8,
		.reserved_bytes = 64ULL << 20,
	};
	int err;

	cfg.hugepages[hs] = nr_huge;
	memset(e, 0, sizeof(*e));
	e->hs = hs;
	e->nr_huge = nr_huge;
	e->nr_pieces = (unsigned long)(hsizes[hs].bytes >> PAGE_SHIFT);
	trace_init(&e->trace, false);
	e->host = host_create(&cfg, &e->trace);
	if (IS_ERR(e->host))
		die("host_create", PTR_ERR(e->host));
	e->vmm = task_create(e->host, "vmm", NULL);
	if (!e->vmm)
		die("task_create", -ENOMEM);
	e->kvm = kvm_create_vm(e->host, e->vmm, KVM_X86_SW_PROTECTED_VM, &err);
	if (!e->kvm)
		die("kvm_create_vm", err);
	/* No GUEST_MEMFD_FLAG_INIT_SHARED: all of it starts private. */
	e->gmem = kvm_gmem_create(e->kvm, nr_huge * hsizes[hs].bytes, hsizes[hs].flag, &err);
	if (!e->gmem)
		die("kvm_gmem_create", err);
}

static void gm_fill(struct gm_env *e)
{
	int err = kvm_gmem_fallocate(e->gmem, FALLOC_FL_KEEP_SIZE, 0,
				     e->nr_huge * hsizes[e->hs].bytes);

	if (err)
		die("kvm_gmem_fallocate", err);
}

static void gm_setup(struct gm_env *e, enum hsize hs, unsigned long nr_huge)
{
	gm_create(e, hs, nr_huge);
	gm_fill(e);
}

/* Check the model's invariants (untimed), then tear it all down. */
static void gm_free(struct gm_env *e)
{
	int err = kvm_validate_all(e->host);

	if (!err)
		err = host_validate(e->host);
	if (err)
		die("invariants broken", err);
	kvm_host_teardown(e->host);
	host_destroy(e->host);
	trace_destroy(&e->trace);
}

/* The file offset of the 4K page each conversion touches in huge page @i. */
static u64 conv_offset(const struct gm_env *e, unsigned long i)
{
	return i * hsizes[e->hs].bytes + 0x5000;
}

static struct folio *gm_folio(const struct gm_env *e, u64 offset)
{
	return filemap_get_folio(&e->gmem->file->f_mapping, (pgoff_t)(offset >> PAGE_SHIFT));
}

/* Convert one 4K page of each huge page: split (to shared) or merge (to private). */
static unsigned long convert_all(struct gm_env *e, bool to_private)
{
	unsigned long failed = 0;

	for (unsigned long i = 0; i < e->nr_huge; i++) {
		u64 eo = 0;

		if (kvm_gmem_set_attributes(e->gmem, conv_offset(e, i), PAGE_SIZE,
					    to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, 0, &eo))
			failed++;
	}
	return failed;
}

/* Huge pages of the file that are not in the state the conversions should leave. */
static unsigned long count_wrong(const struct gm_env *e, bool want_huge)
{
	unsigned long wrong = 0;

	for (unsigned long i = 0; i < e->nr_huge; i++) {
		struct folio *f = gm_folio(e, conv_offset(e, i));

		if (!f || folio_test_hugetlb(f) != want_huge)
			wrong++;
	}
	return wrong;
}

/* ---- 1. conversions per second -------------------------------------------------- */

/* Huge pages per run: enough that a run takes milliseconds, not microseconds. */
static const unsigned long conv_pages[NR_HSIZES] = { [H2M] = 2048, [H1G] = 8 };

static void bench_conversions(void)
{
	double ns[2][NR_HSIZES][REPS];	/* [merge][hsize][rep]: ns per conversion */
	unsigned long wrong[2][NR_HSIZES] = { { 0 } };

	printf("Conversions of one 4K page inside a private huge page of a HugeTLB\n"
	       "guest_memfd (KVM_X86_SW_PROTECTED_VM): to shared splits the huge folio\n"
	       "into 4K folios, back to private merges it. Each run converts one page of\n"
	       "each huge page of the file, then converts them all back; only the\n"
	       "kvm_gmem_set_attributes() calls are timed. Median of %d runs; ratio 1G/2M\n"
	       "of the same run's medians.\n\n", REPS);
	for (int hs = 0; hs < NR_HSIZES; hs++) {
		for (int rep = 0; rep < REPS; rep++) {
			struct gm_env e;
			unsigned long failed;
			u64 t0, t1, t2, t3;

			gm_setup(&e, (enum hsize)hs, conv_pages[hs]);
			t0 = now_ns();
			failed = convert_all(&e, false);
			t1 = now_ns();
			wrong[0][hs] += failed + count_wrong(&e, false);
			t2 = now_ns();
			failed = convert_all(&e, true);
			t3 = now_ns();
			wrong[1][hs] += failed + count_wrong(&e, true);
			ns[0][hs][rep] = (double)(t1 - t0) / (double)e.nr_huge;
			ns[1][hs][rep] = (double)(t3 - t2) / (double)e.nr_huge;
			gm_free(&e);
		}
	}
	printf("  %-6s %-4s %6s %7s %10s %12s %12s %12s %9s  %s\n", "op", "size", "pages", "pieces",
	       "median/s", "ns/conv", "min ns", "max ns", "ns/piece", "1G/2M");
	for (int op = 0; op < 2; op++) {
		double base = median(ns[op][H2M], REPS);

		for (int hs = 0; hs < NR_HSIZES; hs++) {
			double med = median(ns[op][hs], REPS);
			unsigned long pieces = (unsigned long)(hsizes[hs].bytes >> PAGE_SHIFT);
			char r[16] = "";

			if (hs == H1G)
				snprintf(r, sizeof(r), "  %.0fx", ratio(med, base));
			printf("  %-6s %-4s %6lu %7lu %10.1f %12.0f %12.0f %12.0f %9.1f%s\n",
			       op ? "merge" : "split", hsizes[hs].name, conv_pages[hs], pieces, 1e9 / med,
			       med, min_of(ns[op][hs], REPS), max_of(ns[op][hs], REPS),
			       med / (double)pieces, r);
			if (wrong[op][hs])
				printf("  ^ %lu of %lu conversions failed or left the page %s\n",
				       wrong[op][hs], conv_pages[hs] * REPS, op ? "split" : "whole");
		}
	}
}

/* ---- 2. memory per split page --------------------------------------------------- */

static const unsigned long mem_pages[NR_HSIZES] = { [H2M] = 64, [H1G] = 4 };

struct mem_result {
	double unsplit, split, merged;	/* heap bytes per huge page over the empty file */
};

static void mem_run(enum hsize hs, struct mem_result *res)
{
	struct gm_env e;
	double h0, h1, h2, h3, n;

	gm_create(&e, hs, mem_pages[hs]);
	n = (double)e.nr_huge;
	h0 = heap_bytes();
	gm_fill(&e);
	h1 = heap_bytes();
	if (convert_all(&e, false) || count_wrong(&e, false))
		die("split", (long)hs);
	h2 = heap_bytes();
	if (convert_all(&e, true) || count_wrong(&e, true))
		die("merge", (long)hs);
	h3 = heap_bytes();
	res->unsplit = (h1 - h0) / n;
	res->split = (h2 - h0) / n;
	res->merged = (h3 - h0) / n;
	gm_free(&e);
}

static void bench_memory(void)
{
	printf("\nModel heap per huge page of a private guest_memfd, over the empty file:\n"
	       "\"unsplit\" after fallocate (the pool's free folio moves into the file),\n"
	       "\"split\" after one 4K page of each huge page was made shared, \"merged\"\n"
	       "after it was made private again. Per piece: the growth of the split over\n"
	       "the unsplit page, per 4K folio. Medians of %d runs.\n\n", REPS);
	printf("  %-4s %6s %7s %12s %12s %12s %12s\n", "size", "pages", "pieces",
	       "unsplit", "split", "per piece", "merged");
	for (int hs = 0; hs < NR_HSIZES; hs++) {
		double u[REPS], s[REPS], m[REPS], mu, ms, mm, pieces;
		char b1[24], b2[24], b3[24], b4[24];

		for (int rep = 0; rep < REPS; rep++) {
			struct mem_result r;

			mem_run((enum hsize)hs, &r);
			u[rep] = r.unsplit;
			s[rep] = r.split;
			m[rep] = r.merged;
		}
		mu = median(u, REPS);
		ms = median(s, REPS);
		mm = median(m, REPS);
		pieces = (double)(hsizes[hs].bytes >> PAGE_SHIFT);
		printf("  %-4s %6lu %7.0f %12s %12s %12s %12s\n", hsizes[hs].name,
		       mem_pages[hs], pieces, fmt_bytes(mu, b1, sizeof(b1)),
		       fmt_bytes(ms, b2, sizeof(b2)), fmt_bytes((ms - mu) / pieces, b3, sizeof(b3)),
		       fmt_bytes(mm, b4, sizeof(b4)));
	}
}

/* ---- 3. memory_failure() on split and unsplit 1G folios ------------------------------ */

struct mf_case {
	const char *name;
	unsigned long calls;
	bool mf_delayed_fix;
	/* Set up @e and the pfns to fail, one call each. */
	void (*setup)(struct gm_env *e, unsigned long *pfns, unsigned long n);
};

/* A tail page of each unsplit 1G folio of the file. */
static void setup_unsplit(struct gm_env *e, unsigned long *pfns, unsigned long n)
{
	gm_setup(e, H1G, n);
	for (unsigned long i = 0; i < n; i++) {
		struct folio *f = gm_folio(e, i * GiB);

		if (!f || !folio_test_hugetlb(f))
			die("unsplit 1G folio", (long)i);
		pfns[i] = folio_pfn(f) + 7;
	}
}

/* Distinct private 4K pieces of one 1G folio, split by making its first page shared. */
static void setup_split(struct gm_env *e, unsigned long *pfns, unsigned long n)
{
	u64 eo = 0;
	unsigned long stride;
	int err;

	gm_setup(e, H1G, 1);
	err = kvm_gmem_set_attributes(e->gmem, 0, PAGE_SIZE, 0, 0, &eo);
	if (err)
		die("split 1G folio", err);
	stride = (e->nr_pieces - 1) / n;
	for (unsigned long i = 0; i < n; i++) {
		struct folio *f = gm_folio(e, (u64)(1 + i * stride) << PAGE_SHIFT);

		if (!f || folio_test_hugetlb(f))
			die("split 1G piece", (long)i);
		pfns[i] = folio_pfn(f);
	}
}

static const struct mf_case mf_cases[] = {
	{ "unsplit 1G folio (splits it)", 8,         true,  setup_unsplit },
	{ "4K piece of a split 1G folio", MF_PIECES, true,  setup_split },
	{ "4K piece, mf_delayed_fix off", MF_PIECES, false, setup_split },
};

static void bench_memory_failure(void)
{
	double med[ARRAY_SIZE(mf_cases)];

	printf("\nmemory_failure() calls per second on a private 1G HugeTLB guest_memfd,\n"
	       "gmem_mf_stage %s, mf_delayed_fix on unless said: each call on a\n"
	       "different 1G folio of the file (kvm_gmem_error_folio() splits it, and only\n"
	       "the failed page is lost), or on a different 4K piece of a 1G folio split\n"
	       "(by a conversion) before the clock starts. Median of %d runs; only the\n"
	       "calls are timed.\n\n",
	       gmem_mf_stage_names[GMEM_MF_EVENTUAL], REPS);
	printf("  %-30s %6s %9s %9s %9s %10s %9s  %s\n", "page", "calls", "median/s", "min/s",
	       "max/s", "ns/call", "vs unspl", "result: page type");
	for (size_t i = 0; i < ARRAY_SIZE(mf_cases); i++) {
		const struct mf_case *c = &mf_cases[i];
		double rate[REPS];
		unsigned long unexpected = 0, huge = 0;
		struct mf_outcome first = { 0 };

		for (int rep = 0; rep < REPS; rep++) {
			unsigned long *pfns = calloc(c->calls, sizeof(*pfns));
			struct gm_env e;
			u64 t0, t1;

			if (!pfns)
				die("calloc", (long)c->calls);
			c->setup(&e, pfns, c->calls);
			e.host->sysctl.mf_delayed_fix = c->mf_delayed_fix;
			if (kvm_state(e.host)->gmem_mf_stage != GMEM_MF_EVENTUAL)
				die("gmem_mf_stage", kvm_state(e.host)->gmem_mf_stage);
			t0 = now_ns();
			for (unsigned long k = 0; k < c->calls; k++) {
				struct mf_outcome o;

				memory_failure(e.host, pfns[k], 0);
				o = mf_last_outcome(e.host);
				if (!rep && !k)
					first = o;
				else if (o.type != first.type || o.result != first.result)
					unexpected++;
			}
			t1 = now_ns();
			for (unsigned long k = 0; k < c->calls; k++) {
				struct folio *f = pfn_folio_lookup(e.host, pfns[k]);

				huge += f && folio_test_hugetlb(f);
			}
			rate[rep] = (double)c->calls / ((double)(t1 - t0) / 1e9);
			free(pfns);
			gm_free(&e);
		}
		med[i] = median(rate, REPS);
		printf("  %-30s %6lu %9.0f %9.0f %9.0f %10.0f %8.0fx  %s: %s\n", c->name, c->calls,
		       med[i], min_of(rate, REPS), max_of(rate, REPS), 1e9 / med[i],
		       ratio(med[i], med[0]), action_name[first.result],
		       action_page_types[first.type]);
		if (unexpected)
			printf("  ^ %lu of %lu calls had another outcome\n", unexpected,
			       c->calls * REPS);
		if (huge)
			printf("  ^ %lu of %lu failed pages are still in a huge folio\n", huge,
			       c->calls * REPS);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bench_gmem: guest_memfd HugeTLB restructuring at scale\n\n");
	bench_conversions();
	bench_memory();
	bench_memory_failure();
	printf("\n");
	return 0;
}
