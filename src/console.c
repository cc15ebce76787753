// SPDX-License-Identifier: MIT
#include "hearth/console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#define ESCAPE_CHAR 0x01 /* Ctrl-A */
#define IN_BUF	    4096

struct console {
	int out_fd;
	bool own_out;
	const char *path;
	bool raw;
	struct termios saved;
	int drained_fd; /* eventfd: the guest emptied the UART FIFO */
	int stdin_watch;
	bool stdin_eof;
	bool escape; /* previous byte was the escape char */
	struct loop *loop;
	struct uart *uart;
	const struct vm_ctl *ctl;
	unsigned char buf[IN_BUF];
	size_t head, tail;
};

/* Restores the terminal if hearth dies on a path that skips console_close. */
static struct termios *saved_tty;

static void restore_tty(void)
{
	if (saved_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, saved_tty);
}

int console_open(struct console **out, const struct vm_config *cfg, char *err, size_t errlen)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->out_fd = -1;
	c->drained_fd = -1;
	c->stdin_watch = -1;
	if (cfg->console == CONSOLE_STDIO) {
		c->out_fd = STDOUT_FILENO;
	} else if (cfg->console == CONSOLE_FILE) {
		c->out_fd = open(cfg->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0) {
			int ret = -errno;

			snprintf(err, errlen, "cannot create console file '%s': %s",
				 cfg->console_path, strerror(errno));
			free(c);
			return ret;
		}
		c->own_out = true;
		c->path = cfg->console_path;
	}
	*out = c;
	return 0;
}

int console_out_fd(const struct console *c)
{
	return c->out_fd;
}

static void make_raw(struct console *c)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &c->saved))
		return;
	t = c->saved;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t))
		return;
	c->raw = true;
	saved_tty = &c->saved;
	atexit(restore_tty);
}

/* Pushes buffered input into the UART as far as its FIFO takes it. */
static void flush_input(struct console *c)
{
	while (c->head < c->tail) {
		size_t n = uart_feed(c->uart, c->buf + c->head, c->tail - c->head);

		if (n == 0)
			return;
		c->head += n;
	}
	c->head = c->tail = 0;
}

/* Strips the escape sequence from freshly read bytes, in place. */
static bool filter_escape(struct console *c, size_t from)
{
	size_t w = from;

	for (size_t r = from; r < c->tail; r++) {
		unsigned char ch = c->buf[r];

		if (c->escape) {
			c->escape = false;
			if (ch == 'x' || ch == 'X')
				return true;
			if (ch != ESCAPE_CHAR)
				continue; /* unknown command: dropped */
		} else if (ch == ESCAPE_CHAR) {
			c->escape = true;
			continue;
		}
		c->buf[w++] = ch;
	}
	c->tail = w;
	return false;
}

static void on_stdin(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	ssize_t n;

	(void)events;
	if (c->tail == sizeof(c->buf))
		return;
	n = read(STDIN_FILENO, c->buf + c->tail, sizeof(c->buf) - c->tail);
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		c->stdin_eof = true;
		loop_unwatch(c->loop, c->stdin_watch);
		c->stdin_watch = -1;
		return;
	}
	c->tail += (size_t)n;
	if (c->raw && filter_escape(c, c->tail - (size_t)n)) {
		c->ctl->stop(c->ctl->opaque, VM_STOP_SIGNAL, SIGINT);
		return;
	}
	flush_input(c);
	if (c->tail && c->stdin_watch >= 0) {
		/* The guest is not reading: wait for it to drain the FIFO. */
		loop_unwatch(c->loop, c->stdin_watch);
		c->stdin_watch = -1;
	}
}

static void on_drained(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	uint64_t v;

	(void)events;
	if (read(c->drained_fd, &v, sizeof(v)) < 0)
		return;
	flush_input(c);
	if (c->tail == 0 && c->stdin_watch < 0 && !c->stdin_eof)
		c->stdin_watch = loop_watch(c->loop, STDIN_FILENO, on_stdin, c);
}

void console_rx_drained(void *opaque)
{
	struct console *c = opaque;

	if (c && c->drained_fd >= 0)
		eventfd_write(c->drained_fd, 1);
}

int console_attach(struct console *c, struct loop *l, struct uart *uart, const struct vm_ctl *ctl)
{
	c->loop = l;
	c->uart = uart;
	c->ctl = ctl;
	if (c->out_fd != STDOUT_FILENO)
		return 0; /* only the stdio console takes input */
	c->drained_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->drained_fd < 0)
		return -errno;
	if (loop_watch(l, c->drained_fd, on_drained, c) < 0)
		return -ENOSPC;
	make_raw(c);
	c->stdin_watch = loop_watch(l, STDIN_FILENO, on_stdin, c);
	if (c->stdin_watch < 0)
		c->stdin_eof = true; /* e.g. a regular file under epoll: no input */
	return 0;
}

void console_close(struct console *c, int keep_file)
{
	if (!c)
		return;
	if (c->raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
		saved_tty = NULL;
	}
	if (c->own_out) {
		close(c->out_fd);
		if (!keep_file)
			unlink(c->path);
	}
	if (c->drained_fd >= 0)
		close(c->drained_fd);
	free(c);
}
