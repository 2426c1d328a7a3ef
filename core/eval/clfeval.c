/*
 * clfeval.c - the classification amortizer against logistic regression,
 * SGD and Adam on the same rows.
 */
#include "eval/clfeval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "eval/eval.h"
#include "eval/logreg.h"

/* A task's stream rows and held-out rows, their labels as ints and as
 * floats (the session contract's form). */
static void clf_rows(struct eval_task *d, const struct source *stream,
		     const struct source *query, struct rng *r, int nstream,
		     int nq)
{
	int i;

	source_sample(stream, &d->task, r, nstream, d->X, d->iy);
	source_sample(query, &d->task, r, nq, d->Xq, d->iyq);
	for (i = 0; i < nstream; i++)
		d->y[i] = (float)d->iy[i];
	for (i = 0; i < nq; i++)
		d->yq[i] = (float)d->iyq[i];
}

static int clf_check(const struct eval_sources *s)
{
	(void)s;
	return AM_OK;
}

/* The held-out error of a linear classifier theta (LINCLASS_P): exact
 * over the label noise for linclass tasks. */
static double err_of(const struct source *ts, const struct eval_task *d,
		     const float *theta, int nq)
{
	if (ts->src == SOURCE_LINCLASS)
		return linclass_task_error(&d->task.ct, theta, d->Xq, nq);
	return linclass_error(theta, d->task.D, d->task.K, d->Xq, d->iyq, nq);
}

/* The error of the amortizer's predicted labels (the argmax of probs,
 * nq x LINCLASS_KMAX), scored like err_of (exactly over the label noise
 * for linclass tasks). */
static double clf_score(const struct eval_task *d, const struct eval_sources *s,
			const float *probs, int nq)
{
	double e = 0.0;
	int i, k, K = d->task.K;

	if (s->stream->src == SOURCE_LINCLASS) {
		float q[LINCLASS_KMAX];

		for (i = 0; i < nq; i++) {
			const float *x = d->Xq + (size_t)i * GEN_XMAX;
			double z = 0.0, m;
			int y = linclass_argmax(probs + (size_t)i * LINCLASS_KMAX, K);

			/* the teacher's label distribution at x */
			linclass_logits(d->task.ct.theta, d->task.D, K, x, 1, q);
			m = q[0];
			for (k = 1; k < K; k++)
				m = q[k] > m ? q[k] : m;
			for (k = 0; k < K; k++)
				z += exp((q[k] - m) / d->task.ct.temp);
			e += 1.0 - exp((q[y] - m) / d->task.ct.temp) / z;
		}
		return e / nq;
	}
	for (i = 0; i < nq; i++)
		e += linclass_argmax(probs + (size_t)i * LINCLASS_KMAX, K) != d->iyq[i];
	return e / nq;
}

/* Per k, the L2 strength with the lowest mean held-out error of the
 * full-batch fit on the tuning tasks. */
static int full_tune(const struct eval_task *tt, int nt,
		     const struct source *src, const struct eval_run_config *c,
		     int arg, float *hyper)
{
	double err[EVAL_RUN_KS_MAX][LOGREG_L2S];
	float theta[LINCLASS_P];
	int t, j, i;

	(void)arg;
	memset(err, 0, sizeof err);
	for (t = 0; t < nt; t++)
		for (j = 0; j < c->nk; j++)
			for (i = 0; i < LOGREG_L2S; i++) {
				int n = c->ks[j] * c->B;

				if (logreg_fit(tt[t].X, tt[t].iy, n, tt[t].task.D,
					       tt[t].task.K, logreg_l2(i),
					       LOGREG_MAX_ITER, theta, NULL) != AM_OK)
					return AM_ENUMERIC;
				err[j][i] += err_of(src, &tt[t], theta, c->ntest);
			}
	for (j = 0; j < c->nk; j++) {
		int best = 0;

		for (i = 1; i < LOGREG_L2S; i++)
			if (err[j][i] < err[j][best])
				best = i;
		hyper[j] = logreg_l2(best);
	}
	return AM_OK;
}

/* L2 logistic regression fitted by Newton on all ks[j]*B rows at the
 * tuned strength. */
static int full_run(const struct eval_at *at, double *score)
{
	const struct eval_task *d = at->d;
	float th[LINCLASS_P];
	int rc;

	rc = logreg_fit(d->X, d->iy, at->c->ks[at->j] * at->c->B, d->task.D,
			d->task.K, at->hyper, LOGREG_MAX_ITER, th, NULL);
	if (rc == AM_OK)
		*score = err_of(at->s->stream, d, th, at->c->ntest);
	return rc;
}

/* Per k, the SGD (adam 0) or Adam rate of the grid with the lowest mean
 * held-out error on the tuning tasks (logreg_tune_lrs). */
static int opt_tune(const struct eval_task *tt, int nt,
		    const struct source *src, const struct eval_run_config *c,
		    int adam, float *hyper)
{
	struct logreg_tune_task *tk = calloc((size_t)nt, sizeof *tk);
	int t;

	(void)src;
	if (!tk)
		return AM_ENOMEM;
	for (t = 0; t < nt; t++)
		tk[t] = (struct logreg_tune_task){ tt[t].task.D, tt[t].task.K,
						   tt[t].X, tt[t].iy, tt[t].Xq,
						   tt[t].iyq, c->ntest };
	logreg_tune_lrs(tk, nt, c->B, c->nk, c->ks, adam, hyper);
	free(tk);
	return AM_OK;
}

/* SGD (adam 0) or Adam: a single pass from zero at the tuned rate, one
 * step per mini-batch. */
static int opt_run(const struct eval_at *at, double *score)
{
	const struct eval_task *d = at->d;
	float t0[LINCLASS_P];

	memset(t0, 0, sizeof t0);
	logreg_sgd_stream(d->X, d->iy, at->c->ks[at->j], at->c->B, d->task.D,
			  d->task.K, at->hyper, at->arg, t0);
	*score = err_of(at->s->stream, d, t0, at->c->ntest);
	return AM_OK;
}

/* The floor of linclass tasks: the teacher's own error. */
static int is_linclass(const struct eval_sources *s)
{
	return s->stream->src == SOURCE_LINCLASS;
}

static int floor_run(const struct eval_at *at, double *score)
{
	*score = err_of(at->s->stream, at->d, at->d->task.ct.theta, at->c->ntest);
	return AM_OK;
}

/* The rows of an image source's class lists, into X (n x GEN_XMAX) and y;
 * *n is their count.  The caller frees X and y. */
static int gather(const struct source_images *im, float **X, int **y, int *n)
{
	size_t total = 0;
	int c, i, r = 0;

	*X = NULL;
	*y = NULL;
	if (im->nclass < 1 || im->nclass > LINCLASS_KMAX)
		return AM_EINVAL;
	for (c = 0; c < im->nclass; c++)
		total += (size_t)im->cls_count[c];
	if (total < 1)
		return AM_EINVAL;
	*X = malloc(total * GEN_XMAX * sizeof **X);
	*y = malloc(total * sizeof **y);
	if (!*X || !*y) {
		free(*X);
		free(*y);
		*X = NULL;
		*y = NULL;
		return AM_ENOMEM;
	}
	for (c = 0; c < im->nclass; c++)
		for (i = 0; i < im->cls_count[c]; i++, r++) {
			memcpy(*X + (size_t)r * GEN_XMAX,
			       im->X + (size_t)im->cls_rows[c][i] * GEN_XMAX,
			       GEN_XMAX * sizeof **X);
			(*y)[r] = c;
		}
	*n = r;
	return AM_OK;
}

int clfeval_ceiling(const struct source_images *fit, const struct source_images *val,
		    const struct source_images *all, float *theta, float *l2_out)
{
	static const float l2s[CLFEVAL_CEIL_L2S] = { 1e-5f, 1e-4f, 1e-3f };
	float *X[3] = { NULL, NULL, NULL }, *th = NULL;
	int *y[3] = { NULL, NULL, NULL }, n[3] = { 0, 0, 0 };
	const struct source_images *src[3] = { fit, val, all };
	double err, best = 2.0;
	int i, rc = AM_OK, D = all->dim, K = all->nclass;

	if (D < 1 || D > GEN_XMAX)
		return AM_EINVAL;
	for (i = 0; i < 3 && rc == AM_OK; i++)
		rc = gather(src[i], &X[i], &y[i], &n[i]);
	th = malloc(LINCLASS_P * sizeof *th);
	if (rc == AM_OK && !th)
		rc = AM_ENOMEM;
	for (i = 0; rc == AM_OK && i < CLFEVAL_CEIL_L2S; i++) {
		rc = logreg_fit(X[0], y[0], n[0], D, K, l2s[i], LOGREG_MAX_ITER,
				th, NULL);
		if (rc != AM_OK)
			break;
		err = linclass_error(th, D, K, X[1], y[1], n[1]);
		if (err < best) {	/* ties: the smaller L2, met first */
			best = err;
			*l2_out = l2s[i];
		}
	}
	if (rc == AM_OK)
		rc = logreg_fit(X[2], y[2], n[2], D, K, *l2_out, LOGREG_MAX_ITER,
				theta, NULL);
	for (i = 0; i < 3; i++) {
		free(X[i]);
		free(y[i]);
	}
	free(th);
	return rc;
}

/* The ceiling on image tasks (when the caller supplies one): its error on
 * the task's held-out rows, from its columns of the task's classes in the
 * task's label order. */
static int has_ceiling(const struct eval_sources *s)
{
	return s->ceiling && s->stream->src == SOURCE_IMAGES;
}

static int ceiling_run(const struct eval_at *at, double *score)
{
	const struct eval_task *d = at->d;
	float th[LINCLASS_P];
	int k;

	memset(th, 0, sizeof th);
	for (k = 0; k < d->task.K; k++)
		memcpy(th + (size_t)k * LINCLASS_T,
		       at->s->ceiling + (size_t)d->task.cls[k] * LINCLASS_T,
		       LINCLASS_T * sizeof *th);
	*score = linclass_error(th, d->task.D, d->task.K, d->Xq, d->iyq,
				at->c->ntest);
	return AM_OK;
}

static const struct eval_baseline clf_baselines[] = {
	{ .slot = EVAL_SGD, .skippable = 1, .arg = 0,
	  .tune = opt_tune, .run = opt_run },
	{ .slot = EVAL_ADAM, .skippable = 1, .arg = 1,
	  .tune = opt_tune, .run = opt_run },
	{ .slot = EVAL_FULL, .skippable = 1,
	  .tune = full_tune, .run = full_run },
	{ .slot = EVAL_SLOT_FLOOR, .skippable = 1, .applies = is_linclass,
	  .run = floor_run },
	/* not skippable: the caller gives the ceiling to the model whose
	 * row carries it */
	{ .slot = EVAL_CEILING, .applies = has_ceiling, .run = ceiling_run },
};

const struct eval_family clfeval_family = {
	.name = "clf",
	.labels = 1,
	.check = clf_check,
	.tune_salt = 0x7475e1e5ull,
	.tune_heldout = 1,
	.rows = clf_rows,
	.score = clf_score,
	.baselines = clf_baselines,
	.nbaselines = (int)(sizeof clf_baselines / sizeof clf_baselines[0]),
};
