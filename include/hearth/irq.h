/* SPDX-License-Identifier: MIT */
/*
 * The interrupt handle a device gets. The VM implements it on top of
 * KVM_IRQ_LINE; unit tests implement it with a recorder. Devices never see
 * KVM file descriptors.
 */
#ifndef HEARTH_IRQ_H
#define HEARTH_IRQ_H

struct irq_chip {
	/* Sets line @gsi to @level (0 or 1). Returns 0 or -errno. Thread safe. */
	int (*set_line)(void *opaque, unsigned gsi, int level);
	void *opaque;
};

static inline int irq_set(const struct irq_chip *chip, unsigned gsi, int level)
{
	return chip->set_line(chip->opaque, gsi, level);
}

#endif
