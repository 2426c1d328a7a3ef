/*
 * refiner.c - the iterative parametric regression amortizer: token
 * features, embeddings, transformer, head and the gated update, forward and
 * backward.
 */
#include "refine/refiner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "nn/act.h"
#include "nn/attention.h"
#include "nn/linear.h"
#include "refine/gate.h"

/* State-token features: theta, g, logvar, active mask (DMAX), three
 * counters, pass one-hot. */
#define FS (LINREG_P + LINREG_P + 1 + LINREG_DMAX + 3 + REFINER_PASSES_MAX)
/* Observation-token features: x, y, yhat, y - yhat. */
#define FO (LINREG_DMAX + 3)
/* Head outputs: delta theta, delta logvar, and s, which sets the gradient
 * skip scale of this step, softplus(eta_pass + s). */
#define HEAD_OUT (REFINER_S + 1)
#define HEAD_SKIP REFINER_S

struct refiner_ws {
	struct tfm tf;			/* planned copy of the refiner's stack */
	int max_seq, max_rows;
	/* last forward */
	int ns, T;
	int *B, *pass;
	float *gain;			/* (ns) */
	float *amask;			/* (ns, LINREG_P) active inputs and bias */
	float *g;			/* (ns, LINREG_P) batch gradients */
	float *fs;			/* (ns, FS) state-token features */
	float *fo;			/* (ns * max_rows, FO) observation features */
	float *eo;			/* (ns * max_rows, C) observation embeddings */
	float *emb;			/* (ns, T, C) transformer input */
	float *h0;			/* (ns, C) state-token outputs */
	float *out;			/* (ns, HEAD_OUT) head outputs */
	unsigned char *mask;		/* (ns, T, T) */
	int *len;			/* (ns) tokens per sequence */
	float *yhat;			/* (max_rows) scratch */
	float *acts, *dacts;
	/* backward scratch */
	float *dout, *dh0, *dfinal, *demb, *deo;
};

int refiner_config_check(const struct refiner_config *cfg, char *err,
			 size_t errlen)
{
	const char *bad = NULL;

	if (cfg->C < 8 || cfg->C > 1024)
		bad = "width must be in [8, 1024]";
	else if (cfg->H < 1 || cfg->C % cfg->H)
		bad = "heads must divide the width";
	else if (cfg->L < 1 || cfg->L > TFM_LAYERS_MAX)
		bad = "layers must be in [1, 16]";
	else if (cfg->bmax < 1 || cfg->bmax > REFINER_BMAX)
		bad = "batch must be in [1, 512]";
	else if (cfg->ksteps < 1 || cfg->ksteps > 4096)
		bad = "steps must be in [1, 4096]";
	else if (cfg->passes < 1 || cfg->passes > REFINER_PASSES_MAX)
		bad = "passes must be in [1, 4]";
	else if (cfg->variant != REFINER_OBS && cfg->variant != REFINER_GRAD &&
		 cfg->variant != REFINER_BOTH)
		bad = "variant must be obs, grad or both";
	return am_check(bad, err, errlen);
}

int refiner_init(struct refiner *m, struct layout *params,
		 const struct refiner_config *cfg)
{
	int C = cfg->C, rc;

	if (refiner_config_check(cfg, NULL, 0) != AM_OK)
		return AM_EINVAL;
	memset(m, 0, sizeof *m);
	m->cfg = *cfg;
	m->ws_w = layout_add2(params, "ref.embed_state.w", C, FS);
	m->ws_b = layout_add1(params, "ref.embed_state.b", C);
	m->wo_w = layout_add2(params, "ref.embed_obs.w", C, FO);
	m->wo_b = layout_add1(params, "ref.embed_obs.b", C);
	rc = tfm_init(&m->tf, params, "ref.tf", C, cfg->H, cfg->L);
	if (rc != AM_OK)
		return rc;
	m->head_w = layout_add2(params, "ref.head.w", HEAD_OUT, C);
	m->head_b = layout_add1(params, "ref.head.b", HEAD_OUT);
	m->eta = layout_add1(params, "ref.eta", cfg->passes);
	m->init = layout_add1(params, "ref.init", REFINER_S);
	if (m->ws_w == (size_t)-1 || m->ws_b == (size_t)-1 ||
	    m->wo_w == (size_t)-1 || m->wo_b == (size_t)-1 ||
	    m->head_w == (size_t)-1 || m->head_b == (size_t)-1 ||
	    m->eta == (size_t)-1 || m->init == (size_t)-1)
		return AM_ENOMEM;
	return AM_OK;
}

void refiner_init_params(const struct refiner *m, float *p, struct rng *r)
{
	int C = m->cfg.C, i;

	tfm_init_params(&m->tf, p, r);
	rng_fill_normal(r, p + m->ws_w, (long)C * FS, 0.0f, 1.0f / sqrtf(FS));
	memset(p + m->ws_b, 0, (size_t)C * sizeof *p);
	rng_fill_normal(r, p + m->wo_w, (long)C * FO, 0.0f, 1.0f / sqrtf(FO));
	memset(p + m->wo_b, 0, (size_t)C * sizeof *p);
	memset(p + m->head_w, 0, (size_t)HEAD_OUT * C * sizeof *p);
	memset(p + m->head_b, 0, HEAD_OUT * sizeof *p);
	for (i = 0; i < m->cfg.passes; i++)
		p[m->eta + i] = 0.5413249f;	/* softplus^-1(1) */
	memset(p + m->init, 0, REFINER_S * sizeof *p);
}

void refiner_initial_state(const struct refiner *m, const float *p, float *s)
{
	memcpy(s, p + m->init, REFINER_S * sizeof *s);
}

void refiner_ws_free(struct refiner_ws *ws)
{
	if (!ws)
		return;
	free(ws->B); free(ws->pass); free(ws->gain); free(ws->amask);
	free(ws->g); free(ws->fs); free(ws->fo); free(ws->eo); free(ws->emb);
	free(ws->h0); free(ws->out); free(ws->mask); free(ws->len);
	free(ws->yhat); free(ws->acts); free(ws->dacts); free(ws->dout);
	free(ws->dh0); free(ws->dfinal); free(ws->demb); free(ws->deo);
	free(ws);
}

struct refiner_ws *refiner_ws_new(const struct refiner *m, int max_seq,
				  int max_rows)
{
	struct refiner_ws *ws;
	size_t S, R, T, C = (size_t)m->cfg.C, na;

	if (max_seq < 1 || max_rows < 1 || max_rows > REFINER_BMAX)
		return NULL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	S = (size_t)max_seq;
	R = (size_t)max_rows;
	T = 1 + R;
	ws->max_seq = max_seq;
	ws->max_rows = max_rows;
	ws->tf = m->tf;
	na = tfm_plan(&ws->tf, max_seq, (int)T);
	ws->B = calloc(S, sizeof *ws->B);
	ws->pass = calloc(S, sizeof *ws->pass);
	ws->len = calloc(S, sizeof *ws->len);
	ws->gain = calloc(S, sizeof *ws->gain);
	ws->amask = calloc(S * LINREG_P, sizeof(float));
	ws->g = calloc(S * LINREG_P, sizeof(float));
	ws->fs = calloc(S * FS, sizeof(float));
	ws->fo = calloc(S * R * FO, sizeof(float));
	ws->eo = calloc(S * R * C, sizeof(float));
	ws->emb = calloc(S * T * C, sizeof(float));
	ws->h0 = calloc(S * C, sizeof(float));
	ws->out = calloc(S * HEAD_OUT, sizeof(float));
	ws->mask = calloc(S * T * T, 1);
	ws->yhat = calloc(R, sizeof(float));
	ws->acts = calloc(na, sizeof(float));
	ws->dacts = calloc(na, sizeof(float));
	ws->dout = calloc(S * HEAD_OUT, sizeof(float));
	ws->dh0 = calloc(S * C, sizeof(float));
	ws->dfinal = calloc(S * T * C, sizeof(float));
	ws->demb = calloc(S * T * C, sizeof(float));
	ws->deo = calloc(S * R * C, sizeof(float));
	if (!ws->B || !ws->pass || !ws->len || !ws->gain || !ws->amask ||
	    !ws->g || !ws->fs || !ws->fo || !ws->eo || !ws->emb || !ws->h0 ||
	    !ws->out || !ws->mask || !ws->yhat || !ws->acts || !ws->dacts ||
	    !ws->dout || !ws->dh0 || !ws->dfinal || !ws->demb || !ws->deo) {
		refiner_ws_free(ws);
		return NULL;
	}
	return ws;
}

/* Fills the features of sequence i; returns its batch loss. */
static float refiner_features(const struct refiner *m, struct refiner_ws *ws,
			      int i, const struct refiner_input *in)
{
	const struct refiner_config *cfg = &m->cfg;
	float *fs = ws->fs + (size_t)i * FS;
	float *g = ws->g + (size_t)i * LINREG_P;
	float *am = ws->amask + (size_t)i * LINREG_P;
	const float *theta = in->state;
	double rows_k = (double)cfg->bmax * cfg->ksteps;
	float gain, loss;
	int j, r;

	loss = linreg_grad(g, in->X, in->y, theta, in->B);
	gain = (float)(in->B / (in->rows_seen + in->B));
	ws->gain[i] = gain;
	ws->B[i] = in->B;
	ws->pass[i] = in->pass;
	for (j = 0; j < LINREG_P; j++)
		am[j] = (j < in->D || j == LINREG_DMAX) ? 1.0f : 0.0f;

	memset(fs, 0, FS * sizeof *fs);
	memcpy(fs, theta, LINREG_P * sizeof *fs);
	if (cfg->variant != REFINER_OBS)
		memcpy(fs + LINREG_P, g, LINREG_P * sizeof *fs);
	fs[2 * LINREG_P] = theta[REFINER_LOGVAR];
	for (j = 0; j < LINREG_DMAX; j++)
		fs[2 * LINREG_P + 1 + j] = am[j];
	/* counters, clamped to what training covers */
	j = 2 * LINREG_P + 1 + LINREG_DMAX;
	fs[j] = fmaxf(gain, 1.0f / (float)cfg->ksteps);
	fs[j + 1] = (float)fmin(log1p(in->rows_seen) / log1p(rows_k), 1.0);
	fs[j + 2] = fminf((float)in->B / (float)cfg->bmax, 1.0f);
	fs[j + 3 + in->pass] = 1.0f;

	if (cfg->variant != REFINER_GRAD) {
		float *fo = ws->fo + (size_t)i * ws->max_rows * FO;

		linreg_predict(ws->yhat, in->X, theta, in->B);
		for (r = 0; r < in->B; r++) {
			float *t = fo + (size_t)r * FO;

			memcpy(t, in->X + (size_t)r * LINREG_DMAX,
			       LINREG_DMAX * sizeof *t);
			t[LINREG_DMAX] = in->y[r];
			t[LINREG_DMAX + 1] = ws->yhat[r];
			t[LINREG_DMAX + 2] = in->y[r] - ws->yhat[r];
		}
	}
	return loss;
}

int refiner_forward(const struct refiner *m, const float *p,
		    struct refiner_ws *ws, int ns,
		    const struct refiner_input *in, float *next,
		    float *batch_loss)
{
	const struct refiner_config *cfg = &m->cfg;
	int C = cfg->C, obs = cfg->variant != REFINER_GRAD;
	int i, j, T = 1;
	const float *hout;

	AM_ASSERT(ns >= 1 && ns <= ws->max_seq);
	for (i = 0; i < ns; i++) {
		AM_ASSERT(in[i].B >= 1 && in[i].B <= ws->max_rows);
		AM_ASSERT(in[i].D >= 1 && in[i].D <= LINREG_DMAX);
		AM_ASSERT(in[i].pass >= 0 && in[i].pass < cfg->passes);
		if (obs && 1 + in[i].B > T)
			T = 1 + in[i].B;
	}
	ws->ns = ns;
	ws->T = T;
	for (i = 0; i < ns; i++) {
		float l = refiner_features(m, ws, i, &in[i]);

		if (batch_loss)
			batch_loss[i] = l;
		ws->len[i] = obs ? 1 + in[i].B : 1;
	}

	/* Token embeddings: row 0 of each sequence is the state token, rows
	 * 1..B the observations, the rest zero (masked). */
	memset(ws->emb, 0, (size_t)ns * T * C * sizeof *ws->emb);
	linear_forward(ws->h0, ws->fs, p + m->ws_w, p + m->ws_b, ns, FS, C);
	for (i = 0; i < ns; i++)
		memcpy(ws->emb + (size_t)i * T * C, ws->h0 + (size_t)i * C,
		       (size_t)C * sizeof(float));
	if (obs) {
		for (i = 0; i < ns; i++) {
			size_t o = (size_t)i * ws->max_rows;

			linear_forward(ws->eo + o * C, ws->fo + o * FO,
				       p + m->wo_w, p + m->wo_b, ws->B[i], FO, C);
			memcpy(ws->emb + ((size_t)i * T + 1) * C, ws->eo + o * C,
			       (size_t)ws->B[i] * C * sizeof(float));
		}
	}
	attention_mask_padding(ws->mask, ws->len, ns, T);
	tfm_forward(&ws->tf, p, ws->acts, ws->emb, ws->mask, ns, T);
	hout = tfm_output(&ws->tf, ws->acts);
	for (i = 0; i < ns; i++)
		memcpy(ws->h0 + (size_t)i * C, hout + (size_t)i * T * C,
		       (size_t)C * sizeof(float));
	linear_forward(ws->out, ws->h0, p + m->head_w, p + m->head_b, ns, C,
		       HEAD_OUT);

	/* theta' = theta + m gain (head - softplus(eta_pass + s) g) */
	for (i = 0; i < ns; i++) {
		const float *s = in[i].state;
		const float *o = ws->out + (size_t)i * HEAD_OUT;
		const float *g = ws->g + (size_t)i * LINREG_P;
		const float *am = ws->amask + (size_t)i * LINREG_P;
		float *nx = next + (size_t)i * REFINER_S;
		float eta = cfg->variant == REFINER_OBS ? 0.0f :
			    act_softplus(p[m->eta + in[i].pass] + o[HEAD_SKIP]);
		float gain = ws->gain[i];

		gate_forward(nx, s, o, g, am, gain, eta, LINREG_P);
		nx[REFINER_LOGVAR] = s[REFINER_LOGVAR] + gain * o[REFINER_LOGVAR];
		for (j = 0; j < REFINER_S; j++)
			if (!isfinite(nx[j]))
				return AM_ENUMERIC;
	}
	return AM_OK;
}

void refiner_backward(const struct refiner *m, const float *p, float *dp,
		      struct refiner_ws *ws, const float *dnext)
{
	const struct refiner_config *cfg = &m->cfg;
	int C = cfg->C, ns = ws->ns, T = ws->T, i;
	int obs = cfg->variant != REFINER_GRAD;

	/* through the gated update */
	for (i = 0; i < ns; i++) {
		const float *dn = dnext + (size_t)i * REFINER_S;
		const float *g = ws->g + (size_t)i * LINREG_P;
		const float *am = ws->amask + (size_t)i * LINREG_P;
		const float *o = ws->out + (size_t)i * HEAD_OUT;
		float *d = ws->dout + (size_t)i * HEAD_OUT;
		float gain = ws->gain[i];
		float deta = gate_backward(d, dn, g, am, gain, LINREG_P);

		d[REFINER_LOGVAR] = gain * dn[REFINER_LOGVAR];
		d[HEAD_SKIP] = 0.0f;
		if (cfg->variant == REFINER_OBS)
			continue;
		/* eta = softplus(e_pass + s): both get deta * sigmoid(e + s) */
		d[HEAD_SKIP] = gate_eta_backward(deta, p[m->eta + ws->pass[i]],
						 o[HEAD_SKIP],
						 &dp[m->eta + ws->pass[i]]);
	}
	/* head */
	memset(ws->dh0, 0, (size_t)ns * C * sizeof *ws->dh0);
	linear_backward(ws->dh0, dp + m->head_w, dp + m->head_b, ws->dout,
			ws->h0, p + m->head_w, ns, C, HEAD_OUT);
	/* only the state token's output reaches the head */
	memset(ws->dfinal, 0, (size_t)ns * T * C * sizeof *ws->dfinal);
	for (i = 0; i < ns; i++)
		memcpy(ws->dfinal + (size_t)i * T * C, ws->dh0 + (size_t)i * C,
		       (size_t)C * sizeof(float));
	memset(ws->demb, 0, (size_t)ns * T * C * sizeof *ws->demb);
	tfm_backward(&ws->tf, ws->demb, dp, ws->dfinal, p, ws->acts, ws->dacts,
		     ws->emb, ns, T);
	/* embeddings: gather the token gradients back per token type */
	for (i = 0; i < ns; i++)
		memcpy(ws->dh0 + (size_t)i * C, ws->demb + (size_t)i * T * C,
		       (size_t)C * sizeof(float));
	linear_backward(NULL, dp + m->ws_w, dp + m->ws_b, ws->dh0, ws->fs,
			p + m->ws_w, ns, FS, C);
	if (!obs)
		return;
	for (i = 0; i < ns; i++) {
		size_t o = (size_t)i * ws->max_rows;

		linear_backward(NULL, dp + m->wo_w, dp + m->wo_b,
				ws->demb + ((size_t)i * T + 1) * C, ws->fo + o * FO,
				p + m->wo_w, ws->B[i], FO, C);
	}
}

int refiner_step(const struct refiner *m, const float *p, struct refiner_ws *ws,
		 float *state, const float *X, const float *y, int B, int D,
		 double rows_seen, float *batch_loss)
{
	float cur[REFINER_S], nx[REFINER_S];
	struct refiner_input in;
	int k, rc;

	if (B < 1 || B > ws->max_rows || D < 1 || D > LINREG_DMAX)
		return AM_EINVAL;
	memcpy(cur, state, sizeof cur);
	for (k = 0; k < m->cfg.passes; k++) {
		float l;

		in.state = cur;
		in.X = X;
		in.y = y;
		in.B = B;
		in.D = D;
		in.rows_seen = rows_seen;
		in.pass = k;
		rc = refiner_forward(m, p, ws, 1, &in, nx, &l);
		if (rc != AM_OK)
			return rc;
		if (k == 0 && batch_loss)
			*batch_loss = l;
		memcpy(cur, nx, sizeof cur);
	}
	memcpy(state, cur, sizeof cur);
	return AM_OK;
}

void refiner_predict(const float *state, const float *X, int n, float *mean,
		     float *var)
{
	int i;

	linreg_predict(mean, X, state, n);
	if (var)
		for (i = 0; i < n; i++)
			var[i] = expf(state[REFINER_LOGVAR]);
}
