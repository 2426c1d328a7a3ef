/*
 * eval.c - the amortizer and its baselines on the same mini-batches.
 */
#include "eval/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"

float eval_lr(int i)
{
	/* 1e-3 * 3000^(i / (EVAL_LRS - 1)) */
	return (float)(1e-3 * pow(3000.0, (double)i / (EVAL_LRS - 1)));
}

void eval_change(double sum, double sum2, int n, double *mean, double *se)
{
	*mean = sum / n;
	*se = 0.0;
	/* the sample variance, over n - 1; a sum of squares minus n mean^2
	 * cannot go below 0 but by rounding */
	if (n > 1)
		*se = sqrt(fmax(sum2 - n * *mean * *mean, 0.0) /
			   ((double)n - 1.0) / n);
}

const char *const eval_base_name[EVAL_BASE_MAX] = {
	"ridge", "sgd", "adam", "full", "ceiling", "em", "energy", "em_energy",
	"energy_floor"
};

int eval_ks_check(int nk, int nkmax, const int *ks, int B, long maxrows)
{
	int j;

	if (nk < 1 || nk > nkmax)
		return AM_EINVAL;
	for (j = 0; j < nk; j++)
		if (ks[j] < 1 || (j && ks[j] <= ks[j - 1]) ||
		    (maxrows > 0 && (long)ks[j] * B > maxrows))
			return AM_EINVAL;
	return AM_OK;
}

void eval_row_score(struct eval_row *rows, int j, double err, double *prev,
		    double *chg2)
{
	rows[j].amort += err;
	if (j) {
		rows[j].change += err - *prev;
		chg2[j] += (err - *prev) * (err - *prev);
	}
	*prev = err;
}

void eval_rows_finish(struct eval_row *rows, int nk, const int *ks, int n,
		      const double *chg2)
{
	int j, b;

	for (j = 0; j < nk; j++) {
		struct eval_row *e = &rows[j];

		e->k = ks[j];
		e->amort /= n;
		e->floor /= n;
		for (b = 0; b < EVAL_BASE_MAX; b++)
			e->base[b] /= n;
		if (j)
			e->has |= EVAL_HAS_CHANGE;
		eval_change(e->change, chg2[j], n, &e->change, &e->change_se);
		e->onestep = e->has & EVAL_HAS_ONESTEP ? e->onestep / n : NAN;
	}
}

/* Work for one chunk of tasks. */
struct chunk {
	int n, rows;			/* tasks, rows per task */
	struct linreg_task *task;
	float *X, *y;			/* (n, rows, DMAX), (n, rows) */
};

static void chunk_draw(struct chunk *ch, const struct eval_config *c,
		       struct rng *r)
{
	int i;

	for (i = 0; i < ch->n; i++) {
		struct rng tr;

		rng_split(r, (uint64_t)i, &tr);
		linreg_task_draw(&ch->task[i], &c->fam, &tr);
		linreg_task_rows(&ch->task[i], &tr, ch->rows,
				 ch->X + (size_t)i * ch->rows * LINREG_DMAX,
				 ch->y + (size_t)i * ch->rows);
	}
}

void eval_opt_run(const float *X, const float *y, int B, int nk,
		  const int *ks, int adam, float lr, float *thetas)
{
	float theta[LINREG_P], g[LINREG_P], m[LINREG_P], v[LINREG_P];
	int kmax = ks[nk - 1], k, j, q;

	memset(theta, 0, sizeof theta);
	memset(m, 0, sizeof m);
	memset(v, 0, sizeof v);
	for (k = 1, j = 0; k <= kmax; k++) {
		linreg_grad(g, X + (size_t)(k - 1) * B * LINREG_DMAX,
			    y + (size_t)(k - 1) * B, theta, B);
		for (q = 0; q < LINREG_P; q++) {
			if (!adam) {
				theta[q] -= lr * g[q];
				continue;
			}
			m[q] = 0.9f * m[q] + 0.1f * g[q];
			v[q] = 0.999f * v[q] + 0.001f * g[q] * g[q];
			theta[q] -= lr * (m[q] / (1.0f - powf(0.9f, (float)k))) /
				(sqrtf(v[q] / (1.0f - powf(0.999f, (float)k))) + 1e-8f);
		}
		if (k == ks[j])
			memcpy(thetas + (size_t)j++ * LINREG_P, theta, sizeof theta);
	}
}

void eval_opt_grid(const struct linreg_task *tasks, const float *X,
		   const float *y, int n, int rows, int B, int nk, const int *ks,
		   int adam, double *acc)
{
	float th[EVAL_KS_MAX * LINREG_P];
	int i, l, j;

	for (i = 0; i < n; i++)
		for (l = 0; l < EVAL_LRS; l++) {
			eval_opt_run(X + (size_t)i * rows * LINREG_DMAX,
				     y + (size_t)i * rows, B, nk, ks, adam,
				     eval_lr(l), th);
			for (j = 0; j < nk; j++) {
				double e = linreg_task_mse(&tasks[i],
							   th + (size_t)j * LINREG_P);

				/* a diverged rate scores as infinitely bad */
				acc[j * EVAL_LRS + l] += isfinite(e) ? e : INFINITY;
			}
		}
}

/* SGD or Adam with every rate of the grid over the chunk's mini-batches. */
static void run_optimizer(const struct chunk *ch, const struct eval_config *c,
			  int adam, double *acc)
{
	eval_opt_grid(ch->task, ch->X, ch->y, ch->n, ch->rows, c->B, c->nk,
		      c->ks, adam, acc);
}

void eval_pick_rates(int nk, const double *acc, int *best)
{
	int j, l;

	for (j = 0; j < nk; j++) {
		best[j] = 0;
		for (l = 1; l < EVAL_LRS; l++)
			if (acc[j * EVAL_LRS + l] < acc[j * EVAL_LRS + best[j]])
				best[j] = l;
	}
}

static int chunk_alloc(struct chunk *ch, int n, int rows)
{
	ch->n = n;
	ch->rows = rows;
	ch->task = calloc((size_t)n, sizeof *ch->task);
	ch->X = calloc((size_t)n * rows * LINREG_DMAX, sizeof(float));
	ch->y = calloc((size_t)n * rows, sizeof(float));
	return ch->task && ch->X && ch->y ? 0 : -1;
}

static void chunk_free(struct chunk *ch)
{
	free(ch->task);
	free(ch->X);
	free(ch->y);
}

/* The refiner over the chunk's mini-batches in lockstep; adds its MSEs
 * into rows (eval_row_score, chg2).  prev holds a chunk's worth of
 * doubles. */
static int run_amortizer(const struct refiner *m, const float *p,
			 struct refiner_ws *ws, const struct chunk *ch,
			 const struct eval_config *c, struct eval_row *rows,
			 double *chg2, double *prev, float *state, float *next,
			 struct refiner_input *in)
{
	int kmax = c->ks[c->nk - 1], i, k, j = 0, pass, rc;

	for (i = 0; i < ch->n; i++)
		refiner_initial_state(m, p, state + (size_t)i * REFINER_S);
	for (k = 1; k <= kmax; k++) {
		for (pass = 0; pass < m->cfg.passes; pass++) {
			for (i = 0; i < ch->n; i++) {
				in[i].state = state + (size_t)i * REFINER_S;
				in[i].X = ch->X + ((size_t)i * ch->rows + (size_t)(k - 1) * c->B) * LINREG_DMAX;
				in[i].y = ch->y + (size_t)i * ch->rows + (size_t)(k - 1) * c->B;
				in[i].B = c->B;
				in[i].D = ch->task[i].D;
				in[i].rows_seen = (double)(k - 1) * c->B;
				in[i].pass = pass;
			}
			rc = refiner_forward(m, p, ws, ch->n, in, next, NULL);
			if (rc != AM_OK)
				return rc;
			memcpy(state, next, (size_t)ch->n * REFINER_S * sizeof *state);
		}
		if (k == c->ks[j]) {
			for (i = 0; i < ch->n; i++)
				eval_row_score(rows, j,
					       linreg_task_mse(&ch->task[i],
							       state + (size_t)i * REFINER_S),
					       &prev[i], chg2);
			j++;
		}
	}
	return AM_OK;
}

/* Ridge on the first k*B rows of each task at every checkpoint, into
 * rows' base[EVAL_RIDGE] and floor. */
static void run_ridge(const struct chunk *ch, const struct eval_config *c,
		      struct eval_row *rows)
{
	double A[LINREG_P * LINREG_P], b[LINREG_P];
	float theta[LINREG_P];
	int i, j, k0;

	for (i = 0; i < ch->n; i++) {
		const struct linreg_task *t = &ch->task[i];
		double lambda = (double)t->noise * t->noise;

		memset(A, 0, sizeof A);
		memset(b, 0, sizeof b);
		k0 = 0;
		for (j = 0; j < c->nk; j++) {
			int n = c->ks[j] * c->B, r0 = k0 * c->B;

			linreg_accumulate(A, b, ch->X + ((size_t)i * ch->rows + r0) * LINREG_DMAX,
					  ch->y + (size_t)i * ch->rows + r0, n - r0);
			k0 = c->ks[j];
			if (linreg_ridge(theta, A, b, lambda, t->D) == 0)
				rows[j].base[EVAL_RIDGE] += linreg_task_mse(t, theta);
			else
				rows[j].base[EVAL_RIDGE] += INFINITY;
			rows[j].floor += lambda;
		}
	}
}

/* The one-step amortizer: all k*B rows of a task as one context, into
 * rows' onestep. */
static int run_onestep(const struct refiner *m, const float *p,
		       struct refiner_ws *ws, const struct chunk *ch,
		       const struct eval_config *c, struct eval_row *rows)
{
	float state[REFINER_S];
	int i, j, rc;

	for (j = 0; j < c->nk; j++) {
		int n = c->ks[j] * c->B;

		if (n > c->onestep_max_rows)
			continue;
		for (i = 0; i < ch->n; i++) {
			refiner_initial_state(m, p, state);
			rc = refiner_step(m, p, ws, state,
					  ch->X + (size_t)i * ch->rows * LINREG_DMAX,
					  ch->y + (size_t)i * ch->rows, n,
					  ch->task[i].D, 0.0, NULL);
			if (rc != AM_OK)
				return rc;
			rows[j].onestep += linreg_task_mse(&ch->task[i], state);
		}
	}
	return AM_OK;
}

/* The buffers of eval_linreg. */
struct lin_ws {
	double *sgd_acc, *adam_acc, *prev, chg2[EVAL_KS_MAX];
	struct refiner_ws *ws, *ws1;
	struct refiner_input *in;
	float *state, *next;
	struct chunk ch;
};

static void lin_ws_free(struct lin_ws *w)
{
	free(w->sgd_acc);
	free(w->adam_acc);
	chunk_free(&w->ch);
	refiner_ws_free(w->ws);
	refiner_ws_free(w->ws1);
	free(w->in);
	free(w->state);
	free(w->next);
	free(w->prev);
}

static int lin_ws_new(struct lin_ws *w, const struct refiner *m,
		      const struct eval_config *c)
{
	int kmax = c->ks[c->nk - 1];

	memset(w, 0, sizeof *w);
	w->sgd_acc = calloc((size_t)c->nk * EVAL_LRS, sizeof *w->sgd_acc);
	w->adam_acc = calloc((size_t)c->nk * EVAL_LRS, sizeof *w->adam_acc);
	if (!w->sgd_acc || !w->adam_acc || chunk_alloc(&w->ch, c->chunk, kmax * c->B))
		return AM_ENOMEM;
	w->ws = refiner_ws_new(m, c->chunk, c->B);
	w->in = calloc((size_t)c->chunk, sizeof *w->in);
	w->state = calloc((size_t)c->chunk * REFINER_S, sizeof *w->state);
	w->next = calloc((size_t)c->chunk * REFINER_S, sizeof *w->next);
	w->prev = calloc((size_t)c->chunk, sizeof *w->prev);
	if (!w->ws || !w->in || !w->state || !w->next || !w->prev)
		return AM_ENOMEM;
	if (c->onestep_max_rows > 0) {
		w->ws1 = refiner_ws_new(m, 1, c->onestep_max_rows);
		if (!w->ws1)
			return AM_ENOMEM;
	}
	return AM_OK;
}

static int lin_check(const struct refiner *m, const struct eval_config *c)
{
	if (c->ntasks < 1 || c->tune_tasks < 1 ||
	    c->B < 1 || c->B > m->cfg.bmax * 16 || c->B > REFINER_BMAX ||
	    c->chunk < 1 || c->onestep_max_rows < 0 ||
	    c->onestep_max_rows > REFINER_BMAX ||
	    eval_ks_check(c->nk, EVAL_KS_MAX, c->ks, c->B, 0) != AM_OK)
		return AM_EINVAL;
	if ((double)c->ks[c->nk - 1] * c->B > 1e6)
		return AM_EINVAL;
	return AM_OK;
}

/* The learning rates, on tuning tasks from their own stream: the index
 * into the grid per checkpoint for SGD and for Adam. */
static void lin_tune(struct lin_ws *w, const struct eval_config *c,
		     int *sgd_best, int *adam_best)
{
	struct rng r;
	int done;

	rng_seed(&r, c->seed ^ 0x74756e65ULL);	/* "tune" */
	for (done = 0; done < c->tune_tasks; done += w->ch.n) {
		w->ch.n = c->tune_tasks - done < c->chunk ? c->tune_tasks - done :
			  c->chunk;
		chunk_draw(&w->ch, c, &r);
		run_optimizer(&w->ch, c, 0, w->sgd_acc);
		run_optimizer(&w->ch, c, 1, w->adam_acc);
	}
	eval_pick_rates(c->nk, w->sgd_acc, sgd_best);
	eval_pick_rates(c->nk, w->adam_acc, adam_best);
	memset(w->sgd_acc, 0, (size_t)c->nk * EVAL_LRS * sizeof *w->sgd_acc);
	memset(w->adam_acc, 0, (size_t)c->nk * EVAL_LRS * sizeof *w->adam_acc);
}

int eval_linreg(const struct refiner *m, const float *p,
		const struct eval_config *c, struct eval_row *rows)
{
	int sgd_best[EVAL_KS_MAX], adam_best[EVAL_KS_MAX];
	struct lin_ws w;
	struct rng r;
	int j, done, rc;

	if (lin_check(m, c) != AM_OK)
		return AM_EINVAL;
	rc = lin_ws_new(&w, m, c);
	if (rc != AM_OK)
		goto out;
	lin_tune(&w, c, sgd_best, adam_best);
	memset(rows, 0, (size_t)c->nk * sizeof *rows);
	rng_seed(&r, c->seed);
	for (done = 0; done < c->ntasks; done += w.ch.n) {
		w.ch.n = c->ntasks - done < c->chunk ? c->ntasks - done : c->chunk;
		chunk_draw(&w.ch, c, &r);
		rc = run_amortizer(m, p, w.ws, &w.ch, c, rows, w.chg2, w.prev,
				   w.state, w.next, w.in);
		if (rc == AM_OK && w.ws1)
			rc = run_onestep(m, p, w.ws1, &w.ch, c, rows);
		if (rc != AM_OK)
			goto out;
		run_ridge(&w.ch, c, rows);
		run_optimizer(&w.ch, c, 0, w.sgd_acc);
		run_optimizer(&w.ch, c, 1, w.adam_acc);
	}
	for (j = 0; j < c->nk; j++) {
		struct eval_row *e = &rows[j];

		e->base[EVAL_SGD] = w.sgd_acc[j * EVAL_LRS + sgd_best[j]];
		e->base[EVAL_ADAM] = w.adam_acc[j * EVAL_LRS + adam_best[j]];
		e->base_hyper[EVAL_SGD] = eval_lr(sgd_best[j]);
		e->base_hyper[EVAL_ADAM] = eval_lr(adam_best[j]);
		e->has |= EVAL_HAS_AMORT | EVAL_HAS_FLOOR | EVAL_HAS_BASE(EVAL_RIDGE) |
			  EVAL_HAS_BASE(EVAL_SGD) | EVAL_HAS_BASE(EVAL_ADAM);
		if (c->onestep_max_rows > 0 && c->ks[j] * c->B <= c->onestep_max_rows)
			e->has |= EVAL_HAS_ONESTEP;
	}
	eval_rows_finish(rows, c->nk, c->ks, c->ntasks, w.chg2);
out:
	lin_ws_free(&w);
	return rc;
}
