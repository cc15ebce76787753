/* SPDX-License-Identifier: MIT */
/*
 * systemd's service notification protocol (sd_notify(3)): datagrams of
 * "KEY=value" lines to the socket named by $NOTIFY_SOCKET (a path, or an
 * abstract name starting with '@'). Written here rather than linked from
 * libsystemd because hearth links statically and Debian ships libsystemd
 * only as a shared library; the protocol is a stable, documented datagram.
 * Without $NOTIFY_SOCKET every call does nothing.
 */
#ifndef HEARTH_NOTIFY_H
#define HEARTH_NOTIFY_H

#include <stdint.h>

/* Opens the socket the notifications go out on, if $NOTIFY_SOCKET is
 * set and it is not open yet; it stays open for the life of the process,
 * so notifications still go out under the seccomp filters, which allow no
 * new socket. Returns 0 or -errno. */
int notify_open(void);
/* Sends @msg ("READY=1\nSTATUS=..."), opening the socket first if
 * notify_open() was not called. Returns 0, or -errno. */
int notify_send(const char *msg);
/* The watchdog interval systemd asked for ($WATCHDOG_USEC, when
 * $WATCHDOG_PID is unset or ours), in microseconds; 0 when none. */
uint64_t notify_watchdog_usec(void);

#endif
