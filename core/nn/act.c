/*
 * act.c - elementwise activations and their derivatives.
 */
#include "nn/act.h"

#include <math.h>

/* sqrt(2 / pi) */
#define GELU_K 0.7978845608028654f

/*
 * tanh through one expf: (e - 1) / (e + 1) with e = exp(2u).  glibc's tanhf
 * goes through expm1f and took a third of a training run's time; this form
 * is several times faster and within 2e-7 of tanhf in absolute terms, which
 * is all GELU needs (its output multiplies tanh by x/2).  |u| is clamped at
 * 9, where tanh is 1 to float precision.
 */
static inline float fast_tanh(float u)
{
	float e;

	u = u > 9.0f ? 9.0f : (u < -9.0f ? -9.0f : u);
	e = expf(2.0f * u);
	return (e - 1.0f) / (e + 1.0f);
}

void act_gelu_forward(float *out, const float *inp, long n)
{
	long i;

	/* gelu(x) = x/2 (1 + tanh(k (x + 0.044715 x^3))) */
	for (i = 0; i < n; i++) {
		float x = inp[i];

		out[i] = 0.5f * x * (1.0f + fast_tanh(GELU_K * (x + 0.044715f * x * x * x)));
	}
}

void act_gelu_backward(float *dinp, const float *inp, const float *dout, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		float x = inp[i];
		float u = GELU_K * (x + 0.044715f * x * x * x);
		float th = fast_tanh(u);
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

float act_softplus(float x)
{
	return x > 20.0f ? x : log1pf(expf(x));
}

float act_sigmoid(float x)
{
	return 1.0f / (1.0f + expf(-x));
}
