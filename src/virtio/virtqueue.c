// SPDX-License-Identifier: MIT
/*
 * Split virtqueue (virtio 1.2, 2.7), device side. The rings live in guest
 * RAM and the guest may change them at any moment: each descriptor is copied
 * (each byte read once, gm_read_once) before it is checked, indices are taken modulo nothing but checked, chain
 * walks are bounded by the table size, and every buffer must lie inside one
 * guest RAM region (gm_ptr() also rejects wrapping past 2^64).
 */
#include <errno.h>
#include <string.h>

#include "hearth/bytes.h"
#include "hearth/state.h"
#include "hearth/virtio.h"

enum { DESC_F_NEXT = 1, DESC_F_WRITE = 2, DESC_F_INDIRECT = 4 };
enum { AVAIL_F_NO_INTERRUPT = 1, USED_F_NO_NOTIFY = 1 };

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint16_t avail_idx(const struct vq *q)
{
	return __atomic_load_n((const uint16_t *)(const void *)(q->avail + 2), __ATOMIC_ACQUIRE);
}

static uint8_t *avail_event(const struct vq *q)
{
	return q->used + 4 + 8 * (size_t)q->size;
}

/* The avail_event of a quiet queue: half the index space ahead, which a
 * driver adding at most a ring's worth between two looks never reaches
 * (an index just behind last_avail would not do: an entry the device takes
 * before the driver looks again puts it among the driver's new ones). */
static uint16_t far_event(const struct vq *q)
{
	return (uint16_t)(q->last_avail + 0x8000);
}

int vq_enable(struct vq *q, const struct guest_mem *gm, uint16_t max)
{
	uint64_t n = q->size;

	q->ready = false;
	if (n == 0 || n > max || (n & (n - 1)) || q->desc_gpa % 16 || q->avail_gpa % 2 ||
	    q->used_gpa % 4)
		return -EINVAL;
	q->desc = gm_ptr(gm, q->desc_gpa, 16 * n);
	q->avail = gm_ptr(gm, q->avail_gpa, 6 + 2 * n);
	q->used = gm_ptr(gm, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used)
		return -EINVAL;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_valid = false;
	q->quiet = false;
	q->ready = true;
	return 0;
}

void vq_reset(struct vq *q)
{
	*q = (struct vq){ 0 };
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

int vq_save(const struct vq *q, struct state_writer *w)
{
	state_begin(w, STATE_KIND_VIRTQUEUE, STATE_VERSION);
	state_put_bool(w, q->ready);
	if (q->ready) {
		state_put_u16(w, q->size);
		state_put_u64(w, q->desc_gpa);
		state_put_u64(w, q->avail_gpa);
		state_put_u64(w, q->used_gpa);
		state_put_bool(w, q->event_idx);
		state_put_bool(w, q->indirect);
		state_put_u16(w, q->last_avail);
		state_put_u16(w, q->used_idx);
		state_put_u16(w, q->signalled_used);
		state_put_bool(w, q->signalled_valid);
		state_put_bool(w, q->quiet);
	}
	state_end(w);
	return w->err;
}

int vq_restore(struct vq *q, const struct guest_mem *gm, uint16_t max, struct state_reader *r)
{
	struct vq s = { 0 };
	bool ready;

	state_enter(r, STATE_KIND_VIRTQUEUE, STATE_VERSION, NULL);
	state_get_bool(r, &ready);
	if (ready) {
		state_get_u16(r, &s.size);
		state_get_u64(r, &s.desc_gpa);
		state_get_u64(r, &s.avail_gpa);
		state_get_u64(r, &s.used_gpa);
		state_get_bool(r, &s.event_idx);
		state_get_bool(r, &s.indirect);
		state_get_u16(r, &s.last_avail);
		state_get_u16(r, &s.used_idx);
		state_get_u16(r, &s.signalled_used);
		state_get_bool(r, &s.signalled_valid);
		state_get_bool(r, &s.quiet);
	}
	if (state_leave(r))
		return r->err;
	if (ready) {
		struct vq idx = s;

		if (vq_enable(&s, gm, max)) /* clears the indices: put back */
			return state_fail(r, -EINVAL);
		s.last_avail = idx.last_avail;
		s.used_idx = idx.used_idx;
		s.signalled_used = idx.signalled_used;
		s.signalled_valid = idx.signalled_valid;
		s.quiet = idx.quiet;
	}
	*q = s;
	return 0;
}

static int add_buf(struct vq_elem *e, const struct guest_mem *gm, const struct desc *d)
{
	void *p;

	if (d->len == 0)
		return 0; /* nothing to transfer: skip, but keep the order rule */
	if (e->n_out + e->n_in >= VQ_MAX_SEGS)
		return -EINVAL;
	p = gm_ptr(gm, d->addr, d->len);
	if (!p)
		return -EINVAL;
	if (d->flags & DESC_F_WRITE) {
		e->in_len += d->len;
		e->n_in++;
	} else {
		if (e->n_in) /* readable buffers must come first */
			return -EINVAL;
		e->out_len += d->len;
		e->n_out++;
	}
	e->iov[e->n_out + e->n_in - 1] = (struct iovec){ p, d->len };
	return 0;
}

int vq_pop(struct vq *q, const struct guest_mem *gm, struct vq_elem *e)
{
	const uint8_t *table;
	unsigned table_n, budget, i;
	bool indirect = false;
	uint16_t idx;

	if (!q->ready)
		return 0;
	idx = avail_idx(q);
	if (idx == q->last_avail) {
		if (!q->event_idx || q->quiet)
			return 0;
		/* Ask for a kick at the next entry, then look once more so an
		 * entry added meanwhile is not left waiting. */
		st16_once(avail_event(q), q->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		idx = avail_idx(q);
		if (idx == q->last_avail)
			return 0;
	}
	if ((uint16_t)(idx - q->last_avail) > q->size)
		return -EINVAL; /* the driver claims more entries than the ring has */

	e->head = ld16_once(q->avail + 4 + 2 * (size_t)(q->last_avail & (q->size - 1)));
	e->n_out = e->n_in = 0;
	e->out_len = e->in_len = 0;
	if (e->head >= q->size)
		return -EINVAL;
	table = q->desc;
	table_n = budget = q->size;
	i = e->head;
	for (;;) {
		struct desc d;

		if (budget-- == 0)
			return -EINVAL; /* a loop */
		gm_read_once(&d, table + 16 * (size_t)i, sizeof(d));
		if (d.flags & DESC_F_INDIRECT) {
			if (!q->indirect || indirect || (d.flags & DESC_F_NEXT) || d.len == 0 ||
			    d.len % 16 || d.len / 16 > VQ_MAX_SEGS)
				return -EINVAL;
			table = gm_ptr(gm, d.addr, d.len);
			if (!table)
				return -EINVAL;
			table_n = budget = d.len / 16;
			indirect = true;
			i = 0;
			continue;
		}
		if (add_buf(e, gm, &d))
			return -EINVAL;
		if (!(d.flags & DESC_F_NEXT))
			break;
		if (d.next >= table_n)
			return -EINVAL;
		i = d.next;
	}
	q->last_avail++;
	if (q->event_idx)
		st16_once(avail_event(q), q->quiet ? far_event(q) : q->last_avail);
	return 1;
}

bool vq_has_work(const struct vq *q)
{
	return q->ready && avail_idx(q) != q->last_avail;
}

void vq_quiet(struct vq *q)
{
	if (!q->ready || q->quiet)
		return;
	q->quiet = true;
	if (q->event_idx)
		st16_once(avail_event(q), far_event(q));
	else
		st16_once(q->used, ld16_once(q->used) | USED_F_NO_NOTIFY);
}

bool vq_listen(struct vq *q)
{
	if (!q->ready)
		return false;
	if (q->quiet) {
		q->quiet = false;
		if (q->event_idx)
			st16_once(avail_event(q), q->last_avail);
		else
			st16_once(q->used, ld16_once(q->used) & ~USED_F_NO_NOTIFY);
	} else if (q->event_idx) {
		st16_once(avail_event(q), q->last_avail);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the request before the driver's index */
	return avail_idx(q) != q->last_avail;
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	uint8_t *slot;
	uint32_t id = head;

	if (!q->ready)
		return;
	slot = q->used + 4 + 8 * (size_t)(q->used_idx & (q->size - 1));
	memcpy(slot, &id, 4);
	memcpy(slot + 4, &len, 4);
	q->used_idx++;
	__atomic_store_n((uint16_t *)(void *)(q->used + 2), q->used_idx, __ATOMIC_RELEASE);
}

bool vq_should_notify(struct vq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx, event;
	bool valid = q->signalled_valid;

	if (!q->ready)
		return false;			 /* never enabled, or reset: no ring to look at */
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* used idx before the driver's event */
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!q->event_idx)
		return !(ld16_once(q->avail) & AVAIL_F_NO_INTERRUPT);
	event = ld16_once(q->avail + 4 + 2 * (size_t)q->size);
	return !valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

static size_t copy(const struct iovec *iov, unsigned n, uint64_t off, void *buf, size_t len,
		   bool to_iov, bool once)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off;
		if (take > len - done)
			take = len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, take);
		else if (once)
			gm_read_once((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + off,
				     take);
		else
			memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + off, take);
		done += take;
		off = 0;
	}
	return done;
}

size_t vq_elem_read(const struct vq_elem *e, uint64_t off, void *buf, size_t len)
{
	return copy(e->iov, e->n_out, off, buf, len, false, false);
}

size_t vq_elem_read_once(const struct vq_elem *e, uint64_t off, void *buf, size_t len)
{
	return copy(e->iov, e->n_out, off, buf, len, false, true);
}

size_t vq_iov_read_once(const struct iovec *iov, unsigned n, uint64_t off, void *buf, size_t len)
{
	return copy(iov, n, off, buf, len, false, true);
}

size_t vq_elem_write(const struct vq_elem *e, uint64_t off, const void *buf, size_t len)
{
	return copy(e->iov + e->n_out, e->n_in, off, (void *)buf, len, true, false);
}
