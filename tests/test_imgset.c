/*
 * test_imgset.c - the image set file: round trips in memory and on disk,
 * the byte layout, and refusal of truncated, corrupted and oversized files
 * with the right status, without a crash and without touching the output.
 * If `make data` has run, the real files are loaded and counted too.
 *
 * Most corruptions are caught by the checksum first; crc_patch() recomputes
 * the trailing CRC after an edit so that the checks behind it are reached.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/am.h"
#include "io/amfile.h"
#include "io/imgset.h"

/* ---- helpers ------------------------------------------------------------ */

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void crc_patch(unsigned char *buf, size_t len)
{
	put32(buf + len - 4, amfile_crc32(buf, len - 4));
}

/* A tiny set: 7 training and 3 test images of 4 x 5 pixels, 3 classes,
 * every byte value derived from its position. */
#define T_TRAIN 7
#define T_TEST 3
#define T_ROWS 4
#define T_COLS 5
#define T_NPIX (T_ROWS * T_COLS)
#define T_BYTES (IMGSET_HEADER_BYTES + (T_TRAIN + T_TEST) * (T_NPIX + 1) + 4)

static unsigned char tx[T_TRAIN * T_NPIX], ty[T_TRAIN];
static unsigned char sx[T_TEST * T_NPIX], sy[T_TEST];

static struct imgset tiny(void)
{
	struct imgset s;
	int i;

	for (i = 0; i < T_TRAIN * T_NPIX; i++)
		tx[i] = (unsigned char)(i * 37 + 11);
	for (i = 0; i < T_TEST * T_NPIX; i++)
		sx[i] = (unsigned char)(255 - i * 13);
	for (i = 0; i < T_TRAIN; i++)
		ty[i] = (unsigned char)(i % 3);
	for (i = 0; i < T_TEST; i++)
		sy[i] = (unsigned char)(2 - i % 3);
	memset(&s, 0, sizeof s);
	s.ntrain = T_TRAIN;
	s.ntest = T_TEST;
	s.rows = T_ROWS;
	s.cols = T_COLS;
	s.npix = T_NPIX;
	s.nclass = 3;
	s.train_x = tx;
	s.train_y = ty;
	s.test_x = sx;
	s.test_y = sy;
	return s;
}

static void assert_same(const struct imgset *a, const struct imgset *b)
{
	assert_int_equal(a->ntrain, b->ntrain);
	assert_int_equal(a->ntest, b->ntest);
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->cols, b->cols);
	assert_int_equal(a->npix, b->npix);
	assert_int_equal(a->nclass, b->nclass);
	assert_memory_equal(a->train_x, b->train_x, (size_t)a->ntrain * a->npix);
	assert_memory_equal(a->train_y, b->train_y, (size_t)a->ntrain);
	if (a->ntest) {
		assert_memory_equal(a->test_x, b->test_x, (size_t)a->ntest * a->npix);
		assert_memory_equal(a->test_y, b->test_y, (size_t)a->ntest);
	}
}

static unsigned char *tiny_bytes(size_t *len)
{
	struct imgset s = tiny();
	unsigned char *buf = NULL;

	assert_int_equal(imgset_encode(&s, &buf, len), AM_OK);
	assert_int_equal(*len, T_BYTES);
	return buf;
}

/* Decodes buf and requires status rc, an error message, and an untouched
 * output. */
static void expect_refused(const unsigned char *buf, size_t len, int rc,
			   const char *what)
{
	struct imgset out;
	char err[256] = "";

	memset(&out, 0x5a, sizeof out);
	if (imgset_decode(buf, len, &out, err, sizeof err) != rc)
		fail_msg("%s: expected %s, got another status (%s)", what,
			 am_strerror(rc), err);
	assert_true(err[0] != '\0');
	{
		unsigned char sentinel[sizeof out];

		memset(sentinel, 0x5a, sizeof sentinel);
		assert_memory_equal(&out, sentinel, sizeof out);
	}
}

/* ---- round trips -------------------------------------------------------- */

static void test_roundtrip_memory(void **state)
{
	struct imgset s = tiny(), back;
	unsigned char *buf;
	char err[128];
	size_t len;

	(void)state;
	buf = tiny_bytes(&len);
	assert_int_equal(imgset_decode(buf, len, &back, err, sizeof err), AM_OK);
	assert_same(&s, &back);
	imgset_free(&back);
	free(buf);
}

/* The byte layout of schema/img-format.md, field by field. */
static void test_layout(void **state)
{
	struct imgset s = tiny();
	unsigned char *buf;
	size_t len, pos;

	(void)state;
	buf = tiny_bytes(&len);
	assert_memory_equal(buf, "\x89" "AMI\r\n\x1a\n", 8);
	assert_int_equal(get32(buf + 8), 1);
	assert_int_equal(get32(buf + 12), T_TRAIN);
	assert_int_equal(get32(buf + 16), T_TEST);
	assert_int_equal(get32(buf + 20), T_ROWS);
	assert_int_equal(get32(buf + 24), T_COLS);
	assert_int_equal(get32(buf + 28), 3);
	pos = 32;
	assert_memory_equal(buf + pos, s.train_x, T_TRAIN * T_NPIX);
	pos += T_TRAIN * T_NPIX;
	assert_memory_equal(buf + pos, s.train_y, T_TRAIN);
	pos += T_TRAIN;
	assert_memory_equal(buf + pos, s.test_x, T_TEST * T_NPIX);
	pos += T_TEST * T_NPIX;
	assert_memory_equal(buf + pos, s.test_y, T_TEST);
	pos += T_TEST;
	assert_int_equal(get32(buf + pos), amfile_crc32(buf, pos));
	assert_int_equal(pos + 4, len);
	free(buf);
}

/* A file with no test split is legal; its test arrays are NULL. */
static void test_no_test_split(void **state)
{
	struct imgset s = tiny(), back;
	unsigned char *buf;
	char err[128];
	size_t len;

	(void)state;
	s.ntest = 0;
	s.test_x = s.test_y = NULL;
	assert_int_equal(imgset_encode(&s, &buf, &len), AM_OK);
	assert_int_equal(imgset_decode(buf, len, &back, err, sizeof err), AM_OK);
	assert_same(&s, &back);
	assert_null(back.test_x);
	assert_null(back.test_y);
	imgset_free(&back);
	free(buf);
}

static void tmpdir_make(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/test_imgset.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void test_roundtrip_file(void **state)
{
	struct imgset s = tiny(), back;
	char dir[64], path[96], err[256];

	(void)state;
	tmpdir_make(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/tiny.img", dir);
	assert_int_equal(imgset_write(path, &s, err, sizeof err), AM_OK);
	assert_int_equal(imgset_read(path, &back, err, sizeof err), AM_OK);
	assert_same(&s, &back);
	imgset_free(&back);

	/* Missing files and directories are I/O errors with a message. */
	snprintf(path, sizeof path, "%s/missing.img", dir);
	err[0] = '\0';
	assert_int_equal(imgset_read(path, &back, err, sizeof err), AM_EIO);
	assert_non_null(strstr(err, "missing.img"));
	assert_int_equal(imgset_read(dir, &back, err, sizeof err), AM_EIO);
	assert_non_null(strstr(err, "not a regular file"));
	/* A write that cannot encode leaves nothing behind. */
	s.nclass = 2;	/* label 2 is out of range now */
	snprintf(path, sizeof path, "%s/bad.img", dir);
	assert_int_equal(imgset_write(path, &s, err, sizeof err), AM_EINVAL);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/tiny.img", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- refusals ----------------------------------------------------------- */

/* Every proper prefix of a good file is refused as malformed. */
static void test_truncated(void **state)
{
	unsigned char *buf, *copy;
	char what[64];
	size_t len, n;

	(void)state;
	buf = tiny_bytes(&len);
	for (n = 0; n < len; n++) {
		/* A heap copy of exactly n bytes, so ASan sees any overread. */
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, buf, n);
		snprintf(what, sizeof what, "prefix of %zu bytes", n);
		expect_refused(n ? copy : NULL, n, AM_EFORMAT, what);
		free(copy);
	}
	free(buf);
}

/* Every single-bit flip anywhere is caught (by the CRC or the magic). */
static void test_bit_flips(void **state)
{
	unsigned char *buf;
	char what[64];
	size_t len, i;
	int b;

	(void)state;
	buf = tiny_bytes(&len);
	for (i = 0; i < len; i++)
		for (b = 0; b < 8; b++) {
			buf[i] ^= (unsigned char)(1u << b);
			snprintf(what, sizeof what, "bit %d of byte %zu", b, i);
			expect_refused(buf, len, AM_EFORMAT, what);
			buf[i] ^= (unsigned char)(1u << b);
		}
	free(buf);
}

/* Sets the u32 at off and fixes the CRC, then requires status rc. */
static void patched(size_t off, uint32_t v, int rc, const char *what)
{
	unsigned char *buf;
	size_t len;

	buf = tiny_bytes(&len);
	put32(buf + off, v);
	crc_patch(buf, len);
	expect_refused(buf, len, rc, what);
	free(buf);
}

static void test_bad_header(void **state)
{
	(void)state;
	patched(8, 2, AM_EVERSION, "version 2");
	patched(12, 0xffffffffu, AM_ELIMIT, "ntrain 2^32-1");
	patched(16, 0xffffffffu, AM_ELIMIT, "ntest 2^32-1");
	patched(12, IMGSET_IMAGES_MAX, AM_EFORMAT, "ntrain at the limit, bytes missing");
	patched(12, 0, AM_EFORMAT, "ntrain 0");
	patched(12, T_TRAIN - 1, AM_EFORMAT, "ntrain one short");
	patched(16, T_TEST + 1, AM_EFORMAT, "ntest one over");
	patched(20, 0, AM_EFORMAT, "rows 0");
	patched(24, 0, AM_EFORMAT, "cols 0");
	patched(20, IMGSET_SIDE_MAX + 1, AM_ELIMIT, "rows over the limit");
	patched(24, 0x80000000u, AM_ELIMIT, "cols 2^31");
	patched(20, 100, AM_EFORMAT, "100 x 5 pixels, bytes missing");
	patched(28, 0, AM_EFORMAT, "no classes");
	patched(28, IMGSET_CLASSES_MAX + 1, AM_ELIMIT, "too many classes");
	patched(28, 2, AM_EFORMAT, "a label (2) not below the class count");
}

/* Counts each within its limit whose product is not. */
static void test_products(void **state)
{
	unsigned char *buf;
	size_t len;

	(void)state;
	buf = tiny_bytes(&len);
	put32(buf + 20, 64);
	put32(buf + 24, 65);
	crc_patch(buf, len);
	expect_refused(buf, len, AM_ELIMIT, "64 x 65 pixels");
	put32(buf + 12, IMGSET_IMAGES_MAX);
	put32(buf + 16, IMGSET_IMAGES_MAX);
	put32(buf + 20, 64);
	put32(buf + 24, 64);
	crc_patch(buf, len);
	expect_refused(buf, len, AM_ELIMIT, "2 x 2^20 images of 64 x 64: 8 GiB");
	free(buf);
}

/* The counts of a file whose size does not match are refused, in both
 * directions: rows and cols swapped keep the size and are accepted. */
static void test_sizes(void **state)
{
	struct imgset back;
	unsigned char *buf, *big;
	char err[256];
	size_t len;

	(void)state;
	buf = tiny_bytes(&len);
	put32(buf + 20, T_COLS);
	put32(buf + 24, T_ROWS);
	crc_patch(buf, len);
	assert_int_equal(imgset_decode(buf, len, &back, err, sizeof err), AM_OK);
	assert_int_equal(back.rows, T_COLS);
	imgset_free(&back);
	/* A trailing byte, CRC fixed: refused as trailing bytes. */
	big = calloc(len + 1, 1);
	assert_non_null(big);
	memcpy(big, buf, len - 4);
	crc_patch(big, len + 1);
	expect_refused(big, len + 1, AM_EFORMAT, "trailing byte");
	assert_int_equal(imgset_decode(big, len + 1, &back, err, sizeof err), AM_EFORMAT);
	assert_non_null(strstr(err, "trailing"));
	free(big);
	free(buf);
}

static void test_labels(void **state)
{
	unsigned char *buf;
	size_t len;

	(void)state;
	buf = tiny_bytes(&len);
	/* The last test label. */
	buf[len - 5] = 3;
	crc_patch(buf, len);
	expect_refused(buf, len, AM_EFORMAT, "test label 3 of 3 classes");
	free(buf);
}

static void test_magic(void **state)
{
	unsigned char *buf;
	struct imgset out;
	char err[256];
	size_t len;

	(void)state;
	buf = tiny_bytes(&len);
	buf[4] = '\n';	/* CR LF -> LF LF: a text-mode copy */
	assert_int_equal(imgset_decode(buf, len, &out, err, sizeof err), AM_EFORMAT);
	assert_non_null(strstr(err, "text mode"));
	memcpy(buf, "\x89" "AMO", 4);	/* a model file */
	assert_int_equal(imgset_decode(buf, len, &out, err, sizeof err), AM_EFORMAT);
	assert_non_null(strstr(err, "not an image set"));
	free(buf);
}

static void test_encode_refuses(void **state)
{
	struct imgset s;
	unsigned char *buf = (unsigned char *)"untouched";
	size_t len = 42;

	(void)state;
	s = tiny();
	s.nclass = 2;
	assert_int_equal(imgset_encode(&s, &buf, &len), AM_EINVAL);
	s = tiny();
	s.npix = T_NPIX + 1;
	assert_int_equal(imgset_encode(&s, &buf, &len), AM_EINVAL);
	s = tiny();
	s.ntrain = 0;
	assert_int_equal(imgset_encode(&s, &buf, &len), AM_EINVAL);
	s = tiny();
	s.rows = 0;
	s.npix = 0;
	assert_int_equal(imgset_encode(&s, &buf, &len), AM_EINVAL);
	s = tiny();
	s.rows = IMGSET_SIDE_MAX + 4;
	s.npix = s.rows * s.cols;
	assert_int_equal(imgset_encode(&s, &buf, &len), AM_ELIMIT);
	s = tiny();
	s.nclass = IMGSET_CLASSES_MAX + 1;
	assert_int_equal(imgset_encode(&s, &buf, &len), AM_ELIMIT);
	assert_string_equal((const char *)buf, "untouched");
	assert_int_equal(len, 42);
}

static void test_free_null(void **state)
{
	struct imgset s;

	(void)state;
	imgset_free(NULL);
	memset(&s, 0, sizeof s);
	imgset_free(&s);
	imgset_free(&s);
}

static void test_to_float(void **state)
{
	static const unsigned char px[4] = { 0, 1, 128, 255 };
	float f[4];

	(void)state;
	imgset_to_float(f, px, 4);
	assert_true(f[0] == 0.0f);
	assert_float_equal(f[1], 1.0 / 255.0, 1e-7);
	assert_float_equal(f[2], 128.0 / 255.0, 1e-7);
	assert_true(f[3] == 1.0f);
}

/* ---- the real files, when `make data` has made them --------------------- */

/* Loads path if it exists (else skips) and checks its counts. */
static void check_real(const char *path, int ntrain, int ntest, int per_class)
{
	struct imgset s;
	char err[256];
	int count[10] = { 0 };
	int i;

	if (access(path, R_OK) != 0) {
		print_message("%s missing: run make data\n", path);
		skip();
	}
	if (imgset_read(path, &s, err, sizeof err) != AM_OK)
		fail_msg("%s: %s", path, err);
	assert_int_equal(s.ntrain, ntrain);
	assert_int_equal(s.ntest, ntest);
	assert_int_equal(s.rows, 28);
	assert_int_equal(s.cols, 28);
	assert_int_equal(s.npix, 784);
	assert_int_equal(s.nclass, 10);
	for (i = 0; i < s.ntrain; i++)
		count[s.train_y[i]]++;
	for (i = 0; i < 10; i++)
		if (per_class)
			assert_int_equal(count[i], per_class);
		else
			assert_true(count[i] > 0);
	imgset_free(&s);
}

static void test_real_fashion(void **state)
{
	(void)state;
	check_real("data/fashion-mnist.img", 60000, 10000, 6000);
}

static void test_real_mnist(void **state)
{
	(void)state;
	check_real("data/mnist.img", 8004, 1996, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_memory),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_no_test_split),
		cmocka_unit_test(test_roundtrip_file),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_products),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_magic),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_to_float),
		cmocka_unit_test(test_real_fashion),
		cmocka_unit_test(test_real_mnist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
