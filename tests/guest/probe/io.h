/*
 * Probe guest: port and MMIO access from CPL3. Port I/O always goes through
 * DX (no immediate-port forms): entry.S emulates exactly these encodings
 * where the host does not honour IOPL for guest user mode.
 */
#ifndef PROBE_IO_H
#define PROBE_IO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "d"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "d"(port));
	return v;
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "d"(port));
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "d"(port));
	return v;
}
static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}
static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}
/* MMIO of each width (virtio registers) */
static inline uint8_t r8(uint64_t a)
{
	return *(volatile uint8_t *)a;
}
static inline uint16_t r16(uint64_t a)
{
	return *(volatile uint16_t *)a;
}
static inline uint32_t r32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}
static inline void w8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}
static inline void w16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}
static inline void w32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}
static inline void w64(uint64_t a, uint64_t v)
{
	w32(a, (uint32_t)v);
	w32(a + 4, (uint32_t)(v >> 32));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
static inline void sti(void)
{
	__asm__ volatile("sti" ::: "memory");
}
static inline void cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}
/* Sleeps until an interrupt unless *@counter != @seen (checked with
 * interrupts off at CPL0, so a wake-up between a caller's check and the
 * sleep is not lost): see the #GP handler in entry.S. */
static inline void wait_interrupt(volatile uint64_t *counter, uint64_t seen)
{
	__asm__ volatile(".byte 0x66, 0xf4" ::"D"(counter), "d"(seen) : "memory");
}
static inline void pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

#endif
