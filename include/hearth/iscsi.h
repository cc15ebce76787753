/* SPDX-License-Identifier: MIT */
/*
 * iSCSI block backend (libiscsi) and the pure helpers it is built on: the
 * iscsi:// URL parser, the credentials sources and the mapping of SCSI
 * status and sense data to what virtio-blk can say. docs/iscsi.md.
 */
#ifndef HEARTH_ISCSI_H
#define HEARTH_ISCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define ISCSI_URL_MAX	   1024
#define ISCSI_HOST_MAX	   253
#define ISCSI_TARGET_MAX   223 /* RFC 3720: iSCSI names are at most 223 bytes */
#define ISCSI_CRED_MAX	   255
#define ISCSI_DEFAULT_PORT 3260
#define ISCSI_LUN_MAX	   16383 /* SAM flat space addressing */
/* The most one READ(16)/WRITE(16) carries when the LUN sets no lower
 * limit: libiscsi keeps a command's length in an int, and a longer request
 * is several commands anyway. */
#define ISCSI_CMD_MAX_BYTES (16u << 20)

struct iscsi_addr {
	char host[ISCSI_HOST_MAX + 3]; /* an IPv6 literal keeps its brackets */
	uint16_t port;
	char target[ISCSI_TARGET_MAX + 1];
	unsigned lun;
	char user[ISCSI_CRED_MAX + 1];	   /* empty: none in the URL */
	char password[ISCSI_CRED_MAX + 1]; /* never logged */
};

/*
 * iscsi://[user[%password]@]host[:port]/target/lun. Returns 0, or -EINVAL
 * with a one-line reason in @err that never contains the password.
 */
int iscsi_url_parse(const char *s, struct iscsi_addr *u, char *err, size_t errlen);
/* @s with the password (if any) replaced by "***", for logs. */
void iscsi_url_redact(const char *s, char *out, size_t outlen);
/* Splits a parsed URL's password out: @url gets @s without "%password",
 * @pw the password ("" if none). Both buffers at least ISCSI_URL_MAX. */
void iscsi_url_split(const char *s, char *url, char *pw);

/* CHAP secrets. Mutual CHAP when target_user is set too. */
struct iscsi_creds {
	char user[ISCSI_CRED_MAX + 1], password[ISCSI_CRED_MAX + 1];
	char target_user[ISCSI_CRED_MAX + 1], target_password[ISCSI_CRED_MAX + 1];
};
/*
 * Fills @c from, by priority: the URL's user/password, then the secret file
 * @file (lines "user=", "password=", "target_user=", "target_password=";
 * '#' comments; NULL: none), then the environment (HEARTH_ISCSI_USER,
 * HEARTH_ISCSI_PASSWORD, HEARTH_ISCSI_TARGET_USER,
 * HEARTH_ISCSI_TARGET_PASSWORD). @getenv_fn is getenv in production.
 * Returns 0 or -errno with a reason in @err (never a secret).
 */
int iscsi_creds_load(struct iscsi_creds *c, const struct iscsi_addr *u, const char *file,
		     char *(*getenv_fn)(const char *), char *err, size_t errlen);

/* ---- the block backend (iscsi.c) ---- */

struct blkio;
struct iscsi_blk_opts {
	const char *url;	  /* iscsi://[user[%password]@]host[:port]/target/lun */
	const char *url_password; /* the URL's CHAP password given apart, or NULL */
	const char *secret;	  /* CHAP secret file, or NULL */
	uint64_t timeout_ms;	  /* per-request timeout; 0: 30 s */
	bool readonly;		  /* the disk was asked for read-only */
	bool discard;		  /* the LUN must be able to UNMAP */
	const char *initiator; /* our iSCSI name (ISCSI_TARGET_MAX bytes at most); NULL: hearth's */
};
/*
 * Logs in (synchronously, with libiscsi) and checks the LUN, then returns
 * it as a block backend in *@out (struct blkio_ops, hearth/blkio.h; its
 * readonly says whether the LUN is write-protected). Returns 0; -EINVAL:
 * bad URL or credentials (usage); other -errno: the target or network
 * refused. A one-line reason in @err, never a secret.
 */
int iscsi_blk_open(struct blkio **out, const struct iscsi_blk_opts *o, char *err, size_t errlen);

/*
 * Reads @len bytes at byte @off of an opened LUN into @buf, synchronously,
 * for a reader that runs before the LUN serves a guest (the kernel inside
 * it, src/boot/image.c): never once it is attached to a loop. @off and
 * @len in whole blocks of the LUN, inside it. Returns 0, -EINVAL for a
 * request that is not, -EIO (or what the sense data says) for a failure;
 * a target that does not answer is waited for (the caller bounds it).
 */
int iscsi_blk_read_sync(struct blkio *b, uint64_t off, void *buf, size_t len);

/* What to do with a finished SCSI command. */
enum iscsi_verdict {
	ISCSI_DONE,  /* complete with *res (0 or -errno) */
	ISCSI_RETRY, /* transient (UNIT ATTENTION, BUSY, becoming ready): send again */
};
/*
 * @status: the SCSI status byte (0 GOOD, 2 CHECK CONDITION, 8 BUSY,
 * 0x28 TASK SET FULL...) or a negative transport status; @key/@ascq: the
 * sense key and (ASC << 8 | ASCQ) for CHECK CONDITION. *res is 0, -EIO,
 * -EOPNOTSUPP (the device answers UNSUPP), -EROFS or -ENOSPC.
 */
enum iscsi_verdict iscsi_sense_verdict(int status, int key, int ascq, int *res);

/* ---- request limits (src/iscsi/limits.c) ---- */

/* The most one READ or WRITE command may carry, in bytes: the LUN's
 * MAXIMUM TRANSFER LENGTH (Block Limits VPD, in blocks; 0: none given) times
 * its block size @bs, at most ISCSI_CMD_MAX_BYTES, in whole blocks. 0 for
 * a block size that is not a power of two from 512. */
uint32_t iscsi_cmd_max_bytes(uint32_t max_xfer_blocks, uint32_t bs);
/* Whether a request of @len bytes at byte @off fits a LUN of @blocks blocks
 * of @bs bytes: whole blocks, inside the LUN with no wrap; a READ or WRITE
 * (@rw) at most BLKIO_MAX_BYTES, an UNMAP or WRITE SAME of 1 to 2^32 - 1
 * blocks. */
bool iscsi_req_ok(bool rw, uint64_t off, uint64_t len, uint32_t bs, uint64_t blocks);
/* The next command of a READ or WRITE of @len bytes held by @iov/@n, of
 * which @done are done: its bytes (at most @max) in *@chunk and its buffers
 * in @dst (room @room). Returns the number of buffers, or -1 when nothing
 * is left, the vector holds fewer bytes or needs more than @room. */
int iscsi_chunk(const struct iovec *iov, unsigned n, uint64_t len, uint64_t done, uint32_t max,
		struct iovec *dst, unsigned room, uint32_t *chunk);

/* ---- a LUN's answers at login (lun.c) ----
 * Each takes a finished libiscsi task (NULL, or any status, when the
 * command failed) with whatever data-in the target returned, unmarshalled
 * by libiscsi; none keeps a pointer into the task. */
struct scsi_task;
struct iscsi_lun {
	uint64_t blocks, bytes;
	uint32_t block_size;
	bool unmap_zeroes; /* LBPRZ: unmapped blocks read back as zeroes */
	/* UNMAP and WRITE SAME limits in 512-byte sectors, 0: none said */
	uint32_t max_discard_sectors, max_write_zeroes_sectors;
	/* MAXIMUM TRANSFER LENGTH of one READ or WRITE, in blocks; 0: none said */
	uint32_t max_xfer_blocks;
};
/* Standard INQUIRY: 0 for a connected direct-access device (a disk), else
 * -ENODEV; *device_type is the type, or -1 without usable data. */
int iscsi_lun_inquiry(struct scsi_task *t, int *device_type);
/* READ CAPACITY(16): fills @lun's geometry (block_size and unmap_zeroes
 * whatever the outcome, for the message). 0; -EIO: no usable answer;
 * -ENODEV: a block size hearth cannot use (not a power of two from 512 to
 * 64 KiB) or a size that overflows. */
int iscsi_lun_capacity(struct scsi_task *t, struct iscsi_lun *lun);
/* MODE SENSE(6): whether the LUN says it is write-protected. */
bool iscsi_lun_write_protected(struct scsi_task *t);
/* Logical Block Provisioning VPD: whether the LUN can UNMAP. */
bool iscsi_lun_can_unmap(struct scsi_task *t);
/* Block Limits VPD: @lun's UNMAP / WRITE SAME limits, in sectors of its
 * block_size (set by iscsi_lun_capacity first); 0 where none is said or
 * it does not fit in 32 bits of sectors; and its MAXIMUM TRANSFER LENGTH. */
void iscsi_lun_block_limits(struct scsi_task *t, struct iscsi_lun *lun);

#endif
