// SPDX-License-Identifier: MIT
/*
 * Partition tables of a disk image, read as untrusted input: every field is
 * read once into a local, every offset and length computed with overflow
 * checks and compared with the disk's size before anything is read there.
 * GPT per UEFI 2.10 section 5.3 (512-byte logical blocks: the size of
 * every raw image file), MBR primary entries per the PC convention.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/image.h"

#define GPT_HEADER_MIN	92
#define GPT_MAX_ENTRIES 4096
#define GPT_MAX_ENTRY	4096
#define GPT_MAX_ARRAY	(1u << 20)
#define MBR_TYPE_GPT	0xee
#define MBR_SIG_OFF	510

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

uint32_t part_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A read of the disk, its failure named in @err. */
static int read_disk(part_read_fn rd, void *ctx, uint64_t off, void *buf, size_t len, char *err,
		     size_t errlen)
{
	int ret = rd(ctx, off, buf, len);

	if (ret)
		snprintf(err, errlen, "cannot read sector %llu: %s",
			 (unsigned long long)(off / PART_SECTOR), strerror(-ret));
	return ret;
}

/* [first, last] in sectors, inclusive, to bytes inside a disk of @sectors. */
static bool extent(uint64_t first, uint64_t last, uint64_t sectors, struct part *p)
{
	if (first == 0 || first > last || last >= sectors)
		return false;
	p->offset = first * PART_SECTOR; /* < sectors * 512 <= disk size: no overflow */
	p->size = (last - first + 1) * PART_SECTOR;
	return true;
}

static int scan_gpt(part_read_fn rd, void *ctx, uint64_t sectors, struct part *out, unsigned max,
		    char *err, size_t errlen)
{
	uint8_t h[PART_SECTOR];
	uint8_t *array;
	uint32_t hsize, hcrc, n, esize, acrc;
	uint64_t my_lba, first_usable, last_usable, entries_lba, bytes;
	unsigned found = 0;
	int ret;

	if (sectors < 3)
		return bad(err, errlen, "the disk is too small for the GPT its MBR announces");
	ret = read_disk(rd, ctx, PART_SECTOR, h, sizeof(h), err, errlen);
	if (ret)
		return ret;
	if (memcmp(h, "EFI PART", 8))
		return bad(err, errlen, "corrupt GPT: no header signature at sector 1");
	hsize = le32(h + 12);
	hcrc = le32(h + 16);
	if (hsize < GPT_HEADER_MIN || hsize > sizeof(h))
		return bad(err, errlen, "corrupt GPT: header size %u", hsize);
	memset(h + 16, 0, 4);
	if (part_crc32(0, h, hsize) != hcrc)
		return bad(err, errlen, "corrupt GPT: header CRC mismatch");
	my_lba = le64(h + 24);
	first_usable = le64(h + 40);
	last_usable = le64(h + 48);
	entries_lba = le64(h + 72);
	n = le32(h + 80);
	esize = le32(h + 84);
	acrc = le32(h + 88);
	if (my_lba != 1)
		return bad(err, errlen, "corrupt GPT: header says it is at sector %llu",
			   (unsigned long long)my_lba);
	if (first_usable > last_usable || last_usable >= sectors)
		return bad(err, errlen, "corrupt GPT: usable sectors %llu-%llu outside the disk",
			   (unsigned long long)first_usable, (unsigned long long)last_usable);
	if (esize < 128 || esize > GPT_MAX_ENTRY || esize % 8)
		return bad(err, errlen, "corrupt GPT: entry size %u", esize);
	if (n == 0 || n > GPT_MAX_ENTRIES)
		return bad(err, errlen, "corrupt GPT: %u entries", n);
	bytes = (uint64_t)n * esize; /* <= 4096 * 4096 */
	if (bytes > GPT_MAX_ARRAY)
		return bad(err, errlen, "corrupt GPT: an entry array of %llu bytes",
			   (unsigned long long)bytes);
	if (entries_lba < 2 || entries_lba >= sectors ||
	    (bytes + PART_SECTOR - 1) / PART_SECTOR > sectors - entries_lba)
		return bad(err, errlen, "corrupt GPT: entry array outside the disk");
	array = malloc(bytes);
	if (!array)
		return -ENOMEM;
	ret = read_disk(rd, ctx, entries_lba * PART_SECTOR, array, bytes, err, errlen);
	if (!ret && part_crc32(0, array, bytes) != acrc)
		ret = bad(err, errlen, "corrupt GPT: entry array CRC mismatch");
	for (uint32_t i = 0; !ret && i < n; i++) {
		const uint8_t *e = array + (size_t)i * esize;
		static const uint8_t unused[16];
		struct part p = { .index = i + 1 };

		if (!memcmp(e, unused, sizeof(unused)))
			continue;
		if (!extent(le64(e + 32), le64(e + 40), sectors, &p))
			ret = bad(err, errlen,
				  "corrupt GPT: partition %u (sectors %llu-%llu) "
				  "is outside the disk",
				  i + 1, (unsigned long long)le64(e + 32),
				  (unsigned long long)le64(e + 40));
		else if (found < max)
			out[found++] = p;
	}
	free(array);
	return ret ? ret : (int)found;
}

int part_scan(part_read_fn rd, void *ctx, uint64_t disk_size, struct part *out, unsigned max,
	      char *err, size_t errlen)
{
	uint8_t mbr[PART_SECTOR];
	uint64_t sectors = disk_size / PART_SECTOR;
	unsigned found = 0;
	int ret;

	if (sectors == 0)
		return 0;
	ret = read_disk(rd, ctx, 0, mbr, sizeof(mbr), err, errlen);
	if (ret)
		return ret;
	if (mbr[MBR_SIG_OFF] != 0x55 || mbr[MBR_SIG_OFF + 1] != 0xaa)
		return 0;
	for (unsigned i = 0; i < 4; i++)
		if (mbr[446 + 16 * i + 4] == MBR_TYPE_GPT)
			return scan_gpt(rd, ctx, sectors, out, max, err, errlen);
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *e = mbr + 446 + 16 * i;
		uint8_t type = e[4];
		uint32_t start = le32(e + 8), count = le32(e + 12);
		struct part p = { .index = i + 1 };

		if (type == 0 || type == 0x05 || type == 0x0f || type == 0x85)
			continue; /* unused, or extended: logical partitions are not followed */
		if (count == 0 || !extent(start, (uint64_t)start + count - 1, sectors, &p))
			return bad(err, errlen,
				   "corrupt MBR: partition %u (sector %u, %u sectors) "
				   "is outside the disk",
				   i + 1, start, count);
		if (found < max)
			out[found++] = p;
	}
	return (int)found;
}
