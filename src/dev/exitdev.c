// SPDX-License-Identifier: MIT
/*
 * hearth's exit device (offset 0: exit with the written byte; offset 1: boot
 * marker) and QEMU's isa-debug-exit convention (exit with (V << 1) | 1).
 * Its reads return zero. Writes of any width use the low byte (native) or
 * the whole value (QEMU, truncated to 8 bits by the process exit status).
 * The ACPI PM1a registers (below) live here too and read back their state.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/dev.h"
#include "hearth/irq.h"
#include "hearth/state.h"

struct exitdev {
	const struct vm_ctl *ctl;
	const struct irq_chip *irq;
	unsigned sci;
	pthread_mutex_t lock;
	uint8_t pm1[6]; /* PM1a status, enable, control (little-endian) */
	bool sci_level; /* what the SCI line was last set to */
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

/*
 * ACPI PM1a event block (offsets 0-1 status, 2-3 enable) and control
 * register (4-5), accessed a byte at a time whatever the width. The one
 * event is the fixed-feature power button (exitdev_power_button): its
 * status bit raises the SCI, a level-triggered line, while its enable bit
 * is set too, until the guest writes 1 to clear it. Other status bits are
 * never set. Enable bits stick, so ACPICA finds the global lock enable it
 * writes. SCI_EN reads 1 (always in ACPI mode); SLP_EN is write-only and
 * with SLP_TYP S5 powers the VM off.
 */
#define PM1_SCI_EN 0x0001
#define PM1_SLP_EN 0x2000
#define PM1_PWRBTN 0x0100 /* PWRBTN_STS in the status, PWRBTN_EN in the enable register */
#define PM1_EVENTS PM1_PWRBTN

static uint16_t pm1_word(const struct exitdev *e, unsigned off)
{
	return (uint16_t)(e->pm1[off] | e->pm1[off + 1] << 8);
}

/* Sets the SCI to what status & enable say; called with the lock held, so
 * two updates cannot reorder on the line. */
static void update_sci(struct exitdev *e)
{
	bool level = (pm1_word(e, 0) & pm1_word(e, 2) & PM1_EVENTS) != 0;

	if (!e->irq || level == e->sci_level)
		return;
	if (irq_set(e->irq, e->sci, level) == 0)
		e->sci_level = level;
}

static void pm1_read(void *opaque, uint64_t off, void *data, size_t len)
{
	struct exitdev *e = opaque;
	uint64_t v = 0;

	pthread_mutex_lock(&e->lock);
	for (size_t i = len; i-- > 0;)
		v = v << 8 | (off + i < sizeof(e->pm1) ? e->pm1[off + i] : 0);
	pthread_mutex_unlock(&e->lock);
	bus_put(data, len, v);
}

static void pm1_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct exitdev *e = opaque;
	uint64_t v = bus_get(data, len);
	unsigned ctl;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < len && off + i < sizeof(e->pm1); i++) {
		uint8_t b = (uint8_t)(v >> (8 * i));

		if (off + i < 2)
			e->pm1[off + i] &= (uint8_t)~b; /* status: write 1 to clear */
		else
			e->pm1[off + i] = b;
	}
	ctl = pm1_word(e, 4);
	e->pm1[4] |= PM1_SCI_EN;
	e->pm1[5] &= (uint8_t) ~(PM1_SLP_EN >> 8);
	update_sci(e);
	pthread_mutex_unlock(&e->lock);
	if ((ctl & PM1_SLP_EN) && ((ctl >> 10) & 7) == ACPI_SLP_TYP_S5)
		e->ctl->stop(e->ctl->opaque, VM_STOP_POWEROFF, 0);
}

const struct bus_ops exitdev_acpi_pm1_ops = { pm1_read, pm1_write };
const struct bus_ops exitdev_ops = { zero_read, native_write };
const struct bus_ops exitdev_acpi_sleep_ops = { zero_read, acpi_sleep_write };
const struct bus_ops exitdev_qemu_ops = { zero_read, qemu_write };

int exitdev_power_button(struct exitdev *e)
{
	bool listening;

	pthread_mutex_lock(&e->lock);
	listening = pm1_word(e, 2) & PM1_PWRBTN;
	if (listening) {
		e->pm1[1] |= PM1_PWRBTN >> 8;
		update_sci(e);
	}
	pthread_mutex_unlock(&e->lock);
	return listening ? 0 : -ENODEV;
}

struct exitdev *exitdev_create(const struct vm_ctl *ctl, const struct irq_chip *irq, unsigned sci)
{
	struct exitdev *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->ctl = ctl;
	e->irq = irq;
	e->sci = sci;
	pthread_mutex_init(&e->lock, NULL);
	e->pm1[4] = PM1_SCI_EN;
	return e;
}

void exitdev_destroy(struct exitdev *e)
{
	if (!e)
		return;
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

int exitdev_save(struct exitdev *e, struct state_writer *w)
{
	pthread_mutex_lock(&e->lock);
	state_begin(w, STATE_KIND_EXITDEV, STATE_VERSION);
	state_put_bytes(w, e->pm1, sizeof(e->pm1));
	state_end(w);
	pthread_mutex_unlock(&e->lock);
	return w->err;
}

int exitdev_restore(struct exitdev *e, struct state_reader *r)
{
	uint8_t pm1[sizeof(e->pm1)];

	state_enter(r, STATE_KIND_EXITDEV, STATE_VERSION, NULL);
	state_get_exact(r, pm1, sizeof(pm1));
	if (state_leave(r))
		return r->err;
	/* what the device can hold: no status bit but a pressed power
	 * button's, SCI_EN set, SLP_EN clear */
	if (pm1[0] || (pm1[1] & ~(PM1_PWRBTN >> 8)) || !(pm1[4] & PM1_SCI_EN) ||
	    (pm1[5] & (PM1_SLP_EN >> 8)))
		return state_fail(r, -EINVAL);
	pthread_mutex_lock(&e->lock);
	memcpy(e->pm1, pm1, sizeof(pm1));
	update_sci(e); /* a press the guest had not cleared holds the SCI up again */
	pthread_mutex_unlock(&e->lock);
	return 0;
}
