/*
 * implicit.c - the implicit regime of classification and regression
 * (gen.h): a session keeps no adapted state, and the refiner refines a
 * state per query point (its logits, probabilities, mean or a latent read
 * out by a learned linear map) with every mini-batch.  The way (gen_way.h)
 * and the query read-outs and losses; gen.c runs the passes.
 */
#include "family/gen.h"

#include <math.h>
#include <string.h>

#include "base/am.h"
#include "family/gen_way.h"
#include "nn/softmax.h"

static double query_loss(const struct gen *g, const float *p, float *dp,
			 const float *qs, int n, int K, const int *y,
			 const float *t, float w, float *dqs);

/* Implicit query token: x_q, its state's features, active inputs, active
 * classes, counters, pass. */
#define FS_Q (2 * LINCLASS_DMAX + GEN_SQMAX + LINCLASS_KMAX + 3 + SETREF_PASSES_MAX)
/* Implicit observations: x and the one-hot label, or x and y. */
#define FO_ICLF (LINCLASS_DMAX + LINCLASS_KMAX)
#define FO_IREG (LINCLASS_DMAX + 1)
#define PROB_MIN 1e-6f			/* implicit probs: floor before log */

/* Floats per query state of an implicit configuration. */
int gen_query_floats(const struct gen_config *c)
{
	if (c->qstate == GEN_Q_LATENT)
		return c->Z;
	return c->kind == GEN_CLF ? LINCLASS_KMAX : 1;
}

/* Queries as tokens, one query's learned initial state, and the latent
 * state's read-out. */
static int implicit_init(struct gen *g, struct layout *params,
			 struct setref_config *sc)
{
	const struct gen_config *c = &g->cfg;
	int rc;

	g->sq = gen_query_floats(c);
	g->nstate = c->nq * g->sq;
	sc->nst = c->nq;
	sc->sd = g->sq;
	sc->fs = FS_Q;
	sc->fo = c->kind == GEN_CLF ? FO_ICLF : FO_IREG;
	sc->skip = 0;
	rc = setref_init_queries(&g->sr, params, "gen.ref", sc);
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

/* Uniform probabilities, mean 0 or latent 0; the latent's read-out. */
static void implicit_params(const struct gen *g, float *p, struct rng *r)
{
	int O = g->cfg.kind == GEN_CLF ? LINCLASS_KMAX : 1, k;

	memset(p + g->init, 0, (size_t)g->sq * sizeof *p);
	if (g->cfg.qstate != GEN_Q_LATENT)
		return;
	for (k = 0; k < O * g->cfg.Z; k++)
		p[g->ro_w + k] = (float)(rng_normal(r) / sqrt((double)g->cfg.Z));
	memset(p + g->ro_b, 0, (size_t)O * sizeof *p);
}

/* The log of a probability state's active entries (the refiner's input
 * for GEN_Q_PROBS). */
void gen_probs_to_log(const float *q, int K, float *u)
{
	int k;

	for (k = 0; k < LINCLASS_KMAX; k++)
		u[k] = k < K ? logf(fmaxf(q[k], PROB_MIN)) : 0.0f;
}

/* Softmax over the first K of u into q (zeros after, up to LINCLASS_KMAX). */
void gen_softmax_k(const float *u, int K, float *q)
{
	int k;

	softmax_forward(q, u, 1, K);
	for (k = K; k < LINCLASS_KMAX; k++)
		q[k] = 0.0f;
}

/* Implicit features of sequence i (queries and observations), its
 * active queries and K; no batch loss (0). */
static float implicit_features(const struct gen *g, const float *p,
			       struct gen_ws *ws, int i,
			       const struct gen_input *in, float gain,
			       int want_loss)
{
	int sq = g->sq, nq = in->nq, B = in->B, D = in->D, K = in->K, j, k, r;
	int clf = g->cfg.kind == GEN_CLF;
	int act = g->cfg.qstate == GEN_Q_LATENT ? sq : clf ? K : 1;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i), *fo = setref_fo(ws->sr, i);

	(void)p;
	(void)want_loss;
	AM_ASSERT(in->Q && nq >= 1 && nq <= g->cfg.nq);
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
		gen_counters(g, in, gain, f + LINCLASS_DMAX + LINCLASS_KMAX);
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
	setref_set_queries(ws->sr, i, nq);
	ws->qK[i] = K;
	return 0.0f;
}

/* The state is the queries' own, scored by their read-out. */
static double queries_loss(const struct gen *g, const float *p, float *dp,
			   struct gen_ws *ws, const float *state,
			   const struct gen_rows *q, struct rng *r, float w,
			   float *dstate)
{
	(void)ws, (void)r;
	return query_loss(g, p, dp, state, q->n, q->K, q->y, q->t, w, dstate);
}

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

			gen_softmax_k(out, K, pr);
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

void gen_query_init(const struct gen *g, const float *p, int n, int K, float *qs)
{
	const float *s = p + g->init;
	float q[GEN_SQMAX];
	int i;

	AM_ASSERT(g->cfg.regime == GEN_IMPLICIT);
	memcpy(q, s, (size_t)g->sq * sizeof *q);
	if (g->cfg.qstate == GEN_Q_PROBS)
		gen_softmax_k(s, K, q);	/* the learned init holds logits */
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

	AM_ASSERT(g->cfg.regime == GEN_IMPLICIT);
	if (g->cfg.qstate == GEN_Q_PROBS)
		gen_softmax_k(p + g->init, K, q);
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

void gen_query_probs(const struct gen *g, const float *p, const float *qs,
		     int n, int K, float *probs)
{
	float out[LINCLASS_KMAX];
	int i;

	AM_ASSERT(g->cfg.regime == GEN_IMPLICIT && g->cfg.kind == GEN_CLF);
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
		gen_softmax_k(out, K, pr);
	}
}

void gen_query_mean(const struct gen *g, const float *p, const float *qs,
		    int n, float *mean)
{
	int i;

	AM_ASSERT(g->cfg.regime == GEN_IMPLICIT && g->cfg.kind == GEN_REG);
	for (i = 0; i < n; i++)
		query_out(g, p, qs + (size_t)i * g->sq, 1, &mean[i]);
}

double gen_query_loss(const struct gen *g, const float *p, const float *qs,
		      int n, int K, const int *y, const float *t)
{
	AM_ASSERT(g->cfg.regime == GEN_IMPLICIT && n >= 1);
	return query_loss(g, p, NULL, qs, n, K, y, t, 1.0f, NULL);
}

const struct gen_way gen_way_implicit = {
	implicit_init, implicit_params,
	implicit_features, queries_loss
};
