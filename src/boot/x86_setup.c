// SPDX-License-Identifier: MIT
/* Format detection, initrd placement, and the GDT/page tables for 64-bit entry. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hearth/boot.h"

int boot_load(struct guest_mem *gm, const struct boot_input *in, struct boot_setup *out, char *err,
	      size_t errlen)
{
	if (in->kernel_len >= 4 && !memcmp(in->kernel,
					   "\x7f"
					   "ELF",
					   4))
		return pvh_load(gm, in, out, err, errlen);
	if (in->kernel_len >= 0x206 && !memcmp(in->kernel + 0x202, "HdrS", 4))
		return bzimage_load(gm, in, out, err, errlen);
	snprintf(err, errlen,
		 "not a kernel: expected a Linux bzImage (\"HdrS\" boot header) "
		 "or an ELF kernel with a PVH entry note");
	return -ENOEXEC;
}

uint64_t boot_place_initrd(const struct guest_mem *gm, uint64_t floor, uint64_t limit, size_t len)
{
	uint64_t top = gm_low_size(gm), addr;

	if (limit < top)
		top = limit;
	if (len == 0 || len > top)
		return 0;
	addr = (top - len) & ~0xfffULL;
	if (addr < floor || !gm_ptr(gm, addr, len))
		return 0;
	return addr;
}

static const uint64_t gdt[] = {
	0,
	0x00cf9b000000ffffULL, /* 0x08: 32-bit code, flat */
	0x00af9b000000ffffULL, /* 0x10: 64-bit code */
	0x00cf93000000ffffULL, /* 0x18: data, flat */
	0x00008b0000000067ULL, /* 0x20: 64-bit TSS, base 0 (upper half below) */
	0,
};

int boot_write_x86_tables(struct guest_mem *gm)
{
	uint64_t *pml4 = gm_ptr(gm, BOOT_PML4, 4096);
	uint64_t *pdpt = gm_ptr(gm, BOOT_PDPT, 4096);
	uint64_t *pd = gm_ptr(gm, BOOT_PD, 4 * 4096);
	void *g = gm_ptr(gm, BOOT_GDT, sizeof(gdt));

	if (!pml4 || !pdpt || !pd || !g)
		return -EFAULT;
	memcpy(g, gdt, sizeof(gdt));
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT | 0x3;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD + i * 4096) | 0x3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
	return 0;
}
