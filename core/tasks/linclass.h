/*
 * linclass.h - the fixed model of the parametric classification amortizer
 * (a softmax linear classifier) and its task family `linclass`.
 *
 * The model has up to LINCLASS_KMAX classes on up to LINCLASS_DMAX inputs.
 * theta (LINCLASS_P floats) holds one row of LINCLASS_T floats per class,
 * which is one token of the refiner:
 *     theta[k * LINCLASS_T + j] = W_jk   for j < LINCLASS_DMAX,
 *     theta[k * LINCLASS_T + LINCLASS_DMAX] = b_k,
 *     logit_k(x) = sum_j W_jk x_j + b_k.
 * A task uses only its first D inputs and K classes; rows X have stride
 * LINCLASS_DMAX (entries past D are zero); labels are ints in [0, K).  The
 * functions here read only the active entries of theta (inputs < D,
 * classes < K), so what the padding holds never matters, and every
 * gradient they write is zero outside them.
 *
 * The task family draws a random linear teacher (see struct linclass_task)
 * and noisy labels from softmax(teacher logits / temp).
 *
 * Owns nothing: plain arithmetic on caller-owned arrays, no allocation
 * (work happens in fixed-size chunks on the stack), never prints;
 * thread-safe on distinct arguments.  Logits go through gemm (BLAS).
 */
#ifndef LINCLASS_H
#define LINCLASS_H

#include "base/rng.h"

#define LINCLASS_DMAX 64			/* inputs (images: 64 PCA features) */
#define LINCLASS_KMAX 10			/* classes */
#define LINCLASS_T (LINCLASS_DMAX + 1)		/* floats per class token */
#define LINCLASS_P (LINCLASS_KMAX * LINCLASS_T)	/* floats in theta */
#define LINCLASS_BIAS LINCLASS_DMAX		/* the bias within a token */

/* The standard deviation of a teacher's biases (logit units, before the
 * temperature; the teacher's weight logits have unit variance). */
#define LINCLASS_BIAS_SD 0.3f

/* The task family's ranges (a recipe sets them; an evaluation may move
 * them for out-of-distribution blocks). */
struct linclass_family {
	int dmin, dmax;			/* 1 <= dmin <= dmax <= LINCLASS_DMAX */
	int kmin, kmax;			/* 2 <= kmin <= kmax <= LINCLASS_KMAX */
	float temp_min, temp_max;	/* 0 < temp_min <= temp_max, finite */
};

/*
 * One task.  theta is the teacher in the model's layout: W_jk ~ N(0, 1/D)
 * for j < D, k < K (so each teacher logit has unit variance under
 * x ~ N(0, I_D)), b_k ~ N(0, LINCLASS_BIAS_SD^2), zero elsewhere.  A row is
 * x ~ N(0, I_D) and a label y ~ softmax(logits(x) / temp) over the K
 * classes: a small temperature gives nearly deterministic labels, a large
 * one noisy labels.  The classifier that minimises the expected
 * cross-entropy is theta / temp; the Bayes-optimal decision is the
 * teacher's argmax, whatever temp is.
 */
struct linclass_task {
	int D, K;
	float temp;
	float theta[LINCLASS_P];
};

/*
 * The training family of issue 5: D in [1, 32], K in [2, 10], temp
 * log-uniform in [0.05, 0.5].  With unit-variance teacher logits the Bayes
 * error (measured over 200 tasks per cell, x 2000 rows) runs from easy to
 * hard across the range:
 *     temp     0.05   0.1    0.2    0.5    (1.0, outside the range)
 *     K = 2    0.02   0.04   0.08   0.17   0.27
 *     K = 4    0.04   0.07   0.14   0.31   0.48
 *     K = 10   0.05   0.11   0.21   0.46   0.67
 * (D = 16; D = 1 adds up to half again for K = 10, since a line can
 * separate only a few classes.)  At 0.05 labels are nearly clean, at 0.5
 * they are noisy but still far from chance (1 - 1/K).
 */
void linclass_family_default(struct linclass_family *f);

/* Returns AM_OK if every range of *f is within its documented bounds,
 * AM_EINVAL otherwise (for families read from recipes or requests). */
int linclass_family_check(const struct linclass_family *f);

/*
 * Draws a task from the family (which must pass linclass_family_check:
 * asserted).  Order of draws: D = rng_int(dmin, dmax); K = rng_int(kmin,
 * kmax); one uniform for log temp; then per class k < K: D normals for
 * W_0k..W_(D-1)k, one normal for b_k.  Every field of *t is written.
 */
void linclass_task_draw(struct linclass_task *t, const struct linclass_family *f,
			struct rng *r);

/*
 * Draws n rows of the task: X (n, LINCLASS_DMAX) zero-padded past D, y (n)
 * in [0, K).  Order of draws, row by row: D normals for x, then one
 * uniform for the label (rng_categorical).  Caller owns X and y.
 */
void linclass_task_rows(const struct linclass_task *t, struct rng *r, int n,
			float *X, int *y);

/*
 * The expected error rate of classifier theta on the rows X (n,
 * LINCLASS_DMAX) of task t, over the task's label noise:
 *     1/n sum_i (1 - q_i[argmax_k logit_k(x_i; theta)]),
 * q_i = softmax(teacher logits(x_i) / temp).  The same rows with sampled
 * labels give linclass_error; this removes the label-sampling noise from
 * an evaluation.  n >= 1.
 */
double linclass_task_error(const struct linclass_task *t, const float *theta,
			   const float *X, int n);

/*
 * An estimate of the Bayes error of task t: linclass_task_error of the
 * teacher on n fresh rows drawn from r (r advances as linclass_task_rows
 * over n rows).  Its standard error is below 0.5 / sqrt(n).
 */
double linclass_task_bayes_error(const struct linclass_task *t, struct rng *r,
				 int n);

/*
 * Logits of n rows X (n, LINCLASS_DMAX) into logits (n, LINCLASS_KMAX):
 * columns k < K hold sum_{j<D} W_jk x_j + b_k, columns k >= K hold
 * -INFINITY (so they never win an argmax and take probability 0 in a
 * softmax over all LINCLASS_KMAX columns).  1 <= D <= LINCLASS_DMAX,
 * 1 <= K <= LINCLASS_KMAX, n >= 0.  Float arithmetic through gemm.
 */
void linclass_logits(const float *theta, int D, int K, const float *X, int n,
		     float *logits);

/*
 * The mean cross-entropy of labels y (n) in [0, K) under softmax over the
 * K active classes, plus (l2 / 2) sum_{j<D, k<K} W_jk^2: the penalty is on
 * the weights only, never on the biases.  Returns it (in double).
 * If grad is not NULL it is overwritten with the exact gradient
 * (LINCLASS_P; zero outside the active weights and biases):
 *     dW_jk = 1/n sum_i (p_ik - [y_i == k]) x_ij + l2 W_jk,
 *     db_k  = 1/n sum_i (p_ik - [y_i == k]).
 * If probs is not NULL it receives the probabilities (n, LINCLASS_KMAX),
 * zero for k >= K.  n >= 1; labels outside [0, K) are a programming error
 * (asserted: validate at the edge).  A non-finite theta gives a non-finite
 * result.
 */
double linclass_loss(const float *theta, int D, int K, const float *X,
		     const int *y, int n, float l2, float *grad, float *probs);

/* The fraction of rows whose argmax logit (ties to the lowest class index)
 * differs from the label.  n >= 1. */
double linclass_error(const float *theta, int D, int K, const float *X,
		      const int *y, int n);

/* The index of the largest of the first K entries of one logit row, the
 * lowest index on ties; NaN entries are skipped (0 if all are NaN). */
int linclass_argmax(const float *logits, int K);

#endif
