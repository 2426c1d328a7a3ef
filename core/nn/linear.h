/*
 * linear.h - the fully connected layer, out = inp W^T + b.
 *
 * Shapes: inp (N, C), weight (OC, C), bias (OC) or NULL, out (N, OC).
 * Forward overwrites out; backward accumulates into whichever of dinp,
 * dweight, dbias is not NULL.  Neither allocates; both are thread-safe on
 * distinct outputs.
 */
#ifndef LINEAR_H
#define LINEAR_H

void linear_forward(float *out, const float *inp, const float *weight,
		    const float *bias, int N, int C, int OC);

void linear_backward(float *dinp, float *dweight, float *dbias,
		     const float *dout, const float *inp, const float *weight,
		     int N, int C, int OC);

#endif
