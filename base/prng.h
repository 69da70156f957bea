/* SPDX-License-Identifier: MIT */
/*
 * The one seeded PRNG (xoshiro256**, seeded through splitmix64). State is
 * explicit: whoever needs randomness owns a struct prng seeded from the run's
 * printed seed, so the same seed gives the same run.
 */
#ifndef GMF_BASE_PRNG_H
#define GMF_BASE_PRNG_H

#include "base/types.h"

struct prng {
	u64 s[4];
	u64 seed;
};

void prng_seed(struct prng *r, u64 seed);
u64 prng_next(struct prng *r);
/* Uniform in [0, bound); bound > 0. */
u64 prng_below(struct prng *r, u64 bound);
/* A uniform double in [0, 1). */
double prng_unit(struct prng *r);

#endif
