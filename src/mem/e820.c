// SPDX-License-Identifier: MIT
#include <errno.h>

#include "hearth/mem.h"

static int add(struct e820_entry *out, size_t max, size_t *n, uint64_t addr, uint64_t size,
	       uint32_t type)
{
	if (*n >= max)
		return -ENOSPC;
	out[(*n)++] = (struct e820_entry){ addr, size, type };
	return 0;
}

int e820_build(const struct guest_mem *gm, struct e820_entry *out, size_t max)
{
	uint64_t low = gm_low_size(gm), high = gm_high_size(gm);
	size_t n = 0;
	int ret;

	if (low < (2ull << 20))
		return -EINVAL;
	ret = add(out, max, &n, 0, E820_EBDA_START, E820_RAM);
	if (!ret)
		ret = add(out, max, &n, E820_EBDA_START, 0xa0000 - E820_EBDA_START, E820_RESERVED);
	if (!ret)
		ret = add(out, max, &n, E820_BIOS_START, 0x100000 - E820_BIOS_START, E820_RESERVED);
	if (!ret)
		ret = add(out, max, &n, 0x100000, low - 0x100000, E820_RAM);
	if (!ret && high)
		ret = add(out, max, &n, gm->r[1].gpa, high, E820_RAM);
	return ret ? ret : (int)n;
}
