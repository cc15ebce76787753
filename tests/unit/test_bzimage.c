// SPDX-License-Identifier: MIT
/* bzImage loading: a well-formed image, and corrupt or hostile headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "hearth/boot.h"
#include "hearth/bytes.h"

#define SETUP_SECTS 1
#define PM_LEN	    8192
#define IMG_LEN	    ((SETUP_SECTS + 1) * 512 + PM_LEN)

static uint8_t img[IMG_LEN];
static struct guest_mem gm;
static struct e820_entry e820[8];
static int ne;
static char err[256];

static void make_image(void)
{
	memset(img, 0, sizeof(img));
	img[0x1f1] = SETUP_SECTS;
	st16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x66; /* header ends at 0x268 */
	memcpy(img + 0x202, "HdrS", 4);
	st16(img + 0x206, 0x020f);
	img[0x211] = 0x01;	       /* LOADED_HIGH */
	st32(img + 0x22c, 0x37ffffff); /* initrd_addr_max */
	img[0x236] = 0x01;	       /* XLF_KERNEL_64 */
	st32(img + 0x238, 2048);       /* cmdline_size */
	st32(img + 0x260, 64 * 1024);  /* init_size */
	for (int i = 0; i < PM_LEN; i++)
		img[(SETUP_SECTS + 1) * 512 + i] = (uint8_t)(i * 7 + 1);
}

static int setup(void **state)
{
	(void)state;
	make_image();
	if (gm_create(&gm, 64ULL << 20, false))
		return -1;
	ne = e820_build(&gm, e820, 8);
	return ne > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gm_destroy(&gm);
	return 0;
}

static int load(const uint8_t *k, size_t len, const char *cmdline, const uint8_t *initrd,
		size_t initrd_len, struct boot_setup *out)
{
	struct boot_input in = { k, len, initrd, initrd_len, cmdline, e820, (size_t)ne };

	err[0] = '\0';
	return boot_load(&gm, &in, out, err, sizeof(err));
}

static void loads_well_formed(void **state)
{
	static uint8_t initrd[100000];
	struct boot_setup b;
	uint8_t *bp, *pm;
	uint64_t *pml4, *pd;
	uint32_t rd;

	(void)state;
	memset(initrd, 0x5a, sizeof(initrd));
	assert_int_equal(load(img, sizeof(img), "console=ttyS0", initrd, sizeof(initrd), &b), 0);
	assert_int_equal(b.mode, BOOT_LONG64);
	assert_int_equal(b.entry, 0x100200);
	assert_int_equal(b.arg, BOOT_PARAMS);
	pm = gm_ptr(&gm, 0x100000, PM_LEN);
	assert_memory_equal(pm, img + (SETUP_SECTS + 1) * 512, PM_LEN);
	bp = gm_ptr(&gm, BOOT_PARAMS, 4096);
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(bp[0x210], 0xff);
	assert_int_equal(ld32(bp + 0x228), BOOT_CMDLINE);
	assert_string_equal((char *)gm_ptr(&gm, BOOT_CMDLINE, 14), "console=ttyS0");
	assert_int_equal(bp[0x1e8], ne);
	assert_memory_equal(bp + 0x2d0, e820, (size_t)ne * sizeof(e820[0]));
	rd = ld32(bp + 0x218);
	assert_int_equal(ld32(bp + 0x21c), sizeof(initrd));
	assert_true(rd >= 0x100000 + 64 * 1024);
	assert_int_equal(rd % 4096, 0);
	assert_true(rd + sizeof(initrd) <= (64u << 20));
	assert_memory_equal(gm_ptr(&gm, rd, sizeof(initrd)), initrd, sizeof(initrd));
	pml4 = gm_ptr(&gm, BOOT_PML4, 8);
	pd = gm_ptr(&gm, BOOT_PD, 8 * 2048);
	assert_int_equal(pml4[0] & ~0xfffULL, BOOT_PDPT);
	assert_int_equal(pd[1], (1ULL << 21) | 0x83);
	assert_int_equal(pd[2047] >> 21, 2047);
}

static void rejects_bad_headers(void **state)
{
	struct boot_setup b;

	(void)state;
	assert_int_equal(load(img, 0x206, "", NULL, 0, &b), -EINVAL); /* HdrS, then nothing */
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(load(img, 0x267, "", NULL, 0, &b), -EINVAL);
	make_image();
	st16(img + 0x206, 0x0204);
	assert_int_equal(load(img, sizeof(img), "", NULL, 0, &b), -ENOEXEC);
	assert_non_null(strstr(err, "2.04"));
	make_image();
	img[0x236] = 0;
	assert_int_equal(load(img, sizeof(img), "", NULL, 0, &b), -ENOEXEC);
	make_image();
	img[0x211] = 0;
	assert_int_equal(load(img, sizeof(img), "", NULL, 0, &b), -ENOEXEC);
	make_image();
	img[0x1f1] = 200; /* setup claims more than the file has */
	assert_int_equal(load(img, sizeof(img), "", NULL, 0, &b), -EINVAL);
	assert_non_null(strstr(err, "truncated"));
	make_image();
	img[0x201] = 0x2b; /* the header ends at 0x22d, in initrd_addr_max */
	assert_int_equal(load(img, sizeof(img), "", NULL, 0, &b), -EINVAL);
	assert_non_null(strstr(err, "header ends at 0x22d"));
	make_image();
	st32(img + 0x260, 0xffffffff); /* wants 4 GiB */
	assert_int_equal(load(img, sizeof(img), "", NULL, 0, &b), -E2BIG);
	assert_non_null(strstr(err, "memory"));
	make_image();
}

static void rejects_what_does_not_fit(void **state)
{
	static char cmd[3000];
	static uint8_t big[70 << 20];
	struct boot_setup b;

	(void)state;
	memset(cmd, 'x', sizeof(cmd) - 1);
	assert_int_equal(load(img, sizeof(img), cmd, NULL, 0, &b), -E2BIG);
	assert_non_null(strstr(err, "command line"));
	assert_int_equal(load(img, sizeof(img), "", big, sizeof(big), &b), -E2BIG);
	assert_non_null(strstr(err, "initrd"));
	st32(img + 0x22c, 0x10ffff); /* initrd_addr_max below the kernel's end */
	assert_int_equal(load(img, sizeof(img), "", big, 4096, &b), -E2BIG);
	make_image();
}

static void rejects_non_kernels(void **state)
{
	static const uint8_t junk[4096] = { 1, 2, 3 };
	struct boot_setup b;

	(void)state;
	assert_int_equal(load(junk, sizeof(junk), "", NULL, 0, &b), -ENOEXEC);
	assert_non_null(strstr(err, "not a kernel"));
	assert_int_equal(load(junk, 3, "", NULL, 0, &b), -ENOEXEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loads_well_formed),
		cmocka_unit_test(rejects_bad_headers),
		cmocka_unit_test(rejects_what_does_not_fit),
		cmocka_unit_test(rejects_non_kernels),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
