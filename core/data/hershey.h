/*
 * hershey.h - letters of the Hershey vector fonts as 2-D point clouds.
 *
 * One task of the letter family is one glyph (a letter) in one font; its
 * samples are points drawn uniformly by arc length along the glyph's strokes,
 * plus isotropic Gaussian noise.  This module reads the fonts from the .jhf
 * files of Debian's hershey-fonts-data package, turns each letter into
 * normalized line segments, and samples from them.
 *
 * The .jhf format (James Hurt's encoding of Hershey's coordinates), as this
 * parser reads it:
 *   - one record per glyph: columns 1-5 the glyph number (leading blanks,
 *     then digits; ignored), columns 6-8 the number of character pairs that
 *     follow (leading blanks, then digits, 1..999), then the pairs;
 *   - a pair is two characters, each a coordinate c - 'R' (so 'R' is 0,
 *     'Q' is -1, 'S' is 1); coordinate characters are '!'..'~'; x grows to
 *     the right and y grows downwards;
 *   - the first pair is the glyph's left and right margin (unused here);
 *   - the pair " R" (blank, 'R') lifts the pen: the next vertex starts a new
 *     stroke; every other vertex is joined to the one before it;
 *   - a record ends at the end of its line, but a long record may continue
 *     on the next line when its line is exactly HERSHEY_WRAP_COLS columns
 *     long (the Usenet distribution wraps at 72; Debian's files do not wrap
 *     at all, one record per line however long);
 *   - lines end in LF or CR LF; blank lines between records are allowed;
 *   - records come in ASCII order from 32 (space) in the Latin fonts, so
 *     the letter c is record c - 32: 'A' is record 33, 'a' record 65.
 * The glyph numbers in Debian's files are mostly the placeholder 12345,
 * which is why the position of a record, not its number, names the letter.
 *
 * Normalization of a glyph (exact, from the segments): y is flipped so up
 * is positive; the glyph is translated so that the arc-length-uniform
 * distribution on its strokes has mean 0, and scaled by one factor (aspect
 * ratio kept) so that the mean of that distribution's two per-axis
 * variances is 1.  Zero-length segments (a vertex repeated, a one-vertex
 * stroke) are dropped; a glyph left without segments has nseg 0.
 *
 * A parsed font owns its segment and length arrays (hershey_font_free), a
 * loaded set owns its fonts (hershey_free).  Everything here treats font
 * files as untrusted: sizes are bounded, every character is checked, and a
 * bad file is refused with a status from am.h and a message naming the
 * record and line, never a crash.  Never prints.  Thread-safe on distinct
 * arguments; a loaded set is read-only and may be shared by threads that
 * sample with their own struct rng.
 */
#ifndef HERSHEY_H
#define HERSHEY_H

#include <stddef.h>

#include "base/rng.h"

#define HERSHEY_DIR "/usr/share/hershey-fonts"	/* hershey-fonts-data */
#define HERSHEY_LETTERS 52	/* 'A'..'Z' then 'a'..'z' */
#define HERSHEY_SEG_MAX 2048	/* segments in one glyph: bound for untrusted files */
#define HERSHEY_FILE_MAX ((size_t)1 << 20)	/* bytes of one .jhf file */
#define HERSHEY_WRAP_COLS 72	/* a record continues only after a line this long */
#define HERSHEY_NAME_MAX 32	/* bytes of a font name, NUL included */
#define HERSHEY_NFONTS 11	/* fonts hershey_load reads */

/* One glyph: nseg segments (x0, y0, x1, y1), normalized as above, and the
 * running sums of their lengths (cum[k] = length of segments 0..k, so
 * cum[nseg - 1] is the total).  nseg 0 means no strokes; then both
 * pointers are NULL. */
struct hershey_glyph {
	int nseg;
	float *seg;		/* nseg x 4, owned */
	double *cum;		/* nseg, owned */
};

/* The 52 letters of one font, indexed by hershey_letter_index. */
struct hershey_font {
	char name[HERSHEY_NAME_MAX];
	struct hershey_glyph glyph[HERSHEY_LETTERS];
};

/* The fonts of the letter family, in the fixed order of hershey_load. */
struct hershey_set {
	int nfonts;
	struct hershey_font *font;	/* nfonts, owned */
};

/* Maps 'A'..'Z' to 0..25 and 'a'..'z' to 26..51; anything else to -1. */
int hershey_letter_index(int c);

/* The letter of index i in 0..HERSHEY_LETTERS-1 (the inverse of
 * hershey_letter_index); -1 for any other i. */
int hershey_letter_char(int i);

/*
 * Parses the text of one .jhf file (len bytes at text, untrusted, need not
 * be NUL-terminated) into *out under the given name (at most
 * HERSHEY_NAME_MAX - 1 bytes; NULL means "").  Every record is checked;
 * the records of letters ('A'..'Z' at 33..58, 'a'..'z' at 65..90) become
 * glyphs, letters whose records are missing (a short file) or draw nothing
 * get nseg 0.  On success *out is filled and owns its arrays (release them
 * with hershey_font_free).  On failure *out is untouched and the status is
 * AM_EFORMAT (empty, no records, a bad header, count or character, a
 * record cut short or followed by extra characters), AM_ELIMIT (len over
 * HERSHEY_FILE_MAX), AM_EINVAL (name too long) or AM_ENOMEM; err (may be
 * NULL) receives a message of at most errlen bytes naming the record, its
 * line and column.
 */
int hershey_parse(const char *text, size_t len, const char *name,
		  struct hershey_font *out, char *err, size_t errlen);

/* Frees the arrays of a font filled by hershey_parse and zeroes it.
 * NULL-safe. */
void hershey_font_free(struct hershey_font *f);

/*
 * Loads the letter family's HERSHEY_NFONTS fonts from dir (NULL means
 * HERSHEY_DIR), each from "<dir>/<name>.jhf": futural, futuram, rowmant,
 * timesr, timesi, timesib, scripts, scriptc, gothiceng, gothicger,
 * gothicita, in that order.  The package's other Latin files repeat these
 * letters exactly (rowmans and meteorology = futural, rowmand = futuram,
 * timesrb = rowmant, cursive = scripts, music = timesi, gothgbt, gothgrt and
 * gothitt = the three gothics) and are left out so no glyph appears twice;
 * the Greek, Cyrillic, Japanese, symbol and marker files have no Latin
 * letters.  Each file must be a regular file of at most HERSHEY_FILE_MAX
 * bytes, and every font must draw all 52 letters.  On success fills *out
 * (release with hershey_free); on failure *out is untouched and the status
 * is AM_EIO (a file missing or unreadable), AM_ELIMIT, AM_EFORMAT (a bad
 * file or a letter without strokes), AM_EINVAL (dir too long) or
 * AM_ENOMEM, with a message naming the file in err (may be NULL).
 */
int hershey_load(const char *dir, struct hershey_set *out, char *err,
		 size_t errlen);

/* Frees every font of a set and zeroes it.  NULL-safe. */
void hershey_free(struct hershey_set *s);

/*
 * Draws n points from glyph g (nseg >= 1): a point uniform by arc length on
 * the strokes plus noise_sd (finite, >= 0) times a standard normal on each
 * axis.  Point i goes to X[i * stride] (x) and X[i * stride + 1] (y),
 * stride >= 2; other entries are not touched.  Every point takes one
 * uniform and two normals from r, whatever noise_sd is, so the same stream
 * gives the same positions on the strokes at every noise level.  An empty
 * glyph or a bad argument is a programming error (AM_ASSERT).
 */
void hershey_sample(const struct hershey_glyph *g, struct rng *r, int n,
		    float noise_sd, float *X, int stride);

#endif
