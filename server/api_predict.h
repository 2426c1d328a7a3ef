/*
 * api_predict.h - POST /v1/sessions/{id}/predict: what a session's model
 * answers at new rows, {"x": [[..], ..]} (features or pixels, per the
 * session's input; input.h).
 *
 * A model with an adapted state answers from it, in the data's units
 * (the rows mapped with the session's scaler, the answer mapped back):
 * {"mean"} with "variance" when the model has one, {"log_density"}, or
 * for a classifier {"probs", "labels"}.  A model that answers none of
 * these (a flow: it only samples) is 422 cannot-predict.
 *
 * A session of an implicit model (az.implicit) keeps no adapted state: it
 * keeps its mini-batches, and predicting at new points replays them
 * (replay.h): its cost grows with the history, (rows stored) x (query
 * rows), and is bounded by the configured max-replay; past it the request
 * is 422 replay-limit and nothing is computed.  The reply says how many
 * batches were replayed ("replayed").  A query set (api_queries.h) is
 * brought up to date with the same replay, through the functions below.
 *
 * Predict only reads its session: it takes no writer slot and changes
 * nothing.  Thread-safe.
 */
#ifndef API_PREDICT_H
#define API_PREDICT_H

#include <stdint.h>

#include "request.h"

struct api;
struct input;
struct json_t;
struct model;
struct session_view;

/* The router handler; req->params[0] is the session id. */
void api_predict(struct api *a, const struct http_request *req,
		 struct http_response *resp);

/*
 * Whether a replay of session v's history for n query rows is within
 * max-replay: the cost is (rows stored) x n row pairs, n counted as at
 * least the model's batch.  Otherwise fills resp (422 replay-limit, with
 * the numbers as extension members; hint ends the detail) and returns 0.
 */
int api_predict_budget_ok(struct api *a, const struct model *m,
			  const struct session_view *v, int n, const char *hint,
			  struct http_response *resp);

/*
 * The query states of n rows x (n x D raw values, checked with
 * input_check_rows against the session's input in) after session v's
 * stored steps 1..v->step of implicit model m: *Q (n x dmax, the rows as
 * the model sees them) and *qs (n x qstate), new allocations the caller
 * frees.  *replayed gets the batches replayed.  Returns 0, or -1 with
 * resp filled (404 the session went away, 422, 500).
 */
int api_predict_replay(struct api *a, const struct model *m,
		       const struct session_view *v, const struct input *in,
		       const double *x, int n, int D, float **Q, float **qs,
		       int64_t *replayed, struct http_response *resp);

/*
 * What n query states qs answer, as a new JSON object: for a classifier
 * the probabilities of the session's K classes and the labels (the most
 * probable, the lowest on a tie), as predict; for regression the means
 * mapped back to y's units.  NULL with resp filled (422 a non-finite
 * answer, 500).
 */
struct json_t *api_predict_answer_json(const struct model *m,
				       const struct session_view *v,
				       const float *qs, int n,
				       struct http_response *resp);

#endif
