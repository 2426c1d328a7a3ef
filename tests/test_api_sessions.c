/*
 * test_api_sessions.c - the sessions resource (api_sessions.c) without
 * sockets: create with its options (dim, standardize, classes, input),
 * list in pages, get, delete, history; sample, repeatable by seed and
 * refused where a model cannot; and sessions that outlive the daemon:
 * a restart resumes them, and a session stored in the legacy form loads
 * and predicts as the current one.
 *
 * A refused request must leave the session exactly as it was.  The
 * fixture, tiny models and a real store, and the request helpers are in
 * apifx.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "apifx.h"
#include "model/model.h"
#include "refine/refiner.h"
#include "registry.h"
#include "family/scaler.h"
#include "store.h"

/* Posts a session request body to the create route; returns the status
 * and the body. */
static int create_status(struct fx *f, const char *body, json_t **out)
{
	return call(f, HTTP_POST, "/v1/sessions", body, out);
}

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_seeds_on_linreg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_state_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gen_sample, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_gen_sample_requests, setup_gen,
						teardown),
		cmocka_unit_test_setup_teardown(test_clf_create_options, setup_clf, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
