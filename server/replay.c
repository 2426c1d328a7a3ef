/*
 * replay.c - query states refined by a session's batches (replay.h).
 */
#include "replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "model/model.h"
#include "store.h"

int replay_init(struct replay *r, const struct model *m, const struct input *in,
		const struct scaler *sc, const float *state)
{
	memset(r, 0, sizeof *r);
	r->m = m;
	r->in = *in;
	r->sc = *sc;
	r->state = state;
	r->ws = amz_ws_new(&m->az);
	r->X = malloc((size_t)m->az.bmax * m->az.dmax * sizeof *r->X);
	r->y = malloc((size_t)m->az.bmax * sizeof *r->y);
	if (in->pixels)
		r->pix = malloc((size_t)in->width * sizeof *r->pix);
	if (!r->ws || !r->X || !r->y || (in->pixels && !r->pix))
		return -1;
	return 0;
}

void replay_free(struct replay *r)
{
	free(r->pix);
	free(r->y);
	free(r->X);
	amz_ws_free(r->ws);
	r->pix = NULL;
	r->y = NULL;
	r->X = NULL;
	r->ws = NULL;
}

/*
 * As ingest's step_batch: pixels are projected (input_project takes the
 * row in doubles and rounds it to floats itself), then every active
 * column goes through the session's scaler; targets through its y column,
 * labels as they are (amz_query_step checks them against K).
 */
int replay_map(struct replay *r, const float *x, const float *y, int rows,
	       int dim, char *err, size_t errlen)
{
	const struct amz *az = &r->m->az;
	double f[AMZ_DMAX];
	int D, i, j;

	if (rows < 1 || rows > az->bmax || !x || !y ||
	    (r->in.pixels ? dim != r->in.width : dim < 1 || dim > az->dmax)) {
		snprintf(err, errlen, "a stored batch of %d rows of %d values%s does "
			 "not fit the session", rows, dim, y ? "" : " without targets");
		return REPLAY_ERROR;
	}
	D = r->in.pixels ? r->in.D : dim;
	memset(r->X, 0, (size_t)rows * az->dmax * sizeof *r->X);
	for (i = 0; i < rows; i++) {
		const float *row = x + (size_t)i * dim;

		if (r->in.pixels) {
			for (j = 0; j < dim; j++)
				r->pix[j] = row[j];
			input_project(r->m, &r->in, r->pix, f);
		} else {
			for (j = 0; j < D; j++)
				f[j] = row[j];
		}
		for (j = 0; j < D; j++) {
			if (scaler_map(&r->sc, j, f[j], &r->X[(size_t)i * az->dmax + j])) {
				snprintf(err, errlen, "a stored row is beyond single "
					 "precision after standardization");
				return REPLAY_ERROR;
			}
		}
		if (az->has_labels) {
			r->y[i] = y[i];
		} else if (scaler_map(&r->sc, SCALER_Y, y[i], &r->y[i])) {
			snprintf(err, errlen, "a stored target is beyond single "
				 "precision after standardization");
			return REPLAY_ERROR;
		}
	}
	r->B = rows;
	r->D = D;
	return REPLAY_OK;
}

int replay_step(struct replay *r, const float *Q, int n, float *qs,
		double rows_seen, char *err, size_t errlen)
{
	int rc = amz_query_step(&r->m->az, r->ws, r->state, Q, n, qs, r->X, r->y,
				r->B, r->D, rows_seen);

	if (rc == AM_OK) {
		r->steps++;
		return REPLAY_OK;
	}
	snprintf(err, errlen, "%s", rc == AM_ENUMERIC
		 ? "the query states would become non-finite"
		 : am_strerror(rc));
	return rc == AM_ENUMERIC ? REPLAY_NUMERIC : REPLAY_ERROR;
}

/*
 * One SELECT per step (store_batch_rows), so memory holds one batch
 * whatever the history's length.  The steps read are committed and never
 * change, so a replay needs no lock on the session: a step committed
 * meanwhile is simply past upto.
 */
int replay_stored(struct replay *r, struct store *st, const char *id,
		  int64_t upto, const float *Q, int n, float *qs,
		  double *rows_seen, char *err, size_t errlen)
{
	char msg[256];
	double seen = 0;
	int64_t k;
	int status = REPLAY_OK, rc, rows, dim;

	for (k = 1; k <= upto && status == REPLAY_OK; k++) {
		float *x = NULL, *y = NULL;

		rc = store_batch_rows(st, id, k, &x, &y, &rows, &dim, msg, sizeof msg);
		if (rc != STORE_OK) {
			snprintf(err, errlen, "step %" PRId64 ": %s", k, msg);
			return rc == STORE_NOTFOUND ? REPLAY_NOTFOUND : REPLAY_ERROR;
		}
		status = replay_map(r, x, y, rows, dim, msg, sizeof msg);
		if (status == REPLAY_OK)
			status = replay_step(r, Q, n, qs, seen, msg, sizeof msg);
		if (status != REPLAY_OK)
			snprintf(err, errlen, "step %" PRId64 ": %s", k, msg);
		seen += rows;
		free(y);
		free(x);
	}
	if (status == REPLAY_OK && rows_seen)
		*rows_seen = seen;
	return status;
}
