/* SPDX-License-Identifier: MIT */
/*
 * Raw-file block backend. Requests are queued, then submitted as one batch;
 * completions are reaped when event_fd() becomes readable (the event loop
 * watches it). Engines: io_uring (registered file, one submit per batch),
 * else libaio, else synchronous I/O done at submit time (the log says which).
 */
#ifndef HEARTH_BLKIO_H
#define HEARTH_BLKIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct blkio;

enum blkio_op { BLKIO_READ, BLKIO_WRITE, BLKIO_FLUSH, BLKIO_DISCARD, BLKIO_WRITE_ZEROES };

struct blkio_opts {
	const char *path;
	bool readonly, direct;
	const char *engine; /* NULL/"auto", "io_uring", "libaio" or "sync" */
};

/* Opens the file. Returns 0, or -errno with a one-line reason in @err. */
int blkio_open(struct blkio **out, const struct blkio_opts *o, char *err, size_t errlen);
void blkio_close(struct blkio *b);
uint64_t blkio_size(const struct blkio *b);
const char *blkio_engine(const struct blkio *b);
int blkio_event_fd(const struct blkio *b);

/*
 * Queues one request. @iov/@n (READ, WRITE) must stay valid until it
 * completes; @len is used by DISCARD and WRITE_ZEROES. @tag comes back in
 * the completion. Returns 0 or -EAGAIN (queue full: submit and retry).
 */
int blkio_queue(struct blkio *b, enum blkio_op op, const struct iovec *iov, unsigned n,
		uint64_t off, uint64_t len, void *tag);
/* Whether completions wait to be reaped (no system call; io_uring only). */
bool blkio_ready(struct blkio *b);
/* Submits what was queued. */
void blkio_submit(struct blkio *b);
/* Calls @done(tag, res) for each finished request: res is the byte count
 * (0 for FLUSH/DISCARD/WRITE_ZEROES) or -errno. */
void blkio_reap(struct blkio *b, void (*done)(void *ctx, void *tag, int64_t res), void *ctx);

#endif
