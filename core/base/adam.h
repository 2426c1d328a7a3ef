/*
 * adam.h - AdamW with global gradient-norm clipping.
 *
 * Owns its two moment arrays (n floats each); never owns the parameters or
 * gradients it is handed.  Not thread-safe on one struct.
 */
#ifndef ADAM_H
#define ADAM_H

#include <stddef.h>

struct adam {
	float lr;		/* learning rate */
	float beta1, beta2;	/* moment decay rates */
	float eps;		/* added to sqrt(v) */
	float weight_decay;	/* decoupled (AdamW); 0 gives plain Adam */
	float clip;		/* max global gradient L2 norm; 0 disables */
	long t;			/* steps taken */
	size_t n;
	float *m, *v;
};

/* Sets the usual defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, no decay,
 * no clipping) and allocates zeroed moments for n parameters.  Returns AM_OK
 * or AM_ENOMEM (leaving *a with no memory held). */
int adam_init(struct adam *a, size_t n);

/* Frees the moments; NULL-safe and idempotent. */
void adam_free(struct adam *a);

/* L2 norm of g[0..n), accumulated in double. */
double adam_grad_norm(const float *g, size_t n);

/*
 * One AdamW step:  if clip > 0 and |g| > clip, g is scaled by clip / |g|
 * (in place); then
 *     m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2,
 *     p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p)
 * with bias-corrected mhat, vhat.  decay (may be NULL: decay everything)
 * marks with 1 the entries that take weight decay.  Returns the gradient
 * norm before clipping.
 */
double adam_step(struct adam *a, float *p, float *g, const unsigned char *decay);

#endif
