/*
 * velo.h - the conditional velocity network of a flow-matching generative
 * model, v(x_t, t, z), and its training loss and sampler.
 *
 * Convention (rectified flow, linear interpolation): x0 ~ N(0, I), x1 a data
 * point, t ~ U[0, 1], x_t = (1 - t) x0 + t x1, and the regression target is
 * u = x1 - x0.  Sampling integrates dx/dt = v(x, t, z) from t = 0 (noise)
 * to t = 1 (data).  z is a per-task latent of Z floats.
 *
 * Rows.  A data row holds VELO_DMAX floats; a row with D active dimensions
 * (1 <= D <= VELO_DMAX) uses entries 0..D-1, and entries D.. are padding:
 * they never influence any output, and every output or gradient there is
 * written as 0.
 *
 * Network.  Per row the input is the F = 2 VELO_DMAX + VELO_TF + Z vector
 *     [x_t (padding zeroed), active-dim mask (1 for j < D, else 0),
 *      time features (VELO_TF), z (Z)]
 * followed by L hidden layers h_l = gelu(W_l h_{l-1} + b_l) of width H and
 * a linear output v = W_o h_L + b_o of VELO_DMAX floats.  The layers are an
 * mlp (mlp.h) with X = VELO_FIXED features and a latent of Z per row; this
 * file adds the input features, the padding rules, the loss and the
 * sampler.
 *
 * Time features (VELO_TF = 16), for t in [0, 1]:
 *     f[0] = t,  f[1] = t^2,
 *     f[2k] = sin(k pi t),  f[2k + 1] = cos(k pi t)   for k = 1..7,
 * a smooth polynomial part plus the first seven terms of the Fourier series
 * on [0, 1]; the highest frequency has period 2/7, coarse enough that a few
 * dozen midpoint steps resolve it.
 *
 * Ownership.  A struct velo owns no floats: velo_init registers the
 * parameters as named views "velo.*" in the caller's layout (through
 * mlp_init, so a larger model keeps one parameter block and one gradient
 * block) and records their offsets.  A struct velo_ws owns the activations
 * of one forward / backward on up to max_rows rows (an mlp workspace) and
 * the scratch of the loss and sampler; it is never shared between threads.
 * One struct velo and one parameter block may serve many threads at once,
 * each with its own workspace.  Nothing here allocates after velo_ws_new,
 * prints, or reads a clock.
 */
#ifndef VELO_H
#define VELO_H

#include <stddef.h>

#include "base/layout.h"
#include "base/rng.h"
#include "nn/mlp.h"

#define VELO_DMAX 8		/* data dimensions; row stride of x, v, u */
#define VELO_TF 16		/* time features (see above) */
#define VELO_FIXED (2 * VELO_DMAX + VELO_TF)	/* input floats before z */
#define VELO_ZMAX MLP_ZMAX	/* largest latent */
#define VELO_HMAX MLP_HMAX	/* widest hidden layer */
#define VELO_LAYERS_MAX MLP_LAYERS_MAX	/* most hidden layers */
#define VELO_ROWS_MAX MLP_ROWS_MAX	/* largest workspace, in rows */
#define VELO_STEPS_MAX 1024	/* most sampler steps */

struct velo_config {
	int Z;			/* latent size, 1..VELO_ZMAX */
	int H;			/* hidden width, 8..VELO_HMAX */
	int L;			/* hidden layers, 1..VELO_LAYERS_MAX */
};

/* The configuration and the layer stack (the offsets of the parameter
 * views in the caller's block are net's). */
struct velo {
	struct velo_config cfg;
	struct mlp net;		/* X = VELO_FIXED, Z, O = VELO_DMAX, H, L */
};

/* Opaque: activations and scratch for up to max_rows rows. */
struct velo_ws;

/*
 * Checks a configuration.  Returns AM_OK, or AM_EINVAL with a message naming
 * the field copied into err (truncated to errlen; err may be NULL).
 */
int velo_config_check(const struct velo_config *c, char *err, size_t errlen);

/*
 * Registers the parameters in params as "velo.fc<l>.w" (H x F, then H x H),
 * "velo.fc<l>.b" (H) for l = 0..L-1, and "velo.out.w" (VELO_DMAX x H),
 * "velo.out.b" (VELO_DMAX), and records their offsets in *v.  Returns AM_OK,
 * AM_EINVAL (bad configuration; params untouched) or AM_ENOMEM.  The names
 * must not already be in params (a second velo in one layout is a
 * programming error and aborts in layout_add).
 */
int velo_init(struct velo *v, struct layout *params,
	      const struct velo_config *c);

/*
 * Initialises the network's parameters inside the block p (the rest of p is
 * untouched): hidden weights N(0, 1/fan_in), all biases 0, output weights
 * N(0, (0.1)^2 / H) - small, so the initial field is close to zero, but not
 * zero, so that every layer and z receive gradient from the first step.
 */
void velo_init_params(const struct velo *v, float *p, struct rng *r);

/*
 * A workspace for up to max_rows rows (1..VELO_ROWS_MAX) of this network.
 * Returns a new workspace the caller frees with velo_ws_free, or NULL when
 * out of memory or max_rows is out of range.
 */
struct velo_ws *velo_ws_new(const struct velo *v, int max_rows);

/* Frees a workspace; NULL is a no-op. */
void velo_ws_free(struct velo_ws *ws);

/* The max_rows the workspace was made for. */
int velo_ws_rows(const struct velo_ws *ws);

/*
 * out (n x VELO_DMAX) = v(xt, t, z) on n rows, 1 <= n <= max_rows of ws:
 * xt (n x VELO_DMAX), t (n), z (n x Z, one latent per row), D (n, each in
 * 1..VELO_DMAX).  Overwrites out; out[i][j] = 0 for j >= D[i], and xt there
 * is never read into the network.  Saves the activations velo_backward
 * needs in ws (replacing those of any earlier call).  All inputs are
 * borrowed for the call only; out must not alias them.
 */
void velo_forward(const struct velo *v, const float *p, struct velo_ws *ws,
		  int n, const float *xt, const float *t, const float *z,
		  const int *D, float *out);

/*
 * Backpropagates dout (n x VELO_DMAX, the gradient of a loss with respect to
 * out of the last velo_forward on ws; n must match it; entries at padding
 * dims are ignored).  Accumulates into dp (same layout as p) unless NULL;
 * overwrites dz (n x Z) and dxt (n x VELO_DMAX, 0 at padding dims) unless
 * NULL.  t is treated as a constant.  Uses ws's scratch; does not change
 * the saved activations, so it may be called again on the same forward.
 */
void velo_backward(const struct velo *v, const float *p, float *dp,
		   struct velo_ws *ws, int n, const float *dout, float *dz,
		   float *dxt);

/*
 * The flow-matching loss on n >= 1 rows (any n: rows are processed in
 * chunks of the workspace's max_rows):
 *     loss = sum_i w_i sum_{j < D_i} (v(x_t,i, t_i, z_i)_j - u_ij)^2,
 *     x_t = (1 - t) x0 + t x1,  u = x1 - x0,
 * with x1, x0 (n x VELO_DMAX), t (n), z (n x Z), D (n), w (n).  Returns the
 * loss (summed in double).  If dp != NULL accumulates dloss/dp into it; if
 * dz != NULL overwrites it with dloss/dz (n x Z).  Overwrites ws's saved
 * activations (a later velo_backward is not allowed without a forward).
 */
double velo_fm_loss(const struct velo *v, const float *p, float *dp,
		    struct velo_ws *ws, int n, const float *x1, const float *x0,
		    const float *t, const float *z, const int *D,
		    const float *w, float *dz);

/*
 * Draws n >= 1 samples for one latent z (Z floats) with D active dims
 * (1..VELO_DMAX): x0 ~ N(0, I) on the D dims, then `steps` (1..1024) steps
 * of the explicit midpoint rule from t = 0 to 1, with h = 1/steps and
 * t_k = k/steps:
 *     x' = x + h v(x + (h/2) v(x, t_k, z), t_k + h/2, z).
 * Writes out (n x VELO_DMAX, zeros beyond D).  Rows are processed in chunks
 * of the workspace's max_rows; x0 takes D draws of rng_normal per row, row
 * after row (dims 0..D-1 in order), and nothing else is drawn from r, so a
 * seed fixes the samples whatever max_rows is.  Overwrites ws's saved
 * activations.
 */
void velo_sample(const struct velo *v, const float *p, struct velo_ws *ws,
		 const float *z, int D, int n, int steps, struct rng *r,
		 float *out);

#endif
