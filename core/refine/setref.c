/*
 * setref.c - the set-of-tokens refiner: embeddings, transformer, per-token
 * head and the gated update, forward and backward.
 */
#include "refine/setref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "nn/act.h"
#include "nn/attention.h"
#include "nn/linear.h"
#include "refine/gate.h"

struct setref_ws {
	struct tfm tf;			/* planned copy of the stack */
	int max_seq, max_rows, T, ns;
	int nst, sd, fs, fo, ho, C, queries;
	int nrow;			/* active state rows of the last forward */
	void *block;			/* every array below, carved (ws_carve) */
	int *B, *pass, *len;		/* (S) */
	int *nq, *row;			/* (S): active slots, first compact row */
	float *gain;			/* (S) */
	float *fsb;			/* (S, nst, fs) */
	float *fsc;			/* (S * nst, fs) active rows, query mode */
	float *fob;			/* (S, R, fo) */
	float *dir, *amask;		/* (S, nst, sd) */
	float *es;			/* (S * nst, C) state embeddings */
	float *eo;			/* (R, C) scratch */
	float *emb;			/* (S, T, C) */
	float *hs;			/* (S * nst, C) state-token outputs */
	float *out;			/* (S * nst, ho) head outputs */
	unsigned char *mask;		/* (S, T, T) */
	float *acts, *dacts;
	float *dout, *dhs, *dfinal, *demb;
};

/*
 * Compact state rows: the active state tokens of all sequences, one after
 * the other, sequence i's at rows row[i] .. row[i] + nq[i] - 1.  In token
 * mode nq[i] = nst and row[i] = i * nst, so compact rows are the slots
 * themselves and es, hs, out, dout, dhs are laid out as (S, nst, .).
 */

/* The check of both modes: nst's bound is the mode's. */
static int config_check(const struct setref_config *c, int queries, char *err,
			size_t errlen)
{
	const char *bad = NULL;

	if (c->C < 8 || c->C > 1024)
		bad = "width must be in [8, 1024]";
	else if (c->H < 1 || c->C % c->H)
		bad = "heads must divide the width";
	else if (c->L < 1 || c->L > TFM_LAYERS_MAX)
		bad = "layers must be in [1, 16]";
	else if (!queries && (c->nst < 1 || c->nst > SETREF_TOKENS_MAX))
		bad = "state tokens must be in [1, 32]";
	else if (queries && (c->nst < 1 || c->nst > SETREF_QUERIES_MAX))
		bad = "queries per sequence must be in [1, 256]";
	else if (c->sd < 1 || c->sd > 1024 || c->fs < 1 || c->fs > 4096 ||
		 c->fo < 0 || c->fo > 4096)
		bad = "token sizes out of range";
	else if (c->passes < 1 || c->passes > SETREF_PASSES_MAX)
		bad = "passes must be in [1, 4]";
	else if (c->skip != 0 && c->skip != 1)
		bad = "skip must be 0 or 1";
	return am_check(bad, err, errlen);
}

int setref_config_check(const struct setref_config *c, char *err, size_t errlen)
{
	return config_check(c, 0, err, errlen);
}

int setref_config_check_queries(const struct setref_config *c, char *err,
				size_t errlen)
{
	return config_check(c, 1, err, errlen);
}

/* Registers a refiner of either mode (queries: 1 for query mode). */
static int init(struct setref *m, struct layout *params, const char *prefix,
		const struct setref_config *c, int queries)
{
	char name[96];
	int C = c->C, rc;

	if (config_check(c, queries, NULL, 0) != AM_OK || strlen(prefix) > 48)
		return AM_EINVAL;
	memset(m, 0, sizeof *m);
	m->cfg = *c;
	m->queries = queries;
#define ADD2(field, what, a, b) do { \
		snprintf(name, sizeof name, "%s.%s", prefix, what); \
		m->field = layout_add2(params, name, a, b); \
		if (m->field == (size_t)-1) return AM_ENOMEM; \
	} while (0)
#define ADD1(field, what, a) do { \
		snprintf(name, sizeof name, "%s.%s", prefix, what); \
		m->field = layout_add1(params, name, a); \
		if (m->field == (size_t)-1) return AM_ENOMEM; \
	} while (0)
	ADD2(ws_w, "embed_state.w", C, c->fs);
	ADD1(ws_b, "embed_state.b", C);
	if (!queries)
		ADD2(tok, "embed_token", c->nst, C);
	if (c->fo > 0) {
		ADD2(wo_w, "embed_obs.w", C, c->fo);
		ADD1(wo_b, "embed_obs.b", C);
	}
	snprintf(name, sizeof name, "%s.tf", prefix);
	rc = tfm_init(&m->tf, params, name, C, c->H, c->L);
	if (rc != AM_OK)
		return rc;
	ADD2(head_w, "head.w", c->sd + 1, C);
	ADD1(head_b, "head.b", c->sd + 1);
	ADD1(eta, "eta", c->passes);
#undef ADD1
#undef ADD2
	return AM_OK;
}

int setref_init(struct setref *m, struct layout *params, const char *prefix,
		const struct setref_config *c)
{
	return init(m, params, prefix, c, 0);
}

int setref_init_queries(struct setref *m, struct layout *params,
			const char *prefix, const struct setref_config *c)
{
	return init(m, params, prefix, c, 1);
}

void setref_init_params(const struct setref *m, float *p, struct rng *r)
{
	const struct setref_config *c = &m->cfg;
	int i;

	tfm_init_params(&m->tf, p, r);
	rng_fill_normal(r, p + m->ws_w, (long)c->C * c->fs, 0.0f,
			1.0f / sqrtf((float)c->fs));
	memset(p + m->ws_b, 0, (size_t)c->C * sizeof *p);
	if (!m->queries)
		rng_fill_normal(r, p + m->tok, (long)c->nst * c->C, 0.0f, 1.0f);
	if (c->fo > 0) {
		rng_fill_normal(r, p + m->wo_w, (long)c->C * c->fo, 0.0f,
				1.0f / sqrtf((float)c->fo));
		memset(p + m->wo_b, 0, (size_t)c->C * sizeof *p);
	}
	memset(p + m->head_w, 0, (size_t)(c->sd + 1) * c->C * sizeof *p);
	memset(p + m->head_b, 0, (size_t)(c->sd + 1) * sizeof *p);
	for (i = 0; i < c->passes; i++)
		p[m->eta + i] = 0.5413249f;	/* softplus^-1(1) */
}

void setref_ws_free(struct setref_ws *ws)
{
	if (!ws)
		return;
	free(ws->block);
	free(ws);
}

/* Sets ws's sizes for m, max_seq sequences and max_rows rows, and plans its
 * copy of the stack on T = nst + max_rows tokens (nst without
 * observations).  The arguments are in range. */
static void ws_size(struct setref_ws *ws, const struct setref *m,
		    int max_seq, int max_rows)
{
	const struct setref_config *c = &m->cfg;

	ws->max_seq = max_seq;
	ws->max_rows = max_rows;
	ws->nst = c->nst;
	ws->sd = c->sd;
	ws->fs = c->fs;
	ws->fo = c->fo;
	ws->ho = c->sd + 1;
	ws->C = c->C;
	ws->queries = m->queries;
	ws->tf = m->tf;
	tfm_plan(&ws->tf, max_seq, c->nst + (c->fo > 0 ? max_rows : 0));
}

/* Reserves n bytes at *top, 64-byte aligned; returns their offset. */
static size_t ws_take(size_t *top, size_t n)
{
	size_t at = *top;

	*top += (n + 63) / 64 * 64;
	return at;
}

/*
 * Lays out every array of a sized ws in one block at base and returns the
 * block's size in bytes; with base NULL it only measures (and leaves the
 * pointers NULL).  The one place that states the workspace's shapes.
 */
static size_t ws_carve(struct setref_ws *ws, char *base)
{
	size_t S = (size_t)ws->max_seq, R = (size_t)ws->max_rows;
	size_t NS = (size_t)ws->nst, C = (size_t)ws->C, T = (size_t)ws->tf.maxT;
	size_t ho = (size_t)ws->ho, sd = (size_t)ws->sd, top = 0;

#define TAKE(field, n) do { \
		size_t at_ = ws_take(&top, (size_t)(n) * sizeof *ws->field); \
		ws->field = base ? (void *)(base + at_) : NULL; \
	} while (0)
	TAKE(B, S);
	TAKE(pass, S);
	TAKE(len, S);
	TAKE(nq, S);
	TAKE(row, S);
	TAKE(gain, S);
	TAKE(fsb, S * NS * (size_t)ws->fs);
	TAKE(fsc, ws->queries ? S * NS * (size_t)ws->fs : 0);
	TAKE(fob, S * R * (size_t)(ws->fo > 0 ? ws->fo : 1));
	TAKE(dir, S * NS * sd);
	TAKE(amask, S * NS * sd);
	TAKE(es, S * NS * C);
	TAKE(eo, R * C);
	TAKE(emb, S * T * C);
	TAKE(hs, S * NS * C);
	TAKE(out, S * NS * ho);
	TAKE(mask, S * T * T);
	TAKE(acts, ws->tf.act_size);
	TAKE(dacts, ws->tf.act_size);
	TAKE(dout, S * NS * ho);
	TAKE(dhs, S * NS * C);
	TAKE(dfinal, S * T * C);
	TAKE(demb, S * T * C);
#undef TAKE
	if (!ws->queries)
		ws->fsc = NULL;		/* token mode reads fsb in place */
	return top;
}

size_t setref_ws_bytes(const struct setref *m, int max_seq, int max_rows)
{
	struct setref_ws ws;

	if (max_seq < 1 || max_rows < 1 || max_rows > SETREF_RMAX)
		return 0;
	memset(&ws, 0, sizeof ws);
	ws_size(&ws, m, max_seq, max_rows);
	return sizeof ws + ws_carve(&ws, NULL);
}

struct setref_ws *setref_ws_new(const struct setref *m, int max_seq, int max_rows)
{
	struct setref_ws *ws;
	int i;

	if (max_seq < 1 || max_rows < 1 || max_rows > SETREF_RMAX)
		return NULL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	ws_size(ws, m, max_seq, max_rows);
	ws->block = calloc(ws_carve(ws, NULL), 1);
	if (!ws->block) {
		free(ws);
		return NULL;
	}
	ws_carve(ws, ws->block);
	for (i = 0; i < max_seq; i++)
		ws->nq[i] = ws->nst;
	return ws;
}

float *setref_fs(struct setref_ws *ws, int i)
{
	return ws->fsb + (size_t)i * ws->nst * ws->fs;
}

float *setref_fo(struct setref_ws *ws, int i)
{
	return ws->fob + (size_t)i * ws->max_rows * (ws->fo > 0 ? ws->fo : 1);
}

float *setref_dir(struct setref_ws *ws, int i)
{
	return ws->dir + (size_t)i * ws->nst * ws->sd;
}

float *setref_amask(struct setref_ws *ws, int i)
{
	return ws->amask + (size_t)i * ws->nst * ws->sd;
}

void setref_set(struct setref_ws *ws, int i, int B, int pass, float gain)
{
	AM_ASSERT(i >= 0 && i < ws->max_seq);
	AM_ASSERT(B >= 0 && B <= ws->max_rows);
	ws->B[i] = ws->fo > 0 ? B : 0;
	ws->pass[i] = pass;
	ws->gain[i] = gain;
}

void setref_set_queries(struct setref_ws *ws, int i, int nq)
{
	AM_ASSERT(i >= 0 && i < ws->max_seq);
	AM_ASSERT(nq >= 1 && nq <= ws->nst && (ws->queries || nq == ws->nst));
	ws->nq[i] = nq;
}

/* The position of sequence i's first state token among its tokens: after
 * the observations in query mode, first in token mode. */
static int state_pos(const struct setref_ws *ws, int i)
{
	return ws->queries ? ws->B[i] : 0;
}

/* The position of sequence i's first observation token. */
static int obs_pos(const struct setref_ws *ws)
{
	return ws->queries ? 0 : ws->nst;
}

int setref_forward(const struct setref *m, const float *p, struct setref_ws *ws,
		   int ns, const float *state, float *next)
{
	const struct setref_config *c = &m->cfg;
	int C = c->C, nst = c->nst, sd = c->sd, ho = sd + 1, T = 0, nrow = 0;
	int i, k, j;
	const float *hout, *fin = ws->fsb;

	AM_ASSERT(ns >= 1 && ns <= ws->max_seq);
	for (i = 0; i < ns; i++) {
		AM_ASSERT(ws->pass[i] >= 0 && ws->pass[i] < c->passes);
		ws->row[i] = nrow;
		nrow += ws->nq[i];
		ws->len[i] = ws->nq[i] + ws->B[i];
		if (ws->len[i] > T)
			T = ws->len[i];
	}
	ws->ns = ns;
	ws->T = T;
	ws->nrow = nrow;
	memset(ws->emb, 0, (size_t)ns * T * C * sizeof *ws->emb);
	if (m->queries) {
		/* gather the active slots into compact rows */
		fin = ws->fsc;
		for (i = 0; i < ns; i++)
			memcpy(ws->fsc + (size_t)ws->row[i] * c->fs,
			       ws->fsb + (size_t)i * nst * c->fs,
			       (size_t)ws->nq[i] * c->fs * sizeof(float));
	}
	linear_forward(ws->es, fin, p + m->ws_w, p + m->ws_b, nrow, c->fs, C);
	for (i = 0; i < ns; i++) {
		float *e = ws->emb + (size_t)i * T * C;
		const float *es = ws->es + (size_t)ws->row[i] * C;
		float *eq = e + (size_t)state_pos(ws, i) * C;

		if (m->queries)
			memcpy(eq, es, (size_t)ws->nq[i] * C * sizeof(float));
		else
			for (k = 0; k < nst; k++)
				for (j = 0; j < C; j++)
					eq[(size_t)k * C + j] = es[(size_t)k * C + j] +
						p[m->tok + (size_t)k * C + j];
		if (ws->B[i] > 0) {
			linear_forward(ws->eo, setref_fo(ws, i), p + m->wo_w,
				       p + m->wo_b, ws->B[i], c->fo, C);
			memcpy(e + (size_t)obs_pos(ws) * C, ws->eo,
			       (size_t)ws->B[i] * C * sizeof(float));
		}
	}
	if (m->queries)
		attention_mask_context(ws->mask, ws->B, ws->len, ns, T);
	else
		attention_mask_padding(ws->mask, ws->len, ns, T);
	tfm_forward(&ws->tf, p, ws->acts, ws->emb, ws->mask, ns, T);
	hout = tfm_output(&ws->tf, ws->acts);
	for (i = 0; i < ns; i++)
		memcpy(ws->hs + (size_t)ws->row[i] * C,
		       hout + ((size_t)i * T + state_pos(ws, i)) * C,
		       (size_t)ws->nq[i] * C * sizeof(float));
	linear_forward(ws->out, ws->hs, p + m->head_w, p + m->head_b, nrow,
		       C, ho);

	for (i = 0; i < ns; i++) {
		float gain = ws->gain[i];
		size_t u0 = (size_t)i * nst, nq = (size_t)ws->nq[i];

		for (k = 0; k < ws->nq[i]; k++) {
			size_t u = u0 + k;	/* slot */
			const float *o = ws->out + ((size_t)ws->row[i] + k) * ho;
			const float *dir = ws->dir + u * sd;
			const float *am = ws->amask + u * sd;
			const float *s = state + u * sd;
			float *nx = next + u * sd;
			float eta = c->skip ? act_softplus(p[m->eta + ws->pass[i]] +
						       o[sd]) : 0.0f;

			gate_forward(nx, s, o, dir, am, gain, eta, sd);
		}
		/* inactive query slots pass through (next may be state) */
		memmove(next + (u0 + nq) * sd, state + (u0 + nq) * sd,
			((size_t)nst - nq) * sd * sizeof *next);
	}
	for (i = 0; i < ns; i++)
		for (j = 0; j < ws->nq[i] * sd; j++)
			if (!isfinite(next[(size_t)i * nst * sd + j]))
				return AM_ENUMERIC;
	return AM_OK;
}

void setref_backward(const struct setref *m, const float *p, float *dp,
		     struct setref_ws *ws, const float *dnext)
{
	const struct setref_config *c = &m->cfg;
	int C = c->C, nst = c->nst, sd = c->sd, ho = sd + 1;
	int ns = ws->ns, T = ws->T, nrow = ws->nrow, i, k, j;

	for (i = 0; i < ns; i++) {
		float gain = ws->gain[i];

		for (k = 0; k < ws->nq[i]; k++) {
			size_t u = (size_t)i * nst + k;	/* slot */
			size_t t = (size_t)ws->row[i] + k;	/* compact row */
			const float *dn = dnext + u * sd;
			const float *dir = ws->dir + u * sd;
			const float *am = ws->amask + u * sd;
			const float *o = ws->out + t * ho;
			float *d = ws->dout + t * ho;
			float deta = gate_backward(d, dn, dir, am, gain, sd);

			d[sd] = 0.0f;
			if (!c->skip)
				continue;
			d[sd] = gate_eta_backward(deta, p[m->eta + ws->pass[i]],
						  o[sd], &dp[m->eta + ws->pass[i]]);
		}
	}
	memset(ws->dhs, 0, (size_t)nrow * C * sizeof *ws->dhs);
	linear_backward(ws->dhs, dp + m->head_w, dp + m->head_b, ws->dout,
			ws->hs, p + m->head_w, nrow, C, ho);
	memset(ws->dfinal, 0, (size_t)ns * T * C * sizeof *ws->dfinal);
	for (i = 0; i < ns; i++)
		memcpy(ws->dfinal + ((size_t)i * T + state_pos(ws, i)) * C,
		       ws->dhs + (size_t)ws->row[i] * C,
		       (size_t)ws->nq[i] * C * sizeof(float));
	memset(ws->demb, 0, (size_t)ns * T * C * sizeof *ws->demb);
	tfm_backward(&ws->tf, ws->demb, dp, ws->dfinal, p, ws->acts, ws->dacts,
		     ws->emb, ns, T);
	for (i = 0; i < ns; i++) {
		const float *de = ws->demb + (size_t)i * T * C;
		const float *deq = de + (size_t)state_pos(ws, i) * C;

		memcpy(ws->dhs + (size_t)ws->row[i] * C, deq,
		       (size_t)ws->nq[i] * C * sizeof(float));
		if (!m->queries)
			for (k = 0; k < nst; k++)
				for (j = 0; j < C; j++)
					dp[m->tok + (size_t)k * C + j] +=
						deq[(size_t)k * C + j];
		if (ws->B[i] > 0)
			linear_backward(NULL, dp + m->wo_w, dp + m->wo_b,
					de + (size_t)obs_pos(ws) * C,
					setref_fo(ws, i), p + m->wo_w, ws->B[i],
					c->fo, C);
	}
	linear_backward(NULL, dp + m->ws_w, dp + m->ws_b, ws->dhs,
			m->queries ? ws->fsc : ws->fsb, p + m->ws_w, nrow,
			c->fs, C);
}
