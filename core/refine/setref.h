/*
 * setref.h - a refiner whose state is a set of tokens: the network half of
 * the generative amortizers (core/family/gen.h), independent of what the state
 * means.
 *
 * Token mode (setref_init).  A sequence is nst state tokens followed
 * by B observation tokens.  The caller (the family) fills, per sequence,
 * the features of every state token (fs floats), of every observation (fo
 * floats; none when fo is 0), a direction per state float (dir: the
 * family's own update direction -- a gradient, an EM step -- used by the
 * skip path), an update mask (amask: 1 where the state float may change)
 * and the gain.  The network:
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
 * Query mode (setref_init_queries), for the implicit regime: the state is a
 * prediction per query point and the state tokens are the queries.  nst is
 * then the most queries a sequence may hold (up to SETREF_QUERIES_MAX);
 * sequence i uses the first nq_i of its nst slots (setref_set_queries,
 * default nst).  Its tokens are the B observations first, then the nq_i
 * queries; observations attend observations, a query attends the
 * observations and itself and never another query
 * (attention_mask_context).  Queries are exchangeable: there is no token
 * index embedding, so a query's next state depends on its own slot and the
 * observations only, not on the other queries nor on its position.  The
 * head and the update run on the active queries; the other slots' next
 * states are their input states, copied, and get no gradient.  The slots
 * keep their token-mode shapes (nst rows per sequence) so a sequence's
 * active queries are its first nq_i rows of fs, dir, amask and state.
 *
 * A struct setref owns no floats (its parameters are views in the caller's
 * layout).  A struct setref_ws owns the features and activations of one
 * forward/backward on up to max_seq sequences and is not shared between
 * threads.  Input states are constants for the backward (greedy training).
 */
#ifndef SETREF_H
#define SETREF_H

#include <stddef.h>

#include "base/layout.h"
#include "base/rng.h"
#include "nn/tfm.h"

#define SETREF_PASSES_MAX 4
#define SETREF_TOKENS_MAX 32	/* nst in token mode */
#define SETREF_QUERIES_MAX 256	/* nst in query mode */
#define SETREF_RMAX 512

struct setref_config {
	int C, H, L;		/* transformer width, heads, layers */
	int nst;		/* state tokens, 1..SETREF_TOKENS_MAX; in
				 * query mode the most queries per sequence,
				 * 1..SETREF_QUERIES_MAX */
	int sd;			/* state floats per token */
	int fs;			/* features per state token */
	int fo;			/* features per observation (0: none) */
	int passes;		/* 1..SETREF_PASSES_MAX */
	int skip;		/* 1: the dir skip path is on */
};

struct setref {
	struct setref_config cfg;
	struct tfm tf;
	size_t ws_w, ws_b, tok;		/* state embedding (C, fs), (C); (nst, C),
					 * tok unused in query mode */
	size_t wo_w, wo_b;		/* observation embedding (C, fo), (C) */
	size_t head_w, head_b;		/* (sd + 1, C), (sd + 1) */
	size_t eta;			/* (passes) */
	int queries;			/* 1: query mode (setref_init_queries) */
};

/* AM_OK when c is a valid token-mode configuration (_queries: query mode,
 * where nst may reach SETREF_QUERIES_MAX); otherwise AM_EINVAL and, when
 * err is not NULL, a one-line reason in err (errlen bytes, terminated). */
int setref_config_check(const struct setref_config *c, char *err, size_t errlen);
int setref_config_check_queries(const struct setref_config *c, char *err,
				size_t errlen);

/*
 * Registers the parameters of a token-mode refiner under "<prefix>.*";
 * setref_init_queries those of a query-mode one (the same names without
 * "embed_token").  AM_OK, AM_EINVAL, AM_ENOMEM.
 *
 * Query mode has its own constructor rather than a config field because
 * existing callers fill struct setref_config field by field (or
 * positionally): a new field would be left indeterminate there.
 */
int setref_init(struct setref *m, struct layout *params, const char *prefix,
		const struct setref_config *c);
int setref_init_queries(struct setref *m, struct layout *params,
			const char *prefix, const struct setref_config *c);

/* Transformer as tfm_init_params, embeddings N(0, 1/fan_in), token
 * embeddings N(0, 1) (token mode), head zero, eta softplus^-1(1). */
void setref_init_params(const struct setref *m, float *p, struct rng *r);

/*
 * A workspace for up to max_seq sequences of up to max_rows (<= SETREF_RMAX)
 * observations (new, caller frees with setref_ws_free, which is NULL-safe);
 * NULL when out of memory or max_seq < 1 or max_rows out of range.  Every
 * sequence starts with nst active queries.
 */
struct setref_ws *setref_ws_new(const struct setref *m, int max_seq, int max_rows);
void setref_ws_free(struct setref_ws *ws);

/*
 * The bytes setref_ws_new(m, max_seq, max_rows) allocates, for checking a
 * request against a limit first; 0 when the arguments are out of range.
 * With S = max_seq and T = nst + max_rows (nst alone when fo is 0) it is,
 * within a few per cent plus the input slots,
 *   8 S T L (16 C + H T) + 20 S T C + S T^2 + 8 T^2
 * bytes: the transformer's activations and their gradients dominate, and
 * in them the attention weights, L H T^2 floats per sequence each (e.g.
 * C 64, H 4, L 4, 256 queries and 512 rows: about 100 MB a sequence).
 * Query mode costs what token mode does for the same nst, plus one copy of
 * the state features (S nst fs floats); the widest nst is paid by every
 * sequence of the workspace, whatever its own number of queries.
 */
size_t setref_ws_bytes(const struct setref *m, int max_seq, int max_rows);

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
 * Query mode: sequence i holds nq (1..nst) active queries, its first nq
 * slots, from the next forward on (the setting stays until changed; a new
 * workspace starts at nst).  In token mode every token is active and nq
 * must be nst.
 */
void setref_set_queries(struct setref_ws *ws, int i, int nq);

/*
 * Runs sequences 0..ns-1 from their states (ns x nst*sd floats, token
 * after token) into next (same shape; next may be state).  In query mode
 * only the active slots change; the others are copied.  Returns AM_OK or
 * AM_ENUMERIC if an active slot's next state is not finite.
 */
int setref_forward(const struct setref *m, const float *p, struct setref_ws *ws,
		   int ns, const float *state, float *next);

/* Accumulates into dp the gradient of a loss whose gradient with respect
 * to the last forward's next states is dnext (ns x nst*sd; the rows of
 * inactive query slots are not read). */
void setref_backward(const struct setref *m, const float *p, float *dp,
		     struct setref_ws *ws, const float *dnext);

#endif
