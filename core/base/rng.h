/*
 * rng.h - a small, seedable, fast pseudo-random generator.
 *
 * xoshiro256** seeded through splitmix64: the same seed gives the same
 * stream on every platform.  A struct rng is plain state owned by the
 * caller; functions are not thread-safe on one struct (give each thread or
 * each task its own, see rng_split).
 */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/* Seeds the generator; any seed, including 0, is fine. */
void rng_seed(struct rng *r, uint64_t seed);

/* Derives an independent child stream from r and a stream id (used to give
 * each task or thread its own generator deterministically).  Advances r. */
void rng_split(struct rng *r, uint64_t stream, struct rng *child);

/* 64 random bits. */
uint64_t rng_u64(struct rng *r);

/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Uniform integer in [lo, hi], lo <= hi. */
int rng_int(struct rng *r, int lo, int hi);

/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(struct rng *r);

/* Standard normal (Box-Muller on two fresh uniforms; no cached value, so the
 * stream position after each call is fixed). */
double rng_normal(struct rng *r);

/* Fills x[0..n) with mean + sd * N(0, 1). */
void rng_fill_normal(struct rng *r, float *x, long n, float mean, float sd);

/* Draws an index in [0, n) with probability p[i] / sum(p); p[i] >= 0 and
 * sum(p) > 0.  Non-finite or negative weights are a programming error. */
int rng_categorical(struct rng *r, const float *p, int n);

/* Writes a uniformly random permutation of 0..n-1 into perm (Fisher-Yates). */
void rng_permutation(struct rng *r, int *perm, int n);

#endif
