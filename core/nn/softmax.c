/*
 * softmax.c - numerically stable row-wise softmax.
 */
#include "nn/softmax.h"

#include <math.h>

void softmax_forward(float *out, const float *inp, int N, int K)
{
	int n, k;

	for (n = 0; n < N; n++) {
		const float *x = inp + (long)n * K;
		float *y = out + (long)n * K;
		float mx = x[0];
		double sum = 0.0;

		for (k = 1; k < K; k++)
			if (x[k] > mx)
				mx = x[k];
		for (k = 0; k < K; k++) {
			y[k] = expf(x[k] - mx);
			sum += y[k];
		}
		for (k = 0; k < K; k++)
			y[k] = (float)(y[k] / sum);
	}
}

void softmax_backward(float *dinp, const float *out, const float *dout,
		      int N, int K)
{
	int n, k;

	for (n = 0; n < N; n++) {
		const float *y = out + (long)n * K;
		const float *dy = dout + (long)n * K;
		double dot = 0.0;

		for (k = 0; k < K; k++)
			dot += (double)y[k] * dy[k];
		for (k = 0; k < K; k++)
			dinp[(long)n * K + k] += y[k] * (dy[k] - (float)dot);
	}
}
