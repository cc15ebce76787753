// SPDX-License-Identifier: MIT
/*
 * What a LUN's answers at login mean: the INQUIRY, READ CAPACITY(16), MODE
 * SENSE(6) and VPD pages the target returns, as libiscsi unmarshalled them
 * (or as raw bytes), turned into what the block backend needs. No I/O, so
 * fuzz_iscsi and the unit tests feed them any response a target may send:
 * short, oversized or hostile.
 */
#include <errno.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <string.h>

#include "hearth/iscsi.h"

/* Bytes every unmarshalled page below may be read at (the standard INQUIRY
 * data's byte 56 is the furthest libiscsi reads). */
#define PAD 64

/*
 * libiscsi's scsi_datain_unmarshall() reads each page's fields at fixed
 * offsets without looking at how many bytes the target sent: a short
 * answer is read past its end. So: no answer shorter than @min bytes (the
 * fields hearth uses), and libiscsi reads from a zero-padded copy, so an
 * answer that stops before an optional field reads as zeroes there.
 */
static void *unmarshall(struct scsi_task *t, int min)
{
	uint8_t pad[PAD] = { 0 };
	unsigned char *data;
	int size;
	void *out;

	if (!t || t->status != SCSI_STATUS_GOOD || !t->datain.data || t->datain.size < min)
		return NULL;
	memcpy(pad, t->datain.data, t->datain.size < PAD ? (size_t)t->datain.size : PAD);
	data = t->datain.data;
	size = t->datain.size;
	/* what libiscsi returns is its own allocation; a parser of its that
	 * walks the answer by its size stays inside the copy */
	t->datain.data = pad;
	t->datain.size = size < PAD ? size : PAD;
	out = scsi_datain_unmarshall(t);
	t->datain.data = data;
	t->datain.size = size;
	return out;
}

int iscsi_lun_inquiry(struct scsi_task *t, int *device_type)
{
	struct scsi_inquiry_standard *inq = unmarshall(t, 1);

	*device_type = inq ? (int)inq->device_type : -1;
	if (!inq || inq->qualifier != SCSI_INQUIRY_PERIPHERAL_QUALIFIER_CONNECTED ||
	    inq->device_type != SCSI_INQUIRY_PERIPHERAL_DEVICE_TYPE_DIRECT_ACCESS)
		return -ENODEV;
	return 0;
}

int iscsi_lun_capacity(struct scsi_task *t, struct iscsi_lun *lun)
{
	struct scsi_readcapacity16 *rc = unmarshall(t, 12); /* last LBA, block length */
	uint64_t last, bytes;
	uint32_t bs;

	if (!rc)
		return -EIO;
	last = rc->returned_lba;
	bs = rc->block_length;
	lun->block_size = bs;
	lun->unmap_zeroes = rc->lbprz;
	if (bs < 512 || bs > 65536 || (bs & (bs - 1)) || last == UINT64_MAX ||
	    __builtin_mul_overflow(last + 1, (uint64_t)bs, &bytes) || bytes > (UINT64_MAX >> 1))
		return -ENODEV;
	lun->blocks = last + 1;
	lun->bytes = bytes;
	return 0;
}

bool iscsi_lun_write_protected(struct scsi_task *t)
{
	/* the mode parameter header's device-specific parameter, bit 7 */
	return t && t->status == SCSI_STATUS_GOOD && t->datain.data && t->datain.size >= 4 &&
	       t->datain.data[2] & 0x80;
}

bool iscsi_lun_can_unmap(struct scsi_task *t)
{
	struct scsi_inquiry_logical_block_provisioning *lbp = unmarshall(t, 6); /* LBPU */

	return lbp && lbp->lbpu;
}

/* Blocks of @bs bytes as 512-byte sectors; 0 (no limit) when there are
 * none or they do not fit in 32 bits. */
static uint32_t to_sectors(uint64_t blocks, uint32_t bs)
{
	uint64_t s;

	if (blocks == 0 || __builtin_mul_overflow(blocks, (uint64_t)(bs / 512), &s) ||
	    s >= UINT32_MAX)
		return 0;
	return (uint32_t)s;
}

void iscsi_lun_block_limits(struct scsi_task *t, struct iscsi_lun *lun)
{
	struct scsi_inquiry_block_limits *bl = unmarshall(t, 4); /* the page header */

	lun->max_discard_sectors = bl ? to_sectors(bl->max_unmap, lun->block_size) : 0;
	lun->max_write_zeroes_sectors = bl ? to_sectors(bl->max_ws_len, lun->block_size) : 0;
	lun->max_xfer_blocks = bl ? bl->max_xfer_len : 0;
}
