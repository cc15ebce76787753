// SPDX-License-Identifier: MIT
/*
 * ACPI tables: found the way Linux finds them (RSDP scan), every checksum
 * right, the MADT agrees with the MP table and the GSI routing, the FADT
 * points the sleep registers at hearth's power device, and bad requests fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/boot.h"
#include "hearth/irq.h"

static struct guest_mem gm;

static int setup(void **state)
{
	(void)state;
	return gm_create(&gm, 16ULL << 20, false);
}

static int teardown(void **state)
{
	(void)state;
	gm_destroy(&gm);
	return 0;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* A table at @gpa with signature @sig and a valid checksum; returns it. */
static const uint8_t *table_at(uint64_t gpa, const char *sig)
{
	const uint8_t *t = gm_ptr(&gm, gpa, 36);
	uint32_t len;

	assert_non_null(t);
	assert_memory_equal(t, sig, 4);
	len = (uint32_t)le(t + 4, 4);
	assert_true(len >= 36);
	t = gm_ptr(&gm, gpa, len);
	assert_non_null(t);
	assert_int_equal(sum(t, len), 0);
	return t;
}

static void check_tables(unsigned ncpus)
{
	const uint8_t *rsdp = NULL, *xsdt, *rsdt, *fadt = NULL, *madt = NULL, *dsdt, *e, *end;
	unsigned cpus = 0, ioapics = 0, overrides = 0, nmis = 0;

	for (uint64_t a = 0xe0000; a < 0x100000 && !rsdp; a += 16) {
		const uint8_t *p = gm_ptr(&gm, a, 36);
		if (memcmp(p, "RSD PTR ", 8) == 0 && sum(p, 20) == 0)
			rsdp = p;
	}
	assert_non_null(rsdp);
	assert_ptr_equal(rsdp, gm_ptr(&gm, HEARTH_ACPI_RSDP, 36));
	assert_int_equal(rsdp[15], 2);
	assert_int_equal(le(rsdp + 20, 4), 36);
	assert_int_equal(sum(rsdp, 36), 0);

	xsdt = table_at(le(rsdp + 24, 8), "XSDT");
	rsdt = table_at(le(rsdp + 16, 4), "RSDT");
	assert_int_equal(le(xsdt + 4, 4), 36 + 2 * 8);
	for (int i = 0; i < 2; i++) {
		uint64_t a = le(xsdt + 36 + 8 * i, 8);
		const uint8_t *t = gm_ptr(&gm, a, 4);
		assert_int_equal(le(rsdt + 36 + 4 * i, 4), a);
		if (memcmp(t, "FACP", 4) == 0)
			fadt = table_at(a, "FACP");
		else
			madt = table_at(a, "APIC");
	}
	assert_non_null(fadt);
	assert_non_null(madt);

	/* FADT: hardware-reduced, sleep registers on hearth's port, reset via i8042 */
	assert_int_equal(le(fadt + 4, 4), 276);
	assert_true(le(fadt + 112, 4) & (1u << 20));
	assert_int_equal(fadt[244], 1);
	assert_int_equal(le(fadt + 248, 8), HEARTH_PORT_ACPI_SLEEP);
	assert_int_equal(le(fadt + 260, 8), HEARTH_PORT_ACPI_SLEEP + 1);
	assert_int_equal(le(fadt + 120, 8), HEARTH_PORT_I8042_CMD);
	assert_int_equal(fadt[128], 0xfe);
	assert_int_equal(le(fadt + 140, 8), le(fadt + 40, 4));
	dsdt = table_at(le(fadt + 140, 8), "DSDT");
	assert_memory_equal(dsdt + 36, "\x08_S5_\x12", 6);
	assert_int_equal(dsdt[36 + 8], 0x0a);
	assert_int_equal(dsdt[36 + 9], ACPI_SLP_TYP_S5);

	/* MADT: the CPUs, one I/O APIC, the overrides irq_isa_pin() implies */
	assert_int_equal(le(madt + 36, 4), HEARTH_LAPIC_BASE);
	e = madt + 44;
	end = madt + le(madt + 4, 4);
	while (e < end) {
		assert_true(e[1] >= 2 && e + e[1] <= end);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[3], cpus);
			assert_int_equal(le(e + 4, 4), 1);
			cpus++;
			break;
		case 1:
			assert_int_equal(e[2], ncpus);
			assert_int_equal(le(e + 4, 4), HEARTH_IOAPIC_BASE);
			assert_int_equal(le(e + 8, 4), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal((int)le(e + 4, 4), irq_isa_pin(e[3]));
			overrides++;
			break;
		case 4: nmis++; break;
		default: fail_msg("unexpected MADT entry %u", e[0]);
		}
		e += e[1];
	}
	assert_ptr_equal(e, end);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(overrides, 1); /* IRQ 0 -> GSI 2 */
	assert_int_equal(nmis, 1);
}

static void describes_the_machine(void **state)
{
	static const unsigned counts[] = { 1, 2, 7, 64, MPTABLE_MAX_CPUS };

	(void)state;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		memset(gm_ptr(&gm, 0xe0000, 0x20000), 0, 0x20000);
		assert_true(acpi_write(&gm, HEARTH_ACPI_RSDP, 0x10000, counts[i]) > 0);
		check_tables(counts[i]);
	}
}

static void rejects_bad_requests(void **state)
{
	(void)state;
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP, 0x10000, 0), -EINVAL);
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP, 0x10000, MPTABLE_MAX_CPUS + 1), -EINVAL);
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP + 8, 0x10000, 1), -EINVAL);
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP, 200, 1), -ENOSPC);
	assert_int_equal(acpi_write(&gm, HEARTH_ACPI_RSDP, 0x800, MPTABLE_MAX_CPUS), -ENOSPC);
	assert_int_equal(acpi_write(&gm, 16ULL << 20, 0x1000, 1), -EFAULT);
	assert_int_equal(acpi_write(&gm, UINT64_MAX - 15, 0x1000, 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(describes_the_machine),
		cmocka_unit_test(rejects_bad_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
