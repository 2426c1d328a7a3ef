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

struct tdata {
	struct source_task task;
	float *X, *Xq;			/* stream (kmax*B rows), held out */
	int *y, *yq;
};

static int tdata_new(struct tdata *d, int nstream, int nq)
{
	d->X = malloc((size_t)nstream * GEN_XMAX * sizeof(float));
	d->Xq = malloc((size_t)nq * GEN_XMAX * sizeof(float));
	d->y = malloc((size_t)nstream * sizeof(int));
	d->yq = malloc((size_t)nq * sizeof(int));
	return d->X && d->Xq && d->y && d->yq ? AM_OK : AM_ENOMEM;
}

static void tdata_free(struct tdata *d)
{
	free(d->X);
	free(d->Xq);
	free(d->y);
	free(d->yq);
}

/* Task t of a stream of tasks (seed, stream id): its rows. */
static void tdata_draw(struct tdata *d, const struct source *stream,
		       const struct source *query, uint64_t seed,
		       uint64_t id, int nstream, int nq)
{
	struct rng master, r;

	rng_seed(&master, seed);
	rng_split(&master, id, &r);
	source_draw(stream, &r, &d->task);
	source_sample(stream, &d->task, &r, nstream, d->X, d->y);
	source_sample(query, &d->task, &r, nq, d->Xq, d->yq);
}

static double err_of(const struct source *ts, const struct tdata *d,
		     const float *theta, int nq)
{
	if (ts->src == SOURCE_LINCLASS)
		return linclass_task_error(&d->task.ct, theta, d->Xq, nq);
	return linclass_error(theta, d->task.D, d->task.K, d->Xq, d->yq, nq);
}

/* The amortizer's starting state for a task: its learned initial state,
 * or (implicit) the initial prediction of every held-out row. */
static void start(const struct gen *g, const float *p, int K, int nq, float *st)
{
	if (g->cfg.regime == GEN_IMPLICIT)
		gen_query_init(g, p, nq, K, st);
	else
		gen_initial_state(g, p, st);
}

/* One step on B rows: the state's, or (implicit) the held-out rows'
 * predictions refined by the batch. */
static int advance(const struct gen *g, const float *p, struct gen_ws *ws,
		   const struct tdata *d, int nq, float *st, const float *X,
		   const int *y, int B, double rows_seen)
{
	if (g->cfg.regime == GEN_IMPLICIT)
		return gen_query_step(g, p, ws, d->Xq, nq, st, X, y, NULL, B,
				      d->task.D, d->task.K, rows_seen);
	return gen_step(g, p, ws, st, X, y, B, d->task.D, d->task.K, rows_seen,
			NULL, NULL);
}

/* The error of the amortizer's state: its predicted labels, scored like
 * err_of (exactly over the label noise for linclass tasks). */
static double err_state(const struct gen *g, const float *p, struct gen_ws *ws,
			const struct source *ts, const struct tdata *d,
			const float *state, int nq, float *probs)
{
	double e = 0.0;
	int i, k, K = d->task.K;

	if (g->cfg.regime == GEN_IMPLICIT)
		gen_query_probs(g, p, state, nq, K, probs);
	else
		gen_predict_probs(g, p, ws, state, d->Xq, nq, d->task.D, K, probs);
	if (ts->src == SOURCE_LINCLASS) {
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
		e += linclass_argmax(probs + (size_t)i * LINCLASS_KMAX, K) != d->yq[i];
	return e / nq;
}

static int check(const struct gen *g, const struct clfeval_config *c)
{
	if (g->cfg.kind != GEN_CLF || c->ntasks < 1 || c->tune_tasks < 1 ||
	    c->B < 1 || c->B > g->cfg.bmax || c->ntest < 1 ||
	    c->onestep_max_rows < 0 || c->onestep_max_rows > GEN_BMAX ||
	    eval_ks_check(c->nk, CLFEVAL_KS_MAX, c->ks, c->B, 65536) != AM_OK)
		return AM_EINVAL;
	return AM_OK;
}

/* Per k, the L2 strength with the lowest mean held-out error on the
 * tuning tasks. */
static int tune_l2(const struct source *tune, const struct clfeval_config *c,
		   struct tdata *td, int nt, float *l2_out)
{
	double err[CLFEVAL_KS_MAX][LOGREG_L2S];
	float theta[LINCLASS_P];
	int t, j, i;

	memset(err, 0, sizeof err);
	for (t = 0; t < nt; t++)
		for (j = 0; j < c->nk; j++)
			for (i = 0; i < LOGREG_L2S; i++) {
				int n = c->ks[j] * c->B;

				if (logreg_fit(td[t].X, td[t].y, n, td[t].task.D,
					       td[t].task.K, logreg_l2(i),
					       LOGREG_MAX_ITER, theta, NULL) != AM_OK)
					return AM_ENUMERIC;
				err[j][i] += err_of(tune, &td[t], theta, c->ntest);
			}
	for (j = 0; j < c->nk; j++) {
		int best = 0;

		for (i = 1; i < LOGREG_L2S; i++)
			if (err[j][i] < err[j][best])
				best = i;
		l2_out[j] = logreg_l2(best);
	}
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

int clfeval_ceiling(const struct source_images *fit,
		    const struct source_images *val,
		    const struct source_images *all, float *theta,
		    float *l2_out)
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

/* The error of the ceiling on task d's held-out rows: its columns of the
 * task's classes, in the task's label order. */
static double ceiling_err(const float *ceil, const struct tdata *d, int nq)
{
	float th[LINCLASS_P];
	int j;

	memset(th, 0, sizeof th);
	for (j = 0; j < d->task.K; j++)
		memcpy(th + (size_t)j * LINCLASS_T,
		       ceil + (size_t)d->task.cls[j] * LINCLASS_T,
		       LINCLASS_T * sizeof *th);
	return linclass_error(th, d->task.D, d->task.K, d->Xq, d->yq, nq);
}

/* The tuning: a stream of tasks from the tuning source, the L2 strength
 * (l2) and the SGD and Adam rates (lrs, lra) per checkpoint. */
static int tune_all(const struct source *tune, const struct clfeval_config *c,
		    struct tdata *tt, struct logreg_tune_task *tk, int ntune,
		    float *l2, float *lrs, float *lra)
{
	int nstream = c->ks[c->nk - 1] * c->B, t, rc;
	uint64_t tseed = c->seed ^ 0x7475e1e5ull;

	for (t = 0; t < ntune; t++) {
		tdata_draw(&tt[t], tune, tune, tseed, (uint64_t)t, nstream, c->ntest);
		tk[t] = (struct logreg_tune_task){ tt[t].task.D, tt[t].task.K,
						   tt[t].X, tt[t].y, tt[t].Xq,
						   tt[t].yq, c->ntest };
	}
	rc = tune_l2(tune, c, tt, ntune, l2);
	if (rc != AM_OK)
		return rc;
	logreg_tune_lrs(tk, ntune, c->B, c->nk, c->ks, 0, lrs);
	logreg_tune_lrs(tk, ntune, c->B, c->nk, c->ks, 1, lra);
	return AM_OK;
}

/* The baselines on task ev's first ks[j] mini-batches, into row e:
 * single-pass SGD and Adam from zero at the rates tuned for this k, the
 * full-batch fit at its L2, and (linclass) the teacher's own error. */
static int baselines(const struct source *stream, const struct tdata *ev,
		     const struct clfeval_config *c, int j, const float *l2,
		     const float *lrs, const float *lra, struct eval_row *e)
{
	float th[LINCLASS_P], t0[LINCLASS_P];
	int D = ev->task.D, K = ev->task.K, rc;

	memset(t0, 0, sizeof t0);
	logreg_sgd_stream(ev->X, ev->y, c->ks[j], c->B, D, K, lrs[j], 0, t0);
	e->base[EVAL_SGD] += err_of(stream, ev, t0, c->ntest);
	memset(t0, 0, sizeof t0);
	logreg_sgd_stream(ev->X, ev->y, c->ks[j], c->B, D, K, lra[j], 1, t0);
	e->base[EVAL_ADAM] += err_of(stream, ev, t0, c->ntest);
	rc = logreg_fit(ev->X, ev->y, c->ks[j] * c->B, D, K, l2[j],
			LOGREG_MAX_ITER, th, NULL);
	if (rc != AM_OK)
		return rc;
	e->base[EVAL_FULL] += err_of(stream, ev, th, c->ntest);
	if (stream->src == SOURCE_LINCLASS)
		e->floor += err_of(stream, ev, ev->task.ct.theta, c->ntest);
	return AM_OK;
}

/* What clfeval_run works in. */
struct clf_ws {
	struct gen_ws *ws;
	float *probs, *st, *s1;
	float l2[CLFEVAL_KS_MAX], lrs[CLFEVAL_KS_MAX], lra[CLFEVAL_KS_MAX];
	double chg2[CLFEVAL_KS_MAX];	/* sums of squared per-task changes */
};

/* The amortizer and the baselines on evaluation task t, added into rows. */
static int run_task(const struct gen *g, const float *p,
		    const struct source *stream, const struct source *query,
		    const struct clfeval_config *c, int t, struct tdata *ev,
		    struct clf_ws *w, struct eval_row *rows)
{
	double ceil_t, prev = 0.0;
	int step = 0, j, rc, K;

	tdata_draw(ev, stream, query, c->seed, (uint64_t)t,
		   c->ks[c->nk - 1] * c->B, c->ntest);
	K = ev->task.K;
	ceil_t = c->ceiling && stream->src == SOURCE_IMAGES ?
		 ceiling_err(c->ceiling, ev, c->ntest) : 0.0;
	start(g, p, K, c->ntest, w->st);
	for (j = 0; j < c->nk; j++) {
		int n = c->ks[j] * c->B;

		for (; step < c->ks[j]; step++) {
			rc = advance(g, p, w->ws, ev, c->ntest, w->st,
				     ev->X + (size_t)step * c->B * GEN_XMAX,
				     ev->y + (size_t)step * c->B, c->B,
				     (double)step * c->B);
			if (rc != AM_OK)
				return rc;
		}
		eval_row_score(rows, j, err_state(g, p, w->ws, stream, ev, w->st,
						  c->ntest, w->probs), &prev, w->chg2);
		if (!c->skip_baselines) {
			rc = baselines(stream, ev, c, j, w->l2, w->lrs, w->lra,
				       &rows[j]);
			if (rc != AM_OK)
				return rc;
		}
		if (n <= c->onestep_max_rows) {
			start(g, p, K, c->ntest, w->s1);
			rc = advance(g, p, w->ws, ev, c->ntest, w->s1, ev->X, ev->y,
				     n, 0.0);
			if (rc != AM_OK)
				return rc;
			rows[j].onestep += err_state(g, p, w->ws, stream, ev, w->s1,
						     c->ntest, w->probs);
		}
		rows[j].base[EVAL_CEILING] += ceil_t;
	}
	return AM_OK;
}

/* The has bits and the tuned hyperparameters of the rows. */
static void rows_mark(const struct source *stream,
		      const struct clfeval_config *c, const struct clf_ws *w,
		      struct eval_row *rows)
{
	int j;

	for (j = 0; j < c->nk; j++) {
		struct eval_row *e = &rows[j];

		e->has |= EVAL_HAS_AMORT;
		if (c->ks[j] * c->B <= c->onestep_max_rows)
			e->has |= EVAL_HAS_ONESTEP;
		if (!c->skip_baselines)
			e->has |= EVAL_HAS_BASE(EVAL_SGD) | EVAL_HAS_BASE(EVAL_ADAM) |
				  EVAL_HAS_BASE(EVAL_FULL);
		if (stream->src == SOURCE_LINCLASS && !c->skip_baselines)
			e->has |= EVAL_HAS_FLOOR;
		if (c->ceiling && stream->src == SOURCE_IMAGES)
			e->has |= EVAL_HAS_BASE(EVAL_CEILING);
		e->base_hyper[EVAL_FULL] = w->l2[j];
		e->base_hyper[EVAL_SGD] = w->lrs[j];
		e->base_hyper[EVAL_ADAM] = w->lra[j];
	}
}

int clfeval_run(const struct gen *g, const float *p,
		const struct source *stream, const struct source *query,
		const struct source *tune, const struct clfeval_config *c,
		struct eval_row *rows)
{
	int nstream, ntune, t, rc;
	struct tdata *tt = NULL, ev;
	struct logreg_tune_task *tk = NULL;
	struct clf_ws w;
	size_t nst;

	if (check(g, c) != AM_OK)
		return AM_EINVAL;
	nstream = c->ks[c->nk - 1] * c->B;
	memset(&ev, 0, sizeof ev);
	memset(&w, 0, sizeof w);
	ntune = c->skip_baselines ? 0 : c->tune_tasks;
	if (ntune) {
		tt = calloc((size_t)ntune, sizeof *tt);
		tk = calloc((size_t)ntune, sizeof *tk);
	}
	w.ws = gen_ws_new(g, 1, c->onestep_max_rows > c->B ? c->onestep_max_rows : c->B);
	w.probs = malloc((size_t)c->ntest * LINCLASS_KMAX * sizeof *w.probs);
	/* a state, or (implicit) a prediction per held-out row */
	nst = g->cfg.regime == GEN_IMPLICIT ? (size_t)c->ntest * g->sq : GEN_STATE_MAX;
	w.st = malloc(nst * sizeof *w.st);
	w.s1 = malloc(nst * sizeof *w.s1);
	rc = (ntune && (!tt || !tk)) || !w.ws || !w.probs || !w.st || !w.s1 ?
	     AM_ENOMEM : tdata_new(&ev, nstream, c->ntest);
	for (t = 0; rc == AM_OK && t < ntune; t++)
		rc = tdata_new(&tt[t], nstream, c->ntest);
	if (rc == AM_OK && ntune)
		rc = tune_all(tune, c, tt, tk, ntune, w.l2, w.lrs, w.lra);
	if (rc != AM_OK)
		goto out;
	memset(rows, 0, (size_t)c->nk * sizeof *rows);
	for (t = 0; t < c->ntasks; t++) {
		rc = run_task(g, p, stream, query, c, t, &ev, &w, rows);
		if (rc != AM_OK)
			goto out;
	}
	rows_mark(stream, c, &w, rows);
	eval_rows_finish(rows, c->nk, c->ks, c->ntasks, w.chg2);
out:
	if (tt)
		for (t = 0; t < ntune; t++)
			tdata_free(&tt[t]);
	free(tt);
	free(tk);
	tdata_free(&ev);
	gen_ws_free(w.ws);
	free(w.probs);
	free(w.st);
	free(w.s1);
	return rc;
}
