/*
 * test_adam.c - AdamW: the bias-corrected first step, gradient clipping,
 * decoupled weight decay with its mask, and convergence on a badly scaled
 * quadratic.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/adam.h"

static void test_adam_first_step_is_lr_times_sign(void **state)
{
	/* After one step mhat = g and vhat = g^2, so each parameter moves by
	 * lr * g / (|g| + eps), i.e. lr in the direction of -g. */
	struct adam a;
	float p[3] = { 1, 1, 1 }, g[3] = { 0.001f, -5.0f, 300.0f };

	(void)state;
	assert_int_equal(adam_init(&a, 3), 0);
	a.lr = 0.1f;
	adam_step(&a, p, g, NULL);
	assert_float_equal(p[0], 0.9f, 1e-4);
	assert_float_equal(p[1], 1.1f, 1e-6);
	assert_float_equal(p[2], 0.9f, 1e-6);
	adam_free(&a);
	adam_free(&a);	/* idempotent */
	adam_free(NULL);
}

static void test_adam_clipping(void **state)
{
	struct adam a;
	float p[2] = { 0, 0 }, g[2] = { 3, 4 };
	double norm;

	(void)state;
	assert_int_equal(adam_init(&a, 2), 0);
	a.clip = 1.0f;
	norm = adam_step(&a, p, g, NULL);
	assert_float_equal(norm, 5.0, 1e-6);
	/* the clipped gradient is left in g */
	assert_float_equal(g[0], 0.6f, 1e-6);
	assert_float_equal(g[1], 0.8f, 1e-6);
	assert_float_equal(adam_grad_norm(g, 2), 1.0, 1e-6);
	adam_free(&a);
}

static void test_adam_weight_decay_mask(void **state)
{
	struct adam a;
	float p[2] = { 2, 2 }, g[2] = { 0, 0 };
	unsigned char decay[2] = { 1, 0 };

	(void)state;
	assert_int_equal(adam_init(&a, 2), 0);
	a.lr = 0.1f;
	a.weight_decay = 0.5f;
	adam_step(&a, p, g, decay);
	assert_float_equal(p[0], 2.0f - 0.1f * 0.5f * 2.0f, 1e-6);
	assert_float_equal(p[1], 2.0f, 0);
	adam_free(&a);
}

static void test_adam_converges(void **state)
{
	/* f(p) = sum_i s_i (p_i - i)^2 with scales over four decades. */
	static const float s[4] = { 0.01f, 1.0f, 10.0f, 100.0f };
	struct adam a;
	float p[4] = { 0 }, g[4];
	int it, i;

	(void)state;
	assert_int_equal(adam_init(&a, 4), 0);
	a.lr = 0.05f;
	for (it = 0; it < 3000; it++) {
		for (i = 0; i < 4; i++)
			g[i] = 2.0f * s[i] * (p[i] - (float)i);
		adam_step(&a, p, g, NULL);
	}
	for (i = 0; i < 4; i++)
		assert_float_equal(p[i], (float)i, 2e-2);
	assert_int_equal(a.t, 3000);
	adam_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adam_first_step_is_lr_times_sign),
		cmocka_unit_test(test_adam_clipping),
		cmocka_unit_test(test_adam_weight_decay_mask),
		cmocka_unit_test(test_adam_converges),
	};

	return cmocka_run_group_tests_name("adam", tests, NULL, NULL);
}
