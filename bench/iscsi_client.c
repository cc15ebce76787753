// SPDX-License-Identifier: MIT
/*
 * iscsi_client: the host-side baseline for bench/iscsi.sh. One libiscsi
 * session, QD requests kept in flight from one thread with poll(), the way
 * hearth's I/O thread drives a LUN but without a guest in between.
 *
 *   iscsi_client URL MODE BS QD OPS
 *
 * URL is iscsi://host:port/target/lun (no CHAP), MODE randread, randwrite,
 * seqread or seqwrite. Prints "iops mbps cpu_us_per_io" and exits 0, or a
 * reason on stderr and exits 1.
 */
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static struct iscsi_context *ctx;
static int lun, write_mode, rnd, failed;
static uint64_t blocks_per_io, span, seq, x = 88172645463325252ull, issued, done_ops, ops;
static uint32_t bs, blksz;

/* one per request in flight: its buffer and the iovec that points to it */
struct slot {
	unsigned char *buf;
	struct scsi_iovec iov;
};

static void issue(struct slot *sl);

static void cb(struct iscsi_context *c, int status, void *data, void *priv)
{
	(void)c;
	if (status != SCSI_STATUS_GOOD)
		failed = 1;
	scsi_free_scsi_task(data);
	done_ops++;
	if (issued < ops)
		issue(priv);
}

static void issue(struct slot *sl)
{
	uint64_t n;
	struct scsi_task *t;

	if (rnd) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % span;
	} else {
		n = seq++ % span;
	}
	if (write_mode)
		t = iscsi_write16_task(ctx, lun, n * blocks_per_io, sl->buf, bs, (int)blksz, 0, 0,
				       0, 0, 0, cb, sl);
	else
		t = iscsi_read16_task(ctx, lun, n * blocks_per_io, bs, (int)blksz, 0, 0, 0, 0, 0,
				      cb, sl);
	if (!t) {
		failed = 1;
		return;
	}
	if (!write_mode) {
		/* read straight into the slot's buffer, as hearth does */
		sl->iov = (struct scsi_iovec){ sl->buf, bs };
		scsi_task_set_iov_in(t, &sl->iov, 1);
	}
	issued++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	struct iscsi_url *u;
	struct scsi_task *t;
	struct scsi_readcapacity16 *rc;
	unsigned qd;
	double t0, c0, secs;

	if (argc != 6) {
		fprintf(stderr, "usage: iscsi_client URL MODE BS QD OPS\n");
		return 1;
	}
	ctx = iscsi_create_context("iqn.2026-01.hearth:bench");
	u = ctx ? iscsi_parse_full_url(ctx, argv[1]) : NULL;
	if (!u) {
		fprintf(stderr, "iscsi_client: bad URL\n");
		return 1;
	}
	iscsi_set_targetname(ctx, u->target);
	iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	lun = u->lun;
	if (iscsi_full_connect_sync(ctx, u->portal, lun)) {
		fprintf(stderr, "iscsi_client: %s\n", iscsi_get_error(ctx));
		return 1;
	}
	t = iscsi_readcapacity16_sync(ctx, lun);
	rc = t ? scsi_datain_unmarshall(t) : NULL;
	if (!rc) {
		fprintf(stderr, "iscsi_client: READ CAPACITY failed\n");
		return 1;
	}
	blksz = rc->block_length;
	write_mode = strstr(argv[2], "write") != NULL;
	rnd = !strncmp(argv[2], "rand", 4);
	bs = (uint32_t)strtoul(argv[3], NULL, 0);
	qd = (unsigned)strtoul(argv[4], NULL, 0);
	ops = strtoull(argv[5], NULL, 0);
	if (!bs || bs % blksz || !qd || qd > 256 || !ops) {
		fprintf(stderr, "iscsi_client: bad BS, QD or OPS\n");
		return 1;
	}
	blocks_per_io = bs / blksz;
	span = (rc->returned_lba + 1) / blocks_per_io;
	scsi_free_scsi_task(t);
	t0 = now();
	c0 = cpu();
	for (unsigned i = 0; i < qd && issued < ops; i++) {
		struct slot *sl = calloc(1, sizeof(*sl));

		if (!sl || !(sl->buf = aligned_alloc(4096, bs)))
			return 1;
		memset(sl->buf, (int)i, bs);
		issue(sl);
	}
	while (done_ops < ops && !failed) {
		struct pollfd p = { iscsi_get_fd(ctx), (short)iscsi_which_events(ctx), 0 };

		if (poll(&p, 1, 1000) < 0 || iscsi_service(ctx, p.revents) < 0) {
			fprintf(stderr, "iscsi_client: %s\n", iscsi_get_error(ctx));
			return 1;
		}
	}
	secs = now() - t0;
	if (failed) {
		fprintf(stderr, "iscsi_client: a request failed\n");
		return 1;
	}
	printf("%.0f %.1f %.2f\n", (double)ops / secs, (double)ops * bs / secs / 1e6,
	       (cpu() - c0) * 1e6 / (double)ops);
	iscsi_logout_sync(ctx);
	iscsi_destroy_context(ctx);
	return 0;
}
