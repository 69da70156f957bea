// SPDX-License-Identifier: MIT
/*
 * The race explorer's scheduler on toy threads: a lost update that only
 * some schedules show, the count of schedules at a bound, deadlocks and
 * check failures, schedule strings, replay, and the random strategies'
 * reproducibility.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/sync.h"
#include "sim/sched.h"
#include "tests/harness/t.h"

static const char *const names2[] = { "a", "b" };

/* Two threads each add one through a load and a store: a racy increment. */
static atomic_t counter;

static void racy_inc(void *arg, int tid)
{
	int v;

	(void)arg;
	(void)tid;
	v = atomic_read(&counter);
	atomic_set(&counter, v + 1);
}

static const struct sched_thread_ops racy_ops = { .run = racy_inc };

/* Explore until the counter ends below 2; the schedule that did it, or NULL. */
static char *find_lost_update(struct explorer *x, unsigned long *execs)
{
	*execs = 0;
	while (explorer_next(x)) {
		atomic_set(&counter, 0);
		if (explorer_run(x, &racy_ops) != SCHED_OK)
			return NULL;
		(*execs)++;
		if (counter.counter != 2)
			return strdup(explorer_schedule(x));
	}
	return NULL;
}

TEST(dfs_finds_the_lost_update_and_replay_reproduces_it)
{
	struct sched_opts o = { .strategy = SCHED_DFS, .bound = 1 };
	struct sched_opts r = { .strategy = SCHED_REPLAY };
	char why[128];
	struct explorer *x = explorer_new(&o, 2, names2, why, sizeof(why));
	unsigned long execs;
	char *s;

	ASSERT_NOT_NULL(x);
	s = find_lost_update(x, &execs);
	ASSERT_NOT_NULL(s);
	EXPECT_GT(execs, 1);		/* the default schedule does not lose it */
	EXPECT_GT(strlen(s), 0);
	explorer_free(x);

	r.schedule = s;
	x = explorer_new(&r, 2, names2, why, sizeof(why));
	ASSERT_NOT_NULL(x);
	ASSERT_TRUE(explorer_next(x));
	atomic_set(&counter, 0);
	EXPECT_EQ(explorer_run(x, &racy_ops), SCHED_OK);
	EXPECT_EQ(counter.counter, 1);
	EXPECT_STREQ(explorer_schedule(x), s);
	EXPECT_FALSE(explorer_next(x));	/* a replay is one execution */
	explorer_free(x);
	free(s);
}

TEST(bound_zero_never_loses_and_exhausts)
{
	struct sched_opts o = { .strategy = SCHED_DFS, .bound = 0 };
	char why[128];
	struct explorer *x = explorer_new(&o, 2, names2, why, sizeof(why));
	unsigned long execs;

	ASSERT_NOT_NULL(x);
	/* Without preemptions one thread runs whole, then the other: a first choice of two. */
	EXPECT_TRUE(find_lost_update(x, &execs) == NULL);
	EXPECT_EQ(execs, 2);
	EXPECT_EQ(explorer_executions(x), 2);
	explorer_free(x);
}

TEST(bound_two_explores_more_than_bound_one)
{
	unsigned long n[3];

	for (int b = 0; b <= 2; b++) {
		struct sched_opts o = { .strategy = SCHED_DFS, .bound = b };
		char why[128];
		struct explorer *x = explorer_new(&o, 2, names2, why, sizeof(why));

		ASSERT_NOT_NULL(x);
		n[b] = 0;
		while (explorer_next(x)) {
			atomic_set(&counter, 0);
			ASSERT_EQ(explorer_run(x, &racy_ops), SCHED_OK);
			n[b]++;
		}
		explorer_free(x);
	}
	EXPECT_LT(n[0], n[1]);
	EXPECT_LT(n[1], n[2]);
}

/* ABBA on two mutexes. */
static struct mutex m1, m2;

static void abba(void *arg, int tid)
{
	struct mutex *first = tid ? &m2 : &m1, *second = tid ? &m1 : &m2;

	(void)arg;
	mutex_lock(first);
	mutex_lock(second);
	mutex_unlock(second);
	mutex_unlock(first);
}

TEST(deadlock_is_found_and_named)
{
	static const struct sched_thread_ops ops = { .run = abba };
	struct sched_opts o = { .strategy = SCHED_DFS, .bound = 1 };
	char why[128];
	struct explorer *x = explorer_new(&o, 2, names2, why, sizeof(why));
	enum sched_outcome out = SCHED_OK;

	ASSERT_NOT_NULL(x);
	mutex_init(&m1, "m1");
	mutex_init(&m2, "m2");
	while (out == SCHED_OK && explorer_next(x))
		out = explorer_run(x, &ops);
	ASSERT_EQ(out, SCHED_DEADLOCK);
	EXPECT_TRUE(strstr(explorer_why(x), "a waits for m2") != NULL);
	EXPECT_TRUE(strstr(explorer_why(x), "b waits for m1") != NULL);
	/* The threads stay parked on it: the explorer is kept, not freed. */
	explorer_free(x);
}

static int fail_check(void *arg, bool locked, char *why, size_t len)
{
	(void)arg;
	if (locked || counter.counter < 1)
		return 0;
	snprintf(why, len, "counter reached %d", counter.counter);
	return -1;
}

TEST(a_failing_check_stops_the_execution_where_it_is)
{
	static const struct sched_thread_ops ops = { .run = racy_inc, .check = fail_check };
	struct sched_opts o = { .strategy = SCHED_DFS, .bound = 0 };
	char why[128];
	struct explorer *x = explorer_new(&o, 2, names2, why, sizeof(why));

	ASSERT_NOT_NULL(x);
	ASSERT_TRUE(explorer_next(x));
	atomic_set(&counter, 0);
	EXPECT_EQ(explorer_run(x, &ops), SCHED_CHECK_FAILED);
	EXPECT_TRUE(strstr(explorer_why(x), "counter reached 1") != NULL);
	EXPECT_EQ(counter.counter, 1);	/* the second thread never ran its store */
	explorer_free(x);
}

TEST(schedule_strings_are_checked)
{
	char why[128];

	EXPECT_OK(sched_parse("", 2, names2, why, sizeof(why)));
	EXPECT_OK(sched_parse("1:a,4:b", 2, names2, why, sizeof(why)));
	EXPECT_OK(sched_parse("2:1", 2, names2, why, sizeof(why)));
	EXPECT_ERR(sched_parse("7", 2, names2, why, sizeof(why)), -EINVAL);
	EXPECT_TRUE(strstr(why, "expected STEP:THREAD") != NULL);
	EXPECT_ERR(sched_parse("1:c", 2, names2, why, sizeof(why)), -EINVAL);
	EXPECT_TRUE(strstr(why, "no thread 'c'") != NULL);
	EXPECT_ERR(sched_parse("3:a,2:b", 2, names2, why, sizeof(why)), -EINVAL);
	EXPECT_TRUE(strstr(why, "steps must increase") != NULL);
	EXPECT_ERR(sched_parse("1:a,", 2, names2, why, sizeof(why)), -EINVAL);
	EXPECT_ERR(sched_parse(":a", 2, names2, why, sizeof(why)), -EINVAL);
	EXPECT_ERR(sched_parse("1:2", 2, names2, why, sizeof(why)), -EINVAL);
}

TEST(replay_refuses_a_step_past_the_end)
{
	struct sched_opts r = { .strategy = SCHED_REPLAY, .schedule = "99:b" };
	char why[128];
	struct explorer *x = explorer_new(&r, 2, names2, why, sizeof(why));

	ASSERT_NOT_NULL(x);
	ASSERT_TRUE(explorer_next(x));
	atomic_set(&counter, 0);
	EXPECT_EQ(explorer_run(x, &racy_ops), SCHED_BAD_SCHEDULE);
	EXPECT_TRUE(strstr(explorer_why(x), "step 99 is past the end") != NULL);
	explorer_free(x);
}

TEST(bad_options_are_refused)
{
	struct sched_opts o = { .strategy = SCHED_DFS, .bound = 65 };
	char why[128];

	EXPECT_TRUE(explorer_new(&o, 2, names2, why, sizeof(why)) == NULL);
	EXPECT_TRUE(strstr(why, "bound 65") != NULL);
	o = (struct sched_opts){ .strategy = SCHED_PCT, .depth = 0 };
	EXPECT_TRUE(explorer_new(&o, 2, names2, why, sizeof(why)) == NULL);
	o = (struct sched_opts){ .strategy = SCHED_DFS };
	EXPECT_TRUE(explorer_new(&o, SCHED_MAX_THREADS + 1, NULL, why, sizeof(why)) == NULL);
}

/* The schedules of @n executions of a strategy, joined. */
static void run_strategy(enum sched_strategy s, u64 seed, char *out, size_t len)
{
	struct sched_opts o = { .strategy = s, .seed = seed, .depth = 2 };
	char why[128];
	struct explorer *x = explorer_new(&o, 2, names2, why, sizeof(why));

	out[0] = 0;
	for (int i = 0; x && i < 20 && explorer_next(x); i++) {
		atomic_set(&counter, 0);
		if (explorer_run(x, &racy_ops) != SCHED_OK)
			break;
		snprintf(out + strlen(out), len - strlen(out), "%s|", explorer_schedule(x));
	}
	explorer_free(x);
}

TEST(random_and_pct_are_reproducible_from_the_seed)
{
	enum sched_strategy ss[] = { SCHED_RANDOM, SCHED_PCT };

	for (int i = 0; i < 2; i++) {
		char a[2048], b[2048], c[2048];

		run_strategy(ss[i], 7, a, sizeof(a));
		run_strategy(ss[i], 7, b, sizeof(b));
		run_strategy(ss[i], 8, c, sizeof(c));
		EXPECT_STREQ(a, b);
		EXPECT_GT(strlen(a), 20);	/* twenty executions, some with deviations */
		EXPECT_TRUE(strcmp(a, c) != 0);
	}
}

static const struct t_case cases[] = {
	T(dfs_finds_the_lost_update_and_replay_reproduces_it),
	T(bound_zero_never_loses_and_exhausts),
	T(bound_two_explores_more_than_bound_one),
	T(deadlock_is_found_and_named),
	T(a_failing_check_stops_the_execution_where_it_is),
	T(schedule_strings_are_checked),
	T(replay_refuses_a_step_past_the_end),
	T(bad_options_are_refused),
	T(random_and_pct_are_reproducible_from_the_seed),
};

T_MAIN("sim/test_sched", cases)
