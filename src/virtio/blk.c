// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio 1.2, 5.2): one request queue served from the I/O
 * thread, data moved by the block backend straight between the file and the
 * guest's buffers. Requests are validated first (virtio_blk_parse); a bad
 * one is answered IOERR or UNSUPP, never performed.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/blkio.h"
#include "hearth/iov.h"
#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/state.h"
#include "hearth/virtio.h"

static struct log_ratelimit guest_rl;

#define SECTOR 512ULL

enum {
	BLK_F_SIZE_MAX = 1,
	BLK_F_SEG_MAX = 2,
	BLK_F_RO = 5,
	BLK_F_BLK_SIZE = 6,
	BLK_F_FLUSH = 9,
	BLK_F_DISCARD = 13,
	BLK_F_WRITE_ZEROES = 14,
};
#define HAS(f, bit) (((f) >> (bit)) & 1)

_Static_assert(VIRTIO_BLK_REQ_MAX <= BLKIO_MAX_BYTES && VIRTIO_BLK_SEG_MAX <= BLKIO_MAX_SEGS &&
		       VQ_MAX_SIZE <= BLKIO_QUEUE_DEPTH,
	       "seg_max * size_max and the requests in flight must fit what the backends take");

int virtio_blk_parse(const struct vq_elem *e, uint64_t sectors, bool readonly, uint64_t features,
		     struct blk_req *r)
{
	uint8_t hdr[16];
	uint64_t end;
	int n;

	memset(r, 0, offsetof(struct blk_req, iov));
	r->status = NULL;
	if (e->n_in == 0)
		return VIRTIO_BLK_S_IOERR; /* no writable byte: cannot even answer */
	{
		const struct iovec *last = &e->iov[e->n_out + e->n_in - 1];
		r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	}
	r->used_len = 1;
	if (e->out_len < sizeof(hdr) || vq_elem_read_once(e, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	memcpy(&r->type, hdr, 4);
	memcpy(&r->sector, hdr + 8, 8);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = r->type == VIRTIO_BLK_T_IN;

		/* data in the direction the type says, nothing in the other */
		r->len = in ? e->in_len - 1 : e->out_len - sizeof(hdr);
		if ((in ? e->out_len != sizeof(hdr) : e->in_len != 1) || r->len % SECTOR)
			return VIRTIO_BLK_S_IOERR;
		/* seg_max * size_max: what was offered is all that is taken (one
		 * buffer named many times can add up to terabytes) */
		if (r->len > VIRTIO_BLK_REQ_MAX)
			return VIRTIO_BLK_S_IOERR;
		if (!in && readonly)
			return VIRTIO_BLK_S_IOERR;
		if (__builtin_add_overflow(r->sector, r->len / SECTOR, &end) || end > sectors)
			return VIRTIO_BLK_S_IOERR;
		n = in ? iov_slice(e->iov + e->n_out, e->n_in, 0, r->len, r->iov,
				   VIRTIO_BLK_SEG_MAX)
		       : iov_slice(e->iov, e->n_out, sizeof(hdr), r->len, r->iov,
				   VIRTIO_BLK_SEG_MAX);
		if (n < 0)
			return VIRTIO_BLK_S_IOERR; /* more buffers than seg_max */
		r->n = (unsigned)n;
		r->used_len = in ? (uint32_t)r->len + 1 : 1;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (!HAS(features, BLK_F_FLUSH))
			return VIRTIO_BLK_S_UNSUPP;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (e->in_len < 1 + VIRTIO_BLK_ID_BYTES)
			return VIRTIO_BLK_S_IOERR;
		n = iov_slice(e->iov + e->n_out, e->n_in, 0, VIRTIO_BLK_ID_BYTES, r->iov,
			      VIRTIO_BLK_SEG_MAX);
		if (n < 0)
			return VIRTIO_BLK_S_IOERR;
		r->n = (unsigned)n;
		r->len = VIRTIO_BLK_ID_BYTES;
		r->used_len = VIRTIO_BLK_ID_BYTES + 1;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		uint8_t seg[16];
		uint32_t num, flags;

		if (!HAS(features,
			 r->type == VIRTIO_BLK_T_DISCARD ? BLK_F_DISCARD : BLK_F_WRITE_ZEROES))
			return VIRTIO_BLK_S_UNSUPP;
		if (readonly)
			return VIRTIO_BLK_S_IOERR;
		/* exactly one segment (max_discard_seg = max_write_zeroes_seg = 1) */
		if (e->out_len != sizeof(hdr) + sizeof(seg) || e->in_len != 1 ||
		    vq_elem_read_once(e, sizeof(hdr), seg, sizeof(seg)) != sizeof(seg))
			return VIRTIO_BLK_S_IOERR;
		memcpy(&r->sector, seg, 8);
		memcpy(&num, seg + 8, 4);
		memcpy(&flags, seg + 12, 4);
		if (flags & ~1u || (r->type == VIRTIO_BLK_T_DISCARD && flags))
			return VIRTIO_BLK_S_UNSUPP; /* only WRITE_ZEROES knows "unmap" */
		if (__builtin_add_overflow(r->sector, (uint64_t)num, &end) || end > sectors)
			return VIRTIO_BLK_S_IOERR;
		r->len = (uint64_t)num * SECTOR;
		return VIRTIO_BLK_S_OK;
	}
	default: return VIRTIO_BLK_S_UNSUPP;
	}
}

/* ---- the device ---- */

struct inflight {
	struct blk_req req;
	uint16_t head;
	unsigned gen;
	struct inflight *next_free;
};

struct virtio_blk {
	struct blkio *io;
	const struct guest_mem *gm;
	const struct virtio_transport *t;
	uint64_t sectors;
	uint32_t blk_size; /* the backend's unit (a LUN may have 4096-byte blocks) */
	uint32_t max_discard, max_write_zeroes; /* sectors per request */
	bool readonly, discard;
	char serial[VIRTIO_BLK_ID_BYTES];
	uint64_t features;
	struct vq *vq;
	struct loop *loop; /* resumes work left at the budget (or NULL) */
	int work;
	bool polled; /* the loop polls the queue (virtio_blk_set_poller) */
	bool broken; /* the driver broke the queue: nothing more until a reset */
	unsigned gen;
	struct vq_elem elem;
	struct inflight *free, slots[VQ_MAX_SIZE];
	unsigned long bad_requests;
	_Atomic uint64_t requests, bytes, errors; /* virtio_blk_counts() */
};

static uint64_t blk_features(void *dev)
{
	struct virtio_blk *b = dev;
	uint64_t f = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX |
		     1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << BLK_F_SIZE_MAX |
		     1ULL << BLK_F_SEG_MAX | 1ULL << BLK_F_BLK_SIZE | 1ULL << BLK_F_FLUSH;

	if (b->readonly)
		f |= 1ULL << BLK_F_RO;
	else if (b->discard)
		f |= 1ULL << BLK_F_DISCARD | 1ULL << BLK_F_WRITE_ZEROES;
	return f;
}

/* struct virtio_blk_config, the fields we fill (the rest read as zero) */
#define BLK_CFG_SIZE 60

static void blk_cfg_read(void *dev, uint32_t off, void *data, size_t len)
{
	struct virtio_blk *b = dev;
	uint8_t c[BLK_CFG_SIZE] = { 0 };
	uint32_t v;

	memcpy(c + 0, &b->sectors, 8);
	v = VIRTIO_BLK_SIZE_MAX;
	memcpy(c + 8, &v, 4); /* size_max */
	v = VIRTIO_BLK_SEG_MAX;
	memcpy(c + 12, &v, 4); /* seg_max */
	v = b->blk_size;
	memcpy(c + 20, &v, 4); /* blk_size */
	v = b->max_discard & ~(b->blk_size / SECTOR - 1);
	memcpy(c + 36, &v, 4); /* max_discard_sectors */
	v = b->max_write_zeroes & ~(b->blk_size / SECTOR - 1);
	memcpy(c + 48, &v, 4); /* max_write_zeroes_sectors */
	v = 1;
	memcpy(c + 40, &v, 4); /* max_discard_seg */
	v = b->blk_size / SECTOR;
	memcpy(c + 44, &v, 4); /* discard_sector_alignment */
	v = 1;
	memcpy(c + 52, &v, 4); /* max_write_zeroes_seg */
	c[56] = 1;	       /* write_zeroes_may_unmap */
	memcpy(data, c + off, len);
}

static void blk_cfg_write(void *dev, uint32_t off, const void *data, size_t len)
{
	(void)dev; /* writeback toggling is not offered: nothing is writable */
	(void)off;
	(void)data;
	(void)len;
}

static void blk_start(void *dev, uint64_t features, struct vq *vqs)
{
	struct virtio_blk *b = dev;

	b->features = features;
	b->vq = &vqs[0];
}

static void blk_reset(void *dev)
{
	struct virtio_blk *b = dev;

	b->gen++; /* requests still in flight complete into nothing */
	b->vq = NULL;
	b->broken = false;
	b->features = 0;
}

static void answer(struct virtio_blk *b, uint16_t head, const struct blk_req *r, int status)
{
	if (r->status)
		*r->status = (uint8_t)status;
	atomic_fetch_add_explicit(&b->requests, 1, memory_order_relaxed);
	if (status != VIRTIO_BLK_S_OK)
		atomic_fetch_add_explicit(&b->errors, 1, memory_order_relaxed);
	else if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT)
		atomic_fetch_add_explicit(&b->bytes, r->len, memory_order_relaxed);
	vq_push(b->vq, head, r->status ? (status == VIRTIO_BLK_S_OK ? r->used_len : 1) : 0);
}

static int submit(struct virtio_blk *b, struct inflight *f)
{
	const struct blk_req *r = &f->req;
	uint64_t off = r->sector * SECTOR;

	switch (r->type) {
	case VIRTIO_BLK_T_IN: return blkio_queue(b->io, BLKIO_READ, r->iov, r->n, off, r->len, f);
	case VIRTIO_BLK_T_OUT: return blkio_queue(b->io, BLKIO_WRITE, r->iov, r->n, off, r->len, f);
	case VIRTIO_BLK_T_FLUSH: return blkio_queue(b->io, BLKIO_FLUSH, NULL, 0, 0, 0, f);
	case VIRTIO_BLK_T_DISCARD:
		return blkio_queue(b->io, BLKIO_DISCARD, NULL, 0, off, r->len, f);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blkio_queue(b->io, BLKIO_WRITE_ZEROES, NULL, 0, off, r->len, f);
	default: return -EINVAL;
	}
}

/* Takes at most one queue's worth of chains (the work budget,
 * docs/virtio.md: requests answered at once, such as an unknown type, take
 * no slot, so the slots alone do not bound this); what is left waits for
 * the loop's next turn. */
static void blk_kick(void *dev, unsigned q)
{
	struct virtio_blk *b = dev;
	unsigned budget;
	bool pushed = false;
	int ret;

	if (q != 0 || !b->vq || b->broken)
		return;
	budget = b->vq->size;
	/* Polled, the queue asks for no kicks: the poller sees new requests by
	 * itself, and blk_idle asks for kicks before the thread sleeps. */
	if (b->polled && loop_polls(b->loop))
		vq_quiet(b->vq);
	while (b->free && budget && (ret = vq_pop(b->vq, b->gm, &b->elem)) != 0) {
		struct inflight *f;
		int st;

		if (ret < 0) {
			log_guest(&guest_rl, "virtio-blk: the driver broke the request queue: "
					     "device needs reset");
			b->broken = true;
			b->t->needs_reset(b->t->opaque);
			break;
		}
		budget--;
		f = b->free;
		st = virtio_blk_parse(&b->elem, b->sectors, b->readonly, b->features, &f->req);
		if (st == VIRTIO_BLK_S_OK && f->req.type == VIRTIO_BLK_T_GET_ID) {
			for (unsigned i = 0, done = 0; i < f->req.n; i++) {
				memcpy(f->req.iov[i].iov_base, b->serial + done,
				       f->req.iov[i].iov_len);
				done += (unsigned)f->req.iov[i].iov_len;
			}
			answer(b, b->elem.head, &f->req, st);
			pushed = true;
			continue;
		}
		if (st != VIRTIO_BLK_S_OK) {
			b->bad_requests++;
			answer(b, b->elem.head, &f->req, st);
			pushed = true;
			continue;
		}
		f->head = b->elem.head;
		f->gen = b->gen;
		if (submit(b, f)) {
			answer(b, b->elem.head, &f->req, VIRTIO_BLK_S_IOERR);
			pushed = true;
			continue;
		}
		b->free = f->next_free;
	}
	/* with no free slot, the next completion takes up the rest */
	if (!budget && b->free && b->loop)
		loop_defer(b->loop, b->work);
	blkio_submit(b->io);
	if (pushed && vq_should_notify(b->vq))
		b->t->notify(b->t->opaque, 0);
}

static void done(void *ctx, void *tag, int64_t res)
{
	struct virtio_blk *b = ctx;
	struct inflight *f = tag;
	const struct blk_req *r = &f->req;
	bool ok = res >= 0 && (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT
				       ? (uint64_t)res == r->len
				       : true);

	if (f->gen == b->gen && b->vq) {
		/* -EOPNOTSUPP: the backend cannot do this kind of request at all */
		answer(b, f->head, r,
		       ok		    ? VIRTIO_BLK_S_OK
		       : res == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP
					    : VIRTIO_BLK_S_IOERR);
		if (!ok && res != -EOPNOTSUPP)
			log_guest(&guest_rl,
				  "virtio-blk: %s of %llu bytes at sector %llu failed: %s",
				  r->type == VIRTIO_BLK_T_IN ? "read" : "request",
				  (unsigned long long)r->len, (unsigned long long)r->sector,
				  res < 0 ? strerror((int)-res) : "short transfer");
	}
	f->next_free = b->free;
	b->free = f;
}

void virtio_blk_complete(void *blk, uint32_t events)
{
	struct virtio_blk *b = blk;
	unsigned gen;

	(void)events;
	b->t->lock(b->t->opaque);
	gen = b->gen;
	blkio_reap(b->io, done, b);
	if (b->vq && gen == b->gen && vq_should_notify(b->vq))
		b->t->notify(b->t->opaque, 0);
	/* requests that waited for a free slot */
	if (b->vq)
		blk_kick(b, 0);
	b->t->unlock(b->t->opaque);
}

bool virtio_blk_poll(void *blk)
{
	struct virtio_blk *b = blk;
	bool work = false;

	b->t->lock(b->t->opaque);
	if (b->vq && blkio_ready(b->io)) {
		unsigned gen = b->gen;

		blkio_reap(b->io, done, b);
		if (b->vq && gen == b->gen && vq_should_notify(b->vq))
			b->t->notify(b->t->opaque, 0);
		work = true;
	}
	if (b->vq && !b->broken && b->free && vq_has_work(b->vq)) {
		blk_kick(b, 0);
		work = true;
	}
	b->t->unlock(b->t->opaque);
	return work;
}

/* The I/O thread is about to sleep: a queue left quiet while polled asks
 * for kicks again and is looked at once more. Work found counts only if a
 * request slot is free to take it (else the next completion's wake-up
 * takes it, and the thread may sleep). */
static bool blk_idle(void *blk)
{
	struct virtio_blk *b = blk;
	bool work = false;

	b->t->lock(b->t->opaque);
	if (b->vq && !b->broken && b->vq->quiet && vq_listen(b->vq) && b->free) {
		blk_kick(b, 0);
		work = true;
	}
	b->t->unlock(b->t->opaque);
	return work;
}

/* The loop's next turn after a budget ran out. */
static void blk_more(void *blk)
{
	struct virtio_blk *b = blk;

	b->t->lock(b->t->opaque);
	blk_kick(b, 0);
	b->t->unlock(b->t->opaque);
}

int virtio_blk_set_loop(struct virtio_blk *b, struct loop *l)
{
	int id;

	if (b->loop)
		return b->loop == l ? 0 : -EINVAL;
	id = loop_add_work(l, blk_more, b);
	if (id < 0)
		return id;
	b->loop = l;
	b->work = id;
	return 0;
}

int virtio_blk_set_poller(struct virtio_blk *b, struct loop *l)
{
	int ret = virtio_blk_set_loop(b, l);

	if (!ret)
		ret = loop_add_poller(l, virtio_blk_poll, blk_idle, b);
	if (!ret)
		b->polled = true;
	return ret;
}

int virtio_blk_event_fd(const struct virtio_blk *b)
{
	return blkio_event_fd(b->io);
}

struct virtio_blk *virtio_blk_create(const struct virtio_blk_cfg *cfg, const struct guest_mem *gm,
				     const struct virtio_transport *t)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->io = cfg->io;
	b->gm = gm;
	b->t = t;
	b->sectors = blkio_size(cfg->io) / SECTOR;
	b->blk_size = blkio_block_size(cfg->io);
	if (b->blk_size < SECTOR || b->blk_size & (b->blk_size - 1))
		b->blk_size = SECTOR;
	b->readonly = cfg->readonly || blkio_readonly(cfg->io);
	b->max_discard = blkio_max_discard_sectors(cfg->io);
	b->max_write_zeroes = blkio_max_write_zeroes_sectors(cfg->io);
	if (b->max_discard > UINT32_MAX / SECTOR)
		b->max_discard = UINT32_MAX / SECTOR;
	if (b->max_write_zeroes > UINT32_MAX / SECTOR)
		b->max_write_zeroes = UINT32_MAX / SECTOR;
	b->discard = cfg->discard;
	memcpy(b->serial, cfg->serial, strnlen(cfg->serial, VIRTIO_BLK_ID_BYTES));
	for (unsigned i = 0; i < VQ_MAX_SIZE; i++) {
		b->slots[i].next_free = b->free;
		b->free = &b->slots[i];
	}
	return b;
}

void virtio_blk_counts(const struct virtio_blk *b, struct virtio_counts *out)
{
	out->requests = atomic_load_explicit(&b->requests, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&b->bytes, memory_order_relaxed);
	out->errors = atomic_load_explicit(&b->errors, memory_order_relaxed);
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	blkio_close(b->io);
	free(b);
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

/* Slots not on the free list: requests the backend still holds (those of
 * before a reset too, which complete into nothing). */
static unsigned count_inflight(const struct virtio_blk *b)
{
	unsigned n = VQ_MAX_SIZE;

	for (const struct inflight *f = b->free; f && n; f = f->next_free)
		n--;
	return n;
}

unsigned virtio_blk_inflight(struct virtio_blk *b)
{
	unsigned n;

	b->t->lock(b->t->opaque);
	n = count_inflight(b);
	b->t->unlock(b->t->opaque);
	return n;
}

/* The disk as the driver saw it (its size, block size, read-only) and
 * whether the driver broke the queue. The backend is not state: a restore
 * re-opens the same disk, and a record from a disk that looks different
 * is refused. */
static int blk_save(void *dev, struct state_writer *w)
{
	struct virtio_blk *b = dev;

	if (count_inflight(b))
		return -EBUSY;
	state_begin(w, STATE_KIND_VIRTIO_BLK, STATE_VERSION);
	state_put_u64(w, b->sectors);
	state_put_u32(w, b->blk_size);
	state_put_bool(w, b->readonly);
	state_put_bool(w, b->broken);
	state_end(w);
	return w->err;
}

static int blk_restore(void *dev, struct state_reader *r)
{
	struct virtio_blk *b = dev;
	uint64_t sectors;
	uint32_t blk_size;
	bool readonly, broken;

	state_enter(r, STATE_KIND_VIRTIO_BLK, STATE_VERSION, NULL);
	state_get_u64(r, &sectors);
	state_get_u32(r, &blk_size);
	state_get_bool(r, &readonly);
	state_get_bool(r, &broken);
	if (state_leave(r))
		return r->err;
	if (sectors != b->sectors || blk_size != b->blk_size || readonly != b->readonly)
		return state_fail(r, -EINVAL); /* another disk than the guest knew */
	b->broken = broken;
	/* a queue saved quiet (its device was polled) asks for kicks again
	 * unless this one is polled too: nothing else would look at it */
	if (b->vq && b->vq->quiet && !b->polled)
		vq_listen(b->vq);
	return 0;
}

const struct virtio_dev_ops virtio_blk_ops = {
	.device_id = 2,
	.pci_class = 0x018000,
	.num_queues = 1,
	.queue_max = VQ_MAX_SIZE,
	.features = blk_features,
	.cfg_size = BLK_CFG_SIZE,
	.cfg_read = blk_cfg_read,
	.cfg_write = blk_cfg_write,
	.start = blk_start,
	.kick = blk_kick,
	.reset = blk_reset,
	.save = blk_save,
	.restore = blk_restore,
};
