/* SPDX-License-Identifier: MIT */
/*
 * Whether a VM runs, is paused or is stopping, and why it stopped: the
 * first stop request (any thread) with its reason and status, the
 * `stopping` flag every vCPU checks, the eventfd that wakes the I/O loop,
 * the pause handshake with the vCPUs, and the one place a stop becomes the
 * process exit code (docs/architecture.md, "Threads and stopping").
 *
 * The VM embeds it; its fields are its own, but for `stopping` and `pause`,
 * whose addresses the VM hands to the vCPUs (struct vcpu_env).
 */
#ifndef HEARTH_RUNSTATE_H
#define HEARTH_RUNSTATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "hearth/exit.h"
#include "hearth/vcpu.h"

struct loop;

struct runstate {
	pthread_mutex_t lock; /* the stop request */
	bool requested;
	enum vm_stop_reason reason;
	int status;
	atomic_bool stopping;
	int stop_fd; /* written at each request; the loop quits on it */
	struct loop *loop;
	struct vcpu_pause pause;
	bool paused; /* I/O thread only */
};

/* Running, no stop requested, no descriptor yet. Cannot fail. */
void runstate_init(struct runstate *rs);
/* Closes the eventfd and frees the locks. */
void runstate_fini(struct runstate *rs);
/* Creates the eventfd and has @loop quit when a stop is requested. 0 or -errno. */
int runstate_watch(struct runstate *rs, struct loop *loop);

/*
 * Requests a stop (any thread; the first request's @why and @status win)
 * and sets `stopping`, so a vCPU asking does not run on into whatever its
 * guest does next; the I/O loop then quits.
 */
void runstate_stop(struct runstate *rs, enum vm_stop_reason why, int status);
/* The process exit code for the stop requested; before any request the
 * reason reads VM_STOP_POWEROFF (the loop only quits on a request). */
int runstate_exit_code(const struct runstate *rs);
/* The exit code for a stop for @why with @status (exit.h's table). */
int runstate_exit_code_of(enum vm_stop_reason why, int status);
/* The stop requested, for the log (the I/O thread, once the vCPUs are joined). */
enum vm_stop_reason runstate_reason(const struct runstate *rs);
int runstate_status(const struct runstate *rs);

/*
 * Parks the @n vCPUs @v outside KVM_RUN, waiting at most @wait_ms for all
 * that were started to park (or end). Returns 0 with the VM paused, or
 * -ETIMEDOUT with it resumed again. I/O thread only.
 */
int runstate_pause(struct runstate *rs, struct vcpu *v, unsigned n, int wait_ms);
/* Lets parked vCPUs run again. I/O thread only. */
void runstate_resume(struct runstate *rs);
bool runstate_paused(const struct runstate *rs);
/* How many vCPU threads have ended (any thread). */
unsigned runstate_exited(struct runstate *rs);

/*
 * Sets `stopping`, wakes the parked vCPUs, kicks every one of the @n @v out
 * of KVM_RUN and joins them. Safe on vCPUs never started, and twice.
 */
void runstate_stop_vcpus(struct runstate *rs, struct vcpu *v, unsigned n);

#endif
