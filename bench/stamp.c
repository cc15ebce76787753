// SPDX-License-Identifier: MIT
/*
 * stamp: runs a command and reports, from just before fork to each event,
 * when a marker string first appeared on its standard output and when it
 * exited; optionally its resident memory outside guest RAM, sampled once
 * the marker is seen (then the command is killed with SIGKILL: the sample is
 * taken, and a VMM's graceful stop, such as hearth's --shutdown-timeout
 * wait for an idle guest, would only slow the run down).
 *
 *   stamp [--marker STR] [--rss-exclude BYTES] [--io-cpu] [--tee FILE] [--timeout SEC] -- CMD...
 *
 * Prints one line: "marker_ms exit_ms rss_kib status io_cpu_ms" (marker_ms
 * -1 if the marker never appeared, rss_kib -1 if not sampled, status as the
 * shell's $?, io_cpu_ms -1 if not sampled). --io-cpu samples, at the marker,
 * the CPU time of every thread that does not run a vCPU (hearth's "vcpuN",
 * QEMU's "CPU N/KVM"): the VMM's own work, without the guest's.
 * --io-cpu-from STR takes a first sample when STR appears (in one read of
 * the output) and reports the difference.
 * RSS: the sum of Rss over /proc/PID/smaps mappings smaller than BYTES, so
 * mappings as large as guest RAM (hearth's memfd, QEMU's RAM block) are
 * left out whatever the VMM names them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kib(pid_t pid, unsigned long long exclude)
{
	char path[64], line[512];
	unsigned long long lo, hi, size = 0;
	long total = 0, kib;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			size = hi - lo;
		else if (sscanf(line, "Rss: %ld kB", &kib) == 1 && size < exclude)
			total += kib;
	}
	fclose(f);
	return total;
}

static long io_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	long total = 0, hz = sysconf(_SC_CLK_TCK);
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		unsigned long ut, st;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", (int)pid, d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (!p)
			continue;
		p = strchr(buf, '(');
		if (p && (!strncmp(p + 1, "vcpu", 4) || !strncmp(p + 1, "CPU ", 4)))
			continue; /* a vCPU: the guest's time, not the VMM's */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&st) == 2)
			total += (long)(ut + st);
	}
	closedir(dir);
	return total * 1000 / hz;
}

int main(int argc, char **argv)
{
	const char *marker = NULL;
	unsigned long long exclude = 0;
	double timeout = 0, t0, t_marker = -1, t_exit;
	long rss = -1, iocpu = -1;
	int want_iocpu = 0, tee = -1;
	const char *base_marker = NULL;
	long base_cpu = 0;
	size_t base_seen = 0, bwin_len = 0;
	static char bwin[4096];
	int i, p[2], status;
	pid_t pid;
	char buf[65536], *win;
	size_t have = 0, mlen;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--marker") && i + 1 < argc)
			marker = argv[++i];
		else if (!strcmp(argv[i], "--rss-exclude") && i + 1 < argc)
			exclude = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--tee") && i + 1 < argc)
			tee = open(argv[++i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		else if (!strcmp(argv[i], "--io-cpu"))
			want_iocpu = 1;
		else if (!strcmp(argv[i], "--io-cpu-from") && i + 1 < argc)
			base_marker = argv[++i], want_iocpu = 1;
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: stamp [--marker S] [--rss-exclude BYTES] "
					"[--timeout SEC] -- CMD...\n");
			return 2;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "stamp: no command\n");
		return 2;
	}
	mlen = marker ? strlen(marker) : 0;
	win = calloc(1, sizeof(buf) + mlen + 1);
	if (!win || pipe2(p, O_CLOEXEC))
		return 2;
	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(p[1], 1);
		dup2(null, 0);
		dup2(null, 2);
		execvp(argv[i + 1], argv + i + 1);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		int left = timeout > 0 ? (int)(timeout * 1e3 - (now_ms() - t0)) : -1;
		ssize_t n;

		if (timeout > 0 && left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			break;
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		if (tee >= 0 && write(tee, buf, (size_t)n) != n)
			tee = -1;
		if (base_marker && !base_seen) {
			/* a window over the output so far (VMMs write the serial
			 * console a byte at a time) */
			size_t bl = strlen(base_marker), keep = bwin_len < bl ? bwin_len : bl - 1;
			char *w = malloc(keep + (size_t)n + 1);

			if (w) {
				memcpy(w, bwin + bwin_len - keep, keep);
				memcpy(w + keep, buf, (size_t)n);
				if (memmem(w, keep + (size_t)n, base_marker, bl)) {
					base_cpu =
						io_cpu_ms(pid); /* start-up is not the workload */
					base_seen = 1;
				}
				bwin_len = keep + (size_t)n < sizeof(bwin) ? keep + (size_t)n : 0;
				if (bwin_len)
					memcpy(bwin, w, bwin_len);
				free(w);
			}
		}
		if (marker && t_marker < 0) {
			/* search the new bytes plus the last mlen-1 old ones */
			memcpy(win + have, buf, (size_t)n);
			win[have + (size_t)n] = 0;
			if (memmem(win, have + (size_t)n, marker, mlen)) {
				t_marker = now_ms() - t0;
				if (want_iocpu)
					iocpu = io_cpu_ms(pid) - base_cpu;
				if (exclude)
					rss = rss_kib(pid, exclude);
				if (exclude || want_iocpu)
					kill(pid, SIGKILL);
			} else {
				size_t keep =
					mlen - 1 < have + (size_t)n ? mlen - 1 : have + (size_t)n;
				memmove(win, win + have + (size_t)n - keep, keep);
				have = keep;
			}
		}
	}
	waitpid(pid, &status, 0);
	t_exit = now_ms() - t0;
	printf("%.3f %.3f %ld %d %ld\n", t_marker, t_exit, rss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), iocpu);
	return 0;
}
