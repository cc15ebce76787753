// SPDX-License-Identifier: MIT
/* The CPU features --cpu-features names, and where CPUID shows each. */
#include "hearth/cpu_features.h"

#include <string.h>

#define KVM_LEAF 0x40000001

const struct cpu_feature cpu_features[] = {
	{ "fpu", 1, 0, CPU_EDX, 0, true },
	{ "vme", 1, 0, CPU_EDX, 1, true },
	{ "de", 1, 0, CPU_EDX, 2, true },
	{ "pse", 1, 0, CPU_EDX, 3, true },
	{ "tsc", 1, 0, CPU_EDX, 4, true },
	{ "msr", 1, 0, CPU_EDX, 5, true },
	{ "pae", 1, 0, CPU_EDX, 6, true },
	{ "mce", 1, 0, CPU_EDX, 7, true },
	{ "cx8", 1, 0, CPU_EDX, 8, true },
	{ "apic", 1, 0, CPU_EDX, 9, true },
	{ "sep", 1, 0, CPU_EDX, 11, true },
	{ "mtrr", 1, 0, CPU_EDX, 12, true },
	{ "pge", 1, 0, CPU_EDX, 13, true },
	{ "mca", 1, 0, CPU_EDX, 14, true },
	{ "cmov", 1, 0, CPU_EDX, 15, true },
	{ "pat", 1, 0, CPU_EDX, 16, true },
	{ "pse36", 1, 0, CPU_EDX, 17, true },
	{ "clflush", 1, 0, CPU_EDX, 19, true },
	{ "mmx", 1, 0, CPU_EDX, 23, true },
	{ "fxsr", 1, 0, CPU_EDX, 24, true },
	{ "sse", 1, 0, CPU_EDX, 25, true },
	{ "sse2", 1, 0, CPU_EDX, 26, true },
	{ "sse3", 1, 0, CPU_ECX, 0, true },
	{ "pclmulqdq", 1, 0, CPU_ECX, 1, false },
	{ "ssse3", 1, 0, CPU_ECX, 9, false },
	{ "fma", 1, 0, CPU_ECX, 12, false },
	{ "cx16", 1, 0, CPU_ECX, 13, true },
	{ "pcid", 1, 0, CPU_ECX, 17, false },
	{ "sse4_1", 1, 0, CPU_ECX, 19, false },
	{ "sse4_2", 1, 0, CPU_ECX, 20, false },
	{ "x2apic", 1, 0, CPU_ECX, 21, true },
	{ "movbe", 1, 0, CPU_ECX, 22, false },
	{ "popcnt", 1, 0, CPU_ECX, 23, false },
	{ "tsc-deadline", 1, 0, CPU_ECX, 24, true },
	{ "aes", 1, 0, CPU_ECX, 25, false },
	{ "xsave", 1, 0, CPU_ECX, 26, false },
	{ "avx", 1, 0, CPU_ECX, 28, false },
	{ "f16c", 1, 0, CPU_ECX, 29, false },
	{ "rdrand", 1, 0, CPU_ECX, 30, false },
	{ "hypervisor", 1, 0, CPU_ECX, 31, true },
	{ "fsgsbase", 7, 0, CPU_EBX, 0, false },
	{ "bmi1", 7, 0, CPU_EBX, 3, false },
	{ "avx2", 7, 0, CPU_EBX, 5, false },
	{ "smep", 7, 0, CPU_EBX, 7, false },
	{ "bmi2", 7, 0, CPU_EBX, 8, false },
	{ "erms", 7, 0, CPU_EBX, 9, false },
	{ "invpcid", 7, 0, CPU_EBX, 10, false },
	{ "avx512f", 7, 0, CPU_EBX, 16, false },
	{ "rdseed", 7, 0, CPU_EBX, 18, false },
	{ "adx", 7, 0, CPU_EBX, 19, false },
	{ "smap", 7, 0, CPU_EBX, 20, false },
	{ "clflushopt", 7, 0, CPU_EBX, 23, false },
	{ "clwb", 7, 0, CPU_EBX, 24, false },
	{ "sha", 7, 0, CPU_EBX, 29, false },
	{ "umip", 7, 0, CPU_ECX, 2, false },
	{ "pku", 7, 0, CPU_ECX, 3, false },
	{ "rdpid", 7, 0, CPU_ECX, 22, false },
	{ "lahf_lm", 0x80000001, 0, CPU_ECX, 0, true },
	{ "abm", 0x80000001, 0, CPU_ECX, 5, false },
	{ "syscall", 0x80000001, 0, CPU_EDX, 11, true },
	{ "nx", 0x80000001, 0, CPU_EDX, 20, true },
	{ "pdpe1gb", 0x80000001, 0, CPU_EDX, 26, false },
	{ "rdtscp", 0x80000001, 0, CPU_EDX, 27, false },
	{ "lm", 0x80000001, 0, CPU_EDX, 29, true },
	{ "kvmclock", KVM_LEAF, 0, CPU_EAX, 3, true },
	{ "kvm-nopiodelay", KVM_LEAF, 0, CPU_EAX, 1, true },
	{ "kvm-async-pf", KVM_LEAF, 0, CPU_EAX, 4, true },
	{ "kvm-steal-time", KVM_LEAF, 0, CPU_EAX, 5, true },
	{ "kvm-pv-eoi", KVM_LEAF, 0, CPU_EAX, 6, true },
	{ "kvm-pv-unhalt", KVM_LEAF, 0, CPU_EAX, 7, true },
	{ "kvm-pv-tlb-flush", KVM_LEAF, 0, CPU_EAX, 9, true },
	{ "kvm-pv-ipi", KVM_LEAF, 0, CPU_EAX, 11, true },
	{ "kvm-poll-control", KVM_LEAF, 0, CPU_EAX, 12, true },
	{ "kvm-pv-sched-yield", KVM_LEAF, 0, CPU_EAX, 13, true },
};

const size_t cpu_features_count = sizeof(cpu_features) / sizeof(cpu_features[0]);

const struct cpu_feature *cpu_feature_find(const char *name)
{
	for (size_t i = 0; i < cpu_features_count; i++)
		if (!strcmp(cpu_features[i].name, name))
			return &cpu_features[i];
	return NULL;
}
