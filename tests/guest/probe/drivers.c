/*
 * Probe guest drivers, all at CPL3: COM1, local APIC, I/O APIC, PIT, 8259
 * mask, MP table lookup. Later device tests (PCI, virtio) add theirs here.
 */
#include "drivers.h"

#include "io.h"
#include "probe.h"

#define COM1 0x3f8

void serial_init(void)
{
	outb(COM1 + 1, 0);    /* no interrupts: the probe polls */
	outb(COM1 + 3, 0x03); /* 8N1 */
}

void putc_(char c)
{
	for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		pause();
	outb(COM1, (uint8_t)c);
}

void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

void putu(uint64_t v)
{
	char b[21];
	int i = 20;
	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_(b + i);
}

void putx(uint64_t v)
{
	char b[19];
	int i = 18;
	b[i] = 0;
	do {
		b[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	b[--i] = 'x';
	b[--i] = '0';
	puts_(b + i);
}

uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}
void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void pic_mask_all(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void pit_periodic(uint16_t divisor)
{
	outb(0x43, 0x34); /* channel 0, lo/hi, mode 2 */
	outb(0x40, (uint8_t)divisor);
	outb(0x40, (uint8_t)(divisor >> 8));
}

static int checksum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;
	for (uint32_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s == 0;
}

static const uint8_t *mp_find_in(uint64_t start, uint64_t len)
{
	for (uint64_t a = start; a + 16 <= start + len; a += 16) {
		const uint8_t *p = (const uint8_t *)a;
		if (p[0] == '_' && p[1] == 'M' && p[2] == 'P' && p[3] == '_' && checksum_ok(p, 16))
			return p;
	}
	return 0;
}

int mptable_read(struct mp_info *mi)
{
	uint64_t ebda = (uint64_t) * (volatile uint16_t *)0x40e << 4;
	const uint8_t *fp = 0;

	mi->cpus = 0;
	mi->irq0_pin = -1;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		fp = mp_find_in(ebda, 1024);
	if (!fp)
		fp = mp_find_in(0x9fc00, 1024);
	if (!fp)
		fp = mp_find_in(0xf0000, 0x10000);
	if (!fp)
		return -1;
	uint32_t cfg = *(const uint32_t *)(fp + 4);
	if (cfg == 0 || cfg >= 0x100000)
		return -2;
	const uint8_t *ct = (const uint8_t *)(uint64_t)cfg;
	if (ct[0] != 'P' || ct[1] != 'C' || ct[2] != 'M' || ct[3] != 'P')
		return -3;
	uint16_t len = *(const uint16_t *)(ct + 4), count = *(const uint16_t *)(ct + 34);
	if (len < 44 || !checksum_ok(ct, len))
		return -4;
	const uint8_t *e = ct + 44, *end = ct + len;
	for (uint16_t i = 0; i < count && e < end; i++) {
		switch (e[0]) {
		case 0: /* processor */
			if ((e[3] & 1) && mi->cpus < MAX_CPUS)
				mi->apic_id[mi->cpus++] = e[1];
			e += 20;
			break;
		case 3: /* I/O interrupt: ISA IRQ 0 goes to which pin? */
			if (e[1] == 0 && e[5] == 0)
				mi->irq0_pin = e[7];
			e += 8;
			break;
		default: e += 8; break;
		}
	}
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A checksummed ACPI table below 4 GiB with signature @sig at @addr, or 0. */
static const uint8_t *acpi_table(uint64_t addr, const char *sig)
{
	const uint8_t *t = (const uint8_t *)addr;
	if (!addr || addr >= 0x100000000ull - 36)
		return 0;
	for (int i = 0; i < 4; i++)
		if (t[i] != (uint8_t)sig[i])
			return 0;
	uint32_t len = le32(t + 4);
	if (len < 36 || len > 0x10000 || !checksum_ok(t, len))
		return 0;
	return t;
}

int acpi_madt_cpus(void)
{
	const uint8_t *rsdp = 0;
	for (uint64_t a = 0xe0000; a < 0x100000 && !rsdp; a += 16) {
		const uint8_t *p = (const uint8_t *)a;
		if (p[0] == 'R' && p[1] == 'S' && p[2] == 'D' && p[3] == ' ' && p[4] == 'P' &&
		    p[5] == 'T' && p[6] == 'R' && p[7] == ' ' && checksum_ok(p, 20))
			rsdp = p;
	}
	if (!rsdp)
		return -1;
	const uint8_t *sdt = 0;
	unsigned width = 4;
	if (rsdp[15] >= 2 && le32(rsdp + 28) == 0)
		sdt = acpi_table(le32(rsdp + 24), "XSDT"), width = 8;
	if (!sdt)
		sdt = acpi_table(le32(rsdp + 16), "RSDT"), width = 4;
	if (!sdt)
		return -1;
	for (uint32_t off = 36; off + width <= le32(sdt + 4); off += width) {
		const uint8_t *madt = acpi_table(le32(sdt + off), "APIC");
		if (!madt)
			continue;
		int cpus = 0;
		for (uint32_t e = 44; e + 2 <= le32(madt + 4) && madt[e + 1] >= 2; e += madt[e + 1])
			if (madt[e] == 0 && madt[e + 1] == 8 && (le32(madt + e + 4) & 1))
				cpus++;
		return cpus;
	}
	return -1;
}

/* The compiler may emit calls to these even in freestanding code. */
void *memcpy(void *d, const void *s, unsigned long n);
void *memset(void *d, int c, unsigned long n);

void *memcpy(void *d, const void *s, unsigned long n)
{
	char *dp = d;
	const char *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, unsigned long n)
{
	char *dp = d;
	while (n--)
		*dp++ = (char)c;
	return d;
}
