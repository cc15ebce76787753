// SPDX-License-Identifier: MIT
/*
 * virtio-blk save and restore (docs/state.md) over a file on the sync
 * engine, whose requests stay in flight until the test reaps them: save is
 * refused while one is in flight, a drained device saves, and a device
 * restored on the same disk re-opened serves the next request exactly as
 * the original did. Records that are cut or come from another disk are
 * refused.
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
#include <sys/mman.h>
#include <unistd.h>

#include "hearth/blkio.h"
#include "hearth/state.h"
#include "hearth/virtio_pci.h"

#define RAM   (1ULL << 20)
#define QSZ   16
#define DESC  0x1000ULL
#define AVAIL 0x2000ULL
#define USED  0x3000ULL
#define BUF   0x10000ULL /* request i: header, data and status at BUF + 0x2000 * i */
#define DISK  (1 << 20)
#define FEATS (1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX | 1ULL << 9)

static struct guest_mem gm;
static struct vq vqs[1];
static struct virtio_blk *dev;
static int disk_fd = -1; /* a memfd: the disk, re-opened by its name */
static char path[64];
static unsigned notifies, resets;
static uint16_t avail_n;

static void t_notify(void *o, int q)
{
	(void)o, (void)q;
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

/* A device on the test's disk (re-opened each time, as a restore does),
 * of @size bytes when not 0 (the file is made that long), read-only or not. */
static struct virtio_blk *open_dev(off_t size, bool readonly)
{
	struct virtio_blk_cfg c = { .readonly = readonly, .serial = "state" };
	struct blkio_file_opts o = { .path = path, .engine = "sync" };
	char why[200];
	struct virtio_blk *b;

	if (size)
		assert_int_equal(truncate(path, size), 0);
	assert_int_equal(blkio_file_open(&c.io, &o, why, sizeof(why)), 0);
	b = virtio_blk_create(&c, &gm, &tr);
	assert_non_null(b);
	return b;
}

static int setup(void **state)
{
	(void)state;
	disk_fd = memfd_create("hearth-unit-disk", MFD_CLOEXEC);
	if (disk_fd < 0 || gm_create(&gm, RAM, false))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", disk_fd);
	dev = open_dev(DISK, false);
	vqs[0] = (struct vq){ .size = QSZ, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED };
	vqs[0].event_idx = true;
	if (vq_enable(&vqs[0], &gm, VQ_MAX_SIZE))
		return -1;
	avail_n = 0;
	notifies = resets = 0;
	virtio_blk_ops.start(dev, FEATS, vqs);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	virtio_blk_destroy(dev);
	gm_destroy(&gm);
	close(disk_fd);
	return 0;
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = gm_ptr(&gm, DESC + 16 * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Request @i (descriptors 3i..3i+2): @type of 4096 bytes at @sector, the
 * data at BUF + 0x2000 * i + 0x1000; made available and kicked. */
static void request(uint16_t i, uint32_t type, uint64_t sector)
{
	uint64_t base = BUF + 0x2000ULL * i;
	uint8_t *h = gm_ptr(&gm, base, 16);
	uint8_t *a = gm_ptr(&gm, AVAIL, 6 + 2 * QSZ);
	uint16_t head = (uint16_t)(3 * i), ev = avail_n;

	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	desc(head, base, 16, 1, head + 1u);
	desc(head + 1u, base + 0x1000, 4096, (uint16_t)(1 | (type == VIRTIO_BLK_T_IN ? 2 : 0)),
	     head + 2u);
	desc(head + 2u, base + 16, 1, 2, 0);
	memcpy(a + 4 + 2 * (avail_n % QSZ), &head, 2);
	memcpy(a + 4 + 2 * QSZ, &ev, 2); /* used_event: an interrupt for this one */
	avail_n++;
	__atomic_store_n((uint16_t *)(void *)(a + 2), avail_n, __ATOMIC_RELEASE);
	virtio_blk_ops.kick(dev, 0);
}

static uint16_t used_idx(void)
{
	uint16_t v;

	memcpy(&v, gm_ptr(&gm, USED + 2, 2), 2);
	return v;
}

static size_t save(uint8_t *buf, size_t cap, int *ret)
{
	struct state_writer w;
	size_t len = 0;

	state_writer_init(&w, buf, cap);
	vq_save(&vqs[0], &w);
	*ret = virtio_blk_ops.save(dev, &w);
	if (!*ret)
		assert_int_equal(state_writer_finish(&w, &len), 0);
	return len;
}

/* As the transport restores: the queue mapped, the device reset and
 * started, then its record. */
static int restore(const uint8_t *buf, size_t len)
{
	struct state_reader r;

	state_reader_init(&r, buf, len);
	if (vq_restore(&vqs[0], &gm, VQ_MAX_SIZE, &r))
		return r.err;
	virtio_blk_ops.reset(dev);
	virtio_blk_ops.start(dev, FEATS, vqs);
	if (virtio_blk_ops.restore(dev, &r))
		return r.err;
	return state_reader_finish(&r);
}

/* A write in flight refuses the save; once reaped, the device saves. The
 * original then reads the block back; a device restored on the re-opened
 * disk, over guest memory as it was at the save, does the same: all of
 * guest memory ends identical (data, status, used ring, event index). */
static void save_after_drain_and_continue(void **state)
{
	static uint8_t snap[RAM], after[RAM];
	uint8_t buf[256], pattern[4096];
	size_t len;
	int ret;

	(void)state;
	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	memcpy(gm_ptr(&gm, BUF + 0x1000, 4096), pattern, 4096);
	request(0, VIRTIO_BLK_T_OUT, 8);
	assert_int_equal(virtio_blk_inflight(dev), 1);
	assert_int_equal(save(buf, sizeof(buf), &ret), 0);
	assert_int_equal(ret, -EBUSY);
	virtio_blk_complete(dev, 0); /* the drain: the loop reaps */
	assert_int_equal(virtio_blk_inflight(dev), 0);
	assert_int_equal(used_idx(), 1);
	assert_int_equal(*(uint8_t *)gm_ptr(&gm, BUF + 16, 1), VIRTIO_BLK_S_OK);
	len = save(buf, sizeof(buf), &ret);
	assert_int_equal(ret, 0);
	memcpy(snap, gm_ptr(&gm, 0, RAM), RAM);

	request(1, VIRTIO_BLK_T_IN, 8);
	virtio_blk_complete(dev, 0);
	assert_int_equal(used_idx(), 2);
	memcpy(after, gm_ptr(&gm, 0, RAM), RAM);

	virtio_blk_destroy(dev);
	dev = open_dev(0, false);
	memcpy(gm_ptr(&gm, 0, RAM), snap, RAM);
	avail_n = 1;
	notifies = 0;
	assert_int_equal(restore(buf, len), 0);
	request(1, VIRTIO_BLK_T_IN, 8);
	virtio_blk_complete(dev, 0);
	assert_int_equal(used_idx(), 2);
	assert_int_equal(notifies, 1);
	assert_memory_equal(gm_ptr(&gm, BUF + 0x2000 + 0x1000, 4096), pattern, 4096);
	assert_memory_equal(gm_ptr(&gm, 0, RAM), after, RAM);
	assert_int_equal(resets, 0);
}

/* Cut records, and records from a disk of another size or another
 * read-only setting, are refused; the device then takes its own record
 * and serves. */
static void restore_refused_blk(void **state)
{
	uint8_t buf[256], bad[256];
	size_t len;
	int ret;

	(void)state;
	request(0, VIRTIO_BLK_T_FLUSH, 0);
	virtio_blk_complete(dev, 0);
	len = save(buf, sizeof(buf), &ret);
	assert_int_equal(ret, 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_true(restore(buf, cut) < 0);
	memcpy(bad, buf, len);
	bad[len - 2] = 5; /* "broken" must be a bool */
	assert_int_equal(restore(bad, len), -EBADMSG);
	/* another disk: twice the size, then read-only */
	virtio_blk_destroy(dev);
	dev = open_dev(2 * DISK, false);
	assert_int_equal(restore(buf, len), -EINVAL);
	virtio_blk_destroy(dev);
	dev = open_dev(DISK, true);
	assert_int_equal(restore(buf, len), -EINVAL);
	virtio_blk_destroy(dev);
	dev = open_dev(DISK, false);
	assert_int_equal(restore(buf, len), 0);
	request(1, VIRTIO_BLK_T_IN, 0);
	virtio_blk_complete(dev, 0);
	assert_int_equal(used_idx(), 2);
	assert_int_equal(*(uint8_t *)gm_ptr(&gm, BUF + 0x2000 + 16, 1), VIRTIO_BLK_S_OK);
}

/* A queue saved quiet (the original was polled) is restored into a device
 * that is not: it asks the driver for kicks again (avail_event at the next
 * entry), and the driver's next kick is served. */
static void restored_queue_listens(void **state)
{
	uint8_t buf[256];
	uint16_t ev;
	size_t len;
	int ret;

	(void)state;
	request(0, VIRTIO_BLK_T_FLUSH, 0);
	virtio_blk_complete(dev, 0);
	vq_quiet(&vqs[0]);
	len = save(buf, sizeof(buf), &ret);
	assert_int_equal(ret, 0);
	memcpy(&ev, gm_ptr(&gm, USED + 4 + 8 * QSZ, 2), 2);
	assert_int_equal(ev, (uint16_t)(1 + 0x8000)); /* far ahead: no kicks */
	assert_int_equal(restore(buf, len), 0);
	assert_false(vqs[0].quiet);
	memcpy(&ev, gm_ptr(&gm, USED + 4 + 8 * QSZ, 2), 2);
	assert_int_equal(ev, 1);
	request(1, VIRTIO_BLK_T_FLUSH, 0);
	virtio_blk_complete(dev, 0);
	assert_int_equal(used_idx(), 2);
}

/* ---- through the PCI transport, as a snapshot saves it ---- */

/* the transport's host side: every call succeeds, the kick watch is kept */
#include "../fuzz/fake_host.h"

static void bar_write(struct virtio_pci *vp, uint64_t off, uint64_t v, size_t len)
{
	virtio_pci_bar_ops.write(vp, off, &v, len);
}

static size_t vp_save(struct virtio_pci *vp, uint8_t *buf, size_t cap, int *ret)
{
	struct state_writer w;
	size_t len = 0;

	state_writer_init(&w, buf, cap);
	*ret = virtio_pci_save(vp, &w);
	if (!*ret)
		assert_int_equal(state_writer_finish(&w, &len), 0);
	return len;
}

/* A function on @h with a virtio-blk on the test's disk behind it. */
static struct virtio_pci *pci_blk(const struct virtio_pci_host *h, struct virtio_blk **b)
{
	struct virtio_pci *vp = virtio_pci_create(h, &virtio_blk_ops, 0xc0000000ULL, 24, 16);
	struct virtio_blk_cfg c = { .serial = "state" };
	struct blkio_file_opts o = { .path = path, .engine = "sync" };
	char why[200];

	assert_non_null(vp);
	assert_int_equal(blkio_file_open(&c.io, &o, why, sizeof(why)), 0);
	*b = virtio_blk_create(&c, &gm, virtio_pci_transport(vp));
	assert_non_null(*b);
	assert_int_equal(virtio_pci_attach(vp, *b), 0);
	return vp;
}

/* A request in flight: the transport's save says -EBUSY (the device's
 * answer) and writes nothing usable; after the loop reaps it, the save
 * goes through, and the record restores into a new function on the same
 * disk, whose next request completes. */
static void transport_save_waits_for_drain(void **state)
{
	struct virtio_pci_host h = {
		&gm, NULL, ok_ioeventfd, ok_irqfd, ok_route, ok_intx, ok_watch
	};
	struct virtio_pci *vp, *vp2;
	struct virtio_blk *b, *b2;
	uint8_t buf[1024];
	size_t len;
	int ret;

	(void)state;
	virtio_blk_destroy(dev); /* the one on the test's own transport */
	dev = NULL;
	vp = pci_blk(&h, &b);
	bar_write(vp, 0x14, 3, 1);
	bar_write(vp, 0x08, 1, 4);
	bar_write(vp, 0x0c, 1, 4); /* VERSION_1 */
	bar_write(vp, 0x14, 11, 1);
	bar_write(vp, 0x18, QSZ, 2);
	bar_write(vp, 0x20, DESC, 8);
	bar_write(vp, 0x28, AVAIL, 8);
	bar_write(vp, 0x30, USED, 8);
	bar_write(vp, 0x1c, 1, 2);
	bar_write(vp, 0x14, 15, 1);
	dev = b; /* request() kicks the device directly: same path as a kick */
	request(0, VIRTIO_BLK_T_OUT, 0);
	assert_int_equal(virtio_blk_inflight(b), 1);
	{
		struct state_writer w;

		state_writer_init(&w, buf, sizeof(buf));
		assert_int_equal(virtio_pci_save(vp, &w), -EBUSY);
		assert_int_equal(state_writer_finish(&w, NULL), -EBUSY); /* nothing to use */
	}
	virtio_blk_complete(b, 0);
	assert_int_equal(virtio_blk_inflight(b), 0);
	len = vp_save(vp, buf, sizeof(buf), &ret);
	assert_int_equal(ret, 0);

	virtio_pci_destroy(vp); /* the disk is locked while open: close first */
	virtio_blk_destroy(b);
	vp2 = pci_blk(&h, &b2);
	{
		struct state_reader r;

		state_reader_init(&r, buf, len);
		assert_int_equal(virtio_pci_restore(vp2, &r), 0);
		assert_int_equal(state_reader_finish(&r), 0);
	}
	dev = b2;
	request(1, VIRTIO_BLK_T_IN, 0);
	virtio_blk_complete(b2, 0);
	assert_int_equal(used_idx(), 2);
	assert_int_equal(*(uint8_t *)gm_ptr(&gm, BUF + 0x2000 + 16, 1), VIRTIO_BLK_S_OK);
	dev = NULL;
	virtio_pci_destroy(vp2);
	virtio_blk_destroy(b2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(save_after_drain_and_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_refused_blk, setup, teardown),
		cmocka_unit_test_setup_teardown(transport_save_waits_for_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(restored_queue_listens, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
