/*
 * test_linreg.c - the linear-regression model, its task family, the exact
 * test error and the ridge posterior mean.
 *
 * Tolerances and how likely a correct implementation is to miss them:
 * - Gradient: eps = 1e-2, |analytic - numeric| <= 1e-5 + 1e-4 |numeric|.
 *   The loss is quadratic, so central differences are exact up to float
 *   rounding of theta +- eps (a relative error near 1e-5 at |theta| ~ 4).
 * - linreg_task_mse against 200,000 sampled rows (20 groups of 10,000):
 *   normal and shifted inputs use the plain mean within 2 % (the squared
 *   error of a Gaussian residual has relative standard error sqrt(2/N) =
 *   0.32 %, so 2 % is 6 standard errors).  Student inputs have an infinite
 *   fourth moment, so the plain mean has no standard error and overshoots
 *   by tens of percent for some seeds; there the median of the 20 group
 *   means must lie within 10 %.  A group misses 10 % with probability about
 *   0.06 (measured over 10,000 groups), and the median misses only if 10
 *   of 20 groups do: about 1e-7.
 * - Bayes optimality: over 2,000 tasks (D in [1, 8], D + 5 rows each) the
 *   summed exact MSE of the posterior mean must be at most 0.95 times that
 *   of least squares.  Over 1,000 seeds the ratio had mean 0.81, standard
 *   deviation 0.03 and maximum 0.87; least squares' heavy tail only pushes
 *   the ratio down, so 0.95 (5 standard deviations) fails with probability
 *   well below 1e-6.
 * - Other moments use bounds of at least 5 standard errors.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tasks/linreg.h"
#include "testutil.h"

#define BIAS LINREG_DMAX
#define PI 3.14159265358979323846

static void assert_near(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("%s: got %.9g, want %.9g (tolerance %.3g)", what, got,
			 want, tol);
}

/* ---- family and draws ---------------------------------------------------- */

static void test_linreg_family_default(void **state)
{
	struct linreg_family f;

	(void)state;
	memset(&f, 0x5a, sizeof f);
	linreg_family_default(&f);
	assert_int_equal(f.dmin, 1);
	assert_int_equal(f.dmax, LINREG_DMAX);
	assert_true(f.smin == 0.05f);
	assert_true(f.smax == 1.0f);
	assert_int_equal(f.xdist, LINREG_X_NORMAL);
	assert_true(f.shift == 0.0f);
}

static void test_linreg_task_draw_deterministic(void **state)
{
	enum linreg_xdist xd[3] = {
		LINREG_X_NORMAL, LINREG_X_SHIFTED, LINREG_X_STUDENT
	};
	float Xa[20 * LINREG_DMAX], Xb[20 * LINREG_DMAX], ya[20], yb[20];
	struct linreg_task ta, tb, tn;
	struct linreg_family f;
	struct rng ra, rb, rc;
	int k, differ = 0;

	(void)state;
	linreg_family_default(&f);
	f.shift = 1.5f;
	for (k = 0; k < 3; k++) {
		f.xdist = xd[k];
		rng_seed(&ra, 42);
		rng_seed(&rb, 42);
		linreg_task_draw(&ta, &f, &ra);
		linreg_task_draw(&tb, &f, &rb);
		assert_memory_equal(&ta, &tb, sizeof ta);
		linreg_task_rows(&ta, &ra, 20, Xa, ya);
		linreg_task_rows(&tb, &rb, 20, Xb, yb);
		assert_memory_equal(Xa, Xb, sizeof Xa);
		assert_memory_equal(ya, yb, sizeof ya);
		assert_memory_equal(&ra, &rb, sizeof ra);

		/* another seed gives another task */
		rng_seed(&rc, 43);
		linreg_task_draw(&tb, &f, &rc);
		differ += memcmp(ta.theta, tb.theta, sizeof ta.theta) != 0;
	}
	assert_int_equal(differ, 3);

	/* the documented order: the mu direction is drawn last, so a shifted
	 * task shares D, theta and noise with the normal task of its seed */
	f.xdist = LINREG_X_NORMAL;
	rng_seed(&ra, 7);
	linreg_task_draw(&tn, &f, &ra);
	f.xdist = LINREG_X_SHIFTED;
	rng_seed(&rb, 7);
	linreg_task_draw(&ta, &f, &rb);
	assert_int_equal(tn.D, ta.D);
	assert_memory_equal(tn.theta, ta.theta, sizeof tn.theta);
	assert_true(tn.noise == ta.noise);
}

static void test_linreg_task_draw_ranges(void **state)
{
	enum { TASKS = 3000 };
	struct linreg_family f;
	struct linreg_task t;
	struct rng r;
	int seen[LINREG_DMAX + 1] = { 0 };
	int i, j, below = 0, nw = 0;
	double sw = 0.0, sww = 0.0, sb = 0.0, sbb = 0.0;

	(void)state;
	rng_seed(&r, 11);
	linreg_family_default(&f);
	f.dmin = 3;
	f.dmax = 7;
	f.smin = 0.1f;
	f.smax = 0.4f;
	for (i = 0; i < TASKS; i++) {
		memset(&t, 0x5a, sizeof t);	/* every field must be written */
		linreg_task_draw(&t, &f, &r);
		assert_in_range(t.D, 3, 7);
		seen[t.D]++;
		assert_true(t.noise >= 0.1f && t.noise <= 0.4f);
		below += t.noise < 0.2f;	/* 0.2 = geometric midpoint */
		assert_int_equal(t.xdist, LINREG_X_NORMAL);
		for (j = 0; j < LINREG_DMAX; j++) {
			assert_true(t.mu[j] == 0.0f);
			if (j >= t.D)
				assert_true(t.theta[j] == 0.0f);
		}
		for (j = 0; j < t.D; j++) {
			sw += t.theta[j];
			sww += (double)t.theta[j] * t.theta[j];
			nw++;
		}
		sb += t.theta[BIAS];
		sbb += (double)t.theta[BIAS] * t.theta[BIAS];
	}
	for (j = 3; j <= 7; j++)
		assert_true(seen[j] > TASKS / 5 / 2);
	/* log-uniform: half the mass below the geometric midpoint (5 SE) */
	assert_near((double)below / TASKS, 0.5, 5 * sqrt(0.25 / TASKS), "noise median");
	/* weights and bias N(0, 1): mean 5 / sqrt(n), variance 5 sqrt(2 / n) */
	assert_near(sw / nw, 0.0, 5 / sqrt(nw), "weight mean");
	assert_near(sww / nw, 1.0, 5 * sqrt(2.0 / nw), "weight variance");
	assert_near(sb / TASKS, 0.0, 5 / sqrt(TASKS), "bias mean");
	assert_near(sbb / TASKS, 1.0, 5 * sqrt(2.0 / TASKS), "bias variance");

	/* degenerate ranges are exact */
	f.dmin = f.dmax = LINREG_DMAX;
	f.smin = f.smax = 0.3f;
	for (i = 0; i < 50; i++) {
		linreg_task_draw(&t, &f, &r);
		assert_int_equal(t.D, LINREG_DMAX);
		assert_true(t.noise == 0.3f);
	}

	/* shifted: |mu| = shift on the first D coordinates, zero after */
	linreg_family_default(&f);
	f.xdist = LINREG_X_SHIFTED;
	f.shift = 1.5f;
	for (i = 0; i < 500; i++) {
		double n2 = 0.0;

		linreg_task_draw(&t, &f, &r);
		assert_int_equal(t.xdist, LINREG_X_SHIFTED);
		for (j = 0; j < LINREG_DMAX; j++) {
			if (j < t.D)
				n2 += (double)t.mu[j] * t.mu[j];
			else
				assert_true(t.mu[j] == 0.0f && t.theta[j] == 0.0f);
		}
		assert_near(sqrt(n2), 1.5, 1e-5, "|mu|");
	}
}

/* ---- rows ---------------------------------------------------------------- */

static void test_linreg_task_rows(void **state)
{
	enum { N = 20000 };
	float *X = tu_alloc((size_t)N * LINREG_DMAX), *y = tu_alloc(N);
	struct linreg_family f;
	struct linreg_task t;
	struct rng r;
	double mean[LINREG_DMAX] = { 0 }, var = 0.0, res2 = 0.0;
	int i, j;

	(void)state;
	rng_seed(&r, 5);
	linreg_family_default(&f);
	f.dmin = f.dmax = 6;
	f.xdist = LINREG_X_SHIFTED;
	f.shift = 2.0f;
	linreg_task_draw(&t, &f, &r);
	for (i = 0; i < N * LINREG_DMAX; i++)
		X[i] = NAN;	/* padded inputs must be written as zeros */
	linreg_task_rows(&t, &r, N, X, y);
	for (i = 0; i < N; i++) {
		const float *x = X + (long)i * LINREG_DMAX;
		double s = t.theta[BIAS];

		for (j = 0; j < LINREG_DMAX; j++) {
			if (j >= t.D)
				assert_true(x[j] == 0.0f);
			mean[j] += x[j];
			s += (double)t.theta[j] * x[j];
		}
		res2 += (y[i] - s) * (y[i] - s);
	}
	/* x ~ N(mu, I): sample mean within 5 SE = 5 / sqrt(N) of mu */
	for (j = 0; j < t.D; j++)
		assert_near(mean[j] / N, t.mu[j], 5 / sqrt(N), "shifted mean");
	/* y - (theta.x + b) ~ N(0, noise^2): variance within 5 SE */
	assert_near(res2 / N, (double)t.noise * t.noise,
		    5 * sqrt(2.0 / N) * t.noise * t.noise, "noise variance");
	for (j = 0; j < LINREG_DMAX; j++)
		mean[j] = 0.0;

	/* normal inputs: mean 0, variance 1; noise 0 makes y exact */
	f.xdist = LINREG_X_NORMAL;
	linreg_task_draw(&t, &f, &r);
	t.noise = 0.0f;
	linreg_task_rows(&t, &r, N, X, y);
	for (i = 0; i < N; i++) {
		const float *x = X + (long)i * LINREG_DMAX;
		double s = t.theta[BIAS];

		for (j = 0; j < t.D; j++) {
			s += (double)t.theta[j] * x[j];
			mean[j] += x[j];
			var += (double)x[j] * x[j];
		}
		assert_near(y[i], s, 1e-6 * (1 + fabs(s)), "noise-free y");
	}
	for (j = 0; j < t.D; j++)
		assert_near(mean[j] / N, 0.0, 5 / sqrt(N), "normal mean");
	assert_near(var / (N * t.D), 1.0, 5 * sqrt(2.0 / (N * t.D)), "normal variance");
	free(X);
	free(y);
}

/* Sample moments of every active input of n rows of task t. */
struct moments {
	double m2, m4, within[4], trunc2, trunc4;
	long count;
};

static const double within_u[4] = { 0.5, 1.0, 2.0, 3.0 };

static void moments_of(struct moments *m, struct linreg_task *t, struct rng *r,
		       float *X, float *y, int n)
{
	long i;
	int k;

	memset(m, 0, sizeof *m);
	linreg_task_rows(t, r, n, X, y);
	for (i = 0; i < (long)n * LINREG_DMAX; i++) {
		double v = X[i], v2 = v * v;

		m->m2 += v2;
		m->m4 += v2 * v2;
		for (k = 0; k < 4; k++)
			m->within[k] += fabs(v) <= within_u[k];
		if (fabs(v) <= 10.0) {
			m->trunc2 += v2;
			m->trunc4 += v2 * v2;
		}
	}
	m->count = (long)n * LINREG_DMAX;
}

/*
 * x = t_3 / sqrt(3) has density (2 / pi) / (1 + x^2)^2, so
 *     P(|x| <= u) = (2 / pi) (atan u + u / (1 + u^2)),
 *     E[x^2; |x| <= c] = (2 / pi) (atan c - c / (1 + c^2)) -> 1 as c -> inf:
 * unit variance.  The sample variance itself converges too slowly to test
 * (x^2 has an infinite variance), so the test pins the distribution through
 * these bounded statistics instead, and checks the heavy tail through the
 * sample fourth moment, which diverges for t_3 and is 3 for a normal.
 */
static void test_linreg_rows_student(void **state)
{
	enum { N = 62500 };	/* 1e6 inputs */
	float *X = tu_alloc((size_t)N * LINREG_DMAX), *y = tu_alloc(N);
	struct linreg_task t;
	struct moments ms, mn;
	struct rng r;
	double cnt, p, want, sd;
	int k;

	(void)state;
	rng_seed(&r, 99);
	memset(&t, 0, sizeof t);
	t.D = LINREG_DMAX;
	t.noise = 1.0f;
	t.xdist = LINREG_X_STUDENT;
	moments_of(&ms, &t, &r, X, y, N);
	t.xdist = LINREG_X_NORMAL;
	moments_of(&mn, &t, &r, X, y, N);
	cnt = (double)ms.count;

	for (k = 0; k < 4; k++) {
		double u = within_u[k];

		want = 2.0 / PI * (atan(u) + u / (1.0 + u * u));
		p = ms.within[k] / cnt;
		assert_near(p, want, 5 * sqrt(want * (1 - want) / cnt), "P(|x| <= u)");
	}
	want = 2.0 / PI * (atan(10.0) - 10.0 / 101.0);
	sd = sqrt((ms.trunc4 / cnt - want * want) / cnt);
	assert_near(ms.trunc2 / cnt, want, 5 * sd, "E[x^2; |x| <= 10]");
	/* heavier tails than a normal: twice the mass beyond 3 (1.4 % against
	 * 0.27 %) and a fourth moment far above 3 */
	assert_true(1 - ms.within[3] / cnt > 2 * (1 - mn.within[3] / cnt));
	assert_true(ms.m4 / cnt > 4.0 * (ms.m2 / cnt) * (ms.m2 / cnt));
	/* the normal's: variance 1, kurtosis 3 (SE sqrt(24 / n) = 0.005) */
	assert_near(mn.m2 / cnt, 1.0, 5 * sqrt(2.0 / cnt), "normal variance");
	assert_near(mn.m4 / cnt / ((mn.m2 / cnt) * (mn.m2 / cnt)), 3.0, 0.05,
		    "normal kurtosis");
	free(X);
	free(y);
}

/* ---- exact test error ---------------------------------------------------- */

static void test_linreg_task_mse_by_hand(void **state)
{
	struct linreg_task t;
	float theta[LINREG_P] = { 0 };
	int j;

	(void)state;
	memset(&t, 0, sizeof t);
	t.D = 1;
	t.theta[0] = 1.0f;
	t.theta[BIAS] = 0.5f;
	t.noise = 0.5f;
	t.xdist = LINREG_X_SHIFTED;
	t.mu[0] = 2.0f;
	/* the true parameters leave only the noise */
	assert_near(linreg_task_mse(&t, t.theta), 0.25, 0, "mse at truth");
	/* d = 1, db = 1: |d|^2 + (mu d + db)^2 + noise^2 = 1 + 9 + 0.25 */
	theta[0] = 2.0f;
	theta[BIAS] = 1.5f;
	assert_near(linreg_task_mse(&t, theta), 10.25, 1e-12, "shifted");
	/* padded entries multiply inputs that are exactly zero */
	for (j = 1; j < LINREG_DMAX; j++)
		theta[j] = 3.0f * j;
	assert_near(linreg_task_mse(&t, theta), 10.25, 1e-12, "padded ignored");
	/* unshifted distributions have S = I: 1 + 1 + 0.25 */
	t.xdist = LINREG_X_NORMAL;
	assert_near(linreg_task_mse(&t, theta), 2.25, 1e-12, "normal");
	t.xdist = LINREG_X_STUDENT;
	assert_near(linreg_task_mse(&t, theta), 2.25, 1e-12, "student");
}

/* Compares linreg_task_mse with 20 groups of 10,000 sampled rows. */
static void check_mse_monte_carlo(enum linreg_xdist xdist, uint64_t seed)
{
	enum { GROUPS = 20, ROWS = 10000 };
	float *X = tu_alloc((size_t)ROWS * LINREG_DMAX), *y = tu_alloc(ROWS);
	float *yhat = tu_alloc(ROWS), theta[LINREG_P];
	double gm[GROUPS], total = 0.0, exact, est;
	struct linreg_family f;
	struct linreg_task t;
	struct rng r;
	int g, i, j;

	rng_seed(&r, seed);
	linreg_family_default(&f);
	f.dmin = f.dmax = 8;
	f.xdist = xdist;
	f.shift = 2.0f;
	linreg_task_draw(&t, &f, &r);
	/* an estimate off in every entry, padded ones included (they must not
	 * count) */
	for (j = 0; j < LINREG_P; j++)
		theta[j] = t.theta[j] + 0.5f * (float)rng_normal(&r);
	if (xdist == LINREG_X_SHIFTED) {
		struct linreg_task u = t;
		double md = 0.0, mm = 0.0;

		/* make the mean matter: mu . d = 2 and db = 0.5 give
		 * (mu . d + db)^2 = 6.25 where unshifted inputs would give 0.25 */
		for (j = 0; j < t.D; j++) {
			md += (double)t.mu[j] * (theta[j] - t.theta[j]);
			mm += (double)t.mu[j] * t.mu[j];
		}
		for (j = 0; j < t.D; j++)
			theta[j] += (float)((2.0 - md) / mm * t.mu[j]);
		theta[BIAS] = t.theta[BIAS] + 0.5f;
		u.xdist = LINREG_X_NORMAL;
		assert_true(linreg_task_mse(&t, theta) - linreg_task_mse(&u, theta) > 5.9);
	}
	exact = linreg_task_mse(&t, theta);
	for (g = 0; g < GROUPS; g++) {
		double s = 0.0;

		linreg_task_rows(&t, &r, ROWS, X, y);
		linreg_predict(yhat, X, theta, ROWS);
		for (i = 0; i < ROWS; i++) {
			double e = (double)yhat[i] - y[i];

			s += e * e;
		}
		gm[g] = s / ROWS;
		total += s;
	}
	if (xdist == LINREG_X_STUDENT) {
		/* median of the group means (insertion sort) */
		for (g = 1; g < GROUPS; g++)
			for (i = g; i > 0 && gm[i - 1] > gm[i]; i--) {
				double tmp = gm[i];

				gm[i] = gm[i - 1];
				gm[i - 1] = tmp;
			}
		est = 0.5 * (gm[GROUPS / 2 - 1] + gm[GROUPS / 2]);
		assert_near(est, exact, 0.10 * exact, "student mse (median of means)");
	} else {
		est = total / ((double)GROUPS * ROWS);
		assert_near(est, exact, 0.02 * exact, "mse (mean of 200k rows)");
	}
	free(X);
	free(y);
	free(yhat);
}

static void test_linreg_task_mse_normal(void **state)
{
	(void)state;
	check_mse_monte_carlo(LINREG_X_NORMAL, 101);
}

static void test_linreg_task_mse_shifted(void **state)
{
	(void)state;
	check_mse_monte_carlo(LINREG_X_SHIFTED, 102);
}

static void test_linreg_task_mse_student(void **state)
{
	(void)state;
	check_mse_monte_carlo(LINREG_X_STUDENT, 103);
}

/* ---- predict and gradient ------------------------------------------------ */

static void test_linreg_predict_by_hand(void **state)
{
	float X[2 * LINREG_DMAX] = { 0 }, theta[LINREG_P] = { 0 }, yhat[2];

	(void)state;
	theta[0] = 2.0f;
	theta[1] = -1.0f;
	theta[5] = 0.5f;
	theta[15] = -0.25f;
	theta[BIAS] = 3.0f;
	X[0] = 1.0f;			/* row 0: x = (1, 4, 0, 0, 0, 0, ...) */
	X[1] = 4.0f;
	/* row 1: x = (-2, 0, 0, 0, 0, 6, 0, ..., 0, 8) */
	X[LINREG_DMAX + 0] = -2.0f;
	X[LINREG_DMAX + 5] = 6.0f;
	X[LINREG_DMAX + 15] = 8.0f;
	yhat[0] = yhat[1] = NAN;
	linreg_predict(yhat, X, theta, 2);
	assert_float_equal(yhat[0], 2.0f - 4.0f + 3.0f, 0);
	assert_float_equal(yhat[1], -4.0f + 3.0f - 2.0f + 3.0f, 0);
}

enum { GB = 7 };

struct grad_ctx {
	float X[GB * LINREG_DMAX], y[GB], theta[LINREG_P];
	int B;
};

/* L = 1/(2B) sum (theta . [x, 1] - y)^2, all in double */
static double grad_loss(void *p)
{
	struct grad_ctx *c = p;
	double L = 0.0;
	int i, j;

	for (i = 0; i < c->B; i++) {
		double res = (double)c->theta[BIAS] - c->y[i];

		for (j = 0; j < LINREG_DMAX; j++)
			res += (double)c->theta[j] * c->X[i * LINREG_DMAX + j];
		L += res * res;
	}
	return L / (2.0 * c->B);
}

static void test_linreg_grad(void **state)
{
	/* (B, D): one row, a padded batch, every input active */
	const int cases[3][2] = { { 1, 5 }, { GB, 5 }, { GB, LINREG_DMAX } };
	struct grad_ctx c;
	struct linreg_task t;
	struct rng r;
	uint64_t seed = 3;
	float g[LINREG_P], L;
	int j, k;

	(void)state;
	rng_seed(&r, 8);
	for (k = 0; k < 3; k++) {
		memset(&t, 0, sizeof t);
		t.D = cases[k][1];
		rng_fill_normal(&r, t.theta, t.D, 0.0f, 1.0f);
		t.theta[BIAS] = 0.7f;
		t.noise = 0.3f;
		memset(&c, 0, sizeof c);
		c.B = cases[k][0];
		linreg_task_rows(&t, &r, c.B, c.X, c.y);
		/* theta far from the truth, padded entries non-zero */
		tu_fill(c.theta, LINREG_P, -2.0f, 2.0f, &seed);
		for (j = 0; j < LINREG_P; j++)
			g[j] = NAN;	/* g is overwritten, not accumulated */
		L = linreg_grad(g, c.X, c.y, c.theta, c.B);
		assert_near(L, grad_loss(&c), 1e-6 * grad_loss(&c), "loss");
		for (j = t.D; j < LINREG_DMAX; j++)
			assert_true(g[j] == 0.0f);
		assert_int_equal(tu_grad_check("linreg dtheta", c.theta, g,
					       LINREG_P, grad_loss, &c, 1e-2f,
					       1e-5f, 1e-4f, LINREG_P), 0);
	}
}

/* ---- sufficient statistics and ridge ------------------------------------ */

static void test_linreg_ridge_by_hand(void **state)
{
	/* rows (x, y) = (1, 1), (2, 3), (0, 1) with D = 1 */
	float X[3 * LINREG_DMAX] = { 0 }, y[3] = { 1.0f, 3.0f, 1.0f };
	double A[LINREG_P * LINREG_P] = { 0 }, b[LINREG_P] = { 0 };
	float theta[LINREG_P];
	int j;

	(void)state;
	X[0] = 1.0f;
	X[LINREG_DMAX] = 2.0f;
	linreg_accumulate(A, b, X, y, 3);
	/* A = [[sum x^2, sum x], [sum x, n]] = [[5, 3], [3, 3]],
	 * b = [sum x y, sum y] = [7, 5]; nothing in the padded inputs */
	assert_true(A[0] == 5.0 && A[BIAS] == 3.0 && A[BIAS * LINREG_P] == 3.0);
	assert_true(A[BIAS * LINREG_P + BIAS] == 3.0);
	assert_true(b[0] == 7.0 && b[BIAS] == 5.0);
	assert_true(A[1 * LINREG_P + 1] == 0.0 && b[1] == 0.0);

	/* lambda = 1: [[6, 3], [3, 4]] w = [7, 5], det 15,
	 * w = [4 * 7 - 3 * 5, -3 * 7 + 6 * 5] / 15 = [13, 9] / 15 */
	for (j = 0; j < LINREG_P; j++)
		theta[j] = 99.0f;
	assert_int_equal(linreg_ridge(theta, A, b, 1.0, 1), 0);
	assert_float_equal(theta[0], 13.0f / 15.0f, 1e-6);
	assert_float_equal(theta[BIAS], 9.0f / 15.0f, 1e-6);
	for (j = 1; j < LINREG_DMAX; j++)
		assert_true(theta[j] == 0.0f);
	/* lambda = 0, least squares: [[5, 3], [3, 3]] w = [7, 5], det 6,
	 * w = [3 * 7 - 3 * 5, -3 * 7 + 5 * 5] / 6 = [1, 2/3] */
	assert_int_equal(linreg_ridge(theta, A, b, 0.0, 1), 0);
	assert_float_equal(theta[0], 1.0f, 1e-6);
	assert_float_equal(theta[BIAS], 2.0f / 3.0f, 1e-6);

	/* accumulate adds */
	linreg_accumulate(A, b, X, y, 3);
	assert_true(A[0] == 10.0 && A[BIAS * LINREG_P + BIAS] == 6.0 && b[0] == 14.0);
}

static void test_linreg_ridge_recovers_noise_free(void **state)
{
	enum { N = 400 };
	float *X = tu_alloc((size_t)N * LINREG_DMAX), *y = tu_alloc(N);
	int dims[2] = { LINREG_DMAX, 5 };
	struct linreg_family f;
	struct linreg_task t;
	struct rng r;
	int k, j;

	(void)state;
	rng_seed(&r, 21);
	linreg_family_default(&f);
	for (k = 0; k < 2; k++) {
		double A[LINREG_P * LINREG_P] = { 0 }, b[LINREG_P] = { 0 };
		float theta[LINREG_P];

		f.dmin = f.dmax = dims[k];
		linreg_task_draw(&t, &f, &r);
		t.noise = 0.0f;
		linreg_task_rows(&t, &r, N, X, y);
		linreg_accumulate(A, b, X, y, N);
		for (j = 0; j < LINREG_P; j++)
			theta[j] = 99.0f;
		assert_int_equal(linreg_ridge(theta, A, b, 1e-9, t.D), 0);
		for (j = 0; j < LINREG_P; j++)
			assert_near(theta[j], t.theta[j], 1e-4, "recovered theta");
		for (j = t.D; j < LINREG_DMAX; j++)
			assert_true(theta[j] == 0.0f);
		assert_true(linreg_task_mse(&t, theta) < 1e-8);
	}
	free(X);
	free(y);
}

static void test_linreg_ridge_bayes_beats_ols(void **state)
{
	enum { TASKS = 2000, EXTRA = 5 };
	float X[(LINREG_DMAX + 1 + EXTRA) * LINREG_DMAX];
	float y[LINREG_DMAX + 1 + EXTRA], theta[LINREG_P];
	double post = 0.0, ols = 0.0;
	struct linreg_family f;
	struct linreg_task t;
	struct rng r;
	int i;

	(void)state;
	rng_seed(&r, 2024);
	linreg_family_default(&f);
	f.dmax = 8;
	for (i = 0; i < TASKS; i++) {
		double A[LINREG_P * LINREG_P] = { 0 }, b[LINREG_P] = { 0 };
		int n;

		linreg_task_draw(&t, &f, &r);
		n = t.D + EXTRA;	/* D + 1 parameters, 4 rows spare */
		linreg_task_rows(&t, &r, n, X, y);
		linreg_accumulate(A, b, X, y, n);
		assert_int_equal(linreg_ridge(theta, A, b, (double)t.noise * t.noise,
					      t.D), 0);
		post += linreg_task_mse(&t, theta);
		assert_int_equal(linreg_ridge(theta, A, b, 0.0, t.D), 0);
		ols += linreg_task_mse(&t, theta);
	}
	if (!(post <= 0.95 * ols))
		fail_msg("posterior mean %.4g vs least squares %.4g (ratio %.3f)",
			 post / TASKS, ols / TASKS, post / ols);
}

static void test_linreg_ridge_singular(void **state)
{
	float X[50 * LINREG_DMAX], y[50], theta[LINREG_P], keep[LINREG_P];
	double A[LINREG_P * LINREG_P], b[LINREG_P];
	struct linreg_family f;
	struct linreg_task t;
	struct rng r;
	int i, j;

	(void)state;
	rng_seed(&r, 31);
	for (j = 0; j < LINREG_P; j++)
		keep[j] = theta[j] = 7.0f;

	/* nothing at all: every pivot is zero */
	memset(A, 0, sizeof A);
	memset(b, 0, sizeof b);
	assert_int_equal(linreg_ridge(theta, A, b, 0.0, 3), -1);

	/* fewer rows than parameters: rank 3 of 5 (rounding may leave tiny
	 * positive pivots; they must still be refused) */
	linreg_family_default(&f);
	f.dmin = f.dmax = 4;
	for (i = 0; i < 50; i++) {
		memset(A, 0, sizeof A);
		memset(b, 0, sizeof b);
		linreg_task_draw(&t, &f, &r);
		linreg_task_rows(&t, &r, 3, X, y);
		linreg_accumulate(A, b, X, y, 3);
		assert_int_equal(linreg_ridge(theta, A, b, 0.0, 4), -1);
		assert_memory_equal(theta, keep, sizeof keep);	/* untouched */
		/* the prior makes it positive definite */
		assert_int_equal(linreg_ridge(theta, A, b, 0.01, 4), 0);
		memcpy(theta, keep, sizeof keep);
	}

	/* collinear inputs: x1 = 2 x0 exactly, many rows */
	memset(A, 0, sizeof A);
	memset(b, 0, sizeof b);
	memset(&t, 0, sizeof t);
	t.D = 1;
	t.theta[0] = 1.0f;
	t.noise = 0.1f;
	linreg_task_rows(&t, &r, 50, X, y);
	for (i = 0; i < 50; i++)
		X[i * LINREG_DMAX + 1] = 2.0f * X[i * LINREG_DMAX];
	linreg_accumulate(A, b, X, y, 50);
	assert_int_equal(linreg_ridge(theta, A, b, 0.0, 2), -1);
	assert_memory_equal(theta, keep, sizeof keep);
	/* without the collinear column it is fine: the padded, all-zero rows
	 * and columns of A are outside the system */
	assert_int_equal(linreg_ridge(theta, A, b, 0.0, 1), 0);
	memcpy(theta, keep, sizeof keep);

	/* a negative or NaN lambda, a non-finite b */
	assert_int_equal(linreg_ridge(theta, A, b, -1e6, 1), -1);
	assert_int_equal(linreg_ridge(theta, A, b, NAN, 1), -1);
	b[0] = INFINITY;
	assert_int_equal(linreg_ridge(theta, A, b, 1.0, 1), -1);
	assert_memory_equal(theta, keep, sizeof keep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linreg_family_default),
		cmocka_unit_test(test_linreg_task_draw_deterministic),
		cmocka_unit_test(test_linreg_task_draw_ranges),
		cmocka_unit_test(test_linreg_task_rows),
		cmocka_unit_test(test_linreg_rows_student),
		cmocka_unit_test(test_linreg_task_mse_by_hand),
		cmocka_unit_test(test_linreg_task_mse_normal),
		cmocka_unit_test(test_linreg_task_mse_shifted),
		cmocka_unit_test(test_linreg_task_mse_student),
		cmocka_unit_test(test_linreg_predict_by_hand),
		cmocka_unit_test(test_linreg_grad),
		cmocka_unit_test(test_linreg_ridge_by_hand),
		cmocka_unit_test(test_linreg_ridge_recovers_noise_free),
		cmocka_unit_test(test_linreg_ridge_bayes_beats_ols),
		cmocka_unit_test(test_linreg_ridge_singular),
	};

	return cmocka_run_group_tests_name("linreg", tests, NULL, NULL);
}
