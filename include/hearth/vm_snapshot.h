/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of a whole VM (docs/snapshot.md): the payload of the state file
 * (snapshot.h) is the KVM VM record, one record per vCPU, then every
 * device's record in the order the VM creates them; the memory file is
 * guest RAM. Part of the vm component.
 */
#ifndef HEARTH_VM_SNAPSHOT_H
#define HEARTH_VM_SNAPSHOT_H

#include <stddef.h>

#include "hearth/config.h"
#include "hearth/cpus.h"
#include "hearth/devices.h"
#include "hearth/mem.h"
#include "hearth/snapshot.h"

/* What a snapshot is taken of, or restored into. */
struct vm_parts {
	const struct vm_config *cfg;
	int vm_fd;
	const struct guest_mem *gm;
	struct cpus *cpus;
	struct devices *devs;
};

/*
 * Writes a snapshot of the paused VM into directory @dir (made, mode 0700,
 * if it does not exist; its parent must). Returns 0, or an HTTP status for
 * the control API with a one-line reason in @why: 503 while a device still
 * has requests in flight (the I/O thread completes them: ask again), 409
 * when a vCPU parked in the middle of an exit, 500 for a failure of the
 * host (a full disk, a KVM ioctl), 400 for a @dir that cannot be one. An
 * old state file in @dir is removed before the new memory file replaces
 * the old one, and the new state is written last: a snapshot that failed
 * half way has no state file, and a restore refuses it rather than pair a
 * state with a memory file of another moment.
 */
int vm_snapshot_write(const struct vm_parts *p, const char *dir, char *why, size_t len);

/*
 * --restore: reads the state file's header in @cfg->restore and sets
 * @cfg's vCPUs and memory from it; refuses a snapshot whose disks or NICs
 * are not as many as @cfg gives. 0 or -errno with a one-line reason.
 */
int vm_snapshot_shape(struct vm_config *cfg, char *err, size_t errlen);

/*
 * Opens the snapshot for a restore: checks the state file again against
 * @cfg (it may have changed since vm_snapshot_shape), keeps its payload in
 * @s and the memory file's descriptor. 0 or -errno with a reason.
 */
struct vm_restore {
	void *payload;
	size_t len;
	int memory_fd;
};
int vm_restore_open(struct vm_restore *s, const struct vm_config *cfg, char *err, size_t errlen);
/* Applies the payload to a VM built for it and never run. 0 or -errno with
 * a reason; the caller throws the VM away on failure. */
int vm_restore_apply(struct vm_restore *s, const struct vm_parts *p, char *err, size_t errlen);
void vm_restore_close(struct vm_restore *s);

#endif
