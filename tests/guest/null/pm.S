/*
 * Null kernel, protected-mode part, loaded at 1 MiB. Offset 0 is the 32-bit
 * entry (flat segments, paging off, ESI = boot_params), also reached from
 * the real-mode setup (setup.S); offset 0x200 is the 64-bit entry
 * (identity-mapped long mode, RSI = boot_params), announced by XLF_KERNEL_64.
 * Both print the marker, write hearth's boot marker, exit through hearth's
 * exit device or QEMU's isa-debug-exit, or else end with a triple fault.
 */
#include "marker.inc"

	.section .text
	.code32
	.globl _start
_start:
	cli
	mov	$msg, %esi
	MARKER_AND_EXIT
	lidt	zero_idt		/* else a triple fault ends the VM */
	ud2
3:	hlt
	jmp	3b

	.org	0x200
	.code64
start64:
	cli
	lea	msg(%rip), %rsi
	MARKER_AND_EXIT
	lidt	zero_idt(%rip)
	ud2
3:	hlt
	jmp	3b

zero_idt:
	.word	0
	.quad	0
msg:
	.asciz	"HEARTH-NULL: marker\n"
