/*
 * test_api_queries.c - an implicit session's query set,
 * /v1/sessions/{id}/queries (api_queries.c), without sockets: registered,
 * refined with every batch and answered without replay, equal to a
 * replayed predict; refused before the session's scaler is fixed, on
 * other sessions, and for bad rows, changing nothing; pixel rows.
 *
 * The fixture, tiny models and a real store, and the request helpers
 * are in apifx.h.
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

#include "apifx.h"
#include "store.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_imp_query_set, setup_imp, teardown),
		cmocka_unit_test_setup_teardown(test_imp_query_set_refusals, setup_imp,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_pixels, setup_imp, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
