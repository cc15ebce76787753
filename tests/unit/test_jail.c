// SPDX-License-Identifier: MIT
/*
 * The jail (src/jail.c, docs/security.md), no KVM needed: a forked child
 * enters it as hearth does (jail_begin, then jail_enter) and checks from
 * inside what it can (its ids, that no host file is visible, each rlimit
 * hit at its value, the cgroup limits hit); the parent checks from outside
 * what the child can no longer see (/proc/PID/status: ids, every
 * capability set empty, NoNewPrivs; the empty root; the cgroup and its
 * limit files) and that the child's cgroup is gone after it exits. As root
 * (root drops to 65534) and as an ordinary user (a user namespace). Also
 * the --jail options' parsing and the CHAP passwords wiped after the start.
 *
 * The child reports on its stderr, a pipe: "ok WHAT" or "FAIL WHAT", then
 * "READY"; it waits on stdin (another pipe) until the parent has looked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hearth/config.h"
#include "hearth/jail.h"
#include "hearth/uring.h"
#include "hearth/vm.h"

#define NOFILE	64
#define FSIZE	(1 << 20)
#define MEMLOCK (64 << 10)

static int fails;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[300];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (!strncmp(line, "FAIL", 4))
		fails++;
	(void)!write(2, line, (size_t)n);
}

#define check(cond, ...)                          \
	do {                                      \
		if (cond)                         \
			say("ok " __VA_ARGS__);   \
		else                              \
			say("FAIL " __VA_ARGS__); \
	} while (0)

/* ---- inside the jail ---- */

static void check_rlimits(const struct jail_config *c, int scratch)
{
	static char buf[MEMLOCK * 2] __attribute__((aligned(4096)));
	int last = -1, fd, e;
	ssize_t n;

	/* RLIMIT_NOFILE: new descriptors up to the limit, then EMFILE */
	while ((fd = dup(0)) >= 0)
		last = fd;
	e = errno;
	check(e == EMFILE && last == (int)c->nofile - 1,
	      "RLIMIT_NOFILE hit at %llu (last fd %d, %s)", (unsigned long long)c->nofile, last,
	      strerror(e));
	for (fd = 3; fd <= last; fd++)
		if (fd != scratch)
			close(fd);
	/* RLIMIT_FSIZE: a write below the limit works, one at it fails (EFBIG,
	 * the jail ignores SIGXFSZ) */
	n = pwrite(scratch, "x", 1, FSIZE - 1);
	check(n == 1, "a write below RLIMIT_FSIZE (%zd)", n);
	n = pwrite(scratch, "x", 1, FSIZE);
	e = errno;
	check(n < 0 && e == EFBIG, "a write at RLIMIT_FSIZE %d fails with EFBIG (%s)", FSIZE,
	      n < 0 ? strerror(e) : "written");
	/* RLIMIT_MEMLOCK (the system call itself: ASan's mlock() does nothing) */
	check(syscall(SYS_mlock, buf, MEMLOCK / 2) == 0, "mlock within RLIMIT_MEMLOCK");
	syscall(SYS_munlock, buf, MEMLOCK / 2);
	n = syscall(SYS_mlock, buf, sizeof(buf));
	e = errno;
	check(n != 0 && (e == ENOMEM || e == EPERM), "mlock past RLIMIT_MEMLOCK %d fails (%s)",
	      MEMLOCK, n ? strerror(e) : "locked");
}

static void check_files(bool landlock)
{
	DIR *d;
	struct dirent *e;
	int fd, n = 0;

	fd = open("/etc/passwd", O_RDONLY);
	check(fd < 0 && errno == ENOENT, "/etc/passwd is not there (%s)",
	      fd < 0 ? strerror(errno) : "opened");
	fd = open("/proc/self/status", O_RDONLY);
	check(fd < 0, "no /proc in the jail (%s)", fd < 0 ? strerror(errno) : "opened");
	check(mkdir("/x", 0700) != 0, "the jail's root is read-only (%s)", strerror(errno));
	d = opendir("/");
	if (landlock) {
		check(!d && errno == EACCES, "Landlock: even the jail's root cannot be listed (%s)",
		      d ? "listed" : strerror(errno));
	} else if (d) {
		while ((e = readdir(d)))
			n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		check(n == 0, "the jail's root is empty (%d entries)", n);
	}
	if (d)
		closedir(d);
}

struct jailed {
	struct jail_config c;
	uid_t drop_to;	 /* an ordinary user: become it before the jail (0: stay root) */
	uid_t want_id;	 /* the uid and gid expected inside (0: drop_to, else 65534) */
	bool busy;	 /* spin 300 ms before READY (cpu.max) */
	unsigned forks;	 /* fork this many pausing children, expecting the last to fail */
	uint64_t touch;	 /* a grandchild touches this much memory: the OOM killer */
	int want_status; /* jail_enter()'s expected result */
	bool io_worker;	 /* an io_uring worker thread exists before the jail */
};

static int jailed_child(const struct jailed *j)
{
	char err[400] = "", note[200] = "";
	int scratch, ret;
	uid_t want;
	pid_t kids[16];
	unsigned nkids = 0;

	if (j->drop_to && (setresgid(j->drop_to, j->drop_to, j->drop_to) ||
			   setresuid(j->drop_to, j->drop_to, j->drop_to))) {
		say("FAIL setresuid(%u): %s", (unsigned)j->drop_to, strerror(errno));
		return 1;
	}
	/* as a process the user started itself: changing ids made this one
	 * non-dumpable, its /proc/self files root's (uid_map among them) */
	if (j->drop_to)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	ret = jail_begin(&j->c, err, sizeof(err));
	if (ret && ret == j->want_status) {
		say("ok jail_begin refuses: %s", err);
		say("READY");
		return 0;
	}
	if (ret) {
		say("FAIL jail_begin: %s", err);
		return 1;
	}
	scratch = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (scratch < 0) {
		say("FAIL a scratch file in /tmp: %s", strerror(errno));
		return 1;
	}
	if (j->io_worker) {
		/* a read punted to io_uring's worker (IOSQE_ASYNC) that blocks on
		 * an empty pipe (or, on kernels that poll a pipe from the worker,
		 * a worker that stays idle) */
		static struct io_uring ring;
		static int p[2];
		static char b;
		struct io_uring_sqe *sqe;

		if (pipe(p) || io_uring_queue_init(4, &ring, 0) ||
		    !(sqe = io_uring_get_sqe(&ring))) {
			say("FAIL an io_uring with a worker");
			return 1;
		}
		io_uring_prep_read(sqe, p[0], &b, 1, 0);
		sqe->flags |= IOSQE_ASYNC;
		io_uring_submit(&ring);
		usleep(100000);
	}
	ret = jail_enter(&j->c, err, sizeof(err), note, sizeof(note));
	if (j->want_status) {
		check(ret == j->want_status, "jail_enter fails as expected (%d: %s)", ret, err);
		say("READY");
		return fails != 0;
	}
	if (ret) {
		say("FAIL jail_enter: %s", err);
		say("READY");
		return 1;
	}
	say("ok note: %s", note[0] ? note : "(none)");
	want = j->want_id ? j->want_id : j->drop_to ? j->drop_to : 65534;
	check(getuid() == want && geteuid() == want, "uid %u", (unsigned)getuid());
	check(getgid() == want && getegid() == want, "gid %u", (unsigned)getgid());
	check_files(strstr(note, "Landlock ABI") != NULL);
	if (strstr(note, "no signal")) { /* Landlock's signal scope: not even the parent */
		ret = kill(getppid(), 0);
		check(ret && errno == EPERM, "Landlock: no signal out of the jail (%s)",
		      ret ? strerror(errno) : "sent");
	}
	check_rlimits(&j->c, scratch);
	if (j->forks) {
		pid_t p = 0;

		while (nkids < j->forks && nkids < 16 && (p = fork()) > 0)
			kids[nkids++] = p;
		if (p == 0) {
			pause();
			_exit(0);
		}
		check(p < 0 && errno == EAGAIN && nkids == j->forks - 1,
		      "pids.max %llu: fork %u fails with EAGAIN (%u made, %s)",
		      (unsigned long long)j->c.pids, nkids + 1, nkids,
		      p < 0 ? strerror(errno) : "made");
		for (unsigned i = 0; i < nkids; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	if (j->touch) {
		pid_t p = fork();
		int st = 0;

		if (p == 0) {
			char *m = mmap(NULL, j->touch, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			for (uint64_t o = 0; m != MAP_FAILED && o < j->touch; o += 4096)
				m[o] = 1;
			_exit(0);
		}
		waitpid(p, &st, 0);
		check(p > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		      "memory.max %llu: touching %llu bytes is killed (status 0x%x)",
		      (unsigned long long)j->c.memory, (unsigned long long)j->touch, st);
	}
	if (j->busy) {
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 300);
	}
	say("READY");
	(void)!read(0, &ret, 1); /* until the parent has looked */
	return fails != 0;
}

/* ---- outside ---- */

struct child {
	pid_t pid;
	int out, in; /* its stderr (read), its stdin (write) */
	char log[8192];
};

static void start(struct child *ch, const struct jailed *j)
{
	int o[2], i[2];
	size_t len = 0;
	ssize_t n;

	assert_int_equal(pipe(o), 0);
	assert_int_equal(pipe(i), 0);
	ch->pid = fork();
	assert_true(ch->pid >= 0);
	if (ch->pid == 0) {
		dup2(o[1], 2);
		dup2(i[0], 0);
		_exit(jailed_child(j));
	}
	close(o[1]);
	close(i[0]);
	ch->out = o[0];
	ch->in = i[1];
	/* its report, up to READY */
	ch->log[0] = '\0';
	while (len < sizeof(ch->log) - 1 && !strstr(ch->log, "READY\n") &&
	       (n = read(ch->out, ch->log + len, sizeof(ch->log) - 1 - len)) > 0) {
		len += (size_t)n;
		ch->log[len] = '\0';
	}
	printf("%s", ch->log); /* before anything is checked */
}

static int finish(struct child *ch)
{
	int st = 0;

	close(ch->in);
	waitpid(ch->pid, &st, 0);
	close(ch->out);
	assert_null(strstr(ch->log, "FAIL"));
	assert_non_null(strstr(ch->log, "READY"));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* "Name:\tvalue" of /proc/PID/status */
static bool status_is(pid_t pid, const char *key, const char *want)
{
	char path[64], line[256];
	FILE *f;
	bool ok = false;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			const char *v = line + strlen(key) + 1;

			v += strspn(v, " \t");
			ok = !strncmp(v, want, strlen(want));
			if (!ok)
				printf("# %s", line);
		}
	fclose(f);
	return ok;
}

static void look_from_outside(pid_t pid, unsigned id)
{
	char ids[64], path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", id, id, id, id);
	assert_true(status_is(pid, "Uid", ids));
	assert_true(status_is(pid, "Gid", ids));
	assert_true(status_is(pid, "CapInh", "0000000000000000"));
	assert_true(status_is(pid, "CapPrm", "0000000000000000"));
	assert_true(status_is(pid, "CapEff", "0000000000000000"));
	assert_true(status_is(pid, "CapBnd", "0000000000000000"));
	assert_true(status_is(pid, "CapAmb", "0000000000000000"));
	assert_true(status_is(pid, "NoNewPrivs", "1"));
	/* its root, as the host sees it: the empty tmpfs */
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	assert_int_equal(n, 0);
}

static struct jail_config base(void)
{
	return (struct jail_config){ .enabled = true,
				     .nofile = NOFILE,
				     .fsize = FSIZE,
				     .has_memlock = true,
				     .memlock = MEMLOCK };
}

static void root_jail(void **state)
{
	struct jailed j = { .c = base() };
	struct child ch;

	(void)state;
	if (geteuid() != 0)
		skip();
	start(&ch, &j);
	look_from_outside(ch.pid, 65534);
	assert_int_equal(finish(&ch), 0);
}

/* io_uring's worker threads are in hearth's thread group. hearth's rings
 * have none when it enters the jail (docs/security.md says why), but the
 * jail must not depend on it (a user namespace could not be made with
 * one: jail_begin makes it first). The worker keeps the ids it was made
 * with (printed); the process is jailed. */
static void root_jail_with_io_worker(void **state)
{
	struct jailed j = { .c = base(), .io_worker = true };
	struct child ch;
	char cmd[128];

	(void)state;
	if (geteuid() != 0)
		skip();
	start(&ch, &j);
	snprintf(cmd, sizeof(cmd),
		 "grep -H -E '^(Name|Uid|CapEff)' /proc/%d/task/*/status | sed 's/^/# /'",
		 (int)ch.pid);
	(void)!system(cmd);
	/* the worker is there, in the jailed thread group */
	snprintf(cmd, sizeof(cmd), "grep -l '^iou-wrk' /proc/%d/task/*/comm >/dev/null",
		 (int)ch.pid);
	assert_int_equal(system(cmd), 0);
	look_from_outside(ch.pid, 65534);
	assert_int_equal(finish(&ch), 0);
}

static void root_jail_other_ids(void **state)
{
	struct jailed j = { .c = base() };
	struct child ch;

	(void)state;
	if (geteuid() != 0)
		skip();
	j.c.has_uid = j.c.has_gid = true;
	j.c.uid = j.c.gid = 4321;
	j.want_id = 4321;
	start(&ch, &j);
	look_from_outside(ch.pid, 4321);
	assert_int_equal(finish(&ch), 0);
}

/* Whether an ordinary user may make a user namespace here; why not, if not. */
static const char *no_userns(void)
{
	FILE *f = fopen("/proc/sys/kernel/unprivileged_userns_clone", "r");
	int v = 1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 1;
		fclose(f);
		if (!v)
			return "kernel.unprivileged_userns_clone is 0";
	}
	f = fopen("/proc/sys/user/max_user_namespaces", "r");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 1;
		fclose(f);
		if (!v)
			return "user.max_user_namespaces is 0";
	}
	return NULL;
}

static void rootless_jail(void **state)
{
	struct jailed j = { .c = base(), .drop_to = 65534 };
	struct child ch;
	const char *why = no_userns();

	(void)state;
	if (geteuid() != 0) /* the test becomes the ordinary user 65534 itself */
		skip();
	if (why) {
		printf("# SKIP: the kernel forbids unprivileged user namespaces: %s\n", why);
		skip();
	}
	start(&ch, &j);
	look_from_outside(ch.pid, 65534);
	assert_int_equal(finish(&ch), 0);
}

static void rootless_cannot_choose_uid(void **state)
{
	struct jailed j = { .c = base(), .drop_to = 65534, .want_status = -EINVAL };
	struct child ch;

	(void)state;
	if (geteuid() != 0)
		skip();
	j.c.has_uid = true;
	j.c.uid = 4321;
	start(&ch, &j);
	/* jail_begin refused: the child says so and ends */
	close(ch.in);
	waitpid(ch.pid, NULL, 0);
	close(ch.out);
	assert_non_null(strstr(ch.log, "only root chooses the jail's user"));
}

/* ---- io_uring's workers and --jail-pids ---- */

static unsigned tasks_named(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (f) {
			if (fgets(comm, sizeof(comm), f) && !strncmp(comm, prefix, strlen(prefix)))
				n++;
			fclose(f);
		}
	}
	closedir(d);
	return n;
}

/* uring_cap_workers() holds: a ring given far more blocking requests
 * than the cap (opens of a FIFO nobody writes to, each holding a worker
 * until a writer comes) starts no more workers than the cap, here 1 and
 * 1 (per NUMA node before Linux 6.4). Without it, one worker a request up
 * to the kernel's own limits (4 a CPU). */
static void iowq_workers_capped(void **state)
{
	enum { OPENS = 16 };
	char fifo[64];
	pid_t pid;
	int st;

	(void)state;
	snprintf(fifo, sizeof(fifo), "/tmp/hearth-iowq-%d", (int)getpid());
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const uint8_t ops[] = { IORING_OP_OPENAT };
		static struct io_uring ring;
		unsigned workers, groups, n;
		int w;

		jail_min_pids(0, &workers);
		groups = workers / (JAIL_IOWQ_BOUNDED + JAIL_IOWQ_UNBOUNDED);
		uring_cap_workers(1, 1);
		if (uring_init_disabled(&ring, 32, NULL))
			_exit(77); /* no io_uring here */
		if (uring_lock(&ring, ops, sizeof(ops), IOSQE_ASYNC, 0))
			_exit(10);
		for (int i = 0; i < OPENS; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			if (!sqe)
				_exit(11);
			io_uring_prep_openat(sqe, AT_FDCWD, fifo, O_RDONLY | O_CLOEXEC, 0);
			/* to a worker, which blocks (io_uring's own first try
			 * would open it non-blocking) */
			sqe->flags |= IOSQE_ASYNC;
		}
		if (io_uring_submit(&ring) != OPENS)
			_exit(12);
		usleep(300000);
		n = tasks_named("iou-wrk");
		printf("# %u io_uring workers for %d blocked opens (cap 1 + 1, %u node group%s)\n",
		       n, OPENS, groups, groups == 1 ? "" : "s");
		fflush(stdout);
		/* a writer lets them all finish */
		w = open(fifo, O_WRONLY | O_CLOEXEC);
		if (w >= 0)
			close(w);
		_exit(n >= 1 && n <= 2 * groups ? 0 : 13);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(fifo);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		skip();
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- the descriptors inherited ---- */

/* A kernel without close_range() (before 5.9), as a seccomp filter
 * makes it: the call fails with ENOSYS; with @no_proc, opening anything
 * (so /proc/self/fd) fails too. */
static int without_close_range(bool no_proc)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, no_proc ? SECCOMP_RET_ERRNO | EACCES : SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };

	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	       syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p);
}

/* jail_begin closes what hearth inherited but stdio even where the kernel
 * has no close_range(), and says so when it cannot close them at all. */
static void inherited_closed_without_close_range(void **state)
{
	(void)state;
	for (int no_proc = 0; no_proc < 2; no_proc++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0) {
			struct jail_config c = { .enabled = true };
			char err[300] = "";
			int ret;

			/* inherited: one low, one past a gap, one far up */
			if (dup2(2, 3) != 3 || dup2(2, 9) != 9 || dup2(2, 700) != 700 ||
			    without_close_range(no_proc))
				_exit(10);
			if (close_range(3, 3, 0) == 0 || errno != ENOSYS)
				_exit(11); /* the filter does not stand in for an old kernel */
			ret = jail_begin(&c, err, sizeof(err));
			if (no_proc)
				_exit(ret && strstr(err, "cannot close the descriptors") ? 0 : 12);
			if (ret)
				_exit(13);
			for (int fd = 0; fd < 3; fd++)
				if (fcntl(fd, F_GETFD) < 0)
					_exit(14); /* stdio is kept */
			if (fcntl(3, F_GETFD) >= 0 || fcntl(9, F_GETFD) >= 0 ||
			    fcntl(700, F_GETFD) >= 0 || errno != EBADF)
				_exit(15);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			print_error("no_proc %d: status 0x%x\n", no_proc, st);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

/* ---- the cgroup ---- */

static char cg_root[4096], cg_parent[4200];

/* A parent group for the test at the cgroup v2 root; NULL: none here. */
static const char *make_parent(void)
{
	if (geteuid() != 0 || jail_cgroup2_mount(cg_root, sizeof(cg_root)))
		return NULL;
	snprintf(cg_parent, sizeof(cg_parent), "%s/hearth-test-%d", cg_root, (int)getpid());
	if (mkdir(cg_parent, 0755) && errno != EEXIST)
		return NULL;
	return cg_parent + strlen(cg_root) + 1;
}

static bool gone(const char *dir)
{
	for (int i = 0; i < 500; i++) {
		if (access(dir, F_OK))
			return true;
		usleep(10000);
	}
	return false;
}

/* The first line of @path starting with @prefix ("" for any). */
static void read_line(const char *path, const char *prefix, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(buf, (int)len, f))
		found = !strncmp(buf, prefix, strlen(prefix));
	fclose(f);
	assert_true(found);
	buf[strcspn(buf, "\n")] = '\0';
}

static void read_file(const char *path, char *buf, size_t len)
{
	read_line(path, "", buf, len);
}

/* A group of its own, no limits (so no controller needed): joined, then
 * removed once the child has gone; and removed too when the jail fails
 * after joining it. */
static void cgroup_joined_and_removed(void **state)
{
	struct jailed j = { .c = base() };
	struct child ch;
	char dir[4400], path[64], line[4500], want[4400];
	const char *parent = make_parent();

	(void)state;
	if (!parent) {
		printf("# SKIP: no writable cgroup v2 hierarchy here\n");
		skip();
	}
	j.c.cgroup = parent;
	start(&ch, &j);
	snprintf(dir, sizeof(dir), "%s/hearth-%d", cg_parent, (int)ch.pid);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)ch.pid);
	read_line(path, "0::", line, sizeof(line)); /* cgroup v2's line */
	snprintf(want, sizeof(want), "0::/%s/hearth-%d", parent, (int)ch.pid);
	assert_string_equal(line, want);
	assert_int_equal(finish(&ch), 0);
	assert_true(gone(dir));

	/* the start fails after the group was joined: nothing is left */
	j.c.nofile = 3;
	j.want_status = -EINVAL;
	start(&ch, &j);
	snprintf(dir, sizeof(dir), "%s/hearth-%d", cg_parent, (int)ch.pid);
	assert_int_equal(finish(&ch), 0);
	assert_non_null(strstr(ch.log, "--jail-nofile 3: hearth holds descriptor"));
	assert_true(gone(dir));
	rmdir(cg_parent);
}

static bool has_controllers(void)
{
	char path[4200], buf[512];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", cg_root);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f) && strstr(buf, "cpu") && strstr(buf, "memory") &&
	     strstr(buf, "pids");
	fclose(f);
	return ok;
}

/* cpu.max, memory.max and pids.max written, and each hit. */
static void cgroup_limits(void **state)
{
	struct jailed j = { .c = base(), .busy = true, .forks = 3, .touch = 64 << 20 };
	struct child ch;
	char dir[4400], path[4500], line[256];
	const char *parent = make_parent();
	unsigned long long throttled = 0;
	FILE *f;

	(void)state;
	if (!parent || !has_controllers()) {
		printf("# SKIP: the cgroup v2 hierarchy here lacks the cpu, memory or pids "
		       "controller (a host with cgroup v1 holding them)\n");
		if (parent)
			rmdir(cg_parent);
		skip();
	}
	/* hearth enables the controllers in PARENT's subtree_control; PARENT
	 * has them only if the hierarchy's root hands them down (systemd's
	 * root does, a cgroup2 freshly mounted in a minimal system may not) */
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cg_root);
	f = fopen(path, "w");
	if (f) {
		fputs("+cpu +memory +pids", f);
		fclose(f);
	}
	j.c.cgroup = parent;
	j.c.cpus_milli = 100;  /* 0.1 CPU */
	j.c.memory = 32 << 20; /* the grandchild's 64 MiB do not fit */
	j.c.pids = 3;	       /* the child and 2 more */
	start(&ch, &j);
	snprintf(dir, sizeof(dir), "%s/hearth-%d", cg_parent, (int)ch.pid);
	snprintf(path, sizeof(path), "%s/cpu.max", dir);
	read_file(path, line, sizeof(line));
	assert_string_equal(line, "10000 100000");
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	read_file(path, line, sizeof(line));
	assert_string_equal(line, "33554432");
	snprintf(path, sizeof(path), "%s/memory.swap.max", dir);
	if (!access(path, F_OK)) { /* only with swap accounting */
		read_file(path, line, sizeof(line));
		assert_string_equal(line, "0");
	}
	snprintf(path, sizeof(path), "%s/pids.max", dir);
	read_file(path, line, sizeof(line));
	assert_string_equal(line, "3");
	snprintf(path, sizeof(path), "%s/cpu.stat", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "nr_throttled %llu", &throttled);
	fclose(f);
	printf("# cpu.stat nr_throttled %llu after 300 ms of spinning at 0.1 CPU\n", throttled);
	assert_true(throttled > 0);
	assert_int_equal(finish(&ch), 0);
	assert_true(gone(dir));
	rmdir(cg_parent);
}

/* ---- parsing, secrets ---- */

static int parse(struct vm_config *c, const char *a0, const char *a1, const char *a2,
		 const char *a3, char *err)
{
	char *argv[8] = { "--kernel", "k" };
	int n = 2;

	for (const char *a[] = { a0, a1, a2, a3 }, **p = a; p < a + 4; p++)
		if (*p)
			argv[n++] = (char *)*p;
	config_defaults(c);
	return config_parse(c, n, argv, err, 300);
}

static const char *const bad_cpus[] = {
	"", "0", "0.0001", "1025", "1.", ".5", "-1", "1e3", "1.2.3", "99999999999999999999",
};

static void options(void **state)
{
	static struct vm_config c;
	char err[300], want[300], pids[48];
	unsigned workers;
	uint64_t min;
	uint32_t m;

	(void)state;
	assert_int_equal(parse(&c, "--jail", "--jail-cgroup=hearth", "--jail-cpus=1.5",
			       "--jail-memory=512M", err),
			 0);
	assert_true(c.jail.enabled);
	assert_string_equal(c.jail.cgroup, "hearth");
	assert_int_equal(c.jail.cpus_milli, 1500);
	assert_int_equal(c.jail.memory, 512 << 20);
	assert_int_equal(
		parse(&c, "--jail", "--jail-uid=1000", "--jail-gid=100", "--jail-nofile=256", err),
		0);
	assert_true(c.jail.has_uid && c.jail.uid == 1000 && c.jail.gid == 100);
	assert_int_equal(c.jail.nofile, 256);

	assert_int_equal(parse(&c, "--jail-uid=1000", NULL, NULL, NULL, err), -EINVAL);
	assert_string_equal(err, "--jail-uid needs --jail");
	assert_int_equal(parse(&c, "--jail", "--jail-pids=8", NULL, NULL, err), -EINVAL);
	assert_string_equal(err, "--jail-pids needs --jail-cgroup PARENT (the group's parent)");
	assert_int_equal(parse(&c, "--jail", "--jail-uid=0", NULL, NULL, err), -EINVAL);
	assert_non_null(strstr(err, "--jail-uid: expected a number from 1"));
	assert_int_equal(parse(&c, "--jail", "--jail-cgroup=../x", NULL, NULL, err), -EINVAL);
	assert_non_null(strstr(err, "--jail-cgroup: expected"));
	assert_int_equal(parse(&c, "--jail", "--jail-cgroup=a", "--jail-cpus=0", NULL, err),
			 -EINVAL);
	assert_non_null(strstr(err, "--jail-cpus: expected"));
	assert_int_equal(parse(&c, "--jail", "--jail-cgroup=a", "--jail-memory=100K", NULL, err),
			 -EINVAL);
	assert_non_null(strstr(err, "--jail-memory: expected a size of at least 1024K"));
	/* the vCPUs, the I/O thread and io_uring's workers as capped (per
	 * NUMA node before Linux 6.4): the least is named */
	min = jail_min_pids(4, &workers);
	assert_true(min >= 4 + 1 + JAIL_IOWQ_BOUNDED + JAIL_IOWQ_UNBOUNDED);
	assert_int_equal(min, 4 + 1 + workers);
	snprintf(pids, sizeof(pids), "--jail-pids=%llu", (unsigned long long)min - 1);
	assert_int_equal(parse(&c, "--jail", "--cpus=4", "--jail-cgroup=a", pids, err), -EINVAL);
	snprintf(want, sizeof(want),
		 "--jail-pids %llu: hearth needs at least %llu (4 vCPUs, the I/O thread and up "
		 "to %u io_uring workers)",
		 (unsigned long long)min - 1, (unsigned long long)min, workers);
	assert_string_equal(err, want);
	/* vCPUs + 1 was the least before: no room for a single worker */
	assert_int_equal(parse(&c, "--jail", "--cpus=4", "--jail-cgroup=a", "--jail-pids=5", err),
			 -EINVAL);
	snprintf(pids, sizeof(pids), "--jail-pids=%llu", (unsigned long long)min);
	assert_int_equal(parse(&c, "--jail", "--cpus=4", "--jail-cgroup=a", pids, err), 0);
	assert_int_equal(c.jail.pids, min);
	assert_int_equal(parse(&c, "--jail", "--jail-nofile=x", NULL, NULL, err), -EINVAL);
	assert_non_null(strstr(err, "--jail-nofile: expected a number"));

	assert_int_equal(jail_parse_cpus("0.01", &m), 0);
	assert_int_equal(m, 10);
	/* under 1 ms of a 100 ms period: cpu.max would refuse it */
	assert_int_equal(jail_parse_cpus("0.009", &m), -EINVAL);
	assert_int_equal(jail_parse_cpus("1024", &m), 0);
	assert_int_equal(m, 1024000);
	assert_int_equal(jail_parse_cpus("2.25", &m), 0);
	assert_int_equal(m, 2250);
	for (size_t i = 0; i < sizeof(bad_cpus) / sizeof(bad_cpus[0]); i++)
		assert_int_equal(jail_parse_cpus(bad_cpus[i], &m), -EINVAL);
}

/* The same keys in a --config file, as the command line's. */
static void config_file_keys(void **state)
{
	struct config_args a = { 0 };
	char err[300];

	(void)state;
	assert_int_equal(config_json_args("{\"jail\": true, \"jail_uid\": 1000, \"jail_cgroup\": "
					  "\"hearth\", \"jail_memory\": \"1G\", \"jail_pids\": 8}",
					  &a, true, err, sizeof(err)),
			 0);
	assert_int_equal(a.n, 9);
	assert_string_equal(a.v[0], "--jail");
	assert_string_equal(a.v[1], "--jail-uid");
	assert_string_equal(a.v[2], "1000");
	config_args_free(&a);
	assert_int_equal(config_json_args("{\"jail_uid\": \"x\"}", &a, true, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "'jail_uid' must be a number");
	config_args_free(&a);
}

/* After the start, no CHAP password is left in the configuration nor in
 * the environment. */
static void secrets_wiped(void **state)
{
	static struct vm_config c;
	char err[300], *pw;
	char *argv[] = { "--kernel", "k", "--disk", "url=iscsi://u%sekrit@host/iqn.x:t/0" };

	(void)state;
	setenv("HEARTH_ISCSI_PASSWORD", "envsekrit", 1);
	setenv("HEARTH_ISCSI_TARGET_PASSWORD", "tgtsekrit", 1);
	pw = getenv("HEARTH_ISCSI_PASSWORD");
	config_defaults(&c);
	assert_int_equal(config_parse(&c, 4, argv, err, sizeof(err)), 0);
	assert_int_equal(vm_config_resolve(&c, err, sizeof(err)), 0);
	assert_string_equal(c.disks[0].iscsi.url_password, "sekrit");
	assert_null(strstr(c.disks[0].iscsi.url, "sekrit"));
	vm_config_wipe_secrets(&c);
	for (size_t i = 0; i < sizeof(c.disks[0].iscsi.url_password); i++)
		assert_int_equal(c.disks[0].iscsi.url_password[i], 0);
	assert_null(getenv("HEARTH_ISCSI_PASSWORD"));
	assert_null(getenv("HEARTH_ISCSI_TARGET_PASSWORD"));
	/* setenv's copy itself, not only the variable */
	assert_int_equal(pw[0], '\0');
}

/* after a failed check too: no test group left in the host's tree */
static int remove_parent(void **state)
{
	char cmd[9000];

	(void)state;
	if (cg_parent[0] && !access(cg_parent, F_OK)) {
		snprintf(cmd, sizeof(cmd), "sleep 1; rmdir '%s'/hearth-* '%s' 2>/dev/null",
			 cg_parent, cg_parent);
		(void)!system(cmd);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(options),
		cmocka_unit_test(config_file_keys),
		cmocka_unit_test(secrets_wiped),
		cmocka_unit_test(root_jail),
		cmocka_unit_test(root_jail_with_io_worker),
		cmocka_unit_test(root_jail_other_ids),
		cmocka_unit_test(rootless_jail),
		cmocka_unit_test(rootless_cannot_choose_uid),
		cmocka_unit_test(inherited_closed_without_close_range),
		cmocka_unit_test(iowq_workers_capped),
		cmocka_unit_test(cgroup_joined_and_removed),
		cmocka_unit_test(cgroup_limits),
	};

	return cmocka_run_group_tests(tests, NULL, remove_parent);
}
