/*
 * api_queries.c - the implicit regime: predict by replay, query sets.
 */
#include "api_queries.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "api.h"
#include "api_sessions.h"
#include "input.h"
#include "log.h"
#include "model.h"
#include "replay.h"
#include "reply.h"
#include "scaler.h"
#include "sessions.h"

#define QUERIES_ROUTE "/v1/sessions/%s/queries"

/*
 * The cost of replaying the session's history for n query rows, in row
 * pairs: (rows stored) x n, n counted as at least the model's batch.  Each
 * refinement runs the batch's rows through the refiner with a chunk of
 * queries, so a few queries cost about as much as a batch of them: the
 * floor keeps the count near the time it takes (replay.h).
 */
static double replay_cost(const struct model *m, const struct session_view *v, int n)
{
	return (double)v->rows * (n > m->az.bmax ? n : m->az.bmax);
}

/*
 * Whether a replay of the session's history for n query rows is within
 * max-replay (replay_cost).  Otherwise fills resp (422 replay-limit, with
 * the numbers as extension members) and returns 0.
 */
static int budget_ok(struct api *a, const struct model *m,
		     const struct session_view *v, int n, const char *hint,
		     struct http_response *resp)
{
	double cost = replay_cost(m, v, n);

	if (cost <= (double)a->cfg->max_replay)
		return 1;
	reply_problem_ext(resp, REPLY_REPLAY_LIMIT,
			  json_pack("{s:I, s:i, s:I}", "replay_rows", (json_int_t)v->rows,
				    "queries", n, "max_replay",
				    (json_int_t)a->cfg->max_replay),
			  "session %s is implicit: answering %d rows replays its %lld "
			  "stored rows (%lld steps) for each of them (at least a batch "
			  "of them), %.0f row pairs, over this server's max-replay of "
			  "%lld; %s", v->id, n,
			  (long long)v->rows, (long long)v->step, cost,
			  (long long)a->cfg->max_replay, hint);
	return 0;
}

/*
 * The query states of n rows x (n x D raw values, checked) after the
 * session's stored steps 1..v->step: *Q (n x dmax, the rows as the model
 * sees them) and *qs (n x qstate), new allocations the caller frees.
 * *replayed gets the batches replayed.  Returns 0, or -1 with resp filled
 * (404 the session went away, 422, 500).
 */
static int states_after_history(struct api *a, const struct model *m,
				const struct session_view *v, const struct input *in,
				const double *x, int n, int D, float **Q, float **qs,
				int64_t *replayed, struct http_response *resp)
{
	const struct amz *az = &m->az;
	struct replay r;
	float *q = malloc((size_t)n * az->dmax * sizeof *q);
	float *s = malloc((size_t)n * az->qstate * sizeof *s);
	char err[512];
	int rc;

	memset(&r, 0, sizeof r);
	if (!q || !s || replay_init(&r, m, in, &v->sc, v->state)) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto fail;
	}
	if (api_sessions_map_rows(m, v, in, x, 0, n, D, q, resp))
		goto fail;
	rc = amz_query_init(az, v->state, n, s);
	AM_ASSERT(rc == AM_OK);		/* the model is implicit */
	rc = replay_stored(&r, a->store, v->id, v->step, q, n, s, NULL, err, sizeof err);
	metrics_add_replay(a->metrics, r.steps);
	if (rc == REPLAY_NOTFOUND) {
		reply_problem(resp, REPLY_NOT_FOUND, "no session '%s'", v->id);
		goto fail;
	}
	if (rc == REPLAY_NUMERIC) {
		reply_problem(resp, REPLY_INVALID, "replaying session %s: %s (rows far "
			      "outside the scale of its first mini-batch?)", v->id, err);
		goto fail;
	}
	if (rc != REPLAY_OK) {
		log_msg(LOG_ERROR, "session %s: replay: %s", v->id, err);
		reply_problem(resp, REPLY_INTERNAL, "replaying the session's history "
			      "failed");
		goto fail;
	}
	replay_free(&r);
	*Q = q;
	*qs = s;
	*replayed = v->step;
	return 0;
fail:
	replay_free(&r);
	free(s);
	free(q);
	return -1;
}

/*
 * What n query states answer, as a new JSON object: for a classifier the
 * probabilities of the session's K classes and the labels (the most
 * probable, the lowest on a tie), as predict; for regression the means
 * mapped back to y's units.  NULL with resp filled (422 a non-finite
 * answer, 500).
 */
static json_t *answer_json(const struct model *m, const struct session_view *v,
			   const float *qs, int n, struct http_response *resp)
{
	const struct amz *az = &m->az;
	int K = amz_classes(az, v->state), i, c, rc;
	float *P = NULL;
	double *out = NULL;
	int *labels = NULL;
	json_t *j = NULL;

	P = malloc((size_t)n * (az->has_labels ? AMZ_CLASSES_MAX : 1) * sizeof *P);
	out = malloc((size_t)n * (az->has_labels ? K : 1) * sizeof *out);
	labels = malloc((size_t)n * sizeof *labels);
	if (!P || !out || !labels) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto done;
	}
	rc = az->has_labels ? amz_query_probs(az, v->state, qs, n, P)
			    : amz_query_mean(az, v->state, qs, n, P);
	if (rc != AM_OK) {
		log_msg(LOG_ERROR, "session %s: reading query states: %s", v->id,
			am_strerror(rc));
		reply_problem(resp, REPLY_INTERNAL, "predicting failed");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (az->has_labels) {
			const float *p = P + (size_t)i * AMZ_CLASSES_MAX;
			int best = 0;

			for (c = 0; c < K; c++) {
				if (!(p[c] >= 0 && p[c] <= 1)) {
					reply_problem(resp, REPLY_INVALID, "the prediction for "
						      "row %d is not finite", i);
					goto done;
				}
				out[(size_t)i * K + c] = p[c];
				if (p[c] > p[best])
					best = c;
			}
			labels[i] = best;
		} else {
			double mu, s2;

			scaler_unmap(&v->sc, P[i], 0, &mu, &s2);
			if (!(fabs(mu) <= FLT_MAX)) {
				reply_problem(resp, REPLY_INVALID, "the prediction for row %d "
					      "is not finite", i);
				goto done;
			}
			out[i] = (float)mu;
		}
	}
	j = az->has_labels ? api_sessions_probs_json(out, labels, n, K)
			   : json_pack("{s:o}", "mean", api_sessions_reals(out, n));
	if (!j)
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
done:
	free(labels);
	free(out);
	free(P);
	return j;
}

void api_queries_predict(struct api *a, const struct model *m,
			 const struct session_view *v, const struct input *in,
			 const double *x, int n, int D, struct http_response *resp)
{
	float *Q = NULL, *qs = NULL;
	int64_t replayed = 0;
	json_t *out;

	if (!budget_ok(a, m, v, n, "register the rows as a query set (PUT "
		       "/v1/sessions/{id}/queries: refined with every batch, answered "
		       "without replay) or predict fewer rows at a time", resp))
		return;
	if (states_after_history(a, m, v, in, x, n, D, &Q, &qs, &replayed, resp))
		return;
	out = answer_json(m, v, qs, n, resp);
	if (out) {
		json_object_set_new(out, "replayed", json_integer(replayed));
		reply_json(resp, 200, out);
	}
	free(qs);
	free(Q);
}

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
	    !budget_ok(a, m, &v, n, "register fewer rows, or raise max-replay", resp) ||
	    states_after_history(a, m, &v, &in, x, n, D, &q.x, &q.qs, &replayed, resp))
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
	out = answer_json(m, &v, q.qs, n, resp);
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
	out = answer_json(m, &v, q.qs, q.n, resp);
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
