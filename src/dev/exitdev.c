// SPDX-License-Identifier: MIT
/*
 * hearth's exit device (offset 0: exit with the written byte; offset 1: boot
 * marker) and QEMU's isa-debug-exit convention (exit with (V << 1) | 1).
 * Reads return zero. Writes of any width use the low byte (native) or the
 * whole value (QEMU, truncated to 8 bits by the process exit status).
 */
#include <stdlib.h>

#include "hearth/boot.h"
#include "hearth/dev.h"

struct exitdev {
	const struct vm_ctl *ctl;
};

static void zero_read(void *opaque, uint64_t off, void *data, size_t len)
{
	(void)opaque;
	(void)off;
	bus_put(data, len, 0);
}

static void native_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct exitdev *e = opaque;
	unsigned v = (unsigned)(bus_get(data, len) & 0xff);

	if (off == 0)
		e->ctl->stop(e->ctl->opaque, VM_STOP_STATUS, (int)v);
	else if (off == 1)
		e->ctl->marker(e->ctl->opaque, v);
}

static void qemu_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct exitdev *e = opaque;
	uint64_t v = bus_get(data, len);

	(void)off;
	e->ctl->stop(e->ctl->opaque, VM_STOP_STATUS, (int)(((v << 1) | 1) & 0xff));
}

/*
 * ACPI sleep control (offset 0) and status (offset 1) registers of the
 * hardware-reduced FADT: SLP_EN with SLP_TYP S5 powers the VM off. Other
 * sleep states are not offered (the DSDT only defines \_S5_) and ignored.
 */
static void acpi_sleep_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct exitdev *e = opaque;
	unsigned v = (unsigned)(bus_get(data, len) & 0xff);

	if (off == 0 && (v & 0x20) && ((v >> 2) & 7) == ACPI_SLP_TYP_S5)
		e->ctl->stop(e->ctl->opaque, VM_STOP_POWEROFF, 0);
}

const struct bus_ops exitdev_ops = { zero_read, native_write };
const struct bus_ops exitdev_acpi_sleep_ops = { zero_read, acpi_sleep_write };
const struct bus_ops exitdev_qemu_ops = { zero_read, qemu_write };

struct exitdev *exitdev_create(const struct vm_ctl *ctl)
{
	struct exitdev *e = calloc(1, sizeof(*e));

	if (e)
		e->ctl = ctl;
	return e;
}

void exitdev_destroy(struct exitdev *e)
{
	free(e);
}
