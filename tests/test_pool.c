/*
 * test_pool.c - masked mean pooling: values by hand, an empty sequence, and
 * the gradient against central finite differences.
 *
 * Gradient tolerance (eps = 1e-2, the layer is linear):
 * |analytic - numeric| <= 1e-4 + 1e-3 |numeric|.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "nn/pool.h"
#include "testutil.h"

enum { B = 3, T = 5, C = 4 };

struct ctx {
	float inp[B * T * C], out[B * C], r[B * C];
	unsigned char mask[B * T];
};

static double loss(void *p)
{
	struct ctx *c = p;

	pool_mean_forward(c->out, c->inp, c->mask, B, T, C);
	return tu_dot(c->out, c->r, B * C);
}

static void test_pool_values(void **state)
{
	float inp[1 * 3 * 2] = { 1, 2, 3, 4, 100, 100 }, out[2];
	unsigned char mask[3] = { 1, 1, 0 }, none[3] = { 0, 0, 0 };

	(void)state;
	pool_mean_forward(out, inp, mask, 1, 3, 2);
	assert_float_equal(out[0], 2.0f, 1e-6);
	assert_float_equal(out[1], 3.0f, 1e-6);
	pool_mean_forward(out, inp, NULL, 1, 3, 2);
	assert_float_equal(out[0], 104.0f / 3, 1e-4);
	pool_mean_forward(out, inp, none, 1, 3, 2);
	assert_float_equal(out[0], 0.0f, 0);
	assert_float_equal(out[1], 0.0f, 0);
}

static void test_pool_gradient(void **state)
{
	struct ctx c;
	float dinp[B * T * C] = { 0 };
	uint64_t seed = 23;
	int b, t;

	(void)state;
	for (b = 0; b < B; b++)
		for (t = 0; t < T; t++)
			c.mask[b * T + t] = t <= b + 1;
	tu_fill(c.inp, B * T * C, -1, 1, &seed);
	tu_fill(c.r, B * C, -1, 1, &seed);
	loss(&c);
	pool_mean_backward(dinp, c.r, c.mask, B, T, C);
	assert_int_equal(tu_grad_check("pool", c.inp, dinp, B * T * C, loss, &c,
				       1e-2f, 1e-4f, 1e-3f, B * T * C), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_values),
		cmocka_unit_test(test_pool_gradient),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
