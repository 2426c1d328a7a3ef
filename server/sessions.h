/*
 * sessions.h - the session cache: sessions in memory, loaded lazily from
 * the store, written through to it, with one writer at a time per session.
 *
 * A session is loaded from the store the first time a request names it
 * (so a restarted daemon resumes every session where it was) and stays
 * cached until it is deleted.  Its state changes only through
 * sessions_commit (or sessions_commit_steps), which writes the steps to the
 * store first and updates memory only when the store said yes: memory never
 * runs ahead of disk.
 *
 * Concurrency: requests hold a reference (sessions_get / sessions_put).
 * Reading a session (sessions_view) takes a short per-session mutex.
 * Changing one (batches, its query set, delete) first takes the session's
 * writer slot (sessions_begin / sessions_end): one writer at a time per
 * session, in any thread, while different sessions proceed in parallel.
 * The slot is a flag under the mutex, not a held mutex, so a streamed
 * upload may take it in one callback and give it back in another.
 * Waiting for the slot is bounded, and never done for a slot a stream
 * holds (see sessions_begin).
 * All functions are thread-safe.
 *
 * A session's state is nstate floats (its model's amz nstate, 1 to
 * AMZ_STATE_MAX), fixed when it is created.  The state blob in the store
 * is those nstate floats followed by the scaler's SCALER_FLOATS
 * (scaler.h).  The cache does not know models: loading a session checks
 * only that its blob is one this server writes (a size in range, a valid
 * scaler) and takes nstate from its size; whether that is the size its
 * model uses is checked where the model is looked up (api_session_model).
 * One exception, through an optional hook that names a model's state size
 * (sessions_set_nstate_hook): a blob written while AMZ_DMAX was 16 ends
 * with the legacy scaler form (SCALER_LEGACY_FLOATS, scaler.h); when its
 * size is the model's nstate plus that, it is read as such, converted in
 * memory, and written in the current form by the next commit.
 *
 * Owns the cached sessions; borrows the store.  Never prints.
 */
#ifndef SESSIONS_H
#define SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "family/amz.h"
#include "family/scaler.h"
#include "store.h"

/* The largest state blob: state floats and the scaler's. */
#define SESSIONS_BLOB_MAX (AMZ_STATE_MAX + SCALER_FLOATS)
#define SESSIONS_OPTIONS_LEN 256

enum sessions_status {
	SESSIONS_OK = 0,
	SESSIONS_NOTFOUND,	/* no such session (or deleted meanwhile) */
	SESSIONS_FULL,		/* max_sessions reached */
	SESSIONS_BUSY,		/* the writer slot was not free in time */
	SESSIONS_STALE,		/* the cached copy was dropped: get it again */
	SESSIONS_CONFLICT,	/* the store disagreed (step mismatch) */
	SESSIONS_ERROR,		/* store or memory failure; message set */
};

/* A copy of a session's fields, taken under its mutex. */
struct session_view {
	char id[STORE_ID_LEN];
	char model[STORE_NAME_LEN];
	char model_checksum[9];
	char regime[16];
	char options[SESSIONS_OPTIONS_LEN];	/* JSON text, as created */
	int64_t step, rows, next_seq;
	int dim;				/* 0 until fixed */
	int nstate;				/* floats of state in use */
	float state[AMZ_STATE_MAX];
	struct scaler sc;
	double created, updated;		/* unix seconds */
};

/* What a committed step changes. */
struct session_update {
	int64_t step, rows, next_seq;
	int dim;
	float state[AMZ_STATE_MAX];	/* the session's nstate floats */
	struct scaler sc;
};

struct sessions;
struct session;

/*
 * Creates the cache over st (borrowed, must outlive it).  max_sessions
 * bounds sessions_create; busy_wait_s bounds sessions_begin.  Returns
 * SESSIONS_OK with *out, or SESSIONS_ERROR with a message.
 */
int sessions_new(struct sessions **out, struct store *st, long max_sessions,
		 double busy_wait_s, char *err, size_t errlen);

/*
 * Sets the hook that tells loading how many state floats the model of a
 * stored session uses: fn(ud, model, checksum) returns that number, or 0
 * when it does not know the model.  A blob is read in the legacy form only
 * when its model is known (a session of a model this server has not
 * loaded cannot be used anyway).  Call it before any request; fn must be
 * thread-safe.  Without a hook only the current form is read.
 */
void sessions_set_nstate_hook(struct sessions *c,
			      int (*fn)(void *ud, const char *model,
					const char *checksum),
			      void *ud);

/* Frees the cache; no reference may be held any more.  NULL-safe. */
void sessions_free(struct sessions *c);

/* The number of sessions in the store (kept in memory). */
int64_t sessions_count(struct sessions *c);

/*
 * Creates a session of model (name, checksum, regime) whose initial view
 * is v (step 0, its nstate and state, scaler, dim and options; id, times
 * and counters are set here).  The id is 32 random hex characters.
 * Returns SESSIONS_OK with *out filled (the created session),
 * SESSIONS_FULL, or SESSIONS_ERROR with a message (also for an nstate
 * outside 1..AMZ_STATE_MAX).
 */
int sessions_create(struct sessions *c, const struct session_view *v,
		    struct session_view *out, char *err, size_t errlen);

/*
 * Finds a session by id, loading it from the store if it is not cached,
 * and takes a reference (release with sessions_put).  Returns SESSIONS_OK
 * with *out; SESSIONS_NOTFOUND; or SESSIONS_ERROR with a message (also for
 * a stored state blob this server does not write: no state floats, more
 * than AMZ_STATE_MAX of them, or an invalid scaler, current or legacy).
 */
int sessions_get(struct sessions *c, const char *id, struct session **out,
		 char *err, size_t errlen);

/* Releases a reference; NULL-safe. */
void sessions_put(struct sessions *c, struct session *s);

/* Copies the session's fields into *v. */
void sessions_view(struct session *s, struct session_view *v);

/*
 * Takes the session's writer slot.  stream is 0 for a request that runs to
 * its end in the calling thread (a JSON batch, a delete) and 1 for an
 * upload that keeps the slot across callbacks (NDJSON).  A caller waits,
 * at most the configured time, only while the slot is held by a request
 * of the first kind: a stream's holder may need the very thread that would
 * wait (the HTTP layer serves many connections per thread), so a slot held
 * by a stream is reported busy at once.  Returns SESSIONS_OK,
 * SESSIONS_BUSY, SESSIONS_NOTFOUND (deleted while waiting) or
 * SESSIONS_STALE (dropped from the cache: put it, get it again).  On OK,
 * release with sessions_end.
 */
int sessions_begin(struct session *s, int stream);

/* Gives the writer slot back. */
void sessions_end(struct session *s);

/*
 * Commits one step (writer slot held): writes b and the session's new
 * fields u to the store in one transaction, then updates the cached copy.
 * u->step must be the session's step + 1.  Returns SESSIONS_OK; on
 * SESSIONS_CONFLICT or SESSIONS_ERROR (message set) nothing changed in
 * memory and the cached copy is dropped so the next request reloads what
 * the store holds.
 */
int sessions_commit(struct sessions *c, struct session *s,
		    const struct session_update *u, const struct store_batch *b,
		    char *err, size_t errlen);

/*
 * The same for n >= 1 consecutive steps b[0..n) in one store transaction
 * (all or none): u holds the session's fields after the last of them, and
 * u->step must be the session's step + n.
 */
int sessions_commit_steps(struct sessions *c, struct session *s,
			  const struct session_update *u,
			  const struct store_batch *b, int n, char *err,
			  size_t errlen);

/*
 * The same, also writing the refined states of the session's query set
 * (an implicit session's; store_commit_steps_q) in the same transaction:
 * q->step must be u->step.  The cache does not hold query sets: they live
 * in the store only.  q NULL is sessions_commit_steps.
 */
int sessions_commit_steps_q(struct sessions *c, struct session *s,
			    const struct session_update *u,
			    const struct store_batch *b, int n,
			    const struct store_queries *q, char *err,
			    size_t errlen);

/*
 * Deletes the session (waits for its writer slot).  Returns SESSIONS_OK,
 * SESSIONS_NOTFOUND, SESSIONS_BUSY or SESSIONS_ERROR with a message.
 */
int sessions_delete(struct sessions *c, const char *id, char *err,
		    size_t errlen);

/* Current time as unix seconds (wall clock). */
double sessions_now(void);

#endif
