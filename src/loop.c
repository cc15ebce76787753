// SPDX-License-Identifier: MIT
#include "hearth/loop.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "hearth/log.h"
#include "hearth/sandbox.h"
#include "hearth/uring.h"

#define LOOP_MAX_WATCHES 128 /* 16 disks x 2 + 8 NICs x 3 + the VM's own fill 64 */
#define RING_ENTRIES	 64
/* Completions the kernel can hold between two turns: multishot polls post
 * one per wake-up, and end (to be re-armed) when this overflows. */
#define CQ_ENTRIES 1024
/* user_data encodes the slot and a generation, so a CQE for a slot that was
 * unwatched and reused is recognised as stale. */
#define UD(slot, gen) (((uint64_t)(gen) << 32) | (slot))

struct watch {
	int fd;
	uint32_t events; /* POLLIN and/or POLLOUT */
	loop_cb cb;
	void *opaque;
	uint32_t gen;
	bool used;
	bool rearm; /* no SQE was free to arm it: armed on the next turn */
};

#define LOOP_MAX_POLLERS 32

struct poller {
	loop_poll_cb cb, idle;
	void *opaque;
};

#define LOOP_MAX_WORK 32 /* 16 disks + 8 NICs + the rng */

struct work {
	loop_work_cb cb;
	void *opaque;
	bool pending;
};

struct loop {
	struct io_uring ring;
	struct work work[LOOP_MAX_WORK];
	unsigned nwork, npending;
	struct poller pollers[LOOP_MAX_POLLERS];
	unsigned npollers;
	uint64_t poll_ns;
	bool uring;
	int epfd;
	bool quit;
	struct watch w[LOOP_MAX_WATCHES];
	/* polls to remove, and watches to arm, that found no free SQE: retried
	 * at the top of every turn, after the last turn's completions freed
	 * the queues */
	uint64_t removes[2 * LOOP_MAX_WATCHES];
	unsigned nremoves, nrearm;
};

int loop_create(struct loop **out, int force_epoll)
{
	struct loop *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->epfd = -1;
	if (!force_epoll) {
		struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE,
					     .cq_entries = CQ_ENTRIES };

		/* polls only, and their removal: nothing the ring could open,
		 * read or write (uring.h) */
		static const uint8_t ops[] = { IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE };

		ret = uring_init_disabled(&l->ring, RING_ENTRIES, &p);
		if (ret == 0) {
			ret = uring_lock(&l->ring, ops, sizeof(ops), 0, 0);
			if (ret)
				io_uring_queue_exit(&l->ring);
		}
		l->uring = ret == 0;
		if (ret)
			log_info("io_uring unavailable (%s): event loop falls back to epoll",
				 strerror(-ret));
	}
	if (!l->uring) {
		sandbox_need(SANDBOX_NEED_EPOLL);
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (l->epfd < 0) {
			ret = -errno;
			free(l);
			return ret;
		}
	}
	*out = l;
	return 0;
}

void loop_destroy(struct loop *l)
{
	if (!l)
		return;
	if (l->uring)
		io_uring_queue_exit(&l->ring);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}

const char *loop_backend(const struct loop *l)
{
	return l->uring ? "io_uring" : "epoll";
}

struct io_uring *loop_ring(struct loop *l)
{
	return l->uring ? &l->ring : NULL;
}

static struct io_uring_sqe *get_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

/* Arms @slot's poll now, or on the next turn when no SQE is free (the
 * submission queue full and the kernel refusing more while completions
 * overflow): a watch is never left unarmed for good. */
static void arm(struct loop *l, int slot)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	struct watch *w = &l->w[slot];

	if (!sqe) {
		if (!w->rearm) {
			w->rearm = true;
			l->nrearm++;
		}
		return;
	}
	if (w->rearm) {
		w->rearm = false;
		l->nrearm--;
	}
	io_uring_prep_poll_multishot(sqe, w->fd, w->events);
	io_uring_sqe_set_data64(sqe, UD(slot, w->gen));
}

/* Ends the poll of @slot's current generation, now or on the next turn. A
 * watch still waiting to be armed has no poll to end. */
static void disarm(struct loop *l, int slot)
{
	struct watch *w = &l->w[slot];
	struct io_uring_sqe *sqe;

	if (w->rearm) {
		w->rearm = false;
		l->nrearm--;
		return;
	}
	sqe = get_sqe(l);
	if (sqe) {
		io_uring_prep_poll_remove(sqe, UD(slot, w->gen));
		io_uring_sqe_set_data64(sqe, UINT64_MAX);
	} else if (l->nremoves < sizeof(l->removes) / sizeof(l->removes[0])) {
		l->removes[l->nremoves++] = UD(slot, w->gen);
	} else {
		/* the poll then lasts until its file is closed and the loop ends;
		 * its completions are stale (an old generation) and ignored */
		log_warn("event loop: cannot cancel the poll on fd %d", w->fd);
	}
}

static void retry_pending(struct loop *l)
{
	while (l->nremoves) {
		struct io_uring_sqe *sqe = get_sqe(l);

		if (!sqe)
			return;
		io_uring_prep_poll_remove(sqe, l->removes[--l->nremoves]);
		io_uring_sqe_set_data64(sqe, UINT64_MAX);
	}
	for (int i = 0; i < LOOP_MAX_WATCHES && l->nrearm; i++)
		if (l->w[i].used && l->w[i].rearm)
			arm(l, i);
}

static uint32_t to_epoll(uint32_t events)
{
	return (events & POLLIN ? EPOLLIN : 0) | (events & POLLOUT ? EPOLLOUT : 0);
}

int loop_watch(struct loop *l, int fd, loop_cb cb, void *opaque)
{
	return loop_watch_events(l, fd, POLLIN, cb, opaque);
}

int loop_watch_events(struct loop *l, int fd, uint32_t events, loop_cb cb, void *opaque)
{
	int slot, ret;

	for (slot = 0; slot < LOOP_MAX_WATCHES && l->w[slot].used; slot++)
		;
	if (slot == LOOP_MAX_WATCHES)
		return -ENOSPC;
	events &= POLLIN | POLLOUT;
	l->w[slot] = (struct watch){ fd, events, cb, opaque, l->w[slot].gen + 1, true, false };
	if (l->uring) {
		arm(l, slot);
		ret = 0;
	} else {
		struct epoll_event ev = { .events = to_epoll(events), .data.u64 = (uint64_t)slot };

		ret = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
	}
	if (ret) {
		l->w[slot].used = false;
		return ret;
	}
	return slot;
}

int loop_unwatch(struct loop *l, int id)
{
	struct watch *w;

	if (id < 0 || id >= LOOP_MAX_WATCHES || !l->w[id].used)
		return -ENOENT;
	w = &l->w[id];
	w->used = false;
	if (l->uring) {
		disarm(l, id);
	} else {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	}
	return 0;
}

int loop_rewatch(struct loop *l, int id, int fd, uint32_t events, bool force)
{
	struct watch *w;

	if (id < 0 || id >= LOOP_MAX_WATCHES || !l->w[id].used)
		return -ENOENT;
	w = &l->w[id];
	events &= POLLIN | POLLOUT;
	if (w->fd == fd && w->events == events && !force)
		return 0;
	if (l->uring) {
		disarm(l, id);
		/* a new generation: CQEs of the old poll are recognised as stale */
		w->gen++;
		w->fd = fd;
		w->events = events;
		arm(l, id);
		return 0;
	}
	{
		struct epoll_event ev = { .events = to_epoll(events), .data.u64 = (uint64_t)id };

		if (w->fd != fd) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
			if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
				int ret = -errno;

				w->used = false;
				return ret;
			}
		} else if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) &&
			   (errno != ENOENT || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev))) {
			/* ENOENT: the descriptor was closed and reused (dup2) since */
			int ret = -errno;

			w->used = false;
			return ret;
		}
		w->fd = fd;
		w->events = events;
	}
	return 0;
}

int loop_add_poller(struct loop *l, loop_poll_cb cb, loop_poll_cb idle, void *opaque)
{
	if (l->npollers == LOOP_MAX_POLLERS)
		return -ENOSPC;
	l->pollers[l->npollers++] = (struct poller){ cb, idle, opaque };
	return 0;
}

void loop_set_poll_ns(struct loop *l, uint64_t ns)
{
	l->poll_ns = ns;
}

bool loop_polls(const struct loop *l)
{
	return l->uring && l->poll_ns;
}

int loop_add_work(struct loop *l, loop_work_cb cb, void *opaque)
{
	if (l->nwork == LOOP_MAX_WORK)
		return -ENOSPC;
	l->work[l->nwork] = (struct work){ cb, opaque, false };
	return (int)l->nwork++;
}

void loop_defer(struct loop *l, int id)
{
	if (id < 0 || (unsigned)id >= l->nwork || l->work[id].pending)
		return;
	l->work[id].pending = true;
	l->npending++;
}

bool loop_has_deferred(const struct loop *l)
{
	return l->npending != 0;
}

/* One turn's deferred work: what was pending when the turn began runs once;
 * what it defers again waits for the next turn, after the next events. */
static void run_work(struct loop *l)
{
	bool due[LOOP_MAX_WORK];

	if (!l->npending)
		return;
	for (unsigned i = 0; i < l->nwork; i++) {
		due[i] = l->work[i].pending;
		l->work[i].pending = false;
	}
	l->npending = 0;
	for (unsigned i = 0; i < l->nwork && !l->quit; i++)
		if (due[i])
			l->work[i].cb(l->work[i].opaque);
}

/* The idle callbacks: whether any found work. */
static bool pollers_idle(struct loop *l)
{
	bool work = false;

	for (unsigned i = 0; i < l->npollers; i++)
		if (l->pollers[i].idle)
			work |= l->pollers[i].idle(l->pollers[i].opaque);
	return work;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Runs the pollers until the budget passes without work (and the idle
 * callbacks find none either) or an event is ready for the ring. */
static void poll_for_work(struct loop *l)
{
	uint64_t since = now_ns();

	while (!l->quit && !io_uring_cq_ready(&l->ring)) {
		bool work = false;

		for (unsigned i = 0; i < l->npollers; i++)
			work |= l->pollers[i].cb(l->pollers[i].opaque);
		if (work)
			since = now_ns();
		else if (now_ns() - since > l->poll_ns) {
			if (!pollers_idle(l))
				break;
			since = now_ns();
		}
	}
}

void loop_quit(struct loop *l)
{
	l->quit = true;
}

static void dispatch_cqe(struct loop *l, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	uint32_t slot = (uint32_t)ud, gen = (uint32_t)(ud >> 32);
	struct watch *w;

	if (ud == UINT64_MAX || slot >= LOOP_MAX_WATCHES)
		return;
	w = &l->w[slot];
	if (!w->used || w->gen != gen)
		return; /* stale: unwatched since */
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED)
			log_warn("poll on fd %d failed: %s", w->fd, strerror(-cqe->res));
	} else {
		w->cb(w->opaque, (uint32_t)cqe->res);
	}
	/* Multishot polls end on errors and overflow: re-arm if still wanted. */
	if (!(cqe->flags & IORING_CQE_F_MORE) && w->used && w->gen == gen)
		arm(l, (int)slot);
}

static int run_uring(struct loop *l)
{
	while (!l->quit) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int ret;

		/* with work deferred, collect the events ready without sleeping
		 * (entering the kernel, so completions it has not posted yet are) */
		bool busy;

		retry_pending(l);
		/* nor while a watch waits to be armed or a poll to be removed */
		busy = l->npending || l->nrearm || l->nremoves;
		if (!busy && l->npollers && l->poll_ns) {
			io_uring_submit(&l->ring); /* new watches first: pollers spin */
			poll_for_work(l);
		}
		ret = busy ? io_uring_submit_and_get_events(&l->ring)
			   : io_uring_submit_and_wait(&l->ring, 1);

		/* EBUSY: completions overflowed; reaping them below makes room */
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return ret;
		io_uring_for_each_cqe(&l->ring, head, cqe)
		{
			dispatch_cqe(l, cqe);
			seen++;
		}
		io_uring_cq_advance(&l->ring, seen);
		run_work(l);
	}
	return 0;
}

static int run_epoll(struct loop *l)
{
	while (!l->quit) {
		struct epoll_event ev[16];
		int n = epoll_wait(l->epfd, ev, 16, l->npending ? 0 : -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n && !l->quit; i++) {
			struct watch *w = &l->w[ev[i].data.u64];
			uint32_t e = (ev[i].events & EPOLLIN ? POLLIN : 0) |
				     (ev[i].events & EPOLLOUT ? POLLOUT : 0) |
				     (ev[i].events & EPOLLHUP ? POLLHUP : 0) |
				     (ev[i].events & EPOLLERR ? POLLERR : 0);

			if (w->used)
				w->cb(w->opaque, e);
		}
		run_work(l);
	}
	return 0;
}

int loop_run(struct loop *l)
{
	l->quit = false;
	return l->uring ? run_uring(l) : run_epoll(l);
}
