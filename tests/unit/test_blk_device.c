// SPDX-License-Identifier: MIT
/*
 * The virtio-blk device end to end over a fake block backend
 * (fake_blkio.c): a driver's requests in guest memory go to the backend as
 * the right operations, and what the backend answers, whenever and in
 * whatever order it answers, reaches the guest as the right status. Data
 * written by the guest lands on the disk and reads back; a FLUSH reaches
 * the backend before the guest hears of it; a backend error, a refusal or a
 * short count is never reported as OK; completions that arrive after a
 * device reset touch neither guest memory nor the used ring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "fake_blkio.h"
#include "hearth/virtio.h"

#define RAM	  (1ULL << 20)
#define QSZ	  64
#define DESC	  0x1000ULL
#define AVAIL	  0x2000ULL
#define USED	  0x3000ULL
#define HDRS	  0x4000ULL  /* a 32-byte header per head (a DISCARD's has its segment) */
#define STATUS	  0x5000ULL  /* a status byte per head */
#define DATA	  0x10000ULL /* 16 KiB of data per head from here */
#define DISK	  (256ULL << 10)
#define F_FLUSH	  (1ULL << 9)
#define F_DISCARD (1ULL << 13)

static struct guest_mem gm;
static uint8_t *ram;
static struct vq vq;
static struct fake_blkio *fk;
static struct virtio_blk *dev;
static uint16_t avail_n;
static unsigned notifies, resets;

static void t_notify(void *o, int q)
{
	(void)o;
	(void)q;
	notifies++;
}
static void t_needs_reset(void *o)
{
	(void)o;
	resets++;
}
static void t_nop(void *o)
{
	(void)o;
}
static const struct virtio_transport tr = { t_notify, t_needs_reset, t_nop, t_nop, NULL };

/* ---- the driver ---- */

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + DESC + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Rings zeroed, the queue enabled and the device started, as a driver
 * (re)initialising it. */
static void start(uint64_t features)
{
	memset(ram + DESC, 0, USED + 0x1000 - DESC);
	avail_n = 0;
	vq = (struct vq){ .size = QSZ, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED };
	assert_int_equal(vq_enable(&vq, &gm, VQ_MAX_SIZE), 0);
	virtio_blk_ops.start(dev, (1ULL << VIRTIO_F_VERSION_1) | features, &vq);
}

/* Request at head @h (descriptors 4h..4h+3): @type at @sector with
 * @len bytes of data in two buffers at DATA + 16 KiB * h (none if 0); a
 * DISCARD covers @len bytes from @sector. */
static void post(uint16_t h, uint32_t type, uint64_t sector, uint32_t len)
{
	uint8_t *hdr = ram + HDRS + 32 * h;
	uint16_t d = (uint16_t)(4 * h), wr = type == VIRTIO_BLK_T_IN ? 2 : 0;

	memset(hdr, 0, 32);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	if (type == VIRTIO_BLK_T_DISCARD) {
		/* its one segment follows the header: sector, sectors, flags */
		uint32_t num = len / 512;

		memcpy(hdr + 16, &sector, 8);
		memcpy(hdr + 24, &num, 4);
		desc(d, HDRS + 32 * h, 32, 1, (uint16_t)(d + 1));
		len = 0;
	} else {
		desc(d, HDRS + 32 * h, 16, 1, (uint16_t)(d + 1));
	}
	if (len) {
		/* two buffers, so the vector the backend gets is checked too */
		desc(d + 1u, DATA + 0x4000ULL * h, len / 2, (uint16_t)(1 | wr), (uint16_t)(d + 2));
		desc(d + 2u, DATA + 0x4000ULL * h + len / 2, len - len / 2, (uint16_t)(1 | wr),
		     (uint16_t)(d + 3));
		d = (uint16_t)(d + 2);
	}
	desc(d + 1u, STATUS + h, 1, 2, 0);
	ram[STATUS + h] = 0xff;
	d = (uint16_t)(4 * h); /* the chain's head */
	memcpy(ram + AVAIL + 4 + 2 * (avail_n % QSZ), &d, 2);
	avail_n++;
	__atomic_store_n((uint16_t *)(void *)(ram + AVAIL + 2), avail_n, __ATOMIC_RELEASE);
}

static void kick(void)
{
	virtio_blk_ops.kick(dev, 0);
}

static uint16_t used_idx(void)
{
	uint16_t v;

	memcpy(&v, ram + USED + 2, 2);
	return v;
}

/* The used ring's entry @i: head and length. */
static void used(unsigned i, uint32_t *head, uint32_t *len)
{
	memcpy(head, ram + USED + 4 + 8 * (i % QSZ), 4);
	memcpy(len, ram + USED + 8 + 8 * (i % QSZ), 4);
}

/* Entry @i is request @h's (posted at head 4h), @len bytes written. */
static void assert_used(unsigned i, uint32_t h, uint32_t len)
{
	uint32_t head, l;

	used(i, &head, &l);
	assert_int_equal(head, 4 * h);
	assert_int_equal(l, len);
}

static uint8_t *data(uint16_t h)
{
	return ram + DATA + 0x4000ULL * h;
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	struct virtio_blk_cfg c = { .serial = "fake-disk", .discard = true };

	(void)state;
	if (gm_create(&gm, RAM, false))
		return -1;
	ram = gm_ptr(&gm, 0, RAM);
	fk = fake_blkio_create(DISK, 512, true);
	if (!ram || !fk)
		return -1;
	fk->mem = ram;
	fk->mem_len = RAM;
	c.io = &fk->io;
	dev = virtio_blk_create(&c, &gm, &tr);
	notifies = resets = 0;
	return dev ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	/* nothing broke the blkio.h contract, whatever the test did, and
	 * every request the device took came back to it */
	assert_int_equal(fk->violations, 0);
	assert_int_equal(fk->n + fk->ndone, 0);
	assert_int_equal(resets, 0);
	virtio_blk_destroy(dev); /* closes the fake */
	gm_destroy(&gm);
	return 0;
}

/* ---- the tests ---- */

/* A WRITE's bytes land on the disk at its sector; a READ brings them back
 * into the guest's buffers, and only once the backend finished it. */
static void write_then_read(void **state)
{
	(void)state;
	start(0);
	pattern(data(0), 8192, 1);
	post(0, VIRTIO_BLK_T_OUT, 16, 8192);
	kick();
	assert_int_equal(fk->n, 1);
	assert_int_equal(fk->ops[BLKIO_WRITE], 1);
	assert_int_equal(fk->req[0].off, 16 * 512);
	assert_int_equal(fk->req[0].len, 8192);
	assert_int_equal(used_idx(), 0); /* nothing answered before the backend */
	assert_int_equal(ram[STATUS + 0], 0xff);
	assert_int_equal(fake_blkio_finish(fk, 0, 8192), 0);
	virtio_blk_complete(dev, 0);
	assert_int_equal(ram[STATUS + 0], VIRTIO_BLK_S_OK);
	assert_int_equal(used_idx(), 1);
	assert_used(0, 0, 1);
	assert_memory_equal(fk->disk + 16 * 512, data(0), 8192);
	assert_true(notifies > 0);

	memset(data(1), 0, 8192);
	post(1, VIRTIO_BLK_T_IN, 16, 8192);
	kick();
	assert_int_equal(fk->ops[BLKIO_READ], 1);
	assert_int_equal(fk->req[0].off, 16 * 512);
	assert_int_equal(fake_blkio_finish(fk, 0, 8192), 0);
	/* the poller finds it without the eventfd */
	assert_true(virtio_blk_poll(dev));
	assert_int_equal(ram[STATUS + 1], VIRTIO_BLK_S_OK);
	assert_int_equal(used_idx(), 2);
	assert_used(1, 1, 8192 + 1);
	assert_memory_equal(data(1), data(0), 8192);
}

/* Completions in another order than the requests: each reaches its own
 * request, in the order the backend finished them. */
static void completion_order(void **state)
{
	uint8_t want[3][4096];

	(void)state;
	start(0);
	for (unsigned k = 0; k < 3; k++) {
		pattern(fk->disk + 4096 * k, 4096, 10 + k);
		memcpy(want[k], fk->disk + 4096 * k, 4096);
		memset(data((uint16_t)k), 0, 4096);
		post((uint16_t)k, VIRTIO_BLK_T_IN, 8 * k, 4096);
	}
	kick();
	assert_int_equal(fk->n, 3);
	/* the newest first, then the oldest, then the middle one */
	assert_int_equal(fake_blkio_finish(fk, 2, 4096), 0);
	virtio_blk_complete(dev, 0);
	assert_int_equal(used_idx(), 1);
	assert_used(0, 2, 4097);
	assert_int_equal(ram[STATUS + 0], 0xff);
	assert_int_equal(ram[STATUS + 1], 0xff);
	assert_int_equal(fake_blkio_finish(fk, 0, 4096), 0);
	assert_int_equal(fake_blkio_finish(fk, 0, 4096), 0);
	virtio_blk_complete(dev, 0);
	assert_int_equal(used_idx(), 3);
	assert_used(1, 0, 4097);
	assert_used(2, 1, 4097);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(ram[STATUS + k], VIRTIO_BLK_S_OK);
		assert_memory_equal(data((uint16_t)k), want[k], 4096);
	}
}

/* A FLUSH is the backend's to do: the guest hears of it only after the
 * backend finished it. Not negotiated, it never reaches the backend. */
static void flush_reaches_backend(void **state)
{
	(void)state;
	start(F_FLUSH);
	post(0, VIRTIO_BLK_T_FLUSH, 0, 0);
	kick();
	assert_int_equal(fk->ops[BLKIO_FLUSH], 1);
	assert_int_equal(fk->n, 1);
	assert_true(fk->req[0].submitted);
	assert_int_equal(used_idx(), 0);
	assert_int_equal(ram[STATUS + 0], 0xff);
	assert_int_equal(fake_blkio_finish(fk, 0, 0), 0);
	virtio_blk_complete(dev, 0);
	assert_int_equal(ram[STATUS + 0], VIRTIO_BLK_S_OK);
	assert_used(0, 0, 1);

	/* a failed flush is an error, not a success */
	post(1, VIRTIO_BLK_T_FLUSH, 0, 0);
	kick();
	assert_int_equal(fake_blkio_finish(fk, 0, -EIO), 0);
	virtio_blk_complete(dev, 0);
	assert_int_equal(ram[STATUS + 1], VIRTIO_BLK_S_IOERR);

	/* without VIRTIO_BLK_F_FLUSH */
	virtio_blk_ops.reset(dev);
	start(0);
	post(0, VIRTIO_BLK_T_FLUSH, 0, 0);
	kick();
	assert_int_equal(fk->ops[BLKIO_FLUSH], 2);
	assert_int_equal(fk->n, 0);
	assert_int_equal(ram[STATUS + 0], VIRTIO_BLK_S_UNSUPP);
}

/* Whatever way the backend fails a request, the guest hears IOERR (or
 * UNSUPP for what the backend cannot do at all), with nothing of the data
 * claimed written. */
static void backend_errors(void **state)
{
	struct virtio_counts c;

	(void)state;
	start(F_DISCARD);
	post(0, VIRTIO_BLK_T_OUT, 0, 4096);
	post(1, VIRTIO_BLK_T_IN, 8, 4096);
	post(2, VIRTIO_BLK_T_DISCARD, 0, 4096);
	kick();
	assert_int_equal(fk->n, 3);
	assert_int_equal(fk->ops[BLKIO_DISCARD], 1);
	assert_int_equal(fake_blkio_finish(fk, 0, -EIO), 0);
	assert_int_equal(fake_blkio_finish(fk, 0, -ENOSPC), 0);
	assert_int_equal(fake_blkio_finish(fk, 0, -EOPNOTSUPP), 0);
	virtio_blk_complete(dev, 0);
	assert_int_equal(used_idx(), 3);
	assert_int_equal(ram[STATUS + 0], VIRTIO_BLK_S_IOERR);
	assert_int_equal(ram[STATUS + 1], VIRTIO_BLK_S_IOERR);
	assert_int_equal(ram[STATUS + 2], VIRTIO_BLK_S_UNSUPP);
	/* a failed READ returns only its status byte */
	assert_used(1, 1, 1);

	/* the backend refuses the request outright */
	fk->refuse = -EIO;
	post(3, VIRTIO_BLK_T_OUT, 0, 4096);
	kick();
	assert_int_equal(fk->n, 0);
	assert_int_equal(ram[STATUS + 3], VIRTIO_BLK_S_IOERR);
	assert_int_equal(used_idx(), 4);
	virtio_blk_counts(dev, &c);
	assert_int_equal(c.requests, 4);
	assert_int_equal(c.errors, 4);
	assert_int_equal(c.bytes, 0);
}

/* A byte count short of (or beyond) the request is a failure: the guest
 * must never take a partial transfer for the whole. */
static void short_is_never_ok(void **state)
{
	static const int64_t counts[] = { 4096 - 512, 4095, 0, 4096 + 512 };

	(void)state;
	start(0);
	for (uint16_t k = 0; k < 4; k++) {
		post(k, k & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0, 4096);
		kick();
		assert_int_equal(fake_blkio_finish(fk, 0, counts[k]), 0);
		virtio_blk_complete(dev, 0);
		assert_int_equal(used_idx(), k + 1);
		assert_int_equal(ram[STATUS + k], VIRTIO_BLK_S_IOERR);
		assert_used(k, k, 1);
	}
}

/* A device reset with requests in flight: their completions, before the
 * driver starts the device again or after, write no status byte and no
 * used entry, and raise no interrupt; the slots come back, so the new
 * incarnation runs as a fresh one. */
static void reset_in_flight(void **state)
{
	static uint8_t before[DATA];
	unsigned n0;

	(void)state;
	start(F_FLUSH);
	pattern(data(1), 4096, 3);
	post(0, VIRTIO_BLK_T_IN, 0, 4096);
	post(1, VIRTIO_BLK_T_OUT, 8, 4096);
	post(2, VIRTIO_BLK_T_FLUSH, 0, 0);
	kick();
	assert_int_equal(fk->n, 3);
	virtio_blk_ops.reset(dev);
	vq_reset(&vq);
	/* completions while the device is reset: rings and status bytes
	 * stay as they were (a READ's data is the backend's to land) */
	memcpy(before, ram, DATA);
	n0 = notifies;
	assert_int_equal(fake_blkio_finish(fk, 1, 4096), 0);
	assert_int_equal(fake_blkio_finish(fk, 0, 4096), 0);
	virtio_blk_complete(dev, 0);
	assert_memory_equal(before, ram, DATA);
	assert_int_equal(notifies, n0);

	/* started again, then the last old one completes: it is not the new
	 * incarnation's, whose used ring starts from nothing */
	start(F_FLUSH);
	memcpy(before, ram, DATA);
	assert_int_equal(fake_blkio_finish(fk, 0, 0), 0);
	virtio_blk_complete(dev, 0);
	assert_memory_equal(before, ram, DATA);
	assert_int_equal(used_idx(), 0);

	/* the new incarnation serves requests as a fresh device does */
	for (uint16_t h = 0; h < QSZ / 4; h++)
		post(h, VIRTIO_BLK_T_FLUSH, 0, 0);
	kick();
	assert_int_equal(fk->n, QSZ / 4);
	fake_blkio_finish_all(fk);
	virtio_blk_complete(dev, 0);
	assert_int_equal(used_idx(), QSZ / 4);
	for (uint16_t h = 0; h < QSZ / 4; h++) {
		assert_used(h, h, 1);
		assert_int_equal(ram[STATUS + h], VIRTIO_BLK_S_OK);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(write_then_read, setup, teardown),
		cmocka_unit_test_setup_teardown(completion_order, setup, teardown),
		cmocka_unit_test_setup_teardown(flush_reaches_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(backend_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(short_is_never_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(reset_in_flight, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
