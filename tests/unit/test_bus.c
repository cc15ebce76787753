// SPDX-License-Identifier: MIT
/* Bus registration rules and dispatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "hearth/bus.h"

struct rec {
	uint64_t off;
	size_t len;
	uint64_t val;
	int writes;
};

static void rd(void *o, uint64_t off, void *d, size_t len)
{
	bus_put(d, len, 0x1122334455667788ULL + off);
}

static void wr(void *o, uint64_t off, const void *d, size_t len)
{
	struct rec *r = o;

	r->off = off;
	r->len = len;
	r->val = bus_get(d, len);
	r->writes++;
}

static const struct bus_ops ops = { rd, wr };

static void registration_rules(void **state)
{
	struct bus b;

	(void)state;
	bus_init(&b);
	assert_int_equal(bus_register(&b, 0x100, 0, &ops, NULL), -EINVAL);
	assert_int_equal(bus_register(&b, UINT64_MAX, 2, &ops, NULL), -EINVAL);
	assert_int_equal(bus_register(&b, 0x100, 8, NULL, NULL), -EINVAL);
	assert_int_equal(bus_register(&b, 0x100, 8, &ops, NULL), 0);
	assert_int_equal(bus_register(&b, 0x108, 8, &ops, NULL), 0); /* adjacent */
	assert_int_equal(bus_register(&b, 0xf8, 8, &ops, NULL), 0);  /* adjacent below */
	assert_int_equal(bus_register(&b, 0x107, 1, &ops, NULL), -EEXIST);
	assert_int_equal(bus_register(&b, 0xff, 2, &ops, NULL), -EEXIST);
	assert_int_equal(bus_register(&b, 0x0, 0x1000, &ops, NULL), -EEXIST); /* contains */
	assert_int_equal(bus_register(&b, 0x10f, 1, &ops, NULL), -EEXIST);
	assert_int_equal(bus_register(&b, UINT64_MAX, 1, &ops, NULL), 0);
	for (uint64_t i = 0; i < 100; i++) /* growth keeps order */
		assert_int_equal(bus_register(&b, 0x10000 + i * 16, 16, &ops, NULL), 0);
	for (size_t i = 1; i < b.count; i++)
		assert_true(b.ranges[i - 1].base < b.ranges[i].base);
	bus_destroy(&b);
	assert_int_equal(b.count, 0);
}

static void dispatch(void **state)
{
	struct rec a = { 0 }, c = { 0 };
	struct bus b;
	uint8_t d[8];

	(void)state;
	bus_init(&b);
	assert_int_equal(bus_register(&b, 0x3f8, 8, &ops, &a), 0);
	assert_int_equal(bus_register(&b, 0x400, 4, &ops, &c), 0);
	bus_put(d, 2, 0xbeef);
	assert_int_equal(bus_access(&b, 0x3fa, d, 2, true), 0);
	assert_int_equal(a.off, 2);
	assert_int_equal(a.len, 2);
	assert_int_equal(a.val, 0xbeef);
	assert_int_equal(c.writes, 0);
	assert_int_equal(bus_access(&b, 0x401, d, 1, false), 0);
	assert_int_equal(d[0], 0x89);
	/* straddles the end of a range, unassigned, bad widths */
	assert_int_equal(bus_access(&b, 0x3fe, d, 4, true), -ENOENT);
	assert_int_equal(a.writes, 1);
	memset(d, 0, sizeof(d));
	assert_int_equal(bus_access(&b, 0x500, d, 4, false), -ENOENT);
	assert_int_equal(bus_get(d, 4), 0xffffffff);
	assert_int_equal(bus_access(&b, 0x3f8, d, 0, false), -ENOENT);
	assert_int_equal(bus_access(&b, 0x3f8, d, 9, false), -ENOENT);
	assert_int_equal(bus_access(&b, 0x0, d, 8, false), -ENOENT);
	bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registration_rules),
		cmocka_unit_test(dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
