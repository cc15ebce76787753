// SPDX-License-Identifier: MIT
/*
 * The jail (include/hearth/jail.h, docs/security.md). Its steps, in order:
 * a cgroup v2 group with limits (and a small process that removes the
 * group once hearth is gone), new mount, IPC, UTS, cgroup and network
 * namespaces, an empty read-only tmpfs as the root, the bounding set
 * emptied, the unprivileged uid/gid, every capability set cleared,
 * no_new_privs, the resource limits, and a Landlock domain that handles
 * every file system access and allows none. Everything here runs before
 * the seccomp filters load, on the only thread.
 *
 * Capabilities are dropped with prctl() and capset() rather than
 * libcap-ng: three calls, and libcap-ng learns a process's sets from
 * /proc, which the jail no longer has once the root has moved.
 */
#include "hearth/jail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Landlock's ABI, for headers older than the kernel (Debian 12's lack
 * the later fields): the values are the kernel's. */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_restrict_self  446
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_FS_V1		  ((1ull << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER		  (1ull << 13)	     /* ABI 2 */
#define LL_FS_TRUNCATE		  (1ull << 14)	     /* ABI 3 */
#define LL_FS_IOCTL_DEV		  (1ull << 15)	     /* ABI 5 */
#define LL_SCOPE_ABSTRACT_UNIX	  (1ull << 0)	     /* ABI 6 */
#define LL_SCOPE_SIGNAL		  (1ull << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;	     /* ABI 6 */
};

static int why(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int why(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* Writes @s to @path (relative to @dirfd); 0 or -errno. */
static int write_at(int dirfd, const char *path, const char *s)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != strlen(s))
		ret = -EIO;
	close(fd);
	return ret;
}

static int read_at(int dirfd, const char *path, char *buf, size_t len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* Closes every descriptor /proc/self/fd lists but the @n in @keep;
 * 0 or -errno (no /proc). */
static int close_listed(const int *keep, size_t n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return -errno;
	/* closing while listing is safe: the directory is the descriptor
	 * table, read in descriptor order */
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		bool kept = e->d_name[0] < '0' || e->d_name[0] > '9' || *end || fd == dirfd(d);

		for (size_t i = 0; i < n && !kept; i++)
			kept = keep[i] == fd;
		if (!kept)
			close((int)fd);
	}
	closedir(d);
	return 0;
}

/*
 * Closes every descriptor but the @n in @keep (sorted, ascending), with
 * close_range() where the kernel has it (5.9), else one by one as
 * /proc/self/fd lists them: exact, where a loop up to RLIMIT_NOFILE would
 * miss a descriptor inherited above a limit lowered since. 0, or -errno
 * when neither works (then some may be left open).
 */
static int close_except(const int *keep, size_t n)
{
	unsigned from = 0;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		if ((unsigned)keep[i] > from && close_range(from, (unsigned)keep[i] - 1, 0))
			ret = -errno;
		from = (unsigned)keep[i] + 1;
	}
	if (!ret && close_range(from, ~0u, 0))
		ret = -errno;
	return ret ? close_listed(keep, n) : 0;
}

/* ---- jail_begin: inherited descriptors, the user namespace ---- */

static int cgroup_parent(const struct jail_config *c, char *err, size_t errlen);
static int cgroup_controllers(const struct jail_config *c, int pfd, char *err, size_t errlen);

static int map_id(const char *file, unsigned id)
{
	char line[64];

	snprintf(line, sizeof(line), "%u %u 1\n", id, id);
	return write_at(AT_FDCWD, file, line);
}

int jail_begin(const struct jail_config *c, char *err, size_t errlen)
{
	const char *lp = getenv("LISTEN_PID"), *lf = getenv("LISTEN_FDS");
	int keep[3 + 16], n = 0;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int ret;

	for (int fd = 0; fd < 3; fd++)
		keep[n++] = fd;
	/* socket activation: the API takes fd 3 (and refuses more) */
	if (lp && lf && strtol(lp, NULL, 10) == (long)getpid()) {
		long fds = strtol(lf, NULL, 10);

		for (long i = 0; i < fds && i < 16; i++)
			keep[n++] = 3 + (int)i;
	}
	ret = close_except(keep, (size_t)n);
	if (ret)
		return why(err, errlen, ret,
			   "--jail: cannot close the descriptors hearth inherited: no "
			   "close_range() (Linux 5.9) and no /proc/self/fd: %s",
			   strerror(-ret));
	/* the cgroup's parent and its controllers checked now, before
	 * anything is opened or made: a usage error leaves nothing behind */
	if (c->cgroup) {
		int pfd = cgroup_parent(c, err, errlen);

		if (pfd < 0)
			return pfd;
		ret = cgroup_controllers(c, pfd, err, errlen);
		close(pfd);
		if (ret)
			return ret;
	}
	if (uid == 0)
		return 0;
	/* an ordinary user: a user namespace that maps the user to itself,
	 * where the jail's later steps have the capabilities they need */
	if (c->has_uid && c->uid != uid)
		return why(err, errlen, -EINVAL,
			   "--jail-uid: only root chooses the jail's user; yours is kept (%u)",
			   (unsigned)uid);
	if (c->has_gid && c->gid != gid)
		return why(err, errlen, -EINVAL,
			   "--jail-gid: only root chooses the jail's group; yours is kept (%u)",
			   (unsigned)gid);
	if (unshare(CLONE_NEWUSER))
		return why(err, errlen, -errno,
			   "--jail: cannot make a user namespace as an ordinary user: %s "
			   "(does the kernel allow unprivileged user namespaces?)",
			   strerror(errno));
	ret = write_at(AT_FDCWD, "/proc/self/setgroups", "deny\n");
	if (!ret)
		ret = map_id("/proc/self/uid_map", uid);
	if (!ret)
		ret = map_id("/proc/self/gid_map", gid);
	if (ret)
		return why(err, errlen, ret, "--jail: cannot map the user namespace's ids: %s",
			   strerror(-ret));
	return 0;
}

/* ---- the cgroup ---- */

int jail_cgroup2_mount(char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - cgroup2 "), *p = line;

		if (!sep)
			continue;
		/* the fifth field is the mount point */
		for (int i = 0; i < 4 && p; i++) {
			p = strchr(p, ' ');
			p = p ? p + 1 : NULL;
		}
		if (!p || p > sep || (size_t)(strcspn(p, " ")) >= outlen)
			continue;
		snprintf(out, outlen, "%.*s", (int)strcspn(p, " "), p);
		ret = 0;
	}
	fclose(f);
	return ret;
}

/*
 * The process that removes the group once hearth has gone: forked before
 * hearth joins the group (so it stays outside it) and before anything is
 * dropped (so it may remove it). It keeps the parent group's directory
 * and nothing else, ignores the terminal's and systemd's stop signals,
 * waits for hearth's end on a pidfd and removes the empty group.
 */
static void reap(int pfd, const char *name, pid_t hearth)
{
	int pidfd = (int)syscall(SYS_pidfd_open, hearth, 0), keep[2];
	struct pollfd p;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "hearth-cgclean", 0, 0, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	keep[0] = pfd < pidfd ? pfd : pidfd;
	keep[1] = pfd < pidfd ? pidfd : pfd;
	/* best effort: a descriptor left open here holds a resource, no right */
	(void)close_except(pidfd < 0 ? &pfd : keep, pidfd < 0 ? 1 : 2);
	if (pidfd >= 0 && getppid() == hearth) {
		p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		while (poll(&p, 1, -1) < 0 && errno == EINTR)
			;
	} else {
		while (getppid() == hearth) /* no pidfd (before 5.3) */
			usleep(100000);
	}
	/* the group empties as hearth's threads finish exiting */
	for (int i = 0; i < 1000; i++) {
		if (!unlinkat(pfd, name, AT_REMOVEDIR) || errno != EBUSY)
			break;
		usleep(10000);
	}
	_exit(0);
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '+') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

static int cgroup_limits(const struct jail_config *c, int pfd, const char *name, char *err,
			 size_t errlen)
{
	/* each limit given: its file, its value, the option that set it; a
	 * file the kernel may lack (memory.swap.max, without swap
	 * accounting) is skipped then */
	struct {
		bool on, may_lack;
		const char *opt, *file;
		char val[48];
	} w[] = {
		{ c->cpus_milli != 0, false, "--jail-cpus", "cpu.max", "" },
		{ c->memory != 0, false, "--jail-memory", "memory.max", "" },
		/* the limit is the memory's, not the swap's: none to swap to */
		{ c->memory != 0, true, "--jail-memory", "memory.swap.max", "0" },
		{ c->pids != 0, false, "--jail-pids", "pids.max", "" },
	};
	char path[64];
	int ret;

	snprintf(w[0].val, sizeof(w[0].val), "%llu %u",
		 (unsigned long long)c->cpus_milli * JAIL_CPU_PERIOD_US / 1000, JAIL_CPU_PERIOD_US);
	snprintf(w[1].val, sizeof(w[1].val), "%llu", (unsigned long long)c->memory);
	snprintf(w[3].val, sizeof(w[3].val), "%llu", (unsigned long long)c->pids);
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		if (!w[i].on)
			continue;
		snprintf(path, sizeof(path), "%s/%s", name, w[i].file);
		ret = write_at(pfd, path, w[i].val);
		if (ret && !(w[i].may_lack && ret == -ENOENT))
			return why(err, errlen, ret, "%s: cannot write %s: %s", w[i].opt, w[i].file,
				   strerror(-ret));
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", name);
	if ((ret = write_at(pfd, path, "0")))
		return why(err, errlen, ret, "--jail-cgroup: cannot join the group: %s",
			   strerror(-ret));
	return 0;
}

static int cgroup_controllers(const struct jail_config *c, int pfd, char *err, size_t errlen)
{
	static const char *const names[] = { "cpu", "memory", "pids" };
	bool want[3] = { c->cpus_milli != 0, c->memory != 0, c->pids != 0 };
	char have[512], on[512], add[16];
	int ret;

	if ((ret = read_at(pfd, "cgroup.controllers", have, sizeof(have))) ||
	    (ret = read_at(pfd, "cgroup.subtree_control", on, sizeof(on))))
		return why(err, errlen, ret, "--jail-cgroup '%s': cannot read its controllers: %s",
			   c->cgroup, strerror(-ret));
	for (int i = 0; i < 3; i++) {
		if (!want[i] || has_word(on, names[i]))
			continue;
		if (!has_word(have, names[i]))
			return why(err, errlen, -EOPNOTSUPP,
				   "--jail-cgroup '%s' has no %s controller (it has: %.*s)",
				   c->cgroup, names[i], (int)strcspn(have, "\n"), have);
		snprintf(add, sizeof(add), "+%s", names[i]);
		if ((ret = write_at(pfd, "cgroup.subtree_control", add)))
			return why(err, errlen, ret,
				   "--jail-cgroup '%s': cannot enable its %s controller: %s%s",
				   c->cgroup, names[i], strerror(-ret),
				   ret == -EBUSY ? " (the group holds processes itself)" : "");
	}
	return 0;
}

/* The parent group's directory; -errno with the reason (-EINVAL: the
 * group does not exist, a usage error). */
static int cgroup_parent(const struct jail_config *c, char *err, size_t errlen)
{
	char root[PATH_MAX], dir[PATH_MAX * 2];
	const char *parent = c->cgroup;
	int pfd;

	if (jail_cgroup2_mount(root, sizeof(root)))
		return why(err, errlen, -EOPNOTSUPP,
			   "--jail-cgroup: no cgroup v2 file system is "
			   "mounted (/proc/self/mountinfo)");
	while (*parent == '/')
		parent++;
	snprintf(dir, sizeof(dir), "%s/%s", root, parent);
	pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return why(err, errlen, errno == ENOENT ? -EINVAL : -errno,
			   "--jail-cgroup '%s': %s under the cgroup v2 mount %s", c->cgroup,
			   strerror(errno), root);
	return pfd;
}

static int cgroup_enter(const struct jail_config *c, char *err, size_t errlen)
{
	char name[32];
	pid_t me = getpid(), child;
	int pfd, ret;

	pfd = cgroup_parent(c, err, errlen);
	if (pfd < 0)
		return pfd;
	ret = cgroup_controllers(c, pfd, err, errlen);
	snprintf(name, sizeof(name), "hearth-%d", (int)me);
	/* a stale group of that name (pid reuse) is removed first; one that
	 * cannot be (in use: another hearth of that pid in another pid
	 * namespace) is never joined */
	if (!ret && mkdirat(pfd, name, 0755) &&
	    (errno != EEXIST || unlinkat(pfd, name, AT_REMOVEDIR) || mkdirat(pfd, name, 0755)))
		ret = why(err, errlen, -errno, "--jail-cgroup '%s': cannot make %s in it: %s",
			  c->cgroup, name, strerror(errno));
	if (ret) {
		close(pfd);
		return ret;
	}
	child = fork();
	if (child == 0)
		reap(pfd, name, me);
	if (child < 0)
		ret = why(err, errlen, -errno, "--jail-cgroup: cannot fork its cleaner: %s",
			  strerror(errno));
	if (!ret)
		ret = cgroup_limits(c, pfd, name, err, errlen);
	if (ret) /* not in it: remove it now */
		unlinkat(pfd, name, AT_REMOVEDIR);
	close(pfd);
	return ret;
}

/* ---- the namespaces and the root ---- */

static int highest_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int max = 2;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > max && fd != dirfd(d))
			max = fd;
	}
	closedir(d);
	return max;
}

static int new_root(char *err, size_t errlen)
{
	static const char *const mps[] = { "/tmp", "/mnt", "/proc" };
	const char *mp = NULL;
	struct stat st;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return why(err, errlen, -errno, "--jail: cannot make the mounts private: %s",
			   strerror(errno));
	/* any directory will do as the tmpfs's mount point: in the new
	 * mount namespace, nobody else sees it */
	for (size_t i = 0; i < sizeof(mps) / sizeof(mps[0]) && !mp; i++)
		if (!lstat(mps[i], &st) && S_ISDIR(st.st_mode))
			mp = mps[i];
	if (!mp)
		return why(err, errlen, -ENOENT,
			   "--jail: no directory to mount the jail's root on");
	if (mount("hearth-jail", mp, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=16,mode=0555"))
		return why(err, errlen, -errno, "--jail: cannot mount the jail's tmpfs: %s",
			   strerror(errno));
	/* pivot_root(".", "."): the old root is stacked on the new one,
	 * then detached, with no directory needed to hold it */
	if (chdir(mp) || syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) ||
	    chdir("/"))
		return why(err, errlen, -errno, "--jail: cannot move the root into the jail: %s",
			   strerror(errno));
	if (mount(NULL, "/", NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return why(err, errlen, -errno, "--jail: cannot make the jail's root read-only: %s",
			   strerror(errno));
	return 0;
}

/* ---- the user and its capabilities ---- */

static int drop_ids(const struct jail_config *c, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	bool root = geteuid() == 0;
	uid_t uid = c->has_uid ? c->uid : JAIL_DEFAULT_ID;
	gid_t gid = c->has_gid ? c->gid : JAIL_DEFAULT_ID;

	/* the bounding set first: dropping needs CAP_SETPCAP */
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			return why(err, errlen, -errno, "--jail: cannot empty the bounding set: %s",
				   strerror(errno));
	/* root: to the jail's user; an ordinary user keeps its own ids and
	 * groups (its user namespace may not drop groups: setgroups deny) */
	if (root && (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)))
		return why(err, errlen, -errno, "--jail: cannot change to uid %u gid %u: %s",
			   (unsigned)uid, (unsigned)gid, strerror(errno));
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) || prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		return why(err, errlen, -errno, "--jail: cannot clear the capabilities: %s",
			   strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return why(err, errlen, -errno, "--jail: cannot set no_new_privs: %s",
			   strerror(errno));
	return 0;
}

static int limits(const struct jail_config *c, int held, char *err, size_t errlen)
{
	struct rlimit nofile, fsize, memlock;
	uint64_t n = c->nofile ? c->nofile : (uint64_t)held + 1 + JAIL_NOFILE_HEADROOM;

	if (c->nofile && c->nofile <= (uint64_t)held)
		return why(err, errlen, -EINVAL,
			   "--jail-nofile %llu: hearth holds descriptor %d already (at least %d)",
			   (unsigned long long)c->nofile, held, held + 1);
	nofile = (struct rlimit){ n, n };
	fsize = c->fsize ? (struct rlimit){ c->fsize, c->fsize }
			 : (struct rlimit){ RLIM_INFINITY, RLIM_INFINITY };
	memlock = (struct rlimit){ c->memlock, c->memlock };
	/* a write past the size limit fails with EFBIG (a disk's I/O error,
	 * a log line lost) instead of killing hearth */
	if (c->fsize)
		signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_NOFILE, &nofile))
		return why(err, errlen, errno == EPERM ? -EINVAL : -errno,
			   "--jail-nofile %llu: %s (above the hard limit?)", (unsigned long long)n,
			   strerror(errno));
	/* unlimited unless asked: keep a lower hard limit given from outside */
	if ((c->fsize || getrlimit(RLIMIT_FSIZE, &fsize) == 0) && setrlimit(RLIMIT_FSIZE, &fsize))
		return why(err, errlen, errno == EPERM ? -EINVAL : -errno,
			   "--jail-fsize %llu: %s (above the hard limit?)",
			   (unsigned long long)c->fsize, strerror(errno));
	if (setrlimit(RLIMIT_MEMLOCK, &memlock))
		return why(err, errlen, errno == EPERM ? -EINVAL : -errno,
			   "--jail-memlock %llu: %s (above the hard limit?)",
			   (unsigned long long)c->memlock, strerror(errno));
	return 0;
}

static int landlock(char *note, size_t notelen, char *err, size_t errlen)
{
	struct ll_ruleset_attr a = { LL_FS_V1, 0, 0 };
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	size_t size = sizeof(uint64_t);
	int fd;

	if (abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP)) {
		snprintf(note, notelen, "jail: no Landlock in this kernel (%s): skipped",
			 errno == ENOSYS ? "not built" : "not enabled at boot");
		return 0;
	}
	if (abi < 0)
		return why(err, errlen, -errno, "--jail: Landlock: %s", strerror(errno));
	if (abi >= 2)
		a.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		a.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		a.handled_access_fs |= LL_FS_IOCTL_DEV;
	/* no network rule: an iSCSI disk reconnects over TCP */
	if (abi >= 4)
		size = 2 * sizeof(uint64_t);
	if (abi >= 6) {
		a.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(a);
	}
	fd = (int)syscall(SYS_landlock_create_ruleset, &a, size, 0);
	if (fd < 0)
		return why(err, errlen, -errno, "--jail: Landlock ruleset (ABI %ld): %s", abi,
			   strerror(errno));
	if (syscall(SYS_landlock_restrict_self, fd, 0)) {
		int e = errno;

		close(fd);
		return why(err, errlen, -e, "--jail: Landlock: %s", strerror(e));
	}
	close(fd);
	snprintf(note, notelen, "jail: Landlock ABI %ld: no file system access%s", abi,
		 abi >= 6 ? ", no signal or abstract socket outside hearth" : "");
	return 0;
}

int jail_enter(const struct jail_config *c, char *err, size_t errlen, char *note, size_t notelen)
{
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
	int held, ret;

	note[0] = '\0';
	held = highest_fd();
	if (held < 0)
		return why(err, errlen, held, "--jail: cannot list /proc/self/fd: %s",
			   strerror(-held));
	/* the limits first: a value refused there is the user's error, and
	 * nothing has changed yet (no group, the host's root, every file a
	 * failed start removes still reachable); root may still raise a hard
	 * limit here */
	if ((ret = limits(c, held, err, errlen)))
		return ret;
	if (c->cgroup && (ret = cgroup_enter(c, err, errlen)))
		return ret;
	/* the TAPs were opened in this network namespace and stay in it */
	if (!c->keep_net)
		flags |= CLONE_NEWNET;
	if (unshare(flags))
		return why(err, errlen, -errno, "--jail: cannot make the namespaces: %s",
			   strerror(errno));
	if ((ret = new_root(err, errlen)) || (ret = drop_ids(c, err, errlen)))
		return ret;
	return landlock(note, notelen, err, errlen);
}

/* How many node-sized io-wq groups the kernel may run: its possible NUMA
 * nodes before Linux 6.4 (a cap per node), else 1. */
static unsigned iowq_groups(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0, n = 0;
	char list[256];
	char *p = list;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2 || major > 6 ||
	    (major == 6 && minor >= 4))
		return 1;
	/* "0", "0-1", "0-3,8-11" */
	if (read_at(AT_FDCWD, "/sys/devices/system/node/possible", list, sizeof(list)))
		return 1; /* no NUMA support built: one node */
	while (*p >= '0' && *p <= '9') {
		unsigned long a = strtoul(p, &p, 10), b = a;

		if (*p == '-')
			b = strtoul(p + 1, &p, 10);
		n += b >= a ? (unsigned)(b - a + 1) : 1;
		if (*p == ',')
			p++;
	}
	return n ? n : 1;
}

uint64_t jail_min_pids(unsigned vcpus, unsigned *workers)
{
	*workers = (JAIL_IOWQ_BOUNDED + JAIL_IOWQ_UNBOUNDED) * iowq_groups();
	return (uint64_t)vcpus + 1 + *workers;
}

int jail_parse_cpus(const char *s, uint32_t *milli)
{
	uint64_t v = 0;
	int frac = -1;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p == '.' && frac < 0 && p != s && p[1]) {
			frac = 0;
			continue;
		}
		if (*p < '0' || *p > '9' || frac == 3 || v > JAIL_MAX_CPUS_MILLI)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
		if (frac >= 0)
			frac++;
	}
	for (int i = frac < 0 ? 0 : frac; i < 3; i++)
		v *= 10;
	if (v < JAIL_MIN_CPUS_MILLI || v > JAIL_MAX_CPUS_MILLI)
		return -EINVAL;
	*milli = (uint32_t)v;
	return 0;
}
