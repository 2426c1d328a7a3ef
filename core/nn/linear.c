/*
 * linear.c - the fully connected layer on top of gemm.
 */
#include "nn/linear.h"

#include "base/gemm.h"

void linear_forward(float *out, const float *inp, const float *weight,
		    const float *bias, int N, int C, int OC)
{
	int n, o;

	if (bias) {
		for (n = 0; n < N; n++)
			for (o = 0; o < OC; o++)
				out[n * OC + o] = bias[o];
	}
	/* out (N x OC) = inp (N x C) * weight^T (C x OC) [+ out] */
	gemm(false, true, N, OC, C, 1.0f, inp, C, weight, C,
	     bias ? 1.0f : 0.0f, out, OC);
}

void linear_backward(float *dinp, float *dweight, float *dbias,
		     const float *dout, const float *inp, const float *weight,
		     int N, int C, int OC)
{
	int n, o;

	/* dinp (N x C) += dout (N x OC) * weight (OC x C) */
	if (dinp)
		gemm(false, false, N, C, OC, 1.0f, dout, OC, weight, C,
		     1.0f, dinp, C);
	/* dweight (OC x C) += dout^T (OC x N) * inp (N x C) */
	if (dweight)
		gemm(true, false, OC, C, N, 1.0f, dout, OC, inp, C,
		     1.0f, dweight, C);
	if (dbias) {
		for (n = 0; n < N; n++)
			for (o = 0; o < OC; o++)
				dbias[o] += dout[n * OC + o];
	}
}
