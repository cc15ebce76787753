// SPDX-License-Identifier: MIT
/* argv -> config -> vm_create -> vm_run -> exit code; nothing else. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hearth/api.h"
#include "hearth/config.h"
#include "hearth/exit.h"
#include "hearth/jail.h"
#include "hearth/log.h"
#include "hearth/vm.h"

static const char top_usage[] =
	"usage: hearth run --kernel FILE [options]   (hearth run --help for options)\n"
	"       hearth ctl SOCKET status|pause|resume|shutdown|stop|metrics\n"
	"       hearth --version\n";

static int cmd_run(int argc, char **argv)
{
	static struct vm_config cfg;
	struct config_args args;
	struct vm *vm;
	char err[512] = "";
	int code;

	config_defaults_zeroed(&cfg); /* static: zero, and left untouched where unused */
	if (config_load(&cfg, argc, argv, &args, err, sizeof(err)) ||
	    vm_config_resolve(&cfg, err, sizeof(err))) {
		fprintf(stderr, "hearth: %s\n", err);
		config_args_free(&args);
		return HEARTH_EXIT_USAGE;
	}
	if (cfg.help) {
		fputs(config_usage, stdout);
		config_args_free(&args);
		return 0;
	}
	/* first: the inherited descriptors closed, an ordinary user's user
	 * namespace made while hearth has one thread */
	code = cfg.jail.enabled ? jail_begin(&cfg.jail, err, sizeof(err)) : 0;
	if (code) {
		fprintf(stderr, "hearth: %s\n", err);
		config_args_free(&args);
		return code == -EINVAL ? HEARTH_EXIT_USAGE : HEARTH_EXIT_HOST;
	}
	log_set_level((enum log_level)cfg.log_level);
	if (cfg.log_file && log_open_file(cfg.log_file)) {
		fprintf(stderr, "hearth: --log-file '%s': %s\n", cfg.log_file, strerror(errno));
		config_args_free(&args);
		return HEARTH_EXIT_USAGE;
	}
	code = vm_create(&cfg, &vm, err, sizeof(err));
	vm_config_wipe_secrets(&cfg); /* the logins are done, or failed */
	if (code) {
		fprintf(stderr, "hearth: %s\n", err);
		if (cfg.log_file)
			log_err("%s", err); /* the log file too */
	} else {
		code = vm_run(vm);
		vm_destroy(vm);
	}
	log_close_file();
	config_args_free(&args);
	return code;
}

int main(int argc, char **argv)
{
	log_init(LOG_WARN);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return ctl_main(argc - 2, argv + 2);
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("hearth %s\n", HEARTH_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(top_usage, stdout);
		return 0;
	}
	fprintf(stderr, "hearth: %s", argc < 2 ? "missing command\n" : "unknown command\n");
	fputs(top_usage, stderr);
	return HEARTH_EXIT_USAGE;
}
