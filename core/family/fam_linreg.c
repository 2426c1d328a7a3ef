/*
 * fam_linreg.c - the linear-regression family's table (see fam_linreg.h).
 */
#include "family/fam_linreg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "io/ckpt.h"

/* A trajectory's family part: its task and current mini-batch. */
struct lin_traj {
	struct linreg_task task;
	float *X, *y;			/* bmax rows of LINREG_DMAX, bmax */
};

/* A shard's workspace: the refiner's and its chunk's inputs. */
struct lin_ws {
	struct refiner_ws *ws;
	struct refiner_input *in;
};

void trainer_config_default(struct trainer_config *c)
{
	memset(c, 0, sizeof *c);
	c->ref.C = 64;
	c->ref.H = 4;
	c->ref.L = 4;
	c->ref.bmax = 32;
	c->ref.ksteps = 16;
	c->ref.passes = 2;
	c->ref.variant = REFINER_BOTH;
	linreg_family_default(&c->fam);
	c->pop = 128;
	c->chunk = 16;
	c->iters = 6000;
	c->lr = 1e-3f;
	c->lr_min = 1e-4f;
	c->warmup = 200;
	c->clip = 1.0f;
	c->weight_decay = 0.0f;
	c->full_batch = 0.5f;
	c->seed = 1;
	c->shards = 1;
}

int trainer_config_check(const struct trainer_config *c, char *err, size_t errlen)
{
	const struct linreg_family *f = &c->fam;
	int rc = refiner_config_check(&c->ref, err, errlen);
	struct family_train t;

	if (rc != AM_OK)
		return rc;
	if (c->ref.bmax > 64)
		return am_fail(err, errlen, AM_EINVAL, "batch must be at most 64 for training");
	if (f->dmin < 1 || f->dmin > f->dmax || f->dmax > LINREG_DMAX)
		return am_fail(err, errlen, AM_EINVAL, "dims must satisfy 1 <= dmin <= dmax <= 16");
	if (!(f->smin > 0.0f) || !(f->smin <= f->smax) || !(f->smax <= 100.0f))
		return am_fail(err, errlen, AM_EINVAL, "noise must satisfy 0 < min <= max <= 100");
	FAMILY_TRAIN_SCHEDULE(&t, c);
	return family_schedule_check(&t, err, errlen);
}

static int lin_open(void *m, struct layout *params, const void *cfg)
{
	struct fam_linreg_model *lm = m;

	lm->cfg = *(const struct trainer_config *)cfg;
	return refiner_init(&lm->ref, params, &lm->cfg.ref);
}

static int lin_init(void *m, struct layout *params, const void *cfg,
		    struct family_train *tc, char *err, size_t errlen)
{
	const struct trainer_config *c = cfg;

	if (trainer_config_check(c, err, errlen) != AM_OK)
		return AM_EINVAL;
	if (lin_open(m, params, cfg) != AM_OK)
		return am_fail(err, errlen, AM_ENOMEM, "out of memory");
	memset(tc, 0, sizeof *tc);
	tc->nstate = REFINER_S;
	tc->bmax = c->ref.bmax;
	tc->ksteps = c->ref.ksteps;
	tc->passes = c->ref.passes;
	FAMILY_TRAIN_SCHEDULE(tc, c);
	return AM_OK;
}

static void lin_init_params(const void *m, float *p, struct rng *r)
{
	refiner_init_params(&((const struct fam_linreg_model *)m)->ref, p, r);
}

static void lin_initial_state(const void *m, const float *p, float *state)
{
	refiner_initial_state(&((const struct fam_linreg_model *)m)->ref, p, state);
}

static void lin_ws_free(void *ws)
{
	struct lin_ws *w = ws;

	if (!w)
		return;
	refiner_ws_free(w->ws);
	free(w->in);
	free(w);
}

static void *lin_ws_init(const void *m, int max_seq, int max_rows)
{
	const struct fam_linreg_model *lm = m;
	struct lin_ws *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->ws = refiner_ws_new(&lm->ref, max_seq, max_rows);
	w->in = calloc((size_t)max_seq, sizeof *w->in);
	if (!w->ws || !w->in) {
		lin_ws_free(w);
		return NULL;
	}
	return w;
}

static void lin_input(const void *m, void *ws, int i, const struct family_traj *tr)
{
	const struct lin_traj *lt = tr->x;
	struct refiner_input *in = &((struct lin_ws *)ws)->in[i];

	(void)m;
	in->state = tr->state;
	in->X = lt->X;
	in->y = lt->y;
	in->B = tr->B;
	in->D = lt->task.D;
	in->rows_seen = tr->rows;
	in->pass = tr->pass;
}

static int lin_forward(const void *m, const float *p, void *ws, int ns, float *next)
{
	struct lin_ws *w = ws;

	return refiner_forward(&((const struct fam_linreg_model *)m)->ref, p,
			       w->ws, ns, w->in, next, NULL);
}

static void lin_backward(const void *m, const float *p, float *dp, void *ws,
			 const float *dnext)
{
	refiner_backward(&((const struct fam_linreg_model *)m)->ref, p, dp,
			 ((struct lin_ws *)ws)->ws, dnext);
}

/* d' S d: the expected squared error of theta beyond the noise, and its
 * gradient 2 S d into grad (may be NULL). */
static double excess(const struct linreg_task *t, const float *theta,
		     float *grad)
{
	double d[LINREG_P], md = 0.0, q = 0.0;
	int j;

	for (j = 0; j < LINREG_P; j++)
		d[j] = (j < t->D || j == LINREG_DMAX) ?
			(double)theta[j] - t->theta[j] : 0.0;
	/* S = [[I + mu mu', mu], [mu', 1]]: S d = [d_x + mu (mu.d_x + d_b),
	 * mu.d_x + d_b] */
	for (j = 0; j < t->D; j++)
		md += (double)t->mu[j] * d[j];
	md += d[LINREG_DMAX];
	for (j = 0; j < t->D; j++)
		q += d[j] * (d[j] + t->mu[j] * md);
	q += d[LINREG_DMAX] * md;
	if (grad) {
		memset(grad, 0, LINREG_P * sizeof *grad);
		for (j = 0; j < t->D; j++)
			grad[j] = (float)(2.0 * (d[j] + t->mu[j] * md));
		grad[LINREG_DMAX] = (float)(2.0 * md);
	}
	return q;
}

/*
 * The loss of one refined state on its task and its gradient with respect
 * to the state (dstate, REFINER_S), scaled by w.  Returns log(mse/noise^2).
 */
static double task_loss(const struct linreg_task *t, const float *s, float w,
			float *dstate)
{
	float g[LINREG_P];
	double nv = (double)t->noise * t->noise;
	double mse = excess(t, s, g) + nv;
	double ev = exp(-(double)s[REFINER_LOGVAR]);
	int j;

	for (j = 0; j < LINREG_P; j++)
		dstate[j] = (float)(w * g[j] / mse);
	dstate[REFINER_LOGVAR] = (float)(w * 0.5 * (1.0 - mse * ev));
	return log(mse / nv);
}

static double lin_state_loss(const void *m, const float *p, float *dp,
			     void *ws, struct family_traj *tr,
			     const float *state, float w, float *dstate)
{
	(void)m;
	(void)p;
	(void)dp;
	(void)ws;
	return task_loss(&((const struct lin_traj *)tr->x)->task, state, w, dstate);
}

/* The learned initial state, on every trajectory's task. */
static void lin_init_loss(const void *m, const float *p, float *dp,
			  const struct family_traj *pop, int n, float w)
{
	const struct refiner *ref = &((const struct fam_linreg_model *)m)->ref;
	float ds[REFINER_S], s0[REFINER_S];
	int i, j;

	refiner_initial_state(ref, p, s0);
	for (i = 0; i < n; i++) {
		task_loss(&((const struct lin_traj *)pop[i].x)->task, s0, w, ds);
		for (j = 0; j < REFINER_S; j++)
			dp[ref->init + j] += ds[j];
	}
}

static void *lin_traj_alloc(const void *m)
{
	size_t bm = (size_t)((const struct fam_linreg_model *)m)->cfg.ref.bmax;
	struct lin_traj *lt = calloc(1, sizeof *lt +
				     bm * (LINREG_DMAX + 1) * sizeof(float));

	if (!lt)
		return NULL;
	lt->X = (float *)(void *)(lt + 1);
	lt->y = lt->X + bm * LINREG_DMAX;
	return lt;
}

static void lin_task_draw(const void *m, const float *p, struct family_traj *tr)
{
	const struct fam_linreg_model *lm = m;

	linreg_task_draw(&((struct lin_traj *)tr->x)->task, &lm->cfg.fam, &tr->rng);
	refiner_initial_state(&lm->ref, p, tr->state);
}

static void lin_task_rows(const void *m, struct family_traj *tr)
{
	struct lin_traj *lt = tr->x;

	(void)m;
	linreg_task_rows(&lt->task, &tr->rng, tr->B, lt->X, lt->y);
}

/* ---- checkpoints ---------------------------------------------------------
 * the task (D, theta, noise, x distribution, mean), the rng, the state, B
 * step pass rows, then the batch (rows, targets) */

#define TRAJ_FIXED (1 + LINREG_P + 1 + 1 + LINREG_DMAX + 16 + REFINER_S + 4)

static size_t lin_task_floats(const void *m)
{
	return TRAJ_FIXED + (size_t)((const struct fam_linreg_model *)m)->cfg.ref.bmax *
	       (LINREG_DMAX + 1);
}

static void lin_task_pack(const void *m, const struct family_traj *tr, float *f)
{
	const struct lin_traj *lt = tr->x;
	size_t bm = (size_t)((const struct fam_linreg_model *)m)->cfg.ref.bmax;
	int i;

	*f++ = (float)lt->task.D;
	memcpy(f, lt->task.theta, LINREG_P * sizeof *f);
	f += LINREG_P;
	*f++ = lt->task.noise;
	*f++ = (float)lt->task.xdist;
	memcpy(f, lt->task.mu, LINREG_DMAX * sizeof *f);
	f += LINREG_DMAX;
	for (i = 0; i < 4; i++, f += 4)
		ckpt_put_u64(f, tr->rng.s[i]);
	memcpy(f, tr->state, REFINER_S * sizeof *f);
	f += REFINER_S;
	*f++ = (float)tr->B;
	*f++ = (float)tr->step;
	*f++ = (float)tr->pass;
	*f++ = (float)tr->rows;
	memcpy(f, lt->X, bm * LINREG_DMAX * sizeof *f);
	memcpy(f + bm * LINREG_DMAX, lt->y, bm * sizeof *f);
}

static int lin_task_unpack(const void *m, struct family_traj *tr, const float *f)
{
	const struct trainer_config *c = &((const struct fam_linreg_model *)m)->cfg;
	struct lin_traj *lt = tr->x;
	size_t bm = (size_t)c->ref.bmax;
	int i;

	lt->task.D = (int)*f++;
	memcpy(lt->task.theta, f, LINREG_P * sizeof *f);
	f += LINREG_P;
	lt->task.noise = *f++;
	/* checked below, once every field is read */
	lt->task.xdist = (enum linreg_xdist)(int)*f++;
	memcpy(lt->task.mu, f, LINREG_DMAX * sizeof *f);
	f += LINREG_DMAX;
	for (i = 0; i < 4; i++, f += 4)
		if (ckpt_get_u64(f, &tr->rng.s[i]))
			return -1;
	memcpy(tr->state, f, REFINER_S * sizeof *f);
	f += REFINER_S;
	tr->B = (int)*f++;
	tr->step = (int)*f++;
	tr->pass = (int)*f++;
	tr->rows = *f++;
	if (lt->task.D < 1 || lt->task.D > LINREG_DMAX || tr->B < 1 ||
	    tr->B > c->ref.bmax || tr->step < 0 || tr->step >= c->ref.ksteps ||
	    tr->pass < 0 || tr->pass >= c->ref.passes ||
	    !(lt->task.noise > 0.0f) || !(tr->rows >= 0.0) ||
	    lt->task.xdist < LINREG_X_NORMAL || lt->task.xdist > LINREG_X_STUDENT)
		return -1;
	memcpy(lt->X, f, bm * LINREG_DMAX * sizeof *f);
	memcpy(lt->y, f + bm * LINREG_DMAX, bm * sizeof *f);
	return 0;
}

/* ---- sessions --------------------------------------------------------- */

static const struct refiner *ref_of(const struct amz *a)
{
	return &((const struct fam_linreg_model *)a->m)->ref;
}

/* The trained batch size is soft: the refiner takes up to REFINER_BMAX
 * rows whatever it was trained on. */
static void lin_bind(const void *m, struct amz *a)
{
	const struct fam_linreg_model *lm = m;

	a->ops = &fam_linreg;
	a->m = m;
	a->nstate = REFINER_S;
	a->dmax = LINREG_DMAX;
	a->bmax = lm->cfg.ref.bmax;
	a->bmax_soft = 1;
	a->has_y = 1;
	a->has_mean = 1;
	a->has_var = 1;
	a->standardize = 1;
}

static void *lin_session_ws(const struct amz *a)
{
	return refiner_ws_new(ref_of(a), 1, a->bmax);
}

static void lin_session_ws_free(void *ws)
{
	refiner_ws_free(ws);
}

static void lin_session_start(const struct amz *a, float *state)
{
	refiner_initial_state(ref_of(a), a->p, state);
}

/* loss_after: half the squared error at the new state. */
static int lin_step(const struct amz *a, void *ws, float *state,
		    const float *X, const float *y, int B, int D,
		    double rows_seen, float *loss_before, float *loss_after)
{
	float g[LINREG_P], before = 0;
	int rc;

	if (!y)
		return AM_EINVAL;
	rc = refiner_step(ref_of(a), a->p, ws, state, X, y, B, D, rows_seen,
			  &before);
	if (rc != AM_OK)
		return rc;
	if (loss_before)
		*loss_before = before;
	if (loss_after)
		*loss_after = linreg_grad(g, X, y, state, B);
	return AM_OK;
}

static int lin_predict_mean(const struct amz *a, const float *state,
			    const float *X, int n, int D, float *mean,
			    float *var)
{
	(void)a;
	(void)D;
	refiner_predict(state, X, n, mean, var);
	return AM_OK;
}

const struct family_ops fam_linreg = {
	.name = "linreg",
	.size = sizeof(struct fam_linreg_model),
	.init = lin_init,
	.init_params = lin_init_params,
	.initial_state = lin_initial_state,
	.ws_init = lin_ws_init,
	.ws_free = lin_ws_free,
	.input = lin_input,
	.forward = lin_forward,
	.backward = lin_backward,
	.state_loss = lin_state_loss,
	.init_loss = lin_init_loss,
	.traj_alloc = lin_traj_alloc,
	.task_draw = lin_task_draw,
	.task_rows = lin_task_rows,
	.task_floats = lin_task_floats,
	.task_pack = lin_task_pack,
	.task_unpack = lin_task_unpack,
	.open = lin_open,
	.bind = lin_bind,
	.session_ws = lin_session_ws,
	.session_ws_free = lin_session_ws_free,
	.session_start = lin_session_start,
	.step = lin_step,
	.predict_mean = lin_predict_mean,
};
