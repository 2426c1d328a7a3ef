/*
 * test_http.c - the HTTP layer on a loopback port with a stand-in
 * application: buffered bodies and the body limit (announced and chunked),
 * streamed uploads (fed in pieces, refused at open or half-way), query
 * lookup, response headers, the connection limit (503), the done callback,
 * and a shutdown that lets a request in flight finish; and the systemd
 * readiness datagram (notify.c, the other piece of socket plumbing, has no
 * test binary of its own).  The client is a
 * plain socket speaking HTTP/1.1 with "Connection: close"; every read has a
 * timeout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "notify.h"

/* ---- the stand-in application ------------------------------------------- */

struct app {
	pthread_mutex_t mu;
	int done_calls, last_status;
	char last_path[128];
};

static void set_json(struct http_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_json(struct http_response *resp, int status, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	http_response_json(resp, status, strdup(buf));
}

static void handle(void *app, const struct http_request *req,
		   struct http_response *resp)
{
	const char *q = req->query(req, "a");

	(void)app;
	if (!strcmp(req->path, "/slow")) {
		struct timespec ts = { 0, 300 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (!strcmp(req->path, "/created")) {
		set_json(resp, 201, "{}");
		snprintf(resp->location, sizeof resp->location, "/there");
		return;
	}
	set_json(resp, 200, "{\"method\":\"%s\",\"path\":\"%s\",\"len\":%zu,\"a\":\"%s\","
		 "\"ct\":\"%s\"}", req->method_name, req->path, req->body_len, q ? q : "",
		 req->content_type ? req->content_type : "");
}

static int is_stream(void *app, const struct http_request *req)
{
	(void)app;
	return !strcmp(req->path, "/stream");
}

struct sctx {
	size_t bytes;
	int chunks, refused;
};

static void *s_open(void *app, const struct http_request *req,
		    struct http_response *resp)
{
	struct sctx *c;

	(void)app;
	if (req->query(req, "refuse")) {
		set_json(resp, 404, "{\"refused\":\"at open\"}");
		return NULL;
	}
	c = calloc(1, sizeof *c);
	return c;
}

static int s_feed(void *ctx, const char *data, size_t len)
{
	struct sctx *c = ctx;

	c->bytes += len;
	c->chunks++;
	if (memchr(data, 'X', len)) {
		c->refused = 1;
		return -1;
	}
	return 0;
}

static void s_close(void *ctx, struct http_response *resp)
{
	struct sctx *c = ctx;

	if (c->refused)
		set_json(resp, 422, "{\"refused\":\"in the middle\"}");
	else
		set_json(resp, 200, "{\"bytes\":%zu,\"chunks\":%d}", c->bytes, c->chunks);
	free(c);
}

static const struct http_stream_ops ops = { s_open, s_feed, s_close };

static void done(void *app, const struct http_request *req, int status, double seconds)
{
	struct app *a = app;

	assert_true(seconds >= 0);
	pthread_mutex_lock(&a->mu);
	a->done_calls++;
	a->last_status = status;
	snprintf(a->last_path, sizeof a->last_path, "%s", req->path);
	pthread_mutex_unlock(&a->mu);
}

struct fx {
	struct app a;
	struct http_server *srv;
	unsigned port;
};

static int start(struct fx *f, unsigned max_conn)
{
	struct http_config c;
	struct http_app app;
	char err[256];

	memset(&f->a, 0, sizeof f->a);
	pthread_mutex_init(&f->a.mu, NULL);
	memset(&c, 0, sizeof c);
	c.listen = "127.0.0.1:0";
	c.threads = 2;
	c.max_connections = max_conn;
	c.timeout_s = 5;
	c.max_body = 1024;
	memset(&app, 0, sizeof app);
	app.app = &f->a;
	app.is_stream = is_stream;
	app.stream = &ops;
	app.handle = handle;
	app.done = done;
	if (http_start(&f->srv, &c, &app, &f->port, err, sizeof err))
		return -1;
	return f->port > 0 ? 0 : -1;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	log_init(LOG_ERROR, 0);
	if (!f || start(f, 16))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	http_stop(f->srv);
	pthread_mutex_destroy(&f->a.mu);
	free(f);
	return 0;
}

/* ---- the client ---------------------------------------------------------- */

static int dial(unsigned port)
{
	struct sockaddr_in sa;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;		/* the server may close early */
		p += w;
		n -= (size_t)w;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Reads until the server closes (or 5 s pass); returns the status, with
 * the whole response in out. */
static int read_response(int fd, char *out, size_t outlen)
{
	size_t len = 0;
	ssize_t r;
	int status = 0;

	while (len + 1 < outlen && (r = recv(fd, out + len, outlen - 1 - len, 0)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	sscanf(out, "HTTP/1.%*d %d", &status);
	return status;
}

/* One request with "Connection: close"; body may be NULL. */
static int request(struct fx *f, const char *method, const char *target,
		   const char *headers, const char *body, char *out, size_t outlen)
{
	char head[1024];
	int fd = dial(f->port), status;

	snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Connection: close\r\n%s", method, target, headers ? headers : "");
	if (body)
		snprintf(head + strlen(head), sizeof head - strlen(head),
			 "Content-Length: %zu\r\n", strlen(body));
	strcat(head, "\r\n");
	send_all(fd, head, strlen(head));
	if (body)
		send_all(fd, body, strlen(body));
	status = read_response(fd, out, outlen);
	close(fd);
	return status;
}

/* The body of a response (after the blank line). */
static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p ? p + 4 : "";
}

/* Whether a body is one line of text: a newline at its end, none before. */
static int one_line(const char *body)
{
	const char *nl = strchr(body, '\n');

	return nl && nl[1] == '\0';
}

/* Waits (at most 2 s) until done() has been called n times. */
static void wait_done(struct fx *f, int n)
{
	int i, k = 0;

	for (i = 0; i < 200; i++) {
		pthread_mutex_lock(&f->a.mu);
		k = f->a.done_calls;
		pthread_mutex_unlock(&f->a.mu);
		if (k >= n)
			break;
		sleep_ms(10);
	}
	assert_true(k >= n);
}

/* ---- tests --------------------------------------------------------------- */

static void test_get_and_headers(void **state)
{
	struct fx *f = *state;
	char out[4096];

	assert_int_equal(request(f, "GET", "/x/y?a=%20b&c=1", NULL, NULL, out, sizeof out), 200);
	assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(out, "Cache-Control: no-store\r\n"));
	assert_non_null(strstr(body_of(out), "\"path\":\"/x/y\""));
	assert_non_null(strstr(body_of(out), "\"a\":\" b\""));
	assert_non_null(strstr(body_of(out), "\"method\":\"GET\""));
	assert_int_equal(request(f, "GET", "/created", NULL, NULL, out, sizeof out), 201);
	assert_non_null(strstr(out, "Location: /there\r\n"));
	wait_done(f, 2);
	assert_int_equal(f->a.last_status, 201);
	assert_string_equal(f->a.last_path, "/created");
}

static void test_body_limit(void **state)
{
	struct fx *f = *state;
	char out[4096], big[2048];

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(request(f, "POST", "/p", "Content-Type: application/json\r\n",
				 "{\"k\": 1}", out, sizeof out), 200);
	assert_non_null(strstr(body_of(out), "\"len\":8"));
	assert_non_null(strstr(body_of(out), "\"ct\":\"application/json\""));
	/* announced over the limit: refused at once */
	assert_int_equal(request(f, "POST", "/p", "Content-Type: application/json\r\n", big,
				 out, sizeof out), 413);
	assert_non_null(strstr(out, "Content-Type: application/problem+json\r\n"));
	assert_non_null(strstr(body_of(out), "\"status\":413"));
	assert_non_null(strstr(body_of(out), "\"type\":\"urn:amortd:problem:too-large\""));
	/* the HTTP layer's problems are written by reply.c: one line */
	assert_true(one_line(body_of(out)));
	/* chunked, past the limit half-way: read, dropped, refused */
	{
		int fd = dial(f->port), i;
		char chunk[600];

		send_str(fd, "POST /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n");
		memset(chunk, 'b', sizeof chunk);
		for (i = 0; i < 4; i++) {
			send_str(fd, "258\r\n");	/* 600 bytes */
			send_all(fd, chunk, sizeof chunk);
			send_str(fd, "\r\n");
		}
		send_str(fd, "0\r\n\r\n");
		assert_int_equal(read_response(fd, out, sizeof out), 413);
		close(fd);
	}
	/* exactly at the limit is fine */
	big[1024] = '\0';
	assert_int_equal(request(f, "POST", "/p", NULL, big, out, sizeof out), 200);
	assert_non_null(strstr(body_of(out), "\"len\":1024"));
}

static void test_stream(void **state)
{
	struct fx *f = *state;
	char out[4096], *chunk;
	size_t total = 0;
	int fd, i;

	/* 20 chunks of 5000 bytes, far past max_body: streams are not limited */
	chunk = malloc(5000);
	memset(chunk, 'z', 5000);
	fd = dial(f->port);
	send_str(fd, "POST /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 20; i++) {
		send_str(fd, "1388\r\n");
		send_all(fd, chunk, 5000);
		send_str(fd, "\r\n");
		total += 5000;
	}
	send_str(fd, "0\r\n\r\n");
	assert_int_equal(read_response(fd, out, sizeof out), 200);
	close(fd);
	{
		char want[64];

		snprintf(want, sizeof want, "\"bytes\":%zu", total);
		assert_non_null(strstr(body_of(out), want));
	}
	/* refused half-way: the rest is read and dropped, close() answers */
	chunk[2500] = 'X';
	fd = dial(f->port);
	send_str(fd, "POST /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		 "Content-Length: 15000\r\n\r\n");
	for (i = 0; i < 3; i++)
		send_all(fd, chunk, 5000);
	assert_int_equal(read_response(fd, out, sizeof out), 422);
	close(fd);
	/* refused at open */
	assert_int_equal(request(f, "POST", "/stream?refuse=1", NULL, "abc", out, sizeof out),
			 404);
	assert_non_null(strstr(body_of(out), "at open"));
	/* refused at open, client waiting for 100 Continue: answered at once */
	fd = dial(f->port);
	send_str(fd, "POST /stream?refuse=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		 "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
	assert_int_equal(read_response(fd, out, sizeof out), 404);
	close(fd);
	free(chunk);
}

static void test_connection_limit(void **state)
{
	struct fx g;
	char out[4096];
	int idle;

	(void)state;
	assert_int_equal(start(&g, 1), 0);
	idle = dial(g.port);
	sleep_ms(100);			/* let the daemon accept it */
	assert_int_equal(request(&g, "GET", "/x", NULL, NULL, out, sizeof out), 503);
	assert_non_null(strstr(out, "Retry-After: 1\r\n"));
	assert_non_null(strstr(body_of(out), "urn:amortd:problem:overloaded"));
	close(idle);
	sleep_ms(100);
	assert_int_equal(request(&g, "GET", "/x", NULL, NULL, out, sizeof out), 200);
	http_stop(g.srv);
	pthread_mutex_destroy(&g.a.mu);
}

struct slow {
	struct fx *f;
	int status;
	char out[4096];
};

static void *slow_request(void *arg)
{
	struct slow *s = arg;

	s->status = request(s->f, "GET", "/slow", NULL, NULL, s->out, sizeof s->out);
	return NULL;
}

static void test_stop_finishes_in_flight(void **state)
{
	struct fx g;
	struct slow s;
	pthread_t th;

	(void)state;
	assert_int_equal(start(&g, 16), 0);
	s.f = &g;
	s.status = 0;
	assert_int_equal(pthread_create(&th, NULL, slow_request, &s), 0);
	sleep_ms(100);			/* the handler is sleeping now */
	http_stop(g.srv);
	pthread_join(th, NULL);
	assert_int_equal(s.status, 200);
	assert_int_equal(g.a.done_calls, 1);
	pthread_mutex_destroy(&g.a.mu);
}

static void test_bad_listen(void **state)
{
	static const char *const bad[] = {
		"nope", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "[::1", "300.1.1.1:80",
	};
	struct http_server *srv = NULL;
	struct http_config c;
	struct http_app app;
	char err[256];
	unsigned port;
	size_t i;

	(void)state;
	memset(&c, 0, sizeof c);
	memset(&app, 0, sizeof app);
	app.handle = handle;
	c.threads = 1;
	c.max_connections = 4;
	c.timeout_s = 1;
	c.max_body = 1024;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c.listen = bad[i];
		err[0] = '\0';
		if (http_start(&srv, &c, &app, &port, err, sizeof err) == 0) {
			http_stop(srv);
			fail_msg("'%s' was accepted", bad[i]);
		}
		assert_true(err[0] != '\0');
	}
	http_stop(NULL);
}

/* Receives one datagram on a bound AF_UNIX socket (1 s at most). */
static int recv_dgram(int fd, char *buf, size_t len)
{
	struct timeval tv = { 1, 0 };
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	n = recv(fd, buf, len - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static void test_notify(void **state)
{
	struct sockaddr_un sa;
	char name[64], buf[64], dir[] = "/tmp/test_notify.XXXXXX";
	socklen_t len;
	int fd;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(notify_send("READY=1"), 0);

	/* an abstract socket, written "@name" */
	snprintf(name, sizeof name, "@amortd-test-%ld", (long)getpid());
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_send("READY=1"), 1);
	assert_int_equal(recv_dgram(fd, buf, sizeof buf), 0);
	assert_string_equal(buf, "READY=1");
	assert_int_equal(notify_send("STOPPING=1"), 1);
	assert_int_equal(recv_dgram(fd, buf, sizeof buf), 0);
	assert_string_equal(buf, "STOPPING=1");
	close(fd);

	/* a socket in the file system */
	assert_non_null(mkdtemp(dir));
	snprintf(name, sizeof name, "%s/notify", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, name);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_send("READY=1"), 1);
	assert_int_equal(recv_dgram(fd, buf, sizeof buf), 0);
	assert_string_equal(buf, "READY=1");
	close(fd);
	unlink(name);
	rmdir(dir);

	/* nobody listening, or not a socket name: an error, never a crash */
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_send("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(notify_send("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_stop_finishes_in_flight),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_notify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
