/*
 * replay.h - the implicit regime's replay: query states refined by a
 * session's mini-batches, in step order, exactly as the model saw them.
 *
 * An implicit session keeps no adapted parameters (amz.h, "Implicit
 * models"): what it has learnt is its history.  A prediction at new
 * points starts from the model's initial query states (amz_query_init),
 * is refined by every stored mini-batch in step order (amz_query_step,
 * with the rows the session had seen before that batch), and is read out
 * (amz_query_probs, amz_query_mean).  The same refinement, one batch at a
 * time, keeps a session's query set current and gives an implicit
 * session's batch losses (ingest.c).
 *
 * What the model saw.  A stored batch keeps its rows as they were sent
 * (raw features or pixels as float32, raw targets or labels; input.h), so
 * replay maps them as ingest maps a batch before its step: pixel rows
 * projected to the model's features, then the session's scaler (fitted on
 * its first batch and fixed from then on), labels unscaled, zero-padded
 * to the model's dmax.  Ingest rounds an implicit session's values to
 * float32 before it maps them, as they are stored: the rows a replay maps
 * are then the very rows the live step mapped, bit for bit.
 *
 * Cost: each stored batch runs through the refiner once per chunk of
 * queries, its rows attended by every query, so a replay costs about
 * (rows stored) x (query rows, counted as at least a batch: a chunk of a
 * few queries costs about as much as a chunk of a batch of them) and
 * grows with the history; the API bounds it (config: max-replay,
 * loss-replay).
 *
 * A struct replay is one request's scratch, used by one thread; it
 * borrows the model and the store.  Never prints.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "input.h"
#include "family/scaler.h"

struct model;
struct store;
struct amz_ws;

enum replay_status {
	REPLAY_OK = 0,
	REPLAY_NOTFOUND,	/* the session (or one of its steps) is gone */
	REPLAY_NUMERIC,		/* the query states would become non-finite */
	REPLAY_ERROR,		/* store, memory or a corrupt stored batch */
};

struct replay {
	const struct model *m;		/* borrowed */
	struct input in;		/* what the session's rows are */
	struct scaler sc;		/* the session's (set it before mapping) */
	const float *state;		/* the session's state (clf: its K);
					 * borrowed */
	struct amz_ws *ws;
	float *X, *y;			/* one mapped batch: bmax x dmax, bmax */
	double *pix;			/* one pixel row (in.width), pixels only */
	int B, D;			/* rows and active columns in X */
	int64_t steps;			/* batches replayed (for metrics) */
};

/* Sets r up for the sessions of model m whose rows are in (both borrowed,
 * copied), with the scaler sc (copied) and state (borrowed: must outlive
 * r).  Returns 0, or -1 when out of memory (r is then safe to free). */
int replay_init(struct replay *r, const struct model *m, const struct input *in,
		const struct scaler *sc, const float *state);

/* Frees r's scratch; safe on a zeroed or failed struct. */
void replay_free(struct replay *r);

/*
 * Maps one batch as stored (rows x dim raw floats x, rows raw targets or
 * labels y) into r->X, r->y, r->B and r->D as the model saw it.  Returns
 * REPLAY_OK, or REPLAY_ERROR with a message (a shape that is not the
 * session's, a value beyond single precision after scaling).
 */
int replay_map(struct replay *r, const float *x, const float *y, int rows,
	       int dim, char *err, size_t errlen);

/*
 * Refines the states qs (n x qstate) of the query rows Q (n x dmax) by
 * the batch mapped in r (replay_map), seen after rows_seen rows.  qs is
 * unchanged unless REPLAY_OK; REPLAY_NUMERIC or REPLAY_ERROR with a
 * message otherwise.
 */
int replay_step(struct replay *r, const float *Q, int n, float *qs,
		double rows_seen, char *err, size_t errlen);

/*
 * Refines qs (n x qstate, rows Q) by the stored steps 1..upto of session
 * id, in order, reading one batch at a time; *rows_seen (may be NULL)
 * gets the rows of those steps.  Returns REPLAY_OK, REPLAY_NOTFOUND (the
 * session was deleted meanwhile), REPLAY_NUMERIC or REPLAY_ERROR, with a
 * message; qs is then partly refined and must be thrown away.
 */
int replay_stored(struct replay *r, struct store *st, const char *id,
		  int64_t upto, const float *Q, int n, float *qs,
		  double *rows_seen, char *err, size_t errlen);

#endif
