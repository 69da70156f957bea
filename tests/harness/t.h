/* SPDX-License-Identifier: MIT */
/*
 * The unit-test harness: TEST() functions listed explicitly in a suite's
 * table, TAP output, assertions that print both values and file:line:func,
 * and a leak check of the instrumented allocator after every test.
 *
 *   ASSERT_*  stop the test on failure;  EXPECT_*  record it and go on.
 *   T_SKIP("why") skips the running test.
 *
 * A suite's main() is T_MAIN("t-mm", cases). Exit status: 0 all passed,
 * 1 something failed, 77 everything skipped.
 */
#ifndef GMF_TESTS_T_H
#define GMF_TESTS_T_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "base/err.h"

struct t_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(name) static void test_##name(void)
#define T(name) { #name, test_##name }

int t_main(const char *suite, const struct t_case *cases, size_t n, int argc, char **argv);
#define T_MAIN(suite, cases) \
	int main(int argc, char **argv) { return t_main(suite, cases, ARRAY_SIZE(cases), argc, argv); }

/* The seed of this run (printed first; -s SEED sets it). */
unsigned long long t_seed(void);

void t_fail(const char *file, int line, const char *func, bool fatal, const char *fmt, ...)
	__printf(5, 6);
void t_skip(const char *why) __noreturn;
#define T_SKIP(why) t_skip(why)

#define __T_INT(fatal, a, op, b) do {							\
	long long __a = (long long)(a), __b = (long long)(b);				\
	if (!(__a op __b))								\
		t_fail(__FILE__, __LINE__, __func__, fatal,				\
		       "%s %s %s: %lld (%#llx) vs %lld (%#llx)", #a, #op, #b,		\
		       __a, (unsigned long long)__a, __b, (unsigned long long)__b);	\
} while (0)

#define ASSERT_EQ(a, b) __T_INT(true, a, ==, b)
#define ASSERT_NE(a, b) __T_INT(true, a, !=, b)
#define ASSERT_LT(a, b) __T_INT(true, a, <, b)
#define ASSERT_LE(a, b) __T_INT(true, a, <=, b)
#define ASSERT_GT(a, b) __T_INT(true, a, >, b)
#define ASSERT_GE(a, b) __T_INT(true, a, >=, b)
#define EXPECT_EQ(a, b) __T_INT(false, a, ==, b)
#define EXPECT_NE(a, b) __T_INT(false, a, !=, b)
#define EXPECT_LT(a, b) __T_INT(false, a, <, b)
#define EXPECT_LE(a, b) __T_INT(false, a, <=, b)
#define EXPECT_GT(a, b) __T_INT(false, a, >, b)
#define EXPECT_GE(a, b) __T_INT(false, a, >=, b)

#define __T_BOOL(fatal, c, want) do {							\
	bool __c = (c);									\
	if (__c != (want))								\
		t_fail(__FILE__, __LINE__, __func__, fatal, "%s is %s", #c,		\
		       __c ? "true" : "false");						\
} while (0)

#define ASSERT_TRUE(c) __T_BOOL(true, c, true)
#define ASSERT_FALSE(c) __T_BOOL(true, c, false)
#define EXPECT_TRUE(c) __T_BOOL(false, c, true)
#define EXPECT_FALSE(c) __T_BOOL(false, c, false)

/* An action's return value: 0 or an exact -errno, printed by name. */
#define __T_ERR(fatal, call, want) do {							\
	long __r = (long)(call), __w = (long)(want);					\
	if (__r != __w)									\
		t_fail(__FILE__, __LINE__, __func__, fatal, "%s: %s%s vs %s%s",		\
		       #call, __r < 0 ? "-" : "", __r ? errno_name((int)__r) : "0",	\
		       __w < 0 ? "-" : "", __w ? errno_name((int)__w) : "0");		\
} while (0)

#define ASSERT_OK(call) __T_ERR(true, call, 0)
#define EXPECT_OK(call) __T_ERR(false, call, 0)
#define ASSERT_ERR(call, want) __T_ERR(true, call, want)
#define EXPECT_ERR(call, want) __T_ERR(false, call, want)

#define __T_STR(fatal, a, b) do {							\
	const char *__a = (a), *__b = (b);						\
	if (!__a || !__b || strcmp(__a, __b))						\
		t_fail(__FILE__, __LINE__, __func__, fatal, "%s == %s: \"%s\" vs \"%s\"",\
		       #a, #b, __a ? __a : "(null)", __b ? __b : "(null)");		\
} while (0)

#define ASSERT_STREQ(a, b) __T_STR(true, a, b)
#define EXPECT_STREQ(a, b) __T_STR(false, a, b)

#define ASSERT_NOT_NULL(p) do {								\
	if (IS_ERR_OR_NULL(p))								\
		t_fail(__FILE__, __LINE__, __func__, true, "%s is %s", #p,		\
		       (p) ? errno_name((int)PTR_ERR(p)) : "NULL");			\
} while (0)

#endif
