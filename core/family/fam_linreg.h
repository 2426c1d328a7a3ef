/*
 * fam_linreg.h - the linear-regression family: the parametric refiner
 * (refine/refiner.h) on random linear-regression tasks (tasks/linreg.h).
 *
 * Its training loss is the exact expected squared error of the refined
 * parameters on a fresh row of the trajectory's task (linreg_task_mse: no
 * query sampling noise), taken in logarithm so that every task counts by
 * its relative error whatever its noise level, plus a Gaussian likelihood
 * term that trains the predictive log-variance:
 *     loss = log mse(theta') + 1/2 (logvar' + mse(theta') exp(-logvar'))
 * with mse treated as a constant in the second term.  The learned initial
 * state takes the same loss on every trajectory's task, once per
 * iteration (init_loss).
 *
 * Also the family's training configuration, struct trainer_config, under
 * the name the recipes and model headers (model/) use.  A model object
 * (struct fam_linreg_model) owns nothing; see family.h for the rest.
 */
#ifndef FAM_LINREG_H
#define FAM_LINREG_H

#include <stddef.h>
#include <stdint.h>

#include "family/family.h"
#include "refine/refiner.h"
#include "tasks/linreg.h"

#define TRAINER_SHARDS_MAX FAMILY_SHARDS_MAX

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

/* A model of the family, as fam_linreg.init fills it (family.h). */
struct fam_linreg_model {
	struct trainer_config cfg;
	struct refiner ref;
};

/* The table (family.h); a training configuration is a trainer_config. */
extern const struct family_ops fam_linreg;

/* Fills the defaults of the issue-3 recipe (width 64, 4 layers, 4 heads,
 * batch 32, K 16, both inputs, 2 passes, population 128). */
void trainer_config_default(struct trainer_config *c);

/* Checks a configuration; AM_OK or AM_EINVAL with a message in err (may
 * be NULL).  Thread-safe. */
int trainer_config_check(const struct trainer_config *c, char *err, size_t errlen);

#endif
