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
 * Side by side (tool_clfeval_many: several linclass models, or several
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
#include "cli/imgtask.h"
#include "model/model.h"
#include "cli/tool.h"

struct cblock {
	char title[128];
	struct gen_tasks stream, query, tune;
	struct eval_row rows[CLFEVAL_KS_MAX];
	/* image blocks: the linear ceiling (clfeval_ceiling) */
	float ceil[LINCLASS_P], ceil_l2;
	int has_ceil, ceil_n;
};

static const int cks[] = { 1, 2, 4, 8, 16, 32 };

/* The CSV's columns, single and side by side (csv_cblock writes a row). */
static const char csv_header[] = "model,block,k,amortizer,full_batch,sgd,adam,"
	"onestep,bayes,ceiling,change,change_se\n";

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
static int block_ceiling(struct cblock *b, const struct imgtask *it)
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

/* The step of row e, for report.c. */
static struct tool_step clf_step(const struct eval_row *e)
{
	return (struct tool_step){ e->k, !!(e->has & EVAL_HAS_CHANGE), e->change, e->change_se };
}

static void print_cblock(const struct cblock *b, int nk, int B)
{
	int j;

	printf("### %s\n\n", b->title);
	printf("Held-out error rate, mean over tasks, after k mini-batches of %d rows. "
	       "Full batch: L2 logistic regression (Newton) on all rows seen, its L2 "
	       "chosen per k on tuning tasks; SGD and Adam: one pass, one step per "
	       "mini-batch, rate tuned per k on the same tuning tasks.", B);
	if (b->has_ceil)
		printf(" Whole split: %s", ceiling_words(b));
	printf(" Step: %s", tool_step_words);
	printf("\n\n| k | rows | amortizer | step (SE) | full batch (L2) | SGD (lr) | "
	       "Adam (lr) | one-step | %s | amortizer - full |\n",
	       b->has_ceil ? "whole split" : "Bayes");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &b->rows[j];
		struct tool_step st = clf_step(e);
		char os[32] = "-", by[32] = "-", ch[64];

		if ((e->has & EVAL_HAS_ONESTEP))
			snprintf(os, sizeof os, "%.4f", e->onestep);
		if ((e->has & EVAL_HAS_FLOOR))
			snprintf(by, sizeof by, "%.4f", e->floor);
		if ((e->has & EVAL_HAS_BASE(EVAL_CEILING)))
			snprintf(by, sizeof by, "%.4f", e->base[EVAL_CEILING]);
		printf("| %d | %d | %.4f | %s | %.4f (%.0e) | %.4f (%.2g) | %.4f "
		       "(%.2g) | %s | %s | **%+.4f** |\n", e->k, e->k * B, e->amort,
		       tool_step_cell(&st, 0, ch, sizeof ch), e->base[EVAL_FULL], (double)e->base_hyper[EVAL_FULL],
		       e->base[EVAL_SGD], (double)e->base_hyper[EVAL_SGD], e->base[EVAL_ADAM], (double)e->base_hyper[EVAL_ADAM], os,
		       by, e->amort - e->base[EVAL_FULL]);
	}
	printf("\n");
}

static void csv_cblock(FILE *f, const char *model, const struct cblock *b, int nk)
{
	int j;

	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &b->rows[j];
		struct tool_step st = clf_step(e);

		fprintf(f, "%s,\"%s\",%d,%.6f,%.6f,%.6f,%.6f,", model, b->title, e->k,
			e->amort, e->base[EVAL_FULL], e->base[EVAL_SGD], e->base[EVAL_ADAM]);
		if ((e->has & EVAL_HAS_ONESTEP))
			fprintf(f, "%.6f", e->onestep);
		fprintf(f, ",");
		if ((e->has & EVAL_HAS_FLOOR))
			fprintf(f, "%.6f", e->floor);
		fprintf(f, ",");
		if ((e->has & EVAL_HAS_BASE(EVAL_CEILING)))
			fprintf(f, "%.6f", e->base[EVAL_CEILING]);
		fprintf(f, ",");
		tool_step_csv(f, &st, 0);
		fprintf(f, "\n");
	}
}

static void linclass_block(struct cblock *b, const struct model *m,
			   const char *title, int dmin, int dmax, int kmin,
			   int kmax, float tmin, float tmax)
{
	memset(b, 0, sizeof *b);
	snprintf(b->title, sizeof b->title, "%s", title);
	b->stream.src = GEN_SRC_LINCLASS;
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

static void image_block(struct cblock *b, const char *title, struct imgtask *it,
			int kmin, int kmax)
{
	memset(b, 0, sizeof *b);
	snprintf(b->title, sizeof b->title, "%s", title);
	it->train.kmin = it->test_even.kmin = it->test_odd.kmin = kmin;
	it->train.kmax = it->test_even.kmax = it->test_odd.kmax = kmax;
	b->stream.src = b->query.src = b->tune.src = GEN_SRC_IMAGES;
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
	struct tool_step st[TOOL_MODELS_MAX * CLFEVAL_KS_MAX];
	const char *names[TOOL_MODELS_MAX];
	int i, j;

	printf("### %s\n\nHeld-out error rate after k mini-batches of %d rows, "
	       "mean over the same tasks for every model.", cb[0].title, B);
	if (cb[0].has_ceil)
		printf(" Whole split: %s", ceiling_words(&cb[0]));
	printf("\n\n| k | rows |");
	for (i = 0; i < nm; i++) {
		const struct gen_config *g = &ms[i].gcfg;

		if (g->implicit_)
			printf(" %s (implicit, %s) |", ms[i].name,
			       g->qstate == GEN_Q_LOGITS ? "logits" :
			       g->qstate == GEN_Q_PROBS ? "probs" : "latent");
		else
			printf(" %s (%s, %s%s) |", ms[i].name,
			       g->explicit_ ? "explicit" : "parametric",
			       g->variant == GEN_OBS ? "obs" :
			       g->variant == GEN_GRAD ? "grad" : "both",
			       g->head ? ", head" : "");
	}
	printf(" full batch (L2) | SGD | Adam |%s\n|---|---|",
	       cb[0].has_ceil ? " whole split |" : "");
	for (i = 0; i < nm + 3 + cb[0].has_ceil; i++)
		printf("---|");
	printf("\n");
	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &cb[0].rows[j];

		printf("| %d | %d |", e->k, e->k * B);
		for (i = 0; i < nm; i++)
			printf(" %.4f |", cb[i].rows[j].amort);
		printf(" %.4f | %.4f | %.4f |", e->base[EVAL_FULL], e->base[EVAL_SGD], e->base[EVAL_ADAM]);
		if ((e->has & EVAL_HAS_BASE(EVAL_CEILING)))
			printf(" %.4f |", e->base[EVAL_CEILING]);
		printf("\n");
	}
	printf("\n");
	for (i = 0; i < nm; i++) {
		names[i] = ms[i].name;
		for (j = 0; j < nk; j++)
			st[i * nk + j] = clf_step(&cb[i].rows[j]);
	}
	tool_step_table(names, nm, st, nk, 0);
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

int tool_clfeval_many(struct model *ms, int nm, int argc, char **argv)
{
	long tasks = 100, tune = 16, seed = 12345, dim = 16, classes = 4;
	const char *csv = NULL;
	struct cblock *cb = NULL;	/* [block * nm + model] */
	struct imgtask *img = NULL;	/* [model * 2 + block]: model 0's, and
					 * a model's own if its PCA differs */
	int *fs = NULL;			/* the model whose features a model uses */
	double *pdiff = NULL;		/* pca_diff against model 0's */
	struct clfeval_config c;
	int i, bi, j, nb = 0, rc = 1, ood = 1, images, nowne = 0, linopt = 0;
	int kopt = 0;
	char err[512];
	FILE *cf;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tasks") && i + 1 < argc) {
			if (tool_parse_long("--tasks", argv[++i], 1, 100000, &tasks))
				return 2;
		} else if (!strcmp(argv[i], "--tune-tasks") && i + 1 < argc) {
			if (tool_parse_long("--tune-tasks", argv[++i], 1, 10000, &tune))
				return 2;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (tool_parse_long("--seed", argv[++i], 0, 1L << 40, &seed))
				return 2;
		} else if (!strcmp(argv[i], "--dim") && i + 1 < argc) {
			if (tool_parse_long("--dim", argv[++i], 1, LINCLASS_DMAX, &dim))
				return 2;
			linopt = 1;
		} else if (!strcmp(argv[i], "--classes") && i + 1 < argc) {
			if (tool_parse_long("--classes", argv[++i], 2, LINCLASS_KMAX, &classes))
				return 2;
			kopt = 1;
		} else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			csv = argv[++i];
		} else if (!strcmp(argv[i], "--no-ood")) {
			ood = 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: amort eval CLF.amort... [--dim D] [--classes K] "
				"[--tasks N] [--tune-tasks N] [--seed S] [--no-ood] [--csv F]\n");
			return 2;
		}
	}
	images = ms[0].gtasks.src == GEN_SRC_IMAGES;
	for (i = 0; i < nm; i++) {
		if (ms[i].gtasks.src != GEN_SRC_LINCLASS &&
		    ms[i].gtasks.src != GEN_SRC_IMAGES) {
			fprintf(stderr, "amort eval: %s: side by side works on linclass "
				"and image models\n", ms[i].name);
			return 1;
		}
		if (ms[i].gtasks.src != ms[0].gtasks.src ||
		    (images && strcmp(ms[i].dataset, ms[0].dataset))) {
			fprintf(stderr, "amort eval: side by side needs models of one "
				"dataset: %s was trained on %s, %s on %s\n", ms[0].name,
				images ? ms[0].dataset : "linclass tasks", ms[i].name,
				ms[i].gtasks.src == GEN_SRC_IMAGES ? ms[i].dataset :
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
	if (images && linopt) {
		fprintf(stderr, "amort eval: --dim is for linclass models (image "
			"tasks have the PCA's features)\n");
		return 2;
	}
	if (images && !kopt)
		classes = 10;	/* linclass's default is 4 */
	cb = calloc((size_t)2 * nm, sizeof *cb);
	img = calloc((size_t)2 * nm, sizeof *img);
	fs = calloc((size_t)nm, sizeof *fs);
	pdiff = calloc((size_t)nm, sizeof *pdiff);
	if (!cb || !img || !fs || !pdiff) {
		fprintf(stderr, "amort eval: out of memory\n");
		goto out;
	}
	gemm_set_threads(1);
	memset(&c, 0, sizeof c);
	c.ntasks = (int)tasks;
	c.tune_tasks = (int)tune;
	c.B = ms[0].gcfg.bmax;
	c.nk = (int)(sizeof cks / sizeof cks[0]);
	memcpy(c.ks, cks, sizeof cks);
	c.ntest = 500;
	c.seed = (uint64_t)seed;
	if (!images) {
		char t[128];

		snprintf(t, sizeof t, "D = %ld, %ld classes (temperature %.2g to %.2g)",
			 dim, classes, (double)ms[0].gtasks.cfam.temp_min,
			 (double)ms[0].gtasks.cfam.temp_max);
		for (i = 0; i < nm; i++)
			linclass_block(&cb[i], &ms[0], t, (int)dim, (int)dim,
				       (int)classes, (int)classes,
				       ms[0].gtasks.cfam.temp_min,
				       ms[0].gtasks.cfam.temp_max);
		nb = 1;
	} else {
		const char *other = strcmp(ms[0].dataset, "mnist") ? "mnist" :
				    "fashion-mnist";
		char t[2][128];

		/* the models' own PCAs: one set of features when they agree */
		for (i = 1; i < nm; i++) {
			pdiff[i] = pca_diff(ms[i].pca, ms[0].pca);
			if (pdiff[i] < 0) {
				fprintf(stderr, "amort eval: out of memory\n");
				goto out;
			}
			fs[i] = pdiff[i] == 0.0 ? 0 : i;
			nowne += fs[i] != 0;
		}
		nb = ood ? 2 : 1;
		for (i = 0; i < nm; i++) {
			if (fs[i] != i)
				continue;
			if (imgtask_open(&img[2 * i], ms[0].dataset, ms[i].pca, 2, 10,
					 err, sizeof err)) {
				fprintf(stderr, "amort eval: %s\n", err);
				goto out;
			}
			if (nb == 2 && imgtask_open(&img[2 * i + 1], other, ms[i].pca,
						    2, 10, err, sizeof err)) {
				fprintf(stderr, "amort eval: %s (skipping the "
					"out-of-distribution block)\n", err);
				nb = 1;
			}
		}
		snprintf(t[0], sizeof t[0], "in distribution: %s test split, %s",
			 ms[0].dataset, class_words((int)classes));
		snprintf(t[1], sizeof t[1], "out of distribution: %s (through the "
			 "%s PCA), %s", other, ms[0].dataset, class_words((int)classes));
		for (bi = 0; bi < nb; bi++) {
			for (i = 0; i < nm; i++)
				image_block(&cb[bi * nm + i], t[bi],
					    &img[2 * fs[i] + bi], (int)classes,
					    (int)classes);
			if (block_ceiling(&cb[bi * nm], &img[bi]))
				goto out;
		}
	}
	/* the baselines once, with the first model; the tasks depend on the
	 * seed only, so every model sees the same rows */
	for (bi = 0; bi < nb; bi++)
		for (i = 0; i < nm; i++) {
			struct cblock *b = &cb[bi * nm + i];
			int r;

			if (images)
				fprintf(stderr, "amort eval: %s: %s\n", b->title,
					ms[i].name);
			c.skip_baselines = i > 0;
			c.ceiling = !i && b->has_ceil ? b->ceil : NULL;
			r = clfeval_run(ms[i].impl, ms[i].p, &b->stream, &b->query,
					&b->tune, &c, b->rows);
			if (r != AM_OK) {
				fprintf(stderr, "amort eval: %s: %s\n", ms[i].name,
					am_strerror(r));
				goto out;
			}
			for (j = 0; i && j < c.nk; j++) {
				const struct eval_row *e = &cb[bi * nm].rows[j];
				struct eval_row *o = &b->rows[j];

				o->base[EVAL_FULL] = e->base[EVAL_FULL];
				o->base[EVAL_SGD] = e->base[EVAL_SGD];
				o->base[EVAL_ADAM] = e->base[EVAL_ADAM];
				o->floor = e->floor;
				o->base[EVAL_CEILING] = e->base[EVAL_CEILING];
				o->has |= e->has & (EVAL_HAS_FLOOR |
						    EVAL_HAS_BASE(EVAL_CEILING));
				o->base_hyper[EVAL_FULL] = e->base_hyper[EVAL_FULL];
				o->base_hyper[EVAL_SGD] = e->base_hyper[EVAL_SGD];
				o->base_hyper[EVAL_ADAM] = e->base_hyper[EVAL_ADAM];
			}
		}
	printf("## side by side: %ld tasks, %ld tuning tasks, seed %ld\n\n", tasks,
	       tune, seed);
	if (images && nm > 1 && !nowne)
		printf("The %d models' PCAs are identical (the same %zu floats): one "
		       "set of features for all.\n\n", nm,
		       pca_floats(ms[0].pca->npix, ms[0].pca->k));
	else if (images && nm > 1) {
		printf("The PCAs against %s's, float by float:", ms[0].name);
		for (i = 1; i < nm; i++)
			if (!fs[i])
				printf(" %s's identical;", ms[i].name);
			else if (pdiff[i] == HUGE_VAL)
				printf(" %s's differs (%d features of %d pixels, not "
				       "%d of %d);", ms[i].name, ms[i].pca->k,
				       ms[i].pca->npix, ms[0].pca->k,
				       ms[0].pca->npix);
			else
				printf(" %s's differs (by up to %.2g);", ms[i].name,
				       pdiff[i]);
		printf(" every model sees the same images through its own PCA "
		       "(or an identical one), the baselines through %s's.\n\n",
		       ms[0].name);
	}
	for (bi = 0; bi < nb; bi++)
		print_ablation(&cb[bi * nm], ms, nm, c.nk, c.B);
	if (csv) {
		cf = fopen(csv, "w");
		if (!cf) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
		fputs(csv_header, cf);
		for (bi = 0; bi < nb; bi++)
			for (i = 0; i < nm; i++)
				csv_cblock(cf, ms[i].name, &cb[bi * nm + i], c.nk);
		if (fclose(cf)) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
	}
	rc = 0;
out:
	if (img)
		for (i = 0; i < 2 * nm; i++)
			if (img[i].test_f)
				imgtask_close(&img[i]);
	free(img);
	free(fs);
	free(pdiff);
	free(cb);
	return rc;
}

int tool_clfeval(struct model *m, int argc, char **argv)
{
	const char *csv = NULL;
	long tasks = 100, tune = 16, seed = 12345, batch = m->gcfg.bmax;
	long classes = 10;
	int ood = 1, i, nb = 0, rc = 1, nimg = 0, kopt = 0;
	struct cblock *blocks = calloc(6, sizeof *blocks);
	struct imgtask img[2];
	struct clfeval_config c;
	char err[512];
	FILE *cf;

	if (!blocks) {
		fprintf(stderr, "amort eval: out of memory\n");
		return 1;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tasks") && i + 1 < argc) {
			if (tool_parse_long("--tasks", argv[++i], 1, 100000, &tasks))
				goto out2;
		} else if (!strcmp(argv[i], "--tune-tasks") && i + 1 < argc) {
			if (tool_parse_long("--tune-tasks", argv[++i], 1, 10000, &tune))
				goto out2;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (tool_parse_long("--seed", argv[++i], 0, 1L << 40, &seed))
				goto out2;
		} else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			if (tool_parse_long("--batch", argv[++i], 1, m->gcfg.bmax, &batch))
				goto out2;
		} else if (!strcmp(argv[i], "--classes") && i + 1 < argc) {
			if (tool_parse_long("--classes", argv[++i], 2, LINCLASS_KMAX,
					    &classes))
				goto out2;
			kopt = 1;
		} else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			csv = argv[++i];
		} else if (!strcmp(argv[i], "--no-ood")) {
			ood = 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: amort eval FILE [--tasks N] [--tune-tasks N] "
				"[--seed S] [--batch B] [--classes K (image models)] "
				"[--no-ood] [--csv F]\n");
			rc = 2;
			goto out2;
		}
	}
	gemm_set_threads(1);
	memset(&c, 0, sizeof c);
	c.ntasks = (int)tasks;
	c.tune_tasks = (int)tune;
	c.B = (int)batch;
	c.nk = (int)(sizeof cks / sizeof cks[0]);
	memcpy(c.ks, cks, sizeof cks);
	c.ntest = 500;
	c.onestep_max_rows = GEN_BMAX;
	c.seed = (uint64_t)seed;

	if (m->gtasks.src == GEN_SRC_LINCLASS && kopt) {
		fprintf(stderr, "amort eval: --classes alone is for image models; a "
			"linclass model's blocks have their own classes (give it "
			"--dim D --classes K beside another model for one block)\n");
		rc = 2;
		goto out2;
	}
	if (m->gtasks.src == GEN_SRC_LINCLASS) {
		const struct linclass_family *f = &m->gtasks.cfam;

		linclass_block(&blocks[nb++], m, "in distribution: D = 16, 4 classes "
			       "(temperature as trained)", 16, 16, 4, 4, f->temp_min,
			       f->temp_max);
		linclass_block(&blocks[nb++], m, "in distribution: the training family",
			       f->dmin, f->dmax, f->kmin, f->kmax, f->temp_min,
			       f->temp_max);
		if (ood) {
			/* half as many inputs again as the widest trained */
			char tw[96];
			int dw = f->dmax * 3 / 2 < LINCLASS_DMAX ? f->dmax * 3 / 2 :
				 LINCLASS_DMAX;

			snprintf(tw, sizeof tw, "out of distribution: D = %d (trained "
				 "up to %d), 4 classes", dw, f->dmax);
			linclass_block(&blocks[nb++], m, tw, dw, dw, 4, 4,
				       f->temp_min, f->temp_max);
			linclass_block(&blocks[nb++], m, "out of distribution: noisier "
				       "labels (temperature 1), D = 16, 4 classes", 16,
				       16, 4, 4, 1.0f, 1.0f);
		}
	} else {
		const char *other = strcmp(m->dataset, "mnist") ? "mnist" : "fashion-mnist";
		char t[128];

		if (imgtask_open(&img[0], m->dataset, m->pca, 2, 10, err, sizeof err)) {
			fprintf(stderr, "amort eval: %s\n", err);
			goto out2;
		}
		nimg = 1;
		snprintf(t, sizeof t, "in distribution: %s test split, %s",
			 m->dataset, class_words((int)classes));
		image_block(&blocks[nb], t, &img[0], (int)classes, (int)classes);
		if (block_ceiling(&blocks[nb++], &img[0]))
			goto out;
		if (ood) {
			if (imgtask_open(&img[1], other, m->pca, 2, 10, err, sizeof err)) {
				fprintf(stderr, "amort eval: %s (skipping the "
					"out-of-distribution block)\n", err);
			} else {
				nimg = 2;
				snprintf(t, sizeof t, "out of distribution: %s (through "
					 "the %s PCA), %s", other, m->dataset,
					 class_words((int)classes));
				image_block(&blocks[nb], t, &img[1], (int)classes,
					    (int)classes);
				if (block_ceiling(&blocks[nb++], &img[1]))
					goto out;
			}
		}
	}
	for (i = 0; i < nb; i++) {
		int r;

		fprintf(stderr, "amort eval: %s\n", blocks[i].title);
		c.ceiling = blocks[i].has_ceil ? blocks[i].ceil : NULL;
		r = clfeval_run(m->impl, m->p, &blocks[i].stream, &blocks[i].query,
				&blocks[i].tune, &c, blocks[i].rows);
		if (r != AM_OK) {
			fprintf(stderr, "amort eval: %s\n", am_strerror(r));
			goto out;
		}
	}
	printf("## %s (%s, %s regime, %s %s): %ld tasks, %ld tuning "
	       "tasks, seed %ld\n\n", m->name, m->family,
	       m->gcfg.implicit_ ? "implicit" : m->gcfg.head ?
	       "explicit (head predictor)" : m->gcfg.explicit_ ? "explicit" :
	       "parametric",
	       m->gcfg.implicit_ ? (m->gcfg.qstate == GEN_Q_LOGITS ? "logits" :
				    m->gcfg.qstate == GEN_Q_PROBS ? "probs" : "latent") :
	       m->gcfg.variant == GEN_OBS ? "obs" : m->gcfg.variant == GEN_GRAD ?
	       "grad" : "both", m->gcfg.implicit_ ? "state" : "variant",
	       tasks, tune, seed);
	for (i = 0; i < nb; i++)
		print_cblock(&blocks[i], c.nk, c.B);
	if (csv) {
		cf = fopen(csv, "w");
		if (!cf) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
		fputs(csv_header, cf);
		for (i = 0; i < nb; i++)
			csv_cblock(cf, m->name, &blocks[i], c.nk);
		if (fclose(cf)) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
	}
	rc = 0;
out:
	for (i = 0; i < nimg; i++)
		imgtask_close(&img[i]);
out2:
	free(blocks);
	return rc;
}
