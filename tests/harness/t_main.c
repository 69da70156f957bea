// SPDX-License-Identifier: MIT
/* The unit-test runner: see t.h. */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/sync.h"
#include "tests/harness/t.h"

static struct {
	jmp_buf jmp;
	bool failed;
	bool skipped;
	char skip_why[128];
	unsigned long long seed;
	const char *current;
} t;

unsigned long long t_seed(void)
{
	return t.seed;
}

void t_fail(const char *file, int line, const char *func, bool fatal, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# %s:%d:%s(): ", file, line, func);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	t.failed = true;
	if (fatal)
		longjmp(t.jmp, 1);
}

void t_skip(const char *why)
{
	t.skipped = true;
	snprintf(t.skip_why, sizeof(t.skip_why), "%s", why);
	longjmp(t.jmp, 1);
}

/* Run one test case; setjmp lives here so the caller's locals are never clobbered. */
static void run_case(const struct t_case *c)
{
	if (!setjmp(t.jmp))
		c->fn();
}

static void usage(const char *suite)
{
	fprintf(stderr, "usage: %s [-s SEED] [-t GLOB] [-x]\n", suite);
	exit(2);
}

int t_main(const char *suite, const struct t_case *cases, size_t n, int argc, char **argv)
{
	unsigned long passed = 0, failed = 0, skipped = 0;
	const char *glob = NULL;
	bool stop_first = false;
	char *end;
	size_t i;
	int opt_i;

	t.seed = (unsigned long long)time(NULL);
	for (opt_i = 1; opt_i < argc; opt_i++) {
		if (!strcmp(argv[opt_i], "-s") && opt_i + 1 < argc) {
			t.seed = strtoull(argv[++opt_i], &end, 0);
			if (*end)
				usage(suite);
		} else if (!strcmp(argv[opt_i], "-t") && opt_i + 1 < argc) {
			glob = argv[++opt_i];
		} else if (!strcmp(argv[opt_i], "-x")) {
			stop_first = true;
		} else {
			usage(suite);
		}
	}
	printf("# %s: seed %llu\n", suite, t.seed);
	for (i = 0; i < n; i++) {
		long live_before;

		if (glob && fnmatch(glob, cases[i].name, 0))
			continue;
		t.failed = false;
		t.skipped = false;
		t.current = cases[i].name;
		kmalloc_fault_reset();
		sync_findings_reset();
		live_before = kmalloc_live();
		run_case(&cases[i]);
		kmalloc_fault_reset();
		if (!t.skipped && !t.failed && kmalloc_live() != live_before) {
			fprintf(stderr, "# %s: leaked %ld objects\n", cases[i].name,
				kmalloc_live() - live_before);
			t.failed = true;
		}
		if (!t.skipped && !t.failed && sync_findings()) {
			fprintf(stderr, "# %s: %lu lock findings\n", cases[i].name, sync_findings());
			t.failed = true;
		}
		if (t.skipped) {
			skipped++;
			printf("ok %zu %s # SKIP %s\n", i + 1, cases[i].name, t.skip_why);
		} else if (t.failed) {
			failed++;
			printf("not ok %zu %s\n", i + 1, cases[i].name);
		} else {
			passed++;
			printf("ok %zu %s\n", i + 1, cases[i].name);
		}
		fflush(stdout);
		if (stop_first && t.failed)
			break;
	}
	printf("# %s: %lu passed, %lu failed, %lu skipped\n", suite, passed, failed, skipped);
	if (failed)
		return 1;
	return passed == 0 && skipped ? 77 : 0;
}
