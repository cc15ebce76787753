// SPDX-License-Identifier: MIT
/* Byte ranges of an iovec array: include/hearth/iov.h. */
#include "hearth/iov.h"

int iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len, struct iovec *dst,
	      unsigned room)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = src[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (k == room)
			return -1;
		l -= skip;
		if (l > len)
			l = len;
		dst[k++] = (struct iovec){ (uint8_t *)src[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return len ? -1 : (int)k;
}
