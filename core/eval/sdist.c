/*
 * sdist.c - energy distance and unbiased MMD^2 between two samples.
 *
 * Both are built from three pair sums of a pairwise function f: within X
 * over unordered pairs i < i' (doubled, which is the sum over i != i'),
 * within Y likewise, and between X and Y over all n m pairs.
 */
#include "eval/sdist.h"

#include <math.h>

#include "base/am.h"

/* |a - b|^2 over the first D columns, in double. */
static double sdist_sq(const float *a, const float *b, int D)
{
	double s = 0.0;
	int j;

	for (j = 0; j < D; j++) {
		double d = (double)a[j] - b[j];

		s += d * d;
	}
	return s;
}

/* f(|a - b|^2): the Euclidean norm, or the Gaussian kernel with
 * c = -1 / (2 h^2). */
static double sdist_f(double sq, int gauss, double c)
{
	return gauss ? exp(c * sq) : sqrt(sq);
}

/* sum_{i != i'} f over one sample of n rows. */
static double sdist_within(const float *A, int n, int D, int stride,
			   int gauss, double c)
{
	double s = 0.0;
	int i, k;

	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			s += sdist_f(sdist_sq(A + (long)i * stride,
					      A + (long)k * stride, D), gauss, c);
	return 2.0 * s;
}

/* sum_{i, j} f between two samples. */
static double sdist_between(const float *A, int n, const float *B, int m,
			    int D, int stride, int gauss, double c)
{
	double s = 0.0;
	int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < m; j++)
			s += sdist_f(sdist_sq(A + (long)i * stride,
					      B + (long)j * stride, D), gauss, c);
	return s;
}

static void sdist_check(int n, int m, int D, int stride)
{
	AM_ASSERT(n >= 2 && m >= 2);
	AM_ASSERT(D >= 1 && stride >= D);
}

double sdist_energy(const float *X, int n, const float *Y, int m, int D,
		    int stride)
{
	double xy, xx, yy;

	sdist_check(n, m, D, stride);
	xy = sdist_between(X, n, Y, m, D, stride, 0, 0.0) / ((double)n * m);
	xx = sdist_within(X, n, D, stride, 0, 0.0) / ((double)n * (n - 1));
	yy = sdist_within(Y, m, D, stride, 0, 0.0) / ((double)m * (m - 1));
	return 2.0 * xy - xx - yy;
}

double sdist_energy_v(const float *X, int n, const float *Y, int m, int D,
		      int stride)
{
	double xy, xx, yy;

	sdist_check(n, m, D, stride);
	xy = sdist_between(X, n, Y, m, D, stride, 0, 0.0) / ((double)n * m);
	xx = sdist_within(X, n, D, stride, 0, 0.0) / ((double)n * n);
	yy = sdist_within(Y, m, D, stride, 0, 0.0) / ((double)m * m);
	return 2.0 * xy - xx - yy;
}

double sdist_mmd2(const float *X, int n, const float *Y, int m, int D,
		  int stride, double bandwidth)
{
	double c, xy, xx, yy;

	sdist_check(n, m, D, stride);
	AM_ASSERT(isfinite(bandwidth) && bandwidth > 0.0);
	c = -1.0 / (2.0 * bandwidth * bandwidth);
	xy = sdist_between(X, n, Y, m, D, stride, 1, c) / ((double)n * m);
	xx = sdist_within(X, n, D, stride, 1, c) / ((double)n * (n - 1));
	yy = sdist_within(Y, m, D, stride, 1, c) / ((double)m * (m - 1));
	return xx + yy - 2.0 * xy;
}
