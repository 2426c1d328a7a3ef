/*
 * api_sessions.c - sessions: create, list, inspect, delete, history,
 * sample.
 */
#include "api_sessions.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/am.h"
#include "family/amz.h"
#include "api_base.h"
#include "input.h"
#include "log.h"
#include "model/model.h"
#include "reply.h"
#include "family/scaler.h"
#include "sessions.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define SEED_MAX INT64_MAX		/* the largest seed a request may give */
#define SEED_DRAWN_BITS 53		/* drawn seeds: exact in any JSON reader */

/* The session object of the API. */
static json_t *session_json(const char *id, const char *model,
			    const char *checksum, const char *regime, int64_t step,
			    int64_t rows, int64_t next_seq, int dim,
			    const char *options, double created, double updated)
{
	char tc[40], tu[40];
	json_t *opt = options ? json_loads(options, 0, NULL) : NULL;

	if (!json_is_object(opt)) {
		json_decref(opt);
		opt = json_object();
	}
	api_time(created, tc, sizeof tc);
	api_time(updated, tu, sizeof tu);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:s, s:s}",
			 "id", id, "model", model, "model_checksum", checksum,
			 "regime", regime, "step", (json_int_t)step, "rows", (json_int_t)rows,
			 "next_seq", (json_int_t)next_seq,
			 "dim", dim > 0 ? json_integer(dim) : json_null(),
			 "options", opt, "created", tc, "updated", tu);
}

static json_t *view_json(const struct session_view *v)
{
	return session_json(v->id, v->model, v->model_checksum, v->regime, v->step,
			    v->rows, v->next_seq, v->dim, v->options, v->created,
			    v->updated);
}

/* Reads ?name= as an integer in [lo, hi] (def when absent).  Returns 0, or
 * -1 with a 400 in resp. */
static int query_int(const struct http_request *req, const char *name,
		     long long lo, long long hi, long long def, long long *out,
		     struct http_response *resp)
{
	const char *q = req->query ? req->query(req, name) : NULL;
	char *end;
	long long v;

	if (!q) {
		*out = def;
		return 0;
	}
	if (!isdigit((unsigned char)*q) || strlen(q) > 18)
		goto bad;
	v = strtoll(q, &end, 10);
	if (*end || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	reply_problem(resp, REPLY_MALFORMED, "?%s must be an integer from %lld to %lld",
		      name, lo, hi);
	return -1;
}

/* ---- create ------------------------------------------------------------ */

/* The options of a new session, as read from a create request. */
struct create_opts {
	int dim;		/* 0: the first batch fixes it */
	int standardize;
	int K;			/* classification: the session's classes */
	int pixels;		/* rows are an image model's pixels */
};

/*
 * Reads the options of a new session on model m into *o: dim (1..dmax, or
 * the model's npix for pixel input), standardize (the model's default when
 * absent), classes (classification: 2..az.classes, default az.classes)
 * and input ("features", or "pixels" for an image model).  Returns 0, or
 * -1 with resp filled (422).
 */
static int read_create_options(const struct model *m, json_t *opts,
			       struct create_opts *o, struct http_response *resp)
{
	static const char *const keys[] = { "dim", "standardize", "classes", "input",
					    NULL };
	const char *in;
	json_t *v;

	o->dim = 0;
	o->standardize = input_standardize_default(m);
	o->K = m->az.has_labels ? m->az.classes : 0;
	o->pixels = 0;
	if (!opts || json_is_null(opts))
		return 0;
	if (!json_is_object(opts)) {
		reply_problem(resp, REPLY_INVALID, "'options' must be an object");
		return -1;
	}
	if (api_only_keys(opts, keys, "options (dim, standardize, classes, input)",
			  resp))
		return -1;
	v = json_object_get(opts, "input");
	if (v && !json_is_null(v)) {
		in = json_string_value(v);
		if (!in || (strcmp(in, "features") && strcmp(in, "pixels"))) {
			reply_problem(resp, REPLY_INVALID, "options.input must be "
				      "\"features\" or \"pixels\"");
			return -1;
		}
		o->pixels = !strcmp(in, "pixels");
		if (o->pixels && m->az.npix < 1) {
			reply_problem(resp, REPLY_INVALID, "options.input \"pixels\" needs an "
				      "image model; model '%s' takes rows of features only",
				      m->name);
			return -1;
		}
	}
	v = json_object_get(opts, "dim");
	if (v && !json_is_null(v)) {
		if (o->pixels) {
			if (!json_is_integer(v) || json_integer_value(v) != m->az.npix) {
				reply_problem(resp, REPLY_INVALID, "with input \"pixels\" a row "
					      "is the %d pixels of model '%s': options.dim "
					      "must be %d or absent", m->az.npix, m->name,
					      m->az.npix);
				return -1;
			}
		} else if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			   json_integer_value(v) > m->az.dmax) {
			reply_problem(resp, REPLY_INVALID, "options.dim must be an integer "
				      "from 1 to %d", m->az.dmax);
			return -1;
		}
		o->dim = (int)json_integer_value(v);
	}
	v = json_object_get(opts, "standardize");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			reply_problem(resp, REPLY_INVALID, "options.standardize must be true "
				      "or false");
			return -1;
		}
		o->standardize = json_is_true(v);
	}
	v = json_object_get(opts, "classes");
	if (v && !json_is_null(v)) {
		if (!m->az.has_labels) {
			reply_problem(resp, REPLY_INVALID, "options.classes is for "
				      "classification models; model '%s' is family %s",
				      m->name, amz_name(&m->az));
			return -1;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 2 ||
		    json_integer_value(v) > m->az.classes) {
			reply_problem(resp, REPLY_INVALID, "options.classes must be an "
				      "integer from 2 to %d (the classes of model '%s')",
				      m->az.classes, m->name);
			return -1;
		}
		o->K = (int)json_integer_value(v);
	}
	return 0;
}

void api_sessions_create(struct api *a, const struct http_request *req,
			 struct http_response *resp)
{
	static const char *const keys[] = { "model", "options", NULL };
	json_t *body, *shown = NULL, *out;
	const struct model *m;
	struct session_view v, created;
	struct create_opts o;
	const char *name, *regime;
	char err[256], *text = NULL;
	int rc;

	body = api_parse_body(req, resp);
	if (!body)
		return;
	if (api_only_keys(body, keys, "a session request (model, options)", resp))
		goto out;
	name = json_string_value(json_object_get(body, "model"));
	if (!name) {
		reply_problem(resp, REPLY_INVALID, "'model' must be the name of a loaded "
			      "model (GET /v1/models)");
		goto out;
	}
	m = registry_find(a->reg, name);
	if (!m) {
		reply_problem(resp, REPLY_NOT_FOUND, "no model named '%.64s' (GET /v1/models "
			      "lists them)", name);
		goto out;
	}
	if (read_create_options(m, json_object_get(body, "options"), &o, resp))
		goto out;
	/* the options as the session shows them (and as batches and predict
	 * read them back): standardize always, dim when it was given, and
	 * for a classification model its classes and input */
	shown = json_pack("{s:b}", "standardize", o.standardize);
	if (shown && o.dim)
		json_object_set_new(shown, "dim", json_integer(o.dim));
	if (shown && m->az.has_labels) {
		json_object_set_new(shown, "classes", json_integer(o.K));
		json_object_set_new(shown, "input", json_string(o.pixels ? "pixels"
								: "features"));
	}
	text = shown ? json_dumps(shown, JSON_COMPACT) : NULL;
	if (!text || strlen(text) >= sizeof v.options) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto out;
	}
	memset(&v, 0, sizeof v);
	regime = json_string_value(json_object_get(m->header, "regime"));
	snprintf(v.model, sizeof v.model, "%s", m->name);
	snprintf(v.model_checksum, sizeof v.model_checksum, "%s", m->checksum);
	snprintf(v.regime, sizeof v.regime, "%s", regime ? regime : "parametric");
	snprintf(v.options, sizeof v.options, "%s", text);
	/* a pixel session's rows are always the model's npix pixels */
	v.dim = o.pixels ? m->az.npix : o.dim;
	v.nstate = m->az.nstate;
	amz_initial_state(&m->az, v.state);
	if (m->az.has_labels) {
		rc = amz_set_classes(&m->az, v.state, o.K);
		AM_ASSERT(rc == AM_OK);		/* K was checked against the model */
	}
	scaler_init(&v.sc, o.standardize);
	rc = sessions_create(a->sessions, &v, &created, err, sizeof err);
	if (rc == SESSIONS_FULL) {
		reply_problem(resp, REPLY_OVERLOADED, "the server holds its maximum of %ld "
			      "sessions; delete some first", a->cfg->max_sessions);
		resp->retry_after = 60;
		goto out;
	}
	if (rc != SESSIONS_OK) {
		log_msg(LOG_ERROR, "creating a session: %s", err);
		reply_problem(resp, REPLY_INTERNAL, "creating the session failed");
		goto out;
	}
	out = view_json(&created);
	reply_json(resp, 201, out);
	if (resp->status == 201)
		snprintf(resp->location, sizeof resp->location, "/v1/sessions/%s", created.id);
	log_msg(LOG_DEBUG, "session %s created on model '%s'", created.id, m->name);
out:
	free(text);
	json_decref(shown);
	json_decref(body);
}

/* ---- list, get, delete ------------------------------------------------- */

struct list_ctx {
	json_t *arr;
	int n;
	char last[STORE_ID_LEN];
};

static void list_one(void *ud, const struct store_session *s)
{
	struct list_ctx *c = ud;

	c->n++;
	json_array_append_new(c->arr, session_json(s->id, s->model, s->model_checksum,
						   s->regime, s->step, s->rows,
						   s->next_seq, s->dim, s->options,
						   s->created, s->updated));
	snprintf(c->last, sizeof c->last, "%s", s->id);
}

/*
 * Replies 200 with one page {KEY: arr, "next": ...}.  arr (stolen) holds
 * one item more than the page when more exists: that item is dropped and
 * "next" is the member CURSOR of the page's last item; otherwise "next" is
 * null.
 */
static void reply_page(struct http_response *resp, const char *key, json_t *arr,
		       int more, const char *cursor)
{
	json_t *last;

	if (!more) {
		reply_json(resp, 200, json_pack("{s:o, s:n}", key, arr, "next"));
		return;
	}
	json_array_remove(arr, json_array_size(arr) - 1);
	last = json_array_get(arr, json_array_size(arr) - 1);
	reply_json(resp, 200, json_pack("{s:o, s:O}", key, arr, "next",
					json_object_get(last, cursor)));
}

void api_sessions_list(struct api *a, const struct http_request *req,
		       struct http_response *resp)
{
	struct list_ctx c;
	const char *after = req->query ? req->query(req, "after") : NULL;
	long long limit;
	char err[256];

	if (query_int(req, "limit", 1, PAGE_MAX, PAGE_DEFAULT, &limit, resp))
		return;
	if (after && strlen(after) >= STORE_ID_LEN) {
		reply_problem(resp, REPLY_MALFORMED, "?after must be a session id");
		return;
	}
	memset(&c, 0, sizeof c);
	c.arr = json_array();
	if (!c.arr) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		return;
	}
	/* one more than asked: whether a next page exists */
	if (store_session_list(a->store, after ? after : "", (int)limit + 1, list_one,
			       &c, err, sizeof err) != STORE_OK) {
		log_msg(LOG_ERROR, "listing sessions: %s", err);
		json_decref(c.arr);
		reply_problem(resp, REPLY_INTERNAL, "listing sessions failed");
		return;
	}
	reply_page(resp, "sessions", c.arr, c.n > limit, "id");
}

void api_sessions_get(struct api *a, const struct http_request *req,
		      struct http_response *resp)
{
	struct session *s = api_session_ref(a, req, resp);
	struct session_view v;

	if (!s)
		return;
	sessions_view(s, &v);
	sessions_put(a->sessions, s);
	reply_json(resp, 200, view_json(&v));
}

void api_sessions_delete(struct api *a, const struct http_request *req,
			 struct http_response *resp)
{
	struct session *s = api_session_ref(a, req, resp);
	char err[256];
	int rc;

	if (!s)
		return;
	sessions_put(a->sessions, s);
	rc = sessions_delete(a->sessions, req->params[0], err, sizeof err);
	switch (rc) {
	case SESSIONS_OK:
		http_response_clear(resp);
		resp->status = 204;
		log_msg(LOG_DEBUG, "session %s deleted", req->params[0]);
		break;
	case SESSIONS_NOTFOUND:
		reply_problem(resp, REPLY_NOT_FOUND, "no session '%s'", req->params[0]);
		break;
	case SESSIONS_BUSY:
		reply_problem(resp, REPLY_BUSY, "session %s is busy with another request; "
			      "retry", req->params[0]);
		resp->retry_after = 1;
		break;
	default:
		log_msg(LOG_ERROR, "deleting session %s: %s", req->params[0], err);
		reply_problem(resp, REPLY_INTERNAL, "deleting the session failed");
		break;
	}
}

/* ---- history ----------------------------------------------------------- */

struct hist_ctx {
	json_t *arr;
	int n;
	int64_t last;
};

static void hist_one(void *ud, const struct store_batch *b)
{
	struct hist_ctx *c = ud;
	char t[40];

	c->n++;
	c->last = b->step;
	api_time(b->time, t, sizeof t);
	/* losses an implicit session did not compute are null */
	json_array_append_new(c->arr, json_pack(
		"{s:I, s:o, s:i, s:o, s:o, s:s}", "step", (json_int_t)b->step,
		"seq", b->seq >= 0 ? json_integer(b->seq) : json_null(), "rows", b->rows,
		"loss_before", b->no_losses ? json_null() : json_real(b->loss_before),
		"loss_after", b->no_losses ? json_null() : json_real(b->loss_after),
		"time", t));
}

void api_sessions_history(struct api *a, const struct http_request *req,
			  struct http_response *resp)
{
	struct session *s;
	struct hist_ctx c;
	long long after, limit;
	char err[256];
	int rc;

	if (query_int(req, "after", 0, INT64_MAX / 2, 0, &after, resp) ||
	    query_int(req, "limit", 1, PAGE_MAX, PAGE_DEFAULT, &limit, resp))
		return;
	s = api_session_ref(a, req, resp);
	if (!s)
		return;
	sessions_put(a->sessions, s);
	memset(&c, 0, sizeof c);
	c.arr = json_array();
	if (!c.arr) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		return;
	}
	rc = store_history(a->store, req->params[0], after, (int)limit + 1, hist_one, &c,
			   err, sizeof err);
	if (rc != STORE_OK) {
		log_msg(LOG_ERROR, "history of session %s: %s", req->params[0], err);
		json_decref(c.arr);
		reply_problem(resp, REPLY_INTERNAL, "reading the history failed");
		return;
	}
	reply_page(resp, "history", c.arr, c.n > limit, "step");
}

/* ---- sample ------------------------------------------------------------ */

/*
 * Reads the sample request's members: n in 1..max_samples and seed, an
 * integer 0..SEED_MAX (*has_seed 0 when absent or null).  Returns 0, or
 * -1 with resp filled (422).
 */
static int read_sample_request(json_t *body, int max_samples, int *n,
			       uint64_t *seed, int *has_seed,
			       struct http_response *resp)
{
	json_t *jn = json_object_get(body, "n"), *js = json_object_get(body, "seed");

	if (!json_is_integer(jn) || json_integer_value(jn) < 1 ||
	    json_integer_value(jn) > max_samples) {
		reply_problem(resp, REPLY_INVALID, "'n' must be an integer from 1 to %d",
			      max_samples);
		return -1;
	}
	*n = (int)json_integer_value(jn);
	*has_seed = js && !json_is_null(js);
	if (!*has_seed)
		return 0;
	/* jansson reads integers as int64: a larger one never parses, and a
	 * negative one is not a seed */
	if (!json_is_integer(js) || json_integer_value(js) < 0) {
		reply_problem(resp, REPLY_INVALID, "'seed' must be an integer from 0 to "
			      "%lld", (long long)SEED_MAX);
		return -1;
	}
	*seed = (uint64_t)json_integer_value(js);
	return 0;
}

/*
 * A seed for a request that gave none: SEED_DRAWN_BITS random bits, so
 * that the seed the reply returns reads back exactly in any JSON client
 * (even one that holds numbers as doubles).  Returns 0, or -1.
 */
static int draw_seed(uint64_t *seed)
{
	uint64_t r;
	size_t got = 0;

	while (got < sizeof r) {
		ssize_t k = getrandom((char *)&r + got, sizeof r - got, 0);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)k;
	}
	*seed = r & ((UINT64_C(1) << SEED_DRAWN_BITS) - 1);
	return 0;
}

/*
 * Draws n samples of the session's D columns from its state and maps them
 * to the data's units (x = mean + sd * z; scaler.h).  Returns the reply
 * body {"samples": [[..],..], "seed": s} (new reference), or NULL with
 * resp filled (422, 500).
 */
static json_t *sample_json(const struct model *m, const struct session_view *v,
			   int D, int n, uint64_t seed, struct http_response *resp)
{
	struct amz_ws *ws = amz_ws_new(&m->az);
	float *z = malloc((size_t)n * m->az.dmax * sizeof *z);
	json_t *rows = json_array(), *row, *out = NULL;
	int rc, i, j;

	if (!ws || !z || !rows) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto out;
	}
	rc = amz_sample(&m->az, ws, v->state, D, n, seed, z);
	if (rc != AM_OK) {
		log_msg(LOG_ERROR, "session %s: sample: %s", v->id, am_strerror(rc));
		reply_problem(resp, REPLY_INTERNAL, "sampling failed");
		goto out;
	}
	for (i = 0; i < n; i++) {
		row = json_array();
		if (!row || json_array_append_new(rows, row)) {
			reply_problem(resp, REPLY_INTERNAL, "out of memory");
			goto out;
		}
		for (j = 0; j < D; j++) {
			double xv = scaler_unmap_x(&v->sc, j, z[(size_t)i * m->az.dmax + j]);

			if (!(fabs(xv) <= FLT_MAX)) {
				reply_problem(resp, REPLY_INVALID, "sample %d is not finite in "
					      "the data's units", i);
				goto out;
			}
			if (json_array_append_new(row, json_real((float)xv))) {
				reply_problem(resp, REPLY_INTERNAL, "out of memory");
				goto out;
			}
		}
	}
	out = json_pack("{s:O, s:I}", "samples", rows, "seed", (json_int_t)seed);
	if (!out)
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
out:
	json_decref(rows);
	free(z);
	amz_ws_free(ws);
	return out;
}

void api_sessions_sample(struct api *a, const struct http_request *req,
			 struct http_response *resp)
{
	static const char *const keys[] = { "n", "seed", NULL };
	json_t *body, *out;
	struct session *s = NULL;
	struct session_view v;
	const struct model *m;
	uint64_t seed = 0;
	int n, has_seed, D;

	body = api_parse_body(req, resp);
	if (!body)
		return;
	if (api_only_keys(body, keys, "a sample request (n, seed)", resp) ||
	    read_sample_request(body, a->cfg->max_samples, &n, &seed, &has_seed, resp))
		goto out;
	/* read-only, like predict: a copy of the session's fields is all it
	 * uses, so it never waits for a writer and never changes the session */
	s = api_session_ref(a, req, resp);
	if (!s)
		goto out;
	sessions_view(s, &v);
	m = api_session_model(a, &v, resp);
	if (!m)
		goto out;
	if (!m->az.can_sample) {
		/* named by family, as clients match it: "model 'linreg'
		 * cannot sample" */
		reply_problem(resp, REPLY_CANNOT_SAMPLE, "model '%s' cannot sample: "
			      "'%s' %s (use predict)", amz_name(&m->az),
			      m->name, m->az.has_mean ? "is a regression amortizer"
			      : m->az.has_labels ? "is a classifier"
			      : "answers only log-densities");
		goto out;
	}
	/* the rows a sample has: the session's dimension, from its options
	 * or its first batch */
	D = v.dim;
	if (D < 1) {
		reply_problem(resp, REPLY_INVALID, "session %s has no dimension yet: "
			      "give options.dim when creating it, or send a batch first",
			      v.id);
		goto out;
	}
	if (!has_seed && draw_seed(&seed)) {
		log_msg(LOG_ERROR, "getrandom: %s", strerror(errno));
		reply_problem(resp, REPLY_INTERNAL, "drawing a seed failed");
		goto out;
	}
	out = sample_json(m, &v, D, n, seed, resp);
	if (out)
		reply_json(resp, 200, out);
out:
	sessions_put(a->sessions, s);
	json_decref(body);
}
