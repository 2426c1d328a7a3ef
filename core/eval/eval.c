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

/* ---- the held-out evaluator --------------------------------------------- */

void eval_rows_narrow(const float *X, int n, int width, float *out)
{
	int i;

	for (i = 0; i < n; i++)
		memcpy(out + (size_t)i * width, X + (size_t)i * GEN_XMAX,
		       (size_t)width * sizeof *out);
}

static void task_free(struct eval_task *d)
{
	free(d->X);
	free(d->y);
	free(d->Xq);
	free(d->yq);
	free(d->iy);
	free(d->iyq);
	free(d->Xr);
	free(d->Xqr);
}

static int task_new(struct eval_task *d, int nstream, int nq)
{
	memset(d, 0, sizeof *d);
	d->X = malloc((size_t)nstream * GEN_XMAX * sizeof *d->X);
	d->y = malloc((size_t)nstream * sizeof *d->y);
	d->Xq = malloc((size_t)nq * GEN_XMAX * sizeof *d->Xq);
	d->yq = malloc((size_t)nq * sizeof *d->yq);
	d->iy = malloc((size_t)nstream * sizeof *d->iy);
	d->iyq = malloc((size_t)nq * sizeof *d->iyq);
	d->Xr = malloc((size_t)nstream * LINREG_DMAX * sizeof *d->Xr);
	d->Xqr = malloc((size_t)nq * LINREG_DMAX * sizeof *d->Xqr);
	return d->X && d->y && d->Xq && d->yq && d->iy && d->iyq && d->Xr &&
	       d->Xqr ? AM_OK : AM_ENOMEM;
}

void eval_task_draw(const struct source *stream, uint64_t seed, uint64_t id,
		    struct source_task *task, struct rng *r)
{
	struct rng master;

	rng_seed(&master, seed);
	rng_split(&master, id, r);
	source_draw(stream, r, task);
}

/* Task `id` of the tasks seeded by seed, and its rows. */
static void task_draw(const struct eval_family *f, struct eval_task *d,
		      const struct source *stream, const struct source *query,
		      uint64_t seed, uint64_t id, int nstream, int nq)
{
	struct rng r;

	eval_task_draw(stream, seed, id, &d->task, &r);
	f->rows(d, stream, query, &r, nstream, nq);
}

/*
 * The amortizer under evaluation: a copy of its session contract widened
 * to the evaluation (one-step batches beyond the trained batch, and, for
 * labels, any task's classes up to AMZ_CLASSES_MAX), its scratch, its
 * states (st: the session's, qs: implicit, one per held-out row; st1, qs1
 * the one-step amortizer's), its predictions, and the task's rows at its
 * row width (X, Xq: the task's own, or the narrowed copies Xn, Xqn).
 */
struct amort {
	struct amz az;
	struct amz_ws *ws;
	float *st, *qs, *st1, *qs1, *pred;
	float *Xn, *Xqn;
	const float *X, *Xq;
};

static void amort_free(struct amort *am)
{
	amz_ws_free(am->ws);
	free(am->st);
	free(am->qs);
	free(am->st1);
	free(am->qs1);
	free(am->pred);
	free(am->Xn);
	free(am->Xqn);
}

static int amort_new(struct amort *am, const struct eval_family *f,
		     const struct amz *a, const struct eval_run_config *c,
		     int nstream)
{
	size_t nq = (size_t)c->ntest, nqs = a->implicit ? nq * a->qstate : 1;

	memset(am, 0, sizeof *am);
	am->az = *a;
	if (c->B > am->az.bmax)
		am->az.bmax = c->B;
	if (c->onestep_max_rows > am->az.bmax)
		am->az.bmax = c->onestep_max_rows;
	if (f->labels)
		am->az.classes = AMZ_CLASSES_MAX;
	am->ws = amz_ws_new(&am->az);
	am->st = malloc((size_t)a->nstate * sizeof *am->st);
	am->st1 = malloc((size_t)a->nstate * sizeof *am->st1);
	am->qs = malloc(nqs * sizeof *am->qs);
	am->qs1 = malloc(nqs * sizeof *am->qs1);
	am->pred = malloc(nq * (f->labels ? AMZ_CLASSES_MAX : 1) * sizeof *am->pred);
	if (!am->ws || !am->st || !am->st1 || !am->qs || !am->qs1 || !am->pred)
		return AM_ENOMEM;
	if (a->dmax < GEN_XMAX) {
		am->Xn = malloc((size_t)nstream * a->dmax * sizeof *am->Xn);
		am->Xqn = malloc(nq * a->dmax * sizeof *am->Xqn);
		if (!am->Xn || !am->Xqn)
			return AM_ENOMEM;
	}
	return AM_OK;
}

/* The task's rows at the amortizer's row width. */
static void amort_bind(struct amort *am, const struct eval_task *d,
		       int nstream, int nq)
{
	if (!am->Xn) {
		am->X = d->X;
		am->Xq = d->Xq;
		return;
	}
	eval_rows_narrow(d->X, nstream, am->az.dmax, am->Xn);
	eval_rows_narrow(d->Xq, nq, am->az.dmax, am->Xqn);
	am->X = am->Xn;
	am->Xq = am->Xqn;
}

/* The amortizer's starting state for task d: its learned initial state
 * (with the task's classes), and (implicit) the initial prediction of
 * every held-out row. */
static int amort_start(const struct amort *am, const struct eval_family *f,
		       const struct eval_task *d, int nq, float *st, float *qs)
{
	amz_initial_state(&am->az, st);
	if (f->labels && amz_set_classes(&am->az, st, d->task.K) != AM_OK)
		return AM_EINVAL;
	if (am->az.implicit)
		return amz_query_init(&am->az, st, nq, qs);
	return AM_OK;
}

/* One step on the B stream rows from row0: the state's, or (implicit)
 * the held-out rows' predictions refined by the batch. */
static int amort_step(const struct amort *am, const struct eval_task *d,
		      int nq, float *st, float *qs, int row0, int B,
		      double rows_seen)
{
	const float *X = am->X + (size_t)row0 * am->az.dmax, *y = d->y + row0;

	if (am->az.implicit)
		return amz_query_step(&am->az, am->ws, st, am->Xq, nq, qs, X, y,
				      B, d->task.D, rows_seen);
	return amz_step(&am->az, am->ws, st, X, y, B, d->task.D, rows_seen,
			NULL, NULL);
}

/* The family's score of the amortizer's predictions on the held-out
 * rows, into *score. */
static int amort_score(const struct amort *am, const struct eval_family *f,
		       const struct eval_sources *s, const struct eval_task *d,
		       int nq, const float *st, const float *qs, double *score)
{
	const struct amz *a = &am->az;
	int rc;

	if (f->labels)
		rc = a->implicit ? amz_query_probs(a, st, qs, nq, am->pred) :
		     amz_predict_probs(a, st, am->Xq, nq, d->task.D, am->pred);
	else
		rc = a->implicit ? amz_query_mean(a, st, qs, nq, am->pred) :
		     amz_predict(a, st, am->Xq, nq, d->task.D, am->pred, NULL);
	if (rc == AM_OK)
		*score = f->score(d, s, am->pred, nq);
	return rc;
}

/* Whether baseline b runs in this evaluation. */
static int live(const struct eval_baseline *b, const struct eval_sources *s,
		const struct eval_run_config *c)
{
	return !(b->skippable && c->skip_baselines) && (!b->applies || b->applies(s));
}

static void add_score(struct eval_row *e, int slot, double v)
{
	if (slot == EVAL_SLOT_FLOOR)
		e->floor += v;
	else
		e->base[slot] += v;
}

/* The amortizer and the baselines on evaluation task t, added into rows
 * (chg2: eval_row_score).  hyper: nk per baseline. */
static int run_task(const struct eval_family *f, struct amort *am,
		    const struct eval_sources *s, const struct eval_run_config *c,
		    int t, struct eval_task *d, const float *hyper,
		    struct eval_row *rows, double *chg2)
{
	int nstream = c->ks[c->nk - 1] * c->B, nq = c->ntest, step = 0, j, b, rc;
	double prev = 0.0, v;

	task_draw(f, d, s->stream, s->query ? s->query : s->stream, c->seed,
		  (uint64_t)t, nstream, nq);
	amort_bind(am, d, nstream, nq);
	rc = amort_start(am, f, d, nq, am->st, am->qs);
	for (j = 0; rc == AM_OK && j < c->nk; j++) {
		int n = c->ks[j] * c->B;

		for (; rc == AM_OK && step < c->ks[j]; step++)
			rc = amort_step(am, d, nq, am->st, am->qs, step * c->B,
					c->B, (double)step * c->B);
		if (rc == AM_OK)
			rc = amort_score(am, f, s, d, nq, am->st, am->qs, &v);
		if (rc != AM_OK)
			break;
		eval_row_score(rows, j, v, &prev, chg2);
		for (b = 0; rc == AM_OK && b < f->nbaselines; b++) {
			const struct eval_baseline *bl = &f->baselines[b];
			struct eval_at at = { d, s, c, j, bl->arg,
					      hyper[(size_t)b * c->nk + j] };

			if (!live(bl, s, c))
				continue;
			rc = bl->run(&at, &v);
			if (rc == AM_OK)
				add_score(&rows[j], bl->slot, v);
		}
		if (rc != AM_OK || n > c->onestep_max_rows)
			continue;
		rc = amort_start(am, f, d, nq, am->st1, am->qs1);
		if (rc == AM_OK)
			rc = amort_step(am, d, nq, am->st1, am->qs1, 0, n, 0.0);
		if (rc == AM_OK)
			rc = amort_score(am, f, s, d, nq, am->st1, am->qs1, &v);
		if (rc == AM_OK)
			rows[j].onestep += v;
	}
	return rc;
}

/* The tuned baselines' hyperparameters (hyper: nk per baseline), on
 * tuning tasks drawn from their own stream. */
static int run_tune(const struct eval_family *f, const struct eval_sources *s,
		    const struct eval_run_config *c, float *hyper)
{
	const struct source *src = s->tune ? s->tune : s->stream;
	int nstream = c->ks[c->nk - 1] * c->B, n = 0, t, b, rc = AM_OK;
	int nq = f->tune_heldout ? c->ntest : 1;
	struct eval_task *tt = NULL;

	for (b = 0; b < f->nbaselines; b++)
		if (f->baselines[b].tune && live(&f->baselines[b], s, c))
			n = c->tune_tasks;
	if (!n)
		return AM_OK;
	tt = calloc((size_t)n, sizeof *tt);
	if (!tt)
		return AM_ENOMEM;
	for (t = 0; t < n && rc == AM_OK; t++) {
		rc = task_new(&tt[t], nstream, nq);
		if (rc == AM_OK)
			task_draw(f, &tt[t], src, src, c->seed ^ f->tune_salt,
				  (uint64_t)t, nstream, nq);
	}
	for (b = 0; rc == AM_OK && b < f->nbaselines; b++) {
		const struct eval_baseline *bl = &f->baselines[b];

		if (bl->tune && live(bl, s, c))
			rc = bl->tune(tt, n, src, c, bl->arg,
				      hyper + (size_t)b * c->nk);
	}
	for (t = 0; t < n; t++)
		task_free(&tt[t]);
	free(tt);
	return rc;
}

static int run_check(const struct eval_family *f, const struct amz *a,
		     const struct eval_sources *s, const struct eval_run_config *c)
{
	if (!(f->labels ? a->has_labels : a->has_mean) || a->dmax > GEN_XMAX ||
	    f->nbaselines > EVAL_BASE_MAX + 1 || f->check(s) != AM_OK ||
	    c->ntasks < 1 || c->tune_tasks < 1 || c->B < 1 ||
	    c->max_rows < 1 || c->B > c->max_rows || c->ntest < 1 ||
	    c->ntest > 1000000 || c->onestep_max_rows < 0 ||
	    c->onestep_max_rows > c->max_rows ||
	    eval_ks_check(c->nk, EVAL_RUN_KS_MAX, c->ks, c->B, 65536) != AM_OK)
		return AM_EINVAL;
	return AM_OK;
}

int eval_run(const struct eval_family *f, const struct amz *a,
	     const struct eval_sources *s, const struct eval_run_config *c,
	     struct eval_row *rows)
{
	float hyper[(EVAL_BASE_MAX + 1) * EVAL_RUN_KS_MAX];
	double chg2[EVAL_RUN_KS_MAX];	/* sums of squared per-task changes */
	struct eval_task d;
	struct amort am;
	int nstream, t, j, b, rc;

	if (run_check(f, a, s, c) != AM_OK)
		return AM_EINVAL;
	nstream = c->ks[c->nk - 1] * c->B;
	memset(hyper, 0, sizeof hyper);
	memset(chg2, 0, sizeof chg2);
	rc = task_new(&d, nstream, c->ntest);
	if (rc == AM_OK)
		rc = amort_new(&am, f, a, c, nstream);
	else
		memset(&am, 0, sizeof am);
	if (rc == AM_OK)
		rc = run_tune(f, s, c, hyper);
	if (rc != AM_OK)
		goto out;
	memset(rows, 0, (size_t)c->nk * sizeof *rows);
	for (t = 0; t < c->ntasks; t++) {
		rc = run_task(f, &am, s, c, t, &d, hyper, rows, chg2);
		if (rc != AM_OK)
			goto out;
	}
	for (j = 0; j < c->nk; j++) {
		struct eval_row *e = &rows[j];

		e->has |= EVAL_HAS_AMORT;
		if (c->ks[j] * c->B <= c->onestep_max_rows)
			e->has |= EVAL_HAS_ONESTEP;
		for (b = 0; b < f->nbaselines; b++) {
			const struct eval_baseline *bl = &f->baselines[b];

			if (!live(bl, s, c))
				continue;
			if (bl->slot == EVAL_SLOT_FLOOR) {
				e->has |= EVAL_HAS_FLOOR;
				continue;
			}
			e->has |= EVAL_HAS_BASE(bl->slot);
			if (bl->tune)
				e->base_hyper[bl->slot] = hyper[(size_t)b * c->nk + j];
		}
	}
	eval_rows_finish(rows, c->nk, c->ks, c->ntasks, chg2);
out:
	task_free(&d);
	amort_free(&am);
	return rc;
}
