// SPDX-License-Identifier: MIT
/*
 * The kernel inside a disk image: partition tables built here byte by byte
 * (valid, then each field made hostile), and real ext4 file systems made
 * with mke2fs -d from a directory tree, searched through
 * image_find_kernel() as `hearth run --disk path=IMAGE` does, and as
 * `--disk url=iscsi://...` does where a tgtd can be run (root, tgt
 * installed): the same images served as LUNs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hearth/image.h"
#include "hearth/iscsi.h"

#define DISK (16u << 20)

static uint8_t disk[DISK];
static char err[512];

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	if (off > DISK || len > DISK - off)
		return -EIO;
	memcpy(buf, disk + off, len);
	return 0;
}

static int scan(struct part *p, unsigned max)
{
	err[0] = '\0';
	return part_scan(mem_read, NULL, DISK, p, max, err, sizeof(err));
}

static void mbr_entry(uint8_t *d, unsigned i, uint8_t type, uint32_t start, uint32_t count)
{
	uint8_t *e = d + 446 + 16 * i;

	e[4] = type;
	put32(e + 8, start);
	put32(e + 12, count);
	d[510] = 0x55;
	d[511] = 0xaa;
}

/* A GPT with @n entries of 128 bytes at sector 2; partitions [first, last]
 * in @ext (pairs), the rest unused. Both CRCs right. */
static void gpt(unsigned n, const uint64_t (*ext)[2], unsigned used)
{
	uint8_t *h = disk + 512, *a = disk + 1024;

	memset(disk, 0, 1024 + 128 * n);
	mbr_entry(disk, 0, 0xee, 1, DISK / 512 - 1);
	memcpy(h, "EFI PART", 8);
	put32(h + 8, 0x10000);
	put32(h + 12, 92);
	put64(h + 24, 1);
	put64(h + 32, DISK / 512 - 1);
	put64(h + 40, 34);
	put64(h + 48, DISK / 512 - 34);
	put64(h + 72, 2);
	put32(h + 80, n);
	put32(h + 84, 128);
	for (unsigned i = 0; i < used; i++) {
		memset(a + 128 * i, 0xaf, 16); /* a type GUID */
		put64(a + 128 * i + 32, ext[i][0]);
		put64(a + 128 * i + 40, ext[i][1]);
	}
	put32(h + 88, part_crc32(0, a, 128 * n));
	put32(h + 16, 0);
	put32(h + 16, part_crc32(0, h, 92));
}

static void reseal(void)
{
	uint8_t *h = disk + 512;
	uint32_t n = (uint32_t)h[80] | (uint32_t)h[81] << 8, esize = h[84] | (uint32_t)h[85] << 8;

	if ((uint64_t)n * esize <= DISK - 1024)
		put32(h + 88, part_crc32(0, disk + 1024, (size_t)n * esize));
	put32(h + 16, 0);
	put32(h + 16, part_crc32(0, h, 92));
}

static void crc_known(void **state)
{
	(void)state;
	assert_int_equal(part_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(part_crc32(part_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

static void no_table(void **state)
{
	struct part p[4];

	(void)state;
	memset(disk, 0, sizeof(disk));
	assert_int_equal(scan(p, 4), 0);
	assert_int_equal(part_scan(mem_read, NULL, 100, p, 4, err, sizeof(err)),
			 0); /* < 1 sector */
}

static void mbr(void **state)
{
	struct part p[4];

	(void)state;
	memset(disk, 0, sizeof(disk));
	mbr_entry(disk, 0, 0x83, 2048, 4096);
	mbr_entry(disk, 1, 0x05, 8192, 100); /* extended: not followed */
	mbr_entry(disk, 3, 0x83, 8192, 8192);
	assert_int_equal(scan(p, 4), 2);
	assert_int_equal(p[0].index, 1);
	assert_int_equal(p[0].offset, 2048 * 512);
	assert_int_equal(p[0].size, 4096 * 512);
	assert_int_equal(p[1].index, 4);
	assert_int_equal(p[1].offset, 8192 * 512);
	assert_int_equal(scan(p, 1), 1); /* room for one: the first */

	/* hostile: past the end, wrapping, at sector 0, empty */
	static const uint32_t bad[][2] = {
		{ 2048, DISK / 512 }, { 0xffffffffu, 2 }, { 0, 10 }, { 100, 0 }, { 1, 0xffffffffu }
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(disk, 0, 512);
		mbr_entry(disk, 2, 0x83, bad[i][0], bad[i][1]);
		assert_int_equal(scan(p, 4), -EINVAL);
		assert_non_null(strstr(err, "corrupt MBR: partition 3"));
	}
}

static void gpt_valid(void **state)
{
	static const uint64_t ext[][2] = { { 0, 0 }, { 2048, 4095 }, { 4096, DISK / 512 - 34 } };
	struct part p[8];

	(void)state;
	gpt(128, ext, 3);
	memset(disk + 1024, 0, 128); /* entry 1 unused: skipped */
	reseal();
	assert_int_equal(scan(p, 8), 2);
	assert_int_equal(p[0].index, 2);
	assert_int_equal(p[0].offset, 2048 * 512);
	assert_int_equal(p[0].size, 2048 * 512);
	assert_int_equal(p[1].index, 3);
	assert_int_equal(p[1].offset + p[1].size, (uint64_t)(DISK / 512 - 33) * 512);
}

/* Each header field made hostile, CRCs then made right again so that the
 * field's own check is what refuses it; then the CRCs themselves. */
static void gpt_hostile(void **state)
{
	static const uint64_t ext[][2] = { { 2048, 4095 } };
	static const struct {
		unsigned off, width;
		uint64_t v;
		const char *why;
	} cases[] = {
		{ 12, 4, 91, "header size" },
		{ 12, 4, 513, "header size" },
		{ 24, 8, 2, "at sector 2" },
		{ 48, 8, DISK / 512, "usable sectors" },
		{ 40, 8, DISK / 512 - 10, "usable sectors" },
		{ 72, 8, 1, "entry array outside" },
		{ 72, 8, DISK / 512 - 1, "entry array outside" },
		{ 72, 8, UINT64_MAX / 256, "entry array outside" },
		{ 80, 4, 0, "0 entries" },
		{ 80, 4, 4097, "4097 entries" },
		{ 80, 4, 0xffffffffu, "entries" },
		{ 84, 4, 127, "entry size" },
		{ 84, 4, 130, "entry size" },
		{ 84, 4, 8192, "entry size" },
	};
	struct part p[8];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gpt(128, ext, 1);
		if (cases[i].width == 4)
			put32(disk + 512 + cases[i].off, (uint32_t)cases[i].v);
		else
			put64(disk + 512 + cases[i].off, cases[i].v);
		reseal();
		assert_int_equal(scan(p, 8), -EINVAL);
		assert_non_null(strstr(err, cases[i].why));
	}
	/* 4096 entries of 4096 bytes: 16 MiB, over the 1 MiB array limit */
	gpt(128, ext, 1);
	put32(disk + 512 + 80, 4096);
	put32(disk + 512 + 84, 4096);
	reseal();
	assert_int_equal(scan(p, 8), -EINVAL);
	assert_non_null(strstr(err, "entry array of"));
	/* partitions outside the disk, reversed, at sector 0 */
	static const uint64_t outside[][2] = {
		{ 2048, DISK / 512 }, { 4095, 2048 }, { 0, 100 }, { UINT64_MAX, UINT64_MAX }
	};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		gpt(128, &outside[i], 1);
		assert_int_equal(scan(p, 8), -EINVAL);
		assert_non_null(strstr(err, "partition 1"));
	}
	/* the CRCs: a byte of the header, a byte of an entry */
	gpt(128, ext, 1);
	disk[512 + 40] ^= 1;
	assert_int_equal(scan(p, 8), -EINVAL);
	assert_non_null(strstr(err, "header CRC"));
	gpt(128, ext, 1);
	disk[1024 + 200] ^= 1;
	assert_int_equal(scan(p, 8), -EINVAL);
	assert_non_null(strstr(err, "entry array CRC"));
	gpt(128, ext, 1);
	memcpy(disk + 512, "EFI PARX", 8);
	assert_int_equal(scan(p, 8), -EINVAL);
	assert_non_null(strstr(err, "signature"));
	/* a GPT on a disk too small for it */
	gpt(128, ext, 1);
	assert_int_equal(part_scan(mem_read, NULL, 1024, p, 8, err, sizeof(err)), -EINVAL);
}

/* ---- real file systems ---- */

static char dir[64];

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static void file(const char *rel, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hearth-image-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	sh("rm -rf %s", dir);
	return 0;
}

#define UUID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define MKFS "PATH=$PATH:/sbin:/usr/sbin mke2fs -q -F -t ext4 -U " UUID

/* Reads a memfd the finder filled. */
static void expect_fd(int fd, uint64_t len, const char *content)
{
	char buf[256] = "";

	assert_int_equal(len, strlen(content));
	assert_int_equal(pread(fd, buf, sizeof(buf) - 1, 0), (ssize_t)len);
	assert_string_equal(buf, content);
}

/* One byte of the GPT header changed: its CRC no longer matches. */
static void corrupt_gpt_header(const char *path)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 512 + 40), 1);
	close(fd);
}

static int find(const char *img, struct boot_image *out)
{
	char path[128];
	struct image_disk d = { .path = path };

	snprintf(path, sizeof(path), "%s/%s", dir, img);
	err[0] = '\0';
	return image_find_kernel(&d, 30000, out, err, sizeof(err));
}

/* Debian's layout on a disk without a partition table: /vmlinuz and
 * /initrd.img, relative links into /boot. */
static void debian_links(void **state)
{
	struct boot_image b;

	(void)state;
	sh("mkdir -p %s/t1/boot && cd %s/t1 && ln -s boot/vmlinuz-6 vmlinuz && "
	   "ln -s boot/initrd.img-6 initrd.img",
	   dir, dir);
	file("t1/boot/vmlinuz-6", "KERNEL-6");
	file("t1/boot/initrd.img-6", "INITRD-6");
	sh(MKFS " -d %s/t1 %s/whole.img 8M", dir, dir);
	assert_int_equal(find("whole.img", &b), 0);
	expect_fd(b.kernel_fd, b.kernel_len, "KERNEL-6");
	expect_fd(b.initrd_fd, b.initrd_len, "INITRD-6");
	assert_string_equal(b.root_uuid, UUID);
	assert_string_equal(b.found, "the whole disk: /vmlinuz");
	image_release(&b);
	assert_int_equal(b.kernel_fd, -1);
}

/* A GPT whose first partition holds no file system and whose second holds
 * BLS entries; the one that sorts last by version wins, its paths are
 * relative to /boot, and its initrds are concatenated. */
static void make_gpt_bls(const char *path)
{
	static const uint64_t ext[][2] = { { 2048, 4095 }, { 8192, 24575 } };
	int fd;

	sh("mkdir -p %s/t2/boot/loader/entries", dir);
	file("t2/boot/loader/entries/deb-6.1.9.conf", "title old\nlinux /vmlinuz-9\n");
	file("t2/boot/loader/entries/deb-6.1.10.conf",
	     "title new\n# linux /nothing\nlinux   /vmlinuz-10  \ninitrd /ucode\ninitrd "
	     "/initrd-10\n"
	     "options root=somewhere\n");
	file("t2/boot/loader/entries/notes.txt", "linux /vmlinuz-99\n");
	file("t2/boot/vmlinuz-9", "K9");
	file("t2/boot/vmlinuz-10", "K10");
	file("t2/boot/ucode", "U;");
	file("t2/boot/initrd-10", "I10");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DISK), 0);
	close(fd);
	sh(MKFS " -E offset=%u -d %s/t2 %s 8M", 8192 * 512, dir, path);
	gpt(128, ext, 2);
	fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, disk, 1024 + 128 * 128, 0), 1024 + 128 * 128);
	close(fd);
}

static void gpt_bls(void **state)
{
	struct boot_image b;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/gpt.img", dir);
	make_gpt_bls(path);
	assert_int_equal(find("gpt.img", &b), 0);
	expect_fd(b.kernel_fd, b.kernel_len, "K10");
	expect_fd(b.initrd_fd, b.initrd_len, "U;I10");
	assert_string_equal(b.found, "partition 2: /boot/loader/entries/deb-6.1.10.conf");
	image_release(&b);

	/* the table made corrupt: refused, not searched as a whole disk */
	corrupt_gpt_header(path);
	assert_int_equal(find("gpt.img", &b), -EINVAL);
	assert_non_null(strstr(err, "corrupt GPT: header CRC"));
	assert_int_equal(b.kernel_fd, -1);
}

/* Each refusal: a link that climbs out, a loop, an absolute link to a
 * directory, nothing bootable, a corrupt file system. */
static void refusals(void **state)
{
	static const struct {
		const char *link, *why;
		int ret;
	} links[] = {
		{ "../../../../etc/passwd", "leads out of the file system", -EINVAL },
		{ "boot/../../x", "leads out of the file system", -EINVAL },
		{ "vmlinuz", "more than 8 links", -EINVAL },
		{ "/boot", "not a regular file", -EINVAL },
		{ "/boot/missing", "no kernel found", -ENOENT },
	};
	struct boot_image b;
	char path[128];
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		sh("rm -rf %s/t3 && mkdir -p %s/t3/boot && ln -s '%s' %s/t3/vmlinuz", dir, dir,
		   links[i].link, dir);
		sh(MKFS " -d %s/t3 %s/bad.img 8M", dir, dir);
		assert_int_equal(find("bad.img", &b), links[i].ret);
		assert_non_null(strstr(err, links[i].why));
		assert_int_equal(b.kernel_fd, -1);
	}

	/* nothing at all */
	sh("rm -rf %s/t3 && mkdir -p %s/t3/etc", dir, dir);
	sh(MKFS " -d %s/t3 %s/bad.img 8M", dir, dir);
	assert_int_equal(find("bad.img", &b), -ENOENT);
	assert_non_null(strstr(err, "no kernel found"));
	assert_non_null(strstr(err, "on 1 ext2/3/4 file system"));

	/* not a file system at all, no table */
	snprintf(path, sizeof(path), "%s/zero.img", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(find("zero.img", &b), -ENOENT);
	assert_non_null(strstr(err, "on 0 ext2/3/4 file system"));

	/* a kernel there, but the group descriptors (block 1 of a 4 KiB-block
	 * file system) trampled: metadata_csum catches it */
	sh("mkdir -p %s/t3/boot && cp /dev/null %s/t3/boot/x && ln -s boot/x %s/t3/vmlinuz", dir,
	   dir, dir);
	file("t3/boot/x", "K");
	sh(MKFS " -b 4096 -d %s/t3 %s/bad.img 8M", dir, dir);
	sh("printf 'garbage-garbage-garbage' | dd of=%s/bad.img bs=1 seek=4100 conv=notrunc "
	   "status=none",
	   dir);
	assert_int_equal(find("bad.img", &b), -EINVAL);
	assert_non_null(strstr(err, "corrupt ext2/3/4 file system"));

	/* a file system that claims more blocks than its partition has */
	static const uint64_t small[][2] = { { 2048, 4095 } };
	sh(MKFS " -E offset=%u -d %s/t3 %s/bad.img 8M", 2048 * 512, dir, dir);
	gpt(128, small, 1);
	put64(disk + 512 + 48, 8191); /* the GPT's usable range still covers the partition */
	reseal();
	snprintf(path, sizeof(path), "%s/bad.img", dir);
	fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, disk, 1024 + 128 * 128, 0), 1024 + 128 * 128);
	close(fd);
	assert_int_equal(find("bad.img", &b), -EINVAL);
	assert_non_null(strstr(err, "larger than its partition"));

	/* a path that is not there */
	assert_int_equal(find("nonexistent.img", &b), -ENOENT);
	assert_non_null(strstr(err, "cannot open it"));

	/* a directory (or a FIFO) is refused before any reader starts */
	sh("mkdir -p %s/adir.img", dir);
	assert_int_equal(find("adir.img", &b), -EINVAL);
	assert_non_null(strstr(err, "not a regular file or block device"));

	/* a boot entry that names a missing kernel is refused, not searched
	 * around, even with a /vmlinuz next to it */
	sh("rm -rf %s/t3 && mkdir -p %s/t3/boot/loader/entries && ln -s boot/k %s/t3/vmlinuz", dir,
	   dir, dir);
	file("t3/boot/k", "K");
	file("t3/boot/loader/entries/a.conf", "linux /vmlinuz-gone\n");
	sh(MKFS " -d %s/t3 %s/bad.img 8M", dir, dir);
	assert_int_equal(find("bad.img", &b), -EINVAL);
	assert_non_null(strstr(err, "names /vmlinuz-gone, which does not exist"));

	/* a name with control characters reaches the message as '?' */
	sh("rm -rf %s/t3 && mkdir -p %s/t3/boot/loader/entries", dir, dir);
	file("t3/boot/loader/entries/a.conf", "linux /k\033[2J\n");
	sh(MKFS " -d %s/t3 %s/bad.img 8M", dir, dir);
	assert_int_equal(find("bad.img", &b), -EINVAL);
	assert_non_null(strstr(err, "names /k?[2J, which"));
}

/* ---- the same through iSCSI: a tgtd of the test's own ---- */

static int tgt_port, tgt_ctl;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

#define TGTADM "PATH=$PATH:/sbin:/usr/sbin tgtadm -C %d --lld iscsi "
#define IQN    "iqn.2026-01.org.example.hearth"

static int find_lun(const char *target, struct boot_image *out)
{
	char url[256];
	struct iscsi_blk_opts o = { .url = url, .timeout_ms = 10000, .readonly = true };
	struct image_disk d = { .path = url, .lun = &o };

	snprintf(url, sizeof(url), "iscsi://127.0.0.1:%d/" IQN ":%s/1", tgt_port, target);
	err[0] = '\0';
	return image_find_kernel(&d, 30000, out, err, sizeof(err));
}

static int stop_tgtd(void **state)
{
	char cmd[512];

	(void)state;
	if (tgt_port) {
		snprintf(cmd, sizeof(cmd),
			 TGTADM "--mode system --op delete >/dev/null 2>&1; sleep 0.5; "
				"kill -9 $(cat %s/tgtd.pid) 2>/dev/null",
			 tgt_ctl, dir);
		if (system(cmd)) {
			/* stopped already */
		}
	}
	tgt_port = 0;
	return 0;
}

/* A GPT image and a whole-disk one as LUNs (512- and 4096-byte blocks): the
 * same kernels, the same root UUID; the table made corrupt on the LUN is
 * refused as in a file; a portal where nothing listens is the target's
 * failure (exit 122), not the user's. */
static void iscsi_luns(void **state)
{
	struct boot_image b;
	char path[128];
	int ret;

	(void)state;
	if (getuid() != 0 || system("PATH=$PATH:/usr/sbin command -v tgtd >/dev/null"))
		skip(); /* tests/integration/iscsi.sh says the same: tgtd needs root */
	snprintf(path, sizeof(path), "%s/lun-gpt.img", dir);
	make_gpt_bls(path);
	sh("mkdir -p %s/t4/boot && cd %s/t4 && ln -sf boot/vmlinuz-6 vmlinuz", dir, dir);
	file("t4/boot/vmlinuz-6", "KERNEL-6");
	sh(MKFS " -b 4096 -d %s/t4 %s/lun-whole.img 8M", dir, dir);
	tgt_port = free_port();
	tgt_ctl = tgt_port % 30000 + 1000;
	sh("PATH=$PATH:/usr/sbin tgtd -f -C %d --iscsi portal=127.0.0.1:%d >%s/tgtd.log 2>&1 & "
	   "echo $! >%s/tgtd.pid; for i in $(seq 100); do " TGTADM
	   "--mode target --op show >/dev/null 2>&1 && break; sleep 0.1; done",
	   tgt_ctl, tgt_port, dir, dir, tgt_ctl);
	sh(TGTADM "--mode target --op new --tid 1 --targetname " IQN ":gpt && " TGTADM
		  "--mode logicalunit --op new --tid 1 --lun 1 -b %s && " TGTADM
		  "--mode target --op bind --tid 1 -I ALL",
	   tgt_ctl, tgt_ctl, path, tgt_ctl);
	sh(TGTADM
	   "--mode target --op new --tid 2 --targetname " IQN ":whole && " TGTADM
	   "--mode logicalunit --op new --tid 2 --lun 1 -b %s/lun-whole.img --blocksize 4096 "
	   "&& " TGTADM "--mode target --op bind --tid 2 -I ALL",
	   tgt_ctl, tgt_ctl, dir, tgt_ctl);

	assert_int_equal(find_lun("gpt", &b), 0);
	expect_fd(b.kernel_fd, b.kernel_len, "K10");
	expect_fd(b.initrd_fd, b.initrd_len, "U;I10");
	assert_string_equal(b.root_uuid, UUID);
	assert_string_equal(b.found, "partition 2: /boot/loader/entries/deb-6.1.10.conf");
	image_release(&b);

	assert_int_equal(find_lun("whole", &b), 0);
	expect_fd(b.kernel_fd, b.kernel_len, "KERNEL-6");
	assert_int_equal(b.initrd_len, 0);
	assert_string_equal(b.found, "the whole disk: /vmlinuz");
	image_release(&b);

	corrupt_gpt_header(path);
	assert_int_equal(find_lun("gpt", &b), -EINVAL);
	assert_non_null(strstr(err, "corrupt GPT: header CRC"));
	assert_int_equal(b.kernel_fd, -1);

	ret = find_lun("nobody", &b);
	assert_true(ret != 0 && ret != -EINVAL && ret != -ENOENT);
	assert_non_null(strstr(err, "login to target '" IQN ":nobody'"));
	stop_tgtd(NULL);
	tgt_port = free_port();
	ret = find_lun("gpt", &b);
	assert_true(ret != 0 && ret != -EINVAL && ret != -ENOENT);
	assert_non_null(strstr(err, "cannot connect to 127.0.0.1"));
	tgt_port = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc_known),
		cmocka_unit_test(no_table),
		cmocka_unit_test(mbr),
		cmocka_unit_test(gpt_valid),
		cmocka_unit_test(gpt_hostile),
		cmocka_unit_test(debian_links),
		cmocka_unit_test(gpt_bls),
		cmocka_unit_test(refusals),
		cmocka_unit_test_teardown(iscsi_luns, stop_tgtd),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
