/* SPDX-License-Identifier: MIT */
/*
 * Threads hearth creates (the vCPUs), each on a stack of hearth's own:
 * THREAD_STACK_SIZE bytes with a guard page below, marked MADV_NOHUGEPAGE.
 * Left to glibc, a thread's stack is RLIMIT_STACK (8 MiB) of anonymous
 * memory, and on hosts whose transparent huge pages are `always` the first
 * touch of its top faults in a whole 2 MiB huge page: 2 MiB resident per
 * thread for a few KiB of stack (docs/architecture.md, "Memory outside
 * guest RAM").
 */
#ifndef HEARTH_THREAD_H
#define HEARTH_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* The deepest frame on a vCPU thread is a few KiB (gcc -fstack-usage);
 * ASan's redzones make frames several times larger. */
#if defined(__SANITIZE_ADDRESS__)
#define THREAD_STACK_SIZE (1024u * 1024)
#else
#define THREAD_STACK_SIZE (256u * 1024)
#endif

struct thread {
	pthread_t id;
	void *map; /* the stack mapping, guard page included; NULL: none */
	size_t map_len;
};

/* Starts @fn(@arg) on a new thread described by @t. Returns 0 or -errno
 * (then nothing is left to free). */
int thread_start(struct thread *t, void *(*fn)(void *), void *arg);
/* Waits for the thread of a successful thread_start() and frees its stack. */
void thread_join(struct thread *t);

#endif
