// SPDX-License-Identifier: MIT
/*
 * KVM's built-in GSI routing sends GSI 0 to I/O APIC pin 0, while the MP
 * table (like every PC's firmware) tells the guest the PIT is on pin 2. The
 * VM replaces it with this table, which follows irq_isa_pin(). The table
 * then grows by an MSI route per vector as the guest programs its devices.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hearth/irq.h"

static int add(struct kvm_irq_routing_entry *e, unsigned max, unsigned *n, unsigned gsi,
	       unsigned chip, unsigned pin)
{
	if (*n >= max)
		return -ENOSPC;
	e[*n] = (struct kvm_irq_routing_entry){
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = chip, .pin = pin },
	};
	(*n)++;
	return 0;
}

int irq_routing_legacy(struct kvm_irq_routing_entry *e, unsigned max)
{
	unsigned n = 0;

	for (unsigned gsi = 0; gsi < IRQ_IOAPIC_PINS; gsi++) {
		int pin = gsi < 16 ? irq_isa_pin(gsi) : (int)gsi;

		if (gsi < 16 && gsi != 2 &&
		    add(e, max, &n, gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			gsi % 8))
			return -ENOSPC;
		if (pin >= 0 && add(e, max, &n, gsi, KVM_IRQCHIP_IOAPIC, (unsigned)pin))
			return -ENOSPC;
	}
	return (int)n;
}

/* ---- the VM's table ---- */

#define ROUTES_MAX 256

struct irq_routes {
	int vm_fd;
	pthread_mutex_t lock;
	struct kvm_irq_routing_entry e[ROUTES_MAX];
	unsigned n;
};

static int commit(struct irq_routes *r)
{
	struct kvm_irq_routing *t =
		calloc(1, sizeof(*t) + r->n * sizeof(struct kvm_irq_routing_entry));
	int ret;

	if (!t)
		return -ENOMEM;
	t->nr = r->n;
	memcpy(t->entries, r->e, r->n * sizeof(r->e[0]));
	ret = ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) ? -errno : 0;
	free(t);
	return ret;
}

int irq_routes_create(struct irq_routes **out, int vm_fd)
{
	struct irq_routes *r = calloc(1, sizeof(*r));
	int n, ret;

	if (!r)
		return -ENOMEM;
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
	n = irq_routing_legacy(r->e, ROUTES_MAX);
	if (n < 0) {
		ret = n;
		goto destroy;
	}
	r->n = (unsigned)n;
	ret = commit(r);
	if (ret)
		goto destroy;
	*out = r;
	return 0;
destroy:
	irq_routes_destroy(r);
	return ret;
}

int irq_routes_set_msi(struct irq_routes *r, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing_entry e = {
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = (uint32_t)addr,
			   .address_hi = (uint32_t)(addr >> 32),
			   .data = data },
	};
	struct kvm_irq_routing_entry old;
	bool added;
	unsigned i;
	int ret;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n && r->e[i].gsi != gsi; i++)
		;
	if (i == r->n && r->n == ROUTES_MAX) {
		ret = -ENOSPC;
		goto unlock;
	}
	ret = 0;
	if (i < r->n && !memcmp(&r->e[i], &e, sizeof(e)))
		goto unlock; /* unchanged */
	added = i == r->n;
	old = r->e[i];
	r->e[i] = e;
	if (added)
		r->n++;
	ret = commit(r);
	if (ret) { /* KVM refused it: keep the table it last took, or every
		    * later commit, for any device, would fail on this entry */
		if (added)
			r->n--;
		else
			r->e[i] = old;
	}
unlock:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void irq_routes_destroy(struct irq_routes *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}
