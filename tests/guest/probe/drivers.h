#ifndef PROBE_DRIVERS_H
#define PROBE_DRIVERS_H

#include <stdint.h>

#include "probe.h"

void serial_init(void);
void putc_(char c);
void puts_(const char *s);
void putu(uint64_t v);
void putx(uint64_t v);

uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
uint32_t ioapic_read(uint32_t reg);
void ioapic_write(uint32_t reg, uint32_t v);
void pic_mask_all(void);
void pit_periodic(uint16_t divisor);

struct mp_info {
	unsigned cpus;
	uint8_t apic_id[MAX_CPUS];
	int irq0_pin; /* I/O APIC pin of ISA IRQ 0, -1 if not listed */
};
int mptable_read(struct mp_info *mi);
/* CPUs the ACPI MADT lists (enabled local APICs), found through the RSDP
 * and XSDT (or RSDT); -1 without ACPI tables. */
int acpi_madt_cpus(void);

/* PCI configuration mechanism #1, bus 0 (virtio.c) */
uint32_t pci_read(unsigned slot, unsigned off);
void pci_write(unsigned slot, unsigned off, uint32_t v);
/* Address of memory BAR @bi, 0 if not a reachable memory BAR. */
uint64_t bar_addr(unsigned slot, unsigned bi);

/* A virtio-pci (modern) function and where its structures are. */
struct vpci {
	unsigned slot;
	uint64_t common, notify, isr, devcfg;
	uint32_t notify_mult;
};
/* The @index-th function with PCI device id @device_id (0x1041 net,
 * 0x1042 block); 0, or -1 if there is none. */
int vpci_find(uint16_t device_id, unsigned index, struct vpci *v);

#endif
