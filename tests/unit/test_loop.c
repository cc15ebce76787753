// SPDX-License-Identifier: MIT
/* The event loop's POLLOUT watches and loop_rewatch(), on io_uring and on
 * the epoll fallback (the iSCSI backend relies on both). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hearth/loop.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uring),
		cmocka_unit_test(epoll_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
