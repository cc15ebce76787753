/* SPDX-License-Identifier: MIT */
/*
 * Virtio: the split virtqueue every device shares, the device interface
 * (struct virtio_dev_ops), and the transport-independent device state a
 * transport (virtio-pci today) drives. Devices never see PCI or KVM.
 *
 * The guest is hostile: every index, address and length read from a ring is
 * checked here before a device sees it; a malformed ring makes vq_pop()
 * return -EINVAL and the transport sets DEVICE_NEEDS_RESET.
 */
#ifndef HEARTH_VIRTIO_H
#define HEARTH_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hearth/mem.h"

/* Feature bits (virtio 1.2, section 6) */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

/* Device status bits */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED	  128

#define VQ_MAX_SIZE 256	 /* largest queue a device offers */
#define VQ_MAX_SEGS 1024 /* buffers in one chain, indirect ones included */

struct vq {
	/* set by the driver through the transport */
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx, indirect;
	/* valid after vq_enable() */
	bool ready;
	uint8_t *desc;	/* 16 * size bytes */
	uint8_t *avail; /* 6 + 2 * size */
	uint8_t *used;	/* 6 + 8 * size */
	uint16_t last_avail, used_idx, signalled_used;
	bool signalled_valid;
	bool quiet; /* the device asked for no kicks (vq_quiet) */
};

/* One popped descriptor chain: @n_out device-readable buffers first, then
 * @n_in device-writable ones, all inside guest RAM. */
struct vq_elem {
	uint16_t head;
	unsigned n_out, n_in;
	uint64_t out_len, in_len;
	struct iovec iov[VQ_MAX_SEGS];
};

/*
 * Validates the ring geometry the driver set (size a power of two up to
 * @max, alignment, all three areas inside guest RAM) and maps it. Returns 0
 * or -EINVAL.
 */
int vq_enable(struct vq *q, const struct guest_mem *gm, uint16_t max);
void vq_reset(struct vq *q);

/*
 * Notification suppression (virtio 1.2, 2.7.10), device side. vq_quiet()
 * tells the driver no kick is needed (with EVENT_IDX by an avail_event
 * half the index space ahead, else with the used ring's NO_NOTIFY flag): for a
 * device that will look at the ring anyway, such as a receive queue that
 * still has buffers or a transmit queue being worked through. vq_listen()
 * asks for a kick at the next entry again and returns true if entries
 * arrived before the request was visible: the caller must look once more.
 * Kicks remain a hint: a driver may kick whenever it likes.
 */
void vq_quiet(struct vq *q);
bool vq_listen(struct vq *q);

/*
 * Takes the next available chain into @e. Returns 1, 0 when the ring is
 * empty, or -EINVAL when the driver broke the ring (index runaway, head or
 * next out of range, loops, addresses outside RAM or wrapping, bad indirect
 * tables, readable after writable buffers, too many buffers).
 */
int vq_pop(struct vq *q, const struct guest_mem *gm, struct vq_elem *e);

/*
 * State (docs/state.md): a record of kind VIRTQUEUE with the ring's
 * geometry and the device's indices (last_avail, used_idx, the event-idx
 * shadow of what was last signalled, quiet). vq_restore maps the ring in
 * @gm as vq_enable does (checked the same way, against @max) and only then
 * replaces *@q; it returns 0 or a negative errno (-EINVAL: a geometry
 * vq_enable refuses), with *@q unchanged.
 */
struct state_writer;
struct state_reader;
int vq_save(const struct vq *q, struct state_writer *w);
int vq_restore(struct vq *q, const struct guest_mem *gm, uint16_t max, struct state_reader *r);

/* Whether the driver has made chains available that vq_pop has not taken. */
bool vq_has_work(const struct vq *q);

/* Returns chain @head with @len bytes written to the used ring. Like
 * every vq_ function, a no-op on a queue that is not ready (never enabled,
 * or reset), which a device may hold: the driver may start the device
 * without enabling a queue. */
void vq_push(struct vq *q, uint16_t head, uint32_t len);

/* Whether the driver wants an interrupt for what was pushed since the last
 * time this returned true (EVENT_IDX or the NO_INTERRUPT flag); false for a
 * queue that is not ready. */
bool vq_should_notify(struct vq *q);

/* Copies up to @len bytes starting at byte @off of the chain's readable
 * (or writable) buffers to or from @buf. Returns the bytes copied. */
size_t vq_elem_read(const struct vq_elem *e, uint64_t off, void *buf, size_t len);
size_t vq_elem_write(const struct vq_elem *e, uint64_t off, const void *buf, size_t len);
/* vq_elem_read for what is checked and then used (request headers): each
 * byte is read once (gm_read_once), so the copy is one snapshot. The same
 * over any @n iovecs in guest memory. */
size_t vq_elem_read_once(const struct vq_elem *e, uint64_t off, void *buf, size_t len);
size_t vq_iov_read_once(const struct iovec *iov, unsigned n, uint64_t off, void *buf, size_t len);

/* ---- devices ---- */

struct virtio_dev;

/* What a device asks of its transport. */
struct virtio_transport {
	/* Raises the interrupt of queue @q (or the config interrupt, q < 0). */
	void (*notify)(void *opaque, int q);
	/* Marks the device broken: DEVICE_NEEDS_RESET and a config interrupt. */
	void (*needs_reset)(void *opaque);
	void (*lock)(void *opaque);
	void (*unlock)(void *opaque);
	void *opaque;
};

struct virtio_dev_ops {
	uint16_t device_id; /* 2 block, 4 rng, 1 net */
	uint32_t pci_class; /* class code for PCI, e.g. 0x018000 */
	unsigned num_queues;
	uint16_t queue_max;
	uint64_t (*features)(void *dev); /* offered, transport bits included */
	/* Device config space; @off + @len within cfg_size. */
	uint32_t cfg_size;
	void (*cfg_read)(void *dev, uint32_t off, void *data, size_t len);
	void (*cfg_write)(void *dev, uint32_t off, const void *data, size_t len);
	/* Driver set DRIVER_OK with these features; @vqs are the device's
	 * queues (owned by the transport, valid until reset). */
	void (*start)(void *dev, uint64_t features, struct vq *vqs);
	/* The driver kicked queue @q (I/O thread, transport lock held). */
	void (*kick)(void *dev, unsigned q);
	/* Device reset (transport lock held): forget every queue. */
	void (*reset)(void *dev);
	/*
	 * State (docs/state.md), transport lock held. save writes the device's
	 * own record (not the queues: the transport saves them) and returns 0
	 * or -errno. restore reads one back into a device the transport has
	 * just reset, then started again if the saved driver had set
	 * DRIVER_OK; it returns 0 or -errno having changed nothing (the
	 * transport then resets the device). NULL for both: no record.
	 */
	int (*save)(void *dev, struct state_writer *w);
	int (*restore)(void *dev, struct state_reader *r);
};

/* ---- virtio-blk ---- */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		  0
#define VIRTIO_BLK_S_IOERR	  1
#define VIRTIO_BLK_S_UNSUPP	  2
#define VIRTIO_BLK_SEG_MAX	  128 /* data buffers per request we accept */
/* size_max: the most one data buffer may hold. With seg_max it bounds a
 * READ or WRITE to 128 MiB (BLKIO_MAX_BYTES), the most any block engine
 * takes in one request; virtio_blk_parse refuses anything longer. */
#define VIRTIO_BLK_SIZE_MAX (1u << 20)
#define VIRTIO_BLK_REQ_MAX  ((uint64_t)VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX)
#define VIRTIO_BLK_ID_BYTES 20

/* A request as the device understood it (virtio_blk_parse). */
struct blk_req {
	uint32_t type;
	uint64_t sector;
	uint64_t len; /* data bytes (IN/OUT), or bytes (DISCARD/WRITE_ZEROES) */
	unsigned n;   /* data buffers */
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
	uint8_t *status;   /* NULL: no room to answer */
	uint32_t used_len; /* bytes written to the driver on success */
};

/*
 * Checks one request against the disk (@sectors of 512 bytes, read-only or
 * not) and the negotiated @features. Returns VIRTIO_BLK_S_OK when @r is
 * ready to perform, or the status to answer at once (r->status is set
 * whenever the chain has a writable last byte). Pure: no I/O.
 */
int virtio_blk_parse(const struct vq_elem *e, uint64_t sectors, bool readonly, uint64_t features,
		     struct blk_req *r);

struct blkio;
struct virtio_blk;
struct virtio_blk_cfg {
	struct blkio *io; /* taken over by the device */
	bool readonly, discard;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
};
extern const struct virtio_dev_ops virtio_blk_ops;
struct virtio_blk *virtio_blk_create(const struct virtio_blk_cfg *cfg, const struct guest_mem *gm,
				     const struct virtio_transport *t);
void virtio_blk_destroy(struct virtio_blk *b);
/* The backend's completion fd and the function to call when it is readable
 * (I/O thread). */
int virtio_blk_event_fd(const struct virtio_blk *b);
void virtio_blk_complete(void *blk, uint32_t events);
/* loop poller: takes new requests and completions without waiting for
 * their eventfds. */
bool virtio_blk_poll(void *blk);
/* Gives the device the loop that resumes work left at its budget (one
 * queue's worth of chains per turn, docs/virtio.md); without one, what is
 * left waits for the next kick or completion. Returns 0 or -errno. */
struct loop;
int virtio_blk_set_loop(struct virtio_blk *b, struct loop *l);
/* Registers that poller on @l (and the loop as virtio_blk_set_loop does),
 * with an idle callback: while the loop polls, the queue asks the driver for
 * no kicks. Returns 0 or -errno. */
int virtio_blk_set_poller(struct virtio_blk *b, struct loop *l);
/*
 * Requests handed to the backend and not yet completed (taken under the
 * transport's lock; I/O thread). The device's save (virtio_blk_ops.save,
 * through virtio_pci_save) refuses with -EBUSY while this is not 0: a
 * request in flight belongs to a backend that a restore does not carry
 * over. The rule for whoever saves: with the vCPUs stopped (no new kicks),
 * run the I/O loop until this returns 0, then save. Requests the driver
 * made available but the device has not taken stay in the ring and are
 * taken by the restored device.
 */
unsigned virtio_blk_inflight(struct virtio_blk *b);

/* ---- virtio-rng ---- */
struct virtio_rng;

/*
 * What a device has done since it was created, for the control API's
 * metrics: requests completed (answered to the guest), bytes moved between
 * the guest and the backend, and requests answered with an error. Counted
 * with relaxed atomics, so any thread may read them.
 */
struct virtio_counts {
	uint64_t requests, bytes, errors;
};
void virtio_blk_counts(const struct virtio_blk *b, struct virtio_counts *out);
void virtio_rng_counts(const struct virtio_rng *r, struct virtio_counts *out);
extern const struct virtio_dev_ops virtio_rng_ops;
struct virtio_rng *virtio_rng_create(const struct guest_mem *gm, const struct virtio_transport *t);
void virtio_rng_destroy(struct virtio_rng *r);
/* Gives the device the loop that resumes work left at its budget (one
 * queue's worth of requests per turn, docs/virtio.md); without one, what is
 * left waits for the next kick. Returns 0 or -errno. */
int virtio_rng_set_loop(struct virtio_rng *r, struct loop *l);

#endif
