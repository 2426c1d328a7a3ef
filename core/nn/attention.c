/*
 * attention.c - masked multi-head self-attention, forward and backward.
 *
 * Each (sequence, head) pair is two small gemms forward and four backward;
 * the softmax runs row by row over the allowed keys only.
 */
#include "nn/attention.h"

#include <math.h>
#include <string.h>

#include "base/am.h"
#include "base/gemm.h"

void attention_forward(float *out, float *att, const float *qkv,
		       const unsigned char *mask, int B, int T, int C, int H)
{
	int hs = C / H, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	int b, h, t, s;

	AM_ASSERT(H >= 1 && C % H == 0);
	for (b = 0; b < B; b++) {
		const float *qkv_b = qkv + (long)b * T * C3;
		const unsigned char *m_b = mask ? mask + (long)b * T * T : NULL;

		for (h = 0; h < H; h++) {
			const float *q = qkv_b + h * hs;
			const float *k = qkv_b + C + h * hs;
			const float *v = qkv_b + 2 * C + h * hs;
			float *a = att + ((long)b * H + h) * T * T;

			/* a (T x T) = scale * q (T x hs) * k^T (hs x T) */
			gemm(false, true, T, T, hs, scale, q, C3, k, C3, 0.0f, a, T);
			for (t = 0; t < T; t++) {
				float *row = a + (long)t * T;
				const unsigned char *mr = m_b ? m_b + (long)t * T : NULL;
				float mx = -INFINITY;
				double sum = 0.0;

				for (s = 0; s < T; s++)
					if ((!mr || mr[s]) && row[s] > mx)
						mx = row[s];
				if (mx == -INFINITY) {
					/* no key allowed: zero weights */
					memset(row, 0, (size_t)T * sizeof *row);
					continue;
				}
				for (s = 0; s < T; s++) {
					float e = (!mr || mr[s]) ? expf(row[s] - mx) : 0.0f;

					row[s] = e;
					sum += e;
				}
				for (s = 0; s < T; s++)
					row[s] = (float)(row[s] / sum);
			}
			/* out_h (T x hs) = a (T x T) * v (T x hs) */
			gemm(false, false, T, hs, T, 1.0f, a, T, v, C3, 0.0f,
			     out + (long)b * T * C + h * hs, C);
		}
	}
}

void attention_backward(float *dqkv, float *scratch, const float *dout,
			const float *qkv, const float *att,
			int B, int T, int C, int H)
{
	int hs = C / H, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	int b, h, t, s;

	AM_ASSERT(H >= 1 && C % H == 0);
	for (b = 0; b < B; b++) {
		const float *qkv_b = qkv + (long)b * T * C3;
		float *dqkv_b = dqkv + (long)b * T * C3;

		for (h = 0; h < H; h++) {
			const float *q = qkv_b + h * hs;
			const float *k = qkv_b + C + h * hs;
			const float *v = qkv_b + 2 * C + h * hs;
			const float *a = att + ((long)b * H + h) * T * T;
			const float *dy = dout + (long)b * T * C + h * hs;
			float *da = scratch;

			/* dv (T x hs) += a^T (T x T) * dy (T x hs) */
			gemm(true, false, T, hs, T, 1.0f, a, T, dy, C, 1.0f,
			     dqkv_b + 2 * C + h * hs, C3);
			/* da (T x T) = dy (T x hs) * v^T (hs x T) */
			gemm(false, true, T, T, hs, 1.0f, dy, C, v, C3, 0.0f, da, T);
			/* softmax backward, in place:
			 *   dpre[t][s] = a[t][s] (da[t][s] - sum_s' a[t][s'] da[t][s']).
			 * Masked keys have a == 0 and so get no gradient. */
			for (t = 0; t < T; t++) {
				const float *ar = a + (long)t * T;
				float *dr = da + (long)t * T;
				double dot = 0.0;

				for (s = 0; s < T; s++)
					dot += (double)ar[s] * dr[s];
				for (s = 0; s < T; s++)
					dr[s] = ar[s] * (dr[s] - (float)dot);
			}
			/* dq (T x hs) += scale * dpre (T x T) * k (T x hs) */
			gemm(false, false, T, hs, T, scale, da, T, k, C3, 1.0f,
			     dqkv_b + h * hs, C3);
			/* dk (T x hs) += scale * dpre^T (T x T) * q (T x hs) */
			gemm(true, false, T, hs, T, scale, da, T, q, C3, 1.0f,
			     dqkv_b + C + h * hs, C3);
		}
	}
}

void attention_mask_padding(unsigned char *mask, const int *len, int B, int T)
{
	int b, t, s;

	for (b = 0; b < B; b++) {
		AM_ASSERT(len[b] >= 0 && len[b] <= T);
		for (t = 0; t < T; t++)
			for (s = 0; s < T; s++)
				mask[((long)b * T + t) * T + s] = s < len[b];
	}
}

void attention_mask_context(unsigned char *mask, const int *nctx,
			    const int *len, int B, int T)
{
	int b, t, s;

	for (b = 0; b < B; b++) {
		AM_ASSERT(nctx[b] >= 0 && nctx[b] <= len[b] && len[b] <= T);
		for (t = 0; t < T; t++)
			for (s = 0; s < T; s++)
				mask[((long)b * T + t) * T + s] = s < nctx[b] ||
					(s == t && t < len[b]);
	}
}
