/* SPDX-License-Identifier: MIT */
/*
 * What the guest boots from, before it is in guest RAM: the kernel and
 * initrd mapped from --kernel/--initrd or found inside the first disk's
 * image (docs/boot.md), the command line (the configuration's, or with
 * root=UUID= of the image's file system joined), and their loading into
 * guest RAM with the MP and ACPI tables. Owns the mappings and the
 * command line it built. Steps return 0, or -errno with the reason and
 * exit code in @f (failure.h). A zeroed struct holds nothing.
 */
#ifndef HEARTH_BOOT_FILES_H
#define HEARTH_BOOT_FILES_H

#include <stddef.h>

#include "hearth/boot_entry.h"
#include "hearth/config.h"
#include "hearth/failure.h"
#include "hearth/mem.h"

struct mapped_file {
	void *data;
	size_t len;
};

struct boot_files {
	struct mapped_file kernel, initrd;
	char name[CONFIG_DISK_PATH_MAX + 300]; /* for messages: --kernel, or where in a disk */
	char *cmdline;			       /* NULL: the configuration's */
};

/* Maps --kernel and --initrd, or with no --kernel finds both in the first
 * disk's image. */
int boot_files_open(struct boot_files *b, const struct vm_config *cfg, struct failure *f);
/* Loads them into @gm, fills @boot for the boot vCPU and writes the MP and
 * ACPI tables for @cfg->cpus vCPUs. */
int boot_files_load(struct boot_files *b, struct guest_mem *gm, const struct vm_config *cfg,
		    struct boot_setup *boot, struct failure *f);
/* Unmaps the files (once copied into guest RAM, they need not stay resident). */
void boot_files_unmap(struct boot_files *b);
/* Unmaps the files and frees the command line. */
void boot_files_close(struct boot_files *b);

#endif
