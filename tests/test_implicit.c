/*
 * test_implicit.c - the implicit regime (a prediction per query point) and
 * regression by a learned predictor (gen.h):
 *
 *   - the gradient of the whole greedy training loss (one refinement pass
 *     of two sequences, the next states' losses, and the learned initial
 *     state's loss) with respect to the parameters, against central finite
 *     differences, for implicit classification with each state (logits,
 *     probabilities, latent), implicit regression (mean, latent) and
 *     explicit regression;
 *   - queries are independent: refining n queries at once, one at a time,
 *     permuted or in hand-made chunks of the model's capacity gives the
 *     same predictions;
 *   - a probabilities state stays on the simplex;
 *   - gen_query_step checks its input and leaves the states alone when it
 *     refuses;
 *   - meta-training lowers the held-out loss after 4 steps (implicit
 *     classification with each state, implicit and explicit regression);
 *   - a checkpointed implicit (and regression) run resumes bit-identically;
 *   - the session contract (amz.h) for implicit models: amz_step keeps no
 *     state, replaying batches through amz_query_* equals gen_query_*
 *     directly, and the explicit entry points refuse implicit models.
 *
 * Gradient checks.  The forward is float32 and the loss is summed in
 * double; central differences with eps = 1e-2 (relative to max(1, |p|)),
 * |analytic - numeric| <= 2e-3 + 3e-2 |numeric| (as test_setref.c), on a
 * few random coordinates of every tensor plus its three largest analytic
 * entries (random coordinates of an embedding mostly hit inactive feature
 * columns, whose gradient is an uninformative zero).  Training is greedy:
 * a pass's input state and its features are constants for the backward.
 * The explicit regime's features (the predictor's outputs and gradient at
 * the input state) depend on the predictor's parameters; the numeric
 * derivative therefore runs the forward with the predictor at its
 * unperturbed values and perturbs it only in the losses.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/am.h"
#include "family/amz.h"
#include "base/gemm.h"
#include "family/gen.h"
#include "family/fam_gen.h"
#include "train/train.h"
#include "base/layout.h"
#include "base/rng.h"
#include "testutil.h"

/* ---- a model with random (non-trivial) parameters ------------------------ */

struct mctx {
	struct gen g;
	struct layout lay;
	float *p;
};

static void cfg_small(struct gen_config *c, enum gen_kind kind, int implicit,
		      enum gen_qstate qs)
{
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->variant = implicit ? GEN_OBS : GEN_BOTH;
	c->C = 16;
	c->H = 2;
	c->L = 2;
	c->passes = 2;
	c->bmax = 8;
	c->ksteps = 4;
	c->regime = implicit ? GEN_IMPLICIT : GEN_EXPLICIT;
	c->Z = implicit ? 5 : 16;
	c->vH = 16;
	c->vL = 2;
	c->flow_steps = 1;
	c->qstate = qs;
	c->nq = 3;
}

/* The refiner's head is zero after gen_init_params (an untrained implicit
 * refiner keeps its predictions): randomise it, and the learned initial
 * prediction, so that every tensor matters. */
static void model_new(struct mctx *m, const struct gen_config *c, uint64_t seed,
		      float head_sd)
{
	struct rng r;
	int i;

	memset(m, 0, sizeof *m);
	layout_init(&m->lay);
	assert_int_equal(gen_init(&m->g, &m->lay, c), AM_OK);
	m->p = tu_alloc(m->lay.total);
	rng_seed(&r, seed);
	gen_init_params(&m->g, m->p, &r);
	for (i = 0; i < m->lay.n; i++) {
		const struct layout_view *v = &m->lay.views[i];

		if (strstr(v->name, "gen.ref.head"))
			rng_fill_normal(&r, m->p + v->offset, (long)v->size, 0.0f,
					head_sd);
		else if (!strcmp(v->name, "gen.init") ||
			 !strcmp(v->name, "gen.readout.b"))
			rng_fill_normal(&r, m->p + v->offset, (long)v->size, 0.0f,
					0.5f);
	}
}

static void model_free(struct mctx *m)
{
	free(m->p);
	layout_free(&m->lay);
}

/* n rows of D active inputs (the rest zero), labels in [0, K), targets. */
static void rows(struct rng *r, int n, int D, int K, float *X, int *y, float *t)
{
	int i, j;

	memset(X, 0, (size_t)n * GEN_XMAX * sizeof *X);
	for (i = 0; i < n; i++) {
		for (j = 0; j < D; j++)
			X[i * GEN_XMAX + j] = (float)rng_normal(r);
		if (y)
			y[i] = K > 0 ? rng_int(r, 0, K - 1) : 0;
		if (t)
			t[i] = (float)rng_normal(r);
	}
}

static float maxabs(const float *x, size_t n)
{
	float m = 0.0f;
	size_t i;

	for (i = 0; i < n; i++)
		m = fmaxf(m, fabsf(x[i]));
	return m;
}

/* ---- 1. gradients of the training loss ----------------------------------- */

enum { FD_NS = 2, FD_B = 6, FD_NQ = 3 };

struct fd {
	struct mctx m;
	float *p0, *pf, *dp;
	struct gen_ws *ws;
	struct gen_input in[FD_NS];
	float state[FD_NS][GEN_STATE_MAX];
	float next[FD_NS * GEN_STATE_MAX], dnext[FD_NS * GEN_STATE_MAX];
	float scratch[GEN_STATE_MAX], s0[GEN_STATE_MAX];
	float X[FD_NS][FD_B * GEN_XMAX], t[FD_NS][FD_B];
	int y[FD_NS][FD_B];
	float Q[FD_NS][FD_NQ * GEN_XMAX], Qt[FD_NS][FD_NQ];
	int Qy[FD_NS][FD_NQ], nq[FD_NS];
	float w[FD_NS], w0;
};

/* One state's loss on sequence i's query rows (w times its gradient into
 * dstate; the readout's or predictor's part into dp unless NULL). */
static double fd_state_loss(struct fd *f, const float *p, float *dp, int i,
			    int nq, const float *state, float w, float *dstate)
{
	const struct gen_rows q = { f->Q[i], f->Qy[i], f->Qt[i], nq, f->in[i].D,
				    f->in[i].K };

	return gen_state_loss(&f->m.g, p, dp, f->ws, state, &q, NULL, w, dstate);
}

/* The learned initial state (implicit: cfg.nq queries for sequence 0's K). */
static const float *fd_init_state(struct fd *f, const float *p)
{
	const struct gen *g = &f->m.g;

	if (g->cfg.regime != GEN_IMPLICIT)
		return p + g->init;
	gen_query_init(g, p, g->cfg.nq, f->in[0].K, f->s0);
	return f->s0;
}

static double fd_loss(void *v)
{
	struct fd *f = v;
	const struct gen *g = &f->m.g;
	const float *pf = f->m.p;
	double L = 0.0;
	int i;

	if (gen_has_predictor(&g->cfg)) {
		/* the features see the predictor at its unperturbed values */
		memcpy(f->pf, f->m.p, f->m.lay.total * sizeof *f->pf);
		for (i = 0; i < f->m.lay.n; i++) {
			const struct layout_view *w = &f->m.lay.views[i];

			if (!strncmp(w->name, "gen.f.", 6))
				memcpy(f->pf + w->offset, f->p0 + w->offset,
				       w->size * sizeof *f->pf);
		}
		pf = f->pf;
	}
	assert_int_equal(gen_forward(g, pf, f->ws, FD_NS, f->in, f->next, NULL),
			 AM_OK);
	for (i = 0; i < FD_NS; i++)
		L += f->w[i] * fd_state_loss(f, f->m.p, NULL, i, f->nq[i],
					     f->next + (size_t)i * g->nstate,
					     f->w[i], f->scratch);
	L += f->w0 * fd_state_loss(f, f->m.p, NULL, 0,
				   g->cfg.regime == GEN_IMPLICIT ? g->cfg.nq : f->nq[0],
				   fd_init_state(f, f->m.p), f->w0, f->scratch);
	return L;
}

/* The analytic gradient, as train_shard takes it (fam_gen). */
static void fd_grad(struct fd *f)
{
	const struct gen *g = &f->m.g;
	const float *p = f->m.p;
	int i, j, ns = g->nstate;

	memset(f->dp, 0, f->m.lay.total * sizeof *f->dp);
	memset(f->dnext, 0, sizeof f->dnext);
	assert_int_equal(gen_forward(g, p, f->ws, FD_NS, f->in, f->next, NULL),
			 AM_OK);
	for (i = 0; i < FD_NS; i++)
		fd_state_loss(f, p, f->dp, i, f->nq[i], f->next + (size_t)i * ns,
			      f->w[i], f->dnext + (size_t)i * ns);
	gen_backward(g, p, f->dp, f->ws, f->dnext);
	memset(f->scratch, 0, sizeof f->scratch);
	if (g->cfg.regime == GEN_IMPLICIT) {
		fd_state_loss(f, p, f->dp, 0, g->cfg.nq, fd_init_state(f, p), f->w0,
			      f->scratch);
		gen_init_grad(g, p, f->scratch, g->cfg.nq, f->in[0].K,
			      f->dp + g->init);
	} else {
		fd_state_loss(f, p, f->dp, 0, f->nq[0], p + g->init, f->w0,
			      f->scratch);
		for (j = 0; j < ns; j++)
			f->dp[g->init + j] += f->scratch[j];
	}
}

/* Central differences at k random coordinates of a tensor and at its
 * three largest analytic entries; returns the failures. */
static int fd_check_tensor(struct fd *f, const struct layout_view *v, int k,
			   struct rng *r)
{
	float *x = f->m.p + v->offset;
	const float *a = f->dp + v->offset;
	size_t idx[16], top[3] = { 0, 0, 0 };
	int n = 0, i, j, fails = 0;

	for (i = 0; i < k; i++)
		idx[n++] = (size_t)rng_below(r, v->size);
	for (j = 0; j < 3; j++) {
		float best = -1.0f;
		size_t s;

		for (s = 0; s < v->size; s++) {
			int taken = 0;

			for (i = 0; i < j; i++)
				taken |= top[i] == s;
			if (!taken && fabsf(a[s]) > best) {
				best = fabsf(a[s]);
				top[j] = s;
			}
		}
		if ((size_t)j < v->size)
			idx[n++] = top[j];
	}
	for (i = 0; i < n; i++) {
		float keep = x[idx[i]];
		float eps = 1e-2f * fmaxf(1.0f, fabsf(keep));
		double lp, lm, num, err, lim;

		x[idx[i]] = keep + eps;
		lp = fd_loss(f);
		x[idx[i]] = keep - eps;
		lm = fd_loss(f);
		x[idx[i]] = keep;
		num = (lp - lm) / (2.0 * (double)eps);
		err = fabs((double)a[idx[i]] - num);
		lim = 2e-3 + 3e-2 * fabs(num);
		if (!(err <= lim)) {
			fails++;
			fprintf(stderr, "%s[%zu]: analytic %.6g numeric %.6g\n",
				v->name, idx[i], (double)a[idx[i]], num);
		}
	}
	return fails;
}

static void fd_run(enum gen_kind kind, int implicit, enum gen_qstate qs,
		   int head)
{
	static struct fd f;
	struct gen_config c;
	const struct gen *g;
	struct rng r;
	int Bs[FD_NS] = { FD_B, 3 }, Ds[FD_NS] = { 5, 3 }, Ks[FD_NS] = { 4, 3 };
	int nqs[FD_NS] = { FD_NQ, 2 };
	int i, j, k, fails = 0;

	memset(&f, 0, sizeof f);
	cfg_small(&c, kind, implicit, qs);
	c.head = head;
	if (head)
		c.Z = 8;		/* per class */
	model_new(&f.m, &c, 11, 0.3f);
	g = &f.m.g;
	f.p0 = tu_alloc(f.m.lay.total);
	f.pf = tu_alloc(f.m.lay.total);
	f.dp = tu_alloc(f.m.lay.total);
	memcpy(f.p0, f.m.p, f.m.lay.total * sizeof *f.p0);
	f.ws = gen_ws_new(g, FD_NS, c.bmax);
	assert_non_null(f.ws);
	rng_seed(&r, 23);
	for (i = 0; i < FD_NS; i++) {
		struct gen_input *in = &f.in[i];
		int K = kind == GEN_CLF ? Ks[i] : 0;
		float *s = f.state[i];

		rows(&r, Bs[i], Ds[i], K, f.X[i], f.y[i], f.t[i]);
		rows(&r, FD_NQ, Ds[i], K, f.Q[i], f.Qy[i], f.Qt[i]);
		f.nq[i] = nqs[i];
		f.w[i] = 0.7f + 0.6f * (float)i;
		memset(in, 0, sizeof *in);
		in->state = s;
		in->X = f.X[i];
		in->y = kind == GEN_CLF ? f.y[i] : NULL;
		in->t = kind == GEN_REG ? f.t[i] : NULL;
		in->B = Bs[i];
		in->D = Ds[i];
		in->K = K;
		in->rows_seen = 12.0 * i;
		in->pass = i % c.passes;
		if (implicit) {
			in->Q = f.Q[i];
			in->nq = nqs[i];
		}
		if (i == 0) {
			/* the initial prediction */
			if (implicit)
				gen_query_init(g, f.m.p, c.nq, K, s);
			else
				gen_initial_state(g, f.m.p, s);
			continue;
		}
		/* a state along a trajectory: random, of the state's kind */
		rng_fill_normal(&r, s, g->nstate, 0.0f, 1.0f);
		if (implicit && kind == GEN_CLF && qs != GEN_Q_LATENT) {
			for (j = 0; j < c.nq; j++) {
				float *q = s + (size_t)j * g->sq;
				double z = 0.0;

				for (k = 0; k < LINCLASS_KMAX; k++) {
					q[k] = k < K ? (qs == GEN_Q_PROBS ?
							expf(q[k]) : q[k]) : 0.0f;
					z += q[k];
				}
				if (qs == GEN_Q_PROBS)
					for (k = 0; k < K; k++)
						q[k] = (float)(q[k] / z);
			}
		}
		/* inactive query slots are never read */
		if (implicit)
			for (j = nqs[i] * g->sq; j < g->nstate; j++)
				s[j] = NAN;
	}
	f.w0 = 0.9f;
	fd_grad(&f);
	for (i = 0; i < f.m.lay.n; i++) {
		const struct layout_view *v = &f.m.lay.views[i];

		fails += fd_check_tensor(&f, v, 5, &r);
		/* the tensors the new code owns get a gradient at all */
		if (!strcmp(v->name, "gen.init") || !strncmp(v->name, "gen.readout", 11) ||
		    !strncmp(v->name, "gen.f.out", 9) ||
		    !strcmp(v->name, "gen.ref.head.w") ||
		    !strcmp(v->name, "gen.ref.embed_state.w"))
			assert_true(maxabs(f.dp + v->offset, v->size) > 1e-6f);
	}
	assert_int_equal(fails, 0);
	/* the gradient is finite everywhere (the NaN slots did not leak) */
	for (i = 0; i < (int)f.m.lay.total; i++)
		assert_true(isfinite(f.dp[i]));
	gen_ws_free(f.ws);
	free(f.p0);
	free(f.pf);
	free(f.dp);
	model_free(&f.m);
}

static void test_grad_clf_logits(void **state)
{
	(void)state;
	fd_run(GEN_CLF, 1, GEN_Q_LOGITS, 0);
}

static void test_grad_clf_probs(void **state)
{
	(void)state;
	fd_run(GEN_CLF, 1, GEN_Q_PROBS, 0);
}

static void test_grad_clf_latent(void **state)
{
	(void)state;
	fd_run(GEN_CLF, 1, GEN_Q_LATENT, 0);
}

static void test_grad_reg_mean(void **state)
{
	(void)state;
	fd_run(GEN_REG, 1, GEN_Q_LOGITS, 0);
}

static void test_grad_reg_latent(void **state)
{
	(void)state;
	fd_run(GEN_REG, 1, GEN_Q_LATENT, 0);
}

static void test_grad_reg_explicit(void **state)
{
	(void)state;
	fd_run(GEN_REG, 0, GEN_Q_LOGITS, 0);
}

/* The explicit classifier: f(x, z) on [x, z] (mlp) and the head
 * predictor, logit_k = h(x) . z_k (one latent token per class). */
static void test_grad_clf_explicit(void **state)
{
	(void)state;
	fd_run(GEN_CLF, 0, GEN_Q_LOGITS, 0);
	fd_run(GEN_CLF, 0, GEN_Q_LOGITS, 1);
}

/* The head predictor's probabilities: on the simplex of the task's K
 * classes, zero past K, and their mean negative log-likelihood is the
 * training loss of the same state; a class latent past K changes
 * nothing. */
static void test_head_probs_match_loss(void **state)
{
	enum { HN = 37, HD = 6, HK = 5 };
	static float X[HN * GEN_XMAX], pr[HN * LINCLASS_KMAX],
		     pr2[HN * LINCLASS_KMAX];
	float s[GEN_STATE_MAX], ds[GEN_STATE_MAX];
	struct gen_config c;
	struct gen_ws *ws;
	struct mctx m;
	struct rng r;
	int y[HN], i, k;
	double nll = 0.0, l;

	(void)state;
	cfg_small(&c, GEN_CLF, 0, GEN_Q_LOGITS);
	c.head = 1;
	c.Z = 16;
	model_new(&m, &c, 5, 0.3f);
	assert_int_equal(m.g.nstate, LINCLASS_KMAX * 16);
	ws = gen_ws_new(&m.g, 1, c.bmax);
	assert_non_null(ws);
	rng_seed(&r, 9);
	rows(&r, HN, HD, HK, X, y, NULL);
	rng_fill_normal(&r, s, m.g.nstate, 0.0f, 1.0f);
	assert_int_equal(gen_predict_probs(&m.g, m.p, ws, s, X, HN, HD, HK, pr),
			 AM_OK);
	for (i = 0; i < HN; i++) {
		double z = 0.0;

		for (k = 0; k < LINCLASS_KMAX; k++) {
			float q = pr[i * LINCLASS_KMAX + k];

			assert_true(k < HK ? q > 0.0f : q == 0.0f);
			z += q;
		}
		assert_true(fabs(z - 1.0) < 1e-5);
		nll -= log(pr[i * LINCLASS_KMAX + y[i]]);
	}
	nll /= HN;
	l = gen_state_loss(&m.g, m.p, NULL, ws, s,
			   &(struct gen_rows){ X, y, NULL, HN, HD, HK }, NULL, 1.0f,
			   ds);
	assert_true(fabs(l - nll) <= 1e-5 * (1.0 + nll));
	for (k = HK * 16; k < m.g.nstate; k++)
		assert_true(ds[k] == 0.0f);
	for (k = HK * 16; k < m.g.nstate; k++)
		s[k] += 3.0f;
	assert_int_equal(gen_predict_probs(&m.g, m.p, ws, s, X, HN, HD, HK, pr2),
			 AM_OK);
	assert_memory_equal(pr, pr2, sizeof pr);
	gen_ws_free(ws);
	model_free(&m);
}

/* ---- 2. queries are independent ------------------------------------------ */

enum { QN = 7, QB = 6, QD = 5, QK = 4, QSTEPS = 2 };

struct qdata {
	float X[QSTEPS][QB * GEN_XMAX], t[QSTEPS][QB];
	int y[QSTEPS][QB];
	float Q[QN * GEN_XMAX];
};

static void qdata_new(struct qdata *d, int K, uint64_t seed)
{
	struct rng r;
	int s;

	rng_seed(&r, seed);
	for (s = 0; s < QSTEPS; s++)
		rows(&r, QB, QD, K, d->X[s], d->y[s], d->t[s]);
	rows(&r, QN, QD, K, d->Q, NULL, NULL);
}

/* Queries lo..lo+n-1 of d (rows Q + lo) from the initial prediction
 * through QSTEPS steps, into qs (n x sq). */
static void qrefine(const struct mctx *m, struct gen_ws *ws, const struct qdata *d,
		    const float *Q, int n, int K, float *qs)
{
	const struct gen *g = &m->g;
	int s, clf = g->cfg.kind == GEN_CLF;

	gen_query_init(g, m->p, n, K, qs);
	for (s = 0; s < QSTEPS; s++)
		assert_int_equal(gen_query_step(g, m->p, ws, Q, n, qs, d->X[s],
						clf ? d->y[s] : NULL,
						clf ? NULL : d->t[s], QB, QD, K,
						(double)s * QB), AM_OK);
}

static int close_to(const float *a, const float *b, size_t n, float tol,
		    float *worst)
{
	size_t i;
	int ok = 1;

	for (i = 0; i < n; i++) {
		float e = fabsf(a[i] - b[i]);

		if (worst && e > *worst)
			*worst = e;
		if (!(e <= tol * (1.0f + fabsf(b[i]))))
			ok = 0;
	}
	return ok;
}

static void independence(enum gen_kind kind, enum gen_qstate qst)
{
	struct gen_config c;
	struct mctx m;
	struct gen_ws *ws;
	static struct qdata d;
	static float ref[QN * GEN_SQMAX], one[QN * GEN_SQMAX], hand[QN * GEN_SQMAX],
		     perm[QN * GEN_SQMAX], Qp[QN * GEN_XMAX], init[GEN_SQMAX];
	int order[QN] = { 4, 0, 6, 2, 5, 1, 3 };
	int K = kind == GEN_CLF ? QK : 0, sq, i, lo, differ = 0;
	float worst = 0.0f;

	cfg_small(&c, kind, 1, qst);
	model_new(&m, &c, 31, 0.3f);
	sq = m.g.sq;
	ws = gen_ws_new(&m.g, 1, c.bmax);
	assert_non_null(ws);
	qdata_new(&d, K, 8);
	/* all QN at once: chunks of the capacity nq = 3 (3, 3, 1) */
	qrefine(&m, ws, &d, d.Q, QN, K, ref);
	/* the chunks by hand: the same computation, bit for bit */
	for (lo = 0; lo < QN; lo += c.nq) {
		int n = QN - lo < c.nq ? QN - lo : c.nq;

		qrefine(&m, ws, &d, d.Q + (size_t)lo * GEN_XMAX, n, K,
			hand + (size_t)lo * sq);
	}
	assert_memory_equal(ref, hand, (size_t)QN * sq * sizeof *ref);
	/* one at a time, and permuted: the same up to rounding */
	for (i = 0; i < QN; i++)
		qrefine(&m, ws, &d, d.Q + (size_t)i * GEN_XMAX, 1, K,
			one + (size_t)i * sq);
	for (i = 0; i < QN; i++)
		memcpy(Qp + (size_t)i * GEN_XMAX, d.Q + (size_t)order[i] * GEN_XMAX,
		       GEN_XMAX * sizeof *Qp);
	qrefine(&m, ws, &d, Qp, QN, K, perm);
	assert_true(close_to(one, ref, (size_t)QN * sq, 5e-5f, &worst));
	for (i = 0; i < QN; i++)
		assert_true(close_to(perm + (size_t)i * sq, ref + (size_t)order[i] * sq,
				     (size_t)sq, 5e-5f, &worst));
	/* and the refinement did something query-specific */
	gen_query_init(&m.g, m.p, 1, K, init);
	for (i = 1; i < QN; i++)
		differ += !close_to(ref + (size_t)i * sq, ref, (size_t)sq, 1e-3f, NULL);
	assert_true(differ == QN - 1);
	assert_false(close_to(ref, init, (size_t)sq, 1e-3f, NULL));
	print_message("independence (kind %d, state %d): worst difference %.3g\n",
		      (int)kind, (int)qst, (double)worst);
	gen_ws_free(ws);
	model_free(&m);
}

static void test_query_independence(void **state)
{
	(void)state;
	independence(GEN_CLF, GEN_Q_LOGITS);
	independence(GEN_CLF, GEN_Q_PROBS);
	independence(GEN_CLF, GEN_Q_LATENT);
	independence(GEN_REG, GEN_Q_LOGITS);
	independence(GEN_REG, GEN_Q_LATENT);
}

/* ---- 3. a probabilities state stays on the simplex ----------------------- */

static void test_probs_simplex(void **state)
{
	struct gen_config c;
	struct mctx m;
	struct gen_ws *ws;
	struct rng r;
	static float X[8 * GEN_XMAX], Q[QN * GEN_XMAX], qs[QN * GEN_SQMAX],
		     pr[QN * LINCLASS_KMAX];
	int y[8], Ks[3] = { 2, 4, LINCLASS_KMAX }, ki, s, i, k;

	(void)state;
	cfg_small(&c, GEN_CLF, 1, GEN_Q_PROBS);
	/* a large head: big moves of the log-probabilities */
	model_new(&m, &c, 41, 1.0f);
	ws = gen_ws_new(&m.g, 1, c.bmax);
	assert_non_null(ws);
	rng_seed(&r, 3);
	for (ki = 0; ki < 3; ki++) {
		int K = Ks[ki];

		rows(&r, QN, QD, K, Q, NULL, NULL);
		gen_query_init(&m.g, m.p, QN, K, qs);
		for (s = 0; s <= 6; s++) {
			for (i = 0; i < QN; i++) {
				const float *q = qs + (size_t)i * m.g.sq;
				double z = 0.0;

				for (k = 0; k < m.g.sq; k++) {
					assert_true(q[k] >= 0.0f && isfinite(q[k]));
					if (k >= K)
						assert_true(q[k] == 0.0f);
					z += q[k];
				}
				assert_true(fabs(z - 1.0) < 1e-5);
			}
			gen_query_probs(&m.g, m.p, qs, QN, K, pr);
			for (i = 0; i < QN; i++) {
				double z = 0.0;

				for (k = 0; k < LINCLASS_KMAX; k++) {
					float want = qs[(size_t)i * m.g.sq + k];

					assert_true(pr[i * LINCLASS_KMAX + k] >= 0.0f);
					assert_true(fabsf(pr[i * LINCLASS_KMAX + k] - want) <
						    1e-5f);
					z += pr[i * LINCLASS_KMAX + k];
				}
				assert_true(fabs(z - 1.0) < 1e-5);
			}
			if (s == 6)
				break;
			rows(&r, 8, QD, K, X, y, NULL);
			assert_int_equal(gen_query_step(&m.g, m.p, ws, Q, QN, qs, X, y,
							NULL, 1 + s, QD, K, s * 8.0),
					 AM_OK);
		}
	}
	gen_ws_free(ws);
	model_free(&m);
}

/* ---- 4. gen_query_step checks its input ---------------------------------- */

static void test_query_step_validates(void **state)
{
	struct gen_config c;
	struct mctx m, e;
	struct gen_ws *ws, *wse;
	struct rng r;
	static float X[8 * GEN_XMAX], Q[4 * GEN_XMAX], t[8], qs[4 * GEN_SQMAX],
		     keep[4 * GEN_SQMAX], st[GEN_STATE_MAX], pr[4 * LINCLASS_KMAX];
	int y[8], K = 4, i;
	size_t bytes;

	(void)state;
	cfg_small(&c, GEN_CLF, 1, GEN_Q_LOGITS);
	model_new(&m, &c, 51, 0.3f);
	ws = gen_ws_new(&m.g, 1, c.bmax);
	assert_non_null(ws);
	rng_seed(&r, 4);
	rows(&r, 8, QD, K, X, y, t);
	rows(&r, 4, QD, K, Q, NULL, NULL);
	gen_query_init(&m.g, m.p, 4, K, qs);
	assert_int_equal(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 8, QD,
					K, 0.0), AM_OK);
	bytes = (size_t)4 * m.g.sq * sizeof *qs;
	memcpy(keep, qs, bytes);
#define REFUSED(call) do { \
		assert_int_equal((call), AM_EINVAL); \
		assert_memory_equal(qs, keep, bytes); \
	} while (0)
	y[3] = K;			/* a label out of range */
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 8, QD, K, 8.0));
	y[3] = -1;
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 8, QD, K, 8.0));
	y[3] = 0;
	/* ...also past the first B rows nothing is read: B = 3 is fine */
	y[5] = 99;
	assert_int_equal(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 3, QD,
					K, 8.0), AM_OK);
	memcpy(keep, qs, bytes);
	y[5] = 0;
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, NULL, NULL, 8, QD, K, 8.0));
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 8, QD, 1, 8.0));
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 8, QD,
			       LINCLASS_KMAX + 1, 8.0));
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 0, QD, K, 8.0));
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, c.bmax + 1, QD,
			       K, 8.0));
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 8, 0, K, 8.0));
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, 4, qs, X, y, NULL, 8, GEN_XMAX + 1,
			       K, 8.0));
	REFUSED(gen_query_step(&m.g, m.p, ws, Q, -1, qs, X, y, NULL, 8, QD, K, 8.0));
	/* n = 0: nothing to do */
	assert_int_equal(gen_query_step(&m.g, m.p, ws, Q, 0, qs, X, y, NULL, 8, QD,
					K, 8.0), AM_OK);
	assert_memory_equal(qs, keep, bytes);
	/* the explicit entry points refuse an implicit model */
	memset(st, 0, sizeof st);
	assert_int_equal(gen_step(&m.g, m.p, ws, st, X, y, 8, QD, K, 0.0, NULL,
				  NULL), AM_EINVAL);
	assert_int_equal(gen_predict_probs(&m.g, m.p, ws, st, X, 4, QD, K, pr),
			 AM_EINVAL);
	/* regression: targets required; a parametric-style step refused */
	cfg_small(&c, GEN_REG, 1, GEN_Q_LOGITS);
	model_new(&e, &c, 52, 0.3f);
	wse = gen_ws_new(&e.g, 1, c.bmax);
	assert_non_null(wse);
	gen_query_init(&e.g, e.p, 4, 0, qs);
	memcpy(keep, qs, (size_t)4 * e.g.sq * sizeof *qs);
	bytes = (size_t)4 * e.g.sq * sizeof *qs;
	REFUSED(gen_query_step(&e.g, e.p, wse, Q, 4, qs, X, NULL, NULL, 8, QD, 0,
			       0.0));
	REFUSED(gen_query_step(&e.g, e.p, wse, Q, 4, qs, X, NULL, t, 8, GEN_XMAX + 1,
			       0, 0.0));
	assert_int_equal(gen_step_reg(&e.g, e.p, wse, st, X, t, 8, QD, 0.0, NULL,
				      NULL), AM_EINVAL);
	assert_int_equal(gen_query_step(&e.g, e.p, wse, Q, 4, qs, X, NULL, t, 8, QD,
					0, 0.0), AM_OK);
	for (i = 0; i < 4; i++)
		assert_true(isfinite(qs[i]));
#undef REFUSED
	gen_ws_free(wse);
	model_free(&e);
	/* an explicit model refuses the query entry point */
	cfg_small(&c, GEN_REG, 0, GEN_Q_LOGITS);
	model_new(&e, &c, 53, 0.3f);
	wse = gen_ws_new(&e.g, 1, c.bmax);
	assert_non_null(wse);
	assert_int_equal(gen_query_step(&e.g, e.p, wse, Q, 4, qs, X, NULL, t, 8, QD,
					0, 0.0), AM_EINVAL);
	gen_ws_free(wse);
	model_free(&e);
	gen_ws_free(ws);
	model_free(&m);
}

/* ---- 5. meta-training lowers the held-out loss --------------------------- */

static void tiny(struct gentrain_config *c, enum gen_kind kind, int implicit,
		 enum gen_qstate qs)
{
	gentrain_config_default(c, kind);
	c->gen.C = 16;
	c->gen.H = 2;
	c->gen.L = 2;
	c->gen.bmax = 16;
	c->gen.ksteps = 8;
	c->gen.Z = implicit ? 8 : 16;
	c->gen.vH = 32;
	c->gen.vL = 2;
	c->gen.regime = implicit ? GEN_IMPLICIT : GEN_EXPLICIT;
	c->gen.qstate = qs;
	c->gen.nq = 16;
	if (implicit)
		c->gen.variant = GEN_OBS;
	c->tasks.cfam.dmax = 4;	/* K up to 10, few inputs: learnt quickly */
	c->tasks.rfam.dmax = 8;
	c->pop = 32;
	c->chunk = 8;
	c->nq = 16;
	c->iters = 150;
	c->lr = 3e-3f;
	c->lr_min = 3e-4f;
	c->warmup = 10;
	c->shards = 2;
}

/* The mean held-out loss (cross-entropy, or half the squared error) of
 * 200 rows per task after k steps of 16 rows, over 30 tasks of the
 * training family. */
static double loss_after(const struct train *t, const struct gentrain_config *c,
			 int k, uint64_t seed)
{
	enum { NT = 30, NH = 200, BB = 16 };
	const struct gen *g = tu_gen(t);
	const float *p = train_params(t);
	struct gen_ws *ws = gen_ws_new(g, 1, BB);
	static float X[BB * GEN_XMAX], tg[BB], Q[NH * GEN_XMAX], Qt[NH], mean[NH],
		     qs[NH * GEN_SQMAX], s[GEN_STATE_MAX];
	int y[BB], Qy[NH], clf = g->cfg.kind == GEN_CLF, task, i;
	struct rng r;
	double sum = 0.0;

	assert_non_null(ws);
	rng_seed(&r, seed);
	for (task = 0; task < NT; task++) {
		struct source_task tk;

		source_draw(&c->tasks, &r, &tk);
		if (clf)
			source_sample(&c->tasks, &tk, &r, NH, Q, Qy);
		else
			source_sample_reg(&c->tasks, &tk, &r, NH, Q, Qt);
		if (g->cfg.regime == GEN_IMPLICIT)
			gen_query_init(g, p, NH, tk.K, qs);
		else
			gen_initial_state(g, p, s);
		for (i = 0; i < k; i++) {
			if (clf)
				source_sample(&c->tasks, &tk, &r, BB, X, y);
			else
				source_sample_reg(&c->tasks, &tk, &r, BB, X, tg);
			if (g->cfg.regime == GEN_IMPLICIT)
				assert_int_equal(gen_query_step(g, p, ws, Q, NH, qs, X,
								clf ? y : NULL,
								clf ? NULL : tg, BB,
								tk.D, tk.K, i * (double)BB),
						 AM_OK);
			else
				assert_int_equal(gen_step_reg(g, p, ws, s, X, tg, BB, tk.D,
							      i * (double)BB, NULL, NULL),
						 AM_OK);
		}
		if (g->cfg.regime == GEN_IMPLICIT) {
			sum += gen_query_loss(g, p, qs, NH, tk.K, clf ? Qy : NULL,
					      clf ? NULL : Qt);
			continue;
		}
		/* explicit: the predictor's means, and the training loss agrees */
		{
			double l = 0.0, ls;

			assert_int_equal(gen_predict_mean(g, p, ws, s, Q, NH, mean), AM_OK);
			for (i = 0; i < NH; i++)
				l += 0.5 * (mean[i] - Qt[i]) * (mean[i] - Qt[i]);
			l /= NH;
			ls = gen_state_loss(g, p, NULL, ws, s,
					    &(struct gen_rows){ Q, NULL, Qt, NH, 0, 0 },
					    NULL, 1.0f, NULL);
			assert_true(fabs(l - ls) <= 1e-4 * (1.0 + l));
			sum += l;
		}
	}
	gen_ws_free(ws);
	return sum / NT;
}

static void trains(enum gen_kind kind, int implicit, enum gen_qstate qs)
{
	struct gentrain_config c;
	struct train *t;
	double before, after, loss;
	char err[160];

	tiny(&c, kind, implicit, qs);
	t = train_new(&fam_gen, &c, err, sizeof err);
	if (!t)
		fail_msg("%s", err);
	before = loss_after(t, &c, 4, 21);
	tu_gentrain_run(t, c.shards, c.iters, &loss);
	after = loss_after(t, &c, 4, 21);
	print_message("%s %s (state %d): held-out loss after 4 steps: untrained "
		      "%.3f, trained %.3f\n", implicit ? "implicit" : "explicit",
		      kind == GEN_CLF ? "classification" : "regression", (int)qs,
		      before, after);
	assert_true(isfinite(after) && after < 0.95 * before);
	train_free(t);
}

static void test_trains_clf_logits(void **state)
{
	(void)state;
	trains(GEN_CLF, 1, GEN_Q_LOGITS);
}

static void test_trains_clf_probs(void **state)
{
	(void)state;
	trains(GEN_CLF, 1, GEN_Q_PROBS);
}

static void test_trains_clf_latent(void **state)
{
	(void)state;
	trains(GEN_CLF, 1, GEN_Q_LATENT);
}

static void test_trains_reg_implicit(void **state)
{
	(void)state;
	trains(GEN_REG, 1, GEN_Q_LOGITS);
	trains(GEN_REG, 1, GEN_Q_LATENT);
}

static void test_trains_reg_explicit(void **state)
{
	(void)state;
	trains(GEN_REG, 0, GEN_Q_LOGITS);
}

/* ---- 6. checkpoints resume bit-identically ------------------------------- */

static void resumes(enum gen_kind kind, int implicit, enum gen_qstate qs)
{
	struct gentrain_config c;

	tiny(&c, kind, implicit, qs);
	c.gen.passes = 2;		/* mid-step passes in the checkpoint */
	c.iters = 12;
	tu_gentrain_resumes(&c, 5);
}

static void test_resume_implicit(void **state)
{
	(void)state;
	resumes(GEN_CLF, 1, GEN_Q_PROBS);
	resumes(GEN_CLF, 1, GEN_Q_LATENT);
	resumes(GEN_REG, 1, GEN_Q_LOGITS);
}

static void test_resume_reg_explicit(void **state)
{
	(void)state;
	resumes(GEN_REG, 0, GEN_Q_LOGITS);
}

/* ---- 7. the session contract (amz.h) ------------------------------------- */

/* The struct amz model_load makes of a gen model (model/model.c): the
 * kind's table binds a model object holding m's refiner. */
static void amz_of(struct amz *a, struct fam_gen_model *gm, const struct mctx *m)
{
	int clf = m->g.cfg.kind == GEN_CLF;

	memset(gm, 0, sizeof *gm);
	memset(a, 0, sizeof *a);
	gm->cfg.gen = m->g.cfg;
	gm->cfg.tasks.src = clf ? SOURCE_LINCLASS : SOURCE_LINREG;
	gm->cfg.tasks.cfam.kmax = LINCLASS_KMAX;
	gm->g = m->g;
	(clf ? &fam_clf : &fam_reg)->bind(gm, a);
	a->p = m->p;
}

enum { AN = 7, AB = 8, AD = 5, AK = 4, ABATCH = 3 };

static void amz_implicit(enum gen_kind kind, enum gen_qstate qst)
{
	struct gen_config c;
	struct mctx m;
	struct amz a;
	struct fam_gen_model gm;
	struct amz_ws *aws;
	struct gen_ws *gws;
	struct rng r;
	static float X[ABATCH][AB * GEN_XMAX], yf[ABATCH][AB], t[ABATCH][AB],
		     Q[AN * GEN_XMAX], Qt[AN], Qyf[AN], qa[AN * GEN_SQMAX],
		     qg[AN * GEN_SQMAX], keep[AN * GEN_SQMAX],
		     pa[AN * AMZ_CLASSES_MAX], pg[AN * LINCLASS_KMAX], st[4], st0[4],
		     mean[AN];
	int y[ABATCH][AB], Qy[AN], Bs[ABATCH] = { AB, 5, AB };
	int clf = kind == GEN_CLF, K = clf ? AK : 0, b, i;
	float lb = 7.0f, la = 7.0f, bad;
	double rows_seen = 0.0;
	size_t bytes;

	cfg_small(&c, kind, 1, qst);
	model_new(&m, &c, 61, 0.3f);
	amz_of(&a, &gm, &m);
	aws = amz_ws_new(&a);
	gws = gen_ws_new(&m.g, 1, c.bmax);
	assert_non_null(aws);
	assert_non_null(gws);
	rng_seed(&r, 6);
	for (b = 0; b < ABATCH; b++) {
		rows(&r, AB, AD, K, X[b], y[b], t[b]);
		for (i = 0; i < AB; i++)
			yf[b][i] = clf ? (float)y[b][i] : t[b][i];
	}
	rows(&r, AN, AD, K, Q, Qy, Qt);
	for (i = 0; i < AN; i++)
		Qyf[i] = clf ? (float)Qy[i] : Qt[i];
	/* a session's state is its settings only */
	assert_int_equal(a.nstate, 1);
	amz_initial_state(&a, st);
	if (clf) {
		assert_true(st[0] == (float)LINCLASS_KMAX);
		assert_int_equal(amz_set_classes(&a, st, K), AM_OK);
		assert_int_equal(amz_classes(&a, st), K);
	}
	memcpy(st0, st, sizeof st);
	/* amz_step checks the batch and keeps nothing */
	assert_int_equal(amz_step(&a, aws, st, X[0], yf[0], AB, AD, 0.0, &lb, &la),
			 AM_OK);
	assert_true(lb == 0.0f && la == 0.0f);
	assert_memory_equal(st, st0, sizeof st);
	bad = yf[0][2];
	yf[0][2] = clf ? (float)K : NAN;
	assert_int_equal(amz_step(&a, aws, st, X[0], yf[0], AB, AD, 0.0, NULL, NULL),
			 AM_EINVAL);
	yf[0][2] = bad;
	assert_int_equal(amz_step(&a, aws, st, X[0], yf[0], AB + 1, AD, 0.0, NULL,
				  NULL), AM_EINVAL);
	assert_int_equal(amz_step(&a, aws, st, X[0], NULL, AB, AD, 0.0, NULL, NULL),
			 AM_EINVAL);
	/* replay through the contract = the family directly, bit for bit */
	assert_int_equal(amz_query_init(&a, st, AN, qa), AM_OK);
	gen_query_init(&m.g, m.p, AN, K, qg);
	bytes = (size_t)AN * m.g.sq * sizeof *qa;
	assert_memory_equal(qa, qg, bytes);
	for (b = 0; b < ABATCH; b++) {
		assert_int_equal(amz_query_step(&a, aws, st, Q, AN, qa, X[b], yf[b],
						Bs[b], AD, rows_seen), AM_OK);
		assert_int_equal(gen_query_step(&m.g, m.p, gws, Q, AN, qg, X[b],
						clf ? y[b] : NULL, clf ? NULL : t[b],
						Bs[b], AD, K, rows_seen), AM_OK);
		assert_memory_equal(qa, qg, bytes);
		rows_seen += Bs[b];
	}
	/* a refused step leaves the query states alone */
	memcpy(keep, qa, bytes);
	bad = yf[1][0];
	yf[1][0] = clf ? 0.5f : INFINITY;
	assert_int_equal(amz_query_step(&a, aws, st, Q, AN, qa, X[1], yf[1], AB, AD,
					rows_seen), AM_EINVAL);
	yf[1][0] = bad;
	assert_int_equal(amz_query_step(&a, aws, st, Q, AN, qa, X[1], yf[1], AB,
					AMZ_DMAX + 1, rows_seen), AM_EINVAL);
	assert_memory_equal(qa, keep, bytes);
	/* predictions and losses */
	if (clf) {
		assert_int_equal(amz_query_probs(&a, st, qa, AN, pa), AM_OK);
		gen_query_probs(&m.g, m.p, qg, AN, K, pg);
		assert_memory_equal(pa, pg, sizeof pg);
		assert_int_equal(amz_query_mean(&a, st, qa, AN, mean), AM_EINVAL);
	} else {
		float mg[AN];

		assert_int_equal(amz_query_mean(&a, st, qa, AN, mean), AM_OK);
		gen_query_mean(&m.g, m.p, qg, AN, mg);
		assert_memory_equal(mean, mg, sizeof mg);
		assert_int_equal(amz_query_probs(&a, st, qa, AN, pa), AM_EINVAL);
	}
	assert_true(amz_query_loss(&a, st, qa, Qyf, AN) ==
		    (float)gen_query_loss(&m.g, m.p, qg, AN, K, Qy, Qt));
	bad = Qyf[3];
	Qyf[3] = clf ? -1.0f : NAN;
	assert_true(isnan(amz_query_loss(&a, st, qa, Qyf, AN)));
	Qyf[3] = bad;
	/* the explicit entry points refuse an implicit model */
	assert_int_equal(amz_predict(&a, st, Q, AN, AD, mean, NULL), AM_EINVAL);
	assert_int_equal(amz_predict_probs(&a, st, Q, AN, AD, pa), AM_EINVAL);
	gen_ws_free(gws);
	amz_ws_free(aws);
	model_free(&m);
}

static void test_amz_implicit(void **state)
{
	(void)state;
	amz_implicit(GEN_CLF, GEN_Q_LOGITS);
	amz_implicit(GEN_CLF, GEN_Q_PROBS);
	amz_implicit(GEN_CLF, GEN_Q_LATENT);
	amz_implicit(GEN_REG, GEN_Q_LOGITS);
	amz_implicit(GEN_REG, GEN_Q_LATENT);
}

/* Explicit regression through the contract: steps and means as the family
 * computes them; no query entry points, no variance. */
static void test_amz_reg_explicit(void **state)
{
	struct gen_config c;
	struct mctx m;
	struct amz a;
	struct fam_gen_model gm;
	struct amz_ws *aws;
	struct gen_ws *gws;
	struct rng r;
	static float X[AB * GEN_XMAX], t[AB], Q[AN * GEN_XMAX], sa[GEN_STATE_MAX],
		     sg[GEN_STATE_MAX], ma[AN], mg[AN], var[AN], qs[AN * GEN_SQMAX];
	float lba, laa, lbg, lag;
	int b;

	(void)state;
	cfg_small(&c, GEN_REG, 0, GEN_Q_LOGITS);
	model_new(&m, &c, 71, 0.3f);
	amz_of(&a, &gm, &m);
	aws = amz_ws_new(&a);
	gws = gen_ws_new(&m.g, 1, c.bmax);
	assert_non_null(aws);
	assert_non_null(gws);
	rng_seed(&r, 7);
	rows(&r, AN, AD, 0, Q, NULL, NULL);
	amz_initial_state(&a, sa);
	gen_initial_state(&m.g, m.p, sg);
	assert_memory_equal(sa, sg, (size_t)m.g.nstate * sizeof *sa);
	for (b = 0; b < 3; b++) {
		rows(&r, AB, AD, 0, X, NULL, t);
		assert_int_equal(amz_step(&a, aws, sa, X, t, AB, AD, b * (double)AB,
					  &lba, &laa), AM_OK);
		assert_int_equal(gen_step_reg(&m.g, m.p, gws, sg, X, t, AB, AD,
					      b * (double)AB, &lbg, &lag), AM_OK);
		assert_memory_equal(sa, sg, (size_t)m.g.nstate * sizeof *sa);
		assert_true(lba == lbg && laa == lag && isfinite(laa));
	}
	assert_int_equal(amz_predict(&a, sa, Q, AN, AD, ma, NULL), AM_OK);
	assert_int_equal(gen_predict_mean(&m.g, m.p, gws, sg, Q, AN, mg), AM_OK);
	assert_memory_equal(ma, mg, sizeof mg);
	assert_int_equal(amz_predict(&a, sa, Q, AN, AD, ma, var), AM_EINVAL);
	assert_int_equal(amz_predict_probs(&a, sa, Q, AN, AD, ma), AM_EINVAL);
	assert_int_equal(amz_query_init(&a, sa, AN, qs), AM_EINVAL);
	assert_int_equal(amz_query_step(&a, aws, sa, Q, AN, qs, X, t, AB, AD, 0.0),
			 AM_EINVAL);
	assert_true(isnan(amz_query_loss(&a, sa, qs, t, AN)));
	t[1] = NAN;
	assert_int_equal(amz_step(&a, aws, sa, X, t, AB, AD, 0.0, NULL, NULL),
			 AM_EINVAL);
	gen_ws_free(gws);
	amz_ws_free(aws);
	model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grad_clf_logits),
		cmocka_unit_test(test_grad_clf_probs),
		cmocka_unit_test(test_grad_clf_latent),
		cmocka_unit_test(test_grad_reg_mean),
		cmocka_unit_test(test_grad_reg_latent),
		cmocka_unit_test(test_grad_reg_explicit),
		cmocka_unit_test(test_grad_clf_explicit),
		cmocka_unit_test(test_head_probs_match_loss),
		cmocka_unit_test(test_query_independence),
		cmocka_unit_test(test_probs_simplex),
		cmocka_unit_test(test_query_step_validates),
		cmocka_unit_test(test_trains_clf_logits),
		cmocka_unit_test(test_trains_clf_probs),
		cmocka_unit_test(test_trains_clf_latent),
		cmocka_unit_test(test_trains_reg_implicit),
		cmocka_unit_test(test_trains_reg_explicit),
		cmocka_unit_test(test_resume_implicit),
		cmocka_unit_test(test_resume_reg_explicit),
		cmocka_unit_test(test_amz_implicit),
		cmocka_unit_test(test_amz_reg_explicit),
	};

	gemm_set_threads(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
