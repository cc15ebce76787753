/* SPDX-License-Identifier: MIT */
/*
 * Legacy PC platform devices: 8250/16550A UART, i8042, CMOS RTC, PCI host
 * bridge (config mechanism #1) and hearth's exit/marker device.
 * Each device exposes bus_ops to register on the PIO bus at the addresses in
 * abi.h. All entry points are thread safe (a device locks its own state):
 * vCPU threads call the bus ops, the I/O thread feeds input.
 */
#ifndef HEARTH_DEV_H
#define HEARTH_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "hearth/bus.h"
#include "hearth/exit.h"
#include "hearth/irq.h"

/*
 * State (docs/state.md): each device's save writes one record of its kind
 * and returns 0 or the writer's error; its restore reads one back and
 * returns 0, or a negative errno (the reader's, or -EINVAL for a value out
 * of range) with the device unchanged. Restore drives the device's
 * interrupt line to the level the restored registers give. Host
 * connections (callbacks, irq chip, GSI) are the device's own, not state.
 */
struct state_writer;
struct state_reader;

/* ---- 16550A UART (8 ports) ---- */
struct uart;
struct uart_cfg {
	const struct irq_chip *irq;
	unsigned gsi;
	/* Called (from a vCPU thread, no UART lock held) with each byte the
	 * guest transmits; it must not block. NULL discards the output. */
	void (*tx)(void *opaque, uint8_t c);
	/* Called (from a vCPU thread) when the receive FIFO drains, so the
	 * I/O thread can feed more input. May be NULL. */
	void (*rx_drained)(void *opaque);
	void *opaque; /* for tx and rx_drained */
};
extern const struct bus_ops uart_ops;
/* Returns a new UART or NULL (errno set). */
struct uart *uart_create(const struct uart_cfg *cfg);
void uart_destroy(struct uart *u);
/* Queues host input for the guest; returns how many bytes were accepted
 * (0 when the FIFO is full). Raises the receive interrupt if enabled. */
size_t uart_feed(struct uart *u, const void *buf, size_t len);
/* Registers and the receive FIFO's bytes. */
int uart_save(struct uart *u, struct state_writer *w);
int uart_restore(struct uart *u, struct state_reader *r);

/* ---- i8042 keyboard controller (ports 0x60 and 0x64, one byte each) ---- */
struct i8042;
extern const struct bus_ops i8042_data_ops; /* register at 0x60, len 1 */
extern const struct bus_ops i8042_cmd_ops;  /* register at 0x64, len 1 */
/* Returns a new controller or NULL. A guest reset request (command 0xfe,
 * or pulsing the reset line through the output port) calls
 * ctl->stop(VM_STOP_RESET). */
struct i8042 *i8042_create(const struct irq_chip *irq, unsigned gsi, const struct vm_ctl *ctl);
void i8042_destroy(struct i8042 *k);
/* Queues the Ctrl-Alt-Del key sequence and raises IRQ 1. Returns 0, or
 * -EBUSY when the guest has not drained the previous keys. */
int i8042_send_ctrl_alt_del(struct i8042 *k);
/* The command byte, a command waiting for its data byte, the status's
 * command bit and the output queue. IRQ 1 is an edge: restore pulses it
 * when the queue holds bytes and the interrupt is enabled. */
int i8042_save(struct i8042 *k, struct state_writer *w);
int i8042_restore(struct i8042 *k, struct state_reader *r);

/* ---- CMOS RTC (ports 0x70-0x71) ---- */
struct rtc;
extern const struct bus_ops rtc_ops;
/* Host UTC time; memory size registers filled from the RAM sizes. */
struct rtc *rtc_create(uint64_t ram_below_4g, uint64_t ram_above_4g);
void rtc_destroy(struct rtc *r);
/* The index register and the 128 bytes of CMOS RAM (the time is the
 * host's, read at each access, so not state). */
int rtc_save(struct rtc *r, struct state_writer *w);
int rtc_restore(struct rtc *r, struct state_reader *rd);

/* ---- PCI host bridge, configuration mechanism #1 (0xcf8-0xcff) ---- */
struct pci_host;
extern const struct bus_ops pci_host_ops; /* register at 0xcf8, len 8 */
/*
 * Configuration space of one function. Offsets are 0..4095 and aligned to
 * @len (1, 2 or 4); the host bridge handles alignment and range before
 * calling. Unimplemented registers read as zero.
 */
struct pci_func_ops {
	uint32_t (*cfg_read)(void *opaque, uint32_t off, size_t len);
	void (*cfg_write)(void *opaque, uint32_t off, uint32_t val, size_t len);
};
/* A bus 0 with the host bridge itself at 00:00.0, and the reset control
 * register at 0xcf9 (a write with bit 2 set: @ctl->stop(VM_STOP_RESET)).
 * NULL on failure. */
struct pci_host *pci_host_create(const struct vm_ctl *ctl);
void pci_host_destroy(struct pci_host *p);
/* Places a function at bus 0, @devfn (slot << 3 | fn).
 * Returns 0, -EINVAL (devfn > 255), -EEXIST (taken). */
int pci_host_add(struct pci_host *p, unsigned devfn, const struct pci_func_ops *ops, void *opaque);
/* The address register, the bridge's command register, 0xcf9's bits, and
 * which functions are present: restore refuses (-EINVAL) a record from a
 * bus with other functions. The functions' own state is theirs. */
int pci_host_save(struct pci_host *p, struct state_writer *w);
int pci_host_restore(struct pci_host *p, struct state_reader *r);

/* ---- exit device and boot marker (abi.h) ---- */
struct exitdev;
extern const struct bus_ops exitdev_ops;	    /* HEARTH_PORT_EXIT, len 2 (exit+marker) */
extern const struct bus_ops exitdev_qemu_ops;	    /* isa-debug-exit port, len 1..4 */
extern const struct bus_ops exitdev_acpi_sleep_ops; /* HEARTH_PORT_ACPI_SLEEP, len 2 */
extern const struct bus_ops exitdev_acpi_pm1_ops;   /* HEARTH_PORT_ACPI_PM1, len 6 */
/* @irq and @sci: the line the ACPI SCI is on (NULL: no SCI). */
struct exitdev *exitdev_create(const struct vm_ctl *ctl, const struct irq_chip *irq, unsigned sci);
/*
 * Presses the ACPI fixed-feature power button: sets PWRBTN_STS and raises
 * the SCI until the guest clears it. Returns 0, or -ENODEV when the guest
 * has not enabled the button's event (no ACPI, or nothing listening), so
 * that the caller can ask another way. Thread safe.
 */
int exitdev_power_button(struct exitdev *e);
void exitdev_destroy(struct exitdev *e);
/* The ACPI PM1a registers (what the guest wrote to the enable and control
 * registers); the exit and marker ports keep nothing. */
int exitdev_save(struct exitdev *e, struct state_writer *w);
int exitdev_restore(struct exitdev *e, struct state_reader *r);

#endif
