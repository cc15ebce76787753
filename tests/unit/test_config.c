// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/config.h"

static char err[256];

static int parse(struct vm_config *c, int argc, char **argv)
{
	config_defaults(c);
	err[0] = '\0';
	return config_parse(c, argc, argv, err, sizeof(err));
}

#define PARSE(c, ...)                                                     \
	({                                                                \
		char *argv_[] = { __VA_ARGS__ };                          \
		parse(c, (int)(sizeof(argv_) / sizeof(argv_[0])), argv_); \
	})

static void full_command_line(void **state)
{
	struct vm_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--kernel", "k", "--initrd=i", "--cmdline", "a b", "--cpus", "4",
			       "--memory", "512M", "--console", "file:/x/log", "--timeout", "90s",
			       "--exit-port", "qemu:0xf4", "--cpu-template", "minimal",
			       "--cpu-features", "-avx2,+x2apic", "--hugepages", "--log-level",
			       "debug"),
			 0);
	assert_string_equal(c.kernel, "k");
	assert_string_equal(c.initrd, "i");
	assert_string_equal(c.cmdline, "a b");
	assert_int_equal(c.cpus, 4);
	assert_int_equal(c.memory, 512ULL << 20);
	assert_int_equal(c.console, CONSOLE_FILE);
	assert_string_equal(c.console_path, "/x/log");
	assert_int_equal(c.timeout_ms, 90000);
	assert_true(c.qemu_exit);
	assert_int_equal(c.qemu_exit_port, 0xf4);
	assert_int_equal(c.exit_port, HEARTH_PORT_EXIT);
	assert_int_equal(c.cpu_template, CPU_TEMPLATE_MINIMAL);
	assert_int_equal(c.n_overrides, 2);
	assert_string_equal(c.overrides[0].name, "avx2");
	assert_false(c.overrides[0].enable);
	assert_true(c.overrides[1].enable);
	assert_true(c.hugepages);
	assert_int_equal(c.log_level, 3);
}

static void defaults(void **state)
{
	struct vm_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--kernel", "k"), 0);
	assert_int_equal(c.cpus, 1);
	assert_int_equal(c.memory, CONFIG_DEFAULT_MEMORY);
	assert_string_equal(c.cmdline, CONFIG_DEFAULT_CMDLINE);
	assert_int_equal(c.console, CONSOLE_STDIO);
	assert_int_equal(c.timeout_ms, 0);
	assert_false(c.qemu_exit);
}

static void qemu_exit_default_port(void **state)
{
	struct vm_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--kernel", "k", "--exit-port", "qemu"), 0);
	assert_int_equal(c.qemu_exit_port, HEARTH_PORT_QEMU_EXIT_DEFAULT);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--exit-port", "0x600"), 0);
	assert_int_equal(c.exit_port, 0x600);
	assert_false(c.qemu_exit);
}

/* Each bad input is rejected with a message naming the option. */
static void disks(void **state)
{
	struct vm_config c;
	char *argv[2 * CONFIG_MAX_DISKS + 4] = { "--kernel", "k", "--disk",
						 "path=/a,b.img,readonly=on,serial=vol-1",
						 "--disk=path=d.img,direct=on,discard=on" };

	(void)state;
	/* a comma starts the next key: "b.img" is not key=value */
	assert_int_equal(parse(&c, 4, argv), -EINVAL);
	argv[3] = "path=/a.img,readonly=on,serial=vol-1";
	assert_int_equal(parse(&c, 5, argv), 0);
	assert_int_equal(c.n_disks, 2);
	assert_int_equal(c.disks[0].kind, DISK_FILE);
	assert_string_equal(c.disks[0].file.path, "/a.img");
	assert_true(c.disks[0].readonly);
	assert_false(c.disks[0].file.direct);
	assert_string_equal(c.disks[0].serial, "vol-1");
	assert_string_equal(c.disks[1].file.path, "d.img");
	assert_true(c.disks[1].file.direct);
	assert_true(c.disks[1].discard);
	for (int i = 0; i < CONFIG_MAX_DISKS + 1; i++) {
		argv[2 + 2 * i] = "--disk";
		argv[3 + 2 * i] = "path=x";
	}
	assert_int_equal(parse(&c, 2 + 2 * CONFIG_MAX_DISKS, argv), 0);
	assert_int_equal(parse(&c, 4 + 2 * CONFIG_MAX_DISKS, argv), -EINVAL);
	assert_non_null(strstr(err, "at most"));
}

/* engine= (file disks) and initiator= (iSCSI disks): options of their
 * disk, where the environment used to choose for every disk at once */
static void disk_engine_and_initiator(void **state)
{
	static const char iqn223[] =
		"iqn.2026-01.example:" /* 20 bytes, then 203 */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char opt[300];
	struct vm_config c;

	(void)state;
	assert_int_equal(sizeof(iqn223) - 1, CONFIG_INITIATOR_MAX);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--disk", "path=a"), 0);
	assert_int_equal(c.disks[0].kind, DISK_FILE);
	assert_int_equal(c.disks[0].file.engine, DISK_ENGINE_AUTO);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--disk", "path=a,engine=io_uring", "--disk",
			       "engine=libaio,path=b", "--disk", "path=c,engine=sync", "--disk",
			       "path=d,engine=auto"),
			 0);
	assert_int_equal(c.disks[0].file.engine, DISK_ENGINE_IO_URING);
	assert_int_equal(c.disks[1].file.engine, DISK_ENGINE_LIBAIO);
	assert_int_equal(c.disks[2].file.engine, DISK_ENGINE_SYNC);
	assert_int_equal(c.disks[3].file.engine, DISK_ENGINE_AUTO);
	for (int e = DISK_ENGINE_AUTO; e <= DISK_ENGINE_SYNC; e++)
		assert_non_null(config_disk_engine_names[e]);
	assert_string_equal(config_disk_engine_names[DISK_ENGINE_LIBAIO], "libaio");
	assert_int_equal(PARSE(&c, "--kernel", "k", "--disk",
			       "url=iscsi://h/iqn.x:y/0,initiator=iqn.2026-02.example:host-1"),
			 0);
	assert_int_equal(c.disks[0].kind, DISK_ISCSI);
	assert_string_equal(c.disks[0].iscsi.initiator, "iqn.2026-02.example:host-1");
	snprintf(opt, sizeof(opt), "url=iscsi://h/iqn.x:y/0,initiator=%s", iqn223);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--disk", opt), 0);
	assert_string_equal(c.disks[0].iscsi.initiator, iqn223);
	/* one byte more than an iSCSI name may have */
	snprintf(opt, sizeof(opt), "url=iscsi://h/iqn.x:y/0,initiator=%sa", iqn223);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--disk", opt), -EINVAL);
	assert_non_null(strstr(err, "initiator= must be an iSCSI name of 1 to 223 bytes"));
}

/* --event-loop: io_uring (the default, falling back to epoll) or epoll */
static void event_loop(void **state)
{
	struct vm_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--kernel", "k"), 0);
	assert_int_equal(c.event_loop, EVENT_LOOP_IO_URING);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--event-loop", "epoll"), 0);
	assert_int_equal(c.event_loop, EVENT_LOOP_EPOLL);
	/* the last one wins, as for every global option (the command line
	 * after a --config file) */
	assert_int_equal(
		PARSE(&c, "--kernel", "k", "--event-loop=epoll", "--event-loop", "io_uring"), 0);
	assert_int_equal(c.event_loop, EVENT_LOOP_IO_URING);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--event-loop"), -EINVAL);
	assert_non_null(strstr(err, "'--event-loop' needs a value"));
}

static void nets(void **state)
{
	struct vm_config c;
	char *argv[2 * CONFIG_MAX_NICS + 4] = { "--kernel", "k", "--net",
						"tap=tap0,mac=52:54:00:AB:cd:0F",
						"--net=tap=tap1" };

	(void)state;
	assert_int_equal(parse(&c, 5, argv), 0);
	assert_int_equal(c.n_nets, 2);
	assert_string_equal(c.nets[0].tap, "tap0");
	assert_true(c.nets[0].has_mac);
	assert_memory_equal(c.nets[0].mac, ((uint8_t[]){ 0x52, 0x54, 0, 0xab, 0xcd, 0x0f }), 6);
	assert_string_equal(c.nets[1].tap, "tap1");
	assert_false(c.nets[1].has_mac);
	argv[4] = "--net=tap=tap0";
	assert_int_equal(parse(&c, 5, argv), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	argv[3] = "tap=abcdefghijklmno"; /* 15 bytes: the longest name */
	assert_int_equal(parse(&c, 4, argv), 0);
	for (int i = 0; i < CONFIG_MAX_NICS + 1; i++) {
		static char names[CONFIG_MAX_NICS + 1][16];

		snprintf(names[i], sizeof(names[i]), "tap=t%d", i);
		argv[2 + 2 * i] = "--net";
		argv[3 + 2 * i] = names[i];
	}
	assert_int_equal(parse(&c, 2 + 2 * CONFIG_MAX_NICS, argv), 0);
	assert_int_equal(parse(&c, 4 + 2 * CONFIG_MAX_NICS, argv), -EINVAL);
	assert_non_null(strstr(err, "at most"));
}

static void bad_inputs(void **state)
{
	static const struct {
		const char *opt, *val, *needle;
	} cases[] = {
		{ "--api-socket", "", "--api-socket" },
		{ "--api-socket",
		  "/run/hearth/"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaa",
		  "--api-socket" },
		{ "--cpus", "0", "--cpus" },
		{ "--cpus", "-1", "--cpus" },
		{ "--cpus", "2x", "--cpus" },
		{ "--cpus", "99999999999999999999999", "--cpus" },
		{ "--cpus", "1025", "--cpus" },
		{ "--memory", "0", "--memory" },
		{ "--memory", "12Q", "--memory" },
		{ "--memory", "", "--memory" },
		{ "--memory", "99999999999T", "--memory" },
		{ "--memory", "-5M", "--memory" },
		{ "--timeout", "0", "--timeout" },
		{ "--timeout", "5 s", "--timeout" },
		{ "--timeout", "fast", "--timeout" },
		{ "--console", "tty", "--console" },
		{ "--console", "file:", "--console" },
		{ "--exit-port", "0x10000", "--exit-port" },
		{ "--exit-port", "qemu:zz", "--exit-port" },
		{ "--exit-port", "qemu:0x4f1", "--exit-port" },
		{ "--cpu-template", "fast", "--cpu-template" },
		{ "--cpu-features", "avx2", "--cpu-features" },
		{ "--cpu-features", "+nosuchfeature", "nosuchfeature" },
		{ "--cpu-features", "+", "--cpu-features" },
		{ "--log-level", "loud", "--log-level" },
		{ "--bogus", "1", "--bogus" },
		{ "--io-poll", "fast", "--io-poll" },
		{ "--shutdown-timeout", "soon", "--shutdown-timeout" },
		{ "--shutdown-timeout", "-1s", "--shutdown-timeout" },
		{ "--io-poll", "2000000", "--io-poll" },
		{ "--disk", "", "path=" },
		{ "--disk", "readonly=on", "path=" },
		{ "--disk", "path=", "path=" },
		{ "--disk", "x.img", "key=value" },
		{ "--disk", "path=a,colour=red", "colour" },
		{ "--disk", "path=a,readonly=yes", "readonly" },
		{ "--disk", "path=a,serial=123456789012345678901", "serial" },
		{ "--disk", "path=a,serial=a b", "serial" },
		{ "--disk", "path=a,readonly=on,discard=on", "discard" },
		/* a key given twice: the first would be half overwritten */
		{ "--disk", "path=abcdef,path=xy", "--disk: path= is given twice" },
		{ "--disk", "path=a,readonly=on,readonly=off", "--disk: readonly= is given twice" },
		{ "--event-loop", "poll", "--event-loop: expected io_uring or epoll, got 'poll'" },
		{ "--event-loop", "", "--event-loop: expected io_uring or epoll, got ''" },
		{ "--event-loop", "EPOLL", "--event-loop: expected io_uring or epoll" },
		{ "--disk", "path=a,engine=aio",
		  "--disk: engine= expects io_uring, libaio, sync or auto, got 'aio'" },
		{ "--disk", "path=a,engine=", "--disk: engine= expects" },
		{ "--disk", "path=a,engine=io_uring_and_more", "--disk: engine= expects" },
		{ "--disk", "path=a,engine=sync,engine=libaio", "--disk: engine= is given twice" },
		{ "--disk", "url=iscsi://h/iqn.x:y/0,engine=sync",
		  "--disk: engine= applies to path= disks only" },
		/* an option with a URL echoes none of its values: a password
		 * with a comma would show up as a "piece" */
		{ "--disk", "url=iscsi://u%pa,engine=ss@h/iqn.x:y/0", "got '?'" },
		{ "--disk", "path=a,initiator=iqn.2026-01.example:h",
		  "--disk: initiator= applies to url= disks only" },
		{ "--disk", "url=iscsi://h/iqn.x:y/0,initiator=",
		  "--disk: initiator= must be an iSCSI name of 1 to 223 bytes" },
		{ "--disk", "url=iscsi://h/iqn.x:y/0,initiator=iqn.x y",
		  "--disk: initiator= must be printable ASCII without spaces" },
		{ "--disk", "url=iscsi://h/iqn.x:y/0,initiator=iqn.\x1b[2J",
		  "--disk: initiator= must be printable" },
		{ "--disk", "url=iscsi://h/iqn.x:y/0,initiator=iqn.\xc3\xa9",
		  "--disk: initiator= must be printable" },
		{ "--disk", "url=iscsi://h/iqn.x:y/0,initiator=a,initiator=b",
		  "--disk: initiator= is given twice" },
		{ "--net", "", "tap=NAME" },
		{ "--net", "mac=02:00:00:00:00:01", "tap=NAME" },
		{ "--net", "tap=", "tap=" },
		{ "--net", "tap=abcdefghijklmnop", "tap=" }, /* 16 bytes: IFNAMSIZ */
		{ "--net", "tap=a/b", "tap=" },
		{ "--net", "tap=a b", "tap=" },
		{ "--net", "tap0", "key=value" },
		{ "--net", "tap=t,vhost=on", "vhost" },
		{ "--net", "tap=t,mac=02:00:00:00:00", "mac=" },
		{ "--net", "tap=t,mac=02:00:00:00:00:0g", "mac=" },
		{ "--net", "tap=t,mac=02-00-00-00-00-01", "mac=" },
		{ "--net", "tap=t,mac=02:00:00:00:00:01:", "mac=" },
		{ "--net", "tap=t,mac=01:00:5e:00:00:01", "multicast" },
		{ "--net", "tap=t,mac=00:00:00:00:00:00", "all zero" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm_config c;
		char *argv[] = { "--kernel", "k", (char *)cases[i].opt, (char *)cases[i].val };

		assert_int_equal(parse(&c, 4, argv), -EINVAL);
		if (!strstr(err, cases[i].needle))
			fail_msg("case %zu: '%s' does not name %s", i, err, cases[i].needle);
		assert_null(strchr(err, '\n'));
	}
}

static void missing_things(void **state)
{
	struct vm_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--cpus", "2"), -EINVAL);
	assert_non_null(strstr(err, "--kernel"));
	assert_int_equal(PARSE(&c, "--kernel"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(PARSE(&c, "--kernel", "k", "stray"), -EINVAL);
	assert_non_null(strstr(err, "stray"));
	assert_int_equal(PARSE(&c, "--nope"), -EINVAL);
	assert_non_null(strstr(err, "unknown option '--nope'"));
	assert_int_equal(PARSE(&c, "--help"), 0);
	assert_true(c.help);
}

/* No --kernel: the first disk, an image file or an iSCSI LUN, holds the
 * kernel and its initrd (src/boot/image.c). */
static void kernel_from_disk(void **state)
{
	struct vm_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--disk", "path=debian.img"), 0);
	assert_null(c.kernel);
	assert_int_equal(c.n_disks, 1);
	assert_int_equal(PARSE(&c, "--disk", "url=iscsi://h/iqn.x:y/0"), 0);
	assert_null(c.kernel);
	assert_int_equal(PARSE(&c, "--disk", "path=a.img", "--disk", "url=iscsi://h/iqn.x:y/0"), 0);
	assert_int_equal(PARSE(&c, "--disk", "path=a.img", "--initrd", "i"), -EINVAL);
	assert_non_null(strstr(err, "--initrd without --kernel"));
	assert_int_equal(PARSE(&c, "--memory", "1G"), -EINVAL);
	assert_non_null(strstr(err, "missing --kernel, or a --disk"));
}

/* --restore DIR: the snapshot sets the kernel, vCPUs and memory; options
 * that would set them too are refused, not ignored. */
static void restore(void **state)
{
	static const char *const refused[][3] = {
		{ "--kernel", "k", "--kernel with --restore" },
		{ "--initrd", "i", "--initrd with --restore" },
		{ "--cpus", "2", "--cpus with --restore" },
		{ "--memory", "1G", "--memory with --restore" },
		{ "--cmdline", "quiet", "--cmdline with --restore" },
		{ "--cpu-template", "minimal", "--cpu-template with --restore" },
		{ "--cpu-features", "-avx2", "--cpu-features with --restore" },
	};
	struct vm_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--restore", "/srv/snap"), 0);
	assert_string_equal(c.restore, "/srv/snap");
	assert_null(c.kernel);
	assert_false(c.cpus_given || c.memory_given);
	assert_int_equal(PARSE(&c, "--restore", "s", "--disk", "path=a.img", "--net", "tap=t0",
			       "--api-socket", "/run/a.sock"),
			 0);
	assert_int_equal(c.n_disks, 1);
	assert_int_equal(PARSE(&c, "--restore=s", "--hugepages"), -EINVAL);
	assert_non_null(strstr(err, "--hugepages with --restore"));
	assert_int_equal(PARSE(&c, "--restore", ""), -EINVAL);
	assert_non_null(strstr(err, "--restore: expected a snapshot directory"));
	assert_int_equal(PARSE(&c, "--restore"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		/* before and after --restore alike */
		assert_int_equal(
			PARSE(&c, (char *)refused[i][0], (char *)refused[i][1], "--restore", "s"),
			-EINVAL);
		assert_non_null(strstr(err, refused[i][2]));
		assert_int_equal(
			PARSE(&c, "--restore", "s", (char *)refused[i][0], (char *)refused[i][1]),
			-EINVAL);
		assert_non_null(strstr(err, refused[i][2]));
	}
}

static void api_socket(void **state)
{
	struct vm_config c;

	assert_int_equal(PARSE(&c, "--kernel", "k"), 0);
	assert_null(c.api_socket);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--api-socket", "/run/h.sock"), 0);
	assert_string_equal(c.api_socket, "/run/h.sock");
	assert_int_equal(PARSE(&c, "--kernel", "k", "--api-socket"), -EINVAL);
	assert_non_null(strstr(err, "--api-socket"));
}

/* The filters are on unless --seccomp off; any other value is an error. */
static void seccomp(void **state)
{
	struct vm_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--kernel", "k"), 0);
	assert_false(c.no_seccomp);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--seccomp", "off"), 0);
	assert_true(c.no_seccomp);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--seccomp=on"), 0);
	assert_false(c.no_seccomp);
	assert_int_equal(PARSE(&c, "--kernel", "k", "--seccomp", "no"), -EINVAL);
	assert_non_null(strstr(err, "--seccomp: expected on or off"));
}

static void sizes_and_durations(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(config_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(config_parse_size("4G", &v), 0);
	assert_int_equal(v, 4ULL << 30);
	assert_int_equal(config_parse_size("2MiB", &v), 0);
	assert_int_equal(v, 2ULL << 20);
	assert_int_equal(config_parse_size("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(config_parse_size("16777216T", &v), -EINVAL); /* 2^64 */
	assert_int_equal(config_parse_size("M", &v), -EINVAL);
	assert_int_equal(config_parse_size("1Mx", &v), -EINVAL);
	assert_int_equal(config_parse_duration_ms("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(config_parse_duration_ms("2m", &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(config_parse_duration_ms("1h", &v), 0);
	assert_int_equal(v, 3600000);
	assert_int_equal(config_parse_duration_ms("7", &v), 0);
	assert_int_equal(v, 7000);
	assert_int_equal(config_parse_duration_ms("18446744073709551615s", &v), -EINVAL);
	assert_int_equal(config_parse_duration_ms("1d", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(disks),
		cmocka_unit_test(disk_engine_and_initiator),
		cmocka_unit_test(event_loop),
		cmocka_unit_test(nets),
		cmocka_unit_test(full_command_line),
		cmocka_unit_test(defaults),
		cmocka_unit_test(qemu_exit_default_port),
		cmocka_unit_test(bad_inputs),
		cmocka_unit_test(missing_things),
		cmocka_unit_test(kernel_from_disk),
		cmocka_unit_test(sizes_and_durations),
		cmocka_unit_test(restore),
		cmocka_unit_test(api_socket),
		cmocka_unit_test(seccomp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
