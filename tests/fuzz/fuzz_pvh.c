// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the ELF/PVH loader (src/boot/pvh.c) against arbitrary
 * kernel files (32- and 64-bit ELF, program headers, notes), command lines
 * and initrds (fuzz_boot.h says how the input is split). A load that
 * succeeds must have written a start_info whose command line, memory map
 * and module the guest can find in RAM, the initrd above the kernel and
 * below 4 GiB. ASan/UBSan catch the rest.
 */
#include "fuzz_boot.h"

struct start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct fuzz_boot_result r;
	const struct start_info *si;
	const uint64_t *mod;

	if (fuzz_boot_run(in, len, pvh_load, &r))
		return 0;
	si = gm_ptr(r.gm, BOOT_PARAMS, sizeof(*si));
	if (!si || r.setup.mode != BOOT_PVH32 || r.setup.entry > 0xffffffffULL ||
	    si->magic != 0x336ec578 || si->version != 1 || si->cmdline_paddr != BOOT_CMDLINE ||
	    si->nr_modules != (r.initrd ? 1u : 0u) ||
	    !gm_ptr(r.gm, si->memmap_paddr, 24ULL * si->memmap_entries))
		abort();
	mod = r.initrd ? gm_ptr(r.gm, si->modlist_paddr, 16) : NULL;
	if (r.initrd && (!mod || mod[1] != r.initrd_len))
		abort();
	fuzz_boot_check(&r, mod ? mod[0] : 0, BOOT_PVH_INITRD_MAX);
	return 0;
}
