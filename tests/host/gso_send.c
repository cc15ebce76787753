// SPDX-License-Identifier: MIT
/*
 * gso_send: writes a burst of large TCP/IPv4 GSO frames into a TAP from the
 * host side, for bench/net.sh's host -> guest TSO row and the integration
 * test (through tests/integration/net_responder.py).
 *
 *   gso_send IFNAME DST_MAC SRC_IP DST_IP COUNT PAYLOAD [MSS]
 *
 * An AF_PACKET socket bound to IFNAME with PACKET_VNET_HDR: each write is a
 * virtio_net_hdr (NEEDS_CSUM, GSO_TCPV4, segment size MSS, default 1448)
 * and one Ethernet frame of 54 header bytes and PAYLOAD TCP payload bytes.
 * When the VMM has set TUNSETOFFLOAD with TSO4 (its guest negotiated
 * GUEST_TSO4), the kernel queues each write on the TAP as one GSO frame;
 * otherwise it segments it first. Frame i has sequence number
 * 0x10000000 + i * PAYLOAD, source port 5001, destination port 40011, and
 * payload bytes j = j * 7 + 1, except the first 4 (i, big-endian) and the
 * last 4 (~i): what the probe guest's net-tso-rx test checks. Prints
 * "gso_send: sent N frames, B bytes in S s"; exit 0 if all were sent.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frames.h"

#define HDR 54

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct virtio_net_hdr vh = { 0 };
	struct sockaddr_ll sll = { 0 };
	struct in_addr src, dst;
	unsigned mac[6], count, size, mss = 1448, sent = 0;
	uint8_t dmac[6], *buf, *e, *t, ph[12];
	struct ifreq ifr = { 0 };
	double t0;
	int fd, on = 1;

	if (argc < 7 || argc > 8 ||
	    sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
		   &mac[5]) != 6 ||
	    !inet_aton(argv[3], &src) || !inet_aton(argv[4], &dst)) {
		fprintf(stderr,
			"usage: gso_send IFNAME DST_MAC SRC_IP DST_IP COUNT PAYLOAD [MSS]\n");
		return 2;
	}
	count = (unsigned)strtoul(argv[5], NULL, 10);
	size = (unsigned)strtoul(argv[6], NULL, 10);
	if (argc == 8)
		mss = (unsigned)strtoul(argv[7], NULL, 10);
	if (size < 8 || size > 65535 - 40 || mss < 64 || mss > 9000) {
		fprintf(stderr, "gso_send: PAYLOAD 8..65495, MSS 64..9000\n");
		return 2;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only */
	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on))) {
		perror("gso_send: AF_PACKET socket with PACKET_VNET_HDR");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		perror(argv[1]);
		return 1;
	}
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("gso_send: bind");
		return 1;
	}
	buf = malloc(sizeof(vh) + HDR + size);
	if (!buf)
		return 1;
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.hdr_len = HDR;
	vh.gso_size = (uint16_t)mss;
	vh.csum_start = 14 + 20;
	vh.csum_offset = 16;
	memcpy(buf, &vh, sizeof(vh));
	e = buf + sizeof(vh);
	for (int i = 0; i < 6; i++)
		dmac[i] = (uint8_t)mac[i];
	t = eth_ip4(e, dmac, (const uint8_t *)ifr.ifr_hwaddr.sa_data, 6, (uint16_t)(20 + size), src,
		    dst, 0);
	memset(t, 0, 20);
	st_be16(t, 5001);
	st_be16(t + 2, 40011);
	t[12] = 0x50;
	t[13] = 0x18;
	st_be16(t + 14, 65535);
	/* the pseudo-header sum, not inverted: the receiver of a partial
	 * checksum finishes it over the TCP header and payload */
	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = 6;
	st_be16(ph + 10, (uint16_t)(20 + size));
	st_be16(t + 16, fold(sum16(ph, sizeof(ph))));
	for (unsigned j = 0; j < size; j++)
		t[20 + j] = (uint8_t)(j * 7 + 1);
	t0 = now();
	for (unsigned i = 0; i < count; i++) {
		eth_ip4(e, dmac, (const uint8_t *)ifr.ifr_hwaddr.sa_data, 6, (uint16_t)(20 + size),
			src, dst, (uint16_t)i);
		st_be32(t + 4, 0x10000000u + i * size);
		st_be32(t + 20, i);
		st_be32(t + 20 + size - 4, ~i);
		if (write(fd, buf, sizeof(vh) + HDR + size) != (ssize_t)(sizeof(vh) + HDR + size)) {
			perror("gso_send: write");
			break;
		}
		sent++;
	}
	printf("gso_send: sent %u frames, %llu bytes in %.3f s\n", sent,
	       (unsigned long long)sent * (HDR + size), now() - t0);
	close(fd);
	free(buf);
	return sent == count ? 0 : 1;
}
