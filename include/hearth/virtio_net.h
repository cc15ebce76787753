/* SPDX-License-Identifier: MIT */
/*
 * virtio-net over a host TAP device: one receive and one transmit queue
 * served from the I/O thread, frames moved by readv/writev straight between
 * the TAP and the guest's buffers. The TAP carries a 12-byte virtio net
 * header (IFF_VNET_HDR, TUNSETVNETHDRSZ), so checksum and segmentation
 * offloads pass through untranslated once checked against what the driver
 * negotiated. The guest is hostile: every header and chain is checked
 * first; bad ones are dropped and counted.
 */
#ifndef HEARTH_VIRTIO_NET_H
#define HEARTH_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hearth/virtio.h"

/* Feature bits (virtio 1.2, 5.1.3) */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN	9
#define VIRTIO_NET_F_GUEST_UFO	10
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13
#define VIRTIO_NET_F_HOST_UFO	14
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr_v1 */
#define VIRTIO_NET_HDR_LEN	    12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP	    3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN	    0x80

#define VIRTIO_NET_MIN_FRAME 14	   /* an Ethernet header */
#define VIRTIO_NET_MAX_FRAME 65550 /* 64 KiB of IP plus Ethernet and VLAN headers */

/* Why a transmitted frame is refused (virtio_net_tx_check), 0 if it is not. */
enum net_tx_verdict {
	NET_TX_OK = 0,
	NET_TX_BAD_FLAGS,  /* unknown flag, or NEEDS_CSUM without CSUM */
	NET_TX_BAD_CSUM,   /* checksum position outside the frame */
	NET_TX_BAD_GSO,	   /* a segmentation type not negotiated, or no gso_size */
	NET_TX_BAD_LENGTH, /* shorter than an Ethernet header, or over 65550 bytes */
};

/*
 * Checks the driver's header @hdr (12 bytes, as copied from the chain) for a
 * frame of @frame_len bytes against the negotiated @features, and clears
 * num_buffers (meaningless on transmit). Pure.
 */
enum net_tx_verdict virtio_net_tx_check(uint8_t hdr[VIRTIO_NET_HDR_LEN], uint64_t features,
					uint64_t frame_len);

/*
 * Fixes up the TAP's header of a received frame for the driver: flags the
 * driver did not negotiate are cleared, num_buffers set to @nbufs. Returns
 * false if the frame carries a segmentation type the driver cannot take
 * (then it is dropped). Pure.
 */
bool virtio_net_rx_fix(uint8_t hdr[VIRTIO_NET_HDR_LEN], uint64_t features, uint16_t nbufs);

/* TUN_F_* offloads for TUNSETOFFLOAD: what the driver can receive. */
unsigned virtio_net_tap_offloads(uint64_t features);

/* The MAC used without mac=: 02 (locally administered, unicast) then the
 * first five bytes of FNV-1a-64 over "@host/@tap". */
void virtio_net_default_mac(const char *host, const char *tap, uint8_t mac[6]);
/* The MAC a NIC on @tap gets: @given (mac=), else the default for this
 * host's name. */
void virtio_net_mac_of(const char *tap, const uint8_t *given, uint8_t mac[6]);

struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_dropped;  /* arrived while the device was stopped, or bad header */
	uint64_t rx_bad_bufs; /* receive chains with readable buffers or under 12 bytes */
	uint64_t tx_bad;      /* transmit chains refused (see enum net_tx_verdict) */
	uint64_t tx_errors;   /* the TAP refused the write */
};

struct loop;
struct virtio_net;
struct virtio_net_cfg {
	int tap_fd; /* nonblocking, vnet header of 12 bytes; taken over */
	uint8_t mac[6];
	unsigned mtu; /* the TAP's; 0: 1500 */
	/* watches the TAP and polls the queues (loop_add_poller); NULL: the
	 * caller calls virtio_net_rx */
	struct loop *loop;
	const char *name; /* for messages, e.g. the TAP's name */
	bool no_batches;  /* read and write each frame with a system call of its own */
};

extern const struct virtio_dev_ops virtio_net_ops;
struct virtio_net *virtio_net_create(const struct virtio_net_cfg *cfg, const struct guest_mem *gm,
				     const struct virtio_transport *t);
void virtio_net_destroy(struct virtio_net *n);
/* Moves frames from the TAP into the guest (I/O thread; TAP readable). */
void virtio_net_rx(void *net, uint32_t events);
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *s);

#endif
