// SPDX-License-Identifier: MIT
/*
 * Per-thread seccomp filters (include/hearth/sandbox.h, docs/security.md):
 * loading them and reporting a violation. The allow lists are the tables
 * of src/sandbox_rules.c, compiled to BPF at build time by
 * tools/sandbox_gen.c (with libseccomp, which hearth itself does not link:
 * no filter is compiled at run time, no thread allocates for one);
 * docs/security.md publishes them with their counts, and
 * tests/unit/test_sandbox.c checks both the counts and that a call off a
 * list ends the process.
 *
 * A refused call traps (SECCOMP_RET_TRAP) rather than killing the process
 * at once (SECCOMP_RET_KILL_PROCESS): the SIGSYS handler can then say which
 * thread made which call, in one line written with write(2), before it
 * _exit()s with SANDBOX_EXIT_STATUS. rt_sigaction is on no list, so code
 * running in a filtered thread cannot replace that handler; blocking
 * SIGSYS does not help either: the kernel then kills the process with it.
 */
#include "hearth/sandbox.h"
#include "sandbox_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <linux/seccomp.h>
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
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static atomic_uint needs;
static atomic_bool enabled = true;
static int report_fd = -1;
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
	report_fd = fd;
}

bool sandbox_enabled(void)
{
	return atomic_load(&enabled);
}

/* ---- the violation report (async-signal-safe) ---- */

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
	if (si->si_syscall >= 0 && si->si_syscall < SANDBOX_SYSCALL_NAMES)
		name = sandbox_syscall_names[si->si_syscall];
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
	if (write(STDERR_FILENO, line, len) < 0 && report_fd < 0)
		_exit(SANDBOX_EXIT_STATUS);
	if (report_fd >= 0 && report_fd != STDERR_FILENO && write(report_fd, line, len) < 0)
		_exit(SANDBOX_EXIT_STATUS);
	_exit(SANDBOX_EXIT_STATUS);
}

static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_err;

static void install_handler(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	/* glibc reads /etc/localtime on the first gmtime_r()/localtime_r()
	 * of the process, wherever it happens: the RTC's first read on a
	 * vCPU thread, a --log-file line. Read now, before any filter. */
	tzset();
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		handler_err = -errno;
}

int sandbox_load(enum sandbox_thread kind, unsigned have)
{
	const struct sandbox_prog *prog;
	struct sock_filter ins[SANDBOX_PROG_MAX];
	struct sock_fprog fprog;
	uint32_t pid = (uint32_t)getpid();

	if (have & ~SANDBOX_NEED_ALL)
		return -EINVAL;
	pthread_once(&handler_once, install_handler);
	if (handler_err)
		return handler_err;
	/* the name for the violation line, read now: after the filter, a
	 * thread could not ask (and a signal handler must not) */
	if (prctl(PR_GET_NAME, thread_name, 0, 0, 0))
		thread_name[0] = '\0';
	thread_name[sizeof(thread_name) - 1] = '\0';
	prog = kind == SANDBOX_VCPU	? &sandbox_prog_vcpu
	       : kind == SANDBOX_READER ? (have & SANDBOX_NEED_ISCSI ? &sandbox_prog_reader_lun
								     : &sandbox_prog_reader)
					: &sandbox_prog_io[have & SANDBOX_NEED_ALL];
	/* tgkill()'s target: this process, known only now (the generator
	 * listed where it goes; tools/sandbox_gen.c) */
	if (prog->len > SANDBOX_PROG_MAX)
		return -E2BIG;
	memcpy(ins, prog->ins, prog->len * sizeof(ins[0]));
	for (unsigned i = 0; i < prog->npid; i++)
		ins[prog->pid_at[i]].k = pid;
	fprog = (struct sock_fprog){ .len = prog->len, .filter = ins };
	/* no_new_privs first: what lets an unprivileged hearth load a filter */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog))
		return -errno;
	return 0;
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

	if (!ret && t &&
	    !strcmp(t, kind == SANDBOX_VCPU ? "vcpu"
		       : kind == SANDBOX_IO ? "io"
					    : "reader"))
		syscall(SYS_io_uring_setup, 1, NULL);
#endif
	return ret;
}
