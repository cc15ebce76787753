// SPDX-License-Identifier: MIT
/*
 * blk_dev: hearth's virtio-blk device and block backend without a guest, so
 * the disk data path is checked where no guest can run (no KVM). The device
 * (src/virtio/blk.c) runs on hearth's I/O loop with the backend hearth
 * would open for --disk (a file through io_uring, libaio or plain system
 * calls, as HEARTH_BLK_ENGINE says, or an iSCSI LUN); a driver thread plays
 * the guest's part in guest-like memory, kicking only when asked
 * (EVENT_IDX):
 *
 *   blk_dev FILE|iscsi://HOST[:PORT]/IQN/LUN BLOCKS SEED [direct]
 *
 * writes BLOCKS 4 KiB blocks of a pattern made from SEED (block b, 32-bit
 * word w: SEED * 2654435761 + b * 1024 + w, little-endian) to the first
 * BLOCKS * 4 KiB of the disk, in a shuffled order, up to 16 requests in
 * flight; then a FLUSH; then reads every block back and compares; then
 * GET_ID. Prints "blk_dev ENGINE: N blocks written, flushed, read back:
 * K bad, D kicks" (D: the notifications the driver wrote, each asked for by
 * the device) and exits 0 if every request succeeded and every block came
 * back as written. The disk keeps the pattern, for the caller to check
 * from the host side. BLK_DEV_POLL_US sets the loop's poll budget (32).
 *
 *   blk_dev DISK BLOCKS SEED churn HOSTFILE STOPFILE
 *
 * writes BLOCKS 4 KiB blocks over and over, 16 in flight, never two on one
 * block, each write a new version of its block (the pattern above plus
 * version * 0x01000193 in every word), until STOPFILE exists; meanwhile the
 * test kills and freezes the target. HOSTFILE is the disk as the host sees
 * it (the LUN's backing file). A write the device answers with an error
 * puts its block aside for good, and the block's bytes in HOSTFILE are
 * kept as they are at the moment of the answer: they must be the failed
 * version or the one before (either may be on the disk), and they must
 * never change afterwards (nothing may reach the disk once a write was
 * told it failed). At the end, after a grace period (BLK_DEV_GRACE_MS,
 * 3000) for anything late to land, every block must hold the last version
 * the device said it wrote, or its kept bytes. Prints "blk_dev churn
 * ENGINE: W writes, F failed, B bad" and exits 0 if nothing was bad.
 * BLK_DEV_ISCSI_TIMEOUT_MS sets an iSCSI disk's timeout=.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hearth/blkio.h"
#include "hearth/iscsi.h"

#define QSZ   64
#define QD    16 /* requests in flight: three descriptors each */
#define BLK   4096u
#define DESC  0x1000ULL
#define AVAIL 0x2000ULL
#define USED  0x3000ULL
#define HDRS  0x4000ULL /* 16-byte request headers, one per slot */
#define STATS 0x5000ULL /* status bytes, one per slot */
#define DATA  0x100000ULL
#define RAM   (64ULL << 20)
#define FEATS                                                                        \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << 9) | \
	 (1ULL << 6)) /* FLUSH, BLK_SIZE */

static struct vq vq;
static struct virtio_blk *dev;
static int kick_fd;
static uint16_t avail_idx, used_seen;
static unsigned long kicks;

static void on_kick(void *o, uint32_t events)
{
	eventfd_t n;

	(void)o, (void)events;
	eventfd_read(kick_fd, &n);
	pthread_mutex_lock(&lock);
	virtio_blk_ops.kick(dev, 0);
	pthread_mutex_unlock(&lock);
}

/* ---- the driver ---- */

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = at(DESC + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Queues request @type on @sector in slot @s (descriptors 3s..3s+2), with
 * @len bytes of data at @data (none if 0); kicks if the device asked. */
static void submit(unsigned s, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		   bool device_writes)
{
	uint8_t *h = at(HDRS + 16ULL * s, 16), *a = at(AVAIL, 6 + 2 * QSZ);
	uint16_t d0 = (uint16_t)(3 * s), old = avail_idx, event;
	uint32_t zero = 0;

	memcpy(h, &type, 4);
	memcpy(h + 4, &zero, 4);
	memcpy(h + 8, &sector, 8);
	*at(STATS + s, 1) = 0xff;
	if (len) {
		desc(d0, HDRS + 16ULL * s, 16, 1, (uint16_t)(d0 + 1));
		desc(d0 + 1u, data, len, (uint16_t)(1 | (device_writes ? 2 : 0)),
		     (uint16_t)(d0 + 2));
		desc(d0 + 2u, STATS + s, 1, 2, 0);
	} else {
		desc(d0, HDRS + 16ULL * s, 16, 1, (uint16_t)(d0 + 1));
		desc(d0 + 1u, STATS + s, 1, 2, 0);
	}
	memcpy(a + 4 + 2 * (avail_idx % QSZ), &d0, 2);
	avail_idx++;
	__atomic_store_n((uint16_t *)(void *)(a + 2), avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = (uint16_t)(at(USED + 4 + 8 * QSZ, 2)[0] | at(USED + 4 + 8 * QSZ, 2)[1] << 8);
	if ((uint16_t)(avail_idx - event - 1) < (uint16_t)(avail_idx - old)) {
		eventfd_write(kick_fd, 1);
		kicks++;
	}
}

/* Waits for the next completion: returns its slot and status. */
static unsigned reap(uint8_t *status)
{
	uint8_t *u = at(USED, 4 + 8 * QSZ);
	uint32_t id;

	for (time_t t0 = time(NULL);
	     __atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE) == used_seen;)
		if (time(NULL) - t0 > 60) {
			fprintf(stderr, "blk_dev: no completion in 60 s\n");
			exit(1);
		}
	memcpy(&id, u + 4 + 8 * (used_seen % QSZ), 4);
	used_seen++;
	if (id % 3 || id / 3 >= QD) {
		fprintf(stderr, "blk_dev: used id %u is no request's head\n", id);
		exit(1);
	}
	*status = *at(STATS + id / 3, 1);
	return id / 3;
}

static uint32_t word(uint32_t seed, uint32_t b, uint32_t w)
{
	return seed * 2654435761u + b * 1024u + w;
}

/* Runs @n requests, block order[i] each (IN or OUT, 4 KiB at DATA + slot *
 * 4 KiB), up to QD in flight; checks each read. Returns the failures. */
static unsigned run(uint32_t type, const uint32_t *order, unsigned n, uint32_t seed)
{
	uint32_t inflight_blk[QD];
	unsigned next = 0, done = 0, bad = 0, free_slots[QD], nfree = QD;

	for (unsigned s = 0; s < QD; s++)
		free_slots[s] = QD - 1 - s;
	while (done < n) {
		while (next < n && nfree) {
			unsigned s = free_slots[--nfree];
			uint32_t b = order[next++];
			uint8_t *d = at(DATA + (uint64_t)s * BLK, BLK);

			if (type == VIRTIO_BLK_T_OUT)
				for (uint32_t w = 0; w < BLK / 4; w++) {
					uint32_t v = word(seed, b, w);

					memcpy(d + 4 * w, &v, 4);
				}
			else
				memset(d, 0, BLK);
			inflight_blk[s] = b;
			submit(s, type, (uint64_t)b * (BLK / 512), DATA + (uint64_t)s * BLK, BLK,
			       type == VIRTIO_BLK_T_IN);
		}
		uint8_t st;
		unsigned s = reap(&st);

		done++;
		if (st != 0) {
			bad++;
			fprintf(stderr, "blk_dev: block %u: status %u\n", inflight_blk[s], st);
		} else if (type == VIRTIO_BLK_T_IN) {
			const uint8_t *d = at(DATA + (uint64_t)s * BLK, BLK);

			for (uint32_t w = 0; w < BLK / 4; w++) {
				uint32_t v;

				memcpy(&v, d + 4 * w, 4);
				if (v != word(seed, inflight_blk[s], w)) {
					bad++;
					fprintf(stderr, "blk_dev: block %u word %u: %08x\n",
						inflight_blk[s], w, v);
					break;
				}
			}
		}
		free_slots[nfree++] = s;
	}
	return bad;
}

/* ---- churn ---- */

static uint32_t vword(uint32_t seed, uint32_t b, uint32_t v, uint32_t w)
{
	return v ? word(seed, b, w) + v * 0x01000193u : 0; /* version 0: never written */
}

static void fill(uint8_t *d, uint32_t seed, uint32_t b, uint32_t v)
{
	for (uint32_t w = 0; w < BLK / 4; w++) {
		uint32_t x = vword(seed, b, v, w);

		memcpy(d + 4 * w, &x, 4);
	}
}

static bool holds(const uint8_t *d, uint32_t seed, uint32_t b, uint32_t v)
{
	uint8_t want[BLK];

	fill(want, seed, b, v);
	return !memcmp(d, want, BLK);
}

struct cblock {
	uint32_t ver, ok_ver; /* last version sent, last the device said it wrote */
	bool busy, failed;
	uint8_t *kept; /* failed: the host's bytes when the failure was answered */
};

static bool host_read(int fd, uint32_t b, uint8_t *d)
{
	return pread(fd, d, BLK, (off_t)b * BLK) == (ssize_t)BLK;
}

static int churn(const char *engine, unsigned n, uint32_t seed, const char *host, const char *stop)
{
	struct cblock *blk = calloc(n, sizeof(*blk));
	uint32_t slot_blk[QD];
	unsigned free_slots[QD], nfree = QD, cursor = 0, inflight = 0;
	unsigned long writes = 0, failed = 0, bad = 0;
	const char *g = getenv("BLK_DEV_GRACE_MS");
	int fd = open(host, O_RDONLY | O_CLOEXEC);
	bool stopping = false;
	uint8_t now[BLK];

	if (!blk || fd < 0) {
		fprintf(stderr, "blk_dev: cannot open %s\n", host);
		return 1;
	}
	for (unsigned s = 0; s < QD; s++)
		free_slots[s] = QD - 1 - s;
	while (!stopping || inflight) {
		/* a new version of the next block that is neither busy nor failed */
		for (unsigned tries = 0; !stopping && nfree && tries < n; tries++) {
			struct cblock *c = &blk[cursor];
			uint32_t b = cursor;
			unsigned s;

			cursor = (cursor + 1) % n;
			if (c->busy || c->failed)
				continue;
			s = free_slots[--nfree];
			c->busy = true;
			c->ver++;
			slot_blk[s] = b;
			fill(at(DATA + (uint64_t)s * BLK, BLK), seed, b, c->ver);
			submit(s, VIRTIO_BLK_T_OUT, (uint64_t)b * (BLK / 512),
			       DATA + (uint64_t)s * BLK, BLK, false);
			inflight++;
			writes++;
			tries = 0;
		}
		if (!stopping && access(stop, F_OK) == 0)
			stopping = true;
		if (!inflight) {
			usleep(10000);
			continue;
		}
		uint8_t st;
		unsigned s = reap(&st);
		struct cblock *c = &blk[slot_blk[s]];

		inflight--;
		free_slots[nfree++] = s;
		c->busy = false;
		if (st == 0) {
			c->ok_ver = c->ver;
			continue;
		}
		/* told it failed: what the host has now must stay */
		failed++;
		c->failed = true;
		c->kept = malloc(BLK);
		if (!c->kept || !host_read(fd, slot_blk[s], c->kept)) {
			fprintf(stderr, "blk_dev: cannot read %s\n", host);
			return 1;
		}
		if (!holds(c->kept, seed, slot_blk[s], c->ver) &&
		    !holds(c->kept, seed, slot_blk[s], c->ok_ver)) {
			bad++;
			fprintf(stderr,
				"blk_dev: block %u: failed version %u left neither it nor %u\n",
				slot_blk[s], c->ver, c->ok_ver);
		}
	}
	usleep(1000 * (useconds_t)(g ? strtoul(g, NULL, 10) : 3000));
	for (uint32_t b = 0; b < n; b++) {
		struct cblock *c = &blk[b];

		if (!host_read(fd, b, now)) {
			fprintf(stderr, "blk_dev: cannot read %s\n", host);
			return 1;
		}
		if (c->failed && memcmp(now, c->kept, BLK)) {
			bad++;
			fprintf(stderr,
				"blk_dev: block %u changed after its version %u was told it "
				"failed%s\n",
				b, c->ver,
				holds(now, seed, b, c->ver) ? " (that version landed)" : "");
		} else if (!c->failed && !holds(now, seed, b, c->ok_ver)) {
			bad++;
			fprintf(stderr,
				"blk_dev: block %u does not hold version %u, told written\n", b,
				c->ok_ver);
		}
		free(c->kept);
	}
	free(blk);
	close(fd);
	printf("blk_dev churn %s: %lu writes, %lu failed, %lu bad\n", engine, writes, failed, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct blkio_file_opts o = { .engine = getenv("HEARTH_BLK_ENGINE") };
	struct iscsi_blk_opts io = { 0 };
	struct virtio_blk_cfg c = { .serial = "blk-dev-test" };
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 0, bad = 0;
	uint32_t seed = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 0, *order;
	const char *engine;
	char why[300];
	pthread_t t;
	uint8_t st, *id;

	harness_name = "blk_dev";
	bool churning = argc > 4 && !strcmp(argv[4], "churn");

	if (argc < 4 || !n || n > (RAM - DATA) / BLK || (churning && argc < 7)) {
		fprintf(stderr,
			"usage: blk_dev FILE|iscsi://... BLOCKS SEED [direct]\n"
			"       blk_dev FILE|iscsi://... BLOCKS SEED churn HOSTFILE STOPFILE\n");
		return 2;
	}
	if (getenv("BLK_DEV_ISCSI_TIMEOUT_MS"))
		io.timeout_ms = strtoull(getenv("BLK_DEV_ISCSI_TIMEOUT_MS"), NULL, 10);
	io.url = argv[1];
	o.path = argv[1];
	o.direct = argc > 4 && !strcmp(argv[4], "direct");
	if (strncmp(argv[1], "iscsi://", 8) ? blkio_file_open(&c.io, &o, why, sizeof(why))
					    : iscsi_blk_open(&c.io, &io, why, sizeof(why))) {
		fprintf(stderr, "blk_dev: %s\n", why);
		return 1;
	}
	engine = blkio_engine(c.io);
	if (blkio_size(c.io) < (uint64_t)n * BLK) {
		fprintf(stderr, "blk_dev: the disk is smaller than %u blocks\n", n);
		return 1;
	}
	kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gm_create(&gm, RAM, false) || kick_fd < 0)
		return 1;
	harness_loop(1000 * (getenv("BLK_DEV_POLL_US")
				     ? strtoull(getenv("BLK_DEV_POLL_US"), NULL, 10)
				     : 32));
	vq = (struct vq){ .size = QSZ,
			  .desc_gpa = DESC,
			  .avail_gpa = AVAIL,
			  .used_gpa = USED,
			  .event_idx = true };
	if (vq_enable(&vq, &gm, VQ_MAX_SIZE))
		return 1;
	dev = virtio_blk_create(&c, &gm, &tr);
	if (!dev || blkio_attach(c.io, lp, virtio_blk_complete, dev) ||
	    loop_watch(lp, kick_fd, on_kick, NULL) < 0 ||
	    (blkio_pollable(c.io) && virtio_blk_set_poller(dev, lp)))
		return 1;
	pthread_mutex_lock(&lock);
	virtio_blk_ops.start(dev, FEATS, &vq);
	pthread_mutex_unlock(&lock);
	t = harness_run();
	if (churning) {
		int ret = churn(engine, n, seed, argv[5], argv[6]);

		harness_stop(t);
		virtio_blk_destroy(dev);
		return ret;
	}

	/* a shuffled order, so the requests are not one sequential stream */
	order = malloc(n * sizeof(*order));
	if (!order)
		return 1;
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	srand(seed);
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)rand() % (i + 1);
		uint32_t x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	bad += run(VIRTIO_BLK_T_OUT, order, n, seed);
	submit(0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	if (reap(&st) != 0 || st != 0) {
		fprintf(stderr, "blk_dev: flush: status %u\n", st);
		bad++;
	}
	bad += run(VIRTIO_BLK_T_IN, order, n, seed);
	id = at(DATA, 20);
	memset(id, 0, 20);
	submit(0, VIRTIO_BLK_T_GET_ID, 0, DATA, 20, true);
	if (reap(&st) != 0 || st != 0 || strcmp((const char *)id, "blk-dev-test")) {
		fprintf(stderr, "blk_dev: GET_ID: status %u, '%.20s'\n", st, (const char *)id);
		bad++;
	}
	harness_stop(t);
	virtio_blk_destroy(dev);
	printf("blk_dev %s: %u blocks written, flushed, read back: %u bad, %lu kicks\n", engine, n,
	       bad, kicks);
	free(order);
	return bad ? 1 : 0;
}
