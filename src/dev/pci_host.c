// SPDX-License-Identifier: MIT
/*
 * PCI configuration mechanism #1: a 32-bit address register at 0xcf8 and a
 * data window at 0xcfc-0xcff. Bus 0 only; absent functions read all-ones.
 * 00:00.0 is the host bridge (1b36:0008, class 0600), read-only but for the
 * command register. Port 0xcf9 (a byte at offset 1) is the reset control
 * register of PCs' chipsets: a write with "reset CPU" (bit 2) set resets the
 * machine, which is Linux's reboot=pci and hearth's ACPI reset register.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/dev.h"
#include "hearth/state.h"

#define RESET_CPU 0x04 /* 0xcf9 bit 2: the 0-to-1 edge resets on a PC */

struct func {
	const struct pci_func_ops *ops;
	void *opaque;
};

struct pci_host {
	pthread_mutex_t lock;
	const struct vm_ctl *ctl;
	uint32_t addr;
	uint16_t bridge_cmd;
	uint8_t reset_ctl;
	struct func f[256];
};

static uint32_t bridge_read(void *opaque, uint32_t off, size_t len)
{
	struct pci_host *p = opaque;
	uint8_t cfg[64] = { 0x36, 0x1b, 0x08, 0x00 };
	uint32_t v = 0;

	cfg[4] = (uint8_t)p->bridge_cmd;
	cfg[5] = (uint8_t)(p->bridge_cmd >> 8);
	cfg[0x0b] = 0x06; /* class: bridge, subclass 0 (host) */
	if (off + len > sizeof(cfg))
		return 0;
	for (size_t i = len; i-- > 0;)
		v = (v << 8) | cfg[off + i];
	return v;
}

static void bridge_write(void *opaque, uint32_t off, uint32_t val, size_t len)
{
	struct pci_host *p = opaque;

	if (off == 4 && len >= 2)
		p->bridge_cmd = (uint16_t)(val & 0x0006); /* memory, bus master */
}

static const struct pci_func_ops bridge_ops = { bridge_read, bridge_write };

/* The function and register a data-window access at @off selects, or NULL
 * (disabled address, other bus, absent function, misaligned access). */
static struct func *target(struct pci_host *p, uint64_t off, size_t len, uint32_t *reg)
{
	struct func *f = &p->f[(p->addr >> 8) & 0xff];

	if (off < 4 || !(p->addr & 0x80000000u) || ((p->addr >> 16) & 0xff) != 0 || !f->ops)
		return NULL;
	*reg = (p->addr & 0xfc) + (uint32_t)(off - 4);
	return *reg % len == 0 ? f : NULL;
}

static void host_read(void *opaque, uint64_t off, void *data, size_t len)
{
	struct pci_host *p = opaque;
	uint64_t v = ~0ULL;

	struct func *f;
	uint32_t reg;

	pthread_mutex_lock(&p->lock);
	if (off == 0 && len == 4)
		v = p->addr;
	else if (off == 1 && len == 1)
		v = p->reset_ctl;
	else if ((f = target(p, off, len, &reg)))
		v = f->ops->cfg_read(f->opaque, reg, len);
	pthread_mutex_unlock(&p->lock);
	bus_put(data, len, v);
}

static void host_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct pci_host *p = opaque;
	uint32_t v = (uint32_t)bus_get(data, len);

	struct func *f;
	uint32_t reg;

	pthread_mutex_lock(&p->lock);
	if (off == 0 && len == 4)
		p->addr = v & 0x80fffffcu;
	else if (off == 1 && len == 1) {
		p->reset_ctl = (uint8_t)(v & 0x0a); /* hard reset, full reset */
		if (v & RESET_CPU)
			p->ctl->stop(p->ctl->opaque, VM_STOP_RESET, 0);
	} else if ((f = target(p, off, len, &reg)))
		f->ops->cfg_write(f->opaque, reg, v, len);
	pthread_mutex_unlock(&p->lock);
}

const struct bus_ops pci_host_ops = { host_read, host_write };

struct pci_host *pci_host_create(const struct vm_ctl *ctl)
{
	struct pci_host *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->ctl = ctl;
	pthread_mutex_init(&p->lock, NULL);
	p->f[0] = (struct func){ &bridge_ops, p };
	return p;
}

void pci_host_destroy(struct pci_host *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int pci_host_add(struct pci_host *p, unsigned devfn, const struct pci_func_ops *ops, void *opaque)
{
	if (devfn > 255 || !ops)
		return -EINVAL;
	if (p->f[devfn].ops)
		return -EEXIST;
	p->f[devfn] = (struct func){ ops, opaque };
	return 0;
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

/* Which of the 256 functions are present, a bit each. */
static void present(const struct pci_host *p, uint8_t map[32])
{
	memset(map, 0, 32);
	for (unsigned i = 0; i < 256; i++)
		if (p->f[i].ops)
			map[i / 8] |= (uint8_t)(1u << (i % 8));
}

int pci_host_save(struct pci_host *p, struct state_writer *w)
{
	uint8_t map[32];

	pthread_mutex_lock(&p->lock);
	present(p, map);
	state_begin(w, STATE_KIND_PCI_HOST, STATE_VERSION);
	state_put_u32(w, p->addr);
	state_put_u16(w, p->bridge_cmd);
	state_put_u8(w, p->reset_ctl);
	state_put_bytes(w, map, sizeof(map));
	state_end(w);
	pthread_mutex_unlock(&p->lock);
	return w->err;
}

int pci_host_restore(struct pci_host *p, struct state_reader *r)
{
	uint8_t reset_ctl, map[32], ours[32];
	uint16_t cmd;
	uint32_t addr;

	state_enter(r, STATE_KIND_PCI_HOST, STATE_VERSION, NULL);
	state_get_u32(r, &addr);
	state_get_u16(r, &cmd);
	state_get_u8(r, &reset_ctl);
	state_get_exact(r, map, sizeof(map));
	if (state_leave(r))
		return r->err;
	pthread_mutex_lock(&p->lock);
	present(p, ours);
	/* the masks host_write and bridge_write apply */
	if ((addr & ~0x80fffffcu) || (cmd & ~0x0006) || (reset_ctl & ~0x0a) ||
	    memcmp(map, ours, sizeof(map))) {
		pthread_mutex_unlock(&p->lock);
		return state_fail(r, -EINVAL);
	}
	p->addr = addr;
	p->bridge_cmd = cmd;
	p->reset_ctl = reset_ctl;
	pthread_mutex_unlock(&p->lock);
	return 0;
}
