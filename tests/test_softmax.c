/*
 * test_softmax.c - row-wise softmax: rows sum to one, stability for large
 * logits, gradient against central finite differences.
 *
 * Gradient tolerance (eps = 1e-2): |analytic - numeric| <= 1e-4 + 1e-2 |numeric|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "nn/softmax.h"
#include "testutil.h"

enum { N = 4, K = 7 };

struct ctx {
	float inp[N * K], out[N * K], r[N * K];
};

static double loss(void *p)
{
	struct ctx *c = p;

	softmax_forward(c->out, c->inp, N, K);
	return tu_dot(c->out, c->r, N * K);
}

static void test_softmax_rows_sum_to_one(void **state)
{
	float x[2 * 3] = { 1000.0f, 1001.0f, 999.0f, -1000.0f, 0.0f, 1.0f }, y[6];

	(void)state;
	softmax_forward(y, x, 2, 3);
	for (int i = 0; i < 6; i++)
		assert_true(isfinite(y[i]));
	assert_float_equal(y[0] + y[1] + y[2], 1.0f, 1e-6);
	assert_float_equal(y[3] + y[4] + y[5], 1.0f, 1e-6);
	assert_float_equal(y[1], 1.0f / (1.0f + expf(-1.0f) + expf(-2.0f)), 1e-6);
	assert_true(y[3] == 0.0f);
}

static void test_softmax_gradient(void **state)
{
	struct ctx c;
	float dinp[N * K] = { 0 };
	uint64_t seed = 9;

	(void)state;
	tu_fill(c.inp, N * K, -3, 3, &seed);
	tu_fill(c.r, N * K, -1, 1, &seed);
	loss(&c);
	softmax_backward(dinp, c.out, c.r, N, K);
	assert_int_equal(tu_grad_check("softmax", c.inp, dinp, N * K, loss, &c,
				       1e-2f, 1e-4f, 1e-2f, N * K), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_softmax_rows_sum_to_one),
		cmocka_unit_test(test_softmax_gradient),
	};

	return cmocka_run_group_tests_name("softmax", tests, NULL, NULL);
}
