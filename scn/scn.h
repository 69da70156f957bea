/* SPDX-License-Identifier: MIT */
/*
 * The scenario language: a file states a host, runs operations on it and
 * states what must happen. docs/scenario-language.md is the reference.
 *
 *   # comment
 *   host memory=8G nodes=2 hugepages-2M=16
 *   sysctl vm.memory_failure_early_kill=1
 *   process db
 *   mmap db m1 anon size=64K
 *   write m1+0x5000
 *   memory_failure at=m1+0x5000 => ret=0 type=MF_MSG_DIRTY_LRU result=MF_RECOVERED
 *   expect signal db SIGBUS code=BUS_MCEERR_AO addr=m1+0x5000 lsb=12
 *
 * A file is parsed and checked whole before anything runs: a file with an
 * error runs nothing. Then each line runs in order; after every line the
 * host's invariants are checked.
 */
#ifndef GMF_SCN_SCN_H
#define GMF_SCN_SCN_H

#include <stdio.h>

#include "base/trace.h"
#include "base/types.h"

struct scn_arg {
	char *key;		/* NULL for a positional argument */
	char *val;
	int col;		/* 1-based column of the argument */
	bool quoted;
};

struct scn_stmt {
	int line;
	int col;		/* of the verb */
	char *verb;
	struct scn_arg *args;
	int nargs;
	/* [key=v1,v2] guard: the line runs only when the varied switch has one of the values. */
	char *guard_key;
	char **guard_vals;
	int nguard;
	/* Expectations after "=>" on an operation line: one "expect" statement. */
	struct scn_stmt *inline_expect;
	const struct scn_verb *v;
	/* "LABEL: stmt" inside a concurrent block: the model thread, and its index. */
	char *thread;
	int thread_idx;
	int thread_col;
};

struct scn_file {
	char *path;
	struct scn_stmt *stmts;
	int n;
	/* "vary KEY=V1,V2,...": the file runs once per value. */
	char *vary_key;
	char **vary_vals;
	int nvary;
	int vary_line;
	/* The concurrent block (at most one): its threads in order of appearance. */
	int conc_line;			/* of "concurrent", 0 when none */
	char **threads;
	int nthreads;
	char **block_names;		/* names defined inside the block */
	int nblock_names;
};

/* A parse error: FILE:LINE:COL: message. */
struct scn_error {
	int line, col;
	char msg[256];
};

/* Parse @text (named @path in messages). 0, or -EINVAL with @err filled. */
int scn_parse(const char *path, const char *text, size_t len, struct scn_file **out,
	      struct scn_error *err);
void scn_file_free(struct scn_file *f);

struct explorer;

/* Threads of a concurrent block (sim/sched.h's SCHED_MAX_THREADS). */
#define SCN_MAX_THREADS	8

struct scn_run_opts {
	FILE *out;		/* trace and verdict output, or NULL */
	bool json;
	bool quiet;		/* only the verdict */
	u64 seed;
	u64 max_host_bytes;	/* refuse bigger hosts (fuzzing); 0: no limit */
	bool kho_image;		/* keep each run's KHO image in its result */
	/*
	 * Run the concurrent block under this explorer's schedule (sim/sched.h)
	 * instead of one thread after the other. The caller has prepared the
	 * execution (explorer_next()).
	 */
	struct explorer *explorer;
};

/* The outcome of one run of a file under one value of its varied switch. */
struct scn_result {
	char *vary_val;		/* NULL when the file varies nothing */
	bool passed;
	int expectations;	/* checked */
	int failed_line;	/* first failure, 0 if none */
	char failure[512];
	bool panicked;
	char summary[160];	/* a short description of what happened, for tables */
	/*
	 * With opts->kho_image: the KHO image (FDT blob) of the run, the frozen
	 * session's at the end or else the one the last kho_kexec handed over;
	 * NULL when there is none. The caller frees it with kfree().
	 */
	void *kho_blob;
	size_t kho_len;
	/* With opts->explorer: the execution's outcome (enum sched_outcome). */
	int sched_outcome;
	/* A digest of what happened, blind to the order of events: distinct outcomes. */
	u64 digest;
};

/*
 * Run @f once per varied value. Returns the number of runs stored in
 * @results (at most @max), or a negative errno.
 */
int scn_run(struct scn_file *f, const struct scn_run_opts *opts, struct scn_result *results,
	    int max);

/* Run @f once, under its varied switch's value @vary (NULL when it varies nothing). */
int scn_run_one(struct scn_file *f, const struct scn_run_opts *opts, const char *vary,
		struct scn_result *result);

#endif
