/* SPDX-License-Identifier: MIT */
/*
 * The state a boot vCPU enters the kernel in: the contract between the
 * loaders (boot/, which write the GDT and page tables and fill in a
 * struct boot_setup) and the vCPU (vcpu/, which loads the registers that
 * point at them). Definitions only, so both can include it without
 * including each other (docs/architecture.md, "Layers").
 */
#ifndef HEARTH_BOOT_ENTRY_H
#define HEARTH_BOOT_ENTRY_H

#include <stdint.h>

#define BOOT_GDT  0x500ULL
#define BOOT_PML4 0x9000ULL
#define BOOT_PDPT 0xa000ULL
#define BOOT_PD	  0xb000ULL /* 4 pages: identity map of 4 GiB */

/* GDT selectors (the Linux boot protocol wants __BOOT_CS 0x10, __BOOT_DS 0x18). */
#define BOOT_SEL_CODE32 0x08
#define BOOT_SEL_CODE64 0x10
#define BOOT_SEL_DATA	0x18
#define BOOT_SEL_TSS	0x20

enum boot_mode {
	BOOT_LONG64, /* 64-bit mode, paging on; RSI = boot_params */
	BOOT_PVH32,  /* 32-bit protected mode, paging off; EBX = start_info */
};

struct boot_setup {
	enum boot_mode mode;
	uint64_t entry;	     /* guest-physical entry point */
	uint64_t arg;	     /* RSI or EBX, as @mode says */
	uint64_t kernel_end; /* first byte above the loaded kernel image */
};

#endif
