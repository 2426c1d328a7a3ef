/*
 * input.c - a session's rows: features or pixels, and labels.
 */
#include "input.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "model/model.h"
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
