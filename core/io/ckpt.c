/*
 * ckpt.c - integers in the float tensors of a checkpoint (see ckpt.h).
 */
#include "io/ckpt.h"

#include <math.h>

void ckpt_put_u64(float *f, uint64_t v)
{
	int i;

	for (i = 0; i < CKPT_U64_FLOATS; i++)
		f[i] = (float)((v >> (16 * i)) & 0xffff);
}

int ckpt_get_u64(const float *f, uint64_t *v)
{
	uint64_t r = 0;
	int i;

	for (i = 0; i < CKPT_U64_FLOATS; i++) {
		/* written as !(in range) so that NaN is refused too */
		if (!(f[i] >= 0.0f && f[i] <= 65535.0f) || f[i] != floorf(f[i]))
			return -1;
		r |= (uint64_t)f[i] << (16 * i);
	}
	*v = r;
	return 0;
}
