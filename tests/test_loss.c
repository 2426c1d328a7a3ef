/*
 * test_loss.c - cross-entropy with a class mask, MSE and Gaussian NLL:
 * values by hand and gradients against central finite differences.
 *
 * Gradient tolerance (eps = 1e-2, double accumulation of the weighted sum
 * of per-row losses): |analytic - numeric| <= 1e-4 + 1e-2 |numeric|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nn/loss.h"
#include "testutil.h"

enum { N = 6, K = 5 };

struct ctx {
	float a[N * K], b[N * K], y[N * K];	/* logits|mean, -|logvar, target */
	float probs[N * K], losses[N], w[N];
	int targets[N];
	unsigned char cmask[N * K];
	int kind;				/* 0 xent, 1 mse, 2 gnll */
};

static double loss(void *p)
{
	struct ctx *c = p;

	if (c->kind == 0)
		loss_xent_forward(c->losses, c->probs, c->a, c->targets, c->cmask, N, K);
	else if (c->kind == 1)
		loss_mse_forward(c->losses, c->a, c->y, N, K);
	else
		loss_gnll_forward(c->losses, c->a, c->b, c->y, N, K);
	return tu_dot(c->losses, c->w, N);
}

static void setup(struct ctx *c, int kind)
{
	uint64_t seed = 17 + kind;
	int n, k;

	memset(c, 0, sizeof *c);
	c->kind = kind;
	tu_fill(c->a, N * K, -2, 2, &seed);
	tu_fill(c->b, N * K, -1, 1, &seed);
	tu_fill(c->y, N * K, -2, 2, &seed);
	tu_fill(c->w, N, 0.1f, 1, &seed);
	/* row n allows the first 2 + n % 4 classes */
	for (n = 0; n < N; n++) {
		int allowed = 2 + n % 4;

		for (k = 0; k < K; k++)
			c->cmask[n * K + k] = k < allowed;
		c->targets[n] = (n * 3) % allowed;
	}
}

static void test_loss_xent_values(void **state)
{
	float logits[3] = { 1.0f, 2.0f, 50.0f }, probs[3], l;
	unsigned char m[3] = { 1, 1, 0 };
	int y = 0;

	(void)state;
	/* class 2 is masked out: it must not take probability mass even
	 * with by far the largest logit */
	loss_xent_forward(&l, probs, logits, &y, m, 1, 3);
	assert_float_equal(probs[2], 0.0f, 0);
	assert_float_equal(probs[0] + probs[1], 1.0f, 1e-6);
	assert_float_equal(l, logf(1.0f + expf(1.0f)), 1e-6);
	/* a huge margin stays finite */
	logits[0] = -200.0f;
	loss_xent_forward(&l, probs, logits, &y, NULL, 1, 3);
	assert_true(isfinite(l));
	assert_float_equal(l, 250.0f, 1e-3);
}

static void test_loss_xent_gradient(void **state)
{
	struct ctx c;
	float d[N * K] = { 0 };
	int n, k;

	(void)state;
	setup(&c, 0);
	loss(&c);
	loss_xent_backward(d, c.w, c.probs, c.targets, N, K);
	for (n = 0; n < N; n++)
		for (k = 0; k < K; k++)
			if (!c.cmask[n * K + k])
				assert_true(d[n * K + k] == 0.0f);
	assert_int_equal(tu_grad_check("xent dlogits", c.a, d, N * K, loss, &c,
				       1e-2f, 1e-4f, 1e-2f, N * K), 0);
}

static void test_loss_mse(void **state)
{
	struct ctx c;
	float d[N * K] = { 0 }, l;
	float p[2] = { 1, 3 }, t[2] = { 0, 1 };

	(void)state;
	loss_mse_forward(&l, p, t, 1, 2);
	assert_float_equal(l, (1.0f + 4.0f) / 2.0f, 1e-6);
	setup(&c, 1);
	loss(&c);
	loss_mse_backward(d, c.w, c.a, c.y, N, K);
	assert_int_equal(tu_grad_check("mse dpred", c.a, d, N * K, loss, &c,
				       1e-2f, 1e-4f, 1e-2f, N * K), 0);
}

static void test_loss_gnll(void **state)
{
	struct ctx c;
	float dm[N * K] = { 0 }, dv[N * K] = { 0 }, l;
	float mu = 1.0f, lv = logf(4.0f), y = 3.0f;

	(void)state;
	loss_gnll_forward(&l, &mu, &lv, &y, 1, 1);
	assert_float_equal(l, 0.5f * (logf(2 * 3.14159265f) + logf(4.0f) + 1.0f), 1e-5);
	setup(&c, 2);
	loss(&c);
	loss_gnll_backward(dm, dv, c.w, c.a, c.b, c.y, N, K);
	assert_int_equal(tu_grad_check("gnll dmean", c.a, dm, N * K, loss, &c,
				       1e-2f, 1e-4f, 1e-2f, N * K), 0);
	assert_int_equal(tu_grad_check("gnll dlogvar", c.b, dv, N * K, loss, &c,
				       1e-2f, 1e-4f, 1e-2f, N * K), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loss_xent_values),
		cmocka_unit_test(test_loss_xent_gradient),
		cmocka_unit_test(test_loss_mse),
		cmocka_unit_test(test_loss_gnll),
	};

	return cmocka_run_group_tests_name("loss", tests, NULL, NULL);
}
