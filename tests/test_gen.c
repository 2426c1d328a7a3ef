/*
 * test_gen.c - the generative amortizers: an untrained mixture refiner is
 * online EM (its skip path) and lowers the held-out NLL step by step;
 * meta-training a tiny mixture refiner lowers the excess NLL on held-out
 * tasks; steps and samples are deterministic; a failed step leaves the
 * state alone; a flow refiner trains its velocity network and latent; a
 * checkpointed run resumes bit-identically; the evaluator's rows are
 * consistent (EM at least as good as the amortizer's untrained start, the
 * floor near zero).
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/am.h"
#include "eval/clfeval.h"
#include "base/gemm.h"
#include "family/gen.h"
#include "eval/geneval.h"
#include "family/fam_gen.h"
#include "train/train.h"
#include "tasks/mog.h"
#include "testutil.h"

static void tiny(struct gentrain_config *c, enum gen_kind kind)
{
	gentrain_config_default(c, kind);
	c->gen.C = 16;
	c->gen.H = 2;
	c->gen.L = 2;
	c->gen.bmax = 16;
	c->gen.ksteps = 8;
	c->gen.Z = 16;
	c->gen.vH = 32;
	c->gen.vL = 2;
	c->gen.flow_steps = 8;
	c->pop = 32;
	c->chunk = 8;
	c->nq = 32;
	c->iters = 200;
	c->lr = 3e-3f;
	c->lr_min = 3e-4f;
	c->warmup = 10;
	c->shards = 2;
}

/* Mean held-out NLL excess over the truth after k steps, over ntasks. */
static double excess_after(const struct gen *g, const float *p, int k,
			   int ntasks, uint64_t seed)
{
	struct source ts;
	struct gen_ws *ws = gen_ws_new(g, 1, g->cfg.bmax);
	float X[16 * GEN_DMAX], Q[400 * GEN_DMAX], s[GEN_STATE_MAX];
	struct rng r;
	double sum = 0.0;
	int t, i;

	assert_non_null(ws);
	memset(&ts, 0, sizeof ts);
	ts.src = SOURCE_MOG;
	mog_family_default(&ts.fam);
	rng_seed(&r, seed);
	for (t = 0; t < ntasks; t++) {
		struct source_task task;

		source_draw(&ts, &r, &task);
		gen_initial_state(g, p, s);
		for (i = 0; i < k; i++) {
			source_sample(&ts, &task, &r, 16, X, NULL);
			assert_int_equal(gen_step(g, p, ws, s, X, NULL, 16, task.D, 0, i * 16.0,
						  NULL, NULL), AM_OK);
		}
		source_sample(&ts, &task, &r, 400, Q, NULL);
		sum += mog_nll(s, task.D, Q, 400, NULL, NULL) -
		       mog_nll(task.theta, task.D, Q, 400, NULL, NULL);
	}
	gen_ws_free(ws);
	return sum / ntasks;
}

static void test_gen_untrained_mog_is_online_em(void **state)
{
	struct gentrain_config c;
	struct train *t;
	double e1, e4, e16;

	(void)state;
	tiny(&c, GEN_MOG);
	t = train_new(&fam_gen, &c, NULL, 0);
	assert_non_null(t);
	e1 = excess_after(tu_gen(t), train_params(t), 1, 40, 3);
	e4 = excess_after(tu_gen(t), train_params(t), 4, 40, 3);
	e16 = excess_after(tu_gen(t), train_params(t), 16, 40, 3);
	print_message("untrained (online EM) excess NLL: k=1 %.3f k=4 %.3f k=16 %.3f\n",
		      e1, e4, e16);
	assert_true(e4 < e1);
	assert_true(e16 < e4);
	train_free(t);
}

static void test_gen_training_lowers_excess_nll(void **state)
{
	struct gentrain_config c;
	struct train *t;
	double before, after, loss;

	(void)state;
	tiny(&c, GEN_MOG);
	t = train_new(&fam_gen, &c, NULL, 0);
	assert_non_null(t);
	before = excess_after(tu_gen(t), train_params(t), 4, 60, 99);
	tu_gentrain_run(t, c.shards, c.iters, &loss);
	after = excess_after(tu_gen(t), train_params(t), 4, 60, 99);
	print_message("excess NLL after 4 steps: untrained %.3f, trained %.3f\n",
		      before, after);
	assert_true(after < before);
	train_free(t);
}

static void test_gen_step_deterministic_and_atomic(void **state)
{
	struct gentrain_config c;
	struct train *t;
	const struct gen *g;
	struct gen_ws *ws;
	float X[16 * GEN_DMAX], a[GEN_STATE_MAX], b[GEN_STATE_MAX];
	float sa[50 * GEN_DMAX], sb[50 * GEN_DMAX];
	struct rng r;
	float l0, l1;
	int kind;

	(void)state;
	for (kind = GEN_MOG; kind <= GEN_FLOW; kind++) {
		tiny(&c, (enum gen_kind)kind);
		t = train_new(&fam_gen, &c, NULL, 0);
		assert_non_null(t);
		g = tu_gen(t);
		ws = gen_ws_new(g, 1, 16);
		rng_seed(&r, 5);
		rng_fill_normal(&r, X, 16 * GEN_DMAX, 0.0f, 1.0f);
		gen_initial_state(g, train_params(t), a);
		gen_initial_state(g, train_params(t), b);
		assert_int_equal(gen_step(g, train_params(t), ws, a, X, NULL, 12, 2, 0, 0,
					  &l0, &l1), AM_OK);
		assert_int_equal(gen_step(g, train_params(t), ws, b, X, NULL, 12, 2, 0, 0,
					  NULL, NULL), AM_OK);
		assert_memory_equal(a, b, (size_t)g->nstate * sizeof(float));
		assert_true(isfinite(l0) && isfinite(l1));
		/* out-of-range sizes change nothing */
		assert_int_equal(gen_step(g, train_params(t), ws, b, X, NULL, 17, 2, 0, 0,
					  NULL, NULL), AM_EINVAL);
		assert_int_equal(gen_step(g, train_params(t), ws, b, X, NULL, 4, 9, 0, 0,
					  NULL, NULL), AM_EINVAL);
		assert_memory_equal(a, b, (size_t)g->nstate * sizeof(float));
		/* samples: same seed, same samples; zeros past D */
		rng_seed(&r, 77);
		gen_sample(g, train_params(t), ws, a, 2, 50, &r, sa);
		rng_seed(&r, 77);
		gen_sample(g, train_params(t), ws, a, 2, 50, &r, sb);
		assert_memory_equal(sa, sb, sizeof sa);
		assert_true(sa[2] == 0.0f && sa[GEN_DMAX - 1] == 0.0f);
		gen_ws_free(ws);
		train_free(t);
	}
}

static void test_gen_flow_training_lowers_loss(void **state)
{
	struct gentrain_config c;
	struct train *t;
	double first = 0, loss = 0;

	(void)state;
	tiny(&c, GEN_FLOW);
	c.iters = 150;
	t = train_new(&fam_gen, &c, NULL, 0);
	assert_non_null(t);
	tu_gentrain_run(t, c.shards, 5, &first);
	tu_gentrain_run(t, c.shards, c.iters, &loss);
	print_message("flow-matching loss: %.3f at 5 iterations, %.3f at %ld\n",
		      first, loss, c.iters);
	assert_true(loss < first);
	train_free(t);
}

static void test_gen_resume_is_bit_identical(void **state)
{
	struct gentrain_config c;
	int kind;

	(void)state;
	for (kind = GEN_MOG; kind <= GEN_FLOW; kind++) {
		tiny(&c, (enum gen_kind)kind);
		c.iters = 20;
		tu_gentrain_resumes(&c, 8);
	}
}

static void test_gen_eval_rows(void **state)
{
	struct gentrain_config c;
	struct train *t;
	struct geneval_config ec;
	struct eval_row rows[EVAL_KS_MAX];
	struct source ts;
	int j;

	(void)state;
	tiny(&c, GEN_MOG);
	t = train_new(&fam_gen, &c, NULL, 0);
	assert_non_null(t);
	memset(&ts, 0, sizeof ts);
	ts.src = SOURCE_MOG;
	mog_family_default(&ts.fam);
	memset(&ec, 0, sizeof ec);
	ec.ntasks = 6;
	ec.B = 16;
	ec.nk = 3;
	ec.ks[0] = 1;
	ec.ks[1] = 4;
	ec.ks[2] = 16;
	ec.nheld = 200;
	ec.nsamp = 100;
	ec.em_restarts = 2;
	ec.em_iters = 100;
	ec.seed = 4;
	assert_int_equal(geneval_run(tu_gen(t), train_params(t), &ts,
				     &ec, rows), AM_OK);
	for (j = 0; j < ec.nk; j++) {
		assert_int_equal(rows[j].k, ec.ks[j]);
		assert_true((rows[j].has & EVAL_HAS_AMORT) &&
			    (rows[j].has & EVAL_HAS_BASE(EVAL_EM)) &&
			    (rows[j].has & EVAL_HAS_FLOOR));
		/* nothing beats the truth on average by much, and the true
		 * sample's own distance is the smallest */
		assert_true(rows[j].base[EVAL_EM] > rows[j].floor - 0.1);
		assert_true(rows[j].amort > rows[j].floor - 0.1);
		assert_true(rows[j].base[EVAL_ENERGY_FLOOR] <
			    rows[j].base[EVAL_ENERGY] + 0.05);
	}
	assert_true(rows[2].base[EVAL_EM] < rows[0].base[EVAL_EM]);
	ec.ks[1] = 1;			/* not ascending */
	assert_int_equal(geneval_run(tu_gen(t), train_params(t), &ts,
				     &ec, rows), AM_EINVAL);
	train_free(t);
}

/* Classification, parametric and explicit: training lowers the held-out
 * cross-entropy of 4 steps on linclass tasks, probabilities sum to 1 over
 * the task's classes, and a checkpoint resumes bit-identically. */
static double clf_loss_after(const struct train *t, int k, uint64_t seed)
{
	const struct gen *g = tu_gen(t);
	const float *p = train_params(t);
	struct source ts;
	struct gen_ws *ws = gen_ws_new(g, 1, 16);
	static float X[16 * GEN_XMAX], Q[200 * GEN_XMAX], pr[200 * LINCLASS_KMAX];
	int y[16], Qy[200];
	float s[GEN_STATE_MAX];
	struct rng r;
	double sum = 0.0;
	int task, i, c;

	assert_non_null(ws);
	memset(&ts, 0, sizeof ts);
	ts.src = SOURCE_LINCLASS;
	linclass_family_default(&ts.cfam);
	ts.cfam.dmax = 8;
	rng_seed(&r, seed);
	for (task = 0; task < 30; task++) {
		struct source_task tk;

		source_draw(&ts, &r, &tk);
		gen_initial_state(g, p, s);
		for (i = 0; i < k; i++) {
			source_sample(&ts, &tk, &r, 16, X, y);
			assert_int_equal(gen_step(g, p, ws, s, X, y, 16, tk.D, tk.K,
						  i * 16.0, NULL, NULL), AM_OK);
		}
		source_sample(&ts, &tk, &r, 200, Q, Qy);
		assert_int_equal(gen_predict_probs(g, p, ws, s, Q, 200, tk.D, tk.K, pr),
				 AM_OK);
		for (i = 0; i < 200; i++) {
			double z = 0.0;

			for (c = 0; c < LINCLASS_KMAX; c++)
				z += pr[i * LINCLASS_KMAX + c];
			assert_true(fabs(z - 1.0) < 1e-4);
			assert_true(pr[i * LINCLASS_KMAX + tk.K - 1] >= 0.0f);
			if (tk.K < LINCLASS_KMAX)
				assert_true(pr[i * LINCLASS_KMAX + tk.K] == 0.0f);
			sum -= log(fmax(pr[i * LINCLASS_KMAX + Qy[i]], 1e-30));
		}
	}
	gen_ws_free(ws);
	return sum / (30 * 200);
}

static void test_gen_clf_trains(void **state)
{
	struct gentrain_config c;
	struct train *t;
	double before, after, loss;
	int ex;

	(void)state;
	/* 0 parametric, 1 explicit (mlp), 2 explicit (head: 16 per class) */
	for (ex = 0; ex <= 2; ex++) {
		tiny(&c, GEN_CLF);
		c.gen.regime = ex > 0 ? GEN_EXPLICIT : GEN_PARAMETRIC;
		c.gen.head = ex == 2;
		if (ex == 2)
			c.gen.Z = 16;
		c.tasks.cfam.dmax = 8;
		c.iters = 150;
		t = train_new(&fam_gen, &c, NULL, 0);
		assert_non_null(t);
		before = clf_loss_after(t, 4, 21);
		tu_gentrain_run(t, c.shards, c.iters, &loss);
		after = clf_loss_after(t, 4, 21);
		print_message("%s classification, held-out cross-entropy after 4 "
			      "steps: untrained %.3f, trained %.3f\n",
			      ex == 2 ? "explicit (head)" : ex ? "explicit (mlp)" :
			      "parametric", before, after);
		assert_true(after < before);
		train_free(t);
	}
}


static void test_gen_clf_resume(void **state)
{
	struct gentrain_config c;
	int head;

	(void)state;
	for (head = 0; head <= 1; head++) {
		tiny(&c, GEN_CLF);
		c.gen.regime = GEN_EXPLICIT;
		c.gen.head = head;
		if (head)
			c.gen.Z = 8;
		c.iters = 12;
		tu_gentrain_resumes(&c, 5);
	}
}

/* step_weight = 1 weighs the loss of the state after step t by t.  With
 * one step per task every weight is 1, so training is bit-identical to
 * the plain greedy loss; with eight steps it trains differently, reports
 * the same plain mean loss on its first iteration, still learns, and
 * resumes bit-identically from a checkpoint.  The config refuses 2. */
static void test_gen_step_weight(void **state)
{
	struct gentrain_config c;
	struct train *a, *b;
	double la, lb, before, after;
	int ksteps;

	(void)state;
	for (ksteps = 1; ksteps <= 8; ksteps += 7) {
		tiny(&c, GEN_CLF);
		c.gen.ksteps = ksteps;
		c.tasks.cfam.dmax = 8;
		c.iters = 6;
		a = train_new(&fam_gen, &c, NULL, 0);
		c.step_weight = 1;
		b = train_new(&fam_gen, &c, NULL, 0);
		assert_non_null(a);
		assert_non_null(b);
		tu_gentrain_run(a, c.shards, 1, &la);
		tu_gentrain_run(b, c.shards, 1, &lb);
		assert_true(la == lb);	/* same states, same rows, same mean */
		tu_gentrain_run(a, c.shards, c.iters, &la);
		tu_gentrain_run(b, c.shards, c.iters, &lb);
		if (ksteps == 1)
			assert_memory_equal(train_params(a), train_params(b),
					    train_layout(a)->total * sizeof(float));
		else
			assert_memory_not_equal(train_params(a), train_params(b),
						train_layout(a)->total * sizeof(float));
		train_free(a);
		train_free(b);
	}

	/* c: eight steps, step_weight = 1 */
	c.iters = 150;
	b = train_new(&fam_gen, &c, NULL, 0);
	assert_non_null(b);
	before = clf_loss_after(b, 4, 21);
	tu_gentrain_run(b, c.shards, c.iters, &lb);
	after = clf_loss_after(b, 4, 21);
	print_message("step-weighted classification, held-out cross-entropy "
		      "after 4 steps: untrained %.3f, trained %.3f\n", before, after);
	assert_true(after < before);
	train_free(b);

	c.iters = 12;
	tu_gentrain_resumes(&c, 5);

	c.step_weight = 2;
	assert_null(train_new(&fam_gen, &c, NULL, 0));
}

/* nsrc (2 or 3) image task sources over one array of n rows (feat, with
 * classes lab) and up to nclass classes of 2 or more per task: source h < 2
 * holds the rows i with i % 2 == h, source 2 all of them.  Their per-class
 * row lists go to mem (nsrc * n ints). */
static void image_sources(struct source_images *im, int nsrc, int n, int nclass,
			  int dim, const float *feat, const unsigned char *lab,
			  int *mem)
{
	int h, c, i;

	for (h = 0; h < nsrc; h++) {
		memset(&im[h], 0, sizeof im[h]);
		im[h].n = n;
		im[h].dim = dim;
		im[h].nclass = nclass;
		im[h].X = feat;
		im[h].y = lab;
		im[h].kmin = 2;
		im[h].kmax = nclass;
		for (c = 0; c < nclass; c++) {
			im[h].cls_rows[c] = mem;
			for (i = 0; i < n; i++)
				if (lab[i] == c && (h == 2 || i % 2 == h))
					*mem++ = i;
			im[h].cls_count[c] = (int)(mem - im[h].cls_rows[c]);
		}
	}
}

/* task_batch = 1: a trajectory streams one batch size for its whole task
 * and draws a new one when it starts the next task; over the population
 * the sizes still vary.  Without it the size changes within a task.  Both
 * train, and task_batch resumes bit-identically. */
static void test_gen_task_batch(void **state)
{
	struct gentrain_config c;
	struct train *t;
	int prevB[64], prevS[64], tb, i, it, B, step;
	int changed, distinct, newtask;
	double la;

	(void)state;
	for (tb = 0; tb <= 1; tb++) {
		tiny(&c, GEN_CLF);
		c.task_batch = tb;
		c.tasks.cfam.dmax = 8;
		c.iters = 40;
		t = train_new(&fam_gen, &c, NULL, 0);
		assert_non_null(t);
		assert_true(c.pop <= 64);
		for (i = 0; i < c.pop; i++)
			train_traj(t, i, &prevB[i], &prevS[i]);
		changed = distinct = newtask = 0;
		for (it = 1; it <= 20; it++) {
			tu_gentrain_run(t, c.shards, it, &la);
			for (i = 0; i < c.pop; i++) {
				train_traj(t, i, &B, &step);
				assert_true(B >= 1 && B <= c.gen.bmax);
				if (step == prevS[i] + 1)	/* same task */
					changed += B != prevB[i];
				else
					newtask += B != prevB[i];
				distinct += B != prevB[0];
				prevB[i] = B;
				prevS[i] = step;
			}
		}
		if (tb)
			assert_int_equal(changed, 0);
		else
			assert_true(changed > 0);
		assert_true(newtask > 0);
		assert_true(distinct > 0);
		train_free(t);
	}

	/* c: task_batch = 1 */
	c.iters = 12;
	tu_gentrain_resumes(&c, 5);

	c.task_batch = 2;
	assert_null(train_new(&fam_gen, &c, NULL, 0));
}

/* Image rows for the whole-split fit: class c of NC around its own point
 * of a circle, noise 0.4, in DIM features; halves by index parity. */
enum { CN = 400, CNC = 4, CDIM = 2 };
static float cfeat[CN * GEN_XMAX];
static unsigned char clab[CN];
static int crows[3 * CN];

static void ceiling_images(struct source_images im[3])
{
	struct rng r;
	int i, c;

	rng_seed(&r, 5);
	memset(cfeat, 0, sizeof cfeat);
	for (i = 0; i < CN; i++) {
		c = i % CNC;
		clab[i] = (unsigned char)c;
		cfeat[(size_t)i * GEN_XMAX] = (float)(3.0 * cos(1.5708 * c) +
						      0.4 * rng_normal(&r));
		cfeat[(size_t)i * GEN_XMAX + 1] = (float)(3.0 * sin(1.5708 * c) +
							  0.4 * rng_normal(&r));
	}
	image_sources(im, 3, CN, CNC, CDIM, cfeat, clab, crows);
}

/* The synthetic image sets (ceiling_images), a task source over the whole
 * set and an empty evaluation config: the start of a clfeval test. */
static void clfeval_setup(struct source_images im[3], struct source *ts,
			  struct eval_run_config *c)
{
	ceiling_images(im);
	memset(ts, 0, sizeof *ts);
	ts->src = SOURCE_IMAGES;
	ts->img = &im[2];
	memset(c, 0, sizeof *c);
	c->max_rows = GEN_BMAX;
}

/* The classification evaluator on trainer t's model (through its session
 * contract), every source ts, with the ceiling when not NULL. */
static int run_clf(const struct train *t, const struct source *ts,
		   const float *ceiling, const struct eval_run_config *c,
		   struct eval_row *rows)
{
	struct eval_sources s = { ts, ts, ts, ceiling };
	struct fam_gen_model obj;
	struct amz a;

	tu_amz_gen(&a, &obj, tu_gen(t), train_params(t));
	return eval_run(&clfeval_family, &a, &s, c, rows);
}

/* clfeval_ceiling fits a classifier of all the classes that separates
 * them; the classification evaluator reports its error on every task's
 * held-out rows in the task's own label order (a wrong mapping would be
 * far off: tasks permute the labels), the same at every k, and only when
 * asked.  A source without rows is refused. */
static void test_gen_clfeval_ceiling(void **state)
{
	struct source_images im[3], none;
	struct source ts;
	struct gentrain_config gc;
	struct train *t;
	struct eval_run_config c;
	struct eval_row rows[2];
	float theta[LINCLASS_P], l2 = 0.0f;
	int y[CN], i, j;

	(void)state;
	clfeval_setup(im, &ts, &c);
	assert_int_equal(clfeval_ceiling(&im[0], &im[1], &im[2], theta, &l2), AM_OK);
	assert_true(l2 == 1e-5f || l2 == 1e-4f || l2 == 1e-3f);
	for (i = 0; i < CN; i++)
		y[i] = clab[i];
	assert_true(linclass_error(theta, CDIM, CNC, cfeat, y, CN) < 0.02);

	tiny(&gc, GEN_CLF);
	t = train_new(&fam_gen, &gc, NULL, 0);
	assert_non_null(t);
	c.ntasks = 6;
	c.tune_tasks = 2;
	c.B = 8;
	c.nk = 2;
	c.ks[0] = 1;
	c.ks[1] = 2;
	c.ntest = 50;
	c.seed = 9;
	assert_int_equal(run_clf(t, &ts, theta, &c, rows), AM_OK);
	for (j = 0; j < 2; j++) {
		assert_true(rows[j].has & EVAL_HAS_BASE(EVAL_CEILING));
		assert_true(rows[j].base[EVAL_CEILING] < 0.03);
		assert_true(rows[j].base[EVAL_CEILING] == rows[0].base[EVAL_CEILING]);
	}
	assert_int_equal(run_clf(t, &ts, NULL, &c, rows), AM_OK);
	assert_false(rows[0].has & EVAL_HAS_BASE(EVAL_CEILING));
	train_free(t);

	none = im[0];
	memset(none.cls_count, 0, sizeof none.cls_count);
	assert_int_equal(clfeval_ceiling(&none, &im[1], &im[2], theta, &l2), AM_EINVAL);
}

/* n rows of task tk: its scored rows (source_sample_query) when query
 * is 1, its stream rows otherwise. */
static void sample_rows(const struct source *ts, const struct source_task *tk,
			struct rng *r, int query, int n, float *X, int *y)
{
	if (query)
		source_sample_query(ts, tk, r, n, X, y);
	else
		source_sample(ts, tk, r, n, X, y);
}

/* Image tasks with a query pool (recipe `disjoint = 1`): stream rows come
 * from img and scored rows from qimg, each with the label of its class in
 * the task's order; without a query pool both come from img. */
static void test_gen_image_query_pool(void **state)
{
	enum { N = 60, NC = 5, DIM = 3, ROWS = 300 };
	static float feat[N * GEN_XMAX], X[ROWS * GEN_XMAX];
	static int rows[2 * N];
	unsigned char lab[N];
	struct source_images half[2];
	struct source ts;
	struct rng r;
	int y[ROWS], i, task, pool;

	(void)state;
	/* image i: class i % NC, feature 0 = i, half i % 2 */
	for (i = 0; i < N; i++) {
		lab[i] = (unsigned char)(i % NC);
		feat[(size_t)i * GEN_XMAX] = (float)i;
	}
	image_sources(half, 2, N, NC, DIM, feat, lab, rows);
	memset(&ts, 0, sizeof ts);
	ts.src = SOURCE_IMAGES;
	ts.img = &half[0];
	rng_seed(&r, 11);
	for (pool = 0; pool < 2; pool++) {
		ts.qimg = pool ? &half[1] : NULL;
		for (task = 0; task < 20; task++) {
			struct source_task tk;
			int q;

			source_draw(&ts, &r, &tk);
			assert_true(tk.K >= 2 && tk.K <= NC);
			for (q = 0; q < 2; q++) {
				sample_rows(&ts, &tk, &r, q, ROWS, X, y);
				for (i = 0; i < ROWS; i++) {
					int img = (int)X[(size_t)i * GEN_XMAX];

					assert_true(y[i] >= 0 && y[i] < tk.K);
					assert_int_equal(lab[img], tk.cls[y[i]]);
					assert_int_equal(img % 2, q && pool);
				}
			}
		}
	}
}

/* augment: with chance 1 every image task gets a signed permutation of
 * its features, every row it samples (stream and query) is that
 * permutation of an image of the task's class for its label, and
 * source_aug is a permutation with signs +-1; with chance 0 no task
 * gets one and rows are the images'; with 0.5 some do and some do not.
 * A trainer with augmented tasks resumes bit-identically, and a chance
 * outside [0, 1] or on tasks other than images is refused. */
static void test_gen_image_augment(void **state)
{
	enum { N = 50, NC = 5, DIM = 5, ROWS = 60 };
	static float feat[N * GEN_XMAX], X[ROWS * GEN_XMAX];
	static int rows[3 * N];
	unsigned char lab[N];
	struct source_images im[3];
	struct gentrain_config c;
	struct source ts;
	struct source_task tk;
	struct rng r;
	int y[ROWS], perm[GEN_XMAX], seen[GEN_XMAX], i, d, task, q, naug = 0;
	float sign[GEN_XMAX];
	double loss;

	(void)state;
	/* image i, class i % NC (NC odd: each half holds every class):
	 * feature d = 100 i + d + 1, every value
	 * distinct and away from 0, so a row names its image and places */
	for (i = 0; i < N; i++) {
		lab[i] = (unsigned char)(i % NC);
		for (d = 0; d < DIM; d++)
			feat[(size_t)i * GEN_XMAX + d] = (float)(100 * i + d + 1);
	}
	image_sources(im, 3, N, NC, DIM, feat, lab, rows);
	memset(&ts, 0, sizeof ts);
	ts.src = SOURCE_IMAGES;
	ts.img = &im[0];
	ts.qimg = &im[1];
	rng_seed(&r, 3);
	ts.augment = 1.0f;
	for (task = 0; task < 10; task++) {
		source_draw(&ts, &r, &tk);
		assert_true(tk.aug != 0);
		source_aug(tk.aug, tk.D, perm, sign);
		memset(seen, 0, sizeof seen);
		for (d = 0; d < DIM; d++) {
			assert_true(perm[d] >= 0 && perm[d] < DIM && !seen[perm[d]]++);
			assert_true(sign[d] == 1.0f || sign[d] == -1.0f);
		}
		for (q = 0; q < 2; q++) {
			sample_rows(&ts, &tk, &r, q, ROWS, X, y);
			for (i = 0; i < ROWS; i++) {
				const float *x = X + (size_t)i * GEN_XMAX;
				/* the image: feature perm[0] of it is |x[0]| */
				int img = (int)((fabsf(x[0]) - 1.0f - (float)perm[0]) / 100.0f);

				assert_true(img >= 0 && img < N && img % 2 == q);
				assert_int_equal(lab[img], tk.cls[y[i]]);
				for (d = 0; d < DIM; d++)
					assert_true(x[d] == sign[d] *
						    feat[(size_t)img * GEN_XMAX + perm[d]]);
				for (d = DIM; d < GEN_XMAX; d++)
					assert_true(x[d] == 0.0f);
			}
		}
	}
	ts.augment = 0.0f;
	for (task = 0; task < 10; task++) {
		source_draw(&ts, &r, &tk);
		assert_true(tk.aug == 0);
		source_sample(&ts, &tk, &r, ROWS, X, y);
		for (i = 0; i < ROWS; i++) {
			int img = (int)((X[(size_t)i * GEN_XMAX] - 1.0f) / 100.0f);

			assert_memory_equal(X + (size_t)i * GEN_XMAX,
					    feat + (size_t)img * GEN_XMAX,
					    GEN_XMAX * sizeof(float));
		}
	}
	ts.augment = 0.5f;
	for (task = 0; task < 200; task++) {
		source_draw(&ts, &r, &tk);
		naug += tk.aug != 0;
	}
	/* binomial(200, 1/2): outside [70, 130] with chance below 1e-5 */
	assert_true(naug >= 70 && naug <= 130);

	tiny(&c, GEN_CLF);
	c.tasks.src = SOURCE_IMAGES;
	c.tasks.img = &im[2];
	c.tasks.augment = 0.5f;
	c.iters = 12;
	tu_gentrain_resumes(&c, 5);
	/* it trains: the loss stays finite and the weights move */
	{
		struct train *t = train_new(&fam_gen, &c, NULL, 0);
		float *p0;
		size_t n;

		assert_non_null(t);
		n = train_layout(t)->total;
		p0 = tu_alloc(n);
		memcpy(p0, train_params(t), n * sizeof *p0);
		tu_gentrain_run(t, c.shards, 4, &loss);
		assert_true(isfinite(loss));
		assert_memory_not_equal(p0, train_params(t), n * sizeof *p0);
		free(p0);
		train_free(t);
	}
	c.tasks.augment = 1.5f;
	assert_null(train_new(&fam_gen, &c, NULL, 0));
	tiny(&c, GEN_CLF);
	c.tasks.augment = 0.5f;		/* linclass tasks */
	assert_null(train_new(&fam_gen, &c, NULL, 0));
}

struct clf_steps {
	struct train *t;
	struct source ts;
	struct eval_run_config c;
};

static void clf_steps_run(void *ctx, int n, struct eval_row *rows)
{
	struct clf_steps *x = ctx;

	x->c.ntasks = n;
	assert_int_equal(run_clf(x->t, &x->ts, NULL, &x->c, rows), AM_OK);
}

/* The classification evaluator's step column: the mean over tasks of the
 * per-task change of the amortizer's error from the previous k, and its
 * standard error, checked against the per-task errors that runs on the
 * first 1, 2, ..., N tasks give (tu_check_steps). */
static void test_gen_clfeval_change(void **state)
{
	struct source_images im[3];
	struct gentrain_config gc;
	struct clf_steps x;
	double loss;

	(void)state;
	clfeval_setup(im, &x.ts, &x.c);
	tiny(&gc, GEN_CLF);
	gc.iters = 20;
	x.t = train_new(&fam_gen, &gc, NULL, 0);
	assert_non_null(x.t);
	tu_gentrain_run(x.t, gc.shards, gc.iters, &loss);
	x.c.tune_tasks = 1;
	x.c.skip_baselines = 1;
	x.c.B = 4;
	x.c.nk = 3;
	x.c.ks[0] = 1;
	x.c.ks[1] = 2;
	x.c.ks[2] = 4;
	x.c.ntest = 40;
	x.c.seed = 3;
	tu_check_steps(5, x.c.nk, clf_steps_run, &x);
	train_free(x.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gen_untrained_mog_is_online_em),
		cmocka_unit_test(test_gen_training_lowers_excess_nll),
		cmocka_unit_test(test_gen_step_deterministic_and_atomic),
		cmocka_unit_test(test_gen_flow_training_lowers_loss),
		cmocka_unit_test(test_gen_resume_is_bit_identical),
		cmocka_unit_test(test_gen_eval_rows),
		cmocka_unit_test(test_gen_clf_trains),
		cmocka_unit_test(test_gen_image_query_pool),
		cmocka_unit_test(test_gen_image_augment),
		cmocka_unit_test(test_gen_clf_resume),
		cmocka_unit_test(test_gen_step_weight),
		cmocka_unit_test(test_gen_task_batch),
		cmocka_unit_test(test_gen_clfeval_ceiling),
		cmocka_unit_test(test_gen_clfeval_change),
	};

	gemm_set_threads(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
