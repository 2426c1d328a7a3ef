/*
 * model.h - an amortizer as the tools and the server hold it: the model
 * file's parsed header, the refiner built from it, and its parameters.
 *
 * This is where the JSON header of a *.amort file meets core's structs:
 * model_header_json writes the header of a trained model, model_load reads
 * a file back (the file and its header are untrusted: every field is
 * checked).  jansson is used here and nowhere in core/.
 */
#ifndef MODEL_H
#define MODEL_H

#include <jansson.h>
#include <stddef.h>

#include "family/amz.h"
#include "base/layout.h"
#include "data/source.h"
#include "family/gen.h"
#include "family/fam_gen.h"
#include "data/pca.h"
#include "refine/refiner.h"
#include "family/fam_linreg.h"

struct model {
	char name[64];
	char family[32];
	struct refiner_config cfg;
	struct linreg_family fam;	/* the family it was trained on */
	int gen;			/* 1: a setref model: generative or
					 * classification (gcfg, gtasks) */
	struct gen_config gcfg;
	struct source gtasks;		/* what it was trained on (no fonts,
					 * no images) */
	char dataset[16];		/* image models: the dataset */
	int has_pca;			/* set while loading */
	struct pca *pca;		/* image models: owned, on the heap (so
					 * az may point at it) */
	struct layout lay;
	float *p;			/* parameters, owned */
	json_t *header;			/* the parsed header, owned */
	char checksum[9];		/* CRC-32 of the file, hex */
	const struct family_ops *ops;	/* its family (core/family) */
	void *obj;			/* the family's model object, owned
					 * (heap) */
	void *impl;			/* its refiner (struct refiner or struct
					 * gen) inside obj */
	struct amz az;			/* the session contract: borrows obj and
					 * p, both on the heap, so a loaded
					 * struct model may be copied or moved */
};

/*
 * Builds the header of a model trained with c: name, format, task family,
 * regime, variant, sizes, the recipe (every field of c), and `extra`
 * (borrowed, may be NULL: training statistics, evaluation summary) under
 * "training".  Returns a new reference (caller decrefs) or NULL when out of
 * memory.
 */
json_t *model_header_json(const char *name, const struct trainer_config *c,
			  json_t *extra);

/* The header of a generative model trained with c (as model_header_json). */
json_t *model_gen_header_json(const char *name, const struct gentrain_config *c,
			      json_t *extra);

/* The header of a classification model trained on images of `dataset`
 * with the given PCA (pca_floats of it are stored as tensor "pca"). */
json_t *model_img_header_json(const char *name, const struct gentrain_config *c,
			      const char *dataset, const struct pca *pca,
			      json_t *extra);

/* Reads and checks a model file.  On success fills *m (release with
 * model_free) and returns 0; otherwise returns -1 with a message in err. */
int model_load(struct model *m, const char *path, char *err, size_t errlen);

/* Releases what m owns; NULL-safe and idempotent. */
void model_free(struct model *m);

/* "obs", "grad" or "both". */
const char *model_variant_name(enum refiner_variant v);

/* Parses a variant name; returns 0 or -1. */
int model_variant_parse(const char *s, enum refiner_variant *v);

#endif
