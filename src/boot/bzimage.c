// SPDX-License-Identifier: MIT
/*
 * Linux x86 boot protocol (Documentation/x86/boot.rst), 64-bit entry:
 * the protected-mode image goes to 1 MiB, boot_params to BOOT_PARAMS, and the
 * vCPU starts at load address + 0x200 in long mode with RSI = boot_params.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/boot.h"
#include "hearth/bytes.h"

/* Offsets into the file / boot_params. */
enum {
	HDR_START = 0x1f1,
	OFF_SETUP_SECTS = 0x1f1,
	OFF_JUMP = 0x200,
	OFF_VERSION = 0x206,
	OFF_TYPE_OF_LOADER = 0x210,
	OFF_LOADFLAGS = 0x211,
	OFF_RAMDISK_IMAGE = 0x218,
	OFF_RAMDISK_SIZE = 0x21c,
	OFF_CMD_LINE_PTR = 0x228,
	OFF_INITRD_ADDR_MAX = 0x22c,
	OFF_XLOADFLAGS = 0x236,
	OFF_CMDLINE_SIZE = 0x238,
	OFF_INIT_SIZE = 0x260,
	HDR_END_212 = 0x264, /* end of init_size, the last field read here */
	OFF_ACPI_RSDP_ADDR = 0x070,
	OFF_E820_ENTRIES = 0x1e8,
	OFF_E820_TABLE = 0x2d0,
	E820_MAX_ZEROPAGE = 128,
	LOADED_HIGH = 0x01,
	XLF_KERNEL_64 = 0x01,
	BOOT_PROTO_MIN = 0x020c,
};

struct bz {
	size_t setup_size;  /* bytes of real-mode setup in the file */
	size_t hdr_end;	    /* end of the setup header in the file */
	uint32_t init_size; /* memory the kernel needs from its load address */
	uint32_t initrd_max;
	uint32_t cmdline_size;
};

static int parse_header(const struct boot_input *in, struct bz *bz, char *err, size_t errlen)
{
	const uint8_t *k = in->kernel;
	unsigned sects;
	uint16_t version;

	if (in->kernel_len < 0x268) {
		snprintf(err, errlen, "bzImage truncated: %zu bytes", in->kernel_len);
		return -EINVAL;
	}
	sects = k[OFF_SETUP_SECTS] ? k[OFF_SETUP_SECTS] : 4;
	version = ld16(k + OFF_VERSION);
	if (version < BOOT_PROTO_MIN || !(k[OFF_XLOADFLAGS] & XLF_KERNEL_64)) {
		snprintf(err, errlen,
			 "bzImage boot protocol %u.%02u has no 64-bit entry "
			 "(need 2.12 with XLF_KERNEL_64)",
			 version >> 8, version & 0xff);
		return -ENOEXEC;
	}
	if (!(k[OFF_LOADFLAGS] & LOADED_HIGH)) {
		snprintf(err, errlen, "zImage (loaded low) is not supported: need a bzImage");
		return -ENOEXEC;
	}
	bz->setup_size = (sects + 1) * 512;
	bz->hdr_end = OFF_JUMP + 2 + k[OFF_JUMP + 1];
	if (bz->hdr_end < HDR_END_212) {
		/* the fields read below would come from bytes that are not header,
		 * and the zero page would tell the kernel other values */
		snprintf(err, errlen, "bzImage header ends at 0x%zx, before the 2.12 fields (0x%x)",
			 bz->hdr_end, HDR_END_212);
		return -EINVAL;
	}
	if (bz->setup_size >= in->kernel_len || bz->hdr_end > bz->setup_size) {
		snprintf(err, errlen, "bzImage truncated: %u setup sectors but %zu bytes", sects,
			 in->kernel_len);
		return -EINVAL;
	}
	bz->init_size = ld32(k + OFF_INIT_SIZE);
	bz->initrd_max = ld32(k + OFF_INITRD_ADDR_MAX);
	bz->cmdline_size = ld32(k + OFF_CMDLINE_SIZE);
	return 0;
}

static int load_image(struct guest_mem *gm, const struct boot_input *in, const struct bz *bz,
		      uint64_t *end, char *err, size_t errlen)
{
	size_t pm_len = in->kernel_len - bz->setup_size;
	uint64_t need = pm_len > bz->init_size ? pm_len : bz->init_size;
	uint8_t *dst = gm_ptr(gm, BOOT_KERNEL_MIN, need);

	if (!dst) {
		snprintf(err, errlen, "kernel needs %llu MiB above 1 MiB: guest memory too small",
			 (unsigned long long)(need >> 20) + 1);
		return -E2BIG;
	}
	memcpy(dst, in->kernel + bz->setup_size, pm_len);
	*end = BOOT_KERNEL_MIN + need;
	return 0;
}

static int put_cmdline(struct guest_mem *gm, const struct boot_input *in, uint32_t max, char *err,
		       size_t errlen)
{
	size_t len = strlen(in->cmdline) + 1;
	char *dst;

	if (max == 0 || max > BOOT_CMDLINE_MAX - 1)
		max = BOOT_CMDLINE_MAX - 1;
	if (len - 1 > max) {
		snprintf(err, errlen, "kernel command line is %zu bytes; this kernel takes %u",
			 len - 1, max);
		return -E2BIG;
	}
	dst = gm_ptr(gm, BOOT_CMDLINE, len);
	if (!dst)
		return -EFAULT;
	memcpy(dst, in->cmdline, len);
	return 0;
}

static int put_initrd(struct guest_mem *gm, const struct boot_input *in, uint8_t *bp,
		      uint64_t floor, uint32_t limit, char *err, size_t errlen)
{
	uint64_t addr;

	if (!in->initrd)
		return 0;
	addr = boot_place_initrd(gm, floor, limit ? (uint64_t)limit + 1 : 0x38000000,
				 in->initrd_len);
	if (!addr) {
		snprintf(err, errlen,
			 "initrd of %zu bytes does not fit between the kernel and "
			 "its initrd_addr_max 0x%x: give the guest more memory",
			 in->initrd_len, limit);
		return -E2BIG;
	}
	memcpy(gm_ptr(gm, addr, in->initrd_len), in->initrd, in->initrd_len);
	st32(bp + OFF_RAMDISK_IMAGE, (uint32_t)addr);
	st32(bp + OFF_RAMDISK_SIZE, (uint32_t)in->initrd_len);
	return 0;
}

static int put_e820(uint8_t *bp, const struct boot_input *in)
{
	if (in->e820_n > E820_MAX_ZEROPAGE)
		return -E2BIG;
	bp[OFF_E820_ENTRIES] = (uint8_t)in->e820_n;
	memcpy(bp + OFF_E820_TABLE, in->e820, in->e820_n * sizeof(in->e820[0]));
	return 0;
}

int bzimage_load(struct guest_mem *gm, const struct boot_input *in, struct boot_setup *out,
		 char *err, size_t errlen)
{
	uint8_t *bp = gm_ptr(gm, BOOT_PARAMS, 4096);
	struct bz bz;
	uint64_t end;
	int ret;

	if (!bp)
		return -EFAULT;
	ret = parse_header(in, &bz, err, errlen);
	if (!ret)
		ret = load_image(gm, in, &bz, &end, err, errlen);
	if (!ret)
		ret = put_cmdline(gm, in, bz.cmdline_size, err, errlen);
	if (ret)
		return ret;
	memset(bp, 0, 4096);
	memcpy(bp + HDR_START, in->kernel + HDR_START, bz.hdr_end - HDR_START);
	bp[OFF_TYPE_OF_LOADER] = 0xff;
	st32(bp + OFF_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE);
	st32(bp + OFF_ACPI_RSDP_ADDR, (uint32_t)HEARTH_ACPI_RSDP); /* 64-bit field, high half 0 */
	ret = put_initrd(gm, in, bp, end, bz.initrd_max, err, errlen);
	if (!ret && put_e820(bp, in)) {
		snprintf(err, errlen, "memory map has too many entries");
		ret = -E2BIG;
	}
	if (ret)
		return ret;
	ret = boot_write_x86_tables(gm);
	if (ret)
		return ret;
	out->mode = BOOT_LONG64;
	out->entry = BOOT_KERNEL_MIN + 0x200;
	out->arg = BOOT_PARAMS;
	out->kernel_end = end;
	return 0;
}
