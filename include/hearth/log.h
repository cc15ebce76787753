/* SPDX-License-Identifier: MIT */
/*
 * hearth's own log: stderr (or a file), one line per event, prefixed with
 * the time since process start and the level. The guest console never goes
 * here, so stdout carries nothing but the guest's output.
 */
#ifndef HEARTH_LOG_H
#define HEARTH_LOG_H

#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the threshold (default LOG_WARN) and the start of the clock. */
void log_init(enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Nanoseconds since log_init() (CLOCK_MONOTONIC). */
uint64_t log_elapsed_ns(void);

/*
 * Sends the log to the file @path (created 0640, appended) instead of
 * stderr; its lines also carry the wall-clock time (UTC). Returns 0 or
 * -errno. Call before any other thread exists.
 */
int log_open_file(const char *path);
void log_close_file(void);
/* The --log-file descriptor, or -1 when the log goes to stderr. */
int log_fd(void);

/* Reads the calling thread's name once, for every log line it writes from
 * now on (a thread calls it before its seccomp filter: reading the name
 * each time would be one more system call on its list). */
void log_thread_named(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Rate-limited warning for guest-triggered events: at most a burst of lines
 * per @state, then one every few seconds with a count of those suppressed.
 * @state is a caller-owned static, zero-initialised. log_guest_at() is the
 * same at @level (a guest's boot markers are info); lines below the
 * threshold are neither printed nor counted.
 */
struct log_ratelimit {
	uint64_t window_start_ns;
	unsigned printed;
	unsigned suppressed;
};
void log_guest(struct log_ratelimit *state, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_guest_at(struct log_ratelimit *state, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
