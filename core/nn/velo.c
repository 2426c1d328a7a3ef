/*
 * velo.c - the flow-matching velocity network: input features and padding
 * over mlp.c's layer stack, the flow-matching loss and the midpoint
 * sampler.
 */
#include "nn/velo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"

#define VELO_PI 3.14159265358979323846

/* The fixed features are the mlp's x, the outputs its outputs. */
_Static_assert(VELO_FIXED <= MLP_XMAX && VELO_DMAX <= MLP_OMAX,
	       "velo's rows must fit an mlp");

struct velo_ws {
	struct mlp_ws *net;	/* the layers' activations and scratch */
	int max_rows;
	int n;			/* rows of the last forward, 0 before any */
	/* last forward */
	int *D;			/* (R) active dims per row */
	float *feat;		/* (R, VELO_FIXED) [x_t masked, mask, time] */
	/* backward scratch */
	float *dout;		/* (R, VELO_DMAX) dout with padding zeroed */
	float *dinp;		/* (R, F) */
	/* loss and sampler scratch */
	float *x;		/* (R, VELO_DMAX) x_t, or the sampler's state */
	float *xm;		/* (R, VELO_DMAX) midpoint state */
	float *v;		/* (R, VELO_DMAX) network output */
	float *g;		/* (R, VELO_DMAX) dloss/dv */
	float *t;		/* (R) times */
	float *z;		/* (R, Z) the sampler's latent, one per row */
	int *Dr;		/* (R) the sampler's D, one per row */
};

int velo_config_check(const struct velo_config *c, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (c->Z < 1 || c->Z > VELO_ZMAX)
		bad = "latent size must be in [1, 256]";
	else if (c->H < 8 || c->H > VELO_HMAX)
		bad = "hidden width must be in [8, 1024]";
	else if (c->L < 1 || c->L > VELO_LAYERS_MAX)
		bad = "hidden layers must be in [1, 8]";
	return am_check(bad, err, errlen);
}

int velo_init(struct velo *v, struct layout *params,
	      const struct velo_config *c)
{
	struct mlp_config mc = {
		.X = VELO_FIXED, .Z = c->Z, .O = VELO_DMAX, .H = c->H, .L = c->L,
	};

	if (velo_config_check(c, NULL, 0) != AM_OK)
		return AM_EINVAL;
	v->cfg = *c;
	return mlp_init(&v->net, params, "velo", &mc);
}

void velo_init_params(const struct velo *v, float *p, struct rng *r)
{
	mlp_init_params(&v->net, p, r);
}

void velo_ws_free(struct velo_ws *ws)
{
	if (!ws)
		return;
	free(ws->Dr); free(ws->z); free(ws->t); free(ws->g); free(ws->v);
	free(ws->xm); free(ws->x); free(ws->dinp); free(ws->dout);
	free(ws->feat); free(ws->D);
	mlp_ws_free(ws->net);
	free(ws);
}

struct velo_ws *velo_ws_new(const struct velo *v, int max_rows)
{
	struct velo_ws *ws;
	size_t R, F = (size_t)v->net.F, Z = (size_t)v->cfg.Z;

	if (max_rows < 1 || max_rows > VELO_ROWS_MAX)
		return NULL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	R = (size_t)max_rows;
	ws->max_rows = max_rows;
	ws->net = mlp_ws_new(&v->net, max_rows);
	ws->D = calloc(R, sizeof *ws->D);
	ws->feat = calloc(R * VELO_FIXED, sizeof(float));
	ws->dout = calloc(R * VELO_DMAX, sizeof(float));
	ws->dinp = calloc(R * F, sizeof(float));
	ws->x = calloc(R * VELO_DMAX, sizeof(float));
	ws->xm = calloc(R * VELO_DMAX, sizeof(float));
	ws->v = calloc(R * VELO_DMAX, sizeof(float));
	ws->g = calloc(R * VELO_DMAX, sizeof(float));
	ws->t = calloc(R, sizeof(float));
	ws->z = calloc(R * Z, sizeof(float));
	ws->Dr = calloc(R, sizeof *ws->Dr);
	if (!ws->net || !ws->D || !ws->feat || !ws->dout || !ws->dinp ||
	    !ws->x || !ws->xm || !ws->v || !ws->g || !ws->t || !ws->z ||
	    !ws->Dr) {
		velo_ws_free(ws);
		return NULL;
	}
	return ws;
}

int velo_ws_rows(const struct velo_ws *ws)
{
	return ws->max_rows;
}

/* The VELO_TF time features of t (see velo.h): t, t^2, then sin and cos of
 * k pi t for k = 1..7.  Computed in double so that every frequency is
 * accurate to float rounding. */
static void velo_time_features(float *f, float t)
{
	double a = VELO_PI * (double)t;
	int k;

	f[0] = t;
	f[1] = t * t;
	for (k = 1; 2 * k + 1 < VELO_TF; k++) {
		f[2 * k] = (float)sin(k * a);
		f[2 * k + 1] = (float)cos(k * a);
	}
}

void velo_forward(const struct velo *v, const float *p, struct velo_ws *ws,
		  int n, const float *xt, const float *t, const float *z,
		  const int *D, float *out)
{
	int i, j;

	AM_ASSERT(n >= 1 && n <= ws->max_rows);
	/* the fixed part of the input rows: [xt masked, mask, time features];
	 * the mlp appends z */
	for (i = 0; i < n; i++) {
		float *row = ws->feat + (size_t)i * VELO_FIXED;
		const float *xr = xt + (size_t)i * VELO_DMAX;

		AM_ASSERT(D[i] >= 1 && D[i] <= VELO_DMAX);
		ws->D[i] = D[i];
		for (j = 0; j < VELO_DMAX; j++) {
			row[j] = j < D[i] ? xr[j] : 0.0f;
			row[VELO_DMAX + j] = j < D[i] ? 1.0f : 0.0f;
		}
		/* the sampler's rows share one t: reuse the features */
		if (i && t[i] == t[i - 1])
			memcpy(row + 2 * VELO_DMAX,
			       row - VELO_FIXED + 2 * VELO_DMAX,
			       VELO_TF * sizeof *row);
		else
			velo_time_features(row + 2 * VELO_DMAX, t[i]);
	}
	ws->n = n;
	mlp_forward(&v->net, p, ws->net, n, ws->feat, VELO_FIXED, z, out);
	/* padding dims zeroed */
	for (i = 0; i < n; i++)
		for (j = D[i]; j < VELO_DMAX; j++)
			out[(size_t)i * VELO_DMAX + j] = 0.0f;
}

void velo_backward(const struct velo *v, const float *p, float *dp,
		   struct velo_ws *ws, int n, const float *dout, float *dz,
		   float *dxt)
{
	int F = v->net.F, Z = v->cfg.Z, i, j;
	int need_dinp = dz || dxt;

	AM_ASSERT(n >= 1 && n == ws->n);
	/* padding outputs are constants 0: their gradient stops here */
	for (i = 0; i < n; i++)
		for (j = 0; j < VELO_DMAX; j++)
			ws->dout[(size_t)i * VELO_DMAX + j] =
				j < ws->D[i] ? dout[(size_t)i * VELO_DMAX + j] : 0.0f;
	mlp_backward_input(&v->net, p, dp, ws->net, n, ws->dout,
			   need_dinp ? ws->dinp : NULL);
	for (i = 0; i < n && need_dinp; i++) {
		const float *row = ws->dinp + (size_t)i * F;

		if (dz)
			memcpy(dz + (size_t)i * Z, row + VELO_FIXED,
			       (size_t)Z * sizeof *dz);
		if (dxt)
			for (j = 0; j < VELO_DMAX; j++)
				dxt[(size_t)i * VELO_DMAX + j] =
					j < ws->D[i] ? row[j] : 0.0f;
	}
}

/* The loss of one chunk of m <= max_rows rows; see velo_fm_loss. */
static double velo_fm_chunk(const struct velo *v, const float *p, float *dp,
			    struct velo_ws *ws, int m, const float *x1,
			    const float *x0, const float *t, const float *z,
			    const int *D, const float *w, float *dz)
{
	double loss = 0.0;
	int i, j;

	for (i = 0; i < m; i++) {
		const float *a = x1 + (size_t)i * VELO_DMAX;
		const float *b = x0 + (size_t)i * VELO_DMAX;
		float *x = ws->x + (size_t)i * VELO_DMAX;

		AM_ASSERT(D[i] >= 1 && D[i] <= VELO_DMAX);
		/* x_t = (1 - t) x0 + t x1 on the active dims */
		for (j = 0; j < VELO_DMAX; j++)
			x[j] = j < D[i] ? (1.0f - t[i]) * b[j] + t[i] * a[j] : 0.0f;
	}
	velo_forward(v, p, ws, m, ws->x, t, z, D, ws->v);
	for (i = 0; i < m; i++) {
		const float *a = x1 + (size_t)i * VELO_DMAX;
		const float *b = x0 + (size_t)i * VELO_DMAX;
		const float *vr = ws->v + (size_t)i * VELO_DMAX;
		float *g = ws->g + (size_t)i * VELO_DMAX;
		double s = 0.0;

		/* loss_i = w_i sum_j (v_j - u_j)^2, dloss/dv_j = 2 w_i (v_j - u_j) */
		for (j = 0; j < VELO_DMAX; j++) {
			float e = j < D[i] ? vr[j] - (a[j] - b[j]) : 0.0f;

			s += (double)e * e;
			g[j] = 2.0f * w[i] * e;
		}
		loss += (double)w[i] * s;
	}
	if (dp || dz)
		velo_backward(v, p, dp, ws, m, ws->g, dz, NULL);
	return loss;
}

double velo_fm_loss(const struct velo *v, const float *p, float *dp,
		    struct velo_ws *ws, int n, const float *x1, const float *x0,
		    const float *t, const float *z, const int *D,
		    const float *w, float *dz)
{
	size_t Z = (size_t)v->cfg.Z;
	double loss = 0.0;
	int at, m;

	AM_ASSERT(n >= 1);
	for (at = 0; at < n; at += m) {
		size_t o = (size_t)at;

		m = n - at < ws->max_rows ? n - at : ws->max_rows;
		loss += velo_fm_chunk(v, p, dp, ws, m, x1 + o * VELO_DMAX,
				      x0 + o * VELO_DMAX, t + o, z + o * Z,
				      D + o, w + o, dz ? dz + o * Z : NULL);
	}
	return loss;
}

/* Sets the chunk's m times to tv. */
static void velo_fill_t(float *t, int m, float tv)
{
	int i;

	for (i = 0; i < m; i++)
		t[i] = tv;
}

void velo_sample(const struct velo *v, const float *p, struct velo_ws *ws,
		 const float *z, int D, int n, int steps, struct rng *r,
		 float *out)
{
	size_t Z = (size_t)v->cfg.Z, e, md;
	float h = 1.0f / (float)steps;
	int at, m, i, j, k;

	AM_ASSERT(D >= 1 && D <= VELO_DMAX);
	AM_ASSERT(n >= 1 && steps >= 1 && steps <= VELO_STEPS_MAX);
	/* one latent and one D for every row of a chunk */
	for (i = 0; i < ws->max_rows; i++) {
		memcpy(ws->z + (size_t)i * Z, z, Z * sizeof *z);
		ws->Dr[i] = D;
	}
	for (at = 0; at < n; at += m) {
		m = n - at < ws->max_rows ? n - at : ws->max_rows;
		md = (size_t)m * VELO_DMAX;
		/* x0 ~ N(0, I) on the active dims, row after row */
		for (i = 0; i < m; i++)
			for (j = 0; j < VELO_DMAX; j++)
				ws->x[(size_t)i * VELO_DMAX + j] =
					j < D ? (float)rng_normal(r) : 0.0f;
		for (k = 0; k < steps; k++) {
			float tk = (float)k / (float)steps;

			/* k1 = v(x, t_k); x_mid = x + h/2 k1 */
			velo_fill_t(ws->t, m, tk);
			velo_forward(v, p, ws, m, ws->x, ws->t, ws->z, ws->Dr, ws->v);
			for (e = 0; e < md; e++)
				ws->xm[e] = ws->x[e] + 0.5f * h * ws->v[e];
			/* x += h v(x_mid, t_k + h/2) */
			velo_fill_t(ws->t, m, tk + 0.5f * h);
			velo_forward(v, p, ws, m, ws->xm, ws->t, ws->z, ws->Dr, ws->v);
			for (e = 0; e < md; e++)
				ws->x[e] += h * ws->v[e];
		}
		memcpy(out + (size_t)at * VELO_DMAX, ws->x, md * sizeof *out);
	}
}
