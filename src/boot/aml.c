// SPDX-License-Identifier: MIT
/*
 * ACPI Machine Language encoder (include/hearth/aml.h). Opcodes and
 * encodings from ACPI 6.4, 20.2 (AML grammar) and 6.4 (resource data
 * types). Lengths are checked before every write; the first error sticks.
 */
#include <errno.h>
#include <string.h>

#include "hearth/aml.h"

enum {
	ZERO_OP = 0x00,
	ONE_OP = 0x01,
	NAME_OP = 0x08,
	BYTE_PREFIX = 0x0a,
	WORD_PREFIX = 0x0b,
	DWORD_PREFIX = 0x0c,
	STRING_PREFIX = 0x0d,
	QWORD_PREFIX = 0x0e,
	SCOPE_OP = 0x10,
	BUFFER_OP = 0x11,
	PACKAGE_OP = 0x12,
	DUAL_NAME_PREFIX = 0x2e,
	MULTI_NAME_PREFIX = 0x2f,
	EXT_OP_PREFIX = 0x5b,
	DEVICE_OP = 0x82, /* after EXT_OP_PREFIX */
	ONES_OP = 0xff,
};

#define PKG_LEN_MAX    0x0fffffffu /* 28 bits: four PkgLength bytes */
#define RESERVE_PLAIN  4	   /* the longest PkgLength */
#define RESERVE_BUFFER 9	   /* PkgLength + a DWord BufferSize */
#define KIND_BUFFER    0xbb	   /* in the first reserved byte until closed */

static void fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a, uint8_t *buf, size_t room)
{
	*a = (struct aml){ .buf = buf, .room = room };
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->room - a->len) {
		fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

static int lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

/* One segment of @path at @s (up to '.' or the end) into @seg, padded. */
static int segment(const char *s, size_t n, uint8_t seg[4])
{
	if (n < 1 || n > 4 || !lead_char(s[0]))
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		char c = i < n ? s[i] : '_';

		if (!lead_char(c) && !(c >= '0' && c <= '9'))
			return -EINVAL;
		seg[i] = (uint8_t)c;
	}
	return 0;
}

void aml_name(struct aml *a, const char *path)
{
	uint8_t segs[255][4];
	size_t nseg = 0;
	const char *s = path;

	if (!path) {
		fail(a, -EINVAL);
		return;
	}
	if (*s == '\\')
		byte(a, (uint8_t)*s++);
	else
		while (*s == '^')
			byte(a, (uint8_t)*s++);
	for (;;) {
		size_t n = strcspn(s, ".");

		if (nseg == 255 || segment(s, n, segs[nseg])) {
			fail(a, -EINVAL);
			return;
		}
		nseg++;
		if (!s[n])
			break;
		s += n + 1;
	}
	if (nseg == 2)
		byte(a, DUAL_NAME_PREFIX);
	else if (nseg > 2) {
		byte(a, MULTI_NAME_PREFIX);
		byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, 4 * nseg);
}

void aml_int(struct aml *a, uint64_t v)
{
	if (v == 0)
		byte(a, ZERO_OP);
	else if (v == 1)
		byte(a, ONE_OP);
	else if (v == UINT64_MAX)
		byte(a, ONES_OP);
	else if (v <= 0xff) {
		byte(a, BYTE_PREFIX);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		byte(a, WORD_PREFIX);
		le(a, v, 2);
	} else if (v <= 0xffffffffu) {
		byte(a, DWORD_PREFIX);
		le(a, v, 4);
	} else {
		byte(a, QWORD_PREFIX);
		le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *c = s; c && *c; c++)
		if (*c < 0x01 || *c > 0x7e) {
			fail(a, -EINVAL);
			return;
		}
	if (!s) {
		fail(a, -EINVAL);
		return;
	}
	byte(a, STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;

	if (!id || strlen(id) != 7) {
		fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			fail(a, -EINVAL);
			return;
		}
		v = v << 5 | (uint32_t)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		if (hex(id[i]) < 0) {
			fail(a, -EINVAL);
			return;
		}
		v = v << 4 | (uint32_t)hex(id[i]);
	}
	/* stored big-endian: the first letter's bits in the first byte */
	byte(a, DWORD_PREFIX);
	byte(a, (uint8_t)(v >> 24));
	byte(a, (uint8_t)(v >> 16));
	byte(a, (uint8_t)(v >> 8));
	byte(a, (uint8_t)v);
}

void aml_name_decl(struct aml *a, const char *path)
{
	byte(a, NAME_OP);
	aml_name(a, path);
}

/* Reserves the bytes a PkgLength (and a buffer's size) will take. */
static size_t reserve(struct aml *a, uint8_t kind)
{
	static const uint8_t zeros[RESERVE_BUFFER];
	size_t mark = a->len;

	aml_bytes(a, zeros, kind == KIND_BUFFER ? RESERVE_BUFFER : RESERVE_PLAIN);
	if (a->err)
		return SIZE_MAX;
	a->buf[mark] = kind;
	return mark;
}

size_t aml_scope(struct aml *a, const char *path)
{
	size_t mark;

	byte(a, SCOPE_OP);
	mark = reserve(a, 0);
	aml_name(a, path);
	return mark;
}

size_t aml_device(struct aml *a, const char *path)
{
	size_t mark;

	byte(a, EXT_OP_PREFIX);
	byte(a, DEVICE_OP);
	mark = reserve(a, 0);
	aml_name(a, path);
	return mark;
}

size_t aml_package(struct aml *a, unsigned n)
{
	size_t mark;

	if (n > 255) { /* a VarPackage would be needed */
		fail(a, -EINVAL);
		return SIZE_MAX;
	}
	byte(a, PACKAGE_OP);
	mark = reserve(a, 0);
	byte(a, (uint8_t)n);
	return mark;
}

size_t aml_buffer(struct aml *a)
{
	byte(a, BUFFER_OP);
	return reserve(a, KIND_BUFFER);
}

/* Encodes @len (which counts the PkgLength's own bytes) into @out. */
static size_t pkg_length(size_t body, uint8_t out[4])
{
	size_t n = body + 1 < 0x40 ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	size_t len = body + n;

	if (n == 1) {
		out[0] = (uint8_t)len;
		return 1;
	}
	out[0] = (uint8_t)((n - 1) << 6 | (len & 0xf));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

void aml_close(struct aml *a, size_t mark)
{
	uint8_t head[RESERVE_BUFFER], size[RESERVE_BUFFER];
	size_t reserved, content, nsize = 0, nhead;
	struct aml s;

	if (a->err)
		return;
	if (mark >= a->len) {
		fail(a, -EINVAL);
		return;
	}
	reserved = a->buf[mark] == KIND_BUFFER ? RESERVE_BUFFER : RESERVE_PLAIN;
	if (reserved > a->len - mark) {
		fail(a, -EINVAL);
		return;
	}
	content = a->len - mark - reserved;
	if (reserved == RESERVE_BUFFER) { /* BufferSize: the byte count, shortest */
		aml_init(&s, size, sizeof(size));
		aml_int(&s, content);
		nsize = s.len;
	}
	if (content > PKG_LEN_MAX - nsize - 4) {
		fail(a, -EINVAL);
		return;
	}
	nhead = pkg_length(content + nsize, head);
	memcpy(head + nhead, size, nsize);
	nhead += nsize;
	memmove(a->buf + mark + nhead, a->buf + mark + reserved, content);
	memcpy(a->buf + mark, head, nhead);
	a->len -= reserved - nhead;
}

/* ---- resource descriptors ---- */

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	byte(a, 0x47); /* small item 8 (I/O port), 7 bytes */
	byte(a, 0x01); /* 16-bit decode */
	le(a, base, 2);
	le(a, base, 2);
	byte(a, 1); /* alignment */
	byte(a, len);
}

void aml_res_irq(struct aml *a, unsigned irq)
{
	if (irq > 15) {
		fail(a, -EINVAL);
		return;
	}
	byte(a, 0x22); /* small item 4 (IRQ), 2 bytes: no information byte */
	le(a, 1u << irq, 2);
}

/* The address space descriptors' common flags: a producer (a bridge's
 * window), positive decode, fixed minimum and maximum. */
#define ADDR_FIXED 0x0c

void aml_res_bus(struct aml *a, uint16_t min, uint16_t max)
{
	/* the length, max - min + 1, must fit its 16-bit field */
	if (max < min || (min == 0 && max == 0xffff)) {
		fail(a, -EINVAL);
		return;
	}
	byte(a, 0x88); /* large item 8: word address space */
	le(a, 13, 2);
	byte(a, 2); /* bus number range */
	byte(a, ADDR_FIXED);
	byte(a, 0);
	le(a, 0, 2); /* granularity */
	le(a, min, 2);
	le(a, max, 2);
	le(a, 0, 2); /* translation */
	le(a, (uint32_t)max - min + 1, 2);
}

void aml_res_mem32(struct aml *a, uint32_t min, uint32_t max)
{
	if (max < min || (min == 0 && max == UINT32_MAX)) { /* length would not fit */
		fail(a, -EINVAL);
		return;
	}
	byte(a, 0x87); /* large item 7: dword address space */
	le(a, 23, 2);
	byte(a, 0); /* memory range */
	byte(a, ADDR_FIXED);
	byte(a, 0x01); /* read-write, non-cacheable */
	le(a, 0, 4);   /* granularity */
	le(a, min, 4);
	le(a, max, 4);
	le(a, 0, 4); /* translation */
	le(a, (uint64_t)max - min + 1, 4);
}

void aml_res_end(struct aml *a)
{
	byte(a, 0x79); /* small item 0xf (end tag), 1 byte */
	byte(a, 0);
}
