/*
 * loadhelper_step.c - the core's raw step throughput for a model file: what
 * the daemon's ingestion is measured against (tests/bench_server.sh).
 *
 *   loadhelper_step MODEL.amort [D [SECONDS]]
 *
 * Loads the model as the daemon does (model_load), and for SECONDS (default
 * 5) applies refiner_step to one session's state with full mini-batches of
 * the model's batch size B and D inputs (default 16), at one OpenBLAS
 * thread (what the daemon gives a request).  The rows come from a linear
 * regression task of the model's family, drawn up front (64 mini-batches,
 * reused in turn), so the loop times the step and nothing else.  The state
 * carries on from step to step like a session's, and goes back to the
 * initial state only if a step would make it non-finite.
 *
 * Prints one line of key=value pairs: rows_per_s, steps, B, D, median_us,
 * p99_us (per step) and blas (the OpenBLAS kernel).  Exit status 2 on a
 * usage error, 1 when the model does not load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/am.h"
#include "base/gemm.h"
#include "tasks/linreg.h"
#include "model/model.h"
#include "refine/refiner.h"
#include "base/rng.h"

#define POOL 64
#define MAXSTEPS 200000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct model m;
	struct refiner_ws *ws = NULL;
	struct linreg_family fam;
	struct linreg_task task;
	struct rng r;
	float *X = NULL, *y = NULL, state[REFINER_S];
	double *lat = NULL, t0, t1, total = 0, seconds = 5;
	char err[512];
	int D = 16, Bm, n = 0, rc = 1;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: loadhelper_step MODEL.amort [D [SECONDS]]\n");
		return 2;
	}
	if (argc > 2)
		D = atoi(argv[2]);
	if (argc > 3)
		seconds = atof(argv[3]);
	if (D < 1 || D > LINREG_DMAX || !(seconds > 0 && seconds <= 600)) {
		fprintf(stderr, "loadhelper_step: D must be 1..%d and SECONDS 0..600\n",
			LINREG_DMAX);
		return 2;
	}
	memset(&m, 0, sizeof m);
	if (model_load(&m, argv[1], err, sizeof err)) {
		fprintf(stderr, "loadhelper_step: %s: %s\n", argv[1], err);
		return 1;
	}
	gemm_set_threads(1);
	Bm = m.cfg.bmax;
	X = calloc((size_t)POOL * Bm * LINREG_DMAX, sizeof *X);
	y = calloc((size_t)POOL * Bm, sizeof *y);
	lat = calloc(MAXSTEPS, sizeof *lat);
	ws = refiner_ws_new(m.impl, 1, Bm);
	if (!X || !y || !lat || !ws) {
		fprintf(stderr, "loadhelper_step: out of memory\n");
		goto out;
	}
	rng_seed(&r, 1);
	linreg_family_default(&fam);
	fam.dmin = fam.dmax = D;
	linreg_task_draw(&task, &fam, &r);
	linreg_task_rows(&task, &r, POOL * Bm, X, y);
	refiner_initial_state(m.impl, m.p, state);

	t0 = now();
	do {
		const float *xb = X + (size_t)(n % POOL) * Bm * LINREG_DMAX;
		const float *yb = y + (size_t)(n % POOL) * Bm;
		double s = now();

		if (refiner_step(m.impl, m.p, ws, state, xb, yb, Bm, D,
				 (double)n * Bm, NULL) != AM_OK)
			refiner_initial_state(m.impl, m.p, state);
		t1 = now();
		lat[n] = t1 - s;
		total += lat[n];
		n++;
	} while (t1 - t0 < seconds && n < MAXSTEPS);
	qsort(lat, (size_t)n, sizeof *lat, cmp);
	printf("rows_per_s=%.0f steps=%d B=%d D=%d median_us=%.0f p99_us=%.0f blas=%s\n",
	       (double)n * Bm / total, n, Bm, D, lat[n / 2] * 1e6,
	       lat[(size_t)n * 99 / 100] * 1e6, gemm_backend());
	rc = 0;
out:
	refiner_ws_free(ws);
	free(lat);
	free(y);
	free(X);
	model_free(&m);
	return rc;
}
