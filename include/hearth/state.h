/* SPDX-License-Identifier: MIT */
/*
 * Device state records: what a device's save() writes and its restore()
 * reads back, for snapshot and migration (docs/state.md has the layout).
 * A record is a header (magic, device kind, version, body length) and a
 * body of typed fields; records nest (a virtio-pci transport's record holds
 * its device's). All integers are little-endian.
 *
 * A record read back is untrusted input (a snapshot file can be corrupt or
 * hostile). The reader refuses a wrong magic or kind, an unknown version, a
 * field of another type than asked for, a length past the end of its
 * record, and bytes left over when a record ends. Errors are sticky: after
 * the first, every call fails the same way, so a device may read all its
 * fields and check once (state_leave). A device checks every value it reads
 * against its own limits before changing anything, so a refused record
 * leaves the device as it was.
 *
 * Not thread safe: one writer or reader per thread.
 */
#ifndef HEARTH_STATE_H
#define HEARTH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_MAGIC	0x54534548u /* "HEST" as little-endian bytes */
#define STATE_MAX_DEPTH 4	    /* records nested in records */
#define STATE_MAX_LEN	(1u << 30)  /* bytes in one buffer */

/* Device kinds: a record names the device it belongs to. Never renumber. */
enum state_kind {
	STATE_KIND_UART = 1,
	STATE_KIND_RTC = 2,
	STATE_KIND_I8042 = 3,
	STATE_KIND_PCI_HOST = 4,
	STATE_KIND_VIRTIO_PCI = 5,
	STATE_KIND_VIRTQUEUE = 6,
	STATE_KIND_VIRTIO_RNG = 7,
	STATE_KIND_VIRTIO_NET = 8,
	STATE_KIND_VIRTIO_BLK = 9,
	STATE_KIND_EXITDEV = 10,
	STATE_KIND_VCPU = 11,	/* KVM's state of one vCPU (vcpu_state.h) */
	STATE_KIND_KVM_VM = 12, /* KVM's in-kernel irqchip, PIT and clock */
};

/* Field type tags. */
enum state_type {
	STATE_T_U8 = 1,
	STATE_T_U16 = 2,
	STATE_T_U32 = 3,
	STATE_T_U64 = 4,
	STATE_T_BYTES = 5,
};

struct state_writer {
	uint8_t *buf;
	size_t len, cap;
	bool grow; /* buf is ours (malloc), grown as needed */
	int err;
	unsigned depth;
	size_t open[STATE_MAX_DEPTH]; /* offsets of the open records' headers */
};

/* A writer into @buf of @cap bytes (the caller's); a record that does not
 * fit makes the writer fail with -ENOSPC. */
void state_writer_init(struct state_writer *w, void *buf, size_t cap);
/* A writer into a buffer of its own, grown as needed up to STATE_MAX_LEN;
 * release it with state_writer_free. */
void state_writer_init_alloc(struct state_writer *w);
void state_writer_free(struct state_writer *w);

/* Opens a record of @kind and @version (1 or more) inside the current one,
 * or at the top. Close it with state_end. */
void state_begin(struct state_writer *w, uint16_t kind, uint16_t version);
void state_end(struct state_writer *w);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bool(struct state_writer *w, bool v); /* a U8 of 0 or 1 */
/* A BYTES field: a 32-bit length and @len bytes. */
void state_put_bytes(struct state_writer *w, const void *p, size_t len);

/*
 * The first error met (0 if none): -ENOSPC (the caller's buffer is full),
 * -ENOMEM, -EOVERFLOW (past STATE_MAX_LEN), -EINVAL (state_end without a
 * record, nesting deeper than STATE_MAX_DEPTH, version 0). A writer that
 * failed writes nothing more. On success *@len (if not NULL) is the bytes
 * written; -EINVAL if a record is still open.
 */
int state_writer_finish(struct state_writer *w, size_t *len);

struct state_reader {
	const uint8_t *buf;
	size_t len, pos;
	int err;
	unsigned depth;
	size_t end[STATE_MAX_DEPTH]; /* where each open record's body ends */
};

/* A reader over @len bytes at @buf (not copied, must outlive the reader). */
void state_reader_init(struct state_reader *r, const void *buf, size_t len);

/*
 * Opens the next record, which must be of @kind with a version from 1 to
 * @max_version; its version goes to *@version (may be NULL). Returns 0,
 * -EBADMSG (wrong magic or kind, a body longer than what holds it, nesting
 * too deep), -EPROTONOSUPPORT (version 0 or above @max_version).
 */
int state_enter(struct state_reader *r, uint16_t kind, uint16_t max_version, uint16_t *version);
/* Closes the record state_enter opened. Returns the reader's error, or
 * -EBADMSG when bytes of the record were left unread. */
int state_leave(struct state_reader *r);

/*
 * Each reads one field, which must be of the type asked for, inside the
 * open record. Returns 0 or the (sticky) error: -EBADMSG for a wrong tag,
 * a truncated field, or a bool other than 0 or 1. On error *@v is 0.
 */
int state_get_u8(struct state_reader *r, uint8_t *v);
int state_get_u16(struct state_reader *r, uint16_t *v);
int state_get_u32(struct state_reader *r, uint32_t *v);
int state_get_u64(struct state_reader *r, uint64_t *v);
int state_get_bool(struct state_reader *r, bool *v);
/* A BYTES field of at most @cap bytes into @p; its length goes to *@len.
 * -EBADMSG when longer than @cap. */
int state_get_bytes(struct state_reader *r, void *p, size_t cap, size_t *len);
/* A BYTES field of exactly @len bytes. */
int state_get_exact(struct state_reader *r, void *p, size_t len);

/* Makes the reader fail with @err (a device's own check of a value it
 * read: -EINVAL); the first error stays. Returns the reader's error. */
int state_fail(struct state_reader *r, int err);
/* 0 when the whole buffer was read and no record is open, else the
 * reader's error or -EBADMSG (trailing bytes, a record left open). */
int state_reader_finish(const struct state_reader *r);

#endif
