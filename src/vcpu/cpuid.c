// SPDX-License-Identifier: MIT
#include "hearth/cpuid.h"

#include <errno.h>
#include <string.h>

enum reg { EAX, EBX, ECX, EDX };

struct feature {
	const char *name;
	uint32_t function;
	uint32_t index;
	enum reg reg;
	unsigned bit;
	bool minimal; /* part of the minimal template */
};

#define KVM_LEAF 0x40000001

static const struct feature features[] = {
	{ "fpu", 1, 0, EDX, 0, true },
	{ "vme", 1, 0, EDX, 1, true },
	{ "de", 1, 0, EDX, 2, true },
	{ "pse", 1, 0, EDX, 3, true },
	{ "tsc", 1, 0, EDX, 4, true },
	{ "msr", 1, 0, EDX, 5, true },
	{ "pae", 1, 0, EDX, 6, true },
	{ "mce", 1, 0, EDX, 7, true },
	{ "cx8", 1, 0, EDX, 8, true },
	{ "apic", 1, 0, EDX, 9, true },
	{ "sep", 1, 0, EDX, 11, true },
	{ "mtrr", 1, 0, EDX, 12, true },
	{ "pge", 1, 0, EDX, 13, true },
	{ "mca", 1, 0, EDX, 14, true },
	{ "cmov", 1, 0, EDX, 15, true },
	{ "pat", 1, 0, EDX, 16, true },
	{ "pse36", 1, 0, EDX, 17, true },
	{ "clflush", 1, 0, EDX, 19, true },
	{ "mmx", 1, 0, EDX, 23, true },
	{ "fxsr", 1, 0, EDX, 24, true },
	{ "sse", 1, 0, EDX, 25, true },
	{ "sse2", 1, 0, EDX, 26, true },
	{ "sse3", 1, 0, ECX, 0, true },
	{ "pclmulqdq", 1, 0, ECX, 1, false },
	{ "ssse3", 1, 0, ECX, 9, false },
	{ "fma", 1, 0, ECX, 12, false },
	{ "cx16", 1, 0, ECX, 13, true },
	{ "pcid", 1, 0, ECX, 17, false },
	{ "sse4_1", 1, 0, ECX, 19, false },
	{ "sse4_2", 1, 0, ECX, 20, false },
	{ "x2apic", 1, 0, ECX, 21, true },
	{ "movbe", 1, 0, ECX, 22, false },
	{ "popcnt", 1, 0, ECX, 23, false },
	{ "tsc-deadline", 1, 0, ECX, 24, true },
	{ "aes", 1, 0, ECX, 25, false },
	{ "xsave", 1, 0, ECX, 26, false },
	{ "avx", 1, 0, ECX, 28, false },
	{ "f16c", 1, 0, ECX, 29, false },
	{ "rdrand", 1, 0, ECX, 30, false },
	{ "hypervisor", 1, 0, ECX, 31, true },
	{ "fsgsbase", 7, 0, EBX, 0, false },
	{ "bmi1", 7, 0, EBX, 3, false },
	{ "avx2", 7, 0, EBX, 5, false },
	{ "smep", 7, 0, EBX, 7, false },
	{ "bmi2", 7, 0, EBX, 8, false },
	{ "erms", 7, 0, EBX, 9, false },
	{ "invpcid", 7, 0, EBX, 10, false },
	{ "avx512f", 7, 0, EBX, 16, false },
	{ "rdseed", 7, 0, EBX, 18, false },
	{ "adx", 7, 0, EBX, 19, false },
	{ "smap", 7, 0, EBX, 20, false },
	{ "clflushopt", 7, 0, EBX, 23, false },
	{ "clwb", 7, 0, EBX, 24, false },
	{ "sha", 7, 0, EBX, 29, false },
	{ "umip", 7, 0, ECX, 2, false },
	{ "pku", 7, 0, ECX, 3, false },
	{ "rdpid", 7, 0, ECX, 22, false },
	{ "lahf_lm", 0x80000001, 0, ECX, 0, true },
	{ "abm", 0x80000001, 0, ECX, 5, false },
	{ "syscall", 0x80000001, 0, EDX, 11, true },
	{ "nx", 0x80000001, 0, EDX, 20, true },
	{ "pdpe1gb", 0x80000001, 0, EDX, 26, false },
	{ "rdtscp", 0x80000001, 0, EDX, 27, false },
	{ "lm", 0x80000001, 0, EDX, 29, true },
	{ "kvmclock", KVM_LEAF, 0, EAX, 3, true },
	{ "kvm-nopiodelay", KVM_LEAF, 0, EAX, 1, true },
	{ "kvm-async-pf", KVM_LEAF, 0, EAX, 4, true },
	{ "kvm-steal-time", KVM_LEAF, 0, EAX, 5, true },
	{ "kvm-pv-eoi", KVM_LEAF, 0, EAX, 6, true },
	{ "kvm-pv-unhalt", KVM_LEAF, 0, EAX, 7, true },
	{ "kvm-pv-tlb-flush", KVM_LEAF, 0, EAX, 9, true },
	{ "kvm-pv-ipi", KVM_LEAF, 0, EAX, 11, true },
	{ "kvm-poll-control", KVM_LEAF, 0, EAX, 12, true },
	{ "kvm-pv-sched-yield", KVM_LEAF, 0, EAX, 13, true },
};

#define NFEATURES (sizeof(features) / sizeof(features[0]))

static const char *const pvm_quirk_off[] = {
	"kvm-pv-ipi",
	"kvm-pv-sched-yield",
	"kvm-pv-unhalt",
};

bool cpuid_feature_known(const char *name)
{
	for (size_t i = 0; i < NFEATURES; i++)
		if (!strcmp(features[i].name, name))
			return true;
	return false;
}

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

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum reg r)
{
	switch (r) {
	case EAX: return &e->eax;
	case EBX: return &e->ebx;
	case ECX: return &e->ecx;
	default: return &e->edx;
	}
}

static const struct feature *lookup(const char *name)
{
	for (size_t i = 0; i < NFEATURES; i++)
		if (!strcmp(features[i].name, name))
			return &features[i];
	return NULL;
}

/* Sets or clears one feature in @out; enabling needs KVM support in @sup. */
static bool set_feature(struct kvm_cpuid_entry2 *out, unsigned n,
			const struct kvm_cpuid_entry2 *sup, const struct feature *f, bool on)
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
	for (size_t i = 0; i < NFEATURES; i++) {
		const struct feature *f = &features[i];
		struct kvm_cpuid_entry2 *e = cpuid_find(out, n, f->function, f->index);

		if (e && !f->minimal)
			*reg_of(e, f->reg) &= ~(1u << f->bit);
	}
	/* Leaf 1 ECX/EDX bits without a name are not part of the template. */
	for (unsigned i = 0; i < n; i++) {
		if (out[i].function != 1)
			continue;
		uint32_t ecx = 0, edx = 1u << 28; /* keep HTT: topology decides */

		for (size_t j = 0; j < NFEATURES; j++) {
			if (features[j].function == 1 && features[j].minimal)
				*(features[j].reg == ECX ? &ecx : &edx) |= 1u << features[j].bit;
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
			set_feature(out, n, supported, lookup(pvm_quirk_off[i]), false);
	}
	for (unsigned i = 0; i < opts->n_overrides; i++) {
		const struct feature *f = lookup(opts->overrides[i].name);

		if (!f || !set_feature(out, n, supported, f, opts->overrides[i].enable))
			skipped++;
	}
	set_topology(out, n, index, opts->ncpus);
	if (ignored)
		*ignored = skipped;
	return 0;
}
