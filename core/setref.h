/*
 * setref.h - a refiner whose state is a set of tokens: the network half of
 * the generative amortizers (core/gen.h), independent of what the state
 * means.
 *
 * A sequence is nst state tokens followed by B observation tokens.  The
 * caller (the family) fills, per sequence, the features of every state
 * token (fs floats), of every observation (fo floats; none when fo is 0),
 * a direction per state float (dir: the family's own update direction --
 * a gradient, an EM step -- used by the skip path), an update mask (amask:
 * 1 where the state float may change) and the gain.  The network:
 *
 *   embeddings  state token k: W_s f_k + b_s + e_k (e_k a learned
 *               embedding of the token's index, which breaks the symmetry
 *               between otherwise exchangeable tokens such as mixture
 *               components); observation: W_o f + b_o
 *   stack       a pre-LN transformer (tfm) over all tokens, padding masked
 *   head        per state token, sd + 1 outputs: delta (sd) and s
 *   update      x' = x + amask * gain * (delta - softplus(eta_pass + s) * dir)
 *
 * with eta one learned scale per pass (the skip path is absent, as if dir
 * were 0, when the config's skip is 0).  The head starts at zero, so an
 * untrained refiner takes the family's own step scaled by gain.
 *
 * A struct setref owns no floats (its parameters are views in the caller's
 * layout).  A struct setref_ws owns the features and activations of one
 * forward/backward on up to max_seq sequences and is not shared between
 * threads.  Input states are constants for the backward (greedy training).
 */
#ifndef SETREF_H
#define SETREF_H

#include <stddef.h>

#include "layout.h"
#include "rng.h"
#include "tfm.h"

#define SETREF_PASSES_MAX 4
#define SETREF_TOKENS_MAX 32
#define SETREF_RMAX 512

struct setref_config {
	int C, H, L;		/* transformer width, heads, layers */
	int nst;		/* state tokens, 1..SETREF_TOKENS_MAX */
	int sd;			/* state floats per token */
	int fs;			/* features per state token */
	int fo;			/* features per observation (0: none) */
	int passes;		/* 1..SETREF_PASSES_MAX */
	int skip;		/* 1: the dir skip path is on */
};

struct setref {
	struct setref_config cfg;
	struct tfm tf;
	size_t ws_w, ws_b, tok;		/* state embedding (C, fs), (C); (nst, C) */
	size_t wo_w, wo_b;		/* observation embedding (C, fo), (C) */
	size_t head_w, head_b;		/* (sd + 1, C), (sd + 1) */
	size_t eta;			/* (passes) */
};

int setref_config_check(const struct setref_config *c, char *err, size_t errlen);

/* Registers the parameters under "<prefix>.*".  AM_OK, AM_EINVAL, AM_ENOMEM. */
int setref_init(struct setref *m, struct layout *params, const char *prefix,
		const struct setref_config *c);

/* Transformer as tfm_init_params, embeddings N(0, 1/fan_in), token
 * embeddings N(0, 1), head zero, eta softplus^-1(1). */
void setref_init_params(const struct setref *m, float *p, struct rng *r);

/* A workspace for up to max_seq sequences of up to max_rows (<= SETREF_RMAX)
 * observations; NULL when out of memory.  setref_ws_free is NULL-safe. */
struct setref_ws *setref_ws_new(const struct setref *m, int max_seq, int max_rows);
void setref_ws_free(struct setref_ws *ws);

/*
 * The input slots of sequence i of the next forward, inside ws (borrowed):
 * state-token features (nst, fs), observation features (max_rows, fo),
 * dir and amask (nst, sd).  The caller fills them, then sets the rest with
 * setref_set.  Slots keep their contents until overwritten.
 */
float *setref_fs(struct setref_ws *ws, int i);
float *setref_fo(struct setref_ws *ws, int i);
float *setref_dir(struct setref_ws *ws, int i);
float *setref_amask(struct setref_ws *ws, int i);
void setref_set(struct setref_ws *ws, int i, int B, int pass, float gain);

/*
 * Runs sequences 0..ns-1 from their states (ns x nst*sd floats, token
 * after token) into next (same shape).  Returns AM_OK or AM_ENUMERIC if a
 * next state is not finite.
 */
int setref_forward(const struct setref *m, const float *p, struct setref_ws *ws,
		   int ns, const float *state, float *next);

/* Accumulates into dp the gradient of a loss whose gradient with respect
 * to the last forward's next states is dnext (ns x nst*sd). */
void setref_backward(const struct setref *m, const float *p, float *dp,
		     struct setref_ws *ws, const float *dnext);

#endif
