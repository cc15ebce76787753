// SPDX-License-Identifier: MIT
#include "hearth/runstate.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hearth/loop.h"

void runstate_init(struct runstate *rs)
{
	pthread_condattr_t ca;

	memset(rs, 0, sizeof(*rs));
	rs->stop_fd = -1;
	pthread_mutex_init(&rs->lock, NULL);
	pthread_mutex_init(&rs->pause.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rs->pause.cond, &ca);
	pthread_condattr_destroy(&ca);
}

void runstate_fini(struct runstate *rs)
{
	if (rs->stop_fd >= 0)
		close(rs->stop_fd);
	rs->stop_fd = -1;
	pthread_mutex_destroy(&rs->lock);
	pthread_mutex_destroy(&rs->pause.lock);
	pthread_cond_destroy(&rs->pause.cond);
}

static void on_stop(void *opaque, uint32_t events)
{
	struct runstate *rs = opaque;
	eventfd_t v;

	(void)events;
	eventfd_read(rs->stop_fd, &v);
	loop_quit(rs->loop);
}

int runstate_watch(struct runstate *rs, struct loop *loop)
{
	rs->loop = loop;
	rs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rs->stop_fd < 0)
		return -errno;
	return loop_watch(loop, rs->stop_fd, on_stop, rs) < 0 ? -EIO : 0;
}

void runstate_stop(struct runstate *rs, enum vm_stop_reason why, int status)
{
	pthread_mutex_lock(&rs->lock);
	if (!rs->requested) {
		rs->requested = true;
		rs->reason = why;
		rs->status = status;
	}
	pthread_mutex_unlock(&rs->lock);
	/* The vCPU asking (e.g. through the exit device) must not run on
	 * into whatever the guest does next; the others are kicked by the
	 * event loop. */
	atomic_store(&rs->stopping, true);
	eventfd_write(rs->stop_fd, 1);
}

int runstate_exit_code_of(enum vm_stop_reason why, int status)
{
	switch (why) {
	case VM_STOP_POWEROFF: return HEARTH_EXIT_POWEROFF;
	case VM_STOP_STATUS: return status & 0xff;
	case VM_STOP_RESET: return HEARTH_EXIT_RESET;
	case VM_STOP_CRASH: return HEARTH_EXIT_CRASH;
	case VM_STOP_TIMEOUT: return HEARTH_EXIT_TIMEOUT;
	case VM_STOP_SIGNAL: return 128 + (status & 0x7f);
	case VM_STOP_API: return HEARTH_EXIT_API_STOP;
	default: return HEARTH_EXIT_HOST;
	}
}

int runstate_exit_code(const struct runstate *rs)
{
	return runstate_exit_code_of(rs->reason, rs->status);
}

enum vm_stop_reason runstate_reason(const struct runstate *rs)
{
	return rs->reason;
}

int runstate_status(const struct runstate *rs)
{
	return rs->status;
}

static unsigned started(const struct vcpu *v, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += v[i].started;
	return k;
}

int runstate_pause(struct runstate *rs, struct vcpu *v, unsigned n, int wait_ms)
{
	unsigned want = started(v, n);
	struct timespec until;
	bool all;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	pthread_mutex_lock(&rs->pause.lock);
	atomic_store(&rs->pause.requested, true);
	pthread_mutex_unlock(&rs->pause.lock);
	for (unsigned i = 0; i < n; i++)
		vcpu_kick(&v[i]);
	pthread_mutex_lock(&rs->pause.lock);
	while (rs->pause.parked + rs->pause.exited < want &&
	       pthread_cond_timedwait(&rs->pause.cond, &rs->pause.lock, &until) != ETIMEDOUT)
		;
	all = rs->pause.parked + rs->pause.exited >= want;
	pthread_mutex_unlock(&rs->pause.lock);
	rs->paused = true;
	if (!all) {
		runstate_resume(rs);
		return -ETIMEDOUT;
	}
	return 0;
}

void runstate_resume(struct runstate *rs)
{
	pthread_mutex_lock(&rs->pause.lock);
	atomic_store(&rs->pause.requested, false);
	pthread_cond_broadcast(&rs->pause.cond);
	pthread_mutex_unlock(&rs->pause.lock);
	rs->paused = false;
}

bool runstate_paused(const struct runstate *rs)
{
	return rs->paused;
}

unsigned runstate_exited(struct runstate *rs)
{
	unsigned n;

	pthread_mutex_lock(&rs->pause.lock);
	n = rs->pause.exited;
	pthread_mutex_unlock(&rs->pause.lock);
	return n;
}

void runstate_stop_vcpus(struct runstate *rs, struct vcpu *v, unsigned n)
{
	atomic_store(&rs->stopping, true);
	pthread_mutex_lock(&rs->pause.lock); /* parked vCPUs see it under the lock */
	pthread_cond_broadcast(&rs->pause.cond);
	pthread_mutex_unlock(&rs->pause.lock);
	for (unsigned i = 0; i < n; i++)
		vcpu_kick(&v[i]);
	for (unsigned i = 0; i < n; i++)
		vcpu_join(&v[i]);
}
