/*
 * test_router.c - pattern matching, captures, 404 against 405 and the
 * Allow list, HEAD served by GET, and oversize or empty segments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "router.h"

static const struct router_route routes[] = {
	{ HTTP_GET, "/healthz", NULL, 0 },
	{ HTTP_POST, "/v1/sessions", NULL, 0 },
	{ HTTP_GET, "/v1/sessions", NULL, 0 },
	{ HTTP_GET, "/v1/sessions/{id}", NULL, 0 },
	{ HTTP_DELETE, "/v1/sessions/{id}", NULL, 0 },
	{ HTTP_POST, "/v1/sessions/{id}/batches", NULL, 1 },
	{ HTTP_GET, "/v1/a/{x}/b/{y}", NULL, 0 },
};
#define N ((int)(sizeof routes / sizeof routes[0]))

static void test_literal_and_captures(void **state)
{
	struct http_request r;
	char allow[64];

	(void)state;
	memset(&r, 0, sizeof r);
	assert_int_equal(router_match(routes, N, HTTP_GET, "/healthz", &r, allow, sizeof allow), 0);
	assert_int_equal(r.nparams, 0);
	assert_int_equal(router_match(routes, N, HTTP_GET, "/v1/sessions", &r, allow,
				      sizeof allow), 2);
	assert_int_equal(router_match(routes, N, HTTP_POST, "/v1/sessions", &r, allow,
				      sizeof allow), 1);
	assert_int_equal(router_match(routes, N, HTTP_DELETE, "/v1/sessions/abc", &r, allow,
				      sizeof allow), 4);
	assert_int_equal(r.nparams, 1);
	assert_string_equal(r.params[0], "abc");
	assert_int_equal(router_match(routes, N, HTTP_POST, "/v1/sessions/abc/batches", &r,
				      allow, sizeof allow), 5);
	assert_string_equal(r.params[0], "abc");
	assert_int_equal(router_match(routes, N, HTTP_GET, "/v1/a/1/b/22", &r, allow,
				      sizeof allow), 6);
	assert_int_equal(r.nparams, 2);
	assert_string_equal(r.params[0], "1");
	assert_string_equal(r.params[1], "22");
	/* HEAD is served by the GET route */
	assert_int_equal(router_match(routes, N, HTTP_HEAD, "/v1/sessions/abc", &r, allow,
				      sizeof allow), 3);
}

static void test_not_found(void **state)
{
	static const char *const paths[] = {
		"/", "", "/healthz/", "/healthzz", "/v1/session", "/v1/sessions/",
		"/v1/sessions//batches", "/v1/sessions/abc/batches/", "/v1/sessions/a/b",
		"/v1/a/1/b", "/v1/a//b/2", "/V1/sessions",
	};
	struct http_request r;
	char allow[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		memset(&r, 0, sizeof r);
		if (router_match(routes, N, HTTP_GET, paths[i], &r, allow, sizeof allow) !=
		    ROUTER_NOT_FOUND)
			fail_msg("'%s' matched", paths[i]);
	}
}

static void test_wrong_method_allow(void **state)
{
	struct http_request r;
	char allow[64];

	(void)state;
	memset(&r, 0, sizeof r);
	assert_int_equal(router_match(routes, N, HTTP_PUT, "/v1/sessions/abc", &r, allow,
				      sizeof allow), ROUTER_BAD_METHOD);
	assert_string_equal(allow, "GET, HEAD, DELETE");
	assert_int_equal(router_match(routes, N, HTTP_DELETE, "/healthz", &r, allow,
				      sizeof allow), ROUTER_BAD_METHOD);
	assert_string_equal(allow, "GET, HEAD");
	assert_int_equal(router_match(routes, N, HTTP_GET, "/v1/sessions/x/batches", &r,
				      allow, sizeof allow), ROUTER_BAD_METHOD);
	assert_string_equal(allow, "POST");
	assert_int_equal(router_match(routes, N, HTTP_OTHER, "/v1/sessions", &r, allow,
				      sizeof allow), ROUTER_BAD_METHOD);
	assert_string_equal(allow, "POST, GET, HEAD");
	/* a small buffer is cut, never overrun */
	assert_int_equal(router_match(routes, N, HTTP_PUT, "/v1/sessions", &r, allow, 6),
			 ROUTER_BAD_METHOD);
	assert_int_equal(strlen(allow), 5);
	assert_int_equal(router_match(routes, N, HTTP_PUT, "/v1/sessions", NULL, NULL, 0),
			 ROUTER_BAD_METHOD);
}

static void test_long_segment(void **state)
{
	struct http_request r;
	char path[512], allow[64];

	(void)state;
	memset(&r, 0, sizeof r);
	strcpy(path, "/v1/sessions/");
	memset(path + 13, 'a', HTTP_PARAM_LEN - 1);
	path[13 + HTTP_PARAM_LEN - 1] = '\0';
	assert_int_equal(router_match(routes, N, HTTP_GET, path, &r, allow, sizeof allow), 3);
	assert_int_equal(strlen(r.params[0]), HTTP_PARAM_LEN - 1);
	strcat(path, "a");
	assert_int_equal(router_match(routes, N, HTTP_GET, path, &r, allow, sizeof allow),
			 ROUTER_NOT_FOUND);
}

static void test_method_names(void **state)
{
	(void)state;
	assert_string_equal(router_method_name(HTTP_GET), "GET");
	assert_string_equal(router_method_name(HTTP_DELETE), "DELETE");
	assert_string_equal(router_method_name(HTTP_OTHER), "OTHER");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_and_captures),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_wrong_method_allow),
		cmocka_unit_test(test_long_segment),
		cmocka_unit_test(test_method_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
