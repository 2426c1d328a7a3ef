/*
 * store.c - sessions and their batches in SQLite (the contract is store.h).
 *
 * Locking.  One connection, opened with SQLITE_OPEN_NOMUTEX and serialised
 * by our own pthread mutex.  SQLite's FULLMUTEX would serialise single API
 * calls only, and that is not enough: a commit is several calls (BEGIN
 * IMMEDIATE, a read, two writes, COMMIT) that must not interleave with
 * another thread's, and the message of a failed call must be read before
 * another thread's call replaces it.  With our mutex around every use of
 * the connection, SQLite's own per-connection mutex would be pure cost.
 *
 * Statements.  Every statement the public functions run is prepared once at
 * open (SQLITE_PREPARE_PERSISTENT) and reset and unbound right after each
 * use, so no read transaction outlives the call that opened it (a statement
 * left active would pin its WAL snapshot and hold checkpoints back) and no
 * binding points at a buffer that has been freed.
 *
 * Floats.  Blobs hold IEEE-754 binary32 in little-endian byte order, moved
 * through a uint32_t and written byte by byte, so the file reads the same on
 * any host.  Reads check every blob's length against the shape stored beside
 * it (and every text against the struct field it goes into) before copying:
 * a corrupt row is STORE_ERROR, never an overflow.
 *
 * Callbacks.  store_session_list and store_history copy their rows out
 * under the lock and call fn after releasing it: fn may call the store
 * again without deadlocking, a slow fn never holds up other threads, and on
 * an error fn is not called at all (no partial pages).
 */
#include "store.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/am.h"

_Static_assert(sizeof(float) == sizeof(uint32_t), "float must be 32 bits");

/* The migrations, compiled from schema/migrations/NNNN_name.sql in name
 * order by schema/embed.sh (build/gen/migrations.c).  Migration i (0-based)
 * takes the database from user_version i to i + 1. */
extern const char *const store_migrations[];
extern const size_t store_migrations_count;

/* How long a call waits for another process's write lock (the daemon's own
 * threads never wait here: they queue on st->mu). */
#define STORE_BUSY_MS 5000

/* STRICT tables arrived in SQLite 3.37.0. */
#define STORE_MIN_SQLITE 3037000

/* ---- statements ------------------------------------------------------- */

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SESSION_INSERT,
	ST_SESSION_GET,
	ST_SESSION_EXISTS,
	ST_SESSION_STEP,
	ST_SESSION_UPDATE,
	ST_SESSION_DELETE,
	ST_SESSION_LIST,
	ST_SESSION_COUNT,
	ST_BATCH_INSERT,
	ST_BATCH_ROWS,
	ST_SEQ_RESULT,
	ST_HISTORY,
	ST_QUERIES_EXISTS,
	ST_QUERIES_REFINE,
	ST_QUERIES_PUT,
	ST_QUERIES_GET,
	ST_QUERIES_DELETE,
	ST_COUNT
};

/* The columns session_row() reads, in its order; state is read separately
 * (column 11) where it is selected at all. */
#define SESSION_COLS \
	"id, model, model_checksum, regime, step, rows, next_seq, dim, " \
	"options, created, updated"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SESSION_INSERT] =
		"INSERT INTO sessions (" SESSION_COLS ", state) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_SESSION_GET] =
		"SELECT " SESSION_COLS ", state FROM sessions WHERE id = ?1",
	[ST_SESSION_EXISTS] = "SELECT 1 FROM sessions WHERE id = ?1",
	[ST_SESSION_STEP] = "SELECT step FROM sessions WHERE id = ?1",
	[ST_SESSION_UPDATE] =
		"UPDATE sessions SET state = ?2, step = ?3, rows = ?4, "
		"next_seq = ?5, dim = ?6, updated = ?7 WHERE id = ?1",
	[ST_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
	[ST_SESSION_LIST] =
		"SELECT " SESSION_COLS " FROM sessions WHERE id > ?1 "
		"ORDER BY id LIMIT ?2",
	[ST_SESSION_COUNT] = "SELECT count(*) FROM sessions",
	[ST_BATCH_INSERT] =
		"INSERT INTO batches (session, step, seq, rows, dim, x, y, "
		"loss_before, loss_after, time, losses) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_BATCH_ROWS] =
		"SELECT rows, dim, x, y FROM batches "
		"WHERE session = ?1 AND step = ?2",
	[ST_SEQ_RESULT] =
		"SELECT count(*), max(step) FROM batches "
		"WHERE session = ?1 AND seq = ?2",
	[ST_HISTORY] =
		"SELECT step, seq, rows, dim, loss_before, loss_after, time, "
		"losses FROM batches WHERE session = ?1 AND step > ?2 "
		"ORDER BY step LIMIT ?3",
	[ST_QUERIES_EXISTS] = "SELECT 1 FROM query_sets WHERE session = ?1",
	[ST_QUERIES_REFINE] =
		"UPDATE query_sets SET qs = ?2, step = ?3, updated = ?4 "
		"WHERE session = ?1 AND step = ?5 AND n = ?6 AND qstate = ?7",
	[ST_QUERIES_PUT] =
		"INSERT INTO query_sets (session, n, width, qstate, step, x, qs, "
		"created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
		"ON CONFLICT (session) DO UPDATE SET n = excluded.n, "
		"width = excluded.width, qstate = excluded.qstate, "
		"step = excluded.step, x = excluded.x, qs = excluded.qs, "
		"updated = excluded.updated",
	[ST_QUERIES_GET] =
		"SELECT n, width, qstate, step, x, qs, created, updated "
		"FROM query_sets WHERE session = ?1",
	[ST_QUERIES_DELETE] = "DELETE FROM query_sets WHERE session = ?1",
};

struct store {
	sqlite3 *db;
	pthread_mutex_t mu;		/* guards db and every stmt */
	sqlite3_stmt *stmt[ST_COUNT];
};

/* ---- small helpers ---------------------------------------------------- */

/* Writes a message into err (when there is one) and returns status, so a
 * failure path reads "return fail(...)" or "status = fail(...)". */
static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

/* STORE_ERROR with SQLite's message for the connection's last failure.
 * Called with st->mu held, before anything else runs on the connection. */
static int db_fail(struct store *st, char *err, size_t errlen,
		   const char *what)
{
	return fail(err, errlen, STORE_ERROR, "%s: %s", what,
		    sqlite3_errmsg(st->db));
}

static void store_lock(struct store *st)
{
	int rc = pthread_mutex_lock(&st->mu);

	AM_ASSERT(rc == 0);
}

static void store_unlock(struct store *st)
{
	int rc = pthread_mutex_unlock(&st->mu);

	AM_ASSERT(rc == 0);
}

/* Ends a statement's use: resets it (ending its read, if any) and drops
 * its bindings (which may point at buffers about to be freed). */
static void stmt_done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

/* Steps a cached statement that returns no rows. */
static int run(struct store *st, enum stmt_id id, char *err, size_t errlen,
	       const char *what)
{
	sqlite3_stmt *q = st->stmt[id];
	int status = STORE_OK;

	if (sqlite3_step(q) != SQLITE_DONE)
		status = db_fail(st, err, errlen, what);
	stmt_done(q);
	return status;
}

/* Rolls back the open transaction, if SQLite has not already done so (some
 * errors roll back by themselves).  The failure being reported is already
 * in err, so a failing ROLLBACK adds nothing to it. */
static void rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)run(st, ST_ROLLBACK, NULL, 0, "rollback");
}

/* 1 if s is NUL-terminated within size bytes. */
static int fits(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int all_finite(const float *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}

/* Sets *bytes to a * b floats' worth of bytes when that is at most INT_MAX
 * (SQLite takes blob lengths as int); returns 0 otherwise. */
static int blob_bytes(int64_t a, int64_t b, int *bytes)
{
	if (a < 0 || b < 0)
		return 0;
	/* a * b * 4 <= INT_MAX  <=  a * b <= floor(INT_MAX / 4) */
	if (b != 0 && a > (INT_MAX / 4) / b)
		return 0;
	*bytes = (int)(a * b * 4);
	return 1;
}

/* Returns a new buffer holding x[0..n) as little-endian binary32 (4n bytes,
 * at least 1 so that n == 0 is not mistaken for a failed allocation), or
 * NULL when out of memory.  Caller frees. */
static unsigned char *floats_encode(const float *x, size_t n)
{
	unsigned char *p = malloc(n ? 4 * n : 1);
	size_t i;

	if (!p)
		return NULL;
	for (i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &x[i], sizeof u);
		p[4 * i] = (unsigned char)u;
		p[4 * i + 1] = (unsigned char)(u >> 8);
		p[4 * i + 2] = (unsigned char)(u >> 16);
		p[4 * i + 3] = (unsigned char)(u >> 24);
	}
	return p;
}

/* The inverse of floats_encode: dst[0..n) from 4n little-endian bytes. */
static void floats_decode(float *dst, const unsigned char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const unsigned char *b = src + 4 * i;
		uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
			     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;

		memcpy(&dst[i], &u, sizeof u);
	}
}

/* Binds bytes of an encoded float buffer; an empty blob is bound as a
 * zero-length blob (sqlite3_bind_blob with no bytes would bind NULL). */
static int bind_floats(sqlite3_stmt *q, int idx, const unsigned char *p,
		       int bytes)
{
	if (bytes == 0)
		return sqlite3_bind_zeroblob(q, idx, 0);
	return sqlite3_bind_blob(q, idx, p, bytes, SQLITE_STATIC);
}

/*
 * Copies the blob in column col into a new float array.  The blob must hold
 * exactly want bytes, or with want < 0 any multiple of 4.  Returns 1 with
 * *out (NULL for an empty blob) and *nfloat set, 0 if the column is not
 * such a blob (corrupt), -1 when out of memory.
 */
static int column_floats(sqlite3_stmt *q, int col, int want, float **out,
			 int *nfloat)
{
	const unsigned char *p;
	float *f;
	int n;

	if (sqlite3_column_type(q, col) != SQLITE_BLOB)
		return 0;
	p = sqlite3_column_blob(q, col);
	n = sqlite3_column_bytes(q, col);
	if (n < 0 || n % 4 != 0 || (want >= 0 && n != want))
		return 0;
	if (n == 0) {
		*out = NULL;
		*nfloat = 0;
		return 1;
	}
	if (!p)
		return -1;	/* SQLite could not allocate the value */
	f = malloc((size_t)n);
	if (!f)
		return -1;
	floats_decode(f, p, (size_t)n / 4);
	*out = f;
	*nfloat = n / 4;
	return 1;
}

/* Copies the text in column col into dst (size bytes with its NUL); 0 if
 * the column is not text or does not fit. */
static int column_text(sqlite3_stmt *q, int col, char *dst, size_t size)
{
	const unsigned char *t;
	int n;

	if (sqlite3_column_type(q, col) != SQLITE_TEXT)
		return 0;
	t = sqlite3_column_text(q, col);
	n = sqlite3_column_bytes(q, col);
	if (!t || n < 0 || (size_t)n >= size)
		return 0;
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 1;
}

/* An integer column within [lo, hi]; 0 if it is not. */
static int column_int(sqlite3_stmt *q, int col, int64_t lo, int64_t hi,
		      int64_t *v)
{
	int64_t x;

	if (sqlite3_column_type(q, col) != SQLITE_INTEGER)
		return 0;
	x = sqlite3_column_int64(q, col);
	if (x < lo || x > hi)
		return 0;
	*v = x;
	return 1;
}

/* A REAL column (an integer is accepted too) that is finite. */
static int column_real(sqlite3_stmt *q, int col, double *v)
{
	int t = sqlite3_column_type(q, col);
	double x;

	if (t != SQLITE_FLOAT && t != SQLITE_INTEGER)
		return 0;
	x = sqlite3_column_double(q, col);
	if (!isfinite(x))
		return 0;
	*v = x;
	return 1;
}

/* ---- open, configure, migrate ------------------------------------------ */

/* Runs sql (no rows expected) outside the statement cache; a failure is
 * reported as "path: sql: message". */
static int exec_sql(struct store *st, const char *path, const char *sql,
		    char *err, size_t errlen)
{
	char *msg = NULL;
	int status = STORE_OK;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		status = fail(err, errlen, STORE_ERROR, "%s: %s: %s", path,
			      sql, msg ? msg : sqlite3_errmsg(st->db));
	sqlite3_free(msg);
	return status;
}

/* Runs a pragma that returns one row and reads its first column: as an
 * integer into *iv when iv is given, as text into txt otherwise. */
static int pragma_get(struct store *st, const char *path, const char *sql,
		      int64_t *iv, char *txt, size_t txtlen, char *err,
		      size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int status = STORE_OK;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
		status = fail(err, errlen, STORE_ERROR, "%s: %s: %s", path,
			      sql, sqlite3_errmsg(st->db));
		goto done;
	}
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		status = fail(err, errlen, STORE_ERROR, "%s: %s: %s", path,
			      sql, rc == SQLITE_DONE ? "no result" :
			      sqlite3_errmsg(st->db));
		goto done;
	}
	if (iv)
		*iv = sqlite3_column_int64(q, 0);
	else if (!column_text(q, 0, txt, txtlen))
		status = fail(err, errlen, STORE_ERROR, "%s: %s: odd result",
			      path, sql);
done:
	sqlite3_finalize(q);
	return status;
}

/*
 * The connection's settings.  journal_mode=WAL persists in the file, but
 * the pragma reports the mode it ended in (a VFS without shared memory, for
 * one, stays in its old mode), so the answer is checked.  synchronous and
 * foreign_keys are per connection and are read back: foreign_keys is
 * silently ignored by a build without foreign keys or inside a transaction.
 */
static int configure(struct store *st, const char *path, int sync_full,
		     char *err, size_t errlen)
{
	char mode[16];
	int64_t v;
	int status;

	status = pragma_get(st, path, "PRAGMA journal_mode=WAL", NULL, mode,
			    sizeof mode, err, errlen);
	if (status != STORE_OK)
		return status;
	if (strcmp(mode, "wal") != 0)
		return fail(err, errlen, STORE_ERROR,
			    "%s: cannot use WAL mode (journal_mode is %s)",
			    path, mode);

	status = exec_sql(st, path, sync_full ? "PRAGMA synchronous=FULL" :
			  "PRAGMA synchronous=NORMAL", err, errlen);
	if (status != STORE_OK)
		return status;
	status = pragma_get(st, path, "PRAGMA synchronous", &v, NULL, 0, err,
			    errlen);
	if (status != STORE_OK)
		return status;
	if (v != (sync_full ? 2 : 1))
		return fail(err, errlen, STORE_ERROR,
			    "%s: synchronous is %" PRId64 ", not %s", path, v,
			    sync_full ? "FULL" : "NORMAL");

	status = exec_sql(st, path, "PRAGMA foreign_keys=ON", err, errlen);
	if (status != STORE_OK)
		return status;
	status = pragma_get(st, path, "PRAGMA foreign_keys", &v, NULL, 0, err,
			    errlen);
	if (status != STORE_OK)
		return status;
	if (v != 1)
		return fail(err, errlen, STORE_ERROR,
			    "%s: foreign keys could not be enabled", path);
	return STORE_OK;
}

/* Refuses a user_version this binary does not know. */
static int version_check(const char *path, int64_t v, char *err,
			 size_t errlen)
{
	if (v < 0)
		return fail(err, errlen, STORE_ERROR,
			    "%s: unknown schema version %" PRId64, path, v);
	if ((uint64_t)v > store_migrations_count)
		return fail(err, errlen, STORE_ERROR,
			    "%s: schema version %" PRId64 " is newer than this "
			    "amortd's %zu: the database was written by a newer "
			    "amortd", path, v, store_migrations_count);
	return STORE_OK;
}

/* Runs migration v (0-based; it leads to user_version v + 1). */
static int migration_apply(struct store *st, const char *path, int64_t v,
			   char *err, size_t errlen)
{
	char *msg = NULL;
	int status = STORE_OK;

	if (sqlite3_exec(st->db, store_migrations[v], NULL, NULL, &msg) !=
	    SQLITE_OK)
		status = fail(err, errlen, STORE_ERROR,
			      "%s: migration %" PRId64 " failed: %s", path,
			      v + 1, msg ? msg : sqlite3_errmsg(st->db));
	sqlite3_free(msg);
	return status;
}

/*
 * Applies the pending migrations, each in its own BEGIN IMMEDIATE
 * transaction together with the user_version it leads to.  The version is
 * read again inside the transaction, so two processes opening the same new
 * file cannot both apply a migration.  A migration that must switch
 * foreign keys off (a table rebuild) cannot do so here: that pragma does
 * nothing inside a transaction.
 */
static int migrate(struct store *st, const char *path, char *err,
		   size_t errlen)
{
	char sql[64];
	int64_t v;
	int status;

	status = pragma_get(st, path, "PRAGMA user_version", &v, NULL, 0, err,
			    errlen);
	if (status != STORE_OK)
		return status;
	for (;;) {
		status = version_check(path, v, err, errlen);
		if (status != STORE_OK || (uint64_t)v == store_migrations_count)
			return status;

		status = exec_sql(st, path, "BEGIN IMMEDIATE", err, errlen);
		if (status != STORE_OK)
			return status;
		status = pragma_get(st, path, "PRAGMA user_version", &v, NULL,
				    0, err, errlen);
		if (status != STORE_OK)
			goto undo;
		if (v < 0 || (uint64_t)v >= store_migrations_count) {
			/* Someone else got there first: look again. */
			exec_sql(st, path, "ROLLBACK", NULL, 0);
			continue;
		}
		status = migration_apply(st, path, v, err, errlen);
		if (status != STORE_OK)
			goto undo;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %" PRId64,
			 v + 1);
		status = exec_sql(st, path, sql, err, errlen);
		if (status != STORE_OK)
			goto undo;
		status = exec_sql(st, path, "COMMIT", err, errlen);
		if (status != STORE_OK)
			goto undo;
		v++;
	}
undo:
	if (!sqlite3_get_autocommit(st->db))
		exec_sql(st, path, "ROLLBACK", NULL, 0);
	return status;
}

/* Prepares the statement cache; a failure here means the schema is not
 * the one this binary was built for. */
static int prepare_all(struct store *st, const char *path, char *err,
		       size_t errlen)
{
	int i;

	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
				       NULL) != SQLITE_OK)
			return fail(err, errlen, STORE_ERROR, "%s: %s: %s",
				    path, stmt_sql[i], sqlite3_errmsg(st->db));
	}
	return STORE_OK;
}

/*
 * Opens or creates the database, sets WAL, synchronous and foreign keys,
 * and brings the schema up to date.  On STORE_OK *out is a new store the
 * caller closes with store_close; on STORE_ERROR *out is untouched and err
 * says why (a file that is not a database, a schema newer than this binary,
 * a failed migration).  Call it once, before other threads use the store.
 */
int store_open(struct store **out, const char *path, int synchronous_full,
	       char *err, size_t errlen)
{
	struct store *st = NULL;
	int status, rc;

	AM_ASSERT(out && path);
	if (sqlite3_libversion_number() < STORE_MIN_SQLITE)
		return fail(err, errlen, STORE_ERROR,
			    "SQLite %s is too old: STRICT tables need 3.37.0",
			    sqlite3_libversion());
	if (!sqlite3_threadsafe())
		return fail(err, errlen, STORE_ERROR,
			    "SQLite was built without thread support");
	st = calloc(1, sizeof *st);
	if (!st)
		return fail(err, errlen, STORE_ERROR, "out of memory");
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		return fail(err, errlen, STORE_ERROR, "cannot create a mutex");
	}

	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		status = fail(err, errlen, STORE_ERROR, "cannot open %s: %s",
			      path, st->db ? sqlite3_errmsg(st->db) :
			      sqlite3_errstr(rc));
		goto done;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	/* No writable_schema or other ways to corrupt the file from SQL. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);

	status = configure(st, path, synchronous_full, err, errlen);
	if (status == STORE_OK)
		status = migrate(st, path, err, errlen);
	if (status == STORE_OK)
		status = prepare_all(st, path, err, errlen);
	if (status == STORE_OK) {
		*out = st;
		st = NULL;
	}
done:
	store_close(st);
	return status;
}

/* Finalizes the statements and closes the connection.  NULL-safe; the
 * caller makes sure no other thread is inside the store any more. */
void store_close(struct store *st)
{
	int i, rc;

	if (!st)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	/* With every statement finalized, close cannot be refused; it
	 * checkpoints the WAL and removes it if this was the last user. */
	rc = sqlite3_close(st->db);
	AM_ASSERT(rc == SQLITE_OK);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/* ---- sessions ---------------------------------------------------------- */

/* Checks a session the caller wants written. */
static int session_check(const struct store_session *s, char *err,
			 size_t errlen)
{
	if (!fits(s->id, sizeof s->id) || s->id[0] == '\0')
		return fail(err, errlen, STORE_ERROR,
			    "session id is empty or not terminated");
	if (!fits(s->model, sizeof s->model) ||
	    !fits(s->model_checksum, sizeof s->model_checksum) ||
	    !fits(s->regime, sizeof s->regime))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: a name is not terminated", s->id);
	if (s->step < 0 || s->rows < 0 || s->next_seq < 0 || s->dim < 0)
		return fail(err, errlen, STORE_ERROR,
			    "session %s: negative counter", s->id);
	if (s->nstate < 0 || (s->nstate > 0 && !s->state))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: no state for %d floats", s->id,
			    s->nstate);
	if (!all_finite(s->state, (size_t)s->nstate))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: state is not finite", s->id);
	if (!isfinite(s->created) || !isfinite(s->updated))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: time is not finite", s->id);
	return STORE_OK;
}

/*
 * Fills *out from the SESSION_COLS columns of the current row, checking
 * each against the struct field it goes into.  out->options is a new
 * allocation (or NULL); state is left empty.  *out is written only on
 * success.
 */
static int session_row(sqlite3_stmt *q, struct store_session *out,
		       char *err, size_t errlen)
{
	struct store_session v;
	int64_t dim;
	const char *bad = NULL;

	memset(&v, 0, sizeof v);
	if (!column_text(q, 0, v.id, sizeof v.id))
		bad = "id";
	else if (!column_text(q, 1, v.model, sizeof v.model))
		bad = "model";
	else if (!column_text(q, 2, v.model_checksum,
			      sizeof v.model_checksum))
		bad = "model_checksum";
	else if (!column_text(q, 3, v.regime, sizeof v.regime))
		bad = "regime";
	else if (!column_int(q, 4, 0, INT64_MAX, &v.step))
		bad = "step";
	else if (!column_int(q, 5, 0, INT64_MAX, &v.rows))
		bad = "rows";
	else if (!column_int(q, 6, 0, INT64_MAX, &v.next_seq))
		bad = "next_seq";
	else if (!column_int(q, 7, 0, INT_MAX, &dim))
		bad = "dim";
	else if (sqlite3_column_type(q, 8) != SQLITE_NULL &&
		 sqlite3_column_type(q, 8) != SQLITE_TEXT)
		bad = "options";
	else if (!column_real(q, 9, &v.created))
		bad = "created";
	else if (!column_real(q, 10, &v.updated))
		bad = "updated";
	if (bad)
		return fail(err, errlen, STORE_ERROR,
			    "corrupt session row (%s)", bad);
	v.dim = (int)dim;

	if (sqlite3_column_type(q, 8) == SQLITE_TEXT) {
		const unsigned char *t = sqlite3_column_text(q, 8);
		int n = sqlite3_column_bytes(q, 8);

		v.options = t && n >= 0 ? malloc((size_t)n + 1) : NULL;
		if (!v.options)
			return fail(err, errlen, STORE_ERROR,
				    "session %s: out of memory", v.id);
		memcpy(v.options, t, (size_t)n);
		v.options[n] = '\0';
	}
	*out = v;
	return STORE_OK;
}

/* 1 if the session exists, 0 if not, -1 on error (message in err).  Called
 * with st->mu held. */
static int session_exists(struct store *st, const char *id, char *err,
			  size_t errlen)
{
	sqlite3_stmt *q = st->stmt[ST_SESSION_EXISTS];
	int rc, r;

	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = 1;
	else if (rc == SQLITE_DONE)
		r = 0;
	else
		r = (db_fail(st, err, errlen, "session lookup"), -1);
	stmt_done(q);
	return r;
}

/* An empty answer about a session that does not exist is STORE_NOTFOUND,
 * not an empty list: returns STORE_OK when the session exists, otherwise
 * STORE_NOTFOUND or STORE_ERROR with the message set.  Call with the lock
 * held. */
static int absent_is_notfound(struct store *st, const char *id, char *err,
			      size_t errlen)
{
	int r = session_exists(st, id, err, errlen);

	if (r < 0)
		return STORE_ERROR;
	if (r == 0)
		return fail(err, errlen, STORE_NOTFOUND, "no session %s", id);
	return STORE_OK;
}

/*
 * Inserts session s (borrowed) in one statement.  STORE_CONFLICT when the id
 * is taken; STORE_ERROR for a session that is malformed (unterminated
 * names, negative counters, non-finite state or times) or that the
 * schema's CHECKs refuse (an id that is not [0-9A-Za-z_-]{1,32}, options
 * that are not JSON).  Thread-safe.
 */
int store_session_create(struct store *st, const struct store_session *s,
			 char *err, size_t errlen)
{
	sqlite3_stmt *q;
	unsigned char *state = NULL;
	int status, bytes = 0, rc;

	AM_ASSERT(st && s);
	status = session_check(s, err, errlen);
	if (status != STORE_OK)
		return status;
	if (!blob_bytes(s->nstate, 1, &bytes))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: state too large", s->id);
	state = floats_encode(s->state, (size_t)s->nstate);
	if (!state)
		return fail(err, errlen, STORE_ERROR,
			    "session %s: out of memory", s->id);

	store_lock(st);
	q = st->stmt[ST_SESSION_INSERT];
	rc = sqlite3_bind_text(q, 1, s->id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 2, s->model, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 3, s->model_checksum, -1,
				       SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 4, s->regime, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 5, s->step);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 6, s->rows);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 7, s->next_seq);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(q, 8, s->dim);
	if (rc == SQLITE_OK)
		rc = s->options ?
			sqlite3_bind_text(q, 9, s->options, -1, SQLITE_STATIC) :
			sqlite3_bind_null(q, 9);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(q, 10, s->created);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(q, 11, s->updated);
	if (rc == SQLITE_OK)
		rc = bind_floats(q, 12, state, bytes);
	if (rc != SQLITE_OK) {
		status = fail(err, errlen, STORE_ERROR, "session %s: %s",
			      s->id, sqlite3_errstr(rc));
	} else if (sqlite3_step(q) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(st->db) ==
		    SQLITE_CONSTRAINT_PRIMARYKEY)
			status = fail(err, errlen, STORE_CONFLICT,
				      "session %s already exists", s->id);
		else
			status = fail(err, errlen, STORE_ERROR,
				      "session %s: %s", s->id,
				      sqlite3_errmsg(st->db));
	}
	stmt_done(q);
	store_unlock(st);
	free(state);
	return status;
}

/*
 * Reads session id into *out, written only on STORE_OK; out->state and
 * out->options are then new allocations (store_session_clear frees them).
 * STORE_NOTFOUND when there is no such session; STORE_ERROR for a row that
 * does not fit the struct (a corrupt file).  Thread-safe.
 */
int store_session_get(struct store *st, const char *id,
		      struct store_session *out, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	struct store_session v;
	int status, rc, r;

	AM_ASSERT(st && id && out);
	memset(&v, 0, sizeof v);
	store_lock(st);
	q = st->stmt[ST_SESSION_GET];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		status = fail(err, errlen, STORE_NOTFOUND,
			      "no session %s", id);
		goto done;
	}
	if (rc != SQLITE_ROW) {
		status = db_fail(st, err, errlen, "session get");
		goto done;
	}
	status = session_row(q, &v, err, errlen);
	if (status != STORE_OK)
		goto done;
	r = column_floats(q, 11, -1, &v.state, &v.nstate);
	if (r <= 0)
		status = fail(err, errlen, STORE_ERROR, "session %s: %s", id,
			      r == 0 ? "corrupt state" : "out of memory");
done:
	stmt_done(q);
	store_unlock(st);
	if (status == STORE_OK)
		*out = v;
	else
		store_session_clear(&v);
	return status;
}

/* Frees what store_session_get allocated and empties those fields;
 * NULL-safe and safe to call twice. */
void store_session_clear(struct store_session *s)
{
	if (!s)
		return;
	free(s->state);
	free(s->options);
	s->state = NULL;
	s->nstate = 0;
	s->options = NULL;
}

/* Deletes session id and its batches atomically.  STORE_NOTFOUND when
 * there is no such session.  Thread-safe. */
int store_session_delete(struct store *st, const char *id, char *err,
			 size_t errlen)
{
	sqlite3_stmt *q;
	int status = STORE_OK;

	AM_ASSERT(st && id);
	store_lock(st);
	q = st->stmt[ST_SESSION_DELETE];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	/* One statement, so one implicit transaction: the session and its
	 * batches (ON DELETE CASCADE) go together or not at all. */
	if (sqlite3_step(q) != SQLITE_DONE)
		status = db_fail(st, err, errlen, "session delete");
	else if (sqlite3_changes(st->db) == 0)
		status = fail(err, errlen, STORE_NOTFOUND, "no session %s", id);
	stmt_done(q);
	store_unlock(st);
	return status;
}

/*
 * Keyset pagination: up to limit sessions with id > after, by id.  The rows
 * are copied out under the lock and fn is called after it is released, so
 * fn may call the store; each session passed to fn is valid only during
 * that call (its options are freed afterwards).  limit < 1 is STORE_ERROR;
 * on any error fn is not called at all.  Thread-safe.
 */
int store_session_list(struct store *st, const char *after, int limit,
		       void (*fn)(void *ud, const struct store_session *s),
		       void *ud, char *err, size_t errlen)
{
	struct store_session *v = NULL;
	sqlite3_stmt *q;
	size_t n = 0, cap = 0, i;
	int status = STORE_OK, rc;

	AM_ASSERT(st && fn);
	if (limit < 1)
		return fail(err, errlen, STORE_ERROR, "list limit %d < 1",
			    limit);
	store_lock(st);
	q = st->stmt[ST_SESSION_LIST];
	sqlite3_bind_text(q, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct store_session *nv =
				realloc(v, ncap * sizeof *nv);

			if (!nv) {
				status = fail(err, errlen, STORE_ERROR,
					      "session list: out of memory");
				break;
			}
			v = nv;
			cap = ncap;
		}
		status = session_row(q, &v[n], err, errlen);
		if (status != STORE_OK)
			break;
		n++;
	}
	if (status == STORE_OK && rc != SQLITE_DONE)
		status = db_fail(st, err, errlen, "session list");
	stmt_done(q);
	store_unlock(st);

	for (i = 0; i < n; i++) {
		if (status == STORE_OK)
			fn(ud, &v[i]);
		store_session_clear(&v[i]);
	}
	free(v);
	return status;
}

/* Sets *n to the number of sessions (written only on STORE_OK).
 * Thread-safe. */
int store_session_count(struct store *st, int64_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int status = STORE_OK;

	AM_ASSERT(st && n);
	store_lock(st);
	q = st->stmt[ST_SESSION_COUNT];
	if (sqlite3_step(q) == SQLITE_ROW)
		*n = sqlite3_column_int64(q, 0);
	else
		status = db_fail(st, err, errlen, "session count");
	stmt_done(q);
	store_unlock(st);
	return status;
}

/* ---- refinement steps -------------------------------------------------- */

/* Checks a batch the caller wants committed with session s as its step
 * `step` and sets the byte lengths of its x and y blobs. */
static int batch_check(const struct store_session *s,
		       const struct store_batch *b, int64_t step, int *x_bytes,
		       int *y_bytes, char *err, size_t errlen)
{
	if (b->step != step || b->step < 1)
		return fail(err, errlen, STORE_ERROR,
			    "session %s: batch step %" PRId64 " does not lead "
			    "to session step %" PRId64, s->id, b->step,
			    s->step);
	if (b->seq < -1)
		return fail(err, errlen, STORE_ERROR,
			    "session %s: bad seq %" PRId64, s->id, b->seq);
	if (b->rows < 1 || b->dim < 1 || !b->x)
		return fail(err, errlen, STORE_ERROR,
			    "session %s: empty batch (%d x %d)", s->id,
			    b->rows, b->dim);
	if (!blob_bytes(b->rows, b->dim, x_bytes) ||
	    !blob_bytes(b->rows, 1, y_bytes))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: batch of %d x %d floats is too large",
			    s->id, b->rows, b->dim);
	if (!b->y)
		*y_bytes = 0;
	if (!all_finite(b->x, (size_t)*x_bytes / 4) ||
	    (b->y && !all_finite(b->y, (size_t)b->rows)))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: batch rows are not finite", s->id);
	if (!isfinite(b->loss_before) || !isfinite(b->loss_after) ||
	    !isfinite(b->time))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: batch loss or time is not finite",
			    s->id);
	if (b->no_losses && (b->loss_before != 0 || b->loss_after != 0))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: losses not computed are stored as 0",
			    s->id);
	return STORE_OK;
}

/* Inside the commit's transaction: the stored step must be prev. */
static int step_expect(struct store *st, const struct store_session *s,
		       int64_t prev, char *err, size_t errlen)
{
	sqlite3_stmt *q = st->stmt[ST_SESSION_STEP];
	int status = STORE_OK;
	int rc;

	sqlite3_bind_text(q, 1, s->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		status = fail(err, errlen, STORE_NOTFOUND, "no session %s",
			      s->id);
	} else if (rc != SQLITE_ROW) {
		status = db_fail(st, err, errlen, "commit: read step");
	} else {
		int64_t stored = sqlite3_column_int64(q, 0);

		if (stored != prev)
			status = fail(err, errlen, STORE_CONFLICT,
				      "session %s is at step %" PRId64
				      ", the commit of step %" PRId64
				      " expects %" PRId64, s->id, stored,
				      s->step, prev);
	}
	stmt_done(q);
	return status;
}

/* Inside the commit's transaction: the batch row. */
static int batch_insert(struct store *st, const struct store_session *s,
			const struct store_batch *b, const unsigned char *x,
			int x_bytes, const unsigned char *y, int y_bytes,
			char *err, size_t errlen)
{
	sqlite3_stmt *q = st->stmt[ST_BATCH_INSERT];
	int status = STORE_OK;
	int rc;

	rc = sqlite3_bind_text(q, 1, s->id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 2, b->step);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, b->seq);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(q, 4, b->rows);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(q, 5, b->dim);
	if (rc == SQLITE_OK)
		rc = bind_floats(q, 6, x, x_bytes);
	if (rc == SQLITE_OK)
		rc = y ? bind_floats(q, 7, y, y_bytes) :
			 sqlite3_bind_null(q, 7);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(q, 8, b->loss_before);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(q, 9, b->loss_after);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(q, 10, b->time);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(q, 11, b->no_losses ? 0 : 1);
	if (rc != SQLITE_OK)
		status = fail(err, errlen, STORE_ERROR,
			      "commit: batch: %s", sqlite3_errstr(rc));
	else if (sqlite3_step(q) != SQLITE_DONE)
		status = db_fail(st, err, errlen, "commit: batch");
	stmt_done(q);
	return status;
}

/* Inside the commit's transaction: the session's new state and counters. */
static int session_row_write(struct store *st, const struct store_session *s,
			     const unsigned char *state, int state_bytes,
			     char *err, size_t errlen)
{
	sqlite3_stmt *q = st->stmt[ST_SESSION_UPDATE];
	int status = STORE_OK;
	int rc;

	rc = sqlite3_bind_text(q, 1, s->id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = bind_floats(q, 2, state, state_bytes);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, s->step);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 4, s->rows);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 5, s->next_seq);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(q, 6, s->dim);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(q, 7, s->updated);
	if (rc != SQLITE_OK)
		status = fail(err, errlen, STORE_ERROR,
			      "commit: session: %s", sqlite3_errstr(rc));
	else if (sqlite3_step(q) != SQLITE_DONE)
		status = db_fail(st, err, errlen, "commit: session");
	else if (sqlite3_changes(st->db) != 1)
		status = fail(err, errlen, STORE_ERROR,
			      "commit: session %s vanished", s->id);
	stmt_done(q);
	return status;
}

/*
 * Inside the commit's transaction: with q, writes its refined states over
 * the stored query set, which must be current at step prev and of q's
 * shape; without q, checks that the session has no query set (a commit
 * that left one behind its session would break their invariant: a set is
 * always current at its session's step).  STORE_CONFLICT otherwise.
 */
static int queries_refine(struct store *st, const struct store_session *s,
			  int64_t prev, const struct store_queries *q,
			  const unsigned char *qs, int qs_bytes, char *err,
			  size_t errlen)
{
	sqlite3_stmt *qq;
	int status = STORE_OK, rc;

	if (!q) {
		qq = st->stmt[ST_QUERIES_EXISTS];
		sqlite3_bind_text(qq, 1, s->id, -1, SQLITE_STATIC);
		rc = sqlite3_step(qq);
		if (rc == SQLITE_ROW)
			status = fail(err, errlen, STORE_CONFLICT,
				      "session %s has a query set that this "
				      "commit does not refine", s->id);
		else if (rc != SQLITE_DONE)
			status = db_fail(st, err, errlen, "commit: query set");
		stmt_done(qq);
		return status;
	}
	qq = st->stmt[ST_QUERIES_REFINE];
	rc = sqlite3_bind_text(qq, 1, s->id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = bind_floats(qq, 2, qs, qs_bytes);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(qq, 3, q->step);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(qq, 4, q->updated);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(qq, 5, prev);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(qq, 6, q->n);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(qq, 7, q->qstate);
	if (rc != SQLITE_OK)
		status = fail(err, errlen, STORE_ERROR, "commit: query set: %s",
			      sqlite3_errstr(rc));
	else if (sqlite3_step(qq) != SQLITE_DONE)
		status = db_fail(st, err, errlen, "commit: query set");
	else if (sqlite3_changes(st->db) != 1)
		status = fail(err, errlen, STORE_CONFLICT,
			      "session %s: no query set of %d x %d current at "
			      "step %" PRId64, s->id, q->n, q->qstate, prev);
	stmt_done(qq);
	return status;
}

/* Checks a query set's shape and floats; *x_bytes and *qs_bytes get the
 * lengths of its blobs (x unchecked when with_x is 0: a commit writes only
 * the states). */
static int queries_check(const char *id, const struct store_queries *q,
			 int with_x, int *x_bytes, int *qs_bytes, char *err,
			 size_t errlen)
{
	if (q->n < 1 || q->width < 1 || q->qstate < 1 || q->step < 0 ||
	    !q->qs || (with_x && !q->x))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: bad query set (%d x %d, %d states, "
			    "step %" PRId64 ")", id, q->n, q->width, q->qstate,
			    q->step);
	if (!blob_bytes(q->n, q->width, x_bytes) ||
	    !blob_bytes(q->n, q->qstate, qs_bytes))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: query set too large", id);
	if ((with_x && !all_finite(q->x, (size_t)*x_bytes / 4)) ||
	    !all_finite(q->qs, (size_t)*qs_bytes / 4) ||
	    !isfinite(q->created) || !isfinite(q->updated))
		return fail(err, errlen, STORE_ERROR,
			    "session %s: query set is not finite", id);
	return STORE_OK;
}

/*
 * Commits n >= 1 consecutive steps (s and b[0..n) borrowed): checks s and
 * every b[i] first (b[i].step must be s->step - n + 1 + i, rows and dim at
 * least 1, every float and loss finite, blobs under 2 GiB; STORE_ERROR
 * otherwise), then, in one transaction, checks the stored step is
 * s->step - n (STORE_CONFLICT if not, STORE_NOTFOUND if the session is
 * gone), inserts the batches and updates the session.  Any failure rolls
 * the whole transaction back: the steps are stored all or none, so a
 * request of several steps is never left applied in part, whenever the
 * process may die.  Thread-safe.
 *
 * BEGIN IMMEDIATE takes the write lock before the step is read, so the
 * check and the writes see the same database: a deferred transaction would
 * read under a snapshot that another process's commit could make stale.
 * The blobs are encoded before the lock is taken, to keep it short.
 */
int store_commit_steps_q(struct store *st, const struct store_session *s,
			 const struct store_batch *b, int n,
			 const struct store_queries *q, char *err,
			 size_t errlen)
{
	unsigned char *state = NULL, **x = NULL, **y = NULL, *qs = NULL;
	int *x_bytes = NULL, *y_bytes = NULL;
	int state_bytes = 0, qx_bytes = 0, qs_bytes = 0, i, status;
	int locked = 0;

	AM_ASSERT(st && s && b && n >= 1);
	status = session_check(s, err, errlen);
	if (status == STORE_OK && s->step < n)
		status = fail(err, errlen, STORE_ERROR, "session %s: %d steps "
			      "cannot lead to step %" PRId64, s->id, n, s->step);
	if (status == STORE_OK && !blob_bytes(s->nstate, 1, &state_bytes))
		status = fail(err, errlen, STORE_ERROR,
			      "session %s: state too large", s->id);
	if (status == STORE_OK && q) {
		status = queries_check(s->id, q, 0, &qx_bytes, &qs_bytes, err,
				       errlen);
		if (status == STORE_OK && q->step != s->step)
			status = fail(err, errlen, STORE_ERROR, "session %s: "
				      "query set at step %" PRId64 " committed "
				      "with step %" PRId64, s->id, q->step,
				      s->step);
	}
	if (status != STORE_OK)
		return status;
	x = calloc((size_t)n, sizeof *x);
	y = calloc((size_t)n, sizeof *y);
	x_bytes = calloc((size_t)n, sizeof *x_bytes);
	y_bytes = calloc((size_t)n, sizeof *y_bytes);
	if (!x || !y || !x_bytes || !y_bytes) {
		status = fail(err, errlen, STORE_ERROR,
			      "session %s: out of memory", s->id);
		goto done;
	}
	for (i = 0; i < n && status == STORE_OK; i++)
		status = batch_check(s, &b[i], s->step - n + 1 + i, &x_bytes[i],
				     &y_bytes[i], err, errlen);
	if (status != STORE_OK)
		goto done;

	state = floats_encode(s->state, (size_t)s->nstate);
	if (q && state && !(qs = floats_encode(q->qs, (size_t)qs_bytes / 4))) {
		free(state);
		state = NULL;
	}
	for (i = 0; i < n && state; i++) {
		x[i] = floats_encode(b[i].x, (size_t)x_bytes[i] / 4);
		y[i] = b[i].y ? floats_encode(b[i].y, (size_t)b[i].rows) : NULL;
		if (!x[i] || (b[i].y && !y[i]))
			break;
	}
	if (!state || i < n) {
		status = fail(err, errlen, STORE_ERROR,
			      "session %s: out of memory", s->id);
		goto done;
	}

	store_lock(st);
	locked = 1;
	status = run(st, ST_BEGIN, err, errlen, "commit: begin");
	if (status != STORE_OK)
		goto done;
	status = step_expect(st, s, s->step - n, err, errlen);
	for (i = 0; i < n && status == STORE_OK; i++)
		status = batch_insert(st, s, &b[i], x[i], x_bytes[i], y[i],
				      y_bytes[i], err, errlen);
	if (status == STORE_OK)
		status = session_row_write(st, s, state, state_bytes, err,
					   errlen);
	if (status == STORE_OK)
		status = queries_refine(st, s, s->step - n, q, qs, qs_bytes, err,
					errlen);
	if (status == STORE_OK)
		status = run(st, ST_COMMIT, err, errlen, "commit");
done:
	if (locked) {
		if (status != STORE_OK)
			rollback(st);
		store_unlock(st);
	}
	for (i = 0; x && y && i < n; i++) {
		free(y[i]);
		free(x[i]);
	}
	free(y_bytes);
	free(x_bytes);
	free(y);
	free(x);
	free(qs);
	free(state);
	return status;
}

/* Steps without a query set: store_commit_steps_q with q NULL. */
int store_commit_steps(struct store *st, const struct store_session *s,
		       const struct store_batch *b, int n, char *err,
		       size_t errlen)
{
	return store_commit_steps_q(st, s, b, n, NULL, err, errlen);
}

/* One step: store_commit_steps with n = 1. */
int store_commit_step(struct store *st, const struct store_session *s,
		      const struct store_batch *b, char *err, size_t errlen)
{
	return store_commit_steps(st, s, b, 1, err, errlen);
}

/*
 * A retried request is answered from what its first attempt stored.  When
 * nothing carries this seq, *count is 0 and *last_step 0, unless the
 * session itself is gone (STORE_NOTFOUND).  seq < 0 is STORE_ERROR.  The
 * outputs are written only on STORE_OK.  Thread-safe.
 */
int store_seq_result(struct store *st, const char *id, int64_t seq,
		     int64_t *count, int64_t *last_step, char *err,
		     size_t errlen)
{
	sqlite3_stmt *q;
	int64_t c = 0, last = 0;
	int status = STORE_OK;

	AM_ASSERT(st && id && count && last_step);
	if (seq < 0)
		return fail(err, errlen, STORE_ERROR, "seq %" PRId64 " < 0",
			    seq);
	store_lock(st);
	q = st->stmt[ST_SEQ_RESULT];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, seq);
	if (sqlite3_step(q) == SQLITE_ROW) {
		c = sqlite3_column_int64(q, 0);
		if (sqlite3_column_type(q, 1) == SQLITE_INTEGER)
			last = sqlite3_column_int64(q, 1);
	} else {
		status = db_fail(st, err, errlen, "seq result");
	}
	stmt_done(q);
	if (status == STORE_OK && c == 0)
		status = absent_is_notfound(st, id, err, errlen);
	store_unlock(st);
	if (status == STORE_OK) {
		*count = c;
		*last_step = last;
	}
	return status;
}

/* Reads the current history row into *b (x and y left NULL). */
static int history_row(sqlite3_stmt *q, struct store_batch *b)
{
	int64_t rows, dim, losses;

	memset(b, 0, sizeof *b);
	if (!column_int(q, 0, 1, INT64_MAX, &b->step) ||
	    !column_int(q, 1, -1, INT64_MAX, &b->seq) ||
	    !column_int(q, 2, 1, INT_MAX, &rows) ||
	    !column_int(q, 3, 1, INT_MAX, &dim) ||
	    !column_real(q, 4, &b->loss_before) ||
	    !column_real(q, 5, &b->loss_after) ||
	    !column_real(q, 6, &b->time) ||
	    !column_int(q, 7, 0, 1, &losses))
		return 0;
	b->rows = (int)rows;
	b->dim = (int)dim;
	b->no_losses = !losses;
	return 1;
}

/*
 * The steps after `after`, in order, at most limit (< 1 is STORE_ERROR).
 * Like store_session_list, fn runs after the lock is released, each batch
 * borrowed for the call, and not at all on an error.  STORE_NOTFOUND when
 * the session does not exist; a session with no such steps calls fn zero
 * times and returns STORE_OK.  Thread-safe.
 */
int store_history(struct store *st, const char *id, int64_t after, int limit,
		  void (*fn)(void *ud, const struct store_batch *b), void *ud,
		  char *err, size_t errlen)
{
	struct store_batch *v = NULL;
	sqlite3_stmt *q;
	size_t n = 0, cap = 0, i;
	int status = STORE_OK, rc;

	AM_ASSERT(st && id && fn);
	if (limit < 1)
		return fail(err, errlen, STORE_ERROR, "history limit %d < 1",
			    limit);
	store_lock(st);
	q = st->stmt[ST_HISTORY];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, after);
	sqlite3_bind_int(q, 3, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 32;
			struct store_batch *nv = realloc(v, ncap * sizeof *nv);

			if (!nv) {
				status = fail(err, errlen, STORE_ERROR,
					      "history: out of memory");
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!history_row(q, &v[n])) {
			status = fail(err, errlen, STORE_ERROR,
				      "session %s: corrupt batch row", id);
			break;
		}
		n++;
	}
	if (status == STORE_OK && rc != SQLITE_DONE)
		status = db_fail(st, err, errlen, "history");
	stmt_done(q);
	if (status == STORE_OK && n == 0)
		status = absent_is_notfound(st, id, err, errlen);
	store_unlock(st);

	if (status == STORE_OK)
		for (i = 0; i < n; i++)
			fn(ud, &v[i]);
	free(v);
	return status;
}

/*
 * The rows of step `step` of session id.  On STORE_OK *x (rows * dim floats)
 * and *y (rows floats, or NULL if the step had none) are new allocations
 * the caller frees; nothing is written otherwise.  STORE_NOTFOUND when
 * there is no such step; STORE_ERROR when a blob's length does not match
 * the stored shape.  Thread-safe.
 */
int store_batch_rows(struct store *st, const char *id, int64_t step,
		     float **x, float **y, int *rows, int *dim, char *err,
		     size_t errlen)
{
	sqlite3_stmt *q;
	float *vx = NULL, *vy = NULL;
	int64_t r = 0, d = 0;
	int status = STORE_OK, rc, got, n, x_bytes;

	AM_ASSERT(st && id && x && y && rows && dim);
	store_lock(st);
	q = st->stmt[ST_BATCH_ROWS];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, step);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		status = fail(err, errlen, STORE_NOTFOUND,
			      "session %s has no step %" PRId64, id, step);
		goto done;
	}
	if (rc != SQLITE_ROW) {
		status = db_fail(st, err, errlen, "batch rows");
		goto done;
	}
	if (!column_int(q, 0, 1, INT_MAX, &r) ||
	    !column_int(q, 1, 1, INT_MAX, &d) ||
	    !blob_bytes(r, d, &x_bytes)) {
		status = fail(err, errlen, STORE_ERROR,
			      "session %s step %" PRId64 ": corrupt shape",
			      id, step);
		goto done;
	}
	got = column_floats(q, 2, x_bytes, &vx, &n);
	if (got > 0 && sqlite3_column_type(q, 3) != SQLITE_NULL)
		got = column_floats(q, 3, (int)r * 4, &vy, &n);
	if (got <= 0)
		status = fail(err, errlen, STORE_ERROR,
			      "session %s step %" PRId64 ": %s", id, step,
			      got == 0 ? "corrupt rows" : "out of memory");
done:
	stmt_done(q);
	store_unlock(st);
	if (status == STORE_OK) {
		*x = vx;
		*y = vy;
		*rows = (int)r;
		*dim = (int)d;
	} else {
		free(vx);
		free(vy);
	}
	return status;
}

/* ---- query sets -------------------------------------------------------- */

/* Inside a transaction: STORE_OK when session id is at step want,
 * STORE_CONFLICT when it is at another, STORE_NOTFOUND when it is gone. */
static int session_at_step(struct store *st, const char *id, int64_t want,
			   char *err, size_t errlen)
{
	sqlite3_stmt *q = st->stmt[ST_SESSION_STEP];
	int status = STORE_OK, rc;

	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE)
		status = fail(err, errlen, STORE_NOTFOUND, "no session %s", id);
	else if (rc != SQLITE_ROW)
		status = db_fail(st, err, errlen, "query set: read step");
	else if (sqlite3_column_int64(q, 0) != want)
		status = fail(err, errlen, STORE_CONFLICT, "session %s is at "
			      "step %" PRId64 ", not %" PRId64, id,
			      (int64_t)sqlite3_column_int64(q, 0), want);
	stmt_done(q);
	return status;
}

/* Inside a transaction: 1 if session id has a query set, 0 if not, -1 on
 * an error (message in err). */
static int queries_exist(struct store *st, const char *id, char *err,
			 size_t errlen)
{
	sqlite3_stmt *q = st->stmt[ST_QUERIES_EXISTS];
	int rc, r;

	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = 1;
	else if (rc == SQLITE_DONE)
		r = 0;
	else
		r = (db_fail(st, err, errlen, "query set lookup"), -1);
	stmt_done(q);
	return r;
}

/*
 * Checks q (shape, finite floats) and encodes its blobs before taking the
 * lock; then, in one BEGIN IMMEDIATE transaction, checks the session's
 * step, notes whether a set exists, and inserts or replaces it (an upsert
 * that keeps the created time of the set it replaces).  Thread-safe.
 */
int store_queries_put(struct store *st, const char *id,
		      const struct store_queries *q, int *replaced, char *err,
		      size_t errlen)
{
	sqlite3_stmt *qq;
	unsigned char *x = NULL, *qs = NULL;
	int x_bytes = 0, qs_bytes = 0, status, rc, had = 0, locked = 0;

	AM_ASSERT(st && id && q);
	status = queries_check(id, q, 1, &x_bytes, &qs_bytes, err, errlen);
	if (status != STORE_OK)
		return status;
	x = floats_encode(q->x, (size_t)x_bytes / 4);
	qs = floats_encode(q->qs, (size_t)qs_bytes / 4);
	if (!x || !qs) {
		status = fail(err, errlen, STORE_ERROR,
			      "session %s: out of memory", id);
		goto done;
	}
	store_lock(st);
	locked = 1;
	status = run(st, ST_BEGIN, err, errlen, "query set: begin");
	if (status != STORE_OK)
		goto done;
	status = session_at_step(st, id, q->step, err, errlen);
	if (status == STORE_OK) {
		had = queries_exist(st, id, err, errlen);
		if (had < 0)
			status = STORE_ERROR;
	}
	if (status != STORE_OK)
		goto done;
	qq = st->stmt[ST_QUERIES_PUT];
	rc = sqlite3_bind_text(qq, 1, id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(qq, 2, q->n);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(qq, 3, q->width);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(qq, 4, q->qstate);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(qq, 5, q->step);
	if (rc == SQLITE_OK)
		rc = bind_floats(qq, 6, x, x_bytes);
	if (rc == SQLITE_OK)
		rc = bind_floats(qq, 7, qs, qs_bytes);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(qq, 8, q->created);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(qq, 9, q->updated);
	if (rc != SQLITE_OK)
		status = fail(err, errlen, STORE_ERROR, "query set: %s",
			      sqlite3_errstr(rc));
	else if (sqlite3_step(qq) != SQLITE_DONE)
		status = db_fail(st, err, errlen, "query set");
	stmt_done(qq);
	if (status == STORE_OK)
		status = run(st, ST_COMMIT, err, errlen, "query set: commit");
done:
	if (locked) {
		if (status != STORE_OK)
			rollback(st);
		store_unlock(st);
	}
	free(qs);
	free(x);
	if (status == STORE_OK && replaced)
		*replaced = had;
	return status;
}

/*
 * Reads the query set of session id; *out is written only on STORE_OK.
 * The blobs are checked against the shape stored beside them.
 * Thread-safe.
 */
int store_queries_get(struct store *st, const char *id,
		      struct store_queries *out, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	struct store_queries v;
	int64_t n = 0, width = 0, qstate = 0;
	int status = STORE_OK, rc, got = 0, nf, x_bytes, qs_bytes;

	AM_ASSERT(st && id && out);
	memset(&v, 0, sizeof v);
	store_lock(st);
	q = st->stmt[ST_QUERIES_GET];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		status = fail(err, errlen, STORE_NOTFOUND,
			      "session %s has no query set", id);
		goto done;
	}
	if (rc != SQLITE_ROW) {
		status = db_fail(st, err, errlen, "query set get");
		goto done;
	}
	if (column_int(q, 0, 1, INT_MAX, &n) &&
	    column_int(q, 1, 1, INT_MAX, &width) &&
	    column_int(q, 2, 1, INT_MAX, &qstate) &&
	    column_int(q, 3, 0, INT64_MAX, &v.step) &&
	    blob_bytes(n, width, &x_bytes) && blob_bytes(n, qstate, &qs_bytes) &&
	    column_real(q, 6, &v.created) && column_real(q, 7, &v.updated)) {
		got = column_floats(q, 4, x_bytes, &v.x, &nf);
		if (got > 0)
			got = column_floats(q, 5, qs_bytes, &v.qs, &nf);
	}
	if (got <= 0)
		status = fail(err, errlen, STORE_ERROR,
			      "session %s: %s query set", id,
			      got < 0 ? "out of memory reading its" : "corrupt");
	v.n = (int)n;
	v.width = (int)width;
	v.qstate = (int)qstate;
done:
	stmt_done(q);
	store_unlock(st);
	if (status == STORE_OK)
		*out = v;
	else
		store_queries_clear(&v);
	return status;
}

void store_queries_clear(struct store_queries *q)
{
	if (!q)
		return;
	free(q->x);
	free(q->qs);
	q->x = NULL;
	q->qs = NULL;
}

/* Deletes the query set of session id (one statement, so atomic).
 * STORE_NOTFOUND when it has none.  Thread-safe. */
int store_queries_delete(struct store *st, const char *id, char *err,
			 size_t errlen)
{
	sqlite3_stmt *q;
	int status = STORE_OK;

	AM_ASSERT(st && id);
	store_lock(st);
	q = st->stmt[ST_QUERIES_DELETE];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		status = db_fail(st, err, errlen, "query set delete");
	else if (sqlite3_changes(st->db) == 0)
		status = fail(err, errlen, STORE_NOTFOUND,
			      "session %s has no query set", id);
	stmt_done(q);
	store_unlock(st);
	return status;
}

/* ---- maintenance ------------------------------------------------------- */

/*
 * Checks the whole file; STORE_ERROR with the first complaint in err.  It
 * reads every page under the lock, so other callers wait meanwhile: meant
 * for start-up, tests and tools, not for a request path.
 *
 * integrity_check covers the b-trees, indexes, NOT NULL, CHECK and the
 * STRICT column types; foreign keys are checked separately (integrity_check
 * leaves them out), so a batch whose session is gone is reported too.
 */
int store_integrity_check(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	const unsigned char *t;
	int status = STORE_OK, rc;

	AM_ASSERT(st);
	store_lock(st);
	if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &q,
			       NULL) != SQLITE_OK) {
		status = db_fail(st, err, errlen, "integrity_check");
		goto done;
	}
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		status = db_fail(st, err, errlen, "integrity_check");
		goto done;
	}
	t = sqlite3_column_text(q, 0);
	if (!t || strcmp((const char *)t, "ok") != 0) {
		status = fail(err, errlen, STORE_ERROR, "integrity_check: %s",
			      t ? (const char *)t : "(no message)");
		goto done;
	}
	sqlite3_finalize(q);
	q = NULL;

	if (sqlite3_prepare_v2(st->db, "PRAGMA foreign_key_check", -1, &q,
			       NULL) != SQLITE_OK) {
		status = db_fail(st, err, errlen, "foreign_key_check");
		goto done;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(q, 0);
		status = fail(err, errlen, STORE_ERROR,
			      "foreign_key_check: a row of %s has no parent "
			      "(rowid %" PRId64 ")",
			      t ? (const char *)t : "?",
			      (int64_t)sqlite3_column_int64(q, 1));
	} else if (rc != SQLITE_DONE) {
		status = db_fail(st, err, errlen, "foreign_key_check");
	}
done:
	sqlite3_finalize(q);
	store_unlock(st);
	return status;
}
