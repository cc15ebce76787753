/* SPDX-License-Identifier: MIT */
/*
 * io_uring rings locked down (docs/security.md): seccomp cannot see what a
 * ring's requests do (a ring can open, read and connect on its own), so
 * every ring hearth creates starts disabled (IORING_SETUP_R_DISABLED), is
 * given its registered files and eventfd, is restricted to the opcodes and
 * SQE flags it uses (IORING_REGISTER_RESTRICTIONS, no register operation
 * at all afterwards), and only then enabled. New rings cannot be made once
 * the seccomp filters are in place: io_uring_setup is on no list.
 */
#ifndef HEARTH_URING_H
#define HEARTH_URING_H

#include <liburing.h>
#include <stdint.h>

/* Creates @ring with @entries, @p's flags (@p may be NULL) plus
 * IORING_SETUP_R_DISABLED: it accepts registrations, but no request runs
 * before uring_lock(). Returns 0 or -errno (nothing to free). */
int uring_init_disabled(struct io_uring *ring, unsigned entries, struct io_uring_params *p);

/* Restricts the disabled @ring to the @nops opcodes of @ops, SQEs whose
 * flags are within @flags_allowed | @flags_required and hold all of
 * @flags_required (IOSQE_FIXED_FILE: registered files only), and no
 * register operation; then enables it. Returns 0 or -errno (the ring is
 * then still disabled: the caller exits it). */
int uring_lock(struct io_uring *ring, const uint8_t *ops, unsigned nops, uint8_t flags_allowed,
	       uint8_t flags_required);

/* From now on, uring_lock() also caps io_uring's workers for the calling
 * thread's requests, on every ring, at @bounded for work on regular files
 * and block devices and @unbounded for the rest
 * (IORING_REGISTER_IOWQ_MAX_WORKERS, Linux 5.15; per NUMA node before
 * 6.4); a kernel that cannot fails the lock. Workers are tasks: the cap
 * keeps them within a pids.max (--jail-pids, docs/security.md). */
void uring_cap_workers(unsigned bounded, unsigned unbounded);

#endif
