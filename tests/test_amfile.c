/*
 * test_amfile.c - the model file: round trips in memory and on disk, the
 * CRC-32, a golden file, and refusal of every kind of bad input with the
 * right status, without a crash and without touching the output.
 *
 * Most corruptions are caught by the checksum first; crc_patch() recomputes
 * the trailing CRC after an edit so that the structural checks behind it
 * are reached and tested too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/am.h"
#include "io/amfile.h"
#include "base/layout.h"
#include "testutil.h"

static const char model_header[] =
	"{\"name\":\"tiny\",\"regime\":\"parametric\","
	"\"note\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}";

/* ---- helpers ------------------------------------------------------------ */

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* Recomputes the trailing CRC-32 of a buffer of len bytes after an edit. */
static void crc_patch(unsigned char *buf, size_t len)
{
	assert_true(len >= 4);
	put32(buf + len - 4, amfile_crc32(buf, len - 4));
}

/* A small model: four tensors of rank 2, 3, 1 and 4 in one block. */
struct model {
	struct layout lay;
	float *data;
};

static void model_make(struct model *m, uint64_t seed)
{
	static const int s3[3] = { 2, 3, 4 };
	static const int s4[4] = { 2, 1, 3, 2 };
	const struct layout_view *b;
	int i;

	layout_init(&m->lay);
	layout_add2(&m->lay, "emb", 5, 3);
	layout_add(&m->lay, "blk0.qkvw", 3, s3);
	layout_add1(&m->lay, "head.b", 7);
	layout_add(&m->lay, "t4", 4, s4);
	m->data = tu_alloc(m->lay.total);
	for (i = 0; i < m->lay.n; i++)
		tu_fill(m->data + m->lay.views[i].offset, m->lay.views[i].size,
			-2.0f, 2.0f, &seed);
	/* Values whose bits a sloppy conversion would change. */
	b = layout_find(&m->lay, "head.b");
	m->data[b->offset + 0] = -0.0f;
	m->data[b->offset + 1] = FLT_MIN / 8.0f;	/* subnormal */
	m->data[b->offset + 2] = FLT_MAX;
	m->data[b->offset + 3] = -FLT_MAX;
	m->data[b->offset + 4] = FLT_MIN;
	m->data[b->offset + 5] = 1.0f;
}

static void model_free(struct model *m)
{
	layout_free(&m->lay);
	free(m->data);
}

static void model_encode(const struct model *m, unsigned char **buf, size_t *len)
{
	assert_int_equal(amfile_encode(model_header, &m->lay, m->data, buf, len),
			 AM_OK);
}

/* Checks that f holds exactly the header and tensors of m. */
static void assert_same_model(const struct amfile *f, const struct model *m)
{
	int i;

	assert_string_equal(f->header, model_header);
	assert_int_equal(f->header_len, strlen(model_header));
	assert_int_equal(f->layout.n, m->lay.n);
	assert_int_equal(f->layout.total, m->lay.total);
	for (i = 0; i < m->lay.n; i++) {
		const struct layout_view *a = &f->layout.views[i];
		const struct layout_view *b = &m->lay.views[i];

		assert_string_equal(a->name, b->name);
		assert_int_equal(a->ndim, b->ndim);
		assert_memory_equal(a->shape, b->shape, sizeof a->shape);
		assert_int_equal(a->offset, b->offset);
		assert_int_equal(a->size, b->size);
		/* Bit-identical, -0.0 and subnormals included. */
		assert_memory_equal(f->data + a->offset, m->data + b->offset,
				    a->size * sizeof(float));
	}
}

/*
 * Decodes len bytes and expects refusal: the given status (or any failure
 * when status < 0), *out untouched, and a message.
 */
static void expect_refused_msg(const unsigned char *buf, size_t len, int status,
			       char *err, size_t errlen)
{
	struct amfile out;
	unsigned char before[sizeof out];
	int rc;

	memset(&out, 0xa5, sizeof out);
	memcpy(before, &out, sizeof out);
	err[0] = '\0';
	rc = amfile_decode(buf, len, &out, err, errlen);
	if (status < 0)
		assert_int_not_equal(rc, AM_OK);
	else
		assert_int_equal(rc, status);
	assert_memory_equal(&out, before, sizeof out);
	assert_true(err[0] != '\0');
}

static void expect_refused(const unsigned char *buf, size_t len, int status)
{
	char err[256];

	expect_refused_msg(buf, len, status, err, sizeof err);
}

/* A byte builder for hand-made files. */
struct bld {
	unsigned char b[4096];
	size_t n;
};

static void b_bytes(struct bld *b, const void *p, size_t n)
{
	assert_true(n <= sizeof b->b - b->n);
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void b_u8(struct bld *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	b_bytes(b, &c, 1);
}

static void b_u16(struct bld *b, unsigned v)
{
	b_u8(b, v & 0xffu);
	b_u8(b, (v >> 8) & 0xffu);
}

static void b_u32(struct bld *b, uint32_t v)
{
	unsigned char p[4];

	put32(p, v);
	b_bytes(b, p, 4);
}

static void b_f32(struct bld *b, float x)
{
	uint32_t bits;

	memcpy(&bits, &x, sizeof bits);
	b_u32(b, bits);
}

/* Magic, version 1, the header text of hlen bytes, and a tensor count. */
static void b_begin(struct bld *b, const char *header, size_t hlen, uint32_t n)
{
	b->n = 0;
	b_bytes(b, amfile_magic, AMFILE_MAGIC_LEN);
	b_u32(b, AMFILE_VERSION);
	b_u32(b, (uint32_t)hlen);
	b_bytes(b, header, hlen);
	b_u32(b, n);
}

/* A tensor block whose floats are 0.5, 1.5, ... (nfloats of them). */
static void b_tensor(struct bld *b, const char *name, int ndim,
		     const uint32_t *dims, size_t nfloats)
{
	size_t k;
	int j;

	b_u16(b, (unsigned)strlen(name));
	b_bytes(b, name, strlen(name));
	b_u8(b, (unsigned)ndim);
	for (j = 0; j < ndim; j++)
		b_u32(b, dims[j]);
	for (k = 0; k < nfloats; k++)
		b_f32(b, 0.5f + (float)k);
}

/* Appends the CRC-32 and returns the length. */
static size_t b_finish(struct bld *b)
{
	b_u32(b, amfile_crc32(b->b, b->n));
	return b->n;
}

/* A hand-made file with one good tensor "a" [2,3], then one of the given
 * name and shape with its floats. */
static size_t b_two(struct bld *b, const char *name, int ndim,
		    const uint32_t *dims, size_t nfloats)
{
	static const uint32_t a[2] = { 2, 3 };

	b_begin(b, "{}", 2, 2);
	b_tensor(b, "a", 2, a, 6);
	b_tensor(b, name, ndim, dims, nfloats);
	return b_finish(b);
}

/* A fresh directory under /tmp and paths in it. */
static void tmpdir_make(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/test_amfile.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

/* ---- the CRC ------------------------------------------------------------ */

/* Bit-at-a-time CRC-32, the definition the table must reproduce. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	int k;

	while (n--) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static void test_crc32(void **state)
{
	unsigned char buf[1000];
	uint64_t seed = 7;
	size_t i;

	(void)state;
	assert_int_equal(amfile_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(amfile_crc32("", 0), 0u);
	assert_int_equal(amfile_crc32("a", 1), 0xe8b7be43u);
	for (i = 0; i < sizeof buf; i++) {
		float x;

		tu_fill(&x, 1, 0.0f, 256.0f, &seed);
		buf[i] = (unsigned char)x;
	}
	for (i = 0; i <= sizeof buf; i += 37)
		assert_int_equal(amfile_crc32(buf, i), crc_bitwise(buf, i));
}

/* ---- round trips -------------------------------------------------------- */

static void test_round_trip_memory(void **state)
{
	struct model m;
	struct amfile f;
	unsigned char *buf, *buf2;
	size_t len, len2, i;
	char err[256];

	(void)state;
	model_make(&m, 1);
	model_encode(&m, &buf, &len);
	assert_int_equal(amfile_decode(buf, len, &f, err, sizeof err), AM_OK);
	assert_same_model(&f, &m);
	/* Alignment padding between views decodes as zero. */
	for (i = 0; i < f.layout.views[1].offset; i++)
		if (i >= f.layout.views[0].size)
			assert_true(f.data[i] == 0.0f);
	/* Encoding the decoded model gives the same bytes. */
	assert_int_equal(amfile_encode(f.header, &f.layout, f.data, &buf2, &len2),
			 AM_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);
	free(buf2);
	amfile_free(&f);
	free(buf);
	model_free(&m);
}

static void test_round_trip_file(void **state)
{
	struct model m, m2;
	struct amfile f;
	unsigned char *buf, *disk;
	char dir[64], path[128], tmp[160], err[256];
	size_t len;
	FILE *fp;

	(void)state;
	model_make(&m, 2);
	model_make(&m2, 3);
	tmpdir_make(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/model.amort", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);

	/* Write an older model first: the second write must replace it. */
	assert_int_equal(amfile_write(path, model_header, &m2.lay, m2.data,
				      err, sizeof err), AM_OK);
	assert_int_equal(amfile_write(path, model_header, &m.lay, m.data,
				      err, sizeof err), AM_OK);
	assert_int_equal(access(tmp, F_OK), -1);

	/* The file holds exactly what amfile_encode produces. */
	model_encode(&m, &buf, &len);
	disk = malloc(len + 1);
	assert_non_null(disk);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(disk, 1, len + 1, fp), len);
	fclose(fp);
	assert_memory_equal(disk, buf, len);

	assert_int_equal(amfile_read(path, &f, err, sizeof err), AM_OK);
	assert_same_model(&f, &m);
	amfile_free(&f);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(disk);
	free(buf);
	model_free(&m2);
	model_free(&m);
}

static void test_round_trip_empty(void **state)
{
	struct layout lay;
	struct amfile f;
	unsigned char *buf;
	size_t len;
	char err[256];

	(void)state;
	layout_init(&lay);
	assert_int_equal(amfile_encode("", &lay, NULL, &buf, &len), AM_OK);
	assert_int_equal(len, 24);
	assert_int_equal(amfile_decode(buf, len, &f, err, sizeof err), AM_OK);
	assert_string_equal(f.header, "");
	assert_int_equal(f.header_len, 0);
	assert_int_equal(f.layout.n, 0);
	assert_non_null(f.data);
	amfile_free(&f);
	free(buf);
}

/* The example of schema/amort-format.md, byte for byte: header "{}", one
 * tensor "w" of shape [2] holding 1.0 and -2.0. */
static void test_golden(void **state)
{
	static const unsigned char want[42] = {
		0x89, 0x41, 0x4d, 0x4f, 0x0d, 0x0a, 0x1a, 0x0a,
		0x01, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x7b, 0x7d,
		0x01, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x77, 0x01, 0x02, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
		0xee, 0xcf, 0x4d, 0xea,
	};
	static const uint32_t dims[1] = { 2 };
	struct layout lay;
	float data[2] = { 1.0f, -2.0f };
	unsigned char *buf;
	size_t len;
	struct bld b;

	(void)state;
	layout_init(&lay);
	layout_add1(&lay, "w", 2);
	assert_int_equal(amfile_encode("{}", &lay, data, &buf, &len), AM_OK);
	assert_int_equal(len, sizeof want);
	assert_memory_equal(buf, want, sizeof want);
	/* The test's builder writes the same bytes, so the hand-made files
	 * below differ from real ones only where they mean to. */
	b_begin(&b, "{}", 2, 1);
	b_tensor(&b, "w", 1, dims, 0);
	b_f32(&b, 1.0f);
	b_f32(&b, -2.0f);
	assert_int_equal(b_finish(&b), sizeof want);
	assert_memory_equal(b.b, want, sizeof want);
	free(buf);
	layout_free(&lay);
}

/* ---- refusals: corruption ----------------------------------------------- */

static void test_every_truncation(void **state)
{
	struct model m;
	unsigned char *buf;
	size_t len, l;

	(void)state;
	model_make(&m, 4);
	model_encode(&m, &buf, &len);
	for (l = 0; l < len; l++)
		expect_refused(l ? buf : NULL, l, -1);
	free(buf);
	model_free(&m);
}

/* A truncated body with a valid CRC after it: the structural checks, not
 * the checksum, must refuse every one. */
static void test_every_truncation_fixed_crc(void **state)
{
	struct model m;
	unsigned char *buf, *cut;
	size_t len, l;

	(void)state;
	model_make(&m, 5);
	model_encode(&m, &buf, &len);
	cut = malloc(len);
	assert_non_null(cut);
	for (l = 0; l < len - 4; l++) {
		memcpy(cut, buf, l);
		put32(cut + l, amfile_crc32(cut, l));
		expect_refused(cut, l + 4, AM_EFORMAT);
	}
	free(cut);
	free(buf);
	model_free(&m);
}

static void test_every_bit_flip(void **state)
{
	struct model m;
	unsigned char *buf;
	size_t len, bit;

	(void)state;
	model_make(&m, 6);
	model_encode(&m, &buf, &len);
	for (bit = 0; bit < 8 * len; bit++) {
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		expect_refused(buf, len, -1);
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	free(buf);
	model_free(&m);
}

static void test_bad_magic(void **state)
{
	static const char zip[] = "PK\3\4 a zip file, not a model";
	struct model m;
	unsigned char *buf;
	size_t len;
	char err[256];

	(void)state;
	model_make(&m, 7);
	model_encode(&m, &buf, &len);

	buf[1] = 'X';
	crc_patch(buf, len);
	expect_refused_msg(buf, len, AM_EFORMAT, err, sizeof err);
	assert_non_null(strstr(err, "magic"));
	buf[1] = 'A';

	/* A CR LF -> LF conversion drops byte 4. */
	memmove(buf + 4, buf + 5, len - 5);
	crc_patch(buf, len - 1);
	expect_refused_msg(buf, len - 1, AM_EFORMAT, err, sizeof err);
	assert_non_null(strstr(err, "line endings"));

	expect_refused((const unsigned char *)zip, sizeof zip - 1, AM_EFORMAT);
	free(buf);
	model_free(&m);
}

static void test_wrong_version(void **state)
{
	static const uint32_t versions[3] = { 0, 2, 0xffffffffu };
	struct model m;
	unsigned char *buf;
	size_t len;
	int i;

	(void)state;
	model_make(&m, 8);
	model_encode(&m, &buf, &len);
	for (i = 0; i < 3; i++) {
		put32(buf + 8, versions[i]);
		expect_refused(buf, len, AM_EFORMAT);	/* stale checksum */
		crc_patch(buf, len);
		expect_refused(buf, len, AM_EVERSION);
	}
	free(buf);
	model_free(&m);
}

static void test_header_checks(void **state)
{
	struct model m;
	struct amfile f;
	unsigned char *buf;
	size_t len;
	struct bld b;
	char err[256];

	(void)state;
	model_make(&m, 9);
	model_encode(&m, &buf, &len);

	put32(buf + 12, AMFILE_HEADER_MAX + 1);
	crc_patch(buf, len);
	expect_refused(buf, len, AM_ELIMIT);
	put32(buf + 12, 0xffffffffu);
	crc_patch(buf, len);
	expect_refused(buf, len, AM_ELIMIT);
	/* Within the limit but longer than the file. */
	put32(buf + 12, (uint32_t)len);
	crc_patch(buf, len);
	expect_refused_msg(buf, len, AM_EFORMAT, err, sizeof err);
	assert_non_null(strstr(err, "truncated"));

	/* Not text: a NUL, a stray continuation byte, an overlong '/', a
	 * surrogate, a code point past U+10FFFF, a cut-off sequence. */
	b_begin(&b, "{\0}", 3, 0);
	expect_refused(b.b, b_finish(&b), AM_EFORMAT);
	b_begin(&b, "{\x80}", 3, 0);
	expect_refused(b.b, b_finish(&b), AM_EFORMAT);
	b_begin(&b, "{\xc0\xaf}", 4, 0);
	expect_refused(b.b, b_finish(&b), AM_EFORMAT);
	b_begin(&b, "{\xed\xa0\x80}", 5, 0);
	expect_refused(b.b, b_finish(&b), AM_EFORMAT);
	b_begin(&b, "{\xf4\x90\x80\x80}", 6, 0);
	expect_refused(b.b, b_finish(&b), AM_EFORMAT);
	b_begin(&b, "{}\xe2\x82", 4, 0);
	expect_refused(b.b, b_finish(&b), AM_EFORMAT);
	/* ...while the largest code point is fine. */
	b_begin(&b, "\xf4\x8f\xbf\xbf", 4, 0);
	assert_int_equal(amfile_decode(b.b, b_finish(&b), &f, err, sizeof err),
			 AM_OK);
	assert_string_equal(f.header, "\xf4\x8f\xbf\xbf");
	amfile_free(&f);
	free(buf);
	model_free(&m);
}

/* The offset of the tensor count in an encoding of model_header. */
static size_t count_offset(void)
{
	return 16 + strlen(model_header);
}

static void test_tensor_count(void **state)
{
	struct model m;
	unsigned char *buf;
	size_t len, at = count_offset();
	char err[256];

	(void)state;
	model_make(&m, 10);
	model_encode(&m, &buf, &len);

	put32(buf + at, AMFILE_TENSORS_MAX + 1);
	crc_patch(buf, len);
	expect_refused(buf, len, AM_ELIMIT);
	put32(buf + at, 0xffffffffu);
	crc_patch(buf, len);
	expect_refused(buf, len, AM_ELIMIT);
	/* One more than present: the fifth block is missing. */
	put32(buf + at, 5);
	crc_patch(buf, len);
	expect_refused_msg(buf, len, AM_EFORMAT, err, sizeof err);
	assert_non_null(strstr(err, "truncated"));
	/* One fewer: the fourth block is left over. */
	put32(buf + at, 3);
	crc_patch(buf, len);
	expect_refused_msg(buf, len, AM_EFORMAT, err, sizeof err);
	assert_non_null(strstr(err, "trailing"));
	free(buf);
	model_free(&m);
}

static void test_dims(void **state)
{
	static const uint32_t overflow[4] = { 65536, 65536, 65536, 65536 };
	static const uint32_t over[3] = { 16384, 16384, 2 };	/* 2^29 */
	static const uint32_t huge[1] = { 0xffffffffu };
	static const uint32_t at_limit[2] = { 1u << 14, 1u << 14 };	/* 2^28 */
	static const uint32_t zero[2] = { 3, 0 };
	static const uint32_t ok[2] = { 2, 2 };
	static const uint32_t five[5] = { 1, 1, 1, 1, 1 };
	struct amfile f;
	struct bld b;
	char err[256];

	(void)state;
	expect_refused(b.b, b_two(&b, "w", 4, overflow, 0), AM_ELIMIT);
	expect_refused(b.b, b_two(&b, "w", 3, over, 0), AM_ELIMIT);
	expect_refused(b.b, b_two(&b, "w", 1, huge, 0), AM_ELIMIT);
	/* Exactly at the limit passes the limit check and then misses its
	 * gigabyte of data. */
	expect_refused_msg(b.b, b_two(&b, "w", 2, at_limit, 0), AM_EFORMAT,
			   err, sizeof err);
	assert_non_null(strstr(err, "truncated: tensor 'w' needs 1073741824 bytes"));
	expect_refused_msg(b.b, b_two(&b, "w", 2, zero, 0), AM_EFORMAT,
			   err, sizeof err);
	assert_non_null(strstr(err, "dimension 1 is 0"));
	/* Ranks outside 1..4. */
	expect_refused(b.b, b_two(&b, "w", 0, ok, 0), AM_EFORMAT);
	expect_refused(b.b, b_two(&b, "w", 5, five, 1), AM_EFORMAT);
	/* The control: the same file with a sane shape is accepted. */
	assert_int_equal(amfile_decode(b.b, b_two(&b, "w", 2, ok, 4), &f,
				       err, sizeof err), AM_OK);
	assert_int_equal(f.layout.views[1].size, 4);
	amfile_free(&f);
}

static void test_names(void **state)
{
	static const uint32_t d[1] = { 1 };
	static const char *const bad[] = {
		"", "with space", "tab\there", "bell\a", "caf\xc3\xa9",
		"0123456789012345678901234567890123456789012345678901234567890123",
	};
	struct bld b;
	struct amfile f;
	char err[256];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_refused(b.b, b_two(&b, bad[i], 1, d, 1), AM_EFORMAT);
	/* A NUL inside a name. */
	b_begin(&b, "{}", 2, 1);
	b_u16(&b, 3);
	b_bytes(&b, "a\0b", 3);
	b_u8(&b, 1);
	b_u32(&b, 1);
	b_f32(&b, 1.0f);
	expect_refused(b.b, b_finish(&b), AM_EFORMAT);

	/* 63 bytes is the longest name. */
	len = b_two(&b, bad[5] + 1, 1, d, 1);
	assert_int_equal(amfile_decode(b.b, len, &f, err, sizeof err), AM_OK);
	assert_string_equal(f.layout.views[1].name, bad[5] + 1);
	amfile_free(&f);

	expect_refused_msg(b.b, b_two(&b, "a", 1, d, 1), AM_EFORMAT, err, sizeof err);
	assert_non_null(strstr(err, "duplicate tensor name 'a'"));
}

static void test_non_finite(void **state)
{
	static const uint32_t bad[4] = {
		0x7fc00000u, 0xffc00001u, 0x7f800000u, 0xff800000u,
	};
	struct model m;
	unsigned char *buf;
	size_t len;
	char err[256];
	int i;

	(void)state;
	model_make(&m, 11);
	model_encode(&m, &buf, &len);
	/* The last float of the last tensor ("t4") sits before the CRC. */
	for (i = 0; i < 4; i++) {
		put32(buf + len - 8, bad[i]);
		crc_patch(buf, len);
		expect_refused_msg(buf, len, AM_ENUMERIC, err, sizeof err);
		assert_non_null(strstr(err, "'t4'"));
		assert_non_null(strstr(err, i < 2 ? "NaN" : "Inf"));
	}
	free(buf);
	model_free(&m);
}

static void test_trailing_garbage(void **state)
{
	struct model m;
	unsigned char *buf, *big;
	size_t len;
	char err[256];

	(void)state;
	model_make(&m, 12);
	model_encode(&m, &buf, &len);
	big = malloc(len + 3);
	assert_non_null(big);

	/* After the CRC: the checksum no longer sits at the end. */
	memcpy(big, buf, len);
	memcpy(big + len, "xyz", 3);
	expect_refused(big, len + 3, AM_EFORMAT);

	/* Before the CRC, with the CRC recomputed. */
	memcpy(big, buf, len - 4);
	memcpy(big + len - 4, "xyz", 3);
	crc_patch(big, len + 3);
	expect_refused_msg(big, len + 3, AM_EFORMAT, err, sizeof err);
	assert_non_null(strstr(err, "3 trailing bytes"));
	free(big);
	free(buf);
	model_free(&m);
}

static void test_truncation_message(void **state)
{
	struct model m;
	const struct layout_view *v;
	unsigned char *buf;
	size_t len, cut;
	char err[256], want[64];

	(void)state;
	model_make(&m, 13);
	model_encode(&m, &buf, &len);
	/* Cut inside blk0.qkvw's data: count, "emb" block, then its head. */
	cut = count_offset() + 4 + (2 + 3 + 1 + 8 + 4 * 15) + (2 + 9 + 1 + 12) + 10;
	crc_patch(buf, cut + 4);
	expect_refused_msg(buf, cut + 4, AM_EFORMAT, err, sizeof err);
	v = layout_find(&m.lay, "blk0.qkvw");
	snprintf(want, sizeof want, "truncated: tensor 'blk0.qkvw' needs %zu bytes",
		 4 * v->size);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "only 10 remain"));
	/* No message buffer is fine too. */
	assert_int_equal(amfile_decode(buf, cut + 4, &(struct amfile){ 0 }, NULL, 0),
			 AM_EFORMAT);
	free(buf);
	model_free(&m);
}

/* ---- the writer's checks ------------------------------------------------ */

static void test_encode_refuses(void **state)
{
	struct model m;
	struct layout big;
	unsigned char *buf = (unsigned char *)"untouched";
	size_t len = 99;
	char *header;
	float dummy[1] = { 0 };
	int shape[1] = { (1 << 27) + 1 };

	(void)state;
	model_make(&m, 14);
	assert_int_equal(amfile_encode(NULL, &m.lay, m.data, &buf, &len), AM_EINVAL);
	assert_int_equal(amfile_encode("{\xff}", &m.lay, m.data, &buf, &len),
			 AM_EINVAL);
	header = malloc(AMFILE_HEADER_MAX + 2);
	assert_non_null(header);
	memset(header, ' ', AMFILE_HEADER_MAX + 1);
	header[AMFILE_HEADER_MAX + 1] = '\0';
	assert_int_equal(amfile_encode(header, &m.lay, m.data, &buf, &len), AM_EINVAL);
	header[AMFILE_HEADER_MAX] = '\0';
	assert_int_equal(amfile_encode(header, &m.lay, m.data, &buf, &len), AM_OK);
	free(buf);
	buf = (unsigned char *)"untouched";
	len = 99;
	free(header);

	m.data[m.lay.views[2].offset + 6] = NAN;
	assert_int_equal(amfile_encode("{}", &m.lay, m.data, &buf, &len), AM_ENUMERIC);
	m.data[m.lay.views[2].offset + 6] = INFINITY;
	assert_int_equal(amfile_encode("{}", &m.lay, m.data, &buf, &len), AM_ENUMERIC);
	m.data[m.lay.views[2].offset + 6] = 0.0f;

	/* Names a reader would refuse, planted behind layout_add's back. */
	strcpy(m.lay.views[1].name, "a b");
	assert_int_equal(amfile_encode("{}", &m.lay, m.data, &buf, &len), AM_EINVAL);
	strcpy(m.lay.views[1].name, "emb");
	assert_int_equal(amfile_encode("{}", &m.lay, m.data, &buf, &len), AM_EINVAL);
	strcpy(m.lay.views[1].name, "blk0.qkvw");

	/* Over the float limit in total: refused before any float is read
	 * (the data pointer covers one float only). */
	layout_init(&big);
	layout_add(&big, "x", 1, shape);
	layout_add(&big, "y", 1, shape);
	assert_int_equal(amfile_encode("{}", &big, dummy, &buf, &len), AM_EINVAL);
	layout_free(&big);

	assert_string_equal((const char *)buf, "untouched");
	assert_int_equal(len, 99);
	model_free(&m);
}

static void test_write_refuses(void **state)
{
	struct model m;
	char dir[64], path[128], err[256];

	(void)state;
	model_make(&m, 15);
	err[0] = '\0';
	assert_int_equal(amfile_write("/nonexistent-amfile-dir/m.amort", "{}",
				      &m.lay, m.data, err, sizeof err), AM_EIO);
	assert_non_null(strstr(err, "/nonexistent-amfile-dir/m.amort.tmp"));

	/* Refused data leaves no file and no temporary behind. */
	tmpdir_make(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/m.amort", dir);
	m.data[0] = NAN;
	assert_int_equal(amfile_write(path, "{}", &m.lay, m.data, err, sizeof err),
			 AM_ENUMERIC);
	assert_non_null(strstr(err, "'emb'"));
	assert_int_equal(rmdir(dir), 0);	/* fails unless empty */
	model_free(&m);
}

/* ---- reading files ------------------------------------------------------ */

static void expect_read_refused(const char *path, int status)
{
	struct amfile out;
	unsigned char before[sizeof out];
	char err[256] = "";

	memset(&out, 0x5a, sizeof out);
	memcpy(before, &out, sizeof out);
	assert_int_equal(amfile_read(path, &out, err, sizeof err), status);
	assert_memory_equal(&out, before, sizeof out);
	assert_true(err[0] != '\0');
}

static void test_read_refuses(void **state)
{
	char dir[64], path[128];
	int fd;

	(void)state;
	tmpdir_make(dir, sizeof dir);

	snprintf(path, sizeof path, "%s/missing.amort", dir);
	expect_read_refused(path, AM_EIO);
	expect_read_refused(dir, AM_EIO);

	/* A FIFO with no writer: refused at once, not waited on. */
	snprintf(path, sizeof path, "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_read_refused(path, AM_EIO);
	assert_int_equal(unlink(path), 0);

	/* An empty file. */
	snprintf(path, sizeof path, "%s/empty.amort", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	expect_read_refused(path, AM_EFORMAT);
	assert_int_equal(unlink(path), 0);

	/* A sparse file one byte over the limit: refused by its size alone. */
	snprintf(path, sizeof path, "%s/big.amort", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)AMFILE_BYTES_MAX + 1), 0);
	close(fd);
	expect_read_refused(path, AM_ELIMIT);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(rmdir(dir), 0);
}

/* ---- the shared file helpers -------------------------------------------- */

/* amfile_slurp and amfile_write_atomic on raw bytes: a round trip (empty
 * too), the size limit, a FIFO and a directory, each refusal leaving the
 * outputs untouched with a message naming the path. */
static void test_slurp_write_atomic(void **state)
{
	static const unsigned char bytes[5] = { 0x00, 0xff, 'a', '\n', 0x7f };
	unsigned char *buf = NULL, *sentinel = (unsigned char *)&buf;
	char dir[64], path[128], tmp[140], err[256];
	size_t len = 0;

	(void)state;
	tmpdir_make(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/raw.bin", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);

	assert_int_equal(amfile_write_atomic(path, bytes, sizeof bytes, err,
					     sizeof err), AM_OK);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(amfile_slurp(path, sizeof bytes, &buf, &len, err,
				      sizeof err), AM_OK);
	assert_int_equal(len, sizeof bytes);
	assert_memory_equal(buf, bytes, sizeof bytes);
	free(buf);

	/* One byte over the limit: refused by its size, outputs untouched. */
	buf = sentinel;
	len = 99;
	err[0] = '\0';
	assert_int_equal(amfile_slurp(path, sizeof bytes - 1, &buf, &len, err,
				      sizeof err), AM_ELIMIT);
	assert_ptr_equal(buf, sentinel);
	assert_int_equal(len, 99);
	assert_non_null(strstr(err, "is 5 bytes, the limit is 4"));

	/* An empty file round-trips as zero bytes. */
	assert_int_equal(amfile_write_atomic(path, NULL, 0, err, sizeof err), AM_OK);
	buf = NULL;
	assert_int_equal(amfile_slurp(path, 0, &buf, &len, err, sizeof err), AM_OK);
	assert_non_null(buf);
	assert_int_equal(len, 0);
	free(buf);
	assert_int_equal(unlink(path), 0);

	/* Not regular files: a FIFO (not waited on) and a directory. */
	snprintf(path, sizeof path, "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	buf = sentinel;
	err[0] = '\0';
	assert_int_equal(amfile_slurp(path, 1 << 20, &buf, &len, err, sizeof err),
			 AM_EIO);
	assert_ptr_equal(buf, sentinel);
	assert_non_null(strstr(err, "is not a regular file"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(amfile_slurp(dir, 1 << 20, &buf, &len, err, sizeof err),
			 AM_EIO);
	assert_ptr_equal(buf, sentinel);

	/* A write that cannot create its temporary names it and leaves
	 * nothing behind; a missing path is AM_EINVAL. */
	snprintf(path, sizeof path, "%s/no-such-dir/raw.bin", dir);
	assert_int_equal(amfile_write_atomic(path, bytes, sizeof bytes, err,
					     sizeof err), AM_EIO);
	assert_non_null(strstr(err, "raw.bin.tmp"));
	assert_int_equal(amfile_write_atomic("", bytes, sizeof bytes, err,
					     sizeof err), AM_EINVAL);
	assert_string_equal(err, "missing path");

	assert_int_equal(rmdir(dir), 0);	/* fails unless empty */
}

/* ---- binding ------------------------------------------------------------ */

static void test_bind(void **state)
{
	static const int s3[3] = { 2, 3, 4 };
	static const int s4[4] = { 2, 1, 3, 2 };
	struct model m;
	struct amfile f;
	struct layout lay;
	unsigned char *buf;
	size_t len, i;
	float *dst;
	char err[256];
	int j;

	(void)state;
	model_make(&m, 16);
	model_encode(&m, &buf, &len);
	assert_int_equal(amfile_decode(buf, len, &f, err, sizeof err), AM_OK);

	/* The model lays its block out in another order: bind goes by name. */
	layout_init(&lay);
	layout_add(&lay, "t4", 4, s4);
	layout_add1(&lay, "head.b", 7);
	layout_add(&lay, "blk0.qkvw", 3, s3);
	layout_add2(&lay, "emb", 5, 3);
	dst = tu_alloc(lay.total);
	for (i = 0; i < lay.total; i++)
		dst[i] = 7.0f;
	assert_int_equal(amfile_bind(&f, &lay, dst, err, sizeof err), AM_OK);
	for (j = 0; j < lay.n; j++) {
		const struct layout_view *v = &lay.views[j];
		const struct layout_view *w = layout_find(&m.lay, v->name);

		assert_memory_equal(dst + v->offset, m.data + w->offset,
				    v->size * sizeof(float));
	}
	/* Padding after "t4" (12 floats, the next view starts at 16) is not
	 * touched. */
	assert_true(dst[12] == 7.0f && dst[15] == 7.0f);

	free(dst);
	layout_free(&lay);
	amfile_free(&f);
	free(buf);
	model_free(&m);
}

/* Binds a file of model m to lay and expects AM_EFORMAT naming want, with
 * the destination untouched. */
static void expect_bind_refused(const struct amfile *f, const struct layout *lay,
				const char *want)
{
	float *dst = tu_alloc(lay->total);
	char err[256] = "";
	size_t i;

	for (i = 0; i < lay->total; i++)
		dst[i] = 3.0f;
	assert_int_equal(amfile_bind(f, lay, dst, err, sizeof err), AM_EFORMAT);
	assert_non_null(strstr(err, want));
	for (i = 0; i < lay->total; i++)
		assert_true(dst[i] == 3.0f);
	free(dst);
}

static void test_bind_mismatch(void **state)
{
	static const int s3[3] = { 2, 3, 4 };
	static const int s3t[3] = { 2, 4, 3 };
	static const int s4[4] = { 2, 1, 3, 2 };
	struct model m;
	struct amfile f;
	struct layout lay;
	unsigned char *buf;
	size_t len;
	char err[256];

	(void)state;
	model_make(&m, 17);
	model_encode(&m, &buf, &len);
	assert_int_equal(amfile_decode(buf, len, &f, err, sizeof err), AM_OK);

	/* The model wants a tensor the file lacks. */
	layout_init(&lay);
	layout_add2(&lay, "emb", 5, 3);
	layout_add(&lay, "blk0.qkvw", 3, s3);
	layout_add1(&lay, "head.b", 7);
	layout_add(&lay, "t4", 4, s4);
	layout_add1(&lay, "head.w", 7);
	expect_bind_refused(&f, &lay, "tensor 'head.w' is missing");
	layout_free(&lay);

	/* A shape that differs (same size, transposed). */
	layout_init(&lay);
	layout_add2(&lay, "emb", 5, 3);
	layout_add(&lay, "blk0.qkvw", 3, s3t);
	layout_add1(&lay, "head.b", 7);
	layout_add(&lay, "t4", 4, s4);
	expect_bind_refused(&f, &lay,
			    "tensor 'blk0.qkvw' has shape [2,3,4] in the model file, the model expects [2,4,3]");
	layout_free(&lay);

	/* A rank that differs. */
	layout_init(&lay);
	layout_add1(&lay, "emb", 15);
	layout_add(&lay, "blk0.qkvw", 3, s3);
	layout_add1(&lay, "head.b", 7);
	layout_add(&lay, "t4", 4, s4);
	expect_bind_refused(&f, &lay, "tensor 'emb' has shape [5,3]");
	layout_free(&lay);

	/* The file has a tensor the model does not. */
	layout_init(&lay);
	layout_add2(&lay, "emb", 5, 3);
	layout_add(&lay, "blk0.qkvw", 3, s3);
	layout_add(&lay, "t4", 4, s4);
	expect_bind_refused(&f, &lay, "tensor 'head.b' in the model file is not part");
	layout_free(&lay);

	amfile_free(&f);
	free(buf);
	model_free(&m);
}

static void test_free_idempotent(void **state)
{
	struct model m;
	struct amfile f;
	unsigned char *buf;
	size_t len;
	char err[256];

	(void)state;
	amfile_free(NULL);
	model_make(&m, 18);
	model_encode(&m, &buf, &len);
	assert_int_equal(amfile_decode(buf, len, &f, err, sizeof err), AM_OK);
	amfile_free(&f);
	assert_null(f.header);
	assert_null(f.data);
	assert_int_equal(f.layout.n, 0);
	amfile_free(&f);
	free(buf);
	model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_round_trip_memory),
		cmocka_unit_test(test_round_trip_file),
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_truncation_fixed_crc),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_header_checks),
		cmocka_unit_test(test_tensor_count),
		cmocka_unit_test(test_dims),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_non_finite),
		cmocka_unit_test(test_trailing_garbage),
		cmocka_unit_test(test_truncation_message),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_write_refuses),
		cmocka_unit_test(test_read_refuses),
		cmocka_unit_test(test_slurp_write_atomic),
		cmocka_unit_test(test_bind),
		cmocka_unit_test(test_bind_mismatch),
		cmocka_unit_test(test_free_idempotent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
