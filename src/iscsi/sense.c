// SPDX-License-Identifier: MIT
/*
 * SCSI status and sense data -> what virtio-blk can tell the guest (OK,
 * IOERR, UNSUPP) or a retry. Pure, so every row is unit-tested.
 */
#include <errno.h>

#include "hearth/iscsi.h"

enum {
	ST_GOOD = 0x00,
	ST_CHECK_CONDITION = 0x02,
	ST_CONDITION_MET = 0x04,
	ST_BUSY = 0x08,
	ST_RESERVATION_CONFLICT = 0x18,
	ST_TASK_SET_FULL = 0x28,
	ST_ACA_ACTIVE = 0x30,
	ST_TASK_ABORTED = 0x40,
};

enum {
	KEY_NO_SENSE = 0x0,
	KEY_RECOVERED = 0x1,
	KEY_NOT_READY = 0x2,
	KEY_ILLEGAL_REQUEST = 0x5,
	KEY_UNIT_ATTENTION = 0x6,
	KEY_DATA_PROTECT = 0x7,
	KEY_ABORTED_COMMAND = 0xb,
	KEY_VOLUME_OVERFLOW = 0xd,
};

enum iscsi_verdict iscsi_sense_verdict(int status, int key, int ascq, int *res)
{
	*res = -EIO;
	switch (status) {
	case ST_GOOD:
	case ST_CONDITION_MET: *res = 0; return ISCSI_DONE;
	case ST_BUSY:
	case ST_TASK_SET_FULL:
	case ST_TASK_ABORTED: return ISCSI_RETRY;
	case ST_CHECK_CONDITION: break;
	default: return ISCSI_DONE; /* reservation conflict, ACA, transport errors */
	}
	switch (key) {
	case KEY_NO_SENSE:
	case KEY_RECOVERED: *res = 0; return ISCSI_DONE; /* done, with a remark */
	case KEY_UNIT_ATTENTION: return ISCSI_RETRY;	 /* reset, reconnect, changes */
	case KEY_ABORTED_COMMAND: return ISCSI_RETRY;
	case KEY_NOT_READY:
		/* becoming ready (04/01) or an operation in progress (04/07): wait */
		return ascq == 0x0401 || ascq == 0x0407 ? ISCSI_RETRY : ISCSI_DONE;
	case KEY_ILLEGAL_REQUEST:
		/* an opcode or CDB field the LUN does not implement */
		if (ascq == 0x2000 || ascq == 0x2400)
			*res = -EOPNOTSUPP;
		return ISCSI_DONE;
	case KEY_DATA_PROTECT:
		if (ascq == 0x2707)
			*res = -ENOSPC; /* thin provisioning: space allocation failed */
		else if (ascq >> 8 == 0x27)
			*res = -EROFS;
		return ISCSI_DONE;
	case KEY_VOLUME_OVERFLOW: *res = -ENOSPC; return ISCSI_DONE;
	default: return ISCSI_DONE; /* medium, hardware, miscompare...: IOERR */
	}
}
