// SPDX-License-Identifier: MIT
#include "hearth/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level threshold = LOG_WARN;
static struct timespec start;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[] = { "error", "warn", "info", "debug" };

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
	fprintf(stderr, "hearth[%llu.%06llu] %s %s: ", (unsigned long long)(ns / 1000000000ull),
		(unsigned long long)(ns % 1000000000ull / 1000), names[level], thread);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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

void log_guest(struct log_ratelimit *st, const char *fmt, ...)
{
	uint64_t now = log_elapsed_ns();
	va_list ap;

	pthread_mutex_lock(&lock);
	if (now - st->window_start_ns > WINDOW_NS) {
		if (st->suppressed)
			fprintf(stderr, "hearth: %u similar guest errors suppressed\n",
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
	if (LOG_WARN > threshold)
		return;
	va_start(ap, fmt);
	vlog(LOG_WARN, fmt, ap);
	va_end(ap);
}
