/*
 * reply.h - filling a struct http_response with JSON: success bodies and
 * RFC 9457 problem details.
 *
 * Every error the daemon sends is application/problem+json with the
 * members type, title, status and detail, plus extension members where a
 * client needs them (steps_applied, step, line for a refused stream;
 * next_seq for a seq conflict).  The problem types are URNs,
 * "urn:amortd:problem:<slug>", one per kind below; the title is fixed per
 * type and the detail says what happened in this request.
 *
 *   slug                    status  when
 *   malformed               400     not JSON, bad query parameter, bad line
 *   not-found               404     unknown route, session or model
 *   method-not-allowed      405     known path, other method (Allow set)
 *   seq-conflict            409     seq ahead of the session's next_seq
 *   model-unavailable       409     the session's model is not loaded
 *   not-implicit            409     a query set on a session whose model
 *                                   is not implicit (it predicts directly)
 *   no-batch-yet            409     a query set before the session's
 *                                   standardization and dimension are fixed
 *   too-large               413     body or NDJSON line over its limit
 *   unsupported-media-type  415     POST body of another content type
 *   invalid                 422     well-formed but wrong: types, dimension,
 *                                   NaN/Inf, too many rows, unknown keys
 *   cannot-predict          422     predict on a model without a mean or a
 *                                   density (a flow: it only samples)
 *   cannot-sample           422     sample on a model that cannot
 *   replay-limit            422     an implicit session's replay would cost
 *                                   more than max-replay (rows x queries)
 *   internal                500     the store or memory failed
 *   overloaded              503     too many sessions or connections
 *   busy                    503     the session's writer slot stayed taken
 *   not-ready               503     readiness check failed
 *
 * Every body written here, JSON or problem, is one line of compact JSON
 * ended by a newline.
 *
 * This file and api.c are where jansson meets the HTTP structs.  Functions
 * are thread-safe; they allocate the body they hand to the response.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include "request.h"

struct json_t;

#define REPLY_URN "urn:amortd:problem:"
#define REPLY_PROBLEM_CT "application/problem+json"
#define REPLY_JSON_CT "application/json"

enum reply_kind {
	REPLY_MALFORMED = 0,
	REPLY_NOT_FOUND,
	REPLY_METHOD,
	REPLY_SEQ_CONFLICT,
	REPLY_MODEL_UNAVAILABLE,
	REPLY_TOO_LARGE,
	REPLY_MEDIA_TYPE,
	REPLY_INVALID,
	REPLY_CANNOT_PREDICT,
	REPLY_CANNOT_SAMPLE,
	REPLY_NOT_IMPLICIT,
	REPLY_NO_BATCH,
	REPLY_REPLAY_LIMIT,
	REPLY_INTERNAL,
	REPLY_OVERLOADED,
	REPLY_BUSY,
	REPLY_NOT_READY,
	REPLY_NKINDS
};

/* The HTTP status, type URI and title of a kind (borrowed, static). */
int reply_status(enum reply_kind k);
const char *reply_type(enum reply_kind k);
const char *reply_title(enum reply_kind k);

/*
 * Sets resp to status with body serialized from body (a reference is
 * stolen: the caller must not decref it).  Numbers are written with 9
 * significant digits, enough to give a float back exactly.  If body is
 * NULL or serializing fails (out of memory) resp becomes a 500 problem.
 */
void reply_json(struct http_response *resp, int status, struct json_t *body);

/* Sets resp to the problem of kind k with a printf-style detail. */
void reply_problem(struct http_response *resp, enum reply_kind k,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The same with extension members: the members of ext (an object, stolen,
 * may be NULL) are added to the problem object. */
void reply_problem_ext(struct http_response *resp, enum reply_kind k,
		       struct json_t *ext, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
