// SPDX-License-Identifier: MIT
#include "hearth/notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The datagram socket, opened once (notify_open) and kept: after the
 * seccomp filters are in place no thread may make a new one. */
static int sock_fd = -1;
static bool tried;     /* only once: a retry under the filters would end hearth */
static bool connected; /* to $NOTIFY_SOCKET: a jail no longer sees its path */

/* $NOTIFY_SOCKET's address; its length, or -EINVAL */
static int notify_addr(const char *path, struct sockaddr_un *sa)
{
	size_t len = strlen(path);

	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa->sun_path))
		return -EINVAL;
	memcpy(sa->sun_path, path, len);
	if (path[0] == '@')
		sa->sun_path[0] = '\0'; /* abstract namespace */
	return (int)(offsetof(struct sockaddr_un, sun_path) + len);
}

int notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	int len;

	if (!path || !*path)
		return 0;
	if (!tried) {
		tried = true;
		sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sock_fd < 0)
			return -errno;
		/* connected once here, the socket reaches systemd from a jail
		 * (other root, other network namespace); unconnected, each
		 * message names the path again */
		len = notify_addr(path, &sa);
		connected = len > 0 && !connect(sock_fd, (struct sockaddr *)&sa, (socklen_t)len);
	}
	return sock_fd >= 0 ? 0 : -EBADF;
}

int notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	int len, ret;

	if (!path || !*path)
		return 0;
	len = notify_addr(path, &sa);
	if (len < 0)
		return len;
	ret = notify_open();
	if (ret)
		return ret;
	if (sendto(sock_fd, msg, strlen(msg), MSG_NOSIGNAL,
		   connected ? NULL : (struct sockaddr *)&sa, connected ? 0 : (socklen_t)len) < 0)
		return -errno;
	return 0;
}

uint64_t notify_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (!us || (pid && strtol(pid, NULL, 10) != (long)getpid()))
		return 0;
	v = strtoull(us, &end, 10);
	return *end ? 0 : v;
}
