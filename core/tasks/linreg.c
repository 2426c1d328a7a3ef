/*
 * linreg.c - linear regression with a bias: the fixed model, its task
 * family, the exact test error and the ridge posterior mean.
 *
 * The order of random draws is part of the contract (a seed names a task and
 * its rows on every platform):
 *   linreg_task_draw: D = rng_int(dmin, dmax); D normals for theta[0..D);
 *     one normal for the bias; one uniform for the log noise sd; then, only
 *     for LINREG_X_SHIFTED, D normals for the direction of mu.
 *   linreg_task_rows, row by row: for each j < D the draws of x_j (normal
 *     and shifted: one normal; Student: one normal z, then three normals
 *     for chi2_3), then one normal for the noise.
 */
#include "tasks/linreg.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "base/am.h"

#define LINREG_BIAS LINREG_DMAX	/* index of the bias in theta */

void linreg_family_default(struct linreg_family *f)
{
	memset(f, 0, sizeof *f);
	f->dmin = 1;
	f->dmax = LINREG_DMAX;
	f->smin = 0.05f;
	f->smax = 1.0f;
	f->xdist = LINREG_X_NORMAL;
	f->shift = 0.0f;
}

static void linreg_family_check(const struct linreg_family *f)
{
	AM_ASSERT(f->dmin >= 1 && f->dmin <= f->dmax && f->dmax <= LINREG_DMAX);
	AM_ASSERT(isfinite(f->smin) && isfinite(f->smax));
	AM_ASSERT(f->smin > 0.0f && f->smin <= f->smax);
	AM_ASSERT(f->xdist == LINREG_X_NORMAL || f->xdist == LINREG_X_SHIFTED ||
		  f->xdist == LINREG_X_STUDENT);
	AM_ASSERT(isfinite(f->shift) && f->shift >= 0.0f);
}

/*
 * Draws a task: see the top of this file for the order of draws.  The noise
 * sd is exp(U(log smin, log smax)), clamped to [smin, smax] after rounding
 * to float.  mu is a uniformly random direction in the first D coordinates
 * scaled to length shift (zero for the other distributions).  Every field of
 * *t is written; padded entries are zero.  A family outside its documented
 * ranges is a programming error (asserted).
 */
void linreg_task_draw(struct linreg_task *t, const struct linreg_family *f,
		      struct rng *r)
{
	double lo, hi, norm;
	float s;
	int j;

	linreg_family_check(f);
	memset(t, 0, sizeof *t);
	t->D = rng_int(r, f->dmin, f->dmax);
	for (j = 0; j < t->D; j++)
		t->theta[j] = (float)rng_normal(r);
	t->theta[LINREG_BIAS] = (float)rng_normal(r);

	/* log-uniform noise sd; the uniform is drawn even when smin == smax so
	 * the stream position never depends on the family's values */
	lo = log((double)f->smin);
	hi = log((double)f->smax);
	s = (float)exp(lo + (hi - lo) * rng_uniform(r));
	t->noise = fminf(fmaxf(s, f->smin), f->smax);

	t->xdist = f->xdist;
	if (f->xdist != LINREG_X_SHIFTED)
		return;
	/* an isotropic normal vector normalised is a uniform direction; a zero
	 * vector has probability zero but would divide by zero, so redraw */
	do {
		norm = 0.0;
		for (j = 0; j < t->D; j++) {
			double z = rng_normal(r);

			t->mu[j] = (float)z;
			norm += z * z;
		}
	} while (!(norm > 0.0));
	norm = sqrt(norm);
	for (j = 0; j < t->D; j++)
		t->mu[j] = (float)((double)t->mu[j] / norm * f->shift);
}

/* One input coordinate with mean zero and unit variance under xdist:
 * normal, or t_3 / sqrt(3) = z / sqrt(chi2_3) (Student). */
static double linreg_x_draw(enum linreg_xdist xdist, struct rng *r)
{
	double z, c;
	int k;

	z = rng_normal(r);
	if (xdist != LINREG_X_STUDENT)
		return z;
	/* t_3 = z / sqrt(chi2_3 / 3) has variance 3, so t_3 / sqrt(3) =
	 * z / sqrt(chi2_3); chi2_3 == 0 has probability zero but would divide
	 * by zero, so redraw it */
	do {
		c = 0.0;
		for (k = 0; k < 3; k++) {
			double g = rng_normal(r);

			c += g * g;
		}
	} while (!(c > 0.0));
	return z / sqrt(c);
}

/*
 * Draws n rows of task t into X (n, LINREG_DMAX), zero-padded past D, and
 * y (n): y = theta[0..D) . x + bias + noise * N(0, 1), computed in double.
 * Caller owns X and y; the order of draws is at the top of this file.
 */
void linreg_task_rows(const struct linreg_task *t, struct rng *r, int n,
		      float *X, float *y)
{
	int i, j;

	AM_ASSERT(t->D >= 0 && t->D <= LINREG_DMAX && n >= 0);
	for (i = 0; i < n; i++) {
		float *x = X + (long)i * LINREG_DMAX;
		double s = t->theta[LINREG_BIAS];

		for (j = 0; j < t->D; j++) {
			double v = linreg_x_draw(t->xdist, r);

			if (t->xdist == LINREG_X_SHIFTED)
				v += t->mu[j];
			x[j] = (float)v;
			s += (double)t->theta[j] * x[j];
		}
		for (; j < LINREG_DMAX; j++)
			x[j] = 0.0f;
		y[i] = (float)(s + (double)t->noise * rng_normal(r));
	}
}

/*
 * E[(yhat - y)^2] on a fresh row, in double.  With d the error of the
 * active weights (indices 0..D-1) and db that of the bias,
 *     d' S d = |d|^2 + (mu . d + db)^2
 * since x has identity covariance and mean mu (mu = 0 except for shifted
 * inputs; Student inputs have unit variance).  Padded weights multiply
 * inputs that are exactly zero, so they do not count.  A non-finite theta
 * gives a non-finite result.
 */
double linreg_task_mse(const struct linreg_task *t, const float *theta)
{
	double sq = 0.0, m = 0.0;
	int j;

	AM_ASSERT(t->D >= 0 && t->D <= LINREG_DMAX);
	for (j = 0; j < t->D; j++) {
		double d = (double)theta[j] - t->theta[j];

		sq += d * d;
		if (t->xdist == LINREG_X_SHIFTED)
			m += (double)t->mu[j] * d;
	}
	m += (double)theta[LINREG_BIAS] - t->theta[LINREG_BIAS];
	return sq + m * m + (double)t->noise * t->noise;
}

/* theta[0..DMAX) . x + theta[DMAX] for one row x (LINREG_DMAX), summed in
 * double from the bias on. */
static double linreg_row(const float *x, const float *theta)
{
	double s = theta[LINREG_BIAS];
	int j;

	for (j = 0; j < LINREG_DMAX; j++)
		s += (double)theta[j] * x[j];
	return s;
}

/*
 * yhat[i] = theta[0..DMAX) . X[i] + theta[DMAX] for B rows, accumulated in
 * double.  Shapes: yhat (B), X (B, LINREG_DMAX), theta (LINREG_P).
 */
void linreg_predict(float *yhat, const float *X, const float *theta, int B)
{
	int i;

	AM_ASSERT(B >= 0);
	for (i = 0; i < B; i++)
		yhat[i] = (float)linreg_row(X + (long)i * LINREG_DMAX, theta);
}

/*
 * With residuals r_i = yhat_i - y_i:
 *     L = 1/(2B) sum r_i^2,  dL/dw_j = 1/B sum r_i x_ij,  dL/db = 1/B sum r_i.
 * Overwrites g (LINREG_P); sums run in double.  B >= 1 (asserted).
 */
float linreg_grad(float *g, const float *X, const float *y, const float *theta,
		  int B)
{
	double acc[LINREG_P] = { 0 }, loss = 0.0;
	int i, j;

	AM_ASSERT(B >= 1);
	for (i = 0; i < B; i++) {
		const float *x = X + (long)i * LINREG_DMAX;
		double res = linreg_row(x, theta) - y[i];

		loss += res * res;
		for (j = 0; j < LINREG_DMAX; j++)
			acc[j] += res * x[j];
		acc[LINREG_BIAS] += res;
	}
	for (j = 0; j < LINREG_P; j++)
		g[j] = (float)(acc[j] / B);
	return (float)(loss / (2.0 * B));
}

/*
 * A += z z' and b += z y for z = [x, 1] of each of the B rows; A is
 * (LINREG_P, LINREG_P) row-major with both triangles written, b (LINREG_P).
 * Adds to what the caller's arrays hold (start from zeros).
 */
void linreg_accumulate(double *A, double *b, const float *X, const float *y,
		       int B)
{
	double z[LINREG_P];
	int i, j, k;

	AM_ASSERT(B >= 0);
	z[LINREG_BIAS] = 1.0;
	for (i = 0; i < B; i++) {
		for (j = 0; j < LINREG_DMAX; j++)
			z[j] = X[(long)i * LINREG_DMAX + j];
		for (j = 0; j < LINREG_P; j++) {
			double *row = A + (long)j * LINREG_P;

			for (k = 0; k < LINREG_P; k++)
				row[k] += z[j] * z[k];
			b[j] += z[j] * y[i];
		}
	}
}

/*
 * Solves (A_SS + lambda I) w = b_S over S = {0..D-1, DMAX} (the active
 * inputs and the bias; lambda on every diagonal entry, the bias included,
 * since its prior is N(0, 1) too) by a Cholesky factorisation in double,
 * and writes w into theta at S and zeros elsewhere.
 *
 * Returns -1, leaving theta untouched, when the matrix is not numerically
 * positive definite: a pivot that is not finite or not above
 * 8 n DBL_EPSILON times its column's diagonal entry (n = D + 1), which is
 * the size of the rounding left by cancellation, so an exactly singular
 * system is caught even when rounding leaves a tiny positive pivot.  Also
 * returns -1 if the solution is not finite in float.  Thread-safe; no
 * allocation.
 */
int linreg_ridge(float *theta, const double *A, const double *b, double lambda,
		 int D)
{
	double L[LINREG_P * LINREG_P], w[LINREG_P];
	float out[LINREG_P];
	int idx[LINREG_P];
	int n = D + 1, i, j, k;
	double tol;

	AM_ASSERT(D >= 0 && D <= LINREG_DMAX);
	for (i = 0; i < D; i++)
		idx[i] = i;
	idx[D] = LINREG_BIAS;
	tol = 8.0 * n * DBL_EPSILON;

	/* L (n, n) lower triangle, row-major with stride n:
	 * M = A_SS + lambda I = L L' */
	for (j = 0; j < n; j++) {
		double mjj = A[(long)idx[j] * LINREG_P + idx[j]] + lambda;
		double s = mjj;

		for (k = 0; k < j; k++)
			s -= L[j * n + k] * L[j * n + k];
		if (!isfinite(s) || !(s > tol * fabs(mjj)))
			return -1;
		L[j * n + j] = sqrt(s);
		for (i = j + 1; i < n; i++) {
			double v = A[(long)idx[i] * LINREG_P + idx[j]];

			for (k = 0; k < j; k++)
				v -= L[i * n + k] * L[j * n + k];
			L[i * n + j] = v / L[j * n + j];
		}
	}
	/* L u = b_S, then L' w = u */
	for (i = 0; i < n; i++) {
		double v = b[idx[i]];

		for (k = 0; k < i; k++)
			v -= L[i * n + k] * w[k];
		w[i] = v / L[i * n + i];
	}
	for (i = n - 1; i >= 0; i--) {
		double v = w[i];

		for (k = i + 1; k < n; k++)
			v -= L[k * n + i] * w[k];
		w[i] = v / L[i * n + i];
	}

	memset(out, 0, sizeof out);
	for (i = 0; i < n; i++) {
		out[idx[i]] = (float)w[i];
		if (!isfinite(out[idx[i]]))
			return -1;
	}
	memcpy(theta, out, sizeof out);
	return 0;
}
