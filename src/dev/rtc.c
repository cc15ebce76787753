// SPDX-License-Identifier: MIT
/*
 * MC146818 CMOS RTC: index port 0x70 (bit 7, the NMI mask, ignored), data
 * port 0x71. Time registers come from host UTC in BCD or binary and 12/24 h
 * as register B says; memory-size registers describe guest RAM. Not
 * modelled: alarm, periodic and update interrupts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hearth/bytes.h"
#include "hearth/dev.h"
#include "hearth/state.h"

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128];
};

static uint8_t enc(const struct rtc *r, unsigned v)
{
	return (r->ram[0x0b] & 4) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t hour(const struct rtc *r, unsigned h)
{
	unsigned h12;

	if (r->ram[0x0b] & 2)
		return enc(r, h);
	h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(enc(r, h12) | (h >= 12 ? 0x80 : 0));
}

static uint8_t read_index(const struct rtc *r, uint8_t i)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (i) {
	case 0x00: return enc(r, (unsigned)tm.tm_sec);
	case 0x02: return enc(r, (unsigned)tm.tm_min);
	case 0x04: return hour(r, (unsigned)tm.tm_hour);
	case 0x06: return enc(r, (unsigned)tm.tm_wday + 1);
	case 0x07: return enc(r, (unsigned)tm.tm_mday);
	case 0x08: return enc(r, (unsigned)tm.tm_mon + 1);
	case 0x09: return enc(r, (unsigned)tm.tm_year % 100);
	case 0x32: return enc(r, (unsigned)(tm.tm_year + 1900) / 100);
	case 0x0a: return r->ram[0x0a] & 0x7f; /* UIP never set */
	case 0x0c: return 0;
	case 0x0d: return 0x80; /* valid RAM and time */
	default: return r->ram[i];
	}
}

static void rtc_read(void *opaque, uint64_t off, void *data, size_t len)
{
	struct rtc *r = opaque;
	uint8_t v;

	pthread_mutex_lock(&r->lock);
	v = off == 0 ? r->index : read_index(r, r->index);
	pthread_mutex_unlock(&r->lock);
	bus_put(data, len, v);
}

static void rtc_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct rtc *r = opaque;
	uint8_t v = (uint8_t)bus_get(data, len);

	pthread_mutex_lock(&r->lock);
	if (off == 0)
		r->index = v & 0x7f;
	else if (r->index != 0x0c && r->index != 0x0d)
		r->ram[r->index] = v; /* time writes are kept but not read back */
	pthread_mutex_unlock(&r->lock);
}

const struct bus_ops rtc_ops = { rtc_read, rtc_write };

/* A size in the CMOS's 16-bit registers: the most they hold when larger */
static uint16_t clamp16(uint64_t v)
{
	return v > 0xffff ? 0xffff : (uint16_t)v;
}

struct rtc *rtc_create(uint64_t ram_below_4g, uint64_t ram_above_4g)
{
	struct rtc *r = calloc(1, sizeof(*r));
	uint64_t ext = ram_below_4g > (1 << 20) ? (ram_below_4g - (1 << 20)) >> 10 : 0;
	uint64_t above16 = ram_below_4g > (16 << 20) ? (ram_below_4g - (16 << 20)) >> 16 : 0;
	uint64_t high = ram_above_4g >> 16;

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->ram[0x0a] = 0x26;
	r->ram[0x0b] = 0x02; /* 24 h, BCD */
	st16(&r->ram[0x15], clamp16(640));
	st16(&r->ram[0x17], clamp16(ext));
	st16(&r->ram[0x30], clamp16(ext));
	st16(&r->ram[0x34], clamp16(above16));
	r->ram[0x5b] = (uint8_t)high;
	r->ram[0x5c] = (uint8_t)(high >> 8);
	r->ram[0x5d] = (uint8_t)(high >> 16);
	return r;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

int rtc_save(struct rtc *r, struct state_writer *w)
{
	pthread_mutex_lock(&r->lock);
	state_begin(w, STATE_KIND_RTC, STATE_VERSION);
	state_put_u8(w, r->index);
	state_put_bytes(w, r->ram, sizeof(r->ram));
	state_end(w);
	pthread_mutex_unlock(&r->lock);
	return w->err;
}

int rtc_restore(struct rtc *r, struct state_reader *rd)
{
	uint8_t index, ram[sizeof(r->ram)];

	state_enter(rd, STATE_KIND_RTC, STATE_VERSION, NULL);
	state_get_u8(rd, &index);
	state_get_exact(rd, ram, sizeof(ram));
	if (state_leave(rd))
		return rd->err;
	if (index > 0x7f) /* rtc_write keeps 7 bits */
		return state_fail(rd, -EINVAL);
	pthread_mutex_lock(&r->lock);
	r->index = index;
	memcpy(r->ram, ram, sizeof(ram));
	pthread_mutex_unlock(&r->lock);
	return 0;
}
