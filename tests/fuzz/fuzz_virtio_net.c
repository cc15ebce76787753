// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: virtio-net's transmit path (and the receive path's
 * chain handling) against arbitrary ring contents. The input becomes guest
 * RAM (both rings, descriptor and indirect tables, headers, frames); the
 * first byte picks the negotiated features. The device writes to one end of
 * a SOCK_SEQPACKET socketpair standing in for the TAP, the other end is
 * drained and fed back as received frames. ASan/UBSan catch the rest.
 *
 * One device serves every input, as one device serves a driver that resets
 * it: each input starts it with its features and rings and ends with a
 * reset, and both ends of the socketpair are emptied in between. Creating
 * a device per input (a few MiB, mapped and unmapped by ASan each time)
 * held the harness to ~1,600 inputs/s.
 */
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hearth/virtio_net.h"

#define RAM	 (128 * 1024)
#define QSZ	 16
#define RX_DESC	 0x0000
#define RX_AVAIL 0x0100
#define RX_USED	 0x0200
#define TX_DESC	 0x0400
#define TX_AVAIL 0x0500
#define TX_USED	 0x0600

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

static void nop(void *o)
{
	(void)o;
}
static void nop_q(void *o, int q)
{
	(void)o;
	(void)q;
}

/* Reads and drops whatever waits on @fd (non-blocking). */
static void drain(int fd, uint8_t *buf, size_t size)
{
	while (read(fd, buf, size) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	static const struct virtio_transport t = { nop_q, nop, nop, nop, NULL };
	static struct guest_mem gm;
	static uint8_t frame[70000];
	static struct virtio_net *n;
	static int sp[2] = { -1, -1 };
	struct vq q[2];
	uint64_t f;
	uint8_t *ram;

	if (!n) {
		struct virtio_net_cfg c = { .name = "fuzz" };

		if (gm_create(&gm, RAM, false) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp))
			abort();
		fcntl(sp[0], F_SETFL, O_NONBLOCK);
		fcntl(sp[1], F_SETFL, O_NONBLOCK);
		c.tap_fd = sp[0];
		n = virtio_net_create(&c, &gm, &t);
		if (!n)
			abort();
	}
	if (len < 2)
		return 0;
	ram = gm_ptr(&gm, 0, RAM);
	memset(ram, 0, RAM);
	memcpy(ram, in + 2, len - 2 < RAM ? len - 2 : RAM);
	/* features: the offload bits from in[0], ring features from in[1] */
	f = 1ULL << VIRTIO_F_VERSION_1 | (uint64_t)(in[0] & 0x7f) << 7 | (in[0] & 1) |
	    (uint64_t)(in[0] >> 7) << VIRTIO_NET_F_MRG_RXBUF | (uint64_t)(in[1] & 1) << 1;
	q[0] = (struct vq){ .size = QSZ,
			    .desc_gpa = RX_DESC,
			    .avail_gpa = RX_AVAIL,
			    .used_gpa = RX_USED,
			    .event_idx = in[1] & 2,
			    .indirect = in[1] & 4 };
	q[1] = (struct vq){ .size = QSZ,
			    .desc_gpa = TX_DESC,
			    .avail_gpa = TX_AVAIL,
			    .used_gpa = TX_USED,
			    .event_idx = in[1] & 2,
			    .indirect = in[1] & 4 };
	if (!vq_enable(&q[0], &gm, 256) && !vq_enable(&q[1], &gm, 256)) {
		ssize_t got;

		virtio_net_ops.start(n, f, q);
		virtio_net_ops.kick(n, 1);
		/* what went out comes back in, on the receive ring */
		while ((got = read(sp[1], frame, sizeof(frame))) > 0)
			if (write(sp[1], frame, (size_t)got) < 0)
				break;
		virtio_net_rx(n, POLLIN);
		virtio_net_ops.kick(n, 0);
		virtio_net_ops.reset(n);
	}
	/* nothing of this input reaches the next one */
	drain(sp[0], frame, sizeof(frame));
	drain(sp[1], frame, sizeof(frame));
	return 0;
}
