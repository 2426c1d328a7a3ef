/*
 * regeval.c - the regression family of the held-out evaluator: linreg
 * tasks, the held-out MSE, and the ridge posterior, SGD and Adam beside
 * the amortizer.
 */
#include "eval/regeval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"

#define TUNE_SALT 0x74756e65ull		/* "tune" */

static int reg_check(const struct eval_sources *s)
{
	return s->stream->src == SOURCE_LINREG &&
	       (!s->query || s->query->src == SOURCE_LINREG) &&
	       (!s->tune || s->tune->src == SOURCE_LINREG) ? AM_OK : AM_EINVAL;
}

/* A task's stream rows (with targets), its held-out rows (with their
 * noise-free means), and both narrowed to LINREG_DMAX. */
static void reg_rows(struct eval_task *d, const struct source *stream,
		     const struct source *query, struct rng *r, int nstream,
		     int nq)
{
	source_sample_reg(stream, &d->task, r, nstream, d->X, d->y);
	source_sample_reg(query, &d->task, r, nq, d->Xq, d->yq);
	eval_rows_narrow(d->X, nstream, LINREG_DMAX, d->Xr);
	eval_rows_narrow(d->Xq, nq, LINREG_DMAX, d->Xqr);
	linreg_predict(d->yq, d->Xqr, d->task.rt.theta, nq);
}

/* Held-out MSE of predictions mean (nq), exact over the target noise: the
 * mean of (mean - E[y | x])^2, plus noise^2. */
static double reg_score(const struct eval_task *d, const struct eval_sources *s,
			const float *mean, int nq)
{
	double sum = 0.0, e;
	int i;

	(void)s;
	for (i = 0; i < nq; i++) {
		e = (double)mean[i] - d->yq[i];
		sum += e * e;
	}
	sum = sum / nq + (double)d->task.rt.noise * d->task.rt.noise;
	return isfinite(sum) ? sum : INFINITY;
}

/* The held-out MSE of a linear model theta (LINREG_P). */
static double mse_theta(const struct eval_task *d, const float *theta, int nq)
{
	double sum = 0.0, e;
	float m;
	int i;

	for (i = 0; i < nq; i++) {
		linreg_predict(&m, d->Xqr + (size_t)i * LINREG_DMAX, theta, 1);
		e = (double)m - d->yq[i];
		sum += e * e;
	}
	sum = sum / nq + (double)d->task.rt.noise * d->task.rt.noise;
	return isfinite(sum) ? sum : INFINITY;
}

/* The ridge posterior mean on the first ks[j]*B rows, lambda = noise^2:
 * the Bayes-optimal predictor under the linreg prior (x ~ N(0, I),
 * w ~ N(0, I), bias ~ N(0, 1)). */
static int ridge_run(const struct eval_at *at, double *score)
{
	const struct eval_task *d = at->d;
	double A[LINREG_P * LINREG_P], b[LINREG_P];
	double lambda = (double)d->task.rt.noise * d->task.rt.noise;
	float th[LINREG_P];

	memset(A, 0, sizeof A);
	memset(b, 0, sizeof b);
	linreg_accumulate(A, b, d->Xr, d->y, at->c->ks[at->j] * at->c->B);
	*score = linreg_ridge(th, A, b, lambda, d->task.D) == 0 ?
		 mse_theta(d, th, at->c->ntest) : INFINITY;
	return AM_OK;
}

/* The floor: what the true function scores, the noise variance. */
static int floor_run(const struct eval_at *at, double *score)
{
	*score = (double)at->d->task.rt.noise * at->d->task.rt.noise;
	return AM_OK;
}

/* Per k, the grid rate of SGD (adam 0) or Adam with the lowest summed
 * exact MSE on the tuning tasks (eval_opt_grid). */
static int opt_tune(const struct eval_task *tt, int n,
		    const struct source *src, const struct eval_run_config *c,
		    int adam, float *hyper)
{
	int nstream = c->ks[c->nk - 1] * c->B, best[EVAL_RUN_KS_MAX], t, j;
	double *acc = calloc((size_t)c->nk * EVAL_LRS, sizeof *acc);

	(void)src;
	if (!acc)
		return AM_ENOMEM;
	for (t = 0; t < n; t++)
		eval_opt_grid(&tt[t].task.rt, tt[t].Xr, tt[t].y, 1, nstream, c->B,
			      c->nk, c->ks, adam, acc);
	eval_pick_rates(c->nk, acc, best);
	for (j = 0; j < c->nk; j++)
		hyper[j] = eval_lr(best[j]);
	free(acc);
	return AM_OK;
}

/* SGD (adam 0) or Adam: a single pass from theta = 0 at the tuned rate,
 * one step per mini-batch. */
static int opt_run(const struct eval_at *at, double *score)
{
	const struct eval_run_config *c = at->c;
	float th[EVAL_RUN_KS_MAX * LINREG_P];

	eval_opt_run(at->d->Xr, at->d->y, c->B, at->j + 1, c->ks, at->arg,
		     at->hyper, th);
	*score = mse_theta(at->d, th + (size_t)at->j * LINREG_P, c->ntest);
	return AM_OK;
}

static const struct eval_baseline reg_baselines[] = {
	{ .slot = EVAL_RIDGE, .skippable = 1, .run = ridge_run },
	{ .slot = EVAL_SLOT_FLOOR, .skippable = 1, .run = floor_run },
	{ .slot = EVAL_SGD, .skippable = 1, .arg = 0,
	  .tune = opt_tune, .run = opt_run },
	{ .slot = EVAL_ADAM, .skippable = 1, .arg = 1,
	  .tune = opt_tune, .run = opt_run },
};

const struct eval_family regeval_family = {
	.name = "reg",
	.labels = 0,
	.check = reg_check,
	.tune_salt = TUNE_SALT,
	.tune_heldout = 0,		/* the exact MSE of the task */
	.rows = reg_rows,
	.score = reg_score,
	.baselines = reg_baselines,
	.nbaselines = (int)(sizeof reg_baselines / sizeof reg_baselines[0]),
};
