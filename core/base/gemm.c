/*
 * gemm.c - the cblas_sgemm wrapper and its naive reference.
 */
#include "base/gemm.h"

#include <cblas.h>

#include "base/am.h"

void gemm(bool ta, bool tb, int M, int N, int K, float alpha,
	  const float *A, int lda, const float *B, int ldb,
	  float beta, float *C, int ldc)
{
	AM_ASSERT(M >= 0 && N >= 0 && K >= 0);
	if (M == 0 || N == 0)
		return;
	/* C (M x N) = alpha * op(A) (M x K) * op(B) (K x N) + beta * C */
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
		    tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
		    A, lda, B, ldb, beta, C, ldc);
}

void gemm_ref(bool ta, bool tb, int M, int N, int K, float alpha,
	      const float *A, int lda, const float *B, int ldb,
	      float beta, float *C, int ldc)
{
	int i, j, k;

	for (i = 0; i < M; i++) {
		for (j = 0; j < N; j++) {
			double acc = 0.0;

			for (k = 0; k < K; k++) {
				double a = ta ? A[k * lda + i] : A[i * lda + k];
				double b = tb ? B[j * ldb + k] : B[k * ldb + j];

				acc += a * b;
			}
			/* BLAS semantics: beta == 0 ignores what C held. */
			C[i * ldc + j] = (float)(alpha * acc +
				(beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j]));
		}
	}
}

void gemm_set_threads(int n)
{
	AM_ASSERT(n >= 1);
	openblas_set_num_threads(n);
}

int gemm_threads(void)
{
	return openblas_get_num_threads();
}

const char *gemm_backend(void)
{
	return openblas_get_corename();
}
