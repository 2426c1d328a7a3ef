/*
 * gate.h - the gated update that both refiners (refiner.h, setref.h) apply
 * to their state, forward and backward:
 *     x' = x + m gain (delta - eta dir),   eta = softplus(e + s),
 * on n state floats, with m the mask of active entries, gain the step's
 * running-average gain, delta the head's proposal, dir the direction of
 * the skip path (a batch gradient or a family's own direction), and eta
 * the skip path's scale: e a learned parameter of the pass, s a head
 * output of the step (eta is 0 for a variant without the skip path).
 *
 * Plain functions on caller-owned arrays: they own nothing, never
 * allocate, and are thread-safe on distinct outputs.
 */
#ifndef GATE_H
#define GATE_H

/* nx (n) = x + m gain (delta - eta dir).  nx may be x itself. */
void gate_forward(float *nx, const float *x, const float *delta,
		  const float *dir, const float *m, float gain, float eta,
		  int n);

/*
 * From dnx (n) = dloss/dx', overwrites ddelta (n) = m gain dnx and
 * returns dloss/deta = -sum_j ddelta_j dir_j (summed in float, in order).
 */
float gate_backward(float *ddelta, const float *dnx, const float *dir,
		    const float *m, float gain, int n);

/*
 * Through eta = softplus(e + s): adds deta sigmoid(e + s) to *de and
 * returns the same value, dloss/ds.
 */
float gate_eta_backward(float deta, float e, float s, float *de);

#endif
