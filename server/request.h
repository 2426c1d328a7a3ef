/*
 * request.h - what a handler sees of an HTTP exchange: the request it is
 * given (struct http_request) and the response it fills (struct
 * http_response).
 *
 * Plain data, so that handlers, the router and reply.c can be written and
 * tested without the HTTP layer (http.h), which fills a request from
 * libmicrohttpd and sends the response.  A response owns its body; nothing
 * else here owns anything.  Never includes another project header.
 */
#ifndef REQUEST_H
#define REQUEST_H

#include <stddef.h>

enum http_method {
	HTTP_GET = 1, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH, HTTP_HEAD,
	HTTP_OPTIONS, HTTP_OTHER
};

#define HTTP_PARAMS_MAX 4
#define HTTP_PARAM_LEN 128

struct http_request {
	enum http_method method;
	const char *method_name;	/* as sent */
	const char *path;		/* without the query string */
	const char *content_type;	/* NULL if absent */
	const char *body;		/* whole body (not for streams); NULL if none */
	size_t body_len;
	/* path parameters captured by the router, in order ({id}) */
	int nparams;
	char params[HTTP_PARAMS_MAX][HTTP_PARAM_LEN];
	/* query lookup: returns the value of ?key=..., or NULL (borrowed,
	 * valid during the call) */
	const char *(*query)(const struct http_request *r, const char *key);
	void *impl;			/* the HTTP layer's own, do not touch */
};

#define HTTP_CT_LEN 64
#define HTTP_LOCATION_LEN 256

struct http_response {
	int status;
	char content_type[HTTP_CT_LEN];
	char *body;			/* malloc'd, owned by the response; the
					 * HTTP layer frees it after sending */
	size_t body_len;
	char location[HTTP_LOCATION_LEN];	/* Location header when not empty */
	char allow[64];			/* Allow header when not empty (405) */
	int retry_after;		/* Retry-After seconds when > 0 (503) */
};

/* Frees the body of a response; safe on a zeroed struct.  The other
 * members stay as they are. */
void http_response_clear(struct http_response *resp);

#endif
