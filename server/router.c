/*
 * router.c - segment-by-segment pattern matching.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

const char *router_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return "GET";
	case HTTP_POST: return "POST";
	case HTTP_PUT: return "PUT";
	case HTTP_DELETE: return "DELETE";
	case HTTP_PATCH: return "PATCH";
	case HTTP_HEAD: return "HEAD";
	case HTTP_OPTIONS: return "OPTIONS";
	case HTTP_OTHER: break;
	}
	return "OTHER";
}

int router_path_matches(const char *pattern, const char *path,
			struct http_request *req)
{
	const char *p = pattern, *s = path;
	int np = 0;

	for (;;) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t n = strcspn(s, "/");

			if (!close || n == 0 || n >= HTTP_PARAM_LEN || np >= HTTP_PARAMS_MAX)
				return 0;
			if (req) {
				memcpy(req->params[np], s, n);
				req->params[np][n] = '\0';
			}
			np++;
			p = close + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return 0;
		if (!*p)
			break;
		p++;
		s++;
	}
	if (req)
		req->nparams = np;
	return 1;
}

int router_match(const struct router_route *routes, int n,
		 enum http_method method, const char *path,
		 struct http_request *req, char *allow, size_t allowlen)
{
	enum http_method want = method == HTTP_HEAD ? HTTP_GET : method;
	size_t len = 0;
	int i, seen = 0;

	for (i = 0; i < n; i++) {
		if (routes[i].method == want && router_path_matches(routes[i].pattern, path, req))
			return i;
	}
	if (allow && allowlen)
		allow[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!router_path_matches(routes[i].pattern, path, NULL))
			continue;
		if (allow && len < allowlen) {
			int k = snprintf(allow + len, allowlen - len, "%s%s%s",
					 seen ? ", " : "", router_method_name(routes[i].method),
					 routes[i].method == HTTP_GET ? ", HEAD" : "");

			len += k > 0 ? (size_t)k : 0;
		}
		seen = 1;
	}
	return seen ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}
