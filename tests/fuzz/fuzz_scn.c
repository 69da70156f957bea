// SPDX-License-Identifier: MIT
/*
 * Target functions: scn_parse(), scn_run().
 * Why: scenario files are untrusted text. No input may crash, leak or hang
 * the parser or the interpreter; a file that parses runs against a host
 * whose invariants are checked after every line.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "scn/scn.h"
#include "tests/fuzz/fuzz.h"

int fuzz_one(const u8 *data, size_t len)
{
	struct scn_run_opts opts = { .out = NULL, .quiet = true, .max_host_bytes = 1ULL << 40 };
	struct scn_result res[16];
	struct scn_file *f;
	struct scn_error err;
	long live = kmalloc_live();
	int n;

	if (scn_parse("fuzz", (const char *)data, len, &f, &err))
		goto check;
	n = scn_run(f, &opts, res, 16);
	for (int i = 0; i < n; i++)
		scn_result_free(&res[i]);
	scn_file_free(f);
check:
	if (kmalloc_live() != live) {
		fprintf(stderr, "fuzz_scn: %ld objects leaked\n", kmalloc_live() - live);
		abort();
	}
	return 0;
}
