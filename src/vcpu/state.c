// SPDX-License-Identifier: MIT
/*
 * A vCPU's KVM state as a record (include/hearth/vcpu_state.h; the fields,
 * the order they are applied in and why: docs/state.md, "KVM's state").
 * Save asks KVM for everything first and writes the record after; restore
 * reads and checks the whole record before its first KVM_SET_* ioctl.
 *
 * KVM's own structures go into BYTES fields as they are only where the KVM
 * ABI fixes their layout (kvm_regs, kvm_sregs, kvm_xcrs, kvm_debugregs,
 * kvm_lapic_state, kvm_mp_state, kvm_vcpu_events), each read back with its
 * exact length. CPUID entries and MSRs are counted lists, encoded field by
 * field in little-endian; the XSAVE area is as long as KVM makes it.
 */
#include "hearth/vcpu_state.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hearth/bytes.h"
#include "hearth/vcpu.h"

#define VERSION 1

/* One CPUID entry in its BYTES field: function, index, flags, eax, ebx,
 * ecx, edx, a u32 each. One MSR: index (u32), value (u64). */
#define CPUID_LEN 28
#define MSR_LEN	  12
#define ENC_MAX	  (VCPU_STATE_MAX_MSRS * MSR_LEN)
_Static_assert((VCPU_STATE_MAX_CPUID * CPUID_LEN) <= ENC_MAX, "one scratch buffer holds either");

/* KVM lists at most a few hundred; anything near this is not a list */
#define MSR_LIST_MAX 65536

#define MSR_IA32_TSC	      0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0

#define CPUID_FLAGS                                                       \
	(KVM_CPUID_FLAG_SIGNIFCANT_INDEX | KVM_CPUID_FLAG_STATEFUL_FUNC | \
	 KVM_CPUID_FLAG_STATE_READ_NEXT)

/*
 * The event flags a record may hold: those KVM_GET_VCPU_EVENTS reports
 * while KVM_CAP_EXCEPTION_PAYLOAD and KVM_CAP_X86_TRIPLE_FAULT_EVENT are
 * off (hearth enables neither, and KVM refuses their flags then), and the
 * two restore adds so that nmi.pending and sipi_vector are applied.
 */
#define EVENT_FLAGS                                                          \
	(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | \
	 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM)

/* One vCPU's state, whole: what save gathers before it writes anything,
 * and what restore reads and checks before it applies anything. */
struct rec {
	uint32_t index;
	uint32_t ncpuid, nmsrs;
	size_t xsave_len;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	struct kvm_xsave *xsave;  /* the vCPU's xsave_size bytes */
	struct kvm_cpuid2 *cpuid; /* room for VCPU_STATE_MAX_CPUID entries */
	struct kvm_msrs *msrs;	  /* room for VCPU_STATE_MAX_MSRS entries */
	uint8_t *enc;		  /* ENC_MAX: CPUID or MSRs as the record holds them */
};

static void rec_free(struct rec *s)
{
	if (!s)
		return;
	free(s->xsave);
	free(s->cpuid);
	free(s->msrs);
	free(s->enc);
	free(s);
}

static struct rec *rec_new(size_t xsave_size)
{
	struct rec *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->xsave = calloc(1, xsave_size);
	s->cpuid =
		calloc(1, sizeof(*s->cpuid) + VCPU_STATE_MAX_CPUID * sizeof(s->cpuid->entries[0]));
	s->msrs = calloc(1, sizeof(*s->msrs) + VCPU_STATE_MAX_MSRS * sizeof(s->msrs->entries[0]));
	s->enc = malloc(ENC_MAX);
	if (!s->xsave || !s->cpuid || !s->msrs || !s->enc) {
		rec_free(s);
		return NULL;
	}
	return s;
}

/* ---- what KVM is asked once ---- */

void vcpu_state_probe(struct vcpu *v, int vm_fd)
{
	/* 0 without KVM_CAP_XSAVE2 (before Linux 5.17): the fixed 4096 bytes */
	int size = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	if (size < (int)sizeof(struct kvm_xsave))
		size = (int)sizeof(struct kvm_xsave);
	/* 0: more than a record holds, so this vCPU cannot be saved */
	v->xsave_size = (unsigned)size <= VCPU_STATE_MAX_XSAVE ? (uint32_t)size : 0;
	v->xcrs = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
}

int vcpu_state_msr_list(int kvm_fd, uint32_t **msrs, unsigned *n)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;

	*msrs = NULL;
	*n = 0;
	/* with room for none, KVM answers E2BIG and how many there are */
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) == 0)
		return 0;
	if (errno != E2BIG)
		return -errno;
	if (probe.nmsrs > MSR_LIST_MAX)
		return -E2BIG;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	*msrs = malloc(probe.nmsrs * sizeof(**msrs));
	if (!l || !*msrs) {
		free(l);
		free(*msrs);
		*msrs = NULL;
		return -ENOMEM;
	}
	l->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) || l->nmsrs > probe.nmsrs) {
		int ret = l->nmsrs > probe.nmsrs ? -EIO : -errno;

		free(l);
		free(*msrs);
		*msrs = NULL;
		return ret;
	}
	memcpy(*msrs, l->indices, l->nmsrs * sizeof(**msrs));
	*n = l->nmsrs;
	free(l);
	return 0;
}

/* ---- save ---- */

/*
 * Reads the @n MSRs @idx into s->msrs. KVM_GET_MSRS stops at the first MSR
 * it cannot read and returns how many it read before it: that one is left
 * out and reading goes on after it. Every call reads or skips at least one
 * MSR, so @n calls are the most it takes (the budget the loop keeps).
 */
static int get_msrs(struct vcpu *v, const uint32_t *idx, unsigned n, struct rec *s)
{
	struct kvm_msrs *b = calloc(1, sizeof(*b) + n * sizeof(b->entries[0]));
	unsigned done = 0, calls = 0;
	int ret = 0;

	if (!b)
		return -ENOMEM;
	s->nmsrs = 0;
	while (done < n && calls++ < n) {
		unsigned left = n - done;
		int got;

		b->nmsrs = left;
		for (unsigned i = 0; i < left; i++)
			b->entries[i] = (struct kvm_msr_entry){ .index = idx[done + i] };
		got = ioctl(v->fd, KVM_GET_MSRS, b);
		if (got < 0 || (unsigned)got > left) {
			ret = got < 0 ? -errno : -EIO;
			break;
		}
		memcpy(&s->msrs->entries[s->nmsrs], b->entries,
		       (size_t)got * sizeof(b->entries[0]));
		s->nmsrs += (unsigned)got;
		done += (unsigned)got;
		if (done < n)
			done++; /* the one KVM could not read */
	}
	free(b);
	return ret;
}

/*
 * Everything, in an order that does not disturb what is read next:
 * KVM_GET_MP_STATE first (it lets the local APIC take a pending INIT or
 * SIPI, which changes registers and the APIC), KVM_GET_VCPU_EVENTS last
 * (the GETs before it may move pending events).
 */
static int get_all(struct vcpu *v, const uint32_t *msrs, unsigned n, struct rec *s)
{
	unsigned long xsave_req =
		v->xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
	int ret;

	s->index = v->index;
	if (ioctl(v->fd, KVM_GET_MP_STATE, &s->mp))
		return -errno;
	s->cpuid->nent = VCPU_STATE_MAX_CPUID;
	if (ioctl(v->fd, KVM_GET_CPUID2, s->cpuid)) /* E2BIG: more than a record holds */
		return -errno;
	if (s->cpuid->nent > VCPU_STATE_MAX_CPUID)
		return -EIO;
	s->ncpuid = s->cpuid->nent;
	if (ioctl(v->fd, KVM_GET_REGS, &s->regs) || ioctl(v->fd, KVM_GET_SREGS, &s->sregs) ||
	    ioctl(v->fd, xsave_req, s->xsave))
		return -errno;
	s->xsave_len = v->xsave_size;
	memset(&s->xcrs, 0, sizeof(s->xcrs)); /* none without KVM_CAP_XCRS */
	if (v->xcrs && ioctl(v->fd, KVM_GET_XCRS, &s->xcrs))
		return -errno;
	if (ioctl(v->fd, KVM_GET_DEBUGREGS, &s->dregs) || ioctl(v->fd, KVM_GET_LAPIC, &s->lapic))
		return -errno;
	ret = get_msrs(v, msrs, n, s);
	if (ret)
		return ret;
	return ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events) ? -errno : 0;
}

static void put_all(struct state_writer *w, struct rec *s)
{
	const struct kvm_cpuid_entry2 *c = s->cpuid->entries;
	const struct kvm_msr_entry *m = s->msrs->entries;

	state_begin(w, STATE_KIND_VCPU, VERSION);
	state_put_u32(w, s->index);
	state_put_u32(w, s->ncpuid);
	for (uint32_t i = 0; i < s->ncpuid; i++) {
		const uint32_t f[7] = { c[i].function, c[i].index, c[i].flags, c[i].eax,
					c[i].ebx,      c[i].ecx,   c[i].edx };

		for (unsigned j = 0; j < 7; j++)
			st_le(s->enc + i * CPUID_LEN + j * 4, f[j], 4);
	}
	state_put_bytes(w, s->enc, (size_t)s->ncpuid * CPUID_LEN);
	state_put_bytes(w, &s->regs, sizeof(s->regs));
	state_put_bytes(w, &s->sregs, sizeof(s->sregs));
	state_put_bytes(w, s->xsave, s->xsave_len);
	state_put_bytes(w, &s->xcrs, sizeof(s->xcrs));
	state_put_bytes(w, &s->dregs, sizeof(s->dregs));
	state_put_u32(w, s->nmsrs);
	for (uint32_t i = 0; i < s->nmsrs; i++) {
		st_le(s->enc + i * MSR_LEN, m[i].index, 4);
		st_le(s->enc + i * MSR_LEN + 4, m[i].data, 8);
	}
	state_put_bytes(w, s->enc, (size_t)s->nmsrs * MSR_LEN);
	state_put_bytes(w, &s->lapic, sizeof(s->lapic));
	state_put_bytes(w, &s->mp, sizeof(s->mp));
	state_put_bytes(w, &s->events, sizeof(s->events));
	state_end(w);
}

int vcpu_state_save(struct vcpu *v, const uint32_t *msrs, unsigned n, struct state_writer *w)
{
	struct rec *s;
	int ret;

	if (n > VCPU_STATE_MAX_MSRS)
		return -E2BIG;
	if (!v->xsave_size)
		return -EOPNOTSUPP;
	s = rec_new(v->xsave_size);
	if (!s)
		return -ENOMEM;
	ret = get_all(v, msrs, n, s);
	if (!ret) {
		put_all(w, s);
		ret = w->err;
	}
	rec_free(s);
	return ret;
}

/* ---- restore ---- */

/* Reads the record's fields in order; a count or length that does not fit
 * fails the reader at once (-EINVAL, or the reader's -EBADMSG). */
static int read_all(struct vcpu *v, struct state_reader *r, struct rec *s)
{
	size_t len;

	state_enter(r, STATE_KIND_VCPU, VERSION, NULL);
	state_get_u32(r, &s->index);
	state_get_u32(r, &s->ncpuid);
	state_get_bytes(r, s->enc, VCPU_STATE_MAX_CPUID * CPUID_LEN, &len);
	if (!r->err && (s->ncpuid > VCPU_STATE_MAX_CPUID || len != s->ncpuid * CPUID_LEN))
		state_fail(r, -EINVAL);
	for (uint32_t i = 0; !r->err && i < s->ncpuid; i++) {
		const uint8_t *p = s->enc + i * CPUID_LEN;

		s->cpuid->entries[i] = (struct kvm_cpuid_entry2){
			.function = (uint32_t)ld_le(p, 4),
			.index = (uint32_t)ld_le(p + 4, 4),
			.flags = (uint32_t)ld_le(p + 8, 4),
			.eax = (uint32_t)ld_le(p + 12, 4),
			.ebx = (uint32_t)ld_le(p + 16, 4),
			.ecx = (uint32_t)ld_le(p + 20, 4),
			.edx = (uint32_t)ld_le(p + 24, 4),
		};
	}
	state_get_exact(r, &s->regs, sizeof(s->regs));
	state_get_exact(r, &s->sregs, sizeof(s->sregs));
	/* exactly what this host's KVM moves for this vCPU: KVM_SET_XSAVE
	 * reads that many bytes whatever the record held */
	state_get_bytes(r, s->xsave, v->xsave_size, &s->xsave_len);
	if (!r->err && s->xsave_len != v->xsave_size)
		state_fail(r, -EINVAL);
	state_get_exact(r, &s->xcrs, sizeof(s->xcrs));
	state_get_exact(r, &s->dregs, sizeof(s->dregs));
	state_get_u32(r, &s->nmsrs);
	state_get_bytes(r, s->enc, ENC_MAX, &len);
	if (!r->err && (s->nmsrs > VCPU_STATE_MAX_MSRS || len != s->nmsrs * MSR_LEN))
		state_fail(r, -EINVAL);
	for (uint32_t i = 0; !r->err && i < s->nmsrs; i++)
		s->msrs->entries[i] = (struct kvm_msr_entry){
			.index = (uint32_t)ld_le(s->enc + i * MSR_LEN, 4),
			.data = ld_le(s->enc + i * MSR_LEN + 4, 8),
		};
	state_get_exact(r, &s->lapic, sizeof(s->lapic));
	state_get_exact(r, &s->mp, sizeof(s->mp));
	state_get_exact(r, &s->events, sizeof(s->events));
	return state_leave(r);
}

static bool one_bit_at_most(const __u64 *bits, size_t n)
{
	unsigned set = 0;

	for (size_t i = 0; i < n; i++)
		set += (unsigned)__builtin_popcountll(bits[i]);
	return set <= 1;
}

/* Each MSR one of @allowed (the host's saveable list: KVM would take others
 * from the host too, an x2APIC ICR that sends IPIs to vCPUs not restored
 * yet among them), and none twice (the TSC-first ordering moves the first
 * copy only). @allowed NULL: not checked (tests). */
static bool msrs_ok(const struct rec *s, const uint32_t *allowed, unsigned n)
{
	if (!allowed)
		return true;
	for (uint32_t i = 0; i < s->nmsrs; i++) {
		uint32_t idx = s->msrs->entries[i].index;
		bool listed = false;

		for (unsigned j = 0; j < n && !listed; j++)
			listed = allowed[j] == idx;
		if (!listed)
			return false;
		for (uint32_t j = 0; j < i; j++)
			if (s->msrs->entries[j].index == idx)
				return false;
	}
	return true;
}

/* The values KVM documents limits for, checked before any is applied, so
 * that KVM does not refuse one half-way through the restore. */
static bool values_ok(const struct vcpu *v, const struct rec *s)
{
	const struct kvm_vcpu_events *e = &s->events;

	if (s->index != v->index || s->ncpuid == 0)
		return false; /* another vCPU's record; a CPU with no CPUID */
	for (uint32_t i = 0; i < s->ncpuid; i++)
		if (s->cpuid->entries[i].flags & ~(uint32_t)CPUID_FLAGS)
			return false;
	/* "at most one bit may be set" (api.rst, KVM_GET_SREGS) */
	if (!one_bit_at_most(s->sregs.interrupt_bitmap,
			     sizeof(s->sregs.interrupt_bitmap) /
				     sizeof(s->sregs.interrupt_bitmap[0])))
		return false;
	if (s->xcrs.nr_xcrs > KVM_MAX_XCRS || s->xcrs.flags || (s->xcrs.nr_xcrs && !v->xcrs))
		return false;
	/* flags must be 0; DR6 and DR7 are 32 bits wide */
	if (s->dregs.flags || s->dregs.dr6 >> 32 || s->dregs.dr7 >> 32)
		return false;
	if (s->mp.mp_state > KVM_MP_STATE_SIPI_RECEIVED) /* x86's, without SEV-ES's */
		return false;
	if (e->flags & ~(uint32_t)EVENT_FLAGS)
		return false;
	/* an exception vector is below 32 and not the NMI's (2) */
	if ((e->exception.injected || e->exception.pending) &&
	    (e->exception.nr > 31 || e->exception.nr == 2))
		return false;
	/* what KVM reports as booleans */
	return e->exception.injected <= 1 && e->exception.has_error_code <= 1 &&
	       e->interrupt.injected <= 1 && e->interrupt.soft <= 1 && e->nmi.injected <= 1 &&
	       e->nmi.masked <= 1 &&
	       e->interrupt.shadow <= (KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI);
}

/* Moves the first entry of MSR @index (if any) to the front or the back,
 * the others keeping their order. */
static void move_msr(struct kvm_msr_entry *e, unsigned n, uint32_t index, bool front)
{
	struct kvm_msr_entry x;
	unsigned i = 0;

	while (i < n && e[i].index != index)
		i++;
	if (i == n)
		return;
	x = e[i];
	if (front) {
		memmove(&e[1], &e[0], i * sizeof(*e));
		e[0] = x;
	} else {
		memmove(&e[i], &e[i + 1], (n - i - 1) * sizeof(*e));
		e[n - 1] = x;
	}
}

static int set_msrs(struct vcpu *v, struct rec *s)
{
	int got;

	s->msrs->nmsrs = s->nmsrs;
	/* the TSC before what counts in it; the TSC deadline last, after the
	 * TSC and the local APIC: KVM drops a deadline written while the
	 * APIC timer is not in TSC-deadline mode */
	move_msr(s->msrs->entries, s->nmsrs, MSR_IA32_TSC, true);
	move_msr(s->msrs->entries, s->nmsrs, MSR_IA32_TSC_DEADLINE, false);
	got = ioctl(v->fd, KVM_SET_MSRS, s->msrs);
	if (got < 0)
		return -errno;
	return (unsigned)got == s->nmsrs ? 0 : -EINVAL; /* it stopped at one it refused */
}

/*
 * In the order docs/state.md explains: CPUID first (KVM sizes the XSAVE
 * features, the APIC timer's modes and MSR checks on it), special registers
 * before the local APIC (they hold the APIC base and its x2APIC mode),
 * the local APIC before the MSRs (the TSC deadline), MP state after the
 * registers (KVM_SET_SREGS may make a BSP runnable), events last
 * (KVM_SET_REGS drops a pending exception they restore).
 */
static int apply(struct vcpu *v, struct rec *s)
{
	int ret;

	s->cpuid->nent = s->ncpuid;
	if (ioctl(v->fd, KVM_SET_CPUID2, s->cpuid) || ioctl(v->fd, KVM_SET_SREGS, &s->sregs) ||
	    ioctl(v->fd, KVM_SET_REGS, &s->regs) || ioctl(v->fd, KVM_SET_XSAVE, s->xsave))
		return -errno;
	if (s->xcrs.nr_xcrs && ioctl(v->fd, KVM_SET_XCRS, &s->xcrs))
		return -errno;
	if (ioctl(v->fd, KVM_SET_DEBUGREGS, &s->dregs) || ioctl(v->fd, KVM_SET_LAPIC, &s->lapic))
		return -errno;
	ret = set_msrs(v, s);
	if (ret)
		return ret;
	if (ioctl(v->fd, KVM_SET_MP_STATE, &s->mp))
		return -errno;
	/* GET reports nmi.pending and sipi_vector; SET takes them only when
	 * asked to (api.rst, KVM_SET_VCPU_EVENTS) */
	s->events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &s->events) ? -errno : 0;
}

int vcpu_state_restore(struct vcpu *v, struct state_reader *r, const uint32_t *msrs, unsigned n)
{
	struct rec *s;
	int ret;

	if (!v->xsave_size)
		return state_fail(r, -EOPNOTSUPP);
	s = rec_new(v->xsave_size);
	if (!s)
		return state_fail(r, -ENOMEM);
	ret = read_all(v, r, s);
	if (!ret && (!values_ok(v, s) || !msrs_ok(s, msrs, n)))
		ret = state_fail(r, -EINVAL);
	if (!ret) {
		ret = apply(v, s);
		if (ret)
			state_fail(r, ret);
	}
	rec_free(s);
	return ret;
}
