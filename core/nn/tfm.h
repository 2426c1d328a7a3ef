/*
 * tfm.h - a stack of pre-LayerNorm transformer blocks.
 *
 * One block, on x (B, T, C):
 *     x1 = x  + proj(attention(qkv(ln1(x)), mask))
 *     x2 = x1 + fc2(gelu(fc(ln2(x1))))          (fc: C -> 4C -> C)
 * and the stack ends with a final layer norm: out = lnf(x_L).
 *
 * A struct tfm owns no floats.  tfm_init registers the stack's parameters
 * as named views in the caller's parameter layout (so the whole model keeps
 * one parameter block and one gradient block of that layout) and records
 * their offsets; tfm_plan lays out the activations for at most maxB
 * sequences of maxT tokens and returns how many floats they need (the same
 * size serves the activation gradients).  Forward and backward then run on
 * the caller's blocks and never allocate.  Read-only once planned: several
 * threads may run it at once on distinct activation blocks.
 */
#ifndef TFM_H
#define TFM_H

#include <stddef.h>

#include "base/layout.h"
#include "base/rng.h"

#define TFM_LAYERS_MAX 16

struct tfm_layer_params {
	size_t ln1w, ln1b, qkvw, qkvb, projw, projb;
	size_t ln2w, ln2b, fcw, fcb, fc2w, fc2b;
};

struct tfm_layer_acts {
	size_t ln1, ln1_mean, ln1_rstd, qkv, att, atty, res1;
	size_t ln2, ln2_mean, ln2_rstd, fch, fch_gelu, res2;
};

struct tfm {
	int C, H, L;
	struct tfm_layer_params p[TFM_LAYERS_MAX];
	size_t lnfw, lnfb;
	/* set by tfm_plan */
	int maxB, maxT;
	struct tfm_layer_acts a[TFM_LAYERS_MAX];
	size_t lnf, lnf_mean, lnf_rstd, scratch;
	size_t act_size;
};

/*
 * Registers the parameters of an L-layer stack of width C with H heads
 * under names "<prefix>.<layer>.<tensor>" in params.  C % H == 0,
 * 1 <= L <= TFM_LAYERS_MAX.  Returns AM_OK, AM_EINVAL or AM_ENOMEM.
 */
int tfm_init(struct tfm *t, struct layout *params, const char *prefix,
	     int C, int H, int L);

/* Lays out activations for B <= maxB sequences of T <= maxT tokens and
 * returns the number of floats the activation block needs. */
size_t tfm_plan(struct tfm *t, int maxB, int maxT);

/* Initialises the stack's parameters inside the block p: layer-norm gains
 * 1, biases 0, weights N(0, 1/fan_in), and the two projections that write
 * into the residual stream scaled down by 1/sqrt(2L). */
void tfm_init_params(const struct tfm *t, float *p, struct rng *r);

/*
 * Runs the stack on inp (B, T, C) with an attention mask (B, T, T) or NULL
 * (see attention.h).  B <= maxB, T <= maxT.  The output (B, T, C) is left in
 * the activation block; tfm_output returns it.
 */
void tfm_forward(const struct tfm *t, const float *p, float *acts,
		 const float *inp, const unsigned char *mask, int B, int T);

/* The output of the last forward pass, inside acts (borrowed). */
float *tfm_output(const struct tfm *t, float *acts);

/*
 * Backpropagates dout (B, T, C) through the stack of the last forward pass
 * on the same acts, inp and mask: accumulates into dp (the gradient block,
 * same layout as p) and, unless NULL, into dinp (B, T, C).  dacts is a
 * second activation-sized block used as workspace; its contents are
 * overwritten.
 */
void tfm_backward(const struct tfm *t, float *dinp, float *dp,
		  const float *dout, const float *p, const float *acts,
		  float *dacts, const float *inp, int B, int T);

/* Forward FLOPs per token of the stack on T-token sequences (the attention
 * terms grow with T); backward is about twice that. */
double tfm_flops_per_token(const struct tfm *t, int T);

#endif
