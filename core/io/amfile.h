/*
 * amfile.h - the model file (*.amort): encode, decode, read, write and bind.
 *
 * A model file holds one meta-trained amortizer: an 8-byte magic, a format
 * version, a JSON header (opaque text here), the float32 parameter tensors by
 * name and shape, and a trailing CRC-32.  schema/amort-format.md describes
 * the bytes.  Every integer and float is read and written byte by byte in
 * little-endian order, so files move between machines unchanged.
 *
 * A decoded struct amfile owns its header text, its layout table and its
 * float block.  The decoder treats its input as untrusted: every size is
 * checked against the bytes present and the hard limits below before
 * anything is allocated, and a bad file is refused with a status and a
 * message, never a crash.  This module never parses JSON and never prints.
 * All functions are thread-safe on distinct arguments.
 */
#ifndef AMFILE_H
#define AMFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/layout.h"

#define AMFILE_VERSION 1u
#define AMFILE_MAGIC_LEN 8
#define AMFILE_HEADER_MAX (1u << 20)		/* bytes of JSON header */
#define AMFILE_TENSORS_MAX 4096u		/* tensor blocks per file */
#define AMFILE_NAME_MAX 63u			/* bytes of a tensor name */
#define AMFILE_FLOATS_MAX ((size_t)1 << 28)	/* floats per file (1 GiB) */
#define AMFILE_BYTES_MAX (((size_t)1 << 30) + ((size_t)2 << 20))

/* The magic: a high-bit byte, "AMO", CR LF, ^Z, LF (the PNG pattern, so
 * 7-bit transfers and line-ending conversions break it visibly). */
extern const unsigned char amfile_magic[AMFILE_MAGIC_LEN];

/* An in-memory model file. */
struct amfile {
	char *header;		/* NUL-terminated JSON text, owned */
	size_t header_len;	/* bytes, without the NUL */
	struct layout layout;	/* one view per tensor, in file order */
	float *data;		/* layout.total floats, owned, views point
				 * into it by offset; padding is zero */
};

/*
 * Writes the header text and every view of lay, taken from data (which
 * holds lay->total floats), to path atomically: the bytes go to "path.tmp",
 * which is fsync'd and renamed over path, then the directory is synced (best
 * effort).  Nothing is kept.  Returns AM_OK; AM_EINVAL if the arguments
 * break a format rule (name, shape, limit); AM_ENUMERIC if a value is NaN or
 * Inf; AM_ENOMEM; AM_EIO if a file operation fails (path.tmp is removed).
 * On failure, err (may be NULL) receives a message of at most errlen bytes,
 * NUL included.
 */
int amfile_write(const char *path, const char *header, const struct layout *lay,
		 const float *data, char *err, size_t errlen);

/*
 * Encodes the header text and every view of lay, taken from data, into a
 * new buffer: on success *buf is a new allocation of *len bytes that the
 * caller frees with free().  Returns AM_OK, AM_EINVAL (a name, shape or
 * limit rule broken, or a view outside lay->total), AM_ENUMERIC (a NaN or
 * Inf in a view) or AM_ENOMEM; *buf and *len are written only on success.
 */
int amfile_encode(const char *header, const struct layout *lay, const float *data,
		  unsigned char **buf, size_t *len);

/*
 * Parses len untrusted bytes at buf.  Checks the magic, then the checksum,
 * then the version, then every size, name and count before allocating.  On
 * success fills *out (the caller releases it with amfile_free); buf stays
 * the caller's.  On failure *out is untouched and the status is AM_EFORMAT
 * (bad magic, truncated, bad sizes, bad names, duplicate names, trailing
 * bytes, checksum mismatch, header not UTF-8 text), AM_EVERSION, AM_ELIMIT
 * (a size over a hard limit), AM_ENUMERIC (a NaN or Inf value) or
 * AM_ENOMEM; err (may be NULL) receives a message naming the offset or the
 * tensor.
 */
int amfile_decode(const unsigned char *buf, size_t len, struct amfile *out,
		  char *err, size_t errlen);

/*
 * Reads the file at path and decodes it as amfile_decode does.  Refuses,
 * before reading, anything that is not a regular file (AM_EIO; a FIFO does
 * not block) and files over AMFILE_BYTES_MAX bytes (AM_ELIMIT).  A missing
 * or unreadable file is AM_EIO.  *out is written only on success.
 */
int amfile_read(const char *path, struct amfile *out, char *err, size_t errlen);

/*
 * Reads the whole regular file at path into a new buffer: on success *buf
 * is a new allocation of *len bytes (at least one byte is allocated, so
 * *buf is never NULL) that the caller frees with free().  The file is
 * treated as untrusted input: a FIFO or device is refused without blocking
 * (AM_EIO, "... is not a regular file") and a file over max_bytes is
 * refused before anything is allocated (AM_ELIMIT).  A missing or
 * unreadable file is AM_EIO; AM_ENOMEM when the buffer cannot be had.  A
 * file that shrinks while it is read comes back short; one that grows is
 * read up to its size when opened.  *buf and *len are written only on
 * success; on failure err (may be NULL) receives a message naming path.
 * Shared by every reader of files in core (model, image set, font).
 */
int amfile_slurp(const char *path, size_t max_bytes, unsigned char **buf,
		 size_t *len, char *err, size_t errlen);

/*
 * Writes len bytes at buf (borrowed) to path atomically: they go to
 * "path.tmp" (never through a symlink there), which is fsync'd and renamed
 * over path, then the directory is synced (best effort).  Returns AM_OK;
 * AM_EINVAL for a missing path; AM_ENOMEM; AM_EIO if a file operation fails
 * (path.tmp is then removed and path is untouched).  On failure err (may
 * be NULL) receives a message naming the file.
 */
int amfile_write_atomic(const char *path, const void *buf, size_t len,
			char *err, size_t errlen);

/* Releases what f owns and empties it.  NULL-safe and idempotent. */
void amfile_free(struct amfile *f);

/*
 * Copies the tensors of f into data, laid out by lay: every view of lay must
 * exist in f under the same name with the identical shape, and f must hold
 * no tensor lay lacks; order does not matter.  data (lay->total floats,
 * borrowed) is written only on success; its padding is never touched.
 * Returns AM_OK or AM_EFORMAT with a message naming the tensor.
 */
int amfile_bind(const struct amfile *f, const struct layout *lay, float *data,
		char *err, size_t errlen);

/* The CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial value
 * and final xor 0xFFFFFFFF) of len bytes; "123456789" gives 0xCBF43926. */
uint32_t amfile_crc32(const void *buf, size_t len);

#endif
