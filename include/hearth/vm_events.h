/* SPDX-License-Identifier: MIT */
/*
 * The I/O thread's own events (docs/systemd.md, docs/architecture.md):
 * SIGINT and SIGTERM through a signalfd, the --timeout timer, systemd's
 * watchdog pings, and the graceful shutdown (the guest asked through ACPI
 * or the i8042, with the --shutdown-timeout deadline armed). It owns those
 * descriptors and the shutting-down state; stops go to the run state.
 * Part of the vm component: the VM embeds it; its fields are its own.
 */
#ifndef HEARTH_VM_EVENTS_H
#define HEARTH_VM_EVENTS_H

#include <stdbool.h>

#include "hearth/config.h"
#include "hearth/devices.h"
#include "hearth/failure.h"
#include "hearth/runstate.h"

struct loop;

struct vm_events {
	const struct vm_config *cfg;
	struct runstate *rs;
	struct devices *devs;
	struct loop *loop;
	int timer_fd, signal_fd, shutdown_fd, watchdog_fd;
	bool shutting_down; /* a signal or the API asked the guest to shut down */
	int shutdown_signo; /* 0: the API asked */
};

/* No descriptors yet; @cfg, @rs and @devs must outlive it. Cannot fail. */
void vm_events_init(struct vm_events *ev, const struct vm_config *cfg, struct runstate *rs,
		    struct devices *devs);
/*
 * Watches the run state's stop requests and the signals on @loop, and arms
 * the --timeout and watchdog timers. 0, or -errno with the reason in @f.
 */
int vm_events_start(struct vm_events *ev, struct loop *loop, struct failure *f);
/*
 * Asks the guest to shut down and arms the --shutdown-timeout deadline;
 * @signo is the signal that asked, 0 for the control API. I/O thread only.
 */
void vm_events_begin_shutdown(struct vm_events *ev, int signo);
bool vm_events_shutting_down(const struct vm_events *ev);
/* Closes the descriptors (after the loop that watched them is gone). */
void vm_events_close(struct vm_events *ev);

#endif
