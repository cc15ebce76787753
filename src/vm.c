// SPDX-License-Identifier: MIT
#include "hearth/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hearth/boot.h"
#include "hearth/boot_files.h"
#include "hearth/bus.h"
#include "hearth/cpus.h"
#include "hearth/devices.h"
#include "hearth/exit.h"
#include "hearth/failure.h"
#include "hearth/irq.h"
#include "hearth/jail.h"
#include "hearth/iscsi.h"
#include "hearth/log.h"
#include "hearth/loop.h"
#include "hearth/mem.h"
#include "hearth/notify.h"
#include "hearth/runstate.h"
#include "hearth/sandbox.h"
#include "hearth/uring.h"
#include "hearth/vcpu.h"
#include "hearth/vm_control.h"
#include "hearth/vm_events.h"
#include "hearth/vm_snapshot.h"

#define KVM_TSS_ADDR	      0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define MIN_MEMORY	      (4ULL << 20)

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	bool pvm;
	struct guest_mem gm;
	struct bus pio, mmio;
	struct vm_ctl ctl;
	struct boot_files boot;
	struct devices devs;
	struct loop *loop;
	struct irq_routes *routes; /* GSI routing: legacy, then one MSI route per vector */
	struct vcpu_env env;
	struct cpus cpus;
	struct runstate rs;
	atomic_bool ready_sent; /* --ready-on marker */
	struct vm_events ev;
	/* the control API (I/O thread only) */
	struct vm_control ctrl;
	struct vm_restore snap; /* --restore: the snapshot's payload and memory file */
	char *err;
	size_t errlen;
	struct failure f; /* the failed step's reason, in err */
};

/* Records the reason and exit code of a failed step of vm_create(); returns
 * @err, a negative errno (failure.h). */
#define fail(vm, err, code, ...) failure_set(&(vm)->f, (err), (code), __VA_ARGS__)

/* ---- stop requests (any thread) ---- */

static void ctl_stop(void *opaque, enum vm_stop_reason why, int status)
{
	struct vm *vm = opaque;

	runstate_stop(&vm->rs, why, status);
}

static void vm_marker(void *opaque, unsigned value)
{
	static struct log_ratelimit marker_rl; /* a guest may write markers in a loop */
	struct vm *vm = opaque;
	char msg[64];

	log_guest_at(&marker_rl, LOG_INFO, "guest boot marker %u at %.3f ms", value,
		     log_elapsed_ns() / 1e6);
	/* --ready-on marker: the first marker (of any vCPU) is READY */
	if (vm->cfg->ready_on_marker && !atomic_exchange(&vm->ready_sent, true)) {
		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=guest running (boot marker %u)", value);
		notify_send(msg);
	}
}

static int check_memory(struct vm *vm)
{
	uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t mem = vm->cfg->memory;

	if (mem < MIN_MEMORY)
		return fail(vm, -EINVAL, HEARTH_EXIT_USAGE,
			    "--memory %llu KiB is too small: at least 4 MiB",
			    (unsigned long long)(mem >> 10));
	if (mem % 4096)
		return fail(vm, -EINVAL, HEARTH_EXIT_USAGE, "--memory must be a multiple of 4 KiB");
	if (mem > host)
		return fail(vm, -EINVAL, HEARTH_EXIT_USAGE,
			    "--memory %llu MiB is more than the host's %llu MiB",
			    (unsigned long long)(mem >> 20), (unsigned long long)(host >> 20));
	return 0;
}

/* ---- KVM ---- */

static int open_kvm(struct vm *vm)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_IRQCHIP, "IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR" },
		{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
		{ KVM_CAP_PIT2, "PIT2" },
		{ KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
	};

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		if (errno == ENOENT)
			return fail(vm, -errno, HEARTH_EXIT_HOST,
				    "no /dev/kvm: KVM is not available "
				    "(load kvm_intel or kvm_amd, or enable nested virtualisation)");
		if (errno == EACCES || errno == EPERM)
			return fail(vm, -errno, HEARTH_EXIT_HOST,
				    "permission denied on /dev/kvm: add "
				    "your user to the 'kvm' group (then log in again)");
		return fail(vm, -errno, HEARTH_EXIT_HOST, "cannot open /dev/kvm: %s",
			    strerror(errno));
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return fail(vm, -EPROTO, HEARTH_EXIT_HOST,
			    "/dev/kvm speaks an unknown KVM API version");
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return fail(vm, -ENOSYS, HEARTH_EXIT_HOST,
				    "KVM lacks capability KVM_CAP_%s", caps[i].name);
	vm->pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	if (vm->pvm)
		log_info("host KVM is PVM: leaving out PV IPI, PV sched yield and PV unhalt");
	return 0;
}

static int create_vm_fd(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = 0 };
	uint64_t ident = KVM_IDENTITY_MAP_ADDR;
	int ret;

	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0)
		return fail(vm, -errno, HEARTH_EXIT_HOST, "KVM_CREATE_VM failed: %s",
			    strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) ||
	    (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	     ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident)) ||
	    ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) || ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit))
		return fail(vm, -errno, HEARTH_EXIT_HOST,
			    "setting up the VM's irqchip and PIT failed: %s", strerror(errno));
	ret = irq_routes_create(&vm->routes, vm->vm_fd);
	if (ret == -ENOSPC)
		return fail(vm, ret, HEARTH_EXIT_HOST, "building the GSI routing table failed");
	if (ret)
		return fail(vm, ret, HEARTH_EXIT_HOST, "KVM_SET_GSI_ROUTING failed: %s",
			    strerror(-ret));
	return 0;
}

static int check_cpus(struct vm *vm)
{
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 4;
	if (max > MPTABLE_MAX_CPUS)
		max = MPTABLE_MAX_CPUS;
	if (vm->cfg->cpus > (unsigned)max)
		return fail(vm, -EINVAL, HEARTH_EXIT_USAGE,
			    "--cpus %u: at most %d vCPUs on this host", vm->cfg->cpus, max);
	return 0;
}

static int setup_memory(struct vm *vm)
{
	int ret = vm->cfg->restore
			  ? gm_create_from_file(&vm->gm, vm->cfg->memory, vm->snap.memory_fd)
			  : gm_create(&vm->gm, vm->cfg->memory, vm->cfg->hugepages);

	if (ret == -EINVAL)
		return fail(vm, ret, HEARTH_EXIT_USAGE, "--memory: size must be a multiple of %s",
			    vm->cfg->hugepages ? "2 MiB with --hugepages" : "4 KiB");
	if (ret)
		return fail(vm, ret, HEARTH_EXIT_HOST,
			    "cannot allocate %llu MiB of guest RAM%s: %s",
			    (unsigned long long)(vm->cfg->memory >> 20),
			    vm->cfg->hugepages ? " in huge pages (reserve 2 MiB pages in "
						 "/proc/sys/vm/nr_hugepages)"
					       : "",
			    strerror(-ret));
	for (unsigned i = 0; i < vm->gm.nr; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = vm->gm.r[i].gpa,
			.memory_size = vm->gm.r[i].size,
			.userspace_addr = (uintptr_t)vm->gm.r[i].hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r))
			return fail(vm, -errno, HEARTH_EXIT_HOST,
				    "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
	}
	return 0;
}

/* ---- the parts (devices.c, cpus.c, vm_events.c, vm_control.c) ---- */

static int setup_devices(struct vm *vm)
{
	struct devices_env env = { vm->cfg,   vm->vm_fd, &vm->gm,   &vm->pio,
				   &vm->mmio, &vm->ctl,	 vm->routes };

	devices_init(&vm->devs, &env);
	return devices_create_platform(&vm->devs, &vm->f);
}

static int setup_virtio(struct vm *vm)
{
	return devices_create_virtio(&vm->devs, vm->loop, &vm->f);
}

static int setup_console(struct vm *vm)
{
	return devices_create_console(&vm->devs, &vm->f);
}

static int setup_vcpus(struct vm *vm, const struct boot_setup *boot)
{
	/* a restored vCPU gets its registers from the snapshot */
	return cpus_create(&vm->cpus, vm->kvm_fd, vm->vm_fd, vm->cfg, vm->pvm, &vm->env,
			   vm->cfg->restore ? NULL : boot, &vm->f);
}

static struct vm_parts parts(struct vm *vm)
{
	return (struct vm_parts){ vm->cfg, vm->vm_fd, &vm->gm, &vm->cpus, &vm->devs };
}

/* --restore: the snapshot's header and memory file, before anything is built */
static int open_snapshot(struct vm *vm)
{
	char why[600];
	int ret = vm_restore_open(&vm->snap, vm->cfg, why, sizeof(why));

	return ret ? fail(vm, ret, HEARTH_EXIT_USAGE, "%s", why) : 0;
}

/* --restore: every part built as for a boot, then the snapshot's state in */
static int apply_snapshot(struct vm *vm)
{
	struct vm_parts p = parts(vm);
	char why[600];
	int ret = vm_restore_apply(&vm->snap, &p, why, sizeof(why));

	if (ret)
		return fail(vm, ret, HEARTH_EXIT_USAGE, "%s", why);
	vm_restore_close(&vm->snap);
	log_info("restored from %s", vm->cfg->restore);
	return 0;
}

static int setup_loop(struct vm *vm)
{
	/* --event-loop epoll: the fallback on purpose (tests) */
	if (loop_create(&vm->loop, vm->cfg->event_loop == EVENT_LOOP_EPOLL))
		return fail(vm, -ENOMEM, HEARTH_EXIT_HOST, "cannot create the event loop");
	return vm_events_start(&vm->ev, vm->loop, &vm->f);
}

/* Signals the vCPU threads inherit blocked: the I/O thread takes SIGINT and
 * SIGTERM through a signalfd; vCPU threads unblock only their kick signal. */
static void block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int vm_config_resolve(struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->restore && !cfg->help && vm_snapshot_shape(cfg, err, errlen))
		return -EINVAL;
	_Static_assert(sizeof(cfg->disks[0].iscsi.url) <= ISCSI_URL_MAX,
		       "a URL fits iscsi_url_split");
	_Static_assert(sizeof(cfg->disks[0].iscsi.url_password) > ISCSI_CRED_MAX,
		       "a password fits");

	for (unsigned i = 0; i < cfg->n_disks; i++) {
		struct disk_iscsi *d = &cfg->disks[i].iscsi;
		char why[300], bare[ISCSI_URL_MAX], pw[ISCSI_URL_MAX];
		struct iscsi_addr u;
		size_t n;
		int ret;

		if (cfg->disks[i].kind != DISK_ISCSI)
			continue;
		ret = iscsi_url_parse(d->url, &u, why, sizeof(why));
		explicit_bzero(&u, sizeof(u));
		if (ret) {
			explicit_bzero(d->url, sizeof(d->url));
			return config_error(err, errlen, "--disk: %s", why);
		}
		iscsi_url_split(d->url, bare, pw);
		n = strlen(pw); /* at most ISCSI_CRED_MAX: the URL parsed */
		if (n >= sizeof(d->url_password)) {
			explicit_bzero(pw, sizeof(pw));
			return config_error(err, errlen, "--disk: the URL's password is too long");
		}
		memcpy(d->url, bare, strlen(bare) + 1); /* not longer than the URL */
		if (n)					/* once: a second call finds none left */
			memcpy(d->url_password, pw, n + 1);
		explicit_bzero(pw, sizeof(pw));
	}
	return 0;
}

void vm_config_wipe_secrets(struct vm_config *cfg)
{
	static const char *const env[] = { "HEARTH_ISCSI_PASSWORD",
					   "HEARTH_ISCSI_TARGET_PASSWORD" };

	for (unsigned i = 0; i < cfg->n_disks; i++)
		if (cfg->disks[i].kind == DISK_ISCSI)
			explicit_bzero(cfg->disks[i].iscsi.url_password,
				       sizeof(cfg->disks[i].iscsi.url_password));
	/* the environment's copy, in place: unsetenv() alone leaves the bytes */
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		char *v = getenv(env[i]);

		if (v)
			explicit_bzero(v, strlen(v));
		unsetenv(env[i]);
	}
}

static int setup_api(struct vm *vm)
{
	struct vm_control_env env = { vm->cfg,	  &vm->rs,    &vm->ev,	&vm->devs,
				      vm->cpus.v, vm->cpus.n, vm->loop, parts(vm) };

	return vm_control_create(&vm->ctrl, &env, &vm->f);
}

static struct vm *vm_alloc(const struct vm_config *cfg, char *err, size_t errlen)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->cfg = cfg;
	vm->err = err;
	vm->errlen = errlen;
	vm->f = (struct failure){ err, errlen, HEARTH_EXIT_HOST };
	vm->kvm_fd = vm->vm_fd = -1;
	vm->gm.fd = -1;
	vm->snap.memory_fd = -1;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	runstate_init(&vm->rs);
	vm_events_init(&vm->ev, cfg, &vm->rs, &vm->devs);
	vm->ctl = (struct vm_ctl){ ctl_stop, vm_marker, vm };
	vm->env = (struct vcpu_env){ &vm->pio,	       &vm->mmio, &vm->gm,	&vm->ctl,
				     &vm->rs.stopping, false,	  &vm->rs.pause };
	return vm;
}

/*
 * The steps in their order: each returns 0 or a negative errno with the
 * reason and the exit code in vm->f. The console comes last: it may create
 * a file, which must not outlive a failed start.
 */
static int build(struct vm *vm)
{
	struct boot_setup boot;
	int ret;

	ret = vm->cfg->restore ? open_snapshot(vm) : boot_files_open(&vm->boot, vm->cfg, &vm->f);
	if (!ret)
		ret = check_memory(vm);
	if (!ret)
		ret = open_kvm(vm);
	vm->env.pvm_host = vm->pvm;
	if (!ret)
		ret = check_cpus(vm);
	if (!ret)
		ret = create_vm_fd(vm);
	if (!ret)
		ret = setup_memory(vm);
	if (!ret && !vm->cfg->restore)
		ret = boot_files_load(&vm->boot, &vm->gm, vm->cfg, &boot, &vm->f);
	boot_files_unmap(&vm->boot); /* copied into guest RAM: no need to keep them resident */
	if (!ret)
		ret = setup_devices(vm);
	if (!ret && vcpu_signals_init())
		ret = fail(vm, -EIO, HEARTH_EXIT_HOST, "cannot install signals");
	if (!ret)
		ret = setup_vcpus(vm, &boot);
	if (!ret)
		ret = setup_loop(vm);
	if (!ret)
		ret = setup_virtio(vm);
	if (!ret)
		ret = setup_api(vm);
	if (!ret)
		ret = setup_console(vm);
	if (!ret && vm->cfg->restore)
		ret = apply_snapshot(vm);
	return ret;
}

/*
 * --jail: last, once every descriptor and mapping exists and before any
 * thread but this one (the vCPUs start in vm_run()), so that the new
 * user and namespaces are the whole process's (docs/security.md).
 */
static int enter_jail(struct vm *vm)
{
	struct jail_config j = vm->cfg->jail;
	char why[400], note[200];
	int ret;

	/* an iSCSI disk reconnects over the host's network: the jail keeps it */
	for (unsigned i = 0; i < vm->cfg->n_disks; i++)
		j.keep_net |= vm->cfg->disks[i].kind == DISK_ISCSI;
	notify_open(); /* connected now: the socket's path is outside the jail */
	ret = jail_enter(&j, why, sizeof(why), note, sizeof(note));
	if (ret)
		return fail(vm, ret, ret == -EINVAL ? HEARTH_EXIT_USAGE : HEARTH_EXIT_HOST, "%s",
			    why);
	if (note[0])
		log_info("%s", note);
	log_info("jailed: uid %u gid %u, %s network namespace%s%s", (unsigned)getuid(),
		 (unsigned)getgid(), j.keep_net ? "the host's" : "a new",
		 j.cgroup ? ", cgroup under " : "", j.cgroup ? j.cgroup : "");
	return 0;
}

int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen)
{
	struct vm *vm = vm_alloc(cfg, err, errlen);
	int code;

	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return HEARTH_EXIT_HOST;
	}
	block_signals();
	/* before build(): the disk image reader's child loads its filter
	 * (or, with --seccomp off, none) */
	sandbox_configure(!cfg->no_seccomp, log_fd());
	/* --jail-pids: io_uring's workers are tasks in the group; capped
	 * before the first ring, so the minimum config.c asks for holds */
	if (cfg->jail.enabled && cfg->jail.pids)
		uring_cap_workers(JAIL_IOWQ_BOUNDED, JAIL_IOWQ_UNBOUNDED);
	if (build(vm) || (cfg->jail.enabled && enter_jail(vm)))
		goto destroy_vm;
	vm->err = NULL;
	*out = vm;
	return 0;
destroy_vm: /* each part's destroy undoes as much of it as was built */
	code = vm->f.exit_code;
	vm_destroy(vm);
	return code;
}

int vm_run(struct vm *vm)
{
	int ret = 0;

	pthread_setname_np(pthread_self(), "io");
	notify_open(); /* no thread may make a socket once filtered */
	log_info("starting %u vCPU(s), %llu MiB, event loop on %s", vm->cpus.n,
		 (unsigned long long)(vm->cfg->memory >> 20), loop_backend(vm->loop));
	ret = cpus_start(&vm->cpus);
	if (ret)
		runstate_stop(&vm->rs, VM_STOP_HOST_ERROR, 0);
	else if (!vm->cfg->ready_on_marker || vm->cfg->restore) /* booted already */
		notify_send("READY=1\nSTATUS=guest running");
	/* the I/O thread's filter before the loop's first event; its name
	 * read before it, for the log lines */
	log_thread_named();
	ret = sandbox_enter(SANDBOX_IO);
	if (ret)
		log_err("cannot load the I/O thread's seccomp filter: %s", strerror(-ret));
	else if ((ret = loop_run(vm->loop)))
		log_err("event loop failed: %s", strerror(-ret));
	if (ret)
		runstate_stop(&vm->rs, VM_STOP_HOST_ERROR, 0);
	runstate_stop_vcpus(&vm->rs, vm->cpus.v, vm->cpus.n);
	devices_flush_console(&vm->devs); /* everything the vCPUs wrote is buffered now */
	notify_send("STOPPING=1\nSTATUS=guest stopped");
	log_info("guest stopped (reason %d, status %d) at %.3f ms", runstate_reason(&vm->rs),
		 runstate_status(&vm->rs), log_elapsed_ns() / 1e6);
	return runstate_exit_code(&vm->rs);
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	runstate_stop_vcpus(&vm->rs, vm->cpus.v, vm->cpus.n);
	cpus_destroy(&vm->cpus);
	devices_destroy(&vm->devs, vm->err == NULL);
	vm_control_destroy(&vm->ctrl);
	loop_destroy(vm->loop);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	gm_destroy(&vm->gm);
	irq_routes_destroy(vm->routes);
	vm_events_close(&vm->ev);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	boot_files_close(&vm->boot);
	vm_restore_close(&vm->snap);
	runstate_fini(&vm->rs);
	free(vm);
}
