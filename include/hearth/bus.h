/* SPDX-License-Identifier: MIT */
/*
 * I/O dispatch for port I/O and MMIO. A bus is a sorted array of
 * non-overlapping ranges; lookups bisect. Registration happens before any
 * vCPU runs, so dispatch takes no lock (devices lock their own state).
 */
#ifndef HEARTH_BUS_H
#define HEARTH_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Device callbacks. @off is relative to the registered base; @len is 1..8
 * and off + len never passes the registered length. Reads must fill all
 * @len bytes of @data (little-endian); unknown registers read as all-ones
 * or zero as the device documents.
 */
struct bus_ops {
	void (*read)(void *opaque, uint64_t off, void *data, size_t len);
	void (*write)(void *opaque, uint64_t off, const void *data, size_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus {
	struct bus_range *ranges; /* sorted by base, never overlapping */
	size_t count;
	size_t cap;
};

/* An empty bus; no allocation until the first registration. */
void bus_init(struct bus *bus);

/* Frees the range array (not the devices). The bus is empty afterwards. */
void bus_destroy(struct bus *bus);

/*
 * Claims [base, base + len) for a device.
 * Returns 0; -EINVAL for len 0, a range that wraps past 2^64 or NULL ops;
 * -EEXIST when it overlaps a registered range; -ENOMEM.
 */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque);

/*
 * Dispatches one guest access of @len (1..8) bytes at @addr. The access must
 * lie wholly inside one range. Returns 0 when a device handled it, -ENOENT
 * otherwise; for an unhandled read @data is filled with 0xff.
 */
int bus_access(const struct bus *bus, uint64_t addr, void *data, size_t len, bool is_write);

/* Little-endian helpers for device code: value of a 1..8-byte access. */
uint64_t bus_get(const void *data, size_t len);
void bus_put(void *data, size_t len, uint64_t val);

#endif
