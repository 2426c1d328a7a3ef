/*
 * api.h - the /v1 API: the one routing table, its handlers, and the glue
 * that hands them to the HTTP layer.
 *
 * Handlers see only struct http_request / struct http_response (request.h),
 * so tests call api_handle and the stream ops directly, without sockets.
 * Routing: an unknown path is 404; a known path with another method is 405
 * with Allow; a POST or PUT whose body is not application/json (or, on the
 * batches route, application/x-ndjson) is 415.  Every error is a problem
 * (reply.h).  struct api and the helpers the handlers share are in
 * api_base.h, which the handlers include instead of this file.
 *
 * The API owns the session cache and the metrics; it borrows the
 * configuration, the store and the registry, which must outlive it.  All
 * entry points are thread-safe (the HTTP layer calls them from its worker
 * threads).
 */
#ifndef API_H
#define API_H

#include <stddef.h>

#include "api_base.h"
#include "http.h"

/*
 * Creates the API over cfg, st and reg (all borrowed).  Returns 0 with *out
 * set, or -1 with a message in err.
 */
int api_new(struct api **out, const struct config *cfg, struct store *st,
	    const struct registry *reg, char *err, size_t errlen);

/* Frees what the API owns; NULL-safe.  No request may be in flight. */
void api_free(struct api *a);

/* Fills the callbacks the HTTP layer calls (app->app = a). */
void api_http_app(struct api *a, struct http_app *app);

/* The callbacks themselves (app is the struct api).  See http.h. */
void api_handle(void *app, const struct http_request *req,
		struct http_response *resp);
int api_is_stream(void *app, const struct http_request *req);
void api_done(void *app, const struct http_request *req, int status,
	      double seconds);
extern const struct http_stream_ops api_stream_ops;

/* Writes every route of the table as "METHOD /pattern" lines to out (a
 * FILE *, declared void to keep stdio out of this header). */
void api_print_routes(void *out);

/* Route label of a request for metrics and logs: the pattern that matches
 * its path ("/v1/sessions/{id}"), or "unmatched".  Borrowed, static. */
const char *api_route_label(const struct http_request *req);

/* Whether the request's content type is the media type mt (parameters
 * such as "; charset=utf-8" allowed; case-insensitive). */
int api_content_type_is(const struct http_request *req, const char *mt);

#endif
