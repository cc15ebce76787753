/* SPDX-License-Identifier: MIT */
/*
 * A snapshot on disk (docs/snapshot.md): a directory with two files.
 *
 *   state   a header and a payload: the state records (state.h) of the VM,
 *           its vCPUs and its devices. The header names the format version,
 *           the hearth version that wrote it, the machine's shape (RAM size,
 *           vCPUs, disks, NICs), the payload's length and its CRC-32C, and
 *           its own CRC-32C. Read back untrusted: any mismatch is refused
 *           before a byte of the payload is used.
 *   memory  guest RAM, the regions one after another, as a sparse file: a
 *           4 KiB page of zeros is a hole. Restore maps it privately, so
 *           pages come in from the file on the guest's first touch.
 *
 * Files are written under a temporary name (".state.tmp", ".memory.tmp"),
 * synced, and renamed, then the directory is synced: a snapshot that exists
 * is whole. One writer per directory at a time. @dirfd is the snapshot's
 * directory opened O_RDONLY|O_DIRECTORY (not O_PATH: it is fsync'ed).
 * No file is opened through a symbolic link (O_NOFOLLOW: -ELOOP).
 *
 * Reasons written to @err are one line naming the file, "state: ..." or
 * "memory: ..."; the caller prefixes the directory.
 */
#ifndef HEARTH_SNAPSHOT_H
#define HEARTH_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_FORMAT	     1u
#define SNAPSHOT_STATE_FILE  "state"
#define SNAPSHOT_MEMORY_FILE "memory"
#define SNAPSHOT_MAX_PAYLOAD (64u << 20) /* bytes of records, at most */
#define SNAPSHOT_VERSION_LEN 32		 /* hearth's version string, NUL-padded */
#define SNAPSHOT_HEADER_LEN  88		 /* bytes of the state file's header */

/* The machine a snapshot is of: a restore builds the same one. */
struct snapshot_shape {
	uint64_t memory; /* bytes of guest RAM (the memory file's size) */
	uint32_t cpus;
	uint32_t disks;
	uint32_t nics;
	uint32_t flags; /* SNAPSHOT_F_*: none yet, must be 0 */
};

struct snapshot_region {
	const void *hva;
	uint64_t size; /* a multiple of 4 KiB */
};

/*
 * Writes @dirfd/memory from @n regions, holes for zero pages. Returns 0 or
 * -errno (-EINVAL: a region's size not a multiple of 4 KiB, or no bytes at
 * all); on failure no file named "memory" is left changed.
 * *@written (may be NULL) is the bytes of data written (not holes).
 * For both writers, one failure comes after the rename: the directory's
 * fsync. The new file is then in place, but may not survive a crash.
 */
int snapshot_write_memory(int dirfd, const struct snapshot_region *r, unsigned n,
			  uint64_t *written);

/*
 * Writes @dirfd/state: the header for @shape and @version, then @payload.
 * Returns 0 or -errno: -EINVAL for a shape the reader would refuse (flags,
 * memory not a non-zero multiple of 4 KiB, cpus not 1..255) or a @version
 * of SNAPSHOT_VERSION_LEN characters or more, -EFBIG for @len over
 * SNAPSHOT_MAX_PAYLOAD; on failure no file named "state" is left changed.
 */
int snapshot_write_state(int dirfd, const struct snapshot_shape *shape, const char *version,
			 const void *payload, size_t len);

/*
 * Reads @dirfd/state: checks the header (magic, format, the hearth version
 * equal to @version, the checksums, the payload's length within
 * SNAPSHOT_MAX_PAYLOAD and equal to what the file holds) and returns the
 * shape and the payload (malloc'd: free() it). Returns 0, or -errno with a
 * one-line reason in @err: -ENOENT (no such file), -EBADMSG (corrupt or
 * truncated, not a snapshot), -EPROTONOSUPPORT (another format, or written
 * by another hearth version), -EFBIG (payload too large), another -errno
 * from the file system (-EINVAL: @version too long to be in a header).
 */
int snapshot_read_state(int dirfd, const char *version, struct snapshot_shape *shape,
			void **payload, size_t *len, char *err, size_t errlen);

/*
 * Opens @dirfd/memory for a restore and checks it holds exactly @size
 * bytes. Returns the descriptor (O_RDONLY, close-on-exec), or -errno with a
 * reason in @err (-ENOENT, -EBADMSG for a wrong size or not a regular file).
 */
int snapshot_open_memory(int dirfd, uint64_t size, char *err, size_t errlen);

/* CRC-32C (Castagnoli) of @len bytes, continuing from @crc (0 to start). */
uint32_t snapshot_crc32c(uint32_t crc, const void *p, size_t len);

#endif
