// SPDX-License-Identifier: MIT
/*
 * ACPI tables: found the way Linux finds them (RSDP scan), every checksum
 * right, the MADT agrees with the MP table and the GSI routing, the FADT is
 * a PC's (not hardware-reduced: PM1a, SCI, FACS, reset through 0xcf9), the
 * DSDT parsed back as an OSPM would: the PCI host bridge with its windows
 * covering every BAR hearth places, a _PRT that is hearth's INTx wiring,
 * COM1 and the i8042 with their IRQs, \_S5_; and the AML encoder's own
 * edges (PkgLength sizes, names, integers, errors). Bad requests fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/aml.h"
#include "hearth/boot.h"
#include "hearth/irq.h"
#include "hearth/virtio_pci.h"

static struct guest_mem gm;

static int setup(void **state)
{
	(void)state;
	return gm_create(&gm, 16ULL << 20, false);
}

static int teardown(void **state)
{
	(void)state;
	gm_destroy(&gm);
	return 0;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* A table at @gpa with signature @sig and a valid checksum; returns it. */
static const uint8_t *table_at(uint64_t gpa, const char *sig)
{
	const uint8_t *t = gm_ptr(&gm, gpa, 36);
	uint32_t len;

	assert_non_null(t);
	assert_memory_equal(t, sig, 4);
	len = (uint32_t)le(t + 4, 4);
	assert_true(len >= 36);
	t = gm_ptr(&gm, gpa, len);
	assert_non_null(t);
	assert_int_equal(sum(t, len), 0);
	return t;
}

/* ---- a small AML reader: what an OSPM does with the DSDT ---- */

struct named {
	char path[40];	  /* absolute, e.g. \_SB_.PCI0._CRS */
	const uint8_t *o; /* its data object */
};
static struct named names[64];
static unsigned nnames;

/* PkgLength at @p: returns its byte count, stores the length it encodes. */
static size_t pkg_len(const uint8_t *p, size_t *len)
{
	size_t n = (size_t)(p[0] >> 6) + 1;

	if (n == 1) {
		*len = p[0] & 0x3f;
		return 1;
	}
	assert_int_equal(p[0] & 0x30, 0);
	*len = p[0] & 0xf;
	for (size_t i = 1; i < n; i++)
		*len |= (size_t)p[i] << (4 + 8 * (i - 1));
	return n;
}

/* NameString at @p relative to @scope, into @out; returns its byte count. */
static size_t name_string(const uint8_t *p, const char *scope, char *out, size_t room)
{
	const uint8_t *s = p;
	unsigned nseg = 1;

	if (*s == '\\') {
		snprintf(out, room, "\\");
		s++;
	} else {
		snprintf(out, room, "%s", scope);
	}
	if (*s == 0x2e) {
		nseg = 2;
		s++;
	} else if (*s == 0x2f) {
		nseg = s[1];
		s += 2;
	}
	for (unsigned i = 0; i < nseg; i++, s += 4) {
		size_t l = strlen(out);

		snprintf(out + l, room - l, "%s%.4s", out[l - 1] == '\\' ? "" : ".",
			 (const char *)s);
	}
	return (size_t)(s - p);
}

/* The length of the data object at @p. */
static size_t object_len(const uint8_t *p)
{
	size_t len;

	switch (p[0]) {
	case 0x00:
	case 0x01:
	case 0xff: return 1;
	case 0x0a: return 2;
	case 0x0b: return 3;
	case 0x0c: return 5;
	case 0x0e: return 9;
	case 0x0d: return strlen((const char *)p + 1) + 2;
	case 0x11:
	case 0x12: pkg_len(p + 1, &len); return 1 + len;
	default: fail_msg("unexpected data object 0x%02x", p[0]);
	}
	return 0;
}

static uint64_t int_at(const uint8_t *p)
{
	switch (p[0]) {
	case 0x00: return 0;
	case 0x01: return 1;
	case 0xff: return UINT64_MAX;
	case 0x0a: return p[1];
	case 0x0b: return le(p + 1, 2);
	case 0x0c: return le(p + 1, 4);
	case 0x0e: return le(p + 1, 8);
	default: fail_msg("not an integer: 0x%02x", p[0]);
	}
	return 0;
}

/* A TermList of Name, Scope and Device objects (all hearth writes). */
static void term_list(const uint8_t *p, const uint8_t *end, const char *scope)
{
	while (p < end) {
		char path[40];
		size_t len, n;

		if (p[0] == 0x08) {
			p += 1 + name_string(p + 1, scope, path, sizeof(path));
			assert_true(nnames < 64);
			snprintf(names[nnames].path, sizeof(names[0].path), "%s", path);
			names[nnames++].o = p;
			p += object_len(p);
		} else if (p[0] == 0x10 || (p[0] == 0x5b && p[1] == 0x82)) {
			const uint8_t *op = p;

			p += p[0] == 0x10 ? 1 : 2;
			n = pkg_len(p, &len);
			assert_true(p + len <= end);
			term_list(p + n + name_string(p + n, scope, path, sizeof(path)), p + len,
				  path);
			p += len;
			(void)op;
		} else {
			fail_msg("unexpected opcode 0x%02x", p[0]);
		}
	}
	assert_ptr_equal(p, end);
}

static const uint8_t *lookup(const char *path)
{
	for (unsigned i = 0; i < nnames; i++)
		if (strcmp(names[i].path, path) == 0)
			return names[i].o;
	fail_msg("no %s in the DSDT", path);
	return NULL;
}

/* Element @i of the package at @p. */
static const uint8_t *element(const uint8_t *p, unsigned i)
{
	size_t len, n;

	assert_int_equal(p[0], 0x12);
	n = pkg_len(p + 1, &len);
	assert_true(i < p[1 + n]);
	p += 2 + n;
	while (i--)
		p += object_len(p);
	return p;
}

static unsigned elements(const uint8_t *p)
{
	size_t len;

	assert_int_equal(p[0], 0x12);
	return p[1 + pkg_len(p + 1, &len)];
}

/* The bytes of the buffer at @p; its BufferSize must match. */
static const uint8_t *buffer(const uint8_t *p, size_t *n)
{
	size_t len, pl;

	assert_int_equal(p[0], 0x11);
	pl = pkg_len(p + 1, &len);
	*n = (size_t)int_at(p + 1 + pl);
	assert_int_equal(*n, len - pl - object_len(p + 1 + pl));
	return p + 1 + pl + object_len(p + 1 + pl);
}

static uint32_t eisaid(const char *id)
{
	uint32_t v = (uint32_t)(id[0] - '@') << 26 | (uint32_t)(id[1] - '@') << 21 |
		     (uint32_t)(id[2] - '@') << 16 | (uint32_t)strtoul(id + 3, NULL, 16);

	return __builtin_bswap32(v); /* as the integer reads little-endian */
}

struct res {
	unsigned irqs;		   /* bit per ISA IRQ */
	unsigned ios;		   /* I/O descriptors */
	uint16_t io[4][2];	   /* base, length */
	int bus_min, bus_max;	   /* -1: none */
	uint64_t mem_min, mem_max; /* mem_max 0: none */
};

/* Walks a resource template as Linux's acpi_walk_resources does. */
static struct res resources(const uint8_t *p)
{
	struct res r = { .bus_min = -1, .bus_max = -1 };
	size_t n;
	const uint8_t *b = buffer(p, &n), *end = b + n;

	for (;;) {
		assert_true(b < end);
		if (!(b[0] & 0x80)) { /* small item */
			unsigned type = b[0] >> 3, len = b[0] & 7;

			assert_true(b + 1 + len <= end);
			if (type == 0xf) {
				assert_int_equal(len, 1);
				assert_ptr_equal(b + 2, end); /* the end tag is last */
				return r;
			}
			if (type == 4)
				r.irqs |= (unsigned)le(b + 1, 2);
			else if (type == 8) {
				assert_true(r.ios < 4);
				assert_int_equal(le(b + 2, 2), le(b + 4, 2)); /* fixed */
				r.io[r.ios][0] = (uint16_t)le(b + 2, 2);
				r.io[r.ios++][1] = b[7];
			} else
				fail_msg("unexpected small resource %u", type);
			b += 1 + len;
		} else {
			size_t len = (size_t)le(b + 1, 2);

			assert_true(b + 3 + len <= end);
			if (b[0] == 0x88 && b[3] == 2) {
				r.bus_min = (int)le(b + 8, 2);
				r.bus_max = (int)le(b + 10, 2);
				assert_int_equal(le(b + 14, 2), r.bus_max - r.bus_min + 1);
			} else if (b[0] == 0x87 && b[3] == 0) {
				r.mem_min = le(b + 10, 4);
				r.mem_max = le(b + 14, 4);
				assert_int_equal(le(b + 22, 4), r.mem_max - r.mem_min + 1);
				assert_int_equal(b[4] & 1, 0); /* a producer: a window */
			} else
				fail_msg("unexpected large resource 0x%02x", b[0]);
			b += 3 + len;
		}
	}
}

static void check_dsdt(const uint8_t *dsdt)
{
	const uint8_t *s5, *prt;
	struct res r;

	nnames = 0;
	term_list(dsdt + 36, dsdt + le(dsdt + 4, 4), "\\");

	s5 = lookup("\\_S5_");
	assert_int_equal(elements(s5), 4);
	assert_int_equal(int_at(element(s5, 0)), ACPI_SLP_TYP_S5);

	/* the PCI host bridge: bus 0, a window covering every BAR hearth
	 * can place, below the I/O APIC; the configuration ports */
	assert_int_equal(int_at(lookup("\\_SB_.PCI0._HID")), eisaid("PNP0A03"));
	r = resources(lookup("\\_SB_.PCI0._CRS"));
	assert_int_equal(r.bus_min, 0);
	assert_int_equal(r.bus_max, 0);
	assert_true(r.mem_min <= HEARTH_MMIO_HOLE_START);
	assert_true(r.mem_max >=
		    HEARTH_MMIO_HOLE_START + (IRQ_PCI_SLOTS - 1) * VIRTIO_PCI_BAR_SIZE - 1);
	assert_true(r.mem_max < HEARTH_IOAPIC_BASE);
	assert_int_equal(r.ios, 1);
	assert_int_equal(r.io[0][0], HEARTH_PORT_PCI_ADDR);
	assert_int_equal(r.io[0][1], 8);
	assert_int_equal(r.irqs, 0);

	/* _PRT: INTA of slots 1-31 on the GSIs hearth wires */
	prt = lookup("\\_SB_.PCI0._PRT");
	assert_int_equal(elements(prt), IRQ_PCI_SLOTS - 1);
	for (unsigned i = 0; i < IRQ_PCI_SLOTS - 1; i++) {
		const uint8_t *e = element(prt, i);
		unsigned slot = (unsigned)(int_at(element(e, 0)) >> 16);

		assert_int_equal(elements(e), 4);
		assert_int_equal(int_at(element(e, 0)) & 0xffff, 0xffff);
		assert_int_equal(slot, i + 1);
		assert_int_equal(int_at(element(e, 1)), 0); /* INTA */
		assert_int_equal(int_at(element(e, 2)), 0); /* a GSI, no link device */
		assert_int_equal(int_at(element(e, 3)), irq_pci_intx_gsi(slot));
	}

	/* COM1 and the i8042, with the ISA IRQs the devices raise */
	assert_int_equal(int_at(lookup("\\_SB_.COM1._HID")), eisaid("PNP0501"));
	r = resources(lookup("\\_SB_.COM1._CRS"));
	assert_int_equal(r.irqs, 1u << HEARTH_IRQ_COM1);
	assert_int_equal(r.ios, 1);
	assert_int_equal(r.io[0][0], HEARTH_PORT_COM1);
	assert_int_equal(r.io[0][1], 8);
	assert_int_equal(int_at(lookup("\\_SB_.KBD_._HID")), eisaid("PNP0303"));
	r = resources(lookup("\\_SB_.KBD_._CRS"));
	assert_int_equal(r.irqs, 1u << HEARTH_IRQ_KBD);
	assert_int_equal(r.ios, 2);
	assert_int_equal(r.io[0][0], HEARTH_PORT_I8042_DATA);
	assert_int_equal(r.io[1][0], HEARTH_PORT_I8042_CMD);
}

static void check_tables(unsigned ncpus)
{
	const uint8_t *rsdp = NULL, *xsdt, *rsdt, *fadt = NULL, *madt = NULL, *dsdt, *facs, *e,
		      *end;
	unsigned cpus = 0, ioapics = 0, overrides = 0, nmis = 0;

	for (uint64_t a = 0xe0000; a < 0x100000 && !rsdp; a += 16) {
		const uint8_t *p = gm_ptr(&gm, a, 36);
		if (memcmp(p, "RSD PTR ", 8) == 0 && sum(p, 20) == 0)
			rsdp = p;
	}
	assert_non_null(rsdp);
	assert_ptr_equal(rsdp, gm_ptr(&gm, HEARTH_ACPI_RSDP, 36));
	assert_int_equal(rsdp[15], 2);
	assert_int_equal(le(rsdp + 20, 4), 36);
	assert_int_equal(sum(rsdp, 36), 0);

	xsdt = table_at(le(rsdp + 24, 8), "XSDT");
	rsdt = table_at(le(rsdp + 16, 4), "RSDT");
	assert_int_equal(le(xsdt + 4, 4), 36 + 2 * 8);
	for (int i = 0; i < 2; i++) {
		uint64_t a = le(xsdt + 36 + 8 * i, 8);
		const uint8_t *t = gm_ptr(&gm, a, 4);
		assert_int_equal(le(rsdt + 36 + 4 * i, 4), a);
		if (memcmp(t, "FACP", 4) == 0)
			fadt = table_at(a, "FACP");
		else
			madt = table_at(a, "APIC");
	}
	assert_non_null(fadt);
	assert_non_null(madt);

	/* FADT: a PC's, not hardware-reduced (Linux would then drop the 8259s
	 * and the ISA IRQ numbers, and reboot through EFI, then the BIOS) */
	assert_int_equal(le(fadt + 4, 4), 276);
	assert_int_equal(le(fadt + 112, 4) & (1u << 20), 0);
	assert_int_equal(le(fadt + 46, 2), HEARTH_IRQ_SCI);
	assert_int_equal(le(fadt + 48, 4), 0); /* no SMI_CMD: always in ACPI mode */
	assert_int_equal(le(fadt + 56, 4), HEARTH_PORT_ACPI_PM1);
	assert_int_equal(fadt[88], 4);
	assert_int_equal(le(fadt + 64, 4), HEARTH_PORT_ACPI_PM1 + 4);
	assert_int_equal(fadt[89], 2);
	assert_int_equal(le(fadt + 152, 8), HEARTH_PORT_ACPI_PM1); /* X_PM1a_EVT_BLK */
	assert_int_equal(fadt[149], 32);
	assert_int_equal(le(fadt + 176, 8), HEARTH_PORT_ACPI_PM1 + 4); /* X_PM1a_CNT_BLK */
	assert_int_equal(fadt[173], 16);
	assert_int_equal(le(fadt + 109, 2) & 2, 2); /* an 8042 */
	/* a fixed-feature power button (PWR_BUTTON clear), no sleep button */
	assert_int_equal(le(fadt + 112, 4) & (1u << 4), 0);
	assert_true(le(fadt + 112, 4) & (1u << 5));
	/* reset: RESET_REG_SUP, a byte to the chipset's reset port */
	assert_true(le(fadt + 112, 4) & (1u << 10));
	assert_int_equal(fadt[116], 1);
	assert_int_equal(fadt[117], 8);
	assert_int_equal(le(fadt + 120, 8), HEARTH_PORT_RESET);
	assert_int_equal(fadt[128], HEARTH_RESET_VALUE);
	assert_true(HEARTH_RESET_VALUE & 0x04); /* "reset CPU" */
	/* FACS: 64-byte aligned, both pointers agree */
	assert_int_equal(le(fadt + 132, 8), le(fadt + 36, 4));
	assert_int_equal(le(fadt + 36, 4) % 64, 0);
	facs = gm_ptr(&gm, le(fadt + 36, 4), 64);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(le(facs + 4, 4), 64);
	assert_int_equal(le(fadt + 140, 8), le(fadt + 40, 4));
	dsdt = table_at(le(fadt + 140, 8), "DSDT");
	check_dsdt(dsdt);

	/* MADT: the CPUs, one I/O APIC, the overrides irq_isa_pin() implies */
	assert_int_equal(le(madt + 36, 4), HEARTH_LAPIC_BASE);
	e = madt + 44;
	end = madt + le(madt + 4, 4);
	while (e < end) {
		assert_true(e[1] >= 2 && e + e[1] <= end);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[3], cpus);
			assert_int_equal(le(e + 4, 4), 1);
			cpus++;
			break;
		case 1:
			assert_int_equal(e[2], ncpus);
			assert_int_equal(le(e + 4, 4), HEARTH_IOAPIC_BASE);
			assert_int_equal(le(e + 8, 4), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal((int)le(e + 4, 4), irq_isa_pin(e[3]));
			overrides++;
			break;
		case 4: nmis++; break;
		default: fail_msg("unexpected MADT entry %u", e[0]);
		}
		e += e[1];
	}
	assert_ptr_equal(e, end);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(overrides, 1); /* IRQ 0 -> GSI 2 */
	assert_int_equal(nmis, 1);
}

static void describes_the_machine(void **state)
{
	static const unsigned counts[] = { 1, 2, 7, 64, MPTABLE_MAX_CPUS };

	(void)state;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		memset(gm_ptr(&gm, 0xe0000, 0x20000), 0, 0x20000);
		assert_true(acpi_write(&gm, HEARTH_ACPI_RSDP, 0x10000, counts[i]) > 0);
		check_tables(counts[i]);
	}
}

static void rejects_bad_requests(void **state)
{
	(void)state;
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP, 0x10000, 0), -EINVAL);
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP, 0x10000, MPTABLE_MAX_CPUS + 1), -EINVAL);
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP + 8, 0x10000, 1), -EINVAL);
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP, 200, 1), -ENOSPC);
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP, 0x800, MPTABLE_MAX_CPUS), -ENOSPC);
	assert_int_equal(acpi_write(&gm, 16ULL << 20, 0x1000, 1), -EFAULT);
	assert_int_equal(acpi_write(&gm, UINT64_MAX - 15, 0x1000, 1), -EINVAL);
}

/* ---- the AML encoder's edges ---- */

/* PkgLength: one byte below 64 in all, then two, three bytes; the
 * contents move down intact. */
static void aml_pkg_lengths(void **state)
{
	/* Scope (\_SB) { body }: the PkgLength counts itself, the 5-byte
	 * name and the body; each form's last and the next form's first size */
	static uint8_t buf[0x110000], pad[0x100000];
	static const struct {
		size_t body, bytes;
	} cases[] = { { 0, 1 },	    { 57, 1 },	    { 58, 2 },	   { 0xff8, 2 },
		      { 0xff9, 3 }, { 0xffff7, 3 }, { 0xffff8, 4 } };
	struct aml a;

	(void)state;
	memset(pad, 0x5a, sizeof(pad));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t at, n, len, body = cases[i].body;

		aml_init(&a, buf, sizeof(buf));
		at = aml_scope(&a, "\\_SB");
		aml_bytes(&a, pad, body);
		aml_close(&a, at);
		assert_int_equal(a.err, 0);
		n = pkg_len(buf + 1, &len);
		assert_int_equal(n, cases[i].bytes);
		assert_int_equal(len, n + 5 + body);
		assert_int_equal(a.len, 1 + len);
		assert_memory_equal(buf + 1 + n, "\\_SB_", 5);
		assert_memory_equal(buf + 1 + n + 5, pad, body);
	}
}

static void aml_encodings(void **state)
{
	uint8_t buf[256];
	struct aml a;
	size_t at, n;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	aml_int(&a, 0);
	aml_int(&a, 1);
	aml_int(&a, 2);
	aml_int(&a, 0x100);
	aml_int(&a, 0x10000);
	aml_int(&a, 0x100000000ULL);
	aml_int(&a, UINT64_MAX);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.len, 1 + 1 + 2 + 3 + 5 + 9 + 1);
	assert_memory_equal(buf, "\x00\x01\x0a\x02\x0b\x00\x01\x0c\x00\x00\x01\x00", 12);
	assert_int_equal(buf[a.len - 1], 0xff);

	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "PCI0");
	aml_name(&a, "\\_SB.PCI0");
	aml_name(&a, "^^A.B.C");
	assert_int_equal(a.err, 0);
	assert_memory_equal(buf,
			    "PCI0\\\x2e_SB_PCI0^^\x2f\x03"
			    "A___B___C___",
			    4 + 10 + 2 + 2 + 12);

	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP0A03");
	assert_memory_equal(buf, "\x0c\x41\xd0\x0a\x03", 5);

	/* a buffer: BufferSize is the byte count, in its shortest form */
	aml_init(&a, buf, sizeof(buf));
	at = aml_buffer(&a);
	aml_res_irq(&a, 4);
	aml_res_end(&a);
	aml_close(&a, at);
	assert_int_equal(a.err, 0);
	assert_memory_equal(buf, "\x11\x08\x0a\x05\x22\x10\x00\x79\x00", 9);
	assert_int_equal(a.len, 9);
	(void)n;
}

static void aml_errors(void **state)
{
	static const char *bad[] = { "", "ABCDE", "1ABC", "ab", "A..B", "\\", "A.", "A B" };
	uint8_t buf[16];
	struct aml a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_name(&a, bad[i]);
		assert_int_equal(a.err, -EINVAL);
	}
	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP0A0");
	assert_int_equal(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_res_irq(&a, 16);
	assert_int_equal(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_res_bus(&a, 0, 0xffff); /* 0x10000 buses: no 16-bit length */
	assert_int_equal(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_package(&a, 256);
	assert_int_equal(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_close(&a, 0); /* nothing open */
	assert_int_equal(a.err, -EINVAL);

	/* out of room: the error sticks and nothing is written past @room */
	aml_init(&a, buf, 8);
	aml_string(&a, "HEARTH");
	assert_int_equal(a.err, 0);
	aml_int(&a, 0x10000);
	assert_int_equal(a.err, -ENOSPC);
	assert_int_equal(a.len, 8);
	aml_int(&a, 0);
	assert_int_equal(a.err, -ENOSPC);
	assert_int_equal(a.len, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(describes_the_machine),
		cmocka_unit_test(rejects_bad_requests),
		cmocka_unit_test(aml_pkg_lengths),
		cmocka_unit_test(aml_encodings),
		cmocka_unit_test(aml_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
