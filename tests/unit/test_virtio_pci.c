// SPDX-License-Identifier: MIT
/*
 * The virtio-pci transport as a hostile driver sees it, without KVM: PCI
 * configuration space (read-only fields, BAR sizing, the capability list,
 * MSI-X control, the PCI_CFG window), the common configuration (feature
 * negotiation, queue set-up with bad geometry), MSI-X table writes out of
 * range, INTx, and a virtio-rng request end to end through a kick.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hearth/state.h"
#include "hearth/virtio_pci.h"

#define RAM   (1 << 20)
#define BAR   0xc0000000ULL
#define GSI0  24
#define INTX  16
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define BUF   0x4000

/* BAR 0 layout (src/virtio/pci.c) */
#define COMMON 0x0000
#define ISR    0x1000
#define NOTIFY 0x3000
#define MSIXT  0x4000
#define MSIXP  0x5000

struct fake {
	struct guest_mem gm;
	struct virtio_pci_host h;
	int ioeventfds, irqfds, routes, intx;
	unsigned irq_gsi[8], route_gsi[8];
	int irq_fd[8];
	uint64_t route_addr;
	uint32_t route_data;
	void (*cb[4])(void *, uint32_t);
	void *arg[4];
	int nwatch;
	struct virtio_pci *vp;
	struct virtio_rng *rng;
};

static struct fake F;

static int f_ioeventfd(void *o, uint64_t addr, unsigned len, int fd)
{
	(void)o, (void)addr, (void)len, (void)fd;
	F.ioeventfds++;
	return 0;
}

static int f_irqfd(void *o, unsigned gsi, int fd)
{
	(void)o;
	F.irq_fd[F.irqfds % 8] = fd;
	F.irq_gsi[F.irqfds++ % 8] = gsi;
	return 0;
}

static int f_msi_route(void *o, unsigned gsi, uint64_t addr, uint32_t data)
{
	(void)o;
	F.route_gsi[F.routes++ % 8] = gsi;
	F.route_addr = addr;
	F.route_data = data;
	return 0;
}

static int f_set_intx(void *o, unsigned gsi, int level)
{
	(void)o;
	assert_int_equal(gsi, INTX);
	F.intx = level;
	return 0;
}

static int f_watch(void *o, int fd, void (*cb)(void *, uint32_t), void *arg)
{
	(void)o, (void)fd;
	F.cb[F.nwatch] = cb;
	F.arg[F.nwatch++] = arg;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	if (gm_create(&F.gm, RAM, false))
		return -1;
	F.h = (struct virtio_pci_host){ &F.gm,	     &F,	 f_ioeventfd, f_irqfd,
					f_msi_route, f_set_intx, f_watch };
	F.vp = virtio_pci_create(&F.h, &virtio_rng_ops, BAR, GSI0, INTX);
	if (!F.vp)
		return -1;
	F.rng = virtio_rng_create(&F.gm, virtio_pci_transport(F.vp));
	if (!F.rng || virtio_pci_attach(F.vp, F.rng))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	virtio_pci_destroy(F.vp);
	virtio_rng_destroy(F.rng);
	gm_destroy(&F.gm);
	return 0;
}

static uint32_t cr(uint32_t off, size_t len)
{
	return virtio_pci_cfg_ops.cfg_read(F.vp, off, len);
}

static void cw(uint32_t off, uint32_t val, size_t len)
{
	virtio_pci_cfg_ops.cfg_write(F.vp, off, val, len);
}

static uint64_t br(uint64_t off, size_t len)
{
	uint64_t v = 0;

	virtio_pci_bar_ops.read(F.vp, off, &v, len);
	return v;
}

static void bw(uint64_t off, uint64_t v, size_t len)
{
	virtio_pci_bar_ops.write(F.vp, off, &v, len);
}

static uint8_t status(void)
{
	return (uint8_t)br(COMMON + 0x14, 1);
}

/* The driver's side of feature negotiation: ACKNOWLEDGE, DRIVER, features,
 * FEATURES_OK. */
static void negotiate(uint64_t features)
{
	bw(COMMON + 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	bw(COMMON + 0x08, 0, 4);
	bw(COMMON + 0x0c, (uint32_t)features, 4);
	bw(COMMON + 0x08, 1, 4);
	bw(COMMON + 0x0c, features >> 32, 4);
	bw(COMMON + 0x14,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
}

static void queue(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	bw(COMMON + 0x16, 0, 2);
	bw(COMMON + 0x18, size, 2);
	bw(COMMON + 0x20, desc, 8);
	bw(COMMON + 0x28, avail, 8);
	bw(COMMON + 0x30, used, 8);
	bw(COMMON + 0x1c, 1, 2);
}

/* A message on queue @q's vector, as a device sends it. */
static void fire(int q)
{
	const struct virtio_transport *t = virtio_pci_transport(F.vp);

	t->lock(t->opaque);
	t->notify(t->opaque, q);
	t->unlock(t->opaque);
}

/* ---- a device that counts what the transport asks of it ---- */

static struct {
	unsigned starts, resets;
	uint64_t features;
} C;

static uint64_t c_features(void *dev)
{
	(void)dev;
	return 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX;
}

static void c_start(void *dev, uint64_t features, struct vq *vqs)
{
	(void)dev, (void)vqs;
	C.starts++;
	C.features = features;
}

static void c_kick(void *dev, unsigned q)
{
	(void)dev, (void)q;
}

static void c_reset(void *dev)
{
	(void)dev;
	C.resets++;
}

static const struct virtio_dev_ops counting_ops = {
	.device_id = 4,
	.pci_class = 0xff0000,
	.num_queues = 1,
	.queue_max = 256,
	.features = c_features,
	.start = c_start,
	.kick = c_kick,
	.reset = c_reset,
};

static int setup_counting(void **state)
{
	static int dev;

	(void)state;
	memset(&F, 0, sizeof(F));
	memset(&C, 0, sizeof(C));
	if (gm_create(&F.gm, RAM, false))
		return -1;
	F.h = (struct virtio_pci_host){ &F.gm,	     &F,	 f_ioeventfd, f_irqfd,
					f_msi_route, f_set_intx, f_watch };
	F.vp = virtio_pci_create(&F.h, &counting_ops, BAR, GSI0, INTX);
	if (!F.vp || virtio_pci_attach(F.vp, &dev))
		return -1;
	C.resets = 0;
	return 0;
}

static int teardown_counting(void **state)
{
	(void)state;
	virtio_pci_destroy(F.vp);
	gm_destroy(&F.gm);
	return 0;
}

static void header_and_capabilities(void **state)
{
	unsigned seen = 0, types = 0, hops = 0;

	(void)state;
	assert_int_equal(cr(0x00, 2), 0x1af4);
	assert_int_equal(cr(0x02, 2), 0x1040 + 4); /* virtio-rng */
	assert_int_equal(cr(0x08, 1), 1);	   /* modern */
	assert_true(cr(0x06, 2) & 0x10);	   /* capability list */
	assert_int_equal(cr(0x3d, 1), 1);	   /* INTA */
	/* the list ends, stays inside the header, has no loop, and holds
	 * MSI-X and the five virtio structures */
	for (unsigned p = cr(0x34, 1); p; p = cr(p + 1, 1)) {
		assert_true(p >= 0x40 && p + 2 <= 256);
		assert_true(++hops < 16);
		if (cr(p, 1) == 0x11) {
			seen |= 1;
			assert_int_equal(cr(p + 2, 2) & 0x7ff, 1); /* 2 vectors */
		} else {
			assert_int_equal(cr(p, 1), 0x09);
			types |= 1u << cr(p + 3, 1);
		}
	}
	assert_int_equal(seen, 1);
	assert_int_equal(types, 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5);
	/* reads past the end or straddling it return 0, not neighbouring memory */
	assert_int_equal(cr(256, 4), 0);
	assert_int_equal(cr(254, 4), 0);
}

static void read_only_fields(void **state)
{
	uint32_t ids = cr(0x00, 4), class = cr(0x08, 4), cap = cr(0x50, 4);

	(void)state;
	cw(0x00, 0xdeadbeef, 4);
	cw(0x08, 0xffffffff, 4);
	cw(0x50, 0, 4);
	cw(0x34, 0x00, 1);
	assert_int_equal(cr(0x00, 4), ids);
	assert_int_equal(cr(0x08, 4), class);
	assert_int_equal(cr(0x50, 4), cap);
	assert_int_equal(cr(0x34, 1), 0x40);
	/* command keeps memory space, bus master and INTx disable only */
	cw(0x04, 0xffff, 2);
	assert_int_equal(cr(0x04, 2), 0x0406);
	/* MSI-X message control: only enable and function mask are writable */
	cw(0x40, 0x3fff0000, 4);
	assert_int_equal(cr(0x42, 2), 1);
}

static void bar_sizing_does_not_move_the_bar(void **state)
{
	(void)state;
	assert_int_equal(cr(0x10, 4), (uint32_t)BAR | 4);
	assert_int_equal(cr(0x14, 4), BAR >> 32);
	cw(0x10, 0xffffffff, 4);
	cw(0x14, 0xffffffff, 4);
	assert_int_equal(cr(0x10, 4), (uint32_t) ~(VIRTIO_PCI_BAR_SIZE - 1) | 4);
	assert_int_equal(cr(0x14, 4), 0xffffffff);
	cw(0x10, 0x12340000, 4); /* a new address is not taken */
	cw(0x14, 0, 4);
	assert_int_equal(cr(0x10, 4), (uint32_t)BAR | 4);
	assert_int_equal(cr(0x14, 4), BAR >> 32);
}

static void feature_negotiation(void **state)
{
	uint64_t offered;

	(void)state;
	bw(COMMON + 0x00, 0, 4);
	offered = br(COMMON + 0x04, 4);
	bw(COMMON + 0x00, 1, 4);
	offered |= br(COMMON + 0x04, 4) << 32;
	assert_true(offered >> VIRTIO_F_VERSION_1 & 1);
	bw(COMMON + 0x00, 7, 4); /* a select past the feature words reads 0 */
	assert_int_equal(br(COMMON + 0x04, 4), 0);

	negotiate(1ULL << 60 | 1ULL << VIRTIO_F_VERSION_1); /* not offered */
	assert_false(status() & VIRTIO_STATUS_FEATURES_OK);
	bw(COMMON + 0x14, 0, 1);
	negotiate(1ULL << VIRTIO_F_EVENT_IDX); /* no VERSION_1: legacy */
	assert_false(status() & VIRTIO_STATUS_FEATURES_OK);
	bw(COMMON + 0x14, 0, 1);
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	assert_true(status() & VIRTIO_STATUS_FEATURES_OK);
	/* features are frozen after FEATURES_OK */
	bw(COMMON + 0x08, 0, 4);
	bw(COMMON + 0x0c, 0xffffffff, 4);
	assert_int_equal(br(COMMON + 0x0c, 4), 0);
	/* DRIVER_OK without FEATURES_OK is refused */
	bw(COMMON + 0x14, 0, 1);
	bw(COMMON + 0x14,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_false(status() & VIRTIO_STATUS_DRIVER_OK);
}

static void bad_queues_need_reset(void **state)
{
	static const struct {
		uint16_t size;
		uint64_t desc, avail, used;
	} bad[] = {
		{ 3, DESC, AVAIL, USED },	   /* not a power of two */
		{ 512, DESC, AVAIL, USED },	   /* larger than offered */
		{ 0, DESC, AVAIL, USED },	   /* empty */
		{ 16, DESC + 8, AVAIL, USED },	   /* misaligned descriptors */
		{ 16, DESC, AVAIL, USED + 2 },	   /* misaligned used ring */
		{ 16, RAM - 16, AVAIL, USED },	   /* table runs past RAM */
		{ 16, DESC, AVAIL, ~0ULL - 63 },   /* wraps past 2^64 */
		{ 16, DESC, 0xd0000000ULL, USED }, /* outside RAM */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bw(COMMON + 0x14, 0, 1);
		assert_int_equal(status(), 0);
		negotiate(1ULL << VIRTIO_F_VERSION_1);
		queue(bad[i].size, bad[i].desc, bad[i].avail, bad[i].used);
		assert_true(status() & VIRTIO_STATUS_NEEDS_RESET);
		assert_int_equal(br(COMMON + 0x1c, 2), 0); /* not enabled */
	}
	/* a reset clears it, and a good queue is then taken */
	bw(COMMON + 0x14, 0, 1);
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	queue(16, DESC, AVAIL, USED);
	assert_false(status() & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(br(COMMON + 0x1c, 2), 1);
	/* queue_select past the device's queues: reads 0, writes ignored */
	bw(COMMON + 0x16, 9, 2);
	assert_int_equal(br(COMMON + 0x18, 2), 0);
	bw(COMMON + 0x18, 4, 2);
	bw(COMMON + 0x1c, 1, 2);
	assert_int_equal(br(COMMON + 0x1c, 2), 0);
	assert_false(status() & VIRTIO_STATUS_NEEDS_RESET);
}

static void msix_table_bounds(void **state)
{
	(void)state;
	/* vectors past the table read back as NO_VECTOR */
	bw(COMMON + 0x10, 2, 2);
	assert_int_equal(br(COMMON + 0x10, 2), 0xffff);
	bw(COMMON + 0x16, 0, 2);
	bw(COMMON + 0x1a, 0x7fff, 2);
	assert_int_equal(br(COMMON + 0x1a, 2), 0xffff);
	/* writes past the 2-entry table, misaligned or of a bad width: ignored */
	bw(MSIXT + 32, 0xfee00000, 4);
	bw(MSIXT + 32 + 12, 0, 4);
	bw(MSIXT + 2, 0xffffffff, 4);
	bw(MSIXT + 12, 0, 2);
	assert_int_equal(F.routes, 0);
	assert_int_equal(br(MSIXT + 12, 4), 1); /* still masked */
	assert_int_equal(br(MSIXT + 32, 4), 0);
	/* a proper entry: routed to its GSI when its first message leaves,
	 * irqfd bound once */
	bw(MSIXT + 16, 0xfee00000, 4);
	bw(MSIXT + 16 + 8, 0x4041, 4);
	bw(MSIXT + 16 + 12, 0xfffffffe, 4); /* only the mask bit exists */
	assert_int_equal(br(MSIXT + 16 + 12, 4), 0);
	cw(0x43, 0x80, 1); /* MSI-X on */
	bw(COMMON + 0x16, 0, 2);
	bw(COMMON + 0x1a, 1, 2);
	fire(0);
	assert_int_equal(F.routes, 1);
	assert_int_equal(F.route_gsi[0], GSI0 + 1);
	assert_int_equal(F.route_addr, 0xfee00000);
	assert_int_equal(F.route_data, 0x4041);
	bw(MSIXT + 16 + 8, 0x4042, 4);
	bw(MSIXT + 16 + 12, 0, 4);
	fire(0);
	assert_int_equal(F.routes, 2);
	assert_int_equal(F.route_data, 0x4042);
	assert_int_equal(F.irqfds, 1);
	assert_int_equal(F.irq_gsi[0], GSI0 + 1);
}

/*
 * The PCI spec allows aligned DWORD and aligned QWORD accesses to the MSI-X
 * table. A QWORD at an entry's offset 12 would write that entry's control
 * word and the next entry's address: refused, so no entry changes behind
 * its route's back.
 */
static void msix_qword_accesses(void **state)
{
	(void)state;
	cw(0x43, 0x80, 1);
	bw(COMMON + 0x16, 0, 2);
	bw(COMMON + 0x1a, 1, 2);
	bw(MSIXT + 16, 0xfee00000, 4);
	bw(MSIXT + 16 + 8, 0x4041, 4);
	bw(MSIXT + 16 + 12, 0, 4);
	/* entry 0's control and entry 1's address in one write: nothing */
	bw(MSIXT + 12, 0xfee01000ULL << 32, 8);
	assert_int_equal(br(MSIXT + 12, 4), 1); /* entry 0 still masked */
	assert_int_equal(br(MSIXT + 16, 4), 0xfee00000);
	assert_int_equal(br(MSIXT + 12, 8), 0); /* and such a read sees nothing */
	bw(MSIXT + 16 + 4, 0x4043ULL << 32, 8); /* addr_hi and data: not aligned */
	assert_int_equal(br(MSIXT + 16 + 8, 4), 0x4041);
	/* aligned QWORDs: the address, then data and control together */
	bw(MSIXT + 16, 0xfee02000ULL, 8);
	bw(MSIXT + 16 + 8, 0x4044ULL, 8);
	assert_int_equal(br(MSIXT + 16, 8), 0xfee02000ULL);
	assert_int_equal(br(MSIXT + 16 + 8, 8), 0x4044ULL);
	fire(0);
	assert_int_equal(F.route_addr, 0xfee02000ULL);
	assert_int_equal(F.route_data, 0x4044);
	/* a QWORD past the table's end is refused too */
	bw(MSIXT + 32 - 8 + 16, ~0ULL, 8);
	assert_int_equal(br(MSIXT + 16 + 8, 8), 0x4044ULL);
}

/*
 * Table writes cost the guest its exits and nothing else: the route is
 * committed to KVM when an entry that changed is used, once.
 */
static void msix_routes_follow_use(void **state)
{
	eventfd_t n;

	(void)state;
	cw(0x43, 0x80, 1);
	bw(COMMON + 0x16, 0, 2);
	bw(COMMON + 0x1a, 1, 2);
	bw(MSIXT + 16, 0xfee00000, 4);
	bw(MSIXT + 16 + 12, 0, 4);
	for (unsigned i = 0; i < 100000; i++)
		bw(MSIXT + 16 + 8, 0x4040 + i % 2, 4);
	assert_int_equal(F.routes, 0);
	fire(0);
	assert_int_equal(F.routes, 1);
	assert_int_equal(F.route_data, 0x4041);
	assert_int_equal(eventfd_read(F.irq_fd[0], &n), 0);
	assert_int_equal(n, 1);
	/* used again, or rewritten with what it holds: no new commit */
	fire(0);
	bw(MSIXT + 16 + 8, 0x4041, 4);
	fire(0);
	assert_int_equal(F.routes, 1);
	/* a masked entry that changed: routed when unmasked with a message
	 * pending, and the message follows the new route */
	bw(MSIXT + 16 + 12, 1, 4);
	bw(MSIXT + 16 + 8, 0x4045, 4);
	fire(0);
	assert_int_equal(F.routes, 1);
	bw(MSIXT + 16 + 12, 0, 4);
	assert_int_equal(F.routes, 2);
	assert_int_equal(F.route_data, 0x4045);
	assert_int_equal(eventfd_read(F.irq_fd[0], &n), 0);
	assert_int_equal(n, 3);
}

/*
 * The status only grows until a reset: a driver that clears DRIVER_OK (or
 * FEATURES_OK) and sets it again must not start the device a second time
 * on its live queues, with features changed behind its back. Such a write
 * is refused and the device asks for a reset.
 */
static void status_never_goes_back(void **state)
{
	const uint8_t ok = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	const uint64_t both = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX;

	(void)state;
	negotiate(both);
	queue(16, DESC, AVAIL, USED);
	bw(COMMON + 0x14, ok, 1);
	assert_int_equal(status(), ok);
	assert_int_equal(C.starts, 1);
	assert_int_equal(C.features, both);

	/* DRIVER_OK cleared: refused, the device asks for a reset */
	bw(COMMON + 0x14, ok & ~VIRTIO_STATUS_DRIVER_OK, 1);
	assert_int_equal(status(), ok | VIRTIO_STATUS_NEEDS_RESET);
	/* set "again", after features were rewritten: nothing happens */
	bw(COMMON + 0x08, 0, 4);
	bw(COMMON + 0x0c, 0, 4);
	bw(COMMON + 0x14, ok, 1);
	assert_int_equal(C.starts, 1);
	/* back to DRIVER only, renegotiated, FEATURES_OK, DRIVER_OK */
	bw(COMMON + 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	bw(COMMON + 0x14, ok, 1);
	assert_int_equal(C.starts, 1);
	assert_int_equal(C.features, both);
	bw(COMMON + 0x08, 0, 4);
	assert_int_equal(br(COMMON + 0x0c, 4), (uint32_t)both); /* frozen */
	assert_int_equal(status(), ok | VIRTIO_STATUS_NEEDS_RESET);
	/* the driver writing back what it read (NEEDS_RESET included) and
	 * adding FAILED is no regression */
	bw(COMMON + 0x14, status() | VIRTIO_STATUS_FAILED, 1);
	assert_int_equal(status(), ok | VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED);
	assert_int_equal(C.resets, 0);

	/* only a reset starts over */
	bw(COMMON + 0x14, 0, 1);
	assert_int_equal(C.resets, 1);
	assert_int_equal(status(), 0);
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	queue(16, DESC, AVAIL, USED);
	bw(COMMON + 0x14, ok, 1);
	assert_int_equal(status(), ok);
	assert_int_equal(C.starts, 2);
	assert_int_equal(C.features, 1ULL << VIRTIO_F_VERSION_1);
	/* FEATURES_OK dropped before DRIVER_OK: refused too */
	bw(COMMON + 0x14, 0, 1);
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	bw(COMMON + 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	assert_true(status() & VIRTIO_STATUS_FEATURES_OK);
	assert_true(status() & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(C.starts, 2);
}

static void intx_and_isr(void **state)
{
	const struct virtio_transport *t = virtio_pci_transport(F.vp);

	(void)state;
	t->notify(t->opaque, 0);
	assert_int_equal(F.intx, 1);
	assert_true(cr(0x06, 2) & 0x08); /* status.INTx */
	assert_int_equal(br(ISR, 1), 1);
	assert_int_equal(F.intx, 0); /* the read cleared it */
	assert_int_equal(br(ISR, 1), 0);
	/* INTx disable in the command register keeps the line low */
	cw(0x04, 0x0400, 2);
	t->notify(t->opaque, -1);
	assert_int_equal(F.intx, 0);
	cw(0x04, 0x0000, 2);
	assert_int_equal(F.intx, 1);
	assert_int_equal(br(ISR, 1), 2); /* configuration change */
}

static void msix_masking_and_pending(void **state)
{
	const struct virtio_transport *t = virtio_pci_transport(F.vp);
	uint64_t n = 0;

	(void)state;
	bw(COMMON + 0x16, 0, 2);
	bw(COMMON + 0x1a, 1, 2);
	bw(MSIXT + 16, 0xfee00000, 4);
	bw(MSIXT + 16 + 8, 0x4041, 4);
	cw(0x43, 0xc0, 1); /* MSI-X on, function masked */
	t->notify(t->opaque, 0);
	assert_int_equal(F.intx, 0);		 /* no INTx while MSI-X is on */
	assert_int_equal(br(MSIXP, 8), 1u << 1); /* pending: vector 1 */
	cw(0x43, 0x80, 1);			 /* function unmasked, entry still masked */
	assert_int_equal(br(MSIXP, 8), 1u << 1);
	bw(MSIXT + 16 + 12, 0, 4); /* entry unmasked: delivered */
	assert_int_equal(br(MSIXP, 8), 0);
	assert_int_equal(F.irqfds, 1);
	/* the vector's eventfd was written once: the interrupt left */
	assert_int_equal(eventfd_read(F.irq_fd[0], &n), 0);
	assert_int_equal(n, 1);
}

static void pci_cfg_window(void **state)
{
	(void)state;
	/* the window on BAR 0 reads num_queues (common config 0x12) */
	cw(0x94 + 4, 0, 1);
	cw(0x94 + 8, 0x10, 4);
	cw(0x94 + 12, 4, 4);
	assert_int_equal(cr(0x94 + 16, 4) >> 16, 1);
	/* bad BAR, bad length, misaligned or out-of-BAR offsets read 0 */
	cw(0x94 + 4, 1, 1);
	assert_int_equal(cr(0x94 + 16, 4), 0);
	cw(0x94 + 4, 0, 1);
	cw(0x94 + 12, 3, 4);
	assert_int_equal(cr(0x94 + 16, 4), 0);
	cw(0x94 + 12, 4, 4);
	cw(0x94 + 8, 0x12, 4);
	assert_int_equal(cr(0x94 + 16, 4), 0);
	cw(0x94 + 8, 0xfffffffc, 4);
	assert_int_equal(cr(0x94 + 16, 4), 0);
	cw(0x94 + 8, VIRTIO_PCI_BAR_SIZE, 4);
	cw(0x94 + 16, 0xffffffff, 4); /* written nowhere */
	/* a write through the window reaches the common configuration */
	cw(0x94 + 8, 0x14, 4);
	cw(0x94 + 12, 1, 4);
	cw(0x94 + 16, VIRTIO_STATUS_ACKNOWLEDGE, 4);
	assert_int_equal(status(), VIRTIO_STATUS_ACKNOWLEDGE);
}

static void rng_request_through_a_kick(void **state)
{
	uint8_t *ram = gm_ptr(&F.gm, 0, RAM);
	uint8_t zero[64] = { 0 };
	uint64_t d[2] = { BUF, 64ULL | (uint64_t)2 << 32 }; /* VIRTQ_DESC_F_WRITE */
	uint16_t avail[3] = { 0, 1, 0 };
	uint32_t used_len;
	uint16_t used_idx;
	eventfd_t n;

	(void)state;
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	queue(16, DESC, AVAIL, USED);
	bw(COMMON + 0x1a, 1, 2); /* queue 0 -> vector 1 */
	bw(MSIXT + 16, 0xfee00000, 4);
	bw(MSIXT + 16 + 8, 0x4041, 4);
	bw(MSIXT + 16 + 12, 0, 4);
	cw(0x43, 0x80, 1);
	bw(COMMON + 0x14, status() | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_true(status() & VIRTIO_STATUS_DRIVER_OK);

	memcpy(ram + DESC, d, sizeof(d));
	memcpy(ram + AVAIL, avail, sizeof(avail));
	assert_int_equal(F.nwatch, 1);
	bw(NOTIFY, 0, 2); /* a kick of the wrong width takes the same path */
	F.cb[0](F.arg[0], 1);
	memcpy(&used_idx, ram + USED + 2, 2);
	memcpy(&used_len, ram + USED + 8, 4);
	assert_int_equal(used_idx, 1);
	assert_int_equal(used_len, 64);
	assert_memory_not_equal(ram + BUF, zero, 64);
	assert_int_equal(eventfd_read(F.irq_fd[0], &n), 0); /* the interrupt */
	assert_int_equal(n, 1);
	/* a driver that runs the avail index away gets a device asking for
	 * a reset, and nothing else happens */
	avail[1] = 40;
	memcpy(ram + AVAIL, avail, sizeof(avail));
	F.cb[0](F.arg[0], 1);
	assert_true(status() & VIRTIO_STATUS_NEEDS_RESET);
}

/* ---- save and restore (docs/state.md) ---- */

/* A second machine: its own guest memory (a copy of the first's, as a
 * memory snapshot gives), a transport and a virtio-rng. */
static struct {
	struct guest_mem gm;
	struct virtio_pci_host h;
	struct virtio_pci *vp;
	struct virtio_rng *rng;
	struct virtio_pci *f_vp; /* F.vp, which a test may point at G.vp */
} G;

static int setup_two(void **state)
{
	if (setup(state) || gm_create(&G.gm, RAM, false))
		return -1;
	G.h = F.h;
	G.h.gm = &G.gm;
	G.vp = virtio_pci_create(&G.h, &virtio_rng_ops, BAR, GSI0, INTX);
	if (!G.vp)
		return -1;
	G.rng = virtio_rng_create(&G.gm, virtio_pci_transport(G.vp));
	if (!G.rng || virtio_pci_attach(G.vp, G.rng))
		return -1;
	G.f_vp = F.vp;
	return 0; /* F.cb[0] kicks F.vp's queue, F.cb[1] G.vp's */
}

static int teardown_two(void **state)
{
	virtio_pci_destroy(G.vp);
	virtio_rng_destroy(G.rng);
	gm_destroy(&G.gm);
	F.vp = G.f_vp;
	return teardown(state);
}

static uint64_t brx(struct virtio_pci *vp, uint64_t off, size_t len)
{
	uint64_t v = 0;

	virtio_pci_bar_ops.read(vp, off, &v, len);
	return v;
}

/* What a driver reads back without side effects: configuration space,
 * the common configuration of every queue, the MSI-X table and PBA. */
static void regs(struct virtio_pci *vp, uint8_t *out /* 256 + 2 * 0x38 + 0x58 */)
{
	uint16_t qsel = (uint16_t)brx(vp, COMMON + 0x16, 2);

	for (unsigned i = 0; i < 256; i += 4) {
		uint32_t v = virtio_pci_cfg_ops.cfg_read(vp, i, 4);

		memcpy(out + i, &v, 4);
	}
	out += 256;
	for (uint16_t q = 0; q < 2; q++, out += 0x38) {
		virtio_pci_bar_ops.write(vp, COMMON + 0x16, &q, 2);
		for (unsigned i = 0; i < 0x38; i += 4) {
			uint32_t v = (uint32_t)brx(vp, COMMON + i, 4);

			memcpy(out + i, &v, 4);
		}
	}
	virtio_pci_bar_ops.write(vp, COMMON + 0x16, &qsel, 2);
	memcpy(out + 0x16 - 2 * 0x38, &qsel, 2); /* the first copy's selector */
	memcpy(out + 0x16 - 0x38, &qsel, 2);
	for (unsigned i = 0; i < 0x50; i += 4) {
		uint32_t v = (uint32_t)brx(vp, MSIXT + i, 4);

		memcpy(out + i, &v, 4);
	}
	for (unsigned i = 0; i < 8; i += 4) {
		uint32_t v = (uint32_t)brx(vp, MSIXP + i, 4);

		memcpy(out + 0x50 + i, &v, 4);
	}
}

#define REGS_LEN (256 + 2 * 0x38 + 0x58)

/* The driver posts descriptor @i (64 writable bytes at BUF + 64 * i) as
 * avail entry @i, asks for an interrupt when it is used (used_event) and
 * kicks with @kick. */
static void post(struct guest_mem *gm, uint16_t i, void (*kick)(void *, uint32_t), void *arg)
{
	uint8_t *ram = gm_ptr(gm, 0, RAM);
	uint64_t d[2] = { BUF + 64ULL * i, 64ULL | (uint64_t)2 << 32 };
	uint16_t idx = (uint16_t)(i + 1);

	memcpy(ram + DESC + 16 * i, d, sizeof(d));
	memcpy(ram + AVAIL + 4 + 2 * i, &i, 2);
	memcpy(ram + AVAIL + 4 + 2 * 16, &i, 2);
	memcpy(ram + AVAIL + 2, &idx, 2);
	kick(arg, 1);
}

/* A driver that negotiated EVENT_IDX, set up its queue on MSI-X vector 1
 * and had one request served. */
static void bring_up(void)
{
	negotiate(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX);
	queue(16, DESC, AVAIL, USED);
	bw(COMMON + 0x1a, 1, 2);
	bw(COMMON + 0x10, 0, 2); /* config changes on vector 0 */
	bw(MSIXT + 16, 0xfee00000, 4);
	bw(MSIXT + 16 + 8, 0x4041, 4);
	bw(MSIXT + 16 + 12, 0, 4);
	bw(MSIXT + 0, 0xfee01000, 4); /* vector 0: set up, left masked */
	cw(0x43, 0x80, 1);
	cw(0x04, 0x0406, 2);
	bw(COMMON + 0x14, status() | VIRTIO_STATUS_DRIVER_OK, 1);
	post(&F.gm, 0, F.cb[0], F.arg[0]);
	fire(-1); /* a configuration interrupt left pending: vector 0 is masked */
	assert_int_equal(br(MSIXP, 8), 1);
}

static size_t save_vp(struct virtio_pci *vp, uint8_t *buf, size_t cap)
{
	struct state_writer w;
	size_t len = 0;

	state_writer_init(&w, buf, cap);
	assert_int_equal(virtio_pci_save(vp, &w), 0);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	return len;
}

static int restore_vp(struct virtio_pci *vp, const uint8_t *buf, size_t len)
{
	struct state_reader r;
	int ret;

	state_reader_init(&r, buf, len);
	ret = virtio_pci_restore(vp, &r);
	return ret ? ret : state_reader_finish(&r);
}

/* Saved with a request served, restored into a second machine whose memory
 * is a copy of the first's: both serve the next request alike (the same
 * used ring, index 2, the same event-idx answer, an interrupt on vector
 * 1), and the driver reads the same registers from both. */
static void save_restore_continues(void **state)
{
	uint8_t buf[2048], ra[REGS_LEN], rb[REGS_LEN];
	uint8_t *r1 = gm_ptr(&F.gm, 0, RAM), *r2;
	size_t len;
	eventfd_t n;
	uint16_t idx;

	(void)state;
	bring_up();
	len = save_vp(F.vp, buf, sizeof(buf));
	r2 = gm_ptr(&G.gm, 0, RAM);
	memcpy(r2, r1, RAM);
	assert_int_equal(restore_vp(G.vp, buf, len), 0);
	regs(F.vp, ra);
	regs(G.vp, rb);
	assert_memory_equal(ra, rb, REGS_LEN);
	assert_int_equal(brx(G.vp, COMMON + 0x14, 1),
			 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	/* the restore's own kick finds nothing new */
	F.cb[1](F.arg[1], 1);
	memcpy(&idx, r2 + USED + 2, 2);
	assert_int_equal(idx, 1);
	/* the next request, on both */
	assert_int_equal(eventfd_read(F.irq_fd[0], &n), 0); /* the first one's */
	post(&F.gm, 1, F.cb[0], F.arg[0]);
	post(&G.gm, 1, F.cb[1], F.arg[1]);
	assert_memory_equal(r1 + USED, r2 + USED, 4 + 8 * 16 + 2);
	assert_memory_equal(r1 + AVAIL + 4 + 2 * 16, r2 + AVAIL + 4 + 2 * 16, 2); /* used_event */
	memcpy(&idx, r2 + USED + 2, 2);
	assert_int_equal(idx, 2);
	assert_int_equal(F.irqfds, 2); /* G's vector 1 bound on its first message */
	assert_int_equal(F.irq_gsi[1], GSI0 + 1);
	assert_int_equal(eventfd_read(F.irq_fd[1], &n), 0);
	assert_int_equal(n, 1);
	/* the pending configuration interrupt leaves when vector 0 is unmasked */
	virtio_pci_bar_ops.write(G.vp, MSIXT + 12, &(uint32_t){ 0 }, 4);
	assert_int_equal(brx(G.vp, MSIXP, 8), 0);
	assert_int_equal(F.irq_gsi[2], GSI0);
}

/* A transport saved before DRIVER_OK, mid set-up (queue selected, size and
 * addresses written, not enabled): the driver finishes on the restored one. */
static void save_restore_mid_setup(void **state)
{
	uint8_t buf[2048];
	size_t len;
	uint16_t idx;

	(void)state;
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	bw(COMMON + 0x16, 0, 2);
	bw(COMMON + 0x18, 8, 2);
	bw(COMMON + 0x20, DESC, 8);
	bw(COMMON + 0x28, AVAIL, 8);
	len = save_vp(F.vp, buf, sizeof(buf));
	assert_int_equal(restore_vp(G.vp, buf, len), 0);
	F.vp = G.vp; /* the driver goes on with the restored one */
	bw(COMMON + 0x30, USED, 8);
	bw(COMMON + 0x1c, 1, 2);
	assert_int_equal(br(COMMON + 0x18, 2), 8);
	bw(COMMON + 0x14, status() | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_true(status() & VIRTIO_STATUS_DRIVER_OK);
	post(&G.gm, 0, F.cb[1], F.arg[1]);
	memcpy(&idx, gm_ptr(&G.gm, USED + 2, 2), 2);
	assert_int_equal(idx, 1);
}

/* Cut anywhere, or holding what no driver can set up, a record is refused
 * with the transport unchanged (its part is checked whole before anything
 * changes); it then serves a driver as before. */
static void restore_refused(void **state)
{
	uint8_t buf[2048], bad[2048], before[REGS_LEN], after[REGS_LEN];
	bool found = false;
	size_t len;
	uint16_t idx;

	(void)state;
	bring_up();
	len = save_vp(F.vp, buf, sizeof(buf));
	/* G: set up by a driver of its own, MSI-X on */
	virtio_pci_cfg_ops.cfg_write(G.vp, 0x43, 0x80, 1);
	virtio_pci_bar_ops.write(G.vp, COMMON + 0x14, &(uint8_t){ 3 }, 1);
	regs(G.vp, before);
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(restore_vp(G.vp, buf, cut), -EBADMSG);
		/* cut inside the transport's part (the device's record, 12
		 * bytes, comes last: device_record_refused) */
		if (cut >= 12 && cut < len - 12) {
			uint32_t body = (uint32_t)(cut - 12);

			memcpy(bad, buf, cut);
			memcpy(bad + 8, &body, 4);
			assert_int_equal(restore_vp(G.vp, bad, cut), -EBADMSG);
		}
	}
	/* values: the first fields after the header are device id, queues,
	 * command (3 bytes each), line, MSI-X control (2 each) */
	memcpy(bad, buf, len);
	bad[12 + 1] = 2; /* a virtio-blk's record */
	assert_int_equal(restore_vp(G.vp, bad, len), -EINVAL);
	memcpy(bad, buf, len);
	bad[12 + 6 + 1] = 0xff; /* command bits no write keeps */
	assert_int_equal(restore_vp(G.vp, bad, len), -EINVAL);
	/* a queue whose ring lies outside guest memory: the transport's and
	 * the virtqueue's copies of its address moved together */
	for (size_t i = 12; i + 9 <= len; i++) {
		uint64_t v;

		memcpy(&v, buf + i + 1, 8);
		if (buf[i] == STATE_T_U64 && v == USED) {
			memcpy(bad, buf, len);
			for (size_t j = 12; j + 9 <= len; j++)
				if (bad[j] == STATE_T_U64 && !memcmp(bad + j + 1, &v, 8))
					memcpy(bad + j + 1, &(uint64_t){ RAM - 8 }, 8);
			assert_int_equal(restore_vp(G.vp, bad, len), -EINVAL);
			found = true;
			break;
		}
	}
	assert_true(found);
	regs(G.vp, after);
	assert_memory_equal(before, after, REGS_LEN);
	assert_int_equal(brx(G.vp, COMMON + 0x14, 1), 3);
	/* still serves a driver */
	F.vp = G.vp;
	bw(COMMON + 0x14, 0, 1);
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	queue(16, DESC, AVAIL, USED);
	bw(COMMON + 0x14, status() | VIRTIO_STATUS_DRIVER_OK, 1);
	post(&G.gm, 0, F.cb[1], F.arg[1]);
	memcpy(&idx, gm_ptr(&G.gm, USED + 2, 2), 2);
	assert_int_equal(idx, 1);
}

/* The transport's part fits, the device's does not (another device's
 * record, or a cut one): the function is left reset, never half-restored,
 * and a driver brings it up again. */
static void device_record_refused(void **state)
{
	uint8_t buf[2048];
	size_t len;
	uint16_t idx;

	(void)state;
	bring_up();
	len = save_vp(F.vp, buf, sizeof(buf));
	assert_int_equal(buf[len - 12], 'H'); /* the empty virtio-rng record */
	assert_int_equal(buf[len - 12 + 4], STATE_KIND_VIRTIO_RNG);
	buf[len - 12 + 4] = STATE_KIND_VIRTIO_NET;
	memcpy(gm_ptr(&G.gm, 0, RAM), gm_ptr(&F.gm, 0, RAM), RAM);
	assert_int_equal(restore_vp(G.vp, buf, len), -EBADMSG);
	assert_int_equal(brx(G.vp, COMMON + 0x14, 1), 0); /* reset */
	buf[len - 12 + 4] = STATE_KIND_VIRTIO_RNG;
	buf[len - 12 + 6] = 2; /* a newer device record */
	assert_int_equal(restore_vp(G.vp, buf, len), -EPROTONOSUPPORT);
	assert_int_equal(brx(G.vp, COMMON + 0x14, 1), 0);
	/* cut inside the device's record, the outer length made to match */
	buf[len - 12 + 6] = 1;
	for (size_t cut = len - 12; cut < len; cut++) {
		uint8_t bad[2048];
		uint32_t body = (uint32_t)(cut - 12);

		restore_vp(G.vp, buf, len);
		assert_int_equal(brx(G.vp, COMMON + 0x14, 1) & VIRTIO_STATUS_DRIVER_OK,
				 VIRTIO_STATUS_DRIVER_OK);
		memcpy(bad, buf, cut);
		memcpy(bad + 8, &body, 4);
		assert_int_equal(restore_vp(G.vp, bad, cut), -EBADMSG);
		assert_int_equal(brx(G.vp, COMMON + 0x14, 1), 0);
	}
	/* the kick a reset function gets does nothing */
	F.cb[1](F.arg[1], 1);
	memcpy(&idx, gm_ptr(&G.gm, USED + 2, 2), 2);
	assert_int_equal(idx, 1);
	assert_int_equal(restore_vp(G.vp, buf, len), 0);
	post(&G.gm, 1, F.cb[1], F.arg[1]);
	memcpy(&idx, gm_ptr(&G.gm, USED + 2, 2), 2);
	assert_int_equal(idx, 2);
}

/* A function with no device attached has nothing to save or restore into. */
static void unattached_refused(void **state)
{
	struct virtio_pci *vp = virtio_pci_create(&F.h, &virtio_rng_ops, BAR, GSI0, INTX);
	uint8_t buf[2048];
	struct state_writer w;
	struct state_reader r;
	size_t len;

	(void)state;
	bring_up();
	len = save_vp(F.vp, buf, sizeof(buf));
	state_writer_init(&w, buf + len, sizeof(buf) - len);
	assert_int_equal(virtio_pci_save(vp, &w), -EINVAL);
	state_reader_init(&r, buf, len);
	assert_int_equal(virtio_pci_restore(vp, &r), -EINVAL);
	virtio_pci_destroy(vp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(header_and_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(read_only_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(bar_sizing_does_not_move_the_bar, setup, teardown),
		cmocka_unit_test_setup_teardown(feature_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_queues_need_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(msix_table_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(msix_qword_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(msix_routes_follow_use, setup, teardown),
		cmocka_unit_test_setup_teardown(intx_and_isr, setup, teardown),
		cmocka_unit_test_setup_teardown(status_never_goes_back, setup_counting,
						teardown_counting),
		cmocka_unit_test_setup_teardown(msix_masking_and_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(pci_cfg_window, setup, teardown),
		cmocka_unit_test_setup_teardown(rng_request_through_a_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(save_restore_continues, setup_two, teardown_two),
		cmocka_unit_test_setup_teardown(save_restore_mid_setup, setup_two, teardown_two),
		cmocka_unit_test_setup_teardown(restore_refused, setup_two, teardown_two),
		cmocka_unit_test_setup_teardown(device_record_refused, setup_two, teardown_two),
		cmocka_unit_test_setup_teardown(unattached_refused, setup_two, teardown_two),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
