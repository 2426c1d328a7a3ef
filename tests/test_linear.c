/*
 * test_linear.c - the linear layer: forward against a hand computation,
 * gradients against central finite differences.
 *
 * Gradient tolerance (float32 forward, loss accumulated in double,
 * eps = 1e-2 on inputs of order 1): |analytic - numeric| <= 1e-3 + 1e-2 |numeric|.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nn/linear.h"
#include "testutil.h"

#define EPS 1e-2f
#define ATOL 1e-3f
#define RTOL 1e-2f

struct ctx {
	int N, C, OC;
	float *inp, *w, *b, *out, *r;
};

static double loss(void *p)
{
	struct ctx *c = p;

	linear_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
	return tu_dot(c->out, c->r, (size_t)c->N * c->OC);
}

static void test_linear_forward_by_hand(void **state)
{
	float inp[2 * 3] = { 1, 2, 3, 4, 5, 6 };
	float w[2 * 3] = { 1, 0, -1, 0.5f, 0.5f, 0.5f };
	float b[2] = { 10, -10 };
	float out[4];

	(void)state;
	linear_forward(out, inp, w, b, 2, 3, 2);
	assert_float_equal(out[0], 1 - 3 + 10, 1e-6);
	assert_float_equal(out[1], 3 - 10, 1e-6);
	assert_float_equal(out[2], 4 - 6 + 10, 1e-6);
	assert_float_equal(out[3], 7.5 - 10, 1e-6);
	linear_forward(out, inp, w, NULL, 2, 3, 2);
	assert_float_equal(out[0], -2, 1e-6);
	assert_float_equal(out[3], 7.5, 1e-6);
}

static void test_linear_gradients(void **state)
{
	struct ctx c = { .N = 7, .C = 5, .OC = 6 };
	uint64_t seed = 1;
	float *dinp, *dw, *db;

	(void)state;
	c.inp = tu_alloc(35);
	c.w = tu_alloc(30);
	c.b = tu_alloc(6);
	c.out = tu_alloc(42);
	c.r = tu_alloc(42);
	dinp = tu_alloc(35);
	dw = tu_alloc(30);
	db = tu_alloc(6);
	tu_fill(c.inp, 35, -1, 1, &seed);
	tu_fill(c.w, 30, -1, 1, &seed);
	tu_fill(c.b, 6, -1, 1, &seed);
	tu_fill(c.r, 42, -1, 1, &seed);
	loss(&c);
	/* backward accumulates: start from a known non-zero value */
	for (int i = 0; i < 6; i++)
		db[i] = 1.0f;
	linear_backward(dinp, dw, db, c.r, c.inp, c.w, c.N, c.C, c.OC);
	for (int i = 0; i < 6; i++)
		db[i] -= 1.0f;
	assert_int_equal(tu_grad_check("linear dinp", c.inp, dinp, 35, loss, &c,
				       EPS, ATOL, RTOL, 1000), 0);
	assert_int_equal(tu_grad_check("linear dw", c.w, dw, 30, loss, &c,
				       EPS, ATOL, RTOL, 1000), 0);
	assert_int_equal(tu_grad_check("linear db", c.b, db, 6, loss, &c,
				       EPS, ATOL, RTOL, 1000), 0);
	/* the check itself must catch a gradient that is off by 5% */
	dw[3] *= 1.05f;
	dw[3] += 0.01f;
	assert_int_equal(tu_grad_check("linear dw (planted error)", c.w, dw, 30,
				       loss, &c, EPS, ATOL, RTOL, 1000), 1);
	free(c.inp); free(c.w); free(c.b); free(c.out); free(c.r);
	free(dinp); free(dw); free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_forward_by_hand),
		cmocka_unit_test(test_linear_gradients),
	};

	return cmocka_run_group_tests_name("linear", tests, NULL, NULL);
}
