// SPDX-License-Identifier: MIT
/* MP tables: a guest's parser must find the CPUs, the IOAPIC, valid sums. */
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

#include <linux/kvm.h>

static struct guest_mem gm;
static int mp_pin[16]; /* I/O APIC pin the last checked table gives each ISA IRQ */

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
		s += *p++;
	return s;
}

/* Parses the table as a guest would and checks it describes @ncpus CPUs. */
static void check_table(unsigned ncpus)
{
	const uint8_t *mpf = gm_ptr(&gm, HEARTH_MPTABLE, 16), *mpc, *e;
	uint32_t physptr;
	uint16_t len, count;
	unsigned cpus = 0, bsps = 0, ioapics = 0, irqs = 0, pci_irqs = 0, lints = 0, buses = 0;

	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(mpf[8], 1); /* length in paragraphs */
	assert_int_equal(sum(mpf, 16), 0);
	memcpy(&physptr, mpf + 4, 4);
	mpc = gm_ptr(&gm, physptr, 44);
	assert_non_null(mpc);
	assert_memory_equal(mpc, "PCMP", 4);
	memcpy(&len, mpc + 4, 2);
	memcpy(&count, mpc + 34, 2);
	assert_int_equal(sum(gm_ptr(&gm, physptr, len), len), 0);
	e = mpc + 44;
	for (unsigned i = 0; i < 16; i++)
		mp_pin[i] = -1;
	for (unsigned i = 0; i < count; i++) {
		assert_true(e < mpc + len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], cpus);
			cpus++;
			bsps += (e[3] & 2) != 0;
			assert_true(e[3] & 1);
			e += 20;
			break;
		case 1:
			buses++;
			e += 8;
			break;
		case 2:
			ioapics++;
			assert_int_equal(e[1], ncpus);
			assert_int_equal(*(const uint32_t *)(e + 4), HEARTH_IOAPIC_BASE);
			e += 8;
			break;
		case 3:
			if (e[4] == 0) { /* PCI bus: INTA of a slot, level, active low */
				pci_irqs++;
				assert_int_equal(e[5] & 3, 0);
				assert_int_equal(e[2] | e[3] << 8, 0x0f);
				assert_int_equal(e[7], irq_pci_intx_gsi(e[5] >> 2));
				e += 8;
				break;
			}
			irqs++;
			if (e[5] == 0)
				assert_int_equal(e[7], 2); /* PIT on pin 2 */
			assert_true(e[5] < 16);
			mp_pin[e[5]] = e[7];
			e += 8;
			break;
		case 4:
			lints++;
			e += 8;
			break;
		default: fail_msg("unknown entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, mpc + len);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(bsps, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(buses, 2);
	assert_int_equal(irqs, 15);
	assert_int_equal(pci_irqs, IRQ_PCI_SLOTS - 1);
	assert_int_equal(lints, 2);
}

static void describes_cpus(void **state)
{
	static const unsigned counts[] = { 1, 2, 7, 64, MPTABLE_MAX_CPUS };

	(void)state;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		assert_true(mptable_write(&gm, HEARTH_MPTABLE, 0x10000, counts[i]) > 0);
		check_table(counts[i]);
	}
}

static void rejects_bad_requests(void **state)
{
	(void)state;
	assert_int_equal(mptable_write(&gm, HEARTH_MPTABLE, 0x10000, 0), -EINVAL);
	assert_int_equal(mptable_write(&gm, HEARTH_MPTABLE, 0x10000, 255), -EINVAL);
	assert_int_equal(mptable_write(&gm, HEARTH_MPTABLE + 4, 0x10000, 1), -EINVAL);
	assert_int_equal(mptable_write(&gm, HEARTH_MPTABLE, 100, 4), -ENOSPC);
	assert_int_equal(mptable_write(&gm, 16ULL << 20, 0x10000, 1), -EFAULT);
	assert_int_equal(mptable_write(&gm, UINT64_MAX - 15, 0x10000, 1), -EFAULT);
}

/* The GSI routing hearth gives KVM sends each ISA IRQ to the pin the MP
 * table names: a guest programming that pin must get the interrupt. */
static void routing_matches_mptable(void **state)
{
	struct kvm_irq_routing_entry e[64];
	int n = irq_routing_legacy(e, 64);

	(void)state;
	assert_true(mptable_write(&gm, HEARTH_MPTABLE, 0x10000, 2) > 0);
	check_table(2);
	assert_true(n > 0);
	for (unsigned irq = 0; irq < 16; irq++) {
		int ioapic_routes = 0, pic_routes = 0;

		for (int i = 0; i < n; i++) {
			if (e[i].gsi != irq)
				continue;
			assert_int_equal(e[i].type, KVM_IRQ_ROUTING_IRQCHIP);
			if (e[i].u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC) {
				ioapic_routes++;
				assert_int_equal((int)e[i].u.irqchip.pin, mp_pin[irq]);
			} else {
				pic_routes++;
				assert_int_equal(e[i].u.irqchip.irqchip,
						 irq < 8 ? KVM_IRQCHIP_PIC_MASTER
							 : KVM_IRQCHIP_PIC_SLAVE);
				assert_int_equal(e[i].u.irqchip.pin, irq % 8);
			}
		}
		assert_int_equal(ioapic_routes, mp_pin[irq] >= 0);
		assert_int_equal(pic_routes, irq != 2);
	}
	for (int i = 0; i < n; i++) /* GSIs 16-23: their own pins */
		if (e[i].gsi >= 16)
			assert_int_equal(e[i].u.irqchip.pin, e[i].gsi);
	assert_int_equal(irq_routing_legacy(e, 10), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routing_matches_mptable),
		cmocka_unit_test(describes_cpus),
		cmocka_unit_test(rejects_bad_requests),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
