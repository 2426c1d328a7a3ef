/*
 * act.h - elementwise activations: GELU (tanh form), ReLU, tanh.
 *
 * Shapes: inp, out, dinp, dout all hold n floats.  Forward overwrites out;
 * backward accumulates dinp += f'(inp) * dout.  No allocation.
 */
#ifndef ACT_H
#define ACT_H

void act_gelu_forward(float *out, const float *inp, long n);
void act_gelu_backward(float *dinp, const float *inp, const float *dout, long n);

void act_relu_forward(float *out, const float *inp, long n);
void act_relu_backward(float *dinp, const float *inp, const float *dout, long n);

void act_tanh_forward(float *out, const float *inp, long n);
void act_tanh_backward(float *dinp, const float *inp, const float *dout, long n);

#endif
