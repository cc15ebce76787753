/* SPDX-License-Identifier: MIT */
/*
 * KVM's own state of a VM and of its vCPUs as state records (state.h), for
 * snapshots and migration (docs/snapshot.md): what the guest's CPUs and the
 * in-kernel devices hold, as opposed to hearth's device models (each saves
 * its own, docs/state.md).
 *
 * A vCPU record holds its CPUID, general and special registers, FPU and
 * extended state (XSAVE, XCRs), debug registers, MSRs (those KVM lists as
 * saveable and that read back), the local APIC, pending events and the MP
 * state. The VM record holds the in-kernel PIC pair and IOAPIC, the PIT and
 * the kvmclock. docs/state.md ("KVM's state") has the fields, the order
 * they are applied in and why, and what is not saved.
 *
 * Save only while no vCPU is in KVM_RUN (a paused VM: runstate_pause()) and
 * after each vCPU completed any I/O exit it had taken (vcpu.c's park() does
 * that with immediate_exit before it counts itself parked). Restore into a
 * VM and vCPUs that were created but never ran: the VM record first, then
 * each vCPU's. A record read back is untrusted: every count and size is
 * checked against its own limit, and the whole record is read and checked
 * before the first KVM_SET_* ioctl, so a record refused here (-EBADMSG,
 * -EPROTONOSUPPORT, -EINVAL) leaves the vCPU or VM as it was. A value KVM
 * itself refuses while the record is applied (-EINVAL, or KVM's errno)
 * leaves it partly restored: the caller must then throw the VM away.
 */
#ifndef HEARTH_VCPU_STATE_H
#define HEARTH_VCPU_STATE_H

#include <stdint.h>

#include "hearth/state.h"

struct vcpu;

/* MSRs in one record, at most (KVM lists a few hundred at most). */
#define VCPU_STATE_MAX_MSRS 1024
/* CPUID entries in one record, at most. */
#define VCPU_STATE_MAX_CPUID 256
/* XSAVE bytes in one record, at most (AMX's tiles make it ~11 KiB). */
#define VCPU_STATE_MAX_XSAVE (64u << 10)

/*
 * What @v's records need to know of KVM, asked on @vm_fd once, when the
 * vCPU is created (vcpu_create() calls it): the XSAVE size KVM moves for
 * it (KVM_CAP_XSAVE2: the bytes KVM_GET_XSAVE2 and KVM_SET_XSAVE move;
 * 4096 without the capability; it changes only with the dynamic XSAVE
 * features, AMX, a process asks arch_prctl to let its guests use, which
 * hearth never does) and whether KVM has KVM_GET_XCRS (KVM_CAP_XCRS).
 * Asked here, KVM_CHECK_EXTENSION (a VM ioctl, not a vCPU one) needs no
 * place in the seccomp lists of the threads that save or restore.
 */
void vcpu_state_probe(struct vcpu *v, int vm_fd);

/*
 * The MSRs a vCPU record saves: KVM's KVM_GET_MSR_INDEX_LIST on @kvm_fd.
 * Allocates *@msrs (free() it); 0 or -errno.
 */
int vcpu_state_msr_list(int kvm_fd, uint32_t **msrs, unsigned *n);

/* Writes @v's record (STATE_KIND_VCPU), with those of the @n MSRs @msrs
 * that KVM reads back (at most VCPU_STATE_MAX_MSRS listed, else -E2BIG).
 * 0 or -errno (an ioctl failed, or the writer's error). */
int vcpu_state_save(struct vcpu *v, const uint32_t *msrs, unsigned n, struct state_writer *w);
/* Reads a STATE_KIND_VCPU record into @v. Its MSRs must be among the @n
 * @msrs (the host's saveable list, vcpu_state_msr_list; NULL: unchecked,
 * for tests), each once. 0, -EBADMSG / -EPROTONOSUPPORT (the reader's),
 * -EINVAL (a value KVM or our limits refuse, a record of another vCPU, an
 * MSR not listed or twice), or an ioctl's -errno. */
int vcpu_state_restore(struct vcpu *v, struct state_reader *r, const uint32_t *msrs, unsigned n);

/* The VM's in-kernel irqchip, PIT and kvmclock (STATE_KIND_KVM_VM), same
 * rules and errors. */
int vm_kvm_state_save(int vm_fd, struct state_writer *w);
int vm_kvm_state_restore(int vm_fd, struct state_reader *r);

#endif
