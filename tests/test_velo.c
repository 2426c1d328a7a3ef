/*
 * test_velo.c - the flow-matching velocity network: configuration and
 * parameter registration, the float forward against a double-precision
 * reference, finite-difference gradients of velo_backward (parameters, z,
 * x_t) and of velo_fm_loss (parameters, z), padding, chunking and
 * accumulation rules, the midpoint sampler on hand-set fields whose flow is
 * known, and a small end-to-end training run on a 1-D toy problem.
 *
 * Gradient tolerance.  The numeric gradients are central differences of a
 * double-precision reference of the network (ref_row below), so they carry
 * no float32 rounding of the forward pass: with eps = 1e-3 the truncation
 * error is O(eps^2) ~ 1e-7 and the only float error left is in the
 * perturbed value itself (x +- eps rounded to float: at most ulp(x)/2, i.e.
 * a relative error of the step, hence of the numeric gradient, below
 * 1.2e-7 / 1e-3 = 1.2e-4 for |x| < 2).  The analytic gradients are float32
 * sums of at most a few dozen terms.  So we require
 *     |analytic - numeric| <= 1e-4 + 1e-3 |numeric|,
 * about ten times looser than the worst error estimated above and a
 * hundred times tighter than the float-forward checks of the other layers.
 * The reference itself is checked against velo_forward to 1e-5 + 1e-4 |v|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/adam.h"
#include "base/am.h"
#include "base/gemm.h"
#include "base/layout.h"
#include "base/rng.h"
#include "testutil.h"
#include "nn/velo.h"

#define GC_EPS 1e-3f
#define GC_ATOL 1e-4f
#define GC_RTOL 1e-3f

enum { N = 7, ZZ = 3, HH = 16, LL = 2 };

struct ctx {
	struct velo v;
	struct layout lay;
	struct velo_ws *ws;
	float *p, *dp;
	float xt[N * VELO_DMAX], x1[N * VELO_DMAX], x0[N * VELO_DMAX];
	float t[N], z[N * ZZ], w[N], r[N * VELO_DMAX];
	float out[N * VELO_DMAX], dz[N * ZZ], dxt[N * VELO_DMAX];
	int D[N];
};

/* A network with every parameter away from its special initial values:
 * biases and the output layer drawn at a scale where they matter. */
static void ctx_init(struct ctx *c, uint64_t seed)
{
	struct velo_config cfg = { .Z = ZZ, .H = HH, .L = LL };
	static const int Ds[N] = { 1, 3, 8, 2, 5, 8, 4 };
	uint64_t s = seed;
	struct rng r;
	int i;

	memset(c, 0, sizeof *c);
	layout_init(&c->lay);
	assert_int_equal(velo_init(&c->v, &c->lay, &cfg), AM_OK);
	c->p = tu_alloc(c->lay.total);
	c->dp = tu_alloc(c->lay.total);
	rng_seed(&r, seed);
	velo_init_params(&c->v, c->p, &r);
	for (i = 0; i < c->lay.n; i++) {
		const struct layout_view *w = &c->lay.views[i];

		if (w->ndim == 1 || !strcmp(w->name, "velo.out.w"))
			rng_fill_normal(&r, c->p + w->offset, (long)w->size,
					0.0f, 0.3f);
	}
	c->ws = velo_ws_new(&c->v, N);
	assert_non_null(c->ws);
	tu_fill(c->xt, N * VELO_DMAX, -1.5f, 1.5f, &s);
	tu_fill(c->x1, N * VELO_DMAX, -1.5f, 1.5f, &s);
	tu_fill(c->x0, N * VELO_DMAX, -1.5f, 1.5f, &s);
	tu_fill(c->t, N, 0.0f, 1.0f, &s);
	tu_fill(c->z, N * ZZ, -1.0f, 1.0f, &s);
	tu_fill(c->w, N, 0.2f, 1.0f, &s);
	tu_fill(c->r, N * VELO_DMAX, -1.0f, 1.0f, &s);
	memcpy(c->D, Ds, sizeof c->D);
}

static void ctx_free(struct ctx *c)
{
	velo_ws_free(c->ws);
	free(c->p);
	free(c->dp);
	layout_free(&c->lay);
}

/* ---- the double-precision reference ------------------------------------ */

static double ref_gelu(double x)
{
	return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/* v(xt, t, z) for one row, in double, straight from the definitions in
 * velo.h (input layout, time features, layers). */
static void ref_row(const struct velo *v, const float *p, const float *xt,
		    double t, const float *z, int D, double *out)
{
	double in[VELO_FIXED + VELO_ZMAX], h[2][VELO_HMAX];
	const double pi = 3.14159265358979323846;
	int H = v->cfg.H, F = v->net.F, l, o, k, j;
	const double *x = in;

	for (j = 0; j < VELO_DMAX; j++) {
		in[j] = j < D ? xt[j] : 0.0;
		in[VELO_DMAX + j] = j < D;
	}
	in[2 * VELO_DMAX] = t;
	in[2 * VELO_DMAX + 1] = t * t;
	for (k = 1; k <= 7; k++) {
		in[2 * VELO_DMAX + 2 * k] = sin(k * pi * t);
		in[2 * VELO_DMAX + 2 * k + 1] = cos(k * pi * t);
	}
	for (j = 0; j < v->cfg.Z; j++)
		in[VELO_FIXED + j] = z[j];
	for (l = 0; l < v->cfg.L; l++) {
		int C = l ? H : F;
		const float *W = p + v->net.w[l], *b = p + v->net.b[l];

		for (o = 0; o < H; o++) {
			double s = b[o];

			for (k = 0; k < C; k++)
				s += (double)W[o * C + k] * x[k];
			h[l & 1][o] = ref_gelu(s);
		}
		x = h[l & 1];
	}
	for (o = 0; o < VELO_DMAX; o++) {
		double s = p[v->net.out_b + o];

		for (k = 0; k < H; k++)
			s += (double)p[v->net.out_w + o * H + k] * x[k];
		out[o] = o < D ? s : 0.0;
	}
}

/* sum_ij r_ij v_ij over the context's rows, by the reference. */
static double ref_dot_loss(void *pc)
{
	struct ctx *c = pc;
	double s = 0.0, o[VELO_DMAX];
	int i, j;

	for (i = 0; i < N; i++) {
		ref_row(&c->v, c->p, c->xt + i * VELO_DMAX, c->t[i], c->z + i * ZZ,
			c->D[i], o);
		for (j = 0; j < VELO_DMAX; j++)
			s += o[j] * c->r[i * VELO_DMAX + j];
	}
	return s;
}

/* The flow-matching loss over the context's rows, by the reference. */
static double ref_fm_loss(void *pc)
{
	struct ctx *c = pc;
	double s = 0.0, o[VELO_DMAX];
	float xt[VELO_DMAX];
	int i, j;

	for (i = 0; i < N; i++) {
		const float *a = c->x1 + i * VELO_DMAX, *b = c->x0 + i * VELO_DMAX;
		double e2 = 0.0;

		for (j = 0; j < VELO_DMAX; j++)
			xt[j] = (1.0f - c->t[i]) * b[j] + c->t[i] * a[j];
		ref_row(&c->v, c->p, xt, c->t[i], c->z + i * ZZ, c->D[i], o);
		for (j = 0; j < c->D[i]; j++) {
			double e = o[j] - ((double)a[j] - b[j]);

			e2 += e * e;
		}
		s += c->w[i] * e2;
	}
	return s;
}

/* ---- configuration and registration ------------------------------------ */

static void test_velo_config(void **state)
{
	struct velo_config bad[] = {
		{ 0, 16, 1 }, { 257, 16, 1 }, { 4, 7, 1 }, { 4, 1025, 1 },
		{ 4, 16, 0 }, { 4, 16, 9 },
	};
	struct velo_config ok[] = { { 1, 8, 1 }, { 256, 1024, 8 }, { 16, 64, 3 } };
	char err[64];
	struct layout lay;
	struct velo v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(velo_config_check(&bad[i], err, sizeof err), AM_EINVAL);
		assert_true(strlen(err) > 0);
		layout_init(&lay);
		assert_int_equal(velo_init(&v, &lay, &bad[i]), AM_EINVAL);
		assert_int_equal(lay.n, 0);
		layout_free(&lay);
	}
	assert_int_equal(velo_config_check(&bad[0], NULL, 0), AM_EINVAL);
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_int_equal(velo_config_check(&ok[i], err, sizeof err), AM_OK);
	/* a short error buffer is truncated, not overrun */
	assert_int_equal(velo_config_check(&bad[0], err, 5), AM_EINVAL);
	assert_int_equal(strlen(err), 4);
}

static void test_velo_registers_views(void **state)
{
	struct velo_config cfg = { .Z = 5, .H = 12, .L = 3 };
	const struct layout_view *w;
	struct layout lay;
	struct velo v;
	struct rng r;
	float *p;
	size_t i;

	(void)state;
	layout_init(&lay);
	assert_int_equal(velo_init(&v, &lay, &cfg), AM_OK);
	assert_int_equal(v.net.F, 2 * VELO_DMAX + VELO_TF + 5);
	assert_int_equal(lay.n, 2 * 3 + 2);
	w = layout_find(&lay, "velo.fc0.w");
	assert_non_null(w);
	assert_int_equal(w->shape[0], 12);
	assert_int_equal(w->shape[1], v.net.F);
	assert_int_equal(w->offset, v.net.w[0]);
	w = layout_find(&lay, "velo.fc2.w");
	assert_non_null(w);
	assert_int_equal(w->shape[0], 12);
	assert_int_equal(w->shape[1], 12);
	assert_int_equal(w->offset, v.net.w[2]);
	assert_int_equal(layout_find(&lay, "velo.fc1.b")->offset, v.net.b[1]);
	w = layout_find(&lay, "velo.out.w");
	assert_non_null(w);
	assert_int_equal(w->shape[0], VELO_DMAX);
	assert_int_equal(w->shape[1], 12);
	assert_int_equal(layout_find(&lay, "velo.out.b")->offset, v.net.out_b);
	assert_null(layout_find(&lay, "velo.fc3.w"));

	/* biases start at zero, weights do not; the output layer is small */
	p = tu_alloc(lay.total);
	rng_seed(&r, 1);
	velo_init_params(&v, p, &r);
	for (i = 0; i < VELO_DMAX; i++)
		assert_true(p[v.net.out_b + i] == 0.0f);
	for (i = 0; i < 12; i++)
		assert_true(p[v.net.b[0] + i] == 0.0f && p[v.net.b[2] + i] == 0.0f);
	assert_true(p[v.net.w[0]] != 0.0f && p[v.net.w[1]] != 0.0f &&
		    p[v.net.out_w] != 0.0f);
	for (i = 0; i < (size_t)VELO_DMAX * 12; i++)
		assert_true(fabsf(p[v.net.out_w + i]) < 0.2f);
	free(p);
	layout_free(&lay);

	assert_null(velo_ws_new(&v, 0));
	assert_null(velo_ws_new(&v, VELO_ROWS_MAX + 1));
	velo_ws_free(NULL);
}

/* ---- forward and gradients --------------------------------------------- */

static void test_velo_forward_matches_reference(void **state)
{
	struct ctx c;
	double o[VELO_DMAX];
	int i, j;

	(void)state;
	ctx_init(&c, 11);
	velo_forward(&c.v, c.p, c.ws, N, c.xt, c.t, c.z, c.D, c.out);
	for (i = 0; i < N; i++) {
		ref_row(&c.v, c.p, c.xt + i * VELO_DMAX, c.t[i], c.z + i * ZZ,
			c.D[i], o);
		for (j = 0; j < VELO_DMAX; j++)
			assert_true(fabs(c.out[i * VELO_DMAX + j] - o[j]) <=
				    1e-5 + 1e-4 * fabs(o[j]));
	}
	/* fewer rows than the workspace holds: the same answers */
	velo_forward(&c.v, c.p, c.ws, 2, c.xt, c.t, c.z, c.D, c.r);
	for (i = 0; i < 2 * VELO_DMAX; i++)
		assert_true(fabsf(c.r[i] - c.out[i]) <= 1e-6f);
	ctx_free(&c);
}

static void test_velo_backward_gradients(void **state)
{
	struct ctx c;
	int i, fails = 0;

	(void)state;
	ctx_init(&c, 21);
	velo_forward(&c.v, c.p, c.ws, N, c.xt, c.t, c.z, c.D, c.out);
	velo_backward(&c.v, c.p, c.dp, c.ws, N, c.r, c.dz, c.dxt);
	for (i = 0; i < c.lay.n; i++) {
		const struct layout_view *w = &c.lay.views[i];

		fails += tu_grad_check(w->name, c.p + w->offset, c.dp + w->offset,
				       w->size, ref_dot_loss, &c, GC_EPS, GC_ATOL,
				       GC_RTOL, 64);
	}
	fails += tu_grad_check("velo dz", c.z, c.dz, N * ZZ, ref_dot_loss, &c,
			       GC_EPS, GC_ATOL, GC_RTOL, N * ZZ);
	fails += tu_grad_check("velo dxt", c.xt, c.dxt, N * VELO_DMAX,
			       ref_dot_loss, &c, GC_EPS, GC_ATOL, GC_RTOL,
			       N * VELO_DMAX);
	assert_int_equal(fails, 0);
	ctx_free(&c);
}

static void test_velo_fm_loss_gradients(void **state)
{
	struct ctx c;
	double l, lr;
	int i, fails = 0;

	(void)state;
	ctx_init(&c, 31);
	l = velo_fm_loss(&c.v, c.p, c.dp, c.ws, N, c.x1, c.x0, c.t, c.z, c.D,
			 c.w, c.dz);
	lr = ref_fm_loss(&c);
	assert_true(fabs(l - lr) <= 1e-5 + 1e-4 * fabs(lr));
	for (i = 0; i < c.lay.n; i++) {
		const struct layout_view *w = &c.lay.views[i];

		fails += tu_grad_check(w->name, c.p + w->offset, c.dp + w->offset,
				       w->size, ref_fm_loss, &c, GC_EPS, GC_ATOL,
				       GC_RTOL, 64);
	}
	fails += tu_grad_check("velo fm dz", c.z, c.dz, N * ZZ, ref_fm_loss, &c,
			       GC_EPS, GC_ATOL, GC_RTOL, N * ZZ);
	assert_int_equal(fails, 0);
	/* without gradients it only evaluates */
	assert_true(velo_fm_loss(&c.v, c.p, NULL, c.ws, N, c.x1, c.x0, c.t, c.z,
				 c.D, c.w, NULL) == l);
	ctx_free(&c);
}

static void test_velo_backward_accumulates_and_overwrites(void **state)
{
	/* dp accumulates; dz and dxt are overwritten whatever they held; a
	 * second backward on the same forward gives the same gradients. */
	struct ctx c;
	float *g1;
	float dz2[N * ZZ], dxt2[N * VELO_DMAX];
	size_t i, n;

	(void)state;
	ctx_init(&c, 41);
	n = c.lay.total;
	g1 = tu_alloc(n);
	velo_forward(&c.v, c.p, c.ws, N, c.xt, c.t, c.z, c.D, c.out);
	velo_backward(&c.v, c.p, g1, c.ws, N, c.r, c.dz, c.dxt);
	for (i = 0; i < N * ZZ; i++)
		dz2[i] = 1e3f;
	for (i = 0; i < N * VELO_DMAX; i++)
		dxt2[i] = -1e3f;
	for (i = 0; i < n; i++)
		c.dp[i] = 1.0f;
	velo_backward(&c.v, c.p, c.dp, c.ws, N, c.r, dz2, dxt2);
	for (i = 0; i < n; i++)
		assert_true(fabsf(c.dp[i] - (1.0f + g1[i])) <=
			    1e-6f * (1.0f + fabsf(g1[i])));
	assert_memory_equal(dz2, c.dz, sizeof dz2);
	assert_memory_equal(dxt2, c.dxt, sizeof dxt2);
	/* no dp: only dz and dxt */
	velo_backward(&c.v, c.p, NULL, c.ws, N, c.r, dz2, NULL);
	assert_memory_equal(dz2, c.dz, sizeof dz2);
	free(g1);
	ctx_free(&c);
}

static void test_velo_padding(void **state)
{
	/* Outputs at dims >= D are 0; what x_t, x1, x0 and dout hold there
	 * changes nothing; dxt is 0 there. */
	struct ctx c;
	float out2[N * VELO_DMAX], *dp2;
	double l1, l2;
	int i, j;

	(void)state;
	ctx_init(&c, 51);
	dp2 = tu_alloc(c.lay.total);
	velo_forward(&c.v, c.p, c.ws, N, c.xt, c.t, c.z, c.D, c.out);
	velo_backward(&c.v, c.p, c.dp, c.ws, N, c.r, c.dz, c.dxt);
	l1 = velo_fm_loss(&c.v, c.p, NULL, c.ws, N, c.x1, c.x0, c.t, c.z, c.D,
			  c.w, NULL);
	for (i = 0; i < N; i++)
		for (j = c.D[i]; j < VELO_DMAX; j++) {
			assert_true(c.out[i * VELO_DMAX + j] == 0.0f);
			assert_true(c.dxt[i * VELO_DMAX + j] == 0.0f);
			c.xt[i * VELO_DMAX + j] = 1e6f;
			c.x1[i * VELO_DMAX + j] = -7.0f;
			c.x0[i * VELO_DMAX + j] = 99.0f;
			c.r[i * VELO_DMAX + j] = 1e9f;
		}
	velo_forward(&c.v, c.p, c.ws, N, c.xt, c.t, c.z, c.D, out2);
	assert_memory_equal(out2, c.out, sizeof out2);
	velo_backward(&c.v, c.p, dp2, c.ws, N, c.r, NULL, NULL);
	assert_memory_equal(dp2, c.dp, c.lay.total * sizeof(float));
	l2 = velo_fm_loss(&c.v, c.p, NULL, c.ws, N, c.x1, c.x0, c.t, c.z, c.D,
			  c.w, NULL);
	assert_true(l1 == l2);
	free(dp2);
	ctx_free(&c);
}

static void test_velo_fm_loss_chunks(void **state)
{
	/* n larger than the workspace: the loss, dp and dz match a single
	 * pass over all rows. */
	struct ctx c;
	struct velo_ws *small;
	float *dp2, dz2[N * ZZ];
	double l1, l2;
	size_t i;

	(void)state;
	ctx_init(&c, 61);
	small = velo_ws_new(&c.v, 3);
	assert_non_null(small);
	assert_int_equal(velo_ws_rows(small), 3);
	dp2 = tu_alloc(c.lay.total);
	l1 = velo_fm_loss(&c.v, c.p, c.dp, c.ws, N, c.x1, c.x0, c.t, c.z, c.D,
			  c.w, c.dz);
	l2 = velo_fm_loss(&c.v, c.p, dp2, small, N, c.x1, c.x0, c.t, c.z, c.D,
			  c.w, dz2);
	assert_true(fabs(l1 - l2) <= 1e-6 * fabs(l1));
	for (i = 0; i < c.lay.total; i++)
		assert_true(fabsf(c.dp[i] - dp2[i]) <= 1e-5f * (1.0f + fabsf(c.dp[i])));
	for (i = 0; i < N * ZZ; i++)
		assert_true(fabsf(c.dz[i] - dz2[i]) <= 1e-5f * (1.0f + fabsf(c.dz[i])));
	free(dp2);
	velo_ws_free(small);
	ctx_free(&c);
}

/* ---- the sampler ------------------------------------------------------- */

/* Every parameter 0 except what the caller sets. */
static void zero_params(const struct layout *lay, float *p)
{
	memset(p, 0, lay->total * sizeof *p);
}

static void test_velo_sample_constant_field(void **state)
{
	/* v = c everywhere (zero weights, output bias c): the exact field of
	 * the shift x1 = x0 + c, whose flow maps x0 to x0 + c at any step
	 * count.  x0 is reproduced from the documented draw order. */
	struct velo_config cfg = { .Z = 2, .H = 8, .L = 2 };
	const float cst[VELO_DMAX] = { 1.5f, -0.75f, 3.0f, 9, 9, 9, 9, 9 };
	enum { NS = 10, DS = 3 };
	float *p, out[NS * VELO_DMAX], z[2] = { 0.3f, -2.0f };
	struct velo_ws *ws;
	struct layout lay;
	struct velo v;
	struct rng r;
	int i, j, steps[] = { 1, 5, 64 }, s;

	(void)state;
	layout_init(&lay);
	assert_int_equal(velo_init(&v, &lay, &cfg), AM_OK);
	p = tu_alloc(lay.total);
	zero_params(&lay, p);
	memcpy(p + v.net.out_b, cst, sizeof cst);
	ws = velo_ws_new(&v, 4);	/* three chunks: 4, 4, 2 */
	assert_non_null(ws);
	for (s = 0; s < 3; s++) {
		rng_seed(&r, 123);
		velo_sample(&v, p, ws, z, DS, NS, steps[s], &r, out);
		rng_seed(&r, 123);
		for (i = 0; i < NS; i++)
			for (j = 0; j < VELO_DMAX; j++) {
				float got = out[i * VELO_DMAX + j];

				if (j < DS) {
					double x0 = rng_normal(&r);

					assert_true(fabs(got - (x0 + cst[j])) < 2e-5);
				} else {
					assert_true(got == 0.0f);
				}
			}
	}
	velo_ws_free(ws);
	free(p);
	layout_free(&lay);
}

static void test_velo_sample_midpoint_rule(void **state)
{
	/*
	 * A hand-set field v_0 = b x_0 + a t, linear in x and t, on dim 0 of
	 * D = 2 (dim 1 has v = 0).  Two hidden units carry x_0 + 20 and
	 * t + 20 through GELU, which is the identity (in float) that far
	 * right of zero; the output layer removes the offsets.  The midpoint
	 * rule on it is
	 *     x' = x (1 + bh + (bh)^2/2) + a h t_k (1 + bh/2) + a h^2/2,
	 * which the test runs in double from the same x0 and compares.
	 * Euler, or a midpoint evaluated at the wrong time, would be off by
	 * O(h) here.
	 */
	struct velo_config cfg = { .Z = 1, .H = 8, .L = 1 };
	const double a = 0.8, b = -0.6, off = 20.0;
	enum { NS = 6, DS = 2 };
	float *p, out[NS * VELO_DMAX], z[1] = { 0.0f };
	struct velo_ws *ws;
	struct layout lay;
	struct velo v;
	struct rng r;
	int i, k, s, steps[] = { 1, 3, 10 };

	(void)state;
	layout_init(&lay);
	assert_int_equal(velo_init(&v, &lay, &cfg), AM_OK);
	p = tu_alloc(lay.total);
	zero_params(&lay, p);
	p[v.net.w[0] + 0 * v.net.F + 0] = 1.0f;			/* h0 = x_0 + 20 */
	p[v.net.b[0] + 0] = (float)off;
	p[v.net.w[0] + 1 * v.net.F + 2 * VELO_DMAX] = 1.0f;	/* h1 = t + 20 (f[0] = t) */
	p[v.net.b[0] + 1] = (float)off;
	p[v.net.out_w + 0] = (float)b;			/* v_0 = b h0 + a h1 - 20 (a + b) */
	p[v.net.out_w + 1] = (float)a;
	p[v.net.out_b + 0] = (float)(-off * (a + b));
	ws = velo_ws_new(&v, 16);
	assert_non_null(ws);
	for (s = 0; s < 3; s++) {
		double h = 1.0 / steps[s];

		rng_seed(&r, 7);
		velo_sample(&v, p, ws, z, DS, NS, steps[s], &r, out);
		rng_seed(&r, 7);
		for (i = 0; i < NS; i++) {
			double x = rng_normal(&r), x1 = rng_normal(&r);

			for (k = 0; k < steps[s]; k++)
				x = x * (1 + b * h + b * b * h * h / 2) +
				    a * h * (k * h) * (1 + b * h / 2) + a * h * h / 2;
			assert_true(fabs(out[i * VELO_DMAX] - x) < 1e-4);
			assert_true(fabs(out[i * VELO_DMAX + 1] - x1) < 1e-6);
		}
	}
	velo_ws_free(ws);
	free(p);
	layout_free(&lay);
}

static void test_velo_sample_deterministic(void **state)
{
	/* A seed fixes the samples, whatever the workspace size; another seed
	 * gives others. */
	struct ctx c;
	struct velo_ws *big;
	float a[25 * VELO_DMAX], b[25 * VELO_DMAX], d[25 * VELO_DMAX];
	struct rng r;
	int i;

	(void)state;
	ctx_init(&c, 71);
	big = velo_ws_new(&c.v, 64);
	assert_non_null(big);
	rng_seed(&r, 5);
	velo_sample(&c.v, c.p, c.ws, c.z, 5, 25, 8, &r, a);
	rng_seed(&r, 5);
	velo_sample(&c.v, c.p, c.ws, c.z, 5, 25, 8, &r, b);
	assert_memory_equal(a, b, sizeof a);
	rng_seed(&r, 5);
	velo_sample(&c.v, c.p, big, c.z, 5, 25, 8, &r, d);
	for (i = 0; i < 25 * VELO_DMAX; i++) {
		assert_true(isfinite(a[i]));
		assert_true(fabsf(a[i] - d[i]) <= 1e-5f * (1.0f + fabsf(a[i])));
	}
	rng_seed(&r, 6);
	velo_sample(&c.v, c.p, c.ws, c.z, 5, 25, 8, &r, b);
	assert_true(memcmp(a, b, sizeof a) != 0);
	velo_ws_free(big);
	ctx_free(&c);
}

/* ---- end to end -------------------------------------------------------- */

/*
 * Trains a small network (Z = 1, H = 32, L = 2) with Adam on a 1-D problem
 * with two tasks told apart by z alone:
 *     z = +1: x1 = +-2 with equal odds, plus N(0, 0.1^2)  (mean 0, var 4.01)
 *     z = -1: x1 ~ N(1, 0.5^2)
 * then samples each task with 32 midpoint steps and checks the moments and,
 * for the two-point task, that the mass sits near +-2.
 */
static void test_velo_learns_toy_distributions(void **state)
{
	struct velo_config cfg = { .Z = 1, .H = 32, .L = 2 };
	enum { BT = 128, STEPS = 600, NS = 2000 };
	float x1[BT * VELO_DMAX], x0[BT * VELO_DMAX], t[BT], z[BT], w[BT];
	float *p, *dp, *out, zs;
	int D[BT], i, k, task, near;
	struct velo_ws *ws;
	struct layout lay;
	struct adam opt;
	struct velo v;
	struct rng r;
	double loss0 = 0.0, loss = 0.0, m, var;

	(void)state;
	layout_init(&lay);
	assert_int_equal(velo_init(&v, &lay, &cfg), AM_OK);
	p = tu_alloc(lay.total);
	dp = tu_alloc(lay.total);
	out = tu_alloc((size_t)NS * VELO_DMAX);
	rng_seed(&r, 2024);
	velo_init_params(&v, p, &r);
	ws = velo_ws_new(&v, 256);
	assert_non_null(ws);
	assert_int_equal(adam_init(&opt, lay.total), AM_OK);
	opt.lr = 3e-3f;
	memset(x1, 0, sizeof x1);
	memset(x0, 0, sizeof x0);
	for (i = 0; i < BT; i++) {
		D[i] = 1;
		w[i] = 1.0f / BT;
	}
	for (k = 0; k < STEPS; k++) {
		for (i = 0; i < BT; i++) {
			task = i & 1;
			z[i] = task ? 1.0f : -1.0f;
			if (task)
				x1[i * VELO_DMAX] = (rng_uniform(&r) < 0.5 ? -2.0f : 2.0f) +
						    0.1f * (float)rng_normal(&r);
			else
				x1[i * VELO_DMAX] = 1.0f + 0.5f * (float)rng_normal(&r);
			x0[i * VELO_DMAX] = (float)rng_normal(&r);
			t[i] = (float)rng_uniform(&r);
		}
		memset(dp, 0, lay.total * sizeof *dp);
		loss = velo_fm_loss(&v, p, dp, ws, BT, x1, x0, t, z, D, w, NULL);
		if (k < 20)
			loss0 += loss / 20;
		adam_step(&opt, p, dp, NULL);
	}
	assert_true(isfinite(loss) && loss < loss0);

	for (task = 0; task < 2; task++) {
		zs = task ? 1.0f : -1.0f;
		velo_sample(&v, p, ws, &zs, 1, NS, 32, &r, out);
		m = var = 0.0;
		near = 0;
		for (i = 0; i < NS; i++) {
			double x = out[i * VELO_DMAX];

			m += x / NS;
			near += fabs(fabs(x) - 2.0) < 0.6;
		}
		for (i = 0; i < NS; i++) {
			double d = out[i * VELO_DMAX] - m;

			var += d * d / NS;
		}
		if (task) {
			assert_true(fabs(m) < 0.35);
			assert_true(var > 3.0 && var < 5.0);
			assert_true(near > NS * 8 / 10);
		} else {
			assert_true(fabs(m - 1.0) < 0.2);
			assert_true(sqrt(var) > 0.3 && sqrt(var) < 0.75);
		}
	}
	adam_free(&opt);
	velo_ws_free(ws);
	free(out);
	free(dp);
	free(p);
	layout_free(&lay);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_velo_config),
		cmocka_unit_test(test_velo_registers_views),
		cmocka_unit_test(test_velo_forward_matches_reference),
		cmocka_unit_test(test_velo_backward_gradients),
		cmocka_unit_test(test_velo_fm_loss_gradients),
		cmocka_unit_test(test_velo_backward_accumulates_and_overwrites),
		cmocka_unit_test(test_velo_padding),
		cmocka_unit_test(test_velo_fm_loss_chunks),
		cmocka_unit_test(test_velo_sample_constant_field),
		cmocka_unit_test(test_velo_sample_midpoint_rule),
		cmocka_unit_test(test_velo_sample_deterministic),
		cmocka_unit_test(test_velo_learns_toy_distributions),
	};

	/* one BLAS thread: the machine is shared, the matrices are small */
	gemm_set_threads(1);
	return cmocka_run_group_tests_name("velo", tests, NULL, NULL);
}
