/*
 * amfile.c - the model file (*.amort): byte layout, checks and file I/O.
 *
 * The decoder walks an untrusted buffer three times: once to check every
 * size, name and limit without allocating, once to build the layout (which
 * also finds duplicate names), and once to copy the floats, refusing NaN and
 * Inf.  The encoder checks everything it is given before it allocates, so a
 * file it writes is always one the decoder accepts.
 */
#include "io/amfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/am.h"
#include "io/bytes.h"

/* Floats are stored as the bits of IEEE-754 binary32, moved through a
 * uint32_t of the same size. */
_Static_assert(sizeof(float) == sizeof(uint32_t), "float must be 32 bits");
/* A name the file allows must fit a layout view's name with its NUL. */
_Static_assert(AMFILE_NAME_MAX + 1 == LAYOUT_NAME_MAX, "name limits differ");

const unsigned char amfile_magic[AMFILE_MAGIC_LEN] = {
	0x89, 'A', 'M', 'O', '\r', '\n', 0x1a, '\n'
};

/* The fixed part: magic, version, header length, tensor count, CRC-32. */
#define AMFILE_FIXED_BYTES (AMFILE_MAGIC_LEN + 4 + 4 + 4 + 4)

/* crc_table[n] is the CRC-32 register after shifting the byte n through
 * eight steps of the reflected polynomial 0xEDB88320. */
static const uint32_t crc_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau,
	0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u,
	0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u,
	0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu,
	0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
	0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u,
	0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu,
	0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u,
	0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u,
	0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
	0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du,
	0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au,
	0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u,
	0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u,
	0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u,
	0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau, 0xfcb9887cu,
	0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u,
	0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu,
	0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
	0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u,
	0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u,
	0x59b33d17u, 0x2eb40d81u, 0xb7bd5c3bu, 0xc0ba6cadu,
	0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u,
	0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
	0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu,
	0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u,
	0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u,
	0xd6d6a3e8u, 0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u,
	0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u,
	0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u,
	0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu,
	0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u,
	0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
	0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u,
	0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u,
	0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu,
	0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu,
	0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
	0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu,
	0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u,
	0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u,
	0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu,
	0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t amfile_crc32(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = 0xffffffffu;

	while (len--)
		c = crc_table[(c ^ *p++) & 0xffu] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* Fills buf with the text of errno value e (thread-safe, XSI form). */
static const char *errno_text(int e, char *buf, size_t n)
{
	if (strerror_r(e, buf, n) != 0)
		snprintf(buf, n, "error %d", e);
	return buf;
}

/* Exponent all ones: Inf (zero mantissa) or NaN. */
static int bits_finite(uint32_t bits)
{
	return (bits & 0x7f800000u) != 0x7f800000u;
}

/* ---- names and text ----------------------------------------------------- */

/* Name bytes are printable ASCII without the space (0x21..0x7e), so a name
 * can be quoted in a message or a listing without escaping. */
static int name_byte_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/*
 * Returns the offset of the first byte of s[0..len) that is NUL or not part
 * of a well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or len when the text is clean.
 */
static size_t text_bad_at(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned c, lo, hi;

	while (i < len) {
		c = s[i];
		if (c == 0)
			return i;
		if (c < 0x80) {
			i++;
			continue;
		}
		/* n continuation bytes follow the lead byte c */
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return i;
		/* lo..hi is the allowed range of the first continuation
		 * byte; it excludes overlongs (after e0, f0), surrogates
		 * (after ed) and > U+10FFFF (after f4). */
		lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
		if (len - i - 1 < n)
			return i;
		for (k = 1; k <= n; k++) {
			if (s[i + k] < lo || s[i + k] > hi)
				return i;
			lo = 0x80;
			hi = 0xbf;
		}
		i += n + 1;
	}
	return len;
}

/* ---- encoding ----------------------------------------------------------- */

/*
 * Checks view i of lay against the format's rules, without reading the
 * floats; adds its encoded size to *bytes and its float count to *floats.
 * Returns AM_OK or AM_EINVAL with a message.
 */
static int view_check(const struct layout *lay, int i, size_t *bytes,
		      size_t *floats, char *err, size_t errlen)
{
	const struct layout_view *v = &lay->views[i];
	const char *end = memchr(v->name, '\0', sizeof v->name);
	uint64_t size = 1;
	size_t nlen, k;
	int j;

	if (!end || end == v->name)
		return am_fail(err, errlen, AM_EINVAL,
			    "view %d: name is empty or not terminated", i);
	nlen = (size_t)(end - v->name);
	for (k = 0; k < nlen; k++)
		if (!name_byte_ok((unsigned char)v->name[k]))
			return am_fail(err, errlen, AM_EINVAL,
				    "view %d: name byte %zu is 0x%02x; names are printable ASCII without spaces",
				    i, k, (unsigned)(unsigned char)v->name[k]);
	for (j = 0; j < i; j++)
		if (strcmp(lay->views[j].name, v->name) == 0)
			return am_fail(err, errlen, AM_EINVAL,
				    "tensor '%s' appears twice", v->name);
	if (v->ndim < 1 || v->ndim > LAYOUT_NDIM_MAX)
		return am_fail(err, errlen, AM_EINVAL,
			    "tensor '%s': rank %d is not in 1..4", v->name, v->ndim);
	for (j = 0; j < v->ndim; j++) {
		if (v->shape[j] < 1)
			return am_fail(err, errlen, AM_EINVAL,
				    "tensor '%s': dimension %d is %d", v->name, j,
				    v->shape[j]);
		/* size <= 2^28 and shape < 2^31: no overflow in 64 bits. */
		size *= (uint64_t)v->shape[j];
		if (size > AMFILE_FLOATS_MAX)
			return am_fail(err, errlen, AM_EINVAL,
				    "tensor '%s' holds more than %zu floats",
				    v->name, AMFILE_FLOATS_MAX);
	}
	if (size != v->size || v->offset > lay->total ||
	    v->size > lay->total - v->offset)
		return am_fail(err, errlen, AM_EINVAL,
			    "tensor '%s': size or offset disagrees with the layout",
			    v->name);
	if (size > AMFILE_FLOATS_MAX - *floats)
		return am_fail(err, errlen, AM_EINVAL,
			    "the tensors hold more than %zu floats in total",
			    AMFILE_FLOATS_MAX);
	*floats += (size_t)size;
	*bytes += 2 + nlen + 1 + 4 * (size_t)v->ndim + 4 * (size_t)size;
	return AM_OK;
}

/* Refuses NaN and Inf in the floats of view v (AM_ENUMERIC). */
static int view_finite(const struct layout_view *v, const float *data,
		       char *err, size_t errlen)
{
	uint32_t bits;
	size_t k;

	for (k = 0; k < v->size; k++) {
		memcpy(&bits, &data[v->offset + k], sizeof bits);
		if (!bits_finite(bits))
			return am_fail(err, errlen, AM_ENUMERIC,
				    "tensor '%s': value %zu is %s", v->name, k,
				    (bits & 0x007fffffu) ? "NaN" : "Inf");
	}
	return AM_OK;
}

/* amfile_encode with a message.  Checks every size and name, then every
 * value, and only then allocates, so nothing can fail half-way through. */
static int encode(const char *header, const struct layout *lay, const float *data,
		  unsigned char **buf, size_t *len, char *err, size_t errlen)
{
	unsigned char *p;
	size_t hlen, bad, bytes, floats = 0, pos, k;
	uint32_t bits;
	int i, j, rc;

	if (!header || !lay || !buf || !len)
		return am_fail(err, errlen, AM_EINVAL, "missing argument");
	hlen = strnlen(header, (size_t)AMFILE_HEADER_MAX + 1);
	if (hlen > AMFILE_HEADER_MAX)
		return am_fail(err, errlen, AM_EINVAL,
			    "header is longer than %u bytes", AMFILE_HEADER_MAX);
	bad = text_bad_at((const unsigned char *)header, hlen);
	if (bad < hlen)
		return am_fail(err, errlen, AM_EINVAL,
			    "header is not valid UTF-8 at byte %zu", bad);
	if (lay->n < 0 || (unsigned)lay->n > AMFILE_TENSORS_MAX)
		return am_fail(err, errlen, AM_EINVAL,
			    "%d tensors, the limit is %u", lay->n,
			    AMFILE_TENSORS_MAX);
	if (lay->n > 0 && (!lay->views || !data))
		return am_fail(err, errlen, AM_EINVAL, "missing views or data");
	bytes = AMFILE_FIXED_BYTES + hlen;
	for (i = 0; i < lay->n; i++) {
		rc = view_check(lay, i, &bytes, &floats, err, errlen);
		if (rc != AM_OK)
			return rc;
	}
	for (i = 0; i < lay->n; i++) {
		rc = view_finite(&lay->views[i], data, err, errlen);
		if (rc != AM_OK)
			return rc;
	}

	p = malloc(bytes);
	if (!p)
		return am_fail(err, errlen, AM_ENOMEM, "no memory for %zu bytes", bytes);
	memcpy(p, amfile_magic, AMFILE_MAGIC_LEN);
	pos = AMFILE_MAGIC_LEN;
	bytes_put_u32(p + pos, AMFILE_VERSION);
	bytes_put_u32(p + pos + 4, (uint32_t)hlen);
	memcpy(p + pos + 8, header, hlen);
	pos += 8 + hlen;
	bytes_put_u32(p + pos, (uint32_t)lay->n);
	pos += 4;
	for (i = 0; i < lay->n; i++) {
		const struct layout_view *v = &lay->views[i];
		size_t nlen = strlen(v->name);

		bytes_put_u16(p + pos, (uint32_t)nlen);
		memcpy(p + pos + 2, v->name, nlen);
		pos += 2 + nlen;
		p[pos++] = (unsigned char)v->ndim;
		for (j = 0; j < v->ndim; j++, pos += 4)
			bytes_put_u32(p + pos, (uint32_t)v->shape[j]);
		for (k = 0; k < v->size; k++, pos += 4) {
			memcpy(&bits, &data[v->offset + k], sizeof bits);
			bytes_put_u32(p + pos, bits);
		}
	}
	AM_ASSERT(pos == bytes - 4);
	bytes_put_u32(p + pos, amfile_crc32(p, pos));
	*buf = p;
	*len = bytes;
	return AM_OK;
}

int amfile_encode(const char *header, const struct layout *lay, const float *data,
		  unsigned char **buf, size_t *len)
{
	return encode(header, lay, data, buf, len, NULL, 0);
}

/* Writes all len bytes to fd, riding out short writes and EINTR.  Returns
 * 0 or an errno value. */
static int write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len < ((size_t)1 << 30) ? len : ((size_t)1 << 30));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsyncs the directory that holds path, so the rename itself is durable.
 * Best effort: some file systems refuse fsync on a directory, and the file
 * is already complete and in place.  dir is scratch space of at least
 * strlen(path) + 2 bytes. */
static void sync_parent(const char *path, char *dir)
{
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

int amfile_write_atomic(const char *path, const void *buf, size_t len,
			char *err, size_t errlen)
{
	char *tmp = NULL;
	char etext[128];
	size_t plen;
	int fd = -1, created = 0, e, rc;

	if (!path || !*path)
		return am_fail(err, errlen, AM_EINVAL, "missing path");
	AM_ASSERT(buf || len == 0);
	plen = strlen(path);
	tmp = malloc(plen + sizeof ".tmp");
	if (!tmp)
		return am_fail(err, errlen, AM_ENOMEM, "no memory for a path");
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", sizeof ".tmp");

	/* O_NOFOLLOW: a planted symlink at path.tmp must not redirect us. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = am_fail(err, errlen, AM_EIO, "cannot create %s: %s", tmp,
			  errno_text(errno, etext, sizeof etext));
		goto out;
	}
	created = 1;
	e = write_all(fd, buf, len);
	if (e == 0 && fsync(fd) != 0)
		e = errno;
	if (e != 0) {
		rc = am_fail(err, errlen, AM_EIO, "cannot write %s: %s", tmp,
			  errno_text(e, etext, sizeof etext));
		goto out;
	}
	e = close(fd);
	fd = -1;
	if (e != 0) {
		rc = am_fail(err, errlen, AM_EIO, "cannot close %s: %s", tmp,
			  errno_text(errno, etext, sizeof etext));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		rc = am_fail(err, errlen, AM_EIO, "cannot rename %s to %s: %s", tmp,
			  path, errno_text(errno, etext, sizeof etext));
		goto out;
	}
	created = 0;
	sync_parent(path, tmp);
	rc = AM_OK;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	free(tmp);
	return rc;
}

int amfile_write(const char *path, const char *header, const struct layout *lay,
		 const float *data, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	if (!path || !*path)
		return am_fail(err, errlen, AM_EINVAL, "missing path");
	rc = encode(header, lay, data, &buf, &len, err, errlen);
	if (rc != AM_OK)
		return rc;
	rc = amfile_write_atomic(path, buf, len, err, errlen);
	free(buf);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

int amfile_slurp(const char *path, size_t max_bytes, unsigned char **buf,
		 size_t *len, char *err, size_t errlen)
{
	unsigned char *p = NULL;
	char etext[128];
	struct stat st;
	size_t size, got = 0;
	ssize_t r;
	int fd, flags, rc;

	AM_ASSERT(path && buf && len);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then
	 * refuses it.  The flag is cleared again before reading. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return am_fail(err, errlen, AM_EIO, "cannot open %s: %s", path,
			    errno_text(errno, etext, sizeof etext));
	if (fstat(fd, &st) != 0) {
		rc = am_fail(err, errlen, AM_EIO, "cannot stat %s: %s", path,
			  errno_text(errno, etext, sizeof etext));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = am_fail(err, errlen, AM_EIO, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > max_bytes) {
		rc = am_fail(err, errlen, AM_ELIMIT,
			  "%s is %jd bytes, the limit is %zu", path,
			  (intmax_t)st.st_size, max_bytes);
		goto out;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		rc = am_fail(err, errlen, AM_EIO, "cannot set %s blocking: %s", path,
			  errno_text(errno, etext, sizeof etext));
		goto out;
	}
	size = (size_t)st.st_size;
	p = malloc(size ? size : 1);
	if (!p) {
		rc = am_fail(err, errlen, AM_ENOMEM, "no memory for %zu bytes", size);
		goto out;
	}
	/* A file that shrinks while we read comes back short (and decodes as
	 * truncated); one that grows is read up to its size at fstat. */
	while (got < size) {
		r = read(fd, p + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = am_fail(err, errlen, AM_EIO, "cannot read %s: %s", path,
				  errno_text(errno, etext, sizeof etext));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*buf = p;
	*len = got;
	p = NULL;
	rc = AM_OK;
out:
	close(fd);
	free(p);
	return rc;
}

/* ---- decoding ----------------------------------------------------------- */

/* One tensor block as found in the buffer (borrowed pointers into it). */
struct block {
	const unsigned char *name;	/* name_len bytes, no NUL */
	int name_len;
	int ndim;
	int shape[LAYOUT_NDIM_MAX];
	size_t size;			/* floats */
	const unsigned char *data;	/* 4 * size bytes */
};

/*
 * Parses tensor block i that starts at *pos, never reading at or past end
 * (the offset of the checksum), and advances *pos past it.  Checks the name,
 * rank, dimensions and limits, and that the data is present, but not the
 * values.  Returns AM_OK, AM_EFORMAT or AM_ELIMIT with a message.
 */
static int block_parse(const unsigned char *buf, size_t *pos, size_t end,
		       unsigned long i, struct block *b, char *err, size_t errlen)
{
	size_t p = *pos, k, need;
	uint64_t size = 1;
	uint32_t nlen, d;
	int nl;

	if (end - p < 2)
		return am_fail(err, errlen, AM_EFORMAT,
			    "truncated: tensor %lu needs 2 bytes for its name length at offset %zu, only %zu remain before the checksum",
			    i, p, end - p);
	nlen = bytes_get_u16(buf + p);
	if (nlen < 1 || nlen > AMFILE_NAME_MAX)
		return am_fail(err, errlen, AM_EFORMAT,
			    "tensor %lu: name length %lu at offset %zu is not in 1..%u",
			    i, (unsigned long)nlen, p, AMFILE_NAME_MAX);
	p += 2;
	if (end - p < nlen)
		return am_fail(err, errlen, AM_EFORMAT,
			    "truncated: tensor %lu needs %lu bytes for its name at offset %zu, only %zu remain before the checksum",
			    i, (unsigned long)nlen, p, end - p);
	for (k = 0; k < nlen; k++)
		if (!name_byte_ok(buf[p + k]))
			return am_fail(err, errlen, AM_EFORMAT,
				    "tensor %lu: name byte %zu (offset %zu) is 0x%02x; names are printable ASCII without spaces",
				    i, k, p + k, (unsigned)buf[p + k]);
	b->name = buf + p;
	b->name_len = nl = (int)nlen;
	p += nlen;
	if (end - p < 1)
		return am_fail(err, errlen, AM_EFORMAT,
			    "truncated: tensor '%.*s' needs 1 byte for its rank at offset %zu, none remain before the checksum",
			    nl, (const char *)b->name, p);
	b->ndim = buf[p];
	if (b->ndim < 1 || b->ndim > LAYOUT_NDIM_MAX)
		return am_fail(err, errlen, AM_EFORMAT,
			    "tensor '%.*s': rank %d at offset %zu is not in 1..%d",
			    nl, (const char *)b->name, b->ndim, p, LAYOUT_NDIM_MAX);
	p += 1;
	need = 4 * (size_t)b->ndim;
	if (end - p < need)
		return am_fail(err, errlen, AM_EFORMAT,
			    "truncated: tensor '%.*s' needs %zu bytes for its shape at offset %zu, only %zu remain before the checksum",
			    nl, (const char *)b->name, need, p, end - p);
	for (k = 0; k < (size_t)b->ndim; k++, p += 4) {
		d = bytes_get_u32(buf + p);
		if (d == 0)
			return am_fail(err, errlen, AM_EFORMAT,
				    "tensor '%.*s': dimension %zu is 0",
				    nl, (const char *)b->name, k);
		/* size <= 2^28 and d < 2^32: the product fits 64 bits. */
		size *= d;
		if (d > AMFILE_FLOATS_MAX || size > AMFILE_FLOATS_MAX)
			return am_fail(err, errlen, AM_ELIMIT,
				    "tensor '%.*s': dimension %zu (%lu) takes the tensor over the limit of %zu floats",
				    nl, (const char *)b->name, k,
				    (unsigned long)d, AMFILE_FLOATS_MAX);
		b->shape[k] = (int)d;
	}
	b->size = (size_t)size;
	need = 4 * b->size;
	if (end - p < need)
		return am_fail(err, errlen, AM_EFORMAT,
			    "truncated: tensor '%.*s' needs %zu bytes at offset %zu, only %zu remain before the checksum",
			    nl, (const char *)b->name, need, p, end - p);
	b->data = buf + p;
	*pos = p + need;
	return AM_OK;
}

/* Checks the magic of a buffer of len bytes (len may be short). */
static int magic_check(const unsigned char *buf, size_t len, char *err,
		       size_t errlen)
{
	size_t n = len < AMFILE_MAGIC_LEN ? len : AMFILE_MAGIC_LEN;

	if (len == 0)
		return am_fail(err, errlen, AM_EFORMAT, "truncated: the file is empty");
	if (memcmp(buf, amfile_magic, n) == 0 && n == AMFILE_MAGIC_LEN)
		return AM_OK;
	if (memcmp(buf, amfile_magic, n) == 0)
		return am_fail(err, errlen, AM_EFORMAT,
			    "truncated: %zu bytes, a model file has at least %d",
			    len, AMFILE_FIXED_BYTES);
	/* The first bytes survive a text-mode copy; the CR LF and LF after
	 * them do not. */
	if (n >= 4 && memcmp(buf, amfile_magic, 4) == 0)
		return am_fail(err, errlen, AM_EFORMAT,
			    "bad magic: line endings or high bytes were changed (copied in text mode?)");
	return am_fail(err, errlen, AM_EFORMAT, "bad magic: not an amort model file");
}

/* Copies the floats of block b into dst, refusing NaN and Inf. */
static int block_floats(const struct block *b, float *dst, char *err, size_t errlen)
{
	uint32_t bits;
	size_t k;

	for (k = 0; k < b->size; k++) {
		bits = bytes_get_u32(b->data + 4 * k);
		if (!bits_finite(bits))
			return am_fail(err, errlen, AM_ENUMERIC,
				    "tensor '%.*s': value %zu is %s", b->name_len,
				    (const char *)b->name, k,
				    (bits & 0x007fffffu) ? "NaN" : "Inf");
		memcpy(&dst[k], &bits, sizeof bits);
	}
	return AM_OK;
}

int amfile_decode(const unsigned char *buf, size_t len, struct amfile *out,
		  char *err, size_t errlen)
{
	struct amfile f;
	struct block b;
	char name[LAYOUT_NAME_MAX];
	const struct layout_view *dup;
	size_t pos, tpos, end, bad, floats = 0;
	uint32_t stored, crc, version, hlen, n, i;
	int rc;

	AM_ASSERT(out && (buf || len == 0));
	memset(&f, 0, sizeof f);
	layout_init(&f.layout);

	rc = magic_check(buf, len, err, errlen);
	if (rc != AM_OK)
		goto out;
	if (len > AMFILE_BYTES_MAX) {
		rc = am_fail(err, errlen, AM_ELIMIT, "%zu bytes, the limit is %zu",
			  len, AMFILE_BYTES_MAX);
		goto out;
	}
	if (len < AMFILE_FIXED_BYTES) {
		rc = am_fail(err, errlen, AM_EFORMAT,
			  "truncated: %zu bytes, a model file has at least %d",
			  len, AMFILE_FIXED_BYTES);
		goto out;
	}
	end = len - 4;
	stored = bytes_get_u32(buf + end);
	crc = amfile_crc32(buf, end);
	if (stored != crc) {
		rc = am_fail(err, errlen, AM_EFORMAT,
			  "checksum mismatch: stored 0x%08lx, computed 0x%08lx (corrupt or truncated file)",
			  (unsigned long)stored, (unsigned long)crc);
		goto out;
	}
	version = bytes_get_u32(buf + AMFILE_MAGIC_LEN);
	if (version != AMFILE_VERSION) {
		rc = am_fail(err, errlen, AM_EVERSION,
			  "format version %lu, this build reads version %u",
			  (unsigned long)version, AMFILE_VERSION);
		goto out;
	}

	/* The header: a length, then that many bytes of UTF-8 text. */
	pos = AMFILE_MAGIC_LEN + 4;
	hlen = bytes_get_u32(buf + pos);
	pos += 4;
	if (hlen > AMFILE_HEADER_MAX) {
		rc = am_fail(err, errlen, AM_ELIMIT,
			  "header length %lu at offset %zu is over the limit of %u bytes",
			  (unsigned long)hlen, pos - 4, AMFILE_HEADER_MAX);
		goto out;
	}
	if (end - pos < hlen) {
		rc = am_fail(err, errlen, AM_EFORMAT,
			  "truncated: the header needs %lu bytes at offset %zu, only %zu remain before the checksum",
			  (unsigned long)hlen, pos, end - pos);
		goto out;
	}
	bad = text_bad_at(buf + pos, hlen);
	if (bad < hlen) {
		rc = am_fail(err, errlen, AM_EFORMAT,
			  "header byte %zu (offset %zu) is %s", bad, pos + bad,
			  buf[pos + bad] ? "not valid UTF-8" : "NUL");
		goto out;
	}
	pos += hlen;
	if (end - pos < 4) {
		rc = am_fail(err, errlen, AM_EFORMAT,
			  "truncated: the tensor count needs 4 bytes at offset %zu, only %zu remain before the checksum",
			  pos, end - pos);
		goto out;
	}
	n = bytes_get_u32(buf + pos);
	if (n > AMFILE_TENSORS_MAX) {
		rc = am_fail(err, errlen, AM_ELIMIT,
			  "tensor count %lu at offset %zu is over the limit of %u",
			  (unsigned long)n, pos, AMFILE_TENSORS_MAX);
		goto out;
	}
	pos += 4;

	/* Pass 1: every block's sizes against the bytes present and the
	 * limits, before anything is allocated. */
	tpos = pos;
	for (i = 0; i < n; i++) {
		rc = block_parse(buf, &tpos, end, i, &b, err, errlen);
		if (rc != AM_OK)
			goto out;
		if (b.size > AMFILE_FLOATS_MAX - floats) {
			rc = am_fail(err, errlen, AM_ELIMIT,
				  "tensor '%.*s' takes the file over the limit of %zu floats",
				  b.name_len, (const char *)b.name, AMFILE_FLOATS_MAX);
			goto out;
		}
		floats += b.size;
	}
	if (tpos != end) {
		rc = am_fail(err, errlen, AM_EFORMAT,
			  "%zu trailing bytes at offset %zu after the last tensor",
			  end - tpos, tpos);
		goto out;
	}

	/* Pass 2: the header text and the layout, refusing duplicate names
	 * before layout_add would. */
	f.header = malloc((size_t)hlen + 1);
	if (!f.header) {
		rc = am_fail(err, errlen, AM_ENOMEM, "no memory for the header");
		goto out;
	}
	memcpy(f.header, buf + AMFILE_MAGIC_LEN + 8, hlen);
	f.header[hlen] = '\0';
	f.header_len = hlen;
	tpos = pos;
	for (i = 0; i < n; i++) {
		rc = block_parse(buf, &tpos, end, i, &b, err, errlen);
		AM_ASSERT(rc == AM_OK);
		memcpy(name, b.name, (size_t)b.name_len);
		name[b.name_len] = '\0';
		dup = layout_find(&f.layout, name);
		if (dup) {
			rc = am_fail(err, errlen, AM_EFORMAT,
				  "duplicate tensor name '%s' (tensors %d and %lu)",
				  name, (int)(dup - f.layout.views),
				  (unsigned long)i);
			goto out;
		}
		if (layout_add(&f.layout, name, b.ndim, b.shape) == (size_t)-1) {
			rc = am_fail(err, errlen, AM_ENOMEM, "no memory for the layout");
			goto out;
		}
	}

	/* Pass 3: the floats.  calloc leaves the alignment padding zero. */
	f.data = calloc(f.layout.total ? f.layout.total : 1, sizeof *f.data);
	if (!f.data) {
		rc = am_fail(err, errlen, AM_ENOMEM, "no memory for %zu floats",
			  f.layout.total);
		goto out;
	}
	tpos = pos;
	for (i = 0; i < n; i++) {
		rc = block_parse(buf, &tpos, end, i, &b, err, errlen);
		AM_ASSERT(rc == AM_OK);
		rc = block_floats(&b, f.data + f.layout.views[i].offset, err, errlen);
		if (rc != AM_OK)
			goto out;
	}
	*out = f;
	return AM_OK;
out:
	amfile_free(&f);
	return rc;
}

int amfile_read(const char *path, struct amfile *out, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	AM_ASSERT(path && out);
	rc = amfile_slurp(path, AMFILE_BYTES_MAX, &buf, &len, err, errlen);
	if (rc != AM_OK)
		return rc;
	rc = amfile_decode(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

void amfile_free(struct amfile *f)
{
	if (!f)
		return;
	free(f->header);
	layout_free(&f->layout);
	free(f->data);
	memset(f, 0, sizeof *f);
	layout_init(&f->layout);
}

/* Writes "[d0,d1,...]" into s (n bytes). */
static void shape_text(const struct layout_view *v, char *s, size_t n)
{
	size_t used = 0;
	int j, w;

	s[0] = '\0';
	for (j = 0; j < v->ndim && used < n; j++) {
		w = snprintf(s + used, n - used, "%s%d", j ? "," : "[", v->shape[j]);
		if (w < 0)
			return;
		used += (size_t)w;
	}
	if (used < n)
		snprintf(s + used, n - used, "]");
}

int amfile_bind(const struct amfile *f, const struct layout *lay, float *data,
		char *err, size_t errlen)
{
	const struct layout_view *v, *fv;
	char want[64], have[64];
	int i;

	AM_ASSERT(f && lay && (data || lay->n == 0));
	for (i = 0; i < lay->n; i++) {
		v = &lay->views[i];
		AM_ASSERT(v->offset <= lay->total && v->size <= lay->total - v->offset);
		fv = layout_find(&f->layout, v->name);
		if (!fv)
			return am_fail(err, errlen, AM_EFORMAT,
				    "tensor '%s' is missing from the model file",
				    v->name);
		if (fv->ndim != v->ndim ||
		    memcmp(fv->shape, v->shape, (size_t)v->ndim * sizeof *v->shape) != 0) {
			shape_text(fv, have, sizeof have);
			shape_text(v, want, sizeof want);
			return am_fail(err, errlen, AM_EFORMAT,
				    "tensor '%s' has shape %s in the model file, the model expects %s",
				    v->name, have, want);
		}
	}
	for (i = 0; i < f->layout.n; i++) {
		fv = &f->layout.views[i];
		if (!layout_find(lay, fv->name))
			return am_fail(err, errlen, AM_EFORMAT,
				    "tensor '%s' in the model file is not part of the model",
				    fv->name);
	}
	for (i = 0; i < lay->n; i++) {
		v = &lay->views[i];
		fv = layout_find(&f->layout, v->name);
		memcpy(data + v->offset, f->data + fv->offset, v->size * sizeof *data);
	}
	return AM_OK;
}
