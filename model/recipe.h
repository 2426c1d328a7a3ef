/*
 * recipe.h - training recipes: small committed text files of `key = value`
 * lines (# starts a comment) naming the task family, regime, variant,
 * sizes, steps and seed of a model.  Keys not given keep the defaults of
 * trainer_config_default.  Unknown keys, repeated keys, malformed values
 * and overlong lines are errors that name the line.
 *
 * `family = clf`, `reg`, `mog` or `flow` selects a set-refiner family
 * (family/fam_gen.h, defaults of gentrain_config_default): the common keys, the
 * set-refiner keys and the family's own (one table each in recipe.c);
 * linreg, the default, is the parametric refiner.  The family line may be
 * anywhere in the file.
 */
#ifndef RECIPE_H
#define RECIPE_H

#include <jansson.h>
#include <stddef.h>

#include "family/fam_gen.h"
#include "family/fam_linreg.h"

struct pca;

struct recipe {
	char name[64];
	const struct family_ops *ops;	/* the family it trains */
	int gen;			/* 0: linreg (cfg); 1: a set-refiner
					 * kind (gcfg) */
	struct trainer_config cfg;
	struct gentrain_config gcfg;	/* tasks.fonts is left NULL */
	char letters[HERSHEY_LETTERS + 1];	/* letters = ... (flow on letters) */
	char dataset[16];			/* dataset = ... (clf on images) */
	int features;				/* PCA features of image tasks */
	int disjoint;				/* image tasks: 1 = a task's
						 * stream and query rows come
						 * from the two halves of the
						 * training split */
};

/* The training configuration r->ops takes: &r->gcfg or &r->cfg. */
const void *recipe_config(const struct recipe *r);

/* The training schedule of r (population, iterations, seed, shards, ...:
 * the fields FAMILY_TRAIN_SCHEDULE copies) into t. */
void recipe_schedule(const struct recipe *r, struct family_train *t);

/* The header of a model trained from r (model.h's model_*header_json
 * for its family; pca: an image model's, else NULL); extra as there. */
json_t *recipe_header_json(const struct recipe *r, const struct pca *pca,
			   json_t *extra);

/* Parses the recipe at path.  Returns 0, or -1 with "path:line: message"
 * in err. */
int recipe_load(struct recipe *r, const char *path, char *err, size_t errlen);

/* Parses recipe text (NUL-terminated); `origin` names it in messages. */
int recipe_parse(struct recipe *r, const char *text, const char *origin,
		 char *err, size_t errlen);

#endif
