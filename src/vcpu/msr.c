// SPDX-License-Identifier: MIT
/* The MSR state a boot CPU starts with, limited to MSRs KVM reports. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "hearth/vcpu.h"

struct boot_msr {
	uint32_t index;
	uint64_t value;
};

static const struct boot_msr boot_msrs[] = {
	{ 0x174, 0 },		  /* IA32_SYSENTER_CS */
	{ 0x175, 0 },		  /* IA32_SYSENTER_ESP */
	{ 0x176, 0 },		  /* IA32_SYSENTER_EIP */
	{ 0xc0000081, 0 },	  /* STAR */
	{ 0xc0000082, 0 },	  /* LSTAR */
	{ 0xc0000083, 0 },	  /* CSTAR */
	{ 0xc0000084, 0 },	  /* SYSCALL_MASK */
	{ 0xc0000102, 0 },	  /* KERNEL_GS_BASE */
	{ 0x1a0, 1 },		  /* IA32_MISC_ENABLE: fast strings */
	{ 0x2ff, (1 << 11) | 6 }, /* MTRRdefType: enabled, write-back */
};

#define NBOOT (sizeof(boot_msrs) / sizeof(boot_msrs[0]))

static bool listed(const uint32_t *msrs, unsigned n, uint32_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (msrs[i] == index)
			return true;
	return false;
}

int vcpu_set_msrs(struct vcpu *v, const uint32_t *msrs, unsigned n)
{
	struct kvm_msrs *set = calloc(1, sizeof(*set) + NBOOT * sizeof(struct kvm_msr_entry));
	int ret;

	if (!set)
		return -ENOMEM;
	for (size_t i = 0; i < NBOOT; i++) {
		if (!listed(msrs, n, boot_msrs[i].index))
			continue;
		set->entries[set->nmsrs].index = boot_msrs[i].index;
		set->entries[set->nmsrs].data = boot_msrs[i].value;
		set->nmsrs++;
	}
	ret = ioctl(v->fd, KVM_SET_MSRS, set);
	ret = ret < 0 ? -errno : ret == (int)set->nmsrs ? 0 : -EINVAL;
	free(set);
	return ret;
}
