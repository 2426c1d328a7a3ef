/*
 * gen.c - the generative amortizers: token features for mixtures and
 * flows, the session step, losses, sampling, and the task sources.
 */
#include "family/gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "nn/softmax.h"

/* Mixture component token: log weight, mean, log sd (MOG_T); the EM step
 * (MOG_T); N_k / B; active dims; 3 counters; pass one-hot. */
#define FS_MOG (2 * MOG_T + 1 + GEN_DMAX + 3 + SETREF_PASSES_MAX)
/* Mixture observation: x, responsibilities, log-density / 10. */
#define FO_MOG (GEN_DMAX + MOG_KMAX + 1)
/* Flow latent token: z chunk, gradient chunk, active dims, counters, pass. */
#define FS_FLOW (2 * GEN_ZTOK + GEN_DMAX + 3 + SETREF_PASSES_MAX)
#define FO_FLOW GEN_DMAX
/* Class token: its weights and bias (LINCLASS_T), the batch gradient
 * (LINCLASS_T), class active, the class's share of the batch, active
 * inputs, counters, pass. */
#define FS_CLF (2 * LINCLASS_T + 2 + LINCLASS_DMAX + 3 + SETREF_PASSES_MAX)
/* Explicit classification latent token: z chunk, gradient chunk, active
 * inputs, active classes, counters, pass. */
#define FS_ECLF (2 * GEN_ZTOK + LINCLASS_DMAX + LINCLASS_KMAX + 3 + SETREF_PASSES_MAX)
/* Explicit head class token: its latent z_k and gradient (MLP_OMAX each,
 * zero past Z), class active, the class's share of the batch, active
 * inputs, counters, pass. */
#define FS_HCLF (2 * MLP_OMAX + 2 + LINCLASS_DMAX + 3 + SETREF_PASSES_MAX)
/* Classification observation: x, one-hot label, predicted probabilities. */
#define FO_CLF (LINCLASS_DMAX + 2 * LINCLASS_KMAX)
/* Explicit regression observation: x, y, the prediction, the residual. */
#define FO_REG (LINCLASS_DMAX + 3)
/* Implicit query token: x_q, its state's features, active inputs, active
 * classes, counters, pass. */
#define FS_Q (2 * LINCLASS_DMAX + GEN_SQMAX + LINCLASS_KMAX + 3 + SETREF_PASSES_MAX)
/* Implicit observations: x and the one-hot label, or x and y. */
#define FO_ICLF (LINCLASS_DMAX + LINCLASS_KMAX)
#define FO_IREG (LINCLASS_DMAX + 1)
#define GEN_QMAX 1024			/* query rows of one loss */
#define PROB_MIN 1e-6f			/* implicit probs: floor before log */

struct gen_ws {
	struct setref_ws *sr;
	struct velo_ws *ve;		/* FLOW */
	struct mlp_ws *mw;		/* explicit CLF */
	int max_seq, max_rows;
	float *resp;			/* (max_rows, LINCLASS_KMAX): mixture
					 * responsibilities or class probs */
	float *grad;			/* (GEN_STATE_MAX) */
	float *zrow, *dz;		/* (GEN_QMAX, Z) */
	float *x0, *t, *w;		/* (GEN_QMAX x GEN_DMAX), (GEN_QMAX) x 2 */
	int *Drow;			/* (GEN_QMAX) */
	/* implicit probs: per sequence the next probabilities (for the
	 * backward) and K */
	float *qout, *qd;		/* (max_seq, nstate) */
	int *qK;			/* (max_seq) */
	int nseq;			/* sequences of the last forward */
};

static double query_loss(const struct gen *g, const float *p, float *dp,
			 const float *qs, int n, int K, const int *y,
			 const float *t, float w, float *dqs);

static float clampf(float x, float lo, float hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* Floats per query state of an implicit configuration. */
static int query_floats(const struct gen_config *c)
{
	if (c->qstate == GEN_Q_LATENT)
		return c->Z;
	return c->kind == GEN_CLF ? LINCLASS_KMAX : 1;
}

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
	else if ((c->explicit_ != 0 && c->explicit_ != 1) ||
		 (c->implicit_ != 0 && c->implicit_ != 1) ||
		 (c->explicit_ && c->implicit_))
		bad = "a model is parametric, explicit or implicit";
	else if ((c->explicit_ || c->implicit_) && c->kind != GEN_CLF &&
		 c->kind != GEN_REG)
		bad = "only classification and regression have explicit and "
		      "implicit regimes here";
	else if (c->kind == GEN_REG && !c->explicit_ && !c->implicit_)
		bad = "parametric regression is the linreg family";
	else if ((c->kind == GEN_FLOW || c->explicit_) &&
		 (c->Z < GEN_ZTOK || c->Z % GEN_ZTOK ||
		  c->Z > GEN_ZTOK * SETREF_TOKENS_MAX))
		bad = "latent must be a multiple of 8 in [8, 256]";
	else if (c->kind == GEN_FLOW &&
		 (c->flow_steps < 1 || c->flow_steps > VELO_STEPS_MAX))
		bad = "flow steps must be in [1, 1024]";
	else if ((c->head != 0 && c->head != 1) ||
		 (c->head && (!c->explicit_ || c->kind != GEN_CLF)))
		bad = "the head predictor is for explicit classification";
	else if (c->head && c->Z > MLP_OMAX)
		bad = "the head predictor's latent per class must be 8 or 16";
	else if (c->implicit_ && c->qstate != GEN_Q_LOGITS &&
		 c->qstate != GEN_Q_PROBS && c->qstate != GEN_Q_LATENT)
		bad = "the implicit state must be logits, probs or latent";
	else if (c->implicit_ && c->qstate == GEN_Q_PROBS && c->kind != GEN_CLF)
		bad = "a probabilities state is for classification";
	else if (c->implicit_ && c->qstate == GEN_Q_LATENT &&
		 (c->Z < 1 || c->Z > GEN_SQMAX))
		bad = "an implicit latent must have 1 to 32 floats";
	else if (c->implicit_ && (c->nq < 1 || c->nq > SETREF_QUERIES_MAX ||
				  c->nq * query_floats(c) > GEN_STATE_MAX))
		bad = "queries must be in [1, 256] with at most 1024 state floats";
	else if (c->implicit_ && c->variant != GEN_OBS)
		bad = "the implicit regime learns from observations only "
		      "(variant obs)";
	if (!bad && c->kind == GEN_FLOW) {
		struct velo_config vc = { c->Z, c->vH, c->vL };

		if (velo_config_check(&vc, err, errlen) != AM_OK)
			return AM_EINVAL;
	}
	if (!bad && c->explicit_) {
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

int gen_init(struct gen *g, struct layout *params, const struct gen_config *c)
{
	struct setref_config sc;
	int rc;

	if (gen_config_check(c, NULL, 0) != AM_OK)
		return AM_EINVAL;
	memset(g, 0, sizeof *g);
	g->cfg = *c;
	sc.C = c->C;
	sc.H = c->H;
	sc.L = c->L;
	sc.passes = c->passes;
	sc.skip = c->variant != GEN_OBS;
	g->dx = c->kind == GEN_CLF || c->kind == GEN_REG ? GEN_XMAX : GEN_DMAX;
	if (c->implicit_) {
		g->sq = query_floats(c);
		g->nstate = c->nq * g->sq;
		sc.nst = c->nq;
		sc.sd = g->sq;
		sc.fs = FS_Q;
		sc.fo = c->kind == GEN_CLF ? FO_ICLF : FO_IREG;
		sc.skip = 0;
		rc = setref_init_queries(&g->sr, params, "gen.ref", &sc);
		if (rc != AM_OK)
			return rc;
		g->init = layout_add1(params, "gen.init", g->sq);
		if (g->init == (size_t)-1)
			return AM_ENOMEM;
		if (c->qstate == GEN_Q_LATENT) {
			int O = c->kind == GEN_CLF ? LINCLASS_KMAX : 1;

			g->ro_w = layout_add2(params, "gen.readout.w", O, c->Z);
			g->ro_b = layout_add1(params, "gen.readout.b", O);
			if (g->ro_w == (size_t)-1 || g->ro_b == (size_t)-1)
				return AM_ENOMEM;
		}
		return AM_OK;
	}
	if (c->explicit_) {
		struct mlp_config mc;

		predictor_config(c, &mc);
		g->nstate = c->head ? LINCLASS_KMAX * c->Z : c->Z;
		sc.nst = c->head ? LINCLASS_KMAX : c->Z / GEN_ZTOK;
		sc.sd = c->head ? c->Z : GEN_ZTOK;
		sc.fs = c->head ? FS_HCLF : FS_ECLF;
		sc.fo = c->variant == GEN_GRAD ? 0 :
			c->kind == GEN_CLF ? FO_CLF : FO_REG;
		rc = mlp_init(&g->f, params, "gen.f", &mc);
		if (rc != AM_OK)
			return rc;
	} else if (c->kind == GEN_CLF) {
		g->nstate = LINCLASS_P;
		sc.nst = LINCLASS_KMAX;
		sc.sd = LINCLASS_T;
		sc.fs = FS_CLF;
		sc.fo = c->variant == GEN_GRAD ? 0 : FO_CLF;
	} else if (c->kind == GEN_MOG) {
		g->nstate = MOG_P;
		sc.nst = MOG_KMAX;
		sc.sd = MOG_T;
		sc.fs = FS_MOG;
		sc.fo = c->variant == GEN_GRAD ? 0 : FO_MOG;
	} else {
		struct velo_config vc = { c->Z, c->vH, c->vL };

		g->nstate = c->Z;
		sc.nst = c->Z / GEN_ZTOK;
		sc.sd = GEN_ZTOK;
		sc.fs = FS_FLOW;
		sc.fo = c->variant == GEN_GRAD ? 0 : FO_FLOW;
		rc = velo_init(&g->ve, params, &vc);
		if (rc != AM_OK)
			return rc;
	}
	rc = setref_init(&g->sr, params, "gen.ref", &sc);
	if (rc != AM_OK)
		return rc;
	g->init = layout_add1(params, "gen.init", g->nstate);
	if (g->init == (size_t)-1)
		return AM_ENOMEM;
	return AM_OK;
}

void gen_init_params(const struct gen *g, float *p, struct rng *r)
{
	float *s = p + g->init;
	int k, j;

	setref_init_params(&g->sr, p, r);
	if (g->cfg.implicit_) {
		/* uniform probabilities, mean 0 or latent 0 */
		memset(s, 0, (size_t)g->sq * sizeof *s);
		if (g->cfg.qstate == GEN_Q_LATENT) {
			int O = g->cfg.kind == GEN_CLF ? LINCLASS_KMAX : 1;

			for (k = 0; k < O * g->cfg.Z; k++)
				p[g->ro_w + k] = (float)(rng_normal(r) /
							 sqrt((double)g->cfg.Z));
			memset(p + g->ro_b, 0, (size_t)O * sizeof *p);
		}
		return;
	}
	memset(s, 0, (size_t)g->nstate * sizeof *s);
	if (g->cfg.kind == GEN_FLOW) {
		velo_init_params(&g->ve, p, r);
		return;
	}
	if (g->cfg.explicit_) {
		mlp_init_params(&g->f, p, r);
		return;			/* z = 0 */
	}
	if (g->cfg.kind == GEN_CLF)
		return;			/* zero weights: uniform probabilities */
	for (k = 0; k < MOG_KMAX; k++)
		for (j = 0; j < MOG_DMAX; j++)
			s[k * MOG_T + 1 + j] = 0.5f * (float)rng_normal(r);
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
	size_t Z = (size_t)(g->cfg.kind == GEN_FLOW || g->cfg.explicit_ ? g->cfg.Z : 1);
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
	if (g->cfg.explicit_)
		ws->mw = mlp_ws_new(&g->f, 512);
	if (!ws->sr || !ws->resp || !ws->grad || !ws->zrow || !ws->dz || !ws->x0 ||
	    !ws->t || !ws->w || !ws->Drow || !ws->qout || !ws->qd || !ws->qK ||
	    (g->cfg.kind == GEN_FLOW && !ws->ve) || (g->cfg.explicit_ && !ws->mw)) {
		gen_ws_free(ws);
		return NULL;
	}
	return ws;
}

/* Counters and pass, shared by both kinds' state tokens. */
static void counters(const struct gen *g, const struct gen_input *in,
		     float gain, float *f)
{
	double rows_k = (double)g->cfg.bmax * g->cfg.ksteps;

	f[0] = fmaxf(gain, 1.0f / (float)g->cfg.ksteps);
	f[1] = (float)fmin(log1p(in->rows_seen) / log1p(rows_k), 1.0);
	f[2] = fminf((float)in->B / (float)g->cfg.bmax, 1.0f);
	f[3 + in->pass] = 1.0f;
}

/* Mixture features of sequence i; returns its batch NLL. */
static float mog_features(const struct gen *g, struct gen_ws *ws, int i,
			  const struct gen_input *in, float gain)
{
	const float *th = in->state;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);
	double lse = -INFINITY, nll;
	int B = in->B, D = in->D, k, j, r;

	nll = mog_nll(th, D, in->X, B, NULL, ws->resp);
	for (k = 0; k < MOG_KMAX; k++) {
		double a = th[k * MOG_T], m = lse > a ? lse : a;

		lse = m + log(exp(lse - m) + exp(a - m));
	}
	memset(fs, 0, (size_t)MOG_KMAX * FS_MOG * sizeof *fs);
	for (k = 0; k < MOG_KMAX; k++) {
		const float *c = th + k * MOG_T;
		float *f = fs + k * FS_MOG, *dk = dir + k * MOG_T;
		float *ak = am + k * MOG_T;
		double nk = 0.0, wk = exp(c[0] - lse);

		for (r = 0; r < B; r++)
			nk += ws->resp[r * MOG_KMAX + k];
		/* EM step with one pseudo-row at the current parameters */
		dk[0] = (float)(c[0] - lse - log((nk + wk) / (B + 1.0)));
		ak[0] = 1.0f;
		for (j = 0; j < MOG_DMAX; j++) {
			double sx = 0.0, sxx = 0.0, mj, vj, sd;

			ak[1 + j] = ak[1 + MOG_DMAX + j] = j < D ? 1.0f : 0.0f;
			if (j >= D) {
				dk[1 + j] = dk[1 + MOG_DMAX + j] = 0.0f;
				continue;
			}
			sd = exp(clampf(c[1 + MOG_DMAX + j], MOG_LOGSD_MIN,
					MOG_LOGSD_MAX));
			for (r = 0; r < B; r++)
				sx += ws->resp[r * MOG_KMAX + k] *
				      in->X[r * GEN_DMAX + j];
			mj = (sx + c[1 + j]) / (nk + 1.0);
			for (r = 0; r < B; r++) {
				double d = in->X[r * GEN_DMAX + j] - mj;

				sxx += ws->resp[r * MOG_KMAX + k] * d * d;
			}
			vj = (sxx + sd * sd + (c[1 + j] - mj) * (c[1 + j] - mj)) /
			     (nk + 1.0);
			dk[1 + j] = (float)(c[1 + j] - mj);
			dk[1 + MOG_DMAX + j] = (float)(c[1 + MOG_DMAX + j] -
						       0.5 * log(vj + 1e-6));
		}
		if (g->cfg.variant == GEN_OBS)
			memset(dk, 0, MOG_T * sizeof *dk);
		f[0] = clampf((float)(c[0] - lse), -10.0f, 0.0f);
		for (j = 0; j < D; j++) {
			f[1 + j] = clampf(c[1 + j], -10.0f, 10.0f);
			f[1 + MOG_DMAX + j] = clampf(c[1 + MOG_DMAX + j],
						     MOG_LOGSD_MIN, MOG_LOGSD_MAX);
		}
		for (j = 0; j < MOG_T; j++)
			f[MOG_T + j] = clampf(dk[j], -10.0f, 10.0f);
		f[2 * MOG_T] = (float)(nk / B);
		for (j = 0; j < GEN_DMAX; j++)
			f[2 * MOG_T + 1 + j] = j < D ? 1.0f : 0.0f;
		counters(g, in, gain, f + 2 * MOG_T + 1 + GEN_DMAX);
	}
	if (g->cfg.variant != GEN_GRAD) {
		float *fo = setref_fo(ws->sr, i);

		for (r = 0; r < B; r++) {
			float *o = fo + (size_t)r * FO_MOG;

			memcpy(o, in->X + (size_t)r * GEN_DMAX, GEN_DMAX * sizeof *o);
			memcpy(o + GEN_DMAX, ws->resp + (size_t)r * MOG_KMAX,
			       MOG_KMAX * sizeof *o);
			o[GEN_DMAX + MOG_KMAX] = clampf(0.1f * (float)mog_logpdf(
					th, D, in->X + (size_t)r * GEN_DMAX), -5.0f, 2.0f);
		}
	}
	return (float)nll;
}

/* Fills the flow-matching noise of n rows from a seed (or generator). */
static void flow_noise(struct gen_ws *ws, struct rng *r, int n, int D)
{
	int i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < GEN_DMAX; j++)
			ws->x0[i * GEN_DMAX + j] = j < D ? (float)rng_normal(r) : 0.0f;
		ws->t[i] = (float)rng_uniform(r);
		ws->Drow[i] = D;
	}
}

/* Mean flow-matching loss of z on rows X (n <= GEN_QMAX) with the noise in
 * ws; dz (Z, may be NULL) the gradient of that mean; dp (may be NULL)
 * accumulates scale times the gradient. */
static double flow_loss(const struct gen *g, const float *p, float *dp,
			struct gen_ws *ws, const float *z, const float *X,
			int n, float scale, float *dz)
{
	int Z = g->cfg.Z, i, j;
	double l;

	for (i = 0; i < n; i++) {
		memcpy(ws->zrow + (size_t)i * Z, z, (size_t)Z * sizeof *z);
		ws->w[i] = scale / (float)n;
	}
	l = velo_fm_loss(&g->ve, p, dp, ws->ve, n, X, ws->x0, ws->t, ws->zrow,
			 ws->Drow, ws->w, dz ? ws->dz : NULL);
	if (dz) {
		memset(dz, 0, (size_t)Z * sizeof *dz);
		for (i = 0; i < n; i++)
			for (j = 0; j < Z; j++)
				dz[j] += ws->dz[(size_t)i * Z + j];
	}
	return scale != 0.0f ? l / scale : 0.0;
}

/* Flow features of sequence i; returns its batch loss when computed. */
static float flow_features(const struct gen *g, const float *p,
			   struct gen_ws *ws, int i, const struct gen_input *in,
			   float gain, int want_loss)
{
	int nst = g->cfg.Z / GEN_ZTOK, D = in->D, k, j, r;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);
	float loss = 0.0f;

	memset(dir, 0, (size_t)g->cfg.Z * sizeof *dir);
	if (g->cfg.variant != GEN_OBS || want_loss) {
		struct rng rr;

		rng_seed(&rr, in->seed);
		flow_noise(ws, &rr, in->B, D);
		loss = (float)flow_loss(g, p, NULL, ws, in->state, in->X, in->B,
					1.0f, g->cfg.variant != GEN_OBS ? dir : NULL);
	}
	memset(fs, 0, (size_t)nst * FS_FLOW * sizeof *fs);
	for (k = 0; k < nst; k++) {
		float *f = fs + k * FS_FLOW;

		for (j = 0; j < GEN_ZTOK; j++) {
			f[j] = in->state[k * GEN_ZTOK + j];
			f[GEN_ZTOK + j] = clampf(dir[k * GEN_ZTOK + j], -10.0f, 10.0f);
			am[k * GEN_ZTOK + j] = 1.0f;
		}
		for (j = 0; j < GEN_DMAX; j++)
			f[2 * GEN_ZTOK + j] = j < D ? 1.0f : 0.0f;
		counters(g, in, gain, f + 2 * GEN_ZTOK + GEN_DMAX);
	}
	if (g->cfg.variant != GEN_GRAD) {
		float *fo = setref_fo(ws->sr, i);

		for (r = 0; r < in->B; r++)
			memcpy(fo + (size_t)r * FO_FLOW, in->X + (size_t)r * GEN_DMAX,
			       GEN_DMAX * sizeof *fo);
	}
	return loss;
}

/* Classification observation tokens of sequence i: x, the one-hot label
 * and the predicted probabilities (in ws->resp). */
static void clf_observations(struct gen_ws *ws, int i,
			     const struct gen_input *in)
{
	float *fo = setref_fo(ws->sr, i);
	int r;

	for (r = 0; r < in->B; r++) {
		float *o = fo + (size_t)r * FO_CLF;

		memcpy(o, in->X + (size_t)r * GEN_XMAX, LINCLASS_DMAX * sizeof *o);
		memset(o + LINCLASS_DMAX, 0, 2 * LINCLASS_KMAX * sizeof *o);
		o[LINCLASS_DMAX + in->y[r]] = 1.0f;
		memcpy(o + LINCLASS_DMAX + LINCLASS_KMAX,
		       ws->resp + (size_t)r * LINCLASS_KMAX,
		       LINCLASS_KMAX * sizeof *o);
	}
}

/* The end of class k's token (parametric and head classifiers): class
 * active, the class's share of the batch, active inputs, counters, pass. */
static void class_token_tail(const struct gen *g, const struct gen_input *in,
			     float gain, int k, float *f)
{
	int n = 0, r, j;

	for (r = 0; r < in->B; r++)
		n += in->y[r] == k;
	f[0] = k < in->K ? 1.0f : 0.0f;
	f[1] = (float)n / (float)in->B;
	for (j = 0; j < LINCLASS_DMAX; j++)
		f[2 + j] = j < in->D ? 1.0f : 0.0f;
	counters(g, in, gain, f + 2 + LINCLASS_DMAX);
}

/* Classification features of sequence i; returns its batch loss. */
static float clf_features(const struct gen *g, struct gen_ws *ws, int i,
			  const struct gen_input *in, float gain)
{
	const float *th = in->state;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);
	int B = in->B, D = in->D, K = in->K, k, j;
	double loss;

	loss = linclass_loss(th, D, K, in->X, in->y, B, 0.0f, ws->grad, ws->resp);
	memset(fs, 0, (size_t)LINCLASS_KMAX * FS_CLF * sizeof *fs);
	for (k = 0; k < LINCLASS_KMAX; k++) {
		const float *c = th + k * LINCLASS_T;
		const float *gk = ws->grad + k * LINCLASS_T;
		float *f = fs + k * FS_CLF, *dk = dir + k * LINCLASS_T;
		float *ak = am + k * LINCLASS_T;

		for (j = 0; j < LINCLASS_T; j++) {
			int on = k < K && (j < D || j == LINCLASS_BIAS);

			ak[j] = on ? 1.0f : 0.0f;
			dk[j] = on && g->cfg.variant != GEN_OBS ? gk[j] : 0.0f;
			f[j] = on ? clampf(c[j], -20.0f, 20.0f) : 0.0f;
			f[LINCLASS_T + j] = clampf(dk[j], -10.0f, 10.0f);
		}
		class_token_tail(g, in, gain, k, f + 2 * LINCLASS_T);
	}
	if (g->cfg.variant != GEN_GRAD)
		clf_observations(ws, i, in);
	return (float)loss;
}

/*
 * The head predictor's mean cross-entropy over n rows X (stride GEN_XMAX)
 * with K classes under state z (LINCLASS_KMAX latents z_k of Z floats):
 * h_i = h(x_i), logit_ik = h_i . z_k for k < K.  As mlp_xent with a shared
 * latent: dp (may be NULL) accumulates scale * dloss/dp; dz (nstate, may
 * be NULL) is overwritten with scale * dloss/dz (0 past K); probs (n x
 * LINCLASS_KMAX, may be NULL) receives the probabilities.  y may be NULL
 * when only probs are wanted (the loss is then 0).  Chunked by the
 * predictor workspace's rows; h and dh/dlogit live in ws->zrow, ws->dz.
 *   dloss/dlogit_ik = (p_ik - [y_i = k]) / n
 *   dloss/dz_k = sum_i dlogit_ik h_i,  dloss/dh_i = sum_k dlogit_ik z_k
 */
static double head_xent(const struct gen *g, const float *p, float *dp,
			struct gen_ws *ws, int n, const float *X,
			const float *z, int K, const int *y, float scale,
			float *dz, float *probs)
{
	int Z = g->cfg.Z, rows = mlp_ws_rows(ws->mw), c, i, k, e;
	double loss = 0.0;

	AM_ASSERT(g->cfg.head && n >= 1 && K >= 1 && K <= LINCLASS_KMAX);
	if (dz)
		memset(dz, 0, (size_t)g->nstate * sizeof *dz);
	for (c = 0; c < n; c += rows) {
		int m = n - c < rows ? n - c : rows;

		mlp_forward(&g->f, p, ws->mw, m, X + (size_t)c * GEN_XMAX,
			    GEN_XMAX, z, ws->zrow);
		for (i = 0; i < m; i++) {
			const float *h = ws->zrow + (size_t)i * Z;
			float *dh = ws->dz + (size_t)i * Z;
			float u[LINCLASS_KMAX], mx = -INFINITY;
			double ex[LINCLASS_KMAX], se = 0.0;

			for (k = 0; k < K; k++) {
				float a = 0.0f;

				for (e = 0; e < Z; e++)
					a += h[e] * z[k * Z + e];
				u[k] = a;
				mx = fmaxf(mx, a);
			}
			for (k = 0; k < K; k++) {
				ex[k] = exp((double)(u[k] - mx));
				se += ex[k];
			}
			if (y) {
				AM_ASSERT(y[c + i] >= 0 && y[c + i] < K);
				loss += log(se) - (double)(u[y[c + i]] - mx);
			}
			memset(dh, 0, (size_t)Z * sizeof *dh);
			for (k = 0; k < K; k++) {
				float pk = (float)(ex[k] / se);
				float d;

				if (probs)
					probs[(size_t)(c + i) * LINCLASS_KMAX + k] = pk;
				if (!y)
					continue;
				d = scale * (pk - (y[c + i] == k ? 1.0f : 0.0f)) /
				    (float)n;
				for (e = 0; e < Z; e++) {
					dh[e] += d * z[k * Z + e];
					if (dz)
						dz[k * Z + e] += d * h[e];
				}
			}
			if (probs)
				for (k = K; k < LINCLASS_KMAX; k++)
					probs[(size_t)(c + i) * LINCLASS_KMAX + k] = 0.0f;
		}
		if (dp && y)
			mlp_backward(&g->f, p, dp, ws->mw, m, ws->dz, NULL, NULL);
	}
	return loss / n;
}

/* The explicit classifier's mean cross-entropy: the head predictor's, or
 * f(x, z)'s with z shared by the rows (mlp_xent's contract). */
static double explicit_xent(const struct gen *g, const float *p, float *dp,
			    struct gen_ws *ws, int n, const float *X,
			    const float *z, int K, const int *y, float scale,
			    float *dz, float *probs)
{
	if (g->cfg.head)
		return head_xent(g, p, dp, ws, n, X, z, K, y, scale, dz, probs);
	return mlp_xent(&g->f, p, dp, ws->mw, n, X, GEN_XMAX, z, 0, K, y, scale,
			dz, probs);
}

/* Head predictor features of sequence i: one token per class, as the
 * parametric classifier's (clf_features) with z_k for the weights;
 * returns its batch loss. */
static float head_features(const struct gen *g, const float *p,
			   struct gen_ws *ws, int i, const struct gen_input *in,
			   float gain)
{
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);
	int Z = g->cfg.Z, K = in->K, k, j;
	double loss;

	loss = head_xent(g, p, NULL, ws, in->B, in->X, in->state, K, in->y, 1.0f,
			 ws->grad, ws->resp);
	memset(fs, 0, (size_t)LINCLASS_KMAX * FS_HCLF * sizeof *fs);
	for (k = 0; k < LINCLASS_KMAX; k++) {
		const float *zk = in->state + k * Z, *gk = ws->grad + k * Z;
		float *f = fs + k * FS_HCLF;
		int on = k < K;

		for (j = 0; j < Z; j++) {
			am[k * Z + j] = on ? 1.0f : 0.0f;
			dir[k * Z + j] = on && g->cfg.variant != GEN_OBS ? gk[j] : 0.0f;
			f[j] = on ? clampf(zk[j], -20.0f, 20.0f) : 0.0f;
			f[MLP_OMAX + j] = clampf(dir[k * Z + j], -10.0f, 10.0f);
		}
		class_token_tail(g, in, gain, k, f + 2 * MLP_OMAX);
	}
	if (g->cfg.variant != GEN_GRAD)
		clf_observations(ws, i, in);
	return (float)loss;
}

/* Explicit features (classification or regression) of sequence i;
 * returns its batch loss. */
static float explicit_features(const struct gen *g, const float *p,
			       struct gen_ws *ws, int i,
			       const struct gen_input *in, float gain)
{
	int nst = g->cfg.Z / GEN_ZTOK, B = in->B, D = in->D, K = in->K, k, j, r;
	int clf = g->cfg.kind == GEN_CLF;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);
	double loss;

	if (clf)
		loss = explicit_xent(g, p, NULL, ws, B, in->X, in->state, K, in->y,
				     1.0f, ws->grad, ws->resp);
	else
		loss = mlp_mse(&g->f, p, NULL, ws->mw, B, in->X, GEN_XMAX,
			       in->state, 0, in->t, 1.0f, ws->grad, ws->resp);
	memset(fs, 0, (size_t)nst * FS_ECLF * sizeof *fs);
	for (k = 0; k < nst; k++) {
		float *f = fs + k * FS_ECLF;

		for (j = 0; j < GEN_ZTOK; j++) {
			float gz = ws->grad[k * GEN_ZTOK + j];

			dir[k * GEN_ZTOK + j] = g->cfg.variant != GEN_OBS ? gz : 0.0f;
			am[k * GEN_ZTOK + j] = 1.0f;
			f[j] = clampf(in->state[k * GEN_ZTOK + j], -20.0f, 20.0f);
			f[GEN_ZTOK + j] = g->cfg.variant != GEN_OBS ?
					  clampf(gz, -10.0f, 10.0f) : 0.0f;
		}
		for (j = 0; j < LINCLASS_DMAX; j++)
			f[2 * GEN_ZTOK + j] = j < D ? 1.0f : 0.0f;
		for (j = 0; j < LINCLASS_KMAX; j++)
			f[2 * GEN_ZTOK + LINCLASS_DMAX + j] = j < K ? 1.0f : 0.0f;
		counters(g, in, gain, f + 2 * GEN_ZTOK + LINCLASS_DMAX + LINCLASS_KMAX);
	}
	if (g->cfg.variant == GEN_GRAD)
		return (float)loss;
	if (clf) {
		clf_observations(ws, i, in);
		return (float)loss;
	}
	for (r = 0; r < B; r++) {
		float *o = setref_fo(ws->sr, i) + (size_t)r * FO_REG;

		memcpy(o, in->X + (size_t)r * GEN_XMAX, LINCLASS_DMAX * sizeof *o);
		o[LINCLASS_DMAX] = in->t[r];
		o[LINCLASS_DMAX + 1] = ws->resp[r];
		o[LINCLASS_DMAX + 2] = in->t[r] - ws->resp[r];
	}
	return (float)loss;
}

/* The log of a probability state's active entries (the refiner's input
 * for GEN_Q_PROBS). */
static void probs_to_log(const float *q, int K, float *u)
{
	int k;

	for (k = 0; k < LINCLASS_KMAX; k++)
		u[k] = k < K ? logf(fmaxf(q[k], PROB_MIN)) : 0.0f;
}

/* Softmax over the first K of u into q (zeros after, up to LINCLASS_KMAX). */
static void softmax_k(const float *u, int K, float *q)
{
	int k;

	softmax_forward(q, u, 1, K);
	for (k = K; k < LINCLASS_KMAX; k++)
		q[k] = 0.0f;
}

/* Implicit features of sequence i (queries and observations). */
static void implicit_features(const struct gen *g, struct gen_ws *ws, int i,
			      const struct gen_input *in, float gain)
{
	int sq = g->sq, nq = in->nq, B = in->B, D = in->D, K = in->K, j, k, r;
	int clf = g->cfg.kind == GEN_CLF;
	int act = g->cfg.qstate == GEN_Q_LATENT ? sq : clf ? K : 1;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i), *fo = setref_fo(ws->sr, i);

	memset(fs, 0, (size_t)nq * FS_Q * sizeof *fs);
	memset(dir, 0, (size_t)nq * sq * sizeof *dir);
	for (j = 0; j < nq; j++) {
		const float *q = in->state + (size_t)j * sq;
		float *f = fs + (size_t)j * FS_Q, *sf = f + LINCLASS_DMAX;

		memcpy(f, in->Q + (size_t)j * GEN_XMAX, LINCLASS_DMAX * sizeof *f);
		for (k = 0; k < sq; k++) {
			am[j * sq + k] = k < act ? 1.0f : 0.0f;
			if (k < act)
				sf[k] = clampf(q[k], -30.0f, 30.0f);
		}
		f += LINCLASS_DMAX + GEN_SQMAX;
		for (k = 0; k < LINCLASS_DMAX; k++)
			f[k] = k < D ? 1.0f : 0.0f;
		for (k = 0; k < LINCLASS_KMAX; k++)
			f[LINCLASS_DMAX + k] = k < K ? 1.0f : 0.0f;
		counters(g, in, gain, f + LINCLASS_DMAX + LINCLASS_KMAX);
	}
	for (r = 0; r < B; r++) {
		const float *x = in->X + (size_t)r * GEN_XMAX;

		if (clf) {
			float *o = fo + (size_t)r * FO_ICLF;

			memcpy(o, x, LINCLASS_DMAX * sizeof *o);
			memset(o + LINCLASS_DMAX, 0, LINCLASS_KMAX * sizeof *o);
			o[LINCLASS_DMAX + in->y[r]] = 1.0f;
		} else {
			float *o = fo + (size_t)r * FO_IREG;

			memcpy(o, x, LINCLASS_DMAX * sizeof *o);
			o[LINCLASS_DMAX] = in->t[r];
		}
	}
}

int gen_forward(const struct gen *g, const float *p, struct gen_ws *ws,
		int ns, const struct gen_input *in, float *next,
		float *batch_loss)
{
	int probs = g->cfg.implicit_ && g->cfg.qstate == GEN_Q_PROBS;
	int i, j, rc;

	AM_ASSERT(ns >= 1 && ns <= ws->max_seq);
	for (i = 0; i < ns; i++) {
		float gain, l = 0.0f;

		AM_ASSERT(in[i].B >= 1 && in[i].B <= ws->max_rows);
		AM_ASSERT(in[i].D >= 1 && in[i].D <= g->dx);
		AM_ASSERT(in[i].pass >= 0 && in[i].pass < g->cfg.passes);
		gain = (float)(in[i].B / (in[i].rows_seen + in[i].B));
		if (g->cfg.kind == GEN_CLF)
			AM_ASSERT(in[i].y && in[i].K >= 1 && in[i].K <= LINCLASS_KMAX);
		if (g->cfg.kind == GEN_REG)
			AM_ASSERT(in[i].t);
		if (g->cfg.implicit_) {
			AM_ASSERT(in[i].Q && in[i].nq >= 1 && in[i].nq <= g->cfg.nq);
			implicit_features(g, ws, i, &in[i], gain);
			setref_set_queries(ws->sr, i, in[i].nq);
			ws->qK[i] = in[i].K;
		} else if (g->cfg.head) {
			l = head_features(g, p, ws, i, &in[i], gain);
		} else if (g->cfg.explicit_) {
			l = explicit_features(g, p, ws, i, &in[i], gain);
		} else if (g->cfg.kind == GEN_CLF) {
			l = clf_features(g, ws, i, &in[i], gain);
		} else if (g->cfg.kind == GEN_MOG) {
			l = mog_features(g, ws, i, &in[i], gain);
		} else {
			l = flow_features(g, p, ws, i, &in[i], gain,
					  batch_loss != NULL);
		}
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
				probs_to_log(in[i].state + (size_t)j * g->sq,
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
			softmax_k(nx + (size_t)j * g->sq, in[i].K, qo + (size_t)j * g->sq);
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

	if (!(g->cfg.implicit_ && g->cfg.qstate == GEN_Q_PROBS)) {
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
		      struct gen_ws *ws, const float *state, const float *Q,
		      const int *Qy, int nq, int D, int K, struct rng *r, float w,
		      float *dstate)
{
	double l;
	int j;

	if (g->cfg.implicit_)
		return query_loss(g, p, dp, state, nq, K, Qy, NULL, w, dstate);
	AM_ASSERT(nq >= 1 && nq <= GEN_QMAX);
	if (g->cfg.kind == GEN_CLF && g->cfg.explicit_)
		return explicit_xent(g, p, dp, ws, nq, Q, state, K, Qy, w, dstate,
				     NULL);
	if (g->cfg.kind == GEN_CLF) {
		l = linclass_loss(state, D, K, Q, Qy, nq, 0.0f, dstate, NULL);
		for (j = 0; j < LINCLASS_P; j++)
			dstate[j] *= w;
		return l;
	}
	if (g->cfg.kind == GEN_MOG) {
		l = mog_nll(state, D, Q, nq, dstate, NULL);
		for (j = 0; j < MOG_P; j++)
			dstate[j] *= w;
		return l;
	}
	flow_noise(ws, r, nq, D);
	return flow_loss(g, p, dp, ws, state, Q, nq, w, dstate);
}

/* ---- the implicit regime's read-out and losses ------------------------- */

/* The outputs (clf: K logits; reg: the mean in out[0]) of one query state;
 * GEN_Q_PROBS has no logits (its losses use the probabilities). */
static void query_out(const struct gen *g, const float *p, const float *q,
		      int O, float *out)
{
	int k, j, Z = g->cfg.Z;

	if (g->cfg.qstate != GEN_Q_LATENT) {
		memcpy(out, q, (size_t)O * sizeof *out);
		return;
	}
	for (k = 0; k < O; k++) {
		const float *w = p + g->ro_w + (size_t)k * Z;
		double a = p[g->ro_b + k];

		for (j = 0; j < Z; j++)
			a += (double)w[j] * q[j];
		out[k] = (float)a;
	}
}

/* Back through query_out: dout (O) into dq (sq, overwritten) and, for the
 * latent, the readout's parameters (dp, may be NULL). */
static void query_out_back(const struct gen *g, const float *p, float *dp,
			   const float *q, int O, const float *dout, float *dq)
{
	int k, j, Z = g->cfg.Z;

	memset(dq, 0, (size_t)g->sq * sizeof *dq);
	if (g->cfg.qstate != GEN_Q_LATENT) {
		memcpy(dq, dout, (size_t)O * sizeof *dq);
		return;
	}
	for (k = 0; k < O; k++) {
		const float *w = p + g->ro_w + (size_t)k * Z;

		for (j = 0; j < Z; j++)
			dq[j] += dout[k] * w[j];
		if (dp) {
			for (j = 0; j < Z; j++)
				dp[g->ro_w + (size_t)k * Z + j] += dout[k] * q[j];
			dp[g->ro_b + k] += dout[k];
		}
	}
}

/*
 * The mean loss of n query states qs against labels y (clf) or targets t
 * (reg); dqs (n x sq, may be NULL) is overwritten with w times its
 * gradient, dp (may be NULL) accumulates w times the readout's.
 */
static double query_loss(const struct gen *g, const float *p, float *dp,
			 const float *qs, int n, int K, const int *y,
			 const float *t, float w, float *dqs)
{
	int clf = g->cfg.kind == GEN_CLF, O = clf ? K : 1, sq = g->sq, i, k;
	float out[LINCLASS_KMAX], dout[LINCLASS_KMAX];
	double loss = 0.0;

	for (i = 0; i < n; i++) {
		const float *q = qs + (size_t)i * sq;
		float *dq = dqs ? dqs + (size_t)i * sq : NULL;

		if (clf && g->cfg.qstate == GEN_Q_PROBS) {
			float py = fmaxf(q[y[i]], 1e-20f);

			loss -= log(py);
			if (dq) {
				memset(dq, 0, (size_t)sq * sizeof *dq);
				dq[y[i]] = -w / ((float)n * py);
			}
			continue;
		}
		query_out(g, p, q, O, out);
		if (clf) {
			float pr[LINCLASS_KMAX];

			softmax_k(out, K, pr);
			loss -= log(fmax(pr[y[i]], 1e-30));
			for (k = 0; k < O; k++)
				dout[k] = w * (pr[k] - (k == y[i])) / (float)n;
		} else {
			double d = out[0] - t[i];

			loss += 0.5 * d * d;
			dout[0] = w * (float)d / (float)n;
		}
		if (dq || dp) {
			float tmp[GEN_SQMAX];

			query_out_back(g, p, dp, q, O, dout, dq ? dq : tmp);
		}
	}
	return loss / n;
}

double gen_state_loss_reg(const struct gen *g, const float *p, float *dp,
			  struct gen_ws *ws, const float *state, const float *Q,
			  const float *Qt, int nq, float w, float *dstate)
{
	AM_ASSERT(g->cfg.kind == GEN_REG && nq >= 1);
	if (g->cfg.implicit_)
		return query_loss(g, p, dp, state, nq, 0, NULL, Qt, w, dstate);
	AM_ASSERT(nq <= GEN_QMAX);
	return mlp_mse(&g->f, p, dp, ws->mw, nq, Q, GEN_XMAX, state, 0, Qt, w,
		       dstate, NULL);
}

void gen_query_init(const struct gen *g, const float *p, int n, int K, float *qs)
{
	const float *s = p + g->init;
	float q[GEN_SQMAX];
	int i;

	AM_ASSERT(g->cfg.implicit_);
	memcpy(q, s, (size_t)g->sq * sizeof *q);
	if (g->cfg.qstate == GEN_Q_PROBS)
		softmax_k(s, K, q);	/* the learned init holds logits */
	else if (g->cfg.qstate == GEN_Q_LOGITS && g->cfg.kind == GEN_CLF)
		for (i = K; i < LINCLASS_KMAX; i++)
			q[i] = 0.0f;
	for (i = 0; i < n; i++)
		memcpy(qs + (size_t)i * g->sq, q, (size_t)g->sq * sizeof *qs);
}

void gen_init_grad(const struct gen *g, const float *p, const float *dstate,
		   int nq, int K, float *dinit)
{
	float q[LINCLASS_KMAX];
	int i, k;

	AM_ASSERT(g->cfg.implicit_);
	if (g->cfg.qstate == GEN_Q_PROBS)
		softmax_k(p + g->init, K, q);
	for (i = 0; i < nq; i++) {
		const float *d = dstate + (size_t)i * g->sq;

		if (g->cfg.qstate == GEN_Q_PROBS) {
			double dot = 0.0;

			for (k = 0; k < K; k++)
				dot += (double)q[k] * d[k];
			for (k = 0; k < K; k++)
				dinit[k] += (float)(q[k] * (d[k] - dot));
			continue;
		}
		for (k = 0; k < g->sq; k++)
			dinit[k] += d[k];
	}
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

static uint64_t step_seed(double rows_seen, int pass);

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
	in->seed = step_seed(rows_seen, pass);
}

int gen_query_step(const struct gen *g, const float *p, struct gen_ws *ws,
		   const float *Q, int n, float *qs, const float *X,
		   const int *y, const float *t, int B, int D, int K,
		   double rows_seen)
{
	float *cur, *nx;
	int c, k, j, rc = AM_OK, cap = g->cfg.nq;

	if (!g->cfg.implicit_ || n < 0 || !batch_ok(g, ws, y, t, B, D, K))
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

void gen_query_probs(const struct gen *g, const float *p, const float *qs,
		     int n, int K, float *probs)
{
	float out[LINCLASS_KMAX];
	int i;

	AM_ASSERT(g->cfg.implicit_ && g->cfg.kind == GEN_CLF);
	for (i = 0; i < n; i++) {
		const float *q = qs + (size_t)i * g->sq;
		float *pr = probs + (size_t)i * LINCLASS_KMAX;

		if (g->cfg.qstate == GEN_Q_PROBS) {
			double z = 0.0;
			int k;

			for (k = 0; k < LINCLASS_KMAX; k++) {
				pr[k] = k < K ? fmaxf(q[k], 0.0f) : 0.0f;
				z += pr[k];
			}
			for (k = 0; k < K; k++)
				pr[k] = z > 0.0 ? (float)(pr[k] / z) : 1.0f / (float)K;
			continue;
		}
		query_out(g, p, q, K, out);
		softmax_k(out, K, pr);
	}
}

void gen_query_mean(const struct gen *g, const float *p, const float *qs,
		    int n, float *mean)
{
	int i;

	AM_ASSERT(g->cfg.implicit_ && g->cfg.kind == GEN_REG);
	for (i = 0; i < n; i++)
		query_out(g, p, qs + (size_t)i * g->sq, 1, &mean[i]);
}

double gen_query_loss(const struct gen *g, const float *p, const float *qs,
		      int n, int K, const int *y, const float *t)
{
	AM_ASSERT(g->cfg.implicit_ && n >= 1);
	return query_loss(g, p, NULL, qs, n, K, y, t, 1.0f, NULL);
}

int gen_predict_mean(const struct gen *g, const float *p, struct gen_ws *ws,
		     const float *state, const float *X, int n, float *mean)
{
	int rows, i, r;

	if (g->cfg.kind != GEN_REG || !g->cfg.explicit_ || n < 0)
		return AM_EINVAL;
	rows = mlp_ws_rows(ws->mw);
	for (i = 0; i < n; i += rows) {
		int m = n - i < rows ? n - i : rows;

		for (r = 0; r < m; r++)
			memcpy(ws->zrow + (size_t)r * g->cfg.Z, state,
			       (size_t)g->cfg.Z * sizeof *state);
		mlp_forward(&g->f, p, ws->mw, m, X + (size_t)i * GEN_XMAX, GEN_XMAX,
			    ws->zrow, mean + i);
	}
	return AM_OK;
}

static uint64_t step_seed(double rows_seen, int pass)
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

	if (g->cfg.implicit_ || !batch_ok(g, ws, y, t, B, D, K))
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
		if (g->cfg.kind == GEN_REG) {
			*loss_after = (float)mlp_mse(&g->f, p, NULL, ws->mw, B, X,
						     GEN_XMAX, cur, 0, t, 1.0f,
						     NULL, NULL);
		} else if (g->cfg.kind == GEN_CLF && g->cfg.explicit_) {
			*loss_after = (float)explicit_xent(g, p, NULL, ws, B, X, cur,
							   K, y, 1.0f, NULL, NULL);
		} else if (g->cfg.kind == GEN_CLF) {
			*loss_after = (float)linclass_loss(cur, D, K, X, y, B, 0.0f,
							   NULL, NULL);
		} else if (g->cfg.kind == GEN_MOG) {
			*loss_after = (float)mog_nll(cur, D, X, B, NULL, ws->resp);
		} else {
			struct rng rr;

			rng_seed(&rr, step_seed(rows_seen, 0));
			flow_noise(ws, &rr, B, D);
			*loss_after = (float)flow_loss(g, p, NULL, ws, cur, X, B,
						       1.0f, NULL);
		}
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

int gen_predict_probs(const struct gen *g, const float *p, struct gen_ws *ws,
		      const float *state, const float *X, int n, int D, int K,
		      float *probs)
{
	int i, k;

	if (g->cfg.kind != GEN_CLF || g->cfg.implicit_ || D < 1 || D > g->dx ||
	    K < 2 || K > LINCLASS_KMAX || n < 0)
		return AM_EINVAL;
	if (g->cfg.head) {
		if (n > 0)
			head_xent(g, p, NULL, ws, n, X, state, K, NULL, 1.0f, NULL,
				  probs);
		return AM_OK;
	}
	if (g->cfg.explicit_) {
		int rows = mlp_ws_rows(ws->mw);

		for (i = 0; i < n; i += rows) {
			int m = n - i < rows ? n - i : rows, r;

			for (r = 0; r < m; r++)
				memcpy(ws->zrow + (size_t)r * g->cfg.Z, state,
				       (size_t)g->cfg.Z * sizeof *state);
			mlp_forward(&g->f, p, ws->mw, m, X + (size_t)i * GEN_XMAX,
				    GEN_XMAX, ws->zrow, probs + (size_t)i * LINCLASS_KMAX);
		}
		for (i = 0; i < n; i++)
			for (k = K; k < LINCLASS_KMAX; k++)
				probs[(size_t)i * LINCLASS_KMAX + k] = -INFINITY;
	} else {
		linclass_logits(state, D, K, X, n, probs);
	}
	for (i = 0; i < n; i++) {
		float *q = probs + (size_t)i * LINCLASS_KMAX, m = q[0];
		double z = 0.0;

		for (k = 1; k < K; k++)
			m = fmaxf(m, q[k]);
		for (k = 0; k < LINCLASS_KMAX; k++) {
			q[k] = k < K ? expf(q[k] - m) : 0.0f;
			z += q[k];
		}
		for (k = 0; k < K; k++)
			q[k] = (float)(q[k] / z);
	}
	return AM_OK;
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
