/*
 * test_hershey.c - the .jhf parser, glyph normalization, the font loader
 * and the arc-length sampler.
 *
 * The hand-written fonts put a few letter records (a square, an L drawn as
 * two strokes, two bars, a wrapped zigzag) after one-pair filler records,
 * because a record's position names its letter ('A' is record 33).
 *
 * Tolerances:
 * - Exact normalization is checked on the stored float segments: mean
 *   within 1e-6 and mean variance within 1e-5 of 1 (float rounding of
 *   coordinates of size ~3 is ~2e-7).
 * - Noise-free samples lie within 1e-5 of a segment (one float rounding of
 *   the interpolation).
 * - Sampled moments of the L glyph from n = 400,000 points, tolerances
 *   measured over 200 seeds: the sample mean of each coordinate had sd
 *   0.0012 (tolerance 0.015, over 12 sd); the mean of the two sample
 *   variances had sd 0.0013 (tolerance 0.015); the share of points on the
 *   stem (exactly 12/20 = 0.6) had sd 0.0008 (tolerance 0.005, 6 sd).
 * - Noise of sd 0.5 over 800,000 normals: its mean has standard error
 *   0.0006 and its estimated sd 0.0004; both tolerances are 0.005.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/am.h"
#include "data/hershey.h"
#include "base/rng.h"
#include "testutil.h"

/* A square of side 8 centred on the origin, one closed stroke. */
#define REC_SQUARE "12345  6JZNNVNVVNVNN"
/* An L: the stem (-4,-6)-(-4,6), pen up, the foot (-4,6)-(4,6). */
#define REC_L "12345  6JZNLNX RNXVX"
/* Two bars (-4,-2)-(4,-2) and (-4,2)-(4,2), apart. */
#define REC_BARS "12345  6JZNPVP RNTVT"
/* The same vertices with no pen-up: three segments. */
#define REC_ZED "12345  5JZNPVPNTVT"
#define FILLER "12345  1JZ"

static void assert_near(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("%s: got %.9g, want %.9g (tolerance %.3g)", what, got,
			 want, tol);
}

/* ---- building texts ----------------------------------------------------- */

/* A record standing for ASCII code c. */
struct rec {
	int c;
	const char *line;
};

/*
 * A new text of records for ASCII codes 32..last, each the given record
 * when one is listed for its code and FILLER otherwise, each ended by eol.
 * Caller frees; the length goes to *len.
 */
static char *jhf_text(const struct rec *r, int nr, int last, const char *eol,
		      size_t *len)
{
	size_t cap = 64, n = 0, l;
	char *t = malloc(cap), *nt;
	const char *line;
	int c, k;

	assert_non_null(t);
	for (c = 32; c <= last; c++) {
		line = FILLER;
		for (k = 0; k < nr; k++)
			if (r[k].c == c)
				line = r[k].line;
		l = strlen(line) + strlen(eol);
		while (n + l + 1 > cap) {
			cap *= 2;
			nt = realloc(t, cap);
			assert_non_null(nt);
			t = nt;
		}
		memcpy(t + n, line, strlen(line));
		memcpy(t + n + strlen(line), eol, strlen(eol));
		n += l;
	}
	t[n] = '\0';
	*len = n;
	return t;
}

/* Writes into out (cap bytes) the zigzag record: 40 vertices, x = -20..19,
 * y alternating -5 and 5: 8 + 82 = 90 columns, so it wraps once at 72. */
static void zigzag_record(char *out, size_t cap)
{
	size_t n;
	int k;

	assert_true(cap > 8 + 2 * 41);
	n = (size_t)snprintf(out, cap, "12345 41JZ");
	for (k = 0; k < 40; k++) {
		out[n++] = (char)('R' - 20 + k);
		out[n++] = (char)(k % 2 ? 'W' : 'M');
	}
	out[n] = '\0';
}

/* Copies record line into out, inserting eol after every cols columns. */
static void wrap_record(const char *line, int cols, const char *eol, char *out,
			size_t cap)
{
	size_t n = 0, i, len = strlen(line);

	for (i = 0; i < len; i++) {
		if (i > 0 && i % (size_t)cols == 0) {
			assert_true(n + strlen(eol) < cap);
			memcpy(out + n, eol, strlen(eol));
			n += strlen(eol);
		}
		assert_true(n + 1 < cap);
		out[n++] = line[i];
	}
	out[n] = '\0';
}

/* Parses text (len bytes) and asserts success. */
static void parse_ok(const char *text, size_t len, struct hershey_font *f)
{
	char err[256] = "";
	int rc = hershey_parse(text, len, "test", f, err, sizeof err);

	if (rc != AM_OK)
		fail_msg("hershey_parse: %s (%s)", am_strerror(rc), err);
}

/* ---- exact moments of a glyph ------------------------------------------ */

/* Mean and per-axis variances of the arc-length-uniform distribution on the
 * stored segments (second moment of a uniform point on a segment a-b:
 * (a^2 + ab + b^2) / 3). */
static void glyph_moments(const struct hershey_glyph *g, double *mx, double *my,
			  double *vx, double *vy)
{
	double L = 0, sx = 0, sy = 0, qx = 0, qy = 0, len;
	const float *q;
	int k;

	for (k = 0; k < g->nseg; k++) {
		q = g->seg + 4 * k;
		len = hypot((double)q[2] - q[0], (double)q[3] - q[1]);
		L += len;
		sx += len * ((double)q[0] + q[2]) / 2;
		sy += len * ((double)q[1] + q[3]) / 2;
		qx += len * ((double)q[0] * q[0] + (double)q[0] * q[2] +
			     (double)q[2] * q[2]) / 3;
		qy += len * ((double)q[1] * q[1] + (double)q[1] * q[3] +
			     (double)q[3] * q[3]) / 3;
	}
	*mx = sx / L;
	*my = sy / L;
	*vx = qx / L - *mx * *mx;
	*vy = qy / L - *my * *my;
}

/* A glyph with strokes: normalized, and cum the running segment lengths. */
static void assert_glyph_normalized(const struct hershey_glyph *g)
{
	double mx, my, vx, vy, acc = 0;
	const float *q;
	int k;

	assert_true(g->nseg >= 1 && g->nseg <= HERSHEY_SEG_MAX);
	assert_non_null(g->seg);
	assert_non_null(g->cum);
	for (k = 0; k < g->nseg; k++) {
		q = g->seg + 4 * k;
		acc += hypot((double)q[2] - q[0], (double)q[3] - q[1]);
		assert_true(q[0] != q[2] || q[1] != q[3]);
		assert_near(g->cum[k], acc, 1e-9, "cum");
	}
	glyph_moments(g, &mx, &my, &vx, &vy);
	assert_near(mx, 0, 1e-6, "mean x");
	assert_near(my, 0, 1e-6, "mean y");
	assert_near((vx + vy) / 2, 1, 1e-5, "mean variance");
}

/* Distance from (x, y) to the nearest segment of g. */
static double seg_distance(const struct hershey_glyph *g, double x, double y)
{
	double best = INFINITY, dx, dy, t, d;
	const float *q;
	int k;

	for (k = 0; k < g->nseg; k++) {
		q = g->seg + 4 * k;
		dx = (double)q[2] - q[0];
		dy = (double)q[3] - q[1];
		t = ((x - q[0]) * dx + (y - q[1]) * dy) / (dx * dx + dy * dy);
		t = t < 0 ? 0 : t > 1 ? 1 : t;
		d = hypot(x - (q[0] + t * dx), y - (q[1] + t * dy));
		if (d < best)
			best = d;
	}
	return best;
}

/* Whether segment k of g runs from (x0, y0) to (x1, y1), within tol. */
static int seg_is(const struct hershey_glyph *g, int k, double x0, double y0,
		  double x1, double y1, double tol)
{
	const float *q = g->seg + 4 * k;

	return fabs(q[0] - x0) <= tol && fabs(q[1] - y0) <= tol &&
	       fabs(q[2] - x1) <= tol && fabs(q[3] - y1) <= tol;
}

/* ---- letters ------------------------------------------------------------- */

static void test_hershey_letter_index(void **state)
{
	int c, i;

	(void)state;
	assert_int_equal(hershey_letter_index('A'), 0);
	assert_int_equal(hershey_letter_index('Z'), 25);
	assert_int_equal(hershey_letter_index('a'), 26);
	assert_int_equal(hershey_letter_index('z'), 51);
	for (c = -300; c < 300; c++) {
		i = hershey_letter_index(c);
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
			assert_true(i >= 0 && i < HERSHEY_LETTERS);
			assert_int_equal(hershey_letter_char(i), c);
		} else {
			assert_int_equal(i, -1);
		}
	}
	for (i = 0; i < HERSHEY_LETTERS; i++)
		assert_int_equal(hershey_letter_index(hershey_letter_char(i)), i);
	assert_int_equal(hershey_letter_char(-1), -1);
	assert_int_equal(hershey_letter_char(HERSHEY_LETTERS), -1);
}

/* ---- parsing ------------------------------------------------------------ */

static void test_hershey_parse_square(void **state)
{
	const struct rec r[] = { { 'A', REC_SQUARE } };
	const double h = sqrt(1.5);	/* half side: 4 sqrt(3 / 32) */
	struct hershey_font f;
	const struct hershey_glyph *g;
	size_t len;
	char *t = jhf_text(r, 1, 'z', "\n", &len);
	int k;

	(void)state;
	parse_ok(t, len, &f);
	assert_string_equal(f.name, "test");
	g = &f.glyph[hershey_letter_index('A')];
	assert_int_equal(g->nseg, 4);
	/* File y grows downwards: the file's first edge (y = -4) is the top. */
	assert_true(seg_is(g, 0, -h, h, h, h, 1e-6));
	assert_true(seg_is(g, 1, h, h, h, -h, 1e-6));
	assert_true(seg_is(g, 2, h, -h, -h, -h, 1e-6));
	assert_true(seg_is(g, 3, -h, -h, -h, h, 1e-6));
	for (k = 0; k < 4; k++)
		assert_near(g->cum[k], 2 * h * (k + 1), 1e-6, "square cum");
	assert_glyph_normalized(g);
	/* Every other letter is a filler: margin only, no strokes. */
	for (k = 0; k < HERSHEY_LETTERS; k++)
		if (k != hershey_letter_index('A')) {
			assert_int_equal(f.glyph[k].nseg, 0);
			assert_null(f.glyph[k].seg);
			assert_null(f.glyph[k].cum);
		}
	hershey_font_free(&f);
	assert_int_equal(f.glyph[0].nseg, 0);
	hershey_font_free(&f);
	hershey_font_free(NULL);
	free(t);
}

static void test_hershey_parse_l_exact(void **state)
{
	const struct rec r[] = { { 'L', REC_L } };
	struct hershey_font f;
	const struct hershey_glyph *g;
	double vx, vy, s;
	size_t len;
	char *t = jhf_text(r, 1, 'z', "\n", &len);

	(void)state;
	parse_ok(t, len, &f);
	g = &f.glyph[hershey_letter_index('L')];
	assert_int_equal(g->nseg, 2);
	/* Stem of length 12 at x = -4, y in [-6, 6]; foot of length 8 at
	 * y = 6, x in [-4, 4].  Mean (-2.4, 2.4) in file coordinates;
	 * E[x^2] = (12 * 16 + 8 * 16 / 3) / 20, E[y^2] = (12 * 12 + 8 * 36)
	 * / 20. */
	vx = (12 * 16 + 8 * 16 / 3.0) / 20 - 2.4 * 2.4;
	vy = (12 * 12 + 8 * 36) / 20.0 - 2.4 * 2.4;
	s = 1 / sqrt((vx + vy) / 2);
	assert_true(seg_is(g, 0, -1.6 * s, 8.4 * s, -1.6 * s, -3.6 * s, 1e-6));
	assert_true(seg_is(g, 1, -1.6 * s, -3.6 * s, 6.4 * s, -3.6 * s, 1e-6));
	assert_near(g->cum[0], 12 * s, 1e-6, "stem length");
	assert_near(g->cum[1], 20 * s, 1e-6, "total length");
	assert_glyph_normalized(g);
	hershey_font_free(&f);
	free(t);
}

static void test_hershey_parse_pen_up(void **state)
{
	const struct rec r[] = {
		{ 'B', REC_BARS },
		{ 'Z', REC_ZED },
		/* Pen-ups first, doubled and last change nothing. */
		{ 'b', "12345 10JZ R RNPVP R RNTVT R" },
	};
	struct hershey_font f;
	const struct hershey_glyph *bars, *zed, *b;
	size_t len;
	char *t = jhf_text(r, 3, 'z', "\n", &len);
	int k;

	(void)state;
	parse_ok(t, len, &f);
	bars = &f.glyph[hershey_letter_index('B')];
	zed = &f.glyph[hershey_letter_index('Z')];
	b = &f.glyph[hershey_letter_index('b')];
	assert_int_equal(bars->nseg, 2);
	assert_int_equal(zed->nseg, 3);
	assert_int_equal(b->nseg, 2);
	/* The bars are horizontal: nothing joins one to the other. */
	for (k = 0; k < 2; k++)
		assert_true(bars->seg[4 * k + 1] == bars->seg[4 * k + 3]);
	assert_memory_equal(bars->seg, b->seg, 8 * sizeof(float));
	/* Without the pen-up the diagonal is drawn and shifts the mean. */
	assert_true(zed->seg[4 * 1 + 1] != zed->seg[4 * 1 + 3]);
	assert_glyph_normalized(bars);
	assert_glyph_normalized(zed);
	hershey_font_free(&f);
	free(t);
}

static void test_hershey_parse_zero_length(void **state)
{
	const struct rec r[] = {
		/* A dot, a pen-up, a single vertex: nothing to draw. */
		{ 'C', "12345  5JZRRRR RSS" },
		/* A repeated vertex inside a stroke is skipped. */
		{ 'D', "12345  5JZNNNNVNVN" },
	};
	struct hershey_font f;
	const struct hershey_glyph *d;
	size_t len;
	char *t = jhf_text(r, 2, 'z', "\n", &len);

	(void)state;
	parse_ok(t, len, &f);
	assert_int_equal(f.glyph[hershey_letter_index('C')].nseg, 0);
	assert_null(f.glyph[hershey_letter_index('C')].seg);
	d = &f.glyph[hershey_letter_index('D')];
	assert_int_equal(d->nseg, 1);
	/* One horizontal segment: variance 1/12 L^2 along x only, so the
	 * scaled length is sqrt(24) and it lies on y = 0. */
	assert_true(seg_is(d, 0, -sqrt(6), 0, sqrt(6), 0, 1e-6));
	assert_glyph_normalized(d);
	hershey_font_free(&f);
	free(t);
}

/* A short file: the letters past its end are empty, not an error. */
static void test_hershey_parse_short_file(void **state)
{
	const struct rec r[] = { { 'A', REC_SQUARE } };
	struct hershey_font f;
	size_t len;
	char *t = jhf_text(r, 1, 'A', "\n", &len);
	int k;

	(void)state;
	parse_ok(t, len, &f);
	assert_int_equal(f.glyph[0].nseg, 4);
	for (k = 1; k < HERSHEY_LETTERS; k++)
		assert_int_equal(f.glyph[k].nseg, 0);
	hershey_font_free(&f);
	/* No final newline, CR LF endings and blank lines are all fine. */
	free(t);
	t = jhf_text(r, 1, 'A', "\r\n\n", &len);
	parse_ok(t, len - 3, &f);
	assert_int_equal(f.glyph[0].nseg, 4);
	hershey_font_free(&f);
	free(t);
}

static void test_hershey_parse_wrapped(void **state)
{
	char zig[128], wrapped[160], wrapped_crlf[160], bad[160];
	struct rec r[2] = { { 'A', NULL }, { 'B', REC_L } };
	struct hershey_font f0, f1, f2, fb;
	const struct hershey_glyph *g0, *g1;
	char err[256] = "";
	size_t len;
	char *t;
	int rc;

	(void)state;
	zigzag_record(zig, sizeof zig);
	assert_int_equal(strlen(zig), 90);
	wrap_record(zig, HERSHEY_WRAP_COLS, "\n", wrapped, sizeof wrapped);
	wrap_record(zig, HERSHEY_WRAP_COLS, "\r\n", wrapped_crlf,
		    sizeof wrapped_crlf);
	assert_int_equal(strchr(wrapped, '\n') - wrapped, HERSHEY_WRAP_COLS);

	r[0].line = zig;
	t = jhf_text(r, 2, 'z', "\n", &len);
	parse_ok(t, len, &f0);
	free(t);
	r[0].line = wrapped;
	t = jhf_text(r, 2, 'z', "\n", &len);
	parse_ok(t, len, &f1);
	free(t);
	r[0].line = wrapped_crlf;
	t = jhf_text(r, 2, 'z', "\r\n", &len);
	parse_ok(t, len, &f2);
	free(t);

	g0 = &f0.glyph[0];
	g1 = &f1.glyph[0];
	assert_int_equal(g0->nseg, 39);
	assert_int_equal(g1->nseg, 39);
	assert_memory_equal(g0->seg, g1->seg, 39 * 4 * sizeof(float));
	assert_memory_equal(g0->seg, f2.glyph[0].seg, 39 * 4 * sizeof(float));
	assert_glyph_normalized(g0);
	/* The record after the wrapped one is still 'B'. */
	assert_int_equal(f1.glyph[1].nseg, 2);
	assert_int_equal(f2.glyph[1].nseg, 2);

	/* A break anywhere but after column 72 cuts the record short. */
	wrap_record(zig, 70, "\n", bad, sizeof bad);
	r[0].line = bad;
	t = jhf_text(r, 2, 'z', "\n", &len);
	memset(&fb, 0x5a, sizeof fb);
	rc = hershey_parse(t, len, "test", &fb, err, sizeof err);
	assert_int_equal(rc, AM_EFORMAT);
	assert_non_null(strstr(err, "record 33 ('A'), line 34, column 71"));
	assert_non_null(strstr(err, "after 31 of the record's 41 pairs"));
	free(t);

	hershey_font_free(&f0);
	hershey_font_free(&f1);
	hershey_font_free(&f2);
}

/* One malformed input: the status it must give and a piece of its message. */
struct bad_case {
	const char *text;
	size_t len;		/* 0: strlen(text) */
	int status;
	const char *msg;
};

static void test_hershey_parse_malformed(void **state)
{
	static const struct bad_case cases[] = {
		{ "", 0, AM_EFORMAT, "empty" },
		{ "\n\n\r\n", 0, AM_EFORMAT, "no records" },
		{ "123", 0, AM_EFORMAT, "line ends inside the glyph number" },
		{ "12345 ", 0, AM_EFORMAT, "line ends inside the pair count" },
		{ "12345  9JZNN\n" FILLER "\n", 0, AM_EFORMAT,
		  "line 1, column 13: the line ends after 2 of the record's 9 pairs" },
		{ "12345  9JZNN", 0, AM_EFORMAT, "the text ends after 2 of" },
		{ "12345999JZ\n", 0, AM_EFORMAT, "after 1 of the record's 999 pairs" },
		{ "12345  xJZ", 0, AM_EFORMAT, "'x' in the pair count" },
		{ "12345 1 JZ", 0, AM_EFORMAT, "' ' in the pair count" },
		{ "12345 -1JZ", 0, AM_EFORMAT, "'-' in the pair count" },
		{ "12345   JZ", 0, AM_EFORMAT, "the pair count is blank" },
		{ "12345  0JZ", 0, AM_EFORMAT, "pair count 0" },
		{ "1234a  1JZ", 0, AM_EFORMAT, "'a' in the glyph number" },
		{ "\t2345  1JZ", 0, AM_EFORMAT, "byte 0x09 in the glyph number" },
		{ "12345  2JZ\tR", 0, AM_EFORMAT, "column 11: byte 0x09 in pair 1" },
		{ "12345  2JZ\x01R", 0, AM_EFORMAT, "byte 0x01 in pair 1" },
		{ "12345  2JZ\x80R", 0, AM_EFORMAT, "byte 0x80 in pair 1" },
		{ "12345  2JZR\0", 12, AM_EFORMAT, "column 12: byte 0x00 in pair 1" },
		{ "12345  2JZR\x7f", 0, AM_EFORMAT, "byte 0x7f in pair 1" },
		{ "12345  2JZ X", 0, AM_EFORMAT, "pair 1 is \" X\"" },
		{ "12345  2JZR ", 0, AM_EFORMAT, "' ' in pair 1" },
		{ "12345  2 RRR", 0, AM_EFORMAT, "the margin, not a pen-up" },
		{ "12345  1JZNN\n", 0, AM_EFORMAT, "'N' after the record's 1 pairs" },
		{ "12345  1JZ\rX", 0, AM_EFORMAT, "byte 0x0d after the record's 1" },
		{ "12345  1JZ\n12345  1JZ\n\n12345  3JZRR\n", 0, AM_EFORMAT,
		  "record 2 ('\"'), line 4, column 13: the line ends after 2" },
	};
	struct hershey_font f, keep;
	char err[256];
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].text);
		memset(&f, 0x5a, sizeof f);
		memcpy(&keep, &f, sizeof f);
		err[0] = '\0';
		rc = hershey_parse(cases[i].text, len, "bad", &f, err, sizeof err);
		if (rc != cases[i].status || !strstr(err, cases[i].msg))
			fail_msg("case %zu: status %d (%s), message \"%s\"; want %d and \"%s\"",
				 i, rc, am_strerror(rc), err, cases[i].status,
				 cases[i].msg);
		assert_memory_equal(&f, &keep, sizeof f);
		/* A NULL message buffer is fine too. */
		assert_int_equal(hershey_parse(cases[i].text, len, "bad", &f,
					       NULL, 0), cases[i].status);
	}
}

/* A valid font followed by junk, an oversize text, a long name. */
static void test_hershey_parse_limits(void **state)
{
	const struct rec r[] = { { 'A', REC_SQUARE } };
	struct hershey_font f, keep;
	char err[256] = "", name[HERSHEY_NAME_MAX + 1];
	size_t len;
	char *t = jhf_text(r, 1, 'z', "\n", &len), *big;

	(void)state;
	memset(&f, 0x5a, sizeof f);
	memcpy(&keep, &f, sizeof f);
	t = realloc(t, len + 16);
	assert_non_null(t);
	memcpy(t + len, "garbage\n", 8);
	assert_int_equal(hershey_parse(t, len + 8, "x", &f, err, sizeof err),
			 AM_EFORMAT);
	assert_non_null(strstr(err, "x: record 91 ('{'), line 92, column 1"));
	assert_memory_equal(&f, &keep, sizeof f);

	big = malloc(HERSHEY_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, '\n', HERSHEY_FILE_MAX + 1);
	memcpy(big, t, len);
	/* At the limit it parses (blank lines after the records) ... */
	assert_int_equal(hershey_parse(big, HERSHEY_FILE_MAX, "x", &f, err,
				       sizeof err), AM_OK);
	assert_int_equal(f.glyph[0].nseg, 4);
	hershey_font_free(&f);
	/* ... one byte more is refused before it is read. */
	memset(&f, 0x5a, sizeof f);
	assert_int_equal(hershey_parse(big, HERSHEY_FILE_MAX + 1, "x", &f, err,
				       sizeof err), AM_ELIMIT);
	assert_memory_equal(&f, &keep, sizeof f);
	free(big);

	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	assert_int_equal(hershey_parse(t, len, name, &f, err, sizeof err),
			 AM_EINVAL);
	name[HERSHEY_NAME_MAX - 1] = '\0';
	assert_int_equal(hershey_parse(t, len, name, &f, err, sizeof err), AM_OK);
	assert_string_equal(f.name, name);
	hershey_font_free(&f);
	assert_int_equal(hershey_parse(t, len, NULL, &f, err, sizeof err), AM_OK);
	assert_string_equal(f.name, "");
	hershey_font_free(&f);
	free(t);
}

/* Random edits of a good text: every outcome is a status, never a crash;
 * a refused text leaves the output alone, an accepted one is normalized. */
static void test_hershey_parse_fuzz(void **state)
{
	char zig[128], wrapped[160];
	struct rec r[4] = {
		{ 'A', REC_SQUARE }, { 'L', REC_L }, { 'B', REC_BARS }, { 'z', NULL },
	};
	struct hershey_font f, keep;
	struct rng rg;
	char err[256];
	size_t len, n, at, k, edits;
	char *t, *m;
	int it, rc, i, ok = 0;

	(void)state;
	zigzag_record(zig, sizeof zig);
	wrap_record(zig, HERSHEY_WRAP_COLS, "\n", wrapped, sizeof wrapped);
	r[3].line = wrapped;
	t = jhf_text(r, 4, 'z', "\n", &len);
	m = malloc(len + 8);
	assert_non_null(m);
	rng_seed(&rg, 2024);
	for (it = 0; it < 3000; it++) {
		memcpy(m, t, len);
		n = len;
		edits = 1 + rng_below(&rg, 3);
		for (k = 0; k < edits && n > 0; k++) {
			at = rng_below(&rg, n);
			switch (rng_below(&rg, 4)) {
			case 0:		/* any byte */
				m[at] = (char)rng_below(&rg, 256);
				break;
			case 1:		/* a coordinate-looking byte */
				m[at] = (char)(' ' + rng_below(&rg, 95));
				break;
			case 2:		/* delete a byte */
				memmove(m + at, m + at + 1, n - at - 1);
				n--;
				break;
			default:	/* cut the text */
				n = at + 1;
				break;
			}
		}
		memset(&f, 0x5a, sizeof f);
		memcpy(&keep, &f, sizeof f);
		err[0] = '\0';
		rc = hershey_parse(m, n, "fuzz", &f, err, sizeof err);
		if (rc != AM_OK) {
			assert_true(rc == AM_EFORMAT);
			assert_true(err[0] != '\0');
			assert_memory_equal(&f, &keep, sizeof f);
			continue;
		}
		ok++;
		for (i = 0; i < HERSHEY_LETTERS; i++)
			if (f.glyph[i].nseg > 0)
				assert_glyph_normalized(&f.glyph[i]);
			else
				assert_null(f.glyph[i].seg);
		hershey_font_free(&f);
	}
	/* Both kinds of outcome were reached. */
	assert_true(ok > 100 && ok < 2900);
	free(m);
	free(t);
}

/* ---- sampling ----------------------------------------------------------- */

static void test_hershey_sample_on_strokes(void **state)
{
	char zig[128];
	struct rec r[3] = { { 'A', REC_SQUARE }, { 'L', REC_L }, { 'Z', NULL } };
	const int letters[3] = { 'A', 'L', 'Z' };
	struct hershey_font f;
	const struct hershey_glyph *g;
	struct rng rg;
	enum { N = 4000 };
	float *X = tu_alloc(3 * N);
	size_t len;
	char *t;
	int i, j;

	(void)state;
	zigzag_record(zig, sizeof zig);
	r[2].line = zig;
	t = jhf_text(r, 3, 'z', "\n", &len);
	parse_ok(t, len, &f);
	rng_seed(&rg, 1);
	for (j = 0; j < 3; j++) {
		g = &f.glyph[hershey_letter_index(letters[j])];
		for (i = 0; i < N; i++)
			X[3 * i + 2] = 123.0f;
		hershey_sample(g, &rg, N, 0.0f, X, 3);
		for (i = 0; i < N; i++) {
			if (!(seg_distance(g, X[3 * i], X[3 * i + 1]) <= 1e-5))
				fail_msg("'%c' point %d (%g, %g) is off the strokes",
					 letters[j], i, X[3 * i], X[3 * i + 1]);
			assert_true(X[3 * i + 2] == 123.0f);
		}
	}
	/* n = 0 writes nothing. */
	hershey_sample(&f.glyph[0], &rg, 0, 0.0f, NULL, 2);
	hershey_font_free(&f);
	free(X);
	free(t);
}

static void test_hershey_sample_moments(void **state)
{
	const struct rec r[] = { { 'L', REC_L } };
	struct hershey_font f;
	const struct hershey_glyph *g;
	struct rng ra, rb;
	enum { N = 400000 };
	float *X = tu_alloc(2 * N), *Y = tu_alloc(2 * N);
	double sx = 0, sy = 0, qx = 0, qy = 0, mx, my, stem = 0, dx, dy;
	double nx = 0, nq = 0, stem_x;
	size_t len;
	char *t = jhf_text(r, 1, 'z', "\n", &len);
	int i;

	(void)state;
	parse_ok(t, len, &f);
	g = &f.glyph[hershey_letter_index('L')];
	stem_x = g->seg[0];
	rng_seed(&ra, 77);
	hershey_sample(g, &ra, N, 0.0f, X, 2);
	for (i = 0; i < N; i++) {
		sx += X[2 * i];
		sy += X[2 * i + 1];
		qx += (double)X[2 * i] * X[2 * i];
		qy += (double)X[2 * i + 1] * X[2 * i + 1];
		/* Points on the stem share its x (the corner has measure 0). */
		stem += X[2 * i] == (float)stem_x;
	}
	mx = sx / N;
	my = sy / N;
	assert_near(mx, 0, 0.015, "sampled mean x");
	assert_near(my, 0, 0.015, "sampled mean y");
	assert_near((qx / N - mx * mx + qy / N - my * my) / 2, 1, 0.015,
		    "sampled mean variance");
	assert_near(stem / N, 0.6, 0.005, "share on the stem");

	/* The same seed with noise: the same positions plus noise_sd times
	 * a standard normal per axis. */
	rng_seed(&rb, 77);
	hershey_sample(g, &rb, N, 0.5f, Y, 2);
	for (i = 0; i < N; i++) {
		dx = (double)Y[2 * i] - X[2 * i];
		dy = (double)Y[2 * i + 1] - X[2 * i + 1];
		nx += dx + dy;
		nq += dx * dx + dy * dy;
	}
	assert_near(nx / (2.0 * N), 0, 0.005, "noise mean");
	assert_near(sqrt(nq / (2.0 * N)), 0.5, 0.005, "noise sd");

	/* Deterministic: the same seed gives the same points. */
	rng_seed(&rb, 77);
	hershey_sample(g, &rb, 1000, 0.5f, X, 2);
	assert_memory_equal(X, Y, 2000 * sizeof(float));
	hershey_font_free(&f);
	free(X);
	free(Y);
	free(t);
}

/* ---- loading ------------------------------------------------------------ */

static const char *const font_list[HERSHEY_NFONTS] = {
	"futural", "futuram", "rowmant", "timesr", "timesi", "timesib",
	"scripts", "scriptc", "gothiceng", "gothicger", "gothicita",
};

static void test_hershey_load_package(void **state)
{
	struct hershey_set s;
	const struct hershey_glyph *g;
	const struct hershey_font *fut;
	char err[512] = "";
	double top = -INFINITY, apex_x = 0, apex_y = -INFINITY;
	int i, k, j, rc, top_k = -1;

	(void)state;
	if (access(HERSHEY_DIR "/futural.jhf", R_OK) != 0) {
		print_message("%s missing: install hershey-fonts-data\n",
			      HERSHEY_DIR);
		skip();
	}
	rc = hershey_load(NULL, &s, err, sizeof err);
	if (rc != AM_OK)
		fail_msg("hershey_load: %s (%s)", am_strerror(rc), err);
	assert_int_equal(s.nfonts, HERSHEY_NFONTS);
	for (i = 0; i < s.nfonts; i++) {
		assert_string_equal(s.font[i].name, font_list[i]);
		for (k = 0; k < HERSHEY_LETTERS; k++)
			assert_glyph_normalized(&s.font[i].glyph[k]);
	}
	/* Up is up: futural's 'T' has its bar on top, its 'A' its apex on
	 * top in the middle. */
	fut = &s.font[0];
	g = &fut->glyph[hershey_letter_index('T')];
	for (k = 0; k < g->nseg; k++)
		if ((g->seg[4 * k + 1] + g->seg[4 * k + 3]) / 2 > top) {
			top = (g->seg[4 * k + 1] + g->seg[4 * k + 3]) / 2;
			top_k = k;
		}
	assert_true(g->seg[4 * top_k + 1] == g->seg[4 * top_k + 3]);
	assert_true(top > 1.0);
	g = &fut->glyph[hershey_letter_index('A')];
	for (k = 0; k < g->nseg; k++)
		for (j = 0; j < 2; j++)
			if (g->seg[4 * k + 2 * j + 1] > apex_y) {
				apex_y = g->seg[4 * k + 2 * j + 1];
				apex_x = g->seg[4 * k + 2 * j];
			}
	assert_true(apex_y > 1.0);
	assert_near(apex_x, 0, 0.05, "apex of A");
	hershey_free(&s);
	assert_int_equal(s.nfonts, 0);
	assert_null(s.font);
	hershey_free(&s);
	hershey_free(NULL);
}

/* Writes len bytes of text to dir/name. */
static void file_put(const char *dir, const char *name, const char *text,
		     size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void file_del(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
	rmdir(path);
}

/* A directory of hand-made fonts: every letter a square, then one file
 * broken in turn. */
static void test_hershey_load_errors(void **state)
{
	struct rec r[HERSHEY_LETTERS];
	struct hershey_set s, keep;
	char dir[] = "/tmp/test_hershey.XXXXXX", path[600], err[512];
	char name[64];
	size_t len, shortlen;
	char *t, *shorter;
	int i, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < HERSHEY_LETTERS; i++) {
		r[i].c = hershey_letter_char(i);
		r[i].line = REC_SQUARE;
	}
	t = jhf_text(r, HERSHEY_LETTERS, 126, "\n", &len);
	shorter = jhf_text(r, HERSHEY_LETTERS, 'y', "\n", &shortlen);
	for (i = 0; i < HERSHEY_NFONTS; i++) {
		snprintf(name, sizeof name, "%s.jhf", font_list[i]);
		file_put(dir, name, t, len);
	}
	assert_int_equal(hershey_load(dir, &s, err, sizeof err), AM_OK);
	assert_int_equal(s.nfonts, HERSHEY_NFONTS);
	assert_string_equal(s.font[HERSHEY_NFONTS - 1].name, "gothicita");
	hershey_free(&s);

	memset(&s, 0x5a, sizeof s);
	memcpy(&keep, &s, sizeof s);

	/* A font without 'z'. */
	file_put(dir, "timesr.jhf", shorter, shortlen);
	assert_int_equal(hershey_load(dir, &s, err, sizeof err), AM_EFORMAT);
	assert_non_null(strstr(err, "timesr.jhf: letter 'z' (record 90) draws nothing"));
	assert_memory_equal(&s, &keep, sizeof s);

	/* A bad character: the message names the file, record and line. */
	t[len - 3] = '\x01';
	file_put(dir, "timesr.jhf", t, len);
	assert_int_equal(hershey_load(dir, &s, err, sizeof err), AM_EFORMAT);
	snprintf(path, sizeof path, "%s/timesr.jhf: record 94 ('~'), line 95, column 9: byte 0x01 in pair 0", dir);
	assert_non_null(strstr(err, path));
	assert_memory_equal(&s, &keep, sizeof s);

	/* Missing, a directory, over the size limit. */
	file_del(dir, "timesr.jhf");
	assert_int_equal(hershey_load(dir, &s, err, sizeof err), AM_EIO);
	assert_non_null(strstr(err, "cannot open"));
	snprintf(path, sizeof path, "%s/timesr.jhf", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(hershey_load(dir, &s, err, sizeof err), AM_EIO);
	assert_non_null(strstr(err, "not a regular file"));
	file_del(dir, "timesr.jhf");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)HERSHEY_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(hershey_load(dir, &s, err, sizeof err), AM_ELIMIT);
	assert_memory_equal(&s, &keep, sizeof s);

	/* A missing directory. */
	assert_int_equal(hershey_load("/nonexistent/hershey", &s, err, sizeof err),
			 AM_EIO);
	assert_memory_equal(&s, &keep, sizeof s);

	for (i = 0; i < HERSHEY_NFONTS; i++) {
		snprintf(name, sizeof name, "%s.jhf", font_list[i]);
		file_del(dir, name);
	}
	assert_int_equal(rmdir(dir), 0);
	free(t);
	free(shorter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hershey_letter_index),
		cmocka_unit_test(test_hershey_parse_square),
		cmocka_unit_test(test_hershey_parse_l_exact),
		cmocka_unit_test(test_hershey_parse_pen_up),
		cmocka_unit_test(test_hershey_parse_zero_length),
		cmocka_unit_test(test_hershey_parse_short_file),
		cmocka_unit_test(test_hershey_parse_wrapped),
		cmocka_unit_test(test_hershey_parse_malformed),
		cmocka_unit_test(test_hershey_parse_limits),
		cmocka_unit_test(test_hershey_parse_fuzz),
		cmocka_unit_test(test_hershey_sample_on_strokes),
		cmocka_unit_test(test_hershey_sample_moments),
		cmocka_unit_test(test_hershey_load_package),
		cmocka_unit_test(test_hershey_load_errors),
	};

	return cmocka_run_group_tests_name("hershey", tests, NULL, NULL);
}
