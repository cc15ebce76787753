// SPDX-License-Identifier: MIT
/* Byte ranges of an iovec array (a request's guest buffers). */
#ifndef HEARTH_IOV_H
#define HEARTH_IOV_H

#include <stdint.h>
#include <sys/uio.h>

/*
 * The @len bytes of @src (@n entries) that start @skip bytes in, as at most
 * @room entries in @dst. Returns how many, or -1 when @dst has too few or
 * @src holds fewer than @skip + @len bytes.
 */
int iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len, struct iovec *dst,
	      unsigned room);

#endif
