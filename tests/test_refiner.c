/*
 * test_refiner.c - the parametric regression refiner: gradients of every
 * parameter tensor against central finite differences (all three input
 * variants), masking of padded inputs, set invariance, and the step and
 * predict entry points.
 *
 * Gradient tolerance (eps = 1e-2, float32 forward, loss accumulated in
 * double): |analytic - numeric| <= 2e-3 + 2e-2 |numeric|.
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
#include "tasks/linreg.h"
#include "refine/refiner.h"
#include "base/rng.h"
#include "testutil.h"

enum { NS = 3, BM = 6 };

struct ctx {
	struct refiner m;
	struct layout lay;
	struct refiner_ws *ws;
	float *p, *dp;
	float state[NS][REFINER_S], X[NS][BM * LINREG_DMAX], y[NS][BM];
	struct refiner_input in[NS];
	float next[NS * REFINER_S], r[NS * REFINER_S];
};

static void ctx_init(struct ctx *c, enum refiner_variant v, int passes)
{
	struct refiner_config cfg = { .C = 16, .H = 2, .L = 2, .bmax = BM,
				      .ksteps = 4, .passes = passes, .variant = v };
	struct linreg_family fam;
	struct rng r;
	int i, j, Bs[NS] = { 6, 2, 4 }, Ds[NS] = { 3, 16, 1 };

	memset(c, 0, sizeof *c);
	layout_init(&c->lay);
	assert_int_equal(refiner_init(&c->m, &c->lay, &cfg), AM_OK);
	c->p = tu_alloc(c->lay.total);
	c->dp = tu_alloc(c->lay.total);
	rng_seed(&r, 3);
	refiner_init_params(&c->m, c->p, &r);
	/* a zero head would hide the transformer's gradients: wake it up */
	for (j = 0; j < c->lay.n; j++)
		if (!strncmp(c->lay.views[j].name, "ref.head", 8) ||
		    !strcmp(c->lay.views[j].name, "ref.init"))
			rng_fill_normal(&r, c->p + c->lay.views[j].offset,
					(long)c->lay.views[j].size, 0.0f, 0.3f);
	c->ws = refiner_ws_new(&c->m, NS, BM);
	assert_non_null(c->ws);
	linreg_family_default(&fam);
	for (i = 0; i < NS; i++) {
		struct linreg_task t;

		fam.dmin = fam.dmax = Ds[i];
		linreg_task_draw(&t, &fam, &r);
		linreg_task_rows(&t, &r, Bs[i], c->X[i], c->y[i]);
		for (j = 0; j < REFINER_S; j++)
			c->state[i][j] = j < Ds[i] || j >= LINREG_DMAX ?
					 0.5f * (float)rng_normal(&r) : 0.0f;
		c->in[i] = (struct refiner_input){ c->state[i], c->X[i], c->y[i],
						   Bs[i], Ds[i], 10.0 * i, i % passes };
	}
	rng_fill_normal(&r, c->r, NS * REFINER_S, 0.0f, 1.0f);
}

static void ctx_free(struct ctx *c)
{
	refiner_ws_free(c->ws);
	free(c->p);
	free(c->dp);
	layout_free(&c->lay);
}

static double loss(void *p)
{
	struct ctx *c = p;

	assert_int_equal(refiner_forward(&c->m, c->p, c->ws, NS, c->in, c->next,
					 NULL), AM_OK);
	return tu_dot(c->next, c->r, NS * REFINER_S);
}

static void check_variant(enum refiner_variant v)
{
	struct ctx c;
	int i, fails = 0;

	ctx_init(&c, v, 2);
	loss(&c);
	refiner_backward(&c.m, c.p, c.dp, c.ws, c.r);
	for (i = 0; i < c.lay.n; i++) {
		const struct layout_view *w = &c.lay.views[i];

		if (!strcmp(w->name, "ref.init"))
			continue;	/* not used by a pass: trained by the trainer */
		fails += tu_grad_check(w->name, c.p + w->offset, c.dp + w->offset,
				       w->size, loss, &c, 1e-2f, 2e-3f, 2e-2f, 48);
	}
	assert_int_equal(fails, 0);
	ctx_free(&c);
}

static void test_refiner_gradients_both(void **state)
{
	(void)state;
	check_variant(REFINER_BOTH);
}

static void test_refiner_gradients_obs(void **state)
{
	(void)state;
	check_variant(REFINER_OBS);
}

static void test_refiner_gradients_grad(void **state)
{
	(void)state;
	check_variant(REFINER_GRAD);
}

static void test_refiner_padded_inputs_stay_zero(void **state)
{
	struct ctx c;
	int i, j;

	(void)state;
	ctx_init(&c, REFINER_BOTH, 2);
	loss(&c);
	for (i = 0; i < NS; i++)
		for (j = c.in[i].D; j < LINREG_DMAX; j++)
			assert_true(c.next[i * REFINER_S + j] == 0.0f);
	ctx_free(&c);
}

static void test_refiner_row_order_does_not_matter(void **state)
{
	/* a set function of the rows: reversing them changes nothing but
	 * rounding */
	struct ctx c;
	float before[NS * REFINER_S], X2[BM * LINREG_DMAX], y2[BM];
	int B = 6, r, j;

	(void)state;
	ctx_init(&c, REFINER_BOTH, 2);
	loss(&c);
	memcpy(before, c.next, sizeof before);
	for (r = 0; r < B; r++) {
		memcpy(X2 + r * LINREG_DMAX, c.X[0] + (B - 1 - r) * LINREG_DMAX,
		       LINREG_DMAX * sizeof(float));
		y2[r] = c.y[0][B - 1 - r];
	}
	c.in[0].X = X2;
	c.in[0].y = y2;
	loss(&c);
	for (j = 0; j < REFINER_S; j++)
		assert_true(fabsf(c.next[j] - before[j]) < 1e-4f * (1.0f + fabsf(before[j])));
	ctx_free(&c);
}

static void test_refiner_step_and_predict(void **state)
{
	struct ctx c;
	float s[REFINER_S], s2[REFINER_S], mean[BM], var[BM], l;
	float bad[BM * LINREG_DMAX];

	(void)state;
	ctx_init(&c, REFINER_BOTH, 2);
	refiner_initial_state(&c.m, c.p, s);
	memcpy(s2, s, sizeof s);
	assert_int_equal(refiner_step(&c.m, c.p, c.ws, s, c.X[0], c.y[0], 6, 3,
				      0.0, &l), AM_OK);
	assert_true(isfinite(l) && l > 0.0f);
	assert_true(memcmp(s, s2, sizeof s) != 0);
	refiner_predict(s, c.X[0], 6, mean, var);
	for (int i = 0; i < 6; i++) {
		assert_true(isfinite(mean[i]));
		assert_float_equal(var[i], expf(s[REFINER_LOGVAR]), 1e-6);
	}
	/* out-of-range sizes are refused and leave the state alone */
	memcpy(s2, s, sizeof s);
	assert_int_equal(refiner_step(&c.m, c.p, c.ws, s, c.X[0], c.y[0], 0, 3,
				      0.0, &l), AM_EINVAL);
	assert_int_equal(refiner_step(&c.m, c.p, c.ws, s, c.X[0], c.y[0], BM + 1, 3,
				      0.0, &l), AM_EINVAL);
	assert_int_equal(refiner_step(&c.m, c.p, c.ws, s, c.X[0], c.y[0], 6, 17,
				      0.0, &l), AM_EINVAL);
	/* a step that would make the state non-finite is refused */
	for (int i = 0; i < BM * LINREG_DMAX; i++)
		bad[i] = 1e30f;
	assert_int_equal(refiner_step(&c.m, c.p, c.ws, s, bad, c.y[0], 6, 3,
				      0.0, &l), AM_ENUMERIC);
	assert_memory_equal(s, s2, sizeof s);
	ctx_free(&c);
}

static void test_refiner_config_check(void **state)
{
	struct refiner_config ok = { .C = 16, .H = 2, .L = 2, .bmax = 32,
				     .ksteps = 16, .passes = 2, .variant = REFINER_BOTH };
	struct refiner_config bad;
	char err[128];

	(void)state;
	assert_int_equal(refiner_config_check(&ok, err, sizeof err), AM_OK);
	bad = ok; bad.H = 3;
	assert_int_equal(refiner_config_check(&bad, err, sizeof err), AM_EINVAL);
	assert_non_null(strstr(err, "heads"));
	bad = ok; bad.passes = 5;
	assert_int_equal(refiner_config_check(&bad, err, sizeof err), AM_EINVAL);
	bad = ok; bad.variant = 0;
	assert_int_equal(refiner_config_check(&bad, err, sizeof err), AM_EINVAL);
	bad = ok; bad.bmax = REFINER_BMAX + 1;
	assert_int_equal(refiner_config_check(&bad, err, sizeof err), AM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refiner_gradients_both),
		cmocka_unit_test(test_refiner_gradients_obs),
		cmocka_unit_test(test_refiner_gradients_grad),
		cmocka_unit_test(test_refiner_padded_inputs_stay_zero),
		cmocka_unit_test(test_refiner_row_order_does_not_matter),
		cmocka_unit_test(test_refiner_step_and_predict),
		cmocka_unit_test(test_refiner_config_check),
	};

	return cmocka_run_group_tests_name("refiner", tests, NULL, NULL);
}
