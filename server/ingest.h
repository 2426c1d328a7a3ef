/*
 * ingest.h - POST /v1/sessions/{id}/batches: rows in, refinement steps
 * out, as a JSON body or as an NDJSON stream.
 *
 * Both forms cut the rows into the model's mini-batches of az.bmax rows
 * (the last may be partial) and apply one amz_step per mini-batch;
 * each step (its rows, the new state, the counters) is committed to the
 * store before the response: a JSON request's steps in one transaction, a
 * stream's in groups of steps.  The session's standardization
 * (scaler.h) is fitted on its first mini-batch.  The two forms give the
 * same state for the same rows.
 *
 * Rows carry "y" exactly when the session's model has targets (az.has_y:
 * regression, or classification where y is a class label of the session,
 * an integer 0..K-1; input.h); for a model without (generative) a row with
 * "y" is 422, as is a row without "y" for the others.  A row has 1 to
 * az.dmax values, or exactly the model's npix pixels in [0, 255] for a
 * session whose input is "pixels" (projected before anything else;
 * input.h).  Labels are never standardized.
 *
 * JSON ({"x": [[..],..], "y": [..], "seq": n?}): the whole body is
 * validated, every step is computed in memory, and only then are the
 * steps committed, all in one transaction: a request is applied entirely
 * or not at all, even when the process dies half way.  At most max_rows
 * rows.
 *
 * NDJSON (one {"x": [..], "y": v} or {"x": [..]} per line, seq as
 * ?seq=n): processed as it arrives; memory holds one partial line (at
 * most INGEST_LINE_MAX bytes),
 * one mini-batch and the rows of the steps not yet committed.  Steps are
 * committed in groups, one transaction for up to INGEST_GROUP steps or
 * INGEST_GROUP_SECONDS of them (one fsync per group rather than per step:
 * with synchronous=full the fsync costs more than a step), the last group
 * before the response; readers see the session as of the last group; a crash may lose the steps of the uncommitted group, never
 * part of a step, and the session stays at a mini-batch boundary of the
 * stream.  A bad line stops the stream: the steps before it are committed
 * and stand, the rest is refused, and the problem carries steps_applied,
 * step, rows and line (1-based).  The response lists the losses of the
 * last INGEST_LOSSES_MAX steps.
 *
 * seq: equal to the session's next_seq applies the request and advances
 * next_seq by one (with its first committed step); below it, a request
 * whose steps exist gets its original result again ("duplicate": true)
 * and changes nothing; above it is 409.  Without seq, next_seq stays.
 *
 * Losses are the family's batch loss (amz_step) in standardized units,
 * before (at the input state) and after the step: for regression the mean
 * squared error 1/(2B) sum (yhat - y)^2.
 *
 * Implicit models (az.implicit; replay.h) keep no adapted state, so a
 * step changes only the counters, and two things are computed by replay.
 * The batch losses: the batch's rows, as queries, refined by every
 * earlier step (read back from the store, and the request's own earlier
 * mini-batches) and read out before and after this batch refines them,
 * while (rows seen) x (the model's batch) <= loss-replay; past it, or
 * with loss-replay 0, they are not computed (stored as 0, marked, shown
 * as null).  And the session's query set, if it has one (api_queries.h):
 * loaded once per request with the writer slot held, refined by each
 * step, and committed with the steps in the same transaction
 * (store_commit_steps_q), so it is never behind or ahead of its session;
 * a request refused, or a duplicate seq, leaves it as it was.  An
 * implicit session's values are rounded to float32 before anything else,
 * as they are stored, so that a replay of the stored rows is bit for bit
 * what the step saw.  JSON and NDJSON compute the same losses and the
 * same set, bit for bit.
 *
 * Thread-safe: a request holds its session's writer slot while it runs.
 */
#ifndef INGEST_H
#define INGEST_H

#include <stddef.h>

#include "request.h"

struct api;

#define INGEST_LINE_MAX (64 * 1024)
#define INGEST_LOSSES_MAX 1024
#define INGEST_GROUP 16
#define INGEST_GROUP_SECONDS 0.1

/* The JSON form (a router handler; req->params[0] is the session id). */
void ingest_json(struct api *a, const struct http_request *req,
		 struct http_response *resp);

/* The NDJSON form (open/feed/close, see http.h); app is the struct api. */
void *ingest_stream_open(void *app, const struct http_request *req,
			 struct http_response *resp);
int ingest_stream_feed(void *ctx, const char *data, size_t len);
void ingest_stream_close(void *ctx, struct http_response *resp);

#endif
