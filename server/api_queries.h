/*
 * api_queries.h - the implicit regime's query sets, the resource
 * /v1/sessions/{id}/queries.
 *
 * A session of an implicit model (az.implicit) keeps no adapted state: it
 * keeps its mini-batches, and predicting at new points replays them
 * (api_predict.h).  A query set is a fixed set of points registered with
 * the session (PUT): it is brought up to date once by replaying the
 * history (within max-replay, as predict), then refined by every later
 * batch in the same transaction as the batch (ingest.c), and GET answers
 * it without replay.  One set per session; PUT replaces it,
 * DELETE removes it, deleting the session deletes it.  Rows follow the
 * conventions of predict (features or pixels, per the session's input,
 * mapped with the session's scaler) and are stored as the model sees
 * them.  Since they are mapped with the scaler, a set can be registered
 * only once the scaler and the dimension are fixed: after the session's
 * first batch, or at once for a session created with "standardize": false
 * and a dim (409 no-batch-yet otherwise).  At most max-queries rows.
 *
 * Sessions of other models answer the query-set routes with 409
 * not-implicit.  Router handlers (router.h); thread-safe.
 */
#ifndef API_QUERIES_H
#define API_QUERIES_H

#include "request.h"

struct api;

/* PUT /v1/sessions/{id}/queries: {"x": [[..], ..]} registers (201) or
 * replaces (200) the session's query set and answers it. */
void api_queries_put(struct api *a, const struct http_request *req,
		     struct http_response *resp);

/* GET /v1/sessions/{id}/queries: the set's answers at its step. */
void api_queries_get(struct api *a, const struct http_request *req,
		     struct http_response *resp);

/* DELETE /v1/sessions/{id}/queries: 204, or 404 when there is none. */
void api_queries_delete(struct api *a, const struct http_request *req,
			struct http_response *resp);

#endif
