// SPDX-License-Identifier: MIT
/*
 * iSCSI block backend on libiscsi. Login is synchronous, at startup, so bad
 * input fails before the guest runs; everything after is asynchronous on the
 * I/O thread: the session's socket is watched by the event loop (POLLOUT
 * too while libiscsi has bytes to send), iscsi_service() runs on readiness
 * and on a periodic timer (libiscsi's reconnect backoff, our own request
 * timeouts, retries), and completions reach the device through the same
 * reap path as the file engines: this is one of the peers behind struct
 * blkio_ops (include/hearth/blkio.h). Data moves straight between the
 * socket and guest memory (iovec tasks). docs/iscsi.md has the decisions.
 */
#include "hearth/iscsi.h"

#include <errno.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hearth/blkio.h"
#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/sandbox.h"

#define IREQ_MAX	  BLKIO_QUEUE_DEPTH
#define TICK_MS		  250
#define UA_RETRIES	  8
#define DEFAULT_INITIATOR "iqn.2026-01.hearth:vmm"

static struct log_ratelimit iscsi_rl;

struct ireq {
	struct iscsi_blk *ib;
	struct scsi_task *task; /* NULL when not on the wire */
	void *tag;
	enum blkio_op op;
	struct iovec iov[BLKIO_MAX_SEGS];      /* the whole request's buffers */
	struct scsi_iovec civ[BLKIO_MAX_SEGS]; /* the command's share of them */
	unsigned n;
	uint64_t off, len;
	uint64_t pos;	/* READ/WRITE: bytes done by earlier commands */
	uint32_t chunk; /* and by the command on the wire */
	uint64_t deadline;
	unsigned ua_retries;
	/* abandoned: answered, the task defused, libiscsi still holds it;
	 * overdue: past its deadline on a live session, awaiting the target */
	bool used, retry_later, abandoned, overdue;
	struct unmap_list ul;
	struct ireq *next; /* free list, retry list */
};

struct done_ent {
	void *tag;
	int64_t res;
};

struct iscsi_blk {
	struct blkio io; /* first: the ops get &io */
	struct iscsi_context *ctx;
	struct iscsi_addr url;
	char initiator[ISCSI_TARGET_MAX + 1];
	char portal[ISCSI_HOST_MAX + 16];
	unsigned lun;
	uint32_t bs;
	uint32_t cmd_max; /* bytes one READ/WRITE command carries */
	uint64_t blocks;
	bool wp, unmap_zeroes;
	uint64_t timeout_ns;
	int efd, tfd;
	/* I/O thread state */
	struct loop *loop;
	loop_cb cb;
	void *opaque;
	/* the loop watches own_fd, a descriptor of ours for libiscsi's socket
	 * sock_ino (see update_watch); sock_check: it reported an error or a
	 * hang-up, so look again at which socket libiscsi has now */
	int sock_watch, sock_fd, own_fd;
	ino_t sock_ino;
	dev_t sock_dev;
	bool sock_check;
	uint32_t sock_events, revents;
	bool tick, kicked; /* which of our descriptors the loop saw ready */
	unsigned char *zero_block;
	struct ireq reqs[IREQ_MAX], *free;
	unsigned inflight;
	struct done_ent done[IREQ_MAX];
	unsigned ndone;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- startup ---- */

static struct log_ratelimit session_rl;

/* libiscsi's log may quote login parameters: only what it says about the
 * session going away and coming back reaches ours. */
static void session_log(int level, const char *message)
{
	char line[256];
	size_t n = 0;

	(void)level;
	if (!strstr(message, "reconnect initiated") && !strstr(message, "reconnect try") &&
	    !strstr(message, "reconnect was successful"))
		return;
	for (const char *p = message; *p && n < sizeof(line) - 1; p++)
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			line[n++] = *p;
	line[n] = '\0';
	log_guest(&session_rl, "iSCSI session: %s", line);
}

static void ib_close(struct iscsi_blk *ib);
static int fail(struct iscsi_blk *ib, int ret, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(struct iscsi_blk *ib, int ret, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	ib_close(ib);
	return ret;
}

/* libiscsi's last error, as one printable line (it holds no secret: libiscsi
 * never has the URL, and its login errors name a status, not a value). */
static const char *ctx_error(struct iscsi_context *ctx)
{
	static char buf[256];
	const char *e = iscsi_get_error(ctx);
	size_t n = 0;

	if (!e || !*e)
		return "no detail";
	/* one line: control characters (libiscsi ends some with a newline) go */
	for (; *e && n < sizeof(buf) - 1; e++)
		if ((unsigned char)*e >= 0x20 && *e != 0x7f)
			buf[n++] = *e;
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

/* A plain TCP connect to the portal, for the reason libiscsi's message
 * does not give in a form users know ("Connection refused"). */
static int tcp_probe(const char *host, uint16_t port, uint64_t timeout_ns)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char p[8];
	int ret = -EHOSTUNREACH;

	snprintf(p, sizeof(p), "%u", port);
	if (getaddrinfo(host, p, &hints, &ai))
		return ret;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		struct timeval tv = { (time_t)(timeout_ns / 1000000000), 0 };
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);

		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		ret = connect(fd, a->ai_addr, a->ai_addrlen) ? -errno : 0;
		close(fd);
		if (!ret)
			break;
	}
	freeaddrinfo(ai);
	return ret;
}

static struct iscsi_context *new_ctx(struct iscsi_blk *ib, const struct iscsi_creds *c)
{
	struct iscsi_context *ctx = iscsi_create_context(ib->initiator);

	if (!ctx)
		return NULL;
	iscsi_set_log_fn(ctx, session_log);
	iscsi_set_log_level(ctx, 2);
	if (iscsi_set_targetname(ctx, ib->url.target) ||
	    iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL) ||
	    iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C) ||
	    (c->user[0] && iscsi_set_initiator_username_pwd(ctx, c->user, c->password)) ||
	    (c->target_user[0] &&
	     iscsi_set_target_username_pwd(ctx, c->target_user, c->target_password))) {
		iscsi_destroy_context(ctx);
		return NULL;
	}
	iscsi_set_no_ua_on_reconnect(ctx, 1);
	iscsi_set_reconnect_max_retries(ctx, -1);
	/* libiscsi's own PDU timeout bounds the synchronous login; it is set
	 * back to none once logged in (requests have our own timeout) */
	iscsi_set_timeout(ctx, (int)((ib->timeout_ns + 999999999) / 1000000000));
	return ctx;
}

/* Did libiscsi give up on a PDU for want of an answer? It stamps each PDU's
 * deadline with time(), whole seconds, so that can come up to a second
 * before timeout= has passed by our clock; its message is all it tells. */
static bool ctx_timed_out(struct iscsi_context *ctx)
{
	const char *e = iscsi_get_error(ctx);

	return e && strstr(e, "timed out");
}

static int no_answer(struct iscsi_blk *ib, char *err, size_t errlen)
{
	return fail(ib, -ETIMEDOUT, err, errlen,
		    "iSCSI: target '%s' at %s: no answer within %llu s", ib->url.target, ib->portal,
		    (unsigned long long)(ib->timeout_ns / 1000000000));
}

/* After a failed full connect: which step fails, for a message naming it. */
static int diagnose(struct iscsi_blk *ib, const struct iscsi_creds *c, const char *host,
		    uint64_t t0, char *err, size_t errlen)
{
	struct iscsi_context *d;
	int ret;

	if (now_ns() - t0 >= ib->timeout_ns || ctx_timed_out(ib->ctx))
		return no_answer(ib, err, errlen);
	ret = tcp_probe(host, ib->url.port, ib->timeout_ns);
	if (ret)
		return fail(ib, -ECONNREFUSED, err, errlen, "iSCSI: cannot connect to %s: %s",
			    ib->portal, strerror(-ret));
	d = new_ctx(ib, c);
	if (!d)
		return fail(ib, -ENOMEM, err, errlen, "iSCSI: out of memory");
	if (iscsi_connect_sync(d, ib->portal)) {
		ret = fail(ib, -ECONNREFUSED, err, errlen, "iSCSI: cannot connect to %s: %s",
			   ib->portal, ctx_error(d));
	} else if (iscsi_login_sync(d) && ctx_timed_out(d)) {
		ret = no_answer(ib, err, errlen);
	} else if (!iscsi_is_logged_in(d)) {
		ret = fail(ib, -EACCES, err, errlen,
			   "iSCSI: login to target '%s' at %s failed%s: %s", ib->url.target,
			   ib->portal, c->user[0] ? " (CHAP)" : "", ctx_error(d));
	} else {
		ret = fail(ib, -ENODEV, err, errlen,
			   "iSCSI: LUN %u of target '%s' at %s is not available: %s", ib->lun,
			   ib->url.target, ib->portal, ctx_error(d));
	}
	iscsi_destroy_context(d);
	return ret;
}

/* Block Limits VPD (what it means: lun.c): the most one UNMAP or WRITE
 * SAME may cover, so the guest's DISCARD and WRITE_ZEROES never exceed it,
 * and the MAXIMUM TRANSFER LENGTH: a longer READ or WRITE goes as several
 * commands (a target that does not say, or has no such page, gets
 * ISCSI_CMD_MAX_BYTES per command). */
static void block_limits(struct iscsi_blk *ib, struct iscsi_lun *lun, bool discard)
{
	struct scsi_task *t = iscsi_inquiry_sync(ib->ctx, (int)ib->lun, 1,
						 SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, 255);

	iscsi_lun_block_limits(t, lun);
	ib->cmd_max = iscsi_cmd_max_bytes(lun->max_xfer_blocks, ib->bs);
	if (discard && lun->max_discard_sectors)
		ib->io.max_discard_sectors = lun->max_discard_sectors;
	if (discard && lun->max_write_zeroes_sectors)
		ib->io.max_write_zeroes_sectors = lun->max_write_zeroes_sectors;
	if (t)
		scsi_free_scsi_task(t);
}

static const struct blkio_ops iscsi_ops;

int iscsi_blk_open(struct blkio **out, const struct iscsi_blk_opts *o, char *err, size_t errlen)
{
	struct iscsi_blk *ib = calloc(1, sizeof(*ib));
	struct iscsi_creds c;
	struct scsi_task *t;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char host[ISCSI_HOST_MAX + 1], num[NI_MAXHOST];
	struct iscsi_lun lun = { 0 };
	uint64_t t0;
	int ret, type;

	/* a reconnect, on the I/O thread, makes a new TCP socket
	 * (docs/security.md) */
	sandbox_need(SANDBOX_NEED_ISCSI);
	if (!ib)
		return -ENOMEM;
	ib->io = (struct blkio){ .ops = &iscsi_ops,
				 .engine = "libiscsi",
				 .max_discard_sectors = UINT32_MAX,
				 .max_write_zeroes_sectors = UINT32_MAX };
	ib->efd = ib->tfd = ib->own_fd = -1;
	ib->sock_watch = -1;
	ret = iscsi_url_parse(o->url, &ib->url, err, errlen);
	if (ret) {
		free(ib);
		return ret;
	}
	if (o->url_password && o->url_password[0] && !ib->url.password[0]) {
		/* the configuration keeps the URL's password apart */
		if (!ib->url.user[0] || strlen(o->url_password) >= sizeof(ib->url.password)) {
			snprintf(err, errlen, "bad iSCSI URL: a password needs a user name");
			ib_close(ib);
			return -EINVAL;
		}
		memcpy(ib->url.password, o->url_password, strlen(o->url_password) + 1);
	}
	ret = iscsi_creds_load(&c, &ib->url, o->secret, getenv, err, errlen);
	if (ret) {
		explicit_bzero(&c, sizeof(c));
		ib_close(ib);
		return ret;
	}
	if (o->initiator && (!o->initiator[0] || strlen(o->initiator) > ISCSI_TARGET_MAX)) {
		explicit_bzero(&c, sizeof(c));
		snprintf(err, errlen, "iSCSI: the initiator name must be 1 to %d bytes",
			 ISCSI_TARGET_MAX);
		ib_close(ib);
		return -EINVAL;
	}
	snprintf(ib->initiator, sizeof(ib->initiator), "%s",
		 o->initiator ? o->initiator : DEFAULT_INITIATOR);
	ib->lun = ib->url.lun;
	ib->timeout_ns = (o->timeout_ms ? o->timeout_ms : 30000) * 1000000ull;
	/* the name first, for a message of its own */
	snprintf(host, sizeof(host), "%.*s",
		 (int)(ib->url.host[0] == '[' ? strlen(ib->url.host) - 2 : strlen(ib->url.host)),
		 ib->url.host + (ib->url.host[0] == '['));
	ret = getaddrinfo(host, NULL, &hints, &ai);
	if (ret) {
		explicit_bzero(&c, sizeof(c));
		return fail(ib, -EHOSTUNREACH, err, errlen, "iSCSI: cannot resolve host '%s': %s",
			    host, gai_strerror(ret));
	}
	/* The portal by its address, resolved once here: libiscsi's reconnects
	 * resolve it again on the I/O thread, whose filter lets no name service
	 * open a file or a socket (docs/security.md). */
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num), NULL, 0, NI_NUMERICHOST))
		snprintf(num, sizeof(num), "%s", host);
	snprintf(ib->portal, sizeof(ib->portal), ai->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 num, ib->url.port);
	freeaddrinfo(ai);

	ib->ctx = new_ctx(ib, &c);
	if (!ib->ctx) {
		explicit_bzero(&c, sizeof(c));
		return fail(ib, -ENOMEM, err, errlen, "iSCSI: cannot create a libiscsi context");
	}
	t0 = now_ns();
	if (iscsi_full_connect_sync(ib->ctx, ib->portal, (int)ib->lun)) {
		ret = diagnose(ib, &c, host, t0, err, errlen);
		explicit_bzero(&c, sizeof(c));
		return ret;
	}
	explicit_bzero(&c, sizeof(c));
	/* logged in: libiscsi keeps the one copy its reconnects need */
	explicit_bzero(ib->url.password, sizeof(ib->url.password));

	/* a disk? (what the answers mean: lun.c) */
	t = iscsi_inquiry_sync(ib->ctx, (int)ib->lun, 0, 0, 255);
	ret = iscsi_lun_inquiry(t, &type);
	if (t)
		scsi_free_scsi_task(t);
	if (ret && type < 0)
		return fail(ib, -ENODEV, err, errlen, "iSCSI: INQUIRY of LUN %u failed: %s",
			    ib->lun, ctx_error(ib->ctx));
	if (ret)
		return fail(ib, -ENODEV, err, errlen,
			    "iSCSI: LUN %u of target '%s' is not a disk (device type %d)", ib->lun,
			    ib->url.target, type);

	t = iscsi_readcapacity16_sync(ib->ctx, (int)ib->lun);
	ret = iscsi_lun_capacity(t, &lun);
	if (t)
		scsi_free_scsi_task(t);
	if (ret == -EIO)
		return fail(ib, -ENODEV, err, errlen,
			    "iSCSI: READ CAPACITY(16) of LUN %u failed: %s", ib->lun,
			    ctx_error(ib->ctx));
	if (ret)
		return fail(ib, -ENODEV, err, errlen,
			    "iSCSI: LUN %u has an unusable geometry (block size %u)", ib->lun,
			    lun.block_size);
	ib->bs = lun.block_size;
	ib->blocks = lun.blocks;
	ib->unmap_zeroes = lun.unmap_zeroes;
	ib->io.size = lun.bytes;
	ib->io.block_size = ib->bs;

	/* write protected? */
	t = iscsi_modesense6_sync(ib->ctx, (int)ib->lun, 1, SCSI_MODESENSE_PC_CURRENT,
				  SCSI_MODEPAGE_RETURN_ALL_PAGES, 0, 255);
	ib->wp = iscsi_lun_write_protected(t);
	if (t)
		scsi_free_scsi_task(t);
	ib->io.readonly = ib->wp;

	if (o->discard && !o->readonly && !ib->wp) {
		bool can;

		t = iscsi_inquiry_sync(ib->ctx, (int)ib->lun, 1,
				       SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING, 255);
		can = iscsi_lun_can_unmap(t);
		if (t)
			scsi_free_scsi_task(t);
		if (!can)
			return fail(ib, -EOPNOTSUPP, err, errlen,
				    "iSCSI: LUN %u cannot UNMAP (not thin-provisioned): drop "
				    "discard=on",
				    ib->lun);
	}
	block_limits(ib, &lun, o->discard && !o->readonly && !ib->wp);

	iscsi_set_timeout(ib->ctx, 0);
	ib->zero_block = calloc(1, ib->bs);
	ib->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ib->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!ib->zero_block || ib->efd < 0 || ib->tfd < 0)
		return fail(ib, -errno, err, errlen, "iSCSI: %s", strerror(errno));
	for (unsigned i = 0; i < IREQ_MAX; i++) {
		ib->reqs[i].ib = ib;
		ib->reqs[i].next = ib->free;
		ib->free = &ib->reqs[i];
	}
	*out = &ib->io;
	return 0;
}

int iscsi_blk_read_sync(struct blkio *io, uint64_t off, void *buf, size_t len)
{
	struct iscsi_blk *ib = (struct iscsi_blk *)io;

	if (!iscsi_req_ok(true, off, len, ib->bs, ib->blocks))
		return -EINVAL;
	for (uint64_t done = 0; done < len;) {
		uint32_t n = len - done < ib->cmd_max ? (uint32_t)(len - done) : ib->cmd_max;
		struct scsi_iovec v = { (char *)buf + done, n };
		int res = -EIO;

		for (unsigned try = 0; try <= UA_RETRIES; try++) {
			struct scsi_task *t =
				iscsi_read16_iov_sync(ib->ctx, (int)ib->lun, (off + done) / ib->bs,
						      n, (int)ib->bs, 0, 0, 0, 0, 0, &v, 1);
			enum iscsi_verdict verdict = ISCSI_DONE;

			res = -EIO;
			if (t) {
				verdict = iscsi_sense_verdict(t->status, (int)t->sense.key,
							      t->sense.ascq, &res);
				/* a short answer is a failure, as on the I/O thread */
				if (!res && t->residual_status == SCSI_RESIDUAL_UNDERFLOW &&
				    t->residual)
					res = -EIO;
				scsi_free_scsi_task(t);
			}
			if (verdict == ISCSI_DONE)
				break;
		}
		if (res)
			return res;
		done += n;
	}
	return 0;
}

static void ib_close(struct iscsi_blk *ib)
{
	if (ib->ctx) {
		/* requests still in flight: their callbacks must not run on freed slots */
		iscsi_destroy_context(ib->ctx);
	}
	if (ib->efd >= 0)
		close(ib->efd);
	if (ib->tfd >= 0)
		close(ib->tfd);
	if (ib->own_fd >= 0)
		close(ib->own_fd);
	free(ib->zero_block);
	explicit_bzero(&ib->url, sizeof(ib->url));
	free(ib);
}

/* ---- I/O ---- */

static void kick(struct iscsi_blk *ib)
{
	eventfd_write(ib->efd, 1);
}

static void finish(struct iscsi_blk *ib, struct ireq *r, int64_t res)
{
	if (!r->abandoned) {
		/* ndone cannot overflow: one entry per request slot */
		ib->done[ib->ndone++] = (struct done_ent){ r->tag, res };
	}
	r->used = r->abandoned = r->retry_later = r->overdue = false;
	r->task = NULL;
	r->next = ib->free;
	ib->free = r;
	ib->inflight--;
}

static void task_cb(struct iscsi_context *ctx, int status, void *data, void *priv);

/* Puts @r on the wire. Returns 0 or -errno (the request is not sent). */
static int send_req(struct iscsi_blk *ib, struct ireq *r)
{
	uint64_t lba = r->off / ib->bs;
	uint32_t blocks = (uint32_t)(r->len / ib->bs);
	int lun = (int)ib->lun;

	switch (r->op) {
	case BLKIO_READ:
	case BLKIO_WRITE: {
		/* the next command's share: at most cmd_max bytes from pos */
		struct iovec part[BLKIO_MAX_SEGS];
		int k = iscsi_chunk(r->iov, r->n, r->len, r->pos, ib->cmd_max, part, BLKIO_MAX_SEGS,
				    &r->chunk);

		if (k < 0)
			return -EINVAL;
		for (int i = 0; i < k; i++)
			r->civ[i] = (struct scsi_iovec){ part[i].iov_base, part[i].iov_len };
		lba = (r->off + r->pos) / ib->bs;
		if (r->op == BLKIO_READ)
			r->task = iscsi_read16_iov_task(ib->ctx, lun, lba, r->chunk, (int)ib->bs, 0,
							0, 0, 0, 0, task_cb, r, r->civ, k);
		else
			r->task = iscsi_write16_iov_task(ib->ctx, lun, lba, NULL, r->chunk,
							 (int)ib->bs, 0, 0, 0, 0, 0, task_cb, r,
							 r->civ, k);
		break;
	}
	case BLKIO_FLUSH:
		r->task = iscsi_synchronizecache16_task(ib->ctx, lun, 0, 0, 0, 0, task_cb, r);
		break;
	case BLKIO_DISCARD:
		r->ul = (struct unmap_list){ lba, blocks };
		r->task = iscsi_unmap_task(ib->ctx, lun, 0, 0, &r->ul, 1, task_cb, r);
		break;
	case BLKIO_WRITE_ZEROES:
		/* UNMAP=1 only where unmapped blocks are known to read back as zeroes */
		r->task = iscsi_writesame16_task(ib->ctx, lun, lba, ib->zero_block, ib->bs, blocks,
						 0, ib->unmap_zeroes, 0, 0, task_cb, r);
		break;
	default: return -EINVAL;
	}
	return r->task ? 0 : -ENOMEM;
}

static void task_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct ireq *r = priv;
	struct iscsi_blk *ib = r->ib;
	struct scsi_task *task = data;
	int key = 0, ascq = 0, res;
	size_t residual = 0;
	bool under = false;
	enum iscsi_verdict v;

	(void)ctx;
	if (task) {
		key = (int)task->sense.key;
		ascq = task->sense.ascq;
		under = task->residual_status == SCSI_RESIDUAL_UNDERFLOW;
		residual = task->residual;
		scsi_free_scsi_task(task);
	}
	r->task = NULL;
	if (r->abandoned) {
		/* the defused task, back from libiscsi: the guest was answered */
		finish(ib, r, -ETIMEDOUT);
		return;
	}
	if (status == SCSI_STATUS_CANCELLED) {
		finish(ib, r, r->deadline && now_ns() >= r->deadline ? -ETIMEDOUT : -ECANCELED);
		return;
	}
	v = iscsi_sense_verdict(status, key, ascq, &res);
	if (v == ISCSI_RETRY) {
		if (now_ns() >= r->deadline) {
			finish(ib, r, -ETIMEDOUT); /* nothing of it is left on the wire */
			return;
		}
		if (status == SCSI_STATUS_CHECK_CONDITION && key == SCSI_SENSE_UNIT_ATTENTION &&
		    r->ua_retries++ < UA_RETRIES && !send_req(ib, r))
			return;
		r->retry_later = true; /* the next tick sends it again, or times it out */
		return;
	}
	if (res == 0 && (r->op == BLKIO_READ || r->op == BLKIO_WRITE)) {
		uint64_t got =
			under ? r->chunk - (residual < r->chunk ? residual : r->chunk) : r->chunk;

		r->pos += got;
		/* a short command ends the request: a short count is a failure */
		if (got < r->chunk || r->pos == r->len) {
			finish(ib, r, (int64_t)r->pos);
			return;
		}
		/* the next command, unless the request's time is up (nothing of
		 * it is on the wire now, so failing it here is safe) */
		if (now_ns() >= r->deadline) {
			finish(ib, r, -ETIMEDOUT);
			return;
		}
		r->ua_retries = 0;
		if (send_req(ib, r))
			finish(ib, r, -EIO);
		return;
	}
	finish(ib, r, res);
	if (res && res != -EOPNOTSUPP)
		log_guest(&iscsi_rl, "iSCSI: command failed: status 0x%x, sense %x/%04x", status,
			  key, ascq);
}

static int iscsi_queue(struct blkio *io, enum blkio_op op, const struct iovec *iov, unsigned n,
		       uint64_t off, uint64_t len, void *tag)
{
	struct iscsi_blk *ib = (struct iscsi_blk *)io;
	struct ireq *r = ib->free;

	if (!r)
		return -EAGAIN;
	if (n > BLKIO_MAX_SEGS)
		return -EINVAL;
	ib->free = r->next;
	ib->inflight++;
	/* field by field: the iovec array is only as long as @n says */
	r->tag = tag;
	r->op = op;
	r->n = n;
	r->off = off;
	r->len = len;
	r->pos = 0;
	r->chunk = 0;
	r->ua_retries = 0;
	r->used = true;
	r->retry_later = r->abandoned = r->overdue = false;
	r->task = NULL;
	r->deadline = now_ns() + ib->timeout_ns;
	if (op == BLKIO_READ || op == BLKIO_WRITE)
		memcpy(r->iov, iov, n * sizeof(*iov));
	/* the LUN's block is the unit, inside the LUN, in lengths we carry:
	 * anything else is the guest's error */
	if (op != BLKIO_FLUSH &&
	    !iscsi_req_ok(op == BLKIO_READ || op == BLKIO_WRITE, off, len, ib->bs, ib->blocks)) {
		finish(ib, r, -EINVAL);
		kick(ib);
		return 0;
	}
	if (len == 0 && (op == BLKIO_READ || op == BLKIO_WRITE)) {
		finish(ib, r, 0); /* nothing to move */
		kick(ib);
		return 0;
	}
	if (send_req(ib, r)) {
		finish(ib, r, -EIO);
		kick(ib);
	}
	return 0;
}

static bool iscsi_ready(struct blkio *io)
{
	struct iscsi_blk *ib = (struct iscsi_blk *)io;

	return ib->ndone > 0;
}

/* Writes what libiscsi has queued, if the socket takes it now. poll()
 * tells for sure (a session that is still connecting must not be told it
 * is writable). libiscsi sets TCP_NODELAY and sends each PDU's header and
 * data with calls of their own, so a batch of N requests would leave as 2N
 * segments, each waking the target; corked, the batch leaves as a few full
 * segments when uncorked, at once (the cork never outlives this call).
 * What does not fit waits for POLLOUT (update_watch). */
static void write_queued(struct iscsi_blk *ib)
{
	struct pollfd p = { .fd = iscsi_get_fd(ib->ctx), .events = POLLOUT };
	int on = 1, off = 0;

	if (iscsi_out_queue_length(ib->ctx) == 0 || p.fd < 0 || poll(&p, 1, 0) != 1 || !p.revents)
		return;
	setsockopt(p.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	if (iscsi_service(ib->ctx, p.revents) < 0)
		log_guest(&iscsi_rl, "iSCSI: %s", ctx_error(ib->ctx));
	/* the same descriptor number even if libiscsi reconnected meanwhile
	 * (it dup2()s the new socket there); uncorking only pushes data */
	setsockopt(p.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
}

static void iscsi_submit(struct blkio *io)
{
	struct iscsi_blk *ib = (struct iscsi_blk *)io;

	/* Write what was queued now rather than on the next POLLOUT: the socket
	 * is almost always writable. The I/O thread arms POLLOUT for the rest
	 * when the kick wakes it. */
	if (iscsi_out_queue_length(ib->ctx) > 0) {
		write_queued(ib);
		if ((iscsi_which_events(ib->ctx) & POLLOUT) || ib->ndone)
			kick(ib);
	} else if (ib->ndone) {
		kick(ib);
	}
}

/* A task libiscsi holds for a reconnect becomes a TEST UNIT READY: the
 * reconnect sends it again from these fields (not from the PDU built
 * before), and now it carries no data either way, so neither the LUN nor
 * the guest's buffers can see it once the guest has been answered. */
static void defuse(struct scsi_task *t)
{
	memset(t->cdb, 0, sizeof(t->cdb));
	t->cdb_size = 6;
	t->xfer_dir = SCSI_XFER_NONE;
	t->expxferlen = 0;
	memset(&t->iovector_in, 0, sizeof(t->iovector_in));
	memset(&t->iovector_out, 0, sizeof(t->iovector_out));
}

/* @r's deadline has passed. The guest is answered only where nothing of
 * the request can reach the LUN or guest memory after the answer
 * (docs/iscsi.md, "Timeouts and reconnects"). */
static void timed_out(struct iscsi_blk *ib, struct ireq *r)
{
	if (!r->task) {
		/* waiting for a retry in hearth: libiscsi has nothing of it */
		log_guest(&iscsi_rl, "iSCSI: request timed out at offset %llu",
			  (unsigned long long)r->off);
		finish(ib, r, -ETIMEDOUT);
	} else if (!iscsi_is_logged_in(ib->ctx)) {
		/* the session is down: libiscsi keeps every task (queued or
		 * sent on the dead connection) to send again on the next one */
		log_guest(&iscsi_rl, "iSCSI: request timed out at offset %llu (session down)",
			  (unsigned long long)r->off);
		defuse(r->task);
		ib->done[ib->ndone++] = (struct done_ent){ r->tag, -ETIMEDOUT };
		r->abandoned = true;
	} else if (!r->overdue) {
		/* on a live session the target has it, or will read it: only
		 * its answer (or the session's end) says it will not run later */
		log_guest(&iscsi_rl,
			  "iSCSI: request timed out at offset %llu; the target holds it, "
			  "waiting for its answer",
			  (unsigned long long)r->off);
		r->overdue = true;
	}
}

/* The tick: retries that waited, and our own timeouts. */
static void scan(struct iscsi_blk *ib)
{
	uint64_t now = now_ns();

	for (unsigned i = 0; i < IREQ_MAX; i++) {
		struct ireq *r = &ib->reqs[i];

		if (!r->used || r->abandoned)
			continue;
		if (now >= r->deadline) {
			timed_out(ib, r);
			continue;
		}
		if (r->retry_later) {
			r->retry_later = false;
			if (send_req(ib, r))
				r->retry_later = true;
		}
	}
}

/* The socket's readiness, kept for iscsi_service(), then the device's
 * completion path (which takes its lock and reaps). */
static void sock_ready(void *opaque, uint32_t events)
{
	struct iscsi_blk *ib = opaque;

	ib->revents |= events;
	if (events & (POLLERR | POLLHUP))
		ib->sock_check = true;
	ib->cb(ib->opaque, events);
}

/* The timer and the kick eventfd: noted, so a completion on the socket
 * costs no read() of descriptors that are not ready. */
static void tick_ready(void *opaque, uint32_t events)
{
	struct iscsi_blk *ib = opaque;

	ib->tick = true;
	ib->cb(ib->opaque, events);
}

static void kick_ready(void *opaque, uint32_t events)
{
	struct iscsi_blk *ib = opaque;

	ib->kicked = true;
	ib->cb(ib->opaque, events);
}

static void drop_watch(struct iscsi_blk *ib)
{
	if (ib->sock_watch >= 0)
		loop_unwatch(ib->loop, ib->sock_watch);
	ib->sock_watch = -1;
	if (ib->own_fd >= 0)
		close(ib->own_fd);
	ib->own_fd = -1;
}

/* Watches what libiscsi wants now. The loop watches a descriptor of
 * hearth's own (a dup) for libiscsi's socket, not libiscsi's: on a
 * reconnect libiscsi connects a new socket under a new number, then
 * dup2()s it over the old number and closes the new one. An epoll
 * registration of that new number would outlive its number (the socket
 * stays open under the old one) where no EPOLL_CTL_DEL can reach it, and
 * keep reporting, a writable socket forever: the I/O thread would spin.
 * A descriptor of our own can always be unwatched and closed. Which socket
 * libiscsi has is told by its inode, looked at when the number changes,
 * on @force (the tick) and after an error or a hang-up. */
static void update_watch(struct iscsi_blk *ib, bool force)
{
	int fd = iscsi_get_fd(ib->ctx);
	uint32_t ev = (uint32_t)iscsi_which_events(ib->ctx) & (POLLIN | POLLOUT);
	struct stat st;

	if (fd < 0 || !ev) {
		drop_watch(ib);
		return;
	}
	if (ib->own_fd < 0 || fd != ib->sock_fd || force || ib->sock_check) {
		ib->sock_check = false;
		if (fstat(fd, &st)) {
			drop_watch(ib);
			return;
		}
		if (ib->own_fd >= 0 && (st.st_ino != ib->sock_ino || st.st_dev != ib->sock_dev))
			drop_watch(ib); /* another socket: the old one's watch goes */
		if (ib->own_fd < 0) {
			ib->own_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			if (ib->own_fd < 0) {
				log_warn("iSCSI: cannot watch the session socket: %s",
					 strerror(errno));
				return;
			}
			ib->sock_ino = st.st_ino;
			ib->sock_dev = st.st_dev;
		}
	} else if (ib->sock_watch >= 0 && ev == ib->sock_events) {
		return;
	}
	if (ib->sock_watch >= 0 && loop_rewatch(ib->loop, ib->sock_watch, ib->own_fd, ev, force))
		ib->sock_watch = -1;
	if (ib->sock_watch < 0)
		ib->sock_watch = loop_watch_events(ib->loop, ib->own_fd, ev, sock_ready, ib);
	if (ib->sock_watch < 0)
		log_warn("iSCSI: cannot watch the session socket: %s", strerror(-ib->sock_watch));
	ib->sock_fd = fd;
	ib->sock_events = ev;
}

static void iscsi_reap(struct blkio *io, blkio_done_fn done, void *ctx)
{
	struct iscsi_blk *ib = (struct iscsi_blk *)io;
	eventfd_t v;
	uint64_t expirations;
	bool tick =
		ib->tick && read(ib->tfd, &expirations, sizeof(expirations)) == sizeof(expirations);
	struct done_ent local[IREQ_MAX];
	unsigned n;

	if (ib->kicked)
		eventfd_read(ib->efd, &v);
	ib->tick = ib->kicked = false;
	/* readiness the loop reported, or none on a tick (libiscsi's timers) */
	if ((ib->revents || tick) && iscsi_service(ib->ctx, (int)ib->revents) < 0)
		log_guest(&iscsi_rl, "iSCSI: %s", ctx_error(ib->ctx));
	ib->revents = 0;
	if (tick)
		scan(ib);
	/* what reading queued (Data-Out for an R2T, NOP-Out answers) and the
	 * retries go now, not one loop turn and two re-arms of the watch later */
	write_queued(ib);
	if (ib->loop)
		update_watch(ib, tick);
	/* done() may queue new requests (and add to ib->done): work on a copy */
	n = ib->ndone;
	memcpy(local, ib->done, n * sizeof(local[0]));
	ib->ndone = 0;
	for (unsigned i = 0; i < n; i++)
		done(ctx, local[i].tag, local[i].res);
}

static int iscsi_attach(struct blkio *io, struct loop *l, loop_cb cb, void *opaque)
{
	struct iscsi_blk *ib = (struct iscsi_blk *)io;
	struct itimerspec its = { { 0, TICK_MS * 1000000L }, { 0, TICK_MS * 1000000L } };

	ib->loop = l;
	ib->cb = cb;
	ib->opaque = opaque;
	if (timerfd_settime(ib->tfd, 0, &its, NULL))
		return -errno;
	if (loop_watch(l, ib->efd, kick_ready, ib) < 0 ||
	    loop_watch(l, ib->tfd, tick_ready, ib) < 0)
		return -ENOSPC;
	update_watch(ib, true);
	return ib->sock_watch < 0 ? -EIO : 0;
}

static int iscsi_event_fd(const struct blkio *io)
{
	return ((const struct iscsi_blk *)io)->efd;
}

static void iscsi_close(struct blkio *io)
{
	ib_close((struct iscsi_blk *)io);
}

static const struct blkio_ops iscsi_ops = {
	.queue = iscsi_queue,
	.submit = iscsi_submit,
	.ready = iscsi_ready,
	.reap = iscsi_reap,
	.attach = iscsi_attach,
	.event_fd = iscsi_event_fd,
	.close = iscsi_close,
};
