/*
 * regeval.h - measuring a regression amortizer by a learned predictor
 * (gen.h, GEN_REG: explicit or implicit regime) against the Bayes-optimal
 * ridge posterior, single-pass SGD and Adam, on the same rows; and the
 * parametric refiner (refiner.h) on the same footing, so the three
 * regimes can be set side by side.
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
 *   one-step   the same amortizer given all k*B rows as one batch
 *              (rows_seen 0) while k*B <= onestep_max_rows;
 *   floor      the noise variance (what the true function scores);
 *   change     the amortizer's MSE minus its MSE at the previous k, per
 *              task, and the standard error of its mean over tasks.
 * The held-out MSE is exact over the target noise: the mean over the
 * ntest held-out inputs x of (prediction(x) - E[y | x])^2, plus noise^2.
 * Every method is scored on the same held-out inputs; rows are averaged
 * over tasks.  Tasks depend on the seed and the source only (not on the
 * model), so two models evaluated with one configuration see the same
 * tasks and rows.  Deterministic for a seed; never prints.
 */
#ifndef REGEVAL_H
#define REGEVAL_H

#include <stdint.h>

#include "family/gen.h"
#include "refine/refiner.h"
#include "eval/eval.h"

#define REGEVAL_KS_MAX 8

struct regeval_config {
	int ntasks, tune_tasks, B, nk, ks[REGEVAL_KS_MAX];
	int ntest;			/* held-out rows per task */
	int onestep_max_rows;		/* 0: no one-step column; at most
					 * GEN_BMAX (REFINER_BMAX for the
					 * parametric refiner) */
	uint64_t seed;
};

/* A GEN_REG model (explicit or implicit; B <= its bmax).  Fills
 * rows[0..nk) (eval.h): amort, onestep, floor (the noise variance),
 * change, base[EVAL_RIDGE], base[EVAL_SGD], base[EVAL_ADAM] and their
 * rates in base_hyper.  AM_OK, AM_EINVAL (model, source or config), AM_ENOMEM or
 * AM_ENUMERIC (a step failed). */
int regeval_run(const struct gen *g, const float *p,
		const struct source *stream, const struct regeval_config *c,
		struct eval_row *rows);

/* The parametric refiner (a linreg model) on the same tasks. */
int regeval_run_refiner(const struct refiner *m, const float *p,
			const struct source *stream,
			const struct regeval_config *c, struct eval_row *rows);

#endif
