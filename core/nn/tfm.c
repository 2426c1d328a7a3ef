/*
 * tfm.c - pre-LayerNorm transformer stack, forward and backward.
 */
#include "nn/tfm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/act.h"
#include "base/am.h"
#include "nn/attention.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/residual.h"

/* Registers one named parameter; returns its offset or (size_t)-1. */
static size_t tfm_param(struct layout *l, const char *prefix, int layer,
			const char *name, int d0, int d1)
{
	char full[LAYOUT_NAME_MAX];
	int n;

	if (layer >= 0)
		n = snprintf(full, sizeof full, "%s.%d.%s", prefix, layer, name);
	else
		n = snprintf(full, sizeof full, "%s.%s", prefix, name);
	if (n < 0 || (size_t)n >= sizeof full)
		return (size_t)-1;
	return d1 ? layout_add2(l, full, d0, d1) : layout_add1(l, full, d0);
}

int tfm_init(struct tfm *t, struct layout *params, const char *prefix,
	     int C, int H, int L)
{
	size_t *all[12];
	int i, j;

	if (C < 1 || H < 1 || C % H != 0 || L < 1 || L > TFM_LAYERS_MAX)
		return AM_EINVAL;
	memset(t, 0, sizeof *t);
	t->C = C;
	t->H = H;
	t->L = L;
	for (i = 0; i < L; i++) {
		struct tfm_layer_params *lp = &t->p[i];

		lp->ln1w = tfm_param(params, prefix, i, "ln1w", C, 0);
		lp->ln1b = tfm_param(params, prefix, i, "ln1b", C, 0);
		lp->qkvw = tfm_param(params, prefix, i, "qkvw", 3 * C, C);
		lp->qkvb = tfm_param(params, prefix, i, "qkvb", 3 * C, 0);
		lp->projw = tfm_param(params, prefix, i, "projw", C, C);
		lp->projb = tfm_param(params, prefix, i, "projb", C, 0);
		lp->ln2w = tfm_param(params, prefix, i, "ln2w", C, 0);
		lp->ln2b = tfm_param(params, prefix, i, "ln2b", C, 0);
		lp->fcw = tfm_param(params, prefix, i, "fcw", 4 * C, C);
		lp->fcb = tfm_param(params, prefix, i, "fcb", 4 * C, 0);
		lp->fc2w = tfm_param(params, prefix, i, "fc2w", C, 4 * C);
		lp->fc2b = tfm_param(params, prefix, i, "fc2b", C, 0);
		all[0] = &lp->ln1w; all[1] = &lp->ln1b; all[2] = &lp->qkvw;
		all[3] = &lp->qkvb; all[4] = &lp->projw; all[5] = &lp->projb;
		all[6] = &lp->ln2w; all[7] = &lp->ln2b; all[8] = &lp->fcw;
		all[9] = &lp->fcb; all[10] = &lp->fc2w; all[11] = &lp->fc2b;
		for (j = 0; j < 12; j++)
			if (*all[j] == (size_t)-1)
				return AM_ENOMEM;
	}
	t->lnfw = tfm_param(params, prefix, -1, "lnfw", C, 0);
	t->lnfb = tfm_param(params, prefix, -1, "lnfb", C, 0);
	if (t->lnfw == (size_t)-1 || t->lnfb == (size_t)-1)
		return AM_ENOMEM;
	return AM_OK;
}

/* Bump allocation of activation offsets, 16-float aligned. */
static size_t tfm_take(size_t *top, size_t n)
{
	size_t at = (*top + 15) / 16 * 16;

	*top = at + n;
	return at;
}

size_t tfm_plan(struct tfm *t, int maxB, int maxT)
{
	size_t N = (size_t)maxB * maxT, C = (size_t)t->C, top = 0;
	int i;

	AM_ASSERT(maxB >= 1 && maxT >= 1);
	t->maxB = maxB;
	t->maxT = maxT;
	for (i = 0; i < t->L; i++) {
		struct tfm_layer_acts *a = &t->a[i];

		a->ln1 = tfm_take(&top, N * C);
		a->ln1_mean = tfm_take(&top, N);
		a->ln1_rstd = tfm_take(&top, N);
		a->qkv = tfm_take(&top, N * 3 * C);
		a->att = tfm_take(&top, (size_t)maxB * t->H * maxT * maxT);
		a->atty = tfm_take(&top, N * C);
		a->res1 = tfm_take(&top, N * C);
		a->ln2 = tfm_take(&top, N * C);
		a->ln2_mean = tfm_take(&top, N);
		a->ln2_rstd = tfm_take(&top, N);
		a->fch = tfm_take(&top, N * 4 * C);
		a->fch_gelu = tfm_take(&top, N * 4 * C);
		a->res2 = tfm_take(&top, N * C);
	}
	t->lnf = tfm_take(&top, N * C);
	t->lnf_mean = tfm_take(&top, N);
	t->lnf_rstd = tfm_take(&top, N);
	t->scratch = tfm_take(&top, (size_t)maxT * maxT);
	t->act_size = top;
	return top;
}

void tfm_init_params(const struct tfm *t, float *p, struct rng *r)
{
	long C = t->C;
	float sd_c = 1.0f / sqrtf((float)C), sd_4c = 1.0f / sqrtf(4.0f * C);
	float res = 1.0f / sqrtf(2.0f * t->L);
	int i, c;

	for (i = 0; i < t->L; i++) {
		const struct tfm_layer_params *lp = &t->p[i];

		for (c = 0; c < C; c++) {
			p[lp->ln1w + c] = 1.0f;
			p[lp->ln2w + c] = 1.0f;
			p[lp->ln1b + c] = p[lp->ln2b + c] = 0.0f;
			p[lp->projb + c] = p[lp->fc2b + c] = 0.0f;
		}
		memset(p + lp->qkvb, 0, 3 * C * sizeof *p);
		memset(p + lp->fcb, 0, 4 * C * sizeof *p);
		rng_fill_normal(r, p + lp->qkvw, 3 * C * C, 0.0f, sd_c);
		rng_fill_normal(r, p + lp->projw, C * C, 0.0f, sd_c * res);
		rng_fill_normal(r, p + lp->fcw, 4 * C * C, 0.0f, sd_c);
		rng_fill_normal(r, p + lp->fc2w, 4 * C * C, 0.0f, sd_4c * res);
	}
	for (c = 0; c < C; c++) {
		p[t->lnfw + c] = 1.0f;
		p[t->lnfb + c] = 0.0f;
	}
}

void tfm_forward(const struct tfm *t, const float *p, float *acts,
		 const float *inp, const unsigned char *mask, int B, int T)
{
	int C = t->C, N = B * T, i;
	const float *x = inp;

	AM_ASSERT(B >= 1 && B <= t->maxB && T >= 1 && T <= t->maxT);
	for (i = 0; i < t->L; i++) {
		const struct tfm_layer_params *lp = &t->p[i];
		const struct tfm_layer_acts *a = &t->a[i];

		layernorm_forward(acts + a->ln1, acts + a->ln1_mean,
				  acts + a->ln1_rstd, x, p + lp->ln1w,
				  p + lp->ln1b, N, C);
		linear_forward(acts + a->qkv, acts + a->ln1, p + lp->qkvw,
			       p + lp->qkvb, N, C, 3 * C);
		attention_forward(acts + a->atty, acts + a->att, acts + a->qkv,
				  mask, B, T, C, t->H);
		/* res1 = x + proj(atty) */
		linear_forward(acts + a->res1, acts + a->atty, p + lp->projw,
			       p + lp->projb, N, C, C);
		residual_forward(acts + a->res1, acts + a->res1, x, (long)N * C);
		layernorm_forward(acts + a->ln2, acts + a->ln2_mean,
				  acts + a->ln2_rstd, acts + a->res1,
				  p + lp->ln2w, p + lp->ln2b, N, C);
		linear_forward(acts + a->fch, acts + a->ln2, p + lp->fcw,
			       p + lp->fcb, N, C, 4 * C);
		act_gelu_forward(acts + a->fch_gelu, acts + a->fch, (long)N * 4 * C);
		/* res2 = res1 + fc2(gelu(fc(ln2))) */
		linear_forward(acts + a->res2, acts + a->fch_gelu, p + lp->fc2w,
			       p + lp->fc2b, N, 4 * C, C);
		residual_forward(acts + a->res2, acts + a->res2, acts + a->res1,
				 (long)N * C);
		x = acts + a->res2;
	}
	layernorm_forward(acts + t->lnf, acts + t->lnf_mean, acts + t->lnf_rstd,
			  x, p + t->lnfw, p + t->lnfb, N, C);
}

float *tfm_output(const struct tfm *t, float *acts)
{
	return acts + t->lnf;
}

void tfm_backward(const struct tfm *t, float *dinp, float *dp,
		  const float *dout, const float *p, const float *acts,
		  float *dacts, const float *inp, int B, int T)
{
	int C = t->C, N = B * T, i;
	long NC = (long)N * C;
	const float *xL = t->L ? acts + t->a[t->L - 1].res2 : inp;

	/* Gradients accumulate, so the workspace starts at zero. */
	memset(dacts, 0, t->act_size * sizeof *dacts);
	layernorm_backward(dacts + t->a[t->L - 1].res2, dp + t->lnfw,
			   dp + t->lnfb, dout, xL, p + t->lnfw,
			   acts + t->lnf_mean, acts + t->lnf_rstd, N, C);
	for (i = t->L - 1; i >= 0; i--) {
		const struct tfm_layer_params *lp = &t->p[i];
		const struct tfm_layer_acts *a = &t->a[i];
		const float *x = i ? acts + t->a[i - 1].res2 : inp;
		float *dx = i ? dacts + t->a[i - 1].res2 : dinp;
		float *dres2 = dacts + a->res2;

		/* res2 = res1 + fc2(...): the gradient reaches both */
		residual_backward(dacts + a->res1, NULL, dres2, NC);
		linear_backward(dacts + a->fch_gelu, dp + lp->fc2w, dp + lp->fc2b,
				dres2, acts + a->fch_gelu, p + lp->fc2w,
				N, 4 * C, C);
		act_gelu_backward(dacts + a->fch, acts + a->fch,
				  dacts + a->fch_gelu, (long)N * 4 * C);
		linear_backward(dacts + a->ln2, dp + lp->fcw, dp + lp->fcb,
				dacts + a->fch, acts + a->ln2, p + lp->fcw,
				N, C, 4 * C);
		layernorm_backward(dacts + a->res1, dp + lp->ln2w, dp + lp->ln2b,
				   dacts + a->ln2, acts + a->res1, p + lp->ln2w,
				   acts + a->ln2_mean, acts + a->ln2_rstd, N, C);
		/* res1 = x + proj(atty) */
		if (dx)
			residual_backward(dx, NULL, dacts + a->res1, NC);
		linear_backward(dacts + a->atty, dp + lp->projw, dp + lp->projb,
				dacts + a->res1, acts + a->atty, p + lp->projw,
				N, C, C);
		attention_backward(dacts + a->qkv, dacts + t->scratch,
				   dacts + a->atty, acts + a->qkv, acts + a->att,
				   B, T, C, t->H);
		linear_backward(dacts + a->ln1, dp + lp->qkvw, dp + lp->qkvb,
				dacts + a->qkv, acts + a->ln1, p + lp->qkvw,
				N, C, 3 * C);
		layernorm_backward(dx, dp + lp->ln1w, dp + lp->ln1b,
				   dacts + a->ln1, x, p + lp->ln1w,
				   acts + a->ln1_mean, acts + a->ln1_rstd, N, C);
	}
}

double tfm_flops_per_token(const struct tfm *t, int T)
{
	double C = t->C;
	/* per layer: qkv 2*C*3C, proj 2*C*C, fc 2*C*4C, fc2 2*4C*C,
	 * attention scores 2*T*C and weighted values 2*T*C */
	double per_layer = 2.0 * C * 3 * C + 2.0 * C * C + 16.0 * C * C +
			   4.0 * T * C;

	return t->L * per_layer;
}
