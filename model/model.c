/*
 * model.c - model-file headers (JSON) to and from core's structs.
 */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "io/amfile.h"

const char *model_variant_name(enum refiner_variant v)
{
	switch (v) {
	case REFINER_OBS: return "obs";
	case REFINER_GRAD: return "grad";
	case REFINER_BOTH: return "both";
	}
	return "?";
}

int model_variant_parse(const char *s, enum refiner_variant *v)
{
	if (!strcmp(s, "obs"))
		*v = REFINER_OBS;
	else if (!strcmp(s, "grad"))
		*v = REFINER_GRAD;
	else if (!strcmp(s, "both"))
		*v = REFINER_BOTH;
	else
		return -1;
	return 0;
}

json_t *model_header_json(const char *name, const struct trainer_config *c,
			  json_t *extra)
{
	json_t *h = json_pack(
		"{s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i,"
		" s:{s:i, s:i, s:i},"
		" s:{s:i, s:i, s:f, s:f},"
		" s:{s:i, s:i, s:I, s:f, s:f, s:i, s:f, s:f, s:f, s:I, s:i}}",
		"name", name, "format", 1, "task_family", "linreg",
		"regime", "parametric",
		"variant", model_variant_name(c->ref.variant),
		"max_dim", LINREG_DMAX, "outputs", 1,
		"batch", c->ref.bmax, "steps_trained", c->ref.ksteps,
		"passes", c->ref.passes,
		"arch", "width", c->ref.C, "heads", c->ref.H, "layers", c->ref.L,
		"family", "dmin", c->fam.dmin, "dmax", c->fam.dmax,
		"noise_min", (double)c->fam.smin, "noise_max", (double)c->fam.smax,
		"recipe", "population", c->pop, "chunk", c->chunk,
		"iters", (json_int_t)c->iters, "lr", (double)c->lr,
		"lr_min", (double)c->lr_min, "warmup", c->warmup,
		"clip", (double)c->clip, "weight_decay", (double)c->weight_decay,
		"full_batch", (double)c->full_batch,
		"seed", (json_int_t)c->seed, "shards", c->shards);

	if (h && extra)
		json_object_set(h, "training", extra);
	return h;
}

static const char *gen_kind_name(enum gen_kind k)
{
	return k == GEN_MOG ? "mog" : k == GEN_FLOW ? "flow" :
	       k == GEN_REG ? "reg" : "clf";
}

static const char *gen_variant_name(enum gen_variant v)
{
	return v == GEN_OBS ? "obs" : v == GEN_GRAD ? "grad" : "both";
}

json_t *model_gen_header_json(const char *name, const struct gentrain_config *c,
			      json_t *extra)
{
	const struct gen_config *g = &c->gen;
	const struct mog_family *f = &c->tasks.fam;
	char letters[HERSHEY_LETTERS + 1];
	json_t *h, *fam;
	int i, n = 0;

	for (i = 0; i < HERSHEY_LETTERS; i++)
		if (c->tasks.letters[i])
			letters[n++] = (char)hershey_letter_char(i);
	letters[n] = '\0';
	if (c->tasks.src == GEN_SRC_LINREG)
		fam = json_pack("{s:i, s:i, s:f, s:f}",
				"dmin", c->tasks.rfam.dmin, "dmax", c->tasks.rfam.dmax,
				"noise_min", (double)c->tasks.rfam.smin,
				"noise_max", (double)c->tasks.rfam.smax);
	else if (c->tasks.src == GEN_SRC_LINCLASS)
		fam = json_pack("{s:i, s:i, s:i, s:i, s:f, s:f}",
				"dmin", c->tasks.cfam.dmin, "dmax", c->tasks.cfam.dmax,
				"kmin", c->tasks.cfam.kmin, "kmax", c->tasks.cfam.kmax,
				"temp_min", (double)c->tasks.cfam.temp_min,
				"temp_max", (double)c->tasks.cfam.temp_max);
	else if (c->tasks.src == GEN_SRC_IMAGES)
		fam = json_pack("{s:i, s:i}", "kmin", c->tasks.cfam.kmin,
				"kmax", c->tasks.cfam.kmax);
	else if (c->tasks.src == GEN_SRC_MOG)
		fam = json_pack("{s:i, s:i, s:i, s:i, s:f, s:f, s:f}",
				"dmin", f->dmin, "dmax", f->dmax, "kmin", f->kmin,
				"kmax", f->kmax, "spread", (double)f->spread,
				"sd_min", (double)f->sdmin, "sd_max", (double)f->sdmax);
	else
		fam = json_pack("{s:s, s:f}", "letters", letters,
				"point_noise", (double)c->tasks.noise);
	if (!fam)
		return NULL;
	h = json_pack(
		"{s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i,"
		" s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i},"
		" s:o,"
		" s:{s:i, s:i, s:i, s:I, s:f, s:f, s:i, s:f, s:f, s:f, s:I, s:i}}",
		"name", name, "format", 1,
		"task_family", c->tasks.src == GEN_SRC_MOG ? "mixtures" :
			       c->tasks.src == GEN_SRC_LETTERS ? "letters" :
			       c->tasks.src == GEN_SRC_LINCLASS ? "linclass" :
			       c->tasks.src == GEN_SRC_LINREG ? "linreg" : "images",
		"kind", gen_kind_name(g->kind),
		"regime", g->implicit_ ? "implicit" :
			  g->kind == GEN_FLOW || g->explicit_ ? "explicit" : "parametric",
		"variant", gen_variant_name(g->variant),
		"max_dim", gen_source_dx(c->tasks.src),
		"outputs", g->kind == GEN_CLF ? LINCLASS_KMAX : 0,
		"batch", g->bmax, "steps_trained", g->ksteps, "passes", g->passes,
		"arch", "width", g->C, "heads", g->H, "layers", g->L,
		"latent", g->Z, "velocity_width", g->vH, "velocity_layers", g->vL,
		"flow_steps", g->flow_steps,
		"family", fam,
		"recipe", "population", c->pop, "chunk", c->chunk, "queries", c->nq,
		"iters", (json_int_t)c->iters, "lr", (double)c->lr,
		"lr_min", (double)c->lr_min, "warmup", c->warmup,
		"clip", (double)c->clip, "weight_decay", (double)c->weight_decay,
		"full_batch", (double)c->full_batch,
		"seed", (json_int_t)c->seed, "shards", c->shards);
	if (h && g->implicit_ &&
	    json_object_set_new(h, "implicit", json_pack("{s:s, s:i}",
		    "state", g->qstate == GEN_Q_LOGITS ?
			     (g->kind == GEN_CLF ? "logits" : "mean") :
			     g->qstate == GEN_Q_PROBS ? "probs" : "latent",
		    "queries", g->nq))) {
		json_decref(h);
		return NULL;
	}
	if (h && g->explicit_ && g->kind == GEN_CLF &&
	    json_object_set_new(h, "explicit", json_pack("{s:s}", "predictor",
							  g->head ? "head" : "mlp"))) {
		json_decref(h);
		return NULL;
	}
	/* training-only choices: recorded when they depart from the default */
	if (h && ((c->step_weight &&
		   json_object_set_new(json_object_get(h, "recipe"), "step_weight",
				       json_integer(c->step_weight))) ||
		  (c->task_batch &&
		   json_object_set_new(json_object_get(h, "recipe"), "task_batch",
				       json_integer(c->task_batch))) ||
		  (c->tasks.augment > 0.0f &&
		   json_object_set_new(json_object_get(h, "recipe"), "augment",
				       json_real(c->tasks.augment))))) {
		json_decref(h);
		return NULL;
	}
	if (h && extra)
		json_object_set(h, "training", extra);
	return h;
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

/*
 * The generative part of model_load: the header's sizes into gcfg, the
 * model's parameter layout, and the session contract.  The parameters
 * are bound by the caller.
 */
static int load_gen(struct model *m, json_t *arch, json_t *fam, char *err,
		    size_t errlen)
{
	struct gen_config *c = &m->gcfg;
	char kind[16], variant[16], letters[HERSHEY_LETTERS + 1];
	struct gen *g;
	json_t *ex;
	int fmt;

	if (get_str(m->header, "name", m->name, sizeof m->name, err, errlen) ||
	    get_str(m->header, "kind", kind, sizeof kind, err, errlen) ||
	    get_str(m->header, "variant", variant, sizeof variant, err, errlen) ||
	    get_int(m->header, "format", 1, 1, &fmt, err, errlen))
		return -1;
	if (!json_is_object(arch) || !json_is_object(fam)) {
		snprintf(err, errlen, "header: 'arch' and 'family' must be objects");
		return -1;
	}
	if (!strcmp(kind, "mog"))
		c->kind = GEN_MOG;
	else if (!strcmp(kind, "flow"))
		c->kind = GEN_FLOW;
	else if (!strcmp(kind, "clf"))
		c->kind = GEN_CLF;
	else if (!strcmp(kind, "reg"))
		c->kind = GEN_REG;
	else {
		snprintf(err, errlen, "header: unknown kind '%s'", kind);
		return -1;
	}
	if (!strcmp(variant, "obs"))
		c->variant = GEN_OBS;
	else if (!strcmp(variant, "grad"))
		c->variant = GEN_GRAD;
	else if (!strcmp(variant, "both"))
		c->variant = GEN_BOTH;
	else {
		snprintf(err, errlen, "header: unknown variant '%s'", variant);
		return -1;
	}
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
	if (c->kind == GEN_CLF || c->kind == GEN_REG) {
		char regime[16];

		if (get_str(m->header, "regime", regime, sizeof regime, err, errlen))
			return -1;
		if (strcmp(regime, "parametric") && strcmp(regime, "explicit") &&
		    strcmp(regime, "implicit")) {
			snprintf(err, errlen, "header: unknown regime '%s'", regime);
			return -1;
		}
		c->explicit_ = !strcmp(regime, "explicit");
		c->implicit_ = !strcmp(regime, "implicit");
	}
	if (c->implicit_) {
		json_t *im = json_object_get(m->header, "implicit");
		char st[16];

		if (!json_is_object(im) ||
		    get_str(im, "state", st, sizeof st, err, errlen) ||
		    get_int(im, "queries", 1, SETREF_QUERIES_MAX, &c->nq, err, errlen)) {
			if (!json_is_object(im))
				snprintf(err, errlen, "header: an implicit model needs "
					 "an 'implicit' object");
			return -1;
		}
		if (!strcmp(st, "logits") || !strcmp(st, "mean"))
			c->qstate = GEN_Q_LOGITS;
		else if (!strcmp(st, "probs"))
			c->qstate = GEN_Q_PROBS;
		else if (!strcmp(st, "latent"))
			c->qstate = GEN_Q_LATENT;
		else {
			snprintf(err, errlen, "header: unknown implicit state '%s'", st);
			return -1;
		}
	}
	/* the explicit predictor; the member is absent in files older than
	 * the head predictor: mlp */
	ex = c->explicit_ ? json_object_get(m->header, "explicit") : NULL;
	if (ex) {
		char pr[16];

		if (!json_is_object(ex) ||
		    get_str(ex, "predictor", pr, sizeof pr, err, errlen)) {
			if (!json_is_object(ex))
				snprintf(err, errlen, "header: 'explicit' must be an "
					 "object");
			return -1;
		}
		if (strcmp(pr, "mlp") && strcmp(pr, "head")) {
			snprintf(err, errlen, "header: unknown predictor '%s'", pr);
			return -1;
		}
		c->head = !strcmp(pr, "head");
	}
	if (gen_config_check(c, err, errlen) != AM_OK)
		return -1;
	m->gen = 1;
	if ((c->kind == GEN_REG) != !strcmp(m->family, "linreg") ||
	    (c->kind == GEN_CLF) != (!strcmp(m->family, "linclass") ||
				     !strcmp(m->family, "images"))) {
		snprintf(err, errlen, "header: kind '%s' does not go with task family "
			 "'%s'", kind, m->family);
		return -1;
	}
	if (c->kind == GEN_REG) {
		struct linreg_family *f = &m->gtasks.rfam;

		linreg_family_default(f);
		m->gtasks.src = GEN_SRC_LINREG;
		if (get_int(fam, "dmin", 1, LINREG_DMAX, &f->dmin, err, errlen) ||
		    get_int(fam, "dmax", f->dmin, LINREG_DMAX, &f->dmax, err, errlen) ||
		    get_num(fam, "noise_min", 1e-6, 100, &f->smin, err, errlen) ||
		    get_num(fam, "noise_max", f->smin, 100, &f->smax, err, errlen))
			return -1;
	} else if (c->kind == GEN_CLF) {
		struct linclass_family *f = &m->gtasks.cfam;

		linclass_family_default(f);
		m->gtasks.src = !strcmp(m->family, "images") ? GEN_SRC_IMAGES :
				GEN_SRC_LINCLASS;
		if (get_int(fam, "kmin", 2, LINCLASS_KMAX, &f->kmin, err, errlen) ||
		    get_int(fam, "kmax", f->kmin, LINCLASS_KMAX, &f->kmax, err, errlen))
			return -1;
		if (m->gtasks.src == GEN_SRC_LINCLASS &&
		    (get_int(fam, "dmin", 1, LINCLASS_DMAX, &f->dmin, err, errlen) ||
		     get_int(fam, "dmax", f->dmin, LINCLASS_DMAX, &f->dmax, err, errlen) ||
		     get_num(fam, "temp_min", 1e-3, 100, &f->temp_min, err, errlen) ||
		     get_num(fam, "temp_max", f->temp_min, 100, &f->temp_max, err, errlen)))
			return -1;
	} else if (!strcmp(m->family, "mixtures")) {
		struct mog_family *f = &m->gtasks.fam;

		m->gtasks.src = GEN_SRC_MOG;
		if (get_int(fam, "dmin", 1, MOG_DMAX, &f->dmin, err, errlen) ||
		    get_int(fam, "dmax", f->dmin, MOG_DMAX, &f->dmax, err, errlen) ||
		    get_int(fam, "kmin", 1, MOG_KMAX, &f->kmin, err, errlen) ||
		    get_int(fam, "kmax", f->kmin, MOG_KMAX, &f->kmax, err, errlen) ||
		    get_num(fam, "spread", 0, 100, &f->spread, err, errlen) ||
		    get_num(fam, "sd_min", 1e-4, 100, &f->sdmin, err, errlen) ||
		    get_num(fam, "sd_max", f->sdmin, 100, &f->sdmax, err, errlen))
			return -1;
	} else {
		m->gtasks.src = GEN_SRC_LETTERS;
		if (get_str(fam, "letters", letters, sizeof letters, err, errlen) ||
		    get_num(fam, "point_noise", 0, 1, &m->gtasks.noise, err, errlen))
			return -1;
		if (gen_letters_parse(letters, m->gtasks.letters) < 1) {
			snprintf(err, errlen, "header: 'letters' must be letters A-Z a-z");
			return -1;
		}
	}
	g = malloc(sizeof *g);
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (gen_init(g, &m->lay, c) != AM_OK) {
		free(g);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (m->gtasks.src == GEN_SRC_IMAGES) {
		json_t *im = json_object_get(m->header, "images");
		int npix, k, nf;

		if (!json_is_object(im) ||
		    get_str(im, "dataset", m->dataset, sizeof m->dataset, err, errlen) ||
		    get_int(im, "pixels", 1, PCA_NPIX_MAX, &npix, err, errlen) ||
		    get_int(im, "features", 1, GEN_XMAX, &k, err, errlen) ||
		    get_int(im, "pca_floats", 1, 1 << 26, &nf, err, errlen)) {
			free(g);
			if (!json_is_object(im))
				snprintf(err, errlen, "header: 'images' must be an object");
			return -1;
		}
		if ((size_t)nf != pca_floats(npix, k) ||
		    layout_add1(&m->lay, "pca", nf) == (size_t)-1) {
			free(g);
			snprintf(err, errlen, "header: 'pca_floats' does not match "
				 "pixels and features");
			return -1;
		}
		m->has_pca = 1;
	}
	m->impl = g;
	m->az.family = c->kind == GEN_MOG ? AMZ_MOG : c->kind == GEN_FLOW ?
		       AMZ_FLOW : c->kind == GEN_REG ? AMZ_REG : AMZ_CLF;
	/* an implicit session keeps no adapted state (one float), a
	 * classification session its K after the state */
	m->az.nstate = (c->implicit_ ? 1 : g->nstate) - (c->implicit_ && c->kind == GEN_CLF) +
		       (c->kind == GEN_CLF);
	m->az.dmax = g->dx;
	m->az.has_labels = c->kind == GEN_CLF;
	m->az.has_y = c->kind == GEN_CLF || c->kind == GEN_REG;
	m->az.has_mean = c->kind == GEN_REG;
	m->az.implicit = c->implicit_;
	m->az.qstate = c->implicit_ ? g->sq : 0;
	m->az.classes = c->kind == GEN_CLF ? m->gtasks.cfam.kmax : 0;
	m->az.standardize = m->gtasks.src != GEN_SRC_IMAGES;
	m->az.bmax = c->bmax;
	m->az.has_density = c->kind == GEN_MOG;
	m->az.can_sample = c->kind == GEN_MOG || c->kind == GEN_FLOW;
	m->az.flow_steps = c->flow_steps;
	m->az.impl = g;
	return 0;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	free(m->p);
	m->p = NULL;
	free(m->impl);
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

int model_load(struct model *m, const char *path, char *err, size_t errlen)
{
	struct amfile f;
	struct model tmp;
	json_error_t jerr;
	json_t *arch, *fam;
	char variant[16];
	int fmt, rc;

	memset(&tmp, 0, sizeof tmp);
	layout_init(&tmp.lay);
	if (amfile_read(path, &f, err, errlen) != AM_OK)
		return -1;
	snprintf(tmp.checksum, sizeof tmp.checksum, "%08x",
		 amfile_crc32(f.data, f.layout.total * sizeof(float)));
	tmp.header = json_loadb(f.header, f.header_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!tmp.header || !json_is_object(tmp.header)) {
		snprintf(err, errlen, "header is not a JSON object: %s",
			 tmp.header ? "wrong type" : jerr.text);
		goto fail;
	}
	arch = json_object_get(tmp.header, "arch");
	fam = json_object_get(tmp.header, "family");
	/* what kind of model it is comes first: that is the useful message
	 * for a file of another kind */
	if (get_str(tmp.header, "task_family", tmp.family, sizeof tmp.family, err, errlen))
		goto fail;
	/* a linreg-task model with a "kind" is the reg family (gen.h), not
	 * the parametric refiner */
	if (!strcmp(tmp.family, "mixtures") || !strcmp(tmp.family, "letters") ||
	    !strcmp(tmp.family, "linclass") || !strcmp(tmp.family, "images") ||
	    (!strcmp(tmp.family, "linreg") && json_object_get(tmp.header, "kind"))) {
		if (load_gen(&tmp, arch, fam, err, errlen))
			goto fail;
		tmp.p = calloc(tmp.lay.total, sizeof *tmp.p);
		if (!tmp.p) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (amfile_bind(&f, &tmp.lay, tmp.p, err, errlen) != AM_OK)
			goto fail;
		if (tmp.has_pca) {
			const struct layout_view *v = layout_find(&tmp.lay, "pca");
			struct pca *pc = calloc(1, sizeof *pc);

			if (!pc) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			if (pca_unpack(pc, tmp.p + v->offset, v->size, err,
				       errlen) != AM_OK) {
				free(pc);
				goto fail;
			}
			tmp.pca = pc;
			tmp.az.npix = pc->npix;
		}
		amfile_free(&f);
		*m = tmp;
		m->az.p = m->p;
		m->az.pca = m->pca;
		return 0;
	}
	if (strcmp(tmp.family, "linreg")) {
		snprintf(err, errlen, "task family '%s' is not one this build serves "
			 "(linreg, linclass, images, mixtures, letters)", tmp.family);
		goto fail;
	}
	if (get_str(tmp.header, "name", tmp.name, sizeof tmp.name, err, errlen) ||
	    get_str(tmp.header, "variant", variant, sizeof variant, err, errlen) ||
	    get_int(tmp.header, "format", 1, 1, &fmt, err, errlen))
		goto fail;
	if (model_variant_parse(variant, &tmp.cfg.variant)) {
		snprintf(err, errlen, "header: unknown variant '%s'", variant);
		goto fail;
	}
	if (!json_is_object(arch) || !json_is_object(fam)) {
		snprintf(err, errlen, "header: 'arch' and 'family' must be objects");
		goto fail;
	}
	if (get_int(arch, "width", 8, 1024, &tmp.cfg.C, err, errlen) ||
	    get_int(arch, "heads", 1, 1024, &tmp.cfg.H, err, errlen) ||
	    get_int(arch, "layers", 1, TFM_LAYERS_MAX, &tmp.cfg.L, err, errlen) ||
	    get_int(tmp.header, "batch", 1, REFINER_BMAX, &tmp.cfg.bmax, err, errlen) ||
	    get_int(tmp.header, "steps_trained", 1, 4096, &tmp.cfg.ksteps, err, errlen) ||
	    get_int(tmp.header, "passes", 1, REFINER_PASSES_MAX, &tmp.cfg.passes, err, errlen) ||
	    get_int(fam, "dmin", 1, LINREG_DMAX, &tmp.fam.dmin, err, errlen) ||
	    get_int(fam, "dmax", tmp.fam.dmin, LINREG_DMAX, &tmp.fam.dmax, err, errlen) ||
	    get_num(fam, "noise_min", 1e-6, 100, &tmp.fam.smin, err, errlen) ||
	    get_num(fam, "noise_max", tmp.fam.smin, 100, &tmp.fam.smax, err, errlen))
		goto fail;
	if (refiner_config_check(&tmp.cfg, err, errlen) != AM_OK)
		goto fail;
	rc = refiner_init(&tmp.ref, &tmp.lay, &tmp.cfg);
	if (rc != AM_OK) {
		snprintf(err, errlen, "%s", am_strerror(rc));
		goto fail;
	}
	tmp.p = calloc(tmp.lay.total, sizeof *tmp.p);
	if (!tmp.p) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (amfile_bind(&f, &tmp.lay, tmp.p, err, errlen) != AM_OK)
		goto fail;
	tmp.impl = malloc(sizeof tmp.ref);
	if (!tmp.impl) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(tmp.impl, &tmp.ref, sizeof tmp.ref);
	amfile_free(&f);
	*m = tmp;
	m->az.family = AMZ_LINREG;
	m->az.nstate = REFINER_S;
	m->az.dmax = LINREG_DMAX;
	m->az.bmax = m->cfg.bmax;
	m->az.has_y = 1;
	m->az.has_mean = 1;
	m->az.has_var = 1;
	m->az.standardize = 1;
	m->az.impl = m->impl;
	m->az.p = m->p;
	return 0;
fail:
	amfile_free(&f);
	model_free(&tmp);
	return -1;
}
