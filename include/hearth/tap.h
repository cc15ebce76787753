/* SPDX-License-Identifier: MIT */
/*
 * Host TAP devices, the backend of virtio-net (src/net/tap.c). A TAP
 * carries a 12-byte virtio net header, so offloaded frames cross unchanged;
 * the device (virtio_net.h) takes the descriptor this opens.
 */
#ifndef HEARTH_TAP_H
#define HEARTH_TAP_H

#include <stdbool.h>
#include <stddef.h>

/* The virtio net header every frame on the TAP carries: virtio-net's
 * (VIRTIO_NET_HDR_LEN, with num_buffers), set with TUNSETVNETHDRSZ. */
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
/* TUNSETOFFLOAD; 0 or -errno. */
int tap_set_offload(int fd, unsigned offloads);

#endif
