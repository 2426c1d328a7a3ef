/*
 * test_logreg.c - the classification baselines: full-batch L2 logistic
 * regression by Newton (fixed, cross-validated and tuned L2), single-pass
 * SGD and Adam, and the learning-rate tuning.
 *
 * Tolerances and how likely a correct implementation is to miss them:
 * - Objective gradient: eps = 1e-2 on a double reference without gemm;
 *   |analytic - numeric| <= 1e-5 + 1e-3 |numeric| (as test_linclass.c).
 * - Stationarity: the float gradient of the objective at the returned
 *   (float) theta below 1e-4 in Euclidean norm.  The solver stops at 1e-9
 *   in double; rounding theta to float moves the gradient by about
 *   |H| 6e-8 |theta| per entry, 1e-6 to 1e-5 at the weights seen here.
 * - Comparisons with gradient descent, SGD and Adam: the Newton solution
 *   is the minimiser, so others may only tie, up to 1e-9 (the objective's
 *   rounding at float theta).
 * - Learning: 40 steps of 16 rows (D = 4, K = 3, temp 0.1) must bring the
 *   held-out loss below 0.6 log 3 and the error below 0.3; over 10 seeds
 *   the loss ratio was 0.19 to 0.33 and the error 0.04 to 0.12.  The tuned
 *   rates must beat theta = 0 (every row called class 0) by a factor 0.8.
 * - CV choices: over 40 seeds, the nearly clean task (a logistic of slope
 *   20, 400 rows) chose at most 1e-4, and the pure-noise task (20 inputs,
 *   60 rows) at least 0.3; the bounds, 1e-3 and 1e-2, are two and three
 *   grid points beyond.  (Flipping a fixed 5 % of clean labels instead
 *   makes log-loss CV choose 0.01 every time: a confidently wrong row
 *   costs a lot of held-out cross-entropy.)
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/am.h"
#include "eval/logreg.h"
#include "testutil.h"

#define T LINCLASS_T
#define BIAS LINCLASS_BIAS

static void assert_near(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("%s: got %.12g, want %.12g (tolerance %.3g)", what, got,
			 want, tol);
}

/* Rows of a linclass task with the given D, K and temperature. */
struct rows {
	struct linclass_task t;
	float *X;
	int *y;
	int n;
};

static void rows_draw(struct rows *r, int D, int K, float temp, int n,
		      uint64_t seed)
{
	struct linclass_family f;
	struct rng g;

	linclass_family_default(&f);
	f.dmin = f.dmax = D;
	f.kmin = f.kmax = K;
	f.temp_min = f.temp_max = temp;
	rng_seed(&g, seed);
	linclass_task_draw(&r->t, &f, &g);
	r->n = n;
	r->X = tu_alloc((size_t)n * LINCLASS_DMAX);
	r->y = calloc((size_t)n, sizeof *r->y);
	assert_non_null(r->y);
	linclass_task_rows(&r->t, &g, n, r->X, r->y);
}

static void rows_free(struct rows *r)
{
	free(r->X);
	free(r->y);
}

static double norm2(const float *g, int n)
{
	return sqrt(tu_dot(g, g, (size_t)n));
}

/* Every entry outside the D inputs and K classes is exactly zero. */
static void assert_padding_zero(const float *theta, int D, int K)
{
	int j, k;

	for (k = 0; k < LINCLASS_KMAX; k++)
		for (j = 0; j < T; j++)
			if (k >= K || (j >= D && j != BIAS))
				assert_true(theta[k * T + j] == 0.0f);
}

/* ---- grids and the objective --------------------------------------------- */

static void test_logreg_grids(void **state)
{
	int i;

	(void)state;
	assert_near(logreg_l2(0), 1e-6, 1e-12, "smallest l2");
	assert_near(logreg_l2(LOGREG_L2S - 1), 1.0, 1e-6, "largest l2");
	for (i = 1; i < LOGREG_L2S; i++)
		assert_near(logreg_l2(i) / logreg_l2(i - 1), sqrt(10.0), 1e-5,
			    "half decades");
	assert_near(logreg_lr(0), 1e-4, 1e-10, "smallest lr");
	assert_near(logreg_lr(LOGREG_LRS - 1), 10.0, 1e-5, "largest lr");
	for (i = 1; i < LOGREG_LRS; i++)
		assert_near(logreg_lr(i) / logreg_lr(i - 1), pow(1e5, 1.0 / 16), 1e-5,
			    "log spacing");
}

struct obj_ctx {
	float theta[LINCLASS_P];
	const float *X;
	const int *y;
	int n, D, K;
	float l2;
};

/* The objective in double without gemm: mean cross-entropy, l2/2 |W|^2,
 * LOGREG_L2_BIAS/2 |b|^2. */
static double ref_objective(void *p)
{
	struct obj_ctx *c = p;
	double L = 0.0, reg = 0.0;
	int i, j, k;

	for (i = 0; i < c->n; i++) {
		double z[LINCLASS_KMAX], mx = -INFINITY, sum = 0.0;

		for (k = 0; k < c->K; k++) {
			z[k] = c->theta[k * T + BIAS];
			for (j = 0; j < c->D; j++)
				z[k] += (double)c->theta[k * T + j] *
					c->X[(long)i * LINCLASS_DMAX + j];
			if (z[k] > mx)
				mx = z[k];
		}
		for (k = 0; k < c->K; k++)
			sum += exp(z[k] - mx);
		L += mx + log(sum) - z[c->y[i]];
	}
	for (k = 0; k < c->K; k++) {
		for (j = 0; j < c->D; j++)
			reg += c->l2 * (double)c->theta[k * T + j] * c->theta[k * T + j];
		reg += LOGREG_L2_BIAS * (double)c->theta[k * T + BIAS] *
		       c->theta[k * T + BIAS];
	}
	return L / c->n + 0.5 * reg;
}

static void test_logreg_objective_grad(void **state)
{
	struct rows r;
	struct obj_ctx c;
	float g[LINCLASS_P];
	uint64_t seed = 5;
	double f;

	(void)state;
	rows_draw(&r, 9, 6, 0.3f, 70, 1);
	c.X = r.X;
	c.y = r.y;
	c.n = r.n;
	c.D = 9;
	c.K = 6;
	c.l2 = 0.2f;
	tu_fill(c.theta, LINCLASS_P, -2.0f, 2.0f, &seed);
	f = logreg_objective(c.theta, c.D, c.K, c.X, c.y, c.n, c.l2, g);
	assert_near(f, ref_objective(&c), 1e-5 * f, "objective");
	assert_true(logreg_objective(c.theta, c.D, c.K, c.X, c.y, c.n, c.l2,
				     NULL) == f);
	assert_padding_zero(g, c.D, c.K);
	assert_int_equal(tu_grad_check("logreg objective", c.theta, g,
				       LINCLASS_P, ref_objective, &c, 1e-2f,
				       1e-5f, 1e-3f, LINCLASS_P), 0);
	rows_free(&r);
}

/* ---- the Newton fit -------------------------------------------------------- */

/* Fits and checks the stationarity of the result; returns the objective. */
static double fit_checked(const struct rows *r, int D, int K, float l2,
			  float *theta)
{
	float g[LINCLASS_P];
	double loss = NAN, f;
	int j;

	for (j = 0; j < LINCLASS_P; j++)
		theta[j] = 99.0f;	/* every entry must be written */
	assert_int_equal(logreg_fit(r->X, r->y, r->n, D, K, l2, LOGREG_MAX_ITER,
				    theta, &loss), AM_OK);
	assert_padding_zero(theta, D, K);
	for (j = 0; j < LINCLASS_P; j++)
		assert_true(isfinite(theta[j]));
	f = logreg_objective(theta, D, K, r->X, r->y, r->n, l2, g);
	assert_true(loss == f);
	if (!(norm2(g, LINCLASS_P) < 1e-4))
		fail_msg("D %d K %d n %d l2 %g: |grad| %.3g", D, K, r->n, l2,
			 norm2(g, LINCLASS_P));
	return f;
}

static void test_logreg_fit_stationary(void **state)
{
	/* D, K, n, l2 index: the target task; few inputs; n < D with
	 * classes missing from the rows; every entry active */
	const int cases[5][4] = {
		{ 16, 4, 512, 6 }, { 3, 2, 40, 2 }, { 32, 10, 20, 8 },
		{ LINCLASS_DMAX, LINCLASS_KMAX, 300, 6 }, { 1, 5, 100, 0 },
	};
	float theta[LINCLASS_P];
	struct rows r;
	int c;

	(void)state;
	for (c = 0; c < 5; c++) {
		rows_draw(&r, cases[c][0], cases[c][1], 0.2f, cases[c][2],
			  100 + (uint64_t)c);
		fit_checked(&r, cases[c][0], cases[c][1], logreg_l2(cases[c][3]),
			    theta);
		rows_free(&r);
	}
}

static void test_logreg_fit_beats_gd(void **state)
{
	enum { STEPS = 3000 };
	const float l2s[3] = { 1e-3f, 1e-1f, 1e-5f };
	float theta[LINCLASS_P], gd[LINCLASS_P], g[LINCLASS_P];
	struct rows r;
	double newton, fgd = 0.0, zmax = 0.0, lr;
	int c, i, j, s;

	(void)state;
	rows_draw(&r, 5, 3, 0.3f, 100, 7);
	/* the objective's curvature is at most (1/2) max |[x, 1]|^2 + l2 (the
	 * softmax Hessian's eigenvalues are at most 1/2), so 1 / that bound is
	 * a safe gradient-descent step */
	for (i = 0; i < r.n; i++) {
		double z2 = 1.0;

		for (j = 0; j < 5; j++)
			z2 += (double)r.X[i * LINCLASS_DMAX + j] * r.X[i * LINCLASS_DMAX + j];
		if (z2 > zmax)
			zmax = z2;
	}
	for (c = 0; c < 3; c++) {
		newton = fit_checked(&r, 5, 3, l2s[c], theta);
		lr = 1.0 / (0.5 * zmax + l2s[c]);
		memset(gd, 0, sizeof gd);
		for (s = 0; s < STEPS; s++) {
			fgd = logreg_objective(gd, 5, 3, r.X, r.y, r.n, l2s[c], g);
			for (j = 0; j < LINCLASS_P; j++)
				gd[j] -= (float)(lr * g[j]);
		}
		fgd = logreg_objective(gd, 5, 3, r.X, r.y, r.n, l2s[c], NULL);
		if (!(newton <= fgd + 1e-9))
			fail_msg("l2 %g: Newton %.12g above gradient descent %.12g",
				 l2s[c], newton, fgd);
	}
	rows_free(&r);
}

static void test_logreg_fit_separable(void **state)
{
	enum { N = 60 };
	float X[N * LINCLASS_DMAX] = { 0 }, theta[LINCLASS_P], probs[N * LINCLASS_KMAX];
	int y[N], i;
	struct rows r;
	uint64_t seed = 41;

	(void)state;
	/* y = [x0 > 0] with a margin: separable, so without the penalty the
	 * weights would grow without bound */
	tu_fill(X, N * LINCLASS_DMAX, -1.0f, 1.0f, &seed);
	for (i = 0; i < N; i++) {
		float *x = X + i * LINCLASS_DMAX;

		memset(x + 2, 0, (LINCLASS_DMAX - 2) * sizeof *x);
		x[0] += x[0] > 0.0f ? 0.5f : -0.5f;
		y[i] = x[0] > 0.0f;
	}
	r.X = X;
	r.y = y;
	r.n = N;
	fit_checked(&r, 2, 2, 1e-4f, theta);
	assert_true(linclass_error(theta, 2, 2, X, y, N) == 0.0);
	assert_true(fabsf(theta[T] - theta[0]) > 5.0f);	/* confident */
	assert_true(fabsf(theta[T] - theta[0]) < 1e3f);	/* but bounded */

	/* only class 0 in the rows, K = 3: the absent classes' biases are
	 * finite, below class 0's, and their probabilities small */
	for (i = 0; i < N; i++)
		y[i] = 0;
	fit_checked(&r, 2, 3, 1e-3f, theta);
	assert_true(theta[T + BIAS] < theta[BIAS] - 5.0f);
	assert_true(theta[2 * T + BIAS] < theta[BIAS] - 5.0f);
	linclass_loss(theta, 2, 3, X, y, N, 0.0f, NULL, probs);
	for (i = 0; i < N; i++)
		assert_true(probs[i * LINCLASS_KMAX] > 0.99f);

	/* n = 1 row, D = 20: fewer rows than inputs */
	rows_draw(&r, 20, 4, 0.2f, 1, 3);
	fit_checked(&r, 20, 4, 1e-2f, theta);
	rows_free(&r);
}

static void test_logreg_fit_beats_single_pass(void **state)
{
	enum { B = 32, NB = 16 };
	const float l2 = 1e-4f;
	float theta[LINCLASS_P], s[LINCLASS_P];
	double newton, f;
	struct rows r;
	int l, adam, runs = 0;

	(void)state;
	rows_draw(&r, 8, 4, 0.2f, B * NB, 11);
	newton = fit_checked(&r, 8, 4, l2, theta);
	for (adam = 0; adam < 2; adam++) {
		for (l = 0; l < LOGREG_LRS; l++) {
			memset(s, 0, sizeof s);
			logreg_sgd_stream(r.X, r.y, NB, B, 8, 4, logreg_lr(l), adam, s);
			f = logreg_objective(s, 8, 4, r.X, r.y, r.n, l2, NULL);
			if (!isfinite(f))
				continue;	/* a diverged rate */
			runs++;
			if (!(newton <= f + 1e-9))
				fail_msg("%s lr %g: training objective %.9g below Newton's %.9g",
					 adam ? "Adam" : "SGD", logreg_lr(l), f, newton);
		}
	}
	assert_true(runs >= 20);
	rows_free(&r);
}

static void test_logreg_fit_bad_input(void **state)
{
	float theta[LINCLASS_P], keep[LINCLASS_P];
	double loss = 5.0;
	struct rows r;
	int j;

	(void)state;
	rows_draw(&r, 4, 3, 0.2f, 30, 2);
	for (j = 0; j < LINCLASS_P; j++)
		keep[j] = theta[j] = 7.0f;
	r.X[5 * LINCLASS_DMAX + 2] = NAN;
	assert_int_equal(logreg_fit(r.X, r.y, r.n, 4, 3, 1e-3f, 50, theta, &loss),
			 AM_ENUMERIC);
	r.X[5 * LINCLASS_DMAX + 2] = INFINITY;
	assert_int_equal(logreg_fit(r.X, r.y, r.n, 4, 3, 1e-3f, 50, theta, &loss),
			 AM_ENUMERIC);
	assert_memory_equal(theta, keep, sizeof keep);
	assert_true(loss == 5.0);
	/* padding beyond D is not read */
	r.X[5 * LINCLASS_DMAX + 2] = 0.5f;
	r.X[5 * LINCLASS_DMAX + 40] = NAN;
	assert_int_equal(logreg_fit(r.X, r.y, r.n, 4, 3, 1e-3f, 50, theta, &loss),
			 AM_OK);

	/* max_iter = 0: theta = 0, the objective log K */
	assert_int_equal(logreg_fit(r.X, r.y, r.n, 4, 3, 1e-3f, 0, theta, &loss),
			 AM_OK);
	for (j = 0; j < LINCLASS_P; j++)
		assert_true(theta[j] == 0.0f);
	assert_near(loss, log(3.0), 1e-7, "loss at zero");
	rows_free(&r);
}

/* ---- choosing L2 ----------------------------------------------------------- */

static void test_logreg_fit_cv(void **state)
{
	float theta[LINCLASS_P], theta2[LINCLASS_P], ref[LINCLASS_P], l2, l22;
	uint64_t seed = 51;
	double loss, loss2;
	struct rows r;
	int i, on_grid;

	(void)state;
	rows_draw(&r, 6, 3, 0.2f, 120, 21);
	assert_int_equal(logreg_fit_cv(r.X, r.y, r.n, 6, 3, 5, LOGREG_MAX_ITER,
				       theta, &l2, &loss), AM_OK);
	assert_int_equal(logreg_fit_cv(r.X, r.y, r.n, 6, 3, 5, LOGREG_MAX_ITER,
				       theta2, &l22, &loss2), AM_OK);
	/* deterministic, on the grid, and the refit is logreg_fit at l2 */
	assert_true(l2 == l22 && loss == loss2);
	assert_memory_equal(theta, theta2, sizeof theta);
	for (i = 0, on_grid = 0; i < LOGREG_L2S; i++)
		on_grid += l2 == logreg_l2(i);
	assert_int_equal(on_grid, 1);
	assert_int_equal(logreg_fit(r.X, r.y, r.n, 6, 3, l2, LOGREG_MAX_ITER, ref,
				    &loss2), AM_OK);
	assert_memory_equal(theta, ref, sizeof ref);
	assert_true(loss == loss2);
	rows_free(&r);

	/* nearly clean labels, P(y = 1) = sigmoid(20 (x0 + x1 / 2)), from 2
	 * inputs and many rows want little penalty; labels that ignore x
	 * (pure noise) want much */
	rows_draw(&r, 2, 2, 0.05f, 400, 22);
	for (i = 0; i < r.n; i++) {
		const float *x = r.X + i * LINCLASS_DMAX;
		float u;

		tu_fill(&u, 1, 0.0f, 1.0f, &seed);
		r.y[i] = u < 1.0 / (1.0 + exp(-20.0 * (x[0] + 0.5 * x[1])));
	}
	assert_int_equal(logreg_fit_cv(r.X, r.y, r.n, 2, 2, 5, LOGREG_MAX_ITER,
				       theta, &l2, &loss), AM_OK);
	assert_true(l2 <= 1e-3f);
	rows_free(&r);
	rows_draw(&r, 20, 3, 0.2f, 60, 23);
	for (i = 0; i < r.n; i++)
		r.y[i] = i % 3;
	assert_int_equal(logreg_fit_cv(r.X, r.y, r.n, 20, 3, 5, LOGREG_MAX_ITER,
				       theta, &l2, &loss), AM_OK);
	assert_true(l2 >= 1e-2f);

	/* more folds than rows: leave-one-out on 3 rows */
	assert_int_equal(logreg_fit_cv(r.X, r.y, 3, 20, 3, 5, LOGREG_MAX_ITER,
				       theta, &l2, &loss), AM_OK);
	/* non-finite rows */
	r.X[7 * LINCLASS_DMAX] = NAN;
	l22 = -1.0f;
	assert_int_equal(logreg_fit_cv(r.X, r.y, r.n, 20, 3, 5, LOGREG_MAX_ITER,
				       theta, &l22, &loss), AM_ENUMERIC);
	assert_true(l22 == -1.0f);
	rows_free(&r);
}

/* Tuning tasks drawn from the default family: TT tasks with a stream of
 * NB batches of B rows and NTE held-out rows each. */
enum { TT = 6, TB = 8, TNB = 12, NTE = 500 };

struct tune_set {
	struct rows train[TT], test[TT];
	struct logreg_tune_task task[TT];
};

static void tune_set_draw(struct tune_set *s, uint64_t seed)
{
	struct linclass_family f;
	struct rng g;
	int i;

	linclass_family_default(&f);
	f.dmax = 16;
	rng_seed(&g, seed);
	for (i = 0; i < TT; i++) {
		struct rows *a = &s->train[i], *b = &s->test[i];

		linclass_task_draw(&a->t, &f, &g);
		a->n = TB * TNB;
		a->X = tu_alloc((size_t)a->n * LINCLASS_DMAX);
		a->y = calloc((size_t)a->n, sizeof *a->y);
		b->n = NTE;
		b->X = tu_alloc((size_t)NTE * LINCLASS_DMAX);
		b->y = calloc(NTE, sizeof *b->y);
		assert_true(a->y && b->y);
		linclass_task_rows(&a->t, &g, a->n, a->X, a->y);
		linclass_task_rows(&a->t, &g, NTE, b->X, b->y);
		s->task[i] = (struct logreg_tune_task){
			.D = a->t.D, .K = a->t.K, .X = a->X, .y = a->y,
			.Xte = b->X, .yte = b->y, .nte = NTE,
		};
	}
}

static void tune_set_free(struct tune_set *s)
{
	int i;

	for (i = 0; i < TT; i++) {
		rows_free(&s->train[i]);
		rows_free(&s->test[i]);
	}
}

static void test_logreg_tune_l2s(void **state)
{
	const int ks[3] = { 1, 4, TNB };
	float l2[3], l2b[3], theta[LINCLASS_P];
	struct tune_set *s = calloc(1, sizeof *s);
	int i, j, l;

	(void)state;
	assert_non_null(s);
	tune_set_draw(s, 77);
	assert_int_equal(logreg_tune_l2s(s->task, TT, TB, 3, ks, LOGREG_MAX_ITER,
					 l2), AM_OK);
	assert_int_equal(logreg_tune_l2s(s->task, TT, TB, 3, ks, LOGREG_MAX_ITER,
					 l2b), AM_OK);
	assert_memory_equal(l2, l2b, sizeof l2);
	/* the choice is no worse on the tuning tasks' held-out rows than any
	 * grid value, each refitted cold by logreg_fit */
	for (j = 0; j < 3; j++) {
		double err[LOGREG_L2S] = { 0 }, chosen = -1.0;

		for (l = 0; l < LOGREG_L2S; l++) {
			for (i = 0; i < TT; i++) {
				const struct logreg_tune_task *t = &s->task[i];

				assert_int_equal(logreg_fit(t->X, t->y, ks[j] * TB, t->D,
							    t->K, logreg_l2(l),
							    LOGREG_MAX_ITER, theta,
							    NULL), AM_OK);
				err[l] += linclass_error(theta, t->D, t->K, t->Xte,
							 t->yte, t->nte);
			}
			if (l2[j] == logreg_l2(l))
				chosen = err[l];
		}
		assert_true(chosen >= 0.0);
		for (l = 0; l < LOGREG_L2S; l++)
			assert_true(chosen <= err[l] + 1e-9);
	}

	/* non-finite rows: an error, l2 untouched */
	s->train[2].X[3] = NAN;
	l2b[0] = -1.0f;
	assert_int_equal(logreg_tune_l2s(s->task, TT, TB, 1, ks, LOGREG_MAX_ITER,
					 l2b), AM_ENUMERIC);
	assert_true(l2b[0] == -1.0f);
	tune_set_free(s);
	free(s);
}

/* ---- single pass ------------------------------------------------------------ */

static void test_logreg_stream_steps(void **state)
{
	enum { B = 5, NB = 7 };
	float a[LINCLASS_P], b[LINCLASS_P], g[LINCLASS_P];
	struct logreg_opt o;
	struct rows r;
	int adam, k, j;

	(void)state;
	rows_draw(&r, 6, 4, 0.2f, B * NB, 13);
	for (adam = 0; adam < 2; adam++) {
		/* the padding holds a sentinel that must not move */
		for (j = 0; j < LINCLASS_P; j++)
			a[j] = b[j] = 7.0f;
		for (k = 0; k < 4; k++)
			for (j = 0; j < 6; j++)
				a[k * T + j] = b[k * T + j] = 0.0f;
		for (k = 0; k < 4; k++)
			a[k * T + BIAS] = b[k * T + BIAS] = 0.0f;
		/* one step per batch, in order: the stream is the loop */
		logreg_sgd_stream(r.X, r.y, NB, B, 6, 4, 0.1f, adam, a);
		logreg_opt_init(&o, adam, 0.1f);
		for (k = 0; k < NB; k++)
			logreg_opt_step(&o, b, r.X + k * B * LINCLASS_DMAX,
					r.y + k * B, B, 6, 4);
		assert_int_equal(o.t, NB);
		assert_memory_equal(a, b, sizeof a);
		for (k = 0; k < LINCLASS_KMAX; k++)
			for (j = 0; j < T; j++)
				if (k >= 4 || (j >= 6 && j != BIAS))
					assert_true(a[k * T + j] == 7.0f);
		/* deterministic */
		for (j = 0; j < LINCLASS_P; j++)
			b[j] = a[j] == 7.0f ? 7.0f : 0.0f;
		logreg_sgd_stream(r.X, r.y, NB, B, 6, 4, 0.1f, adam, b);
		assert_memory_equal(a, b, sizeof a);
		/* zero batches: nothing moves */
		memcpy(b, a, sizeof a);
		logreg_sgd_stream(r.X, r.y, 0, B, 6, 4, 0.1f, adam, b);
		assert_memory_equal(a, b, sizeof a);
	}

	/* the first step by hand: SGD moves by -lr g; Adam by -lr g / (|g| +
	 * eps) per entry (mhat = g, vhat = g^2 after one step) */
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	linclass_loss(a, 6, 4, r.X, r.y, B, 0.0f, g, NULL);
	logreg_sgd_stream(r.X, r.y, 1, B, 6, 4, 0.5f, 0, a);
	logreg_sgd_stream(r.X, r.y, 1, B, 6, 4, 0.5f, 1, b);
	for (j = 0; j < LINCLASS_P; j++) {
		assert_near(a[j], -0.5 * g[j], 1e-7, "SGD step");
		assert_near(b[j], g[j] == 0.0f ? 0.0 : -0.5 * g[j] / (fabs(g[j]) + 1e-8),
			    1e-5, "Adam step");
	}
	rows_free(&r);
}

static void test_logreg_stream_learns(void **state)
{
	enum { B = 16, NB = 40 };
	float theta[LINCLASS_P];
	struct rows r, te;
	double before, after;
	int adam;

	(void)state;
	rows_draw(&r, 4, 3, 0.1f, B * NB, 17);
	rows_draw(&te, 4, 3, 0.1f, 2000, 17);	/* the same task, other rows */
	assert_memory_equal(&r.t, &te.t, sizeof r.t);
	memset(theta, 0, sizeof theta);
	before = linclass_loss(theta, 4, 3, te.X, te.y, te.n, 0.0f, NULL, NULL);
	assert_near(before, log(3.0), 1e-6, "loss at zero");
	for (adam = 0; adam < 2; adam++) {
		memset(theta, 0, sizeof theta);
		logreg_sgd_stream(r.X, r.y, NB, B, 4, 3, adam ? 0.05f : 0.5f, adam,
				  theta);
		after = linclass_loss(theta, 4, 3, te.X, te.y, te.n, 0.0f, NULL, NULL);
		if (!(after < 0.6 * before))
			fail_msg("%s: held-out loss %.4f from %.4f", adam ? "Adam" : "SGD",
				 after, before);
		assert_true(linclass_error(theta, 4, 3, te.X, te.y, te.n) < 0.3);
	}
	rows_free(&r);
	rows_free(&te);
}

static void test_logreg_tune_lrs(void **state)
{
	const int ks[3] = { 1, 3, TNB };
	float lr[3], lr2[3], theta[LINCLASS_P];
	struct tune_set *s = calloc(1, sizeof *s);
	int adam, i, j, l;

	(void)state;
	assert_non_null(s);
	tune_set_draw(s, 78);
	for (adam = 0; adam < 2; adam++) {
		logreg_tune_lrs(s->task, TT, TB, 3, ks, adam, lr);
		logreg_tune_lrs(s->task, TT, TB, 3, ks, adam, lr2);
		assert_memory_equal(lr, lr2, sizeof lr);
		assert_true(logreg_tune_lr(s->task, TT, TNB, TB, adam) == lr[2]);
		/* recomputed independently: the chosen rate has the lowest
		 * summed held-out error at its checkpoint */
		for (j = 0; j < 3; j++) {
			double err[LOGREG_LRS] = { 0 }, chosen = -1.0;

			for (l = 0; l < LOGREG_LRS; l++) {
				for (i = 0; i < TT; i++) {
					const struct logreg_tune_task *t = &s->task[i];
					double x;

					memset(theta, 0, sizeof theta);
					logreg_sgd_stream(t->X, t->y, ks[j], TB, t->D, t->K,
							  logreg_lr(l), adam, theta);
					x = linclass_loss(theta, t->D, t->K, t->Xte, t->yte,
							  t->nte, 0.0f, NULL, NULL);
					err[l] += isfinite(x) ?
						  linclass_error(theta, t->D, t->K, t->Xte,
								 t->yte, t->nte) : INFINITY;
				}
				if (lr[j] == logreg_lr(l))
					chosen = err[l];
			}
			assert_true(chosen >= 0.0 && isfinite(chosen));
			for (l = 0; l < LOGREG_LRS; l++)
				assert_true(chosen <= err[l]);
		}
		/* and after TNB steps it has learnt: far below theta = 0, which
		 * calls every row class 0 */
		{
			double chosen = 0.0, zero = 0.0;

			for (i = 0; i < TT; i++) {
				const struct logreg_tune_task *t = &s->task[i];

				memset(theta, 0, sizeof theta);
				zero += linclass_error(theta, t->D, t->K, t->Xte, t->yte,
						       t->nte);
				logreg_sgd_stream(t->X, t->y, TNB, TB, t->D, t->K, lr[2],
						  adam, theta);
				chosen += linclass_error(theta, t->D, t->K, t->Xte,
							 t->yte, t->nte);
			}
			if (!(chosen < 0.8 * zero))
				fail_msg("%s: tuned error %.3f, untrained %.3f",
					 adam ? "Adam" : "SGD", chosen / TT, zero / TT);
		}
	}
	tune_set_free(s);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logreg_grids),
		cmocka_unit_test(test_logreg_objective_grad),
		cmocka_unit_test(test_logreg_fit_stationary),
		cmocka_unit_test(test_logreg_fit_beats_gd),
		cmocka_unit_test(test_logreg_fit_separable),
		cmocka_unit_test(test_logreg_fit_beats_single_pass),
		cmocka_unit_test(test_logreg_fit_bad_input),
		cmocka_unit_test(test_logreg_fit_cv),
		cmocka_unit_test(test_logreg_tune_l2s),
		cmocka_unit_test(test_logreg_stream_steps),
		cmocka_unit_test(test_logreg_stream_learns),
		cmocka_unit_test(test_logreg_tune_lrs),
	};

	return cmocka_run_group_tests_name("logreg", tests, NULL, NULL);
}
