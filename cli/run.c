// SPDX-License-Identifier: MIT
/*
 * gmf run: run scenario files, print their traces in the kernel's words (or
 * JSON Lines) and a verdict per file; --summary prints one table row per
 * scenario with its outcome under each value of the switch it varies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "cli/cli.h"
#include "scn/scn.h"

#define MAX_VARY 16

static void run_usage(FILE *f)
{
	fprintf(f, "usage: gmf run [--json] [--quiet] [--summary] [--seed N] FILE...\n\n"
		"Runs scenario files (docs/scenario-language.md). Prints each line's events in\n"
		"the kernel's words and a verdict per file.\n\n"
		"  --json     events and verdicts as JSON Lines (docs/trace-format.md)\n"
		"  --quiet    verdicts only\n"
		"  --summary  a table: one row per scenario, its outcome per varied value\n"
		"  --seed N   the seed of the run (printed; the model is deterministic)\n\n"
		"Exit status: 0 every expectation held, 1 one did not, 2 usage or parse error.\n");
}

int cmd_run(int argc, char **argv)
{
	struct scn_run_opts opts = { .out = stdout };
	struct scn_file **files;
	const char **paths;
	int nfiles = 0, status = 0, total_pass = 0, total_fail = 0;
	bool summary = false;
	u64 seed = 1;

	paths = calloc((size_t)argc, sizeof(*paths));
	files = calloc((size_t)argc, sizeof(*files));
	if (!paths || !files) {
		fprintf(stderr, "gmf run: out of memory\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			opts.json = true;
		} else if (!strcmp(argv[i], "--quiet")) {
			opts.quiet = true;
		} else if (!strcmp(argv[i], "--summary")) {
			summary = true;
		} else if (!strcmp(argv[i], "--seed")) {
			char *end;

			if (i + 1 >= argc || (seed = strtoull(argv[i + 1], &end, 0), *end) || !argv[i + 1][0]) {
				fprintf(stderr, "gmf run: --seed needs a number\n");
				status = 2;
				goto out;
			}
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			run_usage(stdout);
			goto out;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "gmf run: unknown option '%s' (see gmf run --help)\n", argv[i]);
			status = 2;
			goto out;
		} else {
			paths[nfiles++] = argv[i];
		}
	}
	if (!nfiles) {
		run_usage(stderr);
		status = 2;
		goto out;
	}
	opts.seed = seed;
	if (summary)
		opts.quiet = true;
	/* Parse every file before running any. */
	for (int i = 0; i < nfiles; i++) {
		struct scn_error err;
		size_t len;
		char *text = cli_read_file(paths[i], CLI_SCENARIO_MAX, &len);

		if (!text) {
			fprintf(stderr, "gmf run: cannot read %s: %s\n", paths[i], strerror(errno));
			status = 2;
			continue;
		}
		if (scn_parse(paths[i], text, len, &files[i], &err)) {
			fprintf(stderr, "%s:%d:%d: error: %s\n", paths[i], err.line, err.col, err.msg);
			status = 2;
		}
		free(text);
	}
	if (status)
		goto out;
	if (!opts.json && !summary)
		printf("gmf run: seed %llu\n", (unsigned long long)seed);
	if (summary)
		printf("%-44s %-10s %-8s %s\n", "scenario", "policy", "verdict", "outcome");
	for (int i = 0; i < nfiles; i++) {
		struct scn_result res[MAX_VARY];
		int n = scn_run(files[i], &opts, res, MAX_VARY);

		if (n <= 0) {
			fprintf(stderr, "gmf run: %s: could not run\n", paths[i]);
			status = 2;
			continue;
		}
		for (int k = 0; k < n; k++) {
			struct scn_result *r = &res[k];

			if (r->passed)
				total_pass++;
			else
				total_fail++;
			if (!r->passed && status == 0)
				status = 1;
			if (summary) {
				const char *name = strrchr(paths[i], '/');

				printf("%-44s %-10s %-8s %s\n", name ? name + 1 : paths[i],
				       r->vary_val ? r->vary_val : "-", r->passed ? "pass" : "FAIL",
				       r->passed ? r->summary : r->failure);
			} else if (!opts.json) {
				if (r->passed)
					printf("PASS %s%s%s%s (%d expectations)\n", paths[i],
					       r->vary_val ? " [" : "", r->vary_val ? r->vary_val : "",
					       r->vary_val ? "]" : "", r->expectations);
				else
					printf("FAIL %s:%d%s%s%s: %s\n", paths[i], r->failed_line,
					       r->vary_val ? " [" : "", r->vary_val ? r->vary_val : "",
					       r->vary_val ? "]" : "", r->failure);
			}
			scn_result_free(r);
		}
	}
	if (!opts.json)
		printf("%d passed, %d failed\n", total_pass, total_fail);
out:
	for (int i = 0; i < nfiles; i++)
		scn_file_free(files[i]);
	free(files);
	free(paths);
	return status;
}
