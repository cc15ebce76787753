/* SPDX-License-Identifier: MIT */
/*
 * tests/host/harness.h: what the programs that run a hearth device without
 * a guest (tap_dev, blk_dev) share: guest-like memory, a transport whose
 * lock is a mutex and whose interrupts the polling driver does without,
 * and hearth's I/O loop on a thread of its own. Each program is one file,
 * so this header holds definitions.
 */
#ifndef HEARTH_TESTS_HOST_HARNESS_H
#define HEARTH_TESTS_HOST_HARNESS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "hearth/loop.h"
#include "hearth/mem.h"
#include "hearth/virtio.h"

static const char *harness_name = "harness"; /* for messages */
static struct guest_mem gm;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the transport's */
static struct loop *lp;
static int stop_fd = -1;
static void (*harness_io_started)(void); /* runs first on the I/O thread, if set */

/* Guest memory at @gpa for @len bytes; exits if outside. */
static inline uint8_t *at(uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(&gm, gpa, len);

	if (!p) {
		fprintf(stderr, "%s: 0x%llx outside memory\n", harness_name,
			(unsigned long long)gpa);
		exit(2);
	}
	return p;
}

static inline void t_notify(void *o, int q)
{
	(void)o, (void)q; /* the driver polls */
}
static inline void t_needs_reset(void *o)
{
	(void)o;
	fprintf(stderr, "%s: the device wants a reset\n", harness_name);
	exit(1);
}
static inline void t_lock(void *o)
{
	(void)o;
	pthread_mutex_lock(&lock);
}
static inline void t_unlock(void *o)
{
	(void)o;
	pthread_mutex_unlock(&lock);
}
static const struct virtio_transport tr = { t_notify, t_needs_reset, t_lock, t_unlock, NULL };

static inline void on_stop(void *o, uint32_t events)
{
	(void)o, (void)events;
	loop_quit(lp);
}

/* Creates the loop (io_uring), with a poll budget of @poll_ns and a way to
 * stop it (harness_stop); exits on failure. */
static inline void harness_loop(uint64_t poll_ns)
{
	stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (stop_fd < 0 || loop_create(&lp, 0) || loop_watch(lp, stop_fd, on_stop, NULL) < 0) {
		fprintf(stderr, "%s: no event loop\n", harness_name);
		exit(1);
	}
	loop_set_poll_ns(lp, poll_ns);
}

static inline void *harness_io(void *arg)
{
	(void)arg;
	if (harness_io_started)
		harness_io_started();
	if (loop_run(lp))
		fprintf(stderr, "%s: loop failed\n", harness_name);
	return NULL;
}

/* Runs the loop on a thread of its own until harness_stop. */
static inline pthread_t harness_run(void)
{
	pthread_t t;

	pthread_create(&t, NULL, harness_io, NULL);
	return t;
}

static inline void harness_stop(pthread_t t)
{
	eventfd_write(stop_fd, 1);
	pthread_join(t, NULL);
}

#endif
