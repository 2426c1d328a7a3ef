/*
 * test_mog.c - diagonal Gaussian mixtures: density, gradient, sampling, the
 * task family and the EM baseline.
 *
 * Tolerances and how likely a correct implementation is to miss them:
 * - Densities against formulas written out here: 1e-9 absolute.  The off
 *   components (logit -30) carry 7 e^-30 ~ 6e-13 of the mass.
 * - Gradient: central differences with eps = 1e-3 on float theta, all
 *   MOG_P entries, |analytic - numeric| <= 5e-6 + 3e-4 |numeric|.  The
 *   rounding of theta +- eps to float moves the step by up to
 *   6e-8 / 1e-3 = 6e-5 of itself, the truncation error eps^2 f''' / 6 is
 *   ~1e-6; the worst error / limit measured over the cases below is 0.15.
 *   A logit gradient off by 0.1 % already fails.
 * - Sample moments (200,000 rows): within 5 standard errors computed from
 *   the exact second and fourth moments of the mixture; component
 *   frequencies within 5 binomial standard errors.
 * - Task normalisation: exact moments of the stored float theta within
 *   1e-6 of 0 and 1; rounding theta to float leaves at most 1.1e-7
 *   (measured over 100,000 tasks with D, K up to 8).
 * - EM against the truth: held-out mean log-likelihood (20,000 rows)
 *   within 0.02 nats.  The fit has 14 free parameters on 2,000 rows, so
 *   over-fitting costs about 14 / (2 * 2000) = 0.0035 nats on held-out
 *   data; over 124 well-separated tasks (200 seeds) the worst gap was
 *   0.009 nats.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/am.h"
#include "tasks/mog.h"
#include "testutil.h"

#define PI 3.14159265358979323846
#define LOGIT(th, k) ((th)[(k) * MOG_T + MOG_LOGIT])
#define MU(th, k, j) ((th)[(k) * MOG_T + MOG_MU + (j)])
#define LOGSD(th, k, j) ((th)[(k) * MOG_T + MOG_LOGSD + (j)])

static void assert_near(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("%s: got %.9g, want %.9g (tolerance %.3g)", what, got,
			 want, tol);
}

/* Every component off and centred, then the caller switches some on. */
static void theta_off(float *theta)
{
	int k;

	memset(theta, 0, MOG_P * sizeof *theta);
	for (k = 0; k < MOG_KMAX; k++)
		LOGIT(theta, k) = MOG_LOGIT_OFF;
}

/* Softmax of the logits, in double, written out independently of mog.c. */
static void weights(const float *theta, double *w)
{
	double mx = -INFINITY, s = 0.0;
	int k;

	for (k = 0; k < MOG_KMAX; k++)
		mx = fmax(mx, LOGIT(theta, k));
	for (k = 0; k < MOG_KMAX; k++)
		s += (w[k] = exp(LOGIT(theta, k) - mx));
	for (k = 0; k < MOG_KMAX; k++)
		w[k] /= s;
}

static double clamped_sd(float ls)
{
	return exp(fmin(fmax(ls, MOG_LOGSD_MIN), MOG_LOGSD_MAX));
}

/* Exact marginal mean, variance and fourth central moment of dimension j. */
static void moments(const float *theta, int j, double *mean, double *var,
		    double *m4)
{
	double w[MOG_KMAX], m = 0.0, v = 0.0, q = 0.0;
	int k;

	weights(theta, w);
	for (k = 0; k < MOG_KMAX; k++)
		m += w[k] * MU(theta, k, j);
	for (k = 0; k < MOG_KMAX; k++) {
		double d = MU(theta, k, j) - m, s = clamped_sd(LOGSD(theta, k, j));

		v += w[k] * (s * s + d * d);
		/* E (d + s z)^4 = d^4 + 6 d^2 s^2 + 3 s^4 */
		q += w[k] * (d * d * d * d + 6 * d * d * s * s + 3 * s * s * s * s);
	}
	*mean = m;
	*var = v;
	if (m4)
		*m4 = q;
}

/* log N(x; mu, sd^2) in one dimension. */
static double lnorm1(double x, double mu, double sd)
{
	double z = (x - mu) / sd;

	return -0.5 * z * z - log(sd) - 0.5 * log(2 * PI);
}

/* ---- density ------------------------------------------------------------ */

static void test_mog_logpdf_by_hand(void **state)
{
	float theta[MOG_P], t2[MOG_P], x[MOG_DMAX] = { 0 }, x2[MOG_DMAX];
	double want, r[MOG_KMAX];
	float resp[MOG_KMAX];
	int j;

	(void)state;
	/* one dominant component (k = 2) in D = 3 */
	theta_off(theta);
	LOGIT(theta, 2) = 0.0f;
	MU(theta, 2, 0) = 0.5f;
	MU(theta, 2, 1) = -1.0f;
	MU(theta, 2, 2) = 2.0f;
	LOGSD(theta, 2, 0) = -0.3f;
	LOGSD(theta, 2, 1) = 0.2f;
	LOGSD(theta, 2, 2) = 0.1f;
	x[0] = 0.9f;
	x[1] = -1.5f;
	x[2] = 1.2f;
	want = 0.0;
	for (j = 0; j < 3; j++)
		want += lnorm1(x[j], MU(theta, 2, j), exp(LOGSD(theta, 2, j)));
	assert_near(mog_logpdf(theta, 3, x), want, 1e-9, "one component");
	assert_near(-mog_nll(theta, 3, x, 1, NULL, NULL), want, 1e-12,
		    "nll of one row");

	/* inactive columns of x and inactive entries of theta are ignored */
	memcpy(t2, theta, sizeof t2);
	memcpy(x2, x, sizeof x2);
	for (j = 3; j < MOG_DMAX; j++) {
		x2[j] = 1e3f;
		MU(t2, 2, j) = -7.0f;
		LOGSD(t2, 2, j) = 2.5f;
		MU(t2, 5, j) = 4.0f;
	}
	assert_true(mog_logpdf(t2, 3, x2) == mog_logpdf(theta, 3, x));

	/* logsd is clamped: -7 acts as -5, 4 as 3 */
	LOGSD(t2, 2, 0) = -7.0f;
	LOGSD(t2, 2, 1) = 4.0f;
	x2[0] = 0.5f + 0.004f;
	want = lnorm1(x2[0], 0.5, exp(-5.0)) + lnorm1(x2[1], -1.0, exp(3.0)) +
	       lnorm1(x2[2], 2.0, exp(0.1f));
	assert_near(mog_logpdf(t2, 3, x2), want, 1e-9, "clamped logsd");

	/* two equal components in D = 1: log(N1 / 2 + N2 / 2) */
	theta_off(theta);
	LOGIT(theta, 0) = 1.5f;
	LOGIT(theta, 6) = 1.5f;
	MU(theta, 0, 0) = -1.0f;
	LOGSD(theta, 0, 0) = (float)log(0.5);
	MU(theta, 6, 0) = 2.0f;
	LOGSD(theta, 6, 0) = 0.0f;
	x[0] = 0.25f;
	r[0] = log(0.5) + lnorm1(0.25, -1.0, exp(LOGSD(theta, 0, 0)));
	r[1] = log(0.5) + lnorm1(0.25, 2.0, 1.0);
	want = log(exp(r[0]) + exp(r[1]));
	assert_near(mog_logpdf(theta, 1, x), want, 1e-9, "two components");
	mog_nll(theta, 1, x, 1, NULL, resp);
	assert_near(resp[0], exp(r[0] - want), 1e-6, "responsibility 0");
	assert_near(resp[6], exp(r[1] - want), 1e-6, "responsibility 6");

	/* far in the tail the log-sum-exp keeps it finite */
	x[0] = 400.0f;
	assert_true(isfinite(mog_logpdf(theta, 1, x)));
	assert_near(mog_logpdf(theta, 1, x), log(0.5) + lnorm1(400.0, 2.0, 1.0),
		    1e-9, "tail");
}

/* ---- gradient ----------------------------------------------------------- */

enum { GN = 9 };

struct grad_ctx {
	float theta[MOG_P];
	float X[GN * MOG_DMAX];
	int D;
};

static double grad_loss(void *p)
{
	struct grad_ctx *c = p;

	return mog_nll(c->theta, c->D, c->X, GN, NULL, NULL);
}

static void test_mog_nll_grad(void **state)
{
	const int dims[3] = { 3, 1, MOG_DMAX - 1 };
	struct grad_ctx c;
	float grad[MOG_P], resp[GN * MOG_KMAX];
	uint64_t seed = 12;
	int t, k, j, i;

	(void)state;
	for (t = 0; t < 3; t++) {
		double mean = 0.0, nll;

		c.D = dims[t];
		/* logits in [-1.5, 1.5], means in [-1.5, 1.5], logsd in
		 * [-1, 0.7]; the inactive entries get values too */
		for (k = 0; k < MOG_KMAX; k++) {
			tu_fill(&LOGIT(c.theta, k), 1, -1.5f, 1.5f, &seed);
			tu_fill(&MU(c.theta, k, 0), MOG_DMAX, -1.5f, 1.5f, &seed);
			tu_fill(&LOGSD(c.theta, k, 0), MOG_DMAX, -1.0f, 0.7f, &seed);
		}
		/* one clamped entry at each end, in active dimensions */
		LOGSD(c.theta, 1, 0) = -6.0f;
		LOGSD(c.theta, 4, c.D - 1) = 3.6f;
		tu_fill(c.X, GN * MOG_DMAX, -2.5f, 2.5f, &seed);

		for (j = 0; j < MOG_P; j++)
			grad[j] = NAN;	/* overwritten, not accumulated */
		nll = mog_nll(c.theta, c.D, c.X, GN, grad, resp);
		for (i = 0; i < GN; i++)
			mean -= mog_logpdf(c.theta, c.D, c.X + i * MOG_DMAX);
		assert_near(nll, mean / GN, 1e-12 * fabs(mean / GN), "mean nll");

		for (k = 0; k < MOG_KMAX; k++)
			for (j = c.D; j < MOG_DMAX; j++) {
				assert_true(MU(grad, k, j) == 0.0f);
				assert_true(LOGSD(grad, k, j) == 0.0f);
			}
		assert_true(LOGSD(grad, 1, 0) == 0.0f);
		assert_true(LOGSD(grad, 4, c.D - 1) == 0.0f);
		assert_int_equal(tu_grad_check("mog dtheta", c.theta, grad, MOG_P,
					       grad_loss, &c, 1e-3f, 5e-6f, 3e-4f,
					       MOG_P), 0);

		/* responsibilities: a distribution per row */
		for (i = 0; i < GN; i++) {
			double s = 0.0;

			for (k = 0; k < MOG_KMAX; k++) {
				float rk = resp[i * MOG_KMAX + k];

				assert_true(rk >= 0.0f && rk <= 1.0f);
				s += rk;
			}
			assert_near(s, 1.0, 1e-6, "responsibilities sum");
		}
	}
}

/* ---- sampling ----------------------------------------------------------- */

static void test_mog_sample_moments(void **state)
{
	enum { N = 200000, D = 3 };
	float *X = tu_alloc((size_t)N * MOG_DMAX);
	float theta[MOG_P], A[5 * MOG_DMAX], B[5 * MOG_DMAX];
	uint64_t seed = 77;
	struct rng r, r2;
	int i, j, k;

	(void)state;
	theta_off(theta);
	LOGIT(theta, 0) = 0.3f;
	LOGIT(theta, 3) = -0.5f;
	LOGIT(theta, 7) = 1.0f;
	for (k = 0; k < MOG_KMAX; k += 1) {
		tu_fill(&MU(theta, k, 0), MOG_DMAX, -2.0f, 2.0f, &seed);
		tu_fill(&LOGSD(theta, k, 0), MOG_DMAX, -1.0f, 0.5f, &seed);
	}
	LOGSD(theta, 3, 1) = 3.4f;	/* sampled with the clamped sd e^3 */
	LOGSD(theta, 0, 2) = -6.0f;	/* and e^-5 */

	rng_seed(&r, 4);
	mog_sample(theta, D, &r, N, X);
	for (j = 0; j < MOG_DMAX; j++) {
		double s = 0.0, ss = 0.0, m, v, m4, em, ev;

		if (j >= D) {
			for (i = 0; i < N; i++)
				assert_true(X[(long)i * MOG_DMAX + j] == 0.0f);
			continue;
		}
		moments(theta, j, &m, &v, &m4);
		for (i = 0; i < N; i++)
			s += X[(long)i * MOG_DMAX + j];
		em = s / N;
		for (i = 0; i < N; i++) {
			double d = X[(long)i * MOG_DMAX + j] - em;

			ss += d * d;
		}
		ev = ss / (N - 1);
		assert_near(em, m, 5 * sqrt(v / N), "sample mean");
		assert_near(ev, v, 5 * sqrt((m4 - v * v) / N), "sample variance");
	}

	/* the same seed gives the same rows and leaves r in the same place */
	rng_seed(&r, 9);
	rng_seed(&r2, 9);
	mog_sample(theta, D, &r, 5, A);
	mog_sample(theta, D, &r2, 5, B);
	assert_memory_equal(A, B, sizeof A);
	assert_memory_equal(&r, &r2, sizeof r);

	/* component frequencies: three far-apart narrow components in 1-D */
	{
		const float logit[3] = { 0.0f, 1.0f, -1.0f };
		const float at[3] = { -10.0f, 0.0f, 10.0f };
		double w[MOG_KMAX];
		int cnt[3] = { 0, 0, 0 };

		theta_off(theta);
		for (k = 0; k < 3; k++) {
			LOGIT(theta, 2 * k) = logit[k];
			MU(theta, 2 * k, 0) = at[k];
			LOGSD(theta, 2 * k, 0) = (float)log(0.1);
		}
		weights(theta, w);
		mog_sample(theta, 1, &r, N, X);
		for (i = 0; i < N; i++) {
			float v = X[(long)i * MOG_DMAX];

			cnt[v < -5.0f ? 0 : v < 5.0f ? 1 : 2]++;
		}
		for (k = 0; k < 3; k++) {
			double p = w[2 * k];

			assert_near((double)cnt[k] / N, p, 5 * sqrt(p * (1 - p) / N),
				    "component frequency");
		}
	}
	free(X);
}

/* ---- task family -------------------------------------------------------- */

static void test_mog_family_check(void **state)
{
	struct mog_family f, g;

	(void)state;
	memset(&f, 0x5a, sizeof f);
	mog_family_default(&f);
	assert_int_equal(f.dmin, 2);
	assert_int_equal(f.dmax, 2);
	assert_int_equal(f.kmin, 1);
	assert_int_equal(f.kmax, 4);
	assert_true(f.spread == 2.5f && f.sdmin == 0.15f && f.sdmax == 0.6f);
	assert_int_equal(mog_family_check(&f), AM_OK);

#define BAD(field, value)                                               \
	do {                                                            \
		g = f;                                                  \
		g.field = (value);                                      \
		assert_int_equal(mog_family_check(&g), AM_EINVAL);      \
	} while (0)
	BAD(dmin, 0);
	BAD(dmin, 3);			/* above dmax */
	BAD(dmax, MOG_DMAX + 1);
	BAD(kmin, 0);
	BAD(kmin, 5);
	BAD(kmax, MOG_KMAX + 1);
	BAD(spread, -1.0f);
	BAD(spread, NAN);
	BAD(spread, INFINITY);
	BAD(sdmin, 0.0f);
	BAD(sdmin, 0.7f);		/* above sdmax */
	BAD(sdmax, INFINITY);
	BAD(sdmin, NAN);
	BAD(spread, 10.0f);		/* sdmin 0.15 < 0.02 * 10 */
	BAD(sdmax, 8.0f);		/* sdmin 0.15 < 0.02 * 8 */
#undef BAD
	g = f;
	g.dmin = 1;
	g.dmax = MOG_DMAX;
	g.kmin = g.kmax = MOG_KMAX;
	g.spread = 0.0f;
	assert_int_equal(mog_family_check(&g), AM_OK);
}

static void test_mog_task_draw(void **state)
{
	enum { TASKS = 1500 };
	struct mog_family fam[3];
	struct mog_task t, t2;
	struct rng r, r2;
	int c, i, k, j;

	(void)state;
	mog_family_default(&fam[0]);
	fam[1] = fam[0];
	fam[1].dmin = 1;
	fam[1].dmax = MOG_DMAX;
	fam[1].kmin = 1;
	fam[1].kmax = MOG_KMAX;
	fam[1].spread = 3.0f;
	fam[1].sdmin = 0.1f;
	fam[1].sdmax = 1.0f;
	fam[2] = fam[1];
	fam[2].spread = 0.0f;	/* every component centred: only sds differ */
	fam[2].sdmin = 0.02f;

	rng_seed(&r, 2025);
	for (c = 0; c < 3; c++) {
		const struct mog_family *f = &fam[c];
		int seenD[MOG_DMAX + 1] = { 0 }, seenK[MOG_KMAX + 1] = { 0 };
		double lowest = 1.0;	/* min over tasks of w_k K */

		for (i = 0; i < TASKS; i++) {
			double w[MOG_KMAX];

			memset(&t, 0x5a, sizeof t);	/* every float written */
			mog_task_draw(&t, f, &r);
			assert_in_range(t.D, f->dmin, f->dmax);
			assert_in_range(t.K, f->kmin, f->kmax);
			seenD[t.D]++;
			seenK[t.K]++;
			assert_int_equal(mog_check(t.theta), AM_OK);

			weights(t.theta, w);
			for (k = 0; k < MOG_KMAX; k++) {
				if (k >= t.K) {
					assert_true(LOGIT(t.theta, k) == MOG_LOGIT_OFF);
					for (j = 0; j < MOG_DMAX; j++)
						assert_true(MU(t.theta, k, j) == 0.0f &&
							    LOGSD(t.theta, k, j) == 0.0f);
					continue;
				}
				/* w_k = 0.5 / K + 0.5 g_k, 0 <= g_k <= 1 */
				assert_true(w[k] * t.K >= 0.5 * (1 - 1e-6));
				assert_true(w[k] <= 0.5 / t.K + 0.5 + 1e-6);
				lowest = fmin(lowest, w[k] * t.K);
				for (j = 0; j < MOG_DMAX; j++) {
					float ls = LOGSD(t.theta, k, j);

					if (j >= t.D) {
						assert_true(MU(t.theta, k, j) == 0.0f &&
							    ls == 0.0f);
						continue;
					}
					/* never clamped, so the moments below
					 * are those of the density */
					assert_true(ls >= MOG_LOGSD_MIN &&
						    ls <= MOG_LOGSD_MAX);
					if (f->spread == 0.0f)
						assert_true(fabsf(MU(t.theta, k, j)) < 1e-6f);
				}
			}
			for (j = 0; j < t.D; j++) {
				double m, v;

				moments(t.theta, j, &m, &v, NULL);
				assert_near(m, 0.0, 1e-6, "normalised mean");
				assert_near(v, 1.0, 1e-6, "normalised variance");
			}
		}
		for (j = f->dmin; j <= f->dmax; j++)
			assert_true(seenD[j] > TASKS / (f->dmax - f->dmin + 1) / 2);
		for (k = f->kmin; k <= f->kmax; k++)
			assert_true(seenK[k] > TASKS / (f->kmax - f->kmin + 1) / 2);
		/* the Dirichlet part reaches near its floor: a weight below
		 * 0.55 / K has probability >= 0.07 per task with K >= 2 */
		assert_true(lowest < 0.55);
	}

	/* the same seed draws the same task */
	rng_seed(&r, 8);
	rng_seed(&r2, 8);
	mog_task_draw(&t, &fam[1], &r);
	mog_task_draw(&t2, &fam[1], &r2);
	assert_memory_equal(&t, &t2, sizeof t);
	assert_memory_equal(&r, &r2, sizeof r);
}

/* ---- EM ----------------------------------------------------------------- */

/* min over pairs of live components of |mu_a - mu_b| / the largest sd of
 * either in any active dimension. */
static double separation(const struct mog_task *t)
{
	double best = INFINITY;
	int a, b, j;

	for (a = 0; a < t->K; a++)
		for (b = a + 1; b < t->K; b++) {
			double d2 = 0.0, sd = 0.0;

			for (j = 0; j < t->D; j++) {
				double d = MU(t->theta, a, j) - MU(t->theta, b, j);

				d2 += d * d;
				sd = fmax(sd, fmax(exp(LOGSD(t->theta, a, j)),
						   exp(LOGSD(t->theta, b, j))));
			}
			best = fmin(best, sqrt(d2) / sd);
		}
	return best;
}

static void test_mog_em_recovers(void **state)
{
	enum { N = 2000, NT = 20000, WANT = 3 };
	float *X = tu_alloc((size_t)N * MOG_DMAX);
	float *Xt = tu_alloc((size_t)NT * MOG_DMAX);
	struct mog_family f;
	struct mog_task t;
	struct rng r;
	float theta[MOG_P];
	int done = 0, tries, k, j;

	(void)state;
	mog_family_default(&f);
	f.kmin = f.kmax = 3;
	f.spread = 3.0f;
	f.sdmin = 0.2f;
	f.sdmax = 0.4f;
	rng_seed(&r, 31337);
	for (tries = 0; tries < 50 && done < WANT; tries++) {
		double ll, train_true, test_true, test_em;

		mog_task_draw(&t, &f, &r);
		/* well separated: means at least 5 sds apart */
		if (separation(&t) < 5.0)
			continue;
		mog_sample(t.theta, t.D, &r, N, X);
		mog_sample(t.theta, t.D, &r, NT, Xt);
		ll = mog_em(X, N, t.D, 3, 5, 300, &r, theta);
		assert_true(isfinite(ll));
		assert_int_equal(mog_check(theta), AM_OK);
		assert_true(ll == -mog_nll(theta, t.D, X, N, NULL, NULL));

		/* the maximum likelihood fit beats the truth on its own rows */
		train_true = -mog_nll(t.theta, t.D, X, N, NULL, NULL);
		if (!(ll >= train_true))
			fail_msg("EM training log-lik %.6f below the truth's %.6f",
				 ll, train_true);
		test_true = -mog_nll(t.theta, t.D, Xt, NT, NULL, NULL);
		test_em = -mog_nll(theta, t.D, Xt, NT, NULL, NULL);
		if (!(test_em >= test_true - 0.02))
			fail_msg("EM held-out log-lik %.6f vs the truth's %.6f",
				 test_em, test_true);

		/* the layout: components >= K off, inactive dims zero */
		for (k = 0; k < MOG_KMAX; k++)
			for (j = 0; j < MOG_DMAX; j++) {
				if (k < 3 && j < t.D)
					continue;
				assert_true(MU(theta, k, j) == 0.0f &&
					    LOGSD(theta, k, j) == 0.0f);
			}
		for (k = 3; k < MOG_KMAX; k++)
			assert_true(LOGIT(theta, k) == MOG_LOGIT_OFF);
		done++;
	}
	assert_int_equal(done, WANT);
	free(X);
	free(Xt);
}

static void test_mog_em_restarts(void **state)
{
	enum { N = 500, R = 6 };
	float *X = tu_alloc((size_t)N * MOG_DMAX);
	float best[MOG_P], one[MOG_P], keep[MOG_P];
	struct mog_family f;
	struct mog_task t;
	struct rng r, r1;
	double all, single[R], top = -INFINITY;
	int i, distinct = 0;

	(void)state;
	/* four overlapping components: restarts end in different optima */
	mog_family_default(&f);
	f.kmin = f.kmax = 4;
	f.spread = 1.0f;
	rng_seed(&r, 5);
	mog_task_draw(&t, &f, &r);
	mog_sample(t.theta, t.D, &r, N, X);

	/* R single restarts on one generator see the same seeds as one call
	 * with R restarts; the call keeps the best of them */
	r1 = r;
	all = mog_em(X, N, t.D, 4, R, 200, &r, best);
	for (i = 0; i < R; i++) {
		single[i] = mog_em(X, N, t.D, 4, 1, 200, &r1, one);
		assert_true(all >= single[i]);
		if (single[i] > top) {
			top = single[i];
			memcpy(keep, one, sizeof keep);
		}
		distinct += i > 0 && single[i] != single[0];
	}
	assert_memory_equal(&r, &r1, sizeof r);
	assert_true(all == top);
	assert_memory_equal(best, keep, sizeof best);
	/* the restarts did explore: not every run ended in one optimum */
	assert_true(distinct > 0);
	free(X);
}

static void test_mog_em_one_component(void **state)
{
	enum { N = 300, D = 3 };
	float *X = tu_alloc((size_t)N * MOG_DMAX), theta[MOG_P];
	uint64_t seed = 41;
	struct rng r;
	double ll, want = 0.0;
	int i, j;

	(void)state;
	tu_fill(X, (size_t)N * MOG_DMAX, -1.0f, 3.0f, &seed);
	rng_seed(&r, 3);
	ll = mog_em(X, N, D, 1, 2, 50, &r, theta);
	/* K = 1: the sample mean and the biased sample variance, and
	 * mean log-lik = -1/2 sum_j (log(2 pi var_j) + 1) */
	for (j = 0; j < D; j++) {
		double m = 0.0, v = 0.0;

		for (i = 0; i < N; i++)
			m += X[i * MOG_DMAX + j];
		m /= N;
		for (i = 0; i < N; i++) {
			double d = X[i * MOG_DMAX + j] - m;

			v += d * d;
		}
		v /= N;
		assert_near(MU(theta, 0, j), m, 1e-5, "K = 1 mean");
		assert_near(exp(2.0 * LOGSD(theta, 0, j)), v, 1e-5 * v, "K = 1 var");
		want -= 0.5 * (log(2 * PI * v) + 1.0);
	}
	assert_true(LOGIT(theta, 0) == 0.0f);
	assert_near(ll, want, 1e-5, "K = 1 log-lik");

	/* data wider than the sd cap e^3: the fit stops at the cap */
	for (i = 0; i < N; i++)
		X[i * MOG_DMAX] *= 100.0f;
	ll = mog_em(X, N, 1, 1, 1, 50, &r, theta);
	assert_true(isfinite(ll));
	assert_true(LOGSD(theta, 0, 0) == MOG_LOGSD_MAX);
	free(X);
}

static void test_mog_em_degenerate(void **state)
{
	float X[6 * MOG_DMAX], theta[MOG_P], keep[MOG_P];
	struct rng r;
	double ll;
	int i, j;

	(void)state;
	rng_seed(&r, 1);
	for (j = 0; j < MOG_P; j++)
		keep[j] = theta[j] = 7.0f;
	memset(X, 0, sizeof X);
	for (i = 0; i < 6; i++)
		X[i * MOG_DMAX] = (float)i;

	/* fewer rows than components: NAN, theta untouched */
	assert_true(isnan(mog_em(X, 2, 1, 3, 2, 20, &r, theta)));
	assert_true(isnan(mog_em(X, 0, 1, 1, 2, 20, &r, theta)));
	assert_memory_equal(theta, keep, sizeof keep);

	/* a non-finite active entry: NAN, theta untouched; an inactive one
	 * is ignored */
	X[3 * MOG_DMAX] = NAN;
	assert_true(isnan(mog_em(X, 6, 1, 2, 2, 20, &r, theta)));
	X[3 * MOG_DMAX] = INFINITY;
	assert_true(isnan(mog_em(X, 6, 1, 2, 2, 20, &r, theta)));
	assert_memory_equal(theta, keep, sizeof keep);
	X[3 * MOG_DMAX] = 3.0f;
	X[3 * MOG_DMAX + 4] = NAN;
	assert_true(isfinite(mog_em(X, 6, 1, 2, 2, 20, &r, theta)));
	X[3 * MOG_DMAX + 4] = 0.0f;

	/* exactly K rows: each its own component, at the sd floor */
	ll = mog_em(X, 3, 1, 3, 2, 20, &r, theta);
	assert_true(isfinite(ll));
	assert_int_equal(mog_check(theta), AM_OK);

	/* all rows equal: fewer distinct points than components */
	for (i = 0; i < 6; i++)
		X[i * MOG_DMAX] = 1.5f;
	ll = mog_em(X, 6, 1, 4, 3, 20, &r, theta);
	assert_true(isfinite(ll));
	assert_int_equal(mog_check(theta), AM_OK);
	assert_near(ll, -mog_nll(theta, 1, X, 6, NULL, NULL), 0.0, "same rows");
}

static void test_mog_check(void **state)
{
	float theta[MOG_P];

	(void)state;
	theta_off(theta);
	assert_int_equal(mog_check(theta), AM_OK);
	theta[MOG_P - 1] = NAN;
	assert_int_equal(mog_check(theta), AM_ENUMERIC);
	theta[MOG_P - 1] = 0.0f;
	theta[17] = -INFINITY;
	assert_int_equal(mog_check(theta), AM_ENUMERIC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mog_logpdf_by_hand),
		cmocka_unit_test(test_mog_nll_grad),
		cmocka_unit_test(test_mog_sample_moments),
		cmocka_unit_test(test_mog_family_check),
		cmocka_unit_test(test_mog_task_draw),
		cmocka_unit_test(test_mog_em_recovers),
		cmocka_unit_test(test_mog_em_restarts),
		cmocka_unit_test(test_mog_em_one_component),
		cmocka_unit_test(test_mog_em_degenerate),
		cmocka_unit_test(test_mog_check),
	};

	return cmocka_run_group_tests_name("mog", tests, NULL, NULL);
}
