/*
 * api_sessions.h - the handlers of /v1/sessions and its sub-resources
 * other than batches (ingest.h), predict (api_predict.h) and query sets
 * (api_queries.h): create, list, inspect, delete, history and sample.
 * Router handlers (router.h); req->params[0] is the session id where the
 * route has one.  Thread-safe.
 */
#ifndef API_SESSIONS_H
#define API_SESSIONS_H

#include "request.h"

struct api;

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
void api_sessions_sample(struct api *a, const struct http_request *req,
			 struct http_response *resp);

#endif
