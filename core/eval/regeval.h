/*
 * regeval.h - the regression family of the held-out evaluator (eval.h,
 * eval_run): a regression amortizer of any regime (a learned predictor,
 * explicit or implicit, or the parametric refiner) against the
 * Bayes-optimal ridge posterior, single-pass SGD and Adam, on the same
 * rows.
 *
 * Per evaluation task (drawn from `stream`, a SOURCE_LINREG source): a
 * stream of kmax mini-batches of B rows and ntest held-out rows; at each
 * k in ks, the held-out MSE of
 *   amortizer  explicit: its latent after k steps, read out by its
 *              predictor f(x, z); implicit: the held-out rows' own
 *              predictions, each refined by the k mini-batches;
 *              parametric: the refined linear model;
 *   ridge      the ridge posterior mean on all k*B rows with lambda =
 *              noise^2: the Bayes-optimal predictor under the linreg
 *              prior (x ~ N(0, I), w ~ N(0, I), bias ~ N(0, 1));
 *   SGD, Adam  single pass from theta = 0, one step per mini-batch, the
 *              learning rate per k from eval_lr's grid, chosen on
 *              tune_tasks other tasks of the same source by their exact
 *              MSE (eval_opt_grid), never on the evaluation tasks;
 *   floor      the noise variance (what the true function scores).
 * The held-out MSE is exact over the target noise: the mean over the
 * ntest held-out inputs x of (prediction(x) - E[y | x])^2, plus noise^2.
 * Every method is scored on the same held-out inputs.  Fills amort,
 * onestep, floor, change, base[EVAL_RIDGE], base[EVAL_SGD],
 * base[EVAL_ADAM] and their rates in base_hyper.
 */
#ifndef REGEVAL_H
#define REGEVAL_H

#include "eval/eval.h"

extern const struct eval_family regeval_family;

#endif
