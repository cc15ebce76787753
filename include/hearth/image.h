/* SPDX-License-Identifier: MIT */
/*
 * Booting a disk image that holds its own kernel (hearth run --disk
 * path=IMAGE with no --kernel): its partition table (GPT, else MBR, else
 * none) and, on each ext2/3/4 file system in it, a Boot Loader
 * Specification entry or Debian's /vmlinuz and /initrd.img links. The
 * image is untrusted (a guest wrote it last time it ran): the table is
 * parsed here with every field checked, and the file system is read by a
 * child process that can only hand back the two files (docs/boot.md).
 */
#ifndef HEARTH_IMAGE_H
#define HEARTH_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define PART_SECTOR   512
#define PART_MAX      128	   /* partitions considered, in table order */
#define IMAGE_MAX_LEN (1ULL << 30) /* the most a kernel or initrd may be */

struct part {
	unsigned index;	       /* as Linux numbers it: 1 for vda1; 0: the whole disk */
	uint64_t offset, size; /* in bytes, inside the disk */
};

/* Reads @len bytes at @off of the disk into @buf. Returns 0 or -errno
 * (-EIO for a short read). */
typedef int (*part_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

/*
 * The partitions of a disk of @disk_size bytes: a GPT's used entries (its
 * header's and entry array's CRC32s checked), else an MBR's primary
 * partitions (extended ones are not followed), else none. Returns how many
 * were stored in @out (at most @max; 0: no table, the whole disk may hold a
 * file system), or -EINVAL with a one-line reason in @err for a table that
 * is corrupt or names space outside the disk, or a read's -errno.
 */
int part_scan(part_read_fn rd, void *ctx, uint64_t disk_size, struct part *out, unsigned max,
	      char *err, size_t errlen);

/* CRC-32 (IEEE 802.3, as GPT uses it) of @len bytes, continuing from @crc
 * (0 to start). */
uint32_t part_crc32(uint32_t crc, const void *buf, size_t len);

struct boot_image {
	int kernel_fd, initrd_fd; /* memfds holding the files; -1: none */
	uint64_t kernel_len, initrd_len;
	char root_uuid[37]; /* the file system the kernel was found on */
	char found[256];    /* where, for the log: "partition 1: /vmlinuz" */
};

struct iscsi_blk_opts;
/* A disk to search: the image file (or block device) at @path, or, when
 * @lun is set, that iSCSI LUN (read through a session of the reader's own;
 * @path is then only its name). */
struct image_disk {
	const char *path;
	const struct iscsi_blk_opts *lun;
};

/*
 * Finds a kernel (and its initrd, if there is one) in the disk @src:
 * partitions in table order (the whole disk if there is no table),
 * on each ext2/3/4 file system first /boot/loader/entries/\*.conf (the
 * entry that sorts last by version), then /vmlinuz with /initrd.img, then
 * /boot/vmlinuz with /boot/initrd.img. Symbolic links are followed inside
 * the file system only. @timeout_ms bounds the child process that reads
 * the file system. Returns 0 and fills @out, or -errno with one line in
 * @err: -ENOENT no kernel found, -EINVAL a corrupt table or file system or
 * a link that leaves it (or a LUN's bad URL or credentials), anything else
 * a disk that cannot be read (or a target that refused).
 */
int image_find_kernel(const struct image_disk *src, uint64_t timeout_ms, struct boot_image *out,
		      char *err, size_t errlen);
void image_release(struct boot_image *img);

#endif
