// SPDX-License-Identifier: MIT
/*
 * Intel MultiProcessor Specification 1.4 tables: how an SMP guest without
 * ACPI finds its CPUs and the IOAPIC. hearth uses them instead of ACPI
 * because they are a few hundred bytes with no interpreter behind them
 * (docs/architecture.md explains the choice).
 */
#include <errno.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/boot.h"
#include "hearth/irq.h"

struct mpf {
	char sig[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t spec;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc {
	char sig[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t count;
	uint32_t lapic;
	uint16_t extlen;
	uint8_t extchecksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apicid, apicver, flags;
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, busid;
	char name[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, apicid, apicver, flags;
	uint32_t addr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type, irqtype;
	uint16_t irqflag;
	uint8_t srcbus, srcbusirq, dstapic, dstirq;
} __attribute__((packed));

enum {
	MP_PROCESSOR,
	MP_BUS,
	MP_IOAPIC,
	MP_INTSRC,
	MP_LINTSRC,
	CPU_ENABLED = 1,
	CPU_BSP = 2,
	MP_INT = 0,
	MP_NMI = 1,
	MP_EXTINT = 3,
	APIC_VERSION = 0x14,
	BUS_PCI = 0,
	BUS_ISA = 1,
};

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

/* Appends one entry to the table being built; the cursor is checked. */
struct cursor {
	uint8_t *base;
	size_t used, room;
	uint16_t count;
	int err;
};

static void *emit(struct cursor *c, size_t len)
{
	void *p;

	if (c->err || len > c->room - c->used) {
		c->err = -ENOSPC;
		return NULL;
	}
	p = c->base + c->used;
	memset(p, 0, len);
	c->used += len;
	c->count++;
	return p;
}

static void emit_cpus(struct cursor *c, unsigned ncpus)
{
	for (unsigned i = 0; i < ncpus; i++) {
		struct mpc_cpu *e = emit(c, sizeof(*e));

		if (!e)
			return;
		e->type = MP_PROCESSOR;
		e->apicid = (uint8_t)i;
		e->apicver = APIC_VERSION;
		e->flags = CPU_ENABLED | (i == 0 ? CPU_BSP : 0);
		e->signature = 0x600; /* family 6 */
		e->features = 0x201;  /* FPU, APIC */
	}
}

static void emit_buses_ioapic(struct cursor *c, uint8_t ioapic_id)
{
	struct mpc_bus *pci = emit(c, sizeof(*pci));
	struct mpc_bus *isa = emit(c, sizeof(*isa));
	struct mpc_ioapic *io = emit(c, sizeof(*io));

	if (!io)
		return;
	*pci = (struct mpc_bus){ MP_BUS, BUS_PCI, "PCI   " };
	*isa = (struct mpc_bus){ MP_BUS, BUS_ISA, "ISA   " };
	*io = (struct mpc_ioapic){ MP_IOAPIC, ioapic_id, APIC_VERSION, 1,
				   (uint32_t)HEARTH_IOAPIC_BASE };
}

static void emit_irqs(struct cursor *c, uint8_t ioapic_id)
{
	struct mpc_intsrc *e;

	/* ISA IRQs to the I/O APIC pins irq_isa_pin() names (the GSI routing
	 * follows the same function); conforming polarity and trigger. */
	for (uint8_t irq = 0; irq < 16; irq++) {
		int pin = irq_isa_pin(irq);

		if (pin < 0)
			continue;
		e = emit(c, sizeof(*e));
		if (!e)
			return;
		*e = (struct mpc_intsrc){ MP_INTSRC, MP_INT,	0,	     BUS_ISA,
					  irq,	     ioapic_id, (uint8_t)pin };
	}
	/* PCI INTA of slots 1..31 (docs/virtio.md): level, active low */
	for (uint8_t slot = 1; slot < IRQ_PCI_SLOTS; slot++) {
		e = emit(c, sizeof(*e));
		if (!e)
			return;
		*e = (struct mpc_intsrc){ MP_INTSRC,
					  MP_INT,
					  0x0f,
					  BUS_PCI,
					  (uint8_t)(slot << 2),
					  ioapic_id,
					  (uint8_t)irq_pci_intx_gsi(slot) };
	}
	/* LINT0 of every local APIC is ExtINT (the PIC), LINT1 is NMI. */
	e = emit(c, sizeof(*e));
	if (e)
		*e = (struct mpc_intsrc){ MP_LINTSRC, MP_EXTINT, 0, BUS_ISA, 0, 0xff, 0 };
	e = emit(c, sizeof(*e));
	if (e)
		*e = (struct mpc_intsrc){ MP_LINTSRC, MP_NMI, 0, BUS_ISA, 0, 0xff, 1 };
}

int mptable_write(struct guest_mem *gm, uint64_t gpa, size_t room, unsigned ncpus)
{
	struct cursor c = { 0 };
	struct mpf *mpf;
	struct mpc *mpc;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS || gpa % 16)
		return -EINVAL;
	c.base = gm_ptr(gm, gpa, room);
	if (!c.base)
		return -EFAULT;
	c.room = room;
	mpf = emit(&c, sizeof(*mpf));
	mpc = emit(&c, sizeof(*mpc));
	c.count = 0;
	emit_cpus(&c, ncpus);
	emit_buses_ioapic(&c, (uint8_t)ncpus);
	emit_irqs(&c, (uint8_t)ncpus);
	if (c.err)
		return c.err;
	memcpy(mpc->sig, "PCMP", 4);
	mpc->length = (uint16_t)(c.used - sizeof(*mpf));
	mpc->spec = 4;
	memcpy(mpc->oem, "HEARTH  ", 8);
	memcpy(mpc->product, "hearth VMM  ", 12);
	mpc->count = c.count;
	mpc->lapic = (uint32_t)HEARTH_LAPIC_BASE;
	mpc->checksum = checksum(mpc, mpc->length);
	memcpy(mpf->sig, "_MP_", 4);
	mpf->physptr = (uint32_t)(gpa + sizeof(*mpf));
	mpf->length = 1;
	mpf->spec = 4;
	mpf->checksum = checksum(mpf, sizeof(*mpf));
	return (int)c.used;
}
