/*
 * test_attention.c - masked multi-head self-attention: forward against a
 * direct loop reference, mask semantics, gradients against central finite
 * differences.
 *
 * Gradient tolerance (eps = 1e-2 on qkv of order 1):
 * |analytic - numeric| <= 1e-3 + 1e-2 |numeric|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nn/attention.h"
#include "testutil.h"

enum { B = 2, T = 6, C = 8, H = 2 };

struct ctx {
	float qkv[B * T * 3 * C], out[B * T * C], att[B * H * T * T], r[B * T * C];
	unsigned char mask[B * T * T];
	const unsigned char *m;
};

static double loss(void *p)
{
	struct ctx *c = p;

	attention_forward(c->out, c->att, c->qkv, c->m, B, T, C, H);
	return tu_dot(c->out, c->r, B * T * C);
}

/* Direct evaluation of the definition, in double. */
static void reference(double *out, const float *qkv, const unsigned char *mask)
{
	int hs = C / H, b, h, t, s, i;

	for (b = 0; b < B; b++)
		for (h = 0; h < H; h++)
			for (t = 0; t < T; t++) {
				double w[T], mx = -INFINITY, sum = 0;
				const float *q = qkv + (b * T + t) * 3 * C + h * hs;

				for (s = 0; s < T; s++) {
					const float *k = qkv + (b * T + s) * 3 * C + C + h * hs;
					double d = 0;

					w[s] = -INFINITY;
					if (mask && !mask[(b * T + t) * T + s])
						continue;
					for (i = 0; i < hs; i++)
						d += (double)q[i] * k[i];
					w[s] = d / sqrt(hs);
					if (w[s] > mx)
						mx = w[s];
				}
				for (s = 0; s < T; s++) {
					w[s] = w[s] == -INFINITY ? 0 : exp(w[s] - mx);
					sum += w[s];
				}
				for (i = 0; i < hs; i++) {
					double acc = 0;

					for (s = 0; s < T; s++)
						if (sum > 0)
							acc += w[s] / sum * qkv[(b * T + s) * 3 * C + 2 * C + h * hs + i];
					out[(b * T + t) * C + h * hs + i] = acc;
				}
			}
}

static void check_forward(const unsigned char *mask)
{
	struct ctx c;
	double ref[B * T * C];
	uint64_t seed = 31;
	int i;

	tu_fill(c.qkv, B * T * 3 * C, -2, 2, &seed);
	attention_forward(c.out, c.att, c.qkv, mask, B, T, C, H);
	reference(ref, c.qkv, mask);
	for (i = 0; i < B * T * C; i++)
		assert_true(fabs(c.out[i] - ref[i]) < 1e-5);
}

static void test_attention_forward_matches_reference(void **state)
{
	unsigned char mask[B * T * T];
	int len[B] = { 4, 6 }, nctx[B] = { 3, 2 };

	(void)state;
	check_forward(NULL);
	attention_mask_padding(mask, len, B, T);
	check_forward(mask);
	attention_mask_context(mask, nctx, len, B, T);
	check_forward(mask);
}

static void test_attention_mask_semantics(void **state)
{
	struct ctx c;
	float before[B * T * C];
	int len[B] = { 3, 5 }, nctx[B] = { 2, 3 }, b, t, i;
	uint64_t seed = 37;

	(void)state;
	/* Padding: tokens at or past len[b] must not influence the outputs of
	 * the tokens before len[b]. */
	tu_fill(c.qkv, B * T * 3 * C, -1, 1, &seed);
	attention_mask_padding(c.mask, len, B, T);
	attention_forward(before, c.att, c.qkv, c.mask, B, T, C, H);
	for (b = 0; b < B; b++)
		for (t = len[b]; t < T; t++)
			for (i = 0; i < 3 * C; i++)
				c.qkv[(b * T + t) * 3 * C + i] = 50.0f;
	attention_forward(c.out, c.att, c.qkv, c.mask, B, T, C, H);
	for (b = 0; b < B; b++)
		assert_memory_equal(before + b * T * C, c.out + b * T * C,
				    (size_t)len[b] * C * sizeof(float));

	/* Context: a query sees the context and itself, never another query. */
	attention_mask_context(c.mask, nctx, len, B, T);
	attention_forward(before, c.att, c.qkv, c.mask, B, T, C, H);
	c.qkv[(1 * T + 4) * 3 * C + 2 * C] += 1.0f;	/* value of query 4 in b=1 */
	attention_forward(c.out, c.att, c.qkv, c.mask, B, T, C, H);
	for (t = 0; t < T; t++)
		for (i = 0; i < C; i++) {
			int changed = before[(T + t) * C + i] != c.out[(T + t) * C + i];

			assert_int_equal(changed, t == 4 && i == 0);
		}

	/* A query that may attend nothing gets zeros, not NaN. */
	memset(c.mask, 0, sizeof c.mask);
	attention_forward(c.out, c.att, c.qkv, c.mask, B, T, C, H);
	for (i = 0; i < B * T * C; i++)
		assert_true(c.out[i] == 0.0f);
}

static void check_gradient(const char *what, const unsigned char *mask)
{
	struct ctx c;
	float dqkv[B * T * 3 * C] = { 0 }, scratch[T * T];
	uint64_t seed = 41;

	if (mask)
		memcpy(c.mask, mask, sizeof c.mask);
	c.m = mask ? c.mask : NULL;
	tu_fill(c.qkv, B * T * 3 * C, -1, 1, &seed);
	tu_fill(c.r, B * T * C, -1, 1, &seed);
	loss(&c);
	attention_backward(dqkv, scratch, c.r, c.qkv, c.att, B, T, C, H);
	assert_int_equal(tu_grad_check(what, c.qkv, dqkv, B * T * 3 * C, loss, &c,
				       1e-2f, 1e-3f, 1e-2f, B * T * 3 * C), 0);
}

static void test_attention_gradients(void **state)
{
	unsigned char mask[B * T * T];
	int len[B] = { 4, 6 }, nctx[B] = { 3, 2 };

	(void)state;
	check_gradient("attention (no mask)", NULL);
	attention_mask_padding(mask, len, B, T);
	check_gradient("attention (padding)", mask);
	attention_mask_context(mask, nctx, len, B, T);
	check_gradient("attention (context)", mask);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attention_forward_matches_reference),
		cmocka_unit_test(test_attention_mask_semantics),
		cmocka_unit_test(test_attention_gradients),
	};

	return cmocka_run_group_tests_name("attention", tests, NULL, NULL);
}
