// SPDX-License-Identifier: MIT
/* The run state: a stop becomes the exit code users see (docs/exit-codes.md),
 * the first stop request wins, and pausing a VM whose vCPUs never started
 * neither waits nor fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hearth/runstate.h"

static void exit_codes(void **state)
{
	(void)state;
	assert_int_equal(runstate_exit_code_of(VM_STOP_POWEROFF, 7), HEARTH_EXIT_POWEROFF);
	assert_int_equal(runstate_exit_code_of(VM_STOP_STATUS, 42), 42);
	assert_int_equal(runstate_exit_code_of(VM_STOP_STATUS, 0x1ff), 0xff);
	assert_int_equal(runstate_exit_code_of(VM_STOP_RESET, 0), HEARTH_EXIT_RESET);
	assert_int_equal(runstate_exit_code_of(VM_STOP_CRASH, 0), HEARTH_EXIT_CRASH);
	assert_int_equal(runstate_exit_code_of(VM_STOP_TIMEOUT, 0), HEARTH_EXIT_TIMEOUT);
	assert_int_equal(runstate_exit_code_of(VM_STOP_HOST_ERROR, 0), HEARTH_EXIT_HOST);
	assert_int_equal(runstate_exit_code_of(VM_STOP_SIGNAL, 15), 143);
	assert_int_equal(runstate_exit_code_of(VM_STOP_SIGNAL, 2), 130);
	assert_int_equal(runstate_exit_code_of(VM_STOP_API, 0), HEARTH_EXIT_API_STOP);
}

static void first_stop_wins(void **state)
{
	struct runstate rs;

	(void)state;
	runstate_init(&rs);
	assert_false(atomic_load(&rs.stopping));
	runstate_stop(&rs, VM_STOP_STATUS, 3); /* no loop watches yet: still recorded */
	assert_true(atomic_load(&rs.stopping));
	runstate_stop(&rs, VM_STOP_SIGNAL, 15);
	assert_int_equal(runstate_reason(&rs), VM_STOP_STATUS);
	assert_int_equal(runstate_status(&rs), 3);
	assert_int_equal(runstate_exit_code(&rs), 3);
	runstate_fini(&rs);
}

static void pause_without_vcpus(void **state)
{
	struct runstate rs;

	(void)state;
	runstate_init(&rs);
	assert_false(runstate_paused(&rs));
	assert_int_equal(runstate_pause(&rs, NULL, 0, 5000), 0);
	assert_true(runstate_paused(&rs));
	assert_true(atomic_load(&rs.pause.requested));
	runstate_resume(&rs);
	assert_false(runstate_paused(&rs));
	assert_false(atomic_load(&rs.pause.requested));
	assert_int_equal(runstate_exited(&rs), 0);
	runstate_stop_vcpus(&rs, NULL, 0);
	assert_true(atomic_load(&rs.stopping));
	runstate_fini(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exit_codes),
		cmocka_unit_test(first_stop_wins),
		cmocka_unit_test(pause_without_vcpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
