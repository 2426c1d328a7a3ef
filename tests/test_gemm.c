/*
 * test_gemm.c - the cblas_sgemm wrapper against the naive reference, for
 * every transposition, odd sizes, padded strides, alpha and beta.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/gemm.h"
#include "testutil.h"

/* Runs one case with row strides padded by `pad` and compares C. */
static void check_case(bool ta, bool tb, int M, int N, int K, float alpha,
		       float beta, int pad, uint64_t *seed)
{
	int rowsA = ta ? K : M, colsA = ta ? M : K;
	int rowsB = tb ? N : K, colsB = tb ? K : N;
	int lda = colsA + pad, ldb = colsB + pad, ldc = N + pad;
	float *A = tu_alloc((size_t)rowsA * lda);
	float *B = tu_alloc((size_t)rowsB * ldb);
	float *C1 = tu_alloc((size_t)M * ldc);
	float *C2 = tu_alloc((size_t)M * ldc);
	int i, j;

	tu_fill(A, (size_t)rowsA * lda, -1, 1, seed);
	tu_fill(B, (size_t)rowsB * ldb, -1, 1, seed);
	tu_fill(C1, (size_t)M * ldc, -1, 1, seed);
	for (i = 0; i < M * ldc; i++)
		C2[i] = C1[i];
	gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
	gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
	for (i = 0; i < M; i++) {
		for (j = 0; j < ldc; j++) {
			float a = C1[i * ldc + j], r = C2[i * ldc + j];

			if (j >= N) {
				/* padding columns must be untouched */
				assert_true(a == r);
				continue;
			}
			/* float32 accumulation of K products of |x| <= 1 */
			if (fabsf(a - r) > 1e-5f * (float)(K + 1) * (1.0f + fabsf(r)))
				fail_msg("ta=%d tb=%d M=%d N=%d K=%d: C[%d][%d] %g vs %g",
					 ta, tb, M, N, K, i, j, a, r);
		}
	}
	free(A);
	free(B);
	free(C1);
	free(C2);
}

static void test_gemm_all_transpositions(void **state)
{
	static const int sizes[][3] = {
		{ 1, 1, 1 }, { 1, 7, 3 }, { 5, 1, 9 }, { 3, 5, 1 },
		{ 13, 17, 19 }, { 33, 64, 31 }, { 64, 33, 129 }, { 127, 3, 65 },
	};
	uint64_t seed = 42;
	size_t s;
	int t, pad;

	(void)state;
	for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
		for (t = 0; t < 4; t++)
			for (pad = 0; pad <= 3; pad += 3)
				check_case(t & 1, t & 2, sizes[s][0], sizes[s][1],
					   sizes[s][2], 1.0f, 0.0f, pad, &seed);
}

static void test_gemm_alpha_beta(void **state)
{
	uint64_t seed = 7;
	int t;

	(void)state;
	for (t = 0; t < 4; t++) {
		check_case(t & 1, t & 2, 9, 11, 5, 0.5f, 1.0f, 1, &seed);
		check_case(t & 1, t & 2, 9, 11, 5, -2.0f, 0.25f, 2, &seed);
	}
}

static void test_gemm_beta_zero_ignores_nan(void **state)
{
	/* BLAS semantics: with beta == 0, whatever C held (even NaN) is not
	 * read.  The layers rely on this for fresh output buffers. */
	float A[6] = { 1, 2, 3, 4, 5, 6 }, B[6] = { 1, 0, 0, 1, 1, 1 };
	float C[4] = { NAN, NAN, NAN, NAN };

	(void)state;
	gemm(false, false, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
	assert_float_equal(C[0], 4.0f, 1e-6f);
	assert_float_equal(C[1], 5.0f, 1e-6f);
	assert_float_equal(C[2], 10.0f, 1e-6f);
	assert_float_equal(C[3], 11.0f, 1e-6f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gemm_all_transpositions),
		cmocka_unit_test(test_gemm_alpha_beta),
		cmocka_unit_test(test_gemm_beta_zero_ignores_nan),
	};

	return cmocka_run_group_tests_name("gemm", tests, NULL, NULL);
}
