// SPDX-License-Identifier: MIT
/*
 * i8042 keyboard controller, enough for Linux's i8042/atkbd to probe, for a
 * reset request (command 0xfe, or output port bit 0 cleared via 0xd1) and for
 * injecting Ctrl-Alt-Del. No mouse (aux commands answer with no data).
 * The output queue is bounded: a guest that never reads cannot grow it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/dev.h"
#include "hearth/state.h"

#define QLEN 16
enum { ST_OBF = 1, ST_SYS = 4, ST_CMD = 8, ST_UNLOCKED = 0x10 /* keyboard not inhibited */ };
enum { CB_KBD_INT = 1, CB_XLATE = 0x40 };

struct i8042 {
	pthread_mutex_t lock;
	const struct irq_chip *irq;
	unsigned gsi;
	const struct vm_ctl *ctl;
	uint8_t cmdbyte, pending_cmd, status_cmd;
	uint8_t q[QLEN];
	unsigned head, count;
};

static void push(struct i8042 *k, uint8_t v)
{
	if (k->count < QLEN) {
		k->q[(k->head + k->count) % QLEN] = v;
		k->count++;
	}
}

static void raise_irq(struct i8042 *k)
{
	if (k->count && (k->cmdbyte & CB_KBD_INT)) {
		irq_set(k->irq, k->gsi, 1);
		irq_set(k->irq, k->gsi, 0);
	}
}

static void data_read(void *opaque, uint64_t off, void *data, size_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = 0;

	(void)off;
	pthread_mutex_lock(&k->lock);
	if (k->count) {
		v = k->q[k->head];
		k->head = (k->head + 1) % QLEN;
		k->count--;
		raise_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	bus_put(data, len, v);
}

static void kbd_command(struct i8042 *k, uint8_t v)
{
	switch (v) {
	case 0xff:
		push(k, 0xfa);
		push(k, 0xaa);
		break;
	case 0xf2:
		push(k, 0xfa);
		push(k, 0xab);
		push(k, 0x83);
		break;
	default: push(k, 0xfa); break;
	}
}

static void data_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = (uint8_t)bus_get(data, len);

	(void)off;
	pthread_mutex_lock(&k->lock);
	switch (k->pending_cmd) {
	case 0x60: k->cmdbyte = v; break;
	case 0xd1:
		if (!(v & 1))
			k->ctl->stop(k->ctl->opaque, VM_STOP_RESET, 0);
		break;
	case 0xd2: push(k, v); break;
	/* No AUX port. The AUX loopback echoes the byte without the AUX status
	 * bit, which a probing Linux takes as "no AUX" at once instead of
	 * waiting ~0.5 s per probe for an answer (the byte is then flushed). */
	case 0xd3: push(k, v); break;
	case 0xd4: break;
	default: kbd_command(k, v); break;
	}
	k->pending_cmd = 0;
	raise_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static void cmd_read(void *opaque, uint64_t off, void *data, size_t len)
{
	struct i8042 *k = opaque;
	uint8_t st;

	(void)off;
	pthread_mutex_lock(&k->lock);
	st = ST_SYS | ST_UNLOCKED | (k->count ? ST_OBF : 0) | k->status_cmd;
	pthread_mutex_unlock(&k->lock);
	bus_put(data, len, st);
}

static void cmd_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = (uint8_t)bus_get(data, len);

	(void)off;
	pthread_mutex_lock(&k->lock);
	k->status_cmd = ST_CMD;
	switch (v) {
	case 0x20: push(k, k->cmdbyte); break;
	case 0xaa: push(k, 0x55); break;
	case 0xa9: push(k, 0x01); break; /* AUX interface test: clock stuck low */
	case 0xab: push(k, 0x00); break;
	case 0xd0: push(k, 0x01); break;
	case 0x60:
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd4: k->pending_cmd = v; break;
	case 0xad: k->cmdbyte |= 0x10; break;
	case 0xae: k->cmdbyte &= (uint8_t)~0x10; break;
	case 0xfe: k->ctl->stop(k->ctl->opaque, VM_STOP_RESET, 0); break;
	default: break;
	}
	raise_irq(k);
	pthread_mutex_unlock(&k->lock);
}

const struct bus_ops i8042_data_ops = { data_read, data_write };
const struct bus_ops i8042_cmd_ops = { cmd_read, cmd_write };

struct i8042 *i8042_create(const struct irq_chip *irq, unsigned gsi, const struct vm_ctl *ctl)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	k->irq = irq;
	k->gsi = gsi;
	k->ctl = ctl;
	k->cmdbyte = CB_KBD_INT | CB_XLATE | 0x04;
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	/* Scan code set 1 (what the guest sees with translation on), else set 2. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
					0x71, 0xf0, 0x11, 0xf0, 0x14 };
	const uint8_t *seq;
	size_t n;

	pthread_mutex_lock(&k->lock);
	seq = (k->cmdbyte & CB_XLATE) ? set1 : set2;
	n = (k->cmdbyte & CB_XLATE) ? sizeof(set1) : sizeof(set2);
	if (QLEN - k->count < n) {
		pthread_mutex_unlock(&k->lock);
		return -EBUSY;
	}
	for (size_t i = 0; i < n; i++)
		push(k, seq[i]);
	raise_irq(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

int i8042_save(struct i8042 *k, struct state_writer *w)
{
	uint8_t q[QLEN];

	pthread_mutex_lock(&k->lock);
	for (unsigned i = 0; i < k->count; i++)
		q[i] = k->q[(k->head + i) % QLEN];
	state_begin(w, STATE_KIND_I8042, STATE_VERSION);
	state_put_u8(w, k->cmdbyte);
	state_put_u8(w, k->pending_cmd);
	state_put_u8(w, k->status_cmd);
	state_put_bytes(w, q, k->count);
	state_end(w);
	pthread_mutex_unlock(&k->lock);
	return w->err;
}

/* The commands cmd_write leaves waiting for a data byte (or none). */
static bool pending_ok(uint8_t c)
{
	return c == 0 || c == 0x60 || (c >= 0xd1 && c <= 0xd4);
}

int i8042_restore(struct i8042 *k, struct state_reader *r)
{
	uint8_t cmdbyte, pending, status, q[QLEN];
	size_t count;

	state_enter(r, STATE_KIND_I8042, STATE_VERSION, NULL);
	state_get_u8(r, &cmdbyte);
	state_get_u8(r, &pending);
	state_get_u8(r, &status);
	state_get_bytes(r, q, QLEN, &count);
	if (state_leave(r))
		return r->err;
	if (!pending_ok(pending) || (status != 0 && status != ST_CMD))
		return state_fail(r, -EINVAL);
	pthread_mutex_lock(&k->lock);
	k->cmdbyte = cmdbyte;
	k->pending_cmd = pending;
	k->status_cmd = status;
	memcpy(k->q, q, QLEN);
	k->head = 0;
	k->count = (unsigned)count;
	raise_irq(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
