// SPDX-License-Identifier: MIT
/*
 * Host TAP devices for virtio-net: attach (or create, with CAP_NET_ADMIN)
 * with a 12-byte virtio net header so offloaded frames cross unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hearth/tap.h"

static void bring_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (!ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

int tap_open(const char *name, bool *created, char *why, size_t whylen)
{
	struct ifreq ifr = { 0 };
	unsigned features = 0;
	int hdr = TAP_VNET_HDR_LEN, fd, ret, attach;
	bool existed;

	*created = false;
	if (!name[0] || strlen(name) >= IFNAMSIZ) {
		snprintf(why, whylen, "TAP name '%s' is empty or longer than %d bytes", name,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	existed = if_nametoindex(name) != 0;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, whylen, "cannot open /dev/net/tun: %s", strerror(errno));
		return ret;
	}
	if (ioctl(fd, TUNGETFEATURES, &features) || !(features & IFF_VNET_HDR)) {
		snprintf(why, whylen, "the kernel's TUN driver has no IFF_VNET_HDR");
		close(fd);
		return -ENOTSUP;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	/* EBUSY: attached to another file. A hearth that just exited (a
	 * restart under systemd, a test's next run) may hold it a little
	 * longer: io_uring drops its references to the TAP's file in a kernel
	 * worker after the process is gone. So wait up to 2 s for it. */
	for (unsigned tries = 0;; tries++) {
		attach = ioctl(fd, TUNSETIFF, &ifr);
		if (!attach || errno != EBUSY || tries == 40)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
	if (attach) {
		ret = -errno;
		if (errno == EPERM && existed)
			snprintf(why, whylen,
				 "cannot attach to TAP '%s': not permitted (owned by another "
				 "user? see docs/net.md)",
				 name);
		else if (errno == EPERM)
			snprintf(why, whylen,
				 "TAP '%s' does not exist and creating it needs CAP_NET_ADMIN "
				 "(see docs/net.md)",
				 name);
		else if (errno == EBUSY)
			snprintf(why, whylen, "TAP '%s' is in use by another process", name);
		else
			snprintf(why, whylen, "cannot attach to '%s' as a TAP: %s", name,
				 strerror(errno));
		close(fd);
		return ret;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) || ioctl(fd, TUNSETOFFLOAD, 0)) {
		ret = -errno;
		snprintf(why, whylen, "TAP '%s': cannot set up the virtio net header: %s", name,
			 strerror(errno));
		close(fd);
		return ret;
	}
	if (!existed) {
		*created = true;
		bring_up(name);
	}
	return fd;
}

unsigned tap_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (s < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ret = ioctl(s, SIOCGIFMTU, &ifr);
	close(s);
	return ret || ifr.ifr_mtu < 0 ? 0 : (unsigned)ifr.ifr_mtu;
}

int tap_set_offload(int fd, unsigned offloads)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) ? -errno : 0;
}
