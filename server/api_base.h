/*
 * api_base.h - what the /v1 handlers stand on: struct api, the state they
 * share, and the helpers they call to read a request's body and to find
 * its session and that session's model.
 *
 * The routing table (api.c) names every handler (api_sessions.c,
 * api_predict.c, api_queries.c, ingest.c), and every handler needs
 * struct api and these helpers; they live here, below both, so that the
 * includes run one way: api -> the handlers -> api_base.  A handler
 * includes this file, never api.h.
 *
 * struct api is made and freed by api_new and api_free (api.h).  The
 * helpers allocate only what they return and are thread-safe.
 */
#ifndef API_BASE_H
#define API_BASE_H

#include <stddef.h>

#include "config.h"
#include "metrics.h"
#include "registry.h"
#include "request.h"
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
