/* SPDX-License-Identifier: MIT */
/*
 * The block backend interface behind virtio-blk, whatever it talks to.
 * Requests are queued, then submitted as one batch; completions are reaped
 * when a descriptor blkio_attach() gave the event loop becomes ready.
 *
 * A backend is a struct blkio (what it learnt at open time) whose @ops
 * table it fills, embedded as the first member of its own state. Backends
 * are peers: the raw file (src/block/file.c: io_uring with a registered
 * file and one submit per batch, else libaio, else synchronous I/O done at
 * submit time; blkio_file_open below), the iSCSI LUN (src/iscsi,
 * iscsi_blk_open in iscsi.h) and, in tests, a fake over memory. The caller
 * (vm.c) chooses one; the device only calls the blkio_* dispatchers below
 * and never knows which it drives (docs/architecture.md).
 */
#ifndef HEARTH_BLKIO_H
#define HEARTH_BLKIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct blkio;
struct loop;

/* The most one READ or WRITE may move, in bytes, whatever the backend: well
 * under what a system call (2 GiB) or an io_uring completion (int32) can
 * report, so a length is never cut; the iSCSI backend splits it into as
 * many SCSI commands as the LUN's maximum transfer length needs. A longer
 * request is refused (-EINVAL), never cut short. */
#define BLKIO_MAX_BYTES (128ULL << 20)
#define BLKIO_MAX_SEGS	128 /* buffers in one READ or WRITE */
/* Requests every backend takes in flight at once before blkio_queue says
 * -EAGAIN: a device that never has more in flight is never refused. */
#define BLKIO_QUEUE_DEPTH 256

enum blkio_op { BLKIO_READ, BLKIO_WRITE, BLKIO_FLUSH, BLKIO_DISCARD, BLKIO_WRITE_ZEROES };

typedef void (*blkio_done_fn)(void *ctx, void *tag, int64_t res);

/*
 * What a backend does; every member is required. The dispatchers below
 * document the contract; a backend's queue() only ever sees requests that
 * passed the checks blkio_queue() makes for every backend.
 */
struct blkio_ops {
	int (*queue)(struct blkio *b, enum blkio_op op, const struct iovec *iov, unsigned n,
		     uint64_t off, uint64_t len, void *tag);
	void (*submit)(struct blkio *b);
	bool (*ready)(struct blkio *b);
	void (*reap)(struct blkio *b, blkio_done_fn done, void *ctx);
	int (*attach)(struct blkio *b, struct loop *l, void (*cb)(void *opaque, uint32_t events),
		      void *opaque);
	int (*event_fd)(const struct blkio *b);
	/* Frees everything, @b included. Requests in flight never complete. */
	void (*close)(struct blkio *b);
};

/*
 * The part every backend shares: the ops table and what it learnt at open
 * time, fixed from then on (plain fields, so reading them costs no call).
 * A backend embeds it first in its own state and casts back in its ops.
 */
struct blkio {
	const struct blkio_ops *ops;
	const char *engine;  /* for messages: "io_uring", "libaio", "sync", "libiscsi" */
	uint64_t size;	     /* bytes */
	uint32_t block_size; /* the unit requests must be aligned to: 512 for files */
	/* The most one DISCARD / WRITE_ZEROES may cover, in 512-byte sectors
	 * (UINT32_MAX: no limit of the backend's own). */
	uint32_t max_discard_sectors, max_write_zeroes_sectors;
	bool readonly; /* refuses writes whatever was asked (write-protected LUN) */
	/* Whether the I/O thread should poll the disk (--io-poll): false for an
	 * iSCSI LUN, whose completions only ever come through its socket, so
	 * that spinning would only take CPU from the target or the network
	 * stack (docs/iscsi.md has the measurements). */
	bool pollable;
};

/* ---- the raw file backend (src/block/file.c) ---- */

struct blkio_file_opts {
	const char *path;
	bool readonly, direct;
	const char *engine; /* NULL/"auto", "io_uring", "libaio" or "sync" */
};

/* Opens the file or block device, locked against other writers. Returns 0,
 * or -errno with a one-line reason in @err: -EINVAL for bad input (the
 * user's to fix), -EBUSY for an image in use, anything else for a file the
 * system refused. */
int blkio_file_open(struct blkio **out, const struct blkio_file_opts *o, char *err, size_t errlen);

/* ---- what the device calls, for any backend (src/block/blkio.c) ---- */

/* Closes @b (NULL: nothing). */
void blkio_close(struct blkio *b);
uint64_t blkio_size(const struct blkio *b);
const char *blkio_engine(const struct blkio *b);
int blkio_event_fd(const struct blkio *b);
uint32_t blkio_block_size(const struct blkio *b);
uint32_t blkio_max_discard_sectors(const struct blkio *b);
uint32_t blkio_max_write_zeroes_sectors(const struct blkio *b);
bool blkio_readonly(const struct blkio *b);
bool blkio_pollable(const struct blkio *b);
/* Has @l call @cb(@opaque, events) whenever completions may be waiting;
 * @cb then calls blkio_reap(). I/O thread. Returns 0 or -errno. */
int blkio_attach(struct blkio *b, struct loop *l, void (*cb)(void *opaque, uint32_t events),
		 void *opaque);

/*
 * Queues one request. @iov/@n (READ, WRITE) must stay valid until it
 * completes and hold exactly @len bytes, at most BLKIO_MAX_BYTES in at most
 * BLKIO_MAX_SEGS buffers; @len is also the size of DISCARD and
 * WRITE_ZEROES. @tag comes back in the completion. Returns 0, -EAGAIN
 * (queue full: submit and retry) or -EINVAL (a length or vector no backend
 * takes: nothing is performed). Once it returned 0, the request completes
 * exactly once through blkio_reap(), unless the backend is closed first.
 */
int blkio_queue(struct blkio *b, enum blkio_op op, const struct iovec *iov, unsigned n,
		uint64_t off, uint64_t len, void *tag);
/* Whether completions wait to be reaped (no system call). */
bool blkio_ready(struct blkio *b);
/* Submits what was queued. */
void blkio_submit(struct blkio *b);
/* Calls @done(ctx, tag, res) for each finished request: res is the byte
 * count (0 for FLUSH/DISCARD/WRITE_ZEROES) or -errno; a count short of the
 * request's length is a failure, never a partial success. @done may queue
 * new requests. */
void blkio_reap(struct blkio *b, blkio_done_fn done, void *ctx);

#endif
