/*
 * fam_gen.h - the set-refiner families (family/gen.h: classification,
 * regression, mixtures, flows) as one table.
 *
 * Training loss: every state is scored on `nq` fresh query rows of its
 * trajectory's task: the mean negative log-likelihood (mixtures: reported
 * as the excess over the true mixture's NLL on the same rows; classifiers:
 * the cross-entropy), the mean flow-matching loss (flows; trains the
 * velocity network jointly) or half the squared error (regression).  An
 * implicit state is scored on its trajectory's own query rows, fixed when
 * its task is drawn.  The learned initial state takes the same loss on the
 * queries of every trajectory that starts from it (start_loss).  A pass's
 * batch-loss noise is drawn per pass (pass_begin).
 *
 * One table for all four kinds: they share one model (struct gen, which
 * dispatches on its kind inside gen.c), one configuration and one
 * trajectory; per-kind tables come with gen.c's split.
 *
 * Also the family's training configuration, struct gentrain_config, under
 * the name the recipes and model headers (model/) use.  A model object
 * (struct fam_gen_model) owns nothing and borrows the task source's fonts
 * and images; see family.h for the rest.
 */
#ifndef FAM_GEN_H
#define FAM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "family/family.h"
#include "family/gen.h"

#define GENTRAIN_SHARDS_MAX FAMILY_SHARDS_MAX

struct gentrain_config {
	struct gen_config gen;
	struct source tasks;		/* fonts borrowed for LETTERS */
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

/* A model of the family, as fam_gen.init fills it (family.h). */
struct fam_gen_model {
	struct gentrain_config cfg;
	struct gen g;
};

/* The table (family.h); a training configuration is a gentrain_config. */
extern const struct family_ops fam_gen;

/* Fills the defaults of a kind's recipe (width 64, 4 layers, 4 heads,
 * batch 32, K 16, population 128, its usual task source). */
void gentrain_config_default(struct gentrain_config *c, enum gen_kind kind);

/* Checks a configuration; AM_OK or AM_EINVAL with a message in err (may
 * be NULL).  Thread-safe. */
int gentrain_config_check(const struct gentrain_config *c, char *err, size_t errlen);

#endif
