/*
 * api.c - the routing table, dispatch, and the system and model handlers.
 */
#include "api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_predict.h"
#include "api_queries.h"
#include "api_sessions.h"
#include "ingest.h"
#include "input.h"
#include "log.h"
#include "reply.h"
#include "router.h"

static void h_healthz(struct api *a, const struct http_request *req,
		      struct http_response *resp);
static void h_readyz(struct api *a, const struct http_request *req,
		     struct http_response *resp);
static void h_metrics(struct api *a, const struct http_request *req,
		      struct http_response *resp);
static void h_models(struct api *a, const struct http_request *req,
		     struct http_response *resp);
static void h_model(struct api *a, const struct http_request *req,
		    struct http_response *resp);

/* The one routing table. */
static const struct router_route api_routes[] = {
	{ HTTP_GET, "/healthz", h_healthz, 0 },
	{ HTTP_GET, "/readyz", h_readyz, 0 },
	{ HTTP_GET, "/metrics", h_metrics, 0 },
	{ HTTP_GET, "/v1/models", h_models, 0 },
	{ HTTP_GET, "/v1/models/{name}", h_model, 0 },
	{ HTTP_POST, "/v1/sessions", api_sessions_create, 0 },
	{ HTTP_GET, "/v1/sessions", api_sessions_list, 0 },
	{ HTTP_GET, "/v1/sessions/{id}", api_sessions_get, 0 },
	{ HTTP_DELETE, "/v1/sessions/{id}", api_sessions_delete, 0 },
	{ HTTP_POST, "/v1/sessions/{id}/batches", ingest_json, 1 },
	{ HTTP_POST, "/v1/sessions/{id}/predict", api_predict, 0 },
	{ HTTP_POST, "/v1/sessions/{id}/sample", api_sessions_sample, 0 },
	{ HTTP_GET, "/v1/sessions/{id}/history", api_sessions_history, 0 },
	{ HTTP_PUT, "/v1/sessions/{id}/queries", api_queries_put, 0 },
	{ HTTP_GET, "/v1/sessions/{id}/queries", api_queries_get, 0 },
	{ HTTP_DELETE, "/v1/sessions/{id}/queries", api_queries_delete, 0 },
};
#define NROUTES ((int)(sizeof api_routes / sizeof api_routes[0]))
#define UNMATCHED "unmatched"

const struct http_stream_ops api_stream_ops = {
	ingest_stream_open, ingest_stream_feed, ingest_stream_close
};

/* The state size of the loaded model (name, checksum), or 0 when this
 * server has no such model: how session loading tells a legacy state blob
 * (sessions.h).  ud is the registry, read-only once loaded. */
static int model_nstate(void *ud, const char *model, const char *checksum)
{
	const struct model *m = registry_find(ud, model);

	return m && !strcmp(m->checksum, checksum) ? m->az.nstate : 0;
}

int api_new(struct api **out, const struct config *cfg, struct store *st,
	    const struct registry *reg, char *err, size_t errlen)
{
	struct api *a = calloc(1, sizeof *a);
	char msg[256];
	int i, j;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->cfg = cfg;
	a->store = st;
	a->reg = reg;
	for (i = 0; i < NROUTES; i++) {
		for (j = 0; j < a->nlabels; j++)
			if (!strcmp(a->labels[j], api_routes[i].pattern))
				break;
		if (j == a->nlabels && a->nlabels < API_LABELS_MAX - 1)
			a->labels[a->nlabels++] = api_routes[i].pattern;
	}
	a->labels[a->nlabels++] = UNMATCHED;
	/* a writer waits for a session's slot at most the connection
	 * timeout: a client would have given up by then */
	if (sessions_new(&a->sessions, st, cfg->max_sessions, (double)cfg->timeout_s,
			 msg, sizeof msg) != SESSIONS_OK) {
		snprintf(err, errlen, "%s", msg);
		free(a);
		return -1;
	}
	sessions_set_nstate_hook(a->sessions, model_nstate, (void *)reg);
	a->metrics = metrics_new(a->labels, a->nlabels);
	if (!a->metrics) {
		snprintf(err, errlen, "out of memory");
		sessions_free(a->sessions);
		free(a);
		return -1;
	}
	metrics_set_models(a->metrics, registry_count(reg));
	metrics_set_sessions(a->metrics, sessions_count(a->sessions));
	*out = a;
	return 0;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	metrics_free(a->metrics);
	sessions_free(a->sessions);
	free(a);
}

void api_http_app(struct api *a, struct http_app *app)
{
	memset(app, 0, sizeof *app);
	app->app = a;
	app->is_stream = api_is_stream;
	app->stream = &api_stream_ops;
	app->handle = api_handle;
	app->done = api_done;
}

void api_print_routes(void *out)
{
	int i;

	for (i = 0; i < NROUTES; i++)
		fprintf(out, "%s %s\n", router_method_name(api_routes[i].method),
			api_routes[i].pattern);
}

const char *api_route_label(const struct http_request *req)
{
	int i;

	for (i = 0; i < NROUTES; i++)
		if (router_path_matches(api_routes[i].pattern, req->path, NULL))
			return api_routes[i].pattern;
	return UNMATCHED;
}

int api_content_type_is(const struct http_request *req, const char *mt)
{
	const char *ct = req->content_type;
	size_t n = strlen(mt);

	if (!ct)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, mt, n))
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* ---- dispatch ---------------------------------------------------------- */

int api_is_stream(void *app, const struct http_request *req)
{
	int i;

	(void)app;
	if (req->method != HTTP_POST || !api_content_type_is(req, "application/x-ndjson"))
		return 0;
	i = router_match(api_routes, NROUTES, req->method, req->path, NULL, NULL, 0);
	return i >= 0 && api_routes[i].stream;
}

/* A buffered NDJSON body on a stream route: the stream ops in one go. */
static void stream_whole(struct api *a, const struct http_request *req,
			 struct http_response *resp)
{
	void *ctx = api_stream_ops.open(a, req, resp);

	if (!ctx)
		return;
	if (req->body_len)
		api_stream_ops.feed(ctx, req->body, req->body_len);
	api_stream_ops.close(ctx, resp);
}

void api_handle(void *app, const struct http_request *req,
		struct http_response *resp)
{
	struct api *a = app;
	struct http_request r = *req;
	char allow[64];
	int i;

	memset(r.params, 0, sizeof r.params);
	r.nparams = 0;
	i = router_match(api_routes, NROUTES, req->method, req->path, &r, allow,
			 sizeof allow);
	if (i == ROUTER_NOT_FOUND) {
		reply_problem(resp, REPLY_NOT_FOUND, "no route for '%.200s'", req->path);
		return;
	}
	if (i == ROUTER_BAD_METHOD) {
		reply_problem(resp, REPLY_METHOD, "%.16s is not allowed on '%.200s'; "
			      "allowed: %s", req->method_name ? req->method_name
			      : router_method_name(req->method), req->path, allow);
		snprintf(resp->allow, sizeof resp->allow, "%s", allow);
		return;
	}
	if ((req->method == HTTP_POST || req->method == HTTP_PUT) &&
	    !api_content_type_is(req, "application/json")) {
		if (api_routes[i].stream &&
		    api_content_type_is(req, "application/x-ndjson")) {
			stream_whole(a, req, resp);
			return;
		}
		reply_problem(resp, REPLY_MEDIA_TYPE, "the body must be application/json%s"
			      "; got %.100s", api_routes[i].stream
			      ? " or application/x-ndjson" : "",
			      req->content_type ? req->content_type : "no Content-Type");
		return;
	}
	api_routes[i].handle(a, &r, resp);
}

void api_done(void *app, const struct http_request *req, int status,
	      double seconds)
{
	struct api *a = app;
	const char *label = api_route_label(req);
	int i;

	for (i = 0; i < a->nlabels; i++)
		if (!strcmp(a->labels[i], label))
			break;
	metrics_request(a->metrics, i, status, seconds);
	if (log_requests())
		log_msg(LOG_INFO, "request: %s %.200s %d %.3f ms", req->method_name
			? req->method_name : router_method_name(req->method), req->path,
			status, seconds * 1e3);
}

/* ---- system and model handlers ----------------------------------------- */

static void h_healthz(struct api *a, const struct http_request *req,
		      struct http_response *resp)
{
	(void)a;
	(void)req;
	reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct api *a, const struct http_request *req,
		     struct http_response *resp)
{
	int64_t n;
	char err[256];
	int nm = registry_count(a->reg);

	(void)req;
	if (!a->store || store_session_count(a->store, &n, err, sizeof err) != STORE_OK) {
		reply_problem(resp, REPLY_NOT_READY, "the store is not open");
		return;
	}
	if (nm < 1) {
		reply_problem(resp, REPLY_NOT_READY, "no model is loaded (see --models)");
		return;
	}
	reply_json(resp, 200, json_pack("{s:s, s:i}", "status", "ready", "models", nm));
}

static void h_metrics(struct api *a, const struct http_request *req,
		      struct http_response *resp)
{
	size_t len;
	char *text;

	(void)req;
	metrics_set_sessions(a->metrics, sessions_count(a->sessions));
	metrics_set_models(a->metrics, registry_count(a->reg));
	text = metrics_render(a->metrics, &len);
	if (!text) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		return;
	}
	http_response_clear(resp);
	resp->status = 200;
	snprintf(resp->content_type, sizeof resp->content_type,
		 "text/plain; version=0.0.4; charset=utf-8");
	resp->body = text;
	resp->body_len = len;
}

/* Member key of the header h as a new reference, or JSON null. */
static json_t *header_member(json_t *h, const char *key)
{
	json_t *v = json_object_get(h, key);

	return v ? json_deep_copy(v) : json_null();
}

/*
 * A model's summary (and its whole header when full is set): what the
 * header says of it, and what its family does through the session
 * contract (struct amz): family, max_dim and batch, has_y (rows carry a
 * target or a label), predicts ("mean", "log_density", "probs" or null),
 * can_sample, standardize (the sessions' default), input (["features"],
 * or ["features", "pixels"] for an image model, with "pixels" its npix),
 * for classification classes (the most a session may have), for a model
 * that predicts a mean whether it gives a variance too (variance), and
 * whether its sessions replay their batches to predict (replay: the
 * implicit regime, with query sets).  New reference.
 */
static json_t *model_json(const struct model *m, int full)
{
	json_t *h = m->header, *o;
	const char *regime = json_string_value(json_object_get(h, "regime"));
	const struct amz *az = &m->az;

	/* the header is shared by every thread: only read from it here */
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:i, s:o, s:o, s:s, s:b, s:o, s:b}",
		      "name", m->name, "task_family", m->family,
		      "family", amz_name(az),
		      "regime", regime ? regime : "parametric",
		      "variant", header_member(h, "variant"),
		      "max_dim", az->dmax, "batch", az->bmax,
		      "passes", header_member(h, "passes"),
		      "steps_trained", header_member(h, "steps_trained"),
		      "checksum", m->checksum, "has_y", az->has_y,
		      "predicts", az->has_mean ? json_string("mean")
				  : az->has_density ? json_string("log_density")
				  : az->has_labels ? json_string("probs")
				  : json_null(),
		      "can_sample", az->can_sample);
	if (o) {
		json_object_set_new(o, "standardize",
				    json_boolean(input_standardize_default(m)));
		json_object_set_new(o, "input", az->npix > 0
				    ? json_pack("[s, s]", "features", "pixels")
				    : json_pack("[s]", "features"));
		if (az->npix > 0)
			json_object_set_new(o, "pixels", json_integer(az->npix));
		if (az->has_labels)
			json_object_set_new(o, "classes", json_integer(az->classes));
		if (az->has_mean)
			json_object_set_new(o, "variance", json_boolean(az->has_var));
		/* an implicit model keeps no adapted state: predict replays
		 * the session's batches, and sessions take query sets */
		json_object_set_new(o, "replay", json_boolean(az->implicit));
	}
	if (o && full)
		json_object_set_new(o, "header", json_deep_copy(h));
	return o;
}

static void h_models(struct api *a, const struct http_request *req,
		     struct http_response *resp)
{
	json_t *list = json_array();
	int i;

	(void)req;
	for (i = 0; list && i < registry_count(a->reg); i++)
		json_array_append_new(list, model_json(registry_at(a->reg, i), 0));
	reply_json(resp, 200, list ? json_pack("{s:o}", "models", list) : NULL);
}

static void h_model(struct api *a, const struct http_request *req,
		    struct http_response *resp)
{
	const struct model *m = registry_find(a->reg, req->params[0]);

	if (!m) {
		reply_problem(resp, REPLY_NOT_FOUND, "no model named '%.64s'", req->params[0]);
		return;
	}
	reply_json(resp, 200, model_json(m, 1));
}
