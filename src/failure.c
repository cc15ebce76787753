// SPDX-License-Identifier: MIT
#include "hearth/failure.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int failure_set(struct failure *f, int err, int exit_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->msg, f->len, fmt, ap);
	va_end(ap);
	f->exit_code = exit_code;
	return err < 0 ? err : -EIO;
}
