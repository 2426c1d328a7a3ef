/*
 * amz.c - dispatch from the family-free session contract to each family.
 */
#include "family/amz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/gen.h"
#include "tasks/linreg.h"
#include "data/pca.h"
#include "refine/refiner.h"

struct amz_ws {
	enum amz_family family;
	struct refiner_ws *ref;		/* linreg */
	struct gen_ws *gen;		/* mog, flow */
};

const char *amz_family_name(enum amz_family f)
{
	switch (f) {
	case AMZ_LINREG: return "linreg";
	case AMZ_MOG: return "mog";
	case AMZ_FLOW: return "flow";
	case AMZ_CLF: return "clf";
	case AMZ_REG: return "reg";
	}
	return "?";
}

struct amz_ws *amz_ws_new(const struct amz *a)
{
	struct amz_ws *ws = calloc(1, sizeof *ws);

	if (!ws)
		return NULL;
	ws->family = a->family;
	switch (a->family) {
	case AMZ_LINREG:
		ws->ref = refiner_ws_new(a->impl, 1, a->bmax);
		if (!ws->ref)
			goto fail;
		break;
	case AMZ_MOG:
	case AMZ_FLOW:
	case AMZ_CLF:
	case AMZ_REG:
		ws->gen = gen_ws_new(a->impl, 1, a->bmax);
		if (!ws->gen)
			goto fail;
		break;
	}
	return ws;
fail:
	amz_ws_free(ws);
	return NULL;
}

void amz_ws_free(struct amz_ws *ws)
{
	if (!ws)
		return;
	refiner_ws_free(ws->ref);
	gen_ws_free(ws->gen);
	free(ws);
}

void amz_initial_state(const struct amz *a, float *state)
{
	memset(state, 0, (size_t)a->nstate * sizeof *state);
	switch (a->family) {
	case AMZ_LINREG:
		refiner_initial_state(a->impl, a->p, state);
		break;
	case AMZ_MOG:
	case AMZ_FLOW:
	case AMZ_REG:
		if (!a->implicit)
			gen_initial_state(a->impl, a->p, state);
		break;
	case AMZ_CLF:
		if (!a->implicit)
			gen_initial_state(a->impl, a->p, state);
		state[a->nstate - 1] = (float)a->classes;
		break;
	}
}

/* Checks a classification batch's labels against the session's K. */
static int labels(const struct amz *a, const float *state, const float *y,
		  int B, int *lab)
{
	int K = amz_classes(a, state), i;

	if (!y || K < 2)
		return AM_EINVAL;
	for (i = 0; i < B; i++) {
		if (!(y[i] >= 0.0f && y[i] < (float)K) || y[i] != (float)(int)y[i])
			return AM_EINVAL;
		lab[i] = (int)y[i];
	}
	return AM_OK;
}

static int finite_all(const float *y, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return 0;
	return 1;
}

int amz_step(const struct amz *a, struct amz_ws *ws, float *state,
	     const float *X, const float *y, int B, int D, double rows_seen,
	     float *loss_before, float *loss_after)
{
	int rc;

	if (B < 1 || B > a->bmax || D < 1 || D > a->dmax)
		return AM_EINVAL;
	switch (a->family) {
	case AMZ_LINREG: {
		float g[LINREG_P], before = 0;

		if (!y)
			return AM_EINVAL;
		rc = refiner_step(a->impl, a->p, ws->ref, state, X, y, B, D,
				  rows_seen, &before);
		if (rc != AM_OK)
			return rc;
		if (loss_before)
			*loss_before = before;
		if (loss_after)
			*loss_after = linreg_grad(g, X, y, state, B);
		return AM_OK;
	}
	case AMZ_CLF: {
		int lab[GEN_BMAX];

		if (labels(a, state, y, B, lab) != AM_OK)
			return AM_EINVAL;
		if (a->implicit)
			break;
		return gen_step(a->impl, a->p, ws->gen, state, X, lab, B, D,
				amz_classes(a, state), rows_seen, loss_before,
				loss_after);
	}
	case AMZ_REG:
		if (!y || !finite_all(y, B))
			return AM_EINVAL;
		if (a->implicit)
			break;
		return gen_step_reg(a->impl, a->p, ws->gen, state, X, y, B, D,
				    rows_seen, loss_before, loss_after);
	case AMZ_MOG:
	case AMZ_FLOW:
		if (y)
			return AM_EINVAL;
		return gen_step(a->impl, a->p, ws->gen, state, X, NULL, B, D, 0,
				rows_seen, loss_before, loss_after);
	default:
		return AM_EINVAL;
	}
	/* implicit: the batch is valid; the session keeps no adapted state */
	if (loss_before)
		*loss_before = 0.0f;
	if (loss_after)
		*loss_after = 0.0f;
	return AM_OK;
}

int amz_predict(const struct amz *a, const float *state, const float *X,
		int n, int D, float *mean, float *var)
{
	struct gen_ws *ws;
	int rc;

	if (!a->has_mean || a->implicit || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	if (a->family == AMZ_LINREG) {
		refiner_predict(state, X, n, mean, var);
		return AM_OK;
	}
	if (a->family != AMZ_REG || var)
		return AM_EINVAL;
	ws = gen_ws_new(a->impl, 1, 1);
	if (!ws)
		return AM_ENOMEM;
	rc = gen_predict_mean(a->impl, a->p, ws, state, X, n, mean);
	gen_ws_free(ws);
	return rc;
}

int amz_predict_probs(const struct amz *a, const float *state, const float *X,
		      int n, int D, float *probs)
{
	const struct gen *g = a->impl;
	struct gen_ws *ws = NULL;
	int rc;

	if (a->family != AMZ_CLF || a->implicit || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	/* the explicit regime runs its predictor network: scratch for it */
	if (g->cfg.explicit_ && !(ws = gen_ws_new(g, 1, 1)))
		return AM_ENOMEM;
	rc = gen_predict_probs(g, a->p, ws, state, X, n, D, amz_classes(a, state),
			       probs);
	gen_ws_free(ws);
	return rc;
}

int amz_classes(const struct amz *a, const float *state)
{
	float k;

	if (a->family != AMZ_CLF)
		return 0;
	k = state[a->nstate - 1];
	return k >= 2.0f && k <= (float)a->classes ? (int)k : 0;
}

int amz_set_classes(const struct amz *a, float *state, int K)
{
	if (a->family != AMZ_CLF || K < 2 || K > a->classes)
		return AM_EINVAL;
	state[a->nstate - 1] = (float)K;
	return AM_OK;
}

int amz_project(const struct amz *a, const float *pix, int n, float *out)
{
	const struct pca *pc = a->pca;
	float f[GEN_XMAX], row[AMZ_NPIX_MAX];
	int i, j;

	if (!pc || a->npix < 1 || n < 0)
		return AM_EINVAL;
	for (i = 0; i < n; i++) {
		for (j = 0; j < a->npix; j++)
			row[j] = pix[(size_t)i * a->npix + j] / 255.0f;
		pca_project(pc, row, 1, f);
		memset(out + (size_t)i * a->dmax, 0, (size_t)a->dmax * sizeof *out);
		memcpy(out + (size_t)i * a->dmax, f, (size_t)pc->k * sizeof *out);
	}
	return AM_OK;
}

int amz_log_density(const struct amz *a, const float *state, const float *X,
		    int n, int D, float *out)
{
	if (!a->has_density || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	return gen_log_density(a->impl, state, X, n, D, out);
}

int amz_sample(const struct amz *a, struct amz_ws *ws, const float *state,
	       int D, int n, uint64_t seed, float *out)
{
	struct rng r;

	if (!a->can_sample || D < 1 || D > a->dmax || n < 1 ||
	    n > AMZ_SAMPLE_MAX)
		return AM_EINVAL;
	rng_seed(&r, seed);
	gen_sample(a->impl, a->p, ws->gen, state, D, n, &r, out);
	return AM_OK;
}

/* ---- the implicit regime ------------------------------------------------ */

int amz_query_init(const struct amz *a, const float *state, int n, float *qs)
{
	int K = a->family == AMZ_CLF ? amz_classes(a, state) : 0;

	if (!a->implicit || n < 0 || (a->family == AMZ_CLF && K < 2))
		return AM_EINVAL;
	gen_query_init(a->impl, a->p, n, K, qs);
	return AM_OK;
}

int amz_query_step(const struct amz *a, struct amz_ws *ws, const float *state,
		   const float *Q, int n, float *qs, const float *X,
		   const float *y, int B, int D, double rows_seen)
{
	int lab[GEN_BMAX];

	if (!a->implicit || n < 0 || B < 1 || B > a->bmax || D < 1 ||
	    D > a->dmax || !y)
		return AM_EINVAL;
	if (a->family == AMZ_CLF) {
		if (labels(a, state, y, B, lab) != AM_OK)
			return AM_EINVAL;
		if (n == 0)
			return AM_OK;
		return gen_query_step(a->impl, a->p, ws->gen, Q, n, qs, X, lab,
				      NULL, B, D, amz_classes(a, state),
				      rows_seen);
	}
	if (!finite_all(y, B))
		return AM_EINVAL;
	if (n == 0)
		return AM_OK;
	return gen_query_step(a->impl, a->p, ws->gen, Q, n, qs, X, NULL, y, B, D,
			      0, rows_seen);
}

int amz_query_probs(const struct amz *a, const float *state, const float *qs,
		    int n, float *probs)
{
	int K = amz_classes(a, state);

	if (!a->implicit || a->family != AMZ_CLF || K < 2 || n < 0)
		return AM_EINVAL;
	gen_query_probs(a->impl, a->p, qs, n, K, probs);
	return AM_OK;
}

int amz_query_mean(const struct amz *a, const float *state, const float *qs,
		   int n, float *mean)
{
	(void)state;
	if (!a->implicit || a->family != AMZ_REG || n < 0)
		return AM_EINVAL;
	gen_query_mean(a->impl, a->p, qs, n, mean);
	return AM_OK;
}

float amz_query_loss(const struct amz *a, const float *state, const float *qs,
		     const float *y, int n)
{
	int *lab, rc;
	double l;

	if (!a->implicit || n < 1 || !y)
		return NAN;
	if (a->family == AMZ_REG)
		return finite_all(y, n) ?
		       (float)gen_query_loss(a->impl, a->p, qs, n, 0, NULL, y) : NAN;
	lab = malloc((size_t)n * sizeof *lab);
	if (!lab)
		return NAN;
	rc = AM_OK;
	{
		int K = amz_classes(a, state), i;

		for (i = 0; i < n && rc == AM_OK; i++) {
			if (!(y[i] >= 0.0f && y[i] < (float)K) ||
			    y[i] != (float)(int)y[i])
				rc = AM_EINVAL;
			else
				lab[i] = (int)y[i];
		}
		l = rc == AM_OK ? gen_query_loss(a->impl, a->p, qs, n, K, lab, NULL) :
		    NAN;
	}
	free(lab);
	return (float)l;
}
