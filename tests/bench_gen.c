/*
 * bench_gen.c - speed of the generative amortizers: the step a session
 * takes per mini-batch and the samples it draws, next to what a server
 * could run instead (EM on the samples seen).
 *
 * The networks of deploy/recipes/mog.recipe and flow-mog.recipe, freshly
 * initialised (speed does not depend on the trained values), at one
 * OpenBLAS thread (what the daemon gives a request), D = 2, B = 32:
 *   step     latency of one step (median and p99 over 1,000) and rows/s;
 *   sample   samples/s for draws of 1,000 (mixture: exact; flow: 32
 *            midpoint steps, 64 network evaluations per sample);
 *   EM       the baseline refit after 16 steps: diagonal EM with 4
 *            components, 5 restarts, on 512 samples, per call.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/gemm.h"
#include "family/gen.h"
#include "base/layout.h"
#include "tasks/mog.h"
#include "base/rng.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void bench(const char *name, enum gen_kind kind)
{
	enum { STEPS = 1000, B = 32, NS = 1000, REPS = 20 };
	struct gen_config c = { .kind = kind, .variant = kind == GEN_MOG ? GEN_BOTH :
				GEN_OBS, .C = 64, .H = 4, .L = 4, .passes = 1,
				.bmax = B, .ksteps = 16, .Z = 32, .vH = 128, .vL = 3,
				.flow_steps = 32 };
	static double lat[STEPS];
	static float X[B * GEN_DMAX], S[NS * GEN_DMAX];
	float state[GEN_STATE_MAX];
	struct layout lay;
	struct gen g;
	struct gen_ws *ws;
	struct rng r;
	float *p;
	double t0, t;
	int i;

	layout_init(&lay);
	if (gen_init(&g, &lay, &c) != 0 || !(p = calloc(lay.total, sizeof *p)) ||
	    !(ws = gen_ws_new(&g, 1, B))) {
		fprintf(stderr, "bench_gen: setup failed\n");
		exit(1);
	}
	rng_seed(&r, 1);
	gen_init_params(&g, p, &r);
	gen_initial_state(&g, p, state);
	for (i = 0; i < STEPS; i++) {
		rng_fill_normal(&r, X, B * GEN_DMAX, 0.0f, 1.0f);
		for (int j = 0; j < B; j++)
			memset(X + j * GEN_DMAX + 2, 0, (GEN_DMAX - 2) * sizeof(float));
		t0 = now();
		if (gen_step(&g, p, ws, state, X, NULL, B, 2, 0, (double)i * B,
			     NULL, NULL) != 0) {
			gen_initial_state(&g, p, state);
		}
		lat[i] = now() - t0;
	}
	qsort(lat, STEPS, sizeof lat[0], cmp);
	t0 = now();
	for (i = 0; i < REPS; i++)
		gen_sample(&g, p, ws, state, 2, NS, &r, S);
	t = now() - t0;
	printf("| %s | %zu | %.3f | %.3f | %.0f | %.0f |\n", name, lay.total,
	       lat[STEPS / 2] * 1e3, lat[STEPS * 99 / 100] * 1e3,
	       B / lat[STEPS / 2], REPS * NS / t);
	gen_ws_free(ws);
	free(p);
	layout_free(&lay);
}

int main(void)
{
	enum { N = 512, REPS = 20 };
	struct mog_family f;
	struct mog_task task;
	static float X[N * MOG_DMAX];
	float th[MOG_P];
	struct rng r;
	double t0, t;
	int i;

	gemm_set_threads(1);
	printf("## Generative amortizers (1 OpenBLAS thread, %s kernel, D = 2, B = 32)\n\n",
	       gemm_backend());
	printf("| model | parameters | step median (ms) | step p99 (ms) | rows/s | samples/s |\n");
	printf("|---|---|---|---|---|---|\n");
	bench("mog (mixture, exact sampling)", GEN_MOG);
	bench("flow (32 midpoint steps)", GEN_FLOW);
	mog_family_default(&f);
	f.kmin = f.kmax = 4;
	rng_seed(&r, 2);
	mog_task_draw(&task, &f, &r);
	mog_sample(task.theta, 2, &r, N, X);
	t0 = now();
	for (i = 0; i < REPS; i++)
		mog_em(X, N, 2, 4, 5, 300, &r, th);
	t = now() - t0;
	printf("\nBaseline: EM (4 components, 5 restarts, up to 300 iterations) on "
	       "512 samples: %.2f ms per fit; the amortizer's 16 steps over the "
	       "same samples are 16 step latencies above.\n", t / REPS * 1e3);
	return 0;
}
