/*
 * residual.h - the residual connection, out = a + b, over n floats.
 * Backward accumulates the same gradient into both branches (either may be
 * NULL).  No allocation.
 */
#ifndef RESIDUAL_H
#define RESIDUAL_H

void residual_forward(float *out, const float *a, const float *b, long n);
void residual_backward(float *da, float *db, const float *dout, long n);

#endif
