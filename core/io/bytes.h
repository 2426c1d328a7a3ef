/*
 * bytes.h - little-endian integers in byte buffers, as the file formats of
 * io/ (amfile, imgset) store them.
 *
 * Plain functions on caller-owned bytes: p must hold 2 or 4 bytes.  They
 * neither allocate nor check anything; bounds are the caller's.  Inline, as
 * the encoder calls bytes_put_u32 once a float.
 */
#ifndef BYTES_H
#define BYTES_H

#include <stdint.h>

static inline void bytes_put_u16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v & 0xffu);
	p[1] = (unsigned char)((v >> 8) & 0xffu);
}

static inline void bytes_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v & 0xffu);
	p[1] = (unsigned char)((v >> 8) & 0xffu);
	p[2] = (unsigned char)((v >> 16) & 0xffu);
	p[3] = (unsigned char)((v >> 24) & 0xffu);
}

static inline uint32_t bytes_get_u16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t bytes_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
