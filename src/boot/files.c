// SPDX-License-Identifier: MIT
#include "hearth/boot_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hearth/abi.h"
#include "hearth/boot.h"
#include "hearth/exit.h"
#include "hearth/image.h"
#include "hearth/iscsi.h"
#include "hearth/log.h"

#define MPTABLE_ROOM 0x10000
#define ACPI_ROOM    0x10000

void boot_files_unmap(struct boot_files *b)
{
	if (b->kernel.data)
		munmap(b->kernel.data, b->kernel.len);
	if (b->initrd.data)
		munmap(b->initrd.data, b->initrd.len);
	b->kernel = (struct mapped_file){ 0 };
	b->initrd = (struct mapped_file){ 0 };
}

static int map_file(struct failure *fl, const char *what, const char *path, struct mapped_file *f)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return failure_set(fl, -errno, HEARTH_EXIT_USAGE, "cannot open %s '%s': %s", what,
				   path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return failure_set(fl, -EINVAL, HEARTH_EXIT_USAGE,
				   "%s '%s' is not a regular, non-empty file", what, path);
	}
	f->len = (size_t)st.st_size;
	f->data = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
	err = errno;
	close(fd);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		return failure_set(fl, -err, HEARTH_EXIT_HOST, "cannot map %s '%s': %s", what, path,
				   strerror(err));
	}
	return 0;
}

/* The most the child reading a disk image's file system may take. */
#define IMAGE_READ_TIMEOUT_MS 60000

static int map_fd(struct failure *fl, const char *what, int fd, uint64_t len, struct mapped_file *f)
{
	if (len == 0)
		return 0;
	f->data = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		return failure_set(fl, -errno, HEARTH_EXIT_HOST, "cannot map the %s: %s", what,
				   strerror(errno));
	}
	f->len = (size_t)len;
	return 0;
}

/* Whether @cmdline has a root= parameter of its own. */
static bool has_root(const char *cmdline)
{
	for (const char *p = strstr(cmdline, "root="); p; p = strstr(p + 1, "root="))
		if (p == cmdline || p[-1] == ' ' || p[-1] == '\t')
			return true;
	return false;
}

/*
 * No --kernel: the kernel and initrd come from inside the first disk's
 * image (src/boot/image.c), and root=UUID= of the file system they were on
 * joins the command line unless it names a root itself (docs/boot.md).
 */
static int kernel_from_disk(struct boot_files *b, const struct vm_config *cfg, struct failure *f)
{
	const struct disk_config *d = &cfg->disks[0];
	struct image_disk src = { .path = d->file.path };
	struct iscsi_blk_opts lun;
	struct boot_image img;
	char why[300], name[sizeof(d->iscsi.url)];
	size_t n;
	int ret;

	if (cfg->n_disks == 0)
		return failure_set(
			f, -EINVAL, HEARTH_EXIT_USAGE,
			"no --kernel, and no disk image to take one from: give --kernel FILE "
			"or a first --disk path=IMAGE (or url=iscsi://...) that holds a kernel");
	if (d->kind == DISK_ISCSI) {
		const struct disk_iscsi *c = &d->iscsi;

		/* the LUN as its disk will open it (src/devices.c), read-only */
		lun = (struct iscsi_blk_opts){ .url = c->url,
					       .url_password = c->url_password,
					       .secret = c->secret[0] ? c->secret : NULL,
					       .timeout_ms = c->timeout_ms,
					       .readonly = true,
					       .initiator = c->initiator[0] ? c->initiator : NULL };
		iscsi_url_redact(c->url, name, sizeof(name));
		src = (struct image_disk){ .path = name, .lun = &lun };
	}
	ret = image_find_kernel(&src, IMAGE_READ_TIMEOUT_MS, &img, why, sizeof(why));
	if (ret)
		return failure_set(f, ret,
				   ret == -EINVAL || ret == -ENOENT ? HEARTH_EXIT_USAGE
								    : HEARTH_EXIT_DISK,
				   "no --kernel, and disk '%s': %s", src.path, why);
	snprintf(b->name, sizeof(b->name), "%s (%s)", src.path, img.found);
	ret = map_fd(f, "kernel", img.kernel_fd, img.kernel_len, &b->kernel);
	if (!ret)
		ret = map_fd(f, "initrd", img.initrd_fd, img.initrd_len, &b->initrd);
	if (!ret && !has_root(cfg->cmdline)) {
		n = strlen(cfg->cmdline) + sizeof(" root=UUID=") + sizeof(img.root_uuid);
		b->cmdline = malloc(n);
		if (!b->cmdline)
			ret = failure_set(f, -ENOMEM, HEARTH_EXIT_HOST, "out of memory");
		else
			snprintf(b->cmdline, n, "%s root=UUID=%s", cfg->cmdline, img.root_uuid);
	}
	image_release(&img);
	if (!ret)
		log_info("kernel from the disk image: %s%s%s", b->name,
			 b->initrd.data ? ", with its initrd" : "",
			 b->cmdline ? ", root=UUID= of that file system" : "");
	return ret;
}

int boot_files_load(struct boot_files *b, struct guest_mem *gm, const struct vm_config *cfg,
		    struct boot_setup *boot, struct failure *f)
{
	struct e820_entry e820[8];
	int n = e820_build(gm, e820, 8);
	struct boot_input in = {
		.kernel = b->kernel.data,
		.kernel_len = b->kernel.len,
		.initrd = b->initrd.data,
		.initrd_len = b->initrd.len,
		.cmdline = b->cmdline ? b->cmdline : cfg->cmdline,
		.e820 = e820,
		.e820_n = (size_t)n,
	};
	char why[200];
	int ret;

	if (n < 0)
		return failure_set(f, -ENOSPC, HEARTH_EXIT_USAGE,
				   "guest memory is too small for a memory map");
	ret = boot_load(gm, &in, boot, why, sizeof(why));
	if (ret)
		return failure_set(f, ret, HEARTH_EXIT_USAGE, "kernel '%s': %s", b->name, why);
	if (mptable_write(gm, HEARTH_MPTABLE, MPTABLE_ROOM, cfg->cpus) < 0)
		return failure_set(f, -ENOSPC, HEARTH_EXIT_HOST, "cannot write the MP table");
	if (acpi_write(gm, HEARTH_ACPI_RSDP, ACPI_ROOM, cfg->cpus) < 0)
		return failure_set(f, -ENOSPC, HEARTH_EXIT_HOST, "cannot write the ACPI tables");
	return 0;
}

int boot_files_open(struct boot_files *b, const struct vm_config *cfg, struct failure *f)
{
	int ret;

	if (!cfg->kernel)
		return kernel_from_disk(b, cfg, f);
	snprintf(b->name, sizeof(b->name), "%s", cfg->kernel);
	ret = map_file(f, "kernel", cfg->kernel, &b->kernel);
	if (!ret && cfg->initrd)
		ret = map_file(f, "initrd", cfg->initrd, &b->initrd);
	return ret;
}

void boot_files_close(struct boot_files *b)
{
	boot_files_unmap(b);
	free(b->cmdline);
	b->cmdline = NULL;
}
