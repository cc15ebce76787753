// SPDX-License-Identifier: MIT
/* State records: what the writer produces reads back, and the reader
 * refuses every record that does not fit, as a corrupt snapshot would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "hearth/state.h"

/* A record of kind UART v2 holding each field type and a nested RTC v1. */
static size_t sample(uint8_t *buf, size_t cap)
{
	struct state_writer w;
	size_t len = 0;

	state_writer_init(&w, buf, cap);
	state_begin(&w, STATE_KIND_UART, 2);
	state_put_u8(&w, 0xab);
	state_put_u16(&w, 0x1234);
	state_put_u32(&w, 0xdeadbeef);
	state_put_u64(&w, 0x0102030405060708ULL);
	state_put_bool(&w, true);
	state_put_bytes(&w, "hello", 5);
	state_begin(&w, STATE_KIND_RTC, 1);
	state_put_bytes(&w, "", 0);
	state_end(&w);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	return len;
}

/* Reads sample()'s record back; returns the reader's verdict. */
static int read_sample(const uint8_t *buf, size_t len, bool check_values)
{
	struct state_reader r;
	uint8_t u8, bytes[8];
	uint16_t u16, ver;
	uint32_t u32;
	uint64_t u64;
	size_t n;
	bool b;

	state_reader_init(&r, buf, len);
	state_enter(&r, STATE_KIND_UART, 2, &ver);
	state_get_u8(&r, &u8);
	state_get_u16(&r, &u16);
	state_get_u32(&r, &u32);
	state_get_u64(&r, &u64);
	state_get_bool(&r, &b);
	state_get_bytes(&r, bytes, sizeof(bytes), &n);
	state_enter(&r, STATE_KIND_RTC, 1, NULL);
	state_get_exact(&r, bytes, 0);
	state_leave(&r);
	state_leave(&r);
	if (check_values && !r.err) {
		assert_int_equal(ver, 2);
		assert_int_equal(u8, 0xab);
		assert_int_equal(u16, 0x1234);
		assert_int_equal(u32, 0xdeadbeef);
		assert_true(u64 == 0x0102030405060708ULL);
		assert_true(b);
		assert_int_equal(n, 5);
		assert_memory_equal(bytes, "hello", 5);
	}
	return state_reader_finish(&r);
}

static void round_trip(void **state)
{
	uint8_t buf[256];
	size_t len = sample(buf, sizeof(buf));

	(void)state;
	/* header 12 + u8 2 + u16 3 + u32 5 + u64 9 + bool 2 + bytes 5+5 + nested 12+5 */
	assert_int_equal(len, 12 + 2 + 3 + 5 + 9 + 2 + 10 + 17);
	assert_int_equal(buf[0], 'H');
	assert_int_equal(buf[3], 'T');
	assert_int_equal(read_sample(buf, len, true), 0);
}

static void growable_writer(void **state)
{
	struct state_writer w;
	struct state_reader r;
	static uint8_t big[5000];
	uint8_t back[5000];
	size_t len, n;

	(void)state;
	memset(big, 0x5a, sizeof(big));
	state_writer_init_alloc(&w);
	state_begin(&w, STATE_KIND_VIRTIO_NET, 1);
	state_put_bytes(&w, big, sizeof(big));
	state_end(&w);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	assert_int_equal(len, 12 + 5 + sizeof(big));
	state_reader_init(&r, w.buf, len);
	assert_int_equal(state_enter(&r, STATE_KIND_VIRTIO_NET, 1, NULL), 0);
	assert_int_equal(state_get_bytes(&r, back, sizeof(back), &n), 0);
	assert_int_equal(n, sizeof(big));
	assert_memory_equal(back, big, n);
	assert_int_equal(state_leave(&r), 0);
	assert_int_equal(state_reader_finish(&r), 0);
	state_writer_free(&w);
}

/* A caller's buffer too small by any amount: -ENOSPC, never a write past it. */
static void writer_full(void **state)
{
	uint8_t buf[256], small[256];
	size_t len = sample(buf, sizeof(buf));

	(void)state;
	for (size_t cap = 0; cap < len; cap++) {
		struct state_writer w;

		memset(small, 0xee, sizeof(small));
		state_writer_init(&w, small, cap);
		state_begin(&w, STATE_KIND_UART, 2);
		state_put_u8(&w, 0xab);
		state_put_u16(&w, 0x1234);
		state_put_u32(&w, 0xdeadbeef);
		state_put_u64(&w, 0x0102030405060708ULL);
		state_put_bool(&w, true);
		state_put_bytes(&w, "hello", 5);
		state_begin(&w, STATE_KIND_RTC, 1);
		state_put_bytes(&w, "", 0);
		state_end(&w);
		state_end(&w);
		assert_int_equal(state_writer_finish(&w, NULL), -ENOSPC);
		for (size_t i = cap; i < sizeof(small); i++)
			assert_int_equal(small[i], 0xee);
	}
}

static void writer_misuse(void **state)
{
	struct state_writer w;
	uint8_t buf[128];

	(void)state;
	state_writer_init(&w, buf, sizeof(buf));
	state_end(&w); /* no record open */
	assert_int_equal(state_writer_finish(&w, NULL), -EINVAL);
	state_writer_init(&w, buf, sizeof(buf));
	state_begin(&w, STATE_KIND_UART, 0); /* version 0 */
	assert_int_equal(state_writer_finish(&w, NULL), -EINVAL);
	state_writer_init(&w, buf, sizeof(buf));
	state_begin(&w, STATE_KIND_UART, 1); /* left open */
	assert_int_equal(state_writer_finish(&w, NULL), -EINVAL);
	state_writer_init(&w, buf, sizeof(buf));
	for (int i = 0; i <= STATE_MAX_DEPTH; i++)
		state_begin(&w, STATE_KIND_UART, 1);
	assert_int_equal(state_writer_finish(&w, NULL), -EINVAL);
}

/* Cut anywhere, the record is refused (truncation inside a field, inside a
 * header, or a whole field missing). */
static void truncated_everywhere(void **state)
{
	uint8_t buf[256];
	size_t len = sample(buf, sizeof(buf));

	(void)state;
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(read_sample(buf, cut, false), -EBADMSG);
}

/* Any byte changed anywhere: refused, or read back with the changed value
 * (a value byte), never read out of bounds (ASan watches the build). */
static void corrupt_every_byte(void **state)
{
	uint8_t buf[256], bad[256];
	size_t len = sample(buf, sizeof(buf));

	(void)state;
	for (size_t i = 0; i < len; i++) {
		static const uint8_t vals[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };

		for (size_t v = 0; v < sizeof(vals); v++) {
			memcpy(bad, buf, len);
			if (bad[i] == vals[v])
				continue;
			bad[i] = vals[v];
			(void)read_sample(bad, len, false);
		}
	}
}

static void trailing_garbage(void **state)
{
	uint8_t buf[256];
	size_t len = sample(buf, sizeof(buf));

	(void)state;
	buf[len] = 0;
	assert_int_equal(read_sample(buf, len + 1, false), -EBADMSG);
	/* a byte more inside the outer record: its body length grows by one */
	buf[8]++;
	assert_int_equal(read_sample(buf, len + 1, false), -EBADMSG);
}

static void lengths_that_overflow(void **state)
{
	uint8_t buf[256];
	size_t len = sample(buf, sizeof(buf));
	uint8_t b[64];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	size_t n;
	struct state_reader r;

	(void)state;
	/* the outer body claims 4 GiB - 1 */
	memset(buf + 8, 0xff, 4);
	assert_int_equal(read_sample(buf, len, false), -EBADMSG);
	/* a body within the buffer but past the outer record */
	len = sample(buf, sizeof(buf));
	buf[len - 17 + 8] = 18; /* the nested RTC body: 5 -> 18 */
	assert_int_equal(read_sample(buf, len, false), -EBADMSG);
	/* a BYTES length of 4 GiB - 1, and one just past the record */
	len = sample(buf, sizeof(buf));
	memset(buf + 12 + 2 + 3 + 5 + 9 + 2 + 1, 0xff, 4);
	assert_int_equal(read_sample(buf, len, false), -EBADMSG);
	len = sample(buf, sizeof(buf));
	buf[12 + 2 + 3 + 5 + 9 + 2 + 1] = 5 + 17 + 1;
	state_reader_init(&r, buf, len);
	state_enter(&r, STATE_KIND_UART, 2, NULL);
	state_get_u8(&r, &b[0]);
	state_get_u16(&r, &u16);
	state_get_u32(&r, &u32);
	state_get_u64(&r, &u64);
	assert_int_equal(state_get_u8(&r, &b[0]), 0);
	assert_int_equal(state_get_bytes(&r, b, sizeof(b), &n), -EBADMSG);
	assert_int_equal(n, 0);
}

static void wrong_version_and_kind(void **state)
{
	uint8_t buf[256];
	size_t len = sample(buf, sizeof(buf));
	struct state_reader r;
	uint16_t ver = 99;

	(void)state;
	state_reader_init(&r, buf, len);
	assert_int_equal(state_enter(&r, STATE_KIND_UART, 1, &ver), -EPROTONOSUPPORT);
	assert_int_equal(ver, 0);
	/* errors stick */
	assert_int_equal(state_enter(&r, STATE_KIND_UART, 2, &ver), -EPROTONOSUPPORT);
	state_reader_init(&r, buf, len);
	assert_int_equal(state_enter(&r, STATE_KIND_RTC, 2, NULL), -EBADMSG);
	buf[6] = buf[7] = 0; /* version 0 */
	state_reader_init(&r, buf, len);
	assert_int_equal(state_enter(&r, STATE_KIND_UART, 2, NULL), -EPROTONOSUPPORT);
	len = sample(buf, sizeof(buf));
	buf[0] ^= 1; /* magic */
	state_reader_init(&r, buf, len);
	assert_int_equal(state_enter(&r, STATE_KIND_UART, 2, NULL), -EBADMSG);
}

static void wrong_field_type(void **state)
{
	uint8_t buf[256];
	size_t len = sample(buf, sizeof(buf));
	struct state_reader r;
	uint32_t v = 7;
	bool b;

	(void)state;
	state_reader_init(&r, buf, len);
	state_enter(&r, STATE_KIND_UART, 2, NULL);
	assert_int_equal(state_get_u32(&r, &v), -EBADMSG); /* it is a U8 */
	assert_int_equal(v, 0);
	assert_int_equal(state_leave(&r), -EBADMSG);
	/* a bool of 2 */
	len = sample(buf, sizeof(buf));
	buf[12 + 2 + 3 + 5 + 9 + 1] = 2;
	assert_int_equal(read_sample(buf, len, false), -EBADMSG);
	state_reader_init(&r, buf, len);
	state_enter(&r, STATE_KIND_UART, 2, NULL);
	assert_int_equal(state_get_bool(&r, &b), -EBADMSG); /* the U8 0xab */
	/* a record left unread, and one left open */
	len = sample(buf, sizeof(buf));
	state_reader_init(&r, buf, len);
	state_enter(&r, STATE_KIND_UART, 2, NULL);
	assert_int_equal(state_leave(&r), -EBADMSG);
	state_reader_init(&r, buf, len);
	state_enter(&r, STATE_KIND_UART, 2, NULL);
	assert_int_equal(state_reader_finish(&r), -EBADMSG);
	/* a device's own check */
	state_reader_init(&r, buf, len);
	assert_int_equal(state_fail(&r, -EINVAL), -EINVAL);
	assert_int_equal(state_fail(&r, -EBADMSG), -EINVAL);
	assert_int_equal(state_enter(&r, STATE_KIND_UART, 2, NULL), -EINVAL);
}

/* Records nested deeper than STATE_MAX_DEPTH are refused, not followed. */
static void too_deep(void **state)
{
	uint8_t buf[256];
	struct state_reader r;
	int ret = 0;

	(void)state;
	/* hand-made: 5 headers, each body holding the rest */
	for (int i = 0; i < 5; i++) {
		uint8_t *h = buf + 12 * i;
		uint32_t body = (uint32_t)(12 * (4 - i));

		memcpy(h, "HEST", 4);
		h[4] = STATE_KIND_UART;
		h[5] = 0;
		h[6] = 1;
		h[7] = 0;
		h[8] = (uint8_t)body;
		h[9] = h[10] = h[11] = 0;
	}
	state_reader_init(&r, buf, 60);
	for (int i = 0; i < 5 && !ret; i++)
		ret = state_enter(&r, STATE_KIND_UART, 1, NULL);
	assert_int_equal(ret, -EBADMSG);
	assert_int_equal(r.depth, STATE_MAX_DEPTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(growable_writer),
		cmocka_unit_test(writer_full),
		cmocka_unit_test(writer_misuse),
		cmocka_unit_test(truncated_everywhere),
		cmocka_unit_test(corrupt_every_byte),
		cmocka_unit_test(trailing_garbage),
		cmocka_unit_test(lengths_that_overflow),
		cmocka_unit_test(wrong_version_and_kind),
		cmocka_unit_test(wrong_field_type),
		cmocka_unit_test(too_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
