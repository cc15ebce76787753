// SPDX-License-Identifier: MIT
/*
 * Threads on stacks of hearth's own, kept off transparent huge pages.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hearth/thread.h"

int thread_start(struct thread *t, void *(*fn)(void *), void *arg)
{
	size_t guard = (size_t)sysconf(_SC_PAGESIZE);
	pthread_attr_t attr;
	int ret;

	memset(t, 0, sizeof(*t));
	t->map_len = THREAD_STACK_SIZE + guard;
	/* MAP_NORESERVE: only the pages the thread touches cost anything */
	t->map = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		return -errno;
	}
	/* the guard page below (stacks grow down), and no huge pages whatever
	 * the host's THP mode: this must precede the first touch */
	if (mprotect(t->map, guard, PROT_NONE)) {
		ret = -errno;
		goto unmap;
	}
	/* EINVAL: a kernel without transparent huge pages, nothing to avoid */
	if (madvise((char *)t->map + guard, THREAD_STACK_SIZE, MADV_NOHUGEPAGE) &&
	    errno != EINVAL) {
		ret = -errno;
		goto unmap;
	}
	ret = pthread_attr_init(&attr);
	if (ret) {
		ret = -ret;
		goto unmap;
	}
	ret = pthread_attr_setstack(&attr, (char *)t->map + guard, THREAD_STACK_SIZE);
	if (!ret)
		ret = pthread_create(&t->id, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (!ret)
		return 0;
	ret = -ret;
unmap:
	munmap(t->map, t->map_len);
	t->map = NULL;
	return ret;
}

void thread_join(struct thread *t)
{
	pthread_join(t->id, NULL);
	if (t->map)
		munmap(t->map, t->map_len);
	t->map = NULL;
}
