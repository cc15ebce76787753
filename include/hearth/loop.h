/* SPDX-License-Identifier: MIT */
/*
 * The I/O thread's event loop: one io_uring on which every watched file
 * descriptor is a multishot poll, so readiness of eventfds, timers, the
 * console and (later) TAP devices and iSCSI sockets all arrive as CQEs.
 * When io_uring is unavailable (io_uring_disabled, seccomp, old kernel) the
 * same interface runs on epoll. Single-threaded: call only from the thread
 * that runs the loop, except loop_create/destroy.
 */
#ifndef HEARTH_LOOP_H
#define HEARTH_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct io_uring;

/* @events: poll(2) bits (POLLIN, POLLOUT, POLLHUP, POLLERR). */
typedef void (*loop_cb)(void *opaque, uint32_t events);

/* Returns 0 or -errno. @force_epoll skips io_uring (tests, fallbacks). */
int loop_create(struct loop **out, int force_epoll);
void loop_destroy(struct loop *l);

/* Calls @cb whenever @fd is readable (or hung up) until unwatched.
 * Returns a watch id >= 0, or -ENOSPC/-errno. */
int loop_watch(struct loop *l, int fd, loop_cb cb, void *opaque);
/* The same for @events, POLLIN and/or POLLOUT (sockets with data to send). */
int loop_watch_events(struct loop *l, int fd, uint32_t events, loop_cb cb, void *opaque);
/* Changes what watch @id waits for: another fd (a reconnected socket) and/or
 * other events; @force re-arms even when both look unchanged (the number of
 * a descriptor that was replaced by dup2). Returns 0 or -errno (then the
 * watch is gone). */
int loop_rewatch(struct loop *l, int id, int fd, uint32_t events, bool force);
/* Stops a watch; its callback is not called again. Returns 0 or -ENOENT. */
int loop_unwatch(struct loop *l, int id);

/* Dispatches events until loop_quit(). Returns 0 or -errno on a loop failure. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);

/*
 * A poller runs on the I/O thread before it blocks, and again while any
 * poller finds work, until the loop's poll budget passes without any (then
 * the thread sleeps until an event). It must look for work without system
 * calls (ring indices in guest memory, completion rings) and return true if
 * it found some. Cuts the wake-up latency of busy devices for some CPU.
 *
 * @idle (may be NULL) runs when the budget has passed, just before the
 * thread sleeps: a device that needs no notifications from its driver while
 * it is polled asks for them there, and looks once more. It returns true if
 * it found work; then the loop polls on.
 */
typedef bool (*loop_poll_cb)(void *opaque);
int loop_add_poller(struct loop *l, loop_poll_cb cb, loop_poll_cb idle, void *opaque);
void loop_set_poll_ns(struct loop *l, uint64_t ns);
/* Whether pollers run at all (io_uring and a poll budget above 0): if not,
 * neither do their idle callbacks. */
bool loop_polls(const struct loop *l);

/*
 * Deferred work, for a device that stopped at its work budget with work
 * left (docs/virtio.md, "Work budgets"): loop_defer() asks the loop to call
 * @cb(@opaque) on its next turn, after the events ready by then (signals,
 * timers, the control API, other devices) have been dispatched. While any
 * work is pending the loop looks for events without sleeping. Each pending
 * item runs once per turn, so a callback that still has work after another
 * budget calls loop_defer() again and is served again on the turn after.
 * loop_add_work returns an id >= 0, or -ENOSPC.
 */
typedef void (*loop_work_cb)(void *opaque);
int loop_add_work(struct loop *l, loop_work_cb cb, void *opaque);
/* Marks work @id pending; marking it twice before it runs runs it once. */
void loop_defer(struct loop *l, int id);
/* Whether any work is pending (tests). */
bool loop_has_deferred(const struct loop *l);

/* "io_uring" or "epoll". */
const char *loop_backend(const struct loop *l);
/* The ring, for backends that submit their own I/O; NULL on epoll. */
struct io_uring *loop_ring(struct loop *l);

#endif
