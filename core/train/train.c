/*
 * train.c - greedy, population-based meta-training of any family (see
 * train.h).  What differs between families is behind their table
 * (family/family.h); this file never asks which family it trains.
 */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/adam.h"
#include "base/am.h"
#include "io/amfile.h"
#include "io/ckpt.h"

struct shard {
	void *ws;			/* the family's workspace */
	float *dp;			/* gradient block */
	float *dnext;			/* (chunk, nstate) */
	double loss;			/* sum of the trajectories' losses */
	int failed;
};

struct train {
	const struct family_ops *f;
	void *m;			/* the family's model object */
	struct family_train c;
	struct layout lay;
	float *p, *dp;			/* parameters, summed gradient */
	unsigned char *decay;
	struct adam opt;
	struct rng rng;			/* master stream */
	long it;
	struct family_traj *pop;
	float *state_mem;		/* (pop, nstate) */
	float *next;			/* (pop, nstate) */
	int *order;			/* trajectories sorted by batch size */
	double wsum;			/* sum of the population's step weights */
	struct shard sh[TRAIN_SHARDS_MAX];
};

float train_lr(float lr, float lr_min, int warmup, long iters, long it)
{
	double frac;

	if (it < warmup)
		return lr * (float)(it + 1) / (float)warmup;
	if (iters <= warmup)
		return lr;
	frac = (double)(it - warmup) / (double)(iters - warmup);
	if (frac > 1.0)
		frac = 1.0;
	return lr_min + 0.5f * (lr - lr_min) *
	       (float)(1.0 + cos(3.141592653589793 * frac));
}

/* The int key of index i, stride bytes apart. */
static int key_at(const int *key, size_t stride, int i)
{
	return *(const int *)(const void *)((const char *)key +
					    (size_t)i * stride);
}

void train_order_by(int *order, const int *key, size_t stride, int n)
{
	int i, j;

	for (i = 0; i < n; i++)
		order[i] = i;
	/* insertion sort, stable: moves only past strictly greater keys */
	for (i = 1; i < n; i++) {
		int v = order[i], kv = key_at(key, stride, v);

		for (j = i; j > 0; j--) {
			if (key_at(key, stride, order[j - 1]) <= kv)
				break;
			order[j] = order[j - 1];
		}
		order[j] = v;
	}
}

void train_sum(float *dp, const float *const *parts, int nparts, size_t n)
{
	size_t j;
	int s;

	memcpy(dp, parts[0], n * sizeof *dp);
	for (s = 1; s < nparts; s++)
		for (j = 0; j < n; j++)
			dp[j] += parts[s][j];
}

/* ---- trajectories -------------------------------------------------------- */

/* Draws the size of tr's next mini-batch (with task_batch, only at the
 * start of its stream) and its rows. */
static void traj_new_batch(struct train *t, struct family_traj *tr)
{
	int bmax = t->c.bmax;

	if (!t->c.task_batch || tr->step == 0)
		tr->B = rng_uniform(&tr->rng) < t->c.full_batch ? bmax :
			rng_int(&tr->rng, 1, bmax);
	t->f->task_rows(t->m, tr);
}

static void traj_reset(struct train *t, struct family_traj *tr)
{
	t->f->task_draw(t->m, t->p, tr);
	tr->rows = 0.0;
	tr->step = 0;
	tr->pass = 0;
	if (t->f->pass_begin)
		t->f->pass_begin(t->m, tr);
	traj_new_batch(t, tr);
}

/* Moves a trajectory past the pass it just took. */
static void traj_advance(struct train *t, struct family_traj *tr,
			 const float *next)
{
	memcpy(tr->state, next, (size_t)t->c.nstate * sizeof *next);
	if (t->f->pass_begin)
		t->f->pass_begin(t->m, tr);
	if (++tr->pass < t->c.passes)
		return;
	tr->pass = 0;
	tr->rows += tr->B;
	if (++tr->step >= t->c.ksteps) {
		traj_reset(t, tr);
		return;
	}
	traj_new_batch(t, tr);
}

/* The unscaled loss weight of trajectory tr's next state: 1, or with
 * step_weight the number of steps that state will have taken. */
static double step_weight(const struct train *t, const struct family_traj *tr)
{
	return t->c.step_weight ? (double)tr->step + 1.0 : 1.0;
}

/* Orders trajectories by batch size so that each chunk pads little, and
 * sums the step weights for this iteration. */
static void train_plan(struct train *t)
{
	int i;

	train_order_by(t->order, &t->pop[0].B, sizeof *t->pop, t->c.pop);
	t->wsum = 0.0;
	for (i = 0; i < t->c.pop; i++)
		t->wsum += step_weight(t, &t->pop[i]);
}

/* ---- creation ------------------------------------------------------------ */

void train_free(struct train *t)
{
	int s, i;

	if (!t)
		return;
	for (s = 0; s < TRAIN_SHARDS_MAX; s++) {
		t->f->ws_free(t->sh[s].ws);
		free(t->sh[s].dp);
		free(t->sh[s].dnext);
	}
	if (t->pop)
		for (i = 0; i < t->c.pop; i++)
			free(t->pop[i].x);
	adam_free(&t->opt);
	free(t->p);
	free(t->dp);
	free(t->decay);
	free(t->pop);
	free(t->state_mem);
	free(t->next);
	free(t->order);
	free(t->m);
	layout_free(&t->lay);
	free(t);
}

/* Allocates everything a configuration sizes.  AM_OK or AM_ENOMEM. */
static int train_alloc(struct train *t)
{
	size_t n = t->lay.total, ns = (size_t)t->c.nstate, pop = (size_t)t->c.pop;
	int i, s;

	t->p = calloc(n, sizeof *t->p);
	t->dp = calloc(n, sizeof *t->dp);
	t->decay = calloc(n, 1);
	t->pop = calloc(pop, sizeof *t->pop);
	t->state_mem = calloc(pop * ns, sizeof(float));
	t->next = calloc(pop * ns, sizeof(float));
	t->order = calloc(pop, sizeof *t->order);
	if (!t->p || !t->dp || !t->decay || !t->pop || !t->state_mem ||
	    !t->next || !t->order || adam_init(&t->opt, n) != AM_OK)
		return AM_ENOMEM;
	for (i = 0; i < t->c.pop; i++) {
		t->pop[i].state = t->state_mem + (size_t)i * ns;
		t->pop[i].x = t->f->traj_alloc(t->m);
		if (!t->pop[i].x)
			return AM_ENOMEM;
	}
	for (s = 0; s < t->c.shards; s++) {
		struct shard *sh = &t->sh[s];

		sh->ws = t->f->ws_init(t->m, t->c.chunk, t->c.bmax);
		sh->dp = calloc(n, sizeof(float));
		sh->dnext = calloc((size_t)t->c.chunk * ns, sizeof(float));
		if (!sh->ws || !sh->dp || !sh->dnext)
			return AM_ENOMEM;
	}
	return AM_OK;
}

/* Fast-forwards trajectory i by i mod (K * passes) passes so that all
 * stages are in flight from the first iteration.  AM_OK or AM_ENUMERIC. */
static int train_fast_forward(struct train *t)
{
	struct shard *sh = &t->sh[0];
	int i, k;

	for (i = 0; i < t->c.pop; i++) {
		struct family_traj *tr = &t->pop[i];
		int ff = i % (t->c.ksteps * t->c.passes);

		for (k = 0; k < ff; k++) {
			t->f->input(t->m, sh->ws, 0, tr);
			if (t->f->forward(t->m, t->p, sh->ws, 1, sh->dnext) != AM_OK)
				return AM_ENUMERIC;
			traj_advance(t, tr, sh->dnext);
		}
	}
	return AM_OK;
}

struct train *train_new(const struct family_ops *f, const void *cfg,
			char *err, size_t errlen)
{
	struct train *t = calloc(1, sizeof *t);
	int i;

	if (!t)
		goto oom;
	t->f = f;
	layout_init(&t->lay);
	t->m = calloc(1, f->size);
	if (!t->m)
		goto oom;
	if (f->init(t->m, &t->lay, cfg, &t->c, err, errlen) != AM_OK) {
		train_free(t);
		return NULL;
	}
	if (train_alloc(t) != AM_OK)
		goto oom;
	/* weight decay on matrices only, never on gains, biases or scales */
	for (i = 0; i < t->lay.n; i++)
		if (t->lay.views[i].ndim == 2)
			memset(t->decay + t->lay.views[i].offset, 1,
			       t->lay.views[i].size);
	t->opt.lr = t->c.lr;
	t->opt.clip = t->c.clip;
	t->opt.weight_decay = t->c.weight_decay;
	rng_seed(&t->rng, t->c.seed);
	f->init_params(t->m, t->p, &t->rng);
	for (i = 0; i < t->c.pop; i++) {
		rng_split(&t->rng, (uint64_t)i, &t->pop[i].rng);
		traj_reset(t, &t->pop[i]);
	}
	if (train_fast_forward(t) != AM_OK) {
		if (err && errlen)
			snprintf(err, errlen, "initial refiner diverged");
		train_free(t);
		return NULL;
	}
	train_plan(t);
	return t;
oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory");
	train_free(t);
	return NULL;
}

/* ---- one iteration ------------------------------------------------------- */

/* Loss and gradient of the next states of one chunk's n trajectories
 * (their indices at order[lo..lo+n)), already in sh->dnext. */
static void shard_losses(struct train *t, struct shard *sh, int lo, int n)
{
	int ns = t->c.nstate, starts = t->c.pop / (t->c.ksteps * t->c.passes), i;
	float w = 1.0f / (float)t->c.pop, wk;
	float w0 = 1.0f / (float)(starts > 0 ? starts : 1);

	for (i = 0; i < n; i++) {
		int k = t->order[lo + i];
		struct family_traj *tr = &t->pop[k];
		float *nx = t->next + (size_t)k * ns;
		float *dn = sh->dnext + (size_t)i * ns;

		memcpy(nx, dn, (size_t)ns * sizeof *nx);
		wk = t->c.step_weight ? (float)(step_weight(t, tr) / t->wsum) : w;
		/* the reported loss stays the plain mean */
		sh->loss += t->f->state_loss(t->m, t->p, sh->dp, sh->ws, tr, nx,
					     wk, dn);
		/* the learned initial state, on the tasks that start from it */
		if (t->f->start_loss && tr->step == 0 && tr->pass == 0)
			t->f->start_loss(t->m, t->p, sh->dp, sh->ws, tr, w0);
	}
}

void train_shard(struct train *t, int s)
{
	struct shard *sh = &t->sh[s];
	int chunk = t->c.chunk, pop = t->c.pop, nchunks, ch, i;

	AM_ASSERT(s >= 0 && s < t->c.shards);
	memset(sh->dp, 0, t->lay.total * sizeof *sh->dp);
	sh->loss = 0.0;
	sh->failed = 0;
	nchunks = (pop + chunk - 1) / chunk;
	for (ch = s; ch < nchunks; ch += t->c.shards) {
		int lo = ch * chunk, n = pop - lo < chunk ? pop - lo : chunk;

		for (i = 0; i < n; i++)
			t->f->input(t->m, sh->ws, i, &t->pop[t->order[lo + i]]);
		if (t->f->forward(t->m, t->p, sh->ws, n, sh->dnext) != AM_OK) {
			sh->failed = 1;
			return;
		}
		/* dnext holds the next states; keep them, then turn the
		 * buffer into their loss gradients */
		shard_losses(t, sh, lo, n);
		t->f->backward(t->m, t->p, sh->dp, sh->ws, sh->dnext);
	}
}

int train_apply(struct train *t, double *loss)
{
	size_t n = t->lay.total, j;
	double total;
	const float *parts[TRAIN_SHARDS_MAX];
	int s, i;

	for (s = 0; s < t->c.shards; s++) {
		if (t->sh[s].failed)
			return AM_ENUMERIC;
		parts[s] = t->sh[s].dp;
	}
	train_sum(t->dp, parts, t->c.shards, n);
	total = t->sh[0].loss;
	for (s = 1; s < t->c.shards; s++)
		total += t->sh[s].loss;
	if (t->f->init_loss)
		t->f->init_loss(t->m, t->p, t->dp, t->pop, t->c.pop,
				1.0f / (float)t->c.pop);
	total /= t->c.pop;
	if (!isfinite(total))
		return AM_ENUMERIC;
	for (j = 0; j < n; j++)
		if (!isfinite(t->dp[j]))
			return AM_ENUMERIC;
	t->opt.lr = train_lr(t->c.lr, t->c.lr_min, t->c.warmup, t->c.iters, t->it);
	adam_step(&t->opt, t->p, t->dp, t->decay);
	for (i = 0; i < t->c.pop; i++)
		traj_advance(t, &t->pop[i], t->next + (size_t)i * t->c.nstate);
	train_plan(t);
	t->it++;
	if (loss)
		*loss = total;
	return AM_OK;
}

long train_iteration(const struct train *t)
{
	return t->it;
}

void train_traj(const struct train *t, int i, int *B, int *step)
{
	AM_ASSERT(i >= 0 && i < t->c.pop);
	*B = t->pop[i].B;
	*step = t->pop[i].step;
}

const void *train_model(const struct train *t)
{
	return t->m;
}

const struct layout *train_layout(const struct train *t)
{
	return &t->lay;
}

const float *train_params(const struct train *t)
{
	return t->p;
}

/* ---- checkpoints ---------------------------------------------------------
 * parameters, Adam's moments, the population (each trajectory in its
 * family's form) and the counters: iteration, Adam's step, master rng. */

#define COUNTERS (4 + 4 + 16)

/* The checkpoint's own layout: flat tensors. */
static int ckpt_layout(const struct train *t, struct layout *l)
{
	int n = (int)t->lay.total, pop = t->c.pop;

	layout_init(l);
	if (layout_add1(l, "ckpt.params", n) == (size_t)-1 ||
	    layout_add1(l, "ckpt.adam_m", n) == (size_t)-1 ||
	    layout_add1(l, "ckpt.adam_v", n) == (size_t)-1 ||
	    layout_add2(l, "ckpt.population", pop,
			(int)t->f->task_floats(t->m)) == (size_t)-1 ||
	    layout_add1(l, "ckpt.counters", COUNTERS) == (size_t)-1) {
		layout_free(l);
		return AM_ENOMEM;
	}
	return AM_OK;
}

/* The float block of tensor name in buf under layout l. */
static float *ckpt_at(const struct layout *l, float *buf, const char *name)
{
	return buf + layout_find(l, name)->offset;
}

int train_save_checkpoint(const struct train *t, const char *path,
			  const char *header, char *err, size_t errlen)
{
	struct layout l;
	float *buf, *f;
	size_t n = t->lay.total, tf = t->f->task_floats(t->m);
	int rc, i;

	rc = ckpt_layout(t, &l);
	buf = rc == AM_OK ? calloc(l.total, sizeof *buf) : NULL;
	if (!buf) {
		if (rc == AM_OK)
			layout_free(&l);
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return AM_ENOMEM;
	}
	memcpy(ckpt_at(&l, buf, "ckpt.params"), t->p, n * sizeof *buf);
	memcpy(ckpt_at(&l, buf, "ckpt.adam_m"), t->opt.m, n * sizeof *buf);
	memcpy(ckpt_at(&l, buf, "ckpt.adam_v"), t->opt.v, n * sizeof *buf);
	f = ckpt_at(&l, buf, "ckpt.population");
	for (i = 0; i < t->c.pop; i++)
		t->f->task_pack(t->m, &t->pop[i], f + (size_t)i * tf);
	f = ckpt_at(&l, buf, "ckpt.counters");
	ckpt_put_u64(f, (uint64_t)t->it);
	ckpt_put_u64(f + 4, (uint64_t)t->opt.t);
	for (i = 0; i < 4; i++)
		ckpt_put_u64(f + 8 + 4 * i, t->rng.s[i]);
	rc = amfile_write(path, header, &l, buf, err, errlen);
	free(buf);
	layout_free(&l);
	return rc;
}

/* Reads the counters: AM_OK, or AM_EFORMAT with a message in err. */
static int ckpt_counters(const struct train *t, const float *c, uint64_t *it,
			 uint64_t *at, uint64_t *rs, char *err, size_t errlen)
{
	if (ckpt_get_u64(c, it) || ckpt_get_u64(c + 4, at) ||
	    ckpt_get_u64(c + 8, &rs[0]) || ckpt_get_u64(c + 12, &rs[1]) ||
	    ckpt_get_u64(c + 16, &rs[2]) || ckpt_get_u64(c + 20, &rs[3]) ||
	    *it > (uint64_t)t->c.iters) {
		if (err && errlen)
			snprintf(err, errlen, "checkpoint counters are corrupt");
		return AM_EFORMAT;
	}
	return AM_OK;
}

/* Checks every trajectory of the population tensor popf by unpacking it
 * into a scratch one.  AM_OK, AM_ENOMEM or AM_EFORMAT (message in err). */
static int ckpt_check_pop(const struct train *t, const float *popf, char *err,
			  size_t errlen)
{
	struct family_traj tmp;
	size_t tf = t->f->task_floats(t->m);
	int i, rc = AM_OK;

	memset(&tmp, 0, sizeof tmp);
	tmp.state = calloc((size_t)t->c.nstate, sizeof(float));
	tmp.x = t->f->traj_alloc(t->m);
	if (!tmp.state || !tmp.x) {
		rc = AM_ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
	}
	for (i = 0; rc == AM_OK && i < t->c.pop; i++) {
		if (t->f->task_unpack(t->m, &tmp, popf + (size_t)i * tf)) {
			rc = AM_EFORMAT;
			if (err && errlen)
				snprintf(err, errlen,
					 "checkpoint trajectory %d is corrupt", i);
		}
	}
	free(tmp.state);
	free(tmp.x);
	return rc;
}

int train_load_checkpoint(struct train *t, const char *path, char *err,
			  size_t errlen)
{
	struct amfile f;
	struct layout l;
	float *buf = NULL;
	const float *popf;
	size_t n = t->lay.total, tf = t->f->task_floats(t->m);
	uint64_t it, at, rs[4];
	int rc, i;

	memset(&f, 0, sizeof f);
	rc = ckpt_layout(t, &l);
	if (rc != AM_OK)
		return rc;
	rc = amfile_read(path, &f, err, errlen);
	if (rc != AM_OK)
		goto out;
	buf = calloc(l.total, sizeof *buf);
	if (!buf) {
		rc = AM_ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = amfile_bind(&f, &l, buf, err, errlen);
	if (rc == AM_OK)
		rc = ckpt_counters(t, ckpt_at(&l, buf, "ckpt.counters"), &it, &at,
				   rs, err, errlen);
	popf = ckpt_at(&l, buf, "ckpt.population");
	if (rc == AM_OK)
		rc = ckpt_check_pop(t, popf, err, errlen);
	if (rc != AM_OK)
		goto out;
	/* everything checked: commit */
	for (i = 0; i < t->c.pop; i++)
		t->f->task_unpack(t->m, &t->pop[i], popf + (size_t)i * tf);
	memcpy(t->p, ckpt_at(&l, buf, "ckpt.params"), n * sizeof *buf);
	memcpy(t->opt.m, ckpt_at(&l, buf, "ckpt.adam_m"), n * sizeof *buf);
	memcpy(t->opt.v, ckpt_at(&l, buf, "ckpt.adam_v"), n * sizeof *buf);
	memcpy(t->rng.s, rs, sizeof rs);
	t->it = (long)it;
	t->opt.t = (long)at;
	train_plan(t);
	rc = AM_OK;
out:
	free(buf);
	amfile_free(&f);
	layout_free(&l);
	return rc;
}
