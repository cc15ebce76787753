/* SPDX-License-Identifier: MIT */
/*
 * Byte order helpers: little-endian (ld16 ... st64) and big-endian
 * (ld_be16 ... st_be32) loads and stores at any alignment. They go through
 * memcpy, which compilers turn into a single move, so no cast breaks
 * alignment or aliasing rules. Use them on hearth's own buffers and on
 * snapshots of guest data (gm_read_once, mem.h); a field the guest may
 * change while it is being read, a ring index, is read or written once as
 * a whole with ld16_once / st16_once.
 */
#ifndef HEARTH_BYTES_H
#define HEARTH_BYTES_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* @n (1..8) little-endian bytes: a register of any width. */
static inline uint64_t ld_le(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

static inline void st_le(void *p, uint64_t v, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

static inline uint16_t ld16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t ld32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t ld64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void st8(void *p, uint8_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void st16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void st32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void st64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint16_t ld_be16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return be16toh(v);
}

static inline uint32_t ld_be32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static inline void st_be16(void *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void st_be32(void *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

/*
 * A little-endian 16-bit field of memory the guest shares (a virtqueue
 * ring's index or entry), read or written exactly once, as a whole: the
 * guest cannot make us see half an old and half a new value. @p must be
 * 2-byte aligned (vq_enable checks the rings).
 */
static inline uint16_t ld16_once(const void *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static inline void st16_once(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

#endif
