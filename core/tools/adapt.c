/*
 * adapt.c - `amort adapt`: adapts a regression or classification amortizer
 * to a CSV training set, streamed one mini-batch at a time, and prints a
 * prediction and its standard deviation (regression), or the most probable
 * label and the class probabilities (classification), for every row of a
 * CSV of test inputs.
 *
 * TRAIN holds the x columns and then y; TEST holds the same x columns, in
 * the same order (matched by position; if both files have headers and the
 * names differ, a warning says so).  A TEST with exactly one column more is
 * taken to carry y last, which is ignored: a held-out part of a training
 * file can be passed as it is.  TRAIN is never held in memory: rows are
 * read, scaled and applied B at a time, so it may be of any length.  TEST
 * is read whole before anything is printed, keeping two floats per row (at
 * most ADAPT_TEST_MAX rows), so an error in either file prints no partial
 * predictions.
 *
 * Scaling.  The amortizer was meta-trained on inputs x ~ N(0, I) and on
 * targets made by unit-scale weights (linreg.h); real columns come in any
 * units.  By default each x column and y is standardized with the mean and
 * sd (population sd) of the FIRST mini-batch, z = (v - mean) / sd, and the
 * same affine map is applied to every later training row and to TEST; the
 * predictions come back in y's units, yhat = mean_y + sd_y * zhat, with sd
 * = sd_y * sqrt(var).  Taking the statistics from the first batch alone
 * keeps the stream one pass.  A column whose sd there is at most 1e-6 of
 * its mean's magnitude is constant up to rounding: it is only centred.
 * Because a sorted file makes the first batch unrepresentative, the whole
 * stream's statistics (in the units of the first batch) are checked at the
 * end and a warning names the first column that is far off.
 * --no-standardize feeds the raw values.
 *
 * Classification (a model whose rows carry a label, through the amz
 * contract).  TRAIN's last column is an integer label 0..K-1 and is never
 * scaled; the session has K classes, --classes K or else the largest label
 * of the first mini-batch plus one (at least 2): a later label at or past
 * K is an error that names the line and points at --classes.  With
 * --pixels (image models only) the inputs are the model's npix raw pixels,
 * 0 to 255, projected by its PCA before anything else (standardization,
 * off by default for an image model, then applies to those features).
 * Every TEST row prints "label,p0,...,p(K-1)".  The batch is at most the
 * model's own (the step's workspace is sized for it).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am.h"
#include "amz.h"
#include "csv.h"
#include "gemm.h"
#include "model.h"
#include "refiner.h"
#include "tool.h"

#define ADAPT_TEST_MAX 10000000LL	/* rows of TEST kept for output */
#define ADAPT_CHUNK 256			/* TEST rows predicted at a time */
#define ADAPT_COLS (AMZ_DMAX + 1)	/* TRAIN columns: inputs and y (or the
					 * label), as the scaler keeps them */
#define ADAPT_SD_REL 1e-6		/* sd below this x |mean|: constant */

static const char adapt_usage[] =
	"usage: amort adapt --model FILE --train TRAIN.csv --predict TEST.csv\n"
	"                   [--batch B] [--no-standardize | --standardize]\n"
	"                   [--classes K] [--pixels]\n"
	"\n"
	"Adapts the model to TRAIN, streamed in mini-batches of B rows (default:\n"
	"the batch size the model was trained on; 1 to 512), then prints one line\n"
	"'prediction,sd' per row of TEST.  Files are comma-separated numbers with\n"
	"an optional header line; TRAIN has the inputs (at most 16) then y last;\n"
	"TEST has the same inputs, and one extra last column is taken to be y and\n"
	"ignored.  A file named - is standard input.\n"
	"\n"
	"Every column is standardized with the mean and sd of the FIRST\n"
	"mini-batch (a column constant there is only centred); later rows and\n"
	"TEST get the same map and predictions are mapped back to y's units.\n"
	"The model was meta-trained on x ~ N(0, I) and unit-scale weights, so\n"
	"standardized data is what it knows, and one batch keeps the stream a\n"
	"single pass: shuffle a sorted TRAIN first.  --no-standardize feeds the\n"
	"raw values.\n"
	"\n"
	"A classification model (family clf) takes the inputs (at most 64) then\n"
	"an integer class label 0..K-1 last, and prints one line\n"
	"'label,p0,...,p(K-1)' per row of TEST: the most probable class, then\n"
	"the probability of each.  Labels are never scaled.  --classes K (2 to\n"
	"the model's classes) sets K; by default it is the largest label of the\n"
	"first mini-batch plus one.  For an image model, --pixels reads rows of\n"
	"its raw pixels (0 to 255), projected by the model's PCA first; an image\n"
	"model is not standardized unless --standardize is given.  B is at most\n"
	"the model's batch size.\n";

struct adapt_opts {
	const char *model, *train, *test;
	long batch;			/* 0: the model's bmax */
	int standardize;		/* 1 on, 0 off, -1 the model's default */
	long classes;			/* 0: from the first mini-batch */
	int pixels;
};

/* The affine map of the columns: index j < D is input j, index D is y
 * (scaled when y is set) or the label (never scaled). */
struct scaler {
	int on, D;
	int y;				/* column D is y, and is scaled */
	int features;			/* the columns are an image's PCA
					 * features, not the file's */
	double mean[ADAPT_COLS], sd[ADAPT_COLS];
	int constant[ADAPT_COLS];	/* only centred */
};

/* Sums of the scaled values of every training row, to judge afterwards
 * whether the first batch was representative. */
struct drift {
	double sum[ADAPT_COLS], sumsq[ADAPT_COLS];
};

struct stream {
	long long rows, steps, first_rows;
	float loss;			/* of the last mini-batch */
};

/* Parses argv into o.  Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct adapt_opts *o)
{
	int i;

	memset(o, 0, sizeof *o);
	o->standardize = -1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(adapt_usage, stdout);
			return 0;
		} else if (!strcmp(a, "--no-standardize")) {
			o->standardize = 0;
		} else if (!strcmp(a, "--standardize")) {
			o->standardize = 1;
		} else if (!strcmp(a, "--pixels")) {
			o->pixels = 1;
		} else if (i + 1 >= argc) {
			break;
		} else if (!strcmp(a, "--model")) {
			o->model = argv[++i];
		} else if (!strcmp(a, "--train")) {
			o->train = argv[++i];
		} else if (!strcmp(a, "--predict")) {
			o->test = argv[++i];
		} else if (!strcmp(a, "--batch")) {
			if (tool_parse_long("--batch", argv[++i], 1, REFINER_BMAX, &o->batch))
				return 2;
		} else if (!strcmp(a, "--classes")) {
			if (tool_parse_long("--classes", argv[++i], 2, AMZ_CLASSES_MAX,
					    &o->classes))
				return 2;
		} else {
			break;
		}
	}
	if (i < argc || !o->model || !o->train || !o->test) {
		if (i + 1 == argc && argv[i][0] == '-')
			fprintf(stderr, "amort adapt: '%s' without a value\n", argv[i]);
		else if (i < argc)
			fprintf(stderr, "amort adapt: unexpected argument '%s'\n", argv[i]);
		fputs(adapt_usage, stderr);
		return 2;
	}
	if (!strcmp(o->train, "-") && !strcmp(o->test, "-")) {
		fprintf(stderr, "amort adapt: TRAIN and TEST cannot both be standard input\n");
		return 2;
	}
	return -1;
}

/* "s" unless n is 1, for messages. */
static const char *plural(long long n)
{
	return n == 1 ? "" : "s";
}

/* Copies a header name into out (len bytes), cut to fit, with control
 * bytes shown as '?': the file's bytes must not drive the terminal. */
static void shown(char *out, size_t len, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < len; i++)
		out[i] = ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) ? '?' : name[i];
	out[i] = '\0';
}

/* Writes "column J ('name')" or "column J (y)" for column j of in, or
 * "feature J" when in is NULL (an image's projected features). */
static void column_name(char *out, size_t len, const struct csv *in, int j,
			int D)
{
	const char *h;
	char name[48];

	if (!in) {
		snprintf(out, len, "feature %d", j + 1);
		return;
	}
	h = csv_header(in, j);
	if (!h || j == D) {
		snprintf(out, len, j == D ? "column %d (y)" : "column %d", j + 1);
		return;
	}
	shown(name, sizeof name, h);
	snprintf(out, len, "column %d ('%s')", j + 1, name);
}

/*
 * Checks the column counts of both files against each other and the model
 * before any data is read: TRAIN has 1 to dmax inputs (exactly npix when
 * npix > 0) and then its last column, named yname in messages ("y" or
 * "the label").  Returns D (the number of inputs) and sets *test_y when
 * TEST carries an ignored last column, or returns -1 after a message.
 */
static int check_columns(struct csv *train, struct csv *test, int dmax, int npix,
			 const char *yname, int *test_y)
{
	int tc = csv_cols(train), xc = csv_cols(test), D = tc - 1, j;
	char a[48], b[48];

	*test_y = 0;
	if (tc == 0) {
		fprintf(stderr, "amort adapt: %s: no data rows: the training set is empty\n",
			csv_name(train));
		return -1;
	}
	if (tc == 1) {
		fprintf(stderr, "amort adapt: %s: line %lld: 1 column; expected the "
			"inputs and then %s\n", csv_name(train), csv_line(train), yname);
		return -1;
	}
	if (npix > 0 && D != npix) {
		fprintf(stderr, "amort adapt: %s: line %lld: %d columns (%d inputs and %s), "
			"but with --pixels a row is the model's %d pixels and then %s\n",
			csv_name(train), csv_line(train), tc, D, yname, npix, yname);
		return -1;
	}
	if (D > dmax) {
		fprintf(stderr, "amort adapt: %s: line %lld: %d columns (%d inputs and %s), "
			"but the model takes at most %d inputs\n", csv_name(train),
			csv_line(train), tc, D, yname, dmax);
		return -1;
	}
	if (xc == 0)			/* an empty TEST: nothing to predict */
		return D;
	if (xc != D && xc != D + 1) {
		fprintf(stderr, "amort adapt: %s: line %lld: %d columns, expected %d "
			"(the inputs of %s) or %d (inputs and an ignored %s)\n",
			csv_name(test), csv_line(test), xc, D, csv_name(train), D + 1,
			!strcmp(yname, "y") ? "y" : "label");
		return -1;
	}
	*test_y = xc == D + 1;
	for (j = 0; j < D; j++) {
		if (!csv_header(train, j) || !csv_header(test, j) ||
		    !strcmp(csv_header(train, j), csv_header(test, j)))
			continue;
		shown(a, sizeof a, csv_header(test, j));
		shown(b, sizeof b, csv_header(train, j));
		fprintf(stderr, "amort adapt: warning: column %d is '%s' in %s but '%s' "
			"in %s; columns are matched by position\n", j + 1, a,
			csv_name(test), b, csv_name(train));
		break;
	}
	return D;
}

/* Sets the scaler from the first mini-batch: raw is n rows of D + 1
 * doubles.  Warns, in one line, about the columns that are only centred. */
static void scaler_fit(struct scaler *sc, const double *raw, int n,
		       const struct csv *in)
{
	int D = sc->D, j, i, nconst = 0;
	char list[512], name[96];
	size_t len = 0;

	if (!sc->on)
		return;
	list[0] = '\0';
	for (j = 0; j < D + sc->y; j++) {
		double s = 0, ss = 0, mu, sd;

		for (i = 0; i < n; i++)
			s += raw[(size_t)i * (D + 1) + j];
		mu = s / n;
		/* two passes: the deviations, not the raw squares, are summed */
		for (i = 0; i < n; i++) {
			double d = raw[(size_t)i * (D + 1) + j] - mu;

			ss += d * d;
		}
		sd = sqrt(ss / n);
		sc->mean[j] = mu;
		sc->constant[j] = !(sd > ADAPT_SD_REL * fabs(mu));
		sc->sd[j] = sc->constant[j] ? 1.0 : sd;
		if (sc->constant[j]) {
			column_name(name, sizeof name, sc->features ? NULL : in, j, D);
			if (len < sizeof list)
				len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
							nconst ? ", " : "", name);
			nconst++;
		}
	}
	if (nconst)
		fprintf(stderr, "amort adapt: warning: %s: %s %s constant in the first "
			"mini-batch (%d row%s): centred, not scaled\n", csv_name(in),
			list, nconst == 1 ? "is" : "are", n, plural(n));
}

/* Maps value v of column j into *z.  Returns 0, or -1 if the result is
 * beyond single precision (the refiner computes in floats). */
static int scaler_apply(const struct scaler *sc, int j, double v, float *z)
{
	double t = sc->on ? (v - sc->mean[j]) / sc->sd[j] : v;

	if (!(fabs(t) <= FLT_MAX))
		return -1;
	*z = (float)t;
	return 0;
}

/* After the stream: warns if, in the units of the first batch, a scaled
 * column's mean over all rows is beyond 1 or its sd outside [1/3, 3]. */
static void drift_check(const struct drift *dr, const struct scaler *sc,
			const struct stream *st, const struct csv *in)
{
	double n = (double)st->rows;
	char name[96];
	int j;

	if (!sc->on || st->rows <= st->first_rows)
		return;
	for (j = 0; j < sc->D + sc->y; j++) {
		double mu = dr->sum[j] / n, var = dr->sumsq[j] / n - mu * mu;
		double sd = sqrt(var > 0 ? var : 0);

		if (sc->constant[j] || (fabs(mu) <= 1 && sd >= 1.0 / 3 && sd <= 3))
			continue;
		column_name(name, sizeof name, sc->features ? NULL : in, j, sc->D);
		fprintf(stderr, "amort adapt: warning: %s: over all %lld rows, %s has "
			"mean %.3g and sd %.3g in units of the first mini-batch: that "
			"batch was not representative (is the file sorted? shuffle it)\n",
			csv_name(in), st->rows, name, mu, sd);
		return;
	}
}

/*
 * Streams TRAIN through the refiner B rows at a time, updating state.  The
 * first batch sets the scaler.  Returns 0, or 1 after a message.
 */
static int train_stream(const struct model *m, struct refiner_ws *ws,
			struct csv *in, int D, int B, struct scaler *sc,
			float *state, struct stream *st)
{
	double *raw = malloc((size_t)B * (D + 1) * sizeof *raw);
	long long *lines = malloc((size_t)B * sizeof *lines);
	float *X = calloc((size_t)B * LINREG_DMAX, sizeof *X);
	float *y = malloc((size_t)B * sizeof *y);
	struct drift dr;
	const double *row;
	char err[512];
	int rc = 1, n, i, j, r = 1, s;

	memset(&dr, 0, sizeof dr);
	if (!raw || !lines || !X || !y) {
		fprintf(stderr, "amort adapt: out of memory\n");
		goto out;
	}
	while (r == 1) {
		for (n = 0; n < B; n++) {
			r = csv_next(in, &row, err, sizeof err);
			if (r < 0) {
				fprintf(stderr, "amort adapt: %s\n", err);
				goto out;
			}
			if (r == 0)
				break;
			memcpy(raw + (size_t)n * (D + 1), row, (size_t)(D + 1) * sizeof *raw);
			lines[n] = csv_line(in);
		}
		if (n == 0)
			break;
		if (st->steps == 0) {
			scaler_fit(sc, raw, n, in);
			st->first_rows = n;
		}
		for (i = 0; i < n; i++) {
			for (j = 0; j <= D; j++) {
				float z;

				if (scaler_apply(sc, j, raw[(size_t)i * (D + 1) + j], &z)) {
					fprintf(stderr, "amort adapt: %s: line %lld, field %d: %g is "
						"beyond single precision%s\n", csv_name(in), lines[i],
						j + 1, raw[(size_t)i * (D + 1) + j],
						sc->on ? " after scaling" : "");
					goto out;
				}
				if (j < D)
					X[(size_t)i * LINREG_DMAX + j] = z;
				else
					y[i] = z;
				dr.sum[j] += z;
				dr.sumsq[j] += (double)z * z;
			}
		}
		s = refiner_step(&m->ref, m->p, ws, state, X, y, n, D,
				 (double)st->rows, &st->loss);
		if (s != AM_OK) {
			fprintf(stderr, "amort adapt: %s: mini-batch %lld (lines %lld to %lld): "
				"%s%s\n", csv_name(in), st->steps + 1, lines[0], lines[n - 1],
				s == AM_ENUMERIC ? "the state became non-finite" : am_strerror(s),
				sc->on ? "" : " (the values are raw: try without --no-standardize)");
			goto out;
		}
		st->rows += n;
		st->steps++;
	}
	if (st->rows == 0) {
		fprintf(stderr, "amort adapt: %s: no data rows: the training set is empty\n",
			csv_name(in));
		goto out;
	}
	drift_check(&dr, sc, st, in);
	rc = 0;
out:
	free(y);
	free(X);
	free(lines);
	free(raw);
	return rc;
}

/*
 * Reads every row of TEST and predicts it under state.  On success returns
 * 0 with *out pointing at 2 * *n floats (prediction, sd; new, caller
 * frees); otherwise returns 1 after a message.
 */
static int predict_all(struct csv *in, int D, const struct scaler *sc,
		       const float *state, float **out, long long *n)
{
	float X[ADAPT_CHUNK * LINREG_DMAX] = { 0 }, mean[ADAPT_CHUNK], var[ADAPT_CHUNK];
	long long lines[ADAPT_CHUNK], done = 0, cap = 0;
	float *res = NULL;
	const double *row;
	char err[512];
	int k = 0, r, i, j;

	do {
		r = csv_next(in, &row, err, sizeof err);
		if (r < 0) {
			fprintf(stderr, "amort adapt: %s\n", err);
			goto fail;
		}
		if (r == 1) {
			if (done + k >= ADAPT_TEST_MAX) {
				fprintf(stderr, "amort adapt: %s: more than %lld rows\n",
					csv_name(in), ADAPT_TEST_MAX);
				goto fail;
			}
			for (j = 0; j < D; j++) {
				if (scaler_apply(sc, j, row[j], &X[k * LINREG_DMAX + j])) {
					fprintf(stderr, "amort adapt: %s: line %lld, field %d: %g is "
						"beyond single precision%s\n", csv_name(in),
						csv_line(in), j + 1, row[j],
						sc->on ? " after scaling" : "");
					goto fail;
				}
			}
			lines[k++] = csv_line(in);
		}
		if (k == ADAPT_CHUNK || (r == 0 && k > 0)) {
			if (done + k > cap) {
				long long nc = cap ? 2 * cap : 4096;
				float *t;

				if (nc > ADAPT_TEST_MAX)
					nc = ADAPT_TEST_MAX;
				t = realloc(res, (size_t)nc * 2 * sizeof *res);
				if (!t) {
					fprintf(stderr, "amort adapt: out of memory\n");
					goto fail;
				}
				res = t;
				cap = nc;
			}
			refiner_predict(state, X, k, mean, var);
			for (i = 0; i < k; i++) {
				double mu = mean[i], sd = sqrt(var[i]);

				if (sc->on) {
					mu = sc->mean[sc->D] + sc->sd[sc->D] * mu;
					sd *= sc->sd[sc->D];
				}
				if (!(fabs(mu) <= FLT_MAX && sd <= FLT_MAX)) {
					fprintf(stderr, "amort adapt: %s: line %lld: the prediction "
						"is not finite\n", csv_name(in), lines[i]);
					goto fail;
				}
				res[2 * (done + i)] = (float)mu;
				res[2 * (done + i) + 1] = (float)sd;
			}
			done += k;
			k = 0;
		}
	} while (r == 1);
	*out = res;
	*n = done;
	return 0;
fail:
	free(res);
	return 1;
}

/* ---- classification ------------------------------------------------------ */

/* A classification run: the model's contract and what the files hold. */
struct clf_run {
	const struct amz *az;
	int pixels;		/* the inputs are npix pixels, projected */
	int Din;		/* inputs per CSV row: D, or npix */
	int Dm;			/* active columns the model sees: D, or the PCA's k */
	int K;			/* classes; 0 until the first mini-batch sets it */
	int K_given;		/* from --classes */
};

/* Whether v is a label of K classes: an integral value in [0, K). */
static int label_ok(double v, int K)
{
	return v >= 0 && v < K && v == floor(v);
}

/*
 * Turns the CSV row just read from in (Din inputs, then the label when
 * withlabel) into the model's row w: Dm values (the pixels projected by
 * the model's PCA with --pixels), then the label at w[Dm].  Returns 0, or
 * -1 after a message naming the line (a pixel outside 0..255).
 */
static int clf_row(const struct clf_run *r, const struct csv *in,
		   const double *row, int withlabel, double *w)
{
	float pix[AMZ_NPIX_MAX], f[AMZ_DMAX];
	int j;

	if (!r->pixels) {
		memcpy(w, row, (size_t)r->Din * sizeof *w);
	} else {
		for (j = 0; j < r->Din; j++) {
			if (!(row[j] >= 0 && row[j] <= 255)) {
				fprintf(stderr, "amort adapt: %s: line %lld, field %d: %g is not "
					"a pixel value (0 to 255)\n", csv_name(in),
					csv_line(in), j + 1, row[j]);
				return -1;
			}
			pix[j] = (float)row[j];
		}
		/* an image model's PCA takes any npix pixels: cannot fail */
		if (amz_project(r->az, pix, 1, f) != AM_OK)
			return -1;
		for (j = 0; j < r->Dm; j++)
			w[j] = f[j];
	}
	if (withlabel)
		w[r->Dm] = row[r->Din];
	return 0;
}

/* Prints why label v of line `line` is refused for K classes. */
static void bad_label(const struct clf_run *r, const struct csv *in,
		      long long line, double v, int K)
{
	fprintf(stderr, "amort adapt: %s: line %lld, field %d: %g is not a class label: "
		"labels are integers from 0 to %d", csv_name(in), line, r->Din + 1, v,
		K - 1);
	if (!r->K_given && r->K)
		fprintf(stderr, " (%d classes, from the largest label of the first "
			"mini-batch: give --classes)", r->K);
	fputc('\n', stderr);
}

/*
 * Streams TRAIN through amz_step B rows at a time, updating state.  The
 * first batch sets K (unless --classes did) and the scaler.  Returns 0, or
 * 1 after a message.
 */
static int clf_train_stream(struct clf_run *r, struct amz_ws *ws,
			    struct csv *in, int B, struct scaler *sc,
			    float *state, struct stream *st)
{
	const struct amz *az = r->az;
	const int stride = r->Dm + 1;
	double *raw = malloc((size_t)B * stride * sizeof *raw);
	long long *lines = malloc((size_t)B * sizeof *lines);
	float *X = calloc((size_t)B * az->dmax, sizeof *X);
	float *y = malloc((size_t)B * sizeof *y);
	struct drift dr;
	const double *row;
	char err[512];
	int rc = 1, n, i, j, r1 = 1, s, maxlab;

	memset(&dr, 0, sizeof dr);
	if (!raw || !lines || !X || !y) {
		fprintf(stderr, "amort adapt: out of memory\n");
		goto out;
	}
	while (r1 == 1) {
		maxlab = 0;
		for (n = 0; n < B; n++) {
			double lab;

			r1 = csv_next(in, &row, err, sizeof err);
			if (r1 < 0) {
				fprintf(stderr, "amort adapt: %s\n", err);
				goto out;
			}
			if (r1 == 0)
				break;
			lines[n] = csv_line(in);
			if (clf_row(r, in, row, 1, raw + (size_t)n * stride))
				goto out;
			lab = raw[(size_t)n * stride + r->Dm];
			if (!label_ok(lab, r->K ? r->K : az->classes)) {
				bad_label(r, in, lines[n], lab, r->K ? r->K : az->classes);
				goto out;
			}
			if (lab > maxlab)
				maxlab = (int)lab;
		}
		if (n == 0)
			break;
		if (st->steps == 0) {
			if (!r->K)
				r->K = maxlab + 1 < 2 ? 2 : maxlab + 1;
			s = amz_set_classes(az, state, r->K);
			AM_ASSERT(s == AM_OK);	/* K is within the model's classes */
			scaler_fit(sc, raw, n, in);
			st->first_rows = n;
		}
		for (i = 0; i < n; i++) {
			for (j = 0; j < r->Dm; j++) {
				double v = raw[(size_t)i * stride + j];
				float z;

				if (scaler_apply(sc, j, v, &z)) {
					fprintf(stderr, "amort adapt: %s: line %lld, %s %d: %g is "
						"beyond single precision%s\n", csv_name(in),
						lines[i], r->pixels ? "feature" : "field", j + 1,
						v, sc->on ? " after scaling" : "");
					goto out;
				}
				X[(size_t)i * az->dmax + j] = z;
				dr.sum[j] += z;
				dr.sumsq[j] += (double)z * z;
			}
			y[i] = (float)raw[(size_t)i * stride + r->Dm];
		}
		s = amz_step(az, ws, state, X, y, n, r->Dm, (double)st->rows,
			     &st->loss, NULL);
		if (s != AM_OK) {
			fprintf(stderr, "amort adapt: %s: mini-batch %lld (lines %lld to %lld): "
				"%s%s\n", csv_name(in), st->steps + 1, lines[0], lines[n - 1],
				s == AM_ENUMERIC ? "the state became non-finite" : am_strerror(s),
				sc->on ? "" : " (the values are raw: try --standardize)");
			goto out;
		}
		st->rows += n;
		st->steps++;
	}
	if (st->rows == 0) {
		fprintf(stderr, "amort adapt: %s: no data rows: the training set is empty\n",
			csv_name(in));
		goto out;
	}
	drift_check(&dr, sc, st, in);
	rc = 0;
out:
	free(y);
	free(X);
	free(lines);
	free(raw);
	return rc;
}

/*
 * Reads every row of TEST and predicts it under state.  On success returns
 * 0 with *out pointing at (K + 1) * *n floats per row: the most probable
 * label (the lowest on a tie), then the K probabilities (new, caller
 * frees); otherwise returns 1 after a message.
 */
static int clf_predict_all(const struct clf_run *r, struct csv *in,
			   const struct scaler *sc, const float *state,
			   float **out, long long *n)
{
	const struct amz *az = r->az;
	const int K = r->K, per = K + 1;
	float X[ADAPT_CHUNK * AMZ_DMAX] = { 0 }, P[ADAPT_CHUNK * AMZ_CLASSES_MAX];
	double w[AMZ_DMAX + 1];
	long long done = 0, cap = 0;
	float *res = NULL;
	const double *row;
	char err[512];
	int k = 0, r1, i, j, c;

	do {
		r1 = csv_next(in, &row, err, sizeof err);
		if (r1 < 0) {
			fprintf(stderr, "amort adapt: %s\n", err);
			goto fail;
		}
		if (r1 == 1) {
			if (done + k >= ADAPT_TEST_MAX) {
				fprintf(stderr, "amort adapt: %s: more than %lld rows\n",
					csv_name(in), ADAPT_TEST_MAX);
				goto fail;
			}
			if (clf_row(r, in, row, 0, w))
				goto fail;
			for (j = 0; j < r->Dm; j++) {
				if (scaler_apply(sc, j, w[j], &X[k * az->dmax + j])) {
					fprintf(stderr, "amort adapt: %s: line %lld, %s %d: %g is "
						"beyond single precision%s\n", csv_name(in),
						csv_line(in), r->pixels ? "feature" : "field",
						j + 1, w[j], sc->on ? " after scaling" : "");
					goto fail;
				}
			}
			k++;
		}
		if (k == ADAPT_CHUNK || (r1 == 0 && k > 0)) {
			if (done + k > cap) {
				long long nc = cap ? 2 * cap : 4096;
				float *t;

				if (nc > ADAPT_TEST_MAX)
					nc = ADAPT_TEST_MAX;
				t = realloc(res, (size_t)nc * per * sizeof *res);
				if (!t) {
					fprintf(stderr, "amort adapt: out of memory\n");
					goto fail;
				}
				res = t;
				cap = nc;
			}
			if (amz_predict_probs(az, state, X, k, r->Dm, P) != AM_OK) {
				fprintf(stderr, "amort adapt: predicting failed\n");
				goto fail;
			}
			for (i = 0; i < k; i++) {
				const float *p = P + (size_t)i * AMZ_CLASSES_MAX;
				float *o = res + (size_t)(done + i) * per;
				int best = 0;

				for (c = 0; c < K; c++) {
					o[1 + c] = p[c];
					if (p[c] > p[best])
						best = c;
				}
				o[0] = (float)best;
			}
			done += k;
			k = 0;
		}
	} while (r1 == 1);
	*out = res;
	*n = done;
	return 0;
fail:
	free(res);
	return 1;
}

/*
 * amort adapt for a classification model (m->az.has_labels): checks the
 * options against the model, streams TRAIN, predicts TEST and prints
 * "label,p0,..." per row.  Returns the exit status.
 */
static int adapt_clf(struct adapt_opts *o, const struct model *m)
{
	const struct amz *az = &m->az;
	const struct pca *pc = az->pca;
	struct clf_run r;
	struct csv *train = NULL, *test = NULL;
	struct amz_ws *ws = NULL;
	struct scaler sc;
	struct stream st = { 0, 0, 0, NAN };
	float state[AMZ_STATE_MAX], *pred = NULL;
	long long npred = 0, i;
	char err[512];
	int rc = 1, D, test_y, c;

	memset(&r, 0, sizeof r);
	r.az = az;
	if (o->pixels && (az->npix < 1 || !pc)) {
		fprintf(stderr, "amort adapt: %s: --pixels needs an image model; '%s' "
			"takes rows of features\n", o->model, m->name);
		return 1;
	}
	if (o->classes > az->classes) {
		fprintf(stderr, "amort adapt: %s: --classes %ld: '%s' takes 2 to %d "
			"classes\n", o->model, o->classes, m->name, az->classes);
		return 1;
	}
	if (!o->batch)
		o->batch = az->bmax;
	if (o->batch > az->bmax) {
		fprintf(stderr, "amort adapt: %s: --batch %ld: a step of '%s' takes at "
			"most %d rows\n", o->model, o->batch, m->name, az->bmax);
		return 1;
	}
	r.pixels = o->pixels;
	r.K = (int)o->classes;
	r.K_given = o->classes > 0;
	train = csv_open(o->train, err, sizeof err);
	if (!train) {
		fprintf(stderr, "amort adapt: %s\n", err);
		goto out;
	}
	test = csv_open(o->test, err, sizeof err);
	if (!test) {
		fprintf(stderr, "amort adapt: %s\n", err);
		goto out;
	}
	D = check_columns(train, test, az->dmax, r.pixels ? az->npix : 0, "the label",
			  &test_y);
	if (D < 0)
		goto out;
	r.Din = D;
	r.Dm = r.pixels ? pc->k : D;
	if (!r.pixels && m->gtasks.src == GEN_SRC_LINCLASS &&
	    (D < m->gtasks.cfam.dmin || D > m->gtasks.cfam.dmax))
		fprintf(stderr, "amort adapt: warning: %d inputs; the model was trained "
			"on %d to %d\n", D, m->gtasks.cfam.dmin, m->gtasks.cfam.dmax);

	gemm_set_threads(1);		/* one sequence: threads only cost */
	ws = amz_ws_new(az);
	if (!ws) {
		fprintf(stderr, "amort adapt: out of memory\n");
		goto out;
	}
	memset(&sc, 0, sizeof sc);
	sc.on = o->standardize < 0 ? az->standardize : o->standardize;
	sc.D = r.Dm;
	sc.y = 0;
	sc.features = r.pixels;
	amz_initial_state(az, state);
	if (clf_train_stream(&r, ws, train, (int)o->batch, &sc, state, &st))
		goto out;
	if (clf_predict_all(&r, test, &sc, state, &pred, &npred))
		goto out;

	for (i = 0; i < npred; i++) {
		const float *p = pred + (size_t)i * (r.K + 1);

		printf("%d", (int)p[0]);
		for (c = 0; c < r.K; c++)
			printf(",%.6g", p[1 + c]);
		putchar('\n');
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "amort adapt: writing the predictions failed\n");
		goto out;
	}
	fprintf(stderr, "amort adapt: %lld row%s of %d %s%s in %lld mini-batch%s of up "
		"to %ld; %d classes%s; final batch loss %.4g; %lld prediction%s%s\n",
		st.rows, plural(st.rows), D, r.pixels ? "pixel" : "input", plural(D),
		st.steps, st.steps == 1 ? "" : "es", o->batch, r.K,
		r.K_given ? "" : " (from the first mini-batch)", st.loss, npred,
		plural(npred), test_y ? " (the last column of TEST, a label, ignored)" : "");
	rc = 0;
out:
	free(pred);
	amz_ws_free(ws);
	csv_close(test);
	csv_close(train);
	return rc;
}

int tool_adapt(int argc, char **argv)
{
	struct adapt_opts o;
	struct model m;
	struct csv *train = NULL, *test = NULL;
	struct refiner_ws *ws = NULL;
	struct scaler sc;
	struct stream st = { 0, 0, 0, NAN };
	float state[REFINER_S], *pred = NULL;
	long long npred = 0, i;
	char err[512];
	int rc, D, test_y, loaded = 0;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	rc = 1;
	if (model_load(&m, o.model, err, sizeof err)) {
		fprintf(stderr, "amort adapt: %s: %s\n", o.model, err);
		goto out;
	}
	loaded = 1;
	if (m.az.has_labels) {
		rc = adapt_clf(&o, &m);
		goto out;
	}
	if (m.gen) {
		fprintf(stderr, "amort adapt: %s: '%s' is a generative model (%s): "
			"adapt reads (x, y) rows for regression and (x, label) rows for "
			"classification; serve it with amortd and use /sample\n", o.model,
			m.name, m.family);
		goto out;
	}
	if (o.classes || o.pixels) {
		fprintf(stderr, "amort adapt: %s: %s is for classification models; '%s' "
			"is a regression amortizer\n", o.model, o.classes ? "--classes"
			: "--pixels", m.name);
		goto out;
	}
	if (!o.batch)
		o.batch = m.cfg.bmax;
	/* both files are opened (and their first lines read) before the
	 * stream, so a missing TEST or a column mismatch fails at once */
	train = csv_open(o.train, err, sizeof err);
	if (!train) {
		fprintf(stderr, "amort adapt: %s\n", err);
		goto out;
	}
	test = csv_open(o.test, err, sizeof err);
	if (!test) {
		fprintf(stderr, "amort adapt: %s\n", err);
		goto out;
	}
	D = check_columns(train, test, LINREG_DMAX, 0, "y", &test_y);
	if (D < 0)
		goto out;
	if (o.batch > m.cfg.bmax)
		fprintf(stderr, "amort adapt: warning: --batch %ld is above the %d rows "
			"per mini-batch the model was trained on\n", o.batch, m.cfg.bmax);
	if (D < m.fam.dmin || D > m.fam.dmax)
		fprintf(stderr, "amort adapt: warning: %d inputs; the model was trained "
			"on %d to %d\n", D, m.fam.dmin, m.fam.dmax);

	gemm_set_threads(1);		/* one sequence: threads only cost */
	ws = refiner_ws_new(&m.ref, 1, (int)o.batch);
	if (!ws) {
		fprintf(stderr, "amort adapt: out of memory\n");
		goto out;
	}
	memset(&sc, 0, sizeof sc);
	sc.on = o.standardize != 0;
	sc.D = D;
	sc.y = 1;
	refiner_initial_state(&m.ref, m.p, state);
	if (train_stream(&m, ws, train, D, (int)o.batch, &sc, state, &st))
		goto out;
	if (predict_all(test, D, &sc, state, &pred, &npred))
		goto out;

	for (i = 0; i < npred; i++)
		printf("%.6g,%.6g\n", pred[2 * i], pred[2 * i + 1]);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "amort adapt: writing the predictions failed\n");
		goto out;
	}
	fprintf(stderr, "amort adapt: %lld row%s of %d input%s in %lld mini-batch%s "
		"of up to %ld; final batch loss %.4g%s; %lld prediction%s%s\n",
		st.rows, plural(st.rows), D, plural(D), st.steps,
		st.steps == 1 ? "" : "es", o.batch, st.loss,
		sc.on ? " (standardized units)" : "", npred, plural(npred),
		test_y ? " (the last column of TEST, y, ignored)" : "");
	rc = 0;
out:
	free(pred);
	refiner_ws_free(ws);
	csv_close(test);
	csv_close(train);
	if (loaded)
		model_free(&m);
	return rc;
}
