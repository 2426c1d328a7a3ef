/*
 * pool.h - masked mean pooling over tokens.
 *
 * Shapes: inp (B, T, C), mask (B, T) or NULL (all tokens count), out (B, C).
 * out[b] = sum_t mask[b][t] inp[b][t] / sum_t mask[b][t], and zero where a
 * sequence has no token.  Backward accumulates into dinp.  No allocation.
 */
#ifndef POOL_H
#define POOL_H

void pool_mean_forward(float *out, const float *inp, const unsigned char *mask,
		       int B, int T, int C);

void pool_mean_backward(float *dinp, const float *dout,
			const unsigned char *mask, int B, int T, int C);

#endif
