/*
 * trainer.h - greedy meta-training of the parametric regression refiner.
 *
 * A population of `pop` task trajectories is in flight.  Each training
 * iteration advances every trajectory by one refinement pass: the refiner
 * reads the trajectory's state (detached: no backpropagation through time)
 * and its current mini-batch, and the loss is taken on the state it
 * returns.  A trajectory that has taken ksteps steps (of `passes` passes
 * each) is replaced by a fresh task whose state is the learned initial
 * state.  At the start, trajectory i is fast-forwarded i mod (ksteps *
 * passes) passes with the untrained refiner so that every stage of a
 * trajectory is present in every iteration.
 *
 * The loss of a trajectory is the exact expected squared error of the
 * refined parameters on a fresh row of its task (linreg_task_mse: no query
 * sampling noise), taken in logarithm so that every task counts by its
 * relative error whatever its noise level, plus a Gaussian likelihood term
 * that trains the predictive log-variance:
 *     loss = log mse(theta') + 1/2 (logvar' + mse(theta') exp(-logvar'))
 * with mse treated as a constant in the second term.  The learned initial
 * state takes the same loss on every trajectory's task.
 *
 * The work of one iteration is split into shards (chunks of trajectories
 * of similar batch size, dealt round-robin) that may run on different
 * threads: trainer_shard(t, s) touches only shard s's workspace and
 * gradient, and trainer_apply sums the shards in a fixed order, so the
 * result does not depend on thread timing.  Deterministic for a seed.
 * Owns its population, workspaces, gradients and optimizer state.
 */
#ifndef TRAINER_H
#define TRAINER_H

#include <stdint.h>

#include "base/adam.h"
#include "base/layout.h"
#include "tasks/linreg.h"
#include "refine/refiner.h"

#define TRAINER_SHARDS_MAX 8

struct trainer_config {
	struct refiner_config ref;
	struct linreg_family fam;
	int pop;			/* trajectories in flight */
	int chunk;			/* trajectories per forward/backward */
	long iters;			/* iterations in all */
	float lr, lr_min;		/* peak and final learning rate */
	int warmup;			/* iterations of linear warm-up */
	float clip;			/* global gradient-norm clip */
	float weight_decay;
	float full_batch;		/* probability a batch has bmax rows;
					 * otherwise its size is uniform in
					 * [1, bmax] */
	uint64_t seed;
	int shards;			/* 1..TRAINER_SHARDS_MAX */
};

struct trainer;

/* Fills the defaults of the issue-3 recipe (width 64, 4 layers, 4 heads,
 * batch 32, K 16, both inputs, 2 passes, population 128). */
void trainer_config_default(struct trainer_config *c);

/* Checks a configuration; AM_OK or AM_EINVAL with a message in err. */
int trainer_config_check(const struct trainer_config *c, char *err, size_t errlen);

/*
 * Creates a trainer with freshly initialised parameters (from c->seed) and
 * a fast-forwarded population.  Returns NULL on a bad configuration or when
 * out of memory (err says which).
 */
struct trainer *trainer_new(const struct trainer_config *c, char *err, size_t errlen);

/* Frees everything; NULL-safe. */
void trainer_free(struct trainer *t);

/* Computes shard s's part of the current iteration's gradient. */
void trainer_shard(struct trainer *t, int s);

/*
 * Finishes the iteration after every shard has run: sums the shard
 * gradients, adds the initial state's, takes an AdamW step and advances
 * the population.  Returns AM_OK or AM_ENUMERIC if the loss or a state
 * became non-finite (the parameters are then left as before the step).
 * *loss receives the iteration's mean log(mse / noise^2) over the
 * population (0 would be the noise floor).
 */
int trainer_apply(struct trainer *t, double *loss);

/* Iterations done so far. */
long trainer_iteration(const struct trainer *t);

/* The refiner, its parameter layout and its parameters (borrowed). */
const struct refiner *trainer_refiner(const struct trainer *t);
const struct layout *trainer_layout(const struct trainer *t);
const float *trainer_params(const struct trainer *t);

/*
 * Saves everything needed to resume bit-identically (parameters, optimizer
 * moments, population, generators, counters) as a model file at path with
 * the given header text, atomically.  Returns AM_OK or an am_status with a
 * message in err.
 */
int trainer_save_checkpoint(const struct trainer *t, const char *path,
			    const char *header, char *err, size_t errlen);

/* Restores a checkpoint written by trainer_save_checkpoint for the same
 * configuration into t (made by trainer_new with that configuration).
 * Returns AM_OK, or an am_status with a message in err and t unchanged. */
int trainer_load_checkpoint(struct trainer *t, const char *path, char *err,
			    size_t errlen);

#endif
