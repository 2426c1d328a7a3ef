/*
 * apifx.h - the fixture of the API tests (test_api.c, test_api_sessions.c,
 * test_ingest.c, test_api_predict.c, test_api_queries.c): tiny models
 * trained at test time into temporary registries, a real store in a
 * temporary directory, an API over them, and helpers that build requests
 * as struct http_request values, hand them to api_handle or the stream
 * ops (no sockets), and check what comes back.
 *
 * Every helper asserts with cmocka; a request that answers a problem is
 * checked for its content type and members on the way (call_full,
 * stream), and every JSON body for being one line.  Strings the helpers
 * return are new (caller frees); JSON values are new references.
 */
#ifndef APIFX_H
#define APIFX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "request.h"

struct api;
struct registry;
struct scaler;
struct store;

#define BMAX 4			/* the tiny model's mini-batch */
#define MAX_ROWS 50
#define MAX_SAMPLES 20

#define IMG_NPIX 4			/* tinyimg: pixels per row */
#define IMG_K 2				/* and its PCA's features */

struct fx {
	char dir[64];
	char db[128];
	const char *models;	/* the registry's directory */
	struct config cfg;
	struct store *st;
	struct registry *reg;
	struct api *a;
};

/* ---- fixture -------------------------------------------------------------- */

/* The group setup of every API test binary: trains the tiny models into
 * four temporary registries (see setup, setup_gen, setup_clf, setup_imp)
 * and quiets the log.  group_teardown removes them. */
int group_setup(void **state);
int group_teardown(void **state);

/*
 * Per-test setup: a fresh store in a temporary directory and an API over
 * one of the registries: setup the linear regression model "tiny";
 * setup_gen the generative models "mog" (log-density, exact samples) and
 * "flow" (samples only), both of rows without y; setup_clf "tinyclf",
 * the image model "tinyimg" and "tiny"; setup_imp the implicit "tinyimp"
 * (and its image model "tinyimpimg") and "tinyimpreg", the explicit
 * "tinyreg" and "tinyhead" (head predictor), and "tiny".  *state is the
 * struct fx; teardown removes the store.
 */
int setup(void **state);
int setup_gen(void **state);
int setup_clf(void **state);
int setup_imp(void **state);
int teardown(void **state);

/* Opens the fixture's store, registry and API (again, after fx_close:
 * a restarted daemon over the same files). */
void fx_open(struct fx *f);

/* Frees the API, the registry and the store; the files stay. */
void fx_close(struct fx *f);

/* ---- requests ------------------------------------------------------------- */

/* The query string of the request being built ("a=1&b=2"), for tq(). */
struct tq_ctx {
	const char *query;
	char value[4][256];	/* each lookup its own, as the HTTP layer */
	int next;
};

/* The query lookup of the requests built here (req->impl is a struct
 * tq_ctx). */
const char *tq(const struct http_request *r, const char *key);

/*
 * Sends one buffered request; returns the status and, if out is not NULL,
 * the parsed body (caller decrefs; NULL for an empty body).  Problems are
 * checked on the way.  resp_out, if not NULL, receives the headers.
 */
int call_full(struct fx *f, enum http_method m, const char *url,
	      const char *ct, const char *body, json_t **out,
	      struct http_response *resp_out);

/* call_full with the content type application/json when there is a
 * body, and without the headers. */
int call(struct fx *f, enum http_method m, const char *url, const char *body,
	 json_t **out);

/* Creates a session (options may be NULL) and returns its id in id. */
void create(struct fx *f, const char *options, char *id);

/* Creates a session on model (options may be NULL); its id goes to id. */
void create_on(struct fx *f, const char *model, const char *options, char *id);

/* Posts a JSON batch; returns the status. */
int batch(struct fx *f, const char *id, const char *body, json_t **out);

/* Streams text through the stream ops in chunks of the given sizes
 * (cycled); returns the status and the body. */
int stream(struct fx *f, const char *id, const char *query, const char *text,
	   const size_t *chunks, int nchunks, json_t **out);

/* A request on a session's query set (body NULL for GET and DELETE);
 * returns the status and the body. */
int queries(struct fx *f, enum http_method m, const char *id, const char *body,
	    json_t **out);

/* Posts {"n": n, "seed": seed} (seed < 0: none) to a session's sample;
 * returns the status and the body. */
int sample(struct fx *f, const char *id, int n, long long seed, json_t **out);

/* Predicts x (JSON rows) on session id; returns the body as text (new). */
char *predict_text(struct fx *f, const char *id, const char *x);

/* Predicts rows x (JSON) on session id: 200, its answers as text (new
 * string) and, if replayed is not NULL, how many batches it replayed. */
char *predict_answers(struct fx *f, const char *id, const char *x,
		      int64_t *replayed);

/* GET of the query set: 200, its answers as text (new string) and step. */
char *set_answers(struct fx *f, const char *id, int64_t *step);

/* ---- what a session answers ----------------------------------------------- */

/* What must not change under a refused request: the session object and
 * predictions at fixed points. */
struct snap {
	char *session;
	char *pred;
};

/* Takes a snap of session id (D: its dimension, for the prediction
 * point); snap_same asserts that a new one is the same; snap_free frees
 * it. */
void snap_take(struct fx *f, const char *id, int D, struct snap *s);
void snap_same(struct fx *f, const char *id, int D, struct snap *before);
void snap_free(struct snap *s);

/* The session object and its history as text, to see that a request
 * changed nothing. */
char *session_text(struct fx *f, const char *id);

/* The step of session id, as GET shows it. */
int64_t session_step(struct fx *f, const char *id);

/* The session's state and scaler as the store holds them. */
void stored_state(struct fx *f, const char *id, float *st, int nstate,
		  struct scaler *sc);

/* What a refused request must leave as it was: the session object, its
 * history, and its predictions at the rows x (JSON).  New string. */
char *clf_snap(struct fx *f, const char *id, const char *x);

/* j's integer member k (asserted to be one). */
int64_t member_int(json_t *j, const char *k);

/* JSON text of j's member k (new string, caller frees). */
char *member_text(json_t *j, const char *k);

/* Whether the problem body j's detail contains text. */
int detail_has(json_t *j, const char *text);

/* Checks a classification prediction j of n rows and K classes: every row
 * K probabilities summing to 1, labels their argmax (lowest on a tie). */
void check_probs(json_t *j, int n, int K);

/* The answers of a reply (probs and labels, or mean, and whether it has a
 * variance) as text: a replayed predict and a query set must agree on
 * them.  New string. */
char *answers_text(json_t *j);

/* ---- rows ----------------------------------------------------------------- */

/* A JSON batch of rows [i, 2i - 1] -> y = 3 x0 - x1 + 0.1 i, i from first. */
char *rows_json(int first, int n, int seq);

/* The same rows as NDJSON lines. */
char *rows_ndjson(int first, int n);

/* x rows [i, 1000 + 50 i, ...] of D columns as a JSON batch without y
 * (far from the unit scale: standardization matters), or as NDJSON. */
char *gen_rows(int first, int n, int D, int ndjson);

/* n labelled rows of 2 features from row first on: row i is
 * [i % 5 - 2, (3 i) % 7 - 3] with label i % K; a JSON batch, or NDJSON
 * lines.  New string. */
char *clf_rows(int first, int n, int K, int ndjson);

#endif
