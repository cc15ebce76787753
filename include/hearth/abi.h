/* SPDX-License-Identifier: MIT */
/*
 * hearth's guest-visible ABI: the fixed addresses and ports a guest may rely
 * on. Shared by hearth itself and by the test guests in tests/guest/, so this
 * header must stay freestanding (no libc includes).
 */
#ifndef HEARTH_ABI_H
#define HEARTH_ABI_H

/* Exit device: a 1-byte write of V makes hearth exit with status V. */
#define HEARTH_PORT_EXIT 0x4f0
/* Boot marker: a 1-byte write of V makes hearth log "marker V" with the time
 * since process start (for benchmarks, like Firecracker's boot timer). */
#define HEARTH_PORT_MARKER 0x4f1
/* QEMU isa-debug-exit convention (enabled with --exit-port qemu[:PORT]):
 * a write of V exits with (V << 1) | 1. Default port as in QEMU. */
#define HEARTH_PORT_QEMU_EXIT_DEFAULT 0x501

/* Legacy PC devices. */
#define HEARTH_PORT_COM1       0x3f8
#define HEARTH_IRQ_COM1	       4
#define HEARTH_PORT_I8042_DATA 0x60
#define HEARTH_PORT_I8042_CMD  0x64
#define HEARTH_IRQ_KBD	       1
#define HEARTH_PORT_RTC	       0x70
#define HEARTH_IRQ_RTC	       8
#define HEARTH_PORT_PCI_ADDR   0xcf8
#define HEARTH_PORT_PCI_DATA   0xcfc
/* Reset control register of PCs' chipsets (inside the PCI host's ports):
 * a write with bit 2 (reset CPU) set resets the machine; the FADT's reset
 * register writes HEARTH_RESET_VALUE (hard reset, reset CPU) there. */
#define HEARTH_PORT_RESET  0xcf9
#define HEARTH_RESET_VALUE 0x06
#define HEARTH_RTC_CENTURY 0x32 /* CMOS register holding the century */

/* Guest-physical layout. */
#define HEARTH_MMIO_HOLE_START 0xc0000000ULL /* 32-bit PCI/MMIO window */
#define HEARTH_MMIO_HOLE_END   0x100000000ULL
#define HEARTH_IOAPIC_BASE     0xfec00000ULL
#define HEARTH_LAPIC_BASE      0xfee00000ULL
#define HEARTH_ACPI_RSDP       0xe0000ULL /* RSDP, then the ACPI tables */
#define HEARTH_MPTABLE	       0xf0000ULL /* MP floating pointer and table */

/* ACPI sleep control (byte: SLP_EN | SLP_TYP << 2; S5 powers off) and sleep
 * status registers of the hardware-reduced FADT. */
#define HEARTH_PORT_ACPI_SLEEP 0x4f4
/* ACPI PM1a event block (16-bit status, write 1 to clear, then 16-bit
 * enable) and, at +4, the 16-bit PM1a control register: SLP_EN (bit 13)
 * with SLP_TYP (bits 10-12) S5 powers off. The SCI is on ISA IRQ 9. */
#define HEARTH_PORT_ACPI_PM1 0x4f8
#define HEARTH_IRQ_SCI	     9
/* The sleep type the DSDT's \_S5_ names and a guest writes to either
 * control register to power off. */
#define ACPI_SLP_TYP_S5 5

#endif
