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

/* Scalars: softplus(x) = log(1 + e^x) (x itself past 20, where the two
 * agree in float), and its derivative sigmoid(x) = 1 / (1 + e^-x).  The
 * refiners' step sizes are softplus of a learned value. */
float act_softplus(float x);
float act_sigmoid(float x);

#endif
