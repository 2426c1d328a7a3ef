/*
 * api.h - the /v1 API: the one routing table, its handlers, and the glue
 * that hands them to the HTTP layer.
 *
 * Handlers see only struct http_request / struct http_response (request.h),
 * so tests call api_handle and the stream ops directly, without sockets.
 * Routing: an unknown path is 404; a known path with another method is 405
 * with Allow; a POST or PUT whose body is not application/json (or, on the
 * batches route, application/x-ndjson) is 415.  Every error is a problem
 * (reply.h).
 *
 * The API owns the session cache and the metrics; it borrows the
 * configuration, the store and the registry, which must outlive it.  All
 * entry points are thread-safe (the HTTP layer calls them from its worker
 * threads).
 */
#ifndef API_H
#define API_H

#include <stddef.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "registry.h"
#include "sessions.h"
#include "store.h"

#define API_LABELS_MAX 32

struct api {
	const struct config *cfg;	/* borrowed */
	struct store *store;		/* borrowed */
	const struct registry *reg;	/* borrowed */
	struct sessions *sessions;	/* owned */
	struct metrics *metrics;	/* owned */
	/* metrics labels: the distinct route patterns, then "unmatched" */
	const char *labels[API_LABELS_MAX];
	int nlabels;
};

struct json_t;

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

/*
 * Helpers shared by the handlers (api.c, api_sessions.c, api_predict.c,
 * api_queries.c, ingest.c).
 */

/*
 * Parses the body of req as a JSON object.  Returns a new reference, or
 * NULL with resp filled: 400 (empty, not JSON), 422 (not an object, a
 * number out of range), 500 (out of memory).
 */
struct json_t *api_parse_body(const struct http_request *req,
			      struct http_response *resp);

/* Refuses (422, returns -1) members of obj other than the NULL-terminated
 * allowed names; what names the object in the message. */
int api_only_keys(struct json_t *obj, const char *const *allowed,
		  const char *what, struct http_response *resp);

/* Whether the request's content type is the media type mt (parameters
 * such as "; charset=utf-8" allowed; case-insensitive). */
int api_content_type_is(const struct http_request *req, const char *mt);

/* Writes an RFC 3339 UTC time ("2025-01-31T12:00:00.000Z") into out. */
void api_time(double t, char *out, size_t len);

/*
 * Finds the session named in req->params[0] and takes its writer slot
 * (stream: see sessions_begin), retrying when the cached copy was dropped.
 * Returns the session (release with sessions_end + sessions_put), or NULL
 * with resp filled (404, 503 busy with Retry-After, 500).
 */
struct session *api_session_begin(struct api *a, const struct http_request *req,
				  int stream, struct http_response *resp);

/*
 * Takes a reference on the session named in req->params[0], for a request
 * that only reads it (release with sessions_put); NULL with resp filled
 * (404, 500).
 */
struct session *api_session_ref(struct api *a, const struct http_request *req,
				struct http_response *resp);

/* The model a session uses, checked against its checksum; NULL with resp
 * filled (409) when this server does not have it. */
const struct model *api_session_model(struct api *a,
				      const struct session_view *v,
				      struct http_response *resp);

#endif
