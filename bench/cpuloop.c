// SPDX-License-Identifier: MIT
/*
 * cpuloop ITERS: the probe guest's cpuloop test run on the host: the same
 * dec/jnz loop timed with rdtsc, so guest and host cycles compare directly
 * (the TSC runs at the same rate in a KVM guest). Prints the TSC cycles.
 * cpuloop --tsc-hz prints the TSC rate, to turn guest cycles into time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* --tsc-hz: the TSC rate, measured against CLOCK_MONOTONIC over 0.5 s. */
static int tsc_hz(void)
{
	struct timespec a, b, half = { 0, 500000000 };
	uint64_t t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = tsc();
	nanosleep(&half, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t1 = tsc();
	printf("%.0f\n", (double)(t1 - t0) / ((double)(b.tv_sec - a.tv_sec) +
					      (double)(b.tv_nsec - a.tv_nsec) / 1e9));
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n, i, t0, t1;
	uint32_t lo, hi;

	if (argc > 1 && !strcmp(argv[1], "--tsc-hz"))
		return tsc_hz();
	n = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000000;
	i = n;

	if (n == 0)
		return 2;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	t0 = (uint64_t)hi << 32 | lo;
	__asm__ volatile("1: dec %0; jnz 1b" : "+r"(i) : : "cc");
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	t1 = (uint64_t)hi << 32 | lo;
	printf("iters=%llu tsc=%llu\n", (unsigned long long)n, (unsigned long long)(t1 - t0));
	return 0;
}
