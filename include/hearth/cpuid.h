/* SPDX-License-Identifier: MIT */
/*
 * Per-vCPU CPUID: KVM's supported set, shaped by a CPU template, named
 * per-feature overrides, the topology (one socket, one core per vCPU, no
 * SMT) and host quirks. Pure functions over arrays: no ioctls here.
 */
#ifndef HEARTH_CPUID_H
#define HEARTH_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "hearth/cpu_features.h"

struct cpuid_opts {
	unsigned ncpus;
	enum cpu_template tmpl;
	const struct cpu_override *overrides;
	unsigned n_overrides;
	/* Leave out the KVM paravirtual features that hang or slow guests on
	 * PVM hosts (PV IPI, PV sched yield, PV unhalt); see docs/pvm.md. */
	bool pvm_quirks;
};

/*
 * Copies @n entries of @supported into @out (room for @n entries) and
 * adjusts them for vCPU @index (its APIC ID). Returns 0, or -EINVAL when
 * @index >= ncpus or ncpus is 0. Overrides that enable a feature KVM does not
 * support are ignored, and counted in *@ignored when it is not NULL.
 */
int cpuid_for_vcpu(const struct kvm_cpuid_entry2 *supported, unsigned n,
		   struct kvm_cpuid_entry2 *out, const struct cpuid_opts *opts, unsigned index,
		   unsigned *ignored);

/* The entry for @function/@index in @e, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t function,
				    uint32_t index);

#endif
