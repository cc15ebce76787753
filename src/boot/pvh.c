// SPDX-License-Identifier: MIT
/*
 * PVH boot of an ELF kernel (Xen's hvm_start_info ABI, version 1, as used by
 * Linux's CONFIG_PVH and by QEMU/Firecracker for uncompressed kernels).
 * The entry point comes from the XEN_ELFNOTE_PHYS32_ENTRY note; the vCPU
 * starts in 32-bit protected mode, paging off, EBX = start_info.
 * Every ELF field is untrusted: offsets and sizes are checked against the
 * file, addresses against guest RAM.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/boot.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC		 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

/* The program header table, normalised from ELF32 or ELF64. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static bool in_file(const struct boot_input *in, uint64_t off, uint64_t len)
{
	return off <= in->kernel_len && len <= in->kernel_len - off;
}

static int get_phdr(const struct boot_input *in, bool is64, unsigned i, struct phdr *ph)
{
	const uint8_t *k = in->kernel;

	if (is64) {
		const Elf64_Ehdr *eh = (const void *)k;
		Elf64_Phdr p;
		uint64_t off;

		if (__builtin_add_overflow(eh->e_phoff, (uint64_t)i * eh->e_phentsize, &off) ||
		    eh->e_phentsize < sizeof(p) || !in_file(in, off, sizeof(p)))
			return -EINVAL;
		memcpy(&p, k + off, sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz };
	} else {
		const Elf32_Ehdr *eh = (const void *)k;
		Elf32_Phdr p;
		uint64_t off;

		if (__builtin_add_overflow(eh->e_phoff, (uint64_t)i * eh->e_phentsize, &off) ||
		    eh->e_phentsize < sizeof(p) || !in_file(in, off, sizeof(p)))
			return -EINVAL;
		memcpy(&p, k + off, sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz };
	}
	return 0;
}

static uint64_t align4(uint64_t v)
{
	return (v + 3) & ~3ULL;
}

/* Scans one PT_NOTE segment for the PVH entry; 1 found, 0 not, -EINVAL bad. */
static int scan_notes(const struct boot_input *in, const struct phdr *ph, uint64_t *entry)
{
	uint64_t pos = ph->offset, end;

	if (!in_file(in, ph->offset, ph->filesz))
		return -EINVAL;
	end = ph->offset + ph->filesz;
	while (end - pos >= sizeof(Elf32_Nhdr)) {
		Elf32_Nhdr nh;
		uint64_t name, desc;

		memcpy(&nh, in->kernel + pos, sizeof(nh));
		name = pos + sizeof(nh);
		desc = name + align4(nh.n_namesz);
		if (desc > end || align4(nh.n_descsz) > end - desc)
			return -EINVAL;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    !memcmp(in->kernel + name, "Xen", 4) &&
		    (nh.n_descsz == 4 || nh.n_descsz == 8)) {
			uint64_t v = 0;

			memcpy(&v, in->kernel + desc, nh.n_descsz);
			*entry = v;
			return 1;
		}
		pos = desc + align4(nh.n_descsz);
	}
	return 0;
}

static int load_segment(struct guest_mem *gm, const struct boot_input *in, const struct phdr *ph,
			uint64_t *end, char *err, size_t errlen)
{
	uint8_t *dst;
	uint64_t seg_end;

	if (ph->filesz > ph->memsz || !in_file(in, ph->offset, ph->filesz)) {
		snprintf(err, errlen, "ELF segment runs past the end of the file");
		return -EINVAL;
	}
	if (ph->memsz == 0)
		return 0;
	if (ph->paddr < BOOT_KERNEL_MIN) {
		snprintf(err, errlen, "ELF segment at 0x%llx: hearth loads nothing below 1 MiB",
			 (unsigned long long)ph->paddr);
		return -EINVAL;
	}
	dst = gm_ptr(gm, ph->paddr, ph->memsz);
	if (!dst) {
		snprintf(err, errlen, "ELF segment [0x%llx, +0x%llx) is outside guest memory",
			 (unsigned long long)ph->paddr, (unsigned long long)ph->memsz);
		return -E2BIG;
	}
	memcpy(dst, in->kernel + ph->offset, ph->filesz);
	memset(dst + ph->filesz, 0, ph->memsz - ph->filesz);
	seg_end = ph->paddr + ph->memsz;
	if (seg_end > *end)
		*end = seg_end;
	return 0;
}

static int check_ehdr(const struct boot_input *in, bool *is64, unsigned *phnum, char *err,
		      size_t errlen)
{
	const uint8_t *k = in->kernel;

	if (in->kernel_len < sizeof(Elf64_Ehdr) ||
	    (k[EI_CLASS] != ELFCLASS64 && k[EI_CLASS] != ELFCLASS32) || k[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen, "ELF kernel is truncated or not little-endian x86");
		return -ENOEXEC;
	}
	*is64 = k[EI_CLASS] == ELFCLASS64;
	if (*is64) {
		const Elf64_Ehdr *eh = (const void *)k;

		*phnum = eh->e_phnum;
		if (eh->e_machine != EM_X86_64)
			goto not_x86;
	} else {
		const Elf32_Ehdr *eh = (const void *)k;

		*phnum = eh->e_phnum;
		if (eh->e_machine != EM_386)
			goto not_x86;
	}
	return 0;
not_x86:
	snprintf(err, errlen, "ELF kernel is not for x86");
	return -ENOEXEC;
}

static int load_elf(struct guest_mem *gm, const struct boot_input *in, uint64_t *entry,
		    uint64_t *end, char *err, size_t errlen)
{
	bool is64, found = false;
	unsigned phnum;
	int ret = check_ehdr(in, &is64, &phnum, err, errlen);

	for (unsigned i = 0; !ret && i < phnum; i++) {
		struct phdr ph;

		ret = get_phdr(in, is64, i, &ph);
		if (ret) {
			snprintf(err, errlen, "ELF program header %u is outside the file", i);
		} else if (ph.type == PT_LOAD) {
			ret = load_segment(gm, in, &ph, end, err, errlen);
		} else if (ph.type == PT_NOTE && !found) {
			ret = scan_notes(in, &ph, entry);
			found = ret == 1;
			if (ret < 0)
				snprintf(err, errlen, "ELF note segment %u is corrupt", i);
			else
				ret = 0;
		}
	}
	if (!ret && !found) {
		snprintf(err, errlen,
			 "ELF kernel has no PVH entry note "
			 "(XEN_ELFNOTE_PHYS32_ENTRY): build it with CONFIG_PVH");
		ret = -ENOEXEC;
	}
	return ret;
}

static int put_start_info(struct guest_mem *gm, const struct boot_input *in, uint64_t kernel_end,
			  char *err, size_t errlen)
{
	struct hvm_start_info *si = gm_ptr(gm, BOOT_PARAMS, sizeof(*si));
	size_t mm_bytes = in->e820_n * sizeof(struct hvm_memmap_entry);
	struct hvm_memmap_entry *mm = gm_ptr(gm, BOOT_PVH_MEMMAP, mm_bytes);
	size_t cl = strlen(in->cmdline) + 1;
	char *cmd = gm_ptr(gm, BOOT_CMDLINE, cl);

	if (!si || !mm || BOOT_PVH_MEMMAP + mm_bytes > BOOT_PVH_MODLIST)
		return -EFAULT;
	if (!cmd || cl > BOOT_CMDLINE_MAX) {
		snprintf(err, errlen, "kernel command line is %zu bytes; at most %llu", cl - 1,
			 BOOT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	memcpy(cmd, in->cmdline, cl);
	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = BOOT_CMDLINE;
	si->memmap_paddr = BOOT_PVH_MEMMAP;
	si->rsdp_paddr = HEARTH_ACPI_RSDP;
	si->memmap_entries = (uint32_t)in->e820_n;
	for (size_t i = 0; i < in->e820_n; i++)
		mm[i] = (struct hvm_memmap_entry){ in->e820[i].addr, in->e820[i].size,
						   in->e820[i].type, 0 };
	if (in->initrd) {
		struct hvm_modlist_entry *mod = gm_ptr(gm, BOOT_PVH_MODLIST, sizeof(*mod));
		uint64_t addr =
			boot_place_initrd(gm, kernel_end, BOOT_PVH_INITRD_MAX, in->initrd_len);

		if (!addr || !mod) {
			snprintf(err, errlen,
				 "initrd of %zu bytes does not fit above the "
				 "kernel in guest memory",
				 in->initrd_len);
			return -E2BIG;
		}
		memcpy(gm_ptr(gm, addr, in->initrd_len), in->initrd, in->initrd_len);
		*mod = (struct hvm_modlist_entry){ addr, in->initrd_len, 0, 0 };
		si->nr_modules = 1;
		si->modlist_paddr = BOOT_PVH_MODLIST;
	}
	return 0;
}

int pvh_load(struct guest_mem *gm, const struct boot_input *in, struct boot_setup *out, char *err,
	     size_t errlen)
{
	uint64_t entry = 0, end = BOOT_KERNEL_MIN;
	int ret = load_elf(gm, in, &entry, &end, err, errlen);

	if (!ret)
		ret = put_start_info(gm, in, end, err, errlen);
	if (ret)
		return ret;
	if (entry > 0xffffffffULL || !gm_ptr(gm, entry, 1)) {
		snprintf(err, errlen, "PVH entry point 0x%llx is not in 32-bit guest RAM",
			 (unsigned long long)entry);
		return -EINVAL;
	}
	ret = boot_write_x86_tables(gm); /* the GDT the 32-bit entry runs on */
	if (ret)
		return ret;
	out->mode = BOOT_PVH32;
	out->entry = entry;
	out->arg = BOOT_PARAMS;
	out->kernel_end = end;
	return 0;
}
