/* SPDX-License-Identifier: MIT */
/*
 * A block backend for tests (struct blkio_ops over memory): the unit tests
 * of virtio-blk (test_blk_device.c) and the fuzz harness fuzz_blk_device.c
 * drive the device through it. The test decides when each request
 * completes, in which order and with what result; nothing completes by
 * itself. It also checks what the device hands
 * it and counts what breaks the blkio.h contract in @violations.
 */
#ifndef HEARTH_TEST_FAKE_BLKIO_H
#define HEARTH_TEST_FAKE_BLKIO_H

#include <stdbool.h>
#include <stdint.h>

#include "hearth/blkio.h"

struct fake_req {
	void *tag;
	enum blkio_op op;
	const struct iovec *iov; /* the device's: valid until completion */
	unsigned n;
	uint64_t off, len;
	bool submitted; /* blkio_submit ran since it was queued */
};

struct fake_done {
	void *tag;
	int64_t res;
};

struct fake_blkio {
	struct blkio io; /* first: what blkio_* and the device see */
	uint8_t *disk;	 /* @io.size bytes, or NULL: READ fills 0x5a, WRITE goes nowhere */
	/* in flight (queued, not finished), oldest first */
	struct fake_req req[BLKIO_QUEUE_DEPTH];
	unsigned n;
	/* finished, waiting for blkio_reap, in the order they finished */
	struct fake_done done[BLKIO_QUEUE_DEPTH];
	unsigned ndone;
	/* knobs */
	unsigned room; /* requests taken in flight before -EAGAIN (default: all) */
	int refuse;    /* nonzero: the next queue() returns it, nothing queued */
	/* where the device's buffers must lie (guest RAM), unchecked if NULL */
	const uint8_t *mem;
	uint64_t mem_len;
	/* what it saw */
	unsigned long ops[BLKIO_WRITE_ZEROES + 1]; /* requests queued, by op */
	unsigned long submits, reaps, violations;
	int efd;
};

/* A disk of @size bytes in blocks of @block_size, held in memory when
 * @store (else reads return 0x5a bytes). NULL when out of memory. */
struct fake_blkio *fake_blkio_create(uint64_t size, uint32_t block_size, bool store);
/* Finishes in-flight request @i (0: the oldest) with @res: a byte count
 * (data moves between the disk and the request's buffers, at most @res
 * bytes of it) or -errno (nothing moves). Returns 0, or -ENOENT when there
 * is no such request or it was not submitted yet. */
int fake_blkio_finish(struct fake_blkio *f, unsigned i, int64_t res);
/* Finishes every in-flight request whole, oldest first. */
void fake_blkio_finish_all(struct fake_blkio *f);

#endif
