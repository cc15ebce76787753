// SPDX-License-Identifier: MIT
#include "hearth/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/abi.h"
#include "hearth/cpu_features.h"
#include "hearth/log.h"

const char config_usage[] =
	"usage: hearth run --kernel FILE [options]\n"
	"       hearth run --disk path=IMAGE [options]   (the kernel inside IMAGE)\n"
	"       hearth run --disk url=iscsi://... [options]   (the kernel inside the LUN)\n"
	"       hearth run --restore DIR [options]   (a snapshot's guest, resumed)\n"
	"  --kernel FILE          Linux bzImage, or ELF kernel with a PVH note; without it,\n"
	"                         the first disk's /vmlinuz or boot entry, root=UUID= added\n"
	"  --initrd FILE          initial ramdisk\n"
	"  --restore DIR          resume the snapshot in DIR (docs/snapshot.md): give the\n"
	"                         same --disk and --net options, no --kernel/--cpus/--memory\n"
	"  --cmdline STRING       kernel command line (default \"" CONFIG_DEFAULT_CMDLINE "\")\n"
	"  --cpus N               vCPUs (default 1)\n"
	"  --memory SIZE          guest RAM, e.g. 512M, 4G (default 256M)\n"
	"  --hugepages            back guest RAM with 2 MiB huge pages\n"
	"  --console KIND         stdio (default), file:PATH, or none\n"
	"  --timeout DURATION     stop the guest after e.g. 60s, 500ms, 2m; exit 124\n"
	"  --exit-port PORT       move hearth's exit device (default 0x4f0)\n"
	"  --exit-port qemu[:PORT] also accept QEMU's isa-debug-exit at PORT\n"
	"                         (default 0x501): status (value << 1) | 1\n"
	"  --cpu-template NAME    host (default: all KVM supports) or minimal\n"
	"  --cpu-features LIST    per-feature overrides, e.g. -avx2,+x2apic\n"
	"  --log-level LEVEL      error, warn (default), info, debug\n"
	"  --shutdown-timeout DURATION  on SIGTERM/SIGINT, ask the guest to shut down\n"
	"                         (Ctrl-Alt-Del) and stop it after this long (default\n"
	"                         30s; 0 stops at once; a second signal stops at once)\n"
	"  --io-poll USEC         I/O thread polls devices this long before sleeping\n"
	"                         (default 32; 0 turns polling off)\n"
	"  --config FILE          options from a JSON file (docs/config.md); the\n"
	"                         command line wins\n"
	"  --event-loop io_uring|epoll  the I/O thread's event loop (default io_uring,\n"
	"                         epoll where the host has no io_uring)\n"
	"  --disk path=FILE[,readonly=on][,direct=on][,discard=on][,serial=ID]\n"
	"         [,engine=io_uring|libaio|sync]\n"
	"                         a virtio-blk disk (repeat for more: vda, vdb...);\n"
	"                         engine= forces one (default: the first the host has)\n"
	"  --disk url=iscsi://[user%password@]host[:port]/IQN/LUN[,secret=FILE]\n"
	"         [,timeout=30s][,initiator=IQN][,readonly=on][,discard=on][,serial=ID]\n"
	"                         a virtio-blk disk on an iSCSI LUN (docs/iscsi.md)\n"
	"  --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]\n"
	"                         a virtio-net NIC on host TAP device NAME (repeat for more)\n"
	"  --api-socket PATH      serve the control API (docs/api.md) on a unix socket\n"
	"  --log-file PATH        hearth's log to PATH (appended, wall-clock stamps)\n"
	"                         instead of stderr\n"
	"  --ready-on start|marker  tell systemd READY=1 when the vCPUs start\n"
	"                         (default) or at the guest's first boot marker\n"
	"  --seccomp on|off       per-thread system call filters (default on; off only\n"
	"                         to debug: docs/security.md)\n"
	"  --jail                 run jailed: own cgroup, namespaces and empty root, an\n"
	"                         unprivileged user, no capabilities (docs/security.md)\n"
	"  --jail-uid UID, --jail-gid GID  root only: the jail's user and group (default\n"
	"                         65534); an ordinary user's jail keeps its own\n"
	"  --jail-cgroup PARENT   a group hearth-PID under PARENT in the cgroup v2 tree,\n"
	"                         removed after hearth exits; with:\n"
	"  --jail-cpus N          cpu.max in CPUs, e.g. 1 or 0.5\n"
	"  --jail-memory SIZE     memory.max (guest RAM the guest touches counts)\n"
	"  --jail-pids N          pids.max (at least the vCPUs + 7)\n"
	"  --jail-nofile N        open descriptors (default: those held + 128)\n"
	"  --jail-fsize SIZE      largest file write offset (default unlimited)\n"
	"  --jail-memlock SIZE    locked memory (default 0)\n"
	"  -h, --help             this text\n"
	"Exit status: the guest's status (exit device), 0 power-off, 120 reset,\n"
	"121 guest crash, 122 disk unavailable (locked, iSCSI refused), 123 stopped by the API,\n"
	"124 timeout, 125 bad usage or input, 126 host/KVM failure,\n"
	"159 a thread made a system call its seccomp filter forbids.\n";

void config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config_defaults_zeroed(cfg);
}

void config_defaults_zeroed(struct vm_config *cfg)
{
	cfg->cmdline = CONFIG_DEFAULT_CMDLINE;
	cfg->cpus = 1;
	cfg->memory = CONFIG_DEFAULT_MEMORY;
	cfg->console = CONSOLE_STDIO;
	cfg->io_poll_us = 32;
	cfg->shutdown_timeout_ms = 30000;
	cfg->exit_port = HEARTH_PORT_EXIT;
	cfg->qemu_exit_port = HEARTH_PORT_QEMU_EXIT_DEFAULT;
	cfg->cpu_template = CPU_TEMPLATE_HOST;
	cfg->log_level = LOG_WARN;
}

int config_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* one line, whatever a --config key or an argument holds: no newline
	 * or terminal escape from the input reaches the message */
	for (char *p = err; errlen && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -EINVAL;
}

/* Unsigned integer in C notation (decimal, 0x hex, 0 octal) with an optional
 * rest; rejects empty input, signs and overflow. */
static int parse_u64(const char *s, uint64_t *out, char **rest)
{
	unsigned long long v;
	char *end;

	if (!s || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	*out = v;
	*rest = end;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	uint64_t v;
	char *rest;
	const char *u;

	if (parse_u64(s, &v, &rest))
		return -EINVAL;
	if (*rest == '\0') {
		*out = v;
		return 0;
	}
	u = strchr(units, *rest);
	if (!u || *u == '\0' ||
	    (rest[1] != '\0' && strcmp(rest + 1, "iB") && strcmp(rest + 1, "B")))
		return -EINVAL;
	for (const char *p = units; p <= u; p++)
		if (__builtin_mul_overflow(v, 1024, &v))
			return -EINVAL;
	*out = v;
	return 0;
}

int config_parse_duration_ms(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
		{ "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60000 }, { "h", 3600000 },
	};
	uint64_t v;
	char *rest;

	if (parse_u64(s, &v, &rest))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(rest, units[i].suffix))
			continue;
		if (__builtin_mul_overflow(v, units[i].ms, out))
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;
	char *rest;

	if (parse_u64(s, &v, &rest) || *rest || v > 0xffff)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int opt_exit_port(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	if (!strncmp(v, "qemu", 4) && (v[4] == '\0' || v[4] == ':')) {
		cfg->qemu_exit = true;
		if (v[4] == ':' && parse_port(v + 5, &cfg->qemu_exit_port))
			return config_error(err, errlen, "--exit-port: bad port in '%s'", v);
		return 0;
	}
	if (parse_port(v, &cfg->exit_port))
		return config_error(err, errlen,
				    "--exit-port: expected a port number or qemu[:PORT], got '%s'",
				    v);
	return 0;
}

static int opt_console(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	if (!strcmp(v, "stdio")) {
		cfg->console = CONSOLE_STDIO;
	} else if (!strcmp(v, "none")) {
		cfg->console = CONSOLE_NONE;
	} else if (!strncmp(v, "file:", 5) && v[5]) {
		cfg->console = CONSOLE_FILE;
		cfg->console_path = v + 5;
	} else {
		return config_error(err, errlen,
				    "--console: expected stdio, file:PATH or none, got '%s'", v);
	}
	return 0;
}

static int opt_cpu_features(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	const char *p = v;

	while (*p) {
		size_t len = strcspn(p, ",");
		struct cpu_override *o;

		if (len < 2 || (p[0] != '+' && p[0] != '-'))
			return config_error(
				err, errlen,
				"--cpu-features: expected +NAME or -NAME items, got '%.*s'",
				(int)len, p);
		if (cfg->n_overrides == CONFIG_MAX_CPU_OVERRIDES)
			return config_error(err, errlen, "--cpu-features: more than %d overrides",
					    CONFIG_MAX_CPU_OVERRIDES);
		o = &cfg->overrides[cfg->n_overrides];
		if (len - 1 >= sizeof(o->name))
			return config_error(err, errlen, "--cpu-features: unknown feature '%.*s'",
					    (int)len - 1, p + 1);
		memcpy(o->name, p + 1, len - 1);
		o->name[len - 1] = '\0';
		if (!cpu_feature_find(o->name))
			return config_error(err, errlen,
					    "--cpu-features: unknown feature '%s' "
					    "(see docs/cpu-templates.md)",
					    o->name);
		o->enable = p[0] == '+';
		cfg->n_overrides++;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int opt_number(const char *opt, const char *v, uint64_t *out, char *err, size_t errlen)
{
	char *rest;

	if (parse_u64(v, out, &rest) || *rest)
		return config_error(err, errlen, "%s: expected a number, got '%s'", opt, v);
	return 0;
}

static int opt_log_level(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++) {
		if (!strcmp(v, names[i])) {
			cfg->log_level = i;
			return 0;
		}
	}
	return config_error(err, errlen,
			    "--log-level: expected error, warn, info or debug, got '%s'", v);
}

/* One option with its value; returns 0 or -EINVAL with @err set. */
static int on_off(const char *key, const char *v, size_t n, bool *out, char *err, size_t errlen)
{
	if (n == 2 && !strncmp(v, "on", 2))
		*out = true;
	else if (n == 3 && !strncmp(v, "off", 3))
		*out = false;
	else
		return config_error(err, errlen, "--disk: %s= expects on or off, got '%.*s'", key,
				    (int)n, v);
	return 0;
}

const char *const config_disk_engine_names[4] = {
	[DISK_ENGINE_AUTO] = "auto",
	[DISK_ENGINE_IO_URING] = "io_uring",
	[DISK_ENGINE_LIBAIO] = "libaio",
	[DISK_ENGINE_SYNC] = "sync",
};

/* --disk's keys, in the order its messages list them */
enum disk_key {
	DK_PATH,
	DK_URL,
	DK_READONLY,
	DK_DIRECT,
	DK_DISCARD,
	DK_SERIAL,
	DK_SECRET,
	DK_TIMEOUT,
	DK_ENGINE,
	DK_INITIATOR,
	DK_N
};
static const char *const disk_keys[DK_N] = {
	"path",	  "url",    "readonly", "direct", "discard",
	"serial", "secret", "timeout",	"engine", "initiator",
};

/* @v (@n bytes) copied into @out of @size bytes: 1 to @size - 1 bytes */
static bool copy_piece(char *out, size_t size, const char *v, size_t n)
{
	if (n == 0 || n >= size)
		return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

/* One key=value piece of --disk into @d, or into @f or @is: which of the
 * two the disk is can come last ("direct=on,path=a"). @secretive: the
 * option holds a URL, so no value is echoed (a password with a comma in it
 * would be cut into "pieces"). */
static int disk_piece(struct disk_config *d, struct disk_file *f, struct disk_iscsi *is,
		      enum disk_key k, const char *v, size_t n, bool secretive, char *err,
		      size_t errlen)
{
	switch (k) {
	case DK_PATH:
		if (!copy_piece(f->path, sizeof(f->path), v, n))
			return config_error(err, errlen, "--disk: path= is empty or too long");
		break;
	case DK_URL:
		/* kept as given: an iSCSI URL's grammar is the iSCSI layer's;
		 * vm_config_resolve() checks it and moves the password apart
		 * before anything shows the configuration */
		if (!copy_piece(is->url, sizeof(is->url), v, n))
			return config_error(err, errlen, "--disk: url= is empty or too long");
		break;
	case DK_SECRET:
		if (!copy_piece(is->secret, sizeof(is->secret), v, n))
			return config_error(err, errlen, "--disk: secret= is empty or too long");
		break;
	case DK_TIMEOUT: {
		char t[32];

		if (!copy_piece(t, sizeof(t), v, n))
			return config_error(err, errlen, "--disk: bad timeout= '%.*s'", (int)n, v);
		if (config_parse_duration_ms(t, &is->timeout_ms) || is->timeout_ms < 1000 ||
		    is->timeout_ms > 3600000)
			return config_error(err, errlen,
					    "--disk: timeout= must be a duration from 1s "
					    "to 1h, got '%s'",
					    t);
		break;
	}
	case DK_READONLY: return on_off("readonly", v, n, &d->readonly, err, errlen);
	case DK_DIRECT: return on_off("direct", v, n, &f->direct, err, errlen);
	case DK_DISCARD: return on_off("discard", v, n, &d->discard, err, errlen);
	case DK_SERIAL:
		if (n > 20)
			return config_error(err, errlen, "--disk: serial= is longer than 20 bytes");
		for (size_t i = 0; i < n; i++)
			if (v[i] < 0x21 || v[i] > 0x7e)
				return config_error(err, errlen,
						    "--disk: serial= must be printable ASCII");
		memcpy(d->serial, v, n);
		break;
	case DK_ENGINE: {
		unsigned e;

		for (e = 0; e < 4; e++)
			if (strlen(config_disk_engine_names[e]) == n &&
			    !strncmp(v, config_disk_engine_names[e], n))
				break;
		if (e == 4)
			return config_error(err, errlen,
					    "--disk: engine= expects io_uring, libaio, sync or "
					    "auto, got '%.*s'",
					    secretive ? 1 : (int)n, secretive ? "?" : v);
		f->engine = (enum disk_engine)e;
		break;
	}
	case DK_INITIATOR:
		if (n == 0 || n > CONFIG_INITIATOR_MAX)
			return config_error(err, errlen,
					    "--disk: initiator= must be an iSCSI name of 1 to %d "
					    "bytes",
					    CONFIG_INITIATOR_MAX);
		for (size_t i = 0; i < n; i++)
			if (v[i] < 0x21 || v[i] > 0x7e)
				return config_error(err, errlen,
						    "--disk: initiator= must be printable ASCII "
						    "without spaces");
		memcpy(is->initiator, v, n);
		is->initiator[n] = '\0';
		break;
	case DK_N: break;
	}
	return 0;
}

/* --disk path=FILE[,readonly=on][,direct=on][,discard=on][,serial=ID]
 * [,engine=NAME] or --disk url=iscsi://...[,secret=FILE][,timeout=DURATION]
 * [,initiator=IQN][,readonly=on][,discard=on][,serial=ID] */
static int opt_disk(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	struct disk_config d;
	struct disk_file f;
	struct disk_iscsi is;
	bool secretive = strstr(v, "url=") != NULL;
	unsigned seen = 0;

	if (cfg->n_disks >= CONFIG_MAX_DISKS)
		return config_error(err, errlen, "--disk: at most %d disks", CONFIG_MAX_DISKS);
	/* all of it zero, padding and the union's unused bytes too: a
	 * configuration compares equal to the same one parsed again */
	memset(&d, 0, sizeof(d));
	memset(&f, 0, sizeof(f));
	memset(&is, 0, sizeof(is));
	for (const char *p = v; *p;) {
		const char *end = strchr(p, ','), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p), klen;
		unsigned k;

		eq = memchr(p, '=', len);
		/* never echo a piece of an option that holds a URL: a password
		 * with a comma in it would be cut into "pieces" */
		if (!eq && secretive)
			return config_error(err, errlen,
					    "--disk: expected key=value pieces (a password with "
					    "a comma must come from a secret file)");
		if (!eq)
			return config_error(err, errlen, "--disk: expected key=value, got '%.*s'",
					    (int)len, p);
		klen = (size_t)(eq - p);
		for (k = 0; k < DK_N; k++)
			if (strlen(disk_keys[k]) == klen && !strncmp(p, disk_keys[k], klen))
				break;
		if (k == DK_N)
			return config_error(
				err, errlen,
				"--disk: unknown key '%.*s' (path, url, readonly, direct, "
				"discard, serial, secret, timeout, engine, initiator)",
				secretive ? 1 : (int)klen, secretive ? "?" : p);
		/* once each: the last of two would be as likely a mistake as the first */
		if (seen & 1u << k)
			return config_error(err, errlen, "--disk: %s= is given twice",
					    disk_keys[k]);
		seen |= 1u << k;
		if (disk_piece(&d, &f, &is, (enum disk_key)k, eq + 1, len - klen - 1, secretive,
			       err, errlen))
			return -EINVAL;
		p = end ? end + 1 : p + len;
	}
#define SEEN(k) (seen & 1u << (k))
	if (SEEN(DK_PATH) && SEEN(DK_URL))
		return config_error(err, errlen, "--disk: path= and url= are mutually exclusive");
	if (!SEEN(DK_PATH) && !SEEN(DK_URL))
		return config_error(err, errlen,
				    "--disk: path=FILE or url=iscsi://... is required");
	if (SEEN(DK_URL) && f.direct)
		return config_error(err, errlen, "--disk: direct=on applies to path= disks only");
	if (SEEN(DK_URL) && SEEN(DK_ENGINE))
		return config_error(err, errlen,
				    "--disk: engine= applies to path= disks only (an iSCSI "
				    "disk uses libiscsi)");
	if (SEEN(DK_PATH) && (SEEN(DK_SECRET) || SEEN(DK_TIMEOUT)))
		return config_error(err, errlen,
				    "--disk: secret= and timeout= apply to url= disks only");
	if (SEEN(DK_PATH) && SEEN(DK_INITIATOR))
		return config_error(err, errlen, "--disk: initiator= applies to url= disks only");
#undef SEEN
	if (d.readonly && d.discard)
		return config_error(err, errlen, "--disk: discard=on needs a writable disk");
	d.kind = seen & 1u << DK_URL ? DISK_ISCSI : DISK_FILE;
	if (d.kind == DISK_ISCSI)
		d.iscsi = is;
	else
		d.file = f;
	cfg->disks[cfg->n_disks++] = d;
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX] */
static int opt_net(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	struct net_config c = { 0 };

	if (cfg->n_nets >= CONFIG_MAX_NICS)
		return config_error(err, errlen, "--net: at most %d NICs", CONFIG_MAX_NICS);
	for (const char *p = v; *p;) {
		const char *end = strchr(p, ','), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p), klen, n;

		eq = memchr(p, '=', len);
		if (!eq)
			return config_error(err, errlen, "--net: expected key=value, got '%.*s'",
					    (int)len, p);
		klen = (size_t)(eq - p);
		n = len - klen - 1;
		if (klen == 3 && !strncmp(p, "tap", 3)) {
			if (n == 0 || n >= sizeof(c.tap))
				return config_error(
					err, errlen,
					"--net: tap= must name a device of 1 to %zu bytes",
					sizeof(c.tap) - 1);
			for (size_t i = 0; i < n; i++)
				if (eq[1 + i] <= 0x20 || eq[1 + i] > 0x7e || eq[1 + i] == '/')
					return config_error(err, errlen,
							    "--net: tap= '%.*s' is not a valid "
							    "interface name",
							    (int)n, eq + 1);
			memcpy(c.tap, eq + 1, n);
		} else if (klen == 3 && !strncmp(p, "mac", 3)) {
			const char *m = eq + 1;

			for (int i = 0; i < 6; i++) {
				int hi = hexval(m[3 * i]), lo = hi < 0 ? -1 : hexval(m[3 * i + 1]);

				if (n != 17 || hi < 0 || lo < 0 || (i < 5 && m[3 * i + 2] != ':'))
					return config_error(
						err, errlen,
						"--net: mac= expects XX:XX:XX:XX:XX:XX, got '%.*s'",
						(int)n, m);
				c.mac[i] = (uint8_t)(hi << 4 | lo);
			}
			if (c.mac[0] & 1)
				return config_error(err, errlen,
						    "--net: mac= %.*s is a multicast address",
						    (int)n, m);
			if (!(c.mac[0] | c.mac[1] | c.mac[2] | c.mac[3] | c.mac[4] | c.mac[5]))
				return config_error(err, errlen,
						    "--net: mac= must not be all zero");
			c.has_mac = true;
		} else {
			return config_error(err, errlen, "--net: unknown key '%.*s' (tap, mac)",
					    (int)klen, p);
		}
		p = end ? end + 1 : p + len;
	}
	if (!c.tap[0])
		return config_error(err, errlen, "--net: tap=NAME is required");
	for (unsigned i = 0; i < cfg->n_nets; i++)
		if (!strcmp(cfg->nets[i].tap, c.tap))
			return config_error(err, errlen, "--net: TAP '%s' is given twice", c.tap);
	cfg->nets[cfg->n_nets++] = c;
	return 0;
}

/* A uid or gid for --jail-uid/--jail-gid: a number, not 0 (root) nor -1. */
static int opt_id(const char *opt, const char *v, uint32_t *out, char *err, size_t errlen)
{
	uint64_t n;
	char *rest;

	if (parse_u64(v, &n, &rest) || *rest || n == 0 || n >= 0xffffffffu)
		return config_error(
			err, errlen,
			"%s: expected a number from 1 to 4294967294 (not root), got '%s'", opt, v);
	*out = (uint32_t)n;
	return 0;
}

static int opt_jail_size(const char *opt, const char *v, uint64_t min, uint64_t *out, char *err,
			 size_t errlen)
{
	if (config_parse_size(v, out) || *out < min)
		return config_error(err, errlen, "%s: expected a size of at least %llu%s, got '%s'",
				    opt, (unsigned long long)(min >= 1024 ? min >> 10 : min),
				    min >= 1024 ? "K" : "", v);
	return 0;
}

/* --jail-uid, --jail-gid, --jail-cgroup, --jail-cpus, --jail-memory,
 * --jail-pids, --jail-nofile, --jail-fsize, --jail-memlock */
static int opt_jail(struct jail_config *j, const char *opt, const char *v, char *err, size_t errlen)
{
	uint64_t n;
	char *rest;

	if (!strcmp(opt, "--jail-uid")) {
		j->has_uid = true;
		return opt_id(opt, v, &j->uid, err, errlen);
	} else if (!strcmp(opt, "--jail-gid")) {
		j->has_gid = true;
		return opt_id(opt, v, &j->gid, err, errlen);
	} else if (!strcmp(opt, "--jail-cgroup")) {
		if (!*v || strlen(v) >= JAIL_CGROUP_PATH_MAX || strstr(v, "..") ||
		    strspn(v, "/") == strlen(v))
			return config_error(err, errlen,
					    "--jail-cgroup: expected a group of the cgroup v2 tree "
					    "like hearth or /hearth.slice (no '..', at most %d "
					    "bytes), got '%s'",
					    JAIL_CGROUP_PATH_MAX - 1, v);
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p <= 0x20 || *p == 0x7f)
				return config_error(err, errlen,
						    "--jail-cgroup: '%s' has a space or a control "
						    "character",
						    v);
		j->cgroup = v;
	} else if (!strcmp(opt, "--jail-cpus")) {
		if (jail_parse_cpus(v, &j->cpus_milli))
			return config_error(err, errlen,
					    "--jail-cpus: expected CPUs like 1, 0.5 or 2.25 "
					    "(0.01 to 1024), got '%s'",
					    v);
	} else if (!strcmp(opt, "--jail-memory")) {
		return opt_jail_size(opt, v, 1 << 20, &j->memory, err, errlen);
	} else if (!strcmp(opt, "--jail-fsize")) {
		return opt_jail_size(opt, v, 1, &j->fsize, err, errlen);
	} else if (!strcmp(opt, "--jail-memlock")) {
		j->has_memlock = true;
		if (config_parse_size(v, &j->memlock))
			return config_error(
				err, errlen,
				"--jail-memlock: expected a size like 0 or 64K, got '%s'", v);
	} else if (!strcmp(opt, "--jail-pids") || !strcmp(opt, "--jail-nofile")) {
		if (parse_u64(v, &n, &rest) || *rest || n < 2 || n > (1u << 22))
			return config_error(err, errlen,
					    "%s: expected a number from 2 to 4194304, got '%s'",
					    opt, v);
		*(!strcmp(opt, "--jail-pids") ? &j->pids : &j->nofile) = n;
	} else {
		return config_error(err, errlen, "unknown option '%s' (see hearth run --help)",
				    opt);
	}
	return 0;
}

static int apply(struct vm_config *cfg, const char *opt, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (!strcmp(opt, "--kernel")) {
		cfg->kernel = v;
	} else if (!strcmp(opt, "--restore")) {
		if (!*v)
			return config_error(err, errlen,
					    "--restore: expected a snapshot directory");
		cfg->restore = v;
	} else if (!strcmp(opt, "--initrd")) {
		cfg->initrd = v;
	} else if (!strcmp(opt, "--cmdline")) {
		cfg->cmdline = v;
	} else if (!strcmp(opt, "--cpus")) {
		if (opt_number(opt, v, &n, err, errlen))
			return -EINVAL;
		if (n == 0 || n > 1024)
			return config_error(err, errlen, "--cpus: %s is out of range (1..1024)", v);
		cfg->cpus = (unsigned)n;
		cfg->cpus_given = true;
	} else if (!strcmp(opt, "--memory")) {
		cfg->memory_given = true;
		if (config_parse_size(v, &cfg->memory) || cfg->memory == 0)
			return config_error(err, errlen,
					    "--memory: expected a size like 512M or 4G, got '%s'",
					    v);
	} else if (!strcmp(opt, "--console")) {
		return opt_console(cfg, v, err, errlen);
	} else if (!strcmp(opt, "--timeout")) {
		if (config_parse_duration_ms(v, &cfg->timeout_ms) || cfg->timeout_ms == 0)
			return config_error(
				err, errlen,
				"--timeout: expected a duration like 60s or 500ms, got '%s'", v);
	} else if (!strcmp(opt, "--exit-port")) {
		return opt_exit_port(cfg, v, err, errlen);
	} else if (!strcmp(opt, "--cpu-template")) {
		if (!strcmp(v, "host"))
			cfg->cpu_template = CPU_TEMPLATE_HOST;
		else if (!strcmp(v, "minimal"))
			cfg->cpu_template = CPU_TEMPLATE_MINIMAL;
		else
			return config_error(err, errlen,
					    "--cpu-template: expected host or minimal, got '%s'",
					    v);
	} else if (!strcmp(opt, "--cpu-features")) {
		return opt_cpu_features(cfg, v, err, errlen);
	} else if (!strcmp(opt, "--log-level")) {
		return opt_log_level(cfg, v, err, errlen);
	} else if (!strcmp(opt, "--shutdown-timeout")) {
		if (strcmp(v, "0") && (config_parse_duration_ms(v, &cfg->shutdown_timeout_ms) ||
				       cfg->shutdown_timeout_ms == 0))
			return config_error(
				err, errlen,
				"--shutdown-timeout: expected a duration like 30s or 0, got '%s'",
				v);
		if (!strcmp(v, "0"))
			cfg->shutdown_timeout_ms = 0;
	} else if (!strcmp(opt, "--io-poll")) {
		if (opt_number(opt, v, &n, err, errlen))
			return -EINVAL;
		if (n > 1000000)
			return config_error(err, errlen,
					    "--io-poll: %s is out of range (0..1000000 us)", v);
		cfg->io_poll_us = (unsigned)n;
	} else if (!strcmp(opt, "--event-loop")) {
		if (!strcmp(v, "io_uring"))
			cfg->event_loop = EVENT_LOOP_IO_URING;
		else if (!strcmp(v, "epoll"))
			cfg->event_loop = EVENT_LOOP_EPOLL;
		else
			return config_error(err, errlen,
					    "--event-loop: expected io_uring or epoll, got '%s'",
					    v);
	} else if (!strcmp(opt, "--disk")) {
		return opt_disk(cfg, v, err, errlen);
	} else if (!strcmp(opt, "--net")) {
		return opt_net(cfg, v, err, errlen);
	} else if (!strcmp(opt, "--api-socket")) {
		if (!*v || strlen(v) >= CONFIG_SOCKET_PATH_MAX)
			return config_error(err, errlen,
					    "--api-socket: expected a path of 1 to %d bytes",
					    CONFIG_SOCKET_PATH_MAX - 1);
		cfg->api_socket = v;
	} else if (!strcmp(opt, "--log-file")) {
		if (!*v)
			return config_error(err, errlen, "--log-file: expected a path");
		cfg->log_file = v;
	} else if (!strcmp(opt, "--ready-on")) {
		if (strcmp(v, "start") && strcmp(v, "marker"))
			return config_error(err, errlen,
					    "--ready-on: expected start or marker, got '%s'", v);
		cfg->ready_on_marker = !strcmp(v, "marker");
	} else if (!strcmp(opt, "--seccomp")) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return config_error(err, errlen, "--seccomp: expected on or off, got '%s'",
					    v);
		cfg->no_seccomp = !strcmp(v, "off");
	} else if (!strncmp(opt, "--jail-", 7)) {
		return opt_jail(&cfg->jail, opt, v, err, errlen);
	} else {
		return config_error(err, errlen, "unknown option '%s' (see hearth run --help)",
				    opt);
	}
	return 0;
}

static bool known(const char *opt)
{
	static const char *const opts[] = {
		"--kernel",	  "--initrd",		"--cmdline",	 "--cpus",
		"--memory",	  "--console",		"--timeout",	 "--exit-port",
		"--cpu-template", "--cpu-features",	"--log-level",	 "--disk",
		"--io-poll",	  "--shutdown-timeout", "--net",	 "--api-socket",
		"--log-file",	  "--ready-on",		"--seccomp",	 "--event-loop",
		"--jail-uid",	  "--jail-gid",		"--jail-cgroup", "--jail-cpus",
		"--jail-memory",  "--jail-pids",	"--jail-nofile", "--jail-fsize",
		"--jail-memlock", "--restore",
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strcmp(opt, opts[i]))
			return true;
	return false;
}

static bool is_flag(const char *opt, struct vm_config *cfg)
{
	if (!strcmp(opt, "--hugepages")) {
		cfg->hugepages = true;
		return true;
	}
	if (!strcmp(opt, "--jail")) {
		cfg->jail.enabled = true;
		return true;
	}
	if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
		cfg->help = true;
		return true;
	}
	return false;
}

/* The --jail-* options together: each needs --jail, a limit needs its group. */
static int jail_check(const struct vm_config *cfg, char *err, size_t errlen)
{
	const struct jail_config *j = &cfg->jail;
	const char *opt = j->has_uid	   ? "--jail-uid"
			  : j->has_gid	   ? "--jail-gid"
			  : j->cgroup	   ? "--jail-cgroup"
			  : j->nofile	   ? "--jail-nofile"
			  : j->fsize	   ? "--jail-fsize"
			  : j->has_memlock ? "--jail-memlock"
					   : NULL;
	const char *limit = j->cpus_milli ? "--jail-cpus"
			    : j->memory	  ? "--jail-memory"
			    : j->pids	  ? "--jail-pids"
					  : NULL;

	if (cfg->help)
		return 0;
	if (!j->enabled && (opt || limit))
		return config_error(err, errlen, "%s needs --jail", opt ? opt : limit);
	if (limit && !j->cgroup)
		return config_error(err, errlen,
				    "%s needs --jail-cgroup PARENT (the group's parent)", limit);
	/* the I/O thread, one thread per vCPU and the io_uring workers the
	 * cap then allows (docs/security.md) */
	if (j->pids) {
		unsigned workers;
		uint64_t min = jail_min_pids(cfg->cpus, &workers);

		if (j->pids < min)
			return config_error(
				err, errlen,
				"--jail-pids %llu: hearth needs at least %llu (%u vCPUs, "
				"the I/O thread and up to %u io_uring workers)",
				(unsigned long long)j->pids, (unsigned long long)min, cfg->cpus,
				workers);
	}
	return 0;
}

/* --restore: the snapshot holds the guest's kernel, its vCPUs and its RAM;
 * what would boot another or shape it differently is refused, not ignored */
static int restore_check(const struct vm_config *cfg, char *err, size_t errlen)
{
	const char *opt = cfg->kernel				   ? "--kernel"
			  : cfg->initrd				   ? "--initrd"
			  : cfg->cpus_given			   ? "--cpus"
			  : cfg->memory_given			   ? "--memory"
			  : cfg->hugepages			   ? "--hugepages"
			  : cfg->cpu_template != CPU_TEMPLATE_HOST ? "--cpu-template"
			  : cfg->n_overrides			   ? "--cpu-features"
								   : NULL;

	if (opt)
		return config_error(err, errlen,
				    "%s with --restore: the snapshot sets the kernel, the vCPUs "
				    "(their CPUID too) and memory",
				    opt);
	if (strcmp(cfg->cmdline, CONFIG_DEFAULT_CMDLINE))
		return config_error(err, errlen,
				    "--cmdline with --restore: the restored kernel runs already");
	if (jail_check(cfg, err, errlen))
		return -EINVAL;
	return 0;
}

int config_parse(struct vm_config *cfg, int argc, char *const argv[], char *err, size_t errlen)
{
	char opt[32];

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *v;
		size_t n = eq ? (size_t)(eq - a) : strlen(a);

		if (strncmp(a, "-", 1) || n >= sizeof(opt))
			return config_error(err, errlen,
					    "unexpected argument '%s' (see hearth run --help)", a);
		memcpy(opt, a, n);
		opt[n] = '\0';
		if (!eq && is_flag(opt, cfg))
			continue;
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else if (known(opt)) {
			return config_error(err, errlen, "option '%s' needs a value", opt);
		} else {
			return config_error(err, errlen,
					    "unknown option '%s' (see hearth run --help)", opt);
		}
		if (apply(cfg, opt, v, err, errlen))
			return -EINVAL;
	}
	if (!cfg->help && cfg->restore)
		return restore_check(cfg, err, errlen);
	if (!cfg->help && !cfg->kernel && cfg->n_disks == 0)
		return config_error(
			err, errlen,
			"missing --kernel, or a --disk to boot from (see hearth run --help)");
	if (!cfg->help && !cfg->kernel && cfg->initrd)
		return config_error(
			err, errlen,
			"--initrd without --kernel: the disk image's own initrd is used");
	if (jail_check(cfg, err, errlen))
		return -EINVAL;
	if (cfg->qemu_exit && (unsigned)abs((int)cfg->qemu_exit_port - (int)cfg->exit_port) < 2)
		return config_error(err, errlen,
				    "--exit-port: the QEMU exit port 0x%x is hearth's exit port",
				    cfg->qemu_exit_port);
	return 0;
}
