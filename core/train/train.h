/*
 * train.h - greedy, population-based meta-training of any family
 * (family/family.h).
 *
 * A population of `pop` task trajectories is in flight.  Each training
 * iteration advances every trajectory by one refinement pass: the family's
 * refiner reads the trajectory's state (detached: no backpropagation
 * through time) and its current mini-batch, and the family's loss is
 * taken on the state the pass returns (with step_weight, later steps'
 * states weigh more).  A trajectory that has taken ksteps steps (of
 * `passes` passes each) restarts on a fresh task from the learned initial
 * state, whose own loss the family takes where it says (start_loss,
 * init_loss).  At the start, trajectory i is fast-forwarded
 * i mod (ksteps * passes) passes with the untrained refiner so that every
 * stage of a trajectory is present in every iteration.  The optimizer is
 * AdamW with a warm-up-then-cosine learning rate (train_lr) and weight
 * decay on matrices only.
 *
 * The work of one iteration is split into shards (chunks of trajectories
 * of similar batch size, dealt round-robin) that may run on different
 * threads: train_shard(t, s) touches only shard s's workspace and
 * gradient, and train_apply sums the shards in a fixed order, so the
 * result does not depend on thread timing.  Deterministic for a seed;
 * checkpoints resume bit-identically.
 *
 * Owns its population, workspaces, gradients and optimizer state; borrows
 * the family table and whatever the family's configuration borrows (fonts,
 * images).  Never prints; a trainer is used from one thread except for
 * train_shard on distinct shards.
 */
#ifndef TRAIN_H
#define TRAIN_H

#include <stddef.h>

#include "base/layout.h"
#include "family/family.h"

#define TRAIN_SHARDS_MAX FAMILY_SHARDS_MAX

struct train;

/*
 * Creates a trainer for family f from its training configuration cfg (the
 * family's type: struct trainer_config for fam_linreg, struct
 * gentrain_config for fam_gen), with freshly initialised parameters (from
 * the seed) and a fast-forwarded population.  Returns a new trainer that
 * the caller frees with train_free, or NULL on a bad configuration, a
 * diverging initial refiner or when out of memory (err says which).
 */
struct train *train_new(const struct family_ops *f, const void *cfg,
			char *err, size_t errlen);

/* Frees everything; NULL-safe. */
void train_free(struct train *t);

/* Computes shard s's part of the current iteration's gradient.  Distinct
 * shards may run on distinct threads at once. */
void train_shard(struct train *t, int s);

/*
 * Finishes the iteration after every shard has run: sums the shard
 * gradients in order, adds the initial state's if the family takes it
 * here, takes an AdamW step and advances the population.  Returns AM_OK
 * or AM_ENUMERIC if the loss or a gradient became non-finite (the
 * parameters are then left as before the step).  *loss (may be NULL)
 * receives the iteration's mean loss over the population.
 */
int train_apply(struct train *t, double *loss);

/* Iterations done so far. */
long train_iteration(const struct train *t);

/* Trajectory i's (0 <= i < pop) next mini-batch size and the steps its
 * task has taken: what its next iteration streams (tests, diagnostics). */
void train_traj(const struct train *t, int i, int *B, int *step);

/* The family's model object (borrowed; a struct fam_linreg_model or
 * struct fam_gen_model), the parameter layout and the parameters
 * (borrowed, valid until the next train_apply or train_free). */
const void *train_model(const struct train *t);
const struct layout *train_layout(const struct train *t);
const float *train_params(const struct train *t);

/*
 * Saves everything needed to resume bit-identically (parameters, optimizer
 * moments, population, generators, counters) as a model file at path with
 * the given header text, atomically.  Returns AM_OK or an am_status with a
 * message in err (may be NULL).
 */
int train_save_checkpoint(const struct train *t, const char *path,
			  const char *header, char *err, size_t errlen);

/* Restores a checkpoint written by train_save_checkpoint for the same
 * family and configuration into t.  Returns AM_OK, or an am_status with a
 * message in err and t unchanged. */
int train_load_checkpoint(struct train *t, const char *path, char *err,
			  size_t errlen);

/* ---- the trainer's pure pieces (exported for their tests) ---------------- */

/* The learning rate of iteration it (0-based) of iters: a linear warm-up
 * lr (it + 1) / warmup over the first warmup iterations, then a cosine
 * from lr down to lr_min at it = iters,
 *     lr_min + 1/2 (lr - lr_min) (1 + cos(pi frac)),
 *     frac = min(1, (it - warmup) / (iters - warmup)).
 * With iters <= warmup there is no decay: lr after the warm-up. */
float train_lr(float lr, float lr_min, int warmup, long iters, long it);

/* Sets order[0..n) to the indices 0..n-1 sorted by ascending key, stable
 * (equal keys keep index order), so the result is deterministic.  Key i is
 * the int at byte offset i * stride from key: for an array of structs pass
 * &a[0].field and sizeof a[0].  Insertion sort: n is a population, small. */
void train_order_by(int *order, const int *key, size_t stride, int n);

/* dp[0..n) = parts[0] + parts[1] + ... + parts[nparts - 1], added in that
 * order whatever the threads did, so the sum is bit-reproducible.  nparts
 * >= 1; dp must not overlap the parts. */
void train_sum(float *dp, const float *const *parts, int nparts, size_t n);

#endif
