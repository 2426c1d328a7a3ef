/*
 * geneval.h - measuring a generative amortizer against EM and against the
 * sampling floor, on the same samples.
 *
 * Per task: the amortizer refines its state over k mini-batches of B rows
 * (a fresh task sample each); at each k in ks it is measured on the same
 * footing as its baselines:
 *   nll        mean negative log-likelihood per sample of nheld held-out
 *              samples (density models only): the amortizer's state, EM on
 *              all k*B samples seen (diagonal, the task's true number of
 *              components, best of em_restarts k-means++ restarts; mixture
 *              tasks only), and the true mixture (its own NLL: the
 *              entropy floor).
 *   energy     the energy distance as a V-statistic (sdist_energy_v)
 *              between nsamp samples drawn from the model and nsamp fresh
 *              samples of the task; the floor is the same distance
 *              between two independent true samples of nsamp, what
 *              sampling noise alone gives.
 * Averages over ntasks tasks.  Deterministic for a seed.  Owns nothing
 * beyond one call; never prints.
 */
#ifndef GENEVAL_H
#define GENEVAL_H

#include <stdint.h>

#include "data/source.h"
#include "family/gen.h"
#include "eval/eval.h"

#define GENEVAL_KS_MAX 8

struct geneval_config {
	int ntasks, B, nk, ks[GENEVAL_KS_MAX];
	int nheld, nsamp;
	int em_restarts, em_iters;
	uint64_t seed;
};

/* Fills rows[0..nk) (eval.h; ks ascending, each k*B <= 65536): amort
 * (the NLL, mixture models), floor (the true mixture's NLL) and
 * base[EVAL_EM] (mixture tasks), and the energy distances base[EVAL_ENERGY],
 * base[EVAL_EM_ENERGY] (mixture tasks) and base[EVAL_ENERGY_FLOOR].  No
 * step column.  Returns AM_OK,
 * AM_EINVAL or AM_ENOMEM. */
int geneval_run(const struct gen *g, const float *p, const struct source *ts,
		const struct geneval_config *c, struct eval_row *rows);

/*
 * For a picture: task t of the same stream as geneval_run (t < ntasks),
 * nsamp model samples after each k in ks (out: nk x nsamp x GEN_DMAX) and
 * nsamp true samples (truth: nsamp x GEN_DMAX).  AM_OK, AM_EINVAL,
 * AM_ENOMEM.
 */
int geneval_samples(const struct gen *g, const float *p,
		    const struct source *ts, const struct geneval_config *c,
		    int t, float *out, float *truth);

#endif
