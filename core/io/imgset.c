/*
 * imgset.c - the image data set file (*.img): byte layout, checks and file
 * I/O.
 *
 * The whole file is in memory while it is decoded (FashionMNIST is 55 MB),
 * so every check runs on the buffer before the four arrays are allocated.
 */
#include "io/imgset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "io/amfile.h"
#include "io/bytes.h"

const unsigned char imgset_magic[IMGSET_MAGIC_LEN] = {
	0x89, 'A', 'M', 'I', '\r', '\n', 0x1a, '\n'
};

/* The smallest file: the header and the CRC with no images at all (which
 * the size checks then refuse: a training split needs one image). */
#define IMGSET_FIXED_BYTES (IMGSET_HEADER_BYTES + 4)

/* The header's counts, as read, before they are trusted. */
struct dims {
	uint32_t ntrain, ntest, rows, cols, nclass;
};

/*
 * Checks the counts against the limits and returns the file length they
 * imply in *bytes.  Everything is computed in 64 bits from values already
 * bounded, so nothing overflows.  Returns AM_OK, AM_EFORMAT (a zero size)
 * or AM_ELIMIT.
 */
static int dims_check(const struct dims *d, uint64_t *bytes, char *err,
		      size_t errlen)
{
	uint64_t npix;

	if (d->rows == 0 || d->cols == 0)
		return am_fail(err, errlen, AM_EFORMAT, "image size %lux%lu is empty",
			    (unsigned long)d->rows, (unsigned long)d->cols);
	if (d->rows > IMGSET_SIDE_MAX || d->cols > IMGSET_SIDE_MAX)
		return am_fail(err, errlen, AM_ELIMIT,
			    "image size %lux%lu is over the limit of %d per side",
			    (unsigned long)d->rows, (unsigned long)d->cols,
			    IMGSET_SIDE_MAX);
	npix = (uint64_t)d->rows * d->cols;
	if (npix > IMGSET_NPIX_MAX)
		return am_fail(err, errlen, AM_ELIMIT,
			    "%llu pixels per image, the limit is %d",
			    (unsigned long long)npix, IMGSET_NPIX_MAX);
	if (d->nclass == 0)
		return am_fail(err, errlen, AM_EFORMAT, "class count is 0");
	if (d->nclass > IMGSET_CLASSES_MAX)
		return am_fail(err, errlen, AM_ELIMIT,
			    "class count %lu is over the limit of %d",
			    (unsigned long)d->nclass, IMGSET_CLASSES_MAX);
	if (d->ntrain == 0)
		return am_fail(err, errlen, AM_EFORMAT, "the training split is empty");
	if (d->ntrain > IMGSET_IMAGES_MAX || d->ntest > IMGSET_IMAGES_MAX)
		return am_fail(err, errlen, AM_ELIMIT,
			    "%lu training and %lu test images, the limit is %d per split",
			    (unsigned long)d->ntrain, (unsigned long)d->ntest,
			    IMGSET_IMAGES_MAX);
	*bytes = IMGSET_FIXED_BYTES + ((uint64_t)d->ntrain + d->ntest) * (npix + 1);
	if (*bytes > IMGSET_BYTES_MAX)
		return am_fail(err, errlen, AM_ELIMIT,
			    "the counts imply %llu bytes, the limit is %zu",
			    (unsigned long long)*bytes, IMGSET_BYTES_MAX);
	return AM_OK;
}

/* Returns the index of the first label in y[0..n) that is not below nclass,
 * or n. */
static size_t label_bad_at(const unsigned char *y, size_t n, int nclass)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (y[i] >= nclass)
			return i;
	return n;
}

int imgset_encode(const struct imgset *s, unsigned char **buf, size_t *len)
{
	struct dims d;
	unsigned char *p;
	uint64_t bytes;
	size_t pos = 0, ntr, nte, npix;
	int rc;

	AM_ASSERT(s && buf && len);
	if (s->ntrain < 0 || s->ntest < 0 || s->rows < 0 || s->cols < 0 ||
	    s->nclass < 0 || s->npix != s->rows * s->cols)
		return AM_EINVAL;
	d.ntrain = (uint32_t)s->ntrain;
	d.ntest = (uint32_t)s->ntest;
	d.rows = (uint32_t)s->rows;
	d.cols = (uint32_t)s->cols;
	d.nclass = (uint32_t)s->nclass;
	rc = dims_check(&d, &bytes, NULL, 0);
	if (rc != AM_OK)
		return rc == AM_ELIMIT ? AM_ELIMIT : AM_EINVAL;
	ntr = (size_t)s->ntrain;
	nte = (size_t)s->ntest;
	npix = (size_t)s->npix;
	AM_ASSERT(s->train_x && s->train_y && (nte == 0 || (s->test_x && s->test_y)));
	if (label_bad_at(s->train_y, ntr, s->nclass) < ntr ||
	    label_bad_at(s->test_y, nte, s->nclass) < nte)
		return AM_EINVAL;

	p = malloc((size_t)bytes);
	if (!p)
		return AM_ENOMEM;
	memcpy(p, imgset_magic, IMGSET_MAGIC_LEN);
	pos = IMGSET_MAGIC_LEN;
	bytes_put_u32(p + pos, IMGSET_VERSION);
	bytes_put_u32(p + pos + 4, d.ntrain);
	bytes_put_u32(p + pos + 8, d.ntest);
	bytes_put_u32(p + pos + 12, d.rows);
	bytes_put_u32(p + pos + 16, d.cols);
	bytes_put_u32(p + pos + 20, d.nclass);
	pos = IMGSET_HEADER_BYTES;
	memcpy(p + pos, s->train_x, ntr * npix);
	pos += ntr * npix;
	memcpy(p + pos, s->train_y, ntr);
	pos += ntr;
	if (nte) {
		memcpy(p + pos, s->test_x, nte * npix);
		pos += nte * npix;
		memcpy(p + pos, s->test_y, nte);
		pos += nte;
	}
	AM_ASSERT(pos + 4 == bytes);
	bytes_put_u32(p + pos, amfile_crc32(p, pos));
	*buf = p;
	*len = (size_t)bytes;
	return AM_OK;
}

int imgset_write(const char *path, const struct imgset *s, char *err,
		 size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	if (!path || !*path)
		return am_fail(err, errlen, AM_EINVAL, "missing path");
	rc = imgset_encode(s, &buf, &len);
	if (rc != AM_OK)
		return am_fail(err, errlen, rc, "cannot encode the data set: %s",
			    rc == AM_EINVAL ? "a size or label is out of range" :
			    am_strerror(rc));
	rc = amfile_write_atomic(path, buf, len, err, errlen);
	free(buf);
	return rc;
}

/* Refuses a buffer that does not start with the magic, telling a
 * truncated file (a prefix of the magic) from a foreign one. */
static int magic_check(const unsigned char *buf, size_t len, char *err,
		       size_t errlen)
{
	size_t n = len < IMGSET_MAGIC_LEN ? len : IMGSET_MAGIC_LEN;

	if (n == IMGSET_MAGIC_LEN && memcmp(buf, imgset_magic, n) == 0)
		return AM_OK;
	if (n == 0 || memcmp(buf, imgset_magic, n) == 0)
		return am_fail(err, errlen, AM_EFORMAT,
			    "truncated: %zu bytes, an image set file has at least %d",
			    len, IMGSET_FIXED_BYTES);
	/* The first bytes survive a text-mode copy; the CR LF and LF after
	 * them do not. */
	if (n >= 4 && memcmp(buf, imgset_magic, 4) == 0)
		return am_fail(err, errlen, AM_EFORMAT,
			    "bad magic: line endings or high bytes were changed (copied in text mode?)");
	return am_fail(err, errlen, AM_EFORMAT, "bad magic: not an image set file");
}

/* Copies n bytes at src into a new allocation at *dst (NULL when n is 0). */
static int dup_bytes(unsigned char **dst, const unsigned char *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return AM_OK;
	*dst = malloc(n);
	if (!*dst)
		return AM_ENOMEM;
	memcpy(*dst, src, n);
	return AM_OK;
}

int imgset_decode(const unsigned char *buf, size_t len, struct imgset *out,
		  char *err, size_t errlen)
{
	struct imgset s;
	struct dims d;
	uint64_t bytes;
	uint32_t stored, crc, version;
	size_t npix, ntr, nte, pos, bad;
	int rc;

	AM_ASSERT(out && (buf || len == 0));
	memset(&s, 0, sizeof s);
	rc = magic_check(buf, len, err, errlen);
	if (rc != AM_OK)
		return rc;
	if (len > IMGSET_BYTES_MAX)
		return am_fail(err, errlen, AM_ELIMIT, "%zu bytes, the limit is %zu",
			    len, IMGSET_BYTES_MAX);
	if (len < IMGSET_FIXED_BYTES)
		return am_fail(err, errlen, AM_EFORMAT,
			    "truncated: %zu bytes, an image set file has at least %d",
			    len, IMGSET_FIXED_BYTES);
	stored = bytes_get_u32(buf + len - 4);
	crc = amfile_crc32(buf, len - 4);
	if (stored != crc)
		return am_fail(err, errlen, AM_EFORMAT,
			    "checksum mismatch: stored 0x%08lx, computed 0x%08lx (corrupt or truncated file)",
			    (unsigned long)stored, (unsigned long)crc);
	version = bytes_get_u32(buf + IMGSET_MAGIC_LEN);
	if (version != IMGSET_VERSION)
		return am_fail(err, errlen, AM_EVERSION,
			    "format version %lu, this build reads version %u",
			    (unsigned long)version, IMGSET_VERSION);
	d.ntrain = bytes_get_u32(buf + 12);
	d.ntest = bytes_get_u32(buf + 16);
	d.rows = bytes_get_u32(buf + 20);
	d.cols = bytes_get_u32(buf + 24);
	d.nclass = bytes_get_u32(buf + 28);
	rc = dims_check(&d, &bytes, err, errlen);
	if (rc != AM_OK)
		return rc;
	if (bytes != len)
		return am_fail(err, errlen, AM_EFORMAT,
			    "%zu bytes, but %lu + %lu images of %lux%lu take %llu (%s)",
			    len, (unsigned long)d.ntrain, (unsigned long)d.ntest,
			    (unsigned long)d.rows, (unsigned long)d.cols,
			    (unsigned long long)bytes,
			    bytes > len ? "truncated" : "trailing bytes");
	npix = (size_t)d.rows * d.cols;
	ntr = d.ntrain;
	nte = d.ntest;
	pos = IMGSET_HEADER_BYTES + ntr * npix;
	bad = label_bad_at(buf + pos, ntr, (int)d.nclass);
	if (bad < ntr)
		return am_fail(err, errlen, AM_EFORMAT,
			    "training image %zu has label %d, the classes are 0..%lu",
			    bad, buf[pos + bad], (unsigned long)d.nclass - 1);
	pos += ntr + nte * npix;
	bad = label_bad_at(buf + pos, nte, (int)d.nclass);
	if (bad < nte)
		return am_fail(err, errlen, AM_EFORMAT,
			    "test image %zu has label %d, the classes are 0..%lu",
			    bad, buf[pos + bad], (unsigned long)d.nclass - 1);

	s.ntrain = (int)d.ntrain;
	s.ntest = (int)d.ntest;
	s.rows = (int)d.rows;
	s.cols = (int)d.cols;
	s.npix = (int)npix;
	s.nclass = (int)d.nclass;
	pos = IMGSET_HEADER_BYTES;
	if (dup_bytes(&s.train_x, buf + pos, ntr * npix) != AM_OK ||
	    dup_bytes(&s.train_y, buf + pos + ntr * npix, ntr) != AM_OK ||
	    dup_bytes(&s.test_x, buf + pos + ntr * (npix + 1), nte * npix) != AM_OK ||
	    dup_bytes(&s.test_y, buf + pos + ntr * (npix + 1) + nte * npix, nte) != AM_OK) {
		imgset_free(&s);
		return am_fail(err, errlen, AM_ENOMEM, "no memory for %zu images",
			    ntr + nte);
	}
	*out = s;
	return AM_OK;
}

int imgset_read(const char *path, struct imgset *out, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	AM_ASSERT(path && out);
	rc = amfile_slurp(path, IMGSET_BYTES_MAX, &buf, &len, err, errlen);
	if (rc != AM_OK)
		return rc;
	rc = imgset_decode(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

void imgset_free(struct imgset *s)
{
	if (!s)
		return;
	free(s->train_x);
	free(s->train_y);
	free(s->test_x);
	free(s->test_y);
	memset(s, 0, sizeof *s);
}

void imgset_to_float(float *out, const unsigned char *px, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (float)px[i] / 255.0f;
}
