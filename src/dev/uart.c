// SPDX-License-Identifier: MIT
/*
 * A 16550A UART as Linux's 8250 driver uses it: THR/RBR, IER, IIR/FCR, LCR
 * (DLAB), MCR (loopback, OUT2), LSR, MSR, SCR. Each byte written to THR
 * goes to the tx callback at once, after the UART's lock is released (the
 * console buffers it, docs/architecture.md), so the transmitter is always
 * empty and no lock is held while output goes anywhere. Not modelled: baud
 * timing, break, modem-status interrupts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/dev.h"
#include "hearth/state.h"

#define FIFO 64

enum { RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR };
enum { IER_RDI = 1, IER_THRI = 2, LCR_DLAB = 0x80, MCR_LOOP = 0x10 };
enum { LSR_DR = 1, LSR_THRE = 0x20, LSR_TEMT = 0x40 };
enum { IIR_NONE = 1, IIR_THRI = 2, IIR_RDI = 4, IIR_FIFO = 0xc0 };

struct uart {
	pthread_mutex_t lock;
	struct uart_cfg cfg;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_pending; /* THRE interrupt until IIR is read or THR written */
	uint8_t rx[FIFO];
	unsigned head, count;
	int level;
};

static uint8_t iir(const struct uart *u)
{
	uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;

	if ((u->ier & IER_RDI) && u->count)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thr_pending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* Called with the lock held: raise or lower IRQ only on a change. */
static void update_irq(struct uart *u)
{
	int level = !(iir(u) & IIR_NONE);

	if (level != u->level) {
		u->level = level;
		irq_set(u->cfg.irq, u->cfg.gsi, level);
	}
}

static void push_rx(struct uart *u, uint8_t c)
{
	if (u->count < FIFO) {
		u->rx[(u->head + u->count) % FIFO] = c;
		u->count++;
	}
}

/* A byte leaves through THR: looped back, or handed out in *@out (-1: none)
 * for the caller to pass on once the lock is released. */
static void emit(struct uart *u, uint8_t c, int *out)
{
	if (u->mcr & MCR_LOOP)
		push_rx(u, c);
	else
		*out = c;
}

static uint8_t read_reg(struct uart *u, unsigned reg, bool *drained)
{
	uint8_t v = 0;

	switch (reg) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->count) {
			v = u->rx[u->head];
			u->head = (u->head + 1) % FIFO;
			u->count--;
			*drained = u->count == 0;
		}
		return v;
	case IER: return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case IIR_FCR:
		v = iir(u);
		if ((v & 0xf) == IIR_THRI)
			u->thr_pending = false;
		return v;
	case LCR: return u->lcr;
	case MCR: return u->mcr;
	case LSR: return LSR_THRE | LSR_TEMT | (u->count ? LSR_DR : 0);
	case MSR:
		return (u->mcr & MCR_LOOP) ? (uint8_t)((u->mcr & 0xc) << 4 | (u->mcr & 3) << 4)
					   : 0xb0;
	default: return u->scr;
	}
}

static void write_reg(struct uart *u, unsigned reg, uint8_t v, int *out)
{
	switch (reg) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			emit(u, v, out);
			u->thr_pending = true;
		}
		break;
	case IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			if (!(u->ier & IER_THRI) && (v & IER_THRI))
				u->thr_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case IIR_FCR:
		u->fcr = v & 0xc9;
		if (v & 2)
			u->count = 0;
		break;
	case LCR: u->lcr = v; break;
	case MCR: u->mcr = v & 0x1f; break;
	case SCR: u->scr = v; break;
	default: break; /* LSR, MSR are read-only */
	}
}

static void uart_read(void *opaque, uint64_t off, void *data, size_t len)
{
	struct uart *u = opaque;
	bool drained = false;
	uint8_t v;

	pthread_mutex_lock(&u->lock);
	v = read_reg(u, (unsigned)off & 7, &drained);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	bus_put(data, len, v);
	if (drained && u->cfg.rx_drained)
		u->cfg.rx_drained(u->cfg.opaque);
}

static void uart_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct uart *u = opaque;
	int out = -1;

	pthread_mutex_lock(&u->lock);
	write_reg(u, (unsigned)off & 7, (uint8_t)bus_get(data, len), &out);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (out >= 0 && u->cfg.tx)
		u->cfg.tx(u->cfg.opaque, (uint8_t)out);
}

const struct bus_ops uart_ops = { uart_read, uart_write };

struct uart *uart_create(const struct uart_cfg *cfg)
{
	struct uart *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	pthread_mutex_init(&u->lock, NULL);
	u->cfg = *cfg;
	return u;
}

void uart_destroy(struct uart *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

size_t uart_feed(struct uart *u, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	while (n < len && u->count < FIFO)
		push_rx(u, p[n++]);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

int uart_save(struct uart *u, struct state_writer *w)
{
	uint8_t fifo[FIFO];

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < u->count; i++)
		fifo[i] = u->rx[(u->head + i) % FIFO];
	state_begin(w, STATE_KIND_UART, STATE_VERSION);
	state_put_u8(w, u->ier);
	state_put_u8(w, u->lcr);
	state_put_u8(w, u->mcr);
	state_put_u8(w, u->scr);
	state_put_u8(w, u->dll);
	state_put_u8(w, u->dlm);
	state_put_u8(w, u->fcr);
	state_put_bool(w, u->thr_pending);
	state_put_bytes(w, fifo, u->count);
	state_end(w);
	pthread_mutex_unlock(&u->lock);
	return w->err;
}

int uart_restore(struct uart *u, struct state_reader *r)
{
	struct uart s = { 0 };
	size_t count;

	state_enter(r, STATE_KIND_UART, STATE_VERSION, NULL);
	state_get_u8(r, &s.ier);
	state_get_u8(r, &s.lcr);
	state_get_u8(r, &s.mcr);
	state_get_u8(r, &s.scr);
	state_get_u8(r, &s.dll);
	state_get_u8(r, &s.dlm);
	state_get_u8(r, &s.fcr);
	state_get_bool(r, &s.thr_pending);
	state_get_bytes(r, s.rx, FIFO, &count);
	if (state_leave(r))
		return r->err;
	/* only what a guest's writes can produce (write_reg's masks) */
	if ((s.ier & ~0x0f) || (s.mcr & ~0x1f) || (s.fcr & ~0xc9))
		return state_fail(r, -EINVAL);
	pthread_mutex_lock(&u->lock);
	u->ier = s.ier;
	u->lcr = s.lcr;
	u->mcr = s.mcr;
	u->scr = s.scr;
	u->dll = s.dll;
	u->dlm = s.dlm;
	u->fcr = s.fcr;
	u->thr_pending = s.thr_pending;
	memcpy(u->rx, s.rx, FIFO);
	u->head = 0;
	u->count = (unsigned)count;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}
