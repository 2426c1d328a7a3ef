/*
 * test_config.c - defaults, flags in both forms, the configuration file,
 * flags over the file, sizes with suffixes, and every refusal with a
 * message that names the culprit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* Parses a NULL-terminated argument list (argv[0] is added). */
static int parse(struct config *c, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 1;
	va_list ap;

	argv[0] = (char *)"amortd";
	va_start(ap, errlen);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	err[0] = '\0';
	return config_parse(c, argc, argv, err, errlen);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_defaults(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, err, sizeof err, NULL), 0);
	assert_string_equal(c.listen, "127.0.0.1:8080");
	assert_string_equal(c.state_dir, "./var");
	assert_string_equal(c.models, "deploy/models");
	assert_true(c.threads >= 1 && c.threads <= 64);
	assert_int_equal(c.max_body, 8u << 20);
	assert_int_equal(c.max_rows, 10000);
	assert_int_equal(c.max_samples, 10000);
	assert_int_equal(c.max_sessions, 100000);
	assert_int_equal(c.max_connections, 256);
	assert_int_equal(c.timeout_s, 60);
	assert_int_equal(c.synchronous_full, 1);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.log_requests, 0);
	assert_int_equal(c.print_routes, 0);
}

static void test_flags(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, err, sizeof err, "--listen", "127.0.0.1:0",
			       "--state-dir=/tmp/x", "--models", "m", "--threads", "3",
			       "--max-body", "64k", "--max-rows=7", "--max-sessions", "9",
			       "--max-connections", "11", "--timeout", "5",
			       "--synchronous", "normal", "--log-level", "debug",
			       "--log-requests", "--print-routes", NULL), 0);
	assert_string_equal(c.listen, "127.0.0.1:0");
	assert_string_equal(c.state_dir, "/tmp/x");
	assert_string_equal(c.models, "m");
	assert_int_equal(c.threads, 3);
	assert_int_equal(c.max_body, 65536);
	assert_int_equal(c.max_rows, 7);
	assert_int_equal(c.max_sessions, 9);
	assert_int_equal(c.max_connections, 11);
	assert_int_equal(c.timeout_s, 5);
	assert_int_equal(c.synchronous_full, 0);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.log_requests, 1);
	assert_int_equal(c.print_routes, 1);
	assert_int_equal(parse(&c, err, sizeof err, "--max-body", "2M", NULL), 0);
	assert_int_equal(c.max_body, 2u << 20);
	assert_int_equal(parse(&c, err, sizeof err, "--max-body", "1G", NULL), 0);
	assert_int_equal(c.max_body, 1u << 30);
	assert_int_equal(parse(&c, err, sizeof err, "--log-requests=false", NULL), 0);
	assert_int_equal(c.log_requests, 0);
	assert_int_equal(parse(&c, err, sizeof err, "--max-samples=100000", NULL), 0);
	assert_int_equal(c.max_samples, 100000);
	assert_int_equal(parse(&c, err, sizeof err, "--help", NULL), 1);
	assert_int_equal(parse(&c, err, sizeof err, "-h", NULL), 1);
	assert_non_null(strstr(config_usage(), "--max-connections"));
	assert_non_null(strstr(config_usage(), "--max-samples"));
}

static void test_bad_flags(void **state)
{
	static const char *const bad[][3] = {
		{ "--threads", "0", "threads" },
		{ "--threads", "257", "threads" },
		{ "--threads", "3x", "threads" },
		{ "--threads", "", "threads" },
		{ "--max-body", "12", "max-body" },
		{ "--max-body", "2T", "max-body" },
		{ "--max-body", "-1", "max-body" },
		{ "--max-rows", "0", "max-rows" },
		{ "--max-samples", "0", "max-samples" },
		{ "--max-samples", "100001", "max-samples" },
		{ "--max-connections", "99999999", "max-connections" },
		{ "--timeout", "0", "timeout" },
		{ "--synchronous", "off", "synchronous" },
		{ "--log-level", "loud", "log-level" },
		{ "--listen", "8080", "listen" },
		{ "--log-requests=maybe", NULL, "log-requests" },
		{ "--frobnicate", "1", "unknown option '--frobnicate'" },
		{ "stray", NULL, "unexpected argument 'stray'" },
		{ "--models", NULL, "needs a value" },
		{ "--config", "/nonexistent/amortd.conf", "/nonexistent/amortd.conf" },
		{ "--print-routes=yes", NULL, "print-routes" },
	};
	struct config c;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = bad[i][1] ? parse(&c, err, sizeof err, bad[i][0], bad[i][1], NULL)
				   : parse(&c, err, sizeof err, bad[i][0], NULL);

		if (rc != 2 || !strstr(err, bad[i][2]))
			fail_msg("%s %s: rc %d, message '%s'", bad[i][0],
				 bad[i][1] ? bad[i][1] : "", rc, err);
	}
}

static void test_file_and_override(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[64], err[256];
	struct config c;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/amortd.conf", dir);
	write_file(path, "# a comment\n\n  listen = 127.0.0.1:9000  \nmax-rows=20 # trailing\n"
		   "state-dir = /var/lib/amortd\nlog-requests = true\nmax-body = 1M\n");
	assert_int_equal(parse(&c, err, sizeof err, "--config", path, NULL), 0);
	assert_string_equal(c.listen, "127.0.0.1:9000");
	assert_int_equal(c.max_rows, 20);
	assert_string_equal(c.state_dir, "/var/lib/amortd");
	assert_int_equal(c.log_requests, 1);
	assert_int_equal(c.max_body, 1 << 20);
	assert_string_equal(c.config_file, path);
	/* flags win, whether before or after --config */
	assert_int_equal(parse(&c, err, sizeof err, "--max-rows", "30", "--config", path,
			       "--listen=127.0.0.1:1", NULL), 0);
	assert_int_equal(c.max_rows, 30);
	assert_string_equal(c.listen, "127.0.0.1:1");
	assert_string_equal(c.state_dir, "/var/lib/amortd");

	write_file(path, "listen = 127.0.0.1:9000\nmax-rows = lots\n");
	assert_int_equal(parse(&c, err, sizeof err, "--config", path, NULL), 2);
	assert_non_null(strstr(err, "line 2"));
	assert_non_null(strstr(err, "max-rows"));
	write_file(path, "colour = blue\n");
	assert_int_equal(parse(&c, err, sizeof err, "--config", path, NULL), 2);
	assert_non_null(strstr(err, "line 1: unknown setting 'colour'"));
	write_file(path, "listen\n");
	assert_int_equal(parse(&c, err, sizeof err, "--config", path, NULL), 2);
	assert_non_null(strstr(err, "key = value"));
	write_file(path, "config = /etc/other\n");
	assert_int_equal(parse(&c, err, sizeof err, "--config", path, NULL), 2);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_file_and_override),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
