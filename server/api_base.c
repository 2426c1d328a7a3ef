/*
 * api_base.c - the helpers every handler shares: request bodies, times,
 * and finding a request's session and its model.
 */
#include "api_base.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "family/amz.h"
#include "log.h"
#include "model/model.h"
#include "reply.h"

void api_time(double t, char *out, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;
	int ms = (int)((t - (double)s) * 1000);

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	gmtime_r(&s, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

json_t *api_parse_body(const struct http_request *req, struct http_response *resp)
{
	json_error_t e;
	json_t *j;

	if (!req->body || req->body_len == 0) {
		reply_problem(resp, REPLY_MALFORMED, "the body is empty; a JSON object "
			      "is expected");
		return NULL;
	}
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		if (json_error_code(&e) == json_error_numeric_overflow)
			reply_problem(resp, REPLY_INVALID, "a number is out of range "
				      "(line %d, column %d): %s", e.line, e.column, e.text);
		else if (json_error_code(&e) == json_error_out_of_memory)
			reply_problem(resp, REPLY_INTERNAL, "out of memory");
		else
			reply_problem(resp, REPLY_MALFORMED, "the body is not valid JSON "
				      "(line %d, column %d): %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		reply_problem(resp, REPLY_INVALID, "the body must be a JSON object");
		json_decref(j);
		return NULL;
	}
	return j;
}

int api_only_keys(json_t *obj, const char *const *allowed, const char *what,
		  struct http_response *resp)
{
	const char *k;
	json_t *v;
	int i;

	json_object_foreach(obj, k, v) {
		for (i = 0; allowed[i]; i++)
			if (!strcmp(k, allowed[i]))
				break;
		if (!allowed[i]) {
			reply_problem(resp, REPLY_INVALID, "unknown member '%.64s' in %s",
				      k, what);
			return -1;
		}
	}
	return 0;
}

/* Whether s is a session id as this server makes them: 32 lowercase hex. */
static int valid_id(const char *s)
{
	int i;

	for (i = 0; i < 32; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return s[32] == '\0';
}

struct session *api_session_begin(struct api *a, const struct http_request *req,
				  int stream, struct http_response *resp)
{
	const char *id = req->params[0];
	struct session *s;
	char err[256];
	int rc, tries;

	if (req->nparams < 1 || !valid_id(id)) {
		reply_problem(resp, REPLY_NOT_FOUND, "no session '%.64s'",
			      req->nparams < 1 ? "" : id);
		return NULL;
	}
	for (tries = 0; tries < 4; tries++) {
		rc = sessions_get(a->sessions, id, &s, err, sizeof err);
		if (rc == SESSIONS_OK) {
			rc = sessions_begin(s, stream);
			if (rc == SESSIONS_OK)
				return s;
			sessions_put(a->sessions, s);
		}
		if (rc != SESSIONS_STALE)
			break;
	}
	switch (rc) {
	case SESSIONS_NOTFOUND:
		reply_problem(resp, REPLY_NOT_FOUND, "no session '%s'", id);
		break;
	case SESSIONS_BUSY:
		reply_problem(resp, REPLY_BUSY, "session %s is busy with another "
			      "upload; retry when it is done", id);
		resp->retry_after = 1;
		break;
	default:
		log_msg(LOG_ERROR, "session %s: %s", id, rc == SESSIONS_STALE
			? "kept changing" : err);
		reply_problem(resp, REPLY_INTERNAL, "loading session %s failed", id);
		break;
	}
	return NULL;
}

struct session *api_session_ref(struct api *a, const struct http_request *req,
				struct http_response *resp)
{
	const char *id = req->params[0];
	struct session *s = NULL;
	char err[256];
	int rc;

	if (!valid_id(id)) {
		reply_problem(resp, REPLY_NOT_FOUND, "no session '%.64s'", id);
		return NULL;
	}
	rc = sessions_get(a->sessions, id, &s, err, sizeof err);
	if (rc == SESSIONS_NOTFOUND) {
		reply_problem(resp, REPLY_NOT_FOUND, "no session '%s'", id);
		return NULL;
	}
	if (rc != SESSIONS_OK) {
		log_msg(LOG_ERROR, "session %s: %s", id, err);
		reply_problem(resp, REPLY_INTERNAL, "loading session %s failed", id);
		return NULL;
	}
	return s;
}

const struct model *api_session_model(struct api *a, const struct session_view *v,
				      struct http_response *resp)
{
	const struct model *m = registry_find(a->reg, v->model);

	if (!m) {
		reply_problem(resp, REPLY_MODEL_UNAVAILABLE, "session %s uses model '%s', "
			      "which this server has not loaded", v->id, v->model);
		return NULL;
	}
	if (strcmp(m->checksum, v->model_checksum)) {
		reply_problem(resp, REPLY_MODEL_UNAVAILABLE, "session %s was made with "
			      "model '%s' of checksum %s; the loaded file has checksum %s",
			      v->id, v->model, v->model_checksum, m->checksum);
		return NULL;
	}
	/* the same file, so the same state size, unless the stored blob was
	 * damaged: refuse it rather than read past its floats */
	if (v->nstate != m->az.nstate) {
		log_msg(LOG_ERROR, "session %s: its stored state has %d floats but "
			"model '%s' uses %d", v->id, v->nstate, v->model, m->az.nstate);
		reply_problem(resp, REPLY_MODEL_UNAVAILABLE, "session %s holds a state of "
			      "%d floats but model '%s' (family %s) uses %d: the session "
			      "cannot be used with it (delete it)", v->id, v->nstate,
			      v->model, amz_name(&m->az), m->az.nstate);
		return NULL;
	}
	/* a classification state ends with its classes: one a session was
	 * never created with is a damaged blob as well */
	if (m->az.has_labels && amz_classes(&m->az, v->state) == 0) {
		log_msg(LOG_ERROR, "session %s: its stored state holds no valid number "
			"of classes for model '%s'", v->id, v->model);
		reply_problem(resp, REPLY_MODEL_UNAVAILABLE, "session %s holds a state "
			      "without a valid number of classes for model '%s': the "
			      "session cannot be used with it (delete it)", v->id, v->model);
		return NULL;
	}
	return m;
}
