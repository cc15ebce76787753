// SPDX-License-Identifier: MIT
/*
 * net_responder: the host end of bench/net.sh, the same protocol as
 * tests/integration/net_responder.py (which the tests keep: it is easier to
 * read) in C, so the responder is not what limits a frame-rate benchmark.
 * A Python loop costs several microseconds per datagram on the same cores
 * the VMM needs; this one receives with recvmmsg and sends bursts with
 * sendmmsg.
 *
 *   net_responder BIND_IP PORT GUEST_IP LOG [IFNAME [GSO_SEND]]
 *
 * With IFNAME (the TAP), bursts bypass the host's UDP and IP layers: the
 * frames are built here and written straight into the device's queue with
 * a packet socket (PACKET_QDISC_BYPASS), so the sender costs about a copy
 * per frame and the burst measures how fast the VMM drains the TAP.
 *
 * Datagrams (first 4 bytes say what):
 *   ECH0...   echoed back unchanged
 *   BURS n s  n datagrams "SEQ!" + seq, padded to s bytes, sent back at once
 *   SNK!...   counted (the transmit rate test)
 *   DONE      answered "CNT!" + the count (the next SNK! starts a new
 *             count); the rate goes to LOG
 *   PING      three ICMP echo requests to GUEST_IP, answered "PONG" + the
 *             number of replies
 *   GSO! n s m MAC  (with GSO_SEND, tests/host/gso_send) n TCP/IPv4 GSO frames of
 *             s payload bytes, segment size m, to MAC, written into IFNAME
 *             by GSO_SEND (its line goes to LOG); answered "GSOD" + the
 *             number sent (the answer queues behind the frames)
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frames.h"

#define BATCH 64
#define MAXDG 65536

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Three echo requests to @guest, each waited for up to 2 s. */
static unsigned ping_guest(struct in_addr guest)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = guest };
	uint16_t ident = (uint16_t)getpid();
	unsigned replies = 0;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

	if (fd < 0)
		return 0;
	for (uint16_t seq = 1; seq <= 3; seq++) {
		uint8_t pkt[8 + 48], buf[2048];
		uint16_t sum;

		memset(pkt, 0, sizeof(pkt));
		pkt[0] = ICMP_ECHO;
		pkt[4] = (uint8_t)(ident >> 8), pkt[5] = (uint8_t)ident;
		pkt[6] = (uint8_t)(seq >> 8), pkt[7] = (uint8_t)seq;
		for (int i = 0; i < 48; i++)
			pkt[8 + i] = (uint8_t)i;
		sum = (uint16_t)~fold(sum16(pkt, sizeof(pkt)));
		pkt[2] = (uint8_t)(sum >> 8), pkt[3] = (uint8_t)sum;
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			continue;
		for (double end = now_s() + 2; now_s() < end;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			ssize_t n;
			size_t ihl;

			if (poll(&p, 1, 200) <= 0)
				continue;
			n = recv(fd, buf, sizeof(buf), 0);
			if (n < 20)
				continue;
			ihl = (size_t)(buf[0] & 15) * 4;
			if ((size_t)n != ihl + sizeof(pkt))
				continue;
			if (buf[ihl] == ICMP_ECHOREPLY && !memcmp(buf + ihl + 4, pkt + 4, 4) &&
			    !memcmp(buf + ihl + 8, pkt + 8, 48)) {
				replies++;
				break;
			}
		}
	}
	close(fd);
	return replies;
}

/* @n datagrams "SEQ!" + seq of @size bytes (at least 8) to @peer. */
static void burst(int s, const struct sockaddr_in *peer, uint32_t n, uint32_t size)
{
	static uint8_t bufs[BATCH][1472];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];

	if (size < 8)
		size = 8;
	if (size > sizeof(bufs[0]))
		size = sizeof(bufs[0]);
	for (uint32_t i = 0; i < n;) {
		unsigned k = n - i < BATCH ? n - i : BATCH;
		int sent;

		for (unsigned j = 0; j < k; j++) {
			memset(bufs[j], 0, size);
			memcpy(bufs[j], "SEQ!", 4);
			st_be32(bufs[j] + 4, i + j);
			iov[j] = (struct iovec){ bufs[j], size };
			m[j] = (struct mmsghdr){ .msg_hdr = { .msg_name = (void *)peer,
							      .msg_namelen = sizeof(*peer),
							      .msg_iov = &iov[j],
							      .msg_iovlen = 1 } };
		}
		sent = sendmmsg(s, m, k, 0);
		if (sent <= 0)
			return;
		i += (unsigned)sent;
	}
}

/* The same burst as frames written to the TAP's queue by packet socket @pk
 * (-1 if none: then burst() above). The guest's MAC comes from the host's
 * neighbour table (it has just sent us the request). Returns 0 if sent. */
static int burst_raw(int pk, const char *ifname, const struct sockaddr_in *me,
		     const struct sockaddr_in *peer, uint32_t n, uint32_t size)
{
	static uint8_t frames[BATCH][14 + 20 + 8 + 1472];
	struct arpreq ar = { 0 };
	struct ifreq ifr = { 0 };
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	size_t flen;

	if (pk < 0)
		return -1;
	memcpy(&ar.arp_pa, peer, sizeof(*peer));
	snprintf(ar.arp_dev, sizeof(ar.arp_dev), "%s", ifname);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(pk, SIOCGARP, &ar) < 0 || !(ar.arp_flags & ATF_COM) ||
	    ioctl(pk, SIOCGIFHWADDR, &ifr) < 0)
		return -1;
	if (size < 8)
		size = 8;
	if (size > 1472)
		size = 1472;
	flen = 14 + 20 + 8 + size;
	for (unsigned j = 0; j < BATCH; j++) {
		uint8_t *f = frames[j], *udp;

		memset(f, 0, flen);
		udp = eth_ip4(f, (const uint8_t *)ar.arp_ha.sa_data,
			      (const uint8_t *)ifr.ifr_hwaddr.sa_data, 17, (uint16_t)(8 + size),
			      me->sin_addr, peer->sin_addr, 0);
		memcpy(udp, &me->sin_port, 2);
		memcpy(udp + 2, &peer->sin_port, 2);
		st_be16(udp + 4, (uint16_t)(8 + size));
		memcpy(udp + 8, "SEQ!", 4); /* UDP checksum 0: none (IPv4) */
		iov[j] = (struct iovec){ f, flen };
		m[j] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[j], .msg_iovlen = 1 } };
	}
	for (uint32_t i = 0; i < n;) {
		unsigned k = n - i < BATCH ? n - i : BATCH;
		int sent;

		for (unsigned j = 0; j < k; j++)
			st_be32(frames[j] + 14 + 20 + 8 + 4, i + j);
		sent = sendmmsg(pk, m, k, 0);
		if (sent <= 0)
			return i ? 0 : -1;
		i += (unsigned)sent;
	}
	return 0;
}

/* Runs @prog (tests/host/gso_send) for a "GSO!" request @d from @guest, its
 * output to @out; returns the frames sent. */
static uint32_t gso_burst(const char *prog, const char *ifname, const char *me, const char *guest,
			  const uint8_t *d, FILE *out)
{
	char n[16], size[16], mss[8], mac[18];
	int status;
	pid_t pid;

	snprintf(n, sizeof(n), "%u", ld_be32(d + 4));
	snprintf(size, sizeof(size), "%u", ld_be32(d + 8));
	snprintf(mss, sizeof(mss), "%u", (unsigned)(d[12] << 8 | d[13]));
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", d[14], d[15], d[16], d[17],
		 d[18], d[19]);
	fflush(out);
	pid = fork();
	if (pid == 0) {
		dup2(fileno(out), 1);
		dup2(fileno(out), 2);
		execl(prog, prog, ifname, mac, me, guest, n, size, mss, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 0;
	return ld_be32(d + 4);
}

int main(int argc, char **argv)
{
	static uint8_t bufs[BATCH][MAXDG];
	struct sockaddr_in me = { .sin_family = AF_INET }, peers[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct in_addr guest;
	unsigned long count = 0;
	double first = 0, last = 0;
	int s, pk = -1, rcvbuf = 8 << 20, reported = 0;
	const char *ifname = argc > 5 ? argv[5] : NULL, *gso_send = argc > 6 ? argv[6] : NULL;
	FILE *out;

	if (argc < 5 || argc > 7 || !inet_pton(AF_INET, argv[1], &me.sin_addr) ||
	    !inet_pton(AF_INET, argv[3], &guest)) {
		fprintf(stderr,
			"usage: net_responder BIND_IP PORT GUEST_IP LOG [IFNAME [GSO_SEND]]\n");
		return 2;
	}
	me.sin_port = htons((uint16_t)atoi(argv[2]));
	s = socket(AF_INET, SOCK_DGRAM, 0);
	out = fopen(argv[4], "a");
	if (s < 0 || !out || bind(s, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("net_responder");
		return 1;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	if (ifname) {
		struct sockaddr_ll ll = { .sll_family = AF_PACKET,
					  .sll_ifindex = (int)if_nametoindex(ifname) };
		int one = 1;

		pk = socket(AF_PACKET, SOCK_RAW, 0); /* send only: protocol 0 receives nothing */
		if (pk < 0 || !ll.sll_ifindex || bind(pk, (struct sockaddr *)&ll, sizeof(ll)) < 0) {
			perror("net_responder: packet socket");
			return 1;
		}
		setsockopt(pk, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	}
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	fprintf(out, "responder: listening on %s:%s\n", argv[1], argv[2]);
	for (;;) {
		int got;

		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], MAXDG };
			m[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &peers[i],
							      .msg_namelen = sizeof(peers[i]),
							      .msg_iov = &iov[i],
							      .msg_iovlen = 1 } };
		}
		got = recvmmsg(s, m, BATCH, MSG_WAITFORONE, NULL);
		if (got < 0)
			continue;
		for (int i = 0; i < got; i++) {
			const uint8_t *d = bufs[i];
			size_t len = m[i].msg_len;
			const struct sockaddr *peer = (const struct sockaddr *)&peers[i];
			uint8_t reply[8];

			if (len < 4)
				continue;
			if (!memcmp(d, "ECH0", 4)) {
				sendto(s, d, len, 0, peer, sizeof(peers[i]));
			} else if (!memcmp(d, "BURS", 4) && len >= 12) {
				double t0 = now_s();
				uint32_t n = ld_be32(d + 4);

				const char *how = "as frames";

				if (burst_raw(pk, ifname, &me, &peers[i], n, ld_be32(d + 8))) {
					burst(s, &peers[i], n, ld_be32(d + 8));
					how = "over UDP";
				}
				fprintf(out, "burst: sent %u datagrams %s in %.3f s\n", n, how,
					now_s() - t0);
			} else if (!memcmp(d, "SNK!", 4)) {
				if (reported)
					count = 0, first = 0, reported = 0;
				last = now_s();
				if (!count)
					first = last;
				count++;
			} else if (!memcmp(d, "DONE", 4)) {
				double secs = count > 1 ? last - first : 0;

				fprintf(out, "sink: frames=%lu seconds=%.3f pps=%.0f\n", count,
					secs, secs > 0 ? (double)(count - 1) / secs : 0);
				memcpy(reply, "CNT!", 4);
				st_be32(reply + 4, (uint32_t)count);
				sendto(s, reply, 8, 0, peer, sizeof(peers[i]));
				reported = 1;
			} else if (!memcmp(d, "PING", 4)) {
				unsigned n = ping_guest(guest);

				fprintf(out, "ping: %u replies from %s\n", n, argv[3]);
				memcpy(reply, "PONG", 4);
				st_be32(reply + 4, n);
				sendto(s, reply, 8, 0, peer, sizeof(peers[i]));
			} else if (!memcmp(d, "GSO!", 4) && len >= 20 && gso_send && ifname) {
				char from[INET_ADDRSTRLEN];

				inet_ntop(AF_INET, &peers[i].sin_addr, from, sizeof(from));
				memcpy(reply, "GSOD", 4);
				st_be32(reply + 4,
					gso_burst(gso_send, ifname, argv[1], from, d, out));
				sendto(s, reply, 8, 0, peer, sizeof(peers[i]));
			}
		}
	}
}
