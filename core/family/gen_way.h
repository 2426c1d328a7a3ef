/*
 * gen_way.h - inside the set refiner (gen.c): its workspace and the
 * table of a way of refining, for the files that hold the ways (fam_mog.c,
 * fam_flow.c) and for gen.c, which picks one per model and calls it.
 * Not for use outside core/family/.
 *
 * It includes no header of its own folder: the types of gen.h it names
 * are only pointed at, so gen.c may include it without a circle.
 */
#ifndef GEN_WAY_H
#define GEN_WAY_H

#include <stddef.h>
#include <stdint.h>

struct gen;
struct gen_config;
struct gen_input;
struct gen_rows;
struct layout;
struct rng;
struct setref_config;
struct setref_ws;
struct velo_ws;
struct mlp_ws;

/* The state token of a latent chunk (explicit classification and
 * regression): z chunk, gradient chunk, active inputs, active classes,
 * counters, pass. */
#define GEN_FS_LATENT (2 * GEN_ZTOK + LINCLASS_DMAX + LINCLASS_KMAX + 3 + \
		       SETREF_PASSES_MAX)
#define GEN_QMAX 1024			/* query rows of one loss */

/* One thread's scratch (gen_ws_new). */
struct gen_ws {
	struct setref_ws *sr;
	struct velo_ws *ve;		/* FLOW */
	struct mlp_ws *mw;		/* explicit CLF */
	int max_seq, max_rows;
	float *resp;			/* (max_rows, LINCLASS_KMAX): mixture
					 * responsibilities or class probs */
	float *grad;			/* (GEN_STATE_MAX) */
	float *zrow, *dz;		/* (GEN_QMAX, Z) */
	float *x0, *t, *w;		/* (GEN_QMAX x GEN_DMAX), (GEN_QMAX) x 2 */
	int *Drow;			/* (GEN_QMAX) */
	/* implicit probs: per sequence the next probabilities (for the
	 * backward) and K */
	float *qout, *qd;		/* (max_seq, nstate) */
	int *qK;			/* (max_seq) */
	int nseq;			/* sequences of the last forward */
};

/*
 * One way of refining: a kind in a regime.  gen_init picks it (way_of),
 * and what differs between the ways is called through it instead of
 * branching on kind and regime.
 *
 * init       sets the state's size and the refiner's token sizes in sc
 *            (its width, heads, layers, passes and skip are set) and
 *            registers the parameters: the way's networks, the refiner,
 *            the learned initial state, in that order.
 * params     initialises the way's parameters after the refiner's.
 * features   fills sequence i's state and observation tokens (setref's
 *            fs, dir, amask, fo) from in; returns the batch loss at the
 *            input state (when want_loss, or always when the features
 *            need it; 0 for the implicit regime).
 * loss       the loss of state on the rows q (mean NLL, flow matching,
 *            cross-entropy, half the squared error, or the queries' own),
 *            noise drawn from r (flows); dstate (may be NULL) is
 *            overwritten with w * dloss/dstate and dp (may be NULL)
 *            accumulates w * dloss/dp.  Training scores a state on query
 *            rows with it, and a session's step its loss after on the
 *            batch (w = 1, no gradient, r seeded by the step).
 */
struct gen_way {
	int (*init)(struct gen *g, struct layout *params,
		    struct setref_config *sc);
	void (*params)(const struct gen *g, float *p, struct rng *r);
	float (*features)(const struct gen *g, const float *p, struct gen_ws *ws,
			  int i, const struct gen_input *in, float gain,
			  int want_loss);
	double (*loss)(const struct gen *g, const float *p, float *dp,
		       struct gen_ws *ws, const float *state,
		       const struct gen_rows *q, struct rng *r, float w,
		       float *dstate);
};

/* The ways, defined in the kinds' files and implicit.c. */
extern const struct gen_way gen_way_mog;
extern const struct gen_way gen_way_flow;
extern const struct gen_way gen_way_clf;	/* parametric */
extern const struct gen_way gen_way_clf_mlp;	/* explicit, f(x, z) */
extern const struct gen_way gen_way_clf_head;	/* explicit, h(x) . z_k */
extern const struct gen_way gen_way_reg;	/* explicit */
extern const struct gen_way gen_way_implicit;

/* x limited to [lo, hi]. */
static inline float clampf(float x, float lo, float hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* What the ways share (gen.c).  gen_state_init: the refiner over the
 * state tokens sc describes and the learned initial state, the end of a
 * way's init.  gen_counters: a state token's counters and pass one-hot
 * (3 + SETREF_PASSES_MAX floats at f).  gen_scale: d[0..n) *= w.
 * gen_step_seed: the noise seed of a session step's pass, a function of
 * the rows seen before it. */
int gen_state_init(struct gen *g, struct layout *params,
		   struct setref_config *sc);
void gen_counters(const struct gen *g, const struct gen_input *in,
		  float gain, float *f);
void gen_scale(float *d, int n, float w);
uint64_t gen_step_seed(double rows_seen, int pass);

/* The explicit regime's, shared by its classifiers and regression
 * (gen.c).  gen_explicit_init ends a way's init once the way has set its
 * tokens' sizes sc->fs and sc->fo (the predictor network, then the
 * refiner over a latent); gen_explicit_params is the way's params;
 * gen_latent_tokens fills sequence i's state tokens of the latent in->state
 * and its gradient in ws->grad. */
int gen_explicit_init(struct gen *g, struct layout *params,
		      struct setref_config *sc);
void gen_explicit_params(const struct gen *g, float *p, struct rng *r);
void gen_latent_tokens(const struct gen *g, struct gen_ws *ws, int i,
		       const struct gen_input *in, float gain);

/* The implicit regime's, for gen.c (implicit.c).  gen_query_floats: the
 * floats of one query's state under configuration c.  A probabilities
 * state is refined in logarithms: gen_probs_to_log maps the first K
 * probabilities of q to logs in u (LINCLASS_KMAX floats, zero past K),
 * gen_softmax_k maps back (zeros past K). */
int gen_query_floats(const struct gen_config *c);
void gen_probs_to_log(const float *q, int K, float *u);
void gen_softmax_k(const float *u, int K, float *q);

#endif
