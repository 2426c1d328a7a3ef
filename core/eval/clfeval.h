/*
 * clfeval.h - the classification family of the held-out evaluator
 * (eval.h, eval_run): a classification amortizer of any regime against
 * the full-batch optimum and single-pass SGD and Adam, on the same rows.
 *
 * Per evaluation task: a stream of k mini-batches of B rows; at each k in
 * ks, the held-out error rate of
 *   amortizer  its state after k steps (a softmax classifier's weights);
 *   full       L2 logistic regression fitted by Newton on all k*B rows
 *              (logreg_fit), its L2 strength chosen per k from the grid
 *              on the tuning tasks (lowest mean held-out error), never on
 *              the evaluation tasks;
 *   SGD, Adam  single pass from zero, one step per mini-batch, learning
 *              rate per k tuned on the tuning tasks (logreg_tune_lrs);
 *   one-step   the same amortizer given all k*B rows as one batch (while
 *              k*B <= onestep_max_rows);
 *   Bayes      the teacher's own error (linclass tasks only);
 *   ceiling    image tasks, when the caller supplies one: the error of a
 *              fixed linear classifier over all the dataset's classes
 *              (clfeval_ceiling: fitted on a whole training split),
 *              restricted to the task's classes in the task's label order
 *              (`amort eval` prints it as "whole split").  When tasks
 *              differ only in their labels, it is what a softmax state
 *              learns from every training image: a reference, not a
 *              bound (a state may score a little better on test rows).
 *   change     the amortizer's error minus its error at the previous k,
 *              per task, and the standard error of its mean over tasks:
 *              whether a step helps, beyond what the tasks resolve.
 * Errors are exact over the label noise for linclass tasks
 * (linclass_task_error) and plain error rates on held-out rows otherwise.
 * The held-out rows come from `query` (for images: the other half of the
 * test split), the stream from `stream`, the tuning tasks from `tune`
 * (for images: the training split); `stream` draws the task.  The tasks
 * depend on the seed and the sources only, so runs with and without
 * skip_baselines see the same rows.  Fills amort, onestep, change, floor
 * (the teacher's error, linclass tasks), base[EVAL_FULL] (hyper: its
 * L2), base[EVAL_SGD] and base[EVAL_ADAM] (hyper: the rates) and
 * base[EVAL_CEILING] (with a ceiling).
 */
#ifndef CLFEVAL_H
#define CLFEVAL_H

#include "data/source.h"
#include "family/gen.h"
#include "eval/eval.h"

extern const struct eval_family clfeval_family;

/*
 * The whole-split fit of an image dataset: L2 logistic regression over all
 * its classes (nclass <= LINCLASS_KMAX) and GEN_XMAX features, the L2
 * strength the one of CLFEVAL_CEIL_L2S values whose fit on the rows of
 * `fit` has the lowest error on the rows of `val`, then refitted at that
 * strength on the rows of `all`.  fit, val and all share one row array
 * (X, y) and differ in their per-class row lists, e.g. the two halves of
 * a training split and the whole of it.  Writes theta (LINCLASS_P) and
 * *l2_out.  AM_OK, AM_EINVAL (a source without rows or over
 * LINCLASS_KMAX classes), AM_ENOMEM or AM_ENUMERIC (a fit failed).
 * Newton on the whole split: about half a minute for 60,000 rows on two
 * cores.
 */
#define CLFEVAL_CEIL_L2S 3	/* 1e-5, 1e-4, 1e-3 */
int clfeval_ceiling(const struct source_images *fit, const struct source_images *val,
		    const struct source_images *all, float *theta, float *l2_out);

#endif
