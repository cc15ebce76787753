// SPDX-License-Identifier: MIT
/*
 * Locked-down io_uring rings (src/uring.c, docs/security.md): a ring
 * restricted to some opcodes refuses another with EACCES, one that
 * requires IOSQE_FIXED_FILE refuses a request on a plain descriptor, a
 * restricted ring takes no new registration, and a ring created disabled
 * runs nothing before it is enabled. Skips (77) where io_uring is off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hearth/uring.h"

static int pipe_fds[2];

/* A disabled ring, or a skip where io_uring is unavailable. */
static void ring_or_skip(struct io_uring *ring)
{
	int ret = uring_init_disabled(ring, 8, NULL);

	if (ret == -ENOSYS || ret == -EPERM || ret == -EACCES)
		skip();
	assert_int_equal(ret, 0);
}

/* Submits @sqe's request and returns its completion's result. */
static int result_of(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int res;

	assert_int_equal(io_uring_submit(ring), 1);
	assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static int readv_one(struct io_uring *ring, int fd, bool fixed)
{
	static char buf[8];
	static struct iovec iov = { buf, sizeof(buf) };
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	assert_int_equal(write(pipe_fds[1], "x", 1), 1);
	io_uring_prep_readv(sqe, fd, &iov, 1, 0);
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	return result_of(ring);
}

static void refuses_unlisted_opcode(void **state)
{
	static const uint8_t ops[] = { IORING_OP_READV };
	struct io_uring ring;

	(void)state;
	ring_or_skip(&ring);
	assert_int_equal(uring_lock(&ring, ops, sizeof(ops), 0, 0), 0);
	assert_int_equal(readv_one(&ring, pipe_fds[0], false), 1);
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	assert_int_equal(result_of(&ring), -EACCES);
	/* a write is not a read */
	io_uring_prep_write(io_uring_get_sqe(&ring), pipe_fds[1], "y", 1, 0);
	assert_int_equal(result_of(&ring), -EACCES);
	io_uring_queue_exit(&ring);
}

static void fixed_files_only(void **state)
{
	static const uint8_t ops[] = { IORING_OP_READV };
	struct io_uring ring;

	(void)state;
	ring_or_skip(&ring);
	assert_int_equal(io_uring_register_files(&ring, &pipe_fds[0], 1), 0);
	assert_int_equal(uring_lock(&ring, ops, sizeof(ops), 0, IOSQE_FIXED_FILE), 0);
	assert_int_equal(readv_one(&ring, 0, true), 1);
	assert_int_equal(readv_one(&ring, pipe_fds[0], false), -EACCES);
	/* drain the byte the refused read left */
	char c;
	assert_int_equal(read(pipe_fds[0], &c, 1), 1);
	/* nor may it be given another file now */
	assert_int_equal(io_uring_register_files_update(&ring, 0, &pipe_fds[1], 1), -EACCES);
	io_uring_queue_exit(&ring);
}

static void disabled_until_locked(void **state)
{
	struct io_uring ring;

	(void)state;
	ring_or_skip(&ring);
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	assert_int_equal(io_uring_submit(&ring), -EBADFD);
	io_uring_queue_exit(&ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refuses_unlisted_opcode),
		cmocka_unit_test(fixed_files_only),
		cmocka_unit_test(disabled_until_locked),
	};

	if (pipe2(pipe_fds, O_NONBLOCK))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
