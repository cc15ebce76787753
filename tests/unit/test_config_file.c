// SPDX-License-Identifier: MIT
/* --config files: the same configuration as the command line, the command
 * line winning, and one clear error per bad file naming the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hearth/config.h"
#include "hearth/vm.h"

static char err[512], path[64];

static void write_file(const char *text)
{
	int fd;

	strcpy(path, "/tmp/hearth-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void round_trip(void **state)
{
	static struct vm_config a, b;
	struct config_args ka, kb;
	char *cli[] = {
		"--kernel",
		"k.elf",
		"--cpus",
		"3",
		"--memory",
		"1G",
		"--cmdline",
		"a b",
		"--hugepages",
		"--console",
		"file:c.log",
		"--timeout",
		"90s",
		"--disk",
		"path=r.img,readonly=on,serial=s1",
		"--disk",
		"path=d.img,discard=on,engine=libaio",
		"--disk",
		"url=iscsi://h/iqn.x:y/1,secret=/s,timeout=5s,initiator=iqn.2026-01.example:i",
		"--event-loop",
		"epoll",
		"--io-poll",
		"0",
		"--shutdown-timeout",
		"5s",
		"--log-level",
		"info",
		"--api-socket",
		"/run/h.sock"
	};
	char *file_arg[] = { "--config", path };

	(void)state;
	write_file(
		"{ \"kernel\": \"k.elf\", \"cpus\": 3, \"memory\": \"1G\", \"cmdline\": \"a b\","
		"  \"hugepages\": true, \"console\": \"file:c.log\", \"timeout\": \"90s\","
		"  \"disks\": [ { \"path\": \"r.img\", \"readonly\": true, \"serial\": \"s1\" },"
		"             { \"path\": \"d.img\", \"discard\": true, \"engine\": \"libaio\" },"
		"             { \"url\": \"iscsi://h/iqn.x:y/1\", \"secret\": \"/s\","
		"               \"timeout\": \"5s\", \"initiator\": \"iqn.2026-01.example:i\" } ],"
		"  \"event_loop\": \"epoll\","
		"  \"io-poll\": 0, \"shutdown-timeout\": \"5s\", \"log-level\": \"info\","
		"  \"api-socket\": \"/run/h.sock\" }");
	config_defaults(&a);
	config_defaults(&b);
	assert_int_equal(config_load(&a, sizeof(cli) / sizeof(cli[0]), cli, &ka, err, sizeof(err)),
			 0);
	assert_int_equal(config_load(&b, 2, file_arg, &kb, err, sizeof(err)), 0);
	assert_string_equal(a.kernel, b.kernel);
	assert_string_equal(a.cmdline, b.cmdline);
	assert_string_equal(a.console_path, b.console_path);
	assert_int_equal(a.cpus, b.cpus);
	assert_int_equal(a.memory, b.memory);
	assert_int_equal(a.hugepages, b.hugepages);
	assert_int_equal(a.timeout_ms, b.timeout_ms);
	assert_int_equal(a.io_poll_us, b.io_poll_us);
	assert_int_equal(a.shutdown_timeout_ms, b.shutdown_timeout_ms);
	assert_int_equal(a.log_level, b.log_level);
	assert_string_equal(a.api_socket, b.api_socket);
	assert_int_equal(b.n_disks, 3);
	assert_string_equal(b.disks[2].iscsi.url, "iscsi://h/iqn.x:y/1");
	assert_int_equal(b.disks[2].iscsi.timeout_ms, 5000);
	assert_int_equal(b.disks[1].file.engine, DISK_ENGINE_LIBAIO);
	assert_string_equal(b.disks[2].iscsi.initiator, "iqn.2026-01.example:i");
	assert_int_equal(b.event_loop, EVENT_LOOP_EPOLL);
	assert_int_equal(a.event_loop, b.event_loop);
	assert_memory_equal(a.disks, b.disks, sizeof(a.disks));
	config_args_free(&ka);
	config_args_free(&kb);
	unlink(path);
}

/* Keys are spelled as GET /v1/vm shows them (exit_port); the command
 * line's spelling (exit-port) still loads the same, and one key in both
 * spellings is an error. */
static void key_spellings(void **state)
{
	static const char *const files[] = {
		"{ \"kernel\": \"k\", \"exit_port\": \"qemu:0x600\", \"cpu_template\": \"minimal\","
		"  \"cpu_features\": \"-avx\", \"io_poll\": 5, \"shutdown_timeout\": \"7s\","
		"  \"log_level\": \"debug\", \"api_socket\": \"/run/h.sock\","
		"  \"log_file\": \"h.log\", \"ready_on\": \"marker\", \"seccomp\": \"off\" }",
		"{ \"kernel\": \"k\", \"exit-port\": \"qemu:0x600\", \"cpu-template\": \"minimal\","
		"  \"cpu-features\": \"-avx\", \"io-poll\": 5, \"shutdown-timeout\": \"7s\","
		"  \"log-level\": \"debug\", \"api-socket\": \"/run/h.sock\","
		"  \"log-file\": \"h.log\", \"ready-on\": \"marker\", \"seccomp\": \"off\" }",
	};
	char *argv[] = { "--config", path };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		static struct vm_config c;
		struct config_args k;

		write_file(files[i]);
		config_defaults(&c);
		assert_int_equal(config_load(&c, 2, argv, &k, err, sizeof(err)), 0);
		assert_true(c.qemu_exit);
		assert_int_equal(c.qemu_exit_port, 0x600);
		assert_int_equal(c.cpu_template, CPU_TEMPLATE_MINIMAL);
		assert_int_equal(c.n_overrides, 1);
		assert_int_equal(c.io_poll_us, 5);
		assert_int_equal(c.shutdown_timeout_ms, 7000);
		assert_string_equal(c.api_socket, "/run/h.sock");
		assert_string_equal(c.log_file, "h.log");
		assert_true(c.ready_on_marker);
		assert_true(c.no_seccomp);
		config_args_free(&k);
		unlink(path);
	}
	{
		static struct vm_config c;
		struct config_args k;

		write_file("{ \"kernel\": \"k\", \"exit_port\": 1280, \"exit-port\": 1281 }");
		config_defaults(&c);
		assert_int_equal(config_load(&c, 2, argv, &k, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "exit_port is given twice"));
		config_args_free(&k);
		unlink(path);
	}
}

static void command_line_wins(void **state)
{
	static struct vm_config c;
	struct config_args k;
	char *argv[] = { "--cpus", "2", "--config", path, "--disk", "path=cli.img" };

	(void)state;
	write_file("{\"kernel\": \"k\", \"cpus\": 4, \"disks\": [{\"path\": \"file.img\"}]}");
	config_defaults(&c);
	assert_int_equal(config_load(&c, 6, argv, &k, err, sizeof(err)), 0);
	assert_int_equal(c.cpus, 2);
	assert_string_equal(c.kernel, "k");
	assert_int_equal(c.n_disks, 1);
	assert_string_equal(c.disks[0].file.path, "cli.img");
	config_args_free(&k);
	unlink(path);
}

static void nets_from_file(void **state)
{
	static struct vm_config c;
	struct config_args k;
	char *argv[] = { "--config", path, "--net", "tap=cli0" };

	(void)state;
	/* a value that looks like --net must not be taken for one */
	write_file("{\"kernel\": \"k\", \"cmdline\": \"--net\", \"hugepages\": true, "
		   "\"nets\": [{\"tap\": \"f0\", \"mac\": \"02:00:00:00:00:07\"}, {\"tap\": "
		   "\"f1\"}]}");
	config_defaults(&c);
	assert_int_equal(config_load(&c, 2, argv, &k, err, sizeof(err)), 0);
	assert_int_equal(c.n_nets, 2);
	assert_string_equal(c.nets[0].tap, "f0");
	assert_int_equal(c.nets[0].mac[5], 7);
	assert_string_equal(c.nets[1].tap, "f1");
	config_args_free(&k);
	/* the command line's --net replaces the file's nets */
	config_defaults(&c);
	assert_int_equal(config_load(&c, 4, argv, &k, err, sizeof(err)), 0);
	assert_int_equal(c.n_nets, 1);
	assert_string_equal(c.nets[0].tap, "cli0");
	assert_string_equal(c.cmdline, "--net");
	assert_true(c.hugepages);
	config_args_free(&k);
	unlink(path);
}

static void bad_files(void **state)
{
	static const struct {
		const char *json, *needle;
	} cases[] = {
		{ "", "not valid JSON" },
		{ "{\"kernel\": \"k\",}", "not valid JSON" },
		{ "[1, 2]", "must be an object" },
		{ "{\"kernel\": \"k\", \"colour\": 1}", "unknown key 'colour'" },
		/* a key with a newline or a terminal escape: still one plain line */
		{ "{\"kernel\": \"k\", \"a\\nb\": 1}", "unknown key 'a?b'" },
		{ "{\"kernel\": \"k\", \"nets\": [{\"tap\": \"t\", \"\\u001b[2J\": 1}]}",
		  "nets[0]: unknown key '?[2J'" },
		{ "{\"kernel\": \"k\", \"cpus\": \"two\"}", "'cpus' must be a number" },
		{ "{\"kernel\": 7}", "'kernel' must be a string" },
		{ "{\"kernel\": \"k\", \"hugepages\": 1}", "'hugepages' must be true or false" },
		{ "{\"kernel\": \"k\", \"disks\": {}}", "disks must be an array" },
		{ "{\"kernel\": \"k\", \"disks\": [3]}", "disks[0] must be an object" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"path\": \"a\"}, {\"readonly\": true}]}",
		  "disks[1].path or disks[1].url is required" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"path\": \"a,b\"}]}",
		  "disks[0].path must not contain" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"path\": \"a\", \"direct\": \"on\"}]}",
		  "disks[0].direct must be true or false" },
		{ "{\"kernel\": \"k\", \"cpus\": 0}", "--cpus" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"url\": \"iscsi://h/t\"}]}", "bad iSCSI URL" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"url\": \"iscsi://h/t/1\", \"path\": \"p\"}]}",
		  "mutually exclusive" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"url\": \"iscsi://h/t/1\", \"timeout\": 5}]}",
		  "disks[0].timeout must be a string" },
		{ "{\"kernel\": \"k\", \"event_loop\": \"poll\"}",
		  "--event-loop: expected io_uring or epoll, got 'poll'" },
		{ "{\"kernel\": \"k\", \"event_loop\": 1}", "'event_loop' must be a string" },
		{ "{\"kernel\": \"k\", \"event_loop\": \"epoll\", \"event-loop\": \"epoll\"}",
		  "the key event_loop is given twice" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"path\": \"a\", \"engine\": \"aio\"}]}",
		  "--disk: engine= expects io_uring, libaio, sync or auto, got 'aio'" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"path\": \"a\", \"engine\": \"\"}]}",
		  "--disk: engine= expects" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"path\": \"a\", \"engine\": true}]}",
		  "disks[0].engine must be a string" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"path\": \"a\", \"engine\": "
		  "\"sync,engine=libaio\"}]}",
		  "disks[0].engine must not contain a comma" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"url\": \"iscsi://h/t/1\", \"engine\": "
		  "\"sync\"}]}",
		  "--disk: engine= applies to path= disks only" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"path\": \"a\", \"initiator\": \"iqn.x\"}]}",
		  "--disk: initiator= applies to url= disks only" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"url\": \"iscsi://h/t/1\", \"initiator\": "
		  "\"\"}]}",
		  "--disk: initiator= must be an iSCSI name of 1 to 223 bytes" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"url\": \"iscsi://h/t/1\", \"initiator\": "
		  "\"iqn.a\\tb\"}]}",
		  "--disk: initiator= must be printable" },
		{ "{\"kernel\": \"k\", \"disks\": [{\"url\": \"iscsi://h/t/1\", \"initiator\": "
		  "\"a,b\"}]}",
		  "disks[0].initiator must not contain a comma" },
		{ "{\"kernel\": \"k\", \"nets\": {}}", "nets must be an array" },
		{ "{\"kernel\": \"k\", \"nets\": [\"tap0\"]}", "nets[0] must be an object" },
		{ "{\"kernel\": \"k\", \"nets\": [{\"mac\": \"02:00:00:00:00:01\"}]}",
		  "nets[0].tap is required" },
		{ "{\"kernel\": \"k\", \"nets\": [{\"tap\": 1}]}", "nets[0].tap must be a string" },
		{ "{\"kernel\": \"k\", \"nets\": [{\"tap\": \"a,mac=x\"}]}",
		  "nets[0].tap must not contain" },
		{ "{\"kernel\": \"k\", \"nets\": [{\"tap\": \"t\", \"vhost\": true}]}",
		  "nets[0]: unknown key 'vhost'" },
		{ "{\"kernel\": \"k\", \"nets\": [{\"tap\": \"t\", \"mac\": \"x\"}]}", "mac=" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct vm_config c;
		struct config_args k;
		char *argv[] = { "--config", path };
		int ret;

		write_file(cases[i].json);
		config_defaults(&c);
		/* as main.c loads it: the file, then what other layers own */
		ret = config_load(&c, 2, argv, &k, err, sizeof(err));
		if (!ret)
			ret = vm_config_resolve(&c, err, sizeof(err));
		assert_int_equal(ret, -EINVAL);
		if (!strstr(err, cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
		assert_null(strchr(err, '\n'));
		config_args_free(&k);
		unlink(path);
	}
	{
		static struct vm_config c;
		struct config_args k;
		char *argv[] = { "--config", "/nonexistent/hearth.json" };

		config_defaults(&c);
		assert_int_equal(config_load(&c, 2, argv, &k, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "cannot open"));
		config_args_free(&k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),	     cmocka_unit_test(key_spellings),
		cmocka_unit_test(command_line_wins), cmocka_unit_test(nets_from_file),
		cmocka_unit_test(bad_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
