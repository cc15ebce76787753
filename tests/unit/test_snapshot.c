// SPDX-License-Identifier: MIT
/* The snapshot's files (docs/snapshot.md "The files"): the state file and
 * the sparse memory file round trip, every corrupt or foreign state file is
 * refused with its own reason, and a write that fails leaves the snapshot
 * that was there before. Each test works in its own directory under
 * $TMPDIR (or /tmp), removed at its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hearth/bytes.h"
#include "hearth/snapshot.h"

#define VER  "0.1.0"
#define PAGE 4096u

/* Offsets in the header (docs/snapshot.md's table). */
#define O_FORMAT  8
#define O_HDRLEN  12
#define O_VERSION 16
#define O_MEMORY  48
#define O_CPUS	  56
#define O_FLAGS	  68
#define O_PAYLEN  72
#define O_PAYCRC  80
#define O_HDRCRC  84

struct dir {
	char path[256];
	int fd;
};

static const struct snapshot_shape shape1 = {
	.memory = 256 << 20, .cpus = 2, .disks = 1, .nics = 3, .flags = 0
};
static const char payload1[] = "the records of a VM, its vCPUs and its devices";

static int setup(void **st)
{
	const char *tmp = getenv("TMPDIR");
	struct dir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	snprintf(d->path, sizeof(d->path), "%s/test_snapshot.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(d->path));
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d->fd >= 0);
	*st = d;
	return 0;
}

static int teardown(void **st)
{
	struct dir *d = *st;
	DIR *dir;
	struct dirent *e;

	chmod(d->path, 0700);
	dir = opendir(d->path);
	assert_non_null(dir);
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			assert_int_equal(unlinkat(d->fd, e->d_name, 0), 0);
	closedir(dir);
	close(d->fd);
	assert_int_equal(rmdir(d->path), 0);
	free(d);
	return 0;
}

/* ---- helpers ---- */

static bool exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The whole of @name in a malloc'd buffer; its size in *@len. */
static uint8_t *slurp(int dirfd, const char *name, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *b;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static void spit(int dirfd, const char *name, const void *b, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	close(fd);
}

static void fix_hdrcrc(uint8_t *f)
{
	st32(f + O_HDRCRC, snapshot_crc32c(0, f, O_HDRCRC));
}

/* Reads the state back expecting @want; a refusal must give a one-line
 * reason naming the file. Returns the reason. */
static const char *read_expect(int dirfd, const char *version, int want)
{
	static char err[256];
	struct snapshot_shape s;
	void *p = (void *)1;
	size_t len = 7;
	int ret;

	memset(err, 0, sizeof(err));
	ret = snapshot_read_state(dirfd, version, &s, &p, &len, err, sizeof(err));
	if (ret != want)
		fail_msg("read_state: %d (%s), expected %d", ret, err, want);
	if (ret) {
		assert_null(p);
		assert_int_equal(len, 0);
		assert_true(strncmp(err, "state: ", 7) == 0);
		assert_null(strchr(err, '\n'));
		assert_true(strlen(err) > 8);
	} else {
		free(p);
	}
	return err;
}

/* A valid state file with shape1 and payload1, as bytes to corrupt. */
static uint8_t *valid_state(int dirfd, size_t *len)
{
	assert_int_equal(snapshot_write_state(dirfd, &shape1, VER, payload1, sizeof(payload1)), 0);
	return slurp(dirfd, SNAPSHOT_STATE_FILE, len);
}

/* ---- CRC-32C ---- */

static void test_crc32c(void **st)
{
	(void)st;
	assert_int_equal(snapshot_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(snapshot_crc32c(0, "", 0), 0);
	/* continued from a previous value, it is the CRC of the concatenation */
	assert_int_equal(snapshot_crc32c(snapshot_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

/* ---- the state file ---- */

static void test_state_round_trip(void **st)
{
	struct dir *d = *st;
	struct snapshot_shape s;
	char err[256] = "";
	void *p;
	size_t len, flen;
	uint8_t *f;

	assert_int_equal(snapshot_write_state(d->fd, &shape1, VER, payload1, sizeof(payload1)), 0);
	assert_int_equal(snapshot_read_state(d->fd, VER, &s, &p, &len, err, sizeof(err)), 0);
	assert_int_equal(s.memory, shape1.memory);
	assert_int_equal(s.cpus, 2);
	assert_int_equal(s.disks, 1);
	assert_int_equal(s.nics, 3);
	assert_int_equal(s.flags, 0);
	assert_int_equal(len, sizeof(payload1));
	assert_memory_equal(p, payload1, sizeof(payload1));
	free(p);
	assert_false(exists(d->fd, ".state.tmp"));

	/* the documented layout, byte for byte */
	f = slurp(d->fd, SNAPSHOT_STATE_FILE, &flen);
	assert_int_equal(flen, SNAPSHOT_HEADER_LEN + sizeof(payload1));
	assert_memory_equal(f, "HEARTHSS", 8);
	assert_int_equal(ld32(f + O_FORMAT), SNAPSHOT_FORMAT);
	assert_int_equal(ld32(f + O_HDRLEN), SNAPSHOT_HEADER_LEN);
	assert_string_equal((char *)f + O_VERSION, VER);
	for (unsigned i = O_VERSION + sizeof(VER); i < O_VERSION + SNAPSHOT_VERSION_LEN; i++)
		assert_int_equal(f[i], 0);
	assert_int_equal(ld64(f + O_MEMORY), shape1.memory);
	assert_int_equal(ld32(f + O_CPUS), 2);
	assert_int_equal(ld32(f + O_CPUS + 4), 1);
	assert_int_equal(ld32(f + O_CPUS + 8), 3);
	assert_int_equal(ld32(f + O_FLAGS), 0);
	assert_int_equal(ld64(f + O_PAYLEN), sizeof(payload1));
	assert_int_equal(ld32(f + O_PAYCRC), snapshot_crc32c(0, payload1, sizeof(payload1)));
	assert_int_equal(ld32(f + O_HDRCRC), snapshot_crc32c(0, f, O_HDRCRC));
	assert_memory_equal(f + SNAPSHOT_HEADER_LEN, payload1, sizeof(payload1));
	free(f);

	/* an empty payload, and the longest version that fits */
	assert_int_equal(
		snapshot_write_state(d->fd, &shape1, "0123456789012345678901234567890", NULL, 0),
		0);
	assert_int_equal(snapshot_read_state(d->fd, "0123456789012345678901234567890", &s, &p, &len,
					     err, sizeof(err)),
			 0);
	assert_int_equal(len, 0);
	free(p);
}

/* What the writer refuses, before it creates a file. */
static void test_state_write_refusals(void **st)
{
	struct dir *d = *st;
	struct snapshot_shape s = shape1;

	s.flags = 1;
	assert_int_equal(snapshot_write_state(d->fd, &s, VER, "x", 1), -EINVAL);
	s = shape1;
	s.memory = 0;
	assert_int_equal(snapshot_write_state(d->fd, &s, VER, "x", 1), -EINVAL);
	s.memory = 4097;
	assert_int_equal(snapshot_write_state(d->fd, &s, VER, "x", 1), -EINVAL);
	s = shape1;
	s.cpus = 0;
	assert_int_equal(snapshot_write_state(d->fd, &s, VER, "x", 1), -EINVAL);
	s.cpus = 256;
	assert_int_equal(snapshot_write_state(d->fd, &s, VER, "x", 1), -EINVAL);
	/* 32 characters leave no room for the NUL */
	assert_int_equal(
		snapshot_write_state(d->fd, &shape1, "01234567890123456789012345678901", "x", 1),
		-EINVAL);
	/* refused on its length alone: the bytes are never read */
	assert_int_equal(snapshot_write_state(d->fd, &shape1, VER, "x", SNAPSHOT_MAX_PAYLOAD + 1u),
			 -EFBIG);
	assert_false(exists(d->fd, SNAPSHOT_STATE_FILE));
	assert_false(exists(d->fd, ".state.tmp"));
}

static void test_state_missing(void **st)
{
	struct dir *d = *st;

	assert_string_equal(read_expect(d->fd, VER, -ENOENT), "state: no such file");
	assert_int_equal(mkdirat(d->fd, SNAPSHOT_STATE_FILE, 0700), 0);
	assert_string_equal(read_expect(d->fd, VER, -EBADMSG), "state: not a regular file");
	/* the rename onto it fails: the temporary file goes, the directory stays */
	assert_int_equal(snapshot_write_state(d->fd, &shape1, VER, "x", 1), -EISDIR);
	assert_false(exists(d->fd, ".state.tmp"));
	assert_int_equal(unlinkat(d->fd, SNAPSHOT_STATE_FILE, AT_REMOVEDIR), 0);
}

/* A header with one field changed, the header CRC made to match (@fix) or
 * not: refused with @want, and a reason containing @reason. */
static void corrupt(struct dir *d, unsigned off, uint64_t v, size_t n, bool fix, int want,
		    const char *reason)
{
	size_t len;
	uint8_t *f = valid_state(d->fd, &len);
	const char *err;

	st_le(f + off, v, n);
	if (fix)
		fix_hdrcrc(f);
	spit(d->fd, SNAPSHOT_STATE_FILE, f, len);
	err = read_expect(d->fd, VER, want);
	if (!strstr(err, reason))
		fail_msg("reason '%s' does not say '%s'", err, reason);
	free(f);
}

static void test_state_header_refusals(void **st)
{
	struct dir *d = *st;

	corrupt(d, 0, 'X', 1, true, -EBADMSG, "not a hearth snapshot");
	corrupt(d, 7, 'X', 1, true, -EBADMSG, "not a hearth snapshot");
	corrupt(d, O_HDRLEN, SNAPSHOT_HEADER_LEN + 8, 4, true, -EBADMSG, "header length 96");
	corrupt(d, O_HDRLEN, 0, 4, true, -EBADMSG, "header length 0");
	corrupt(d, O_HDRCRC, 0x12345678, 4, false, -EBADMSG, "header checksum");
	/* any field changed behind the header CRC's back */
	corrupt(d, O_CPUS, 4, 4, false, -EBADMSG, "header checksum");
	corrupt(d, O_PAYCRC, 0, 4, false, -EBADMSG, "header checksum");
	corrupt(d, O_FORMAT, SNAPSHOT_FORMAT + 1, 4, true, -EPROTONOSUPPORT, "format 2");
	corrupt(d, O_FORMAT, 0, 4, true, -EPROTONOSUPPORT, "format 0");
	corrupt(d, O_VERSION + 4, '9', 1, true, -EPROTONOSUPPORT,
		"written by hearth 0.1.9, this is 0.1.0");
	/* a byte after the NUL counts: the field is compared whole */
	corrupt(d, O_VERSION + 20, 'x', 1, true, -EPROTONOSUPPORT, "written by hearth 0.1.0,");
	corrupt(d, O_VERSION, 0x01, 1, true, -EPROTONOSUPPORT, "written by hearth ?.1.0,");
	corrupt(d, O_FLAGS, 1, 4, true, -EBADMSG, "flags 0x1");
	corrupt(d, O_MEMORY, 0, 8, true, -EBADMSG, "memory size 0 ");
	corrupt(d, O_MEMORY, 4097, 8, true, -EBADMSG, "memory size 4097 ");
	corrupt(d, O_MEMORY, 2048, 8, true, -EBADMSG, "memory size 2048 ");
	corrupt(d, O_CPUS, 0, 4, true, -EBADMSG, "0 vCPUs");
	corrupt(d, O_CPUS, 256, 4, true, -EBADMSG, "256 vCPUs");
	corrupt(d, O_PAYLEN, SNAPSHOT_MAX_PAYLOAD + 1ull, 8, true, -EFBIG, "the limit is");
	corrupt(d, O_PAYLEN, UINT64_MAX, 8, true, -EFBIG, "the limit is");
	/* within the limit but not what the file holds */
	corrupt(d, O_PAYLEN, sizeof(payload1) + 1, 8, true, -EBADMSG, "truncated");
	corrupt(d, O_PAYLEN, sizeof(payload1) - 1, 8, true, -EBADMSG, "trailing bytes");
	corrupt(d, O_PAYLEN, SNAPSHOT_MAX_PAYLOAD, 8, true, -EBADMSG, "truncated");
}

static void test_state_version_reason(void **st)
{
	struct dir *d = *st;

	assert_int_equal(snapshot_write_state(d->fd, &shape1, "0.0.9", payload1, 4), 0);
	assert_string_equal(read_expect(d->fd, "0.1.0", -EPROTONOSUPPORT),
			    "state: written by hearth 0.0.9, this is 0.1.0");
	/* a prefix is another version, too */
	assert_string_equal(read_expect(d->fd, "0.0.9-rc1", -EPROTONOSUPPORT),
			    "state: written by hearth 0.0.9, this is 0.0.9-rc1");
	read_expect(d->fd, "0.0.9", 0);
	read_expect(d->fd, "01234567890123456789012345678901", -EINVAL);
}

static void test_state_truncated_and_longer(void **st)
{
	struct dir *d = *st;
	size_t len;
	uint8_t *f = valid_state(d->fd, &len);
	const size_t cut[] = { 0,
			       1,
			       8,
			       16,
			       SNAPSHOT_HEADER_LEN - 1,
			       SNAPSHOT_HEADER_LEN,
			       SNAPSHOT_HEADER_LEN + 1,
			       len / 2 + SNAPSHOT_HEADER_LEN / 2,
			       len - 1 };

	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		spit(d->fd, SNAPSHOT_STATE_FILE, f, cut[i]);
		read_expect(d->fd, VER, -EBADMSG);
	}
	/* one byte taken out of the middle of the payload: one byte short */
	memmove(f + 100, f + 101, len - 101);
	spit(d->fd, SNAPSHOT_STATE_FILE, f, len - 1);
	read_expect(d->fd, VER, -EBADMSG);
	free(f);

	f = valid_state(d->fd, &len);
	f[len] = 0;
	spit(d->fd, SNAPSHOT_STATE_FILE, f, len + 1);
	assert_non_null(strstr(read_expect(d->fd, VER, -EBADMSG), "trailing bytes"));
	spit(d->fd, SNAPSHOT_STATE_FILE, f, len);
	read_expect(d->fd, VER, 0);
	free(f);
}

static void test_state_payload_flipped(void **st)
{
	struct dir *d = *st;
	size_t len;
	uint8_t *f = valid_state(d->fd, &len);

	for (size_t at = SNAPSHOT_HEADER_LEN; at < len; at += 13) {
		f[at] ^= 0x20;
		spit(d->fd, SNAPSHOT_STATE_FILE, f, len);
		assert_string_equal(read_expect(d->fd, VER, -EBADMSG),
				    "state: payload checksum mismatch");
		f[at] ^= 0x20;
	}
	free(f);
}

/* ---- replacing a snapshot ---- */

static void test_state_replaced(void **st)
{
	struct dir *d = *st;
	struct snapshot_shape s2 = shape1, s;
	char err[256] = "";
	void *p;
	size_t len;

	s2.cpus = 8;
	assert_int_equal(snapshot_write_state(d->fd, &shape1, VER, payload1, sizeof(payload1)), 0);
	/* a temporary file a crash left behind is overwritten */
	spit(d->fd, ".state.tmp", "junk junk junk junk junk junk junk junk junk", 40);
	assert_int_equal(snapshot_write_state(d->fd, &s2, VER, "second", 6), 0);
	assert_false(exists(d->fd, ".state.tmp"));
	assert_int_equal(snapshot_read_state(d->fd, VER, &s, &p, &len, err, sizeof(err)), 0);
	assert_int_equal(s.cpus, 8);
	assert_int_equal(len, 6);
	assert_memory_equal(p, "second", 6);
	free(p);
}

/* The first snapshot's state, whole. */
static void assert_first_state(int dirfd)
{
	struct snapshot_shape s;
	char err[256] = "";
	void *p;
	size_t len;

	assert_int_equal(snapshot_read_state(dirfd, VER, &s, &p, &len, err, sizeof(err)), 0);
	assert_int_equal(s.cpus, shape1.cpus);
	assert_int_equal(len, sizeof(payload1));
	assert_memory_equal(p, payload1, sizeof(payload1));
	free(p);
}

static struct rlimit saved_fsize;

/* Files of more than @bytes cannot be written: a write that fails half way. */
static void limit_file_size(rlim_t bytes)
{
	struct rlimit r;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
	r = saved_fsize;
	r.rlim_cur = bytes;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &r), 0);
}

static void unlimit_file_size(void)
{
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
}

static void test_state_failed_write_keeps_first(void **st)
{
	struct dir *d = *st;
	static uint8_t big[64 << 10];
	int file;

	assert_int_equal(snapshot_write_state(d->fd, &shape1, VER, payload1, sizeof(payload1)), 0);

	/* too large: refused up front */
	assert_int_equal(snapshot_write_state(d->fd, &shape1, VER, big, SNAPSHOT_MAX_PAYLOAD + 1u),
			 -EFBIG);
	assert_first_state(d->fd);

	/* the header and part of the payload written, then EFBIG */
	memset(big, 0x5a, sizeof(big));
	limit_file_size(16 << 10);
	assert_int_equal(snapshot_write_state(d->fd, &shape1, VER, big, sizeof(big)), -EFBIG);
	unlimit_file_size();
	assert_false(exists(d->fd, ".state.tmp"));
	assert_first_state(d->fd);

	/* not a directory */
	file = openat(d->fd, SNAPSHOT_STATE_FILE, O_RDONLY | O_CLOEXEC);
	assert_true(file >= 0);
	assert_int_equal(snapshot_write_state(file, &shape1, VER, "x", 1), -ENOTDIR);
	close(file);
	assert_first_state(d->fd);

	/* a directory we may not write (root may: then there is nothing to see) */
	if (geteuid() != 0) {
		assert_int_equal(fchmod(d->fd, 0500), 0);
		assert_int_equal(snapshot_write_state(d->fd, &shape1, VER, "x", 1), -EACCES);
		assert_int_equal(fchmod(d->fd, 0700), 0);
		assert_first_state(d->fd);
	} else {
		print_message("as root: the read-only directory case is not checked\n");
	}
}

/* ---- the memory file ---- */

struct ram {
	uint8_t *a, *b, *c; /* three regions */
	size_t na, nb, nc;
};

/* Region a: 16 pages, data in pages 1, 2, 5 and 15 (the last); region b:
 * 4 pages of zeros; region c: 300 pages of data and one page of zeros in
 * near its end: a run longer than a write's chunk (256 pages). Pages are
 * written with @seed so two snapshots differ. */
static void ram_fill(struct ram *m, uint8_t seed)
{
	m->na = 16 * PAGE;
	m->nb = 4 * PAGE;
	m->nc = 301 * PAGE;
	m->a = mmap(NULL, m->na + m->nb + m->nc, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m->a != MAP_FAILED);
	m->b = m->a + m->na;
	m->c = m->b + m->nb;
	m->a[1 * PAGE] = seed;
	m->a[2 * PAGE + PAGE - 1] = seed; /* the last byte of a page */
	m->a[5 * PAGE + 1000] = seed;
	m->a[15 * PAGE + 8] = seed;
	memset(m->c, seed, m->nc);
	memset(m->c + 280 * PAGE, 0, PAGE);
}

static void ram_free(struct ram *m)
{
	munmap(m->a, m->na + m->nb + m->nc);
}

static unsigned ram_regions(const struct ram *m, struct snapshot_region r[3])
{
	r[0] = (struct snapshot_region){ m->a, m->na };
	r[1] = (struct snapshot_region){ m->b, m->nb };
	r[2] = (struct snapshot_region){ m->c, m->nc };
	return 3;
}

static uint64_t ram_total(const struct ram *m)
{
	return m->na + m->nb + m->nc;
}

/* The memory file holds the regions one after another. */
static void assert_memory_file(int dirfd, const struct ram *m)
{
	char err[256] = "";
	int fd = snapshot_open_memory(dirfd, ram_total(m), err, sizeof(err));
	uint8_t *f;

	if (fd < 0)
		fail_msg("open_memory: %d (%s)", fd, err);
	f = malloc(ram_total(m));
	assert_non_null(f);
	assert_int_equal(pread(fd, f, ram_total(m), 0), (ssize_t)ram_total(m));
	/* a, b and c are one mapping, back to back */
	assert_memory_equal(f, m->a, ram_total(m));
	free(f);
	close(fd);
}

/* Whether the page at @off of @fd is a hole; -1 if the file system cannot say. */
static int is_hole(int fd, off_t off)
{
	off_t data = lseek(fd, off, SEEK_DATA);

	if (data < 0 && errno == ENXIO)
		return 1; /* nothing but holes from @off to the end */
	if (data < 0)
		return -1;
	return data > off;
}

static void test_memory_round_trip(void **st)
{
	struct dir *d = *st;
	struct snapshot_region r[3];
	struct ram m;
	uint64_t written = 1;
	unsigned n;
	int fd;

	ram_fill(&m, 0xa5);
	n = ram_regions(&m, r);
	assert_int_equal(snapshot_write_memory(d->fd, r, n, &written), 0);
	assert_false(exists(d->fd, ".memory.tmp"));
	/* 4 pages of a, none of b, 300 of c */
	assert_int_equal(written, (4 + 300) * PAGE);
	assert_memory_file(d->fd, &m);

	fd = openat(d->fd, SNAPSHOT_MEMORY_FILE, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	/* SEEK_HOLE's fallback calls the whole file data: then holes cannot be seen */
	if (lseek(fd, 0, SEEK_HOLE) == (off_t)ram_total(&m) || is_hole(fd, 0) < 0) {
		print_message("the file system does not report holes: holes not checked\n");
	} else {
		for (uint64_t off = 0; off < ram_total(&m); off += PAGE) {
			const uint8_t *pg = m.a + off;
			bool zero = true;

			for (unsigned i = 0; i < PAGE; i++)
				zero = zero && !pg[i];
			if (is_hole(fd, (off_t)off) != zero)
				fail_msg("page at %llu: %s, expected %s", (unsigned long long)off,
					 zero ? "data" : "a hole", zero ? "a hole" : "data");
		}
	}
	close(fd);
	ram_free(&m);
}

static void test_memory_all_zero_and_refusals(void **st)
{
	struct dir *d = *st;
	struct snapshot_region r[2];
	uint8_t *z = calloc(1, 8 * PAGE);
	uint64_t written = 1;
	char err[256] = "";
	int fd;

	assert_non_null(z);
	r[0] = (struct snapshot_region){ z, 8 * PAGE };
	assert_int_equal(snapshot_write_memory(d->fd, r, 1, &written), 0);
	assert_int_equal(written, 0);
	fd = snapshot_open_memory(d->fd, 8 * PAGE, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);

	/* sizes that are not whole pages, or nothing at all */
	r[1] = (struct snapshot_region){ z, 100 };
	assert_int_equal(snapshot_write_memory(d->fd, r, 2, NULL), -EINVAL);
	assert_int_equal(snapshot_write_memory(d->fd, r, 0, NULL), -EINVAL);
	r[0].size = 0;
	assert_int_equal(snapshot_write_memory(d->fd, r, 1, NULL), -EINVAL);
	assert_false(exists(d->fd, ".memory.tmp"));
	fd = snapshot_open_memory(d->fd, 8 * PAGE, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	free(z);
}

static void test_memory_open_refusals(void **st)
{
	struct dir *d = *st;
	struct snapshot_region r;
	uint8_t *z = calloc(1, 4 * PAGE);
	char err[256] = "";

	assert_int_equal(snapshot_open_memory(d->fd, 4 * PAGE, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "memory: no such file");
	z[0] = 1;
	r = (struct snapshot_region){ z, 4 * PAGE };
	assert_int_equal(snapshot_write_memory(d->fd, &r, 1, NULL), 0);
	assert_int_equal(snapshot_open_memory(d->fd, 8 * PAGE, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "memory: 16384 bytes, the snapshot's machine has 32768");
	assert_int_equal(snapshot_open_memory(d->fd, 4 * PAGE - 1, err, sizeof(err)), -EBADMSG);
	assert_int_equal(snapshot_open_memory(d->fd, 4 * PAGE + 1, err, sizeof(err)), -EBADMSG);
	assert_int_equal(unlinkat(d->fd, SNAPSHOT_MEMORY_FILE, 0), 0);
	assert_int_equal(mkdirat(d->fd, SNAPSHOT_MEMORY_FILE, 0700), 0);
	assert_int_equal(snapshot_open_memory(d->fd, 4 * PAGE, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "memory: not a regular file");
	assert_int_equal(unlinkat(d->fd, SNAPSHOT_MEMORY_FILE, AT_REMOVEDIR), 0);
	free(z);
}

static void test_memory_replaced_and_failed_write(void **st)
{
	struct dir *d = *st;
	struct snapshot_region r[3];
	struct ram one, two;
	unsigned n;
	int file;

	ram_fill(&one, 0x11);
	ram_fill(&two, 0x22);
	n = ram_regions(&one, r);
	assert_int_equal(snapshot_write_memory(d->fd, r, n, NULL), 0);
	n = ram_regions(&two, r);
	assert_int_equal(snapshot_write_memory(d->fd, r, n, NULL), 0);
	assert_memory_file(d->fd, &two);

	/* the file size limit below the memory's: the write fails, the
	 * second snapshot's memory stays */
	n = ram_regions(&one, r);
	limit_file_size(64 << 10);
	assert_int_equal(snapshot_write_memory(d->fd, r, n, NULL), -EFBIG);
	unlimit_file_size();
	assert_false(exists(d->fd, ".memory.tmp"));
	assert_memory_file(d->fd, &two);

	file = openat(d->fd, SNAPSHOT_MEMORY_FILE, O_RDONLY | O_CLOEXEC);
	assert_true(file >= 0);
	assert_int_equal(snapshot_write_memory(file, r, n, NULL), -ENOTDIR);
	close(file);
	assert_memory_file(d->fd, &two);

	if (geteuid() != 0) {
		assert_int_equal(fchmod(d->fd, 0500), 0);
		assert_int_equal(snapshot_write_memory(d->fd, r, n, NULL), -EACCES);
		assert_int_equal(fchmod(d->fd, 0700), 0);
		assert_memory_file(d->fd, &two);
	}
	ram_free(&one);
	ram_free(&two);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		T(test_state_round_trip),
		T(test_state_write_refusals),
		T(test_state_missing),
		T(test_state_header_refusals),
		T(test_state_version_reason),
		T(test_state_truncated_and_longer),
		T(test_state_payload_flipped),
		T(test_state_replaced),
		T(test_state_failed_write_keeps_first),
		T(test_memory_round_trip),
		T(test_memory_all_zero_and_refusals),
		T(test_memory_open_refusals),
		T(test_memory_replaced_and_failed_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
