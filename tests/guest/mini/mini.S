/*
 * Tiny PVH test guests, one per behaviour, selected by -DTEST_<NAME>.
 * They start in 32-bit protected mode (PVH entry) and need no set-up.
 */
	.section .note.Xen, "a"
	.align 4
	.long 4, 4, 18		/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.text
	.code32
	.globl _start
_start:
	mov	$msg, %esi
1:	lodsb			/* print msg on COM1 */
	test	%al, %al
	jz	2f
	mov	$0x3f8, %dx
	out	%al, %dx
	jmp	1b
2:	mov	$0x4f1, %dx	/* boot marker 7 */
	mov	$7, %al
	out	%al, %dx
#if defined(TEST_EXIT)
	mov	$0x4f0, %dx	/* hearth's exit device: status 42 */
	mov	$42, %al
	out	%al, %dx
	mov	$0x501, %dx	/* then QEMU's isa-debug-exit: 21 -> 43 */
	mov	$21, %al
	out	%al, %dx
#elif defined(TEST_RESET)
	mov	$0x64, %dx	/* i8042 reset */
	mov	$0xfe, %al
	out	%al, %dx
#elif defined(TEST_TRIPLE)
	lidt	nullidt		/* no IDT: the fault below becomes a triple fault */
	ud2
#elif defined(TEST_EMUFAIL)
	popcnt	%eax, %eax	/* KVM's emulator cannot run this (PVM hosts) */
	mov	$0x4f0, %dx	/* where it runs natively (VMX/SVM): status 0 */
	xor	%al, %al
	out	%al, %dx
#endif
3:	cli			/* TEST_IDLE, and everything after an exit */
	hlt
	jmp	3b

	.data
nullidt:
	.word 0
	.long 0
msg:
	.asciz "hearth-mini: hello\n"
