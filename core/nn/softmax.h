/*
 * softmax.h - row-wise softmax over the last axis.
 *
 * Shapes: inp, out (N, K).  Backward, from the saved output:
 * dinp += out * (dout - sum(out * dout)).  No allocation.
 */
#ifndef SOFTMAX_H
#define SOFTMAX_H

void softmax_forward(float *out, const float *inp, int N, int K);
void softmax_backward(float *dinp, const float *out, const float *dout,
		      int N, int K);

#endif
