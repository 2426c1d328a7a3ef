/*
 * bench_amort.c - speed of the regression amortizer's step, the unit of
 * work the daemon does per mini-batch.
 *
 * The refiner of deploy/recipes/linreg.recipe (width 64, 4 layers, 4 heads,
 * 2 passes per step), freshly initialised: speed does not depend on the
 * trained values.  Reports, at one OpenBLAS thread (what the daemon gives a
 * request): the latency of one step of B rows for a single session
 * (median and p99 over 2,000 steps) and its rows/s, and the rows/s when 64
 * sessions' steps are batched into one forward pass; next to them the
 * closed-form alternative a server could run instead, a ridge solve on the
 * accumulated statistics (D = 16), per step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/gemm.h"
#include "base/layout.h"
#include "tasks/linreg.h"
#include "refine/refiner.h"
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

int main(void)
{
	enum { STEPS = 2000, SEQ = 64 };
	struct refiner_config cfg = { .C = 64, .H = 4, .L = 4, .bmax = 32,
				      .ksteps = 16, .passes = 2,
				      .variant = REFINER_BOTH };
	static const int batches[] = { 1, 8, 32 };
	static double lat[STEPS];
	struct refiner m;
	struct layout lay;
	struct refiner_ws *ws1, *wsn;
	struct linreg_task task;
	struct linreg_family fam;
	struct refiner_input in[SEQ];
	float *p, *X, *y, state[SEQ][REFINER_S], next[SEQ * REFINER_S];
	double A[LINREG_P * LINREG_P], b[LINREG_P];
	float theta[LINREG_P];
	struct rng r;
	size_t bi;
	int i, k;

	gemm_set_threads(1);
	layout_init(&lay);
	if (refiner_init(&m, &lay, &cfg) != 0)
		return 1;
	p = calloc(lay.total, sizeof *p);
	X = calloc((size_t)SEQ * 32 * LINREG_DMAX, sizeof *X);
	y = calloc((size_t)SEQ * 32, sizeof *y);
	ws1 = refiner_ws_new(&m, 1, 32);
	wsn = refiner_ws_new(&m, SEQ, 32);
	if (!p || !X || !y || !ws1 || !wsn)
		return 1;
	rng_seed(&r, 1);
	refiner_init_params(&m, p, &r);
	linreg_family_default(&fam);
	fam.dmin = fam.dmax = 16;
	linreg_task_draw(&task, &fam, &r);
	linreg_task_rows(&task, &r, SEQ * 32, X, y);

	printf("## Amortizer step (width 64, 4 layers, 2 passes per step, D = 16), 1 OpenBLAS thread (%s)\n\n",
	       gemm_backend());
	printf("| rows per step | step latency median (us) | p99 (us) | rows/s, one session | rows/s, 64 sessions batched | ridge re-solve per step (us) |\n");
	printf("|---|---|---|---|---|---|\n");
	for (bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
		int B = batches[bi];
		double t0, tb, ridge_us, total = 0;
		int reps = 20;

		refiner_initial_state(&m, p, state[0]);
		for (i = 0; i < STEPS; i++) {
			double s = now();

			refiner_step(&m, p, ws1, state[0], X, y, B, 16, (double)i * B, NULL);
			lat[i] = now() - s;
			total += lat[i];
			if (i % 16 == 15)
				refiner_initial_state(&m, p, state[0]);
		}
		qsort(lat, STEPS, sizeof lat[0], cmp);
		/* 64 sessions stepped together, passes in sequence */
		for (i = 0; i < SEQ; i++)
			refiner_initial_state(&m, p, state[i]);
		t0 = now();
		for (k = 0; k < reps; k++) {
			int pass;

			for (pass = 0; pass < cfg.passes; pass++) {
				for (i = 0; i < SEQ; i++)
					in[i] = (struct refiner_input){ state[i],
						X + (size_t)i * 32 * LINREG_DMAX, y + (size_t)i * 32,
						B, 16, (double)k * B, pass };
				refiner_forward(&m, p, wsn, SEQ, in, next, NULL);
				for (i = 0; i < SEQ; i++)
					memcpy(state[i], next + (size_t)i * REFINER_S,
					       sizeof state[i]);
			}
		}
		tb = now() - t0;
		/* the closed form: accumulate the batch, re-solve */
		memset(A, 0, sizeof A);
		memset(b, 0, sizeof b);
		t0 = now();
		for (i = 0; i < STEPS; i++) {
			linreg_accumulate(A, b, X, y, B);
			linreg_ridge(theta, A, b, 0.25, 16);
		}
		ridge_us = (now() - t0) / STEPS * 1e6;
		printf("| %d | %.0f | %.0f | %.0f | %.0f | %.1f |\n", B,
		       lat[STEPS / 2] * 1e6, lat[STEPS * 99 / 100] * 1e6,
		       STEPS * (double)B / total, (double)reps * SEQ * B / tb, ridge_us);
		fflush(stdout);
	}
	printf("\nThe amortizer's cost per step is fixed by its size, not by the rows "
	       "seen: it is a learned update, not a growing solve.\n\n");
	free(p);
	free(X);
	free(y);
	refiner_ws_free(ws1);
	refiner_ws_free(wsn);
	layout_free(&lay);
	return 0;
}
