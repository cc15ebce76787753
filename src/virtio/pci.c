// SPDX-License-Identifier: MIT
/*
 * virtio-pci modern transport (virtio 1.2, 4.1). Layout of BAR 0:
 *   0x0000 common configuration    0x3000 notify (4 bytes per queue)
 *   0x1000 ISR status              0x4000 MSI-X table
 *   0x2000 device configuration    0x5000 MSI-X PBA
 * The BAR is placed by hearth and does not move: sizing works as usual,
 * other writes to it are ignored. Every register the guest writes is
 * checked; a bad queue setup sets DEVICE_NEEDS_RESET instead of failing.
 */
#include "hearth/bytes.h"
#include "hearth/virtio_pci.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hearth/log.h"
#include "hearth/state.h"

enum {
	COMMON = 0x0000,
	ISR = 0x1000,
	DEVCFG = 0x2000,
	NOTIFY = 0x3000,
	MSIX_TABLE = 0x4000,
	MSIX_PBA = 0x5000,
	NOTIFY_MULT = 4,
	COMMON_LEN = 0x38,
};
#define NO_VECTOR  0xffff
#define CAP_MSIX   0x40 /* capability offsets in config space */
#define CAP_PCICFG 0x94 /* VIRTIO_PCI_CAP_PCI_CFG: a window on BAR 0 */

struct vpq {
	uint16_t size, vector;
	bool enabled;
	uint64_t desc, driver, device;
	int kick_fd;
};

struct kick_ctx {
	struct virtio_pci *vp;
	unsigned q;
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

/* The MSI route KVM holds for a vector (valid once committed). */
struct msix_route {
	uint64_t addr;
	uint32_t data;
	bool valid;
};

struct virtio_pci {
	pthread_mutex_t lock;
	const struct virtio_pci_host *h;
	const struct virtio_dev_ops *ops;
	void *dev;
	struct virtio_transport t;
	uint64_t bar;
	unsigned first_gsi, nvec, nq;
	uint8_t cfg[256];
	bool bar_sizing[2];
	/* common configuration */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t msix_config, qsel;
	uint8_t status, isr;
	struct vpq q[VIRTIO_PCI_MAX_QUEUES];
	struct vq vq[VIRTIO_PCI_MAX_QUEUES];
	struct kick_ctx kick[VIRTIO_PCI_MAX_QUEUES];
	/* MSI-X */
	struct msix_entry msix[VIRTIO_PCI_MAX_VECTORS];
	struct msix_route routed[VIRTIO_PCI_MAX_VECTORS];
	uint64_t pending, irq_bound;
	unsigned intx_gsi;
	bool intx_level;
	int irq_fd[VIRTIO_PCI_MAX_VECTORS];
	_Atomic uint64_t kicks, interrupts; /* for the control API's metrics */
};

static struct log_ratelimit guest_rl;

unsigned virtio_pci_vectors(const struct virtio_dev_ops *ops)
{
	return ops->num_queues + 1;
}

/* ---- PCI configuration space ---- */

static void vcap(uint8_t *c, unsigned at, unsigned next, uint8_t type, uint32_t off, uint32_t len,
		 unsigned caplen)
{
	c[at] = 0x09; /* vendor specific */
	c[at + 1] = (uint8_t)next;
	c[at + 2] = (uint8_t)caplen;
	c[at + 3] = type;
	c[at + 4] = 0; /* BAR 0 */
	st_le(c + at + 8, off, 4);
	st_le(c + at + 12, len, 4);
}

static void build_cfg(struct virtio_pci *vp)
{
	uint8_t *c = vp->cfg;

	st_le(c + 0x00, 0x1af4, 2);
	st_le(c + 0x02, 0x1040 + vp->ops->device_id, 2);
	st_le(c + 0x06, 0x0010, 2); /* status: capabilities list */
	c[0x08] = 1;		    /* revision: modern */
	st_le(c + 0x09, vp->ops->pci_class, 3);
	c[0x0e] = 0x00; /* header type 0 */
	st_le(c + 0x2c, 0x1af4, 2);
	st_le(c + 0x2e, vp->ops->device_id, 2);
	c[0x34] = CAP_MSIX;
	c[0x3c] = (uint8_t)vp->intx_gsi; /* interrupt line: where INTA is wired */
	c[0x3d] = 1;			 /* INTA, for drivers without MSI-X */
	/* MSI-X: table and PBA in BAR 0 */
	c[CAP_MSIX] = 0x11;
	c[CAP_MSIX + 1] = 0x50;
	st_le(c + CAP_MSIX + 2, vp->nvec - 1, 2);
	st_le(c + CAP_MSIX + 4, MSIX_TABLE, 4);
	st_le(c + CAP_MSIX + 8, MSIX_PBA, 4);
	vcap(c, 0x50, 0x60, 1, COMMON, COMMON_LEN, 16);
	vcap(c, 0x60, 0x70, 3, ISR, 1, 16);
	vcap(c, 0x70, 0x80, 4, DEVCFG, vp->ops->cfg_size ? vp->ops->cfg_size : 4, 16);
	vcap(c, 0x80, CAP_PCICFG, 2, NOTIFY, NOTIFY_MULT * VIRTIO_PCI_MAX_QUEUES, 20);
	st_le(c + 0x80 + 16, NOTIFY_MULT, 4);
	vcap(c, CAP_PCICFG, 0x00, 5, 0, 0, 20); /* bar, offset, length set by the driver */
}

static bool msix_enabled(const struct virtio_pci *vp)
{
	return vp->cfg[CAP_MSIX + 3] & 0x80;
}

static bool msix_fn_masked(const struct virtio_pci *vp)
{
	return vp->cfg[CAP_MSIX + 3] & 0x40;
}

static void msix_fire(struct virtio_pci *vp, unsigned v);
static void bar_read_locked(struct virtio_pci *vp, uint64_t off, void *data, size_t len);
static void bar_write_locked(struct virtio_pci *vp, uint64_t off, const void *data, size_t len);

/* The PCI_CFG window's access as the driver set it up: BAR 0, a length of
 * 1, 2 or 4 and an offset aligned to it. Returns the length, 0 if invalid. */
static size_t pcicfg_access(const struct virtio_pci *vp, uint32_t *off)
{
	uint32_t len = (uint32_t)ld_le(vp->cfg + CAP_PCICFG + 12, 4);

	*off = (uint32_t)ld_le(vp->cfg + CAP_PCICFG + 8, 4);
	if (vp->cfg[CAP_PCICFG + 4] != 0 || (len != 1 && len != 2 && len != 4) || *off % len ||
	    *off >= VIRTIO_PCI_BAR_SIZE)
		return 0;
	return len;
}

/* INTx follows the ISR while MSI-X is off: level, until the driver reads
 * the ISR (which clears it) or disables INTx in the command register. */
static void intx_update(struct virtio_pci *vp)
{
	bool level = vp->isr && !(vp->cfg[0x05] & 0x04) && !msix_enabled(vp);

	if (level == vp->intx_level)
		return;
	vp->intx_level = level;
	if (level)
		atomic_fetch_add_explicit(&vp->interrupts, 1, memory_order_relaxed);
	vp->cfg[0x06] = (uint8_t)((vp->cfg[0x06] & ~0x08) | (level ? 0x08 : 0)); /* status.INTx */
	if (vp->h->set_intx)
		vp->h->set_intx(vp->h->opaque, vp->intx_gsi, level);
}

static uint32_t cfg_read(void *opaque, uint32_t off, size_t len)
{
	struct virtio_pci *vp = opaque;
	uint8_t tmp[4];
	uint32_t v;

	if (off >= sizeof(vp->cfg) || len > sizeof(vp->cfg) - off)
		return 0;
	pthread_mutex_lock(&vp->lock);
	memcpy(tmp, vp->cfg + off, len);
	/* BAR 0 (64-bit): the address, or the size mask while being sized */
	for (unsigned i = 0; i < len; i++) {
		uint32_t o = off + i;

		if (o >= 0x10 && o < 0x18) {
			uint64_t val = vp->bar | 0x4; /* 64-bit memory BAR */
			unsigned half = (o - 0x10) / 4;

			if (vp->bar_sizing[half])
				val = half ? ~0ULL
					   : (uint64_t)(uint32_t) ~(VIRTIO_PCI_BAR_SIZE - 1) | 0x4;
			else
				val >>= 32 * half;
			tmp[i] = (uint8_t)(val >> (8 * ((o - 0x10) % 4)));
		}
	}
	if (off == CAP_PCICFG + 16 && len == 4) { /* the window's data */
		uint32_t boff;
		size_t blen = pcicfg_access(vp, &boff);
		uint8_t b[4] = { 0 };

		if (blen)
			bar_read_locked(vp, boff, b, blen);
		memcpy(tmp, b, 4);
	}
	pthread_mutex_unlock(&vp->lock);
	v = (uint32_t)ld_le(tmp, len);
	return v;
}

static void cfg_write(void *opaque, uint32_t off, uint32_t val, size_t len)
{
	struct virtio_pci *vp = opaque;

	pthread_mutex_lock(&vp->lock);
	if (off == 0x04 && len >= 2) {
		/* command: memory space, bus master, INTx disable are kept */
		st_le(vp->cfg + 0x04, val & 0x0406, 2);
		intx_update(vp);
	} else if (off == 0x3c && len == 1) {
		vp->cfg[0x3c] = (uint8_t)val; /* interrupt line: the guest's scratch */
	} else if (off >= CAP_PCICFG + 4 && off + len <= CAP_PCICFG + 16) {
		/* the window's bar (+4), offset (+8) and length (+12) */
		for (size_t i = 0; i < len; i++)
			if (off + i != CAP_PCICFG + 5 && off + i != CAP_PCICFG + 6 &&
			    off + i != CAP_PCICFG + 7) /* padding stays zero */
				vp->cfg[off + i] = (uint8_t)(val >> (8 * i));
	} else if (off == CAP_PCICFG + 16 && len == 4) {
		uint32_t boff;
		size_t blen = pcicfg_access(vp, &boff);
		uint8_t b[4];

		st_le(b, val, 4);
		if (blen)
			bar_write_locked(vp, boff, b, blen);
	} else if ((off == 0x10 || off == 0x14) && len == 4) {
		vp->bar_sizing[(off - 0x10) / 4] = val == 0xffffffffu;
	} else if (off <= CAP_MSIX + 3 && off + len > CAP_MSIX + 3) {
		/* MSI-X message control: only enable and function mask */
		uint8_t b = (uint8_t)(val >> (8 * (CAP_MSIX + 3 - off)));
		bool was_masked = !msix_enabled(vp) || msix_fn_masked(vp);

		vp->cfg[CAP_MSIX + 3] = (vp->cfg[CAP_MSIX + 3] & 0x3f) | (b & 0xc0);
		intx_update(vp);
		if (was_masked && msix_enabled(vp) && !msix_fn_masked(vp))
			for (unsigned v = 0; v < vp->nvec; v++)
				if ((vp->pending >> v) & 1)
					msix_fire(vp, v);
	} else if (off >= CAP_MSIX) {
		/* the standard header's other fields (unused BARs being sized,
		 * ROM, latency...) take writes silently; capabilities are ours */
		log_guest(&guest_rl, "virtio-pci: write to read-only config offset 0x%x ignored",
			  off);
	}
	pthread_mutex_unlock(&vp->lock);
}

const struct pci_func_ops virtio_pci_cfg_ops = { cfg_read, cfg_write };

/* ---- interrupts ---- */

static bool msix_route(struct virtio_pci *vp, unsigned v);

static void msix_fire(struct virtio_pci *vp, unsigned v)
{
	const struct msix_entry *e = &vp->msix[v];

	if (!msix_enabled(vp) || msix_fn_masked(vp) || (e->ctrl & 1)) {
		vp->pending |= 1ULL << v;
		return;
	}
	vp->pending &= ~(1ULL << v);
	if (!msix_route(vp, v))
		return; /* no route the message could take: dropped, logged */
	if (vp->irq_fd[v] >= 0 && eventfd_write(vp->irq_fd[v], 1) == 0)
		atomic_fetch_add_explicit(&vp->interrupts, 1, memory_order_relaxed);
}

static void t_notify(void *opaque, int q)
{
	struct virtio_pci *vp = opaque;
	uint16_t v = q < 0 ? vp->msix_config : vp->q[q].vector;

	vp->isr |= q < 0 ? 2 : 1;
	if (!msix_enabled(vp))
		intx_update(vp);
	else if (v != NO_VECTOR && v < vp->nvec)
		msix_fire(vp, v);
}

static void t_needs_reset(void *opaque)
{
	struct virtio_pci *vp = opaque;

	if (vp->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	t_notify(vp, -1);
}

static void t_lock(void *opaque)
{
	pthread_mutex_lock(&((struct virtio_pci *)opaque)->lock);
}

static void t_unlock(void *opaque)
{
	pthread_mutex_unlock(&((struct virtio_pci *)opaque)->lock);
}

/*
 * Makes KVM's route for vector @v match its table entry, just before a
 * message leaves (msix_fire): table writes only change the table, so a
 * guest that rewrites entries in a loop costs its own exits and never a
 * routing commit (KVM_SET_GSI_ROUTING waits for an SRCU grace period);
 * the route is committed once per change of an entry that is used, when it
 * is used. Every message goes through here, so the route KVM uses is always
 * the table's. Returns false if the vector cannot be delivered.
 */
static bool msix_route(struct virtio_pci *vp, unsigned v)
{
	const struct msix_entry *e = &vp->msix[v];
	struct msix_route r = { (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data, true };
	struct msix_route *cur = &vp->routed[v];

	if (cur->valid && cur->addr == r.addr && cur->data == r.data)
		return true;
	/* The irqfd is bound the first time the vector is used: a guest that
	 * never uses the device costs no irqfd, and each irqfd costs an SRCU
	 * grace period when the VM is torn down. */
	if (!((vp->irq_bound >> v) & 1) && vp->irq_fd[v] >= 0) {
		if (vp->h->irqfd(vp->h->opaque, vp->first_gsi + v, vp->irq_fd[v])) {
			log_guest(&guest_rl, "virtio-pci: MSI-X vector %u: irqfd failed", v);
			return false;
		}
		vp->irq_bound |= 1ULL << v;
	}
	if (vp->h->msi_route((void *)vp->h->opaque, vp->first_gsi + v, r.addr, r.data)) {
		log_guest(&guest_rl, "virtio-pci: MSI-X vector %u: route rejected", v);
		cur->valid = false;
		return false;
	}
	*cur = r;
	return true;
}

/* ---- common configuration ---- */

static void reset(struct virtio_pci *vp)
{
	if (vp->dev)
		vp->ops->reset(vp->dev);
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->msix_config = NO_VECTOR;
	vp->qsel = 0;
	vp->status = 0;
	vp->isr = 0;
	intx_update(vp);
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++) {
		int fd = vp->q[i].kick_fd;

		vp->q[i] = (struct vpq){ .size = vp->ops->queue_max,
					 .vector = NO_VECTOR,
					 .kick_fd = fd };
		vq_reset(&vp->vq[i]);
	}
}

static void common_read(struct virtio_pci *vp, uint32_t off, void *data, size_t len)
{
	uint8_t c[COMMON_LEN] = { 0 };
	uint64_t offered = vp->ops->features(vp->dev);
	struct vpq *q = vp->qsel < vp->nq ? &vp->q[vp->qsel] : NULL;

	st_le(c + 0x00, vp->dfselect, 4);
	st_le(c + 0x04, vp->dfselect < 2 ? offered >> (32 * vp->dfselect) : 0, 4);
	st_le(c + 0x08, vp->gfselect, 4);
	st_le(c + 0x0c, vp->gfselect < 2 ? vp->driver_features >> (32 * vp->gfselect) : 0, 4);
	st_le(c + 0x10, vp->msix_config, 2);
	st_le(c + 0x12, vp->nq, 2);
	c[0x14] = vp->status;
	c[0x15] = 0; /* config generation: the config never changes */
	st_le(c + 0x16, vp->qsel, 2);
	if (q) {
		st_le(c + 0x18, q->size, 2);
		st_le(c + 0x1a, q->vector, 2);
		st_le(c + 0x1c, q->enabled, 2);
		st_le(c + 0x1e, vp->qsel, 2); /* notify offset, in NOTIFY_MULT units */
		st_le(c + 0x20, q->desc, 8);
		st_le(c + 0x28, q->driver, 8);
		st_le(c + 0x30, q->device, 8);
	}
	memcpy(data, c + off, len);
}

/* The bits the driver sets; DEVICE_NEEDS_RESET is the device's own. */
#define DRIVER_BITS                                                                     \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)

static bool features_acceptable(const struct virtio_pci *vp)
{
	uint64_t offered = vp->ops->features(vp->dev);

	/* only what was offered, and virtio 1 */
	return !(vp->driver_features & ~offered) &&
	       ((vp->driver_features >> VIRTIO_F_VERSION_1) & 1);
}

static void start(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->nq; i++) {
		vp->vq[i].event_idx = (vp->driver_features >> VIRTIO_F_EVENT_IDX) & 1;
		vp->vq[i].indirect = (vp->driver_features >> VIRTIO_F_INDIRECT_DESC) & 1;
	}
	vp->ops->start(vp->dev, vp->driver_features, vp->vq);
}

/*
 * The device status only grows between resets (virtio 1.2, 2.1: the driver
 * must not clear a bit; 3.1.1: FEATURES_OK, then DRIVER_OK). A write of 0
 * resets. A write that would clear a bit the driver set is refused: the
 * status stays as it was and the device asks for a reset
 * (DEVICE_NEEDS_RESET and a configuration interrupt), because the driver
 * no longer agrees with the device on its state. So start() runs once per
 * reset, on the features frozen at FEATURES_OK. FEATURES_OK for features
 * the device cannot take, and DRIVER_OK without FEATURES_OK, are simply not
 * set (the driver reads the status back and sees it). docs/virtio.md.
 */
static void set_status(struct virtio_pci *vp, uint8_t v)
{
	uint8_t old = vp->status & DRIVER_BITS, add;

	if (v == 0) {
		reset(vp);
		return;
	}
	v &= DRIVER_BITS; /* a driver may write back the NEEDS_RESET it read */
	if (old & ~v) {
		log_guest(&guest_rl,
			  "virtio-pci: status 0x%02x would clear bits of 0x%02x without a reset: "
			  "refused, device needs reset",
			  v, old);
		t_needs_reset(vp);
		return;
	}
	add = v & (uint8_t)~old;
	if ((add & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(vp))
		add &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	if ((add & VIRTIO_STATUS_DRIVER_OK) && !((old | add) & VIRTIO_STATUS_FEATURES_OK))
		add &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	vp->status |= add;
	if (add & VIRTIO_STATUS_DRIVER_OK)
		start(vp);
}

static void enable_queue(struct virtio_pci *vp, struct vpq *q, struct vq *vq)
{
	vq->size = q->size;
	vq->desc_gpa = q->desc;
	vq->avail_gpa = q->driver;
	vq->used_gpa = q->device;
	vq->event_idx = (vp->driver_features >> VIRTIO_F_EVENT_IDX) & 1;
	vq->indirect = (vp->driver_features >> VIRTIO_F_INDIRECT_DESC) & 1;
	if (vq_enable(vq, vp->h->gm, vp->ops->queue_max)) {
		log_guest(&guest_rl,
			  "virtio-pci: queue of %u entries at 0x%llx/0x%llx/0x%llx rejected: "
			  "device needs reset",
			  q->size, (unsigned long long)q->desc, (unsigned long long)q->driver,
			  (unsigned long long)q->device);
		t_needs_reset(vp);
		return;
	}
	q->enabled = true;
}

static void set64(uint64_t *field, uint32_t off, uint64_t v, size_t len)
{
	unsigned shift = 8 * (off % 8);
	uint64_t mask = len == 8 ? ~0ULL : (((1ULL << (8 * len)) - 1) << shift);

	*field = (*field & ~mask) | ((v << shift) & mask);
}

static void common_write(struct virtio_pci *vp, uint32_t off, uint64_t v, size_t len)
{
	struct vpq *q = vp->qsel < vp->nq ? &vp->q[vp->qsel] : NULL;
	bool q_setup = q && !q->enabled && !(vp->status & VIRTIO_STATUS_DRIVER_OK);

	switch (off) {
	case 0x00: vp->dfselect = (uint32_t)v; break;
	case 0x08: vp->gfselect = (uint32_t)v; break;
	case 0x0c:
		if (vp->gfselect < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK))
			set64(&vp->driver_features, 4 * vp->gfselect, v, 4);
		break;
	case 0x10: vp->msix_config = v < vp->nvec ? (uint16_t)v : NO_VECTOR; break;
	case 0x14: set_status(vp, (uint8_t)v); break;
	case 0x16: vp->qsel = (uint16_t)v; break;
	case 0x18:
		if (q_setup)
			q->size = (uint16_t)v; /* checked when the queue is enabled */
		break;
	case 0x1a:
		if (q)
			q->vector = v < vp->nvec ? (uint16_t)v : NO_VECTOR;
		break;
	case 0x1c:
		if (q_setup && v == 1)
			enable_queue(vp, q, &vp->vq[vp->qsel]);
		break;
	default:
		if (q_setup && off >= 0x20 && off < 0x38) {
			uint64_t *f = off < 0x28 ? &q->desc : off < 0x30 ? &q->driver : &q->device;
			set64(f, off, v, len);
		}
		break;
	}
}

/* ---- BAR 0 ---- */

/* An MSI-X table access as the PCI spec allows it (6.8.2): an aligned
 * DWORD or an aligned QWORD, so it never spans two entries. Anything else
 * reads zero and writes nothing. */
static bool msix_table_access(const struct virtio_pci *vp, uint64_t off, size_t len)
{
	return off >= MSIX_TABLE && off - MSIX_TABLE < 16 * (uint64_t)vp->nvec &&
	       (len == 4 || len == 8) && off % len == 0 &&
	       off - MSIX_TABLE + len <= 16 * (uint64_t)vp->nvec;
}

static void bar_read_locked(struct virtio_pci *vp, uint64_t off, void *data, size_t len)
{
	memset(data, 0, len);
	if (off + len <= COMMON_LEN) {
		common_read(vp, (uint32_t)off, data, len);
	} else if (off == ISR) {
		st_le(data, vp->isr, 1); /* read clears */
		vp->isr = 0;
		intx_update(vp);
	} else if (off >= DEVCFG && off - DEVCFG + len <= vp->ops->cfg_size && vp->ops->cfg_read) {
		vp->ops->cfg_read(vp->dev, (uint32_t)(off - DEVCFG), data, len);
	} else if (msix_table_access(vp, off, len)) {
		memcpy(data, (uint8_t *)vp->msix + (off - MSIX_TABLE), len);
	} else if (off >= MSIX_PBA && off + len <= MSIX_PBA + 8) {
		st_le(data, vp->pending >> (8 * (off - MSIX_PBA)), len);
	}
}

static void bar_write_locked(struct virtio_pci *vp, uint64_t off, const void *data, size_t len)
{
	uint64_t v = ld_le(data, len);

	if (off + len <= COMMON_LEN) {
		common_write(vp, (uint32_t)off, v, len);
	} else if (off >= DEVCFG && off - DEVCFG + len <= vp->ops->cfg_size && vp->ops->cfg_write) {
		vp->ops->cfg_write(vp->dev, (uint32_t)(off - DEVCFG), data, len);
	} else if (off >= NOTIFY && off < NOTIFY + NOTIFY_MULT * vp->nq) {
		/* a kick the ioeventfd did not catch (other width): same path */
		eventfd_write(vp->q[(off - NOTIFY) / NOTIFY_MULT].kick_fd, 1);
	} else if (msix_table_access(vp, off, len)) {
		unsigned e = (unsigned)((off - MSIX_TABLE) / 16);
		bool was_masked = vp->msix[e].ctrl & 1;

		/* one entry only (msix_table_access); its route follows when
		 * a message next leaves (msix_route) */
		memcpy((uint8_t *)vp->msix + (off - MSIX_TABLE), data, len);
		vp->msix[e].ctrl &= 1; /* only the mask bit exists */
		if (was_masked && !(vp->msix[e].ctrl & 1) && ((vp->pending >> e) & 1))
			msix_fire(vp, e);
	} else {
		log_guest(&guest_rl, "virtio-pci: %zu-byte write at BAR offset 0x%llx ignored", len,
			  (unsigned long long)off);
	}
}

static void bar_read(void *opaque, uint64_t off, void *data, size_t len)
{
	struct virtio_pci *vp = opaque;

	pthread_mutex_lock(&vp->lock);
	bar_read_locked(vp, off, data, len);
	pthread_mutex_unlock(&vp->lock);
}

static void bar_write(void *opaque, uint64_t off, const void *data, size_t len)
{
	struct virtio_pci *vp = opaque;

	pthread_mutex_lock(&vp->lock);
	bar_write_locked(vp, off, data, len);
	pthread_mutex_unlock(&vp->lock);
}

const struct bus_ops virtio_pci_bar_ops = { bar_read, bar_write };

void virtio_pci_counts(const struct virtio_pci *vp, uint64_t *kicks, uint64_t *interrupts)
{
	*kicks = atomic_load_explicit(&vp->kicks, memory_order_relaxed);
	*interrupts = atomic_load_explicit(&vp->interrupts, memory_order_relaxed);
}

/* ---- set-up ---- */

static void on_kick(void *arg, uint32_t events)
{
	struct kick_ctx *k = arg;
	struct virtio_pci *vp = k->vp;
	eventfd_t n;

	(void)events;
	if (eventfd_read(vp->q[k->q].kick_fd, &n) == 0)
		atomic_fetch_add_explicit(&vp->kicks, n, memory_order_relaxed);
	pthread_mutex_lock(&vp->lock);
	if ((vp->status & VIRTIO_STATUS_DRIVER_OK) && !(vp->status & VIRTIO_STATUS_NEEDS_RESET) &&
	    vp->q[k->q].enabled)
		vp->ops->kick(vp->dev, k->q);
	pthread_mutex_unlock(&vp->lock);
}

struct virtio_pci *virtio_pci_create(const struct virtio_pci_host *h,
				     const struct virtio_dev_ops *ops, uint64_t bar,
				     unsigned first_gsi, unsigned intx_gsi)
{
	struct virtio_pci *vp;

	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_PCI_MAX_QUEUES ||
	    bar % VIRTIO_PCI_BAR_SIZE)
		return NULL;
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return NULL;
	pthread_mutex_init(&vp->lock, NULL);
	vp->h = h;
	vp->ops = ops;
	vp->bar = bar;
	vp->first_gsi = first_gsi;
	vp->intx_gsi = intx_gsi;
	vp->nq = ops->num_queues;
	vp->nvec = virtio_pci_vectors(ops);
	vp->t = (struct virtio_transport){ t_notify, t_needs_reset, t_lock, t_unlock, vp };
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
		vp->q[i].kick_fd = -1;
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_VECTORS; i++) {
		vp->irq_fd[i] = -1;
		vp->msix[i].ctrl = 1; /* masked at reset */
	}
	build_cfg(vp);
	reset(vp);
	return vp;
}

const struct virtio_transport *virtio_pci_transport(struct virtio_pci *vp)
{
	return &vp->t;
}

int virtio_pci_attach(struct virtio_pci *vp, void *dev)
{
	vp->dev = dev;
	for (unsigned i = 0; i < vp->nq; i++) {
		vp->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vp->kick[i] = (struct kick_ctx){ vp, i };
		if (vp->q[i].kick_fd < 0)
			return -errno;
		if (vp->h->ioeventfd(vp->h->opaque, vp->bar + NOTIFY + NOTIFY_MULT * i, 2,
				     vp->q[i].kick_fd) ||
		    vp->h->watch(vp->h->opaque, vp->q[i].kick_fd, on_kick, &vp->kick[i]))
			return -EIO;
	}
	for (unsigned v = 0; v < vp->nvec; v++) {
		vp->irq_fd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->irq_fd[v] < 0)
			return -errno; /* bound to its GSI on first use (msix_route) */
	}
	return 0;
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

/* What a record holds, read and checked before any of it is used. */
struct saved {
	uint16_t cmd;
	uint8_t line, msix_ctl, win_bar;
	uint32_t win_off, win_len;
	bool bar_sizing[2];
	uint32_t dfselect, gfselect;
	uint64_t driver_features, pending;
	uint16_t msix_config, qsel;
	uint8_t status, isr, generation;
	struct vpq q[VIRTIO_PCI_MAX_QUEUES];
	struct vq vq[VIRTIO_PCI_MAX_QUEUES];
	struct msix_entry msix[VIRTIO_PCI_MAX_VECTORS];
};

static void save_queue(const struct virtio_pci *vp, unsigned i, struct state_writer *w)
{
	const struct vpq *q = &vp->q[i];

	state_put_u16(w, q->size);
	state_put_u16(w, q->vector);
	state_put_bool(w, q->enabled);
	state_put_u64(w, q->desc);
	state_put_u64(w, q->driver);
	state_put_u64(w, q->device);
	vq_save(&vp->vq[i], w);
}

static void save_locked(struct virtio_pci *vp, struct state_writer *w)
{
	state_begin(w, STATE_KIND_VIRTIO_PCI, STATE_VERSION);
	state_put_u16(w, vp->ops->device_id);
	state_put_u16(w, (uint16_t)vp->nq);
	state_put_u16(w, (uint16_t)ld_le(vp->cfg + 0x04, 2));
	state_put_u8(w, vp->cfg[0x3c]);
	state_put_u8(w, vp->cfg[CAP_MSIX + 3] & 0xc0);
	state_put_u8(w, vp->cfg[CAP_PCICFG + 4]);
	state_put_u32(w, (uint32_t)ld_le(vp->cfg + CAP_PCICFG + 8, 4));
	state_put_u32(w, (uint32_t)ld_le(vp->cfg + CAP_PCICFG + 12, 4));
	state_put_bool(w, vp->bar_sizing[0]);
	state_put_bool(w, vp->bar_sizing[1]);
	state_put_u32(w, vp->dfselect);
	state_put_u32(w, vp->gfselect);
	state_put_u64(w, vp->driver_features);
	state_put_u16(w, vp->msix_config);
	state_put_u16(w, vp->qsel);
	state_put_u8(w, vp->status);
	state_put_u8(w, vp->isr);
	state_put_u8(w, 0); /* config generation: the config never changes */
	for (unsigned i = 0; i < vp->nq; i++)
		save_queue(vp, i, w);
	for (unsigned v = 0; v < vp->nvec; v++) {
		state_put_u32(w, vp->msix[v].addr_lo);
		state_put_u32(w, vp->msix[v].addr_hi);
		state_put_u32(w, vp->msix[v].data);
		state_put_u32(w, vp->msix[v].ctrl);
	}
	state_put_u64(w, vp->pending);
}

int virtio_pci_save(struct virtio_pci *vp, struct state_writer *w)
{
	int ret = 0;

	if (!vp->dev)
		return -EINVAL; /* not attached: no device to save */
	pthread_mutex_lock(&vp->lock);
	save_locked(vp, w);
	if (vp->ops->save && !w->err)
		ret = vp->ops->save(vp->dev, w);
	if (ret && !w->err)
		w->err = ret; /* a record without its device's part is no record */
	state_end(w);
	pthread_mutex_unlock(&vp->lock);
	return ret ? ret : w->err;
}

static void read_queue(struct virtio_pci *vp, struct saved *s, unsigned i, struct state_reader *r)
{
	struct vpq *q = &s->q[i];

	state_get_u16(r, &q->size);
	state_get_u16(r, &q->vector);
	state_get_bool(r, &q->enabled);
	state_get_u64(r, &q->desc);
	state_get_u64(r, &q->driver);
	state_get_u64(r, &q->device);
	if (!r->err)
		vq_restore(&s->vq[i], vp->h->gm, vp->ops->queue_max, r);
}

/* Reads the transport's fields (up to the device's record) into @s. */
static int read_saved(struct virtio_pci *vp, struct saved *s, struct state_reader *r)
{
	uint16_t id, nq;

	state_enter(r, STATE_KIND_VIRTIO_PCI, STATE_VERSION, NULL);
	state_get_u16(r, &id);
	state_get_u16(r, &nq);
	if (!r->err && (id != vp->ops->device_id || nq != vp->nq))
		return state_fail(r, -EINVAL); /* another kind of device */
	state_get_u16(r, &s->cmd);
	state_get_u8(r, &s->line);
	state_get_u8(r, &s->msix_ctl);
	state_get_u8(r, &s->win_bar);
	state_get_u32(r, &s->win_off);
	state_get_u32(r, &s->win_len);
	state_get_bool(r, &s->bar_sizing[0]);
	state_get_bool(r, &s->bar_sizing[1]);
	state_get_u32(r, &s->dfselect);
	state_get_u32(r, &s->gfselect);
	state_get_u64(r, &s->driver_features);
	state_get_u16(r, &s->msix_config);
	state_get_u16(r, &s->qsel);
	state_get_u8(r, &s->status);
	state_get_u8(r, &s->isr);
	state_get_u8(r, &s->generation);
	for (unsigned i = 0; i < vp->nq; i++)
		read_queue(vp, s, i, r);
	for (unsigned v = 0; v < vp->nvec; v++) {
		state_get_u32(r, &s->msix[v].addr_lo);
		state_get_u32(r, &s->msix[v].addr_hi);
		state_get_u32(r, &s->msix[v].data);
		state_get_u32(r, &s->msix[v].ctrl);
	}
	state_get_u64(r, &s->pending);
	return r->err;
}

static bool vector_ok(const struct virtio_pci *vp, uint16_t v)
{
	return v == NO_VECTOR || v < vp->nvec;
}

/* A queue as the transport could have left it: an enabled one is exactly
 * its mapped virtqueue. */
static bool queue_ok(const struct virtio_pci *vp, const struct vpq *q, const struct vq *vq)
{
	if (!vector_ok(vp, q->vector) || q->enabled != vq->ready)
		return false;
	return !q->enabled || (q->size == vq->size && q->desc == vq->desc_gpa &&
			       q->driver == vq->avail_gpa && q->device == vq->used_gpa);
}

/* Only states the guest's writes can reach (common_write, set_status,
 * cfg_write, the MSI-X table). */
static bool saved_ok(struct virtio_pci *vp, const struct saved *s)
{
	uint64_t offered = vp->ops->features(vp->dev);
	uint8_t status_bits = DRIVER_BITS | VIRTIO_STATUS_NEEDS_RESET;

	if ((s->cmd & ~0x0406) || (s->msix_ctl & ~0xc0) || s->generation != 0 || (s->isr & ~3) ||
	    (s->status & ~status_bits) || !vector_ok(vp, s->msix_config) ||
	    (s->pending >> vp->nvec))
		return false;
	if ((s->status & VIRTIO_STATUS_DRIVER_OK) && !(s->status & VIRTIO_STATUS_FEATURES_OK))
		return false;
	if ((s->status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((s->driver_features & ~offered) || !((s->driver_features >> VIRTIO_F_VERSION_1) & 1)))
		return false;
	for (unsigned i = 0; i < vp->nq; i++)
		if (!queue_ok(vp, &s->q[i], &s->vq[i]))
			return false;
	for (unsigned v = 0; v < vp->nvec; v++)
		if (s->msix[v].ctrl & ~1u)
			return false;
	return true;
}

static void apply(struct virtio_pci *vp, const struct saved *s)
{
	reset(vp); /* the device forgets its queues */
	st_le(vp->cfg + 0x04, s->cmd, 2);
	vp->cfg[0x3c] = s->line;
	vp->cfg[CAP_MSIX + 3] = (vp->cfg[CAP_MSIX + 3] & 0x3f) | s->msix_ctl;
	vp->cfg[CAP_PCICFG + 4] = s->win_bar;
	st_le(vp->cfg + CAP_PCICFG + 8, s->win_off, 4);
	st_le(vp->cfg + CAP_PCICFG + 12, s->win_len, 4);
	memcpy(vp->bar_sizing, s->bar_sizing, sizeof(vp->bar_sizing));
	vp->dfselect = s->dfselect;
	vp->gfselect = s->gfselect;
	vp->driver_features = s->driver_features;
	vp->msix_config = s->msix_config;
	vp->qsel = s->qsel;
	vp->status = s->status;
	vp->isr = s->isr;
	for (unsigned i = 0; i < vp->nq; i++) {
		int fd = vp->q[i].kick_fd;

		vp->q[i] = s->q[i];
		vp->q[i].kick_fd = fd;
		vp->vq[i] = s->vq[i];
	}
	memcpy(vp->msix, s->msix, sizeof(vp->msix[0]) * vp->nvec);
	vp->pending = s->pending;
	if (vp->status & VIRTIO_STATUS_DRIVER_OK)
		start(vp);
}

static int restore_locked(struct virtio_pci *vp, struct state_reader *r)
{
	struct saved *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return state_fail(r, -ENOMEM);
	if (read_saved(vp, s, r))
		goto out;
	if (!saved_ok(vp, s)) {
		state_fail(r, -EINVAL);
		goto out;
	}
	apply(vp, s);
	if (vp->ops->restore && (ret = vp->ops->restore(vp->dev, r)))
		state_fail(r, ret);
	if (state_leave(r)) {
		reset(vp); /* the device's part failed: a clean slate */
		goto out;
	}
	intx_update(vp);
out:
	ret = r->err;
	free(s);
	return ret;
}

int virtio_pci_restore(struct virtio_pci *vp, struct state_reader *r)
{
	int ret;

	if (!vp->dev)
		return state_fail(r, -EINVAL); /* not attached */
	pthread_mutex_lock(&vp->lock);
	ret = restore_locked(vp, r);
	pthread_mutex_unlock(&vp->lock);
	for (unsigned i = 0; !ret && i < vp->nq; i++)
		if (vp->q[i].enabled && vp->q[i].kick_fd >= 0)
			eventfd_write(vp->q[i].kick_fd, 1); /* a kick may have been pending */
	return ret;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
		if (vp->q[i].kick_fd >= 0)
			close(vp->q[i].kick_fd);
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_VECTORS; i++)
		if (vp->irq_fd[i] >= 0)
			close(vp->irq_fd[i]);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}
