/*
 * rng.c - xoshiro256** (Blackman and Vigna) seeded through splitmix64.
 */
#include "base/rng.h"

#include <math.h>

#include "base/am.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

void rng_split(struct rng *r, uint64_t stream, struct rng *child)
{
	/* Mix the stream id into a fresh draw so children of one parent and of
	 * different ids do not overlap in practice. */
	rng_seed(child, rng_u64(r) ^ (stream * 0xd1342543de82ef95ULL));
}

uint64_t rng_u64(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	/* Reject the top sliver of the range that would bias the modulo. */
	uint64_t lim, x;

	AM_ASSERT(n >= 1);
	lim = UINT64_MAX - UINT64_MAX % n;
	do
		x = rng_u64(r);
	while (x >= lim);
	return x % n;
}

int rng_int(struct rng *r, int lo, int hi)
{
	AM_ASSERT(lo <= hi);
	return lo + (int)rng_below(r, (uint64_t)((int64_t)hi - lo + 1));
}

double rng_uniform(struct rng *r)
{
	return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

double rng_normal(struct rng *r)
{
	/* Box-Muller; 1 - u lies in (0, 1], so the log is finite. */
	double u = 1.0 - rng_uniform(r);
	double v = rng_uniform(r);

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

void rng_fill_normal(struct rng *r, float *x, long n, float mean, float sd)
{
	long i;

	for (i = 0; i < n; i++)
		x[i] = mean + sd * (float)rng_normal(r);
}

int rng_categorical(struct rng *r, const float *p, int n)
{
	double total = 0.0, u, acc = 0.0;
	int i, last = -1;

	AM_ASSERT(n >= 1);
	for (i = 0; i < n; i++) {
		AM_ASSERT(isfinite(p[i]) && p[i] >= 0.0f);
		total += p[i];
	}
	AM_ASSERT(total > 0.0);
	u = rng_uniform(r) * total;
	for (i = 0; i < n; i++) {
		if (p[i] <= 0.0f)
			continue;
		last = i;
		acc += p[i];
		if (u < acc)
			return i;
	}
	return last;	/* rounding left u just past the last bin */
}

void rng_permutation(struct rng *r, int *perm, int n)
{
	int i;

	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0; i--) {
		int j = (int)rng_below(r, (uint64_t)i + 1);
		int t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
}
