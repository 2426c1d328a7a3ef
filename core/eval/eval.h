/*
 * eval.h - measuring an amortizer against what any method could do on the
 * same rows.  Three things live here:
 *
 *   - what every evaluator shares: the row, struct eval_row, and the
 *     pieces that fill it (eval_ks_check, eval_row_score,
 *     eval_rows_finish);
 *   - eval_run, the held-out evaluator: one driver over the session
 *     contract (family/amz.h) and a table per family of tasks (struct
 *     eval_family: regeval.h, clfeval.h) naming its draw, its score and
 *     its baselines;
 *   - eval_linreg, the parametric refiner on linreg tasks with the exact
 *     expected MSE of its state (below; geneval.h measures the
 *     generative models).
 *
 * eval_linreg: for each task (a fixed D and noise, drawn from a
 * family) the evaluator draws kmax * B rows once and feeds the same
 * mini-batches, in the same order, to every method; at each checkpoint
 * k it records the exact expected test MSE (linreg_task_mse, no test
 * sampling noise) of:
 *   amort    the refiner after k steps (k mini-batches, `passes` each);
 *   ridge    the ridge posterior mean on the k*B rows with lambda = noise^2,
 *            the Bayes-optimal predictor under the training prior;
 *   sgd      single-pass SGD from theta = 0, one step per mini-batch;
 *   adam     single-pass Adam from theta = 0, one step per mini-batch;
 *   onestep  the same refiner applied once to all k*B rows as one context
 *            (rows_seen 0), where k*B <= onestep_max_rows;
 *   change   the amortizer's MSE minus its MSE at the previous k, per
 *            task, mean over tasks, with its standard error.
 * SGD and Adam use, at each k, the learning rate from a log grid that was
 * best at that k on separate tuning tasks (a different seed): tuned on
 * other tasks, never on the test tasks.
 *
 * Tasks advance in lockstep, `chunk` at a time, so the refiner runs on
 * batches of sequences.  Deterministic for a seed.  No output of its own.
 */
#ifndef EVAL_H
#define EVAL_H

#include <stdint.h>

#include "tasks/linreg.h"
#include "refine/refiner.h"
#include "family/amz.h"
#include "data/source.h"
#include "family/gen.h"

#define EVAL_KS_MAX 16
#define EVAL_LRS 17

struct eval_config {
	int ntasks;			/* test tasks */
	int tune_tasks;			/* tasks that choose the learning rates */
	int B;				/* rows per mini-batch */
	int nk;				/* checkpoints */
	int ks[EVAL_KS_MAX];		/* ascending step counts */
	struct linreg_family fam;	/* where tasks come from */
	uint64_t seed;
	int onestep_max_rows;		/* 0 disables the one-step column */
	int chunk;			/* tasks in lockstep */
};

/*
 * One row of any evaluator (this one, regeval.h, clfeval.h, geneval.h):
 * the scores at one step count k, each a mean over the tasks.  The score
 * is the family's: test MSE (linreg, reg), error rate (clf), NLL per
 * held-out sample (mixtures).  A value is meaningful where its bit in
 * `has` is set; a missing onestep is NAN, anything else missing is 0.
 */
enum eval_base {
	EVAL_RIDGE,		/* the ridge posterior mean, lambda = noise^2 */
	EVAL_SGD,		/* single-pass SGD; hyper: its tuned rate */
	EVAL_ADAM,		/* single-pass Adam; hyper: its tuned rate */
	EVAL_FULL,		/* Newton L2 logreg on all rows; hyper: L2 */
	EVAL_CEILING,		/* the whole-split linear fit (image tasks) */
	EVAL_EM,		/* EM's held-out NLL */
	EVAL_ENERGY,		/* the amortizer's energy distance */
	EVAL_EM_ENERGY,		/* EM's energy distance */
	EVAL_ENERGY_FLOOR,	/* two true samples' energy distance */
	EVAL_BASE_MAX
};

#define EVAL_HAS_AMORT 1u	/* amort (every family's but a flow's,
				 * which has no density) */
#define EVAL_HAS_ONESTEP 2u	/* onestep */
#define EVAL_HAS_FLOOR 4u	/* floor */
#define EVAL_HAS_CHANGE 8u	/* change, change_se: from the second k */
#define EVAL_HAS_BASE(b) (16u << (b))	/* base[b] (and base_hyper[b]) */

struct eval_row {
	int k;
	double amort;		/* the amortizer after k steps */
	double onestep;		/* the amortizer given all k*B rows at once */
	/* what the truth scores: the noise variance (linreg, reg), the
	 * teacher's error (linclass), the true mixture's NLL (mixtures) */
	double floor;
	/* the amortizer's step: the mean over tasks of its score here minus
	 * its score at the previous k (paired: the same tasks), and the
	 * standard error of that mean (eval_change) */
	double change, change_se;
	double base[EVAL_BASE_MAX];	/* by enum eval_base */
	float base_hyper[EVAL_BASE_MAX];	/* the chosen rate or L2 */
	unsigned has;			/* EVAL_HAS_* */
};

/* The baselines' names, by enum eval_base ("ridge", "sgd", ...). */
extern const char *const eval_base_name[EVAL_BASE_MAX];

/*
 * The shared pieces of the evaluators' drivers.
 *
 * eval_ks_check: nk in [1, nkmax], ks ascending from 1, and (maxrows > 0)
 * ks[j] * B <= maxrows.  AM_OK or AM_EINVAL.
 *
 * eval_row_score: adds the amortizer's score err on one task at
 * checkpoint j into rows[j].amort, and its change from *prev (the same
 * task's score at checkpoint j - 1) into rows[j].change and chg2[j] (the
 * sum of squares); then *prev = err.
 *
 * eval_rows_finish: turns the sums over n tasks into means: sets k from
 * ks, divides amort, floor and every base[] by n, makes change and
 * change_se the mean and its standard error (from the sums in change and
 * chg2), sets EVAL_HAS_CHANGE from the second row on, and onestep to its
 * mean where EVAL_HAS_ONESTEP is set, else NAN.
 */
int eval_ks_check(int nk, int nkmax, const int *ks, int B, long maxrows);
void eval_row_score(struct eval_row *rows, int j, double err, double *prev,
		    double *chg2);
void eval_rows_finish(struct eval_row *rows, int nk, const int *ks, int n,
		      const double *chg2);

/* The learning-rate grid: EVAL_LRS values log-spaced over [1e-3, 3]. */
float eval_lr(int i);

/*
 * The step statistics of the evaluators (this one, regeval.h, clfeval.h):
 * from the sum and the sum of squares of n per-task changes, their mean
 * (*mean) and the standard error of that mean (*se: the sample standard
 * deviation, over n - 1, divided by sqrt(n); 0 for n = 1).
 */
void eval_change(double sum, double sum2, int n, double *mean, double *se);

/*
 * The baselines' pieces, shared with the evaluators of the other
 * regression amortizers (regeval.h).  Rows are LINREG_DMAX floats wide.
 *
 * eval_opt_run: single-pass SGD (adam = 0) or Adam (adam = 1) from theta
 * = 0 at rate lr, one step per mini-batch of B rows of X, y; theta after
 * ks[j] steps goes to thetas + j * LINREG_P (nk ascending checkpoints,
 * nk <= EVAL_KS_MAX).
 *
 * eval_opt_grid: the same with every rate of the grid on n tasks (task i
 * has `rows` rows at X + i * rows * LINREG_DMAX, y + i * rows); adds the
 * exact MSE of task i at checkpoint j with rate l into acc[j * EVAL_LRS +
 * l] (INFINITY for a diverged run).
 *
 * eval_pick_rates: per checkpoint, the index of the rate with the lowest
 * acc (the first of equals).
 */
void eval_opt_run(const float *X, const float *y, int B, int nk,
		  const int *ks, int adam, float lr, float *thetas);
void eval_opt_grid(const struct linreg_task *tasks, const float *X,
		   const float *y, int n, int rows, int B, int nk, const int *ks,
		   int adam, double *acc);
void eval_pick_rates(int nk, const double *acc, int *best);

/*
 * Runs the evaluation; rows receives c->nk rows.  Returns AM_OK, AM_EINVAL
 * (a bad configuration), AM_ENOMEM, or AM_ENUMERIC if the refiner produced
 * a non-finite state.
 */
int eval_linreg(const struct refiner *m, const float *p,
		const struct eval_config *c, struct eval_row *rows);

/*
 * ---- the held-out evaluator: one driver, a table per family ----------------
 *
 * eval_run measures any amortizer that predicts held-out rows (regression
 * and classification, every regime) through the session contract alone
 * (struct amz: amz_step, amz_predict, amz_predict_probs, amz_query_*), so
 * it never sees a family's own objects.  Per evaluation task: a stream of
 * kmax mini-batches of B rows and ntest held-out rows; at each k in ks the
 * amortizer's score after k steps, the baselines on the same rows, the
 * one-step amortizer (all k*B rows as one batch at rows_seen 0, while
 * k*B <= onestep_max_rows) and the paired change from the previous k.
 * What differs between families is a table (struct eval_family): how a
 * task and its rows are drawn, how predictions are scored, and which
 * baselines run beside the amortizer (struct eval_baseline), each with
 * its hyperparameter per k tuned on tune_tasks tasks of its own stream
 * (never the evaluation tasks).  The tasks depend on the seed and the
 * sources only, not on the model.  Deterministic for a seed; never prints.
 */
#define EVAL_RUN_KS_MAX 8

struct eval_run_config {
	int ntasks, tune_tasks, B, nk, ks[EVAL_RUN_KS_MAX];
	int ntest;			/* held-out rows per task */
	int onestep_max_rows;		/* 0: no one-step column */
	/* the most rows one step of the model may take (its scratch: e.g.
	 * GEN_BMAX, REFINER_BMAX); B and onestep_max_rows must fit, and the
	 * session's bmax is widened to them */
	int max_rows;
	int skip_baselines;		/* 1: no tuning and none of the
					 * skippable baselines (left 0), for
					 * the 2nd and later models of a side
					 * by side on the same tasks */
	uint64_t seed;
};

/* Where the tasks come from (borrowed).  query, tune: NULL for stream. */
struct eval_sources {
	const struct source *stream;	/* draws the task and its stream */
	const struct source *query;	/* its held-out rows */
	const struct source *tune;	/* the tuning tasks */
	const float *ceiling;		/* clf image tasks: NULL, or LINCLASS_P
					 * floats from clfeval_ceiling */
};

/*
 * One task's rows, as the driver draws them through its family.  Rows are
 * GEN_XMAX floats wide; y and yq are the targets (regression: yq the
 * noise-free means E[y | x]) or the labels as floats; iy, iyq the labels
 * as ints (classification); Xr, Xqr the rows LINREG_DMAX wide
 * (regression).  Owned by the driver.
 */
struct eval_task {
	struct source_task task;
	float *X, *y, *Xq, *yq;		/* stream: nstream rows; held out: nq */
	int *iy, *iyq;
	float *Xr, *Xqr;
};

/*
 * A baseline (or a reference such as the floor) run beside the amortizer.
 *
 * slot: the enum eval_base it fills, or EVAL_SLOT_FLOOR for the row's
 * floor.  skippable: 1 if skip_baselines leaves it out.  arg: passed to
 * tune and run, so one pair of functions can serve several entries (e.g.
 * 0 for SGD, 1 for Adam).  applies: whether it runs on these sources (NULL:
 * always).  tune: its hyperparameter per checkpoint (hyper[0..nk)) from
 * the n tuning tasks tt drawn from `src` (NULL: none); AM_OK or an error.
 * run: its score on one task at one checkpoint (struct eval_at) into
 * *score; AM_OK or an error.
 */
#define EVAL_SLOT_FLOOR (-1)

/* What a baseline's run sees: task d (of the sources s, under config c)
 * after its first ks[j] mini-batches, the entry's arg and its tuned
 * hyperparameter at this k (0 for an entry without tune).  Borrowed. */
struct eval_at {
	const struct eval_task *d;
	const struct eval_sources *s;
	const struct eval_run_config *c;
	int j;
	int arg;
	float hyper;
};

struct eval_baseline {
	int slot;
	int skippable;
	int arg;
	int (*applies)(const struct eval_sources *s);
	int (*tune)(const struct eval_task *tt, int n, const struct source *src,
		    const struct eval_run_config *c, int arg, float *hyper);
	int (*run)(const struct eval_at *at, double *score);
};

/*
 * What a family of tasks tells the driver.
 *
 * labels: rows carry class labels; the amortizer answers probabilities
 * (n x AMZ_CLASSES_MAX), else means (n).  check: AM_OK if the stream can
 * be evaluated.  tune_salt: xored into the seed for the tuning tasks.
 * tune_heldout: 1 if the baselines' tuning scores on the tuning tasks'
 * held-out rows (ntest each); 0 if it scores on the task itself (one
 * held-out row is drawn, to save memory: every tuning task is kept at
 * once).  rows: task d->task's nstream stream rows from `stream` and its
 * nq held-out rows from `query`, drawn with r (the task's own stream,
 * after the task), into d.  score: the score of predictions pred on d's
 * held-out rows (lower is better).
 */
struct eval_family {
	const char *name;
	int labels;
	int (*check)(const struct eval_sources *s);
	uint64_t tune_salt;
	int tune_heldout;
	void (*rows)(struct eval_task *d, const struct source *stream,
		     const struct source *query, struct rng *r, int nstream,
		     int nq);
	double (*score)(const struct eval_task *d, const struct eval_sources *s,
			const float *pred, int nq);
	const struct eval_baseline *baselines;
	int nbaselines;
};

/* Task `id` of the tasks of `stream` seeded by seed, into *task; *r is
 * left as that task's own random stream (split off the seed's by id, so
 * a task does not depend on those before it) for its rows.  The one way
 * every evaluator of gen tasks (eval_run, geneval.h) draws its tasks. */
void eval_task_draw(const struct source *stream, uint64_t seed, uint64_t id,
		    struct source_task *task, struct rng *r);

/* Rows of GEN_XMAX floats to rows of `width` (<= GEN_XMAX) floats: the
 * first width columns. */
void eval_rows_narrow(const float *X, int n, int width, float *out);

/*
 * Runs family f's evaluation of the amortizer a (borrowed; a labelled
 * family needs has_labels, the others has_mean) on the sources s; fills
 * rows[0..c->nk): amort, onestep, change, the floor and every applicable
 * baseline's base[slot] and (tuned) base_hyper[slot].  Returns AM_OK,
 * AM_EINVAL (model, sources or config), AM_ENOMEM or AM_ENUMERIC (a step
 * or a fit failed).
 */
int eval_run(const struct eval_family *f, const struct amz *a,
	     const struct eval_sources *s, const struct eval_run_config *c,
	     struct eval_row *rows);

#endif
