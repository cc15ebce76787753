// SPDX-License-Identifier: MIT
#include "hearth/devices.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hearth/abi.h"
#include "hearth/blkio.h"
#include "hearth/console.h"
#include "hearth/dev.h"
#include "hearth/iscsi.h"
#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/tap.h"
#include "hearth/virtio.h"
#include "hearth/virtio_net.h"

#define MSI_GSI_BASE 24 /* after the I/O APIC's 24 pins */

static int irq_line(void *opaque, unsigned gsi, int level)
{
	struct devices *d = opaque;
	struct kvm_irq_level l = { .irq = gsi, .level = (uint32_t)level };

	return ioctl(d->env.vm_fd, KVM_IRQ_LINE, &l) ? -errno : 0;
}

void devices_init(struct devices *d, const struct devices_env *env)
{
	*d = (struct devices){ .env = *env };
	d->irq = (struct irq_chip){ irq_line, d };
}

/* ---- services for virtio-pci (struct virtio_pci_host) ---- */

static int host_ioeventfd(void *opaque, uint64_t addr, unsigned len, int fd)
{
	struct devices *d = opaque;
	struct kvm_ioeventfd io = { .addr = addr, .len = len, .fd = fd };

	return ioctl(d->env.vm_fd, KVM_IOEVENTFD, &io) ? -errno : 0;
}

static int host_irqfd(void *opaque, unsigned gsi, int fd)
{
	struct devices *d = opaque;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	return ioctl(d->env.vm_fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

/* Sets the MSI route of @gsi (called from vCPU threads as the guest
 * programs MSI-X tables). */
static int host_msi_route(void *opaque, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct devices *d = opaque;

	return irq_routes_set_msi(d->env.routes, gsi, addr, data);
}

static int host_watch(void *opaque, int fd, void (*cb)(void *arg, uint32_t events), void *arg)
{
	struct devices *d = opaque;

	return loop_watch(d->loop, fd, cb, arg) < 0 ? -EIO : 0;
}

static int add_virtio(struct devices *d, struct failure *f, const struct virtio_dev_ops *ops,
		      struct virtio_pci **out, const char *what)
{
	uint64_t bar = HEARTH_MMIO_HOLE_START + (uint64_t)d->n_vpci * VIRTIO_PCI_BAR_SIZE;
	unsigned slot = d->n_vpci + 1, gsi = MSI_GSI_BASE + d->n_vpci * VIRTIO_PCI_MAX_VECTORS;
	struct virtio_pci *vp = virtio_pci_create(&d->vhost, ops, bar, gsi, irq_pci_intx_gsi(slot));

	if (!vp)
		return failure_set(f, -ENOMEM, HEARTH_EXIT_HOST, "cannot create the %s device",
				   what);
	d->vpci[d->n_vpci++] = vp;
	if (pci_host_add(d->pci, slot << 3, &virtio_pci_cfg_ops, vp) ||
	    bus_register(d->env.mmio, bar, VIRTIO_PCI_BAR_SIZE, &virtio_pci_bar_ops, vp))
		return failure_set(f, -EIO, HEARTH_EXIT_HOST, "cannot place the %s device on PCI",
				   what);
	*out = vp;
	return 0;
}

/* --net: one virtio-net function per TAP (docs/net.md) */
static int setup_nets(struct devices *d, struct failure *f)
{
	const struct vm_config *cfg = d->env.cfg;
	char why[300];

	for (unsigned i = 0; i < cfg->n_nets; i++) {
		const struct net_config *c = &cfg->nets[i];
		struct virtio_net_cfg nc = { .loop = d->loop, .name = c->tap };
		struct virtio_pci *vp;
		bool created;
		int ret;

		nc.tap_fd = tap_open(c->tap, &created, why, sizeof(why));
		if (nc.tap_fd < 0)
			return failure_set(f, nc.tap_fd, HEARTH_EXIT_USAGE, "--net: %s", why);
		nc.mtu = tap_mtu(c->tap);
		virtio_net_mac_of(c->tap, c->has_mac ? c->mac : NULL, d->mac[i]);
		memcpy(nc.mac, d->mac[i], sizeof(nc.mac));
		ret = add_virtio(d, f, &virtio_net_ops, &vp, "virtio-net");
		if (ret) {
			close(nc.tap_fd);
			return ret;
		}
		d->net[i] = virtio_net_create(&nc, d->env.gm, virtio_pci_transport(vp));
		if (!d->net[i]) {
			close(nc.tap_fd);
			return failure_set(f, -ENOMEM, HEARTH_EXIT_HOST,
					   "cannot create the virtio-net device");
		}
		log_info("nic %u: TAP %s%s, MAC %02x:%02x:%02x:%02x:%02x:%02x", i, c->tap,
			 created ? " (created, removed on exit)" : "", nc.mac[0], nc.mac[1],
			 nc.mac[2], nc.mac[3], nc.mac[4], nc.mac[5]);
		if (virtio_pci_attach(vp, d->net[i]))
			return failure_set(f, -EIO, HEARTH_EXIT_HOST,
					   "cannot wire the virtio-net device to KVM");
	}
	return 0;
}

/* --disk number @i: its backend (an iSCSI LUN or a file, peers behind
 * blkio.h) and its virtio-blk function. */
static int add_disk(struct devices *d, struct failure *f, unsigned i)
{
	const struct disk_config *dc = &d->env.cfg->disks[i];
	struct virtio_blk_cfg bc = { .readonly = dc->readonly, .discard = dc->discard };
	char name[sizeof(dc->iscsi.url)], why[300];
	struct virtio_pci *vp;
	int ret;

	_Static_assert(CONFIG_INITIATOR_MAX <= ISCSI_TARGET_MAX, "an initiator= fits iscsi_blk");

	/* the backend: an iSCSI LUN or a file, peers behind blkio.h */
	if (dc->kind == DISK_ISCSI) {
		const struct disk_iscsi *c = &dc->iscsi;
		struct iscsi_blk_opts o = { .url = c->url,
					    .url_password = c->url_password,
					    .secret = c->secret[0] ? c->secret : NULL,
					    .timeout_ms = c->timeout_ms,
					    .readonly = dc->readonly,
					    .discard = dc->discard,
					    .initiator = c->initiator[0] ? c->initiator : NULL };

		iscsi_url_redact(c->url, name, sizeof(name));
		ret = iscsi_blk_open(&bc.io, &o, why, sizeof(why));
	} else {
		struct blkio_file_opts o = { .path = dc->file.path,
					     .readonly = dc->readonly,
					     .direct = dc->file.direct,
					     .engine = config_disk_engine_names[dc->file.engine] };

		snprintf(name, sizeof(name), "%s", dc->file.path);
		ret = blkio_file_open(&bc.io, &o, why, sizeof(why));
	}
	if (ret)
		/* a disk in use, or a target or network that refused,
		 * has its own exit code */
		return failure_set(f, ret,
				   ret == -EBUSY || (dc->kind == DISK_ISCSI && ret != -EINVAL)
					   ? HEARTH_EXIT_DISK
					   : HEARTH_EXIT_USAGE,
				   "--disk: %s", why);
	memcpy(bc.serial, dc->serial, sizeof(bc.serial));
	if (blkio_size(bc.io) < 512) {
		blkio_close(bc.io);
		return failure_set(f, -EINVAL, HEARTH_EXIT_USAGE,
				   "--disk: '%s' is smaller than one sector", name);
	}
	ret = add_virtio(d, f, &virtio_blk_ops, &vp, "virtio-blk");
	if (ret) {
		blkio_close(bc.io);
		return ret;
	}
	log_info("disk vd%c: %s, %llu sectors%s%s, %s", 'a' + i, name,
		 (unsigned long long)(blkio_size(bc.io) / 512),
		 dc->readonly || blkio_readonly(bc.io) ? ", read-only" : "",
		 dc->kind == DISK_FILE && dc->file.direct ? ", O_DIRECT" : "", blkio_engine(bc.io));
	d->blk[i] = virtio_blk_create(&bc, d->env.gm, virtio_pci_transport(vp));
	if (!d->blk[i]) {
		blkio_close(bc.io);
		return failure_set(f, -ENOMEM, HEARTH_EXIT_HOST,
				   "cannot create the virtio-blk device");
	}
	if (virtio_pci_attach(vp, d->blk[i]) ||
	    blkio_attach(bc.io, d->loop, virtio_blk_complete, d->blk[i]) ||
	    virtio_blk_set_loop(d->blk[i], d->loop) ||
	    (blkio_pollable(bc.io) && virtio_blk_set_poller(d->blk[i], d->loop)))
		return failure_set(f, -EIO, HEARTH_EXIT_HOST,
				   "cannot wire the virtio-blk device to KVM");
	return 0;
}

int devices_create_virtio(struct devices *d, struct loop *loop, struct failure *f)
{
	const struct vm_config *cfg = d->env.cfg;
	struct virtio_pci *vp;
	int ret;

	d->loop = loop;
	d->vhost = (struct virtio_pci_host){
		.gm = d->env.gm,
		.opaque = d,
		.ioeventfd = host_ioeventfd,
		.irqfd = host_irqfd,
		.msi_route = host_msi_route,
		.set_intx = irq_line,
		.watch = host_watch,
	};
	for (unsigned i = 0; i < cfg->n_disks; i++) {
		ret = add_disk(d, f, i);
		if (ret)
			return ret;
	}
	ret = setup_nets(d, f);
	if (ret)
		return ret;
	loop_set_poll_ns(d->loop, (uint64_t)cfg->io_poll_us * 1000);
	ret = add_virtio(d, f, &virtio_rng_ops, &vp, "virtio-rng");
	if (ret)
		return ret;
	d->rng = virtio_rng_create(d->env.gm, virtio_pci_transport(vp));
	if (!d->rng || virtio_rng_set_loop(d->rng, d->loop) || virtio_pci_attach(vp, d->rng))
		return failure_set(f, -EIO, HEARTH_EXIT_HOST,
				   "cannot wire the virtio-rng device to KVM");
	return 0;
}

static int add_pio(struct devices *d, struct failure *f, uint64_t base, uint64_t len,
		   const struct bus_ops *ops, void *dev, const char *name)
{
	int ret = bus_register(d->env.pio, base, len, ops, dev);

	if (ret == -EEXIST)
		return failure_set(f, ret, HEARTH_EXIT_USAGE,
				   "%s at port 0x%llx overlaps another device", name,
				   (unsigned long long)base);
	if (ret)
		return failure_set(f, ret, HEARTH_EXIT_HOST, "cannot register %s: %s", name,
				   strerror(-ret));
	return 0;
}

int devices_create_platform(struct devices *d, struct failure *f)
{
	const struct vm_config *cfg = d->env.cfg;
	int ret;

	d->kbd = i8042_create(&d->irq, HEARTH_IRQ_KBD, d->env.ctl);
	d->rtc = rtc_create(gm_low_size(d->env.gm), gm_high_size(d->env.gm));
	d->pci = pci_host_create(d->env.ctl);
	d->exitdev = exitdev_create(d->env.ctl, &d->irq, HEARTH_IRQ_SCI);
	if (!d->kbd || !d->rtc || !d->pci || !d->exitdev)
		return failure_set(f, -ENOMEM, HEARTH_EXIT_HOST,
				   "cannot create the platform devices");
	ret = add_pio(d, f, HEARTH_PORT_I8042_DATA, 1, &i8042_data_ops, d->kbd, "i8042");
	if (!ret)
		ret = add_pio(d, f, HEARTH_PORT_I8042_CMD, 1, &i8042_cmd_ops, d->kbd, "i8042");
	if (!ret)
		ret = add_pio(d, f, HEARTH_PORT_RTC, 2, &rtc_ops, d->rtc, "RTC");
	if (!ret)
		ret = add_pio(d, f, HEARTH_PORT_PCI_ADDR, 8, &pci_host_ops, d->pci, "PCI host");
	if (!ret)
		ret = add_pio(d, f, cfg->exit_port, 2, &exitdev_ops, d->exitdev, "exit device");
	if (!ret)
		ret = add_pio(d, f, HEARTH_PORT_ACPI_SLEEP, 2, &exitdev_acpi_sleep_ops, d->exitdev,
			      "ACPI sleep registers");
	if (!ret)
		ret = add_pio(d, f, HEARTH_PORT_ACPI_PM1, 6, &exitdev_acpi_pm1_ops, d->exitdev,
			      "ACPI PM1 registers");
	if (!ret && cfg->qemu_exit)
		ret = add_pio(d, f, cfg->qemu_exit_port, 2, &exitdev_qemu_ops, d->exitdev,
			      "QEMU exit device");
	return ret;
}

int devices_create_console(struct devices *d, struct failure *f)
{
	struct uart_cfg ucfg = { .irq = &d->irq, .gsi = HEARTH_IRQ_COM1 };
	int ret = console_open(&d->console, d->env.cfg, f->msg, f->len);

	if (ret) {
		f->exit_code = HEARTH_EXIT_USAGE;
		return ret < 0 ? ret : -EIO;
	}
	ucfg.tx = console_tx;
	ucfg.rx_drained = console_rx_drained;
	ucfg.opaque = d->console;
	d->uart = uart_create(&ucfg);
	if (!d->uart)
		return failure_set(f, -ENOMEM, HEARTH_EXIT_HOST, "cannot create the UART");
	ret = add_pio(d, f, HEARTH_PORT_COM1, 8, &uart_ops, d->uart, "COM1");
	if (!ret && console_attach(d->console, d->loop, d->uart, d->env.ctl))
		ret = failure_set(f, -EIO, HEARTH_EXIT_HOST, "cannot attach the console");
	return ret;
}

static void dev_counts(struct api_dev_counts *d, const struct virtio_counts *c)
{
	d->requests = c->requests;
	d->bytes = c->bytes;
	d->errors = c->errors;
}

unsigned devices_counts(const struct devices *d, struct api_dev_counts *devs,
			struct api_net_counts *ns, struct api_console_counts *con)
{
	struct virtio_counts c;
	unsigned n = 0;

	/* d->vpci[] holds the disks, then the NICs, then the RNG (add_virtio) */
	for (unsigned i = 0; i < CONFIG_MAX_DISKS; i++) {
		if (!d->blk[i])
			continue;
		devs[n] = (struct api_dev_counts){ .type = "virtio-blk" };
		snprintf(devs[n].id, sizeof(devs[n].id), "vd%c", 'a' + i);
		virtio_blk_counts(d->blk[i], &c);
		dev_counts(&devs[n], &c);
		virtio_pci_counts(d->vpci[n], &devs[n].kicks, &devs[n].interrupts);
		n++;
	}
	for (unsigned i = 0; i < CONFIG_MAX_NICS; i++) {
		struct virtio_net_stats s;

		if (!d->net[i])
			continue;
		virtio_net_get_stats(d->net[i], &s);
		ns[i] = (struct api_net_counts){ s.rx_frames, s.rx_bytes,   s.tx_frames,
						 s.tx_bytes,  s.rx_dropped, s.rx_bad_bufs,
						 s.tx_bad,    s.tx_errors };
		devs[n] = (struct api_dev_counts){
			.type = "virtio-net",
			.requests = s.rx_frames + s.tx_frames,
			.bytes = s.rx_bytes + s.tx_bytes,
			.errors = s.rx_dropped + s.rx_bad_bufs + s.tx_bad + s.tx_errors,
			.net = &ns[i],
		};
		snprintf(devs[n].id, sizeof(devs[n].id), "net%u", i);
		virtio_pci_counts(d->vpci[n], &devs[n].kicks, &devs[n].interrupts);
		n++;
	}
	if (d->rng) {
		devs[n] = (struct api_dev_counts){ .id = "rng0", .type = "virtio-rng" };
		virtio_rng_counts(d->rng, &c);
		dev_counts(&devs[n], &c);
		virtio_pci_counts(d->vpci[n], &devs[n].kicks, &devs[n].interrupts);
		n++;
	}
	console_counts(d->console, &con->written, &con->dropped);
	return n;
}

int devices_power_button(struct devices *d)
{
	return exitdev_power_button(d->exitdev);
}

int devices_ctrl_alt_del(struct devices *d)
{
	return i8042_send_ctrl_alt_del(d->kbd);
}

/* The order the VM creates them in; restore reads them back in the same. */
int devices_save(struct devices *d, struct state_writer *w)
{
	int ret = uart_save(d->uart, w);

	if (!ret)
		ret = i8042_save(d->kbd, w);
	if (!ret)
		ret = rtc_save(d->rtc, w);
	if (!ret)
		ret = pci_host_save(d->pci, w);
	if (!ret)
		ret = exitdev_save(d->exitdev, w);
	for (unsigned i = 0; i < d->n_vpci && !ret; i++)
		ret = virtio_pci_save(d->vpci[i], w);
	return ret;
}

int devices_restore(struct devices *d, struct state_reader *r, unsigned *failed)
{
	int ret;

	*failed = 0;
	if ((ret = uart_restore(d->uart, r)))
		return ret;
	*failed = 1;
	if ((ret = i8042_restore(d->kbd, r)))
		return ret;
	*failed = 2;
	if ((ret = rtc_restore(d->rtc, r)))
		return ret;
	*failed = 3;
	if ((ret = pci_host_restore(d->pci, r)))
		return ret;
	*failed = 4;
	if ((ret = exitdev_restore(d->exitdev, r)))
		return ret;
	for (unsigned i = 0; i < d->n_vpci; i++) {
		*failed = 5 + i;
		if ((ret = virtio_pci_restore(d->vpci[i], r)))
			return ret;
	}
	return 0;
}

const char *devices_name(const struct devices *d, unsigned i)
{
	static const char *const platform[] = { "the serial port", "the i8042", "the RTC",
						"the PCI host bridge", "the exit device" };
	static char name[32]; /* the I/O thread's or the starting thread's only */
	unsigned disks = d->env.cfg->n_disks, nics = d->env.cfg->n_nets;

	if (i < 5)
		return platform[i];
	i -= 5;
	if (i < disks)
		snprintf(name, sizeof(name), "disk vd%c", 'a' + (char)i);
	else if (i - disks < nics)
		snprintf(name, sizeof(name), "NIC %u", i - disks);
	else
		snprintf(name, sizeof(name), "the RNG");
	return name;
}

void devices_flush_console(struct devices *d)
{
	console_flush(d->console);
}

const uint8_t (*devices_nic_macs(const struct devices *d))[6]
{
	return (const uint8_t(*)[6])d->mac;
}

void devices_destroy(struct devices *d, bool started)
{
	console_close(d->console, started);
	uart_destroy(d->uart);
	i8042_destroy(d->kbd);
	rtc_destroy(d->rtc);
	pci_host_destroy(d->pci);
	for (unsigned i = 0; i < CONFIG_MAX_DISKS; i++)
		virtio_blk_destroy(d->blk[i]);
	for (unsigned i = 0; i < CONFIG_MAX_NICS; i++)
		virtio_net_destroy(d->net[i]);
	virtio_rng_destroy(d->rng);
	for (unsigned i = 0; i < d->n_vpci; i++)
		virtio_pci_destroy(d->vpci[i]);
	exitdev_destroy(d->exitdev);
}
