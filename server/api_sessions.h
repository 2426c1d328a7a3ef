/*
 * api_sessions.h - the handlers of /v1/sessions and its sub-resources
 * other than batches (ingest.h): create, list, inspect, delete, history,
 * predict and sample.  Router handlers (router.h); req->params[0] is the
 * session id where the route has one.  Thread-safe.
 */
#ifndef API_SESSIONS_H
#define API_SESSIONS_H

#include "request.h"

struct api;
struct input;
struct json_t;
struct model;
struct session;
struct session_view;

void api_sessions_create(struct api *a, const struct http_request *req,
			 struct http_response *resp);
void api_sessions_list(struct api *a, const struct http_request *req,
		       struct http_response *resp);
void api_sessions_get(struct api *a, const struct http_request *req,
		      struct http_response *resp);
void api_sessions_delete(struct api *a, const struct http_request *req,
			 struct http_response *resp);
void api_sessions_history(struct api *a, const struct http_request *req,
			  struct http_response *resp);
void api_sessions_predict(struct api *a, const struct http_request *req,
			  struct http_response *resp);
void api_sessions_sample(struct api *a, const struct http_request *req,
			 struct http_response *resp);

/*
 * Helpers shared with the implicit regime's handlers (api_queries.c).
 */

/*
 * Maps rows done..done+k of x (n x D raw values, checked with
 * input_check_rows) into X (k x dmax, zero-padded) as the session's model
 * sees them: pixel rows projected to their features, then the session's
 * scaler.  Returns 0, or -1 with resp filled (422).
 */
int api_sessions_map_rows(const struct model *m, const struct session_view *v,
			  const struct input *in, const double *x, int done,
			  int k, int D, float *X, struct http_response *resp);

/* {"probs": [[K values] per row], "labels": [..]} for n rows (new
 * reference, NULL when out of memory). */
struct json_t *api_sessions_probs_json(const double *probs, const int *labels,
				       int n, int K);

/* A JSON array of the n values v (new reference, NULL when out of
 * memory). */
struct json_t *api_sessions_reals(const double *v, int n);

#endif
