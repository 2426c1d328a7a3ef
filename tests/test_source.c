/*
 * test_source.c - the task sources: letter lists parse with duplicates
 * counted once and anything but a letter refused; each source's rows have
 * its width (source_dx), zero past the task's dimension; labels stay in
 * [0, K); an image task's K classes are distinct classes of the set and
 * every row is an image of the class its label names; a task and its rows
 * are a function of the source and the generator alone.
 *
 * Everything checked is exact (no tolerances): the sources copy and pad
 * rows, they do not compute with them.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/am.h"
#include "data/source.h"

enum { ROWS = 64 };

static void test_letters_parse(void **state)
{
	unsigned char sel[HERSHEY_LETTERS];
	int i, n;

	(void)state;
	assert_int_equal(source_letters_parse("ABCabc", sel), 6);
	assert_int_equal(source_letters_parse("AAaA", sel), 2);
	for (n = 0, i = 0; i < HERSHEY_LETTERS; i++)
		n += sel[i];
	assert_int_equal(n, 2);
	assert_true(sel[hershey_letter_index('A')]);
	assert_true(sel[hershey_letter_index('a')]);
	assert_int_equal(source_letters_parse("", sel), 0);
	assert_int_equal(source_letters_parse("Ab1", sel), -1);
	assert_int_equal(source_letters_parse("A b", sel), -1);
}

static void test_dx(void **state)
{
	(void)state;
	assert_int_equal(source_dx(SOURCE_LINCLASS), SOURCE_XMAX);
	assert_int_equal(source_dx(SOURCE_IMAGES), SOURCE_XMAX);
	assert_int_equal(source_dx(SOURCE_LINREG), SOURCE_XMAX);
	assert_int_equal(source_dx(SOURCE_MOG), SOURCE_DMAX);
	assert_int_equal(source_dx(SOURCE_LETTERS), SOURCE_DMAX);
}

/* Every row of X (n x dx) is finite and zero from column D on. */
static void assert_rows(const float *X, int n, int dx, int D)
{
	int i, d;

	for (i = 0; i < n; i++)
		for (d = 0; d < dx; d++) {
			float v = X[(size_t)i * dx + d];

			assert_true(isfinite(v));
			if (d >= D)
				assert_true(v == 0.0f);
		}
}

/* Draws a task of ts and ROWS rows of it (stream and, for the regression
 * source, targets) from seed, twice: the two draws must agree bit for
 * bit.  The first task and its rows are left in t, X, y, tgt. */
static void draw_twice(const struct source *ts, uint64_t seed,
		       struct source_task *t, float *X, int *y, float *tgt)
{
	static float X2[ROWS * SOURCE_XMAX];
	struct source_task t2;
	float tgt2[ROWS];
	int y2[ROWS], pass;
	struct rng r;

	for (pass = 0; pass < 2; pass++) {
		rng_seed(&r, seed);
		source_draw(ts, &r, pass ? &t2 : t);
		if (ts->src == SOURCE_LINREG)
			source_sample_reg(ts, pass ? &t2 : t, &r, ROWS,
					  pass ? X2 : X, pass ? tgt2 : tgt);
		else
			source_sample(ts, pass ? &t2 : t, &r, ROWS,
				      pass ? X2 : X, pass ? y2 : y);
	}
	assert_memory_equal(t, &t2, sizeof t2);
	assert_memory_equal(X, X2,
			    (size_t)ROWS * source_dx(ts->src) * sizeof *X);
	if (ts->src == SOURCE_LINREG)
		assert_memory_equal(tgt, tgt2, sizeof tgt2);
	else if (ts->src == SOURCE_LINCLASS || ts->src == SOURCE_IMAGES)
		assert_memory_equal(y, y2, sizeof y2);
}

/* A synthetic source of kind src with its family's defaults. */
static void synthetic(struct source *ts, enum source_kind src)
{
	memset(ts, 0, sizeof *ts);
	ts->src = src;
	if (src == SOURCE_LINCLASS)
		linclass_family_default(&ts->cfam);
	else if (src == SOURCE_LINREG)
		linreg_family_default(&ts->rfam);
	else
		mog_family_default(&ts->fam);
}

static void test_synthetic_rows(void **state)
{
	static float X[ROWS * SOURCE_XMAX];
	float tgt[ROWS];
	int y[ROWS], i, seed;
	struct source ts;
	struct source_task t;

	(void)state;
	for (seed = 1; seed <= 5; seed++) {
		synthetic(&ts, SOURCE_LINCLASS);
		draw_twice(&ts, (uint64_t)seed, &t, X, y, NULL);
		assert_true(t.D >= 1 && t.D <= LINCLASS_DMAX);
		assert_true(t.K >= 2 && t.K <= LINCLASS_KMAX);
		assert_rows(X, ROWS, SOURCE_XMAX, t.D);
		for (i = 0; i < ROWS; i++)
			assert_true(y[i] >= 0 && y[i] < t.K);

		synthetic(&ts, SOURCE_LINREG);
		draw_twice(&ts, (uint64_t)seed, &t, X, NULL, tgt);
		assert_true(t.D >= 1 && t.D <= LINREG_DMAX);
		assert_rows(X, ROWS, SOURCE_XMAX, t.D);
		for (i = 0; i < ROWS; i++)
			assert_true(isfinite(tgt[i]));

		synthetic(&ts, SOURCE_MOG);
		draw_twice(&ts, (uint64_t)seed, &t, X, NULL, NULL);
		assert_true(t.D >= 1 && t.D <= SOURCE_DMAX);
		assert_true(t.K >= 1 && t.K <= MOG_KMAX);
		assert_rows(X, ROWS, SOURCE_DMAX, t.D);
	}
}

/* An image set of N images of NC classes (image i: class i % NC, feature
 * 0 = i + 1, feature 1 = -(i + 1)), tasks of 2..NC classes. */
static void test_image_rows(void **state)
{
	enum { N = 40, NC = 4, DIM = 2 };
	static float feat[N * SOURCE_XMAX], X[ROWS * SOURCE_XMAX];
	unsigned char lab[N];
	int rows[N], *mem = rows, y[ROWS], seen[NC], c, i, j, task;
	struct source_images im;
	struct source ts;
	struct source_task t;

	(void)state;
	memset(&im, 0, sizeof im);
	for (i = 0; i < N; i++) {
		lab[i] = (unsigned char)(i % NC);
		feat[(size_t)i * SOURCE_XMAX] = (float)(i + 1);
		feat[(size_t)i * SOURCE_XMAX + 1] = -(float)(i + 1);
	}
	im.n = N;
	im.dim = DIM;
	im.nclass = NC;
	im.X = feat;
	im.y = lab;
	im.kmin = 2;
	im.kmax = NC;
	for (c = 0; c < NC; c++) {
		im.cls_rows[c] = mem;
		for (i = c; i < N; i += NC)
			*mem++ = i;
		im.cls_count[c] = N / NC;
	}
	memset(&ts, 0, sizeof ts);
	ts.src = SOURCE_IMAGES;
	ts.img = &im;
	for (task = 0; task < 20; task++) {
		draw_twice(&ts, (uint64_t)task + 1, &t, X, y, NULL);
		assert_int_equal(t.D, DIM);
		assert_true(t.K >= 2 && t.K <= NC);
		assert_true(t.aug == 0);
		memset(seen, 0, sizeof seen);
		for (j = 0; j < t.K; j++) {
			assert_true(t.cls[j] >= 0 && t.cls[j] < NC);
			assert_int_equal(seen[t.cls[j]]++, 0);
		}
		assert_rows(X, ROWS, SOURCE_XMAX, DIM);
		for (i = 0; i < ROWS; i++) {
			int img = (int)X[(size_t)i * SOURCE_XMAX] - 1;

			assert_true(y[i] >= 0 && y[i] < t.K);
			assert_true(img >= 0 && img < N);
			assert_int_equal(lab[img], t.cls[y[i]]);
			assert_true(X[(size_t)i * SOURCE_XMAX + 1] ==
				    -(float)(img + 1));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_letters_parse),
		cmocka_unit_test(test_dx),
		cmocka_unit_test(test_synthetic_rows),
		cmocka_unit_test(test_image_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
