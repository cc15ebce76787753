// SPDX-License-Identifier: MIT
/* Snapshots of a whole VM: include/hearth/vm_snapshot.h, docs/snapshot.md. */
#include "hearth/vm_snapshot.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hearth/log.h"
#include "hearth/state.h"
#include "hearth/vcpu_state.h"

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void shape_of(const struct vm_config *cfg, struct snapshot_shape *s)
{
	*s = (struct snapshot_shape){
		.memory = cfg->memory, .cpus = cfg->cpus, .disks = cfg->n_disks, .nics = cfg->n_nets
	};
}

/* The directory, made if missing (its parent must exist), opened: the
 * descriptor, or -errno with the reason in @why. */
static int open_dir(const char *dir, char *why, size_t len)
{
	int fd, err;

	if (mkdirat(AT_FDCWD, dir, 0700) && errno != EEXIST) {
		err = errno;
		snprintf(why, len, "cannot make the snapshot directory %s: %s", dir, strerror(err));
		return -err;
	}
	fd = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		err = errno;
		snprintf(why, len, "cannot open the snapshot directory %s%s: %s", dir,
			 err == ELOOP ? " (a symbolic link: name its target)" : "", strerror(err));
		return -err;
	}
	return fd;
}

/* Whether every vCPU's last exit was completed before it parked. */
static bool settled(const struct cpus *c, char *why, size_t len)
{
	for (unsigned i = 0; i < c->n; i++)
		if (atomic_load(&c->v[i].unsettled)) {
			snprintf(why, len,
				 "vCPU %u parked in the middle of an instruction's I/O: resume "
				 "the guest and pause it again",
				 i);
			return false;
		}
	return true;
}

int vm_snapshot_write(const struct vm_parts *p, const char *dir, char *why, size_t len)
{
	struct snapshot_region regions[GM_MAX_REGIONS];
	struct snapshot_shape shape;
	struct state_writer w;
	double t0 = now_ms();
	uint64_t data = 0;
	size_t plen = 0;
	int ret, dfd, status = 500;

	state_writer_init_alloc(&w);
	if (dir[0] != '/') {
		snprintf(why, len, "the snapshot path must be absolute, not '%.100s'", dir);
		status = 400;
		goto out;
	}
	if (!settled(p->cpus, why, len)) {
		status = 409;
		goto out;
	}
	ret = vm_kvm_state_save(p->vm_fd, &w);
	if (!ret)
		ret = cpus_save(p->cpus, &w);
	if (ret) {
		snprintf(why, len, "cannot read the vCPUs' or the VM's state from KVM: %s",
			 strerror(-ret));
		goto out;
	}
	ret = devices_save(p->devs, &w);
	if (ret == -EBUSY) {
		snprintf(why, len, "a device still has requests in flight: ask again");
		status = 503;
		goto out;
	}
	if (!ret)
		ret = state_writer_finish(&w, &plen);
	if (ret) {
		snprintf(why, len, "cannot save the devices' state: %s", strerror(-ret));
		goto out;
	}
	dfd = open_dir(dir, why, len);
	if (dfd < 0) {
		status = dfd == -ENOENT || dfd == -ENOTDIR || dfd == -ELOOP ? 400 : 500;
		goto out;
	}
	/* the state file goes first: a snapshot whose new memory file was
	 * written but whose state was not is left without one, and a
	 * restore refuses it, rather than pairing old state with new memory */
	if (unlinkat(dfd, SNAPSHOT_STATE_FILE, 0) && errno != ENOENT) {
		snprintf(why, len, "cannot replace %s/%s: %s", dir, SNAPSHOT_STATE_FILE,
			 strerror(errno));
		close(dfd);
		goto out;
	}
	for (unsigned i = 0; i < p->gm->nr; i++)
		regions[i] = (struct snapshot_region){ p->gm->r[i].hva, p->gm->r[i].size };
	shape_of(p->cfg, &shape);
	ret = snapshot_write_memory(dfd, regions, p->gm->nr, &data);
	if (ret)
		snprintf(why, len, "cannot write %s/%s: %s", dir, SNAPSHOT_MEMORY_FILE,
			 strerror(-ret));
	else if ((ret = snapshot_write_state(dfd, &shape, HEARTH_VERSION, w.buf, plen)))
		snprintf(why, len, "cannot write %s/%s: %s", dir, SNAPSHOT_STATE_FILE,
			 strerror(-ret));
	close(dfd);
	if (!ret) {
		status = 0;
		log_info("snapshot written to %s: %llu MiB of memory data, %zu bytes of state, "
			 "in %.1f ms",
			 dir, (unsigned long long)(data >> 20), plen, now_ms() - t0);
	}
out:
	state_writer_free(&w);
	return status;
}

/* The state file read and checked against what @cfg gives. */
static int read_state(const struct vm_config *cfg, bool set, struct vm_config *out, void **payload,
		      size_t *plen, int *dirfd, char *err, size_t errlen)
{
	struct snapshot_shape s;
	char why[300];
	int fd = openat(AT_FDCWD, cfg->restore, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "--restore %s: %s", cfg->restore, strerror(errno));
		return ret;
	}
	ret = snapshot_read_state(fd, HEARTH_VERSION, &s, payload, plen, why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, "--restore %s: %s", cfg->restore, why);
		close(fd);
		return ret;
	}
	if (s.disks != cfg->n_disks || s.nics != cfg->n_nets) {
		snprintf(err, errlen,
			 "--restore %s: the guest had %u disk(s) and %u NIC(s); give the same "
			 "--disk and --net options (%u and %u given)",
			 cfg->restore, s.disks, s.nics, cfg->n_disks, cfg->n_nets);
		ret = -EINVAL;
	} else if (set) {
		out->cpus = s.cpus;
		out->memory = s.memory;
	} else if (s.cpus != cfg->cpus || s.memory != cfg->memory) {
		snprintf(err, errlen, "--restore %s: the snapshot changed while hearth started",
			 cfg->restore);
		ret = -EINVAL;
	}
	if (ret || !dirfd)
		close(fd);
	else
		*dirfd = fd;
	return ret;
}

int vm_snapshot_shape(struct vm_config *cfg, char *err, size_t errlen)
{
	void *payload = NULL;
	size_t len;
	int ret = read_state(cfg, true, cfg, &payload, &len, NULL, err, errlen);

	free(payload);
	return ret;
}

int vm_restore_open(struct vm_restore *s, const struct vm_config *cfg, char *err, size_t errlen)
{
	char why[300];
	int dfd, ret;

	*s = (struct vm_restore){ .memory_fd = -1 };
	ret = read_state(cfg, false, NULL, &s->payload, &s->len, &dfd, err, errlen);
	if (ret)
		return ret;
	s->memory_fd = snapshot_open_memory(dfd, cfg->memory, why, sizeof(why));
	close(dfd);
	if (s->memory_fd < 0) {
		ret = s->memory_fd;
		snprintf(err, errlen, "--restore %s: %s", cfg->restore, why);
		vm_restore_close(s);
	}
	return ret;
}

int vm_restore_apply(struct vm_restore *s, const struct vm_parts *p, char *err, size_t errlen)
{
	struct state_reader r;
	unsigned failed = 0;
	int ret;

	state_reader_init(&r, s->payload, s->len);
	ret = vm_kvm_state_restore(p->vm_fd, &r);
	if (ret) {
		snprintf(err, errlen, "--restore %s: the VM's KVM state was refused: %s",
			 p->cfg->restore, strerror(-ret));
		return ret;
	}
	ret = cpus_restore(p->cpus, &r);
	if (ret) {
		snprintf(err, errlen, "--restore %s: a vCPU's state was refused: %s",
			 p->cfg->restore, strerror(-ret));
		return ret;
	}
	ret = devices_restore(p->devs, &r, &failed);
	if (ret) {
		snprintf(err, errlen, "--restore %s: the state of %s was refused: %s",
			 p->cfg->restore, devices_name(p->devs, failed), strerror(-ret));
		return ret;
	}
	ret = state_reader_finish(&r);
	if (ret)
		snprintf(err, errlen, "--restore %s: the state holds more than this VM's devices",
			 p->cfg->restore);
	return ret;
}

void vm_restore_close(struct vm_restore *s)
{
	free(s->payload);
	s->payload = NULL;
	if (s->memory_fd >= 0)
		close(s->memory_fd);
	s->memory_fd = -1;
}
