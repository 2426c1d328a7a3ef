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
#include <string.h>

#include "base/am.h"
#include "family/gen_way.h"

/* ---- the ways classification refines (gen_way.h) ----------------------- */

/* Class token: its weights and bias (LINCLASS_T), the batch gradient
 * (LINCLASS_T), class active, the class's share of the batch, active
 * inputs, counters, pass. */
#define FS_CLF (2 * LINCLASS_T + 2 + LINCLASS_DMAX + 3 + SETREF_PASSES_MAX)
/* Explicit head class token: its latent z_k and gradient (MLP_OMAX each,
 * zero past Z), class active, the class's share of the batch, active
 * inputs, counters, pass. */
#define FS_HCLF (2 * MLP_OMAX + 2 + LINCLASS_DMAX + 3 + SETREF_PASSES_MAX)
/* Classification observation: x, one-hot label, predicted probabilities. */
#define FO_CLF (LINCLASS_DMAX + 2 * LINCLASS_KMAX)

/* A token per class: its weights and bias. */
static int clf_init(struct gen *g, struct layout *params,
		    struct setref_config *sc)
{
	g->nstate = LINCLASS_P;
	sc->nst = LINCLASS_KMAX;
	sc->sd = LINCLASS_T;
	sc->fs = FS_CLF;
	sc->fo = g->cfg.variant == GEN_GRAD ? 0 : FO_CLF;
	return gen_state_init(g, params, sc);
}

/* Zero weights: uniform probabilities. */
static void clf_params(const struct gen *g, float *p, struct rng *r)
{
	(void)r;
	memset(p + g->init, 0, (size_t)g->nstate * sizeof *p);
}

/* Classification observation tokens of sequence i: x, the one-hot label
 * and the predicted probabilities (in ws->resp). */
static void clf_observations(struct gen_ws *ws, int i,
			     const struct gen_input *in)
{
	float *fo = setref_fo(ws->sr, i);
	int r;

	for (r = 0; r < in->B; r++) {
		float *o = fo + (size_t)r * FO_CLF;

		memcpy(o, in->X + (size_t)r * GEN_XMAX, LINCLASS_DMAX * sizeof *o);
		memset(o + LINCLASS_DMAX, 0, 2 * LINCLASS_KMAX * sizeof *o);
		o[LINCLASS_DMAX + in->y[r]] = 1.0f;
		memcpy(o + LINCLASS_DMAX + LINCLASS_KMAX,
		       ws->resp + (size_t)r * LINCLASS_KMAX,
		       LINCLASS_KMAX * sizeof *o);
	}
}

/* The end of class k's token (parametric and head classifiers): class
 * active, the class's share of the batch, active inputs, counters, pass. */
static void class_token_tail(const struct gen *g, const struct gen_input *in,
			     float gain, int k, float *f)
{
	int n = 0, r, j;

	for (r = 0; r < in->B; r++)
		n += in->y[r] == k;
	f[0] = k < in->K ? 1.0f : 0.0f;
	f[1] = (float)n / (float)in->B;
	for (j = 0; j < LINCLASS_DMAX; j++)
		f[2 + j] = j < in->D ? 1.0f : 0.0f;
	gen_counters(g, in, gain, f + 2 + LINCLASS_DMAX);
}

/* Classification features of sequence i; returns its batch loss. */
static float clf_features(const struct gen *g, const float *p,
			  struct gen_ws *ws, int i, const struct gen_input *in,
			  float gain, int want_loss)
{
	const float *th = in->state;
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);
	int B = in->B, D = in->D, K = in->K, k, j;
	double loss;

	(void)p;
	(void)want_loss;
	loss = linclass_loss(th, D, K, in->X, in->y, B, 0.0f, ws->grad, ws->resp);
	memset(fs, 0, (size_t)LINCLASS_KMAX * FS_CLF * sizeof *fs);
	for (k = 0; k < LINCLASS_KMAX; k++) {
		const float *c = th + k * LINCLASS_T;
		const float *gk = ws->grad + k * LINCLASS_T;
		float *f = fs + k * FS_CLF, *dk = dir + k * LINCLASS_T;
		float *ak = am + k * LINCLASS_T;

		for (j = 0; j < LINCLASS_T; j++) {
			int on = k < K && (j < D || j == LINCLASS_BIAS);

			ak[j] = on ? 1.0f : 0.0f;
			dk[j] = on && g->cfg.variant != GEN_OBS ? gk[j] : 0.0f;
			f[j] = on ? clampf(c[j], -20.0f, 20.0f) : 0.0f;
			f[LINCLASS_T + j] = clampf(dk[j], -10.0f, 10.0f);
		}
		class_token_tail(g, in, gain, k, f + 2 * LINCLASS_T);
	}
	if (g->cfg.variant != GEN_GRAD)
		clf_observations(ws, i, in);
	return (float)loss;
}

/*
 * The head predictor's mean cross-entropy over n rows X (stride GEN_XMAX)
 * with K classes under state z (LINCLASS_KMAX latents z_k of Z floats):
 * h_i = h(x_i), logit_ik = h_i . z_k for k < K.  As mlp_xent with a shared
 * latent: dp (may be NULL) accumulates scale * dloss/dp; dz (nstate, may
 * be NULL) is overwritten with scale * dloss/dz (0 past K); probs (n x
 * LINCLASS_KMAX, may be NULL) receives the probabilities.  y may be NULL
 * when only probs are wanted (the loss is then 0).  Chunked by the
 * predictor workspace's rows; h and dh/dlogit live in ws->zrow, ws->dz.
 *   dloss/dlogit_ik = (p_ik - [y_i = k]) / n
 *   dloss/dz_k = sum_i dlogit_ik h_i,  dloss/dh_i = sum_k dlogit_ik z_k
 */
static double head_xent(const struct gen *g, const float *p, float *dp,
			struct gen_ws *ws, int n, const float *X,
			const float *z, int K, const int *y, float scale,
			float *dz, float *probs)
{
	int Z = g->cfg.Z, rows = mlp_ws_rows(ws->mw), c, i, k, e;
	double loss = 0.0;

	AM_ASSERT(g->cfg.head && n >= 1 && K >= 1 && K <= LINCLASS_KMAX);
	if (dz)
		memset(dz, 0, (size_t)g->nstate * sizeof *dz);
	for (c = 0; c < n; c += rows) {
		int m = n - c < rows ? n - c : rows;

		mlp_forward(&g->f, p, ws->mw, m, X + (size_t)c * GEN_XMAX,
			    GEN_XMAX, z, ws->zrow);
		for (i = 0; i < m; i++) {
			const float *h = ws->zrow + (size_t)i * Z;
			float *dh = ws->dz + (size_t)i * Z;
			float u[LINCLASS_KMAX], mx = -INFINITY;
			double ex[LINCLASS_KMAX], se = 0.0;

			for (k = 0; k < K; k++) {
				float a = 0.0f;

				for (e = 0; e < Z; e++)
					a += h[e] * z[k * Z + e];
				u[k] = a;
				mx = fmaxf(mx, a);
			}
			for (k = 0; k < K; k++) {
				ex[k] = exp((double)(u[k] - mx));
				se += ex[k];
			}
			if (y) {
				AM_ASSERT(y[c + i] >= 0 && y[c + i] < K);
				loss += log(se) - (double)(u[y[c + i]] - mx);
			}
			memset(dh, 0, (size_t)Z * sizeof *dh);
			for (k = 0; k < K; k++) {
				float pk = (float)(ex[k] / se);
				float d;

				if (probs)
					probs[(size_t)(c + i) * LINCLASS_KMAX + k] = pk;
				if (!y)
					continue;
				d = scale * (pk - (y[c + i] == k ? 1.0f : 0.0f)) /
				    (float)n;
				for (e = 0; e < Z; e++) {
					dh[e] += d * z[k * Z + e];
					if (dz)
						dz[k * Z + e] += d * h[e];
				}
			}
			if (probs)
				for (k = K; k < LINCLASS_KMAX; k++)
					probs[(size_t)(c + i) * LINCLASS_KMAX + k] = 0.0f;
		}
		if (dp && y)
			mlp_backward(&g->f, p, dp, ws->mw, m, ws->dz, NULL, NULL);
	}
	return loss / n;
}

/* The explicit classifier's mean cross-entropy: the head predictor's, or
 * f(x, z)'s with z shared by the rows (mlp_xent's contract). */
static double explicit_xent(const struct gen *g, const float *p, float *dp,
			    struct gen_ws *ws, int n, const float *X,
			    const float *z, int K, const int *y, float scale,
			    float *dz, float *probs)
{
	if (g->cfg.head)
		return head_xent(g, p, dp, ws, n, X, z, K, y, scale, dz, probs);
	return mlp_xent(&g->f, p, dp, ws->mw, n, X, GEN_XMAX, z, 0, K, y, scale,
			dz, probs);
}

/* Head predictor features of sequence i: one token per class, as the
 * parametric classifier's (clf_features) with z_k for the weights;
 * returns its batch loss. */
static float head_features(const struct gen *g, const float *p,
			   struct gen_ws *ws, int i, const struct gen_input *in,
			   float gain, int want_loss)
{
	float *fs = setref_fs(ws->sr, i), *dir = setref_dir(ws->sr, i);
	float *am = setref_amask(ws->sr, i);
	int Z = g->cfg.Z, K = in->K, k, j;
	double loss;

	(void)want_loss;
	loss = head_xent(g, p, NULL, ws, in->B, in->X, in->state, K, in->y, 1.0f,
			 ws->grad, ws->resp);
	memset(fs, 0, (size_t)LINCLASS_KMAX * FS_HCLF * sizeof *fs);
	for (k = 0; k < LINCLASS_KMAX; k++) {
		const float *zk = in->state + k * Z, *gk = ws->grad + k * Z;
		float *f = fs + k * FS_HCLF;
		int on = k < K;

		for (j = 0; j < Z; j++) {
			am[k * Z + j] = on ? 1.0f : 0.0f;
			dir[k * Z + j] = on && g->cfg.variant != GEN_OBS ? gk[j] : 0.0f;
			f[j] = on ? clampf(zk[j], -20.0f, 20.0f) : 0.0f;
			f[MLP_OMAX + j] = clampf(dir[k * Z + j], -10.0f, 10.0f);
		}
		class_token_tail(g, in, gain, k, f + 2 * MLP_OMAX);
	}
	if (g->cfg.variant != GEN_GRAD)
		clf_observations(ws, i, in);
	return (float)loss;
}

static double clf_loss(const struct gen *g, const float *p, float *dp,
		       struct gen_ws *ws, const float *state,
		       const struct gen_rows *q, struct rng *r, float w,
		       float *dstate)
{
	double l;

	(void)g, (void)p, (void)dp, (void)ws, (void)r;
	AM_ASSERT(q->n <= GEN_QMAX);
	l = linclass_loss(state, q->D, q->K, q->X, q->y, q->n, 0.0f, dstate,
			  NULL);
	if (dstate)
		gen_scale(dstate, LINCLASS_P, w);
	return l;
}


/* The explicit classifiers' loss: mean cross-entropy. */
static double xent_loss(const struct gen *g, const float *p, float *dp,
			struct gen_ws *ws, const float *state,
			const struct gen_rows *q, struct rng *r, float w,
			float *dstate)
{
	(void)r;
	AM_ASSERT(q->n <= GEN_QMAX);
	return explicit_xent(g, p, dp, ws, q->n, q->X, state, q->K, q->y, w,
			     dstate, NULL);
}


int gen_predict_probs(const struct gen *g, const float *p, struct gen_ws *ws,
		      const float *state, const float *X, int n, int D, int K,
		      float *probs)
{
	int i, k;

	if (g->cfg.kind != GEN_CLF || g->cfg.regime == GEN_IMPLICIT || D < 1 ||
	    D > g->dx ||
	    K < 2 || K > LINCLASS_KMAX || n < 0)
		return AM_EINVAL;
	if (g->cfg.head) {
		if (n > 0)
			head_xent(g, p, NULL, ws, n, X, state, K, NULL, 1.0f, NULL,
				  probs);
		return AM_OK;
	}
	if (gen_has_predictor(&g->cfg)) {
		int rows = mlp_ws_rows(ws->mw);

		for (i = 0; i < n; i += rows) {
			int m = n - i < rows ? n - i : rows, r;

			for (r = 0; r < m; r++)
				memcpy(ws->zrow + (size_t)r * g->cfg.Z, state,
				       (size_t)g->cfg.Z * sizeof *state);
			mlp_forward(&g->f, p, ws->mw, m, X + (size_t)i * GEN_XMAX,
				    GEN_XMAX, ws->zrow, probs + (size_t)i * LINCLASS_KMAX);
		}
		for (i = 0; i < n; i++)
			for (k = K; k < LINCLASS_KMAX; k++)
				probs[(size_t)i * LINCLASS_KMAX + k] = -INFINITY;
	} else {
		linclass_logits(state, D, K, X, n, probs);
	}
	for (i = 0; i < n; i++) {
		float *q = probs + (size_t)i * LINCLASS_KMAX, m = q[0];
		double z = 0.0;

		for (k = 1; k < K; k++)
			m = fmaxf(m, q[k]);
		for (k = 0; k < LINCLASS_KMAX; k++) {
			q[k] = k < K ? expf(q[k] - m) : 0.0f;
			z += q[k];
		}
		for (k = 0; k < K; k++)
			q[k] = (float)(q[k] / z);
	}
	return AM_OK;
}

/* The mlp predictor's features of sequence i: the latent's tokens and
 * the observations; returns the batch cross-entropy. */
static float mlp_features(const struct gen *g, const float *p,
			  struct gen_ws *ws, int i, const struct gen_input *in,
			  float gain, int want_loss)
{
	double loss;

	(void)want_loss;
	loss = explicit_xent(g, p, NULL, ws, in->B, in->X, in->state, in->K,
			     in->y, 1.0f, ws->grad, ws->resp);
	gen_latent_tokens(g, ws, i, in, gain);
	if (g->cfg.variant != GEN_GRAD)
		clf_observations(ws, i, in);
	return (float)loss;
}

/* The explicit classifiers' tokens: a latent chunk or, for the head
 * predictor, a class's latent (their sizes; gen_explicit_init the rest). */
static int clf_mlp_init(struct gen *g, struct layout *params,
			struct setref_config *sc)
{
	sc->fs = GEN_FS_LATENT;
	sc->fo = g->cfg.variant == GEN_GRAD ? 0 : FO_CLF;
	return gen_explicit_init(g, params, sc);
}

static int clf_head_init(struct gen *g, struct layout *params,
			 struct setref_config *sc)
{
	sc->fs = FS_HCLF;
	sc->fo = g->cfg.variant == GEN_GRAD ? 0 : FO_CLF;
	return gen_explicit_init(g, params, sc);
}

const struct gen_way gen_way_clf = {
	clf_init, clf_params,
	clf_features, clf_loss
};
const struct gen_way gen_way_clf_mlp = {
	clf_mlp_init, gen_explicit_params,
	mlp_features, xent_loss
};
const struct gen_way gen_way_clf_head = {
	clf_head_init, gen_explicit_params,
	head_features, xent_loss
};

/* ---- sessions ---------------------------------------------------------- */

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
	return gen_step(fam_gen_of(a), a->p, ws, state, X, lab, B, D, K, rows_seen,
			loss_before, loss_after);
}

static int clf_predict_probs(const struct amz *a, const float *state,
			     const float *X, int n, int D, float *probs)
{
	const struct gen *g = fam_gen_of(a);
	struct gen_ws *ws = NULL;
	int rc;

	/* the explicit regime runs its predictor network: scratch for it */
	if (gen_has_predictor(&g->cfg) && !(ws = gen_ws_new(g, 1, 1)))
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
	gen_query_init(fam_gen_of(a), a->p, n, K, qs);
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
	return gen_query_step(fam_gen_of(a), a->p, ws, Q, n, qs, X, lab, NULL, B, D,
			      K, rows_seen);
}

static int clf_query_probs(const struct amz *a, const float *state,
			   const float *qs, int n, float *probs)
{
	int K = amz_classes(a, state);

	if (K < 2)
		return AM_EINVAL;
	gen_query_probs(fam_gen_of(a), a->p, qs, n, K, probs);
	return AM_OK;
}

static float clf_query_loss(const struct amz *a, const float *state,
			    const float *qs, const float *y, int n)
{
	int K = amz_classes(a, state), *lab = malloc((size_t)n * sizeof *lab);
	double l = NAN;

	if (lab && labels(K, y, n, lab) == AM_OK)
		l = gen_query_loss(fam_gen_of(a), a->p, qs, n, K, lab, NULL);
	free(lab);
	return (float)l;
}

const struct family_ops fam_clf = {
	.name = "clf",
	FAM_GEN_TRAINING,
	FAM_GEN_SESSION,
	.bind = clf_bind,
	.session_start = clf_start,
	.step = clf_step,
	.predict_probs = clf_predict_probs,
	.query_init = clf_query_init,
	.query_step = clf_query_step,
	.query_probs = clf_query_probs,
	.query_loss = clf_query_loss,
};
