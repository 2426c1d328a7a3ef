/*
 * scaler.c - first-batch standardization, for sessions and amort adapt.
 */
#include "family/scaler.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "base/am.h"

void scaler_init(struct scaler *s, int on)
{
	int j;

	s->mode = on ? SCALER_PENDING : SCALER_OFF;
	for (j = 0; j < SCALER_COLS; j++) {
		s->mean[j] = 0;
		s->sd[j] = 1;
	}
}

/* Mean and population sd of n values at v[0], v[stride], ... in two
 * passes (deviations, not raw squares, are summed), rounded to floats. */
static int column_stats(const double *v, int n, int stride, float *mean,
			float *sd)
{
	double s = 0, ss = 0, mu, d;
	float fm, fs;
	int i, constant;

	for (i = 0; i < n; i++)
		s += v[(size_t)i * stride];
	mu = s / n;
	for (i = 0; i < n; i++) {
		d = v[(size_t)i * stride] - mu;
		ss += d * d;
	}
	d = sqrt(ss / n);
	fm = (float)mu;
	fs = (float)d;
	/* a column constant up to rounding is only centred; so is one whose
	 * sd does not survive the rounding to a positive float */
	constant = !(d > SCALER_SD_REL * fabs(mu)) || !(fs > 0) || !isfinite(fs);
	*mean = fm;
	*sd = constant ? 1 : fs;
	return constant;
}

/* Both fits: input j of row i at x[i * ldx + j], y at y[i * ldy]. */
static int fit(struct scaler *s, const double *x, int ldx, const double *y,
	       int ldy, int n, int D, unsigned char *constant)
{
	int j, nconst = 0;

	if (constant)
		memset(constant, 0, SCALER_COLS);
	if (s->mode != SCALER_PENDING || n < 1)
		return 0;
	for (j = 0; j < SCALER_COLS; j++) {
		const double *v = j < D ? x + j : j == SCALER_Y ? y : NULL;
		int c = 0;

		if (v)
			c = column_stats(v, n, j < D ? ldx : ldy, &s->mean[j],
					 &s->sd[j]);
		else {
			s->mean[j] = 0;
			s->sd[j] = 1;
		}
		if (constant)
			constant[j] = (unsigned char)c;
		nconst += c;
	}
	s->mode = SCALER_FITTED;
	return nconst;
}

void scaler_fit(struct scaler *s, const double *x, const double *y, int n,
		int D)
{
	fit(s, x, D, y, 1, n, D, NULL);
}

int scaler_fit_rows(struct scaler *s, const double *rows, int stride, int n,
		    int D, int has_y, unsigned char *constant)
{
	AM_ASSERT(stride >= D + has_y);
	return fit(s, rows, stride, has_y ? rows + D : NULL, stride, n, D,
		   constant);
}

int scaler_map(const struct scaler *s, int j, double v, float *z)
{
	double t = s->mode == SCALER_FITTED ? (v - s->mean[j]) / s->sd[j] : v;

	if (!(fabs(t) <= FLT_MAX))
		return -1;
	*z = (float)t;
	return 0;
}

void scaler_unmap(const struct scaler *s, double zmean, double zvar,
		  double *mean, double *var)
{
	double sd = s->sd[SCALER_Y];

	if (s->mode != SCALER_FITTED) {
		*mean = zmean;
		*var = zvar;
		return;
	}
	*mean = s->mean[SCALER_Y] + sd * zmean;
	*var = sd * sd * zvar;
}

double scaler_unmap_x(const struct scaler *s, int j, double z)
{
	if (s->mode != SCALER_FITTED)
		return z;
	return s->mean[j] + (double)s->sd[j] * z;
}

double scaler_unmap_log_density(const struct scaler *s, int D, double lz)
{
	double logdet = 0;
	int j;

	if (s->mode != SCALER_FITTED)
		return lz;
	/* x = mean + sd * z column by column: the Jacobian dz/dx is
	 * diag(1 / sd), so log p_x(x) = log p_z(z) - sum_j log sd_j */
	for (j = 0; j < D; j++)
		logdet += log((double)s->sd[j]);
	return lz - logdet;
}

void scaler_pack(const struct scaler *s, float *out)
{
	out[0] = (float)s->mode;
	memcpy(out + 1, s->mean, sizeof s->mean);
	memcpy(out + 1 + SCALER_COLS, s->sd, sizeof s->sd);
}

/* Checks and keeps t (mode read from in[0]); the common end of both
 * unpackers. */
static int unpack_checked(struct scaler *s, struct scaler *t, float mode)
{
	int j;

	if (mode != 0 && mode != 1 && mode != 2)
		return -1;
	t->mode = (enum scaler_mode)(int)mode;
	for (j = 0; j < SCALER_COLS; j++)
		if (!isfinite(t->mean[j]) || !isfinite(t->sd[j]) || !(t->sd[j] > 0))
			return -1;
	*s = *t;
	return 0;
}

int scaler_unpack(struct scaler *s, const float *in)
{
	struct scaler t;

	memcpy(t.mean, in + 1, sizeof t.mean);
	memcpy(t.sd, in + 1 + SCALER_COLS, sizeof t.sd);
	return unpack_checked(s, &t, in[0]);
}

int scaler_unpack_legacy(struct scaler *s, const float *in)
{
	const int n = SCALER_LEGACY_DMAX;	/* x0..x15; y follows */
	struct scaler t;
	int j;

	for (j = 0; j < SCALER_COLS; j++) {
		t.mean[j] = 0;
		t.sd[j] = 1;
	}
	memcpy(t.mean, in + 1, (size_t)n * sizeof *in);
	memcpy(t.sd, in + 1 + (n + 1), (size_t)n * sizeof *in);
	t.mean[SCALER_Y] = in[1 + n];
	t.sd[SCALER_Y] = in[1 + (n + 1) + n];
	return unpack_checked(s, &t, in[0]);
}
