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

#include <stddef.h>

#include "family/fam_gen.h"
#include "family/fam_linreg.h"

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

/* Parses the recipe at path.  Returns 0, or -1 with "path:line: message"
 * in err. */
int recipe_load(struct recipe *r, const char *path, char *err, size_t errlen);

/* Parses recipe text (NUL-terminated); `origin` names it in messages. */
int recipe_parse(struct recipe *r, const char *text, const char *origin,
		 char *err, size_t errlen);

#endif
