/*
 * adam.c - AdamW with global gradient-norm clipping.
 */
#include "base/adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"

int adam_init(struct adam *a, size_t n)
{
	memset(a, 0, sizeof *a);
	a->lr = 1e-3f;
	a->beta1 = 0.9f;
	a->beta2 = 0.999f;
	a->eps = 1e-8f;
	a->m = calloc(n ? n : 1, sizeof *a->m);
	a->v = calloc(n ? n : 1, sizeof *a->v);
	if (!a->m || !a->v) {
		adam_free(a);
		return AM_ENOMEM;
	}
	a->n = n;
	return AM_OK;
}

void adam_free(struct adam *a)
{
	if (!a)
		return;
	free(a->m);
	free(a->v);
	a->m = a->v = NULL;
	a->n = 0;
}

double adam_grad_norm(const float *g, size_t n)
{
	double s = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (double)g[i] * g[i];
	return sqrt(s);
}

double adam_step(struct adam *a, float *p, float *g, const unsigned char *decay)
{
	double norm = adam_grad_norm(g, a->n);
	float scale = 1.0f, c1, c2;
	size_t i;

	if (a->clip > 0.0f && norm > a->clip)
		scale = (float)(a->clip / norm);
	a->t++;
	c1 = 1.0f - powf(a->beta1, (float)a->t);
	c2 = 1.0f - powf(a->beta2, (float)a->t);
	for (i = 0; i < a->n; i++) {
		float gi = g[i] * scale;
		float mh, vh, wd;

		g[i] = gi;
		a->m[i] = a->beta1 * a->m[i] + (1.0f - a->beta1) * gi;
		a->v[i] = a->beta2 * a->v[i] + (1.0f - a->beta2) * gi * gi;
		mh = a->m[i] / c1;
		vh = a->v[i] / c2;
		wd = (!decay || decay[i]) ? a->weight_decay : 0.0f;
		p[i] -= a->lr * (mh / (sqrtf(vh) + a->eps) + wd * p[i]);
	}
	return norm;
}
