/*
 * attention.h - multi-head scaled dot-product self-attention with a mask.
 *
 * Shapes (row-major): qkv (B, T, 3C) holds each token's query, key and value
 * side by side (the output of a linear layer C -> 3C); head h uses channels
 * [h*hs, (h+1)*hs) of each, hs = C / H.  att (B, H, T, T) saves the
 * attention weights for the backward pass.  out (B, T, C) is the heads'
 * outputs concatenated.
 *
 * mask (B, T, T) or NULL: mask[b][t][s] != 0 lets query t attend key s.  A
 * query that may attend no key gets zero weights and a zero output (never a
 * NaN).  NULL means every query sees every key.
 *
 * Forward overwrites out and att; backward accumulates into dqkv and uses
 * scratch (T * T floats) as workspace.  Neither allocates.
 */
#ifndef ATTENTION_H
#define ATTENTION_H

void attention_forward(float *out, float *att, const float *qkv,
		       const unsigned char *mask, int B, int T, int C, int H);

void attention_backward(float *dqkv, float *scratch, const float *dout,
			const float *qkv, const float *att,
			int B, int T, int C, int H);

/* Writes a padding mask: in sequence b, every token attends the first
 * len[b] tokens and nothing else (len[b] in 0..T). */
void attention_mask_padding(unsigned char *mask, const int *len, int B, int T);

/* Writes a context mask for sequences that hold nctx[b] context tokens then
 * query tokens, len[b] tokens in all: context tokens attend the context;
 * a query token attends the context and itself, never other queries; tokens
 * at or past len[b] attend the context only. */
void attention_mask_context(unsigned char *mask, const int *nctx,
			    const int *len, int B, int T);

#endif
