/* SPDX-License-Identifier: MIT */
/*
 * The VM's vCPUs as a set: created on the VM descriptor, each configured
 * (CPUID from KVM's supported set, the template, --cpu-features and the
 * topology; the boot MSRs KVM lists; the local APIC; the boot vCPU's entry
 * registers), started, and destroyed. Owns the array and what it asked KVM
 * for while configuring. The VM embeds it; a zeroed struct is an empty set.
 */
#ifndef HEARTH_CPUS_H
#define HEARTH_CPUS_H

#include <stdbool.h>

#include "hearth/boot.h"
#include "hearth/config.h"
#include "hearth/failure.h"
#include "hearth/vcpu.h"

struct cpus {
	struct vcpu *v; /* v[0..n) exist (created on KVM) */
	unsigned n;
};

/*
 * Creates and configures @cfg->cpus vCPUs on @vm_fd; @env is shared by all
 * and must outlive them; @pvm_host: the host KVM is PVM (CPUID leaves out
 * what it lacks); @boot NULL: no entry registers (a restore sets every
 * register). 0, or -errno with the reason in @f; the vCPUs created so
 * far stay in the set for cpus_destroy().
 */
int cpus_create(struct cpus *c, int kvm_fd, int vm_fd, const struct vm_config *cfg, bool pvm_host,
		const struct vcpu_env *env, const struct boot_setup *boot, struct failure *f);
/* Starts every thread; logs and returns the first -errno. */
int cpus_start(struct cpus *c);
/* Destroys the vCPUs (joined already) and frees the set. */
void cpus_destroy(struct cpus *c);

#endif
