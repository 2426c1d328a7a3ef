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

/* Sums over tasks of the amortizer's MSE at each checkpoint (mse), and of
 * each task's change from the previous checkpoint and its square (chg,
 * chg2; from the second checkpoint on). */
struct amort_acc {
	double mse[EVAL_KS_MAX], chg[EVAL_KS_MAX], chg2[EVAL_KS_MAX];
};

/* The refiner over the chunk's mini-batches in lockstep; adds into acc.
 * prev holds a chunk's worth of doubles. */
static int run_amortizer(const struct refiner *m, const float *p,
			 struct refiner_ws *ws, const struct chunk *ch,
			 const struct eval_config *c, struct amort_acc *acc,
			 double *prev, float *state, float *next,
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
			for (i = 0; i < ch->n; i++) {
				double e = linreg_task_mse(&ch->task[i],
							   state + (size_t)i * REFINER_S);

				acc->mse[j] += e;
				if (j) {
					acc->chg[j] += e - prev[i];
					acc->chg2[j] += (e - prev[i]) * (e - prev[i]);
				}
				prev[i] = e;
			}
			j++;
		}
	}
	return AM_OK;
}

/* Ridge on the first k*B rows of each task at every checkpoint. */
static void run_ridge(const struct chunk *ch, const struct eval_config *c,
		      double *acc, double *floor_acc)
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
			int rows = c->ks[j] * c->B, r0 = k0 * c->B;

			linreg_accumulate(A, b, ch->X + ((size_t)i * ch->rows + r0) * LINREG_DMAX,
					  ch->y + (size_t)i * ch->rows + r0, rows - r0);
			k0 = c->ks[j];
			if (linreg_ridge(theta, A, b, lambda, t->D) == 0)
				acc[j] += linreg_task_mse(t, theta);
			else
				acc[j] += INFINITY;
			floor_acc[j] += lambda;
		}
	}
}

/* The one-step amortizer: all k*B rows of a task as one context. */
static int run_onestep(const struct refiner *m, const float *p,
		       struct refiner_ws *ws, const struct chunk *ch,
		       const struct eval_config *c, double *acc)
{
	float state[REFINER_S];
	int i, j, rc;

	for (j = 0; j < c->nk; j++) {
		int rows = c->ks[j] * c->B;

		if (rows > c->onestep_max_rows)
			continue;
		for (i = 0; i < ch->n; i++) {
			refiner_initial_state(m, p, state);
			rc = refiner_step(m, p, ws, state,
					  ch->X + (size_t)i * ch->rows * LINREG_DMAX,
					  ch->y + (size_t)i * ch->rows, rows,
					  ch->task[i].D, 0.0, NULL);
			if (rc != AM_OK)
				return rc;
			acc[j] += linreg_task_mse(&ch->task[i], state);
		}
	}
	return AM_OK;
}

int eval_linreg(const struct refiner *m, const float *p,
		const struct eval_config *c, struct eval_row *rows)
{
	double *sgd_acc = NULL, *adam_acc = NULL, *prev = NULL;
	struct amort_acc am = { { 0 }, { 0 }, { 0 } };
	double rd[EVAL_KS_MAX] = { 0 }, fl[EVAL_KS_MAX] = { 0 };
	double os[EVAL_KS_MAX] = { 0 };
	int sgd_best[EVAL_KS_MAX], adam_best[EVAL_KS_MAX];
	struct refiner_ws *ws = NULL, *ws1 = NULL;
	struct refiner_input *in = NULL;
	float *state = NULL, *next = NULL;
	struct chunk ch = { 0 };
	struct rng r;
	int j, done, kmax, rc = AM_ENOMEM;

	if (c->nk < 1 || c->nk > EVAL_KS_MAX || c->ntasks < 1 || c->tune_tasks < 1 ||
	    c->B < 1 || c->B > m->cfg.bmax * 16 || c->B > REFINER_BMAX ||
	    c->chunk < 1 || c->onestep_max_rows < 0 ||
	    c->onestep_max_rows > REFINER_BMAX)
		return AM_EINVAL;
	for (j = 0; j < c->nk; j++)
		if (c->ks[j] < 1 || (j && c->ks[j] <= c->ks[j - 1]))
			return AM_EINVAL;
	kmax = c->ks[c->nk - 1];
	if ((double)kmax * c->B > 1e6)
		return AM_EINVAL;
	sgd_acc = calloc((size_t)c->nk * EVAL_LRS, sizeof *sgd_acc);
	adam_acc = calloc((size_t)c->nk * EVAL_LRS, sizeof *adam_acc);
	if (!sgd_acc || !adam_acc || chunk_alloc(&ch, c->chunk, kmax * c->B))
		goto out;
	ws = refiner_ws_new(m, c->chunk, c->B);
	in = calloc((size_t)c->chunk, sizeof *in);
	state = calloc((size_t)c->chunk * REFINER_S, sizeof *state);
	next = calloc((size_t)c->chunk * REFINER_S, sizeof *next);
	prev = calloc((size_t)c->chunk, sizeof *prev);
	if (!ws || !in || !state || !next || !prev)
		goto out;
	if (c->onestep_max_rows > 0) {
		ws1 = refiner_ws_new(m, 1, c->onestep_max_rows);
		if (!ws1)
			goto out;
	}

	/* 1. learning rates, on tuning tasks from their own stream */
	rng_seed(&r, c->seed ^ 0x74756e65ULL);	/* "tune" */
	for (done = 0; done < c->tune_tasks; done += ch.n) {
		ch.n = c->tune_tasks - done < c->chunk ? c->tune_tasks - done : c->chunk;
		chunk_draw(&ch, c, &r);
		run_optimizer(&ch, c, 0, sgd_acc);
		run_optimizer(&ch, c, 1, adam_acc);
	}
	eval_pick_rates(c->nk, sgd_acc, sgd_best);
	eval_pick_rates(c->nk, adam_acc, adam_best);
	memset(sgd_acc, 0, (size_t)c->nk * EVAL_LRS * sizeof *sgd_acc);
	memset(adam_acc, 0, (size_t)c->nk * EVAL_LRS * sizeof *adam_acc);

	/* 2. test tasks */
	rng_seed(&r, c->seed);
	for (done = 0; done < c->ntasks; done += ch.n) {
		ch.n = c->ntasks - done < c->chunk ? c->ntasks - done : c->chunk;
		chunk_draw(&ch, c, &r);
		rc = run_amortizer(m, p, ws, &ch, c, &am, prev, state, next, in);
		if (rc == AM_OK && ws1)
			rc = run_onestep(m, p, ws1, &ch, c, os);
		if (rc != AM_OK)
			goto out;
		run_ridge(&ch, c, rd, fl);
		run_optimizer(&ch, c, 0, sgd_acc);
		run_optimizer(&ch, c, 1, adam_acc);
	}
	for (j = 0; j < c->nk; j++) {
		struct eval_row *e = &rows[j];

		e->k = c->ks[j];
		e->amort = am.mse[j] / c->ntasks;
		e->has_change = j > 0;
		eval_change(am.chg[j], am.chg2[j], c->ntasks, &e->change,
			    &e->change_se);
		e->ridge = rd[j] / c->ntasks;
		e->floor = fl[j] / c->ntasks;
		e->sgd = sgd_acc[j * EVAL_LRS + sgd_best[j]] / c->ntasks;
		e->adam = adam_acc[j * EVAL_LRS + adam_best[j]] / c->ntasks;
		e->sgd_lr = eval_lr(sgd_best[j]);
		e->adam_lr = eval_lr(adam_best[j]);
		e->has_onestep = c->onestep_max_rows > 0 &&
				 c->ks[j] * c->B <= c->onestep_max_rows;
		e->onestep = e->has_onestep ? os[j] / c->ntasks : NAN;
	}
	rc = AM_OK;
out:
	free(sgd_acc);
	free(adam_acc);
	chunk_free(&ch);
	refiner_ws_free(ws);
	refiner_ws_free(ws1);
	free(in);
	free(state);
	free(next);
	free(prev);
	return rc;
}
