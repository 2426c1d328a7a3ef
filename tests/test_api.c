/*
 * test_api.c - the API itself (api.c, api_base.c) without sockets:
 * health and readiness, the models and what each says it can do, routing
 * (404, 405 with Allow), metrics, and what every handler checks of a
 * session before it uses it: a stored state that does not fit its model
 * is refused, never read past.
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

#include "family/amz.h"
#include "api.h"
#include "apifx.h"
#include "model/model.h"
#include "registry.h"
#include "family/scaler.h"
#include "sessions.h"
#include "store.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_health_ready_models, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_models_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_size_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gen_models_capabilities, setup_gen,
						teardown),
		cmocka_unit_test_setup_teardown(test_clf_models_capabilities, setup_clf,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_models_capabilities, setup_imp,
						teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
