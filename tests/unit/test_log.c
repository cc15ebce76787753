// SPDX-License-Identifier: MIT
/*
 * The log's rate limit for guest-triggered lines (log_guest, log_guest_at):
 * a guest that triggers a line in a loop gets a burst of lines, not one
 * line per event, at whatever level the line is logged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hearth/log.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/hearth-test-log.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	log_init(LOG_INFO);
	return log_open_file(path);
}

static int teardown(void **state)
{
	(void)state;
	log_close_file();
	unlink(path);
	log_set_level(LOG_WARN);
	return 0;
}

/* Lines of the log file that contain @what. */
static unsigned count(const char *what)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

static void guest_lines_are_rate_limited(void **state)
{
	static struct log_ratelimit rl;

	(void)state;
	for (unsigned i = 0; i < 100000; i++)
		log_guest_at(&rl, LOG_INFO, "guest boot marker %u", i % 256);
	/* a burst of 10 per 5 s window, not 100000 lines (the bound leaves
	 * room for a slow machine that crosses a few windows) */
	assert_true(count("guest boot marker") >= 10);
	assert_true(count("guest boot marker") <= 100);
	assert_int_equal(count("guest boot marker"), count("info"));
}

static void filtered_lines_are_not_counted(void **state)
{
	static struct log_ratelimit rl;

	(void)state;
	log_set_level(LOG_WARN);
	for (unsigned i = 0; i < 100; i++)
		log_guest_at(&rl, LOG_INFO, "hidden %u", i);
	assert_int_equal(count("hidden"), 0);
	/* the hidden ones did not use up the burst */
	log_set_level(LOG_INFO);
	for (unsigned i = 0; i < 3; i++)
		log_guest_at(&rl, LOG_INFO, "shown %u", i);
	assert_int_equal(count("shown"), 3);
	log_guest(&rl, "a warning");
	assert_int_equal(count("warn"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(guest_lines_are_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(filtered_lines_are_not_counted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
