/*
 * csv.h - a streaming reader for CSV files of numbers, the way the tools
 * take tabular data from users.
 *
 * The format read: fields separated by commas, one record per line, LF or
 * CRLF line ends, an optional UTF-8 byte-order mark.  A field may be
 * enclosed in double quotes ("" inside stands for one quote; a quoted field
 * cannot span lines); spaces and tabs around a field are ignored.  The
 * first non-blank line is a header if any of its fields is not a number;
 * every later field must be a finite number (NaN, Inf and values beyond
 * double range are errors).  Every record has the same number of fields as
 * the first line.  Blank lines (empty or only spaces, tabs and CR) are
 * tolerated at the end of the file and nowhere else.
 *
 * What it owns: one read buffer of CSV_LINE_MAX bytes and a few, the first
 * line's field count of doubles, and the header's names.  Rows are read
 * one at a time, so a file of any length is read in bounded memory; what
 * to keep is the caller's choice.
 *
 * What it never does: print, exit, or allocate in proportion to the number
 * of rows.  Every message it returns names the file and the line.
 */
#ifndef CSV_H
#define CSV_H

#include <stddef.h>

#define CSV_LINE_MAX 65536		/* bytes in one line, without its end */

struct csv;

/*
 * Opens path ("-" reads standard input, named "stdin" in messages) and
 * reads up to its first non-blank line, so that csv_cols and csv_header
 * answer at once.  Returns a new reader (close with csv_close), or NULL
 * with a message in err: the file cannot be opened or read, the first line
 * is too long or malformed, or it holds numbers and one is not finite.
 * An empty file (or only blank lines) opens with zero columns.
 */
struct csv *csv_open(const char *path, char *err, size_t errlen);

/* Closes the file (not standard input) and frees the reader; NULL-safe. */
void csv_close(struct csv *c);

/* Fields per record, as set by the first non-blank line; 0 for an empty
 * file. */
int csv_cols(const struct csv *c);

/* The name of column i (0-based) from the header line, unquoted and
 * trimmed, borrowed until csv_close; NULL if the file has no header or i
 * is out of range.  The bytes are the file's: sanitise before printing. */
const char *csv_header(const struct csv *c, int i);

/* The file's name as messages give it (borrowed, valid until csv_close). */
const char *csv_name(const struct csv *c);

/* The line number of the record last returned by csv_next (1-based), or
 * of the first non-blank line before any; 0 for an empty file. */
long long csv_line(const struct csv *c);

/*
 * Reads the next record.  Returns 1 and points *row at csv_cols(c)
 * doubles (borrowed, valid until the next call or csv_close); 0 at the end
 * of the data; -1 with "NAME: line N...: message" in err on a ragged row,
 * a field that is not a finite number, a line longer than CSV_LINE_MAX,
 * a NUL byte, bad quoting, a blank line followed by more data, or a read
 * error.  After -1 the reader should only be closed.
 */
int csv_next(struct csv *c, const double **row, char *err, size_t errlen);

#endif
