// SPDX-License-Identifier: MIT
/* Per-vCPU CPUID: topology, templates, overrides and host quirks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "hearth/cpuid.h"

#define IDX KVM_CPUID_FLAG_SIGNIFCANT_INDEX

static const struct kvm_cpuid_entry2 sup[] = {
	{ .function = 0, .eax = 0xd },
	/* leaf 1: sse2, fxsr, apic; ecx: sse3, x2apic, popcnt, xsave, avx */
	{ .function = 1,
	  .eax = 0x806f8,
	  .ebx = 0x00000800,
	  .ecx = 0x14a00001,
	  .edx = (1u << 26) | (1u << 24) | (1u << 9) },
	{ .function = 4, .index = 0, .flags = IDX, .eax = 0x121 }, /* L1d */
	{ .function = 4, .index = 1, .flags = IDX, .eax = 0x143 }, /* L2 */
	{ .function = 4, .index = 2, .flags = IDX, .eax = 0x163 }, /* L3 */
	{ .function = 4, .index = 3, .flags = IDX, .eax = 0 },
	{ .function = 7, .index = 0, .flags = IDX, .ebx = 1u << 5 }, /* avx2 */
	{ .function = 0xb, .index = 0, .flags = IDX },
	{ .function = 0xb, .index = 1, .flags = IDX },
	{ .function = 0xb, .index = 2, .flags = IDX },
	{ .function = 0xd, .index = 0, .flags = IDX, .eax = 7, .ebx = 0x340 },
	{ .function = 0x40000001, .eax = (1u << 3) | (1u << 7) | (1u << 11) | (1u << 13) },
	{ .function = 0x80000001, .ecx = 1, .edx = (1u << 29) | (1u << 20) | (1u << 27) },
	{ .function = 0x80000008, .eax = 0x3030, .ecx = 0 },
};
#define N (sizeof(sup) / sizeof(sup[0]))

static struct kvm_cpuid_entry2 out[N];

static struct kvm_cpuid_entry2 *get(uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(out, N, fn, idx);

	assert_non_null(e);
	return e;
}

static void topology(void **state)
{
	struct cpuid_opts o = { .ncpus = 4 };

	(void)state;
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 2, NULL), 0);
	assert_int_equal(get(1, 0)->ebx >> 24, 2);
	assert_int_equal((get(1, 0)->ebx >> 16) & 0xff, 4);
	assert_true(get(1, 0)->edx & (1u << 28)); /* HTT: several logical CPUs */
	assert_true(get(1, 0)->ecx & (1u << 31)); /* hypervisor */
	assert_int_equal(get(0xb, 0)->ebx, 1);
	assert_int_equal(get(0xb, 1)->ebx, 4);
	assert_int_equal(get(0xb, 1)->eax, 2);
	assert_int_equal(get(0xb, 1)->edx, 2);
	assert_int_equal((get(0xb, 1)->ecx >> 8) & 0xff, 2);
	assert_int_equal((get(0xb, 2)->ecx >> 8) & 0xff, 0); /* invalid level */
	assert_int_equal(get(4, 0)->eax >> 26, 3);
	assert_int_equal((get(4, 0)->eax >> 14) & 0xfff, 0);
	assert_int_equal((get(4, 2)->eax >> 14) & 0xfff, 3); /* L3 shared by all */
	assert_int_equal(get(0x80000008, 0)->ecx & 0xff, 3);

	o.ncpus = 1;
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 0, NULL), 0);
	assert_false(get(1, 0)->edx & (1u << 28));
	assert_int_equal(get(0xb, 1)->ebx, 1);
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 1, NULL), -EINVAL);
	o.ncpus = 0;
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 0, NULL), -EINVAL);
}

static void templates(void **state)
{
	struct cpuid_opts o = { .ncpus = 1, .tmpl = CPU_TEMPLATE_HOST };

	(void)state;
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 0, NULL), 0);
	assert_true(get(1, 0)->ecx & (1u << 26)); /* xsave kept */
	assert_true(get(7, 0)->ebx & (1u << 5));  /* avx2 kept */
	o.tmpl = CPU_TEMPLATE_MINIMAL;
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 0, NULL), 0);
	assert_false(get(1, 0)->ecx & (1u << 26)); /* xsave gone */
	assert_false(get(1, 0)->ecx & (1u << 28)); /* avx gone */
	assert_false(get(1, 0)->ecx & (1u << 23)); /* popcnt gone */
	assert_true(get(1, 0)->ecx & (1u << 21));  /* x2apic kept */
	assert_true(get(1, 0)->edx & (1u << 26));  /* sse2 kept */
	assert_int_equal(get(7, 0)->ebx, 0);
	assert_int_equal(get(0xd, 0)->eax, 0);
	assert_false(get(0x80000001, 0)->edx & (1u << 27)); /* rdtscp gone */
	assert_true(get(0x80000001, 0)->edx & (1u << 29));  /* lm kept */
}

static void overrides_and_quirks(void **state)
{
	struct cpu_override ov[] = { { "avx", false }, { "rdrand", true }, { "x2apic", false } };
	struct cpuid_opts o = { .ncpus = 2, .overrides = ov, .n_overrides = 3 };
	unsigned ignored = 99;

	(void)state;
	assert_non_null(cpu_feature_find("avx2"));
	assert_non_null(cpu_feature_find("kvm-pv-ipi"));
	assert_null(cpu_feature_find("avx3"));
	assert_null(cpu_feature_find(""));
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 1, &ignored), 0);
	assert_int_equal(ignored, 1); /* rdrand: KVM does not offer it here */
	assert_false(get(1, 0)->ecx & (1u << 28));
	assert_false(get(1, 0)->ecx & (1u << 30));
	assert_false(get(1, 0)->ecx & (1u << 21));
	assert_true(get(0x40000001, 0)->eax & (1u << 11));
	o.pvm_quirks = true;
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 1, &ignored), 0);
	assert_false(get(0x40000001, 0)->eax & (1u << 11)); /* PV IPI */
	assert_false(get(0x40000001, 0)->eax & (1u << 13)); /* PV sched yield */
	assert_false(get(0x40000001, 0)->eax & (1u << 7));  /* PV unhalt */
	assert_true(get(0x40000001, 0)->eax & (1u << 3));   /* kvmclock stays */
	/* An override wins over the quirk: the user asked for it. */
	ov[0] = (struct cpu_override){ "kvm-pv-ipi", true };
	assert_int_equal(cpuid_for_vcpu(sup, N, out, &o, 1, &ignored), 0);
	assert_true(get(0x40000001, 0)->eax & (1u << 11));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(topology),
		cmocka_unit_test(templates),
		cmocka_unit_test(overrides_and_quirks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
