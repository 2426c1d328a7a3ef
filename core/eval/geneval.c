/*
 * geneval.c - the generative amortizer against EM and the sampling floor.
 */
#include "eval/geneval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "tasks/mog.h"
#include "eval/sdist.h"
#include "eval/eval.h"

struct bufs {
	struct gen_ws *ws;
	float *seen;			/* kmax * B rows */
	float *held, *ref, *ref2, *smp;
	float state[GEN_STATE_MAX];
};

static void bufs_free(struct bufs *b)
{
	gen_ws_free(b->ws);
	free(b->seen);
	free(b->held);
	free(b->ref);
	free(b->ref2);
	free(b->smp);
}

static int bufs_new(struct bufs *b, const struct gen *g,
		    const struct geneval_config *c)
{
	int kmax = c->ks[c->nk - 1];

	memset(b, 0, sizeof *b);
	b->ws = gen_ws_new(g, 1, c->B);
	b->seen = malloc((size_t)kmax * c->B * GEN_DMAX * sizeof(float));
	b->held = malloc((size_t)c->nheld * GEN_DMAX * sizeof(float));
	b->ref = malloc((size_t)c->nsamp * GEN_DMAX * sizeof(float));
	b->ref2 = malloc((size_t)c->nsamp * GEN_DMAX * sizeof(float));
	b->smp = malloc((size_t)c->nsamp * GEN_DMAX * sizeof(float));
	if (!b->ws || !b->seen || !b->held || !b->ref || !b->ref2 || !b->smp) {
		bufs_free(b);
		return AM_ENOMEM;
	}
	return AM_OK;
}

static int check(const struct gen *g, const struct geneval_config *c)
{
	if (c->ntasks < 1 || c->B < 1 || c->B > g->cfg.bmax || c->nheld < 1 ||
	    c->nsamp < 2 || c->em_restarts < 1 || c->em_iters < 1 ||
	    eval_ks_check(c->nk, GENEVAL_KS_MAX, c->ks, c->B, 65536) != AM_OK)
		return AM_EINVAL;
	return AM_OK;
}

/* Walks task t: refines over kmax batches and calls back at each k. */
typedef void (*at_k_fn)(void *ctx, int j, const struct source_task *task,
			struct bufs *b, struct rng *r);

static int walk(const struct gen *g, const float *p, const struct source *ts,
		const struct geneval_config *c, struct bufs *b, int t,
		at_k_fn fn, void *ctx)
{
	struct source_task task;
	struct rng r;
	int step = 0, j, rc;

	eval_task_draw(ts, c->seed, (uint64_t)t, &task, &r);
	gen_initial_state(g, p, b->state);
	for (j = 0; j < c->nk; j++) {
		for (; step < c->ks[j]; step++) {
			float *X = b->seen + (size_t)step * c->B * GEN_DMAX;

			source_sample(ts, &task, &r, c->B, X, NULL);
			rc = gen_step(g, p, b->ws, b->state, X, NULL, c->B, task.D, 0,
				      (double)step * c->B, NULL, NULL);
			if (rc != AM_OK)
				return rc;
		}
		fn(ctx, j, &task, b, &r);
	}
	return AM_OK;
}

struct run_ctx {
	const struct gen *g;
	const float *p;
	const struct source *ts;
	const struct geneval_config *c;
	struct eval_row *rows;
};

static void measure(void *vctx, int j, const struct source_task *task,
		    struct bufs *b, struct rng *r)
{
	struct run_ctx *x = vctx;
	const struct geneval_config *c = x->c;
	struct eval_row *row = &x->rows[j];
	int D = task->D, n = c->ks[j] * c->B;
	float em[MOG_P];

	source_sample(x->ts, task, r, c->nheld, b->held, NULL);
	source_sample(x->ts, task, r, c->nsamp, b->ref, NULL);
	source_sample(x->ts, task, r, c->nsamp, b->ref2, NULL);
	row->base[EVAL_ENERGY_FLOOR] += sdist_energy_v(b->ref2, c->nsamp, b->ref, c->nsamp,
					  D, GEN_DMAX);
	gen_sample(x->g, x->p, b->ws, b->state, D, c->nsamp, r, b->smp);
	row->base[EVAL_ENERGY] += sdist_energy_v(b->smp, c->nsamp, b->ref, c->nsamp,
					  D, GEN_DMAX);
	if (x->g->cfg.kind == GEN_MOG)
		row->amort += mog_nll(b->state, D, b->held, c->nheld, NULL, NULL);
	if (x->ts->src == SOURCE_MOG) {
		double ll;

		row->floor += mog_nll(task->theta, D, b->held, c->nheld, NULL, NULL);
		ll = n >= task->K ? mog_em(b->seen, n, D, task->K, c->em_restarts,
					   c->em_iters, r, em) : NAN;
		if (isnan(ll)) {
			/* fewer rows than components: EM cannot start; the
			 * baseline is then the single Gaussian fit */
			ll = mog_em(b->seen, n, D, 1, 1, c->em_iters, r, em);
		}
		row->base[EVAL_EM] += mog_nll(em, D, b->held, c->nheld, NULL, NULL);
		mog_sample(em, D, r, c->nsamp, b->smp);
		row->base[EVAL_EM_ENERGY] += sdist_energy_v(b->smp, c->nsamp, b->ref, c->nsamp,
					       D, GEN_DMAX);
	}
}

int geneval_run(const struct gen *g, const float *p, const struct source *ts,
		const struct geneval_config *c, struct eval_row *rows)
{
	struct run_ctx x = { g, p, ts, c, rows };
	double chg2[GENEVAL_KS_MAX];
	unsigned has = EVAL_HAS_BASE(EVAL_ENERGY) | EVAL_HAS_BASE(EVAL_ENERGY_FLOOR);
	struct bufs b;
	int t, j, rc;

	if (check(g, c) != AM_OK)
		return AM_EINVAL;
	rc = bufs_new(&b, g, c);
	if (rc != AM_OK)
		return rc;
	memset(rows, 0, (size_t)c->nk * sizeof *rows);
	for (t = 0; t < c->ntasks; t++) {
		rc = walk(g, p, ts, c, &b, t, measure, &x);
		if (rc != AM_OK)
			goto out;
	}
	if (g->cfg.kind == GEN_MOG)
		has |= EVAL_HAS_AMORT;
	if (ts->src == SOURCE_MOG)
		has |= EVAL_HAS_FLOOR | EVAL_HAS_BASE(EVAL_EM) |
		       EVAL_HAS_BASE(EVAL_EM_ENERGY);
	memset(chg2, 0, sizeof chg2);
	for (j = 0; j < c->nk; j++)
		rows[j].has = has;
	/* no step column: the rows' changes are not summed per task */
	eval_rows_finish(rows, c->nk, c->ks, c->ntasks, chg2);
	for (j = 0; j < c->nk; j++)
		rows[j].has &= ~EVAL_HAS_CHANGE;
out:
	bufs_free(&b);
	return rc;
}

struct pic_ctx {
	const struct gen *g;
	const float *p;
	const struct geneval_config *c;
	float *out;
};

static void picture(void *vctx, int j, const struct source_task *task,
		    struct bufs *b, struct rng *r)
{
	struct pic_ctx *x = vctx;

	gen_sample(x->g, x->p, b->ws, b->state, task->D, x->c->nsamp, r,
		   x->out + (size_t)j * x->c->nsamp * GEN_DMAX);
}

int geneval_samples(const struct gen *g, const float *p,
		    const struct source *ts, const struct geneval_config *c,
		    int t, float *out, float *truth)
{
	struct pic_ctx x = { g, p, c, out };
	struct source_task task;
	struct rng master, r;
	struct bufs b;
	int rc;

	if (check(g, c) != AM_OK || t < 0 || t >= c->ntasks)
		return AM_EINVAL;
	rc = bufs_new(&b, g, c);
	if (rc != AM_OK)
		return rc;
	rc = walk(g, p, ts, c, &b, t, picture, &x);
	if (rc == AM_OK) {
		/* the task walk() drew, and a sample of it from its own stream */
		rng_seed(&master, c->seed);
		rng_split(&master, (uint64_t)t, &r);
		source_draw(ts, &r, &task);
		rng_split(&master, (uint64_t)t + 0x100000000ull, &r);
		source_sample(ts, &task, &r, c->nsamp, truth, NULL);
	}
	bufs_free(&b);
	return rc;
}
