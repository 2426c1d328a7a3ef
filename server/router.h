/*
 * router.h - matching a method and a path against the API's routing table.
 *
 * A table is an array of struct router_route (the API layer has exactly
 * one, in api.c).  A pattern is a path whose segments are literals or
 * "{name}" placeholders; a placeholder matches one non-empty segment of
 * fewer than HTTP_PARAM_LEN bytes, captured into the request's params in
 * order.  A path that some pattern matches with another method is "wrong
 * method" (405, with the Allow list); a path no pattern matches is "not
 * found" (404).  HEAD is served by a GET route.
 *
 * Owns nothing, allocates nothing; thread-safe.
 */
#ifndef ROUTER_H
#define ROUTER_H

#include <stddef.h>

#include "request.h"

struct api;

/* A handler of a buffered request: fills resp (see request.h). */
typedef void (*router_handler)(struct api *a, const struct http_request *req,
			       struct http_response *resp);

struct router_route {
	enum http_method method;
	const char *pattern;		/* "/v1/sessions/{id}/batches" */
	router_handler handle;
	int stream;			/* also takes NDJSON streams */
};

#define ROUTER_NOT_FOUND (-1)
#define ROUTER_BAD_METHOD (-2)

/*
 * Finds the route of method and path among n routes.  Returns its index
 * (>= 0) with req->params and req->nparams filled; ROUTER_NOT_FOUND; or
 * ROUTER_BAD_METHOD with allow (allowlen bytes, may be NULL) set to the
 * methods the path takes, like "GET, HEAD, DELETE".  req may be NULL when
 * the captures are not wanted.
 */
int router_match(const struct router_route *routes, int n,
		 enum http_method method, const char *path,
		 struct http_request *req, char *allow, size_t allowlen);

/* Whether path matches pattern (captures into req when not NULL). */
int router_path_matches(const char *pattern, const char *path,
			struct http_request *req);

/* The name of a method ("GET"), for Allow lists and logs. */
const char *router_method_name(enum http_method m);

#endif
