// SPDX-License-Identifier: MIT
/*
 * KVM's built-in GSI routing sends GSI 0 to I/O APIC pin 0, while the MP
 * table (like every PC's firmware) tells the guest the PIT is on pin 2. The
 * VM replaces it with this table, which follows irq_isa_pin().
 */
#include <errno.h>
#include <linux/kvm.h>

#include "hearth/irq.h"

static int add(struct kvm_irq_routing_entry *e, unsigned max, unsigned *n, unsigned gsi,
	       unsigned chip, unsigned pin)
{
	if (*n >= max)
		return -ENOSPC;
	e[*n] = (struct kvm_irq_routing_entry){
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = chip, .pin = pin },
	};
	(*n)++;
	return 0;
}

int irq_routing_legacy(struct kvm_irq_routing_entry *e, unsigned max)
{
	unsigned n = 0;

	for (unsigned gsi = 0; gsi < IRQ_IOAPIC_PINS; gsi++) {
		int pin = gsi < 16 ? irq_isa_pin(gsi) : (int)gsi;

		if (gsi < 16 && gsi != 2 &&
		    add(e, max, &n, gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			gsi % 8))
			return -ENOSPC;
		if (pin >= 0 && add(e, max, &n, gsi, KVM_IRQCHIP_IOAPIC, (unsigned)pin))
			return -ENOSPC;
	}
	return (int)n;
}
