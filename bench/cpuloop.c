// SPDX-License-Identifier: MIT
/*
 * cpuloop ITERS: the probe guest's cpuloop test run on the host: the same
 * dec/jnz loop timed with rdtsc, so guest and host cycles compare directly
 * (the TSC runs at the same rate in a KVM guest). Prints the TSC cycles.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000000, i = n, t0, t1;
	uint32_t lo, hi;

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
