// SPDX-License-Identifier: MIT
#include "hearth/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "hearth/abi.h"
#include "hearth/api.h"
#include "hearth/boot.h"
#include "hearth/cpus.h"
#include "hearth/dev.h"
#include "hearth/devices.h"
#include "hearth/exit.h"
#include "hearth/irq.h"
#include "hearth/image.h"
#include "hearth/iscsi.h"
#include "hearth/log.h"
#include "hearth/notify.h"
#include "hearth/loop.h"
#include "hearth/mem.h"
#include "hearth/runstate.h"
#include "hearth/vcpu.h"
#include "hearth/vm_control.h"
#include "hearth/vm_events.h"

#define KVM_TSS_ADDR	      0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define MIN_MEMORY	      (4ULL << 20)
#define MPTABLE_ROOM	      0x10000
#define ACPI_ROOM	      0x10000

struct mapped_file {
	void *data;
	size_t len;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	bool pvm;
	struct guest_mem gm;
	struct bus pio, mmio;
	struct vm_ctl ctl;
	struct mapped_file kernel, initrd;
	char kernel_name[CONFIG_DISK_PATH_MAX +
			 300]; /* for messages: --kernel, or where in a disk */
	char *cmdline;	       /* NULL: the configuration's */
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
	char *err;
	size_t errlen;
	struct failure f; /* the failed step's reason, in err */
};

/* Records a one-line reason and returns the exit code, for vm_create's steps. */
static int fail(struct vm *vm, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct vm *vm, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vm->err, vm->errlen, fmt, ap);
	va_end(ap);
	return code;
}

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

/* ---- input files ---- */

static void unmap_inputs(struct vm *vm)
{
	if (vm->kernel.data)
		munmap(vm->kernel.data, vm->kernel.len);
	if (vm->initrd.data)
		munmap(vm->initrd.data, vm->initrd.len);
	vm->kernel = (struct mapped_file){ 0 };
	vm->initrd = (struct mapped_file){ 0 };
}

static int map_file(struct vm *vm, const char *what, const char *path, struct mapped_file *f)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail(vm, HEARTH_EXIT_USAGE, "cannot open %s '%s': %s", what, path,
			    strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return fail(vm, HEARTH_EXIT_USAGE, "%s '%s' is not a regular, non-empty file", what,
			    path);
	}
	f->len = (size_t)st.st_size;
	f->data = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		return fail(vm, HEARTH_EXIT_HOST, "cannot map %s '%s': %s", what, path,
			    strerror(errno));
	}
	return 0;
}

/* The most the child reading a disk image's file system may take. */
#define IMAGE_READ_TIMEOUT_MS 60000

static int map_fd(struct vm *vm, const char *what, int fd, uint64_t len, struct mapped_file *f)
{
	if (len == 0)
		return 0;
	f->data = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		return fail(vm, HEARTH_EXIT_HOST, "cannot map the %s: %s", what, strerror(errno));
	}
	f->len = (size_t)len;
	return 0;
}

/* Whether @cmdline has a root= parameter of its own. */
static bool has_root(const char *cmdline)
{
	for (const char *p = strstr(cmdline, "root="); p; p = strstr(p + 1, "root="))
		if (p == cmdline || p[-1] == ' ' || p[-1] == '\t')
			return true;
	return false;
}

/*
 * No --kernel: the kernel and initrd come from inside the first disk's
 * image (src/boot/image.c), and root=UUID= of the file system they were on
 * joins the command line unless it names a root itself (docs/boot.md).
 */
static int kernel_from_disk(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	const struct disk_config *d = &cfg->disks[0];
	struct boot_image img;
	char why[300];
	size_t n;
	int ret;

	if (cfg->n_disks == 0 || !d->path[0])
		return fail(vm, HEARTH_EXIT_USAGE,
			    "no --kernel, and no disk image to take one from: give --kernel FILE "
			    "or a first --disk path=IMAGE that holds a kernel");
	ret = image_find_kernel(d->path, IMAGE_READ_TIMEOUT_MS, &img, why, sizeof(why));
	if (ret)
		return fail(vm,
			    ret == -EINVAL || ret == -ENOENT ? HEARTH_EXIT_USAGE : HEARTH_EXIT_DISK,
			    "no --kernel, and disk '%s': %s", d->path, why);
	snprintf(vm->kernel_name, sizeof(vm->kernel_name), "%s (%s)", d->path, img.found);
	ret = map_fd(vm, "kernel", img.kernel_fd, img.kernel_len, &vm->kernel);
	if (!ret)
		ret = map_fd(vm, "initrd", img.initrd_fd, img.initrd_len, &vm->initrd);
	if (!ret && !has_root(cfg->cmdline)) {
		n = strlen(cfg->cmdline) + sizeof(" root=UUID=") + sizeof(img.root_uuid);
		vm->cmdline = malloc(n);
		if (!vm->cmdline)
			ret = fail(vm, HEARTH_EXIT_HOST, "out of memory");
		else
			snprintf(vm->cmdline, n, "%s root=UUID=%s", cfg->cmdline, img.root_uuid);
	}
	image_release(&img);
	if (!ret)
		log_info("kernel from the disk image: %s%s%s", vm->kernel_name,
			 vm->initrd.data ? ", with its initrd" : "",
			 vm->cmdline ? ", root=UUID= of that file system" : "");
	return ret;
}

static int check_memory(struct vm *vm)
{
	uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t mem = vm->cfg->memory;

	if (mem < MIN_MEMORY)
		return fail(vm, HEARTH_EXIT_USAGE, "--memory %llu KiB is too small: at least 4 MiB",
			    (unsigned long long)(mem >> 10));
	if (mem % 4096)
		return fail(vm, HEARTH_EXIT_USAGE, "--memory must be a multiple of 4 KiB");
	if (mem > host)
		return fail(vm, HEARTH_EXIT_USAGE,
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
			return fail(vm, HEARTH_EXIT_HOST,
				    "no /dev/kvm: KVM is not available "
				    "(load kvm_intel or kvm_amd, or enable nested virtualisation)");
		if (errno == EACCES || errno == EPERM)
			return fail(vm, HEARTH_EXIT_HOST,
				    "permission denied on /dev/kvm: add "
				    "your user to the 'kvm' group (then log in again)");
		return fail(vm, HEARTH_EXIT_HOST, "cannot open /dev/kvm: %s", strerror(errno));
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return fail(vm, HEARTH_EXIT_HOST, "/dev/kvm speaks an unknown KVM API version");
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return fail(vm, HEARTH_EXIT_HOST, "KVM lacks capability KVM_CAP_%s",
				    caps[i].name);
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
		return fail(vm, HEARTH_EXIT_HOST, "KVM_CREATE_VM failed: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) ||
	    (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	     ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident)) ||
	    ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) || ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit))
		return fail(vm, HEARTH_EXIT_HOST, "setting up the VM's irqchip and PIT failed: %s",
			    strerror(errno));
	ret = irq_routes_create(&vm->routes, vm->vm_fd);
	if (ret == -ENOSPC)
		return fail(vm, HEARTH_EXIT_HOST, "building the GSI routing table failed");
	if (ret)
		return fail(vm, HEARTH_EXIT_HOST, "KVM_SET_GSI_ROUTING failed: %s", strerror(-ret));
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
		return fail(vm, HEARTH_EXIT_USAGE, "--cpus %u: at most %d vCPUs on this host",
			    vm->cfg->cpus, max);
	return 0;
}

static int setup_memory(struct vm *vm)
{
	int ret = gm_create(&vm->gm, vm->cfg->memory, vm->cfg->hugepages);

	if (ret == -EINVAL)
		return fail(vm, HEARTH_EXIT_USAGE, "--memory: size must be a multiple of %s",
			    vm->cfg->hugepages ? "2 MiB with --hugepages" : "4 KiB");
	if (ret)
		return fail(vm, HEARTH_EXIT_HOST, "cannot allocate %llu MiB of guest RAM%s: %s",
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
			return fail(vm, HEARTH_EXIT_HOST, "KVM_SET_USER_MEMORY_REGION failed: %s",
				    strerror(errno));
	}
	return 0;
}

static int load_kernel(struct vm *vm, struct boot_setup *boot)
{
	struct e820_entry e820[8];
	int n = e820_build(&vm->gm, e820, 8);
	struct boot_input in = {
		.kernel = vm->kernel.data,
		.kernel_len = vm->kernel.len,
		.initrd = vm->initrd.data,
		.initrd_len = vm->initrd.len,
		.cmdline = vm->cmdline ? vm->cmdline : vm->cfg->cmdline,
		.e820 = e820,
		.e820_n = (size_t)n,
	};
	char why[200];
	int ret;

	if (n < 0)
		return fail(vm, HEARTH_EXIT_USAGE, "guest memory is too small for a memory map");
	ret = boot_load(&vm->gm, &in, boot, why, sizeof(why));
	if (ret)
		return fail(vm, HEARTH_EXIT_USAGE, "kernel '%s': %s", vm->kernel_name, why);
	if (mptable_write(&vm->gm, HEARTH_MPTABLE, MPTABLE_ROOM, vm->cfg->cpus) < 0)
		return fail(vm, HEARTH_EXIT_HOST, "cannot write the MP table");
	if (acpi_write(&vm->gm, HEARTH_ACPI_RSDP, ACPI_ROOM, vm->cfg->cpus) < 0)
		return fail(vm, HEARTH_EXIT_HOST, "cannot write the ACPI tables");
	return 0;
}

/* ---- devices (devices.c) ---- */

static int step(struct vm *vm, int ret)
{
	return ret ? vm->f.exit_code : 0;
}

static int setup_devices(struct vm *vm)
{
	struct devices_env env = { vm->cfg,   vm->vm_fd, &vm->gm,   &vm->pio,
				   &vm->mmio, &vm->ctl,	 vm->routes };

	devices_init(&vm->devs, &env);
	return step(vm, devices_create_platform(&vm->devs, &vm->f));
}

static int setup_virtio(struct vm *vm)
{
	return step(vm, devices_create_virtio(&vm->devs, vm->loop, &vm->f));
}

static int setup_console(struct vm *vm)
{
	return step(vm, devices_create_console(&vm->devs, &vm->f));
}

/* ---- vCPUs (cpus.c) ---- */

static int setup_vcpus(struct vm *vm, const struct boot_setup *boot)
{
	return step(vm, cpus_create(&vm->cpus, vm->kvm_fd, vm->vm_fd, vm->cfg, vm->pvm, &vm->env,
				    boot, &vm->f));
}

/* ---- the I/O thread's own events ---- */

static int setup_loop(struct vm *vm)
{
	/* HEARTH_EVENT_LOOP=epoll: the fallback on purpose (tests) */
	const char *backend = getenv("HEARTH_EVENT_LOOP");

	if (loop_create(&vm->loop, backend && !strcmp(backend, "epoll")))
		return fail(vm, HEARTH_EXIT_HOST, "cannot create the event loop");
	return step(vm, vm_events_start(&vm->ev, vm->loop, &vm->f));
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
	_Static_assert(sizeof(cfg->disks[0].url) <= ISCSI_URL_MAX, "a URL fits iscsi_url_split");
	_Static_assert(sizeof(cfg->disks[0].url_password) > ISCSI_CRED_MAX, "a password fits");

	for (unsigned i = 0; i < cfg->n_disks; i++) {
		struct disk_config *d = &cfg->disks[i];
		char why[300], bare[ISCSI_URL_MAX], pw[ISCSI_URL_MAX];
		struct iscsi_addr u;
		size_t n;
		int ret;

		if (!d->url[0])
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

static int setup_api(struct vm *vm)
{
	struct vm_control_env env = { vm->cfg,	  &vm->rs,    &vm->ev, &vm->devs,
				      vm->cpus.v, vm->cpus.n, vm->loop };

	return step(vm, vm_control_create(&vm->ctrl, &env, &vm->f));
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
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	runstate_init(&vm->rs);
	vm_events_init(&vm->ev, cfg, &vm->rs, &vm->devs);
	vm->ctl = (struct vm_ctl){ ctl_stop, vm_marker, vm };
	vm->env = (struct vcpu_env){ &vm->pio,	       &vm->mmio, &vm->gm,	&vm->ctl,
				     &vm->rs.stopping, false,	  &vm->rs.pause };
	return vm;
}

int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen)
{
	struct vm *vm = vm_alloc(cfg, err, errlen);
	struct boot_setup boot;
	int ret;

	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return HEARTH_EXIT_HOST;
	}
	block_signals();
	if (cfg->kernel) {
		snprintf(vm->kernel_name, sizeof(vm->kernel_name), "%s", cfg->kernel);
		ret = map_file(vm, "kernel", cfg->kernel, &vm->kernel);
		if (!ret && cfg->initrd)
			ret = map_file(vm, "initrd", cfg->initrd, &vm->initrd);
	} else {
		ret = kernel_from_disk(vm);
	}
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
	if (!ret)
		ret = load_kernel(vm, &boot);
	unmap_inputs(vm); /* copied into guest RAM: no need to keep them resident */
	if (!ret)
		ret = setup_devices(vm);
	if (!ret)
		ret = vcpu_signals_init() ? fail(vm, HEARTH_EXIT_HOST, "cannot install signals")
					  : 0;
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
	if (ret) {
		vm_destroy(vm);
		return ret;
	}
	vm->err = NULL;
	*out = vm;
	return 0;
}

int vm_run(struct vm *vm)
{
	int ret = 0;

	pthread_setname_np(pthread_self(), "io");
	log_info("starting %u vCPU(s), %llu MiB, event loop on %s", vm->cpus.n,
		 (unsigned long long)(vm->cfg->memory >> 20), loop_backend(vm->loop));
	ret = cpus_start(&vm->cpus);
	if (ret)
		runstate_stop(&vm->rs, VM_STOP_HOST_ERROR, 0);
	else if (!vm->cfg->ready_on_marker)
		notify_send("READY=1\nSTATUS=guest running");
	ret = loop_run(vm->loop);
	if (ret) {
		log_err("event loop failed: %s", strerror(-ret));
		runstate_stop(&vm->rs, VM_STOP_HOST_ERROR, 0);
	}
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
	unmap_inputs(vm);
	runstate_fini(&vm->rs);
	free(vm->cmdline);
	free(vm);
}
