// SPDX-License-Identifier: MIT
/* PVH loading of ELF kernels: good ELF64/ELF32 images and hostile ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "hearth/boot.h"

static struct guest_mem gm;
static struct e820_entry e820[8];
static int ne;
static char err[256];

/* An ELF64 image: header, two program headers, a note, a 256-byte payload. */
struct img64 {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	Elf32_Nhdr nh;
	char name[4];
	uint32_t desc;
	uint8_t payload[256];
} __attribute__((packed));

static struct img64 img;

static void make64(void)
{
	memset(&img, 0, sizeof(img));
	memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
	img.eh.e_ident[EI_CLASS] = ELFCLASS64;
	img.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img.eh.e_machine = EM_X86_64;
	img.eh.e_phoff = offsetof(struct img64, ph);
	img.eh.e_phentsize = sizeof(Elf64_Phdr);
	img.eh.e_phnum = 2;
	img.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
				  .p_offset = offsetof(struct img64, payload),
				  .p_paddr = 0x100000,
				  .p_filesz = 256,
				  .p_memsz = 8192 };
	img.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE,
				  .p_offset = offsetof(struct img64, nh),
				  .p_filesz = sizeof(Elf32_Nhdr) + 8 };
	img.nh = (Elf32_Nhdr){ .n_namesz = 4, .n_descsz = 4, .n_type = 18 };
	memcpy(img.name, "Xen", 4);
	img.desc = 0x100010;
	memset(img.payload, 0xab, sizeof(img.payload));
}

static int setup(void **state)
{
	(void)state;
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

static int load(const void *k, size_t len, const uint8_t *initrd, size_t initrd_len,
		struct boot_setup *b)
{
	struct boot_input in = { k, len, initrd, initrd_len, "probe tests=all", e820, (size_t)ne };

	err[0] = '\0';
	return boot_load(&gm, &in, b, err, sizeof(err));
}

static void loads_elf64(void **state)
{
	static uint8_t initrd[5000];
	struct boot_setup b;
	const uint32_t *si;
	const uint64_t *mm, *mod;
	uint8_t *seg;

	(void)state;
	make64();
	memset(gm_ptr(&gm, 0x100000, 8192), 0xee, 8192); /* bss must be cleared */
	memset(initrd, 0x77, sizeof(initrd));
	assert_int_equal(load(&img, sizeof(img), initrd, sizeof(initrd), &b), 0);
	assert_int_equal(b.mode, BOOT_PVH32);
	assert_int_equal(b.entry, 0x100010);
	assert_int_equal(b.arg, BOOT_PARAMS);
	seg = gm_ptr(&gm, 0x100000, 8192);
	assert_int_equal(seg[0], 0xab);
	assert_int_equal(seg[255], 0xab);
	assert_int_equal(seg[256], 0);
	assert_int_equal(seg[8191], 0);
	si = gm_ptr(&gm, BOOT_PARAMS, 56);
	assert_int_equal(si[0], 0x336ec578);
	assert_int_equal(si[1], 1);
	assert_int_equal(si[3], 1); /* one module */
	assert_int_equal(*(const uint64_t *)(si + 6), BOOT_CMDLINE);
	assert_string_equal((char *)gm_ptr(&gm, BOOT_CMDLINE, 16), "probe tests=all");
	assert_int_equal(*(const uint64_t *)(si + 10), BOOT_PVH_MEMMAP);
	assert_int_equal(si[12], ne);
	mm = gm_ptr(&gm, BOOT_PVH_MEMMAP, 24 * (size_t)ne);
	for (int i = 0; i < ne; i++) {
		assert_int_equal(mm[3 * i], e820[i].addr);
		assert_int_equal(mm[3 * i + 1], e820[i].size);
		assert_int_equal((uint32_t)mm[3 * i + 2], e820[i].type);
	}
	mod = gm_ptr(&gm, *(const uint64_t *)(si + 4), 32);
	assert_int_equal(mod[1], sizeof(initrd));
	assert_true(mod[0] >= 0x100000 + 8192);
	assert_memory_equal(gm_ptr(&gm, mod[0], sizeof(initrd)), initrd, sizeof(initrd));
}

static void loads_elf32(void **state)
{
	struct {
		Elf32_Ehdr eh;
		Elf32_Phdr ph[2];
		Elf32_Nhdr nh;
		char name[4];
		uint32_t desc;
		uint8_t payload[16];
	} __attribute__((packed)) i32 = { 0 };
	struct boot_setup b;

	(void)state;
	memcpy(i32.eh.e_ident, ELFMAG, SELFMAG);
	i32.eh.e_ident[EI_CLASS] = ELFCLASS32;
	i32.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	i32.eh.e_machine = EM_386;
	i32.eh.e_phoff = offsetof(__typeof__(i32), ph);
	i32.eh.e_phentsize = sizeof(Elf32_Phdr);
	i32.eh.e_phnum = 2;
	i32.ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD,
				  .p_offset = offsetof(__typeof__(i32), payload),
				  .p_paddr = 0x200000,
				  .p_filesz = 16,
				  .p_memsz = 16 };
	i32.ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE,
				  .p_offset = offsetof(__typeof__(i32), nh),
				  .p_filesz = sizeof(Elf32_Nhdr) + 8 };
	i32.nh = (Elf32_Nhdr){ 4, 4, 18 };
	memcpy(i32.name, "Xen", 4);
	i32.desc = 0x200000;
	assert_int_equal(load(&i32, sizeof(i32), NULL, 0, &b), 0);
	assert_int_equal(b.entry, 0x200000);
}

#define EXPECT(ret, needle)                                                   \
	do {                                                                  \
		struct boot_setup b_;                                         \
		assert_int_equal(load(&img, sizeof(img), NULL, 0, &b_), ret); \
		if (!strstr(err, needle))                                     \
			fail_msg("'%s' lacks '%s'", err, needle);             \
		make64();                                                     \
	} while (0)

static void rejects_hostile(void **state)
{
	(void)state;
	make64();
	img.eh.e_phoff = sizeof(img) - 10;
	EXPECT(-EINVAL, "program header");
	img.eh.e_phoff = UINT64_MAX - 8; /* wraps */
	EXPECT(-EINVAL, "program header");
	img.eh.e_phentsize = 8;
	EXPECT(-EINVAL, "program header");
	img.ph[0].p_offset = UINT64_MAX - 100;
	EXPECT(-EINVAL, "past the end");
	img.ph[0].p_filesz = 10000;
	EXPECT(-EINVAL, "past the end");
	img.ph[0].p_filesz = 300; /* filesz > memsz? no: > file */
	img.ph[0].p_memsz = 200;
	EXPECT(-EINVAL, "past the end");
	img.ph[0].p_paddr = 0x7000; /* over hearth's boot structures */
	EXPECT(-EINVAL, "below 1 MiB");
	img.ph[0].p_paddr = 63ULL << 20; /* runs past RAM */
	img.ph[0].p_memsz = 2ULL << 20;
	EXPECT(-E2BIG, "outside guest memory");
	img.ph[0].p_paddr = UINT64_MAX - 4096;
	EXPECT(-E2BIG, "outside guest memory");
	img.nh.n_namesz = 0xfffffff0; /* note name runs past the segment */
	EXPECT(-EINVAL, "note");
	img.nh.n_descsz = 0xffffffff;
	EXPECT(-EINVAL, "note");
	img.nh.n_type = 17;
	EXPECT(-ENOEXEC, "PVH entry note");
	img.eh.e_phnum = 1;
	EXPECT(-ENOEXEC, "PVH entry note");
	img.desc = 0x7fffffff; /* entry outside RAM */
	EXPECT(-EINVAL, "entry point");
	img.eh.e_machine = EM_ARM;
	EXPECT(-ENOEXEC, "not for x86");
	img.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	EXPECT(-ENOEXEC, "little-endian");
}

static void rejects_truncated(void **state)
{
	struct boot_setup b;

	(void)state;
	make64();
	assert_int_equal(load(&img, 20, NULL, 0, &b), -ENOEXEC);
	assert_int_equal(load(&img, sizeof(Elf64_Ehdr) + 10, NULL, 0, &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loads_elf64),
		cmocka_unit_test(loads_elf32),
		cmocka_unit_test(rejects_hostile),
		cmocka_unit_test(rejects_truncated),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
