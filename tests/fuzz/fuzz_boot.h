/* SPDX-License-Identifier: MIT */
/*
 * What fuzz_bzimage and fuzz_pvh share: the input becomes a kernel file, a
 * command line and an initrd, loaded into guest RAM the way vm.c does, and
 * what a successful load reports is checked against the RAM it was given.
 *
 * Input: byte 0 flags (bit 0: an initrd, bit 1: a large initrd of zeroes,
 * bit 2: the command line repeated to 16 times its length, bit 3: 2 MiB of
 * RAM instead of 32 MiB); bytes 1-2 the command line's length, bytes 3-4
 * the initrd's (little-endian, clamped to what follows); then the command
 * line, the initrd, and the kernel file (all the rest).
 */
#ifndef HEARTH_FUZZ_BOOT_H
#define HEARTH_FUZZ_BOOT_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

#define FUZZ_BIG_INITRD (40u << 20)

typedef int (*fuzz_loader)(struct guest_mem *gm, const struct boot_input *in,
			   struct boot_setup *out, char *err, size_t errlen);

/* Which bytes a successful load claims: checked by the caller's oracle. */
struct fuzz_boot_result {
	const struct guest_mem *gm;
	struct boot_setup setup;
	const uint8_t *initrd;
	size_t initrd_len;
};

static size_t take16(const uint8_t *p)
{
	return (size_t)p[0] | (size_t)p[1] << 8;
}

/* Runs @load over the input; returns its status, and fills @r. */
static int fuzz_boot_run(const uint8_t *in, size_t len, fuzz_loader load,
			 struct fuzz_boot_result *r)
{
	static struct guest_mem small, big;
	static struct e820_entry e820_small[8], e820_big[8];
	static int n_small, n_big;
	static uint8_t *zeroes;
	struct boot_input bi = { 0 };
	size_t cl, il, rep;
	uint8_t flags;
	char err[256], *cmd;
	uint8_t *kernel;
	int ret;

	if (!zeroes) {
		zeroes = calloc(1, FUZZ_BIG_INITRD);
		if (!zeroes || gm_create(&small, 2u << 20, false) ||
		    gm_create(&big, 32u << 20, false))
			abort();
		n_small = e820_build(&small, e820_small, 8);
		n_big = e820_build(&big, e820_big, 8);
		if (n_small <= 0 || n_big <= 0)
			abort();
	}
	if (len < 5)
		return -1;
	flags = in[0];
	cl = take16(in + 1);
	il = take16(in + 3);
	rep = flags & 4 ? 16 : 1;
	r->gm = flags & 8 ? &small : &big;
	bi.e820 = flags & 8 ? e820_small : e820_big;
	bi.e820_n = (size_t)(flags & 8 ? n_small : n_big);
	in += 5;
	len -= 5;
	if (cl > len)
		cl = len;
	/* the command line: a C string, as main.c hands it over */
	cmd = malloc(rep * cl + 1);
	if (!cmd)
		return -1;
	for (size_t k = 0; k < rep; k++)
		memcpy(cmd + k * cl, in, cl);
	cmd[rep * cl] = '\0';
	bi.cmdline = cmd;
	in += cl;
	len -= cl;
	if (il > len)
		il = len;
	if (flags & 2) {
		bi.initrd = zeroes;
		bi.initrd_len = il * 1024 < FUZZ_BIG_INITRD ? il * 1024 : FUZZ_BIG_INITRD;
	} else if (flags & 1) {
		bi.initrd = in;
		bi.initrd_len = il;
	}
	in += il;
	len -= il;
	/* the kernel in a buffer of its own, exactly as long as the file: a
	 * read past its end is an ASan report (main.c maps the file) */
	kernel = malloc(len ? len : 1);
	if (!kernel) {
		free(cmd);
		return -1;
	}
	memcpy(kernel, in, len);
	bi.kernel = kernel;
	bi.kernel_len = len;
	err[0] = '\0';
	ret = load((struct guest_mem *)r->gm, &bi, &r->setup, err, sizeof(err));
	/* every failure says why, in one line */
	if (ret && (!err[0] && ret != -EFAULT))
		abort();
	if (ret && strchr(err, '\n'))
		abort();
	r->initrd = bi.initrd;
	r->initrd_len = bi.initrd_len;
	free(kernel);
	free(cmd);
	return ret;
}

/* The oracle for a successful load: the kernel ends inside RAM, the initrd
 * lies above it, inside RAM, below @initrd_limit, and holds its bytes. */
static void fuzz_boot_check(const struct fuzz_boot_result *r, uint64_t initrd_addr,
			    uint64_t initrd_limit)
{
	const struct boot_setup *s = &r->setup;

	if (s->kernel_end < BOOT_KERNEL_MIN || !gm_ptr(r->gm, s->kernel_end - 1, 1) ||
	    !gm_ptr(r->gm, s->entry, 1) || s->arg != BOOT_PARAMS)
		abort();
	if (!r->initrd)
		return;
	if (initrd_addr < s->kernel_end || initrd_addr + r->initrd_len > initrd_limit ||
	    initrd_addr & 0xfff)
		abort();
	const uint8_t *p = gm_ptr(r->gm, initrd_addr, r->initrd_len);
	if (!p || memcmp(p, r->initrd, r->initrd_len))
		abort();
}

#endif
