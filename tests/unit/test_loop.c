// SPDX-License-Identifier: MIT
/* The event loop's POLLOUT watches and loop_rewatch(), on io_uring and on
 * the epoll fallback (the iSCSI backend relies on both); pollers and their
 * idle callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <liburing.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hearth/loop.h"

/* io_uring_submit is wrapped (meson.build): refusing it, as the kernel
 * does while completions overflow, leaves the loop no free SQE. */
static bool refuse_submit;
int __real_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring)
{
	return refuse_submit ? -EBUSY : __real_io_uring_submit(ring);
}

struct seen {
	struct loop *l;
	uint32_t events;
	unsigned calls;
};

static void on_event(void *opaque, uint32_t events)
{
	struct seen *s = opaque;

	s->events |= events;
	s->calls++;
	loop_quit(s->l);
}

static void run(int force_epoll)
{
	struct seen s = { 0 };
	int a[2], b[2], id;
	char c = 'x';

	assert_int_equal(loop_create(&s.l, force_epoll), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	/* a writable socket reports POLLOUT, not POLLIN */
	id = loop_watch_events(s.l, a[0], POLLOUT, on_event, &s);
	assert_true(id >= 0);
	assert_int_equal(loop_run(s.l), 0);
	assert_true(s.events & POLLOUT);
	assert_false(s.events & POLLIN);
	/* the same watch, now for input only: nothing until the peer writes */
	s.events = 0;
	assert_int_equal(loop_rewatch(s.l, id, a[0], POLLIN, false), 0);
	assert_int_equal(write(a[1], &c, 1), 1);
	assert_int_equal(loop_run(s.l), 0);
	assert_int_equal(s.events & (POLLIN | POLLOUT), POLLIN);
	assert_int_equal(read(a[0], &c, 1), 1);
	/* another descriptor under the same number (a reconnect's dup2): a
	 * forced re-arm follows the new socket */
	assert_int_equal(dup2(b[0], a[0]), a[0]);
	s.events = 0;
	assert_int_equal(loop_rewatch(s.l, id, a[0], POLLIN, true), 0);
	assert_int_equal(write(b[1], &c, 1), 1);
	assert_int_equal(loop_run(s.l), 0);
	assert_true(s.events & POLLIN);
	/* another descriptor altogether */
	s.events = 0;
	assert_int_equal(loop_rewatch(s.l, id, a[1], POLLOUT, false), 0);
	assert_int_equal(loop_run(s.l), 0);
	assert_true(s.events & POLLOUT);
	assert_int_equal(loop_unwatch(s.l, id), 0);
	assert_int_equal(loop_rewatch(s.l, id, a[1], POLLIN, false), -ENOENT);
	assert_int_equal(loop_rewatch(s.l, -1, a[1], POLLIN, false), -ENOENT);
	assert_int_equal(loop_rewatch(s.l, 1 << 20, a[1], POLLIN, false), -ENOENT);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	loop_destroy(s.l);
}

static void uring(void **state)
{
	(void)state;
	run(0);
}

static void epoll_fallback(void **state)
{
	(void)state;
	run(1);
}

/* A device that finds work @work times while polled, then nothing; its
 * idle callback finds work @idle_work times, then stops the loop. */
struct dev {
	struct loop *l;
	int wake;
	unsigned work, idle_work, polls, idles, polls_at_idle;
};

static bool dev_poll(void *opaque)
{
	struct dev *d = opaque;

	d->polls++;
	if (!d->work)
		return false;
	d->work--;
	return true;
}

static bool dev_idle(void *opaque)
{
	struct dev *d = opaque;

	d->idles++;
	d->polls_at_idle = d->polls;
	if (d->idle_work) {
		d->idle_work--;
		d->work = 2; /* as if a last look found the driver's buffers */
		return true;
	}
	loop_quit(d->l);
	eventfd_write(d->wake, 1); /* the loop is about to sleep: wake it to quit */
	return false;
}

static void nop(void *opaque, uint32_t events)
{
	(void)opaque, (void)events;
}

static void pollers(void **state)
{
	struct dev d = { .work = 5, .idle_work = 2 };

	(void)state;
	assert_int_equal(loop_create(&d.l, 0), 0);
	if (!loop_ring(d.l)) {
		loop_destroy(d.l);
		skip(); /* io_uring disabled here: pollers need it */
	}
	d.wake = eventfd(0, EFD_NONBLOCK);
	assert_true(loop_watch(d.l, d.wake, nop, NULL) >= 0);
	assert_int_equal(loop_add_poller(d.l, dev_poll, dev_idle, &d), 0);
	assert_false(loop_polls(d.l)); /* no budget: no polling */
	loop_set_poll_ns(d.l, 1000);
	assert_true(loop_polls(d.l));
	assert_int_equal(loop_run(d.l), 0);
	/* idle only once the pollers found nothing: after the 5 polls with
	 * work, after the 2 that each idle call's work brought, and at last */
	assert_int_equal(d.idles, 3);
	assert_int_equal(d.work, 0);
	assert_true(d.polls_at_idle >= 5 + 2 + 2 + 1);
	close(d.wake);
	loop_destroy(d.l);
	/* the epoll fallback never polls */
	assert_int_equal(loop_create(&d.l, 1), 0);
	loop_set_poll_ns(d.l, 1000);
	assert_false(loop_polls(d.l));
	loop_destroy(d.l);
}

/* Takes every free SQE of the loop's ring (no-ops) and refuses submits. */
static void fill_ring(struct loop *l)
{
	struct io_uring *r = loop_ring(l);
	struct io_uring_sqe *sqe;

	while ((sqe = io_uring_get_sqe(r))) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, UINT64_MAX);
	}
	refuse_submit = true;
}

/* A watch made, or a poll to end, when no SQE is free is armed or ended on
 * the next turn, not lost (an API listener re-armed then would never
 * answer again). */
static void no_free_sqe(void **state)
{
	struct seen s = { 0 };
	int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK), ida, idb;
	uint64_t one = 1;

	(void)state;
	assert_int_equal(loop_create(&s.l, 0), 0);
	if (!loop_ring(s.l)) { /* no io_uring here: the epoll loop has no SQEs */
		loop_destroy(s.l);
		close(a);
		close(b);
		skip();
	}
	fill_ring(s.l);
	ida = loop_watch(s.l, a, on_event, &s);
	refuse_submit = false;
	assert_true(ida >= 0);
	assert_int_equal(write(a, &one, 8), 8);
	assert_int_equal(loop_run(s.l), 0);
	assert_int_equal(s.calls, 1);
	/* unwatched with no SQE free: its poll ends on the next turn, and its
	 * events reach no one */
	fill_ring(s.l);
	assert_int_equal(loop_unwatch(s.l, ida), 0);
	idb = loop_watch(s.l, b, on_event, &s);
	refuse_submit = false;
	assert_true(idb >= 0);
	assert_int_equal(write(a, &one, 8), 8);
	assert_int_equal(write(b, &one, 8), 8);
	s.events = 0;
	assert_int_equal(loop_run(s.l), 0);
	assert_int_equal(s.calls, 2);
	close(a);
	close(b);
	loop_destroy(s.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uring),
		cmocka_unit_test(no_free_sqe),
		cmocka_unit_test(epoll_fallback),
		cmocka_unit_test(pollers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
