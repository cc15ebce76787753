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

#endif
