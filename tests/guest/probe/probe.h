/* Probe guest: constants shared by entry.S and the C test logic. */
#ifndef PROBE_H
#define PROBE_H

#define KCODE32 0x08
#define KCODE64 0x10
#define KDATA	0x18
#define UDATA	0x23 /* DPL 3 selectors, RPL 3 */
#define UCODE64 0x2b
#define TSSSEL	0x30

#define LAPIC_BASE  0xfee00000
#define IOAPIC_BASE 0xfec00000
#define TRAMPOLINE  0x10000 /* AP start-up code, below 1 MiB */

#define VEC_LAPIC_TIMER 0x20
#define VEC_PIT		0x30
#define VEC_SPURIOUS	0xff

#define HEARTH_EXIT_PORT   0x4f0 /* hearth: the byte is the exit status */
#define HEARTH_MARKER_PORT 0x4f1
#define QEMU_EXIT_PORT	   0x501 /* isa-debug-exit: status (v << 1) | 1 */

#define STATUS_FAIL  1
#define STATUS_FAULT 3

#define MAX_CPUS 64

#endif
