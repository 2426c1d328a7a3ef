/*
 * gate.c - the refiners' gated update, forward and backward (see gate.h).
 */
#include "refine/gate.h"

#include "nn/act.h"

void gate_forward(float *nx, const float *x, const float *delta,
		  const float *dir, const float *m, float gain, float eta,
		  int n)
{
	int j;

	for (j = 0; j < n; j++)
		nx[j] = x[j] + m[j] * gain * (delta[j] - eta * dir[j]);
}

float gate_backward(float *ddelta, const float *dnx, const float *dir,
		    const float *m, float gain, int n)
{
	float deta = 0.0f;
	int j;

	for (j = 0; j < n; j++) {
		ddelta[j] = m[j] * gain * dnx[j];
		deta -= ddelta[j] * dir[j];
	}
	return deta;
}

float gate_eta_backward(float deta, float e, float s, float *de)
{
	/* d softplus(u) / du = sigmoid(u) */
	float ds = deta * act_sigmoid(e + s);

	*de += ds;
	return ds;
}
