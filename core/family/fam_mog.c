/*
 * fam_mog.c - mixtures (gen.h, GEN_MOG): a session adapts a diagonal
 * Gaussian mixture to a stream of x rows; its log-density is exact, and
 * so is sampling.  Training as every set-refiner kind (fam_gen.h).
 */
#include "family/fam_gen.h"

#include <math.h>
#include <string.h>

#include "base/am.h"
#include "family/gen_way.h"

/* ---- the way mixtures refine (gen_way.h) -------------------------------- */

/* Mixture component token: log weight, mean, log sd (MOG_T); the EM step
 * (MOG_T); N_k / B; active dims; 3 counters; pass one-hot. */
#define FS_MOG (2 * MOG_T + 1 + GEN_DMAX + 3 + SETREF_PASSES_MAX)
/* Mixture observation: x, responsibilities, log-density / 10. */
#define FO_MOG (GEN_DMAX + MOG_KMAX + 1)

/* A token per mixture component. */
static int mog_init(struct gen *g, struct layout *params,
		    struct setref_config *sc)
{
	g->nstate = MOG_P;
	sc->nst = MOG_KMAX;
	sc->sd = MOG_T;
	sc->fs = FS_MOG;
	sc->fo = g->cfg.variant == GEN_GRAD ? 0 : FO_MOG;
	return gen_state_init(g, params, sc);
}

/* A spread-out mixture: means on a small random cloud, unit sds, equal
 * weights. */
static void mog_params(const struct gen *g, float *p, struct rng *r)
{
	float *s = p + g->init;
	int k, j;

	memset(s, 0, (size_t)g->nstate * sizeof *s);
	for (k = 0; k < MOG_KMAX; k++)
		for (j = 0; j < MOG_DMAX; j++)
			s[k * MOG_T + 1 + j] = 0.5f * (float)rng_normal(r);
}

/* Mixture features of sequence i; returns its batch NLL. */
static float mog_features(const struct gen *g, const float *p,
			  struct gen_ws *ws, int i, const struct gen_input *in,
			  float gain, int want_loss)
{
	const float *th = in->state;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);
	double lse = -INFINITY, nll;
	int B = in->B, D = in->D, k, j, r;

	(void)p;
	(void)want_loss;
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
		gen_counters(g, in, gain, f + 2 * MOG_T + 1 + GEN_DMAX);
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

static double mog_loss(const struct gen *g, const float *p, float *dp,
		       struct gen_ws *ws, const float *state,
		       const struct gen_rows *q, struct rng *r, float w,
		       float *dstate)
{
	double l;

	(void)g, (void)p, (void)dp, (void)ws, (void)r;
	AM_ASSERT(q->n <= GEN_QMAX);
	l = mog_nll(state, q->D, q->X, q->n, dstate, NULL);
	if (dstate)
		gen_scale(dstate, MOG_P, w);
	return l;
}


const struct gen_way gen_way_mog = {
	mog_init, mog_params,
	mog_features, mog_loss
};

/* ---- sessions ---------------------------------------------------------- */

static void mog_bind(const void *m, struct amz *a)
{
	fam_gen_bind(m, a, &fam_mog);
	a->has_density = 1;
	a->can_sample = 1;
}

static int mog_log_density(const struct amz *a, const float *state,
			   const float *X, int n, int D, float *out)
{
	return gen_log_density(fam_gen_of(a), state, X, n, D, out);
}

const struct family_ops fam_mog = {
	.name = "mog",
	FAM_GEN_TRAINING,
	FAM_GEN_SESSION,
	.bind = mog_bind,
	.session_start = fam_gen_session_start,
	.step = fam_gen_step_rows,
	.log_density = mog_log_density,
	.sample = fam_gen_sample,
};
