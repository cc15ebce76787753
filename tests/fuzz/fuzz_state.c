// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: device state records as a corrupt or hostile snapshot
 * file would hold them (docs/state.md). The first byte picks a device (or
 * one of KVM's records, 8 and 9), the rest is the record its restore reads. A record that is accepted must
 * leave a device that works: the harness then drives it (register reads
 * and writes, a queue kick over the restored rings) and saves it again,
 * and that record must restore. ASan/UBSan catch the rest.
 */
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hearth/abi.h"
#include "hearth/blkio.h"
#include "hearth/dev.h"
#include "hearth/state.h"
#include "hearth/vcpu.h"
#include "hearth/vcpu_state.h"
#include "hearth/virtio_net.h"
#include "hearth/virtio_pci.h"

#include "fake_host.h"

#define RAM (64 * 1024)
#define BAR 0xc0000000ULL

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

static int set_line(void *o, unsigned gsi, int level)
{
	(void)o, (void)gsi, (void)level;
	return 0;
}
static void stop(void *o, enum vm_stop_reason why, int status)
{
	(void)o, (void)why, (void)status;
}
static void marker(void *o, unsigned v)
{
	(void)o, (void)v;
}

static const struct irq_chip chip = { set_line, NULL };
static const struct vm_ctl ctl = { stop, marker, NULL };

/* Every register of @ops at offsets below @n, read and written back. */
static void poke(const struct bus_ops *ops, void *dev, unsigned n)
{
	for (unsigned off = 0; off < n; off++) {
		uint8_t b = 0;

		ops->read(dev, off, &b, 1);
		ops->write(dev, off, &b, 1);
	}
}

/* Saves with @save and restores the result with @restore into @dev:
 * what a device writes, it must take back. */
#define RESAVE(save, restore, dev)                                   \
	do {                                                         \
		struct state_writer w_;                              \
		struct state_reader r_;                              \
		size_t n_ = 0;                                       \
		state_writer_init_alloc(&w_);                        \
		if (save(dev, &w_) || state_writer_finish(&w_, &n_)) \
			abort();                                     \
		state_reader_init(&r_, w_.buf, n_);                  \
		if (restore(dev, &r_) || state_reader_finish(&r_))   \
			abort();                                     \
		state_writer_free(&w_);                              \
	} while (0)

static void platform(unsigned which, struct state_reader *r)
{
	struct uart_cfg ucfg = { &chip, 4, NULL, NULL, NULL };
	struct uart *u;
	struct rtc *c;
	struct i8042 *k;
	struct pci_host *p;
	struct exitdev *e;

	switch (which) {
	case 0:
		u = uart_create(&ucfg);
		if (u && !uart_restore(u, r)) {
			RESAVE(uart_save, uart_restore, u);
			for (int i = 0; i < 3; i++)
				poke(&uart_ops, u, 8);
		}
		uart_destroy(u);
		break;
	case 1:
		c = rtc_create(1 << 20, 0);
		if (c && !rtc_restore(c, r)) {
			RESAVE(rtc_save, rtc_restore, c);
			poke(&rtc_ops, c, 2);
		}
		rtc_destroy(c);
		break;
	case 2:
		k = i8042_create(&chip, 1, &ctl);
		if (k && !i8042_restore(k, r)) {
			RESAVE(i8042_save, i8042_restore, k);
			poke(&i8042_data_ops, k, 1);
			poke(&i8042_cmd_ops, k, 1);
			i8042_send_ctrl_alt_del(k);
		}
		i8042_destroy(k);
		break;
	case 3:
		p = pci_host_create(&ctl);
		if (p && !pci_host_restore(p, r)) {
			RESAVE(pci_host_save, pci_host_restore, p);
			poke(&pci_host_ops, p, 8);
		}
		pci_host_destroy(p);
		break;
	default:
		e = exitdev_create(&ctl, &chip, HEARTH_IRQ_SCI);
		if (e && !exitdev_restore(e, r)) {
			RESAVE(exitdev_save, exitdev_restore, e);
			poke(&exitdev_acpi_pm1_ops, e, 6);
		}
		exitdev_destroy(e);
		break;
	}
}

static int tap[2] = { -1, -1 }; /* tap[0] is dup'ed for each NIC */
static char disk[64];		/* a memfd's name under /proc/self/fd */

/* Device @which (0 rng, 1 net, 2 blk) behind its transport; NULL if the
 * host side could not be set up. */
static void *make_dev(unsigned which, struct guest_mem *gm, struct virtio_pci *vp)
{
	const struct virtio_transport *t = virtio_pci_transport(vp);
	struct virtio_net_cfg nc = { .mac = { 2, 0, 0, 0, 0, 1 }, .name = "fuzz" };
	struct virtio_blk_cfg bc = { .serial = "fuzz" };
	struct blkio_file_opts o = { .path = disk, .engine = "sync" };
	char why[128];

	switch (which) {
	case 0: return virtio_rng_create(gm, t);
	case 1:
		nc.tap_fd = dup(tap[0]);
		return nc.tap_fd < 0 ? NULL : virtio_net_create(&nc, gm, t);
	default:
		if (blkio_file_open(&bc.io, &o, why, sizeof(why)))
			return NULL;
		return virtio_blk_create(&bc, gm, t);
	}
}

static void destroy_dev(unsigned which, void *dev)
{
	if (which == 0)
		virtio_rng_destroy(dev);
	else if (which == 1)
		virtio_net_destroy(dev);
	else
		virtio_blk_destroy(dev);
}

/* A virtio device behind the transport, restored, then driven: a queue
 * kicked over the restored rings (and for a NIC a frame received, for a
 * disk its completions reaped), every register of BAR 0 read. */
static void virtio(unsigned which, struct guest_mem *gm, struct virtio_pci_host *h,
		   struct state_reader *r)
{
	static const struct virtio_dev_ops *const ops[] = { &virtio_rng_ops, &virtio_net_ops,
							    &virtio_blk_ops };
	struct virtio_pci *vp = virtio_pci_create(h, ops[which], BAR, 24, 16);
	void *dev = vp ? make_dev(which, gm, vp) : NULL;
	static const uint8_t frame[12 + 60];

	if (dev && !virtio_pci_attach(vp, dev) && !virtio_pci_restore(vp, r)) {
		RESAVE(virtio_pci_save, virtio_pci_restore, vp);
		if (kick_cb)
			kick_cb(kick_arg, 1);
		if (which == 1 && write(tap[1], frame, sizeof(frame)) > 0)
			virtio_net_rx(dev, POLLIN);
		if (which == 2)
			virtio_blk_complete(dev, 0);
		for (uint64_t off = 0; off < 0x6000; off += off < 0x40 ? 4 : 0x400) {
			uint32_t v;

			virtio_pci_bar_ops.read(vp, off, &v, 4);
		}
	}
	virtio_pci_destroy(vp);
	if (dev)
		destroy_dev(which, dev);
	kick_cb = NULL;
}

/* The TAP's and the disk's host sides, once. */
static int host_once(void)
{
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 1 << 20) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, tap))
		return -1;
	snprintf(disk, sizeof(disk), "/proc/self/fd/%d", fd);
	return 0;
}

/* KVM's records (vcpu_state.h), 0 a vCPU's and 1 the VM's, with no KVM:
 * the descriptors are -1, so a record that passes every check ends at its
 * first KVM_SET_* with EBADF. What is fuzzed is the reading and checking,
 * which must refuse without touching anything past the record. */
static void kvm_record(unsigned which, struct state_reader *r)
{
	struct vcpu v = { .index = 0, .fd = -1, .xsave_size = 4096, .xcrs = true };

	if (which == 0)
		vcpu_state_restore(&v, r, NULL, 0);
	else
		vm_kvm_state_restore(-1, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	static struct guest_mem gm;
	static struct virtio_pci_host h;
	static int ready;
	struct state_reader r;

	if (!ready) {
		if (gm_create(&gm, RAM, false) || host_once())
			return 0;
		h = (struct virtio_pci_host){ .gm = &gm,
					      .ioeventfd = ok_ioeventfd,
					      .irqfd = ok_irqfd,
					      .msi_route = ok_route,
					      .set_intx = ok_intx,
					      .watch = ok_watch };
		ready = 1;
	}
	if (len < 1)
		return 0;
	state_reader_init(&r, in + 1, len - 1);
	if (in[0] % 10 >= 8)
		kvm_record(in[0] % 10 - 8u, &r);
	else if (in[0] % 10 >= 5)
		virtio(in[0] % 10 - 5u, &gm, &h, &r);
	else
		platform(in[0] % 10, &r);
	return 0;
}
