/*
 * csv.c - the streaming CSV-of-numbers reader (see csv.h for the format).
 *
 * Lines come out of one buffer of CSV_LINE_MAX + 3 bytes (a line, CR, LF
 * and a terminating NUL) refilled with fread, so memory does not depend on
 * the file.  A line is split in place: separators and closing quotes
 * become NULs, and quoted fields are unescaped where they stand.
 */
#include "cli/csv.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_BUF (CSV_LINE_MAX + 3)

struct csv {
	FILE *f;
	int own;			/* f is ours to fclose */
	char *name;
	char *buf;			/* CSV_BUF bytes */
	size_t pos, end;		/* unread bytes are buf[pos, end) */
	int eof;
	long long line;			/* physical lines read so far */
	long long blank;		/* first blank line since the last record */
	long long row_line;		/* line of the last record returned */
	int cols;
	int pending;			/* the first line was data: return it next */
	double *vals;			/* cols */
	char **fields;			/* cols, pointers into buf */
	char *hdr_text;			/* the header's names, NUL-separated */
	char **hdr;			/* cols, into hdr_text; NULL: no header */
};

/* What parse_number found. */
enum {
	NUM_OK = 0,
	NUM_NOT,			/* not a number at all */
	NUM_NONFINITE,			/* nan or inf written out */
	NUM_RANGE,			/* beyond double range */
};

static void fail(const struct csv *c, char *err, size_t errlen,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes "NAME: " and the formatted message into err. */
static void fail(const struct csv *c, char *err, size_t errlen,
		 const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return;
	n = snprintf(err, errlen, "%s: ", c->name);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Copies at most 40 bytes of s into out (64 bytes) for a message, with
 * control bytes shown as '?' and "..." when cut. */
static void show(char *out, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < 40; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	strcpy(out + i, s[i] ? "..." : "");
}

/* Parses a whole field as a double. */
static int parse_number(const char *s, double *v)
{
	char *end;

	if (!*s)
		return NUM_NOT;
	errno = 0;
	*v = strtod(s, &end);
	if (end == s || *end)
		return NUM_NOT;
	if (!isfinite(*v))
		return errno == ERANGE ? NUM_RANGE : NUM_NONFINITE;
	return NUM_OK;
}

/*
 * Reads the next physical line into *line (NUL-terminated, CR and LF
 * removed, inside buf) and counts it.  Returns 1, 0 at the end of the
 * file, or -1 with a message.
 */
static int read_line(struct csv *c, char **line, size_t *len, char *err,
		     size_t errlen)
{
	char *s, *nl;
	size_t n;

	for (;;) {
		nl = memchr(c->buf + c->pos, '\n', c->end - c->pos);
		if (nl || (c->eof && c->pos < c->end))
			break;
		if (c->eof)
			return 0;
		if (c->pos > 0) {
			memmove(c->buf, c->buf + c->pos, c->end - c->pos);
			c->end -= c->pos;
			c->pos = 0;
		}
		if (c->end == CSV_BUF - 1) {
			fail(c, err, errlen, "line %lld: longer than %d bytes",
			     c->line + 1, CSV_LINE_MAX);
			return -1;
		}
		n = fread(c->buf + c->end, 1, CSV_BUF - 1 - c->end, c->f);
		if (n == 0) {
			if (ferror(c->f)) {
				fail(c, err, errlen, "read error at line %lld: %s",
				     c->line + 1, strerror(errno));
				return -1;
			}
			c->eof = 1;
		}
		c->end += n;
	}
	s = c->buf + c->pos;
	n = nl ? (size_t)(nl - s) : c->end - c->pos;
	c->pos += nl ? n + 1 : n;
	c->line++;
	if (n && s[n - 1] == '\r')
		n--;
	if (n > CSV_LINE_MAX) {
		fail(c, err, errlen, "line %lld: longer than %d bytes", c->line,
		     CSV_LINE_MAX);
		return -1;
	}
	if (memchr(s, '\0', n)) {
		fail(c, err, errlen, "line %lld: contains a NUL byte (not a text file?)",
		     c->line);
		return -1;
	}
	s[n] = '\0';
	*line = s;
	*len = n;
	return 1;
}

static int is_blank(const char *s)
{
	return s[strspn(s, " \t\r")] == '\0';
}

/*
 * Reads lines up to the next non-blank one.  A blank line followed by data
 * is an error; blank lines before the end of the file are not.
 */
static int next_record(struct csv *c, char **line, char *err, size_t errlen)
{
	size_t len;
	int rc;

	for (;;) {
		rc = read_line(c, line, &len, err, errlen);
		if (rc <= 0)
			return rc;
		if (c->line == 1 && len >= 3 && !memcmp(*line, "\xef\xbb\xbf", 3))
			*line += 3;		/* UTF-8 byte-order mark */
		if (!is_blank(*line))
			break;
		if (!c->blank)
			c->blank = c->line;
	}
	if (c->blank) {
		fail(c, err, errlen, "line %lld is blank but data follows on line %lld",
		     c->blank, c->line);
		return -1;
	}
	return 1;
}

/* Counts the fields of a line without changing it: commas outside quotes,
 * plus one. */
static int count_fields(const char *s)
{
	int n = 1, quoted = 0;

	for (; *s; s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (*s == ',' && !quoted)
			n++;
	}
	return n;
}

/*
 * Splits line in place into fields, trimmed and unquoted, storing the first
 * max of them in fields and the count in *nf.  Returns 0, or -1 with a
 * message on bad quoting.
 */
static int split(struct csv *c, char *line, char **fields, int max, int *nf,
		 char *err, size_t errlen)
{
	char *p = line, *q, *out;
	int n = 0;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '"') {
			out = p;
			q = p + 1;
			for (;;) {
				if (!*q) {
					fail(c, err, errlen, "line %lld, field %d: "
					     "quote not closed", c->line, n + 1);
					return -1;
				}
				if (*q == '"' && q[1] != '"')
					break;
				if (*q == '"')
					q++;
				*out++ = *q++;
			}
			q++;
			q += strspn(q, " \t");
			if (*q && *q != ',') {
				fail(c, err, errlen, "line %lld, field %d: text after "
				     "the closing quote", c->line, n + 1);
				return -1;
			}
			*out = '\0';
		} else {
			q = p + strcspn(p, ",");
			for (out = q; out > p && (out[-1] == ' ' || out[-1] == '\t'); out--)
				;
			if (memchr(p, '"', (size_t)(q - p))) {
				fail(c, err, errlen, "line %lld, field %d: a quote inside "
				     "an unquoted field", c->line, n + 1);
				return -1;
			}
		}
		if (n < max)
			fields[n] = p;
		n++;
		if (!*q) {
			*out = '\0';
			break;
		}
		*out = '\0';
		p = q + 1;
	}
	*nf = n;
	return 0;
}

/* Parses the c->cols fields of the current line into c->vals. */
static int parse_fields(struct csv *c, char *err, size_t errlen)
{
	char shown[64];
	int j, rc;

	for (j = 0; j < c->cols; j++) {
		rc = parse_number(c->fields[j], &c->vals[j]);
		if (rc == NUM_OK)
			continue;
		show(shown, c->fields[j]);
		if (rc == NUM_NOT && !c->fields[j][0])
			fail(c, err, errlen, "line %lld, field %d is empty", c->line, j + 1);
		else
			fail(c, err, errlen, "line %lld, field %d: '%s' is %s", c->line,
			     j + 1, shown, rc == NUM_NOT ? "not a number" :
			     rc == NUM_RANGE ? "out of range" : "not finite");
		return -1;
	}
	return 0;
}

/* Keeps a copy of the header's names (the fields of the current line). */
static int keep_header(struct csv *c)
{
	size_t total = 0, k;
	char *p;
	int j;

	for (j = 0; j < c->cols; j++)
		total += strlen(c->fields[j]) + 1;
	c->hdr_text = malloc(total);
	c->hdr = malloc((size_t)c->cols * sizeof *c->hdr);
	if (!c->hdr_text || !c->hdr)
		return -1;
	p = c->hdr_text;
	for (j = 0; j < c->cols; j++) {
		k = strlen(c->fields[j]) + 1;
		memcpy(p, c->fields[j], k);
		c->hdr[j] = p;
		p += k;
	}
	return 0;
}

/* Reads the first non-blank line: sets the column count, and keeps it as
 * the header or as the pending first record. */
static int read_first(struct csv *c, char *err, size_t errlen)
{
	char *line;
	double v;
	int rc, nf, j, header = 0;

	rc = next_record(c, &line, err, errlen);
	if (rc <= 0)
		return rc;
	c->row_line = c->line;
	c->cols = count_fields(line);
	c->vals = malloc((size_t)c->cols * sizeof *c->vals);
	c->fields = malloc((size_t)c->cols * sizeof *c->fields);
	if (!c->vals || !c->fields) {
		fail(c, err, errlen, "out of memory");
		return -1;
	}
	if (split(c, line, c->fields, c->cols, &nf, err, errlen))
		return -1;
	if (nf != c->cols) {		/* count_fields and split disagree on quotes */
		fail(c, err, errlen, "line %lld: malformed quoting", c->line);
		return -1;
	}
	for (j = 0; j < c->cols; j++)
		if (parse_number(c->fields[j], &v) == NUM_NOT)
			header = 1;
	if (header) {
		if (keep_header(c)) {
			fail(c, err, errlen, "out of memory");
			return -1;
		}
		return 1;
	}
	if (parse_fields(c, err, errlen))
		return -1;
	c->pending = 1;
	return 1;
}

struct csv *csv_open(const char *path, char *err, size_t errlen)
{
	struct csv *c = calloc(1, sizeof *c);
	int std = !strcmp(path, "-");

	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	c->name = strdup(std ? "stdin" : path);
	c->buf = malloc(CSV_BUF);
	if (!c->name || !c->buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	c->f = std ? stdin : fopen(path, "rb");
	if (!c->f) {
		fail(c, err, errlen, "%s", strerror(errno));
		goto fail;
	}
	c->own = !std;
	if (read_first(c, err, errlen) < 0)
		goto fail;
	return c;
fail:
	csv_close(c);
	return NULL;
}

void csv_close(struct csv *c)
{
	if (!c)
		return;
	if (c->own)
		fclose(c->f);
	free(c->hdr);
	free(c->hdr_text);
	free(c->fields);
	free(c->vals);
	free(c->buf);
	free(c->name);
	free(c);
}

int csv_cols(const struct csv *c)
{
	return c->cols;
}

const char *csv_header(const struct csv *c, int i)
{
	return c->hdr && i >= 0 && i < c->cols ? c->hdr[i] : NULL;
}

const char *csv_name(const struct csv *c)
{
	return c->name;
}

long long csv_line(const struct csv *c)
{
	return c->row_line;
}

int csv_next(struct csv *c, const double **row, char *err, size_t errlen)
{
	char *line;
	int rc, nf;

	if (c->pending) {
		c->pending = 0;
		*row = c->vals;
		return 1;
	}
	if (!c->cols)
		return 0;
	rc = next_record(c, &line, err, errlen);
	if (rc <= 0)
		return rc;
	if (split(c, line, c->fields, c->cols, &nf, err, errlen))
		return -1;
	if (nf != c->cols) {
		fail(c, err, errlen, "line %lld: %d field%s, expected %d", c->line,
		     nf, nf == 1 ? "" : "s", c->cols);
		return -1;
	}
	if (parse_fields(c, err, errlen))
		return -1;
	c->row_line = c->line;
	*row = c->vals;
	return 1;
}
