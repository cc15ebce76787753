// SPDX-License-Identifier: MIT
/*
 * The control API's socket on the I/O thread's loop: accept, read, answer
 * one request, close. Replies are small (a few KiB) against a unix socket's
 * send buffer of ~200 KiB, so they are sent at once; a client that does not
 * read is given at most a second before its connection is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hearth/api.h"
#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/sandbox.h"

struct api_client {
	struct api_server *s;
	int fd, watch;
	struct api_conn *conn;
	uint64_t seq; /* accept order: the oldest is evicted when all are busy */
};

struct api_server {
	struct loop *loop;
	const struct api_vm_ops *ops;
	int fd, watch;
	char *path; /* to unlink, or NULL */
	dev_t dev;
	ino_t ino;
	struct api_client clients[API_MAX_CONN];
	uint64_t requests, accepted;
};

static void send_all(int fd, const char *buf, size_t len)
{
	int waited = 0;

	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN && waited < 10) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, 100);
			waited++;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			return; /* gone, or not reading: drop the rest */
		}
	}
}

static void client_close(struct api_client *c)
{
	loop_unwatch(c->s->loop, c->watch);
	close(c->fd);
	api_conn_free(c->conn);
	c->fd = -1;
	c->conn = NULL;
}

static void on_client(void *opaque, uint32_t events)
{
	struct api_client *c = opaque;
	char buf[4096], *out = NULL;
	size_t outlen = 0;
	int ret = 0;

	(void)events;
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* wait for more */
		ret = api_conn_feed(c->conn, c->s->ops, buf, n > 0 ? (size_t)n : 0, &out, &outlen);
		if (ret != 0 || n <= 0)
			break;
	}
	if (ret == 1) {
		c->s->requests++;
		send_all(c->fd, out, outlen);
		free(out);
	}
	client_close(c);
}

/* A free slot, or the one of the oldest connection, closed: a client that
 * connects and sends nothing cannot lock the others out. */
static struct api_client *slot(struct api_server *s)
{
	struct api_client *old = &s->clients[0];

	for (unsigned i = 0; i < API_MAX_CONN; i++) {
		if (s->clients[i].fd < 0)
			return &s->clients[i];
		if (s->clients[i].seq < old->seq)
			old = &s->clients[i];
	}
	client_close(old);
	return old;
}

static void on_accept(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	static struct log_ratelimit rl;

	(void)events;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct api_client *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_guest(&rl, "control API: accept failed: %s", strerror(errno));
			return;
		}
		c = slot(s);
		c->conn = api_conn_new();
		c->fd = fd;
		c->seq = s->accepted++;
		c->watch = c->conn ? loop_watch(s->loop, fd, on_client, c) : -1;
		if (c->watch < 0) {
			log_guest(&rl, "control API: no room for a connection");
			api_conn_free(c->conn);
			c->conn = NULL;
			c->fd = -1;
			close(fd);
		}
	}
}

/* Is someone listening on @path? */
static bool in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return true;
	used = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return used;
}

int api_listen_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--api-socket '%s': path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--api-socket '%s' exists and is not a socket", path);
			return -1;
		}
		if (in_use(&sa)) {
			snprintf(err, errlen, "--api-socket '%s' is in use by another process",
				 path);
			return -1;
		}
		unlink(path); /* stale: its owner is gone */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "--api-socket: cannot create a socket: %s", strerror(errno));
		return -1;
	}
	/* Linux creates the socket file with the socket inode's mode less the
	 * umask: both say 0600, so it never exists with wider access. hearth
	 * has no other thread yet, so the umask change races with nothing. */
	fchmod(fd, 0600);
	old = umask(0177);
	ret = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret || listen(fd, SOMAXCONN)) {
		snprintf(err, errlen, "--api-socket '%s': cannot %s: %s", path,
			 ret ? "bind" : "listen", strerror(errno));
		if (!ret)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

int api_listen_activated(char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int type = 0, acc = 0;
	socklen_t len = sizeof(int);
	struct sockaddr_un sa;
	socklen_t salen = sizeof(sa);
	char *end;
	long p;

	if (!pid || !fds)
		return -1;
	p = strtol(pid, &end, 10);
	if (*end || p != (long)getpid())
		return -1;
	if (strcmp(fds, "1")) {
		snprintf(err, errlen,
			 "socket activation: LISTEN_FDS=%.20s, hearth takes exactly one "
			 "socket",
			 fds);
		return -2;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM ||
	    getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) || !acc ||
	    getsockname(3, (struct sockaddr *)&sa, &salen) || sa.sun_family != AF_UNIX) {
		snprintf(err, errlen,
			 "socket activation: fd 3 is not a listening unix stream socket");
		return -2;
	}
	fcntl(3, F_SETFD, FD_CLOEXEC);
	fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK);
	return 3;
}

int api_server_create(struct api_server **out, struct loop *loop, int fd, const char *unlink_path,
		      const struct api_vm_ops *ops)
{
	struct api_server *s = calloc(1, sizeof(*s));
	struct stat st;

	if (!s) {
		close(fd);
		if (unlink_path)
			unlink(unlink_path);
		return -ENOMEM;
	}
	s->watch = -1;
	s->loop = loop;
	s->ops = ops;
	s->fd = fd;
	for (unsigned i = 0; i < API_MAX_CONN; i++)
		s->clients[i] = (struct api_client){ s, -1, -1, NULL, 0 };
	if (unlink_path && lstat(unlink_path, &st) == 0) {
		s->path = strdup(unlink_path);
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	/* the socket unlinked at exit; snapshots (docs/snapshot.md) */
	sandbox_need(SANDBOX_NEED_API);
	s->watch = loop_watch(loop, fd, on_accept, s);
	if (s->watch < 0) {
		int ret = s->watch;

		s->watch = -1;
		api_server_destroy(s);
		return ret;
	}
	*out = s;
	return 0;
}

void api_server_destroy(struct api_server *s)
{
	struct stat st;

	if (!s)
		return;
	for (unsigned i = 0; i < API_MAX_CONN; i++)
		if (s->clients[i].fd >= 0)
			client_close(&s->clients[i]);
	if (s->watch >= 0)
		loop_unwatch(s->loop, s->watch);
	if (s->fd >= 0)
		close(s->fd);
	/* only if the path is still the socket we made */
	if (s->path && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	free(s);
}

uint64_t api_server_requests(const struct api_server *s)
{
	return s ? s->requests : 0;
}
