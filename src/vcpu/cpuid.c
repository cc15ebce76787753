// SPDX-License-Identifier: MIT
#include "hearth/cpuid.h"

#include <errno.h>
#include <string.h>

static const char *const pvm_quirk_off[] = {
	"kvm-pv-ipi",
	"kvm-pv-sched-yield",
	"kvm-pv-unhalt",
};

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t function,
				    uint32_t index)
{
	for (unsigned i = 0; i < n; i++) {
		bool indexed = e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

		if (e[i].function == function && (!indexed || e[i].index == index))
			return &e[i];
	}
	return NULL;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum cpu_reg r)
{
	switch (r) {
	case CPU_EAX: return &e->eax;
	case CPU_EBX: return &e->ebx;
	case CPU_ECX: return &e->ecx;
	default: return &e->edx;
	}
}

/* Sets or clears one feature in @out; enabling needs KVM support in @sup. */
static bool set_feature(struct kvm_cpuid_entry2 *out, unsigned n,
			const struct kvm_cpuid_entry2 *sup, const struct cpu_feature *f, bool on)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(out, n, f->function, f->index);
	const struct kvm_cpuid_entry2 *s;
	uint32_t bit = 1u << f->bit;

	if (!e)
		return !on;
	if (!on) {
		*reg_of(e, f->reg) &= ~bit;
		return true;
	}
	s = sup + (e - out);
	if (!(*reg_of((struct kvm_cpuid_entry2 *)s, f->reg) & bit))
		return false;
	*reg_of(e, f->reg) |= bit;
	return true;
}

/* The minimal template: of the named leaves keep only minimal features, and
 * drop the state components and extended leaves they would advertise. */
static void apply_minimal(struct kvm_cpuid_entry2 *out, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *e = &out[i];

		if (e->function == 7 || e->function == 0xd || e->function == 0xa ||
		    e->function == 0x14) {
			e->eax = e->ebx = e->ecx = e->edx = 0;
		}
	}
	for (size_t i = 0; i < cpu_features_count; i++) {
		const struct cpu_feature *f = &cpu_features[i];
		struct kvm_cpuid_entry2 *e = cpuid_find(out, n, f->function, f->index);

		if (e && !f->minimal)
			*reg_of(e, f->reg) &= ~(1u << f->bit);
	}
	/* Leaf 1 ECX/EDX bits without a name are not part of the template. */
	for (unsigned i = 0; i < n; i++) {
		if (out[i].function != 1)
			continue;
		uint32_t ecx = 0, edx = 1u << 28; /* keep HTT: topology decides */

		for (size_t j = 0; j < cpu_features_count; j++) {
			if (cpu_features[j].function == 1 && cpu_features[j].minimal)
				*(cpu_features[j].reg == CPU_ECX ? &ecx : &edx) |=
					1u << cpu_features[j].bit;
		}
		out[i].ecx &= ecx;
		out[i].edx &= edx;
	}
}

static unsigned order(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void set_topology(struct kvm_cpuid_entry2 *out, unsigned n, unsigned index, unsigned ncpus)
{
	for (unsigned i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *e = &out[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | (index << 24) |
				 ((ncpus > 255 ? 255 : ncpus) << 16);
			if (ncpus > 1)
				e->edx |= 1u << 28;
			else
				e->edx &= ~(1u << 28);
			break;
		case 4: {
			unsigned level = (e->eax >> 5) & 7;
			unsigned sharing = level >= 3 ? ncpus - 1 : 0;

			if ((e->eax & 0x1f) == 0)
				break; /* no more caches */
			e->eax &= 0x3ff;
			e->eax |= ((ncpus - 1 > 63 ? 63 : ncpus - 1) << 26) |
				  ((sharing > 0xfff ? 0xfff : sharing) << 14);
			break;
		}
		case 0xb:
		case 0x1f:
			e->edx = index;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 1u << 8; /* SMT level */
			} else if (e->index == 1) {
				e->eax = order(ncpus);
				e->ebx = ncpus;
				e->ecx = 2u << 8 | 1; /* core level */
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xf0ffu) | (order(ncpus) << 12) | (ncpus - 1);
			break;
		default: break;
		}
	}
}

int cpuid_for_vcpu(const struct kvm_cpuid_entry2 *supported, unsigned n,
		   struct kvm_cpuid_entry2 *out, const struct cpuid_opts *opts, unsigned index,
		   unsigned *ignored)
{
	struct kvm_cpuid_entry2 *leaf1;
	unsigned skipped = 0;

	if (opts->ncpus == 0 || index >= opts->ncpus)
		return -EINVAL;
	memcpy(out, supported, n * sizeof(*out));
	if (opts->tmpl == CPU_TEMPLATE_MINIMAL)
		apply_minimal(out, n);
	leaf1 = cpuid_find(out, n, 1, 0);
	if (leaf1)
		leaf1->ecx |= 1u << 31; /* hypervisor present */
	if (opts->pvm_quirks) {
		for (size_t i = 0; i < sizeof(pvm_quirk_off) / sizeof(pvm_quirk_off[0]); i++)
			set_feature(out, n, supported, cpu_feature_find(pvm_quirk_off[i]), false);
	}
	for (unsigned i = 0; i < opts->n_overrides; i++) {
		const struct cpu_feature *f = cpu_feature_find(opts->overrides[i].name);

		if (!f || !set_feature(out, n, supported, f, opts->overrides[i].enable))
			skipped++;
	}
	set_topology(out, n, index, opts->ncpus);
	if (ignored)
		*ignored = skipped;
	return 0;
}
