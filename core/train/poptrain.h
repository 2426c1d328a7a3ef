/*
 * poptrain.h - pieces the population trainers share.
 *
 * trainer.c (regression) and gentrain.c (generative / classification) train
 * a population of trajectories the same way: a warm-up-then-cosine
 * learning rate, trajectories visited in order of batch size, shard
 * gradients summed in a fixed order, and integers kept exactly in float
 * checkpoint tensors.  Those pieces live here once, so that both trainers
 * do the same float operations in the same order.
 *
 * Owns nothing and never allocates; every function works on the memory it
 * is handed.  Pure functions of their arguments: safe from any thread as
 * long as the buffers written are not shared.
 */
#ifndef POPTRAIN_H
#define POPTRAIN_H

#include <stddef.h>
#include <stdint.h>

/* Floats one 64-bit integer takes in a checkpoint tensor. */
#define POPTRAIN_U64_FLOATS 4

/* The learning rate of iteration it (0-based) of iters: a linear warm-up
 * lr (it + 1) / warmup over the first warmup iterations, then a cosine
 * from lr down to lr_min at it = iters,
 *     lr_min + 1/2 (lr - lr_min) (1 + cos(pi frac)),
 *     frac = min(1, (it - warmup) / (iters - warmup)).
 * With iters <= warmup there is no decay: lr after the warm-up. */
float poptrain_lr(float lr, float lr_min, int warmup, long iters, long it);

/* Writes v into f[0..3] as four 16-bit pieces, least significant first;
 * each piece is an integer below 2^16, exact in a float. */
void poptrain_put_u64(float *f, uint64_t v);

/* Reads back what poptrain_put_u64 wrote.  Returns 0 and sets *v, or -1
 * (leaving *v alone) if a piece is not an integer in [0, 65535] (NaN
 * included): a damaged checkpoint, never a silent wrong value. */
int poptrain_get_u64(const float *f, uint64_t *v);

/* Sets order[0..n) to the indices 0..n-1 sorted by ascending key, stable
 * (equal keys keep index order), so the result is deterministic.  Key i is
 * the int at byte offset i * stride from key: for an array of structs pass
 * &a[0].field and sizeof a[0].  Insertion sort: n is a population, small. */
void poptrain_order_by(int *order, const int *key, size_t stride, int n);

/* dp[0..n) = parts[0] + parts[1] + ... + parts[nparts - 1], added in that
 * order whatever the threads did, so the sum is bit-reproducible.  nparts
 * >= 1; dp must not overlap the parts. */
void poptrain_sum(float *dp, const float *const *parts, int nparts, size_t n);

#endif
