// SPDX-License-Identifier: MIT
/*
 * virtio-net: header checks and offload translation, then the device over
 * a SOCK_SEQPACKET socketpair standing in for the TAP (one datagram per
 * frame, like a TAP) with rings in a fake guest memory. Hostile chains must
 * be dropped and counted while good frames around them pass in order;
 * receive must wait for buffers without losing or reordering frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "hearth/loop.h"
#include "hearth/state.h"
#include "hearth/virtio_net.h"

#define F(b)	 (1ULL << (b))
#define RAM	 (1ULL << 20)
#define QSZ	 16
#define RX_DESC	 0x1000ULL
#define RX_AVAIL 0x1200ULL
#define RX_USED	 0x1400ULL
#define TX_DESC	 0x2000ULL
#define TX_AVAIL 0x2200ULL
#define TX_USED	 0x2400ULL
#define BUF	 0x10000ULL /* 64 KiB of buffers from here */
#define BIG	 0x40000ULL /* room for oversized frames */
#define HDR	 VIRTIO_NET_HDR_LEN
#define ALL_FEATS                                                                            \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |     \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_TSO4) | \
	 F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_F_VERSION_1))

/* ---- pure: headers and offloads ---- */

static void mkhdr(uint8_t h[HDR], uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
		  uint16_t cs, uint16_t co)
{
	memset(h, 0, HDR);
	h[0] = flags;
	h[1] = gso;
	memcpy(h + 2, &hdr_len, 2);
	memcpy(h + 4, &gso_size, 2);
	memcpy(h + 6, &cs, 2);
	memcpy(h + 8, &co, 2);
	h[10] = 0x77; /* num_buffers: garbage from the driver */
	h[11] = 0x77;
}

static void tx_headers(void **state)
{
	uint8_t h[HDR];

	(void)state;
	mkhdr(h, 0, 0, 0, 0, 0, 0);
	assert_int_equal(virtio_net_tx_check(h, 0, 60), NET_TX_OK);
	assert_int_equal(h[10] | h[11], 0); /* num_buffers cleared */
	/* lengths: a runt, the largest, one more */
	assert_int_equal(virtio_net_tx_check(h, 0, 13), NET_TX_BAD_LENGTH);
	assert_int_equal(virtio_net_tx_check(h, 0, 65550), NET_TX_OK);
	assert_int_equal(virtio_net_tx_check(h, 0, 65551), NET_TX_BAD_LENGTH);
	assert_int_equal(virtio_net_tx_check(h, 0, UINT64_MAX), NET_TX_BAD_LENGTH);
	/* partial checksum: only with CSUM, and inside the frame */
	mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16);
	assert_int_equal(virtio_net_tx_check(h, 0, 100), NET_TX_BAD_FLAGS);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 100), NET_TX_OK);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 51), NET_TX_BAD_CSUM);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 52), NET_TX_OK);
	mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0xffff, 0xffff); /* 16-bit sums wrap */
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 65550), NET_TX_BAD_CSUM);
	/* unknown flags, DATA_VALID (receive only) */
	mkhdr(h, 0x80, 0, 0, 0, 0, 0);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 100), NET_TX_BAD_FLAGS);
	mkhdr(h, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 100), NET_TX_BAD_FLAGS);
	/* segmentation: only what was negotiated, with a size and a checksum */
	mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 34, 16);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 30000), NET_TX_OK);
	assert_int_equal(virtio_net_tx_check(h, F(VIRTIO_NET_F_CSUM), 30000), NET_TX_BAD_GSO);
	mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 86, 1428, 54, 16);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 30000), NET_TX_OK);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS & ~F(VIRTIO_NET_F_HOST_TSO6), 30000),
			 NET_TX_BAD_GSO);
	mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 66,
	      1448, 34, 16);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 30000), NET_TX_OK);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS & ~F(VIRTIO_NET_F_HOST_ECN), 30000),
			 NET_TX_BAD_GSO);
	mkhdr(h, 0, VIRTIO_NET_HDR_GSO_ECN, 0, 0, 0, 0); /* ECN alone */
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 100), NET_TX_BAD_GSO);
	mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 66, 0, 34, 16);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 30000), NET_TX_BAD_GSO); /* no size */
	mkhdr(h, 0, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 0, 0);
	assert_int_equal(virtio_net_tx_check(h, ALL_FEATS, 30000), NET_TX_BAD_GSO); /* no csum */
	mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP, 42, 1472, 34, 6);
	assert_int_equal(virtio_net_tx_check(h, ~0ULL, 30000), NET_TX_BAD_GSO); /* no HOST_UFO */
	for (unsigned t = 5; t < 0x80; t++) {
		mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, (uint8_t)t, 66, 1448, 34, 16);
		assert_int_equal(virtio_net_tx_check(h, ~0ULL, 30000), NET_TX_BAD_GSO);
	}
}

static void rx_headers(void **state)
{
	uint8_t h[HDR];

	(void)state;
	/* a driver without GUEST_CSUM sees no flags, and no partial checksums */
	mkhdr(h, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	assert_true(virtio_net_rx_fix(h, 0, 3));
	assert_int_equal(h[0], 0);
	assert_int_equal(h[10], 3);
	assert_int_equal(h[11], 0);
	mkhdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16);
	assert_false(virtio_net_rx_fix(h, 0, 1));
	assert_true(virtio_net_rx_fix(h, F(VIRTIO_NET_F_GUEST_CSUM), 1));
	mkhdr(h, 0xff, 0, 0, 0, 34, 16);
	assert_true(virtio_net_rx_fix(h, F(VIRTIO_NET_F_GUEST_CSUM), 1));
	assert_int_equal(h[0], VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID);
	/* segmentation types only as negotiated */
	mkhdr(h, 1, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 34, 16);
	assert_false(virtio_net_rx_fix(h, F(VIRTIO_NET_F_GUEST_CSUM), 1));
	assert_true(virtio_net_rx_fix(h, ALL_FEATS, 1));
	mkhdr(h, 1, VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN, 66, 1448, 34, 16);
	assert_false(virtio_net_rx_fix(h, ALL_FEATS & ~F(VIRTIO_NET_F_GUEST_ECN), 1));
	assert_true(virtio_net_rx_fix(h, ALL_FEATS, 1));
	mkhdr(h, 1, VIRTIO_NET_HDR_GSO_UDP, 42, 1472, 34, 6);
	assert_false(virtio_net_rx_fix(h, ~0ULL, 1));
}

static void offloads(void **state)
{
	(void)state;
	assert_int_equal(virtio_net_tap_offloads(0), 0);
	/* segmentation without the partial checksum is not usable */
	assert_int_equal(virtio_net_tap_offloads(F(VIRTIO_NET_F_GUEST_TSO4)), 0);
	assert_int_equal(virtio_net_tap_offloads(F(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	assert_int_equal(virtio_net_tap_offloads(ALL_FEATS),
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
	assert_int_equal(
		virtio_net_tap_offloads(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO6)),
		TUN_F_CSUM | TUN_F_TSO6);
	/* ECN only with a TSO type */
	assert_int_equal(
		virtio_net_tap_offloads(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_ECN)),
		TUN_F_CSUM);
	/* the host side (HOST_*) never changes what the TAP may send us */
	assert_int_equal(virtio_net_tap_offloads(F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_CSUM)),
			 0);
}

static void default_mac(void **state)
{
	uint8_t a[6], b[6], c[6];

	(void)state;
	virtio_net_default_mac("host1", "tap0", a);
	virtio_net_default_mac("host1", "tap0", b);
	virtio_net_default_mac("host1", "tap1", c);
	assert_memory_equal(a, b, 6);
	assert_memory_not_equal(a, c, 6);
	assert_int_equal(a[0], 0x02); /* locally administered, unicast */
	virtio_net_default_mac("host2", "tap0", b);
	assert_memory_not_equal(a, b, 6);
	/* FNV-1a-64 of "host1/tap0" = 0x...: pinned so the rule cannot drift */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const char *s = "host1/tap0"; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	for (int i = 1; i < 6; i++)
		assert_int_equal(a[i], (uint8_t)(h >> (8 * (8 - i))));
}

/* ---- the device ---- */

static struct guest_mem gm;
static struct vq vqs[2];
static int sp[2]; /* sp[0]: the device's "TAP", sp[1]: the host side */
static unsigned notifies[2], resets;
static struct virtio_net *dev;
static struct loop *tloop; /* for the device to be created on (polled), or NULL */
static bool one_by_one;	   /* create the device with no_batches */

static void t_notify(void *o, int q)
{
	(void)o;
	if (q >= 0 && q < 2)
		notifies[q]++;
}
static void t_needs_reset(void *o)
{
	(void)o;
	resets++;
}
static void t_nop(void *o)
{
	(void)o;
}
static const struct virtio_transport tr = { t_notify, t_needs_reset, t_nop, t_nop, NULL };

static void desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = gm_ptr(&gm, table + 16 * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static uint16_t avail_n[2], used_seen[2];

static void make_avail(unsigned q, uint16_t head)
{
	uint64_t avail = q ? TX_AVAIL : RX_AVAIL;
	uint8_t *a = gm_ptr(&gm, avail, 4 + 2 * QSZ);

	memcpy(a + 4 + 2 * (avail_n[q] % QSZ), &head, 2);
	avail_n[q]++;
	__atomic_store_n((uint16_t *)(void *)(a + 2), avail_n[q], __ATOMIC_RELEASE);
}

/* Next used entry of queue @q: returns its id, *len its length; -1 if none. */
static int take_used(unsigned q, uint32_t *len)
{
	uint8_t *u = gm_ptr(&gm, q ? TX_USED : RX_USED, 4 + 8 * QSZ);
	uint16_t idx;
	uint32_t id;

	memcpy(&idx, u + 2, 2);
	if (idx == used_seen[q])
		return -1;
	memcpy(&id, u + 4 + 8 * (used_seen[q] % QSZ), 4);
	memcpy(len, u + 8 + 8 * (used_seen[q] % QSZ), 4);
	used_seen[q]++;
	return (int)id;
}

static void start(uint64_t features)
{
	struct virtio_net_cfg c = { .mac = { 2, 1, 2, 3, 4, 5 }, .name = "test" };

	assert_int_equal(gm_create(&gm, RAM, false), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	/* room for many frames queued "in the TAP" */
	int sz = 4 << 20;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	c.tap_fd = sp[0];
	c.loop = tloop;
	c.no_batches = one_by_one;
	dev = virtio_net_create(&c, &gm, &tr);
	assert_non_null(dev);
	memset(vqs, 0, sizeof(vqs));
	vqs[0] = (struct vq){
		.size = QSZ, .desc_gpa = RX_DESC, .avail_gpa = RX_AVAIL, .used_gpa = RX_USED
	};
	vqs[1] = (struct vq){
		.size = QSZ, .desc_gpa = TX_DESC, .avail_gpa = TX_AVAIL, .used_gpa = TX_USED
	};
	for (int i = 0; i < 2; i++) {
		vqs[i].event_idx = features >> VIRTIO_F_EVENT_IDX & 1;
		assert_int_equal(vq_enable(&vqs[i], &gm, VQ_MAX_SIZE), 0);
		avail_n[i] = used_seen[i] = 0;
		notifies[i] = 0;
	}
	resets = 0;
	virtio_net_ops.start(dev, features, vqs);
}

static void stop(void)
{
	virtio_net_destroy(dev); /* closes sp[0] */
	close(sp[1]);
	gm_destroy(&gm);
}

static struct virtio_net_stats stats(void)
{
	struct virtio_net_stats s;

	virtio_net_get_stats(dev, &s);
	return s;
}

/* A frame of @len bytes whose bytes follow @seed. */
static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

static void transmit(void **state)
{
	uint8_t got[70000], want[200];
	uint8_t *g;
	uint32_t len;
	ssize_t n;

	(void)state;
	start(ALL_FEATS);
	g = gm_ptr(&gm, BUF, 0x10000);
	/* 0: header and frame in one buffer (Linux's layout) */
	mkhdr(g, 0, 0, 0, 0, 0, 0);
	fill(g + HDR, 100, 1);
	desc(TX_DESC, 0, BUF, HDR + 100, 0, 0);
	/* 1: header split over two buffers, frame over three */
	mkhdr(g + 0x1000, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16);
	fill(g + 0x2000, 200, 2);
	desc(TX_DESC, 1, BUF + 0x1000, 5, 1, 2);
	desc(TX_DESC, 2, BUF + 0x1005, HDR - 5, 1, 3);
	desc(TX_DESC, 3, BUF + 0x2000, 50, 1, 4);
	desc(TX_DESC, 4, BUF + 0x2032, 100, 1, 5);
	desc(TX_DESC, 5, BUF + 0x2096, 50, 0, 0);
	make_avail(1, 0);
	make_avail(1, 1);
	virtio_net_ops.kick(dev, 1);

	n = read(sp[1], got, sizeof(got));
	assert_int_equal(n, HDR + 100);
	assert_int_equal(got[10] | got[11], 0);
	fill(want, 100, 1);
	assert_memory_equal(got + HDR, want, 100);
	n = read(sp[1], got, sizeof(got));
	assert_int_equal(n, HDR + 200);
	assert_int_equal(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(got[6], 34);
	fill(want, 200, 2);
	assert_memory_equal(got + HDR, want, 200);
	assert_int_equal(read(sp[1], got, sizeof(got)), -1); /* nothing more */
	assert_int_equal(take_used(1, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(take_used(1, &len), 1);
	assert_int_equal(notifies[1], 1); /* one interrupt for the batch */
	assert_int_equal(stats().tx_frames, 2);
	assert_int_equal(stats().tx_bytes, 300);
	stop();
}

static void transmit_hostile(void **state)
{
	uint8_t got[128];
	uint8_t *g;
	uint32_t len;

	(void)state;
	start(F(VIRTIO_F_VERSION_1)); /* no offloads negotiated */
	g = gm_ptr(&gm, BUF, 0x10000);
	mkhdr(g, 0, 0, 0, 0, 0, 0);
	fill(g + HDR, 60, 3);
	/* 0: shorter than the header */
	desc(TX_DESC, 0, BUF, HDR - 1, 0, 0);
	/* 1: a writable buffer in a transmit chain */
	desc(TX_DESC, 1, BUF, HDR + 60, 1, 2);
	desc(TX_DESC, 2, BUF + 0x1000, 64, 2, 0);
	/* 3: oversized: 65551 bytes of frame */
	desc(TX_DESC, 3, BIG, HDR + 65551, 0, 0);
	/* 4: TSO the driver did not negotiate */
	mkhdr(g + 0x100, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
	fill(g + 0x100 + HDR, 60, 3);
	desc(TX_DESC, 4, BUF + 0x100, HDR + 60, 0, 0);
	/* 5: a runt: header plus 13 bytes */
	desc(TX_DESC, 5, BUF, HDR + 13, 0, 0);
	/* 6: a good frame after all that */
	desc(TX_DESC, 6, BUF, HDR + 60, 0, 0);
	for (uint16_t h = 0; h <= 6; h++)
		if (h != 2)
			make_avail(1, h);
	virtio_net_ops.kick(dev, 1);
	assert_int_equal(read(sp[1], got, sizeof(got)), HDR + 60); /* only the good one */
	assert_int_equal(read(sp[1], got, sizeof(got)), -1);
	assert_int_equal(stats().tx_bad, 5);
	assert_int_equal(stats().tx_frames, 1);
	for (int i = 0; i < 6; i++) {
		assert_true(take_used(1, &len) >= 0); /* every chain goes back */
		assert_int_equal(len, 0);
	}
	assert_int_equal(resets, 0);
	/* a broken ring: next out of range -> needs reset, nothing written */
	desc(TX_DESC, 7, BUF, HDR + 60, 1, QSZ);
	make_avail(1, 7);
	virtio_net_ops.kick(dev, 1);
	assert_int_equal(resets, 1);
	assert_int_equal(read(sp[1], got, sizeof(got)), -1);
	/* further kicks do nothing until a reset */
	desc(TX_DESC, 8, BUF, HDR + 60, 0, 0);
	make_avail(1, 8);
	virtio_net_ops.kick(dev, 1);
	assert_int_equal(read(sp[1], got, sizeof(got)), -1);
	virtio_net_ops.reset(dev);
	stop();
}

/* Chains of many buffers: transmit batches keep every frame's iovecs until
 * the batch is written, so a batch ends early when the next chain might not
 * fit; frames still go out whole and in order. */
static void transmit_batches(void **state)
{
	uint8_t got[1100], want[1000];
	uint32_t len;

	(void)state;
	start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC));
	vqs[1].indirect = true;
	for (uint16_t c = 0; c < 3; c++) {
		uint64_t table = BIG + 0x4000ULL * c, data = BUF + 0x8000 + 0x1000ULL * c;

		mkhdr(gm_ptr(&gm, BUF + 0x100 * c, HDR), 0, 0, 0, 0, 0, 0);
		fill(gm_ptr(&gm, data, 1000), 1000, 10 + c);
		desc(table, 0, BUF + 0x100 * c, HDR, 1, 1);
		for (unsigned i = 1; i <= 1000; i++) /* 1000 buffers of one byte */
			desc(table, i, data + i - 1, 1, i < 1000 ? 1 : 0, (uint16_t)(i + 1));
		desc(TX_DESC, c, table, 16 * 1001, 4, 0);
		make_avail(1, c);
	}
	virtio_net_ops.kick(dev, 1);
	for (unsigned c = 0; c < 3; c++) {
		assert_int_equal(read(sp[1], got, sizeof(got)), HDR + 1000);
		fill(want, 1000, 10 + c);
		assert_memory_equal(got + HDR, want, 1000);
		assert_int_equal(take_used(1, &len), (int)c);
	}
	assert_int_equal(read(sp[1], got, sizeof(got)), -1);
	assert_int_equal(stats().tx_frames, 3);
	assert_int_equal(stats().tx_bad, 0);
	stop();
}

/* The same transmit cases with each frame written at once (no io_uring). */
static void transmit_one_by_one(void **state)
{
	one_by_one = true;
	transmit(state);
	transmit_hostile(state);
	transmit_batches(state);
	one_by_one = false;
}

/* Sends a frame of @len bytes (after a plain header) into the "TAP". */
static void host_send(size_t len, unsigned seed)
{
	static uint8_t f[HDR + 70000];

	memset(f, 0, HDR);
	fill(f + HDR, len, seed);
	assert_int_equal(write(sp[1], f, HDR + len), (ssize_t)(HDR + len));
}

/* Posts receive chain @head: one writable buffer of @len bytes. */
static void post_rx(uint16_t head, uint32_t len)
{
	desc(RX_DESC, head, BUF + 0x1000ULL * head, len, 2, 0);
	make_avail(0, head);
}

static void receive_mergeable(void **state)
{
	uint8_t want[5000];
	uint8_t *g;
	uint32_t len;

	(void)state;
	/* with TSO a frame may take 64 KiB: less room is used only when the
	 * ring has no more buffers, and then a frame that does not fit is
	 * dropped, not cut */
	start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_F_EVENT_IDX) |
	      F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4));
	g = gm_ptr(&gm, BUF, 0x10000);
	post_rx(15, 1024);
	host_send(2100, 7);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), -1); /* less than an MTU: waits */
	post_rx(14, 1024);
	virtio_net_ops.kick(dev, 0);
	assert_int_equal(take_used(0, &len), -1); /* too big for 2 KiB: dropped */
	assert_int_equal(stats().rx_dropped, 1);
	for (uint16_t h = 0; h < 8; h++)
		post_rx(h, 2048);
	host_send(100, 1);
	host_send(900, 4);
	virtio_net_ops.kick(dev, 0);
	notifies[0] = 0;
	/* the driver asks for an interrupt after its next used entry */
	uint16_t used_event = 2;
	memcpy(gm_ptr(&gm, RX_AVAIL + 4 + 2 * QSZ, 2), &used_event, 2);
	/* 5000 bytes: three buffers; then 60 */
	host_send(5000, 2);
	host_send(60, 3);
	virtio_net_rx(dev, POLLIN);
	/* the two small chains are still there: the 100 bytes went to 15 */
	assert_int_equal(take_used(0, &len), 15);
	assert_int_equal(len, HDR + 100);
	assert_int_equal(g[0xf000 + 10], 1); /* num_buffers */
	fill(want, 100, 1);
	assert_memory_equal(g + 0xf000 + HDR, want, 100);
	assert_int_equal(take_used(0, &len), 14);
	assert_int_equal(len, HDR + 900);
	/* then 5000 bytes over three 2 KiB chains, and 60 in one */
	assert_int_equal(take_used(0, &len), 0);
	assert_int_equal(len, 2048);
	assert_int_equal(g[10], 3);
	assert_int_equal(take_used(0, &len), 1);
	assert_int_equal(len, 2048);
	assert_int_equal(take_used(0, &len), 2);
	assert_int_equal(len, HDR + 5000 - 4096);
	fill(want, 5000, 2);
	assert_memory_equal(g + HDR, want, 2048 - HDR);
	assert_memory_equal(g + 0x1000, want + 2048 - HDR, 2048);
	assert_memory_equal(g + 0x2000, want + 4096 - HDR, 5000 - 4096 + HDR);
	assert_int_equal(take_used(0, &len), 3);
	assert_int_equal(len, HDR + 60);
	assert_int_equal(g[0x3000 + 10], 1);
	assert_int_equal(take_used(0, &len), -1);
	assert_int_equal(notifies[0], 1); /* EVENT_IDX: one for the batch */
	assert_int_equal(stats().rx_frames, 4);
	stop();
}

/* A long stream while the driver hands each buffer back as soon as it is
 * used, so the device's cache of chains never runs empty: frames of one to
 * three 512-byte buffers arrive whole and in order, in the buffers in the
 * order they were made available, past the point where the cache's window
 * reaches the end of its arrays and moves back. */
static void receive_stream(void **state)
{
	uint16_t order[64];
	unsigned first = 0, last = 0;
	uint8_t got[2048], want[2048];
	uint8_t *g;
	uint32_t len;

	(void)state;
	start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF));
	g = gm_ptr(&gm, BUF, 0x10000);
	for (uint16_t h = 0; h < QSZ; h++) {
		post_rx(h, 512);
		order[last++ % 64] = h;
	}
	virtio_net_ops.kick(dev, 0);
	for (unsigned i = 0; i < 1500; i++) {
		size_t size = 60 + (i * 37) % 1400, at = 0;
		unsigned bufs = (unsigned)((HDR + size + 511) / 512);

		host_send(size, i);
		virtio_net_rx(dev, POLLIN);
		for (unsigned b = 0; b < bufs; b++) {
			uint16_t h = order[first++ % 64];

			assert_int_equal(take_used(0, &len), h);
			assert_int_equal(len, b + 1 < bufs ? 512 : HDR + size - 512 * b);
			if (b == 0)
				assert_int_equal(g[0x1000 * h + 10], bufs); /* num_buffers */
			memcpy(got + at, g + 0x1000 * h, len);
			at += len;
			post_rx(h, 512);
			order[last++ % 64] = h;
		}
		assert_int_equal(take_used(0, &len), -1);
		fill(want, size, i);
		assert_memory_equal(got + HDR, want, size);
		virtio_net_ops.kick(dev, 0);
	}
	assert_int_equal(stats().rx_frames, 1500);
	assert_int_equal(stats().rx_dropped, 0);
	stop();
}

/* The receive queue asks for kicks only while frames wait for buffers; the
 * transmit queue asks for one once it has taken every chain. With EVENT_IDX
 * that is avail_event (an index the driver has passed means "no kick"),
 * without it the used ring's NO_NOTIFY flag. */
static uint16_t avail_event_of(unsigned q)
{
	uint16_t v;

	memcpy(&v, gm_ptr(&gm, (q ? TX_USED : RX_USED) + 4 + 8 * QSZ, 2), 2);
	return v;
}

static uint16_t used_flags_of(unsigned q)
{
	uint16_t v;

	memcpy(&v, gm_ptr(&gm, q ? TX_USED : RX_USED, 2), 2);
	return v;
}

/* 1 if queue @q asks for a kick at @last (its next entry), 0 if it asks
 * for none (EVENT_IDX: avail_event half the index space ahead), -1 if
 * neither. */
static int wants_kick(unsigned q, int ev, uint16_t last)
{
	if (!ev)
		return !(used_flags_of(q) & 1);
	if (avail_event_of(q) == last)
		return 1;
	return avail_event_of(q) == (uint16_t)(last + 0x8000) ? 0 : -1;
}

/* Whether this kernel's io_uring takes RWF_NOWAIT reads on the "TAP" (the
 * socketpair; a real TAP answers the same on the kernels we know, see
 * docs/net.md): -EAGAIN on an empty one. Linux 6.1 refuses the flag with
 * -EOPNOTSUPP, and then the device reads frames one by one. Skips the test
 * where io_uring cannot be used at all. */
static bool kernel_reads_nowait(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	uint8_t b[64];
	struct iovec iov = { b, sizeof(b) };
	int p[2], res = -ENOSYS;

	if (io_uring_queue_init(2, &ring, IORING_SETUP_SUBMIT_ALL))
		skip(); /* no io_uring here: frames are read one by one */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, p), 0);
	io_uring_prep_readv2(io_uring_get_sqe(&ring), p[0], &iov, 1, 0, RWF_NOWAIT);
	if (io_uring_submit_and_wait(&ring, 1) == 1 && !io_uring_peek_cqe(&ring, &cqe))
		res = cqe->res;
	io_uring_queue_exit(&ring);
	close(p[0]);
	close(p[1]);
	if (res != -EAGAIN && res != -EOPNOTSUPP)
		fail_msg("RWF_NOWAIT read of an empty socket: %d", res);
	return res == -EAGAIN;
}

/* Receive batches: with room for several frames the reads go out
 * together, each holding room for the largest frame; the chains a frame
 * did not need stay cached, in order, for later frames. Where the kernel
 * refuses RWF_NOWAIT reads, frames are read one by one, each into the
 * first chains cached; either way none is lost or reordered. */
static void receive_batches(void **state)
{
	/* 4 reads holding chains 0-1, 2-3, 4-5, 6-7; then 2 reads over 1, 3,
	 * 5, 7; then one read (no batch) over 3 and 7 */
	static const int batch_ids[7] = { 0, 2, 4, 6, 1, 5, 3 };
	static const int one_ids[7] = { 0, 1, 2, 3, 4, 5, 6 };
	const int *want_ids = kernel_reads_nowait() ? batch_ids : one_ids;
	uint8_t want[100];
	uint8_t *g;
	uint32_t len;

	(void)state;
	start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF));
	g = gm_ptr(&gm, BUF, 0x10000);
	for (uint16_t h = 0; h < 8; h++) /* the largest frame (MTU) needs two */
		post_rx(h, 1024);
	virtio_net_ops.kick(dev, 0);
	for (unsigned i = 0; i < 4; i++)
		host_send(100, 20 + i);
	virtio_net_rx(dev, POLLIN);
	for (unsigned i = 0; i < 4; i++)
		host_send(100, 24 + i);
	virtio_net_rx(dev, POLLIN);
	for (unsigned i = 0; i < 7; i++) {
		assert_int_equal(take_used(0, &len), want_ids[i]);
		assert_int_equal(len, HDR + 100);
		assert_int_equal(g[0x1000 * want_ids[i] + 10], 1); /* num_buffers */
		fill(want, 100, 20 + i);
		assert_memory_equal(g + 0x1000 * want_ids[i] + HDR, want, 100);
	}
	assert_int_equal(take_used(0, &len), -1);
	assert_int_equal(stats().rx_frames, 7);
	/* the last frame waits for room (chain 7 alone is too small) */
	post_rx(8, 1024);
	virtio_net_ops.kick(dev, 0);
	assert_int_equal(take_used(0, &len), 7);
	assert_int_equal(len, HDR + 100);
	fill(want, 100, 27);
	assert_memory_equal(g + 0x1000 * 7 + HDR, want, 100);
	assert_int_equal(take_used(0, &len), -1);
	assert_int_equal(stats().rx_frames, 8);
	assert_int_equal(stats().rx_dropped, 0);
	stop();
}

static void kick_requests(void **state)
{
	uint32_t len;

	(void)state;
	for (int ev = 0; ev < 2; ev++) {
		start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) |
		      (ev ? F(VIRTIO_F_EVENT_IDX) : 0));
		for (uint16_t h = 0; h < 4; h++)
			post_rx(h, 2048);
		virtio_net_ops.kick(dev, 0);
		/* buffers and nothing to receive: no kick wanted */
		assert_int_equal(wants_kick(0, ev, 4), 0);
		host_send(100, 1);
		virtio_net_rx(dev, POLLIN);
		assert_int_equal(take_used(0, &len), 0);
		assert_int_equal(wants_kick(0, ev, 4), 0);
		/* out of buffers with frames waiting: a kick is wanted */
		for (unsigned i = 0; i < 4; i++)
			host_send(1600, 2 + i);
		virtio_net_rx(dev, POLLIN);
		assert_int_equal(wants_kick(0, ev, 4), 1);
		for (unsigned i = 0; i < 3; i++)
			assert_int_equal(take_used(0, &len), 1 + (int)i);
		assert_int_equal(take_used(0, &len), -1);
		/* the kick brings them in, and the queue is quiet again */
		for (uint16_t h = 4; h < 8; h++)
			post_rx(h, 2048);
		virtio_net_ops.kick(dev, 0);
		assert_int_equal(take_used(0, &len), 4);
		assert_int_equal(stats().rx_frames, 5);
		assert_int_equal(wants_kick(0, ev, 8), 0);
		/* out of buffers with nothing waiting: still no kick wanted (the
		 * next frame's arrival is when to look); once one waits, it is */
		for (unsigned i = 0; i < 3; i++)
			host_send(1600, 6 + i);
		virtio_net_rx(dev, POLLIN);
		for (unsigned i = 0; i < 3; i++)
			assert_int_equal(take_used(0, &len), 5 + (int)i);
		assert_int_equal(wants_kick(0, ev, 8), 0);
		host_send(1600, 9);
		virtio_net_rx(dev, POLLIN);
		assert_int_equal(take_used(0, &len), -1);
		assert_int_equal(wants_kick(0, ev, 8), 1);
		assert_int_equal(stats().rx_frames, 8);
		assert_int_equal(stats().rx_dropped, 0);
		/* transmit: after a kick's chains, listening for the next one */
		uint8_t *b = gm_ptr(&gm, BUF, 64);
		memset(b, 0, HDR + 60);
		for (uint16_t h = 0; h < 3; h++) {
			desc(TX_DESC, h, BUF, HDR + 60, 0, 0);
			make_avail(1, h);
		}
		virtio_net_ops.kick(dev, 1);
		for (int i = 0; i < 3; i++)
			assert_int_equal(take_used(1, &len), i);
		assert_int_equal(wants_kick(1, ev, 3), 1);
		stop();
	}
}

/* The polled device's loop: a poller that plays the driver (on its first
 * call it adds receive buffers, and records whether the device wanted a
 * kick for them), and an idle callback, called after the device's, that
 * records the device's wish once more and stops the loop. */
struct polled_driver {
	int ev, wake;
	bool posted;
	int kick_when_posted, kick_at_idle;
};

static bool driver_poll(void *opaque)
{
	struct polled_driver *p = opaque;

	if (p->posted)
		return false;
	for (uint16_t h = 4; h < 8; h++)
		post_rx(h, 2048);
	p->kick_when_posted = wants_kick(0, p->ev, 4);
	p->posted = true;
	return true;
}

static bool driver_idle(void *opaque)
{
	struct polled_driver *p = opaque;

	p->kick_at_idle = wants_kick(0, p->ev, 8);
	loop_quit(tloop);
	eventfd_write(p->wake, 1); /* the loop is about to sleep: wake it to quit */
	return false;
}

static void wake_nop(void *opaque, uint32_t events)
{
	(void)opaque, (void)events;
}

/* While the I/O thread polls the queues, a receive queue short of buffers
 * asks for no kick (the poller sees new buffers by itself; a driver that
 * gives them back one at a time would kick for each): it asks only when the
 * loop is about to sleep. Transmit likewise stays quiet after its chains. */
static void receive_polled(void **state)
{
	uint32_t len;

	(void)state;
	for (int ev = 0; ev < 2; ev++) {
		struct polled_driver p = { .ev = ev };

		assert_int_equal(loop_create(&tloop, 0), 0);
		if (!loop_ring(tloop)) {
			loop_destroy(tloop);
			tloop = NULL;
			skip(); /* io_uring disabled here: no polling */
		}
		loop_set_poll_ns(tloop, 1000000);
		start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) |
		      (ev ? F(VIRTIO_F_EVENT_IDX) : 0));
		p.wake = eventfd(0, EFD_NONBLOCK);
		assert_true(loop_watch(tloop, p.wake, wake_nop, NULL) >= 0);
		assert_int_equal(loop_add_poller(tloop, driver_poll, driver_idle, &p), 0);
		for (uint16_t h = 0; h < 4; h++)
			post_rx(h, 2048);
		virtio_net_ops.kick(dev, 0);
		/* out of buffers with a frame waiting, but polled: no kick wanted */
		for (unsigned i = 0; i < 5; i++)
			host_send(1600, 1 + i);
		virtio_net_rx(dev, POLLIN);
		for (int i = 0; i < 4; i++)
			assert_int_equal(take_used(0, &len), i);
		assert_int_equal(wants_kick(0, ev, 4), 0);
		/* transmit: after its chains, quiet too */
		uint8_t *b = gm_ptr(&gm, BUF + 0x10000, 64);
		memset(b, 0, HDR + 60);
		desc(TX_DESC, 0, BUF + 0x10000, HDR + 60, 0, 0);
		make_avail(1, 0);
		virtio_net_ops.kick(dev, 1);
		assert_int_equal(take_used(1, &len), 0);
		assert_int_equal(wants_kick(1, ev, 1), 0);
		/* the loop polls: the driver's new buffers are taken without a
		 * kick; once nothing is left to do, both queues ask for kicks */
		assert_int_equal(loop_run(tloop), 0);
		assert_int_equal(p.kick_when_posted, 0);
		assert_int_equal(take_used(0, &len), 4);
		assert_int_equal(take_used(0, &len), -1);
		assert_int_equal(stats().rx_frames, 5);
		assert_int_equal(p.kick_at_idle, 0); /* buffers left, TAP empty */
		assert_int_equal(wants_kick(1, ev, 1), 1);
		stop();
		close(p.wake);
		loop_destroy(tloop);
		tloop = NULL;
	}
}

static void receive_waits_for_buffers(void **state)
{
	uint8_t *g;
	uint32_t len;
	unsigned seen = 0;

	(void)state;
	start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF));
	g = gm_ptr(&gm, BUF, 0x10000);
	/* 40 frames and no buffers yet: nothing is read, nothing lost */
	for (unsigned i = 0; i < 40; i++)
		host_send(64 + i, i);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), -1);
	assert_int_equal(stats().rx_dropped, 0);
	/* buffers arrive four at a time, each followed by a kick */
	for (unsigned round = 0; round < 10; round++) {
		for (uint16_t h = 0; h < 4; h++)
			post_rx(h, 2048);
		virtio_net_ops.kick(dev, 0);
		for (int id; (id = take_used(0, &len)) >= 0; seen++) {
			uint8_t want[200];

			assert_int_equal(len, HDR + 64 + seen); /* in order */
			fill(want, 64 + seen, seen);
			assert_memory_equal(g + 0x1000 * (unsigned)id + HDR, want, 64 + seen);
		}
		assert_int_equal(seen, 4 * (round + 1));
	}
	assert_int_equal(stats().rx_frames, 40);
	assert_int_equal(stats().rx_dropped, 0);
	stop();
}

/* A driver that has posted room for a TSO frame and is short of it for a
 * moment (its ring dry, less than 64 KiB left) gets the next TSO frame once
 * it posts more: hearth waits rather than read it into the room left and
 * drop it. */
static void receive_tso_waits_for_room(void **state)
{
	uint8_t *g, want[60000];
	uint32_t len;

	(void)state;
	start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM) |
	      F(VIRTIO_NET_F_GUEST_TSO4));
	g = gm_ptr(&gm, BIG, 0x30000);
	for (uint16_t h = 0; h < 3; h++) { /* 96 KiB */
		desc(RX_DESC, h, BIG + 0x8000ULL * h, 0x8000, 2, 0);
		make_avail(0, h);
	}
	host_send(60000, 1);
	host_send(60000, 2);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), 0);
	assert_int_equal(len, 0x8000);
	assert_int_equal(take_used(0, &len), 1);
	assert_int_equal(len, HDR + 60000 - 0x8000);
	/* 32 KiB left, nothing more posted: the second frame waits */
	assert_int_equal(take_used(0, &len), -1);
	assert_int_equal(stats().rx_dropped, 0);
	for (uint16_t h = 3; h < 5; h++) {
		desc(RX_DESC, h, BIG + 0x8000ULL * h, 0x8000, 2, 0);
		make_avail(0, h);
	}
	virtio_net_ops.kick(dev, 0);
	assert_int_equal(take_used(0, &len), 2);
	assert_int_equal(len, 0x8000);
	assert_int_equal(g[0x10000 + 10], 2); /* num_buffers */
	assert_int_equal(take_used(0, &len), 3);
	assert_int_equal(len, HDR + 60000 - 0x8000);
	fill(want, 60000, 2);
	assert_memory_equal(g + 0x10000 + HDR, want, 0x8000 - HDR);
	assert_memory_equal(g + 0x18000, want + 0x8000 - HDR, 60000 - 0x8000 + HDR);
	assert_int_equal(stats().rx_frames, 2);
	assert_int_equal(stats().rx_dropped, 0);
	stop();
}

static void receive_hostile(void **state)
{
	uint8_t *g;
	uint32_t len;

	(void)state;
	/* without MRG_RXBUF: one chain per frame */
	start(F(VIRTIO_F_VERSION_1));
	g = gm_ptr(&gm, BUF, 0x10000);
	/* 0: a readable buffer; 1: smaller than the header; 2: good */
	desc(RX_DESC, 0, BUF, 2048, 0, 0);
	make_avail(0, 0);
	post_rx(1, HDR - 1);
	/* 2: header and frame in two buffers */
	desc(RX_DESC, 2, BUF + 0x2000, HDR, 3, 3);
	desc(RX_DESC, 3, BUF + 0x3000, 2048, 2, 0);
	make_avail(0, 2);
	host_send(300, 9);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(take_used(0, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(take_used(0, &len), 2);
	assert_int_equal(len, HDR + 300);
	assert_int_equal(g[0x2000 + 10], 1);
	assert_int_equal(stats().rx_bad_bufs, 2);
	/* 1024 one-byte buffers (an indirect table): more than readv takes
	 * with the overflow buffer; returned, not held forever */
	vqs[0].indirect = true;
	for (unsigned i = 0; i < 1024; i++) {
		uint8_t *d = gm_ptr(&gm, BIG + 16 * i, 16);
		uint64_t a = BUF + 0x8000 + i;
		uint32_t l = 1;
		uint16_t f = 2 | (i < 1023 ? 1 : 0), nx = (uint16_t)(i + 1);

		memcpy(d, &a, 8);
		memcpy(d + 8, &l, 4);
		memcpy(d + 12, &f, 2);
		memcpy(d + 14, &nx, 2);
	}
	desc(RX_DESC, 6, BIG, 16 * 1024, 4, 0);
	make_avail(0, 6);
	post_rx(7, 2048);
	host_send(200, 5);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), 6);
	assert_int_equal(len, 0);
	assert_int_equal(take_used(0, &len), 7);
	assert_int_equal(len, HDR + 200);
	assert_int_equal(stats().rx_bad_bufs, 3);
	/* a frame larger than the chain is dropped; the chain serves the next */
	post_rx(4, 256);
	host_send(1000, 1);
	host_send(100, 2);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), 4);
	assert_int_equal(len, HDR + 100);
	assert_int_equal(stats().rx_dropped, 1);
	/* a broken receive ring: needs reset */
	desc(RX_DESC, 5, BUF, 2048, 2 | 1, 5); /* a loop */
	make_avail(0, 5);
	host_send(100, 3);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(resets, 1);
	assert_int_equal(take_used(0, &len), -1);
	virtio_net_ops.reset(dev);
	/* stopped: what arrives is read and dropped, not left to pile up */
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(stats().rx_dropped, 2);
	stop();
}

/* With MRG_RXBUF and no TSO a read gets the iovecs an MTU-sized frame
 * needs; a larger frame's tail lands in the scratch buffer after them. It
 * must be dropped, not handed to the driver over more chains than the read
 * had (whose last would then hold stale bytes) and counted as delivered. */
static void receive_larger_than_the_read(void **state)
{
	uint8_t want[200], *g;
	uint32_t len;
	int h;

	(void)state;
	start(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF));
	g = gm_ptr(&gm, BUF, 0x10000);
	memset(g, 0xee, 0x4000);
	for (uint16_t c = 0; c < 4; c++)
		post_rx(c, 1024); /* a read takes two: 2048 >= 12 + 18 + 1500 */
	host_send(3000, 1);	  /* fits the four chains, not the read's two */
	host_send(100, 2);
	virtio_net_rx(dev, POLLIN);
	/* read by itself, the next frame takes chain 0; in a batch of reads,
	 * one per two chains, chain 2 */
	h = take_used(0, &len);
	assert_true(h == 0 || h == 2);
	assert_int_equal(len, HDR + 100);
	fill(want, 100, 2);
	assert_memory_equal(g + 0x1000 * h + HDR, want, 100);
	assert_int_equal(take_used(0, &len), -1);
	assert_int_equal(stats().rx_dropped, 1);
	assert_int_equal(stats().rx_frames, 1);
	stop();
}

/* The receive cases with each frame read with its own readv. */
static void receive_one_by_one(void **state)
{
	one_by_one = true;
	receive_mergeable(state);
	receive_stream(state);
	kick_requests(state);
	receive_waits_for_buffers(state);
	receive_tso_waits_for_room(state);
	receive_hostile(state);
	receive_larger_than_the_read(state);
	one_by_one = false;
}

static void config_space(void **state)
{
	uint8_t c[20];
	uint16_t status;

	(void)state;
	start(F(VIRTIO_F_VERSION_1));
	assert_int_equal(virtio_net_ops.cfg_size, 20);
	virtio_net_ops.cfg_read(dev, 0, c, 20);
	assert_memory_equal(c, ((uint8_t[]){ 2, 1, 2, 3, 4, 5 }), 6);
	memcpy(&status, c + 6, 2);
	assert_int_equal(status, VIRTIO_NET_S_LINK_UP);
	virtio_net_ops.cfg_write(dev, 0, "\xff\xff", 2); /* read-only */
	virtio_net_ops.cfg_read(dev, 0, c, 1);
	assert_int_equal(c[0], 2);
	uint64_t f = virtio_net_ops.features(dev);
	assert_true(f & F(VIRTIO_NET_F_MAC) && f & F(VIRTIO_NET_F_STATUS) &&
		    f & F(VIRTIO_NET_F_MRG_RXBUF) && f & F(VIRTIO_F_EVENT_IDX));
	assert_false(f & F(VIRTIO_NET_F_HOST_UFO) || f & F(VIRTIO_NET_F_GUEST_UFO));
	stop();
}

/* ---- save and restore (docs/state.md) ---- */

/* What the transport writes for a NIC: both queues, then the device. */
static size_t save_net(uint8_t *buf, size_t cap)
{
	struct state_writer w;
	size_t len = 0;

	state_writer_init(&w, buf, cap);
	vq_save(&vqs[0], &w);
	vq_save(&vqs[1], &w);
	assert_int_equal(virtio_net_ops.save(dev, &w), 0);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	return len;
}

/* What the transport does on restore: queues mapped, the device reset and
 * started with the features, then given its record. */
static int restore_net(uint64_t features, const uint8_t *buf, size_t len)
{
	struct state_reader r;

	state_reader_init(&r, buf, len);
	if (vq_restore(&vqs[0], &gm, VQ_MAX_SIZE, &r) || vq_restore(&vqs[1], &gm, VQ_MAX_SIZE, &r))
		return r.err;
	virtio_net_ops.reset(dev);
	virtio_net_ops.start(dev, features, vqs);
	if (virtio_net_ops.restore(dev, &r))
		return r.err;
	return state_reader_finish(&r);
}

/* A new NIC on a new "TAP" over the same guest memory, as a restore
 * creates it (with another MAC: the record's wins). */
static void replace_device(void)
{
	struct virtio_net_cfg c = { .mac = { 2, 9, 9, 9, 9, 9 }, .name = "restored" };

	virtio_net_destroy(dev);
	close(sp[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	c.tap_fd = sp[0];
	dev = virtio_net_create(&c, &gm, &tr);
	assert_non_null(dev);
	memset(vqs, 0, sizeof(vqs));
}

/* Transmit chain @i: a header and @len bytes following @seed at BUF + 0x8000 + 0x800 * i. */
static void post_tx(uint16_t i, uint32_t len, unsigned seed)
{
	uint8_t *g = gm_ptr(&gm, BUF + 0x8000 + 0x800ULL * i, HDR + len);

	mkhdr(g, 0, 0, 0, 0, 0, 0);
	fill(g + HDR, len, seed);
	desc(TX_DESC, i, BUF + 0x8000 + 0x800ULL * i, HDR + len, 0, 0);
	make_avail(1, i);
}

/* The driver's next steps after the save: two frames arrive, one leaves. */
static void continue_traffic(uint8_t *sent, ssize_t *sent_len)
{
	host_send(300, 2);
	host_send(500, 3);
	virtio_net_rx(dev, POLLIN);
	post_tx(1, 200, 9);
	virtio_net_ops.kick(dev, 1);
	*sent_len = read(sp[1], sent, 1024);
}

/* Saved mid-stream: one frame received into the first of four receive
 * chains (the other three taken into the device's cache), one frame sent.
 * The original then receives two frames and sends one; the restored NIC,
 * over guest memory as it was at the save, does the same: the same bytes
 * everywhere in guest memory (buffers, used rings, event indices), the same
 * frame out, the chains the cache held used in order. */
static void save_restore_mid_stream(void **state)
{
	static uint8_t snap[RAM], after[RAM];
	const uint64_t feats = F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_EVENT_IDX);
	uint8_t buf[512], sent[1024], sent2[1024], mac[6];
	uint16_t avail_snap[2], used_snap[2];
	ssize_t n, n2;
	uint32_t len;
	size_t rlen;

	(void)state;
	start(feats);
	for (uint16_t h = 0; h < 4; h++)
		post_rx(h, 2048);
	host_send(100, 1);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), 0);
	assert_int_equal(len, HDR + 100);
	post_tx(0, 60, 5);
	virtio_net_ops.kick(dev, 1);
	assert_int_equal(read(sp[1], sent, sizeof(sent)), HDR + 60);
	assert_int_equal(take_used(1, &len), 0);

	rlen = save_net(buf, sizeof(buf));
	memcpy(snap, gm_ptr(&gm, 0, RAM), RAM);
	memcpy(avail_snap, avail_n, sizeof(avail_n));
	memcpy(used_snap, used_seen, sizeof(used_seen));
	continue_traffic(sent, &n);
	assert_int_equal(n, HDR + 200);
	memcpy(after, gm_ptr(&gm, 0, RAM), RAM);

	replace_device();
	memcpy(gm_ptr(&gm, 0, RAM), snap, RAM);
	memcpy(avail_n, avail_snap, sizeof(avail_n));
	memcpy(used_seen, used_snap, sizeof(used_seen));
	assert_int_equal(restore_net(feats, buf, rlen), 0);
	virtio_net_ops.cfg_read(dev, 0, mac, 6);
	assert_memory_equal(mac, ((uint8_t[]){ 2, 1, 2, 3, 4, 5 }), 6);
	continue_traffic(sent2, &n2);
	assert_int_equal(n2, n);
	assert_memory_equal(sent2, sent, (size_t)n);
	assert_memory_equal(gm_ptr(&gm, 0, RAM), after, RAM);
	assert_int_equal(take_used(0, &len), 1); /* the cache's chains, in order */
	assert_int_equal(len, HDR + 300);
	assert_int_equal(take_used(0, &len), 2);
	assert_int_equal(len, HDR + 500);
	assert_int_equal(take_used(1, &len), 1);
	assert_int_equal(stats().rx_frames, 2);
	stop();
}

/* A cut record, or one claiming more cached chains than the ring holds, is
 * refused; the NIC then takes a good record and runs. */
static void restore_refused_net(void **state)
{
	const uint64_t feats = F(VIRTIO_F_VERSION_1);
	uint8_t buf[512], bad[512];
	uint32_t len;
	size_t rlen;

	(void)state;
	start(feats);
	for (uint16_t h = 0; h < 3; h++)
		post_rx(h, 2048);
	host_send(100, 1);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), 0);
	rlen = save_net(buf, sizeof(buf));
	assert_int_equal(buf[rlen - 2], 2); /* two chains cached */
	replace_device();
	for (size_t cut = 0; cut < rlen; cut++)
		assert_true(restore_net(feats, buf, cut) < 0);
	memcpy(bad, buf, rlen);
	bad[rlen - 2] = QSZ + 1;
	assert_int_equal(restore_net(feats, bad, rlen), -EINVAL);
	bad[rlen - 2] = 1;
	bad[rlen - 4] = 2; /* "broken" must be a bool */
	assert_int_equal(restore_net(feats, bad, rlen), -EBADMSG);
	assert_int_equal(restore_net(feats, buf, rlen), 0);
	host_send(40, 2);
	virtio_net_rx(dev, POLLIN);
	assert_int_equal(take_used(0, &len), 1);
	assert_int_equal(len, HDR + 40);
	stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tx_headers),
		cmocka_unit_test(rx_headers),
		cmocka_unit_test(offloads),
		cmocka_unit_test(default_mac),
		cmocka_unit_test(transmit),
		cmocka_unit_test(transmit_hostile),
		cmocka_unit_test(transmit_batches),
		cmocka_unit_test(transmit_one_by_one),
		cmocka_unit_test(receive_mergeable),
		cmocka_unit_test(receive_stream),
		cmocka_unit_test(receive_batches),
		cmocka_unit_test(kick_requests),
		cmocka_unit_test(receive_polled),
		cmocka_unit_test(receive_waits_for_buffers),
		cmocka_unit_test(receive_tso_waits_for_room),
		cmocka_unit_test(receive_hostile),
		cmocka_unit_test(receive_larger_than_the_read),
		cmocka_unit_test(receive_one_by_one),
		cmocka_unit_test(config_space),
		cmocka_unit_test(save_restore_mid_stream),
		cmocka_unit_test(restore_refused_net),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
