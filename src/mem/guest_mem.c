// SPDX-License-Identifier: MIT
#include "hearth/mem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hearth/abi.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

int gm_layout(uint64_t size, struct gm_region out[GM_MAX_REGIONS])
{
	uint64_t end;

	if (size == 0 || __builtin_add_overflow(size, HEARTH_MMIO_HOLE_END, &end))
		return -EINVAL;
	memset(out, 0, sizeof(out[0]) * GM_MAX_REGIONS);
	out[0].gpa = 0;
	out[0].size = size < HEARTH_MMIO_HOLE_START ? size : HEARTH_MMIO_HOLE_START;
	if (size == out[0].size)
		return 1;
	out[1].gpa = HEARTH_MMIO_HOLE_END;
	out[1].size = size - out[0].size;
	return 2;
}

/* Anonymous memory, 2 MiB aligned and marked for transparent huge pages
 * where the host allows them (as QEMU does): the backend's O_DIRECT I/O
 * pins guest pages, and 4 KiB pages halve 1 MiB transfer rates. */
static int map_anon(struct guest_mem *gm)
{
	const uint64_t huge = 2ull << 20;
	uint8_t *p = mmap(NULL, gm->size + huge, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return -errno;
	a = ((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	if ((uintptr_t)p + huge > a)
		munmap((uint8_t *)a + gm->size, (uintptr_t)p + huge - a);
	gm->base = (uint8_t *)a;
	madvise(gm->base, gm->size, MADV_HUGEPAGE);
	return 0;
}

/* The whole of @gm from @fd, with mmap @flags. */
static int map_fd(struct guest_mem *gm, int fd, int flags)
{
	gm->base = mmap(NULL, gm->size, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (gm->base == MAP_FAILED) {
		gm->base = NULL;
		return -errno;
	}
	return 0;
}

static int map_ram(struct guest_mem *gm, bool hugepages)
{
	if (!hugepages)
		return map_anon(gm);
	gm->fd = memfd_create("hearth-ram", MFD_CLOEXEC | MFD_HUGETLB);
	if (gm->fd < 0)
		return -errno;
	if (ftruncate(gm->fd, (off_t)gm->size) < 0)
		return -errno;
	/* Huge pages are reserved up front: without a reservation a guest
	 * touching RAM the pool cannot back would kill hearth with SIGBUS. */
	return map_fd(gm, gm->fd, MAP_SHARED);
}

static int create(struct guest_mem *gm, uint64_t size, bool hugepages, int file)
{
	uint64_t align = hugepages ? (2ull << 20) : 4096;
	uint64_t off = 0;
	int n, ret;

	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	if (size % align || size > SIZE_MAX)
		return -EINVAL;
	n = gm_layout(size, gm->r);
	if (n < 0)
		return n;
	gm->nr = (unsigned)n;
	gm->size = size;
	/* a snapshot's memory file is mapped privately: each page comes in
	 * from the file on its first touch, and what the guest writes stays
	 * in this process (the file is never written); holes read as zeros */
	ret = file >= 0 ? map_fd(gm, file, MAP_PRIVATE | MAP_NORESERVE) : map_ram(gm, hugepages);
	if (!ret) {
		/* Guest RAM has no place in a core dump of hearth, and must not
		 * be shared with a forked child (none is forked, but be
		 * explicit). */
		madvise(gm->base, gm->size, MADV_DONTDUMP);
		madvise(gm->base, gm->size, MADV_DONTFORK);
	}
	if (ret) {
		gm_destroy(gm);
		return ret;
	}
	for (unsigned i = 0; i < gm->nr; i++) {
		gm->r[i].hva = gm->base + off;
		off += gm->r[i].size;
	}
	return 0;
}

int gm_create(struct guest_mem *gm, uint64_t size, bool hugepages)
{
	return create(gm, size, hugepages, -1);
}

int gm_create_from_file(struct guest_mem *gm, uint64_t size, int fd)
{
	return fd < 0 ? -EBADF : create(gm, size, false, fd);
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->size);
	if (gm->fd >= 0)
		close(gm->fd);
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t last;

	if (len == 0 || __builtin_add_overflow(gpa, len - 1, &last))
		return NULL;
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];

		if (gpa >= r->gpa && last - r->gpa < r->size && gpa - r->gpa < r->size)
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t gm_low_size(const struct guest_mem *gm)
{
	return gm->nr > 0 ? gm->r[0].size : 0;
}

uint64_t gm_high_size(const struct guest_mem *gm)
{
	return gm->nr > 1 ? gm->r[1].size : 0;
}
