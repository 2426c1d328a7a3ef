/*
 * test_tfm.c - the pre-LN transformer stack: end-to-end gradient check
 * against central finite differences for the input and every parameter
 * tensor, determinism, padding invariance and permutation equivariance.
 *
 * Gradient tolerance (two layers composed, eps = 1e-2 on inputs and
 * parameters of order 0.1-1): |analytic - numeric| <= 2e-3 + 2e-2 |numeric|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nn/attention.h"
#include "base/layout.h"
#include "base/rng.h"
#include "testutil.h"
#include "nn/tfm.h"

enum { B = 2, T = 5, C = 8, H = 2, L = 2 };

struct ctx {
	struct tfm t;
	struct layout lay;
	float *p, *dp, *acts, *dacts;
	float inp[B * T * C], dinp[B * T * C], r[B * T * C];
	unsigned char mask[B * T * T];
};

static void ctx_init(struct ctx *c, uint64_t seed)
{
	struct rng r;
	size_t n;

	memset(c, 0, sizeof *c);
	layout_init(&c->lay);
	assert_int_equal(tfm_init(&c->t, &c->lay, "tf", C, H, L), 0);
	n = tfm_plan(&c->t, B, T);
	c->p = tu_alloc(c->lay.total);
	c->dp = tu_alloc(c->lay.total);
	c->acts = tu_alloc(n);
	c->dacts = tu_alloc(n);
	rng_seed(&r, seed);
	tfm_init_params(&c->t, c->p, &r);
	rng_fill_normal(&r, c->inp, B * T * C, 0.0f, 1.0f);
}

static void ctx_free(struct ctx *c)
{
	free(c->p);
	free(c->dp);
	free(c->acts);
	free(c->dacts);
	layout_free(&c->lay);
}

static double loss(void *p)
{
	struct ctx *c = p;

	tfm_forward(&c->t, c->p, c->acts, c->inp, c->mask, B, T);
	return tu_dot(tfm_output(&c->t, c->acts), c->r, B * T * C);
}

static void test_tfm_gradients_end_to_end(void **state)
{
	struct ctx c;
	uint64_t seed = 43;
	int len[B] = { 3, 5 }, i, fails = 0;
	struct rng r;

	(void)state;
	ctx_init(&c, 1);
	attention_mask_padding(c.mask, len, B, T);
	tu_fill(c.r, B * T * C, -1, 1, &seed);
	/* Perturb the freshly initialised gains and biases so their
	 * gradients are not checked only at the trivial point 1 / 0. */
	rng_seed(&r, 2);
	for (i = 0; i < c.lay.n; i++) {
		const struct layout_view *v = &c.lay.views[i];

		if (v->ndim == 1)
			for (size_t j = 0; j < v->size; j++)
				c.p[v->offset + j] += 0.2f * (float)rng_normal(&r);
	}
	loss(&c);
	tfm_backward(&c.t, c.dinp, c.dp, c.r, c.p, c.acts, c.dacts, c.inp, B, T);
	fails += tu_grad_check("tfm dinp", c.inp, c.dinp, B * T * C, loss, &c,
			       1e-2f, 2e-3f, 2e-2f, 200);
	for (i = 0; i < c.lay.n; i++) {
		const struct layout_view *v = &c.lay.views[i];

		fails += tu_grad_check(v->name, c.p + v->offset, c.dp + v->offset,
				       v->size, loss, &c, 1e-2f, 2e-3f, 2e-2f, 64);
	}
	assert_int_equal(fails, 0);
	ctx_free(&c);
}

static void test_tfm_deterministic(void **state)
{
	struct ctx a, b;

	(void)state;
	ctx_init(&a, 77);
	ctx_init(&b, 77);
	assert_memory_equal(a.p, b.p, a.lay.total * sizeof(float));
	tfm_forward(&a.t, a.p, a.acts, a.inp, NULL, B, T);
	tfm_forward(&b.t, b.p, b.acts, b.inp, NULL, B, T);
	assert_memory_equal(tfm_output(&a.t, a.acts), tfm_output(&b.t, b.acts),
			    B * T * C * sizeof(float));
	tfm_backward(&a.t, a.dinp, a.dp, a.inp, a.p, a.acts, a.dacts, a.inp, B, T);
	tfm_backward(&b.t, b.dinp, b.dp, b.inp, b.p, b.acts, b.dacts, b.inp, B, T);
	assert_memory_equal(a.dp, b.dp, a.lay.total * sizeof(float));
	ctx_free(&a);
	ctx_free(&b);
	/* a different seed gives different parameters */
	ctx_init(&a, 77);
	ctx_init(&b, 78);
	assert_true(memcmp(a.p, b.p, a.lay.total * sizeof(float)) != 0);
	ctx_free(&a);
	ctx_free(&b);
}

static void test_tfm_permutation_equivariant(void **state)
{
	/* No positional encoding: permuting the tokens of a sequence permutes
	 * the outputs the same way.  This is what makes the stack a set
	 * model over mini-batch rows. */
	struct ctx c;
	float out1[B * T * C], inp2[B * T * C];
	int perm[T] = { 3, 0, 4, 1, 2 }, b, t, i;

	(void)state;
	ctx_init(&c, 5);
	tfm_forward(&c.t, c.p, c.acts, c.inp, NULL, B, T);
	memcpy(out1, tfm_output(&c.t, c.acts), sizeof out1);
	for (b = 0; b < B; b++)
		for (t = 0; t < T; t++)
			memcpy(inp2 + (b * T + t) * C, c.inp + (b * T + perm[t]) * C,
			       C * sizeof(float));
	memcpy(c.inp, inp2, sizeof inp2);
	tfm_forward(&c.t, c.p, c.acts, c.inp, NULL, B, T);
	for (b = 0; b < B; b++)
		for (t = 0; t < T; t++)
			for (i = 0; i < C; i++)
				assert_true(fabsf(tfm_output(&c.t, c.acts)[(b * T + t) * C + i] -
						  out1[(b * T + perm[t]) * C + i]) < 1e-5f);
	ctx_free(&c);
}

static void test_tfm_smaller_batch_than_planned(void **state)
{
	/* Forward on fewer sequences and tokens than planned gives the same
	 * answer for those sequences as a stack planned for exactly them. */
	struct ctx c;
	float out[1 * 3 * C], inp1[3 * C];
	int t;

	(void)state;
	ctx_init(&c, 9);
	for (t = 0; t < 3; t++)
		memcpy(inp1 + t * C, c.inp + t * C, C * sizeof(float));
	tfm_forward(&c.t, c.p, c.acts, inp1, NULL, 1, 3);
	memcpy(out, tfm_output(&c.t, c.acts), sizeof out);
	tfm_plan(&c.t, 1, 3);
	tfm_forward(&c.t, c.p, c.acts, inp1, NULL, 1, 3);
	assert_memory_equal(out, tfm_output(&c.t, c.acts), sizeof out);
	ctx_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tfm_gradients_end_to_end),
		cmocka_unit_test(test_tfm_deterministic),
		cmocka_unit_test(test_tfm_permutation_equivariant),
		cmocka_unit_test(test_tfm_smaller_batch_than_planned),
	};

	return cmocka_run_group_tests_name("tfm", tests, NULL, NULL);
}
