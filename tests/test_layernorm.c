/*
 * test_layernorm.c - layer norm: normalised statistics of the output and
 * gradients against central finite differences.
 *
 * Gradient tolerance (eps = 1e-2): |analytic - numeric| <= 1e-3 + 1e-2 |numeric|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "nn/layernorm.h"
#include "testutil.h"

struct ctx {
	int N, C;
	float *inp, *w, *b, *out, *mean, *rstd, *r;
};

static double loss(void *p)
{
	struct ctx *c = p;

	layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
	return tu_dot(c->out, c->r, (size_t)c->N * c->C);
}

static void test_layernorm_statistics(void **state)
{
	enum { N = 3, C = 16 };
	float inp[N * C], w[C], b[C], out[N * C], mean[N], rstd[N];
	uint64_t seed = 3;
	int n, c;

	(void)state;
	tu_fill(inp, N * C, -5, 9, &seed);
	for (c = 0; c < C; c++) {
		w[c] = 1.0f;
		b[c] = 0.0f;
	}
	layernorm_forward(out, mean, rstd, inp, w, b, N, C);
	for (n = 0; n < N; n++) {
		double m = 0, v = 0;

		for (c = 0; c < C; c++)
			m += out[n * C + c];
		m /= C;
		for (c = 0; c < C; c++)
			v += (out[n * C + c] - m) * (out[n * C + c] - m);
		v /= C;
		assert_true(fabs(m) < 1e-5);
		assert_true(fabs(v - 1.0) < 1e-3);
	}
}

static void test_layernorm_gradients(void **state)
{
	struct ctx c = { .N = 5, .C = 12 };
	size_t NC = 60;
	uint64_t seed = 11;
	float *dinp = tu_alloc(NC), *dw = tu_alloc(12), *db = tu_alloc(12);

	(void)state;
	c.inp = tu_alloc(NC); c.out = tu_alloc(NC); c.r = tu_alloc(NC);
	c.w = tu_alloc(12); c.b = tu_alloc(12);
	c.mean = tu_alloc(5); c.rstd = tu_alloc(5);
	tu_fill(c.inp, NC, -2, 2, &seed);
	tu_fill(c.w, 12, 0.5f, 1.5f, &seed);
	tu_fill(c.b, 12, -1, 1, &seed);
	tu_fill(c.r, NC, -1, 1, &seed);
	loss(&c);
	layernorm_backward(dinp, dw, db, c.r, c.inp, c.w, c.mean, c.rstd, c.N, c.C);
	assert_int_equal(tu_grad_check("layernorm dinp", c.inp, dinp, NC, loss, &c,
				       1e-2f, 1e-3f, 1e-2f, 1000), 0);
	assert_int_equal(tu_grad_check("layernorm dw", c.w, dw, 12, loss, &c,
				       1e-2f, 1e-3f, 1e-2f, 1000), 0);
	assert_int_equal(tu_grad_check("layernorm db", c.b, db, 12, loss, &c,
				       1e-2f, 1e-3f, 1e-2f, 1000), 0);
	free(c.inp); free(c.out); free(c.r); free(c.w); free(c.b);
	free(c.mean); free(c.rstd); free(dinp); free(dw); free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layernorm_statistics),
		cmocka_unit_test(test_layernorm_gradients),
	};

	return cmocka_run_group_tests_name("layernorm", tests, NULL, NULL);
}
