/*
 * layernorm.c - layer normalisation, forward and backward.
 */
#include "nn/layernorm.h"

#include <math.h>

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
		       const float *weight, const float *bias, int N, int C)
{
	int n, c;

	for (n = 0; n < N; n++) {
		const float *x = inp + (long)n * C;
		float *y = out + (long)n * C;
		double m = 0.0, v = 0.0;
		float s;

		for (c = 0; c < C; c++)
			m += x[c];
		m /= C;
		for (c = 0; c < C; c++)
			v += (x[c] - m) * (x[c] - m);
		v /= C;
		s = (float)(1.0 / sqrt(v + LAYERNORM_EPS));
		for (c = 0; c < C; c++)
			y[c] = ((float)(x[c] - m) * s) * weight[c] + bias[c];
		mean[n] = (float)m;
		rstd[n] = s;
	}
}

void layernorm_backward(float *dinp, float *dweight, float *dbias,
			const float *dout, const float *inp, const float *weight,
			const float *mean, const float *rstd, int N, int C)
{
	int n, c;

	for (n = 0; n < N; n++) {
		const float *x = inp + (long)n * C;
		const float *dy = dout + (long)n * C;
		float m = mean[n], s = rstd[n];
		double g_mean = 0.0, g_xhat = 0.0;

		/* With xhat = (x - m) s and g = dy * w:
		 *   dx = s * (g - mean(g) - xhat * mean(g * xhat)). */
		for (c = 0; c < C; c++) {
			float xhat = (x[c] - m) * s;
			float g = dy[c] * weight[c];

			g_mean += g;
			g_xhat += g * xhat;
			if (dbias)
				dbias[c] += dy[c];
			if (dweight)
				dweight[c] += dy[c] * xhat;
		}
		g_mean /= C;
		g_xhat /= C;
		if (!dinp)
			continue;
		for (c = 0; c < C; c++) {
			float xhat = (x[c] - m) * s;
			float g = dy[c] * weight[c];

			dinp[(long)n * C + c] += s * (g - (float)g_mean -
						      xhat * (float)g_xhat);
		}
	}
}
