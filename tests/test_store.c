/*
 * test_store.c - the SQLite store: migrations and refusal of a newer
 * database, session and step round trips (floats bit for bit), conflicts
 * that change nothing, pagination, corrupt rows refused without a crash,
 * threads, and a child process killed in the middle of committing.
 *
 * Every test works on a fresh database in its own directory under /tmp.
 * The tests open a second, raw SQLite connection where they must look at or
 * damage the file behind the store's back; the store itself is only used
 * through store.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "testutil.h"

extern const size_t store_migrations_count;

/* ---- helpers ------------------------------------------------------------ */

struct tmpdb {
	char dir[64];
	char path[96];
};

static void tmp_make(struct tmpdb *t)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof t->path, "%s/amortd.db", t->dir);
}

static void tmp_remove(struct tmpdb *t)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[128];
	size_t i;

	for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", t->path, suffix[i]);
		unlink(p);
	}
	rmdir(t->dir);
}

static struct store *open_ok(const char *path, int sync_full)
{
	struct store *st = NULL;
	char err[256] = "";
	int rc = store_open(&st, path, sync_full, err, sizeof err);

	if (rc != STORE_OK)
		print_error("store_open: %s\n", err);
	assert_int_equal(rc, STORE_OK);
	assert_non_null(st);
	return st;
}

/* A raw connection for looking behind the store's back. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *q = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		print_error("%s: %s\n", sql, msg ? msg : "?");
	sqlite3_free(msg);
	assert_int_equal(rc, SQLITE_OK);
}

/* An id of 32 hex digits derived from i, like the ones the server makes. */
static void make_id(char id[STORE_ID_LEN], unsigned i)
{
	snprintf(id, STORE_ID_LEN, "%08x%024x", i * 2654435761u, i);
}

static char options_json[] = "{\"dim\":3,\"note\":\"caf\xc3\xa9\"}";

/* A session at step 0 with nstate random floats (state allocated here;
 * free with free(s->state)). */
static void make_session(struct store_session *s, unsigned i, int nstate,
			 uint64_t seed)
{
	memset(s, 0, sizeof *s);
	make_id(s->id, i);
	snprintf(s->model, sizeof s->model, "linreg-d8");
	snprintf(s->model_checksum, sizeof s->model_checksum, "1a2b3c4d");
	snprintf(s->regime, sizeof s->regime, "parametric");
	s->dim = 0;
	s->nstate = nstate;
	s->state = nstate ? tu_alloc((size_t)nstate) : NULL;
	tu_fill(s->state, (size_t)nstate, -2.0f, 2.0f, &seed);
	s->options = options_json;
	s->created = s->updated = 1700000000.25 + i;
}

static void create_ok(struct store *st, const struct store_session *s)
{
	char err[256] = "";
	int rc = store_session_create(st, s, err, sizeof err);

	if (rc != STORE_OK)
		print_error("create: %s\n", err);
	assert_int_equal(rc, STORE_OK);
}

/* Rows of a batch and the state after it are functions of (session, step),
 * so what was committed can be checked later without remembering it. */
#define TB_ROWS 4
#define TB_DIM 3
#define TB_NSTATE 5

static void batch_fill(float *x, float *y, unsigned sid, int64_t step)
{
	int i;

	for (i = 0; i < TB_ROWS * TB_DIM; i++)
		x[i] = (float)sid + 0.001f * (float)step + 0.25f * (float)i;
	for (i = 0; i < TB_ROWS; i++)
		y[i] = -(float)step - 0.5f * (float)i;
}

/*
 * Reads session id, applies one step to it (state[0] = step, state[1] = sid)
 * and commits it with the query set q (NULL: none; q->step is set to the
 * new step) and, when no_losses, losses marked as not computed; returns
 * the commit's status.  Asserts nothing.
 */
static int step_once_q(struct store *st, const char *id, unsigned sid,
		       int64_t seq, struct store_queries *q, int no_losses,
		       char *err, size_t errlen)
{
	struct store_session s;
	struct store_batch b;
	float x[TB_ROWS * TB_DIM], y[TB_ROWS];
	int rc;

	rc = store_session_get(st, id, &s, err, errlen);
	if (rc != STORE_OK)
		return rc;
	if (s.nstate != TB_NSTATE) {
		store_session_clear(&s);
		snprintf(err, errlen, "nstate %d", s.nstate);
		return STORE_ERROR;
	}
	s.step++;
	s.rows += TB_ROWS;
	s.next_seq = seq >= 0 ? seq + 1 : s.next_seq;
	s.dim = TB_DIM;
	s.state[0] = (float)s.step;
	s.state[1] = (float)sid;
	s.updated += 1.0;
	batch_fill(x, y, sid, s.step);
	memset(&b, 0, sizeof b);
	b.step = s.step;
	b.seq = seq;
	b.rows = TB_ROWS;
	b.dim = TB_DIM;
	b.x = x;
	b.y = y;
	b.loss_before = no_losses ? 0 : 1.0 / (double)s.step;
	b.loss_after = no_losses ? 0 : 0.5 / (double)s.step;
	b.no_losses = no_losses;
	b.time = s.updated;
	if (q)
		q->step = s.step;
	rc = q ? store_commit_steps_q(st, &s, &b, 1, q, err, errlen)
	       : store_commit_step(st, &s, &b, err, errlen);
	store_session_clear(&s);
	return rc;
}

/* step_once_q without a query set: used by the threads and the child
 * process, so it asserts nothing. */
static int step_once(struct store *st, const char *id, unsigned sid,
		     int64_t seq, char *err, size_t errlen)
{
	return step_once_q(st, id, sid, seq, NULL, 0, err, errlen);
}

static void step_ok(struct store *st, const char *id, unsigned sid,
		    int64_t seq)
{
	char err[256] = "";
	int rc = step_once(st, id, sid, seq, err, sizeof err);

	if (rc != STORE_OK)
		print_error("step: %s\n", err);
	assert_int_equal(rc, STORE_OK);
}

static void create_stepped(struct store *st, unsigned sid, int steps)
{
	struct store_session s;
	int i;

	make_session(&s, sid, TB_NSTATE, sid);
	create_ok(st, &s);
	for (i = 0; i < steps; i++)
		step_ok(st, s.id, sid, -1);
	free(s.state);
}

/* History collected by a callback. */
struct hist {
	struct store_batch b[512];
	int n;
	int saw_rows;	/* a callback saw x or y loaded */
};

static void hist_cb(void *ud, const struct store_batch *b)
{
	struct hist *h = ud;

	if (b->x || b->y)
		h->saw_rows = 1;
	if (h->n < (int)(sizeof h->b / sizeof h->b[0]))
		h->b[h->n] = *b;
	h->n++;
}

static int history_all(struct store *st, const char *id, struct hist *h)
{
	char err[256] = "";

	memset(h, 0, sizeof *h);
	return store_history(st, id, 0, 1 << 20, hist_cb, h, err, sizeof err);
}

/* Checks everything the store says about session sid against what
 * step_once would have written for `steps` steps. */
static void check_stepped(struct store *st, unsigned sid, int64_t steps)
{
	struct store_session s;
	struct hist h;
	char id[STORE_ID_LEN], err[256] = "";
	int64_t i;

	make_id(id, sid);
	assert_int_equal(store_session_get(st, id, &s, err, sizeof err),
			 STORE_OK);
	assert_int_equal(s.step, steps);
	assert_int_equal(s.rows, steps * TB_ROWS);
	assert_int_equal(s.nstate, TB_NSTATE);
	if (steps > 0) {
		assert_true(s.state[0] == (float)steps);
		assert_true(s.state[1] == (float)sid);
		assert_int_equal(s.dim, TB_DIM);
	}
	store_session_clear(&s);

	assert_int_equal(history_all(st, id, &h), STORE_OK);
	assert_int_equal(h.n, steps);
	for (i = 0; i < steps && i < 512; i++) {
		assert_int_equal(h.b[i].step, i + 1);
		assert_int_equal(h.b[i].rows, TB_ROWS);
		assert_int_equal(h.b[i].dim, TB_DIM);
	}
}

/* ---- migrations and opening ---------------------------------------------- */

static void test_open_migrates(void **state)
{
	struct tmpdb t;
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *q = NULL;
	int strict = 0;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	store_close(st);

	db = raw_open(t.path);
	assert_true(store_migrations_count >= 1);
	assert_int_equal(raw_int(db, "PRAGMA user_version"),
			 (int64_t)store_migrations_count);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema "
				 "WHERE type = 'table' AND name IN "
				 "('sessions', 'batches')"), 2);
	/* both tables are STRICT */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name, strict FROM "
					    "pragma_table_list WHERE name IN "
					    "('sessions', 'batches')", -1,
					    &q, NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW)
		strict += sqlite3_column_int(q, 1);
	sqlite3_finalize(q);
	assert_int_equal(strict, 2);
	sqlite3_close(db);
	tmp_remove(&t);
}

static void test_wal_mode(void **state)
{
	struct tmpdb t;
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *q = NULL;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 0);
	db = raw_open(t.path);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
	store_close(st);
	tmp_remove(&t);
}

static void test_reopen_idempotent(void **state)
{
	struct tmpdb t;
	struct store *st;
	sqlite3 *db;
	int64_t n = -1;
	char err[256];
	int i;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	create_stepped(st, 1, 3);
	store_close(st);
	for (i = 0; i < 3; i++) {
		st = open_ok(t.path, i & 1);
		assert_int_equal(store_session_count(st, &n, err, sizeof err),
				 STORE_OK);
		assert_int_equal(n, 1);
		check_stepped(st, 1, 3);
		store_close(st);
	}
	db = raw_open(t.path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"),
			 (int64_t)store_migrations_count);
	sqlite3_close(db);
	tmp_remove(&t);
}

static void test_newer_database_refused(void **state)
{
	struct tmpdb t;
	struct store *st, *keep = (struct store *)&t;
	sqlite3 *db;
	char sql[64], err[256] = "";

	(void)state;
	tmp_make(&t);
	store_close(open_ok(t.path, 1));
	db = raw_open(t.path);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %zu",
		 store_migrations_count + 1);
	raw_exec(db, sql);
	sqlite3_close(db);

	st = keep;
	assert_int_equal(store_open(&st, t.path, 1, err, sizeof err),
			 STORE_ERROR);
	assert_ptr_equal(st, keep);	/* output untouched */
	assert_non_null(strstr(err, "newer amortd"));

	/* and the refusal changed nothing */
	db = raw_open(t.path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"),
			 (int64_t)store_migrations_count + 1);
	sqlite3_close(db);
	tmp_remove(&t);
}

static void test_open_failures(void **state)
{
	struct tmpdb t;
	struct store *st = NULL;
	char err[256] = "";
	FILE *f;
	int i;

	(void)state;
	tmp_make(&t);
	/* a file that is not a database */
	f = fopen(t.path, "wb");
	assert_non_null(f);
	for (i = 0; i < 4096; i++)
		fputc((i * 37 + 11) & 0xff, f);
	fclose(f);
	assert_int_equal(store_open(&st, t.path, 1, err, sizeof err),
			 STORE_ERROR);
	assert_null(st);
	assert_true(err[0] != '\0');
	tmp_remove(&t);

	/* a directory that does not exist; and err may be NULL */
	err[0] = '\0';
	assert_int_equal(store_open(&st, "/nonexistent-amortd/x/y.db", 1, err,
				    sizeof err), STORE_ERROR);
	assert_null(st);
	assert_true(err[0] != '\0');
	assert_int_equal(store_open(&st, "/nonexistent-amortd/x/y.db", 1, NULL,
				    0), STORE_ERROR);
	store_close(NULL);
	store_session_clear(NULL);
}

/* ---- sessions ------------------------------------------------------------ */

static void test_session_round_trip(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session s, g, e;
	char err[256] = "";

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);

	make_session(&s, 7, 9, 42);
	/* values whose bits a lossy path would change */
	s.state[0] = -0.0f;
	s.state[1] = FLT_MIN / 4.0f;	/* subnormal */
	s.state[2] = FLT_MAX;
	s.state[3] = -FLT_TRUE_MIN;
	s.state[4] = 1.0f / 3.0f;
	s.step = 0;
	s.rows = 0;
	s.next_seq = 0;
	s.dim = 5;
	create_ok(st, &s);
	assert_int_equal(store_session_get(st, s.id, &g, err, sizeof err),
			 STORE_OK);
	assert_string_equal(g.id, s.id);
	assert_string_equal(g.model, "linreg-d8");
	assert_string_equal(g.model_checksum, "1a2b3c4d");
	assert_string_equal(g.regime, "parametric");
	assert_int_equal(g.step, 0);
	assert_int_equal(g.rows, 0);
	assert_int_equal(g.next_seq, 0);
	assert_int_equal(g.dim, 5);
	assert_int_equal(g.nstate, 9);
	assert_memory_equal(g.state, s.state, 9 * sizeof(float));
	assert_string_equal(g.options, options_json);
	assert_true(g.created == s.created);
	assert_true(g.updated == s.updated);
	store_session_clear(&g);
	assert_null(g.state);
	assert_null(g.options);
	free(s.state);

	/* no state, no options */
	make_session(&e, 8, 0, 1);
	e.options = NULL;
	create_ok(st, &e);
	assert_int_equal(store_session_get(st, e.id, &g, err, sizeof err),
			 STORE_OK);
	assert_int_equal(g.nstate, 0);
	assert_null(g.state);
	assert_null(g.options);
	store_session_clear(&g);

	store_close(st);
	tmp_remove(&t);
}

/* The state blob is little-endian binary32, whatever the host. */
static void test_blob_byte_order(void **state)
{
	static const unsigned char want[8] = {
		0x00, 0x00, 0x80, 0x3f,		/* 1.0f */
		0x00, 0x00, 0x20, 0xc1,		/* -10.0f */
	};
	struct tmpdb t;
	struct store *st;
	struct store_session s;
	sqlite3 *db;
	sqlite3_stmt *q = NULL;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	make_session(&s, 1, 2, 1);
	s.state[0] = 1.0f;
	s.state[1] = -10.0f;
	create_ok(st, &s);
	free(s.state);

	db = raw_open(t.path);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT state FROM sessions",
					    -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(q, 0), 8);
	assert_memory_equal(sqlite3_column_blob(q, 0), want, 8);
	sqlite3_finalize(q);
	sqlite3_close(db);
	store_close(st);
	tmp_remove(&t);
}

static void test_session_duplicate(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session s, g;
	char err[256] = "";
	int64_t n;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	make_session(&s, 3, 4, 3);
	create_ok(st, &s);
	s.state[0] = 99.0f;
	snprintf(s.model, sizeof s.model, "other");
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_CONFLICT);
	assert_non_null(strstr(err, "exists"));
	/* the first one is untouched */
	assert_int_equal(store_session_get(st, s.id, &g, err, sizeof err),
			 STORE_OK);
	assert_string_equal(g.model, "linreg-d8");
	assert_true(g.state[0] != 99.0f);
	store_session_clear(&g);
	assert_int_equal(store_session_count(st, &n, err, sizeof err),
			 STORE_OK);
	assert_int_equal(n, 1);
	free(s.state);
	store_close(st);
	tmp_remove(&t);
}

static void test_session_missing(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session g;
	char err[256] = "";
	float *x = NULL, *y = NULL;
	int rows = -7, dim = -7;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	memset(&g, 0x5a, sizeof g);
	assert_int_equal(store_session_get(st, "0123456789abcdef", &g, err,
					   sizeof err), STORE_NOTFOUND);
	assert_int_equal(g.step, (int64_t)0x5a5a5a5a5a5a5a5aLL); /* untouched */
	assert_int_equal(store_session_delete(st, "0123456789abcdef", err,
					      sizeof err), STORE_NOTFOUND);
	assert_int_equal(store_batch_rows(st, "0123456789abcdef", 1, &x, &y,
					  &rows, &dim, err, sizeof err),
			 STORE_NOTFOUND);
	assert_null(x);
	assert_int_equal(rows, -7);
	/* ids that could never exist are simply not found */
	assert_int_equal(store_session_get(st, "", &g, NULL, 0),
			 STORE_NOTFOUND);
	assert_int_equal(store_session_get(st, "../etc/passwd'; --", &g, err,
					   sizeof err), STORE_NOTFOUND);
	store_close(st);
	tmp_remove(&t);
}

static void test_session_bad_input(void **state)
{
	static char bad_json[] = "{\"dim\":";
	struct tmpdb t;
	struct store *st;
	struct store_session s;
	char err[256] = "";
	int64_t n = -1;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	make_session(&s, 1, 3, 1);

	s.state[1] = NAN;
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_ERROR);
	s.state[1] = INFINITY;
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_ERROR);
	s.state[1] = 0.0f;

	snprintf(s.id, sizeof s.id, "a/b");	/* not URL-safe */
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_ERROR);
	s.id[0] = '\0';
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_ERROR);
	memset(s.id, 'a', sizeof s.id);		/* no NUL */
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_ERROR);
	make_id(s.id, 1);

	s.options = bad_json;
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_ERROR);
	s.options = options_json;
	s.step = -1;
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_ERROR);
	s.step = 0;
	s.model[0] = '\0';
	assert_int_equal(store_session_create(st, &s, err, sizeof err),
			 STORE_ERROR);

	assert_int_equal(store_session_count(st, &n, err, sizeof err),
			 STORE_OK);
	assert_int_equal(n, 0);
	free(s.state);
	store_close(st);
	tmp_remove(&t);
}

static void test_delete_cascades(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct hist h;
	sqlite3 *db;
	char a[STORE_ID_LEN], err[256] = "";
	float *x = NULL, *y = NULL;
	int rows, dim;
	int64_t n;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	create_stepped(st, 1, 3);
	create_stepped(st, 2, 4);
	make_id(a, 1);
	assert_int_equal(store_session_delete(st, a, err, sizeof err),
			 STORE_OK);
	assert_int_equal(store_session_delete(st, a, err, sizeof err),
			 STORE_NOTFOUND);
	assert_int_equal(store_batch_rows(st, a, 1, &x, &y, &rows, &dim, err,
					  sizeof err), STORE_NOTFOUND);
	assert_int_equal(history_all(st, a, &h), STORE_NOTFOUND);

	db = raw_open(t.path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM batches"), 4);
	sqlite3_close(db);

	assert_int_equal(store_session_count(st, &n, err, sizeof err),
			 STORE_OK);
	assert_int_equal(n, 1);
	check_stepped(st, 2, 4);
	assert_int_equal(store_integrity_check(st, err, sizeof err), STORE_OK);
	store_close(st);
	tmp_remove(&t);
}

/* ---- steps ---------------------------------------------------------------- */

static void test_commit_step(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session s, g;
	struct store_batch b;
	char err[256] = "";
	float x[TB_ROWS * TB_DIM], y[TB_ROWS], *rx = NULL, *ry = NULL;
	float gx[6] = { 1.5f, -2.0f, 0.0f, 3.25f, -0.0f, 1e-30f };
	int rows = 0, dim = 0;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	create_stepped(st, 5, 3);
	check_stepped(st, 5, 3);

	/* the rows of step 2 come back bit for bit */
	make_id(s.id, 5);
	assert_int_equal(store_batch_rows(st, s.id, 2, &rx, &ry, &rows, &dim,
					  err, sizeof err), STORE_OK);
	assert_int_equal(rows, TB_ROWS);
	assert_int_equal(dim, TB_DIM);
	batch_fill(x, y, 5, 2);
	assert_memory_equal(rx, x, sizeof x);
	assert_non_null(ry);
	assert_memory_equal(ry, y, sizeof y);
	free(rx);
	free(ry);
	assert_int_equal(store_batch_rows(st, s.id, 4, &rx, &ry, &rows, &dim,
					  err, sizeof err), STORE_NOTFOUND);

	/* a generative batch: no y; dim differs from the session's */
	assert_int_equal(store_session_get(st, s.id, &g, err, sizeof err),
			 STORE_OK);
	g.step = 4;
	g.rows += 3;
	g.next_seq = 9;
	g.updated = 1800000000.5;
	memset(&b, 0, sizeof b);
	b.step = 4;
	b.seq = 8;
	b.rows = 3;
	b.dim = 2;
	b.x = gx;
	b.y = NULL;
	b.loss_before = 2.5;
	b.loss_after = -1.25;
	b.time = 1800000000.5;
	assert_int_equal(store_commit_step(st, &g, &b, err, sizeof err),
			 STORE_OK);
	store_session_clear(&g);
	rx = ry = NULL;
	assert_int_equal(store_batch_rows(st, s.id, 4, &rx, &ry, &rows, &dim,
					  err, sizeof err), STORE_OK);
	assert_int_equal(rows, 3);
	assert_int_equal(dim, 2);
	assert_memory_equal(rx, gx, sizeof gx);
	assert_null(ry);
	free(rx);
	assert_int_equal(store_session_get(st, s.id, &g, err, sizeof err),
			 STORE_OK);
	assert_int_equal(g.step, 4);
	assert_int_equal(g.rows, 3 * TB_ROWS + 3);
	assert_int_equal(g.next_seq, 9);
	assert_true(g.updated == 1800000000.5);
	store_session_clear(&g);
	store_close(st);
	tmp_remove(&t);
}

/*
 * Several steps in one commit: stored all together, or not at all.  The
 * daemon commits a JSON request of several mini-batches this way; before
 * store_commit_steps it committed them one transaction each, and a kill -9
 * between two of them left the request applied in part (tests/crash.sh
 * caught that).
 */
static void test_commit_steps(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session s;
	struct store_batch b[3];
	float x[3][TB_ROWS * TB_DIM], y[3][TB_ROWS];
	char err[256] = "";
	int i;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	make_session(&s, 7, TB_NSTATE, 7);
	create_ok(st, &s);
	memset(b, 0, sizeof b);
	for (i = 0; i < 3; i++) {
		batch_fill(x[i], y[i], 7, i + 1);
		b[i].step = i + 1;
		b[i].seq = 0;
		b[i].rows = TB_ROWS;
		b[i].dim = TB_DIM;
		b[i].x = x[i];
		b[i].y = y[i];
		b[i].loss_before = 1.0;
		b[i].loss_after = 0.5;
		b[i].time = s.created + 1;
	}
	s.step = 3;
	s.rows = 3 * TB_ROWS;
	s.next_seq = 1;
	s.dim = TB_DIM;
	s.state[0] = 3.0f;
	s.state[1] = 7.0f;

	/* refused before anything is written: a bad last batch, steps that
	 * do not lead to the session's step, more steps than the session */
	b[2].loss_after = NAN;
	assert_int_equal(store_commit_steps(st, &s, b, 3, err, sizeof err), STORE_ERROR);
	b[2].loss_after = 0.5;
	b[1].step = 3;
	assert_int_equal(store_commit_steps(st, &s, b, 3, err, sizeof err), STORE_ERROR);
	b[1].step = 2;
	s.step = 2;
	assert_int_equal(store_commit_steps(st, &s, b, 3, err, sizeof err), STORE_ERROR);
	/* steps 2..3 on a session at step 0: a conflict */
	s.step = 3;
	assert_int_equal(store_commit_steps(st, &s, b + 1, 2, err, sizeof err),
			 STORE_CONFLICT);
	check_stepped(st, 7, 0);

	assert_int_equal(store_commit_steps(st, &s, b, 3, err, sizeof err), STORE_OK);
	check_stepped(st, 7, 3);
	/* the same steps again: a conflict, nothing changes */
	assert_int_equal(store_commit_steps(st, &s, b, 3, err, sizeof err), STORE_CONFLICT);
	check_stepped(st, 7, 3);
	free(s.state);
	store_close(st);
	tmp_remove(&t);
}

/* A stale or skipping commit is STORE_CONFLICT and changes nothing. */
static void test_commit_conflict(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session s, before, after;
	struct store_batch b;
	struct hist h;
	char err[256] = "";
	float x[TB_ROWS * TB_DIM], y[TB_ROWS];
	int64_t try[] = { 1, 2, 4, 9 };	/* session is at 2: only 3 fits */
	size_t i;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	create_stepped(st, 1, 2);
	make_id(s.id, 1);
	assert_int_equal(store_session_get(st, s.id, &before, err, sizeof err),
			 STORE_OK);

	for (i = 0; i < sizeof try / sizeof try[0]; i++) {
		assert_int_equal(store_session_get(st, s.id, &s, err,
						   sizeof err), STORE_OK);
		s.step = try[i];
		s.rows = 1000;
		s.state[0] = 123.0f;
		batch_fill(x, y, 1, try[i]);
		memset(&b, 0, sizeof b);
		b.step = try[i];
		b.seq = 0;
		b.rows = TB_ROWS;
		b.dim = TB_DIM;
		b.x = x;
		b.y = y;
		b.time = 1.0;
		err[0] = '\0';
		assert_int_equal(store_commit_step(st, &s, &b, err,
						   sizeof err),
				 STORE_CONFLICT);
		assert_true(err[0] != '\0');
		store_session_clear(&s);
	}

	assert_int_equal(store_session_get(st, s.id, &after, err, sizeof err),
			 STORE_OK);
	assert_int_equal(after.step, before.step);
	assert_int_equal(after.rows, before.rows);
	assert_int_equal(after.next_seq, before.next_seq);
	assert_true(after.updated == before.updated);
	assert_int_equal(after.nstate, before.nstate);
	assert_memory_equal(after.state, before.state,
			    (size_t)before.nstate * sizeof(float));
	store_session_clear(&after);
	store_session_clear(&before);
	assert_int_equal(history_all(st, s.id, &h), STORE_OK);
	assert_int_equal(h.n, 2);

	/* and the next real step still goes through */
	step_ok(st, s.id, 1, -1);
	check_stepped(st, 1, 3);
	store_close(st);
	tmp_remove(&t);
}

static void test_commit_refused(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session s;
	struct store_batch b;
	char err[256] = "";
	float x[TB_ROWS * TB_DIM], y[TB_ROWS];

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);

	/* no such session */
	make_session(&s, 9, TB_NSTATE, 9);
	s.step = 1;
	batch_fill(x, y, 9, 1);
	memset(&b, 0, sizeof b);
	b.step = 1;
	b.seq = -1;
	b.rows = TB_ROWS;
	b.dim = TB_DIM;
	b.x = x;
	b.y = y;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_NOTFOUND);

	s.step = 0;
	create_ok(st, &s);
	s.step = 1;
	/* bad batches: each refused before anything is written */
	x[3] = NAN;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_ERROR);
	x[3] = 0.0f;
	y[0] = INFINITY;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_ERROR);
	y[0] = 0.0f;
	b.loss_after = NAN;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_ERROR);
	b.loss_after = 0.0;
	s.state[2] = NAN;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_ERROR);
	s.state[2] = 0.0f;
	b.rows = 0;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_ERROR);
	b.rows = TB_ROWS;
	b.step = 2;	/* batch and session disagree */
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_ERROR);
	b.step = 1;
	b.seq = -2;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_ERROR);
	b.seq = -1;
	b.rows = 1 << 20;	/* x would pass 2 GiB */
	b.dim = 1 << 10;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err),
			 STORE_ERROR);
	b.rows = TB_ROWS;
	b.dim = TB_DIM;
	free(s.state);
	check_stepped(st, 9, 0);

	step_ok(st, s.id, 9, -1);
	check_stepped(st, 9, 1);
	store_close(st);
	tmp_remove(&t);
}

static void test_history(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct hist h;
	char id[STORE_ID_LEN], err[256] = "";
	int i;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	make_id(id, 4);
	create_stepped(st, 4, 0);
	assert_int_equal(history_all(st, id, &h), STORE_OK);
	assert_int_equal(h.n, 0);
	for (i = 0; i < 7; i++)
		step_ok(st, id, 4, i);

	assert_int_equal(history_all(st, id, &h), STORE_OK);
	assert_int_equal(h.n, 7);
	assert_false(h.saw_rows);
	for (i = 0; i < 7; i++) {
		assert_int_equal(h.b[i].step, i + 1);
		assert_int_equal(h.b[i].seq, i);
		assert_int_equal(h.b[i].rows, TB_ROWS);
		assert_int_equal(h.b[i].dim, TB_DIM);
		assert_true(h.b[i].loss_before == 1.0 / (i + 1));
		assert_true(h.b[i].loss_after == 0.5 / (i + 1));
	}
	for (i = 1; i < 7; i++)
		assert_true(h.b[i].time > h.b[i - 1].time);

	memset(&h, 0, sizeof h);
	assert_int_equal(store_history(st, id, 3, 2, hist_cb, &h, err,
				       sizeof err), STORE_OK);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.b[0].step, 4);
	assert_int_equal(h.b[1].step, 5);

	memset(&h, 0, sizeof h);
	assert_int_equal(store_history(st, id, 7, 10, hist_cb, &h, err,
				       sizeof err), STORE_OK);
	assert_int_equal(h.n, 0);
	assert_int_equal(store_history(st, id, 0, 0, hist_cb, &h, err,
				       sizeof err), STORE_ERROR);
	assert_int_equal(store_history(st, "ffff", 0, 10, hist_cb, &h, err,
				       sizeof err), STORE_NOTFOUND);
	store_close(st);
	tmp_remove(&t);
}

static void test_seq_result(void **state)
{
	struct tmpdb t;
	struct store *st;
	char id[STORE_ID_LEN], err[256] = "";
	int64_t count = -1, last = -1;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	make_id(id, 2);
	create_stepped(st, 2, 0);
	/* request seq 0 cut into two mini-batches, then seq 1, then none */
	step_ok(st, id, 2, 0);
	step_ok(st, id, 2, 0);
	step_ok(st, id, 2, 1);
	step_ok(st, id, 2, -1);

	assert_int_equal(store_seq_result(st, id, 0, &count, &last, err,
					  sizeof err), STORE_OK);
	assert_int_equal(count, 2);
	assert_int_equal(last, 2);
	assert_int_equal(store_seq_result(st, id, 1, &count, &last, err,
					  sizeof err), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(last, 3);
	assert_int_equal(store_seq_result(st, id, 2, &count, &last, err,
					  sizeof err), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(last, 0);
	count = last = 77;
	assert_int_equal(store_seq_result(st, "abcd", 0, &count, &last, err,
					  sizeof err), STORE_NOTFOUND);
	assert_int_equal(count, 77);
	assert_int_equal(store_seq_result(st, id, -1, &count, &last, err,
					  sizeof err), STORE_ERROR);
	store_close(st);
	tmp_remove(&t);
}

/* ---- listing ---------------------------------------------------------------- */

struct page {
	char ids[64][STORE_ID_LEN];
	int n;
	int bad;	/* a session came with its state, or without options */
};

static void page_cb(void *ud, const struct store_session *s)
{
	struct page *p = ud;

	if (s->state || s->nstate || !s->options ||
	    strcmp(s->options, options_json) != 0 ||
	    strcmp(s->model, "linreg-d8") != 0)
		p->bad = 1;
	if (p->n < 64)
		memcpy(p->ids[p->n], s->id, STORE_ID_LEN);
	p->n++;
}

static void test_list_pagination(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session s;
	struct page p;
	char after[STORE_ID_LEN] = "", err[256] = "";
	char seen[25][STORE_ID_LEN];
	int nseen = 0, pages = 0, i, j;
	int64_t n = -1;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	assert_int_equal(store_session_count(st, &n, err, sizeof err),
			 STORE_OK);
	assert_int_equal(n, 0);
	for (i = 0; i < 25; i++) {
		make_session(&s, (unsigned)(i * 7 + 3), 2, (uint64_t)i);
		create_ok(st, &s);
		free(s.state);
	}
	assert_int_equal(store_session_count(st, &n, err, sizeof err),
			 STORE_OK);
	assert_int_equal(n, 25);

	for (;;) {
		memset(&p, 0, sizeof p);
		assert_int_equal(store_session_list(st, after, 10, page_cb, &p,
						    err, sizeof err),
				 STORE_OK);
		assert_false(p.bad);
		assert_true(p.n <= 10);
		if (p.n == 0)
			break;
		pages++;
		assert_int_equal(p.n, pages < 3 ? 10 : 5);
		for (i = 0; i < p.n; i++) {
			/* strictly increasing across pages */
			if (nseen > 0)
				assert_true(strcmp(p.ids[i],
						   seen[nseen - 1]) > 0);
			assert_true(nseen < 25);
			memcpy(seen[nseen++], p.ids[i], STORE_ID_LEN);
		}
		memcpy(after, p.ids[p.n - 1], STORE_ID_LEN);
	}
	assert_int_equal(pages, 3);
	assert_int_equal(nseen, 25);
	/* every session seen exactly once */
	for (i = 0; i < 25; i++) {
		char id[STORE_ID_LEN];
		int found = 0;

		make_id(id, (unsigned)(i * 7 + 3));
		for (j = 0; j < nseen; j++)
			found += strcmp(id, seen[j]) == 0;
		assert_int_equal(found, 1);
	}

	/* NULL after is the first page; a bad limit is refused */
	memset(&p, 0, sizeof p);
	assert_int_equal(store_session_list(st, NULL, 3, page_cb, &p, err,
					    sizeof err), STORE_OK);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.ids[0], seen[0]);
	assert_int_equal(store_session_list(st, NULL, 0, page_cb, &p, err,
					    sizeof err), STORE_ERROR);
	store_close(st);
	tmp_remove(&t);
}

/* Callbacks run outside the store's lock: they may call the store. */
struct reenter {
	struct store *st;
	int calls, bad;
};

static void reenter_cb(void *ud, const struct store_session *s)
{
	struct reenter *r = ud;
	struct store_session g;
	char err[256];

	r->calls++;
	if (store_session_get(r->st, s->id, &g, err, sizeof err) != STORE_OK)
		r->bad = 1;
	else
		store_session_clear(&g);
}

static void test_callback_reentry(void **state)
{
	struct tmpdb t;
	struct reenter r;
	char err[256];

	(void)state;
	tmp_make(&t);
	memset(&r, 0, sizeof r);
	r.st = open_ok(t.path, 1);
	create_stepped(r.st, 1, 1);
	create_stepped(r.st, 2, 0);
	assert_int_equal(store_session_list(r.st, "", 10, reenter_cb, &r, err,
					    sizeof err), STORE_OK);
	assert_int_equal(r.calls, 2);
	assert_false(r.bad);
	store_close(r.st);
	tmp_remove(&t);
}

/* ---- corruption ------------------------------------------------------------ */

static int list_calls;

static void count_cb(void *ud, const struct store_session *s)
{
	(void)ud;
	(void)s;
	list_calls++;
}

/* Rows damaged behind the store's back (CHECKs switched off on a raw
 * connection) are refused with STORE_ERROR, never read past. */
static void test_corrupt_rows(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session g;
	sqlite3 *db;
	char id[STORE_ID_LEN], sql[256], err[256] = "";
	float *x = NULL, *y = NULL;
	int rows = -1, dim = -1;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	create_stepped(st, 1, 3);
	make_id(id, 1);
	assert_int_equal(store_integrity_check(st, err, sizeof err), STORE_OK);

	db = raw_open(t.path);
	raw_exec(db, "PRAGMA ignore_check_constraints = ON");

	/* x shorter than rows * dim floats; y longer than rows floats */
	snprintf(sql, sizeof sql, "UPDATE batches SET x = x'0000803f' "
		 "WHERE session = '%s' AND step = 1", id);
	raw_exec(db, sql);
	snprintf(sql, sizeof sql, "UPDATE batches SET y = zeroblob(400) "
		 "WHERE session = '%s' AND step = 2", id);
	raw_exec(db, sql);
	/* a shape whose byte count overflows an int */
	snprintf(sql, sizeof sql, "UPDATE batches SET rows = 2000000000, "
		 "dim = 2000000000 WHERE session = '%s' AND step = 3", id);
	raw_exec(db, sql);
	assert_int_equal(store_batch_rows(st, id, 1, &x, &y, &rows, &dim, err,
					  sizeof err), STORE_ERROR);
	assert_int_equal(store_batch_rows(st, id, 2, &x, &y, &rows, &dim, err,
					  sizeof err), STORE_ERROR);
	assert_int_equal(store_batch_rows(st, id, 3, &x, &y, &rows, &dim, err,
					  sizeof err), STORE_ERROR);
	assert_null(x);
	assert_null(y);
	assert_int_equal(rows, -1);

	/* the integrity check sees the broken CHECKs too */
	assert_int_equal(store_integrity_check(st, err, sizeof err),
			 STORE_ERROR);
	assert_true(err[0] != '\0');

	/* state not a whole number of floats */
	snprintf(sql, sizeof sql, "UPDATE sessions SET state = x'010203' "
		 "WHERE id = '%s'", id);
	raw_exec(db, sql);
	assert_int_equal(store_session_get(st, id, &g, err, sizeof err),
			 STORE_ERROR);

	/* a model name longer than the struct holds */
	snprintf(sql, sizeof sql, "UPDATE sessions SET state = x'', "
		 "model = replace(hex(zeroblob(50)), '0', 'm') WHERE id = '%s'", id);
	raw_exec(db, sql);
	assert_int_equal(store_session_get(st, id, &g, err, sizeof err),
			 STORE_ERROR);
	list_calls = 0;
	assert_int_equal(store_session_list(st, "", 10, count_cb, NULL, err,
					    sizeof err), STORE_ERROR);
	assert_int_equal(list_calls, 0);	/* no partial page */

	/* a negative counter */
	snprintf(sql, sizeof sql, "UPDATE sessions SET model = 'm', "
		 "step = -4 WHERE id = '%s'", id);
	raw_exec(db, sql);
	assert_int_equal(store_session_get(st, id, &g, err, sizeof err),
			 STORE_ERROR);

	sqlite3_close(db);
	store_close(st);
	tmp_remove(&t);
}

/* ---- threads ------------------------------------------------------------- */

#define NTHREAD 4
#define NSTEP 200

struct worker {
	struct store *st;
	unsigned sid;
	int done;	/* successful commits */
	int conflicts;
	int failed;
	char err[256];
};

static void *own_session_worker(void *arg)
{
	struct worker *w = arg;
	char id[STORE_ID_LEN];
	int i;

	make_id(id, w->sid);
	for (i = 0; i < NSTEP; i++) {
		if (step_once(w->st, id, w->sid, i, w->err,
			      sizeof w->err) != STORE_OK) {
			w->failed = 1;
			break;
		}
		w->done++;
	}
	return NULL;
}

struct reader {
	struct store *st;
	volatile int stop;
	int failed, loops;
};

static void noop_cb(void *ud, const struct store_session *s)
{
	(void)ud;
	(void)s;
}

static void *reader_worker(void *arg)
{
	struct reader *r = arg;
	char err[256];
	int64_t n;

	while (!r->stop) {
		if (store_session_count(r->st, &n, err, sizeof err) !=
		    STORE_OK ||
		    store_session_list(r->st, "", 100, noop_cb, NULL, err,
				       sizeof err) != STORE_OK)
			r->failed = 1;
		r->loops++;
	}
	return NULL;
}

static void test_threads_own_sessions(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct worker w[NTHREAD];
	struct reader r;
	pthread_t th[NTHREAD], rt;
	char err[256] = "";
	int i;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 0);
	for (i = 0; i < NTHREAD; i++)
		create_stepped(st, (unsigned)(100 + i), 0);
	memset(w, 0, sizeof w);
	memset(&r, 0, sizeof r);
	r.st = st;
	assert_int_equal(pthread_create(&rt, NULL, reader_worker, &r), 0);
	for (i = 0; i < NTHREAD; i++) {
		w[i].st = st;
		w[i].sid = (unsigned)(100 + i);
		assert_int_equal(pthread_create(&th[i], NULL,
						own_session_worker, &w[i]), 0);
	}
	for (i = 0; i < NTHREAD; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	r.stop = 1;
	assert_int_equal(pthread_join(rt, NULL), 0);

	for (i = 0; i < NTHREAD; i++) {
		char id[STORE_ID_LEN];
		int64_t count, last;

		if (w[i].failed)
			print_error("worker %d: %s\n", i, w[i].err);
		assert_false(w[i].failed);
		assert_int_equal(w[i].done, NSTEP);
		check_stepped(st, w[i].sid, NSTEP);
		make_id(id, w[i].sid);
		assert_int_equal(store_seq_result(st, id, NSTEP - 1, &count,
						  &last, err, sizeof err),
				 STORE_OK);
		assert_int_equal(count, 1);
		assert_int_equal(last, NSTEP);
	}
	assert_false(r.failed);
	assert_int_equal(store_integrity_check(st, err, sizeof err), STORE_OK);
	store_close(st);
	tmp_remove(&t);
}

#define NCONTEND 50

static void *contended_worker(void *arg)
{
	struct worker *w = arg;
	char id[STORE_ID_LEN];

	make_id(id, w->sid);
	while (w->done < NCONTEND) {
		int rc = step_once(w->st, id, w->sid, -1, w->err,
				   sizeof w->err);

		if (rc == STORE_OK) {
			w->done++;
		} else if (rc == STORE_CONFLICT) {
			w->conflicts++;
		} else {
			w->failed = 1;
			break;
		}
	}
	return NULL;
}

/* Four threads read-modify-commit the same session: every commit that
 * reports STORE_OK is applied exactly once, the others are conflicts. */
static void test_threads_contended(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct worker w[NTHREAD];
	pthread_t th[NTHREAD];
	int i;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 0);
	create_stepped(st, 77, 0);
	memset(w, 0, sizeof w);
	for (i = 0; i < NTHREAD; i++) {
		w[i].st = st;
		w[i].sid = 77;
		assert_int_equal(pthread_create(&th[i], NULL, contended_worker,
						&w[i]), 0);
	}
	for (i = 0; i < NTHREAD; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (w[i].failed)
			print_error("worker %d: %s\n", i, w[i].err);
		assert_false(w[i].failed);
		assert_int_equal(w[i].done, NCONTEND);
	}
	check_stepped(st, 77, NTHREAD * NCONTEND);
	store_close(st);
	tmp_remove(&t);
}

/* ---- crash safety ---------------------------------------------------------- */

#define NCRASH_SESSIONS 3

/* The child: commits steps round robin to its sessions for ever, telling
 * the parent (one byte on fd) once it has committed `signal_after`. */
static void crash_child(const char *path, int fd, int signal_after)
{
	struct store *st = NULL;
	char id[STORE_ID_LEN], err[256];
	int i, n = 0;

	if (store_open(&st, path, 1, err, sizeof err) != STORE_OK)
		_exit(2);
	for (i = 0; i < NCRASH_SESSIONS; i++) {
		struct store_session s;
		int rc;

		make_session(&s, (unsigned)(500 + i), TB_NSTATE, 1);
		rc = store_session_create(st, &s, err, sizeof err);
		free(s.state);
		if (rc != STORE_OK && rc != STORE_CONFLICT)
			_exit(3);
	}
	for (;;) {
		for (i = 0; i < NCRASH_SESSIONS; i++) {
			make_id(id, (unsigned)(500 + i));
			if (step_once(st, id, (unsigned)(500 + i), -1, err,
				      sizeof err) != STORE_OK)
				_exit(4);
			if (++n == signal_after &&
			    write(fd, "k", 1) != 1)
				_exit(5);
		}
	}
}

/*
 * Kills a child process while it commits (SIGKILL lands wherever the child
 * is: often inside a transaction), three times over the same file, and
 * checks after each that the database is sound and every session's
 * counters, state and batches agree: no step is ever half-written.
 */
static void test_crash_safety(void **state)
{
	struct tmpdb t;
	int64_t total = 0, prev = 0;
	int round;

	(void)state;
	tmp_make(&t);
	for (round = 0; round < 3; round++) {
		struct store *st;
		char err[256] = "", c;
		int fd[2], status, i;
		pid_t pid;

		assert_int_equal(pipe(fd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fd[0]);
			crash_child(t.path, fd[1], 20 + 7 * round);
			_exit(1);
		}
		close(fd[1]);
		assert_int_equal(read(fd[0], &c, 1), 1);
		assert_int_equal(kill(pid, SIGKILL), 0);
		close(fd[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* killed, not failed on its own */
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);

		st = open_ok(t.path, 1);
		assert_int_equal(store_integrity_check(st, err, sizeof err),
				 STORE_OK);
		total = 0;
		for (i = 0; i < NCRASH_SESSIONS; i++) {
			struct store_session s;
			char id[STORE_ID_LEN];

			make_id(id, (unsigned)(500 + i));
			assert_int_equal(store_session_get(st, id, &s, err,
							   sizeof err),
					 STORE_OK);
			/* step == number of batches, state and rows agree */
			check_stepped(st, 500u + (unsigned)i, s.step);
			total += s.step;
			store_session_clear(&s);
		}
		/* the child got at least as far as it told us */
		assert_true(total >= 20 + 7 * round + prev);
		prev = total;
		store_close(st);
	}
	tmp_remove(&t);
}

/* ---- the implicit regime: query sets, losses not computed --------------- */

#define TQ_N 3
#define TQ_WIDTH 4
#define TQ_QSTATE 2

/* A query set of session sid at step (x and qs allocated; free with
 * store_queries_clear). */
static void make_queries(struct store_queries *q, int64_t step, uint64_t seed)
{
	memset(q, 0, sizeof *q);
	q->n = TQ_N;
	q->width = TQ_WIDTH;
	q->qstate = TQ_QSTATE;
	q->step = step;
	q->x = tu_alloc(TQ_N * TQ_WIDTH);
	q->qs = tu_alloc(TQ_N * TQ_QSTATE);
	tu_fill(q->x, TQ_N * TQ_WIDTH, -3.0f, 3.0f, &seed);
	tu_fill(q->qs, TQ_N * TQ_QSTATE, -1.0f, 1.0f, &seed);
	q->x[1] = -0.0f;
	q->qs[2] = 1e-30f;
	q->created = q->updated = 1700000100.5;
}

/* Whether the stored set of id is q, bit for bit (step, shape, floats). */
static void check_queries(struct store *st, const char *id,
			  const struct store_queries *q)
{
	struct store_queries g;
	char err[256] = "";

	assert_int_equal(store_queries_get(st, id, &g, err, sizeof err), STORE_OK);
	assert_int_equal(g.n, q->n);
	assert_int_equal(g.width, q->width);
	assert_int_equal(g.qstate, q->qstate);
	assert_int_equal(g.step, q->step);
	assert_memory_equal(g.x, q->x, (size_t)q->n * q->width * sizeof *g.x);
	assert_memory_equal(g.qs, q->qs, (size_t)q->n * q->qstate * sizeof *g.qs);
	assert_true(g.updated == q->updated);
	store_queries_clear(&g);
	store_queries_clear(&g);
}

/* A database written by the first schema (user_version 1, a batch row
 * without the losses column) is migrated: its losses count as computed,
 * and query sets can be stored. */
static void test_migrates_from_v1(void **state)
{
	extern const char *const store_migrations[];
	struct tmpdb t;
	struct store *st;
	struct hist h;
	sqlite3 *db;
	char id[STORE_ID_LEN], sql[512];

	(void)state;
	tmp_make(&t);
	db = raw_open(t.path);
	raw_exec(db, store_migrations[0]);
	raw_exec(db, "PRAGMA user_version = 1");
	make_id(id, 7);
	snprintf(sql, sizeof sql, "INSERT INTO sessions (id, model, model_checksum, "
		 "regime, step, rows, next_seq, dim, state, options, created, updated) "
		 "VALUES ('%s', 'm', '01234567', 'parametric', 1, 1, 0, 1, "
		 "x'0000803f', NULL, 1.0, 2.0)", id);
	raw_exec(db, sql);
	snprintf(sql, sizeof sql, "INSERT INTO batches (session, step, seq, rows, dim, "
		 "x, y, loss_before, loss_after, time) VALUES ('%s', 1, -1, 1, 1, "
		 "x'0000803f', x'00000040', 0.75, 0.25, 2.0)", id);
	raw_exec(db, sql);
	sqlite3_close(db);

	st = open_ok(t.path, 1);
	assert_int_equal(history_all(st, id, &h), STORE_OK);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.b[0].no_losses, 0);
	assert_true(h.b[0].loss_before == 0.75 && h.b[0].loss_after == 0.25);
	store_close(st);

	db = raw_open(t.path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"),
			 (int64_t)store_migrations_count);
	assert_int_equal(raw_int(db, "SELECT strict FROM pragma_table_list WHERE "
				 "name = 'query_sets'"), 1);
	sqlite3_close(db);
	tmp_remove(&t);
}

/* Registering, reading, replacing and deleting a query set. */
static void test_query_sets(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_queries q, q2, g;
	sqlite3 *db;
	char id[STORE_ID_LEN], other[STORE_ID_LEN], err[256] = "";
	int replaced = -1;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	create_stepped(st, 1, 2);
	make_id(id, 1);
	make_id(other, 2);
	make_queries(&q, 2, 11);

	/* a set not current at the session's step, or of no session */
	q.step = 1;
	assert_int_equal(store_queries_put(st, id, &q, &replaced, err, sizeof err),
			 STORE_CONFLICT);
	q.step = 2;
	assert_int_equal(store_queries_put(st, other, &q, &replaced, err, sizeof err),
			 STORE_NOTFOUND);
	assert_int_equal(replaced, -1);
	assert_int_equal(store_queries_get(st, id, &g, err, sizeof err), STORE_NOTFOUND);
	/* a non-finite state is refused before anything is written */
	q.qs[0] = NAN;
	assert_int_equal(store_queries_put(st, id, &q, NULL, err, sizeof err),
			 STORE_ERROR);
	q.qs[0] = 0.5f;

	assert_int_equal(store_queries_put(st, id, &q, &replaced, err, sizeof err),
			 STORE_OK);
	assert_int_equal(replaced, 0);
	check_queries(st, id, &q);

	/* replacing keeps the first registration's created time */
	make_queries(&q2, 2, 12);
	q2.n = 2;
	q2.created = q2.updated = 1700000200.0;
	assert_int_equal(store_queries_put(st, id, &q2, &replaced, err, sizeof err),
			 STORE_OK);
	assert_int_equal(replaced, 1);
	check_queries(st, id, &q2);
	assert_int_equal(store_queries_get(st, id, &g, err, sizeof err), STORE_OK);
	assert_true(g.created == q.created);
	store_queries_clear(&g);

	assert_int_equal(store_queries_delete(st, id, err, sizeof err), STORE_OK);
	assert_int_equal(store_queries_delete(st, id, err, sizeof err), STORE_NOTFOUND);
	assert_int_equal(store_queries_get(st, id, &g, err, sizeof err), STORE_NOTFOUND);

	/* deleting a session deletes its set */
	assert_int_equal(store_queries_put(st, id, &q, NULL, err, sizeof err), STORE_OK);
	assert_int_equal(store_session_delete(st, id, err, sizeof err), STORE_OK);
	db = raw_open(t.path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM query_sets"), 0);
	sqlite3_close(db);
	assert_int_equal(store_integrity_check(st, err, sizeof err), STORE_OK);
	store_queries_clear(&q2);
	store_queries_clear(&q);
	store_close(st);
	tmp_remove(&t);
}

/*
 * A session with a query set commits its steps with it, in the same
 * transaction: a commit that leaves the set behind, one of another shape
 * or one whose set is not current is refused and changes nothing; the
 * set survives a reopen.  Losses marked as not computed are stored as 0
 * and read back marked.
 */
static void test_commit_with_query_set(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_queries q, bad;
	struct hist h;
	char id[STORE_ID_LEN], err[256] = "";
	int i;

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	create_stepped(st, 1, 2);
	make_id(id, 1);
	make_queries(&q, 2, 21);
	assert_int_equal(store_queries_put(st, id, &q, NULL, err, sizeof err), STORE_OK);

	/* without the set: refused, nothing changes */
	assert_int_equal(step_once(st, id, 1, -1, err, sizeof err), STORE_CONFLICT);
	check_stepped(st, 1, 2);
	check_queries(st, id, &q);

	/* with it: the step and the refined states together */
	for (i = 0; i < TQ_N * TQ_QSTATE; i++)
		q.qs[i] += 1.0f;
	q.updated += 1;
	assert_int_equal(step_once_q(st, id, 1, -1, &q, 0, err, sizeof err), STORE_OK);
	assert_int_equal(q.step, 3);
	check_stepped(st, 1, 3);
	check_queries(st, id, &q);

	/* a set of another shape than the stored one: refused */
	make_queries(&bad, 0, 22);
	bad.n = TQ_N - 1;
	assert_int_equal(step_once_q(st, id, 1, -1, &bad, 0, err, sizeof err),
			 STORE_CONFLICT);
	check_stepped(st, 1, 3);
	check_queries(st, id, &q);
	store_queries_clear(&bad);

	/* losses not computed: stored as 0, read back as such */
	q.qs[0] = -4.0f;
	assert_int_equal(step_once_q(st, id, 1, -1, &q, 1, err, sizeof err), STORE_OK);
	check_queries(st, id, &q);
	assert_int_equal(history_all(st, id, &h), STORE_OK);
	assert_int_equal(h.n, 4);
	assert_int_equal(h.b[2].no_losses, 0);
	assert_true(h.b[2].loss_before == 1.0 / 3);
	assert_int_equal(h.b[3].no_losses, 1);
	assert_true(h.b[3].loss_before == 0 && h.b[3].loss_after == 0);

	/* the set survives closing and reopening the store */
	store_close(st);
	st = open_ok(t.path, 1);
	check_stepped(st, 1, 4);
	check_queries(st, id, &q);
	assert_int_equal(store_integrity_check(st, err, sizeof err), STORE_OK);
	store_queries_clear(&q);
	store_close(st);
	tmp_remove(&t);
}

/* A batch marked "losses not computed" must carry losses of 0. */
static void test_no_losses_are_zero(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_session s;
	struct store_batch b;
	char err[256] = "";
	float x[TB_ROWS * TB_DIM], y[TB_ROWS];

	(void)state;
	tmp_make(&t);
	st = open_ok(t.path, 1);
	make_session(&s, 3, TB_NSTATE, 3);
	create_ok(st, &s);
	batch_fill(x, y, 3, 1);
	memset(&b, 0, sizeof b);
	b.step = 1;
	b.seq = -1;
	b.rows = TB_ROWS;
	b.dim = TB_DIM;
	b.x = x;
	b.y = y;
	b.loss_before = 0.5;
	b.no_losses = 1;
	b.time = 1700000001.0;
	s.step = 1;
	s.rows = TB_ROWS;
	assert_int_equal(store_commit_step(st, &s, &b, err, sizeof err), STORE_ERROR);
	assert_non_null(strstr(err, "stored as 0"));
	free(s.state);
	check_stepped(st, 3, 0);
	store_close(st);
	tmp_remove(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_migrates),
		cmocka_unit_test(test_wal_mode),
		cmocka_unit_test(test_reopen_idempotent),
		cmocka_unit_test(test_newer_database_refused),
		cmocka_unit_test(test_open_failures),
		cmocka_unit_test(test_session_round_trip),
		cmocka_unit_test(test_blob_byte_order),
		cmocka_unit_test(test_session_duplicate),
		cmocka_unit_test(test_session_missing),
		cmocka_unit_test(test_session_bad_input),
		cmocka_unit_test(test_delete_cascades),
		cmocka_unit_test(test_commit_step),
		cmocka_unit_test(test_commit_steps),
		cmocka_unit_test(test_commit_conflict),
		cmocka_unit_test(test_commit_refused),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_seq_result),
		cmocka_unit_test(test_list_pagination),
		cmocka_unit_test(test_callback_reentry),
		cmocka_unit_test(test_corrupt_rows),
		cmocka_unit_test(test_threads_own_sessions),
		cmocka_unit_test(test_threads_contended),
		cmocka_unit_test(test_crash_safety),
		cmocka_unit_test(test_migrates_from_v1),
		cmocka_unit_test(test_query_sets),
		cmocka_unit_test(test_commit_with_query_set),
		cmocka_unit_test(test_no_losses_are_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
