/*
 * fam_flow.c - flows (gen.h, GEN_FLOW): a session refines a task latent
 * from a stream of x rows, and samples by integrating the velocity
 * network it conditions.  No density.  Training as every set-refiner kind
 * (fam_gen.h).
 */
#include "family/fam_gen.h"

#include <string.h>

#include "base/am.h"
#include "family/gen_way.h"

/* ---- the way flows refine (gen_way.h) ----------------------------------- */

/* Flow latent token: z chunk, gradient chunk, active dims, counters, pass. */
#define FS_FLOW (2 * GEN_ZTOK + GEN_DMAX + 3 + SETREF_PASSES_MAX)
#define FO_FLOW GEN_DMAX

/* The velocity network, then a latent in tokens of 8. */
static int flow_init(struct gen *g, struct layout *params,
		     struct setref_config *sc)
{
	const struct gen_config *c = &g->cfg;
	struct velo_config vc = { c->Z, c->vH, c->vL };
	int rc;

	g->nstate = c->Z;
	sc->nst = c->Z / GEN_ZTOK;
	sc->sd = GEN_ZTOK;
	sc->fs = FS_FLOW;
	sc->fo = c->variant == GEN_GRAD ? 0 : FO_FLOW;
	rc = velo_init(&g->ve, params, &vc);
	return rc != AM_OK ? rc : gen_state_init(g, params, sc);
}

/* z = 0; the velocity network. */
static void flow_params(const struct gen *g, float *p, struct rng *r)
{
	memset(p + g->init, 0, (size_t)g->nstate * sizeof *p);
	velo_init_params(&g->ve, p, r);
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
		gen_counters(g, in, gain, f + 2 * GEN_ZTOK + GEN_DMAX);
	}
	if (g->cfg.variant != GEN_GRAD) {
		float *fo = setref_fo(ws->sr, i);

		for (r = 0; r < in->B; r++)
			memcpy(fo + (size_t)r * FO_FLOW, in->X + (size_t)r * GEN_DMAX,
			       GEN_DMAX * sizeof *fo);
	}
	return loss;
}

static double flow_rows_loss(const struct gen *g, const float *p, float *dp,
			     struct gen_ws *ws, const float *state,
			     const struct gen_rows *q, struct rng *r, float w,
			     float *dstate)
{
	AM_ASSERT(q->n <= GEN_QMAX);
	flow_noise(ws, r, q->n, q->D);
	return flow_loss(g, p, dp, ws, state, q->X, q->n, w, dstate);
}

const struct gen_way gen_way_flow = {
	flow_init, flow_params,
	flow_features, flow_rows_loss
};

/* ---- sessions ---------------------------------------------------------- */

static void flow_bind(const void *m, struct amz *a)
{
	fam_gen_bind(m, a, &fam_flow);
	a->can_sample = 1;
}

const struct family_ops fam_flow = {
	.name = "flow",
	FAM_GEN_TRAINING,
	FAM_GEN_SESSION,
	.bind = flow_bind,
	.session_start = fam_gen_session_start,
	.step = fam_gen_step_rows,
	.sample = fam_gen_sample,
};
