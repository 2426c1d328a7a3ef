/*
 * amz.c - dispatch from the family-free session contract to each family.
 */
#include "amz.h"

#include <stdlib.h>
#include <string.h>

#include "am.h"
#include "gen.h"
#include "linreg.h"
#include "pca.h"
#include "refiner.h"

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
		gen_initial_state(a->impl, a->p, state);
		break;
	case AMZ_CLF:
		gen_initial_state(a->impl, a->p, state);
		state[a->nstate - 1] = (float)a->classes;
		break;
	}
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
		int lab[GEN_BMAX], K = amz_classes(a, state), i;

		if (!y || K < 2)
			return AM_EINVAL;
		for (i = 0; i < B; i++) {
			if (!(y[i] >= 0.0f && y[i] < (float)K) ||
			    y[i] != (float)(int)y[i])
				return AM_EINVAL;
			lab[i] = (int)y[i];
		}
		return gen_step(a->impl, a->p, ws->gen, state, X, lab, B, D, K,
				rows_seen, loss_before, loss_after);
	}
	case AMZ_MOG:
	case AMZ_FLOW:
		if (y)
			return AM_EINVAL;
		return gen_step(a->impl, a->p, ws->gen, state, X, NULL, B, D, 0,
				rows_seen, loss_before, loss_after);
	}
	return AM_EINVAL;
}

int amz_predict(const struct amz *a, const float *state, const float *X,
		int n, int D, float *mean, float *var)
{
	if (a->family != AMZ_LINREG || !a->has_mean || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	refiner_predict(state, X, n, mean, var);
	return AM_OK;
}

int amz_predict_probs(const struct amz *a, const float *state, const float *X,
		      int n, int D, float *probs)
{
	const struct gen *g = a->impl;
	struct gen_ws *ws = NULL;
	int rc;

	if (a->family != AMZ_CLF || D < 1 || D > a->dmax || n < 0)
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
