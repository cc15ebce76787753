// SPDX-License-Identifier: MIT
/* A bounded buffer: many writers that never wait, one drainer (outbuf.h). */
#include "hearth/outbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int outbuf_init(struct outbuf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	if (cap == 0)
		return -EINVAL;
	b->data = malloc(cap);
	if (!b->data)
		return -ENOMEM;
	b->cap = cap;
	pthread_mutex_init(&b->lock, NULL);
	return 0;
}

void outbuf_destroy(struct outbuf *b)
{
	if (!b->data)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->data);
	b->data = NULL;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

bool outbuf_put(struct outbuf *b, const void *p, size_t n)
{
	const unsigned char *src = p;
	bool wake = false;
	size_t take, tail, first;

	pthread_mutex_lock(&b->lock);
	take = min_size(n, b->cap - b->len);
	tail = (b->head + b->len) % b->cap;
	first = min_size(take, b->cap - tail);
	memcpy(b->data + tail, src, first);
	memcpy(b->data, src + first, take - first);
	b->len += take;
	if (take && !b->armed) {
		b->armed = true;
		wake = true;
	}
	if (take < n) {
		b->dropped += n - take;
		if (!b->dropping) {
			b->dropping = true;
			wake = true;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return wake;
}

/* Called with the lock held: the buffer is empty, back to its start. */
static void ran_dry(struct outbuf *b)
{
	b->head = 0;
	b->len = 0;
	b->armed = false;
	b->dropping = false;
}

size_t outbuf_discard(struct outbuf *b)
{
	size_t n;

	pthread_mutex_lock(&b->lock);
	n = b->len;
	b->dropped += n;
	ran_dry(b);
	pthread_mutex_unlock(&b->lock);
	return n;
}

int outbuf_drain(struct outbuf *b, outbuf_write_fn wr, void *arg, size_t budget)
{
	size_t done = 0;

	for (;;) {
		const unsigned char *p;
		size_t chunk;
		ssize_t r;

		pthread_mutex_lock(&b->lock);
		if (b->len == 0) {
			ran_dry(b);
			pthread_mutex_unlock(&b->lock);
			return OUTBUF_EMPTY;
		}
		if (done >= budget) {
			pthread_mutex_unlock(&b->lock);
			return OUTBUF_MORE;
		}
		p = b->data + b->head;
		chunk = min_size(min_size(b->len, b->cap - b->head), budget - done);
		pthread_mutex_unlock(&b->lock);

		/* no lock held: writers only touch free space, not [p, p + chunk) */
		r = wr(arg, p, chunk);
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN)
			return OUTBUF_BLOCKED;
		if (r == 0 || r > (ssize_t)chunk)
			r = -EIO;
		if (r < 0) {
			outbuf_discard(b);
			return (int)r;
		}
		pthread_mutex_lock(&b->lock);
		b->head = (b->head + (size_t)r) % b->cap;
		b->len -= (size_t)r;
		b->written += (uint64_t)r;
		pthread_mutex_unlock(&b->lock);
		done += (size_t)r;
	}
}

void outbuf_counts(struct outbuf *b, uint64_t *written, uint64_t *dropped)
{
	pthread_mutex_lock(&b->lock);
	*written = b->written;
	*dropped = b->dropped;
	pthread_mutex_unlock(&b->lock);
}
