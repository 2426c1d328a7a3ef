/*
 * input.c - a session's rows: features or pixels, and labels; reading a
 * request's rows and checking them against the session.
 */
#include "input.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "model/model.h"
#include "reply.h"
#include "sessions.h"

int input_standardize_default(const struct model *m)
{
	/* model_load fills az.standardize for setref models (generative and
	 * classification) only; regression sessions have always
	 * standardized by default */
	return m->gen ? m->az.standardize : 1;
}

/* Whether the options text of a session says "input": "pixels". */
static int options_pixels(const char *options)
{
	json_t *o = json_loads(options, 0, NULL);
	const char *s = json_string_value(json_object_get(o, "input"));
	int on = s && !strcmp(s, "pixels");

	json_decref(o);
	return on;
}

void input_of(const struct model *m, const struct session_view *v,
	      struct input *in)
{
	const struct pca *pc = m->az.pca;

	memset(in, 0, sizeof *in);
	in->pixels = m->az.npix > 0 && pc && options_pixels(v->options);
	in->width = in->pixels ? m->az.npix : m->az.dmax;
	in->D = in->pixels ? pc->k : 0;
	in->K = amz_classes(&m->az, v->state);
}

int input_pixel_ok(double v)
{
	return v >= 0 && v <= 255;
}

int input_label_ok(const struct input *in, double y)
{
	return y >= 0 && y < in->K && y == floor(y);
}

void input_project(const struct model *m, const struct input *in,
		   const double *pix, double *out)
{
	float row[AMZ_NPIX_MAX], f[AMZ_DMAX];
	int j, rc;

	AM_ASSERT(in->pixels && m->az.npix <= AMZ_NPIX_MAX && m->az.dmax <= AMZ_DMAX);
	for (j = 0; j < m->az.npix; j++)
		row[j] = (float)pix[j];
	rc = amz_project(&m->az, row, 1, f);
	AM_ASSERT(rc == AM_OK);
	for (j = 0; j < in->D; j++)
		out[j] = f[j];
}

int input_value_ok(const json_t *v, double *out)
{
	double d;

	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (!(fabs(d) <= FLT_MAX))
		return -2;
	*out = d;
	return 0;
}

int input_read_rows(json_t *x, const char *name, int max_rows, int max_width,
		    double **out, int *n, int *D, struct http_response *resp)
{
	size_t rows, i, j, d;
	double *v;

	if (!json_is_array(x)) {
		reply_problem(resp, REPLY_INVALID, "'%s' must be an array of rows "
			      "(arrays of numbers)", name);
		return -1;
	}
	rows = json_array_size(x);
	if (rows == 0) {
		reply_problem(resp, REPLY_INVALID, "'%s' has no rows", name);
		return -1;
	}
	if (rows > (size_t)max_rows) {
		reply_problem(resp, REPLY_INVALID, "'%s' has %zu rows; at most %d are "
			      "taken per request (send larger sets as an NDJSON stream "
			      "or in several requests)", name, rows, max_rows);
		return -1;
	}
	if (!json_is_array(json_array_get(x, 0))) {
		reply_problem(resp, REPLY_INVALID, "%s[0] must be an array of numbers", name);
		return -1;
	}
	d = json_array_size(json_array_get(x, 0));
	if (d < 1 || d > (size_t)max_width) {
		reply_problem(resp, REPLY_INVALID, "%s[0] has %zu values; a row has 1 to "
			      "%d inputs", name, d, max_width);
		return -1;
	}
	v = malloc(rows * d * sizeof *v);
	if (!v) {
		reply_problem(resp, REPLY_INTERNAL, "out of memory");
		return -1;
	}
	for (i = 0; i < rows; i++) {
		json_t *row = json_array_get(x, i);

		if (!json_is_array(row)) {
			reply_problem(resp, REPLY_INVALID, "%s[%zu] must be an array of "
				      "numbers", name, i);
			goto fail;
		}
		if (json_array_size(row) != d) {
			reply_problem(resp, REPLY_INVALID, "%s[%zu] has %zu values but %s[0] "
				      "has %zu: every row has the same dimension", name, i,
				      json_array_size(row), name, d);
			goto fail;
		}
		for (j = 0; j < d; j++) {
			int r = input_value_ok(json_array_get(row, j), &v[i * d + j]);

			if (r == -1) {
				reply_problem(resp, REPLY_INVALID, "%s[%zu][%zu] is not a "
					      "number", name, i, j);
				goto fail;
			}
			if (r == -2) {
				reply_problem(resp, REPLY_INVALID, "%s[%zu][%zu] is not finite "
					      "or beyond single precision", name, i, j);
				goto fail;
			}
		}
	}
	*out = v;
	*n = (int)rows;
	*D = (int)d;
	return 0;
fail:
	free(v);
	return -1;
}

int input_check_rows(const struct model *m, const struct session_view *v,
		     const struct input *in, const double *x, int n, int D,
		     struct http_response *resp)
{
	int i, j;

	if (in->pixels) {
		if (D != in->width) {
			reply_problem(resp, REPLY_INVALID, "the rows have %d values; session "
				      "%s takes rows of the %d pixels of model '%s' (its "
				      "input is \"pixels\")", D, v->id, in->width, m->name);
			return -1;
		}
		for (i = 0; i < n; i++) {
			for (j = 0; j < D; j++) {
				if (!input_pixel_ok(x[(size_t)i * D + j])) {
					reply_problem(resp, REPLY_INVALID, "x[%d][%d] = %g is not "
						      "a pixel value (0 to 255)", i, j,
						      x[(size_t)i * D + j]);
					return -1;
				}
			}
		}
		return 0;
	}
	if (D > m->az.dmax) {
		reply_problem(resp, REPLY_INVALID, "the rows have %d values; model '%s' "
			      "takes rows of 1 to %d", D, m->name, m->az.dmax);
		return -1;
	}
	if (v->dim && v->dim != D) {
		reply_problem(resp, REPLY_INVALID, "the rows have %d inputs but the "
			      "session's dimension is %d", D, v->dim);
		return -1;
	}
	return 0;
}
