/*
 * mog.c - diagonal Gaussian mixtures in the fixed MOG_P layout: density,
 * exact gradient, sampling, the task family and the EM baseline.
 *
 * With a_k the logits, w = softmax(a), sd_kj = exp(clamp(logsd_kj)) and
 * z_kj = (x_j - mu_kj) / sd_kj, the log density of a row is
 *     log p(x) = LSE_k [ log w_k + l_k(x) ],
 *     l_k(x) = sum_{j<D} ( -z_kj^2 / 2 - log sd_kj - log(2 pi) / 2 ).
 * Everything past reading theta runs in double.
 */
#include "tasks/mog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"

#define MOG_HALF_LOG_2PI 0.91893853320467274178
#define MOG_EM_TOL 1e-7		/* stop once the mean log-lik gains less */
#define MOG_EM_REL_FLOOR 1e-3	/* sd floor relative to the data's sd */
#define MOG_FAMILY_SD_RATIO 0.02f

/* theta read once into double: log weights, means, 1 / sd, and per
 * component log w_k - sum_j log sd_kj - D log(2 pi) / 2. */
struct mog_pre {
	double logw[MOG_KMAX];
	double mu[MOG_KMAX][MOG_DMAX];
	double isd[MOG_KMAX][MOG_DMAX];
	double lnorm[MOG_KMAX];
};

static double mog_clamp_logsd(float v)
{
	if (v < MOG_LOGSD_MIN)
		return MOG_LOGSD_MIN;
	if (v > MOG_LOGSD_MAX)
		return MOG_LOGSD_MAX;
	return v;	/* NaN passes through */
}

static int mog_is_clamped(float v)
{
	return v < MOG_LOGSD_MIN || v > MOG_LOGSD_MAX;
}

/* log softmax of the MOG_KMAX logits: logw_k = a_k - LSE(a). */
static void mog_log_weights(const float *theta, double *logw)
{
	double mx = -INFINITY, s = 0.0, lse;
	int k;

	for (k = 0; k < MOG_KMAX; k++)
		mx = fmax(mx, (double)theta[k * MOG_T + MOG_LOGIT]);
	for (k = 0; k < MOG_KMAX; k++)
		s += exp((double)theta[k * MOG_T + MOG_LOGIT] - mx);
	lse = mx + log(s);
	/* fmax skips a NaN logit, but exp(NaN) makes s and so every logw NaN */
	for (k = 0; k < MOG_KMAX; k++)
		logw[k] = (double)theta[k * MOG_T + MOG_LOGIT] - lse;
}

static void mog_prepare(struct mog_pre *p, const float *theta, int D)
{
	int k, j;

	AM_ASSERT(D >= 1 && D <= MOG_DMAX);
	mog_log_weights(theta, p->logw);
	for (k = 0; k < MOG_KMAX; k++) {
		const float *c = theta + k * MOG_T;
		double ln = p->logw[k] - D * MOG_HALF_LOG_2PI;

		for (j = 0; j < D; j++) {
			double ls = mog_clamp_logsd(c[MOG_LOGSD + j]);

			p->mu[k][j] = c[MOG_MU + j];
			p->isd[k][j] = exp(-ls);
			ln -= ls;
		}
		p->lnorm[k] = ln;
	}
}

/* l[k] = log w_k + l_k(x) and z[k][j] for one row; returns LSE_k l[k]. */
static double mog_row(const struct mog_pre *p, int D, const float *x,
		      double *l, double z[][MOG_DMAX])
{
	double mx = -INFINITY, s = 0.0;
	int k, j;

	for (k = 0; k < MOG_KMAX; k++) {
		double q = 0.0;

		for (j = 0; j < D; j++) {
			double zz = ((double)x[j] - p->mu[k][j]) * p->isd[k][j];

			z[k][j] = zz;
			q += zz * zz;
		}
		l[k] = p->lnorm[k] - 0.5 * q;
		if (l[k] > mx)
			mx = l[k];
	}
	if (!isfinite(mx))
		return l[0] + mx;	/* NaN or -inf: nothing to normalise */
	for (k = 0; k < MOG_KMAX; k++)
		s += exp(l[k] - mx);
	return mx + log(s);
}

double mog_logpdf(const float *theta, int D, const float *x)
{
	struct mog_pre p;
	double l[MOG_KMAX], z[MOG_KMAX][MOG_DMAX];

	mog_prepare(&p, theta, D);
	return mog_row(&p, D, x, l, z);
}

/*
 * Per row i: nll_i = -LSE_k(log w_k + l_ik), r_ik = exp(log w_k + l_ik +
 * nll_i).  The gradient sums (see mog.h) are accumulated in double over
 * rows, divided by n, and the clamped logsd entries zeroed.
 */
double mog_nll(const float *theta, int D, const float *X, int n, float *grad,
	       float *resp)
{
	struct mog_pre p;
	double acc[MOG_P], rsum[MOG_KMAX];
	double l[MOG_KMAX], z[MOG_KMAX][MOG_DMAX];
	double nll = 0.0;
	int i, k, j;

	AM_ASSERT(n >= 1);
	mog_prepare(&p, theta, D);
	memset(acc, 0, sizeof acc);
	memset(rsum, 0, sizeof rsum);
	for (i = 0; i < n; i++) {
		const float *x = X + (long)i * MOG_DMAX;
		double lse = mog_row(&p, D, x, l, z);

		nll -= lse;
		for (k = 0; k < MOG_KMAX; k++) {
			double rk = exp(l[k] - lse);
			double *a = acc + k * MOG_T;

			if (resp)
				resp[(long)i * MOG_KMAX + k] = (float)rk;
			if (!grad)
				continue;
			rsum[k] += rk;
			for (j = 0; j < D; j++) {
				double zz = z[k][j];

				/* d(-l_k)/dmu = -z / sd, d(-l_k)/dlogsd = 1 - z^2 */
				a[MOG_MU + j] -= rk * zz * p.isd[k][j];
				a[MOG_LOGSD + j] -= rk * (zz * zz - 1.0);
			}
		}
	}
	if (grad) {
		for (k = 0; k < MOG_KMAX; k++) {
			const float *c = theta + k * MOG_T;
			float *g = grad + k * MOG_T;

			/* d(-log p)/da_k = w_k - r_k */
			g[MOG_LOGIT] = (float)(exp(p.logw[k]) - rsum[k] / n);
			for (j = 0; j < MOG_DMAX; j++) {
				int on = j < D;

				g[MOG_MU + j] = on ? (float)(acc[k * MOG_T + MOG_MU + j] / n)
						   : 0.0f;
				g[MOG_LOGSD + j] =
					on && !mog_is_clamped(c[MOG_LOGSD + j])
						? (float)(acc[k * MOG_T + MOG_LOGSD + j] / n)
						: 0.0f;
			}
		}
	}
	return nll / n;
}

/* x = mu_k + sd_k * z with k drawn from the weights and z ~ N(0, I), the
 * clamped sds as in the density; draw order in mog.h. */
void mog_sample(const float *theta, int D, struct rng *r, int n, float *X)
{
	struct mog_pre p;
	double w[MOG_KMAX];
	int i, k, j;

	AM_ASSERT(n >= 0);
	mog_prepare(&p, theta, D);
	for (k = 0; k < MOG_KMAX; k++)
		w[k] = exp(p.logw[k]);
	for (i = 0; i < n; i++) {
		float *x = X + (long)i * MOG_DMAX;
		double u = rng_uniform(r), acc = 0.0;
		int pick = -1;

		/* inverse CDF; rounding may leave u just past the last bin, and
		 * a NaN theta matches no bin: then the last live component (or
		 * component 0) is used */
		for (k = 0; k < MOG_KMAX; k++) {
			if (!(w[k] > 0.0))
				continue;
			acc += w[k];
			if (u < acc) {
				pick = k;
				break;
			}
			pick = k;
		}
		if (pick < 0)
			pick = 0;
		for (j = 0; j < D; j++)
			x[j] = (float)(p.mu[pick][j] + rng_normal(r) / p.isd[pick][j]);
		for (; j < MOG_DMAX; j++)
			x[j] = 0.0f;
	}
}

/* ---- task family -------------------------------------------------------- */

void mog_family_default(struct mog_family *f)
{
	memset(f, 0, sizeof *f);
	f->dmin = 2;
	f->dmax = 2;
	f->kmin = 1;
	f->kmax = 4;
	f->spread = 2.5f;
	f->sdmin = 0.15f;
	f->sdmax = 0.6f;
}

int mog_family_check(const struct mog_family *f)
{
	if (!(f->dmin >= 1 && f->dmin <= f->dmax && f->dmax <= MOG_DMAX))
		return AM_EINVAL;
	if (!(f->kmin >= 1 && f->kmin <= f->kmax && f->kmax <= MOG_KMAX))
		return AM_EINVAL;
	if (!isfinite(f->spread) || !isfinite(f->sdmin) || !isfinite(f->sdmax))
		return AM_EINVAL;
	if (!(f->spread >= 0.0f && f->sdmin > 0.0f && f->sdmin <= f->sdmax))
		return AM_EINVAL;
	if (!(f->sdmin >= MOG_FAMILY_SD_RATIO * fmaxf(f->sdmax, f->spread)))
		return AM_EINVAL;
	return AM_OK;
}

/*
 * One attempt of mog_task_draw after D and K: draws weights, means and log
 * sds (in the documented order), normalises, and writes t->theta.  Returns
 * 0, or -1 (theta half written) if a normalised logsd left the clamp range.
 *
 * Normalisation, per active dimension j: with W_k the softmax weights of
 * the stored float logits (off components included), live components
 * k < K and W = sum_{k<K} W_k, the map x -> (x - c) / s with
 *     c = sum_{k<K} W_k mu_kj / W,
 *     s^2 = sum_{k<K} W_k (sd_kj^2 + (mu_kj - c)^2) / W
 * gives the live part mean 0 and second moment W; the off components sit at
 * mean 0 with sd 1 and weight 1 - W, so the whole mixture has mean 0 and
 * variance W + (1 - W) = 1 exactly (up to rounding the result to float).
 */
static int mog_task_attempt(struct mog_task *t, const struct mog_family *f,
			    struct rng *r)
{
	double e[MOG_KMAX], mu[MOG_KMAX][MOG_DMAX], ls[MOG_KMAX][MOG_DMAX];
	double logw[MOG_KMAX], W[MOG_KMAX];
	double lo = log((double)f->sdmin), hi = log((double)f->sdmax);
	double esum = 0.0, wl = 0.0;
	int D = t->D, K = t->K, k, j;

	for (k = 0; k < K; k++) {
		e[k] = -log1p(-rng_uniform(r));	/* Exp(1); 1 - u in (0, 1] */
		esum += e[k];
	}
	for (k = 0; k < K; k++)
		for (j = 0; j < D; j++)
			mu[k][j] = (double)f->spread * rng_normal(r);
	for (k = 0; k < K; k++)
		for (j = 0; j < D; j++)
			ls[k][j] = lo + (hi - lo) * rng_uniform(r);

	memset(t->theta, 0, sizeof t->theta);
	for (k = 0; k < MOG_KMAX; k++) {
		float a = MOG_LOGIT_OFF;

		if (k < K) {
			/* all-zero exponentials (probability 2^-53K): g uniform */
			double g = esum > 0.0 ? e[k] / esum : 1.0 / K;

			a = (float)log(0.5 / K + 0.5 * g);
		}
		t->theta[k * MOG_T + MOG_LOGIT] = a;
	}
	mog_log_weights(t->theta, logw);
	for (k = 0; k < K; k++) {
		W[k] = exp(logw[k]);
		wl += W[k];
	}

	for (j = 0; j < D; j++) {
		double c = 0.0, s2 = 0.0, lsh;

		for (k = 0; k < K; k++)
			c += W[k] * mu[k][j];
		c /= wl;
		for (k = 0; k < K; k++) {
			double d = mu[k][j] - c;

			s2 += W[k] * (exp(2.0 * ls[k][j]) + d * d);
		}
		s2 /= wl;
		lsh = 0.5 * log(s2);
		for (k = 0; k < K; k++) {
			double nls = ls[k][j] - lsh;

			if (nls < MOG_LOGSD_MIN || nls > MOG_LOGSD_MAX)
				return -1;
			t->theta[k * MOG_T + MOG_MU + j] =
				(float)((mu[k][j] - c) / sqrt(s2));
			t->theta[k * MOG_T + MOG_LOGSD + j] = (float)nls;
		}
	}
	return 0;
}

/*
 * See mog.h for the draws.  The loop ends: mog_family_check keeps a failed
 * attempt rare (impossible when spread = 0), and each attempt is fresh.
 */
void mog_task_draw(struct mog_task *t, const struct mog_family *f,
		   struct rng *r)
{
	AM_ASSERT(mog_family_check(f) == AM_OK);
	memset(t, 0, sizeof *t);
	t->D = rng_int(r, f->dmin, f->dmax);
	t->K = rng_int(r, f->kmin, f->kmax);
	while (mog_task_attempt(t, f, r) != 0)
		;
}

int mog_check(const float *theta)
{
	int i;

	for (i = 0; i < MOG_P; i++)
		if (!isfinite(theta[i]))
			return AM_ENUMERIC;
	return AM_OK;
}

/* ---- EM ------------------------------------------------------------------ */

/* One mixture during EM, in double: weights (0 = dead), means, variances. */
struct mog_em_state {
	double pi[MOG_KMAX];
	double mu[MOG_KMAX][MOG_DMAX];
	double var[MOG_KMAX][MOG_DMAX];
};

/* What every restart shares: the rows and the variance bounds. */
struct mog_em_data {
	const float *X;
	int n, D, K;
	double vmin[MOG_DMAX], vmax;	/* variance floor per dim, cap */
	double vdata[MOG_DMAX];		/* the data's variance, clamped */
};

static double mog_dist2(const float *x, const double *c, int D)
{
	double s = 0.0;
	int j;

	for (j = 0; j < D; j++) {
		double d = (double)x[j] - c[j];

		s += d * d;
	}
	return s;
}

/*
 * k-means++ seeding of st->mu: one draw per centre (see mog.h).  dmin (n)
 * holds each row's squared distance to its nearest centre so far.
 */
static void mog_em_seed(struct mog_em_state *st, const struct mog_em_data *dd,
			double *dmin, struct rng *r)
{
	const float *X = dd->X;
	int n = dd->n, D = dd->D, c, i, j, idx;

	idx = (int)rng_below(r, (uint64_t)n);
	for (c = 0; c < dd->K; c++) {
		if (c > 0) {
			double total = 0.0, u, acc = 0.0;

			for (i = 0; i < n; i++)
				total += dmin[i];
			if (total > 0.0) {
				u = rng_uniform(r) * total;
				idx = -1;
				for (i = 0; i < n; i++) {
					if (!(dmin[i] > 0.0))
						continue;
					idx = i;
					acc += dmin[i];
					if (u < acc)
						break;
				}
			} else {
				/* every row is a centre already */
				idx = (int)rng_below(r, (uint64_t)n);
			}
		}
		for (j = 0; j < D; j++)
			st->mu[c][j] = X[(long)idx * MOG_DMAX + j];
		for (i = 0; i < n; i++) {
			double d2 = mog_dist2(X + (long)i * MOG_DMAX, st->mu[c], D);

			if (c == 0 || d2 < dmin[i])
				dmin[i] = d2;
		}
	}
}

/* resp (n, K) = one-hot nearest centre (ties to the lower index). */
static void mog_em_assign(const struct mog_em_state *st,
			  const struct mog_em_data *dd, double *resp)
{
	int i, k;

	for (i = 0; i < dd->n; i++) {
		const float *x = dd->X + (long)i * MOG_DMAX;
		double *ri = resp + (long)i * dd->K, best = INFINITY;
		int kb = 0;

		for (k = 0; k < dd->K; k++) {
			double d2 = mog_dist2(x, st->mu[k], dd->D);

			if (d2 < best) {
				best = d2;
				kb = k;
			}
			ri[k] = 0.0;
		}
		ri[kb] = 1.0;
	}
}

/*
 * M step from resp (n, K): N_k = sum_i r_ik, pi_k = N_k / n,
 * mu_k = sum_i r_ik x_i / N_k, var_kj = sum_i r_ik (x_ij - mu_kj)^2 / N_k
 * clamped to [vmin_j, vmax].  A component with N_k below 1e-12 n is dead:
 * pi_k = 0, mean and variance kept.
 */
static void mog_em_mstep(struct mog_em_state *st, const struct mog_em_data *dd,
			 const double *resp)
{
	const float *X = dd->X;
	int n = dd->n, D = dd->D, K = dd->K, i, k, j;

	for (k = 0; k < K; k++) {
		double nk = 0.0, m[MOG_DMAX] = { 0 }, v[MOG_DMAX] = { 0 };

		for (i = 0; i < n; i++) {
			double rk = resp[(long)i * K + k];

			nk += rk;
			for (j = 0; j < D; j++)
				m[j] += rk * X[(long)i * MOG_DMAX + j];
		}
		if (!(nk >= 1e-12 * n)) {
			st->pi[k] = 0.0;
			continue;
		}
		for (j = 0; j < D; j++)
			m[j] /= nk;
		for (i = 0; i < n; i++) {
			double rk = resp[(long)i * K + k];

			for (j = 0; j < D; j++) {
				double d = X[(long)i * MOG_DMAX + j] - m[j];

				v[j] += rk * d * d;
			}
		}
		st->pi[k] = nk / n;
		for (j = 0; j < D; j++) {
			st->mu[k][j] = m[j];
			st->var[k][j] = fmin(fmax(v[j] / nk, dd->vmin[j]), dd->vmax);
		}
	}
}

/* E step: resp (n, K) = posterior of each live component; returns the mean
 * log-likelihood per row. */
static double mog_em_estep(const struct mog_em_state *st,
			   const struct mog_em_data *dd, double *resp)
{
	double lnorm[MOG_KMAX], ll = 0.0;
	int n = dd->n, D = dd->D, K = dd->K, i, k, j;

	for (k = 0; k < K; k++) {
		lnorm[k] = -INFINITY;
		if (!(st->pi[k] > 0.0))
			continue;
		lnorm[k] = log(st->pi[k]) - D * MOG_HALF_LOG_2PI;
		for (j = 0; j < D; j++)
			lnorm[k] -= 0.5 * log(st->var[k][j]);
	}
	for (i = 0; i < n; i++) {
		const float *x = dd->X + (long)i * MOG_DMAX;
		double *ri = resp + (long)i * K, mx = -INFINITY, s = 0.0, lse;

		for (k = 0; k < K; k++) {
			double q = 0.0;

			if (!(st->pi[k] > 0.0)) {
				ri[k] = -INFINITY;
				continue;
			}
			for (j = 0; j < D; j++) {
				double d = x[j] - st->mu[k][j];

				q += d * d / st->var[k][j];
			}
			ri[k] = lnorm[k] - 0.5 * q;
			mx = fmax(mx, ri[k]);
		}
		for (k = 0; k < K; k++)
			s += exp(ri[k] - mx);	/* exp(-inf) = 0 for the dead */
		lse = mx + log(s);
		for (k = 0; k < K; k++)
			ri[k] = exp(ri[k] - lse);
		ll += lse;
	}
	return ll / n;
}

/* Writes the mixture into theta in the MOG_P layout (see mog.h). */
static void mog_em_theta(const struct mog_em_state *st,
			 const struct mog_em_data *dd, float *theta)
{
	int k, j;

	memset(theta, 0, MOG_P * sizeof *theta);
	for (k = 0; k < MOG_KMAX; k++) {
		float *c = theta + k * MOG_T;

		c[MOG_LOGIT] = MOG_LOGIT_OFF;
		if (k >= dd->K)
			continue;
		if (st->pi[k] > 0.0)
			c[MOG_LOGIT] = (float)fmax(log(st->pi[k]), MOG_LOGIT_OFF);
		for (j = 0; j < dd->D; j++) {
			c[MOG_MU + j] = (float)st->mu[k][j];
			c[MOG_LOGSD + j] = (float)mog_clamp_logsd(
				(float)(0.5 * log(st->var[k][j])));
		}
	}
}

/*
 * The data's per-dimension variance (two passes, in double) sets the
 * relative sd floor and the variance a component starts from.
 */
static void mog_em_bounds(struct mog_em_data *dd)
{
	double fl = exp(2.0 * MOG_LOGSD_MIN);
	int n = dd->n, i, j;

	dd->vmax = exp(2.0 * MOG_LOGSD_MAX);
	for (j = 0; j < dd->D; j++) {
		double m = 0.0, v = 0.0, rel;

		for (i = 0; i < n; i++)
			m += dd->X[(long)i * MOG_DMAX + j];
		m /= n;
		for (i = 0; i < n; i++) {
			double d = dd->X[(long)i * MOG_DMAX + j] - m;

			v += d * d;
		}
		v /= n;
		rel = MOG_EM_REL_FLOOR * MOG_EM_REL_FLOOR * v;
		dd->vmin[j] = fmax(fl, rel);
		dd->vdata[j] = fmin(fmax(v, dd->vmin[j]), dd->vmax);
	}
}

/*
 * One restart: seed, hard-assign, then M and E steps until iters M steps
 * or a gain below MOG_EM_TOL.  Writes the fit into theta and returns its
 * mean log-likelihood as mog_nll computes it on the float theta.
 */
static double mog_em_run(const struct mog_em_data *dd, int iters,
			 struct rng *r, double *resp, double *dmin,
			 float *theta)
{
	struct mog_em_state st;
	double prev = -INFINITY, ll;
	int k, j, it;

	memset(&st, 0, sizeof st);
	mog_em_seed(&st, dd, dmin, r);
	/* a component the hard assignment leaves empty keeps its centre and
	 * the data's variance */
	for (k = 0; k < dd->K; k++)
		for (j = 0; j < dd->D; j++)
			st.var[k][j] = dd->vdata[j];
	mog_em_assign(&st, dd, resp);
	for (it = 0; it < iters; it++) {
		mog_em_mstep(&st, dd, resp);
		ll = mog_em_estep(&st, dd, resp);
		if (ll - prev < MOG_EM_TOL)
			break;
		prev = ll;
	}
	mog_em_theta(&st, dd, theta);
	return -mog_nll(theta, dd->D, dd->X, dd->n, NULL, NULL);
}

/*
 * See mog.h.  Validates the rows first (so a NAN return never follows a
 * partial fit), allocates resp (n, K) and the seeding distances (n) once
 * for all restarts, and keeps the best restart's float theta; theta_out is
 * written only when some restart gave a finite likelihood.
 */
double mog_em(const float *X, int n, int D, int K, int restarts, int iters,
	      struct rng *r, float *theta_out)
{
	struct mog_em_data dd;
	float cur[MOG_P], best[MOG_P];
	double *resp = NULL, *dmin = NULL;
	double bestll = NAN, ll;
	int i, j, s;

	AM_ASSERT(D >= 1 && D <= MOG_DMAX && K >= 1 && K <= MOG_KMAX);
	AM_ASSERT(restarts >= 1 && iters >= 1);
	if (n < K)
		return NAN;
	for (i = 0; i < n; i++)
		for (j = 0; j < D; j++)
			if (!isfinite(X[(long)i * MOG_DMAX + j]))
				return NAN;

	resp = malloc((size_t)n * (size_t)K * sizeof *resp);
	dmin = malloc((size_t)n * sizeof *dmin);
	if (!resp || !dmin)
		goto out;

	memset(&dd, 0, sizeof dd);
	dd.X = X;
	dd.n = n;
	dd.D = D;
	dd.K = K;
	mog_em_bounds(&dd);
	for (s = 0; s < restarts; s++) {
		ll = mog_em_run(&dd, iters, r, resp, dmin, cur);
		/* a non-finite fit (extreme data) never wins */
		if (isfinite(ll) && (isnan(bestll) || ll > bestll)) {
			bestll = ll;
			memcpy(best, cur, sizeof best);
		}
	}
	if (!isnan(bestll))
		memcpy(theta_out, best, sizeof best);
out:
	free(dmin);
	free(resp);
	return bestll;
}
