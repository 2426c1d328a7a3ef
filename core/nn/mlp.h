/*
 * mlp.h - the learned predictor f(x, z) of the explicit regime: an MLP on a
 * data row x and a task latent z, with its forward, backward and two
 * training losses (softmax cross-entropy for classification, squared error
 * for regression).
 *
 * In the explicit regime the state of a task is a latent z of Z floats that
 * an amortizer refines from mini-batches; the prediction for a row x is
 * f(x, z): K class logits or a regression mean.  f is trained jointly with
 * the refiner, so besides gradients for its parameters it returns dloss/dz
 * (and dloss/dx).
 *
 * Rows.  x holds n rows with a row stride xs >= X; only the first X floats
 * of a row are ever read.  A task with fewer active features than X puts
 * zeros in the inactive columns (the network has no mask input: a zero
 * feature contributes nothing to the first layer, which is what "inactive"
 * means here).  z is either one latent per row or one latent shared by all
 * rows (the loss functions take both, see zstride below).  Z may be 0: the
 * network is then a plain MLP of x (z is still a valid pointer; nothing
 * is read from it).
 *
 * Network.  Per row the input is the F = X + Z vector [x (X), z (Z)],
 * followed by L hidden layers h_l = gelu(W_l h_{l-1} + b_l) of width H and
 * a linear output f = W_o h_L + b_o of O floats.  The same stack is the
 * velocity network of velo.h, which builds its own input rows and goes
 * back through mlp_backward_input.
 *
 * Ownership.  A struct mlp owns no floats: mlp_init registers the parameters
 * as named views "<prefix>.*" in the caller's layout (so a larger model keeps
 * one parameter block and one gradient block) and records their offsets.
 * A struct mlp_ws owns the activations of one forward / backward on up to
 * max_rows rows and the scratch of the losses; it is never shared between
 * threads.  One struct mlp and one parameter block may serve many threads
 * at once, each with its own workspace.  Nothing here allocates after
 * mlp_ws_new, prints, or reads a clock.
 */
#ifndef MLP_H
#define MLP_H

#include <stddef.h>

#include "base/layout.h"
#include "base/rng.h"

#define MLP_XMAX 64		/* input features per row */
#define MLP_ZMAX 256		/* largest latent */
#define MLP_OMAX 16		/* most outputs (classes) */
#define MLP_HMAX 1024		/* widest hidden layer */
#define MLP_LAYERS_MAX 8	/* most hidden layers */
#define MLP_ROWS_MAX 65536	/* largest workspace, in rows */

struct mlp_config {
	int X;			/* input features, 1..MLP_XMAX */
	int Z;			/* latent size, 0..MLP_ZMAX */
	int O;			/* outputs, 1..MLP_OMAX */
	int H;			/* hidden width, 1..MLP_HMAX */
	int L;			/* hidden layers, 1..MLP_LAYERS_MAX */
};

/* Offsets (in floats) of the parameter views in the caller's block. */
struct mlp {
	struct mlp_config cfg;
	int F;					/* input width, X + Z */
	size_t w[MLP_LAYERS_MAX];		/* hidden weights: (H, F), then (H, H) */
	size_t b[MLP_LAYERS_MAX];		/* hidden biases (H) */
	size_t out_w, out_b;			/* output (O, H), (O) */
};

/* Opaque: activations and scratch for up to max_rows rows. */
struct mlp_ws;

/*
 * Checks a configuration.  Returns AM_OK, or AM_EINVAL with a message naming
 * the field copied into err (truncated to errlen; err may be NULL).
 */
int mlp_config_check(const struct mlp_config *c, char *err, size_t errlen);

/*
 * Registers the parameters in params as "<prefix>.fc<l>.w" (H x F, then
 * H x H), "<prefix>.fc<l>.b" (H) for l = 0..L-1, and "<prefix>.out.w"
 * (O x H), "<prefix>.out.b" (O), and records their offsets in *m.  prefix
 * is borrowed for the call; it must be non-empty and at most
 * LAYOUT_NAME_MAX - 7 bytes long so that every name fits.  Returns AM_OK,
 * AM_EINVAL (bad configuration or prefix; params untouched) or AM_ENOMEM
 * (params may then hold some of the views).  The names must not already be
 * in params (a second mlp with the same prefix in one layout is a
 * programming error and aborts in layout_add).
 */
int mlp_init(struct mlp *m, struct layout *params, const char *prefix,
	     const struct mlp_config *c);

/*
 * Initialises the network's parameters inside the block p (the rest of p is
 * untouched): hidden weights N(0, 1/fan_in), all biases 0, output weights
 * N(0, (0.1)^2 / H) - small, so the initial outputs are close to zero (near
 * uniform class probabilities), but not zero, so that every layer and z
 * receive gradient from the first step.
 */
void mlp_init_params(const struct mlp *m, float *p, struct rng *r);

/*
 * A workspace for up to max_rows rows (1..MLP_ROWS_MAX) of this network.
 * Returns a new workspace the caller frees with mlp_ws_free, or NULL when
 * out of memory or max_rows is out of range.
 */
struct mlp_ws *mlp_ws_new(const struct mlp *m, int max_rows);

/* Frees a workspace; NULL is a no-op. */
void mlp_ws_free(struct mlp_ws *ws);

/* The max_rows the workspace was made for. */
int mlp_ws_rows(const struct mlp_ws *ws);

/*
 * out (n x O) = f(x, z) on n rows, 1 <= n <= max_rows of ws: x (n rows of
 * stride xs >= X, only the first X columns read), z (n x Z, one latent per
 * row).  Overwrites out.  Saves the activations mlp_backward needs in ws
 * (replacing those of any earlier call).  All inputs are borrowed for the
 * call only; out must not alias them.
 */
void mlp_forward(const struct mlp *m, const float *p, struct mlp_ws *ws,
		 int n, const float *x, int xs, const float *z, float *out);

/*
 * Backpropagates dout (n x O, the gradient of a loss with respect to out of
 * the last mlp_forward on ws; n must match it).  Accumulates into dp (same
 * layout as p) unless NULL; overwrites dz (n x Z) and dx (n x X, row stride
 * X) unless NULL.  Uses ws's scratch; does not change the saved
 * activations, so it may be called again on the same forward.  Calling it
 * after mlp_xent or mlp_mse (without a new mlp_forward) is a programming
 * error and aborts.
 */
void mlp_backward(const struct mlp *m, const float *p, float *dp,
		  struct mlp_ws *ws, int n, const float *dout, float *dz,
		  float *dx);

/*
 * The backward of a caller that builds whole input rows itself (velo.h):
 * as mlp_backward, but the first layer goes back as one plain linear layer
 * (linear.h) and the gradient of the whole row [x, z] is returned: dinp
 * (n x F, row stride F) is overwritten unless NULL.  Accumulates into dp
 * unless NULL.  The first layer's bias gradient is added into dp row after
 * row here, while mlp_backward sums the rows first; the two agree up to
 * float rounding, and each caller keeps its own so that trained models
 * stay the same to the bit.  Same preconditions as mlp_backward.
 */
void mlp_backward_input(const struct mlp *m, const float *p, float *dp,
			struct mlp_ws *ws, int n, const float *dout,
			float *dinp);

/*
 * Conventions of the two losses.  They take any n >= 1 and process the
 * rows in chunks of the workspace's max_rows.  x is as in mlp_forward.  The
 * latent is z + i * zstride for row i: zstride 0 shares one latent (Z
 * floats) among all rows, zstride >= Z gives each row its own.  scale
 * multiplies every returned gradient (not the returned loss).  If dp is not
 * NULL, scale * dloss/dp is accumulated into it.  If dz is not NULL it is
 * overwritten with scale * dloss/dz: Z floats (the sum over rows) when
 * zstride is 0, else n x Z (row stride Z, whatever zstride is).  The
 * returned loss is a mean over rows, summed in double.  Both overwrite
 * ws's saved activations: mlp_backward needs a new mlp_forward afterwards.
 */

/*
 * Mean softmax cross-entropy over n rows with K active classes
 * (1 <= K <= O): the logits f_k for k < K define the class probabilities,
 * logits k >= K are ignored (receive zero gradient), labels y (n) lie in
 * [0, K) (anything else is a programming error and aborts).  probs
 * (n x O, zeros past K) is written if not NULL.  Returns the unscaled mean
 * loss.
 */
double mlp_xent(const struct mlp *m, const float *p, float *dp,
		struct mlp_ws *ws, int n, const float *x, int xs,
		const float *z, int zstride, int K, const int *y, float scale,
		float *dz, float *probs);

/*
 * Mean of (f(x, z)_0 - y)^2 / 2 over n rows (regression: output 0 is the
 * prediction, outputs 1.. receive zero gradient), targets y (n).  pred (n)
 * is written with f_0 if not NULL.  Returns the unscaled mean loss.
 */
double mlp_mse(const struct mlp *m, const float *p, float *dp,
	       struct mlp_ws *ws, int n, const float *x, int xs,
	       const float *z, int zstride, const float *y, float scale,
	       float *dz, float *pred);

#endif
