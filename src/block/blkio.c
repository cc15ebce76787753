// SPDX-License-Identifier: MIT
/*
 * Raw-file block backend. Engines, in order of preference: io_uring with the
 * file registered and one submit per batch; libaio (io_submit, completions
 * signalled on an eventfd) when io_uring cannot be set up (disabled by
 * sysctl, seccomp, old kernel); synchronous preadv/pwritev/fdatasync as the
 * last resort. DISCARD and WRITE_ZEROES are fallocate(), which Linux AIO
 * cannot do: under libaio they run synchronously. Completions are signalled
 * on one eventfd whatever the engine, so the event loop treats them alike.
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

#include "../iscsi/iscsi_blk.h"
#include "hearth/log.h"
#include "hearth/loop.h"

#define RING_ENTRIES 256
#define SYNC_MAX     256

struct sync_done {
	void *tag;
	int64_t res;
};

enum engine { ENGINE_URING, ENGINE_AIO, ENGINE_SYNC, ENGINE_ISCSI };

struct blkio {
	/* ENGINE_ISCSI: every call goes to the iSCSI engine (one branch) */
	struct iscsi_blk *iscsi;
	uint32_t block_size, max_discard, max_write_zeroes;
	bool wp;
	int fd, efd;
	uint64_t size;
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

int blkio_open(struct blkio **out, const struct blkio_opts *o, char *err, size_t errlen)
{
	struct blkio *b = calloc(1, sizeof(*b));
	struct stat st;
	int flags = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o->direct ? O_DIRECT : 0);
	int ret;

	if (!b)
		return -ENOMEM;
	b->efd = -1;
	b->block_size = 512;
	b->max_discard = b->max_write_zeroes = UINT32_MAX;
	if (o->url) {
		struct blkio_info info = { 0 };

		b->fd = -1;
		ret = iscsi_blk_open(&b->iscsi, o, &info, err, errlen);
		if (ret) {
			free(b);
			return ret;
		}
		b->engine = ENGINE_ISCSI;
		b->size = info.size;
		b->block_size = info.block_size;
		b->wp = info.readonly;
		if (info.max_discard_sectors)
			b->max_discard = info.max_discard_sectors;
		if (info.max_write_zeroes_sectors)
			b->max_write_zeroes = info.max_write_zeroes_sectors;
		*out = b;
		return 0;
	}
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
	b->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(b->fd, 0, SEEK_END);
		b->size = end > 0 ? (uint64_t)end : 0;
	}
	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->efd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		blkio_close(b);
		return ret;
	}
	b->engine = ENGINE_SYNC;
	if (!o->engine || !strcmp(o->engine, "auto") || !strcmp(o->engine, "io_uring")) {
		ret = io_uring_queue_init(RING_ENTRIES, &b->ring, 0);
		if (ret == 0) {
			b->uring = true;
			if (io_uring_register_files(&b->ring, &b->fd, 1) ||
			    io_uring_register_eventfd(&b->ring, b->efd)) {
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
	*out = b;
	return 0;
}

void blkio_close(struct blkio *b)
{
	if (!b)
		return;
	iscsi_blk_close(b->iscsi);
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

uint64_t blkio_size(const struct blkio *b)
{
	return b->size;
}

const char *blkio_engine(const struct blkio *b)
{
	static const char *const names[] = { "io_uring", "libaio", "sync", "libiscsi" };

	return names[b->engine];
}

bool blkio_pollable(const struct blkio *b)
{
	return !b->iscsi;
}

int blkio_event_fd(const struct blkio *b)
{
	return b->iscsi ? iscsi_blk_event_fd(b->iscsi) : b->efd;
}

uint32_t blkio_block_size(const struct blkio *b)
{
	return b->block_size;
}

uint32_t blkio_max_discard_sectors(const struct blkio *b)
{
	return b->max_discard;
}

uint32_t blkio_max_write_zeroes_sectors(const struct blkio *b)
{
	return b->max_write_zeroes;
}

bool blkio_readonly(const struct blkio *b)
{
	return b->wp;
}

int blkio_attach(struct blkio *b, struct loop *l, void (*cb)(void *opaque, uint32_t events),
		 void *opaque)
{
	if (b->iscsi)
		return iscsi_blk_attach(b->iscsi, l, cb, opaque);
	return loop_watch(l, b->efd, cb, opaque) < 0 ? -ENOSPC : 0;
}

static int64_t sync_do(struct blkio *b, enum blkio_op op, const struct iovec *iov, unsigned n,
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

/* A READ or WRITE any engine takes: @len at most BLKIO_MAX_BYTES (so no
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
	struct io_uring_sqe *sqe;

	if ((op == BLKIO_READ || op == BLKIO_WRITE) && !rw_ok(iov, n, len))
		return -EINVAL;
	if (b->iscsi)
		return iscsi_blk_queue(b->iscsi, op, iov, n, off, len, tag);
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

bool blkio_ready(struct blkio *b)
{
	if (b->iscsi)
		return iscsi_blk_ready(b->iscsi);
	return b->uring && io_uring_cq_ready(&b->ring);
}

void blkio_submit(struct blkio *b)
{
	if (b->iscsi) {
		iscsi_blk_submit(b->iscsi);
		return;
	}
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

void blkio_reap(struct blkio *b, void (*done)(void *ctx, void *tag, int64_t res), void *ctx)
{
	eventfd_t v;

	if (b->iscsi) {
		iscsi_blk_reap(b->iscsi, done, ctx);
		return;
	}
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
