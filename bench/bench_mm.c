// SPDX-License-Identifier: MIT
/*
 * The host-memory model at scale: memory_failure() calls per second on 4K
 * and HugeTLB pages, and what a modelled host of 64 GiB, 1 TiB or 16 TiB
 * costs in real memory and set-up time.
 *
 * Figures, not assertions. Each figure is the median of REPS runs in this
 * process, and ratios compare figures of the same run. Only the
 * memory_failure() calls are timed: hosts, processes and faults are set up
 * before the clock starts. Memory is what the model holds on the heap
 * (mallinfo2: bytes in use) and the growth of the resident set
 * (/proc/self/statm), both measured after malloc_trim() of earlier hosts.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "mm/memory-failure.h"
#include "mm/mm.h"

#define REPS		5
#define GiB		(1ULL << 30)
#define TiB		(1ULL << 40)
#define MiB_F		(1024.0 * 1024.0)
#define MF_BATCH	1000		/* memory failures on each host of the memory table */
#define BUDGET_16T	(256ULL << 20)	/* the bound for a 16 TiB HugeTLB host */

/* Bytes malloc has handed out and not had back (arenas and mmapped chunks). */
static double heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (double)(mi.uordblks + mi.hblkhd);
}

static double rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* "512.0 KiB", "4.02 MiB": sizes of a few KiB to a few GiB in one column. */
static const char *fmt_bytes(double b, char *buf, size_t len)
{
	if (b < MiB_F)
		snprintf(buf, len, "%7.1f KiB", b / 1024.0);
	else
		snprintf(buf, len, "%7.2f MiB", b / MiB_F);
	return buf;
}

static void die(const char *what, long err)
{
	fprintf(stderr, "bench_mm: %s: %ld\n", what, err);
	exit(1);
}

static struct host *new_host(struct trace *tr, u64 bytes, unsigned long n2m, unsigned long n1g)
{
	struct host_config cfg = {
		.memory_bytes = bytes,
		.nr_nodes = 2,
		.nr_cpus = 8,
		.reserved_bytes = 64ULL << 20,
		.hugepages = { n2m, n1g },
	};
	struct host *host;

	trace_init(tr, false);
	host = host_create(&cfg, tr);
	if (IS_ERR(host))
		die("host_create", PTR_ERR(host));
	return host;
}

static void free_host(struct host *host, struct trace *tr)
{
	host_destroy(host);
	trace_destroy(tr);
}

/* ---- memory_failure() throughput ------------------------------------------ */

/* One run: a host set up with the pfns to poison, none of them poisoned yet. */
struct mf_run {
	struct host *host;
	struct trace trace;
	unsigned long *pfns;
	unsigned long n;
};

struct mf_case {
	const char *name;
	const char *page;
	u64 host_bytes;
	unsigned long calls;
	enum mf_action_page_type want;
	void (*setup)(struct mf_run *r, const struct mf_case *c);
};

static void run_alloc(struct mf_run *r, unsigned long n)
{
	r->pfns = calloc(n, sizeof(*r->pfns));
	if (!r->pfns)
		die("calloc", (long)n);
	r->n = 0;
}

/* Distinct free pfns spread evenly over a host with no HugeTLB pool. */
static void setup_buddy_4k(struct mf_run *r, const struct mf_case *c)
{
	unsigned long first, stride, pfn;

	r->host = new_host(&r->trace, c->host_bytes, 0, 0);
	run_alloc(r, c->calls);
	first = (unsigned long)(r->host->config.reserved_bytes >> PAGE_SHIFT);
	stride = (r->host->max_pfn - first) / c->calls;
	for (pfn = first + stride / 2; r->n < c->calls && pfn < r->host->max_pfn; pfn += stride)
		if (!pfn_folio_lookup(r->host, pfn))
			r->pfns[r->n++] = pfn;
}

static struct task_struct *new_task(struct host *host, const char *comm)
{
	struct task_struct *t = task_create(host, comm, NULL);

	if (!t)
		die("task_create", -ENOMEM);
	return t;
}

/* Fault in every @step of [addr, addr + len) for writing; record one pfn in each. */
static void touch_all(struct mf_run *r, struct task_struct *t, unsigned long addr,
		      unsigned long len, unsigned long step, unsigned long subpage)
{
	for (unsigned long off = 0; off < len; off += step) {
		unsigned long pfn;
		enum access_result ar = handle_user_access(t, addr + off, true, &pfn);

		if (ar != ACCESS_OK)
			die("handle_user_access", (long)ar);
		r->pfns[r->n++] = pfn + subpage;
	}
}

/* A process with an anonymous mapping, every page of it dirty. */
static void setup_anon_4k(struct mf_run *r, const struct mf_case *c)
{
	struct task_struct *t;
	unsigned long addr, len = c->calls * PAGE_SIZE;
	int err;

	r->host = new_host(&r->trace, c->host_bytes, 0, 0);
	run_alloc(r, c->calls);
	t = new_task(r->host, "anon4k");
	addr = do_mmap(t, NULL, 0, len, VM_READ | VM_WRITE, 0, &err);
	if (err)
		die("do_mmap", err);
	touch_all(r, t, addr, len, PAGE_SIZE, 0);
}

/* A tail page of each free huge page of the pool. */
static void collect_free_huge(struct mf_run *r, struct hstate *h)
{
	struct folio *f;

	for (int nid = 0; nid < r->host->nr_nodes; nid++)
		list_for_each_entry(f, &h->hugepage_freelists[nid], lru)
			r->pfns[r->n++] = folio_pfn(f) + 7;
}

static void setup_free_2m(struct mf_run *r, const struct mf_case *c)
{
	r->host = new_host(&r->trace, c->host_bytes, c->calls, 0);
	run_alloc(r, c->calls);
	collect_free_huge(r, &r->host->hstates[0]);
}

static void setup_free_1g(struct mf_run *r, const struct mf_case *c)
{
	r->host = new_host(&r->trace, c->host_bytes, 0, c->calls);
	run_alloc(r, c->calls);
	collect_free_huge(r, &r->host->hstates[1]);
}

/* Anonymous HugeTLB (MAP_HUGETLB) of 2M pages, all faulted in. */
static void setup_anon_2m(struct mf_run *r, const struct mf_case *c)
{
	struct task_struct *t;
	unsigned long addr, len = c->calls * PMD_SIZE;
	int err;

	r->host = new_host(&r->trace, c->host_bytes, c->calls, 0);
	run_alloc(r, c->calls);
	t = new_task(r->host, "anon2m");
	addr = do_mmap(t, NULL, 0, len, VM_READ | VM_WRITE | VM_HUGETLB, 0, &err);
	if (err)
		die("do_mmap", err);
	touch_all(r, t, addr, len, PMD_SIZE, 7);
}

/* A hugetlbfs file of 1G pages mapped shared, all faulted in. */
static void setup_file_1g(struct mf_run *r, const struct mf_case *c)
{
	struct task_struct *t;
	struct file *file;
	unsigned long addr, len = c->calls * PUD_SIZE;
	int err;

	r->host = new_host(&r->trace, c->host_bytes, 0, c->calls);
	run_alloc(r, c->calls);
	t = new_task(r->host, "file1g");
	file = file_create(r->host, FILE_HUGETLBFS, "hugefile", len, &r->host->hstates[1]);
	if (IS_ERR(file))
		die("file_create", PTR_ERR(file));
	addr = do_mmap(t, file, 0, len, VM_READ | VM_WRITE | VM_SHARED, 0, &err);
	if (err)
		die("do_mmap", err);
	touch_all(r, t, addr, len, PUD_SIZE, 7);
	fput(file);	/* the mapping keeps it */
}

static const struct mf_case mf_cases[] = {
	{ "free buddy page",          "4K", 64 * GiB,  20000, MF_MSG_BUDDY,     setup_buddy_4k },
	{ "anon dirty, mapped",       "4K", 64 * GiB,  20000, MF_MSG_DIRTY_LRU, setup_anon_4k },
	{ "free HugeTLB (dissolve)",  "2M", 64 * GiB,   8192, MF_MSG_FREE_HUGE, setup_free_2m },
	{ "anon HugeTLB, mapped",     "2M", 64 * GiB,   8192, MF_MSG_HUGE,      setup_anon_2m },
	{ "free HugeTLB (dissolve)",  "1G",  1 * TiB,   1000, MF_MSG_FREE_HUGE, setup_free_1g },
	{ "hugetlbfs shared, mapped", "1G",  1 * TiB,   1000, MF_MSG_HUGE,      setup_file_1g },
	{ "free buddy page",          "4K", 16 * TiB,  20000, MF_MSG_BUDDY,     setup_buddy_4k },
};

static const char *size_name(u64 bytes, char *buf, size_t len)
{
	if (bytes >= TiB)
		snprintf(buf, len, "%llu TiB", (unsigned long long)(bytes / TiB));
	else
		snprintf(buf, len, "%llu GiB", (unsigned long long)(bytes / GiB));
	return buf;
}

static void bench_memory_failure(void)
{
	double first = 0;

	printf("memory_failure() calls per second (median of %d runs; only the calls are timed)\n\n",
	       REPS);
	printf("  %-26s %-4s %-7s %6s %11s %11s %11s %8s  %-9s %s\n", "page", "size", "host",
	       "calls", "median/s", "min/s", "max/s", "ns/call", "result", "vs 4K buddy");
	for (size_t i = 0; i < ARRAY_SIZE(mf_cases); i++) {
		const struct mf_case *c = &mf_cases[i];
		double rate[REPS], med, lo = 0, hi = 0;
		unsigned long unexpected = 0, calls = 0;
		enum mf_result result = MF_IGNORED;
		char hb[16];

		for (int rep = 0; rep < REPS; rep++) {
			struct mf_run r = { 0 };
			u64 t0, t1;

			c->setup(&r, c);
			calls = r.n;
			t0 = now_ns();
			for (unsigned long k = 0; k < r.n; k++) {
				memory_failure(r.host, r.pfns[k], 0);
				if (mf_last_outcome(r.host).type != c->want)
					unexpected++;
			}
			t1 = now_ns();
			result = mf_last_outcome(r.host).result;
			rate[rep] = (double)r.n / ((double)(t1 - t0) / 1e9);
			lo = rep ? (rate[rep] < lo ? rate[rep] : lo) : rate[rep];
			hi = rep ? (rate[rep] > hi ? rate[rep] : hi) : rate[rep];
			free(r.pfns);
			free_host(r.host, &r.trace);
		}
		med = median(rate, REPS);
		if (!i)
			first = med;
		printf("  %-26s %-4s %-7s %6lu %11.0f %11.0f %11.0f %8.0f  %-9s %.2fx\n", c->name,
		       c->page, size_name(c->host_bytes, hb, sizeof(hb)), calls, med, lo, hi,
		       1e9 / med, action_name[result], med / first);
		if (unexpected)
			printf("  ^ %lu of %lu calls were not %s\n", unexpected, calls * REPS,
			       action_page_types[c->want]);
	}
}

/* ---- the model's memory per host ------------------------------------------- */

struct mem_case {
	u64 bytes;
	bool hugetlb;		/* all but 16 GiB in 1G HugeTLB pages */
};

static const struct mem_case mem_cases[] = {
	{ 64 * GiB, true }, { 1 * TiB, true }, { 16 * TiB, true },
	{ 64 * GiB, false }, { 1 * TiB, false }, { 16 * TiB, false },
};

struct mem_result {
	double create_ms, heap_create, heap_mf, rss_create, rss_mf;
};

static void mem_run(const struct mem_case *c, struct mem_result *res)
{
	unsigned long n1g = c->hugetlb ? (unsigned long)((c->bytes - 16 * GiB) / GiB) : 0;
	double heap0, rss0;
	struct host *host;
	struct trace tr;
	unsigned long first, stride;
	u64 t0, t1;

	malloc_trim(0);
	heap0 = heap_bytes();
	rss0 = rss_bytes();
	t0 = now_ns();
	host = new_host(&tr, c->bytes, 0, n1g);
	t1 = now_ns();
	res->heap_create = heap_bytes() - heap0;
	res->rss_create = rss_bytes() - rss0;
	res->create_ms = (double)(t1 - t0) / 1e6;

	/* A batch of failures spread evenly over memory: mostly free 1G pages, or buddy. */
	first = (unsigned long)(host->config.reserved_bytes >> PAGE_SHIFT);
	stride = (host->max_pfn - first) / MF_BATCH;
	for (unsigned long k = 0; k < MF_BATCH; k++)
		memory_failure(host, first + stride / 2 + k * stride + (k % 512), 0);
	res->heap_mf = heap_bytes() - heap0;
	res->rss_mf = rss_bytes() - rss0;
	free_host(host, &tr);
}

static void bench_memory(void)
{
	double base_create = 0, base_mf = 0;

	printf("\nModel memory per host: heap is what the model has malloc'd, RSS the growth\n"
	       "of the resident set. HugeTLB hosts have all but 16 GiB in 1G pages; 2 nodes,\n"
	       "64 MiB reserved. \"+MF\": after %d memory_failure() calls spread evenly over\n"
	       "the host. Medians of %d runs; ratios to the 64 GiB host of the same kind.\n\n",
	       MF_BATCH, REPS);
	printf("  %-6s %-8s %8s %10s %11s %11s %7s %11s %11s %7s\n", "host", "memory",
	       "1G pages", "create ms", "heap", "RSS", "vs 64G", "heap +MF", "RSS +MF", "vs 64G");
	for (size_t i = 0; i < ARRAY_SIZE(mem_cases); i++) {
		const struct mem_case *c = &mem_cases[i];
		double create_ms[REPS], heap_c[REPS], heap_m[REPS], rss_c[REPS], rss_m[REPS];
		double heap_create, heap_mf;
		char hb[16], b1[24], b2[24], b3[24], b4[24];

		for (int rep = 0; rep < REPS; rep++) {
			struct mem_result r;

			mem_run(c, &r);
			create_ms[rep] = r.create_ms;
			heap_c[rep] = r.heap_create;
			heap_m[rep] = r.heap_mf;
			rss_c[rep] = r.rss_create;
			rss_m[rep] = r.rss_mf;
		}
		heap_create = median(heap_c, REPS);
		heap_mf = median(heap_m, REPS);
		if (c->bytes == 64 * GiB) {
			base_create = heap_create;
			base_mf = heap_mf;
		}
		printf("  %-6s %-8s %8llu %10.2f %11s %11s %6.1fx %11s %11s %6.1fx\n",
		       size_name(c->bytes, hb, sizeof(hb)), c->hugetlb ? "1G HTLB" : "buddy",
		       c->hugetlb ? (unsigned long long)((c->bytes - 16 * GiB) / GiB) : 0ULL,
		       median(create_ms, REPS), fmt_bytes(heap_create, b1, sizeof(b1)),
		       fmt_bytes(median(rss_c, REPS), b2, sizeof(b2)), ratio(heap_create, base_create),
		       fmt_bytes(heap_mf, b3, sizeof(b3)), fmt_bytes(median(rss_m, REPS), b4, sizeof(b4)),
		       ratio(heap_mf, base_mf));
		if (c->bytes == 16 * TiB && c->hugetlb)
			printf("  ^ 16 TiB of 1G HugeTLB, after %d failures: %.2f MiB of heap, %.1f%% of "
			       "the %llu MiB bound\n", MF_BATCH, heap_mf / MiB_F,
			       100.0 * heap_mf / (double)BUDGET_16T, BUDGET_16T >> 20);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bench_mm: the host-memory model at scale\n\n");
	bench_memory_failure();
	bench_memory();
	return 0;
}
