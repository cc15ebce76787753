// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: what an iSCSI target answers, as hearth reads it at
 * login (src/iscsi/lun.c over libiscsi's unmarshalling) and on a failed
 * command (libiscsi's sense parser, then iscsi_sense_verdict). The target
 * is not trusted: its answers may be short, oversized or contradictory.
 *
 * Input: byte 0 the answer (0 standard INQUIRY, 1 READ CAPACITY(16), 2
 * MODE SENSE(6), 3 Logical Block Provisioning VPD, 4 Block Limits VPD, 5
 * sense data), byte 1 the SCSI status (bit 7: not GOOD), byte 2 the LUN's
 * block size for the Block Limits (512 << (b % 8)); the rest is the
 * data-in, in a buffer exactly as long as the target sent, so a read past
 * it is an ASan report. What hearth concludes is checked against the
 * bytes themselves.
 */
#include <errno.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/iscsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static struct scsi_task *task_for(uint8_t kind)
{
	switch (kind) {
	case 0: return scsi_cdb_inquiry(0, 0, 255);
	case 1: return scsi_cdb_readcapacity16();
	case 2:
		return scsi_cdb_modesense6(1, SCSI_MODESENSE_PC_CURRENT,
					   SCSI_MODEPAGE_RETURN_ALL_PAGES, 0, 255);
	case 3: return scsi_cdb_inquiry(1, SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING, 255);
	default: return scsi_cdb_inquiry(1, SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, 255);
	}
}

static void sense(uint8_t status, const uint8_t *d, size_t n)
{
	/* libiscsi hands its parser the sense buffer the response carried,
	 * which it bounds itself; the verdict must be one of the documented */
	uint8_t sb[264] = { 0 };
	struct scsi_sense s = { 0 };
	int res = 1;
	enum iscsi_verdict v;

	memcpy(sb, d, n < sizeof(sb) ? n : sizeof(sb));
	scsi_parse_sense_data(&s, sb);
	v = iscsi_sense_verdict(status & 0x80 ? -(int)(status & 0x7f) : status & 0x7f, (int)s.key,
				(int)s.ascq, &res);
	if ((v != ISCSI_DONE && v != ISCSI_RETRY) ||
	    (res != 0 && res != -EIO && res != -EOPNOTSUPP && res != -EROFS && res != -ENOSPC))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct iscsi_lun lun = { 0 };
	struct scsi_task *t;
	const uint8_t *d;
	uint8_t kind;
	size_t n;
	int ret, type;

	if (len < 3)
		return 0;
	kind = in[0] % 6;
	d = in + 3;
	n = len - 3;
	if (kind == 5) {
		sense(in[1], d, n);
		return 0;
	}
	t = task_for(kind);
	if (!t)
		return 0;
	t->status = in[1] & 0x80 ? SCSI_STATUS_CHECK_CONDITION : SCSI_STATUS_GOOD;
	t->datain.size = (int)n;
	t->datain.data = n ? malloc(n) : NULL;
	if (n && !t->datain.data) {
		scsi_free_scsi_task(t);
		return 0;
	}
	if (n)
		memcpy(t->datain.data, d, n);
	switch (kind) {
	case 0:
		ret = iscsi_lun_inquiry(t, &type);
		/* a disk only from a GOOD answer whose first byte says so */
		if (!ret && (in[1] & 0x80 || !n || d[0] != 0 || type != 0))
			abort();
		break;
	case 1:
		ret = iscsi_lun_capacity(t, &lun);
		if (!ret &&
		    (in[1] & 0x80 || n < 12 || lun.blocks != be(d, 8) + 1 ||
		     lun.block_size != be(d + 8, 4) || lun.block_size < 512 ||
		     lun.block_size > 65536 || lun.block_size & (lun.block_size - 1) ||
		     lun.bytes / lun.block_size != lun.blocks || lun.bytes % lun.block_size))
			abort();
		break;
	case 2:
		if (iscsi_lun_write_protected(t) != (!(in[1] & 0x80) && n >= 4 && d[2] & 0x80))
			abort();
		break;
	case 3:
		if (iscsi_lun_can_unmap(t) && (in[1] & 0x80 || n < 6 || !(d[5] & 0x80)))
			abort();
		break;
	default:
		lun.block_size = 512u << (in[2] % 8);
		iscsi_lun_block_limits(t, &lun);
		if (lun.max_discard_sectors % (lun.block_size / 512) ||
		    lun.max_write_zeroes_sectors % (lun.block_size / 512) ||
		    ((in[1] & 0x80 || n < 4) &&
		     (lun.max_discard_sectors || lun.max_write_zeroes_sectors)))
			abort();
		break;
	}
	scsi_free_scsi_task(t);
	return 0;
}
