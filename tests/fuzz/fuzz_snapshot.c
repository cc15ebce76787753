// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: a snapshot's state file as a corrupt or hostile one
 * would be (docs/snapshot.md "The files"). The input is written to a file
 * named "state" in a directory of its own and read back with
 * snapshot_read_state. A file it accepts, written again from the shape and
 * payload it returned, must read back as the same shape and payload, and
 * be the same bytes. ASan/UBSan catch the rest.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hearth/snapshot.h"

/* Fixed, not HEARTH_VERSION: the checked-in seeds stay valid (corpus/snapshot). */
#define VERSION "0.1.0"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

static char dir[256];
static int dfd = -1;

static void cleanup(void)
{
	unlinkat(dfd, SNAPSHOT_STATE_FILE, 0);
	unlinkat(dfd, "." SNAPSHOT_STATE_FILE ".tmp", 0);
	close(dfd);
	rmdir(dir);
}

/* A directory of our own, on tmpfs where there is one: the files are
 * rewritten for every input. */
static int dir_once(void)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (!tmp || !*tmp)
		tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_snapshot.XXXXXX", tmp);
	if (!mkdtemp(dir))
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	atexit(cleanup);
	return 0;
}

static void put(const uint8_t *in, size_t len)
{
	int fd = openat(dfd, SNAPSHOT_STATE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, in, len) != (ssize_t)len)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct snapshot_shape s, s2;
	char err[256];
	void *p, *p2;
	uint8_t *back;
	size_t n, n2;
	int fd, ret;

	if (dfd < 0 && dir_once())
		abort();
	put(in, len);
	err[0] = '\0';
	ret = snapshot_read_state(dfd, VERSION, &s, &p, &n, err, sizeof(err));
	if (ret) {
		/* a refusal names the file, in one line */
		if (p || n || strncmp(err, "state: ", 7) || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (snapshot_write_state(dfd, &s, VERSION, p, n))
		abort();
	if (snapshot_read_state(dfd, VERSION, &s2, &p2, &n2, err, sizeof(err)))
		abort();
	if (memcmp(&s, &s2, sizeof(s)) || n != n2 || memcmp(p, p2, n))
		abort();
	/* nothing in the header is free: the file written is the one read */
	fd = openat(dfd, SNAPSHOT_STATE_FILE, O_RDONLY | O_CLOEXEC);
	back = malloc(len);
	if (n + SNAPSHOT_HEADER_LEN != len || fd < 0 || !back ||
	    pread(fd, back, len, 0) != (ssize_t)len || memcmp(back, in, len))
		abort();
	free(back);
	close(fd);
	free(p);
	free(p2);
	return 0;
}
