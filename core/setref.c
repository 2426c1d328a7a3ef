/*
 * setref.c - the set-of-tokens refiner: embeddings, transformer, per-token
 * head and the gated update, forward and backward.
 */
#include "setref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am.h"
#include "attention.h"
#include "linear.h"

struct setref_ws {
	struct tfm tf;			/* planned copy of the stack */
	int max_seq, max_rows, T, ns;
	int nst, sd, fs, fo, ho, C;
	int *B, *pass, *len;
	float *gain;			/* (S) */
	float *fsb;			/* (S, nst, fs) */
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

static float softplus(float x)
{
	return x > 20.0f ? x : log1pf(expf(x));
}

static float sigmoid(float x)
{
	return 1.0f / (1.0f + expf(-x));
}

int setref_config_check(const struct setref_config *c, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (c->C < 8 || c->C > 1024)
		bad = "width must be in [8, 1024]";
	else if (c->H < 1 || c->C % c->H)
		bad = "heads must divide the width";
	else if (c->L < 1 || c->L > TFM_LAYERS_MAX)
		bad = "layers must be in [1, 16]";
	else if (c->nst < 1 || c->nst > SETREF_TOKENS_MAX)
		bad = "state tokens must be in [1, 32]";
	else if (c->sd < 1 || c->sd > 1024 || c->fs < 1 || c->fs > 4096 ||
		 c->fo < 0 || c->fo > 4096)
		bad = "token sizes out of range";
	else if (c->passes < 1 || c->passes > SETREF_PASSES_MAX)
		bad = "passes must be in [1, 4]";
	else if (c->skip != 0 && c->skip != 1)
		bad = "skip must be 0 or 1";
	if (!bad)
		return AM_OK;
	if (err && errlen) {
		strncpy(err, bad, errlen - 1);
		err[errlen - 1] = '\0';
	}
	return AM_EINVAL;
}

int setref_init(struct setref *m, struct layout *params, const char *prefix,
		const struct setref_config *c)
{
	char name[96];
	int C = c->C, rc;

	if (setref_config_check(c, NULL, 0) != AM_OK || strlen(prefix) > 48)
		return AM_EINVAL;
	memset(m, 0, sizeof *m);
	m->cfg = *c;
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

void setref_init_params(const struct setref *m, float *p, struct rng *r)
{
	const struct setref_config *c = &m->cfg;
	int i;

	tfm_init_params(&m->tf, p, r);
	rng_fill_normal(r, p + m->ws_w, (long)c->C * c->fs, 0.0f,
			1.0f / sqrtf((float)c->fs));
	memset(p + m->ws_b, 0, (size_t)c->C * sizeof *p);
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
	free(ws->B); free(ws->pass); free(ws->len); free(ws->gain);
	free(ws->fsb); free(ws->fob); free(ws->dir); free(ws->amask);
	free(ws->es); free(ws->eo); free(ws->emb); free(ws->hs); free(ws->out);
	free(ws->mask); free(ws->acts); free(ws->dacts); free(ws->dout);
	free(ws->dhs); free(ws->dfinal); free(ws->demb);
	free(ws);
}

struct setref_ws *setref_ws_new(const struct setref *m, int max_seq, int max_rows)
{
	const struct setref_config *c = &m->cfg;
	struct setref_ws *ws;
	size_t S, R, T, C = (size_t)c->C, NS, na;

	if (max_seq < 1 || max_rows < 1 || max_rows > SETREF_RMAX)
		return NULL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	S = (size_t)max_seq;
	R = (size_t)max_rows;
	NS = (size_t)c->nst;
	T = NS + (c->fo > 0 ? R : 0);
	ws->max_seq = max_seq;
	ws->max_rows = max_rows;
	ws->nst = c->nst;
	ws->sd = c->sd;
	ws->fs = c->fs;
	ws->fo = c->fo;
	ws->ho = c->sd + 1;
	ws->C = c->C;
	ws->tf = m->tf;
	na = tfm_plan(&ws->tf, max_seq, (int)T);
	ws->B = calloc(S, sizeof *ws->B);
	ws->pass = calloc(S, sizeof *ws->pass);
	ws->len = calloc(S, sizeof *ws->len);
	ws->gain = calloc(S, sizeof(float));
	ws->fsb = calloc(S * NS * (size_t)c->fs, sizeof(float));
	ws->fob = calloc(S * R * (size_t)(c->fo > 0 ? c->fo : 1), sizeof(float));
	ws->dir = calloc(S * NS * (size_t)c->sd, sizeof(float));
	ws->amask = calloc(S * NS * (size_t)c->sd, sizeof(float));
	ws->es = calloc(S * NS * C, sizeof(float));
	ws->eo = calloc(R * C, sizeof(float));
	ws->emb = calloc(S * T * C, sizeof(float));
	ws->hs = calloc(S * NS * C, sizeof(float));
	ws->out = calloc(S * NS * (size_t)ws->ho, sizeof(float));
	ws->mask = calloc(S * T * T, 1);
	ws->acts = calloc(na, sizeof(float));
	ws->dacts = calloc(na, sizeof(float));
	ws->dout = calloc(S * NS * (size_t)ws->ho, sizeof(float));
	ws->dhs = calloc(S * NS * C, sizeof(float));
	ws->dfinal = calloc(S * T * C, sizeof(float));
	ws->demb = calloc(S * T * C, sizeof(float));
	if (!ws->B || !ws->pass || !ws->len || !ws->gain || !ws->fsb ||
	    !ws->fob || !ws->dir || !ws->amask || !ws->es || !ws->eo ||
	    !ws->emb || !ws->hs || !ws->out || !ws->mask || !ws->acts ||
	    !ws->dacts || !ws->dout || !ws->dhs || !ws->dfinal || !ws->demb) {
		setref_ws_free(ws);
		return NULL;
	}
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

int setref_forward(const struct setref *m, const float *p, struct setref_ws *ws,
		   int ns, const float *state, float *next)
{
	const struct setref_config *c = &m->cfg;
	int C = c->C, nst = c->nst, sd = c->sd, ho = sd + 1, T = nst;
	int i, k, j;
	const float *hout;
	float *nstate;

	AM_ASSERT(ns >= 1 && ns <= ws->max_seq);
	for (i = 0; i < ns; i++) {
		AM_ASSERT(ws->pass[i] >= 0 && ws->pass[i] < c->passes);
		if (nst + ws->B[i] > T)
			T = nst + ws->B[i];
	}
	ws->ns = ns;
	ws->T = T;
	memset(ws->emb, 0, (size_t)ns * T * C * sizeof *ws->emb);
	linear_forward(ws->es, ws->fsb, p + m->ws_w, p + m->ws_b, ns * nst,
		       c->fs, C);
	for (i = 0; i < ns; i++) {
		float *e = ws->emb + (size_t)i * T * C;

		ws->len[i] = nst + ws->B[i];
		for (k = 0; k < nst; k++)
			for (j = 0; j < C; j++)
				e[(size_t)k * C + j] =
					ws->es[((size_t)i * nst + k) * C + j] +
					p[m->tok + (size_t)k * C + j];
		if (ws->B[i] > 0) {
			linear_forward(ws->eo, setref_fo(ws, i), p + m->wo_w,
				       p + m->wo_b, ws->B[i], c->fo, C);
			memcpy(e + (size_t)nst * C, ws->eo,
			       (size_t)ws->B[i] * C * sizeof(float));
		}
	}
	attention_mask_padding(ws->mask, ws->len, ns, T);
	tfm_forward(&ws->tf, p, ws->acts, ws->emb, ws->mask, ns, T);
	hout = tfm_output(&ws->tf, ws->acts);
	for (i = 0; i < ns; i++)
		memcpy(ws->hs + (size_t)i * nst * C, hout + (size_t)i * T * C,
		       (size_t)nst * C * sizeof(float));
	linear_forward(ws->out, ws->hs, p + m->head_w, p + m->head_b, ns * nst,
		       C, ho);

	for (i = 0; i < ns; i++) {
		float gain = ws->gain[i];

		for (k = 0; k < nst; k++) {
			size_t t = (size_t)i * nst + k;
			const float *o = ws->out + t * ho;
			const float *dir = ws->dir + t * sd;
			const float *am = ws->amask + t * sd;
			const float *s = state + t * sd;
			float *nx = next + t * sd;
			float eta = c->skip ? softplus(p[m->eta + ws->pass[i]] +
						       o[sd]) : 0.0f;

			for (j = 0; j < sd; j++)
				nx[j] = s[j] + am[j] * gain * (o[j] - eta * dir[j]);
		}
	}
	nstate = next;
	for (j = 0; j < ns * nst * sd; j++)
		if (!isfinite(nstate[j]))
			return AM_ENUMERIC;
	return AM_OK;
}

void setref_backward(const struct setref *m, const float *p, float *dp,
		     struct setref_ws *ws, const float *dnext)
{
	const struct setref_config *c = &m->cfg;
	int C = c->C, nst = c->nst, sd = c->sd, ho = sd + 1;
	int ns = ws->ns, T = ws->T, i, k, j;

	for (i = 0; i < ns; i++) {
		float gain = ws->gain[i];

		for (k = 0; k < nst; k++) {
			size_t t = (size_t)i * nst + k;
			const float *dn = dnext + t * sd;
			const float *dir = ws->dir + t * sd;
			const float *am = ws->amask + t * sd;
			const float *o = ws->out + t * ho;
			float *d = ws->dout + t * ho, deta = 0.0f, dsp;

			for (j = 0; j < sd; j++) {
				d[j] = am[j] * gain * dn[j];
				deta -= d[j] * dir[j];
			}
			d[sd] = 0.0f;
			if (!c->skip)
				continue;
			dsp = deta * sigmoid(p[m->eta + ws->pass[i]] + o[sd]);
			dp[m->eta + ws->pass[i]] += dsp;
			d[sd] = dsp;
		}
	}
	memset(ws->dhs, 0, (size_t)ns * nst * C * sizeof *ws->dhs);
	linear_backward(ws->dhs, dp + m->head_w, dp + m->head_b, ws->dout,
			ws->hs, p + m->head_w, ns * nst, C, ho);
	memset(ws->dfinal, 0, (size_t)ns * T * C * sizeof *ws->dfinal);
	for (i = 0; i < ns; i++)
		memcpy(ws->dfinal + (size_t)i * T * C, ws->dhs + (size_t)i * nst * C,
		       (size_t)nst * C * sizeof(float));
	memset(ws->demb, 0, (size_t)ns * T * C * sizeof *ws->demb);
	tfm_backward(&ws->tf, ws->demb, dp, ws->dfinal, p, ws->acts, ws->dacts,
		     ws->emb, ns, T);
	for (i = 0; i < ns; i++) {
		const float *de = ws->demb + (size_t)i * T * C;

		memcpy(ws->dhs + (size_t)i * nst * C, de,
		       (size_t)nst * C * sizeof(float));
		for (k = 0; k < nst; k++)
			for (j = 0; j < C; j++)
				dp[m->tok + (size_t)k * C + j] += de[(size_t)k * C + j];
		if (ws->B[i] > 0)
			linear_backward(NULL, dp + m->wo_w, dp + m->wo_b,
					de + (size_t)nst * C, setref_fo(ws, i),
					p + m->wo_w, ws->B[i], c->fo, C);
	}
	linear_backward(NULL, dp + m->ws_w, dp + m->ws_b, ws->dhs, ws->fsb,
			p + m->ws_w, ns * nst, c->fs, C);
}
