/*
 * imgset.h - a labelled image data set split into training and test images,
 * and its compact file (*.img).
 *
 * `make data` converts FashionMNIST and MNIST into such files under data/
 * (deploy/fetch-data.sh); the image classification tasks draw from them.
 * schema/img-format.md describes the bytes: a fixed header (magic, version,
 * counts, rows, cols, classes), the training images and labels, the test
 * images and labels as bytes, and a trailing CRC-32.
 *
 * A struct imgset owns its four arrays.  The decoder treats its input as
 * untrusted: the checksum, every count against the hard limits below and the
 * exact file length are checked before anything is allocated, every label
 * against the class count after, and a bad file is refused with a status and
 * a message, never a crash.  This module never prints.  All functions are
 * thread-safe on distinct arguments.
 */
#ifndef IMGSET_H
#define IMGSET_H

#include <stddef.h>

#define IMGSET_VERSION 1u
#define IMGSET_MAGIC_LEN 8
#define IMGSET_HEADER_BYTES 32		/* magic, version and five counts */
#define IMGSET_SIDE_MAX 256		/* rows, cols */
#define IMGSET_NPIX_MAX 4096		/* rows * cols */
#define IMGSET_CLASSES_MAX 256		/* a label is one byte */
#define IMGSET_IMAGES_MAX (1 << 20)	/* per split */
#define IMGSET_BYTES_MAX ((size_t)1 << 30)

/* The magic: a high-bit byte, "AMI", CR LF, ^Z, LF (the PNG pattern, as in
 * the model file). */
extern const unsigned char imgset_magic[IMGSET_MAGIC_LEN];

/* A data set in memory.  Images are row-major bytes, 0 = background,
 * 255 = full ink; image i of a split starts at x + i * npix. */
struct imgset {
	int ntrain, ntest;		/* images per split; ntrain >= 1 */
	int rows, cols, npix;		/* npix = rows * cols */
	int nclass;			/* labels are 0 .. nclass-1 */
	unsigned char *train_x;		/* ntrain x npix, owned */
	unsigned char *train_y;		/* ntrain, owned */
	unsigned char *test_x;		/* ntest x npix, owned (NULL if 0) */
	unsigned char *test_y;		/* ntest, owned (NULL if 0) */
};

/*
 * Encodes s into a new buffer: on success *buf is a new allocation of *len
 * bytes that the caller frees with free().  s is borrowed.  Returns AM_OK,
 * AM_EINVAL (a negative or zero size, npix != rows * cols, or a label not
 * below nclass), AM_ELIMIT (a size over its limit, or over IMGSET_BYTES_MAX
 * in all) or AM_ENOMEM; *buf and *len are written only on success.
 */
int imgset_encode(const struct imgset *s, unsigned char **buf, size_t *len);

/*
 * Encodes s and writes it to path atomically ("path.tmp", fsync, rename).
 * Returns AM_OK or the status of imgset_encode or AM_EIO (path.tmp is
 * removed); err (may be NULL) receives a message of at most errlen bytes.
 */
int imgset_write(const char *path, const struct imgset *s, char *err,
		 size_t errlen);

/*
 * Parses len untrusted bytes at buf (borrowed).  Checks the magic, the
 * length, the checksum, the version, every count against its limit, the
 * exact length the counts imply, then every label.  On success fills *out
 * (the caller releases it with imgset_free).  On failure *out is untouched
 * and the status is AM_EFORMAT (bad magic, truncated, trailing bytes,
 * checksum mismatch, a zero or inconsistent size, a label out of range),
 * AM_EVERSION, AM_ELIMIT (a count over a limit) or AM_ENOMEM; err (may be
 * NULL) receives a message naming the field or the image.
 */
int imgset_decode(const unsigned char *buf, size_t len, struct imgset *out,
		  char *err, size_t errlen);

/*
 * Reads the file at path and decodes it as imgset_decode does.  Refuses,
 * before reading, anything that is not a regular file (AM_EIO) and files
 * over IMGSET_BYTES_MAX bytes (AM_ELIMIT).  A missing or unreadable file is
 * AM_EIO.  *out is written only on success.
 */
int imgset_read(const char *path, struct imgset *out, char *err, size_t errlen);

/* Releases what s owns and zeroes it.  NULL-safe and idempotent. */
void imgset_free(struct imgset *s);

/* Writes px[i] / 255 into out[i] for i < n: pixels in [0, 1], the scale
 * struct pca works in.  Thread-safe. */
void imgset_to_float(float *out, const unsigned char *px, size_t n);

#endif
