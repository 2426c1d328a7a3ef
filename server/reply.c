/*
 * reply.c - JSON bodies and problem details.
 */
#include "reply.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	int status;
	const char *type, *title;	/* type: the problem's URI */
} reply_kinds[REPLY_NKINDS] = {
	[REPLY_MALFORMED] = { 400, REPLY_URN "malformed", "Malformed request" },
	[REPLY_NOT_FOUND] = { 404, REPLY_URN "not-found", "Not found" },
	[REPLY_METHOD] = { 405, REPLY_URN "method-not-allowed", "Method not allowed" },
	[REPLY_SEQ_CONFLICT] = { 409, REPLY_URN "seq-conflict", "Sequence number conflict" },
	[REPLY_MODEL_UNAVAILABLE] = { 409, REPLY_URN "model-unavailable", "Model unavailable" },
	[REPLY_TOO_LARGE] = { 413, REPLY_URN "too-large", "Content too large" },
	[REPLY_MEDIA_TYPE] = { 415, REPLY_URN "unsupported-media-type", "Unsupported media type" },
	[REPLY_INVALID] = { 422, REPLY_URN "invalid", "Invalid content" },
	[REPLY_CANNOT_PREDICT] = { 422, REPLY_URN "cannot-predict", "Model cannot predict" },
	[REPLY_CANNOT_SAMPLE] = { 422, REPLY_URN "cannot-sample", "Model cannot sample" },
	[REPLY_NOT_IMPLICIT] = { 409, REPLY_URN "not-implicit", "Model is not implicit" },
	[REPLY_NO_BATCH] = { 409, REPLY_URN "no-batch-yet", "Session has no batch yet" },
	[REPLY_REPLAY_LIMIT] = { 422, REPLY_URN "replay-limit", "Replay too long" },
	[REPLY_INTERNAL] = { 500, REPLY_URN "internal", "Internal error" },
	[REPLY_OVERLOADED] = { 503, REPLY_URN "overloaded", "Overloaded" },
	[REPLY_BUSY] = { 503, REPLY_URN "busy", "Session busy" },
	[REPLY_NOT_READY] = { 503, REPLY_URN "not-ready", "Not ready" },
};

int reply_status(enum reply_kind k)
{
	return reply_kinds[k].status;
}

const char *reply_type(enum reply_kind k)
{
	return reply_kinds[k].type;
}

const char *reply_title(enum reply_kind k)
{
	return reply_kinds[k].title;
}

/* The last-resort body when even building a problem fails. */
static void reply_oom(struct http_response *resp)
{
	static const char body[] =
		"{\"type\":\"" REPLY_URN "internal\",\"title\":\"Internal error\","
		"\"status\":500,\"detail\":\"out of memory\"}\n";

	http_response_clear(resp);
	resp->status = 500;
	snprintf(resp->content_type, sizeof resp->content_type, "%s", REPLY_PROBLEM_CT);
	resp->body = strdup(body);
	resp->body_len = resp->body ? strlen(body) : 0;
}

/* Serializes body into resp with the given status and content type, and
 * a newline after it, as text ends; steals body. */
static void set_body(struct http_response *resp, int status, json_t *body,
		     const char *ct)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	size_t len = text ? strlen(text) : 0;
	char *line = text ? realloc(text, len + 2) : NULL;

	json_decref(body);
	if (!line) {
		free(text);
		reply_oom(resp);
		return;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	http_response_clear(resp);
	resp->status = status;
	snprintf(resp->content_type, sizeof resp->content_type, "%s", ct);
	resp->body = line;
	resp->body_len = len + 1;
}

void reply_json(struct http_response *resp, int status, json_t *body)
{
	set_body(resp, status, body, REPLY_JSON_CT);
}

static void problem(struct http_response *resp, enum reply_kind k, json_t *ext,
		    const char *fmt, va_list ap)
{
	char detail[1024];
	json_t *p, *d;

	vsnprintf(detail, sizeof detail, fmt, ap);
	/* the detail may quote request bytes that are not UTF-8 (or be cut
	 * inside a character): json_string refuses those */
	d = json_string(detail);
	if (!d)
		d = json_string("(the detail is not valid UTF-8)");
	p = json_pack("{s:s, s:s, s:i, s:o}", "type", reply_kinds[k].type,
		      "title", reply_kinds[k].title, "status", reply_kinds[k].status,
		      "detail", d);
	if (p && ext)
		json_object_update(p, ext);
	json_decref(ext);
	set_body(resp, reply_kinds[k].status, p, REPLY_PROBLEM_CT);
}

void reply_problem(struct http_response *resp, enum reply_kind k,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem(resp, k, NULL, fmt, ap);
	va_end(ap);
}

void reply_problem_ext(struct http_response *resp, enum reply_kind k,
		       json_t *ext, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem(resp, k, ext, fmt, ap);
	va_end(ap);
}
