// SPDX-License-Identifier: MIT
/*
 * tap_dev: hearth's virtio-net data path over a real TAP without a guest,
 * for looking at it (perf, strace) and comparing its parts on any host,
 * KVM or not. hearth's own device and I/O loop (or a bare loop, see MODE)
 * serve the TAP while a driver thread plays the probe guest's part in
 * guest-like memory, kicking only when the device asked (EVENT_IDX). It
 * does not stand in for bench/net.sh, which runs real guests side by side
 * with QEMU.
 *
 *   tap_dev IFNAME rx MODE GSO_SEND [BURST [ROUNDS]]
 *   tap_dev IFNAME tx MODE [FRAMES [PAYLOAD]]
 *
 * Run inside the network namespace that holds TAP IFNAME, up, with address
 * 169.254.88.1.
 *
 * rx: the probe's net-tso-rx test. Each round has GSO_SEND (tests/host/gso_send)
 * write BURST (default 900) TCP/IPv4 GSO frames of 64000 payload bytes into
 * the TAP, spins half a second while the device fills the ring (63 buffers
 * of 64 KiB), then times the driver taking them all, checking each and
 * giving its buffer back at once; frames that were in the ring when it
 * started count in neither the time nor the bytes. MODE:
 *   device  hearth's virtio-net (src/virtio/net.c) on hearth's loop, with
 *           the default 32 us poll budget, reading frames in io_uring
 *           batches where it has room for several;
 *   device-single  the same, each frame read with its own readv;
 *   readv   a bare spinning loop: one readv of each frame straight into
 *           the next receive buffer (hearth's approach, without hearth);
 *   copy    the same loop reading each frame into a 68 KiB buffer of its
 *           own, then copying it into the receive buffer (QEMU's approach).
 * Prints "tap_dev rx MODE: N frames (K bad), B bytes in S s: G Gbit/s, D
 * kicks (io thread TID)", where D counts the driver's notifications.
 *
 * tx: the probe's net-tx-rate test. The driver queues FRAMES (default
 * 200000) UDP/IPv4 datagrams of PAYLOAD (18..1472, default 18) bytes to
 * 169.254.88.1 port 7777 on the TAP's MAC, as fast as the ring (64
 * entries) takes them, asking for a kick every 16 frames if the device
 * wants one; the host's stack takes each to a socket this program holds
 * and never reads (as bench/net.sh's guest -> host rows, but for the
 * reading). MODE:
 *   device         hearth's device, frames written in io_uring batches;
 *   device-single  hearth's device writing each frame with its own writev;
 *   writev         no device and no driver: a bare loop, one writev each;
 *   uring          the same, in io_uring batches of 32.
 * Prints "tap_dev tx MODE: N frames of S bytes in T s: R frames/s, C us
 * CPU per frame, D kicks".
 *
 * Environment: TAP_DEV_POLL_US (device: the poll budget), TAP_DEV_PIN (the
 * driver on CPU 0, the I/O thread on CPU 1), TAP_DEV_DEBUG (print each bad
 * frame). Exit 0 if every frame arrived whole and in order (rx), or was
 * written whole (tx).
 */
#include <arpa/inet.h>
#include <liburing.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frames.h"
#include "harness.h"
#include "hearth/bytes.h"
#include "hearth/loop.h"
#include "hearth/tap.h"
#include "hearth/virtio_net.h"

#define QSZ	64
#define NBUF	(QSZ - 1)
#define BUFLEN	65536u
#define DESC	0x1000ULL
#define AVAIL	0x2000ULL
#define USED	0x3000ULL
#define TXDESC	0x4000ULL
#define TXAVAIL 0x5000ULL
#define TXUSED	0x6000ULL
#define BUF0	0x100000ULL
#define TXBUF0	0x800000ULL /* 2 KiB per transmit slot */
#define RAM	(16ULL << 20)
#define PAYLOAD 64000u
#define L2L4	54u /* Ethernet, IPv4, TCP headers */
#define FRAME	(VIRTIO_NET_HDR_LEN + L2L4 + PAYLOAD)
#define ISN	0x10000000u
#define FEATS                                                                   \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_EVENT_IDX) |          \
	 (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_CSUM) |       \
	 (1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_HOST_TSO4) | \
	 (1ULL << VIRTIO_NET_F_GUEST_TSO4))

static struct vq vqs[2];
static int tap, kick_fd[2];
static uint16_t avail_idx, used_seen;
static unsigned long kicks;
static atomic_bool stop;
static atomic_int io_tid;

/* ---- the driver (the guest's part) ---- */

/* Makes receive buffer @id available again; kicks if the device asked. */
static void give(uint16_t id)
{
	uint8_t *d = at(DESC + 16 * (uint64_t)id, 16), *a = at(AVAIL, 6 + 2 * QSZ);
	uint64_t addr = BUF0 + (uint64_t)id * BUFLEN;
	uint32_t len = BUFLEN;
	uint16_t flags = 2, old = avail_idx, event; /* VIRTQ_DESC_F_WRITE */

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memset(d + 14, 0, 2);
	memcpy(a + 4 + 2 * (avail_idx % QSZ), &id, 2);
	avail_idx++;
	__atomic_store_n((uint16_t *)(void *)(a + 2), avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = ld16(at(USED + 4 + 8 * QSZ, 2)); /* avail_event */
	if ((uint16_t)(avail_idx - event - 1) < (uint16_t)(avail_idx - old)) {
		eventfd_write(kick_fd[0], 1);
		kicks++;
	}
}

/* Takes the next used buffer, if any: returns its id, *len its length. */
static int take(uint32_t *len)
{
	uint8_t *u = at(USED, 4 + 8 * QSZ);
	uint32_t id;

	if (__atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE) == used_seen)
		return -1;
	memcpy(&id, u + 4 + 8 * (used_seen % QSZ), 4);
	memcpy(len, u + 8 + 8 * (used_seen % QSZ), 4);
	used_seen++;
	return id < NBUF ? (int)id : -2;
}

/* Whether buffer @id holds a TCP/IPv4 frame to gso_send's port (the host
 * sends the odd IPv6 multicast frame of its own, which the driver skips). */
static bool ours(uint16_t id, uint32_t len)
{
	const uint8_t *b = at(BUF0 + (uint64_t)id * BUFLEN, BUFLEN) + VIRTIO_NET_HDR_LEN;

	return len >= VIRTIO_NET_HDR_LEN + L2L4 && b[12] == 8 && b[13] == 0 && b[23] == 6 &&
	       b[36] == 40011 >> 8 && b[37] == (40011 & 0xff);
}

/* Checks frame @i in buffer @id as net-tso-rx does. */
static bool good(uint16_t id, uint32_t len, uint32_t i)
{
	const uint8_t *b = at(BUF0 + (uint64_t)id * BUFLEN, BUFLEN);
	const uint8_t *tcp = b + VIRTIO_NET_HDR_LEN + 34, *data = b + VIRTIO_NET_HDR_LEN + L2L4;

	bool ok = len == FRAME && (b[1] & 0x7f) == 1 /* GSO_TCPV4 */ && ld16(b + 4) == 1448 &&
		  ld16(b + 10) == 1 && ld_be32(tcp + 4) == ISN + i * PAYLOAD &&
		  ld_be32(data) == i && ld_be32(data + PAYLOAD - 4) == ~i;

	if (!ok && getenv("TAP_DEV_DEBUG"))
		fprintf(stderr, "frame %u in %u: len %u gso %u size %u nb %u seq %x mark %x/%x\n",
			i, id, len, b[1], ld16(b + 4), ld16(b + 10), ld_be32(tcp + 4),
			ld_be32(data), ld_be32(data + PAYLOAD - 4));
	return ok;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* With TAP_DEV_PIN set, the calling thread stays on CPU @cpu (the driver on
 * 0, the I/O thread on 1): left to the scheduler, a thread that sleeps and
 * wakes is often put on the CPU the other one spins on. */
static void pin(int cpu)
{
	cpu_set_t c;

	if (!getenv("TAP_DEV_PIN"))
		return;
	CPU_ZERO(&c);
	CPU_SET(cpu, &c);
	if (sched_setaffinity(0, sizeof(c), &c))
		perror("tap_dev: sched_setaffinity");
}

/* ---- the bare loops (MODE readv and copy) ---- */

static void *bare(void *arg)
{
	bool copy = *(const bool *)arg;
	static uint8_t own[BUFLEN + 4096];
	static struct vq_elem e;
	struct iovec iov[2];
	bool have = false;

	atomic_store(&io_tid, (int)syscall(SYS_gettid));
	pin(1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		ssize_t got;

		if (!have) {
			int r = vq_pop(&vqs[0], &gm, &e);

			if (r < 0) {
				fprintf(stderr, "tap_dev: bad receive ring\n");
				exit(2);
			}
			have = r > 0;
			if (!have)
				continue;
		}
		if (copy) {
			got = read(tap, own, sizeof(own));
			if (got > 0 && (size_t)got <= e.iov[0].iov_len)
				memcpy(e.iov[0].iov_base, own, (size_t)got);
		} else {
			iov[0] = e.iov[0];
			iov[1] = (struct iovec){ own, sizeof(own) }; /* what does not fit */
			got = readv(tap, iov, 2);
		}
		if (got < VIRTIO_NET_HDR_LEN || (size_t)got > e.iov[0].iov_len)
			continue; /* nothing there (or a frame that did not fit: dropped) */
		memcpy((uint8_t *)e.iov[0].iov_base + 10, &(uint16_t){ 1 }, 2); /* num_buffers */
		vq_push(&vqs[0], e.head, (uint32_t)got);
		have = false;
	}
	return NULL;
}

/* ---- hearth's device on hearth's loop (MODE device) ---- */

static struct virtio_net *dev;

static void on_kick(void *o, uint32_t events)
{
	unsigned q = (unsigned)(uintptr_t)o;
	eventfd_t n;

	(void)events;
	eventfd_read(kick_fd[q], &n);
	pthread_mutex_lock(&lock);
	virtio_net_ops.kick(dev, q);
	pthread_mutex_unlock(&lock);
}

/* The I/O thread's first steps (harness_io_started) */
static void io_started(void)
{
	atomic_store(&io_tid, (int)syscall(SYS_gettid));
	pin(1);
}

/* ---- a round ---- */

static void burst(const char *gso_send, const char *ifname, unsigned n)
{
	char count[16], size[16];
	pid_t pid;
	int st;

	snprintf(count, sizeof(count), "%u", n);
	snprintf(size, sizeof(size), "%u", PAYLOAD);
	pid = fork();
	if (pid == 0) {
		execl(gso_send, gso_send, ifname, "02:00:00:00:00:02", "169.254.88.1",
		      "169.254.88.2", count, size, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "tap_dev: %s failed\n", gso_send);
		exit(1);
	}
}

/* Starts hearth's device on its own loop thread. */
static pthread_t start_device(const char *ifname, bool no_batches)
{
	struct virtio_net_cfg c = {
		.mac = { 2, 0, 0, 0, 0, 2 }, .name = ifname, .tap_fd = tap, .no_batches = no_batches
	};
	const char *us = getenv("TAP_DEV_POLL_US");

	harness_loop(1000 * (us ? strtoull(us, NULL, 10) : 32));
	c.loop = lp;
	dev = virtio_net_create(&c, &gm, &tr);
	if (!dev || loop_watch(lp, kick_fd[0], on_kick, (void *)0) < 0 ||
	    loop_watch(lp, kick_fd[1], on_kick, (void *)1) < 0)
		exit(1);
	pthread_mutex_lock(&lock);
	virtio_net_ops.start(dev, FEATS, vqs);
	pthread_mutex_unlock(&lock);
	harness_io_started = io_started;
	return harness_run();
}

/* Stops the I/O side: the loop, or a bare loop */
static void stop_io(pthread_t t)
{
	atomic_store(&stop, true);
	if (lp)
		harness_stop(t);
	else
		pthread_join(t, NULL);
}

static int rx_main(const char *ifname, const char *mode, const char *gso_send, unsigned n,
		   unsigned rounds)
{
	unsigned bad = 0, got_all = 0;
	uint64_t bytes = 0;
	double busy = 0;
	bool copy = !strcmp(mode, "copy");
	pthread_t t;

	if (!strncmp(mode, "device", 6)) {
		t = start_device(ifname, !strcmp(mode, "device-single"));
	} else {
		if (tap_set_offload(tap, virtio_net_tap_offloads(FEATS)))
			return 1;
		pthread_create(&t, NULL, bare, &copy);
	}
	pin(0);
	for (uint16_t id = 0; id < NBUF; id++)
		give(id);

	for (unsigned r = 0; r < rounds; r++) {
		unsigned got = 0;
		uint16_t ready;
		double t0, t1 = 0, end;

		burst(gso_send, ifname, n);
		for (t0 = now(); now() - t0 < 0.5;)
			; /* the probe spins while it waits, and so holds its CPU */
		t0 = now();
		ready = (uint16_t)(ld16(at(USED + 2, 2)) - used_seen);
		for (end = t0 + 20; got < n && now() < end;) {
			uint32_t len;
			int id = take(&len);

			if (id == -1)
				continue;
			if (id < 0) {
				fprintf(stderr, "tap_dev: used id out of range\n");
				return 1;
			}
			if (!ours((uint16_t)id, len)) {
				give((uint16_t)id);
				continue;
			}
			bad += !good((uint16_t)id, len, got);
			if (got >= ready)
				bytes += PAYLOAD;
			got++;
			give((uint16_t)id);
			t1 = now();
		}
		got_all += got;
		busy += t1 > t0 ? t1 - t0 : 0;
	}
	stop_io(t);
	printf("tap_dev rx %s: %u frames (%u bad), %llu bytes in %.3f s: %.2f Gbit/s, %lu kicks "
	       "(io thread %d)\n",
	       mode, got_all, bad, (unsigned long long)bytes, busy,
	       busy > 0 ? bytes * 8 / busy / 1e9 : 0, kicks, atomic_load(&io_tid));
	return got_all == n * rounds && !bad ? 0 : 1;
}

/* ---- transmit ---- */

/* CPU time of every thread of this process so far */
static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* Builds at @f the UDP datagram the tx test sends; returns its length. */
static unsigned tx_frame(uint8_t *f, const uint8_t dmac[6], unsigned payload)
{
	const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	struct in_addr src, dst;
	uint8_t *udp;

	inet_pton(AF_INET, "169.254.88.2", &src);
	inet_pton(AF_INET, "169.254.88.1", &dst);
	udp = eth_ip4(f, dmac, smac, 17, (uint16_t)(8 + payload), src, dst, 1);
	st_be16(udp, 40002);
	st_be16(udp + 2, 7777);
	st_be16(udp + 4, (uint16_t)(8 + payload));
	st_be16(udp + 6, 0); /* no checksum */
	memset(udp + 8, 0x5a, payload);
	return 42 + payload;
}

static unsigned tx_inflight, tx_bad;

/* Takes back what the device has used. */
static void tx_reclaim(void)
{
	uint8_t *u = at(TXUSED, 4 + 8 * QSZ);

	while (__atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE) != used_seen) {
		used_seen++;
		tx_inflight--;
	}
}

/* The driver's side of tx: queues @n frames of @len bytes (all slots hold
 * the same frame), as the probe's net-tx-rate does. */
static void tx_drive(unsigned n, unsigned len)
{
	uint8_t *a = at(TXAVAIL, 6 + 2 * QSZ);
	uint16_t notified = 0;

	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)(avail_idx % QSZ);
		uint8_t *d = at(TXDESC + 16 * (uint64_t)slot, 16);
		uint64_t addr = TXBUF0 + 2048ULL * slot;
		uint32_t l = VIRTIO_NET_HDR_LEN + len;

		while (tx_inflight == QSZ)
			tx_reclaim();
		memcpy(d, &addr, 8);
		memcpy(d + 8, &l, 4);
		memset(d + 12, 0, 4);
		memcpy(a + 4 + 2 * slot, &slot, 2);
		avail_idx++;
		__atomic_store_n((uint16_t *)(void *)(a + 2), avail_idx, __ATOMIC_RELEASE);
		tx_inflight++;
		if (i % 16 == 15 || i + 1 == n) {
			uint16_t event;

			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			event = ld16(at(TXUSED + 4 + 8 * QSZ, 2));
			if ((uint16_t)(avail_idx - event - 1) < (uint16_t)(avail_idx - notified)) {
				eventfd_write(kick_fd[1], 1);
				kicks++;
			}
			notified = avail_idx;
			tx_reclaim();
		}
	}
	while (tx_inflight)
		tx_reclaim();
}

/* The bare loops: @n writes of the frame at @f, one writev each or in
 * io_uring batches of 32. */
static void tx_bare(bool uring, unsigned n, uint8_t *f, unsigned len)
{
	static uint8_t vhdr[VIRTIO_NET_HDR_LEN];
	struct iovec iov[2] = { { vhdr, VIRTIO_NET_HDR_LEN }, { f, len } };
	struct io_uring ring;
	struct io_uring_cqe *cqe;

	if (!uring) {
		for (unsigned i = 0; i < n; i++)
			tx_bad += writev(tap, iov, 2) != (ssize_t)(VIRTIO_NET_HDR_LEN + len);
		return;
	}
	if (io_uring_queue_init(32, &ring, 0)) {
		fprintf(stderr, "tap_dev: no io_uring\n");
		exit(1);
	}
	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < 32 ? n - done : 32;

		for (unsigned i = 0; i < k; i++)
			io_uring_prep_writev(io_uring_get_sqe(&ring), tap, iov, 2, 0);
		io_uring_submit_and_wait(&ring, k);
		for (unsigned i = 0; i < k; i++) {
			if (io_uring_wait_cqe(&ring, &cqe))
				exit(1);
			tx_bad += cqe->res != (int)(VIRTIO_NET_HDR_LEN + len);
			io_uring_cqe_seen(&ring, cqe);
		}
		done += k;
	}
	io_uring_queue_exit(&ring);
}

static int tx_main(const char *ifname, const char *mode, unsigned n, unsigned payload)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(7777) };
	struct ifreq ifr = { 0 };
	struct virtio_net_stats st = { 0 };
	bool device = !strncmp(mode, "device", 6);
	pthread_t t = 0;
	unsigned len;
	double t0, c0, dt, dc;
	int sock = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, "169.254.88.1", &sin.sin_addr);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sin, sizeof(sin)) ||
	    ioctl(sock, SIOCGIFHWADDR, &ifr)) {
		perror("tap_dev: the host's socket");
		return 1;
	}
	len = tx_frame(at(TXBUF0 + VIRTIO_NET_HDR_LEN, 2048 - VIRTIO_NET_HDR_LEN),
		       (const uint8_t *)ifr.ifr_hwaddr.sa_data, payload);
	for (unsigned i = 1; i < QSZ; i++) /* every slot: header (zero) and frame */
		memcpy(at(TXBUF0 + 2048ULL * i, 2048), at(TXBUF0, 2048), 2048);
	if (device) {
		t = start_device(ifname, !strcmp(mode, "device-single"));
		pin(0);
	}
	t0 = now();
	c0 = cpu();
	if (device)
		tx_drive(n, len);
	else
		tx_bare(!strcmp(mode, "uring"), n, at(TXBUF0 + VIRTIO_NET_HDR_LEN, len), len);
	dt = now() - t0;
	dc = cpu() - c0;
	if (device) {
		stop_io(t);
		virtio_net_get_stats(dev, &st);
		tx_bad = (unsigned)(n - st.tx_frames);
	}
	printf("tap_dev tx %s: %u frames of %u bytes in %.3f s: %.0f frames/s, %.2f us CPU per "
	       "frame, %lu kicks (%u not written)\n",
	       mode, n, len, dt, n / dt, dc * 1e6 / n, kicks, tx_bad);
	close(sock);
	return tx_bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 2 ? argv[2] : "", *mode = argc > 3 ? argv[3] : "";
	bool rx = !strcmp(dir, "rx"), created;
	char why[256];

	harness_name = "tap_dev";
	if (argc < 4 ||
	    (rx && (argc < 5 || (strcmp(mode, "device") && strcmp(mode, "device-single") &&
				 strcmp(mode, "readv") && strcmp(mode, "copy")))) ||
	    (!rx &&
	     (strcmp(dir, "tx") || (strcmp(mode, "device") && strcmp(mode, "device-single") &&
				    strcmp(mode, "writev") && strcmp(mode, "uring"))))) {
		fprintf(stderr,
			"usage: tap_dev IFNAME rx device|device-single|readv|copy GSO_SEND [BURST "
			"[ROUNDS]]\n"
			"       tap_dev IFNAME tx device|device-single|writev|uring [FRAMES "
			"[PAYLOAD]]\n");
		return 2;
	}
	tap = tap_open(argv[1], &created, why, sizeof(why));
	kick_fd[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	kick_fd[1] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (tap < 0 || created || kick_fd[0] < 0 || kick_fd[1] < 0 || gm_create(&gm, RAM, false)) {
		fprintf(stderr, "tap_dev: %s: %s\n", argv[1], tap < 0 ? why : "set-up failed");
		return 1;
	}
	vqs[0] = (struct vq){ .size = QSZ, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED };
	vqs[1] = (struct vq){
		.size = QSZ, .desc_gpa = TXDESC, .avail_gpa = TXAVAIL, .used_gpa = TXUSED
	};
	for (int i = 0; i < 2; i++) {
		vqs[i].event_idx = true;
		if (vq_enable(&vqs[i], &gm, VQ_MAX_SIZE))
			return 1;
	}
	if (rx) {
		unsigned n = argc > 5 ? (unsigned)atoi(argv[5]) : 900;
		unsigned rounds = argc > 6 ? (unsigned)atoi(argv[6]) : 5;

		return n && rounds ? rx_main(argv[1], mode, argv[4], n, rounds) : 2;
	} else {
		unsigned n = argc > 4 ? (unsigned)atoi(argv[4]) : 200000;
		unsigned payload = argc > 5 ? (unsigned)atoi(argv[5]) : 18;

		return n && payload >= 18 && payload <= 1472 ? tx_main(argv[1], mode, n, payload)
							     : 2;
	}
}
