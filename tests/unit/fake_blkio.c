// SPDX-License-Identifier: MIT
/*
 * The fake block backend (fake_blkio.h): requests wait in memory until the
 * test finishes them, then complete through blkio_reap like any backend's.
 */
#include "fake_blkio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hearth/loop.h"

#define SECTOR 512u

static struct fake_blkio *of(struct blkio *io)
{
	return (struct fake_blkio *)io;
}

static bool in_mem(const struct fake_blkio *f, const void *p, uint64_t len)
{
	const uint8_t *q = p;

	if (!f->mem)
		return true;
	return q >= f->mem && len <= f->mem_len && (uint64_t)(q - f->mem) <= f->mem_len - len;
}

static bool tag_busy(const struct fake_blkio *f, const void *tag)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->req[i].tag == tag)
			return true;
	for (unsigned i = 0; i < f->ndone; i++)
		if (f->done[i].tag == tag)
			return true;
	return false;
}

/* What a correct device never hands a backend. */
static bool request_bad(const struct fake_blkio *f, enum blkio_op op, const struct iovec *iov,
			unsigned n, uint64_t off, uint64_t len, const void *tag)
{
	if (tag_busy(f, tag))
		return true; /* a tag (the device's request slot) reused in flight */
	if (op == BLKIO_READ || op == BLKIO_WRITE) {
		if ((n == 0) != (len == 0))
			return true;
		for (unsigned i = 0; i < n; i++)
			if (!iov[i].iov_len || !in_mem(f, iov[i].iov_base, iov[i].iov_len))
				return true; /* a buffer outside guest RAM */
	}
	if (op != BLKIO_FLUSH &&
	    (off % SECTOR || len % SECTOR || off > f->io.size || len > f->io.size - off))
		return true; /* past the end of the disk */
	return op != BLKIO_READ && op != BLKIO_FLUSH && f->io.readonly;
}

static int fake_queue(struct blkio *io, enum blkio_op op, const struct iovec *iov, unsigned n,
		      uint64_t off, uint64_t len, void *tag)
{
	struct fake_blkio *f = of(io);
	int refuse = f->refuse;

	if (request_bad(f, op, iov, n, off, len, tag))
		f->violations++;
	if (refuse) {
		f->refuse = 0;
		return refuse;
	}
	if (f->n + f->ndone >= f->room || f->n + f->ndone >= BLKIO_QUEUE_DEPTH)
		return -EAGAIN;
	f->req[f->n++] = (struct fake_req){ tag, op, iov, n, off, len, false };
	f->ops[op]++;
	return 0;
}

static void fake_submit(struct blkio *io)
{
	struct fake_blkio *f = of(io);

	f->submits++;
	for (unsigned i = 0; i < f->n; i++)
		f->req[i].submitted = true;
}

static bool fake_ready(struct blkio *io)
{
	return of(io)->ndone > 0;
}

static void fake_reap(struct blkio *io, blkio_done_fn done, void *ctx)
{
	struct fake_blkio *f = of(io);
	/* done() may queue new requests: work on a copy */
	struct fake_done local[BLKIO_QUEUE_DEPTH];
	unsigned n = f->ndone;
	eventfd_t v;

	if (f->efd >= 0)
		eventfd_read(f->efd, &v);
	memcpy(local, f->done, n * sizeof(local[0]));
	f->ndone = 0;
	f->reaps++;
	for (unsigned i = 0; i < n; i++)
		done(ctx, local[i].tag, local[i].res);
}

static int fake_attach(struct blkio *io, struct loop *l, void (*cb)(void *opaque, uint32_t events),
		       void *opaque)
{
	struct fake_blkio *f = of(io);

	if (f->efd < 0)
		f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0)
		return -errno;
	return loop_watch(l, f->efd, cb, opaque) < 0 ? -ENOSPC : 0;
}

static int fake_event_fd(const struct blkio *io)
{
	return ((const struct fake_blkio *)io)->efd;
}

static void fake_close(struct blkio *io)
{
	struct fake_blkio *f = of(io);

	if (f->efd >= 0)
		close(f->efd);
	free(f->disk);
	free(f);
}

static const struct blkio_ops fake_ops = {
	.queue = fake_queue,
	.submit = fake_submit,
	.ready = fake_ready,
	.reap = fake_reap,
	.attach = fake_attach,
	.event_fd = fake_event_fd,
	.close = fake_close,
};

struct fake_blkio *fake_blkio_create(uint64_t size, uint32_t block_size, bool store)
{
	struct fake_blkio *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->io = (struct blkio){ .ops = &fake_ops,
				.engine = "fake",
				.size = size,
				.block_size = block_size,
				.max_discard_sectors = UINT32_MAX,
				.max_write_zeroes_sectors = UINT32_MAX,
				.pollable = true };
	f->room = BLKIO_QUEUE_DEPTH;
	f->efd = -1;
	if (store && size) {
		f->disk = calloc(1, size);
		if (!f->disk) {
			free(f);
			return NULL;
		}
	}
	return f;
}

/* Moves up to @max bytes of @r between the disk and its buffers. */
static void move_data(struct fake_blkio *f, const struct fake_req *r, uint64_t max)
{
	uint64_t at = r->off;

	if (r->op == BLKIO_DISCARD || r->op == BLKIO_WRITE_ZEROES) {
		if (f->disk)
			memset(f->disk + r->off, 0, r->len);
		return;
	}
	for (unsigned i = 0; i < r->n && max; i++) {
		uint64_t k = r->iov[i].iov_len < max ? r->iov[i].iov_len : max;

		if (r->op == BLKIO_READ && f->disk)
			memcpy(r->iov[i].iov_base, f->disk + at, k);
		else if (r->op == BLKIO_READ)
			memset(r->iov[i].iov_base, 0x5a, k);
		else if (r->op == BLKIO_WRITE && f->disk)
			memcpy(f->disk + at, r->iov[i].iov_base, k);
		at += k;
		max -= k;
	}
}

int fake_blkio_finish(struct fake_blkio *f, unsigned i, int64_t res)
{
	struct fake_req r;

	if (i >= f->n || !f->req[i].submitted)
		return -ENOENT;
	r = f->req[i];
	memmove(&f->req[i], &f->req[i + 1], (f->n - i - 1) * sizeof(r));
	f->n--;
	/* only what the request said it covers, and only inside the disk */
	if (res >= 0 && r.op != BLKIO_FLUSH && r.off <= f->io.size && r.len <= f->io.size - r.off)
		move_data(f, &r, (uint64_t)res < r.len ? (uint64_t)res : r.len);
	f->done[f->ndone].tag = r.tag;
	f->done[f->ndone].res = res;
	f->ndone++;
	if (f->efd >= 0)
		eventfd_write(f->efd, 1);
	return 0;
}

void fake_blkio_finish_all(struct fake_blkio *f)
{
	while (f->n && f->req[0].submitted)
		fake_blkio_finish(f, 0,
				  f->req[0].op == BLKIO_READ || f->req[0].op == BLKIO_WRITE
					  ? (int64_t)f->req[0].len
					  : 0);
}
