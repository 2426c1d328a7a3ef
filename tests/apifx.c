/*
 * apifx.c - the fixture of the API tests (apifx.h).
 */
#include "apifx.h"

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/am.h"
#include "io/amfile.h"
#include "api.h"
#include "base/gemm.h"
#include "base/layout.h"
#include "log.h"
#include "model/model.h"
#include "data/pca.h"
#include "registry.h"
#include "family/scaler.h"
#include "store.h"
#include "family/fam_linreg.h"
#include "train/train.h"
#include "family/fam_gen.h"


/* ---- fixture -------------------------------------------------------------- */

static char model_dir[64];
static char gen_dir[64];		/* the generative models: mog, flow */
static char clf_dir[64];		/* tinyclf, tinyimg and a regression tiny */
static char imp_dir[64];		/* explicit tinyhead (clf, head predictor);
					 * implicit tinyimp (clf), tinyimpreg
					 * (reg); explicit tinyreg; tiny */

/* Trains a tiny model for a few iterations and writes it to path. */
static void write_tiny_model(const char *path, const char *name)
{
	struct trainer_config c;
	struct train *t;
	json_t *h;
	char err[256], *text;
	int i;

	trainer_config_default(&c);
	c.ref.C = 8;
	c.ref.H = 2;
	c.ref.L = 1;
	c.ref.bmax = BMAX;
	c.ref.ksteps = 4;
	c.ref.passes = 2;
	c.fam.dmin = 1;
	c.fam.dmax = 4;
	c.pop = 8;
	c.chunk = 8;
	c.iters = 3;
	c.warmup = 1;
	c.shards = 1;
	c.seed = 3;
	t = train_new(&fam_linreg, &c, err, sizeof err);
	assert_non_null(t);
	for (i = 0; i < 3; i++) {
		train_shard(t, 0);
		assert_int_equal(train_apply(t, NULL), AM_OK);
	}
	h = model_header_json(name, &c, NULL);
	assert_non_null(h);
	text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(text);
	assert_int_equal(amfile_write(path, text, train_layout(t), train_params(t),
				      err, sizeof err), AM_OK);
	free(text);
	json_decref(h);
	train_free(t);
}

/* Trains a tiny generative model of kind (mixtures of 1..3 dimensions)
 * for two iterations and writes it to path. */
static void write_tiny_gen_model(const char *path, const char *name,
				 enum gen_kind kind)
{
	struct gentrain_config c;
	struct train *t;
	double loss;
	json_t *h;
	char err[256], *text;
	int i;

	gentrain_config_default(&c, kind);
	c.gen.C = 8;
	c.gen.H = 2;
	c.gen.L = 1;
	c.gen.bmax = BMAX;
	c.gen.ksteps = 4;
	c.gen.Z = 8;
	c.gen.vH = 8;
	c.gen.vL = 1;
	c.gen.flow_steps = 4;
	c.tasks.fam.dmin = 1;
	c.tasks.fam.dmax = 3;
	c.pop = 8;
	c.chunk = 8;
	c.nq = 8;
	c.iters = 2;
	c.warmup = 1;
	c.shards = 1;
	c.seed = 5;
	t = train_new(&fam_gen, &c, err, sizeof err);
	assert_non_null(t);
	for (i = 0; i < 2; i++) {
		train_shard(t, 0);
		assert_int_equal(train_apply(t, &loss), AM_OK);
	}
	h = model_gen_header_json(name, &c, NULL);
	assert_non_null(h);
	text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(text);
	assert_int_equal(amfile_write(path, text, train_layout(t), train_params(t),
				      err, sizeof err), AM_OK);
	free(text);
	json_decref(h);
	train_free(t);
}

/*
 * The PCA of tinyimg, made by hand (npix IMG_NPIX, k IMG_K, whitened):
 * mean 0.5 per pixel, components (1, 1, 1, 1) / 2 and (1, -1, 1, -1) / 2,
 * eigenvalues 0.08 and 0.02.  Fills *out (pca_free).
 */
static void test_pca(struct pca *out)
{
	float in[4 + IMG_NPIX + IMG_K + IMG_K * IMG_NPIX] = {
		IMG_NPIX, IMG_K, 1, 0.12f,
		0.5f, 0.5f, 0.5f, 0.5f,
		0.08f, 0.02f,
		0.5f, 0.5f, 0.5f, 0.5f,
		0.5f, -0.5f, 0.5f, -0.5f,
	};
	char err[256];

	assert_int_equal(pca_floats(IMG_NPIX, IMG_K), sizeof in / sizeof in[0]);
	assert_int_equal(pca_unpack(out, in, sizeof in / sizeof in[0], err, sizeof err),
			 AM_OK);
}

/*
 * Trains a tiny classification amortizer (linclass tasks) for two
 * iterations and writes it to dir/tinyclf.amort, and the same parameters
 * as an image model with the hand-made PCA of test_pca to
 * dir/tinyimg.amort: its tensors, then "pca", as amort train writes an
 * image model.
 */
static void write_tiny_clf_models(const char *dir)
{
	struct gentrain_config c;
	struct train *t;
	const struct layout *lay;
	struct layout l;
	struct pca pc;
	double loss;
	json_t *h;
	char err[256], path[128], *text;
	float *buf;
	size_t pv;
	int i;

	gentrain_config_default(&c, GEN_CLF);
	c.gen.C = 8;
	c.gen.H = 2;
	c.gen.L = 1;
	c.gen.bmax = BMAX;
	c.gen.ksteps = 4;
	c.tasks.cfam.dmin = 1;
	c.tasks.cfam.dmax = 4;
	c.pop = 8;
	c.chunk = 8;
	c.nq = 8;
	c.iters = 2;
	c.warmup = 1;
	c.shards = 1;
	c.seed = 9;
	t = train_new(&fam_gen, &c, err, sizeof err);
	assert_non_null(t);
	for (i = 0; i < 2; i++) {
		train_shard(t, 0);
		assert_int_equal(train_apply(t, &loss), AM_OK);
	}
	lay = train_layout(t);
	h = model_gen_header_json("tinyclf", &c, NULL);
	text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	assert_non_null(text);
	snprintf(path, sizeof path, "%s/tinyclf.amort", dir);
	assert_int_equal(amfile_write(path, text, lay, train_params(t), err,
				      sizeof err), AM_OK);
	free(text);
	json_decref(h);

	test_pca(&pc);
	c.tasks.src = SOURCE_IMAGES;
	h = model_img_header_json("tinyimg", &c, "test", &pc, NULL);
	text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	assert_non_null(text);
	layout_init(&l);
	for (i = 0; i < lay->n; i++)
		assert_true(layout_add(&l, lay->views[i].name, lay->views[i].ndim,
				       lay->views[i].shape) == lay->views[i].offset);
	pv = layout_add1(&l, "pca", (int)pca_floats(IMG_NPIX, IMG_K));
	buf = calloc(l.total, sizeof *buf);
	assert_non_null(buf);
	memcpy(buf, train_params(t), lay->total * sizeof *buf);
	pca_pack(&pc, buf + pv);
	snprintf(path, sizeof path, "%s/tinyimg.amort", dir);
	assert_int_equal(amfile_write(path, text, &l, buf, err, sizeof err), AM_OK);
	free(buf);
	layout_free(&l);
	free(text);
	json_decref(h);
	pca_free(&pc);
	train_free(t);
}

/*
 * Trains a tiny amortizer of kind (GEN_CLF or GEN_REG) in the implicit
 * regime (logits as query states, 8 queries per forward) or, implicit 0,
 * the explicit one (with the head predictor if head), for two iterations, and writes it to dir/name.amort;
 * an implicit classifier also as an image model with the hand-made PCA of
 * test_pca, dir/<name>img.amort (as write_tiny_clf_models).
 */
static void write_tiny_setref_model(const char *dir, const char *name,
				    enum gen_kind kind, int implicit, int head)
{
	struct gentrain_config c;
	struct train *t;
	double loss;
	json_t *h;
	char err[256], path[256], *text;
	int i;

	gentrain_config_default(&c, kind);
	c.gen.C = 8;
	c.gen.H = 2;
	c.gen.L = 1;
	c.gen.bmax = BMAX;
	c.gen.ksteps = 4;
	c.gen.Z = 8;
	c.gen.vH = 8;
	c.gen.vL = 1;
	c.gen.regime = implicit ? GEN_IMPLICIT : GEN_EXPLICIT;
	c.gen.head = head;
	c.gen.qstate = GEN_Q_LOGITS;
	c.gen.nq = 8;
	if (implicit)
		c.gen.variant = GEN_OBS;	/* the implicit regime's only one */
	c.tasks.cfam.dmin = 1;
	c.tasks.cfam.dmax = 4;
	c.tasks.rfam.dmin = 1;
	c.tasks.rfam.dmax = 4;
	c.pop = 8;
	c.chunk = 8;
	c.nq = 8;
	c.iters = 2;
	c.warmup = 1;
	c.shards = 1;
	c.seed = 13;
	t = train_new(&fam_gen, &c, err, sizeof err);
	if (!t)
		fail_msg("%s: %s", name, err);
	for (i = 0; i < 2; i++) {
		train_shard(t, 0);
		assert_int_equal(train_apply(t, &loss), AM_OK);
	}
	h = model_gen_header_json(name, &c, NULL);
	text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	assert_non_null(text);
	snprintf(path, sizeof path, "%s/%s.amort", dir, name);
	assert_int_equal(amfile_write(path, text, train_layout(t), train_params(t),
				      err, sizeof err), AM_OK);
	free(text);
	json_decref(h);
	if (kind == GEN_CLF && implicit) {
		const struct layout *lay = train_layout(t);
		char img[32];
		struct layout l;
		struct pca pc;
		float *buf;
		size_t pv;

		test_pca(&pc);
		c.tasks.src = SOURCE_IMAGES;
		snprintf(img, sizeof img, "%simg", name);
		h = model_img_header_json(img, &c, "test", &pc, NULL);
		text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		assert_non_null(text);
		layout_init(&l);
		for (i = 0; i < lay->n; i++)
			assert_true(layout_add(&l, lay->views[i].name, lay->views[i].ndim,
					       lay->views[i].shape) == lay->views[i].offset);
		pv = layout_add1(&l, "pca", (int)pca_floats(IMG_NPIX, IMG_K));
		buf = calloc(l.total, sizeof *buf);
		assert_non_null(buf);
		memcpy(buf, train_params(t), lay->total * sizeof *buf);
		pca_pack(&pc, buf + pv);
		snprintf(path, sizeof path, "%s/%s.amort", dir, img);
		assert_int_equal(amfile_write(path, text, &l, buf, err, sizeof err), AM_OK);
		free(buf);
		layout_free(&l);
		free(text);
		json_decref(h);
		pca_free(&pc);
	}
	train_free(t);
}

int group_setup(void **state)
{
	char path[128];

	(void)state;
	gemm_set_threads(1);
	log_init(LOG_ERROR, 0);
	snprintf(model_dir, sizeof model_dir, "/tmp/test_api_models.XXXXXX");
	if (!mkdtemp(model_dir))
		return -1;
	snprintf(path, sizeof path, "%s/tiny.amort", model_dir);
	write_tiny_model(path, "tiny");
	snprintf(gen_dir, sizeof gen_dir, "/tmp/test_api_gen.XXXXXX");
	if (!mkdtemp(gen_dir))
		return -1;
	snprintf(path, sizeof path, "%s/mog.amort", gen_dir);
	write_tiny_gen_model(path, "mog", GEN_MOG);
	snprintf(path, sizeof path, "%s/flow.amort", gen_dir);
	write_tiny_gen_model(path, "flow", GEN_FLOW);
	snprintf(clf_dir, sizeof clf_dir, "/tmp/test_api_clf.XXXXXX");
	if (!mkdtemp(clf_dir))
		return -1;
	write_tiny_clf_models(clf_dir);
	snprintf(path, sizeof path, "%s/tiny.amort", clf_dir);
	write_tiny_model(path, "tiny");
	snprintf(imp_dir, sizeof imp_dir, "/tmp/test_api_imp.XXXXXX");
	if (!mkdtemp(imp_dir))
		return -1;
	write_tiny_setref_model(imp_dir, "tinyimp", GEN_CLF, 1, 0);
	write_tiny_setref_model(imp_dir, "tinyimpreg", GEN_REG, 1, 0);
	write_tiny_setref_model(imp_dir, "tinyreg", GEN_REG, 0, 0);
	write_tiny_setref_model(imp_dir, "tinyhead", GEN_CLF, 0, 1);
	snprintf(path, sizeof path, "%s/tiny.amort", imp_dir);
	write_tiny_model(path, "tiny");
	return 0;
}

/* Removes the files in dir (made by group_setup: no subfolders), then
 * dir. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int group_teardown(void **state)
{
	(void)state;
	remove_dir(model_dir);
	remove_dir(gen_dir);
	remove_dir(clf_dir);
	remove_dir(imp_dir);
	return 0;
}

void fx_open(struct fx *f)
{
	char err[256];

	assert_int_equal(store_open(&f->st, f->db, 0, err, sizeof err), STORE_OK);
	assert_int_equal(registry_open(&f->reg, f->models, err, sizeof err), 0);
	assert_int_equal(api_new(&f->a, &f->cfg, f->st, f->reg, err, sizeof err), 0);
}

void fx_close(struct fx *f)
{
	api_free(f->a);
	registry_close(f->reg);
	store_close(f->st);
	f->a = NULL;
	f->reg = NULL;
	f->st = NULL;
}

static int setup_dir(void **state, const char *models)
{
	struct fx *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/test_api.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/amortd.db", f->dir);
	config_defaults(&f->cfg);
	f->cfg.max_rows = MAX_ROWS;
	f->cfg.max_samples = MAX_SAMPLES;
	f->cfg.max_sessions = 5;
	f->cfg.timeout_s = 2;
	f->models = models;
	fx_open(f);
	*state = f;
	return 0;
}

int setup(void **state)
{
	return setup_dir(state, model_dir);
}

int setup_gen(void **state)
{
	return setup_dir(state, gen_dir);
}

int setup_clf(void **state)
{
	return setup_dir(state, clf_dir);
}

int setup_imp(void **state)
{
	return setup_dir(state, imp_dir);
}

int teardown(void **state)
{
	struct fx *f = *state;
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	size_t i;

	fx_close(f);
	for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", f->db, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- requests ------------------------------------------------------------- */

const char *tq(const struct http_request *r, const char *key)
{
	struct tq_ctx *q = r->impl;
	const char *p = q->query;
	size_t kl = strlen(key);

	while (p && *p) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);

		if ((size_t)(end - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			char *v = q->value[q->next++ % 4];

			snprintf(v, sizeof q->value[0], "%.*s", (int)(end - p - kl - 1),
				 p + kl + 1);
			return v;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* Splits "PATH?QUERY" into path (copied into buf) and the query. */
static void split_url(const char *url, char *buf, size_t len, const char **query)
{
	const char *qm = strchr(url, '?');

	snprintf(buf, len, "%.*s", qm ? (int)(qm - url) : (int)strlen(url), url);
	*query = qm ? qm + 1 : NULL;
}

/* Checks a problem body: content type, the four members, status. */
static void check_problem(const struct http_response *resp, json_t *j)
{
	assert_string_equal(resp->content_type, "application/problem+json");
	assert_true(json_is_object(j));
	assert_non_null(json_string_value(json_object_get(j, "type")));
	assert_true(strncmp(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:", 19) == 0);
	assert_non_null(json_string_value(json_object_get(j, "title")));
	assert_non_null(json_string_value(json_object_get(j, "detail")));
	assert_int_equal(json_integer_value(json_object_get(j, "status")), resp->status);
}

int call_full(struct fx *f, enum http_method m, const char *url,
	      const char *ct, const char *body, json_t **out,
	      struct http_response *resp_out)
{
	struct http_request req;
	struct http_response resp;
	struct tq_ctx q;
	char path[512];
	json_t *j = NULL;
	int status;

	memset(&req, 0, sizeof req);
	memset(&resp, 0, sizeof resp);
	memset(&q, 0, sizeof q);
	split_url(url, path, sizeof path, &q.query);
	req.method = m;
	req.method_name = m == HTTP_GET ? "GET" : m == HTTP_POST ? "POST"
		: m == HTTP_DELETE ? "DELETE" : m == HTTP_PUT ? "PUT" : "HEAD";
	req.path = path;
	req.content_type = ct;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.query = tq;
	req.impl = &q;
	api_handle(f->a, &req, &resp);
	status = resp.status;
	if (resp.body_len) {
		j = json_loadb(resp.body, resp.body_len, 0, NULL);
		if (!strcmp(resp.content_type, "application/json") ||
		    !strcmp(resp.content_type, "application/problem+json")) {
			assert_non_null(j);
			/* one line of JSON: a newline at the end, none before */
			assert_ptr_equal(memchr(resp.body, '\n', resp.body_len),
					 resp.body + resp.body_len - 1);
		}
	}
	if (status >= 400)
		check_problem(&resp, j);
	if (resp_out) {
		*resp_out = resp;
		resp_out->body = NULL;
	}
	http_response_clear(&resp);
	if (out)
		*out = j;
	else
		json_decref(j);
	return status;
}

int call(struct fx *f, enum http_method m, const char *url, const char *body,
	 json_t **out)
{
	return call_full(f, m, url, body ? "application/json" : NULL, body, out, NULL);
}

void create(struct fx *f, const char *options, char *id)
{
	char body[256];
	json_t *j;

	snprintf(body, sizeof body, "{\"model\": \"tiny\"%s%s}", options ? ", \"options\": " : "",
		 options ? options : "");
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", body, &j), 201);
	snprintf(id, 33, "%s", json_string_value(json_object_get(j, "id")));
	assert_int_equal(strlen(id), 32);
	json_decref(j);
}

void create_on(struct fx *f, const char *model, const char *options, char *id)
{
	char body[256];
	json_t *j;

	snprintf(body, sizeof body, "{\"model\": \"%s\"%s%s}", model,
		 options ? ", \"options\": " : "", options ? options : "");
	assert_int_equal(call(f, HTTP_POST, "/v1/sessions", body, &j), 201);
	snprintf(id, 33, "%s", json_string_value(json_object_get(j, "id")));
	json_decref(j);
}

int batch(struct fx *f, const char *id, const char *body, json_t **out)
{
	char url[128];

	snprintf(url, sizeof url, "/v1/sessions/%s/batches", id);
	return call(f, HTTP_POST, url, body, out);
}

int stream(struct fx *f, const char *id, const char *query, const char *text,
	   const size_t *chunks, int nchunks, json_t **out)
{
	struct http_request req;
	struct http_response resp;
	struct tq_ctx q;
	char path[128];
	size_t off = 0, len = strlen(text);
	void *ctx;
	json_t *j;
	int k = 0, status;

	memset(&req, 0, sizeof req);
	memset(&resp, 0, sizeof resp);
	memset(&q, 0, sizeof q);
	q.query = query;
	snprintf(path, sizeof path, "/v1/sessions/%s/batches", id);
	req.method = HTTP_POST;
	req.method_name = "POST";
	req.path = path;
	req.content_type = "application/x-ndjson";
	req.query = tq;
	req.impl = &q;
	assert_true(api_is_stream(f->a, &req));
	ctx = api_stream_ops.open(f->a, &req, &resp);
	if (ctx) {
		while (off < len) {
			size_t n = chunks[k++ % nchunks];

			if (n > len - off)
				n = len - off;
			if (api_stream_ops.feed(ctx, text + off, n))
				break;	/* refused: the rest is discarded */
			off += n;
		}
		api_stream_ops.close(ctx, &resp);
	}
	status = resp.status;
	j = json_loadb(resp.body, resp.body_len, 0, NULL);
	assert_non_null(j);
	assert_ptr_equal(memchr(resp.body, '\n', resp.body_len),
			 resp.body + resp.body_len - 1);
	if (status >= 400)
		check_problem(&resp, j);
	http_response_clear(&resp);
	if (out)
		*out = j;
	else
		json_decref(j);
	return status;
}

int queries(struct fx *f, enum http_method m, const char *id, const char *body,
	    json_t **out)
{
	char url[128];

	snprintf(url, sizeof url, "/v1/sessions/%s/queries", id);
	return call(f, m, url, body, out);
}

int sample(struct fx *f, const char *id, int n, long long seed, json_t **out)
{
	char url[128], body[128];

	snprintf(url, sizeof url, "/v1/sessions/%s/sample", id);
	if (seed >= 0)
		snprintf(body, sizeof body, "{\"n\": %d, \"seed\": %lld}", n, seed);
	else
		snprintf(body, sizeof body, "{\"n\": %d}", n);
	return call(f, HTTP_POST, url, body, out);
}

char *predict_text(struct fx *f, const char *id, const char *x)
{
	char url[128], body[512];
	json_t *j;
	char *t;

	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	snprintf(body, sizeof body, "{\"x\": %s}", x);
	assert_int_equal(call(f, HTTP_POST, url, body, &j), 200);
	t = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	assert_non_null(t);
	json_decref(j);
	return t;
}

char *predict_answers(struct fx *f, const char *id, const char *x,
		      int64_t *replayed)
{
	char url[128], body[1024], *t;
	json_t *j;

	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	snprintf(body, sizeof body, "{\"x\": %s}", x);
	assert_int_equal(call(f, HTTP_POST, url, body, &j), 200);
	if (replayed)
		*replayed = member_int(j, "replayed");
	t = answers_text(j);
	json_decref(j);
	return t;
}

char *set_answers(struct fx *f, const char *id, int64_t *step)
{
	json_t *j;
	char *t;

	assert_int_equal(queries(f, HTTP_GET, id, NULL, &j), 200);
	if (step)
		*step = member_int(j, "step");
	t = answers_text(j);
	json_decref(j);
	return t;
}

/* ---- what a session answers ----------------------------------------------- */

void snap_take(struct fx *f, const char *id, int D, struct snap *s)
{
	char url[128], body[256];
	json_t *j;
	int i;

	snprintf(url, sizeof url, "/v1/sessions/%s", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	s->session = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	strcpy(body, "{\"x\": [[");
	for (i = 0; i < D; i++)
		snprintf(body + strlen(body), sizeof body - strlen(body), "%s%.1f",
			 i ? ", " : "", 0.5 + i);
	strcat(body, "]]}");
	assert_int_equal(call(f, HTTP_POST, url, body, &j), 200);
	s->pred = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
}

void snap_same(struct fx *f, const char *id, int D, struct snap *before)
{
	struct snap after;

	snap_take(f, id, D, &after);
	assert_string_equal(before->session, after.session);
	assert_string_equal(before->pred, after.pred);
	free(after.session);
	free(after.pred);
}

void snap_free(struct snap *s)
{
	free(s->session);
	free(s->pred);
}

char *session_text(struct fx *f, const char *id)
{
	char url[128], *a, *b, *t;
	json_t *j;

	snprintf(url, sizeof url, "/v1/sessions/%s", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	a = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/history", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	b = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	t = malloc(strlen(a) + strlen(b) + 2);
	assert_non_null(t);
	sprintf(t, "%s\n%s", a, b);
	free(a);
	free(b);
	return t;
}

int64_t session_step(struct fx *f, const char *id)
{
	char url[128];
	json_t *j;
	int64_t s;

	snprintf(url, sizeof url, "/v1/sessions/%s", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &j), 200);
	s = member_int(j, "step");
	json_decref(j);
	return s;
}

void stored_state(struct fx *f, const char *id, float *st, int nstate,
		  struct scaler *sc)
{
	struct store_session ss;
	char err[256];

	memset(&ss, 0, sizeof ss);
	assert_int_equal(store_session_get(f->st, id, &ss, err, sizeof err), STORE_OK);
	assert_int_equal(ss.nstate, nstate + SCALER_FLOATS);
	memcpy(st, ss.state, (size_t)nstate * sizeof *st);
	assert_int_equal(scaler_unpack(sc, ss.state + nstate), 0);
	store_session_clear(&ss);
}

char *clf_snap(struct fx *f, const char *id, const char *x)
{
	char *a = session_text(f, id), *b = predict_text(f, id, x), *t;

	t = malloc(strlen(a) + strlen(b) + 2);
	assert_non_null(t);
	sprintf(t, "%s\n%s", a, b);
	free(a);
	free(b);
	return t;
}

int64_t member_int(json_t *j, const char *k)
{
	json_t *v = json_object_get(j, k);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

char *member_text(json_t *j, const char *k)
{
	char *t = json_dumps(json_object_get(j, k), JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(t);
	return t;
}

int detail_has(json_t *j, const char *text)
{
	const char *d = json_string_value(json_object_get(j, "detail"));

	return d && strstr(d, text) != NULL;
}

void check_probs(json_t *j, int n, int K)
{
	json_t *p = json_object_get(j, "probs"), *l = json_object_get(j, "labels");
	int i, c, best;

	assert_int_equal(json_array_size(p), n);
	assert_int_equal(json_array_size(l), n);
	for (i = 0; i < n; i++) {
		json_t *row = json_array_get(p, i);
		double sum = 0, v, bv = -1;

		assert_int_equal(json_array_size(row), K);
		best = -1;
		for (c = 0; c < K; c++) {
			v = json_number_value(json_array_get(row, c));
			assert_true(v >= 0 && v <= 1);
			sum += v;
			if (v > bv) {
				bv = v;
				best = c;
			}
		}
		assert_true(fabs(sum - 1) < 1e-5);
		assert_true(json_is_integer(json_array_get(l, i)));
		assert_int_equal(json_integer_value(json_array_get(l, i)), best);
	}
}

char *answers_text(json_t *j)
{
	static const char *const keys[] = { "probs", "labels", "mean", "variance", NULL };
	json_t *a = json_object();
	char *t;
	int i;

	for (i = 0; keys[i]; i++)
		if (json_object_get(j, keys[i]))
			json_object_set(a, keys[i], json_object_get(j, keys[i]));
	t = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
	assert_non_null(t);
	json_decref(a);
	return t;
}

/* ---- rows ----------------------------------------------------------------- */

char *rows_json(int first, int n, int seq)
{
	size_t cap = 64 + (size_t)n * 64, len = 0;
	char *b = malloc(cap);
	int i;

	assert_non_null(b);
	len += (size_t)snprintf(b + len, cap - len, "{\"x\": [");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(b + len, cap - len, "%s[%d, %d]", i ? ", " : "",
					first + i, 2 * (first + i) - 1);
	len += (size_t)snprintf(b + len, cap - len, "], \"y\": [");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(b + len, cap - len, "%s%.2f", i ? ", " : "",
					3.0 * (first + i) - (2 * (first + i) - 1) + 0.1 * (first + i));
	if (seq >= 0)
		snprintf(b + len, cap - len, "], \"seq\": %d}", seq);
	else
		snprintf(b + len, cap - len, "]}");
	return b;
}

char *rows_ndjson(int first, int n)
{
	size_t cap = 16 + (size_t)n * 64, len = 0;
	char *b = malloc(cap);
	int i;

	assert_non_null(b);
	b[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(b + len, cap - len, "{\"x\": [%d, %d], \"y\": %.2f}\n",
					first + i, 2 * (first + i) - 1,
					3.0 * (first + i) - (2 * (first + i) - 1) + 0.1 * (first + i));
	return b;
}

char *gen_rows(int first, int n, int D, int ndjson)
{
	size_t cap = 64 + (size_t)n * D * 24, len = 0;
	char *b = malloc(cap);
	int i, j;

	assert_non_null(b);
	len += (size_t)snprintf(b, cap, "%s", ndjson ? "" : "{\"x\": [");
	for (i = first; i < first + n; i++) {
		len += (size_t)snprintf(b + len, cap - len, "%s[", ndjson ? "{\"x\": "
					: i > first ? ", " : "");
		for (j = 0; j < D; j++)
			len += (size_t)snprintf(b + len, cap - len, "%s%g", j ? ", " : "",
						j == 1 ? 1000 + 50.0 * (i % 7) : (double)((i * 5) % 11) * (j + 1));
		len += (size_t)snprintf(b + len, cap - len, "]%s", ndjson ? "}\n" : "");
	}
	if (!ndjson)
		snprintf(b + len, cap - len, "]}");
	return b;
}

char *clf_rows(int first, int n, int K, int ndjson)
{
	size_t cap = 64 + (size_t)n * 48, len = 0;
	char *b = malloc(cap);
	int i;

	assert_non_null(b);
	len += (size_t)snprintf(b, cap, "%s", ndjson ? "" : "{\"x\": [");
	for (i = first; i < first + n; i++) {
		if (ndjson)
			len += (size_t)snprintf(b + len, cap - len, "{\"x\": [%d, %d], "
						"\"y\": %d}\n", i % 5 - 2, (3 * i) % 7 - 3,
						i % K);
		else
			len += (size_t)snprintf(b + len, cap - len, "%s[%d, %d]",
						i > first ? ", " : "", i % 5 - 2,
						(3 * i) % 7 - 3);
	}
	if (!ndjson) {
		len += (size_t)snprintf(b + len, cap - len, "], \"y\": [");
		for (i = first; i < first + n; i++)
			len += (size_t)snprintf(b + len, cap - len, "%s%d",
						i > first ? ", " : "", i % K);
		snprintf(b + len, cap - len, "]}");
	}
	return b;
}
