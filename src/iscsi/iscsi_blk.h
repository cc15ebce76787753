/* SPDX-License-Identifier: MIT */
/* The iSCSI engine behind blkio.h (src/block/blkio.c dispatches to it). */
#ifndef HEARTH_ISCSI_BLK_H
#define HEARTH_ISCSI_BLK_H

#include "hearth/blkio.h"
#include "hearth/loop.h"

struct iscsi_blk;

/* What the backend learnt at open time. */
struct blkio_info {
	uint64_t size;
	uint32_t block_size;
	bool readonly; /* the LUN is write-protected */
	/* the LUN's UNMAP and WRITE SAME limits in 512-byte sectors, 0: none */
	uint32_t max_discard_sectors, max_write_zeroes_sectors;
};

/* Logs in (synchronously) and checks the LUN. -EINVAL: bad URL or
 * credentials (usage); other -errno: the target or network refused. */
int iscsi_blk_open(struct iscsi_blk **out, const struct blkio_opts *o, struct blkio_info *info,
		   char *err, size_t errlen);
void iscsi_blk_close(struct iscsi_blk *ib);
int iscsi_blk_attach(struct iscsi_blk *ib, struct loop *l, loop_cb cb, void *opaque);
int iscsi_blk_event_fd(const struct iscsi_blk *ib);
int iscsi_blk_queue(struct iscsi_blk *ib, enum blkio_op op, const struct iovec *iov, unsigned n,
		    uint64_t off, uint64_t len, void *tag);
bool iscsi_blk_ready(struct iscsi_blk *ib);
void iscsi_blk_submit(struct iscsi_blk *ib);
void iscsi_blk_reap(struct iscsi_blk *ib, void (*done)(void *ctx, void *tag, int64_t res),
		    void *ctx);

#endif
