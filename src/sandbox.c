// SPDX-License-Identifier: MIT
/*
 * Per-thread seccomp filters built with libseccomp (include/hearth/sandbox.h,
 * docs/security.md). The allow lists are the tables below; docs/security.md
 * publishes them with their counts, and tests/unit/test_sandbox.c checks
 * both the counts and that a call off the list ends the process.
 *
 * A refused call traps (SECCOMP_RET_TRAP) rather than killing the process
 * at once (SECCOMP_RET_KILL_PROCESS): the SIGSYS handler can then say which
 * thread made which call, in one line written with write(2), before it
 * _exit()s with SANDBOX_EXIT_STATUS. rt_sigaction is on no list, so code
 * running in a filtered thread cannot replace that handler; blocking
 * SIGSYS does not help either: the kernel then kills the process with it.
 */
#include "hearth/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

enum check {
	ANY,
	NO_EXEC,       /* mmap, mprotect: arg 2 (prot) without PROT_EXEC */
	GET_NAME,      /* prctl(PR_GET_NAME): how glibc reads a thread's own name */
	FL_ONLY,       /* fcntl(F_GETFL / F_SETFL / F_OFD_SETLK): the console's O_NONBLOCK
		      * toggle, a disk image's lock dropped at exit */
	THREAD_RUSAGE, /* getrusage(RUSAGE_THREAD) */
	FD_FLAGS,      /* fcntl(F_GETFD / F_SETFD / F_DUPFD_CLOEXEC): libiscsi */
	INET_STREAM,   /* socket(AF_INET / AF_INET6, ...): libiscsi's reconnect; AF_UNIX and
		      * AF_NETLINK fail with EACCES; others trap */
	REFUSE,	       /* fails with EACCES instead of ending the process */
};

struct rule {
	int nr;
	const char *name;
	enum check check;
	unsigned need; /* 0: always; else only with one of these needs */
};

#define R(sys, chk)                         \
	{                                   \
		SCMP_SYS(sys), #sys, chk, 0 \
	}
#define RN(sys, chk, nd)                     \
	{                                    \
		SCMP_SYS(sys), #sys, chk, nd \
	}

/*
 * A vCPU thread: KVM_RUN, and what the device models it runs call on a
 * guest's access (a log line, an eventfd write, a lock, an MSI route, a
 * TAP's offloads), glibc's allocator, and the thread's end.
 */
/* one call a line, as docs/security.md lists them */
/* clang-format off */
static const struct rule vcpu_rules[] = {
	R(ioctl, ANY),		/* narrowed to vcpu_ioctls below */
	R(futex, ANY),		/* locks: pause, MSI routes, the stop request, the console buffer */
	R(write, ANY),		/* log lines, eventfd writes (stop, kicks, irqfds, console) */
	R(sendto, ANY),		/* sd_notify READY at the first boot marker (--ready-on marker) */
	R(rt_sigreturn, ANY),	/* the kick's handler returns */
	R(rt_sigprocmask, ANY),	/* glibc: a thread's end blocks every signal */
	R(mmap, NO_EXEC),	/* glibc's allocator (a thread arena) */
	R(mprotect, NO_EXEC),
	R(munmap, ANY),
	R(madvise, ANY),
	R(brk, ANY),
	R(clock_gettime, ANY),	/* when the vDSO cannot read the clock source */
	R(prctl, GET_NAME),	/* glibc's pthread_getname_np() for log lines */
	R(sched_yield, ANY),	/* glibc (unsure: none expected) */
	R(sched_getaffinity, ANY), /* glibc's allocator sizing its arenas past 8 threads */
	R(restart_syscall, ANY),
	R(exit, ANY),		/* the thread's end */
	R(exit_group, ANY),	/* _exit() from the SIGSYS handler, exit() */
};


/*
 * The I/O thread: the event loop on io_uring, the devices' completions and
 * kicks, the control API's connections, the console, sd_notify, stopping
 * the vCPUs and the teardown after the loop ends. No rt_sigreturn: no
 * handler returns on this thread (SIGINT/SIGTERM come through a signalfd,
 * the vCPUs' kick signal is blocked here, SIGSYS's handler exits).
 */
static const struct rule io_rules[] = {
	R(io_uring_enter, ANY), /* the loop */
	R(read, ANY),		/* eventfds, signalfd, timerfds, stdin, a TAP without its ring */
	R(write, ANY),		/* log lines, eventfds, the console */
	R(close, ANY),		/* API connections; the teardown */
	R(getrandom, ANY),	/* virtio-rng */
	R(accept4, ANY),	/* control API */
	R(recvfrom, ANY),
	R(sendto, ANY), /* control API answers, the console to a socket, sd_notify */
	R(poll, ANY),	/* a slow API client, a TAP's readiness, the console */
	R(ioctl, ANY),	/* narrowed to io_ioctls below */
	R(fcntl, FL_ONLY), R(futex, ANY),
	R(mmap, NO_EXEC), /* glibc's allocator; io_uring rings unmapped at the end */
	R(mprotect, NO_EXEC), R(munmap, ANY), R(madvise, ANY), R(brk, ANY),
	R(rt_sigprocmask, ANY), /* glibc (unsure: none expected) */
	R(timerfd_create, ANY), /* the --shutdown-timeout deadline, armed on SIGTERM */
	R(timerfd_settime, ANY),
	R(clock_gettime, ANY),	     /* vCPU CPU times (metrics); a clock without vDSO */
	R(getrusage, THREAD_RUSAGE), /* the I/O thread's CPU time (metrics) */
	R(tgkill, ANY),		     /* kicking the vCPUs out of KVM_RUN */
	R(prctl, GET_NAME), R(exit_group, ANY),
	/* what the fallbacks and the VM's options add */
	RN(epoll_wait, ANY, SANDBOX_NEED_EPOLL), RN(epoll_ctl, ANY, SANDBOX_NEED_EPOLL),
	RN(io_submit, ANY, SANDBOX_NEED_AIO), RN(io_getevents, ANY, SANDBOX_NEED_AIO),
	RN(io_destroy, ANY, SANDBOX_NEED_AIO), RN(preadv, ANY, SANDBOX_NEED_SYNC_IO),
	RN(pwritev, ANY, SANDBOX_NEED_SYNC_IO), RN(fdatasync, ANY, SANDBOX_NEED_SYNC_IO),
	RN(fallocate, ANY, SANDBOX_NEED_SYNC_IO | SANDBOX_NEED_AIO),
	RN(readv, ANY, SANDBOX_NEED_NET | SANDBOX_NEED_ISCSI),
	RN(writev, ANY, SANDBOX_NEED_NET | SANDBOX_NEED_ISCSI),
	RN(socket, INET_STREAM, SANDBOX_NEED_ISCSI), RN(connect, ANY, SANDBOX_NEED_ISCSI),
	RN(getsockopt, ANY, SANDBOX_NEED_ISCSI), RN(setsockopt, ANY, SANDBOX_NEED_ISCSI),
	RN(getsockname, ANY, SANDBOX_NEED_ISCSI), RN(dup, ANY, SANDBOX_NEED_ISCSI),
	RN(dup2, ANY, SANDBOX_NEED_ISCSI), RN(fcntl, FD_FLAGS, SANDBOX_NEED_ISCSI),
	RN(newfstatat, ANY, SANDBOX_NEED_ISCSI | SANDBOX_NEED_API_PATH), /* fstat, lstat */
	RN(fstat, ANY, SANDBOX_NEED_ISCSI), RN(getpid, ANY, SANDBOX_NEED_ISCSI),
	/* libiscsi's new context on a reconnect opens /dev/urandom (and
	 * seeds from the time without it), getaddrinfo may look for its
	 * configuration: refused with EACCES, nothing is opened */
	RN(open, REFUSE, SANDBOX_NEED_ISCSI), RN(openat, REFUSE, SANDBOX_NEED_ISCSI),
	RN(unlink, ANY, SANDBOX_NEED_API_PATH), /* the API socket, at exit (if still ours) */
};

#ifdef HEARTH_SANITIZE
/*
 * ASan/UBSan/LSan builds only (meson's b_sanitize): the sanitizer runtime
 * reads /proc for its reports and the leak check at exit, which stops the
 * world with a ptrace()ing clone, and may run a symbolizer. The same list
 * for every thread; docs/security.md. mmap and mprotect keep their check:
 * the runtimes map nothing executable.
 */
static const struct rule sanitizer_rules[] = {
	R(open, ANY),
	R(openat, ANY),
	R(readlink, ANY),
	R(readlinkat, ANY),
	R(fcntl, ANY),
	R(getdents, ANY),
	R(getdents64, ANY),
	R(newfstatat, ANY),
	R(fstat, ANY),
	R(lseek, ANY),
	R(pread64, ANY),
	R(read, ANY),
	R(close, ANY),
	R(clone, ANY),
	R(clone3, ANY),
	R(wait4, ANY),
	R(ptrace, ANY),
	R(prctl, ANY),
	R(sigaltstack, ANY),
	R(rt_sigaction, ANY),
	R(tgkill, ANY),
	R(kill, ANY),
	R(getpid, ANY),
	R(getppid, ANY),
	R(gettid, ANY),
	R(sched_getaffinity, ANY),
	R(sched_yield, ANY),
	R(munmap, ANY),
	R(madvise, ANY),
	R(mincore, ANY),
	R(pipe2, ANY),
	R(dup2, ANY),
	R(execve, ANY),
	R(prlimit64, ANY),
	R(getrlimit, ANY),
	R(uname, ANY),
	R(nanosleep, ANY),
	R(clock_nanosleep, ANY),
	R(exit, ANY),
	R(exit_group, ANY),
	R(write, ANY),
	R(futex, ANY),
	R(rt_sigprocmask, ANY),
	R(set_robust_list, ANY),
	R(rseq, ANY),
};
#endif

struct ioctl_rule {
	unsigned long req;
	const char *name;
	unsigned need; /* as struct rule's */
};

#define IO(req)              \
	{                    \
		req, #req, 0 \
	}
#define ION(req, nd)          \
	{                     \
		req, #req, nd \
	}

static const struct ioctl_rule vcpu_ioctls[] = {
	IO(KVM_RUN),
	IO(KVM_KVMCLOCK_CTRL), /* a pause: the guest's watchdog is told */
	IO(KVM_GET_REGS),      /* a crash report: registers and the */
	IO(KVM_GET_SREGS),     /* instruction bytes at RIP */
	IO(KVM_TRANSLATE),
	IO(KVM_IRQ_LINE),	 /* the VM fd: legacy devices' and PCI INTx lines */
	IO(KVM_SET_GSI_ROUTING), /* the VM fd: an MSI-X vector programmed */
	IO(KVM_IRQFD),		 /* the VM fd: an MSI-X vector first used */
	IO(TUNSETOFFLOAD),	 /* a NIC's driver accepted its features */
};

static const struct ioctl_rule io_ioctls[] = {
	IO(KVM_IRQ_LINE),	 /* interrupts of devices completing on the loop */
	IO(KVM_SET_GSI_ROUTING), /* an MSI-X vector's route, committed when a */
	IO(KVM_IRQFD),		 /* completion first uses it (virtio/pci.c) */
	IO(TCGETS),		 /* the console's terminal, restored at exit */
	IO(TCSETS),
};

/* clang-format on */

static atomic_uint needs;
static atomic_bool enabled = true;
static int log_fd = -1;
static _Thread_local char thread_name[16];

void sandbox_need(unsigned what)
{
	atomic_fetch_or(&needs, what);
}

unsigned sandbox_needs(void)
{
	return atomic_load(&needs);
}

void sandbox_configure(bool on, int fd)
{
	atomic_store(&enabled, on);
	log_fd = fd;
}

bool sandbox_enabled(void)
{
	return atomic_load(&enabled);
}

/* ---- the violation report (async-signal-safe) ---- */

/* Every call's name, from libseccomp's tables when the handler is
 * installed (a handler may not allocate, and may meet any call); the
 * short list below names the usual ones should that fail. */
#define SYSCALL_NAMES 512
static const char *syscall_names[SYSCALL_NAMES];

static const struct {
	int nr;
	const char *name;
} known_calls[] = {
	{ SYS_open, "open" },
	{ SYS_openat, "openat" },
	{ SYS_socket, "socket" },
	{ SYS_connect, "connect" },
	{ SYS_execve, "execve" },
	{ SYS_execveat, "execveat" },
	{ SYS_clone, "clone" },
	{ SYS_clone3, "clone3" },
	{ SYS_fork, "fork" },
	{ SYS_vfork, "vfork" },
	{ SYS_io_uring_setup, "io_uring_setup" },
	{ SYS_io_uring_register, "io_uring_register" },
	{ SYS_ioctl, "ioctl" },
	{ SYS_mmap, "mmap" },
	{ SYS_mprotect, "mprotect" },
	{ SYS_prctl, "prctl" },
	{ SYS_rt_sigaction, "rt_sigaction" },
	{ SYS_ptrace, "ptrace" },
	{ SYS_kill, "kill" },
	{ SYS_getpid, "getpid" },
	{ SYS_fcntl, "fcntl" },
	{ SYS_unlink, "unlink" },
	{ SYS_unlinkat, "unlinkat" },
	{ SYS_newfstatat, "newfstatat" },
	{ SYS_bind, "bind" },
	{ SYS_listen, "listen" },
	{ SYS_sendmsg, "sendmsg" },
	{ SYS_recvmsg, "recvmsg" },
	{ SYS_setuid, "setuid" },
	{ SYS_mount, "mount" },
	{ SYS_nanosleep, "nanosleep" },
	{ SYS_clock_nanosleep, "clock_nanosleep" },
};

static void put(char *buf, size_t *len, size_t cap, const char *s)
{
	while (*s && *len + 1 < cap)
		buf[(*len)++] = *s++;
}

static void put_num(char *buf, size_t *len, size_t cap, unsigned long long v, unsigned base)
{
	char tmp[24];
	int n = 0;

	if (base == 16)
		put(buf, len, cap, "0x");
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(tmp));
	while (n && *len + 1 < cap)
		buf[(*len)++] = tmp[--n];
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	const ucontext_t *uc = ctx;
	const char *name = NULL;
	char line[256];
	size_t len = 0;

	(void)sig;
	for (size_t i = 0; i < sizeof(known_calls) / sizeof(known_calls[0]); i++)
		if (known_calls[i].nr == si->si_syscall)
			name = known_calls[i].name;
	if (!name && si->si_syscall >= 0 && si->si_syscall < SYSCALL_NAMES)
		name = syscall_names[si->si_syscall];
	put(line, &len, sizeof(line), "hearth: seccomp: thread ");
	put(line, &len, sizeof(line), thread_name[0] ? thread_name : "?");
	put(line, &len, sizeof(line), " made a forbidden system call: ");
	if (name)
		put(line, &len, sizeof(line), name);
	else
		put(line, &len, sizeof(line), "syscall");
	put(line, &len, sizeof(line), " (");
	put_num(line, &len, sizeof(line), (unsigned)si->si_syscall, 10);
	put(line, &len, sizeof(line), ") args ");
	put_num(line, &len, sizeof(line), (unsigned long long)uc->uc_mcontext.gregs[REG_RDI], 16);
	put(line, &len, sizeof(line), ", ");
	put_num(line, &len, sizeof(line), (unsigned long long)uc->uc_mcontext.gregs[REG_RSI], 16);
	put(line, &len, sizeof(line), ", ");
	put_num(line, &len, sizeof(line), (unsigned long long)uc->uc_mcontext.gregs[REG_RDX], 16);
	put(line, &len, sizeof(line), "; exiting with status ");
	put_num(line, &len, sizeof(line), SANDBOX_EXIT_STATUS, 10);
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0 && log_fd < 0)
		_exit(SANDBOX_EXIT_STATUS);
	if (log_fd >= 0 && log_fd != STDERR_FILENO && write(log_fd, line, len) < 0)
		_exit(SANDBOX_EXIT_STATUS);
	_exit(SANDBOX_EXIT_STATUS);
}

static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_err;

static void install_handler(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	for (int nr = 0; nr < SYSCALL_NAMES; nr++) /* kept for the process's life */
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		handler_err = -errno;
}

/* ---- building the filter ---- */

static bool wanted(unsigned need, unsigned have)
{
	return need == 0 || (need & have);
}

/* Allows @nr when argument @arg equals one of @vals. */
static int allow_arg_in(scmp_filter_ctx f, int nr, unsigned arg, const unsigned long *vals,
			size_t n)
{
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 1,
				       SCMP_CMP(arg, SCMP_CMP_EQ, (scmp_datum_t)vals[i], 0));
	return ret;
}

static int add_rule(scmp_filter_ctx f, const struct rule *r)
{
	static const unsigned long fl[] = { F_GETFL, F_SETFL, F_OFD_SETLK },
				   fd[] = { F_GETFD, F_SETFD, F_DUPFD_CLOEXEC },
				   inet[] = { AF_INET, AF_INET6 }, name[] = { PR_GET_NAME },
				   rusage[] = { RUSAGE_THREAD };

	switch (r->check) {
	case NO_EXEC:
		return seccomp_rule_add(f, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	case GET_NAME: return allow_arg_in(f, r->nr, 0, name, 1);
	case FL_ONLY: return allow_arg_in(f, r->nr, 1, fl, 3);
	case THREAD_RUSAGE: return allow_arg_in(f, r->nr, 0, rusage, 1);
	case FD_FLAGS: return allow_arg_in(f, r->nr, 1, fd, 3);
	case INET_STREAM: {
		/* glibc's getaddrinfo() asks nscd (AF_UNIX) and the routing
		 * tables (AF_NETLINK) first, and does without either */
		int ret = allow_arg_in(f, r->nr, 0, inet, 2);

		for (size_t i = 0; i < 2 && !ret; i++)
			ret = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), r->nr, 1,
					       SCMP_A0(SCMP_CMP_EQ, i ? AF_NETLINK : AF_UNIX, 0));
		return ret;
	}
	case REFUSE: return seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), r->nr, 0);
	case ANY: break;
	}
	return seccomp_rule_add(f, SCMP_ACT_ALLOW, r->nr, 0);
}

static void tables(enum sandbox_thread kind, const struct rule **rules, size_t *nrules,
		   const struct ioctl_rule **ioctls, size_t *nioctls)
{
	if (kind == SANDBOX_VCPU) {
		*rules = vcpu_rules;
		*nrules = sizeof(vcpu_rules) / sizeof(vcpu_rules[0]);
		*ioctls = vcpu_ioctls;
		*nioctls = sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]);
	} else {
		*rules = io_rules;
		*nrules = sizeof(io_rules) / sizeof(io_rules[0]);
		*ioctls = io_ioctls;
		*nioctls = sizeof(io_ioctls) / sizeof(io_ioctls[0]);
	}
}

static int add_rules(scmp_filter_ctx f, enum sandbox_thread kind, unsigned have)
{
	const struct rule *rules;
	const struct ioctl_rule *ioctls;
	size_t nrules, nioctls;
	int ret = 0;

	tables(kind, &rules, &nrules, &ioctls, &nioctls);
	for (size_t i = 0; i < nrules && !ret; i++)
		if (wanted(rules[i].need, have) && rules[i].nr != SCMP_SYS(ioctl))
			ret = add_rule(f, &rules[i]);
	/* the ioctl request is an unsigned int in the kernel: compare the
	 * low 32 bits, whatever the caller left in the upper ones */
	for (size_t i = 0; i < nioctls && !ret; i++)
		if (wanted(ioctls[i].need, have))
			ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
						       ioctls[i].req & 0xffffffffu));
#ifdef HEARTH_SANITIZE
	/* errors ignored: a call some need refuses (EACCES) keeps that rule */
	for (size_t i = 0; i < sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]) && !ret; i++)
		(void)seccomp_rule_add(f, SCMP_ACT_ALLOW, sanitizer_rules[i].nr, 0);
#endif
	return ret;
}

int sandbox_load(enum sandbox_thread kind, unsigned have)
{
	scmp_filter_ctx f;
	int ret;

	pthread_once(&handler_once, install_handler);
	if (handler_err)
		return handler_err;
	/* the name for the violation line, read now: after the filter, a
	 * thread could not ask (and a signal handler must not) */
	if (prctl(PR_GET_NAME, thread_name, 0, 0, 0))
		thread_name[0] = '\0';
	thread_name[sizeof(thread_name) - 1] = '\0';
	f = seccomp_init(SCMP_ACT_TRAP);
	if (!f)
		return -ENOMEM;
	/* libseccomp sets no_new_privs itself (SCMP_FLTATR_CTL_NNP), so an
	 * unprivileged hearth may load it too */
	ret = add_rules(f, kind, have);
	if (!ret)
		ret = seccomp_load(f);
	seccomp_release(f);
	return ret < 0 ? ret : ret ? -EINVAL : 0;
}

int sandbox_enter(enum sandbox_thread kind)
{
	int ret;

	if (!sandbox_enabled())
		return 0;
	ret = sandbox_load(kind, sandbox_needs());
#ifdef HEARTH_TEST_HOOKS
	/* test builds only (meson -Dtest_hooks=true): the thread kind named
	 * by $HEARTH_TEST_SECCOMP makes a call no filter allows, as a guest
	 * that took the thread over might (tests/integration/seccomp.sh) */
	const char *t = getenv("HEARTH_TEST_SECCOMP");

	if (!ret && t && !strcmp(t, kind == SANDBOX_VCPU ? "vcpu" : "io"))
		syscall(SYS_io_uring_setup, 1, NULL);
#endif
	return ret;
}

/* ---- the published tables ---- */

static bool listed_before(const struct rule *rules, size_t i, unsigned have)
{
	for (size_t j = 0; j < i; j++)
		if (rules[j].nr == rules[i].nr && wanted(rules[j].need, have))
			return true;
	return false;
}

void sandbox_count(enum sandbox_thread kind, unsigned have, unsigned *syscalls, unsigned *ioctls)
{
	const struct rule *rules;
	const struct ioctl_rule *io;
	size_t nrules, nio;

	tables(kind, &rules, &nrules, &io, &nio);
	*syscalls = *ioctls = 0;
	for (size_t i = 0; i < nrules; i++)
		if (wanted(rules[i].need, have) && rules[i].check != REFUSE &&
		    !listed_before(rules, i, have))
			(*syscalls)++;
	for (size_t i = 0; i < nio; i++)
		if (wanted(io[i].need, have))
			(*ioctls)++;
}

size_t sandbox_describe(enum sandbox_thread kind, unsigned have, char *buf, size_t len)
{
	const struct rule *rules;
	const struct ioctl_rule *io;
	size_t nrules, nio, n = 0;
	int r;

	tables(kind, &rules, &nrules, &io, &nio);
	for (size_t i = 0; i < nrules; i++) {
		if (!wanted(rules[i].need, have) || listed_before(rules, i, have))
			continue;
		r = snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "%s%s\n",
			     rules[i].name, rules[i].check == REFUSE ? " (fails: EACCES)" : "");
		n += r > 0 ? (size_t)r : 0;
	}
	for (size_t i = 0; i < nio; i++) {
		if (!wanted(io[i].need, have))
			continue;
		r = snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "ioctl %s\n",
			     io[i].name);
		n += r > 0 ? (size_t)r : 0;
	}
	return n;
}
