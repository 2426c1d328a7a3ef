/*
 * gen.c - the set refiner the kinds share (gen.h): the configuration, the
 * parameters, workspaces, a pass over many sequences and its backward, a
 * session's step, the ways of classification and regression (explicit,
 * parametric, implicit: the others are in their kinds' files, see
 * gen_way.h), sampling, and the task sources.
 */
#include "family/gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/gen_way.h"


static const struct gen_way *way_of(const struct gen_config *c);

/* The explicit regime's predictor network: f(x, z) -> K logits or a
 * mean, or, for the head predictor, h(x) -> Z features (no latent input). */
static void predictor_config(const struct gen_config *c, struct mlp_config *mc)
{
	mc->X = LINCLASS_DMAX;
	mc->Z = c->head ? 0 : c->Z;
	mc->O = c->head ? c->Z : c->kind == GEN_CLF ? LINCLASS_KMAX : 1;
	mc->H = c->vH;
	mc->L = c->vL;
}

int gen_config_check(const struct gen_config *c, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (c->kind != GEN_MOG && c->kind != GEN_FLOW && c->kind != GEN_CLF &&
	    c->kind != GEN_REG)
		bad = "kind must be mog, flow, clf or reg";
	else if (c->variant != GEN_OBS && c->variant != GEN_GRAD &&
		 c->variant != GEN_BOTH)
		bad = "variant must be obs, grad or both";
	else if (c->bmax < 1 || c->bmax > GEN_BMAX)
		bad = "batch must be in [1, 256]";
	else if (c->ksteps < 1 || c->ksteps > 4096)
		bad = "steps must be in [1, 4096]";
	else if (c->regime != GEN_PARAMETRIC && c->regime != GEN_EXPLICIT &&
		 c->regime != GEN_IMPLICIT)
		bad = "a model is parametric, explicit or implicit";
	else if (c->kind == GEN_MOG && c->regime != GEN_PARAMETRIC)
		bad = "a mixture model is parametric";
	else if (c->kind == GEN_FLOW && c->regime != GEN_EXPLICIT)
		bad = "a flow model is explicit";
	else if (c->kind == GEN_REG && c->regime == GEN_PARAMETRIC)
		bad = "parametric regression is the linreg family";
	else if (c->regime == GEN_EXPLICIT &&
		 (c->Z < GEN_ZTOK || c->Z % GEN_ZTOK ||
		  c->Z > GEN_ZTOK * SETREF_TOKENS_MAX))
		bad = "latent must be a multiple of 8 in [8, 256]";
	else if (c->kind == GEN_FLOW &&
		 (c->flow_steps < 1 || c->flow_steps > VELO_STEPS_MAX))
		bad = "flow steps must be in [1, 1024]";
	else if ((c->head != 0 && c->head != 1) ||
		 (c->head && (!gen_has_predictor(c) || c->kind != GEN_CLF)))
		bad = "the head predictor is for explicit classification";
	else if (c->head && c->Z > MLP_OMAX)
		bad = "the head predictor's latent per class must be 8 or 16";
	else if (c->regime == GEN_IMPLICIT && c->qstate != GEN_Q_LOGITS &&
		 c->qstate != GEN_Q_PROBS && c->qstate != GEN_Q_LATENT)
		bad = "the implicit state must be logits, probs or latent";
	else if (c->regime == GEN_IMPLICIT && c->qstate == GEN_Q_PROBS &&
		 c->kind != GEN_CLF)
		bad = "a probabilities state is for classification";
	else if (c->regime == GEN_IMPLICIT && c->qstate == GEN_Q_LATENT &&
		 (c->Z < 1 || c->Z > GEN_SQMAX))
		bad = "an implicit latent must have 1 to 32 floats";
	else if (c->regime == GEN_IMPLICIT &&
		 (c->nq < 1 || c->nq > SETREF_QUERIES_MAX ||
				  c->nq * gen_query_floats(c) > GEN_STATE_MAX))
		bad = "queries must be in [1, 256] with at most 1024 state floats";
	else if (c->regime == GEN_IMPLICIT && c->variant != GEN_OBS)
		bad = "the implicit regime learns from observations only "
		      "(variant obs)";
	if (!bad && c->kind == GEN_FLOW) {
		struct velo_config vc = { c->Z, c->vH, c->vL };

		if (velo_config_check(&vc, err, errlen) != AM_OK)
			return AM_EINVAL;
	}
	if (!bad && gen_has_predictor(c)) {
		struct mlp_config mc;

		predictor_config(c, &mc);
		if (mlp_config_check(&mc, err, errlen) != AM_OK)
			return AM_EINVAL;
	}
	if (!bad) {
		struct setref_config sc = { c->C, c->H, c->L, 1, 1, 1, 1,
					    c->passes, 1 };

		return setref_config_check(&sc, err, errlen);
	}
	return am_check(bad, err, errlen);
}

/* The refiner over the way's state tokens (sc filled) and the learned
 * initial state: the end of every way's init but the implicit one's. */
int gen_state_init(struct gen *g, struct layout *params,
		   struct setref_config *sc)
{
	int rc = setref_init(&g->sr, params, "gen.ref", sc);

	if (rc != AM_OK)
		return rc;
	g->init = layout_add1(params, "gen.init", g->nstate);
	return g->init == (size_t)-1 ? AM_ENOMEM : AM_OK;
}

/* The explicit classifiers and regression: the predictor network, then a
 * latent in tokens of 8 (per class for the head predictor); the way set
 * its tokens' sizes sc->fs and sc->fo. */
int gen_explicit_init(struct gen *g, struct layout *params,
		      struct setref_config *sc)
{
	const struct gen_config *c = &g->cfg;
	struct mlp_config mc;
	int rc;

	predictor_config(c, &mc);
	g->nstate = c->head ? LINCLASS_KMAX * c->Z : c->Z;
	sc->nst = c->head ? LINCLASS_KMAX : c->Z / GEN_ZTOK;
	sc->sd = c->head ? c->Z : GEN_ZTOK;
	rc = mlp_init(&g->f, params, "gen.f", &mc);
	return rc != AM_OK ? rc : gen_state_init(g, params, sc);
}

int gen_init(struct gen *g, struct layout *params, const struct gen_config *c)
{
	struct setref_config sc;

	if (gen_config_check(c, NULL, 0) != AM_OK)
		return AM_EINVAL;
	memset(g, 0, sizeof *g);
	g->cfg = *c;
	g->way = way_of(c);
	g->dx = c->kind == GEN_CLF || c->kind == GEN_REG ? GEN_XMAX : GEN_DMAX;
	sc.C = c->C;
	sc.H = c->H;
	sc.L = c->L;
	sc.passes = c->passes;
	sc.skip = c->variant != GEN_OBS;
	return g->way->init(g, params, &sc);
}

/* The ways' own parameters (after the refiner's): the learned initial
 * state and the networks beside the refiner. */

/* z = 0; the predictor network. */
void gen_explicit_params(const struct gen *g, float *p, struct rng *r)
{
	memset(p + g->init, 0, (size_t)g->nstate * sizeof *p);
	mlp_init_params(&g->f, p, r);
}

void gen_init_params(const struct gen *g, float *p, struct rng *r)
{
	setref_init_params(&g->sr, p, r);
	g->way->params(g, p, r);
}

void gen_initial_state(const struct gen *g, const float *p, float *state)
{
	memcpy(state, p + g->init, (size_t)g->nstate * sizeof *state);
}

void gen_ws_free(struct gen_ws *ws)
{
	if (!ws)
		return;
	setref_ws_free(ws->sr);
	velo_ws_free(ws->ve);
	mlp_ws_free(ws->mw);
	free(ws->resp);
	free(ws->grad);
	free(ws->zrow);
	free(ws->dz);
	free(ws->x0);
	free(ws->t);
	free(ws->w);
	free(ws->Drow);
	free(ws->qout);
	free(ws->qd);
	free(ws->qK);
	free(ws);
}

struct gen_ws *gen_ws_new(const struct gen *g, int max_seq, int max_rows)
{
	struct gen_ws *ws;
	size_t Z = (size_t)(g->cfg.regime == GEN_EXPLICIT ? g->cfg.Z : 1);
	size_t R = (size_t)(max_rows > GEN_QMAX ? max_rows : GEN_QMAX);

	if (max_seq < 1 || max_rows < 1 || max_rows > GEN_BMAX)
		return NULL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	ws->max_seq = max_seq;
	ws->max_rows = max_rows;
	ws->sr = setref_ws_new(&g->sr, max_seq, max_rows);
	ws->resp = calloc((size_t)max_rows * LINCLASS_KMAX, sizeof(float));
	ws->grad = calloc(GEN_STATE_MAX, sizeof(float));
	ws->zrow = calloc(R * Z, sizeof(float));
	ws->dz = calloc(R * Z, sizeof(float));
	ws->x0 = calloc(R * GEN_DMAX, sizeof(float));
	ws->t = calloc(R, sizeof(float));
	ws->w = calloc(R, sizeof(float));
	ws->Drow = calloc(R, sizeof(int));
	ws->qout = calloc((size_t)max_seq * g->nstate, sizeof(float));
	ws->qd = calloc((size_t)max_seq * g->nstate, sizeof(float));
	ws->qK = calloc((size_t)max_seq, sizeof(int));
	if (g->cfg.kind == GEN_FLOW)
		ws->ve = velo_ws_new(&g->ve, 512);
	if (gen_has_predictor(&g->cfg))
		ws->mw = mlp_ws_new(&g->f, 512);
	if (!ws->sr || !ws->resp || !ws->grad || !ws->zrow || !ws->dz || !ws->x0 ||
	    !ws->t || !ws->w || !ws->Drow || !ws->qout || !ws->qd || !ws->qK ||
	    (g->cfg.kind == GEN_FLOW && !ws->ve) ||
	    (gen_has_predictor(&g->cfg) && !ws->mw)) {
		gen_ws_free(ws);
		return NULL;
	}
	return ws;
}

/* Counters and pass, shared by both kinds' state tokens. */
void gen_counters(const struct gen *g, const struct gen_input *in,
		  float gain, float *f)
{
	double rows_k = (double)g->cfg.bmax * g->cfg.ksteps;

	f[0] = fmaxf(gain, 1.0f / (float)g->cfg.ksteps);
	f[1] = (float)fmin(log1p(in->rows_seen) / log1p(rows_k), 1.0);
	f[2] = fminf((float)in->B / (float)g->cfg.bmax, 1.0f);
	f[3 + in->pass] = 1.0f;
}

/* The state tokens of a latent z in chunks of GEN_ZTOK (explicit
 * classification and regression): z, its batch gradient (in ws->grad, the
 * skip direction unless the variant is obs), active inputs and classes,
 * counters and pass. */
void gen_latent_tokens(const struct gen *g, struct gen_ws *ws, int i,
		       const struct gen_input *in, float gain)
{
	int nst = g->cfg.Z / GEN_ZTOK, k, j;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);

	memset(fs, 0, (size_t)nst * GEN_FS_LATENT * sizeof *fs);
	for (k = 0; k < nst; k++) {
		float *f = fs + k * GEN_FS_LATENT;

		for (j = 0; j < GEN_ZTOK; j++) {
			float gz = ws->grad[k * GEN_ZTOK + j];

			dir[k * GEN_ZTOK + j] = g->cfg.variant != GEN_OBS ? gz : 0.0f;
			am[k * GEN_ZTOK + j] = 1.0f;
			f[j] = clampf(in->state[k * GEN_ZTOK + j], -20.0f, 20.0f);
			f[GEN_ZTOK + j] = g->cfg.variant != GEN_OBS ?
					  clampf(gz, -10.0f, 10.0f) : 0.0f;
		}
		for (j = 0; j < LINCLASS_DMAX; j++)
			f[2 * GEN_ZTOK + j] = j < in->D ? 1.0f : 0.0f;
		for (j = 0; j < LINCLASS_KMAX; j++)
			f[2 * GEN_ZTOK + LINCLASS_DMAX + j] = j < in->K ? 1.0f : 0.0f;
		gen_counters(g, in, gain, f + 2 * GEN_ZTOK + LINCLASS_DMAX + LINCLASS_KMAX);
	}
}

/* ---- picking the way (struct gen_way) ------------------------------------ */

void gen_scale(float *d, int n, float w)
{
	int j;

	for (j = 0; j < n; j++)
		d[j] *= w;
}

static const struct gen_way *way_of(const struct gen_config *c)
{
	if (c->regime == GEN_IMPLICIT)
		return &gen_way_implicit;
	switch (c->kind) {
	case GEN_MOG: return &gen_way_mog;
	case GEN_FLOW: return &gen_way_flow;
	case GEN_REG: return &gen_way_reg;
	case GEN_CLF: break;
	}
	if (c->head)
		return &gen_way_clf_head;
	return gen_has_predictor(c) ? &gen_way_clf_mlp : &gen_way_clf;
}

int gen_forward(const struct gen *g, const float *p, struct gen_ws *ws,
		int ns, const struct gen_input *in, float *next,
		float *batch_loss)
{
	int probs = g->cfg.regime == GEN_IMPLICIT && g->cfg.qstate == GEN_Q_PROBS;
	int i, j, rc;

	AM_ASSERT(ns >= 1 && ns <= ws->max_seq);
	for (i = 0; i < ns; i++) {
		float gain, l;

		AM_ASSERT(in[i].B >= 1 && in[i].B <= ws->max_rows);
		AM_ASSERT(in[i].D >= 1 && in[i].D <= g->dx);
		AM_ASSERT(in[i].pass >= 0 && in[i].pass < g->cfg.passes);
		gain = (float)(in[i].B / (in[i].rows_seen + in[i].B));
		if (g->cfg.kind == GEN_CLF)
			AM_ASSERT(in[i].y && in[i].K >= 1 && in[i].K <= LINCLASS_KMAX);
		if (g->cfg.kind == GEN_REG)
			AM_ASSERT(in[i].t);
		l = g->way->features(g, p, ws, i, &in[i], gain, batch_loss != NULL);
		if (batch_loss)
			batch_loss[i] = l;
		setref_set(ws->sr, i, in[i].B, in[i].pass, gain);
	}
	/* setref reads state token after token: every layout is that */
	for (i = 0; i < ns; i++) {
		float *nx = next + (size_t)i * g->nstate;

		memcpy(nx, in[i].state, (size_t)g->nstate * sizeof *next);
		if (probs)
			for (j = 0; j < in[i].nq; j++)
				gen_probs_to_log(in[i].state + (size_t)j * g->sq,
					     in[i].K, nx + (size_t)j * g->sq);
	}
	rc = setref_forward(&g->sr, p, ws->sr, ns, next, next);
	ws->nseq = ns;
	if (rc != AM_OK || !probs)
		return rc;
	/* probabilities: the refiner moved their logarithms */
	for (i = 0; i < ns; i++) {
		float *nx = next + (size_t)i * g->nstate;
		float *qo = ws->qout + (size_t)i * g->nstate;

		for (j = 0; j < in[i].nq; j++) {
			gen_softmax_k(nx + (size_t)j * g->sq, in[i].K, qo + (size_t)j * g->sq);
			memcpy(nx + (size_t)j * g->sq, qo + (size_t)j * g->sq,
			       (size_t)g->sq * sizeof *nx);
		}
		/* inactive slots: their input states, as setref copied them */
		memcpy(nx + (size_t)in[i].nq * g->sq,
		       in[i].state + (size_t)in[i].nq * g->sq,
		       (size_t)(g->cfg.nq - in[i].nq) * g->sq * sizeof *nx);
	}
	return AM_OK;
}

void gen_backward(const struct gen *g, const float *p, float *dp,
		  struct gen_ws *ws, const float *dnext)
{
	int i, j, k;

	if (!(g->cfg.regime == GEN_IMPLICIT && g->cfg.qstate == GEN_Q_PROBS)) {
		setref_backward(&g->sr, p, dp, ws->sr, dnext);
		return;
	}
	/* through the softmax: du_k = q_k (dq_k - sum_l q_l dq_l) */
	for (i = 0; i < ws->nseq; i++) {
		for (j = 0; j < g->cfg.nq; j++) {
			size_t o = (size_t)i * g->nstate + (size_t)j * g->sq;
			const float *q = ws->qout + o, *dq = dnext + o;
			float *du = ws->qd + o;
			double dot = 0.0;
			int K = ws->qK[i];

			for (k = 0; k < K; k++)
				dot += (double)q[k] * dq[k];
			for (k = 0; k < g->sq; k++)
				du[k] = k < K ? (float)(q[k] * (dq[k] - dot)) : 0.0f;
		}
	}
	setref_backward(&g->sr, p, dp, ws->sr, ws->qd);
}

double gen_state_loss(const struct gen *g, const float *p, float *dp,
		      struct gen_ws *ws, const float *state,
		      const struct gen_rows *q, struct rng *r, float w,
		      float *dstate)
{
	AM_ASSERT(q->n >= 1);
	return g->way->loss(g, p, dp, ws, state, q, r, w, dstate);
}

/* Checks a session batch's sizes, labels (clf) and targets (reg). */
static int batch_ok(const struct gen *g, const struct gen_ws *ws,
		    const int *y, const float *t, int B, int D, int K)
{
	int k;

	if (B < 1 || B > ws->max_rows || D < 1 || D > g->dx)
		return 0;
	if (g->cfg.kind == GEN_CLF) {
		if (!y || K < 2 || K > LINCLASS_KMAX)
			return 0;
		for (k = 0; k < B; k++)
			if (y[k] < 0 || y[k] >= K)
				return 0;
	}
	return g->cfg.kind != GEN_REG || t != NULL;
}

/* The input of one pass of a session's step on one batch. */
static void batch_input(struct gen_input *in, const float *state,
			const float *X, const int *y, const float *t, int B,
			int D, int K, double rows_seen, int pass)
{
	memset(in, 0, sizeof *in);
	in->state = state;
	in->X = X;
	in->y = y;
	in->t = t;
	in->B = B;
	in->D = D;
	in->K = K;
	in->rows_seen = rows_seen;
	in->pass = pass;
	in->seed = gen_step_seed(rows_seen, pass);
}

int gen_query_step(const struct gen *g, const float *p, struct gen_ws *ws,
		   const float *Q, int n, float *qs, const float *X,
		   const int *y, const float *t, int B, int D, int K,
		   double rows_seen)
{
	float *cur, *nx;
	int c, k, j, rc = AM_OK, cap = g->cfg.nq;

	if (g->cfg.regime != GEN_IMPLICIT || n < 0 ||
	    !batch_ok(g, ws, y, t, B, D, K))
		return AM_EINVAL;
	if (n == 0)
		return AM_OK;
	cur = malloc((size_t)g->nstate * sizeof *cur);
	nx = malloc(((size_t)n * g->sq + (size_t)g->nstate) * sizeof *nx);
	if (!cur || !nx) {
		free(cur);
		free(nx);
		return AM_ENOMEM;
	}
	/* nx: the refined states of all n queries, then one chunk's scratch */
	for (c = 0; c < n && rc == AM_OK; c += cap) {
		int m = n - c < cap ? n - c : cap;
		float *out = nx + (size_t)c * g->sq;

		memset(cur, 0, (size_t)g->nstate * sizeof *cur);
		memcpy(cur, qs + (size_t)c * g->sq, (size_t)m * g->sq * sizeof *cur);
		for (k = 0; k < g->cfg.passes && rc == AM_OK; k++) {
			struct gen_input in;
			float *tmp = nx + (size_t)n * g->sq;

			batch_input(&in, cur, X, y, t, B, D, K, rows_seen, k);
			in.Q = Q + (size_t)c * GEN_XMAX;
			in.nq = m;
			rc = gen_forward(g, p, ws, 1, &in, tmp, NULL);
			if (rc == AM_OK)
				memcpy(cur, tmp, (size_t)g->nstate * sizeof *cur);
		}
		for (j = 0; j < m * g->sq && rc == AM_OK; j++)
			if (!isfinite(cur[j]))
				rc = AM_ENUMERIC;
		memcpy(out, cur, (size_t)m * g->sq * sizeof *out);
	}
	if (rc == AM_OK)
		memcpy(qs, nx, (size_t)n * g->sq * sizeof *qs);
	free(cur);
	free(nx);
	return rc;
}

uint64_t gen_step_seed(double rows_seen, int pass)
{
	uint64_t x = (uint64_t)rows_seen * 0x9E3779B97F4A7C15ull + (uint64_t)pass;

	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ull;
	return x ^ (x >> 29);
}

static int step(const struct gen *g, const float *p, struct gen_ws *ws,
		float *state, const float *X, const int *y, const float *t, int B,
		int D, int K, double rows_seen, float *loss_before,
		float *loss_after)
{
	float cur[GEN_STATE_MAX], nx[GEN_STATE_MAX], l;
	struct gen_input in;
	int k, rc;

	if (g->cfg.regime == GEN_IMPLICIT || !batch_ok(g, ws, y, t, B, D, K))
		return AM_EINVAL;
	memcpy(cur, state, (size_t)g->nstate * sizeof *cur);
	for (k = 0; k < g->cfg.passes; k++) {
		batch_input(&in, cur, X, y, t, B, D, K, rows_seen, k);
		rc = gen_forward(g, p, ws, 1, &in, nx,
				 k == 0 && loss_before ? &l : NULL);
		if (rc != AM_OK)
			return rc;
		if (k == 0 && loss_before)
			*loss_before = l;
		memcpy(cur, nx, (size_t)g->nstate * sizeof *cur);
	}
	if (loss_after) {
		struct gen_rows b = { X, y, t, B, D, K };
		struct rng rr;

		/* a flow's noise: the first pass's */
		rng_seed(&rr, gen_step_seed(rows_seen, 0));
		*loss_after = (float)g->way->loss(g, p, NULL, ws, cur, &b, &rr,
						  1.0f, NULL);
	}
	memcpy(state, cur, (size_t)g->nstate * sizeof *cur);
	return AM_OK;
}

int gen_step(const struct gen *g, const float *p, struct gen_ws *ws,
	     float *state, const float *X, const int *y, int B, int D, int K,
	     double rows_seen, float *loss_before, float *loss_after)
{
	if (g->cfg.kind == GEN_REG)
		return AM_EINVAL;
	return step(g, p, ws, state, X, y, NULL, B, D, K, rows_seen, loss_before,
		    loss_after);
}

int gen_step_reg(const struct gen *g, const float *p, struct gen_ws *ws,
		 float *state, const float *X, const float *t, int B, int D,
		 double rows_seen, float *loss_before, float *loss_after)
{
	if (g->cfg.kind != GEN_REG)
		return AM_EINVAL;
	return step(g, p, ws, state, X, NULL, t, B, D, 0, rows_seen, loss_before,
		    loss_after);
}

int gen_log_density(const struct gen *g, const float *state, const float *X,
		    int n, int D, float *out)
{
	int i;

	if (g->cfg.kind != GEN_MOG || D < 1 || D > GEN_DMAX || n < 0)
		return AM_EINVAL;
	for (i = 0; i < n; i++)
		out[i] = (float)mog_logpdf(state, D, X + (size_t)i * GEN_DMAX);
	return AM_OK;
}

void gen_sample(const struct gen *g, const float *p, struct gen_ws *ws,
		const float *state, int D, int n, struct rng *r, float *out)
{
	if (g->cfg.kind == GEN_MOG)
		mog_sample(state, D, r, n, out);
	else
		velo_sample(&g->ve, p, ws->ve, state, D, n, g->cfg.flow_steps,
			    r, out);
}
