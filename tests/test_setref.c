/*
 * test_setref.c - the set-of-tokens refiner: gradients of every parameter
 * tensor against central finite differences (with and without the skip
 * path and observation tokens), padding, the untrained step, and
 * invariance to the order of the observations.
 *
 * Gradient tolerance (eps = 1e-2, float32 forward, loss in double):
 * |analytic - numeric| <= 2e-3 + 2e-2 |numeric|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "am.h"
#include "layout.h"
#include "rng.h"
#include "setref.h"
#include "testutil.h"

enum { NS = 3, BM = 5, NST = 3, SD = 4, FS = 6, FO = 3 };

struct ctx {
	struct setref m;
	struct layout lay;
	struct setref_ws *ws;
	float *p, *dp;
	float state[NS * NST * SD], next[NS * NST * SD], r[NS * NST * SD];
	float fs[NS][NST * FS], fo[NS][BM * FO], dir[NS][NST * SD],
	      am[NS][NST * SD];
	int B[NS], pass[NS], nfo;
	float gain[NS];
};

static void fill(struct ctx *c)
{
	int i;

	for (i = 0; i < NS; i++) {
		memcpy(setref_fs(c->ws, i), c->fs[i], sizeof c->fs[i]);
		if (c->nfo)
			memcpy(setref_fo(c->ws, i), c->fo[i], sizeof c->fo[i]);
		memcpy(setref_dir(c->ws, i), c->dir[i], sizeof c->dir[i]);
		memcpy(setref_amask(c->ws, i), c->am[i], sizeof c->am[i]);
		setref_set(c->ws, i, c->B[i], c->pass[i], c->gain[i]);
	}
}

static void ctx_init(struct ctx *c, int fo, int skip)
{
	struct setref_config cfg = { .C = 16, .H = 2, .L = 2, .nst = NST,
				     .sd = SD, .fs = FS, .fo = fo, .passes = 2,
				     .skip = skip };
	struct rng r;
	int i, j, Bs[NS] = { 5, 1, 3 };

	memset(c, 0, sizeof *c);
	layout_init(&c->lay);
	assert_int_equal(setref_init(&c->m, &c->lay, "sr", &cfg), AM_OK);
	c->p = tu_alloc(c->lay.total);
	c->dp = tu_alloc(c->lay.total);
	rng_seed(&r, 5);
	setref_init_params(&c->m, c->p, &r);
	for (j = 0; j < c->lay.n; j++)
		if (!strncmp(c->lay.views[j].name, "sr.head", 7))
			rng_fill_normal(&r, c->p + c->lay.views[j].offset,
					(long)c->lay.views[j].size, 0.0f, 0.3f);
	c->ws = setref_ws_new(&c->m, NS, BM);
	assert_non_null(c->ws);
	c->nfo = fo;
	for (i = 0; i < NS; i++) {
		c->B[i] = Bs[i];
		c->pass[i] = i % 2;
		c->gain[i] = 1.0f / (1.0f + i);
		rng_fill_normal(&r, c->fs[i], NST * FS, 0.0f, 1.0f);
		rng_fill_normal(&r, c->fo[i], BM * FO, 0.0f, 1.0f);
		rng_fill_normal(&r, c->dir[i], NST * SD, 0.0f, 1.0f);
		for (j = 0; j < NST * SD; j++)
			c->am[i][j] = (j % 3) ? 1.0f : 0.0f;
	}
	rng_fill_normal(&r, c->state, NS * NST * SD, 0.0f, 1.0f);
	rng_fill_normal(&r, c->r, NS * NST * SD, 0.0f, 1.0f);
	fill(c);
}

static void ctx_free(struct ctx *c)
{
	setref_ws_free(c->ws);
	free(c->p);
	free(c->dp);
	layout_free(&c->lay);
}

static double loss(void *p)
{
	struct ctx *c = p;

	fill(c);
	assert_int_equal(setref_forward(&c->m, c->p, c->ws, NS, c->state,
					 c->next), AM_OK);
	return tu_dot(c->next, c->r, NS * NST * SD);
}

static void check(int fo, int skip)
{
	struct ctx c;
	int i, fails = 0;

	ctx_init(&c, fo, skip);
	loss(&c);
	setref_backward(&c.m, c.p, c.dp, c.ws, c.r);
	for (i = 0; i < c.lay.n; i++) {
		const struct layout_view *w = &c.lay.views[i];

		fails += tu_grad_check(w->name, c.p + w->offset, c.dp + w->offset,
				       w->size, loss, &c, 1e-2f, 2e-3f, 2e-2f, 48);
	}
	assert_int_equal(fails, 0);
	ctx_free(&c);
}

static void test_setref_gradients_obs_skip(void **state)
{
	(void)state;
	check(FO, 1);
}

static void test_setref_gradients_noobs(void **state)
{
	(void)state;
	check(0, 1);
}

static void test_setref_gradients_noskip(void **state)
{
	(void)state;
	check(FO, 0);
}

/* An untrained refiner (zero head) takes exactly the skip step:
 * x' = x - amask * gain * dir, and never moves masked floats. */
static void test_setref_untrained_step(void **state)
{
	struct setref_config cfg = { .C = 16, .H = 2, .L = 1, .nst = NST,
				     .sd = SD, .fs = FS, .fo = FO, .passes = 1,
				     .skip = 1 };
	struct ctx c;
	struct rng r;
	int i;

	(void)state;
	memset(&c, 0, sizeof c);
	layout_init(&c.lay);
	assert_int_equal(setref_init(&c.m, &c.lay, "sr", &cfg), AM_OK);
	c.p = tu_alloc(c.lay.total);
	rng_seed(&r, 9);
	setref_init_params(&c.m, c.p, &r);
	c.ws = setref_ws_new(&c.m, 1, BM);
	rng_fill_normal(&r, setref_fs(c.ws, 0), NST * FS, 0.0f, 1.0f);
	rng_fill_normal(&r, setref_fo(c.ws, 0), BM * FO, 0.0f, 1.0f);
	rng_fill_normal(&r, setref_dir(c.ws, 0), NST * SD, 0.0f, 1.0f);
	for (i = 0; i < NST * SD; i++)
		setref_amask(c.ws, 0)[i] = i % 2 ? 1.0f : 0.0f;
	setref_set(c.ws, 0, 4, 0, 0.25f);
	rng_fill_normal(&r, c.state, NST * SD, 0.0f, 1.0f);
	assert_int_equal(setref_forward(&c.m, c.p, c.ws, 1, c.state, c.next), AM_OK);
	for (i = 0; i < NST * SD; i++) {
		float want = c.state[i] - (i % 2 ? 0.25f * setref_dir(c.ws, 0)[i] : 0.0f);

		assert_true(fabsf(c.next[i] - want) < 1e-5f);
	}
	setref_ws_free(c.ws);
	free(c.p);
	layout_free(&c.lay);
}

/* Reordering the observations (or changing the padding past B) leaves the
 * next state unchanged: the refiner is a set function of its rows. */
static void test_setref_set_invariance(void **state)
{
	struct ctx c;
	float a[NS * NST * SD], tmp[FO];

	(void)state;
	ctx_init(&c, FO, 1);
	loss(&c);
	memcpy(a, c.next, sizeof a);
	memcpy(tmp, c.fo[0], sizeof tmp);
	memcpy(c.fo[0], c.fo[0] + 4 * FO, sizeof tmp);
	memcpy(c.fo[0] + 4 * FO, tmp, sizeof tmp);
	c.fo[1][3 * FO] = 1e3f;		/* padding of a 1-row sequence */
	loss(&c);
	for (int i = 0; i < NS * NST * SD; i++)
		assert_true(fabsf(a[i] - c.next[i]) < 1e-4f * (1.0f + fabsf(a[i])));
	ctx_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setref_gradients_obs_skip),
		cmocka_unit_test(test_setref_gradients_noobs),
		cmocka_unit_test(test_setref_gradients_noskip),
		cmocka_unit_test(test_setref_untrained_step),
		cmocka_unit_test(test_setref_set_invariance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
