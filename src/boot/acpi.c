// SPDX-License-Identifier: MIT
/*
 * ACPI tables for guests whose kernels find CPUs and interrupts through
 * ACPI only (Debian's cloud kernel has no MP table parser) and power off
 * through it: RSDP, RSDT, XSDT, a hardware-reduced FADT whose sleep control
 * register is hearth's power device, a DSDT holding only \_S5_, and a MADT
 * with the CPUs, the I/O APIC and the ISA overrides irq_isa_pin() names.
 * No AML interpreter work beyond one package; no SCI, no GPEs.
 */
#include <errno.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/boot.h"
#include "hearth/irq.h"

#define HDR_LEN 36

struct out {
	uint8_t *base;
	size_t room, used;
	int err;
};

static void put8(uint8_t *p, uint8_t v)
{
	p[0] = v;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Reserves @len bytes at a 16-byte boundary; returns the offset or SIZE_MAX. */
static size_t take(struct out *o, size_t len)
{
	size_t at = (o->used + 15) & ~(size_t)15;

	if (o->err || at > o->room || len > o->room - at) {
		o->err = -ENOSPC;
		return SIZE_MAX;
	}
	o->used = at + len;
	return at;
}

/* A table with the standard header; the body is filled by the caller. */
static uint8_t *table(struct out *o, const char sig[4], size_t len, uint8_t rev, size_t *at)
{
	uint8_t *t;

	*at = take(o, len);
	if (*at == SIZE_MAX)
		return NULL;
	t = o->base + *at;
	memset(t, 0, len);
	memcpy(t, sig, 4);
	put32(t + 4, (uint32_t)len);
	put8(t + 8, rev);
	memcpy(t + 10, "HEARTH", 6);
	memcpy(t + 16, "HEARTHVM", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "HRTH", 4);
	put32(t + 32, 1);
	return t;
}

static void seal(uint8_t *t)
{
	uint32_t len =
		(uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;

	t[9] = 0;
	t[9] = (uint8_t)(0 - sum(t, len));
}

/* Generic Address Structure for a byte-wide I/O port. */
static void gas_io8(uint8_t *p, uint16_t port)
{
	put8(p, 1); /* system I/O */
	put8(p + 1, 8);
	put8(p + 2, 0);
	put8(p + 3, 1); /* byte access */
	put64(p + 4, port);
}

/* DSDT: Name (\_S5_, Package () { 5, 0, 0, 0 }): SLP_TYP 5 means power off. */
static const uint8_t dsdt_aml[] = { 0x08, '_',	'S',  '5',  '_',
				    0x12, 0x07, 0x04, 0x0a, ACPI_SLP_TYP_S5,
				    0x00, 0x00, 0x00 };

static size_t madt_len(unsigned ncpus)
{
	size_t n = HDR_LEN + 8 + 8 * (size_t)ncpus + 12 + 6;

	for (unsigned irq = 0; irq < 16; irq++)
		if (irq_isa_pin(irq) >= 0 && irq_isa_pin(irq) != (int)irq)
			n += 10;
	return n;
}

static void fill_madt(uint8_t *t, unsigned ncpus)
{
	uint8_t *e = t + HDR_LEN;

	put32(e, (uint32_t)HEARTH_LAPIC_BASE);
	put32(e + 4, 1); /* PCAT_COMPAT: there are 8259s */
	e += 8;
	for (unsigned i = 0; i < ncpus; i++, e += 8) {
		put8(e, 0); /* processor local APIC */
		put8(e + 1, 8);
		put8(e + 2, (uint8_t)i);
		put8(e + 3, (uint8_t)i);
		put32(e + 4, 1); /* enabled */
	}
	put8(e, 1); /* I/O APIC, ID after the CPUs' as in the MP table */
	put8(e + 1, 12);
	put8(e + 2, (uint8_t)ncpus);
	put32(e + 4, (uint32_t)HEARTH_IOAPIC_BASE);
	put32(e + 8, 0);
	e += 12;
	for (unsigned irq = 0; irq < 16; irq++) {
		int pin = irq_isa_pin(irq);

		if (pin < 0 || pin == (int)irq)
			continue;
		put8(e, 2); /* interrupt source override */
		put8(e + 1, 10);
		put8(e + 2, 0); /* ISA */
		put8(e + 3, (uint8_t)irq);
		put32(e + 4, (uint32_t)pin);
		put16(e + 8, 0); /* conforming */
		e += 10;
	}
	put8(e, 4); /* local APIC NMI on LINT1 of every CPU */
	put8(e + 1, 6);
	put8(e + 2, 0xff);
	put16(e + 3, 0);
	put8(e + 5, 1);
}

static void fill_fadt(uint8_t *t, uint64_t dsdt)
{
	put32(t + 40, (uint32_t)dsdt);
	put16(t + 46, 9);			   /* SCI_INT: unused (hardware-reduced) */
	put16(t + 109, 0x3);			   /* IAPC_BOOT_ARCH: legacy devices, 8042 */
	put32(t + 112, 1u << 20 |		   /* HW_REDUCED_ACPI */
			       1u << 10 |	   /* RESET_REG_SUP */
			       1u << 4 | 1u << 5); /* no fixed power/sleep buttons */
	gas_io8(t + 116, HEARTH_PORT_I8042_CMD);   /* reset: 0xfe to the i8042 */
	put8(t + 128, 0xfe);
	put8(t + 131, 1); /* FADT 6.1 */
	put64(t + 140, dsdt);
	gas_io8(t + 244, HEARTH_PORT_ACPI_SLEEP);
	gas_io8(t + 256, HEARTH_PORT_ACPI_SLEEP + 1);
	memcpy(t + 268, "HEARTHVM", 8);
}

int acpi_write(struct guest_mem *gm, uint64_t gpa, size_t room, unsigned ncpus)
{
	struct out o = { 0 };
	size_t rsdp, rsdt, xsdt, fadt, dsdt, madt;
	uint8_t *p, *trsdt, *txsdt, *tfadt, *tdsdt, *tmadt;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS || gpa % 16 || room > 0x100000000ULL ||
	    gpa > 0x100000000ULL - room) /* the RSDT holds 32-bit addresses */
		return -EINVAL;
	o.base = gm_ptr(gm, gpa, room);
	if (!o.base)
		return -EFAULT;
	o.room = room;
	rsdp = take(&o, 36);
	tdsdt = table(&o, "DSDT", HDR_LEN + sizeof(dsdt_aml), 2, &dsdt);
	tfadt = table(&o, "FACP", 276, 6, &fadt);
	tmadt = table(&o, "APIC", madt_len(ncpus), 4, &madt);
	trsdt = table(&o, "RSDT", HDR_LEN + 2 * 4, 1, &rsdt);
	txsdt = table(&o, "XSDT", HDR_LEN + 2 * 8, 1, &xsdt);
	if (o.err)
		return o.err;

	memcpy(tdsdt + HDR_LEN, dsdt_aml, sizeof(dsdt_aml));
	seal(tdsdt);
	fill_fadt(tfadt, gpa + dsdt);
	seal(tfadt);
	fill_madt(tmadt, ncpus);
	seal(tmadt);
	put32(trsdt + HDR_LEN, (uint32_t)(gpa + fadt));
	put32(trsdt + HDR_LEN + 4, (uint32_t)(gpa + madt));
	seal(trsdt);
	put64(txsdt + HDR_LEN, gpa + fadt);
	put64(txsdt + HDR_LEN + 8, gpa + madt);
	seal(txsdt);

	p = o.base + rsdp;
	memset(p, 0, 36);
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "HEARTH", 6);
	put8(p + 15, 2); /* ACPI 2.0+: XSDT */
	put32(p + 16, (uint32_t)(gpa + rsdt));
	put32(p + 20, 36);
	put64(p + 24, gpa + xsdt);
	put8(p + 8, (uint8_t)(0 - sum(p, 20)));
	put8(p + 32, (uint8_t)(0 - sum(p, 36)));
	return (int)o.used;
}
