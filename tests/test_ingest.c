/*
 * test_ingest.c - POST /v1/sessions/{id}/batches (ingest.c) without
 * sockets, as a JSON body and as an NDJSON stream: rows cut into
 * mini-batches, one step each; seq, its duplicates and its gaps; the
 * session's standardization fitted on its first mini-batch; rows without
 * y for generative models, class labels for classifiers; an implicit
 * session's losses and query set refined with its steps.
 *
 * Every bad request is checked for its status, for a problem+json body
 * (type, title, status, detail) and for leaving the session exactly as it
 * was (counters and predictions).  The NDJSON stream is fed in uneven
 * chunks and must give the same state as the same rows sent as one JSON
 * body.  The fixture, tiny models and a real store, and the request
 * helpers are in apifx.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "api.h"
#include "apifx.h"
#include "ingest.h"
#include "model/model.h"
#include "refine/refiner.h"
#include "registry.h"
#include "family/scaler.h"
#include "store.h"

static void test_batch_applies_steps(void **state)
{
	struct fx *f = *state;
	char id[33], url[128];
	json_t *j, *l;
	char *b;
	size_t i;

	create(f, NULL, id);
	b = rows_json(0, 10, -1);	/* 10 rows: mini-batches of 4, 4, 2 */
	assert_int_equal(batch(f, id, b, &j), 200);
	free(b);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	assert_int_equal(member_int(j, "step"), 3);
	assert_int_equal(member_int(j, "rows"), 10);
	assert_int_equal(member_int(j, "next_seq"), 0);
	l = json_object_get(j, "losses");
	assert_int_equal(json_array_size(l), 3);
	for (i = 0; i < 3; i++) {
		assert_true(json_is_number(json_object_get(json_array_get(l, i), "before")));
		assert_true(json_is_number(json_object_get(json_array_get(l, i), "after")));
	}
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	assert_int_equal(member_int(j, "dim"), 2);
	assert_int_equal(member_int(j, "step"), 3);
	json_decref(j);
	/* history: three steps of 4, 4, 2 rows, paginated */
	snprintf(url, sizeof url, "/v1/sessions/%s/history?limit=2", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	l = json_object_get(j, "history");
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(member_int(json_array_get(l, 0), "rows"), 4);
	assert_true(json_is_null(json_object_get(json_array_get(l, 0), "seq")));
	assert_int_equal(member_int(j, "next"), 2);
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/history?after=2", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	l = json_object_get(j, "history");
	assert_int_equal(json_array_size(l), 1);
	assert_int_equal(member_int(json_array_get(l, 0), "step"), 3);
	assert_int_equal(member_int(json_array_get(l, 0), "rows"), 2);
	assert_true(json_is_null(json_object_get(j, "next")));
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/history?after=-1", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, NULL), 400);
	assert_int_equal(call(f, HTTP_GET,
			      "/v1/sessions/0123456789abcdef0123456789abcdef/history", NULL,
			      NULL), 404);
}

static void test_batch_refusals_change_nothing(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *body;
		int status;
	} bad[] = {
		{ "{\"x\": [[1, 2]], \"y\": [1]", 400 },		/* malformed */
		{ "{\"x\": [[1, 2]], \"y\": [1]} x", 400 },
		{ "not json", 400 },
		{ "[[1, 2]]", 422 },					/* not an object */
		{ "{\"y\": [1]}", 422 },				/* no x */
		{ "{\"x\": [[1, 2]]}", 422 },				/* no y */
		{ "{\"x\": \"rows\", \"y\": [1]}", 422 },		/* wrong types */
		{ "{\"x\": [[1, \"2\"]], \"y\": [1]}", 422 },
		{ "{\"x\": [[1, 2]], \"y\": [\"1\"]}", 422 },
		{ "{\"x\": [[1, 2]], \"y\": 1}", 422 },
		{ "{\"x\": [[1, 2]], \"y\": [true]}", 422 },
		{ "{\"x\": [[1, null]], \"y\": [1]}", 422 },
		{ "{\"x\": [1, 2], \"y\": [1, 2]}", 422 },
		{ "{\"x\": [[1, 2]], \"y\": [1], \"seq\": \"3\"}", 422 },
		{ "{\"x\": [[1, 2]], \"y\": [1], \"seq\": -1}", 422 },
		{ "{\"x\": [[1, 2]], \"y\": [1], \"seq\": 1.5}", 422 },
		{ "{\"x\": [[1, 2]], \"y\": [1], \"extra\": 0}", 422 },	/* unknown key */
		{ "{\"x\": [[1, 2], [3]], \"y\": [1, 2]}", 422 },	/* ragged */
		{ "{\"x\": [[1, 2, 3]], \"y\": [1]}", 422 },		/* wrong dim */
		{ "{\"x\": [[1]], \"y\": [1]}", 422 },
		{ "{\"x\": [[]], \"y\": [1]}", 422 },
		{ "{\"x\": [[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]], \"y\": [1]}", 422 },
		{ "{\"x\": [[1, 2], [3, 4]], \"y\": [1]}", 422 },	/* y length */
		{ "{\"x\": [], \"y\": []}", 422 },			/* no rows */
		{ "{\"x\": [[1, 1e999]], \"y\": [1]}", 422 },		/* Inf */
		{ "{\"x\": [[1, 2]], \"y\": [-1e999]}", 422 },
		{ "{\"x\": [[1, \"NaN\"]], \"y\": [1]}", 422 },	/* NaN as text */
		{ "{\"x\": [[1, 2]], \"y\": [NaN]}", 400 },		/* no NaN in JSON */
		{ "{\"x\": [[1, 1e39]], \"y\": [1]}", 422 },		/* > FLT_MAX */
		{ "{\"x\": [[1, 2]], \"y\": [1], \"x\": [[1, 2]]}", 400 },	/* duplicate */
	};
	char id[33], url[128], *b;
	struct snap s;
	size_t i;

	create(f, NULL, id);
	b = rows_json(0, 6, 0);		/* fixes dim 2; next_seq 1 */
	assert_int_equal(batch(f, id, b, NULL), 200);
	free(b);
	snap_take(f, id, 2, &s);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int st = batch(f, id, bad[i].body, NULL);

		if (st != bad[i].status)
			fail_msg("body %zu (%s): status %d, expected %d", i, bad[i].body, st,
				 bad[i].status);
	}
	/* too many rows */
	b = rows_json(0, MAX_ROWS + 1, -1);
	assert_int_equal(batch(f, id, b, NULL), 422);
	free(b);
	/* wrong content type */
	snprintf(url, sizeof url, "/v1/sessions/%s/batches", id);
	assert_int_equal(call_full(f, HTTP_POST, url, "text/csv", "1,2,3\n", NULL, NULL), 415);
	assert_int_equal(call_full(f, HTTP_POST, url, NULL, "{}", NULL, NULL), 415);
	/* the gap: seq 5 when next_seq is 1 */
	{
		json_t *j;

		b = rows_json(0, 2, 5);
		assert_int_equal(batch(f, id, b, &j), 409);
		assert_int_equal(member_int(j, "next_seq"), 1);
		json_decref(j);
		free(b);
	}
	snap_same(f, id, 2, &s);
	snap_free(&s);
	/* a session with a dimension from its options refuses other widths
	 * before its first batch */
	create(f, "{\"dim\": 3}", id);
	snap_take(f, id, 3, &s);
	assert_int_equal(batch(f, id, "{\"x\": [[1, 2]], \"y\": [1]}", NULL), 422);
	snap_same(f, id, 3, &s);
	snap_free(&s);
}

static void test_seq_duplicate_and_gap(void **state)
{
	struct fx *f = *state;
	char id[33], *b, *l1, *l2;
	struct snap s;
	json_t *j;

	create(f, NULL, id);
	b = rows_json(0, 9, 0);			/* 3 steps with seq 0 */
	assert_int_equal(batch(f, id, b, &j), 200);
	assert_int_equal(member_int(j, "next_seq"), 1);
	assert_int_equal(member_int(j, "step"), 3);
	l1 = json_dumps(json_object_get(j, "losses"), JSON_COMPACT);
	json_decref(j);
	snap_take(f, id, 2, &s);
	/* the retry: the original result, no second update */
	assert_int_equal(batch(f, id, b, &j), 200);
	assert_true(json_is_true(json_object_get(j, "duplicate")));
	assert_int_equal(member_int(j, "steps_applied"), 3);
	assert_int_equal(member_int(j, "step"), 3);
	assert_int_equal(member_int(j, "rows"), 9);
	l2 = json_dumps(json_object_get(j, "losses"), JSON_COMPACT);
	assert_string_equal(l1, l2);
	free(l1);
	free(l2);
	json_decref(j);
	snap_same(f, id, 2, &s);
	snap_free(&s);
	free(b);
	/* the gap */
	b = rows_json(9, 2, 2);
	assert_int_equal(batch(f, id, b, &j), 409);
	json_decref(j);
	free(b);
	/* the next one in order */
	b = rows_json(9, 2, 1);
	assert_int_equal(batch(f, id, b, &j), 200);
	assert_int_equal(member_int(j, "next_seq"), 2);
	assert_int_equal(member_int(j, "step"), 4);
	json_decref(j);
	free(b);
	/* without seq: next_seq stays */
	b = rows_json(11, 2, -1);
	assert_int_equal(batch(f, id, b, &j), 200);
	assert_int_equal(member_int(j, "next_seq"), 2);
	assert_int_equal(member_int(j, "step"), 5);
	json_decref(j);
	free(b);
	/* the first seq again, still a duplicate with its own result */
	b = rows_json(0, 1, 0);
	assert_int_equal(batch(f, id, b, &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	assert_int_equal(member_int(j, "step"), 3);
	json_decref(j);
	free(b);
}

static void test_stream_matches_json(void **state)
{
	struct fx *f = *state;
	static const size_t chunks[] = { 1, 7, 13, 2, 64, 5, 31 };
	char a[33], b[33], url[128];
	struct snap sa, sb;
	json_t *ja, *jb;
	char *body, *text;

	create(f, NULL, a);
	create(f, NULL, b);
	body = rows_json(1, 23, 0);		/* 23 rows: 5 full batches + 3 */
	assert_int_equal(batch(f, a, body, &ja), 200);
	free(body);
	text = rows_ndjson(1, 23);
	assert_int_equal(stream(f, b, "seq=0", text, chunks, 7, &jb), 200);
	free(text);
	assert_int_equal(member_int(ja, "steps_applied"), 6);
	assert_int_equal(member_int(jb, "steps_applied"), 6);
	assert_int_equal(member_int(jb, "rows"), 23);
	assert_int_equal(member_int(jb, "next_seq"), 1);
	{
		char *la = json_dumps(json_object_get(ja, "losses"), JSON_COMPACT);
		char *lb = json_dumps(json_object_get(jb, "losses"), JSON_COMPACT);

		assert_string_equal(la, lb);
		free(la);
		free(lb);
	}
	json_decref(ja);
	json_decref(jb);
	snap_take(f, a, 2, &sa);
	snap_take(f, b, 2, &sb);
	/* the same predictions; the session objects differ only in id/time */
	assert_string_equal(sa.pred, sb.pred);
	snap_free(&sa);
	snap_free(&sb);
	/* the stream's seq is a duplicate now */
	text = rows_ndjson(1, 2);
	assert_int_equal(stream(f, b, "seq=0", text, chunks, 7, &jb), 200);
	assert_true(json_is_true(json_object_get(jb, "duplicate")));
	json_decref(jb);
	assert_int_equal(stream(f, b, "seq=7", text, chunks, 7, NULL), 409);
	assert_int_equal(stream(f, b, "seq=x", text, chunks, 7, NULL), 400);
	free(text);
	/* history agrees */
	snprintf(url, sizeof url, "/v1/sessions/%s/history", b);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &jb), 200);
	assert_int_equal(json_array_size(json_object_get(jb, "history")), 6);
	assert_int_equal(member_int(json_array_get(json_object_get(jb, "history"), 5), "rows"),
			 3);
	assert_int_equal(member_int(json_array_get(json_object_get(jb, "history"), 0), "seq"),
			 0);
	json_decref(jb);
}

static void test_stream_bad_lines(void **state)
{
	struct fx *f = *state;
	static const size_t whole[] = { 1 << 20 };
	static const size_t small[] = { 3, 11 };
	char id[33], *text, *t2;
	struct snap s;
	json_t *j;
	size_t n;

	/* a truncated last line: 2 full batches (8 rows) stand, the 3 rows
	 * after them and the broken line are refused */
	create(f, NULL, id);
	text = rows_ndjson(0, 11);
	n = strlen(text);
	t2 = malloc(n + 64);
	assert_non_null(t2);
	snprintf(t2, n + 64, "%s{\"x\": [1, 2], \"y\": 3", text);
	assert_int_equal(stream(f, id, NULL, t2, small, 2, &j), 400);
	assert_int_equal(member_int(j, "steps_applied"), 2);
	assert_int_equal(member_int(j, "step"), 2);
	assert_int_equal(member_int(j, "rows"), 8);
	assert_int_equal(member_int(j, "line"), 12);
	json_decref(j);
	snap_take(f, id, 2, &s);
	/* wrong dimension on line 6: one batch stands */
	snprintf(t2, n + 64, "%s", text);
	memcpy(strstr(t2, "{\"x\": [5, 9]"), "{\"x\": [5   ]", 12);
	assert_int_equal(stream(f, id, NULL, t2, whole, 1, &j), 422);
	assert_int_equal(member_int(j, "steps_applied"), 1);
	assert_int_equal(member_int(j, "step"), 3);
	assert_int_equal(member_int(j, "line"), 6);
	json_decref(j);
	snap_free(&s);
	snap_take(f, id, 2, &s);
	/* NaN written as text, a string for y, malformed JSON: nothing applied */
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, \"NaN\"], \"y\": 1}\n", whole, 1, &j),
			 422);
	assert_int_equal(member_int(j, "steps_applied"), 0);
	assert_int_equal(member_int(j, "line"), 1);
	json_decref(j);
	assert_int_equal(stream(f, id, NULL, "\n{\"x\": [1, 2], \"y\": \"1\"}\n", whole, 1, &j),
			 422);
	assert_int_equal(member_int(j, "line"), 2);
	json_decref(j);
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, 2], \"y\": 1e999}\n", whole, 1, NULL),
			 422);
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, 2], \"y\": 1, \"z\": 0}\n", whole, 1,
				NULL), 422);
	assert_int_equal(stream(f, id, NULL, "{x: 1}\n", whole, 1, NULL), 400);
	assert_int_equal(stream(f, id, NULL, "", whole, 1, NULL), 422);
	assert_int_equal(stream(f, id, NULL, "\n\n", whole, 1, NULL), 422);
	snap_same(f, id, 2, &s);
	snap_free(&s);
	/* a line over the 64 KiB bound */
	{
		char *big = malloc(INGEST_LINE_MAX + 100);

		assert_non_null(big);
		memset(big, ' ', INGEST_LINE_MAX + 50);
		memcpy(big, "{\"x\": [1, 2], \"y\": 1", 20);
		strcpy(big + INGEST_LINE_MAX + 50, "}\n");
		assert_int_equal(stream(f, id, NULL, big, small, 2, &j), 413);
		assert_int_equal(member_int(j, "line"), 1);
		json_decref(j);
		free(big);
	}
	snap_take(f, id, 2, &s);
	free(text);
	free(t2);
	/* unknown session */
	assert_int_equal(stream(f, "0123456789abcdef0123456789abcdef", NULL, "", whole, 1, NULL),
			 404);
	/* CRLF line ends and blank lines are fine */
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, 2], \"y\": 1}\r\n\r\n"
				"{\"x\": [2, 2], \"y\": 2}\r\n", small, 2, &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 1);
	assert_int_equal(member_int(j, "rows"), 14);
	json_decref(j);
	snap_free(&s);
}

/* While an upload holds a session, other writers are told at once that it
 * is busy (503, Retry-After), readers go on, and other sessions are free. */
static void test_stream_holds_session(void **state)
{
	struct fx *f = *state;
	static const size_t whole[] = { 1 << 20 };
	struct http_request req;
	struct http_response resp, r2;
	struct tq_ctx q;
	char id[33], other[33], path[128], url[128], *text;
	void *ctx;
	json_t *j;
	int64_t committed;
	int i;

	create(f, NULL, id);
	create(f, NULL, other);
	memset(&req, 0, sizeof req);
	memset(&resp, 0, sizeof resp);
	memset(&q, 0, sizeof q);
	snprintf(path, sizeof path, "/v1/sessions/%s/batches", id);
	req.method = HTTP_POST;
	req.method_name = "POST";
	req.path = path;
	req.content_type = "application/x-ndjson";
	req.query = tq;
	req.impl = &q;
	ctx = api_stream_ops.open(f->a, &req, &resp);
	assert_non_null(ctx);
	/* INGEST_GROUP full mini-batches and two rows */
	for (i = 0; i < INGEST_GROUP; i++) {
		text = rows_ndjson(0, BMAX);
		assert_int_equal(api_stream_ops.feed(ctx, text, strlen(text)), 0);
		free(text);
	}
	text = rows_ndjson(0, 2);
	assert_int_equal(api_stream_ops.feed(ctx, text, strlen(text)), 0);

	assert_int_equal(call_full(f, HTTP_POST, path, "application/json",
				   "{\"x\": [[1, 2]], \"y\": [1]}", &j, &r2), 503);
	assert_int_equal(r2.retry_after, 1);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "urn:amortd:problem:busy");
	json_decref(j);
	assert_int_equal(stream(f, id, NULL, text, whole, 1, NULL), 503);
	snprintf(url, sizeof url, "/v1/sessions/%s", id);
	assert_int_equal(call(f, HTTP_DELETE, url, NULL, NULL), 503);
	/* readers see the steps committed so far: a stream commits its steps
	 * in groups of at most INGEST_GROUP steps (fewer when the group's
	 * first step is INGEST_GROUP_SECONDS old), so at least one group of
	 * full mini-batches is in */
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	committed = member_int(j, "step");
	assert_true(committed >= 1 && committed <= INGEST_GROUP);
	assert_int_equal(member_int(j, "rows"), committed * BMAX);
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]}", NULL), 200);
	/* another session is free */
	assert_int_equal(batch(f, other, "{\"x\": [[1, 2]], \"y\": [1]}", NULL), 200);

	api_stream_ops.close(ctx, &resp);
	assert_int_equal(resp.status, 200);
	http_response_clear(&resp);
	assert_int_equal(batch(f, id, "{\"x\": [[1, 2]], \"y\": [1]}", &j), 200);
	assert_int_equal(member_int(j, "step"), INGEST_GROUP + 2);
	json_decref(j);
	free(text);
}

/* The standardization by hand: statistics of the first mini-batch (mean,
 * population sd, a constant column only centred), the refinement step on
 * the mapped rows, and the prediction mapped back to y's units must match
 * what the server answers, to float precision. */
static void test_standardization(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "tiny");
	double xr[BMAX][2], yr[BMAX], mu[3], sd[3], want_m, want_v;
	float st[REFINER_S], X[BMAX * LINREG_DMAX] = { 0 }, y[BMAX], loss;
	float q[LINREG_DMAX] = { 0 }, zm, zv;
	char on[33], off[33], url[128], body[1024];
	struct refiner_ws *ws;
	size_t len = 0;
	json_t *j;
	int i, c;

	for (i = 0; i < BMAX; i++) {
		xr[i][0] = 2 * i + 1;
		xr[i][1] = 100;		/* constant: centred only */
		yr[i] = 5000 + 10 * i * i;
	}
	for (c = 0; c < 3; c++) {
		double s = 0, ss = 0, v;

		for (i = 0; i < BMAX; i++)
			s += c < 2 ? xr[i][c] : yr[i];
		mu[c] = (float)(s / BMAX);
		for (i = 0; i < BMAX; i++) {
			v = (c < 2 ? xr[i][c] : yr[i]) - s / BMAX;
			ss += v * v;
		}
		sd[c] = sqrt(ss / BMAX) > 1e-6 * fabs(s / BMAX) ? (float)sqrt(ss / BMAX) : 1;
	}
	assert_true(sd[1] == 1);
	for (i = 0; i < BMAX; i++) {
		X[i * LINREG_DMAX] = (float)((xr[i][0] - mu[0]) / sd[0]);
		X[i * LINREG_DMAX + 1] = (float)((xr[i][1] - mu[1]) / sd[1]);
		y[i] = (float)((yr[i] - mu[2]) / sd[2]);
	}
	refiner_initial_state(m->impl, m->p, st);
	ws = refiner_ws_new(m->impl, 1, BMAX);
	assert_non_null(ws);
	assert_int_equal(refiner_step(m->impl, m->p, ws, st, X, y, BMAX, 2, 0, &loss), AM_OK);
	refiner_ws_free(ws);
	q[0] = (float)((4.5 - mu[0]) / sd[0]);
	q[1] = (float)((101 - mu[1]) / sd[1]);
	refiner_predict(st, q, 1, &zm, &zv);
	want_m = (float)(mu[2] + sd[2] * zm);
	want_v = (float)(sd[2] * sd[2] * zv);

	create(f, NULL, on);
	len += (size_t)snprintf(body, sizeof body, "{\"x\": [");
	for (i = 0; i < BMAX; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s[%g, %g]",
					i ? ", " : "", xr[i][0], xr[i][1]);
	len += (size_t)snprintf(body + len, sizeof body - len, "], \"y\": [");
	for (i = 0; i < BMAX; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s%g", i ? ", " : "",
					yr[i]);
	snprintf(body + len, sizeof body - len, "]}");
	assert_int_equal(batch(f, on, body, NULL), 200);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", on);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[4.5, 101]]}", &j), 200);
	assert_true(fabs(json_real_value(json_array_get(json_object_get(j, "mean"), 0)) - want_m)
		    <= 1e-6 * fabs(want_m));
	assert_true(fabs(json_real_value(json_array_get(json_object_get(j, "variance"), 0)) -
			 want_v) <= 1e-5 * want_v);
	json_decref(j);

	/* a raw session feeds the values as they are */
	create(f, "{\"standardize\": false}", off);
	assert_int_equal(batch(f, off, "{\"x\": [[0.5, 0.1], [0.2, -0.3]], \"y\": [1, 0.5]}",
			       NULL), 200);
	snprintf(url, sizeof url, "/v1/sessions/%s", off);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	assert_true(json_is_false(json_object_get(json_object_get(j, "options"), "standardize")));
	json_decref(j);
}

/* Rows of a model without y: "y" is refused in both forms, before any
 * step; rows without it are applied, the same in both forms. */
static void test_gen_rows_without_y(void **state)
{
	struct fx *f = *state;
	static const size_t whole[] = { 1 << 20 };
	static const size_t chunks[] = { 5, 17, 2 };
	const struct model *m = registry_find(f->reg, "mog");
	char id[33], id2[33], body[256], *before, *after, *rows;
	float sa[AMZ_STATE_MAX], sb[AMZ_STATE_MAX];
	struct scaler ca, cb;
	json_t *j, *j2;
	int i;

	create_on(f, "mog", NULL, id);
	before = session_text(f, id);
	assert_int_equal(batch(f, id, "{\"x\": [[1, 2], [3, 4]], \"y\": [1, 2]}", &j), 422);
	assert_true(detail_has(j, "rows without targets"));
	assert_true(detail_has(j, "drop 'y'"));
	json_decref(j);
	assert_int_equal(batch(f, id, "{\"x\": [[1, 2]], \"y\": null}", NULL), 422);
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, 2]}\n{\"x\": [3, 4], \"y\": 1}\n",
				whole, 1, &j), 422);
	assert_true(detail_has(j, "drop 'y'"));
	assert_int_equal(member_int(j, "line"), 2);
	assert_int_equal(member_int(j, "steps_applied"), 0);
	json_decref(j);
	/* wider than the model's rows, in both forms and in predict */
	strcpy(body, "{\"x\": [[0");
	for (i = 1; i <= m->az.dmax; i++)
		snprintf(body + strlen(body), sizeof body - strlen(body), ", %d", i);
	strcat(body, "]]}");
	assert_int_equal(batch(f, id, body, &j), 422);
	assert_true(detail_has(j, "takes rows of 1 to"));
	json_decref(j);
	/* the same row as a line: {"x": [0, 1, ..]} */
	memmove(body + 6, body + 7, strlen(body + 7) + 1);
	strcpy(body + strlen(body) - 2, "}\n");
	assert_int_equal(stream(f, id, NULL, body, whole, 1, &j), 422);
	assert_true(detail_has(j, "a row has 1 to"));
	json_decref(j);
	snprintf(body, sizeof body, "{\"model\": \"mog\", \"options\": {\"dim\": %d}}",
		 m->az.dmax + 1);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", body, NULL), 422);
	after = session_text(f, id);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* 10 rows: mini-batches of 4, 4, 2, as JSON and as NDJSON */
	rows = gen_rows(0, 10, 2, 0);
	assert_int_equal(batch(f, id, rows, &j), 200);
	free(rows);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	assert_int_equal(member_int(j, "rows"), 10);
	create_on(f, "mog", NULL, id2);
	rows = gen_rows(0, 10, 2, 1);
	assert_int_equal(stream(f, id2, NULL, rows, chunks, 3, &j2), 200);
	free(rows);
	before = member_text(j, "losses");
	after = member_text(j2, "losses");
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_decref(j);
	json_decref(j2);
	stored_state(f, id, sa, m->az.nstate, &ca);
	stored_state(f, id2, sb, m->az.nstate, &cb);
	assert_memory_equal(sa, sb, (size_t)m->az.nstate * sizeof *sa);
	assert_memory_equal(&ca, &cb, sizeof ca);
	/* only x was standardized */
	assert_int_equal(ca.mode, SCALER_FITTED);
	assert_true(ca.sd[1] > 1);
	assert_true(ca.mean[SCALER_Y] == 0 && ca.sd[SCALER_Y] == 1);
}

/* Labels that are not integers 0..K-1 are 422 naming the row, and leave
 * the session exactly as it was; a JSON request stays all or nothing; an
 * NDJSON stream keeps the steps before its bad line. */
static void test_clf_bad_labels_change_nothing(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *body, *detail;
	} bad[] = {
		{ "{\"x\": [[1, 2], [3, 4]], \"y\": [0, 1.5]}", "y[1] = 1.5 is not a class label" },
		{ "{\"x\": [[1, 2], [3, 4]], \"y\": [0, 3]}", "y[1] = 3 is not a class label" },
		{ "{\"x\": [[1, 2], [3, 4]], \"y\": [0, -1]}", "y[1] = -1 is not a class label" },
		{ "{\"x\": [[1, 2], [3, 4]], \"y\": [0, \"a\"]}", "y[1] is not a number" },
		{ "{\"x\": [[1, 2], [3, 4]], \"y\": [0]}", "array of 2 class labels" },
		{ "{\"x\": [[1, 2], [3, 4]]}", "array of 2 class labels" },
		{ "{\"x\": [[1, 2, 3]], \"y\": [0]}", "session's dimension is 2" },
	};
	static const size_t whole[] = { 4096 };
	const char *qx = "[[0.5, -1], [2, 1]]";
	struct store_session ss;
	char id[33], err[256], url[128], *before, *after, *t;
	static const char damaged[] = "000000000000000000000000000000cc";
	json_t *j;
	size_t i;

	create_on(f, "tinyclf", "{\"classes\": 3}", id);
	t = clf_rows(0, 4, 3, 0);
	assert_int_equal(batch(f, id, t, NULL), 200);
	free(t);
	before = clf_snap(f, id, qx);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(batch(f, id, bad[i].body, &j), 422);
		if (!detail_has(j, bad[i].detail))
			fail_msg("%s: %s", bad[i].body,
				 json_string_value(json_object_get(j, "detail")));
		json_decref(j);
		after = clf_snap(f, id, qx);
		assert_string_equal(before, after);
		free(after);
	}
	/* all or nothing: the bad label is in the request's third mini-batch */
	t = clf_rows(4, 10, 3, 0);
	memcpy(strstr(t, "]}") - 1, "7", 1);	/* the last label */
	assert_int_equal(batch(f, id, t, &j), 422);
	assert_true(detail_has(j, "y[9] = 7"));
	json_decref(j);
	free(t);
	after = clf_snap(f, id, qx);
	assert_string_equal(before, after);
	free(after);
	/* NDJSON: a bad first line applies nothing */
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, 2], \"y\": 0.5}\n", whole, 1,
				&j), 422);
	assert_true(detail_has(j, "line 1: 'y' = 0.5 is not a class label"));
	assert_int_equal(member_int(j, "steps_applied"), 0);
	json_decref(j);
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, 2], \"y\": 3}\n", whole, 1,
				&j), 422);
	json_decref(j);
	after = clf_snap(f, id, qx);
	assert_string_equal(before, after);
	free(after);
	free(before);
	/* ... a bad sixth line keeps the step of the four before it */
	t = clf_rows(4, 5, 3, 1);
	t = realloc(t, strlen(t) + 64);
	assert_non_null(t);
	strcat(t, "{\"x\": [1, 2], \"y\": -2}\n{\"x\": [1, 2], \"y\": 1}\n");
	assert_int_equal(stream(f, id, NULL, t, whole, 1, &j), 422);
	free(t);
	assert_int_equal(member_int(j, "steps_applied"), 1);
	assert_int_equal(member_int(j, "line"), 6);
	assert_int_equal(member_int(j, "step"), 2);
	json_decref(j);

	/* a stored state without a valid number of classes is refused */
	memset(&ss, 0, sizeof ss);
	assert_int_equal(store_session_get(f->st, id, &ss, err, sizeof err), STORE_OK);
	snprintf(ss.id, sizeof ss.id, "%s", damaged);
	ss.state[registry_find(f->reg, "tinyclf")->az.nstate - 1] = 11;
	assert_int_equal(store_session_create(f->st, &ss, err, sizeof err), STORE_OK);
	store_session_clear(&ss);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", damaged);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]}", &j), 409);
	assert_true(detail_has(j, "without a valid number of classes"));
	json_decref(j);
	assert_int_equal(batch(f, damaged, "{\"x\": [[1, 2]], \"y\": [0]}", NULL), 409);
}

/*
 * JSON and NDJSON give an implicit session the same losses and the same
 * query set, bit for bit; an NDJSON stream refused half way keeps the
 * steps before its bad line and the set refined by exactly those.
 */
static void test_imp_stream_matches_json(void **state)
{
	struct fx *f = *state;
	static const size_t chunks[] = { 1, 9, 40, 3 };
	const char *qx = "[[0.5, -1], [2, 1], [-3, 0.25], [1, 1]]";
	char a[33], b[33], body[256], *ta, *tb, *la, *lb, *text;
	json_t *ja, *jb;
	int64_t step;

	create_on(f, "tinyimp", "{\"classes\": 3}", a);
	create_on(f, "tinyimp", "{\"classes\": 3}", b);
	ta = clf_rows(0, 5, 3, 0);
	tb = clf_rows(0, 5, 3, 1);
	assert_int_equal(batch(f, a, ta, NULL), 200);
	assert_int_equal(stream(f, b, NULL, tb, chunks, 4, NULL), 200);
	free(ta);
	free(tb);
	snprintf(body, sizeof body, "{\"x\": %s}", qx);
	assert_int_equal(queries(f, HTTP_PUT, a, body, NULL), 201);
	assert_int_equal(queries(f, HTTP_PUT, b, body, NULL), 201);
	ta = clf_rows(5, 14, 3, 0);
	tb = clf_rows(5, 14, 3, 1);
	assert_int_equal(batch(f, a, ta, &ja), 200);
	assert_int_equal(stream(f, b, NULL, tb, chunks, 4, &jb), 200);
	free(ta);
	free(tb);
	la = member_text(ja, "losses");
	lb = member_text(jb, "losses");
	assert_string_equal(la, lb);
	free(la);
	free(lb);
	json_decref(ja);
	json_decref(jb);
	ta = set_answers(f, a, NULL);
	tb = set_answers(f, b, NULL);
	assert_string_equal(ta, tb);
	free(tb);
	tb = predict_answers(f, b, qx, NULL);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);

	/* 3 good lines, 4 more (a mini-batch), then a bad one: one step */
	text = clf_rows(19, 7, 3, 1);
	ta = malloc(strlen(text) + 64);
	sprintf(ta, "%s{\"x\": [1, 2], \"y\": 9}\n", text);
	free(text);
	assert_int_equal(stream(f, b, NULL, ta, chunks, 4, &jb), 422);
	free(ta);
	assert_int_equal(member_int(jb, "steps_applied"), 1);
	json_decref(jb);
	tb = set_answers(f, b, &step);
	assert_int_equal(step, session_step(f, b));
	ta = predict_answers(f, b, qx, NULL);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_applies_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_refusals_change_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_seq_duplicate_and_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_matches_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_holds_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standardization, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gen_rows_without_y, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_clf_bad_labels_change_nothing, setup_clf,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_stream_matches_json, setup_imp,
						teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
