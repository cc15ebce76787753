// SPDX-License-Identifier: MIT
/*
 * The disk image reader's child runs under its own seccomp filter
 * (src/boot/image.c, SANDBOX_READER in docs/security.md) from before
 * libext2fs parses the image: this test binary wraps ext2fs_open2() (ld
 * --wrap, tests/unit/meson.build) with a socket() first, a call the
 * reader's filter forbids. Filtered, the child ends with the violation
 * line naming it and the call, and image_find_kernel() says why; with the
 * filters off (--seccomp off) the same wrapped read finds the kernel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "hearth/image.h"
#include "hearth/sandbox.h"

errcode_t __real_ext2fs_open2(const char *name, const char *io_options, int flags, int superblock,
			      unsigned int block_size, io_manager manager, ext2_filsys *ret_fs);
errcode_t __wrap_ext2fs_open2(const char *name, const char *io_options, int flags, int superblock,
			      unsigned int block_size, io_manager manager, ext2_filsys *ret_fs);

/* In the reader's child, just before libext2fs reads the file system: a
 * parser that a hostile image took over might try the same. */
errcode_t __wrap_ext2fs_open2(const char *name, const char *io_options, int flags, int superblock,
			      unsigned int block_size, io_manager manager, ext2_filsys *ret_fs)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s >= 0)
		close(s);
	return __real_ext2fs_open2(name, io_options, flags, superblock, block_size, manager,
				   ret_fs);
}

static char dir[64], img[128], err[512];

static int setup(void **state)
{
	char cmd[1024];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hearth-image-sandbox-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/t/boot && printf KERNEL > %s/t/boot/vmlinuz-6 && "
		 "ln -s boot/vmlinuz-6 %s/t/vmlinuz && "
		 "PATH=$PATH:/sbin:/usr/sbin mke2fs -q -F -t ext4 -d %s/t %s 8M >/dev/null",
		 dir, dir, dir, dir, img);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* image_find_kernel() with the child's stderr (it inherits ours) caught
 * in @line. */
static int find(struct boot_image *b, char *line, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), ret;
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	err[0] = '\0';
	ret = image_find_kernel(&(struct image_disk){ .path = img }, 30000, b, err, sizeof(err));
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(line, 1, len - 1, tmp);
	line[n] = '\0';
	fclose(tmp);
	return ret;
}

static void reader_is_filtered(void **state)
{
	struct boot_image b;
	char line[512];

	(void)state;
	sandbox_configure(true, -1);
	assert_int_equal(find(&b, line, sizeof(line)), -EINVAL);
	assert_non_null(strstr(err, "seccomp filter forbids"));
	assert_non_null(
		strstr(line, "thread hearth-reader made a forbidden system call: socket (41)"));
	assert_int_equal(b.kernel_fd, -1);
}

static void off_leaves_it_unfiltered(void **state)
{
	struct boot_image b;
	char line[512];

	(void)state;
	sandbox_configure(false, -1);
	assert_int_equal(find(&b, line, sizeof(line)), 0);
	assert_int_equal(b.kernel_len, 6);
	assert_string_equal(b.found, "the whole disk: /vmlinuz");
	assert_null(strstr(line, "seccomp"));
	image_release(&b);
	sandbox_configure(true, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reader_is_filtered),
		cmocka_unit_test(off_leaves_it_unfiltered),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
