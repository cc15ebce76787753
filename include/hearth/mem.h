/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: one anonymous mapping (MAP_NORESERVE: untouched memory costs
 * nothing; transparent huge pages where allowed), or a hugetlb memfd with
 * --hugepages, split into at most two guest-physical regions around the 32-bit
 * MMIO hole. Every guest-physical access goes through gm_ptr().
 */
#ifndef HEARTH_MEM_H
#define HEARTH_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 2

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct gm_region r[GM_MAX_REGIONS];
	unsigned nr;
	uint8_t *base; /* the whole mapping */
	uint64_t size; /* RAM bytes in all regions */
	int fd;	       /* hugetlb memfd, -1 when none */
};

/*
 * Splits @size bytes of RAM into guest-physical regions: up to the MMIO hole
 * below 4 GiB, the rest from 4 GiB. Pure; for tests and for gm_create().
 * Returns the number of regions (1 or 2), or -EINVAL for a zero size or one
 * that does not fit the 64-bit space.
 */
int gm_layout(uint64_t size, struct gm_region out[GM_MAX_REGIONS]);

/*
 * Maps @size bytes of guest RAM (a multiple of 4 KiB; of 2 MiB with
 * @hugepages). Returns 0, -EINVAL, or -errno from memfd_create/ftruncate/mmap.
 */
int gm_create(struct guest_mem *gm, uint64_t size, bool hugepages);

/*
 * Guest RAM of @size bytes from a snapshot's memory file @fd (its regions
 * one after another, as gm_layout() splits @size), mapped privately: pages
 * come in from the file when first touched, and the guest's writes never
 * reach it. @fd may be closed afterwards. Returns as gm_create().
 */
int gm_create_from_file(struct guest_mem *gm, uint64_t size, int fd);
/* Unmaps and closes; safe on a zeroed or already destroyed guest_mem. */
void gm_destroy(struct guest_mem *gm);

/*
 * Host pointer for [gpa, gpa + len) when the whole range lies in one RAM
 * region; NULL on overflow, len 0, or any byte outside RAM.
 */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/*
 * Copies @len bytes of guest memory at @src to @dst, reading each byte
 * exactly once (volatile loads). The guest may change its memory at any
 * moment; after a plain memcpy the compiler may still read the guest's
 * copy again in place of ours (C lets it: nothing says the memory is
 * shared), so a value could be checked and then used with a different
 * value. Descriptors and request headers are read through this: checked
 * and used as one snapshot.
 */
static inline void gm_read_once(void *dst, const void *src, size_t len)
{
	const volatile uint8_t *s = (const volatile uint8_t *)src;
	uint8_t *d = (uint8_t *)dst;

	for (size_t i = 0; i < len; i++)
		d[i] = s[i];
}

/* RAM below 4 GiB and above it, for the e820 map and the CMOS registers. */
uint64_t gm_low_size(const struct guest_mem *gm);
uint64_t gm_high_size(const struct guest_mem *gm);

/* ---- e820 memory map ---- */
enum { E820_RAM = 1, E820_RESERVED = 2 };

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* Where the MP table lives: the last KiB of base memory, reserved in e820. */
#define E820_EBDA_START 0x9fc00ULL
#define E820_BIOS_START 0xe0000ULL /* reserved: ACPI and MP tables, up to 1 MiB */

/*
 * Builds the map for @gm: RAM below the EBDA, the EBDA and BIOS area
 * reserved, RAM from 1 MiB to the hole, RAM above 4 GiB.
 * Returns the number of entries written, or -ENOSPC if @max is too small,
 * -EINVAL if the RAM is smaller than 2 MiB.
 */
int e820_build(const struct guest_mem *gm, struct e820_entry *out, size_t max);

#endif
