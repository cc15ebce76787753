/*
 * Null kernel, real-mode part: the boot sector (only its setup header is
 * used) and one setup sector. Loaders that run the setup code (QEMU's and
 * kvmtool's bzImage loaders) enter at file offset 0x200 in real mode with
 * CS = DS base + 0x20; hearth and Firecracker skip it and jump to the
 * protected-mode part (pm.S) instead. Values from build.sh: SYSSIZE.
 */
#include "marker.inc"

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

setup_start:				/* offsets below are relative to 0x200 */
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	mov	$(msg - 0x200), %si
	MARKER_AND_EXIT
	lidt	(zero_idt - 0x200)	/* else a triple fault ends the VM */
	ud2
3:	hlt
	jmp	3b
zero_idt:
	.word	0
	.long	0
msg:
	.asciz	"HEARTH-NULL: marker\n"
	.org	0x400			/* one setup sector after the boot sector */
