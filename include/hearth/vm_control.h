/* SPDX-License-Identifier: MIT */
/*
 * The VM's side of the control API (docs/api.md): the api_vm_ops callbacks
 * (state, pause, resume, shutdown, stop, configuration, metrics) over the
 * run state, the I/O thread's events, the devices and the vCPUs, and the
 * API server they are served by. Part of the vm component: the VM embeds
 * it; its fields are its own. Every callback runs on the I/O thread.
 */
#ifndef HEARTH_VM_CONTROL_H
#define HEARTH_VM_CONTROL_H

#include "hearth/api.h"
#include "hearth/devices.h"
#include "hearth/failure.h"
#include "hearth/runstate.h"
#include "hearth/vcpu.h"
#include "hearth/vm_events.h"
#include "hearth/vm_snapshot.h"

struct loop;

/* What the callbacks act on; all must outlive the control API. */
struct vm_control_env {
	const struct vm_config *cfg;
	struct runstate *rs;
	struct vm_events *ev;
	struct devices *devs;
	struct vcpu *vcpus;
	unsigned nvcpus;
	struct loop *loop;
	struct vm_parts parts; /* what a snapshot is taken of */
};

struct vm_control {
	struct vm_control_env env;
	struct api_server *api; /* NULL: no API */
	struct api_vm_ops ops;
};

/*
 * Serves the API on --api-socket PATH, or on the socket systemd passed
 * (docs/systemd.md); with neither, does nothing. 0, or -errno with the
 * reason in @f. A zeroed struct vm_control is a valid "no API" too.
 */
int vm_control_create(struct vm_control *c, const struct vm_control_env *env, struct failure *f);
void vm_control_destroy(struct vm_control *c);

#endif
