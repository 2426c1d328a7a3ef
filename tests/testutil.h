/*
 * testutil.h - helpers shared by the cmocka unit tests: deterministic random
 * fills, a central finite-difference gradient check, and running and
 * resuming a meta-trainer.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Fills x[0..n) with uniform values in [lo, hi) from a small local PRNG
 * seeded by *state (advanced).  Independent of core/rng so a bug there does
 * not hide in the tests that use it. */
void tu_fill(float *x, size_t n, float lo, float hi, uint64_t *state);

/* Returns a freshly allocated float array of n elements (calloc'd); aborts
 * the test on failure.  Caller frees. */
float *tu_alloc(size_t n);

/* The scalar function whose gradient is checked: it must recompute the
 * forward pass from the current inputs and return the loss in double. */
typedef double (*tu_loss_fn)(void *ctx);

/*
 * Central finite-difference check of analytic[i] = d loss / d x[i].
 * Perturbs x[i] by +-eps (in place, restored afterwards) for at most
 * max_checks indices spread evenly over [0, n) and requires
 *     |analytic - numeric| <= atol + rtol * |numeric|.
 * Prints the worst index on failure and returns the number of failures.
 */
int tu_grad_check(const char *what, float *x, const float *analytic, size_t n,
		  tu_loss_fn loss, void *ctx, float eps, float atol, float rtol,
		  size_t max_checks);

/* sum_i a[i] * b[i] in double: the projection that turns a layer's output
 * into a scalar loss for gradient checks. */
double tu_dot(const float *a, const float *b, size_t n);

/* ---- evaluators' steps (eval.h, regeval.h, clfeval.h) --------------------- */

struct eval_row;

/* Runs the evaluator under test on its first n tasks and fills nk rows
 * (eval.h: tu_check_steps reads amort, change, change_se and
 * EVAL_HAS_CHANGE). */
typedef void (*tu_eval_fn)(void *ctx, int n, struct eval_row *rows);

/*
 * Checks an evaluator's step statistics against the per-task values they
 * summarize.  The evaluators' tasks depend on the seed and the task's
 * index only, so runs on the first 1, 2, ..., N tasks recover each task's
 * own value (task n's is n * mean_n - (n - 1) * mean_n-1).  Asserts that
 * with one task the standard error is 0, and on all N tasks: has is 0 at
 * the first checkpoint and 1 after, change is the mean of the per-task
 * differences from the previous checkpoint (and the difference of the
 * means), and se is their sample standard deviation (over N - 1) divided
 * by sqrt(N); and that some task's value changed, so the checks are not
 * 0 = 0.  nk <= 16.
 */
void tu_check_steps(int N, int nk, tu_eval_fn run, void *ctx);

/* ---- meta-training (train.h) --------------------------------------------- */

struct train;
struct gentrain_config;
struct gen;
struct refiner;

/* The model a trainer of fam_gen (tu_gen) or fam_linreg (tu_refiner)
 * trains (borrowed from t). */
const struct gen *tu_gen(const struct train *t);
const struct refiner *tu_refiner(const struct train *t);

/* Runs trainer t up to iteration iters, its shards in reverse order (any
 * order gives the same result), asserting that every step applies; *loss
 * is the last iteration's mean loss. */
void tu_gentrain_run(struct train *t, int shards, long iters, double *loss);

/* Asserts that training c for c->iters iterations straight through, and
 * with a checkpoint saved after `at` and loaded into a fresh trainer, ends
 * with the same parameters and loss, bit for bit. */
void tu_gentrain_resumes(const struct gentrain_config *c, long at);

/* ---- the session contract (amz.h) --------------------------------------- */

struct amz;

/* The struct amz model_load makes (model/model.c) of a classification or
 * regression gen g, or of a parametric refiner m, with parameters p: the
 * family's table binds a model object obj (the caller's, filled here)
 * holding a copy of g or m.  p is borrowed; obj must outlive a. */
struct fam_gen_model;
struct fam_linreg_model;
void tu_amz_gen(struct amz *a, struct fam_gen_model *obj,
		const struct gen *g, const float *p);
void tu_amz_refiner(struct amz *a, struct fam_linreg_model *obj,
		    const struct refiner *m, const float *p);

#endif
