/*
 * store.h - sessions and their batches in SQLite (store.c is the only file
 * that includes sqlite3.h).
 *
 * One database file under the state directory, WAL mode, foreign keys on,
 * STRICT tables, synchronous=FULL unless configured otherwise.  Migrations
 * live in schema/migrations/NNNN_name.sql, are compiled into the binary,
 * and are applied in order inside transactions; PRAGMA user_version records
 * the last one applied.  A database newer than the binary is refused.
 *
 * Every write that must be atomic is one transaction: creating a session,
 * deleting one (with its batches and its query set), committing a
 * refinement step (the batch's rows, the new state and the counters, and
 * the refined states of the session's query set if it has one), and
 * registering a query set (checked against the session's step).  The store is safe to call
 * from many threads: it serialises on one connection.  Ownership is stated
 * per function.  No function prints; errors come back as a status and a
 * message.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_status {
	STORE_OK = 0,
	STORE_NOTFOUND,		/* no such session or batch */
	STORE_CONFLICT,		/* the session changed under us (step mismatch) */
	STORE_ERROR,		/* SQLite or I/O failure; message set */
};

#define STORE_ID_LEN 33		/* 32 hex characters and a NUL */
#define STORE_NAME_LEN 64

struct store_session {
	char id[STORE_ID_LEN];
	char model[STORE_NAME_LEN];
	char model_checksum[9];
	char regime[16];
	int64_t step;		/* refinement steps applied */
	int64_t rows;		/* rows seen */
	int64_t next_seq;	/* the seq the next request must carry */
	int dim;		/* input dimension, 0 until fixed */
	float *state;		/* nstate floats; owned by whoever filled it */
	int nstate;
	char *options;		/* JSON text; owned likewise; may be NULL */
	double created, updated;	/* unix seconds */
};

/* One refinement step as stored. */
struct store_batch {
	int64_t step;		/* the session's step count after it (1-based) */
	int64_t seq;		/* the request's seq, or -1 if none was given */
	int rows;
	int dim;
	const float *x;		/* rows * dim floats (borrowed for writes) */
	const float *y;		/* rows floats, or NULL (generative models) */
	double loss_before, loss_after;
	int no_losses;		/* 1: the losses were not computed (an
				 * implicit session past its replay budget):
				 * both are stored as 0 */
	double time;		/* unix seconds */
};

/*
 * The query set of a session of an implicit model: n query rows as the
 * model sees them (projected, standardized, zero-padded to width floats)
 * and their query states, current at the session's step `step`.
 */
struct store_queries {
	int n;			/* query rows, >= 1 */
	int width;		/* floats per row (the model's dmax) */
	int qstate;		/* floats per query state */
	int64_t step;		/* the session step the states are current at */
	float *x;		/* n * width floats */
	float *qs;		/* n * qstate floats */
	double created, updated;	/* unix seconds */
};

struct store;

/*
 * Opens (creating if needed) the database at path and applies pending
 * migrations.  synchronous_full: 1 for synchronous=FULL, 0 for NORMAL.
 * Returns STORE_OK with *out set, or STORE_ERROR with a message in err.
 */
int store_open(struct store **out, const char *path, int synchronous_full,
	       char *err, size_t errlen);

/* Closes the database; NULL-safe. */
void store_close(struct store *st);

/* Inserts a new session (id must be unique).  Borrowed input. */
int store_session_create(struct store *st, const struct store_session *s,
			 char *err, size_t errlen);

/* Reads a session.  On STORE_OK, out->state and out->options are new
 * allocations the caller frees (store_session_clear). */
int store_session_get(struct store *st, const char *id,
		      struct store_session *out, char *err, size_t errlen);

/* Frees state and options of a session filled by the store. */
void store_session_clear(struct store_session *s);

/* Deletes a session, its batches and its query set.  STORE_NOTFOUND if
 * absent. */
int store_session_delete(struct store *st, const char *id, char *err,
			 size_t errlen);

/*
 * Lists up to limit sessions with id > after (after may be "" for the
 * first page), ordered by id, calling fn for each (the session is borrowed
 * for the call; its state is NOT loaded: state = NULL, nstate = 0).
 * Returns STORE_OK or STORE_ERROR.
 */
int store_session_list(struct store *st, const char *after, int limit,
		       void (*fn)(void *ud, const struct store_session *s),
		       void *ud, char *err, size_t errlen);

/* The number of sessions. */
int store_session_count(struct store *st, int64_t *n, char *err, size_t errlen);

/*
 * Commits one refinement step atomically: inserts the batch and updates
 * the session's state, step, rows, next_seq, dim and updated time from s,
 * provided the stored session still has step == s->step - 1 (otherwise
 * STORE_CONFLICT and nothing changes).  Borrowed input.
 */
int store_commit_step(struct store *st, const struct store_session *s,
		      const struct store_batch *b, char *err, size_t errlen);

/*
 * The same for n >= 1 consecutive steps b[0..n) (steps s->step - n + 1 to
 * s->step) in one transaction: all of them are stored, or none, even if
 * the process dies half way.  A session that has a query set must commit
 * it with its steps (store_commit_steps_q): here that is STORE_CONFLICT.
 * Borrowed input.
 */
int store_commit_steps(struct store *st, const struct store_session *s,
		       const struct store_batch *b, int n, char *err,
		       size_t errlen);

/*
 * store_commit_steps that also writes the refined states of the session's
 * query set, in the same transaction: q->qs (q->n * q->qstate floats) and
 * q->step, which must be s->step; q->updated is its time.  The stored set
 * must be current at s->step - n and have q's shape (STORE_CONFLICT
 * otherwise; nothing changes).  q NULL is store_commit_steps.  Borrowed
 * input.
 */
int store_commit_steps_q(struct store *st, const struct store_session *s,
			 const struct store_batch *b, int n,
			 const struct store_queries *q, char *err,
			 size_t errlen);

/*
 * Registers q as session id's query set, replacing the one it has (the
 * replaced set keeps its created time): in one transaction, provided the
 * session is at step q->step (STORE_CONFLICT otherwise, STORE_NOTFOUND
 * when it does not exist).  *replaced (may be NULL) says whether a set
 * was replaced.  Every float must be finite.  Borrowed input.
 */
int store_queries_put(struct store *st, const char *id,
		      const struct store_queries *q, int *replaced, char *err,
		      size_t errlen);

/*
 * Reads session id's query set.  On STORE_OK out->x and out->qs are new
 * allocations (store_queries_clear frees them).  STORE_NOTFOUND when the
 * session has none (or does not exist); STORE_ERROR for a row that does
 * not match its shape.
 */
int store_queries_get(struct store *st, const char *id,
		      struct store_queries *out, char *err, size_t errlen);

/* Frees what store_queries_get allocated; NULL-safe, idempotent. */
void store_queries_clear(struct store_queries *q);

/* Deletes session id's query set.  STORE_NOTFOUND when it has none. */
int store_queries_delete(struct store *st, const char *id, char *err,
			 size_t errlen);

/*
 * The steps a request with this seq applied: *count and the session's step
 * count after the last of them (*last_step).  *count is 0 when none.
 */
int store_seq_result(struct store *st, const char *id, int64_t seq,
		     int64_t *count, int64_t *last_step, char *err,
		     size_t errlen);

/*
 * History: calls fn for each stored step of the session with step >
 * after, in order, at most limit of them; x and y are NOT loaded (NULL).
 */
int store_history(struct store *st, const char *id, int64_t after, int limit,
		  void (*fn)(void *ud, const struct store_batch *b), void *ud,
		  char *err, size_t errlen);

/*
 * Reads the rows of one stored step (for replay): *x and *y are new
 * allocations the caller frees (y may come back NULL).
 */
int store_batch_rows(struct store *st, const char *id, int64_t step,
		     float **x, float **y, int *rows, int *dim, char *err,
		     size_t errlen);

/* PRAGMA integrity_check: STORE_OK if "ok", otherwise STORE_ERROR with the
 * first complaint in err. */
int store_integrity_check(struct store *st, char *err, size_t errlen);

#endif
