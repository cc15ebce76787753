// SPDX-License-Identifier: MIT
/*
 * Threads on stacks of hearth's own: the thread runs on the stack hearth
 * mapped, of the size it asked for, with a guard page below, and the stack
 * is marked MADV_NOHUGEPAGE (smaps "nh") so no host THP mode gives it huge
 * pages; joining frees it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hearth/thread.h"

static _Atomic uintptr_t local;
static atomic_bool release;

/* Says where its stack is, and stays until released. */
static void *where(void *arg)
{
	volatile char here = 1;

	(void)arg;
	local = (uintptr_t)&here;
	while (!release)
		usleep(1000);
	return NULL;
}

/* The VmFlags line of the smaps entry that holds @addr, "" if none. */
static void flags_of(uintptr_t addr, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;

	out[0] = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = addr >= lo && addr < hi;
		else if (in && !strncmp(line, "VmFlags:", 8))
			snprintf(out, len, "%s", line);
	}
	fclose(f);
}

static void stack_is_ours(void **state)
{
	struct thread t;
	uintptr_t lo, hi, at;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char flags[512];
	unsigned char v;

	(void)state;
	local = 0;
	release = false;
	assert_int_equal(thread_start(&t, where, NULL), 0);
	while (!(at = local))
		usleep(1000);
	lo = (uintptr_t)t.map + page;
	hi = (uintptr_t)t.map + t.map_len;
	assert_int_equal(t.map_len, THREAD_STACK_SIZE + page);
	assert_true(at >= lo && at < hi);
	/* the guard page is not accessible; the stack is, off huge pages */
	flags_of((uintptr_t)t.map, flags, sizeof(flags));
	assert_null(strstr(flags, " rd"));
	flags_of(at, flags, sizeof(flags));
	assert_non_null(strstr(flags, " rd"));
	assert_non_null(strstr(flags, " nh"));
	assert_null(strstr(flags, " hg"));
	release = true;
	thread_join(&t);
	assert_null(t.map);
	assert_int_equal(mincore((void *)lo, page, &v), -1); /* unmapped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stack_is_ours),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
