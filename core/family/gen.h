/*
 * gen.h - the generative amortizers: a session adapts to a stream of
 * samples from an unknown distribution, one learned step per mini-batch,
 * and then draws new samples (and, for mixtures, evaluates the density).
 *
 * Two kinds, both refined by a set-of-tokens refiner (setref.h):
 *
 *   GEN_MOG   parametric.  The state is theta of a diagonal Gaussian
 *             mixture (mog.h: MOG_KMAX components of MOG_T floats); one
 *             state token per component.  Component token features: its
 *             log weight, mean and log sd, the EM step of this batch at
 *             theta (theta_EM - theta, shrunk by N_k / (N_k + 1) where N_k
 *             is the component's responsibility mass), N_k / B, the active
 *             dimensions, counters and the pass.  Observation tokens: x,
 *             its responsibilities and log-density under theta.  The skip
 *             path takes the EM step, so an untrained refiner is online EM
 *             with the running-average gain B / (rows seen + B).  Variants:
 *             obs (no EM features, no skip), grad (no observation
 *             tokens), both.  Sampling is exact; log-density is exact.
 *
 *   GEN_CLF   classification, parametric: the state is a softmax linear
 *             classifier (linclass.h), one state token per class (its
 *             weights and bias).  Observation tokens: x, the one-hot
 *             label, the predicted probabilities.  The skip path takes
 *             the batch gradient.  Explicit (GEN_EXPLICIT): the state is
 *             a task latent z (Z floats, tokens of 8) and the classifier
 *             a learned MLP f(x, z) -> logits (mlp.h), trained jointly;
 *             the gradient features are d(batch loss)/dz through f.
 *             With the head predictor (head = 1) f is instead a
 *             learned feature map h(x) of Z floats read out per class:
 *             the state is one latent z_k of Z floats per class (one
 *             state token each, as the parametric classifier's weights)
 *             and logit_k = h(x) . z_k, so the refiner acts on a softmax
 *             classifier over learned features and a task's label order
 *             is the order of its tokens.
 *
 *   GEN_FLOW  explicit.  The state is a task latent z (Z floats, Z/8
 *             tokens of 8); a velocity network v(x_t, t, z) (velo.h) is
 *             trained jointly with the refiner.  Observation tokens: x.
 *             Variant both adds the gradient of the batch's flow-matching
 *             loss with respect to z (backprop through v; its noise drawn
 *             from a seed fixed by the rows seen and the pass, so a
 *             session's step is deterministic) as features and skip
 *             direction.  Sampling integrates the flow with the midpoint
 *             rule in flow_steps steps.
 *
 * Rows have GEN_DMAX floats (zero-padded); D of them are active.
 *
 * A struct gen owns no floats (its parameters are views in the caller's
 * layout: "gen.init" the learned initial state, "gen.ref.*" the refiner,
 * "velo.*" the velocity network).  A struct gen_ws is one thread's
 * scratch.  Never prints.
 */
#ifndef GEN_H
#define GEN_H

#include <stddef.h>
#include <stdint.h>

#include "data/source.h"
#include "base/layout.h"
#include "tasks/linclass.h"
#include "nn/mlp.h"
#include "tasks/mog.h"
#include "base/rng.h"
#include "refine/setref.h"
#include "nn/velo.h"

#define GEN_DMAX SOURCE_DMAX		/* row width of mog and flow */
#define GEN_XMAX SOURCE_XMAX		/* the widest row of any kind (clf) */
#define GEN_BMAX 256
#define GEN_ZTOK 8			/* latent floats per flow state token */
#define GEN_STATE_MAX 1024		/* floats in the largest state */
#define GEN_SQMAX 32			/* implicit: floats per query state */

enum gen_kind {
	GEN_MOG = 1,
	GEN_FLOW = 2,
	GEN_CLF = 3,			/* parametric softmax classifier */
	GEN_REG = 4,			/* regression (explicit or implicit) */
};

/* What an implicit amortizer keeps per query (the state-choice ablation). */
enum gen_qstate {
	GEN_Q_LOGITS = 1,		/* clf: K logits; reg: the mean */
	GEN_Q_PROBS = 2,		/* clf: K probabilities (kept on the
					 * simplex: the update is applied to
					 * their logarithms) */
	GEN_Q_LATENT = 3,		/* Z floats, read out by a learned
					 * linear map */
};

/* What the state is (the paper's three regimes). */
enum gen_regime {
	GEN_PARAMETRIC = 0,		/* the task's own model: a mixture, a
					 * softmax classifier */
	GEN_EXPLICIT = 1,		/* a task latent, read by a network
					 * trained with the refiner: the
					 * velocity field (flow), the
					 * predictor (clf, reg) */
	GEN_IMPLICIT = 2,		/* none: a prediction per query point */
};

enum gen_variant {
	GEN_OBS = 1,
	GEN_GRAD = 2,
	GEN_BOTH = 3,
};

struct gen_config {
	enum gen_kind kind;
	enum gen_variant variant;
	int C, H, L;			/* refiner width, heads, layers */
	int passes;			/* refinement passes per mini-batch */
	int bmax;			/* rows per mini-batch */
	int ksteps;			/* trained horizon (counters clamp there) */
	enum gen_regime regime;		/* mog: parametric; flow: explicit;
					 * clf: any; reg: explicit or
					 * implicit */
	int head;			/* explicit clf: 1 for the head predictor
					 * (Z is then per class, at most 16) */
	int Z, vH, vL;			/* flow, explicit clf: latent, the
					 * velocity or predictor network's
					 * width and layers */
	int flow_steps;			/* flow: sampler steps */
	enum gen_qstate qstate;		/* implicit: the per-query state */
	int nq;				/* implicit: queries per forward */
};

/* An explicit classifier or regression: its latent is read by the
 * predictor network (gen.f); flows read theirs by the velocity field. */
static inline int gen_has_predictor(const struct gen_config *c)
{
	return c->regime == GEN_EXPLICIT && c->kind != GEN_FLOW;
}

struct gen_way;

struct gen {
	struct gen_config cfg;
	const struct gen_way *way;	/* how it refines: its kind in its
					 * regime (gen.c) */
	int nstate;			/* floats in a state */
	int dx;				/* row width: GEN_DMAX, or GEN_XMAX (clf) */
	struct setref sr;
	struct velo ve;			/* GEN_FLOW only */
	struct mlp f;			/* explicit GEN_CLF: f(x, z) */
	size_t init;			/* learned initial state (nstate; implicit:
					 * one query's, sq floats) */
	int sq;				/* implicit: floats per query state */
	size_t ro_w, ro_b;		/* implicit latent: readout (O, Z), (O) */
};

struct gen_ws;

int gen_config_check(const struct gen_config *c, char *err, size_t errlen);

/* Registers the parameters in params; AM_OK, AM_EINVAL or AM_ENOMEM. */
int gen_init(struct gen *g, struct layout *params, const struct gen_config *c);

/* Initialises the parameters: the refiner and velocity network as their
 * own init functions; the initial state a spread-out mixture (MOG: means
 * on a small random cloud, unit sds, equal weights) or zero (FLOW). */
void gen_init_params(const struct gen *g, float *p, struct rng *r);

void gen_initial_state(const struct gen *g, const float *p, float *state);

/* Scratch for up to max_seq sequences of up to max_rows rows each; NULL
 * when out of memory.  gen_ws_free is NULL-safe. */
struct gen_ws *gen_ws_new(const struct gen *g, int max_seq, int max_rows);
void gen_ws_free(struct gen_ws *ws);

/* One sequence's input to a refinement pass (all borrowed). */
struct gen_input {
	const float *state;		/* nstate */
	const float *X;			/* B x dx */
	const int *y;			/* B labels in [0, K) (clf), else NULL */
	const float *t;			/* B targets (reg), else NULL */
	const float *Q;			/* implicit: nq query rows (nq x dx) */
	int nq;				/* implicit: active queries, 1..cfg.nq */
	int B, D, K;			/* K: the task's classes (clf) */
	double rows_seen;
	int pass;
	uint64_t seed;			/* FLOW: the batch loss's noise */
};

/*
 * One refinement pass for ns sequences: next (ns x nstate).  batch_loss
 * (ns, or NULL) receives each sequence's batch loss at its input state
 * (mean NLL per row for MOG, mean flow-matching loss per row for FLOW).
 * Saves what gen_backward needs.  AM_OK or AM_ENUMERIC.
 */
int gen_forward(const struct gen *g, const float *p, struct gen_ws *ws,
		int ns, const struct gen_input *in, float *next,
		float *batch_loss);

/* Accumulates into dp the gradient of a loss whose gradient with respect
 * to the last forward's next states is dnext (ns x nstate). */
void gen_backward(const struct gen *g, const float *p, float *dp,
		  struct gen_ws *ws, const float *dnext);

/* Rows a state is scored on: n rows X (stride the model's dx) with
 * labels y (classification) or targets t (regression), D active columns,
 * K classes.  A kind reads what it has (y or t) and ignores the other. */
struct gen_rows {
	const float *X;
	const int *y;
	const float *t;
	int n, D, K;
};

/*
 * The training loss of one state on the query rows q (q->n >= 1) of its
 * task: mean NLL per row (MOG), mean flow-matching loss per row with noise
 * x0 and times drawn from r (FLOW), cross-entropy (CLF), half the mean
 * squared error (REG); for the implicit regime, state holds the q->n
 * queries' states (rows q->X) and the loss is that of their predictions.
 * Scaled by w; dstate (nstate) is overwritten with w * dloss/dstate; dp
 * (may be NULL) accumulates w * dloss/dp (the networks beside the
 * refiner).  Returns the unscaled loss.
 */
double gen_state_loss(const struct gen *g, const float *p, float *dp,
		      struct gen_ws *ws, const float *state,
		      const struct gen_rows *q, struct rng *r, float w,
		      float *dstate);

/* Implicit: adds to dinit (sq floats) the gradient with respect to the
 * learned initial query state given that of a whole state dstate (nq
 * queries' states). */
void gen_init_grad(const struct gen *g, const float *p, const float *dstate,
		   int nq, int K, float *dinit);

/* A session's step: all passes on one mini-batch; state updated only on
 * success.  AM_OK, AM_EINVAL (sizes) or AM_ENUMERIC. */
int gen_step(const struct gen *g, const float *p, struct gen_ws *ws,
	     float *state, const float *X, const int *y, int B, int D, int K,
	     double rows_seen, float *loss_before, float *loss_after);

/* REG (explicit): gen_step for a regression batch, targets t (B). */
int gen_step_reg(const struct gen *g, const float *p, struct gen_ws *ws,
		 float *state, const float *X, const float *t, int B, int D,
		 double rows_seen, float *loss_before, float *loss_after);

/* CLF: class probabilities of n rows (n x LINCLASS_KMAX, 0 past K); ws
 * is used by the explicit regime only (may be NULL for the parametric).
 * AM_EINVAL for the other kinds. */
int gen_predict_probs(const struct gen *g, const float *p, struct gen_ws *ws,
		      const float *state, const float *X, int n, int D, int K,
		      float *probs);

/*
 * The implicit regime: n query states qs (n x sq) for query rows Q
 * (n x dx).  gen_query_init sets them to the learned initial prediction;
 * gen_query_step refines them with one mini-batch (all passes; y labels
 * for clf, t targets for reg), chunked by cfg.nq (queries do not attend to
 * each other, so chunking changes nothing); qs unchanged unless AM_OK.
 * gen_query_probs (clf: n x LINCLASS_KMAX, 0 past K) and gen_query_mean
 * (reg) read predictions out; gen_query_loss is their mean loss against
 * labels y or targets t (cross-entropy; half squared error).
 */
void gen_query_init(const struct gen *g, const float *p, int n, int K,
		    float *qs);
int gen_query_step(const struct gen *g, const float *p, struct gen_ws *ws,
		   const float *Q, int n, float *qs, const float *X,
		   const int *y, const float *t, int B, int D, int K,
		   double rows_seen);
void gen_query_probs(const struct gen *g, const float *p, const float *qs,
		     int n, int K, float *probs);
void gen_query_mean(const struct gen *g, const float *p, const float *qs,
		    int n, float *mean);
double gen_query_loss(const struct gen *g, const float *p, const float *qs,
		      int n, int K, const int *y, const float *t);

/* Explicit REG: means of n rows under latent state.  AM_EINVAL otherwise. */
int gen_predict_mean(const struct gen *g, const float *p, struct gen_ws *ws,
		     const float *state, const float *X, int n, float *mean);

/* MOG: log-density of n rows.  AM_EINVAL for FLOW. */
int gen_log_density(const struct gen *g, const float *state, const float *X,
		    int n, int D, float *out);

/* n samples into out (n x GEN_DMAX), from rng r. */
void gen_sample(const struct gen *g, const float *p, struct gen_ws *ws,
		const float *state, int D, int n, struct rng *r, float *out);

#endif
