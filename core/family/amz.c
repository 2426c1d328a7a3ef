/*
 * amz.c - the session contract: checks what every family shares (sizes,
 * batch rows, active columns, counts) and calls the family's entry
 * (family.h).  A NULL entry is a family that cannot: AM_EINVAL.
 */
#include "family/amz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "data/pca.h"
#include "family/family.h"

struct amz_ws {
	const struct family_ops *ops;
	void *w;			/* the family's session scratch */
};

const char *amz_name(const struct amz *a)
{
	return a->ops->name;
}

struct amz_ws *amz_ws_new(const struct amz *a)
{
	struct amz_ws *ws = calloc(1, sizeof *ws);

	if (!ws)
		return NULL;
	ws->ops = a->ops;
	ws->w = a->ops->session_ws(a);
	if (!ws->w) {
		free(ws);
		return NULL;
	}
	return ws;
}

void amz_ws_free(struct amz_ws *ws)
{
	if (!ws)
		return;
	ws->ops->session_ws_free(ws->w);
	free(ws);
}

void amz_initial_state(const struct amz *a, float *state)
{
	memset(state, 0, (size_t)a->nstate * sizeof *state);
	a->ops->session_start(a, state);
}

/* A batch of B rows with D active columns fits the model. */
static int batch_ok(const struct amz *a, int B, int D)
{
	return B >= 1 && B <= a->bmax && D >= 1 && D <= a->dmax;
}

int amz_step(const struct amz *a, struct amz_ws *ws, float *state,
	     const float *X, const float *y, int B, int D, double rows_seen,
	     float *loss_before, float *loss_after)
{
	if (!batch_ok(a, B, D))
		return AM_EINVAL;
	return a->ops->step(a, ws->w, state, X, y, B, D, rows_seen, loss_before,
			    loss_after);
}

int amz_predict(const struct amz *a, const float *state, const float *X,
		int n, int D, float *mean, float *var)
{
	if (!a->ops->predict_mean || a->implicit || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	return a->ops->predict_mean(a, state, X, n, D, mean, var);
}

int amz_predict_probs(const struct amz *a, const float *state, const float *X,
		      int n, int D, float *probs)
{
	if (!a->ops->predict_probs || a->implicit || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	return a->ops->predict_probs(a, state, X, n, D, probs);
}

int amz_classes(const struct amz *a, const float *state)
{
	float k;

	if (!a->has_labels)
		return 0;
	k = state[a->nstate - 1];
	return k >= 2.0f && k <= (float)a->classes ? (int)k : 0;
}

int amz_set_classes(const struct amz *a, float *state, int K)
{
	if (!a->has_labels || K < 2 || K > a->classes)
		return AM_EINVAL;
	state[a->nstate - 1] = (float)K;
	return AM_OK;
}

int amz_project(const struct amz *a, const float *pix, int n, float *out)
{
	const struct pca *pc = a->pca;
	float f[AMZ_DMAX], row[AMZ_NPIX_MAX];
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
	if (!a->ops->log_density || D < 1 || D > a->dmax || n < 0)
		return AM_EINVAL;
	return a->ops->log_density(a, state, X, n, D, out);
}

int amz_sample(const struct amz *a, struct amz_ws *ws, const float *state,
	       int D, int n, uint64_t seed, float *out)
{
	struct rng r;

	if (!a->ops->sample || D < 1 || D > a->dmax || n < 1 ||
	    n > AMZ_SAMPLE_MAX)
		return AM_EINVAL;
	rng_seed(&r, seed);
	return a->ops->sample(a, ws->w, state, D, n, &r, out);
}

/* ---- the implicit regime ------------------------------------------------ */

int amz_query_init(const struct amz *a, const float *state, int n, float *qs)
{
	if (!a->implicit || !a->ops->query_init || n < 0)
		return AM_EINVAL;
	return a->ops->query_init(a, state, n, qs);
}

int amz_query_step(const struct amz *a, struct amz_ws *ws, const float *state,
		   const float *Q, int n, float *qs, const float *X,
		   const float *y, int B, int D, double rows_seen)
{
	if (!a->implicit || !a->ops->query_step || n < 0 || !batch_ok(a, B, D) ||
	    !y)
		return AM_EINVAL;
	return a->ops->query_step(a, ws->w, state, Q, n, qs, X, y, B, D,
				  rows_seen);
}

int amz_query_probs(const struct amz *a, const float *state, const float *qs,
		    int n, float *probs)
{
	if (!a->implicit || !a->ops->query_probs || n < 0)
		return AM_EINVAL;
	return a->ops->query_probs(a, state, qs, n, probs);
}

int amz_query_mean(const struct amz *a, const float *state, const float *qs,
		   int n, float *mean)
{
	if (!a->implicit || !a->ops->query_mean || n < 0)
		return AM_EINVAL;
	return a->ops->query_mean(a, state, qs, n, mean);
}

float amz_query_loss(const struct amz *a, const float *state, const float *qs,
		     const float *y, int n)
{
	if (!a->implicit || !a->ops->query_loss || n < 1 || !y)
		return NAN;
	return a->ops->query_loss(a, state, qs, y, n);
}
