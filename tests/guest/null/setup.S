/*
 * Null kernel, real-mode part: the boot sector (only its setup header is
 * used) and one setup sector. Loaders that run the setup code (QEMU's and
 * kvmtool's bzImage loaders) enter at file offset 0x200 in real mode with
 * CS = setup segment + 0x20; hearth and Firecracker skip it and jump to the
 * protected-mode part (pm.S) instead. This setup does what Linux's does, in
 * a few instructions: it switches to flat 32-bit protected mode and jumps to
 * code32_start with ESI = boot_params (the setup's own copy), so the 32-bit
 * entry runs under those loaders too. (Ending in real mode would not do: on
 * PVM hosts a real-mode exception with an empty IVT is a KVM internal error,
 * which leaves QEMU paused instead of exiting.) Value from build.sh: SYSSIZE.
 */
	.code16
	.section .text
	.globl _start
_start:
	.org	0x1f1
	.byte	1			/* setup_sects */
	.word	0			/* root_flags */
	.long	SYSSIZE			/* syssize: protected-mode part / 16 */
	.word	0			/* ram_size */
	.word	0xffff			/* vid_mode: normal */
	.word	0			/* root_dev */
	.word	0xaa55			/* boot_flag */
	/* 0x200: setup code starts here */
	jmp	setup_start
	.ascii	"HdrS"
	.word	0x020f			/* boot protocol 2.15 */
	.long	0			/* realmode_swtch */
	.word	0			/* start_sys_seg */
	.word	0			/* kernel_version */
	.byte	0			/* type_of_loader */
	.byte	0x01			/* loadflags: LOADED_HIGH */
	.word	0			/* setup_move_size */
code32_start:
	.long	0x100000		/* code32_start */
	.long	0, 0			/* ramdisk_image, ramdisk_size */
	.long	0			/* bootsect_kludge */
	.word	0			/* heap_end_ptr */
	.byte	0, 0			/* ext_loader_ver, ext_loader_type */
	.long	0			/* cmd_line_ptr */
	.long	0x7fffffff		/* initrd_addr_max */
	.long	0x200000		/* kernel_alignment */
	.byte	0			/* relocatable_kernel: no */
	.byte	0			/* min_alignment */
	.word	0x0001			/* xloadflags: XLF_KERNEL_64 */
	.long	255			/* cmdline_size */
	.long	0			/* hardware_subarch */
	.quad	0			/* hardware_subarch_data */
	.long	0, 0			/* payload_offset, payload_length */
	.quad	0			/* setup_data */
	.quad	0x100000		/* pref_address */
	.long	0x10000			/* init_size */
	.long	0			/* handover_offset */
	.long	0			/* kernel_info_offset */

/*
 * Labels are file offsets; DS = CS addresses the file from 0x200 on, so
 * memory operands below are label - 0x200. No stack is used.
 */
setup_start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	movzwl	%ax, %ebx
	shl	$4, %ebx
	sub	$0x200, %ebx		/* EBX = linear address of the setup */
	lea	gdt(%ebx), %eax
	mov	%eax, (gdtr + 2 - 0x200)
	lea	pm32(%ebx), %eax
	mov	%eax, (farptr - 0x200)
	lgdtl	(gdtr - 0x200)
	mov	%cr0, %eax
	or	$1, %eax		/* PE */
	mov	%eax, %cr0
	ljmpl	*(farptr - 0x200)

	.code32
pm32:
	mov	$0x18, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%ebx, %esi		/* boot_params */
	jmp	*code32_start(%ebx)

	.balign	8
gdt:
	.quad	0
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x10: flat 32-bit code */
	.quad	0x00cf92000000ffff	/* 0x18: flat data */
gdtr:
	.word	gdtr - gdt - 1
	.long	0			/* gdt's linear address, set above */
farptr:
	.long	0			/* pm32's linear address, set above */
	.word	0x10
	.org	0x400			/* one setup sector after the boot sector */
