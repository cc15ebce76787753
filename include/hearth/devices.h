/* SPDX-License-Identifier: MIT */
/*
 * The VM's device set: the PC's legacy devices on the PIO bus (i8042, RTC,
 * PCI host bridge, exit device, the UART behind the console) and the
 * virtio-pci functions (disks vda, vdb..., then the NICs, then the RNG),
 * with the host services virtio-pci needs (ioeventfds, irqfds, MSI routes)
 * and the interrupt line the legacy devices raise. It owns every device it
 * creates and reports their counters as plain values (api.h), so the
 * control API needs no device's internals.
 *
 * The VM embeds it; its fields are its own. Creation is in steps the VM
 * calls in its order; each returns 0, or a negative errno with the reason
 * and exit code in @f (failure.h). devices_destroy() undoes whatever the
 * steps that ran created.
 */
#ifndef HEARTH_DEVICES_H
#define HEARTH_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "hearth/api.h"
#include "hearth/bus.h"
#include "hearth/config.h"
#include "hearth/exit.h"
#include "hearth/failure.h"
#include "hearth/irq.h"
#include "hearth/mem.h"
#include "hearth/state.h"
#include "hearth/virtio_pci.h"

struct console;
struct loop;
struct uart;
struct i8042;
struct rtc;
struct pci_host;
struct exitdev;
struct virtio_blk;
struct virtio_net;
struct virtio_rng;

#define DEVICES_MAX_VIRTIO (CONFIG_MAX_DISKS + CONFIG_MAX_NICS + 1)

/* What the devices are built on; all must outlive the set. */
struct devices_env {
	const struct vm_config *cfg;
	int vm_fd;
	struct guest_mem *gm;
	struct bus *pio, *mmio;
	const struct vm_ctl *ctl;
	struct irq_routes *routes;
};

struct devices {
	struct devices_env env;
	struct irq_chip irq; /* KVM_IRQ_LINE on env.vm_fd */
	struct loop *loop;
	struct uart *uart;
	struct i8042 *kbd;
	struct rtc *rtc;
	struct pci_host *pci;
	struct exitdev *exitdev;
	struct console *console;
	/* virtio devices on PCI: disks first (vda, vdb...), NICs, then the RNG */
	struct virtio_pci_host vhost;
	struct virtio_pci *vpci[DEVICES_MAX_VIRTIO];
	struct virtio_blk *blk[CONFIG_MAX_DISKS];
	struct virtio_net *net[CONFIG_MAX_NICS];
	struct virtio_rng *rng;
	unsigned n_vpci;
	/* each NIC's MAC, resolved once as it was created (a derived one reads
	 * the host name, which no thread may ask for under its filter) */
	uint8_t mac[CONFIG_MAX_NICS][6];
};

/* An empty set on @env. Cannot fail. A zeroed struct is an empty set too:
 * devices_destroy() may run on it. */
void devices_init(struct devices *d, const struct devices_env *env);
/* The legacy devices (i8042, RTC, PCI host, exit device) on the PIO bus. */
int devices_create_platform(struct devices *d, struct failure *f);
/* The disks, the NICs and the RNG, served on @loop (which outlives them). */
int devices_create_virtio(struct devices *d, struct loop *loop, struct failure *f);
/* The console and COM1 behind it. Last: it may create a file, which must not
 * outlive a failed start. */
int devices_create_console(struct devices *d, struct failure *f);

/* The guest's ways to be asked to shut down (docs/acpi.md): 0 when the ACPI
 * power button was pressed, -errno when its OS does not listen to it. */
int devices_power_button(struct devices *d);
/* Ctrl-Alt-Del through the i8042: 0, or -errno when its buffer is full. */
int devices_ctrl_alt_del(struct devices *d);
/*
 * Every device's state record (docs/state.md), in the order the VM creates
 * them: the UART, i8042, RTC, PCI host, exit device, then each virtio-pci
 * function. Only with no vCPU running. Returns 0, the writer's error, or
 * -EBUSY while a device still has requests in flight (the I/O thread
 * completes them: try again after a loop turn).
 */
int devices_save(struct devices *d, struct state_writer *w);
/*
 * Reads the records back into a set created like the saved one. 0, or the
 * first device's error with its position in *@failed (devices_name() says
 * which); devices before it were restored: the caller throws the VM away.
 */
int devices_restore(struct devices *d, struct state_reader *r, unsigned *failed);
const char *devices_name(const struct devices *d, unsigned i);
/* Writes out the guest's buffered console output (bounded: console.h). */
void devices_flush_console(struct devices *d);

/*
 * The devices' counters for GET /v1/metrics: fills @devs (room for
 * DEVICES_MAX_VIRTIO) in the order the functions sit on PCI, @nets with the
 * NICs' own (room for CONFIG_MAX_NICS; @devs point into it) and @con.
 * Returns the number of @devs filled.
 */
unsigned devices_counts(const struct devices *d, struct api_dev_counts *devs,
			struct api_net_counts *nets, struct api_console_counts *con);
/* The MAC of each NIC created (cfg->n_nets entries). */
const uint8_t (*devices_nic_macs(const struct devices *d))[6];

/* Destroys what was created; @started: the VM was built (a console file
 * created by a failed start is removed). */
void devices_destroy(struct devices *d, bool started);

#endif
