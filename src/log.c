// SPDX-License-Identifier: MIT
#include "hearth/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024

static enum log_level threshold = LOG_WARN;
static struct timespec start;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the rate limits' state only */

static const char *const names[] = { "error", "warn", "info", "debug" };
static int file_fd = -1; /* --log-file, else -1: stderr */
/* this thread's name, read once by log_thread_named(): after that a log
 * line asks the kernel nothing (a filtered thread may not) */
static _Thread_local char thread_name[16];

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		return -errno;
	file_fd = fd;
	return 0;
}

int log_fd(void)
{
	return file_fd;
}

void log_close_file(void)
{
	if (file_fd >= 0)
		close(file_fd);
	file_fd = -1;
}

/*
 * One line, one write() and no lock: lines from several threads do not
 * interleave (a write of up to PIPE_BUF bytes to a pipe, or any to an
 * O_APPEND file, is not split), and a thread whose write waits for a slow
 * reader holds up nobody else (vCPU threads log too).
 */
static void emit(const char *line, size_t len)
{
	int fd = file_fd >= 0 ? file_fd : STDERR_FILENO;

	while (len) {
		ssize_t n = write(fd, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

/* Adds vsnprintf's output at *@len, truncating at the end of @buf. */
static void append(char *buf, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void vappend(char *buf, size_t *len, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vappend(char *buf, size_t *len, const char *fmt, va_list ap)
{
	int n;

	if (*len >= LINE_MAX_LEN - 1)
		return;
	n = vsnprintf(buf + *len, LINE_MAX_LEN - 1 - *len, fmt, ap);
	if (n > 0)
		*len += (size_t)n < LINE_MAX_LEN - 1 - *len ? (size_t)n : LINE_MAX_LEN - 2 - *len;
}

static void append(char *buf, size_t *len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(buf, len, fmt, ap);
	va_end(ap);
}

void log_init(enum log_level level)
{
	clock_gettime(CLOCK_MONOTONIC, &start);
	threshold = level;
}

void log_set_level(enum log_level level)
{
	threshold = level;
}

enum log_level log_get_level(void)
{
	return threshold;
}

uint64_t log_elapsed_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - start.tv_sec) * 1000000000ull + (uint64_t)now.tv_nsec -
	       (uint64_t)start.tv_nsec;
}

void log_thread_named(void)
{
	char name[sizeof(thread_name)] = "";

	if (pthread_getname_np(pthread_self(), name, sizeof(name)) == 0 && name[0])
		memcpy(thread_name, name, sizeof(thread_name));
	thread_name[sizeof(thread_name) - 1] = '\0';
}

static void vlog(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vlog(enum log_level level, const char *fmt, va_list ap)
{
	uint64_t ns = log_elapsed_ns();
	char thread[16] = "?", line[LINE_MAX_LEN];
	size_t len = 0;

	if (thread_name[0])
		memcpy(thread, thread_name, sizeof(thread));
	else
		pthread_getname_np(pthread_self(), thread, sizeof(thread));
	if (file_fd >= 0) {
		struct timespec now;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		append(line, &len, "%s.%03ldZ ", stamp, now.tv_nsec / 1000000);
	}
	append(line, &len, "hearth[%llu.%06llu] %s %s: ", (unsigned long long)(ns / 1000000000ull),
	       (unsigned long long)(ns % 1000000000ull / 1000), names[level], thread);
	vappend(line, &len, fmt, ap);
	line[len++] = '\n';
	emit(line, len);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > threshold)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

enum { BURST = 10, WINDOW_NS = 5000000000ull };

static void vguest(struct log_ratelimit *st, enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vguest(struct log_ratelimit *st, enum log_level level, const char *fmt, va_list ap)
{
	unsigned suppressed = 0;
	uint64_t now;

	if (level > threshold)
		return;
	pthread_mutex_lock(&lock);
	now = log_elapsed_ns(); /* under the lock: windows only move forward */
	if (now - st->window_start_ns > WINDOW_NS) {
		suppressed = st->suppressed;
		st->window_start_ns = now;
		st->printed = 0;
		st->suppressed = 0;
	}
	if (st->printed >= BURST) {
		st->suppressed++;
		pthread_mutex_unlock(&lock);
		return;
	}
	st->printed++;
	pthread_mutex_unlock(&lock);
	/* written with no lock held (a stalled stderr costs only this thread) */
	if (suppressed) {
		char line[64];
		int n = snprintf(line, sizeof(line),
				 "hearth: %u similar guest-triggered lines suppressed\n",
				 suppressed);

		emit(line, (size_t)n);
	}
	vlog(level, fmt, ap);
}

void log_guest(struct log_ratelimit *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vguest(st, LOG_WARN, fmt, ap);
	va_end(ap);
}

void log_guest_at(struct log_ratelimit *st, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vguest(st, level, fmt, ap);
	va_end(ap);
}
