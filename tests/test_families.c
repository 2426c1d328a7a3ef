/*
 * test_families.c - the family tables (core/family/families.c) and the
 * session contract every family answers through them (family/amz.h).
 *
 * For each family, and each regime it has, a tiny untrained model is made
 * through its own table (init, init_params), bound to a struct amz, and
 * driven as a session is: its flags must say exactly what its entries can
 * do, every capability it has answers finite values, every one it lacks
 * answers AM_EINVAL, and a batch of the wrong shape is refused with the
 * state unchanged.  A new family listed in families.c is added to
 * `cases` below and gets the same checks.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/am.h"
#include "base/layout.h"
#include "base/rng.h"
#include "family/amz.h"
#include "family/fam_gen.h"
#include "family/fam_linreg.h"
#include "family/families.h"

#define NB 6			/* rows of a test batch */
#define NQ 5			/* query rows */
#define D 3			/* active columns */
#define K 3			/* classes of a classification session */

/* One family in one regime. */
struct fcase {
	const char *family;
	enum gen_regime regime;		/* set-refiner kinds only */
};

static const struct fcase cases[] = {
	{ "linreg", GEN_PARAMETRIC },
	{ "clf", GEN_PARAMETRIC },
	{ "clf", GEN_EXPLICIT },
	{ "clf", GEN_IMPLICIT },
	{ "reg", GEN_EXPLICIT },
	{ "reg", GEN_IMPLICIT },
	{ "mog", GEN_PARAMETRIC },
	{ "flow", GEN_EXPLICIT },
};

#define NCASES (sizeof cases / sizeof cases[0])

/* A model made through its family's table, and its session contract. */
struct fmodel {
	const struct family_ops *ops;
	struct trainer_config lc;
	struct gentrain_config gc;
	void *obj;
	struct layout lay;
	float *p;
	struct amz a;
};

static enum gen_kind kind_of(const char *family)
{
	return !strcmp(family, "clf") ? GEN_CLF : !strcmp(family, "reg") ?
	       GEN_REG : !strcmp(family, "mog") ? GEN_MOG : GEN_FLOW;
}

/* A tiny training configuration of case fc (what init checks). */
static const void *tiny_config(struct fmodel *fm, const struct fcase *fc)
{
	if (!strcmp(fc->family, "linreg")) {
		trainer_config_default(&fm->lc);
		fm->lc.ref.C = 16;
		fm->lc.ref.H = 2;
		fm->lc.ref.L = 1;
		fm->lc.ref.bmax = 8;
		fm->lc.pop = 4;
		fm->lc.chunk = 4;
		return &fm->lc;
	}
	gentrain_config_default(&fm->gc, kind_of(fc->family));
	fm->gc.gen.C = 16;
	fm->gc.gen.H = 2;
	fm->gc.gen.L = 1;
	fm->gc.gen.bmax = 8;
	fm->gc.gen.Z = 8;
	fm->gc.gen.vH = 16;
	fm->gc.gen.vL = 1;
	fm->gc.gen.flow_steps = 4;
	fm->gc.gen.regime = fc->regime;
	if (fc->regime == GEN_IMPLICIT) {
		fm->gc.gen.variant = GEN_OBS;
		fm->gc.gen.qstate = GEN_Q_LOGITS;
		fm->gc.gen.nq = 4;
	}
	fm->gc.pop = 4;
	fm->gc.chunk = 4;
	fm->gc.nq = 8;
	return &fm->gc;
}

static void fmodel_new(struct fmodel *fm, const struct fcase *fc)
{
	struct family_train tc;
	struct rng r;
	char err[160];

	memset(fm, 0, sizeof *fm);
	fm->ops = family_by_name(fc->family);
	assert_non_null(fm->ops);
	layout_init(&fm->lay);
	fm->obj = calloc(1, fm->ops->size);
	assert_non_null(fm->obj);
	assert_int_equal(fm->ops->init(fm->obj, &fm->lay, tiny_config(fm, fc), &tc,
				       err, sizeof err), AM_OK);
	fm->p = calloc(fm->lay.total, sizeof *fm->p);
	assert_non_null(fm->p);
	rng_seed(&r, 7);
	fm->ops->init_params(fm->obj, fm->p, &r);
	fm->ops->bind(fm->obj, &fm->a);
	fm->a.p = fm->p;
}

static void fmodel_free(struct fmodel *fm)
{
	free(fm->p);
	free(fm->obj);
	layout_free(&fm->lay);
}

static int all_finite(const float *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* Random rows (zero past D) and, per the family, labels or targets. */
static void batch(const struct amz *a, struct rng *r, float *X, int n, float *y)
{
	int i, j;

	memset(X, 0, (size_t)n * a->dmax * sizeof *X);
	for (i = 0; i < n; i++) {
		for (j = 0; j < D; j++)
			X[i * a->dmax + j] = (float)rng_normal(r);
		y[i] = a->has_labels ? (float)(i % K) : (float)rng_normal(r);
	}
}

/* ---- the list --------------------------------------------------------- */

static void test_list(void **state)
{
	static const char *names[] = { "linreg", "clf", "reg", "mog", "flow" };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct family_ops *f = family_by_name(names[i]);

		assert_non_null(f);
		assert_string_equal(f->name, names[i]);
		for (j = 0; j < i; j++)
			assert_ptr_not_equal(f, family_by_name(names[j]));
		/* what the trainer and a session always call */
		assert_true(f->size > 0 && f->init && f->init_params &&
			    f->initial_state && f->ws_init && f->ws_free &&
			    f->input && f->forward && f->backward &&
			    f->state_loss && f->traj_alloc && f->task_draw &&
			    f->task_rows && f->task_floats && f->task_pack &&
			    f->task_unpack);
		assert_true(!f->start_loss != !f->init_loss);
		assert_true(f->open && f->bind && f->session_ws &&
			    f->session_ws_free && f->session_start && f->step);
	}
	assert_null(family_by_name("gen"));
	assert_null(family_by_name("scm"));
	assert_null(family_by_name(""));
}

/* ---- the session contract, case by case ------------------------------- */

/* The flags say what the entries can. */
static void flags_match_entries(const struct amz *a)
{
	const struct family_ops *f = a->ops;

	assert_int_equal(a->has_density, f->log_density != NULL);
	assert_int_equal(a->can_sample, f->sample != NULL);
	assert_true(!a->has_mean || f->predict_mean);
	assert_true(!a->has_labels ||
		    (a->implicit ? f->query_probs != NULL :
		     f->predict_probs != NULL));
	assert_true(!a->implicit ||
		    (f->query_init && f->query_step && f->query_loss &&
		     (a->has_labels ? f->query_probs != NULL :
		      f->query_mean != NULL)));
	assert_true(!a->has_labels || a->has_y);
	assert_true(a->nstate >= 1 && a->nstate <= AMZ_STATE_MAX);
	assert_true(a->dmax >= D && a->dmax <= AMZ_DMAX && a->bmax >= NB);
}

/* A step on a good batch changes nothing it should not; a batch of the
 * wrong shape is refused with the state unchanged. */
static void steps(const struct amz *a, struct amz_ws *ws, float *s,
		  struct rng *r)
{
	float X[NB * AMZ_DMAX], y[NB], before[AMZ_STATE_MAX], lb, la;

	batch(a, r, X, NB, y);
	memcpy(before, s, (size_t)a->nstate * sizeof *s);
	/* rows without their targets, or with targets they do not have */
	assert_int_equal(amz_step(a, ws, s, X, a->has_y ? NULL : y, NB, D, 0.0,
				  NULL, NULL), AM_EINVAL);
	assert_int_equal(amz_step(a, ws, s, X, a->has_y ? y : NULL, 0, D, 0.0,
				  NULL, NULL), AM_EINVAL);
	assert_int_equal(amz_step(a, ws, s, X, a->has_y ? y : NULL, NB,
				  a->dmax + 1, 0.0, NULL, NULL), AM_EINVAL);
	if (a->has_labels) {
		y[0] = (float)K;	/* outside the session's classes */
		assert_int_equal(amz_step(a, ws, s, X, y, NB, D, 0.0, NULL, NULL),
				 AM_EINVAL);
		y[0] = 0.0f;
	}
	assert_memory_equal(before, s, (size_t)a->nstate * sizeof *s);
	assert_int_equal(amz_step(a, ws, s, X, a->has_y ? y : NULL, NB, D, 0.0,
				  &lb, &la), AM_OK);
	assert_true(all_finite(s, (size_t)a->nstate));
	assert_true(isfinite(lb) && isfinite(la));
	if (a->implicit) {
		/* no adapted state: the settings alone, and no losses */
		assert_memory_equal(before, s, (size_t)a->nstate * sizeof *s);
		assert_true(lb == 0.0f && la == 0.0f);
	}
}

/* What the family answers, answered; what it lacks, refused. */
static void answers(const struct amz *a, struct amz_ws *ws, const float *s,
		    struct rng *r)
{
	float X[NQ * AMZ_DMAX], y[NQ], out[NQ * AMZ_CLASSES_MAX], var[NQ];
	static float smp[NQ * AMZ_DMAX], smp2[NQ * AMZ_DMAX];
	int i, k, can;

	batch(a, r, X, NQ, y);
	can = a->has_mean && !a->implicit;
	assert_int_equal(amz_predict(a, s, X, NQ, D, out, NULL),
			 can ? AM_OK : AM_EINVAL);
	if (can)
		assert_true(all_finite(out, NQ));
	if (can && a->has_var) {
		assert_int_equal(amz_predict(a, s, X, NQ, D, out, var), AM_OK);
		for (i = 0; i < NQ; i++)
			assert_true(var[i] > 0.0f && isfinite(var[i]));
	}
	can = a->has_labels && !a->implicit;
	assert_int_equal(amz_predict_probs(a, s, X, NQ, D, out),
			 can ? AM_OK : AM_EINVAL);
	for (i = 0; can && i < NQ; i++) {
		double z = 0.0;

		for (k = 0; k < AMZ_CLASSES_MAX; k++) {
			assert_true(out[i * AMZ_CLASSES_MAX + k] >= 0.0f);
			assert_true(k < K || out[i * AMZ_CLASSES_MAX + k] == 0.0f);
			z += out[i * AMZ_CLASSES_MAX + k];
		}
		assert_true(fabs(z - 1.0) < 1e-5);
	}
	assert_int_equal(amz_log_density(a, s, X, NQ, D, out),
			 a->has_density ? AM_OK : AM_EINVAL);
	if (a->has_density)
		assert_true(all_finite(out, NQ));
	assert_int_equal(amz_sample(a, ws, s, D, NQ, 11, smp),
			 a->can_sample ? AM_OK : AM_EINVAL);
	if (a->can_sample) {
		assert_int_equal(amz_sample(a, ws, s, D, NQ, 11, smp2), AM_OK);
		assert_memory_equal(smp, smp2, sizeof smp);
		assert_true(all_finite(smp, (size_t)NQ * a->dmax));
		for (i = 0; i < NQ; i++)
			for (k = D; k < a->dmax; k++)
				assert_true(smp[i * a->dmax + k] == 0.0f);
	}
	assert_int_equal(amz_query_init(a, s, NQ, out),
			 a->implicit ? AM_OK : AM_EINVAL);
}

/* The implicit regime: queries refined by a batch, then read out. */
static void queries(const struct amz *a, struct amz_ws *ws, const float *s,
		    struct rng *r)
{
	float Q[NQ * AMZ_DMAX], qy[NQ], X[NB * AMZ_DMAX], y[NB];
	float qs[NQ * AMZ_STATE_MAX], out[NQ * AMZ_CLASSES_MAX];
	int i;

	batch(a, r, Q, NQ, qy);
	batch(a, r, X, NB, y);
	assert_int_equal(amz_query_init(a, s, NQ, qs), AM_OK);
	assert_int_equal(amz_query_step(a, ws, s, Q, NQ, qs, X, y, NB, D, 0.0),
			 AM_OK);
	assert_true(all_finite(qs, (size_t)NQ * a->qstate));
	assert_int_equal(amz_query_step(a, ws, s, Q, NQ, qs, X, NULL, NB, D, 0.0),
			 AM_EINVAL);
	if (a->has_labels) {
		assert_int_equal(amz_query_probs(a, s, qs, NQ, out), AM_OK);
		assert_int_equal(amz_query_mean(a, s, qs, NQ, out), AM_EINVAL);
	} else {
		assert_int_equal(amz_query_mean(a, s, qs, NQ, out), AM_OK);
		assert_int_equal(amz_query_probs(a, s, qs, NQ, out), AM_EINVAL);
	}
	for (i = 0; i < NQ; i++)
		assert_true(isfinite(out[i]));
	assert_true(isfinite(amz_query_loss(a, s, qs, qy, NQ)));
}

static void test_contract(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < NCASES; c++) {
		struct fmodel fm;
		struct amz_ws *ws;
		struct rng r;
		float s[AMZ_STATE_MAX];

		fmodel_new(&fm, &cases[c]);
		assert_ptr_equal(fm.a.ops, fm.ops);
		assert_ptr_equal(fm.a.m, fm.obj);
		assert_string_equal(amz_name(&fm.a), cases[c].family);
		assert_int_equal(fm.a.implicit, cases[c].regime == GEN_IMPLICIT);
		flags_match_entries(&fm.a);
		ws = amz_ws_new(&fm.a);
		assert_non_null(ws);
		amz_initial_state(&fm.a, s);
		if (fm.a.has_labels) {
			assert_int_equal(amz_classes(&fm.a, s), fm.a.classes);
			assert_int_equal(amz_set_classes(&fm.a, s, K), AM_OK);
		} else {
			assert_int_equal(amz_set_classes(&fm.a, s, K), AM_EINVAL);
		}
		rng_seed(&r, 100 + c);
		steps(&fm.a, ws, s, &r);
		answers(&fm.a, ws, s, &r);
		if (fm.a.implicit)
			queries(&fm.a, ws, s, &r);
		amz_ws_free(ws);
		fmodel_free(&fm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_contract),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
