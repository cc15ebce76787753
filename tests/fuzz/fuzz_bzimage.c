// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the bzImage loader (src/boot/bzimage.c) against
 * arbitrary kernel files, command lines and initrds (fuzz_boot.h says how
 * the input is split). A load that succeeds must have put the kernel, the
 * zero page and the initrd where it says, inside RAM, the initrd above the
 * kernel and below the kernel's initrd_addr_max. ASan/UBSan catch the rest.
 */
#include "fuzz_boot.h"
#include "hearth/bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct fuzz_boot_result r;
	const uint8_t *bp;
	uint64_t limit;

	if (fuzz_boot_run(in, len, bzimage_load, &r))
		return 0;
	bp = gm_ptr(r.gm, BOOT_PARAMS, 4096);
	if (!bp || r.setup.mode != BOOT_LONG64 || ld32(bp + 0x228) != BOOT_CMDLINE ||
	    bp[0x210] != 0xff)
		abort();
	/* initrd_addr_max is the highest byte the initrd may use (0: 0x37ffffff) */
	limit = ld32(bp + 0x22c) ? (uint64_t)ld32(bp + 0x22c) + 1 : 0x38000000;
	if (r.initrd && ld32(bp + 0x21c) != r.initrd_len)
		abort();
	fuzz_boot_check(&r, ld32(bp + 0x218), limit);
	return 0;
}
