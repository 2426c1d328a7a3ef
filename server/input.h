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
 * A request's rows (predict, batches, query sets) are read with
 * input_read_rows and checked against their session with
 * input_check_rows; these fill a problem into the response when they
 * refuse (reply.h).
 *
 * Plain functions on borrowed arguments, thread-safe; only
 * input_read_rows allocates (the rows it returns).
 */
#ifndef INPUT_H
#define INPUT_H

struct http_response;
struct json_t;
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

/*
 * Whether v is a value a request may carry: a JSON number, finite and
 * within single precision (the refiner computes in floats, and raw rows
 * are stored as floats).  Returns 0 with *out, -1 when v is not a number,
 * -2 when it is not finite or beyond single precision.
 */
int input_value_ok(const struct json_t *v, double *out);

/*
 * Reads a matrix of rows x (a JSON array of arrays of numbers, borrowed)
 * for a request: 1..max_rows rows of the same length D in 1..max_width
 * (the caller checks D against its session with input_check_rows),
 * every value finite and within single precision.  On success returns 0
 * with *out (n * D doubles, row-major; new, caller frees), *n and *D.
 * Otherwise fills resp (422, or 500 when out of memory) and returns -1.
 * name is how the member is called in messages ("x").
 */
int input_read_rows(struct json_t *x, const char *name, int max_rows,
		    int max_width, double **out, int *n, int *D,
		    struct http_response *resp);

/*
 * Checks n rows of D values x (as input_read_rows read them) against
 * session v of model m, whose input is in (input_of): pixel rows have
 * exactly npix values in [0, 255]; feature rows at most the model's dmax
 * values and the session's dimension once it is fixed.  Returns 0, or -1
 * with resp filled (422).
 */
int input_check_rows(const struct model *m, const struct session_view *v,
		     const struct input *in, const double *x, int n, int D,
		     struct http_response *resp);

#endif
