/*
 * metrics.h - the daemon's counters, rendered in the Prometheus text format
 * (version 0.0.4).
 *
 * Series:
 *   amortd_requests_total{route,status}          counter
 *   amortd_request_duration_seconds{route}       histogram
 *   amortd_sessions                              gauge
 *   amortd_steps_applied_total                   counter
 *   amortd_rows_ingested_total                   counter
 *   amortd_replayed_batches_total                counter
 *   amortd_models_loaded                         gauge
 * Routes are a fixed set of labels given at creation (route patterns such
 * as "/v1/sessions/{id}", never raw paths), so the number of series is
 * bounded: routes x the statuses seen (at most METRICS_STATUSES_MAX
 * distinct statuses per route; more are counted under status "other").
 *
 * Owns its tables.  Every function is thread-safe (one mutex).
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_STATUSES_MAX 16

struct metrics;

/*
 * Creates the counters for nroutes route labels (borrowed: the strings
 * must outlive the metrics; they are printed as label values and must not
 * contain '"', '\\' or newlines).  Returns NULL when out of memory.
 */
struct metrics *metrics_new(const char *const *routes, int nroutes);

/* Frees everything; NULL-safe. */
void metrics_free(struct metrics *m);

/* Counts one request on route index r (0..nroutes-1; others are ignored)
 * with its status and duration in seconds. */
void metrics_request(struct metrics *m, int r, int status, double seconds);

/* Adds to the steps-applied and rows-ingested counters. */
void metrics_add_steps(struct metrics *m, int64_t steps, int64_t rows);

/* Adds to the replayed-batches counter (implicit sessions). */
void metrics_add_replay(struct metrics *m, int64_t batches);

/* Sets the gauges. */
void metrics_set_sessions(struct metrics *m, int64_t n);
void metrics_set_models(struct metrics *m, int64_t n);

/* Renders every series.  Returns a new NUL-terminated string (caller
 * frees) and its length in *len, or NULL when out of memory. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
