// SPDX-License-Identifier: MIT
#include "hearth/vm_control.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/notify.h"

#define PAUSE_WAIT_MS 5000

static enum api_state api_state(void *opaque)
{
	struct vm_control *c = opaque;

	return vm_events_shutting_down(c->env.ev) ? API_SHUTTING_DOWN
	       : runstate_paused(c->env.rs)	  ? API_PAUSED
						  : API_RUNNING;
}

/* Parks every vCPU outside KVM_RUN and returns once all are parked. */
static int api_pause(void *opaque, char *why, size_t len)
{
	struct vm_control *c = opaque;

	if (vm_events_shutting_down(c->env.ev) || runstate_paused(c->env.rs)) {
		snprintf(why, len, "the guest is %s",
			 runstate_paused(c->env.rs) ? "already paused" : "shutting down");
		return 409;
	}
	if (runstate_pause(c->env.rs, c->env.vcpus, c->env.nvcpus, PAUSE_WAIT_MS)) {
		snprintf(why, len, "the vCPUs did not stop within %d ms", PAUSE_WAIT_MS);
		return 503;
	}
	log_info("control API: guest paused");
	notify_send("STATUS=guest paused");
	return 0;
}

static int api_resume(void *opaque, char *why, size_t len)
{
	struct vm_control *c = opaque;

	if (!runstate_paused(c->env.rs)) {
		snprintf(why, len, "the guest is not paused");
		return 409;
	}
	runstate_resume(c->env.rs);
	log_info("control API: guest resumed");
	notify_send("STATUS=guest running");
	return 0;
}

static int api_shutdown(void *opaque, char *why, size_t len)
{
	struct vm_control *c = opaque;

	if (vm_events_shutting_down(c->env.ev)) {
		snprintf(why, len, "the guest is already shutting down");
		return 409;
	}
	if (c->env.cfg->shutdown_timeout_ms == 0) {
		log_warn("control API: stopping the guest (--shutdown-timeout 0)");
		runstate_stop(c->env.rs, VM_STOP_API, 0);
		return 0;
	}
	vm_events_begin_shutdown(c->env.ev, 0);
	return 0;
}

static int api_stop(void *opaque, char *why, size_t len)
{
	struct vm_control *c = opaque;

	(void)why;
	(void)len;
	log_warn("control API: stopping the guest");
	runstate_stop(c->env.rs, VM_STOP_API, 0);
	return 0;
}

/* PUT /v1/vm/snapshot: only of a paused guest, whose vCPUs are parked
 * with their I/O exits completed (docs/snapshot.md) */
static int api_snapshot(void *opaque, const char *dir, char *why, size_t len)
{
	struct vm_control *c = opaque;
	int st;

	if (!runstate_paused(c->env.rs)) {
		snprintf(why, len, "the guest must be paused first (PUT /v1/vm/pause)");
		return 409;
	}
	/* a vCPU that ended counts as paused, but its last exit was never
	 * completed: a VM that is stopping cannot be saved */
	if (atomic_load(&c->env.rs->stopping) || runstate_exited(c->env.rs)) {
		snprintf(why, len, "the guest is stopping");
		return 409;
	}
	st = vm_snapshot_write(&c->env.parts, dir, why, len);
	if (st == 0)
		notify_send("STATUS=guest paused, snapshot written");
	else if (st != 503)
		log_err("control API: snapshot failed: %s", why);
	return st;
}

static struct json_object *api_config(void *opaque)
{
	const struct vm_control *c = opaque;

	return api_config_json(c->env.cfg, devices_nic_macs(c->env.devs));
}

/* Each vCPU's exit counts, and its CPU time while no vCPU thread has ended
 * (after that, a thread's clock may be gone). */
static struct api_vcpu_counts *vcpu_counts(struct vm_control *c)
{
	struct api_vcpu_counts *n = calloc(c->env.nvcpus ? c->env.nvcpus : 1, sizeof(*n));
	unsigned exited;

	_Static_assert(API_EXIT_REASONS == VCPU_EXIT_REASONS, "one count per exit reason");
	if (!n)
		return NULL;
	exited = runstate_exited(c->env.rs);
	for (unsigned i = 0; i < c->env.nvcpus; i++) {
		const struct vcpu *v = &c->env.vcpus[i];

		n[i].id = v->index;
		for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++)
			n[i].exits[r] = atomic_load_explicit(&v->exits[r], memory_order_relaxed);
		n[i].has_cpu_time = exited == 0 && v->started;
		if (n[i].has_cpu_time)
			n[i].cpu_time_us = vcpu_cpu_time_us(v);
	}
	return n;
}

static struct json_object *api_metrics(void *opaque)
{
	struct vm_control *c = opaque;
	struct api_dev_counts devs[DEVICES_MAX_VIRTIO];
	struct api_net_counts ns[CONFIG_MAX_NICS];
	struct api_console_counts con;
	struct api_vcpu_counts *vc;
	struct json_object *o;
	unsigned n = devices_counts(c->env.devs, devs, ns, &con);

	vc = vcpu_counts(c);
	if (!vc)
		return NULL;
	o = api_metrics_json(vc, c->env.nvcpus, devs, n, &con, loop_backend(c->env.loop),
			     c->env.cfg->io_poll_us, api_server_requests(c->api));
	free(vc);
	return o;
}

/* --api-socket PATH, or the socket systemd passed (docs/systemd.md). */
int vm_control_create(struct vm_control *c, const struct vm_control_env *env, struct failure *f)
{
	char why[300];
	int fd, ret;

	c->env = *env;
	if (c->env.cfg->api_socket) {
		fd = api_listen_path(c->env.cfg->api_socket, why, sizeof(why));
	} else {
		fd = api_listen_activated(why, sizeof(why));
		if (fd == -1)
			return 0; /* no API */
	}
	if (fd < 0)
		return failure_set(f, -EINVAL, HEARTH_EXIT_USAGE, "%s", why);
	c->ops = (struct api_vm_ops){ c,	api_state,  api_pause,	 api_resume,  api_shutdown,
				      api_stop, api_config, api_metrics, api_snapshot };
	ret = api_server_create(&c->api, c->env.loop, fd, c->env.cfg->api_socket, &c->ops);
	if (ret)
		return failure_set(f, ret, HEARTH_EXIT_HOST, "cannot serve the control API: %s",
				   strerror(-ret));
	log_info("control API on %s",
		 c->env.cfg->api_socket ? c->env.cfg->api_socket : "fd 3 (socket activation)");
	return 0;
}

void vm_control_destroy(struct vm_control *c)
{
	api_server_destroy(c->api);
	c->api = NULL;
}
