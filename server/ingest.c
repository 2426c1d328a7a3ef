/*
 * ingest.c - batches: validation, mini-batch cutting, refinement steps and
 * their commits, for JSON bodies and NDJSON streams.
 */
#include "ingest.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "api_base.h"
#include "input.h"
#include "log.h"
#include "model/model.h"
#include "replay.h"
#include "reply.h"
#include "router.h"
#include "family/scaler.h"
#include "sessions.h"

/* ---- one mini-batch ---------------------------------------------------- */

/* Buffers of one mini-batch, sized for the model's bmax rows. */
struct batch_buf {
	float *X;		/* B x dmax, zero-padded */
	float *y;		/* B (unused when the model has no y) */
	double *F;		/* B x dmax: pixel rows projected to features */
	struct amz_ws *ws;
};

static int batch_buf_init(struct batch_buf *bb, const struct model *m)
{
	memset(bb, 0, sizeof *bb);
	bb->X = malloc((size_t)m->az.bmax * m->az.dmax * sizeof *bb->X);
	bb->y = malloc((size_t)m->az.bmax * sizeof *bb->y);
	bb->F = malloc((size_t)m->az.bmax * m->az.dmax * sizeof *bb->F);
	bb->ws = amz_ws_new(&m->az);
	return bb->X && bb->y && bb->F && bb->ws ? 0 : -1;
}

static void batch_buf_free(struct batch_buf *bb)
{
	amz_ws_free(bb->ws);
	free(bb->F);
	free(bb->y);
	free(bb->X);
}

/*
 * Applies one mini-batch of n rows (x: n x D raw values, checked against
 * the session's input in; y: n raw targets or labels, or NULL for a model
 * without y) to u: projects pixel rows to features, fits the scaler if it
 * is pending, maps the rows, takes the refinement step (amz_step) and
 * counts it.  Labels pass unscaled.  Messages call row i "<rowname>
 * row0+i".  u changes only on success.  Returns 0 with the family's batch
 * losses, or -1 with a message in err (a value beyond single precision
 * after scaling, or a state that would become non-finite).
 */
static int step_batch(const struct model *m, const struct input *in,
		      struct batch_buf *bb, struct session_update *u,
		      const double *x, const double *y, int n, int D,
		      long long row0, const char *rowname, float *loss_before,
		      float *loss_after, char *err, size_t errlen)
{
	struct session_update t = *u;
	int dmax = m->az.dmax, width = D, i, j, rc;

	AM_ASSERT(!y == !m->az.has_y);
	if (in->pixels) {
		/* the model sees the PCA's features, never the pixels */
		for (i = 0; i < n; i++)
			input_project(m, in, x + (size_t)i * D, bb->F + (size_t)i * in->D);
		x = bb->F;
		D = in->D;
	}
	scaler_fit(&t.sc, x, m->az.has_labels ? NULL : y, n, D);
	memset(bb->X, 0, (size_t)n * dmax * sizeof *bb->X);
	for (i = 0; i < n; i++) {
		for (j = 0; j < D; j++) {
			if (scaler_map(&t.sc, j, x[(size_t)i * D + j],
				       &bb->X[(size_t)i * dmax + j])) {
				snprintf(err, errlen, "%s %lld, input %d: %g is beyond single "
					 "precision after standardization", rowname, row0 + i,
					 j, x[(size_t)i * D + j]);
				return -1;
			}
		}
		if (y && m->az.has_labels) {
			bb->y[i] = (float)y[i];		/* a label, checked */
		} else if (y && scaler_map(&t.sc, SCALER_Y, y[i], &bb->y[i])) {
			snprintf(err, errlen, "%s %lld: y = %g is beyond single precision "
				 "after standardization", rowname, row0 + i, y[i]);
			return -1;
		}
	}
	rc = amz_step(&m->az, bb->ws, t.state, bb->X, y ? bb->y : NULL, n, D,
		      (double)t.rows, loss_before, loss_after);
	if (rc != AM_OK) {
		snprintf(err, errlen, "%s", rc == AM_ENUMERIC
			 ? "the session's state would become non-finite on these rows "
			   "(values far outside the scale of the first mini-batch?)"
			 : am_strerror(rc));
		return -1;
	}
	if (!isfinite(*loss_after) || !isfinite(*loss_before)) {
		snprintf(err, errlen, "the batch loss is not finite on these rows");
		return -1;
	}
	t.step++;
	t.rows += n;
	t.dim = width;
	*u = t;
	return 0;
}

/* The update that stands for the session's current fields. */
static void update_from_view(struct session_update *u, const struct session_view *v)
{
	u->step = v->step;
	u->rows = v->rows;
	u->next_seq = v->next_seq;
	u->dim = v->dim;
	memcpy(u->state, v->state, sizeof u->state);
	u->sc = v->sc;
}

/* Copies n x D doubles into floats (values were checked to fit). */
static void to_floats(float *dst, const double *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (float)src[i];
}

/* ---- the implicit regime ------------------------------------------------ */

/*
 * Rounds n values to single precision in place.  An implicit session's
 * rows are rounded so before anything else (projection, the scaler's fit,
 * the map): what its steps see is then exactly what a replay of the
 * stored float32 rows sees (replay.h), and a query set refined batch by
 * batch answers as a replay does.
 */
static void round_floats(double *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = (float)v[i];
}

/*
 * An implicit session's part of a batch request: its query set, loaded
 * once with the writer slot held and refined by every step in memory, then
 * committed with the steps (store_commit_steps_q); and the replay that
 * gives a step's batch losses.
 */
struct implicit {
	int on;				/* the model is implicit */
	struct store_queries q;		/* the query set; q.n == 0: none */
	struct replay rp;		/* loss replays */
	float *lqs;			/* bmax x qstate: one batch's query states */
};

/* Whether the losses of a step after rows_before rows are computed: the
 * replay they need costs rows_before x the model's batch row pairs. */
static int losses_due(const struct api *a, const struct model *m, int64_t rows_before)
{
	return a->cfg->loss_replay > 0 &&
	       (double)rows_before * m->az.bmax <= (double)a->cfg->loss_replay;
}

/*
 * Sets im up for a request on session v (writer slot held; v's state is
 * borrowed by the replay and must outlive im): loads the session's query
 * set, which must be current at its step and of the model's shape.  Returns 0, or -1 with a message (the store failed, a set
 * that does not fit: both internal errors).
 */
static int implicit_open(struct api *a, const struct model *m,
			 const struct session_view *v, const struct input *in,
			 struct implicit *im, char *err, size_t errlen)
{
	char msg[256];
	int rc;

	memset(im, 0, sizeof *im);
	im->on = m->az.implicit;
	if (!im->on)
		return 0;
	if (replay_init(&im->rp, m, in, &v->sc, v->state) ||
	    !(im->lqs = malloc((size_t)m->az.bmax * m->az.qstate * sizeof *im->lqs))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = store_queries_get(a->store, v->id, &im->q, msg, sizeof msg);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK) {
		snprintf(err, errlen, "reading the query set: %s", msg);
		return -1;
	}
	if (im->q.width != m->az.dmax || im->q.qstate != m->az.qstate ||
	    im->q.step != v->step) {
		snprintf(err, errlen, "the query set (%d x %d, %d states, step %lld) "
			 "does not fit the session (width %d, %d states, step %lld)",
			 im->q.n, im->q.width, im->q.qstate, (long long)im->q.step,
			 m->az.dmax, m->az.qstate, (long long)v->step);
		return -1;
	}
	return 0;
}

static void implicit_close(struct implicit *im)
{
	store_queries_clear(&im->q);
	replay_free(&im->rp);
	free(im->lqs);
	im->lqs = NULL;
}

/* The query set to commit with steps up to step (NULL when none). */
static struct store_queries *implicit_commit_q(struct implicit *im, int64_t step)
{
	if (!im->on || im->q.n < 1)
		return NULL;
	im->q.step = step;
	im->q.updated = sessions_now();
	return &im->q;
}

/*
 * Refines the query set (if any) by one mini-batch as the model saw it
 * (X: B x dmax, y: B), seen after rows_seen rows.  The states change only
 * on success.  Returns 0, or -1 with a message.
 */
static int implicit_refine(const struct model *m, struct implicit *im,
			   const float *state, const float *X, const float *y,
			   int B, int D, double rows_seen, char *err, size_t errlen)
{
	int rc;

	if (!im->on || im->q.n < 1)
		return 0;
	rc = amz_query_step(&m->az, im->rp.ws, state, im->q.x, im->q.n, im->q.qs, X, y,
			    B, D, rows_seen);
	if (rc != AM_OK) {
		snprintf(err, errlen, "%s", rc == AM_ENUMERIC
			 ? "the session's query set would become non-finite on these "
			   "rows (values far outside the scale of the first mini-batch?)"
			 : am_strerror(rc));
		return -1;
	}
	return 0;
}

/* The loss of n query states against y, or -1 with a message when it is
 * not finite. */
static int query_loss(const struct model *m, const float *state, const float *qs,
		      const float *y, int n, float *loss, char *err, size_t errlen)
{
	float l = amz_query_loss(&m->az, state, qs, y, n);

	if (!isfinite(l)) {
		snprintf(err, errlen, "the batch loss is not finite on these rows");
		return -1;
	}
	*loss = l;
	return 0;
}

/*
 * The seq check, for both forms, with the writer slot held.  Returns 1 to
 * go on, 0 when resp was filled (a duplicate's original result, a 409, or
 * a store failure).  A duplicate's result is the original one: its steps,
 * the step count after them and their losses (the last INGEST_LOSSES_MAX),
 * with the session's rows and next_seq as they are now.
 */
/* {"before": lb, "after": la}, both null when they were not computed
 * (new reference). */
static json_t *loss_json(double lb, double la, int none)
{
	if (none)
		return json_pack("{s:n, s:n}", "before", "after");
	return json_pack("{s:f, s:f}", "before", lb, "after", la);
}

static void dup_loss(void *ud, const struct store_batch *b)
{
	json_array_append_new(ud, loss_json(b->loss_before, b->loss_after,
					    b->no_losses));
}

static int seq_check(struct api *a, const struct session_view *v, int64_t seq,
		     struct http_response *resp)
{
	int64_t count = 0, last = 0, n;
	json_t *losses;
	char err[256];

	if (seq < 0 || seq == v->next_seq)
		return 1;
	if (seq > v->next_seq) {
		reply_problem_ext(resp, REPLY_SEQ_CONFLICT,
				  json_pack("{s:I}", "next_seq", (json_int_t)v->next_seq),
				  "seq %lld is ahead of the session's next_seq %lld: a "
				  "request in between is missing", (long long)seq,
				  (long long)v->next_seq);
		return 0;
	}
	if (store_seq_result(a->store, v->id, seq, &count, &last, err, sizeof err) != STORE_OK) {
		log_msg(LOG_ERROR, "session %s: seq %lld: %s", v->id, (long long)seq, err);
		reply_problem(resp, REPLY_INTERNAL, "reading the result of seq %lld failed",
			      (long long)seq);
		return 0;
	}
	if (count == 0) {
		reply_problem_ext(resp, REPLY_SEQ_CONFLICT,
				  json_pack("{s:I}", "next_seq", (json_int_t)v->next_seq),
				  "seq %lld is behind the session's next_seq %lld and "
				  "applied no steps", (long long)seq, (long long)v->next_seq);
		return 0;
	}
	/* the original result: the steps of one request are consecutive, so
	 * their losses are the history's last count steps up to last */
	losses = json_array();
	n = count > INGEST_LOSSES_MAX ? INGEST_LOSSES_MAX : count;
	if (!losses || store_history(a->store, v->id, last - n, (int)n, dup_loss, losses,
				     err, sizeof err) != STORE_OK) {
		json_decref(losses);
		losses = json_array();
	}
	reply_json(resp, 200, json_pack("{s:I, s:I, s:I, s:I, s:o, s:b}", "steps_applied",
					(json_int_t)count, "step", (json_int_t)last,
					"rows", (json_int_t)v->rows,
					"next_seq", (json_int_t)v->next_seq,
					"losses", losses, "duplicate", 1));
	return 0;
}

/* Builds the success body. */
static json_t *result_json(const struct session_update *u, int64_t steps,
			   json_t *losses)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:o}", "steps_applied", (json_int_t)steps,
			 "step", (json_int_t)u->step, "rows", (json_int_t)u->rows,
			 "next_seq", (json_int_t)u->next_seq,
			 "losses", losses ? losses : json_array());
}

/* ---- the JSON form ----------------------------------------------------- */

/* Reads an optional non-negative integer seq member; -1 when absent. */
static int read_seq(json_t *obj, int64_t *seq, struct http_response *resp)
{
	json_t *s = json_object_get(obj, "seq");

	*seq = -1;
	if (!s || json_is_null(s))
		return 0;
	if (!json_is_integer(s) || json_integer_value(s) < 0) {
		reply_problem(resp, REPLY_INVALID, "'seq' must be a non-negative integer");
		return -1;
	}
	*seq = json_integer_value(s);
	return 0;
}

/*
 * Reads the member y of a JSON batch for model m: n finite numbers for a
 * model with targets (labels of the session's in->K classes for a
 * classification model), absent for one without.  Returns 0 with *out (n
 * doubles, new, caller frees; NULL for a model without y), or -1 with resp
 * filled (422, or 500 when out of memory).
 */
static int read_targets(const struct model *m, const struct input *in, json_t *yj,
			int n, double **out, struct http_response *resp)
{
	double *y;
	int i, r;

	*out = NULL;
	if (!m->az.has_y) {
		if (yj) {
			reply_problem(resp, REPLY_INVALID, "model '%s' (family %s) takes "
				      "rows without targets: a batch is {\"x\": [..]} only; "
				      "drop 'y'", m->name, amz_name(&m->az));
			return -1;
		}
		return 0;
	}
	if (!json_is_array(yj) || json_array_size(yj) != (size_t)n) {
		reply_problem(resp, REPLY_INVALID, "'y' must be an array of %d %s, one "
			      "per row of 'x'", n, m->az.has_labels ? "class labels"
			      : "numbers");
		return -1;
	}
	y = malloc((size_t)n * sizeof *y);
	if (!y) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		r = input_value_ok(json_array_get(yj, (size_t)i), &y[i]);
		if (r) {
			reply_problem(resp, REPLY_INVALID, "y[%d] is %s", i, r == -1
				      ? "not a number" : "not finite or beyond single precision");
			free(y);
			return -1;
		}
		if (m->az.has_labels && !input_label_ok(in, y[i])) {
			reply_problem(resp, REPLY_INVALID, "y[%d] = %g is not a class label: "
				      "labels are integers from 0 to %d (the session has "
				      "%d classes)", i, y[i], in->K - 1, in->K);
			free(y);
			return -1;
		}
	}
	*out = y;
	return 0;
}

/* The computed outcome of one step of a JSON request. */
struct planned {
	int64_t step;		/* the session's step count after it */
	float lb, la;
	int no_losses;		/* implicit: not computed (over loss-replay) */
	int first, n;		/* its rows */
};

/* amz_query_step as a replay status, with a message. */
static int query_step(const struct model *m, struct implicit *im, const float *state,
		      const float *Q, int n, float *qs, const float *X,
		      const float *y, int B, int D, double rows_seen, char *err,
		      size_t errlen)
{
	int r = amz_query_step(&m->az, im->rp.ws, state, Q, n, qs, X, y, B, D,
			       rows_seen);

	if (r == AM_OK)
		return REPLAY_OK;
	snprintf(err, errlen, "%s", r == AM_ENUMERIC ? "the query states would "
		 "become non-finite" : am_strerror(r));
	return r == AM_ENUMERIC ? REPLAY_NUMERIC : REPLAY_ERROR;
}

/*
 * The batch losses of a JSON request's k steps on an implicit session, by
 * prequential replay: the rows of mini-batch i, as queries, start at the
 * model's initial states, are refined by the stored steps and by the
 * request's mini-batches before i, and are read out before (loss_before)
 * and after (loss_after) mini-batch i refines them.  Exactly what an
 * NDJSON stream does for each step (stream_implicit), so the two forms
 * give the same losses, bit for bit.  Steps past the loss budget
 * (losses_due: a prefix of the request, since rows only grow) keep
 * no_losses.  XM, YM: the request's rows as the model saw them (n x dmax,
 * n); u: the session after the request (its state and scaler).  Returns
 * REPLAY_OK or a replay status with a message.
 */
static int json_losses(struct api *a, const struct model *m,
		       const struct session_view *v, const struct session_update *u,
		       struct implicit *im, const float *XM, const float *YM,
		       struct planned *plan, int k, int D, int64_t *replayed,
		       char *err, size_t errlen)
{
	const struct amz *az = &m->az;
	int dmax = az->dmax, due, i, j, rc = REPLAY_OK;
	double seen;

	for (due = 0; due < k && losses_due(a, m, v->rows + plan[due].first); due++)
		;
	for (i = due; i < k; i++) {
		plan[i].no_losses = 1;
		plan[i].lb = plan[i].la = 0;
	}
	im->rp.sc = u->sc;	/* fitted by the request's first step if need be */
	for (i = 0; i < due && rc == REPLAY_OK; i++) {
		const float *Xi = XM + (size_t)plan[i].first * dmax;
		const float *yi = YM + plan[i].first;
		int Bi = plan[i].n;

		rc = amz_query_init(az, u->state, Bi, im->lqs);
		AM_ASSERT(rc == AM_OK);
		rc = replay_stored(&im->rp, a->store, v->id, v->step, Xi, Bi, im->lqs,
				   &seen, err, errlen);
		if (rc == REPLAY_OK && seen != (double)v->rows) {
			snprintf(err, errlen, "the stored steps hold %.0f rows, the "
				 "session %lld", seen, (long long)v->rows);
			rc = REPLAY_ERROR;
		}
		for (j = 0; j < i && rc == REPLAY_OK; j++)
			rc = query_step(m, im, u->state, Xi, Bi, im->lqs,
					XM + (size_t)plan[j].first * dmax, YM + plan[j].first,
					plan[j].n, D, (double)(v->rows + plan[j].first), err,
					errlen);
		if (rc == REPLAY_OK &&
		    query_loss(m, u->state, im->lqs, yi, Bi, &plan[i].lb, err, errlen))
			rc = REPLAY_NUMERIC;
		if (rc == REPLAY_OK)
			rc = query_step(m, im, u->state, Xi, Bi, im->lqs, Xi, yi, Bi, D,
					(double)(v->rows + plan[i].first), err, errlen);
		if (rc == REPLAY_OK &&
		    query_loss(m, u->state, im->lqs, yi, Bi, &plan[i].la, err, errlen))
			rc = REPLAY_NUMERIC;
	}
	*replayed += im->rp.steps;
	im->rp.steps = 0;
	return rc;
}

void ingest_json(struct api *a, const struct http_request *req,
		 struct http_response *resp)
{
	static const char *const keys[] = { "x", "y", "seq", NULL };
	json_t *body = NULL, *losses = NULL;
	double *x = NULL, *y = NULL;
	float *xf = NULL, *yf = NULL, *XM = NULL, *YM = NULL;
	struct planned *plan = NULL;
	struct store_batch *batches = NULL;
	struct batch_buf bb = { NULL, NULL, NULL, NULL };
	struct implicit im;
	struct session *s = NULL;
	const struct model *m;
	struct session_view v;
	struct session_update u;
	struct input in;
	char err[512];
	int64_t seq, replayed = 0;
	int n, D, Df, k, i, B, rc;

	memset(&im, 0, sizeof im);

	body = api_parse_body(req, resp);
	if (!body)
		return;
	if (api_only_keys(body, keys, "a batch (x, y, seq)", resp) || read_seq(body, &seq, resp))
		goto out;
	if (!json_object_get(body, "x")) {
		reply_problem(resp, REPLY_INVALID, "a batch needs 'x' (rows of inputs) "
			      "and, for a regression or classification model, 'y' (one "
			      "target or class label per row)");
		goto out;
	}
	if (input_read_rows(json_object_get(body, "x"), "x", a->cfg->max_rows,
			    AMZ_NPIX_MAX, &x, &n, &D, resp))
		goto out;

	/* whether rows carry y, and what a row is, depend on the session and
	 * its model: the rest of the body is checked once the session names
	 * them, before anything is computed */
	s = api_session_begin(a, req, 0, resp);
	if (!s)
		goto out;
	sessions_view(s, &v);
	m = api_session_model(a, &v, resp);
	if (!m)
		goto out;
	input_of(m, &v, &in);
	if (read_targets(m, &in, json_object_get(body, "y"), n, &y, resp) ||
	    input_check_rows(m, &v, &in, x, n, D, resp))
		goto out;
	if (m->az.implicit) {
		round_floats(x, (size_t)n * D);
		if (y)
			round_floats(y, (size_t)n);
	}
	xf = malloc((size_t)n * D * sizeof *xf);
	yf = y ? malloc((size_t)n * sizeof *yf) : NULL;
	if (!xf || (y && !yf)) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto out;
	}
	to_floats(xf, x, (size_t)n * D);
	if (y)
		to_floats(yf, y, (size_t)n);
	if (!seq_check(a, &v, seq, resp))
		goto out;
	if (implicit_open(a, m, &v, &in, &im, err, sizeof err)) {
		log_msg(LOG_ERROR, "session %s: %s", v.id, err);
		reply_problem(resp, REPLY_INTERNAL, "reading the session's query set "
			      "failed");
		goto out;
	}

	/* compute every step before committing any */
	B = m->az.bmax;
	k = (n + B - 1) / B;
	Df = in.pixels ? in.D : D;
	plan = calloc((size_t)k, sizeof *plan);
	batches = calloc((size_t)k, sizeof *batches);
	if (im.on) {
		/* the rows as the model saw them, for the losses and the set */
		XM = malloc((size_t)n * m->az.dmax * sizeof *XM);
		YM = malloc((size_t)n * sizeof *YM);
	}
	if (!plan || !batches || batch_buf_init(&bb, m) || (im.on && (!XM || !YM))) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto out;
	}
	update_from_view(&u, &v);
	for (i = 0; i < k; i++) {
		int first = i * B, rows = n - first < B ? n - first : B;

		if (step_batch(m, &in, &bb, &u, x + (size_t)first * D, y ? y + first : NULL,
			       rows, D, first, "row", &plan[i].lb, &plan[i].la, err,
			       sizeof err)) {
			reply_problem(resp, REPLY_INVALID, "mini-batch %d (rows %d to %d): %s; "
				      "nothing was applied", i + 1, first, first + rows - 1, err);
			goto out;
		}
		if (seq >= 0)
			u.next_seq = seq + 1;
		plan[i].step = u.step;
		plan[i].first = first;
		plan[i].n = rows;
		if (im.on) {
			memcpy(XM + (size_t)first * m->az.dmax, bb.X,
			       (size_t)rows * m->az.dmax * sizeof *XM);
			memcpy(YM + first, bb.y, (size_t)rows * sizeof *YM);
		}
	}

	/* an implicit session: its losses by replay, its query set refined
	 * by each step in turn; nothing is stored unless all of it works */
	if (im.on) {
		rc = json_losses(a, m, &v, &u, &im, XM, YM, plan, k, Df, &replayed, err,
				 sizeof err);
		metrics_add_replay(a->metrics, replayed);
		if (rc == REPLAY_NUMERIC) {
			reply_problem(resp, REPLY_INVALID, "the batch losses: %s; nothing "
				      "was applied", err);
			goto out;
		}
		if (rc != REPLAY_OK) {
			log_msg(LOG_ERROR, "session %s: batch losses: %s", v.id, err);
			reply_problem(resp, REPLY_INTERNAL, "replaying the session's "
				      "history for the batch losses failed; nothing was "
				      "applied");
			goto out;
		}
		for (i = 0; i < k; i++) {
			if (implicit_refine(m, &im, u.state, XM + (size_t)plan[i].first *
					    m->az.dmax, YM + plan[i].first, plan[i].n, Df,
					    (double)(v.rows + plan[i].first), err, sizeof err)) {
				reply_problem(resp, REPLY_INVALID, "mini-batch %d (rows %d to "
					      "%d): %s; nothing was applied", i + 1,
					      plan[i].first, plan[i].first + plan[i].n - 1, err);
				goto out;
			}
		}
	}

	/* one transaction for all k steps: the request is stored entirely or
	 * not at all, even if the process dies in the middle */
	for (i = 0; i < k; i++) {
		struct store_batch *b = &batches[i];

		b->step = plan[i].step;
		b->seq = seq;
		b->rows = plan[i].n;
		b->dim = D;
		b->x = xf + (size_t)plan[i].first * D;
		b->y = yf ? yf + plan[i].first : NULL;
		b->loss_before = plan[i].lb;
		b->loss_after = plan[i].la;
		b->no_losses = plan[i].no_losses;
		b->time = sessions_now();
	}
	if (sessions_commit_steps_q(a->sessions, s, &u, batches, k,
				    implicit_commit_q(&im, u.step), err, sizeof err)) {
		log_msg(LOG_ERROR, "session %s: committing steps %lld to %lld: %s", v.id,
			(long long)v.step + 1, (long long)u.step, err);
		reply_problem_ext(resp, REPLY_INTERNAL,
				  json_pack("{s:i, s:I}", "steps_applied", 0,
					    "step", (json_int_t)v.step),
				  "committing the %d steps failed; nothing was applied", k);
		goto out;
	}
	metrics_add_steps(a->metrics, k, n);
	losses = json_array();
	for (i = 0; i < k && losses; i++)
		json_array_append_new(losses, loss_json(plan[i].lb, plan[i].la,
							plan[i].no_losses));
	reply_json(resp, 200, result_json(&u, k, losses));
	losses = NULL;
out:
	json_decref(losses);
	implicit_close(&im);
	free(YM);
	free(XM);
	batch_buf_free(&bb);
	free(batches);
	free(plan);
	if (s) {
		sessions_end(s);
		sessions_put(a->sessions, s);
	}
	free(yf);
	free(xf);
	free(y);
	free(x);
	json_decref(body);
}

/* ---- the NDJSON form --------------------------------------------------- */

struct ingest_stream {
	struct api *a;
	struct session *s;
	const struct model *m;
	struct batch_buf bb;
	struct session_view v0;		/* the session when the stream opened */
	struct session_update u;	/* after the last step computed */
	struct session_update uc;	/* as committed so far */
	struct input in;		/* what its rows are */
	int64_t seq;
	int B, D;			/* D: 0 until the first row */
	int W;				/* values a row may have (in.width) */
	double *x, *y;			/* the pending mini-batch: B x D, B */
	int n;
	/* steps computed but not committed yet, with their raw rows as
	 * floats for the store (slot i: B x W and B floats) */
	struct store_batch pend[INGEST_GROUP];
	int npend;
	float *xf, *yf;
	long long first_line;		/* line of the pending batch's first row */
	char *line;			/* the partial line */
	size_t len;
	long long lineno;		/* lines started so far */
	int64_t steps;			/* committed */
	float lb[INGEST_LOSSES_MAX], la[INGEST_LOSSES_MAX];
	unsigned char nl[INGEST_LOSSES_MAX];	/* losses not computed */
	struct implicit im;		/* an implicit session's query set and
					 * loss replays */
	int64_t replayed;		/* batches replayed for losses */
	/* the refusal, once a line is bad */
	int failed;
	enum reply_kind kind;
	char detail[640];
	long long bad_line;
};

/* Records the refusal at the current line (the first one wins). */
static int refuse(struct ingest_stream *c, enum reply_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct ingest_stream *c, enum reply_kind k, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return -1;
	c->failed = 1;
	c->kind = k;
	c->bad_line = c->lineno;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Commits the steps computed so far in one transaction.  Returns 0 or -1
 * (refused).  A failed commit replaces an earlier refusal (a bad line):
 * what the client must learn then is that these steps were not stored.
 */
static int stream_commit(struct ingest_stream *c)
{
	char err[512];
	int i, n = c->npend;
	int64_t rows = 0;

	if (n == 0)
		return 0;
	c->npend = 0;
	if (sessions_commit_steps_q(c->a->sessions, c->s, &c->u, c->pend, n,
				    implicit_commit_q(&c->im, c->u.step), err,
				    sizeof err)) {
		log_msg(LOG_ERROR, "session %s: committing steps %lld to %lld: %s",
			c->v0.id, (long long)c->pend[0].step,
			(long long)c->pend[n - 1].step, err);
		c->u = c->uc;
		c->failed = 0;
		return refuse(c, REPLY_INTERNAL, "committing steps %lld to %lld failed",
			      (long long)c->pend[0].step, (long long)c->pend[n - 1].step);
	}
	for (i = 0; i < n; i++)
		rows += c->pend[i].rows;
	metrics_add_steps(c->a->metrics, n, rows);
	c->steps += n;
	c->uc = c->u;
	return 0;
}

/*
 * An implicit session's part of the step of the pending mini-batch, as
 * mapped in c->bb (t: the session after it): its batch losses by
 * prequential replay (the batch's rows refined by the committed steps,
 * read back from the store, then by the steps still queued, then read out
 * before and after this batch), while losses_due; then the query set
 * refined by it.  Returns REPLAY_OK with *lb, *la and *nl (1: not
 * computed), or a replay status with a message.
 */
static int stream_implicit(struct ingest_stream *c, const struct session_update *t,
			   float *lb, float *la, int *nl, char *err, size_t errlen)
{
	const struct amz *az = &c->m->az;
	struct implicit *im = &c->im;
	int64_t before = c->u.rows;
	int D = c->in.pixels ? c->in.D : c->D, rc = REPLAY_OK, r, i;
	double seen = 0;

	*lb = *la = 0;
	*nl = 1;
	if (losses_due(c->a, c->m, before)) {
		r = amz_query_init(az, t->state, c->n, im->lqs);
		AM_ASSERT(r == AM_OK);
		im->rp.sc = t->sc;
		rc = replay_stored(&im->rp, c->a->store, c->v0.id, c->uc.step, c->bb.X, c->n,
				   im->lqs, &seen, err, errlen);
		for (i = 0; i < c->npend && rc == REPLAY_OK; i++) {
			const struct store_batch *b = &c->pend[i];

			rc = replay_map(&im->rp, b->x, b->y, b->rows, b->dim, err, errlen);
			if (rc == REPLAY_OK)
				rc = replay_step(&im->rp, c->bb.X, c->n, im->lqs, seen, err,
						 errlen);
			seen += b->rows;
		}
		if (rc == REPLAY_OK && seen != (double)before) {
			snprintf(err, errlen, "the steps before this one hold %.0f rows, "
				 "the session %lld", seen, (long long)before);
			rc = REPLAY_ERROR;
		}
		if (rc == REPLAY_OK &&
		    query_loss(c->m, t->state, im->lqs, c->bb.y, c->n, lb, err, errlen))
			rc = REPLAY_NUMERIC;
		if (rc == REPLAY_OK)
			rc = query_step(c->m, im, t->state, c->bb.X, c->n, im->lqs, c->bb.X,
					c->bb.y, c->n, D, (double)before, err, errlen);
		if (rc == REPLAY_OK &&
		    query_loss(c->m, t->state, im->lqs, c->bb.y, c->n, la, err, errlen))
			rc = REPLAY_NUMERIC;
		*nl = 0;
	}
	c->replayed += im->rp.steps;
	im->rp.steps = 0;
	if (rc == REPLAY_OK && implicit_refine(c->m, im, t->state, c->bb.X, c->bb.y,
					       c->n, D, (double)before, err, errlen))
		rc = REPLAY_NUMERIC;
	return rc;
}

/*
 * Takes the refinement step of the pending mini-batch and queues it for
 * the store; commits the queue when it holds INGEST_GROUP steps or its
 * first step is INGEST_GROUP_SECONDS old.  Returns 0 or -1 (refused).
 */
static int stream_apply(struct ingest_stream *c)
{
	struct session_update t = c->u;
	struct store_batch *b;
	char err[512];
	float lb, la, *xf, *yf;
	int64_t k;
	int nl = 0, rc;

	if (c->n == 0)
		return 0;
	if (c->im.on) {
		round_floats(c->x, (size_t)c->n * c->D);
		round_floats(c->y, (size_t)c->n);
	}
	if (step_batch(c->m, &c->in, &c->bb, &t, c->x, c->m->az.has_y ? c->y : NULL, c->n,
		       c->D, c->first_line, "the row from line", &lb, &la, err,
		       sizeof err))
		return refuse(c, REPLY_INVALID, "the mini-batch of lines %lld to %lld: %s",
			      c->first_line, c->lineno, err);
	if (c->im.on) {
		rc = stream_implicit(c, &t, &lb, &la, &nl, err, sizeof err);
		if (rc == REPLAY_NUMERIC)
			return refuse(c, REPLY_INVALID, "the mini-batch of lines %lld to "
				      "%lld: %s", c->first_line, c->lineno, err);
		if (rc != REPLAY_OK) {
			log_msg(LOG_ERROR, "session %s: the step of lines %lld to %lld: %s",
				c->v0.id, c->first_line, c->lineno, err);
			return refuse(c, REPLY_INTERNAL, "the mini-batch of lines %lld to "
				      "%lld: replaying the session's history failed",
				      c->first_line, c->lineno);
		}
	}
	if (c->seq >= 0)
		t.next_seq = c->seq + 1;
	xf = c->xf + (size_t)c->npend * c->B * c->W;
	yf = c->m->az.has_y ? c->yf + (size_t)c->npend * c->B : NULL;
	to_floats(xf, c->x, (size_t)c->n * c->D);
	if (yf)
		to_floats(yf, c->y, (size_t)c->n);
	b = &c->pend[c->npend++];
	b->step = t.step;
	b->seq = c->seq;
	b->rows = c->n;
	b->dim = c->D;
	b->x = xf;
	b->y = yf;
	b->loss_before = lb;
	b->loss_after = la;
	b->no_losses = nl;
	b->time = sessions_now();
	k = c->steps + c->npend - 1;
	c->lb[k % INGEST_LOSSES_MAX] = lb;
	c->la[k % INGEST_LOSSES_MAX] = la;
	c->nl[k % INGEST_LOSSES_MAX] = (unsigned char)nl;
	c->u = t;
	c->n = 0;
	if (c->npend == INGEST_GROUP || b->time - c->pend[0].time >= INGEST_GROUP_SECONDS)
		return stream_commit(c);
	return 0;
}

/* Handles one complete line (without its newline). */
static int stream_line(struct ingest_stream *c, const char *p, size_t len)
{
	static const char *const keys[] = { "x", "y", NULL };
	struct http_response tmp;
	json_error_t e;
	json_t *row = NULL, *xj, *yj;
	size_t i, d;
	int rc = -1, r;

	c->lineno++;
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	for (i = 0; i < len && isspace((unsigned char)p[i]); i++)
		;
	if (i == len)
		return 0;		/* a blank line */
	row = json_loadb(p, len, JSON_REJECT_DUPLICATES, &e);
	if (!row) {
		if (json_error_code(&e) == json_error_numeric_overflow)
			return refuse(c, REPLY_INVALID, "line %lld: a number is out of "
				      "range: %s", c->lineno, e.text);
		return refuse(c, REPLY_MALFORMED, "line %lld is not valid JSON (column "
			      "%d): %s", c->lineno, e.column, e.text);
	}
	if (!json_is_object(row)) {
		refuse(c, REPLY_INVALID, "line %lld: a row must be a JSON object "
		       "{\"x\": [..]%s}", c->lineno, c->m->az.has_labels ? ", \"y\": label"
		       : c->m->az.has_y ? ", \"y\": number" : "");
		goto out;
	}
	memset(&tmp, 0, sizeof tmp);
	if (api_only_keys(row, keys, "a row (x, y)", &tmp)) {
		http_response_clear(&tmp);
		refuse(c, REPLY_INVALID, "line %lld: a row has only the members x and y",
		       c->lineno);
		goto out;
	}
	xj = json_object_get(row, "x");
	yj = json_object_get(row, "y");
	if (!json_is_array(xj)) {
		refuse(c, REPLY_INVALID, "line %lld: 'x' must be an array of numbers",
		       c->lineno);
		goto out;
	}
	d = json_array_size(xj);
	if (c->in.pixels && d != (size_t)c->W) {
		refuse(c, REPLY_INVALID, "line %lld: 'x' has %zu values; session %s takes "
		       "rows of the %d pixels of model '%s' (its input is \"pixels\")",
		       c->lineno, d, c->v0.id, c->W, c->m->name);
		goto out;
	}
	if (d < 1 || d > (size_t)c->W) {
		refuse(c, REPLY_INVALID, "line %lld: 'x' has %zu values; a row has 1 to "
		       "%d inputs", c->lineno, d, c->W);
		goto out;
	}
	if (c->D == 0)
		c->D = c->v0.dim ? c->v0.dim : (int)d;
	if (d != (size_t)c->D) {
		refuse(c, REPLY_INVALID, "line %lld: 'x' has %zu values but the %s is %d",
		       c->lineno, d, c->v0.dim ? "session's dimension" : "stream's "
		       "dimension (from its first row)", c->D);
		goto out;
	}
	if (c->n == 0)
		c->first_line = c->lineno;
	for (i = 0; i < d; i++) {
		r = input_value_ok(json_array_get(xj, i), &c->x[(size_t)c->n * c->D + i]);
		if (r) {
			refuse(c, REPLY_INVALID, "line %lld: x[%zu] is %s", c->lineno, i,
			       r == -1 ? "not a number" : "not finite or beyond single precision");
			goto out;
		}
		if (c->in.pixels && !input_pixel_ok(c->x[(size_t)c->n * c->D + i])) {
			refuse(c, REPLY_INVALID, "line %lld: x[%zu] = %g is not a pixel value "
			       "(0 to 255)", c->lineno, i, c->x[(size_t)c->n * c->D + i]);
			goto out;
		}
	}
	if (!c->m->az.has_y) {
		if (yj) {
			refuse(c, REPLY_INVALID, "line %lld: model '%s' (family %s) takes "
			       "rows without targets: a row is {\"x\": [..]} only; drop "
			       "'y'", c->lineno, c->m->name, amz_name(&c->m->az));
			goto out;
		}
	} else {
		r = yj ? input_value_ok(yj, &c->y[c->n]) : -1;
		if (r) {
			refuse(c, REPLY_INVALID, "line %lld: 'y' %s", c->lineno, !yj
			       ? "is missing" : r == -1 ? "is not a number"
			       : "is not finite or beyond single precision");
			goto out;
		}
		if (c->m->az.has_labels && !input_label_ok(&c->in, c->y[c->n])) {
			refuse(c, REPLY_INVALID, "line %lld: 'y' = %g is not a class label: "
			       "labels are integers from 0 to %d (the session has %d "
			       "classes)", c->lineno, c->y[c->n], c->in.K - 1, c->in.K);
			goto out;
		}
	}
	c->n++;
	rc = c->n == c->B ? stream_apply(c) : 0;
out:
	json_decref(row);
	return rc;
}

/* Parses ?seq=; returns 0 (seq -1 when absent) or -1 with resp filled. */
static int query_seq(const struct http_request *req, int64_t *seq,
		     struct http_response *resp)
{
	const char *q = req->query ? req->query(req, "seq") : NULL;
	char *end;
	long long v;

	*seq = -1;
	if (!q)
		return 0;
	if (!isdigit((unsigned char)*q) || strlen(q) > 18) {
		reply_problem(resp, REPLY_MALFORMED, "?seq must be a non-negative integer");
		return -1;
	}
	v = strtoll(q, &end, 10);
	if (*end) {
		reply_problem(resp, REPLY_MALFORMED, "?seq must be a non-negative integer");
		return -1;
	}
	*seq = v;
	return 0;
}

void *ingest_stream_open(void *app, const struct http_request *req,
			 struct http_response *resp)
{
	struct api *a = app;
	struct http_request r = *req;
	struct ingest_stream *c = NULL;
	struct session *s = NULL;
	const struct model *m;
	struct session_view v;
	char err[512];
	int64_t seq;

	if (!router_path_matches("/v1/sessions/{id}/batches", req->path, &r)) {
		reply_problem(resp, REPLY_NOT_FOUND, "no such route");
		return NULL;
	}
	if (query_seq(req, &seq, resp))
		return NULL;
	s = api_session_begin(a, &r, 1, resp);
	if (!s)
		return NULL;
	sessions_view(s, &v);
	m = api_session_model(a, &v, resp);
	if (!m || !seq_check(a, &v, seq, resp))
		goto fail;
	c = calloc(1, sizeof *c);
	if (!c) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto fail;
	}
	c->a = a;
	c->s = s;
	c->m = m;
	c->v0 = v;
	c->seq = seq;
	c->B = m->az.bmax;
	input_of(m, &v, &c->in);
	c->W = c->in.width;
	update_from_view(&c->u, &v);
	c->uc = c->u;
	c->x = malloc((size_t)c->B * c->W * sizeof *c->x);
	c->y = malloc((size_t)c->B * sizeof *c->y);
	c->xf = malloc((size_t)INGEST_GROUP * c->B * c->W * sizeof *c->xf);
	c->yf = malloc((size_t)INGEST_GROUP * c->B * sizeof *c->yf);
	c->line = malloc(INGEST_LINE_MAX);
	if (!c->x || !c->y || !c->xf || !c->yf || !c->line || batch_buf_init(&c->bb, m)) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		goto fail;
	}
	if (implicit_open(a, m, &c->v0, &c->in, &c->im, err, sizeof err)) {
		log_msg(LOG_ERROR, "session %s: %s", v.id, err);
		reply_problem(resp, REPLY_INTERNAL, "reading the session's query set "
			      "failed");
		goto fail;
	}
	return c;
fail:
	if (c) {
		implicit_close(&c->im);
		batch_buf_free(&c->bb);
		free(c->line);
		free(c->yf);
		free(c->xf);
		free(c->y);
		free(c->x);
		free(c);
	}
	sessions_end(s);
	sessions_put(a->sessions, s);
	return NULL;
}

int ingest_stream_feed(void *ctx, const char *data, size_t len)
{
	struct ingest_stream *c = ctx;

	while (len > 0 && !c->failed) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (c->len + take > INGEST_LINE_MAX) {
			c->lineno++;
			return refuse(c, REPLY_TOO_LARGE, "line %lld is longer than %d bytes",
				      c->lineno, INGEST_LINE_MAX);
		}
		if (!nl) {
			memcpy(c->line + c->len, data, take);
			c->len += take;
			break;
		}
		if (c->len == 0) {
			/* the whole line is in this chunk: no copy */
			stream_line(c, data, take);
		} else {
			memcpy(c->line + c->len, data, take);
			stream_line(c, c->line, c->len + take);
			c->len = 0;
		}
		data += take + 1;
		len -= take + 1;
	}
	return c->failed ? -1 : 0;
}

void ingest_stream_close(void *ctx, struct http_response *resp)
{
	struct ingest_stream *c = ctx;
	struct api *a;
	json_t *losses, *ext;
	int64_t i, from;

	if (!c)
		return;
	a = c->a;
	/* the last line may come without its newline */
	if (!c->failed && c->len > 0) {
		stream_line(c, c->line, c->len);
		c->len = 0;
	}
	if (!c->failed && c->n > 0)
		stream_apply(c);
	/* the steps before a refusal stand: commit what is queued */
	stream_commit(c);
	if (!c->failed && c->steps == 0)
		refuse(c, REPLY_INVALID, "the stream holds no rows");
	if (c->failed) {
		ext = json_pack("{s:I, s:I, s:I, s:I}", "steps_applied", (json_int_t)c->steps,
				"step", (json_int_t)c->uc.step, "rows", (json_int_t)c->uc.rows,
				"line", (json_int_t)c->bad_line);
		reply_problem_ext(resp, c->kind, ext, "%s%s", c->detail, c->steps
				  ? "; the steps before it were applied, the rest was refused"
				  : "; nothing was applied");
	} else {
		losses = json_array();
		from = c->steps > INGEST_LOSSES_MAX ? c->steps - INGEST_LOSSES_MAX : 0;
		for (i = from; i < c->steps && losses; i++)
			json_array_append_new(losses, loss_json(
				c->lb[i % INGEST_LOSSES_MAX], c->la[i % INGEST_LOSSES_MAX],
				c->nl[i % INGEST_LOSSES_MAX]));
		ext = result_json(&c->uc, c->steps, losses);
		if (ext && from > 0)
			json_object_set_new(ext, "losses_from_step",
					    json_integer(c->uc.step - (c->steps - from) + 1));
		reply_json(resp, 200, ext);
	}
	metrics_add_replay(a->metrics, c->replayed);
	sessions_end(c->s);
	sessions_put(a->sessions, c->s);
	implicit_close(&c->im);
	batch_buf_free(&c->bb);
	free(c->line);
	free(c->yf);
	free(c->xf);
	free(c->y);
	free(c->x);
	free(c);
}
