// SPDX-License-Identifier: MIT
/*
 * The race explorer (issue #9): executions per second and the time to
 * exhaust each race scenario at preemption bound 2, on one core.
 *
 * Figures, not assertions. The process is pinned to one CPU (the explorer
 * runs one model thread at a time anyway). For each scenarios/race-explore-
 * file: a plain run (gmf run: the threads one after the other) timed as the
 * median of REPS, then dfs at bound 2 until every schedule ran, the first
 * violation, or BUDGET seconds; the ratio is an explored execution's time
 * over the plain run's, from the same run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "scn/scn.h"
#include "sim/sched.h"

#define REPS	5
#define BUDGET	20.0	/* seconds of exploration per scenario */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = 0;
	*len = (size_t)n;
	fclose(f);
	return buf;
}

/* One scenario: its row of the table. */
static void bench_one(const char *path)
{
	struct sched_opts so = { .strategy = SCHED_DFS, .bound = 2, .seed = 1 };
	struct scn_run_opts ro = { .quiet = true, .seed = 1 };
	double plain[REPS], t0, el, per_plain, per_exec;
	unsigned long execs = 0, maxsteps = 0;
	const char *vary, *end = "budget";
	struct scn_error err;
	struct scn_file *f;
	struct explorer *x;
	char why[256];
	size_t len;
	char *text = slurp(path, &len);

	if (!text || scn_parse(path, text, len, &f, &err)) {
		printf("  %-44s cannot read or parse\n", path);
		free(text);
		return;
	}
	free(text);
	vary = f->vary_key ? f->vary_vals[0] : NULL;
	for (int i = 0; i < REPS; i++) {
		struct scn_result r;

		t0 = now_s();
		(void)scn_run_one(f, &ro, vary, &r);
		plain[i] = now_s() - t0;
		scn_result_free(&r);
	}
	per_plain = median(plain, REPS);
	x = explorer_new(&so, f->nthreads, (const char *const *)f->threads, why, sizeof(why));
	if (!x) {
		printf("  %-44s %s\n", path, why);
		scn_file_free(f);
		return;
	}
	ro.explorer = x;
	t0 = now_s();
	for (;;) {
		struct scn_result r;
		bool ok;

		if (now_s() - t0 >= BUDGET)
			break;
		if (!explorer_next(x)) {
			end = "exhausted";
			break;
		}
		(void)scn_run_one(f, &ro, vary, &r);
		execs++;
		if (explorer_steps(x) > maxsteps)
			maxsteps = explorer_steps(x);
		ok = r.passed;
		scn_result_free(&r);
		if (!ok) {
			end = "violation";
			break;
		}
	}
	el = now_s() - t0;
	per_exec = execs ? el / (double)execs : 0;
	printf("  %-44s %8lu %7lu %10.1f %9.3f %9.2f %7.1fx  %s\n",
	       strrchr(path, '/') ? strrchr(path, '/') + 1 : path, execs, maxsteps,
	       el > 0 ? (double)execs / el : 0, el, per_plain * 1e3,
	       per_plain > 0 ? per_exec / per_plain : 0, end);
	explorer_free(x);
	scn_file_free(f);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "scenarios";
	char **names = NULL;
	size_t n = 0;
	cpu_set_t one;
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		fprintf(stderr, "bench_explore: cannot open %s\n", dir);
		return 1;
	}
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "race-explore-", 13) && strstr(e->d_name, ".scn")) {
			names = realloc(names, (n + 1) * sizeof(*names));
			if (!names)
				return 1;
			if (asprintf(&names[n++], "%s/%s", dir, e->d_name) < 0)
				return 1;
		}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		printf("(could not pin to CPU 0: running unpinned)\n");
	printf("The race explorer, dfs at preemption bound 2, on one core: per race scenario,\n"
	       "executions run, most decision points in one, executions per second, seconds\n"
	       "until every schedule ran (exhausted), the first violation or the %.0f s budget;\n"
	       "a plain run's median of %d (ms), and an explored execution's time over it.\n\n",
	       BUDGET, REPS);
	printf("  %-44s %8s %7s %10s %9s %9s %8s  %s\n", "scenario", "execs", "points", "execs/s",
	       "seconds", "plain ms", "ratio", "end");
	for (size_t i = 0; i < n; i++) {
		bench_one(names[i]);
		fflush(stdout);
		free(names[i]);
	}
	free(names);
	return 0;
}
