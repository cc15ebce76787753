// SPDX-License-Identifier: MIT
/*
 * sandbox_gen: compiles hearth's seccomp allow lists (src/sandbox_rules.c)
 * into BPF at build time, with libseccomp, and writes them as a C file
 * that src/sandbox.c loads at run time (docs/security.md: why at build
 * time). One program for the vCPU threads, one for each combination of
 * the I/O thread's needs (SANDBOX_NEED_*) and one for the disk image
 * reader's child, and the name of every system call number for the
 * violation line.
 *
 * tgkill() is allowed only to hearth's own process, whose pid exists at
 * run time only. So each program is compiled twice, with two different
 * made-up pids: the instructions in which the two differ, and only by
 * those values, are where the pid goes; they are written out with 0 and
 * listed, and sandbox_load() writes the pid there before loading a copy.
 * Anything else that differs between the two fails the build.
 *
 *   sandbox_gen OUTPUT.c
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox_rules.h"

/* The two made-up pids (positive, as pid_t is): see above. */
#define PID_A 0x7e57a001u
#define PID_B 0x7e57b002u

static unsigned long own_pid;

/* Allows @nr when argument @arg equals one of @vals. */
static int allow_arg_in(scmp_filter_ctx f, int nr, unsigned arg, const unsigned long *vals,
			size_t n)
{
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 1,
				       SCMP_CMP(arg, SCMP_CMP_EQ, (scmp_datum_t)vals[i], 0));
	return ret;
}

static int add_rule(scmp_filter_ctx f, const struct rule *r)
{
	static const unsigned long fl[] = { F_GETFL, F_SETFL, F_OFD_SETLK },
				   fd[] = { F_GETFD, F_SETFD, F_DUPFD_CLOEXEC },
				   inet[] = { AF_INET, AF_INET6 }, rusage[] = { RUSAGE_THREAD },
				   dumpable[] = { PR_GET_DUMPABLE },
				   snap_open[] = { O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
						   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
							   O_NOFOLLOW },
				   kick[] = { SANDBOX_KICK_SIGNAL, SIGABRT };

	switch (r->check) {
	case NO_EXEC:
		return seccomp_rule_add(f, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	case FL_ONLY: return allow_arg_in(f, r->nr, 1, fl, 3);
	case THREAD_RUSAGE: return allow_arg_in(f, r->nr, 0, rusage, 1);
	case FD_FLAGS: return allow_arg_in(f, r->nr, 1, fd, 3);
	case INET_STREAM: {
		/* TCP only; glibc's getaddrinfo() asks nscd (AF_UNIX) and the
		 * routing tables (AF_NETLINK) first, and sorts its answers with
		 * UDP sockets (SOCK_DGRAM): it does without all three, which
		 * fail with EACCES; a raw or any other socket traps */
		int ret = 0;

		for (size_t i = 0; i < 2 && !ret; i++)
			ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, r->nr, 2,
					       SCMP_A0(SCMP_CMP_EQ, inet[i], 0),
					       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
		for (size_t i = 0; i < 2 && !ret; i++)
			ret = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), r->nr, 2,
					       SCMP_A0(SCMP_CMP_EQ, inet[i], 0),
					       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
		for (size_t i = 0; i < 2 && !ret; i++)
			ret = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), r->nr, 1,
					       SCMP_A0(SCMP_CMP_EQ, i ? AF_NETLINK : AF_UNIX, 0));
		return ret;
	}
	case DUMPABLE: return allow_arg_in(f, r->nr, 0, dumpable, 1);
	case SNAPSHOT_OPEN: return allow_arg_in(f, r->nr, 2, snap_open, 2);
	case OWN_KICK:
	case OWN_ABORT: {
		/* tgkill(pid, tid, sig): pid and sig as the kernel reads them
		 * (ints: the low 32 bits); pid patched in at load time */
		size_t n = r->check == OWN_KICK ? 2 : 1;
		const unsigned long *sig = r->check == OWN_KICK ? kick : kick + 1;
		int ret = 0;

		for (size_t i = 0; i < n && !ret; i++)
			ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, r->nr, 2,
					       SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, own_pid),
					       SCMP_A2(SCMP_CMP_MASKED_EQ, 0xffffffffu, sig[i]));
		return ret;
	}
	case REFUSE: return seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), r->nr, 0);
	case REFUSE_READ:
		/* no rule without arguments: libseccomp lets one win over the
		 * openat a snapshot's writer is allowed (SNAPSHOT_OPEN), whose
		 * flags this mask keeps apart */
		return seccomp_rule_add(
			f, SCMP_ACT_ERRNO(EACCES), r->nr, 1,
			SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_NOFOLLOW, 0));
	case ANY: break;
	}
	return seccomp_rule_add(f, SCMP_ACT_ALLOW, r->nr, 0);
}

static bool listed(const struct rule *r, size_t n, int nr)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].nr == nr)
			return true;
	return false;
}

static int add_rules(scmp_filter_ctx f, enum sandbox_thread kind, unsigned have)
{
	const struct rule *rules;
	const struct ioctl_rule *ioctls;
	const struct rule *san;
	size_t nrules, nioctls, nsan;
	int ret = 0;

	sandbox_tables(kind, &rules, &nrules, &ioctls, &nioctls);
	san = sandbox_sanitizer_rules(&nsan);
	for (size_t i = 0; i < nrules && !ret; i++)
		/* ioctl (ANY) stands for the list of commands below */
		if (sandbox_wanted(rules[i].need, have) &&
		    !(rules[i].nr == SCMP_SYS(ioctl) && rules[i].check == ANY) &&
		    !(sandbox_refusing(&rules[i]) && listed(san, nsan, rules[i].nr)))
			ret = add_rule(f, &rules[i]);
	/* the ioctl request is an unsigned int in the kernel: compare the
	 * low 32 bits, whatever the caller left in the upper ones */
	for (size_t i = 0; i < nioctls && !ret; i++)
		if (sandbox_wanted(ioctls[i].need, have))
			ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
						       ioctls[i].req & 0xffffffffu));
	/* In a sanitizer build a call the runtimes make is allowed even where
	 * a need would refuse it (an iSCSI VM's open: the leak check at exit
	 * reads /proc), and with any arguments (libseccomp replaces a call's
	 * argument checks with a rule that has none: fcntl, prctl, tgkill). */
	for (size_t i = 0; i < nsan && !ret; i++)
		(void)seccomp_rule_add(f, SCMP_ACT_ALLOW, san[i].nr, 0);
	return ret;
}

/* @kind's program with @have and tgkill()'s pid @pid, into *@out (malloc);
 * its length, or -1. */
static long compile(enum sandbox_thread kind, unsigned have, unsigned long pid,
		    struct sock_filter **out)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_TRAP);
	FILE *tmp = tmpfile();
	unsigned char ins[8];
	long n = 0;
	int ret;

	*out = NULL;
	/* a call of another ABI (i386's int 0x80, x32's numbers) ends the
	 * process too: libseccomp's default would end only the thread, with
	 * no line and hearth running on without it */
	if (f && seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) {
		seccomp_release(f);
		f = NULL;
	}
	if (!f || !tmp) {
		fprintf(stderr, "sandbox_gen: %s\n", f ? strerror(errno) : "seccomp_init failed");
		if (f)
			seccomp_release(f);
		if (tmp)
			fclose(tmp);
		return -1;
	}
	own_pid = pid;
	ret = add_rules(f, kind, have);
	if (!ret)
		ret = seccomp_export_bpf(f, fileno(tmp));
	seccomp_release(f);
	if (ret) {
		fprintf(stderr, "sandbox_gen: kind %d, needs 0x%x: %s\n", (int)kind, have,
			strerror(-ret));
		fclose(tmp);
		return -1;
	}
	rewind(tmp);
	while (fread(ins, 1, sizeof(ins), tmp) == sizeof(ins)) {
		/* struct sock_filter in the host's byte order: this tool runs
		 * where hearth is built, for that machine */
		struct sock_filter *grown = realloc(*out, (size_t)(n + 1) * sizeof(**out));

		if (!grown) {
			free(*out);
			fclose(tmp);
			return -1;
		}
		*out = grown;
		memcpy(&grown[n].code, ins, 2);
		grown[n].jt = ins[2];
		grown[n].jf = ins[3];
		memcpy(&grown[n].k, ins + 4, 4);
		n++;
	}
	fclose(tmp);
	return n;
}

/* Writes @kind's program with @have as "static const struct sock_filter
 * NAME[]", and where the pid goes as "NAME_pid[]"; *@npid is how many
 * places. Returns its instruction count, or -1. */
static long emit(FILE *out, const char *name, enum sandbox_thread kind, unsigned have,
		 unsigned *npid)
{
	struct sock_filter *a, *b;
	long n = compile(kind, have, PID_A, &a), nb = compile(kind, have, PID_B, &b);
	unsigned short at[16];
	bool ok = n > 0 && n == nb && n <= SANDBOX_PROG_MAX;

	*npid = 0;
	for (long i = 0; ok && i < n; i++) {
		if (!memcmp(&a[i], &b[i], sizeof(a[i])))
			continue;
		/* only the pid's own comparisons may differ */
		ok = a[i].code == b[i].code && a[i].jt == b[i].jt && a[i].jf == b[i].jf &&
		     a[i].k == PID_A && b[i].k == PID_B && *npid < sizeof(at) / sizeof(at[0]);
		if (ok) {
			at[(*npid)++] = (unsigned short)i;
			a[i].k = 0;
		}
	}
	if (!ok) {
		fprintf(stderr,
			"sandbox_gen: %s: %ld and %ld instructions (at most %d), or they differ "
			"by more than the pid\n",
			name, n, nb, SANDBOX_PROG_MAX);
		free(a);
		free(b);
		return -1;
	}
	fprintf(out, "static const struct sock_filter %s[] = {\n", name);
	for (long i = 0; i < n; i++)
		fprintf(out, "\t{ 0x%04x, %u, %u, 0x%08x },\n", a[i].code, a[i].jt, a[i].jf,
			a[i].k);
	fprintf(out, "};\n");
	if (*npid) {
		fprintf(out, "static const unsigned short %s_pid[] = {", name);
		for (unsigned i = 0; i < *npid; i++)
			fprintf(out, "%s%u", i ? ", " : " ", at[i]);
		fprintf(out, " };\n");
	}
	free(a);
	free(b);
	return n;
}

/* The struct sandbox_prog initializer of program @name. */
static void prog(FILE *out, const char *name, unsigned npid)
{
	char pid[48];

	snprintf(pid, sizeof(pid), "%s_pid", name);
	fprintf(out, "{ %s, sizeof(%s) / sizeof(%s[0]), %u, %s }", name, name, name, npid,
		npid ? pid : "NULL");
}

int main(int argc, char **argv)
{
	enum { NEEDS = SANDBOX_NEED_ALL + 1 };
	FILE *out;
	char name[32];
	unsigned npid_vcpu = 0, npid_reader = 0, npid_reader_lun = 0, npid_io[NEEDS] = { 0 };
	int ok = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: sandbox_gen OUTPUT.c\n");
		return 2;
	}
	out = fopen(argv[1], "w");
	if (!out) {
		fprintf(stderr, "sandbox_gen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fprintf(out,
		"/* Generated by tools/sandbox_gen.c from src/sandbox_rules.c: do not edit. */\n"
		"#include <linux/filter.h>\n#include <stddef.h>\n\n#include "
		"\"sandbox_rules.h\"\n\n");
	ok = emit(out, "vcpu", SANDBOX_VCPU, 0, &npid_vcpu) > 0 &&
	     emit(out, "reader", SANDBOX_READER, 0, &npid_reader) > 0 &&
	     emit(out, "reader_lun", SANDBOX_READER, SANDBOX_NEED_ISCSI, &npid_reader_lun) > 0;
	for (unsigned have = 0; have < NEEDS && ok; have++) {
		snprintf(name, sizeof(name), "io_%u", have);
		ok = emit(out, name, SANDBOX_IO, have, &npid_io[have]) > 0;
	}
	fprintf(out, "\nconst struct sandbox_prog sandbox_prog_vcpu = ");
	prog(out, "vcpu", npid_vcpu);
	fprintf(out, ";\nconst struct sandbox_prog sandbox_prog_reader = ");
	prog(out, "reader", npid_reader);
	fprintf(out, ";\nconst struct sandbox_prog sandbox_prog_reader_lun = ");
	prog(out, "reader_lun", npid_reader_lun);
	fprintf(out, ";\nconst struct sandbox_prog sandbox_prog_io[%u] = {\n", (unsigned)NEEDS);
	for (unsigned have = 0; have < NEEDS; have++) {
		snprintf(name, sizeof(name), "io_%u", have);
		fprintf(out, "\t");
		prog(out, name, npid_io[have]);
		fprintf(out, ",\n");
	}
	fprintf(out, "};\n\nconst char *const sandbox_syscall_names[SANDBOX_SYSCALL_NAMES] = {\n");
	for (int nr = 0; nr < SANDBOX_SYSCALL_NAMES; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (s)
			fprintf(out, "\t[%d] = \"%s\",\n", nr, s);
		free(s);
	}
	fprintf(out, "};\n");
	if (fclose(out) || !ok) {
		fprintf(stderr, "sandbox_gen: %s not written\n", argv[1]);
		unlink(argv[1]);
		return 1;
	}
	return 0;
}
