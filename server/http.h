/*
 * http.h - the HTTP layer: libmicrohttpd wrapped in one file (http.c).
 *
 * Handlers never see libmicrohttpd.  A request arrives as a struct
 * http_request; a handler fills a struct http_response (both request.h,
 * which handlers, the router and reply.c include instead of this file).
 * Requests whose body must be processed while it arrives (NDJSON batch
 * uploads) use the stream interface: open when the headers are in, feed
 * for each chunk, close when the upload ends.  Everything else gets its whole body, bounded
 * by the configured body limit (413 past it).
 *
 * The HTTP layer owns connections, its thread pool, the body limit, the
 * connection limit and per-connection timeouts.  It never decides what a
 * route does: it asks the router (http_dispatch callbacks below).
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

/* Sets resp to a JSON body: takes ownership of text (malloc'd). */
void http_response_json(struct http_response *resp, int status, char *text);

/*
 * A streamed upload.  open() is called once the headers are in and
 * returns a context, or NULL after filling resp with the refusal (then
 * the upload is discarded).  feed() gets each chunk as it arrives; a
 * non-zero return means the stream is refused from here on: the rest of
 * the upload is read and discarded, and close() is still called.  close()
 * fills resp and frees ctx.
 */
struct http_stream_ops {
	void *(*open)(void *app, const struct http_request *req,
		      struct http_response *resp);
	int (*feed)(void *ctx, const char *data, size_t len);
	void (*close)(void *ctx, struct http_response *resp);
};

/*
 * What the HTTP layer asks of the application for each request.
 *   is_stream: once the headers are in, whether this request is a stream
 *              (then stream ops are used) or a buffered one.
 *   handle:    a buffered request with its whole body.
 *   done:      after a response was sent: route label, status, seconds
 *              (metrics); may be NULL.
 */
struct http_app {
	void *app;
	int (*is_stream)(void *app, const struct http_request *req);
	const struct http_stream_ops *stream;
	void (*handle)(void *app, const struct http_request *req,
		       struct http_response *resp);
	void (*done)(void *app, const struct http_request *req, int status,
		     double seconds);
};

struct http_config {
	const char *listen;		/* "ADDR:PORT"; port 0 picks a free one */
	unsigned threads;		/* worker threads */
	unsigned max_connections;
	unsigned timeout_s;		/* per-connection idle timeout */
	size_t max_body;		/* buffered bodies; larger is 413 */
};

struct http_server;

/* Starts listening and serving.  On success *out is the server and
 * *port the bound port.  Returns 0, or -1 with a message in err. */
int http_start(struct http_server **out, const struct http_config *cfg,
	       const struct http_app *app, unsigned *port, char *err,
	       size_t errlen);

/* Stops accepting, lets in-flight requests finish, and frees the server.
 * NULL-safe. */
void http_stop(struct http_server *s);

#endif
