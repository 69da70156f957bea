/* SPDX-License-Identifier: MIT */
/* What every benchmark measures with: a clock, medians and ratios. */
#ifndef GMF_BENCH_BENCH_H
#define GMF_BENCH_BENCH_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/types.h"

#define BENCH_MAX_REPS	64

static inline u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @n (at most BENCH_MAX_REPS) figures; @v stays as it is. */
static inline double median(const double *v, int n)
{
	double s[BENCH_MAX_REPS];

	if (n < 1 || n > BENCH_MAX_REPS)
		abort();
	memcpy(s, v, sizeof(*v) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* @x over @base, 0 when there is no base (mallinfo2() reads 0 under a sanitizer). */
static inline double ratio(double x, double base)
{
	return base > 0 ? x / base : 0;
}

#endif
