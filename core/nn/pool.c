/*
 * pool.c - masked mean pooling.
 */
#include "nn/pool.h"

#include <string.h>

static int pool_count(const unsigned char *mask, int b, int T)
{
	int t, n = 0;

	if (!mask)
		return T;
	for (t = 0; t < T; t++)
		n += mask[(long)b * T + t] != 0;
	return n;
}

void pool_mean_forward(float *out, const float *inp, const unsigned char *mask,
		       int B, int T, int C)
{
	int b, t, c;

	for (b = 0; b < B; b++) {
		float *o = out + (long)b * C;
		int n = pool_count(mask, b, T);

		memset(o, 0, (size_t)C * sizeof *o);
		if (n == 0)
			continue;
		for (t = 0; t < T; t++) {
			const float *x = inp + ((long)b * T + t) * C;

			if (mask && !mask[(long)b * T + t])
				continue;
			for (c = 0; c < C; c++)
				o[c] += x[c];
		}
		for (c = 0; c < C; c++)
			o[c] /= (float)n;
	}
}

void pool_mean_backward(float *dinp, const float *dout,
			const unsigned char *mask, int B, int T, int C)
{
	int b, t, c;

	for (b = 0; b < B; b++) {
		int n = pool_count(mask, b, T);
		float w;

		if (n == 0)
			continue;
		w = 1.0f / (float)n;
		for (t = 0; t < T; t++) {
			float *dx = dinp + ((long)b * T + t) * C;

			if (mask && !mask[(long)b * T + t])
				continue;
			for (c = 0; c < C; c++)
				dx[c] += w * dout[(long)b * C + c];
		}
	}
}
