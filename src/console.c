// SPDX-License-Identifier: MIT
#include "hearth/console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hearth/log.h"
#include "hearth/outbuf.h"

#define ESCAPE_CHAR 0x01 /* Ctrl-A */
#define IN_BUF	    4096
/* Guest output waiting for its reader (docs/architecture.md, "The console") */
#define OUT_BUF		  (64 * 1024)
#define DROP_LOG_EVERY_NS (60 * 1000000000ull)
#define FLUSH_STALL_MS	  2000	/* at exit: give up when the reader takes nothing for this long */
#define FLUSH_MAX_MS	  10000 /* and in all at most this */

/* How guest output reaches out_fd without ever blocking the I/O thread. */
enum writer {
	W_WRITE,    /* write(): a regular file or block device (never EAGAIN), or our own file */
	W_REOPENED, /* write() to a non-blocking description of stdout's pipe or terminal */
	W_SEND,	    /* send(MSG_DONTWAIT): a socket (e.g. systemd's journal) */
	W_TOGGLE,   /* O_NONBLOCK set only around each write() on the shared description */
};

struct console {
	int out_fd; /* -1: output discarded */
	int wr_fd;  /* what is written: out_fd, or a non-blocking reopening of it */
	enum writer how;
	bool own_out;
	const char *path;
	struct outbuf out;
	int wake_fd;   /* eventfd: output buffered (or dropped) for the I/O thread */
	int out_watch; /* POLLOUT on wr_fd while the reader is behind */
	uint64_t logged_drops, last_drop_log_ns, last_err_log_ns;
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

/* Whether @a and @b name the same file (device and inode). */
static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * Picks how to write to out_fd without blocking (docs/architecture.md).
 * stdout's open file description is shared with whoever started hearth (a
 * shell's terminal, a pipe into a log reader): setting O_NONBLOCK on it
 * would make their reads and writes fail with EAGAIN too. So a pipe or
 * terminal is opened once more through /proc, giving hearth a description
 * of its own that may be non-blocking; a socket takes MSG_DONTWAIT per
 * call. Only where neither works is O_NONBLOCK set on the shared
 * description, and then only for the duration of each write.
 */
static void pick_writer(struct console *c)
{
	struct stat st;
	char path[32];
	int fd;

	c->wr_fd = c->out_fd;
	c->how = W_WRITE;
	if (c->own_out) {
		/* our own description (a FIFO given as file:PATH, say) */
		int fl = fcntl(c->out_fd, F_GETFL);

		if (fl >= 0)
			fcntl(c->out_fd, F_SETFL, fl | O_NONBLOCK);
		return;
	}
	if (fstat(c->out_fd, &st) || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return;
	if (S_ISSOCK(st.st_mode)) {
		c->how = W_SEND;
		return;
	}
	c->how = W_TOGGLE;
	if (!S_ISFIFO(st.st_mode) && !isatty(c->out_fd))
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", c->out_fd);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!same_file(fd, c->out_fd)) {
		close(fd);
		return;
	}
	c->wr_fd = fd;
	c->how = W_REOPENED;
}

static ssize_t toggled_write(int fd, const void *p, size_t n)
{
	int fl = fcntl(fd, F_GETFL), e;
	ssize_t r;

	if (fl < 0)
		return -1;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -1;
	r = write(fd, p, n);
	e = errno;
	if (!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl);
	errno = e;
	return r;
}

/* outbuf's writer, on the I/O thread: never blocks. */
static ssize_t write_out(void *arg, const void *p, size_t n)
{
	struct console *c = arg;
	ssize_t r;

	switch (c->how) {
	case W_SEND: r = send(c->wr_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL); break;
	case W_TOGGLE: r = toggled_write(c->wr_fd, p, n); break;
	default: r = write(c->wr_fd, p, n); break;
	}
	if (r >= 0)
		return r;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static int open_output(struct console *c)
{
	int ret = outbuf_init(&c->out, OUT_BUF);

	if (ret)
		return ret;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0)
		return -errno;
	pick_writer(c);
	return 0;
}

static void free_console(struct console *c)
{
	if (c->wr_fd >= 0 && c->wr_fd != c->out_fd)
		close(c->wr_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	outbuf_destroy(&c->out);
	free(c);
}

int console_open(struct console **out, const struct vm_config *cfg, char *err, size_t errlen)
{
	struct console *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->out_fd = c->wr_fd = -1;
	c->wake_fd = -1;
	c->out_watch = -1;
	c->drained_fd = -1;
	c->stdin_watch = -1;
	if (cfg->console == CONSOLE_STDIO) {
		c->out_fd = STDOUT_FILENO;
	} else if (cfg->console == CONSOLE_FILE) {
		c->out_fd = open(cfg->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "cannot create console file '%s': %s",
				 cfg->console_path, strerror(errno));
			free(c);
			return ret;
		}
		c->own_out = true;
		c->path = cfg->console_path;
	}
	if (c->out_fd >= 0) {
		ret = open_output(c);
		if (ret) {
			snprintf(err, errlen, "cannot set up the console: %s", strerror(-ret));
			if (c->own_out) {
				close(c->out_fd);
				unlink(c->path);
			}
			free_console(c);
			return ret;
		}
	}
	*out = c;
	return 0;
}

/* ---- guest output ---- */

void console_tx(void *opaque, uint8_t ch)
{
	struct console *c = opaque;

	/* the only lock taken is the buffer's, for the copy; the wake-up is
	 * an eventfd write, which does not block */
	if (c && c->out_fd >= 0 && outbuf_put(&c->out, &ch, 1) && c->wake_fd >= 0)
		eventfd_write(c->wake_fd, 1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One warning when output starts being dropped, then at most one a minute. */
static void note_drops(struct console *c)
{
	uint64_t written, dropped, now = now_ns();

	outbuf_counts(&c->out, &written, &dropped);
	if (dropped == c->logged_drops)
		return;
	if (c->last_drop_log_ns && now - c->last_drop_log_ns < DROP_LOG_EVERY_NS)
		return;
	log_warn("console: the reader is not keeping up; guest output dropped so far: %llu bytes",
		 (unsigned long long)dropped);
	c->logged_drops = dropped;
	c->last_drop_log_ns = now;
}

static void on_writable(void *opaque, uint32_t events);

static void stop_out_watch(struct console *c)
{
	if (c->out_watch >= 0)
		loop_unwatch(c->loop, c->out_watch);
	c->out_watch = -1;
}

/* Writes what the reader takes, one buffer's worth per turn of the loop. */
static void drain(struct console *c)
{
	int r = outbuf_drain(&c->out, write_out, c, OUT_BUF);

	switch (r) {
	case OUTBUF_EMPTY: stop_out_watch(c); break;
	case OUTBUF_MORE:
		/* more after the loop's other events */
		stop_out_watch(c);
		eventfd_write(c->wake_fd, 1);
		break;
	case OUTBUF_BLOCKED:
		if (c->out_watch < 0)
			c->out_watch =
				loop_watch_events(c->loop, c->wr_fd, POLLOUT, on_writable, c);
		if (c->out_watch < 0) {
			log_warn("console: cannot wait for the output to drain: dropping it");
			outbuf_discard(&c->out);
		}
		break;
	default:
		stop_out_watch(c);
		if (!c->last_err_log_ns || now_ns() - c->last_err_log_ns >= DROP_LOG_EVERY_NS) {
			log_warn("console: cannot write guest output: %s", strerror(-r));
			c->last_err_log_ns = now_ns();
		}
		break;
	}
	note_drops(c);
}

static void on_writable(void *opaque, uint32_t events)
{
	(void)events;
	drain(opaque);
}

static void on_wake(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	eventfd_t v;

	(void)events;
	eventfd_read(c->wake_fd, &v);
	drain(c);
}

void console_flush(struct console *c)
{
	uint64_t start = now_ns(), written, dropped;
	int r;

	if (!c || c->out_fd < 0)
		return;
	stop_out_watch(c);
	while ((r = outbuf_drain(&c->out, write_out, c, SIZE_MAX)) == OUTBUF_BLOCKED) {
		struct pollfd p = { .fd = c->wr_fd, .events = POLLOUT };
		uint64_t spent_ms = (now_ns() - start) / 1000000;
		int n;

		if (spent_ms >= FLUSH_MAX_MS)
			break;
		n = poll(&p, 1,
			 (int)(FLUSH_MAX_MS - spent_ms < FLUSH_STALL_MS ? FLUSH_MAX_MS - spent_ms
									: FLUSH_STALL_MS));
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	if (r == OUTBUF_BLOCKED)
		outbuf_discard(&c->out);
	outbuf_counts(&c->out, &written, &dropped);
	if (dropped)
		log_warn("console: %llu bytes of guest output dropped in all (the reader did not "
			 "keep up)",
			 (unsigned long long)dropped);
}

void console_counts(struct console *c, uint64_t *written, uint64_t *dropped)
{
	*written = *dropped = 0;
	if (c && c->out_fd >= 0)
		outbuf_counts(&c->out, written, dropped);
}

/* ---- guest input ---- */

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
	if (c->out_fd >= 0 && loop_watch(l, c->wake_fd, on_wake, c) < 0)
		return -ENOSPC;
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
	free_console(c);
}
