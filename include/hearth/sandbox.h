/* SPDX-License-Identifier: MIT */
/*
 * Per-thread seccomp filters (docs/security.md). Each kind of thread hearth
 * runs loads its own allow list, compiled to BPF at build time, before it handles
 * guest or API input: a vCPU thread at the top of its run loop, the I/O
 * thread (the loop, the control API, the console) just before the loop
 * runs. Everything else, open/openat/socket/execve/io_uring_setup included,
 * is refused: the call traps (SIGSYS), the handler writes one line naming
 * the thread and the system call, and the process exits with
 * SANDBOX_EXIT_STATUS.
 *
 * The I/O thread's list depends on what the VM uses (an epoll loop, a
 * libaio disk, an iSCSI disk, ...): the module that chooses such a
 * fallback declares it with sandbox_need() while the VM is built, before
 * any filter is loaded.
 */
#ifndef HEARTH_SANDBOX_H
#define HEARTH_SANDBOX_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* The exit status of a seccomp violation: 128 + SIGSYS, what a shell shows
 * for a process SIGSYS killed, and none of hearth's other statuses
 * (include/hearth/exit.h, docs/exit-codes.md). */
#define SANDBOX_EXIT_STATUS 159

/* The one signal the I/O thread may send besides SIGABRT (glibc's abort()):
 * the vCPUs' kick, VCPU_KICK_SIGNAL (include/hearth/vcpu.h checks they
 * agree), and only to hearth's own threads. */
#define SANDBOX_KICK_SIGNAL SIGUSR1

enum sandbox_thread {
	SANDBOX_VCPU,	/* KVM_RUN and the device handlers it calls */
	SANDBOX_IO,	/* the event loop, the control API, the console */
	SANDBOX_READER, /* the child process that reads a disk image's kernel
			 * (src/boot/image.c): libext2fs on guest-written data */
};

/* What the I/O thread's filter must allow besides its base list. */
enum {
	SANDBOX_NEED_EPOLL = 1u << 0,	/* the event loop fell back to epoll */
	SANDBOX_NEED_AIO = 1u << 1,	/* a disk on libaio */
	SANDBOX_NEED_SYNC_IO = 1u << 2, /* a disk on synchronous I/O (or libaio's DISCARD) */
	SANDBOX_NEED_NET = 1u << 3,	/* a NIC: readv/writev on its TAP */
	SANDBOX_NEED_ISCSI = 1u << 4,	/* an iSCSI disk: libiscsi reconnects (TCP sockets) */
	SANDBOX_NEED_API = 1u << 5,	/* a control API: its socket path unlinked at exit,
					  * snapshots written (docs/snapshot.md) */
	SANDBOX_NEED_ALL = (1u << 6) - 1,
};

/* Declares that the I/O thread will need @what (SANDBOX_NEED_*). Called
 * while the VM is built, from the thread that builds it. */
void sandbox_need(unsigned what);
/* The needs declared so far. */
unsigned sandbox_needs(void);

/* Turns the filters on (the default) or off (--seccomp off) for every
 * later sandbox_enter(), and names @log_fd (-1: none) as a second place
 * for the violation line besides stderr. */
void sandbox_configure(bool enabled, int log_fd);
bool sandbox_enabled(void);

/* Loads the filter of @kind on the calling thread if the filters are on
 * (else does nothing and returns 0), with the needs declared so far.
 * Returns 0 or -errno (then nothing was loaded). Irrevocable: the
 * thread and any thread it starts later keep the filter. */
int sandbox_enter(enum sandbox_thread kind);
/* Loads the filter of @kind with @needs on the calling thread,
 * unconditionally (tests). Returns 0 or -errno. */
int sandbox_load(enum sandbox_thread kind, unsigned needs);

/* How many distinct system calls and ioctl commands the filter of @kind
 * with @needs allows (the tables of docs/security.md). */
void sandbox_count(enum sandbox_thread kind, unsigned needs, unsigned *syscalls, unsigned *ioctls);
/* Writes the filter's allow list of @kind with @needs into @buf, one
 * system call name per line, then the ioctl commands ("ioctl NAME").
 * Returns the length it needed (as snprintf). */
size_t sandbox_describe(enum sandbox_thread kind, unsigned needs, char *buf, size_t len);

#endif
