// SPDX-License-Identifier: MIT
/*
 * Raw-file block backend, one of the peers behind struct blkio_ops
 * (include/hearth/blkio.h). Engines, in order of preference: io_uring with
 * the file registered and one submit per batch; libaio (io_submit,
 * completions signalled on an eventfd) when io_uring cannot be set up
 * (disabled by sysctl, seccomp, old kernel); synchronous
 * preadv/pwritev/fdatasync as the last resort. DISCARD and WRITE_ZEROES are
 * fallocate(), which Linux AIO cannot do: under libaio they run
 * synchronously. Completions are signalled on one eventfd whatever the
 * engine, so the event loop treats them alike.
 */
#include "hearth/blkio.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/sandbox.h"
#include "hearth/uring.h"

#define RING_ENTRIES BLKIO_QUEUE_DEPTH
#define SYNC_MAX     BLKIO_QUEUE_DEPTH

struct sync_done {
	void *tag;
	int64_t res;
};

enum engine { ENGINE_URING, ENGINE_AIO, ENGINE_SYNC };

struct blk_file {
	struct blkio io; /* first: the ops get &io */
	int fd, efd;
	enum engine engine;
	bool uring;
	struct io_uring ring;
	unsigned queued;
	/* libaio */
	io_context_t aio;
	struct iocb iocbs[RING_ENTRIES], *free_iocb[RING_ENTRIES], *pending[RING_ENTRIES];
	unsigned nfree, npending;
	/* sync engine: results waiting to be reaped */
	struct sync_done done[SYNC_MAX];
	unsigned ndone;
};

static int lock_image(int fd, bool shared)
{
	struct flock fl = { .l_type = shared ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };

	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* The ring reaches the image only as registered file 0 (IOSQE_FIXED_FILE
 * required) and only to read, write, sync and fallocate it (uring.h). */
static int lock_ring(struct blk_file *b)
{
	static const uint8_t ops[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				       IORING_OP_FALLOCATE };

	return uring_lock(&b->ring, ops, sizeof(ops), 0, IOSQE_FIXED_FILE);
}

static const struct blkio_ops file_ops;
static const char *const engine_names[] = { "io_uring", "libaio", "sync" };

static void file_close(struct blkio *io);

int blkio_file_open(struct blkio **out, const struct blkio_file_opts *o, char *err, size_t errlen)
{
	struct blk_file *b = calloc(1, sizeof(*b));
	struct stat st;
	int flags = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o->direct ? O_DIRECT : 0);
	int ret;

	if (!b)
		return -ENOMEM;
	b->io.ops = &file_ops;
	b->io.block_size = 512;
	b->io.max_discard_sectors = b->io.max_write_zeroes_sectors = UINT32_MAX;
	b->io.pollable = true;
	b->efd = -1;
	b->fd = open(o->path, flags);
	if (b->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open disk '%s'%s: %s", o->path,
			 o->direct && errno == EINVAL ? " with direct=on" : "", strerror(errno));
		free(b);
		return ret;
	}
	if (fstat(b->fd, &st) || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		snprintf(err, errlen, "disk '%s' is not a regular file or block device", o->path);
		close(b->fd);
		free(b);
		return -EINVAL;
	}
	/* Two writers, or a writer and a reader, of one image corrupt what
	 * the guests see: take a whole-file lock, shared for a read-only
	 * disk, exclusive otherwise. Open file description locks, so the
	 * same image given twice to one hearth conflicts as well, and
	 * QEMU's image locks (the same kind of lock on single bytes) clash
	 * with ours in both directions. */
	if (lock_image(b->fd, o->readonly)) {
		ret = -errno;
		if (errno == EAGAIN || errno == EACCES) {
			snprintf(err, errlen,
				 "disk '%s' is in use by another process or another --disk "
				 "(locked)",
				 o->path);
			close(b->fd);
			free(b);
			return -EBUSY;
		}
		log_warn("disk '%s': cannot lock it (%s); another VM could use it too", o->path,
			 strerror(-ret));
	}
	b->io.size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(b->fd, 0, SEEK_END);
		b->io.size = end > 0 ? (uint64_t)end : 0;
	}
	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->efd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		file_close(&b->io);
		return ret;
	}
	b->engine = ENGINE_SYNC;
	if (!o->engine || !strcmp(o->engine, "auto") || !strcmp(o->engine, "io_uring")) {
		ret = uring_init_disabled(&b->ring, RING_ENTRIES, NULL);
		if (ret == 0) {
			b->uring = true;
			if (io_uring_register_files(&b->ring, &b->fd, 1) ||
			    io_uring_register_eventfd(&b->ring, b->efd) || lock_ring(b)) {
				io_uring_queue_exit(&b->ring);
				b->uring = false;
			}
		}
		if (b->uring)
			b->engine = ENGINE_URING;
		else
			log_info("disk '%s': io_uring unavailable, trying libaio", o->path);
	}
	if (b->engine == ENGINE_SYNC && (!o->engine || strcmp(o->engine, "sync"))) {
		if (io_setup(RING_ENTRIES, &b->aio) == 0) {
			b->engine = ENGINE_AIO;
			for (unsigned i = 0; i < RING_ENTRIES; i++)
				b->free_iocb[b->nfree++] = &b->iocbs[i];
		} else {
			b->aio = 0;
			log_info("disk '%s': libaio unavailable too, using synchronous I/O",
				 o->path);
		}
	}
	b->io.engine = engine_names[b->engine];
	/* the I/O thread's seccomp filter: libaio's calls, and the
	 * synchronous ones it and the sync engine make */
	if (b->engine == ENGINE_AIO)
		sandbox_need(SANDBOX_NEED_AIO | SANDBOX_NEED_SYNC_IO);
	else if (b->engine == ENGINE_SYNC)
		sandbox_need(SANDBOX_NEED_SYNC_IO);
	*out = &b->io;
	return 0;
}

static void file_close(struct blkio *io)
{
	struct blk_file *b = (struct blk_file *)io;

	/* Unlock first: the ring's registered copy of the file is dropped by
	 * an asynchronous teardown after io_uring_queue_exit, and the image
	 * would stay locked for a moment after hearth has exited. */
	if (b->fd >= 0) {
		struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

		fcntl(b->fd, F_OFD_SETLK, &fl);
	}
	if (b->uring)
		io_uring_queue_exit(&b->ring);
	if (b->aio)
		io_destroy(b->aio);
	if (b->efd >= 0)
		close(b->efd);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

static int file_event_fd(const struct blkio *io)
{
	return ((const struct blk_file *)io)->efd;
}

static int file_attach(struct blkio *io, struct loop *l, void (*cb)(void *opaque, uint32_t events),
		       void *opaque)
{
	struct blk_file *b = (struct blk_file *)io;

	return loop_watch(l, b->efd, cb, opaque) < 0 ? -ENOSPC : 0;
}

static int64_t sync_do(struct blk_file *b, enum blkio_op op, const struct iovec *iov, unsigned n,
		       uint64_t off, uint64_t len)
{
	ssize_t r;

	switch (op) {
	case BLKIO_READ: r = preadv(b->fd, iov, (int)n, (off_t)off); break;
	case BLKIO_WRITE: r = pwritev(b->fd, iov, (int)n, (off_t)off); break;
	case BLKIO_FLUSH: r = fdatasync(b->fd); break;
	case BLKIO_DISCARD:
		r = fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len);
		break;
	case BLKIO_WRITE_ZEROES:
		r = fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len);
		break;
	default: errno = EINVAL; r = -1;
	}
	return r < 0 ? -errno : r;
}

/* @iov/@n/@len passed blkio_queue's checks. */
static int file_queue(struct blkio *io, enum blkio_op op, const struct iovec *iov, unsigned n,
		      uint64_t off, uint64_t len, void *tag)
{
	struct blk_file *b = (struct blk_file *)io;
	struct io_uring_sqe *sqe;

	if (b->engine == ENGINE_AIO &&
	    (op == BLKIO_READ || op == BLKIO_WRITE || op == BLKIO_FLUSH)) {
		struct iocb *cb;

		if (!b->nfree)
			return -EAGAIN;
		cb = b->free_iocb[--b->nfree];
		if (op == BLKIO_READ)
			io_prep_preadv(cb, b->fd, iov, (int)n, (long long)off);
		else if (op == BLKIO_WRITE)
			io_prep_pwritev(cb, b->fd, iov, (int)n, (long long)off);
		else
			io_prep_fdsync(cb, b->fd);
		io_set_eventfd(cb, b->efd);
		cb->data = tag;
		b->pending[b->npending++] = cb;
		return 0;
	}
	if (!b->uring) {
		if (b->ndone >= SYNC_MAX)
			return -EAGAIN;
		b->done[b->ndone++] = (struct sync_done){ tag, sync_do(b, op, iov, n, off, len) };
		return 0;
	}
	sqe = io_uring_get_sqe(&b->ring);
	if (!sqe)
		return -EAGAIN;
	switch (op) {
	case BLKIO_READ: io_uring_prep_readv(sqe, 0, iov, n, off); break;
	case BLKIO_WRITE: io_uring_prep_writev(sqe, 0, iov, n, off); break;
	case BLKIO_FLUSH: io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC); break;
	case BLKIO_DISCARD:
		io_uring_prep_fallocate(sqe, 0, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
					len);
		break;
	case BLKIO_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, 0, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off,
					len);
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, tag);
	b->queued++;
	return 0;
}

static bool file_ready(struct blkio *io)
{
	struct blk_file *b = (struct blk_file *)io;

	return b->uring && io_uring_cq_ready(&b->ring);
}

static void file_submit(struct blkio *io)
{
	struct blk_file *b = (struct blk_file *)io;

	if (b->npending) {
		unsigned done = 0;

		while (done < b->npending) {
			int r = io_submit(b->aio, (long)(b->npending - done), b->pending + done);

			if (r <= 0) {
				/* refused: complete them as failed */
				for (unsigned i = done; i < b->npending; i++) {
					struct iocb *cb = b->pending[i];

					if (b->ndone < SYNC_MAX)
						b->done[b->ndone++] =
							(struct sync_done){ cb->data,
									    r < 0 ? r : -EIO };
					b->free_iocb[b->nfree++] = cb;
				}
				break;
			}
			done += (unsigned)r;
		}
		b->npending = 0;
	}
	if (!b->uring) {
		if (b->ndone)
			eventfd_write(b->efd, 1);
		return;
	}
	if (b->queued) {
		int r = io_uring_submit(&b->ring);

		if (r < 0)
			log_warn("io_uring submit failed: %s", strerror(-r));
		else
			b->queued -= (unsigned)r < b->queued ? (unsigned)r : b->queued;
	}
}

static void file_reap(struct blkio *io, blkio_done_fn done, void *ctx)
{
	struct blk_file *b = (struct blk_file *)io;
	eventfd_t v;

	eventfd_read(b->efd, &v);
	if (!b->uring) {
		unsigned n = b->ndone;
		struct sync_done local[SYNC_MAX];

		/* done() may queue new requests (and add to b->done): work on a copy */
		memcpy(local, b->done, n * sizeof(local[0]));
		b->ndone = 0;
		for (unsigned i = 0; i < n; i++)
			done(ctx, local[i].tag, local[i].res);
		if (b->engine == ENGINE_AIO) {
			struct io_event ev[64];
			struct timespec zero = { 0, 0 };
			int got;

			while ((got = io_getevents(b->aio, 0, 64, ev, &zero)) > 0)
				for (int i = 0; i < got; i++) {
					b->free_iocb[b->nfree++] = ev[i].obj;
					done(ctx, ev[i].data, (int64_t)(long)ev[i].res);
				}
		}
		return;
	}
	for (;;) {
		struct io_uring_cqe *cqe;
		void *tag;
		int64_t res;

		if (io_uring_peek_cqe(&b->ring, &cqe))
			break;
		tag = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
		done(ctx, tag, res);
	}
}

static const struct blkio_ops file_ops = {
	.queue = file_queue,
	.submit = file_submit,
	.ready = file_ready,
	.reap = file_reap,
	.attach = file_attach,
	.event_fd = file_event_fd,
	.close = file_close,
};
