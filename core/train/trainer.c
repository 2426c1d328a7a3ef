/*
 * trainer.c - greedy, population-based meta-training of the refiner.
 */
#include "train/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "io/amfile.h"
#include "train/poptrain.h"

/* One trajectory in flight. */
struct traj {
	struct linreg_task task;
	struct rng rng;
	float state[REFINER_S];
	float *X, *y;			/* current mini-batch (bmax rows) */
	int B, step, pass;
	double rows;			/* rows seen before the current batch */
};

struct shard {
	struct refiner_ws *ws;
	float *dp;			/* gradient block */
	struct refiner_input *in;	/* chunk inputs */
	float *dnext;			/* (chunk, REFINER_S) */
	double loss;			/* sum of log(mse / noise^2) */
	int failed;
};

struct trainer {
	struct trainer_config cfg;
	struct refiner ref;
	struct layout lay;
	float *p;
	unsigned char *decay;
	struct adam opt;
	struct rng rng;			/* master stream */
	long it;
	struct traj *pop;
	float *batch_mem;
	float *next;			/* (pop, REFINER_S) */
	int *order;			/* trajectories sorted by batch size */
	struct shard sh[TRAINER_SHARDS_MAX];
	float *dp;			/* summed gradient */
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

static int fail(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return AM_EINVAL;
}

int trainer_config_check(const struct trainer_config *c, char *err, size_t errlen)
{
	const struct linreg_family *f = &c->fam;
	int rc = refiner_config_check(&c->ref, err, errlen);

	if (rc != AM_OK)
		return rc;
	if (c->ref.bmax > 64)
		return fail(err, errlen, "batch must be at most 64 for training");
	if (f->dmin < 1 || f->dmin > f->dmax || f->dmax > LINREG_DMAX)
		return fail(err, errlen, "dims must satisfy 1 <= dmin <= dmax <= 16");
	if (!(f->smin > 0.0f) || !(f->smin <= f->smax) || !(f->smax <= 100.0f))
		return fail(err, errlen, "noise must satisfy 0 < min <= max <= 100");
	if (c->pop < 1 || c->pop > 65536)
		return fail(err, errlen, "population must be in [1, 65536]");
	if (c->chunk < 1 || c->chunk > c->pop)
		return fail(err, errlen, "chunk must be in [1, population]");
	if (c->iters < 1 || c->iters > 100000000L)
		return fail(err, errlen, "iters must be in [1, 1e8]");
	if (!(c->lr > 0.0f && c->lr < 1.0f) || !(c->lr_min >= 0.0f && c->lr_min <= c->lr))
		return fail(err, errlen, "learning rates must satisfy 0 <= lr_min <= lr < 1");
	if (c->warmup < 0 || !(c->clip >= 0.0f) || !(c->weight_decay >= 0.0f))
		return fail(err, errlen, "warmup, clip and weight decay must be >= 0");
	if (!(c->full_batch >= 0.0f && c->full_batch <= 1.0f))
		return fail(err, errlen, "full_batch must be in [0, 1]");
	if (c->shards < 1 || c->shards > TRAINER_SHARDS_MAX)
		return fail(err, errlen, "shards must be in [1, 8]");
	return AM_OK;
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
static double state_loss(const struct linreg_task *t, const float *s, float w,
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

static void traj_new_batch(struct trainer *t, struct traj *tr)
{
	int bmax = t->cfg.ref.bmax;

	tr->B = rng_uniform(&tr->rng) < t->cfg.full_batch ? bmax :
		rng_int(&tr->rng, 1, bmax);
	linreg_task_rows(&tr->task, &tr->rng, tr->B, tr->X, tr->y);
}

static void traj_reset(struct trainer *t, struct traj *tr)
{
	linreg_task_draw(&tr->task, &t->cfg.fam, &tr->rng);
	refiner_initial_state(&t->ref, t->p, tr->state);
	tr->rows = 0.0;
	tr->step = 0;
	tr->pass = 0;
	traj_new_batch(t, tr);
}

/* Moves a trajectory past the pass it just took. */
static void traj_advance(struct trainer *t, struct traj *tr, const float *next)
{
	memcpy(tr->state, next, sizeof tr->state);
	if (++tr->pass < t->cfg.ref.passes)
		return;
	tr->pass = 0;
	tr->rows += tr->B;
	if (++tr->step >= t->cfg.ref.ksteps) {
		traj_reset(t, tr);
		return;
	}
	traj_new_batch(t, tr);
}

static void traj_input(const struct traj *tr, struct refiner_input *in)
{
	in->state = tr->state;
	in->X = tr->X;
	in->y = tr->y;
	in->B = tr->B;
	in->D = tr->task.D;
	in->rows_seen = tr->rows;
	in->pass = tr->pass;
}

/* Orders trajectories by batch size so that each chunk pads little. */
static void trainer_plan(struct trainer *t)
{
	poptrain_order_by(t->order, &t->pop[0].B, sizeof *t->pop, t->cfg.pop);
}

void trainer_free(struct trainer *t)
{
	int s;

	if (!t)
		return;
	for (s = 0; s < TRAINER_SHARDS_MAX; s++) {
		refiner_ws_free(t->sh[s].ws);
		free(t->sh[s].dp);
		free(t->sh[s].in);
		free(t->sh[s].dnext);
	}
	adam_free(&t->opt);
	free(t->p);
	free(t->dp);
	free(t->decay);
	free(t->pop);
	free(t->batch_mem);
	free(t->next);
	free(t->order);
	layout_free(&t->lay);
	free(t);
}

struct trainer *trainer_new(const struct trainer_config *c, char *err, size_t errlen)
{
	struct trainer *t;
	size_t n, bmax;
	int i, s, k;

	if (trainer_config_check(c, err, errlen) != AM_OK)
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		goto oom;
	t->cfg = *c;
	layout_init(&t->lay);
	if (refiner_init(&t->ref, &t->lay, &c->ref) != AM_OK)
		goto oom;
	n = t->lay.total;
	bmax = (size_t)c->ref.bmax;
	t->p = calloc(n, sizeof *t->p);
	t->dp = calloc(n, sizeof *t->dp);
	t->decay = calloc(n, 1);
	t->pop = calloc((size_t)c->pop, sizeof *t->pop);
	t->batch_mem = calloc((size_t)c->pop * bmax * (LINREG_DMAX + 1), sizeof(float));
	t->next = calloc((size_t)c->pop * REFINER_S, sizeof(float));
	t->order = calloc((size_t)c->pop, sizeof *t->order);
	if (!t->p || !t->dp || !t->decay || !t->pop || !t->batch_mem ||
	    !t->next || !t->order || adam_init(&t->opt, n) != AM_OK)
		goto oom;
	for (s = 0; s < c->shards; s++) {
		struct shard *sh = &t->sh[s];

		sh->ws = refiner_ws_new(&t->ref, c->chunk, c->ref.bmax);
		sh->dp = calloc(n, sizeof(float));
		sh->in = calloc((size_t)c->chunk, sizeof *sh->in);
		sh->dnext = calloc((size_t)c->chunk * REFINER_S, sizeof(float));
		if (!sh->ws || !sh->dp || !sh->in || !sh->dnext)
			goto oom;
	}
	/* weight decay on matrices only, never on gains, biases or scales */
	for (i = 0; i < t->lay.n; i++)
		if (t->lay.views[i].ndim == 2)
			memset(t->decay + t->lay.views[i].offset, 1,
			       t->lay.views[i].size);
	t->opt.lr = c->lr;
	t->opt.clip = c->clip;
	t->opt.weight_decay = c->weight_decay;

	rng_seed(&t->rng, c->seed);
	refiner_init_params(&t->ref, t->p, &t->rng);
	for (i = 0; i < c->pop; i++) {
		struct traj *tr = &t->pop[i];

		tr->X = t->batch_mem + (size_t)i * bmax * (LINREG_DMAX + 1);
		tr->y = tr->X + bmax * LINREG_DMAX;
		rng_split(&t->rng, (uint64_t)i, &tr->rng);
		traj_reset(t, tr);
	}
	/* Fast-forward trajectory i by i mod (K * passes) passes so that all
	 * stages are in flight from the first iteration. */
	for (i = 0; i < c->pop; i++) {
		struct traj *tr = &t->pop[i];
		int ff = i % (c->ref.ksteps * c->ref.passes);

		for (k = 0; k < ff; k++) {
			struct refiner_input in;
			float nx[REFINER_S];

			traj_input(tr, &in);
			if (refiner_forward(&t->ref, t->p, t->sh[0].ws, 1, &in, nx,
					    NULL) != AM_OK) {
				snprintf(err, errlen, "initial refiner diverged");
				trainer_free(t);
				return NULL;
			}
			traj_advance(t, tr, nx);
		}
	}
	trainer_plan(t);
	return t;
oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory");
	trainer_free(t);
	return NULL;
}

void trainer_shard(struct trainer *t, int s)
{
	struct shard *sh = &t->sh[s];
	int chunk = t->cfg.chunk, pop = t->cfg.pop, nchunks, c, i;
	float w = 1.0f / (float)pop;

	AM_ASSERT(s >= 0 && s < t->cfg.shards);
	memset(sh->dp, 0, t->lay.total * sizeof *sh->dp);
	sh->loss = 0.0;
	sh->failed = 0;
	nchunks = (pop + chunk - 1) / chunk;
	for (c = s; c < nchunks; c += t->cfg.shards) {
		int lo = c * chunk, ns = pop - lo < chunk ? pop - lo : chunk;

		for (i = 0; i < ns; i++)
			traj_input(&t->pop[t->order[lo + i]], &sh->in[i]);
		if (refiner_forward(&t->ref, t->p, sh->ws, ns, sh->in, sh->dnext,
				    NULL) != AM_OK) {
			sh->failed = 1;
			return;
		}
		/* dnext holds the next states; keep them, then turn the
		 * buffer into their loss gradients */
		for (i = 0; i < ns; i++) {
			int k = t->order[lo + i];
			float *nx = t->next + (size_t)k * REFINER_S;

			memcpy(nx, sh->dnext + (size_t)i * REFINER_S,
			       REFINER_S * sizeof *nx);
			sh->loss += state_loss(&t->pop[k].task, nx, w,
					       sh->dnext + (size_t)i * REFINER_S);
		}
		refiner_backward(&t->ref, t->p, sh->dp, sh->ws, sh->dnext);
	}
}

int trainer_apply(struct trainer *t, double *loss)
{
	size_t n = t->lay.total, j;
	float ds[REFINER_S], s0[REFINER_S];
	float w = 1.0f / (float)t->cfg.pop;
	double total = 0.0;
	const float *parts[TRAINER_SHARDS_MAX];
	int s, i;

	for (s = 0; s < t->cfg.shards; s++) {
		if (t->sh[s].failed)
			return AM_ENUMERIC;
		parts[s] = t->sh[s].dp;
	}
	poptrain_sum(t->dp, parts, t->cfg.shards, n);
	total = t->sh[0].loss;
	for (s = 1; s < t->cfg.shards; s++)
		total += t->sh[s].loss;
	/* the learned initial state, on every trajectory's task */
	refiner_initial_state(&t->ref, t->p, s0);
	for (i = 0; i < t->cfg.pop; i++) {
		state_loss(&t->pop[i].task, s0, w, ds);
		for (j = 0; j < REFINER_S; j++)
			t->dp[t->ref.init + j] += ds[j];
	}
	total /= t->cfg.pop;
	if (!isfinite(total))
		return AM_ENUMERIC;
	for (j = 0; j < n; j++)
		if (!isfinite(t->dp[j]))
			return AM_ENUMERIC;
	t->opt.lr = poptrain_lr(t->cfg.lr, t->cfg.lr_min, t->cfg.warmup,
				 t->cfg.iters, t->it);
	adam_step(&t->opt, t->p, t->dp, t->decay);
	for (i = 0; i < t->cfg.pop; i++)
		traj_advance(t, &t->pop[i], t->next + (size_t)i * REFINER_S);
	trainer_plan(t);
	t->it++;
	if (loss)
		*loss = total;
	return AM_OK;
}

long trainer_iteration(const struct trainer *t)
{
	return t->it;
}

const struct refiner *trainer_refiner(const struct trainer *t)
{
	return &t->ref;
}

const struct layout *trainer_layout(const struct trainer *t)
{
	return &t->lay;
}

const float *trainer_params(const struct trainer *t)
{
	return t->p;
}

/* ---- checkpoints ---------------------------------------------------------
 * Integers are stored in float tensors as 16-bit pieces (exact in float32).
 */

#define TRAJ_FIXED (1 + LINREG_P + 1 + 1 + LINREG_DMAX + 16 + REFINER_S + 4)
#define COUNTERS (4 + 4 + 16)

static size_t traj_floats(const struct trainer *t)
{
	return TRAJ_FIXED + (size_t)t->cfg.ref.bmax * (LINREG_DMAX + 1);
}

static void traj_pack(const struct trainer *t, const struct traj *tr, float *f)
{
	size_t bm = (size_t)t->cfg.ref.bmax;
	int i;

	*f++ = (float)tr->task.D;
	memcpy(f, tr->task.theta, LINREG_P * sizeof *f);
	f += LINREG_P;
	*f++ = tr->task.noise;
	*f++ = (float)tr->task.xdist;
	memcpy(f, tr->task.mu, LINREG_DMAX * sizeof *f);
	f += LINREG_DMAX;
	for (i = 0; i < 4; i++, f += 4)
		poptrain_put_u64(f, tr->rng.s[i]);
	memcpy(f, tr->state, REFINER_S * sizeof *f);
	f += REFINER_S;
	*f++ = (float)tr->B;
	*f++ = (float)tr->step;
	*f++ = (float)tr->pass;
	*f++ = (float)tr->rows;
	memcpy(f, tr->X, bm * LINREG_DMAX * sizeof *f);
	memcpy(f + bm * LINREG_DMAX, tr->y, bm * sizeof *f);
}

static int traj_unpack(const struct trainer *t, struct traj *tr, const float *f)
{
	size_t bm = (size_t)t->cfg.ref.bmax;
	int i;

	tr->task.D = (int)*f++;
	memcpy(tr->task.theta, f, LINREG_P * sizeof *f);
	f += LINREG_P;
	tr->task.noise = *f++;
	/* checked below, once every field is read */
	tr->task.xdist = (enum linreg_xdist)(int)*f++;
	memcpy(tr->task.mu, f, LINREG_DMAX * sizeof *f);
	f += LINREG_DMAX;
	for (i = 0; i < 4; i++, f += 4)
		if (poptrain_get_u64(f, &tr->rng.s[i]))
			return -1;
	memcpy(tr->state, f, REFINER_S * sizeof *f);
	f += REFINER_S;
	tr->B = (int)*f++;
	tr->step = (int)*f++;
	tr->pass = (int)*f++;
	tr->rows = *f++;
	if (tr->task.D < 1 || tr->task.D > LINREG_DMAX || tr->B < 1 ||
	    tr->B > t->cfg.ref.bmax || tr->step < 0 ||
	    tr->step >= t->cfg.ref.ksteps || tr->pass < 0 ||
	    tr->pass >= t->cfg.ref.passes || !(tr->task.noise > 0.0f) ||
	    !(tr->rows >= 0.0) || tr->task.xdist < LINREG_X_NORMAL ||
	    tr->task.xdist > LINREG_X_STUDENT)
		return -1;
	memcpy(tr->X, f, bm * LINREG_DMAX * sizeof *f);
	memcpy(tr->y, f + bm * LINREG_DMAX, bm * sizeof *f);
	return 0;
}

/* The checkpoint's own layout: flat tensors. */
static int ckpt_layout(const struct trainer *t, struct layout *l)
{
	int n = (int)t->lay.total, pop = t->cfg.pop;

	layout_init(l);
	if (layout_add1(l, "ckpt.params", n) == (size_t)-1 ||
	    layout_add1(l, "ckpt.adam_m", n) == (size_t)-1 ||
	    layout_add1(l, "ckpt.adam_v", n) == (size_t)-1 ||
	    layout_add2(l, "ckpt.population", pop, (int)traj_floats(t)) == (size_t)-1 ||
	    layout_add1(l, "ckpt.counters", COUNTERS) == (size_t)-1) {
		layout_free(l);
		return AM_ENOMEM;
	}
	return AM_OK;
}

int trainer_save_checkpoint(const struct trainer *t, const char *path,
			    const char *header, char *err, size_t errlen)
{
	struct layout l;
	float *buf = NULL, *f;
	size_t n = t->lay.total;
	int rc, i;

	rc = ckpt_layout(t, &l);
	if (rc != AM_OK)
		goto out;
	buf = calloc(l.total, sizeof *buf);
	if (!buf) {
		rc = AM_ENOMEM;
		goto out;
	}
	memcpy(buf + layout_find(&l, "ckpt.params")->offset, t->p, n * sizeof *buf);
	memcpy(buf + layout_find(&l, "ckpt.adam_m")->offset, t->opt.m, n * sizeof *buf);
	memcpy(buf + layout_find(&l, "ckpt.adam_v")->offset, t->opt.v, n * sizeof *buf);
	f = buf + layout_find(&l, "ckpt.population")->offset;
	for (i = 0; i < t->cfg.pop; i++)
		traj_pack(t, &t->pop[i], f + (size_t)i * traj_floats(t));
	f = buf + layout_find(&l, "ckpt.counters")->offset;
	poptrain_put_u64(f, (uint64_t)t->it);
	poptrain_put_u64(f + 4, (uint64_t)t->opt.t);
	for (i = 0; i < 4; i++)
		poptrain_put_u64(f + 8 + 4 * i, t->rng.s[i]);
	rc = amfile_write(path, header, &l, buf, err, errlen);
	free(buf);
	layout_free(&l);
	return rc;
out:
	if (err && errlen)
		snprintf(err, errlen, "%s", am_strerror(rc));
	layout_free(&l);
	return rc;
}

int trainer_load_checkpoint(struct trainer *t, const char *path, char *err,
			    size_t errlen)
{
	struct amfile f;
	struct layout l;
	struct traj *pop = NULL;
	float *buf = NULL, *mem = NULL;
	size_t n = t->lay.total, bm = (size_t)t->cfg.ref.bmax;
	uint64_t it, at, rs[4];
	const float *c;
	int rc, i;

	memset(&f, 0, sizeof f);
	rc = ckpt_layout(t, &l);
	if (rc != AM_OK)
		return rc;
	rc = amfile_read(path, &f, err, errlen);
	if (rc != AM_OK)
		goto out;
	buf = calloc(l.total, sizeof *buf);
	pop = calloc((size_t)t->cfg.pop, sizeof *pop);
	mem = calloc((size_t)t->cfg.pop * bm * (LINREG_DMAX + 1), sizeof *mem);
	if (!buf || !pop || !mem) {
		rc = AM_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = amfile_bind(&f, &l, buf, err, errlen);
	if (rc != AM_OK)
		goto out;
	c = buf + layout_find(&l, "ckpt.counters")->offset;
	if (poptrain_get_u64(c, &it) || poptrain_get_u64(c + 4, &at) ||
	    poptrain_get_u64(c + 8, &rs[0]) ||
	    poptrain_get_u64(c + 12, &rs[1]) ||
	    poptrain_get_u64(c + 16, &rs[2]) ||
	    poptrain_get_u64(c + 20, &rs[3]) || it > (uint64_t)t->cfg.iters) {
		rc = AM_EFORMAT;
		snprintf(err, errlen, "checkpoint counters are corrupt");
		goto out;
	}
	for (i = 0; i < t->cfg.pop; i++) {
		pop[i].X = mem + (size_t)i * bm * (LINREG_DMAX + 1);
		pop[i].y = pop[i].X + bm * LINREG_DMAX;
		if (traj_unpack(t, &pop[i], buf + layout_find(&l, "ckpt.population")->offset +
				(size_t)i * traj_floats(t))) {
			rc = AM_EFORMAT;
			snprintf(err, errlen, "checkpoint trajectory %d is corrupt", i);
			goto out;
		}
	}
	/* everything checked: commit */
	memcpy(t->p, buf + layout_find(&l, "ckpt.params")->offset, n * sizeof *buf);
	memcpy(t->opt.m, buf + layout_find(&l, "ckpt.adam_m")->offset, n * sizeof *buf);
	memcpy(t->opt.v, buf + layout_find(&l, "ckpt.adam_v")->offset, n * sizeof *buf);
	memcpy(t->rng.s, rs, sizeof rs);
	t->it = (long)it;
	t->opt.t = (long)at;
	free(t->pop);
	free(t->batch_mem);
	t->pop = pop;
	t->batch_mem = mem;
	pop = NULL;
	mem = NULL;
	trainer_plan(t);
	rc = AM_OK;
out:
	free(pop);
	free(mem);
	free(buf);
	amfile_free(&f);
	layout_free(&l);
	return rc;
}
