// SPDX-License-Identifier: MIT
#include "hearth/vm_events.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/notify.h"

void vm_events_init(struct vm_events *ev, const struct vm_config *cfg, struct runstate *rs,
		    struct devices *devs)
{
	*ev = (struct vm_events){ .cfg = cfg, .rs = rs, .devs = devs };
	ev->timer_fd = ev->signal_fd = ev->shutdown_fd = ev->watchdog_fd = -1;
}

static void on_timer(void *opaque, uint32_t events)
{
	struct vm_events *ev = opaque;

	(void)events;
	log_warn("--timeout of %llu ms expired: stopping the guest",
		 (unsigned long long)ev->cfg->timeout_ms);
	runstate_stop(ev->rs, VM_STOP_TIMEOUT, 0);
}

/* A timer on the loop, set to @ms (0: made now, armed later by set_timer()):
 * every timerfd is made before the I/O thread's seccomp filter, which has
 * no timerfd_create(). */
static int set_timer(int fd, uint64_t ms, bool periodic)
{
	struct itimerspec it = {
		.it_value.tv_sec = (time_t)(ms / 1000),
		.it_value.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	if (periodic)
		it.it_interval = it.it_value;
	return ms ? timerfd_settime(fd, 0, &it, NULL) : 0;
}

static int arm_timer(struct vm_events *ev, int *fd, uint64_t ms, bool periodic, loop_cb cb)
{
	*fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*fd < 0 || set_timer(*fd, ms, periodic) || loop_watch(ev->loop, *fd, cb, ev) < 0)
		return -1;
	return 0;
}

static void on_shutdown_deadline(void *opaque, uint32_t events)
{
	struct vm_events *ev = opaque;

	(void)events;
	log_warn("the guest did not shut down within --shutdown-timeout: stopping it");
	runstate_stop(ev->rs, ev->shutdown_signo ? VM_STOP_SIGNAL : VM_STOP_API,
		      ev->shutdown_signo);
}

static void on_watchdog(void *opaque, uint32_t events)
{
	struct vm_events *ev = opaque;
	uint64_t n;

	(void)events;
	if (read(ev->watchdog_fd, &n, sizeof(n)) == sizeof(n))
		notify_send("WATCHDOG=1");
}

/*
 * A guest whose OS listens to the ACPI power button gets a press of it
 * (systemd-logind and acpid power off); any other gets Ctrl-Alt-Del through the i8042, which
 * Linux hands to init as SIGINT (systemd would reboot on it, so it is never
 * sent to a guest that has ACPI's button). docs/acpi.md says why. A paused
 * guest is resumed first: it must run to answer.
 */
void vm_events_begin_shutdown(struct vm_events *ev, int signo)
{
	char who[32] = "control API";
	bool button;

	if (signo)
		snprintf(who, sizeof(who), "signal %d received", signo);
	if (runstate_paused(ev->rs))
		runstate_resume(ev->rs);
	ev->shutting_down = true;
	ev->shutdown_signo = signo;
	button = devices_power_button(ev->devs) == 0;
	log_warn("%s: asking the guest to shut down (%s); stopping it in %llu ms or "
		 "at a second signal",
		 who, button ? "ACPI power button" : "Ctrl-Alt-Del",
		 (unsigned long long)ev->cfg->shutdown_timeout_ms);
	notify_send("STOPPING=1\nSTATUS=asking the guest to shut down");
	if (!button && devices_ctrl_alt_del(ev->devs))
		log_warn("the guest's keyboard buffer is full: Ctrl-Alt-Del not delivered");
	if (ev->shutdown_fd < 0 ||
	    set_timer(ev->shutdown_fd, ev->cfg->shutdown_timeout_ms, false)) {
		log_err("cannot arm the shutdown deadline: stopping the guest now");
		runstate_stop(ev->rs, signo ? VM_STOP_SIGNAL : VM_STOP_API, signo);
	}
}

/*
 * SIGTERM/SIGINT: ask the guest to shut down, and stop it hard after
 * --shutdown-timeout or at a second signal.
 */
static void on_signal(void *opaque, uint32_t events)
{
	struct vm_events *ev = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(ev->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (ev->shutting_down || ev->cfg->shutdown_timeout_ms == 0) {
		log_warn("signal %u received: stopping the guest", si.ssi_signo);
		runstate_stop(ev->rs, VM_STOP_SIGNAL, (int)si.ssi_signo);
		return;
	}
	vm_events_begin_shutdown(ev, (int)si.ssi_signo);
}

int vm_events_start(struct vm_events *ev, struct loop *loop, struct failure *f)
{
	sigset_t set;

	ev->loop = loop;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (runstate_watch(ev->rs, loop))
		return failure_set(f, -EIO, HEARTH_EXIT_HOST,
				   "cannot set up the I/O thread's events");
	ev->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ev->signal_fd < 0 || loop_watch(loop, ev->signal_fd, on_signal, ev) < 0)
		return failure_set(f, -EIO, HEARTH_EXIT_HOST,
				   "cannot set up the I/O thread's events");
	if (ev->cfg->timeout_ms &&
	    arm_timer(ev, &ev->timer_fd, ev->cfg->timeout_ms, false, on_timer))
		return failure_set(f, -EIO, HEARTH_EXIT_HOST, "cannot arm the --timeout timer");
	/* the --shutdown-timeout deadline, armed when a shutdown is asked for */
	if (ev->cfg->shutdown_timeout_ms &&
	    arm_timer(ev, &ev->shutdown_fd, 0, false, on_shutdown_deadline))
		return failure_set(f, -EIO, HEARTH_EXIT_HOST,
				   "cannot set up the --shutdown-timeout timer");
	/* systemd's watchdog: ping at half the interval it asked for */
	if (notify_watchdog_usec() >= 2000 &&
	    arm_timer(ev, &ev->watchdog_fd, notify_watchdog_usec() / 2000, true, on_watchdog))
		return failure_set(f, -EIO, HEARTH_EXIT_HOST, "cannot arm the watchdog timer");
	return 0;
}

bool vm_events_shutting_down(const struct vm_events *ev)
{
	return ev->shutting_down;
}

void vm_events_close(struct vm_events *ev)
{
	int fds[] = { ev->timer_fd, ev->signal_fd, ev->shutdown_fd, ev->watchdog_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ev->timer_fd = ev->signal_fd = ev->shutdown_fd = ev->watchdog_fd = -1;
}
