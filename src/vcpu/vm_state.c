// SPDX-License-Identifier: MIT
/*
 * The VM's in-kernel devices as a record (include/hearth/vcpu_state.h,
 * docs/state.md "KVM's state"): the PIC pair, the IOAPIC, the PIT and the
 * kvmclock. The chips' and the PIT's structures go into BYTES fields as
 * they are (the KVM ABI fixes their layout), each read back with its exact
 * length; the clock is one u64. Restore reads and checks the whole record
 * before its first KVM_SET_* ioctl.
 */
#include "hearth/vcpu_state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>

#define VERSION 1

/* Which lines each PIC's ELCR may make level-triggered: KVM's fixed masks
 * (i8259.c, the PIIX's: master IRQ 0-2 and slave IRQ 8 and 13 are edge). */
#define ELCR_MASK_MASTER 0xf8
#define ELCR_MASK_SLAVE	 0xde
#define IOAPIC_BASE	 0xfec00000ULL

#ifndef KVM_PIT_FLAGS_SPEAKER_DATA_ON
#define KVM_PIT_FLAGS_SPEAKER_DATA_ON 0x00000002
#endif

struct vm_rec {
	struct kvm_pic_state pic[2]; /* master, slave */
	struct kvm_ioapic_state ioapic;
	struct kvm_pit_state2 pit;
	uint64_t clock;
};

static int get_chip(int vm_fd, uint32_t id, void *p, size_t len)
{
	struct kvm_irqchip c = { .chip_id = id };

	if (ioctl(vm_fd, KVM_GET_IRQCHIP, &c))
		return -errno;
	memcpy(p, &c.chip, len);
	return 0;
}

static int set_chip(int vm_fd, uint32_t id, const void *p, size_t len)
{
	struct kvm_irqchip c = { .chip_id = id };

	memcpy(&c.chip, p, len);
	return ioctl(vm_fd, KVM_SET_IRQCHIP, &c) ? -errno : 0;
}

int vm_kvm_state_save(int vm_fd, struct state_writer *w)
{
	struct kvm_clock_data clk = { 0 };
	struct vm_rec s;
	int ret;

	memset(&s, 0, sizeof(s));
	if ((ret = get_chip(vm_fd, KVM_IRQCHIP_PIC_MASTER, &s.pic[0], sizeof(s.pic[0]))) ||
	    (ret = get_chip(vm_fd, KVM_IRQCHIP_PIC_SLAVE, &s.pic[1], sizeof(s.pic[1]))) ||
	    (ret = get_chip(vm_fd, KVM_IRQCHIP_IOAPIC, &s.ioapic, sizeof(s.ioapic))))
		return ret;
	if (ioctl(vm_fd, KVM_GET_PIT2, &s.pit) || ioctl(vm_fd, KVM_GET_CLOCK, &clk))
		return -errno;
	s.clock = clk.clock;
	state_begin(w, STATE_KIND_KVM_VM, VERSION);
	state_put_bytes(w, &s.pic[0], sizeof(s.pic[0]));
	state_put_bytes(w, &s.pic[1], sizeof(s.pic[1]));
	state_put_bytes(w, &s.ioapic, sizeof(s.ioapic));
	state_put_bytes(w, &s.pit, sizeof(s.pit));
	state_put_u64(w, s.clock);
	state_end(w);
	return w->err;
}

/* What KVM copies in as it is but a guest could never set: the ELCR masks
 * (a guest could make the timer's line level-triggered), the IOAPIC's
 * address (it would move out of the guest's sight), PIT flags hearth never
 * sets (HPET legacy mode stops the PIT), a PIT count past 16 bits. */
static bool values_ok(const struct vm_rec *s)
{
	static const uint8_t mask[2] = { ELCR_MASK_MASTER, ELCR_MASK_SLAVE };

	for (int i = 0; i < 2; i++)
		if (s->pic[i].elcr_mask != mask[i] || (s->pic[i].elcr & ~mask[i]))
			return false;
	if (s->ioapic.base_address != IOAPIC_BASE)
		return false;
	if (s->pit.flags & ~(uint32_t)KVM_PIT_FLAGS_SPEAKER_DATA_ON)
		return false;
	for (int i = 0; i < 3; i++)
		if (s->pit.channels[i].count > 0x10000) /* 0 and 0x10000 both mean 65536 */
			return false;
	return true;
}

int vm_kvm_state_restore(int vm_fd, struct state_reader *r)
{
	/* only the value: KVM_CLOCK_REALTIME would move the kvmclock on by
	 * the snapshot's age while the TSC (an MSR of each vCPU's record)
	 * comes back as it was (docs/state.md) */
	struct kvm_clock_data clk = { 0 };
	struct vm_rec s;
	int ret;

	memset(&s, 0, sizeof(s));
	state_enter(r, STATE_KIND_KVM_VM, VERSION, NULL);
	state_get_exact(r, &s.pic[0], sizeof(s.pic[0]));
	state_get_exact(r, &s.pic[1], sizeof(s.pic[1]));
	state_get_exact(r, &s.ioapic, sizeof(s.ioapic));
	state_get_exact(r, &s.pit, sizeof(s.pit));
	state_get_u64(r, &s.clock);
	if (state_leave(r))
		return r->err;
	if (!values_ok(&s))
		return state_fail(r, -EINVAL);
	clk.clock = s.clock;
	if ((ret = set_chip(vm_fd, KVM_IRQCHIP_PIC_MASTER, &s.pic[0], sizeof(s.pic[0]))) ||
	    (ret = set_chip(vm_fd, KVM_IRQCHIP_PIC_SLAVE, &s.pic[1], sizeof(s.pic[1]))) ||
	    (ret = set_chip(vm_fd, KVM_IRQCHIP_IOAPIC, &s.ioapic, sizeof(s.ioapic))))
		return state_fail(r, ret);
	if (ioctl(vm_fd, KVM_SET_PIT2, &s.pit) || ioctl(vm_fd, KVM_SET_CLOCK, &clk))
		return state_fail(r, -errno);
	return 0;
}
