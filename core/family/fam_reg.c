/*
 * fam_reg.c - regression by a learned predictor (gen.h, GEN_REG): rows x
 * with a target y, a mean per row.  Explicit: the state is a task latent
 * read by the predictor network.  Implicit: the session keeps no adapted
 * state and a query's mean is refined with every mini-batch (amz.h).
 * Training as every set-refiner kind (fam_gen.h).
 */
#include "family/fam_gen.h"

#include <math.h>

#include "base/am.h"

static const struct gen *gen_of(const struct amz *a)
{
	return &((const struct fam_gen_model *)a->m)->g;
}

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
	return gen_step_reg(gen_of(a), a->p, ws, state, X, y, B, D, rows_seen,
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
	ws = gen_ws_new(gen_of(a), 1, 1);
	if (!ws)
		return AM_ENOMEM;
	rc = gen_predict_mean(gen_of(a), a->p, ws, state, X, n, mean);
	gen_ws_free(ws);
	return rc;
}

static int reg_query_init(const struct amz *a, const float *state, int n,
			  float *qs)
{
	(void)state;
	gen_query_init(gen_of(a), a->p, n, 0, qs);
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
	return gen_query_step(gen_of(a), a->p, ws, Q, n, qs, X, NULL, y, B, D,
			      0, rows_seen);
}

static int reg_query_mean(const struct amz *a, const float *state,
			  const float *qs, int n, float *mean)
{
	(void)state;
	gen_query_mean(gen_of(a), a->p, qs, n, mean);
	return AM_OK;
}

static float reg_query_loss(const struct amz *a, const float *state,
			    const float *qs, const float *y, int n)
{
	(void)state;
	if (!fam_gen_finite(y, n))
		return NAN;
	return (float)gen_query_loss(gen_of(a), a->p, qs, n, 0, NULL, y);
}

const struct family_ops fam_reg = {
	.name = "reg",
	FAM_GEN_TRAINING,
	.open = fam_gen_open,
	.bind = reg_bind,
	.session_ws = fam_gen_session_ws,
	.session_ws_free = fam_gen_session_ws_free,
	.session_start = fam_gen_session_start,
	.step = reg_step,
	.predict_mean = reg_predict_mean,
	.query_init = reg_query_init,
	.query_step = reg_query_step,
	.query_mean = reg_query_mean,
	.query_loss = reg_query_loss,
};
