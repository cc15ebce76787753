/*
 * Probe guest test logic, run at CPL3 with IOPL 3 (see entry.S).
 *
 * Command line (PVH start info): probe.tests=a,b,c  probe.cpus=N
 * probe.iters=N  probe.status=N. Output on COM1, one line per test:
 *   PROBE: test=NAME key=value ... result=pass|fail
 *   PROBE: done pass=N fail=N
 * Exit: the status (probe.status if every test passed, 1 otherwise, 3 on a
 * fault) goes to hearth's exit port, then to QEMU's isa-debug-exit port.
 */
#include <stddef.h>
#include <stdint.h>

#include "drivers.h"
#include "io.h"
#include "probe.h"

/* Shared with entry.S */
uint32_t start_info_pa;
volatile uint64_t ticks;
volatile uint64_t irq_count[256];
volatile uint32_t ap_next = 1, ap_done;
volatile uint32_t ap_apic_id[MAX_CPUS + 1];
volatile uint32_t fault_count;
volatile uint64_t fault_info[5]; /* vector, error, rip, cs, cr2 */
extern const char ap_trampoline[], ap_trampoline_end[];

void probe_main(void) __attribute__((noreturn));
void probe_fault(void) __attribute__((noreturn));

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

static const char *cmdline = "";
static unsigned passed, failed;

static __attribute__((noreturn)) void vm_exit(uint8_t status)
{
	outb(HEARTH_EXIT_PORT, status);
	outb(QEMU_EXIT_PORT, status);
	__asm__ volatile("hlt"); /* neither: idle (entry.S) */
	for (;;)
		pause();
}

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* The value of "key=" on the command line, up to the next space; 0 if absent. */
static const char *arg(const char *key, size_t *len)
{
	size_t kl = slen(key);
	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) > kl && w[kl] == '=') {
			size_t i = 0;
			while (i < kl && w[i] == key[i])
				i++;
			if (i == kl) {
				*len = (size_t)(p - w) - kl - 1;
				return w + kl + 1;
			}
		}
	}
	return 0;
}

static uint64_t arg_u64(const char *key, uint64_t dflt)
{
	size_t len;
	const char *v = arg(key, &len);
	uint64_t r = 0;
	if (!v || !len)
		return dflt;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9' || r > (UINT64_MAX - 9) / 10)
			return dflt;
		r = r * 10 + (uint64_t)(v[i] - '0');
	}
	return r;
}

/* for the drivers' tests (net.c) */
const char *probe_arg(const char *key, size_t *len);
uint64_t probe_arg_u64(const char *key, uint64_t dflt);
const char *probe_arg(const char *key, size_t *len)
{
	return arg(key, len);
}
uint64_t probe_arg_u64(const char *key, uint64_t dflt)
{
	return arg_u64(key, dflt);
}

static void result(int ok)
{
	puts_(ok ? " result=pass\n" : " result=fail\n");
	if (ok)
		passed++;
	else
		failed++;
}

/* Busy-wait until *p >= want or about `cycles` TSC cycles have passed. */
static int wait_for(volatile const uint64_t *p, uint64_t want, uint64_t cycles)
{
	uint64_t t0 = rdtsc();
	while (*p < want)
		if (rdtsc() - t0 > cycles)
			return 0;
	return 1;
}

#define SECONDS(n) ((uint64_t)(n)*4000000000ull) /* generous: TSC <= 4 GHz */

/* The UART's registers behave like a 16550A's, and output arrives intact. */
static void test_serial(void)
{
	int ok = 1;
	outb(0x3f8 + 7, 0x5a);
	ok &= inb(0x3f8 + 7) == 0x5a;
	outb(0x3f8 + 7, 0xa5);
	ok &= inb(0x3f8 + 7) == 0xa5;
	ok &= inb(0x3f8 + 3) == 0x03;
	ok &= (inb(0x3f8 + 5) & 0x60) == 0x60;
	puts_("PROBE: test=serial chars=");
	for (char c = '!'; c <= '~'; c++)
		putc_(c);
	result(ok);
}

/* Every vCPU comes up through INIT/SIPI and checks in with a distinct APIC ID. */
static void test_smp(void)
{
	struct mp_info mi;
	int mp = mptable_read(&mi), madt = acpi_madt_cpus();

	if (mp == 0 && mi.cpus == 0) /* a table without processors: no help */
		mp = -5;
	uint64_t want = arg_u64("probe.cpus", mp == 0 ? mi.cpus : madt > 0 ? (unsigned)madt : 1);
	/* where there are tables, they must agree with each other and with us */
	int ok = want >= 1 && want <= MAX_CPUS && (mp != 0 || mi.cpus == want) &&
		 (madt <= 0 || (unsigned)madt == want);

	ap_apic_id[0] = lapic_read(0x20) >> 24;
	if (ok && want > 1) {
		const char *s = ap_trampoline;
		char *d = (char *)TRAMPOLINE;
		while (s < ap_trampoline_end)
			*d++ = *s++;
		lapic_write(0xf0, 0x1ff);	/* software enable */
		lapic_write(0x300, 0x000c4500); /* INIT to all others */
		for (uint64_t t = rdtsc(); rdtsc() - t < 1000000;)
			pause();
		for (int i = 0; i < 2; i++) { /* SIPI twice */
			lapic_write(0x300, 0x000c4600 | (TRAMPOLINE >> 12));
			for (uint64_t t = rdtsc(); rdtsc() - t < 200000;)
				pause();
		}
		uint64_t t0 = rdtsc();
		while (ap_done < want - 1 && rdtsc() - t0 < SECONDS(5))
			pause();
		for (uint64_t t = rdtsc(); rdtsc() - t < 10000000;) /* any extra? */
			pause();
	}
	uint32_t up = ap_done + 1;
	ok &= up == want;
	for (uint32_t i = 0; i < up && i <= MAX_CPUS; i++)
		for (uint32_t j = 0; j < i; j++)
			ok &= ap_apic_id[i] != ap_apic_id[j];
	puts_("PROBE: test=smp mptable=");
	if (mp == 0)
		putu(mi.cpus);
	else
		puts_("none");
	puts_(" madt=");
	if (madt >= 0)
		putu((uint64_t)madt);
	else
		puts_("none");
	puts_(" expected=");
	putu(want);
	puts_(" up=");
	putu(up);
	puts_(" apic_ids=");
	for (uint32_t i = 0; i < up && i <= MAX_CPUS; i++) {
		if (i)
			putc_(',');
		putu(ap_apic_id[i]);
	}
	result(ok);
}

/* The local APIC timer interrupts us periodically. */
static void test_timer(void)
{
	lapic_write(0xf0, 0x100 | VEC_SPURIOUS);
	lapic_write(0x3e0, 0x0b);			  /* divide by 1 */
	lapic_write(0x320, (1u << 17) | VEC_LAPIC_TIMER); /* periodic */
	uint64_t t0 = rdtsc(), start = ticks;
	lapic_write(0x380, 1000000);
	sti();
	int ok = wait_for(&ticks, start + 10, SECONDS(5));
	cli();
	uint64_t dt = rdtsc() - t0, n = ticks - start;
	lapic_write(0x320, 1u << 16); /* mask */
	lapic_write(0x380, 0);
	puts_("PROBE: test=timer ticks=");
	putu(n);
	puts_(" tsc_per_tick=");
	putu(n ? dt / n : 0);
	result(ok);
}

/* The PIT's IRQ 0 reaches us through the I/O APIC pin the MP table names. */
static void test_pit(void)
{
	struct mp_info mi;
	int pin = mptable_read(&mi) == 0 && mi.irq0_pin >= 0 ? mi.irq0_pin : 2;
	uint32_t dest = lapic_read(0x20) >> 24;

	pic_mask_all();
	lapic_write(0xf0, 0x100 | VEC_SPURIOUS);
	ioapic_write(0x11 + 2 * (uint32_t)pin, dest << 24);
	ioapic_write(0x10 + 2 * (uint32_t)pin, VEC_PIT); /* fixed, edge, unmasked */
	uint64_t start = irq_count[VEC_PIT];
	pit_periodic(1193); /* ~1 kHz */
	sti();
	int ok = wait_for(&irq_count[VEC_PIT], start + 5, SECONDS(5));
	cli();
	ioapic_write(0x10 + 2 * (uint32_t)pin, 1u << 16); /* mask */
	puts_("PROBE: test=pit pin=");
	putu((uint64_t)pin);
	puts_(" irqs=");
	putu(irq_count[VEC_PIT] - start);
	result(ok);
}

/* A CPU-bound loop; the benchmark compares its cycles with the host's. */
static void test_cpuloop(void)
{
	uint64_t n = arg_u64("probe.iters", 100000000), i = n;
	uint64_t t0 = rdtsc();
	__asm__ volatile("1: dec %0; jnz 1b" : "+r"(i) : : "cc");
	uint64_t dt = rdtsc() - t0;
	puts_("PROBE: test=cpuloop iters=");
	putu(n);
	puts_(" tsc=");
	putu(dt);
	result(n > 0);
}

/* virtio-blk (virtio.c): each prints its own lines; one verdict each here */
int probe_blk(void);
int probe_blk_hostile(void);
int probe_blk_discard(void);
int probe_blk_msix(void);
int probe_blkbench(const char *mode, uint64_t bs, uint64_t qd, uint64_t ops, int irq);

static void verdict(int fails)
{
	if (fails)
		failed++;
	else
		passed++;
}

static void test_blk(void)
{
	verdict(probe_blk());
}

static void test_blk_hostile(void)
{
	verdict(probe_blk_hostile());
}

static void test_blk_discard(void)
{
	verdict(probe_blk_discard());
}

int probe_net(void);
int probe_net_hostile(void);
int probe_reqflood(void);

/* never returns while a device is found: the host test stops hearth */
static void test_reqflood(void)
{
	verdict(probe_reqflood());
}

static void test_net(void)
{
	verdict(probe_net());
}

static void test_net_hostile(void)
{
	verdict(probe_net_hostile());
}

int probe_net_tso_tx(void);
int probe_net_tso_rx(void);

static void test_net_tso_tx(void)
{
	verdict(probe_net_tso_tx());
}

static void test_net_tso_rx(void)
{
	verdict(probe_net_tso_rx());
}

static void test_blk_msix(void)
{
	verdict(probe_blk_msix());
}

static void test_blkbench(void)
{
	char mode[16] = "randread";
	size_t len;
	const char *m = arg("probe.bench", &len);

	if (m && len < sizeof(mode)) {
		for (size_t i = 0; i < len; i++)
			mode[i] = m[i];
		mode[len] = 0;
	}
	const char *w = arg("probe.wait", &len);

	verdict(probe_blkbench(mode, arg_u64("probe.bs", 4096), arg_u64("probe.qd", 1),
			       arg_u64("probe.ops", 10000), w && len == 3 && w[0] == 'i'));
}

/* Waits (up to 60 s) for Ctrl-Alt-Del on the keyboard, polling the i8042,
 * as a guest's init would on a shutdown request; then ends the run with
 * probe.status, as a guest powering off would. */
static void test_cad(void)
{
	static const uint8_t want[] = { 0x1d, 0x38, 0xe0, 0x53 }; /* Ctrl, Alt, Del (set 1) */
	unsigned got = 0;

	puts_("PROBE: test=cad waiting for ctrl-alt-del\n");
	for (uint64_t t0 = rdtsc(); got < sizeof(want) && rdtsc() - t0 < SECONDS(60);) {
		if (!(inb(0x64) & 1)) {
			for (int i = 0; i < 1000; i++)
				pause();
			continue;
		}
		uint8_t c = inb(0x60);
		got = c == want[got] ? got + 1 : c == want[0] ? 1 : 0;
	}
	puts_("PROBE: test=cad ctrl-alt-del");
	result(got == sizeof(want));
}

/* A heartbeat for the pause test: "PROBE: tick N" about every 0.1 s of TSC
 * (probe.tick_us, for bench/snapshot.sh's restore timing; at most
 * probe.ticks lines, default 3000), until Ctrl-Alt-Del arrives, which ends
 * the run as test_cad does. A paused guest prints no ticks. */
static void test_tick(void)
{
	static const uint8_t want[] = { 0x1d, 0x38, 0xe0, 0x53 };
	uint64_t max = arg_u64("probe.ticks", 3000), n = 0;
	uint64_t period = SECONDS(1) / 1000000 * arg_u64("probe.tick_us", 100000);
	unsigned got = 0;

	while (got < sizeof(want) && n < max) {
		uint64_t t0 = rdtsc();

		puts_("PROBE: tick ");
		putu(n++);
		putc_('\n');
		while (got < sizeof(want) && rdtsc() - t0 < period) {
			if (!(inb(0x64) & 1)) {
				pause();
				continue;
			}
			uint8_t c = inb(0x60);
			got = c == want[got] ? got + 1 : c == want[0] ? 1 : 0;
		}
	}
	puts_("PROBE: test=tick ticks=");
	putu(n);
	puts_(got == sizeof(want) ? " ctrl-alt-del" : " no ctrl-alt-del");
	result(got == sizeof(want));
}

/*
 * A console flood, as a hostile guest would: probe.flood lines (default
 * 4096) of 64 bytes, "PROBE: flood NNNNNNNN xxx...\n", each byte written
 * straight to THR without waiting for LSR (one exit per byte), then boot
 * marker 2, which hearth logs on its own stderr: a guest whose console
 * reader stalled gets there only if hearth never waits for that reader.
 */
static void test_flood(void)
{
	static const char head[] = "PROBE: flood 00000000 ";
	uint64_t lines = arg_u64("probe.flood", 4096);
	char line[64];

	for (int i = 0; i < 63; i++)
		line[i] = i < 22 ? head[i] : (char)('a' + i % 26);
	line[63] = '\n';
	for (uint64_t n = 0; n < lines; n++) {
		uint64_t v = n;

		for (int d = 20; d >= 13; d--, v /= 10)
			line[d] = (char)('0' + v % 10);
		for (int i = 0; i < 64; i++)
			outb(0x3f8, (uint8_t)line[i]);
	}
	outb(HEARTH_MARKER_PORT, 2);
	puts_("PROBE: test=flood lines=");
	putu(lines);
	result(1);
}

/* probe.tests=markers: probe.markers=N (default 2000) boot markers in a
 * row, which hearth must not log one line each. */
static void test_markers(void)
{
	uint64_t n = arg_u64("probe.markers", 2000);

	for (uint64_t i = 0; i < n; i++)
		outb(HEARTH_MARKER_PORT, (uint8_t)(i + 2));
	puts_("PROBE: test=markers count=");
	putu(n);
	result(1);
}

struct test {
	const char *name;
	void (*fn)(void);
};

static const struct test tests[] = {
	{ "serial", test_serial },
	{ "smp", test_smp },
	{ "timer", test_timer },
	{ "pit", test_pit },
	{ "cpuloop", test_cpuloop },
	{ "blk", test_blk },
	{ "blk-hostile", test_blk_hostile },
	{ "blkbench", test_blkbench },
	{ "blk-msix", test_blk_msix },
	{ "blk-discard", test_blk_discard },
	{ "net", test_net },
	{ "net-hostile", test_net_hostile },
	{ "net-tso-tx", test_net_tso_tx },
	{ "net-tso-rx", test_net_tso_rx },
	{ "cad", test_cad },
	{ "tick", test_tick },
	{ "flood", test_flood },
	{ "reqflood", test_reqflood },
	{ "markers", test_markers },
};

static int word_is(const char *w, size_t len, const char *name)
{
	if (slen(name) != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (w[i] != name[i])
			return 0;
	return 1;
}

void probe_main(void)
{
	const struct hvm_start_info *si = (const struct hvm_start_info *)(uint64_t)start_info_pa;
	size_t len;
	const char *list;

	serial_init();
	pic_mask_all(); /* firmware may have left the 8259 on BIOS vectors (8-15) */
	if (si && si->magic == 0x336ec578 && si->cmdline_paddr &&
	    si->cmdline_paddr < 0x100000000ull)
		cmdline = (const char *)si->cmdline_paddr;
	outb(HEARTH_MARKER_PORT, 1);
	puts_("PROBE: ready cmdline=\"");
	puts_(cmdline);
	puts_("\"\n");

	list = arg("probe.tests", &len);
	if (!list) {
		list = "serial,smp,timer,pit";
		len = slen(list);
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && list[j] != ',')
			j++;
		if (word_is(list + i, j - i, "idle")) {
			puts_("PROBE: idle\n");
			__asm__ volatile("hlt"); /* idle for good (entry.S) */
		}
		int found = 0;
		for (size_t t = 0; t < sizeof(tests) / sizeof(tests[0]); t++)
			if (word_is(list + i, j - i, tests[t].name)) {
				tests[t].fn();
				found = 1;
			}
		if (!found) {
			puts_("PROBE: test=");
			for (size_t k = i; k < j; k++)
				putc_(list[k]);
			puts_(" unknown");
			result(0);
		}
		i = j + 1;
	}
	puts_("PROBE: done pass=");
	putu(passed);
	puts_(" fail=");
	putu(failed);
	putc_('\n');
	vm_exit(failed ? STATUS_FAIL : (uint8_t)arg_u64("probe.status", 0));
}

void probe_fault(void)
{
	static const char *const names[] = { "vector=", " error=", " rip=", " cs=", " cr2=" };
	puts_("\nPROBE: fault ");
	for (int i = 0; i < 5; i++) {
		puts_(names[i]);
		putx(fault_info[i]);
	}
	putc_('\n');
	vm_exit(STATUS_FAULT);
}
