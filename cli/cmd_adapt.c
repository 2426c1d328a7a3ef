/*
 * cmd_adapt.c - `amort adapt`: adapts an amortizer to a CSV training set,
 * streamed one mini-batch at a time, and prints a prediction for every row
 * of a CSV of test inputs.  Every model that learns from (x, y) or
 * (x, label) rows is driven through the session contract (amz.h) by one
 * streaming loop; only what a TEST row prints depends on the family:
 *
 *   family                          each TEST row prints
 *   linreg (the parametric refiner) prediction,sd
 *   reg (a learned predictor)       prediction (the mean: there is no sd)
 *   clf                             label,p0,...,p(K-1)
 *
 * TRAIN holds the x columns and then y; TEST holds the same x columns, in
 * the same order (matched by position; if both files have headers and the
 * names differ, a warning says so).  A TEST with exactly one column more is
 * taken to carry y last, which is ignored: a held-out part of a training
 * file can be passed as it is.  TRAIN is never held in memory: rows are
 * read, scaled and applied B at a time, so it may be of any length.  TEST
 * is read whole before anything is printed, keeping a few floats per row
 * (at most ADAPT_TEST_MAX rows), so an error in either file prints no
 * partial predictions.
 *
 * Two regimes.  An explicit model (linreg; reg and clf with az.implicit =
 * 0) adapts a state: each mini-batch is one amz_step, and TEST is read and
 * predicted under the final state once TRAIN is done.  An implicit model
 * (az.implicit = 1) keeps no adapted state: a prediction is a query state
 * refined by every mini-batch.  Its TEST is therefore the session's
 * registered query set: it is read whole right after TRAIN's first
 * mini-batch (which fixes the scaler, so TEST's rows are mapped as they
 * are read and kept as floats, with their line numbers), every row starts
 * at the learned initial prediction (amz_query_init), and each mini-batch
 * of TRAIN refines all of them (amz_query_step, in chunks of ADAPT_QCHUNK
 * rows) before the next batch is read; the predictions are read out at the
 * end (amz_query_mean, amz_query_probs).  TRAIN is still one pass, never
 * held and never replayed, but the cost is O(TEST rows x TRAIN
 * mini-batches) where the explicit regime's is O(TRAIN rows + TEST rows),
 * and TEST is at most ADAPT_QUERY_MAX rows.  amz_step still checks every
 * batch (it leaves an implicit session's state alone).  Queries do not
 * attend to each other: a row's prediction does not depend on the other
 * rows of TEST.
 *
 * Scaling.  The amortizers were meta-trained on inputs x ~ N(0, I) and on
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
 * Classification (a model whose rows carry a label).  TRAIN's last column
 * is an integer label 0..K-1 and is never scaled; the session has K
 * classes, --classes K or else the largest label of the first mini-batch
 * plus one (at least 2): a later label at or past K is an error that names
 * the line and points at --classes.  With --pixels (image models only) the
 * inputs are the model's npix raw pixels, 0 to 255, projected by its PCA
 * before anything else (standardization, off by default for an image
 * model, then applies to those features).
 *
 * The batch is at most the model's own for reg and clf (the step's
 * workspace is sized for it); the linreg refiner takes up to REFINER_BMAX
 * rows, with a warning above the batch it was trained on.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/amz.h"
#include "family/scaler.h"
#include "cli/csv.h"
#include "base/gemm.h"
#include "model/model.h"
#include "refine/refiner.h"
#include "cli/tool.h"

#define ADAPT_TEST_MAX 10000000LL	/* rows of TEST kept for output */
#define ADAPT_QUERY_MAX 1000000LL	/* rows of TEST of an implicit model:
					 * each keeps its inputs and query
					 * state, and every batch refines it */
#define ADAPT_CHUNK 256			/* TEST rows read (and predicted) at a
					 * time */
#define ADAPT_QCHUNK 1024		/* query rows per amz_query_step (its
					 * scratch is proportional) */
#define ADAPT_COLS (AMZ_DMAX + 1)	/* TRAIN columns: inputs and y (or the
					 * label), as the scaler keeps them */

static const char adapt_usage[] =
	"usage: amort adapt --model FILE --train TRAIN.csv --predict TEST.csv\n"
	"                   [--batch B] [--no-standardize | --standardize]\n"
	"                   [--classes K] [--pixels]\n"
	"\n"
	"Adapts the model to TRAIN, streamed in mini-batches of B rows (default:\n"
	"the batch size the model was trained on; 1 to 512, and at most that\n"
	"size for a reg or clf model), then prints one line per row of TEST:\n"
	"'prediction,sd' for a linreg model, 'prediction' (the mean: no sd) for\n"
	"a reg model.  Files are comma-separated numbers with an optional header\n"
	"line; TRAIN has the inputs (at most 16 for linreg, 64 for reg and clf)\n"
	"then y last; TEST has the same inputs, and one extra last column is\n"
	"taken to be y and ignored.  A file named - is standard input.\n"
	"\n"
	"Every column is standardized with the mean and sd of the FIRST\n"
	"mini-batch (a column constant there is only centred); later rows and\n"
	"TEST get the same map and predictions are mapped back to y's units.\n"
	"The model was meta-trained on x ~ N(0, I) and unit-scale weights, so\n"
	"standardized data is what it knows, and one batch keeps the stream a\n"
	"single pass: shuffle a sorted TRAIN first.  --no-standardize feeds the\n"
	"raw values.\n"
	"\n"
	"A classification model (family clf) takes the inputs then an integer\n"
	"class label 0..K-1 last, and prints one line 'label,p0,...,p(K-1)' per\n"
	"row of TEST: the most probable class, then the probability of each.\n"
	"Labels are never scaled.  --classes K (2 to the model's classes) sets K;\n"
	"by default it is the largest label of the first mini-batch plus one.\n"
	"For an image model, --pixels reads rows of its raw pixels (0 to 255),\n"
	"projected by the model's PCA first; an image model is not standardized\n"
	"unless --standardize is given.\n"
	"\n"
	"An implicit model (reg or clf) keeps a prediction per TEST row rather\n"
	"than an adapted state: TEST is read right after the first mini-batch\n"
	"and every mini-batch of TRAIN refines every TEST row's prediction, so\n"
	"the time is proportional to TEST rows x TRAIN mini-batches (TEST: at\n"
	"most 1000000 rows).  TRAIN is still read once, in one pass.\n";

struct adapt_opts {
	const char *model, *train, *test;
	long batch;			/* 0: the model's bmax */
	int standardize;		/* 1 on, 0 off, -1 the model's default */
	long classes;			/* 0: from the first mini-batch */
	int pixels;
};

/* The columns of TRAIN as the session sees them: index j < D is input j,
 * index D is y (scaled when y is set) or the label (never scaled).  The
 * map is the daemon's (family/scaler.h), so both standardize alike. */
struct columns {
	struct scaler s;
	int D;
	int y;				/* column D is y, and is scaled */
	int features;			/* the columns are an image's PCA
					 * features, not the file's */
	unsigned char constant[SCALER_COLS];	/* only centred (scaler's
						 * indices) */
};

/* Sums of the scaled values of every training row, to judge afterwards
 * whether the first batch was representative. */
struct drift {
	double sum[ADAPT_COLS], sumsq[ADAPT_COLS];
};

struct stream {
	long long rows, steps, first_rows;
	float loss;			/* of the last mini-batch (explicit) */
};

/*
 * One run: the session, what the files hold, and what has been read of
 * TEST.  Results are `per` floats a row: (prediction, sd) for linreg, the
 * prediction for reg, (label, p0..p(K-1)) for clf, in y's units.
 */
struct run {
	struct amz az;			/* the model's contract, a copy (see
					 * adapt_setup for what differs) */
	struct amz_ws *ws;
	float state[AMZ_STATE_MAX];
	int labels;			/* clf: rows end with a class label */
	int pixels;			/* the inputs are npix pixels, projected */
	int Din;			/* inputs per CSV row: D, or npix */
	int Dm;				/* active columns the model sees: D, or
					 * the PCA's k */
	int K;				/* clf: classes; 0 until the first
					 * mini-batch sets it */
	int K_given;			/* from --classes */
	int raw_hint;			/* what a failing step's message
					 * suggests when not standardized: 1
					 * "without --no-standardize", 2
					 * "--standardize" */
	int qchunk;			/* implicit: rows per amz_query_step */
	struct columns sc;
	struct stream st;
	/* implicit: TEST, the registered query set */
	long long nq, qcap;
	float *Q;			/* nq x Dm scaled inputs */
	long long *qline;		/* TEST line of each */
	float *qs;			/* nq x qstate query states */
	float *Qpad;			/* qchunk x dmax: Q's rows zero-padded */
	/* the predictions */
	int per;
	long long nres, rcap;
	float *res;
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

/* The scaler's index of column j (j == D: y). */
static int col(const struct columns *sc, int j)
{
	return j < sc->D ? j : SCALER_Y;
}

/* Whether the columns are standardized. */
static int scaled(const struct columns *sc)
{
	return sc->s.mode != SCALER_OFF;
}

/* Sets the scaler from the first mini-batch: raw is n rows of D + 1
 * doubles.  Warns, in one line, about the columns that are only centred. */
static void columns_fit(struct columns *sc, const double *raw, int n,
			const struct csv *in)
{
	int D = sc->D, j, nconst;
	char list[512], name[96];
	size_t len = 0;

	nconst = scaler_fit_rows(&sc->s, raw, D + 1, n, D, sc->y, sc->constant);
	list[0] = '\0';
	for (j = 0; j < D + sc->y && nconst; j++) {
		if (!sc->constant[col(sc, j)])
			continue;
		column_name(name, sizeof name, sc->features ? NULL : in, j, D);
		if (len < sizeof list)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
						len ? ", " : "", name);
	}
	if (nconst)
		fprintf(stderr, "amort adapt: warning: %s: %s %s constant in the first "
			"mini-batch (%d row%s): centred, not scaled\n", csv_name(in),
			list, nconst == 1 ? "is" : "are", n, plural(n));
}

/* Maps value v of column j into *z.  Returns 0, or -1 if the result is
 * beyond single precision (the refiner computes in floats). */
static int columns_map(const struct columns *sc, int j, double v, float *z)
{
	return scaler_map(&sc->s, col(sc, j), v, z);
}

/* After the stream: warns if, in the units of the first batch, a scaled
 * column's mean over all rows is beyond 1 or its sd outside [1/3, 3]. */
static void drift_check(const struct drift *dr, const struct columns *sc,
			const struct stream *st, const struct csv *in)
{
	double n = (double)st->rows;
	char name[96];
	int j;

	if (!scaled(sc) || st->rows <= st->first_rows)
		return;
	for (j = 0; j < sc->D + sc->y; j++) {
		double mu = dr->sum[j] / n, var = dr->sumsq[j] / n - mu * mu;
		double sd = sqrt(var > 0 ? var : 0);

		if (sc->constant[col(sc, j)] || (fabs(mu) <= 1 && sd >= 1.0 / 3 && sd <= 3))
			continue;
		column_name(name, sizeof name, sc->features ? NULL : in, j, sc->D);
		fprintf(stderr, "amort adapt: warning: %s: over all %lld rows, %s has "
			"mean %.3g and sd %.3g in units of the first mini-batch: that "
			"batch was not representative (is the file sorted? shuffle it)\n",
			csv_name(in), st->rows, name, mu, sd);
		return;
	}
}

/* Whether v is a label of K classes: an integral value in [0, K). */
static int label_ok(double v, int K)
{
	return v >= 0 && v < K && v == floor(v);
}

/*
 * Turns the CSV row just read from in (Din inputs, then y or the label
 * when withy) into the model's row w: Dm values (the pixels projected by
 * the model's PCA with --pixels), then y or the label at w[Dm].  Returns
 * 0, or -1 after a message naming the line (a pixel outside 0..255).
 */
static int model_row(const struct run *r, const struct csv *in,
		     const double *row, int withy, double *w)
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
		if (amz_project(&r->az, pix, 1, f) != AM_OK)
			return -1;
		for (j = 0; j < r->Dm; j++)
			w[j] = f[j];
	}
	if (withy)
		w[r->Dm] = row[r->Din];
	return 0;
}

/* Prints why label v of line `line` is refused for K classes. */
static void bad_label(const struct run *r, const struct csv *in,
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

/* Scales value v of input j, read from line `line` of in, into *z.
 * Returns 0, or -1 after a message. */
static int scale_input(const struct run *r, const struct csv *in, long long line,
		       int j, double v, float *z)
{
	if (!columns_map(&r->sc, j, v, z))
		return 0;
	fprintf(stderr, "amort adapt: %s: line %lld, %s %d: %g is beyond single "
		"precision%s\n", csv_name(in), line, r->pixels ? "feature" : "field",
		j + 1, v, scaled(&r->sc) ? " after scaling" : "");
	return -1;
}

/* Returns buf (*cap rows of `size` bytes) with room for `need` rows: as
 * it is, or reallocated to twice as many rows as needed (from 4096, at
 * most max) with *cap updated; NULL after a message, buf still valid. */
static void *grow(void *buf, long long *cap, long long need, size_t size,
		  long long max)
{
	long long nc = *cap ? *cap : 4096;
	void *t;

	if (need <= *cap)
		return buf;
	while (nc < need)
		nc *= 2;
	if (nc > max)
		nc = max;
	t = realloc(buf, (size_t)nc * size);
	if (!t) {
		fprintf(stderr, "amort adapt: out of memory\n");
		return NULL;
	}
	*cap = nc;
	return t;
}

/*
 * Appends the predictions of k TEST rows (lines[i] of in) to the results:
 * the model's outputs (mean and var, or P's probabilities) in y's units.
 * Returns 0, or 1 after a message (out of memory, a non-finite value).
 */
static int results_put(struct run *r, const struct csv *in, const long long *lines,
		       int k, const float *mean, const float *var, const float *P)
{
	float *t = grow(r->res, &r->rcap, r->nres + k, (size_t)r->per * sizeof *t,
			ADAPT_TEST_MAX);
	int i, c;

	if (!t)
		return 1;
	r->res = t;
	for (i = 0; i < k; i++) {
		float *o = r->res + (size_t)(r->nres + i) * r->per;
		int ok = 1;

		if (r->labels) {
			const float *p = P + (size_t)i * AMZ_CLASSES_MAX;
			int best = 0;

			for (c = 0; c < r->K; c++) {
				o[1 + c] = p[c];
				ok &= p[c] >= 0 && p[c] <= 1;
				if (p[c] > p[best])
					best = c;
			}
			o[0] = (float)best;
		} else {
			double mu, v, sd;

			scaler_unmap(&r->sc.s, mean[i], var ? var[i] : 0, &mu, &v);
			sd = sqrt(v);
			ok = fabs(mu) <= FLT_MAX && sd <= FLT_MAX;
			o[0] = (float)mu;
			if (var)
				o[1] = (float)sd;
		}
		if (!ok) {
			fprintf(stderr, "amort adapt: %s: line %lld: the prediction is not "
				"finite\n", csv_name(in), lines[i]);
			return 1;
		}
	}
	r->nres += k;
	return 0;
}

/* Explicit: predicts k scaled TEST rows X (k x dmax) under the adapted
 * state.  Returns 0, or 1 after a message. */
static int test_predict(struct run *r, const struct csv *in, const float *X,
			const long long *lines, int k)
{
	float mean[ADAPT_CHUNK], var[ADAPT_CHUNK], P[ADAPT_CHUNK * AMZ_CLASSES_MAX];
	float *v = r->az.has_var ? var : NULL;
	int s;

	if (r->labels)
		s = amz_predict_probs(&r->az, r->state, X, k, r->Dm, P);
	else
		s = amz_predict(&r->az, r->state, X, k, r->Dm, mean, v);
	if (s != AM_OK) {
		fprintf(stderr, "amort adapt: predicting failed: %s\n", am_strerror(s));
		return 1;
	}
	return results_put(r, in, lines, k, mean, v, P);
}

/* Implicit: registers k scaled TEST rows X (k x dmax) as queries.  Returns
 * 0, or 1 after a message. */
static int queries_add(struct run *r, const float *X, const long long *lines, int k)
{
	long long cap = r->qcap;	/* both arrays have qcap rows */
	float *Q = grow(r->Q, &cap, r->nq + k, (size_t)r->Dm * sizeof *Q,
			ADAPT_QUERY_MAX);
	long long *line;
	int i;

	if (!Q)
		return 1;
	r->Q = Q;
	line = grow(r->qline, &r->qcap, r->nq + k, sizeof *line, ADAPT_QUERY_MAX);
	if (!line)
		return 1;
	r->qline = line;
	for (i = 0; i < k; i++) {
		memcpy(r->Q + (size_t)(r->nq + i) * r->Dm, X + (size_t)i * r->az.dmax,
		       (size_t)r->Dm * sizeof *r->Q);
		r->qline[r->nq + i] = lines[i];
	}
	r->nq += k;
	return 0;
}

/*
 * Reads every row of TEST, ADAPT_CHUNK at a time, mapped by the (fixed)
 * scaler: predicted at once under the adapted state (explicit) or kept as
 * the query set (implicit).  Returns 0, or 1 after a message.
 */
static int test_read(struct run *r, struct csv *in)
{
	const long long max = r->az.implicit ? ADAPT_QUERY_MAX : ADAPT_TEST_MAX;
	float X[ADAPT_CHUNK * AMZ_DMAX] = { 0 };
	long long lines[ADAPT_CHUNK];
	double w[AMZ_DMAX + 1];
	const double *row;
	char err[512];
	int k = 0, rc, j;

	do {
		rc = csv_next(in, &row, err, sizeof err);
		if (rc < 0) {
			fprintf(stderr, "amort adapt: %s\n", err);
			return 1;
		}
		if (rc == 1) {
			if (r->nres + r->nq + k >= max) {
				fprintf(stderr, "amort adapt: %s: more than %lld rows%s\n",
					csv_name(in), max, r->az.implicit ? " for an "
					"implicit model (every mini-batch refines every "
					"row's prediction): split TEST" : "");
				return 1;
			}
			lines[k] = csv_line(in);
			if (model_row(r, in, row, 0, w))
				return 1;
			for (j = 0; j < r->Dm; j++)
				if (scale_input(r, in, lines[k], j, w[j],
						&X[(size_t)k * r->az.dmax + j]))
					return 1;
			k++;
		}
		if (k == ADAPT_CHUNK || (rc == 0 && k > 0)) {
			if (r->az.implicit ? queries_add(r, X, lines, k)
					   : test_predict(r, in, X, lines, k))
				return 1;
			k = 0;
		}
	} while (rc == 1);
	return 0;
}

/* Implicit: gives the nq registered queries their initial state.
 * Returns 0, or 1 after a message. */
static int queries_start(struct run *r)
{
	size_t nq = (size_t)(r->nq ? r->nq : 1);

	r->qs = malloc(nq * (size_t)r->az.qstate * sizeof *r->qs);
	r->Qpad = calloc((size_t)r->qchunk * r->az.dmax, sizeof *r->Qpad);
	if (!r->qs || !r->Qpad) {
		fprintf(stderr, "amort adapt: out of memory\n");
		return 1;
	}
	/* implicit, n >= 0: cannot fail */
	return amz_query_init(&r->az, r->state, (int)r->nq, r->qs) != AM_OK;
}

/*
 * Implicit: refines every query's state by the mini-batch X, y of n rows
 * (lines[0] to lines[n - 1] of in).  Returns 0, or 1 after a message.
 */
static int queries_refine(struct run *r, const struct csv *in, const float *X,
			  const float *y, int n, const long long *lines)
{
	const struct amz *az = &r->az;
	long long c;
	int i, s;

	for (c = 0; c < r->nq; c += r->qchunk) {
		int m = r->nq - c < r->qchunk ? (int)(r->nq - c) : r->qchunk;

		for (i = 0; i < m; i++)
			memcpy(r->Qpad + (size_t)i * az->dmax, r->Q + (size_t)(c + i) * r->Dm,
			       (size_t)r->Dm * sizeof *r->Qpad);
		s = amz_query_step(az, r->ws, r->state, r->Qpad, m,
				   r->qs + (size_t)c * az->qstate, X, y, n, r->Dm,
				   (double)r->st.rows);
		if (s != AM_OK) {
			fprintf(stderr, "amort adapt: %s: mini-batch %lld (lines %lld to "
				"%lld): refining the predictions of TEST failed: %s\n",
				csv_name(in), r->st.steps + 1, lines[0], lines[n - 1],
				s == AM_ENUMERIC ? "a prediction became non-finite" :
				am_strerror(s));
			return 1;
		}
	}
	return 0;
}

/* Implicit: reads the predictions out of the refined query states.
 * Returns 0, or 1 after a message. */
static int queries_finish(struct run *r, const struct csv *test)
{
	float mean[ADAPT_CHUNK], P[ADAPT_CHUNK * AMZ_CLASSES_MAX];
	long long c;
	int s;

	for (c = 0; c < r->nq; c += ADAPT_CHUNK) {
		int m = r->nq - c < ADAPT_CHUNK ? (int)(r->nq - c) : ADAPT_CHUNK;
		const float *qs = r->qs + (size_t)c * r->az.qstate;

		s = r->labels ? amz_query_probs(&r->az, r->state, qs, m, P)
			      : amz_query_mean(&r->az, r->state, qs, m, mean);
		if (s != AM_OK) {
			fprintf(stderr, "amort adapt: predicting failed: %s\n",
				am_strerror(s));
			return 1;
		}
		if (results_put(r, test, r->qline + c, m, mean, NULL, P))
			return 1;
	}
	return 0;
}

/*
 * Maps n rows of raw (Dm + 1 doubles each: inputs, then y or the label,
 * read from lines[i] of in) into the step's X (n x dmax) and y, adding the
 * scaled values to dr.  Returns 0, or -1 after a message naming the line.
 */
static int batch_scale(const struct run *r, const struct csv *in,
		       const double *raw, const long long *lines, int n,
		       float *X, float *y, struct drift *dr)
{
	const int stride = r->Dm + 1;
	int i, j;

	for (i = 0; i < n; i++) {
		const double *w = raw + (size_t)i * stride;

		for (j = 0; j < r->Dm; j++) {
			float z;

			if (scale_input(r, in, lines[i], j, w[j], &z))
				return -1;
			X[(size_t)i * r->az.dmax + j] = z;
			dr->sum[j] += z;
			dr->sumsq[j] += (double)z * z;
		}
		if (r->labels) {
			y[i] = (float)w[r->Dm];
			continue;
		}
		if (columns_map(&r->sc, r->Dm, w[r->Dm], &y[i])) {
			fprintf(stderr, "amort adapt: %s: line %lld, field %d: %g is "
				"beyond single precision%s\n", csv_name(in), lines[i],
				r->Din + 1, w[r->Dm],
				scaled(&r->sc) ? " after scaling" : "");
			return -1;
		}
		dr->sum[r->Dm] += y[i];
		dr->sumsq[r->Dm] += (double)y[i] * y[i];
	}
	return 0;
}

/*
 * The stream: TRAIN through the session B rows at a time.  The first batch
 * sets K (clf, unless --classes did) and the scaler; for an implicit model
 * TEST is then read and registered, and every batch refines it.  Returns
 * 0, or 1 after a message.
 */
static int train_stream(struct run *r, struct csv *in, struct csv *test, int B)
{
	const struct amz *az = &r->az;
	const int stride = r->Dm + 1;
	struct stream *st = &r->st;
	struct columns *sc = &r->sc;
	double *raw = malloc((size_t)B * stride * sizeof *raw);
	long long *lines = malloc((size_t)B * sizeof *lines);
	float *X = calloc((size_t)B * az->dmax, sizeof *X);
	float *y = malloc((size_t)B * sizeof *y);
	struct drift dr;
	const double *row;
	char err[512];
	int rc = 1, n, r1 = 1, s, maxlab;

	memset(&dr, 0, sizeof dr);
	if (!raw || !lines || !X || !y) {
		fprintf(stderr, "amort adapt: out of memory\n");
		goto out;
	}
	while (r1 == 1) {
		maxlab = 0;
		for (n = 0; n < B; n++) {
			double v;

			r1 = csv_next(in, &row, err, sizeof err);
			if (r1 < 0) {
				fprintf(stderr, "amort adapt: %s\n", err);
				goto out;
			}
			if (r1 == 0)
				break;
			lines[n] = csv_line(in);
			if (model_row(r, in, row, 1, raw + (size_t)n * stride))
				goto out;
			if (!r->labels)
				continue;
			v = raw[(size_t)n * stride + r->Dm];
			if (!label_ok(v, r->K ? r->K : az->classes)) {
				bad_label(r, in, lines[n], v, r->K ? r->K : az->classes);
				goto out;
			}
			if (v > maxlab)
				maxlab = (int)v;
		}
		if (n == 0)
			break;
		if (st->steps == 0) {
			if (r->labels) {
				if (!r->K)
					r->K = maxlab + 1 < 2 ? 2 : maxlab + 1;
				s = amz_set_classes(az, r->state, r->K);
				AM_ASSERT(s == AM_OK);	/* K is within the model's */
			}
			columns_fit(sc, raw, n, in);
			st->first_rows = n;
			if (az->implicit && (test_read(r, test) || queries_start(r)))
				goto out;
		}
		if (batch_scale(r, in, raw, lines, n, X, y, &dr))
			goto out;
		/* an implicit model's step only checks the batch */
		s = amz_step(az, r->ws, r->state, X, y, n, r->Dm, (double)st->rows,
			     &st->loss, NULL);
		if (s != AM_OK) {
			fprintf(stderr, "amort adapt: %s: mini-batch %lld (lines %lld to %lld): "
				"%s%s\n", csv_name(in), st->steps + 1, lines[0], lines[n - 1],
				s == AM_ENUMERIC ? "the state became non-finite" : am_strerror(s),
				scaled(sc) ? "" : r->raw_hint == 1 ? " (the values are raw: try "
				"without --no-standardize)" : " (the values are raw: try "
				"--standardize)");
			goto out;
		}
		if (az->implicit && queries_refine(r, in, X, y, n, lines))
			goto out;
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
 * Checks the options against the model and sets up r (not its files).
 * The contract is copied with two changes for linreg: the refiner answers
 * a variance (has_var), and its batch is --batch (the refiner takes up to
 * REFINER_BMAX rows; above the trained batch is only a warning).  Returns
 * 0, or 1 after a message.
 */
static int adapt_setup(struct run *r, struct adapt_opts *o, const struct model *m)
{
	const struct amz *az = &m->az;

	memset(r, 0, sizeof *r);
	r->az = *az;
	if (!az->has_y) {
		fprintf(stderr, "amort adapt: %s: '%s' is a generative model (%s): "
			"adapt reads (x, y) rows for regression and (x, label) rows for "
			"classification; serve it with amortd and use /sample\n", o->model,
			m->name, m->family);
		return 1;
	}
	r->labels = az->has_labels;
	if (!r->labels && (o->classes || o->pixels)) {
		fprintf(stderr, "amort adapt: %s: %s is for classification models; '%s' "
			"is a regression amortizer\n", o->model, o->classes ? "--classes"
			: "--pixels", m->name);
		return 1;
	}
	if (o->pixels && (az->npix < 1 || !az->pca)) {
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
	if (az->bmax_soft) {
		if (o->batch > az->bmax) {
			fprintf(stderr, "amort adapt: warning: --batch %ld is above the %d "
				"rows per mini-batch the model was trained on\n", o->batch,
				az->bmax);
			r->az.bmax = (int)o->batch;
		}
	} else if (o->batch > az->bmax) {
		fprintf(stderr, "amort adapt: %s: --batch %ld: a step of '%s' takes at "
			"most %d rows\n", o->model, o->batch, m->name, az->bmax);
		return 1;
	}
	r->pixels = o->pixels;
	r->K = (int)o->classes;
	r->K_given = o->classes > 0;
	r->per = r->labels ? 0 : r->az.has_var ? 2 : 1;	/* clf: K + 1, once K is known */
	r->raw_hint = o->standardize == 0 && az->standardize ? 1 : 2;
	scaler_init(&r->sc.s, o->standardize < 0 ? az->standardize : o->standardize);
	r->sc.y = !r->labels;
	r->sc.features = r->pixels;
	r->st.loss = NAN;
	/* whole forwards of the model's query capacity per amz_query_step */
	r->qchunk = ADAPT_QCHUNK;
	if (az->implicit && m->gcfg.nq > 0 && m->gcfg.nq < ADAPT_QCHUNK)
		r->qchunk = ADAPT_QCHUNK / m->gcfg.nq * m->gcfg.nq;
	return 0;
}

/* Warns when D inputs are outside the range the model was trained on. */
static void dims_check(const struct run *r, const struct model *m, int D)
{
	int lo = 0, hi = 0;

	if (r->pixels)
		return;
	if (!m->gen) {
		lo = m->fam.dmin;
		hi = m->fam.dmax;
	} else if (m->gtasks.src == SOURCE_LINCLASS) {
		lo = m->gtasks.cfam.dmin;
		hi = m->gtasks.cfam.dmax;
	} else if (m->gtasks.src == SOURCE_LINREG) {
		lo = m->gtasks.rfam.dmin;
		hi = m->gtasks.rfam.dmax;
	}
	if (hi > 0 && (D < lo || D > hi))
		fprintf(stderr, "amort adapt: warning: %d inputs; the model was trained "
			"on %d to %d\n", D, lo, hi);
}

/* Prints the results, one line per TEST row.  Returns 0 or 1 after a
 * message. */
static int results_print(const struct run *r)
{
	long long i;
	int c;

	for (i = 0; i < r->nres; i++) {
		const float *p = r->res + (size_t)i * r->per;

		if (r->labels) {
			printf("%d", (int)p[0]);
			for (c = 0; c < r->K; c++)
				printf(",%.6g", p[1 + c]);
			putchar('\n');
		} else if (r->per == 2) {
			printf("%.6g,%.6g\n", p[0], p[1]);
		} else {
			printf("%.6g\n", p[0]);
		}
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "amort adapt: writing the predictions failed\n");
		return 1;
	}
	return 0;
}

/* The closing summary on stderr. */
static void summary(const struct run *r, long batch, int D, int test_y)
{
	const struct stream *st = &r->st;

	fprintf(stderr, "amort adapt: %lld row%s of %d %s%s in %lld mini-batch%s of up "
		"to %ld", st->rows, plural(st->rows), D, r->pixels ? "pixel" : "input",
		plural(D), st->steps, st->steps == 1 ? "" : "es", batch);
	if (r->labels)
		fprintf(stderr, "; %d classes%s", r->K,
			r->K_given ? "" : " (from the first mini-batch)");
	if (r->az.implicit)
		fputs("; implicit: every prediction refined by each mini-batch", stderr);
	else
		fprintf(stderr, "; final batch loss %.4g%s", st->loss,
			!r->labels && scaled(&r->sc) ? " (standardized units)" : "");
	fprintf(stderr, "; %lld prediction%s%s\n", r->nres, plural(r->nres),
		!test_y ? "" : r->labels ? " (the last column of TEST, a label, ignored)"
		: " (the last column of TEST, y, ignored)");
}

/* amort adapt on a loaded model.  Returns the exit status. */
static int adapt(struct adapt_opts *o, const struct model *m)
{
	struct run *r = malloc(sizeof *r);
	struct csv *train = NULL, *test = NULL;
	char err[512];
	int rc = 1, D, test_y;

	if (!r) {
		fprintf(stderr, "amort adapt: out of memory\n");
		return 1;
	}
	if (adapt_setup(r, o, m))
		goto out;
	/* both files are opened (and their first lines read) before the
	 * stream, so a missing TEST or a column mismatch fails at once */
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
	D = check_columns(train, test, r->az.dmax, r->pixels ? r->az.npix : 0,
			  r->labels ? "the label" : "y", &test_y);
	if (D < 0)
		goto out;
	r->Din = D;
	r->Dm = r->pixels ? ((const struct pca *)r->az.pca)->k : D;
	r->sc.D = r->Dm;
	dims_check(r, m, D);

	gemm_set_threads(1);		/* one sequence: threads only cost */
	r->ws = amz_ws_new(&r->az);
	if (!r->ws) {
		fprintf(stderr, "amort adapt: out of memory\n");
		goto out;
	}
	amz_initial_state(&r->az, r->state);
	/* K is set by the first mini-batch, before any result is kept */
	if (train_stream(r, train, test, (int)o->batch))
		goto out;
	if (r->labels)
		r->per = r->K + 1;
	if (r->az.implicit ? queries_finish(r, test) : test_read(r, test))
		goto out;
	if (results_print(r))
		goto out;
	summary(r, o->batch, D, test_y);
	rc = 0;
out:
	free(r->res);
	free(r->Qpad);
	free(r->qs);
	free(r->qline);
	free(r->Q);
	amz_ws_free(r->ws);
	csv_close(test);
	csv_close(train);
	free(r);
	return rc;
}

int tool_adapt(int argc, char **argv)
{
	struct adapt_opts o;
	struct model m;
	char err[512];
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (model_load(&m, o.model, err, sizeof err)) {
		fprintf(stderr, "amort adapt: %s: %s\n", o.model, err);
		return 1;
	}
	rc = adapt(&o, &m);
	model_free(&m);
	return rc;
}
