// SPDX-License-Identifier: MIT
/* The iSCSI backend's pure parts: iscsi:// URLs (hostile ones too), CHAP
 * credential sources and the SCSI sense -> virtio-blk mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "hearth/blkio.h"
#include "hearth/config.h"
#include "hearth/iscsi.h"
#include "hearth/vm.h"

static char err[512];

static int parse(const char *s, struct iscsi_addr *u)
{
	err[0] = '\0';
	return iscsi_url_parse(s, u, err, sizeof(err));
}

static void good_urls(void **state)
{
	struct iscsi_addr u;

	(void)state;
	assert_int_equal(parse("iscsi://127.0.0.1/iqn.2026-01.org.example:target/1", &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 3260);
	assert_string_equal(u.target, "iqn.2026-01.org.example:target");
	assert_int_equal(u.lun, 1);
	assert_string_equal(u.user, "");
	assert_string_equal(u.password, "");

	assert_int_equal(parse("iscsi://alice%s3cret!@storage.example:3261/iqn.x:y/0", &u), 0);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.password, "s3cret!");
	assert_string_equal(u.host, "storage.example");
	assert_int_equal(u.port, 3261);
	assert_int_equal(u.lun, 0);

	assert_int_equal(parse("iscsi://bob@[::1]:65535/eui.0123456789ABCDEF/16383", &u), 0);
	assert_string_equal(u.user, "bob");
	assert_string_equal(u.password, "");
	assert_string_equal(u.host, "[::1]");
	assert_int_equal(u.port, 65535);
	assert_string_equal(u.target, "eui.0123456789ABCDEF");
	assert_int_equal(u.lun, 16383);
}

static void hostile_urls(void **state)
{
	static const struct {
		const char *url, *why;
	} bad[] = {
		{ "", "must start with iscsi://" },
		{ "http://h/iqn.x:y/1", "must start with iscsi://" },
		{ "ISCSI://h/iqn.x:y/1", "must start with iscsi://" },
		{ "iscsi://", "no /target/lun" },
		{ "iscsi://h", "no /target/lun" },
		{ "iscsi://h/iqn.x:y", "no /lun" },
		{ "iscsi://h/iqn.x:y/", "missing or bad LUN" },
		{ "iscsi://h//1", "empty or too long target" },
		{ "iscsi:///iqn.x:y/1", "no host" },
		{ "iscsi://h:/iqn.x:y/1", "bad port" },
		{ "iscsi://h:0/iqn.x:y/1", "port out of range" },
		{ "iscsi://h:65536/iqn.x:y/1", "port out of range" },
		{ "iscsi://h:123456/iqn.x:y/1", "bad port" },
		{ "iscsi://h:-1/iqn.x:y/1", "bad port" },
		{ "iscsi://h:80x/iqn.x:y/1", "bad port" },
		{ "iscsi://h:3260:1/iqn.x:y/1", "bad port" },
		{ "iscsi://h/iqn.x:y/16384", "LUN out of range" },
		{ "iscsi://h/iqn.x:y/123456", "missing or bad LUN" },
		{ "iscsi://h/iqn.x:y/-1", "decimal" },
		{ "iscsi://h/iqn.x:y/0x1", "decimal" },
		{ "iscsi://h/iqn.x:y/1/2", "decimal" },
		{ "iscsi://h/iqn.x:y/1 ", "decimal" },
		{ "iscsi://h/iqn.x y/1", "target name has a forbidden" },
		{ "iscsi://h/iqn.x%2fy/1", "target name has a forbidden" },
		{ "iscsi://h/iqn.x\ny/1", "target name has a forbidden" },
		{ "iscsi://h;rm -rf/iqn.x:y/1", "host has a forbidden" },
		{ "iscsi://h\x01/iqn.x:y/1", "host has a forbidden" },
		{ "iscsi://[::1/iqn.x:y/1", "IPv6" },
		{ "iscsi://[]/iqn.x:y/1", "IPv6" },
		{ "iscsi://[::g]/iqn.x:y/1", "IPv6" },
		{ "iscsi://[::1]x/iqn.x:y/1", "bad port" },
		{ "iscsi://@h/iqn.x:y/1", "empty or too long user" },
		{ "iscsi://%pw@h/iqn.x:y/1", "empty or too long user" },
		{ "iscsi://u%@h/iqn.x:y/1", "empty or too long password" },
		{ "iscsi://u%a b@h/iqn.x:y/1", "password has a forbidden" },
		{ "iscsi://u%a%b@h/iqn.x:y/1", "password has a forbidden" },
		{ "iscsi://u v%pw@h/iqn.x:y/1", "user name has a forbidden" },
		{ "iscsi://u%pw@x@h/iqn.x:y/1", "more than one '@'" },
	};
	struct iscsi_addr u;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i].url, &u);

		if (r != -EINVAL || !strstr(err, bad[i].why))
			fail_msg("'%s': ret %d, err '%s', wanted '%s'", bad[i].url, r, err,
				 bad[i].why);
		assert_null(strchr(err, '\n'));
	}
	assert_int_equal(parse(NULL, &u), -EINVAL);
}

static void limits(void **state)
{
	char url[2048], name[300];
	struct iscsi_addr u;

	(void)state;
	/* a 223-byte target name is the most RFC 3720 allows */
	memset(name, 'a', 223);
	name[223] = '\0';
	snprintf(url, sizeof(url), "iscsi://h/%s/1", name);
	assert_int_equal(parse(url, &u), 0);
	assert_int_equal(strlen(u.target), 223);
	snprintf(url, sizeof(url), "iscsi://h/%sa/1", name);
	assert_int_equal(parse(url, &u), -EINVAL);
	/* host names: 253 bytes */
	memset(name, 'h', 253);
	name[253] = '\0';
	snprintf(url, sizeof(url), "iscsi://%s/t/1", name);
	assert_int_equal(parse(url, &u), 0);
	snprintf(url, sizeof(url), "iscsi://%sh/t/1", name);
	assert_int_equal(parse(url, &u), -EINVAL);
	/* user, password: 255 bytes */
	memset(name, 'p', 256);
	name[256] = '\0';
	snprintf(url, sizeof(url), "iscsi://u%%%s@h/t/1", name);
	assert_int_equal(parse(url, &u), -EINVAL);
	assert_null(strstr(err, "ppp")); /* never echoed */
	snprintf(url, sizeof(url), "iscsi://u%%%s@h/t/1", name + 1);
	assert_int_equal(parse(url, &u), 0);
	/* the whole URL */
	memset(url, 'a', sizeof(url));
	memcpy(url, "iscsi://", 8);
	url[sizeof(url) - 1] = '\0';
	assert_int_equal(parse(url, &u), -EINVAL);
	assert_non_null(strstr(err, "too long"));
}

static void password_never_in_errors(void **state)
{
	static const char *const urls[] = {
		"iscsi://u%Secr3t@h:0/t/1", "iscsi://u%Secr3t@h/t/99999", "iscsi://u%Secr3t@h/t",
		"iscsi://u%Secr3t@/t/1",    "iscsi://u%Secr3t@h/t t/1",	  "iscsi://u%Secr3t@@h/t/1",
		"iscsi://u%Secr3t x@h/t/1", "iscsi://u%Secr3t@h;x/t/1",
	};
	struct iscsi_addr u;
	char red[256];

	(void)state;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		assert_int_equal(parse(urls[i], &u), -EINVAL);
		if (strstr(err, "Secr3t"))
			fail_msg("'%s' leaked into '%s'", urls[i], err);
	}
	iscsi_url_redact("iscsi://u%Secr3t@h:3260/iqn.x:y/1", red, sizeof(red));
	assert_string_equal(red, "iscsi://u%***@h:3260/iqn.x:y/1");
	iscsi_url_redact("iscsi://h/iqn.x:y/1", red, sizeof(red));
	assert_string_equal(red, "iscsi://h/iqn.x:y/1");
	iscsi_url_redact("iscsi://u@h/iqn.x:y/1", red, sizeof(red));
	assert_string_equal(red, "iscsi://u@h/iqn.x:y/1");
	/* a '%' after the authority is not a password */
	iscsi_url_redact("iscsi://h/iqn%x/1", red, sizeof(red));
	assert_string_equal(red, "iscsi://h/iqn%x/1");
	{
		char bare[ISCSI_URL_MAX], pw[ISCSI_URL_MAX];

		iscsi_url_split("iscsi://u%Secr3t@h:3260/iqn.x:y/1", bare, pw);
		assert_string_equal(bare, "iscsi://u@h:3260/iqn.x:y/1");
		assert_string_equal(pw, "Secr3t");
		iscsi_url_split("iscsi://u@h/iqn.x:y/1", bare, pw);
		assert_string_equal(bare, "iscsi://u@h/iqn.x:y/1");
		assert_string_equal(pw, "");
		iscsi_url_split("iscsi://h/iqn%x/1", bare, pw);
		assert_string_equal(bare, "iscsi://h/iqn%x/1");
		assert_string_equal(pw, "");
	}
}

/* ---- credentials ---- */

static const char *env_vals[4];
static char *fake_getenv(const char *name)
{
	static const char *const names[] = { "HEARTH_ISCSI_USER", "HEARTH_ISCSI_PASSWORD",
					     "HEARTH_ISCSI_TARGET_USER",
					     "HEARTH_ISCSI_TARGET_PASSWORD" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i]))
			return (char *)env_vals[i];
	return NULL;
}

static char *write_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/hearth-test-secret.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void creds(void **state)
{
	struct iscsi_addr u;
	struct iscsi_creds c;
	char *f;

	(void)state;
	/* the URL first */
	assert_int_equal(parse("iscsi://url-user%url-pw@h/t/1", &u), 0);
	env_vals[0] = "env-user";
	env_vals[1] = "env-pw";
	assert_int_equal(iscsi_creds_load(&c, &u, NULL, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(c.user, "url-user");
	assert_string_equal(c.password, "url-pw");
	/* then the environment */
	assert_int_equal(parse("iscsi://h/t/1", &u), 0);
	assert_int_equal(iscsi_creds_load(&c, &u, NULL, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(c.user, "env-user");
	assert_string_equal(c.password, "env-pw");
	assert_string_equal(c.target_user, "");
	/* a file wins over the environment; comments, CRLF */
	f = write_file("# mutual\r\nuser=file-user\npassword=p,w with spaces@%\n"
		       "target_user=tu\ntarget_password=tp\n");
	assert_int_equal(iscsi_creds_load(&c, &u, f, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(c.user, "file-user");
	assert_string_equal(c.password, "p,w with spaces@%");
	assert_string_equal(c.target_user, "tu");
	assert_string_equal(c.target_password, "tp");
	unlink(f);
	/* half a pair */
	env_vals[0] = NULL;
	assert_int_equal(iscsi_creds_load(&c, &u, NULL, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs both a user and a password"));
	assert_null(strstr(err, "env-pw"));
	env_vals[0] = "env-user";
	env_vals[2] = "tu";
	assert_int_equal(iscsi_creds_load(&c, &u, NULL, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mutual CHAP needs both"));
	env_vals[3] = "tp";
	env_vals[0] = env_vals[1] = NULL;
	assert_int_equal(iscsi_creds_load(&c, &u, NULL, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "initiator's CHAP user too"));
	env_vals[2] = env_vals[3] = NULL;
	/* hostile values */
	env_vals[0] = "u";
	env_vals[1] = "bad\x01pw";
	assert_int_equal(iscsi_creds_load(&c, &u, NULL, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "control character"));
	env_vals[0] = env_vals[1] = NULL;
	f = write_file("user=u\npasswd=x\n");
	assert_int_equal(iscsi_creds_load(&c, &u, f, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	unlink(f);
	f = write_file("user=u\npassword=\n");
	assert_int_equal(iscsi_creds_load(&c, &u, f, fake_getenv, err, sizeof(err)), -EINVAL);
	unlink(f);
	f = write_file("user=u\0password=x\n");
	unlink(f);
	assert_int_equal(
		iscsi_creds_load(&c, &u, "/nonexistent/secret", fake_getenv, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "/nonexistent/secret"));
	assert_int_equal(iscsi_creds_load(&c, &u, "/tmp", fake_getenv, err, sizeof(err)), -EINVAL);
	/* no credentials at all is fine */
	assert_int_equal(iscsi_creds_load(&c, &u, NULL, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(c.user, "");
}

/* ---- sense data ---- */

static void sense(void **state)
{
	static const struct {
		int status, key, ascq;
		enum iscsi_verdict v;
		int res;
	} rows[] = {
		{ 0x00, 0, 0, ISCSI_DONE, 0 },			/* GOOD */
		{ 0x04, 0, 0, ISCSI_DONE, 0 },			/* CONDITION MET */
		{ 0x08, 0, 0, ISCSI_RETRY, 0 },			/* BUSY */
		{ 0x28, 0, 0, ISCSI_RETRY, 0 },			/* TASK SET FULL */
		{ 0x40, 0, 0, ISCSI_RETRY, 0 },			/* TASK ABORTED */
		{ 0x18, 0, 0, ISCSI_DONE, -EIO },		/* RESERVATION CONFLICT */
		{ 0x30, 0, 0, ISCSI_DONE, -EIO },		/* ACA ACTIVE */
		{ 0x0f000001, 0, 0, ISCSI_DONE, -EIO },		/* transport error */
		{ 0x0f000002, 0, 0, ISCSI_DONE, -EIO },		/* libiscsi timeout */
		{ 0x02, 0x6, 0x2900, ISCSI_RETRY, 0 },		/* UA: power on / reset */
		{ 0x02, 0x6, 0x2a09, ISCSI_RETRY, 0 },		/* UA: capacity changed */
		{ 0x02, 0xb, 0x0000, ISCSI_RETRY, 0 },		/* ABORTED COMMAND */
		{ 0x02, 0x2, 0x0401, ISCSI_RETRY, 0 },		/* becoming ready */
		{ 0x02, 0x2, 0x3a00, ISCSI_DONE, -EIO },	/* medium not present */
		{ 0x02, 0x5, 0x2000, ISCSI_DONE, -EOPNOTSUPP }, /* invalid opcode */
		{ 0x02, 0x5, 0x2400, ISCSI_DONE, -EOPNOTSUPP }, /* invalid field in CDB */
		{ 0x02, 0x5, 0x2100, ISCSI_DONE, -EIO },	/* LBA out of range */
		{ 0x02, 0x7, 0x2700, ISCSI_DONE, -EROFS },	/* write protected */
		{ 0x02, 0x7, 0x2707, ISCSI_DONE, -ENOSPC },	/* space allocation failed */
		{ 0x02, 0xd, 0x0000, ISCSI_DONE, -ENOSPC },	/* volume overflow */
		{ 0x02, 0x3, 0x1100, ISCSI_DONE, -EIO },	/* medium error */
		{ 0x02, 0x4, 0x4400, ISCSI_DONE, -EIO },	/* hardware error */
		{ 0x02, 0xe, 0x1d00, ISCSI_DONE, -EIO },	/* miscompare */
		{ 0x02, 0x1, 0x0000, ISCSI_DONE, 0 },		/* recovered */
		{ 0x02, 0xff, 0xffff, ISCSI_DONE, -EIO },	/* garbage sense */
		{ -1, 0, 0, ISCSI_DONE, -EIO },			/* garbage status */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int res = 12345;
		enum iscsi_verdict v =
			iscsi_sense_verdict(rows[i].status, rows[i].key, rows[i].ascq, &res);

		if (v != rows[i].v || (v == ISCSI_DONE && res != rows[i].res))
			fail_msg("row %zu (status 0x%x key 0x%x ascq 0x%04x): verdict %d res %d", i,
				 rows[i].status, rows[i].key, rows[i].ascq, v, res);
	}
}

/* ---- --disk url= ---- */

/* --disk @v as hearth takes it: parsed, then its URL resolved (vm.h) */
static int disk(struct vm_config *c, const char *v)
{
	char *argv[] = { "--kernel", "k", "--disk", (char *)v };
	int ret;

	config_defaults(c);
	err[0] = '\0';
	ret = config_parse(c, 4, argv, err, sizeof(err));
	return ret ? ret : vm_config_resolve(c, err, sizeof(err));
}

/* A finished task whose data-in buffer holds @cap bytes of @d but says
 * the target sent @sent: what lies past @sent was never sent. */
static struct scsi_task *answer(struct scsi_task *t, const uint8_t *d, size_t cap, int sent)
{
	assert_non_null(t);
	t->status = SCSI_STATUS_GOOD;
	t->datain.data = malloc(cap);
	assert_non_null(t->datain.data);
	memcpy(t->datain.data, d, cap);
	t->datain.size = sent;
	return t;
}

/* A LUN's answers at login (lun.c): whole ones are read, short ones are
 * not read past their end (libiscsi's unmarshalling would), failed ones
 * are no answer. */
static void lun_answers(void **state)
{
	/* READ CAPACITY(16): last LBA 131071, 512-byte blocks, LBPRZ */
	static const uint8_t rc[32] = {
		[5] = 0x01, [6] = 0xff, [7] = 0xff, [10] = 0x02, [14] = 0x40
	};
	static const uint8_t bad_bs[32] = { [7] = 1, [10] = 0x03 }; /* 768-byte blocks */
	static const uint8_t disk[36] = { 0, 0, 5, 2, 31 }, cdrom[36] = { 5, 0, 5, 2, 31 };
	static const uint8_t lbp[8] = { 0, 0xb2, 0, 4, 0, 0x80 };
	static const uint8_t bl[64] = {
		[1] = 0xb0, [3] = 0x3c, [10] = 0x02, [22] = 0x10, [41] = 0x01
	};
	struct iscsi_lun lun = { 0 };
	struct scsi_task *t;
	int type;

	(void)state;
	t = answer(scsi_cdb_readcapacity16(), rc, sizeof(rc), sizeof(rc));
	assert_int_equal(iscsi_lun_capacity(t, &lun), 0);
	assert_int_equal(lun.blocks, 131072);
	assert_int_equal(lun.block_size, 512);
	assert_int_equal(lun.bytes, 64ULL << 20);
	assert_true(lun.unmap_zeroes);
	scsi_free_scsi_task(t);
	/* the same bytes, but the target sent only the LBA */
	t = answer(scsi_cdb_readcapacity16(), rc, sizeof(rc), 8);
	assert_int_equal(iscsi_lun_capacity(t, &lun), -EIO);
	scsi_free_scsi_task(t);
	t = answer(scsi_cdb_readcapacity16(), bad_bs, sizeof(bad_bs), sizeof(bad_bs));
	assert_int_equal(iscsi_lun_capacity(t, &lun), -ENODEV);
	scsi_free_scsi_task(t);
	t = answer(scsi_cdb_readcapacity16(), rc, sizeof(rc), sizeof(rc));
	t->status = SCSI_STATUS_CHECK_CONDITION;
	assert_int_equal(iscsi_lun_capacity(t, &lun), -EIO);
	scsi_free_scsi_task(t);
	assert_int_equal(iscsi_lun_capacity(NULL, &lun), -EIO);

	/* INQUIRY: a disk; not a disk; nothing sent (the zeroes past it are not
	 * "a connected disk") */
	t = answer(scsi_cdb_inquiry(0, 0, 255), disk, sizeof(disk), sizeof(disk));
	assert_int_equal(iscsi_lun_inquiry(t, &type), 0);
	assert_int_equal(type, 0);
	scsi_free_scsi_task(t);
	t = answer(scsi_cdb_inquiry(0, 0, 255), cdrom, sizeof(cdrom), sizeof(cdrom));
	assert_int_equal(iscsi_lun_inquiry(t, &type), -ENODEV);
	assert_int_equal(type, 5);
	scsi_free_scsi_task(t);
	t = answer(scsi_cdb_inquiry(0, 0, 255), disk, sizeof(disk), 0);
	assert_int_equal(iscsi_lun_inquiry(t, &type), -ENODEV);
	assert_int_equal(type, -1);
	scsi_free_scsi_task(t);

	/* provisioning: LBPU in byte 5, unless the answer stops before it */
	t = answer(scsi_cdb_inquiry(1, SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING, 255), lbp,
		   sizeof(lbp), sizeof(lbp));
	assert_true(iscsi_lun_can_unmap(t));
	t->datain.size = 5;
	assert_false(iscsi_lun_can_unmap(t));
	scsi_free_scsi_task(t);

	/* block limits: 512 blocks a READ or WRITE, 4096 blocks of UNMAP, 65536
	 * of WRITE SAME, in 4 KiB blocks */
	lun.block_size = 4096;
	t = answer(scsi_cdb_inquiry(1, SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, 255), bl, sizeof(bl),
		   sizeof(bl));
	iscsi_lun_block_limits(t, &lun);
	assert_int_equal(lun.max_discard_sectors, 4096 * 8);
	assert_int_equal(lun.max_write_zeroes_sectors, 65536 * 8);
	assert_int_equal(lun.max_xfer_blocks, 512);
	/* an answer that stops after the header says nothing */
	t->datain.size = 4;
	iscsi_lun_block_limits(t, &lun);
	assert_int_equal(lun.max_xfer_blocks, 0);
	assert_int_equal(lun.max_discard_sectors, 0);
	assert_int_equal(lun.max_write_zeroes_sectors, 0);
	scsi_free_scsi_task(t);
}

static void config_disk_url(void **state)
{
	static struct vm_config c;

	(void)state;
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,timeout=5s,readonly=on"), 0);
	assert_string_equal(c.disks[0].iscsi.url, "iscsi://h/iqn.x:y/1");
	assert_int_equal(c.disks[0].kind, DISK_ISCSI);
	assert_int_equal(c.disks[0].iscsi.timeout_ms, 5000);
	assert_true(c.disks[0].readonly);
	/* the configuration keeps the password apart from the URL */
	assert_int_equal(disk(&c, "url=iscsi://u%Secr3t@h/iqn.x:y/1"), 0);
	assert_string_equal(c.disks[0].iscsi.url, "iscsi://u@h/iqn.x:y/1");
	assert_string_equal(c.disks[0].iscsi.url_password, "Secr3t");
	/* resolving again changes nothing */
	assert_int_equal(vm_config_resolve(&c, err, sizeof(err)), 0);
	assert_string_equal(c.disks[0].iscsi.url, "iscsi://u@h/iqn.x:y/1");
	assert_string_equal(c.disks[0].iscsi.url_password, "Secr3t");
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,secret=/s,discard=on"), 0);
	assert_string_equal(c.disks[0].iscsi.url_password, "");
	assert_string_equal(c.disks[0].iscsi.secret, "/s");
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,path=/x"), -EINVAL);
	assert_non_null(strstr(err, "mutually exclusive"));
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y"), -EINVAL);
	assert_non_null(strstr(err, "bad iSCSI URL"));
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,direct=on"), -EINVAL);
	assert_int_equal(disk(&c, "path=/x,timeout=5s"), -EINVAL);
	assert_int_equal(disk(&c, "path=/x,secret=/s"), -EINVAL);
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,timeout=0s"), -EINVAL);
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,timeout=2h"), -EINVAL);
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,timeout=soon"), -EINVAL);
	assert_int_equal(disk(&c, "url="), -EINVAL);
	/* a password cut by a comma is never echoed, whichever piece fails */
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,Zq9x@h/iqn.x:y/1"), -EINVAL);
	assert_null(strstr(err, "Zq9x"));
	assert_int_equal(disk(&c, "url=iscsi://h/iqn.x:y/1,Zq9x=1@h/iqn.x:y/1"), -EINVAL);
	assert_null(strstr(err, "Zq9x"));
	assert_int_equal(disk(&c, "url=iscsi://u%pa,Zq9x@h/iqn.x:y/1"), -EINVAL);
	assert_null(strstr(err, "Zq9x"));
	assert_int_equal(disk(&c, "url=iscsi://u%Secr3t@h:0/iqn.x:y/1"), -EINVAL);
	assert_null(strstr(err, "Secr3t"));
}

/* How long a request may be, and how it is cut into commands, against
 * hostile lengths: nothing is cut to 32 bits, nothing is lost. */
static void request_limits(void **state)
{
	static uint8_t buf[1 << 16];
	struct iovec v[BLKIO_MAX_SEGS], part[BLKIO_MAX_SEGS];
	const uint64_t blocks = 1ULL << 40; /* a huge LUN */
	uint64_t total = 0;
	uint32_t chunk = 0;
	int k;

	(void)state;
	/* the LUN's MAXIMUM TRANSFER LENGTH, capped, in whole blocks */
	assert_int_equal(iscsi_cmd_max_bytes(0, 512), ISCSI_CMD_MAX_BYTES);
	assert_int_equal(iscsi_cmd_max_bytes(128, 512), 65536);
	assert_int_equal(iscsi_cmd_max_bytes(1, 4096), 4096);
	assert_int_equal(iscsi_cmd_max_bytes(UINT32_MAX, 4096), ISCSI_CMD_MAX_BYTES);
	assert_int_equal(iscsi_cmd_max_bytes(UINT32_MAX, 65536), ISCSI_CMD_MAX_BYTES);
	assert_int_equal(iscsi_cmd_max_bytes(16, 3000), 0);

	/* 0x100010000 bytes: refused as a READ or WRITE, whatever cast */
	assert_false(iscsi_req_ok(true, 0, 0x100010000ULL, 512, blocks));
	assert_false(iscsi_req_ok(true, 0, BLKIO_MAX_BYTES + 512, 512, blocks));
	assert_true(iscsi_req_ok(true, 0, BLKIO_MAX_BYTES, 512, blocks));
	assert_true(iscsi_req_ok(true, 0, 0, 512, blocks));
	/* alignment, the LUN's end, wrapping */
	assert_false(iscsi_req_ok(true, 512, 4096, 4096, blocks));
	assert_false(iscsi_req_ok(true, 0, 512, 4096, blocks));
	assert_false(iscsi_req_ok(true, 4096 * 7, 8192, 4096, 8));
	assert_true(iscsi_req_ok(true, 4096 * 6, 8192, 4096, 8));
	assert_false(iscsi_req_ok(true, UINT64_MAX - 511, 1024, 512, UINT64_MAX));
	/* UNMAP / WRITE SAME: 1 to 2^32 - 1 blocks */
	assert_false(iscsi_req_ok(false, 0, 0, 512, blocks));
	assert_true(iscsi_req_ok(false, 0, (uint64_t)UINT32_MAX * 512, 512, blocks));
	assert_false(iscsi_req_ok(false, 0, (1ULL << 32) * 512, 512, blocks));

	/* one buffer named many times: 2 MiB cut into 64 KiB commands,
	 * every byte once, in order */
	for (unsigned i = 0; i < 32; i++)
		v[i] = (struct iovec){ buf, sizeof(buf) };
	for (uint64_t done = 0; done < 32 * sizeof(buf); done += chunk) {
		k = iscsi_chunk(v, 32, 32 * sizeof(buf), done, 65536, part, BLKIO_MAX_SEGS, &chunk);
		assert_int_equal(k, 1);
		assert_int_equal(chunk, 65536);
		assert_ptr_equal(part[0].iov_base, buf);
		total += chunk;
	}
	assert_int_equal(total, 32 * sizeof(buf));
	/* commands that straddle buffers: 3 x 40 KiB over 2 x 64 KiB */
	v[0] = (struct iovec){ buf, 65536 };
	v[1] = (struct iovec){ buf, 65536 };
	k = iscsi_chunk(v, 2, 131072, 40960, 40960, part, BLKIO_MAX_SEGS, &chunk);
	assert_int_equal(k, 2);
	assert_ptr_equal(part[0].iov_base, buf + 40960);
	assert_int_equal(part[0].iov_len, 24576);
	assert_int_equal(part[1].iov_len, 16384);
	k = iscsi_chunk(v, 2, 131072, 122880, 40960, part, BLKIO_MAX_SEGS, &chunk);
	assert_int_equal(k, 1);
	assert_int_equal(chunk, 8192);
	/* nothing left; a vector that holds less than the length; no room */
	assert_int_equal(iscsi_chunk(v, 2, 131072, 131072, 40960, part, 8, &chunk), -1);
	assert_int_equal(iscsi_chunk(v, 2, 196608, 131072, 65536, part, 8, &chunk), -1);
	assert_int_equal(iscsi_chunk(v, 2, 131072, 0, 131072, part, 1, &chunk), -1);
	assert_int_equal(iscsi_chunk(v, 2, 131072, 0, 0, part, 8, &chunk), -1);
	/* the 4 GiB + 64 KiB chain through the largest command: every
	 * command under 2^31 (libiscsi's int), the last one the 64 KiB */
	for (unsigned i = 0; i < 16; i++)
		v[i] = (struct iovec){ buf, 0x10000000 };
	v[16] = (struct iovec){ buf, 0x10000 };
	total = 0;
	for (uint64_t done = 0; done < 0x100010000ULL; done += chunk) {
		k = iscsi_chunk(v, 17, 0x100010000ULL, done, ISCSI_CMD_MAX_BYTES, part,
				BLKIO_MAX_SEGS, &chunk);
		assert_true(k >= 1);
		assert_true(chunk <= ISCSI_CMD_MAX_BYTES);
		total += chunk;
	}
	assert_int_equal(total, 0x100010000ULL);
	assert_int_equal(chunk, 0x10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_urls),	   cmocka_unit_test(hostile_urls),
		cmocka_unit_test(limits),	   cmocka_unit_test(password_never_in_errors),
		cmocka_unit_test(creds),	   cmocka_unit_test(sense),
		cmocka_unit_test(config_disk_url), cmocka_unit_test(request_limits),
		cmocka_unit_test(lun_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
