/* SPDX-License-Identifier: MIT */
/*
 * The jail (hearth run --jail, docs/security.md): the one process, once
 * everything it needs is open and before any other thread exists, moves
 * into a cgroup v2 group of its own with limits, new mount, IPC, UTS and
 * network namespaces, an empty read-only root, an unprivileged uid/gid
 * without capabilities, no_new_privs, resource limits and a Landlock
 * domain that allows no file system access. The seccomp filters
 * (sandbox.h) load after it.
 *
 * Two calls: jail_begin() at the very start (main), jail_enter() at the
 * end of the VM's construction. Neither logs: they return a one-line
 * reason, and jail_enter() a note for the log.
 */
#ifndef HEARTH_JAIL_H
#define HEARTH_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JAIL_DEFAULT_ID	     65534u /* root's jail: nobody / nogroup */
#define JAIL_NOFILE_HEADROOM 128u   /* the default RLIMIT_NOFILE: what is held, plus this */
#define JAIL_CGROUP_PATH_MAX 256
#define JAIL_CPU_PERIOD_US   100000u /* cpu.max's period */
#define JAIL_MAX_CPUS_MILLI  1024000u
/* cpu.max takes no quota under 1 ms a 100 ms period */
#define JAIL_MIN_CPUS_MILLI 10u
/* With --jail-pids, io_uring's workers for hearth's requests are capped
 * (uring_cap_workers()): for disk I/O on image files and block devices,
 * and for the rest (a TAP's reads and writes that cannot complete at
 * once). Each is a task of hearth's in the pids cgroup. */
#define JAIL_IOWQ_BOUNDED   4u
#define JAIL_IOWQ_UNBOUNDED 2u

struct jail_config {
	bool enabled;	       /* --jail */
	bool has_uid, has_gid; /* --jail-uid, --jail-gid (root only) */
	uint32_t uid, gid;     /* root's default: JAIL_DEFAULT_ID */
	const char *cgroup;    /* --jail-cgroup PARENT in the cgroup v2 tree; NULL: none */
	uint32_t cpus_milli;   /* --jail-cpus, in thousandths of a CPU (cpu.max); 0: none */
	uint64_t memory;       /* --jail-memory, bytes (memory.max); 0: none */
	uint64_t pids;	       /* --jail-pids (pids.max); 0: none */
	uint64_t nofile;       /* --jail-nofile; 0: what is held plus JAIL_NOFILE_HEADROOM */
	uint64_t fsize;	       /* --jail-fsize, bytes; 0: unlimited */
	bool has_memlock;      /* else RLIMIT_MEMLOCK 0 */
	uint64_t memlock;      /* --jail-memlock, bytes */
	bool keep_net;	       /* stay in the host's network namespace (an iSCSI disk) */
};

/*
 * At the start of `hearth run --jail`, before anything is opened: closes
 * every descriptor hearth inherited but stdin, stdout, stderr and a socket
 * systemd passed (fd 3 with LISTEN_FDS=1 for this pid; close_range(), or
 * one by one from /proc/self/fd on kernels before 5.9), and, when not run
 * by root, makes the user namespace an ordinary user's jail needs (the
 * kernel allows it only while the process has one thread: io_uring's
 * workers would count). Returns 0 or -errno with a one-line reason.
 */
int jail_begin(const struct jail_config *c, char *err, size_t errlen);

/*
 * Enters the jail; called on the only thread, after every file, device,
 * socket and mapping the VM needs exists. Returns 0, -EINVAL when a value
 * turns out wrong only now (a usage error: the cgroup parent missing, a
 * descriptor limit below what is held), or another -errno (the host
 * refused a step), with a one-line reason in @err. @note gets a line for
 * the log (what was skipped, e.g. Landlock on a kernel without it).
 * On failure the process is half-jailed and must exit; a cgroup made
 * for it is removed when it has (a small process forked for that).
 */
int jail_enter(const struct jail_config *c, char *err, size_t errlen, char *note, size_t notelen);

/* The cgroup v2 mount point, from /proc/self/mountinfo, into @out.
 * Returns 0 or -ENOENT. */
int jail_cgroup2_mount(char *out, size_t outlen);

/*
 * The least --jail-pids that holds hearth with @vcpus vCPUs: the vCPU
 * threads, the I/O thread and the io_uring workers the cap allows, which
 * are counted per NUMA node (the kernel's possible nodes) on kernels
 * before 6.4, where the cap is per node; *@workers gets that part. The
 * cgroup's cleaner is not in the group (forked before hearth joins it).
 */
uint64_t jail_min_pids(unsigned vcpus, unsigned *workers);

/* "1", "0.5", "2.25" (at most 3 decimals) into thousandths; 0 or -EINVAL
 * (also for 0 and more than 1024 CPUs). */
int jail_parse_cpus(const char *s, uint32_t *milli);

#endif
