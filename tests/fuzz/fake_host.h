// SPDX-License-Identifier: MIT
/*
 * The host side of the virtio-pci transport for the harnesses that drive a
 * device through it: every call succeeds, and the queue-kick watch is kept
 * (kick_cb, kick_arg) so the harness can ring it.
 */
#ifndef HEARTH_FUZZ_FAKE_HOST_H
#define HEARTH_FUZZ_FAKE_HOST_H

#include <stdint.h>

static void (*kick_cb)(void *, uint32_t);
static void *kick_arg;

static int ok_ioeventfd(void *o, uint64_t a, unsigned l, int fd)
{
	(void)o, (void)a, (void)l, (void)fd;
	return 0;
}
static int ok_irqfd(void *o, unsigned g, int fd)
{
	(void)o, (void)g, (void)fd;
	return 0;
}
static int ok_route(void *o, unsigned g, uint64_t a, uint32_t d)
{
	(void)o, (void)g, (void)a, (void)d;
	return 0;
}
static int ok_intx(void *o, unsigned g, int l)
{
	(void)o, (void)g, (void)l;
	return 0;
}
static int ok_watch(void *o, int fd, void (*cb)(void *, uint32_t), void *arg)
{
	(void)o, (void)fd;
	kick_cb = cb;
	kick_arg = arg;
	return 0;
}

#endif
