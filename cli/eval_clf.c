/*
 * eval_clf.c - `amort eval` on a classification model: held-out error
 * per step count against full-batch L2 logistic regression, tuned
 * single-pass SGD and Adam and the one-step amortizer, in and out of
 * distribution, as Markdown tables (and CSV).
 *
 * linclass models: in distribution the training family and the issue's
 * target cell (D = 16, 4 classes); out of distribution more inputs than
 * trained (1.5 times the widest: D = 48 for a family up to 32) and
 * noisier labels (temperature 1).  Image models:
 * their dataset's test split (10 classes; and 2 to 10 random classes),
 * and out of distribution the other dataset through the model's PCA.
 *
 * Side by side (eval_run_clf_many: several linclass models, or several
 * image models of one dataset): per block one table with a column per
 * model on the same tasks; the baselines are computed once, with the
 * first model (the others run with skip_baselines).  Image models whose
 * PCAs are the same floats share one set of features; otherwise each
 * model sees the same images through its own PCA and the baselines go
 * through the first model's (the output says which).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "eval/clfeval.h"
#include "base/gemm.h"
#include "data/images.h"
#include "model/model.h"
#include "cli/eval.h"

struct cblock {
	char title[128];
	struct source stream, query, tune;
	struct eval_row rows[EVAL_RUN_KS_MAX];
	/* image blocks: the linear ceiling (clfeval_ceiling) */
	float ceil[LINCLASS_P], ceil_l2;
	int has_ceil, ceil_n;
};

static const int cks[] = { 1, 2, 4, 8, 16, 32 };

/* The CSV, single and side by side: its first line and its fields. */
static const char csv_header[] = "model,block,k,amortizer,full_batch,sgd,adam,"
	"onestep,bayes,ceiling,change,change_se\n";
static const struct report_col csv_cols[] = {
	{ .a = REPORT_K }, { .fmt = "%.6f", .a = REPORT_AMORT },
	{ .fmt = "%.6f", .a = REPORT_B(EVAL_FULL) }, { .fmt = "%.6f", .a = REPORT_B(EVAL_SGD) },
	{ .fmt = "%.6f", .a = REPORT_B(EVAL_ADAM) }, { .fmt = "%.6f", .a = REPORT_ONESTEP },
	{ .fmt = "%.6f", .a = REPORT_FLOOR }, { .fmt = "%.6f", .a = REPORT_B(EVAL_CEILING) },
	{ .a = REPORT_STEP_DEC },
};
#define CSV_NCOL ((int)(sizeof csv_cols / sizeof csv_cols[0]))

/* One model's table; its second to last column is the teacher's error
 * (linclass) or the whole-split fit's (images). */
static const struct report_col one_cols[] = {
	{ .head = "k", .a = REPORT_K },
	{ .head = "rows", .a = REPORT_ROWS },
	{ .head = "amortizer", .fmt = "%.4f", .a = REPORT_AMORT },
	{ .head = "step (SE)", .a = REPORT_STEP_DEC },
	{ .head = "full batch (L2)", .fmt = "%.4f (%.0e)", .a = REPORT_B(EVAL_FULL),
	  .x = REPORT_H(EVAL_FULL) },
	{ .head = "SGD (lr)", .fmt = "%.4f (%.2g)", .a = REPORT_B(EVAL_SGD),
	  .x = REPORT_H(EVAL_SGD) },
	{ .head = "Adam (lr)", .fmt = "%.4f (%.2g)", .a = REPORT_B(EVAL_ADAM),
	  .x = REPORT_H(EVAL_ADAM) },
	{ .head = "one-step", .fmt = "%.4f", .a = REPORT_ONESTEP },
	{ .head = "Bayes", .fmt = "%.4f", .a = REPORT_FLOOR },
	{ .head = "amortizer - full", .fmt = "**%+.4f**", .a = REPORT_AMORT,
	  .op = '-', .b = REPORT_B(EVAL_FULL) },
};
static const struct report_col ceil_col = {
	.head = "whole split", .fmt = "%.4f", .a = REPORT_B(EVAL_CEILING)
};

/* Side by side: each model's error, then the baselines (the first
 * model's); the whole split's last, on image tasks. */
static const struct report_col many_cols[] = {
	{ .head = "k", .a = REPORT_K },
	{ .head = "rows", .a = REPORT_ROWS },
	{ .fmt = "%.4f", .a = REPORT_AMORT, .each = 1 },
	{ .head = "full batch (L2)", .fmt = "%.4f", .a = REPORT_B(EVAL_FULL) },
	{ .head = "SGD", .fmt = "%.4f", .a = REPORT_B(EVAL_SGD) },
	{ .head = "Adam", .fmt = "%.4f", .a = REPORT_B(EVAL_ADAM) },
	{ .head = "whole split", .fmt = "%.4f", .a = REPORT_B(EVAL_CEILING) },
};

/* The sentence that says what a block's ceiling is, in a static buffer
 * that the caller prints before the next call. */
static const char *ceiling_words(const struct cblock *b)
{
	static char buf[512];

	snprintf(buf, sizeof buf, "L2 logistic regression over all %d classes, "
		 "fitted on the whole training split (%d images; L2 %.0e, the "
		 "best of 1e-5, 1e-4, 1e-3 fitted on one half and scored on the "
		 "other), restricted to each task's classes: what a softmax "
		 "classifier on these features learns from every training "
		 "image, where more rows of one task stop helping a linear "
		 "state.",
		 b->tune.img->nclass, b->ceil_n, (double)b->ceil_l2);
	return buf;
}

/* Fits block b's linear ceiling on the training split of it (whose halves
 * choose the L2).  0, or -1 with a message. */
static int block_ceiling(struct cblock *b, const struct images *it)
{
	int r, c;

	b->ceil_n = 0;
	for (c = 0; c < it->train.nclass; c++)
		b->ceil_n += it->train.cls_count[c];
	fprintf(stderr, "amort eval: linear ceiling on %d training images\n",
		b->ceil_n);
	r = clfeval_ceiling(&it->train_even, &it->train_odd, &it->train, b->ceil,
			    &b->ceil_l2);
	if (r != AM_OK) {
		fprintf(stderr, "amort eval: linear ceiling: %s\n", am_strerror(r));
		return -1;
	}
	b->has_ceil = 1;
	return 0;
}

static void print_cblock(const struct cblock *b, int nk, int B)
{
	struct report_col cols[sizeof one_cols / sizeof one_cols[0]];

	printf("### %s\n\n", b->title);
	printf("Held-out error rate, mean over tasks, after k mini-batches of %d rows. "
	       "Full batch: L2 logistic regression (Newton) on all rows seen, its L2 "
	       "chosen per k on tuning tasks; SGD and Adam: one pass, one step per "
	       "mini-batch, rate tuned per k on the same tuning tasks.", B);
	if (b->has_ceil)
		printf(" Whole split: %s", ceiling_words(b));
	printf(" Step: %s\n\n", report_step_words);
	memcpy(cols, one_cols, sizeof cols);
	if (b->has_ceil)
		cols[8] = ceil_col;
	report_table(cols, (int)(sizeof cols / sizeof cols[0]), NULL, b->rows, 1,
		     nk, B);
	printf("\n");
}

static void linclass_block(struct cblock *b, const struct model *m,
			   const char *title, int dmin, int dmax, int kmin,
			   int kmax, float tmin, float tmax)
{
	memset(b, 0, sizeof *b);
	snprintf(b->title, sizeof b->title, "%s", title);
	b->stream.src = SOURCE_LINCLASS;
	b->stream.cfam = m->gtasks.cfam;
	b->stream.cfam.dmin = dmin;
	b->stream.cfam.dmax = dmax;
	b->stream.cfam.kmin = kmin;
	b->stream.cfam.kmax = kmax;
	b->stream.cfam.temp_min = tmin;
	b->stream.cfam.temp_max = tmax;
	b->query = b->stream;
	b->tune = b->stream;
}

/* A block title's words for tasks of K classes, in a static buffer that
 * the caller copies before the next call. */
static const char *class_words(int K)
{
	static char buf[32];

	if (K == 10)
		return "10 classes";
	snprintf(buf, sizeof buf, "%d random classes of the 10", K);
	return buf;
}

static void image_block(struct cblock *b, const char *title, struct images *it,
			int kmin, int kmax)
{
	memset(b, 0, sizeof *b);
	snprintf(b->title, sizeof b->title, "%s", title);
	it->train.kmin = it->test_even.kmin = it->test_odd.kmin = kmin;
	it->train.kmax = it->test_even.kmax = it->test_odd.kmax = kmax;
	b->stream.src = b->query.src = b->tune.src = SOURCE_IMAGES;
	b->stream.img = &it->test_even;
	b->query.img = &it->test_odd;
	b->tune.img = &it->train;
}

/* Several models side by side: the amortizer's error per model and step
 * count next to the full-batch optimum, per block (the ablations).  cb
 * holds the block once per model, the baselines in cb[0]. */
static void print_ablation(const struct cblock *cb, struct model *ms, int nm,
			   int nk, int B)
{
	struct eval_row rows[TOOL_MODELS_MAX * EVAL_RUN_KS_MAX];
	const char *hp[TOOL_MODELS_MAX], *names[TOOL_MODELS_MAX];
	char heads[TOOL_MODELS_MAX][128];
	int i, ncol = (int)(sizeof many_cols / sizeof many_cols[0]);

	printf("### %s\n\nHeld-out error rate after k mini-batches of %d rows, "
	       "mean over the same tasks for every model.", cb[0].title, B);
	if (cb[0].has_ceil)
		printf(" Whole split: %s", ceiling_words(&cb[0]));
	printf("\n\n");
	for (i = 0; i < nm; i++) {
		const struct gen_config *g = &ms[i].gcfg;

		if (g->regime == GEN_IMPLICIT)
			snprintf(heads[i], sizeof heads[i], "%s (implicit, %s)",
				 ms[i].name, g->qstate == GEN_Q_LOGITS ? "logits" :
				 g->qstate == GEN_Q_PROBS ? "probs" : "latent");
		else
			snprintf(heads[i], sizeof heads[i], "%s (%s, %s%s)",
				 ms[i].name, gen_has_predictor(g) ? "explicit" : "parametric",
				 g->variant == GEN_OBS ? "obs" :
				 g->variant == GEN_GRAD ? "grad" : "both",
				 g->head ? ", head" : "");
		hp[i] = heads[i];
		names[i] = ms[i].name;
		memcpy(rows + (size_t)i * nk, cb[i].rows, (size_t)nk * sizeof *rows);
	}
	report_table(many_cols, cb[0].has_ceil ? ncol : ncol - 1, hp, rows, nm,
		     nk, B);
	printf("\n");
	report_step_table(names, nm, rows, nk, 0);
}

/* Row d gets row e's baselines and floor (side by side, the first model's
 * are every model's). */
static void copy_baselines(struct eval_row *d, const struct eval_row *e)
{
	const unsigned own = EVAL_HAS_AMORT | EVAL_HAS_ONESTEP | EVAL_HAS_CHANGE;

	memcpy(d->base, e->base, sizeof d->base);
	memcpy(d->base_hyper, e->base_hyper, sizeof d->base_hyper);
	d->floor = e->floor;
	d->has = (d->has & own) | (e->has & ~own);
}

/* The largest |difference| between two PCAs' floats (as stored in the
 * model files): 0 when they are the same, HUGE_VAL when their shapes
 * differ, -1 when out of memory. */
static double pca_diff(const struct pca *a, const struct pca *b)
{
	double d = 0.0;
	size_t n, i;
	float *pa, *pb;

	if (a->npix != b->npix || a->k != b->k)
		return HUGE_VAL;
	n = pca_floats(a->npix, a->k);
	pa = malloc(n * sizeof *pa);
	pb = malloc(n * sizeof *pb);
	if (!pa || !pb) {
		free(pa);
		free(pb);
		return -1.0;
	}
	pca_pack(a, pa);
	pca_pack(b, pb);
	for (i = 0; i < n; i++)
		if (fabs((double)pa[i] - pb[i]) > d)
			d = fabs((double)pa[i] - pb[i]);
	free(pa);
	free(pb);
	return d;
}

static const struct eval_rules many_rules = {
	(1u << EVAL_OPT_TASKS) | (1u << EVAL_OPT_TUNE) | (1u << EVAL_OPT_SEED) |
	(1u << EVAL_OPT_DIM) | (1u << EVAL_OPT_CLASSES) | (1u << EVAL_OPT_CSV) |
	(1u << EVAL_OPT_NO_OOD),
	10000, 0, LINCLASS_DMAX, 0, 2, LINCLASS_KMAX,
	"usage: amort eval CLF.amort... [--dim D] [--classes K] [--tasks N] "
	"[--tune-tasks N] [--seed S] [--no-ood] [--csv F]\n", 2
};

/* The evaluator's configuration from the options (tune: tuning tasks, B:
 * the batch); no one-step column, no ceiling. */
static void clf_config(struct eval_run_config *c, const struct eval_opts *o,
		       long tune, long B)
{
	memset(c, 0, sizeof *c);
	c->ntasks = (int)(EVAL_GIVEN(o, EVAL_OPT_TASKS) ? o->tasks : 100);
	c->tune_tasks = (int)tune;
	c->B = (int)B;
	c->nk = (int)(sizeof cks / sizeof cks[0]);
	memcpy(c->ks, cks, sizeof cks);
	c->ntest = 500;
	c->max_rows = GEN_BMAX;
	c->seed = (uint64_t)o->seed;
}

/* The held-out evaluator on model m's session contract over block b's
 * sources, with the block's ceiling when ceil is set. */
static int run_block(const struct model *m, const struct cblock *b, int ceil,
		     const struct eval_run_config *c, struct eval_row *rows)
{
	struct eval_sources s = { &b->stream, &b->query, &b->tune,
				  ceil && b->has_ceil ? b->ceil : NULL };

	return eval_run(&clfeval_family, &m->az, &s, c, rows);
}

/* The CSV of nb blocks of nm models each (cb[block * nm + model]).  0, or
 * -1 after a message. */
static int write_csv(const char *csv, const struct model *ms, int nm,
		     const struct cblock *cb, int nb, int nk)
{
	FILE *cf = report_csv_open(csv, csv_header);
	int bi, i;

	if (!cf)
		return -1;
	for (bi = 0; bi < nb; bi++)
		for (i = 0; i < nm; i++)
			report_csv(cf, ms[i].name, cb[bi * nm + i].title, 1, csv_cols,
				   CSV_NCOL, cb[bi * nm + i].rows, nk, 0);
	return report_csv_close(cf, csv);
}

/* A side-by-side evaluation: the models, their blocks and features. */
struct many {
	struct model *ms;
	int nm, nb, images, nowne;	/* nowne: models with their own PCA */
	struct cblock *cb;		/* [block * nm + model] */
	struct images *img;		/* [model * 2 + block]: model 0's, and
					 * a model's own if its PCA differs */
	int *fs;			/* the model whose features a model uses */
	double *pdiff;			/* pca_diff against model 0's */
	struct eval_run_config c;
};

/* Whether the models can go side by side: 0, or the exit status after a
 * message. */
static int many_check(const struct model *ms, int nm, const struct eval_opts *o)
{
	int i, images = ms[0].gtasks.src == SOURCE_IMAGES;

	for (i = 0; i < nm; i++) {
		if (ms[i].gtasks.src != SOURCE_LINCLASS &&
		    ms[i].gtasks.src != SOURCE_IMAGES) {
			fprintf(stderr, "amort eval: %s: side by side works on linclass "
				"and image models\n", ms[i].name);
			return 1;
		}
		if (ms[i].gtasks.src != ms[0].gtasks.src ||
		    (images && strcmp(ms[i].dataset, ms[0].dataset))) {
			fprintf(stderr, "amort eval: side by side needs models of one "
				"dataset: %s was trained on %s, %s on %s\n", ms[0].name,
				images ? ms[0].dataset : "linclass tasks", ms[i].name,
				ms[i].gtasks.src == SOURCE_IMAGES ? ms[i].dataset :
				"linclass tasks");
			return 1;
		}
		if (images && !ms[i].pca) {
			fprintf(stderr, "amort eval: %s: an image model without its "
				"PCA\n", ms[i].name);
			return 1;
		}
		if (ms[i].gcfg.bmax != ms[0].gcfg.bmax) {
			fprintf(stderr, "amort eval: the models have different batch sizes\n");
			return 1;
		}
	}
	if (images && EVAL_GIVEN(o, EVAL_OPT_DIM)) {
		fprintf(stderr, "amort eval: --dim is for linclass models (image "
			"tasks have the PCA's features)\n");
		return 2;
	}
	return 0;
}

/* The image blocks: each model's features (its own PCA's where it
 * differs from the first model's), the dataset's test split and (ood) the
 * other dataset, and the first model's linear ceiling.  0, or -1 after a
 * message. */
static int many_images(struct many *x, int ood, int classes)
{
	const struct model *ms = x->ms;
	const char *other = strcmp(ms[0].dataset, "mnist") ? "mnist" : "fashion-mnist";
	char t[2][128], err[512];
	int i, bi, nm = x->nm;

	/* the models' own PCAs: one set of features when they agree */
	for (i = 1; i < nm; i++) {
		x->pdiff[i] = pca_diff(ms[i].pca, ms[0].pca);
		if (x->pdiff[i] < 0) {
			fprintf(stderr, "amort eval: out of memory\n");
			return -1;
		}
		x->fs[i] = x->pdiff[i] == 0.0 ? 0 : i;
		x->nowne += x->fs[i] != 0;
	}
	x->nb = ood ? 2 : 1;
	for (i = 0; i < nm; i++) {
		if (x->fs[i] != i)
			continue;
		if (images_open(&x->img[2 * i], ms[0].dataset, ms[i].pca, 2, 10,
				 err, sizeof err)) {
			fprintf(stderr, "amort eval: %s\n", err);
			return -1;
		}
		if (x->nb == 2 && images_open(&x->img[2 * i + 1], other, ms[i].pca,
					       2, 10, err, sizeof err)) {
			fprintf(stderr, "amort eval: %s (skipping the "
				"out-of-distribution block)\n", err);
			x->nb = 1;
		}
	}
	snprintf(t[0], sizeof t[0], "in distribution: %s test split, %s",
		 ms[0].dataset, class_words(classes));
	snprintf(t[1], sizeof t[1], "out of distribution: %s (through the "
		 "%s PCA), %s", other, ms[0].dataset, class_words(classes));
	for (bi = 0; bi < x->nb; bi++) {
		for (i = 0; i < nm; i++)
			image_block(&x->cb[bi * nm + i], t[bi],
				    &x->img[2 * x->fs[i] + bi], classes, classes);
		if (block_ceiling(&x->cb[bi * nm], &x->img[bi]))
			return -1;
	}
	return 0;
}

/* Every model on every block: the baselines once, with the first model;
 * the tasks depend on the seed only, so every model sees the same rows.
 * 0, or -1 after a message. */
static int many_run(struct many *x)
{
	int bi, i, j, r, nm = x->nm;

	for (bi = 0; bi < x->nb; bi++)
		for (i = 0; i < nm; i++) {
			struct cblock *b = &x->cb[bi * nm + i];

			if (x->images)
				fprintf(stderr, "amort eval: %s: %s\n", b->title,
					x->ms[i].name);
			x->c.skip_baselines = i > 0;
			r = run_block(&x->ms[i], b, !i, &x->c, b->rows);
			if (r != AM_OK) {
				fprintf(stderr, "amort eval: %s: %s\n", x->ms[i].name,
					am_strerror(r));
				return -1;
			}
			for (j = 0; i && j < x->c.nk; j++)
				copy_baselines(&b->rows[j], &x->cb[bi * nm].rows[j]);
		}
	return 0;
}

/* What the output says of image models' PCAs side by side. */
static void print_pcas(const struct many *x)
{
	const struct model *ms = x->ms;
	int i;

	if (!x->images || x->nm < 2)
		return;
	if (!x->nowne) {
		printf("The %d models' PCAs are identical (the same %zu floats): one "
		       "set of features for all.\n\n", x->nm,
		       pca_floats(ms[0].pca->npix, ms[0].pca->k));
		return;
	}
	printf("The PCAs against %s's, float by float:", ms[0].name);
	for (i = 1; i < x->nm; i++)
		if (!x->fs[i])
			printf(" %s's identical;", ms[i].name);
		else if (x->pdiff[i] == HUGE_VAL)
			printf(" %s's differs (%d features of %d pixels, not "
			       "%d of %d);", ms[i].name, ms[i].pca->k,
			       ms[i].pca->npix, ms[0].pca->k, ms[0].pca->npix);
		else
			printf(" %s's differs (by up to %.2g);", ms[i].name,
			       x->pdiff[i]);
	printf(" every model sees the same images through its own PCA "
	       "(or an identical one), the baselines through %s's.\n\n",
	       ms[0].name);
}

static void many_free(struct many *x)
{
	int i;

	if (x->img)
		for (i = 0; i < 2 * x->nm; i++)
			if (x->img[i].test_f)
				images_close(&x->img[i]);
	free(x->img);
	free(x->fs);
	free(x->pdiff);
	free(x->cb);
}

int eval_run_clf_many(struct model *ms, int nm, const struct eval_opts *o)
{
	long tune = EVAL_GIVEN(o, EVAL_OPT_TUNE) ? o->tune : 16;
	long dim = EVAL_GIVEN(o, EVAL_OPT_DIM) ? o->dim : 16;
	long classes = EVAL_GIVEN(o, EVAL_OPT_CLASSES) ? o->classes : 4;
	const struct linclass_family *f = &ms[0].gtasks.cfam;
	struct many x;
	int i, bi, rc;

	if ((rc = eval_opts_check(o, &many_rules)) || (rc = many_check(ms, nm, o)))
		return rc;
	memset(&x, 0, sizeof x);
	x.ms = ms;
	x.nm = nm;
	x.images = ms[0].gtasks.src == SOURCE_IMAGES;
	if (x.images && !EVAL_GIVEN(o, EVAL_OPT_CLASSES))
		classes = 10;	/* linclass's default is 4 */
	x.cb = calloc((size_t)2 * nm, sizeof *x.cb);
	x.img = calloc((size_t)2 * nm, sizeof *x.img);
	x.fs = calloc((size_t)nm, sizeof *x.fs);
	x.pdiff = calloc((size_t)nm, sizeof *x.pdiff);
	rc = 1;
	if (!x.cb || !x.img || !x.fs || !x.pdiff) {
		fprintf(stderr, "amort eval: out of memory\n");
		goto out;
	}
	gemm_set_threads(1);
	clf_config(&x.c, o, tune, ms[0].gcfg.bmax);
	if (!x.images) {
		char t[128];

		snprintf(t, sizeof t, "D = %ld, %ld classes (temperature %.2g to %.2g)",
			 dim, classes, (double)f->temp_min, (double)f->temp_max);
		for (i = 0; i < nm; i++)
			linclass_block(&x.cb[i], &ms[0], t, (int)dim, (int)dim,
				       (int)classes, (int)classes, f->temp_min,
				       f->temp_max);
		x.nb = 1;
	} else if (many_images(&x, o->ood, (int)classes)) {
		goto out;
	}
	if (many_run(&x))
		goto out;
	printf("## side by side: %ld tasks, %ld tuning tasks, seed %ld\n\n",
	       (long)x.c.ntasks, tune, o->seed);
	print_pcas(&x);
	for (bi = 0; bi < x.nb; bi++)
		print_ablation(&x.cb[bi * nm], ms, nm, x.c.nk, x.c.B);
	if (!o->csv || !write_csv(o->csv, ms, nm, x.cb, x.nb, x.c.nk))
		rc = 0;
out:
	many_free(&x);
	return rc;
}

/* One linclass model's blocks: the target cell and the training
 * family and, with ood, wider inputs and noisier labels; their count. */
static int linclass_blocks(struct cblock *blocks, const struct model *m, int ood)
{
	const struct linclass_family *f = &m->gtasks.cfam;
	/* half as many inputs again as the widest trained */
	int dw = f->dmax * 3 / 2 < LINCLASS_DMAX ? f->dmax * 3 / 2 : LINCLASS_DMAX;
	char tw[96];

	linclass_block(&blocks[0], m, "in distribution: D = 16, 4 classes "
		       "(temperature as trained)", 16, 16, 4, 4, f->temp_min,
		       f->temp_max);
	linclass_block(&blocks[1], m, "in distribution: the training family",
		       f->dmin, f->dmax, f->kmin, f->kmax, f->temp_min, f->temp_max);
	if (!ood)
		return 2;
	snprintf(tw, sizeof tw, "out of distribution: D = %d (trained up to %d), "
		 "4 classes", dw, f->dmax);
	linclass_block(&blocks[2], m, tw, dw, dw, 4, 4, f->temp_min, f->temp_max);
	linclass_block(&blocks[3], m, "out of distribution: noisier labels "
		       "(temperature 1), D = 16, 4 classes", 16, 16, 4, 4, 1.0f,
		       1.0f);
	return 4;
}

/* One image model's blocks: its dataset's test split and, with ood, the
 * other dataset through its PCA, each with its linear ceiling; opens
 * img[0..*nimg).  The count of blocks, or -1 after a message. */
static int image_blocks(struct cblock *blocks, const struct model *m, int ood,
			int classes, struct images *img, int *nimg)
{
	const char *other = strcmp(m->dataset, "mnist") ? "mnist" : "fashion-mnist";
	char t[128], err[512];

	if (images_open(&img[0], m->dataset, m->pca, 2, 10, err, sizeof err)) {
		fprintf(stderr, "amort eval: %s\n", err);
		return -1;
	}
	*nimg = 1;
	snprintf(t, sizeof t, "in distribution: %s test split, %s", m->dataset,
		 class_words(classes));
	image_block(&blocks[0], t, &img[0], classes, classes);
	if (block_ceiling(&blocks[0], &img[0]))
		return -1;
	if (!ood)
		return 1;
	if (images_open(&img[1], other, m->pca, 2, 10, err, sizeof err)) {
		fprintf(stderr, "amort eval: %s (skipping the out-of-distribution "
			"block)\n", err);
		return 1;
	}
	*nimg = 2;
	snprintf(t, sizeof t, "out of distribution: %s (through the %s PCA), %s",
		 other, m->dataset, class_words(classes));
	image_block(&blocks[1], t, &img[1], classes, classes);
	if (block_ceiling(&blocks[1], &img[1]))
		return -1;
	return 2;
}

/* "## name (family, regime, state or variant): ..." */
static void print_heading(const struct model *m,
			  const struct eval_run_config *c)
{
	const struct gen_config *g = &m->gcfg;

	printf("## %s (%s, %s regime, %s %s): %ld tasks, %ld tuning "
	       "tasks, seed %ld\n\n", m->name, m->family,
	       g->regime == GEN_IMPLICIT ? "implicit" : g->head ? "explicit (head predictor)" :
	       gen_has_predictor(g) ? "explicit" : "parametric",
	       g->regime == GEN_IMPLICIT ? (g->qstate == GEN_Q_LOGITS ? "logits" :
			       g->qstate == GEN_Q_PROBS ? "probs" : "latent") :
	       g->variant == GEN_OBS ? "obs" : g->variant == GEN_GRAD ? "grad" :
	       "both", g->regime == GEN_IMPLICIT ? "state" : "variant", (long)c->ntasks,
	       (long)c->tune_tasks, (long)c->seed);
}

int eval_run_clf(struct model *m, const struct eval_opts *o)
{
	const struct eval_rules rules = {
		(1u << EVAL_OPT_TASKS) | (1u << EVAL_OPT_TUNE) |
		(1u << EVAL_OPT_SEED) | (1u << EVAL_OPT_BATCH) |
		(1u << EVAL_OPT_CLASSES) | (1u << EVAL_OPT_CSV) |
		(1u << EVAL_OPT_NO_OOD),
		10000, 0, 0, m->gcfg.bmax, 2, LINCLASS_KMAX,
		"usage: amort eval FILE [--tasks N] [--tune-tasks N] [--seed S] "
		"[--batch B] [--classes K (image models)] [--no-ood] [--csv F]\n",
		1	/* as it has always been */
	};
	long classes = EVAL_GIVEN(o, EVAL_OPT_CLASSES) ? o->classes : 10;
	struct cblock *blocks = calloc(6, sizeof *blocks);
	struct images img[2];
	struct eval_run_config c;
	int i, nb, rc, nimg = 0;

	if (!blocks) {
		fprintf(stderr, "amort eval: out of memory\n");
		return 1;
	}
	if ((rc = eval_opts_check(o, &rules)))
		goto out;
	gemm_set_threads(1);
	clf_config(&c, o, EVAL_GIVEN(o, EVAL_OPT_TUNE) ? o->tune : 16,
		   EVAL_GIVEN(o, EVAL_OPT_BATCH) ? o->batch : m->gcfg.bmax);
	c.onestep_max_rows = GEN_BMAX;
	rc = 2;
	if (m->gtasks.src == SOURCE_LINCLASS && EVAL_GIVEN(o, EVAL_OPT_CLASSES)) {
		fprintf(stderr, "amort eval: --classes alone is for image models; a "
			"linclass model's blocks have their own classes (give it "
			"--dim D --classes K beside another model for one block)\n");
		goto out;
	}
	rc = 1;
	nb = m->gtasks.src == SOURCE_LINCLASS ? linclass_blocks(blocks, m, o->ood) :
	     image_blocks(blocks, m, o->ood, (int)classes, img, &nimg);
	if (nb < 0)
		goto out;
	for (i = 0; i < nb; i++) {
		int r;

		fprintf(stderr, "amort eval: %s\n", blocks[i].title);
		r = run_block(m, &blocks[i], 1, &c, blocks[i].rows);
		if (r != AM_OK) {
			fprintf(stderr, "amort eval: %s\n", am_strerror(r));
			goto out;
		}
	}
	print_heading(m, &c);
	for (i = 0; i < nb; i++)
		print_cblock(&blocks[i], c.nk, c.B);
	if (!o->csv || !write_csv(o->csv, m, 1, blocks, nb, c.nk))
		rc = 0;
out:
	for (i = 0; i < nimg; i++)
		images_close(&img[i]);
	free(blocks);
	return rc;
}
