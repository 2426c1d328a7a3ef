/*
 * test_scaler.c - a session's standardization: statistics of the first
 * mini-batch (with and without a target column), the maps to and from the
 * model's units for inputs, predictions, samples and log-densities, and
 * the stored form.
 *
 * The log-density map is checked against the closed form: for a Gaussian
 * column x ~ N(m, s^2), mapping z = (x - m) / s and scoring z under N(0, 1)
 * must give back log N(x; m, s^2) once mapped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "family/scaler.h"

#define LOG_2PI 1.8378770664093453

/* Population mean and sd of n values at stride, in double. */
static void stats(const double *v, int n, int stride, double *mean, double *sd)
{
	double s = 0, ss = 0;
	int i;

	for (i = 0; i < n; i++)
		s += v[i * stride];
	*mean = s / n;
	for (i = 0; i < n; i++)
		ss += (v[i * stride] - *mean) * (v[i * stride] - *mean);
	*sd = sqrt(ss / n);
}

static void test_fit_with_and_without_y(void **state)
{
	static const double x[4][2] = { { 1, 10 }, { 3, 10 }, { 5, 10 }, { 7, 10 } };
	static const double y[4] = { 100, 110, 130, 160 };
	struct scaler a, b;
	double m, s;
	int j;

	(void)state;
	scaler_init(&a, 1);
	assert_int_equal(a.mode, SCALER_PENDING);
	scaler_fit(&a, &x[0][0], y, 4, 2);
	assert_int_equal(a.mode, SCALER_FITTED);
	stats(&x[0][0], 4, 2, &m, &s);
	assert_true(a.mean[0] == (float)m && a.sd[0] == (float)s);
	/* a constant column is only centred */
	assert_true(a.mean[1] == 10 && a.sd[1] == 1);
	for (j = 2; j < AMZ_DMAX; j++)
		assert_true(a.mean[j] == 0 && a.sd[j] == 1);
	stats(y, 4, 1, &m, &s);
	assert_true(a.mean[SCALER_Y] == (float)m && a.sd[SCALER_Y] == (float)s);

	/* without targets the x columns are the same, y stays the identity */
	scaler_init(&b, 1);
	scaler_fit(&b, &x[0][0], NULL, 4, 2);
	assert_int_equal(b.mode, SCALER_FITTED);
	assert_memory_equal(b.mean, a.mean, AMZ_DMAX * sizeof *a.mean);
	assert_memory_equal(b.sd, a.sd, AMZ_DMAX * sizeof *a.sd);
	assert_true(b.mean[SCALER_Y] == 0 && b.sd[SCALER_Y] == 1);

	/* only the first batch counts */
	scaler_fit(&b, &x[1][0], NULL, 2, 2);
	assert_memory_equal(b.mean, a.mean, AMZ_DMAX * sizeof *a.mean);
}

/* amort adapt's form: rows of x then y, flags for the constant columns;
 * the same statistics as from separate x and y. */
static void test_fit_rows(void **state)
{
	static const double x[4][2] = { { 1, 10 }, { 3, 10 }, { 5, 10 }, { 7, 10 } };
	static const double y[4] = { 100, 110, 130, 160 };
	static const double rows[4][4] = { { 1, 10, 100, -9 }, { 3, 10, 110, -9 },
					   { 5, 10, 130, -9 }, { 7, 10, 160, -9 } };
	unsigned char constant[SCALER_COLS];
	struct scaler a, b, c;
	int j;

	(void)state;
	scaler_init(&a, 1);
	scaler_fit(&a, &x[0][0], y, 4, 2);
	scaler_init(&b, 1);
	assert_int_equal(scaler_fit_rows(&b, &rows[0][0], 4, 4, 2, 1, constant), 1);
	assert_int_equal(b.mode, SCALER_FITTED);
	assert_memory_equal(b.mean, a.mean, sizeof a.mean);
	assert_memory_equal(b.sd, a.sd, sizeof a.sd);
	for (j = 0; j < SCALER_COLS; j++)
		assert_int_equal(constant[j], j == 1);

	/* without y: column 2 is not read, y stays the identity */
	scaler_init(&c, 1);
	assert_int_equal(scaler_fit_rows(&c, &rows[0][0], 4, 4, 2, 0, NULL), 1);
	assert_memory_equal(c.mean, a.mean, AMZ_DMAX * sizeof *a.mean);
	assert_true(c.mean[SCALER_Y] == 0 && c.sd[SCALER_Y] == 1);

	/* a scaler that is off or fitted is left alone and flags nothing */
	scaler_init(&c, 0);
	assert_int_equal(scaler_fit_rows(&c, &rows[0][0], 4, 4, 2, 1, constant), 0);
	assert_int_equal(c.mode, SCALER_OFF);
	for (j = 0; j < SCALER_COLS; j++)
		assert_int_equal(constant[j], 0);
	assert_int_equal(scaler_fit_rows(&b, &rows[1][0], 4, 2, 2, 1, NULL), 0);
	assert_memory_equal(b.mean, a.mean, sizeof a.mean);
}

static void test_maps_round_trip(void **state)
{
	static const double x[3][3] = { { -2, 0.5, 1e4 }, { 4, 0.25, 2e4 }, { 1, 1, 4e4 } };
	struct scaler s;
	double mean, var, back;
	float z;
	int i, j;

	(void)state;
	scaler_init(&s, 1);
	scaler_fit(&s, &x[0][0], NULL, 3, 3);
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			assert_int_equal(scaler_map(&s, j, x[i][j], &z), 0);
			back = scaler_unmap_x(&s, j, z);
			assert_true(fabs(back - x[i][j]) <= 1e-6 * (fabs(x[i][j]) + 1));
		}
	}
	/* past single precision after the map: refused, z untouched */
	z = 7;
	assert_int_equal(scaler_map(&s, 0, 1e300, &z), -1);
	assert_true(z == 7);
	/* pending and off: every map is the identity */
	scaler_init(&s, 1);
	assert_true(scaler_unmap_x(&s, 0, 1.5) == 1.5);
	assert_true(scaler_unmap_log_density(&s, 3, -2.5) == -2.5);
	scaler_unmap(&s, 2, 3, &mean, &var);
	assert_true(mean == 2 && var == 3);
	scaler_init(&s, 0);
	scaler_fit(&s, &x[0][0], NULL, 3, 3);
	assert_int_equal(s.mode, SCALER_OFF);
	assert_int_equal(scaler_map(&s, 2, 1e4, &z), 0);
	assert_true(z == 1e4f);
	assert_true(scaler_unmap_x(&s, 2, 4.0) == 4.0);
	assert_true(scaler_unmap_log_density(&s, 3, -1.0) == -1.0);
}

/* log N(x; m, s^2) in closed form against log N(z; 0, 1) mapped back,
 * over two independent columns; a third, inactive column is ignored. */
static void test_log_density_change_of_variables(void **state)
{
	static const double x[4][3] = {
		{ 10, -300, 5 }, { 14, -100, 5 }, { 11, -250, 7 }, { 17, -50, 9 },
	};
	static const double q[2] = { 12.5, -180 };
	struct scaler s;
	double want = 0, lz = 0, got;
	float z;
	int j;

	(void)state;
	scaler_init(&s, 1);
	scaler_fit(&s, &x[0][0], NULL, 4, 3);
	for (j = 0; j < 2; j++) {
		double m = s.mean[j], sd = s.sd[j];

		assert_true(sd != 1);
		want += -0.5 * LOG_2PI - log(sd) - 0.5 * (q[j] - m) * (q[j] - m) / (sd * sd);
		assert_int_equal(scaler_map(&s, j, q[j], &z), 0);
		lz += -0.5 * LOG_2PI - 0.5 * (double)z * z;
	}
	got = scaler_unmap_log_density(&s, 2, lz);
	assert_true(fabs(got - want) <= 1e-6 * fabs(want));
	/* the map is over the D active columns only */
	assert_true(fabs(scaler_unmap_log_density(&s, 3, lz) -
			 (got - log((double)s.sd[2]))) <= 1e-12);
}

static void test_pack_unpack(void **state)
{
	static const double x[2][1] = { { 1 }, { 3 } };
	static const double y[2] = { 5, 9 };
	float blob[SCALER_FLOATS];
	struct scaler a, b;

	(void)state;
	scaler_init(&a, 1);
	scaler_fit(&a, &x[0][0], y, 2, 1);
	scaler_pack(&a, blob);
	memset(&b, 0, sizeof b);
	assert_int_equal(scaler_unpack(&b, blob), 0);
	assert_int_equal(b.mode, SCALER_FITTED);
	assert_memory_equal(b.mean, a.mean, sizeof a.mean);
	assert_memory_equal(b.sd, a.sd, sizeof a.sd);
	/* what scaler_pack never writes is refused, *s untouched */
	blob[0] = 3;
	assert_int_equal(scaler_unpack(&b, blob), -1);
	blob[0] = 1;
	blob[1 + SCALER_COLS] = 0;		/* sd of x0 */
	assert_int_equal(scaler_unpack(&b, blob), -1);
	blob[1 + SCALER_COLS] = 2;
	blob[1] = NAN;
	assert_int_equal(scaler_unpack(&b, blob), -1);
	assert_memory_equal(b.mean, a.mean, sizeof a.mean);
}

/* The legacy stored form (x0..x15 and y, written while AMZ_DMAX was 16)
 * reads into the same scaler as the current form of the same statistics;
 * what it never held is refused. */
static void test_unpack_legacy(void **state)
{
	static const double x[3][2] = { { 1, 10 }, { 3, 20 }, { 8, 60 } };
	static const double y[3] = { 5, 9, -4 };
	const int n = SCALER_LEGACY_DMAX;
	float old[SCALER_LEGACY_FLOATS];
	struct scaler a, b;
	int j;

	(void)state;
	scaler_init(&a, 1);
	scaler_fit(&a, &x[0][0], y, 3, 2);
	old[0] = (float)a.mode;
	for (j = 0; j < n; j++) {
		old[1 + j] = a.mean[j];
		old[1 + (n + 1) + j] = a.sd[j];
	}
	old[1 + n] = a.mean[SCALER_Y];
	old[1 + (n + 1) + n] = a.sd[SCALER_Y];
	memset(&b, 0, sizeof b);
	assert_int_equal(scaler_unpack_legacy(&b, old), 0);
	assert_int_equal(b.mode, SCALER_FITTED);
	assert_memory_equal(b.mean, a.mean, sizeof a.mean);
	assert_memory_equal(b.sd, a.sd, sizeof a.sd);
	old[0] = 2;
	assert_int_equal(scaler_unpack_legacy(&b, old), 0);
	assert_int_equal(b.mode, SCALER_OFF);
	old[0] = 1;
	old[1 + (n + 1) + n] = -1;		/* sd of y */
	assert_int_equal(scaler_unpack_legacy(&b, old), -1);
	assert_int_equal(b.mode, SCALER_OFF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_with_and_without_y),
		cmocka_unit_test(test_fit_rows),
		cmocka_unit_test(test_maps_round_trip),
		cmocka_unit_test(test_log_density_change_of_variables),
		cmocka_unit_test(test_pack_unpack),
		cmocka_unit_test(test_unpack_legacy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
