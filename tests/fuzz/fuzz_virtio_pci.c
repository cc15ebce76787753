// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the virtio-pci transport driven by a hostile driver.
 * The input is a program of register accesses: PCI configuration reads and
 * writes, BAR 0 reads and writes (common configuration, ISR, device
 * configuration, notify, MSI-X table and PBA), writes to guest RAM (rings
 * and buffers), queue kicks and device interrupts, against a virtio-rng
 * behind the transport and a fake host. ASan/UBSan catch the rest.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hearth/virtio_pci.h"

#include "fake_host.h"

#define RAM (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	static struct guest_mem gm;
	static struct virtio_pci_host h;
	static int ready;
	struct virtio_pci *vp;
	struct virtio_rng *rng;
	const struct virtio_transport *t;

	if (!ready) {
		if (gm_create(&gm, RAM, false))
			return 0;
		h = (struct virtio_pci_host){ .gm = &gm,
					      .ioeventfd = ok_ioeventfd,
					      .irqfd = ok_irqfd,
					      .msi_route = ok_route,
					      .set_intx = ok_intx,
					      .watch = ok_watch };
		ready = 1;
	}
	memset(gm_ptr(&gm, 0, RAM), 0, RAM);
	vp = virtio_pci_create(&h, &virtio_rng_ops, 0xc0000000ULL, 24, 16);
	if (!vp)
		return 0;
	t = virtio_pci_transport(vp);
	rng = virtio_rng_create(&gm, t);
	if (!rng || virtio_pci_attach(vp, rng))
		goto out;
	/* each step: op, 2 offset bytes, 8 value bytes */
	for (size_t i = 0; i + 11 <= len; i += 11) {
		uint8_t op = in[i];
		uint32_t off = (uint32_t)in[i + 1] | (uint32_t)in[i + 2] << 8;
		size_t n = (size_t)1 << ((op >> 3) & 3); /* 1, 2, 4, 8 */
		uint64_t v, scratch = 0;

		memcpy(&v, in + i + 3, 8);
		switch (op & 7) {
		case 0: virtio_pci_cfg_ops.cfg_read(vp, off & 0x1ff, n > 4 ? 4 : n); break;
		case 1:
			virtio_pci_cfg_ops.cfg_write(vp, off & 0xff, (uint32_t)v, n > 4 ? 4 : n);
			break;
		case 2:
			/* the bus hands the device accesses inside its range */
			off = (off << 1) % (VIRTIO_PCI_BAR_SIZE - 8);
			virtio_pci_bar_ops.read(vp, off, &scratch, n);
			break;
		case 3:
			off = (off << 1) % (VIRTIO_PCI_BAR_SIZE - 8);
			virtio_pci_bar_ops.write(vp, off, &v, n);
			break;
		case 4:
			if (kick_cb)
				kick_cb(kick_arg, 1);
			break;
		case 5: memcpy((uint8_t *)gm_ptr(&gm, 0, RAM) + (off % (RAM - 8)), &v, 8); break;
		default: t->notify(t->opaque, (int)(v % 3) - 1); break;
		}
	}
out:
	virtio_pci_destroy(vp);
	virtio_rng_destroy(rng);
	return 0;
}
