// SPDX-License-Identifier: MIT
/* Guest memory layout, gm_ptr bounds, and the e820 map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "hearth/abi.h"
#include "hearth/mem.h"

static void layout_small_and_large(void **state)
{
	struct gm_region r[GM_MAX_REGIONS];

	(void)state;
	assert_int_equal(gm_layout(256ULL << 20, r), 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, 256ULL << 20);
	assert_int_equal(gm_layout(HEARTH_MMIO_HOLE_START, r), 1);
	assert_int_equal(gm_layout(4ULL << 30, r), 2);
	assert_int_equal(r[0].size, HEARTH_MMIO_HOLE_START);
	assert_int_equal(r[1].gpa, 4ULL << 30);
	assert_int_equal(r[1].size, (4ULL << 30) - HEARTH_MMIO_HOLE_START);
	assert_int_equal(gm_layout(0, r), -EINVAL);
	assert_int_equal(gm_layout(UINT64_MAX - 100, r), -EINVAL);
}

static void ptr_bounds(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(gm_create(&gm, 8ULL << 20, false), 0);
	assert_non_null(gm_ptr(&gm, 0, 1));
	assert_non_null(gm_ptr(&gm, (8ULL << 20) - 16, 16));
	assert_null(gm_ptr(&gm, (8ULL << 20) - 16, 17));
	assert_null(gm_ptr(&gm, 8ULL << 20, 1));
	assert_null(gm_ptr(&gm, 0, 0));
	assert_null(gm_ptr(&gm, UINT64_MAX, 2));    /* wraps */
	assert_null(gm_ptr(&gm, 16, UINT64_MAX));   /* wraps */
	assert_null(gm_ptr(&gm, 1ULL << 63, 4096)); /* far away */
	assert_ptr_equal((uint8_t *)gm_ptr(&gm, 4096, 1), gm.base + 4096);
	gm_destroy(&gm);
	gm_destroy(&gm); /* idempotent */
	assert_int_equal(gm_create(&gm, 4097, false), -EINVAL);
}

static void ptr_across_hole(void **state)
{
	struct guest_mem gm;
	uint8_t *low_end, *high;

	(void)state;
	assert_int_equal(gm_create(&gm, (3ULL << 30) + (64ULL << 20), false), 0);
	assert_int_equal(gm.nr, 2);
	low_end = gm_ptr(&gm, HEARTH_MMIO_HOLE_START - 1, 1);
	high = gm_ptr(&gm, HEARTH_MMIO_HOLE_END, 1);
	assert_non_null(low_end);
	assert_ptr_equal(high, low_end + 1); /* one mapping, split in GPA space */
	assert_null(gm_ptr(&gm, HEARTH_MMIO_HOLE_START - 1, 2)); /* spans the hole */
	assert_null(gm_ptr(&gm, HEARTH_IOAPIC_BASE, 1));
	assert_null(gm_ptr(&gm, HEARTH_MMIO_HOLE_END + (64ULL << 20), 1));
	gm_destroy(&gm);
}

static void e820_maps(void **state)
{
	struct guest_mem gm;
	struct e820_entry e[8];
	uint64_t ram = 0;
	int n;

	(void)state;
	assert_int_equal(gm_create(&gm, 256ULL << 20, false), 0);
	n = e820_build(&gm, e, 8);
	assert_int_equal(n, 4);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].type, E820_RAM);
	assert_int_equal(e[1].type, E820_RESERVED);
	assert_int_equal(e[2].addr, E820_BIOS_START);
	assert_int_equal(e[3].addr, 1ULL << 20);
	assert_int_equal(e[3].addr + e[3].size, 256ULL << 20);
	for (int i = 1; i < n; i++) /* sorted, no overlap */
		assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
	assert_int_equal(e820_build(&gm, e, 3), -ENOSPC);
	gm_destroy(&gm);

	assert_int_equal(gm_create(&gm, 5ULL << 30, false), 0);
	n = e820_build(&gm, e, 8);
	assert_int_equal(n, 5);
	for (int i = 0; i < n; i++)
		if (e[i].type == E820_RAM)
			ram += e[i].size;
	/* All RAM is mapped except the 1 KiB EBDA and the 384 KiB legacy hole. */
	assert_int_equal(ram, (5ULL << 30) - (0x100000 - E820_EBDA_START));
	assert_int_equal(e[4].addr, 4ULL << 30);
	gm_destroy(&gm);

	assert_int_equal(gm_create(&gm, 1ULL << 20, false), 0);
	assert_int_equal(e820_build(&gm, e, 8), -EINVAL);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_small_and_large),
		cmocka_unit_test(ptr_bounds),
		cmocka_unit_test(ptr_across_hole),
		cmocka_unit_test(e820_maps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
