/*
 * http.c - libmicrohttpd wrapped: the only file that includes microhttpd.h.
 *
 * One daemon with an internal thread pool (epoll where available).  Each
 * request gets a struct req_ctx, created on the first call of the access
 * handler (headers in) and freed by the request-completed callback.  A
 * request body is either buffered (up to max_body bytes), streamed to the
 * application's stream ops, or discarded after a refusal.  Refusals known
 * when the headers arrive are answered at once when the client waits for
 * "100 Continue" or announced a body over the limit; otherwise the body is
 * read and dropped first, so the client can read the answer.
 *
 * Connections are counted (connection-notify callback).  Past
 * max_connections a request gets 503 with Retry-After and the connection
 * is closed; libmicrohttpd's own hard limit sits a little higher and
 * refuses further connections at accept.
 *
 * Shutdown (http_stop): the listening socket is closed (quiesce), requests
 * in flight are given up to the connection timeout to finish, and then the
 * daemon stops.
 */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "reply.h"
#include "request.h"

struct http_server {
	struct MHD_Daemon *d;
	struct http_app app;
	struct http_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned requests;		/* in flight (mu) */
	unsigned connections;		/* open (mu) */
	int stopping;			/* mu */
};

enum body_mode {
	BODY_BUFFER = 0,		/* kept for handle() */
	BODY_STREAM,			/* fed to the stream ops */
	BODY_DISCARD,			/* read and dropped */
};

struct req_ctx {
	struct http_server *srv;
	struct MHD_Connection *conn;
	struct http_request req;
	char *path, *method_name, *content_type;
	struct timespec t0;
	enum body_mode mode;
	char *body;
	size_t len, cap;
	void *sctx;			/* the open stream, if any */
	struct http_response resp;
	int have_resp;			/* resp is decided (a refusal) */
	int status;			/* sent */
};

void http_response_json(struct http_response *resp, int status, char *text)
{
	http_response_clear(resp);
	resp->status = status;
	snprintf(resp->content_type, sizeof resp->content_type, "application/json");
	resp->body = text;
	resp->body_len = text ? strlen(text) : 0;
}

/* A problem the HTTP layer decides itself, written by reply.c as every
 * other body is. */
static void layer_problem(struct http_response *resp, enum reply_kind k,
			  const char *detail)
{
	reply_problem(resp, k, "%s", detail);
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static enum http_method parse_method(const char *m)
{
	static const struct {
		const char *name;
		enum http_method m;
	} tab[] = {
		{ "GET", HTTP_GET }, { "POST", HTTP_POST }, { "PUT", HTTP_PUT },
		{ "DELETE", HTTP_DELETE }, { "PATCH", HTTP_PATCH }, { "HEAD", HTTP_HEAD },
		{ "OPTIONS", HTTP_OPTIONS },
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (!strcmp(m, tab[i].name))
			return tab[i].m;
	return HTTP_OTHER;
}

static const char *query_get(const struct http_request *r, const char *key)
{
	const struct req_ctx *c = r->impl;

	return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, key);
}

static void ctx_free(struct req_ctx *c)
{
	http_response_clear(&c->resp);
	free(c->body);
	free(c->content_type);
	free(c->method_name);
	free(c->path);
	free(c);
}

/* Queues c->resp (the body moves to libmicrohttpd). */
static enum MHD_Result send_response(struct req_ctx *c)
{
	struct http_response *r = &c->resp;
	struct MHD_Response *mr;
	enum MHD_Result ret;
	char num[24];
	int stopping;

	if (r->status < 100 || r->status > 599)
		layer_problem(r, REPLY_INTERNAL, "the handler produced no response");
	if (r->body && r->body_len) {
		mr = MHD_create_response_from_buffer_with_free_callback(r->body_len, r->body,
									 free);
		if (mr)
			r->body = NULL;
	} else {
		mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!mr)
		return MHD_NO;
	if (r->content_type[0] && r->status != 204)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	if (r->location[0])
		MHD_add_response_header(mr, MHD_HTTP_HEADER_LOCATION, r->location);
	if (r->allow[0])
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->retry_after > 0) {
		snprintf(num, sizeof num, "%d", r->retry_after);
		MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	MHD_add_response_header(mr, "Cache-Control", "no-store");
	pthread_mutex_lock(&c->srv->mu);
	stopping = c->srv->stopping;
	pthread_mutex_unlock(&c->srv->mu);
	/* going away, or refusing while the body is unread: no keep-alive */
	if (stopping || c->mode == BODY_DISCARD || r->status == 503)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c->conn, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	c->status = r->status;
	return ret;
}

/* Whether the client waits for "100 Continue" before sending its body. */
static int expects_continue(struct MHD_Connection *conn)
{
	const char *e = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_EXPECT);

	return e && !strcasecmp(e, "100-continue");
}

/* The announced body length, or -1 when there is none (chunked). */
static long long content_length(struct MHD_Connection *conn)
{
	const char *s = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	long long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end || v < 0 ? -1 : v;
}

/* Headers are in: sets up c and decides how the body is taken.  Returns
 * 1 when a refusal should be sent right away. */
static int on_headers(struct req_ctx *c, const char *url, const char *method)
{
	struct http_server *srv = c->srv;
	const char *ct = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);
	long long cl = content_length(c->conn);
	unsigned conns;
	int early;

	c->path = strdup(url);
	c->method_name = strdup(method);
	c->content_type = ct ? strdup(ct) : NULL;
	c->req.method = parse_method(method);
	c->req.method_name = c->method_name;
	c->req.path = c->path ? c->path : "";
	c->req.content_type = c->content_type;
	c->req.query = query_get;
	c->req.impl = c;
	if (!c->path || !c->method_name || (ct && !c->content_type)) {
		layer_problem(&c->resp, REPLY_INTERNAL, "out of memory");
		c->have_resp = 1;
		c->mode = BODY_DISCARD;
		return 1;
	}
	early = expects_continue(c->conn) || cl > (long long)srv->cfg.max_body;
	pthread_mutex_lock(&srv->mu);
	conns = srv->connections;
	pthread_mutex_unlock(&srv->mu);
	if (conns > srv->cfg.max_connections) {
		layer_problem(&c->resp, REPLY_OVERLOADED, "too many connections; retry");
		c->resp.retry_after = 1;
		c->have_resp = 1;
		c->mode = BODY_DISCARD;
		return 1;
	}
	if (srv->app.is_stream && srv->app.stream &&
	    srv->app.is_stream(srv->app.app, &c->req)) {
		c->sctx = srv->app.stream->open(srv->app.app, &c->req, &c->resp);
		if (c->sctx) {
			c->mode = BODY_STREAM;
			return 0;
		}
		c->have_resp = 1;
		c->mode = BODY_DISCARD;
		return early;
	}
	if (cl > (long long)srv->cfg.max_body) {
		char d[128];

		snprintf(d, sizeof d, "the body is over the %zu-byte limit",
			 srv->cfg.max_body);
		layer_problem(&c->resp, REPLY_TOO_LARGE, d);
		c->have_resp = 1;
		c->mode = BODY_DISCARD;
		return 1;
	}
	c->mode = BODY_BUFFER;
	return 0;
}

/* A chunk of the body. */
static void on_data(struct req_ctx *c, const char *data, size_t size)
{
	struct http_server *srv = c->srv;

	switch (c->mode) {
	case BODY_BUFFER:
		if (size > srv->cfg.max_body - c->len) {
			char d[128];

			snprintf(d, sizeof d, "the body is over the %zu-byte limit",
				 srv->cfg.max_body);
			layer_problem(&c->resp, REPLY_TOO_LARGE, d);
			c->have_resp = 1;
			c->mode = BODY_DISCARD;
			free(c->body);
			c->body = NULL;
			c->len = c->cap = 0;
			return;
		}
		if (c->len + size > c->cap) {
			size_t nc = c->cap ? c->cap : 4096;
			char *t;

			while (nc < c->len + size)
				nc *= 2;
			if (nc > srv->cfg.max_body)
				nc = srv->cfg.max_body;
			t = realloc(c->body, nc);
			if (!t) {
				layer_problem(&c->resp, REPLY_INTERNAL, "out of memory");
				c->have_resp = 1;
				c->mode = BODY_DISCARD;
				return;
			}
			c->body = t;
			c->cap = nc;
		}
		memcpy(c->body + c->len, data, size);
		c->len += size;
		break;
	case BODY_STREAM:
		if (srv->app.stream->feed(c->sctx, data, size))
			c->mode = BODY_DISCARD;	/* refused: close() answers */
		break;
	case BODY_DISCARD:
		break;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct req_ctx *c = *con_cls;

	(void)version;
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c)
			return MHD_NO;
		c->srv = srv;
		c->conn = conn;
		clock_gettime(CLOCK_MONOTONIC, &c->t0);
		*con_cls = c;
		pthread_mutex_lock(&srv->mu);
		srv->requests++;
		pthread_mutex_unlock(&srv->mu);
		if (on_headers(c, url, method))
			return send_response(c);
		return MHD_YES;
	}
	if (c->status) {		/* answered early: drop what comes */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		on_data(c, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* the whole request is in */
	if (c->sctx) {
		srv->app.stream->close(c->sctx, &c->resp);
		c->sctx = NULL;
	} else if (!c->have_resp) {
		c->req.body = c->body;
		c->req.body_len = c->len;
		srv->app.handle(srv->app.app, &c->req, &c->resp);
	}
	return send_response(c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct req_ctx *c = *con_cls;

	(void)conn;
	if (!c)
		return;
	if (c->sctx) {
		/* the upload ended early (client gone, timeout, shutdown): the
		 * steps committed so far stand */
		struct http_response tmp;

		memset(&tmp, 0, sizeof tmp);
		srv->app.stream->close(c->sctx, &tmp);
		http_response_clear(&tmp);
		c->sctx = NULL;
	}
	if (!c->status)
		c->status = toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? 503 : 499;
	if (srv->app.done)
		srv->app.done(srv->app.app, &c->req, c->status, since(&c->t0));
	ctx_free(c);
	*con_cls = NULL;
	pthread_mutex_lock(&srv->mu);
	srv->requests--;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;

	(void)conn;
	(void)socket_ctx;
	pthread_mutex_lock(&srv->mu);
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		srv->connections++;
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED && srv->connections > 0)
		srv->connections--;
	pthread_mutex_unlock(&srv->mu);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof buf, fmt, ap);
	log_msg(LOG_WARN, "http: %s", buf);
}

/* Splits "ADDR:PORT" or "[ADDR6]:PORT" and resolves it into ss.  Returns
 * 0 or -1 with a message. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			socklen_t *sslen, char *err, size_t errlen)
{
	char host[256], port[16];
	const char *colon;
	struct addrinfo hints, *res = NULL;
	size_t hl;
	int rc;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':')
			goto bad;
		hl = (size_t)(close - listen - 1);
		memcpy(host, listen + 1, hl < sizeof host ? hl : 0);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - listen);
		memcpy(host, listen, hl < sizeof host ? hl : 0);
	}
	if (hl >= sizeof host || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port)
		goto bad;
	host[hl] = '\0';
	snprintf(port, sizeof port, "%s", colon + 1);
	if (strspn(port, "0123456789") != strlen(port) || atol(port) > 65535)
		goto bad;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(hl ? host : NULL, port, &hints, &res);
	if (rc || !res) {
		snprintf(err, errlen, "listen address '%s': %s", listen,
			 rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(err, errlen, "listen address '%s' is not ADDR:PORT", listen);
	return -1;
}

int http_start(struct http_server **out, const struct http_config *cfg,
	       const struct http_app *app, unsigned *port, char *err,
	       size_t errlen)
{
	struct http_server *srv = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen;
	const union MHD_DaemonInfo *info;
	unsigned flags, hard_limit;

	memset(&ss, 0, sizeof ss);
	if (parse_listen(cfg->listen, &ss, &sslen, err, errlen))
		return -1;
	srv = calloc(1, sizeof *srv);
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	srv->app = *app;
	srv->cfg = *cfg;
	srv->cfg.listen = NULL;		/* not kept */
	if (srv->cfg.threads < 1)
		srv->cfg.threads = 1;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
		MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* room above max_connections so that the extra ones get a 503
	 * rather than a reset; every worker needs at least one */
	hard_limit = cfg->max_connections + cfg->max_connections / 4 + 4;
	if (hard_limit < 2 * srv->cfg.threads)
		hard_limit = 2 * srv->cfg.threads;
	srv->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		/* first, so that every message goes through it */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, srv->cfg.threads > 1 ? srv->cfg.threads : 0u,
		MHD_OPTION_CONNECTION_LIMIT, hard_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_END);
	if (!srv->d) {
		snprintf(err, errlen, "cannot listen on %s (address in use, or not "
			 "allowed?)", cfg->listen);
		pthread_cond_destroy(&srv->cv);
		pthread_mutex_destroy(&srv->mu);
		free(srv);
		return -1;
	}
	info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	*out = srv;
	return 0;
}

void http_stop(struct http_server *s)
{
	struct timespec until;
	MHD_socket fd;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_mutex_unlock(&s->mu);
	fd = MHD_quiesce_daemon(s->d);
	/* requests in flight may finish; bounded by the connection timeout */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += s->cfg.timeout_s > 30 ? 30 : s->cfg.timeout_s;
	pthread_mutex_lock(&s->mu);
	while (s->requests > 0) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
			break;
	}
	if (s->requests > 0)
		log_msg(LOG_WARN, "stopping with %u request%s still in flight", s->requests,
			s->requests == 1 ? "" : "s");
	pthread_mutex_unlock(&s->mu);
	MHD_stop_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
