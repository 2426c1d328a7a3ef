/*
 * bench_core.c - forward+backward throughput of representative transformer
 * stacks next to OpenBLAS's own sgemm rate, measured in the same run.
 *
 * For each width C in {64, 128} and sequence length T in {33, 129} (4
 * layers, 4 heads, about 2,100 tokens a pass), it times forward + backward
 * and reports tokens/s and GFLOP/s (FLOPs counted analytically: forward per
 * token from tfm_flops_per_token, backward twice that), then the sgemm
 * GFLOP/s of the stack's largest product shape and of a 512^3 square, and
 * the ratio stack / sgemm(same shape).  Runs at 1 thread (what the daemon
 * gives one request) and at the machine's thread count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/gemm.h"
#include "base/layout.h"
#include "base/rng.h"
#include "nn/tfm.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *xcalloc(size_t n, size_t s)
{
	void *p = calloc(n, s);

	if (!p) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	return p;
}

/* Best-of-repeats sgemm rate in GFLOP/s for C (M x N) = A (M x K) B^T. */
static double sgemm_gflops(int M, int N, int K)
{
	float *A = xcalloc((size_t)M * K, 4), *B = xcalloc((size_t)N * K, 4);
	float *C = xcalloc((size_t)M * N, 4);
	double best = 0, flops = 2.0 * M * N * K;
	struct rng r;
	int rep, it, iters;

	rng_seed(&r, 1);
	rng_fill_normal(&r, A, (long)M * K, 0, 1);
	rng_fill_normal(&r, B, (long)N * K, 0, 1);
	iters = (int)(2e9 / flops) + 1;	/* ~ 2 GFLOP a repeat */
	for (rep = 0; rep < 5; rep++) {
		double t0 = now(), dt;

		for (it = 0; it < iters; it++)
			gemm(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
		dt = now() - t0;
		if (flops * iters / dt > best)
			best = flops * iters / dt;
	}
	free(A);
	free(B);
	free(C);
	return best * 1e-9;
}

struct result {
	double tok_s, gflops;
};

static struct result bench_stack(int C, int T, int Bseq)
{
	struct layout lay;
	struct tfm t;
	struct rng r;
	float *p, *dp, *acts, *dacts, *inp, *dout;
	size_t na;
	double flops, best = 1e30;
	int rep, it, iters = 3;
	struct result res;

	layout_init(&lay);
	if (tfm_init(&t, &lay, "tf", C, 4, 4) != 0) {
		fprintf(stderr, "bench: tfm_init failed\n");
		exit(1);
	}
	na = tfm_plan(&t, Bseq, T);
	p = xcalloc(lay.total, 4);
	dp = xcalloc(lay.total, 4);
	acts = xcalloc(na, 4);
	dacts = xcalloc(na, 4);
	inp = xcalloc((size_t)Bseq * T * C, 4);
	dout = xcalloc((size_t)Bseq * T * C, 4);
	rng_seed(&r, 2);
	tfm_init_params(&t, p, &r);
	rng_fill_normal(&r, inp, (long)Bseq * T * C, 0, 1);
	rng_fill_normal(&r, dout, (long)Bseq * T * C, 0, 1);
	tfm_forward(&t, p, acts, inp, NULL, Bseq, T);	/* warm-up */
	for (rep = 0; rep < 5; rep++) {
		double t0 = now(), dt;

		for (it = 0; it < iters; it++) {
			tfm_forward(&t, p, acts, inp, NULL, Bseq, T);
			tfm_backward(&t, NULL, dp, dout, p, acts, dacts, inp, Bseq, T);
		}
		dt = (now() - t0) / iters;
		if (dt < best)
			best = dt;
	}
	flops = 3.0 * tfm_flops_per_token(&t, T) * Bseq * T;
	res.tok_s = Bseq * T / best;
	res.gflops = flops / best * 1e-9;
	free(p); free(dp); free(acts); free(dacts); free(inp); free(dout);
	layout_free(&lay);
	return res;
}

int main(void)
{
	static const int widths[] = { 64, 128 }, lengths[] = { 33, 129 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads[2] = { 1, (int)(ncpu > 1 ? ncpu : 1) };
	int ti, wi, li;

	printf("## Transformer stack forward+backward vs sgemm (4 layers, 4 heads)\n\n");
	printf("OpenBLAS core: %s; online CPUs: %ld. FLOPs: forward per token "
	       "L(24C^2 + 4TC), backward 2x forward.\n\n", gemm_backend(), ncpu);
	printf("| threads | C | T | seqs | tokens/s | stack GFLOP/s | sgemm GFLOP/s (%s) | ratio | sgemm 512^3 GFLOP/s |\n",
	       "N x 4C x C");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (ti = 0; ti < (threads[1] > 1 ? 2 : 1); ti++) {
		double sq;

		gemm_set_threads(threads[ti]);
		sq = sgemm_gflops(512, 512, 512);
		for (wi = 0; wi < 2; wi++)
			for (li = 0; li < 2; li++) {
				int C = widths[wi], T = lengths[li];
				int Bseq = 2112 / T;	/* ~2.1k tokens a pass */
				struct result r = bench_stack(C, T, Bseq);
				double ref = sgemm_gflops(Bseq * T, 4 * C, C);

				printf("| %d | %d | %d | %d | %.0f | %.2f | %.2f | %.2f | %.2f |\n",
				       threads[ti], C, T, Bseq, r.tok_s, r.gflops, ref,
				       r.gflops / ref, sq);
				fflush(stdout);
			}
	}
	return 0;
}
