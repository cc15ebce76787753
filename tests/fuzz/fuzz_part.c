// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the partition table parser (src/boot/part.c) against
 * arbitrary disks. The input's first 4 bytes are the disk's size in
 * sectors (little-endian), the rest its first bytes; the disk reads as
 * zeros after them, as a sparse image does. The parser must never read
 * outside the disk, and every partition it returns must lie inside it,
 * sector-aligned, after sector 0. ASan/UBSan catch the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/image.h"

struct disk {
	const uint8_t *data;
	size_t len;
	uint64_t size;
};

static int disk_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct disk *d = ctx;

	if (off > d->size || len > d->size - off)
		abort(); /* the parser read outside the disk */
	memset(buf, 0, len);
	if (off < d->len)
		memcpy(buf, d->data + off, len < d->len - off ? len : d->len - off);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct part p[PART_MAX];
	struct disk d;
	char err[256];
	int n;

	if (len < 4)
		return 0;
	d.size = (uint64_t)(in[0] | in[1] << 8 | in[2] << 16 | (uint32_t)in[3] << 24) * PART_SECTOR;
	d.data = in + 4;
	d.len = len - 4;
	n = part_scan(disk_read, &d, d.size, p, PART_MAX, err, sizeof(err));
	if (n < 0 && !memchr(err, '\0', sizeof(err)))
		abort();
	for (int i = 0; i < n; i++)
		if (p[i].index == 0 || p[i].offset < PART_SECTOR || p[i].offset % PART_SECTOR ||
		    p[i].size == 0 || p[i].size % PART_SECTOR || p[i].offset > d.size ||
		    p[i].size > d.size - p[i].offset)
			abort();
	return 0;
}
