/*
 * test_sessions.c - the session cache over a real store: create and lazy
 * load, write-through commits (memory changes only after the store said
 * yes), the writer slot (one at a time, bounded wait, taken and given back
 * on different threads), delete while others hold references, the session
 * limit, and many threads committing to many sessions.
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
#include <time.h>
#include <unistd.h>

#include "refine/refiner.h"
#include "sessions.h"
#include "store.h"

struct fx {
	char dir[64], db[128];
	struct store *st;
	struct sessions *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256];

	snprintf(f->dir, sizeof f->dir, "/tmp/test_sessions.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/amortd.db", f->dir);
	if (store_open(&f->st, f->db, 0, err, sizeof err) != STORE_OK)
		return -1;
	if (sessions_new(&f->c, f->st, 4, 0.2, err, sizeof err) != SESSIONS_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	size_t i;

	sessions_free(f->c);
	store_close(f->st);
	for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", f->db, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void new_session(struct fx *f, struct session_view *out)
{
	struct session_view v;
	char err[256];
	int i;

	memset(&v, 0, sizeof v);
	snprintf(v.model, sizeof v.model, "tiny");
	snprintf(v.model_checksum, sizeof v.model_checksum, "01234567");
	snprintf(v.regime, sizeof v.regime, "parametric");
	snprintf(v.options, sizeof v.options, "{\"standardize\":true}");
	v.nstate = REFINER_S;
	for (i = 0; i < REFINER_S; i++)
		v.state[i] = 0.25f * i;
	scaler_init(&v.sc, 1);
	assert_int_equal(sessions_create(f->c, &v, out, err, sizeof err), SESSIONS_OK);
}

/* The update for one more step of n rows. */
static void next_update(const struct session_view *v, struct session_update *u, int n)
{
	u->step = v->step + 1;
	u->rows = v->rows + n;
	u->next_seq = v->next_seq;
	u->dim = 2;
	memcpy(u->state, v->state, sizeof u->state);
	u->state[0] += 1;
	u->sc = v->sc;
}

/* Commits one step of n rows (and the query set q, NULL for none). */
static int commit_q(struct fx *f, struct session *s, int n, struct store_queries *q)
{
	static const float x[] = { 1, 2, 3, 4, 5, 6, 7, 8 }, y[] = { 1, 2, 3, 4 };
	struct session_view v;
	struct session_update u;
	struct store_batch b;
	char err[256];

	sessions_view(s, &v);
	next_update(&v, &u, n);
	memset(&b, 0, sizeof b);
	b.step = u.step;
	b.seq = -1;
	b.rows = n;
	b.dim = 2;
	b.x = x;
	b.y = y;
	b.loss_before = 1;
	b.loss_after = 0.5;
	b.time = sessions_now();
	if (!q)
		return sessions_commit(f->c, s, &u, &b, err, sizeof err);
	q->step = u.step;
	q->updated = b.time;
	return sessions_commit_steps_q(f->c, s, &u, &b, 1, q, err, sizeof err);
}

static int commit(struct fx *f, struct session *s, int n)
{
	return commit_q(f, s, n, NULL);
}

static void test_create_get_commit(void **state)
{
	struct fx *f = *state;
	struct session_view v, w;
	struct session *s, *s2;
	char err[256];
	int i;

	new_session(f, &v);
	assert_int_equal(strlen(v.id), 32);
	for (i = 0; i < 32; i++)
		assert_true((v.id[i] >= '0' && v.id[i] <= '9') || (v.id[i] >= 'a' && v.id[i] <= 'f'));
	assert_int_equal(sessions_count(f->c), 1);
	assert_int_equal(sessions_get(f->c, v.id, &s, err, sizeof err), SESSIONS_OK);
	assert_int_equal(sessions_get(f->c, v.id, &s2, err, sizeof err), SESSIONS_OK);
	assert_ptr_equal(s, s2);		/* cached */
	sessions_put(f->c, s2);
	sessions_view(s, &w);
	assert_memory_equal(w.state, v.state, sizeof w.state);
	assert_int_equal(w.sc.mode, SCALER_PENDING);
	assert_string_equal(w.options, "{\"standardize\":true}");
	assert_int_equal(sessions_begin(s, 0), SESSIONS_OK);
	assert_int_equal(commit(f, s, 4), SESSIONS_OK);
	assert_int_equal(commit(f, s, 3), SESSIONS_OK);
	sessions_end(s);
	sessions_view(s, &w);
	assert_int_equal(w.step, 2);
	assert_int_equal(w.rows, 7);
	assert_int_equal(w.dim, 2);
	assert_true(w.state[0] == 2);
	sessions_put(f->c, s);
	assert_int_equal(sessions_get(f->c, "0123456789abcdef0123456789abcdef", &s, err,
				      sizeof err), SESSIONS_NOTFOUND);

	/* a fresh cache over the same store loads what was committed */
	sessions_free(f->c);
	assert_int_equal(sessions_new(&f->c, f->st, 4, 0.2, err, sizeof err), SESSIONS_OK);
	assert_int_equal(sessions_count(f->c), 1);
	assert_int_equal(sessions_get(f->c, v.id, &s, err, sizeof err), SESSIONS_OK);
	sessions_view(s, &w);
	assert_int_equal(w.step, 2);
	assert_int_equal(w.rows, 7);
	assert_true(w.state[0] == 2);
	assert_true(w.state[1] == 0.25f);
	sessions_put(f->c, s);
}

static void test_commit_refused_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct session_view v, w;
	struct session_update u;
	struct store_batch b;
	struct session *s, *s2;
	char err[256];
	float x[2] = { 1, 2 }, y[1] = { 1 };

	new_session(f, &v);
	assert_int_equal(sessions_get(f->c, v.id, &s, err, sizeof err), SESSIONS_OK);
	assert_int_equal(sessions_begin(s, 0), SESSIONS_OK);
	assert_int_equal(commit(f, s, 1), SESSIONS_OK);
	/* a step that does not follow: refused before the store */
	sessions_view(s, &w);
	next_update(&w, &u, 1);
	u.step += 1;
	memset(&b, 0, sizeof b);
	b.step = u.step;
	b.seq = -1;
	b.rows = 1;
	b.dim = 2;
	b.x = x;
	b.y = y;
	assert_int_equal(sessions_commit(f->c, s, &u, &b, err, sizeof err), SESSIONS_CONFLICT);
	/* a batch the store refuses (a non-finite loss): memory unchanged,
	 * and the cached copy is dropped so the next get reloads */
	next_update(&w, &u, 1);
	b.step = u.step;
	b.loss_before = 1.0 / 0.0;
	assert_int_not_equal(sessions_commit(f->c, s, &u, &b, err, sizeof err), SESSIONS_OK);
	sessions_view(s, &v);
	assert_int_equal(v.step, 1);
	assert_int_equal(v.rows, 1);
	sessions_end(s);
	assert_int_equal(sessions_begin(s, 0), SESSIONS_STALE);
	assert_int_equal(sessions_get(f->c, v.id, &s2, err, sizeof err), SESSIONS_OK);
	assert_ptr_not_equal(s, s2);
	sessions_view(s2, &w);
	assert_int_equal(w.step, 1);
	assert_int_equal(w.rows, 1);
	sessions_put(f->c, s2);
	sessions_put(f->c, s);
}

/* A session's state is as long as its model's (1..AMZ_STATE_MAX floats),
 * stored before the scaler; a blob that cannot be that is an error on
 * loading, never a read past its end. */
static void test_state_sizes(void **state)
{
	struct fx *f = *state;
	struct session_view v, w;
	struct store_session ss;
	struct session *s;
	float blob[SESSIONS_BLOB_MAX + 1];
	char err[256];
	int i;

	memset(&v, 0, sizeof v);
	snprintf(v.model, sizeof v.model, "small");
	snprintf(v.model_checksum, sizeof v.model_checksum, "89abcdef");
	snprintf(v.regime, sizeof v.regime, "parametric");
	snprintf(v.options, sizeof v.options, "{}");
	scaler_init(&v.sc, 0);
	v.nstate = 0;
	assert_int_equal(sessions_create(f->c, &v, &w, err, sizeof err), SESSIONS_ERROR);
	v.nstate = AMZ_STATE_MAX + 1;
	assert_int_equal(sessions_create(f->c, &v, &w, err, sizeof err), SESSIONS_ERROR);
	assert_int_equal(sessions_count(f->c), 0);
	v.nstate = 5;
	for (i = 0; i < AMZ_STATE_MAX; i++)
		v.state[i] = i < 5 ? 1.5f * i : 99;	/* past nstate: not stored */
	assert_int_equal(sessions_create(f->c, &v, &w, err, sizeof err), SESSIONS_OK);
	sessions_free(f->c);
	assert_int_equal(sessions_new(&f->c, f->st, 4, 0.2, err, sizeof err), SESSIONS_OK);
	assert_int_equal(sessions_get(f->c, w.id, &s, err, sizeof err), SESSIONS_OK);
	sessions_view(s, &v);
	sessions_put(f->c, s);
	assert_int_equal(v.nstate, 5);
	for (i = 0; i < 5; i++)
		assert_true(v.state[i] == 1.5f * i);
	assert_int_equal(v.sc.mode, SCALER_OFF);

	/* blobs this server never writes: no state, too much, a bad scaler */
	memset(&ss, 0, sizeof ss);
	memset(blob, 0, sizeof blob);
	snprintf(ss.model, sizeof ss.model, "small");
	snprintf(ss.model_checksum, sizeof ss.model_checksum, "89abcdef");
	snprintf(ss.regime, sizeof ss.regime, "parametric");
	ss.state = blob;
	for (i = 0; i < 3; i++) {
		static const int sizes[3] = { SCALER_FLOATS, SESSIONS_BLOB_MAX + 1, 10 + SCALER_FLOATS };

		snprintf(ss.id, sizeof ss.id, "%032d", i);
		ss.nstate = sizes[i];
		scaler_pack(&v.sc, blob + sizes[i] - SCALER_FLOATS);
		if (i == 2)
			blob[sizes[i] - SCALER_FLOATS] = 7;	/* no such mode */
		assert_int_equal(store_session_create(f->st, &ss, err, sizeof err), STORE_OK);
		assert_int_equal(sessions_get(f->c, ss.id, &s, err, sizeof err), SESSIONS_ERROR);
		assert_non_null(strstr(err, "is not one this server writes"));
	}
}

struct taker {
	struct session *s;
	int rc;
};

static void *take_and_hold(void *arg)
{
	struct taker *t = arg;

	t->rc = sessions_begin(t->s, 0);
	return NULL;
}

static void *give_back(void *arg)
{
	sessions_end(arg);
	return NULL;
}

static void test_writer_slot(void **state)
{
	struct fx *f = *state;
	struct session_view v;
	struct session *s;
	struct taker t;
	struct timespec t0, t1;
	pthread_t th;
	char err[256];

	new_session(f, &v);
	assert_int_equal(sessions_get(f->c, v.id, &s, err, sizeof err), SESSIONS_OK);
	/* taken on one thread, given back on another */
	t.s = s;
	assert_int_equal(pthread_create(&th, NULL, take_and_hold, &t), 0);
	pthread_join(th, NULL);
	assert_int_equal(t.rc, SESSIONS_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sessions_begin(s, 0), SESSIONS_BUSY);	/* waits 0.2 s */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9 >= 0.15);
	assert_int_equal(pthread_create(&th, NULL, give_back, s), 0);
	pthread_join(th, NULL);
	assert_int_equal(sessions_begin(s, 0), SESSIONS_OK);
	/* a stream's slot is never waited for: busy at once */
	sessions_end(s);
	assert_int_equal(sessions_begin(s, 1), SESSIONS_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sessions_begin(s, 0), SESSIONS_BUSY);
	assert_int_equal(sessions_begin(s, 1), SESSIONS_BUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9 < 0.1);
	/* delete waits for the slot: busy while it is held */
	assert_int_equal(sessions_delete(f->c, v.id, err, sizeof err), SESSIONS_BUSY);
	sessions_end(s);
	assert_int_equal(sessions_delete(f->c, v.id, err, sizeof err), SESSIONS_OK);
	/* the holder of a reference sees the deletion */
	assert_int_equal(sessions_begin(s, 0), SESSIONS_NOTFOUND);
	sessions_put(f->c, s);
	assert_int_equal(sessions_get(f->c, v.id, &s, err, sizeof err), SESSIONS_NOTFOUND);
	assert_int_equal(sessions_delete(f->c, v.id, err, sizeof err), SESSIONS_NOTFOUND);
	assert_int_equal(sessions_count(f->c), 0);
}

static void test_limit(void **state)
{
	struct fx *f = *state;
	struct session_view v, out;
	char err[256];
	int i;

	for (i = 0; i < 4; i++)
		new_session(f, &v);
	memset(&out, 0, sizeof out);
	assert_int_equal(sessions_create(f->c, &v, &out, err, sizeof err), SESSIONS_FULL);
	assert_int_equal(sessions_count(f->c), 4);
	assert_int_equal(sessions_delete(f->c, v.id, err, sizeof err), SESSIONS_OK);
	new_session(f, &v);
}

struct worker {
	struct fx *f;
	char id[STORE_ID_LEN];
	int fails;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct session *s;
	char err[256];
	int i;

	for (i = 0; i < 25; i++) {
		if (sessions_get(w->f->c, w->id, &s, err, sizeof err) != SESSIONS_OK) {
			w->fails++;
			continue;
		}
		/* two workers per session: the slot serialises them */
		if (sessions_begin(s, 0) == SESSIONS_OK) {
			if (commit(w->f, s, 2) != SESSIONS_OK)
				w->fails++;
			sessions_end(s);
		} else {
			w->fails++;
		}
		sessions_put(w->f->c, s);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	struct worker w[8];
	struct session_view v[4];
	struct session *s;
	pthread_t th[8];
	char err[256];
	int i;

	sessions_free(f->c);
	assert_int_equal(sessions_new(&f->c, f->st, 4, 5.0, err, sizeof err), SESSIONS_OK);
	for (i = 0; i < 4; i++)
		new_session(f, &v[i]);
	for (i = 0; i < 8; i++) {
		w[i].f = f;
		w[i].fails = 0;
		memcpy(w[i].id, v[i % 4].id, sizeof w[i].id);
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].fails, 0);
	}
	for (i = 0; i < 4; i++) {
		struct session_view x;

		assert_int_equal(sessions_get(f->c, v[i].id, &s, err, sizeof err), SESSIONS_OK);
		sessions_view(s, &x);
		assert_int_equal(x.step, 50);
		assert_int_equal(x.rows, 100);
		sessions_put(f->c, s);
	}
}

/*
 * An implicit session's query set lives in the store only: a commit that
 * refines it writes it with the step; one that leaves it behind is a
 * conflict that changes nothing in memory and drops the cached copy, so
 * the next request reads what the store holds.
 */
static void test_commit_query_set(void **state)
{
	struct fx *f = *state;
	struct session_view v, w;
	struct session *s;
	struct store_queries q, g;
	float x[2 * 3] = { 1, 2, 3, 4, 5, 6 }, qs[3] = { 0.5f, -1, 2 };
	char err[256];

	new_session(f, &v);
	assert_int_equal(sessions_get(f->c, v.id, &s, err, sizeof err), SESSIONS_OK);
	assert_int_equal(sessions_begin(s, 0), SESSIONS_OK);
	memset(&q, 0, sizeof q);
	q.n = 3;
	q.width = 2;
	q.qstate = 1;
	q.x = x;
	q.qs = qs;
	q.created = q.updated = sessions_now();
	assert_int_equal(store_queries_put(f->st, v.id, &q, NULL, err, sizeof err), STORE_OK);

	assert_int_equal(commit(f, s, 4), SESSIONS_CONFLICT);
	sessions_view(s, &w);
	assert_int_equal(w.step, 0);
	sessions_end(s);
	sessions_put(f->c, s);

	/* the dropped copy is reloaded; the commit with the set goes through */
	assert_int_equal(sessions_get(f->c, v.id, &s, err, sizeof err), SESSIONS_OK);
	assert_int_equal(sessions_begin(s, 0), SESSIONS_OK);
	qs[1] = 7;
	assert_int_equal(commit_q(f, s, 4, &q), SESSIONS_OK);
	sessions_end(s);
	sessions_view(s, &w);
	assert_int_equal(w.step, 1);
	assert_int_equal(store_queries_get(f->st, v.id, &g, err, sizeof err), STORE_OK);
	assert_int_equal(g.step, 1);
	assert_true(g.qs[1] == 7);
	store_queries_clear(&g);

	/* deleting the session deletes its set */
	sessions_put(f->c, s);
	assert_int_equal(sessions_delete(f->c, v.id, err, sizeof err), SESSIONS_OK);
	assert_int_equal(store_queries_get(f->st, v.id, &g, err, sizeof err),
			 STORE_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_get_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_refused_changes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_query_set, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
