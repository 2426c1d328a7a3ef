/*
 * fam_clf.c - classification (gen.h, GEN_CLF): rows x with a label in
 * [0, K), class probabilities per row.  A session's state ends with one
 * float more than the refiner's, its number of classes K (amz.h).
 * Parametric (a softmax linear classifier), explicit (a task latent read
 * by a learned predictor) or implicit (no adapted state; a query's
 * prediction is refined with every mini-batch).  Training as every
 * set-refiner kind (fam_gen.h).
 */
#include "family/fam_gen.h"

#include <math.h>
#include <stdlib.h>

#include "base/am.h"

static const struct gen *gen_of(const struct amz *a)
{
	return &((const struct fam_gen_model *)a->m)->g;
}

static void clf_bind(const void *m, struct amz *a)
{
	const struct fam_gen_model *gm = m;

	fam_gen_bind(m, a, &fam_clf);
	if (!a->implicit)
		a->nstate++;		/* K after the refiner's state */
	a->has_y = 1;
	a->has_labels = 1;
	a->classes = gm->cfg.tasks.cfam.kmax;
}

static void clf_start(const struct amz *a, float *state)
{
	fam_gen_session_start(a, state);
	state[a->nstate - 1] = (float)a->classes;
}

/* The labels y of n rows as integers in [0, K) into lab. */
static int labels(int K, const float *y, int n, int *lab)
{
	int i;

	if (!y || K < 2)
		return AM_EINVAL;
	for (i = 0; i < n; i++) {
		if (!(y[i] >= 0.0f && y[i] < (float)K) || y[i] != (float)(int)y[i])
			return AM_EINVAL;
		lab[i] = (int)y[i];
	}
	return AM_OK;
}

static int clf_step(const struct amz *a, void *ws, float *state,
		    const float *X, const float *y, int B, int D,
		    double rows_seen, float *loss_before, float *loss_after)
{
	int K = amz_classes(a, state), lab[GEN_BMAX];

	if (labels(K, y, B, lab) != AM_OK)
		return AM_EINVAL;
	if (a->implicit)
		return fam_gen_implicit_step(loss_before, loss_after);
	return gen_step(gen_of(a), a->p, ws, state, X, lab, B, D, K, rows_seen,
			loss_before, loss_after);
}

static int clf_predict_probs(const struct amz *a, const float *state,
			     const float *X, int n, int D, float *probs)
{
	const struct gen *g = gen_of(a);
	struct gen_ws *ws = NULL;
	int rc;

	/* the explicit regime runs its predictor network: scratch for it */
	if (g->cfg.explicit_ && !(ws = gen_ws_new(g, 1, 1)))
		return AM_ENOMEM;
	rc = gen_predict_probs(g, a->p, ws, state, X, n, D, amz_classes(a, state),
			       probs);
	gen_ws_free(ws);
	return rc;
}

static int clf_query_init(const struct amz *a, const float *state, int n,
			  float *qs)
{
	int K = amz_classes(a, state);

	if (K < 2)
		return AM_EINVAL;
	gen_query_init(gen_of(a), a->p, n, K, qs);
	return AM_OK;
}

static int clf_query_step(const struct amz *a, void *ws, const float *state,
			  const float *Q, int n, float *qs, const float *X,
			  const float *y, int B, int D, double rows_seen)
{
	int K = amz_classes(a, state), lab[GEN_BMAX];

	if (labels(K, y, B, lab) != AM_OK)
		return AM_EINVAL;
	if (n == 0)
		return AM_OK;
	return gen_query_step(gen_of(a), a->p, ws, Q, n, qs, X, lab, NULL, B, D,
			      K, rows_seen);
}

static int clf_query_probs(const struct amz *a, const float *state,
			   const float *qs, int n, float *probs)
{
	int K = amz_classes(a, state);

	if (K < 2)
		return AM_EINVAL;
	gen_query_probs(gen_of(a), a->p, qs, n, K, probs);
	return AM_OK;
}

static float clf_query_loss(const struct amz *a, const float *state,
			    const float *qs, const float *y, int n)
{
	int K = amz_classes(a, state), *lab = malloc((size_t)n * sizeof *lab);
	double l = NAN;

	if (lab && labels(K, y, n, lab) == AM_OK)
		l = gen_query_loss(gen_of(a), a->p, qs, n, K, lab, NULL);
	free(lab);
	return (float)l;
}

const struct family_ops fam_clf = {
	.name = "clf",
	FAM_GEN_TRAINING,
	.open = fam_gen_open,
	.bind = clf_bind,
	.session_ws = fam_gen_session_ws,
	.session_ws_free = fam_gen_session_ws_free,
	.session_start = clf_start,
	.step = clf_step,
	.predict_probs = clf_predict_probs,
	.query_init = clf_query_init,
	.query_step = clf_query_step,
	.query_probs = clf_query_probs,
	.query_loss = clf_query_loss,
};
