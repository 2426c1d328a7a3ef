/*
 * layernorm.h - layer normalisation over the last axis.
 *
 * Shapes: inp, out (N, C); weight, bias (C); mean, rstd (N), saved by the
 * forward pass for the backward pass.  y = (x - mean) * rstd * w + b with
 * rstd = 1 / sqrt(var + 1e-5), var the biased variance.  Backward
 * accumulates into dinp, dweight, dbias (each may be NULL).
 */
#ifndef LAYERNORM_H
#define LAYERNORM_H

#define LAYERNORM_EPS 1e-5f

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
		       const float *weight, const float *bias, int N, int C);

void layernorm_backward(float *dinp, float *dweight, float *dbias,
			const float *dout, const float *inp, const float *weight,
			const float *mean, const float *rstd, int N, int C);

#endif
