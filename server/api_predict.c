/*
 * api_predict.c - POST /v1/sessions/{id}/predict: from a session's state,
 * or by replaying an implicit session's history (also how a query set is
 * brought up to date, api_queries.c).
 */
#include "api_predict.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "api_base.h"
#include "input.h"
#include "log.h"
#include "model/model.h"
#include "replay.h"
#include "reply.h"
#include "family/scaler.h"
#include "sessions.h"

#define PREDICT_CHUNK 256		/* rows predicted at a time */

/* ---- from the session's state ------------------------------------------ */

/* The active feature columns the model sees of rows of D values. */
static int feature_dim(const struct input *in, int D)
{
	return in->pixels ? in->D : D;
}

/*
 * Maps rows done..done+k of x (n x D raw values, checked with
 * input_check_rows) into X (k x dmax, zero-padded) as the session's model
 * sees them: pixel rows projected to their features, then the session's
 * scaler.  Returns 0, or -1 with resp filled (422).
 */
static int map_rows(const struct model *m, const struct session_view *v,
		    const struct input *in, const double *x, int done, int k,
		    int D, float *X, struct http_response *resp)
{
	int dmax = m->az.dmax, Df = feature_dim(in, D), i, j;
	double f[AMZ_DMAX];
	const double *row;

	memset(X, 0, (size_t)k * dmax * sizeof *X);
	for (i = 0; i < k; i++) {
		row = x + (size_t)(done + i) * D;
		if (in->pixels) {
			input_project(m, in, row, f);
			row = f;
		}
		for (j = 0; j < Df; j++) {
			if (scaler_map(&v->sc, j, row[j], &X[i * dmax + j])) {
				reply_problem(resp, REPLY_INVALID, "x[%d][%d] is beyond "
					      "single precision after standardization",
					      done + i, j);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * Predicts n rows of D raw inputs under the view's state (a model with
 * has_mean): maps them with the session's scaler, then maps mean and
 * variance back.  Fills mean and var (n each; var only when the model has
 * a variance, az.has_var) or returns -1 with resp filled (422, 500).
 */
static int predict_rows(const struct model *m, const struct session_view *v,
			const struct input *in, const double *x, int n, int D,
			double *mean, double *var, struct http_response *resp)
{
	float X[PREDICT_CHUNK * AMZ_DMAX], zm[PREDICT_CHUNK], zv[PREDICT_CHUNK];
	int done, k, i, rc;

	for (done = 0; done < n; done += k) {
		k = n - done < PREDICT_CHUNK ? n - done : PREDICT_CHUNK;
		if (map_rows(m, v, in, x, done, k, D, X, resp))
			return -1;
		rc = amz_predict(&m->az, v->state, X, k, feature_dim(in, D), zm,
				 m->az.has_var ? zv : NULL);
		if (rc != AM_OK) {
			log_msg(LOG_ERROR, "session %s: predict: %s", v->id, am_strerror(rc));
			reply_problem(resp, REPLY_INTERNAL, "predicting failed");
			return -1;
		}
		for (i = 0; i < k; i++) {
			double mu, s2;

			scaler_unmap(&v->sc, zm[i], m->az.has_var ? zv[i] : 0, &mu, &s2);
			if (!(fabs(mu) <= FLT_MAX) || !(s2 >= 0 && s2 <= FLT_MAX)) {
				reply_problem(resp, REPLY_INVALID, "the prediction for x[%d] is "
					      "not finite", done + i);
				return -1;
			}
			mean[done + i] = (float)mu;
			var[done + i] = (float)s2;
		}
	}
	return 0;
}

/*
 * The log-density of n rows of D raw values under the view's state (a
 * model with has_density), in the data's units: the rows are mapped with
 * the session's scaler and the density mapped back (scaler.h).  Fills
 * out (n) or returns -1 with resp filled (422, 500).
 */
static int density_rows(const struct model *m, const struct session_view *v,
			const struct input *in, const double *x, int n, int D,
			double *out, struct http_response *resp)
{
	float X[PREDICT_CHUNK * AMZ_DMAX], lz[PREDICT_CHUNK];
	int done, k, i, rc;

	for (done = 0; done < n; done += k) {
		k = n - done < PREDICT_CHUNK ? n - done : PREDICT_CHUNK;
		if (map_rows(m, v, in, x, done, k, D, X, resp))
			return -1;
		rc = amz_log_density(&m->az, v->state, X, k, feature_dim(in, D), lz);
		if (rc != AM_OK) {
			log_msg(LOG_ERROR, "session %s: log-density: %s", v->id,
				am_strerror(rc));
			reply_problem(resp, REPLY_INTERNAL, "computing the log-density failed");
			return -1;
		}
		for (i = 0; i < k; i++) {
			double lp = scaler_unmap_log_density(&v->sc, D, lz[i]);

			/* -Inf is a density of zero: honest, but not JSON */
			if (!(fabs(lp) <= FLT_MAX)) {
				reply_problem(resp, REPLY_INVALID, "the log-density of x[%d] is "
					      "not finite", done + i);
				return -1;
			}
			out[done + i] = (float)lp;
		}
	}
	return 0;
}

/*
 * The class probabilities of n rows of D raw values under the view's
 * state (a classification model): probs (n x K, K = in->K, the session's
 * classes) and labels (n: the most probable class, the lowest on a tie).
 * Returns 0, or -1 with resp filled (422, 500).
 */
static int probs_rows(const struct model *m, const struct session_view *v,
		      const struct input *in, const double *x, int n, int D,
		      double *probs, int *labels, struct http_response *resp)
{
	float X[PREDICT_CHUNK * AMZ_DMAX], P[PREDICT_CHUNK * AMZ_CLASSES_MAX];
	int K = in->K, done, k, i, c, rc;

	for (done = 0; done < n; done += k) {
		k = n - done < PREDICT_CHUNK ? n - done : PREDICT_CHUNK;
		if (map_rows(m, v, in, x, done, k, D, X, resp))
			return -1;
		rc = amz_predict_probs(&m->az, v->state, X, k, feature_dim(in, D), P);
		if (rc != AM_OK) {
			log_msg(LOG_ERROR, "session %s: predict: %s", v->id, am_strerror(rc));
			reply_problem(resp, REPLY_INTERNAL, "predicting failed");
			return -1;
		}
		for (i = 0; i < k; i++) {
			const float *p = P + (size_t)i * AMZ_CLASSES_MAX;
			int best = 0;

			for (c = 0; c < K; c++) {
				if (!(p[c] >= 0 && p[c] <= 1)) {
					reply_problem(resp, REPLY_INVALID, "the prediction for "
						      "x[%d] is not finite", done + i);
					return -1;
				}
				probs[(size_t)(done + i) * K + c] = p[c];
				if (p[c] > p[best])
					best = c;
			}
			labels[done + i] = best;
		}
	}
	return 0;
}

/* {"probs": [[K values] per row], "labels": [..]} for n rows (new
 * reference, NULL when out of memory). */
static json_t *probs_json(const double *probs, const int *labels, int n, int K)
{
	json_t *p = json_array(), *l = json_array(), *row;
	int i, c, bad = !p || !l;

	for (i = 0; !bad && i < n; i++) {
		row = json_array();
		bad = !row || json_array_append_new(p, row) ||
		      json_array_append_new(l, json_integer(labels[i]));
		for (c = 0; !bad && c < K; c++)
			bad = json_array_append_new(row, json_real(probs[(size_t)i * K + c]));
	}
	if (bad) {
		json_decref(p);
		json_decref(l);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "probs", p, "labels", l);
}

/* A JSON array of the n values v (new reference, NULL when out of
 * memory). */
static json_t *reals_json(const double *v, int n)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, json_real(v[i]))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* ---- by replay: the implicit regime ------------------------------------ */

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

int api_predict_budget_ok(struct api *a, const struct model *m,
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

int api_predict_replay(struct api *a, const struct model *m,
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
	if (map_rows(m, v, in, x, 0, n, D, q, resp))
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

json_t *api_predict_answer_json(const struct model *m,
				const struct session_view *v, const float *qs,
				int n, struct http_response *resp)
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
	j = az->has_labels ? probs_json(out, labels, n, K)
			   : json_pack("{s:o}", "mean", reals_json(out, n));
	if (!j)
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
done:
	free(labels);
	free(out);
	free(P);
	return j;
}

/*
 * Predict for a session v of an implicit model m: the n rows x (n x D raw
 * values, checked with input_check_rows against the session's input in)
 * are refined by the session's stored batches 1..v->step and read out.
 * Fills resp: 200 {"probs", "labels", "replayed"} (clf) or {"mean",
 * "replayed"} (reg); 422 replay-limit, 404 (the session was deleted
 * meanwhile), 500.
 */
static void predict_replayed(struct api *a, const struct model *m,
			     const struct session_view *v, const struct input *in,
			     const double *x, int n, int D,
			     struct http_response *resp)
{
	float *Q = NULL, *qs = NULL;
	int64_t replayed = 0;
	json_t *out;

	if (!api_predict_budget_ok(a, m, v, n, "register the rows as a query "
				   "set (PUT /v1/sessions/{id}/queries: refined "
				   "with every batch, answered without replay) or "
				   "predict fewer rows at a time", resp))
		return;
	if (api_predict_replay(a, m, v, in, x, n, D, &Q, &qs, &replayed, resp))
		return;
	out = api_predict_answer_json(m, v, qs, n, resp);
	if (out) {
		json_object_set_new(out, "replayed", json_integer(replayed));
		reply_json(resp, 200, out);
	}
	free(qs);
	free(Q);
}

/* ---- the handler ------------------------------------------------------- */

void api_predict(struct api *a, const struct http_request *req,
		 struct http_response *resp)
{
	static const char *const keys[] = { "x", NULL };
	json_t *body, *out = NULL;
	struct session *s = NULL;
	struct session_view v;
	struct input in;
	const struct model *m;
	double *x = NULL, *mean = NULL, *var = NULL;
	int *labels = NULL, n, D;

	body = api_parse_body(req, resp);
	if (!body)
		return;
	if (api_only_keys(body, keys, "a predict request (x)", resp))
		goto out;
	if (!json_object_get(body, "x")) {
		reply_problem(resp, REPLY_INVALID, "a predict request needs 'x' (rows of "
			      "inputs)");
		goto out;
	}
	if (input_read_rows(json_object_get(body, "x"), "x", a->cfg->max_rows,
			    AMZ_NPIX_MAX, &x, &n, &D, resp))
		goto out;
	s = api_session_ref(a, req, resp);
	if (!s)
		goto out;
	sessions_view(s, &v);
	m = api_session_model(a, &v, resp);
	if (!m)
		goto out;
	if (m->az.implicit) {
		/* no adapted state to predict from: the history is replayed */
		input_of(m, &v, &in);
		if (!input_check_rows(m, &v, &in, x, n, D, resp))
			predict_replayed(a, m, &v, &in, x, n, D, resp);
		goto out;
	}
	if (!m->az.has_mean && !m->az.has_density && !m->az.has_labels) {
		reply_problem(resp, REPLY_CANNOT_PREDICT, "model '%s' (family %s) cannot "
			      "predict: it answers neither a mean nor a density%s",
			      m->name, amz_name(&m->az), m->az.can_sample
			      ? " (use sample)" : "");
		goto out;
	}
	input_of(m, &v, &in);
	if (input_check_rows(m, &v, &in, x, n, D, resp))
		goto out;
	/* mean and var hold n values, or n x K probabilities */
	mean = malloc((size_t)n * (in.K > 1 ? in.K : 1) * sizeof *mean);
	var = malloc((size_t)n * sizeof *var);
	labels = malloc((size_t)n * sizeof *labels);
	if (!mean || !var || !labels) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto out;
	}
	if (m->az.has_labels) {
		if (probs_rows(m, &v, &in, x, n, D, mean, labels, resp))
			goto out;
		out = probs_json(mean, labels, n, in.K);
	} else if (m->az.has_mean) {
		if (predict_rows(m, &v, &in, x, n, D, mean, var, resp))
			goto out;
		out = json_pack("{s:o}", "mean", reals_json(mean, n));
		if (out && m->az.has_var)
			json_object_set_new(out, "variance", reals_json(var, n));
	} else {
		if (density_rows(m, &v, &in, x, n, D, mean, resp))
			goto out;
		out = json_pack("{s:o}", "log_density", reals_json(mean, n));
	}
	reply_json(resp, 200, out);
out:
	free(labels);
	free(var);
	free(mean);
	free(x);
	sessions_put(a->sessions, s);
	json_decref(body);
}
