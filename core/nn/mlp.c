/*
 * mlp.c - the explicit regime's predictor f(x, z): forward, backward, and
 * the cross-entropy and squared-error losses.
 *
 * The first layer has two forms.  With one latent per row the input rows
 * [x, z] go through one (n x F) x (F x H) product.  With one latent shared
 * by all rows (zstride 0 in the losses) its contribution W_0z z is the same
 * for every row, so it is folded into the bias once, the product shrinks to
 * (n x X) x (X x H), and in backward dz and dW_0z come from the column sum
 * of dpre_0 instead of per-row products.
 */
#include "nn/mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/act.h"
#include "base/am.h"
#include "base/gemm.h"
#include "nn/linear.h"

struct mlp_ws {
	int max_rows;
	int n;			/* rows of the last mlp_forward; 0 if none */
	int shared;		/* the last forward shared one latent (zs) */
	int X, Z, O, H, L;
	/* last forward */
	float *inp;		/* (R, F) rows [x, z]; z columns unused if shared */
	float *pre;		/* (L, R, H) pre-activations */
	float *post;		/* (L, R, H) gelu outputs */
	float *zs;		/* (Z) the shared latent */
	float *bz;		/* (H) b_0 + W_0z zs */
	/* backward scratch */
	float *dh, *dpre;	/* (R, H) each */
	float *colsum;		/* (H) sum over rows of dpre_0 */
	/* loss scratch */
	float *out;		/* (R, O) network output */
	float *g;		/* (R, O) dloss/dout */
};

/* dp + off, or NULL when there is no gradient block (no arithmetic on a
 * null pointer). */
static float *mlp_grad(float *dp, size_t off)
{
	return dp ? dp + off : NULL;
}

int mlp_config_check(const struct mlp_config *c, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (c->X < 1 || c->X > MLP_XMAX)
		bad = "input features must be in [1, 64]";
	else if (c->Z < 0 || c->Z > MLP_ZMAX)
		bad = "latent size must be in [0, 256]";
	else if (c->O < 1 || c->O > MLP_OMAX)
		bad = "outputs must be in [1, 16]";
	else if (c->H < 1 || c->H > MLP_HMAX)
		bad = "hidden width must be in [1, 1024]";
	else if (c->L < 1 || c->L > MLP_LAYERS_MAX)
		bad = "hidden layers must be in [1, 8]";
	return am_check(bad, err, errlen);
}

int mlp_init(struct mlp *m, struct layout *params, const char *prefix,
	     const struct mlp_config *c)
{
	char name[LAYOUT_NAME_MAX];
	int l, H = c->H;

	if (mlp_config_check(c, NULL, 0) != AM_OK)
		return AM_EINVAL;
	/* the longest suffix is ".fc7.w" (6 bytes), then the NUL */
	if (!prefix || !prefix[0] || strlen(prefix) > LAYOUT_NAME_MAX - 7)
		return AM_EINVAL;
	memset(m, 0, sizeof *m);
	m->cfg = *c;
	m->F = c->X + c->Z;
	for (l = 0; l < c->L; l++) {
		snprintf(name, sizeof name, "%s.fc%d.w", prefix, l);
		m->w[l] = layout_add2(params, name, H, l ? H : m->F);
		snprintf(name, sizeof name, "%s.fc%d.b", prefix, l);
		m->b[l] = layout_add1(params, name, H);
		if (m->w[l] == (size_t)-1 || m->b[l] == (size_t)-1)
			return AM_ENOMEM;
	}
	snprintf(name, sizeof name, "%s.out.w", prefix);
	m->out_w = layout_add2(params, name, c->O, H);
	snprintf(name, sizeof name, "%s.out.b", prefix);
	m->out_b = layout_add1(params, name, c->O);
	if (m->out_w == (size_t)-1 || m->out_b == (size_t)-1)
		return AM_ENOMEM;
	return AM_OK;
}

void mlp_init_params(const struct mlp *m, float *p, struct rng *r)
{
	long H = m->cfg.H, O = m->cfg.O;
	int l;

	for (l = 0; l < m->cfg.L; l++) {
		long fan_in = l ? H : m->F;

		rng_fill_normal(r, p + m->w[l], H * fan_in, 0.0f,
				1.0f / sqrtf((float)fan_in));
		memset(p + m->b[l], 0, (size_t)H * sizeof *p);
	}
	rng_fill_normal(r, p + m->out_w, O * H, 0.0f, 0.1f / sqrtf((float)H));
	memset(p + m->out_b, 0, (size_t)O * sizeof *p);
}

void mlp_ws_free(struct mlp_ws *ws)
{
	if (!ws)
		return;
	free(ws->g); free(ws->out); free(ws->colsum); free(ws->dpre);
	free(ws->dh); free(ws->bz); free(ws->zs); free(ws->post);
	free(ws->pre); free(ws->inp);
	free(ws);
}

struct mlp_ws *mlp_ws_new(const struct mlp *m, int max_rows)
{
	struct mlp_ws *ws;
	size_t R, H = (size_t)m->cfg.H, L = (size_t)m->cfg.L;
	size_t F = (size_t)m->F, Z = (size_t)m->cfg.Z, O = (size_t)m->cfg.O;

	if (max_rows < 1 || max_rows > MLP_ROWS_MAX)
		return NULL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	R = (size_t)max_rows;
	ws->max_rows = max_rows;
	ws->X = m->cfg.X;
	ws->Z = m->cfg.Z;
	ws->O = m->cfg.O;
	ws->H = m->cfg.H;
	ws->L = m->cfg.L;
	ws->inp = calloc(R * F, sizeof(float));
	ws->pre = calloc(L * R * H, sizeof(float));
	ws->post = calloc(L * R * H, sizeof(float));
	ws->zs = calloc(Z + 1, sizeof(float));	/* + 1: Z may be 0 */
	ws->bz = calloc(H, sizeof(float));
	ws->dh = calloc(R * H, sizeof(float));
	ws->dpre = calloc(R * H, sizeof(float));
	ws->colsum = calloc(H, sizeof(float));
	ws->out = calloc(R * O, sizeof(float));
	ws->g = calloc(R * O, sizeof(float));
	if (!ws->inp || !ws->pre || !ws->post || !ws->zs || !ws->bz ||
	    !ws->dh || !ws->dpre || !ws->colsum || !ws->out || !ws->g) {
		mlp_ws_free(ws);
		return NULL;
	}
	return ws;
}

int mlp_ws_rows(const struct mlp_ws *ws)
{
	return ws->max_rows;
}

/* The workspace was made for a network of this shape. */
static void mlp_ws_check(const struct mlp *m, const struct mlp_ws *ws)
{
	AM_ASSERT(ws->X == m->cfg.X && ws->Z == m->cfg.Z && ws->O == m->cfg.O &&
		  ws->H == m->cfg.H && ws->L == m->cfg.L);
}

/*
 * The forward pass on n <= max_rows rows with row i's latent at
 * z + i * zstride (zstride 0: one shared latent).  Writes out (n x O) and
 * saves the activations and the latent's form for mlp_back.
 */
static void mlp_run(const struct mlp *m, const float *p, struct mlp_ws *ws,
		    int n, const float *x, int xs, const float *z, int zstride,
		    float *out)
{
	int X = m->cfg.X, Z = m->cfg.Z, H = m->cfg.H, L = m->cfg.L;
	int F = m->F, i, l;
	size_t RH = (size_t)ws->max_rows * H, nH = (size_t)n * H;
	const float *W0 = p + m->w[0];

	mlp_ws_check(m, ws);
	AM_ASSERT(n >= 1 && n <= ws->max_rows);
	AM_ASSERT(xs >= X && (zstride == 0 || zstride >= Z));
	for (i = 0; i < n; i++) {
		float *row = ws->inp + (size_t)i * F;

		memcpy(row, x + (size_t)i * xs, (size_t)X * sizeof *row);
		if (zstride)
			memcpy(row + X, z + (size_t)i * zstride,
			       (size_t)Z * sizeof *row);
	}
	if (zstride) {
		/* pre_0 (n x H) = [x, z] (n x F) W_0^T (F x H) + b_0 */
		linear_forward(ws->pre, ws->inp, W0, p + m->b[0], n, F, H);
	} else {
		memcpy(ws->zs, z, (size_t)Z * sizeof *z);
		memcpy(ws->bz, p + m->b[0], (size_t)H * sizeof *p);
		/* bz (H x 1) += W_0z (H x Z, columns X.. of W_0) z (Z x 1) */
		if (Z)
			gemm(false, false, H, 1, Z, 1.0f, W0 + X, F, z, 1, 1.0f,
			     ws->bz, 1);
		for (i = 0; i < n; i++)
			memcpy(ws->pre + (size_t)i * H, ws->bz,
			       (size_t)H * sizeof *ws->bz);
		/* pre_0 (n x H) += x (n x X) W_0x^T (X x H, columns 0..X-1) */
		gemm(false, true, n, H, X, 1.0f, ws->inp, F, W0, F, 1.0f,
		     ws->pre, H);
	}
	act_gelu_forward(ws->post, ws->pre, (long)nH);
	/* h_l = gelu(h_{l-1} W_l^T + b_l): (n, H) each */
	for (l = 1; l < L; l++) {
		float *pre = ws->pre + l * RH, *post = ws->post + l * RH;

		linear_forward(pre, post - RH, p + m->w[l], p + m->b[l], n, H, H);
		act_gelu_forward(post, pre, (long)nH);
	}
	/* out (n, O) = h_L W_o^T + b_o */
	linear_forward(out, ws->post + (L - 1) * RH, p + m->out_w,
		       p + m->out_b, n, H, m->cfg.O);
	ws->n = n;
	/* with no latent the two forms are one: the per-row one's backward
	 * (dW_0 from the saved input rows) is then exact */
	ws->shared = !zstride && Z;
}

/*
 * Backpropagates dout (n x O) through the output layer and the hidden
 * layers of the last mlp_run, down to the first layer's pre-activation:
 * leaves dpre_0 (n x H) in ws->dpre.  Accumulates the gradients of the
 * layers it passes (all but the first layer's weights and bias) into dp
 * unless NULL.
 */
static void mlp_back_stack(const struct mlp *m, const float *p, float *dp,
			   struct mlp_ws *ws, int n, const float *dout)
{
	int H = m->cfg.H, L = m->cfg.L, l;
	size_t RH = (size_t)ws->max_rows * H, nH = (size_t)n * H;

	/* output layer: dh = dout W_o, dW_o += dout^T h_L, db_o += sum dout */
	memset(ws->dh, 0, nH * sizeof *ws->dh);
	linear_backward(ws->dh, mlp_grad(dp, m->out_w), mlp_grad(dp, m->out_b),
			dout, ws->post + (L - 1) * RH, p + m->out_w, n, H,
			m->cfg.O);
	for (l = L - 1; l >= 0; l--) {
		/* dpre = gelu'(pre) * dh */
		memset(ws->dpre, 0, nH * sizeof *ws->dpre);
		act_gelu_backward(ws->dpre, ws->pre + l * RH, ws->dh, (long)nH);
		if (!l)
			break;
		/* dh is consumed: it now receives the gradient of h_{l-1} */
		memset(ws->dh, 0, nH * sizeof *ws->dh);
		linear_backward(ws->dh, mlp_grad(dp, m->w[l]), mlp_grad(dp, m->b[l]),
				ws->dpre, ws->post + (l - 1) * RH, p + m->w[l],
				n, H, H);
	}
}

/*
 * Backpropagates dout (n x O) through the last mlp_run.  Accumulates into
 * dp unless NULL; overwrites dx (n x X) unless NULL.  dz unless NULL: with
 * one latent per row, overwritten (n x Z); with a shared latent,
 * accumulated (Z), so that the losses can sum it over chunks.
 */
static void mlp_back(const struct mlp *m, const float *p, float *dp,
		     struct mlp_ws *ws, int n, const float *dout, float *dz,
		     float *dx)
{
	int X = m->cfg.X, Z = m->cfg.Z, H = m->cfg.H;
	int F = m->F, i, j;
	const float *W0 = p + m->w[0];
	float *dW0 = mlp_grad(dp, m->w[0]), *db0 = mlp_grad(dp, m->b[0]);

	mlp_ws_check(m, ws);
	AM_ASSERT(n >= 1 && n == ws->n);
	if (!dp && !dz && !dx)
		return;
	mlp_back_stack(m, p, dp, ws, n, dout);
	/* first layer: s = sum_i dpre_0[i] is db_0, and with a shared latent
	 * also gives dW_0z = s z^T and dz = W_0z^T s */
	if (dp || (ws->shared && dz)) {
		memset(ws->colsum, 0, (size_t)H * sizeof *ws->colsum);
		for (i = 0; i < n; i++) {
			const float *d = ws->dpre + (size_t)i * H;

			for (j = 0; j < H; j++)
				ws->colsum[j] += d[j];
		}
	}
	if (dp) {
		for (j = 0; j < H; j++)
			db0[j] += ws->colsum[j];
		if (ws->shared) {
			/* dW_0x (H x X, ld F) += dpre^T (H x n) x (n x X) */
			gemm(true, false, H, X, n, 1.0f, ws->dpre, H, ws->inp, F,
			     1.0f, dW0, F);
			/* dW_0z (H x Z, ld F) += s (H x 1) z^T (1 x Z) */
			gemm(false, false, H, Z, 1, 1.0f, ws->colsum, 1, ws->zs, Z,
			     1.0f, dW0 + X, F);
		} else {
			/* dW_0 (H x F) += dpre^T (H x n) [x, z] (n x F) */
			gemm(true, false, H, F, n, 1.0f, ws->dpre, H, ws->inp, F,
			     1.0f, dW0, F);
		}
	}
	if (dz && ws->shared) {
		/* dz (Z x 1) += W_0z^T (Z x H) s (H x 1) */
		gemm(true, false, Z, 1, H, 1.0f, W0 + X, F, ws->colsum, 1, 1.0f,
		     dz, 1);
	} else if (dz) {
		/* dz (n x Z) = dpre (n x H) W_0z (H x Z, ld F) */
		gemm(false, false, n, Z, H, 1.0f, ws->dpre, H, W0 + X, F, 0.0f,
		     dz, Z);
	}
	/* dx (n x X) = dpre (n x H) W_0x (H x X, ld F) */
	if (dx)
		gemm(false, false, n, X, H, 1.0f, ws->dpre, H, W0, F, 0.0f, dx, X);
}

void mlp_forward(const struct mlp *m, const float *p, struct mlp_ws *ws,
		 int n, const float *x, int xs, const float *z, float *out)
{
	mlp_run(m, p, ws, n, x, xs, z, m->cfg.Z, out);
}

void mlp_backward(const struct mlp *m, const float *p, float *dp,
		  struct mlp_ws *ws, int n, const float *dout, float *dz,
		  float *dx)
{
	AM_ASSERT(!ws->shared);
	mlp_back(m, p, dp, ws, n, dout, dz, dx);
}

void mlp_backward_input(const struct mlp *m, const float *p, float *dp,
			struct mlp_ws *ws, int n, const float *dout,
			float *dinp)
{
	int F = m->F, H = m->cfg.H;

	mlp_ws_check(m, ws);
	AM_ASSERT(n >= 1 && n == ws->n && !ws->shared);
	if (!dp && !dinp)
		return;
	mlp_back_stack(m, p, dp, ws, n, dout);
	if (dinp)
		memset(dinp, 0, (size_t)n * F * sizeof *dinp);
	/* first layer as a plain linear one: dinp (n x F) += dpre_0 W_0,
	 * dW_0 += dpre_0^T [x, z], db_0 += dpre_0 row after row */
	linear_backward(dinp, mlp_grad(dp, m->w[0]), mlp_grad(dp, m->b[0]),
			ws->dpre, ws->inp, p + m->w[0], n, F, H);
}

/* What a loss needs to turn a chunk's outputs into its loss and dloss/dout. */
struct mlp_head {
	int xent;		/* 1: cross-entropy, 0: squared error */
	int K;			/* active classes (xent) */
	const int *yc;		/* (n) labels (xent) */
	const float *yr;	/* (n) targets (squared error) */
	float gscale;		/* scale / n: the gradient of the mean */
	float *aux;		/* probs (n x O) or pred (n), or NULL */
};

/*
 * Cross-entropy of c rows starting at row `at`: out (c x O) logits.  Writes
 * g (c x O) = gscale (softmax - onehot) on the first K logits, 0 past them,
 * and the probabilities into aux when asked.  Returns the summed loss.
 */
static double mlp_head_xent(const struct mlp_head *h, int O, int at, int c,
			    const float *out, float *g)
{
	double loss = 0.0, e[MLP_OMAX];
	int i, k, K = h->K;

	for (i = 0; i < c; i++) {
		const float *o = out + (size_t)i * O;
		float *gi = g + (size_t)i * O;
		float *pr = h->aux ? h->aux + (size_t)(at + i) * O : NULL;
		int y = h->yc[at + i];
		double mx = o[0], se = 0.0;

		AM_ASSERT(y >= 0 && y < K);
		/* loss_i = log sum_k exp(o_k) - o_y, shifted by the max */
		for (k = 1; k < K; k++)
			mx = o[k] > mx ? o[k] : mx;
		for (k = 0; k < K; k++) {
			e[k] = exp(o[k] - mx);
			se += e[k];
		}
		loss += mx + log(se) - o[y];
		for (k = 0; k < O; k++) {
			double pk = k < K ? e[k] / se : 0.0;

			gi[k] = k < K ? h->gscale * (float)(pk - (k == y)) : 0.0f;
			if (pr)
				pr[k] = (float)pk;
		}
	}
	return loss;
}

/* Squared error of c rows starting at row `at` on output 0; g (c x O) =
 * gscale (f_0 - y) on output 0, 0 elsewhere.  Returns the summed loss. */
static double mlp_head_mse(const struct mlp_head *h, int O, int at, int c,
			   const float *out, float *g)
{
	double loss = 0.0;
	int i, k;

	for (i = 0; i < c; i++) {
		float f = out[(size_t)i * O], e = f - h->yr[at + i];
		float *gi = g + (size_t)i * O;

		loss += 0.5 * (double)e * e;
		gi[0] = h->gscale * e;
		for (k = 1; k < O; k++)
			gi[k] = 0.0f;
		if (h->aux)
			h->aux[at + i] = f;
	}
	return loss;
}

/* The chunked driver of both losses (see mlp.h for the conventions). */
static double mlp_loss(const struct mlp *m, const float *p, float *dp,
		       struct mlp_ws *ws, int n, const float *x, int xs,
		       const float *z, int zstride, const struct mlp_head *h,
		       float *dz)
{
	size_t Z = (size_t)m->cfg.Z;
	double loss = 0.0;
	int at, c;

	AM_ASSERT(n >= 1);
	if (dz && !zstride)
		memset(dz, 0, Z * sizeof *dz);
	for (at = 0; at < n; at += c) {
		size_t o = (size_t)at;

		c = n - at < ws->max_rows ? n - at : ws->max_rows;
		mlp_run(m, p, ws, c, x + o * xs, xs, z + o * zstride, zstride,
			ws->out);
		loss += h->xent ? mlp_head_xent(h, m->cfg.O, at, c, ws->out, ws->g)
				: mlp_head_mse(h, m->cfg.O, at, c, ws->out, ws->g);
		if (dp || dz)
			mlp_back(m, p, dp, ws, c, ws->g,
				 dz && zstride ? dz + o * Z : dz, NULL);
	}
	/* the saved activations are a chunk's, not a forward's */
	ws->n = 0;
	return loss / n;
}

double mlp_xent(const struct mlp *m, const float *p, float *dp,
		struct mlp_ws *ws, int n, const float *x, int xs,
		const float *z, int zstride, int K, const int *y, float scale,
		float *dz, float *probs)
{
	struct mlp_head h = { 1, K, y, NULL, scale / (float)n, probs };

	AM_ASSERT(K >= 1 && K <= m->cfg.O);
	return mlp_loss(m, p, dp, ws, n, x, xs, z, zstride, &h, dz);
}

double mlp_mse(const struct mlp *m, const float *p, float *dp,
	       struct mlp_ws *ws, int n, const float *x, int xs,
	       const float *z, int zstride, const float *y, float scale,
	       float *dz, float *pred)
{
	struct mlp_head h = { 0, 0, NULL, y, scale / (float)n, pred };

	return mlp_loss(m, p, dp, ws, n, x, xs, z, zstride, &h, dz);
}
