/*
 * test_api.c - the /v1 handlers without sockets: requests are built as
 * struct http_request values and given to api_handle (or to the stream
 * ops), over a real store in a temporary directory and a tiny model
 * trained at test time.
 *
 * Every bad request is checked for its status, for a problem+json body
 * (type, title, status, detail) and for leaving the session exactly as it
 * was (counters and predictions).  The NDJSON stream is fed in uneven
 * chunks and must give the same state as the same rows sent as one JSON
 * body.  The fixture and the request helpers are in apifx.c.
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
#include <sys/stat.h>
#include <unistd.h>

#include "base/am.h"
#include "family/amz.h"
#include "api.h"
#include "apifx.h"
#include "http.h"
#include "ingest.h"
#include "model.h"
#include "refine/refiner.h"
#include "registry.h"
#include "scaler.h"
#include "store.h"

/* ---- tests: system, models, routing ------------------------------------- */

static void test_health_ready_models(void **state)
{
	struct fx *f = *state;
	json_t *j;

	assert_int_equal(call(f, HTTP_GET, "/healthz", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/readyz", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ready");
	assert_int_equal(member_int(j, "models"), 1);
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/models", NULL, &j), 200);
	{
		json_t *m = json_array_get(json_object_get(j, "models"), 0);

		assert_string_equal(json_string_value(json_object_get(m, "name")), "tiny");
		assert_string_equal(json_string_value(json_object_get(m, "task_family")),
				    "linreg");
		assert_int_equal(member_int(m, "batch"), BMAX);
		assert_int_equal(member_int(m, "max_dim"), 16);
		assert_int_equal(member_int(m, "passes"), 2);
		assert_int_equal(strlen(json_string_value(json_object_get(m, "checksum"))), 8);
		assert_null(json_object_get(m, "header"));
	}
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/models/tiny", NULL, &j), 200);
	assert_true(json_is_object(json_object_get(j, "header")));
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/models/nope", NULL, NULL), 404);
}

static void test_routing(void **state)
{
	struct fx *f = *state;
	struct http_response r;

	assert_int_equal(call(f, HTTP_GET, "/nope", NULL, NULL), 404);
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions/", NULL, NULL), 404);
	assert_int_equal(call(f, HTTP_GET, "/v1/models/tiny/extra", NULL, NULL), 404);
	assert_int_equal(call_full(f, HTTP_POST, "/healthz", "application/json", "{}",
				   NULL, &r), 405);
	assert_string_equal(r.allow, "GET, HEAD");
	assert_int_equal(call_full(f, HTTP_PUT, "/v1/sessions", NULL, NULL, NULL, &r), 405);
	assert_string_equal(r.allow, "POST, GET, HEAD");
	assert_int_equal(call_full(f, HTTP_GET,
				   "/v1/sessions/0123456789abcdef0123456789abcdef/batches",
				   NULL, NULL, NULL, &r), 405);
	assert_string_equal(r.allow, "POST");
	assert_int_equal(call(f, HTTP_HEAD, "/healthz", NULL, NULL), 200);
	/* unknown session ids: malformed or absent */
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions/xyz", NULL, NULL), 404);
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions/0123456789abcdef0123456789abcdef",
			      NULL, NULL), 404);
	assert_int_equal(call(f, HTTP_DELETE, "/v1/sessions/0123456789abcdef0123456789abcdef",
			      NULL, NULL), 404);
}

/* ---- tests: sessions ---------------------------------------------------- */

static void test_create_session(void **state)
{
	struct fx *f = *state;
	struct http_response r;
	json_t *j;
	char loc[128];

	assert_int_equal(call_full(f, HTTP_POST, "/v1/sessions", "application/json",
				   "{\"model\": \"tiny\", \"options\": {\"dim\": 3}}", &j, &r),
			 201);
	snprintf(loc, sizeof loc, "/v1/sessions/%s", json_string_value(json_object_get(j, "id")));
	assert_string_equal(r.location, loc);
	assert_string_equal(json_string_value(json_object_get(j, "model")), "tiny");
	assert_string_equal(json_string_value(json_object_get(j, "regime")), "parametric");
	assert_int_equal(member_int(j, "step"), 0);
	assert_int_equal(member_int(j, "rows"), 0);
	assert_int_equal(member_int(j, "next_seq"), 0);
	assert_int_equal(member_int(j, "dim"), 3);
	assert_true(json_is_true(json_object_get(json_object_get(j, "options"), "standardize")));
	/* RFC 3339 UTC */
	assert_int_equal(strlen(json_string_value(json_object_get(j, "created"))), 24);
	assert_int_equal(json_string_value(json_object_get(j, "created"))[23], 'Z');
	json_decref(j);

	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{\"model\": \"tiny\"}", &j), 201);
	assert_true(json_is_null(json_object_get(j, "dim")));
	json_decref(j);

	/* refusals */
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{\"model\": \"nope\"}", NULL), 404);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{\"model\": 3}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "[1]", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{\"model\": \"tiny\"", NULL), 400);
	assert_int_equal(call_full(f, HTTP_POST, "/v1/sessions", NULL, "{\"model\": \"tiny\"}",
				   NULL, NULL), 415);
	assert_int_equal(call_full(f, HTTP_POST, "/v1/sessions", "application/json", "",
				   NULL, NULL), 400);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions",
			      "{\"model\": \"tiny\", \"extra\": 1}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions",
			      "{\"model\": \"tiny\", \"options\": {\"colour\": 1}}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions",
			      "{\"model\": \"tiny\", \"options\": {\"dim\": 0}}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions",
			      "{\"model\": \"tiny\", \"options\": {\"dim\": 17}}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions",
			      "{\"model\": \"tiny\", \"options\": {\"dim\": \"3\"}}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions",
			      "{\"model\": \"tiny\", \"options\": {\"standardize\": 1}}", NULL),
			 422);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions",
			      "{\"model\": \"tiny\", \"options\": []}", NULL), 422);
	assert_int_equal(call_full(f, HTTP_POST, "/v1/sessions", "text/plain",
				   "{\"model\": \"tiny\"}", NULL, NULL), 415);
	assert_int_equal(call_full(f, HTTP_POST, "/v1/sessions", "application/x-ndjson",
				   "{\"model\": \"tiny\"}", NULL, NULL), 415);
	assert_int_equal(call_full(f, HTTP_POST, "/v1/sessions",
				   "application/json; charset=utf-8",
				   "{\"model\": \"tiny\"}", NULL, NULL), 201);
	/* max_sessions is 5: three made so far */
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{\"model\": \"tiny\"}", NULL), 201);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{\"model\": \"tiny\"}", NULL), 201);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{\"model\": \"tiny\"}", NULL), 503);
}

static void test_list_get_delete(void **state)
{
	struct fx *f = *state;
	char ids[4][33], url[160];
	json_t *j, *next;
	int i, seen = 0;

	for (i = 0; i < 4; i++)
		create(f, NULL, ids[i]);
	/* pages of 3 then 1 */
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions?limit=3", NULL, &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "sessions")), 3);
	next = json_object_get(j, "next");
	assert_true(json_is_string(next));
	snprintf(url, sizeof url, "/v1/sessions?limit=3&after=%s", json_string_value(next));
	seen += 3;
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	seen += (int)json_array_size(json_object_get(j, "sessions"));
	assert_true(json_is_null(json_object_get(j, "next")));
	json_decref(j);
	assert_int_equal(seen, 4);
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions", NULL, &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "sessions")), 4);
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions?limit=0", NULL, NULL), 400);
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions?limit=1001", NULL, NULL), 400);
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions?limit=x", NULL, NULL), 400);

	snprintf(url, sizeof url, "/v1/sessions/%s", ids[1]);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "id")), ids[1]);
	json_decref(j);
	assert_int_equal(call(f, HTTP_DELETE, url, NULL, &j), 204);
	assert_null(j);
	assert_int_equal(call(f, HTTP_GET, url, NULL, NULL), 404);
	assert_int_equal(call(f, HTTP_DELETE, url, NULL, NULL), 404);
	assert_int_equal(batch(f, ids[1], "{\"x\": [[1]], \"y\": [1]}", NULL), 404);
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions", NULL, &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "sessions")), 3);
	json_decref(j);
	/* the freed slot can be used again (max_sessions 5) */
	create(f, NULL, ids[1]);
	create(f, NULL, ids[1]);
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", "{\"model\": \"tiny\"}", NULL), 503);
}

/* ---- tests: batches ----------------------------------------------------- */

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

/* ---- tests: NDJSON streams ---------------------------------------------- */

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

/* ---- tests: predict, sample, standardization, restart ------------------- */

static void test_predict(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "tiny");
	float s0[REFINER_S], X[LINREG_DMAX] = { 0.5f, -1.25f }, mean, var;
	char id[33], url[128], *b;
	json_t *j;

	/* before any batch: the initial state, no standardization */
	create(f, NULL, id);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[0.5, -1.25]]}", &j), 200);
	refiner_initial_state(&m->ref, m->p, s0);
	refiner_predict(s0, X, 1, &mean, &var);
	/* 9 significant digits give the float back exactly */
	assert_true((float)json_real_value(json_array_get(json_object_get(j, "mean"), 0)) ==
		    mean);
	assert_true((float)json_real_value(json_array_get(json_object_get(j, "variance"), 0)) ==
		    var);
	json_decref(j);
	/* no dimension fixed yet: any width predicts */
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3]]}", NULL), 200);
	b = rows_json(0, 8, -1);
	assert_int_equal(batch(f, id, b, NULL), 200);
	free(b);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2], [3, 4], [5, 6]]}", &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "mean")), 3);
	assert_int_equal(json_array_size(json_object_get(j, "variance")), 3);
	assert_true(json_real_value(json_array_get(json_object_get(j, "variance"), 0)) > 0);
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3]]}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, \"a\"]]}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": []}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]], \"y\": [1]}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]", NULL), 400);
	b = rows_json(0, MAX_ROWS + 1, -1);
	*strstr(b, ", \"y\"") = '}';
	strstr(b, "]}")[2] = '\0';
	assert_int_equal(call(f, HTTP_POST, url, b, NULL), 422);
	free(b);
	assert_int_equal(call(f, HTTP_POST,
			      "/v1/sessions/0123456789abcdef0123456789abcdef/predict",
			      "{\"x\": [[1, 2]]}", NULL), 404);
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
	refiner_initial_state(&m->ref, m->p, st);
	ws = refiner_ws_new(&m->ref, 1, BMAX);
	assert_non_null(ws);
	assert_int_equal(refiner_step(&m->ref, m->p, ws, st, X, y, BMAX, 2, 0, &loss), AM_OK);
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

static void test_sample(void **state)
{
	struct fx *f = *state;
	char id[33], url[128];
	json_t *j;

	create(f, NULL, id);
	snprintf(url, sizeof url, "/v1/sessions/%s/sample", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 3, \"seed\": 1}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:cannot-sample");
	assert_non_null(strstr(json_string_value(json_object_get(j, "detail")),
			       "model 'linreg' cannot sample"));
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 0}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": \"3\"}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 3, \"k\": 1}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 3", NULL), 400);
	assert_int_equal(call(f, HTTP_POST,
			      "/v1/sessions/0123456789abcdef0123456789abcdef/sample",
			      "{\"n\": 3}", NULL), 404);
}

static void test_restart_resumes(void **state)
{
	struct fx *f = *state;
	char id[33], *b;
	struct snap s;
	json_t *j;

	create(f, NULL, id);
	b = rows_json(0, 10, 0);
	assert_int_equal(batch(f, id, b, NULL), 200);
	free(b);
	snap_take(f, id, 2, &s);
	fx_close(f);
	fx_open(f);
	snap_same(f, id, 2, &s);
	snap_free(&s);
	/* and goes on from there: seq 0 is a duplicate, seq 1 applies */
	b = rows_json(0, 10, 0);
	assert_int_equal(batch(f, id, b, &j), 200);
	assert_true(json_is_true(json_object_get(j, "duplicate")));
	json_decref(j);
	free(b);
	b = rows_json(10, 4, 1);
	assert_int_equal(batch(f, id, b, &j), 200);
	assert_int_equal(member_int(j, "step"), 4);
	assert_int_equal(member_int(j, "rows"), 14);
	json_decref(j);
	free(b);
}

static void test_metrics(void **state)
{
	struct fx *f = *state;
	struct http_request req;
	struct http_response resp;
	char id[33], url[128], *b;

	create(f, NULL, id);
	b = rows_json(0, 5, -1);
	assert_int_equal(batch(f, id, b, NULL), 200);
	free(b);
	/* the HTTP layer reports finished requests through done() */
	memset(&req, 0, sizeof req);
	snprintf(url, sizeof url, "/v1/sessions/%s/batches", id);
	req.method = HTTP_POST;
	req.method_name = "POST";
	req.path = url;
	api_done(f->a, &req, 200, 0.003);
	req.path = "/no/such/thing";
	api_done(f->a, &req, 404, 0.001);
	memset(&resp, 0, sizeof resp);
	memset(&req, 0, sizeof req);
	req.method = HTTP_GET;
	req.path = "/metrics";
	api_handle(f->a, &req, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(resp.body, "amortd_requests_total{route=\"/v1/sessions/{id}/"
			       "batches\",status=\"200\"} 1\n"));
	assert_non_null(strstr(resp.body, "amortd_requests_total{route=\"unmatched\","
			       "status=\"404\"} 1\n"));
	assert_null(strstr(resp.body, id));
	assert_non_null(strstr(resp.body, "amortd_request_duration_seconds_bucket{route=\""
			       "/v1/sessions/{id}/batches\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(resp.body, "amortd_sessions 1\n"));
	assert_non_null(strstr(resp.body, "amortd_steps_applied_total 2\n"));
	assert_non_null(strstr(resp.body, "amortd_rows_ingested_total 5\n"));
	assert_non_null(strstr(resp.body, "amortd_models_loaded 1\n"));
	http_response_clear(&resp);
}

/* ---- tests: family-free sessions ----------------------------------------- */

static void test_models_capabilities(void **state)
{
	struct fx *f = *state;
	json_t *j;

	assert_int_equal(call(f, HTTP_GET, "/v1/models/tiny", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "family")), "linreg");
	assert_true(json_is_true(json_object_get(j, "has_y")));
	assert_string_equal(json_string_value(json_object_get(j, "predicts")), "mean");
	assert_true(json_is_false(json_object_get(j, "can_sample")));
	assert_string_equal(json_string_value(json_object_get(j, "variant")), "both");
	assert_int_equal(member_int(j, "steps_trained"), 4);
	json_decref(j);
}

static void test_gen_models_capabilities(void **state)
{
	struct fx *f = *state;
	json_t *j, *m;

	assert_int_equal(call(f, HTTP_GET, "/v1/models", NULL, &j), 200);
	m = json_array_get(json_object_get(j, "models"), 0);	/* in name order */
	assert_string_equal(json_string_value(json_object_get(m, "name")), "flow");
	assert_string_equal(json_string_value(json_object_get(m, "family")), "flow");
	assert_true(json_is_false(json_object_get(m, "has_y")));
	assert_true(json_is_null(json_object_get(m, "predicts")));
	assert_true(json_is_true(json_object_get(m, "can_sample")));
	m = json_array_get(json_object_get(j, "models"), 1);
	assert_string_equal(json_string_value(json_object_get(m, "family")), "mog");
	assert_true(json_is_false(json_object_get(m, "has_y")));
	assert_string_equal(json_string_value(json_object_get(m, "predicts")), "log_density");
	assert_true(json_is_true(json_object_get(m, "can_sample")));
	assert_int_equal(member_int(m, "max_dim"), registry_find(f->reg, "mog")->az.dmax);
	assert_int_equal(member_int(m, "batch"), BMAX);
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

/* The log-density in the data's units: the server's answer against the
 * model's own on the stored state, with the change of variables written
 * out by hand. */
static void test_gen_log_density(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "mog");
	static const double q[2][2] = { { 3, 1100 }, { -2, 950 } };
	float st[AMZ_STATE_MAX], X[2 * AMZ_DMAX] = { 0 }, lz[2];
	char id[33], raw[33], url[128], *rows;
	struct scaler sc;
	json_t *j, *ld;
	int i, k;

	create_on(f, "mog", NULL, id);
	rows = gen_rows(0, 6, 2, 0);
	assert_int_equal(batch(f, id, rows, NULL), 200);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[3, 1100], [-2, 950]]}", &j), 200);
	assert_null(json_object_get(j, "mean"));
	ld = json_object_get(j, "log_density");
	assert_int_equal(json_array_size(ld), 2);
	stored_state(f, id, st, m->az.nstate, &sc);
	for (i = 0; i < 2; i++)
		for (k = 0; k < 2; k++)
			X[i * m->az.dmax + k] = (float)((q[i][k] - sc.mean[k]) / sc.sd[k]);
	assert_int_equal(amz_log_density(&m->az, st, X, 2, 2, lz), AM_OK);
	for (i = 0; i < 2; i++) {
		double want = (double)lz[i] - log((double)sc.sd[0]) - log((double)sc.sd[1]);
		double got = json_real_value(json_array_get(ld, (size_t)i));

		assert_true(fabs(got - want) <= 1e-6 * fabs(want) + 1e-6);
	}
	json_decref(j);
	/* the session's dimension holds; a raw session scores raw rows */
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3]]}", NULL), 422);
	create_on(f, "mog", "{\"standardize\": false}", raw);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", raw);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[0.5, -0.5]]}", &j), 200);
	memset(X, 0, sizeof X);
	X[0] = 0.5f;
	X[1] = -0.5f;
	amz_initial_state(&m->az, st);
	assert_int_equal(amz_log_density(&m->az, st, X, 1, 2, lz), AM_OK);
	assert_true((float)json_real_value(json_array_get(json_object_get(j, "log_density"), 0))
		    == lz[0]);
	json_decref(j);
	free(rows);
}

/* Samples: repeatable by seed (given or drawn and returned), read-only,
 * in identity units before the first batch, mapped to the data's units
 * after it, and the same after a restart. */
static void test_gen_sample(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "mog");
	float st[AMZ_STATE_MAX], *z;
	char id[33], *a, *b, *before, *after, *rows;
	struct amz_ws *ws;
	struct scaler sc;
	json_t *j, *j2, *smp;
	long long seed;
	int i, k;

	z = malloc((size_t)MAX_SAMPLES * m->az.dmax * sizeof *z);
	ws = amz_ws_new(&m->az);
	assert_non_null(z);
	assert_non_null(ws);
	create_on(f, "mog", "{\"dim\": 2}", id);
	before = session_text(f, id);
	/* no batch yet: the learned initial state, values as drawn */
	assert_int_equal(sample(f, id, 5, 42, &j), 200);
	assert_int_equal(member_int(j, "seed"), 42);
	smp = json_object_get(j, "samples");
	assert_int_equal(json_array_size(smp), 5);
	amz_initial_state(&m->az, st);
	assert_int_equal(amz_sample(&m->az, ws, st, 2, 5, 42, z), AM_OK);
	for (i = 0; i < 5; i++) {
		assert_int_equal(json_array_size(json_array_get(smp, (size_t)i)), 2);
		for (k = 0; k < 2; k++)
			assert_true((float)json_real_value(json_array_get(json_array_get(smp, (size_t)i),
									  (size_t)k)) ==
				    z[i * m->az.dmax + k]);
	}
	/* the same seed, the same samples; another seed, others */
	assert_int_equal(sample(f, id, 5, 42, &j2), 200);
	a = json_dumps(j, JSON_COMPACT);
	b = json_dumps(j2, JSON_COMPACT);
	assert_string_equal(a, b);
	free(b);
	json_decref(j2);
	assert_int_equal(sample(f, id, 5, 43, &j2), 200);
	b = member_text(j2, "samples");
	free(a);
	a = member_text(j, "samples");
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	json_decref(j2);
	json_decref(j);
	/* no seed: one is drawn, returned, and repeats the call */
	assert_int_equal(sample(f, id, 3, -1, &j), 200);
	seed = member_int(j, "seed");
	assert_true(seed >= 0 && seed < (1LL << 53));
	assert_int_equal(sample(f, id, 3, seed, &j2), 200);
	a = json_dumps(j, JSON_COMPACT);
	b = json_dumps(j2, JSON_COMPACT);
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(j);
	json_decref(j2);
	/* sampling changed nothing */
	after = session_text(f, id);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* after a batch: z from the adapted state, mapped back per column */
	rows = gen_rows(0, BMAX, 2, 0);
	assert_int_equal(batch(f, id, rows, NULL), 200);
	free(rows);
	assert_int_equal(sample(f, id, MAX_SAMPLES, 7, &j), 200);
	stored_state(f, id, st, m->az.nstate, &sc);
	assert_int_equal(amz_sample(&m->az, ws, st, 2, MAX_SAMPLES, 7, z), AM_OK);
	smp = json_object_get(j, "samples");
	for (i = 0; i < MAX_SAMPLES; i++)
		for (k = 0; k < 2; k++)
			assert_true((float)json_real_value(json_array_get(json_array_get(smp, (size_t)i),
									  (size_t)k)) ==
				    (float)(sc.mean[k] + (double)sc.sd[k] * z[i * m->az.dmax + k]));
	a = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	/* a restarted daemon draws the same samples */
	fx_close(f);
	fx_open(f);
	assert_int_equal(sample(f, id, MAX_SAMPLES, 7, &j), 200);
	b = json_dumps(j, JSON_COMPACT);
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(j);
	amz_ws_free(ws);
	free(z);
}

static void test_gen_sample_requests(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"{\"n\": 0}", "{\"n\": -1}", "{\"n\": 21}", "{\"n\": 1.5}", "{\"n\": \"3\"}",
		"{\"n\": null}", "{\"seed\": 1}", "{\"n\": 3, \"seed\": -1}",
		"{\"n\": 3, \"seed\": \"7\"}", "{\"n\": 3, \"seed\": 1.5}",
		"{\"n\": 3, \"seed\": true}", "{\"n\": 3, \"seed\": [7]}",
		"{\"n\": 3, \"seed\": 18446744073709551615}", "{\"n\": 3, \"k\": 1}", "[3]",
	};
	char id[33], url[128], *before, *after;
	size_t i;
	json_t *j;

	create_on(f, "mog", NULL, id);
	before = session_text(f, id);
	snprintf(url, sizeof url, "/v1/sessions/%s/sample", id);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int st = call(f, HTTP_POST, url, bad[i], &j);

		if (st != 422)
			fail_msg("body %zu (%s): status %d, expected 422", i, bad[i], st);
		assert_string_equal(json_string_value(json_object_get(j, "type")),
				    "urn:amortd:problem:invalid");
		json_decref(j);
	}
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 3", NULL), 400);
	/* n is bounded by max_samples, and the message says so */
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 21}", &j), 422);
	assert_true(detail_has(j, "from 1 to 20"));
	json_decref(j);
	/* a valid request on a session whose dimension is not fixed yet */
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 20, \"seed\": 9223372036854775807}",
			      &j), 422);
	assert_true(detail_has(j, "no dimension yet"));
	json_decref(j);
	after = session_text(f, id);
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_int_equal(call(f, HTTP_POST,
			      "/v1/sessions/0123456789abcdef0123456789abcdef/sample",
			      "{\"n\": 3}", NULL), 404);
}

/* A flow answers neither a mean nor a density: it cannot predict, and
 * says what it can do; it adapts and samples. */
static void test_gen_flow(void **state)
{
	struct fx *f = *state;
	char id[33], url[128], *rows, *a, *b;
	json_t *j, *j2;

	create_on(f, "flow", "{\"dim\": 2}", id);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:cannot-predict");
	assert_true(detail_has(j, "use sample"));
	json_decref(j);
	/* a malformed request is still told so first */
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": 1}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:invalid");
	json_decref(j);
	rows = gen_rows(0, 6, 2, 0);
	assert_int_equal(batch(f, id, rows, NULL), 200);
	free(rows);
	assert_int_equal(sample(f, id, 4, 11, &j), 200);
	assert_int_equal(sample(f, id, 4, 11, &j2), 200);
	assert_int_equal(json_array_size(json_object_get(j, "samples")), 4);
	a = json_dumps(j, JSON_COMPACT);
	b = json_dumps(j2, JSON_COMPACT);
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(j);
	json_decref(j2);
}

/* A regression session refuses to sample whatever the seed, after the
 * request itself was checked. */
static void test_sample_seeds_on_linreg(void **state)
{
	struct fx *f = *state;
	char id[33], url[128];
	json_t *j;

	create(f, "{\"dim\": 2}", id);
	snprintf(url, sizeof url, "/v1/sessions/%s/sample", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 20}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:cannot-sample");
	assert_true(detail_has(j, "'tiny' is a regression amortizer"));
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 1, \"seed\": null}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:cannot-sample");
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 1, \"seed\": -3}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:invalid");
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 21, \"seed\": 1}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:invalid");
	json_decref(j);
}

/*
 * Writes a session of model "tiny" straight into the store with a state
 * blob of blob_floats floats (state floats, then a pending scaler when
 * there is room), as a damaged or foreign database would hold it.
 */
static void store_raw_session(struct fx *f, const char *id, int blob_floats)
{
	struct store_session ss;
	float blob[SESSIONS_BLOB_MAX + 8] = { 0 };
	struct scaler sc;
	char err[256];

	assert_true(blob_floats <= SESSIONS_BLOB_MAX + 8);
	memset(&ss, 0, sizeof ss);
	snprintf(ss.id, sizeof ss.id, "%s", id);
	snprintf(ss.model, sizeof ss.model, "tiny");
	snprintf(ss.model_checksum, sizeof ss.model_checksum, "%s",
		 registry_find(f->reg, "tiny")->checksum);
	snprintf(ss.regime, sizeof ss.regime, "parametric");
	scaler_init(&sc, 1);
	if (blob_floats >= SCALER_FLOATS)
		scaler_pack(&sc, blob + blob_floats - SCALER_FLOATS);
	ss.state = blob;
	ss.nstate = blob_floats;
	ss.options = "{\"standardize\":true}";
	ss.created = ss.updated = 1e9;
	assert_int_equal(store_session_create(f->st, &ss, err, sizeof err), STORE_OK);
}

/* A stored state blob of the wrong size is a clear error, never a read
 * past its floats: too short or too long for any session is a 500 on
 * loading; a size other than its model's is refused where the model is
 * used (409), while the session can still be read and deleted. */
static void test_state_size_checked(void **state)
{
	struct fx *f = *state;
	static const char other[] = "00000000000000000000000000000001";
	static const char tiny[] = "00000000000000000000000000000002";
	static const char huge[] = "00000000000000000000000000000003";
	char url[128];
	json_t *j;

	store_raw_session(f, other, 5 + SCALER_FLOATS);
	snprintf(url, sizeof url, "/v1/sessions/%s", other);
	assert_int_equal(call(f, HTTP_GET, url, NULL, NULL), 200);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", other);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]}", &j), 409);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:model-unavailable");
	assert_true(detail_has(j, "a state of 5 floats"));
	json_decref(j);
	assert_int_equal(batch(f, other, "{\"x\": [[1, 2]], \"y\": [1]}", NULL), 409);
	assert_int_equal(stream(f, other, NULL, "{\"x\": [1, 2], \"y\": 1}\n",
				(const size_t[]){ 64 }, 1, NULL), 409);
	snprintf(url, sizeof url, "/v1/sessions/%s/sample", other);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 1}", NULL), 409);
	snprintf(url, sizeof url, "/v1/sessions/%s", other);
	assert_int_equal(call(f, HTTP_DELETE, url, NULL, NULL), 204);

	store_raw_session(f, tiny, SCALER_FLOATS);
	snprintf(url, sizeof url, "/v1/sessions/%s", tiny);
	assert_int_equal(call(f, HTTP_GET, url, NULL, NULL), 500);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", tiny);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]}", NULL), 500);
	store_raw_session(f, huge, SESSIONS_BLOB_MAX + 1);
	snprintf(url, sizeof url, "/v1/sessions/%s/batches", huge);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]], \"y\": [1]}", NULL), 500);
}

/*
 * A session stored while AMZ_DMAX was 16 (its scaler in the legacy form
 * of SCALER_LEGACY_FLOATS floats) loads, predicts exactly as the same
 * session in the current form, takes batches, and is written back in the
 * current form by its next commit.
 */
static void test_legacy_state_blob(void **state)
{
	struct fx *f = *state;
	static const char old[] = "000000000000000000000000000000aa";
	float legacy[REFINER_S + SCALER_LEGACY_FLOATS], st[REFINER_S];
	struct store_session ss;
	struct scaler sc;
	char id[33], err[256], url[128], *a, *b, *rows;
	const int n = SCALER_LEGACY_DMAX;
	int j;

	create(f, NULL, id);
	rows = rows_json(0, 8, -1);
	assert_int_equal(batch(f, id, rows, NULL), 200);
	free(rows);
	stored_state(f, id, st, REFINER_S, &sc);
	assert_int_equal(sc.mode, SCALER_FITTED);
	/* the same session as an old server wrote it: x0..x15, then y */
	memcpy(legacy, st, sizeof st);
	legacy[REFINER_S] = (float)sc.mode;
	for (j = 0; j < n; j++) {
		legacy[REFINER_S + 1 + j] = sc.mean[j];
		legacy[REFINER_S + 1 + (n + 1) + j] = sc.sd[j];
	}
	legacy[REFINER_S + 1 + n] = sc.mean[SCALER_Y];
	legacy[REFINER_S + 1 + (n + 1) + n] = sc.sd[SCALER_Y];
	memset(&ss, 0, sizeof ss);
	assert_int_equal(store_session_get(f->st, id, &ss, err, sizeof err), STORE_OK);
	snprintf(ss.id, sizeof ss.id, "%s", old);
	free(ss.state);
	ss.state = legacy;
	ss.nstate = REFINER_S + SCALER_LEGACY_FLOATS;
	assert_int_equal(store_session_create(f->st, &ss, err, sizeof err), STORE_OK);
	ss.state = NULL;
	store_session_clear(&ss);

	/* from a fresh cache, as after an upgrade */
	fx_close(f);
	fx_open(f);
	snprintf(url, sizeof url, "/v1/sessions/%s", old);
	assert_int_equal(call(f, HTTP_GET, url, NULL, NULL), 200);
	a = predict_text(f, id, "[[0.5, 3], [-2, 7]]");
	b = predict_text(f, old, "[[0.5, 3], [-2, 7]]");
	assert_string_equal(a, b);
	free(a);
	free(b);
	/* the next commit writes the current form, and both go on alike */
	rows = rows_json(8, 5, -1);
	assert_int_equal(batch(f, id, rows, NULL), 200);
	assert_int_equal(batch(f, old, rows, NULL), 200);
	free(rows);
	stored_state(f, old, st, REFINER_S, &sc);
	a = predict_text(f, id, "[[1, 1]]");
	b = predict_text(f, old, "[[1, 1]]");
	assert_string_equal(a, b);
	free(a);
	free(b);
	fx_close(f);
	fx_open(f);
	a = predict_text(f, id, "[[1, 1]]");
	b = predict_text(f, old, "[[1, 1]]");
	assert_string_equal(a, b);
	free(a);
	free(b);
}


/* ---- classification ------------------------------------------------------ */

/* Posts a session request body to the create route; returns the status
 * and the body. */
static int create_status(struct fx *f, const char *body, json_t **out)
{
	return call(f, HTTP_POST, "/v1/sessions", body, out);
}

static void test_clf_models_capabilities(void **state)
{
	struct fx *f = *state;
	json_t *j;
	char *t;

	assert_int_equal(call(f, HTTP_GET, "/v1/models/tinyclf", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "family")), "clf");
	assert_string_equal(json_string_value(json_object_get(j, "predicts")), "probs");
	assert_int_equal(member_int(j, "classes"), 10);
	assert_true(json_is_true(json_object_get(j, "has_y")));
	assert_true(json_is_false(json_object_get(j, "can_sample")));
	assert_true(json_is_true(json_object_get(j, "standardize")));
	t = member_text(j, "input");
	assert_string_equal(t, "[\"features\"]");
	free(t);
	assert_null(json_object_get(j, "pixels"));
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/models/tinyimg", NULL, &j), 200);
	t = member_text(j, "input");
	assert_string_equal(t, "[\"features\",\"pixels\"]");
	free(t);
	assert_int_equal(member_int(j, "pixels"), IMG_NPIX);
	assert_int_equal(member_int(j, "max_dim"), AMZ_DMAX);
	assert_true(json_is_false(json_object_get(j, "standardize")));
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/models/tiny", NULL, &j), 200);
	assert_null(json_object_get(j, "classes"));
	assert_true(json_is_true(json_object_get(j, "standardize")));
	t = member_text(j, "input");
	assert_string_equal(t, "[\"features\"]");
	free(t);
	json_decref(j);
}

/* classes and input at creation: defaults, bounds, and what each model
 * takes; a refused create makes no session. */
static void test_clf_create_options(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *body, *detail;
	} bad[] = {
		{ "{\"model\": \"tinyclf\", \"options\": {\"classes\": 1}}",
		  "options.classes must be an integer from 2 to 10" },
		{ "{\"model\": \"tinyclf\", \"options\": {\"classes\": 11}}",
		  "options.classes must be" },
		{ "{\"model\": \"tinyclf\", \"options\": {\"classes\": 2.5}}",
		  "options.classes must be" },
		{ "{\"model\": \"tinyclf\", \"options\": {\"classes\": \"3\"}}",
		  "options.classes must be" },
		{ "{\"model\": \"tiny\", \"options\": {\"classes\": 3}}",
		  "for classification models" },
		{ "{\"model\": \"tinyclf\", \"options\": {\"input\": \"pixels\"}}",
		  "needs an image model" },
		{ "{\"model\": \"tiny\", \"options\": {\"input\": \"pixels\"}}",
		  "needs an image model" },
		{ "{\"model\": \"tinyclf\", \"options\": {\"input\": \"raw\"}}",
		  "options.input must be" },
		{ "{\"model\": \"tinyimg\", \"options\": {\"input\": \"pixels\", \"dim\": 3}}",
		  "options.dim must be 4 or absent" },
		{ "{\"model\": \"tinyclf\", \"options\": {\"colour\": 1}}",
		  "unknown member 'colour'" },
	};
	char id[33], *t;
	json_t *j;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(create_status(f, bad[i].body, &j), 422);
		if (!detail_has(j, bad[i].detail))
			fail_msg("%s: %s", bad[i].body,
				 json_string_value(json_object_get(j, "detail")));
		json_decref(j);
	}
	assert_int_equal(call(f, HTTP_GET, "/v1/sessions", NULL, &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "sessions")), 0);
	json_decref(j);

	assert_int_equal(create_status(f, "{\"model\": \"tinyclf\"}", &j), 201);
	t = json_dumps(json_object_get(j, "options"), JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(t, "{\"classes\":10,\"input\":\"features\",\"standardize\":true}");
	free(t);
	assert_true(json_is_null(json_object_get(j, "dim")));
	json_decref(j);
	assert_int_equal(create_status(f, "{\"model\": \"tinyclf\", \"options\": "
				       "{\"classes\": 3, \"input\": \"features\"}}", &j), 201);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "options"),
							   "classes")), 3);
	json_decref(j);
	/* an image model: pixels fix the dimension; standardization is off
	 * by default */
	assert_int_equal(create_status(f, "{\"model\": \"tinyimg\", \"options\": "
				       "{\"input\": \"pixels\"}}", &j), 201);
	assert_int_equal(member_int(j, "dim"), IMG_NPIX);
	t = json_dumps(json_object_get(j, "options"), JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(t, "{\"classes\":10,\"input\":\"pixels\",\"standardize\":false}");
	free(t);
	json_decref(j);
	create_on(f, "tinyimg", "{\"input\": \"pixels\", \"dim\": 4, \"classes\": 2}", id);
	/* a regression model shows neither classes nor input */
	assert_int_equal(create_status(f, "{\"model\": \"tiny\", \"options\": "
				       "{\"input\": \"features\"}}", &j), 201);
	t = json_dumps(json_object_get(j, "options"), JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(t, "{\"standardize\":true}");
	free(t);
	json_decref(j);
}

/*
 * Labelled rows refine a classification session exactly as amz_step does
 * (labels as JSON integers or integral numbers, never standardized);
 * predict answers the session's K probabilities per row, summing to 1,
 * and their argmax as labels, the same after a restart; NDJSON and JSON
 * give the same state.
 */
/* A classifier session of model name (3 classes, standardization off)
 * steps and predicts as the core does by hand, bit for bit, and answers
 * the same after a restart. */
static void clf_step_matches_core(struct fx *f, const char *name)
{
	const struct model *m = registry_find(f->reg, name);
	static const float rows[4][2] = { { 1, -2 }, { 0.5f, 3 }, { -1, 0 }, { 2, 2 } };
	static const float labels[4] = { 0, 2, 1, 2 };
	static const float q[3][2] = { { 0.5f, -1 }, { 2, 1 }, { -3, 0.25f } };
	float st[AMZ_STATE_MAX], X[4 * AMZ_DMAX] = { 0 }, P[3 * AMZ_CLASSES_MAX];
	const char *qx = "[[0.5, -1], [2, 1], [-3, 0.25]]";
	struct amz_ws *ws;
	char id[33], url[128], body[128], *t, *u;
	json_t *j;
	int i, c;

	assert_non_null(m);
	create_on(f, name, "{\"classes\": 3, \"standardize\": false}", id);
	assert_int_equal(batch(f, id, "{\"x\": [[1, -2], [0.5, 3], [-1, 0], [2, 2]], "
			       "\"y\": [0, 2.0, 1, 2]}", &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 1);
	json_decref(j);
	/* the same step by hand */
	amz_initial_state(&m->az, st);
	assert_int_equal(amz_set_classes(&m->az, st, 3), AM_OK);
	for (i = 0; i < 4; i++) {
		X[i * m->az.dmax] = rows[i][0];
		X[i * m->az.dmax + 1] = rows[i][1];
	}
	ws = amz_ws_new(&m->az);
	assert_non_null(ws);
	assert_int_equal(amz_step(&m->az, ws, st, X, labels, 4, 2, 0, NULL, NULL), AM_OK);
	amz_ws_free(ws);
	memset(X, 0, sizeof X);
	for (i = 0; i < 3; i++) {
		X[i * m->az.dmax] = q[i][0];
		X[i * m->az.dmax + 1] = q[i][1];
	}
	assert_int_equal(amz_predict_probs(&m->az, st, X, 3, 2, P), AM_OK);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	snprintf(body, sizeof body, "{\"x\": %s}", qx);
	assert_int_equal(call(f, HTTP_POST, url, body, &j), 200);
	check_probs(j, 3, 3);
	for (i = 0; i < 3; i++)
		for (c = 0; c < 3; c++)
			assert_true((float)json_real_value(json_array_get(json_array_get(
				json_object_get(j, "probs"), i), c)) == P[i * AMZ_CLASSES_MAX + c]);
	assert_null(json_object_get(j, "mean"));
	json_decref(j);
	t = predict_text(f, id, qx);
	fx_close(f);
	fx_open(f);
	u = predict_text(f, id, qx);
	assert_string_equal(t, u);
	free(t);
	free(u);
}

static void test_clf_steps_and_probs(void **state)
{
	struct fx *f = *state;
	const char *qx = "[[0.5, -1], [2, 1], [-3, 0.25]]";
	static const size_t chunks[] = { 7, 30, 3 };
	char a2[33], b2[33], url[128], *t, *u;
	json_t *j;

	clf_step_matches_core(f, "tinyclf");
	/* standardized (the default): JSON and NDJSON in uneven chunks */
	create_on(f, "tinyclf", "{\"classes\": 3}", a2);
	create_on(f, "tinyclf", "{\"classes\": 3}", b2);
	t = clf_rows(0, 10, 3, 0);
	assert_int_equal(batch(f, a2, t, &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	json_decref(j);
	free(t);
	t = clf_rows(0, 10, 3, 1);
	assert_int_equal(stream(f, b2, NULL, t, chunks, 3, &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	json_decref(j);
	free(t);
	t = predict_text(f, a2, qx);
	u = predict_text(f, b2, qx);
	assert_string_equal(t, u);
	free(t);
	free(u);
	/* a classifier does not sample */
	snprintf(url, sizeof url, "/v1/sessions/%s/sample", a2);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 2}", &j), 422);
	assert_true(detail_has(j, "is a classifier"));
	json_decref(j);
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
 * An image model's pixel session: rows of exactly npix values in [0, 255],
 * projected by the model's PCA before anything else, so that it adapts and
 * predicts exactly as a feature session fed the projections; bad pixel
 * rows are 422 and change nothing, in both batch forms and in predict.
 */
static void test_img_pixels(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "tinyimg");
	static const float pix[6][IMG_NPIX] = {
		{ 0, 255, 128, 64 }, { 10, 20, 30, 40 }, { 255, 255, 0, 0 },
		{ 200, 100, 50, 25 }, { 7, 250, 7, 250 }, { 128, 128, 128, 128 },
	};
	static const size_t whole[] = { 4096 };
	static const struct {
		const char *body, *detail;
	} bad[] = {
		{ "{\"x\": [[1, 2, 3]], \"y\": [0]}", "takes rows of the 4 pixels" },
		{ "{\"x\": [[1, 2, 3, 4, 5]], \"y\": [0]}", "takes rows of the 4 pixels" },
		{ "{\"x\": [[1, 256, 3, 4]], \"y\": [0]}", "x[0][1] = 256 is not a pixel value" },
		{ "{\"x\": [[1, 2, 3, 4], [-1, 2, 3, 4]], \"y\": [0, 1]}",
		  "x[1][0] = -1 is not a pixel value" },
		{ "{\"x\": [[1, 2, 3, 4]], \"y\": [3]}", "y[0] = 3 is not a class label" },
	};
	float F[6 * AMZ_DMAX];
	char pid[33], fid[33], body[1024], fx_rows[512], url[128], *a, *b, *before;
	const char *qpix = "[[7, 250, 7, 250], [128, 128, 128, 128]]";
	json_t *j;
	size_t len;
	int i;

	create_on(f, "tinyimg", "{\"input\": \"pixels\", \"classes\": 3}", pid);
	create_on(f, "tinyimg", "{\"classes\": 3}", fid);
	assert_int_equal(amz_project(&m->az, &pix[0][0], 6, F), AM_OK);
	/* 4 training rows, then the 2 query rows, as pixels and features */
	len = (size_t)snprintf(body, sizeof body, "{\"x\": [");
	for (i = 0; i < 4; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s[%g, %g, %g, %g]",
					i ? ", " : "", pix[i][0], pix[i][1], pix[i][2],
					pix[i][3]);
	snprintf(body + len, sizeof body - len, "], \"y\": [0, 1, 2, 1]}");
	assert_int_equal(batch(f, pid, body, NULL), 200);
	len = (size_t)snprintf(body, sizeof body, "{\"x\": [");
	for (i = 0; i < 4; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s[%.9g, %.9g]",
					i ? ", " : "", F[i * AMZ_DMAX], F[i * AMZ_DMAX + 1]);
	snprintf(body + len, sizeof body - len, "], \"y\": [0, 1, 2, 1]}");
	assert_int_equal(batch(f, fid, body, NULL), 200);
	snprintf(fx_rows, sizeof fx_rows, "[[%.9g, %.9g], [%.9g, %.9g]]",
		 F[4 * AMZ_DMAX], F[4 * AMZ_DMAX + 1], F[5 * AMZ_DMAX],
		 F[5 * AMZ_DMAX + 1]);
	a = predict_text(f, pid, qpix);
	b = predict_text(f, fid, fx_rows);
	assert_string_equal(a, b);
	free(a);
	free(b);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", pid);
	snprintf(body, sizeof body, "{\"x\": %s}", qpix);
	assert_int_equal(call(f, HTTP_POST, url, body, &j), 200);
	check_probs(j, 2, 3);
	json_decref(j);

	before = clf_snap(f, pid, qpix);
	for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
		assert_int_equal(batch(f, pid, bad[i].body, &j), 422);
		if (!detail_has(j, bad[i].detail))
			fail_msg("%s: %s", bad[i].body,
				 json_string_value(json_object_get(j, "detail")));
		json_decref(j);
		a = clf_snap(f, pid, qpix);
		assert_string_equal(before, a);
		free(a);
	}
	assert_int_equal(stream(f, pid, NULL, "{\"x\": [1, 2, 3], \"y\": 0}\n", whole, 1,
				&j), 422);
	assert_true(detail_has(j, "line 1: 'x' has 3 values"));
	json_decref(j);
	assert_int_equal(stream(f, pid, NULL, "{\"x\": [1, 2, 3, 300], \"y\": 0}\n", whole,
				1, &j), 422);
	assert_true(detail_has(j, "x[3] = 300 is not a pixel value"));
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3]]}", &j), 422);
	assert_true(detail_has(j, "takes rows of the 4 pixels"));
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3, 255.5]]}", &j), 422);
	assert_true(detail_has(j, "not a pixel value"));
	json_decref(j);
	a = clf_snap(f, pid, qpix);
	assert_string_equal(before, a);
	free(a);
	free(before);
	/* a stream of pixel rows goes on where the batch left off */
	assert_int_equal(stream(f, pid, NULL, "{\"x\": [0, 0, 0, 0], \"y\": 2}\n"
				"{\"x\": [255, 0, 255, 0], \"y\": 0}\n", whole, 1, &j), 200);
	assert_int_equal(member_int(j, "step"), 2);
	json_decref(j);
}

/* ---- the implicit regime -------------------------------------------------- */

/* What models say of themselves: replay for the implicit ones, variance
 * for the ones that predict a mean. */
static void test_imp_models_capabilities(void **state)
{
	struct fx *f = *state;
	json_t *j;

	assert_int_equal(call(f, HTTP_GET, "/v1/models/tinyimp", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "regime")), "implicit");
	assert_string_equal(json_string_value(json_object_get(j, "predicts")), "probs");
	assert_true(json_is_true(json_object_get(j, "replay")));
	assert_null(json_object_get(j, "variance"));
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/models/tinyimpreg", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "family")), "reg");
	assert_string_equal(json_string_value(json_object_get(j, "predicts")), "mean");
	assert_true(json_is_true(json_object_get(j, "replay")));
	assert_true(json_is_false(json_object_get(j, "variance")));
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/models/tinyreg", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "regime")), "explicit");
	assert_true(json_is_false(json_object_get(j, "replay")));
	assert_true(json_is_false(json_object_get(j, "variance")));
	json_decref(j);
	assert_int_equal(call(f, HTTP_GET, "/v1/models/tiny", NULL, &j), 200);
	assert_true(json_is_false(json_object_get(j, "replay")));
	assert_true(json_is_true(json_object_get(j, "variance")));
	json_decref(j);
}

/*
 * Predict on an implicit session replays its batches: with
 * standardization off, the answers are those of amz_query_init, one
 * amz_query_step per stored mini-batch (its rows, labels and the rows
 * before it) and amz_query_probs, bit for bit; the losses are those of
 * the batch's rows before and after their step.  The reply says how many
 * batches it replayed.
 */
static void test_imp_replay_matches_core(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "tinyimp");
	static const float q[3][2] = { { 0.5f, -1 }, { 2, 1 }, { -3, 0.25f } };
	const char *qx = "[[0.5, -1], [2, 1], [-3, 0.25]]";
	float st[AMZ_STATE_MAX], Q[3 * AMZ_DMAX] = { 0 }, X[BMAX * AMZ_DMAX];
	float y[BMAX], *qs, *bq, P[3 * AMZ_CLASSES_MAX], lb, la;
	struct amz_ws *ws;
	char id[33], url[128], *t;
	json_t *j, *h;
	int64_t replayed;
	int i, c, b, B;

	assert_non_null(m);
	create_on(f, "tinyimp", "{\"classes\": 3, \"standardize\": false}", id);
	amz_initial_state(&m->az, st);
	assert_int_equal(amz_set_classes(&m->az, st, 3), AM_OK);
	for (i = 0; i < 3; i++) {
		Q[i * m->az.dmax] = q[i][0];
		Q[i * m->az.dmax + 1] = q[i][1];
	}
	qs = calloc((size_t)3 * m->az.qstate, sizeof *qs);
	bq = calloc((size_t)BMAX * m->az.qstate, sizeof *bq);
	ws = amz_ws_new(&m->az);
	assert_true(qs && bq && ws);
	assert_int_equal(amz_query_init(&m->az, st, 3, qs), AM_OK);

	/* no batch yet: the model's prior prediction, nothing replayed */
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	t = malloc(256);
	snprintf(t, 256, "{\"x\": %s}", qx);
	assert_int_equal(call(f, HTTP_POST, url, t, &j), 200);
	assert_int_equal(member_int(j, "replayed"), 0);
	assert_int_equal(amz_query_probs(&m->az, st, qs, 3, P), AM_OK);
	check_probs(j, 3, 3);
	for (i = 0; i < 3; i++)
		for (c = 0; c < 3; c++)
			assert_true((float)json_real_value(json_array_get(json_array_get(
				json_object_get(j, "probs"), i), c)) == P[i * AMZ_CLASSES_MAX + c]);
	json_decref(j);

	/* 10 rows: mini-batches of 4, 4 and 2 */
	free(t);
	t = clf_rows(0, 10, 3, 0);
	assert_int_equal(batch(f, id, t, &j), 200);
	free(t);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/history", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &h), 200);
	for (b = 0; b < 3; b++) {
		json_t *e = json_array_get(json_object_get(h, "history"), (size_t)b);

		B = b < 2 ? BMAX : 2;
		memset(X, 0, sizeof X);
		for (i = 0; i < B; i++) {
			int r = BMAX * b + i;

			X[i * m->az.dmax] = (float)(r % 5 - 2);
			X[i * m->az.dmax + 1] = (float)((3 * r) % 7 - 3);
			y[i] = (float)(r % 3);
		}
		/* the loss: this batch's rows from the history before it */
		assert_int_equal(amz_query_init(&m->az, st, B, bq), AM_OK);
		{
			int b2, i2;
			float X2[BMAX * AMZ_DMAX], y2[BMAX];

			for (b2 = 0; b2 < b; b2++) {
				memset(X2, 0, sizeof X2);
				for (i2 = 0; i2 < BMAX; i2++) {
					int r = BMAX * b2 + i2;

					X2[i2 * m->az.dmax] = (float)(r % 5 - 2);
					X2[i2 * m->az.dmax + 1] = (float)((3 * r) % 7 - 3);
					y2[i2] = (float)(r % 3);
				}
				assert_int_equal(amz_query_step(&m->az, ws, st, X, B, bq, X2, y2,
								BMAX, 2, BMAX * b2), AM_OK);
			}
		}
		lb = amz_query_loss(&m->az, st, bq, y, B);
		assert_int_equal(amz_query_step(&m->az, ws, st, X, B, bq, X, y, B, 2,
						BMAX * b), AM_OK);
		la = amz_query_loss(&m->az, st, bq, y, B);
		assert_true(isfinite(lb) && isfinite(la) && lb > 0);
		assert_true((float)json_real_value(json_object_get(e, "loss_before")) == lb);
		assert_true((float)json_real_value(json_object_get(e, "loss_after")) == la);
		/* the predictions: every batch in turn */
		assert_int_equal(amz_query_step(&m->az, ws, st, Q, 3, qs, X, y, B, 2,
						BMAX * b), AM_OK);
	}
	json_decref(h);
	assert_int_equal(amz_query_probs(&m->az, st, qs, 3, P), AM_OK);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	t = malloc(256);
	snprintf(t, 256, "{\"x\": %s}", qx);
	assert_int_equal(call(f, HTTP_POST, url, t, &j), 200);
	free(t);
	replayed = member_int(j, "replayed");
	assert_int_equal(replayed, 3);
	check_probs(j, 3, 3);
	for (i = 0; i < 3; i++)
		for (c = 0; c < 3; c++)
			assert_true((float)json_real_value(json_array_get(json_array_get(
				json_object_get(j, "probs"), i), c)) == P[i * AMZ_CLASSES_MAX + c]);
	json_decref(j);
	amz_ws_free(ws);
	free(bq);
	free(qs);
}

/*
 * A query set: refused before the scaler is fitted, registered after the
 * first batch with one replay, refined by every later batch (JSON and
 * NDJSON) so that it answers as a replayed predict does, bit for bit; the
 * same after a restart; untouched by a refused batch and by a duplicate;
 * replaced by PUT, removed by DELETE and with its session.
 */
static void test_imp_query_set(void **state)
{
	struct fx *f = *state;
	static const size_t chunks[] = { 5, 17, 2 };
	const char *qx = "[[0.5, -1], [2, 1], [-3, 0.25]]";
	char id[33], id2[33], body[256], *t, *u, *p;
	struct store_queries sq;
	char err[256];
	json_t *j;
	int64_t step, replayed;

	create_on(f, "tinyimp", "{\"classes\": 3}", id);
	snprintf(body, sizeof body, "{\"x\": %s}", qx);
	assert_int_equal(queries(f, HTTP_PUT, id, body, &j), 409);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:no-batch-yet");
	json_decref(j);
	assert_int_equal(queries(f, HTTP_GET, id, NULL, NULL), 404);
	assert_int_equal(queries(f, HTTP_DELETE, id, NULL, NULL), 404);

	t = clf_rows(0, 6, 3, 0);
	assert_int_equal(batch(f, id, t, NULL), 200);
	free(t);
	assert_int_equal(queries(f, HTTP_PUT, id, body, &j), 201);
	assert_int_equal(member_int(j, "n"), 3);
	assert_int_equal(member_int(j, "step"), 2);
	assert_int_equal(member_int(j, "replayed"), 2);
	check_probs(j, 3, 3);
	t = answers_text(j);
	json_decref(j);
	u = set_answers(f, id, &step);
	assert_int_equal(step, 2);
	assert_string_equal(t, u);
	free(u);
	u = predict_answers(f, id, qx, NULL);
	assert_string_equal(t, u);
	free(u);
	free(t);

	/* later batches refine it: JSON, then NDJSON in uneven chunks */
	t = clf_rows(6, 5, 3, 0);
	assert_int_equal(batch(f, id, t, NULL), 200);
	free(t);
	t = clf_rows(11, 9, 3, 1);
	assert_int_equal(stream(f, id, NULL, t, chunks, 3, NULL), 200);
	free(t);
	t = set_answers(f, id, &step);
	assert_int_equal(step, session_step(f, id));
	assert_int_equal(step, 7);
	u = predict_answers(f, id, qx, &replayed);
	assert_int_equal(replayed, 7);
	assert_string_equal(t, u);
	free(u);

	/* a restart changes nothing */
	fx_close(f);
	fx_open(f);
	u = set_answers(f, id, &step);
	assert_int_equal(step, 7);
	assert_string_equal(t, u);
	free(u);
	u = predict_answers(f, id, qx, NULL);
	assert_string_equal(t, u);
	free(u);

	/* a refused batch (a label out of range, in a JSON request or in an
	 * NDJSON stream's first mini-batch) leaves it as it was */
	assert_int_equal(batch(f, id, "{\"x\": [[1, 2], [3, 4]], \"y\": [0, 3]}", NULL), 422);
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, 2], \"y\": 1}\n{\"x\": [1, 2], "
				"\"y\": 7}\n", chunks, 3, NULL), 422);
	u = set_answers(f, id, &step);
	assert_int_equal(step, 7);
	assert_string_equal(t, u);
	free(u);
	free(t);

	/* a retried duplicate does not refine it twice */
	p = clf_rows(20, 3, 3, 0);
	snprintf(body, sizeof body, "%.*s, \"seq\": 0}", (int)strlen(p) - 1, p);
	free(p);
	assert_int_equal(batch(f, id, body, NULL), 200);
	t = set_answers(f, id, &step);
	assert_int_equal(step, 8);
	assert_int_equal(batch(f, id, body, &j), 200);
	assert_true(json_is_true(json_object_get(j, "duplicate")));
	json_decref(j);
	u = set_answers(f, id, &step);
	assert_int_equal(step, 8);
	assert_string_equal(t, u);
	free(u);
	free(t);

	/* values float32 does not hold exactly, standardized: the set and a
	 * replay of the stored rows still agree bit for bit */
	assert_int_equal(batch(f, id, "{\"x\": [[0.1, 0.7], [1.3, -2.9], [1e-3, 3.3]], "
			       "\"y\": [1, 2, 0]}", NULL), 200);
	t = clf_rows(25, 3, 3, 1);
	u = malloc(strlen(t) + 128);
	sprintf(u, "%s{\"x\": [0.30000001, -1.1], \"y\": 2}\n", t);
	assert_int_equal(stream(f, id, NULL, u, chunks, 3, NULL), 200);
	free(u);
	free(t);
	t = set_answers(f, id, &step);
	assert_int_equal(step, 10);
	u = predict_answers(f, id, qx, NULL);
	assert_string_equal(t, u);
	free(u);
	free(t);
	/* the same near 1000 with a spread of about 1, where float32 rounding
	 * moves a standardized value by far more than its own precision: a
	 * live step that mapped the unrounded values would disagree with the
	 * replay of the stored float32 rows */
	create_on(f, "tinyimp", "{\"classes\": 2}", id2);
	assert_int_equal(batch(f, id2, "{\"x\": [[1000.1, 999.3], [1001.7, 1000.9], "
			       "[999.2, 1000.05], [1000.6, 998.7]], \"y\": [0, 1, 1, 0]}",
			       NULL), 200);
	assert_int_equal(queries(f, HTTP_PUT, id2, "{\"x\": [[1000.3, 1000.1], "
				 "[999.9, 1001.2]]}", NULL), 201);
	assert_int_equal(batch(f, id2, "{\"x\": [[1000.11, 999.33], [1001.72, 1000.01], "
			       "[999.21, 1000.07]], \"y\": [1, 0, 1]}", NULL), 200);
	assert_int_equal(stream(f, id2, NULL, "{\"x\": [999.93, 1000.41], \"y\": 0}\n"
				"{\"x\": [1000.77, 999.12], \"y\": 1}\n", chunks, 3, NULL), 200);
	t = set_answers(f, id2, NULL);
	u = predict_answers(f, id2, "[[1000.3, 1000.1], [999.9, 1001.2]]", NULL);
	assert_string_equal(t, u);
	free(u);
	free(t);

	/* PUT replaces it (200), DELETE removes it, the session takes it along */
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[1, 1], [0, 0]]}", &j), 200);
	assert_int_equal(member_int(j, "n"), 2);
	assert_int_equal(member_int(j, "replayed"), 10);
	json_decref(j);
	t = set_answers(f, id, NULL);
	u = predict_answers(f, id, "[[1, 1], [0, 0]]", NULL);
	assert_string_equal(t, u);
	free(u);
	free(t);
	assert_int_equal(queries(f, HTTP_DELETE, id, NULL, NULL), 204);
	assert_int_equal(queries(f, HTTP_GET, id, NULL, NULL), 404);
	assert_int_equal(queries(f, HTTP_DELETE, id, NULL, NULL), 404);
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[1, 1]]}", NULL), 201);
	/* with no set, batches go on as before */
	assert_int_equal(queries(f, HTTP_DELETE, id, NULL, NULL), 204);
	t = clf_rows(23, 2, 3, 0);
	assert_int_equal(batch(f, id, t, NULL), 200);
	free(t);
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[1, 1]]}", NULL), 201);
	snprintf(body, sizeof body, "/v1/sessions/%s", id);
	assert_int_equal(call(f, HTTP_DELETE, body, NULL, NULL), 204);
	assert_int_equal(store_queries_get(f->st, id, &sq, err, sizeof err), STORE_NOTFOUND);
}

/* Bad query-set requests are refused with a problem and change nothing. */
static void test_imp_query_set_refusals(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *body;
		int status;
		const char *detail;
	} bad[] = {
		{ "{\"x\": [[1, 2, 3]]}", 422, "session's dimension is 2" },
		{ "{\"x\": [[1, 1e999]]}", 422, "out of range" },
		{ "{\"x\": []}", 422, "has no rows" },
		{ "{\"x\": [[1, \"a\"]]}", 422, "is not a number" },
		{ "{\"y\": [[1, 2]]}", 422, "unknown member 'y'" },
		{ "{}", 422, "needs 'x'" },
		{ "{\"x\": [[1, 2], [3, 4], [5, 6], [7, 8]]}", 422, "at most 3 (max-queries)" },
		{ "[1]", 422, "must be a JSON object" },
		{ "{\"x\": ", 400, "not valid JSON" },
	};
	char id[33], lin[33], url[128], *before, *after;
	json_t *j;
	size_t i;

	f->cfg.max_queries = 3;
	create_on(f, "tinyimp", "{\"classes\": 3}", id);
	before = clf_rows(0, 5, 3, 0);
	assert_int_equal(batch(f, id, before, NULL), 200);
	free(before);
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[0, 1], [1, 0]]}", NULL), 201);
	before = set_answers(f, id, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(queries(f, HTTP_PUT, id, bad[i].body, &j), bad[i].status);
		if (!detail_has(j, bad[i].detail))
			fail_msg("%s: %s", bad[i].body,
				 json_string_value(json_object_get(j, "detail")));
		json_decref(j);
	}
	snprintf(url, sizeof url, "/v1/sessions/%s/queries", id);
	assert_int_equal(call_full(f, HTTP_PUT, url, "text/plain", "{\"x\": [[1, 2]]}",
				   NULL, NULL), 415);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]}", NULL), 405);
	assert_int_equal(queries(f, HTTP_GET, "0123456789abcdef0123456789abcdef", NULL,
				 NULL), 404);
	after = set_answers(f, id, NULL);
	assert_string_equal(before, after);
	free(after);
	free(before);

	/* sessions of models that are not implicit: 409 not-implicit */
	create_on(f, "tiny", NULL, lin);
	assert_int_equal(queries(f, HTTP_PUT, lin, "{\"x\": [[1, 2]]}", &j), 409);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:not-implicit");
	json_decref(j);
	assert_int_equal(queries(f, HTTP_GET, lin, NULL, NULL), 409);
	assert_int_equal(queries(f, HTTP_DELETE, lin, NULL, NULL), 409);

	/* standardization off with a dim: a set at step 0 */
	create_on(f, "tinyimp", "{\"classes\": 2, \"standardize\": false}", lin);
	assert_int_equal(queries(f, HTTP_PUT, lin, "{\"x\": [[1, 2]]}", &j), 409);
	assert_true(detail_has(j, "dimension is"));
	json_decref(j);
	create_on(f, "tinyimp", "{\"classes\": 2, \"standardize\": false, \"dim\": 2}", lin);
	assert_int_equal(queries(f, HTTP_PUT, lin, "{\"x\": [[1, 2]]}", &j), 201);
	assert_int_equal(member_int(j, "step"), 0);
	assert_int_equal(member_int(j, "replayed"), 0);
	json_decref(j);
}

/*
 * The bounds: predict or a query set past max-replay is 422 replay-limit
 * and computes nothing; a step's losses past loss-replay are null (0 in
 * the store), and none with loss-replay 0.
 */
static void test_imp_replay_limits(void **state)
{
	struct fx *f = *state;
	char id[33], id2[33], url[128], *t;
	json_t *j, *h, *e;
	int i;

	/* 12 rows, 3 steps; losses while rows before x batch <= 8 x 4 */
	f->cfg.loss_replay = 8 * BMAX;
	create_on(f, "tinyimp", "{\"classes\": 3}", id);
	t = clf_rows(0, 12, 3, 0);
	assert_int_equal(batch(f, id, t, &j), 200);
	free(t);
	for (i = 0; i < 3; i++)
		assert_true(json_is_real(json_object_get(json_array_get(
			json_object_get(j, "losses"), (size_t)i), "before")));
	json_decref(j);
	t = clf_rows(12, 6, 3, 1);
	assert_int_equal(stream(f, id, NULL, t, (const size_t[]){ 1 << 20 }, 1, &j), 200);
	free(t);
	assert_true(json_is_null(json_object_get(json_array_get(
		json_object_get(j, "losses"), 0), "before")));
	assert_true(json_is_null(json_object_get(json_array_get(
		json_object_get(j, "losses"), 1), "after")));
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/history", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &h), 200);
	assert_int_equal(json_array_size(json_object_get(h, "history")), 5);
	for (i = 0; i < 5; i++) {
		e = json_array_get(json_object_get(h, "history"), (size_t)i);
		assert_int_equal(json_is_null(json_object_get(e, "loss_before")), i >= 3);
		assert_int_equal(json_is_null(json_object_get(e, "loss_after")), i >= 3);
	}
	json_decref(h);
	f->cfg.loss_replay = 0;
	create_on(f, "tinyimp", "{\"classes\": 3}", id2);
	t = clf_rows(0, 5, 3, 0);
	assert_int_equal(batch(f, id2, t, &j), 200);
	free(t);
	assert_true(json_is_null(json_object_get(json_array_get(
		json_object_get(j, "losses"), 0), "before")));
	json_decref(j);

	/* 18 rows stored: a replay for n rows costs 18 x max(n, 4) */
	f->cfg.max_replay = 18 * 5;
	t = predict_answers(f, id, "[[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]", NULL);
	free(t);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 1], [2, 2], [3, 3], "
			      "[4, 4], [5, 5], [6, 6]]}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:replay-limit");
	assert_int_equal(member_int(j, "replay_rows"), 18);
	assert_int_equal(member_int(j, "queries"), 6);
	assert_int_equal(member_int(j, "max_replay"), 90);
	assert_true(detail_has(j, "query set"));
	json_decref(j);
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[1, 1], [2, 2], [3, 3], "
				 "[4, 4], [5, 5], [6, 6]]}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:replay-limit");
	json_decref(j);
	assert_int_equal(queries(f, HTTP_GET, id, NULL, NULL), 404);
	/* a query set is answered whatever the history */
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[1, 1]]}", NULL), 201);
	f->cfg.max_replay = 1;
	t = set_answers(f, id, NULL);
	free(t);
	t = clf_rows(18, 4, 3, 0);
	assert_int_equal(batch(f, id, t, NULL), 200);
	free(t);
	t = set_answers(f, id, NULL);
	free(t);
	/* and replays are counted */
	assert_int_equal(call(f, HTTP_GET, "/metrics", NULL, NULL), 200);
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

/*
 * An implicit image model's pixel session: its rows are projected before
 * anything else, in a replay as in the live step; standardization is off
 * by default for image models and the dimension is the model's pixels,
 * so a query set can be registered before the first batch.
 */
static void test_imp_pixels(void **state)
{
	struct fx *f = *state;
	static const size_t chunks[] = { 7, 3 };
	const char *qx = "[[255, 0, 255, 0], [10.5, 20.25, 30, 40]]";
	char id[33], body[256], *t, *u;
	json_t *j;
	int64_t step;

	create_on(f, "tinyimpimg", "{\"input\": \"pixels\", \"classes\": 2}", id);
	snprintf(body, sizeof body, "{\"x\": %s}", qx);
	assert_int_equal(queries(f, HTTP_PUT, id, body, &j), 201);
	assert_int_equal(member_int(j, "step"), 0);
	json_decref(j);
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[0, 256, 1, 1]]}", &j), 422);
	assert_true(detail_has(j, "not a pixel value"));
	json_decref(j);
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[0, 1, 1]]}", NULL), 422);
	assert_int_equal(batch(f, id, "{\"x\": [[0, 255, 128, 64], [10, 20, 30, 40], "
			       "[255, 255, 0, 0], [3.3, 7.7, 0.1, 200]], \"y\": [0, 1, 1, 0]}",
			       NULL), 200);
	assert_int_equal(stream(f, id, NULL, "{\"x\": [1, 2, 3, 4], \"y\": 1}\n"
				"{\"x\": [250.5, 0, 12, 99], \"y\": 0}\n"
				"{\"x\": [0, 0, 0, 0], \"y\": 1}\n", chunks, 2, NULL), 200);
	t = set_answers(f, id, &step);
	assert_int_equal(step, 2);
	u = predict_answers(f, id, qx, NULL);
	assert_string_equal(t, u);
	free(u);
	free(t);
}

/* Regression by a learned predictor: an implicit session answers means
 * (no variance) by replay and by its query set; an explicit one predicts
 * a mean without a variance too. */
/* An explicit classifier with the head predictor is served as any
 * classifier: its header says so, and its steps and probabilities are
 * the core's. */
static void test_imp_explicit_head(void **state)
{
	struct fx *f = *state;
	json_t *j;

	assert_int_equal(call(f, HTTP_GET, "/v1/models/tinyhead", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "regime")), "explicit");
	assert_string_equal(json_string_value(json_object_get(j, "predicts")), "probs");
	assert_true(json_is_false(json_object_get(j, "replay")));
	json_decref(j);
	/* the loader read the predictor: one latent of 8 per class, and the
	 * classes float after it */
	assert_int_equal(registry_find(f->reg, "tinyhead")->gcfg.head, 1);
	assert_int_equal(registry_find(f->reg, "tinyhead")->az.nstate,
			 LINCLASS_KMAX * 8 + 1);
	clf_step_matches_core(f, "tinyhead");
}

static void test_imp_regression(void **state)
{
	struct fx *f = *state;
	const char *qx = "[[0.5, 2], [1.5, 4]]";
	char id[33], ex[33], url[128], *t, *u, *p;
	json_t *j;
	int64_t replayed;

	create_on(f, "tinyimpreg", NULL, id);
	p = rows_json(1, 10, -1);
	assert_int_equal(batch(f, id, p, &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	assert_true(json_is_real(json_object_get(json_array_get(
		json_object_get(j, "losses"), 2), "after")));
	json_decref(j);
	snprintf(url, sizeof url, "{\"x\": %s}", qx);
	assert_int_equal(queries(f, HTTP_PUT, id, url, &j), 201);
	assert_int_equal(json_array_size(json_object_get(j, "mean")), 2);
	assert_null(json_object_get(j, "variance"));
	assert_null(json_object_get(j, "probs"));
	json_decref(j);
	t = rows_ndjson(11, 7);
	assert_int_equal(stream(f, id, NULL, t, (const size_t[]){ 13 }, 1, NULL), 200);
	free(t);
	t = set_answers(f, id, NULL);
	u = predict_answers(f, id, qx, &replayed);
	assert_int_equal(replayed, 5);
	assert_string_equal(t, u);
	assert_null(strstr(u, "variance"));
	free(u);
	free(t);

	create_on(f, "tinyreg", NULL, ex);
	assert_int_equal(batch(f, ex, p, NULL), 200);
	free(p);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", ex);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[0.5, 2]]}", &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "mean")), 1);
	assert_null(json_object_get(j, "variance"));
	assert_null(json_object_get(j, "replayed"));
	json_decref(j);
	assert_int_equal(queries(f, HTTP_GET, ex, NULL, NULL), 409);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_health_ready_models, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_applies_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_refusals_change_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_seq_duplicate_and_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_matches_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_holds_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_predict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standardization, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_models_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_seeds_on_linreg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_size_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_state_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gen_models_capabilities, setup_gen,
						teardown),
		cmocka_unit_test_setup_teardown(test_gen_rows_without_y, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_gen_log_density, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_gen_sample, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_gen_sample_requests, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_gen_flow, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_clf_models_capabilities, setup_clf,
						teardown),
		cmocka_unit_test_setup_teardown(test_clf_create_options, setup_clf, teardown),
		cmocka_unit_test_setup_teardown(test_clf_steps_and_probs, setup_clf, teardown),
		cmocka_unit_test_setup_teardown(test_clf_bad_labels_change_nothing, setup_clf,
						teardown),
		cmocka_unit_test_setup_teardown(test_img_pixels, setup_clf, teardown),
		cmocka_unit_test_setup_teardown(test_imp_models_capabilities, setup_imp,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_replay_matches_core, setup_imp,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_query_set, setup_imp, teardown),
		cmocka_unit_test_setup_teardown(test_imp_query_set_refusals, setup_imp,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_replay_limits, setup_imp, teardown),
		cmocka_unit_test_setup_teardown(test_imp_stream_matches_json, setup_imp,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_regression, setup_imp, teardown),
		cmocka_unit_test_setup_teardown(test_imp_explicit_head, setup_imp,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_pixels, setup_imp, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
