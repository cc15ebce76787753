// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: --config FILE (src/config_file.c, then config.c's
 * parser, then vm_config_resolve() as main.c calls it) against arbitrary
 * file contents. Byte 0 picks what the command line adds after --config (a
 * --disk, a --net, a --kernel, a --cpus); the rest is the file, read
 * through config_load() as hearth reads it. A configuration that loads
 * must obey the rule docs/config.md states: the command line wins, and its
 * --disk / --net replace the file's.
 * ASan/UBSan catch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hearth/config.h"
#include "hearth/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	static struct vm_config cfg;
	static char path[64];
	static int fd = -1;
	struct config_args keep;
	char err[512], *argv[12];
	int argc = 0, ret;

	if (fd < 0) {
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (len < 1)
		return 0;
	if (ftruncate(fd, 0) || pwrite(fd, in + 1, len - 1, 0) != (ssize_t)(len - 1))
		abort();
	argv[argc++] = "--config";
	argv[argc++] = path;
	if (in[0] & 1) {
		argv[argc++] = "--disk";
		argv[argc++] = "path=cli.img,serial=cli";
	}
	if (in[0] & 2) {
		argv[argc++] = "--net";
		argv[argc++] = "tap=clitap";
	}
	if (in[0] & 4) {
		argv[argc++] = "--kernel";
		argv[argc++] = "cli.elf";
	}
	if (in[0] & 8) {
		argv[argc++] = "--cpus=3";
	}
	config_defaults(&cfg);
	err[0] = '\0';
	ret = config_load(&cfg, argc, argv, &keep, err, sizeof(err));
	if (!ret) /* as main.c: then the iSCSI URLs (vm.h) */
		ret = vm_config_resolve(&cfg, err, sizeof(err));
	if (ret) {
		/* one line that says why */
		if (!err[0] || strchr(err, '\n'))
			abort();
		config_args_free(&keep); /* as main.c does */
		return 0;
	}
	if (cfg.n_disks > CONFIG_MAX_DISKS || cfg.n_nets > CONFIG_MAX_NICS || cfg.cpus == 0 ||
	    cfg.memory == 0 || !cfg.cmdline)
		abort();
	if (in[0] & 1 && (cfg.n_disks != 1 || strcmp(cfg.disks[0].file.path, "cli.img") ||
			  strcmp(cfg.disks[0].serial, "cli")))
		abort();
	if (in[0] & 2 && (cfg.n_nets != 1 || strcmp(cfg.nets[0].tap, "clitap")))
		abort();
	if (in[0] & 4 && !cfg.help && strcmp(cfg.kernel, "cli.elf"))
		abort();
	if (in[0] & 8 && cfg.cpus != 3)
		abort();
	config_args_free(&keep);
	return 0;
}
