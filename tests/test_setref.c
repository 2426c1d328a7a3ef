/*
 * test_setref.c - the set-of-tokens refiner: gradients of every parameter
 * tensor against central finite differences (with and without the skip
 * path and observation tokens, in token and in query mode), padding, the
 * untrained step, invariance to the order of the observations, token mode
 * pinned to its values before query mode existed, and in query mode the
 * independence of the queries from one another.
 *
 * Gradient tolerance (eps = 1e-2, float32 forward, loss in double):
 * |analytic - numeric| <= 2e-3 + 2e-2 |numeric|.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/am.h"
#include "base/layout.h"
#include "base/rng.h"
#include "refine/setref.h"
#include "testutil.h"

/* NST state tokens in token mode; in query mode up to NQM queries. */
enum { NS = 3, BM = 5, NST = 3, NQM = 4, SD = 4, FS = 6, FO = 3 };

struct ctx {
	struct setref m;
	struct layout lay;
	struct setref_ws *ws;
	float *p, *dp;
	float state[NS * NQM * SD], next[NS * NQM * SD], r[NS * NQM * SD];
	float fs[NS][NQM * FS], fo[NS][BM * FO], dir[NS][NQM * SD],
	      am[NS][NQM * SD];
	int B[NS], pass[NS], nq[NS], nfo, nst, queries;
	float gain[NS];
};

static void fill(struct ctx *c)
{
	int i;

	for (i = 0; i < NS; i++) {
		memcpy(setref_fs(c->ws, i), c->fs[i], (size_t)c->nst * FS * sizeof(float));
		if (c->nfo)
			memcpy(setref_fo(c->ws, i), c->fo[i], sizeof c->fo[i]);
		memcpy(setref_dir(c->ws, i), c->dir[i], (size_t)c->nst * SD * sizeof(float));
		memcpy(setref_amask(c->ws, i), c->am[i], (size_t)c->nst * SD * sizeof(float));
		setref_set(c->ws, i, c->B[i], c->pass[i], c->gain[i]);
		if (c->queries)
			setref_set_queries(c->ws, i, c->nq[i]);
	}
}

/*
 * Token mode: NST tokens, B = 5, 1, 3.  Query mode: up to NQM queries,
 * B = 2, 5, 0 and nq = 4, 1, 3 (so lengths 6, 6, 3: padding, and a
 * sequence whose queries see only themselves); the inactive slots' inputs
 * are NaN, which must never be read.  Token mode draws exactly what it
 * drew before query mode existed (test_setref_tokens_pinned relies on it).
 */
static void ctx_init(struct ctx *c, int fo, int skip, int queries)
{
	int nst = queries ? NQM : NST;
	struct setref_config cfg = { .C = 16, .H = 2, .L = 2, .nst = nst,
				     .sd = SD, .fs = FS, .fo = fo, .passes = 2,
				     .skip = skip };
	struct rng r;
	int i, j, Bs[NS] = { 5, 1, 3 }, Bq[NS] = { 2, 5, 0 }, nq[NS] = { 4, 1, 3 };

	memset(c, 0, sizeof *c);
	layout_init(&c->lay);
	assert_int_equal(queries ? setref_init_queries(&c->m, &c->lay, "sr", &cfg) :
			 setref_init(&c->m, &c->lay, "sr", &cfg), AM_OK);
	c->p = tu_alloc(c->lay.total);
	c->dp = tu_alloc(c->lay.total);
	rng_seed(&r, 5);
	setref_init_params(&c->m, c->p, &r);
	for (j = 0; j < c->lay.n; j++)
		if (!strncmp(c->lay.views[j].name, "sr.head", 7))
			rng_fill_normal(&r, c->p + c->lay.views[j].offset,
					(long)c->lay.views[j].size, 0.0f, 0.3f);
	c->ws = setref_ws_new(&c->m, NS, BM);
	assert_non_null(c->ws);
	c->nfo = fo;
	c->nst = nst;
	c->queries = queries;
	for (i = 0; i < NS; i++) {
		c->B[i] = queries ? Bq[i] : Bs[i];
		c->nq[i] = queries ? nq[i] : nst;
		c->pass[i] = i % 2;
		c->gain[i] = 1.0f / (1.0f + i);
		rng_fill_normal(&r, c->fs[i], nst * FS, 0.0f, 1.0f);
		rng_fill_normal(&r, c->fo[i], BM * FO, 0.0f, 1.0f);
		rng_fill_normal(&r, c->dir[i], nst * SD, 0.0f, 1.0f);
		for (j = 0; j < nst * SD; j++)
			c->am[i][j] = (j % 3) ? 1.0f : 0.0f;
		for (j = c->nq[i] * FS; j < nst * FS; j++)
			c->fs[i][j] = NAN;
		for (j = c->nq[i] * SD; j < nst * SD; j++)
			c->dir[i][j] = c->am[i][j] = NAN;
	}
	rng_fill_normal(&r, c->state, NS * nst * SD, 0.0f, 1.0f);
	rng_fill_normal(&r, c->r, NS * nst * SD, 0.0f, 1.0f);
	fill(c);
}

static void ctx_free(struct ctx *c)
{
	setref_ws_free(c->ws);
	free(c->p);
	free(c->dp);
	layout_free(&c->lay);
}

static double loss(void *p)
{
	struct ctx *c = p;

	fill(c);
	assert_int_equal(setref_forward(&c->m, c->p, c->ws, NS, c->state,
					 c->next), AM_OK);
	return tu_dot(c->next, c->r, (size_t)NS * c->nst * SD);
}

/* Every parameter tensor against finite differences.  In query mode the
 * loss also weighs the inactive slots' next states (their input states):
 * a gradient leaking from them would show as a mismatch. */
static void check(int fo, int skip, int queries)
{
	struct ctx c;
	int i, fails = 0;

	ctx_init(&c, fo, skip, queries);
	loss(&c);
	setref_backward(&c.m, c.p, c.dp, c.ws, c.r);
	for (i = 0; i < c.lay.n; i++) {
		const struct layout_view *w = &c.lay.views[i];

		fails += tu_grad_check(w->name, c.p + w->offset, c.dp + w->offset,
				       w->size, loss, &c, 1e-2f, 2e-3f, 2e-2f, 48);
	}
	assert_int_equal(fails, 0);
	ctx_free(&c);
}

static void test_setref_gradients_obs_skip(void **state)
{
	(void)state;
	check(FO, 1, 0);
}

static void test_setref_gradients_noobs(void **state)
{
	(void)state;
	check(0, 1, 0);
}

static void test_setref_gradients_noskip(void **state)
{
	(void)state;
	check(FO, 0, 0);
}

/* An untrained refiner (zero head) takes exactly the skip step:
 * x' = x - amask * gain * dir, and never moves masked floats. */
static void test_setref_untrained_step(void **state)
{
	struct setref_config cfg = { .C = 16, .H = 2, .L = 1, .nst = NST,
				     .sd = SD, .fs = FS, .fo = FO, .passes = 1,
				     .skip = 1 };
	struct ctx c;
	struct rng r;
	int i;

	(void)state;
	memset(&c, 0, sizeof c);
	layout_init(&c.lay);
	assert_int_equal(setref_init(&c.m, &c.lay, "sr", &cfg), AM_OK);
	c.p = tu_alloc(c.lay.total);
	rng_seed(&r, 9);
	setref_init_params(&c.m, c.p, &r);
	c.ws = setref_ws_new(&c.m, 1, BM);
	rng_fill_normal(&r, setref_fs(c.ws, 0), NST * FS, 0.0f, 1.0f);
	rng_fill_normal(&r, setref_fo(c.ws, 0), BM * FO, 0.0f, 1.0f);
	rng_fill_normal(&r, setref_dir(c.ws, 0), NST * SD, 0.0f, 1.0f);
	for (i = 0; i < NST * SD; i++)
		setref_amask(c.ws, 0)[i] = i % 2 ? 1.0f : 0.0f;
	setref_set(c.ws, 0, 4, 0, 0.25f);
	rng_fill_normal(&r, c.state, NST * SD, 0.0f, 1.0f);
	assert_int_equal(setref_forward(&c.m, c.p, c.ws, 1, c.state, c.next), AM_OK);
	for (i = 0; i < NST * SD; i++) {
		float want = c.state[i] - (i % 2 ? 0.25f * setref_dir(c.ws, 0)[i] : 0.0f);

		assert_true(fabsf(c.next[i] - want) < 1e-5f);
	}
	setref_ws_free(c.ws);
	free(c.p);
	layout_free(&c.lay);
}

/* Reordering the observations (or changing the padding past B) leaves the
 * next state unchanged: the refiner is a set function of its rows. */
static void test_setref_set_invariance(void **state)
{
	struct ctx c;
	float a[NS * NST * SD], tmp[FO];

	(void)state;
	ctx_init(&c, FO, 1, 0);
	loss(&c);
	memcpy(a, c.next, sizeof a);
	memcpy(tmp, c.fo[0], sizeof tmp);
	memcpy(c.fo[0], c.fo[0] + 4 * FO, sizeof tmp);
	memcpy(c.fo[0] + 4 * FO, tmp, sizeof tmp);
	c.fo[1][3 * FO] = 1e3f;		/* padding of a 1-row sequence */
	loss(&c);
	for (int i = 0; i < NS * NST * SD; i++)
		assert_true(fabsf(a[i] - c.next[i]) < 1e-4f * (1.0f + fabsf(a[i])));
	ctx_free(&c);
}

/*
 * Token mode (queries = 0, what core/family/gen.c uses) is the refiner as it was
 * before query mode: these next states and gradients were computed by that
 * code on this context.  The margin only allows for another BLAS kernel's
 * rounding; on the machine that recorded them they match bit for bit.
 */
static void test_setref_tokens_pinned(void **state)
{
	static const struct { int i; float v; } want[] = {
		{ 1, 4.01906586f }, { 14, -0.83898139f },
		{ 29, 0.0310297608f }, { 34, -0.227350205f },
	};
	static const struct { const char *name; float v; } dwant[] = {
		{ "sr.embed_token", 0.319686651f },
		{ "sr.embed_obs.w", 0.0504078008f },
		{ "sr.head.w", 2.71239877f },
		{ "sr.eta", 0.172428489f },
	};
	struct ctx c;
	size_t k;
	int j, found = 0;

	(void)state;
	ctx_init(&c, FO, 1, 0);
	loss(&c);
	for (k = 0; k < sizeof want / sizeof want[0]; k++)
		assert_true(fabsf(c.next[want[k].i] - want[k].v) <=
			    2e-6f * (1.0f + fabsf(want[k].v)));
	setref_backward(&c.m, c.p, c.dp, c.ws, c.r);
	for (k = 0; k < sizeof dwant / sizeof dwant[0]; k++)
		for (j = 0; j < c.lay.n; j++) {
			const struct layout_view *w = &c.lay.views[j];

			if (strcmp(w->name, dwant[k].name))
				continue;
			found++;
			assert_true(fabsf(c.dp[w->offset + 1] - dwant[k].v) <=
				    2e-6f * (1.0f + fabsf(dwant[k].v)));
		}
	assert_int_equal(found, 4);
	ctx_free(&c);
}

static void test_setref_query_gradients_skip(void **state)
{
	(void)state;
	check(FO, 1, 1);
}

static void test_setref_query_gradients_noskip(void **state)
{
	(void)state;
	check(FO, 0, 1);
}

static void test_setref_query_gradients_noobs(void **state)
{
	(void)state;
	check(0, 1, 1);
}

static int close_enough(const float *a, const float *b, int n)
{
	int j;

	for (j = 0; j < n; j++)
		if (!(fabsf(a[j] - b[j]) <= 1e-4f * (1.0f + fabsf(a[j]))))
			return 0;
	return 1;
}

/* Moves query `from` of sequence i into slot `to` (inputs and state). */
static void put_query(struct ctx *c, const struct ctx *src, int i, int from,
		      int to)
{
	memcpy(c->fs[i] + to * FS, src->fs[i] + from * FS, FS * sizeof(float));
	memcpy(c->dir[i] + to * SD, src->dir[i] + from * SD, SD * sizeof(float));
	memcpy(c->am[i] + to * SD, src->am[i] + from * SD, SD * sizeof(float));
	memcpy(c->state + ((size_t)i * NQM + to) * SD,
	       src->state + ((size_t)i * NQM + from) * SD, SD * sizeof(float));
}

/*
 * Queries do not attend each other, nor have a position: a query refined
 * alone (nq = 1, in slot 0) gets the next state it gets among the others,
 * and reversing the queries reverses the next states.  Inactive slots
 * pass their input state through unchanged.
 */
static void test_setref_query_independence(void **state)
{
	static struct ctx c, ref;	/* large: off the stack */
	int i, k, n;

	(void)state;
	ctx_init(&c, FO, 1, 1);
	loss(&c);
	ref = c;
	for (i = 0; i < NS; i++)
		for (n = c.nq[i] * SD; n < NQM * SD; n++)
			assert_true(c.next[(size_t)i * NQM * SD + n] ==
				    c.state[(size_t)i * NQM * SD + n]);
	for (i = 0; i < NS; i++) {
		for (k = 0; k < ref.nq[i]; k++) {
			put_query(&c, &ref, i, k, 0);
			c.nq[i] = 1;
			loss(&c);
			assert_true(close_enough(ref.next + ((size_t)i * NQM + k) * SD,
						 c.next + (size_t)i * NQM * SD, SD));
		}
		for (k = 0; k < ref.nq[i]; k++)
			put_query(&c, &ref, i, k, ref.nq[i] - 1 - k);
		c.nq[i] = ref.nq[i];
		loss(&c);
		for (k = 0; k < ref.nq[i]; k++)
			assert_true(close_enough(ref.next + ((size_t)i * NQM + k) * SD,
						 c.next + ((size_t)i * NQM +
							   ref.nq[i] - 1 - k) * SD,
						 SD));
		for (k = 0; k < ref.nq[i]; k++)
			put_query(&c, &ref, i, k, k);
	}
	ctx_free(&c);
}

/* Reordering a sequence's observations, or writing past its B, leaves every
 * next state unchanged in query mode too. */
static void test_setref_query_set_invariance(void **state)
{
	static struct ctx c;
	float a[NS * NQM * SD], tmp[FO];
	int i;

	(void)state;
	ctx_init(&c, FO, 1, 1);
	loss(&c);
	memcpy(a, c.next, sizeof a);
	for (i = 0; i < 2; i++) {	/* swap the first and last rows */
		int last = c.B[i] - 1;

		memcpy(tmp, c.fo[i], sizeof tmp);
		memcpy(c.fo[i], c.fo[i] + last * FO, sizeof tmp);
		memcpy(c.fo[i] + last * FO, tmp, sizeof tmp);
	}
	c.fo[0][3 * FO] = 1e3f;		/* past B = 2 */
	c.fo[2][0] = 1e3f;		/* a sequence without observations */
	loss(&c);
	assert_true(close_enough(a, c.next, NS * NQM * SD));
	ctx_free(&c);
}

/* An untrained query-mode refiner takes the skip step on the active slots
 * only, also when next is state (in place). */
static void test_setref_query_untrained_step(void **state)
{
	static struct ctx c;
	float x[NS * NQM * SD];
	int j;

	(void)state;
	ctx_init(&c, FO, 1, 1);
	memset(c.p + c.m.head_w, 0, (SD + 1) * 16 * sizeof(float));
	memset(c.p + c.m.head_b, 0, (SD + 1) * sizeof(float));
	memcpy(x, c.state, sizeof x);
	fill(&c);
	assert_int_equal(setref_forward(&c.m, c.p, c.ws, NS, x, x), AM_OK);
	for (j = 0; j < NS * NQM * SD; j++) {
		int i = j / (NQM * SD), n = j % (NQM * SD);
		float want = c.state[j];

		if (n < c.nq[i] * SD)
			want -= c.am[i][n] * c.gain[i] * c.dir[i][n];
		assert_true(fabsf(x[j] - want) < 1e-5f);
	}
	ctx_free(&c);
}

/*
 * The configuration: token mode keeps its limit (and its message), query
 * mode takes up to SETREF_QUERIES_MAX and registers no token embedding.
 * The workspace's size is what setref_ws_bytes says, and a full-size one
 * (SETREF_QUERIES_MAX queries, SETREF_RMAX rows) runs.
 */
static void test_setref_query_config(void **state)
{
	struct setref_config tc = { 16, 2, 1, NST, SD, FS, FO, 1, 1 };
	struct setref_config qc = tc;	/* the configs of both modes */
	struct setref tm, qm;
	struct layout tl, ql;
	struct setref_ws *ws;
	struct rng r;
	char err[64];
	float *p, *dp, *x, *dn;
	size_t nx, big;
	int j;

	(void)state;
	qc.nst = SETREF_QUERIES_MAX;
	assert_int_equal(setref_config_check_queries(&qc, err, sizeof err), AM_OK);
	assert_int_equal(setref_config_check(&qc, err, sizeof err), AM_EINVAL);
	assert_string_equal(err, "state tokens must be in [1, 32]");
	qc.nst = SETREF_QUERIES_MAX + 1;
	assert_int_equal(setref_config_check_queries(&qc, err, sizeof err),
			 AM_EINVAL);
	assert_string_equal(err, "queries per sequence must be in [1, 256]");
	qc.nst = 0;
	assert_int_equal(setref_config_check_queries(&qc, err, sizeof err),
			 AM_EINVAL);
	qc.nst = NST;
	qc.C = 7;
	assert_int_equal(setref_config_check_queries(&qc, err, sizeof err),
			 AM_EINVAL);
	qc.C = 16;
	assert_int_equal(setref_config_check(&tc, err, sizeof err), AM_OK);

	layout_init(&tl);
	layout_init(&ql);
	assert_int_equal(setref_init(&tm, &tl, "sr", &tc), AM_OK);
	assert_int_equal(setref_init_queries(&qm, &ql, "sr", &qc), AM_OK);
	assert_int_equal(tm.queries, 0);
	assert_int_equal(qm.queries, 1);
	assert_int_equal(ql.total + (size_t)NST * 16, tl.total);
	for (j = 0; j < ql.n; j++)
		assert_string_not_equal(ql.views[j].name, "sr.embed_token");
	assert_int_equal(setref_ws_bytes(&qm, NS, BM), setref_ws_bytes(&tm, NS, BM) +
			 /* the compact copy of the active queries' features */
			 (size_t)(NS * NST * FS * sizeof(float) + 63) / 64 * 64);
	assert_true(setref_ws_bytes(&qm, 2 * NS, BM) > setref_ws_bytes(&qm, NS, BM));
	assert_int_equal(setref_ws_bytes(&qm, 0, BM), 0);
	assert_int_equal(setref_ws_bytes(&qm, NS, SETREF_RMAX + 1), 0);
	layout_free(&tl);
	layout_free(&ql);

	/* the largest sequence: 256 queries and 512 rows, T = 768 */
	qc.nst = SETREF_QUERIES_MAX;
	layout_init(&ql);
	assert_int_equal(setref_init_queries(&qm, &ql, "sr", &qc), AM_OK);
	assert_int_equal(setref_init(&tm, &tl, "sr", &qc), AM_EINVAL);
	big = setref_ws_bytes(&qm, 1, SETREF_RMAX);
	assert_true(big > (size_t)768 * 768 * 2 * 4 && big < ((size_t)64 << 20));
	ws = setref_ws_new(&qm, 1, SETREF_RMAX);
	assert_non_null(ws);
	nx = (size_t)SETREF_QUERIES_MAX * SD;
	p = tu_alloc(ql.total);
	dp = tu_alloc(ql.total);
	x = tu_alloc(2 * nx);
	dn = tu_alloc(nx);
	rng_seed(&r, 3);
	setref_init_params(&qm, p, &r);
	rng_fill_normal(&r, p + qm.head_w, (SD + 1) * 16, 0.0f, 0.3f);
	rng_fill_normal(&r, setref_fs(ws, 0), (long)SETREF_QUERIES_MAX * FS, 0.0f, 1.0f);
	rng_fill_normal(&r, setref_fo(ws, 0), (long)SETREF_RMAX * FO, 0.0f, 1.0f);
	rng_fill_normal(&r, setref_dir(ws, 0), (long)nx, 0.0f, 1.0f);
	rng_fill_normal(&r, x, (long)nx, 0.0f, 1.0f);
	rng_fill_normal(&r, dn, (long)nx, 0.0f, 1.0f);
	for (j = 0; j < (int)nx; j++)
		setref_amask(ws, 0)[j] = 1.0f;
	setref_set(ws, 0, SETREF_RMAX, 0, 0.5f);
	assert_int_equal(setref_forward(&qm, p, ws, 1, x, x + nx), AM_OK);
	setref_backward(&qm, p, dp, ws, dn);
	for (j = 0; j < (int)ql.total; j++)
		assert_true(isfinite(dp[j]));
	/* the last query alone, in slot 0: the same next state */
	memcpy(setref_fs(ws, 0), setref_fs(ws, 0) + (nx / SD - 1) * FS,
	       FS * sizeof(float));
	memcpy(setref_dir(ws, 0), setref_dir(ws, 0) + nx - SD, SD * sizeof(float));
	memcpy(x, x + nx - SD, SD * sizeof(float));
	setref_set_queries(ws, 0, 1);
	assert_int_equal(setref_forward(&qm, p, ws, 1, x, x), AM_OK);
	assert_true(close_enough(x + 2 * nx - SD, x, SD));
	setref_ws_free(ws);
	setref_ws_free(NULL);
	free(p);
	free(dp);
	free(x);
	free(dn);
	layout_free(&ql);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setref_gradients_obs_skip),
		cmocka_unit_test(test_setref_gradients_noobs),
		cmocka_unit_test(test_setref_gradients_noskip),
		cmocka_unit_test(test_setref_untrained_step),
		cmocka_unit_test(test_setref_set_invariance),
		cmocka_unit_test(test_setref_tokens_pinned),
		cmocka_unit_test(test_setref_query_gradients_skip),
		cmocka_unit_test(test_setref_query_gradients_noskip),
		cmocka_unit_test(test_setref_query_gradients_noobs),
		cmocka_unit_test(test_setref_query_independence),
		cmocka_unit_test(test_setref_query_set_invariance),
		cmocka_unit_test(test_setref_query_untrained_step),
		cmocka_unit_test(test_setref_query_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
