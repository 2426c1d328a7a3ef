/*
 * poptrain.c - pieces the population trainers share (see poptrain.h).
 */
#include "train/poptrain.h"

#include <math.h>
#include <string.h>

float poptrain_lr(float lr, float lr_min, int warmup, long iters, long it)
{
	double frac;

	if (it < warmup)
		return lr * (float)(it + 1) / (float)warmup;
	if (iters <= warmup)
		return lr;
	frac = (double)(it - warmup) / (double)(iters - warmup);
	if (frac > 1.0)
		frac = 1.0;
	return lr_min + 0.5f * (lr - lr_min) *
	       (float)(1.0 + cos(3.141592653589793 * frac));
}

void poptrain_put_u64(float *f, uint64_t v)
{
	int i;

	for (i = 0; i < POPTRAIN_U64_FLOATS; i++)
		f[i] = (float)((v >> (16 * i)) & 0xffff);
}

int poptrain_get_u64(const float *f, uint64_t *v)
{
	uint64_t r = 0;
	int i;

	for (i = 0; i < POPTRAIN_U64_FLOATS; i++) {
		/* written as !(in range) so that NaN is refused too */
		if (!(f[i] >= 0.0f && f[i] <= 65535.0f) || f[i] != floorf(f[i]))
			return -1;
		r |= (uint64_t)f[i] << (16 * i);
	}
	*v = r;
	return 0;
}

/* The int key of index i, stride bytes apart. */
static int key_at(const int *key, size_t stride, int i)
{
	return *(const int *)(const void *)((const char *)key +
					    (size_t)i * stride);
}

void poptrain_order_by(int *order, const int *key, size_t stride, int n)
{
	int i, j;

	for (i = 0; i < n; i++)
		order[i] = i;
	/* insertion sort, stable: moves only past strictly greater keys */
	for (i = 1; i < n; i++) {
		int v = order[i], kv = key_at(key, stride, v);

		for (j = i; j > 0; j--) {
			if (key_at(key, stride, order[j - 1]) <= kv)
				break;
			order[j] = order[j - 1];
		}
		order[j] = v;
	}
}

void poptrain_sum(float *dp, const float *const *parts, int nparts, size_t n)
{
	size_t j;
	int s;

	memcpy(dp, parts[0], n * sizeof *dp);
	for (s = 1; s < nparts; s++)
		for (j = 0; j < n; j++)
			dp[j] += parts[s][j];
}
