/*
 * test_mlp.c - the explicit regime's predictor f(x, z): configuration and
 * parameter registration, the float forward against a double-precision
 * reference, finite-difference gradients of mlp_backward (parameters, z, x)
 * and of mlp_xent and mlp_mse (parameters, z, with one latent per row and
 * with one shared latent, inactive classes past K), the scale factor,
 * shared against per-row latents, chunking, input padding, accumulation
 * rules, and a small end-to-end run that learns two classification tasks
 * told apart by z alone.
 *
 * Gradient tolerance.  The numeric gradients are central differences of a
 * double-precision reference of the network (ref_row below), so they carry
 * no float32 rounding of the forward pass: with eps = 1e-3 the truncation
 * error is O(eps^2) ~ 1e-7 and the only float error left is in the
 * perturbed value itself (x +- eps rounded to float: at most ulp(x)/2, a
 * relative error of the step, hence of the numeric gradient, below
 * 1.2e-7 / 1e-3 = 1.2e-4 for |x| < 2).  The analytic gradients are float32
 * sums of at most a few dozen terms.  So we require
 *     |analytic - numeric| <= 1e-4 + 1e-3 |numeric|,
 * about ten times looser than the worst error estimated above.  The
 * reference itself is checked against mlp_forward to 1e-5 + 1e-4 |f|.
 *
 * Every context's x rows have a stride XS > X with NaN in the padding
 * columns: any read of them would poison every output and gradient.
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
#include "nn/mlp.h"
#include "base/rng.h"
#include "testutil.h"

#define GC_EPS 1e-3f
#define GC_ATOL 1e-4f
#define GC_RTOL 1e-3f

enum { N = 7, XX = 3, XS = 5, ZZ = 3, OO = 4, HH = 16, LL = 2, KK = 3 };

struct ctx {
	struct mlp m;
	struct layout lay;
	struct mlp_ws *ws;
	float *p, *dp;
	float x[N * XS], z[N * ZZ], r[N * OO], yr[N];
	float out[N * OO], dz[N * ZZ], dx[N * XX], aux[N * OO];
	int y[N];
	int zstride;		/* for the loss references: 0 or ZZ */
};

/* A network with every parameter away from its special initial values:
 * biases and the output layer drawn at a scale where they matter. */
static void ctx_init_z(struct ctx *c, uint64_t seed, int Z)
{
	struct mlp_config cfg = { .X = XX, .Z = Z, .O = OO, .H = HH, .L = LL };
	uint64_t s = seed;
	struct rng r;
	int i, j;

	memset(c, 0, sizeof *c);
	layout_init(&c->lay);
	assert_int_equal(mlp_init(&c->m, &c->lay, "f", &cfg), AM_OK);
	c->p = tu_alloc(c->lay.total);
	c->dp = tu_alloc(c->lay.total);
	rng_seed(&r, seed);
	mlp_init_params(&c->m, c->p, &r);
	for (i = 0; i < c->lay.n; i++) {
		const struct layout_view *w = &c->lay.views[i];

		if (w->ndim == 1 || !strcmp(w->name, "f.out.w"))
			rng_fill_normal(&r, c->p + w->offset, (long)w->size,
					0.0f, 0.5f);
	}
	c->ws = mlp_ws_new(&c->m, N);
	assert_non_null(c->ws);
	tu_fill(c->x, N * XS, -1.5f, 1.5f, &s);
	for (i = 0; i < N; i++)
		for (j = XX; j < XS; j++)
			c->x[i * XS + j] = NAN;
	tu_fill(c->z, N * ZZ, -1.0f, 1.0f, &s);
	tu_fill(c->r, N * OO, -1.0f, 1.0f, &s);
	tu_fill(c->yr, N, -1.0f, 1.0f, &s);
	for (i = 0; i < N; i++)
		c->y[i] = (int)(rng_below(&r, KK));
	c->zstride = ZZ;
}

static void ctx_init(struct ctx *c, uint64_t seed)
{
	ctx_init_z(c, seed, ZZ);
}

static void ctx_free(struct ctx *c)
{
	mlp_ws_free(c->ws);
	free(c->p);
	free(c->dp);
	layout_free(&c->lay);
}

/* ---- the double-precision reference ------------------------------------ */

static double ref_gelu(double x)
{
	return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/* f(x, z) for one row, in double, straight from the definitions in mlp.h:
 * input [x (X), z (Z)], L gelu layers, a linear output. */
static void ref_row(const struct mlp *m, const float *p, const float *x,
		    const float *z, double *out)
{
	double in[MLP_XMAX + MLP_ZMAX], h[2][MLP_HMAX];
	int H = m->cfg.H, F = m->F, X = m->cfg.X, l, o, k;
	const double *a = in;

	for (k = 0; k < X; k++)
		in[k] = x[k];
	for (k = 0; k < m->cfg.Z; k++)
		in[X + k] = z[k];
	for (l = 0; l < m->cfg.L; l++) {
		int C = l ? H : F;
		const float *W = p + m->w[l], *b = p + m->b[l];

		for (o = 0; o < H; o++) {
			double s = b[o];

			for (k = 0; k < C; k++)
				s += (double)W[o * C + k] * a[k];
			h[l & 1][o] = ref_gelu(s);
		}
		a = h[l & 1];
	}
	for (o = 0; o < m->cfg.O; o++) {
		double s = p[m->out_b + o];

		for (k = 0; k < H; k++)
			s += (double)p[m->out_w + o * H + k] * a[k];
		out[o] = s;
	}
}

/* sum_io r_io f_io over the context's rows (one latent per row). */
static double ref_dot_loss(void *pc)
{
	struct ctx *c = pc;
	double s = 0.0, o[MLP_OMAX];
	int i, j;

	for (i = 0; i < N; i++) {
		ref_row(&c->m, c->p, c->x + i * XS, c->z + i * ZZ, o);
		for (j = 0; j < OO; j++)
			s += o[j] * c->r[i * OO + j];
	}
	return s;
}

/* Mean cross-entropy over the first KK logits, latent stride c->zstride. */
static double ref_xent(void *pc)
{
	struct ctx *c = pc;
	double s = 0.0, o[MLP_OMAX];
	int i, k;

	for (i = 0; i < N; i++) {
		double se = 0.0;

		ref_row(&c->m, c->p, c->x + i * XS, c->z + i * c->zstride, o);
		for (k = 0; k < KK; k++)
			se += exp(o[k]);
		s += log(se) - o[c->y[i]];
	}
	return s / N;
}

/* Mean of (f_0 - y)^2 / 2, latent stride c->zstride. */
static double ref_mse(void *pc)
{
	struct ctx *c = pc;
	double s = 0.0, o[MLP_OMAX];
	int i;

	for (i = 0; i < N; i++) {
		ref_row(&c->m, c->p, c->x + i * XS, c->z + i * c->zstride, o);
		s += 0.5 * (o[0] - c->yr[i]) * (o[0] - c->yr[i]);
	}
	return s / N;
}

/* Checks every parameter view and z against loss; returns the failures. */
static int check_params_and_z(struct ctx *c, const char *what, tu_loss_fn loss)
{
	int i, fails = 0;
	size_t nz = c->zstride ? N * ZZ : ZZ;

	for (i = 0; i < c->lay.n; i++) {
		const struct layout_view *w = &c->lay.views[i];

		fails += tu_grad_check(w->name, c->p + w->offset, c->dp + w->offset,
				       w->size, loss, c, GC_EPS, GC_ATOL, GC_RTOL,
				       64);
	}
	fails += tu_grad_check(what, c->z, c->dz, nz, loss, c, GC_EPS, GC_ATOL,
			       GC_RTOL, nz);
	return fails;
}

/* |a - b| <= tol (1 + |a|) elementwise. */
static void assert_close(const float *a, const float *b, size_t n, float tol)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_true(fabsf(a[i] - b[i]) <= tol * (1.0f + fabsf(a[i])));
}

/* ---- configuration and registration ------------------------------------ */

static void test_mlp_config(void **state)
{
	struct mlp_config bad[] = {
		{ 0, 4, 2, 16, 1 }, { 65, 4, 2, 16, 1 }, { 3, -1, 2, 16, 1 },
		{ 3, 257, 2, 16, 1 }, { 3, 4, 0, 16, 1 }, { 3, 4, 17, 16, 1 },
		{ 3, 4, 2, 0, 1 }, { 3, 4, 2, 1025, 1 }, { 3, 4, 2, 16, 0 },
		{ 3, 4, 2, 16, 9 },
	};
	struct mlp_config ok[] = {
		{ 1, 1, 1, 1, 1 }, { 64, 256, 16, 1024, 8 }, { 16, 32, 10, 64, 2 },
		{ 3, 0, 2, 16, 1 },
	};
	char err[64], longp[LAYOUT_NAME_MAX];
	struct layout lay;
	struct mlp m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(mlp_config_check(&bad[i], err, sizeof err), AM_EINVAL);
		assert_true(strlen(err) > 0);
		layout_init(&lay);
		assert_int_equal(mlp_init(&m, &lay, "f", &bad[i]), AM_EINVAL);
		assert_int_equal(lay.n, 0);
		layout_free(&lay);
	}
	assert_int_equal(mlp_config_check(&bad[0], NULL, 0), AM_EINVAL);
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_int_equal(mlp_config_check(&ok[i], err, sizeof err), AM_OK);
	/* a short error buffer is truncated, not overrun */
	assert_int_equal(mlp_config_check(&bad[0], err, 5), AM_EINVAL);
	assert_int_equal(strlen(err), 4);

	/* the prefix: present, non-empty, short enough for every name */
	layout_init(&lay);
	assert_int_equal(mlp_init(&m, &lay, NULL, &ok[2]), AM_EINVAL);
	assert_int_equal(mlp_init(&m, &lay, "", &ok[2]), AM_EINVAL);
	memset(longp, 'a', sizeof longp);
	longp[LAYOUT_NAME_MAX - 6] = '\0';	/* 58 bytes: one too many */
	assert_int_equal(mlp_init(&m, &lay, longp, &ok[2]), AM_EINVAL);
	assert_int_equal(lay.n, 0);
	longp[LAYOUT_NAME_MAX - 7] = '\0';	/* 57 bytes: fits */
	assert_int_equal(mlp_init(&m, &lay, longp, &ok[2]), AM_OK);
	assert_int_equal(lay.n, 2 * 2 + 2);
	layout_free(&lay);
}

static void test_mlp_registers_views(void **state)
{
	struct mlp_config cfg = { .X = 6, .Z = 5, .O = 3, .H = 12, .L = 3 };
	const struct layout_view *w;
	struct layout lay;
	struct mlp m, m2;
	struct rng r;
	float *p;
	size_t i;

	(void)state;
	layout_init(&lay);
	assert_int_equal(mlp_init(&m, &lay, "pred", &cfg), AM_OK);
	assert_int_equal(m.F, 6 + 5);
	assert_int_equal(lay.n, 2 * 3 + 2);
	w = layout_find(&lay, "pred.fc0.w");
	assert_non_null(w);
	assert_int_equal(w->shape[0], 12);
	assert_int_equal(w->shape[1], 11);
	assert_int_equal(w->offset, m.w[0]);
	w = layout_find(&lay, "pred.fc2.w");
	assert_non_null(w);
	assert_int_equal(w->shape[0], 12);
	assert_int_equal(w->shape[1], 12);
	assert_int_equal(w->offset, m.w[2]);
	assert_int_equal(layout_find(&lay, "pred.fc1.b")->offset, m.b[1]);
	w = layout_find(&lay, "pred.out.w");
	assert_non_null(w);
	assert_int_equal(w->shape[0], 3);
	assert_int_equal(w->shape[1], 12);
	w = layout_find(&lay, "pred.out.b");
	assert_non_null(w);
	assert_int_equal(w->shape[0], 3);
	assert_int_equal(w->offset, m.out_b);
	assert_null(layout_find(&lay, "pred.fc3.w"));
	/* a second network under another prefix shares the layout */
	assert_int_equal(mlp_init(&m2, &lay, "other", &cfg), AM_OK);
	assert_int_equal(lay.n, 2 * (2 * 3 + 2));
	assert_true(m2.w[0] > m.out_b);

	/* biases start at zero, weights do not; the output layer is small */
	p = tu_alloc(lay.total);
	rng_seed(&r, 1);
	mlp_init_params(&m, p, &r);
	for (i = 0; i < 3; i++)
		assert_true(p[m.out_b + i] == 0.0f);
	for (i = 0; i < 12; i++)
		assert_true(p[m.b[0] + i] == 0.0f && p[m.b[2] + i] == 0.0f);
	assert_true(p[m.w[0]] != 0.0f && p[m.w[1]] != 0.0f && p[m.out_w] != 0.0f);
	for (i = 0; i < 3 * 12; i++)
		assert_true(fabsf(p[m.out_w + i]) < 0.2f);
	/* the second network's block is untouched */
	for (i = m2.w[0]; i < lay.total; i++)
		assert_true(p[i] == 0.0f);
	free(p);
	layout_free(&lay);

	assert_null(mlp_ws_new(&m, 0));
	assert_null(mlp_ws_new(&m, MLP_ROWS_MAX + 1));
	mlp_ws_free(NULL);
}

/* ---- forward and backward ---------------------------------------------- */

static void test_mlp_forward_matches_reference(void **state)
{
	struct ctx c;
	double o[MLP_OMAX];
	int i, j;

	(void)state;
	ctx_init(&c, 11);
	mlp_forward(&c.m, c.p, c.ws, N, c.x, XS, c.z, c.out);
	for (i = 0; i < N; i++) {
		ref_row(&c.m, c.p, c.x + i * XS, c.z + i * ZZ, o);
		for (j = 0; j < OO; j++)
			assert_true(fabs(c.out[i * OO + j] - o[j]) <=
				    1e-5 + 1e-4 * fabs(o[j]));
	}
	/* fewer rows than the workspace holds: the same answers */
	mlp_forward(&c.m, c.p, c.ws, 2, c.x, XS, c.z, c.r);
	for (i = 0; i < 2 * OO; i++)
		assert_true(fabsf(c.r[i] - c.out[i]) <= 1e-6f);
	ctx_free(&c);
}

static void test_mlp_backward_gradients(void **state)
{
	struct ctx c;
	int i, fails;

	(void)state;
	ctx_init(&c, 21);
	mlp_forward(&c.m, c.p, c.ws, N, c.x, XS, c.z, c.out);
	mlp_backward(&c.m, c.p, c.dp, c.ws, N, c.r, c.dz, c.dx);
	fails = check_params_and_z(&c, "mlp dz", ref_dot_loss);
	/* dx has row stride X, x row stride XS: check row by row */
	for (i = 0; i < N; i++)
		fails += tu_grad_check("mlp dx", c.x + i * XS, c.dx + i * XX, XX,
				       ref_dot_loss, &c, GC_EPS, GC_ATOL, GC_RTOL,
				       XX);
	assert_int_equal(fails, 0);
	ctx_free(&c);
}

/* Z = 0: a plain MLP of x (the explicit head's feature map).  The forward
 * matches the reference and every parameter and dx get their gradient. */
static void test_mlp_no_latent(void **state)
{
	struct ctx c;
	double o[MLP_OMAX];
	int i, j, fails = 0;

	(void)state;
	ctx_init_z(&c, 41, 0);
	assert_int_equal(c.m.F, XX);
	mlp_forward(&c.m, c.p, c.ws, N, c.x, XS, c.z, c.out);
	for (i = 0; i < N; i++) {
		ref_row(&c.m, c.p, c.x + i * XS, c.z, o);
		for (j = 0; j < OO; j++)
			assert_true(fabs(c.out[i * OO + j] - o[j]) <=
				    1e-5 + 1e-4 * fabs(o[j]));
	}
	mlp_backward(&c.m, c.p, c.dp, c.ws, N, c.r, NULL, c.dx);
	for (i = 0; i < c.lay.n; i++) {
		const struct layout_view *w = &c.lay.views[i];

		fails += tu_grad_check(w->name, c.p + w->offset, c.dp + w->offset,
				       w->size, ref_dot_loss, &c, GC_EPS, GC_ATOL,
				       GC_RTOL, 64);
	}
	for (i = 0; i < N; i++)
		fails += tu_grad_check("mlp dx", c.x + i * XS, c.dx + i * XX, XX,
				       ref_dot_loss, &c, GC_EPS, GC_ATOL, GC_RTOL,
				       XX);
	assert_int_equal(fails, 0);
	ctx_free(&c);
}

static void test_mlp_backward_accumulates_and_overwrites(void **state)
{
	/* dp accumulates; dz and dx are overwritten whatever they held (NaN
	 * included); a second backward on the same forward gives the same
	 * gradients; the outputs do not depend on which gradients are asked
	 * for. */
	struct ctx c;
	float *g1, dz2[N * ZZ], dx2[N * XX];
	size_t i, n;

	(void)state;
	ctx_init(&c, 41);
	n = c.lay.total;
	g1 = tu_alloc(n);
	mlp_forward(&c.m, c.p, c.ws, N, c.x, XS, c.z, c.out);
	mlp_backward(&c.m, c.p, g1, c.ws, N, c.r, c.dz, c.dx);
	for (i = 0; i < N * ZZ; i++)
		dz2[i] = NAN;
	for (i = 0; i < N * XX; i++)
		dx2[i] = -1e3f;
	for (i = 0; i < n; i++)
		c.dp[i] = 1.0f;
	mlp_backward(&c.m, c.p, c.dp, c.ws, N, c.r, dz2, dx2);
	for (i = 0; i < n; i++)
		assert_true(fabsf(c.dp[i] - (1.0f + g1[i])) <=
			    1e-6f * (1.0f + fabsf(g1[i])));
	assert_memory_equal(dz2, c.dz, sizeof dz2);
	assert_memory_equal(dx2, c.dx, sizeof dx2);
	/* no dp: only dz, then only dx */
	memset(dz2, 0, sizeof dz2);
	memset(dx2, 0, sizeof dx2);
	mlp_backward(&c.m, c.p, NULL, c.ws, N, c.r, dz2, NULL);
	mlp_backward(&c.m, c.p, NULL, c.ws, N, c.r, NULL, dx2);
	assert_memory_equal(dz2, c.dz, sizeof dz2);
	assert_memory_equal(dx2, c.dx, sizeof dx2);
	/* nothing asked: nothing written */
	mlp_backward(&c.m, c.p, NULL, c.ws, N, c.r, NULL, NULL);
	free(g1);
	ctx_free(&c);
}

/* ---- the losses -------------------------------------------------------- */

static void test_mlp_xent_gradients(void **state)
{
	/* Both latent forms; KK = 3 active classes of OO = 4 outputs. */
	struct ctx c;
	double l, lr, o[MLP_OMAX];
	int zs, i, k;

	(void)state;
	for (zs = 0; zs < 2; zs++) {
		ctx_init(&c, 31 + zs);
		c.zstride = zs ? ZZ : 0;
		l = mlp_xent(&c.m, c.p, c.dp, c.ws, N, c.x, XS, c.z, c.zstride,
			     KK, c.y, 1.0f, c.dz, c.aux);
		lr = ref_xent(&c);
		assert_true(isfinite(l));
		assert_true(fabs(l - lr) <= 1e-5 + 1e-4 * fabs(lr));
		assert_int_equal(check_params_and_z(&c, "xent dz", ref_xent), 0);
		/* the inactive logit receives no gradient */
		for (k = 0; k < HH; k++)
			assert_true(c.dp[c.m.out_w + KK * HH + k] == 0.0f);
		assert_true(c.dp[c.m.out_b + KK] == 0.0f);
		assert_true(c.dp[c.m.out_b + 0] != 0.0f);
		/* probabilities: softmax of the first KK logits, 0 past them */
		for (i = 0; i < N; i++) {
			double se = 0.0, sum = 0.0;

			ref_row(&c.m, c.p, c.x + i * XS, c.z + i * c.zstride, o);
			for (k = 0; k < KK; k++)
				se += exp(o[k]);
			for (k = 0; k < KK; k++) {
				assert_true(fabs(c.aux[i * OO + k] - exp(o[k]) / se) < 1e-5);
				sum += c.aux[i * OO + k];
			}
			assert_true(fabs(sum - 1.0) < 1e-5);
			assert_true(c.aux[i * OO + KK] == 0.0f);
		}
		/* without gradients or probs it only evaluates */
		assert_true(mlp_xent(&c.m, c.p, NULL, c.ws, N, c.x, XS, c.z,
				     c.zstride, KK, c.y, 1.0f, NULL, NULL) == l);
		ctx_free(&c);
	}
}

static void test_mlp_mse_gradients(void **state)
{
	struct ctx c;
	double l, lr, o[MLP_OMAX];
	int zs, i, k;

	(void)state;
	for (zs = 0; zs < 2; zs++) {
		ctx_init(&c, 51 + zs);
		c.zstride = zs ? ZZ : 0;
		l = mlp_mse(&c.m, c.p, c.dp, c.ws, N, c.x, XS, c.z, c.zstride,
			    c.yr, 1.0f, c.dz, c.aux);
		lr = ref_mse(&c);
		assert_true(fabs(l - lr) <= 1e-5 + 1e-4 * fabs(lr));
		assert_int_equal(check_params_and_z(&c, "mse dz", ref_mse), 0);
		/* outputs past 0 receive no gradient */
		for (k = HH; k < OO * HH; k++)
			assert_true(c.dp[c.m.out_w + k] == 0.0f);
		for (k = 1; k < OO; k++)
			assert_true(c.dp[c.m.out_b + k] == 0.0f);
		for (i = 0; i < N; i++) {
			ref_row(&c.m, c.p, c.x + i * XS, c.z + i * c.zstride, o);
			assert_true(fabs(c.aux[i] - o[0]) <= 1e-5 + 1e-4 * fabs(o[0]));
		}
		assert_true(mlp_mse(&c.m, c.p, NULL, c.ws, N, c.x, XS, c.z,
				    c.zstride, c.yr, 1.0f, NULL, NULL) == l);
		ctx_free(&c);
	}
}

static void test_mlp_loss_scale(void **state)
{
	/* scale multiplies dp and dz, never the returned loss. */
	struct ctx c;
	float *dp2, dz2[N * ZZ];
	double l1, l2;
	size_t i;
	int zs;

	(void)state;
	for (zs = 0; zs < 2; zs++) {
		size_t nz = zs ? N * ZZ : ZZ;

		ctx_init(&c, 61 + zs);
		dp2 = tu_alloc(c.lay.total);
		c.zstride = zs ? ZZ : 0;
		l1 = mlp_xent(&c.m, c.p, c.dp, c.ws, N, c.x, XS, c.z, c.zstride,
			      KK, c.y, 1.0f, c.dz, NULL);
		l2 = mlp_xent(&c.m, c.p, dp2, c.ws, N, c.x, XS, c.z, c.zstride,
			      KK, c.y, -2.5f, dz2, NULL);
		assert_true(l1 == l2);
		for (i = 0; i < c.lay.total; i++)
			assert_true(fabsf(dp2[i] + 2.5f * c.dp[i]) <=
				    1e-6f * (1.0f + fabsf(dp2[i])));
		for (i = 0; i < nz; i++)
			assert_true(fabsf(dz2[i] + 2.5f * c.dz[i]) <=
				    1e-6f * (1.0f + fabsf(dz2[i])));
		memset(c.dp, 0, c.lay.total * sizeof *c.dp);
		memset(dp2, 0, c.lay.total * sizeof *dp2);
		l1 = mlp_mse(&c.m, c.p, c.dp, c.ws, N, c.x, XS, c.z, c.zstride,
			     c.yr, 1.0f, c.dz, NULL);
		l2 = mlp_mse(&c.m, c.p, dp2, c.ws, N, c.x, XS, c.z, c.zstride,
			     c.yr, 0.5f, dz2, NULL);
		assert_true(l1 == l2);
		for (i = 0; i < c.lay.total; i++)
			assert_true(fabsf(dp2[i] - 0.5f * c.dp[i]) <=
				    1e-6f * (1.0f + fabsf(dp2[i])));
		for (i = 0; i < nz; i++)
			assert_true(fabsf(dz2[i] - 0.5f * c.dz[i]) <=
				    1e-6f * (1.0f + fabsf(dz2[i])));
		free(dp2);
		ctx_free(&c);
	}
}

static void test_mlp_shared_equals_per_row(void **state)
{
	/* One latent shared by zstride 0 is the same as that latent copied to
	 * every row: loss, probs and dp agree and dz is the sum of the per-row
	 * dz.  A per-row stride larger than Z reads only Z floats per row. */
	enum { ZW = ZZ + 2 };
	struct ctx c;
	float zrep[N * ZZ], zwide[N * ZW], dzr[N * ZZ], dzw[N * ZZ];
	float pr[N * OO], pw[N * OO], *dpr, *dpw;
	double ls, lr, lw;
	int i, j;

	(void)state;
	ctx_init(&c, 71);
	dpr = tu_alloc(c.lay.total);
	dpw = tu_alloc(c.lay.total);
	for (i = 0; i < N; i++) {
		for (j = 0; j < ZZ; j++) {
			zrep[i * ZZ + j] = c.z[j];
			zwide[i * ZW + j] = c.z[j];
		}
		for (j = ZZ; j < ZW; j++)
			zwide[i * ZW + j] = NAN;
	}
	ls = mlp_xent(&c.m, c.p, c.dp, c.ws, N, c.x, XS, c.z, 0, KK, c.y, 1.0f,
		      c.dz, c.aux);
	lr = mlp_xent(&c.m, c.p, dpr, c.ws, N, c.x, XS, zrep, ZZ, KK, c.y, 1.0f,
		      dzr, pr);
	lw = mlp_xent(&c.m, c.p, dpw, c.ws, N, c.x, XS, zwide, ZW, KK, c.y, 1.0f,
		      dzw, pw);
	assert_true(fabs(ls - lr) <= 1e-6 * fabs(lr));
	assert_true(lw == lr);
	assert_memory_equal(dpw, dpr, c.lay.total * sizeof *dpr);
	assert_memory_equal(dzw, dzr, sizeof dzr);
	assert_memory_equal(pw, pr, sizeof pr);
	assert_close(pr, c.aux, N * OO, 1e-6f);
	assert_close(dpr, c.dp, c.lay.total, 1e-5f);
	for (j = 0; j < ZZ; j++) {
		float s = 0.0f;

		for (i = 0; i < N; i++)
			s += dzr[i * ZZ + j];
		assert_true(fabsf(s - c.dz[j]) <= 1e-5f * (1.0f + fabsf(s)));
	}
	free(dpw);
	free(dpr);
	ctx_free(&c);
}

static void test_mlp_loss_chunks(void **state)
{
	/* n larger than the workspace (chunks of 3, 3, 1 rows): loss, dp, dz
	 * and probs or pred match a single pass over all rows, in both latent
	 * forms and for both losses. */
	struct ctx c;
	struct mlp_ws *small;
	float *dp2, dz2[N * ZZ], aux2[N * OO];
	double l1, l2;
	int zs, kind;

	(void)state;
	for (zs = 0; zs < 2; zs++)
		for (kind = 0; kind < 2; kind++) {
			size_t nz = zs ? N * ZZ : ZZ;

			ctx_init(&c, 81 + 2 * zs + kind);
			c.zstride = zs ? ZZ : 0;
			small = mlp_ws_new(&c.m, 3);
			assert_non_null(small);
			assert_int_equal(mlp_ws_rows(small), 3);
			dp2 = tu_alloc(c.lay.total);
			if (kind) {
				l1 = mlp_xent(&c.m, c.p, c.dp, c.ws, N, c.x, XS, c.z,
					      c.zstride, KK, c.y, 1.0f, c.dz, c.aux);
				l2 = mlp_xent(&c.m, c.p, dp2, small, N, c.x, XS, c.z,
					      c.zstride, KK, c.y, 1.0f, dz2, aux2);
			} else {
				l1 = mlp_mse(&c.m, c.p, c.dp, c.ws, N, c.x, XS, c.z,
					     c.zstride, c.yr, 1.0f, c.dz, c.aux);
				l2 = mlp_mse(&c.m, c.p, dp2, small, N, c.x, XS, c.z,
					     c.zstride, c.yr, 1.0f, dz2, aux2);
			}
			assert_true(fabs(l1 - l2) <= 1e-6 * fabs(l1));
			assert_close(c.dp, dp2, c.lay.total, 1e-5f);
			assert_close(c.dz, dz2, nz, 1e-5f);
			assert_close(c.aux, aux2, kind ? N * OO : N, 1e-6f);
			free(dp2);
			mlp_ws_free(small);
			ctx_free(&c);
		}
}

static void test_mlp_padding(void **state)
{
	/* Columns of x past X are never read: the NaN-padded rows of stride XS
	 * and the same rows packed at stride X give identical outputs,
	 * gradients and losses, and other padding values change nothing. */
	struct ctx c;
	float xp[N * XX], out2[N * OO], dz2[N * ZZ], dx2[N * XX], *dp2;
	double l1, l2;
	int i, j;

	(void)state;
	ctx_init(&c, 91);
	dp2 = tu_alloc(c.lay.total);
	for (i = 0; i < N; i++)
		for (j = 0; j < XX; j++)
			xp[i * XX + j] = c.x[i * XS + j];
	mlp_forward(&c.m, c.p, c.ws, N, c.x, XS, c.z, c.out);
	mlp_backward(&c.m, c.p, c.dp, c.ws, N, c.r, c.dz, c.dx);
	for (i = 0; i < N * OO; i++)
		assert_true(isfinite(c.out[i]));
	mlp_forward(&c.m, c.p, c.ws, N, xp, XX, c.z, out2);
	mlp_backward(&c.m, c.p, dp2, c.ws, N, c.r, dz2, dx2);
	assert_memory_equal(out2, c.out, sizeof out2);
	assert_memory_equal(dp2, c.dp, c.lay.total * sizeof(float));
	assert_memory_equal(dz2, c.dz, sizeof dz2);
	assert_memory_equal(dx2, c.dx, sizeof dx2);

	l1 = mlp_xent(&c.m, c.p, NULL, c.ws, N, c.x, XS, c.z, 0, KK, c.y, 1.0f,
		      NULL, NULL);
	l2 = mlp_xent(&c.m, c.p, NULL, c.ws, N, xp, XX, c.z, 0, KK, c.y, 1.0f,
		      NULL, NULL);
	assert_true(isfinite(l1) && l1 == l2);
	for (i = 0; i < N; i++)
		for (j = XX; j < XS; j++)
			c.x[i * XS + j] = 1e30f;
	l2 = mlp_mse(&c.m, c.p, NULL, c.ws, N, c.x, XS, c.z, ZZ, c.yr, 1.0f,
		     NULL, NULL);
	l1 = mlp_mse(&c.m, c.p, NULL, c.ws, N, xp, XX, c.z, ZZ, c.yr, 1.0f,
		     NULL, NULL);
	assert_true(isfinite(l1) && l1 == l2);
	free(dp2);
	ctx_free(&c);
}

/* ---- end to end -------------------------------------------------------- */

/* Error rate of the network on n rows of one task (latent zv) with labels
 * y, through mlp_forward with the latent copied to every row, in chunks of
 * the workspace. */
static double task_error(const struct mlp *m, const float *p,
			 struct mlp_ws *ws, int n, const float *x,
			 const int *y, float zv)
{
	float out[256 * 2], z[256];
	int at, c, i, wrong = 0;

	assert_true(mlp_ws_rows(ws) >= 256);
	for (i = 0; i < 256; i++)
		z[i] = zv;
	for (at = 0; at < n; at += c) {
		c = n - at < 256 ? n - at : 256;
		mlp_forward(m, p, ws, c, x + (size_t)at * 2, 2, z, out);
		for (i = 0; i < c; i++)
			wrong += (out[i * 2 + 1] > out[i * 2]) != y[at + i];
	}
	return (double)wrong / n;
}

/* Labels of the task with latent zv: y = [x_0 + zv x_1 > 0]. */
static void task_labels(const float *x, int n, float zv, int *y)
{
	int i;

	for (i = 0; i < n; i++)
		y[i] = x[i * 2] + zv * x[i * 2 + 1] > 0.0f;
}

/*
 * Trains a small network (X = 2, Z = 1, O = K = 2, H = 32, L = 2) with Adam
 * on two linear classification tasks on the same inputs, told apart only by
 * z: z = +1 labels by x_0 + x_1 > 0, z = -1 by x_0 - x_1 > 0 (they disagree
 * on half the plane).  Each step takes the mean cross-entropy of 64 fresh
 * rows per task with the task's latent shared (zstride 0).  Then on fresh
 * rows each task's error is below 5%, and with the other task's latent the
 * error is near chance: z, not x, carries the task.
 */
static void test_mlp_learns_two_tasks(void **state)
{
	struct mlp_config cfg = { .X = 2, .Z = 1, .O = 2, .H = 32, .L = 2 };
	enum { BT = 64, STEPS = 400, NT = 2000 };
	float xb[BT * 2], *xt, *p, *dp, zv;
	int yb[BT], *yt, i, k, task;
	struct mlp_ws *ws;
	struct layout lay;
	struct adam opt;
	struct mlp m;
	struct rng r;
	double loss0 = 0.0, loss = 0.0, err;

	(void)state;
	layout_init(&lay);
	assert_int_equal(mlp_init(&m, &lay, "f", &cfg), AM_OK);
	p = tu_alloc(lay.total);
	dp = tu_alloc(lay.total);
	xt = tu_alloc(NT * 2);
	yt = calloc(NT, sizeof *yt);
	assert_non_null(yt);
	rng_seed(&r, 2025);
	mlp_init_params(&m, p, &r);
	ws = mlp_ws_new(&m, 256);
	assert_non_null(ws);
	assert_int_equal(adam_init(&opt, lay.total), AM_OK);
	opt.lr = 1e-2f;
	for (k = 0; k < STEPS; k++) {
		memset(dp, 0, lay.total * sizeof *dp);
		loss = 0.0;
		for (task = 0; task < 2; task++) {
			zv = task ? 1.0f : -1.0f;
			for (i = 0; i < BT * 2; i++)
				xb[i] = (float)rng_normal(&r);
			task_labels(xb, BT, zv, yb);
			loss += 0.5 * mlp_xent(&m, p, dp, ws, BT, xb, 2, &zv, 0, 2,
					       yb, 0.5f, NULL, NULL);
		}
		if (k < 20)
			loss0 += loss / 20;
		adam_step(&opt, p, dp, NULL);
	}
	assert_true(isfinite(loss) && loss < 0.5 * loss0);

	for (i = 0; i < NT * 2; i++)
		xt[i] = (float)rng_normal(&r);
	for (task = 0; task < 2; task++) {
		zv = task ? 1.0f : -1.0f;
		task_labels(xt, NT, zv, yt);
		err = task_error(&m, p, ws, NT, xt, yt, zv);
		assert_true(err < 0.05);
		/* the other task's latent on these labels: near chance */
		err = task_error(&m, p, ws, NT, xt, yt, -zv);
		assert_true(err > 0.3);
	}
	adam_free(&opt);
	mlp_ws_free(ws);
	free(yt);
	free(xt);
	free(dp);
	free(p);
	layout_free(&lay);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mlp_config),
		cmocka_unit_test(test_mlp_registers_views),
		cmocka_unit_test(test_mlp_forward_matches_reference),
		cmocka_unit_test(test_mlp_backward_gradients),
		cmocka_unit_test(test_mlp_no_latent),
		cmocka_unit_test(test_mlp_backward_accumulates_and_overwrites),
		cmocka_unit_test(test_mlp_xent_gradients),
		cmocka_unit_test(test_mlp_mse_gradients),
		cmocka_unit_test(test_mlp_loss_scale),
		cmocka_unit_test(test_mlp_shared_equals_per_row),
		cmocka_unit_test(test_mlp_loss_chunks),
		cmocka_unit_test(test_mlp_padding),
		cmocka_unit_test(test_mlp_learns_two_tasks),
	};

	/* one BLAS thread: the machine is shared, the matrices are small */
	gemm_set_threads(1);
	return cmocka_run_group_tests_name("mlp", tests, NULL, NULL);
}
