/*
 * fam_reg.c - regression by a learned predictor (gen.h, GEN_REG): rows x
 * with a target y, a mean per row.  Explicit: the state is a task latent
 * read by the predictor network.  Implicit: the session keeps no adapted
 * state and a query's mean is refined with every mini-batch (amz.h).
 * Training as every set-refiner kind (fam_gen.h).
 */
#include "family/fam_gen.h"

#include <math.h>
#include <string.h>

#include "base/am.h"
#include "family/gen_way.h"

/* ---- the way explicit regression refines (gen_way.h) ------------------- */

/* Explicit regression observation: x, y, the prediction, the residual. */
#define FO_REG (LINCLASS_DMAX + 3)

/* Explicit regression's loss: half the mean squared error of f(x, z). */
static double mse_loss(const struct gen *g, const float *p, float *dp,
		       struct gen_ws *ws, const float *state,
		       const struct gen_rows *q, struct rng *r, float w,
		       float *dstate)
{
	(void)r;
	AM_ASSERT(q->n <= GEN_QMAX);
	return mlp_mse(&g->f, p, dp, ws->mw, q->n, q->X, GEN_XMAX, state, 0,
		       q->t, w, dstate, NULL);
}


int gen_predict_mean(const struct gen *g, const float *p, struct gen_ws *ws,
		     const float *state, const float *X, int n, float *mean)
{
	int rows, i, r;

	if (g->cfg.kind != GEN_REG || !gen_has_predictor(&g->cfg) || n < 0)
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

/* Explicit regression features of sequence i: the latent's tokens and
 * the observations (x, y, the prediction, the residual); returns half
 * the batch's mean squared error. */
static float reg_features(const struct gen *g, const float *p,
			  struct gen_ws *ws, int i, const struct gen_input *in,
			  float gain, int want_loss)
{
	double loss;
	int r;

	(void)want_loss;
	loss = mlp_mse(&g->f, p, NULL, ws->mw, in->B, in->X, GEN_XMAX, in->state,
		       0, in->t, 1.0f, ws->grad, ws->resp);
	gen_latent_tokens(g, ws, i, in, gain);
	if (g->cfg.variant == GEN_GRAD)
		return (float)loss;
	for (r = 0; r < in->B; r++) {
		float *o = setref_fo(ws->sr, i) + (size_t)r * FO_REG;

		memcpy(o, in->X + (size_t)r * GEN_XMAX, LINCLASS_DMAX * sizeof *o);
		o[LINCLASS_DMAX] = in->t[r];
		o[LINCLASS_DMAX + 1] = ws->resp[r];
		o[LINCLASS_DMAX + 2] = in->t[r] - ws->resp[r];
	}
	return (float)loss;
}

/* A latent chunk per token; observations unless the variant is grad. */
static int reg_init(struct gen *g, struct layout *params,
		    struct setref_config *sc)
{
	sc->fs = GEN_FS_LATENT;
	sc->fo = g->cfg.variant == GEN_GRAD ? 0 : FO_REG;
	return gen_explicit_init(g, params, sc);
}

const struct gen_way gen_way_reg = {
	reg_init, gen_explicit_params,
	reg_features, mse_loss
};

/* ---- sessions ---------------------------------------------------------- */

static void reg_bind(const void *m, struct amz *a)
{
	fam_gen_bind(m, a, &fam_reg);
	a->has_y = 1;
	a->has_mean = 1;
}

static int reg_step(const struct amz *a, void *ws, float *state,
		    const float *X, const float *y, int B, int D,
		    double rows_seen, float *loss_before, float *loss_after)
{
	if (!y || !fam_gen_finite(y, B))
		return AM_EINVAL;
	if (a->implicit)
		return fam_gen_implicit_step(loss_before, loss_after);
	return gen_step_reg(fam_gen_of(a), a->p, ws, state, X, y, B, D, rows_seen,
			    loss_before, loss_after);
}

/* A mean alone: no variance. */
static int reg_predict_mean(const struct amz *a, const float *state,
			    const float *X, int n, int D, float *mean,
			    float *var)
{
	struct gen_ws *ws;
	int rc;

	(void)D;
	if (var)
		return AM_EINVAL;
	ws = gen_ws_new(fam_gen_of(a), 1, 1);
	if (!ws)
		return AM_ENOMEM;
	rc = gen_predict_mean(fam_gen_of(a), a->p, ws, state, X, n, mean);
	gen_ws_free(ws);
	return rc;
}

static int reg_query_init(const struct amz *a, const float *state, int n,
			  float *qs)
{
	(void)state;
	gen_query_init(fam_gen_of(a), a->p, n, 0, qs);
	return AM_OK;
}

static int reg_query_step(const struct amz *a, void *ws, const float *state,
			  const float *Q, int n, float *qs, const float *X,
			  const float *y, int B, int D, double rows_seen)
{
	(void)state;
	if (!fam_gen_finite(y, B))
		return AM_EINVAL;
	if (n == 0)
		return AM_OK;
	return gen_query_step(fam_gen_of(a), a->p, ws, Q, n, qs, X, NULL, y, B, D,
			      0, rows_seen);
}

static int reg_query_mean(const struct amz *a, const float *state,
			  const float *qs, int n, float *mean)
{
	(void)state;
	gen_query_mean(fam_gen_of(a), a->p, qs, n, mean);
	return AM_OK;
}

static float reg_query_loss(const struct amz *a, const float *state,
			    const float *qs, const float *y, int n)
{
	(void)state;
	if (!fam_gen_finite(y, n))
		return NAN;
	return (float)gen_query_loss(fam_gen_of(a), a->p, qs, n, 0, NULL, y);
}

const struct family_ops fam_reg = {
	.name = "reg",
	FAM_GEN_TRAINING,
	FAM_GEN_SESSION,
	.bind = reg_bind,
	.session_start = fam_gen_session_start,
	.step = reg_step,
	.predict_mean = reg_predict_mean,
	.query_init = reg_query_init,
	.query_step = reg_query_step,
	.query_mean = reg_query_mean,
	.query_loss = reg_query_loss,
};
