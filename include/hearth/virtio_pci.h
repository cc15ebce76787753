/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci, modern (virtio 1.x) transport: one PCI function per device
 * with a 64-bit memory BAR holding the common, ISR, device and notify
 * structures and the MSI-X table and PBA. Queue kicks arrive on ioeventfds
 * (no exit to hearth), interrupts leave through irqfds on MSI routes. The
 * VM supplies those services through struct virtio_pci_host, so the
 * transport is testable without KVM.
 */
#ifndef HEARTH_VIRTIO_PCI_H
#define HEARTH_VIRTIO_PCI_H

#include "hearth/bus.h"
#include "hearth/dev.h"
#include "hearth/virtio.h"

#define VIRTIO_PCI_BAR_SIZE    0x8000
#define VIRTIO_PCI_MAX_QUEUES  4
#define VIRTIO_PCI_MAX_VECTORS (VIRTIO_PCI_MAX_QUEUES + 1)

struct virtio_pci_host {
	const struct guest_mem *gm;
	void *opaque;
	/* Kick @fd when the guest writes @len bytes at guest-physical @addr. */
	int (*ioeventfd)(void *opaque, uint64_t addr, unsigned len, int fd);
	/* Inject GSI @gsi when @fd is written. */
	int (*irqfd)(void *opaque, unsigned gsi, int fd);
	/* Route GSI @gsi to the MSI (@addr, @data). */
	int (*msi_route)(void *opaque, unsigned gsi, uint64_t addr, uint32_t data);
	/* Set INTx line @gsi to @level (1 asserted). */
	int (*set_intx)(void *opaque, unsigned gsi, int level);
	/* Call @cb(@arg) on the I/O thread when @fd is readable. */
	int (*watch)(void *opaque, int fd, void (*cb)(void *arg, uint32_t events), void *arg);
};

struct virtio_pci;

/* A function for device @ops with its BAR at @bar (aligned to the BAR
 * size), MSI-X vectors on GSIs @first_gsi onwards and INTA on GSI
 * @intx_gsi. NULL on failure. */
struct virtio_pci *virtio_pci_create(const struct virtio_pci_host *h,
				     const struct virtio_dev_ops *ops, uint64_t bar,
				     unsigned first_gsi, unsigned intx_gsi);
const struct virtio_transport *virtio_pci_transport(struct virtio_pci *vp);
/* Binds the device and sets up kicks and interrupts. Returns 0 or -errno. */
int virtio_pci_attach(struct virtio_pci *vp, void *dev);
void virtio_pci_destroy(struct virtio_pci *vp);
unsigned virtio_pci_vectors(const struct virtio_dev_ops *ops);
/* Guest notifications (queue kicks) seen and interrupts sent (MSI-X
 * messages and INTx assertions) since creation; any thread. */
void virtio_pci_counts(const struct virtio_pci *vp, uint64_t *kicks, uint64_t *interrupts);

/*
 * State (docs/state.md). virtio_pci_save writes one record: the PCI
 * configuration registers a driver writes, the common configuration
 * (status, features, selectors, vectors), each queue's set-up and its
 * virtqueue record, the MSI-X table and pending bits, and nested last the
 * device's own record (ops->save). Returns 0, the writer's error, or the
 * device's (virtio-blk: -EBUSY while requests are in flight), which then
 * sticks to @w: a record without its device's part is never finished.
 *
 * virtio_pci_restore reads it back into a transport created and attached
 * like the saved one (same device type, its backend re-opened) over guest
 * memory that already holds the saved contents, with no vCPU running.
 * Everything of the transport is checked before anything changes: a record
 * it refuses leaves it unchanged. Once the transport's part passed, the
 * device is reset, started again if the driver had set DRIVER_OK, and
 * given its record; if that is refused, the whole function is left reset
 * (as after a write of 0 to the status), which a driver recovers from.
 * Each enabled queue then gets one kick, so a kick the saved device had
 * not yet served is not lost. Returns 0, -EBADMSG/-EPROTONOSUPPORT from
 * the reader, or -EINVAL for values this transport cannot hold.
 */
int virtio_pci_save(struct virtio_pci *vp, struct state_writer *w);
int virtio_pci_restore(struct virtio_pci *vp, struct state_reader *r);

extern const struct pci_func_ops virtio_pci_cfg_ops; /* opaque: struct virtio_pci */
extern const struct bus_ops virtio_pci_bar_ops;	     /* at bar, VIRTIO_PCI_BAR_SIZE */

#endif
