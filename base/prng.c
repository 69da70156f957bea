// SPDX-License-Identifier: MIT
/* xoshiro256** by Blackman and Vigna, seeded with splitmix64 (public domain algorithms). */
#include "base/prng.h"

static u64 splitmix64(u64 *x)
{
	u64 z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline u64 rotl(u64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void prng_seed(struct prng *r, u64 seed)
{
	u64 x = seed;

	r->seed = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

u64 prng_next(struct prng *r)
{
	u64 *s = r->s;
	u64 result = rotl(s[1] * 5, 7) * 9;
	u64 t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

u64 prng_below(struct prng *r, u64 bound)
{
	/* Lemire's nearly-divisionless method would be faster; rejection keeps it exact. */
	u64 limit = -bound % bound;
	u64 x;

	do
		x = prng_next(r);
	while (x < limit);
	return x % bound;
}

double prng_unit(struct prng *r)
{
	return (double)(prng_next(r) >> 11) * 0x1.0p-53;
}
