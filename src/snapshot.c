// SPDX-License-Identifier: MIT
/*
 * A snapshot's files (include/hearth/snapshot.h, docs/snapshot.md "The
 * files"). The state file is an 88-byte little-endian header and the
 * payload; it is read back as untrusted input, every field checked before a
 * byte of the payload is used. The memory file is sparse: only the 4 KiB
 * pages that are not all zeros are written. Both are written under a
 * temporary name and renamed, so a file that has its final name is whole.
 *
 * System calls (the I/O thread's seccomp list must allow them): openat,
 * pread64, pwrite64, fstat (newfstatat with glibc >= 2.33), ftruncate,
 * fsync, renameat, unlinkat, close; and malloc's (brk/mmap) for the payload
 * read back.
 */
#include "hearth/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hearth/bytes.h"

#define PAGE  4096u
#define CHUNK (1u << 20) /* the most one pwrite of memory carries */

#define STATE_TMP  "." SNAPSHOT_STATE_FILE ".tmp"
#define MEMORY_TMP "." SNAPSHOT_MEMORY_FILE ".tmp"

/* The state file's header: offsets of its fields (docs/snapshot.md). */
#define H_MAGIC	   0
#define H_FORMAT   8
#define H_HDRLEN   12
#define H_VERSION  16
#define H_MEMORY   (H_VERSION + SNAPSHOT_VERSION_LEN) /* 48 */
#define H_CPUS	   (H_MEMORY + 8)
#define H_DISKS	   (H_CPUS + 4)
#define H_NICS	   (H_DISKS + 4)
#define H_FLAGS	   (H_NICS + 4)
#define H_PAYLEN   (H_FLAGS + 4) /* 72 */
#define H_PAYCRC   (H_PAYLEN + 8)
#define H_HDRCRC   (H_PAYCRC + 4)
#define HEADER_LEN (H_HDRCRC + 4) /* 88 */
#define MAGIC	   "HEARTHSS"
#define MAX_CPUS   255u

_Static_assert(HEADER_LEN == SNAPSHOT_HEADER_LEN, "the header's layout and its length agree");

/* ---- CRC-32C ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
		crc_table[i] = c;
	}
}

uint32_t snapshot_crc32c(uint32_t crc, const void *p, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const uint8_t *b = p;

	pthread_once(&once, crc_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- plumbing ---- */

__attribute__((format(printf, 4, 5))) static int why(int ret, char *err, size_t errlen,
						     const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* All of @len bytes at @off, through short writes and EINTR. */
static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* cannot happen for a regular file; never spin */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Up to @len bytes at @off: the count read (short only at the end of the
 * file), or -errno. */
static ssize_t pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * The atomic replace: @tmp is open as @fd and holds all the data. Syncs it,
 * closes it, renames it onto @name and syncs the directory. On failure
 * before the rename the temporary file is removed and @name left as it was.
 */
static int commit(int dirfd, int fd, const char *tmp, const char *name)
{
	int ret = 0;

	if (fsync(fd))
		ret = -errno;
	if (close(fd) && !ret && errno != EINTR)
		ret = -errno;
	if (!ret && renameat(dirfd, tmp, dirfd, name))
		ret = -errno;
	if (ret) {
		unlinkat(dirfd, tmp, 0);
		return ret;
	}
	/* the rename is done: a failure here cannot be undone, only told */
	if (fsync(dirfd))
		return -errno;
	return 0;
}

static int abandon(int dirfd, int fd, const char *tmp, int ret)
{
	close(fd);
	unlinkat(dirfd, tmp, 0);
	return ret;
}

static int open_tmp(int dirfd, const char *tmp)
{
	int fd = openat(dirfd, tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);

	return fd < 0 ? -errno : fd;
}

/* ---- the memory file ---- */

/* True if the 4 KiB page at @p is all zeros; stops at the first word that
 * is not. */
static bool page_is_zero(const uint8_t *p)
{
	for (unsigned i = 0; i < PAGE; i += 4 * 8) {
		uint64_t a, b, c, d;

		memcpy(&a, p + i, 8);
		memcpy(&b, p + i + 8, 8);
		memcpy(&c, p + i + 16, 8);
		memcpy(&d, p + i + 24, 8);
		if (a | b | c | d)
			return false;
	}
	return true;
}

/* The pages of one region that hold data, at @base in the file, in runs of
 * at most CHUNK bytes. */
static int write_region(int fd, const struct snapshot_region *r, uint64_t base, uint64_t *data)
{
	const uint8_t *p = r->hva;
	uint64_t off = 0;

	while (off < r->size) {
		uint64_t run = 0;
		int ret;

		if (page_is_zero(p + off)) {
			off += PAGE;
			continue;
		}
		while (run < CHUNK && off + run < r->size && !page_is_zero(p + off + run))
			run += PAGE;
		ret = pwrite_all(fd, p + off, (size_t)run, base + off);
		if (ret)
			return ret;
		*data += run;
		off += run;
	}
	return 0;
}

int snapshot_write_memory(int dirfd, const struct snapshot_region *r, unsigned n, uint64_t *written)
{
	uint64_t total = 0, data = 0, base = 0;
	int fd, ret;

	if (written)
		*written = 0;
	for (unsigned i = 0; i < n; i++)
		if (r[i].size % PAGE || (r[i].size && !r[i].hva) ||
		    __builtin_add_overflow(total, r[i].size, &total))
			return -EINVAL;
	if (total == 0 || total > (uint64_t)INT64_MAX)
		return -EINVAL;
	fd = open_tmp(dirfd, MEMORY_TMP);
	if (fd < 0)
		return fd;
	/* the whole size first: every page not written below is a hole */
	if (ftruncate(fd, (off_t)total))
		return abandon(dirfd, fd, MEMORY_TMP, -errno);
	for (unsigned i = 0; i < n; i++) {
		ret = write_region(fd, &r[i], base, &data);
		if (ret)
			return abandon(dirfd, fd, MEMORY_TMP, ret);
		base += r[i].size;
	}
	ret = commit(dirfd, fd, MEMORY_TMP, SNAPSHOT_MEMORY_FILE);
	if (!ret && written)
		*written = data;
	return ret;
}

int snapshot_open_memory(int dirfd, uint64_t size, char *err, size_t errlen)
{
	struct stat st;
	int fd = openat(dirfd, SNAPSHOT_MEMORY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		int e = errno;

		return why(-e, err, errlen, "%s: %s", SNAPSHOT_MEMORY_FILE,
			   e == ENOENT ? "no such file" : strerror(e));
	}
	if (fstat(fd, &st)) {
		int e = errno;

		close(fd);
		return why(-e, err, errlen, "%s: %s", SNAPSHOT_MEMORY_FILE, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return why(-EBADMSG, err, errlen, "%s: not a regular file", SNAPSHOT_MEMORY_FILE);
	}
	if ((uint64_t)st.st_size != size) {
		close(fd);
		return why(-EBADMSG, err, errlen, "%s: %llu bytes, the snapshot's machine has %llu",
			   SNAPSHOT_MEMORY_FILE, (unsigned long long)st.st_size,
			   (unsigned long long)size);
	}
	return fd;
}

/* ---- the state file ---- */

static bool shape_ok(const struct snapshot_shape *s)
{
	return s->flags == 0 && s->memory && s->memory % PAGE == 0 && s->cpus >= 1 &&
	       s->cpus <= MAX_CPUS;
}

int snapshot_write_state(int dirfd, const struct snapshot_shape *shape, const char *version,
			 const void *payload, size_t len)
{
	uint8_t h[HEADER_LEN] = { 0 };
	size_t vlen = strlen(version);
	int fd, ret;

	if (!shape_ok(shape) || vlen >= SNAPSHOT_VERSION_LEN || (len && !payload))
		return -EINVAL;
	if (len > SNAPSHOT_MAX_PAYLOAD)
		return -EFBIG;
	memcpy(h + H_MAGIC, MAGIC, 8);
	st32(h + H_FORMAT, SNAPSHOT_FORMAT);
	st32(h + H_HDRLEN, HEADER_LEN);
	memcpy(h + H_VERSION, version, vlen); /* the rest stays NUL */
	st64(h + H_MEMORY, shape->memory);
	st32(h + H_CPUS, shape->cpus);
	st32(h + H_DISKS, shape->disks);
	st32(h + H_NICS, shape->nics);
	st32(h + H_FLAGS, shape->flags);
	st64(h + H_PAYLEN, len);
	st32(h + H_PAYCRC, snapshot_crc32c(0, payload, len));
	st32(h + H_HDRCRC, snapshot_crc32c(0, h, H_HDRCRC));

	fd = open_tmp(dirfd, STATE_TMP);
	if (fd < 0)
		return fd;
	ret = pwrite_all(fd, h, sizeof(h), 0);
	if (!ret)
		ret = pwrite_all(fd, payload, len, HEADER_LEN);
	if (ret)
		return abandon(dirfd, fd, STATE_TMP, ret);
	return commit(dirfd, fd, STATE_TMP, SNAPSHOT_STATE_FILE);
}

/* The version field of an untrusted header as text: up to its first NUL,
 * anything unprintable as '?'. */
static void show_version(const uint8_t *f, char out[SNAPSHOT_VERSION_LEN + 1])
{
	size_t i;

	for (i = 0; i < SNAPSHOT_VERSION_LEN && f[i]; i++)
		out[i] = f[i] >= 0x20 && f[i] < 0x7f ? (char)f[i] : '?';
	out[i] = '\0';
}

/* Checks the header @h of a file of @size bytes; fills @shape and @plen. */
static int check_header(const uint8_t *h, uint64_t size, const char *version,
			struct snapshot_shape *shape, uint64_t *plen, char *err, size_t errlen)
{
	const char *F = SNAPSHOT_STATE_FILE;
	uint8_t want[SNAPSHOT_VERSION_LEN] = { 0 };
	char shown[SNAPSHOT_VERSION_LEN + 1];
	uint32_t format, hdrlen;

	if (memcmp(h + H_MAGIC, MAGIC, 8))
		return why(-EBADMSG, err, errlen, "%s: not a hearth snapshot (bad magic)", F);
	hdrlen = ld32(h + H_HDRLEN);
	if (hdrlen != HEADER_LEN)
		return why(-EBADMSG, err, errlen, "%s: header length %u, expected %u", F, hdrlen,
			   HEADER_LEN);
	if (snapshot_crc32c(0, h, H_HDRCRC) != ld32(h + H_HDRCRC))
		return why(-EBADMSG, err, errlen, "%s: header checksum mismatch", F);
	format = ld32(h + H_FORMAT);
	if (format != SNAPSHOT_FORMAT)
		return why(-EPROTONOSUPPORT, err, errlen, "%s: format %u, this hearth reads %u", F,
			   format, SNAPSHOT_FORMAT);
	memcpy(want, version, strlen(version)); /* the caller checked its length */
	if (memcmp(h + H_VERSION, want, SNAPSHOT_VERSION_LEN)) {
		show_version(h + H_VERSION, shown);
		return why(-EPROTONOSUPPORT, err, errlen, "%s: written by hearth %s, this is %s", F,
			   shown, version);
	}
	shape->memory = ld64(h + H_MEMORY);
	shape->cpus = ld32(h + H_CPUS);
	shape->disks = ld32(h + H_DISKS);
	shape->nics = ld32(h + H_NICS);
	shape->flags = ld32(h + H_FLAGS);
	if (shape->flags)
		return why(-EBADMSG, err, errlen, "%s: unknown flags 0x%x", F, shape->flags);
	if (!shape->memory || shape->memory % PAGE)
		return why(-EBADMSG, err, errlen,
			   "%s: memory size %llu is not a non-zero multiple of 4 KiB", F,
			   (unsigned long long)shape->memory);
	if (shape->cpus < 1 || shape->cpus > MAX_CPUS)
		return why(-EBADMSG, err, errlen, "%s: %u vCPUs, not 1 to %u", F, shape->cpus,
			   MAX_CPUS);
	*plen = ld64(h + H_PAYLEN);
	if (*plen > SNAPSHOT_MAX_PAYLOAD)
		return why(-EFBIG, err, errlen, "%s: payload of %llu bytes, the limit is %u", F,
			   (unsigned long long)*plen, SNAPSHOT_MAX_PAYLOAD);
	if (size - HEADER_LEN != *plen)
		return why(-EBADMSG, err, errlen,
			   "%s: %s: the header says %llu bytes of payload, the file holds %llu", F,
			   size - HEADER_LEN < *plen ? "truncated" : "trailing bytes",
			   (unsigned long long)*plen, (unsigned long long)(size - HEADER_LEN));
	return 0;
}

int snapshot_read_state(int dirfd, const char *version, struct snapshot_shape *shape,
			void **payload, size_t *len, char *err, size_t errlen)
{
	const char *F = SNAPSHOT_STATE_FILE;
	uint8_t h[HEADER_LEN], extra;
	uint64_t plen = 0;
	struct stat st;
	void *buf = NULL;
	ssize_t got;
	int fd, ret;

	*payload = NULL;
	*len = 0;
	if (strlen(version) >= SNAPSHOT_VERSION_LEN)
		return why(-EINVAL, err, errlen, "%s: hearth's version '%s' is too long", F,
			   version);
	fd = openat(dirfd, F, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = -errno;
		return why(ret, err, errlen, "%s: %s", F,
			   ret == -ENOENT ? "no such file" : strerror(-ret));
	}
	if (fstat(fd, &st)) {
		ret = why(-errno, err, errlen, "%s: %s", F, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = why(-EBADMSG, err, errlen, "%s: not a regular file", F);
		goto out;
	}
	if (st.st_size < HEADER_LEN) {
		ret = why(-EBADMSG, err, errlen,
			  "%s: truncated: %lld bytes, the header alone is %u", F,
			  (long long)st.st_size, HEADER_LEN);
		goto out;
	}
	got = pread_all(fd, h, sizeof(h), 0);
	if (got < 0) {
		ret = why((int)got, err, errlen, "%s: %s", F, strerror((int)-got));
		goto out;
	}
	if (got != HEADER_LEN) {
		ret = why(-EBADMSG, err, errlen, "%s: truncated header", F);
		goto out;
	}
	ret = check_header(h, (uint64_t)st.st_size, version, shape, &plen, err, errlen);
	if (ret)
		goto out;
	/* plen <= SNAPSHOT_MAX_PAYLOAD: the allocation is bounded */
	buf = malloc(plen ? plen : 1);
	if (!buf) {
		ret = why(-ENOMEM, err, errlen, "%s: no memory for %llu bytes of payload", F,
			  (unsigned long long)plen);
		goto out;
	}
	got = pread_all(fd, buf, plen, HEADER_LEN);
	if (got < 0) {
		ret = why((int)got, err, errlen, "%s: %s", F, strerror((int)-got));
		goto out;
	}
	/* the file changed under us since fstat: shorter, or longer */
	if ((uint64_t)got != plen || pread_all(fd, &extra, 1, HEADER_LEN + plen) != 0) {
		ret = why(-EBADMSG, err, errlen, "%s: changed size while being read", F);
		goto out;
	}
	if (snapshot_crc32c(0, buf, plen) != ld32(h + H_PAYCRC)) {
		ret = why(-EBADMSG, err, errlen, "%s: payload checksum mismatch", F);
		goto out;
	}
	*payload = buf;
	*len = plen;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}
