/*
 * testutil.c - shared helpers for the unit tests.
 */
#include "testutil.h"

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
#include "eval/eval.h"
#include "family/amz.h"
#include "family/fam_gen.h"
#include "family/fam_linreg.h"
#include "train/train.h"

static uint64_t tu_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void tu_fill(float *x, size_t n, float lo, float hi, uint64_t *state)
{
	size_t i;

	for (i = 0; i < n; i++) {
		double u = (double)(tu_next(state) >> 11) * 0x1.0p-53;

		x[i] = (float)(lo + (hi - lo) * u);
	}
}

/* Per-task values come out of runs on different numbers of tasks: a
 * model stepped on a batch of tasks in lockstep rounds its floats
 * differently for another batch size, by about 1e-8 of the value. */
#define TOL(x) (1e-6 * (1.0 + fabs(x)))

void tu_check_steps(int N, int nk, tu_eval_fn run, void *ctx)
{
	struct eval_row rows[16];
	double *mean = calloc((size_t)N * nk, sizeof *mean);
	double *v = calloc((size_t)N * nk, sizeof *v), moved = 0.0;
	int n, j;

	assert_non_null(mean);
	assert_non_null(v);
	assert_true(N >= 2 && nk >= 2 && nk <= 16);
	for (n = 1; n <= N; n++) {
		run(ctx, n, rows);
		for (j = 0; j < nk; j++)
			mean[(size_t)(n - 1) * nk + j] = rows[j].amort;
		if (n == 1)
			for (j = 1; j < nk; j++)
				assert_true(rows[j].change_se == 0.0);
	}
	/* rows hold the run on all N tasks; each task's own value */
	for (n = 0; n < N; n++)
		for (j = 0; j < nk; j++)
			v[(size_t)n * nk + j] = (n + 1) * mean[(size_t)n * nk + j] -
				(n ? n * mean[(size_t)(n - 1) * nk + j] : 0.0);
	assert_false(rows[0].has & EVAL_HAS_CHANGE);
	for (j = 1; j < nk; j++) {
		double m = 0.0, ss = 0.0, d, want;

		for (n = 0; n < N; n++)
			m += v[(size_t)n * nk + j] - v[(size_t)n * nk + j - 1];
		m /= N;
		for (n = 0; n < N; n++) {
			d = v[(size_t)n * nk + j] - v[(size_t)n * nk + j - 1];
			ss += (d - m) * (d - m);
			moved += fabs(d);
		}
		want = sqrt(ss / (N - 1) / N);
		assert_true(rows[j].has & EVAL_HAS_CHANGE);
		assert_true(fabs(rows[j].change - m) < TOL(m));
		assert_true(fabs(rows[j].change - (rows[j].amort - rows[j - 1].amort)) <
			    TOL(rows[j].change));
		assert_true(fabs(rows[j].change_se - want) < TOL(want));
	}
	assert_true(moved > 0.0);
	free(mean);
	free(v);
}
#undef TOL

float *tu_alloc(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof *p);

	assert_non_null(p);
	return p;
}

double tu_dot(const float *a, const float *b, size_t n)
{
	double s = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

int tu_grad_check(const char *what, float *x, const float *analytic, size_t n,
		  tu_loss_fn loss, void *ctx, float eps, float atol, float rtol,
		  size_t max_checks)
{
	size_t stride = n > max_checks ? n / max_checks : 1;
	double worst = 0.0;
	size_t worst_i = 0, checked = 0, i;
	int fails = 0;

	for (i = 0; i < n; i += stride) {
		float keep = x[i];
		double lp, lm, num, err, lim;

		x[i] = keep + eps;
		lp = loss(ctx);
		x[i] = keep - eps;
		lm = loss(ctx);
		x[i] = keep;
		num = (lp - lm) / (2.0 * (double)eps);
		err = fabs((double)analytic[i] - num);
		lim = atol + rtol * fabs(num);
		if (err > lim)
			fails++;
		if (err / lim > worst) {
			worst = err / lim;
			worst_i = i;
		}
		checked++;
	}
	loss(ctx);	/* leave the forward state as it was */
	if (fails)
		fprintf(stderr, "%s: %d of %zu gradient entries off; worst at %zu "
			"(error/limit %.2f, analytic %.6g)\n", what, fails, checked,
			worst_i, worst, (double)analytic[worst_i]);
	return fails;
}

const struct gen *tu_gen(const struct train *t)
{
	return &((const struct fam_gen_model *)train_model(t))->g;
}

const struct refiner *tu_refiner(const struct train *t)
{
	return &((const struct fam_linreg_model *)train_model(t))->ref;
}

void tu_amz_gen(struct amz *a, struct fam_gen_model *obj,
		const struct gen *g, const float *p)
{
	int clf = g->cfg.kind == GEN_CLF;

	assert_true(clf || g->cfg.kind == GEN_REG);
	memset(obj, 0, sizeof *obj);
	obj->cfg.gen = g->cfg;
	obj->cfg.tasks.src = clf ? SOURCE_LINCLASS : SOURCE_LINREG;
	obj->cfg.tasks.cfam.kmax = LINCLASS_KMAX;
	obj->g = *g;
	(clf ? &fam_clf : &fam_reg)->bind(obj, a);
	a->p = p;
}

void tu_amz_refiner(struct amz *a, struct fam_linreg_model *obj,
		    const struct refiner *m, const float *p)
{
	memset(obj, 0, sizeof *obj);
	obj->cfg.ref = m->cfg;
	obj->ref = *m;
	fam_linreg.bind(obj, a);
	a->p = p;
}

void tu_gentrain_run(struct train *t, int shards, long iters, double *loss)
{
	int s;

	while (train_iteration(t) < iters) {
		for (s = shards - 1; s >= 0; s--)
			train_shard(t, s);
		assert_int_equal(train_apply(t, loss), AM_OK);
	}
}

void tu_gentrain_resumes(const struct gentrain_config *c, long at)
{
	struct train *a, *b;
	char path[] = "/tmp/tu_gentrain_resumeXXXXXX";
	double la, lb;
	int fd;

	a = train_new(&fam_gen, c, NULL, 0);
	b = train_new(&fam_gen, c, NULL, 0);
	assert_non_null(a);
	assert_non_null(b);
	tu_gentrain_run(a, c->shards, at, &la);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(train_save_checkpoint(a, path, "{}", NULL, 0), AM_OK);
	assert_int_equal(train_load_checkpoint(b, path, NULL, 0), AM_OK);
	unlink(path);
	tu_gentrain_run(a, c->shards, c->iters, &la);
	tu_gentrain_run(b, c->shards, c->iters, &lb);
	assert_memory_equal(train_params(a), train_params(b),
			    train_layout(a)->total * sizeof(float));
	assert_true(la == lb);
	train_free(a);
	train_free(b);
}
