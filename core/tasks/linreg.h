/*
 * linreg.h - the fixed model of the parametric regression amortizer, its
 * task family, and the closed-form answers it is measured against.
 *
 * The model is linear regression with a bias on D <= LINREG_DMAX inputs:
 *     yhat = theta[0..D) . x + theta[LINREG_DMAX]
 * theta always has LINREG_P = LINREG_DMAX + 1 entries; entries D..DMAX-1
 * belong to padded inputs and stay zero.  Rows x are stored zero-padded to
 * LINREG_DMAX floats.  Loss on a batch is L = 1/(2B) sum_i (yhat_i - y_i)^2.
 *
 * The task family `linreg` draws D uniform in [dmin, dmax], x ~ N(0, I),
 * w ~ N(0, I), bias ~ N(0, 1), noise sd log-uniform in [smin, smax]: the
 * prior that makes the ridge posterior mean with lambda = sigma^2 the
 * Bayes-optimal predictor.  Out-of-distribution variants change the input
 * distribution (shifted or heavy-tailed x) or use D and noise outside the
 * training range.
 *
 * Everything here is plain arithmetic on caller-owned arrays: no allocation
 * except where stated, thread-safe on distinct arguments.
 */
#ifndef LINREG_H
#define LINREG_H

#include "base/rng.h"

#define LINREG_DMAX 16
#define LINREG_P (LINREG_DMAX + 1)	/* weights and the bias */

/* How a task draws its inputs. */
enum linreg_xdist {
	LINREG_X_NORMAL = 0,	/* x ~ N(0, I) */
	LINREG_X_SHIFTED,	/* x ~ N(mu, I), mu fixed per task, |mu| = shift */
	LINREG_X_STUDENT,	/* x = t_3 / sqrt(3): heavy tails, unit variance */
};

/* The task family's ranges (a recipe sets them; eval changes them for
 * out-of-distribution blocks). */
struct linreg_family {
	int dmin, dmax;			/* 1 <= dmin <= dmax <= LINREG_DMAX */
	float smin, smax;		/* noise sd range, 0 < smin <= smax */
	enum linreg_xdist xdist;
	float shift;			/* |mu| for LINREG_X_SHIFTED */
};

/* One task: its true parameters and how it draws rows. */
struct linreg_task {
	int D;
	float theta[LINREG_P];		/* true weights (padded) and bias */
	float noise;			/* noise sd */
	enum linreg_xdist xdist;
	float mu[LINREG_DMAX];		/* input mean (zero unless shifted) */
};

/* The training family of issue 3: D in [1, 16], noise sd in [0.05, 1]. */
void linreg_family_default(struct linreg_family *f);

/* Draws a task from the family. */
void linreg_task_draw(struct linreg_task *t, const struct linreg_family *f,
		      struct rng *r);

/* Draws n rows of the task: X (n, LINREG_DMAX) zero-padded, y (n). */
void linreg_task_rows(const struct linreg_task *t, struct rng *r, int n,
		      float *X, float *y);

/*
 * The exact expected squared error on a fresh row of the task for
 * parameters theta: E[(yhat - y)^2] = d' S d + noise^2, where d = theta -
 * true theta and S = E[[x,1][x,1]'] (known in closed form for every input
 * distribution above).  Used by the evaluator instead of a sampled test set.
 */
double linreg_task_mse(const struct linreg_task *t, const float *theta);

/* yhat (B) for rows X (B, LINREG_DMAX) under theta (LINREG_P). */
void linreg_predict(float *yhat, const float *X, const float *theta, int B);

/*
 * Gradient of L = 1/(2B) sum (yhat - y)^2 with respect to theta, written
 * into g (LINREG_P); entries of padded inputs come out zero because their
 * x are zero.  Returns L.
 */
float linreg_grad(float *g, const float *X, const float *y, const float *theta,
		  int B);

/* Sufficient statistics: adds [x,1][x,1]' of each row into A
 * (LINREG_P x LINREG_P, row-major) and [x,1] y into b (LINREG_P). */
void linreg_accumulate(double *A, double *b, const float *X, const float *y,
		       int B);

/*
 * The ridge posterior mean: theta = (A + lambda I)^-1 b restricted to the
 * task's D inputs and the bias (padded entries set to 0).  With A, b from
 * linreg_accumulate and lambda = noise^2 this is the Bayes-optimal
 * predictor under the family's prior.  Returns 0, or -1 if the system is
 * not positive definite (lambda <= 0 with too few rows).
 */
int linreg_ridge(float *theta, const double *A, const double *b, double lambda,
		 int D);

#endif
