/*
 * regeval.c - a regression amortizer (learned predictor, or the
 * parametric refiner) against the ridge posterior, SGD and Adam on the
 * same rows.
 */
#include "eval/regeval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "eval/eval.h"

#define TUNE_SALT 0x74756e65ull		/* "tune" */

/* The amortizer under test: a GEN_REG model or the parametric refiner. */
struct amort {
	const struct gen *g;		/* NULL: the refiner m */
	const struct refiner *m;
	const float *p;
	struct gen_ws *gws;
	struct refiner_ws *rws;
};

/* One task's rows: the stream and the held-out rows, in the gen layout
 * (GEN_XMAX wide) and the linreg one (LINREG_DMAX wide). */
struct tdata {
	struct source_task task;
	float *X, *Xr, *t;		/* stream: nstream rows */
	float *Xq, *Xqr, *fq;		/* held out: ntest rows, E[y | x] */
};

static int tdata_new(struct tdata *d, int nstream, int nq)
{
	memset(d, 0, sizeof *d);
	d->X = malloc((size_t)nstream * GEN_XMAX * sizeof(float));
	d->Xr = malloc((size_t)nstream * LINREG_DMAX * sizeof(float));
	d->t = malloc((size_t)nstream * sizeof(float));
	d->Xq = malloc((size_t)nq * GEN_XMAX * sizeof(float));
	d->Xqr = malloc((size_t)nq * LINREG_DMAX * sizeof(float));
	d->fq = malloc((size_t)nq * sizeof(float));
	return d->X && d->Xr && d->t && d->Xq && d->Xqr && d->fq ? AM_OK :
	       AM_ENOMEM;
}

static void tdata_free(struct tdata *d)
{
	free(d->X);
	free(d->Xr);
	free(d->t);
	free(d->Xq);
	free(d->Xqr);
	free(d->fq);
}

/* Rows of GEN_XMAX floats to rows of LINREG_DMAX (the tasks' D <= 16). */
static void narrow(const float *X, int n, float *out)
{
	int i;

	for (i = 0; i < n; i++)
		memcpy(out + (size_t)i * LINREG_DMAX, X + (size_t)i * GEN_XMAX,
		       LINREG_DMAX * sizeof *out);
}

/* Task `id` of the stream of tasks seeded by seed: its task, stream rows
 * (with targets) and held-out rows (with their noise-free means). */
static void tdata_draw(struct tdata *d, const struct source *ts,
		       uint64_t seed, uint64_t id, int nstream, int nq)
{
	struct rng master, r;

	rng_seed(&master, seed);
	rng_split(&master, id, &r);
	source_draw(ts, &r, &d->task);
	source_sample_reg(ts, &d->task, &r, nstream, d->X, d->t);
	source_sample_reg(ts, &d->task, &r, nq, d->Xq, d->fq);
	narrow(d->X, nstream, d->Xr);
	narrow(d->Xq, nq, d->Xqr);
	linreg_predict(d->fq, d->Xqr, d->task.rt.theta, nq);
}

/* Held-out MSE of predictions mean (nq), exact over the target noise. */
static double mse_of(const struct tdata *d, const float *mean, int nq)
{
	double s = 0.0, e;
	int i;

	for (i = 0; i < nq; i++) {
		e = (double)mean[i] - d->fq[i];
		s += e * e;
	}
	s = s / nq + (double)d->task.rt.noise * d->task.rt.noise;
	return isfinite(s) ? s : INFINITY;
}

/* The held-out MSE of a linear model theta (LINREG_P). */
static double mse_theta(const struct tdata *d, const float *theta, int nq,
			float *mean)
{
	linreg_predict(mean, d->Xqr, theta, nq);
	return mse_of(d, mean, nq);
}

/* The amortizer's starting state: its learned initial state, or
 * (implicit) the initial prediction of every held-out row. */
static void start(const struct amort *a, int nq, float *st)
{
	if (!a->g)
		refiner_initial_state(a->m, a->p, st);
	else if (a->g->cfg.regime == GEN_IMPLICIT)
		gen_query_init(a->g, a->p, nq, 0, st);
	else
		gen_initial_state(a->g, a->p, st);
}

/* One step on the B stream rows from row0: the state's, or (implicit)
 * the held-out rows' predictions refined by the batch. */
static int advance(const struct amort *a, const struct tdata *d, int nq,
		   float *st, int row0, int B, double rows_seen)
{
	const float *X = d->X + (size_t)row0 * GEN_XMAX, *t = d->t + row0;
	int D = d->task.D;

	if (!a->g)
		return refiner_step(a->m, a->p, a->rws, st,
				    d->Xr + (size_t)row0 * LINREG_DMAX, t, B, D,
				    rows_seen, NULL);
	if (a->g->cfg.regime == GEN_IMPLICIT)
		return gen_query_step(a->g, a->p, a->gws, d->Xq, nq, st, X, NULL,
				      t, B, D, 0, rows_seen);
	return gen_step_reg(a->g, a->p, a->gws, st, X, t, B, D, rows_seen, NULL,
			    NULL);
}

/* The held-out MSE of the amortizer's state. */
static double mse_state(const struct amort *a, const struct tdata *d, int nq,
			const float *st, float *mean)
{
	if (!a->g)
		refiner_predict(st, d->Xqr, nq, mean, NULL);
	else if (a->g->cfg.regime == GEN_IMPLICIT)
		gen_query_mean(a->g, a->p, st, nq, mean);
	else if (gen_predict_mean(a->g, a->p, a->gws, st, d->Xq, nq, mean) != AM_OK)
		return INFINITY;
	return mse_of(d, mean, nq);
}

static int check(const struct source *stream, const struct regeval_config *c,
		 int bmax, int onestep_max)
{
	if (stream->src != SOURCE_LINREG || c->ntasks < 1 || c->tune_tasks < 1 ||
	    c->B < 1 || c->B > bmax || c->ntest < 1 || c->ntest > 1000000 ||
	    c->onestep_max_rows < 0 || c->onestep_max_rows > onestep_max ||
	    eval_ks_check(c->nk, REGEVAL_KS_MAX, c->ks, c->B, 65536) != AM_OK)
		return AM_EINVAL;
	return AM_OK;
}

/* Per k, the grid rates of SGD (lrs) and Adam (lra) with the lowest
 * summed exact MSE on the tuning tasks. */
static int tune(const struct source *stream, const struct regeval_config *c,
		int nstream, float *lrs, float *lra)
{
	struct linreg_task *tasks = calloc((size_t)c->tune_tasks, sizeof *tasks);
	float *Xr = malloc((size_t)c->tune_tasks * nstream * LINREG_DMAX * sizeof *Xr);
	float *y = malloc((size_t)c->tune_tasks * nstream * sizeof *y);
	double *acc = calloc((size_t)2 * c->nk * EVAL_LRS, sizeof *acc);
	int best[REGEVAL_KS_MAX], t, j, rc = AM_ENOMEM;
	struct tdata d;

	if (tdata_new(&d, nstream, 1) != AM_OK || !tasks || !Xr || !y || !acc)
		goto out;
	for (t = 0; t < c->tune_tasks; t++) {
		tdata_draw(&d, stream, c->seed ^ TUNE_SALT, (uint64_t)t, nstream, 1);
		tasks[t] = d.task.rt;
		memcpy(Xr + (size_t)t * nstream * LINREG_DMAX, d.Xr,
		       (size_t)nstream * LINREG_DMAX * sizeof *Xr);
		memcpy(y + (size_t)t * nstream, d.t, (size_t)nstream * sizeof *y);
	}
	eval_opt_grid(tasks, Xr, y, c->tune_tasks, nstream, c->B, c->nk, c->ks,
		      0, acc);
	eval_opt_grid(tasks, Xr, y, c->tune_tasks, nstream, c->B, c->nk, c->ks,
		      1, acc + (size_t)c->nk * EVAL_LRS);
	eval_pick_rates(c->nk, acc, best);
	for (j = 0; j < c->nk; j++)
		lrs[j] = eval_lr(best[j]);
	eval_pick_rates(c->nk, acc + (size_t)c->nk * EVAL_LRS, best);
	for (j = 0; j < c->nk; j++)
		lra[j] = eval_lr(best[j]);
	rc = AM_OK;
out:
	tdata_free(&d);
	free(tasks);
	free(Xr);
	free(y);
	free(acc);
	return rc;
}

/* The baselines on task ev's first ks[j] mini-batches, into row e: ridge
 * on all rows so far (lambda = noise^2; A and b hold the sums of the rows
 * before r0), the noise floor, and SGD and Adam from zero at the rates
 * tuned for this k. */
static void baselines(const struct tdata *ev, const struct regeval_config *c,
		      int j, int r0, double *A, double *b, const float *lrs,
		      const float *lra, float *mean, struct eval_row *e)
{
	float th[REGEVAL_KS_MAX * LINREG_P];
	double lambda = (double)ev->task.rt.noise * ev->task.rt.noise;
	int n = c->ks[j] * c->B;

	linreg_accumulate(A, b, ev->Xr + (size_t)r0 * LINREG_DMAX, ev->t + r0,
			  n - r0);
	if (linreg_ridge(th, A, b, lambda, ev->task.D) == 0)
		e->base[EVAL_RIDGE] += mse_theta(ev, th, c->ntest, mean);
	else
		e->base[EVAL_RIDGE] += INFINITY;
	e->floor += lambda;
	eval_opt_run(ev->Xr, ev->t, c->B, j + 1, c->ks, 0, lrs[j], th);
	e->base[EVAL_SGD] += mse_theta(ev, th + (size_t)j * LINREG_P, c->ntest,
				       mean);
	eval_opt_run(ev->Xr, ev->t, c->B, j + 1, c->ks, 1, lra[j], th);
	e->base[EVAL_ADAM] += mse_theta(ev, th + (size_t)j * LINREG_P, c->ntest,
					mean);
}

/* The amortizer and the baselines on evaluation task t, added into rows
 * (chg2: eval_row_score). */
static int run_task(const struct amort *a, const struct source *stream,
		    const struct regeval_config *c, int t, struct tdata *ev,
		    const float *lrs, const float *lra, float *st, float *s1,
		    float *mean, struct eval_row *rows, double *chg2)
{
	double A[LINREG_P * LINREG_P], b[LINREG_P], prev = 0.0;
	int step = 0, j, rc;

	tdata_draw(ev, stream, c->seed, (uint64_t)t, c->ks[c->nk - 1] * c->B,
		   c->ntest);
	memset(A, 0, sizeof A);
	memset(b, 0, sizeof b);
	start(a, c->ntest, st);
	for (j = 0; j < c->nk; j++) {
		int n = c->ks[j] * c->B, r0 = step * c->B;

		for (; step < c->ks[j]; step++) {
			rc = advance(a, ev, c->ntest, st, step * c->B, c->B,
				     (double)step * c->B);
			if (rc != AM_OK)
				return rc;
		}
		eval_row_score(rows, j, mse_state(a, ev, c->ntest, st, mean),
			       &prev, chg2);
		baselines(ev, c, j, r0, A, b, lrs, lra, mean, &rows[j]);
		if (n <= c->onestep_max_rows) {
			start(a, c->ntest, s1);
			rc = advance(a, ev, c->ntest, s1, 0, n, 0.0);
			if (rc != AM_OK)
				return rc;
			rows[j].onestep += mse_state(a, ev, c->ntest, s1, mean);
		}
	}
	return AM_OK;
}

static int run(const struct amort *a, const struct source *stream,
	       const struct regeval_config *c, size_t nst,
	       struct eval_row *rows)
{
	float lrs[REGEVAL_KS_MAX], lra[REGEVAL_KS_MAX];
	float *mean = NULL, *st = NULL, *s1 = NULL;
	double chg2[REGEVAL_KS_MAX];	/* sums of squared per-task changes */
	int nstream = c->ks[c->nk - 1] * c->B, t, j, rc;
	struct tdata ev;

	rc = tdata_new(&ev, nstream, c->ntest);
	mean = malloc((size_t)c->ntest * sizeof *mean);
	st = malloc(nst * sizeof *st);
	s1 = malloc(nst * sizeof *s1);
	if (rc != AM_OK || !mean || !st || !s1) {
		rc = AM_ENOMEM;
		goto out;
	}
	rc = tune(stream, c, nstream, lrs, lra);
	if (rc != AM_OK)
		goto out;
	memset(rows, 0, (size_t)c->nk * sizeof *rows);
	memset(chg2, 0, sizeof chg2);
	for (t = 0; t < c->ntasks; t++) {
		rc = run_task(a, stream, c, t, &ev, lrs, lra, st, s1, mean, rows,
			      chg2);
		if (rc != AM_OK)
			goto out;
	}
	for (j = 0; j < c->nk; j++) {
		rows[j].has |= EVAL_HAS_AMORT | EVAL_HAS_FLOOR |
			       EVAL_HAS_BASE(EVAL_RIDGE) |
			       EVAL_HAS_BASE(EVAL_SGD) | EVAL_HAS_BASE(EVAL_ADAM);
		if (c->ks[j] * c->B <= c->onestep_max_rows)
			rows[j].has |= EVAL_HAS_ONESTEP;
		rows[j].base_hyper[EVAL_SGD] = lrs[j];
		rows[j].base_hyper[EVAL_ADAM] = lra[j];
	}
	eval_rows_finish(rows, c->nk, c->ks, c->ntasks, chg2);
out:
	tdata_free(&ev);
	free(mean);
	free(st);
	free(s1);
	return rc;
}

int regeval_run(const struct gen *g, const float *p,
		const struct source *stream, const struct regeval_config *c,
		struct eval_row *rows)
{
	struct amort a;
	size_t nst;
	int rc;

	if (g->cfg.kind != GEN_REG || (!gen_has_predictor(&g->cfg) && g->cfg.regime != GEN_IMPLICIT) ||
	    check(stream, c, g->cfg.bmax, GEN_BMAX) != AM_OK)
		return AM_EINVAL;
	memset(&a, 0, sizeof a);
	a.g = g;
	a.p = p;
	a.gws = gen_ws_new(g, 1, c->onestep_max_rows > c->B ? c->onestep_max_rows :
			   c->B);
	if (!a.gws)
		return AM_ENOMEM;
	/* a latent, or (implicit) a prediction per held-out row */
	nst = g->cfg.regime == GEN_IMPLICIT ? (size_t)c->ntest * g->sq : (size_t)g->nstate;
	rc = run(&a, stream, c, nst, rows);
	gen_ws_free(a.gws);
	return rc;
}

int regeval_run_refiner(const struct refiner *m, const float *p,
			const struct source *stream,
			const struct regeval_config *c, struct eval_row *rows)
{
	struct amort a;
	int bmax = m->cfg.bmax * 16 < REFINER_BMAX ? m->cfg.bmax * 16 : REFINER_BMAX;
	int rc;

	if (check(stream, c, bmax, REFINER_BMAX) != AM_OK)
		return AM_EINVAL;
	memset(&a, 0, sizeof a);
	a.m = m;
	a.p = p;
	a.rws = refiner_ws_new(m, 1, c->onestep_max_rows > c->B ?
			       c->onestep_max_rows : c->B);
	if (!a.rws)
		return AM_ENOMEM;
	rc = run(&a, stream, c, REFINER_S, rows);
	refiner_ws_free(a.rws);
	return rc;
}
