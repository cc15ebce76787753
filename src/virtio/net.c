// SPDX-License-Identifier: MIT
/*
 * virtio-net (virtio 1.2, 5.1) over a TAP device, one queue pair served
 * from the I/O thread.
 *
 * Transmit: each chain is checked (header present and sane for the
 * negotiated features, no writable buffers, 14..65550 bytes of frame), then
 * written as one writev request: our checked copy of the header followed by
 * the guest's own buffers, up to TX_BATCH frames per io_uring submission. A
 * kick's chains are all written before one interrupt (EVENT_IDX decides
 * whether it is needed).
 *
 * Receive: chains the driver made available are taken into a small cache
 * of iovecs; a readv puts the next frame straight into them (with
 * MRG_RXBUF, across as many chains as the largest frame needs; without,
 * into one chain), and with room for several such frames up to RX_BATCH
 * readv requests go out in one io_uring submission. Chains a frame did not
 * need stay cached for the next one. When the driver has given too little
 * room, the TAP is no longer watched and frames wait in the kernel, in
 * order, until the driver's next receive kick.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hearth/bytes.h"
#include "hearth/log.h"
#include "hearth/sandbox.h"
#include "hearth/uring.h"
#include "hearth/loop.h"
#include "hearth/tap.h"
#include "hearth/state.h"
#include "hearth/virtio_net.h"

static struct log_ratelimit guest_rl;

_Static_assert(VIRTIO_NET_HDR_LEN == TAP_VNET_HDR_LEN, "frames cross the TAP with our header");

#define HAS(f, bit) (((f) >> (bit)) & 1)
#define RXQ	    0
#define TXQ	    1
/* Room the largest frame needs, header included: a TSO frame, or one of
 * the TAP's MTU with Ethernet and VLAN headers */
#define RX_NEED (VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME)

_Static_assert(VIRTIO_NET_HDR_LEN == TAP_VNET_HDR_LEN, "the TAP carries the device's header");

enum net_tx_verdict virtio_net_tx_check(uint8_t hdr[VIRTIO_NET_HDR_LEN], uint64_t features,
					uint64_t frame_len)
{
	uint8_t flags = hdr[0], gso = hdr[1], type = gso & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint32_t csum_end;

	st16(hdr + 10, 0); /* num_buffers: receive only */
	if (frame_len < VIRTIO_NET_MIN_FRAME || frame_len > VIRTIO_NET_MAX_FRAME)
		return NET_TX_BAD_LENGTH;
	if (flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_TX_BAD_FLAGS;
	if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!HAS(features, VIRTIO_NET_F_CSUM))
			return NET_TX_BAD_FLAGS;
		/* the 2-byte checksum field must lie inside the frame */
		csum_end = (uint32_t)ld16(hdr + 6) + ld16(hdr + 8) + 2;
		if (csum_end > frame_len)
			return NET_TX_BAD_CSUM;
	}
	if (gso & VIRTIO_NET_HDR_GSO_ECN &&
	    (type == VIRTIO_NET_HDR_GSO_NONE || !HAS(features, VIRTIO_NET_F_HOST_ECN)))
		return NET_TX_BAD_GSO;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE: return NET_TX_OK;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!HAS(features, VIRTIO_NET_F_HOST_TSO4))
			return NET_TX_BAD_GSO;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!HAS(features, VIRTIO_NET_F_HOST_TSO6))
			return NET_TX_BAD_GSO;
		break;
	default: return NET_TX_BAD_GSO; /* UDP (HOST_UFO is not offered) and unknown */
	}
	/* segmentation needs a segment size and the partial checksum */
	if (ld16(hdr + 4) == 0 || !(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return NET_TX_BAD_GSO;
	return NET_TX_OK;
}

bool virtio_net_rx_fix(uint8_t hdr[VIRTIO_NET_HDR_LEN], uint64_t features, uint16_t nbufs)
{
	uint8_t gso = hdr[1], type = gso & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (!HAS(features, VIRTIO_NET_F_GUEST_CSUM)) {
		if (hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false; /* a partial checksum the driver cannot finish */
		hdr[0] = 0;
	} else {
		hdr[0] &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (gso & VIRTIO_NET_HDR_GSO_ECN && !HAS(features, VIRTIO_NET_F_GUEST_ECN))
		return false;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE: break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!HAS(features, VIRTIO_NET_F_GUEST_TSO4))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!HAS(features, VIRTIO_NET_F_GUEST_TSO6))
			return false;
		break;
	default: return false;
	}
	st16(hdr + 10, nbufs);
	return true;
}

unsigned virtio_net_tap_offloads(uint64_t features)
{
	unsigned o = 0;

	if (!HAS(features, VIRTIO_NET_F_GUEST_CSUM))
		return 0; /* segmentation offloads need the partial checksum */
	o |= TUN_F_CSUM;
	if (HAS(features, VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (HAS(features, VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if ((o & (TUN_F_TSO4 | TUN_F_TSO6)) && HAS(features, VIRTIO_NET_F_GUEST_ECN))
		o |= TUN_F_TSO_ECN;
	return o;
}

void virtio_net_default_mac(const char *host, const char *tap, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[] = { host, "/", tap };

	for (size_t p = 0; p < 3; p++)
		for (const unsigned char *s = (const unsigned char *)parts[p]; *s; s++)
			h = (h ^ *s) * 0x100000001b3ULL;
	mac[0] = 0x02;
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (8 - i)));
}

void virtio_net_mac_of(const char *tap, const uint8_t *given, uint8_t mac[6])
{
	char host[256] = "";

	if (given) {
		memcpy(mac, given, 6);
		return;
	}
	gethostname(host, sizeof(host) - 1);
	virtio_net_default_mac(host, tap, mac);
}

/* ---- the device ---- */

struct rx_chain {
	uint16_t head;
	unsigned n; /* its iovecs, the next ones in riov */
	uint64_t len;
};

/* Frames per transmit submission: a kick's worth for the probe and Linux
 * alike, and a bound on how long used entries wait. */
#define TX_BATCH 32
/* Frame reads per receive submission, each with room for the largest frame */
#define RX_BATCH 16

struct tx_slot {
	uint16_t head;
	uint8_t hdr[VIRTIO_NET_HDR_LEN]; /* our checked copy: the frame's first iovec */
	unsigned iov0, k;		 /* its iovecs: tiov[iov0..iov0 + k) */
	uint64_t len;			 /* frame bytes after the header */
};

struct virtio_net {
	const struct guest_mem *gm;
	const struct virtio_transport *t;
	int fd;
	unsigned mtu;
	uint8_t mac[6];
	char name[32];
	struct loop *loop;
	int watch;	       /* loop watch on the TAP, -1 while receive waits for buffers */
	int work;	       /* the loop's deferred work: what a budget left (docs/virtio.md) */
	bool tx_more, rx_more; /* a budget ran out with this queue's work left */
	unsigned rx_budget;    /* frames (and bad chains) this receive run may take */
	uint64_t features;
	struct vq *rxq, *txq;
	bool broken;	  /* the driver broke a queue: nothing until reset */
	bool rx_blocked;  /* waiting for the driver's receive buffers */
	bool rx_pushed;	  /* used entries on the receive queue since the last notify */
	bool rx_dry;	  /* the last fill found the ring empty */
	uint64_t rx_room; /* the most receive room the driver has given at once */
	/* receive chains taken from the ring and not used yet: chains[c0..]
	 * with their iovecs riov[i0..] (a window, so using a chain is O(1);
	 * moved back to the start only when the end is reached) */
	struct rx_chain chains[VQ_MAX_SIZE];
	unsigned c0, nchains, i0, niov;
	uint64_t cap;
	bool held;			/* elem is a popped chain that did not fit in riov yet */
	struct iovec riov[VQ_MAX_SEGS]; /* one left for the overflow buffer */
	struct vq_elem elem, telem;
	/* transmit: up to TX_BATCH checked frames (their headers in tslot,
	 * their iovecs in tiov) written by one io_uring submission; without
	 * the ring (io_uring unusable here) each is written at once */
	struct io_uring *tring, tring_mem;
	bool no_nowait; /* the kernel refuses RWF_NOWAIT on the TAP: no receive batches */
	struct tx_slot tslot[TX_BATCH];
	unsigned ntx, tiov_used;
	struct iovec tiov[2 * VQ_MAX_SEGS];
	/* receive batches (on the same ring): each read's iovecs, the scratch
	 * buffer after each */
	struct iovec rbiov[2 * VQ_MAX_SEGS];
	struct virtio_net_stats st;
	uint8_t scratch[RX_NEED]; /* frames dropped while the device is stopped */
};

static uint64_t net_features(void *dev)
{
	(void)dev;
	return 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX |
	       1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_NET_F_CSUM |
	       1ULL << VIRTIO_NET_F_GUEST_CSUM | 1ULL << VIRTIO_NET_F_MAC |
	       1ULL << VIRTIO_NET_F_GUEST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO6 |
	       1ULL << VIRTIO_NET_F_GUEST_ECN | 1ULL << VIRTIO_NET_F_HOST_TSO4 |
	       1ULL << VIRTIO_NET_F_HOST_TSO6 | 1ULL << VIRTIO_NET_F_HOST_ECN |
	       1ULL << VIRTIO_NET_F_MRG_RXBUF | 1ULL << VIRTIO_NET_F_STATUS;
}

/* struct virtio_net_config: mac, status, max_virtqueue_pairs, mtu, speed,
 * duplex (the last three only mean something with features not offered) */
#define NET_CFG_SIZE 20

static void net_cfg_read(void *dev, uint32_t off, void *data, size_t len)
{
	struct virtio_net *n = dev;
	uint8_t c[NET_CFG_SIZE] = { 0 };

	memcpy(c, n->mac, 6);
	st16(c + 6, VIRTIO_NET_S_LINK_UP);
	st16(c + 8, 1);
	memset(c + 12, 0xff, 5); /* speed and duplex unknown */
	memcpy(data, c + off, len);
}

static void net_cfg_write(void *dev, uint32_t off, const void *data, size_t len)
{
	(void)dev; /* the MAC is read-only in virtio 1 */
	(void)off;
	(void)data;
	(void)len;
}

static void broke(struct virtio_net *n, const char *which)
{
	log_guest(&guest_rl, "virtio-net %s: the driver broke the %s queue: device needs reset",
		  n->name, which);
	n->broken = true;
	n->t->needs_reset(n->t->opaque);
}

static void rx_forget(struct virtio_net *n)
{
	n->c0 = n->nchains = n->i0 = n->niov = 0;
	n->cap = 0;
	n->rx_room = 0;
	n->held = false;
}

static void net_start(void *dev, uint64_t features, struct vq *vqs)
{
	struct virtio_net *n = dev;
	int ret;

	n->features = features;
	n->rxq = &vqs[RXQ];
	n->txq = &vqs[TXQ];
	rx_forget(n);
	ret = tap_set_offload(n->fd, virtio_net_tap_offloads(features));
	if (ret)
		log_info("virtio-net %s: TUNSETOFFLOAD 0x%x: %s", n->name,
			 virtio_net_tap_offloads(features), strerror(-ret));
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	n->rxq = n->txq = NULL;
	n->broken = false;
	n->features = 0;
	n->rx_pushed = false;
	rx_forget(n);
}

/* ---- transmit ---- */

/* Checks chain @e and lays out its frame for writing at @iov (room for
 * VQ_MAX_SEGS): our checked copy of the header (in @hdr), then the guest's
 * buffers after its header. Returns the number of iovecs, 0 if the chain
 * is dropped (counted). */
static unsigned tx_build(struct virtio_net *n, const struct vq_elem *e,
			 uint8_t hdr[VIRTIO_NET_HDR_LEN], struct iovec *iov, uint64_t *frame_len)
{
	uint64_t skip = VIRTIO_NET_HDR_LEN;
	enum net_tx_verdict v;
	unsigned k = 1;

	if (e->n_in || e->out_len < VIRTIO_NET_HDR_LEN) {
		n->st.tx_bad++;
		log_guest(&guest_rl, "virtio-net %s: transmit chain %s: dropped", n->name,
			  e->n_in ? "with writable buffers" : "shorter than its header");
		return 0;
	}
	vq_elem_read_once(e, 0, hdr, VIRTIO_NET_HDR_LEN);
	*frame_len = e->out_len - VIRTIO_NET_HDR_LEN;
	v = virtio_net_tx_check(hdr, n->features, *frame_len);
	if (v != NET_TX_OK) {
		n->st.tx_bad++;
		log_guest(&guest_rl,
			  "virtio-net %s: transmit header refused (%d, %llu bytes): "
			  "dropped",
			  n->name, (int)v, (unsigned long long)*frame_len);
		return 0;
	}
	iov[0] = (struct iovec){ hdr, VIRTIO_NET_HDR_LEN };
	for (unsigned i = 0; i < e->n_out; i++) {
		size_t l = e->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (k == VQ_MAX_SEGS) { /* IOV_MAX: 1024 */
			n->st.tx_bad++;
			return 0;
		}
		iov[k++] = (struct iovec){ (uint8_t *)e->iov[i].iov_base + skip, l - skip };
		skip = 0;
	}
	return k;
}

/* Counts the outcome @res (bytes written or -errno) of a frame of @len. */
static void tx_done(struct virtio_net *n, ssize_t res, uint64_t len)
{
	if (res != (ssize_t)(VIRTIO_NET_HDR_LEN + len)) {
		n->st.tx_errors++;
		log_guest(&guest_rl, "virtio-net %s: TAP write of %llu bytes: %s", n->name,
			  (unsigned long long)len, res < 0 ? strerror((int)-res) : "short");
		return;
	}
	n->st.tx_frames++;
	n->st.tx_bytes += len;
}

static ssize_t tx_writev(struct virtio_net *n, const struct iovec *iov, unsigned k)
{
	ssize_t w;

	do
		w = writev(n->fd, iov, (int)k);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : w;
}

static void tx_ring_close(struct virtio_net *n)
{
	if (n->tring)
		io_uring_queue_exit(n->tring);
	n->tring = NULL;
}

/* Submits the @count requests prepared on the NIC's ring (user data: their
 * index) and waits for their answers, into @res (-ECANCELED for one never
 * answered). Returns how many were submitted: the first ones, since
 * submission is in order. */
static unsigned ring_run(struct virtio_net *n, unsigned count, int *res)
{
	int ret = io_uring_submit_and_wait(n->tring, count);
	unsigned sub = ret < 0 ? 0 : (unsigned)ret < count ? (unsigned)ret : count, got = 0;

	while (got < sub) {
		struct io_uring_cqe *cqe;
		uint64_t i;

		ret = io_uring_wait_cqe(n->tring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			break; /* cannot happen with entries in flight */
		i = io_uring_cqe_get_data64(cqe);
		if (i < count)
			res[i] = cqe->res;
		io_uring_cqe_seen(n->tring, cqe);
		got++;
	}
	return sub;
}

/* The kernel refuses RWF_NOWAIT on the TAP (Debian 12's 6.1 does: its TUN
 * files are not marked FMODE_NOWAIT). Its io_uring then has no read that
 * ends with EAGAIN on an empty TAP instead of waiting for the next frame,
 * even on a non-blocking fd (measured, docs/net.md), so frames are received
 * one readv each; writes stay batched, without the flag. */
static void nowait_refused(struct virtio_net *n)
{
	if (!n->no_nowait)
		log_info("virtio-net %s: the kernel refuses RWF_NOWAIT on the TAP: frames are "
			 "received one read at a time (docs/net.md)",
			 n->name);
	n->no_nowait = true;
}

/* Writes the batched frames, in order, and returns their chains. Each
 * request is RWF_NOWAIT, so io_uring runs it at submission, in order, and a
 * TAP that cannot take a frame fails it with EAGAIN as writev would
 * (without the flag io_uring would wait for room instead). Where the kernel
 * refuses the flag the writes go without it, hard-linked so that one
 * waiting for room (a TAP never refuses a frame unless its send buffer was
 * shrunk with TUNSETSNDBUF) holds back the later ones rather than being
 * overtaken: the I/O thread then waits, as a blocking writev would. */
static void tx_flush(struct virtio_net *n)
{
	int res[TX_BATCH];
	unsigned sub;
	bool refused;

	if (!n->ntx)
		return;
	for (unsigned i = 0; i < n->ntx; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(n->tring);

		/* the TAP as the ring's registered file 0 (open_tx_ring) */
		io_uring_prep_writev2(sqe, 0, n->tiov + n->tslot[i].iov0, n->tslot[i].k, 0,
				      n->no_nowait ? 0 : RWF_NOWAIT);
		sqe->flags |= IOSQE_FIXED_FILE;
		if (n->no_nowait && i + 1 < n->ntx)
			sqe->flags |= IOSQE_IO_HARDLINK;
		io_uring_sqe_set_data64(sqe, i);
		res[i] = -ECANCELED;
	}
	sub = ring_run(n, n->ntx, res);
	/* refused: no request wrote anything, each is written by itself */
	refused = sub && res[0] == -EOPNOTSUPP && !n->no_nowait;
	if (refused)
		nowait_refused(n);
	if (sub < n->ntx) {
		/* entries left unsubmitted (submission is in order, so the last
		 * ones): give up the ring, which drops what it still holds, and
		 * write those frames and all later ones one by one */
		log_warn("virtio-net %s: io_uring took %u of %u writes; writing frames one by one",
			 n->name, sub, n->ntx);
		tx_ring_close(n);
	}
	for (unsigned i = 0; i < n->ntx; i++)
		if (i >= sub || refused)
			res[i] = (int)tx_writev(n, n->tiov + n->tslot[i].iov0, n->tslot[i].k);
	for (unsigned i = 0; i < n->ntx; i++) {
		tx_done(n, res[i], n->tslot[i].len);
		vq_push(n->txq, n->tslot[i].head, 0);
	}
	n->ntx = n->tiov_used = 0;
}

/* Takes chain @e: writes it now (no ring), or batches it; a dropped chain
 * goes straight back. */
static void tx_add(struct virtio_net *n, const struct vq_elem *e)
{
	struct tx_slot *s;
	unsigned k;

	if (n->tring && (n->ntx == TX_BATCH || n->tiov_used + VQ_MAX_SEGS > 2 * VQ_MAX_SEGS))
		tx_flush(n);
	s = &n->tslot[n->ntx];
	k = tx_build(n, e, s->hdr, n->tiov + n->tiov_used, &s->len);
	if (!k) {
		vq_push(n->txq, e->head, 0);
		return;
	}
	if (!n->tring) {
		tx_done(n, tx_writev(n, n->tiov + n->tiov_used, k), s->len);
		vq_push(n->txq, e->head, 0);
		return;
	}
	s->head = e->head;
	s->iov0 = n->tiov_used;
	s->k = k;
	n->tiov_used += k;
	n->ntx++;
}

/* Whether the I/O thread polls this device's queues (net_poll) and calls
 * net_idle before it sleeps: then a queue needs no kicks until that call,
 * and asks for them there. */
static bool polled(const struct virtio_net *n)
{
	return n->loop && loop_polls(n->loop);
}

/* Asks the loop for another turn: a budget ran out with work left. */
static void defer(struct virtio_net *n, bool *more)
{
	*more = true;
	if (n->loop)
		loop_defer(n->loop, n->work);
}

/* Sends at most one queue's worth of chains (the work budget,
 * docs/virtio.md); with more left the queue stays quiet and the loop's next
 * turn goes on. */
static void tx_run(struct virtio_net *n)
{
	unsigned budget;
	bool pushed = false;
	int ret = 0;

	if (!n->txq || n->broken)
		return;
	budget = n->txq->size;
	vq_quiet(n->txq); /* no kicks while this runs: it takes what comes */
	do {
		while (budget && (ret = vq_pop(n->txq, n->gm, &n->telem)) != 0) {
			if (ret < 0) {
				tx_flush(n); /* what was taken before goes out */
				broke(n, "transmit");
				return;
			}
			tx_add(n, &n->telem);
			pushed = true;
			budget--;
		}
		tx_flush(n);
	} while (budget && !polled(n) && vq_listen(n->txq));
	if (!budget)
		defer(n, &n->tx_more);
	if (pushed && vq_should_notify(n->txq))
		n->t->notify(n->t->opaque, TXQ);
}

/* ---- receive ---- */

static size_t iov_copy(const struct iovec *iov, unsigned cnt, void *buf, size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < cnt && done < len; i++) {
		size_t take = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		if (to_iov)
			memcpy(iov[i].iov_base, (uint8_t *)buf + done, take);
		else
			memcpy((uint8_t *)buf + done, iov[i].iov_base, take);
		done += take;
	}
	return done;
}

static bool mrg(const struct virtio_net *n)
{
	return HAS(n->features, VIRTIO_NET_F_MRG_RXBUF);
}

static uint64_t rx_need_mtu(const struct virtio_net *n)
{
	return VIRTIO_NET_HDR_LEN + 18 + (uint64_t)n->mtu;
}

static uint64_t rx_need(const struct virtio_net *n)
{
	if (HAS(n->features, VIRTIO_NET_F_GUEST_TSO4) || HAS(n->features, VIRTIO_NET_F_GUEST_TSO6))
		return RX_NEED;
	return rx_need_mtu(n);
}

/* Moves the cached chains and their iovecs to the start of the arrays. */
static void rx_compact(struct virtio_net *n)
{
	memmove(n->riov, n->riov + n->i0, n->niov * sizeof(struct iovec));
	memmove(n->chains, n->chains + n->c0, n->nchains * sizeof(struct rx_chain));
	n->c0 = n->i0 = 0;
}

/* Takes every chain the driver made available into the cache (bad ones go
 * straight back unused). Returns -1 if the ring is broken. */
static int rx_fill(struct virtio_net *n)
{
	n->rx_dry = false;
	while (n->nchains < n->rxq->size && n->rx_budget) {
		struct rx_chain *c;

		if (!n->held) {
			int ret = vq_pop(n->rxq, n->gm, &n->elem);

			if (ret == 0) {
				n->rx_dry = true;
				break;
			}
			if (ret < 0) {
				broke(n, "receive");
				return -1;
			}
			if (n->elem.n_out || n->elem.in_len < VIRTIO_NET_HDR_LEN ||
			    n->elem.n_in > VQ_MAX_SEGS - 1) {
				n->st.rx_bad_bufs++;
				log_guest(&guest_rl,
					  "virtio-net %s: receive chain %s: returned unused",
					  n->name,
					  n->elem.n_out ? "with readable buffers"
					  : n->elem.n_in > VQ_MAX_SEGS - 1
						  ? "of over 1023 buffers"
						  : "smaller than the header");
				vq_push(n->rxq, n->elem.head, 0);
				n->rx_pushed = true;
				n->rx_budget--; /* a driver may post these forever */
				continue;
			}
		}
		if (n->i0 + n->niov + n->elem.n_in > VQ_MAX_SEGS - 1 ||
		    n->c0 + n->nchains == VQ_MAX_SIZE)
			rx_compact(n);
		if (n->niov + n->elem.n_in > VQ_MAX_SEGS - 1) {
			n->held = true; /* after the cached chains are used */
			break;
		}
		n->held = false;
		c = &n->chains[n->c0 + n->nchains++];
		*c = (struct rx_chain){ n->elem.head, n->elem.n_in, n->elem.in_len };
		memcpy(n->riov + n->i0 + n->niov, n->elem.iov + n->elem.n_out,
		       n->elem.n_in * sizeof(struct iovec));
		n->niov += n->elem.n_in;
		n->cap += n->elem.in_len;
		if (n->cap > n->rx_room)
			n->rx_room = n->cap;
	}
	return 0;
}

/* Drops the first @k cached chains (used by a frame). */
static void rx_consume(struct virtio_net *n, unsigned k)
{
	unsigned iovs = 0;

	for (unsigned i = 0; i < k; i++) {
		n->cap -= n->chains[n->c0 + i].len;
		iovs += n->chains[n->c0 + i].n;
	}
	n->c0 += k, n->nchains -= k;
	n->i0 += iovs, n->niov -= iovs;
	if (!n->nchains)
		n->c0 = n->i0 = 0;
}

enum rx_result { RX_FRAME, RX_EMPTY, RX_NO_ROOM };

/* Whether a frame waits in the TAP. Short of room, receive waits for the
 * driver's kick only if one does: with the TAP empty the next frame's
 * arrival is the time to look again (the TAP stays watched), so a driver
 * that refills a buffer at a time is not asked to kick for each. */
static bool tap_readable(const struct virtio_net *n)
{
	struct pollfd p = { .fd = n->fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* A frame of @got bytes (header included) was read into @iov (@niov
 * iovecs, the scratch buffer after them) over the chains @ch, at most @m of
 * them: fixes its header and returns the chains it used to the driver.
 * Returns how many, 0 if the frame was dropped (a runt, larger than the
 * iovecs the read had or than the chains, or a header the driver did not
 * negotiate; counted): then the chains stay the device's. */
static unsigned rx_deliver(struct virtio_net *n, const struct iovec *iov, unsigned niov,
			   const struct rx_chain *ch, unsigned m, uint64_t got)
{
	uint8_t hdr[VIRTIO_NET_HDR_LEN];
	uint64_t left = got, room = 0;
	unsigned k = 0;

	/* a tail that went past the read's iovecs is in the scratch buffer,
	 * not in the guest's: the frame did not arrive */
	for (unsigned i = 0; i < niov; i++)
		room += iov[i].iov_len;
	while (left && k < m) {
		left -= left < ch[k].len ? left : ch[k].len;
		k++;
	}
	if (got < VIRTIO_NET_HDR_LEN || left || got > room) {
		n->st.rx_dropped++;
		return 0;
	}
	vq_iov_read_once(iov, niov, 0, hdr, sizeof(hdr));
	if (!virtio_net_rx_fix(hdr, n->features, (uint16_t)k)) {
		n->st.rx_dropped++;
		return 0;
	}
	iov_copy(iov, niov, hdr, sizeof(hdr), true);
	left = got;
	for (unsigned i = 0; i < k; i++) {
		uint32_t l = (uint32_t)(left < ch[i].len ? left : ch[i].len);

		left -= l;
		vq_push(n->rxq, ch[i].head, l);
	}
	n->rx_pushed = true;
	n->st.rx_frames++;
	n->st.rx_bytes += got - VIRTIO_NET_HDR_LEN;
	return k;
}

static enum rx_result rx_one(struct virtio_net *n)
{
	bool full;
	unsigned k, cnt;
	struct iovec saved, *iov;
	ssize_t got;

	if (rx_fill(n) || !n->rx_budget)
		return RX_EMPTY;
	/* With MRG_RXBUF, wait for room for the largest frame. A driver that
	 * has nothing more to give and has never given that much at once may
	 * never do so: then room for an MTU-sized frame will do (a larger one
	 * is dropped). One that has will give it again as it takes frames:
	 * waiting loses nothing, reading now would drop a TSO frame. */
	full = n->held || n->nchains == n->rxq->size;
	if (n->nchains == 0 ||
	    (mrg(n) && n->cap < rx_need(n) && !full &&
	     !(n->rx_dry && n->rx_room < rx_need(n) && n->cap >= rx_need_mtu(n))))
		return tap_readable(n) ? RX_NO_ROOM : RX_EMPTY;
	/* The frame goes into the chains (with MRG_RXBUF, into as many
	 * iovecs as the largest frame needs: fewer for the kernel to import);
	 * whatever lands in the scratch buffer after them means the frame did
	 * not fit (dropped below). */
	iov = n->riov + n->i0;
	if (mrg(n)) {
		uint64_t room = 0, need = rx_need(n);

		for (cnt = 0; cnt < n->niov && room < need; cnt++)
			room += iov[cnt].iov_len;
	} else {
		cnt = n->chains[n->c0].n;
	}
	saved = iov[cnt];
	iov[cnt] = (struct iovec){ n->scratch, sizeof(n->scratch) };
	do
		got = readv(n->fd, iov, (int)cnt + 1);
	while (got < 0 && errno == EINTR);
	iov[cnt] = saved;
	if (got < 0) {
		if (errno != EAGAIN)
			log_warn("virtio-net %s: TAP read: %s", n->name, strerror(errno));
		return RX_EMPTY;
	}
	n->rx_budget--;
	/* only the @cnt iovecs the read was given hold the frame */
	k = rx_deliver(n, iov, cnt, n->chains + n->c0, mrg(n) ? n->nchains : 1, (uint64_t)got);
	rx_consume(n, k);
	return RX_FRAME;
}

/* One planned read of a receive batch: cached chains [c, c + m) (window
 * positions after c0), their iovecs at rbiov[v, v + nv) plus the scratch
 * buffer. */
struct rx_read {
	unsigned c, m, v, nv;
};

/* Removes the chains marked @used among the first @p cached ones, keeping
 * the others, in order, at the front of the cache for the next frames. */
static void rx_drop_used(struct virtio_net *n, unsigned p, const bool *used)
{
	unsigned iovs = 0, w, wi;

	for (unsigned i = 0; i < p; i++)
		iovs += n->chains[n->c0 + i].n;
	w = n->c0 + p;
	wi = n->i0 + iovs;
	/* from the last to the first, so nothing is overwritten before it
	 * moves: every destination lies at or after its source */
	for (unsigned i = p, off = iovs; i-- > 0;) {
		struct rx_chain ch = n->chains[n->c0 + i];

		off -= ch.n;
		if (used[i]) {
			n->cap -= ch.len;
			continue;
		}
		wi -= ch.n;
		memmove(n->riov + wi, n->riov + n->i0 + off, ch.n * sizeof(struct iovec));
		n->chains[--w] = ch;
	}
	n->nchains -= w - n->c0;
	n->niov -= wi - n->i0;
	n->c0 = w;
	n->i0 = wi;
	if (!n->nchains)
		n->c0 = n->i0 = 0;
}

/* Several frames at once: with room cached for at least two of the largest
 * frames, as many reads as that room allows (up to RX_BATCH) go to the TAP
 * in one io_uring submission, run in order at submission (a nonblocking
 * TAP ends them with EAGAIN once it is empty). Chains a frame did not need
 * stay cached, in order, for the next. Returns RX_FRAME or RX_EMPTY as
 * rx_one does, or RX_NO_ROOM when there is not room for a batch (then
 * rx_one decides). */
static enum rx_result rx_batch(struct virtio_net *n)
{
	struct rx_read rd[RX_BATCH];
	bool used[VQ_MAX_SIZE] = { false };
	int res[RX_BATCH];
	unsigned nr = 0, p = 0, nv = 0, sub;
	uint64_t need = rx_need(n);
	bool empty = false;

	if (!n->tring || n->no_nowait)
		return RX_NO_ROOM;
	if (rx_fill(n))
		return RX_EMPTY; /* the ring is broken */
	/* plan: @nv counts the chains' iovecs taken so far; in rbiov each read
	 * is followed by the scratch buffer, so read @nr starts at nv + nr */
	while (nr < RX_BATCH && nr < n->rx_budget && p < n->nchains) {
		struct rx_read r = { p, 0, nv + nr, 0 };
		uint64_t room = 0;

		do {
			room += n->chains[n->c0 + p + r.m].len;
			r.nv += n->chains[n->c0 + p + r.m].n;
			r.m++;
		} while (mrg(n) && room < need && p + r.m < n->nchains);
		if ((mrg(n) && room < need) || r.v + r.nv + 1 > 2 * VQ_MAX_SEGS)
			break;
		nv += r.nv;
		p += r.m;
		rd[nr++] = r;
	}
	if (nr < 2)
		return RX_NO_ROOM;
	for (unsigned j = 0; j < nr; j++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(n->tring);

		/* the chains' iovecs lie one after another in riov; the scratch
		 * buffer after them catches a frame that does not fit */
		memcpy(n->rbiov + rd[j].v, n->riov + n->i0 + rd[j].v - j,
		       rd[j].nv * sizeof(struct iovec));
		n->rbiov[rd[j].v + rd[j].nv] = (struct iovec){ n->scratch, sizeof(n->scratch) };
		io_uring_prep_readv2(sqe, 0, n->rbiov + rd[j].v, rd[j].nv + 1, 0, RWF_NOWAIT);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, j);
		res[j] = -ECANCELED;
	}
	sub = ring_run(n, nr, res);
	if (sub < nr) {
		/* reads left unsubmitted (the last ones) never ran: give up the
		 * ring, which drops them; their chains stay cached */
		log_warn("virtio-net %s: io_uring took %u of %u reads; reading frames one by one",
			 n->name, sub, nr);
		tx_ring_close(n);
	}
	if (sub && res[0] == -EOPNOTSUPP) {
		/* none ran: rx_one reads this frame and the next ones */
		nowait_refused(n);
		return RX_NO_ROOM;
	}
	for (unsigned j = 0; j < nr; j++) {
		unsigned k;

		if (res[j] < 0) {
			if (res[j] == -EAGAIN)
				empty = true;
			else if (res[j] != -ECANCELED && res[j] != -EOPNOTSUPP)
				log_warn("virtio-net %s: TAP read: %s", n->name, strerror(-res[j]));
			continue;
		}
		n->rx_budget--;
		k = rx_deliver(n, n->rbiov + rd[j].v, rd[j].nv, n->chains + n->c0 + rd[j].c,
			       rd[j].m, (uint64_t)res[j]);
		for (unsigned i = 0; i < k; i++)
			used[rd[j].c + i] = true;
	}
	rx_drop_used(n, p, used);
	return empty ? RX_EMPTY : RX_FRAME;
}

/* Reads and drops what the TAP holds (device stopped or broken), at most a
 * full queue's worth of frames per turn: a host flooding the TAP gets no
 * more of the I/O thread than a guest does. */
static void rx_discard(struct virtio_net *n)
{
	for (unsigned budget = VQ_MAX_SIZE;;) {
		ssize_t got;

		if (!budget) {
			defer(n, &n->rx_more);
			break;
		}
		got = read(n->fd, n->scratch, sizeof(n->scratch));
		if (got > 0) {
			n->st.rx_dropped++;
			budget--;
		} else if (got == 0 || errno != EINTR) {
			break;
		}
	}
}

static void rx_watch(struct virtio_net *n, bool on)
{
	if (!n->loop || on == (n->watch >= 0))
		return;
	if (on) {
		n->watch = loop_watch(n->loop, n->fd, virtio_net_rx, n);
		if (n->watch < 0)
			log_warn("virtio-net %s: cannot watch the TAP: %s", n->name,
				 strerror(-n->watch));
	} else {
		loop_unwatch(n->loop, n->watch);
		n->watch = -1;
	}
}

static void rx_run(struct virtio_net *n)
{
	enum rx_result r = RX_EMPTY;

	if (!n->rxq || n->broken) {
		rx_discard(n);
		return;
	}
	/* Kicks are only wanted while frames wait for buffers (otherwise the
	 * next frame from the TAP takes whatever the driver added), and even
	 * then not while the I/O thread polls the ring: a driver that gives
	 * buffers back one at a time would kick for each of them. */
	/* the work budget (docs/virtio.md): a queue's worth of frames, bad
	 * chains counted too; then the loop's next turn goes on */
	n->rx_budget = n->rxq->size;
	vq_quiet(n->rxq); /* none while this runs: each frame takes what was added */
	do {
		while (n->rx_budget && ((r = rx_batch(n)) == RX_FRAME ||
					(r == RX_NO_ROOM && (r = rx_one(n)) == RX_FRAME)))
			;
		n->rx_blocked = n->rx_budget && r == RX_NO_ROOM && !n->broken;
	} while (n->rx_blocked && !polled(n) && vq_listen(n->rxq));
	if (!n->rx_budget && !n->broken)
		defer(n, &n->rx_more);
	if (!n->broken && (!n->rx_blocked || polled(n)))
		vq_quiet(n->rxq);
	rx_watch(n, !n->rx_blocked);
	if (n->rx_pushed && n->rxq && vq_should_notify(n->rxq))
		n->t->notify(n->t->opaque, RXQ);
	n->rx_pushed = false;
}

void virtio_net_rx(void *net, uint32_t events)
{
	struct virtio_net *n = net;

	(void)events;
	n->t->lock(n->t->opaque);
	rx_run(n);
	n->t->unlock(n->t->opaque);
}

/* The loop's next turn after a budget ran out. */
static void net_more(void *net)
{
	struct virtio_net *n = net;

	n->t->lock(n->t->opaque);
	if (n->tx_more) {
		n->tx_more = false;
		tx_run(n);
	}
	if (n->rx_more) {
		n->rx_more = false;
		rx_run(n);
	}
	n->t->unlock(n->t->opaque);
}

static void net_kick(void *dev, unsigned q)
{
	struct virtio_net *n = dev;

	if (q == TXQ)
		tx_run(n);
	else if (q == RXQ && n->rxq && !n->broken)
		rx_run(n); /* new buffers: frames waiting in the TAP can come in */
}

/* The I/O thread is about to sleep: a queue left quiet while it was polled
 * asks for kicks now, and is looked at once more (the driver may have added
 * buffers before it saw the request). */
static bool net_idle(void *net)
{
	struct virtio_net *n = net;
	bool work = false;

	n->t->lock(n->t->opaque);
	if (n->txq && !n->broken && n->txq->quiet && vq_listen(n->txq)) {
		tx_run(n);
		work = true;
	}
	if (n->rxq && !n->broken && n->rx_blocked && n->rxq->quiet && vq_listen(n->rxq)) {
		rx_run(n);
		work = true;
	}
	n->t->unlock(n->t->opaque);
	return work;
}

static bool net_poll(void *net)
{
	struct virtio_net *n = net;
	bool work = false;

	n->t->lock(n->t->opaque);
	if (n->txq && !n->broken && vq_has_work(n->txq)) {
		tx_run(n);
		work = true;
	}
	if (n->rxq && !n->broken && n->rx_blocked && vq_has_work(n->rxq)) {
		rx_run(n);
		work = true;
	}
	n->t->unlock(n->t->opaque);
	return work;
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *s)
{
	n->t->lock(n->t->opaque);
	*s = n->st;
	n->t->unlock(n->t->opaque);
}

/*
 * The batch ring, locked down (uring.h): the TAP is its registered file 0
 * and every request must name it so (IOSQE_FIXED_FILE); it only reads and
 * writes, hard-linked writes when the TAP refuses RWF_NOWAIT.
 * SUBMIT_ALL: every entry is submitted, and answered, even after one
 * fails; without it (before Linux 5.18) frames are written one by one.
 */
static int open_tx_ring(struct virtio_net *n)
{
	static const uint8_t ops[] = { IORING_OP_READV, IORING_OP_WRITEV };
	struct io_uring_params p = { .flags = IORING_SETUP_SUBMIT_ALL };
	int ret = uring_init_disabled(&n->tring_mem, TX_BATCH, &p);

	if (ret)
		return ret;
	ret = io_uring_register_files(&n->tring_mem, &n->fd, 1);
	if (!ret)
		ret = uring_lock(&n->tring_mem, ops, sizeof(ops), IOSQE_IO_HARDLINK,
				 IOSQE_FIXED_FILE);
	if (ret)
		io_uring_queue_exit(&n->tring_mem);
	return ret;
}

struct virtio_net *virtio_net_create(const struct virtio_net_cfg *cfg, const struct guest_mem *gm,
				     const struct virtio_transport *t)
{
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->gm = gm;
	n->t = t;
	n->fd = cfg->tap_fd;
	n->mtu = cfg->mtu >= 68 && cfg->mtu <= VIRTIO_NET_MAX_FRAME - 18 ? cfg->mtu : 1500;
	memcpy(n->mac, cfg->mac, 6);
	snprintf(n->name, sizeof(n->name), "%s", cfg->name ? cfg->name : "tap");
	n->loop = cfg->loop;
	n->watch = -1;
	if (!cfg->no_batches && open_tx_ring(n) == 0)
		n->tring = &n->tring_mem;
	sandbox_need(SANDBOX_NEED_NET); /* readv/writev on the TAP, ring or not */
	rx_watch(n, true);
	if (n->loop && n->watch < 0) {
		tx_ring_close(n);
		free(n);
		return NULL;
	}
	if (n->loop && ((n->work = loop_add_work(n->loop, net_more, n)) < 0 ||
			loop_add_poller(n->loop, net_poll, net_idle, n))) {
		rx_watch(n, false);
		tx_ring_close(n);
		free(n);
		return NULL;
	}
	return n;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	log_info("virtio-net %s: rx %llu frames %llu bytes, tx %llu frames %llu bytes; dropped: "
		 "rx %llu, bad rx buffers %llu, bad tx %llu, tx errors %llu",
		 n->name, (unsigned long long)n->st.rx_frames, (unsigned long long)n->st.rx_bytes,
		 (unsigned long long)n->st.tx_frames, (unsigned long long)n->st.tx_bytes,
		 (unsigned long long)n->st.rx_dropped, (unsigned long long)n->st.rx_bad_bufs,
		 (unsigned long long)n->st.tx_bad, (unsigned long long)n->st.tx_errors);
	tx_ring_close(n);
	close(n->fd);
	free(n);
}

/* ---- state (docs/state.md) ---- */

#define STATE_VERSION 1

/*
 * The MAC the driver read, whether the driver broke a queue, and how many
 * receive chains the device took from the ring without using them yet (its
 * cache, and the one held back): the last ones taken, in ring order. They
 * are not recorded one by one: restore steps the receive queue's
 * last_avail back over them, so the restored device takes the same chains
 * again, in the same order. Frames are not state: one in the TAP stays
 * there (the TAP is the host's), and transmit writes finish within the
 * kick that started them.
 */
static int net_save(void *dev, struct state_writer *w)
{
	struct virtio_net *n = dev;

	if (n->ntx)
		return -EBUSY; /* not between two loop turns: never happens */
	state_begin(w, STATE_KIND_VIRTIO_NET, STATE_VERSION);
	state_put_bytes(w, n->mac, sizeof(n->mac));
	state_put_bool(w, n->broken);
	state_put_u16(w, (uint16_t)(n->nchains + n->held));
	state_end(w);
	return w->err;
}

static int net_restore(void *dev, struct state_reader *r)
{
	struct virtio_net *n = dev;
	uint8_t mac[6];
	uint16_t cached;
	bool broken;

	state_enter(r, STATE_KIND_VIRTIO_NET, STATE_VERSION, NULL);
	state_get_exact(r, mac, sizeof(mac));
	state_get_bool(r, &broken);
	state_get_u16(r, &cached);
	if (state_leave(r))
		return r->err;
	if (cached > (n->rxq ? n->rxq->size : 0))
		return state_fail(r, -EINVAL);
	memcpy(n->mac, mac, sizeof(mac)); /* the guest's, wherever it runs now */
	n->broken = broken;
	rx_forget(n);
	if (cached)
		n->rxq->last_avail = (uint16_t)(n->rxq->last_avail - cached);
	return 0;
}

const struct virtio_dev_ops virtio_net_ops = {
	.device_id = 1,
	.pci_class = 0x020000,
	.num_queues = 2,
	.queue_max = VQ_MAX_SIZE,
	.features = net_features,
	.cfg_size = NET_CFG_SIZE,
	.cfg_read = net_cfg_read,
	.cfg_write = net_cfg_write,
	.start = net_start,
	.kick = net_kick,
	.reset = net_reset,
	.save = net_save,
	.restore = net_restore,
};
