/*
 * test_linclass.c - the softmax linear classifier and the linclass task
 * family.
 *
 * Tolerances and how likely a correct implementation is to miss them:
 * - Gradient: eps = 1e-2 on a reference loss computed in double without
 *   gemm; |analytic - numeric| <= 1e-5 + 1e-3 |numeric|.  Central
 *   differences err by eps^2/6 |f'''| (below 1e-5 here, inputs are N(0, 1)
 *   and the softmax's third cumulant is below 0.1) plus float rounding of
 *   theta +- eps (a relative 1e-5) plus the float logits (1e-6).
 * - Loss and logits against the double reference: 1e-5 relative (float
 *   logits through gemm).
 * - Sampled moments: at least 5 standard errors.
 * - Teacher error on its own rows against the Bayes estimate: both are
 *   means of 20,000 terms in [0, 1] with variance at most 1/4, so their
 *   difference has a standard error below 0.005; the bound is 0.025.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/am.h"
#include "tasks/linclass.h"
#include "testutil.h"

#define T LINCLASS_T
#define BIAS LINCLASS_BIAS

static void assert_near(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("%s: got %.9g, want %.9g (tolerance %.3g)", what, got,
			 want, tol);
}

/* The logit of class k for row x in double, over every input (padding
 * included: the rows' padding is zero). */
static double ref_logit(const float *theta, const float *x, int k)
{
	double s = theta[k * T + BIAS];
	int j;

	for (j = 0; j < LINCLASS_DMAX; j++)
		s += (double)theta[k * T + j] * x[j];
	return s;
}

/* ---- family and draws ---------------------------------------------------- */

static void test_linclass_family(void **state)
{
	struct linclass_family f, g;

	(void)state;
	memset(&f, 0x5a, sizeof f);
	linclass_family_default(&f);
	assert_int_equal(f.dmin, 1);
	assert_int_equal(f.dmax, 32);
	assert_int_equal(f.kmin, 2);
	assert_int_equal(f.kmax, 10);
	assert_true(f.temp_min == 0.05f && f.temp_max == 0.5f);
	assert_int_equal(linclass_family_check(&f), AM_OK);

	/* every bound, just inside and just outside */
	g = f;
	g.dmin = g.dmax = LINCLASS_DMAX;
	g.kmin = g.kmax = LINCLASS_KMAX;
	g.temp_min = g.temp_max = 3.0f;
	assert_int_equal(linclass_family_check(&g), AM_OK);
	g = f;
	g.dmin = 0;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.dmax = LINCLASS_DMAX + 1;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.dmin = 5;
	g.dmax = 4;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.kmin = 1;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.kmax = LINCLASS_KMAX + 1;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.kmin = 4;
	g.kmax = 3;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.temp_min = 0.0f;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.temp_min = 0.6f;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.temp_max = NAN;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
	g = f;
	g.temp_max = INFINITY;
	assert_int_equal(linclass_family_check(&g), AM_EINVAL);
}

static void test_linclass_task_draw(void **state)
{
	enum { TASKS = 3000 };
	struct linclass_family f;
	struct linclass_task t, u;
	struct rng r, r2;
	int seenD[LINCLASS_DMAX + 1] = { 0 }, seenK[LINCLASS_KMAX + 1] = { 0 };
	int i, j, k, below = 0;
	long nw = 0, nb = 0;
	double sw = 0.0, sww = 0.0, sb = 0.0, sbb = 0.0;

	(void)state;
	linclass_family_default(&f);
	rng_seed(&r, 5);
	for (i = 0; i < TASKS; i++) {
		memset(&t, 0x5a, sizeof t);	/* every field must be written */
		linclass_task_draw(&t, &f, &r);
		assert_in_range(t.D, 1, 32);
		assert_in_range(t.K, 2, 10);
		seenD[t.D]++;
		seenK[t.K]++;
		assert_true(t.temp >= 0.05f && t.temp <= 0.5f);
		below += t.temp < sqrtf(0.05f * 0.5f);	/* geometric midpoint */
		for (k = 0; k < LINCLASS_KMAX; k++) {
			for (j = 0; j < T; j++) {
				float v = t.theta[k * T + j];

				if (k >= t.K || (j >= t.D && j != BIAS)) {
					assert_true(v == 0.0f);
				} else if (j == BIAS) {
					sb += v;
					sbb += (double)v * v;
					nb++;
				} else {
					/* sqrt(D) W ~ N(0, 1) */
					sw += sqrt(t.D) * v;
					sww += (double)t.D * v * v;
					nw++;
				}
			}
		}
	}
	for (j = 1; j <= 32; j++)
		assert_true(seenD[j] > TASKS / 32 / 2);
	for (k = 2; k <= 10; k++)
		assert_true(seenK[k] > TASKS / 9 / 2);
	assert_near((double)below / TASKS, 0.5, 5 * sqrt(0.25 / TASKS), "temp median");
	assert_near(sw / nw, 0.0, 5 / sqrt((double)nw), "weight mean");
	assert_near(sww / nw, 1.0, 5 * sqrt(2.0 / nw), "weight variance * D");
	assert_near(sb / nb, 0.0, 5 * LINCLASS_BIAS_SD / sqrt((double)nb), "bias mean");
	assert_near(sbb / nb, LINCLASS_BIAS_SD * LINCLASS_BIAS_SD,
		    5 * sqrt(2.0 / nb) * LINCLASS_BIAS_SD * LINCLASS_BIAS_SD,
		    "bias variance");

	/* deterministic; the documented order: D, K, then temp */
	rng_seed(&r, 77);
	rng_seed(&r2, 77);
	linclass_task_draw(&t, &f, &r);
	linclass_task_draw(&u, &f, &r2);
	assert_memory_equal(&t, &u, sizeof t);
	assert_memory_equal(&r, &r2, sizeof r);
	rng_seed(&r2, 77);
	assert_int_equal(rng_int(&r2, f.dmin, f.dmax), t.D);
	assert_int_equal(rng_int(&r2, f.kmin, f.kmax), t.K);

	/* degenerate ranges are exact */
	f.dmin = f.dmax = LINCLASS_DMAX;
	f.kmin = f.kmax = LINCLASS_KMAX;
	f.temp_min = f.temp_max = 0.3f;
	for (i = 0; i < 20; i++) {
		linclass_task_draw(&t, &f, &r);
		assert_int_equal(t.D, LINCLASS_DMAX);
		assert_int_equal(t.K, LINCLASS_KMAX);
		assert_true(t.temp == 0.3f);
	}
}

static void test_linclass_task_rows(void **state)
{
	enum { N = 20000 };
	float *X = tu_alloc((size_t)N * LINCLASS_DMAX);
	int *y = calloc(N, sizeof *y);
	double sx = 0.0, sxx = 0.0, freq[LINCLASS_KMAX] = { 0 };
	double want[LINCLASS_KMAX] = { 0 };
	struct linclass_family f;
	struct linclass_task t;
	struct rng r, r2;
	int i, j, k;

	(void)state;
	assert_non_null(y);
	linclass_family_default(&f);
	f.dmin = f.dmax = 7;
	f.kmin = f.kmax = 5;
	rng_seed(&r, 9);
	linclass_task_draw(&t, &f, &r);
	/* a large bias on class 0 so the class frequencies differ */
	t.theta[BIAS] = 1.0f;
	linclass_task_rows(&t, &r, N, X, y);
	for (i = 0; i < N; i++) {
		const float *x = X + (long)i * LINCLASS_DMAX;
		double z[LINCLASS_KMAX], mx = -INFINITY, sum = 0.0;

		assert_in_range(y[i], 0, t.K - 1);
		freq[y[i]] += 1.0 / N;
		for (j = 0; j < LINCLASS_DMAX; j++) {
			if (j >= t.D) {
				assert_true(x[j] == 0.0f);
				continue;
			}
			sx += x[j];
			sxx += (double)x[j] * x[j];
		}
		/* the label distribution the rows should follow */
		for (k = 0; k < t.K; k++) {
			z[k] = ref_logit(t.theta, x, k) / t.temp;
			if (z[k] > mx)
				mx = z[k];
		}
		for (k = 0; k < t.K; k++)
			sum += exp(z[k] - mx);
		for (k = 0; k < t.K; k++)
			want[k] += exp(z[k] - mx) / sum / N;
	}
	assert_near(sx / (N * t.D), 0.0, 5 / sqrt(N * t.D), "x mean");
	assert_near(sxx / (N * t.D), 1.0, 5 * sqrt(2.0 / (N * t.D)), "x variance");
	for (k = 0; k < t.K; k++)
		assert_near(freq[k], want[k], 5 * sqrt(0.25 / N), "label frequency");

	/* deterministic, and the documented order: x, then one uniform */
	rng_seed(&r, 3);
	rng_seed(&r2, 3);
	linclass_task_rows(&t, &r, 1, X, y);
	for (j = 0; j < t.D; j++)
		assert_true(X[j] == (float)rng_normal(&r2));
	rng_uniform(&r2);
	assert_memory_equal(&r, &r2, sizeof r);
	free(X);
	free(y);
}

/* ---- logits, loss, error ------------------------------------------------- */

static void test_linclass_logits(void **state)
{
	enum { N = 300 };	/* more than one chunk */
	float *X = tu_alloc((size_t)N * LINCLASS_DMAX);
	float *logits = tu_alloc((size_t)N * LINCLASS_KMAX);
	float theta[LINCLASS_P];
	const int dk[3][2] = { { 1, 2 }, { 13, 7 }, { LINCLASS_DMAX, LINCLASS_KMAX } };
	uint64_t seed = 17;
	int c, i, j, k;

	(void)state;
	for (c = 0; c < 3; c++) {
		int D = dk[c][0], K = dk[c][1];

		tu_fill(X, (size_t)N * LINCLASS_DMAX, -2.0f, 2.0f, &seed);
		for (i = 0; i < N; i++)
			for (j = D; j < LINCLASS_DMAX; j++)
				X[i * LINCLASS_DMAX + j] = 0.0f;
		/* huge values in the padding of theta must not matter */
		for (j = 0; j < LINCLASS_P; j++)
			theta[j] = 1e30f;
		for (k = 0; k < K; k++) {
			tu_fill(theta + k * T, (size_t)D, -1.0f, 1.0f, &seed);
			tu_fill(theta + k * T + BIAS, 1, -1.0f, 1.0f, &seed);
		}
		linclass_logits(theta, D, K, X, N, logits);
		for (i = 0; i < N; i++) {
			const float *z = logits + i * LINCLASS_KMAX;

			for (k = 0; k < LINCLASS_KMAX; k++) {
				if (k >= K) {
					assert_true(isinf(z[k]) && z[k] < 0.0f);
					continue;
				}
				/* the reference over the active inputs only */
				double s = theta[k * T + BIAS];

				for (j = 0; j < D; j++)
					s += (double)theta[k * T + j] * X[i * LINCLASS_DMAX + j];
				assert_near(z[k], s, 1e-5 * (1.0 + fabs(s)), "logit");
			}
			/* the inactive classes never win, over all columns */
			assert_true(linclass_argmax(z, LINCLASS_KMAX) < K);
		}
	}
	free(X);
	free(logits);
}

static void test_linclass_argmax(void **state)
{
	float a[4] = { 1.0f, 3.0f, 3.0f, 2.0f };
	float b[3] = { NAN, -1.0f, NAN };
	float c[2] = { NAN, NAN };
	float d[3] = { -INFINITY, -INFINITY, -5.0f };

	(void)state;
	assert_int_equal(linclass_argmax(a, 4), 1);	/* ties to the lowest */
	assert_int_equal(linclass_argmax(a, 1), 0);
	assert_int_equal(linclass_argmax(b, 3), 1);	/* NaN never wins */
	assert_int_equal(linclass_argmax(c, 2), 0);
	assert_int_equal(linclass_argmax(d, 3), 2);
}

static void test_linclass_error_by_hand(void **state)
{
	/* D = 1, K = 3: logits (x, -x, 0.5) from W = (1, -1, 0), b = (0, 0, 0.5) */
	float theta[LINCLASS_P] = { 0 }, X[5 * LINCLASS_DMAX] = { 0 };
	const float xs[5] = { 2.0f, -2.0f, 0.25f, 0.5f, 0.0f };
	/* argmax: 0, 1, 2, 0 (tie of 0 and 2 at 0.5 goes to 0), 2 */
	const int right[5] = { 0, 1, 2, 0, 2 }, wrong[5] = { 0, 1, 0, 2, 2 };
	int i;

	(void)state;
	theta[0 * T] = 1.0f;
	theta[1 * T] = -1.0f;
	theta[2 * T + BIAS] = 0.5f;
	for (i = 0; i < 5; i++)
		X[i * LINCLASS_DMAX] = xs[i];
	assert_true(linclass_error(theta, 1, 3, X, right, 5) == 0.0);
	assert_true(linclass_error(theta, 1, 3, X, wrong, 5) == 2.0 / 5.0);
	assert_true(linclass_error(theta, 1, 3, X, wrong, 1) == 0.0);
	/* with K = 2 class 2 is gone: x = 0.25 and 0 go to class 0 */
	{
		const int y2[5] = { 0, 1, 0, 0, 1 };

		assert_true(linclass_error(theta, 1, 2, X, y2, 5) == 1.0 / 5.0);
	}
}

struct loss_ctx {
	float theta[LINCLASS_P];
	float *X;
	int *y;
	int n, D, K;
	float l2;
};

/* The mean cross-entropy plus (l2/2)|W|^2 over the active weights, in
 * double, without gemm. */
static double ref_loss(void *p)
{
	struct loss_ctx *c = p;
	double L = 0.0, reg = 0.0;
	int i, j, k;

	for (i = 0; i < c->n; i++) {
		const float *x = c->X + (long)i * LINCLASS_DMAX;
		double z[LINCLASS_KMAX], mx = -INFINITY, sum = 0.0;

		for (k = 0; k < c->K; k++) {
			z[k] = ref_logit(c->theta, x, k);
			if (z[k] > mx)
				mx = z[k];
		}
		for (k = 0; k < c->K; k++)
			sum += exp(z[k] - mx);
		L += mx + log(sum) - z[c->y[i]];
	}
	for (k = 0; k < c->K; k++)
		for (j = 0; j < c->D; j++)
			reg += (double)c->theta[k * T + j] * c->theta[k * T + j];
	return L / c->n + 0.5 * c->l2 * reg;
}

static void test_linclass_loss_grad(void **state)
{
	/* (n, D, K, l2): one row; a padded case over a chunk boundary; all
	 * active; two classes on one input */
	const int cases[4][3] = {
		{ 1, 5, 3 }, { 150, 11, 6 }, { 40, LINCLASS_DMAX, LINCLASS_KMAX },
		{ 25, 1, 2 }
	};
	const float l2s[4] = { 0.0f, 0.3f, 0.05f, 1.0f };
	struct loss_ctx c;
	float g[LINCLASS_P], *probs;
	uint64_t seed = 23;
	struct rng r;
	int q, i, j, k;

	(void)state;
	rng_seed(&r, 4);
	c.X = tu_alloc(150 * LINCLASS_DMAX);
	c.y = calloc(150, sizeof *c.y);
	probs = tu_alloc(150 * LINCLASS_KMAX);
	assert_non_null(c.y);
	for (q = 0; q < 4; q++) {
		double L;

		c.n = cases[q][0];
		c.D = cases[q][1];
		c.K = cases[q][2];
		c.l2 = l2s[q];
		memset(c.X, 0, 150 * LINCLASS_DMAX * sizeof *c.X);
		for (i = 0; i < c.n; i++) {
			rng_fill_normal(&r, c.X + i * LINCLASS_DMAX, c.D, 0.0f, 1.0f);
			c.y[i] = rng_int(&r, 0, c.K - 1);
		}
		/* theta non-zero everywhere, padding included */
		tu_fill(c.theta, LINCLASS_P, -1.0f, 1.0f, &seed);
		for (j = 0; j < LINCLASS_P; j++)
			g[j] = NAN;	/* overwritten, not accumulated */
		L = linclass_loss(c.theta, c.D, c.K, c.X, c.y, c.n, c.l2, g, probs);
		assert_near(L, ref_loss(&c), 1e-5 * ref_loss(&c), "loss");
		assert_true(linclass_loss(c.theta, c.D, c.K, c.X, c.y, c.n, c.l2,
					  NULL, NULL) == L);
		/* zero outside the active weights and biases */
		for (k = 0; k < LINCLASS_KMAX; k++)
			for (j = 0; j < T; j++)
				if (k >= c.K || (j >= c.D && j != BIAS))
					assert_true(g[k * T + j] == 0.0f);
		assert_int_equal(tu_grad_check("linclass dtheta", c.theta, g,
					       LINCLASS_P, ref_loss, &c, 1e-2f,
					       1e-5f, 1e-3f, LINCLASS_P), 0);
		/* probabilities sum to one, zero past K, and match the loss */
		for (i = 0; i < c.n; i++) {
			double s = 0.0;

			for (k = 0; k < LINCLASS_KMAX; k++) {
				float p = probs[i * LINCLASS_KMAX + k];

				if (k >= c.K)
					assert_true(p == 0.0f);
				assert_true(p >= 0.0f && p <= 1.0f);
				s += p;
			}
			assert_near(s, 1.0, 1e-6, "probs sum");
		}
	}

	/* the penalty is on the weights only: moving a bias leaves it */
	c.n = 1;
	c.D = 2;
	c.K = 2;
	memset(c.theta, 0, sizeof c.theta);
	memset(c.X, 0, LINCLASS_DMAX * sizeof *c.X);
	c.y[0] = 0;
	c.theta[BIAS] = 3.0f;
	c.theta[T + BIAS] = 3.0f;
	/* equal logits: log 2, whatever l2 */
	assert_near(linclass_loss(c.theta, 2, 2, c.X, c.y, 1, 10.0f, g, NULL),
		    log(2.0), 1e-7, "bias unpenalised");
	c.theta[0] = 2.0f;	/* one weight: + 10 / 2 * 4 */
	assert_near(linclass_loss(c.theta, 2, 2, c.X, c.y, 1, 10.0f, g, NULL),
		    log(2.0) + 20.0, 1e-5, "weight penalised");
	assert_near(g[0], 20.0, 1e-5, "weight penalty gradient");
	assert_near(g[BIAS], -0.5, 1e-7, "bias gradient");
	free(c.X);
	free(c.y);
	free(probs);
}

static void test_linclass_loss_extreme(void **state)
{
	/* logits of 1e4 must not overflow: the loss is the margin */
	float theta[LINCLASS_P] = { 0 }, X[LINCLASS_DMAX] = { 0 }, g[LINCLASS_P];
	int y = 1;

	(void)state;
	X[0] = 1.0f;
	theta[0] = 1e4f;
	assert_near(linclass_loss(theta, 1, 2, X, &y, 1, 0.0f, g, NULL), 1e4,
		    1e-2, "large margin");
	assert_near(g[0], 1.0, 1e-7, "saturated gradient");
	assert_near(g[T], -1.0, 1e-7, "saturated gradient");
	theta[0] = NAN;
	assert_true(isnan(linclass_loss(theta, 1, 2, X, &y, 1, 0.0f, g, NULL)));
}

/* ---- the teacher and its Bayes error -------------------------------------- */

static void test_linclass_bayes(void **state)
{
	enum { N = 20000, TASKS = 6 };
	float *X = tu_alloc((size_t)N * LINCLASS_DMAX), theta[LINCLASS_P];
	int *y = calloc(N, sizeof *y);
	const float temps[4] = { 0.05f, 0.2f, 0.5f, 1.0f };
	struct linclass_family f;
	struct linclass_task t;
	struct rng r;
	int i, q;

	(void)state;
	assert_non_null(y);
	linclass_family_default(&f);
	rng_seed(&r, 31);
	for (i = 0; i < TASKS; i++) {
		double bayes, own, exp_err, prev = -1.0;

		linclass_task_draw(&t, &f, &r);
		bayes = linclass_task_bayes_error(&t, &r, N);
		assert_true(bayes >= 0.0 && bayes <= 1.0 - 1.0 / t.K);
		/* the teacher's error on its own sampled labels */
		linclass_task_rows(&t, &r, N, X, y);
		own = linclass_error(t.theta, t.D, t.K, X, y, N);
		assert_near(own, bayes, 0.025, "teacher error vs Bayes estimate");
		/* the expected error on these rows agrees as well, and no other
		 * classifier beats the teacher's argmax on them */
		exp_err = linclass_task_error(&t, t.theta, X, N);
		assert_near(exp_err, own, 0.025, "expected vs sampled error");
		memcpy(theta, t.theta, sizeof theta);
		for (q = 0; q < t.K * T; q += 7)
			theta[q] += 0.3f;
		assert_true(linclass_task_error(&t, theta, X, N) >= exp_err);

		/* hotter labels are noisier: on the same rows, the teacher's
		 * expected error grows with temp */
		for (q = 0; q < 4; q++) {
			double e;

			t.temp = temps[q];
			e = linclass_task_error(&t, t.theta, X, N);
			assert_true(e > prev);
			prev = e;
		}
	}
	free(X);
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linclass_family),
		cmocka_unit_test(test_linclass_task_draw),
		cmocka_unit_test(test_linclass_task_rows),
		cmocka_unit_test(test_linclass_logits),
		cmocka_unit_test(test_linclass_argmax),
		cmocka_unit_test(test_linclass_error_by_hand),
		cmocka_unit_test(test_linclass_loss_grad),
		cmocka_unit_test(test_linclass_loss_extreme),
		cmocka_unit_test(test_linclass_bayes),
	};

	return cmocka_run_group_tests_name("linclass", tests, NULL, NULL);
}
