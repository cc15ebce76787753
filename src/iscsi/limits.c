// SPDX-License-Identifier: MIT
/*
 * How big a request the iSCSI engine takes and how it is cut into SCSI
 * commands: pure arithmetic, unit-tested with hostile lengths
 * (tests/unit/test_iscsi.c). docs/iscsi.md has the decisions.
 */
#include "hearth/iscsi.h"

#include "hearth/blkio.h"
#include "hearth/iov.h"

uint32_t iscsi_cmd_max_bytes(uint32_t max_xfer_blocks, uint32_t bs)
{
	uint64_t m = ISCSI_CMD_MAX_BYTES;

	if (bs < 512 || bs > ISCSI_CMD_MAX_BYTES || (bs & (bs - 1)))
		return 0;
	if (max_xfer_blocks && (uint64_t)max_xfer_blocks * bs < m)
		m = (uint64_t)max_xfer_blocks * bs;
	return (uint32_t)(m & ~(uint64_t)(bs - 1));
}

bool iscsi_req_ok(bool rw, uint64_t off, uint64_t len, uint32_t bs, uint64_t blocks)
{
	uint64_t end;

	if (bs < 512 || (bs & (bs - 1)) || off % bs || len % bs)
		return false;
	if (__builtin_add_overflow(off, len, &end) || end / bs > blocks)
		return false;
	if (rw)
		return len <= BLKIO_MAX_BYTES;
	/* UNMAP and WRITE SAME: a 32-bit block count, never zero */
	return len > 0 && len / bs <= UINT32_MAX;
}

int iscsi_chunk(const struct iovec *iov, unsigned n, uint64_t len, uint64_t done, uint32_t max,
		struct iovec *dst, unsigned room, uint32_t *chunk)
{
	uint64_t want;

	if (done >= len || max == 0)
		return -1;
	want = len - done < max ? len - done : max;
	*chunk = (uint32_t)want;
	return iov_slice(iov, n, done, want, dst, room);
}
