/*
 * /init of hearth's Linux test guest: a static program on the kernel's own
 * nolibc, a few KB, because unpacking an initramfs costs ~12 us per byte on
 * hosts where the guest kernel is emulated.
 *
 * It prints "HEARTH-INIT: reached /init", runs the checks named by
 * hearth.checks=a,b,c on the kernel command line (one "HEARTH-CHECK:" line
 * each), prints "HEARTH-RESULT: pass|fail", then hands the verdict (0 or 1)
 * to the VMM: through hearth's exit port (hearth.exit_port=, default 0x4f0)
 * and QEMU's isa-debug-exit port 0x501, written through /dev/port so the
 * kernel does the port I/O (user-mode port I/O needs IOPL/ioperm, which PVM
 * hosts do not honour), then powers off.
 */
#define MAX_CMDLINE 4096
#ifndef LINUX_REBOOT_CMD_CAD_OFF
#define LINUX_REBOOT_CMD_CAD_OFF 0 /* linux/reboot.h */
#endif
#ifndef O_DIRECT
#define O_DIRECT 040000 /* x86-64 */
#endif
#ifndef TCSBRK
#define TCSBRK 0x5409 /* asm-generic/ioctls.h */
#endif

static char cmdline[MAX_CMDLINE];
static int failed;

static unsigned long slen(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	write(1, s, slen(s));
}

static long read_file(const char *path, char *buf, long size)
{
	int fd = open(path, O_RDONLY, 0);
	long n, got = 0;
	if (fd < 0)
		return -1;
	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return got;
}

/* The value of KEY= on the command line (copied into @out), or 0. */
static const char *param(const char *key, char *out, unsigned long size)
{
	unsigned long kl = slen(key);
	for (const char *p = cmdline; *p;) {
		while (*p == ' ' || *p == '\n')
			p++;
		const char *w = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		if ((unsigned long)(p - w) > kl && w[kl] == '=' && !memcmp(w, key, kl)) {
			unsigned long n = (unsigned long)(p - w) - kl - 1;
			if (n >= size)
				n = size - 1;
			memcpy(out, w + kl + 1, n);
			out[n] = 0;
			return out;
		}
	}
	return 0;
}

static unsigned long parse_num(const char *s)
{
	unsigned long v = 0, base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2, base = 16;
	for (; *s; s++) {
		unsigned d = (*s >= '0' && *s <= '9')	? (unsigned)(*s - '0')
			     : (*s >= 'a' && *s <= 'f') ? (unsigned)(*s - 'a' + 10)
			     : (*s >= 'A' && *s <= 'F') ? (unsigned)(*s - 'A' + 10)
							: 99;
		if (d >= base)
			break;
		v = v * base + d;
	}
	return v;
}

static void check(const char *name, int ok, const char *detail)
{
	say("HEARTH-CHECK: ");
	say(name);
	say(" ");
	say(detail);
	say(ok ? " result=pass\n" : " result=fail\n");
	failed |= !ok;
}

/* Formats @v in decimal at @out (room for 21 bytes); returns @out. */
static char *fmt_u(char *out, unsigned long v)
{
	char b[21];
	int i = 20, n = 0;
	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while ((out[n] = b[i + n]))
		n++;
	return out;
}

/* cpus: the CPUs online (sysfs ranges like "0-3,5") are as many as
 * hearth.cpus= says (default: at least one). */
static void check_cpus(void)
{
	char buf[256], want[16], detail[48];
	unsigned long n = 0;
	if (read_file("/sys/devices/system/cpu/online", buf, sizeof(buf)) <= 0) {
		check("cpus", 0, "no /sys/devices/system/cpu/online");
		return;
	}
	for (const char *p = buf; *p >= '0' && *p <= '9';) {
		unsigned long a = parse_num(p), b = a;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '-') {
			b = parse_num(++p);
			while (*p >= '0' && *p <= '9')
				p++;
		}
		n += b >= a ? b - a + 1 : 0;
		if (*p == ',')
			p++;
	}
	unsigned long expect = param("hearth.cpus", want, sizeof(want)) ? parse_num(want) : n;
	memcpy(detail, "online=", 8);
	fmt_u(detail + 7, n);
	check("cpus", n >= 1 && n == expect, detail);
}

/* The byte at offset @i of the pattern the disk check writes; the host
 * test computes the same (tests/linux/linux_guest.sh). */
static unsigned char pattern(unsigned long i, unsigned long seed)
{
	return (unsigned char)(i * 131 + seed * 7 + (i >> 9));
}

#define DISK_OFF   (1UL << 20)
#define DISK_BYTES (1UL << 20)
#define CHUNK	   65536UL
static unsigned char iobuf[CHUNK] __attribute__((aligned(4096)));

/* disk: 1 MiB of a pattern at 1 MiB into hearth.disk= (default /dev/vdb),
 * written and read back with O_DIRECT (so through the device, not the page
 * cache), with fsync (a FLUSH) in between. */
static void check_disk(void)
{
	char dev[64], seedbuf[24], detail[96];
	unsigned long seed =
		param("hearth.seed", seedbuf, sizeof(seedbuf)) ? parse_num(seedbuf) : 1;
	int fd, ok = 1;

	if (!param("hearth.disk", dev, sizeof(dev)))
		memcpy(dev, "/dev/vdb", 9);
	fd = open(dev, O_RDWR | O_DIRECT, 0);
	ok = fd >= 0;
	for (unsigned long c = 0; ok && c < DISK_BYTES / CHUNK; c++) {
		for (unsigned long j = 0; j < CHUNK; j++)
			iobuf[j] = pattern(c * CHUNK + j, seed);
		ok = lseek(fd, (off_t)(DISK_OFF + c * CHUNK), SEEK_SET) >= 0 &&
		     write(fd, iobuf, CHUNK) == (ssize_t)CHUNK;
	}
	ok = ok && fsync(fd) == 0;
	for (unsigned long c = 0; ok && c < DISK_BYTES / CHUNK; c++) {
		memset(iobuf, 0, CHUNK);
		ok = lseek(fd, (off_t)(DISK_OFF + c * CHUNK), SEEK_SET) >= 0 &&
		     read(fd, iobuf, CHUNK) == (ssize_t)CHUNK;
		for (unsigned long j = 0; ok && j < CHUNK; j++)
			ok = iobuf[j] == pattern(c * CHUNK + j, seed);
	}
	if (fd >= 0)
		close(fd);
	memcpy(detail, "dev=", 5);
	memcpy(detail + 4, dev, slen(dev) + 1);
	memcpy(detail + slen(detail), " bytes=1048576", 15);
	check("disk", ok, detail);
}

/* rootfs: / is ext4 on a disk (booted with root=/dev/vda), and a file
 * written there, fsynced and read back is intact; the host reads it from
 * the image after the guest is gone. */
static void check_rootfs(void)
{
	static const char text[] = "hearth wrote this file from the guest\n";
	char buf[4096];
	long n = read_file("/proc/mounts", buf, sizeof(buf));
	int ext4_root = 0, ok, fd;

	for (char *p = buf; n > 0 && *p;) {
		char *e = p;
		while (*e && *e != '\n')
			e++;
		/* "/dev/root / ext4 rw,..." */
		for (char *q = p; q + 8 <= e; q++)
			if (!memcmp(q, " / ext4 ", 8))
				ext4_root = 1;
		p = *e ? e + 1 : e;
	}
	fd = open("/hearth-root.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ok = ext4_root && fd >= 0 &&
	     write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1) && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	ok = ok && read_file("/hearth-root.txt", buf, sizeof(buf)) == (long)(sizeof(text) - 1) &&
	     !memcmp(buf, text, sizeof(text) - 1);
	check("rootfs", ok, ext4_root ? "fs=ext4" : "fs=not-ext4");
}

/* ---- net: eth0 by hand (ioctls), then TCP to the host's server ---- */
#define SIOCGIFFLAGS_	0x8913
#define SIOCSIFFLAGS_	0x8914
#define SIOCSIFADDR_	0x8916
#define SIOCSIFNETMASK_ 0x891c

struct sin {
	unsigned short family, port; /* port big-endian */
	unsigned int addr;	     /* big-endian */
	unsigned char zero[8];
};
struct ifr {
	char name[16];
	union {
		struct sin a;
		short flags;
		unsigned char pad[24];
	} u;
};

static unsigned int ip_be(const char *s)
{
	unsigned int v = 0, part = 0;
	for (; *s; s++) {
		if (*s == '.') {
			v = v << 8 | part;
			part = 0;
		} else {
			part = part * 10 + (unsigned)(*s - '0');
		}
	}
	v = v << 8 | part;
	return __builtin_bswap32(v);
}

static int if_setup(const char *name, unsigned int addr, unsigned int mask)
{
	int s = (int)my_syscall3(__NR_socket, 2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0);
	struct ifr r;
	int ok;

	if (s < 0)
		return 0;
	memset(&r, 0, sizeof(r));
	memcpy(r.name, name, slen(name) + 1);
	r.u.a.family = 2;
	r.u.a.addr = addr;
	ok = ioctl(s, SIOCSIFADDR_, &r) == 0;
	r.u.a.addr = mask;
	ok = ok && ioctl(s, SIOCSIFNETMASK_, &r) == 0;
	memset(&r.u, 0, sizeof(r.u));
	ok = ok && ioctl(s, SIOCGIFFLAGS_, &r) == 0;
	r.u.flags |= 1; /* IFF_UP */
	ok = ok && ioctl(s, SIOCSIFFLAGS_, &r) == 0;
	close(s);
	return ok;
}

/* The pattern both ends move, and FNV-1a-64 over what crossed. */
static unsigned char net_pattern(unsigned long i, unsigned long seed)
{
	return (unsigned char)(i * 7 + seed + (i >> 12) * 13);
}

static unsigned long fnv(unsigned long h, const unsigned char *p, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3UL;
	return h;
}

static unsigned long now_us(void)
{
	struct timespec ts;
	my_syscall2(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, &ts);
	return (unsigned long)ts.tv_sec * 1000000UL + (unsigned long)ts.tv_nsec / 1000;
}

static int tcp_connect(unsigned int addr, unsigned short port)
{
	struct sin a = { 2, (unsigned short)(port >> 8 | port << 8), addr, { 0 } };
	for (int tries = 0; tries < 50; tries++) {
		int s = (int)my_syscall3(__NR_socket, 2, 1 /* SOCK_STREAM */, 0);
		if (s < 0)
			return -1;
		if (my_syscall3(__NR_connect, s, &a, sizeof(a)) == 0)
			return s;
		close(s);
		struct timespec pause = { 0, 200000000 };
		my_syscall2(__NR_nanosleep, &pause, 0);
	}
	return -1;
}

static char *fmt_hex(char *out, unsigned long v)
{
	for (int i = 0; i < 16; i++)
		out[i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
	out[16] = 0;
	return out;
}

/* ICMP echo to @addr over a raw socket: @count requests, each answered
 * within a second with the same id, sequence and payload. Returns the
 * replies that matched. */
static unsigned short icmp_sum(const unsigned char *p, unsigned long n)
{
	unsigned long sum = 0;
	for (unsigned long i = 0; i + 1 < n; i += 2)
		sum += (unsigned long)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (unsigned long)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned short)~sum;
}

static int ping(unsigned int addr, int count)
{
	struct sin to = { 2, 0, addr, { 0 } };
	struct {
		long sec, usec;
	} tmo = { 1, 0 };
	unsigned char pkt[64], in[256];
	int s = (int)my_syscall3(__NR_socket, 2, 3 /* SOCK_RAW */, 1 /* IPPROTO_ICMP */), got = 0;

	if (s < 0)
		return 0;
	my_syscall5(__NR_setsockopt, s, 1 /* SOL_SOCKET */, 20 /* SO_RCVTIMEO */, &tmo,
		    sizeof(tmo));
	for (int seq = 1; seq <= count; seq++) {
		unsigned short c;
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = 8; /* echo request */
		pkt[4] = 0x4e;
		pkt[5] = 0x54; /* id */
		pkt[7] = (unsigned char)seq;
		for (unsigned i = 8; i < sizeof(pkt); i++)
			pkt[i] = (unsigned char)(i * 3 + (unsigned)seq);
		c = icmp_sum(pkt, sizeof(pkt));
		pkt[2] = (unsigned char)(c >> 8);
		pkt[3] = (unsigned char)c;
		if (my_syscall6(__NR_sendto, s, pkt, sizeof(pkt), 0, &to, sizeof(to)) !=
		    sizeof(pkt))
			continue;
		for (;;) {
			long r = my_syscall6(__NR_recvfrom, s, in, sizeof(in), 0, 0, 0);
			unsigned long ihl;
			if (r <= 0)
				break; /* timed out */
			ihl = (unsigned long)(in[0] & 15) * 4;
			if ((unsigned long)r < ihl + sizeof(pkt) || in[ihl] != 0 /* echo reply */ ||
			    memcmp(in + ihl + 4, pkt + 4, 4))
				continue; /* our own request, or someone else's */
			got += !memcmp(in + ihl + 8, pkt + 8, sizeof(pkt) - 8);
			break;
		}
	}
	close(s);
	return got;
}

/* Sends "PUT n seed\n" and n bytes, then "GET n seed\n" and reads n bytes:
 * the server checks and answers with its FNV of what it got. */
static void check_net(void)
{
	char ip[32], peer[32], num[24], detail[200], line[64], h[17];
	unsigned long n = param("hearth.netbytes", num, sizeof(num)) ? parse_num(num) : 8UL << 20;
	unsigned short port =
		param("hearth.port", num, sizeof(num)) ? (unsigned short)parse_num(num) : 7780;
	unsigned long seed = 3, sent_fnv = 0xcbf29ce484222325UL, got_fnv = 0xcbf29ce484222325UL;
	unsigned long t0, t_up = 0, t_down = 0, done;
	int s, ok;
	long r;

	if (!param("hearth.ip", ip, sizeof(ip)) || !param("hearth.peer", peer, sizeof(peer))) {
		check("net", 0, "needs hearth.ip= and hearth.peer=");
		return;
	}
	ok = if_setup("eth0", ip_be(ip), ip_be("255.255.0.0"));
	{
		char mac[32] = "", feat[80] = "";
		read_file("/sys/class/net/eth0/address", mac, sizeof(mac));
		read_file("/sys/class/net/eth0/device/features", feat, sizeof(feat));
		for (char *p = mac; *p; p++)
			if (*p == '\n')
				*p = 0;
		for (char *p = feat; *p; p++)
			if (*p == '\n')
				*p = 0;
		memcpy(detail, ip, slen(ip) + 1);
		memcpy(detail + slen(detail), " mac=", 6);
		memcpy(detail + slen(detail), mac, slen(mac) + 1);
		memcpy(detail + slen(detail), " features=", 11);
		memcpy(detail + slen(detail), feat, slen(feat) + 1);
	}
	check("net-eth0", ok, detail);
	if (ok) {
		int replies = ping(ip_be(peer), 3);
		memcpy(detail, "replies=", 9);
		fmt_u(detail + 8, (unsigned long)replies);
		check("net-ping", replies == 3, detail);
	}
	s = ok ? tcp_connect(ip_be(peer), port) : -1;
	ok = s >= 0;
	/* guest -> host */
	if (ok) {
		unsigned long len = 0;
		memcpy(line, "PUT ", 4);
		fmt_u(line + 4, n);
		len = slen(line);
		line[len++] = '\n';
		ok = write(s, line, len) == (ssize_t)len;
		t0 = now_us();
		for (done = 0; ok && done < n;) {
			unsigned long c = n - done < CHUNK ? n - done : CHUNK;
			for (unsigned long j = 0; j < c; j++)
				iobuf[j] = net_pattern(done + j, seed);
			for (unsigned long off = 0; ok && off < c; off += (unsigned long)r)
				ok = (r = write(s, iobuf + off, c - off)) > 0;
			sent_fnv = fnv(sent_fnv, iobuf, c);
			done += c;
		}
		/* the server's answer: "OK <fnv hex>\n" once it has it all */
		memset(line, 0, sizeof(line));
		for (unsigned long got = 0; ok && got < 20;) {
			r = read(s, line + got, 20 - got);
			ok = r > 0;
			got += ok ? (unsigned long)r : 0;
		}
		t_up = now_us() - t0;
		ok = ok && !memcmp(line, "OK ", 3) && !memcmp(line + 3, fmt_hex(h, sent_fnv), 16);
	}
	memcpy(detail, "bytes=", 7);
	fmt_u(detail + 6, n);
	memcpy(detail + slen(detail), " us=", 5);
	fmt_u(detail + slen(detail), t_up);
	memcpy(detail + slen(detail), " fnv=", 6);
	memcpy(detail + slen(detail), fmt_hex(h, sent_fnv), 17);
	check("net-tcp-to-host", ok, detail);
	/* host -> guest */
	if (ok) {
		memcpy(line, "GET ", 4);
		fmt_u(line + 4, n);
		unsigned long len = slen(line);
		line[len++] = '\n';
		ok = write(s, line, len) == (ssize_t)len;
		t0 = now_us();
		for (done = 0; ok && done < n;) {
			unsigned long c = n - done < CHUNK ? n - done : CHUNK;
			r = read(s, iobuf, c);
			ok = r > 0;
			for (long j = 0; ok && j < r; j++)
				ok = iobuf[j] == net_pattern(done + (unsigned long)j, seed + 1);
			if (ok) {
				got_fnv = fnv(got_fnv, iobuf, (unsigned long)r);
				done += (unsigned long)r;
			}
		}
		t_down = now_us() - t0;
	}
	if (s >= 0)
		close(s);
	memcpy(detail, "bytes=", 7);
	fmt_u(detail + 6, n);
	memcpy(detail + slen(detail), " us=", 5);
	fmt_u(detail + slen(detail), t_down);
	memcpy(detail + slen(detail), " fnv=", 6);
	memcpy(detail + slen(detail), fmt_hex(h, got_fnv), 17);
	check("net-tcp-from-host", ok, detail);
}

/* hearth.wait=cad: after the checks, wait for Ctrl-Alt-Del as an init does
 * for a shutdown request: with CAD off the kernel sends init SIGINT instead
 * of rebooting; then power off (through the exit port). */
static void wait_for_cad(void)
{
	unsigned long set = 1UL << (SIGINT - 1);
	long sig;

	reboot(LINUX_REBOOT_CMD_CAD_OFF);
	my_syscall4(__NR_rt_sigprocmask, SIG_BLOCK, &set, 0, sizeof(set));
	say("HEARTH-INIT: waiting for ctrl-alt-del\n");
	ioctl(1, TCSBRK, (void *)1);
	sig = my_syscall4(__NR_rt_sigtimedwait, &set, 0, 0, sizeof(set));
	say(sig == SIGINT ? "HEARTH-INIT: ctrl-alt-del: powering off\n"
			  : "HEARTH-INIT: woken without ctrl-alt-del\n");
	failed |= sig != SIGINT;
}

static void check_cmdline(void)
{
	say("HEARTH-CHECK: cmdline ");
	write(1, cmdline, slen(cmdline) - (slen(cmdline) && cmdline[slen(cmdline) - 1] == '\n'));
	say(" result=pass\n");
}

static void port_write(unsigned long port, unsigned char v)
{
	int fd = open("/dev/port", O_WRONLY, 0);
	if (fd < 0)
		return;
	if (lseek(fd, (off_t)port, SEEK_SET) == (off_t)port)
		write(fd, &v, 1);
	close(fd);
}

int main(void)
{
	char list[256], port[32];

	/* fds 0-2 are /dev/console: the initramfs has the node, the kernel opens it */
	mount("proc", "/proc", "proc", 0, 0);
	mount("sysfs", "/sys", "sysfs", 0, 0);
	mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
	say("HEARTH-INIT: reached /init\n");
	read_file("/proc/cmdline", cmdline, sizeof(cmdline));

	if (param("hearth.checks", list, sizeof(list))) {
		for (char *c = list; *c;) {
			char *e = c;
			while (*e && *e != ',')
				e++;
			char saved = *e;
			*e = 0;
			if (!memcmp(c, "cpus", 5))
				check_cpus();
			else if (!memcmp(c, "cmdline", 8))
				check_cmdline();
			else if (!memcmp(c, "disk", 5))
				check_disk();
			else if (!memcmp(c, "rootfs", 7))
				check_rootfs();
			else if (!memcmp(c, "net", 4))
				check_net();
			else
				check(c, 0, "unknown");
			if (!saved)
				break;
			c = e + 1;
		}
	}
	if (param("hearth.wait", port, sizeof(port)) && !memcmp(port, "cad", 4))
		wait_for_cad();
	say(failed ? "HEARTH-RESULT: fail\n" : "HEARTH-RESULT: pass\n");
	ioctl(1, TCSBRK, (void *)1); /* tcdrain: the console must show it all before we go */
	unsigned long exit_port =
		param("hearth.exit_port", port, sizeof(port)) ? parse_num(port) : 0x4f0;
	port_write(exit_port, (unsigned char)failed);
	port_write(0x501, (unsigned char)failed);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	for (;;)
		sched_yield();
}
