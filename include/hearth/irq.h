/* SPDX-License-Identifier: MIT */
/*
 * The interrupt handle a device gets. The VM implements it on top of
 * KVM_IRQ_LINE; unit tests implement it with a recorder. Devices never see
 * KVM file descriptors.
 */
#ifndef HEARTH_IRQ_H
#define HEARTH_IRQ_H

struct irq_chip {
	/* Sets line @gsi to @level (0 or 1). Returns 0 or -errno. Thread safe. */
	int (*set_line)(void *opaque, unsigned gsi, int level);
	void *opaque;
};

static inline int irq_set(const struct irq_chip *chip, unsigned gsi, int level)
{
	return chip->set_line(chip->opaque, gsi, level);
}

/*
 * ISA IRQ to I/O APIC pin, as on every PC: IRQ 0 (the PIT) is wired to pin 2,
 * IRQ 2 is the PIC cascade and has no pin, the others map 1:1. The MP table
 * and the GSI routing both come from here, so they cannot disagree.
 */
#define IRQ_IOAPIC_PINS 24
static inline int irq_isa_pin(unsigned irq)
{
	return irq == 0 ? 2 : irq == 2 || irq >= 16 ? -1 : (int)irq;
}

/*
 * PCI INTx: INTA of the function in bus-0 slot @slot (1..31) is wired to
 * I/O APIC pin 16 + (slot - 1) % 8, level-triggered, active low. The MP
 * table lists every slot this way.
 */
#define IRQ_PCI_SLOTS 32
static inline unsigned irq_pci_intx_gsi(unsigned slot)
{
	return 16 + (slot - 1) % 8;
}

struct kvm_irq_routing_entry;

/*
 * Fills @e (room for @max entries) with the routing of GSIs 0-23: the ISA
 * IRQs to the PICs and the I/O APIC (per irq_isa_pin), GSIs 16-23 to their
 * I/O APIC pins. Returns the number of entries, or -ENOSPC.
 */
int irq_routing_legacy(struct kvm_irq_routing_entry *e, unsigned max);

#endif
