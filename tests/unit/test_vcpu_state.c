// SPDX-License-Identifier: MIT
/*
 * KVM's state records (vcpu_state.h) without KVM. ioctl is wrapped
 * (meson.build) and counted, so the refusals prove more than their error
 * codes: a hostile record (wrong kind or version, counts over their limits
 * or not matching their bytes, truncated fields, wrong struct lengths,
 * trailing bytes, an XSAVE area of another size, values KVM documents
 * limits for) is refused before a single ioctl, so it changed nothing. A
 * record that passes every check reaches KVM, which for a vCPU whose
 * descriptor is -1 answers EBADF: the builder's good record is good.
 *
 * Save cannot run on a KVM this machine lacks; a fake KVM behind the same
 * wrap answers the GETs with made-up state, so save's own logic (the MSR
 * reads that skip an unreadable MSR, within a budget; KVM_GET_XSAVE2 when
 * the area is larger) and the order restore applies a record in are
 * checked. The fake knows nothing of KVM's semantics: whether KVM takes
 * the values back is for a run on a real host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hearth/bytes.h"
#include "hearth/state.h"
#include "hearth/vcpu.h"
#include "hearth/vcpu_state.h"

/* ---- the ioctl wrap, and a fake KVM on three made-up descriptors ---- */

#define FAKE_KVM  900
#define FAKE_VCPU 901
#define FAKE_VM	  902
#define MAX_LOG	  64

static unsigned ioctls;		    /* every call, on any descriptor */
static unsigned long log_[MAX_LOG]; /* the fake's SET requests, in order */
static unsigned nlog;
static unsigned get_msrs_calls;
static int xsave2_size;	   /* KVM_CAP_XSAVE2's answer */
static bool msrs_lie;	   /* KVM_GET_MSRS answers more than asked */
static bool set_msrs_stop; /* KVM_SET_MSRS refuses the last one */
/* the host's saveable MSRs a restore is checked against (NULL: unchecked) */
static const uint32_t *restore_msrs;
static unsigned n_restore_msrs;

static const uint32_t fake_list[] = { 0x10, 0x174, 0xbad1, 0x6e0, 0xbad2, 0xbad3, 0x175 };
#define NLIST (sizeof(fake_list) / sizeof(fake_list[0]))

/* what the fake was given by the SETs */
static struct {
	struct kvm_cpuid_entry2 cpuid[4];
	unsigned ncpuid;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t xsave[8192];
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_msr_entry msrs[16];
	unsigned nmsrs;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
} got;

static bool unreadable(uint32_t index)
{
	return (index & 0xfff0) == 0xbad0;
}

static void fill(void *p, size_t len, uint8_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

static int fake_kvm(unsigned long req, void *arg)
{
	struct kvm_msr_list *l = arg;

	if (req != KVM_GET_MSR_INDEX_LIST)
		return errno = ENOTTY, -1;
	if (l->nmsrs < NLIST) {
		l->nmsrs = NLIST;
		return errno = E2BIG, -1;
	}
	l->nmsrs = NLIST;
	memcpy(l->indices, fake_list, sizeof(fake_list));
	return 0;
}

static int fake_get_msrs(struct kvm_msrs *m)
{
	get_msrs_calls++;
	if (msrs_lie)
		return (int)m->nmsrs + 1;
	for (unsigned i = 0; i < m->nmsrs; i++) {
		if (unreadable(m->entries[i].index))
			return (int)i; /* KVM stops at the first it cannot read */
		m->entries[i].data = m->entries[i].index * 3ULL + 1;
	}
	return (int)m->nmsrs;
}

static int fake_vcpu(unsigned long req, void *arg)
{
	switch (req) {
	case KVM_GET_MP_STATE: ((struct kvm_mp_state *)arg)->mp_state = KVM_MP_STATE_HALTED; break;
	case KVM_GET_CPUID2: {
		struct kvm_cpuid2 *c = arg;

		c->nent = 2;
		c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0xd };
		c->entries[1] = (struct kvm_cpuid_entry2){ .function = 7,
							   .index = 0,
							   .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
							   .ebx = 9 };
		break;
	}
	case KVM_GET_REGS: fill(arg, sizeof(struct kvm_regs), 1); break;
	case KVM_GET_SREGS: {
		struct kvm_sregs *s = arg;

		fill(s, sizeof(*s), 2);
		memset(s->interrupt_bitmap, 0, sizeof(s->interrupt_bitmap));
		s->interrupt_bitmap[1] = 1ULL << 3; /* one pending interrupt */
		break;
	}
	case KVM_GET_XSAVE: fill(arg, 4096, 3); break;
	case KVM_GET_XSAVE2: fill(arg, (size_t)xsave2_size, 4); break;
	case KVM_GET_XCRS:
		*(struct kvm_xcrs *)arg = (struct kvm_xcrs){ .nr_xcrs = 1, .xcrs[0].value = 7 };
		break;
	case KVM_GET_DEBUGREGS:
		*(struct kvm_debugregs *)arg =
			(struct kvm_debugregs){ .dr6 = 0xffff0ff0, .dr7 = 0x400 };
		break;
	case KVM_GET_LAPIC: fill(arg, sizeof(struct kvm_lapic_state), 5); break;
	case KVM_GET_MSRS: return fake_get_msrs(arg);
	case KVM_GET_VCPU_EVENTS:
		*(struct kvm_vcpu_events *)arg = (struct kvm_vcpu_events){
			.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
				 KVM_VCPUEVENT_VALID_SMM,
			.nmi.pending = 1,
			.interrupt.shadow = KVM_X86_SHADOW_INT_STI,
		};
		break;
	case KVM_SET_CPUID2: {
		const struct kvm_cpuid2 *c = arg;

		got.ncpuid = c->nent;
		memcpy(got.cpuid, c->entries, c->nent * sizeof(c->entries[0]));
		break;
	}
	case KVM_SET_REGS: got.regs = *(struct kvm_regs *)arg; break;
	case KVM_SET_SREGS: got.sregs = *(struct kvm_sregs *)arg; break;
	case KVM_SET_XSAVE: /* as many bytes as the vCPU's area, as KVM reads */
		memcpy(got.xsave, arg, xsave2_size > 4096 ? (size_t)xsave2_size : 4096);
		break;
	case KVM_SET_XCRS: got.xcrs = *(struct kvm_xcrs *)arg; break;
	case KVM_SET_DEBUGREGS: got.dregs = *(struct kvm_debugregs *)arg; break;
	case KVM_SET_LAPIC: got.lapic = *(struct kvm_lapic_state *)arg; break;
	case KVM_SET_MSRS: {
		const struct kvm_msrs *m = arg;

		got.nmsrs = m->nmsrs;
		memcpy(got.msrs, m->entries, m->nmsrs * sizeof(m->entries[0]));
		return (int)m->nmsrs - (set_msrs_stop ? 1 : 0);
	}
	case KVM_SET_MP_STATE: got.mp = *(struct kvm_mp_state *)arg; break;
	case KVM_SET_VCPU_EVENTS: got.events = *(struct kvm_vcpu_events *)arg; break;
	default: return errno = ENOTTY, -1;
	}
	return 0;
}

static int fake_vm(unsigned long req, void *arg)
{
	struct kvm_irqchip *c = arg;

	switch (req) {
	case KVM_CHECK_EXTENSION: /* an int argument: its low 32 bits */
		if ((unsigned)(uintptr_t)arg == KVM_CAP_XSAVE2)
			return xsave2_size;
		return (unsigned)(uintptr_t)arg == KVM_CAP_XCRS;
	case KVM_GET_IRQCHIP:
		if (c->chip_id > 2)
			return errno = EINVAL, -1;
		memset(&c->chip, 0, sizeof(c->chip));
		if (c->chip_id == 2) {
			c->chip.ioapic.base_address = 0xfec00000;
			c->chip.ioapic.redirtbl[4].bits = 0x10000 | 0x24;
		} else {
			c->chip.pic.elcr_mask = c->chip_id ? 0xde : 0xf8;
			c->chip.pic.imr = (uint8_t)(0xb8 + c->chip_id);
			c->chip.pic.irq_base = c->chip_id ? 0x28 : 0x20;
		}
		break;
	case KVM_GET_PIT2: {
		struct kvm_pit_state2 *p = arg;

		memset(p, 0, sizeof(*p));
		p->channels[0].count = 0x10000;
		p->channels[0].mode = 2;
		p->channels[0].count_load_time = 123456789;
		break;
	}
	case KVM_GET_CLOCK:
		*(struct kvm_clock_data *)arg =
			(struct kvm_clock_data){ .clock = 987654321,
						 .flags = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME,
						 .realtime = 555 };
		break;
	case KVM_SET_IRQCHIP:
		if (c->chip_id > 2)
			return errno = EINVAL, -1;
		got.chip[c->chip_id] = *c;
		break;
	case KVM_SET_PIT2: got.pit = *(struct kvm_pit_state2 *)arg; break;
	case KVM_SET_CLOCK: got.clock = *(struct kvm_clock_data *)arg; break;
	default: return errno = ENOTTY, -1;
	}
	return 0;
}

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	ioctls++;
	/* the KVM_SET_* ones: _IOW, but for KVM_SET_IRQCHIP's historic _IOR */
	if ((fd == FAKE_VCPU || fd == FAKE_VM) &&
	    (_IOC_DIR(req) == _IOC_WRITE || req == KVM_SET_IRQCHIP) && nlog < MAX_LOG)
		log_[nlog++] = req;
	switch (fd) {
	case FAKE_KVM: return fake_kvm(req, arg);
	case FAKE_VCPU: return fake_vcpu(req, arg);
	case FAKE_VM: return fake_vm(req, arg);
	default: return __real_ioctl(fd, req, arg);
	}
}

static int reset(void **state)
{
	(void)state;
	ioctls = nlog = get_msrs_calls = 0;
	xsave2_size = 0;
	msrs_lie = set_msrs_stop = false;
	restore_msrs = NULL;
	n_restore_msrs = 0;
	memset(&got, 0, sizeof(got));
	return 0;
}

/* ---- building records, good and hostile ---- */

/* What build() writes: the fields of a good version-1 record, each of
 * which a test may spoil. */
struct opts {
	uint16_t kind;
	uint32_t index, ncpuid, nmsrs;
	size_t cpuid_len, msrs_len;
	uint32_t cpuid_flags;
	size_t regs_len, sregs_len, xsave_len, xcrs_len, dregs_len, lapic_len, mp_len, events_len;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	bool drop_events; /* the record ends before its last field */
	bool extra;	  /* a field after the last */
};

static struct opts good(void)
{
	return (struct opts){
		.kind = STATE_KIND_VCPU,
		.ncpuid = 2,
		.cpuid_len = 2 * 28,
		.nmsrs = 3,
		.msrs_len = 3 * 12,
		.cpuid_flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		.regs_len = sizeof(struct kvm_regs),
		.sregs_len = sizeof(struct kvm_sregs),
		.xsave_len = 4096,
		.xcrs_len = sizeof(struct kvm_xcrs),
		.dregs_len = sizeof(struct kvm_debugregs),
		.lapic_len = sizeof(struct kvm_lapic_state),
		.mp_len = sizeof(struct kvm_mp_state),
		.events_len = sizeof(struct kvm_vcpu_events),
		.xcrs = { .nr_xcrs = 1, .xcrs[0].value = 7 },
		.dregs = { .dr6 = 0xffff0ff0, .dr7 = 0x400 },
		.mp = { KVM_MP_STATE_RUNNABLE },
		.events = { .flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW },
	};
}

static uint8_t scratch[VCPU_STATE_MAX_MSRS * 12 + 65536];

/* A field of @len bytes: @p when @len is its size, else zeros. */
static void put(struct state_writer *w, const void *p, size_t size, size_t len)
{
	state_put_bytes(w, len == size ? p : scratch, len);
}

static void build(const struct opts *o, struct state_writer *w)
{
	uint8_t *b = calloc(1, (o->cpuid_len > o->msrs_len ? o->cpuid_len : o->msrs_len) + 1);

	assert_non_null(b);
	state_begin(w, o->kind, 1);
	state_put_u32(w, o->index);
	state_put_u32(w, o->ncpuid);
	memset(b, 0, o->cpuid_len);
	for (size_t at = 8; at + 4 <= o->cpuid_len; at += 28)
		st_le(b + at, o->cpuid_flags, 4);
	state_put_bytes(w, b, o->cpuid_len);
	put(w, scratch, 0, o->regs_len);
	put(w, &o->sregs, sizeof(o->sregs), o->sregs_len);
	put(w, scratch, 0, o->xsave_len);
	put(w, &o->xcrs, sizeof(o->xcrs), o->xcrs_len);
	put(w, &o->dregs, sizeof(o->dregs), o->dregs_len);
	state_put_u32(w, o->nmsrs);
	memset(b, 0, o->msrs_len); /* MSR 0 = 0, any number of times */
	state_put_bytes(w, b, o->msrs_len);
	put(w, scratch, 0, o->lapic_len);
	put(w, &o->mp, sizeof(o->mp), o->mp_len);
	if (!o->drop_events)
		put(w, &o->events, sizeof(o->events), o->events_len);
	if (o->extra)
		state_put_u8(w, 0);
	state_end(w);
	free(b);
}

/* Builds @o's record, @version patched into its header when not 0 (a
 * writer refuses version 0 itself), and restores it into @v. */
static int restore_v(const struct opts *o, struct vcpu *v, int version)
{
	struct state_writer w;
	struct state_reader r;
	size_t len = 0;
	int ret;

	state_writer_init_alloc(&w);
	build(o, &w);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	if (version >= 0)
		st_le(w.buf + 6, (uint64_t)version, 2);
	state_reader_init(&r, w.buf, len);
	ret = vcpu_state_restore(v, &r, restore_msrs, n_restore_msrs);
	if (ret)
		assert_int_equal(r.err, ret); /* the reader is failed too */
	state_writer_free(&w);
	return ret;
}

static struct vcpu test_vcpu(void)
{
	return (struct vcpu){ .index = 0, .fd = -1, .xsave_size = 4096, .xcrs = true };
}

/* @o is refused with @err, and before any ioctl. */
static void refused(const struct opts *o, int err)
{
	struct vcpu v = test_vcpu();

	ioctls = 0;
	assert_int_equal(restore_v(o, &v, -1), err);
	assert_int_equal(ioctls, 0);
}

/* ---- the vCPU record refused ---- */

static void good_record_reaches_kvm(void **state)
{
	struct opts o = good();
	struct vcpu v = test_vcpu();

	(void)state;
	/* nothing refused it: KVM_SET_CPUID2 on fd -1 was the first call */
	assert_int_equal(restore_v(&o, &v, -1), -EBADF);
	assert_int_equal(ioctls, 1);
}

static void wrong_kind_and_version(void **state)
{
	struct opts o = good();
	struct vcpu v = test_vcpu();

	(void)state;
	o.kind = STATE_KIND_KVM_VM;
	refused(&o, -EBADMSG);
	o.kind = STATE_KIND_UART;
	refused(&o, -EBADMSG);
	o = good();
	assert_int_equal(restore_v(&o, &v, 0), -EPROTONOSUPPORT);
	assert_int_equal(restore_v(&o, &v, 2), -EPROTONOSUPPORT);
	assert_int_equal(ioctls, 0);
}

static void msr_counts(void **state)
{
	struct opts o = good();
	struct vcpu v = test_vcpu();

	(void)state;
	o.nmsrs = VCPU_STATE_MAX_MSRS + 1; /* over the limit */
	refused(&o, -EINVAL);
	o.msrs_len = (VCPU_STATE_MAX_MSRS + 1) * 12; /* and bytes for them */
	refused(&o, -EBADMSG);
	o = good();
	o.nmsrs = 4; /* bytes for 3 */
	refused(&o, -EINVAL);
	o.nmsrs = 2;
	refused(&o, -EINVAL);
	o = good();
	o.msrs_len = 3 * 12 + 1; /* not a whole number of MSRs */
	refused(&o, -EINVAL);
	o.nmsrs = 0;
	o.msrs_len = 0; /* none is a record like any other */
	assert_int_equal(restore_v(&o, &v, -1), -EBADF);
}

/* A record's MSRs are the host's saveable ones, each once: KVM would take
 * others from the host too (an x2APIC ICR sending IPIs mid-restore). */
static void msr_indices(void **state)
{
	static const uint32_t list0[] = { 0x10, 0 }, list1[] = { 0x10, 0x174 };
	struct opts o = good(); /* three MSRs, each index 0 */
	struct vcpu v = test_vcpu();

	(void)state;
	restore_msrs = list0;
	n_restore_msrs = 2;
	refused(&o, -EINVAL); /* MSR 0 three times */
	o.nmsrs = 1;
	o.msrs_len = 12;
	assert_int_equal(restore_v(&o, &v, -1), -EBADF); /* once: on to KVM */
	restore_msrs = list1;
	refused(&o, -EINVAL); /* MSR 0 is not the host's */
	assert_int_equal(ioctls, 0);
}

static void cpuid_counts(void **state)
{
	struct opts o = good();

	(void)state;
	o.ncpuid = VCPU_STATE_MAX_CPUID + 1;
	refused(&o, -EINVAL);
	o.cpuid_len = (VCPU_STATE_MAX_CPUID + 1) * 28;
	refused(&o, -EBADMSG);
	o = good();
	o.ncpuid = 3; /* bytes for 2 */
	refused(&o, -EINVAL);
	o.ncpuid = 0;
	o.cpuid_len = 0; /* a CPU without CPUID */
	refused(&o, -EINVAL);
	o = good();
	o.cpuid_flags = 1u << 3; /* no such flag */
	refused(&o, -EINVAL);
}

static void struct_lengths(void **state)
{
	static const size_t at[] = {
		offsetof(struct opts, regs_len),   offsetof(struct opts, sregs_len),
		offsetof(struct opts, xcrs_len),   offsetof(struct opts, dregs_len),
		offsetof(struct opts, lapic_len),  offsetof(struct opts, mp_len),
		offsetof(struct opts, events_len),
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		struct opts o = good();
		size_t *len = (size_t *)((char *)&o + at[i]);
		size_t right = *len;

		*len = right - 1;
		refused(&o, -EBADMSG);
		*len = right + 1;
		refused(&o, -EBADMSG);
		*len = 0;
		refused(&o, -EBADMSG);
	}
}

static void truncated_and_trailing(void **state)
{
	struct opts o = good();
	struct state_writer w;
	struct state_reader r;
	struct vcpu v = test_vcpu();
	size_t len = 0;

	(void)state;
	o.drop_events = true;
	refused(&o, -EBADMSG);
	o = good();
	o.extra = true;
	refused(&o, -EBADMSG);
	/* every shorter buffer: the record's header claims more than there is */
	o = good();
	state_writer_init_alloc(&w);
	build(&o, &w);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	for (size_t cut = 0; cut < len; cut += 97) {
		state_reader_init(&r, w.buf, cut);
		assert_int_equal(vcpu_state_restore(&v, &r, NULL, 0), -EBADMSG);
	}
	assert_int_equal(ioctls, 0);
	state_writer_free(&w);
}

static void xsave_lengths(void **state)
{
	struct opts o = good();
	struct vcpu v = test_vcpu();

	(void)state;
	o.xsave_len = 100;
	refused(&o, -EINVAL);
	o.xsave_len = 0;
	refused(&o, -EINVAL);
	o.xsave_len = 4095;
	refused(&o, -EINVAL);
	o.xsave_len = 4097; /* more than this host's KVM moves */
	refused(&o, -EBADMSG);
	o.xsave_len = VCPU_STATE_MAX_XSAVE + 4096;
	refused(&o, -EBADMSG);
	/* a host whose KVM moves 8 KiB (AMX allowed) refuses a 4 KiB area */
	o = good();
	v.xsave_size = 8192;
	assert_int_equal(restore_v(&o, &v, -1), -EINVAL);
	o.xsave_len = 8192;
	assert_int_equal(restore_v(&o, &v, -1), -EBADF); /* and takes its own */
	/* a vCPU whose area is beyond what a record holds restores nothing */
	v.xsave_size = 0;
	ioctls = 0;
	assert_int_equal(restore_v(&o, &v, -1), -EOPNOTSUPP);
	assert_int_equal(ioctls, 0);
}

static void values(void **state)
{
	struct opts o = good();
	struct vcpu v = test_vcpu();

	(void)state;
	o.index = 1; /* vCPU 1's record into vCPU 0 */
	refused(&o, -EINVAL);
	o = good();
	o.xcrs.nr_xcrs = KVM_MAX_XCRS + 1;
	refused(&o, -EINVAL);
	o = good();
	o.xcrs.flags = 1;
	refused(&o, -EINVAL);
	o = good();
	o.dregs.flags = 1;
	refused(&o, -EINVAL);
	o = good();
	o.dregs.dr7 = 1ULL << 32;
	refused(&o, -EINVAL);
	o = good();
	o.dregs.dr6 = 1ULL << 40;
	refused(&o, -EINVAL);
	o = good();
	o.sregs.interrupt_bitmap[0] = 3; /* two pending interrupts */
	refused(&o, -EINVAL);
	o.sregs.interrupt_bitmap[0] = 1;
	o.sregs.interrupt_bitmap[3] = 1;
	refused(&o, -EINVAL);
	o = good();
	o.mp.mp_state = KVM_MP_STATE_AP_RESET_HOLD;
	refused(&o, -EINVAL);
	o.mp.mp_state = 0xffffffff;
	refused(&o, -EINVAL);
	o = good();
	o.events.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
	refused(&o, -EINVAL);
	o = good();
	o.events.flags = 1u << 31;
	refused(&o, -EINVAL);
	o = good();
	o.events.exception.injected = 1;
	o.events.exception.nr = 32;
	refused(&o, -EINVAL);
	o.events.exception.nr = 2; /* the NMI is no exception */
	refused(&o, -EINVAL);
	o.events.exception.nr = 14;
	assert_int_equal(restore_v(&o, &v, -1), -EBADF);
	o = good();
	o.events.nmi.masked = 2;
	refused(&o, -EINVAL);
	o = good();
	o.events.interrupt.shadow = 4;
	refused(&o, -EINVAL);
	/* XCRs for a KVM without KVM_GET_XCRS */
	o = good();
	v.xcrs = false;
	ioctls = 0;
	assert_int_equal(restore_v(&o, &v, -1), -EINVAL);
	assert_int_equal(ioctls, 0);
	o.xcrs.nr_xcrs = 0;
	assert_int_equal(restore_v(&o, &v, -1), -EBADF);
}

/* ---- the VM record refused ---- */

struct vm_opts {
	uint16_t kind;
	struct kvm_pic_state pic[2];
	struct kvm_ioapic_state ioapic;
	struct kvm_pit_state2 pit;
	size_t pic_len, ioapic_len, pit_len;
	bool no_clock, extra;
};

static struct vm_opts vm_good(void)
{
	struct vm_opts o = {
		.kind = STATE_KIND_KVM_VM,
		.pic_len = sizeof(struct kvm_pic_state),
		.ioapic_len = sizeof(struct kvm_ioapic_state),
		.pit_len = sizeof(struct kvm_pit_state2),
	};

	o.pic[0].elcr_mask = 0xf8;
	o.pic[1].elcr_mask = 0xde;
	o.ioapic.base_address = 0xfec00000;
	o.pit.channels[0].count = 0x10000;
	return o;
}

static int vm_restore(const struct vm_opts *o, int version)
{
	struct state_writer w;
	struct state_reader r;
	size_t len = 0;
	int ret;

	state_writer_init_alloc(&w);
	state_begin(&w, o->kind, 1);
	put(&w, &o->pic[0], sizeof(o->pic[0]), o->pic_len);
	put(&w, &o->pic[1], sizeof(o->pic[1]), o->pic_len);
	put(&w, &o->ioapic, sizeof(o->ioapic), o->ioapic_len);
	put(&w, &o->pit, sizeof(o->pit), o->pit_len);
	if (!o->no_clock)
		state_put_u64(&w, 42);
	if (o->extra)
		state_put_u64(&w, 42);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	if (version >= 0)
		st_le(w.buf + 6, (uint64_t)version, 2);
	state_reader_init(&r, w.buf, len);
	ret = vm_kvm_state_restore(-1, &r);
	if (ret)
		assert_int_equal(r.err, ret);
	state_writer_free(&w);
	return ret;
}

static void vm_refused(const struct vm_opts *o, int err)
{
	ioctls = 0;
	assert_int_equal(vm_restore(o, -1), err);
	assert_int_equal(ioctls, 0);
}

static void vm_records(void **state)
{
	struct vm_opts o = vm_good();

	(void)state;
	assert_int_equal(vm_restore(&o, -1), -EBADF); /* good: reaches KVM */
	assert_int_equal(ioctls, 1);
	o.kind = STATE_KIND_VCPU;
	vm_refused(&o, -EBADMSG);
	o = vm_good();
	ioctls = 0;
	assert_int_equal(vm_restore(&o, 0), -EPROTONOSUPPORT);
	assert_int_equal(vm_restore(&o, 2), -EPROTONOSUPPORT);
	assert_int_equal(ioctls, 0);
	o.pic_len--;
	vm_refused(&o, -EBADMSG);
	o = vm_good();
	o.ioapic_len++;
	vm_refused(&o, -EBADMSG);
	o = vm_good();
	o.pit_len = 0;
	vm_refused(&o, -EBADMSG);
	o = vm_good();
	o.no_clock = true;
	vm_refused(&o, -EBADMSG);
	o = vm_good();
	o.extra = true;
	vm_refused(&o, -EBADMSG);
	/* values a guest could never set */
	o = vm_good();
	o.pic[0].elcr_mask = 0xff; /* the timer's line level-triggered */
	vm_refused(&o, -EINVAL);
	o = vm_good();
	o.pic[1].elcr = 0x01; /* outside the slave's mask */
	vm_refused(&o, -EINVAL);
	o = vm_good();
	o.ioapic.base_address = 0xfee00000;
	vm_refused(&o, -EINVAL);
	o = vm_good();
	o.pit.flags = KVM_PIT_FLAGS_HPET_LEGACY;
	vm_refused(&o, -EINVAL);
	o = vm_good();
	o.pit.channels[2].count = 0x10001;
	vm_refused(&o, -EINVAL);
}

/* ---- against the fake KVM: save's logic and restore's order ---- */

static void msr_list_and_probe(void **state)
{
	struct vcpu v = { .index = 0 };
	uint32_t *msrs;
	unsigned n;

	(void)state;
	assert_int_equal(vcpu_state_msr_list(FAKE_KVM, &msrs, &n), 0);
	assert_int_equal(n, NLIST);
	assert_memory_equal(msrs, fake_list, sizeof(fake_list));
	free(msrs);
	assert_int_equal(vcpu_state_msr_list(-1, &msrs, &n), -EBADF);
	assert_null(msrs);

	vcpu_state_probe(&v, FAKE_VM); /* no KVM_CAP_XSAVE2: the fixed 4 KiB */
	assert_int_equal(v.xsave_size, 4096);
	assert_true(v.xcrs);
	xsave2_size = 8192;
	vcpu_state_probe(&v, FAKE_VM);
	assert_int_equal(v.xsave_size, 8192);
	xsave2_size = VCPU_STATE_MAX_XSAVE + 64; /* beyond a record: unsaveable */
	vcpu_state_probe(&v, FAKE_VM);
	assert_int_equal(v.xsave_size, 0);
}

/* Saves the fake vCPU with KVM's list @msrs and restores the record into
 * it; returns the record's result. */
static int save_restore(struct vcpu *v, const uint32_t *msrs, unsigned n)
{
	struct state_writer w;
	struct state_reader r;
	size_t len = 0;
	int ret;

	state_writer_init_alloc(&w);
	ret = vcpu_state_save(v, msrs, n, &w);
	if (!ret) {
		assert_int_equal(state_writer_finish(&w, &len), 0);
		state_reader_init(&r, w.buf, len);
		ret = vcpu_state_restore(v, &r, restore_msrs, n_restore_msrs);
		if (!ret)
			assert_int_equal(state_reader_finish(&r), 0);
	}
	state_writer_free(&w);
	return ret;
}

static void round_trip_in_order(void **state)
{
	static const unsigned long order[] = {
		KVM_SET_CPUID2,	  KVM_SET_SREGS,       KVM_SET_REGS,  KVM_SET_XSAVE,
		KVM_SET_XCRS,	  KVM_SET_DEBUGREGS,   KVM_SET_LAPIC, KVM_SET_MSRS,
		KVM_SET_MP_STATE, KVM_SET_VCPU_EVENTS,
	};
	struct vcpu v = { .index = 0, .fd = FAKE_VCPU, .xsave_size = 4096, .xcrs = true };
	struct kvm_regs regs;
	struct kvm_lapic_state lapic;
	uint8_t xsave[4096];

	(void)state;
	assert_int_equal(save_restore(&v, fake_list, NLIST), 0);
	assert_int_equal(nlog, sizeof(order) / sizeof(order[0]));
	assert_memory_equal(log_, order, sizeof(order));
	/* the 3 unreadable MSRs skipped: one KVM_GET_MSRS from the start and
	 * one after each MSR skipped */
	assert_int_equal(get_msrs_calls, 4);
	assert_int_equal(got.nmsrs, 4);
	/* the TSC first, the TSC deadline last, the others in KVM's order */
	assert_int_equal(got.msrs[0].index, 0x10);
	assert_int_equal(got.msrs[1].index, 0x174);
	assert_int_equal(got.msrs[2].index, 0x175);
	assert_int_equal(got.msrs[3].index, 0x6e0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(got.msrs[i].data, got.msrs[i].index * 3ULL + 1);
	/* what the GETs gave comes back */
	assert_int_equal(got.ncpuid, 2);
	assert_int_equal(got.cpuid[1].function, 7);
	assert_int_equal(got.cpuid[1].flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	assert_int_equal(got.cpuid[1].ebx, 9);
	fill(&regs, sizeof(regs), 1);
	assert_memory_equal(&got.regs, &regs, sizeof(regs));
	assert_int_equal(got.sregs.interrupt_bitmap[1], 1ULL << 3);
	fill(xsave, sizeof(xsave), 3);
	assert_memory_equal(got.xsave, xsave, sizeof(xsave));
	assert_int_equal(got.xcrs.nr_xcrs, 1);
	assert_int_equal(got.xcrs.xcrs[0].value, 7);
	assert_int_equal(got.dregs.dr7, 0x400);
	fill(&lapic, sizeof(lapic), 5);
	assert_memory_equal(&got.lapic, &lapic, sizeof(lapic));
	assert_int_equal(got.mp.mp_state, KVM_MP_STATE_HALTED);
	/* nmi.pending and sipi_vector asked to be taken */
	assert_int_equal(got.events.flags,
			 KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
				 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM);
	assert_int_equal(got.events.nmi.pending, 1);
	assert_int_equal(got.events.interrupt.shadow, KVM_X86_SHADOW_INT_STI);
}

static void save_variants(void **state)
{
	static const uint32_t bad[] = { 0xbad1, 0xbad2, 0xbad3, 0xbad4, 0xbad5 };
	struct vcpu v = { .index = 0, .fd = FAKE_VCPU, .xsave_size = 8192, .xcrs = true };
	uint8_t xsave[8192];

	(void)state;
	/* a larger area: KVM_GET_XSAVE2, all of it back */
	xsave2_size = 8192;
	assert_int_equal(save_restore(&v, fake_list, NLIST), 0);
	fill(xsave, sizeof(xsave), 4);
	assert_memory_equal(got.xsave, xsave, sizeof(xsave));
	/* none readable: one call each, none saved, restore sets none */
	reset(NULL);
	v.xsave_size = 4096;
	assert_int_equal(save_restore(&v, bad, 5), 0);
	assert_int_equal(get_msrs_calls, 5);
	assert_int_equal(got.nmsrs, 0);
	/* a KVM that answers more than it was asked is not believed */
	reset(NULL);
	msrs_lie = true;
	assert_int_equal(save_restore(&v, fake_list, NLIST), -EIO);
	assert_int_equal(get_msrs_calls, 1);
	/* a list longer than a record holds */
	assert_int_equal(save_restore(&v, fake_list, VCPU_STATE_MAX_MSRS + 1), -E2BIG);
	/* a KVM_SET_MSRS that stops short fails the restore */
	reset(NULL);
	set_msrs_stop = true;
	assert_int_equal(save_restore(&v, fake_list, NLIST), -EINVAL);
	assert_int_equal(log_[nlog - 1], KVM_SET_MSRS); /* and nothing after it */
}

static void vm_round_trip(void **state)
{
	static const unsigned long order[] = { KVM_SET_IRQCHIP, KVM_SET_IRQCHIP, KVM_SET_IRQCHIP,
					       KVM_SET_PIT2, KVM_SET_CLOCK };
	struct state_writer w;
	struct state_reader r;
	size_t len = 0;

	(void)state;
	state_writer_init_alloc(&w);
	assert_int_equal(vm_kvm_state_save(FAKE_VM, &w), 0);
	assert_int_equal(state_writer_finish(&w, &len), 0);
	state_reader_init(&r, w.buf, len);
	assert_int_equal(vm_kvm_state_restore(FAKE_VM, &r), 0);
	assert_int_equal(state_reader_finish(&r), 0);
	state_writer_free(&w);
	assert_int_equal(nlog, 5);
	assert_memory_equal(log_, order, sizeof(order));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(got.chip[i].chip_id, i);
	assert_int_equal(got.chip[0].chip.pic.imr, 0xb8);
	assert_int_equal(got.chip[1].chip.pic.irq_base, 0x28);
	assert_int_equal(got.chip[2].chip.ioapic.redirtbl[4].bits, 0x10024);
	assert_int_equal(got.pit.channels[0].count, 0x10000);
	assert_int_equal(got.pit.channels[0].mode, 2);
	/* the clock's value only: no KVM_CLOCK_REALTIME, no host's time */
	assert_int_equal(got.clock.clock, 987654321);
	assert_int_equal(got.clock.flags, 0);
	assert_int_equal(got.clock.realtime, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(good_record_reaches_kvm, reset),
		cmocka_unit_test_setup(msr_indices, reset),
		cmocka_unit_test_setup(wrong_kind_and_version, reset),
		cmocka_unit_test_setup(msr_counts, reset),
		cmocka_unit_test_setup(cpuid_counts, reset),
		cmocka_unit_test_setup(struct_lengths, reset),
		cmocka_unit_test_setup(truncated_and_trailing, reset),
		cmocka_unit_test_setup(xsave_lengths, reset),
		cmocka_unit_test_setup(values, reset),
		cmocka_unit_test_setup(vm_records, reset),
		cmocka_unit_test_setup(msr_list_and_probe, reset),
		cmocka_unit_test_setup(round_trip_in_order, reset),
		cmocka_unit_test_setup(save_variants, reset),
		cmocka_unit_test_setup(vm_round_trip, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
