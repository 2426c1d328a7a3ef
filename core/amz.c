/*
 * amz.c - dispatch from the family-free session contract to each family.
 */
#include "amz.h"

#include <stdlib.h>
#include <string.h>

#include "am.h"
#include "linreg.h"
#include "refiner.h"

struct amz_ws {
	enum amz_family family;
	struct refiner_ws *ref;		/* linreg */
};

const char *amz_family_name(enum amz_family f)
{
	switch (f) {
	case AMZ_LINREG: return "linreg";
	case AMZ_MOG: return "mog";
	case AMZ_FLOW: return "flow";
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
	default:
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
	free(ws);
}

void amz_initial_state(const struct amz *a, float *state)
{
	memset(state, 0, (size_t)a->nstate * sizeof *state);
	switch (a->family) {
	case AMZ_LINREG:
		refiner_initial_state(a->impl, a->p, state);
		break;
	default:
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
	default:
		return AM_EINVAL;
	}
}

int amz_predict(const struct amz *a, const float *state, const float *X,
		int n, int D, float *mean, float *var)
{
	if (!a->has_mean || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	refiner_predict(state, X, n, mean, var);
	return AM_OK;
}

int amz_log_density(const struct amz *a, const float *state, const float *X,
		    int n, int D, float *out)
{
	(void)state, (void)X, (void)out;
	if (!a->has_density || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	return AM_EINVAL;
}

int amz_sample(const struct amz *a, struct amz_ws *ws, const float *state,
	       int D, int n, uint64_t seed, float *out)
{
	(void)ws, (void)state, (void)seed, (void)out;
	if (!a->can_sample || D < 1 || D > a->dmax || n < 1 ||
	    n > AMZ_SAMPLE_MAX)
		return AM_EINVAL;
	return AM_EINVAL;
}
