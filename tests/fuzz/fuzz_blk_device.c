// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the virtio-blk device (src/virtio/blk.c) driven through
 * its virtio-pci transport, with a fake block backend whose completions the
 * input orders. Where fuzz_virtio_blk stops at the request parser, this one
 * reaches what the device does with a request: request slots, submission,
 * backend refusals (-EAGAIN, errors), completions in any order, short,
 * failed or unsupported, the slots a completion frees, polling, and resets
 * with I/O in flight.
 *
 * The backend is the unit tests' fake (tests/unit/fake_blkio.c) behind the
 * blkio.h ops table, reached through the same blkio_* dispatchers as the
 * real ones. It checks what the device hands it (a request slot is never
 * reused while in flight, READ/WRITE buffers lie in guest RAM, no request
 * runs past the disk's end or writes a read-only one); the harness aborts
 * on any such violation.
 *
 * Input: byte 0 the disk (bit 0 read-only, bit 1 discard, bit 2 4 KiB
 * blocks, bits 3-4 its size, bits 5-7 how many requests the backend takes
 * at once), byte 1 the features the driver accepts (bit 0 EVENT_IDX, 1
 * INDIRECT_DESC, 2 FLUSH, 3 DISCARD, 4 WRITE_ZEROES, 5 MSI-X vectors, 6 no
 * VERSION_1, 7 a feature never offered), byte 2 the queue size; then steps
 * of 4 bytes [op, a, b, c] (see step()). The driver builds its chains in
 * guest RAM as a driver would; other steps write raw bytes over anything.
 * ASan/UBSan catch the rest.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/blkio.h"
#include "hearth/virtio_pci.h"

#include "../unit/fake_blkio.h"
#include "fake_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

#define RAM	 (1u << 20)
#define BAR	 0xc0000000ULL
#define DESC	 0x0000ULL
#define AVAIL	 0x1000ULL
#define USED	 0x2000ULL
#define HDRS	 0x4000ULL /* 32 bytes per descriptor index: header, discard segment */
#define STATUS	 0x6000ULL /* one status byte per descriptor index */
#define INDIRECT 0x8000ULL /* an indirect table per descriptor index, 8 entries */
#define DATA	 0x20000ULL
#define DATA_LEN (RAM - DATA)
#define SECTOR	 512u
#define NOTIFY	 0x3000u

static struct guest_mem gm;
static uint8_t *ram;

/* ---- the driver ---- */

static struct virtio_pci *vp;
static struct virtio_blk *dev;
static struct fake_blkio *io;
static uint16_t qsize, avail_idx, next_desc;
static uint64_t features;
static bool live; /* DRIVER_OK seen since the last reset */

static void bar_write(uint32_t off, uint64_t v, size_t n)
{
	virtio_pci_bar_ops.write(vp, off, &v, n);
}

static uint8_t bar_read8(uint32_t off)
{
	uint64_t v = 0;

	virtio_pci_bar_ops.read(vp, off, &v, 1);
	return (uint8_t)v;
}

/* The driver's side of initialisation (virtio 1.2, 3.1.1), as far as the
 * device lets it go. */
static void driver_init(void)
{
	bar_write(0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	bar_write(0x08, 0, 4);
	bar_write(0x0c, (uint32_t)features, 4);
	bar_write(0x08, 1, 4);
	bar_write(0x0c, (uint32_t)(features >> 32), 4);
	bar_write(0x14,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
	bar_write(0x16, 0, 2);
	bar_write(0x18, qsize, 2);
	bar_write(0x1a, 1, 2); /* queue vector (a no-op without MSI-X set up) */
	bar_write(0x20, DESC, 8);
	bar_write(0x28, AVAIL, 8);
	bar_write(0x30, USED, 8);
	bar_write(0x1c, 1, 2);
	bar_write(0x14,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			  VIRTIO_STATUS_DRIVER_OK,
		  1);
	live = bar_read8(0x14) & VIRTIO_STATUS_DRIVER_OK;
	avail_idx = 0;
	memset(ram + AVAIL, 0, 0x1000);
	memset(ram + USED, 0, 0x1000);
}

static void put_desc(uint8_t *table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = table + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void make_avail(uint16_t head)
{
	uint16_t idx = avail_idx++;

	if (!qsize)
		return;
	memcpy(ram + AVAIL + 4 + 2 * (idx % qsize), &head, 2);
	__atomic_store_n((uint16_t *)(ram + AVAIL + 2), avail_idx, __ATOMIC_RELEASE);
}

/* A request as a driver builds it: @a picks the type and the shape, @b and
 * @c the sector and the data length. */
static void post(uint8_t a, uint8_t b, uint8_t c)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN,	VIRTIO_BLK_T_OUT,
					  VIRTIO_BLK_T_FLUSH,	VIRTIO_BLK_T_GET_ID,
					  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
					  VIRTIO_BLK_T_IN,	99 };
	uint32_t type = types[a & 7];
	unsigned segs = 1 + ((a >> 3) & 3); /* data buffers */
	bool indirect = a & 0x20 && features >> VIRTIO_F_INDIRECT_DESC & 1;
	uint64_t sector = a & 0x40 ? (uint64_t)b << 8 | c : b;
	uint32_t dlen =
		type == VIRTIO_BLK_T_GET_ID ? VIRTIO_BLK_ID_BYTES : (uint32_t)(c % 16 + 1) * SECTOR;
	uint16_t head, slot;
	uint8_t *table, *hdr;
	unsigned k = 0, nd;
	uint16_t i0;

	if (!qsize)
		return;
	if (a & 0x80)
		dlen += c & 0x3f; /* not whole sectors */
	slot = next_desc % qsize;
	hdr = ram + HDRS + 32 * slot;
	memcpy(hdr, &type, 4);
	memset(hdr + 4, 0, 4);
	memcpy(hdr + 8, &sector, 8);
	/* the DISCARD / WRITE_ZEROES segment follows the header */
	{
		uint32_t num = (uint32_t)c + 1, flags = type == VIRTIO_BLK_T_WRITE_ZEROES && b & 1;

		memcpy(hdr + 16, &sector, 8);
		memcpy(hdr + 24, &num, 4);
		memcpy(hdr + 28, &flags, 4);
	}
	nd = 2 + (type == VIRTIO_BLK_T_FLUSH || type == VIRTIO_BLK_T_DISCARD ||
				  type == VIRTIO_BLK_T_WRITE_ZEROES
			  ? 0
			  : segs);
	if (indirect) {
		table = ram + INDIRECT + 16 * 8 * (slot % 64);
		i0 = 0;
	} else {
		table = ram + DESC;
		i0 = slot;
	}
	/* descriptors i0, i0+1, ... (mod the queue size when direct) */
#define IDX(j) ((uint16_t)(indirect ? (j) : (i0 + (j)) % qsize))
	put_desc(table, IDX(k), HDRS + 32 * slot,
		 type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES ? 32 : 16,
		 1 /* NEXT */, IDX(k + 1));
	k++;
	if (nd > 2) {
		bool out = type == VIRTIO_BLK_T_OUT;
		uint32_t piece = dlen / segs, left = dlen;

		for (unsigned s = 0; s < segs; s++, k++) {
			uint32_t l = s + 1 == segs ? left : piece;
			uint64_t at = DATA + ((uint64_t)(slot * 4 + s) * 8192) % (DATA_LEN - 16384);

			put_desc(table, IDX(k), at, l, (uint16_t)((out ? 0 : 2) | 1), IDX(k + 1));
			left -= l;
		}
	}
	put_desc(table, IDX(k), STATUS + slot, 1, 2 /* WRITE */, 0);
	k++;
#undef IDX
	if (indirect) {
		put_desc(ram + DESC, slot, INDIRECT + 16 * 8 * (slot % 64), 16 * k, 4, 0);
		head = slot;
		next_desc = (uint16_t)(next_desc + 1);
	} else {
		head = slot;
		next_desc = (uint16_t)(next_desc + k);
	}
	ram[STATUS + slot] = 0xff;
	make_avail(head);
}

static void kick(void)
{
	bar_write(NOTIFY, 0, 2);
	if (kick_cb)
		kick_cb(kick_arg, 1);
}

/* Finishes the in-flight request @a (mod their number) the way @b says.
 * A read's bytes land in the guest's buffers, as the real backends' do,
 * reset or not. */
static void finish(uint8_t a, uint8_t b)
{
	const struct fake_req *p;
	unsigned i;
	int64_t res;

	if (!io->n)
		return;
	i = a % io->n;
	p = &io->req[i];
	switch (b & 7) {
	case 0:
	case 1:
	case 2: res = (int64_t)p->len; break;
	case 3: res = p->len ? (int64_t)(p->len - 1) : 0; break; /* short */
	case 4: res = -EIO; break;
	case 5: res = -EOPNOTSUPP; break;
	case 6: res = -ENOSPC; break;
	default: res = (int64_t)p->len + 512; break; /* more than asked */
	}
	fake_blkio_finish(io, i, res);
}

/* Reaps what finished. A device that was reset and not started again must
 * not touch the rings or status bytes for requests from before the reset. */
static void complete(void)
{
	static uint8_t before[DATA];
	bool quiet = !live;

	if (quiet)
		memcpy(before, ram, DATA);
	virtio_blk_complete(dev, 1);
	if (quiet && memcmp(before, ram, DATA))
		abort();
}

static void step(const uint8_t *s)
{
	uint8_t a = s[1], b = s[2], c = s[3];

	switch (s[0] % 13) {
	case 0:
	case 1: post(a, b, c); break;
	case 2: kick(); break;
	case 3: finish(a, b); break;
	case 4: complete(); break;
	case 5:
		/* reset with whatever is in flight, then maybe start again */
		bar_write(0x14, 0, 1);
		live = false;
		if (a & 1)
			driver_init();
		break;
	case 6: io->refuse = -EIO; break;
	case 7: virtio_blk_poll(dev); break;
	case 8: {
		/* raw bytes over the rings, headers and descriptors */
		uint32_t off = ((uint32_t)a << 8 | b) % 0x8000;

		ram[off] = c;
		break;
	}
	case 9: {
		/* the driver writes the used event / avail flags, or the avail index */
		uint16_t v = (uint16_t)(b << 8 | c);

		if (qsize)
			memcpy(ram + (a & 1 ? AVAIL + 4 + 2 * qsize : AVAIL + 2), &v, 2);
		break;
	}
	case 10:
		/* any common configuration register, the device status included */
		bar_write((uint32_t)a % 0x38, (uint64_t)b << 8 | c, (size_t)1 << (a >> 6));
		if ((uint32_t)a % 0x38 == 0x14 && !(a >> 6 ? b << 8 | c : c))
			live = false;
		/* only a reset stops the device: a status write that drops
		 * DRIVER_OK without one is a driver error, not a stop */
		live |= bar_read8(0x14) & VIRTIO_STATUS_DRIVER_OK;
		break;
	case 11: {
		/* the device configuration (capacity, limits) and the ISR */
		uint64_t v;

		virtio_pci_bar_ops.read(vp, a & 0x80 ? 0x1000 : 0x2000 + (a & 0x3f) % 60, &v,
					(size_t)1 << (b & 3));
		break;
	}
	default:
		/* everything in flight, oldest first, each as a byte of @a says */
		for (unsigned i = 0; io->n && i < BLKIO_QUEUE_DEPTH; i++)
			finish(0, (uint8_t)(a + i));
		complete();
		break;
	}
	if (io->violations)
		abort(); /* the device broke the blkio.h contract */
}

/* One device per disk shape, made on first use and kept: creating one
 * (its request slots are ~0.5 MiB) costs more than a whole input. Between
 * inputs the backend finishes everything and the device is reset, so it
 * starts each input as a fresh one does. */
struct unit {
	struct virtio_pci *vp;
	struct virtio_blk *dev;
	struct fake_blkio *io;
	void (*kick_cb)(void *, uint32_t);
	void *kick_arg;
};

static struct unit *unit_for(uint8_t shape)
{
	static const struct virtio_pci_host h = { .gm = &gm,
						  .ioeventfd = ok_ioeventfd,
						  .irqfd = ok_irqfd,
						  .msi_route = ok_route,
						  .set_intx = ok_intx,
						  .watch = ok_watch };
	static const uint64_t sizes[] = { 0, 8 * SECTOR, 1 << 20, 1ULL << 40 };
	static struct unit units[32];
	struct unit *u = &units[shape & 31];
	struct virtio_blk_cfg cfg = { .serial = "fuzz-serial-01234567" };

	if (u->dev)
		return u;
	/* no store: a READ fills 0x5a, a WRITE goes nowhere */
	u->io = fake_blkio_create(sizes[(shape >> 3) & 3], shape & 4 ? 4096 : SECTOR, false);
	if (!u->io)
		abort();
	u->io->io.readonly = shape & 1;
	if (shape & 4)
		u->io->io.max_discard_sectors = u->io->io.max_write_zeroes_sectors = 64;
	u->io->mem = ram;
	u->io->mem_len = RAM;
	cfg.io = &u->io->io;
	cfg.discard = shape & 2;
	u->vp = virtio_pci_create(&h, &virtio_blk_ops, BAR, 24, 16);
	u->dev = u->vp ? virtio_blk_create(&cfg, &gm, virtio_pci_transport(u->vp)) : NULL;
	kick_cb = NULL;
	if (!u->dev || virtio_pci_attach(u->vp, u->dev))
		abort();
	u->kick_cb = kick_cb;
	u->kick_arg = kick_arg;
	return u;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct unit *u;

	if (!ram) {
		if (gm_create(&gm, RAM, false))
			abort();
		ram = gm_ptr(&gm, 0, RAM);
	}
	if (len < 3)
		return 0;
	memset(ram, 0, DATA);
	u = unit_for(in[0]);
	vp = u->vp;
	dev = u->dev;
	io = u->io;
	kick_cb = u->kick_cb;
	kick_arg = u->kick_arg;
	io->room = 1u << ((in[0] >> 5) & 7); /* 1 .. 128 */
	io->refuse = 0;
	features = 1ULL << VIRTIO_F_VERSION_1;
	if (in[1] & 1)
		features |= 1ULL << VIRTIO_F_EVENT_IDX;
	if (in[1] & 2)
		features |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	if (in[1] & 4)
		features |= 1ULL << 9;
	if (in[1] & 8)
		features |= 1ULL << 13;
	if (in[1] & 16)
		features |= 1ULL << 14;
	if (in[1] & 64)
		features &= ~(1ULL << VIRTIO_F_VERSION_1);
	if (in[1] & 128)
		features |= 1ULL << 3; /* never offered */
	qsize = in[2] & 0x80 ? in[2] & 0x7f : (uint16_t)(1u << (in[2] % 9));
	next_desc = 0;
	/* MSI-X on or off: its enable bit in the capability's control word */
	virtio_pci_cfg_ops.cfg_write(vp, 0x40 + 2, in[1] & 32 ? 0x8000 : 0, 2);
	driver_init();
	for (size_t i = 3; i + 4 <= len; i += 4)
		step(in + i);
	/* the backend finishes everything (a completion frees slots for
	 * requests that waited: they finish in the next round); then the
	 * device is reset for the next input, and what it took since finishes
	 * into nothing */
	for (unsigned round = 0; io->n && round < 2 * VQ_MAX_SIZE; round++)
		step((const uint8_t[]){ 12, 0, 0, 0 });
	bar_write(0x14, 0, 1);
	live = false;
	step((const uint8_t[]){ 12, 0, 0, 0 });
	if (io->n || io->ndone)
		abort(); /* a request the device never let go of */
	return 0;
}
