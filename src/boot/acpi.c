// SPDX-License-Identifier: MIT
/*
 * ACPI tables for guests whose kernels find CPUs, interrupts and PCI through
 * ACPI only (Debian's kernels have no MP table parser) and power off and
 * reset through it: RSDP, RSDT, XSDT, a FADT for a PC (8259s, ISA IRQs,
 * PM1a registers, the 0xcf9 reset register; not hardware-reduced, see
 * docs/acpi.md), a FACS, a DSDT (\_S5_, the PCI host bridge with its
 * windows and INTx routing, COM1 and the i8042) and a MADT with the CPUs,
 * the I/O APIC and the ISA overrides irq_isa_pin() names. No SCI source,
 * no GPEs, no control methods.
 */
#include <errno.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/aml.h"
#include "hearth/boot.h"
#include "hearth/bytes.h"
#include "hearth/irq.h"

#define HDR_LEN 36

struct out {
	uint8_t *base;
	size_t room, used;
	int err;
};

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Reserves @len bytes at an @align-byte boundary (a power of two); returns
 * the offset or SIZE_MAX. */
static size_t take(struct out *o, size_t len, size_t align)
{
	size_t at = (o->used + align - 1) & ~(align - 1);

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

	*at = take(o, len, 16);
	if (*at == SIZE_MAX)
		return NULL;
	t = o->base + *at;
	memset(t, 0, len);
	memcpy(t, sig, 4);
	st32(t + 4, (uint32_t)len);
	st8(t + 8, rev);
	memcpy(t + 10, "HEARTH", 6);
	memcpy(t + 16, "HEARTHVM", 8);
	st32(t + 24, 1);
	memcpy(t + 28, "HRTH", 4);
	st32(t + 32, 1);
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
	st8(p, 1); /* system I/O */
	st8(p + 1, 8);
	st8(p + 2, 0);
	st8(p + 3, 1); /* byte access */
	st64(p + 4, port);
}

/* The 32-bit PCI window: the MMIO hole up to the I/O APIC. hearth places
 * every BAR at its start and never moves it. */
#define PCI_MEM_START ((uint32_t)HEARTH_MMIO_HOLE_START)
#define PCI_MEM_END   ((uint32_t)HEARTH_IOAPIC_BASE - 1)

/* _CRS of the PCI host bridge: bus 0 (the only bus hearth decodes), the
 * configuration ports it consumes, and the 32-bit MMIO window. No I/O
 * window: hearth's PCI functions have no I/O BARs. */
static void pci_crs(struct aml *a)
{
	size_t buf;

	aml_name_decl(a, "_CRS");
	buf = aml_buffer(a);
	aml_res_bus(a, 0, 0);
	aml_res_io(a, HEARTH_PORT_PCI_ADDR, 8);
	aml_res_mem32(a, PCI_MEM_START, PCI_MEM_END);
	aml_res_end(a);
	aml_close(a, buf);
}

/* _PRT: INTA of every bus-0 slot to its GSI (irq_pci_intx_gsi, as the MP
 * table says); hearth wires no INTB-D. GSI form: source 0, index = GSI. */
static void pci_prt(struct aml *a)
{
	size_t prt, e;

	aml_name_decl(a, "_PRT");
	prt = aml_package(a, IRQ_PCI_SLOTS - 1);
	for (unsigned slot = 1; slot < IRQ_PCI_SLOTS; slot++) {
		e = aml_package(a, 4);
		aml_int(a, (uint64_t)slot << 16 | 0xffff); /* any function */
		aml_int(a, 0);				   /* INTA */
		aml_int(a, 0);
		aml_int(a, irq_pci_intx_gsi(slot));
		aml_close(a, e);
	}
	aml_close(a, prt);
}

/* A legacy device: _HID, _UID and a _CRS of up to two port ranges and an
 * ISA IRQ, so Linux's PNP layer binds its driver with the IRQ routed. */
static void isa_device(struct aml *a, const char *name, const char *hid, unsigned uid,
		       const uint16_t io[2][2], unsigned irq)
{
	size_t dev = aml_device(a, name), buf;

	aml_name_decl(a, "_HID");
	aml_eisaid(a, hid);
	aml_name_decl(a, "_UID");
	aml_int(a, uid);
	aml_name_decl(a, "_CRS");
	buf = aml_buffer(a);
	for (int i = 0; i < 2 && io[i][1]; i++)
		aml_res_io(a, io[i][0], (uint8_t)io[i][1]);
	aml_res_irq(a, irq);
	aml_res_end(a);
	aml_close(a, buf);
	aml_close(a, dev);
}

/* The DSDT's definition block. Returns its length, or a negative errno. */
static int build_dsdt(uint8_t *buf, size_t room)
{
	static const uint16_t com1[2][2] = { { HEARTH_PORT_COM1, 8 } };
	static const uint16_t kbd[2][2] = { { HEARTH_PORT_I8042_DATA, 1 },
					    { HEARTH_PORT_I8042_CMD, 1 } };
	struct aml a;
	size_t pkg, sb, pci;

	aml_init(&a, buf, room);
	/* Name (\_S5_, Package () { 5, 5, 0, 0 }): SLP_TYP 5 powers off */
	aml_name_decl(&a, "\\_S5");
	pkg = aml_package(&a, 4);
	aml_int(&a, ACPI_SLP_TYP_S5);
	aml_int(&a, ACPI_SLP_TYP_S5);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_close(&a, pkg);

	sb = aml_scope(&a, "\\_SB");
	pci = aml_device(&a, "PCI0");
	aml_name_decl(&a, "_HID");
	aml_eisaid(&a, "PNP0A03");
	aml_name_decl(&a, "_UID");
	aml_int(&a, 0);
	aml_name_decl(&a, "_BBN");
	aml_int(&a, 0);
	pci_crs(&a);
	pci_prt(&a);
	aml_close(&a, pci);
	isa_device(&a, "COM1", "PNP0501", 1, com1, HEARTH_IRQ_COM1);
	isa_device(&a, "KBD", "PNP0303", 0, kbd, HEARTH_IRQ_KBD);
	aml_close(&a, sb);
	return a.err ? a.err : (int)a.len;
}

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

	st32(e, (uint32_t)HEARTH_LAPIC_BASE);
	st32(e + 4, 1); /* PCAT_COMPAT: there are 8259s */
	e += 8;
	for (unsigned i = 0; i < ncpus; i++, e += 8) {
		st8(e, 0); /* processor local APIC */
		st8(e + 1, 8);
		st8(e + 2, (uint8_t)i);
		st8(e + 3, (uint8_t)i);
		st32(e + 4, 1); /* enabled */
	}
	st8(e, 1); /* I/O APIC, ID after the CPUs' as in the MP table */
	st8(e + 1, 12);
	st8(e + 2, (uint8_t)ncpus);
	st32(e + 4, (uint32_t)HEARTH_IOAPIC_BASE);
	st32(e + 8, 0);
	e += 12;
	for (unsigned irq = 0; irq < 16; irq++) {
		int pin = irq_isa_pin(irq);

		if (pin < 0 || pin == (int)irq)
			continue;
		st8(e, 2); /* interrupt source override */
		st8(e + 1, 10);
		st8(e + 2, 0); /* ISA */
		st8(e + 3, (uint8_t)irq);
		st32(e + 4, (uint32_t)pin);
		st16(e + 8, 0); /* conforming */
		e += 10;
	}
	st8(e, 4); /* local APIC NMI on LINT1 of every CPU */
	st8(e + 1, 6);
	st8(e + 2, 0xff);
	st16(e + 3, 0);
	st8(e + 5, 1);
}

/* Generic Address Structure for an I/O port block of @bytes bytes. */
static void gas_io(uint8_t *p, uint16_t port, unsigned bytes)
{
	gas_io8(p, port);
	st8(p + 1, (uint8_t)(8 * bytes));
	st8(p + 3, bytes == 1 ? 1 : 2); /* byte or word access */
}

/*
 * A PC's FADT (ACPI 6.4, 5.2.9), not hardware-reduced (docs/acpi.md): the
 * SCI on IRQ 9 (raised by the fixed-feature power button, the one event
 * source; PWR_BUTTON clear says it exists), no SMI command port (the
 * platform is always in ACPI mode), PM1a event and control blocks at
 * HEARTH_PORT_ACPI_PM1, no PM timer, no GPEs, no C2/C3, the reset register
 * at 0xcf9 (reset control of PCs' chipsets), the 8042 and legacy devices
 * present. The hardware-reduced sleep registers stay for guests that use
 * them (none does while this flag is clear).
 */
static void fill_fadt(uint8_t *t, uint64_t dsdt, uint64_t facs)
{
	st32(t + 36, (uint32_t)facs);
	st32(t + 40, (uint32_t)dsdt);
	st16(t + 46, HEARTH_IRQ_SCI);
	st32(t + 56, HEARTH_PORT_ACPI_PM1);	/* PM1a_EVT_BLK: status, enable */
	st32(t + 64, HEARTH_PORT_ACPI_PM1 + 4); /* PM1a_CNT_BLK */
	st8(t + 88, 4);				/* PM1_EVT_LEN */
	st8(t + 89, 2);				/* PM1_CNT_LEN */
	st16(t + 96, 101);			/* P_LVL2_LAT > 100: no C2 */
	st16(t + 98, 1001);			/* P_LVL3_LAT > 1000: no C3 */
	st8(t + 108, HEARTH_RTC_CENTURY);	/* CMOS century register */
	st16(t + 109, 0x3);			/* IAPC_BOOT_ARCH: legacy devices, 8042 */
	st32(t + 112, 1u << 0 |			/* WBINVD */
			      1u << 2 |		/* PROC_C1 */
			      1u << 5 |		/* no fixed sleep button */
			      1u << 10);	/* RESET_REG_SUP */
	gas_io8(t + 116, HEARTH_PORT_RESET);	/* reset: 0x06 to 0xcf9 */
	st8(t + 128, HEARTH_RESET_VALUE);
	st8(t + 131, 4); /* FADT 6.4 */
	st64(t + 132, facs);
	st64(t + 140, dsdt);
	gas_io(t + 148, HEARTH_PORT_ACPI_PM1, 4);
	gas_io(t + 172, HEARTH_PORT_ACPI_PM1 + 4, 2);
	gas_io8(t + 244, HEARTH_PORT_ACPI_SLEEP);
	gas_io8(t + 256, HEARTH_PORT_ACPI_SLEEP + 1);
	memcpy(t + 268, "HEARTHVM", 8);
}

/* FACS (5.2.10): no waking vector (no S3), no global lock owner. */
static void fill_facs(uint8_t *f)
{
	memset(f, 0, 64);
	memcpy(f, "FACS", 4);
	st32(f + 4, 64);
	st8(f + 32, 2); /* version */
}

int acpi_write(struct guest_mem *gm, uint64_t gpa, size_t room, unsigned ncpus)
{
	struct out o = { 0 };
	size_t rsdp, rsdt, xsdt, fadt, facs, dsdt, madt;
	uint8_t aml[4096], *p, *trsdt, *txsdt, *tfadt, *tdsdt, *tmadt;
	int aml_len;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS || gpa % 16 || room > 0x100000000ULL ||
	    gpa > 0x100000000ULL - room) /* the RSDT holds 32-bit addresses */
		return -EINVAL;
	o.base = gm_ptr(gm, gpa, room);
	if (!o.base)
		return -EFAULT;
	o.room = room;
	aml_len = build_dsdt(aml, sizeof(aml));
	if (aml_len < 0)
		return aml_len;
	rsdp = take(&o, 36, 16);
	facs = take(&o, 64, 64); /* FACS: 64-byte aligned, no checksum */
	tdsdt = table(&o, "DSDT", HDR_LEN + (size_t)aml_len, 2, &dsdt);
	tfadt = table(&o, "FACP", 276, 6, &fadt);
	tmadt = table(&o, "APIC", madt_len(ncpus), 4, &madt);
	trsdt = table(&o, "RSDT", HDR_LEN + 2 * 4, 1, &rsdt);
	txsdt = table(&o, "XSDT", HDR_LEN + 2 * 8, 1, &xsdt);
	if (o.err)
		return o.err;

	fill_facs(o.base + facs);
	memcpy(tdsdt + HDR_LEN, aml, (size_t)aml_len);
	seal(tdsdt);
	fill_fadt(tfadt, gpa + dsdt, gpa + facs);
	seal(tfadt);
	fill_madt(tmadt, ncpus);
	seal(tmadt);
	st32(trsdt + HDR_LEN, (uint32_t)(gpa + fadt));
	st32(trsdt + HDR_LEN + 4, (uint32_t)(gpa + madt));
	seal(trsdt);
	st64(txsdt + HDR_LEN, gpa + fadt);
	st64(txsdt + HDR_LEN + 8, gpa + madt);
	seal(txsdt);

	p = o.base + rsdp;
	memset(p, 0, 36);
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "HEARTH", 6);
	st8(p + 15, 2); /* ACPI 2.0+: XSDT */
	st32(p + 16, (uint32_t)(gpa + rsdt));
	st32(p + 20, 36);
	st64(p + 24, gpa + xsdt);
	st8(p + 8, (uint8_t)(0 - sum(p, 20)));
	st8(p + 32, (uint8_t)(0 - sum(p, 36)));
	return (int)o.used;
}
