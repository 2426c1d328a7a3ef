/*
 * gentrain.h - greedy meta-training of a generative amortizer (gen.h).
 *
 * The same scheme as the regression trainer (trainer.h): a population of
 * `pop` task trajectories in flight; every iteration advances each one by
 * one refinement pass from its detached state and takes the loss on the
 * state that pass returns, on `nq` fresh query rows of the trajectory's
 * task: the mean negative log-likelihood (mixtures; reported as the excess
 * over the true mixture's NLL on the same rows) or the mean flow-matching
 * loss (flows; trains the velocity network jointly).  A trajectory that
 * has taken ksteps steps restarts on a fresh task from the learned
 * initial state, which takes the same loss on the queries of every
 * trajectory that starts from it.  With step_weight, later steps' losses
 * weigh more (their updates are scaled down by the gain, so their losses
 * barely move under equal weights).  Trajectory i is fast-forwarded i mod
 * (ksteps * passes) passes at the start so every stage is present.
 *
 * Work is split in shards (chunks dealt round-robin); trainer threads may
 * run distinct shards at once, and gentrain_apply sums them in a fixed
 * order, so results do not depend on timing.  Deterministic for a seed.
 * Checkpoints resume bit-identically.  Owns everything it allocates;
 * borrows the task source's fonts.
 */
#ifndef GENTRAIN_H
#define GENTRAIN_H

#include <stdint.h>

#include "base/adam.h"
#include "family/gen.h"
#include "base/layout.h"

#define GENTRAIN_SHARDS_MAX 8

struct gentrain_config {
	struct gen_config gen;
	struct gen_tasks tasks;		/* fonts borrowed for LETTERS */
	int pop, chunk, nq;
	long iters;
	float lr, lr_min;
	int warmup;
	float clip, weight_decay;
	float full_batch;		/* probability a batch has bmax rows */
	int task_batch;			/* 0: every mini-batch draws its size;
					 * 1: a task's first one does and the
					 * rest of its stream keeps it, as a
					 * client streaming fixed-size
					 * mini-batches does */
	int step_weight;		/* 0: every state's loss weighs the
					 * same (greedy, the paper's); 1: the
					 * state after step t (1-based) weighs
					 * t, scaled to a mean of 1 over the
					 * population */
	uint64_t seed;
	int shards;
};

struct gentrain;

void gentrain_config_default(struct gentrain_config *c, enum gen_kind kind);
int gentrain_config_check(const struct gentrain_config *c, char *err, size_t errlen);

struct gentrain *gentrain_new(const struct gentrain_config *c, char *err,
			      size_t errlen);
void gentrain_free(struct gentrain *t);

/* Shard s's part of the current iteration's gradient. */
void gentrain_shard(struct gentrain *t, int s);

/* Sums the shards, takes an AdamW step, advances the population.  AM_OK or
 * AM_ENUMERIC (parameters unchanged).  *loss: the iteration's mean loss. */
int gentrain_apply(struct gentrain *t, double *loss);

long gentrain_iteration(const struct gentrain *t);

/* Trajectory i's (0 <= i < pop) next mini-batch size and the steps its
 * task has taken: what its next iteration streams (tests, diagnostics). */
void gentrain_traj(const struct gentrain *t, int i, int *B, int *step);
const struct gen *gentrain_model(const struct gentrain *t);
const struct layout *gentrain_layout(const struct gentrain *t);
const float *gentrain_params(const struct gentrain *t);

int gentrain_save_checkpoint(const struct gentrain *t, const char *path,
			     const char *header, char *err, size_t errlen);
int gentrain_load_checkpoint(struct gentrain *t, const char *path, char *err,
			     size_t errlen);

#endif
