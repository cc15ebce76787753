/* SPDX-License-Identifier: MIT */
/*
 * The VM's vCPUs as a set: created on the VM descriptor, each configured
 * (CPUID from KVM's supported set, the template, --cpu-features and the
 * topology; the boot MSRs KVM lists; the local APIC; the boot vCPU's entry
 * registers), started, saved and restored as state records (a snapshot),
 * and destroyed. Owns the array and what it asked KVM for while
 * configuring. The VM embeds it; a zeroed struct is an empty set.
 */
#ifndef HEARTH_CPUS_H
#define HEARTH_CPUS_H

#include <stdbool.h>
#include <stdint.h>

#include "hearth/boot.h"
#include "hearth/config.h"
#include "hearth/failure.h"
#include "hearth/state.h"
#include "hearth/vcpu.h"

struct cpus {
	struct vcpu *v; /* v[0..n) exist (created on KVM) */
	unsigned n;
	uint32_t *msrs; /* KVM's MSR list (vcpu_state_msr_list): the boot MSRs */
	unsigned nmsrs; /* set are among them, and a snapshot saves them */
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
/*
 * Writes one STATE_KIND_VCPU record per vCPU, in index order
 * (vcpu_state.h), with the MSRs of c->msrs that read back. Only while the
 * VM is paused (every vCPU parked, its last exit completed). 0 or the
 * first vCPU's -errno.
 */
int cpus_save(const struct cpus *c, struct state_writer *w);
/*
 * Reads @c->n records, in index order, into vCPUs that were created but
 * never ran, after the VM's record (vm_kvm_state_restore). Each vCPU's
 * whole record is read and checked before anything of it is applied, but
 * vCPUs are restored one after another: when vCPU 1's record is refused,
 * vCPU 0 already holds its restored state, and the VM is neither the one
 * saved nor a fresh one. On any error the caller must throw the VM away
 * (the restore path destroys it); it must never run. 0, or the first
 * error (vcpu_state_restore's), which also fails @r.
 */
int cpus_restore(struct cpus *c, struct state_reader *r);
/* Destroys the vCPUs (joined already) and frees the set. */
void cpus_destroy(struct cpus *c);

#endif
