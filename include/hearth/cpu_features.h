/* SPDX-License-Identifier: MIT */
/*
 * The x86 CPU features hearth knows by name (--cpu-features, the minimal
 * template) and where CPUID shows each: a table shared by the
 * configuration, which checks the names a user gives, and the vCPU's CPUID
 * code, which sets the bits. Pure data, no ioctls.
 */
#ifndef HEARTH_CPU_FEATURES_H
#define HEARTH_CPU_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cpu_template { CPU_TEMPLATE_HOST, CPU_TEMPLATE_MINIMAL };

/* One --cpu-features item: +NAME or -NAME. */
struct cpu_override {
	char name[24];
	bool enable;
};

enum cpu_reg { CPU_EAX, CPU_EBX, CPU_ECX, CPU_EDX };

struct cpu_feature {
	const char *name;
	uint32_t function; /* CPUID leaf */
	uint32_t index;	   /* and subleaf */
	enum cpu_reg reg;
	unsigned bit;
	bool minimal; /* part of the minimal template */
};

extern const struct cpu_feature cpu_features[];
extern const size_t cpu_features_count;

/* The feature called @name, or NULL when --cpu-features does not know it. */
const struct cpu_feature *cpu_feature_find(const char *name);

#endif
