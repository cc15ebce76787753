// SPDX-License-Identifier: MIT
/*
 * The kernel inside a disk image (docs/boot.md). A guest wrote that image,
 * so its file system is hostile input for a large parser (libext2fs): it is
 * read by a child process with a CPU limit, a file size limit, a deadline
 * and a seccomp filter of its own (docs/security.md), which can hand back
 * only two memfds and one fixed-size record;
 * hearth checks the record and the memfds' sizes itself. Paths are
 * resolved here, a component at a time, so that no link can climb above
 * the file system's root or loop. A disk is a file (or block device), read
 * with pread, or an iSCSI LUN the child logs in to itself and reads through
 * a window of LUN_WINDOW bytes, to libext2fs through an I/O manager of ours
 * (lun_io); everything after the first read is the same for both.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <linux/fs.h>

#include "hearth/blkio.h"
#include "hearth/bytes.h"
#include "hearth/image.h"
#include "hearth/iscsi.h"
#include "hearth/sandbox.h"

#define MAX_LINK_HOPS  8
#define MAX_DEPTH      64
#define MAX_STEPS      512
#define MAX_PATH       4096
#define MAX_BLS_DIRENT 1024
#define MAX_BLS_CONF   (64 * 1024)
#define MAX_INITRDS    8
#define CHILD_CPU_S    60
#define CHILD_AS       (2ULL << 30)
/* A LUN is read a window at a time: libext2fs asks for a block at a time,
 * and a round trip per block would make a kernel and initrd thousands. */
#define LUN_WINDOW (1u << 20)
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEARTH_HAS_ASAN 1
#endif
#endif
#ifndef HEARTH_HAS_ASAN
#define HEARTH_HAS_ASAN 0
#endif

/* The disk being searched, in the child. */
struct disk {
	int fd;		   /* a file: read with pread; -1: a LUN */
	const char *path;  /* the file's, for libext2fs */
	struct blkio *lun; /* a LUN: read a window at a time */
	uint64_t size;
	uint64_t win_off; /* what the window holds: [win_off, win_off + win_len) */
	size_t win_len;
	int io_err; /* a read that failed (-errno): the disk, not its contents */
};

/* What the child hands back, once, through a pipe. */
struct result {
	int32_t status; /* 0 or -errno */
	char root_uuid[37];
	char found[256];
	char err[256];
};

/* One file system being searched, in the child. */
struct fs_ctx {
	ext2_filsys fs;
	const char *where; /* "partition 2" or "the whole disk" */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct fs_ctx *c, int ret, const char *fmt,
						      ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "%s: ", c->where);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

static int read_inode(struct fs_ctx *c, ext2_ino_t ino, struct ext2_inode *in)
{
	errcode_t rc = ext2fs_read_inode(c->fs, ino, in);

	return rc ? fail(c, -EINVAL, "corrupt file system: inode %u: %s", ino, error_message(rc))
		  : 0;
}

/* Reads up to @room bytes of inode @ino's data into @buf; *@got is what
 * was read. -EINVAL if the file system gives less than the inode says. */
static int read_data(struct fs_ctx *c, ext2_ino_t ino, uint64_t size, int fd, char *buf,
		     size_t room)
{
	ext2_file_t f;
	errcode_t rc = ext2fs_file_open(c->fs, ino, 0, &f);
	uint64_t done = 0;
	static char chunk[1 << 20];

	if (rc)
		return fail(c, -EINVAL, "corrupt file system: inode %u: %s", ino,
			    error_message(rc));
	while (done < size) {
		unsigned want =
			size - done < sizeof(chunk) ? (unsigned)(size - done) : sizeof(chunk);
		unsigned got = 0;

		rc = ext2fs_file_read(f, chunk, want, &got);
		if (rc || got == 0)
			break;
		if (buf) {
			if (done + got > room)
				break;
			memcpy(buf + done, chunk, got);
		} else {
			for (unsigned off = 0; off < got;) {
				ssize_t w = write(fd, chunk + off, got - off);

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					ext2fs_file_close(f);
					return fail(c, w < 0 ? -errno : -EIO,
						    "cannot copy a file out: %s",
						    strerror(w < 0 ? errno : EIO));
				}
				off += (unsigned)w;
			}
		}
		done += got;
	}
	ext2fs_file_close(f);
	if (done != size)
		return fail(c, -EINVAL,
			    "corrupt file system: inode %u holds %llu of its %llu bytes", ino,
			    (unsigned long long)done, (unsigned long long)size);
	return 0;
}

/*
 * Resolves @path from the root, following links inside the file system:
 * ".." above the root, more than MAX_LINK_HOPS links or a path longer than
 * MAX_PATH is refused (-EINVAL), a missing component is -ENOENT. Sets
 * *@out and *@in to what the path names.
 */
static int resolve(struct fs_ctx *c, const char *path, ext2_ino_t *out, struct ext2_inode *in)
{
	static char a[MAX_PATH], b[MAX_PATH];
	ext2_ino_t stack[MAX_DEPTH] = { EXT2_ROOT_INO };
	unsigned depth = 0, hops = 0, steps = 0;
	char *rest = a, *spare = b;
	int ret;

	if (snprintf(a, sizeof(a), "%s", path) >= (int)sizeof(a))
		return fail(c, -EINVAL, "%s: path too long", path);
	*out = EXT2_ROOT_INO;
	ret = read_inode(c, EXT2_ROOT_INO, in);
	while (!ret) {
		const char *name;
		size_t len;
		ext2_ino_t ino;
		errcode_t rc;

		while (*rest == '/')
			rest++;
		if (!*rest)
			return 0;
		if (++steps > MAX_STEPS)
			return fail(c, -EINVAL, "%s: too many path components", path);
		name = rest;
		len = strcspn(rest, "/");
		rest += len;
		if (len == 1 && name[0] == '.')
			continue;
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			if (depth == 0)
				return fail(c, -EINVAL, "%s: a link leads out of the file system",
					    path);
			*out = stack[--depth];
			ret = read_inode(c, *out, in);
			continue;
		}
		if (!LINUX_S_ISDIR(in->i_mode))
			return fail(c, -ENOENT, "%s: a component is not a directory", path);
		if (len > EXT2_NAME_LEN)
			return fail(c, -ENOENT, "%s: a name is too long", path);
		rc = ext2fs_lookup(c->fs, stack[depth], name, (int)len, NULL, &ino);
		if (rc == EXT2_ET_FILE_NOT_FOUND)
			return -ENOENT;
		if (rc)
			return fail(c, -EINVAL, "corrupt file system: %s: %s", path,
				    error_message(rc));
		ret = read_inode(c, ino, in);
		if (ret)
			break;
		if (LINUX_S_ISLNK(in->i_mode)) {
			char *target = spare;
			uint32_t size = in->i_size;
			size_t tail = strlen(rest);

			if (++hops > MAX_LINK_HOPS)
				return fail(c, -EINVAL, "%s: more than %d links", path,
					    MAX_LINK_HOPS);
			if (size == 0 || size >= MAX_PATH || size + 1 + tail >= MAX_PATH)
				return fail(c, -EINVAL, "%s: a link target of %u bytes", path,
					    size);
			if (ext2fs_is_fast_symlink(in)) {
				if (size >= sizeof(in->i_block))
					return fail(c, -EINVAL, "corrupt file system: %s: a link",
						    path);
				memcpy(target, in->i_block, size);
			} else {
				ret = read_data(c, ino, size, -1, target, MAX_PATH - 1);
				if (ret)
					return ret;
			}
			if (memchr(target, '\0', size))
				return fail(c, -EINVAL, "corrupt file system: %s: a link", path);
			memcpy(target + size, rest, tail + 1); /* the rest of the path follows */
			spare = target == a ? b : a;
			rest = target;
			if (*target == '/')
				depth = 0;
			*out = stack[depth];
			ret = read_inode(c, *out, in);
			continue;
		}
		if (LINUX_S_ISDIR(in->i_mode)) {
			if (depth + 1 >= MAX_DEPTH)
				return fail(c, -EINVAL, "%s: too deep", path);
			stack[++depth] = ino;
		}
		*out = ino;
	}
	return ret;
}

/* Copies the regular file at @path into memfd @fd (appending). */
static int copy_file(struct fs_ctx *c, const char *path, int fd, uint64_t *len)
{
	struct ext2_inode in;
	ext2_ino_t ino;
	uint64_t size;
	int ret = resolve(c, path, &ino, &in);

	if (ret)
		return ret;
	if (!LINUX_S_ISREG(in.i_mode))
		return fail(c, -EINVAL, "%s is not a regular file", path);
	size = EXT2_I_SIZE(&in);
	if (size == 0 || size > IMAGE_MAX_LEN || *len + size > IMAGE_MAX_LEN)
		return fail(c, -EINVAL, "%s: %llu bytes (at most %llu)", path,
			    (unsigned long long)size, (unsigned long long)IMAGE_MAX_LEN);
	ret = read_data(c, ino, size, fd, NULL, 0);
	if (!ret)
		*len += size;
	return ret;
}

struct bls_scan {
	char best[EXT2_NAME_LEN + 1];
	unsigned seen;
};

static int bls_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset, int blocksize,
		     char *buf, void *priv)
{
	struct bls_scan *s = priv;
	unsigned len = ext2fs_dirent_name_len(d);
	char name[EXT2_NAME_LEN + 1];

	(void)dir;
	(void)entry;
	(void)offset;
	(void)blocksize;
	(void)buf;
	if (++s->seen > MAX_BLS_DIRENT)
		return DIRENT_ABORT;
	memcpy(name, d->name, len);
	name[len] = '\0';
	if (len > 5 && !strcmp(name + len - 5, ".conf") && !memchr(d->name, '/', len) &&
	    !memchr(d->name, '\0', len) && strverscmp(name, s->best) > 0)
		memcpy(s->best, name, len + 1);
	return 0;
}

/* The value of BLS key @key on its own line in @conf, into @out. The nth
 * (0-based) occurrence; -ENOENT if there is none. */
static int bls_value(const char *conf, const char *key, unsigned nth, char *out, size_t room)
{
	size_t klen = strlen(key);

	for (const char *line = conf; *line; line += strcspn(line, "\n"), line += *line == '\n') {
		const char *v = line + klen;
		size_t n;

		if (strncmp(line, key, klen) || (*v != ' ' && *v != '\t'))
			continue;
		if (nth--)
			continue;
		v += strspn(v, " \t");
		n = strcspn(v, "\r\n");
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == 0 || n >= room)
			return -EINVAL;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

/* A BLS path is relative to the partition the entries are on; with /boot
 * on the root file system, that is /boot. */
static int copy_bls(struct fs_ctx *c, const char *dir, const char *p, int fd, uint64_t *len)
{
	char full[MAX_PATH];
	int ret = copy_file(c, p, fd, len);

	if (ret != -ENOENT)
		return ret;
	(void)dir;
	if (snprintf(full, sizeof(full), "/boot/%s", p) >= (int)sizeof(full))
		return fail(c, -EINVAL, "%s: path too long", p);
	return copy_file(c, full, fd, len);
}

static int try_bls(struct fs_ctx *c, int kfd, int ifd, struct boot_image *img)
{
	/* Only on the root file system: entries on a separate /boot partition
	 * (/loader/entries there) would give root=UUID= of /boot. */
	static const char *const dirs[] = { "/boot/loader/entries" };
	static char conf[MAX_BLS_CONF + 1];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct bls_scan s = { .best = "" };
		char path[MAX_PATH], val[MAX_PATH];
		struct ext2_inode in;
		ext2_ino_t dir, ino;
		uint64_t size;
		int ret = resolve(c, dirs[i], &dir, &in);

		if (ret == -ENOENT)
			continue;
		if (ret)
			return ret;
		if (!LINUX_S_ISDIR(in.i_mode))
			continue;
		if (ext2fs_dir_iterate2(c->fs, dir, 0, NULL, bls_entry, &s))
			return fail(c, -EINVAL, "corrupt file system: %s", dirs[i]);
		if (!s.best[0])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirs[i], s.best);
		ret = resolve(c, path, &ino, &in);
		if (ret)
			return ret;
		size = EXT2_I_SIZE(&in);
		if (!LINUX_S_ISREG(in.i_mode) || size > MAX_BLS_CONF)
			return fail(c, -EINVAL, "%s: not a boot entry file", path);
		ret = read_data(c, ino, size, -1, conf, MAX_BLS_CONF);
		if (ret)
			return ret;
		conf[size] = '\0';
		if (bls_value(conf, "linux", 0, val, sizeof(val)))
			return fail(c, -EINVAL, "%s: no 'linux' line", path);
		/* a broken entry is refused, not searched around (-EINVAL) */
		ret = copy_bls(c, dirs[i], val, kfd, &img->kernel_len);
		if (ret == -ENOENT)
			return fail(c, -EINVAL, "%s names %s, which does not exist", path, val);
		for (unsigned n = 0; !ret && n < MAX_INITRDS; n++) {
			if (bls_value(conf, "initrd", n, val, sizeof(val)))
				break;
			ret = copy_bls(c, dirs[i], val, ifd, &img->initrd_len);
			if (ret == -ENOENT)
				return fail(c, -EINVAL, "%s names %s, which does not exist", path,
					    val);
		}
		if (!ret && snprintf(img->found, sizeof(img->found), "%s: %s", c->where, path) < 0)
			ret = -EINVAL;
		return ret;
	}
	return -ENOENT;
}

static int try_links(struct fs_ctx *c, int kfd, int ifd, struct boot_image *img)
{
	static const char *const pairs[][2] = { { "/vmlinuz", "/initrd.img" },
						{ "/boot/vmlinuz", "/boot/initrd.img" } };

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int ret = copy_file(c, pairs[i][0], kfd, &img->kernel_len);

		if (ret == -ENOENT)
			continue;
		if (!ret) {
			ret = copy_file(c, pairs[i][1], ifd, &img->initrd_len);
			if (ret == -ENOENT)
				ret = 0; /* a kernel without an initrd boots too */
		}
		if (!ret)
			snprintf(img->found, sizeof(img->found), "%s: %s", c->where, pairs[i][0]);
		return ret;
	}
	return -ENOENT;
}

/* Searches one partition: -ENOTSUP when it holds no ext2/3/4 file system,
 * -ENOENT when it holds no kernel. */
static int read_at(void *ctx, uint64_t off, void *buf, size_t len);
static int lun_open_fs(struct disk *d, uint64_t offset, ext2_filsys *fs);

static int search_part(struct disk *d, const struct part *p, int kfd, int ifd,
		       struct boot_image *img, char *err, size_t errlen)
{
	char where[32], opts[48], name[16];
	struct fs_ctx c = { .where = where, .err = err, .errlen = errlen };
	uint8_t sb[1024];
	uint64_t bytes, blocks;
	uint32_t log_bs;
	errcode_t rc;
	int ret, dfd;

	if (p->index)
		snprintf(where, sizeof(where), "partition %u", p->index);
	else
		snprintf(where, sizeof(where), "the whole disk");
	if (p->size < 2048 || read_at(d, p->offset + 1024, sb, sizeof(sb)) || sb[56] != 0x53 ||
	    sb[57] != 0xef)
		return -ENOTSUP;
	/* the superblock's size, checked before libext2fs sizes its tables by
	 * it: a hostile block count must not make the reader allocate and
	 * read gigabytes of group descriptors */
	blocks = ld32(sb + 4);
	if (ld32(sb + 96) & 0x80) /* INCOMPAT_64BIT */
		blocks |= (uint64_t)ld32(sb + 0x150) << 32;
	log_bs = ld32(sb + 24);
	if (log_bs > 6 || __builtin_mul_overflow(blocks, 1024ULL << log_bs, &bytes) ||
	    bytes > p->size)
		return fail(&c, -EINVAL, "corrupt ext2/3/4 file system: larger than its partition");
	snprintf(opts, sizeof(opts), "offset=%llu", (unsigned long long)p->offset);
	if (d->lun) {
		rc = lun_open_fs(d, p->offset, &c.fs);
	} else {
		/* libext2fs reads the image through a descriptor of its own,
		 * which it closes with the file system: no path, no open()
		 * (the filter refuses both) */
		dfd = fcntl(d->fd, F_DUPFD_CLOEXEC, 0);
		if (dfd < 0)
			return fail(&c, -errno, "cannot read it: %s", strerror(errno));
		snprintf(name, sizeof(name), "%d", dfd);
		rc = ext2fs_open2(name, opts, EXT2_FLAG_64BITS, 0, 0, unixfd_io_manager, &c.fs);
		if (rc)
			close(dfd); /* if libext2fs has not (EBADF then: nothing opens meanwhile) */
	}
	if (rc) {
		return fail(&c, -EINVAL, "corrupt ext2/3/4 file system: %s", error_message(rc));
	}
	/* what e2fsck checks first: every group's bitmaps and inode table
	 * inside the file system and its group, so no inode read lands
	 * elsewhere */
	rc = ext2fs_check_desc(c.fs);
	if (rc) {
		ext2fs_close_free(&c.fs);
		return fail(&c, -EINVAL, "corrupt ext2/3/4 file system: %s", error_message(rc));
	}
	if (__builtin_mul_overflow(ext2fs_blocks_count(c.fs->super), (uint64_t)c.fs->blocksize,
				   &bytes) ||
	    bytes > p->size) {
		ret = fail(&c, -EINVAL, "corrupt ext2/3/4 file system: larger than its partition");
	} else {
		ret = try_bls(&c, kfd, ifd, img);
		if (ret == -ENOENT)
			ret = try_links(&c, kfd, ifd, img);
	}
	if (!ret) {
		const uint8_t *u = c.fs->super->s_uuid;

		snprintf(img->root_uuid, sizeof(img->root_uuid),
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
			 u[12], u[13], u[14], u[15]);
	}
	ext2fs_close_free(&c.fs);
	return ret;
}

static int read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	static uint8_t win[LUN_WINDOW];
	struct disk *d = ctx;
	size_t done = 0;

	if (off > d->size || len > d->size - off)
		return -EIO;
	while (done < len) {
		uint64_t at = off + done, start = at & ~(uint64_t)(LUN_WINDOW - 1);
		ssize_t n;
		int ret;

		if (d->fd >= 0) {
			n = pread(d->fd, (char *)buf + done, len - done, (off_t)at);
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0) {
				done += (size_t)n;
				continue;
			}
			ret = n < 0 ? -errno : -EIO;
		} else if (d->win_len && at >= d->win_off && at < d->win_off + d->win_len) {
			n = (ssize_t)(d->win_off + d->win_len - at);
			if ((size_t)n > len - done)
				n = (ssize_t)(len - done);
			memcpy((char *)buf + done, win + (at - d->win_off), (size_t)n);
			done += (size_t)n;
			continue;
		} else {
			/* whole LUN blocks: the window starts at a multiple of
			 * 1 MiB, and it or the LUN's end (whole blocks) ends it */
			size_t wlen = d->size - start < LUN_WINDOW ? (size_t)(d->size - start)
								   : LUN_WINDOW;

			d->win_len = 0;
			ret = iscsi_blk_read_sync(d->lun, start, win, wlen);
			if (!ret) {
				d->win_off = start;
				d->win_len = wlen;
				continue;
			}
		}
		d->io_err = ret;
		return ret;
	}
	return 0;
}

/* ---- libext2fs on a LUN: an I/O manager reading through read_at ----
 * Read-only (libext2fs falls back to write_blk, which refuses, for every
 * other write); the child has one file system open at a time, so the disk
 * and the partition's offset are this file's. */
static struct disk *lun_disk;
static uint64_t lun_offset;
static struct struct_io_manager lun_io;

static errcode_t lun_open(const char *name, int flags, io_channel *out)
{
	static char chan_name[] = "iscsi";
	io_channel ch;

	(void)name;
	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_FILSYS;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return EXT2_ET_NO_MEMORY;
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = &lun_io;
	ch->name = chan_name;
	ch->block_size = 1024;
	ch->refcount = 1;
	*out = ch;
	return 0;
}

static errcode_t lun_close(io_channel ch)
{
	if (--ch->refcount == 0)
		free(ch);
	return 0;
}

static errcode_t lun_set_blksize(io_channel ch, int size)
{
	if (size < 512 || size > 65536)
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = size;
	return 0;
}

/* @count blocks, or -@count bytes (libext2fs's convention) */
static errcode_t lun_read64(io_channel ch, unsigned long long block, int count, void *data)
{
	uint64_t len = count < 0 ? (uint64_t)(-(int64_t)count) : (uint64_t)count * ch->block_size;
	uint64_t off;

	if (__builtin_mul_overflow(block, (uint64_t)ch->block_size, &off) ||
	    __builtin_add_overflow(off, lun_offset, &off) || len > IMAGE_MAX_LEN)
		return EXT2_ET_LLSEEK_FAILED;
	return read_at(lun_disk, off, data, (size_t)len) ? EXT2_ET_SHORT_READ : 0;
}

static errcode_t lun_read(io_channel ch, unsigned long block, int count, void *data)
{
	return lun_read64(ch, block, count, data);
}

static errcode_t lun_write(io_channel ch, unsigned long block, int count, const void *data)
{
	(void)ch, (void)block, (void)count, (void)data;
	return EXT2_ET_RO_FILSYS;
}

static errcode_t lun_flush(io_channel ch)
{
	(void)ch;
	return 0;
}

static struct struct_io_manager lun_io = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "hearth iSCSI LUN",
	.open = lun_open,
	.close = lun_close,
	.set_blksize = lun_set_blksize,
	.read_blk = lun_read,
	.write_blk = lun_write,
	.flush = lun_flush,
	.read_blk64 = lun_read64,
};

static int lun_open_fs(struct disk *d, uint64_t offset, ext2_filsys *fs)
{
	lun_disk = d;
	lun_offset = offset;
	return (int)ext2fs_open2("iscsi", NULL, EXT2_FLAG_64BITS, 0, 0, &lun_io, fs);
}

/* The disk, opened before the filter: the file, or the LUN's own session
 * (logged in, the LUN checked, as for the guest). */
static int open_disk(const struct image_disk *src, struct disk *d, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	*d = (struct disk){ .fd = -1, .path = src->path };
	if (src->lun) {
		ret = iscsi_blk_open(&d->lun, src->lun, err, errlen);
		if (ret)
			return ret;
		d->size = blkio_size(d->lun);
		return 0;
	}
	d->fd = open(src->path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0 || fstat(d->fd, &st)) {
		snprintf(err, errlen, "cannot open it: %s", strerror(errno));
		return -errno;
	}
	d->size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(d->fd, BLKGETSIZE64, &d->size))
		d->size = 0;
	return 0;
}

/* The child's whole job once the disk @d is open and the filter loaded:
 * returns what goes into the record. */
static int search(struct disk *d, int kfd, int ifd, struct boot_image *img, char *err,
		  size_t errlen)
{
	struct part parts[PART_MAX] = { { 0 } };
	int n, ret = -ENOENT, fs = 0;

	n = part_scan(read_at, d, d->size, parts, PART_MAX, err, errlen);
	if (n == 0) {
		parts[0] = (struct part){ .index = 0, .offset = 0, .size = d->size };
		n = 1;
	}
	for (int i = 0; n > 0 && i < n; i++) {
		if (lseek(kfd, 0, SEEK_SET) || ftruncate(kfd, 0) || lseek(ifd, 0, SEEK_SET) ||
		    ftruncate(ifd, 0))
			break;
		img->kernel_len = img->initrd_len = 0;
		ret = search_part(d, &parts[i], kfd, ifd, img, err, errlen);
		fs += ret != -ENOTSUP;
		if (ret != -ENOTSUP && ret != -ENOENT)
			break;
		ret = -ENOENT;
	}
	if (d->fd >= 0)
		close(d->fd);
	if (d->lun)
		blkio_close(d->lun);
	if (d->io_err) {
		/* whatever libext2fs made of it: the disk failed, not its data */
		snprintf(err, errlen, "cannot read it: %s", strerror(-d->io_err));
		return d->io_err == -EINVAL ? -EIO : d->io_err;
	}
	if (n < 0)
		return n;
	if (ret == -ENOENT)
		snprintf(err, errlen,
			 "no kernel found (looked for /boot/loader/entries/*.conf, /vmlinuz and "
			 "/boot/vmlinuz on %d ext2/3/4 file system(s) of %d partition(s))",
			 fs, parts[0].index ? n : 0);
	return ret;
}

/*
 * The reader: keeps only the three descriptors it hands results through
 * (at 3, 4, 5), cannot gain privileges, dumps no core (hearth's memory),
 * and is limited in CPU time, file size and, outside sanitizer builds
 * (whose shadow memory needs terabytes of address space), address space.
 * Once the image is open, before a byte of it is parsed, it loads its
 * seccomp filter (SANDBOX_READER, docs/security.md; none with --seccomp
 * off): reading the image, writing what it hands back, its allocator.
 * It still runs as hearth's user with a copy of hearth's memory.
 */
static void child(const struct image_disk *src, int kfd, int ifd, int wfd)
{
	struct rlimit cpu = { CHILD_CPU_S, CHILD_CPU_S };
	struct rlimit fsize = { IMAGE_MAX_LEN, IMAGE_MAX_LEN };
	struct rlimit none = { 0, 0 };
	struct boot_image img = { 0 };
	struct result r = { 0 };
	struct disk disk;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* the name its violation line would give */
	prctl(PR_SET_NAME, "hearth-reader", 0, 0, 0);
	if (dup2(kfd, 3) < 0 || dup2(ifd, 4) < 0 || dup2(wfd, 5) < 0 ||
	    syscall(SYS_close_range, 6U, ~0U, 0U) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    setrlimit(RLIMIT_CORE, &none) || setrlimit(RLIMIT_CPU, &cpu) ||
	    setrlimit(RLIMIT_FSIZE, &fsize))
		_exit(1);
	kfd = 3;
	ifd = 4;
	wfd = 5;
#if !defined(__SANITIZE_ADDRESS__) && !HEARTH_HAS_ASAN
	struct rlimit as = { CHILD_AS, CHILD_AS };

	if (setrlimit(RLIMIT_AS, &as))
		_exit(1);
#endif
	initialize_ext2_error_table(); /* error_message() names libext2fs's codes */
	r.status = open_disk(src, &disk, r.err, sizeof(r.err));
	/* hearth's --log-file is not this process's: the violation line
	 * goes to stderr only */
	sandbox_configure(sandbox_enabled(), -1);
	if (!r.status && src->lun)
		sandbox_need(SANDBOX_NEED_ISCSI); /* the LUN's session: its own list */
	if (!r.status && (r.status = sandbox_enter(SANDBOX_READER)))
		snprintf(r.err, sizeof(r.err), "cannot load its seccomp filter: %s",
			 strerror(-r.status));
	if (!r.status)
		r.status = search(&disk, kfd, ifd, &img, r.err, sizeof(r.err));
	memcpy(r.root_uuid, img.root_uuid, sizeof(r.root_uuid));
	memcpy(r.found, img.found, sizeof(r.found));
	if (write(wfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(1);
	_exit(0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads the child's record within @timeout_ms. */
static int collect(int rfd, pid_t pid, uint64_t timeout_ms, struct result *r, char *err,
		   size_t errlen)
{
	uint64_t end = now_ms() + timeout_ms;
	size_t got = 0;
	int status = 0;

	while (got < sizeof(*r)) {
		uint64_t now = now_ms();
		struct pollfd p = { rfd, POLLIN, 0 };
		ssize_t n;
		int left = now >= end ? 0 : end - now > 60000 ? 60000 : (int)(end - now);

		int ready = left ? poll(&p, 1, left) : 0;

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			snprintf(err, errlen, "reading its file system took longer than %llu ms",
				 (unsigned long long)timeout_ms);
			return -ETIMEDOUT;
		}
		n = read(rfd, (char *)r + got, sizeof(*r) - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(*r) || !WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == SANDBOX_EXIT_STATUS)
			snprintf(err, errlen,
				 "the process reading its file system made a system call its "
				 "seccomp filter forbids (the line before names it)");
		else if (WIFSIGNALED(status))
			snprintf(err, errlen,
				 "the process reading its file system died (signal %d)",
				 WTERMSIG(status));
		else
			snprintf(err, errlen, "the process reading its file system failed");
		return -EINVAL;
	}
	return 0;
}

/* Names from the file system may hold anything: no control character
 * (a newline, an escape sequence) reaches the one-line error or the log. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int memfd_size(int fd, uint64_t *len)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*len = (uint64_t)st.st_size;
	return *len <= IMAGE_MAX_LEN ? 0 : -EINVAL;
}

int image_find_kernel(const struct image_disk *src, uint64_t timeout_ms, struct boot_image *out,
		      char *err, size_t errlen)
{
	struct result r = { 0 };
	struct stat st;
	int p[2] = { -1, -1 }, ret;
	pid_t pid;

	*out = (struct boot_image){ .kernel_fd = -1, .initrd_fd = -1 };
	if (!src->lun && stat(src->path, &st)) {
		snprintf(err, errlen, "cannot open it: %s", strerror(errno));
		return errno == ENOENT ? -ENOENT : -errno;
	}
	if (!src->lun && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "not a regular file or block device");
		return -EINVAL;
	}
	out->kernel_fd = memfd_create("hearth-kernel", MFD_CLOEXEC);
	out->initrd_fd = memfd_create("hearth-initrd", MFD_CLOEXEC);
	if (out->kernel_fd < 0 || out->initrd_fd < 0 || pipe2(p, O_CLOEXEC)) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up its reader: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot start its reader: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(p[0]);
		child(src, out->kernel_fd, out->initrd_fd, p[1]);
	}
	close(p[1]);
	p[1] = -1;
	ret = collect(p[0], pid, timeout_ms, &r, err, errlen);
	if (ret)
		goto fail;
	r.err[sizeof(r.err) - 1] = r.found[sizeof(r.found) - 1] = '\0';
	r.root_uuid[sizeof(r.root_uuid) - 1] = '\0';
	printable(r.err);
	printable(r.found);
	if (r.status) {
		ret = r.status < 0 && r.status > -4096 ? r.status : -EINVAL;
		snprintf(err, errlen, "%s", r.err);
		goto fail;
	}
	if (memfd_size(out->kernel_fd, &out->kernel_len) ||
	    memfd_size(out->initrd_fd, &out->initrd_len) || out->kernel_len == 0 ||
	    strspn(r.root_uuid, "0123456789abcdef-") != 36) {
		ret = -EINVAL;
		snprintf(err, errlen, "its reader handed back an inconsistent result");
		goto fail;
	}
	memcpy(out->root_uuid, r.root_uuid, sizeof(out->root_uuid));
	memcpy(out->found, r.found, sizeof(out->found));
	close(p[0]);
	return 0;
fail:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	image_release(out);
	return ret;
}

void image_release(struct boot_image *img)
{
	if (img->kernel_fd >= 0)
		close(img->kernel_fd);
	if (img->initrd_fd >= 0)
		close(img->initrd_fd);
	img->kernel_fd = img->initrd_fd = -1;
}
