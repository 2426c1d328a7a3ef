/*
 * input.h - what a session's rows are, from its model and its options:
 * feature rows or an image model's pixel rows, and, for a classification
 * session, the labels they carry.
 *
 * Every session takes feature rows of 1 to az.dmax values (zero-padded),
 * except one on an image model (az.npix > 0) created with "input":
 * "pixels": its rows are exactly npix raw pixels, each finite in [0, 255],
 * projected to the model's PCA features (amz_project) before anything
 * else, standardization included.  Such a session's dim is npix (what a
 * row has); the model sees the PCA's k features.  A stored batch keeps
 * the rows as they were sent.
 *
 * A classification session's rows carry a label: an integer 0..K-1, K the
 * session's classes (amz_classes of its state).  A label may be written
 * as a JSON integer or as a number with an integral value (2 or 2.0:
 * clients that keep labels in floating point send the latter).  Labels are
 * never standardized.
 *
 * Plain functions on borrowed arguments: nothing allocated, thread-safe.
 */
#ifndef INPUT_H
#define INPUT_H

struct model;
struct session_view;

struct input {
	int pixels;	/* rows are npix pixels, projected; else features */
	int width;	/* values a row has: exactly npix, or at most dmax */
	int D;		/* pixels: the features a projected row has (k) */
	int K;		/* classification: the session's classes; else 0 */
};

/* Whether a new session of m standardizes when its options do not say:
 * the model's default (az.standardize; off for image models). */
int input_standardize_default(const struct model *m);

/* The input of session v, whose model m is (api_session_model checked
 * that): pixels when its options say "input": "pixels" and m has pixels. */
void input_of(const struct model *m, const struct session_view *v,
	      struct input *in);

/* Whether v is a pixel value: finite, in [0, 255]. */
int input_pixel_ok(double v);

/* Whether y is a label of a session of K classes: an integral value in
 * [0, K). */
int input_label_ok(const struct input *in, double y);

/* Projects one row of npix pixels (checked with input_pixel_ok) to its
 * in->D features, out (in->D doubles). */
void input_project(const struct model *m, const struct input *in,
		   const double *pix, double *out);

#endif
