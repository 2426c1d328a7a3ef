/*
 * sessions.c - the session cache: a hash table of reference-counted
 * sessions under one mutex, each session with its own mutex and writer
 * slot.
 */
#include "sessions.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/am.h"

#define SESSIONS_BUCKETS 4096
#define SESSIONS_LOAD_TRIES 8

struct session {
	char id[STORE_ID_LEN];		/* immutable: the key of lookups */
	struct session *next;		/* hash chain (cache mutex) */
	int refs;			/* cache mutex */
	int cached;			/* in the table (cache mutex) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	double wait_s;			/* bound on waiting for the slot */
	int busy;			/* 0 free, 1 a request, 2 a stream */
	int deleted, stale;		/* s->mu */
	struct session_view v;		/* s->mu */
};

struct sessions {
	pthread_mutex_t mu;		/* table, refs, count, gen */
	pthread_mutex_t create_mu;	/* count check + insert, atomically */
	struct session *tab[SESSIONS_BUCKETS];
	struct store *st;
	long max;
	double wait_s;
	int64_t count;
	uint64_t gen;			/* bumped when a session leaves the table */
	int (*nstate_of)(void *ud, const char *model, const char *checksum);
	void *nstate_ud;
};

double sessions_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* FNV-1a of the id. */
static unsigned bucket(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % SESSIONS_BUCKETS;
}

int sessions_new(struct sessions **out, struct store *st, long max_sessions,
		 double busy_wait_s, char *err, size_t errlen)
{
	struct sessions *c = calloc(1, sizeof *c);
	char msg[256];

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return SESSIONS_ERROR;
	}
	if (store_session_count(st, &c->count, msg, sizeof msg) != STORE_OK) {
		snprintf(err, errlen, "counting sessions: %s", msg);
		free(c);
		return SESSIONS_ERROR;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->create_mu, NULL);
	c->st = st;
	c->max = max_sessions;
	c->wait_s = busy_wait_s;
	*out = c;
	return SESSIONS_OK;
}

void sessions_set_nstate_hook(struct sessions *c,
			      int (*fn)(void *ud, const char *model,
					const char *checksum),
			      void *ud)
{
	c->nstate_of = fn;
	c->nstate_ud = ud;
}

static void session_free(struct session *s)
{
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void sessions_free(struct sessions *c)
{
	struct session *s, *n;
	int b;

	if (!c)
		return;
	for (b = 0; b < SESSIONS_BUCKETS; b++) {
		for (s = c->tab[b]; s; s = n) {
			n = s->next;
			session_free(s);
		}
	}
	pthread_mutex_destroy(&c->create_mu);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int64_t sessions_count(struct sessions *c)
{
	int64_t n;

	pthread_mutex_lock(&c->mu);
	n = c->count;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* Fills the random id: 16 bytes from getrandom as 32 hex characters. */
static int new_id(char *id)
{
	unsigned char b[16];
	size_t got = 0;
	int i;

	while (got < sizeof b) {
		ssize_t r = getrandom(b + got, sizeof b - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	for (i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* The store's form of a view: state points into blob (SESSIONS_BLOB_MAX
 * floats).  v->nstate was checked when the session was created or loaded. */
static void to_store(struct store_session *ss, const struct session_view *v,
		     float *blob)
{
	memset(ss, 0, sizeof *ss);
	memcpy(ss->id, v->id, sizeof ss->id);
	memcpy(ss->model, v->model, sizeof ss->model);
	memcpy(ss->model_checksum, v->model_checksum, sizeof ss->model_checksum);
	memcpy(ss->regime, v->regime, sizeof ss->regime);
	ss->step = v->step;
	ss->rows = v->rows;
	ss->next_seq = v->next_seq;
	ss->dim = v->dim;
	AM_ASSERT(v->nstate >= 1 && v->nstate <= AMZ_STATE_MAX);
	memcpy(blob, v->state, (size_t)v->nstate * sizeof *blob);
	scaler_pack(&v->sc, blob + v->nstate);
	ss->state = blob;
	ss->nstate = v->nstate + SCALER_FLOATS;
	ss->options = (char *)v->options;
	ss->created = v->created;
	ss->updated = v->updated;
}

int sessions_create(struct sessions *c, const struct session_view *v,
		    struct session_view *out, char *err, size_t errlen)
{
	struct session_view nv = *v;
	struct store_session ss;
	float blob[SESSIONS_BLOB_MAX];
	int rc;

	if (v->nstate < 1 || v->nstate > AMZ_STATE_MAX) {
		snprintf(err, errlen, "a session state has 1 to %d floats, not %d",
			 AMZ_STATE_MAX, v->nstate);
		return SESSIONS_ERROR;
	}
	nv.step = 0;
	nv.rows = 0;
	nv.next_seq = 0;
	nv.created = nv.updated = sessions_now();
	if (new_id(nv.id)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return SESSIONS_ERROR;
	}
	to_store(&ss, &nv, blob);
	pthread_mutex_lock(&c->create_mu);
	pthread_mutex_lock(&c->mu);
	rc = c->count >= c->max ? SESSIONS_FULL : SESSIONS_OK;
	pthread_mutex_unlock(&c->mu);
	if (rc == SESSIONS_OK) {
		if (store_session_create(c->st, &ss, err, errlen) == STORE_OK) {
			pthread_mutex_lock(&c->mu);
			c->count++;
			pthread_mutex_unlock(&c->mu);
			*out = nv;
		} else {
			rc = SESSIONS_ERROR;
		}
	}
	pthread_mutex_unlock(&c->create_mu);
	return rc;
}

/* Looks id up in the table (cache mutex held); takes a reference. */
static struct session *lookup(struct sessions *c, const char *id)
{
	struct session *s;

	for (s = c->tab[bucket(id)]; s; s = s->next) {
		if (!strcmp(s->id, id)) {
			s->refs++;
			return s;
		}
	}
	return NULL;
}

/* Removes s from the table if it is there (cache mutex held). */
static void unlink_session(struct sessions *c, struct session *s)
{
	struct session **p;

	if (!s->cached)
		return;
	for (p = &c->tab[bucket(s->id)]; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	s->cached = 0;
	s->next = NULL;
	c->gen++;
}

/*
 * Splits a stored blob of n floats into the state and the scaler *sc and
 * returns the number of state floats, or -1 when it is no blob this server
 * writes.  The current form is the state then SCALER_FLOATS; the legacy
 * form (written while AMZ_DMAX was 16) the state then SCALER_LEGACY_FLOATS.
 * want is the model's state size, or 0 when unknown.  The two forms cannot
 * be told apart by their floats alone (a current scaler's last floats
 * parse as a legacy one), so the legacy form is read only when the model's
 * size is known and the blob is exactly that plus the legacy scaler.
 */
static int split_blob(const float *blob, int n, int want, struct scaler *sc)
{
	int ns = n - SCALER_FLOATS, nl = n - SCALER_LEGACY_FLOATS;

	if (!blob)
		return -1;
	if (want > 0 && nl == want)
		return scaler_unpack_legacy(sc, blob + nl) ? -1 : nl;
	if (ns >= 1 && ns <= AMZ_STATE_MAX && !scaler_unpack(sc, blob + ns))
		return ns;
	return -1;
}

/* Reads session id from the store into a new, unlinked session. */
static int load(struct sessions *c, const char *id, struct session **out,
		char *err, size_t errlen)
{
	struct store_session ss;
	struct session *s;
	int rc, ns, want;

	memset(&ss, 0, sizeof ss);
	rc = store_session_get(c->st, id, &ss, err, errlen);
	if (rc == STORE_NOTFOUND)
		return SESSIONS_NOTFOUND;
	if (rc != STORE_OK)
		return SESSIONS_ERROR;
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		rc = SESSIONS_ERROR;
		goto out;
	}
	/* the blob is the state's floats, then the scaler's: its size must
	 * leave 1..AMZ_STATE_MAX floats of state */
	want = c->nstate_of ? c->nstate_of(c->nstate_ud, ss.model,
					   ss.model_checksum) : 0;
	ns = split_blob(ss.state, ss.nstate, want, &s->v.sc);
	if (ns < 0) {
		snprintf(err, errlen, "session %s: the stored state (%d floats) is not "
			 "one this server writes (1 to %d state floats and a scaler of "
			 "%d, or %d in the legacy form)", id, ss.nstate, AMZ_STATE_MAX,
			 SCALER_FLOATS, SCALER_LEGACY_FLOATS);
		free(s);
		rc = SESSIONS_ERROR;
		goto out;
	}
	snprintf(s->id, sizeof s->id, "%s", ss.id);
	memcpy(s->v.id, s->id, sizeof s->v.id);
	snprintf(s->v.model, sizeof s->v.model, "%s", ss.model);
	snprintf(s->v.model_checksum, sizeof s->v.model_checksum, "%s", ss.model_checksum);
	snprintf(s->v.regime, sizeof s->v.regime, "%s", ss.regime);
	snprintf(s->v.options, sizeof s->v.options, "%s", ss.options ? ss.options : "{}");
	s->v.step = ss.step;
	s->v.rows = ss.rows;
	s->v.next_seq = ss.next_seq;
	s->v.dim = ss.dim;
	s->v.nstate = ns;
	memcpy(s->v.state, ss.state, (size_t)ns * sizeof *s->v.state);
	s->v.created = ss.created;
	s->v.updated = ss.updated;
	s->wait_s = c->wait_s;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	*out = s;
	rc = SESSIONS_OK;
out:
	store_session_clear(&ss);
	return rc;
}

int sessions_get(struct sessions *c, const char *id, struct session **out,
		 char *err, size_t errlen)
{
	struct session *s, *fresh;
	uint64_t gen;
	int rc, tries;

	for (tries = 0; tries < SESSIONS_LOAD_TRIES; tries++) {
		pthread_mutex_lock(&c->mu);
		s = lookup(c, id);
		gen = c->gen;
		pthread_mutex_unlock(&c->mu);
		if (s) {
			*out = s;
			return SESSIONS_OK;
		}
		rc = load(c, id, &fresh, err, errlen);
		if (rc != SESSIONS_OK)
			return rc;
		pthread_mutex_lock(&c->mu);
		s = lookup(c, id);
		if (!s && c->gen == gen) {
			/* nothing left the table while we read: what we read
			 * is what the store holds now */
			fresh->refs = 1;
			fresh->cached = 1;
			fresh->next = c->tab[bucket(id)];
			c->tab[bucket(id)] = fresh;
			s = fresh;
			fresh = NULL;
		}
		pthread_mutex_unlock(&c->mu);
		if (fresh)
			session_free(fresh);
		if (s) {
			*out = s;
			return SESSIONS_OK;
		}
		/* a session was deleted or dropped meanwhile: read again */
	}
	snprintf(err, errlen, "session %s: the cache kept changing while loading it", id);
	return SESSIONS_ERROR;
}

void sessions_put(struct sessions *c, struct session *s)
{
	int gone;

	if (!s)
		return;
	pthread_mutex_lock(&c->mu);
	gone = --s->refs == 0 && !s->cached;
	pthread_mutex_unlock(&c->mu);
	if (gone)
		session_free(s);
}

void sessions_view(struct session *s, struct session_view *v)
{
	pthread_mutex_lock(&s->mu);
	*v = s->v;
	pthread_mutex_unlock(&s->mu);
}

int sessions_begin(struct session *s, int stream)
{
	struct timespec until;
	double w = s->wait_s;
	int rc = SESSIONS_OK;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)w;
	until.tv_nsec += (long)((w - (double)(time_t)w) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (s->busy == 1 && !s->deleted && !s->stale) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
			break;
	}
	if (s->deleted)
		rc = SESSIONS_NOTFOUND;
	else if (s->stale)
		rc = SESSIONS_STALE;
	else if (s->busy)
		rc = SESSIONS_BUSY;
	else
		s->busy = stream ? 2 : 1;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void sessions_end(struct session *s)
{
	pthread_mutex_lock(&s->mu);
	s->busy = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Drops s from the cache and marks it stale or deleted, waking waiters. */
static void drop(struct sessions *c, struct session *s, int deleted)
{
	pthread_mutex_lock(&c->mu);
	unlink_session(c, s);
	if (deleted && c->count > 0)
		c->count--;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_lock(&s->mu);
	if (deleted)
		s->deleted = 1;
	else
		s->stale = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int sessions_commit(struct sessions *c, struct session *s,
		    const struct session_update *u, const struct store_batch *b,
		    char *err, size_t errlen)
{
	return sessions_commit_steps(c, s, u, b, 1, err, errlen);
}

int sessions_commit_steps(struct sessions *c, struct session *s,
			  const struct session_update *u,
			  const struct store_batch *b, int n, char *err,
			  size_t errlen)
{
	return sessions_commit_steps_q(c, s, u, b, n, NULL, err, errlen);
}

int sessions_commit_steps_q(struct sessions *c, struct session *s,
			    const struct session_update *u,
			    const struct store_batch *b, int n,
			    const struct store_queries *q, char *err,
			    size_t errlen)
{
	struct session_view nv;
	struct store_session ss;
	float blob[SESSIONS_BLOB_MAX];
	int rc;

	sessions_view(s, &nv);
	if (n < 1 || u->step != nv.step + n) {
		snprintf(err, errlen, "session %s: %d steps to step %lld do not "
			 "follow %lld", nv.id, n, (long long)u->step, (long long)nv.step);
		return SESSIONS_CONFLICT;
	}
	nv.step = u->step;
	nv.rows = u->rows;
	nv.next_seq = u->next_seq;
	nv.dim = u->dim;
	memcpy(nv.state, u->state, sizeof nv.state);
	nv.sc = u->sc;
	nv.updated = b->time;
	to_store(&ss, &nv, blob);
	rc = store_commit_steps_q(c->st, &ss, b, n, q, err, errlen);
	if (rc != STORE_OK) {
		/* the store may hold something else than we think: reload */
		drop(c, s, 0);
		if (rc == STORE_CONFLICT)
			return SESSIONS_CONFLICT;
		if (rc == STORE_NOTFOUND)
			return SESSIONS_NOTFOUND;
		return SESSIONS_ERROR;
	}
	/* only the fields a step changes: the rest (the id above all, which
	 * lookups read under the cache mutex alone) is never written */
	pthread_mutex_lock(&s->mu);
	s->v.step = nv.step;
	s->v.rows = nv.rows;
	s->v.next_seq = nv.next_seq;
	s->v.dim = nv.dim;
	memcpy(s->v.state, nv.state, sizeof s->v.state);
	s->v.sc = nv.sc;
	s->v.updated = nv.updated;
	pthread_mutex_unlock(&s->mu);
	return SESSIONS_OK;
}

int sessions_delete(struct sessions *c, const char *id, char *err,
		    size_t errlen)
{
	struct session *s = NULL;
	int rc = SESSIONS_STALE, tries, src;

	for (tries = 0; tries < SESSIONS_LOAD_TRIES && rc == SESSIONS_STALE; tries++) {
		rc = sessions_get(c, id, &s, err, errlen);
		if (rc != SESSIONS_OK)
			return rc;
		rc = sessions_begin(s, 0);
		if (rc != SESSIONS_OK) {
			sessions_put(c, s);
			s = NULL;
		}
	}
	if (rc == SESSIONS_STALE) {
		snprintf(err, errlen, "session %s kept changing", id);
		return SESSIONS_ERROR;
	}
	if (rc != SESSIONS_OK)
		return rc;
	src = store_session_delete(c->st, id, err, errlen);
	if (src == STORE_OK || src == STORE_NOTFOUND) {
		drop(c, s, src == STORE_OK);
		rc = src == STORE_OK ? SESSIONS_OK : SESSIONS_NOTFOUND;
	} else {
		rc = SESSIONS_ERROR;
	}
	sessions_end(s);
	sessions_put(c, s);
	return rc;
}
