/*
 * test_regeval.c - the evaluator of the regression amortizers by a learned
 * predictor (regeval.h) on tiny explicit and implicit models trained for a
 * few iterations, and on an untrained parametric refiner: the rows are
 * finite and consistent (the floor below the Bayes-optimal ridge, ridge
 * no worse than tuned SGD and Adam, ridge improving with rows), the
 * one-step amortizer is the amortizer at k = 1 (the same call: one batch
 * at rows_seen 0), every model sees the same tasks (the baselines agree
 * bit for bit), runs are deterministic, and bad configurations and a
 * family the model does not answer are refused.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/am.h"
#include "base/gemm.h"
#include "family/gen.h"
#include "family/fam_gen.h"
#include "family/fam_linreg.h"
#include "train/train.h"
#include "base/layout.h"
#include "refine/refiner.h"
#include "eval/regeval.h"
#include "eval/clfeval.h"
#include "base/rng.h"
#include "testutil.h"

static void tiny(struct gentrain_config *c, int implicit)
{
	gentrain_config_default(c, GEN_REG);
	c->gen.C = 16;
	c->gen.H = 2;
	c->gen.L = 1;
	c->gen.bmax = 16;
	c->gen.ksteps = 8;
	c->gen.Z = 16;
	c->gen.vH = 32;
	c->gen.vL = 1;
	if (implicit) {
		c->gen.regime = GEN_IMPLICIT;
		c->gen.qstate = GEN_Q_LOGITS;	/* the mean */
		c->gen.nq = 16;
		c->gen.variant = GEN_OBS;
	}
	c->tasks.rfam.dmin = 1;
	c->tasks.rfam.dmax = 8;
	c->pop = 16;
	c->chunk = 8;
	c->nq = 16;
	c->iters = 20;
	c->lr = 3e-3f;
	c->lr_min = 3e-4f;
	c->warmup = 2;
	c->shards = 2;
}

static struct train *trained(int implicit)
{
	struct gentrain_config c;
	struct train *t;
	double loss;
	int s;

	tiny(&c, implicit);
	t = train_new(&fam_gen, &c, NULL, 0);
	assert_non_null(t);
	while (train_iteration(t) < c.iters) {
		for (s = 0; s < c.shards; s++)
			train_shard(t, s);
		assert_int_equal(train_apply(t, &loss), AM_OK);
	}
	return t;
}

static void config(struct eval_run_config *c, struct source *ts)
{
	memset(c, 0, sizeof *c);
	c->ntasks = 6;
	c->tune_tasks = 8;
	c->B = 16;
	c->nk = 4;
	c->ks[0] = 1;
	c->ks[1] = 2;
	c->ks[2] = 4;
	c->ks[3] = 8;
	c->ntest = 100;
	c->onestep_max_rows = 64;
	c->max_rows = GEN_BMAX;
	c->seed = 11;
	memset(ts, 0, sizeof *ts);
	ts->src = SOURCE_LINREG;
	linreg_family_default(&ts->rfam);
	ts->rfam.dmin = ts->rfam.dmax = 4;
	ts->rfam.smin = ts->rfam.smax = 0.5f;
}

/* Finite, the floor below everything, ridge the best of the baselines and
 * improving with rows, one-step where expected and equal to the amortizer
 * at k = 1. */
static void check_rows(const struct eval_run_config *c,
		       const struct eval_row *r)
{
	double sr = 0.0, ss = 0.0, sa = 0.0;
	int j;

	for (j = 0; j < c->nk; j++) {
		const struct eval_row *e = &r[j];

		assert_int_equal(e->k, c->ks[j]);
		assert_true(isfinite(e->amort) && isfinite(e->base[EVAL_RIDGE]) &&
			    isfinite(e->base[EVAL_SGD]) && isfinite(e->base[EVAL_ADAM]) &&
			    isfinite(e->floor));
		assert_true(fabs(e->floor - 0.25) < 1e-6);
		assert_true(e->floor < e->base[EVAL_RIDGE]);
		assert_true(e->floor < e->amort);
		assert_true(e->floor < e->base[EVAL_SGD] && e->floor < e->base[EVAL_ADAM]);
		/* Bayes-optimal on average; allow the held-out sampling */
		assert_true(e->base[EVAL_RIDGE] <= 1.05 * e->base[EVAL_SGD]);
		assert_true(e->base[EVAL_RIDGE] <= 1.05 * e->base[EVAL_ADAM]);
		sr += e->base[EVAL_RIDGE];
		ss += e->base[EVAL_SGD];
		sa += e->base[EVAL_ADAM];
		assert_true(e->base_hyper[EVAL_SGD] > 0.0f && e->base_hyper[EVAL_ADAM] > 0.0f);
		assert_int_equal(!!(e->has & EVAL_HAS_ONESTEP), c->ks[j] * c->B <= c->onestep_max_rows);
		if (e->has & EVAL_HAS_ONESTEP)
			assert_true(isfinite(e->onestep) && e->onestep > e->floor);
		else
			assert_true(isnan(e->onestep));
	}
	assert_true(sr < ss && sr < sa);
	assert_true(r[c->nk - 1].base[EVAL_RIDGE] < r[0].base[EVAL_RIDGE]);
	/* k = 1: the one-step amortizer is the same batch at rows_seen 0 */
	assert_true(r[0].onestep == r[0].amort);
}

/* The evaluator on a gen (through its session contract), or on the
 * parametric refiner m (its one-step contexts up to REFINER_BMAX). */
static int run_gen(const struct gen *g, const float *p,
		   const struct source *ts, const struct eval_run_config *c,
		   struct eval_row *rows)
{
	struct eval_sources s = { .stream = ts };
	struct fam_gen_model obj;
	struct amz a;

	tu_amz_gen(&a, &obj, g, p);
	return eval_run(&regeval_family, &a, &s, c, rows);
}

static int run_refiner(const struct refiner *m, const float *p,
		       const struct source *ts, const struct eval_run_config *c,
		       struct eval_row *rows)
{
	struct eval_sources s = { .stream = ts };
	struct eval_run_config mc = *c;
	struct fam_linreg_model obj;
	struct amz a;

	tu_amz_refiner(&a, &obj, m, p);
	mc.max_rows = REFINER_BMAX;
	return eval_run(&regeval_family, &a, &s, &mc, rows);
}

static void check_model(int implicit)
{
	struct train *t = trained(implicit);
	const struct gen *g = tu_gen(t);
	struct eval_row a[EVAL_KS_MAX], b[EVAL_KS_MAX];
	struct eval_run_config c;
	struct source ts;

	config(&c, &ts);
	assert_int_equal(run_gen(g, train_params(t), &ts, &c, a), AM_OK);
	check_rows(&c, a);
	/* deterministic */
	assert_int_equal(run_gen(g, train_params(t), &ts, &c, b), AM_OK);
	assert_memory_equal(a, b, (size_t)c.nk * sizeof a[0]);
	/* other held-out rows and tasks with another seed */
	c.seed = 12;
	assert_int_equal(run_gen(g, train_params(t), &ts, &c, b), AM_OK);
	assert_true(b[0].base[EVAL_RIDGE] != a[0].base[EVAL_RIDGE]);
	check_rows(&c, b);

	/* refused: a batch above max_rows, steps not ascending, a one-step
	 * context above max_rows, a source that is not linreg */
	c.B = c.max_rows + 1;
	assert_int_equal(run_gen(g, train_params(t), &ts, &c, b), AM_EINVAL);
	config(&c, &ts);
	c.ks[2] = 2;
	assert_int_equal(run_gen(g, train_params(t), &ts, &c, b), AM_EINVAL);
	config(&c, &ts);
	c.onestep_max_rows = GEN_BMAX + 1;
	assert_int_equal(run_gen(g, train_params(t), &ts, &c, b), AM_EINVAL);
	config(&c, &ts);
	ts.src = SOURCE_LINCLASS;
	assert_int_equal(run_gen(g, train_params(t), &ts, &c, b), AM_EINVAL);
	/* and a family the model does not answer: labels */
	{
		struct eval_sources s = { .stream = &ts };
		struct fam_gen_model obj;
		struct amz az;

		config(&c, &ts);
		tu_amz_gen(&az, &obj, g, train_params(t));
		assert_int_equal(eval_run(&clfeval_family, &az, &s, &c, b), AM_EINVAL);
	}
	train_free(t);
}

static void test_regeval_explicit(void **state)
{
	(void)state;
	check_model(0);
}

static void test_regeval_implicit(void **state)
{
	(void)state;
	check_model(1);
}

/* A parametric refiner with its initial parameters (untrained: its skip
 * path is a gradient step); the caller frees the parameters and lay. */
static float *untrained_refiner(struct refiner *m, struct layout *lay)
{
	struct refiner_config rc = { .C = 16, .H = 2, .L = 1, .bmax = 16,
				     .ksteps = 8, .passes = 1,
				     .variant = REFINER_BOTH };
	struct rng r;
	float *p;

	layout_init(lay);
	assert_int_equal(refiner_init(m, lay, &rc), AM_OK);
	p = tu_alloc(lay->total);
	rng_seed(&r, 5);
	refiner_init_params(m, p, &r);
	return p;
}

/* Explicit, implicit and the parametric refiner on one configuration: the
 * same tasks and rows, so the baselines agree exactly. */
static void test_regeval_same_tasks_for_every_model(void **state)
{
	struct eval_row re[EVAL_KS_MAX], ri[EVAL_KS_MAX];
	struct eval_row rp[EVAL_KS_MAX];
	struct train *te = trained(0), *ti = trained(1);
	struct eval_run_config c;
	struct source ts;
	struct refiner m;
	struct layout lay;
	float *p;
	int j;

	(void)state;
	p = untrained_refiner(&m, &lay);
	config(&c, &ts);
	assert_int_equal(run_gen(tu_gen(te), train_params(te), &ts, &c, re), AM_OK);
	assert_int_equal(run_gen(tu_gen(ti), train_params(ti), &ts, &c, ri), AM_OK);
	assert_int_equal(run_refiner(&m, p, &ts, &c, rp), AM_OK);
	check_rows(&c, rp);
	for (j = 0; j < c.nk; j++) {
		assert_true(re[j].base[EVAL_RIDGE] == ri[j].base[EVAL_RIDGE] && re[j].base[EVAL_RIDGE] == rp[j].base[EVAL_RIDGE]);
		assert_true(re[j].base[EVAL_SGD] == ri[j].base[EVAL_SGD] && re[j].base[EVAL_SGD] == rp[j].base[EVAL_SGD]);
		assert_true(re[j].base[EVAL_ADAM] == ri[j].base[EVAL_ADAM] && re[j].base[EVAL_ADAM] == rp[j].base[EVAL_ADAM]);
		assert_true(re[j].floor == rp[j].floor);
		assert_true(re[j].base_hyper[EVAL_SGD] == rp[j].base_hyper[EVAL_SGD] &&
			    re[j].base_hyper[EVAL_ADAM] == rp[j].base_hyper[EVAL_ADAM]);
	}
	/* the refiner takes one-step contexts up to REFINER_BMAX */
	c.onestep_max_rows = REFINER_BMAX;
	assert_int_equal(run_refiner(&m, p, &ts, &c, rp), AM_OK);
	assert_true(rp[c.nk - 1].has & EVAL_HAS_ONESTEP);
	/* untrained, its skip path is a gradient step: it improves */
	assert_true(rp[c.nk - 1].amort < rp[0].amort);
	free(p);
	layout_free(&lay);
	train_free(te);
	train_free(ti);
}

struct reg_steps {
	const struct gen *g;		/* NULL: the refiner m */
	const struct refiner *m;
	const float *p;
	struct source ts;
	struct eval_run_config c;
};

static void reg_steps_run(void *ctx, int n, struct eval_row *rows)
{
	struct reg_steps *x = ctx;

	x->c.ntasks = n;
	assert_int_equal(x->g ? run_gen(x->g, x->p, &x->ts, &x->c, rows) :
			 run_refiner(x->m, x->p, &x->ts, &x->c, rows), AM_OK);
}

/* The regression family's step column: the mean over tasks of the
 * per-task change of the amortizer's held-out MSE from the previous k,
 * and its standard error, against the per-task MSEs that runs on the
 * first 1, 2, ..., N tasks give (tu_check_steps), for the implicit model
 * and the parametric refiner. */
static void test_regeval_steps(void **state)
{
	struct train *ti = trained(1);
	struct reg_steps x;
	struct refiner m;
	struct layout lay;
	float *p;

	(void)state;
	p = untrained_refiner(&m, &lay);
	config(&x.c, &x.ts);
	x.c.tune_tasks = 2;
	x.c.ntest = 30;
	x.c.onestep_max_rows = 0;
	x.g = tu_gen(ti);
	x.m = NULL;
	x.p = train_params(ti);
	tu_check_steps(4, x.c.nk, reg_steps_run, &x);
	x.g = NULL;
	x.m = &m;
	x.p = p;
	tu_check_steps(4, x.c.nk, reg_steps_run, &x);
	free(p);
	layout_free(&lay);
	train_free(ti);
}

/* The shared driver pieces (eval.h): eval_ks_check's bounds, and
 * eval_row_score + eval_rows_finish turning per-task scores into means,
 * the step and its standard error, and onestep NAN where absent. */
static void test_eval_rows_shared(void **state)
{
	const int ks[3] = { 1, 2, 4 }, bad[2] = { 2, 2 };
	/* two tasks' scores at three checkpoints */
	const double err[2][3] = { { 1.0, 0.5, 0.25 }, { 3.0, 2.5, 1.25 } };
	struct eval_row rows[3];
	double chg2[3] = { 0, 0, 0 }, prev;
	int t, j;

	(void)state;
	assert_int_equal(eval_ks_check(3, 3, ks, 8, 0), AM_OK);
	assert_int_equal(eval_ks_check(3, 2, ks, 8, 0), AM_EINVAL);
	assert_int_equal(eval_ks_check(3, 3, ks, 8, 31), AM_EINVAL);
	assert_int_equal(eval_ks_check(3, 3, ks, 8, 32), AM_OK);
	assert_int_equal(eval_ks_check(2, 3, bad, 8, 0), AM_EINVAL);
	assert_int_equal(eval_ks_check(0, 3, ks, 8, 0), AM_EINVAL);
	memset(rows, 0, sizeof rows);
	for (t = 0; t < 2; t++)
		for (j = 0; j < 3; j++)
			eval_row_score(rows, j, err[t][j], &prev, chg2);
	rows[0].has = EVAL_HAS_ONESTEP;
	rows[0].onestep = 4.0;
	rows[1].base[EVAL_RIDGE] = 6.0;
	eval_rows_finish(rows, 3, ks, 2, chg2);
	for (j = 0; j < 3; j++) {
		assert_int_equal(rows[j].k, ks[j]);
		assert_true(fabs(rows[j].amort - (err[0][j] + err[1][j]) / 2) < 1e-12);
		assert_int_equal(!!(rows[j].has & EVAL_HAS_CHANGE), j > 0);
	}
	assert_true(rows[0].onestep == 2.0);
	assert_true(isnan(rows[1].onestep));
	assert_true(rows[1].base[EVAL_RIDGE] == 3.0);
	/* changes -0.5, -0.5: mean -0.5, no spread; then -0.25, -1.25 */
	assert_true(fabs(rows[1].change + 0.5) < 1e-12 && rows[1].change_se < 1e-12);
	assert_true(fabs(rows[2].change + 0.75) < 1e-12);
	assert_true(fabs(rows[2].change_se - 0.5) < 1e-12);
	assert_string_equal(eval_base_name[EVAL_SGD], "sgd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regeval_explicit),
		cmocka_unit_test(test_regeval_implicit),
		cmocka_unit_test(test_regeval_same_tasks_for_every_model),
		cmocka_unit_test(test_regeval_steps),
		cmocka_unit_test(test_eval_rows_shared),
	};

	gemm_set_threads(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
