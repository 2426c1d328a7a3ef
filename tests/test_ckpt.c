/*
 * test_ckpt.c - 64-bit integers round-trip exactly through checkpoint
 * floats and damaged pieces are refused.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "io/ckpt.h"

static void test_u64_roundtrip(void **state)
{
	const uint64_t vals[] = { 0, 1, 0xffff, 0x10000, 0x123456789abcdef0ull,
				  UINT64_MAX, 0x8000000000000000ull };
	float f[CKPT_U64_FLOATS];
	uint64_t v;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		ckpt_put_u64(f, vals[i]);
		for (k = 0; k < CKPT_U64_FLOATS; k++)
			assert_true(f[k] >= 0.0f && f[k] <= 65535.0f &&
				    f[k] == floorf(f[k]));
		v = 0;
		assert_int_equal(ckpt_get_u64(f, &v), 0);
		assert_true(v == vals[i]);
	}
	/* least significant piece first */
	ckpt_put_u64(f, 0x0004000300020001ull);
	assert_true(f[0] == 1.0f && f[1] == 2.0f && f[2] == 3.0f &&
		    f[3] == 4.0f);
}

static void test_u64_refuses(void **state)
{
	const float bad[] = { 0.5f, -1.0f, 65536.0f, 1e30f, -0.25f, NAN,
			      INFINITY, -INFINITY };
	float f[CKPT_U64_FLOATS];
	uint64_t v;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		for (k = 0; k < CKPT_U64_FLOATS; k++) {
			ckpt_put_u64(f, 0x0001000100010001ull);
			f[k] = bad[i];
			v = 42;
			assert_int_equal(ckpt_get_u64(f, &v), -1);
			assert_true(v == 42);	/* untouched on failure */
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_roundtrip),
		cmocka_unit_test(test_u64_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
