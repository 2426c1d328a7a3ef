/*
 * cmd_demo.c - `amort demo`: a tiny in-context regressor, trained in seconds.
 *
 * Meta-trains a small set transformer to do one-dimensional linear
 * regression in context: each task draws y = w x + b + 0.1 e with w, b ~
 * N(0, 1); the model sees 16 (x, y) context tokens and 8 query tokens
 * (x, 0, 1) that attend the context and themselves, and predicts y at each
 * query.  It prints the training loss as it goes, then compares the trained
 * model on fresh tasks with least squares on the same 16 points (the
 * answer a statistician would give) and with the noise floor, and saves
 * the model as a *.amort file that `amort info` reads.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/adam.h"
#include "base/am.h"
#include "io/amfile.h"
#include "nn/attention.h"
#include "base/gemm.h"
#include "base/layout.h"
#include "nn/linear.h"
#include "base/rng.h"
#include "nn/tfm.h"
#include "cli/tool.h"

enum { NCTX = 16, NQ = 8, T = NCTX + NQ, NB = 64, F = 3, C = 32, H = 4, L = 2 };
#define NOISE 0.1f

struct demo {
	struct layout lay;
	struct tfm tf;
	size_t we, be, wh, bh;
	float *p, *dp, *acts, *dacts;
	float inp[NB * T * F], y[NB * T], emb[NB * T * C], demb[NB * T * C];
	float pred[NB * T], dpred[NB * T], dout[NB * T * C];
	float ols[NB * T];	/* least-squares prediction at each query */
	unsigned char mask[NB * T * T];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Draws NB tasks into d->inp / d->y and solves least squares on each
 * task's context for the baseline. */
static void draw_tasks(struct demo *d, struct rng *r)
{
	int b, t;

	for (b = 0; b < NB; b++) {
		double w = rng_normal(r), c = rng_normal(r);
		double sx = 0, sy = 0, sxx = 0, sxy = 0, slope, icpt;

		for (t = 0; t < T; t++) {
			float *tok = d->inp + ((size_t)b * T + t) * F;
			double x = rng_normal(r);
			double y = w * x + c + NOISE * rng_normal(r);

			d->y[b * T + t] = (float)y;
			tok[0] = (float)x;
			tok[1] = t < NCTX ? (float)y : 0.0f;
			tok[2] = t < NCTX ? 0.0f : 1.0f;
			if (t < NCTX) {
				sx += x; sy += y; sxx += x * x; sxy += x * y;
			}
		}
		slope = (NCTX * sxy - sx * sy) / (NCTX * sxx - sx * sx);
		icpt = (sy - slope * sx) / NCTX;
		for (t = NCTX; t < T; t++)
			d->ols[b * T + t] = (float)(slope * d->inp[((size_t)b * T + t) * F] + icpt);
	}
}

/* Forward pass; returns the mean squared error over the query tokens. */
static double forward(struct demo *d)
{
	const float *out;
	double se = 0;
	int b, t;

	linear_forward(d->emb, d->inp, d->p + d->we, d->p + d->be, NB * T, F, C);
	tfm_forward(&d->tf, d->p, d->acts, d->emb, d->mask, NB, T);
	out = tfm_output(&d->tf, d->acts);
	linear_forward(d->pred, out, d->p + d->wh, d->p + d->bh, NB * T, C, 1);
	for (b = 0; b < NB; b++)
		for (t = NCTX; t < T; t++) {
			double e = d->pred[b * T + t] - d->y[b * T + t];

			se += e * e;
		}
	return se / (NB * NQ);
}

/* Backward pass of the query MSE into d->dp (zeroed first). */
static void backward(struct demo *d)
{
	float *out = tfm_output(&d->tf, d->acts);
	int b, t;

	memset(d->dp, 0, d->lay.total * sizeof *d->dp);
	memset(d->dpred, 0, sizeof d->dpred);
	memset(d->dout, 0, sizeof d->dout);
	memset(d->demb, 0, sizeof d->demb);
	for (b = 0; b < NB; b++)
		for (t = NCTX; t < T; t++)
			d->dpred[b * T + t] = 2.0f * (d->pred[b * T + t] -
					      d->y[b * T + t]) / (NB * NQ);
	linear_backward(d->dout, d->dp + d->wh, d->dp + d->bh, d->dpred, out,
			d->p + d->wh, NB * T, C, 1);
	tfm_backward(&d->tf, d->demb, d->dp, d->dout, d->p, d->acts, d->dacts,
		     d->emb, NB, T);
	linear_backward(NULL, d->dp + d->we, d->dp + d->be, d->demb, d->inp,
			d->p + d->we, NB * T, F, C);
}

static int demo_save(const struct demo *d, const char *path, long iters,
		     long seed, double mse, double ols)
{
	json_t *h = json_pack("{s:s, s:s, s:s, s:i, s:{s:i, s:i, s:i}, s:{s:i, s:i, s:i}, s:{s:f, s:f, s:f}}",
			      "name", "demo-icl-linreg1d",
			      "task_family", "linreg1d-demo",
			      "regime", "implicit",
			      "format", 1,
			      "arch", "width", C, "heads", H, "layers", L,
			      "recipe", "iters", (int)iters, "seed", (int)seed,
			      "context", NCTX,
			      "eval", "mse", mse, "ols_mse", ols,
			      "noise_var", (double)(NOISE * NOISE));
	char err[256], *text = h ? json_dumps(h, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
	int rc;

	json_decref(h);
	if (!text) {
		fprintf(stderr, "amort demo: out of memory\n");
		return 1;
	}
	rc = amfile_write(path, text, &d->lay, d->p, err, sizeof err);
	free(text);
	if (rc != AM_OK) {
		fprintf(stderr, "amort demo: %s: %s\n", path, err);
		return 1;
	}
	return 0;
}

int tool_demo(int argc, char **argv)
{
	const char *path = "var/demo.amort";
	long iters = 800, seed = 1, it;
	struct demo *d = NULL;
	struct adam opt = { 0 };
	struct rng r;
	double ema = 0, t0, mse = 0, ols = 0;
	int i, b, t, rc = 1, nctx[NB], len[NB];

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
			if (tool_parse_long("--iters", argv[++i], 1, 1000000, &iters))
				return 2;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (tool_parse_long("--seed", argv[++i], 0, 1L << 40, &seed))
				return 2;
		} else {
			fprintf(stderr, "usage: amort demo [-o FILE] [--iters N] [--seed S]\n");
			return 2;
		}
	}
	d = calloc(1, sizeof *d);
	if (!d)
		goto oom;
	layout_init(&d->lay);
	d->we = layout_add2(&d->lay, "embed.w", C, F);
	d->be = layout_add1(&d->lay, "embed.b", C);
	if (tfm_init(&d->tf, &d->lay, "tf", C, H, L) != AM_OK)
		goto oom;
	d->wh = layout_add2(&d->lay, "head.w", 1, C);
	d->bh = layout_add1(&d->lay, "head.b", 1);
	if (d->bh == (size_t)-1)
		goto oom;
	tfm_plan(&d->tf, NB, T);
	d->p = calloc(d->lay.total, sizeof *d->p);
	d->dp = calloc(d->lay.total, sizeof *d->dp);
	d->acts = calloc(d->tf.act_size, sizeof *d->acts);
	d->dacts = calloc(d->tf.act_size, sizeof *d->dacts);
	if (!d->p || !d->dp || !d->acts || !d->dacts ||
	    adam_init(&opt, d->lay.total) != AM_OK)
		goto oom;
	/* The demo's products are tiny (at most 1536 x 128 x 32): a second
	 * OpenBLAS thread costs more in hand-offs than it gains. */
	gemm_set_threads(1);
	rng_seed(&r, (uint64_t)seed);
	tfm_init_params(&d->tf, d->p, &r);
	rng_fill_normal(&r, d->p + d->we, C * F, 0.0f, 1.0f / sqrtf(F));
	rng_fill_normal(&r, d->p + d->wh, C, 0.0f, 1.0f / sqrtf(C));
	opt.lr = 2e-3f;
	opt.clip = 1.0f;
	for (b = 0; b < NB; b++) {
		nctx[b] = NCTX;
		len[b] = T;
	}
	attention_mask_context(d->mask, nctx, len, NB, T);

	fprintf(stderr, "amort demo: %zu parameters, %ld iterations of %d tasks "
		"(OpenBLAS %s, %d thread(s))\n", d->lay.total, iters, NB,
		gemm_backend(), gemm_threads());
	t0 = now();
	for (it = 1; it <= iters; it++) {
		double l;

		draw_tasks(d, &r);
		l = forward(d);
		if (!isfinite(l)) {
			fprintf(stderr, "amort demo: loss became %g at iteration %ld\n", l, it);
			goto out;
		}
		backward(d);
		adam_step(&opt, d->p, d->dp, NULL);
		ema = it == 1 ? l : 0.98 * ema + 0.02 * l;
		if (it % 100 == 0 || it == iters)
			fprintf(stderr, "iter %5ld  query mse %.4f  %.0f it/s\n",
				it, ema, it / (now() - t0));
	}
	/* Held-out tasks from a separate stream. */
	rng_seed(&r, (uint64_t)seed + 1000003);
	for (i = 0; i < 16; i++) {
		draw_tasks(d, &r);
		mse += forward(d) / 16;
		for (b = 0; b < NB; b++)
			for (t = NCTX; t < T; t++) {
				double e = d->ols[b * T + t] - d->y[b * T + t];

				ols += e * e / (16.0 * NB * NQ);
			}
	}
	printf("held-out query MSE on %d tasks: transformer %.4f, least squares "
	       "on the same %d points %.4f, noise floor %.4f\n",
	       16 * NB, mse, NCTX, ols, (double)(NOISE * NOISE));
	rc = demo_save(d, path, iters, seed, mse, ols);
	if (rc == 0)
		printf("saved %s (amort info %s)\n", path, path);
	goto out;
oom:
	fprintf(stderr, "amort demo: out of memory\n");
out:
	adam_free(&opt);
	if (d) {
		free(d->p);
		free(d->dp);
		free(d->acts);
		free(d->dacts);
		layout_free(&d->lay);
		free(d);
	}
	return rc;
}
