// SPDX-License-Identifier: MIT
/*
 * Work budgets (docs/virtio.md): a driver that makes a chain available
 * again each time the device returns one must not hold the I/O thread.
 * The simulated driver reposts from inside the device's handler: this test
 * links with --wrap=vq_push, so every chain a device returns (the used
 * index moving) is made available again at once, a set number of times.
 * Each device (virtio-rng, virtio-blk with requests it answers without a
 * slot, virtio-net transmit, receive and its discard path) must hand
 * control back after one queue's worth, and the loop's later turns, with no
 * kick at all, must finish the rest; an observer of our own, deferred on
 * every turn, sees at most one budget served between two of its turns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hearth/blkio.h"
#include "hearth/loop.h"
#include "hearth/virtio.h"
#include "hearth/virtio_net.h"

#define RAM   (1ULL << 20)
#define QSZ   8
#define DESC  0x1000ULL
#define AVAIL 0x2000ULL
#define USED  0x3000ULL
#define BUF   0x10000ULL /* a 4 KiB buffer per head from here */
#define TURNS 100000	 /* the observer gives up after this many turns */

static struct guest_mem gm;
static struct loop *lp;
static struct vq vqs[2];

/* ---- the driver that reposts ---- */

static struct driver {
	const struct vq *q; /* the queue it drives */
	uint16_t avail_n;
	unsigned served;  /* chains the device returned */
	unsigned reposts; /* chains made available again */
	unsigned limit;	  /* reposts it makes at most */
} drv;

void __real_vq_push(struct vq *q, uint16_t head, uint32_t len);
void __wrap_vq_push(struct vq *q, uint16_t head, uint32_t len);

static void make_avail(uint16_t head)
{
	uint8_t *a = gm_ptr(&gm, AVAIL, 4 + 2 * QSZ);

	memcpy(a + 4 + 2 * (drv.avail_n % QSZ), &head, 2);
	drv.avail_n++;
	__atomic_store_n((uint16_t *)(void *)(a + 2), drv.avail_n, __ATOMIC_RELEASE);
}

/* Every chain the device returns comes back at once, as a driver looping
 * on requests would post it the moment it sees the used index move. */
void __wrap_vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	__real_vq_push(q, head, len);
	if (q != drv.q)
		return;
	drv.served++;
	if (drv.reposts < drv.limit) {
		drv.reposts++;
		make_avail(head);
	}
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = gm_ptr(&gm, DESC + 16 * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Queue @i of the device, at DESC/AVAIL/USED, driven by the driver above. */
static struct vq *queue(unsigned i, unsigned limit)
{
	vqs[i] = (struct vq){ .size = QSZ, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED };
	assert_int_equal(vq_enable(&vqs[i], &gm, VQ_MAX_SIZE), 0);
	drv = (struct driver){ .q = &vqs[i], .limit = limit };
	return &vqs[i];
}

/* ---- the transport and the loop ---- */

static unsigned resets;

static void t_notify(void *o, int q)
{
	(void)o;
	(void)q;
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

/* The observer: deferred work of our own that runs on every turn, as the
 * signalfd, timers and the control API get theirs, and checks how much the
 * device did since its last turn. */
static struct observer {
	int id;
	unsigned turns, last, most; /* most: the largest step between two turns */
	unsigned (*progress)(void); /* what the device has done so far */
	unsigned goal;
} obs;

static void observe(void *opaque)
{
	unsigned now = obs.progress();

	(void)opaque;
	if (now - obs.last > obs.most)
		obs.most = now - obs.last;
	obs.last = now;
	if (now >= obs.goal || ++obs.turns == TURNS)
		loop_quit(lp);
	else
		loop_defer(lp, obs.id);
}

static int setup_loop(bool epoll)
{
	if (loop_create(&lp, epoll) || gm_create(&gm, RAM, false))
		return -1;
	resets = 0;
	obs = (struct observer){ .id = loop_add_work(lp, observe, NULL) };
	return obs.id < 0 ? -1 : 0;
}

static int setup(void **state)
{
	(void)state;
	return setup_loop(false);
}

static int setup_epoll(void **state)
{
	(void)state;
	return setup_loop(true);
}

static int teardown(void **state)
{
	(void)state;
	gm_destroy(&gm);
	loop_destroy(lp);
	return 0;
}

/* Runs the loop until the device has done @goal by @progress, or TURNS
 * turns passed; no kick comes meanwhile. */
static void run_until(unsigned (*progress)(void), unsigned goal)
{
	obs.progress = progress;
	obs.goal = goal;
	obs.last = progress();
	obs.most = obs.turns = 0;
	loop_defer(lp, obs.id);
	assert_int_equal(loop_run(lp), 0);
}

static unsigned served(void)
{
	return drv.served;
}

/* ---- the devices ---- */

static void rng(void **state)
{
	struct virtio_rng *r = virtio_rng_create(&gm, &tr);
	struct vq *q;

	(void)state;
	assert_non_null(r);
	assert_int_equal(virtio_rng_set_loop(r, lp), 0);
	q = queue(0, 100 * QSZ);
	q->indirect = true;
	virtio_rng_ops.start(r, 1ULL << VIRTIO_F_VERSION_1, vqs);
	for (uint16_t h = 0; h < QSZ; h++) {
		desc(h, BUF + 0x1000ULL * h, 64, 2, 0);
		make_avail(h);
	}
	/* one kick: one queue's worth, then control comes back */
	virtio_rng_ops.kick(r, 0);
	assert_int_equal(drv.served, QSZ);
	assert_true(loop_has_deferred(lp));
	/* the rest on the loop's turns, a budget at a time */
	run_until(served, QSZ + 100 * QSZ);
	assert_int_equal(drv.served, QSZ + 100 * QSZ);
	assert_int_equal(obs.most, QSZ);
	assert_true(obs.turns >= 100);
	virtio_rng_ops.reset(r);
	virtio_rng_destroy(r);
}

static struct virtio_blk *blk_dev(void)
{
	char path[] = "/tmp/test_budget_XXXXXX", why[200];
	struct virtio_blk_cfg c = { .serial = "budget" };
	struct blkio_file_opts o = { .path = path, .engine = "sync" };
	struct virtio_blk *b;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(blkio_file_open(&c.io, &o, why, sizeof(why)), 0);
	unlink(path);
	b = virtio_blk_create(&c, &gm, &tr);
	assert_non_null(b);
	return b;
}

/* Requests of a type the device does not know are answered at once and
 * take no request slot: only the budget bounds them. */
static void blk(void **state)
{
	struct virtio_blk *b = blk_dev();
	uint32_t type = 0x55;

	(void)state;
	assert_int_equal(virtio_blk_set_loop(b, lp), 0);
	queue(0, 100 * QSZ);
	virtio_blk_ops.start(b, 1ULL << VIRTIO_F_VERSION_1, vqs);
	for (uint16_t h = 0; h < QSZ; h += 2) {
		uint8_t *hdr = gm_ptr(&gm, BUF + 0x1000ULL * h, 16);

		memset(hdr, 0, 16);
		memcpy(hdr, &type, 4);
		desc(h, BUF + 0x1000ULL * h, 16, 1, (uint16_t)(h + 1));
		desc(h + 1u, BUF + 0x1000ULL * h + 16, 1, 2, 0);
		make_avail(h);
	}
	virtio_blk_ops.kick(b, 0);
	assert_int_equal(drv.served, QSZ);
	assert_int_equal(*(uint8_t *)gm_ptr(&gm, BUF + 16, 1), VIRTIO_BLK_S_UNSUPP);
	run_until(served, QSZ / 2 + 100 * QSZ);
	assert_int_equal(drv.served, QSZ / 2 + 100 * QSZ);
	assert_int_equal(obs.most, QSZ);
	assert_int_equal(resets, 0);
	virtio_blk_ops.reset(b);
	virtio_blk_destroy(b);
}

/* ---- virtio-net over a socketpair standing in for the TAP ---- */

static int sp[2];
static struct virtio_net *net;

static struct virtio_net *net_dev(void)
{
	struct virtio_net_cfg c = { .mac = { 2, 0, 0, 0, 0, 1 }, .name = "budget", .loop = lp };
	int sz = 4 << 20;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	c.tap_fd = sp[0];
	net = virtio_net_create(&c, &gm, &tr);
	assert_non_null(net);
	return net;
}

static void net_done(void)
{
	virtio_net_destroy(net); /* closes sp[0] */
	close(sp[1]);
}

static unsigned host_received;

/* Frames the guest sent, as the host reads them off the TAP. */
static unsigned host_drain(void)
{
	char f[256];

	while (read(sp[1], f, sizeof(f)) > 0)
		host_received++;
	return host_received;
}

static void net_transmit(void **state)
{
	(void)state;
	net_dev();
	/* the transmit queue is queue 1: queue 0 gets an empty ring */
	vqs[0] = (struct vq){
		.size = QSZ, .desc_gpa = 0x4000, .avail_gpa = 0x5000, .used_gpa = 0x6000
	};
	assert_int_equal(vq_enable(&vqs[0], &gm, VQ_MAX_SIZE), 0);
	queue(1, 100 * QSZ);
	virtio_net_ops.start(net, 1ULL << VIRTIO_F_VERSION_1, vqs);
	for (uint16_t h = 0; h < QSZ; h++) {
		memset(gm_ptr(&gm, BUF + 0x1000ULL * h, 72), 0, 72);
		desc(h, BUF + 0x1000ULL * h, VIRTIO_NET_HDR_LEN + 60, 0, 0);
		make_avail(h);
	}
	host_received = 0;
	virtio_net_ops.kick(net, 1);
	assert_int_equal(drv.served, QSZ);
	assert_int_equal(host_drain(), QSZ);
	run_until(host_drain, QSZ + 100 * QSZ);
	assert_int_equal(drv.served, QSZ + 100 * QSZ);
	assert_int_equal(host_received, QSZ + 100 * QSZ);
	assert_int_equal(obs.most, QSZ);
	net_done();
}

static void host_send(unsigned n)
{
	uint8_t f[VIRTIO_NET_HDR_LEN + 60] = { 0 };

	for (unsigned i = 0; i < n; i++)
		assert_int_equal(write(sp[1], f, sizeof(f)), (ssize_t)sizeof(f));
}

static unsigned rx_frames(void)
{
	struct virtio_net_stats s;

	virtio_net_get_stats(net, &s);
	return (unsigned)s.rx_frames;
}

/* A flood from the TAP into a driver that gives each buffer straight back. */
static void net_receive(void **state)
{
	(void)state;
	net_dev();
	queue(0, 100 * QSZ);
	vqs[1] = (struct vq){
		.size = QSZ, .desc_gpa = 0x4000, .avail_gpa = 0x5000, .used_gpa = 0x6000
	};
	assert_int_equal(vq_enable(&vqs[1], &gm, VQ_MAX_SIZE), 0);
	virtio_net_ops.start(net, 1ULL << VIRTIO_F_VERSION_1, vqs);
	for (uint16_t h = 0; h < QSZ; h++) {
		desc(h, BUF + 0x1000ULL * h, 2048, 2, 0);
		make_avail(h);
	}
	host_send(50 * QSZ);
	virtio_net_rx(net, POLLIN);
	assert_int_equal(rx_frames(), QSZ);
	run_until(rx_frames, 50 * QSZ);
	assert_int_equal(rx_frames(), 50 * QSZ);
	/* the TAP's own watch may take a budget in the same turn */
	assert_true(obs.most <= 2 * QSZ);
	net_done();
}

static unsigned rx_dropped(void)
{
	struct virtio_net_stats s;

	virtio_net_get_stats(net, &s);
	return (unsigned)s.rx_dropped;
}

/* A stopped device reads and drops what the TAP holds, a budget a turn. */
static void net_discard(void **state)
{
	(void)state;
	net_dev();
	host_send(3 * VQ_MAX_SIZE + 5);
	virtio_net_rx(net, POLLIN);
	assert_int_equal(rx_dropped(), VQ_MAX_SIZE);
	run_until(rx_dropped, 3 * VQ_MAX_SIZE + 5);
	assert_int_equal(rx_dropped(), 3 * VQ_MAX_SIZE + 5);
	assert_true(obs.most <= 2 * VQ_MAX_SIZE);
	net_done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(rng, setup, teardown),
		cmocka_unit_test_setup_teardown(rng, setup_epoll, teardown),
		cmocka_unit_test_setup_teardown(blk, setup, teardown),
		cmocka_unit_test_setup_teardown(net_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(net_receive, setup, teardown),
		cmocka_unit_test_setup_teardown(net_discard, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
