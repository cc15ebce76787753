/*
 * Probe guest: probe.tests=reqflood, a driver that loops on requests forever
 * on every kind of virtio device it finds (the rng, the first disk, the
 * transmit queue of the first NIC). Each queue has all its entries in
 * flight, every one a valid chain; whenever the used index moves, the
 * driver makes the whole ring available again with one store of the avail
 * index and kicks. One store buys the device a full ring of work, so the
 * device, not this vCPU, sets the pace, even where the guest is emulated:
 * without a work budget the device's handler would never return.
 *   rng   64-byte writable buffers
 *   blk   requests of an unknown type (answered at once, no request slot)
 *   net   60-byte frames to a MAC nobody has
 * It prints "PROBE: reqflood started devices=N", then about every 2^20
 * requests "PROBE: reqflood served=N", and never ends: the host test stops it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers.h"
#include "io.h"
#include "probe.h"

#define FQ	   256 /* entries per queue: hearth's largest */
#define F_INDIRECT 28

struct fq {
	struct vpci v;
	uint64_t notify;
	volatile uint8_t *desc, *avail, *used;
	uint16_t used_seen;
};

/* per queue: descriptors (4 KiB), avail ring, used ring */
static uint8_t rings[3][3 * 4096] __attribute__((aligned(4096)));
static uint8_t rng_buf[64] __attribute__((aligned(64)));
static uint8_t blk_hdr[16] __attribute__((aligned(16)));
static volatile uint8_t blk_status;
static uint8_t blk_table[32] __attribute__((aligned(16))); /* indirect: header, status */
static uint8_t frame[12 + 60] __attribute__((aligned(64)));
static struct fq qs[3];

static void put_desc(volatile uint8_t *d, uint64_t addr, uint32_t len, uint16_t flags)
{
	*(volatile uint64_t *)d = addr;
	*(volatile uint32_t *)(d + 8) = len;
	*(volatile uint16_t *)(d + 12) = flags;
	*(volatile uint16_t *)(d + 14) = 0;
}

/* Resets @v, negotiates VERSION_1 (and @extra), sets up queue @qi on
 * rings[@slot] and sets DRIVER_OK. Returns 0 or -1. */
static int setup(struct fq *q, unsigned slot, unsigned qi, uint64_t extra)
{
	uint64_t c = q->v.common;
	uint64_t want = 1ULL << 32 | extra, f;

	w8(c + 0x14, 0);
	while (r8(c + 0x14))
		pause();
	w8(c + 0x14, 1 | 2);
	w32(c + 0x00, 0);
	f = r32(c + 0x04);
	w32(c + 0x00, 1);
	f |= (uint64_t)r32(c + 0x04) << 32;
	if ((f & want) != want)
		return -1;
	w32(c + 0x08, 0);
	w32(c + 0x0c, (uint32_t)want);
	w32(c + 0x08, 1);
	w32(c + 0x0c, (uint32_t)(want >> 32));
	w8(c + 0x14, 1 | 2 | 8);
	if (!(r8(c + 0x14) & 8))
		return -1;
	q->desc = rings[slot];
	q->avail = rings[slot] + 4096;
	q->used = rings[slot] + 8192;
	w16(c + 0x16, (uint16_t)qi);
	if (r16(c + 0x18) < FQ)
		return -1;
	w16(c + 0x18, FQ);
	w16(c + 0x1a, 0xffff); /* no interrupts: we poll */
	w64(c + 0x20, (uint64_t)q->desc);
	w64(c + 0x28, (uint64_t)q->avail);
	w64(c + 0x30, (uint64_t)q->used);
	q->notify = q->v.notify + (uint64_t)r16(c + 0x1e) * q->v.notify_mult;
	w16(c + 0x1c, 1);
	return 0;
}

static void start(struct fq *q)
{
	uint64_t c = q->v.common;

	for (unsigned i = 0; i < FQ; i++)
		*(volatile uint16_t *)(q->avail + 4 + 2 * i) = (uint16_t)i;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*(volatile uint16_t *)(q->avail + 2) = FQ;
	w8(c + 0x14, r8(c + 0x14) | 4);
	w16(q->notify, 0);
}

int probe_reqflood(void);

int probe_reqflood(void)
{
	unsigned n = 0;
	uint64_t served = 0, next = 1 << 20;

	/* virtio-rng: one writable buffer each */
	if (!vpci_find(0x1044, 0, &qs[n].v) && !setup(&qs[n], n, 0, 0)) {
		for (unsigned i = 0; i < FQ; i++)
			put_desc(qs[n].desc + 16 * i, (uint64_t)rng_buf, sizeof(rng_buf), 2);
		n++;
	}
	/* virtio-blk: an indirect table of header and status, type 0x55 */
	if (!vpci_find(0x1042, 0, &qs[n].v) && !setup(&qs[n], n, 0, 1ULL << F_INDIRECT)) {
		*(volatile uint32_t *)blk_hdr = 0x55;
		put_desc(blk_table, (uint64_t)blk_hdr, 16, 1);
		*(volatile uint16_t *)(blk_table + 14) = 1;
		put_desc(blk_table + 16, (uint64_t)&blk_status, 1, 2);
		for (unsigned i = 0; i < FQ; i++)
			put_desc(qs[n].desc + 16 * i, (uint64_t)blk_table, 32, 4);
		n++;
	}
	/* virtio-net: the transmit queue (1); the receive queue stays off */
	if (!vpci_find(0x1041, 0, &qs[n].v) && !setup(&qs[n], n, 1, 0)) {
		static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x99 };

		for (unsigned i = 0; i < 6; i++)
			frame[12 + i] = dst[i], frame[18 + i] = (uint8_t)(0x10 + i);
		frame[24] = 0x88; /* local experimental EtherType */
		frame[25] = 0xb5;
		for (unsigned i = 0; i < FQ; i++)
			put_desc(qs[n].desc + 16 * i, (uint64_t)frame, sizeof(frame), 0);
		n++;
	}
	puts_("PROBE: reqflood started devices=");
	putu(n);
	putc_('\n');
	if (!n)
		return 1;
	for (unsigned i = 0; i < n; i++)
		start(&qs[i]);
	for (;;) {
		for (unsigned i = 0; i < n; i++) {
			struct fq *q = &qs[i];
			uint16_t u = *(volatile uint16_t *)(q->used + 2);

			if (u == q->used_seen)
				continue;
			served += (uint16_t)(u - q->used_seen);
			q->used_seen = u;
			/* every entry the device has not taken is available again */
			*(volatile uint16_t *)(q->avail + 2) = (uint16_t)(u + FQ);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			w16(q->notify, 0);
		}
		if (served >= next) {
			puts_("PROBE: reqflood served=");
			putu(served);
			putc_('\n');
			next = served + (1 << 20);
		}
	}
}
