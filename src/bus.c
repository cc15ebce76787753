// SPDX-License-Identifier: MIT
#include "hearth/bus.h"
#include "hearth/bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus_init(bus);
}

/* Index of the first range whose base is > addr. */
static size_t upper_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int grow(struct bus *bus)
{
	size_t cap = bus->cap ? bus->cap * 2 : 16;
	struct bus_range *r;

	if (bus->count < bus->cap)
		return 0;
	r = realloc(bus->ranges, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	bus->ranges = r;
	bus->cap = cap;
	return 0;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque)
{
	uint64_t last;
	size_t at;
	int ret;

	if (!len || !ops || __builtin_add_overflow(base, len - 1, &last))
		return -EINVAL;
	at = upper_bound(bus, base);
	if (at > 0) {
		const struct bus_range *prev = &bus->ranges[at - 1];

		if (base - prev->base < prev->len)
			return -EEXIST;
	}
	if (at < bus->count && bus->ranges[at].base <= last)
		return -EEXIST;
	ret = grow(bus);
	if (ret)
		return ret;
	memmove(&bus->ranges[at + 1], &bus->ranges[at], (bus->count - at) * sizeof(bus->ranges[0]));
	bus->ranges[at] = (struct bus_range){ base, len, ops, opaque };
	bus->count++;
	return 0;
}

int bus_access(const struct bus *bus, uint64_t addr, void *data, size_t len, bool is_write)
{
	const struct bus_range *r;
	uint64_t off;
	size_t at;

	if (len == 0 || len > 8)
		goto unhandled;
	at = upper_bound(bus, addr);
	if (at == 0)
		goto unhandled;
	r = &bus->ranges[at - 1];
	off = addr - r->base;
	if (off >= r->len || len > r->len - off)
		goto unhandled;
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->opaque, off, data, len);
	} else if (r->ops->read) {
		r->ops->read(r->opaque, off, data, len);
	} else {
		memset(data, 0xff, len);
	}
	return 0;
unhandled:
	if (!is_write && len <= 8)
		memset(data, 0xff, len);
	return -ENOENT;
}

uint64_t bus_get(const void *data, size_t len)
{
	return ld_le(data, len);
}

void bus_put(void *data, size_t len, uint64_t val)
{
	st_le(data, val, len);
}
