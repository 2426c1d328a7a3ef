/*
 * hershey.c - the .jhf parser, glyph normalization, the font list and the
 * arc-length sampler.
 *
 * The parser walks the untrusted text once with a cursor that knows its
 * line and column, checks every character as it reads it, and builds the
 * glyphs of the letter records as it goes into a local font that is freed
 * on any error, so the caller's struct is written only on success.
 */
#include "data/hershey.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "io/amfile.h"

/* The letter family's fonts, one per distinct letter set (see hershey.h). */
static const char *const font_names[] = {
	"futural", "futuram", "rowmant", "timesr", "timesi", "timesib",
	"scripts", "scriptc", "gothiceng", "gothicger", "gothicita",
};
_Static_assert(sizeof font_names / sizeof font_names[0] == HERSHEY_NFONTS,
	       "HERSHEY_NFONTS disagrees with the font list");

/* Record numbers of the letters: a record's ASCII code is its index + 32. */
#define REC_UPPER ('A' - 32)	/* 'A'..'Z' are records 33..58 */
#define REC_LOWER ('a' - 32)	/* 'a'..'z' are records 65..90 */

/* The pair count has three digits: at most 999 pairs, one of them the
 * margin, so at most 997 segments, and HERSHEY_SEG_MAX can never be
 * exceeded by a well-formed record; the bound holds by construction. */
#define PAIRS_MAX 999
_Static_assert(PAIRS_MAX - 2 <= HERSHEY_SEG_MAX, "a record could exceed HERSHEY_SEG_MAX");

int hershey_letter_index(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	return -1;
}

int hershey_letter_char(int i)
{
	if (i >= 0 && i < 26)
		return 'A' + i;
	if (i >= 26 && i < HERSHEY_LETTERS)
		return 'a' + i - 26;
	return -1;
}

/* The letter index of record rec, or -1 when it is not a letter. */
static int record_letter(long rec)
{
	return rec >= 0 && rec < 128 - 32 ? hershey_letter_index((int)rec + 32) : -1;
}

/* ---- glyphs ------------------------------------------------------------- */

/* Frees a glyph's arrays and zeroes it. */
static void glyph_free(struct hershey_glyph *g)
{
	free(g->seg);
	free(g->cum);
	memset(g, 0, sizeof *g);
}

/*
 * Builds glyph g from n >= 1 segments s (n x 4 file coordinates, each of
 * positive length).  With segment k of length L_k from a to b and L the
 * total, the arc-length-uniform distribution has
 *     mean m = sum_k L_k (a + b) / 2 / L
 *     var_x  = sum_k L_k (a'^2 + a' b' + b'^2) / 3 / L,  a' = a_x - m_x,
 * (the second moment of a uniform point on a segment), and likewise var_y.
 * Points map to ((x - m_x) s, -(y - m_y) s) with s = 1 / sqrt((var_x +
 * var_y) / 2).  Returns AM_OK or AM_ENOMEM (g untouched).
 */
static int glyph_build(struct hershey_glyph *g, const int *s, int n)
{
	double L = 0, mx = 0, my = 0, vx = 0, vy = 0, len, scale, acc = 0;
	double ax, ay, bx, by;
	float *seg;
	double *cum;
	int k;

	AM_ASSERT(n >= 1 && n <= HERSHEY_SEG_MAX);
	seg = malloc(4 * (size_t)n * sizeof *seg);
	cum = malloc((size_t)n * sizeof *cum);
	if (!seg || !cum) {
		free(seg);
		free(cum);
		return AM_ENOMEM;
	}
	for (k = 0; k < n; k++) {
		const int *p = s + 4 * k;

		len = hypot((double)(p[2] - p[0]), (double)(p[3] - p[1]));
		L += len;
		mx += len * (p[0] + p[2]) / 2.0;
		my += len * (p[1] + p[3]) / 2.0;
	}
	mx /= L;
	my /= L;
	for (k = 0; k < n; k++) {
		const int *p = s + 4 * k;

		len = hypot((double)(p[2] - p[0]), (double)(p[3] - p[1]));
		ax = p[0] - mx;
		ay = p[1] - my;
		bx = p[2] - mx;
		by = p[3] - my;
		vx += len * (ax * ax + ax * bx + bx * bx) / 3.0;
		vy += len * (ay * ay + ay * by + by * by) / 3.0;
	}
	vx /= L;
	vy /= L;
	/* Any segment of positive length has positive variance along it. */
	AM_ASSERT(vx + vy > 0);
	scale = 1.0 / sqrt((vx + vy) / 2.0);
	for (k = 0; k < n; k++) {
		const int *p = s + 4 * k;
		float *q = seg + 4 * k;

		q[0] = (float)((p[0] - mx) * scale);
		q[1] = (float)(-(p[1] - my) * scale);
		q[2] = (float)((p[2] - mx) * scale);
		q[3] = (float)(-(p[3] - my) * scale);
		/* Lengths of the stored segments, so the sampler's choice of
		 * segment matches the coordinates it interpolates. */
		acc += hypot((double)q[2] - q[0], (double)q[3] - q[1]);
		cum[k] = acc;
	}
	g->nseg = n;
	g->seg = seg;
	g->cum = cum;
	return AM_OK;
}

void hershey_font_free(struct hershey_font *f)
{
	int i;

	if (!f)
		return;
	for (i = 0; i < HERSHEY_LETTERS; i++)
		glyph_free(&f->glyph[i]);
	memset(f, 0, sizeof *f);
}

/* ---- the parser --------------------------------------------------------- */

/* Where the parser is in the text, and what to call it in messages. */
struct cursor {
	const char *text;
	size_t len;
	size_t pos;		/* next byte to read */
	size_t lstart;		/* offset of the current line's first byte */
	long line;		/* 1-based number of the current line */
	long rec;		/* 0-based number of the current record */
	const char *label;	/* the font's name or file, for messages */
	char *err;
	size_t errlen;
};

/*
 * Fails with a message naming the record, the line and the column of byte
 * offset at (on the current line): "label: record 33 ('A'), line 34,
 * column 9: ...".
 */
static int rec_fail(const struct cursor *c, size_t at, int status,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int rec_fail(const struct cursor *c, size_t at, int status,
		    const char *fmt, ...)
{
	char msg[200], what[16] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Records 1..94 are the printable ASCII codes 33..126. */
	if (c->rec >= 1 && c->rec <= 94)
		snprintf(what, sizeof what, " ('%c')", (int)c->rec + 32);
	return am_fail(c->err, c->errlen, status,
		    "%s: record %ld%s, line %ld, column %zu: %s", c->label,
		    c->rec, what, c->line, at - c->lstart + 1, msg);
}

/* Whether the cursor is at the end of a line: end of text, LF or CR LF. */
static int at_eol(const struct cursor *c)
{
	if (c->pos >= c->len)
		return 1;
	if (c->text[c->pos] == '\n')
		return 1;
	return c->text[c->pos] == '\r' && c->pos + 1 < c->len &&
	       c->text[c->pos + 1] == '\n';
}

/* Steps over the line end at the cursor (at_eol holds), if not at the end
 * of the text, onto the next line. */
static void eat_eol(struct cursor *c)
{
	if (c->pos >= c->len)
		return;
	c->pos += c->text[c->pos] == '\r' ? 2 : 1;
	c->line++;
	c->lstart = c->pos;
}

/* Describes byte ch for a message: 'x' when printable, 0xNN otherwise. */
static const char *byte_text(unsigned char ch, char *buf, size_t n)
{
	if (ch >= 0x20 && ch < 0x7f)
		snprintf(buf, n, "'%c'", ch);
	else
		snprintf(buf, n, "byte 0x%02x", (unsigned)ch);
	return buf;
}

/*
 * Reads a header field of width columns: blanks, then at least one digit,
 * nothing else, all on the record's first line.  Returns AM_OK with the
 * value in *value, or AM_EFORMAT.
 */
static int field_read(struct cursor *c, int width, const char *what, int *value)
{
	char bt[16];
	unsigned char ch;
	int k, v = 0, digits = 0;

	for (k = 0; k < width; k++) {
		if (at_eol(c))
			return rec_fail(c, c->pos, AM_EFORMAT,
					"the line ends inside the %s (a record starts with a 5-column glyph number and a 3-column pair count)",
					what);
		ch = (unsigned char)c->text[c->pos];
		if (ch >= '0' && ch <= '9') {
			v = v * 10 + (ch - '0');
			digits++;
		} else if (ch != ' ' || digits > 0) {
			return rec_fail(c, c->pos, AM_EFORMAT,
					"%s in the %s, which is blanks then digits",
					byte_text(ch, bt, sizeof bt), what);
		}
		c->pos++;
	}
	if (digits == 0)
		return rec_fail(c, c->pos - 1, AM_EFORMAT, "the %s is blank", what);
	*value = v;
	return AM_OK;
}

/*
 * Reads the next character of pair j (of npairs) into *ch and sets *at to
 * its offset.  At the end of a line the record continues on the next line
 * only when the line is exactly HERSHEY_WRAP_COLS columns long; anywhere
 * else the record is cut short.  Returns AM_OK or AM_EFORMAT.
 */
static int pair_char(struct cursor *c, int j, int npairs, unsigned char *ch,
		     size_t *at)
{
	if (at_eol(c) && c->pos < c->len &&
	    c->pos - c->lstart == HERSHEY_WRAP_COLS)
		eat_eol(c);
	if (at_eol(c))
		return rec_fail(c, c->pos, AM_EFORMAT,
				"%s after %d of the record's %d pairs (a record continues on the next line only after a line of exactly %d columns)",
				c->pos >= c->len ? "the text ends" : "the line ends",
				j, npairs, HERSHEY_WRAP_COLS);
	*at = c->pos;
	*ch = (unsigned char)c->text[c->pos++];
	return AM_OK;
}

/* Coordinate characters: printable ASCII without the blank, -49..44. */
static int coord_ok(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f;
}

/*
 * Parses the record at the cursor (at the start of a non-blank line) and
 * steps past its line end.  When seg is not NULL, the record's segments of
 * positive length go there (file coordinates, x0 y0 x1 y1) and their
 * number to *nseg.  Returns AM_OK or AM_EFORMAT.
 */
static int record_parse(struct cursor *c, int *seg, int *nseg)
{
	char bt[16];
	unsigned char ch1, ch2;
	size_t at1, at2;
	int number, npairs, j, x, y, px = 0, py = 0, pen = 0, n = 0, rc;

	rc = field_read(c, 5, "glyph number", &number);
	if (rc != AM_OK)
		return rc;
	rc = field_read(c, 3, "pair count", &npairs);
	if (rc != AM_OK)
		return rc;
	if (npairs < 1)
		return rec_fail(c, c->pos - 1, AM_EFORMAT,
				"pair count 0: every record has at least its margin pair");
	for (j = 0; j < npairs; j++) {
		rc = pair_char(c, j, npairs, &ch1, &at1);
		if (rc != AM_OK)
			return rc;
		if (ch1 != ' ' && !coord_ok(ch1))
			return rec_fail(c, at1, AM_EFORMAT,
					"%s in pair %d: coordinates are '!'..'~'",
					byte_text(ch1, bt, sizeof bt), j);
		rc = pair_char(c, j, npairs, &ch2, &at2);
		if (rc != AM_OK)
			return rc;
		if (!coord_ok(ch2))
			return rec_fail(c, at2, AM_EFORMAT,
					"%s in pair %d: coordinates are '!'..'~'",
					byte_text(ch2, bt, sizeof bt), j);
		if (ch1 == ' ' && ch2 != 'R')
			return rec_fail(c, at1, AM_EFORMAT,
					"pair %d is \" %c\": a blank starts only the pen-up pair \" R\"",
					j, ch2);
		if (j == 0) {
			if (ch1 == ' ')
				return rec_fail(c, at1, AM_EFORMAT,
						"the first pair is the margin, not a pen-up");
			continue;
		}
		if (ch1 == ' ') {
			pen = 0;
			continue;
		}
		x = ch1 - 'R';
		y = ch2 - 'R';
		/* A repeated vertex draws nothing: no zero-length segments. */
		if (pen && (x != px || y != py)) {
			if (seg) {
				seg[4 * n] = px;
				seg[4 * n + 1] = py;
				seg[4 * n + 2] = x;
				seg[4 * n + 3] = y;
			}
			n++;
		}
		px = x;
		py = y;
		pen = 1;
	}
	if (!at_eol(c))
		return rec_fail(c, c->pos, AM_EFORMAT,
				"%s after the record's %d pairs (is the count right?)",
				byte_text((unsigned char)c->text[c->pos], bt, sizeof bt),
				npairs);
	eat_eol(c);
	AM_ASSERT(n <= HERSHEY_SEG_MAX);
	if (nseg)
		*nseg = n;
	(void)number;
	return AM_OK;
}

/* hershey_parse with the label its messages start with. */
static int parse(const char *text, size_t len, const char *name,
		 const char *label, struct hershey_font *out, char *err,
		 size_t errlen)
{
	struct hershey_font f;
	struct cursor c;
	int seg[4 * PAIRS_MAX];
	int letter, n = 0, rc = AM_OK;

	AM_ASSERT(out && (text || len == 0));
	if (!name)
		name = "";
	if (strlen(name) >= HERSHEY_NAME_MAX)
		return am_fail(err, errlen, AM_EINVAL,
			    "font name '%.40s...' is longer than %d bytes",
			    name, HERSHEY_NAME_MAX - 1);
	if (len > HERSHEY_FILE_MAX)
		return am_fail(err, errlen, AM_ELIMIT, "%s: %zu bytes, the limit is %zu",
			    label, len, HERSHEY_FILE_MAX);
	if (len == 0)
		return am_fail(err, errlen, AM_EFORMAT, "%s: empty", label);

	memset(&f, 0, sizeof f);
	memcpy(f.name, name, strlen(name) + 1);
	memset(&c, 0, sizeof c);
	c.text = text;
	c.len = len;
	c.line = 1;
	c.label = label;
	c.err = err;
	c.errlen = errlen;
	while (c.pos < c.len) {
		/* Blank lines between records carry nothing. */
		if (at_eol(&c)) {
			eat_eol(&c);
			continue;
		}
		letter = record_letter(c.rec);
		rc = record_parse(&c, letter >= 0 ? seg : NULL, &n);
		if (rc != AM_OK)
			goto out;
		if (letter >= 0 && n > 0) {
			rc = glyph_build(&f.glyph[letter], seg, n);
			if (rc != AM_OK) {
				rc = am_fail(err, errlen, rc,
					  "%s: no memory for the %d segments of '%c'",
					  label, n, hershey_letter_char(letter));
				goto out;
			}
		}
		c.rec++;
	}
	if (c.rec == 0) {
		rc = am_fail(err, errlen, AM_EFORMAT, "%s: no records, only blank lines",
			  label);
		goto out;
	}
	*out = f;
	return AM_OK;
out:
	hershey_font_free(&f);
	return rc;
}

int hershey_parse(const char *text, size_t len, const char *name,
		  struct hershey_font *out, char *err, size_t errlen)
{
	return parse(text, len, name, name && *name ? name : "jhf", out, err,
		     errlen);
}

int hershey_load(const char *dir, struct hershey_set *out, char *err,
		 size_t errlen)
{
	struct hershey_set s = { 0, NULL };
	char path[4096];
	unsigned char *buf = NULL;
	size_t got = 0;
	int i, k, w, rc = AM_OK;

	AM_ASSERT(out);
	if (!dir)
		dir = HERSHEY_DIR;
	s.font = calloc(HERSHEY_NFONTS, sizeof *s.font);
	if (!s.font) {
		rc = am_fail(err, errlen, AM_ENOMEM, "no memory to load the fonts");
		goto out;
	}
	for (i = 0; i < HERSHEY_NFONTS; i++) {
		w = snprintf(path, sizeof path, "%s/%s.jhf", dir, font_names[i]);
		if (w < 0 || (size_t)w >= sizeof path) {
			rc = am_fail(err, errlen, AM_EINVAL,
				  "font directory path is too long (%zu bytes)",
				  strlen(dir));
			goto out;
		}
		/* A file that shrinks while it is read parses as truncated. */
		rc = amfile_slurp(path, HERSHEY_FILE_MAX, &buf, &got, err, errlen);
		if (rc != AM_OK)
			goto out;
		rc = parse((const char *)buf, got, font_names[i], path, &s.font[i],
			   err, errlen);
		free(buf);
		buf = NULL;
		if (rc != AM_OK)
			goto out;
		s.nfonts = i + 1;
		for (k = 0; k < HERSHEY_LETTERS; k++)
			if (s.font[i].glyph[k].nseg == 0) {
				w = hershey_letter_char(k);
				rc = am_fail(err, errlen, AM_EFORMAT,
					  "%s: letter '%c' (record %d) draws nothing: the letter family needs all %d letters of every font",
					  path, w, w - 32, HERSHEY_LETTERS);
				goto out;
			}
	}
	*out = s;
	s.font = NULL;
	s.nfonts = 0;
out:
	free(buf);
	hershey_free(&s);
	return rc;
}

void hershey_free(struct hershey_set *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->nfonts; i++)
		hershey_font_free(&s->font[i]);
	free(s->font);
	s->font = NULL;
	s->nfonts = 0;
}

/* ---- sampling ----------------------------------------------------------- */

void hershey_sample(const struct hershey_glyph *g, struct rng *r, int n,
		    float noise_sd, float *X, int stride)
{
	const float *q;
	double total, u, prev, len, t, e1, e2;
	int i, lo, hi, mid;

	AM_ASSERT(g && r && n >= 0 && stride >= 2 && (X || n == 0));
	AM_ASSERT(g->nseg >= 1 && g->seg && g->cum);
	AM_ASSERT(isfinite(noise_sd) && noise_sd >= 0);
	total = g->cum[g->nseg - 1];
	for (i = 0; i < n; i++) {
		/* The segment k with cum[k - 1] <= u < cum[k]: a point uniform
		 * by arc length over the whole glyph. */
		u = rng_uniform(r) * total;
		lo = 0;
		hi = g->nseg - 1;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (g->cum[mid] > u)
				hi = mid;
			else
				lo = mid + 1;
		}
		prev = lo > 0 ? g->cum[lo - 1] : 0.0;
		len = g->cum[lo] - prev;
		t = len > 0 ? (u - prev) / len : 0.0;
		if (t > 1)
			t = 1;
		q = g->seg + 4 * lo;
		e1 = rng_normal(r);
		e2 = rng_normal(r);
		X[(size_t)i * (size_t)stride] =
			(float)(q[0] + t * (q[2] - q[0]) + noise_sd * e1);
		X[(size_t)i * (size_t)stride + 1] =
			(float)(q[1] + t * (q[3] - q[1]) + noise_sd * e2);
	}
}
