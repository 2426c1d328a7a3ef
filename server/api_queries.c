/*
 * api_queries.c - the implicit regime's query sets.
 */
#include "api_queries.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family/amz.h"
#include "api_base.h"
#include "api_predict.h"
#include "input.h"
#include "log.h"
#include "model/model.h"
#include "reply.h"
#include "family/scaler.h"
#include "sessions.h"

#define QUERIES_ROUTE "/v1/sessions/%s/queries"

/* The model of session v if it is implicit; NULL with resp filled (409
 * model-unavailable or not-implicit). */
static const struct model *implicit_model(struct api *a, const struct session_view *v,
					  struct http_response *resp)
{
	const struct model *m = api_session_model(a, v, resp);

	if (m && !m->az.implicit) {
		reply_problem(resp, REPLY_NOT_IMPLICIT, "model '%s' of session %s is not "
			      "implicit (its regime keeps an adapted state): it has no "
			      "query sets; predict directly (POST /v1/sessions/%s/predict)",
			      m->name, v->id, v->id);
		return NULL;
	}
	return m;
}

/* Reads the rows of a query set from body member x: 1..max_queries rows.
 * Returns 0 with *x (new), *n and *D, or -1 with resp filled. */
static int read_query_rows(struct api *a, json_t *body, double **x, int *n, int *D,
			   struct http_response *resp)
{
	json_t *xj = json_object_get(body, "x");

	if (!xj) {
		reply_problem(resp, REPLY_INVALID, "a query set needs 'x' (rows of "
			      "inputs, as for predict)");
		return -1;
	}
	if (json_is_array(xj) && json_array_size(xj) > (size_t)a->cfg->max_queries) {
		reply_problem(resp, REPLY_INVALID, "'x' has %zu rows; a query set has at "
			      "most %d (max-queries)", json_array_size(xj),
			      a->cfg->max_queries);
		return -1;
	}
	return input_read_rows(xj, "x", a->cfg->max_queries, AMZ_NPIX_MAX, x, n, D, resp);
}

void api_queries_put(struct api *a, const struct http_request *req,
		     struct http_response *resp)
{
	static const char *const keys[] = { "x", NULL };
	struct store_queries q;
	struct session *s = NULL;
	struct session_view v;
	struct input in;
	const struct model *m;
	json_t *body, *out;
	double *x = NULL;
	int64_t replayed = 0;
	char err[512];
	int n, D, replaced = 0, rc;

	memset(&q, 0, sizeof q);
	body = api_parse_body(req, resp);
	if (!body)
		return;
	if (api_only_keys(body, keys, "a query set (x)", resp) ||
	    read_query_rows(a, body, &x, &n, &D, resp))
		goto out;
	/* the writer slot: no batch may commit between the replay and the
	 * registration, which must be current at the session's step */
	s = api_session_begin(a, req, 0, resp);
	if (!s)
		goto out;
	sessions_view(s, &v);
	m = implicit_model(a, &v, resp);
	if (!m)
		goto out;
	if (v.step == 0 && (v.sc.mode == SCALER_PENDING || v.dim == 0)) {
		reply_problem(resp, REPLY_NO_BATCH, "session %s has no batch yet: its "
			      "%s fixed by its first batch, and a query set is kept as "
			      "the model sees it; send a batch first (or create the "
			      "session with \"standardize\": false and a dim)", v.id,
			      v.sc.mode == SCALER_PENDING ? "standardization is"
			      : "dimension is");
		goto out;
	}
	input_of(m, &v, &in);
	if (input_check_rows(m, &v, &in, x, n, D, resp) ||
	    !api_predict_budget_ok(a, m, &v, n, "register fewer rows, or raise "
				   "max-replay", resp) ||
	    api_predict_replay(a, m, &v, &in, x, n, D, &q.x, &q.qs, &replayed, resp))
		goto out;
	q.n = n;
	q.width = m->az.dmax;
	q.qstate = m->az.qstate;
	q.step = v.step;
	q.created = q.updated = sessions_now();
	rc = store_queries_put(a->store, v.id, &q, &replaced, err, sizeof err);
	if (rc == STORE_NOTFOUND) {
		reply_problem(resp, REPLY_NOT_FOUND, "no session '%s'", v.id);
		goto out;
	}
	if (rc != STORE_OK) {
		log_msg(LOG_ERROR, "session %s: registering a query set: %s", v.id, err);
		reply_problem(resp, REPLY_INTERNAL, "registering the query set failed");
		goto out;
	}
	out = api_predict_answer_json(m, &v, q.qs, n, resp);
	if (!out)
		goto out;
	json_object_set_new(out, "n", json_integer(n));
	json_object_set_new(out, "step", json_integer(v.step));
	json_object_set_new(out, "replayed", json_integer(replayed));
	reply_json(resp, replaced ? 200 : 201, out);
	if (resp->status == 201)
		snprintf(resp->location, sizeof resp->location, QUERIES_ROUTE, v.id);
out:
	store_queries_clear(&q);
	if (s) {
		sessions_end(s);
		sessions_put(a->sessions, s);
	}
	free(x);
	json_decref(body);
}

void api_queries_get(struct api *a, const struct http_request *req,
		     struct http_response *resp)
{
	struct store_queries q;
	struct session *s;
	struct session_view v;
	const struct model *m;
	char t[40], err[512];
	json_t *out;
	int rc;

	memset(&q, 0, sizeof q);
	s = api_session_ref(a, req, resp);
	if (!s)
		return;
	rc = store_queries_get(a->store, req->params[0], &q, err, sizeof err);
	/* the view after the set: the scaler it was mapped with is then in
	 * the view (fixed from the first batch on) */
	sessions_view(s, &v);
	sessions_put(a->sessions, s);
	m = implicit_model(a, &v, resp);
	if (!m)
		goto out;
	if (rc == STORE_NOTFOUND) {
		reply_problem(resp, REPLY_NOT_FOUND, "session %s has no query set "
			      "(register one with PUT " QUERIES_ROUTE ")", v.id, v.id);
		goto out;
	}
	if (rc != STORE_OK || q.width != m->az.dmax || q.qstate != m->az.qstate ||
	    q.step > v.step) {
		log_msg(LOG_ERROR, "session %s: query set: %s", v.id, rc != STORE_OK ? err
			: "its shape or step does not fit the session");
		reply_problem(resp, REPLY_INTERNAL, "reading the query set failed");
		goto out;
	}
	out = api_predict_answer_json(m, &v, q.qs, q.n, resp);
	if (!out)
		goto out;
	json_object_set_new(out, "n", json_integer(q.n));
	json_object_set_new(out, "step", json_integer(q.step));
	api_time(q.created, t, sizeof t);
	json_object_set_new(out, "created", json_string(t));
	api_time(q.updated, t, sizeof t);
	json_object_set_new(out, "updated", json_string(t));
	reply_json(resp, 200, out);
out:
	store_queries_clear(&q);
}

void api_queries_delete(struct api *a, const struct http_request *req,
			struct http_response *resp)
{
	struct session *s;
	struct session_view v;
	char err[256];
	int rc;

	/* the writer slot: a stream that refines the set holds it */
	s = api_session_begin(a, req, 0, resp);
	if (!s)
		return;
	sessions_view(s, &v);
	if (!implicit_model(a, &v, resp))
		goto out;
	rc = store_queries_delete(a->store, v.id, err, sizeof err);
	if (rc == STORE_OK) {
		http_response_clear(resp);
		resp->status = 204;
	} else if (rc == STORE_NOTFOUND) {
		reply_problem(resp, REPLY_NOT_FOUND, "session %s has no query set", v.id);
	} else {
		log_msg(LOG_ERROR, "session %s: deleting its query set: %s", v.id, err);
		reply_problem(resp, REPLY_INTERNAL, "deleting the query set failed");
	}
out:
	sessions_end(s);
	sessions_put(a->sessions, s);
}
