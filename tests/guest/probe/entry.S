/*
 * Probe guest, privileged part. It does only what needs CPL0: switch to long
 * mode, load the GDT/IDT/TSS, take interrupts, start application processors,
 * and then runs the test logic (probe.c) at CPL3 with IOPL 3. On PVM hosts
 * CPL0 code is emulated (~0.6 us per instruction) while CPL3 code runs at
 * native speed, so every table is built by the assembler (fixed addresses,
 * see probe.ld) and each handler is a handful of instructions.
 */
#include "probe.h"

	.section .note.Xen, "a"
	.align 4
	.long 4, 4, 18			/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.section .boot, "ax"
	.code32
	.globl pvh_start
pvh_start:				/* PVH: 32-bit flat, paging off, EBX = start info */
	cli
	mov	%ebx, start_info_pa
	xor	%edi, %edi		/* EDI = 0: bootstrap processor */
	lgdt	gdt_ptr
	ljmp	$KCODE32, $common32

ap32:					/* from the AP trampoline, below */
	mov	$1, %edi
common32:
	mov	$KDATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%cr4, %eax
	or	$0x20, %eax		/* PAE */
	mov	%eax, %cr4
	mov	$pml4, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	or	$0x100, %eax
	wrmsr
	mov	%cr0, %eax
	or	$0x80000001, %eax	/* PG | PE */
	mov	%eax, %cr0
	ljmp	$KCODE64, $start64

	.code64
start64:
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	test	%edi, %edi
	jnz	ap64
	lidt	idt_ptr
	mov	$TSSSEL, %ax
	ltr	%ax
	mov	$kstack_top, %esp
	pushq	$UDATA			/* to CPL3: probe_main(), IOPL 3, IF 0 */
	pushq	$ustack_top - 8
	pushq	$0x3002
	pushq	$UCODE64
	pushq	$probe_main
	iretq

ap64:					/* check in: index, APIC ID, done */
	mov	$1, %eax
	lock xadd %eax, ap_next
	mov	$LAPIC_BASE + 0x20, %esi
	mov	(%rsi), %ebx
	shr	$24, %ebx
	mov	%ebx, ap_apic_id(, %rax, 4)
	lock incl ap_done
1:	cli
	hlt
	jmp	1b

/*
 * Interrupts and exceptions: every vector has a 16-byte stub at
 * 0x101000 + 16 * vector that pushes (error code, vector) and comes here.
 */
intr_common:
	cmpq	$VEC_LAPIC_TIMER, (%rsp)
	jne	1f
	lock incq ticks
	push	%rax
	mov	$LAPIC_BASE + 0xb0, %eax	/* EOI */
	movl	$0, (%rax)
	pop	%rax
	add	$16, %rsp
	iretq
1:	cmpq	$13, (%rsp)
	je	gp
	cmpq	$32, (%rsp)
	jb	fault
	push	%rax			/* any other interrupt: count, EOI */
	mov	8(%rsp), %rax
	lock incq irq_count(, %rax, 8)
	cmp	$VEC_SPURIOUS, %eax
	je	2f
	mov	$LAPIC_BASE + 0xb0, %eax
	movl	$0, (%rax)
2:	pop	%rax
	add	$16, %rsp
	iretq

idle:					/* hlt from CPL3: idle for good */
	sti
3:	hlt
	jmp	3b

/*
 * #GP from CPL3 on port I/O or cli/sti: on VMX/SVM, IOPL 3 lets CPL3 run
 * them, but PVM hosts do not honour IOPL for guest user mode, so do them
 * here on the user's behalf. hlt from CPL3 (#GP everywhere) means "idle for
 * good": a software interrupt would do too, but PVM turns int n from guest
 * user mode into #UD. 66 f4 (hlt with an operand-size prefix) means "wait
 * for an interrupt if the 64-bit counter at RDI still holds RDX". Frame: vector, error, RIP, CS, RFLAGS, RSP, SS.
 */
gp:
	testb	$3, 24(%rsp)
	jz	fault
	push	%rsi
	push	%rcx			/* frame is now 16 bytes further */
	mov	32(%rsp), %rsi
	mov	$1, %ecx		/* instruction length */
	movzbl	(%rsi), %esi
	cmp	$0xee, %esi
	je	6f
	cmp	$0xec, %esi
	je	7f
	cmp	$0xef, %esi
	je	8f
	cmp	$0xed, %esi
	je	9f
	cmp	$0xfa, %esi
	je	10f
	cmp	$0xfb, %esi
	je	11f
	cmp	$0xf4, %esi
	je	idle
	mov	$2, %ecx
	cmp	$0x66, %esi
	jne	13f
	mov	32(%rsp), %rsi
	movzbl	1(%rsi), %esi
	cmp	$0xef, %esi
	je	14f
	cmp	$0xed, %esi
	je	15f
	cmp	$0xf4, %esi
	je	16f
13:	pop	%rcx			/* anything else is a real fault */
	pop	%rsi
	jmp	fault
6:	out	%al, %dx
	jmp	12f
7:	in	%dx, %al
	jmp	12f
8:	out	%eax, %dx
	jmp	12f
9:	in	%dx, %eax
	jmp	12f
10:	andq	$~0x200, 48(%rsp)
	jmp	12f
11:	orq	$0x200, 48(%rsp)
	jmp	12f
14:	out	%ax, %dx
	jmp	12f
15:	in	%dx, %ax
	jmp	12f
16:	cmp	(%rdi), %rdx		/* 66 f4: wait for an interrupt, unless */
	jne	12f			/* the counter at RDI moved past RDX */
	sti				/* interrupts are off in this gate, and */
	hlt				/* sti holds them off until hlt: none is */
	cli				/* lost between the check and the wait */
12:	add	%rcx, 32(%rsp)		/* past the instruction */
	pop	%rcx
	pop	%rsi
	add	$16, %rsp
	iretq

fault:					/* record it, report it from CPL3 */
	lock incl fault_count
	cmpl	$1, fault_count
	jne	4f
	mov	(%rsp), %rax
	mov	%rax, fault_info
	mov	8(%rsp), %rax
	mov	%rax, fault_info + 8
	mov	16(%rsp), %rax
	mov	%rax, fault_info + 16
	mov	24(%rsp), %rax
	mov	%rax, fault_info + 24
	mov	%cr2, %rax
	mov	%rax, fault_info + 32
	mov	$kstack_top, %esp
	pushq	$UDATA
	pushq	$fstack_top - 8
	pushq	$0x3002
	pushq	$UCODE64
	pushq	$probe_fault
	iretq
4:	mov	$HEARTH_EXIT_PORT, %dx	/* a fault while reporting one */
	mov	$STATUS_FAULT, %al
	out	%al, %dx
	mov	$QEMU_EXIT_PORT, %dx
	out	%al, %dx
5:	cli
	hlt
	jmp	5b

/*
 * Application processor start-up code, copied to TRAMPOLINE (below 1 MiB)
 * by the SMP test; a SIPI with vector TRAMPOLINE >> 12 starts it in real
 * mode with CS = TRAMPOLINE >> 4.
 */
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	lgdtl	ap_gdt_ptr - ap_trampoline
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$KCODE32, $ap32
	.align 4
ap_gdt_ptr:
	.word	gdt_end - gdt - 1
	.long	gdt
ap_trampoline_end:

/* 256 interrupt stubs at 0x101000 (probe.ld), 16 bytes each */
	.section .stubs, "ax"
	.code64
	.set	vec, 0
	.rept	256
	.align	16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	pushq	$vec			/* the CPU pushed an error code */
	.else
	pushq	$0
	pushq	$vec
	.endif
	jmp	intr_common
	.set	vec, vec + 1
	.endr

/* TSS (must be at 0x102000: the GDT below encodes that address), GDT, IDT */
	.section .tables, "a"
	.globl	tss
tss:
	.long	0
	.quad	kstack_top		/* RSP0: stack for interrupts from CPL3 */
	.quad	0, 0, 0
	.quad	0, 0, 0, 0, 0, 0, 0	/* IST */
	.quad	0
	.word	0, 104			/* I/O bitmap offset: none (IOPL 3 rules) */

	.align	16
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* KCODE32 */
	.quad	0x00af9a000000ffff	/* KCODE64 */
	.quad	0x00cf92000000ffff	/* KDATA */
	.quad	0x00cff2000000ffff	/* UDATA, DPL 3 */
	.quad	0x00affa000000ffff	/* UCODE64, DPL 3 */
	.quad	0x0000890000000067 | (0x2000 << 16) | (0x10 << 32)	/* TSS at 0x102000 */
	.quad	0
gdt_end:
gdt_ptr:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.align	16
idt:
	.set	vec, 0
	.rept	256
	.quad	((0x1000 + vec * 16) & 0xffff) | (KCODE64 << 16) | (0x8e << 40) | (0x10 << 48)
	.quad	0
	.set	vec, vec + 1
	.endr
idt_end:
idt_ptr:
	.word	idt_end - idt - 1
	.quad	idt

/* Identity map of the low 4 GiB in 2 MiB pages, user-accessible */
	.section .pagetables, "aw"
	.align	4096
pml4:
	.quad	pdpt + 7
	.fill	511, 8, 0
pdpt:
	.quad	pd + 7, pd + 0x1000 + 7, pd + 0x2000 + 7, pd + 0x3000 + 7
	.fill	508, 8, 0
pd:
	.set	pg, 0
	.rept	2048
	.quad	(pg << 21) | 0x87	/* P | RW | US | PS */
	.set	pg, pg + 1
	.endr

	.bss
	.align	4096
kstack:	.skip	4096
kstack_top:
ustack:	.skip	16384
ustack_top:
fstack:	.skip	4096
fstack_top:
