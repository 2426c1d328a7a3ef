/*
 * test_metrics.c - the Prometheus text: counters by route and status,
 * cumulative histogram buckets, gauges, bounded series, and counting from
 * many threads at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static const char *const routes[] = { "/healthz", "/v1/sessions/{id}", "unmatched" };

static void test_render(void **state)
{
	struct metrics *m = metrics_new(routes, 3);
	size_t len;
	char *t;

	(void)state;
	assert_non_null(m);
	metrics_request(m, 0, 200, 0.0005);
	metrics_request(m, 0, 200, 0.003);
	metrics_request(m, 1, 404, 0.2);
	metrics_request(m, 7, 200, 0.1);	/* out of range: ignored */
	metrics_request(m, -1, 200, 0.1);
	metrics_add_steps(m, 3, 70);
	metrics_set_sessions(m, 4);
	metrics_set_models(m, 2);
	t = metrics_render(m, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_non_null(strstr(t, "# TYPE amortd_requests_total counter\n"));
	assert_non_null(strstr(t, "amortd_requests_total{route=\"/healthz\",status=\"200\"} 2\n"));
	assert_non_null(strstr(t, "amortd_requests_total{route=\"/v1/sessions/{id}\","
			       "status=\"404\"} 1\n"));
	assert_null(strstr(t, "route=\"unmatched\",status"));
	assert_non_null(strstr(t, "# TYPE amortd_request_duration_seconds histogram\n"));
	assert_non_null(strstr(t, "amortd_request_duration_seconds_bucket{route=\"/healthz\","
			       "le=\"0.001\"} 1\n"));
	assert_non_null(strstr(t, "amortd_request_duration_seconds_bucket{route=\"/healthz\","
			       "le=\"0.005\"} 2\n"));
	assert_non_null(strstr(t, "amortd_request_duration_seconds_bucket{route=\"/healthz\","
			       "le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(t, "amortd_request_duration_seconds_count{route=\"/healthz\"} 2\n"));
	assert_non_null(strstr(t, "amortd_request_duration_seconds_sum{route=\"/healthz\"} 0.0035\n"));
	assert_non_null(strstr(t, "amortd_request_duration_seconds_bucket{route=\"/v1/sessions/"
			       "{id}\",le=\"0.1\"} 0\n"));
	assert_non_null(strstr(t, "amortd_request_duration_seconds_bucket{route=\"/v1/sessions/"
			       "{id}\",le=\"0.25\"} 1\n"));
	assert_non_null(strstr(t, "amortd_sessions 4\n"));
	assert_non_null(strstr(t, "amortd_steps_applied_total 3\n"));
	assert_non_null(strstr(t, "amortd_rows_ingested_total 70\n"));
	assert_non_null(strstr(t, "amortd_models_loaded 2\n"));
	free(t);
	metrics_free(m);
	metrics_free(NULL);
}

static void test_statuses_bounded(void **state)
{
	struct metrics *m = metrics_new(routes, 3);
	size_t len;
	char *t;
	int s;

	(void)state;
	for (s = 0; s < METRICS_STATUSES_MAX + 5; s++)
		metrics_request(m, 2, 400 + s, 1e9);
	t = metrics_render(m, &len);
	assert_non_null(strstr(t, "amortd_requests_total{route=\"unmatched\",status=\"other\"} 5\n"));
	/* a duration past the last bound lands in +Inf only */
	assert_non_null(strstr(t, "{route=\"unmatched\",le=\"60\"} 0\n"));
	assert_non_null(strstr(t, "{route=\"unmatched\",le=\"+Inf\"} 21\n"));
	free(t);
	metrics_free(m);
}

static void *hammer(void *arg)
{
	struct metrics *m = arg;
	int i;

	for (i = 0; i < 10000; i++) {
		metrics_request(m, i % 2, 200, 0.002);
		metrics_add_steps(m, 1, 2);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct metrics *m = metrics_new(routes, 3);
	pthread_t th[4];
	size_t len;
	char *t;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, m), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	t = metrics_render(m, &len);
	assert_non_null(strstr(t, "amortd_requests_total{route=\"/healthz\",status=\"200\"} 20000\n"));
	assert_non_null(strstr(t, "amortd_steps_applied_total 40000\n"));
	assert_non_null(strstr(t, "amortd_rows_ingested_total 80000\n"));
	free(t);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_statuses_bounded),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
