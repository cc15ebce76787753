/* SPDX-License-Identifier: MIT */
/*
 * A virtual machine: owns /dev/kvm and the VM fd, guest memory, the buses,
 * the irqchip, the devices, the vCPUs and the I/O loop; tears them down in
 * reverse. The calling thread becomes the I/O thread while the VM runs.
 */
#ifndef HEARTH_VM_H
#define HEARTH_VM_H

#include <stddef.h>

#include "hearth/config.h"

struct vm;

/*
 * Completes @cfg as config_load() left it with what layers above the
 * configuration own (docs/architecture.md, "Layers"): each disk's iSCSI URL
 * is checked and its password moved to url_password, so nothing that shows
 * the configuration shows it. Call it once, right after config_load().
 * Returns 0, or -EINVAL with a one-line reason naming --disk in @err.
 */
int vm_config_resolve(struct vm_config *cfg, char *err, size_t errlen);

/*
 * Wipes the CHAP passwords hearth no longer needs once vm_create() has
 * returned (the iSCSI logins are done): the configuration's copies of URL
 * passwords, and HEARTH_ISCSI_PASSWORD / HEARTH_ISCSI_TARGET_PASSWORD in
 * the environment. libiscsi keeps its own copy for reconnects.
 */
void vm_config_wipe_secrets(struct vm_config *cfg);

/*
 * Builds a VM from @cfg (which must outlive it). Returns 0, or the process
 * exit code for the failure (HEARTH_EXIT_USAGE for bad input files or
 * options, HEARTH_EXIT_HOST for /dev/kvm and host problems) with a one-line
 * reason in @err; nothing is left behind on failure.
 */
int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen);

/* Runs the guest until it stops; returns the process exit code. */
int vm_run(struct vm *vm);

void vm_destroy(struct vm *vm);

#endif
