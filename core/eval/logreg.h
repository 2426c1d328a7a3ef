/*
 * logreg.h - the baselines the classification amortizer is measured
 * against, on the same rows and in the model of linclass.h:
 *
 *   full batch   L2-regularised multinomial logistic regression minimised
 *                to high precision by Newton's method (logreg_fit), with
 *                the L2 strength chosen from a fixed grid either by k-fold
 *                cross-validation on the task's own rows (logreg_fit_cv)
 *                or, per number of rows, on tuning tasks the caller
 *                supplies (logreg_tune_l2s), never on test rows;
 *   single pass  SGD or Adam from theta = 0, one step per mini-batch
 *                (logreg_opt_*, logreg_sgd_stream), with the learning rate
 *                chosen from a fixed log grid on tuning tasks the caller
 *                supplies, which must not be the evaluation tasks
 *                (logreg_tune_lrs).
 *
 * theta is always the LINCLASS_P layout of linclass.h; the solutions come
 * out zero outside the task's D inputs and K classes.  Rows X have stride
 * LINCLASS_DMAX, labels are in [0, K) (asserted: validate at the edge).
 *
 * The full-batch fits allocate their work space (freed before they
 * return); the single-pass optimisers never allocate.  Nothing here
 * prints.  Thread-safe on distinct arguments (gemm uses OpenBLAS's
 * threads).
 */
#ifndef LOGREG_H
#define LOGREG_H

#include "tasks/linclass.h"

/*
 * The objective logreg_fit minimises:
 *     linclass_loss(theta, l2) + (LOGREG_L2_BIAS / 2) sum_k b_k^2.
 * The small fixed penalty on the biases makes the minimiser unique (the
 * softmax is unchanged by adding a constant to every bias) and finite when
 * a class has no rows (its bias would otherwise run to -infinity); it
 * matches a N(0, 1 / (n LOGREG_L2_BIAS)) prior, sd 4.4 at n = 512, so it
 * barely moves the bias of a class that has rows.
 */
#define LOGREG_L2_BIAS 1e-4f

/* The L2 grid of logreg_fit_cv: LOGREG_L2S values 10^(-6 + i / 2), i.e.
 * 1e-6 to 1 in half decades.  (With unit-variance inputs, the penalty of a
 * N(0, s^2) prior on the weights is 1 / (n s^2); the family's true
 * classifiers, theta / temp, and n from 32 to 1024 rows put that between
 * about 2e-6 and 0.3.) */
#define LOGREG_L2S 13
float logreg_l2(int i);

/* A bound on Newton steps with room to spare: in the tests, fits from
 * theta = 0 stopped after 2 to 19 steps, warm-started ones after 2 to 6. */
#define LOGREG_MAX_ITER 100

/*
 * The objective above and, if grad is not NULL, its exact gradient
 * (LINCLASS_P, overwritten, zero outside the active entries).  In double;
 * logits in float through gemm (linclass_loss).  n >= 1.
 */
double logreg_objective(const float *theta, int D, int K, const float *X,
			const int *y, int n, float l2, float *grad);

/*
 * Minimises logreg_objective over the n rows X (n, LINCLASS_DMAX), y (n)
 * for the task's D inputs and K classes by Newton's method from theta = 0:
 *   - objective, gradient and probabilities in double;
 *   - the exact Hessian H = 1/n sum_i (diag p_i - p_i p_i') (x) z_i z_i' +
 *     the penalties, z_i = [x_i, 1], over the K (D + 1) active unknowns,
 *     its products through gemm in float, with p_ik (1 - p_ik) formed from
 *     the other classes' probabilities so confident rows do not cancel;
 *   - a Cholesky solve written here (double), with the diagonal raised
 *     tenfold from 1e-12 of its largest entry, a few times, should float
 *     rounding leave H numerically indefinite;
 *   - a backtracking (Armijo) line search on the double objective.
 * Stopping rule: the gradient's Euclidean norm is at most 1e-9, or the
 * Newton decrement g' H^-1 g / 2 (the predicted remaining decrease) is at
 * most 1e-16, or the line search cannot lower the objective (rounding
 * level: converged), or max_iter Newton steps were taken (the iterate so
 * far is returned; it is still a descent path from 0).
 *
 * l2 >= 0 (finite; asserted).  With l2 > 0 the minimiser exists for any
 * rows, separable or with n < D.  With l2 == 0 it may not (separable rows):
 * the fit then runs max_iter steps toward ever larger weights.
 *
 * Cost per step about n (K (D + 1))^2 flops in gemm for the Hessian and
 * (K (D + 1))^3 / 3 multiply-adds in the Cholesky.  Measured on one core
 * (OpenBLAS's generic kernel), n = 512: D = 16, K = 4 about 5 ms a fit;
 * D = 64, K = 10 (650 unknowns) 0.2 to 1 s a fit, the smallest l2 the
 * slowest, and logreg_fit_cv with 5 folds about 10 s.
 *
 * On success writes theta_out (LINCLASS_P, zero outside the active
 * entries) and, if loss_out is not NULL, logreg_objective at the returned
 * (float) theta, and returns AM_OK.  Returns AM_ENUMERIC (rows with NaN or
 * Inf, or a non-finite state), or AM_ENOMEM; outputs untouched on error.
 * 1 <= D <= LINCLASS_DMAX, 1 <= K <= LINCLASS_KMAX, n >= 1, max_iter >= 0.
 */
int logreg_fit(const float *X, const int *y, int n, int D, int K, float l2,
	       int max_iter, float *theta_out, double *loss_out);

/*
 * logreg_fit with l2 chosen from the grid logreg_l2() by `folds`-fold
 * cross-validation on the same rows, then refitted on all of them.
 * Row i belongs to fold i % folds (rows arrive in random order, so this is
 * a random split, and it needs no generator).  For every fold, the grid is
 * fitted from the largest l2 down, each fit warm-started from the previous
 * one; the score of an l2 is the mean cross-entropy of every row under the
 * fit that did not see it.  The lowest score wins; an exact tie goes to the
 * larger l2.  Then logreg_fit(l2) on all n rows.  Deterministic.
 *
 * folds is clamped to n; 2 <= folds and 2 <= n (asserted).  Writes
 * theta_out, *l2_out and (if not NULL) *loss_out (logreg_objective on all
 * rows at the chosen l2) on success.  Returns as logreg_fit.  Costs about
 * folds * (LOGREG_L2S warm fits) + 1 cold fit.
 */
int logreg_fit_cv(const float *X, const int *y, int n, int D, int K, int folds,
		  int max_iter, float *theta_out, float *l2_out,
		  double *loss_out);

/* ---- tuning on other tasks ---------------------------------------------- */

/* One tuning task: a stream of at least ks[nk - 1] * B rows (X, y) and
 * held-out rows (Xte, yte, nte >= 1) of the same task.  Borrowed. */
struct logreg_tune_task {
	int D, K;
	const float *X;
	const int *y;
	const float *Xte;
	const int *yte;
	int nte;
};

#define LOGREG_KS_MAX 16

/*
 * The rule "a fixed value tuned on separate tasks", cheaper than
 * logreg_fit_cv on every evaluation task: for each checkpoint ks[j]
 * (ascending, nk <= LOGREG_KS_MAX), the grid l2 whose logreg_fit on the
 * first ks[j] * B stream rows of each tuning task has the lowest mean
 * held-out error rate; ties in error go to the lower mean held-out
 * cross-entropy, then to the larger l2.  Each task's grid is fitted from
 * the largest l2 down, warm-started (so fits stop as logreg_fit does, from
 * a different start).  On success writes l2_out (nk) and returns AM_OK;
 * returns AM_ENOMEM or AM_ENUMERIC (non-finite rows or fits) with l2_out
 * untouched.  ntasks >= 1.  Deterministic.
 */
int logreg_tune_l2s(const struct logreg_tune_task *tasks, int ntasks, int B,
		    int nk, const int *ks, int max_iter, float *l2_out);

/* ---- single-pass SGD and Adam ------------------------------------------ */

/*
 * One optimiser's state.  Plain SGD: theta -= lr g.  Adam (beta1 0.9,
 * beta2 0.999, eps 1e-8, bias-corrected, as the regression baselines of
 * eval.c): theta -= lr mhat / (sqrt(vhat) + eps).  g is the gradient of
 * linclass_loss on the mini-batch with l2 = 0: the single-pass baselines
 * are unregularised, like the amortizer's one step per batch.
 */
struct logreg_opt {
	int adam;			/* 0 SGD, 1 Adam */
	float lr;
	int t;				/* steps taken */
	float m[LINCLASS_P], v[LINCLASS_P];	/* Adam moments */
};

/* Starts an optimiser with no steps taken. */
void logreg_opt_init(struct logreg_opt *o, int adam, float lr);

/*
 * One step on the mini-batch X (B, LINCLASS_DMAX), y (B): updates theta
 * (LINCLASS_P) in place.  Entries outside the D inputs and K classes have
 * zero gradient and do not move.  A learning rate that is too large may
 * make theta non-finite; nothing checks it here (logreg_tune_lrs scores
 * such a rate as infinitely bad).  B >= 1.
 */
void logreg_opt_step(struct logreg_opt *o, float *theta, const float *X,
		     const int *y, int B, int D, int K);

/*
 * nbatches steps of SGD (adam = 0) or Adam (adam = 1) at rate lr, one per
 * consecutive mini-batch of B rows of X (nbatches * B, LINCLASS_DMAX), y:
 * a single pass.  theta: in, the start (normally zeros); out, the result.
 */
void logreg_sgd_stream(const float *X, const int *y, int nbatches, int B,
		       int D, int K, float lr, int adam, float *theta);

/* The learning-rate grid: LOGREG_LRS values log-spaced over [1e-4, 10]. */
#define LOGREG_LRS 17
float logreg_lr(int i);

/*
 * Chooses, for each checkpoint ks[j] (ascending, nk <= LOGREG_KS_MAX), the
 * grid rate whose optimiser, run single-pass from zero over the tasks'
 * streams in mini-batches of B, has the lowest mean held-out error rate
 * after ks[j] steps; ties in error go to the lower mean held-out
 * cross-entropy, then to the lower rate.  A rate whose theta or held-out
 * cross-entropy is non-finite on any task scores as infinitely bad.
 * Writes lr_out (nk).  Mirrors eval.c's tuning of the regression
 * baselines: the caller passes tasks other than the evaluation tasks.
 * ntasks >= 1.  No allocation; deterministic.
 */
void logreg_tune_lrs(const struct logreg_tune_task *tasks, int ntasks, int B,
		     int nk, const int *ks, int adam, float *lr_out);

/* logreg_tune_lrs for the single checkpoint nbatches. */
float logreg_tune_lr(const struct logreg_tune_task *tasks, int ntasks,
		     int nbatches, int B, int adam);

#endif
