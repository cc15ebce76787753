/* SPDX-License-Identifier: MIT */
/*
 * vCPUs: one thread each (named vcpuN) running the KVM_RUN loop, with one
 * small handler per exit reason. A vCPU sees only the buses, guest memory
 * (to report faults) and the vm_ctl; it never touches devices' internals.
 */
#ifndef HEARTH_VCPU_H
#define HEARTH_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hearth/boot_entry.h"
#include "hearth/bus.h"
#include "hearth/exit.h"
#include "hearth/mem.h"
#include "hearth/thread.h"

#define VCPU_EXIT_REASONS 64

/*
 * Pausing (the control API): a vCPU that sees @requested parks outside
 * KVM_RUN, counted in @parked, until @requested is cleared or the VM stops;
 * a vCPU thread that ends counts itself in @exited. @cond is broadcast on
 * every change. vcpu_kick() makes a vCPU in KVM_RUN look.
 */
struct vcpu_pause {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool requested;
	unsigned parked, exited;
};

/* What every vCPU of a VM shares; owned by the VM. */
struct vcpu_env {
	const struct bus *pio;
	const struct bus *mmio;
	const struct guest_mem *gm;
	const struct vm_ctl *ctl;
	atomic_bool *stopping;
	bool pvm_host;
	struct vcpu_pause *pause; /* NULL: never paused */
};

struct vcpu {
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	const struct vcpu_env *env;
	struct thread thread; /* its stack: include/hearth/thread.h */
	bool started;
	/* the kick's target, read before the seccomp filters are loaded:
	 * tgkill() needs no getpid() then (docs/security.md) */
	pid_t pid;
	_Atomic pid_t tid;			   /* 0 until the thread runs */
	_Atomic uint64_t exits[VCPU_EXIT_REASONS]; /* by KVM exit reason */
	/* what its state records need of KVM, asked when it is created
	 * (vcpu_state_probe, vcpu_state.h) */
	uint32_t xsave_size; /* bytes of XSAVE state; 0: too many for a record */
	bool xcrs;	     /* KVM has KVM_GET_XCRS */
	/* its last exit was still incomplete when it parked (vcpu.c's
	 * settle): its state is not saveable until it ran again */
	atomic_bool unsettled;
};

/* Creates vCPU @index on @vm_fd and maps its kvm_run. 0 or -errno. */
int vcpu_create(struct vcpu *v, int vm_fd, unsigned index, size_t run_size,
		const struct vcpu_env *env);
void vcpu_destroy(struct vcpu *v);

/* Sets CPUID (@n entries). 0 or -errno. */
int vcpu_set_cpuid(struct vcpu *v, const struct kvm_cpuid_entry2 *e, unsigned n);
/* Sets the boot MSRs that appear in KVM's list @msrs (@n). 0 or -errno. */
int vcpu_set_msrs(struct vcpu *v, const uint32_t *msrs, unsigned n);
/* LINT0 ExtINT, LINT1 NMI, as firmware leaves them. 0 or -errno. */
int vcpu_set_lapic(struct vcpu *v);
/* Registers and segments for the boot CPU's entry. 0 or -errno. */
int vcpu_set_boot_regs(struct vcpu *v, const struct boot_setup *boot);

/* Starts the thread. 0 or -errno. */
int vcpu_start(struct vcpu *v);
/* Makes a running KVM_RUN return so the thread sees env->stopping. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
/* CPU time the vCPU's thread has used, in microseconds; 0 when it never
 * started or its clock cannot be read. Only while the thread exists (not
 * after it ended). */
uint64_t vcpu_cpu_time_us(const struct vcpu *v);

/* Installs the kick signal handler; call once before starting vCPUs. */
int vcpu_signals_init(void);
#define VCPU_KICK_SIGNAL SIGUSR1

#endif
