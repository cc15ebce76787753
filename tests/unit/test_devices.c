// SPDX-License-Identifier: MIT
/* Legacy devices as a guest sees them, including hostile accesses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hearth/abi.h"
#include "hearth/dev.h"
#include "hearth/state.h"

static int irq_level[16], irq_edges[16];
static int stops, stop_reason, stop_status, markers, marker_val;

static int set_line(void *o, unsigned gsi, int level)
{
	if (level && !irq_level[gsi])
		irq_edges[gsi]++;
	irq_level[gsi] = level;
	return 0;
}

static void stop(void *o, enum vm_stop_reason why, int status)
{
	stops++;
	stop_reason = why;
	stop_status = status;
}

static void marker(void *o, unsigned v)
{
	markers++;
	marker_val = (int)v;
}

static const struct irq_chip chip = { set_line, NULL };
static const struct vm_ctl ctl = { stop, marker, NULL };

static int reset_state(void **state)
{
	(void)state;
	memset(irq_level, 0, sizeof(irq_level));
	memset(irq_edges, 0, sizeof(irq_edges));
	stops = markers = 0;
	return 0;
}

static uint64_t rd(const struct bus_ops *o, void *dev, uint64_t off, size_t len)
{
	uint8_t d[8];

	o->read(dev, off, d, len);
	return bus_get(d, len);
}

static void wr(const struct bus_ops *o, void *dev, uint64_t off, size_t len, uint64_t v)
{
	uint8_t d[8];

	bus_put(d, len, v);
	o->write(dev, off, d, len);
}

static void exit_device(void **state)
{
	struct exitdev *e = exitdev_create(&ctl, &chip, HEARTH_IRQ_SCI);

	(void)state;
	wr(&exitdev_ops, e, 0, 1, 7);
	assert_int_equal(stops, 1);
	assert_int_equal(stop_reason, VM_STOP_STATUS);
	assert_int_equal(stop_status, 7);
	wr(&exitdev_ops, e, 0, 4, 0x12345601); /* wide write: low byte */
	assert_int_equal(stop_status, 1);
	wr(&exitdev_ops, e, 1, 1, 99);
	assert_int_equal(markers, 1);
	assert_int_equal(marker_val, 99);
	assert_int_equal(rd(&exitdev_ops, e, 0, 2), 0);
	wr(&exitdev_qemu_ops, e, 0, 1, 3);
	assert_int_equal(stop_status, 7);
	wr(&exitdev_qemu_ops, e, 0, 4, 0x80); /* (0x80 << 1) | 1 truncated to 8 bits */
	assert_int_equal(stop_status, 1);
	exitdev_destroy(e);
}

/* Only SLP_EN with SLP_TYP 5 (the DSDT's \_S5_) powers off; junk does nothing. */
static void acpi_sleep(void **state)
{
	struct exitdev *e = exitdev_create(&ctl, &chip, HEARTH_IRQ_SCI);
	static const uint8_t ignored[] = { 0x14, 0x20, 0x24, 0x3c, 0xff & ~0x20, 0x80 };

	(void)state;
	for (size_t i = 0; i < sizeof(ignored); i++)
		wr(&exitdev_acpi_sleep_ops, e, 0, 1, ignored[i]);
	wr(&exitdev_acpi_sleep_ops, e, 1, 1, 0x34); /* the status register */
	assert_int_equal(stops, 0);
	assert_int_equal(rd(&exitdev_acpi_sleep_ops, e, 1, 1), 0);
	wr(&exitdev_acpi_sleep_ops, e, 0, 1, 0x34);
	assert_int_equal(stops, 1);
	assert_int_equal(stop_reason, VM_STOP_POWEROFF);
	exitdev_destroy(e);
}

static struct uart *tx_uart;
static char tx_buf[8];
static size_t tx_len;
static uint8_t tx_lsr;

/* The tx callback reads LSR through the bus: it would deadlock if the UART
 * still held its lock while output goes out. */
static void tx(void *opaque, uint8_t c)
{
	(void)opaque;
	tx_lsr = (uint8_t)rd(&uart_ops, tx_uart, 5, 1);
	if (tx_len < sizeof(tx_buf))
		tx_buf[tx_len++] = (char)c;
}

static void uart(void **state)
{
	struct uart_cfg cfg = { &chip, 4, tx, NULL, NULL };
	struct uart *u;

	(void)state;
	tx_len = 0;
	u = tx_uart = uart_create(&cfg);
	wr(&uart_ops, u, 0, 1, 'h');
	wr(&uart_ops, u, 0, 1, 'i');
	assert_int_equal(tx_len, 2);
	assert_memory_equal(tx_buf, "hi", 2);
	assert_int_equal(tx_lsr & 0x60, 0x60);
	/* loopback: the byte comes back as input, nothing goes out */
	wr(&uart_ops, u, 4, 1, 0x10);
	wr(&uart_ops, u, 0, 1, 'l');
	assert_int_equal(tx_len, 2);
	assert_int_equal(rd(&uart_ops, u, 0, 1), 'l');
	wr(&uart_ops, u, 4, 1, 0x00);
	assert_int_equal(rd(&uart_ops, u, 5, 1) & 0x61, 0x60); /* THRE|TEMT, no DR */
	/* THRE interrupt test as Linux's 8250 probe does it */
	wr(&uart_ops, u, 1, 1, 0x02);
	assert_int_equal(irq_level[4], 1);
	assert_int_equal(rd(&uart_ops, u, 2, 1) & 0x0f, 0x02);
	assert_int_equal(irq_level[4], 0);
	/* receive: data ready and an interrupt when enabled */
	wr(&uart_ops, u, 1, 1, 0x01);
	assert_int_equal(uart_feed(u, "ab", 2), 2);
	assert_int_equal(irq_level[4], 1);
	assert_int_equal(rd(&uart_ops, u, 5, 1) & 1, 1);
	assert_int_equal(rd(&uart_ops, u, 0, 1), 'a');
	assert_int_equal(rd(&uart_ops, u, 0, 1), 'b');
	assert_int_equal(irq_level[4], 0);
	assert_int_equal(rd(&uart_ops, u, 0, 1), 0); /* empty FIFO */
	/* a guest that never reads: the FIFO bounds what is accepted */
	for (int i = 0; i < 10; i++)
		uart_feed(u, "0123456789", 10);
	assert_true(uart_feed(u, "x", 1) == 0);
	/* DLAB hides THR: divisor writes produce no output */
	wr(&uart_ops, u, 3, 1, 0x80);
	wr(&uart_ops, u, 0, 1, 0x01);
	assert_int_equal(rd(&uart_ops, u, 0, 1), 0x01);
	wr(&uart_ops, u, 3, 1, 0x03);
	wr(&uart_ops, u, 5, 1, 0x00); /* LSR is read-only */
	assert_int_equal(rd(&uart_ops, u, 5, 1) & 0x60, 0x60);
	assert_int_equal(tx_len, 2);
	uart_destroy(u);
}

static void i8042(void **state)
{
	struct i8042 *k = i8042_create(&chip, 1, &ctl);

	(void)state;
	wr(&i8042_cmd_ops, k, 0, 1, 0xaa);
	assert_int_equal(rd(&i8042_cmd_ops, k, 0, 1) & 1, 1);
	assert_int_equal(rd(&i8042_data_ops, k, 0, 1), 0x55);
	/* no AUX port, said at once: loopback data lacks the AUX status bit,
	 * and the AUX interface test fails */
	wr(&i8042_cmd_ops, k, 0, 1, 0xd3);
	wr(&i8042_data_ops, k, 0, 1, 0x5a);
	assert_int_equal(rd(&i8042_cmd_ops, k, 0, 1) & 0x31, 0x11); /* OBF, unlocked, not AUX */
	assert_int_equal(rd(&i8042_data_ops, k, 0, 1), 0x5a);
	wr(&i8042_cmd_ops, k, 0, 1, 0xa9);
	assert_int_equal(rd(&i8042_data_ops, k, 0, 1), 0x01);
	wr(&i8042_data_ops, k, 0, 1, 0xff);
	assert_int_equal(rd(&i8042_data_ops, k, 0, 1), 0xfa);
	assert_int_equal(rd(&i8042_data_ops, k, 0, 1), 0xaa);
	assert_int_equal(i8042_send_ctrl_alt_del(k), 0);
	assert_true(irq_edges[1] > 0);
	assert_int_equal(rd(&i8042_data_ops, k, 0, 1), 0x1d); /* Ctrl, set 1 */
	assert_int_equal(rd(&i8042_data_ops, k, 0, 1), 0x38); /* Alt */
	for (int i = 0; i < 6; i++)
		rd(&i8042_data_ops, k, 0, 1);
	/* a guest that never drains: bounded, then -EBUSY */
	for (int i = 0; i < 100; i++)
		wr(&i8042_data_ops, k, 0, 1, 0xf4);
	assert_int_equal(i8042_send_ctrl_alt_del(k), -EBUSY);
	assert_int_equal(stops, 0);
	wr(&i8042_cmd_ops, k, 0, 1, 0xd1); /* output port, reset line low */
	wr(&i8042_data_ops, k, 0, 1, 0x00);
	assert_int_equal(stops, 1);
	assert_int_equal(stop_reason, VM_STOP_RESET);
	wr(&i8042_cmd_ops, k, 0, 1, 0xfe);
	assert_int_equal(stops, 2);
	i8042_destroy(k);
}

static void rtc(void **state)
{
	struct rtc *r = rtc_create(512ULL << 20, 1ULL << 30);
	uint8_t sec;

	(void)state;
	wr(&rtc_ops, r, 0, 1, 0x80 | 0x00); /* NMI bit ignored */
	sec = (uint8_t)rd(&rtc_ops, r, 1, 1);
	assert_true((sec & 0xf) <= 9 && (sec >> 4) <= 5); /* BCD */
	wr(&rtc_ops, r, 0, 1, 0x0d);
	assert_int_equal(rd(&rtc_ops, r, 1, 1), 0x80);
	wr(&rtc_ops, r, 1, 1, 0x00); /* read-only */
	assert_int_equal(rd(&rtc_ops, r, 1, 1), 0x80);
	wr(&rtc_ops, r, 0, 1, 0x34);
	assert_int_equal(rd(&rtc_ops, r, 1, 1), ((512 - 16) << 4) & 0xff);
	wr(&rtc_ops, r, 0, 1, 0x5c);
	assert_int_equal(rd(&rtc_ops, r, 1, 1), 0x40); /* 1 GiB / 64 KiB = 0x4000 */
	wr(&rtc_ops, r, 0, 1, 0x0b);
	wr(&rtc_ops, r, 1, 1, 0x06); /* binary */
	wr(&rtc_ops, r, 0, 1, 0x00);
	assert_true(rd(&rtc_ops, r, 1, 1) < 60);
	rtc_destroy(r);
}

/* PM1a, as ACPICA drives it for S5: clear status, write SLP_TYP, then
 * SLP_TYP | SLP_EN (exit 0); SCI_EN reads 1, enable bits stick. */
static void acpi_pm1(void **state)
{
	struct exitdev *e = exitdev_create(&ctl, &chip, HEARTH_IRQ_SCI);

	(void)state;
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 4, 2), 0x0001); /* SCI_EN */
	wr(&exitdev_acpi_pm1_ops, e, 2, 2, 0x0020);		      /* GBL_EN */
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 2, 2), 0x0020);
	wr(&exitdev_acpi_pm1_ops, e, 0, 2, 0xffff); /* clear all status */
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 0, 2), 0);
	wr(&exitdev_acpi_pm1_ops, e, 4, 2, 0x0001 | 3 << 10); /* S3: nothing */
	wr(&exitdev_acpi_pm1_ops, e, 4, 2, 0x0001 | 3 << 10 | 1 << 13);
	assert_int_equal(stops, 0);
	wr(&exitdev_acpi_pm1_ops, e, 4, 2, 0x0001 | ACPI_SLP_TYP_S5 << 10);
	assert_int_equal(stops, 0);
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 4, 2), 0x0001 | ACPI_SLP_TYP_S5 << 10);
	wr(&exitdev_acpi_pm1_ops, e, 5, 1, (ACPI_SLP_TYP_S5 << 2) | 0x20); /* high byte */
	assert_int_equal(stops, 1);
	assert_int_equal(stop_reason, VM_STOP_POWEROFF);
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 4, 2) & 0x2000, 0); /* write-only */
	exitdev_destroy(e);
}

/* The fixed-feature power button: refused (-ENODEV, no status, no SCI)
 * until the guest enables PWRBTN_EN; then PWRBTN_STS is set and the SCI
 * held high until the guest writes 1 to clear it (other writes, to the
 * status's other bits or to the enable register, leave it up); a press
 * while the status is still set raises no second edge. Disabling the event
 * lowers the line even with the status still set. */
static void power_button(void **state)
{
	struct exitdev *e = exitdev_create(&ctl, &chip, HEARTH_IRQ_SCI);

	(void)state;
	assert_int_equal(exitdev_power_button(e), -ENODEV);
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 0, 2), 0);
	assert_int_equal(irq_edges[HEARTH_IRQ_SCI], 0);
	wr(&exitdev_acpi_pm1_ops, e, 2, 2, 0x0120); /* PWRBTN_EN | GBL_EN */
	assert_int_equal(irq_level[HEARTH_IRQ_SCI], 0);
	assert_int_equal(exitdev_power_button(e), 0);
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 0, 2), 0x0100);
	assert_int_equal(irq_level[HEARTH_IRQ_SCI], 1);
	assert_int_equal(irq_edges[HEARTH_IRQ_SCI], 1);
	assert_int_equal(exitdev_power_button(e), 0); /* still pending: one edge */
	assert_int_equal(irq_edges[HEARTH_IRQ_SCI], 1);
	wr(&exitdev_acpi_pm1_ops, e, 0, 1, 0xff); /* low byte: not PWRBTN_STS */
	wr(&exitdev_acpi_pm1_ops, e, 2, 2, 0x0120);
	assert_int_equal(irq_level[HEARTH_IRQ_SCI], 1);
	wr(&exitdev_acpi_pm1_ops, e, 1, 1, 0x01); /* PWRBTN_STS, write 1 to clear */
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 0, 2), 0);
	assert_int_equal(irq_level[HEARTH_IRQ_SCI], 0);
	assert_int_equal(exitdev_power_button(e), 0);
	assert_int_equal(irq_edges[HEARTH_IRQ_SCI], 2);
	wr(&exitdev_acpi_pm1_ops, e, 2, 2, 0x0020); /* PWRBTN_EN off: line down */
	assert_int_equal(irq_level[HEARTH_IRQ_SCI], 0);
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, e, 0, 2), 0x0100);
	assert_int_equal(exitdev_power_button(e), -ENODEV);
	assert_int_equal(stops, 0);
	exitdev_destroy(e);
}

/* 0xcf9 as Linux's reboot=pci writes it (read, | 2, then | 0x0e), and the
 * FADT reset register's single write of 0x06: each resets. */
static void pci_reset(void **state)
{
	struct pci_host *p = pci_host_create(&ctl);
	uint8_t v;

	(void)state;
	v = (uint8_t)(rd(&pci_host_ops, p, 1, 1) & ~0x0e);
	wr(&pci_host_ops, p, 1, 1, v | 2);
	assert_int_equal(stops, 0);
	assert_int_equal(rd(&pci_host_ops, p, 1, 1), 2);
	wr(&pci_host_ops, p, 1, 1, v | 0x0e);
	assert_int_equal(stops, 1);
	assert_int_equal(stop_reason, VM_STOP_RESET);
	wr(&pci_host_ops, p, 1, 1, 0x06);
	assert_int_equal(stops, 2);
	wr(&pci_host_ops, p, 1, 2, 0x0606); /* not a byte at 0xcf9 */
	assert_int_equal(stops, 2);
	pci_host_destroy(p);
}

static void pci(void **state)
{
	struct pci_host *p = pci_host_create(&ctl);

	(void)state;
	wr(&pci_host_ops, p, 0, 4, 0x80000000);
	assert_int_equal(rd(&pci_host_ops, p, 0, 4), 0x80000000);
	assert_int_equal(rd(&pci_host_ops, p, 4, 4), 0x00081b36);
	assert_int_equal(rd(&pci_host_ops, p, 6, 2), 0x0008);
	wr(&pci_host_ops, p, 4, 4, 0xdeadbeef); /* vendor/device read-only */
	assert_int_equal(rd(&pci_host_ops, p, 4, 2), 0x1b36);
	wr(&pci_host_ops, p, 0, 4, 0x80000008);
	assert_int_equal(rd(&pci_host_ops, p, 7, 1), 0x06); /* class bridge */
	wr(&pci_host_ops, p, 0, 4, 0x80000800);		    /* 00:01.0 absent */
	assert_int_equal(rd(&pci_host_ops, p, 4, 4), 0xffffffff);
	wr(&pci_host_ops, p, 0, 4, 0x80010000); /* bus 1 */
	assert_int_equal(rd(&pci_host_ops, p, 4, 4), 0xffffffff);
	wr(&pci_host_ops, p, 0, 4, 0x00000000); /* disabled */
	assert_int_equal(rd(&pci_host_ops, p, 4, 4), 0xffffffff);
	wr(&pci_host_ops, p, 0, 1, 0x12); /* byte write is no address write */
	assert_int_equal(rd(&pci_host_ops, p, 0, 4), 0);
	assert_int_equal(pci_host_add(p, 0, (const struct pci_func_ops *)1, NULL), -EEXIST);
	assert_int_equal(pci_host_add(p, 256, (const struct pci_func_ops *)1, NULL), -EINVAL);
	pci_host_destroy(p);
}

/* ---- save and restore (docs/state.md) ---- */

typedef int (*restore_fn)(void *dev, struct state_reader *r);

/* Saves with @save into @buf; returns the record's length. */
#define SAVE(save, dev, buf)                                          \
	({                                                            \
		struct state_writer w_;                               \
		size_t len_ = 0;                                      \
		state_writer_init(&w_, buf, sizeof(buf));             \
		assert_int_equal(save(dev, &w_), 0);                  \
		assert_int_equal(state_writer_finish(&w_, &len_), 0); \
		len_;                                                 \
	})

static int restore_buf(restore_fn fn, void *dev, const uint8_t *buf, size_t len)
{
	struct state_reader r;
	int ret;

	state_reader_init(&r, buf, len);
	ret = fn(dev, &r);
	return ret ? ret : state_reader_finish(&r);
}

/* Every truncation of the record is refused: as cut, and with the
 * header's length made to match the cut (so the fields run out). */
static void refuse_truncated(restore_fn fn, void *dev, const uint8_t *buf, size_t len)
{
	uint8_t cut_buf[512];

	assert_true(len <= sizeof(cut_buf));
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(restore_buf(fn, dev, buf, cut), -EBADMSG);
		if (cut < 12)
			continue;
		memcpy(cut_buf, buf, cut);
		cut_buf[8] = (uint8_t)(cut - 12);
		cut_buf[9] = (uint8_t)((cut - 12) >> 8);
		cut_buf[10] = cut_buf[11] = 0;
		assert_int_equal(restore_buf(fn, dev, cut_buf, cut), -EBADMSG);
	}
}

static int uart_restore_any(void *dev, struct state_reader *r)
{
	return uart_restore(dev, r);
}

/* The registers a guest reads without side effects, DLAB off and on. */
static void uart_regs(struct uart *u, uint8_t out[8])
{
	uint8_t lcr = (uint8_t)rd(&uart_ops, u, 3, 1);

	for (unsigned i = 1; i < 8; i++)
		out[i] = i == 2 ? 0 : (uint8_t)rd(&uart_ops, u, i, 1);
	wr(&uart_ops, u, 3, 1, lcr | 0x80);
	out[0] = (uint8_t)rd(&uart_ops, u, 0, 1);
	out[2] = (uint8_t)rd(&uart_ops, u, 1, 1);
	wr(&uart_ops, u, 3, 1, lcr);
}

/* Mid-operation: divisor set, FIFOs on, receive and THRE interrupts
 * enabled, three bytes queued of which the guest took one. The restored
 * UART raises its line, then gives the guest the same bytes, registers and
 * interrupt identification as the original does. */
static void uart_state(void **state)
{
	struct uart_cfg cfg = { &chip, 4, NULL, NULL, NULL };
	struct uart_cfg cfg2 = { &chip, 3, NULL, NULL, NULL };
	struct uart *u = uart_create(&cfg), *v = uart_create(&cfg2);
	uint8_t buf[128], ra[8], rb[8];
	size_t len;

	(void)state;
	wr(&uart_ops, u, 3, 1, 0x83);
	wr(&uart_ops, u, 0, 1, 0x0c);
	wr(&uart_ops, u, 1, 1, 0x00);
	wr(&uart_ops, u, 3, 1, 0x03);
	wr(&uart_ops, u, 2, 1, 0xc1);
	wr(&uart_ops, u, 4, 1, 0x0b);
	wr(&uart_ops, u, 7, 1, 0x5a);
	wr(&uart_ops, u, 1, 1, 0x03);
	assert_int_equal(uart_feed(u, "xyz", 3), 3);
	assert_int_equal(rd(&uart_ops, u, 0, 1), 'x');
	len = SAVE(uart_save, u, buf);
	assert_int_equal(irq_level[3], 0);
	assert_int_equal(restore_buf(uart_restore_any, v, buf, len), 0);
	assert_int_equal(irq_level[3], 1);
	uart_regs(u, ra);
	uart_regs(v, rb);
	assert_memory_equal(ra, rb, 8);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rd(&uart_ops, u, 2, 1), rd(&uart_ops, v, 2, 1)); /* IIR: RDI */
		assert_int_equal(rd(&uart_ops, u, 0, 1), rd(&uart_ops, v, 0, 1));
	}
	assert_int_equal(irq_level[3], irq_level[4]); /* THRE pending in both */
	assert_int_equal(rd(&uart_ops, v, 2, 1), 0xc2);
	assert_int_equal(rd(&uart_ops, v, 2, 1), 0xc1);
	assert_int_equal(irq_level[3], 0);
	assert_int_equal(rd(&uart_ops, v, 5, 1) & 1, 0);
	uart_destroy(u);
	uart_destroy(v);
}

/* A cut, corrupt or out-of-range record changes nothing. */
static void uart_state_refused(void **state)
{
	struct uart_cfg cfg = { &chip, 4, NULL, NULL, NULL };
	struct uart *u = uart_create(&cfg), *v = uart_create(&cfg);
	uint8_t buf[128], before[8], after[8];
	size_t len;

	(void)state;
	wr(&uart_ops, u, 1, 1, 0x01);
	uart_feed(u, "abc", 3);
	len = SAVE(uart_save, u, buf);
	wr(&uart_ops, v, 7, 1, 0x77);
	uart_feed(v, "q", 1);
	uart_regs(v, before);
	refuse_truncated(uart_restore_any, v, buf, len);
	buf[len - 7] = 65; /* a FIFO length past the FIFO */
	assert_int_equal(restore_buf(uart_restore_any, v, buf, len), -EBADMSG);
	len = SAVE(uart_save, u, buf);
	buf[12 + 1] = 0xff; /* IER: bits no guest can set */
	assert_int_equal(restore_buf(uart_restore_any, v, buf, len), -EINVAL);
	buf[12 + 1] = 0x01;
	buf[4] = STATE_KIND_RTC;
	assert_int_equal(restore_buf(uart_restore_any, v, buf, len), -EBADMSG);
	buf[4] = STATE_KIND_UART;
	buf[6] = 2; /* a newer version */
	assert_int_equal(restore_buf(uart_restore_any, v, buf, len), -EPROTONOSUPPORT);
	uart_regs(v, after);
	assert_memory_equal(before, after, 8);
	assert_int_equal(rd(&uart_ops, v, 0, 1), 'q');
	buf[6] = 1;
	assert_int_equal(restore_buf(uart_restore_any, v, buf, len), 0);
	assert_int_equal(rd(&uart_ops, v, 0, 1), 'a');
	uart_destroy(u);
	uart_destroy(v);
}

static int rtc_restore_any(void *dev, struct state_reader *r)
{
	return rtc_restore(dev, r);
}

/* The guest selected a register and wrote CMOS bytes and binary mode: the
 * restored RTC reads the same at the selected index and everywhere else. */
static void rtc_state(void **state)
{
	struct rtc *r = rtc_create(512ULL << 20, 1ULL << 30), *s = rtc_create(0, 0);
	uint8_t buf[256];
	size_t len;

	(void)state;
	wr(&rtc_ops, r, 0, 1, 0x0b);
	wr(&rtc_ops, r, 1, 1, 0x06); /* binary, 24 h */
	wr(&rtc_ops, r, 0, 1, 0x40);
	wr(&rtc_ops, r, 1, 1, 0xa5); /* a CMOS byte */
	len = SAVE(rtc_save, r, buf);
	assert_int_equal(restore_buf(rtc_restore_any, s, buf, len), 0);
	assert_int_equal(rd(&rtc_ops, s, 0, 1), 0x40); /* the index */
	assert_int_equal(rd(&rtc_ops, s, 1, 1), 0xa5);
	for (unsigned i = 0x0a; i < 0x80; i++) {
		wr(&rtc_ops, r, 0, 1, i);
		wr(&rtc_ops, s, 0, 1, i);
		assert_int_equal(rd(&rtc_ops, r, 1, 1), rd(&rtc_ops, s, 1, 1));
	}
	wr(&rtc_ops, s, 0, 1, 0x00);
	assert_true(rd(&rtc_ops, s, 1, 1) < 60); /* seconds in binary */
	/* refused: cut, an index no write gives, CMOS of the wrong size */
	refuse_truncated(rtc_restore_any, s, buf, len);
	buf[12 + 1] = 0x80;
	assert_int_equal(restore_buf(rtc_restore_any, s, buf, len), -EINVAL);
	buf[12 + 1] = 0x40;
	buf[12 + 2 + 1] = 127;
	assert_int_equal(restore_buf(rtc_restore_any, s, buf, len), -EBADMSG);
	assert_int_equal(rd(&rtc_ops, s, 0, 1), 0x00); /* unchanged */
	wr(&rtc_ops, s, 0, 1, 0x34);
	assert_int_equal(rd(&rtc_ops, s, 1, 1), ((512 - 16) << 4) & 0xff);
	rtc_destroy(r);
	rtc_destroy(s);
}

static int i8042_restore_any(void *dev, struct state_reader *r)
{
	return i8042_restore(dev, r);
}

/* Mid-command: translation off (the command byte rewritten), a "write
 * output port" command waiting for its data byte, and Ctrl-Alt-Del queued
 * with one key taken. The restored controller pulses IRQ 1, hands out the
 * same keys and resets on the pending command's data byte as the original
 * would. */
static void i8042_state(void **state)
{
	struct i8042 *k = i8042_create(&chip, 1, &ctl), *m = i8042_create(&chip, 12, &ctl);
	uint8_t buf[128];
	size_t len;

	(void)state;
	wr(&i8042_cmd_ops, k, 0, 1, 0x60);
	wr(&i8042_data_ops, k, 0, 1, 0x05); /* no translation: scan set 2 */
	assert_int_equal(i8042_send_ctrl_alt_del(k), 0);
	assert_int_equal(rd(&i8042_data_ops, k, 0, 1), 0x14);
	wr(&i8042_cmd_ops, k, 0, 1, 0xd1);
	len = SAVE(i8042_save, k, buf);
	assert_int_equal(restore_buf(i8042_restore_any, m, buf, len), 0);
	assert_int_equal(irq_edges[12], 1);
	assert_int_equal(rd(&i8042_cmd_ops, m, 0, 1), rd(&i8042_cmd_ops, k, 0, 1));
	for (int i = 0; i < 10; i++)
		assert_int_equal(rd(&i8042_data_ops, m, 0, 1), rd(&i8042_data_ops, k, 0, 1));
	assert_int_equal(rd(&i8042_cmd_ops, m, 0, 1) & 1, 0);
	wr(&i8042_data_ops, m, 0, 1, 0x00); /* the 0xd1 data: reset line low */
	assert_int_equal(stops, 1);
	assert_int_equal(stop_reason, VM_STOP_RESET);
	wr(&i8042_cmd_ops, m, 0, 1, 0x20); /* read the command byte */
	assert_int_equal(rd(&i8042_data_ops, m, 0, 1), 0x05);
	i8042_destroy(k);
	i8042_destroy(m);
}

static void i8042_state_refused(void **state)
{
	struct i8042 *k = i8042_create(&chip, 1, &ctl), *m = i8042_create(&chip, 12, &ctl);
	uint8_t buf[128];
	size_t len;

	(void)state;
	wr(&i8042_cmd_ops, k, 0, 1, 0x60);
	len = SAVE(i8042_save, k, buf);
	refuse_truncated(i8042_restore_any, m, buf, len);
	buf[12 + 2 + 1] = 0xfe; /* a pending "command" that is no command */
	assert_int_equal(restore_buf(i8042_restore_any, m, buf, len), -EINVAL);
	buf[12 + 2 + 1] = 0x60;
	buf[12 + 4 + 1] = 0x01; /* a status bit other than CMD */
	assert_int_equal(restore_buf(i8042_restore_any, m, buf, len), -EINVAL);
	buf[12 + 4 + 1] = 0x08;
	buf[12 + 6 + 1] = 17; /* a queue longer than the controller's */
	assert_int_equal(restore_buf(i8042_restore_any, m, buf, len), -EBADMSG);
	/* unchanged: a fresh controller's self test answers */
	assert_int_equal(irq_edges[12], 0);
	wr(&i8042_cmd_ops, m, 0, 1, 0xaa);
	assert_int_equal(rd(&i8042_data_ops, m, 0, 1), 0x55);
	i8042_destroy(k);
	i8042_destroy(m);
}

static int pci_host_restore_any(void *dev, struct state_reader *r)
{
	return pci_host_restore(dev, r);
}

static uint32_t fn_read(void *opaque, uint32_t off, size_t len)
{
	return (uint32_t)(uintptr_t)opaque + off;
}

static void fn_write(void *opaque, uint32_t off, uint32_t val, size_t len)
{
}

static const struct pci_func_ops fn_ops = { fn_read, fn_write };

/* Saved between the guest's address write and its data access, with the
 * bridge's bus mastering on: the restored host answers that access the
 * same way. A bus with other functions is refused. */
static void pci_host_state(void **state)
{
	struct pci_host *p = pci_host_create(&ctl), *q = pci_host_create(&ctl),
			*other = pci_host_create(&ctl);
	uint8_t buf[128];
	size_t len;

	(void)state;
	assert_int_equal(pci_host_add(p, 3 << 3, &fn_ops, (void *)0x1000), 0);
	assert_int_equal(pci_host_add(q, 3 << 3, &fn_ops, (void *)0x1000), 0);
	assert_int_equal(pci_host_add(other, 4 << 3, &fn_ops, (void *)0x1000), 0);
	wr(&pci_host_ops, p, 0, 4, 0x80000004);
	wr(&pci_host_ops, p, 4, 2, 0x0006);
	wr(&pci_host_ops, p, 1, 1, 0x02);
	wr(&pci_host_ops, p, 0, 4, 0x80001810); /* 00:03.0, register 0x10 */
	len = SAVE(pci_host_save, p, buf);
	assert_int_equal(restore_buf(pci_host_restore_any, other, buf, len), -EINVAL);
	assert_int_equal(rd(&pci_host_ops, other, 0, 4), 0); /* unchanged */
	assert_int_equal(restore_buf(pci_host_restore_any, q, buf, len), 0);
	assert_int_equal(rd(&pci_host_ops, q, 0, 4), 0x80001810);
	assert_int_equal(rd(&pci_host_ops, q, 4, 4), 0x1010);
	assert_int_equal(rd(&pci_host_ops, q, 1, 1), 0x02);
	wr(&pci_host_ops, q, 0, 4, 0x80000004);
	assert_int_equal(rd(&pci_host_ops, q, 4, 2), 0x0006);
	assert_int_equal(stops, 0);
	/* refused: cut, address bits no write sets, a short function map */
	refuse_truncated(pci_host_restore_any, other, buf, len);
	buf[12 + 1] = 0x13;
	assert_int_equal(restore_buf(pci_host_restore_any, other, buf, len), -EINVAL);
	buf[12 + 1] = 0x10;
	buf[12 + 5 + 3 + 2 + 1] = 31;
	assert_int_equal(restore_buf(pci_host_restore_any, other, buf, len), -EBADMSG);
	assert_int_equal(rd(&pci_host_ops, other, 0, 4), 0);
	pci_host_destroy(p);
	pci_host_destroy(q);
	pci_host_destroy(other);
}

static int exitdev_restore_any(void *dev, struct state_reader *r)
{
	return exitdev_restore(dev, r);
}

/* ACPICA set GBL_EN and a sleep type: the restored PM1a block reads the
 * same and powers off on the same SLP_EN write. Impossible registers (a
 * status bit, SCI_EN clear, SLP_EN kept) are refused. */
static void exitdev_state(void **state)
{
	struct exitdev *e = exitdev_create(&ctl, &chip, HEARTH_IRQ_SCI);
	struct exitdev *f = exitdev_create(&ctl, &chip, HEARTH_IRQ_SCI);
	uint8_t buf[64];
	size_t len;

	(void)state;
	wr(&exitdev_acpi_pm1_ops, e, 2, 2, 0x0020);
	wr(&exitdev_acpi_pm1_ops, e, 4, 2, 0x0001 | ACPI_SLP_TYP_S5 << 10);
	len = SAVE(exitdev_save, e, buf);
	refuse_truncated(exitdev_restore_any, f, buf, len);
	buf[len - 6] = 1; /* a status bit */
	assert_int_equal(restore_buf(exitdev_restore_any, f, buf, len), -EINVAL);
	buf[len - 6] = 0;
	buf[len - 2] &= (uint8_t)~1; /* SCI_EN clear */
	assert_int_equal(restore_buf(exitdev_restore_any, f, buf, len), -EINVAL);
	buf[len - 2] |= 1;
	buf[len - 1] |= 0x20; /* SLP_EN kept */
	assert_int_equal(restore_buf(exitdev_restore_any, f, buf, len), -EINVAL);
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, f, 2, 2), 0); /* unchanged */
	buf[len - 1] &= (uint8_t)~0x20;
	assert_int_equal(restore_buf(exitdev_restore_any, f, buf, len), 0);
	for (unsigned off = 0; off < 6; off += 2)
		assert_int_equal(rd(&exitdev_acpi_pm1_ops, f, off, 2),
				 rd(&exitdev_acpi_pm1_ops, e, off, 2));
	wr(&exitdev_acpi_pm1_ops, f, 5, 1, (ACPI_SLP_TYP_S5 << 2) | 0x20);
	assert_int_equal(stops, 1);
	assert_int_equal(stop_reason, VM_STOP_POWEROFF);
	exitdev_destroy(f);

	/* a power button press the guest has not cleared yet: the restored
	 * device holds PWRBTN_STS and raises the SCI again */
	wr(&exitdev_acpi_pm1_ops, e, 2, 2, 0x0120);
	assert_int_equal(exitdev_power_button(e), 0);
	len = SAVE(exitdev_save, e, buf);
	irq_level[HEARTH_IRQ_SCI] = 0;
	f = exitdev_create(&ctl, &chip, HEARTH_IRQ_SCI);
	assert_int_equal(restore_buf(exitdev_restore_any, f, buf, len), 0);
	assert_int_equal(rd(&exitdev_acpi_pm1_ops, f, 0, 2), 0x0100);
	assert_int_equal(irq_level[HEARTH_IRQ_SCI], 1);
	wr(&exitdev_acpi_pm1_ops, f, 1, 1, 0x01);
	assert_int_equal(irq_level[HEARTH_IRQ_SCI], 0);
	exitdev_destroy(e);
	exitdev_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(exit_device, reset_state),
		cmocka_unit_test_setup(acpi_sleep, reset_state),
		cmocka_unit_test_setup(acpi_pm1, reset_state),
		cmocka_unit_test_setup(pci_reset, reset_state),
		cmocka_unit_test_setup(power_button, reset_state),
		cmocka_unit_test_setup(uart, reset_state),
		cmocka_unit_test_setup(i8042, reset_state),
		cmocka_unit_test_setup(rtc, reset_state),
		cmocka_unit_test_setup(pci, reset_state),
		cmocka_unit_test_setup(uart_state, reset_state),
		cmocka_unit_test_setup(uart_state_refused, reset_state),
		cmocka_unit_test_setup(rtc_state, reset_state),
		cmocka_unit_test_setup(i8042_state, reset_state),
		cmocka_unit_test_setup(i8042_state_refused, reset_state),
		cmocka_unit_test_setup(pci_host_state, reset_state),
		cmocka_unit_test_setup(exitdev_state, reset_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
