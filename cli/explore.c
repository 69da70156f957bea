// SPDX-License-Identifier: MIT
/*
 * gmf explore and gmf replay: the race explorer on a scenario's concurrent
 * block (docs/explorer.md).
 *
 * Each execution runs the whole file on a new host: the lines before the
 * block, the block's threads under the explorer's schedule (sim/sched.h),
 * the lines after it. A violation is an invariant broken at a decision
 * point with no lock held, a deadlock, or a failed expectation; its
 * schedule is minimized (deviations from the default dropped while the
 * same violation stays) and replayed with the trace printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/plant.h"
#include "base/trace.h"
#include "cli/cli.h"
#include "scn/scn.h"
#include "sim/sched.h"

static void explore_usage(FILE *f)
{
	fprintf(f, "usage: gmf explore [--strategy dfs|random|pct] [--bound N] [--depth N]\n"
		"                   [--executions N] [--seconds S] [--seed N] [--vary VALUE] [--json]\n"
		"                   [--plant BUG] FILE\n\n"
		"Runs the file's concurrent block under many schedules, switching threads at\n"
		"every lock, unlock and atomic of the model, checking the invariants at each\n"
		"point where no lock is held and the expectations after the block.\n\n"
		"  --strategy S    dfs (default): every schedule with at most --bound preemptions;\n"
		"                  random: a random thread at each point; pct: probabilistic\n"
		"                  concurrency testing with bug depth --depth\n"
		"  --bound N       dfs preemption bound (default 2)\n"
		"  --depth N       pct bug depth, 1..8 (default 2)\n"
		"  --executions N  stop after N executions (default: dfs none, others 1000)\n"
		"  --seconds S     stop after S seconds (default: none)\n"
		"  --seed N        the seed of random and pct, and of the model (default 1)\n"
		"  --vary VALUE    only this value of the file's varied switch (default: each)\n"
		"  --json          one JSON object per explored value (docs/explorer.md)\n"
		"  --plant BUG     switch on a planted race bug (build/planted/gmf only)\n\n"
		"Exit status: 0 no violation, 1 a violation (with its schedule and trace),\n"
		"2 usage or parse error.\n");
}

static void replay_usage(FILE *f)
{
	fprintf(f, "usage: gmf replay --schedule S [--seed N] [--vary VALUE] [--json] [--plant BUG] FILE\n\n"
		"Runs the file once with its concurrent block under schedule S (as gmf explore\n"
		"prints it: STEP:THREAD deviations from running each thread on; \"\" for none)\n"
		"and prints the trace in the kernel's words and the verdict.\n\n"
		"Exit status: 0 no violation, 1 a violation, 2 usage, parse or schedule error.\n");
}

struct xopts {
	struct sched_opts so;
	unsigned long executions;
	double seconds;
	const char *vary;
	bool json;
	const char *path;
	bool have_schedule;
};

/* A number no larger than @max. */
static bool num(const char *s, u64 max, u64 *out)
{
	return cli_parse_u64(s, out) && *out <= max;
}

static int parse_args(const char *cmd, int argc, char **argv, struct xopts *o)
{
	u64 v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			if (!strcmp(cmd, "explore"))
				explore_usage(stdout);
			else
				replay_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		} else if (!strcmp(a, "--seed")) {
			if (!num(val, ~0ULL, &v))
				return cli_bad_flag(cmd, a, val, "a number");
			o->so.seed = v;
		} else if (!strcmp(a, "--plant")) {
			if (!PLANT_BUGS_BUILT) {
				fprintf(stderr, "gmf %s: --plant: this gmf has no planted bugs; "
					"build/planted/gmf has (make planted)\n", cmd);
				return 2;
			}
			if (!val || plant_enable(val)) {
				char names[128] = "";

				for (int b = 0; b < __NR_PLANT_BUGS; b++)
					snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
						 b ? " or " : "", plant_bug_names[b]);
				return cli_bad_flag(cmd, a, val, names);
			}
		} else if (!strcmp(a, "--vary")) {
			if (!val)
				return cli_bad_flag(cmd, a, val, "a value of the file's varied switch");
			o->vary = val;
		} else if (!strcmp(cmd, "replay") && !strcmp(a, "--schedule")) {
			if (!val)
				return cli_bad_flag(cmd, a, val, "a schedule string (STEP:THREAD,...)");
			o->so.schedule = val;
			o->have_schedule = true;
		} else if (!strcmp(cmd, "explore") && !strcmp(a, "--strategy")) {
			if (!val)
				return cli_bad_flag(cmd, a, val, "dfs, random or pct");
			if (!strcmp(val, "dfs"))
				o->so.strategy = SCHED_DFS;
			else if (!strcmp(val, "random"))
				o->so.strategy = SCHED_RANDOM;
			else if (!strcmp(val, "pct"))
				o->so.strategy = SCHED_PCT;
			else
				return cli_bad_flag(cmd, a, val, "dfs, random or pct");
		} else if (!strcmp(cmd, "explore") && !strcmp(a, "--bound")) {
			if (!num(val, 64, &v))
				return cli_bad_flag(cmd, a, val, "a preemption bound, 0..64");
			o->so.bound = (int)v;
		} else if (!strcmp(cmd, "explore") && !strcmp(a, "--depth")) {
			if (!num(val, 8, &v) || !v)
				return cli_bad_flag(cmd, a, val, "a bug depth, 1..8");
			o->so.depth = (int)v;
		} else if (!strcmp(cmd, "explore") && !strcmp(a, "--executions")) {
			if (!num(val, ~0UL, &v) || !v)
				return cli_bad_flag(cmd, a, val, "a positive number of executions");
			o->executions = (unsigned long)v;
		} else if (!strcmp(cmd, "explore") && !strcmp(a, "--seconds")) {
			char *end;
			double d = val ? strtod(val, &end) : 0;

			if (!val || *end || !(d > 0) || d > 1e6)
				return cli_bad_flag(cmd, a, val, "a positive number of seconds");
			o->seconds = d;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "gmf %s: unknown option '%s' (see gmf %s --help)\n", cmd, a, cmd);
			return 2;
		} else {
			if (o->path) {
				fprintf(stderr, "gmf %s: one FILE only ('%s' and '%s')\n", cmd, o->path, a);
				return 2;
			}
			o->path = a;
			continue;
		}
		i++;
	}
	if (!o->path) {
		fprintf(stderr, "gmf %s: expected a scenario FILE (see gmf %s --help)\n", cmd, cmd);
		return 2;
	}
	if (!strcmp(cmd, "replay") && !o->have_schedule) {
		fprintf(stderr, "gmf replay: expected --schedule S (as gmf explore printed it)\n");
		return 2;
	}
	return -1;	/* go on */
}

static struct scn_file *load(const char *cmd, const struct xopts *o)
{
	struct scn_file *f = NULL;
	struct scn_error err;
	size_t len;
	char *text = cli_read_file(o->path, CLI_SCENARIO_MAX, &len);

	if (!text) {
		fprintf(stderr, "gmf %s: cannot read %s: %s\n", cmd, o->path, strerror(errno));
		return NULL;
	}
	if (scn_parse(o->path, text, len, &f, &err)) {
		fprintf(stderr, "%s:%d:%d: error: %s\n", o->path, err.line, err.col, err.msg);
		f = NULL;
	}
	free(text);
	if (f && !f->conc_line) {
		fprintf(stderr, "gmf %s: %s has no concurrent block (concurrent ... end: docs/explorer.md)\n",
			cmd, o->path);
		scn_file_free(f);
		return NULL;
	}
	if (f && o->vary) {
		bool known = false;

		for (int i = 0; i < f->nvary; i++)
			known |= !strcmp(f->vary_vals[i], o->vary);
		if (!known) {
			fprintf(stderr, "gmf %s: --vary '%s': %s\n", cmd, o->vary,
				f->vary_key ? "not a value of the file's vary line" : "the file varies nothing");
			scn_file_free(f);
			return NULL;
		}
	}
	return f;
}

/* One execution under @x; the result's failure says what broke, if anything. */
static void execute(struct scn_file *f, const char *vary, struct explorer *x, u64 seed, FILE *out,
		    bool json, struct scn_result *r)
{
	struct scn_run_opts ro = {
		.out = out, .quiet = !out, .json = json, .seed = seed, .explorer = x,
	};

	(void)scn_run_one(f, &ro, vary, r);
}

/* Replay @sched: the violation's message, or NULL when it passed or did not fit. */
static bool replay_fails(struct scn_file *f, const char *vary, const char *sched, int nthreads,
			 u64 seed, int line, const char *why)
{
	struct sched_opts so = { .strategy = SCHED_REPLAY, .schedule = sched, .seed = seed };
	char err[256];
	struct explorer *x = explorer_new(&so, nthreads, (const char *const *)f->threads, err, sizeof(err));
	struct scn_result r;
	bool same;

	if (!x)
		return false;
	(void)explorer_next(x);
	execute(f, vary, x, seed, NULL, false, &r);
	same = !r.passed && r.sched_outcome != SCHED_BAD_SCHEDULE && r.failed_line == line &&
	       !strcmp(r.failure, why);
	scn_result_free(&r);
	explorer_free(x);
	return same;
}

/* Drop deviations one at a time while the same violation stays. */
static char *minimize(struct scn_file *f, const char *vary, const char *sched, u64 seed,
		      int line, const char *why, unsigned long *tries)
{
	char *cur = kstrdup(sched, __GFP_NOFAIL);
	bool progress = true;

	while (progress && *cur) {
		int n = 1;

		progress = false;
		for (const char *p = cur; *p; p++)
			n += *p == ',';
		for (int drop = 0; drop < n; drop++) {
			size_t len = strlen(cur);
			char *cand = kzalloc(len + 1, __GFP_NOFAIL);
			const char *p = cur;
			int k = 0;

			while (*p) {
				const char *e = strchr(p, ',');
				size_t l = e ? (size_t)(e - p) : strlen(p);

				if (k++ != drop) {
					if (*cand)
						strcat(cand, ",");
					strncat(cand, p, l);
				}
				p += l + (e ? 1 : 0);
			}
			(*tries)++;
			if (replay_fails(f, vary, cand, f->nthreads, seed, line, why)) {
				kfree(cur);
				cur = cand;
				progress = true;
				break;
			}
			kfree(cand);
		}
	}
	return cur;
}

/* A set of outcome digests. */
struct dset {
	u64 *v;
	size_t cap, n;
};

static void dset_add(struct dset *s, u64 d)
{
	size_t i;

	d |= 1;	/* 0 marks an empty slot */
	if (2 * (s->n + 1) > s->cap) {
		struct dset n = { .cap = s->cap ? s->cap * 2 : 64 };

		n.v = kcalloc(n.cap, sizeof(*n.v), __GFP_NOFAIL);
		for (size_t j = 0; j < s->cap; j++)
			if (s->v[j])
				dset_add(&n, s->v[j]);
		kfree(s->v);
		*s = n;
	}
	for (i = d % s->cap; s->v[i]; i = (i + 1) % s->cap)
		if (s->v[i] == d)
			return;
	s->v[i] = d;
	s->n++;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void json_str(const char *key, const char *v)
{
	printf(",\"%s\":", key);
	json_print_string(stdout, v);
}

/* Explore one value of the varied switch. 0 no violation, 1 one, 2 an error. */
static int explore_one(struct scn_file *f, const struct xopts *o, const char *vary)
{
	struct explorer *x;
	struct dset outcomes = { 0 };
	unsigned long limit = o->executions, n = 0, maxsteps = 0, tries = 0;
	double t0 = now_s(), elapsed;
	char err[256], *sched = NULL, *minimal = NULL, why[512] = "";
	bool exhausted = false, violation = false;
	int line = 0, status = 0;

	if (!limit && o->so.strategy != SCHED_DFS)
		limit = 1000;
	x = explorer_new(&o->so, f->nthreads, (const char *const *)f->threads, err, sizeof(err));
	if (!x) {
		fprintf(stderr, "gmf explore: %s\n", err);
		return 2;
	}
	for (;;) {
		struct scn_result r;

		if ((limit && n >= limit) || (o->seconds > 0 && now_s() - t0 >= o->seconds))
			break;
		if (!explorer_next(x)) {
			exhausted = true;
			break;
		}
		execute(f, vary, x, o->so.seed, NULL, false, &r);
		n++;
		if (explorer_steps(x) > maxsteps)
			maxsteps = explorer_steps(x);
		dset_add(&outcomes, r.digest);
		if (!r.passed) {
			violation = true;
			line = r.failed_line;
			snprintf(why, sizeof(why), "%s", r.failure);
			sched = kstrdup(explorer_schedule(x), __GFP_NOFAIL);
			scn_result_free(&r);
			break;
		}
		scn_result_free(&r);
	}
	elapsed = now_s() - t0;
	if (violation)
		minimal = minimize(f, vary, sched, o->so.seed, line, why, &tries);
	if (o->json) {
		printf("{\"event\":\"explore\"");
		json_str("file", f->path);
		if (vary) {
			json_str("vary", f->vary_key);
			json_str("value", vary);
		}
		json_str("strategy", sched_strategy_names[o->so.strategy]);
		if (o->so.strategy == SCHED_DFS)
			printf(",\"bound\":%d", o->so.bound);
		if (o->so.strategy == SCHED_PCT)
			printf(",\"depth\":%d", o->so.depth);
		printf(",\"seed\":%llu,\"executions\":%lu,\"outcomes\":%zu,\"max_steps\":%lu,"
		       "\"exhausted\":%s,\"seconds\":%.3f,\"violation\":%s",
		       (unsigned long long)o->so.seed, n, outcomes.n, maxsteps, exhausted ? "true" : "false",
		       elapsed, violation ? "true" : "false");
		if (violation) {
			printf(",\"line\":%d", line);
			json_str("message", why);
			json_str("schedule", minimal);
			json_str("found_schedule", sched);
		}
		printf("}\n");
	} else {
		printf("gmf explore: %s%s%s%s%s%s: %s", f->path, vary ? " [" : "", vary ? f->vary_key : "",
		       vary ? "=" : "", vary ? vary : "", vary ? "]" : "", sched_strategy_names[o->so.strategy]);
		if (o->so.strategy == SCHED_DFS)
			printf(" bound %d", o->so.bound);
		if (o->so.strategy == SCHED_PCT)
			printf(" depth %d", o->so.depth);
		printf(", seed %llu\n", (unsigned long long)o->so.seed);
		printf("  %lu execution%s, %zu distinct outcome%s, at most %lu decision points, %.2f s%s\n",
		       n, n == 1 ? "" : "s", outcomes.n, outcomes.n == 1 ? "" : "s", maxsteps, elapsed,
		       violation ? ": stopped at the first violation" :
		       exhausted ? ": every schedule within the bound" : ": budget reached");
		if (!violation) {
			printf("  no violation\n");
		} else {
			printf("  VIOLATION at line %d: %s\n", line, why);
			printf("  schedule: %s%s%s (minimized in %lu replays from '%s')\n", *minimal ? "" : "\"",
			       minimal, *minimal ? "" : "\"", tries, sched);
			printf("  replay: gmf replay --schedule '%s' --seed %llu%s%s %s\n", minimal,
			       (unsigned long long)o->so.seed, vary ? " --vary " : "", vary ? vary : "", f->path);
			printf("  the trace of that schedule:\n");
			fflush(stdout);
		}
	}
	if (violation && !o->json) {
		struct sched_opts so = { .strategy = SCHED_REPLAY, .schedule = minimal, .seed = o->so.seed };
		struct explorer *rx = explorer_new(&so, f->nthreads, (const char *const *)f->threads, err,
						   sizeof(err));
		struct scn_result r;

		if (rx) {
			(void)explorer_next(rx);
			execute(f, vary, rx, o->so.seed, stdout, false, &r);
			printf("%s %s:%d: %s\n", r.passed ? "PASS" : "FAIL", f->path, r.failed_line,
			       r.passed ? "(the violation did not recur)" : r.failure);
			scn_result_free(&r);
			explorer_free(rx);
		}
	}
	if (violation)
		status = 1;
	kfree(sched);
	kfree(minimal);
	kfree(outcomes.v);
	explorer_free(x);
	fflush(stdout);
	return status;
}

int cmd_explore(int argc, char **argv)
{
	struct xopts o = { .so = { .strategy = SCHED_DFS, .bound = 2, .depth = 2, .seed = 1 } };
	struct scn_file *f;
	int ret = parse_args("explore", argc, argv, &o), status = 0;

	if (ret >= 0)
		return ret;
	f = load("explore", &o);
	if (!f)
		return 2;
	if (!f->vary_key) {
		status = explore_one(f, &o, NULL);
	} else {
		for (int i = 0; i < f->nvary && status != 2; i++) {
			int s;

			if (o.vary && strcmp(o.vary, f->vary_vals[i]))
				continue;
			s = explore_one(f, &o, f->vary_vals[i]);
			if (s > status)
				status = s;
		}
	}
	scn_file_free(f);
	return status;
}

int cmd_replay(int argc, char **argv)
{
	struct xopts o = { .so = { .strategy = SCHED_REPLAY, .seed = 1 } };
	struct scn_file *f;
	struct explorer *x;
	struct scn_result r;
	char err[256];
	int ret = parse_args("replay", argc, argv, &o), status;

	if (ret >= 0)
		return ret;
	f = load("replay", &o);
	if (!f)
		return 2;
	if (f->vary_key && !o.vary) {
		fprintf(stderr, "gmf replay: %s varies %s: pick one value with --vary VALUE\n", o.path,
			f->vary_key);
		scn_file_free(f);
		return 2;
	}
	x = explorer_new(&o.so, f->nthreads, (const char *const *)f->threads, err, sizeof(err));
	if (!x) {
		fprintf(stderr, "gmf replay: --schedule '%s': %s (threads:", o.so.schedule, err);
		for (int i = 0; i < f->nthreads; i++)
			fprintf(stderr, " %s", f->threads[i]);
		fprintf(stderr, ")\n");
		scn_file_free(f);
		return 2;
	}
	(void)explorer_next(x);
	execute(f, o.vary, x, o.so.seed, stdout, o.json, &r);
	if (r.sched_outcome == SCHED_BAD_SCHEDULE) {
		fprintf(stderr, "gmf replay: %s\n", r.failure);
		status = 2;
	} else {
		status = r.passed ? 0 : 1;
		if (!o.json)
			printf("%s %s (schedule '%s', %lu decision points)%s%s\n", r.passed ? "PASS" : "FAIL",
			       f->path, o.so.schedule, explorer_steps(x), r.passed ? "" : ": ",
			       r.passed ? "" : r.failure);
	}
	scn_result_free(&r);
	explorer_free(x);
	scn_file_free(f);
	return status;
}
