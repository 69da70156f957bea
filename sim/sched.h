/* SPDX-License-Identifier: MIT */
/*
 * The deterministic scheduler of the race explorer.
 *
 * An execution runs a few model threads (real pthreads, but only the one
 * holding the baton runs). Every operation of the sync layer (lock, unlock,
 * atomic, yield: base/sync.h) is a decision point: the scheduler picks which
 * enabled thread runs next. A thread that finds a lock held blocks until an
 * unlock of that object. The sequence of picks is the schedule; with the
 * model deterministic, the schedule alone reproduces the execution.
 *
 * Across executions an explorer walks the schedules by one strategy:
 *   dfs     every schedule with at most `bound` preemptions (a switch away
 *           from a thread that could have gone on), depth first, stateless
 *           (each execution replays a prefix, then runs without preempting);
 *   random  a uniformly random enabled thread at each point;
 *   pct     probabilistic concurrency testing: random thread priorities,
 *           `depth - 1` random points where the running thread's priority
 *           drops; always the highest-priority enabled thread;
 *   replay  one schedule string, then the default (run the current thread
 *           on; when it blocks or ends, the lowest-numbered enabled one).
 *
 * A schedule string lists only the deviations from that default, as
 * STEP:THREAD pairs ("7:mf,9:conv"): at decision point STEP, THREAD runs.
 * Threads are named by the caller's names (or numbers).
 *
 * At each decision point where no lock is held the caller's check runs (the
 * model's invariants); a failing check, a deadlock (every thread that has
 * not ended is blocked) or the caller's end-of-execution verdict is a
 * violation. A check failure or a deadlock stops the execution there: its
 * threads are parked for good (the explorer keeps what they use).
 */
#ifndef GMF_SIM_SCHED_H
#define GMF_SIM_SCHED_H

#include <stdbool.h>
#include <stddef.h>

#include "base/types.h"

#define SCHED_MAX_THREADS	8

enum sched_strategy {
	SCHED_DFS,
	SCHED_RANDOM,
	SCHED_PCT,
	SCHED_REPLAY,
};

extern const char *const sched_strategy_names[];

struct sched_opts {
	enum sched_strategy strategy;
	int bound;		/* dfs: preemption bound */
	int depth;		/* pct: bug depth (>= 1) */
	u64 seed;		/* random, pct */
	const char *schedule;	/* replay: the schedule string */
};

/* What the caller runs in an execution. */
struct sched_thread_ops {
	/* The body of model thread @tid. */
	void (*run)(void *arg, int tid);
	/* Thread @tid is about to run (restore its per-CPU state: current). */
	void (*switch_in)(void *arg, int tid);
	/* Thread @tid stops running for now (save it). */
	void (*switch_out)(void *arg, int tid);
	/*
	 * Optional: thread @to runs from decision point @step on, after @from
	 * (-1 at the start), which is at @what ("lock folio_lock", "blocked on
	 * invalidate_lock", "ended").
	 */
	void (*switched)(void *arg, unsigned long step, int from, int to, const char *what);
	/*
	 * Invariants, at every decision point: 0 or -1 with @why. @locked: a
	 * lock is held there (by any thread), so only what holds inside a
	 * critical section may be checked (a WARN that fired, say).
	 */
	int (*check)(void *arg, bool locked, char *why, size_t len);
	void *arg;
};

enum sched_outcome {
	SCHED_OK,		/* every thread ended, every check held */
	SCHED_CHECK_FAILED,	/* a check failed: sched_why() */
	SCHED_DEADLOCK,		/* every thread left is blocked: sched_why() */
	SCHED_BAD_SCHEDULE,	/* replay: the string names a thread that cannot run */
};

struct explorer;

/* @names: the threads' names, @n of them (<= SCHED_MAX_THREADS). NULL on a bad option (@why). */
struct explorer *explorer_new(const struct sched_opts *o, int n, const char *const *names,
			      char *why, size_t len);
void explorer_free(struct explorer *x);

/*
 * Prepare the next execution. False when the strategy has no more (dfs
 * exhausted, replay done once).
 */
bool explorer_next(struct explorer *x);

/*
 * Run the execution's threads to the end, or to the first violation. After
 * SCHED_DEADLOCK or SCHED_CHECK_FAILED the threads that had not ended stay
 * parked forever: the caller must not free what they use.
 */
enum sched_outcome explorer_run(struct explorer *x, const struct sched_thread_ops *ops);

/* The last execution left threads parked (their host must be kept). */
bool explorer_parked(const struct explorer *x);

/* Why the last execution violated, or "". */
const char *explorer_why(const struct explorer *x);

/* The last execution's schedule (its deviations from the default). */
const char *explorer_schedule(struct explorer *x);
/* Decision points of the last execution. */
unsigned long explorer_steps(const struct explorer *x);
unsigned long explorer_executions(const struct explorer *x);

/* Parse a schedule string against the names: 0 or -EINVAL with @why. */
int sched_parse(const char *s, int n, const char *const *names, char *why, size_t len);

#endif
