/*
 * velo.c - the flow-matching velocity MLP: input features, forward,
 * backward, the flow-matching loss and the midpoint sampler.
 */
#include "nn/velo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/act.h"
#include "base/am.h"
#include "nn/linear.h"

#define VELO_PI 3.14159265358979323846

struct velo_ws {
	int max_rows;
	int n;			/* rows of the last forward, 0 before any */
	int H, L, F, Z;
	/* last forward */
	int *D;			/* (R) active dims per row */
	float *inp;		/* (R, F) network input */
	float *pre;		/* (L, R, H) pre-activations */
	float *post;		/* (L, R, H) gelu outputs */
	/* backward scratch */
	float *dout;		/* (R, VELO_DMAX) dout with padding zeroed */
	float *dh, *dpre;	/* (R, H) each */
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

/* dp + off, or NULL when there is no gradient block (no arithmetic on a
 * null pointer). */
static float *velo_grad(float *dp, size_t off)
{
	return dp ? dp + off : NULL;
}

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
	char name[LAYOUT_NAME_MAX];
	int l, H = c->H;

	if (velo_config_check(c, NULL, 0) != AM_OK)
		return AM_EINVAL;
	memset(v, 0, sizeof *v);
	v->cfg = *c;
	v->F = VELO_FIXED + c->Z;
	for (l = 0; l < c->L; l++) {
		snprintf(name, sizeof name, "velo.fc%d.w", l);
		v->w[l] = layout_add2(params, name, H, l ? H : v->F);
		snprintf(name, sizeof name, "velo.fc%d.b", l);
		v->b[l] = layout_add1(params, name, H);
		if (v->w[l] == (size_t)-1 || v->b[l] == (size_t)-1)
			return AM_ENOMEM;
	}
	v->out_w = layout_add2(params, "velo.out.w", VELO_DMAX, H);
	v->out_b = layout_add1(params, "velo.out.b", VELO_DMAX);
	if (v->out_w == (size_t)-1 || v->out_b == (size_t)-1)
		return AM_ENOMEM;
	return AM_OK;
}

void velo_init_params(const struct velo *v, float *p, struct rng *r)
{
	long H = v->cfg.H;
	int l;

	for (l = 0; l < v->cfg.L; l++) {
		long fan_in = l ? H : v->F;

		rng_fill_normal(r, p + v->w[l], H * fan_in, 0.0f,
				1.0f / sqrtf((float)fan_in));
		memset(p + v->b[l], 0, (size_t)H * sizeof *p);
	}
	rng_fill_normal(r, p + v->out_w, VELO_DMAX * H, 0.0f,
			0.1f / sqrtf((float)H));
	memset(p + v->out_b, 0, VELO_DMAX * sizeof *p);
}

void velo_ws_free(struct velo_ws *ws)
{
	if (!ws)
		return;
	free(ws->Dr); free(ws->z); free(ws->t); free(ws->g); free(ws->v);
	free(ws->xm); free(ws->x); free(ws->dinp); free(ws->dpre);
	free(ws->dh); free(ws->dout); free(ws->post); free(ws->pre);
	free(ws->inp); free(ws->D);
	free(ws);
}

struct velo_ws *velo_ws_new(const struct velo *v, int max_rows)
{
	struct velo_ws *ws;
	size_t R, H = (size_t)v->cfg.H, L = (size_t)v->cfg.L;
	size_t F = (size_t)v->F, Z = (size_t)v->cfg.Z;

	if (max_rows < 1 || max_rows > VELO_ROWS_MAX)
		return NULL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	R = (size_t)max_rows;
	ws->max_rows = max_rows;
	ws->H = v->cfg.H;
	ws->L = v->cfg.L;
	ws->F = v->F;
	ws->Z = v->cfg.Z;
	ws->D = calloc(R, sizeof *ws->D);
	ws->inp = calloc(R * F, sizeof(float));
	ws->pre = calloc(L * R * H, sizeof(float));
	ws->post = calloc(L * R * H, sizeof(float));
	ws->dout = calloc(R * VELO_DMAX, sizeof(float));
	ws->dh = calloc(R * H, sizeof(float));
	ws->dpre = calloc(R * H, sizeof(float));
	ws->dinp = calloc(R * F, sizeof(float));
	ws->x = calloc(R * VELO_DMAX, sizeof(float));
	ws->xm = calloc(R * VELO_DMAX, sizeof(float));
	ws->v = calloc(R * VELO_DMAX, sizeof(float));
	ws->g = calloc(R * VELO_DMAX, sizeof(float));
	ws->t = calloc(R, sizeof(float));
	ws->z = calloc(R * Z, sizeof(float));
	ws->Dr = calloc(R, sizeof *ws->Dr);
	if (!ws->D || !ws->inp || !ws->pre || !ws->post || !ws->dout ||
	    !ws->dh || !ws->dpre || !ws->dinp || !ws->x || !ws->xm || !ws->v ||
	    !ws->g || !ws->t || !ws->z || !ws->Dr) {
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
	int H = v->cfg.H, L = v->cfg.L, F = v->F, Z = v->cfg.Z, i, j, l;
	size_t RH = (size_t)ws->max_rows * H;
	const float *x;

	AM_ASSERT(ws->H == H && ws->L == L && ws->F == F);
	AM_ASSERT(n >= 1 && n <= ws->max_rows);
	/* input rows: [xt masked, mask, time features, z] */
	for (i = 0; i < n; i++) {
		float *row = ws->inp + (size_t)i * F;
		const float *xr = xt + (size_t)i * VELO_DMAX;

		AM_ASSERT(D[i] >= 1 && D[i] <= VELO_DMAX);
		ws->D[i] = D[i];
		for (j = 0; j < VELO_DMAX; j++) {
			row[j] = j < D[i] ? xr[j] : 0.0f;
			row[VELO_DMAX + j] = j < D[i] ? 1.0f : 0.0f;
		}
		/* the sampler's rows share one t: reuse the features */
		if (i && t[i] == t[i - 1])
			memcpy(row + 2 * VELO_DMAX, row - F + 2 * VELO_DMAX,
			       VELO_TF * sizeof *row);
		else
			velo_time_features(row + 2 * VELO_DMAX, t[i]);
		memcpy(row + VELO_FIXED, z + (size_t)i * Z, (size_t)Z * sizeof *row);
	}
	ws->n = n;
	/* h_l = gelu(h_{l-1} W_l^T + b_l), h_{-1} = inp: (n, F) then (n, H) */
	x = ws->inp;
	for (l = 0; l < L; l++) {
		float *pre = ws->pre + l * RH, *post = ws->post + l * RH;

		linear_forward(pre, x, p + v->w[l], p + v->b[l], n, l ? H : F, H);
		act_gelu_forward(post, pre, (long)n * H);
		x = post;
	}
	/* out (n, VELO_DMAX) = h_L W_o^T + b_o, padding dims zeroed */
	linear_forward(out, x, p + v->out_w, p + v->out_b, n, H, VELO_DMAX);
	for (i = 0; i < n; i++)
		for (j = D[i]; j < VELO_DMAX; j++)
			out[(size_t)i * VELO_DMAX + j] = 0.0f;
}

void velo_backward(const struct velo *v, const float *p, float *dp,
		   struct velo_ws *ws, int n, const float *dout, float *dz,
		   float *dxt)
{
	int H = v->cfg.H, L = v->cfg.L, F = v->F, Z = v->cfg.Z, i, j, l;
	size_t RH = (size_t)ws->max_rows * H, nH = (size_t)n * H;
	int need_dinp = dz || dxt;

	AM_ASSERT(ws->H == H && ws->L == L && ws->F == F);
	AM_ASSERT(n >= 1 && n == ws->n);
	/* padding outputs are constants 0: their gradient stops here */
	for (i = 0; i < n; i++)
		for (j = 0; j < VELO_DMAX; j++)
			ws->dout[(size_t)i * VELO_DMAX + j] =
				j < ws->D[i] ? dout[(size_t)i * VELO_DMAX + j] : 0.0f;
	/* output layer: dh = dout W_o, dW_o += dout^T h_L, db_o += sum dout */
	memset(ws->dh, 0, nH * sizeof *ws->dh);
	linear_backward(ws->dh, velo_grad(dp, v->out_w), velo_grad(dp, v->out_b),
			ws->dout, ws->post + (L - 1) * RH, p + v->out_w,
			n, H, VELO_DMAX);
	for (l = L - 1; l >= 0; l--) {
		const float *x = l ? ws->post + (l - 1) * RH : ws->inp;
		float *dx = NULL;

		/* dpre = gelu'(pre) * dh */
		memset(ws->dpre, 0, nH * sizeof *ws->dpre);
		act_gelu_backward(ws->dpre, ws->pre + l * RH, ws->dh, (long)nH);
		/* dh is consumed: it now receives the gradient of h_{l-1} */
		if (l) {
			memset(ws->dh, 0, nH * sizeof *ws->dh);
			dx = ws->dh;
		} else if (need_dinp) {
			memset(ws->dinp, 0, (size_t)n * F * sizeof *ws->dinp);
			dx = ws->dinp;
		}
		linear_backward(dx, velo_grad(dp, v->w[l]), velo_grad(dp, v->b[l]),
				ws->dpre, x, p + v->w[l], n, l ? H : F, H);
	}
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
