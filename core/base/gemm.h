/*
 * gemm.h - the one door to BLAS.
 *
 * C = alpha * op(A) * op(B) + beta * C, row-major float32, where op(X) is X
 * or X^T.  op(A) is M x K, op(B) is K x N, C is M x N; lda, ldb and ldc are
 * the row strides of A, B and C as stored.  gemm() calls cblas_sgemm;
 * gemm_ref() is a plain triple loop (double accumulation) that the tests use
 * as the reference.  This file pair is the only place in libamort that
 * includes cblas.h.  Both are thread-safe; gemm() uses however many threads
 * OpenBLAS has been told to use.
 */
#ifndef GEMM_H
#define GEMM_H

#include <stdbool.h>

void gemm(bool ta, bool tb, int M, int N, int K, float alpha,
	  const float *A, int lda, const float *B, int ldb,
	  float beta, float *C, int ldc);

void gemm_ref(bool ta, bool tb, int M, int N, int K, float alpha,
	      const float *A, int lda, const float *B, int ldb,
	      float beta, float *C, int ldc);

/* Tells OpenBLAS how many threads to use from now on (process-wide). */
void gemm_set_threads(int n);

/* The number of threads OpenBLAS uses now. */
int gemm_threads(void);

/* OpenBLAS's name for the CPU kernel it chose, for benchmark reports
 * (borrowed, static). */
const char *gemm_backend(void);

#endif
