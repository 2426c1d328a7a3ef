/*
 * scaler.h - the standardization of a session's columns: the one map both
 * the daemon's sessions and `amort adapt` use.
 *
 * The amortizer was meta-trained on inputs x ~ N(0, I) and targets made by
 * unit-scale weights; real columns come in any units.  A session that
 * standardizes (the default) takes the mean and the population sd of every
 * input column and of y from its FIRST mini-batch and maps every later row
 * and every predict input with them, z = (v - mean) / sd; predictions come
 * back in y's units, mean = mean_y + sd_y * zhat, variance = sd_y^2 * var.
 *
 * Models without a target (generative: rows are x only) standardize only
 * the x columns; the y column stays the identity.  What they answer maps
 * back to the data's units: a sample is x_j = mean_j + sd_j * z_j, and a
 * log-density, by the change of variables x = mean + sd * z over the D
 * active columns, is
 *
 *     log p_x(x) = log p_z(z) - sum_{j<D} log sd_j.
 *
 * Until the first batch (PENDING) and when standardization is off, every
 * map is the identity: values are in the model's own standardized units.
 * A column whose sd in that batch is at most 1e-6 of its mean's magnitude
 * (or zero) is constant up to rounding: it is only centred (sd set to 1).
 * The statistics are kept in single precision (rounded once, when fitted),
 * so the map in memory and the one stored with the session are the same
 * numbers and a restarted daemon predicts bit for bit as before.
 *
 * Column j < AMZ_DMAX is input j; column AMZ_DMAX is y.
 *
 * Stored form (SCALER_FLOATS floats, after the session's state floats in
 * its state blob; sessions.h):
 *   [0]                        mode: 0 pending, 1 fitted, 2 off
 *   [1 .. 1+SCALER_COLS)       mean of x0..x63, y
 *   [1+SCALER_COLS .. end)     sd of x0..x63, y (1 for a centred column)
 * Databases written while AMZ_DMAX was 16 hold the legacy form of
 * SCALER_LEGACY_FLOATS floats, the same layout over x0..x15 and y;
 * scaler_unpack_legacy reads it (the columns past x15 are the identity).
 *
 * Plain arithmetic on caller-owned structs: no allocation, thread-safe on
 * distinct arguments.
 */
#ifndef SCALER_H
#define SCALER_H

#include "family/amz.h"

#define SCALER_COLS (AMZ_DMAX + 1)
#define SCALER_Y AMZ_DMAX
#define SCALER_FLOATS (1 + 2 * SCALER_COLS)
#define SCALER_SD_REL 1e-6
#define SCALER_LEGACY_DMAX 16	/* inputs of the legacy stored form */
#define SCALER_LEGACY_FLOATS (1 + 2 * (SCALER_LEGACY_DMAX + 1))

enum scaler_mode {
	SCALER_PENDING = 0,	/* standardizes; statistics not taken yet */
	SCALER_FITTED = 1,	/* standardizes with mean and sd */
	SCALER_OFF = 2,		/* raw values (identity) */
};

struct scaler {
	enum scaler_mode mode;
	float mean[SCALER_COLS];
	float sd[SCALER_COLS];
};

/* A scaler that standardizes from the first batch (on) or never (off). */
void scaler_init(struct scaler *s, int on);

/*
 * Takes the statistics from n >= 1 rows: x holds n rows of D values (row
 * stride D, 1 <= D <= AMZ_DMAX) and y n values, or NULL for rows without
 * a target (the y column is then the identity), all finite and within
 * single precision.  Only a PENDING scaler changes (to FITTED); others are
 * left as they are.
 */
void scaler_fit(struct scaler *s, const double *x, const double *y, int n,
		int D);

/*
 * The same from n rows of `stride` doubles each (stride >= D + has_y):
 * inputs in columns 0..D-1, y in column D when has_y.  constant (may be
 * NULL; SCALER_COLS flags, index SCALER_Y for y) receives 1 for each
 * column found constant (only centred).  Returns the number of such
 * columns (0 when the scaler was not PENDING).
 */
int scaler_fit_rows(struct scaler *s, const double *rows, int stride, int n,
		    int D, int has_y, unsigned char *constant);

/* Maps value v of column j.  Returns 0 with *z set, or -1 if the result
 * is beyond single precision (*z untouched).  Identity unless FITTED. */
int scaler_map(const struct scaler *s, int j, double v, float *z);

/* Maps a prediction (mean and variance in standardized units) back to y's
 * units.  Identity unless FITTED. */
void scaler_unmap(const struct scaler *s, double zmean, double zvar,
		  double *mean, double *var);

/* Maps a standardized value z of input column j back to the data's units,
 * mean_j + sd_j * z (not rounded: the caller checks the range).  Identity
 * unless FITTED. */
double scaler_unmap_x(const struct scaler *s, int j, double z);

/* Maps a log-density over the D active input columns in standardized
 * units back to the data's units: lz - sum_{j<D} log sd_j.  Identity
 * unless FITTED. */
double scaler_unmap_log_density(const struct scaler *s, int D, double lz);

/* Writes the stored form into out (SCALER_FLOATS floats). */
void scaler_pack(const struct scaler *s, float *out);

/* Reads the stored form.  Returns 0, or -1 if it is not one scaler_pack
 * writes (unknown mode, non-finite values, sd <= 0); *s untouched then. */
int scaler_unpack(struct scaler *s, const float *in);

/* Reads the legacy stored form (SCALER_LEGACY_FLOATS floats, x0..x15 and
 * y) into a scaler of the current width: inputs 16.. are the identity
 * (mean 0, sd 1), as scaler_fit leaves the columns past a session's D.
 * Returns 0, or -1 as scaler_unpack. */
int scaler_unpack_legacy(struct scaler *s, const float *in);

#endif
