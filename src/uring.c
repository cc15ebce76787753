// SPDX-License-Identifier: MIT
/* io_uring rings created disabled, restricted, then enabled (uring.h). */
#include "hearth/uring.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RULES 16

/* uring_cap_workers(): bounded, unbounded; 0: no cap */
static unsigned cap[2];

/* io_uring_register(2) itself: liburing 2.3's shared library (Debian 12)
 * does not export io_uring_register_restrictions() nor
 * io_uring_enable_rings(), only its static archive does. */
static int reg(struct io_uring *ring, unsigned op, void *arg, unsigned n)
{
	return syscall(SYS_io_uring_register, ring->ring_fd, op, arg, n) < 0 ? -errno : 0;
}

int uring_init_disabled(struct io_uring *ring, unsigned entries, struct io_uring_params *p)
{
	struct io_uring_params none;

	if (!p) {
		memset(&none, 0, sizeof(none));
		p = &none;
	}
	p->flags |= IORING_SETUP_R_DISABLED;
	return io_uring_queue_init_params(entries, ring, p);
}

void uring_cap_workers(unsigned bounded, unsigned unbounded)
{
	cap[0] = bounded;
	cap[1] = unbounded;
}

int uring_lock(struct io_uring *ring, const uint8_t *ops, unsigned nops, uint8_t flags_allowed,
	       uint8_t flags_required)
{
	struct io_uring_restriction r[MAX_RULES + 2];
	unsigned n = 0, workers[2] = { cap[0], cap[1] };
	int ret;

	if (nops > MAX_RULES)
		return -EINVAL;
	/* before the restrictions, which refuse every registration: the
	 * kernel keeps the cap with the ring and applies it to the io-wq of
	 * each thread that submits to it (hearth's I/O thread: one io-wq for
	 * all its rings) */
	if (cap[0] && (ret = reg(ring, IORING_REGISTER_IOWQ_MAX_WORKERS, workers, 2)))
		return ret;
	memset(r, 0, sizeof(r));
	for (unsigned i = 0; i < nops; i++) {
		r[n].opcode = IORING_RESTRICTION_SQE_OP;
		r[n++].sqe_op = ops[i];
	}
	if (flags_allowed) {
		r[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
		r[n++].sqe_flags = flags_allowed;
	}
	if (flags_required) {
		r[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
		r[n++].sqe_flags = flags_required;
	}
	/* no IORING_RESTRICTION_REGISTER_OP: once enabled, the ring takes
	 * no registration (files, buffers, eventfds, personalities) at all */
	ret = reg(ring, IORING_REGISTER_RESTRICTIONS, r, n);
	return ret ? ret : reg(ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}
