/*
 * act.c - elementwise activations and their derivatives.
 */
#include "act.h"

#include <math.h>

/* sqrt(2 / pi) */
#define GELU_K 0.7978845608028654f

void act_gelu_forward(float *out, const float *inp, long n)
{
	long i;

	/* gelu(x) = x/2 (1 + tanh(k (x + 0.044715 x^3))) */
	for (i = 0; i < n; i++) {
		float x = inp[i];

		out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
	}
}

void act_gelu_backward(float *dinp, const float *inp, const float *dout, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		float x = inp[i];
		float u = GELU_K * (x + 0.044715f * x * x * x);
		float th = tanhf(u);
		float du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
		float d = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;

		dinp[i] += d * dout[i];
	}
}

void act_relu_forward(float *out, const float *inp, long n)
{
	long i;

	for (i = 0; i < n; i++)
		out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void act_relu_backward(float *dinp, const float *inp, const float *dout, long n)
{
	long i;

	for (i = 0; i < n; i++)
		if (inp[i] > 0.0f)
			dinp[i] += dout[i];
}

void act_tanh_forward(float *out, const float *inp, long n)
{
	long i;

	for (i = 0; i < n; i++)
		out[i] = tanhf(inp[i]);
}

void act_tanh_backward(float *dinp, const float *inp, const float *dout, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		float t = tanhf(inp[i]);

		dinp[i] += (1.0f - t * t) * dout[i];
	}
}
