/*
 * residual.c - the residual connection.
 */
#include "nn/residual.h"

void residual_forward(float *out, const float *a, const float *b, long n)
{
	long i;

	for (i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		if (da)
			da[i] += dout[i];
		if (db)
			db[i] += dout[i];
	}
}
