/* SPDX-License-Identifier: MIT */
/*
 * How a step of building the VM fails: it returns a negative errno and
 * leaves, in the caller's struct failure, a one-line reason for the user
 * and the process exit code that failure means (exit.h). One convention
 * for every step, so vm_create() reports whichever step failed the same
 * way and needs no table from errno to exit code (the same errno means a
 * usage error for one step and a host problem for another).
 */
#ifndef HEARTH_FAILURE_H
#define HEARTH_FAILURE_H

#include <stddef.h>

struct failure {
	char *msg;     /* the caller's buffer for the reason */
	size_t len;    /* its size */
	int exit_code; /* set with the reason */
};

/*
 * Records the reason (@fmt) and @exit_code in @f and returns @err, which
 * must be a negative errno (anything else becomes -EIO, so a failure is
 * never mistaken for success).
 */
int failure_set(struct failure *f, int err, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
