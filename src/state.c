// SPDX-License-Identifier: MIT
/*
 * Device state records (include/hearth/state.h, docs/state.md). A record
 * header is 12 bytes: magic (4), kind (2), version (2), body length (4); a
 * field is a one-byte type tag and its value; a BYTES value is a 4-byte
 * length and the bytes. Every length read back is checked against the end
 * of the record that holds it before anything is copied.
 */
#include "hearth/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/bytes.h"

#define HDR_LEN 12

/* ---- writer ---- */

void state_writer_init(struct state_writer *w, void *buf, size_t cap)
{
	*w = (struct state_writer){ .buf = buf, .cap = cap };
}

void state_writer_init_alloc(struct state_writer *w)
{
	*w = (struct state_writer){ .grow = true };
}

void state_writer_free(struct state_writer *w)
{
	if (w->grow)
		free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static int grow_to(struct state_writer *w, size_t need)
{
	size_t cap = w->cap ? w->cap : 256;
	uint8_t *p;

	while (cap < need)
		cap *= 2; /* need <= STATE_MAX_LEN: cannot overflow */
	p = realloc(w->buf, cap);
	if (!p)
		return -ENOMEM;
	w->buf = p;
	w->cap = cap;
	return 0;
}

/* Room for @n more bytes, or NULL with the error set. */
static uint8_t *reserve(struct state_writer *w, size_t n)
{
	size_t need;
	uint8_t *p;

	if (w->err)
		return NULL;
	if (__builtin_add_overflow(w->len, n, &need) || need > STATE_MAX_LEN) {
		w->err = -EOVERFLOW;
		return NULL;
	}
	if (need > w->cap) {
		if (!w->grow) {
			w->err = -ENOSPC;
			return NULL;
		}
		if ((w->err = grow_to(w, need)))
			return NULL;
	}
	p = w->buf + w->len;
	w->len = need;
	return p;
}

static void put_field(struct state_writer *w, uint8_t tag, uint64_t v, size_t n)
{
	uint8_t *p = reserve(w, 1 + n);

	if (p) {
		p[0] = tag;
		st_le(p + 1, v, n);
	}
}

void state_put_u8(struct state_writer *w, uint8_t v)
{
	put_field(w, STATE_T_U8, v, 1);
}

void state_put_u16(struct state_writer *w, uint16_t v)
{
	put_field(w, STATE_T_U16, v, 2);
}

void state_put_u32(struct state_writer *w, uint32_t v)
{
	put_field(w, STATE_T_U32, v, 4);
}

void state_put_u64(struct state_writer *w, uint64_t v)
{
	put_field(w, STATE_T_U64, v, 8);
}

void state_put_bool(struct state_writer *w, bool v)
{
	put_field(w, STATE_T_U8, v ? 1 : 0, 1);
}

void state_put_bytes(struct state_writer *w, const void *p, size_t len)
{
	uint8_t *d;

	if (!w->err && len > STATE_MAX_LEN) {
		w->err = -EOVERFLOW;
		return;
	}
	put_field(w, STATE_T_BYTES, len, 4);
	d = reserve(w, len);
	if (d && len)
		memcpy(d, p, len);
}

void state_begin(struct state_writer *w, uint16_t kind, uint16_t version)
{
	uint8_t *p;

	if (!w->err && (w->depth >= STATE_MAX_DEPTH || version == 0))
		w->err = -EINVAL;
	p = reserve(w, HDR_LEN);
	if (!p)
		return;
	w->open[w->depth++] = (size_t)(p - w->buf);
	st_le(p, STATE_MAGIC, 4);
	st_le(p + 4, kind, 2);
	st_le(p + 6, version, 2);
	st_le(p + 8, 0, 4); /* the body length, set by state_end */
}

void state_end(struct state_writer *w)
{
	size_t at;

	if (w->err)
		return;
	if (w->depth == 0) {
		w->err = -EINVAL;
		return;
	}
	at = w->open[--w->depth];
	/* len - at - HDR_LEN <= STATE_MAX_LEN < 2^32 */
	st_le(w->buf + at + 8, w->len - at - HDR_LEN, 4);
}

int state_writer_finish(struct state_writer *w, size_t *len)
{
	if (!w->err && w->depth)
		w->err = -EINVAL;
	if (!w->err && len)
		*len = w->len;
	return w->err;
}

/* ---- reader ---- */

void state_reader_init(struct state_reader *r, const void *buf, size_t len)
{
	*r = (struct state_reader){ .buf = buf, .len = len };
}

int state_fail(struct state_reader *r, int err)
{
	if (!r->err)
		r->err = err;
	return r->err;
}

/* Where the innermost open record (or the buffer) ends. */
static size_t limit(const struct state_reader *r)
{
	return r->depth ? r->end[r->depth - 1] : r->len;
}

/* The next @n bytes inside the open record, or NULL with the error set. */
static const uint8_t *take(struct state_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->err)
		return NULL;
	if (n > limit(r) - r->pos) { /* pos <= limit always holds */
		state_fail(r, -EBADMSG);
		return NULL;
	}
	p = r->buf + r->pos;
	r->pos += n;
	return p;
}

int state_enter(struct state_reader *r, uint16_t kind, uint16_t max_version, uint16_t *version)
{
	const uint8_t *h;
	uint64_t body;
	uint16_t ver;

	if (version)
		*version = 0;
	if (!r->err && r->depth >= STATE_MAX_DEPTH)
		return state_fail(r, -EBADMSG);
	h = take(r, HDR_LEN);
	if (!h)
		return r->err;
	if (ld_le(h, 4) != STATE_MAGIC || ld_le(h + 4, 2) != kind)
		return state_fail(r, -EBADMSG);
	ver = (uint16_t)ld_le(h + 6, 2);
	if (ver == 0 || ver > max_version)
		return state_fail(r, -EPROTONOSUPPORT);
	body = ld_le(h + 8, 4);
	if (body > limit(r) - r->pos)
		return state_fail(r, -EBADMSG);
	r->end[r->depth++] = r->pos + (size_t)body;
	if (version)
		*version = ver;
	return 0;
}

int state_leave(struct state_reader *r)
{
	if (r->err)
		return r->err;
	if (r->depth == 0 || r->pos != r->end[r->depth - 1])
		return state_fail(r, -EBADMSG);
	r->depth--;
	return 0;
}

/* One field of type @tag with an @n-byte value, or the error. */
static int get_field(struct state_reader *r, uint8_t tag, size_t n, uint64_t *v)
{
	const uint8_t *p;

	*v = 0;
	p = take(r, 1);
	if (p && *p != tag)
		return state_fail(r, -EBADMSG);
	p = take(r, n);
	if (!p)
		return r->err;
	*v = ld_le(p, n);
	return 0;
}

int state_get_u8(struct state_reader *r, uint8_t *v)
{
	uint64_t x;
	int ret = get_field(r, STATE_T_U8, 1, &x);

	*v = (uint8_t)x;
	return ret;
}

int state_get_u16(struct state_reader *r, uint16_t *v)
{
	uint64_t x;
	int ret = get_field(r, STATE_T_U16, 2, &x);

	*v = (uint16_t)x;
	return ret;
}

int state_get_u32(struct state_reader *r, uint32_t *v)
{
	uint64_t x;
	int ret = get_field(r, STATE_T_U32, 4, &x);

	*v = (uint32_t)x;
	return ret;
}

int state_get_u64(struct state_reader *r, uint64_t *v)
{
	return get_field(r, STATE_T_U64, 8, v);
}

int state_get_bool(struct state_reader *r, bool *v)
{
	uint8_t x;

	*v = false;
	if (state_get_u8(r, &x))
		return r->err;
	if (x > 1)
		return state_fail(r, -EBADMSG);
	*v = x;
	return 0;
}

int state_get_bytes(struct state_reader *r, void *p, size_t cap, size_t *len)
{
	const uint8_t *src;
	uint64_t n;

	*len = 0;
	if (get_field(r, STATE_T_BYTES, 4, &n))
		return r->err;
	if (n > cap)
		return state_fail(r, -EBADMSG);
	src = take(r, (size_t)n);
	if (!src)
		return r->err;
	if (n)
		memcpy(p, src, (size_t)n);
	*len = (size_t)n;
	return 0;
}

int state_get_exact(struct state_reader *r, void *p, size_t len)
{
	size_t got;

	if (state_get_bytes(r, p, len, &got))
		return r->err;
	if (got != len)
		return state_fail(r, -EBADMSG);
	return 0;
}

int state_reader_finish(const struct state_reader *r)
{
	if (r->err)
		return r->err;
	return r->depth || r->pos != r->len ? -EBADMSG : 0;
}
