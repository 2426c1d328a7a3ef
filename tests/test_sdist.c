/*
 * test_sdist.c - energy distance and unbiased MMD^2 between samples.
 *
 * Tolerances:
 * - Hand examples and the stride / symmetry checks: 1e-12 relative (the
 *   sums only differ by rounding order, if at all).
 * - Against the closed forms for N(0, 1) against N(d, 1), n = m = 2000,
 *   d = 0, 0.5, 1: over 100 seeds the estimators' standard deviations were
 *   0.0008, 0.017, 0.036 (energy) and 0.0004, 0.006, 0.012 (MMD^2, h = 1);
 *   the bounds are 6 of those: 0.005, 0.1, 0.2 and 0.0025, 0.035, 0.075.
 *   A wrong normalisation (say n^2 for n (n - 1)) or a missing factor 2
 *   moves the values by far more.
 * - Two samples of one distribution against shifted ones (D = 3,
 *   n = m = 400, shift 1, 2, 4 in one coordinate; 200 seeds): the
 *   same-distribution values have standard deviation 0.005 (energy) and
 *   0.0014 (MMD^2), bounded by 0.03 and 0.01; shift 1 gives 0.37 +- 0.06
 *   and 0.059 +- 0.010, shift 2 gives 1.37 +- 0.09 and 0.186 +- 0.014,
 *   shift 4 gives 4.5 +- 0.14 and 0.359 +- 0.013, so each step of the
 *   growth is at least 5.7 standard deviations.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/rng.h"
#include "eval/sdist.h"
#include "testutil.h"

#define PI 3.14159265358979323846

static void assert_near(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("%s: got %.9g, want %.9g (tolerance %.3g)", what, got,
			 want, tol);
}

/* n rows of stride `stride`: N(0, 1) in the first D columns plus shift in
 * column 0, and 99 in the padding (which must be ignored). */
static void draw(float *A, int n, int D, int stride, double shift,
		 struct rng *r)
{
	int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < stride; j++)
			A[(long)i * stride + j] =
				j < D ? (float)(rng_normal(r) + (j == 0 ? shift : 0.0))
				      : 99.0f;
}

static void test_sdist_by_hand(void **state)
{
	/* 1-D: X = {0, 1}, Y = {3, 5} */
	const float X[2] = { 0.0f, 1.0f }, Y[2] = { 3.0f, 5.0f };
	const float Y2[2] = { 0.0f, 2.0f };
	double kxy, want;

	(void)state;
	/* E|X-Y| = (3 + 5 + 2 + 4) / 4 = 3.5, E|X-X'| = 1, E|Y-Y'| = 2 */
	assert_near(sdist_energy(X, 2, Y, 2, 1, 1), 2 * 3.5 - 1 - 2, 1e-12,
		    "energy by hand");

	/* MMD^2 of X against Y2 = {0, 2}, h = 1:
	 * kxx = e^-1/2, kyy = e^-2, kxy = (1 + e^-2 + e^-1/2 + e^-1/2) / 4 */
	kxy = (1.0 + exp(-2.0) + 2.0 * exp(-0.5)) / 4.0;
	want = exp(-0.5) + exp(-2.0) - 2.0 * kxy;
	assert_near(sdist_mmd2(X, 2, Y2, 2, 1, 1, 1.0), want, 1e-12,
		    "mmd2 by hand");
	/* h = 2 divides every squared distance by 4 */
	kxy = (1.0 + exp(-0.5) + 2.0 * exp(-0.125)) / 4.0;
	want = exp(-0.125) + exp(-0.5) - 2.0 * kxy;
	assert_near(sdist_mmd2(X, 2, Y2, 2, 1, 1, 2.0), want, 1e-12,
		    "mmd2 by hand, h = 2");

	/* 2-D with a 3-4-5 triangle: X = {(0,0), (3,4)}, Y = {(0,0), (0,0)}:
	 * E|X-Y| = (0 + 0 + 5 + 5) / 4, E|X-X'| = 5, E|Y-Y'| = 0 */
	{
		const float A[4] = { 0, 0, 3, 4 }, B[4] = { 0, 0, 0, 0 };

		assert_near(sdist_energy(A, 2, B, 2, 2, 2), 2 * 2.5 - 5, 1e-12,
			    "energy 2-D");
	}
}

static void test_sdist_stride_and_symmetry(void **state)
{
	enum { N = 37, M = 23, D = 3, S = 5 };
	float X[N * S], Y[M * S], Xc[N * D], Yc[M * D];
	struct rng r;
	double e, ec, k, kc;
	int i, j;

	(void)state;
	rng_seed(&r, 5);
	draw(X, N, D, S, 0.0, &r);
	draw(Y, M, D, S, 0.7, &r);
	for (i = 0; i < N; i++)
		for (j = 0; j < D; j++)
			Xc[i * D + j] = X[i * S + j];
	for (i = 0; i < M; i++)
		for (j = 0; j < D; j++)
			Yc[i * D + j] = Y[i * S + j];

	/* the padding columns (99) are ignored */
	e = sdist_energy(X, N, Y, M, D, S);
	ec = sdist_energy(Xc, N, Yc, M, D, D);
	assert_near(e, ec, 1e-12 * fabs(ec), "energy with stride");
	k = sdist_mmd2(X, N, Y, M, D, S, 1.3);
	kc = sdist_mmd2(Xc, N, Yc, M, D, D, 1.3);
	assert_near(k, kc, 1e-12 * fabs(kc), "mmd2 with stride");

	/* symmetric in the two samples */
	assert_near(sdist_energy(Y, M, X, N, D, S), e, 1e-12 * fabs(e),
		    "energy symmetric");
	assert_near(sdist_mmd2(Y, M, X, N, D, S, 1.3), k, 1e-12 * fabs(k),
		    "mmd2 symmetric");

	/* a sample against itself: the U-statistics leave out i = i' within
	 * but not between, so the value is a small negative number, not 0:
	 * 2 S / n^2 - 2 S / (n (n - 1)) with S the within sum */
	assert_true(sdist_energy(X, N, X, N, D, S) < 0.0);
	assert_true(sdist_energy(X, N, X, N, D, S) > -0.2);
}

/* E|N(mu, s^2)| */
static double abs_mean(double mu, double s)
{
	return s * sqrt(2.0 / PI) * exp(-mu * mu / (2.0 * s * s)) +
	       mu * erf(mu / (s * sqrt(2.0)));
}

static void test_sdist_closed_form(void **state)
{
	enum { N = 2000 };
	const double shifts[3] = { 0.0, 0.5, 1.0 };
	const double etol[3] = { 0.005, 0.1, 0.2 }, ktol[3] = { 0.0025, 0.035, 0.075 };
	float *X = tu_alloc(N), *Y = tu_alloc(N);
	struct rng r;
	int s;

	(void)state;
	rng_seed(&r, 17);
	for (s = 0; s < 3; s++) {
		double d = shifts[s], h = 1.0, e, a, k;

		draw(X, N, 1, 1, 0.0, &r);
		draw(Y, N, 1, 1, d, &r);
		/* X - Y ~ N(-d, 2) and X - X' ~ N(0, 2) */
		e = 2.0 * abs_mean(d, sqrt(2.0)) - 2.0 * abs_mean(0.0, sqrt(2.0));
		assert_near(sdist_energy(X, N, Y, N, 1, 1), e, etol[s],
			    "energy vs closed form");
		/* E exp(-u^2 / 2h^2) for u ~ N(mu, 2) is
		 * h / sqrt(h^2 + 2) exp(-mu^2 / (2 (h^2 + 2))) */
		a = h / sqrt(h * h + 2.0);
		k = 2.0 * a * (1.0 - exp(-d * d / (2.0 * (h * h + 2.0))));
		assert_near(sdist_mmd2(X, N, Y, N, 1, 1, h), k, ktol[s],
			    "mmd2 vs closed form");
	}
	free(X);
	free(Y);
}

static void test_sdist_same_vs_shifted(void **state)
{
	enum { N = 400, D = 3 };
	const double shifts[3] = { 1.0, 2.0, 4.0 };
	float *X = tu_alloc((size_t)N * D), *Y = tu_alloc((size_t)N * D);
	double e0, k0, e, k, eprev, kprev;
	struct rng r;
	int s;

	(void)state;
	rng_seed(&r, 99);
	draw(X, N, D, D, 0.0, &r);
	draw(Y, N, D, D, 0.0, &r);
	e0 = sdist_energy(X, N, Y, N, D, D);
	k0 = sdist_mmd2(X, N, Y, N, D, D, 1.0);
	assert_true(fabs(e0) < 0.03);
	assert_true(fabs(k0) < 0.01);
	eprev = e0;
	kprev = k0;
	for (s = 0; s < 3; s++) {
		draw(Y, N, D, D, shifts[s], &r);
		e = sdist_energy(X, N, Y, N, D, D);
		k = sdist_mmd2(X, N, Y, N, D, D, 1.0);
		if (!(e > eprev && k > kprev))
			fail_msg("shift %.1f: energy %.4g (was %.4g), mmd2 %.4g "
				 "(was %.4g)", shifts[s], e, eprev, k, kprev);
		eprev = e;
		kprev = k;
		if (s == 0 && !(e > 5 * fabs(e0) && k > 5 * fabs(k0)))
			fail_msg("shift 1: energy %.4g vs %.4g, mmd2 %.4g vs %.4g",
				 e, e0, k, k0);
	}
	free(X);
	free(Y);
}

/* The V-statistic by hand: X = {0, 1}, Y = {0, 3} on a line.  Between:
 * 0 + 3 + 1 + 2 = 6, so 2 * 6 / 4 = 3; within X: 2 * 1 / 4 = 0.5; within
 * Y: 2 * 3 / 4 = 1.5; V = 1.  Never negative, even for a sample against
 * itself (0 exactly). */
static void test_sdist_energy_v(void **state)
{
	const float X[4] = { 0, 9, 1, 9 }, Y[4] = { 0, -9, 3, -9 };

	(void)state;
	assert_true(fabs(sdist_energy_v(X, 2, Y, 2, 1, 2) - 1.0) < 1e-12);
	assert_true(fabs(sdist_energy_v(X, 2, X, 2, 1, 2)) < 1e-12);
	assert_true(sdist_energy_v(X, 2, X, 2, 2, 2) >= 0.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdist_energy_v),
		cmocka_unit_test(test_sdist_by_hand),
		cmocka_unit_test(test_sdist_stride_and_symmetry),
		cmocka_unit_test(test_sdist_closed_form),
		cmocka_unit_test(test_sdist_same_vs_shifted),
	};

	return cmocka_run_group_tests_name("sdist", tests, NULL, NULL);
}
