/* SPDX-License-Identifier: MIT */
/*
 * The block backend behind virtio-blk, whatever it talks to. Requests are
 * queued, then submitted as one batch; completions are reaped when a
 * descriptor blkio_attach() gave the event loop becomes ready. Engines: for a
 * raw file or block device io_uring (registered file, one submit per batch),
 * else libaio, else synchronous I/O done at submit time (the log says which);
 * for an iscsi:// URL the libiscsi engine (src/iscsi). The device never
 * knows which one it drives (docs/architecture.md).
 */
#ifndef HEARTH_BLKIO_H
#define HEARTH_BLKIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct blkio;
struct loop;

/* The most one READ or WRITE may move, in bytes, whatever the engine: well
 * under what a system call (2 GiB) or an io_uring completion (int32) can
 * report, so a length is never cut; the iSCSI engine splits it into as
 * many SCSI commands as the LUN's maximum transfer length needs. A longer
 * request is refused (-EINVAL), never cut short. */
#define BLKIO_MAX_BYTES (128ULL << 20)
#define BLKIO_MAX_SEGS	128 /* buffers in one READ or WRITE */

enum blkio_op { BLKIO_READ, BLKIO_WRITE, BLKIO_FLUSH, BLKIO_DISCARD, BLKIO_WRITE_ZEROES };

struct blkio_opts {
	const char *path;
	bool readonly, direct;
	const char *engine; /* NULL/"auto", "io_uring", "libaio" or "sync" */
	/* iSCSI instead of @path: iscsi://[user[%password]@]host[:port]/target/lun */
	const char *url;
	const char *url_password; /* the URL's CHAP password given apart, or NULL */
	const char *secret;	  /* iSCSI CHAP secret file, or NULL */
	uint64_t timeout_ms;	  /* iSCSI per-request timeout; 0: 30 s */
	bool discard;		  /* iSCSI: the LUN must be able to UNMAP */
};

/* Opens the file or logs in to the LUN. Returns 0, or -errno with a one-line
 * reason in @err: -EINVAL for bad input (the user's to fix), anything else
 * for a file, target or network that refused. */
int blkio_open(struct blkio **out, const struct blkio_opts *o, char *err, size_t errlen);
void blkio_close(struct blkio *b);
uint64_t blkio_size(const struct blkio *b);
const char *blkio_engine(const struct blkio *b);
int blkio_event_fd(const struct blkio *b);
/* The unit requests must be aligned to: 512 for files, the LUN's block. */
uint32_t blkio_block_size(const struct blkio *b);
/* The most one DISCARD / WRITE_ZEROES may cover, in 512-byte sectors
 * (UINT32_MAX: no limit of the backend's own). */
uint32_t blkio_max_discard_sectors(const struct blkio *b);
uint32_t blkio_max_write_zeroes_sectors(const struct blkio *b);
/* Whether the backend refuses writes whatever was asked (write-protected LUN). */
bool blkio_readonly(const struct blkio *b);
/* Whether the I/O thread should poll the disk (--io-poll): false for an
 * iSCSI LUN, whose completions only ever come through its socket, so that
 * spinning would only take CPU from the target or the network stack
 * (docs/iscsi.md has the measurements). */
bool blkio_pollable(const struct blkio *b);
/* Has @l call @cb(@opaque, events) whenever completions may be waiting;
 * @cb then calls blkio_reap(). I/O thread. Returns 0 or -errno. */
int blkio_attach(struct blkio *b, struct loop *l, void (*cb)(void *opaque, uint32_t events),
		 void *opaque);

/*
 * Queues one request. @iov/@n (READ, WRITE) must stay valid until it
 * completes and hold exactly @len bytes, at most BLKIO_MAX_BYTES; @len is
 * also the size of DISCARD and WRITE_ZEROES. @tag comes back in the
 * completion. Returns 0, -EAGAIN (queue full: submit and retry) or -EINVAL
 * (a length or vector no engine takes: nothing is performed).
 */
int blkio_queue(struct blkio *b, enum blkio_op op, const struct iovec *iov, unsigned n,
		uint64_t off, uint64_t len, void *tag);
/* Whether completions wait to be reaped (no system call; io_uring only). */
bool blkio_ready(struct blkio *b);
/* Submits what was queued. */
void blkio_submit(struct blkio *b);
/* Calls @done(tag, res) for each finished request: res is the byte count
 * (0 for FLUSH/DISCARD/WRITE_ZEROES) or -errno; a count short of the
 * request's length is a failure, never a partial success. */
void blkio_reap(struct blkio *b, void (*done)(void *ctx, void *tag, int64_t res), void *ctx);

#endif
