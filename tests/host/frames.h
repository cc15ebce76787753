// SPDX-License-Identifier: MIT
/*
 * Ethernet and IPv4 headers built by hand, for the host programs that
 * write frames straight into a TAP: gso_send's GSO frames, tap_dev's, and
 * bench/net_responder's bursts.
 */
#ifndef HEARTH_HOST_FRAMES_H
#define HEARTH_HOST_FRAMES_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hearth/bytes.h"

/* The Internet checksum's ones' complement sum of @len bytes (an odd last
 * byte padded with zero), not folded. */
static inline uint32_t sum16(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static inline uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Writes at @f an Ethernet header from @smac to @dmac and an IPv4 header
 * (no options, don't fragment, TTL 64, identification @id, its checksum)
 * for @l4len bytes of protocol @proto. Returns where the L4 header goes. */
static inline uint8_t *eth_ip4(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6],
			       uint8_t proto, uint16_t l4len, struct in_addr src,
			       struct in_addr dst, uint16_t id)
{
	uint8_t *ip = f + 14;

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	st_be16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	st_be16(ip + 2, (uint16_t)(20 + l4len));
	st_be16(ip + 4, id);
	st_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	st_be16(ip + 10, (uint16_t)~fold(sum16(ip, 20)));
	return ip + 20;
}

#endif
