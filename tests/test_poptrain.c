/*
 * test_poptrain.c - the pieces the population trainers share: the
 * learning-rate schedule warms up linearly, decays monotonically and ends
 * at lr_min; 64-bit integers round-trip exactly through checkpoint floats
 * and damaged pieces are refused; the batch-size ordering is stable; shard
 * gradients are summed in order.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "train/poptrain.h"

static void test_lr_warmup(void **state)
{
	long it;

	(void)state;
	/* lr (it + 1) / warmup: reaches the peak on the last warm-up step */
	for (it = 0; it < 4; it++)
		assert_true(poptrain_lr(1e-3f, 1e-5f, 4, 100, it) ==
			    1e-3f * (float)(it + 1) / 4.0f);
	assert_true(poptrain_lr(1e-3f, 1e-5f, 4, 100, 3) == 1e-3f);
	/* the first decay step is still the peak: cos(0) = 1 */
	assert_true(poptrain_lr(1e-3f, 1e-5f, 4, 100, 4) == 1e-3f);
}

static void test_lr_decay(void **state)
{
	float prev, cur;
	long it;

	(void)state;
	prev = poptrain_lr(2e-3f, 1e-5f, 10, 200, 10);
	for (it = 11; it <= 200; it++) {
		cur = poptrain_lr(2e-3f, 1e-5f, 10, 200, it);
		assert_true(cur <= prev);
		assert_true(cur >= 1e-5f);
		prev = cur;
	}
	/* frac = 1 at it = iters: exactly lr_min, and clamped after it */
	assert_true(poptrain_lr(2e-3f, 1e-5f, 10, 200, 200) == 1e-5f);
	assert_true(poptrain_lr(2e-3f, 1e-5f, 10, 200, 1000) == 1e-5f);
	/* halfway down the cosine: the midpoint */
	assert_float_equal(poptrain_lr(2e-3f, 0.0f, 0, 100, 50), 1e-3f, 1e-9f);
	/* no room to decay: the peak after the warm-up */
	assert_true(poptrain_lr(2e-3f, 1e-5f, 10, 10, 10) == 2e-3f);
	/* no warm-up: the first step is the peak */
	assert_true(poptrain_lr(2e-3f, 1e-5f, 0, 10, 0) == 2e-3f);
}

static void test_u64_roundtrip(void **state)
{
	const uint64_t vals[] = { 0, 1, 0xffff, 0x10000, 0x123456789abcdef0ull,
				  UINT64_MAX, 0x8000000000000000ull };
	float f[POPTRAIN_U64_FLOATS];
	uint64_t v;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		poptrain_put_u64(f, vals[i]);
		for (k = 0; k < POPTRAIN_U64_FLOATS; k++)
			assert_true(f[k] >= 0.0f && f[k] <= 65535.0f &&
				    f[k] == floorf(f[k]));
		v = 0;
		assert_int_equal(poptrain_get_u64(f, &v), 0);
		assert_true(v == vals[i]);
	}
	/* least significant piece first */
	poptrain_put_u64(f, 0x0004000300020001ull);
	assert_true(f[0] == 1.0f && f[1] == 2.0f && f[2] == 3.0f &&
		    f[3] == 4.0f);
}

static void test_u64_refuses(void **state)
{
	const float bad[] = { 0.5f, -1.0f, 65536.0f, 1e30f, -0.25f, NAN,
			      INFINITY, -INFINITY };
	float f[POPTRAIN_U64_FLOATS];
	uint64_t v;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		for (k = 0; k < POPTRAIN_U64_FLOATS; k++) {
			poptrain_put_u64(f, 0x0001000100010001ull);
			f[k] = bad[i];
			v = 42;
			assert_int_equal(poptrain_get_u64(f, &v), -1);
			assert_true(v == 42);	/* untouched on failure */
		}
}

struct item {
	double pad;
	int B;
	char tail;
};

static void test_order_stable(void **state)
{
	struct item a[9];
	const int B[9] = { 5, 2, 5, 1, 2, 9, 5, 1, 2 };
	const int want[9] = { 3, 7, 1, 4, 8, 0, 2, 6, 5 };
	int order[9], keys[4] = { 3, 3, 3, 3 }, i;

	(void)state;
	memset(a, 0, sizeof a);
	for (i = 0; i < 9; i++)
		a[i].B = B[i];
	poptrain_order_by(order, &a[0].B, sizeof a[0], 9);
	for (i = 0; i < 9; i++)
		assert_int_equal(order[i], want[i]);
	/* all keys equal: index order */
	poptrain_order_by(order, keys, sizeof keys[0], 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(order[i], i);
	/* descending keys reverse; one element and none are fine */
	keys[0] = 4, keys[1] = 3, keys[2] = 2, keys[3] = 1;
	poptrain_order_by(order, keys, sizeof keys[0], 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(order[i], 3 - i);
	poptrain_order_by(order, keys, sizeof keys[0], 1);
	assert_int_equal(order[0], 0);
	poptrain_order_by(order, keys, sizeof keys[0], 0);
}

static void test_sum_in_order(void **state)
{
	/* (1e8 + 1) - 1e8 = 0 in float: the order of the adds shows */
	const float a[2] = { 1e8f, 1.0f }, b[2] = { 1.0f, 2.0f },
		    c[2] = { -1e8f, 3.0f };
	const float *parts[3] = { a, b, c };
	float dp[2];

	(void)state;
	poptrain_sum(dp, parts, 3, 2);
	assert_true(dp[0] == (1e8f + 1.0f) + -1e8f);
	assert_true(dp[0] == 0.0f);
	assert_true(dp[1] == 6.0f);
	poptrain_sum(dp, parts, 1, 2);
	assert_true(dp[0] == 1e8f && dp[1] == 1.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lr_warmup),
		cmocka_unit_test(test_lr_decay),
		cmocka_unit_test(test_u64_roundtrip),
		cmocka_unit_test(test_u64_refuses),
		cmocka_unit_test(test_order_stable),
		cmocka_unit_test(test_sum_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
