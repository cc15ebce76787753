/*
 * Probe guest: a minimal virtio-net (modern) driver at CPL3, polling its
 * used rings (no interrupts), with just enough ARP, IPv4, ICMP and UDP to
 * talk to the host end of the TAP. Tests:
 *   net          ARP both ways, ICMP echo to the host, UDP echo (contents
 *                and order) against tests/integration/net_responder.py, a
 *                receive burst larger than the receive ring (frames must
 *                wait in the TAP, none lost or reordered), and the
 *                transmit and receive frame rates
 *   net-hostile  chains a hostile driver sends: each must come back
 *                unused while the device keeps working; a broken ring must
 *                get DEVICE_NEEDS_RESET, and the device work after a reset
 *   net-tso-tx   (opt-in, with CSUM/HOST_TSO4/GUEST_CSUM/GUEST_TSO4) TCP/IPv4
 *                GSO frames to a MAC that is not the host's; the host
 *                checks its TAP counters against the line this prints
 *   net-tso-rx   (opt-in) bursts of GSO frames tests/host/gso_send writes into
 *                the TAP, taken whole (merged buffers), in order, checked
 * Addresses come from the command line: probe.ip=A.B.C.D probe.peer=A.B.C.D
 * probe.port=N (the responder's UDP port), probe.frames=N and probe.txsize=N
 * (transmit rate: datagrams and their payload bytes), probe.burst=N and
 * probe.rxsize=N (receive burst); for the TSO tests probe.tsosize=N (TCP
 * payload per frame, default 64000), probe.mss=N (1448), probe.tsoframes=N,
 * probe.tsoburst=N, probe.tsorounds=N and probe.rxbuf=N (receive buffer
 * bytes, 2048..65536, default 65536).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers.h"
#include "io.h"
#include "probe.h"

#define NQ	   64
#define BUFSZ	   2048
#define HDRLEN	   12
#define F_CSUM	   (1ULL << 0)
#define F_GCSUM	   (1ULL << 1)
#define F_MAC	   (1ULL << 5)
#define F_GTSO4	   (1ULL << 7)
#define F_HTSO4	   (1ULL << 11)
#define F_MRG	   (1ULL << 15)
#define F_EVENT	   (1ULL << 29)
#define F_STAT	   (1ULL << 16)
#define F_V1	   (1ULL << 32)
#define SECONDS(n) ((uint64_t)(n)*4000000000ull)

void *memcpy(void *d, const void *s, unsigned long n);
void *memset(void *d, int c, unsigned long n);

struct nq {
	uint8_t *ring; /* desc at 0, avail at 1024, used at 4096 */
	uint16_t notify_off, avail_idx, used_seen;
	uint16_t checked; /* avail_idx when notify() last looked */
	unsigned kicks;	  /* notifications written: the device's requests honoured */
};

static struct vpci dev;
static struct nq rxq, txq;
static uint64_t features;
static uint8_t mac[6], peer_mac[6];
static uint32_t my_ip, peer_ip;
static bool have_peer;
static unsigned tx_inflight;
static uint8_t rx_ring[8192] __attribute__((aligned(4096)));
static uint8_t tx_ring[8192] __attribute__((aligned(4096)));
static uint8_t rx_buf[NQ][BUFSZ] __attribute__((aligned(4096)));
static uint8_t tx_buf[NQ][BUFSZ] __attribute__((aligned(4096)));
static uint8_t big[80000] __attribute__((aligned(4096)));
/* receive buffers for the TSO tests: up to 64 KiB each (probe.rxbuf) */
#define BIGBUF 65536
static uint8_t rx_big[NQ - 1][BIGBUF] __attribute__((aligned(4096)));
/* the TSO transmit test's payloads: one per chain in flight */
static uint8_t tx_big[NQ / 2][BIGBUF] __attribute__((aligned(4096)));
static uint8_t *rxb_base = &rx_buf[0][0];
static unsigned rxb_stride = BUFSZ, rxbsz = BUFSZ;
static uint64_t want_extra; /* offloads the next net_init asks for */

static uint8_t *rxb(unsigned id)
{
	return rxb_base + (uint64_t)id * rxb_stride;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void desc(struct nq *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	volatile uint8_t *d = q->ring + 16 * i;
	*(volatile uint64_t *)d = addr;
	*(volatile uint32_t *)(d + 8) = len;
	*(volatile uint16_t *)(d + 12) = flags;
	*(volatile uint16_t *)(d + 14) = next;
}

static void publish(struct nq *q, uint16_t head)
{
	*(volatile uint16_t *)(q->ring + 1024 + 4 + 2 * (q->avail_idx % NQ)) = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*(volatile uint16_t *)(q->ring + 1024 + 2) = ++q->avail_idx;
}

static void kick(struct nq *q)
{
	q->kicks++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	w16(dev.notify + (uint64_t)q->notify_off * dev.notify_mult, 0);
}

/* Kicks if the device asked for it (virtio 1.2, 2.7.10: with EVENT_IDX,
 * when avail_event lies among the entries added since the last look; else
 * unless the used ring says NO_NOTIFY), as a real driver does. */
static void notify(struct nq *q)
{
	uint16_t now = q->avail_idx, old = q->checked, ev;

	q->checked = now;
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* avail idx before the device's request */
	if (features & F_EVENT) {
		ev = *(volatile uint16_t *)(q->ring + 4096 + 4 + 8 * NQ);
		if ((uint16_t)(now - ev - 1) >= (uint16_t)(now - old))
			return;
	} else if (*(volatile uint16_t *)(q->ring + 4096) & 1) {
		return;
	}
	kick(q);
}

/* Next used entry: its id, *len its length; -1 if none. */
static int used(struct nq *q, uint32_t *len)
{
	volatile uint8_t *u;

	if (*(volatile uint16_t *)(q->ring + 4096 + 2) == q->used_seen)
		return -1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	u = q->ring + 4096 + 4 + 8 * (q->used_seen % NQ);
	q->used_seen++;
	*len = *(volatile uint32_t *)(u + 4);
	return (int)*(volatile uint32_t *)u;
}

static int setup_queue(struct nq *q, unsigned idx, uint8_t *ring)
{
	uint64_t c = dev.common;

	for (unsigned i = 0; i < 8192; i++)
		ring[i] = 0;
	q->ring = ring;
	q->avail_idx = q->used_seen = q->checked = 0;
	w16(c + 0x16, (uint16_t)idx);
	if (r16(c + 0x18) < NQ)
		return -1;
	w16(c + 0x18, NQ);
	w16(c + 0x1a, 0xffff); /* no interrupts: we poll */
	w64(c + 0x20, (uint64_t)ring);
	w64(c + 0x28, (uint64_t)ring + 1024);
	w64(c + 0x30, (uint64_t)ring + 4096);
	q->notify_off = r16(c + 0x1e);
	w16(c + 0x1c, 1);
	return 0;
}

/* Resets the device and brings it up; returns the status byte. */
static uint8_t net_init(void)
{
	uint64_t c = dev.common, want = F_V1 | F_MAC | F_MRG | F_STAT | F_EVENT | want_extra;

	w8(c + 0x14, 0);
	while (r8(c + 0x14))
		pause();
	w8(c + 0x14, 1 | 2);
	w32(c + 0x00, 0);
	features = r32(c + 0x04);
	w32(c + 0x00, 1);
	features |= (uint64_t)r32(c + 0x04) << 32;
	features &= want;
	w32(c + 0x08, 0);
	w32(c + 0x0c, (uint32_t)features);
	w32(c + 0x08, 1);
	w32(c + 0x0c, (uint32_t)(features >> 32));
	w8(c + 0x14, 1 | 2 | 8);
	if (!(r8(c + 0x14) & 8))
		return r8(c + 0x14);
	if (setup_queue(&rxq, 0, rx_ring) || setup_queue(&txq, 1, tx_ring))
		return r8(c + 0x14);
	tx_inflight = 0;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = r8(dev.devcfg + i);
	w8(c + 0x14, 1 | 2 | 8 | 4);
	for (unsigned i = 0; i < NQ - 1; i++) { /* the last one: net-hostile's */
		desc(&rxq, i, (uint64_t)rxb(i), rxbsz, 2, 0);
		publish(&rxq, (uint16_t)i);
	}
	kick(&rxq);
	return r8(c + 0x14);
}

/* ---- frames ---- */

static void reclaim_tx(void)
{
	uint32_t len;

	while (used(&txq, &len) >= 0)
		tx_inflight--;
}

/* Queues one frame (Ethernet header onwards); kicks if @now. Returns 0, or
 * -1 if the transmit ring stayed full. */
static int send(const uint8_t *frame, unsigned len, bool now)
{
	unsigned slot;
	uint8_t *b;

	for (uint64_t t0 = rdtsc(); tx_inflight == NQ; pause()) {
		reclaim_tx();
		if (rdtsc() - t0 > SECONDS(5))
			return -1;
	}
	slot = txq.avail_idx % NQ;
	b = tx_buf[slot];
	memset(b, 0, HDRLEN);
	memcpy(b + HDRLEN, frame, len);
	desc(&txq, slot, (uint64_t)b, HDRLEN + len, 0, 0);
	publish(&txq, (uint16_t)slot);
	tx_inflight++;
	if (now)
		notify(&txq);
	return 0;
}

static uint16_t csum(const uint8_t *p, unsigned len, uint32_t sum)
{
	for (unsigned i = 0; i + 1 < len; i += 2)
		sum += be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint8_t frame[1600];

static unsigned eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, type);
	return 14;
}

static void arp(uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a = frame + eth(frame, op == 1 ? bcast : tha, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, mac, 6);
	put32(a + 14, my_ip);
	memcpy(a + 18, op == 1 ? (const uint8_t *)"\0\0\0\0\0\0" : tha, 6);
	put32(a + 24, tpa);
	send(frame, 60, true); /* padded to the Ethernet minimum */
}

/* IPv4 packet to the peer: header at frame + 14; returns the payload. */
static uint8_t *ip(uint8_t proto, unsigned payload)
{
	static uint16_t id;
	uint8_t *h = frame + eth(frame, peer_mac, 0x0800);

	h[0] = 0x45;
	h[1] = 0;
	put16(h + 2, (uint16_t)(20 + payload));
	put16(h + 4, ++id);
	put16(h + 6, 0x4000);
	h[8] = 64;
	h[9] = proto;
	put16(h + 10, 0);
	put32(h + 12, my_ip);
	put32(h + 16, peer_ip);
	put16(h + 10, csum(h, 20, 0));
	return h + 20;
}

static int send_udp(uint16_t sport, uint16_t dport, const uint8_t *data, unsigned len, bool now)
{
	uint8_t *u = ip(17, 8 + len);

	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + len));
	put16(u + 6, 0); /* no checksum (IPv4 allows it) */
	memcpy(u + 8, data, len);
	return send(frame, 14 + 20 + 8 + len < 60 ? 60 : 14 + 20 + 8 + len, now);
}

/* What the last received frame was, for the tests. With MRG_RXBUF a frame
 * may span several buffers: the headers and l4 are in the first one (l4len
 * is cut to what that buffer holds), the frame's end in the last. */
struct rx {
	uint16_t type; /* ethertype */
	uint8_t proto; /* IPv4 protocol */
	uint16_t sport, dport;
	const uint8_t *l4; /* ICMP, UDP or TCP payload */
	unsigned l4len;
	uint16_t nbufs;
	const uint8_t *hdr;   /* the virtio net header */
	uint32_t len;	      /* frame bytes (Ethernet header onwards), all buffers */
	uint32_t tcp_payload; /* TCP: payload bytes by the IPv4 length, all buffers */
	uint32_t seq;	      /* TCP sequence number */
	const uint8_t *end;   /* one past the frame's last byte (last buffer) */
	uint32_t endlen;      /* frame bytes in the last buffer */
};

static uint64_t rx_frames, rx_other;
static unsigned rx_pending; /* buffers taken but not given back */

static void rx_give_back(int id)
{
	publish(&rxq, (uint16_t)id);
	if (++rx_pending >= NQ / 4) {
		notify(&rxq);
		rx_pending = 0;
	}
}

/* Takes one received frame (all its buffers), answers ARP requests and
 * pings for us. Returns 1 with *r filled (the frame stays valid until the
 * next call), 0 if none. */
static int poll_rx(struct rx *r)
{
	static int last[NQ];
	static unsigned nlast;
	uint32_t len, total, blen = 0;
	const uint8_t *f, *b;
	unsigned nb, k;
	int id;

	for (k = 0; k < nlast; k++)
		rx_give_back(last[k]);
	nlast = 0;
	id = used(&rxq, &len);
	if (id < 0) {
		if (rx_pending) {
			notify(&rxq);
			rx_pending = 0;
		}
		return 0;
	}
	last[nlast++] = id;
	if (id >= NQ - 1 || len < HDRLEN + 14 || len > rxbsz) {
		rx_other++;
		return 0;
	}
	b = rxb((unsigned)id);
	nb = (features & F_MRG) ? (unsigned)(b[10] | b[11] << 8) : 1;
	if (nb == 0 || nb > NQ - 1) {
		rx_other++;
		return 0;
	}
	total = len;
	blen = len;
	for (k = 1; k < nb; k++) { /* the rest of a merged frame */
		int more = -1;
		uint32_t l = 0;

		for (uint64_t t0 = rdtsc(); more < 0 && rdtsc() - t0 < SECONDS(1);)
			more = used(&rxq, &l);
		if (more < 0 || more >= NQ - 1 || l > rxbsz) {
			if (more >= 0)
				last[nlast++] = more;
			rx_other++;
			return 0;
		}
		last[nlast++] = more;
		total += l;
		blen = l;
	}
	rx_frames++;
	f = b + HDRLEN;
	len -= HDRLEN; /* frame bytes in the first buffer */
	*r = (struct rx){ .type = be16(f + 12),
			  .nbufs = (uint16_t)(b[10] | b[11] << 8),
			  .hdr = b,
			  .len = total - HDRLEN,
			  .end = rxb((unsigned)last[nlast - 1]) + blen,
			  .endlen = nb == 1 ? blen - HDRLEN : blen };
	if (r->type == 0x0806 && len >= 42) {
		const uint8_t *a = f + 14;
		if (be16(a + 6) == 1 && be32(a + 24) == my_ip) {
			uint8_t sha[6];
			memcpy(sha, a + 8, 6);
			arp(2, sha, be32(a + 14));
		} else if (be16(a + 6) == 2 && be32(a + 14) == peer_ip) {
			memcpy(peer_mac, a + 8, 6);
			have_peer = true;
		}
	} else if (r->type == 0x0800 && len >= 34 && (f[14] >> 4) == 4) {
		const uint8_t *h = f + 14;
		unsigned ihl = (h[0] & 15) * 4u, tot = be16(h + 2);
		if (ihl < 20 || tot < ihl || tot > r->len - 14 || be32(h + 16) != my_ip ||
		    14 + ihl > len)
			return 1;
		r->proto = h[9];
		r->l4 = h + ihl;
		r->l4len = tot - ihl;
		if (r->l4len > len - 14 - ihl)
			r->l4len = len - 14 - ihl; /* what the first buffer holds */
		if (r->proto == 17 && r->l4len >= 8) {
			r->sport = be16(r->l4);
			r->dport = be16(r->l4 + 2);
			r->l4 += 8;
			r->l4len -= 8;
		} else if (r->proto == 6 && r->l4len >= 20 && (r->l4[12] >> 4) * 4u <= tot - ihl &&
			   (r->l4[12] >> 4) * 4u <= r->l4len) {
			unsigned doff = (r->l4[12] >> 4) * 4u;
			r->sport = be16(r->l4);
			r->dport = be16(r->l4 + 2);
			r->seq = be32(r->l4 + 4);
			r->tcp_payload = tot - ihl - doff;
			r->l4 += doff;
			r->l4len -= doff;
		} else if (r->proto == 1 && r->l4len >= 8 && r->l4[0] == 8 && have_peer &&
			   be32(h + 12) == peer_ip && r->l4len <= 1400 && nb == 1) {
			/* an echo request from the host: answer it */
			uint8_t *p = ip(1, r->l4len);
			memcpy(p, r->l4, r->l4len);
			p[0] = 0;
			put16(p + 2, 0);
			put16(p + 2, csum(p, r->l4len, 0));
			send(frame, 34 + r->l4len, true);
		}
	}
	return 1;
}

static void report(const char *what, int ok)
{
	puts_(ok ? " result=pass\n" : " result=fail\n");
	(void)what;
}

static uint32_t parse_ip(const char *s, size_t len)
{
	uint32_t v = 0, part = 0;
	unsigned dots = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			v = v << 8 | part;
			part = 0;
			dots++;
		} else if (s[i] >= '0' && s[i] <= '9') {
			part = part * 10 + (uint32_t)(s[i] - '0');
		} else {
			return 0;
		}
	}
	return dots == 3 ? v << 8 | part : 0;
}

static void put_ip(uint32_t a)
{
	for (int i = 3; i >= 0; i--) {
		putu(a >> (8 * i) & 0xff);
		if (i)
			putc_('.');
	}
}

static void put_mac(const uint8_t *m)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 6; i++) {
		putc_(hex[m[i] >> 4]);
		putc_(hex[m[i] & 15]);
		if (i < 5)
			putc_(':');
	}
}

static int resolve_peer(void)
{
	struct rx r;

	have_peer = false;
	for (int tries = 0; tries < 10 && !have_peer; tries++) {
		arp(1, 0, peer_ip);
		for (uint64_t t0 = rdtsc(); !have_peer && rdtsc() - t0 < SECONDS(1);)
			poll_rx(&r);
	}
	return have_peer;
}

static int ping(uint16_t seq, unsigned size)
{
	struct rx r;
	uint8_t *p = ip(1, 8 + size);

	p[0] = 8;
	p[1] = 0;
	put16(p + 2, 0);
	put16(p + 4, 0x4242);
	put16(p + 6, seq);
	for (unsigned i = 0; i < size; i++)
		p[8 + i] = (uint8_t)(i + seq);
	put16(p + 2, csum(p, 8 + size, 0));
	send(frame, 34 + 8 + size, true);
	for (uint64_t t0 = rdtsc(); rdtsc() - t0 < SECONDS(3);) {
		if (!poll_rx(&r) || r.proto != 1 || r.l4len != 8 + size || r.l4[0] != 0)
			continue;
		if (be16(r.l4 + 4) != 0x4242 || be16(r.l4 + 6) != seq)
			continue;
		for (unsigned i = 0; i < size; i++)
			if (r.l4[8 + i] != (uint8_t)(i + seq))
				return 0;
		return 1;
	}
	return 0;
}

extern const char *probe_arg(const char *key, size_t *len);
extern uint64_t probe_arg_u64(const char *key, uint64_t dflt);

static int net_setup(void)
{
	size_t len;
	const char *a;
	uint16_t status;
	int ok;

	if (vpci_find(0x1041, 0, &dev)) {
		puts_("PROBE: test=net-init found=0 result=fail\n");
		return 0;
	}
	a = probe_arg("probe.ip", &len);
	my_ip = a ? parse_ip(a, len) : 0;
	a = probe_arg("probe.peer", &len);
	peer_ip = a ? parse_ip(a, len) : 0;
	ok = (net_init() & 0x4f) == 0x0f;
	status = r16(dev.devcfg + 6);
	puts_("PROBE: test=net-init mac=");
	put_mac(mac);
	puts_(" link=");
	putu(status & 1);
	puts_(" mrg=");
	putu(!!(features & F_MRG));
	puts_(" tso=");
	putu((features & (F_CSUM | F_GCSUM | F_HTSO4 | F_GTSO4)) ==
	     (F_CSUM | F_GCSUM | F_HTSO4 | F_GTSO4));
	puts_(" ip=");
	put_ip(my_ip);
	ok &= (status & 1) && my_ip && peer_ip && (features & F_MRG);
	report("net-init", ok);
	return ok;
}

/* UDP echo: @n datagrams of varied sizes, at most @window outstanding;
 * the echoes must come back whole and in order. */
static int udp_echo(uint16_t port, unsigned n, unsigned window)
{
	static uint8_t d[1472];
	unsigned sent = 0, got = 0, bad = 0;
	struct rx r;
	uint64_t t0 = rdtsc();

	while (got < n && rdtsc() - t0 < SECONDS(20)) {
		while (sent < n && sent - got < window) {
			unsigned size = 8 + (sent * 37) % (sizeof(d) - 8);
			put32(d, 0x45434830); /* "ECH0" */
			put32(d + 4, sent);
			for (unsigned i = 8; i < size; i++)
				d[i] = (uint8_t)(i * 3 + sent);
			send_udp(40000, port, d, size, sent + 1 == n || sent - got + 1 == window);
			sent++;
		}
		if (!poll_rx(&r) || r.proto != 17 || r.sport != port || r.l4len < 8 ||
		    be32(r.l4) != 0x45434830)
			continue;
		unsigned seq = be32(r.l4 + 4), size = 8 + (seq * 37) % (sizeof(d) - 8);
		bad += seq != got || r.l4len != size;
		for (unsigned i = 8; i < r.l4len && seq == got; i++)
			bad += r.l4[i] != (uint8_t)(i * 3 + seq);
		got++;
	}
	puts_("PROBE: test=net-udp-echo sent=");
	putu(sent);
	puts_(" got=");
	putu(got);
	puts_(" bad=");
	putu(bad);
	report("net-udp-echo", got == n && !bad);
	return got == n && !bad;
}

/* The responder sends @n datagrams at once: more than the receive ring
 * holds, so the device must stop and resume; none may be lost or reordered. */
static int rx_burst(uint16_t port, unsigned n, unsigned size)
{
	uint8_t req[12];
	unsigned got = 0, bad = 0, kicks0;
	struct rx r;
	uint64_t t0, t1 = 0;

	put32(req, 0x42555253); /* "BURS" */
	put32(req + 4, n);
	put32(req + 8, size); /* UDP payload bytes (18: 64-byte frames) */
	send_udp(40001, port, req, sizeof(req), true);
	t0 = rdtsc();
	kicks0 = rxq.kicks;
	while (got < n && rdtsc() - t0 < SECONDS(20)) {
		if (!poll_rx(&r) || r.proto != 17 || r.sport != port || r.l4len < 8 ||
		    be32(r.l4) != 0x53455121) /* "SEQ!" */
			continue;
		if (!got)
			t1 = rdtsc();
		bad += be32(r.l4 + 4) != got;
		got++;
	}
	t1 = rdtsc() - t1;
	puts_("PROBE: test=net-rx-burst frames=");
	putu(got);
	puts_(" size=");
	putu(size);
	puts_(" out-of-order=");
	putu(bad);
	puts_(" tsc=");
	putu(t1);
	puts_(" kicks=");
	putu(rxq.kicks - kicks0);
	report("net-rx-burst", got == n && !bad);
	return got == n && !bad;
}

/* @n small datagrams as fast as the ring takes them, then "DONE": the
 * responder answers with how many it counted. */
static int tx_rate(uint16_t port, unsigned n, unsigned size)
{
	static uint8_t d[1472];
	struct rx r;
	uint64_t t0 = rdtsc(), dt;
	unsigned counted = ~0u, kicks0 = txq.kicks, kicks;

	put32(d, 0x534e4b21); /* "SNK!" */
	for (unsigned i = 0; i < n; i++) {
		put32(d + 4, i);
		if (send_udp(40002, port, d, size, i % 16 == 15 || i + 1 == n))
			break;
		if (i % 16 == 15)
			reclaim_tx();
	}
	dt = rdtsc() - t0;
	kicks = txq.kicks - kicks0;
	put32(d, 0x444f4e45); /* "DONE" */
	for (int tries = 0; tries < 3 && counted == ~0u; tries++) {
		send_udp(40002, port, d, 8, true);
		for (uint64_t t1 = rdtsc(); counted == ~0u && rdtsc() - t1 < SECONDS(2);)
			if (poll_rx(&r) && r.proto == 17 && r.sport == port && r.l4len >= 8 &&
			    be32(r.l4) == 0x434e5421) /* "CNT!" */
				counted = be32(r.l4 + 4);
	}
	puts_("PROBE: test=net-tx-rate frames=");
	putu(n);
	puts_(" size=");
	putu(size);
	puts_(" host-counted=");
	putu(counted);
	puts_(" tsc=");
	putu(dt);
	puts_(" kicks=");
	putu(kicks);
	/* the host's socket may drop some under load: most must arrive */
	report("net-tx-rate", counted != ~0u && counted >= n / 2 && counted <= n);
	return counted != ~0u && counted >= n / 2;
}

int probe_net(void);
int probe_net_hostile(void);
int probe_net_tso_tx(void);
int probe_net_tso_rx(void);

int probe_net(void)
{
	int fails = 0, ok;
	uint16_t port = (uint16_t)probe_arg_u64("probe.port", 7777);
	unsigned frames = (unsigned)probe_arg_u64("probe.frames", 20000);
	unsigned burst = (unsigned)probe_arg_u64("probe.burst", 600);
	/* UDP payload sizes for the rate tests: 18 (64-byte frames) to 1472 */
	unsigned txsize = (unsigned)probe_arg_u64("probe.txsize", 18);
	unsigned rxsize = (unsigned)probe_arg_u64("probe.rxsize", 18);

	if (txsize < 8 || txsize > 1472)
		txsize = 18;
	if (rxsize < 8 || rxsize > 1472)
		rxsize = 18;

	if (!net_setup())
		return 1;
	ok = resolve_peer();
	puts_("PROBE: test=net-arp peer=");
	put_ip(peer_ip);
	puts_(" peer-mac=");
	put_mac(peer_mac);
	report("net-arp", ok);
	fails += !ok;
	if (!ok)
		return fails;
	ok = 1;
	for (uint16_t seq = 1; seq <= 20 && ok; seq++)
		ok = ping(seq, 56 + 64 * seq);
	puts_("PROBE: test=net-ping count=20");
	report("net-ping", ok);
	fails += !ok;
	fails += !udp_echo(port, 300, 24);
	fails += !rx_burst(port, burst, rxsize);
	fails += !tx_rate(port, frames, txsize);
	/* the host pings us too (the responder does, after the rate test) */
	{
		struct rx r;
		unsigned before = 0;
		uint8_t d[4];

		put32(d, 0x50494e47); /* "PING": ask the host to ping us */
		send_udp(40003, port, d, 4, true);
		for (uint64_t t0 = rdtsc(); rdtsc() - t0 < SECONDS(10);) {
			if (poll_rx(&r) && r.proto == 17 && r.sport == port && r.l4len >= 8 &&
			    be32(r.l4) == 0x504f4e47) { /* "PONG": the host's ping worked */
				before = be32(r.l4 + 4);
				break;
			}
		}
		puts_("PROBE: test=net-pinged-by-host replies=");
		putu(before);
		report("net-pinged-by-host", before >= 3);
		fails += before < 3;
	}
	puts_("PROBE: test=net-stats rx-frames=");
	putu(rx_frames);
	puts_(" rx-bad=");
	putu(rx_other);
	report("net-stats", rx_other == 0);
	fails += rx_other != 0;
	return fails;
}

/* ---- TCP segmentation offload (opt-in tests, for the benchmark) ---- */

#define TSO_HDR	    54 /* Ethernet, IPv4 and TCP headers of a GSO frame */
#define TSO_ISN	    0x10000000u
#define TSO_TX_PORT 5001  /* destination port of what the guest sends */
#define TSO_RX_PORT 40011 /* destination port of tests/host/gso_send's frames */
#define TSO_FEAT    (F_CSUM | F_GCSUM | F_HTSO4 | F_GTSO4)

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The virtio net header and the 54 header bytes of a TCP/IPv4 GSO frame
 * carrying @size payload bytes from sequence number @seq, to @dst. The TCP
 * checksum field holds the pseudo-header sum (not inverted): the host
 * finishes it per segment, as for Linux's CHECKSUM_PARTIAL. */
static void tso_headers(uint8_t *h, const uint8_t *dst, uint32_t seq, unsigned size, unsigned mss)
{
	static uint16_t id;
	uint8_t *e = h + HDRLEN, *v4 = e + 14, *t = v4 + 20, ph[12];

	memset(h, 0, HDRLEN + TSO_HDR);
	h[0] = 1; /* NEEDS_CSUM */
	h[1] = 1; /* GSO_TCPV4 */
	le16(h + 2, TSO_HDR);
	le16(h + 4, (uint16_t)mss);
	le16(h + 6, 14 + 20); /* csum_start: the TCP header */
	le16(h + 8, 16);      /* csum_offset: its checksum field */
	memcpy(e, dst, 6);
	memcpy(e + 6, mac, 6);
	put16(e + 12, 0x0800);
	v4[0] = 0x45;
	put16(v4 + 2, (uint16_t)(40 + size));
	put16(v4 + 4, ++id);
	put16(v4 + 6, 0x4000);
	v4[8] = 64;
	v4[9] = 6;
	put32(v4 + 12, my_ip);
	put32(v4 + 16, peer_ip);
	put16(v4 + 10, csum(v4, 20, 0));
	put16(t, 40010);
	put16(t + 2, TSO_TX_PORT);
	put32(t + 4, seq);
	t[12] = 0x50; /* 20-byte header */
	t[13] = 0x18; /* PSH, ACK */
	put16(t + 14, 65535);
	put32(ph, my_ip);
	put32(ph + 4, peer_ip);
	ph[8] = 0;
	ph[9] = 6;
	put16(ph + 10, (uint16_t)(20 + size));
	put16(t + 16, (uint16_t)~csum(ph, sizeof(ph), 0));
}

/* Sets the device up with CSUM, HOST_TSO4, GUEST_CSUM and GUEST_TSO4 and
 * receive buffers of probe.rxbuf bytes (default 64 KiB: one per frame). */
static int tso_setup(void)
{
	unsigned sz = (unsigned)probe_arg_u64("probe.rxbuf", BIGBUF);
	int ok;

	if (sz < BUFSZ || sz > BIGBUF)
		sz = BIGBUF;
	rxb_base = &rx_big[0][0];
	rxb_stride = BIGBUF;
	rxbsz = sz;
	want_extra = TSO_FEAT;
	ok = net_setup();
	ok = ok && (features & TSO_FEAT) == TSO_FEAT;
	puts_("PROBE: test=net-tso-init rxbuf=");
	putu(rxbsz);
	puts_(" features=");
	putx(features);
	report("net-tso-init", ok);
	return ok;
}

static unsigned tso_size(void)
{
	unsigned size = (unsigned)probe_arg_u64("probe.tsosize", 64000);

	return size < 1448 || size > 65535 - 40 ? 64000 : size;
}

/* Guest -> host: probe.tsoframes GSO frames of probe.tsosize TCP payload
 * bytes (segment size probe.mss, default 1448), at most 32 in flight (two
 * descriptors each: headers, then the payload, from one of 32 buffers so
 * the host does not copy from the same cache-hot 64 KiB), to a unicast
 * MAC that is not the TAP's, so the host drops them as PACKET_OTHERHOST
 * without replying; the host checks its TAP's counters. The time runs from
 * the first frame queued to the last one used. */
int probe_net_tso_tx(void)
{
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	unsigned n = (unsigned)probe_arg_u64("probe.tsoframes", 2000), size = tso_size();
	unsigned mss = (unsigned)probe_arg_u64("probe.mss", 1448), sent = 0, done = 0;
	uint64_t t0, dt;
	uint32_t len;
	unsigned kicks0;

	if (!tso_setup())
		return 1;
	for (unsigned b = 0; b < NQ / 2; b++)
		for (unsigned i = 0; i < size; i++)
			tx_big[b][i] = (uint8_t)(i * 7 + 1);
	for (t0 = rdtsc(); tx_inflight && rdtsc() - t0 < SECONDS(3);)
		reclaim_tx();
	t0 = rdtsc();
	kicks0 = txq.kicks;
	while (done < n && rdtsc() - t0 < SECONDS(60)) {
		while (sent < n && sent - done < NQ / 2) {
			unsigned d = 2 * (sent % (NQ / 2));
			uint8_t *h = tx_buf[d];

			tso_headers(h, other, TSO_ISN + sent * size, size, mss);
			desc(&txq, d, (uint64_t)h, HDRLEN + TSO_HDR, 1, (uint16_t)(d + 1));
			desc(&txq, d + 1, (uint64_t)tx_big[d / 2], size, 0, 0);
			publish(&txq, (uint16_t)d);
			sent++;
			notify(&txq); /* kicks only if the device asked */
		}
		while (used(&txq, &len) >= 0)
			done++;
	}
	dt = rdtsc() - t0;
	tx_inflight = 0;
	puts_("PROBE: test=net-tso-tx frames=");
	putu(done);
	puts_(" size=");
	putu(size);
	puts_(" mss=");
	putu(mss);
	puts_(" frame-bytes=");
	putu((uint64_t)done * (size + TSO_HDR));
	puts_(" tsc=");
	putu(dt);
	puts_(" kicks=");
	putu(txq.kicks - kicks0);
	report("net-tso-tx", done == n);
	return done != n;
}

/* Host -> guest, one round: asks the responder for @n GSO frames of @size
 * payload bytes (tests/host/gso_send writes them into the TAP), leaves them to
 * queue (the ring fills, the rest waits in the TAP) for about half a
 * second, then takes them all: each must be TCPv4 GSO with the right
 * segment size, length, sequence number and payload markers (first 4
 * bytes: the frame's index; last 4: its complement). The time and bytes
 * in *st leave out the frames already in the ring when it started. */
struct tso_rx_stats {
	unsigned got, bad, disorder, pre, maxbufs, kicks;
	uint64_t bytes, pre_bytes, tsc;
};

static void tso_rx_round(uint16_t port, unsigned n, unsigned size, unsigned mss,
			 struct tso_rx_stats *st)
{
	unsigned got = 0, ready, kicks0;
	uint64_t t0, t1 = 0;
	uint16_t seen0;
	uint8_t req[20];
	struct rx r;

	put32(req, 0x47534f21); /* "GSO!" */
	put32(req + 4, n);
	put32(req + 8, size);
	put16(req + 12, (uint16_t)mss);
	memcpy(req + 14, mac, 6); /* where gso_send addresses them */
	send_udp(40004, port, req, sizeof(req), true);
	for (t0 = rdtsc(); rdtsc() - t0 < SECONDS(1) / 2;)
		pause();
	t0 = rdtsc();
	kicks0 = rxq.kicks;
	seen0 = rxq.used_seen;
	ready = (uint16_t)(*(volatile uint16_t *)(rxq.ring + 4096 + 2) - seen0);
	while (got < n && rdtsc() - t0 < SECONDS(20)) {
		if (!poll_rx(&r) || r.proto != 6 || r.dport != TSO_RX_PORT)
			continue;
		unsigned gso = r.hdr[1] & 0x7f, gsz = (unsigned)(r.hdr[4] | r.hdr[5] << 8);
		int ok = gso == 1 && gsz == mss && r.len == TSO_HDR + size &&
			 r.tcp_payload == size && r.l4len >= 4 && be32(r.l4) == got &&
			 r.endlen >= 4 && be32(r.end - 4) == ~got;
		if (r.seq != TSO_ISN + got * size)
			st->disorder++;
		else if (!ok && !st->bad) {
			puts_("PROBE: net-tso-rx bad frame=");
			putu(got);
			puts_(" gso=");
			putu(gso);
			puts_(" gso_size=");
			putu(gsz);
			puts_(" len=");
			putu(r.len);
			puts_(" nbufs=");
			putu(r.nbufs);
			putc_('\n');
		}
		st->bad += !ok;
		got++;
		st->bytes += r.tcp_payload;
		if ((uint16_t)(rxq.used_seen - seen0) <= ready) {
			st->pre++;
			st->pre_bytes += r.tcp_payload;
		}
		if (r.nbufs > st->maxbufs)
			st->maxbufs = r.nbufs;
		t1 = rdtsc();
	}
	st->got += got;
	st->kicks += rxq.kicks - kicks0;
	st->tsc += t1 > t0 ? t1 - t0 : 0;
}

/* Host -> guest: probe.tsorounds rounds (default 1) of probe.tsoburst
 * frames (default 600: a round must fit the TAP's queue, txqueuelen 1000
 * by default, plus what the ring holds). */
int probe_net_tso_rx(void)
{
	uint16_t port = (uint16_t)probe_arg_u64("probe.port", 7777);
	unsigned n = (unsigned)probe_arg_u64("probe.tsoburst", 600), size = tso_size();
	unsigned mss = (unsigned)probe_arg_u64("probe.mss", 1448);
	unsigned rounds = (unsigned)probe_arg_u64("probe.tsorounds", 1);
	struct tso_rx_stats st = { 0 };

	if (!tso_setup() || !resolve_peer())
		return 1;
	for (unsigned i = 0; i < rounds; i++)
		tso_rx_round(port, n, size, mss, &st);
	puts_("PROBE: test=net-tso-rx frames=");
	putu(st.got);
	puts_(" size=");
	putu(size);
	puts_(" bad=");
	putu(st.bad);
	puts_(" out-of-order=");
	putu(st.disorder);
	puts_(" max-buffers=");
	putu(st.maxbufs);
	puts_(" bytes=");
	putu(st.bytes);
	puts_(" ready-frames=");
	putu(st.pre);
	puts_(" ready-bytes=");
	putu(st.pre_bytes);
	puts_(" tsc=");
	putu(st.tsc);
	puts_(" kicks=");
	putu(st.kicks);
	report("net-tso-rx", st.got == n * rounds && !st.bad && !st.disorder);
	return st.got != n * rounds || st.bad || st.disorder;
}

/* ---- hostile driver ---- */

/* Publishes TX chain @head; waits for it to come back. Returns its used
 * length, or -1 (then *st is the device status). */
static long tx_chain(uint16_t head, uint8_t *st)
{
	uint32_t len;
	int id;

	publish(&txq, head);
	kick(&txq);
	for (uint64_t t0 = rdtsc(); rdtsc() - t0 < SECONDS(3);) {
		if ((id = used(&txq, &len)) >= 0)
			return id == head ? (long)len : -2;
		if (r8(dev.common + 0x14) & 0x40)
			break;
		pause();
	}
	*st = r8(dev.common + 0x14);
	return -1;
}

static int hostile_case(const char *name, int ok)
{
	puts_("PROBE: test=net-hostile case=");
	puts_(name);
	puts_(ok ? " result=pass\n" : " result=fail\n");
	return !ok;
}

int probe_net_hostile(void)
{
	int fails = 0;
	uint8_t st = 0;
	uint32_t len;

	if (!net_setup() || !resolve_peer())
		return 1;
	for (uint64_t t0 = rdtsc(); tx_inflight && rdtsc() - t0 < SECONDS(3);)
		reclaim_tx();
	tx_inflight = NQ; /* the hostile chains use slots directly: keep send() out */
	memset(big, 0, sizeof(big));
	/* transmit: each bad chain comes back unused (length 0), no reset */
	desc(&txq, 0, (uint64_t)big, 4, 0, 0);
	fails += hostile_case("tx-short-header", tx_chain(0, &st) == 0);
	desc(&txq, 1, (uint64_t)big, HDRLEN + 60, 1, 2);
	desc(&txq, 2, (uint64_t)big + 4096, 64, 2, 0);
	fails += hostile_case("tx-writable-buffer", tx_chain(1, &st) == 0);
	desc(&txq, 3, (uint64_t)big, HDRLEN + 65551, 0, 0);
	fails += hostile_case("tx-oversized", tx_chain(3, &st) == 0);
	big[0] = 1; /* NEEDS_CSUM and TCPv4 segmentation, neither negotiated */
	big[1] = 1;
	big[4] = 0x05; /* gso_size 1461 */
	big[5] = 0xb5;
	desc(&txq, 4, (uint64_t)big, HDRLEN + 1000, 0, 0);
	fails += hostile_case("tx-unnegotiated-gso", tx_chain(4, &st) == 0);
	big[0] = big[1] = big[4] = big[5] = 0;
	/* receive: a readable buffer is handed back unused at the next kick */
	{
		int id = -1;
		uint32_t l = 99;

		desc(&rxq, NQ - 1, (uint64_t)rx_buf[NQ - 1], BUFSZ, 0, 0);
		publish(&rxq, NQ - 1);
		kick(&rxq);
		for (uint64_t t0 = rdtsc(); rdtsc() - t0 < SECONDS(3) && id != NQ - 1;) {
			id = used(&rxq, &l);
			if (id >= 0 && id < NQ - 1) /* a real frame in a good buffer */
				publish(&rxq, (uint16_t)id);
		}
		fails += hostile_case("rx-readable-buffer", id == NQ - 1 && l == 0);
	}
	/* the device still works */
	tx_inflight = 0;
	while (used(&txq, &len) >= 0)
		;
	fails += hostile_case("still-working", ping(1, 100));
	/* a broken ring: the next index out of range */
	for (uint64_t t0 = rdtsc(); tx_inflight && rdtsc() - t0 < SECONDS(3);)
		reclaim_tx();
	tx_inflight = NQ;
	desc(&txq, 5, (uint64_t)big, HDRLEN + 60, 1, NQ + 3);
	fails += hostile_case("tx-broken-ring", tx_chain(5, &st) == -1 && (st & 0x40));
	/* and after a reset, it works again */
	fails += hostile_case("recovered", (net_init() & 0x4f) == 0x0f && ping(2, 100));
	return fails;
}
