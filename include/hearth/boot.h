/* SPDX-License-Identifier: MIT */
/*
 * Kernel loaders: a Linux bzImage entered in 64-bit mode (Linux x86 boot
 * protocol >= 2.12) and an ELF kernel entered through its PVH note in 32-bit
 * protected mode. Loaders write into guest RAM only through gm_ptr() and
 * treat the kernel and initrd files as untrusted input.
 *
 * Fixed guest-physical addresses of the boot structures hearth writes
 * (those the boot vCPU's registers point at are in boot_entry.h):
 */
#ifndef HEARTH_BOOT_H
#define HEARTH_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "hearth/boot_entry.h"
#include "hearth/mem.h"

#define BOOT_PARAMS	    0x7000ULL /* zero page, or PVH start_info */
#define BOOT_PVH_MEMMAP	    0x7100ULL /* PVH memory map entries */
#define BOOT_PVH_MODLIST    0x7f00ULL
#define BOOT_CMDLINE	    0x20000ULL
#define BOOT_CMDLINE_MAX    0x10000ULL	   /* bytes including the NUL */
#define BOOT_KERNEL_MIN	    0x100000ULL	   /* nothing is loaded below 1 MiB */
#define BOOT_PVH_INITRD_MAX 0x100000000ULL /* PVH modules live below 4 GiB */
/* The GDT and the page tables: hearth/boot_entry.h */

struct boot_input {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* NULL when none */
	size_t initrd_len;
	const char *cmdline; /* never NULL */
	const struct e820_entry *e820;
	size_t e820_n;
};

/*
 * Detects the format and loads the kernel, command line, initrd and boot
 * structures into @gm. On failure returns -ENOEXEC (not a kernel hearth
 * knows), -EINVAL (corrupt or hostile file), -E2BIG (does not fit in RAM,
 * command line too long) and writes a one-line reason into @err.
 */
int boot_load(struct guest_mem *gm, const struct boot_input *in, struct boot_setup *out, char *err,
	      size_t errlen);

/* The two loaders boot_load() picks from; same contract. */
int bzimage_load(struct guest_mem *gm, const struct boot_input *in, struct boot_setup *out,
		 char *err, size_t errlen);
int pvh_load(struct guest_mem *gm, const struct boot_input *in, struct boot_setup *out, char *err,
	     size_t errlen);

/*
 * Places the initrd as high as possible below min(@limit, end of low RAM),
 * 4 KiB aligned, above @floor. Returns its address, or 0 if it does not fit.
 */
uint64_t boot_place_initrd(const struct guest_mem *gm, uint64_t floor, uint64_t limit, size_t len);

/* Writes the GDT and the identity page tables (first 4 GiB, 2 MiB pages)
 * used by the 64-bit entry. Returns 0 or -EFAULT when RAM is too small. */
int boot_write_x86_tables(struct guest_mem *gm);

/* ---- MP table (Intel MultiProcessor Specification 1.4) ---- */
#define MPTABLE_MAX_CPUS 254
/*
 * Writes an MP floating pointer and configuration table at guest-physical
 * @gpa (16-byte aligned, inside RAM): @ncpus processors with APIC IDs
 * 0..ncpus-1 (vCPU 0 the BSP), one IOAPIC (ID ncpus), a PCI bus 0 and an
 * ISA bus 1 with the usual ISA interrupt routing. Returns the bytes used, or
 * -EINVAL (@ncpus 0 or > MPTABLE_MAX_CPUS), -ENOSPC (> @room), -EFAULT.
 */
int mptable_write(struct guest_mem *gm, uint64_t gpa, size_t room, unsigned ncpus);

/* ---- ACPI (RSDP, RSDT/XSDT, FADT, FACS, DSDT, MADT: docs/acpi.md) ---- */
/*
 * Writes the RSDP at guest-physical @gpa (16-byte aligned, where guests scan
 * for it: 0xe0000-0xfffff) and the tables after it, describing the same
 * @ncpus CPUs, I/O APIC and ISA routing as the MP table. Returns the bytes
 * used, or -EINVAL (@ncpus 0 or > MPTABLE_MAX_CPUS, bad @gpa), -ENOSPC
 * (> @room), -EFAULT (outside RAM).
 */
int acpi_write(struct guest_mem *gm, uint64_t gpa, size_t room, unsigned ncpus);

#endif
