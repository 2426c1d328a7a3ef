/*
 * fam_gen.c - the set-refiner families' table (see fam_gen.h).
 */
#include "family/fam_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "io/ckpt.h"

/* A trajectory's family part: its task, current mini-batch and, implicit,
 * its query rows. */
struct gen_traj {
	struct source_task task;
	float *X;			/* current mini-batch (bmax rows of dx) */
	int *y;				/* its labels (classification) */
	float *t;			/* its targets (regression) */
	float *QX;			/* implicit: the task's query rows
					 * (nq x dx), fixed for a trajectory */
	int *Qy;			/* their labels */
	float *Qt;			/* their targets */
	uint64_t seed;			/* this pass's batch-loss noise */
};

/* A shard's workspace: gen's, its chunk's inputs and the query scratch. */
struct gen_shard_ws {
	struct gen_ws *ws;
	struct gen_input *in;
	float *Q;			/* (nq, dx) */
	int *Qy;			/* (nq) */
	float *Qt;			/* (nq) */
	float *dinit;			/* (nstate) scratch */
	float *s0;			/* (nstate) implicit initial state */
};

void gentrain_config_default(struct gentrain_config *c, enum gen_kind kind)
{
	memset(c, 0, sizeof *c);
	c->gen.kind = kind;
	c->gen.variant = GEN_BOTH;
	c->gen.C = 64;
	c->gen.H = 4;
	c->gen.L = 4;
	c->gen.passes = 1;
	c->gen.bmax = 32;
	c->gen.ksteps = 16;
	c->gen.Z = 32;
	c->gen.vH = 128;
	c->gen.vL = 3;
	c->gen.flow_steps = 32;
	c->tasks.src = SOURCE_MOG;
	mog_family_default(&c->tasks.fam);
	c->tasks.noise = 0.03f;
	linclass_family_default(&c->tasks.cfam);
	linreg_family_default(&c->tasks.rfam);
	if (kind == GEN_CLF)
		c->tasks.src = SOURCE_LINCLASS;
	if (kind == GEN_REG) {
		c->tasks.src = SOURCE_LINREG;
		c->gen.regime = GEN_EXPLICIT;
	}
	if (kind == GEN_FLOW)
		c->gen.regime = GEN_EXPLICIT;
	c->gen.qstate = GEN_Q_LOGITS;
	c->gen.nq = 64;
	c->pop = 128;
	c->chunk = 16;
	c->nq = 128;
	c->iters = 4000;
	c->lr = 1e-3f;
	c->lr_min = 1e-5f;
	c->warmup = 200;
	c->clip = 1.0f;
	c->weight_decay = 0.01f;
	c->full_batch = 0.5f;
	c->seed = 1;
	c->shards = 2;
}

int gentrain_config_check(const struct gentrain_config *c, char *err, size_t errlen)
{
	struct family_train t;
	const char *bad = NULL;
	int i, n = 0;

	if (gen_config_check(&c->gen, err, errlen) != AM_OK)
		return AM_EINVAL;
	for (i = 0; i < HERSHEY_LETTERS; i++)
		n += c->tasks.letters[i] != 0;
	FAMILY_TRAIN_SCHEDULE(&t, c);
	if (family_schedule_check(&t, err, errlen) != AM_OK)
		return AM_EINVAL;
	if (c->nq < 2 || c->nq > 1024)
		bad = "queries must be in [2, 1024]";
	else if (c->step_weight < 0 || c->step_weight > 1)
		bad = "step_weight must be 0 or 1";
	else if (c->task_batch < 0 || c->task_batch > 1)
		bad = "task_batch must be 0 or 1";
	else if (!(c->tasks.augment >= 0.0f && c->tasks.augment <= 1.0f) ||
		 (c->tasks.augment > 0.0f && c->tasks.src != SOURCE_IMAGES))
		bad = "augment is a chance in [0, 1], for image tasks";
	else if (c->tasks.src == SOURCE_MOG && mog_family_check(&c->tasks.fam) != AM_OK)
		bad = "bad mixture family";
	else if (c->tasks.src == SOURCE_MOG && c->tasks.fam.dmax > GEN_DMAX)
		bad = "mixture dimension above 8";
	else if (c->tasks.src == SOURCE_LETTERS &&
		 (!c->tasks.fonts || c->tasks.fonts->nfonts < 1 || n < 1 ||
		  !(c->tasks.noise >= 0.0f)))
		bad = "letters need fonts, at least one letter and a noise >= 0";
	else if ((c->gen.kind == GEN_CLF) != (c->tasks.src == SOURCE_LINCLASS ||
					      c->tasks.src == SOURCE_IMAGES) ||
		 (c->gen.kind == GEN_REG) != (c->tasks.src == SOURCE_LINREG))
		bad = "classification models train on linclass or image tasks, "
		      "regression ones on linreg tasks, generative ones on "
		      "mixtures or letters";
	else if (c->tasks.src == SOURCE_LINCLASS &&
		 linclass_family_check(&c->tasks.cfam) != AM_OK)
		bad = "bad linclass family";
	else if (c->tasks.src == SOURCE_IMAGES &&
		 (!c->tasks.img || c->tasks.img->kmin < 2 ||
		  c->tasks.img->kmax > c->tasks.img->nclass ||
		  c->tasks.img->kmin > c->tasks.img->kmax))
		bad = "image tasks need images and 2 <= kmin <= kmax <= classes";
	else if (c->tasks.src < SOURCE_MOG || c->tasks.src > SOURCE_LINREG)
		bad = "unknown task source";
	return am_check(bad, err, errlen);
}

static const struct fam_gen_model *model(const void *m)
{
	return m;
}

int fam_gen_open(void *m, struct layout *params, const void *cfg)
{
	struct fam_gen_model *gm = m;

	gm->cfg = *(const struct gentrain_config *)cfg;
	return gen_init(&gm->g, params, &gm->cfg.gen);
}

int fam_gen_init(void *m, struct layout *params, const void *cfg,
		 struct family_train *tc, char *err, size_t errlen)
{
	const struct fam_gen_model *gm = m;
	const struct gentrain_config *c = cfg;

	if (gentrain_config_check(c, err, errlen) != AM_OK)
		return AM_EINVAL;
	if (fam_gen_open(m, params, cfg) != AM_OK)
		return am_fail(err, errlen, AM_ENOMEM, "out of memory");
	memset(tc, 0, sizeof *tc);
	tc->nstate = gm->g.nstate;
	tc->bmax = c->gen.bmax;
	tc->ksteps = c->gen.ksteps;
	tc->passes = c->gen.passes;
	FAMILY_TRAIN_SCHEDULE(tc, c);
	tc->task_batch = c->task_batch;
	tc->step_weight = c->step_weight;
	return AM_OK;
}

void fam_gen_init_params(const void *m, float *p, struct rng *r)
{
	gen_init_params(&model(m)->g, p, r);
}

void fam_gen_initial_state(const void *m, const float *p, float *state)
{
	gen_initial_state(&model(m)->g, p, state);
}

void fam_gen_ws_free(void *ws)
{
	struct gen_shard_ws *w = ws;

	if (!w)
		return;
	gen_ws_free(w->ws);
	free(w->in);
	free(w->Q);
	free(w->Qy);
	free(w->Qt);
	free(w->dinit);
	free(w->s0);
	free(w);
}

void *fam_gen_ws_init(const void *m, int max_seq, int max_rows)
{
	const struct fam_gen_model *gm = model(m);
	size_t nq = (size_t)gm->cfg.nq, ns = (size_t)gm->g.nstate;
	size_t dx = (size_t)source_dx(gm->cfg.tasks.src);
	struct gen_shard_ws *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->ws = gen_ws_new(&gm->g, max_seq, max_rows);
	w->in = calloc((size_t)max_seq, sizeof *w->in);
	w->Q = calloc(nq * dx, sizeof(float));
	w->Qy = calloc(nq, sizeof(int));
	w->Qt = calloc(nq, sizeof(float));
	w->dinit = calloc(ns, sizeof(float));
	w->s0 = calloc(ns, sizeof(float));
	if (!w->ws || !w->in || !w->Q || !w->Qy || !w->Qt || !w->dinit || !w->s0) {
		fam_gen_ws_free(w);
		return NULL;
	}
	return w;
}

void fam_gen_input(const void *m, void *ws, int i,
			  const struct family_traj *tr)
{
	const struct gen_config *c = &model(m)->cfg.gen;
	const struct gen_traj *gt = tr->x;
	struct gen_input *in = &((struct gen_shard_ws *)ws)->in[i];

	in->state = tr->state;
	in->X = gt->X;
	in->y = gt->y;
	in->t = gt->t;
	in->Q = gt->QX;
	in->nq = c->regime == GEN_IMPLICIT ? c->nq : 0;
	in->B = tr->B;
	in->D = gt->task.D;
	in->K = gt->task.K;
	in->rows_seen = tr->rows;
	in->pass = tr->pass;
	in->seed = gt->seed;
}

int fam_gen_forward(const void *m, const float *p, void *ws, int ns,
			   float *next)
{
	struct gen_shard_ws *w = ws;

	return gen_forward(&model(m)->g, p, w->ws, ns, w->in, next, NULL);
}

/* gen_state_loss wrote the velocity network's part into dp; the
 * refiner's part flows through dnext */
void fam_gen_backward(const void *m, const float *p, float *dp,
			     void *ws, const float *dnext)
{
	gen_backward(&model(m)->g, p, dp, ((struct gen_shard_ws *)ws)->ws, dnext);
}

/* n rows of a trajectory's task, with labels or targets: stream rows, or
 * (query) the rows a state is scored on, which image tasks may draw from a
 * pool of their own (tasks.qimg) so that no scored image was streamed. */
static void task_rows(const struct gentrain_config *c, struct family_traj *tr,
		      int n, float *X, int *y, float *tgt, int query)
{
	const struct source_task *task =
		&((const struct gen_traj *)tr->x)->task;

	if (c->tasks.src == SOURCE_LINREG)
		source_sample_reg(&c->tasks, task, &tr->rng, n, X, tgt);
	else if (query)
		source_sample_query(&c->tasks, task, &tr->rng, n, X, y);
	else
		source_sample(&c->tasks, task, &tr->rng, n, X, y);
}

/*
 * The training loss of one state of trajectory tr, scaled by w, its
 * gradient into dstate (and the networks' parts into dp).  Implicit
 * states are scored on the trajectory's own queries; the other regimes on
 * fresh rows of the task (new ones when fresh, else the last drawn).
 * Mixtures report the excess over the truth's NLL.
 */
static double state_loss(const struct fam_gen_model *gm, const float *p,
			 float *dp, struct gen_shard_ws *w,
			 struct family_traj *tr, const float *state, float wt,
			 float *dstate, int fresh)
{
	const struct gentrain_config *c = &gm->cfg;
	const struct gen_traj *gt = tr->x;
	struct gen_rows q = { w->Q, w->Qy, w->Qt, c->nq, gt->task.D, gt->task.K };
	double l;

	if (c->gen.regime == GEN_IMPLICIT) {
		q = (struct gen_rows){ gt->QX, gt->Qy, gt->Qt, c->gen.nq,
				       gt->task.D, gt->task.K };
		return gen_state_loss(&gm->g, p, dp, w->ws, state, &q, &tr->rng,
				      wt, dstate);
	}
	if (fresh)
		task_rows(c, tr, c->nq, w->Q, w->Qy, w->Qt, 1);
	l = gen_state_loss(&gm->g, p, dp, w->ws, state, &q, &tr->rng, wt, dstate);
	if (fresh && c->tasks.src == SOURCE_MOG)
		l -= mog_nll(gt->task.theta, gt->task.D, w->Q, c->nq, NULL, NULL);
	return l;
}

double fam_gen_state_loss(const void *m, const float *p, float *dp,
				 void *ws, struct family_traj *tr,
				 const float *state, float w, float *dstate)
{
	return state_loss(model(m), p, dp, ws, tr, state, w, dstate, 1);
}

/* The learned initial state, on the queries of a task that starts from
 * it: implicit, through the nq queries' states it makes. */
void fam_gen_start_loss(const void *m, const float *p, float *dp,
			       void *ws, struct family_traj *tr, float w)
{
	const struct fam_gen_model *gm = model(m);
	const struct gen_config *c = &gm->cfg.gen;
	struct gen_shard_ws *sw = ws;
	int K = ((const struct gen_traj *)tr->x)->task.K, j;

	if (c->regime == GEN_IMPLICIT) {
		gen_query_init(&gm->g, p, c->nq, K, sw->s0);
		state_loss(gm, p, dp, sw, tr, sw->s0, w, sw->dinit, 0);
		gen_init_grad(&gm->g, p, sw->dinit, c->nq, K, dp + gm->g.init);
		return;
	}
	state_loss(gm, p, dp, sw, tr, p + gm->g.init, w, sw->dinit, 0);
	for (j = 0; j < gm->g.nstate; j++)
		dp[gm->g.init + j] += sw->dinit[j];
}

/* Implicit: the trajectory's queries (else none kept). */
static size_t traj_nq(const struct fam_gen_model *gm)
{
	return gm->cfg.gen.regime == GEN_IMPLICIT ? (size_t)gm->cfg.gen.nq : 0;
}

static size_t traj_dx(const struct fam_gen_model *gm)
{
	return (size_t)source_dx(gm->cfg.tasks.src);
}

void *fam_gen_traj_alloc(const void *m)
{
	const struct fam_gen_model *gm = model(m);
	size_t bm = (size_t)gm->cfg.gen.bmax, dx = traj_dx(gm);
	size_t qn = traj_nq(gm) ? traj_nq(gm) : 1;
	size_t nf = bm * (dx + 1) + qn * (dx + 1), ni = bm + qn;
	struct gen_traj *gt = calloc(1, sizeof *gt + nf * sizeof(float) +
				     ni * sizeof(int));

	if (!gt)
		return NULL;
	gt->X = (float *)(void *)(gt + 1);
	gt->t = gt->X + bm * dx;
	gt->QX = gt->t + bm;
	gt->Qt = gt->QX + qn * dx;
	gt->y = (int *)(void *)(gt->Qt + qn);
	gt->Qy = gt->y + bm;
	return gt;
}

void fam_gen_task_draw(const void *m, const float *p,
			      struct family_traj *tr)
{
	const struct fam_gen_model *gm = model(m);
	const struct gentrain_config *c = &gm->cfg;
	struct gen_traj *gt = tr->x;

	source_draw(&c->tasks, &tr->rng, &gt->task);
	if (c->gen.regime == GEN_IMPLICIT) {
		task_rows(c, tr, c->gen.nq, gt->QX, gt->Qy, gt->Qt, 1);
		gen_query_init(&gm->g, p, c->gen.nq, gt->task.K, tr->state);
	} else {
		gen_initial_state(&gm->g, p, tr->state);
	}
}

void fam_gen_task_rows(const void *m, struct family_traj *tr)
{
	struct gen_traj *gt = tr->x;

	task_rows(&model(m)->cfg, tr, tr->B, gt->X, gt->y, gt->t, 0);
}

void fam_gen_pass_begin(const void *m, struct family_traj *tr)
{
	(void)m;
	((struct gen_traj *)tr->x)->seed = rng_u64(&tr->rng);
}

/* ---- checkpoints: integers as 16-bit pieces in floats (exact) ------------ */

/* D K font letter B step pass rows, then the image task's classes */
#define TRAJ_INTS (8 + LINCLASS_KMAX)
/* ... rng, seed, the mixture, the teacher and its temperature, the linear
 * regression task (theta, noise, x distribution, input mean) */
#define TRAJ_FIXED (4 * TRAJ_INTS + 4 * 4 + 4 + MOG_P + LINCLASS_P + 1 + \
		    LINREG_P + 2 + LINREG_DMAX)

/* The fixed part: with augmentation, the task's augmentation seed too
 * (so a checkpoint of a recipe without it keeps its layout). */
static size_t traj_fixed(const struct fam_gen_model *gm)
{
	return TRAJ_FIXED + (gm->cfg.tasks.augment > 0.0f ? 4 : 0);
}

/* the fixed part, the state, the batch (rows, labels, targets) and the
 * queries (rows, labels, targets) */
size_t fam_gen_task_floats(const void *m)
{
	const struct fam_gen_model *gm = model(m);

	return traj_fixed(gm) + (size_t)gm->g.nstate +
	       (size_t)gm->cfg.gen.bmax * (traj_dx(gm) + 2) +
	       traj_nq(gm) * (traj_dx(gm) + 2);
}

void fam_gen_task_pack(const void *m, const struct family_traj *tr, float *f)
{
	const struct fam_gen_model *gm = model(m);
	const struct gen_traj *gt = tr->x;
	uint64_t v[TRAJ_INTS] = { (uint64_t)gt->task.D, (uint64_t)gt->task.K,
				  (uint64_t)gt->task.font, (uint64_t)gt->task.letter,
				  (uint64_t)tr->B, (uint64_t)tr->step,
				  (uint64_t)tr->pass, (uint64_t)tr->rows };
	size_t bm = (size_t)gm->cfg.gen.bmax;
	int i;

	for (i = 0; i < LINCLASS_KMAX; i++)
		v[8 + i] = (uint64_t)gt->task.cls[i];
	for (i = 0; i < TRAJ_INTS; i++, f += 4)
		ckpt_put_u64(f, v[i]);
	for (i = 0; i < 4; i++, f += 4)
		ckpt_put_u64(f, tr->rng.s[i]);
	ckpt_put_u64(f, gt->seed);
	f += 4;
	memcpy(f, gt->task.theta, MOG_P * sizeof *f);
	f += MOG_P;
	memcpy(f, gt->task.ct.theta, LINCLASS_P * sizeof *f);
	f += LINCLASS_P;
	*f++ = gt->task.ct.temp;
	memcpy(f, gt->task.rt.theta, LINREG_P * sizeof *f);
	f += LINREG_P;
	*f++ = gt->task.rt.noise;
	*f++ = (float)gt->task.rt.xdist;
	memcpy(f, gt->task.rt.mu, LINREG_DMAX * sizeof *f);
	f += LINREG_DMAX;
	if (gm->cfg.tasks.augment > 0.0f) {
		ckpt_put_u64(f, gt->task.aug);
		f += 4;
	}
	memcpy(f, tr->state, (size_t)gm->g.nstate * sizeof *f);
	f += gm->g.nstate;
	memcpy(f, gt->X, bm * traj_dx(gm) * sizeof *f);
	f += bm * traj_dx(gm);
	for (i = 0; i < (int)bm; i++)
		*f++ = (float)gt->y[i];
	memcpy(f, gt->t, bm * sizeof *f);
	f += bm;
	memcpy(f, gt->QX, traj_nq(gm) * traj_dx(gm) * sizeof *f);
	f += traj_nq(gm) * traj_dx(gm);
	for (i = 0; i < (int)traj_nq(gm); i++)
		*f++ = (float)gt->Qy[i];
	memcpy(f, gt->Qt, traj_nq(gm) * sizeof *f);
}

/* A label as stored: an integer in [0, LINCLASS_KMAX). */
static int label_ok(float v)
{
	return v >= 0.0f && v < (float)LINCLASS_KMAX && v == (float)(int)v;
}

int fam_gen_task_unpack(const void *m, struct family_traj *tr, const float *f)
{
	const struct fam_gen_model *gm = model(m);
	struct gen_traj *gt = tr->x;
	uint64_t v[TRAJ_INTS];
	size_t bm = (size_t)gm->cfg.gen.bmax;
	int i, kmax = gm->cfg.tasks.src == SOURCE_IMAGES ?
		      gm->cfg.tasks.img->nclass : LINCLASS_KMAX;

	for (i = 0; i < TRAJ_INTS; i++, f += 4)
		if (ckpt_get_u64(f, &v[i]))
			return -1;
	for (i = 0; i < 4; i++, f += 4)
		if (ckpt_get_u64(f, &tr->rng.s[i]))
			return -1;
	if (ckpt_get_u64(f, &gt->seed))
		return -1;
	f += 4;
	for (i = 0; i < LINCLASS_KMAX; i++)
		if (v[8 + i] >= (uint64_t)kmax)
			return -1;
	if (v[0] < 1 || v[0] > traj_dx(gm) || v[1] > LINCLASS_KMAX ||
	    v[3] >= HERSHEY_LETTERS || v[4] < 1 ||
	    v[4] > (uint64_t)gm->cfg.gen.bmax ||
	    v[5] >= (uint64_t)gm->cfg.gen.ksteps ||
	    v[6] >= (uint64_t)gm->cfg.gen.passes)
		return -1;
	if (gm->cfg.tasks.src == SOURCE_LETTERS &&
	    v[2] >= (uint64_t)gm->cfg.tasks.fonts->nfonts)
		return -1;
	gt->task.D = (int)v[0];
	gt->task.K = (int)v[1];
	gt->task.font = (int)v[2];
	gt->task.letter = (int)v[3];
	tr->B = (int)v[4];
	tr->step = (int)v[5];
	tr->pass = (int)v[6];
	tr->rows = (double)v[7];
	for (i = 0; i < LINCLASS_KMAX; i++)
		gt->task.cls[i] = (int)v[8 + i];
	memcpy(gt->task.theta, f, MOG_P * sizeof *f);
	f += MOG_P;
	memcpy(gt->task.ct.theta, f, LINCLASS_P * sizeof *f);
	f += LINCLASS_P;
	gt->task.ct.temp = *f++;
	gt->task.ct.D = gt->task.D;
	gt->task.ct.K = gt->task.K;
	memcpy(gt->task.rt.theta, f, LINREG_P * sizeof *f);
	f += LINREG_P;
	gt->task.rt.noise = *f++;
	if (!(f[0] >= 0.0f && f[0] <= 8.0f))
		return -1;
	gt->task.rt.xdist = (enum linreg_xdist)(int)*f++;
	memcpy(gt->task.rt.mu, f, LINREG_DMAX * sizeof *f);
	f += LINREG_DMAX;
	gt->task.aug = 0;
	if (gm->cfg.tasks.augment > 0.0f) {
		if (ckpt_get_u64(f, &gt->task.aug))
			return -1;
		f += 4;
	}
	gt->task.rt.D = gt->task.D > LINREG_DMAX ? LINREG_DMAX : gt->task.D;
	memcpy(tr->state, f, (size_t)gm->g.nstate * sizeof *f);
	f += gm->g.nstate;
	memcpy(gt->X, f, bm * traj_dx(gm) * sizeof *f);
	f += bm * traj_dx(gm);
	for (i = 0; i < (int)bm; i++, f++) {
		if (!label_ok(*f))
			return -1;
		gt->y[i] = (int)*f;
	}
	memcpy(gt->t, f, bm * sizeof *f);
	f += bm;
	memcpy(gt->QX, f, traj_nq(gm) * traj_dx(gm) * sizeof *f);
	f += traj_nq(gm) * traj_dx(gm);
	for (i = 0; i < (int)traj_nq(gm); i++, f++) {
		if (!label_ok(*f))
			return -1;
		gt->Qy[i] = (int)*f;
	}
	memcpy(gt->Qt, f, traj_nq(gm) * sizeof *f);
	return 0;
}

/* ---- what the kinds' sessions share ---------------------------------- */

void fam_gen_bind(const void *m, struct amz *a, const struct family_ops *ops)
{
	const struct fam_gen_model *gm = m;
	const struct gen_config *c = &gm->cfg.gen;

	a->ops = ops;
	a->m = m;
	/* an implicit session keeps no adapted state (one float: its
	 * settings) */
	a->nstate = c->regime == GEN_IMPLICIT ? 1 : gm->g.nstate;
	a->dmax = gm->g.dx;
	a->bmax = c->bmax;
	a->implicit = c->regime == GEN_IMPLICIT;
	a->qstate = c->regime == GEN_IMPLICIT ? gm->g.sq : 0;
	a->standardize = gm->cfg.tasks.src != SOURCE_IMAGES;
	a->flow_steps = c->flow_steps;
}

void *fam_gen_session_ws(const struct amz *a)
{
	return gen_ws_new(fam_gen_of(a), 1, a->bmax);
}

void fam_gen_session_ws_free(void *ws)
{
	gen_ws_free(ws);
}

void fam_gen_session_start(const struct amz *a, float *state)
{
	if (!a->implicit)
		gen_initial_state(fam_gen_of(a), a->p, state);
}

int fam_gen_step_rows(const struct amz *a, void *ws, float *state,
		      const float *X, const float *y, int B, int D,
		      double rows_seen, float *loss_before, float *loss_after)
{
	if (y)
		return AM_EINVAL;
	return gen_step(fam_gen_of(a), a->p, ws, state, X, NULL, B, D, 0,
			rows_seen, loss_before, loss_after);
}

int fam_gen_sample(const struct amz *a, void *ws, const float *state, int D,
		   int n, struct rng *r, float *out)
{
	gen_sample(fam_gen_of(a), a->p, ws, state, D, n, r, out);
	return AM_OK;
}

int fam_gen_implicit_step(float *loss_before, float *loss_after)
{
	if (loss_before)
		*loss_before = 0.0f;
	if (loss_after)
		*loss_after = 0.0f;
	return AM_OK;
}

int fam_gen_finite(const float *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* The set-refiner families' training, under one name (the tables of the
 * kinds, fam_clf.c and the others, hold the same entries and their
 * sessions). */
const struct family_ops fam_gen = {
	.name = "gen",
	FAM_GEN_TRAINING,
};
