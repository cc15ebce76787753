// SPDX-License-Identifier: MIT
#include "hearth/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hearth/log.h"
#include "hearth/sandbox.h"
#include "hearth/vcpu_state.h"

/* The kick handler finds the running vCPU's kvm_run here. */
static _Thread_local struct kvm_run *current_run;

static void kick_handler(int sig)
{
	(void)sig;
	if (current_run)
		current_run->immediate_exit = 1;
}

int vcpu_signals_init(void)
{
	struct sigaction sa = { .sa_handler = kick_handler }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) ? -errno : 0;
}

int vcpu_create(struct vcpu *v, int vm_fd, unsigned index, size_t run_size,
		const struct vcpu_env *env)
{
	memset(v, 0, sizeof(*v));
	v->index = index;
	v->env = env;
	v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int ret = -errno;

		close(v->fd);
		v->fd = -1;
		v->run = NULL;
		return ret;
	}
	v->run_size = run_size;
	vcpu_state_probe(v, vm_fd);
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

int vcpu_set_cpuid(struct vcpu *v, const struct kvm_cpuid_entry2 *e, unsigned n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(*e));
	int ret;

	if (!c)
		return -ENOMEM;
	c->nent = n;
	memcpy(c->entries, e, n * sizeof(*e));
	ret = ioctl(v->fd, KVM_SET_CPUID2, c) ? -errno : 0;
	free(c);
	return ret;
}

int vcpu_set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t lvt0, lvt1;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l))
		return -errno;
	memcpy(&lvt0, l.regs + 0x350, 4);
	memcpy(&lvt1, l.regs + 0x360, 4);
	lvt0 = (lvt0 & ~0x700u) | 0x700; /* ExtINT */
	lvt1 = (lvt1 & ~0x700u) | 0x400; /* NMI */
	memcpy(l.regs + 0x350, &lvt0, 4);
	memcpy(l.regs + 0x360, &lvt1, 4);
	return ioctl(v->fd, KVM_SET_LAPIC, &l) ? -errno : 0;
}

static struct kvm_segment flat(uint16_t sel, uint8_t type, bool code64, bool db)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = db,
		.s = 1,
		.l = code64,
		.g = 1,
	};
}

static void set_segments(struct kvm_sregs *s, bool long_mode)
{
	struct kvm_segment data = flat(BOOT_SEL_DATA, 3, false, true);

	s->cs = long_mode ? flat(BOOT_SEL_CODE64, 11, true, false)
			  : flat(BOOT_SEL_CODE32, 11, false, true);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = (struct kvm_segment){
		.limit = 0x67, .selector = BOOT_SEL_TSS, .type = 11, .present = 1
	};
	s->gdt.base = BOOT_GDT;
	s->gdt.limit = 6 * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
}

int vcpu_set_boot_regs(struct vcpu *v, const struct boot_setup *boot)
{
	bool lm = boot->mode == BOOT_LONG64;
	struct kvm_regs r = { .rflags = 2, .rip = boot->entry };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_SREGS, &s))
		return -errno;
	set_segments(&s, lm);
	if (lm) {
		s.cr0 = 0x80000033; /* PG | NE | ET | MP | PE */
		s.cr3 = BOOT_PML4;
		s.cr4 = 0x20;	/* PAE */
		s.efer = 0x500; /* LME | LMA */
		r.rsi = boot->arg;
	} else {
		s.cr0 = 0x11; /* ET | PE */
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
		r.rbx = boot->arg;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &s) || ioctl(v->fd, KVM_SET_REGS, &r) ||
	    ioctl(v->fd, KVM_SET_FPU, &fpu))
		return -errno;
	return 0;
}

/* ---- the run loop ---- */

static int handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint64_t size = run->io.size, count = run->io.count, bytes;
	uint8_t *data;

	if (__builtin_mul_overflow(size, count, &bytes) || run->io.data_offset > v->run_size ||
	    bytes > v->run_size - run->io.data_offset)
		return -EFAULT;
	data = (uint8_t *)run + run->io.data_offset;
	for (uint64_t i = 0; i < count; i++, data += size)
		bus_access(v->env->pio, run->io.port, data, size,
			   run->io.direction == KVM_EXIT_IO_OUT);
	return 0;
}

static int handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	static struct log_ratelimit rl;

	if (run->mmio.len > 8)
		return -EFAULT;
	if (bus_access(v->env->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		       run->mmio.is_write))
		log_guest(&rl, "vcpu%u: %s of %u bytes at unassigned address 0x%llx", v->index,
			  run->mmio.is_write ? "write" : "read", run->mmio.len,
			  (unsigned long long)run->mmio.phys_addr);
	return 0;
}

/* Formats up to 15 instruction bytes at the guest's RIP, or "unreadable". */
static void insn_bytes(struct vcpu *v, uint64_t rip, char *buf, size_t len)
{
	struct kvm_sregs s;
	struct kvm_translation t = { 0 };
	const uint8_t *p;
	size_t pos = 0;

	snprintf(buf, len, "unreadable");
	if (ioctl(v->fd, KVM_GET_SREGS, &s))
		return;
	t.linear_address = s.cs.base + rip;
	if (ioctl(v->fd, KVM_TRANSLATE, &t) || !t.valid)
		return;
	p = gm_ptr(v->env->gm, t.physical_address, 15);
	if (!p)
		return;
	for (int i = 0; i < 15 && pos + 4 < len; i++)
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%02x", i ? " " : "", p[i]);
}

static void report_crash(struct vcpu *v, const char *what)
{
	struct kvm_regs r = { 0 };
	char bytes[64];

	ioctl(v->fd, KVM_GET_REGS, &r);
	insn_bytes(v, r.rip, bytes, sizeof(bytes));
	/* The log prefix carries the thread name, vcpuN. */
	log_err("%s at RIP 0x%llx, instruction bytes: %s", what, (unsigned long long)r.rip, bytes);
	if (v->env->pvm_host)
		log_err("hint: this host's KVM is PVM, whose instruction emulator cannot run "
			"xsave/xrstor, int3, fwait, popcnt, crc32, rdtscp, SSE/AVX and more "
			"in guest kernel mode (see docs/pvm.md)");
}

static void handle_internal_error(struct vcpu *v)
{
	char what[96];

	snprintf(what, sizeof(what), "KVM internal error (suberror %u%s)",
		 v->run->internal.suberror,
		 v->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			 ? ": instruction emulation failed"
			 : "");
	report_crash(v, what);
	v->env->ctl->stop(v->env->ctl->opaque, VM_STOP_CRASH, 0);
}

static void handle_system_event(struct vcpu *v)
{
	const struct vm_ctl *ctl = v->env->ctl;

	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN: ctl->stop(ctl->opaque, VM_STOP_POWEROFF, 0); break;
	case KVM_SYSTEM_EVENT_RESET: ctl->stop(ctl->opaque, VM_STOP_RESET, 0); break;
	default:
		log_err("vcpu%u: guest crash event %u", v->index, v->run->system_event.type);
		ctl->stop(ctl->opaque, VM_STOP_CRASH, 0);
		break;
	}
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	const struct vm_ctl *ctl = v->env->ctl;
	uint32_t reason = v->run->exit_reason;

	if (reason < VCPU_EXIT_REASONS)
		atomic_fetch_add_explicit(&v->exits[reason], 1, memory_order_relaxed);
	switch (reason) {
	case KVM_EXIT_IO:
		if (handle_io(v) == 0)
			return true;
		log_err("vcpu%u: malformed I/O exit from KVM", v->index);
		break;
	case KVM_EXIT_MMIO:
		if (handle_mmio(v) == 0)
			return true;
		log_err("vcpu%u: malformed MMIO exit from KVM", v->index);
		break;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR: return true;
	case KVM_EXIT_SHUTDOWN:
		/* A PC resets on a triple fault, and Linux's reboot=t relies
		 * on it: a reset (120), reported because it may be a crash. */
		report_crash(v, "triple fault");
		ctl->stop(ctl->opaque, VM_STOP_RESET, 0);
		return false;
	case KVM_EXIT_SYSTEM_EVENT: handle_system_event(v); return false;
	case KVM_EXIT_INTERNAL_ERROR: handle_internal_error(v); return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vcpu%u: KVM entry failed, hardware reason 0x%llx", v->index,
			(unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
		ctl->stop(ctl->opaque, VM_STOP_CRASH, 0);
		return false;
	default: log_err("vcpu%u: unexpected KVM exit reason %u", v->index, reason); break;
	}
	ctl->stop(ctl->opaque, VM_STOP_HOST_ERROR, 0);
	return false;
}

/* KVM entries settle() makes at most: each is one piece of an exit's
 * completion that went back to us (a page of a string I/O, a fragment of
 * an MMIO access), a few at most. */
#define SETTLE_ENTRIES 16

/*
 * Completes the exit the vCPU last took. KVM finishes an I/O or MMIO exit
 * (an IN's data into RAX, a string instruction's registers) only when
 * KVM_RUN is entered again, and until then the vCPU's state is neither
 * consistent nor saveable (api.rst, on KVM_EXIT_IO and kvm_run's
 * immediate_exit). With immediate_exit set, KVM_RUN completes it and
 * returns EINTR before the guest runs another instruction; an exit the
 * completion itself takes is handled and KVM entered again. Returns false
 * when the vCPU must stop.
 */
static bool settle(struct vcpu *v)
{
	for (unsigned i = 0; i < SETTLE_ENTRIES; i++) {
		int ret;

		v->run->immediate_exit = 1;
		ret = ioctl(v->fd, KVM_RUN, 0);
		v->run->immediate_exit = 0;
		if (ret < 0 && (errno == EINTR || errno == EAGAIN)) {
			/* out of KVM_RUN as a kick would have it: counted so
			 * (a vCPU that saw the pause between two exits was
			 * never kicked out of KVM_RUN otherwise) */
			atomic_fetch_add_explicit(&v->exits[KVM_EXIT_INTR], 1,
						  memory_order_relaxed);
			atomic_store(&v->unsettled, false);
			return true;
		}
		if (ret < 0) {
			log_err("vcpu%u: KVM_RUN failed: %s", v->index, strerror(errno));
			v->env->ctl->stop(v->env->ctl->opaque, VM_STOP_HOST_ERROR, 0);
			return false;
		}
		if (!handle_exit(v))
			return false;
	}
	log_warn("vcpu%u: an exit still incomplete after %u entries to KVM: parked as it is",
		 v->index, SETTLE_ENTRIES);
	atomic_store(&v->unsettled, true); /* a snapshot refuses it */
	return true;
}

/* Parks the vCPU while a pause is requested (and the VM is not stopping),
 * after completing its last exit (settle), so that a paused vCPU's state is
 * whole; false when the vCPU must stop instead. KVM_KVMCLOCK_CTRL tells a
 * kvmclock guest it was paused, so its soft-lockup watchdog does not fire
 * on resume; guests without kvmclock refuse it. */
static bool park(struct vcpu *v)
{
	struct vcpu_pause *p = v->env->pause;

	if (!settle(v))
		return false;
	ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0);
	pthread_mutex_lock(&p->lock);
	p->parked++;
	pthread_cond_broadcast(&p->cond);
	while (atomic_load(&p->requested) && !atomic_load(v->env->stopping))
		pthread_cond_wait(&p->cond, &p->lock);
	p->parked--;
	pthread_mutex_unlock(&p->lock);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	atomic_store(&v->tid, gettid());
	current_run = v->run;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* the filter before the guest's first instruction (docs/security.md);
	 * the thread's name read before it, for the log lines */
	log_thread_named();
	if (sandbox_enter(SANDBOX_VCPU)) {
		log_err("vcpu%u: cannot load its seccomp filter", v->index);
		v->env->ctl->stop(v->env->ctl->opaque, VM_STOP_HOST_ERROR, 0);
	}
	while (!atomic_load(v->env->stopping)) {
		if (v->env->pause && atomic_load(&v->env->pause->requested)) {
			if (!park(v))
				break;
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* kicked (pause, stop) or a signal: counted as KVM names it */
				atomic_fetch_add_explicit(&v->exits[KVM_EXIT_INTR], 1,
							  memory_order_relaxed);
				v->run->immediate_exit = 0;
				continue;
			}
			log_err("vcpu%u: KVM_RUN failed: %s", v->index, strerror(errno));
			v->env->ctl->stop(v->env->ctl->opaque, VM_STOP_HOST_ERROR, 0);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	current_run = NULL;
	if (v->env->pause) {
		pthread_mutex_lock(&v->env->pause->lock);
		v->env->pause->exited++;
		pthread_cond_broadcast(&v->env->pause->cond);
		pthread_mutex_unlock(&v->env->pause->lock);
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int ret;

	v->pid = getpid();
	atomic_store(&v->tid, 0);
	ret = thread_start(&v->thread, vcpu_thread, v);

	if (ret)
		return ret;
	v->started = true;
	return 0;
}

/* the I/O thread's seccomp filter lets tgkill() send this signal only
 * (and SIGABRT), to hearth's own threads */
_Static_assert(VCPU_KICK_SIGNAL == SANDBOX_KICK_SIGNAL, "the kick is the signal the filter allows");

/* tgkill() rather than pthread_kill(), which asks getpid() each time and
 * blocks every signal around the call: one system call a kick rather than
 * four. A thread without a tid yet has not reached its loop,
 * which looks at what the kick is about before it runs the guest. The tid
 * stays valid until the join: hearth starts no thread after its vCPUs. */
void vcpu_kick(struct vcpu *v)
{
	pid_t tid = atomic_load(&v->tid);

	if (v->started && tid > 0)
		syscall(SYS_tgkill, v->pid, tid, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->started)
		thread_join(&v->thread);
	v->started = false;
}

uint64_t vcpu_cpu_time_us(const struct vcpu *v)
{
	clockid_t clk;
	struct timespec ts;

	if (!v->started || pthread_getcpuclockid(v->thread.id, &clk) || clock_gettime(clk, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
