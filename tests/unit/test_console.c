// SPDX-License-Identifier: MIT
/*
 * The console's output path: the bounded buffer (wrap-around, full, drop
 * counts, wake-ups, a writer that would block or fails, budgets), and the
 * console on an event loop with stdout a pipe, as a vCPU thread floods it:
 * complete and in order while the reader keeps up; with a stalled reader
 * the flood never blocks, the excess is counted as dropped, and the final
 * flush gives up in bounded time. stdout's shared description never
 * becomes non-blocking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hearth/config.h"
#include "hearth/console.h"
#include "hearth/outbuf.h"

/* ---- the buffer, with a writer that takes what it is told to ---- */

struct sink {
	char got[256];
	size_t len;
	size_t take; /* bytes per call; 0: would block */
	int err;     /* returned instead when set */
	unsigned calls;
};

static ssize_t sink_write(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;

	s->calls++;
	if (s->err)
		return s->err;
	if (s->take == 0)
		return -EAGAIN;
	if (n > s->take)
		n = s->take;
	if (n > sizeof(s->got) - s->len)
		n = sizeof(s->got) - s->len;
	memcpy(s->got + s->len, p, n);
	s->len += n;
	return (ssize_t)n;
}

static void counts(struct outbuf *b, uint64_t w, uint64_t d)
{
	uint64_t written, dropped;

	outbuf_counts(b, &written, &dropped);
	assert_int_equal(written, w);
	assert_int_equal(dropped, d);
}

/* The first bytes wake the drainer, later ones do not until it ran dry. */
static void buf_wakeups(void **state)
{
	struct outbuf b;
	struct sink s = { .take = 100 };

	(void)state;
	assert_int_equal(outbuf_init(&b, 8), 0);
	assert_true(outbuf_put(&b, "ab", 2));
	assert_false(outbuf_put(&b, "c", 1));
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 100), OUTBUF_EMPTY);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.got, "abc", 3);
	assert_true(outbuf_put(&b, "d", 1));
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 100), OUTBUF_EMPTY);
	assert_memory_equal(s.got, "abcd", 4);
	/* empty: nothing to write, no call */
	s.calls = 0;
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 100), OUTBUF_EMPTY);
	assert_int_equal(s.calls, 0);
	outbuf_destroy(&b);
	assert_int_equal(outbuf_init(&b, 0), -EINVAL);
	outbuf_destroy(&b); /* nothing to free */
}

/* Bytes that cross the end of the ring come out whole and in order. */
static void buf_wrap(void **state)
{
	struct outbuf b;
	struct sink s = { .take = 3 };

	(void)state;
	assert_int_equal(outbuf_init(&b, 8), 0);
	outbuf_put(&b, "012345", 6);
	/* a budget of 3: half of it goes, the rest stays */
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 3), OUTBUF_MORE);
	assert_int_equal(s.len, 3);
	/* 3 left at offsets 3..5; 5 more fit, wrapping to the start */
	assert_false(outbuf_put(&b, "6789A", 5));
	counts(&b, 3, 0);
	s.take = 100;
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 100), OUTBUF_EMPTY);
	assert_int_equal(s.len, 11);
	assert_memory_equal(s.got, "0123456789A", 11);
	/* the write that wrapped took two calls: to the end, then from 0 */
	counts(&b, 11, 0);
	outbuf_destroy(&b);
}

/* A full buffer keeps the oldest bytes, drops and counts the rest, and
 * wakes the drainer once for the drops. */
static void buf_full(void **state)
{
	struct outbuf b;
	struct sink s = { .take = 0 };

	(void)state;
	assert_int_equal(outbuf_init(&b, 8), 0);
	assert_true(outbuf_put(&b, "abcdef", 6));
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 100), OUTBUF_BLOCKED);
	assert_true(outbuf_put(&b, "ghij", 4)); /* 2 fit: the first drop wakes */
	counts(&b, 0, 2);
	assert_false(outbuf_put(&b, "klm", 3)); /* still dropping: no wake */
	assert_false(outbuf_put(&b, "n", 1));
	counts(&b, 0, 6);
	s.take = 100;
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 100), OUTBUF_EMPTY);
	assert_int_equal(s.len, 8);
	assert_memory_equal(s.got, "abcdefgh", 8);
	counts(&b, 8, 6);
	/* ran dry: a new drop is news again */
	outbuf_put(&b, "0123456789", 10);
	counts(&b, 8, 8);
	assert_int_equal(outbuf_discard(&b), 8);
	counts(&b, 8, 16);
	assert_true(outbuf_put(&b, "x", 1)); /* discarding emptied it */
	outbuf_destroy(&b);
}

/* A write error drops what was buffered (counted); the buffer goes on. */
static void buf_error(void **state)
{
	struct outbuf b;
	struct sink s = { .take = 2, .err = -EPIPE };

	(void)state;
	assert_int_equal(outbuf_init(&b, 8), 0);
	outbuf_put(&b, "abcde", 5);
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 100), -EPIPE);
	counts(&b, 0, 5);
	s.err = 0;
	assert_true(outbuf_put(&b, "fg", 2));
	assert_int_equal(outbuf_drain(&b, sink_write, &s, 100), OUTBUF_EMPTY);
	assert_memory_equal(s.got, "fg", 2);
	counts(&b, 2, 5);
	outbuf_destroy(&b);
}

/* ---- the console on a loop, stdout a pipe ---- */

#define FLOOD (256 * 1024)

struct rig {
	int saved_out, saved_in, rd; /* the pipe's read end */
	struct loop *l;
	struct console *c;
	struct uart *u;
	int tick_fd;
	atomic_bool produced;
	atomic_size_t received;
	size_t want; /* quit the loop once this much arrived (0: once produced) */
	unsigned char *got;
};

static void no_stop(void *o, enum vm_stop_reason why, int status)
{
	(void)o;
	(void)why;
	(void)status;
}
static void no_marker(void *o, unsigned v)
{
	(void)o;
	(void)v;
}
static const struct vm_ctl ctl = { no_stop, no_marker, NULL };
static const struct irq_chip chip = { NULL, NULL };

static void on_tick(void *opaque, uint32_t events)
{
	struct rig *r = opaque;
	uint64_t n;

	(void)events;
	if (read(r->tick_fd, &n, sizeof(n)) < 0)
		return;
	if (r->want ? atomic_load(&r->received) >= r->want : atomic_load(&r->produced))
		loop_quit(r->l);
}

static void rig_up(struct rig *r)
{
	struct vm_config cfg;
	struct itimerspec it = { .it_interval.tv_nsec = 10000000, .it_value.tv_nsec = 10000000 };
	struct uart_cfg ucfg = { &chip, 4, NULL, NULL, NULL };
	char err[128];
	int p[2], null;

	memset(r, 0, sizeof(*r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.console = CONSOLE_STDIO;
	assert_int_equal(pipe(p), 0);
	null = open("/dev/null", O_RDONLY);
	assert_true(null >= 0);
	fflush(stdout);
	r->saved_out = dup(STDOUT_FILENO);
	r->saved_in = dup(STDIN_FILENO);
	assert_true(r->saved_out >= 0 && r->saved_in >= 0);
	assert_int_equal(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
	assert_int_equal(dup2(null, STDIN_FILENO), STDIN_FILENO);
	close(p[1]);
	close(null);
	r->rd = p[0];
	r->got = malloc(FLOOD);
	assert_non_null(r->got);
	assert_int_equal(loop_create(&r->l, 0), 0);
	assert_int_equal(console_open(&r->c, &cfg, err, sizeof(err)), 0);
	ucfg.opaque = r->c;
	r->u = uart_create(&ucfg);
	assert_non_null(r->u);
	assert_int_equal(console_attach(r->c, r->l, r->u, &ctl), 0);
	r->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	assert_int_equal(timerfd_settime(r->tick_fd, 0, &it, NULL), 0);
	assert_true(loop_watch(r->l, r->tick_fd, on_tick, r) >= 0);
}

/* Restores stdout and stdin, which ends a reader thread @reader (if any)
 * with EOF; returns whether stdout's shared description stayed blocking
 * throughout. */
static bool rig_down(struct rig *r, pthread_t *reader)
{
	bool blocking = !(fcntl(STDOUT_FILENO, F_GETFL) & O_NONBLOCK);

	console_close(r->c, 1);
	uart_destroy(r->u);
	loop_destroy(r->l);
	close(r->tick_fd);
	dup2(r->saved_out, STDOUT_FILENO);
	dup2(r->saved_in, STDIN_FILENO);
	close(r->saved_out);
	close(r->saved_in);
	if (reader)
		pthread_join(*reader, NULL);
	close(r->rd);
	free(r->got);
	return blocking;
}

/* A vCPU thread writing the flood, one byte per call as the UART does. */
static void *produce(void *arg)
{
	struct rig *r = arg;

	for (size_t i = 0; i < FLOOD; i++)
		console_tx(r->c, (uint8_t)(i % 251));
	atomic_store(&r->produced, true);
	return NULL;
}

/* A reader that keeps up, until EOF. */
static void *consume(void *arg)
{
	struct rig *r = arg;
	size_t n = 0;

	while (n < FLOOD) {
		ssize_t k = read(r->rd, r->got + n, FLOOD - n);

		if (k <= 0)
			break;
		n += (size_t)k;
		atomic_store(&r->received, n);
	}
	return NULL;
}

/* The guest writes in bursts no bigger than the buffer and the reader
 * keeps up: every byte arrives, in order, none dropped. */
static void keeps_up(void **state)
{
	struct rig r;
	pthread_t cons;
	uint64_t written, dropped;
	bool in_order = true;

	(void)state;
	rig_up(&r);
	assert_int_equal(pthread_create(&cons, NULL, consume, &r), 0);
	for (size_t done = 0; done < FLOOD;) {
		size_t chunk = 16 * 1024;

		for (size_t i = done; i < done + chunk; i++)
			console_tx(r.c, (uint8_t)(i % 251));
		done += chunk;
		r.want = done;
		assert_int_equal(loop_run(r.l), 0);
	}
	console_flush(r.c);
	console_counts(r.c, &written, &dropped);
	assert_int_equal(written, FLOOD);
	assert_int_equal(dropped, 0);
	pthread_join(cons, NULL);
	assert_int_equal(atomic_load(&r.received), FLOOD);
	for (size_t i = 0; i < FLOOD; i++)
		in_order &= r.got[i] == (uint8_t)(i % 251);
	assert_true(in_order);
	assert_true(rig_down(&r, NULL));
}

/* Nobody reads: the flood never blocks its thread, the excess is counted,
 * and what was buffered still reaches a reader that comes back. */
static void stalled(void **state)
{
	struct rig r;
	pthread_t prod, cons;
	uint64_t written, dropped;
	int pipe_size;

	(void)state;
	rig_up(&r);
	pipe_size = fcntl(r.rd, F_GETPIPE_SZ);
	assert_true(pipe_size > 0 && pipe_size < FLOOD / 2);
	assert_int_equal(pthread_create(&prod, NULL, produce, &r), 0);
	assert_int_equal(loop_run(r.l), 0); /* until the producer is done */
	pthread_join(prod, NULL);
	console_counts(r.c, &written, &dropped);
	assert_true(written <= (uint64_t)pipe_size);
	assert_true(dropped >= FLOOD - 64 * 1024 - (uint64_t)pipe_size);
	/* the reader comes back: everything not dropped arrives */
	assert_int_equal(pthread_create(&cons, NULL, consume, &r), 0);
	console_flush(r.c);
	console_counts(r.c, &written, &dropped);
	assert_int_equal(written + dropped, FLOOD);
	assert_true(dropped > 0);
	r.want = written; /* (rig_down frees r.got, not the counter) */
	assert_true(rig_down(&r, &cons));
	assert_int_equal(atomic_load(&r.received), r.want);
}

/* At exit with a full pipe whose reader never comes back, the flush gives
 * up (after 2 s without progress) and counts everything as dropped. */
static void flush_bounded(void **state)
{
	struct rig r;
	uint64_t written, dropped;
	struct timespec t0, t1;
	char *fill;
	int pipe_size;

	(void)state;
	rig_up(&r);
	pipe_size = fcntl(r.rd, F_GETPIPE_SZ);
	assert_true(pipe_size > 0);
	fill = calloc(1, (size_t)pipe_size);
	assert_non_null(fill);
	assert_int_equal(write(STDOUT_FILENO, fill, (size_t)pipe_size), pipe_size);
	free(fill);
	for (size_t i = 0; i < FLOOD; i++)
		console_tx(r.c, (uint8_t)i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	console_flush(r.c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	console_counts(r.c, &written, &dropped);
	assert_int_equal(written, 0);
	assert_int_equal(dropped, FLOOD);
	assert_true(t1.tv_sec - t0.tv_sec < 60); /* a generous bound on 2 s */
	assert_true(rig_down(&r, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_wakeups),	 cmocka_unit_test(buf_wrap),
		cmocka_unit_test(buf_full),	 cmocka_unit_test(buf_error),
		cmocka_unit_test(keeps_up),	 cmocka_unit_test(stalled),
		cmocka_unit_test(flush_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
