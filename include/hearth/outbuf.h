/* SPDX-License-Identifier: MIT */
/*
 * A bounded byte buffer between writers that must never wait (vCPU threads
 * with the guest's console output) and one drainer (the I/O thread) that
 * moves the bytes on to a descriptor without blocking either. The lock is
 * held only to copy bytes in and to move the indices: the drainer writes
 * straight from the buffer with the lock released, which is safe because
 * writers only fill free space and the bytes being written are not free
 * until the drainer gives them back. What does not fit is dropped and
 * counted, never waited for.
 *
 * The indices go back to 0 whenever the buffer runs dry, so while the
 * reader keeps up only its first pages are ever touched (resident).
 */
#ifndef HEARTH_OUTBUF_H
#define HEARTH_OUTBUF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct outbuf {
	pthread_mutex_t lock;
	unsigned char *data;
	size_t cap;
	size_t head, len; /* the bytes [head, head + len) modulo cap */
	bool armed;	  /* the drainer was woken and has not run dry since */
	bool dropping;	  /* bytes were dropped since it last ran dry */
	uint64_t written, dropped;
};

/* A buffer of @cap bytes (> 0). Returns 0 or -ENOMEM/-EINVAL. */
int outbuf_init(struct outbuf *b, size_t cap);
void outbuf_destroy(struct outbuf *b);

/*
 * Any thread; never blocks on I/O. Copies what fits of @p, in order, and
 * counts the rest as dropped. Returns true when the caller must wake the
 * drainer (after releasing any lock of its own): for the first bytes since
 * the drainer last ran dry, and for the first bytes dropped since then. So
 * a busy writer costs the drainer one wake-up per batch, not per byte.
 */
bool outbuf_put(struct outbuf *b, const void *p, size_t n);

/* The drainer's writer: bytes written (> 0), -EAGAIN when it would block,
 * -EINTR to be called again, or another -errno. It must not block. */
typedef ssize_t (*outbuf_write_fn)(void *arg, const void *p, size_t n);

enum {
	OUTBUF_EMPTY,	/* all written; the next put wakes the drainer again */
	OUTBUF_BLOCKED, /* the writer would block: call again once it can write */
	OUTBUF_MORE,	/* @budget bytes went out and more are buffered: call again soon */
};

/*
 * Drainer only (one thread at a time). Writes buffered bytes through @wr
 * until one of the OUTBUF_* states. A write error other than -EAGAIN and
 * -EINTR drops everything buffered (counted) and returns it (-errno); the
 * buffer is then empty as after OUTBUF_EMPTY.
 */
int outbuf_drain(struct outbuf *b, outbuf_write_fn wr, void *arg, size_t budget);

/* Drainer only: drops whatever is buffered, counted as dropped (a reader
 * that did not come back in time). Returns how many bytes that was. */
size_t outbuf_discard(struct outbuf *b);

/* Bytes written out and bytes dropped so far (any thread). */
void outbuf_counts(struct outbuf *b, uint64_t *written, uint64_t *dropped);

#endif
