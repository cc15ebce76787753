// SPDX-License-Identifier: MIT
/*
 * The block backend interface: what the device calls, for any backend. Each
 * call goes through the backend's ops table (include/hearth/blkio.h); the
 * checks every backend relies on are made here, once.
 */
#include "hearth/blkio.h"

#include <errno.h>

void blkio_close(struct blkio *b)
{
	if (b)
		b->ops->close(b);
}

uint64_t blkio_size(const struct blkio *b)
{
	return b->size;
}

const char *blkio_engine(const struct blkio *b)
{
	return b->engine;
}

int blkio_event_fd(const struct blkio *b)
{
	return b->ops->event_fd(b);
}

uint32_t blkio_block_size(const struct blkio *b)
{
	return b->block_size;
}

uint32_t blkio_max_discard_sectors(const struct blkio *b)
{
	return b->max_discard_sectors;
}

uint32_t blkio_max_write_zeroes_sectors(const struct blkio *b)
{
	return b->max_write_zeroes_sectors;
}

bool blkio_readonly(const struct blkio *b)
{
	return b->readonly;
}

bool blkio_pollable(const struct blkio *b)
{
	return b->pollable;
}

int blkio_attach(struct blkio *b, struct loop *l, void (*cb)(void *opaque, uint32_t events),
		 void *opaque)
{
	return b->ops->attach(b, l, cb, opaque);
}

/* A READ or WRITE any backend takes: @len at most BLKIO_MAX_BYTES (so no
 * count is cut to 32 bits on its way to the kernel or libiscsi, and no
 * short transfer of an over-long vector can pass for the whole) and
 * exactly the bytes of the vector. */
static bool rw_ok(const struct iovec *iov, unsigned n, uint64_t len)
{
	uint64_t sum = 0;

	if (len > BLKIO_MAX_BYTES || n > BLKIO_MAX_SEGS)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (iov[i].iov_len > BLKIO_MAX_BYTES ||
		    __builtin_add_overflow(sum, (uint64_t)iov[i].iov_len, &sum))
			return false;
	return sum == len;
}

int blkio_queue(struct blkio *b, enum blkio_op op, const struct iovec *iov, unsigned n,
		uint64_t off, uint64_t len, void *tag)
{
	if ((op == BLKIO_READ || op == BLKIO_WRITE) && !rw_ok(iov, n, len))
		return -EINVAL;
	if ((unsigned)op > BLKIO_WRITE_ZEROES)
		return -EINVAL;
	return b->ops->queue(b, op, iov, n, off, len, tag);
}

bool blkio_ready(struct blkio *b)
{
	return b->ops->ready(b);
}

void blkio_submit(struct blkio *b)
{
	b->ops->submit(b);
}

void blkio_reap(struct blkio *b, blkio_done_fn done, void *ctx)
{
	b->ops->reap(b, done, ctx);
}
