/*
 * mog.h - mixtures of diagonal Gaussians in one fixed parameter layout: the
 * density and its exact gradient, exact sampling, the task family of the
 * density-estimation amortizer, and the EM baseline it is measured against.
 *
 * A parameter vector theta has MOG_P floats.  Component k occupies
 * theta[k * MOG_T .. (k + 1) * MOG_T):
 *     [logit_k, mu_k[0 .. MOG_DMAX), logsd_k[0 .. MOG_DMAX)]
 * The mixture weights are the softmax of all MOG_KMAX logits; every
 * component always takes part, and one is effectively off when its logit is
 * very low (MOG_LOGIT_OFF).  Only the first D dimensions are active
 * (1 <= D <= MOG_DMAX): densities, gradients and samples ignore mu and
 * logsd entries of dimensions >= D and the matching columns of a row.  Rows
 * are stored with stride MOG_DMAX, zero-padded.
 *
 * The density uses sd_kj = exp(clamp(logsd_kj, MOG_LOGSD_MIN,
 * MOG_LOGSD_MAX)); the gradient of an entry outside that range is 0, and the
 * sampler uses the same clamped sds, so samples follow mog_logpdf exactly.
 *
 * Owns nothing: plain arithmetic on caller-owned arrays.  Nothing allocates
 * except mog_em (documented there).  Never prints.  Thread-safe on distinct
 * arguments (a struct rng is not shared between threads).
 */
#ifndef MOG_H
#define MOG_H

#include "base/rng.h"

#define MOG_KMAX 8			/* components */
#define MOG_DMAX 8			/* dimensions */
#define MOG_T (1 + 2 * MOG_DMAX)	/* floats per component: 17 */
#define MOG_P (MOG_KMAX * MOG_T)	/* floats in theta: 136 */
#define MOG_LOGSD_MIN (-5.0f)
#define MOG_LOGSD_MAX 3.0f
#define MOG_LOGIT_OFF (-30.0f)		/* logit of a component that is off */

/* Offsets inside one component's MOG_T floats. */
#define MOG_LOGIT 0
#define MOG_MU 1
#define MOG_LOGSD (1 + MOG_DMAX)

/*
 * The log density of one row x (MOG_DMAX floats, columns >= D ignored)
 * under theta (MOG_P), computed with log-sum-exp in double.  A non-finite
 * theta or x gives a non-finite result (see mog_check).
 */
double mog_logpdf(const float *theta, int D, const float *x);

/*
 * The mean negative log-likelihood per row of the n >= 1 rows X (n,
 * MOG_DMAX) under theta (MOG_P), accumulated in double.
 *
 * If grad is not NULL it is overwritten with the exact d(mean NLL)/d theta
 * (MOG_P floats): with r_ik the responsibilities, w_k the weights and
 * z = (x_j - mu_kj) / sd_kj,
 *     dlogit_k = mean_i (w_k - r_ik)
 *     dmu_kj   = mean_i -r_ik z / sd_kj
 *     dlogsd_kj = mean_i -r_ik (z^2 - 1)   (0 where logsd_kj is clamped)
 * and 0 for every entry of an inactive dimension.  If resp is not NULL it
 * receives r_ik (n, MOG_KMAX), each row summing to 1.  No allocation; n < 1
 * or D out of range is a programming error (asserted).
 */
double mog_nll(const float *theta, int D, const float *X, int n, float *grad,
	       float *resp);

/*
 * Draws n exact samples of theta into X (n, MOG_DMAX); columns >= D are
 * written as 0.  Draw order, row by row: one rng_uniform picks the
 * component (inverse CDF over the weights in index order), then D
 * rng_normal draws, one per active dimension in order.  A non-finite theta
 * gives non-finite samples (check it with mog_check first).  No allocation.
 */
void mog_sample(const float *theta, int D, struct rng *r, int n, float *X);

/*
 * The task family: D uniform in [dmin, dmax], K uniform in [kmin, kmax],
 * means ~ N(0, spread^2 I), per-dimension sds log-uniform in [sdmin, sdmax],
 * then an exact affine normalisation (see mog_task_draw).
 */
struct mog_family {
	int dmin, dmax;		/* 1 <= dmin <= dmax <= MOG_DMAX */
	int kmin, kmax;		/* 1 <= kmin <= kmax <= MOG_KMAX */
	float spread;		/* sd of the means before normalising, >= 0 */
	float sdmin, sdmax;	/* 0 < sdmin <= sdmax, see mog_family_check */
};

/* One task: its dimension, its number of live components, its true theta. */
struct mog_task {
	int D, K;
	float theta[MOG_P];
};

/* The default family: D = 2, K in [1, 4], spread 2.5, sds in [0.15, 0.6]
 * (before normalisation). */
void mog_family_default(struct mog_family *f);

/*
 * Returns AM_OK if f is a valid family, else AM_EINVAL: the ranges written
 * in struct mog_family, every float finite, and
 *     sdmin >= 0.02 * max(sdmax, spread),
 * which keeps a normalised sd below exp(MOG_LOGSD_MIN) (a redraw in
 * mog_task_draw) rare: with spread = 0 it cannot happen at all.
 */
int mog_family_check(const struct mog_family *f);

/*
 * Draws a task of family f into *t (every field and every float of theta
 * written).  Draw order: D = rng_int(dmin, dmax), K = rng_int(kmin, kmax),
 * then one attempt:
 *   - K uniforms u_k: g = Dirichlet(1, ..., 1) as E_k / sum E with
 *     E_k = -log(1 - u_k); the weights are w_k = 0.5 / K + 0.5 g_k, so no
 *     weight is below 0.5 / K; logit_k = log w_k;
 *   - K * D normals, component by component: mu_kj = spread * N(0, 1);
 *   - K * D uniforms, component by component: log sd_kj uniform in
 *     [log sdmin, log sdmax].
 * Components k >= K get logit MOG_LOGIT_OFF, mean 0 and logsd 0; inactive
 * dimensions of live components get mean 0 and logsd 0.  Then every live
 * component is mapped by x -> (x - c) / s per active dimension, with c and s
 * solved from the exact moments of the stored mixture (weights from the
 * float logits, off components included) so that its marginal mean is 0
 * and marginal variance 1 in every active dimension.  If a normalised logsd
 * falls outside [MOG_LOGSD_MIN, MOG_LOGSD_MAX] the attempt is redrawn (same
 * D and K).  A family failing mog_family_check is a programming error
 * (asserted).
 */
void mog_task_draw(struct mog_task *t, const struct mog_family *f,
		   struct rng *r);

/*
 * The EM baseline: fits a mixture of K (1..MOG_KMAX) diagonal Gaussians to
 * the n rows X (n, MOG_DMAX) in the first D dimensions and writes it to
 * theta_out (MOG_P; components >= K get logit MOG_LOGIT_OFF, mean 0 and
 * logsd 0; inactive dimensions 0).  Returns the mean log-likelihood per
 * row of theta_out on X (as mog_nll computes it, negated).
 *
 * Each of restarts >= 1 runs is seeded by k-means++ (the first centre
 * uniform, each next one with probability proportional to its squared
 * distance to the nearest centre), starts from the hard nearest-centre
 * assignment, and alternates M and E steps: at most iters >= 1 M steps, and
 * it stops earlier once the mean log-likelihood improves by less than 1e-7.
 * The M step floors each sd at max(exp(MOG_LOGSD_MIN), 1e-3 * the data's sd
 * in that dimension) and caps it at exp(MOG_LOGSD_MAX) (the exact
 * constrained maximiser, so EM still never decreases the likelihood);
 * a component with no mass left keeps its mean and sd, and its weight 0
 * becomes logit MOG_LOGIT_OFF.  The run with the best returned likelihood is
 * kept (the first on ties).
 *
 * r is used only for the seeding, one draw per centre (rng_below for the
 * first, and for a later centre when every row sits on a centre already,
 * else rng_uniform), restart after restart: so R calls with restarts = 1 on
 * one generator see the same initialisations as one call with restarts = R.
 *
 * Allocates O(n K) doubles and frees them before returning.  Returns NAN,
 * leaving theta_out untouched, when n < K (too few rows to seed K centres),
 * when an active entry of X is not finite, or when the allocation fails.
 * D, K, restarts or iters out of range are programming errors (asserted).
 */
double mog_em(const float *X, int n, int D, int K, int restarts, int iters,
	      struct rng *r, float *theta_out);

/* AM_OK if all MOG_P entries of theta are finite, else AM_ENUMERIC. */
int mog_check(const float *theta);

#endif
