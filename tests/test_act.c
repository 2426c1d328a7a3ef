/*
 * test_act.c - GELU, ReLU and tanh: values at known points and gradients
 * against central finite differences.
 *
 * Gradient tolerance (eps = 1e-3, inputs kept 0.05 away from ReLU's kink):
 * |analytic - numeric| <= 1e-3 + 1e-2 |numeric|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "nn/act.h"
#include "testutil.h"

enum { N = 64 };

typedef void (*fwd_fn)(float *, const float *, long);
typedef void (*bwd_fn)(float *, const float *, const float *, long);

struct ctx {
	fwd_fn fwd;
	float inp[N], out[N], r[N];
};

static double loss(void *p)
{
	struct ctx *c = p;

	c->fwd(c->out, c->inp, N);
	return tu_dot(c->out, c->r, N);
}

static void check(const char *what, fwd_fn f, bwd_fn b)
{
	struct ctx c = { .fwd = f };
	float dinp[N] = { 0 };
	uint64_t seed = 5;
	int i;

	tu_fill(c.inp, N, -3, 3, &seed);
	for (i = 0; i < N; i++)
		if (fabsf(c.inp[i]) < 0.05f)
			c.inp[i] = 0.5f;
	tu_fill(c.r, N, -1, 1, &seed);
	loss(&c);
	b(dinp, c.inp, c.r, N);
	assert_int_equal(tu_grad_check(what, c.inp, dinp, N, loss, &c,
				       1e-3f, 1e-3f, 1e-2f, N), 0);
}

static void test_act_values(void **state)
{
	float x[4] = { -2.0f, 0.0f, 1.0f, 3.0f }, y[4];

	(void)state;
	act_gelu_forward(y, x, 4);
	/* tanh-form GELU reference values */
	assert_float_equal(y[0], -0.04540231f, 1e-5);
	assert_float_equal(y[1], 0.0f, 1e-7);
	assert_float_equal(y[2], 0.84119199f, 1e-5);
	assert_float_equal(y[3], 2.99636261f, 1e-5);
	act_relu_forward(y, x, 4);
	assert_float_equal(y[0], 0.0f, 0);
	assert_float_equal(y[3], 3.0f, 0);
	act_tanh_forward(y, x, 4);
	assert_float_equal(y[2], tanhf(1.0f), 1e-7);
}

static void test_act_gelu_gradient(void **state)
{
	(void)state;
	check("gelu", act_gelu_forward, act_gelu_backward);
}

static void test_act_relu_gradient(void **state)
{
	(void)state;
	check("relu", act_relu_forward, act_relu_backward);
}

static void test_act_tanh_gradient(void **state)
{
	(void)state;
	check("tanh", act_tanh_forward, act_tanh_backward);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_act_values),
		cmocka_unit_test(test_act_gelu_gradient),
		cmocka_unit_test(test_act_relu_gradient),
		cmocka_unit_test(test_act_tanh_gradient),
	};

	return cmocka_run_group_tests_name("act", tests, NULL, NULL);
}
