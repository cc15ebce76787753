/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allow lists (docs/security.md): one table per thread kind,
 * with the argument checks of each entry. Read by the runtime's counts
 * (sandbox_count, sandbox_describe) and, at build time, by
 * tools/sandbox_gen.c, which compiles every list into the BPF programs
 * that src/sandbox.c loads. Internal to sandbox.
 */
#ifndef HEARTH_SANDBOX_RULES_H
#define HEARTH_SANDBOX_RULES_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "hearth/sandbox.h"

enum check {
	ANY,
	NO_EXEC,       /* mmap, mprotect: arg 2 (prot) without PROT_EXEC */
	FL_ONLY,       /* fcntl(F_GETFL / F_SETFL / F_OFD_SETLK): the console's O_NONBLOCK
		      * toggle, a disk image's lock dropped at exit */
	THREAD_RUSAGE, /* getrusage(RUSAGE_THREAD) */
	FD_FLAGS,      /* fcntl(F_GETFD / F_SETFD / F_DUPFD_CLOEXEC): libiscsi */
	INET_STREAM,   /* socket(AF_INET / AF_INET6, ...): libiscsi's reconnect; AF_UNIX and
		      * AF_NETLINK fail with EACCES; others trap */
	REFUSE,	       /* fails with EACCES instead of ending the process */
	REFUSE_READ,   /* openat: fails with EACCES when it opens to read (neither
		      * O_WRONLY, O_RDWR, O_CREAT nor O_NOFOLLOW); other flags are
		      * left to the list's other openat entry, or trap */
	OWN_KICK,      /* tgkill(hearth's pid, any thread, SANDBOX_KICK_SIGNAL or SIGABRT) */
	OWN_ABORT,     /* tgkill(hearth's pid, any thread, SIGABRT): glibc's abort() */
	DUMPABLE,      /* prctl(PR_GET_DUMPABLE): libext2fs's safe_getenv() */
	SNAPSHOT_OPEN, /* openat with the flags a snapshot's writer uses: its directory
		      * (O_RDONLY | O_DIRECTORY | O_NOFOLLOW) and its files (O_WRONLY | O_CREAT |
		      * O_TRUNC | O_NOFOLLOW), each O_CLOEXEC */
};

struct rule {
	int nr;
	const char *name;
	enum check check;
	unsigned need; /* 0: always; else only with one of these needs */
};

struct ioctl_rule {
	unsigned long req;
	const char *name;
	unsigned need; /* as struct rule's */
};

/* @kind's tables. */
void sandbox_tables(enum sandbox_thread kind, const struct rule **rules, size_t *nrules,
		    const struct ioctl_rule **ioctls, size_t *nioctls);
/* Calls the sanitizer runtimes make (HEARTH_SANITIZE builds; else none),
 * allowed on every thread. */
const struct rule *sandbox_sanitizer_rules(size_t *n);
/* A REFUSE or REFUSE_READ entry: the call fails rather than runs. */
bool sandbox_refusing(const struct rule *r);
/* An entry with @need belongs to a list with the needs @have. */
bool sandbox_wanted(unsigned need, unsigned have);

/* The compiled lists (tools/sandbox_gen.c writes them at build time).
 * hearth's pid is not known then: the instructions at @pid_at compare
 * tgkill()'s first argument with 0 as compiled, and sandbox_load() puts
 * the pid there in a copy of the program before loading it. */
struct sandbox_prog {
	const struct sock_filter *ins;
	unsigned short len;
	unsigned short npid;
	const unsigned short *pid_at;
};

/* The longest program the generator may write (it fails the build past
 * it): sandbox_load() copies the program onto the thread's stack. */
#define SANDBOX_PROG_MAX 256

#define SANDBOX_SYSCALL_NAMES 512
extern const struct sandbox_prog sandbox_prog_vcpu;
extern const struct sandbox_prog sandbox_prog_io[SANDBOX_NEED_ALL + 1];
extern const struct sandbox_prog sandbox_prog_reader;
/* the reader of a disk that is an iSCSI LUN (SANDBOX_NEED_ISCSI) */
extern const struct sandbox_prog sandbox_prog_reader_lun;
/* Every system call's name by its number (NULL: none), for the violation
 * line: a signal handler may not ask libseccomp, nor allocate. */
extern const char *const sandbox_syscall_names[SANDBOX_SYSCALL_NAMES];

#endif
