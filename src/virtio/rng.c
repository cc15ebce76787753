// SPDX-License-Identifier: MIT
/* virtio-rng (virtio 1.2, 5.4): fills each writable buffer from getrandom(). */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>

#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/state.h"
#include "hearth/virtio.h"

static struct log_ratelimit guest_rl;

#define RNG_MAX_PER_REQUEST 65536

struct virtio_rng {
	const struct guest_mem *gm;
	const struct virtio_transport *t;
	struct vq *vq;
	struct vq_elem elem;
	struct loop *loop; /* takes the work left at the budget (or NULL) */
	int work;
	_Atomic uint64_t requests, bytes, errors; /* virtio_rng_counts() */
};

static uint64_t rng_features(void *dev)
{
	(void)dev;
	return 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX |
	       1ULL << VIRTIO_F_INDIRECT_DESC;
}

static void rng_start(void *dev, uint64_t features, struct vq *vqs)
{
	struct virtio_rng *r = dev;

	(void)features;
	r->vq = &vqs[0];
}

static void rng_reset(void *dev)
{
	((struct virtio_rng *)dev)->vq = NULL;
}

/* Serves at most one queue's worth of requests (the work budget,
 * docs/virtio.md); what is left waits for the loop's next turn. */
static void rng_run(struct virtio_rng *r)
{
	unsigned budget = r->vq->size;
	bool pushed = false;
	int ret = 0;

	while (budget && (ret = vq_pop(r->vq, r->gm, &r->elem)) != 0) {
		uint32_t filled = 0;

		if (ret < 0) {
			log_guest(&guest_rl,
				  "virtio-rng: the driver broke the queue: device needs reset");
			r->t->needs_reset(r->t->opaque);
			break;
		}
		for (unsigned i = r->elem.n_out; i < r->elem.n_out + r->elem.n_in; i++) {
			size_t want = r->elem.iov[i].iov_len;
			ssize_t got;

			if (want > RNG_MAX_PER_REQUEST - filled)
				want = RNG_MAX_PER_REQUEST - filled;
			got = want ? getrandom(r->elem.iov[i].iov_base, want, 0) : 0;
			if (got <= 0)
				break;
			filled += (uint32_t)got;
		}
		vq_push(r->vq, r->elem.head, filled);
		pushed = true;
		atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&r->bytes, filled, memory_order_relaxed);
		if (filled == 0 && r->elem.n_in)
			atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
		budget--;
	}
	if (!budget && r->loop)
		loop_defer(r->loop, r->work);
	if (pushed && vq_should_notify(r->vq))
		r->t->notify(r->t->opaque, 0);
}

static void rng_kick(void *dev, unsigned q)
{
	struct virtio_rng *r = dev;

	if (q == 0 && r->vq)
		rng_run(r);
}

/* The loop's next turn after a budget ran out. */
static void rng_more(void *opaque)
{
	struct virtio_rng *r = opaque;

	r->t->lock(r->t->opaque);
	if (r->vq)
		rng_run(r);
	r->t->unlock(r->t->opaque);
}

int virtio_rng_set_loop(struct virtio_rng *r, struct loop *l)
{
	int id = loop_add_work(l, rng_more, r);

	if (id < 0)
		return id;
	r->loop = l;
	r->work = id;
	return 0;
}

struct virtio_rng *virtio_rng_create(const struct guest_mem *gm, const struct virtio_transport *t)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));

	if (r) {
		r->gm = gm;
		r->t = t;
	}
	return r;
}

void virtio_rng_counts(const struct virtio_rng *r, struct virtio_counts *out)
{
	out->requests = atomic_load_explicit(&r->requests, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&r->bytes, memory_order_relaxed);
	out->errors = atomic_load_explicit(&r->errors, memory_order_relaxed);
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	free(r);
}

/* State (docs/state.md): nothing but its queue, which the transport saves,
 * and requests are served whole within a kick, so none is in flight: the
 * record is empty, there so that a record of another device is refused. */
static int rng_save(void *dev, struct state_writer *w)
{
	(void)dev;
	state_begin(w, STATE_KIND_VIRTIO_RNG, 1);
	state_end(w);
	return w->err;
}

static int rng_restore(void *dev, struct state_reader *rd)
{
	(void)dev;
	state_enter(rd, STATE_KIND_VIRTIO_RNG, 1, NULL);
	return state_leave(rd);
}

const struct virtio_dev_ops virtio_rng_ops = {
	.device_id = 4,
	.pci_class = 0xff0000,
	.num_queues = 1,
	.queue_max = VQ_MAX_SIZE,
	.features = rng_features,
	.start = rng_start,
	.kick = rng_kick,
	.reset = rng_reset,
	.save = rng_save,
	.restore = rng_restore,
};
