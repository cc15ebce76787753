/* SPDX-License-Identifier: MIT */
/*
 * The interrupt handle a device gets. The VM implements it on top of
 * KVM_IRQ_LINE; unit tests implement it with a recorder. Devices never see
 * KVM file descriptors.
 */
#ifndef HEARTH_IRQ_H
#define HEARTH_IRQ_H

#include <stdint.h>

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

/*
 * The VM's GSI routing table as KVM holds it: the legacy routes above, then
 * one MSI route per vector the guest programs. It owns its copy and its
 * lock; KVM gets the whole table on every change (KVM_SET_GSI_ROUTING).
 */
struct irq_routes;

/*
 * Creates the table for the VM @vm_fd (which must outlive it) with the
 * legacy routes and hands it to KVM. Returns 0; -ENOMEM; -ENOSPC when the
 * legacy routes do not fit; or KVM_SET_GSI_ROUTING's -errno.
 */
int irq_routes_create(struct irq_routes **out, int vm_fd);
/*
 * Sets the MSI route of @gsi (any thread: vCPU threads call it as the
 * guest programs MSI-X tables). An unchanged route costs nothing. Returns
 * 0; -ENOSPC when the table is full; or KVM's -errno, in which case the
 * table KVM last took is kept, so later changes do not fail on this one.
 */
int irq_routes_set_msi(struct irq_routes *r, unsigned gsi, uint64_t addr, uint32_t data);
void irq_routes_destroy(struct irq_routes *r);

#endif
