/* SPDX-License-Identifier: MIT */
/*
 * The TAP backend of virtio-net (src/net/tap.c): a host TAP device that
 * carries each frame behind a 12-byte virtio net header, so offloaded
 * frames cross unchanged (docs/net.md).
 */
#ifndef HEARTH_TAP_H
#define HEARTH_TAP_H

#include <stdbool.h>
#include <stddef.h>

/* The vnet header the TAP is set up with (IFF_VNET_HDR, TUNSETVNETHDRSZ):
 * struct virtio_net_hdr with num_buffers, as virtio 1.x drivers use it. */
#define TAP_VNET_HDR_LEN 12

/*
 * Attaches to TAP @name (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, 12-byte vnet
 * header, nonblocking). If it does not exist it is created (this needs
 * CAP_NET_ADMIN), brought up, and goes away when the fd is closed;
 * @created says so. Returns the fd, or -errno with a one-line reason in @why.
 */
int tap_open(const char *name, bool *created, char *why, size_t whylen);
/* The MTU of interface @name, 0 if unknown. */
unsigned tap_mtu(const char *name);
/* TUNSETOFFLOAD with TUN_F_* @offloads (what the guest can receive); 0 or
 * -errno. */
int tap_set_offload(int fd, unsigned offloads);

#endif
