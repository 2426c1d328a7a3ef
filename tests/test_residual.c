/*
 * test_residual.c - the residual connection: value and gradients to both
 * branches against central finite differences.
 *
 * Gradient tolerance (eps = 1e-2, the layer is linear):
 * |analytic - numeric| <= 1e-4 + 1e-3 |numeric|.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "nn/residual.h"
#include "testutil.h"

enum { N = 20 };

struct ctx {
	float a[N], b[N], out[N], r[N];
};

static double loss(void *p)
{
	struct ctx *c = p;

	residual_forward(c->out, c->a, c->b, N);
	return tu_dot(c->out, c->r, N);
}

static void test_residual(void **state)
{
	struct ctx c;
	float da[N] = { 0 }, db[N] = { 0 };
	uint64_t seed = 29;

	(void)state;
	tu_fill(c.a, N, -1, 1, &seed);
	tu_fill(c.b, N, -1, 1, &seed);
	tu_fill(c.r, N, -1, 1, &seed);
	loss(&c);
	assert_float_equal(c.out[3], c.a[3] + c.b[3], 0);
	residual_backward(da, db, c.r, N);
	assert_int_equal(tu_grad_check("residual da", c.a, da, N, loss, &c,
				       1e-2f, 1e-4f, 1e-3f, N), 0);
	assert_int_equal(tu_grad_check("residual db", c.b, db, N, loss, &c,
				       1e-2f, 1e-4f, 1e-3f, N), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_residual),
	};

	return cmocka_run_group_tests_name("residual", tests, NULL, NULL);
}
