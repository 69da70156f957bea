// SPDX-License-Identifier: MIT
/* Tests of base/: the allocator, the PRNG, the range map, the sync layer and the trace. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/prng.h"
#include "base/rangemap.h"
#include "base/sync.h"
#include "base/trace.h"
#include "tests/harness/t.h"

TEST(alloc_fail_nth_fails_exactly_once)
{
	void *a, *b, *c;

	kmalloc_fault_set(2, false);
	a = kmalloc(8, GFP_KERNEL);
	b = kmalloc(8, GFP_KERNEL);
	c = kmalloc(8, GFP_KERNEL);
	EXPECT_TRUE(a != NULL);
	EXPECT_TRUE(b == NULL);
	EXPECT_TRUE(c != NULL);
	EXPECT_EQ(kmalloc_failed(), 1);
	kfree(a);
	kfree(c);
}

TEST(alloc_fail_persist_keeps_failing_but_not_nofail)
{
	void *a, *b;

	kmalloc_fault_set(1, true);
	a = kmalloc(8, GFP_KERNEL);
	b = kmalloc(8, GFP_KERNEL);
	EXPECT_TRUE(a == NULL);
	EXPECT_TRUE(b == NULL);
	a = kmalloc(8, __GFP_NOFAIL);
	ASSERT_TRUE(a != NULL);
	kfree(a);
}

TEST(alloc_live_counts_objects)
{
	long before = kmalloc_live();
	void *a = kzalloc(16, GFP_KERNEL);

	ASSERT_EQ(kmalloc_live(), before + 1);
	ASSERT_EQ(((char *)a)[15], 0);
	kfree(a);
	ASSERT_EQ(kmalloc_live(), before);
}

TEST(prng_same_seed_same_sequence)
{
	struct prng a, b;

	prng_seed(&a, 42);
	prng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		ASSERT_EQ(prng_next(&a), prng_next(&b));
	prng_seed(&b, 43);
	ASSERT_NE(prng_next(&a), prng_next(&b));
}

TEST(prng_below_stays_in_bound)
{
	struct prng r;
	unsigned long hits[7] = { 0 };

	prng_seed(&r, t_seed());
	for (int i = 0; i < 7000; i++) {
		u64 x = prng_below(&r, 7);

		ASSERT_LT(x, 7);
		hits[x]++;
	}
	for (int i = 0; i < 7; i++)
		EXPECT_GT(hits[i], 700);
}

struct item {
	struct range_node node;
};

/*
 * Random inserts and erases against a bitmap of the key space: after every
 * step the map's lookups agree with the bitmap and the tree validates.
 */
TEST(rangemap_matches_reference)
{
	enum { KEYS = 512, ITEMS = 64 };
	struct item items[ITEMS];
	bool in[ITEMS] = { false };
	int owner[KEYS];
	struct rangemap m = RANGEMAP_INIT;
	struct prng r;

	prng_seed(&r, t_seed());
	for (int k = 0; k < KEYS; k++)
		owner[k] = -1;
	for (int step = 0; step < 5000; step++) {
		int i = (int)prng_below(&r, ITEMS);

		if (in[i]) {
			rangemap_erase(&m, &items[i].node);
			for (unsigned long k = items[i].node.start; k <= items[i].node.last; k++)
				owner[k] = -1;
			in[i] = false;
		} else {
			unsigned long s = prng_below(&r, KEYS), len = 1 + prng_below(&r, 8);
			unsigned long l = min(s + len - 1, (unsigned long)KEYS - 1);
			bool overlap = false;
			int ret;

			for (unsigned long k = s; k <= l; k++)
				overlap |= owner[k] >= 0;
			items[i].node.start = s;
			items[i].node.last = l;
			ret = rangemap_insert(&m, &items[i].node);
			ASSERT_EQ(ret, overlap ? -EEXIST : 0);
			if (!ret) {
				for (unsigned long k = s; k <= l; k++)
					owner[k] = i;
				in[i] = true;
			}
		}
		ASSERT_OK(rangemap_validate(&m));
		for (int k = 0; k < KEYS; k += 7) {
			struct range_node *n = rangemap_find(&m, (unsigned long)k);

			if (owner[k] < 0)
				ASSERT_TRUE(n == NULL);
			else
				ASSERT_TRUE(n == &items[owner[k]].node);
		}
	}
}

TEST(rangemap_iterates_in_order_within_bounds)
{
	struct item it[4];
	struct range_node *n, *tmp;
	struct rangemap m = RANGEMAP_INIT;
	unsigned long starts[4] = { 40, 10, 30, 20 }, seen[4];
	int nr = 0;

	for (int i = 0; i < 4; i++) {
		it[i].node.start = starts[i];
		it[i].node.last = starts[i] + 4;
		ASSERT_OK(rangemap_insert(&m, &it[i].node));
	}
	rangemap_for_each_in(&m, n, tmp, 12, 31)
		seen[nr++] = n->start;
	ASSERT_EQ(nr, 3);
	ASSERT_EQ(seen[0], 10);
	ASSERT_EQ(seen[1], 20);
	ASSERT_EQ(seen[2], 30);
	ASSERT_TRUE(rangemap_upper(&m, 9) == NULL);
	ASSERT_EQ(rangemap_lower(&m, 41)->start, 40);
	ASSERT_EQ(rangemap_lower(&m, 44)->last, 44);
	ASSERT_TRUE(rangemap_lower(&m, 45) == NULL);
}

TEST(sync_self_deadlock_is_a_finding)
{
	struct mutex m;

	mutex_init(&m, "test_lock");
	mutex_lock(&m);
	ASSERT_TRUE(mutex_is_locked(&m));
	mutex_lock(&m);
	ASSERT_EQ(sync_findings(), 1);
	mutex_unlock(&m);
	mutex_unlock(&m);
	ASSERT_EQ(sync_findings(), 2);
	sync_findings_reset();
}

static unsigned long points[SYNC_NR_OPS];

static void count_point(void *ctx, enum sync_op op, const void *obj, const char *name)
{
	points[op]++;
}

static unsigned long self_one(void *ctx)
{
	return 1;
}

TEST(sync_hooks_see_every_operation)
{
	const struct sync_hooks hooks = { .point = count_point, .self = self_one };
	const struct sync_hooks *old;
	struct rw_semaphore s;
	atomic_t a = ATOMIC_INIT(1);
	unsigned long word = 0;

	memset(points, 0, sizeof(points));
	init_rwsem(&s, "sem");
	old = sync_set_hooks(&hooks);
	down_write(&s);
	up_write(&s);
	down_read(&s);
	up_read(&s);
	EXPECT_TRUE(atomic_dec_and_test(&a));
	EXPECT_FALSE(test_and_set_bit(3, &word));
	EXPECT_TRUE(test_and_set_bit(3, &word));
	sync_yield("here");
	sync_set_hooks(old);
	EXPECT_EQ(points[SYNC_LOCK], 1);
	EXPECT_EQ(points[SYNC_LOCK_READ], 1);
	EXPECT_EQ(points[SYNC_UNLOCK], 2);
	EXPECT_EQ(points[SYNC_ATOMIC], 3);
	EXPECT_EQ(points[SYNC_YIELD], 1);
}

TEST(trace_json_escapes_and_carries_fields)
{
	struct trace t;
	struct trace_event e = {
		.kind = TRACE_SIGNAL, .has = TF_TASK | TF_SIGNAL | TF_CODE | TF_ADDR | TF_LSB,
		.pid = 7, .signal = 7, .code = 4, .addr = 0x7f0000001000ULL, .lsb = 21,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	strcpy(e.task, "vm\"1");
	trace_init(&t, true);
	t.line = 12;
	trace_emit(&t, &e);
	trace_print_json(f, &t.ev[0]);
	fclose(f);
	EXPECT_STREQ(buf, "{\"event\":\"signal\",\"seq\":1,\"line\":12,\"task\":\"vm\\\"1\",\"pid\":7,"
		     "\"signal\":\"SIGBUS\",\"code\":\"BUS_MCEERR_AR\",\"addr\":\"0x7f0000001000\","
		     "\"lsb\":21}\n");
	free(buf);
	trace_destroy(&t);
}

TEST(trace_log_strips_newline)
{
	struct trace t;

	trace_init(&t, true);
	trace_log(&t, LOGLEVEL_ERR, "Memory failure: %#lx: recovery action for %s: %s\n",
		  0x1234UL, "free buddy page", "Recovered");
	ASSERT_EQ(t.nr, 1);
	EXPECT_STREQ(t.ev[0].message, "Memory failure: 0x1234: recovery action for free buddy page: Recovered");
	trace_destroy(&t);
}

TEST(errno_names_round_trip)
{
	int e;

	EXPECT_STREQ(errno_name(-EHWPOISON), "EHWPOISON");
	ASSERT_OK(errno_parse("-EBUSY", &e));
	EXPECT_EQ(e, -EBUSY);
	EXPECT_EQ(errno_parse("ENOPE", &e), 1);
}

static const struct t_case cases[] = {
	T(alloc_fail_nth_fails_exactly_once),
	T(alloc_fail_persist_keeps_failing_but_not_nofail),
	T(alloc_live_counts_objects),
	T(prng_same_seed_same_sequence),
	T(prng_below_stays_in_bound),
	T(rangemap_matches_reference),
	T(rangemap_iterates_in_order_within_bounds),
	T(sync_self_deadlock_is_a_finding),
	T(sync_hooks_see_every_operation),
	T(trace_json_escapes_and_carries_fields),
	T(trace_log_strips_newline),
	T(errno_names_round_trip),
};

T_MAIN("base/test_base", cases)
