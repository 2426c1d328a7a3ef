/*
 * refiner.h - the iterative parametric amortizer for linear regression.
 *
 * The state of a session is s = [theta (LINREG_P), logvar]: the weights and
 * bias of a fixed linear-regression model and the log of its predictive
 * variance.  One refinement pass reads a mini-batch (X, y) of B <= bmax
 * rows and returns s' = h_phi(s, batch):
 *
 *   tokens   state token [theta, g, logvar, active-input mask, counters,
 *            pass one-hot] and one observation token [x, y, yhat, y - yhat]
 *            per row; no positional encoding, so the refiner is a set
 *            function of the rows.  g is the gradient of the batch loss at
 *            theta (linreg_grad).
 *   network  two embeddings (state, observation) -> a pre-LN transformer
 *            stack (tfm) -> a linear head on the state token's output.
 *   update   theta' = theta + m * gain * (head_theta - softplus(e_pass + s) g)
 *            logvar' = logvar + gain * head_logvar
 *            where s, a third head output, sets this step's scale of the
 *            raw-gradient skip path (the network can close it where its
 *            own update is better, as on the first mini-batches)
 *            with m the mask of active inputs and the bias, and
 *            gain = B / (n + B), n the rows seen before this batch: the
 *            running-average gain, so updates shrink as data accumulates
 *            and stay in scale at any step count.  The counter features are
 *            clamped to their trained range for the same reason.
 *
 * Variants (the ablation of DESIGN.md §1): REFINER_OBS sees observation
 * tokens only (g is zeroed and there is no gradient skip path),
 * REFINER_GRAD sees the state token only (a learned optimizer), REFINER_BOTH
 * sees both.  Each mini-batch is refined by `passes` passes (1 to 4), each
 * recomputing yhat and g at the current theta: one learned step of the
 * session, done in a few sub-steps on the same rows.
 *
 * A struct refiner owns no floats: refiner_init registers its parameters in
 * the caller's layout (one parameter block for the whole model).  A struct
 * refiner_ws owns the activations of one forward/backward on up to max_seq
 * sequences; it is not shared between threads, while one refiner and one
 * parameter block may serve many threads, each with its own workspace.
 */
#ifndef REFINER_H
#define REFINER_H

#include <stddef.h>

#include "base/layout.h"
#include "tasks/linreg.h"
#include "base/rng.h"
#include "nn/tfm.h"

#define REFINER_S (LINREG_P + 1)	/* state floats: theta, logvar */
#define REFINER_LOGVAR LINREG_P		/* index of logvar in the state */
#define REFINER_PASSES_MAX 4
#define REFINER_BMAX 512		/* hard limit on rows in one pass */

enum refiner_variant {
	REFINER_OBS = 1,
	REFINER_GRAD = 2,
	REFINER_BOTH = 3,
};

struct refiner_config {
	int C, H, L;			/* transformer width, heads, layers */
	int bmax;			/* rows per mini-batch it is trained on */
	int ksteps;			/* steps per trajectory in training (K) */
	int passes;			/* refinement passes per mini-batch */
	enum refiner_variant variant;
};

struct refiner {
	struct refiner_config cfg;
	struct tfm tf;
	size_t ws_w, ws_b;		/* state-token embedding (C, FS), (C) */
	size_t wo_w, wo_b;		/* observation embedding (C, FO), (C) */
	size_t head_w, head_b;		/* head (REFINER_S, C), (REFINER_S) */
	size_t eta;			/* gradient skip scales (passes) */
	size_t init;			/* learned initial state (REFINER_S) */
};

/* Per-sequence input of one refinement pass (all borrowed). */
struct refiner_input {
	const float *state;		/* REFINER_S floats */
	const float *X;			/* B rows of LINREG_DMAX floats */
	const float *y;			/* B targets */
	int B;				/* rows, 1..REFINER_BMAX */
	int D;				/* active inputs, 1..LINREG_DMAX */
	double rows_seen;		/* rows before this mini-batch */
	int pass;			/* 0..passes-1 */
};

/* Checks a configuration: returns AM_OK or AM_EINVAL, with a message in err
 * (may be NULL) naming the field. */
int refiner_config_check(const struct refiner_config *cfg, char *err,
			 size_t errlen);

/* Registers the refiner's parameters in params under "ref.*" and
 * "ref.tf.*".  Returns AM_OK, AM_EINVAL (bad config) or AM_ENOMEM. */
int refiner_init(struct refiner *m, struct layout *params,
		 const struct refiner_config *cfg);

/* Initialises the parameters in p: transformer as tfm_init_params,
 * embeddings N(0, 1/fan_in), the head at zero (so the first updates are the
 * gradient skip path alone), eta at softplus^-1(1), the initial state at
 * zero (logvar 0). */
void refiner_init_params(const struct refiner *m, float *p, struct rng *r);

/* Writes the learned initial state (REFINER_S floats) into s. */
void refiner_initial_state(const struct refiner *m, const float *p, float *s);

/* A workspace for up to max_seq sequences of up to max_rows rows each
 * (max_rows <= REFINER_BMAX).  Returns NULL when out of memory.  Free with
 * refiner_ws_free (NULL-safe). */
struct refiner_ws *refiner_ws_new(const struct refiner *m, int max_seq,
				  int max_rows);
void refiner_ws_free(struct refiner_ws *ws);

/*
 * One refinement pass for ns sequences (ns <= max_seq of ws; each B <=
 * max_rows of ws).  Writes the next states into next (ns x REFINER_S) and,
 * if batch_loss is not NULL, each sequence's batch loss at its input state
 * into batch_loss (ns).  Saves what refiner_backward needs in ws.
 * Returns AM_OK, or AM_ENUMERIC if a next state is not finite (next is then
 * unspecified and nothing else changed).
 */
int refiner_forward(const struct refiner *m, const float *p,
		    struct refiner_ws *ws, int ns,
		    const struct refiner_input *in, float *next,
		    float *batch_loss);

/*
 * Backpropagates dnext (ns x REFINER_S, the loss gradient with respect to
 * the next states of the last refiner_forward on ws) into dp (accumulated).
 * Input states are treated as constants (greedy training).
 */
void refiner_backward(const struct refiner *m, const float *p, float *dp,
		      struct refiner_ws *ws, const float *dnext);

/*
 * The whole step a session takes for one mini-batch: `passes` passes on the
 * same rows, forward only, for one sequence.  state is updated in place
 * only on success.  Returns AM_OK, AM_EINVAL (B or D out of range) or
 * AM_ENUMERIC (the state would become non-finite; state unchanged).
 */
int refiner_step(const struct refiner *m, const float *p, struct refiner_ws *ws,
		 float *state, const float *X, const float *y, int B, int D,
		 double rows_seen, float *batch_loss);

/* Predictions for rows X (n, LINREG_DMAX) under a state: mean (n) and,
 * unless var is NULL, the predictive variance exp(logvar) (n). */
void refiner_predict(const float *state, const float *X, int n, float *mean,
		     float *var);

#endif
