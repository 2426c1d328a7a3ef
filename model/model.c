/*
 * model.c - model-file headers (JSON) to and from core's structs.
 *
 * A header names its task family ("task_family").  A set-refiner model
 * (family/gen.h) names its kind beside it ("kind": reg, clf, mog, flow); a
 * linreg header without a kind is the parametric refiner (refine/refiner.h).
 * What differs by task family - the "family" object, and for images the
 * "images" object and the PCA tensor - is one row of the table `families`;
 * the rest of a header is the refiner's, read and written in one place.
 */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/families.h"
#include "io/amfile.h"

/* A name a header may hold and the enum value it stands for. */
struct name {
	const char *s;
	int v;
};

static const struct name kinds[] = {
	{ "mog", GEN_MOG }, { "flow", GEN_FLOW }, { "clf", GEN_CLF },
	{ "reg", GEN_REG }, { NULL, 0 }
};

/* the same names for both refiners (REFINER_OBS .. equal GEN_OBS ..) */
static const struct name variants[] = {
	{ "obs", GEN_OBS }, { "grad", GEN_GRAD }, { "both", GEN_BOTH }, { NULL, 0 }
};

static const struct name regimes[] = {
	{ "parametric", 0 }, { "explicit", 1 }, { "implicit", 2 }, { NULL, 0 }
};

/* "mean" is the reg family's name for its one logit-like float */
static const struct name qstates[] = {
	{ "logits", GEN_Q_LOGITS }, { "mean", GEN_Q_LOGITS },
	{ "probs", GEN_Q_PROBS }, { "latent", GEN_Q_LATENT }, { NULL, 0 }
};

static const struct name predictors[] = {
	{ "mlp", 0 }, { "head", 1 }, { NULL, 0 }
};

/* The first name of value v in t ("?" if none). */
static const char *name_of(const struct name *t, int v)
{
	for (; t->s; t++)
		if (t->v == v)
			return t->s;
	return "?";
}

/* The value of name s in t; -1 with "header: unknown WHAT 's'" if none. */
static int name_parse(const struct name *t, const char *what, const char *s,
		      int *v, char *err, size_t errlen)
{
	for (; t->s; t++)
		if (!strcmp(t->s, s)) {
			*v = t->v;
			return 0;
		}
	snprintf(err, errlen, "header: unknown %s '%s'", what, s);
	return -1;
}

const char *model_variant_name(enum refiner_variant v)
{
	return name_of(variants, (int)v);
}

int model_variant_parse(const char *s, enum refiner_variant *v)
{
	int x;

	if (name_parse(variants, "variant", s, &x, NULL, 0))
		return -1;
	*v = (enum refiner_variant)x;
	return 0;
}

/* Reads an integer field of obj in [lo, hi]; -1 with a message if absent,
 * not an integer or out of range. */
static int get_int(json_t *obj, const char *key, int lo, int hi, int *out,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	json_int_t x;

	if (!json_is_integer(v)) {
		snprintf(err, errlen, "header: '%s' must be an integer", key);
		return -1;
	}
	x = json_integer_value(v);
	if (x < lo || x > hi) {
		snprintf(err, errlen, "header: '%s' = %lld is outside [%d, %d]",
			 key, (long long)x, lo, hi);
		return -1;
	}
	*out = (int)x;
	return 0;
}

static int get_num(json_t *obj, const char *key, double lo, double hi,
		   float *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	double x;

	if (!json_is_number(v)) {
		snprintf(err, errlen, "header: '%s' must be a number", key);
		return -1;
	}
	x = json_number_value(v);
	if (!(x >= lo && x <= hi)) {
		snprintf(err, errlen, "header: '%s' = %g is outside [%g, %g]",
			 key, x, lo, hi);
		return -1;
	}
	*out = (float)x;
	return 0;
}

static int get_str(json_t *obj, const char *key, char *out, size_t outlen,
		   char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(obj, key));

	if (!s || !*s || strlen(s) >= outlen) {
		snprintf(err, errlen, "header: '%s' must be a string of 1 to %zu bytes",
			 key, outlen - 1);
		return -1;
	}
	strcpy(out, s);
	return 0;
}

/* ---- the task families ------------------------------------------------ */

static json_t *write_linreg(const struct source *t)
{
	return json_pack("{s:i, s:i, s:f, s:f}",
			 "dmin", t->rfam.dmin, "dmax", t->rfam.dmax,
			 "noise_min", (double)t->rfam.smin,
			 "noise_max", (double)t->rfam.smax);
}

/* The linreg family of the parametric refiner (m->fam, as read) or of the
 * reg kind (m->gtasks.rfam, on linreg_family_default). */
static int read_linreg(struct model *m, json_t *h, char *err, size_t errlen)
{
	json_t *fam = json_object_get(h, "family");
	struct linreg_family *f = m->gen ? &m->gtasks.rfam : &m->fam;

	if (m->gen)
		linreg_family_default(f);
	if (get_int(fam, "dmin", 1, LINREG_DMAX, &f->dmin, err, errlen) ||
	    get_int(fam, "dmax", f->dmin, LINREG_DMAX, &f->dmax, err, errlen) ||
	    get_num(fam, "noise_min", 1e-6, 100, &f->smin, err, errlen) ||
	    get_num(fam, "noise_max", f->smin, 100, &f->smax, err, errlen))
		return -1;
	return 0;
}

static json_t *write_linclass(const struct source *t)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:f, s:f}",
			 "dmin", t->cfam.dmin, "dmax", t->cfam.dmax,
			 "kmin", t->cfam.kmin, "kmax", t->cfam.kmax,
			 "temp_min", (double)t->cfam.temp_min,
			 "temp_max", (double)t->cfam.temp_max);
}

/* The classes of a classification family (linclass, images), on
 * linclass_family_default. */
static int read_classes(struct model *m, json_t *fam, char *err, size_t errlen)
{
	struct linclass_family *f = &m->gtasks.cfam;

	linclass_family_default(f);
	if (get_int(fam, "kmin", 2, LINCLASS_KMAX, &f->kmin, err, errlen) ||
	    get_int(fam, "kmax", f->kmin, LINCLASS_KMAX, &f->kmax, err, errlen))
		return -1;
	return 0;
}

static int read_linclass(struct model *m, json_t *h, char *err, size_t errlen)
{
	json_t *fam = json_object_get(h, "family");
	struct linclass_family *f = &m->gtasks.cfam;

	if (read_classes(m, fam, err, errlen) ||
	    get_int(fam, "dmin", 1, LINCLASS_DMAX, &f->dmin, err, errlen) ||
	    get_int(fam, "dmax", f->dmin, LINCLASS_DMAX, &f->dmax, err, errlen) ||
	    get_num(fam, "temp_min", 1e-3, 100, &f->temp_min, err, errlen) ||
	    get_num(fam, "temp_max", f->temp_min, 100, &f->temp_max, err, errlen))
		return -1;
	return 0;
}

/* (the "images" object is written by model_img_header_json) */
static json_t *write_images(const struct source *t)
{
	return json_pack("{s:i, s:i}", "kmin", t->cfam.kmin, "kmax", t->cfam.kmax);
}

/* The classes, then the "images" object: the data set and the size of the
 * PCA, which follows the refiner's parameters as tensor "pca" (the caller
 * unpacks it once the parameters are read). */
static int read_images(struct model *m, json_t *h, char *err, size_t errlen)
{
	json_t *im = json_object_get(h, "images");
	int npix, k, nf;

	if (read_classes(m, json_object_get(h, "family"), err, errlen))
		return -1;
	if (!json_is_object(im) ||
	    get_str(im, "dataset", m->dataset, sizeof m->dataset, err, errlen) ||
	    get_int(im, "pixels", 1, PCA_NPIX_MAX, &npix, err, errlen) ||
	    get_int(im, "features", 1, GEN_XMAX, &k, err, errlen) ||
	    get_int(im, "pca_floats", 1, 1 << 26, &nf, err, errlen)) {
		if (!json_is_object(im))
			snprintf(err, errlen, "header: 'images' must be an object");
		return -1;
	}
	/* pca_floats asserts k <= npix: an untrusted header is checked first */
	if (k > npix) {
		snprintf(err, errlen, "header: 'images.features' (%d) exceeds "
			 "'images.pixels' (%d)", k, npix);
		return -1;
	}
	if ((size_t)nf != pca_floats(npix, k) ||
	    layout_add1(&m->lay, "pca", nf) == (size_t)-1) {
		snprintf(err, errlen, "header: 'pca_floats' does not match "
			 "pixels and features");
		return -1;
	}
	m->has_pca = 1;
	return 0;
}

static json_t *write_mixtures(const struct source *t)
{
	const struct mog_family *f = &t->fam;

	return json_pack("{s:i, s:i, s:i, s:i, s:f, s:f, s:f}",
			 "dmin", f->dmin, "dmax", f->dmax, "kmin", f->kmin,
			 "kmax", f->kmax, "spread", (double)f->spread,
			 "sd_min", (double)f->sdmin, "sd_max", (double)f->sdmax);
}

static int read_mixtures(struct model *m, json_t *h, char *err, size_t errlen)
{
	json_t *fam = json_object_get(h, "family");
	struct mog_family *f = &m->gtasks.fam;

	if (get_int(fam, "dmin", 1, MOG_DMAX, &f->dmin, err, errlen) ||
	    get_int(fam, "dmax", f->dmin, MOG_DMAX, &f->dmax, err, errlen) ||
	    get_int(fam, "kmin", 1, MOG_KMAX, &f->kmin, err, errlen) ||
	    get_int(fam, "kmax", f->kmin, MOG_KMAX, &f->kmax, err, errlen) ||
	    get_num(fam, "spread", 0, 100, &f->spread, err, errlen) ||
	    get_num(fam, "sd_min", 1e-4, 100, &f->sdmin, err, errlen) ||
	    get_num(fam, "sd_max", f->sdmin, 100, &f->sdmax, err, errlen))
		return -1;
	return 0;
}

static json_t *write_letters(const struct source *t)
{
	char letters[HERSHEY_LETTERS + 1];
	int i, n = 0;

	for (i = 0; i < HERSHEY_LETTERS; i++)
		if (t->letters[i])
			letters[n++] = (char)hershey_letter_char(i);
	letters[n] = '\0';
	return json_pack("{s:s, s:f}", "letters", letters,
			 "point_noise", (double)t->noise);
}

static int read_letters(struct model *m, json_t *h, char *err, size_t errlen)
{
	json_t *fam = json_object_get(h, "family");
	char letters[HERSHEY_LETTERS + 1];

	if (get_str(fam, "letters", letters, sizeof letters, err, errlen) ||
	    get_num(fam, "point_noise", 0, 1, &m->gtasks.noise, err, errlen))
		return -1;
	if (source_letters_parse(letters, m->gtasks.letters) < 1) {
		snprintf(err, errlen, "header: 'letters' must be letters A-Z a-z");
		return -1;
	}
	return 0;
}

/*
 * One task family of a model file.  write_header returns the header's
 * "family" object (a new reference; NULL when out of memory).
 * read_header reads the family's part of header h into m once the
 * refiner's parameters are laid out in m->lay (it may lay out more);
 * -1 with a message in err.
 */
struct family {
	const char *name;		/* the header's "task_family" */
	enum source_kind src;		/* its set-refiner task source */
	unsigned kinds;			/* the set-refiner kinds that go with it,
					 * bits 1 << GEN_*; a linreg header
					 * without a kind is the parametric
					 * refiner */
	json_t *(*write_header)(const struct source *t);
	int (*read_header)(struct model *m, json_t *h, char *err, size_t errlen);
};

#define KIND(k) (1u << (k))

static const struct family families[] = {
	{ "linreg", SOURCE_LINREG, KIND(GEN_REG), write_linreg, read_linreg },
	{ "linclass", SOURCE_LINCLASS, KIND(GEN_CLF), write_linclass, read_linclass },
	{ "images", SOURCE_IMAGES, KIND(GEN_CLF), write_images, read_images },
	{ "mixtures", SOURCE_MOG, KIND(GEN_MOG) | KIND(GEN_FLOW), write_mixtures,
	  read_mixtures },
	{ "letters", SOURCE_LETTERS, KIND(GEN_MOG) | KIND(GEN_FLOW), write_letters,
	  read_letters },
};

#define NFAMILIES (sizeof families / sizeof families[0])

/* The family named `name`, or of task source src (name NULL); NULL if none. */
static const struct family *family_find(const char *name, enum source_kind src)
{
	size_t i;

	for (i = 0; i < NFAMILIES; i++)
		if (name ? !strcmp(families[i].name, name) : families[i].src == src)
			return &families[i];
	return NULL;
}

/* ---- writing a header ------------------------------------------------- */

/* The members of a header's "recipe" object after "population", "chunk"
 * (and "queries"), for a trainer_config or gentrain_config c: a json_pack
 * format and its arguments. */
#define RECIPE_FMT "s:I, s:f, s:f, s:i, s:f, s:f, s:f, s:I, s:i"
#define RECIPE_ARGS(c)							\
	"iters", (json_int_t)(c)->iters, "lr", (double)(c)->lr,		\
	"lr_min", (double)(c)->lr_min, "warmup", (c)->warmup,		\
	"clip", (double)(c)->clip, "weight_decay", (double)(c)->weight_decay, \
	"full_batch", (double)(c)->full_batch,				\
	"seed", (json_int_t)(c)->seed, "shards", (c)->shards

/* Adds `extra` (borrowed, may be NULL) to h as "training"; returns h. */
static json_t *with_training(json_t *h, json_t *extra)
{
	if (h && extra)
		json_object_set(h, "training", extra);
	return h;
}

json_t *model_header_json(const char *name, const struct trainer_config *c,
			  json_t *extra)
{
	const struct family *f = family_find("linreg", 0);
	struct source t;
	json_t *fam;

	memset(&t, 0, sizeof t);
	t.rfam = c->fam;
	fam = f->write_header(&t);
	if (!fam)
		return NULL;
	return with_training(json_pack(
		"{s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i,"
		" s:{s:i, s:i, s:i}, s:o, s:{s:i, s:i, " RECIPE_FMT "}}",
		"name", name, "format", 1, "task_family", f->name,
		"regime", "parametric",
		"variant", model_variant_name(c->ref.variant),
		"max_dim", LINREG_DMAX, "outputs", 1,
		"batch", c->ref.bmax, "steps_trained", c->ref.ksteps,
		"passes", c->ref.passes,
		"arch", "width", c->ref.C, "heads", c->ref.H, "layers", c->ref.L,
		"family", fam,
		"recipe", "population", c->pop, "chunk", c->chunk, RECIPE_ARGS(c)),
		extra);
}

/* The members every set-refiner header has, in header order. */
static json_t *setref_header_json(const char *name, const struct gentrain_config *c,
				  const struct family *f)
{
	const struct gen_config *g = &c->gen;
	json_t *fam = f->write_header(&c->tasks);

	if (!fam)
		return NULL;
	return json_pack(
		"{s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i,"
		" s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:o,"
		" s:{s:i, s:i, s:i, " RECIPE_FMT "}}",
		"name", name, "format", 1, "task_family", f->name,
		"kind", name_of(kinds, g->kind),
		"regime", name_of(regimes, g->regime),
		"variant", name_of(variants, g->variant),
		"max_dim", source_dx(c->tasks.src),
		"outputs", g->kind == GEN_CLF ? LINCLASS_KMAX : 0,
		"batch", g->bmax, "steps_trained", g->ksteps, "passes", g->passes,
		"arch", "width", g->C, "heads", g->H, "layers", g->L,
		"latent", g->Z, "velocity_width", g->vH, "velocity_layers", g->vL,
		"flow_steps", g->flow_steps,
		"family", fam,
		"recipe", "population", c->pop, "chunk", c->chunk, "queries", c->nq,
		RECIPE_ARGS(c));
}

/* The regime's own objects: "implicit" (the query state and count) and,
 * for an explicit classifier, "explicit" (its predictor).  0 or -1 when
 * out of memory. */
static int regime_json(json_t *h, const struct gen_config *g)
{
	if (g->regime == GEN_IMPLICIT &&
	    json_object_set_new(h, "implicit", json_pack("{s:s, s:i}",
		    "state", g->qstate == GEN_Q_LOGITS && g->kind != GEN_CLF ?
			     "mean" : name_of(qstates, g->qstate),
		    "queries", g->nq)))
		return -1;
	if (gen_has_predictor(g) && g->kind == GEN_CLF &&
	    json_object_set_new(h, "explicit", json_pack("{s:s}", "predictor",
							  name_of(predictors, g->head))))
		return -1;
	return 0;
}

/* Training-only choices, recorded in "recipe" when they depart from the
 * default.  0 or -1 when out of memory. */
static int choices_json(json_t *h, const struct gentrain_config *c)
{
	json_t *r = json_object_get(h, "recipe");

	if ((c->step_weight &&
	     json_object_set_new(r, "step_weight", json_integer(c->step_weight))) ||
	    (c->task_batch &&
	     json_object_set_new(r, "task_batch", json_integer(c->task_batch))) ||
	    (c->tasks.augment > 0.0f &&
	     json_object_set_new(r, "augment", json_real(c->tasks.augment))))
		return -1;
	return 0;
}

json_t *model_gen_header_json(const char *name, const struct gentrain_config *c,
			      json_t *extra)
{
	const struct family *f = family_find(NULL, c->tasks.src);
	json_t *h = f ? setref_header_json(name, c, f) : NULL;

	if (h && (regime_json(h, &c->gen) || choices_json(h, c))) {
		json_decref(h);
		return NULL;
	}
	return with_training(h, extra);
}

json_t *model_img_header_json(const char *name, const struct gentrain_config *c,
			      const char *dataset, const struct pca *pca,
			      json_t *extra)
{
	json_t *h = model_gen_header_json(name, c, extra);

	if (h && json_object_set_new(h, "images", json_pack(
		    "{s:s, s:i, s:i, s:b, s:I, s:f, s:b}", "dataset", dataset,
		    "pixels", pca->npix, "features", pca->k, "whiten", pca->whiten,
		    "pca_floats", (json_int_t)pca_floats(pca->npix, pca->k),
		    "variance_kept", pca_variance_kept(pca),
		    /* trained with a task's stream and query rows from the
		     * two halves of the training split */
		    "disjoint", c->tasks.qimg != NULL))) {
		json_decref(h);
		return NULL;
	}
	return h;
}

/* ---- reading a header ------------------------------------------------- */

/* "name", "kind" (kind NULL: none), "variant" and "format" of header h. */
static int read_names(struct model *m, char *kind, char *variant, char *err,
		      size_t errlen)
{
	int fmt;

	if (get_str(m->header, "name", m->name, sizeof m->name, err, errlen) ||
	    (kind && get_str(m->header, "kind", kind, 16, err, errlen)) ||
	    get_str(m->header, "variant", variant, 16, err, errlen) ||
	    get_int(m->header, "format", 1, 1, &fmt, err, errlen))
		return -1;
	return 0;
}

/* Checks that the header has objects "arch" and "family"; returns "arch". */
static json_t *arch_object(json_t *h, char *err, size_t errlen)
{
	json_t *arch = json_object_get(h, "arch");

	if (!json_is_object(arch) || !json_is_object(json_object_get(h, "family"))) {
		snprintf(err, errlen, "header: 'arch' and 'family' must be objects");
		return NULL;
	}
	return arch;
}

/*
 * The parametric refiner of a linreg header: its configuration m->cfg,
 * family m->fam, parameter layout m->lay, and fam_linreg's model object
 * on the heap in m->obj (owned; m->impl points at its refiner).
 */
static int read_refiner(struct model *m, const struct family *f, char *err,
			size_t errlen)
{
	struct refiner_config *c = &m->cfg;
	struct fam_linreg_model *lm;
	struct trainer_config tc;
	char variant[16];
	json_t *arch;

	if (read_names(m, NULL, variant, err, errlen))
		return -1;
	if (model_variant_parse(variant, &c->variant)) {
		snprintf(err, errlen, "header: unknown variant '%s'", variant);
		return -1;
	}
	if (!(arch = arch_object(m->header, err, errlen)))
		return -1;
	if (get_int(arch, "width", 8, 1024, &c->C, err, errlen) ||
	    get_int(arch, "heads", 1, 1024, &c->H, err, errlen) ||
	    get_int(arch, "layers", 1, TFM_LAYERS_MAX, &c->L, err, errlen) ||
	    get_int(m->header, "batch", 1, REFINER_BMAX, &c->bmax, err, errlen) ||
	    get_int(m->header, "steps_trained", 1, 4096, &c->ksteps, err, errlen) ||
	    get_int(m->header, "passes", 1, REFINER_PASSES_MAX, &c->passes, err, errlen) ||
	    f->read_header(m, m->header, err, errlen))
		return -1;
	if (refiner_config_check(c, err, errlen) != AM_OK)
		return -1;
	memset(&tc, 0, sizeof tc);
	tc.ref = *c;
	tc.fam = m->fam;
	m->ops = &fam_linreg;
	lm = calloc(1, sizeof *lm);
	m->obj = lm;
	if (!lm || m->ops->open(lm, &m->lay, &tc) != AM_OK) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->impl = &lm->ref;
	return 0;
}

/* A set-refiner header's kind, variant and sizes into m->gcfg. */
static int read_sizes(struct model *m, char *kind, char *err, size_t errlen)
{
	struct gen_config *c = &m->gcfg;
	char variant[16];
	json_t *arch;
	int k, v;

	if (read_names(m, kind, variant, err, errlen) ||
	    !(arch = arch_object(m->header, err, errlen)) ||
	    name_parse(kinds, "kind", kind, &k, err, errlen) ||
	    name_parse(variants, "variant", variant, &v, err, errlen))
		return -1;
	c->kind = (enum gen_kind)k;
	c->variant = (enum gen_variant)v;
	if (get_int(arch, "width", 8, 1024, &c->C, err, errlen) ||
	    get_int(arch, "heads", 1, 1024, &c->H, err, errlen) ||
	    get_int(arch, "layers", 1, TFM_LAYERS_MAX, &c->L, err, errlen) ||
	    get_int(arch, "latent", 1, 256, &c->Z, err, errlen) ||
	    get_int(arch, "velocity_width", 1, VELO_HMAX, &c->vH, err, errlen) ||
	    get_int(arch, "velocity_layers", 1, VELO_LAYERS_MAX, &c->vL, err, errlen) ||
	    get_int(arch, "flow_steps", 1, VELO_STEPS_MAX, &c->flow_steps, err, errlen) ||
	    get_int(m->header, "batch", 1, GEN_BMAX, &c->bmax, err, errlen) ||
	    get_int(m->header, "steps_trained", 1, 4096, &c->ksteps, err, errlen) ||
	    get_int(m->header, "passes", 1, SETREF_PASSES_MAX, &c->passes, err, errlen))
		return -1;
	return 0;
}

/*
 * A set-refiner header's regime into m->gcfg: "regime" (read for clf and
 * reg; mog is parametric and flow explicit whatever it says), the implicit
 * regime's "implicit" object, and the explicit predictor ("explicit",
 * absent in files older than the head predictor: mlp).
 */
static int read_regime(struct model *m, char *err, size_t errlen)
{
	struct gen_config *c = &m->gcfg;
	json_t *im = json_object_get(m->header, "implicit");
	json_t *ex = json_object_get(m->header, "explicit");
	char s[16];
	int v;

	if (c->kind == GEN_CLF || c->kind == GEN_REG) {
		if (get_str(m->header, "regime", s, sizeof s, err, errlen) ||
		    name_parse(regimes, "regime", s, &v, err, errlen))
			return -1;
		c->regime = (enum gen_regime)v;
	} else {
		c->regime = c->kind == GEN_FLOW ? GEN_EXPLICIT : GEN_PARAMETRIC;
	}
	if (c->regime == GEN_IMPLICIT &&
	    (!json_is_object(im) ||
	     get_str(im, "state", s, sizeof s, err, errlen) ||
	     get_int(im, "queries", 1, SETREF_QUERIES_MAX, &c->nq, err, errlen) ||
	     name_parse(qstates, "implicit state", s, &v, err, errlen))) {
		if (!json_is_object(im))
			snprintf(err, errlen, "header: an implicit model needs "
				 "an 'implicit' object");
		return -1;
	}
	if (c->regime == GEN_IMPLICIT)
		c->qstate = (enum gen_qstate)v;
	if (gen_has_predictor(c) && ex &&
	    (!json_is_object(ex) ||
	     get_str(ex, "predictor", s, sizeof s, err, errlen) ||
	     name_parse(predictors, "predictor", s, &c->head, err, errlen))) {
		if (!json_is_object(ex))
			snprintf(err, errlen, "header: 'explicit' must be an object");
		return -1;
	}
	return 0;
}

/*
 * The set refiner of a header of task family f: m->gcfg and m->gtasks,
 * the parameter layout m->lay, and the family's model object on the heap
 * in m->obj (owned; m->impl points at its struct gen).
 */
static int read_setref(struct model *m, const struct family *f, char *err,
		       size_t errlen)
{
	struct gen_config *c = &m->gcfg;
	struct gentrain_config gc;
	struct fam_gen_model *gm;
	char kind[16];

	if (read_sizes(m, kind, err, errlen) || read_regime(m, err, errlen) ||
	    gen_config_check(c, err, errlen) != AM_OK)
		return -1;
	m->gen = 1;
	if (!(f->kinds & KIND(c->kind))) {
		snprintf(err, errlen, "header: kind '%s' does not go with task family "
			 "'%s'", kind, m->family);
		return -1;
	}
	m->ops = family_by_name(kind);
	memset(&gc, 0, sizeof gc);
	gc.gen = *c;
	gm = calloc(1, sizeof *gm);
	m->obj = gm;
	if (!m->ops || !gm || m->ops->open(gm, &m->lay, &gc) != AM_OK) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->impl = &gm->g;
	m->gtasks.src = f->src;
	if (f->read_header(m, m->header, err, errlen))
		return -1;
	/* the tasks come after the refiner's parameters in the layout */
	gm->cfg.tasks = m->gtasks;
	return 0;
}

/* The header of file f into m: its JSON (m->header), checksum, task
 * family, and the refiner it describes. */
static int read_header(struct model *m, const struct amfile *f, char *err,
		       size_t errlen)
{
	const struct family *fam;
	json_error_t jerr;

	snprintf(m->checksum, sizeof m->checksum, "%08x",
		 amfile_crc32(f->data, f->layout.total * sizeof(float)));
	m->header = json_loadb(f->header, f->header_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!m->header || !json_is_object(m->header)) {
		snprintf(err, errlen, "header is not a JSON object: %s",
			 m->header ? "wrong type" : jerr.text);
		return -1;
	}
	/* what kind of model it is comes first: that is the useful message
	 * for a file of another kind */
	if (get_str(m->header, "task_family", m->family, sizeof m->family, err, errlen))
		return -1;
	fam = family_find(m->family, 0);
	if (!fam) {
		snprintf(err, errlen, "task family '%s' is not one this build serves "
			 "(linreg, linclass, images, mixtures, letters)", m->family);
		return -1;
	}
	/* a linreg-task model with a "kind" is the reg family (gen.h), not
	 * the parametric refiner */
	if (fam->src == SOURCE_LINREG && !json_object_get(m->header, "kind"))
		return read_refiner(m, fam, err, errlen);
	return read_setref(m, fam, err, errlen);
}

/* The parameters of file f into m->p (owned), laid out as m->lay, and the
 * PCA of an image model into m->pca (owned). */
static int read_params(struct model *m, struct amfile *f, char *err, size_t errlen)
{
	const struct layout_view *v;

	m->p = calloc(m->lay.total, sizeof *m->p);
	if (!m->p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (amfile_bind(f, &m->lay, m->p, err, errlen) != AM_OK)
		return -1;
	if (!m->has_pca)
		return 0;
	v = layout_find(&m->lay, "pca");
	m->pca = calloc(1, sizeof *m->pca);
	if (!m->pca) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pca_unpack(m->pca, m->p + v->offset, v->size, err, errlen) != AM_OK) {
		free(m->pca);
		m->pca = NULL;
		return -1;
	}
	return 0;
}

/*
 * The session contract of a loaded model (struct amz): what a session of
 * its family keeps and answers.  m->az borrows m->obj, m->p and m->pca,
 * all on the heap, so a loaded struct model may be copied or moved.
 */
static void model_fill_az(struct model *m)
{
	m->ops->bind(m->obj, &m->az);
	m->az.p = m->p;
	m->az.pca = m->pca;
	if (m->pca)
		m->az.npix = m->pca->npix;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	free(m->p);
	m->p = NULL;
	free(m->obj);
	m->obj = NULL;
	m->impl = NULL;
	if (m->pca) {
		pca_free(m->pca);
		free(m->pca);
	}
	m->pca = NULL;
	m->has_pca = 0;
	json_decref(m->header);
	m->header = NULL;
	layout_free(&m->lay);
}

/* The steps: the file, its header (the refiner it describes and its
 * parameter layout), the parameters, then the session contract. */
int model_load(struct model *m, const char *path, char *err, size_t errlen)
{
	struct amfile f;
	struct model tmp;

	memset(&tmp, 0, sizeof tmp);
	layout_init(&tmp.lay);
	if (amfile_read(path, &f, err, errlen) != AM_OK)
		return -1;
	if (read_header(&tmp, &f, err, errlen) ||
	    read_params(&tmp, &f, err, errlen)) {
		amfile_free(&f);
		model_free(&tmp);
		return -1;
	}
	amfile_free(&f);
	*m = tmp;
	model_fill_az(m);
	return 0;
}
