/* SPDX-License-Identifier: MIT */
/*
 * `hearth run` configuration: pure parsing of the command line into a
 * struct vm_config (no I/O, so every rule is unit-testable). Files named in
 * the configuration are opened later, by the VM.
 */
#ifndef HEARTH_CONFIG_H
#define HEARTH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hearth/cpu_features.h"
#include "hearth/jail.h"

#define CONFIG_MAX_CPU_OVERRIDES 32
#define CONFIG_DEFAULT_MEMORY	 (256ULL << 20)
#define CONFIG_DEFAULT_CMDLINE	 "console=ttyS0 reboot=k panic=-1"

enum console_kind { CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_NONE };

#define CONFIG_MAX_DISKS       16
#define CONFIG_DISK_PATH_MAX   4096
#define CONFIG_SOCKET_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path) */

/* --disk engine=: how a file disk's requests reach the host. AUTO:
 * io_uring, else libaio, else synchronous calls, as the host allows. */
enum disk_engine { DISK_ENGINE_AUTO, DISK_ENGINE_IO_URING, DISK_ENGINE_LIBAIO, DISK_ENGINE_SYNC };
/* The names, as the option, --config and GET /v1/vm spell them. */
extern const char *const config_disk_engine_names[4];

/* --disk initiator=: RFC 3720 limits an iSCSI name to 223 bytes */
#define CONFIG_INITIATOR_MAX 223

/* --disk path=FILE[,direct=on][,engine=NAME]: an image file or block device */
struct disk_file {
	char path[CONFIG_DISK_PATH_MAX];
	bool direct;		 /* O_DIRECT */
	enum disk_engine engine; /* how its requests reach the host */
};

/* --disk url=iscsi://...[,secret=FILE][,timeout=DURATION][,initiator=IQN] */
struct disk_iscsi {
	char url[1024];				  /* without its password once resolved */
	char url_password[256];			  /* the URL's CHAP password, kept apart */
	char secret[CONFIG_DISK_PATH_MAX];	  /* CHAP secret file; empty: none */
	uint64_t timeout_ms;			  /* per-request timeout, 0: default */
	char initiator[CONFIG_INITIATOR_MAX + 1]; /* empty: hearth's own name */
};

enum disk_kind { DISK_FILE, DISK_ISCSI };

/* One --disk: a file or an iSCSI LUN, as @kind says (the other member of
 * the union means nothing), and what virtio-blk makes of either
 * [,readonly=on][,discard=on][,serial=ID]. */
struct disk_config {
	enum disk_kind kind;
	union {
		struct disk_file file;	 /* DISK_FILE */
		struct disk_iscsi iscsi; /* DISK_ISCSI */
	};
	bool readonly, discard;
	char serial[21]; /* virtio-blk GET_ID: up to 20 bytes */
};

#define CONFIG_MAX_NICS 8

/* One --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX] */
struct net_config {
	char tap[16]; /* IFNAMSIZ */
	uint8_t mac[6];
	bool has_mac; /* else derived from the host and TAP names */
};

/* --event-loop: the I/O thread's loop. IO_URING falls back to epoll where
 * the host has no io_uring; EPOLL takes the fallback on purpose. */
enum event_loop_kind { EVENT_LOOP_IO_URING, EVENT_LOOP_EPOLL };

struct vm_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* never NULL after parsing */
	unsigned cpus;
	uint64_t memory;
	bool hugepages;
	enum console_kind console;
	const char *console_path;
	uint64_t timeout_ms; /* 0: none */
	uint64_t
		shutdown_timeout_ms; /* SIGTERM/SIGINT: wait this long for the guest; 0: stop at once */
	uint16_t exit_port;
	bool qemu_exit;
	uint16_t qemu_exit_port;
	enum cpu_template cpu_template;
	struct cpu_override overrides[CONFIG_MAX_CPU_OVERRIDES];
	unsigned n_overrides;
	int log_level;	     /* enum log_level */
	unsigned io_poll_us; /* I/O thread busy-poll budget, 0: off */
	enum event_loop_kind event_loop;
	struct disk_config disks[CONFIG_MAX_DISKS];
	unsigned n_disks;
	struct net_config nets[CONFIG_MAX_NICS];
	unsigned n_nets;
	const char *api_socket; /* --api-socket PATH; NULL: none (or socket activation) */
	const char *log_file;	/* --log-file PATH; NULL: stderr */
	bool ready_on_marker; /* --ready-on marker: sd_notify READY at the guest's first boot marker */
	bool no_seccomp; /* --seccomp off: no system call filters (debugging; docs/security.md) */
	struct jail_config jail; /* --jail and --jail-* (docs/security.md) */
	/* --restore DIR: resume the snapshot in DIR (docs/snapshot.md) instead
	 * of booting; the snapshot sets the vCPUs and RAM */
	const char *restore;
	bool cpus_given, memory_given; /* --cpus / --memory appeared */
	bool help;
};

/* Defaults: 1 vCPU, 256 MiB, console on stdio, host CPU template. */
void config_defaults(struct vm_config *cfg);
/* The same for a @cfg that is all zero already (static, calloc): it is not
 * written again, so the ~90 KiB of unused disk slots stay untouched, not
 * resident (docs/architecture.md, "Memory outside guest RAM"). */
void config_defaults_zeroed(struct vm_config *cfg);

/*
 * Parses the options after `hearth run`. Pointers in @cfg point into @argv.
 * Returns 0, or -EINVAL with a one-line reason naming the option in @err.
 * Limits that need the host (KVM's vCPU maximum, host memory) are checked by
 * the VM, not here.
 */
int config_parse(struct vm_config *cfg, int argc, char *const argv[], char *err, size_t errlen);

/* "512M", "4G", "1048576" (bytes), suffixes K M G T (binary). 0 or -EINVAL
 * (garbage, overflow). */
int config_parse_size(const char *s, uint64_t *out);
/* "60s", "500ms", "2m", "1h", "90" (seconds). 0 or -EINVAL. */
int config_parse_duration_ms(const char *s, uint64_t *out);

/* Usage text for --help. */
extern const char config_usage[];

/* Writes the one-line message to @err and returns -EINVAL. */
int config_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- --config FILE (config_file.c) ---- */
struct config_args {
	char **v;
	int n, cap;
};
/*
 * Turns a --config JSON object (keys: the options without their dashes,
 * '_' for '-' as GET /v1/vm spells them, the dashed spelling accepted too;
 * "disks": an array of {path, url, readonly, direct, discard, serial,
 * secret, timeout, engine, initiator}, "nets": an array of {tap, mac}) into
 * command-line arguments appended to @out; "disks" are skipped unless
 * @with_disks. Returns 0 or -EINVAL with a one-line reason naming the key.
 */
int config_json_args(const char *json, struct config_args *out, bool with_disks, char *err,
		     size_t errlen);
/*
 * config_parse() over the --config file's options followed by @argv's, so
 * the command line wins (its --disk options replace the file's disks, its
 * --net options the file's nets). An iSCSI URL is kept as given, password
 * and all: call vm_config_resolve() (vm.h) next, before anything else.
 * @keep holds the strings @cfg points into: free it after the VM is gone.
 */
int config_load(struct vm_config *cfg, int argc, char *const argv[], struct config_args *keep,
		char *err, size_t errlen);
void config_args_free(struct config_args *a);

#endif
