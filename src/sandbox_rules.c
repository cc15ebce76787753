// SPDX-License-Identifier: MIT
/*
 * The seccomp allow lists (src/sandbox_rules.h, docs/security.md), and
 * their published counts. tests/unit/test_sandbox.c checks the counts and
 * that a call off a list ends the process.
 */
#include "sandbox_rules.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h> /* SCMP_SYS() only: the numbers, no library call */
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>

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
	R(sched_yield, ANY),	/* glibc (unsure: none expected) */
	R(sched_getaffinity, ANY), /* glibc's allocator sizing its arenas past 8 threads */
	R(restart_syscall, ANY),
	R(exit, ANY),		/* the thread's end */
	R(exit_group, ANY),	/* _exit() from the SIGSYS handler, exit() */
	/* glibc's abort() (a failed assert, malloc's corruption checks):
	 * raise() asks both ids, then signals the thread itself */
	R(getpid, ANY),
	R(gettid, ANY),
	R(tgkill, OWN_ABORT),	/* SIGABRT to hearth's own threads only */
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
	R(timerfd_settime, ANY), /* the --shutdown-timeout deadline, armed on SIGTERM */
	R(clock_gettime, ANY),	     /* vCPU CPU times (metrics); a clock without vDSO */
	R(getrusage, THREAD_RUSAGE), /* the I/O thread's CPU time (metrics) */
	R(tgkill, OWN_KICK),	     /* kicking the vCPUs out of KVM_RUN; glibc's abort() */
	R(getpid, ANY), R(gettid, ANY), /* glibc's abort(): raise() asks both ids */
	R(exit_group, ANY),
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
	RN(newfstatat, ANY, SANDBOX_NEED_ISCSI | SANDBOX_NEED_API), /* fstat, lstat */
	RN(fstat, ANY, SANDBOX_NEED_ISCSI), /* getpid too: in the base list */
	/* libiscsi's new context on a reconnect opens /dev/urandom (and
	 * seeds from the time without it), getaddrinfo may look for its
	 * configuration: refused with EACCES, nothing is opened */
	RN(open, REFUSE, SANDBOX_NEED_ISCSI), RN(openat, REFUSE_READ, SANDBOX_NEED_ISCSI),
	RN(unlink, ANY, SANDBOX_NEED_API), /* the API socket, at exit (if still ours) */
	/* a snapshot (PUT /v1/vm/snapshot, docs/snapshot.md): its directory
	 * made and opened, its files written under a temporary name, synced
	 * and renamed */
	RN(mkdirat, ANY, SANDBOX_NEED_API),
	RN(mremap, ANY, SANDBOX_NEED_API), /* realloc() of the records as they grow */
	RN(openat, SNAPSHOT_OPEN, SANDBOX_NEED_API),
	RN(pwrite64, ANY, SANDBOX_NEED_API),
	RN(ftruncate, ANY, SANDBOX_NEED_API),
	RN(fsync, ANY, SANDBOX_NEED_API),
	RN(renameat, ANY, SANDBOX_NEED_API),
	RN(unlinkat, ANY, SANDBOX_NEED_API),
};

/*
 * The child that reads the kernel out of a disk image (src/boot/image.c):
 * the image is open, its size known, before the filter; after it, only
 * reading the image, writing the two memfds and the result's pipe, and
 * libext2fs's and glibc's allocator's few needs. Nothing that takes a
 * path: newfstatat fails (glibc's fstat() is newfstatat(fd, "", ...);
 * libext2fs does without the answer), and so does ioctl (libext2fs asks
 * a block device whether discards read back zeroes: nothing it needs).
 */
static const struct rule reader_rules[] = {
	R(pread64, ANY),	/* the image: partition tables, file systems */
	R(read, ANY),		/* libext2fs, after a short pread64 */
	R(lseek, ANY),		/* libext2fs; the memfds rewound between partitions */
	R(write, ANY),		/* the memfds, the result's pipe, the SIGSYS line */
	R(ftruncate, ANY),	/* the memfds emptied between partitions */
	R(fcntl, FD_FLAGS),	/* a descriptor for each file system (F_DUPFD_CLOEXEC),
				 * libext2fs reading its flags (F_GETFD) */
	R(close, ANY),		/* libext2fs closes it with the file system */
	R(fstat, ANY),		/* libext2fs's fstat(), where glibc makes this call */
	R(fsync, ANY),		/* libext2fs, on a read-only descriptor */
	R(getuid, ANY),		/* libext2fs's safe_getenv() */
	R(geteuid, ANY),
	R(getgid, ANY),
	R(getegid, ANY),
	R(prctl, DUMPABLE),
	R(mmap, NO_EXEC),	/* glibc's allocator (large blocks) */
	R(munmap, ANY),
	R(mremap, ANY),		/* realloc() of a large block */
	R(brk, ANY),
	R(exit_group, ANY),	/* the child's end; the SIGSYS handler */
	/* libext2fs's time stamps, where the vDSO cannot read the clock
	 * source (found in the box: TCG's clock is not the vDSO's) */
	R(gettimeofday, ANY),
	R(clock_gettime, ANY),
	R(rt_sigprocmask, ANY),	/* glibc's abort() */
	R(getpid, ANY),
	R(gettid, ANY),
	R(tgkill, OWN_ABORT),
	R(newfstatat, REFUSE),
	R(ioctl, REFUSE),
	/* a LUN (src/boot/image.c): its session is logged in before the
	 * filter; after it, libiscsi's synchronous reads on that socket. A
	 * reconnect (the session dropped) fails rather than ends the child:
	 * the read fails, and hearth says the disk could not be read */
	RN(poll, ANY, SANDBOX_NEED_ISCSI),
	RN(readv, ANY, SANDBOX_NEED_ISCSI),
	RN(writev, ANY, SANDBOX_NEED_ISCSI),
	RN(recvfrom, ANY, SANDBOX_NEED_ISCSI),
	RN(sendto, ANY, SANDBOX_NEED_ISCSI),
	RN(getsockopt, ANY, SANDBOX_NEED_ISCSI),
	RN(socket, REFUSE, SANDBOX_NEED_ISCSI),
	RN(connect, REFUSE, SANDBOX_NEED_ISCSI),
	RN(open, REFUSE, SANDBOX_NEED_ISCSI),
	RN(openat, REFUSE, SANDBOX_NEED_ISCSI),
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
	R(stat, ANY),		/* its own internal_stat() is the raw call (seen after an
				 * iSCSI reconnect on the epoll loop) */
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
	/* a snapshot (docs/snapshot.md) reads the VM's state from KVM: the VM
	 * fd's irqchip, PIT and clock, each parked vCPU's registers */
	ION(KVM_GET_IRQCHIP, SANDBOX_NEED_API),
	ION(KVM_GET_PIT2, SANDBOX_NEED_API),
	ION(KVM_GET_CLOCK, SANDBOX_NEED_API),
	ION(KVM_GET_MP_STATE, SANDBOX_NEED_API),
	ION(KVM_GET_CPUID2, SANDBOX_NEED_API),
	ION(KVM_GET_REGS, SANDBOX_NEED_API),
	ION(KVM_GET_SREGS, SANDBOX_NEED_API),
	ION(KVM_GET_XSAVE, SANDBOX_NEED_API),
	ION(KVM_GET_XSAVE2, SANDBOX_NEED_API),
	ION(KVM_GET_XCRS, SANDBOX_NEED_API),
	ION(KVM_GET_DEBUGREGS, SANDBOX_NEED_API),
	ION(KVM_GET_LAPIC, SANDBOX_NEED_API),
	ION(KVM_GET_MSRS, SANDBOX_NEED_API),
	ION(KVM_GET_VCPU_EVENTS, SANDBOX_NEED_API),
};

/* clang-format on */

bool sandbox_refusing(const struct rule *r)
{
	return r->check == REFUSE || r->check == REFUSE_READ;
}

bool sandbox_wanted(unsigned need, unsigned have)
{
	return need == 0 || (need & have);
}

void sandbox_tables(enum sandbox_thread kind, const struct rule **rules, size_t *nrules,
		    const struct ioctl_rule **ioctls, size_t *nioctls)
{
	if (kind == SANDBOX_VCPU) {
		*rules = vcpu_rules;
		*nrules = sizeof(vcpu_rules) / sizeof(vcpu_rules[0]);
		*ioctls = vcpu_ioctls;
		*nioctls = sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]);
	} else if (kind == SANDBOX_READER) {
		*rules = reader_rules;
		*nrules = sizeof(reader_rules) / sizeof(reader_rules[0]);
		*ioctls = NULL;
		*nioctls = 0;
	} else {
		*rules = io_rules;
		*nrules = sizeof(io_rules) / sizeof(io_rules[0]);
		*ioctls = io_ioctls;
		*nioctls = sizeof(io_ioctls) / sizeof(io_ioctls[0]);
	}
}

const struct rule *sandbox_sanitizer_rules(size_t *n)
{
#ifdef HEARTH_SANITIZE
	*n = sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]);
	return sanitizer_rules;
#else
	*n = 0;
	return NULL;
#endif
}

/* ---- the published tables ---- */

/* An earlier entry of the list with the same call that also runs it (or
 * also refuses it): an openat refused to read and allowed to write a
 * snapshot is counted once, as allowed, and listed once each way. */
static bool listed_before(const struct rule *rules, size_t i, unsigned have)
{
	for (size_t j = 0; j < i; j++)
		if (rules[j].nr == rules[i].nr && sandbox_wanted(rules[j].need, have) &&
		    sandbox_refusing(&rules[j]) == sandbox_refusing(&rules[i]))
			return true;
	return false;
}

void sandbox_count(enum sandbox_thread kind, unsigned have, unsigned *syscalls, unsigned *ioctls)
{
	const struct rule *rules;
	const struct ioctl_rule *io;
	size_t nrules, nio;

	sandbox_tables(kind, &rules, &nrules, &io, &nio);
	*syscalls = *ioctls = 0;
	for (size_t i = 0; i < nrules; i++)
		if (sandbox_wanted(rules[i].need, have) && !sandbox_refusing(&rules[i]) &&
		    !listed_before(rules, i, have))
			(*syscalls)++;
	for (size_t i = 0; i < nio; i++)
		if (sandbox_wanted(io[i].need, have))
			(*ioctls)++;
}

size_t sandbox_describe(enum sandbox_thread kind, unsigned have, char *buf, size_t len)
{
	const struct rule *rules;
	const struct ioctl_rule *io;
	size_t nrules, nio, n = 0;
	int r;

	sandbox_tables(kind, &rules, &nrules, &io, &nio);
	for (size_t i = 0; i < nrules; i++) {
		if (!sandbox_wanted(rules[i].need, have) || listed_before(rules, i, have))
			continue;
		r = snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "%s%s\n",
			     rules[i].name,
			     rules[i].check == REFUSE	     ? " (fails: EACCES)"
			     : rules[i].check == REFUSE_READ ? " (to read: fails with EACCES)"
							     : "");
		n += r > 0 ? (size_t)r : 0;
	}
	for (size_t i = 0; i < nio; i++) {
		if (!sandbox_wanted(io[i].need, have))
			continue;
		r = snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "ioctl %s\n",
			     io[i].name);
		n += r > 0 ? (size_t)r : 0;
	}
	return n;
}
