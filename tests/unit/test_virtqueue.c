// SPDX-License-Identifier: MIT
/*
 * Split virtqueue against a hostile driver: every malformed ring must give
 * -EINVAL (never a crash, never a buffer outside guest RAM), valid ones
 * must come through intact, and EVENT_IDX must suppress what it should.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "hearth/state.h"
#include "hearth/virtio.h"

#define RAM   (1ULL << 20)
#define QSZ   8
#define DESC  0x1000ULL
#define AVAIL 0x2000ULL
#define USED  0x3000ULL
#define BUF   0x10000ULL

static struct guest_mem gm;
static struct vq q;
static struct vq_elem e;

static int setup(void **state)
{
	(void)state;
	return gm_create(&gm, RAM, false);
}

static int teardown(void **state)
{
	(void)state;
	gm_destroy(&gm);
	return 0;
}

static void table_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	uint8_t *d = gm_ptr(&gm, table + 16 * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* A descriptor of the ring's own table. */
static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	table_desc(DESC, i, addr, len, flags, next);
}

/* Publishes chain heads and sets avail idx. */
static void avail(uint16_t idx, uint16_t slot_head)
{
	uint8_t *a = gm_ptr(&gm, AVAIL, 6 + 2 * QSZ);
	uint16_t prev;

	memcpy(&prev, a + 2, 2);
	memcpy(a + 4 + 2 * (prev % QSZ), &slot_head, 2);
	memcpy(a + 2, &idx, 2);
}

static void fresh(bool event_idx, bool indirect)
{
	memset(gm_ptr(&gm, 0, RAM), 0, RAM);
	vq_reset(&q);
	q.size = QSZ;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	q.event_idx = event_idx;
	q.indirect = indirect;
	assert_int_equal(vq_enable(&q, &gm, 256), 0);
}

static void enable_checks_geometry(void **state)
{
	static const struct {
		uint16_t size;
		uint64_t d, a, u;
	} bad[] = {
		{ 0, DESC, AVAIL, USED },
		{ 3, DESC, AVAIL, USED },
		{ 512, DESC, AVAIL, USED },
		{ 8, DESC + 8, AVAIL, USED },
		{ 8, DESC, AVAIL + 1, USED },
		{ 8, DESC, AVAIL, USED + 2 },
		{ 8, RAM - 16, AVAIL, USED },
		{ 8, DESC, RAM - 4, USED },
		{ 8, DESC, AVAIL, RAM - 8 },
		{ 8, UINT64_MAX - 15, AVAIL, USED },
		{ 256, DESC, AVAIL, UINT64_MAX - 1023 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vq_reset(&q);
		q.size = bad[i].size;
		q.desc_gpa = bad[i].d;
		q.avail_gpa = bad[i].a;
		q.used_gpa = bad[i].u;
		assert_int_equal(vq_enable(&q, &gm, 256), -EINVAL);
		assert_false(q.ready);
		assert_int_equal(vq_pop(&q, &gm, &e), 0); /* not ready: nothing */
	}
	fresh(false, false);
	assert_true(q.ready);
}

static void chain_round_trip(void **state)
{
	uint8_t hdr[16] = { 1, 2, 3 }, out[4];
	uint16_t used_idx;
	uint32_t id, len;

	(void)state;
	fresh(false, false);
	assert_int_equal(vq_pop(&q, &gm, &e), 0); /* empty */
	memcpy(gm_ptr(&gm, BUF, 16), hdr, 16);
	desc(2, BUF, 16, 1, 5);		 /* readable, next 5 */
	desc(5, BUF + 0x100, 0, 1, 6);	 /* zero-length: skipped */
	desc(6, BUF + 0x200, 512, 3, 7); /* writable, next 7 */
	desc(7, BUF + 0x400, 1, 2, 0);	 /* writable, last */
	avail(1, 2);
	assert_int_equal(vq_pop(&q, &gm, &e), 1);
	assert_int_equal(e.head, 2);
	assert_int_equal(e.n_out, 1);
	assert_int_equal(e.n_in, 2);
	assert_int_equal(e.out_len, 16);
	assert_int_equal(e.in_len, 513);
	assert_ptr_equal(e.iov[1].iov_base, gm_ptr(&gm, BUF + 0x200, 1));
	assert_int_equal(vq_elem_read(&e, 0, out, 4), 4);
	assert_memory_equal(out, hdr, 4);
	assert_int_equal(vq_elem_read(&e, 14, out, 4), 2);     /* only 16 readable bytes */
	assert_int_equal(vq_elem_write(&e, 510, "abc", 3), 3); /* spans two buffers */
	assert_memory_equal(gm_ptr(&gm, BUF + 0x200 + 510, 2), "ab", 2);
	assert_memory_equal(gm_ptr(&gm, BUF + 0x400, 1), "c", 1);
	assert_int_equal(vq_pop(&q, &gm, &e), 0);
	vq_push(&q, 2, 513);
	memcpy(&used_idx, gm_ptr(&gm, USED + 2, 2), 2);
	memcpy(&id, gm_ptr(&gm, USED + 4, 4), 4);
	memcpy(&len, gm_ptr(&gm, USED + 8, 4), 4);
	assert_int_equal(used_idx, 1);
	assert_int_equal(id, 2);
	assert_int_equal(len, 513);
}

/* Each case: one chain built by @build, expected -EINVAL. */
static void broken_rings(void **state)
{
	(void)state;

	/* avail idx runs more than a ring ahead */
	fresh(false, false);
	desc(0, BUF, 16, 0, 0);
	avail(QSZ + 1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);

	/* head out of range */
	fresh(false, false);
	avail(1, QSZ);
	assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);

	/* a loop */
	fresh(false, false);
	desc(0, BUF, 16, 1, 1);
	desc(1, BUF, 16, 1, 0);
	avail(1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);

	/* next out of range */
	fresh(false, false);
	desc(0, BUF, 16, 1, QSZ);
	avail(1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);

	/* past guest RAM, straddling its end, wrapping past 2^64, huge */
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bufs[] = { { RAM, 16 }, { RAM - 8, 16 }, { UINT64_MAX - 7, 16 }, { 0, UINT32_MAX } };
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
		fresh(false, false);
		desc(0, bufs[i].addr, bufs[i].len, 0, 0);
		avail(1, 0);
		assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);
	}

	/* readable after writable */
	fresh(false, false);
	desc(0, BUF, 16, 3, 1);
	desc(1, BUF, 16, 0, 0);
	avail(1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);
}

static void indirect_tables(void **state)
{
	const uint64_t t = 0x8000;

	(void)state;
	/* valid: one indirect descriptor pointing at a 3-entry table */
	fresh(false, true);
	table_desc(t, 0, BUF, 16, 1, 1);
	table_desc(t, 1, BUF + 0x200, 512, 3, 2);
	table_desc(t, 2, BUF + 0x400, 1, 2, 0);
	desc(0, t, 48, 4, 0);
	avail(1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), 1);
	assert_int_equal(e.n_out + e.n_in, 3);

	/* not negotiated */
	fresh(false, false);
	table_desc(t, 0, BUF, 16, 0, 0);
	desc(0, t, 16, 4, 0);
	avail(1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);

	/* nested, with NEXT, bad length, loop inside, next past the table */
	static const struct {
		uint16_t t0_flags, t0_next, head_flags;
		uint32_t head_len;
	} bad[] = {
		{ 4, 0, 4, 16 }, /* indirect inside indirect */
		{ 0, 0, 5, 16 }, /* INDIRECT | NEXT */
		{ 0, 0, 4, 24 }, /* not a multiple of 16 */
		{ 0, 0, 4, 0 },	 /* empty table */
		{ 1, 0, 4, 16 }, /* loops onto itself */
		{ 1, 1, 4, 16 }, /* next past the 1-entry table */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fresh(false, true);
		table_desc(t, 0, BUF, 16, bad[i].t0_flags, bad[i].t0_next);
		desc(0, t, bad[i].head_len, bad[i].head_flags, 1);
		avail(1, 0);
		assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);
	}
}

/*
 * Headers are read through vq_elem_read_once (each guest byte loaded once:
 * one snapshot to check and use), also across buffers and from an offset;
 * descriptors the same way, at whatever alignment an indirect table has.
 */
static void read_once_snapshots(void **state)
{
	const uint64_t t = 0x8001; /* an indirect table need not be aligned */
	uint8_t hdr[16], out[16] = { 0 };

	(void)state;
	fresh(false, true);
	for (unsigned i = 0; i < 16; i++)
		hdr[i] = (uint8_t)(0xa0 + i);
	memcpy(gm_ptr(&gm, BUF + 0x0fd, 3), hdr, 3); /* 3 bytes, then 13 */
	memcpy(gm_ptr(&gm, BUF + 0x300, 13), hdr + 3, 13);
	table_desc(t, 0, BUF + 0x0fd, 3, 1, 1);
	table_desc(t, 1, BUF + 0x300, 13, 1, 2);
	table_desc(t, 2, BUF + 0x400, 1, 2, 0);
	desc(0, t, 48, 4, 0);
	avail(1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), 1);
	assert_int_equal(e.n_out, 2);
	assert_int_equal(e.out_len, 16);
	assert_ptr_equal(e.iov[1].iov_base, gm_ptr(&gm, BUF + 0x300, 13));
	assert_int_equal(vq_elem_read_once(&e, 0, out, 16), 16);
	assert_memory_equal(out, hdr, 16);
	assert_int_equal(vq_elem_read_once(&e, 2, out, 16), 14); /* 14 left from 2 */
	assert_memory_equal(out, hdr + 2, 14);
	assert_int_equal(vq_iov_read_once(e.iov + 1, 1, 5, out, 4), 4);
	assert_memory_equal(out, hdr + 8, 4);
}

static void event_idx_suppression(void **state)
{
	uint16_t used_event, avail_event;

	(void)state;
	fresh(true, false);
	for (unsigned i = 0; i < 3; i++)
		desc(i, BUF, 16, 0, 0);
	avail(1, 0);
	avail(2, 1);
	avail(3, 2);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vq_pop(&q, &gm, &e), 1);
	memcpy(&avail_event, gm_ptr(&gm, USED + 4 + 8 * QSZ, 2), 2);
	assert_int_equal(avail_event, 3); /* kick me from the 4th entry on */

	/* the driver wants an interrupt only once used idx passes 2 */
	used_event = 2;
	memcpy(gm_ptr(&gm, AVAIL + 4 + 2 * QSZ, 2), &used_event, 2);
	vq_push(&q, 0, 0);
	assert_true(vq_should_notify(&q)); /* the first one always */
	vq_push(&q, 1, 0);
	assert_false(vq_should_notify(&q)); /* used idx 2: not past 2 */
	vq_push(&q, 2, 0);
	assert_true(vq_should_notify(&q)); /* used idx 3 crossed 2 */

	/* without EVENT_IDX: the NO_INTERRUPT flag */
	fresh(false, false);
	desc(0, BUF, 16, 0, 0);
	avail(1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), 1);
	vq_push(&q, 0, 0);
	*(uint16_t *)gm_ptr(&gm, AVAIL, 2) = 1;
	assert_false(vq_should_notify(&q));
	*(uint16_t *)gm_ptr(&gm, AVAIL, 2) = 0;
	assert_true(vq_should_notify(&q));
}

static void too_many_buffers(void **state)
{
	const uint64_t t = 0x20000;

	(void)state;
	fresh(false, true);
	/* an indirect table of VQ_MAX_SEGS entries is fine... */
	for (unsigned i = 0; i < VQ_MAX_SEGS; i++)
		table_desc(t, i, BUF, 1, i + 1 < VQ_MAX_SEGS ? 1 : 0, (uint16_t)(i + 1));
	desc(0, t, 16 * VQ_MAX_SEGS, 4, 0);
	avail(1, 0);
	assert_int_equal(vq_pop(&q, &gm, &e), 1);
	assert_int_equal(e.n_out, VQ_MAX_SEGS);
	/* ...one more is refused */
	desc(1, t, 16 * (VQ_MAX_SEGS + 1), 4, 0);
	avail(2, 1);
	assert_int_equal(vq_pop(&q, &gm, &e), -EINVAL);
}

/* A device may hold a queue the driver never enabled (DRIVER_OK without
 * queue_enable, or after a reset): fuzz_blk_device found virtio-blk's
 * completion path asking such a queue whether to notify, through its NULL
 * rings. Every call must be a no-op there. */
static void queue_not_ready(void **state)
{
	(void)state;
	vq_reset(&q);
	q.size = QSZ; /* what the driver wrote, never enabled */
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	assert_false(vq_has_work(&q));
	assert_int_equal(vq_pop(&q, &gm, &e), 0);
	vq_push(&q, 0, 1);
	assert_int_equal(q.used_idx, 0);
	assert_false(vq_should_notify(&q));
	vq_quiet(&q);
	assert_false(vq_listen(&q));
}

/* vq_save of @src into @buf; the record's length. */
static size_t vq_record(const struct vq *src, uint8_t *buf, size_t cap)
{
	struct state_writer w;
	size_t len = 0;

	state_writer_init(&w, buf, cap);
	assert_int_equal(vq_save(src, &w), 0);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	return len;
}

static int vq_from(struct vq *dst, const uint8_t *buf, size_t len)
{
	struct state_reader r;
	int ret;

	state_reader_init(&r, buf, len);
	ret = vq_restore(dst, &gm, 256, &r);
	return ret ? ret : state_reader_finish(&r);
}

/* A queue saved after three chains and an interrupt decision, quiet:
 * restored, it maps the same rings, keeps its indices and event-idx
 * shadow, and takes the driver's next chain as the original would. */
static void state_round_trip(void **state)
{
	uint8_t buf[128];
	struct vq r = { 0 };
	size_t len;

	(void)state;
	fresh(true, false);
	for (uint16_t i = 0; i < 3; i++) {
		desc(i, BUF + 0x100 * i, 64, 2, 0);
		avail((uint16_t)(i + 1), i);
		assert_int_equal(vq_pop(&q, &gm, &e), 1);
		vq_push(&q, e.head, 64);
	}
	assert_true(vq_should_notify(&q));
	vq_quiet(&q);
	len = vq_record(&q, buf, sizeof(buf));
	assert_int_equal(vq_from(&r, buf, len), 0);
	assert_true(r.ready && r.size == q.size && r.desc == q.desc && r.avail == q.avail &&
		    r.used == q.used && r.event_idx && !r.indirect && r.quiet);
	assert_true(r.last_avail == 3 && r.used_idx == 3 && r.signalled_used == 3 &&
		    r.signalled_valid);
	desc(3, BUF + 0x300, 64, 2, 0);
	avail(4, 3);
	assert_int_equal(vq_pop(&r, &gm, &e), 1);
	assert_int_equal(e.head, 3);
	vq_push(&r, e.head, 64);
	assert_int_equal(r.used_idx, 4);
	assert_int_equal(*(uint16_t *)gm_ptr(&gm, USED + 2, 2), 4);
	/* a queue never enabled comes back reset */
	vq_reset(&r);
	len = vq_record(&r, buf, sizeof(buf));
	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(vq_from(&r, buf, len), 0);
	assert_false(r.ready);
	assert_int_equal(r.size, 0);
}

/* Geometry a queue enable refuses is refused from a record too, and a cut
 * record; the queue restored into is left as it was. */
static void state_refused(void **state)
{
	static const struct {
		uint16_t size;
		uint64_t desc, avail, used;
	} bad[] = {
		{ 3, DESC, AVAIL, USED },
		{ 512, DESC, AVAIL, USED },
		{ 0, DESC, AVAIL, USED },
		{ 8, DESC + 8, AVAIL, USED },
		{ 8, DESC, AVAIL + 1, USED },
		{ 8, DESC, AVAIL, USED + 2 },
		{ 8, RAM - 16, AVAIL, USED },
		{ 8, DESC, AVAIL, UINT64_MAX - 63 },
		{ 8, DESC, 0xfffffffffffffff0, USED },
	};
	uint8_t buf[128];
	struct vq keep;
	size_t len;

	(void)state;
	fresh(true, true);
	keep = q;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vq src = q;

		src.size = bad[i].size;
		src.desc_gpa = bad[i].desc;
		src.avail_gpa = bad[i].avail;
		src.used_gpa = bad[i].used;
		len = vq_record(&src, buf, sizeof(buf));
		assert_int_equal(vq_from(&q, buf, len), -EINVAL);
		assert_memory_equal(&q, &keep, sizeof(q));
	}
	len = vq_record(&q, buf, sizeof(buf));
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(vq_from(&q, buf, cut), -EBADMSG);
		assert_memory_equal(&q, &keep, sizeof(q));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(enable_checks_geometry), cmocka_unit_test(chain_round_trip),
		cmocka_unit_test(broken_rings),		  cmocka_unit_test(indirect_tables),
		cmocka_unit_test(event_idx_suppression),  cmocka_unit_test(too_many_buffers),
		cmocka_unit_test(queue_not_ready),	  cmocka_unit_test(read_once_snapshots),
		cmocka_unit_test(state_round_trip),	  cmocka_unit_test(state_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
