/*
 * Probe guest: a minimal virtio-pci (modern) block driver at CPL3, polling
 * the used ring (no interrupts needed), and the tests built on it:
 *   blk          every disk: write a pattern, flush, read it back; a read
 *                past the end must fail with IOERR; GET_ID
 *   blk-hostile  on the first disk: a driver that breaks the rules (loops,
 *                buffers outside RAM, no status byte, bad queue size,
 *                unknown request types, a device status that goes
 *                backwards); each must get its error, and the disk must
 *                work again after a reset
 *   blk-msix     completions as MSI-X interrupts, masking, and MSI-X table
 *                writes that span two entries or rewrite one in a loop
 * The host test then checks the image files byte for byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers.h"
#include "io.h"
#include "probe.h"

#define QSZ	  16  /* the queue the tests use */
#define QSZ_MAX	  128 /* the benchmark's */
#define MAX_BLK	  8
#define STATUS_OK 0

struct vblk {
	unsigned slot;
	uint64_t common, notify, isr, devcfg;
	uint32_t notify_mult;
	uint64_t features;
	uint16_t qnotify;
	uint16_t used_seen, avail_idx;
};

static struct vblk blks[MAX_BLK];
static unsigned nblk;

/* rings and buffers, in identity-mapped guest RAM */
static uint8_t ring_mem[8192] __attribute__((aligned(4096)));
static unsigned qsz = QSZ; /* the size of the queue set up last */
static unsigned ring_skew; /* hostile: misalign the descriptor table by this */
static uint8_t data[8192] __attribute__((aligned(4096)));
static uint8_t hdr[32] __attribute__((aligned(16)));
static volatile uint8_t status_byte;

#define DESC  ((volatile uint8_t *)ring_mem)
#define AVAIL ((volatile uint8_t *)ring_mem + 16 * qsz)
#define USED  ((volatile uint8_t *)ring_mem + 4096)

uint32_t pci_read(unsigned slot, unsigned off)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	return inl(0xcfc);
}

void pci_write(unsigned slot, unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	outl(0xcfc, v);
}

/* Address of memory BAR @bi of @slot, or 0 if it is not one we can reach
 * (I/O BAR, unassigned, above the 4 GiB the probe maps). */
uint64_t bar_addr(unsigned slot, unsigned bi)
{
	uint32_t lo;
	uint64_t a;

	if (bi >= 6)
		return 0;
	lo = pci_read(slot, 0x10 + 4 * bi);
	if (lo & 1)
		return 0;
	a = lo & ~0xfu;
	if ((lo & 0x6) == 0x4 && bi < 5)
		a |= (uint64_t)pci_read(slot, 0x14 + 4 * bi) << 32;
	return a < 0x100000000ull ? a : 0;
}

int vpci_find(uint16_t device_id, unsigned index, struct vpci *v)
{
	for (unsigned slot = 1; slot < 32; slot++) {
		if (pci_read(slot, 0) != ((uint32_t)device_id << 16 | 0x1af4))
			continue;
		if (index--)
			continue;
		*v = (struct vpci){ .slot = slot };
		pci_write(slot, 0x04, 0x06); /* memory space, bus master */
		for (unsigned cap = pci_read(slot, 0x34) & 0xfc, n = 0; cap && n < 48; n++) {
			uint32_t h = pci_read(slot, cap);
			uint64_t bar = bar_addr(slot, pci_read(slot, cap + 4) & 0xff);

			if ((h & 0xff) == 0x09 && bar) {
				uint64_t at = bar + pci_read(slot, cap + 8);
				switch (h >> 24) {
				case 1: v->common = at; break;
				case 2:
					v->notify = at;
					v->notify_mult = pci_read(slot, cap + 16);
					break;
				case 3: v->isr = at; break;
				case 4: v->devcfg = at; break;
				}
			}
			cap = (h >> 8) & 0xfc;
		}
		return v->common && v->notify && v->devcfg ? 0 : -1;
	}
	return -1;
}

static void pci_scan(void)
{
	struct vpci v;

	if (nblk)
		return;
	for (unsigned i = 0; nblk < MAX_BLK && !vpci_find(0x1042, i, &v); i++) {
		struct vblk *b = &blks[nblk++];

		b->slot = v.slot;
		b->common = v.common;
		b->notify = v.notify;
		b->notify_mult = v.notify_mult;
		b->isr = v.isr;
		b->devcfg = v.devcfg;
	}
}

/* Resets and sets the device up with queue 0 of @qsz entries. Returns the
 * final status byte (DRIVER_OK set on success). */
static uint64_t extra_features; /* blk-discard adds WRITE_ZEROES */

static uint8_t vblk_init(struct vblk *b, uint16_t qsz_want)
{
	uint64_t c = b->common;
	uint64_t want = 1ULL << 32 | 1ULL << 9 | 1ULL << 13 | /* VERSION_1, FLUSH, DISCARD */
			extra_features;

	/* The disks share one ring area: reset every other disk first, so
	 * no device goes on reading a ring the next one rewrites (hearth's
	 * poller would rightly call that a broken ring). */
	for (unsigned i = 0; i < nblk; i++)
		if (&blks[i] != b && r8(blks[i].common + 0x14)) {
			w8(blks[i].common + 0x14, 0);
			while (r8(blks[i].common + 0x14))
				pause();
		}
	w8(c + 0x14, 0);
	while (r8(c + 0x14))
		pause();
	w8(c + 0x14, 1 | 2);
	w32(c + 0x00, 0);
	b->features = r32(c + 0x04);
	w32(c + 0x00, 1);
	b->features |= (uint64_t)r32(c + 0x04) << 32;
	b->features &= want | 1ULL << 5; /* RO is informative */
	w32(c + 0x08, 0);
	w32(c + 0x0c, (uint32_t)(b->features & ~(1ULL << 5)));
	w32(c + 0x08, 1);
	w32(c + 0x0c, (uint32_t)(b->features >> 32));
	w8(c + 0x14, 1 | 2 | 8);
	if (!(r8(c + 0x14) & 8))
		return r8(c + 0x14);
	for (unsigned i = 0; i < sizeof(ring_mem); i++)
		ring_mem[i] = 0;
	qsz = qsz_want;
	w16(c + 0x16, 0);
	w16(c + 0x18, qsz_want);
	w16(c + 0x1a, 0xffff); /* no interrupts: we poll */
	w64(c + 0x20, (uint64_t)DESC + ring_skew);
	w64(c + 0x28, (uint64_t)AVAIL);
	w64(c + 0x30, (uint64_t)USED);
	b->qnotify = r16(c + 0x1e);
	w16(c + 0x1c, 1);
	b->used_seen = b->avail_idx = 0;
	w8(c + 0x14, r8(c + 0x14) | 4);
	return r8(c + 0x14);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	volatile uint8_t *d = DESC + 16 * i;
	*(volatile uint64_t *)d = addr;
	*(volatile uint32_t *)(d + 8) = len;
	*(volatile uint16_t *)(d + 12) = flags;
	*(volatile uint16_t *)(d + 14) = next;
}

/* Publishes chain @head and kicks. Returns the used length, or -1 when the
 * device did not answer (then *st holds the device status). */
static long submit(struct vblk *b, uint16_t head, uint8_t *st)
{
	*(volatile uint16_t *)(AVAIL + 4 + 2 * (b->avail_idx % qsz)) = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*(volatile uint16_t *)(AVAIL + 2) = ++b->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	w16(b->notify + (uint64_t)b->qnotify * b->notify_mult, 0);
	for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 8000000000ull;) {
		if (*(volatile uint16_t *)(USED + 2) != b->used_seen) {
			volatile uint8_t *u = USED + 4 + 8 * (b->used_seen % qsz);
			b->used_seen++;
			return *(volatile uint32_t *)(u + 4);
		}
		if (r8(b->common + 0x14) & 0x40)
			break; /* NEEDS_RESET: it will not answer */
		pause();
	}
	*st = r8(b->common + 0x14);
	return -1;
}

/* A well-formed request: type, sector, @len bytes of data. Returns the
 * status byte, or -1 without an answer. */
static int request(struct vblk *b, uint32_t type, uint64_t sector, uint32_t len)
{
	uint8_t st;
	bool in = type == 0 || type == 8;

	for (unsigned i = 0; i < 16; i++)
		hdr[i] = 0;
	*(uint32_t *)hdr = type;
	*(uint64_t *)(hdr + 8) = sector;
	status_byte = 0xee;
	desc(0, (uint64_t)hdr, 16, 1, 1);
	if (len) {
		desc(1, (uint64_t)data, len, (uint16_t)(1 | (in ? 2 : 0)), 2);
		desc(2, (uint64_t)&status_byte, 1, 2, 0);
	} else {
		desc(1, (uint64_t)&status_byte, 1, 2, 0);
	}
	return submit(b, 0, &st) < 0 ? -1 : status_byte;
}

static uint8_t pattern(unsigned disk, unsigned i)
{
	return (uint8_t)(i * 7 + disk * 13 + 1);
}

static void report(const char *what, unsigned disk, int ok, const char *detail, long v)
{
	puts_("PROBE: test=");
	puts_(what);
	puts_(" disk=");
	putu(disk);
	if (detail) {
		putc_(' ');
		puts_(detail);
		putu((uint64_t)v);
	}
	puts_(ok ? " result=pass\n" : " result=fail\n");
}

int probe_blk(void);
int probe_blk_hostile(void);
int probe_blk_discard(void);

/* probe.tests=blk-discard: on disk 0, 8 KiB of data at sector 16, then
 * DISCARD of sectors 16-23 and WRITE_ZEROES of 24-31 (one segment each);
 * both must succeed and the 8 KiB read back as zeroes. The host checks the
 * image too. */
int probe_blk_discard(void)
{
	struct vblk *b = &blks[0];
	int fails = 0, st, ok;

	pci_scan();
	if (!nblk)
		return 1;
	extra_features = 1ULL << 14;
	ok = (vblk_init(b, QSZ) & 0x4f) == 0x0f && (b->features & (1ULL << 13)) &&
	     (b->features & (1ULL << 14));
	extra_features = 0;
	report("blk-discard-init", 0, ok, "max_discard_sectors=", (long)r32(b->devcfg + 36));
	if (!ok)
		return 1;
	for (unsigned i = 0; i < 8192; i++)
		data[i] = (uint8_t)(pattern(0, i) | 1);
	st = request(b, 1, 16, 8192);
	fails += st != STATUS_OK;
	for (unsigned i = 0; i < 16; i++)
		data[i] = 0;
	*(uint64_t *)data = 16;
	*(uint32_t *)(data + 8) = 8;
	st = request(b, 11, 0, 16);
	report("blk-discard", 0, st == STATUS_OK, "status=", st);
	fails += st != STATUS_OK;
	*(uint64_t *)data = 24;
	*(uint32_t *)(data + 8) = 8;
	st = request(b, 13, 0, 16);
	report("blk-write-zeroes", 0, st == STATUS_OK, "status=", st);
	fails += st != STATUS_OK;
	for (unsigned i = 0; i < 8192; i++)
		data[i] = 0xaa;
	ok = request(b, 0, 16, 8192) == STATUS_OK;
	for (unsigned i = 0; i < 8192 && ok; i++)
		ok = data[i] == 0;
	report("blk-zeroes-readback", 0, ok, 0, 0);
	return fails + !ok;
}

int probe_blk(void)
{
	int fails = 0;

	pci_scan();
	puts_("PROBE: test=blk-scan disks=");
	putu(nblk);
	puts_(nblk ? " result=pass\n" : " result=fail\n");
	if (!nblk)
		return 1;
	for (unsigned d = 0; d < nblk; d++) {
		struct vblk *b = &blks[d];
		int ok = (vblk_init(b, QSZ) & 0x4f) == 0x0f;
		uint64_t sectors = r32(b->devcfg) | (uint64_t)r32(b->devcfg + 4) << 32;
		bool ro = b->features & (1ULL << 5);

		report("blk-init", d, ok, "sectors=", (long)sectors);
		fails += !ok;
		if (!ok)
			continue;
		/* write 4 KiB at sector 8, flush, clear, read back */
		for (unsigned i = 0; i < 4096; i++)
			data[i] = pattern(d, i);
		int w = request(b, 1, 8, 4096);
		ok = ro ? w == 1 : w == STATUS_OK && request(b, 4, 0, 0) == STATUS_OK;
		report(ro ? "blk-write-readonly" : "blk-write-flush", d, ok, "status=", w);
		fails += !ok;
		for (unsigned i = 0; i < 4096; i++)
			data[i] = 0;
		ok = request(b, 0, 8, 4096) == STATUS_OK;
		for (unsigned i = 0; i < 4096 && ok && !ro; i++)
			ok = data[i] == pattern(d, i);
		report("blk-readback", d, ok, 0, 0);
		fails += !ok;
		/* past the end, straddling it */
		ok = request(b, 0, sectors, 512) == 1 && request(b, 0, sectors - 1, 1024) == 1;
		report("blk-past-end", d, ok, 0, 0);
		fails += !ok;
		/* a device with blocks larger than a sector (an iSCSI LUN's 4 KiB)
		 * refuses a request that is not aligned to them */
		uint32_t blk_size = r32(b->devcfg + 20);
		if (blk_size > 512) {
			ok = request(b, 0, 1, 512) == 1 && request(b, 0, 0, 512) == 1 &&
			     request(b, 0, blk_size / 512, blk_size) == STATUS_OK;
			report("blk-misaligned", d, ok, "blk_size=", blk_size);
			fails += !ok;
		}
		/* GET_ID */
		ok = request(b, 8, 0, 20) == STATUS_OK;
		report("blk-get-id", d, ok, 0, 0);
		fails += !ok;
		/* the PCI configuration access window reads the common config too:
		 * num_queues (16 bits at 0x12) is 1 */
		ok = 0;
		for (unsigned c = pci_read(b->slot, 0x34) & 0xfc, n = 0; c && n < 48; n++) {
			uint32_t h = pci_read(b->slot, c);
			if ((h & 0xff) == 0x09 && (h >> 24) == 5) {
				uint32_t bi = pci_read(b->slot, c + 4) & 0xff, common_off = 0;
				/* where the common config lives in its BAR */
				for (unsigned c2 = pci_read(b->slot, 0x34) & 0xfc, m = 0;
				     c2 && m < 48; m++) {
					uint32_t h2 = pci_read(b->slot, c2);
					if ((h2 & 0xff) == 0x09 && (h2 >> 24) == 1) {
						bi = pci_read(b->slot, c2 + 4) & 0xff;
						common_off = pci_read(b->slot, c2 + 8);
					}
					c2 = (h2 >> 8) & 0xfc;
				}
				pci_write(b->slot, c + 4, bi);
				/* fields are read at their own width: 16 bits here */
				pci_write(b->slot, c + 8, common_off + 0x12);
				pci_write(b->slot, c + 12, 2);
				ok = (pci_read(b->slot, c + 16) & 0xffff) == 1;
			}
			c = (h >> 8) & 0xfc;
		}
		report("blk-pci-cfg-window", d, ok, 0, 0);
		fails += !ok;
	}
	return fails;
}

/* Runs one broken request on a freshly set up queue; @expect_reset: the
 * device must say NEEDS_RESET, else it must answer with @status. */
uint64_t probe_arg_u64(const char *key, uint64_t dflt);

static int hostile(struct vblk *b, const char *name, int expect_reset, int status)
{
	uint8_t st = 0;
	long used = submit(b, 0, &st);
	int ok = expect_reset ? used < 0 && (st & 0x40) : used >= 0 && status_byte == status;

	puts_("PROBE: test=blk-hostile case=");
	puts_(name);
	puts_(ok ? " result=pass\n" : " result=fail\n");
	vblk_init(b, QSZ);
	return !ok;
}

int probe_blk_hostile(void)
{
	struct vblk *b;
	int fails = 0, ok;
	uint8_t st;

	pci_scan();
	if (!nblk)
		return 1;
	b = &blks[0];
	vblk_init(b, QSZ);

	for (unsigned i = 0; i < 16; i++)
		hdr[i] = 0;
	desc(0, (uint64_t)hdr, 16, 1, 1); /* a loop */
	desc(1, (uint64_t)data, 512, 1 | 2, 0);
	fails += hostile(b, "descriptor-loop", 1, 0);
	desc(0, (uint64_t)hdr, 16, 1, QSZ); /* next past the queue */
	fails += hostile(b, "next-out-of-range", 1, 0);
	desc(0, 0xffffffffffff0000ull, 16, 1, 1); /* outside RAM */
	desc(1, (uint64_t)&status_byte, 1, 2, 0);
	fails += hostile(b, "buffer-outside-ram", 1, 0);
	desc(0, 0xfffffffffffffff0ull, 0x100, 0, 0); /* wrapping past 2^64 */
	fails += hostile(b, "buffer-wraps", 1, 0);
	desc(0, (uint64_t)hdr, 16, 3, 1); /* writable before readable */
	desc(1, (uint64_t)data, 16, 0, 0);
	fails += hostile(b, "readable-after-writable", 1, 0);
	/* an avail index far ahead of the ring */
	*(volatile uint16_t *)(AVAIL + 2) = 1000;
	b->avail_idx = 999;
	desc(0, (uint64_t)hdr, 16, 0, 0);
	fails += hostile(b, "avail-runaway", 1, 0);

	/* answered with a status */
	*(uint32_t *)hdr = 0; /* IN ... */
	*(uint64_t *)(hdr + 8) = 0;
	desc(0, (uint64_t)hdr, 16, 1, 1);
	desc(1, (uint64_t)data, 100, 1 | 2, 2); /* ... not whole sectors */
	desc(2, (uint64_t)&status_byte, 1, 2, 0);
	status_byte = 0xee;
	fails += hostile(b, "partial-sector", 0, 1);
	*(uint32_t *)hdr = 99;
	desc(0, (uint64_t)hdr, 16, 1, 1);
	desc(1, (uint64_t)&status_byte, 1, 2, 0);
	status_byte = 0xee;
	fails += hostile(b, "unknown-type", 0, 2);
	*(uint64_t *)(hdr + 8) = ~0ull; /* sector wraps */
	*(uint32_t *)hdr = 0;
	desc(0, (uint64_t)hdr, 16, 1, 1);
	desc(1, (uint64_t)data, 512, 1 | 2, 2);
	desc(2, (uint64_t)&status_byte, 1, 2, 0);
	status_byte = 0xee;
	fails += hostile(b, "sector-wraps", 0, 1);
	/* with probe.over4g=1: a WRITE of 14 buffers of 512 MiB less a sector,
	 * all of them the guest's first 512 MiB: 7 GiB in all, of which 32 bits
	 * keep 3 GiB; carried in part it would be a lie, so it must fail whole
	 * (the guest needs 512 MiB of RAM, else the buffers leave RAM and the
	 * device asks for a reset) */
	if (probe_arg_u64("probe.over4g", 0)) {
		*(uint32_t *)hdr = 1;
		*(uint64_t *)(hdr + 8) = 0;
		desc(0, (uint64_t)hdr, 16, 1, 1);
		for (unsigned i = 1; i <= 14; i++)
			desc(i, 0, 0x1ffffe00u, 1, (uint16_t)(i + 1));
		desc(15, (uint64_t)&status_byte, 1, 2, 0);
		status_byte = 0xee;
		fails += hostile(b, "over-4gib", 0, 1);
	}

	/* no status byte at all: returned with nothing written */
	desc(0, (uint64_t)hdr, 16, 0, 0);
	{
		uint8_t st2 = 0;
		long used = submit(b, 0, &st2);
		int ok2 = used == 0;
		puts_("PROBE: test=blk-hostile case=no-status-byte");
		puts_(ok2 ? " result=pass\n" : " result=fail\n");
		fails += !ok2;
		vblk_init(b, QSZ);
	}

	/* PCI config writes to read-only fields are ignored */
	{
		uint32_t id = pci_read(b->slot, 0), bar = pci_read(b->slot, 0x10);
		pci_write(b->slot, 0x00, 0x12345678);
		pci_write(b->slot, 0x10, 0x80000000); /* move BAR 0: not allowed */
		pci_write(b->slot, 0x34, 0);	      /* capability pointer */
		int ok2 = pci_read(b->slot, 0) == id && pci_read(b->slot, 0x10) == bar &&
			  pci_read(b->slot, 0x34) != 0;
		puts_("PROBE: test=blk-hostile case=pci-readonly-fields");
		puts_(ok2 ? " result=pass\n" : " result=fail\n");
		fails += !ok2;
	}
	/* MSI-X table accesses past the table, and odd widths, are ignored */
	{
		uint64_t t = b->common - 0x0000 + 0x4000; /* hearth's layout */
		if (bar_addr(b->slot, 0) && b->common == bar_addr(b->slot, 0)) {
			w32(t + 16 * 64, 0xdeadbeef);
			w8(t + 1, 0xff);
		}
		int ok2 = (vblk_init(b, QSZ) & 0x4f) == 0x0f && request(b, 0, 0, 512) == STATUS_OK;
		puts_("PROBE: test=blk-hostile case=msix-out-of-range");
		puts_(ok2 ? " result=pass\n" : " result=fail\n");
		fails += !ok2;
	}

	/* a misaligned descriptor table cannot be enabled */
	ring_skew = 8;
	st = vblk_init(b, QSZ);
	ring_skew = 0;
	ok = (st & 0x40) != 0;
	puts_("PROBE: test=blk-hostile case=misaligned-ring");
	puts_(ok ? " result=pass\n" : " result=fail\n");
	fails += !ok;

	/* a queue of 3 entries cannot be enabled */
	st = vblk_init(b, 3);
	ok = (st & 0x40) != 0;
	puts_("PROBE: test=blk-hostile case=bad-queue-size");
	puts_(ok ? " result=pass\n" : " result=fail\n");
	fails += !ok;

	/* a device status that goes backwards (DRIVER_OK cleared, then set
	 * again) is refused: the device keeps its status and asks for a
	 * reset, and starts again only after one */
	ok = (vblk_init(b, QSZ) & 0x4f) == 0x0f;
	w8(b->common + 0x14, 1 | 2 | 8);
	st = r8(b->common + 0x14);
	ok &= (st & 0x4f) == 0x4f;
	w8(b->common + 0x14, 1 | 2 | 8 | 4);
	ok &= (r8(b->common + 0x14) & 0x4f) == 0x4f;
	puts_("PROBE: test=blk-hostile case=status-regression");
	puts_(ok ? " result=pass" : " result=fail status=");
	if (!ok)
		putu(st);
	putc_('\n');
	fails += !ok;

	/* and after all that, the disk works */
	ok = (vblk_init(b, QSZ) & 0x4f) == 0x0f && request(b, 0, 0, 512) == STATUS_OK;
	puts_("PROBE: test=blk-hostile case=recovered");
	puts_(ok ? " result=pass\n" : " result=fail\n");
	fails += !ok;
	return fails;
}

/* ---- benchmark: probe.tests=blkbench probe.bench=MODE probe.bs=N probe.qd=N probe.ops=N ----
 * MODE: randread, randwrite, seqread, seqwrite, seqfill (see below). Keeps QD requests in flight
 * on disk 0 by polling the used ring; prints the TSC cycles for OPS
 * completions (the host turns them into IOPS and MB/s). */
static uint8_t bench_buf[4 << 20] __attribute__((aligned(4096)));
static uint8_t bench_hdr[QSZ_MAX][16] __attribute__((aligned(16)));
static volatile uint8_t bench_st[QSZ_MAX];

int probe_blkbench(const char *mode, uint64_t bs, uint64_t qd, uint64_t ops, int irq);
extern volatile uint64_t irq_count[256];
#define VEC_BENCH 0x41

/* MSI-X entry 1 -> VEC_BENCH on this CPU, for queue 0 of @b. */
static int bench_msix(struct vblk *b)
{
	unsigned cap = 0;

	for (unsigned c = pci_read(b->slot, 0x34) & 0xfc, n = 0; c && n < 48; n++) {
		uint32_t h = pci_read(b->slot, c);
		if ((h & 0xff) == 0x11)
			cap = c;
		c = (h >> 8) & 0xfc;
	}
	uint32_t tab = cap ? pci_read(b->slot, cap + 4) : 0;
	uint64_t table = cap ? bar_addr(b->slot, tab & 7) + (tab & ~7u) : 0;
	if (!table)
		return 0;
	lapic_write(0xf0, 0x100 | VEC_SPURIOUS);
	w32(table + 16 + 0, 0xfee00000u | (lapic_read(0x20) >> 24) << 12);
	w32(table + 16 + 4, 0);
	w32(table + 16 + 8, VEC_BENCH);
	w32(table + 16 + 12, 0);
	pci_write(b->slot, cap, pci_read(b->slot, cap) | 0x80000000u);
	w16(b->common + 0x16, 0);
	w16(b->common + 0x1a, 1);
	return r16(b->common + 0x1a) == 1;
}

/* @irq: wait for the completion interrupt (the vCPU sleeps) instead of
 * spinning on the used ring, leaving the host CPU to the VMM and, for a
 * network disk, the target. */
int probe_blkbench(const char *mode, uint64_t bs, uint64_t qd, uint64_t ops, int irq)
{
	struct vblk *b;
	/* "seqfill": sequential writes of a per-block pattern the host checks
	 * (byte j of block n is n * 131 + j * 7 + 3), for the iSCSI stream tests */
	bool fill = mode[0] == 's' && mode[3] == 'f';
	bool write = fill || (mode[0] == 'r' ? mode[4] == 'w' : mode[3] == 'w');
	bool rnd = mode[0] == 'r';
	uint64_t sectors, span, seq = 0, x = 88172645463325252ull, done = 0, issued = 0, errors = 0;

	pci_scan();
	if (!nblk || bs < 512 || bs % 512 || qd == 0 || qd * 3 > QSZ_MAX ||
	    qd * bs > sizeof(bench_buf))
		return 1;
	b = &blks[0];
	if ((vblk_init(b, QSZ_MAX) & 0x4f) != 0x0f)
		return 1;
	if (irq && !bench_msix(b))
		return 1;
	sectors = r32(b->devcfg) | (uint64_t)r32(b->devcfg + 4) << 32;
	span = sectors * 512 / bs;
	if (span == 0)
		return 1;
	for (unsigned i = 0; i < sizeof(bench_buf); i += 4096)
		bench_buf[i] = (uint8_t)i;
	uint64_t t0 = rdtsc();
	for (;;) {
		/* fill the free slots, one kick for all of them */
		while (issued - done < qd && issued < ops) {
			unsigned k = (unsigned)(issued % qd);
			uint64_t blk;
			if (rnd) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				blk = x % span;
			} else {
				blk = seq++ % span;
			}
			if (fill)
				for (uint64_t j = 0; j < bs; j++)
					bench_buf[k * bs + j] = (uint8_t)(blk * 131 + j * 7 + 3);
			*(uint32_t *)bench_hdr[k] = write ? 1 : 0;
			*(uint64_t *)(bench_hdr[k] + 8) = blk * (bs / 512);
			desc(3 * k, (uint64_t)bench_hdr[k], 16, 1, (uint16_t)(3 * k + 1));
			desc(3 * k + 1, (uint64_t)bench_buf + k * bs, (uint32_t)bs,
			     (uint16_t)(1 | (write ? 0 : 2)), (uint16_t)(3 * k + 2));
			desc(3 * k + 2, (uint64_t)&bench_st[k], 1, 2, 0);
			*(volatile uint16_t *)(AVAIL + 4 + 2 * (b->avail_idx % qsz)) =
				(uint16_t)(3 * k);
			b->avail_idx++;
			issued++;
		}
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*(volatile uint16_t *)(AVAIL + 2) = b->avail_idx;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		w16(b->notify + (uint64_t)b->qnotify * b->notify_mult, 0);
		if (done == ops)
			break;
		/* wait for at least one completion, take all there are */
		uint64_t tw = rdtsc();
		while (*(volatile uint16_t *)(USED + 2) == b->used_seen) {
			if (rdtsc() - tw > 40000000000ull)
				return 1;
			if (irq) {
				uint64_t seen = irq_count[VEC_BENCH];
				if (*(volatile uint16_t *)(USED + 2) == b->used_seen)
					wait_interrupt(&irq_count[VEC_BENCH], seen);
			} else {
				pause();
			}
		}
		while (*(volatile uint16_t *)(USED + 2) != b->used_seen) {
			volatile uint8_t *u = USED + 4 + 8 * (b->used_seen % qsz);
			unsigned head = *(volatile uint32_t *)u;
			errors += head % 3 == 0 && head / 3 < qd ? bench_st[head / 3] != 0 : 1;
			b->used_seen++;
			done++;
		}
	}
	uint64_t dt = rdtsc() - t0;
	puts_("PROBE: test=blkbench mode=");
	puts_(mode);
	puts_(" bs=");
	putu(bs);
	puts_(" qd=");
	putu(qd);
	puts_(" ops=");
	putu(done);
	puts_(" errors=");
	putu(errors);
	puts_(" tsc=");
	putu(dt);
	puts_(errors ? " result=fail\n" : " result=pass\n");
	return errors != 0;
}

/* ---- MSI-X: probe.tests=blk-msix ----
 * Completions of disk 0 arrive as MSI-X vector 0x41 on this CPU; a masked
 * vector sets its PBA bit instead and fires on unmask. */
int probe_blk_msix(void);

static int wait_irq(uint64_t want)
{
	for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 8000000000ull;)
		if (irq_count[0x41] >= want)
			return 1;
	return 0;
}

int probe_blk_msix(void)
{
	struct vblk *b;
	unsigned cap = 0;
	int ok;

	pci_scan();
	if (!nblk)
		return 1;
	b = &blks[0];
	for (unsigned c = pci_read(b->slot, 0x34) & 0xfc, n = 0; c && n < 48; n++) {
		uint32_t h = pci_read(b->slot, c);
		if ((h & 0xff) == 0x11)
			cap = c;
		c = (h >> 8) & 0xfc;
	}
	uint32_t tab = cap ? pci_read(b->slot, cap + 4) : 0;
	uint32_t pbao = cap ? pci_read(b->slot, cap + 8) : 0;
	uint64_t table = cap ? bar_addr(b->slot, tab & 7) + (tab & ~7u) : 0;
	uint64_t pba = cap ? bar_addr(b->slot, pbao & 7) + (pbao & ~7u) : 0;
	if (!table || !pba)
		return 1;
	uint32_t apic = lapic_read(0x20) >> 24;
	lapic_write(0xf0, 0x100 | VEC_SPURIOUS);
	vblk_init(b, QSZ);
	/* entry 1 -> vector 0x41 on this CPU, unmasked; queue 0 uses it */
	w32(table + 16 + 0, 0xfee00000u | apic << 12);
	w32(table + 16 + 4, 0);
	w32(table + 16 + 8, 0x41);
	w32(table + 16 + 12, 0);
	pci_write(b->slot, cap, pci_read(b->slot, cap) | 0x80000000u); /* MSI-X enable */
	w16(b->common + 0x16, 0);
	w16(b->common + 0x1a, 1);
	ok = r16(b->common + 0x1a) == 1;
	w16(b->common + 0x1a, 999); /* a vector that does not exist reads back NO_VECTOR */
	ok &= r16(b->common + 0x1a) == 0xffff;
	w16(b->common + 0x1a, 1);

	uint64_t before = irq_count[0x41];
	sti();
	ok &= request(b, 0, 0, 512) == STATUS_OK && wait_irq(before + 1);
	cli();
	puts_("PROBE: test=blk-msix case=delivered irqs=");
	putu(irq_count[0x41] - before);
	puts_(ok ? " result=pass\n" : " result=fail\n");
	int fails = !ok;

	/* masked: no interrupt, the pending bit; unmasked: delivered */
	w32(table + 16 + 12, 1);
	before = irq_count[0x41];
	sti();
	ok = request(b, 0, 0, 512) == STATUS_OK;
	for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 50000000;)
		pause();
	ok &= irq_count[0x41] == before && (r32(pba) & 2);
	w32(table + 16 + 12, 0);
	ok &= wait_irq(before + 1) && !(r32(pba) & 2);
	cli();
	puts_("PROBE: test=blk-msix case=masked-then-pending");
	puts_(ok ? " result=pass\n" : " result=fail\n");
	fails += !ok;

	/* one 8-byte write at entry 0's control word would also write entry
	 * 1's address (to an APIC that does not exist): refused whole, the
	 * table stays as it was and completions still arrive */
	*(volatile uint64_t *)(table + 12) = (uint64_t)(0xfee00000u | 0xffu << 12) << 32;
	ok = r32(table + 12) == 1 && r32(table + 16) == (0xfee00000u | apic << 12);
	before = irq_count[0x41];
	sti();
	ok &= request(b, 0, 0, 512) == STATUS_OK && wait_irq(before + 1);
	cli();
	puts_("PROBE: test=blk-msix case=qword-across-entries");
	puts_(ok ? " result=pass\n" : " result=fail\n");
	fails += !ok;

	/* an entry rewritten in a loop, unmasked: each write is an exit and
	 * nothing more; the interrupt then follows the last value (0x41) */
	for (unsigned i = 0; i < 10000; i++)
		w32(table + 16 + 8, i % 2 ? 0x41 : 0x42);
	before = irq_count[0x41];
	sti();
	ok = request(b, 0, 0, 512) == STATUS_OK && wait_irq(before + 1) && irq_count[0x42] == 0;
	cli();
	puts_("PROBE: test=blk-msix case=table-write-loop");
	puts_(ok ? " result=pass\n" : " result=fail\n");
	fails += !ok;
	pci_write(b->slot, cap, pci_read(b->slot, cap) & ~0x80000000u);
	vblk_init(b, QSZ);
	return fails;
}
