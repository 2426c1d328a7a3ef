/*
 * metrics.c - counters under one mutex, rendered on demand.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the duration histogram, seconds. */
static const double metrics_buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	30, 60
};
#define NBUCKETS (sizeof metrics_buckets / sizeof metrics_buckets[0])

struct route_stats {
	int status[METRICS_STATUSES_MAX];	/* 0: slot unused */
	uint64_t count[METRICS_STATUSES_MAX];
	uint64_t other;				/* statuses beyond the slots */
	uint64_t bucket[NBUCKETS];		/* not cumulative */
	uint64_t n;
	double sum;
};

struct metrics {
	pthread_mutex_t mu;
	const char *const *routes;
	int nroutes;
	struct route_stats *rs;
	uint64_t steps, rows;
	uint64_t replayed;		/* implicit: batches replayed */
	int64_t sessions, models;
};

struct metrics *metrics_new(const char *const *routes, int nroutes)
{
	struct metrics *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->rs = calloc(nroutes > 0 ? (size_t)nroutes : 1, sizeof *m->rs);
	if (!m->rs || pthread_mutex_init(&m->mu, NULL)) {
		free(m->rs);
		free(m);
		return NULL;
	}
	m->routes = routes;
	m->nroutes = nroutes;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->rs);
	free(m);
}

void metrics_request(struct metrics *m, int r, int status, double seconds)
{
	struct route_stats *s;
	size_t b;
	int i;

	if (r < 0 || r >= m->nroutes)
		return;
	if (!(seconds >= 0))
		seconds = 0;
	pthread_mutex_lock(&m->mu);
	s = &m->rs[r];
	for (i = 0; i < METRICS_STATUSES_MAX; i++) {
		if (s->status[i] == status || s->status[i] == 0) {
			s->status[i] = status;
			s->count[i]++;
			break;
		}
	}
	if (i == METRICS_STATUSES_MAX)
		s->other++;
	for (b = 0; b < NBUCKETS && seconds > metrics_buckets[b]; b++)
		;
	if (b < NBUCKETS)
		s->bucket[b]++;
	s->n++;
	s->sum += seconds;
	pthread_mutex_unlock(&m->mu);
}

void metrics_add_steps(struct metrics *m, int64_t steps, int64_t rows)
{
	pthread_mutex_lock(&m->mu);
	m->steps += (uint64_t)(steps > 0 ? steps : 0);
	m->rows += (uint64_t)(rows > 0 ? rows : 0);
	pthread_mutex_unlock(&m->mu);
}

void metrics_add_replay(struct metrics *m, int64_t batches)
{
	pthread_mutex_lock(&m->mu);
	m->replayed += (uint64_t)(batches > 0 ? batches : 0);
	pthread_mutex_unlock(&m->mu);
}

void metrics_set_sessions(struct metrics *m, int64_t n)
{
	pthread_mutex_lock(&m->mu);
	m->sessions = n;
	pthread_mutex_unlock(&m->mu);
}

void metrics_set_models(struct metrics *m, int64_t n)
{
	pthread_mutex_lock(&m->mu);
	m->models = n;
	pthread_mutex_unlock(&m->mu);
}

/* A growing output buffer; on allocation failure it sets oom and stops. */
struct out {
	char *buf;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t nc = (o->cap + (size_t)n + 1) * 2;
			char *t = realloc(o->buf, nc);

			if (!t) {
				o->oom = 1;
				return;
			}
			o->buf = t;
			o->cap = nc;
		}
	}
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct out o = { NULL, 0, 0, 0 };
	int r, i;
	size_t b;

	o.cap = 4096;
	o.buf = malloc(o.cap);
	if (!o.buf)
		return NULL;
	o.buf[0] = '\0';
	pthread_mutex_lock(&m->mu);
	put(&o, "# HELP amortd_requests_total HTTP requests by route pattern and status.\n"
	    "# TYPE amortd_requests_total counter\n");
	for (r = 0; r < m->nroutes; r++) {
		const struct route_stats *s = &m->rs[r];

		for (i = 0; i < METRICS_STATUSES_MAX && s->status[i]; i++)
			put(&o, "amortd_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
			    m->routes[r], s->status[i], (unsigned long long)s->count[i]);
		if (s->other)
			put(&o, "amortd_requests_total{route=\"%s\",status=\"other\"} %llu\n",
			    m->routes[r], (unsigned long long)s->other);
	}
	put(&o, "# HELP amortd_request_duration_seconds Time from request headers to "
	    "the response sent, by route pattern.\n"
	    "# TYPE amortd_request_duration_seconds histogram\n");
	for (r = 0; r < m->nroutes; r++) {
		const struct route_stats *s = &m->rs[r];
		uint64_t cum = 0;

		if (!s->n)
			continue;
		for (b = 0; b < NBUCKETS; b++) {
			cum += s->bucket[b];
			put(&o, "amortd_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
			    "%llu\n", m->routes[r], metrics_buckets[b],
			    (unsigned long long)cum);
		}
		put(&o, "amortd_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
		    "%llu\n", m->routes[r], (unsigned long long)s->n);
		put(&o, "amortd_request_duration_seconds_sum{route=\"%s\"} %.9g\n",
		    m->routes[r], s->sum);
		put(&o, "amortd_request_duration_seconds_count{route=\"%s\"} %llu\n",
		    m->routes[r], (unsigned long long)s->n);
	}
	put(&o, "# HELP amortd_sessions Sessions in the store.\n"
	    "# TYPE amortd_sessions gauge\n"
	    "amortd_sessions %lld\n", (long long)m->sessions);
	put(&o, "# HELP amortd_steps_applied_total Refinement steps committed.\n"
	    "# TYPE amortd_steps_applied_total counter\n"
	    "amortd_steps_applied_total %llu\n", (unsigned long long)m->steps);
	put(&o, "# HELP amortd_rows_ingested_total Rows of committed steps.\n"
	    "# TYPE amortd_rows_ingested_total counter\n"
	    "amortd_rows_ingested_total %llu\n", (unsigned long long)m->rows);
	put(&o, "# HELP amortd_replayed_batches_total Mini-batches replayed for "
	    "implicit sessions (predict, query sets, batch losses).\n"
	    "# TYPE amortd_replayed_batches_total counter\n"
	    "amortd_replayed_batches_total %llu\n", (unsigned long long)m->replayed);
	put(&o, "# HELP amortd_models_loaded Models in the registry.\n"
	    "# TYPE amortd_models_loaded gauge\n"
	    "amortd_models_loaded %lld\n", (long long)m->models);
	pthread_mutex_unlock(&m->mu);
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
