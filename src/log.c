// SPDX-License-Identifier: MIT
#include "hearth/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum log_level threshold = LOG_WARN;
static struct timespec start;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[] = { "error", "warn", "info", "debug" };
static FILE *file; /* --log-file, else NULL: stderr */

static FILE *out(void)
{
	return file ? file : stderr;
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	FILE *f;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "a");
	if (!f) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	file = f;
	return 0;
}

void log_close_file(void)
{
	if (file)
		fclose(file);
	file = NULL;
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

static void vlog(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vlog(enum log_level level, const char *fmt, va_list ap)
{
	uint64_t ns = log_elapsed_ns();
	char thread[16] = "?";

	pthread_getname_np(pthread_self(), thread, sizeof(thread));
	pthread_mutex_lock(&lock);
	if (file) {
		struct timespec now;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(file, "%s.%03ldZ ", stamp, now.tv_nsec / 1000000);
	}
	fprintf(out(), "hearth[%llu.%06llu] %s %s: ", (unsigned long long)(ns / 1000000000ull),
		(unsigned long long)(ns % 1000000000ull / 1000), names[level], thread);
	vfprintf(out(), fmt, ap);
	fputc('\n', out());
	pthread_mutex_unlock(&lock);
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
	uint64_t now;

	if (level > threshold)
		return;
	pthread_mutex_lock(&lock);
	now = log_elapsed_ns(); /* under the lock: windows only move forward */
	if (now - st->window_start_ns > WINDOW_NS) {
		if (st->suppressed)
			fprintf(out(), "hearth: %u similar guest-triggered lines suppressed\n",
				st->suppressed);
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
