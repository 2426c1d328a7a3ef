/*
 * test_api_predict.c - POST /v1/sessions/{id}/predict (api_predict.c)
 * without sockets: means and variances, log-densities and class
 * probabilities computed as the core computes them by hand, in the data's
 * units; pixel rows projected first; a flow that cannot predict; and an
 * implicit session's predict by replay, bit for bit the core's, within
 * its bounds (max-replay, loss-replay).
 *
 * The fixture, tiny models and a real store, and the request helpers
 * are in apifx.h.
 */
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

#include "base/am.h"
#include "family/amz.h"
#include "apifx.h"
#include "model/model.h"
#include "refine/refiner.h"
#include "registry.h"
#include "family/scaler.h"
#include "tasks/linclass.h"

/* A classifier session of model name (3 classes, standardization off)
 * steps and predicts as the core does by hand, bit for bit, and answers
 * the same after a restart. */
static void clf_step_matches_core(struct fx *f, const char *name)
{
	const struct model *m = registry_find(f->reg, name);
	static const float rows[4][2] = { { 1, -2 }, { 0.5f, 3 }, { -1, 0 }, { 2, 2 } };
	static const float labels[4] = { 0, 2, 1, 2 };
	static const float q[3][2] = { { 0.5f, -1 }, { 2, 1 }, { -3, 0.25f } };
	float st[AMZ_STATE_MAX], X[4 * AMZ_DMAX] = { 0 }, P[3 * AMZ_CLASSES_MAX];
	const char *qx = "[[0.5, -1], [2, 1], [-3, 0.25]]";
	struct amz_ws *ws;
	char id[33], url[128], body[128], *t, *u;
	json_t *j;
	int i, c;

	assert_non_null(m);
	create_on(f, name, "{\"classes\": 3, \"standardize\": false}", id);
	assert_int_equal(batch(f, id, "{\"x\": [[1, -2], [0.5, 3], [-1, 0], [2, 2]], "
			       "\"y\": [0, 2.0, 1, 2]}", &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 1);
	json_decref(j);
	/* the same step by hand */
	amz_initial_state(&m->az, st);
	assert_int_equal(amz_set_classes(&m->az, st, 3), AM_OK);
	for (i = 0; i < 4; i++) {
		X[i * m->az.dmax] = rows[i][0];
		X[i * m->az.dmax + 1] = rows[i][1];
	}
	ws = amz_ws_new(&m->az);
	assert_non_null(ws);
	assert_int_equal(amz_step(&m->az, ws, st, X, labels, 4, 2, 0, NULL, NULL), AM_OK);
	amz_ws_free(ws);
	memset(X, 0, sizeof X);
	for (i = 0; i < 3; i++) {
		X[i * m->az.dmax] = q[i][0];
		X[i * m->az.dmax + 1] = q[i][1];
	}
	assert_int_equal(amz_predict_probs(&m->az, st, X, 3, 2, P), AM_OK);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	snprintf(body, sizeof body, "{\"x\": %s}", qx);
	assert_int_equal(call(f, HTTP_POST, url, body, &j), 200);
	check_probs(j, 3, 3);
	for (i = 0; i < 3; i++)
		for (c = 0; c < 3; c++)
			assert_true((float)json_real_value(json_array_get(json_array_get(
				json_object_get(j, "probs"), i), c)) == P[i * AMZ_CLASSES_MAX + c]);
	assert_null(json_object_get(j, "mean"));
	json_decref(j);
	t = predict_text(f, id, qx);
	fx_close(f);
	fx_open(f);
	u = predict_text(f, id, qx);
	assert_string_equal(t, u);
	free(t);
	free(u);
}

static void test_predict(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "tiny");
	float s0[REFINER_S], X[LINREG_DMAX] = { 0.5f, -1.25f }, mean, var;
	char id[33], url[128], *b;
	json_t *j;

	/* before any batch: the initial state, no standardization */
	create(f, NULL, id);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[0.5, -1.25]]}", &j), 200);
	refiner_initial_state(m->impl, m->p, s0);
	refiner_predict(s0, X, 1, &mean, &var);
	/* 9 significant digits give the float back exactly */
	assert_true((float)json_real_value(json_array_get(json_object_get(j, "mean"), 0)) ==
		    mean);
	assert_true((float)json_real_value(json_array_get(json_object_get(j, "variance"), 0)) ==
		    var);
	json_decref(j);
	/* no dimension fixed yet: any width predicts */
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3]]}", NULL), 200);
	b = rows_json(0, 8, -1);
	assert_int_equal(batch(f, id, b, NULL), 200);
	free(b);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2], [3, 4], [5, 6]]}", &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "mean")), 3);
	assert_int_equal(json_array_size(json_object_get(j, "variance")), 3);
	assert_true(json_real_value(json_array_get(json_object_get(j, "variance"), 0)) > 0);
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3]]}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, \"a\"]]}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": []}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]], \"y\": [1]}", NULL), 422);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]", NULL), 400);
	b = rows_json(0, MAX_ROWS + 1, -1);
	*strstr(b, ", \"y\"") = '}';
	strstr(b, "]}")[2] = '\0';
	assert_int_equal(call(f, HTTP_POST, url, b, NULL), 422);
	free(b);
	assert_int_equal(call(f, HTTP_POST,
			      "/v1/sessions/0123456789abcdef0123456789abcdef/predict",
			      "{\"x\": [[1, 2]]}", NULL), 404);
}

/* The log-density in the data's units: the server's answer against the
 * model's own on the stored state, with the change of variables written
 * out by hand. */
static void test_gen_log_density(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "mog");
	static const double q[2][2] = { { 3, 1100 }, { -2, 950 } };
	float st[AMZ_STATE_MAX], X[2 * AMZ_DMAX] = { 0 }, lz[2];
	char id[33], raw[33], url[128], *rows;
	struct scaler sc;
	json_t *j, *ld;
	int i, k;

	create_on(f, "mog", NULL, id);
	rows = gen_rows(0, 6, 2, 0);
	assert_int_equal(batch(f, id, rows, NULL), 200);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[3, 1100], [-2, 950]]}", &j), 200);
	assert_null(json_object_get(j, "mean"));
	ld = json_object_get(j, "log_density");
	assert_int_equal(json_array_size(ld), 2);
	stored_state(f, id, st, m->az.nstate, &sc);
	for (i = 0; i < 2; i++)
		for (k = 0; k < 2; k++)
			X[i * m->az.dmax + k] = (float)((q[i][k] - sc.mean[k]) / sc.sd[k]);
	assert_int_equal(amz_log_density(&m->az, st, X, 2, 2, lz), AM_OK);
	for (i = 0; i < 2; i++) {
		double want = (double)lz[i] - log((double)sc.sd[0]) - log((double)sc.sd[1]);
		double got = json_real_value(json_array_get(ld, (size_t)i));

		assert_true(fabs(got - want) <= 1e-6 * fabs(want) + 1e-6);
	}
	json_decref(j);
	/* the session's dimension holds; a raw session scores raw rows */
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3]]}", NULL), 422);
	create_on(f, "mog", "{\"standardize\": false}", raw);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", raw);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[0.5, -0.5]]}", &j), 200);
	memset(X, 0, sizeof X);
	X[0] = 0.5f;
	X[1] = -0.5f;
	amz_initial_state(&m->az, st);
	assert_int_equal(amz_log_density(&m->az, st, X, 1, 2, lz), AM_OK);
	assert_true((float)json_real_value(json_array_get(json_object_get(j, "log_density"), 0))
		    == lz[0]);
	json_decref(j);
	free(rows);
}

/* A flow answers neither a mean nor a density: it cannot predict, and
 * says what it can do; it adapts and samples. */
static void test_gen_flow(void **state)
{
	struct fx *f = *state;
	char id[33], url[128], *rows, *a, *b;
	json_t *j, *j2;

	create_on(f, "flow", "{\"dim\": 2}", id);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2]]}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:cannot-predict");
	assert_true(detail_has(j, "use sample"));
	json_decref(j);
	/* a malformed request is still told so first */
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": 1}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:invalid");
	json_decref(j);
	rows = gen_rows(0, 6, 2, 0);
	assert_int_equal(batch(f, id, rows, NULL), 200);
	free(rows);
	assert_int_equal(sample(f, id, 4, 11, &j), 200);
	assert_int_equal(sample(f, id, 4, 11, &j2), 200);
	assert_int_equal(json_array_size(json_object_get(j, "samples")), 4);
	a = json_dumps(j, JSON_COMPACT);
	b = json_dumps(j2, JSON_COMPACT);
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(j);
	json_decref(j2);
}

/*
 * Labelled rows refine a classification session exactly as amz_step does
 * (labels as JSON integers or integral numbers, never standardized);
 * predict answers the session's K probabilities per row, summing to 1,
 * and their argmax as labels, the same after a restart; NDJSON and JSON
 * give the same state.
 */
static void test_clf_steps_and_probs(void **state)
{
	struct fx *f = *state;
	const char *qx = "[[0.5, -1], [2, 1], [-3, 0.25]]";
	static const size_t chunks[] = { 7, 30, 3 };
	char a2[33], b2[33], url[128], *t, *u;
	json_t *j;

	clf_step_matches_core(f, "tinyclf");
	/* standardized (the default): JSON and NDJSON in uneven chunks */
	create_on(f, "tinyclf", "{\"classes\": 3}", a2);
	create_on(f, "tinyclf", "{\"classes\": 3}", b2);
	t = clf_rows(0, 10, 3, 0);
	assert_int_equal(batch(f, a2, t, &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	json_decref(j);
	free(t);
	t = clf_rows(0, 10, 3, 1);
	assert_int_equal(stream(f, b2, NULL, t, chunks, 3, &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	json_decref(j);
	free(t);
	t = predict_text(f, a2, qx);
	u = predict_text(f, b2, qx);
	assert_string_equal(t, u);
	free(t);
	free(u);
	/* a classifier does not sample */
	snprintf(url, sizeof url, "/v1/sessions/%s/sample", a2);
	assert_int_equal(call(f, HTTP_POST, url, "{\"n\": 2}", &j), 422);
	assert_true(detail_has(j, "is a classifier"));
	json_decref(j);
}

/*
 * An image model's pixel session: rows of exactly npix values in [0, 255],
 * projected by the model's PCA before anything else, so that it adapts and
 * predicts exactly as a feature session fed the projections; bad pixel
 * rows are 422 and change nothing, in both batch forms and in predict.
 */
static void test_img_pixels(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "tinyimg");
	static const float pix[6][IMG_NPIX] = {
		{ 0, 255, 128, 64 }, { 10, 20, 30, 40 }, { 255, 255, 0, 0 },
		{ 200, 100, 50, 25 }, { 7, 250, 7, 250 }, { 128, 128, 128, 128 },
	};
	static const size_t whole[] = { 4096 };
	static const struct {
		const char *body, *detail;
	} bad[] = {
		{ "{\"x\": [[1, 2, 3]], \"y\": [0]}", "takes rows of the 4 pixels" },
		{ "{\"x\": [[1, 2, 3, 4, 5]], \"y\": [0]}", "takes rows of the 4 pixels" },
		{ "{\"x\": [[1, 256, 3, 4]], \"y\": [0]}", "x[0][1] = 256 is not a pixel value" },
		{ "{\"x\": [[1, 2, 3, 4], [-1, 2, 3, 4]], \"y\": [0, 1]}",
		  "x[1][0] = -1 is not a pixel value" },
		{ "{\"x\": [[1, 2, 3, 4]], \"y\": [3]}", "y[0] = 3 is not a class label" },
	};
	float F[6 * AMZ_DMAX];
	char pid[33], fid[33], body[1024], fx_rows[512], url[128], *a, *b, *before;
	const char *qpix = "[[7, 250, 7, 250], [128, 128, 128, 128]]";
	json_t *j;
	size_t len;
	int i;

	create_on(f, "tinyimg", "{\"input\": \"pixels\", \"classes\": 3}", pid);
	create_on(f, "tinyimg", "{\"classes\": 3}", fid);
	assert_int_equal(amz_project(&m->az, &pix[0][0], 6, F), AM_OK);
	/* 4 training rows, then the 2 query rows, as pixels and features */
	len = (size_t)snprintf(body, sizeof body, "{\"x\": [");
	for (i = 0; i < 4; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s[%g, %g, %g, %g]",
					i ? ", " : "", pix[i][0], pix[i][1], pix[i][2],
					pix[i][3]);
	snprintf(body + len, sizeof body - len, "], \"y\": [0, 1, 2, 1]}");
	assert_int_equal(batch(f, pid, body, NULL), 200);
	len = (size_t)snprintf(body, sizeof body, "{\"x\": [");
	for (i = 0; i < 4; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s[%.9g, %.9g]",
					i ? ", " : "", F[i * AMZ_DMAX], F[i * AMZ_DMAX + 1]);
	snprintf(body + len, sizeof body - len, "], \"y\": [0, 1, 2, 1]}");
	assert_int_equal(batch(f, fid, body, NULL), 200);
	snprintf(fx_rows, sizeof fx_rows, "[[%.9g, %.9g], [%.9g, %.9g]]",
		 F[4 * AMZ_DMAX], F[4 * AMZ_DMAX + 1], F[5 * AMZ_DMAX],
		 F[5 * AMZ_DMAX + 1]);
	a = predict_text(f, pid, qpix);
	b = predict_text(f, fid, fx_rows);
	assert_string_equal(a, b);
	free(a);
	free(b);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", pid);
	snprintf(body, sizeof body, "{\"x\": %s}", qpix);
	assert_int_equal(call(f, HTTP_POST, url, body, &j), 200);
	check_probs(j, 2, 3);
	json_decref(j);

	before = clf_snap(f, pid, qpix);
	for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
		assert_int_equal(batch(f, pid, bad[i].body, &j), 422);
		if (!detail_has(j, bad[i].detail))
			fail_msg("%s: %s", bad[i].body,
				 json_string_value(json_object_get(j, "detail")));
		json_decref(j);
		a = clf_snap(f, pid, qpix);
		assert_string_equal(before, a);
		free(a);
	}
	assert_int_equal(stream(f, pid, NULL, "{\"x\": [1, 2, 3], \"y\": 0}\n", whole, 1,
				&j), 422);
	assert_true(detail_has(j, "line 1: 'x' has 3 values"));
	json_decref(j);
	assert_int_equal(stream(f, pid, NULL, "{\"x\": [1, 2, 3, 300], \"y\": 0}\n", whole,
				1, &j), 422);
	assert_true(detail_has(j, "x[3] = 300 is not a pixel value"));
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3]]}", &j), 422);
	assert_true(detail_has(j, "takes rows of the 4 pixels"));
	json_decref(j);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 2, 3, 255.5]]}", &j), 422);
	assert_true(detail_has(j, "not a pixel value"));
	json_decref(j);
	a = clf_snap(f, pid, qpix);
	assert_string_equal(before, a);
	free(a);
	free(before);
	/* a stream of pixel rows goes on where the batch left off */
	assert_int_equal(stream(f, pid, NULL, "{\"x\": [0, 0, 0, 0], \"y\": 2}\n"
				"{\"x\": [255, 0, 255, 0], \"y\": 0}\n", whole, 1, &j), 200);
	assert_int_equal(member_int(j, "step"), 2);
	json_decref(j);
}

/*
 * Predict on an implicit session replays its batches: with
 * standardization off, the answers are those of amz_query_init, one
 * amz_query_step per stored mini-batch (its rows, labels and the rows
 * before it) and amz_query_probs, bit for bit; the losses are those of
 * the batch's rows before and after their step.  The reply says how many
 * batches it replayed.
 */
static void test_imp_replay_matches_core(void **state)
{
	struct fx *f = *state;
	const struct model *m = registry_find(f->reg, "tinyimp");
	static const float q[3][2] = { { 0.5f, -1 }, { 2, 1 }, { -3, 0.25f } };
	const char *qx = "[[0.5, -1], [2, 1], [-3, 0.25]]";
	float st[AMZ_STATE_MAX], Q[3 * AMZ_DMAX] = { 0 }, X[BMAX * AMZ_DMAX];
	float y[BMAX], *qs, *bq, P[3 * AMZ_CLASSES_MAX], lb, la;
	struct amz_ws *ws;
	char id[33], url[128], *t;
	json_t *j, *h;
	int64_t replayed;
	int i, c, b, B;

	assert_non_null(m);
	create_on(f, "tinyimp", "{\"classes\": 3, \"standardize\": false}", id);
	amz_initial_state(&m->az, st);
	assert_int_equal(amz_set_classes(&m->az, st, 3), AM_OK);
	for (i = 0; i < 3; i++) {
		Q[i * m->az.dmax] = q[i][0];
		Q[i * m->az.dmax + 1] = q[i][1];
	}
	qs = calloc((size_t)3 * m->az.qstate, sizeof *qs);
	bq = calloc((size_t)BMAX * m->az.qstate, sizeof *bq);
	ws = amz_ws_new(&m->az);
	assert_true(qs && bq && ws);
	assert_int_equal(amz_query_init(&m->az, st, 3, qs), AM_OK);

	/* no batch yet: the model's prior prediction, nothing replayed */
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	t = malloc(256);
	snprintf(t, 256, "{\"x\": %s}", qx);
	assert_int_equal(call(f, HTTP_POST, url, t, &j), 200);
	assert_int_equal(member_int(j, "replayed"), 0);
	assert_int_equal(amz_query_probs(&m->az, st, qs, 3, P), AM_OK);
	check_probs(j, 3, 3);
	for (i = 0; i < 3; i++)
		for (c = 0; c < 3; c++)
			assert_true((float)json_real_value(json_array_get(json_array_get(
				json_object_get(j, "probs"), i), c)) == P[i * AMZ_CLASSES_MAX + c]);
	json_decref(j);

	/* 10 rows: mini-batches of 4, 4 and 2 */
	free(t);
	t = clf_rows(0, 10, 3, 0);
	assert_int_equal(batch(f, id, t, &j), 200);
	free(t);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/history", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &h), 200);
	for (b = 0; b < 3; b++) {
		json_t *e = json_array_get(json_object_get(h, "history"), (size_t)b);

		B = b < 2 ? BMAX : 2;
		memset(X, 0, sizeof X);
		for (i = 0; i < B; i++) {
			int r = BMAX * b + i;

			X[i * m->az.dmax] = (float)(r % 5 - 2);
			X[i * m->az.dmax + 1] = (float)((3 * r) % 7 - 3);
			y[i] = (float)(r % 3);
		}
		/* the loss: this batch's rows from the history before it */
		assert_int_equal(amz_query_init(&m->az, st, B, bq), AM_OK);
		{
			int b2, i2;
			float X2[BMAX * AMZ_DMAX], y2[BMAX];

			for (b2 = 0; b2 < b; b2++) {
				memset(X2, 0, sizeof X2);
				for (i2 = 0; i2 < BMAX; i2++) {
					int r = BMAX * b2 + i2;

					X2[i2 * m->az.dmax] = (float)(r % 5 - 2);
					X2[i2 * m->az.dmax + 1] = (float)((3 * r) % 7 - 3);
					y2[i2] = (float)(r % 3);
				}
				assert_int_equal(amz_query_step(&m->az, ws, st, X, B, bq, X2, y2,
								BMAX, 2, BMAX * b2), AM_OK);
			}
		}
		lb = amz_query_loss(&m->az, st, bq, y, B);
		assert_int_equal(amz_query_step(&m->az, ws, st, X, B, bq, X, y, B, 2,
						BMAX * b), AM_OK);
		la = amz_query_loss(&m->az, st, bq, y, B);
		assert_true(isfinite(lb) && isfinite(la) && lb > 0);
		assert_true((float)json_real_value(json_object_get(e, "loss_before")) == lb);
		assert_true((float)json_real_value(json_object_get(e, "loss_after")) == la);
		/* the predictions: every batch in turn */
		assert_int_equal(amz_query_step(&m->az, ws, st, Q, 3, qs, X, y, B, 2,
						BMAX * b), AM_OK);
	}
	json_decref(h);
	assert_int_equal(amz_query_probs(&m->az, st, qs, 3, P), AM_OK);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	t = malloc(256);
	snprintf(t, 256, "{\"x\": %s}", qx);
	assert_int_equal(call(f, HTTP_POST, url, t, &j), 200);
	free(t);
	replayed = member_int(j, "replayed");
	assert_int_equal(replayed, 3);
	check_probs(j, 3, 3);
	for (i = 0; i < 3; i++)
		for (c = 0; c < 3; c++)
			assert_true((float)json_real_value(json_array_get(json_array_get(
				json_object_get(j, "probs"), i), c)) == P[i * AMZ_CLASSES_MAX + c]);
	json_decref(j);
	amz_ws_free(ws);
	free(bq);
	free(qs);
}

/*
 * The bounds: predict or a query set past max-replay is 422 replay-limit
 * and computes nothing; a step's losses past loss-replay are null (0 in
 * the store), and none with loss-replay 0.
 */
static void test_imp_replay_limits(void **state)
{
	struct fx *f = *state;
	char id[33], id2[33], url[128], *t;
	json_t *j, *h, *e;
	int i;

	/* 12 rows, 3 steps; losses while rows before x batch <= 8 x 4 */
	f->cfg.loss_replay = 8 * BMAX;
	create_on(f, "tinyimp", "{\"classes\": 3}", id);
	t = clf_rows(0, 12, 3, 0);
	assert_int_equal(batch(f, id, t, &j), 200);
	free(t);
	for (i = 0; i < 3; i++)
		assert_true(json_is_real(json_object_get(json_array_get(
			json_object_get(j, "losses"), (size_t)i), "before")));
	json_decref(j);
	t = clf_rows(12, 6, 3, 1);
	assert_int_equal(stream(f, id, NULL, t, (const size_t[]){ 1 << 20 }, 1, &j), 200);
	free(t);
	assert_true(json_is_null(json_object_get(json_array_get(
		json_object_get(j, "losses"), 0), "before")));
	assert_true(json_is_null(json_object_get(json_array_get(
		json_object_get(j, "losses"), 1), "after")));
	json_decref(j);
	snprintf(url, sizeof url, "/v1/sessions/%s/history", id);
	assert_int_equal(call(f, HTTP_GET, url, NULL, &h), 200);
	assert_int_equal(json_array_size(json_object_get(h, "history")), 5);
	for (i = 0; i < 5; i++) {
		e = json_array_get(json_object_get(h, "history"), (size_t)i);
		assert_int_equal(json_is_null(json_object_get(e, "loss_before")), i >= 3);
		assert_int_equal(json_is_null(json_object_get(e, "loss_after")), i >= 3);
	}
	json_decref(h);
	f->cfg.loss_replay = 0;
	create_on(f, "tinyimp", "{\"classes\": 3}", id2);
	t = clf_rows(0, 5, 3, 0);
	assert_int_equal(batch(f, id2, t, &j), 200);
	free(t);
	assert_true(json_is_null(json_object_get(json_array_get(
		json_object_get(j, "losses"), 0), "before")));
	json_decref(j);

	/* 18 rows stored: a replay for n rows costs 18 x max(n, 4) */
	f->cfg.max_replay = 18 * 5;
	t = predict_answers(f, id, "[[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]", NULL);
	free(t);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", id);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[1, 1], [2, 2], [3, 3], "
			      "[4, 4], [5, 5], [6, 6]]}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:replay-limit");
	assert_int_equal(member_int(j, "replay_rows"), 18);
	assert_int_equal(member_int(j, "queries"), 6);
	assert_int_equal(member_int(j, "max_replay"), 90);
	assert_true(detail_has(j, "query set"));
	json_decref(j);
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[1, 1], [2, 2], [3, 3], "
				 "[4, 4], [5, 5], [6, 6]]}", &j), 422);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "urn:amortd:problem:replay-limit");
	json_decref(j);
	assert_int_equal(queries(f, HTTP_GET, id, NULL, NULL), 404);
	/* a query set is answered whatever the history */
	assert_int_equal(queries(f, HTTP_PUT, id, "{\"x\": [[1, 1]]}", NULL), 201);
	f->cfg.max_replay = 1;
	t = set_answers(f, id, NULL);
	free(t);
	t = clf_rows(18, 4, 3, 0);
	assert_int_equal(batch(f, id, t, NULL), 200);
	free(t);
	t = set_answers(f, id, NULL);
	free(t);
	/* and replays are counted */
	assert_int_equal(call(f, HTTP_GET, "/metrics", NULL, NULL), 200);
}

/* Regression by a learned predictor: an implicit session answers means
 * (no variance) by replay and by its query set; an explicit one predicts
 * a mean without a variance too. */
static void test_imp_regression(void **state)
{
	struct fx *f = *state;
	const char *qx = "[[0.5, 2], [1.5, 4]]";
	char id[33], ex[33], url[128], *t, *u, *p;
	json_t *j;
	int64_t replayed;

	create_on(f, "tinyimpreg", NULL, id);
	p = rows_json(1, 10, -1);
	assert_int_equal(batch(f, id, p, &j), 200);
	assert_int_equal(member_int(j, "steps_applied"), 3);
	assert_true(json_is_real(json_object_get(json_array_get(
		json_object_get(j, "losses"), 2), "after")));
	json_decref(j);
	snprintf(url, sizeof url, "{\"x\": %s}", qx);
	assert_int_equal(queries(f, HTTP_PUT, id, url, &j), 201);
	assert_int_equal(json_array_size(json_object_get(j, "mean")), 2);
	assert_null(json_object_get(j, "variance"));
	assert_null(json_object_get(j, "probs"));
	json_decref(j);
	t = rows_ndjson(11, 7);
	assert_int_equal(stream(f, id, NULL, t, (const size_t[]){ 13 }, 1, NULL), 200);
	free(t);
	t = set_answers(f, id, NULL);
	u = predict_answers(f, id, qx, &replayed);
	assert_int_equal(replayed, 5);
	assert_string_equal(t, u);
	assert_null(strstr(u, "variance"));
	free(u);
	free(t);

	create_on(f, "tinyreg", NULL, ex);
	assert_int_equal(batch(f, ex, p, NULL), 200);
	free(p);
	snprintf(url, sizeof url, "/v1/sessions/%s/predict", ex);
	assert_int_equal(call(f, HTTP_POST, url, "{\"x\": [[0.5, 2]]}", &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "mean")), 1);
	assert_null(json_object_get(j, "variance"));
	assert_null(json_object_get(j, "replayed"));
	json_decref(j);
	assert_int_equal(queries(f, HTTP_GET, ex, NULL, NULL), 409);
}

/* An explicit classifier with the head predictor is served as any
 * classifier: its header says so, and its steps and probabilities are
 * the core's. */
static void test_imp_explicit_head(void **state)
{
	struct fx *f = *state;
	json_t *j;

	assert_int_equal(call(f, HTTP_GET, "/v1/models/tinyhead", NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "regime")), "explicit");
	assert_string_equal(json_string_value(json_object_get(j, "predicts")), "probs");
	assert_true(json_is_false(json_object_get(j, "replay")));
	json_decref(j);
	/* the loader read the predictor: one latent of 8 per class, and the
	 * classes float after it */
	assert_int_equal(registry_find(f->reg, "tinyhead")->gcfg.head, 1);
	assert_int_equal(registry_find(f->reg, "tinyhead")->az.nstate,
			 LINCLASS_KMAX * 8 + 1);
	clf_step_matches_core(f, "tinyhead");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_predict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gen_log_density, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_gen_flow, setup_gen, teardown),
		cmocka_unit_test_setup_teardown(test_clf_steps_and_probs, setup_clf,
						teardown),
		cmocka_unit_test_setup_teardown(test_img_pixels, setup_clf, teardown),
		cmocka_unit_test_setup_teardown(test_imp_replay_matches_core, setup_imp,
						teardown),
		cmocka_unit_test_setup_teardown(test_imp_replay_limits, setup_imp, teardown),
		cmocka_unit_test_setup_teardown(test_imp_regression, setup_imp, teardown),
		cmocka_unit_test_setup_teardown(test_imp_explicit_head, setup_imp, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
