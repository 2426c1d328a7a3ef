/*
 * gentrain.c - greedy, population-based meta-training of the generative
 * amortizers.
 */
#include "train/gentrain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "io/amfile.h"
#include "train/poptrain.h"

struct traj {
	struct gen_task task;
	struct rng rng;
	float state[GEN_STATE_MAX];
	float *X;			/* current mini-batch (bmax rows of dx) */
	int *y;				/* its labels (classification) */
	float *t;			/* its targets (regression) */
	float *QX;			/* implicit: the task's query rows
					 * (nq x dx), fixed for a trajectory */
	int *Qy;			/* their labels */
	float *Qt;			/* their targets */
	int B, step, pass;
	double rows;
	uint64_t seed;			/* this pass's batch-loss noise */
};

struct shard {
	struct gen_ws *ws;
	float *dp;
	struct gen_input *in;
	float *dnext;			/* (chunk, nstate) */
	float *Q;			/* (nq, dx) */
	int *Qy;			/* (nq) */
	float *Qt;			/* (nq) */
	float *dinit;			/* (nstate) scratch */
	float *s0;			/* (nstate) implicit initial state */
	double loss;
	int failed;
};

struct gentrain {
	struct gentrain_config cfg;
	struct gen g;
	struct layout lay;
	float *p, *dp;
	unsigned char *decay;
	struct adam opt;
	struct rng rng;
	long it;
	struct traj *pop;
	float *batch_mem;
	int *label_mem;
	float *target_mem;		/* pop x bmax */
	float *query_mem;		/* implicit: pop x nq x (dx + 1) */
	int *qlabel_mem;		/* implicit: pop x nq */
	float *next;
	int *order;
	double wsum;			/* sum of the population's step weights */
	struct shard sh[GENTRAIN_SHARDS_MAX];
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
	c->tasks.src = GEN_SRC_MOG;
	mog_family_default(&c->tasks.fam);
	c->tasks.noise = 0.03f;
	linclass_family_default(&c->tasks.cfam);
	linreg_family_default(&c->tasks.rfam);
	if (kind == GEN_CLF)
		c->tasks.src = GEN_SRC_LINCLASS;
	if (kind == GEN_REG) {
		c->tasks.src = GEN_SRC_LINREG;
		c->gen.explicit_ = 1;
	}
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
	const char *bad = NULL;
	int i, n = 0;

	if (gen_config_check(&c->gen, err, errlen) != AM_OK)
		return AM_EINVAL;
	for (i = 0; i < HERSHEY_LETTERS; i++)
		n += c->tasks.letters[i] != 0;
	if (c->pop < 1 || c->pop > 65536)
		bad = "population must be in [1, 65536]";
	else if (c->chunk < 1 || c->chunk > c->pop)
		bad = "chunk must be in [1, population]";
	else if (c->nq < 2 || c->nq > 1024)
		bad = "queries must be in [2, 1024]";
	else if (c->iters < 1 || c->warmup < 0)
		bad = "iterations must be positive";
	else if (!(c->lr > 0.0f) || !(c->lr_min >= 0.0f) || !(c->clip >= 0.0f) ||
		 !(c->weight_decay >= 0.0f))
		bad = "learning rates, clip and decay must be non-negative";
	else if (!(c->full_batch >= 0.0f && c->full_batch <= 1.0f))
		bad = "full_batch must be in [0, 1]";
	else if (c->step_weight < 0 || c->step_weight > 1)
		bad = "step_weight must be 0 or 1";
	else if (c->task_batch < 0 || c->task_batch > 1)
		bad = "task_batch must be 0 or 1";
	else if (!(c->tasks.augment >= 0.0f && c->tasks.augment <= 1.0f) ||
		 (c->tasks.augment > 0.0f && c->tasks.src != GEN_SRC_IMAGES))
		bad = "augment is a chance in [0, 1], for image tasks";
	else if (c->shards < 1 || c->shards > GENTRAIN_SHARDS_MAX)
		bad = "shards must be in [1, 8]";
	else if (c->tasks.src == GEN_SRC_MOG && mog_family_check(&c->tasks.fam) != AM_OK)
		bad = "bad mixture family";
	else if (c->tasks.src == GEN_SRC_MOG && c->tasks.fam.dmax > GEN_DMAX)
		bad = "mixture dimension above 8";
	else if (c->tasks.src == GEN_SRC_LETTERS &&
		 (!c->tasks.fonts || c->tasks.fonts->nfonts < 1 || n < 1 ||
		  !(c->tasks.noise >= 0.0f)))
		bad = "letters need fonts, at least one letter and a noise >= 0";
	else if ((c->gen.kind == GEN_CLF) != (c->tasks.src == GEN_SRC_LINCLASS ||
					      c->tasks.src == GEN_SRC_IMAGES) ||
		 (c->gen.kind == GEN_REG) != (c->tasks.src == GEN_SRC_LINREG))
		bad = "classification models train on linclass or image tasks, "
		      "regression ones on linreg tasks, generative ones on "
		      "mixtures or letters";
	else if (c->tasks.src == GEN_SRC_LINCLASS &&
		 linclass_family_check(&c->tasks.cfam) != AM_OK)
		bad = "bad linclass family";
	else if (c->tasks.src == GEN_SRC_IMAGES &&
		 (!c->tasks.img || c->tasks.img->kmin < 2 ||
		  c->tasks.img->kmax > c->tasks.img->nclass ||
		  c->tasks.img->kmin > c->tasks.img->kmax))
		bad = "image tasks need images and 2 <= kmin <= kmax <= classes";
	else if (c->tasks.src < GEN_SRC_MOG || c->tasks.src > GEN_SRC_LINREG)
		bad = "unknown task source";
	if (!bad)
		return AM_OK;
	if (err && errlen)
		snprintf(err, errlen, "%s", bad);
	return AM_EINVAL;
}

/* n rows of a trajectory's task, with labels or targets: stream rows, or
 * (query) the rows a state is scored on, which image tasks may draw from a
 * pool of their own (tasks.qimg) so that no scored image was streamed. */
static void task_rows(const struct gentrain *t, struct traj *tr, int n,
		      float *X, int *y, float *tgt, int query)
{
	if (t->cfg.tasks.src == GEN_SRC_LINREG)
		gen_task_sample_reg(&t->cfg.tasks, &tr->task, &tr->rng, n, X, tgt);
	else if (query)
		gen_task_sample_query(&t->cfg.tasks, &tr->task, &tr->rng, n, X, y);
	else
		gen_task_sample(&t->cfg.tasks, &tr->task, &tr->rng, n, X, y);
}

static void traj_new_batch(struct gentrain *t, struct traj *tr)
{
	int bmax = t->cfg.gen.bmax;

	/* task_batch: one size for the whole stream, drawn at its start */
	if (!t->cfg.task_batch || tr->step == 0)
		tr->B = rng_uniform(&tr->rng) < t->cfg.full_batch ? bmax :
			rng_int(&tr->rng, 1, bmax);
	task_rows(t, tr, tr->B, tr->X, tr->y, tr->t, 0);
}

static void traj_reset(struct gentrain *t, struct traj *tr)
{
	gen_task_draw(&t->cfg.tasks, &tr->rng, &tr->task);
	if (t->cfg.gen.implicit_) {
		task_rows(t, tr, t->cfg.gen.nq, tr->QX, tr->Qy, tr->Qt, 1);
		gen_query_init(&t->g, t->p, t->cfg.gen.nq, tr->task.K, tr->state);
	} else {
		gen_initial_state(&t->g, t->p, tr->state);
	}
	tr->rows = 0.0;
	tr->step = 0;
	tr->pass = 0;
	tr->seed = rng_u64(&tr->rng);
	traj_new_batch(t, tr);
}

static void traj_advance(struct gentrain *t, struct traj *tr, const float *next)
{
	memcpy(tr->state, next, (size_t)t->g.nstate * sizeof *next);
	tr->seed = rng_u64(&tr->rng);
	if (++tr->pass < t->cfg.gen.passes)
		return;
	tr->pass = 0;
	tr->rows += tr->B;
	if (++tr->step >= t->cfg.gen.ksteps) {
		traj_reset(t, tr);
		return;
	}
	traj_new_batch(t, tr);
}

static void traj_input(const struct gentrain *t, const struct traj *tr,
		       struct gen_input *in)
{
	in->state = tr->state;
	in->X = tr->X;
	in->y = tr->y;
	in->t = tr->t;
	in->Q = tr->QX;
	in->nq = t->cfg.gen.implicit_ ? t->cfg.gen.nq : 0;
	in->B = tr->B;
	in->D = tr->task.D;
	in->K = tr->task.K;
	in->rows_seen = tr->rows;
	in->pass = tr->pass;
	in->seed = tr->seed;
}

/* The unscaled loss weight of trajectory tr's next state: 1, or with
 * step_weight the number of steps that state will have taken. */
static double step_weight(const struct gentrain *t, const struct traj *tr)
{
	return t->cfg.step_weight ? (double)tr->step + 1.0 : 1.0;
}

/* Orders trajectories by batch size so that each chunk pads little, and
 * sums the step weights for this iteration. */
static void gentrain_plan(struct gentrain *t)
{
	int i;

	poptrain_order_by(t->order, &t->pop[0].B, sizeof *t->pop, t->cfg.pop);
	t->wsum = 0.0;
	for (i = 0; i < t->cfg.pop; i++)
		t->wsum += step_weight(t, &t->pop[i]);
}

void gentrain_free(struct gentrain *t)
{
	int s;

	if (!t)
		return;
	for (s = 0; s < GENTRAIN_SHARDS_MAX; s++) {
		gen_ws_free(t->sh[s].ws);
		free(t->sh[s].dp);
		free(t->sh[s].in);
		free(t->sh[s].dnext);
		free(t->sh[s].Q);
		free(t->sh[s].Qy);
		free(t->sh[s].Qt);
		free(t->sh[s].dinit);
		free(t->sh[s].s0);
	}
	adam_free(&t->opt);
	free(t->p);
	free(t->dp);
	free(t->decay);
	free(t->pop);
	free(t->batch_mem);
	free(t->label_mem);
	free(t->target_mem);
	free(t->query_mem);
	free(t->qlabel_mem);
	free(t->next);
	free(t->order);
	layout_free(&t->lay);
	free(t);
}

struct gentrain *gentrain_new(const struct gentrain_config *c, char *err,
			      size_t errlen)
{
	struct gentrain *t;
	size_t n, bm, dx, qn;
	int i, s, k, ns;

	if (gentrain_config_check(c, err, errlen) != AM_OK)
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		goto oom;
	t->cfg = *c;
	layout_init(&t->lay);
	if (gen_init(&t->g, &t->lay, &c->gen) != AM_OK)
		goto oom;
	n = t->lay.total;
	ns = t->g.nstate;
	bm = (size_t)c->gen.bmax;
	qn = c->gen.implicit_ ? (size_t)c->gen.nq : 1;
	t->p = calloc(n, sizeof *t->p);
	t->dp = calloc(n, sizeof *t->dp);
	t->decay = calloc(n, 1);
	t->pop = calloc((size_t)c->pop, sizeof *t->pop);
	dx = (size_t)gen_source_dx(c->tasks.src);
	t->batch_mem = calloc((size_t)c->pop * bm * dx, sizeof(float));
	t->label_mem = calloc((size_t)c->pop * bm, sizeof(int));
	t->target_mem = calloc((size_t)c->pop * bm, sizeof(float));
	t->query_mem = calloc((size_t)c->pop * qn * (dx + 1), sizeof(float));
	t->qlabel_mem = calloc((size_t)c->pop * qn, sizeof(int));
	t->next = calloc((size_t)c->pop * ns, sizeof(float));
	t->order = calloc((size_t)c->pop, sizeof *t->order);
	if (!t->p || !t->dp || !t->decay || !t->pop || !t->batch_mem || !t->label_mem ||
	    !t->target_mem || !t->query_mem || !t->qlabel_mem || !t->next || !t->order || adam_init(&t->opt, n) != AM_OK)
		goto oom;
	for (s = 0; s < c->shards; s++) {
		struct shard *sh = &t->sh[s];

		sh->ws = gen_ws_new(&t->g, c->chunk, c->gen.bmax);
		sh->dp = calloc(n, sizeof(float));
		sh->in = calloc((size_t)c->chunk, sizeof *sh->in);
		sh->dnext = calloc((size_t)c->chunk * ns, sizeof(float));
		sh->Q = calloc((size_t)c->nq * dx, sizeof(float));
		sh->Qy = calloc((size_t)c->nq, sizeof(int));
		sh->Qt = calloc((size_t)c->nq, sizeof(float));
		sh->dinit = calloc((size_t)ns, sizeof(float));
		sh->s0 = calloc((size_t)ns, sizeof(float));
		if (!sh->ws || !sh->dp || !sh->in || !sh->dnext || !sh->Q || !sh->Qy || !sh->Qt ||
		    !sh->dinit || !sh->s0)
			goto oom;
	}
	for (i = 0; i < t->lay.n; i++)
		if (t->lay.views[i].ndim == 2)
			memset(t->decay + t->lay.views[i].offset, 1,
			       t->lay.views[i].size);
	t->opt.lr = c->lr;
	t->opt.clip = c->clip;
	t->opt.weight_decay = c->weight_decay;
	rng_seed(&t->rng, c->seed);
	gen_init_params(&t->g, t->p, &t->rng);
	for (i = 0; i < c->pop; i++) {
		struct traj *tr = &t->pop[i];

		tr->X = t->batch_mem + (size_t)i * bm * dx;
		tr->y = t->label_mem + (size_t)i * bm;
		tr->t = t->target_mem + (size_t)i * bm;
		tr->QX = t->query_mem + (size_t)i * qn * (dx + 1);
		tr->Qt = tr->QX + qn * dx;
		tr->Qy = t->qlabel_mem + (size_t)i * qn;
		rng_split(&t->rng, (uint64_t)i, &tr->rng);
		traj_reset(t, tr);
	}
	for (i = 0; i < c->pop; i++) {
		struct traj *tr = &t->pop[i];
		int ff = i % (c->gen.ksteps * c->gen.passes);

		for (k = 0; k < ff; k++) {
			struct gen_input in;

			traj_input(t, tr, &in);
			if (gen_forward(&t->g, t->p, t->sh[0].ws, 1, &in,
					t->sh[0].dnext, NULL) != AM_OK) {
				snprintf(err, errlen, "initial refiner diverged");
				gentrain_free(t);
				return NULL;
			}
			traj_advance(t, tr, t->sh[0].dnext);
		}
	}
	gentrain_plan(t);
	return t;
oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory");
	gentrain_free(t);
	return NULL;
}

/*
 * The training loss of one state of trajectory tr, scaled by w, its
 * gradient into dstate (and the networks' parts into the shard's dp).
 * Implicit states are scored on the trajectory's own queries; the other
 * regimes on fresh rows of the task (new ones when fresh, else the last
 * drawn).  Mixtures report the excess over the truth's NLL.
 */
static double state_loss(struct gentrain *t, struct shard *sh, struct traj *tr,
			 const float *state, float w, float *dstate, int fresh)
{
	const struct gentrain_config *c = &t->cfg;
	int reg = c->tasks.src == GEN_SRC_LINREG;
	double l;

	if (c->gen.implicit_) {
		if (reg)
			return gen_state_loss_reg(&t->g, t->p, sh->dp, sh->ws, state,
						  tr->QX, tr->Qt, c->gen.nq, w,
						  dstate);
		return gen_state_loss(&t->g, t->p, sh->dp, sh->ws, state, tr->QX,
				      tr->Qy, c->gen.nq, tr->task.D, tr->task.K,
				      &tr->rng, w, dstate);
	}
	if (fresh)
		task_rows(t, tr, c->nq, sh->Q, sh->Qy, sh->Qt, 1);
	if (reg)
		return gen_state_loss_reg(&t->g, t->p, sh->dp, sh->ws, state, sh->Q,
					  sh->Qt, c->nq, w, dstate);
	l = gen_state_loss(&t->g, t->p, sh->dp, sh->ws, state, sh->Q, sh->Qy,
			   c->nq, tr->task.D, tr->task.K, &tr->rng, w, dstate);
	if (fresh && c->tasks.src == GEN_SRC_MOG)
		l -= mog_nll(tr->task.theta, tr->task.D, sh->Q, c->nq, NULL, NULL);
	return l;
}

void gentrain_shard(struct gentrain *t, int s)
{
	struct shard *sh = &t->sh[s];
	const struct gentrain_config *c = &t->cfg;
	int chunk = c->chunk, pop = c->pop, ns = t->g.nstate, nchunks, ch, i, j;
	int starts = c->pop / (c->gen.ksteps * c->gen.passes);
	float w = 1.0f / (float)pop, wk;
	float w0 = 1.0f / (float)(starts > 0 ? starts : 1);

	AM_ASSERT(s >= 0 && s < c->shards);
	memset(sh->dp, 0, t->lay.total * sizeof *sh->dp);
	sh->loss = 0.0;
	sh->failed = 0;
	nchunks = (pop + chunk - 1) / chunk;
	for (ch = s; ch < nchunks; ch += c->shards) {
		int lo = ch * chunk, n = pop - lo < chunk ? pop - lo : chunk;

		for (i = 0; i < n; i++)
			traj_input(t, &t->pop[t->order[lo + i]], &sh->in[i]);
		if (gen_forward(&t->g, t->p, sh->ws, n, sh->in, sh->dnext,
				NULL) != AM_OK) {
			sh->failed = 1;
			return;
		}
		for (i = 0; i < n; i++) {
			int k = t->order[lo + i];
			struct traj *tr = &t->pop[k];
			float *nx = t->next + (size_t)k * ns;
			float *dn = sh->dnext + (size_t)i * ns;

			memcpy(nx, dn, (size_t)ns * sizeof *nx);
			wk = c->step_weight ?
			     (float)(step_weight(t, tr) / t->wsum) : w;
			/* the reported loss stays the plain mean */
			sh->loss += state_loss(t, sh, tr, nx, wk, dn, 1);
			/* the learned initial state, on the tasks that start
			 * from it */
			if (tr->step == 0 && tr->pass == 0) {
				if (c->gen.implicit_) {
					gen_query_init(&t->g, t->p, c->gen.nq,
						       tr->task.K, sh->s0);
					state_loss(t, sh, tr, sh->s0, w0, sh->dinit, 0);
					gen_init_grad(&t->g, t->p, sh->dinit,
						      c->gen.nq, tr->task.K,
						      sh->dp + t->g.init);
					continue;
				}
				state_loss(t, sh, tr, t->p + t->g.init, w0,
					   sh->dinit, 0);
				for (j = 0; j < ns; j++)
					sh->dp[t->g.init + j] += sh->dinit[j];
			}
		}
		/* gen_state_loss wrote the velocity network's part into dp;
		 * the refiner's part flows through dnext */
		gen_backward(&t->g, t->p, sh->dp, sh->ws, sh->dnext);
	}
}

int gentrain_apply(struct gentrain *t, double *loss)
{
	size_t n = t->lay.total, j;
	double total;
	const float *parts[GENTRAIN_SHARDS_MAX];
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
		traj_advance(t, &t->pop[i], t->next + (size_t)i * t->g.nstate);
	gentrain_plan(t);
	t->it++;
	if (loss)
		*loss = total;
	return AM_OK;
}

long gentrain_iteration(const struct gentrain *t)
{
	return t->it;
}

void gentrain_traj(const struct gentrain *t, int i, int *B, int *step)
{
	AM_ASSERT(i >= 0 && i < t->cfg.pop);
	*B = t->pop[i].B;
	*step = t->pop[i].step;
}

const struct gen *gentrain_model(const struct gentrain *t)
{
	return &t->g;
}

const struct layout *gentrain_layout(const struct gentrain *t)
{
	return &t->lay;
}

const float *gentrain_params(const struct gentrain *t)
{
	return t->p;
}

/* ---- checkpoints: integers as 16-bit pieces in floats (exact) ------------ */

/* D K font letter B step pass rows, then the image task's classes */
#define TRAJ_INTS (8 + LINCLASS_KMAX)
/* ... rng, seed, the mixture, the teacher and its temperature, the linear
 * regression task (theta, noise, x distribution, input mean) */
#define TRAJ_FIXED (4 * TRAJ_INTS + 4 * 4 + 4 + MOG_P + LINCLASS_P + 1 + \
		    LINREG_P + 2 + LINREG_DMAX)
#define COUNTERS (4 + 4 + 16)

static size_t traj_dx(const struct gentrain *t)
{
	return (size_t)gen_source_dx(t->cfg.tasks.src);
}

/* Implicit: the trajectory's queries. */
static size_t traj_nq(const struct gentrain *t)
{
	return t->cfg.gen.implicit_ ? (size_t)t->cfg.gen.nq : 0;
}

/* The fixed part: with augmentation, the task's augmentation seed too
 * (so a checkpoint of a recipe without it keeps its layout). */
static size_t traj_fixed(const struct gentrain *t)
{
	return TRAJ_FIXED + (t->cfg.tasks.augment > 0.0f ? 4 : 0);
}

/* the fixed part, the state, the batch (rows, labels, targets) and the
 * queries (rows, labels, targets) */
static size_t traj_floats(const struct gentrain *t)
{
	return traj_fixed(t) + (size_t)t->g.nstate +
	       (size_t)t->cfg.gen.bmax * (traj_dx(t) + 2) +
	       traj_nq(t) * (traj_dx(t) + 2);
}

static void traj_pack(const struct gentrain *t, const struct traj *tr, float *f)
{
	uint64_t v[TRAJ_INTS] = { (uint64_t)tr->task.D, (uint64_t)tr->task.K,
				  (uint64_t)tr->task.font, (uint64_t)tr->task.letter,
				  (uint64_t)tr->B, (uint64_t)tr->step,
				  (uint64_t)tr->pass, (uint64_t)tr->rows };
	size_t bm = (size_t)t->cfg.gen.bmax;
	int i;

	for (i = 0; i < LINCLASS_KMAX; i++)
		v[8 + i] = (uint64_t)tr->task.cls[i];
	for (i = 0; i < TRAJ_INTS; i++, f += 4)
		poptrain_put_u64(f, v[i]);
	for (i = 0; i < 4; i++, f += 4)
		poptrain_put_u64(f, tr->rng.s[i]);
	poptrain_put_u64(f, tr->seed);
	f += 4;
	memcpy(f, tr->task.theta, MOG_P * sizeof *f);
	f += MOG_P;
	memcpy(f, tr->task.ct.theta, LINCLASS_P * sizeof *f);
	f += LINCLASS_P;
	*f++ = tr->task.ct.temp;
	memcpy(f, tr->task.rt.theta, LINREG_P * sizeof *f);
	f += LINREG_P;
	*f++ = tr->task.rt.noise;
	*f++ = (float)tr->task.rt.xdist;
	memcpy(f, tr->task.rt.mu, LINREG_DMAX * sizeof *f);
	f += LINREG_DMAX;
	if (t->cfg.tasks.augment > 0.0f) {
		poptrain_put_u64(f, tr->task.aug);
		f += 4;
	}
	memcpy(f, tr->state, (size_t)t->g.nstate * sizeof *f);
	f += t->g.nstate;
	memcpy(f, tr->X, bm * traj_dx(t) * sizeof *f);
	f += bm * traj_dx(t);
	for (i = 0; i < (int)bm; i++)
		*f++ = (float)tr->y[i];
	memcpy(f, tr->t, bm * sizeof *f);
	f += bm;
	memcpy(f, tr->QX, traj_nq(t) * traj_dx(t) * sizeof *f);
	f += traj_nq(t) * traj_dx(t);
	for (i = 0; i < (int)traj_nq(t); i++)
		*f++ = (float)tr->Qy[i];
	memcpy(f, tr->Qt, traj_nq(t) * sizeof *f);
}

/* A label as stored: an integer in [0, LINCLASS_KMAX). */
static int label_ok(float v)
{
	return v >= 0.0f && v < (float)LINCLASS_KMAX && v == (float)(int)v;
}

static int traj_unpack(const struct gentrain *t, struct traj *tr, const float *f)
{
	uint64_t v[TRAJ_INTS];
	size_t bm = (size_t)t->cfg.gen.bmax;
	int i, kmax = t->cfg.tasks.src == GEN_SRC_IMAGES ?
		      t->cfg.tasks.img->nclass : LINCLASS_KMAX;

	for (i = 0; i < TRAJ_INTS; i++, f += 4)
		if (poptrain_get_u64(f, &v[i]))
			return -1;
	for (i = 0; i < 4; i++, f += 4)
		if (poptrain_get_u64(f, &tr->rng.s[i]))
			return -1;
	if (poptrain_get_u64(f, &tr->seed))
		return -1;
	f += 4;
	for (i = 0; i < LINCLASS_KMAX; i++)
		if (v[8 + i] >= (uint64_t)kmax)
			return -1;
	if (v[0] < 1 || v[0] > traj_dx(t) || v[1] > LINCLASS_KMAX ||
	    v[3] >= HERSHEY_LETTERS || v[4] < 1 ||
	    v[4] > (uint64_t)t->cfg.gen.bmax ||
	    v[5] >= (uint64_t)t->cfg.gen.ksteps ||
	    v[6] >= (uint64_t)t->cfg.gen.passes)
		return -1;
	if (t->cfg.tasks.src == GEN_SRC_LETTERS &&
	    v[2] >= (uint64_t)t->cfg.tasks.fonts->nfonts)
		return -1;
	tr->task.D = (int)v[0];
	tr->task.K = (int)v[1];
	tr->task.font = (int)v[2];
	tr->task.letter = (int)v[3];
	tr->B = (int)v[4];
	tr->step = (int)v[5];
	tr->pass = (int)v[6];
	tr->rows = (double)v[7];
	for (i = 0; i < LINCLASS_KMAX; i++)
		tr->task.cls[i] = (int)v[8 + i];
	memcpy(tr->task.theta, f, MOG_P * sizeof *f);
	f += MOG_P;
	memcpy(tr->task.ct.theta, f, LINCLASS_P * sizeof *f);
	f += LINCLASS_P;
	tr->task.ct.temp = *f++;
	tr->task.ct.D = tr->task.D;
	tr->task.ct.K = tr->task.K;
	memcpy(tr->task.rt.theta, f, LINREG_P * sizeof *f);
	f += LINREG_P;
	tr->task.rt.noise = *f++;
	if (!(f[0] >= 0.0f && f[0] <= 8.0f))
		return -1;
	tr->task.rt.xdist = (enum linreg_xdist)(int)*f++;
	memcpy(tr->task.rt.mu, f, LINREG_DMAX * sizeof *f);
	f += LINREG_DMAX;
	tr->task.aug = 0;
	if (t->cfg.tasks.augment > 0.0f) {
		if (poptrain_get_u64(f, &tr->task.aug))
			return -1;
		f += 4;
	}
	tr->task.rt.D = tr->task.D > LINREG_DMAX ? LINREG_DMAX : tr->task.D;
	memcpy(tr->state, f, (size_t)t->g.nstate * sizeof *f);
	f += t->g.nstate;
	memcpy(tr->X, f, bm * traj_dx(t) * sizeof *f);
	f += bm * traj_dx(t);
	for (i = 0; i < (int)bm; i++, f++) {
		if (!label_ok(*f))
			return -1;
		tr->y[i] = (int)*f;
	}
	memcpy(tr->t, f, bm * sizeof *f);
	f += bm;
	memcpy(tr->QX, f, traj_nq(t) * traj_dx(t) * sizeof *f);
	f += traj_nq(t) * traj_dx(t);
	for (i = 0; i < (int)traj_nq(t); i++, f++) {
		if (!label_ok(*f))
			return -1;
		tr->Qy[i] = (int)*f;
	}
	memcpy(tr->Qt, f, traj_nq(t) * sizeof *f);
	return 0;
}

static int ckpt_layout(const struct gentrain *t, struct layout *l)
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

int gentrain_save_checkpoint(const struct gentrain *t, const char *path,
			     const char *header, char *err, size_t errlen)
{
	struct layout l;
	float *buf, *f;
	size_t n = t->lay.total;
	int rc, i;

	rc = ckpt_layout(t, &l);
	if (rc != AM_OK) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	buf = calloc(l.total, sizeof *buf);
	if (!buf) {
		layout_free(&l);
		snprintf(err, errlen, "out of memory");
		return AM_ENOMEM;
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
}

int gentrain_load_checkpoint(struct gentrain *t, const char *path, char *err,
			     size_t errlen)
{
	struct amfile f;
	struct layout l;
	struct traj tmp;
	float *buf = NULL, *scratch = NULL;
	const float *popf;
	size_t n = t->lay.total, bm = (size_t)t->cfg.gen.bmax, dx = traj_dx(t);
	size_t nq = traj_nq(t) ? traj_nq(t) : 1;
	uint64_t it, at, rs[4];
	const float *c;
	int *iscratch = NULL;
	int rc, i;

	memset(&f, 0, sizeof f);
	rc = ckpt_layout(t, &l);
	if (rc != AM_OK)
		return rc;
	rc = amfile_read(path, &f, err, errlen);
	if (rc != AM_OK)
		goto out;
	buf = calloc(l.total, sizeof *buf);
	/* one trajectory's buffers, to check every one before taking any */
	scratch = calloc(bm * (dx + 1) + nq * (dx + 1), sizeof *scratch);
	iscratch = calloc(bm + nq, sizeof *iscratch);
	if (!buf || !scratch || !iscratch) {
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
	popf = buf + layout_find(&l, "ckpt.population")->offset;
	memset(&tmp, 0, sizeof tmp);
	tmp.X = scratch;
	tmp.t = scratch + bm * dx;
	tmp.QX = tmp.t + bm;
	tmp.Qt = tmp.QX + nq * dx;
	tmp.y = iscratch;
	tmp.Qy = iscratch + bm;
	for (i = 0; i < t->cfg.pop; i++) {
		if (traj_unpack(t, &tmp, popf + (size_t)i * traj_floats(t))) {
			rc = AM_EFORMAT;
			snprintf(err, errlen, "checkpoint trajectory %d is corrupt", i);
			goto out;
		}
	}
	for (i = 0; i < t->cfg.pop; i++)
		traj_unpack(t, &t->pop[i], popf + (size_t)i * traj_floats(t));
	memcpy(t->p, buf + layout_find(&l, "ckpt.params")->offset, n * sizeof *buf);
	memcpy(t->opt.m, buf + layout_find(&l, "ckpt.adam_m")->offset, n * sizeof *buf);
	memcpy(t->opt.v, buf + layout_find(&l, "ckpt.adam_v")->offset, n * sizeof *buf);
	memcpy(t->rng.s, rs, sizeof rs);
	t->it = (long)it;
	t->opt.t = (long)at;
	gentrain_plan(t);
	rc = AM_OK;
out:
	free(scratch);
	free(iscratch);
	free(buf);
	amfile_free(&f);
	layout_free(&l);
	return rc;
}
