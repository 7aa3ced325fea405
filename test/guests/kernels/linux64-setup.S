/*
 * The real-mode part of the 64-bit test kernel's bzImage: no code, only the
 * setup header (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel
 * Header" and "Details of Header Fields"), which is all a loader that uses
 * the 64-bit boot protocol reads. One setup sector follows the boot sector,
 * so the protected-mode kernel starts at file offset 0x400; it must be
 * entered at its 64-bit entry, code32_start + 0x200 (XLF_KERNEL_64).
 */
    .section .setup, "a"
    .org 0x1f1
    .byte 1                 /* setup_sects */
    .org 0x1f4
    .long 0                 /* syssize (unused: the loader knows the file's size) */
    .org 0x1fe
    .short 0xaa55           /* boot_flag */
    .byte 0xeb, 0x66        /* 0x200: jmp; the header ends at 0x202 + 0x66 = 0x268 */
    .ascii "HdrS"           /* 0x202: header */
    .short 0x020f           /* 0x206: version 2.15 */
    .org 0x211
    .byte 0x01              /* loadflags: LOADED_HIGH */
    .org 0x214
    .long 0x100000          /* code32_start */
    .org 0x22c
    .long 0x7fffffff        /* initrd_addr_max */
    .long 0x200000          /* 0x230: kernel_alignment */
    .byte 0                 /* 0x234: relocatable_kernel: no, runs at pref_address */
    .byte 0                 /* 0x235: min_alignment */
    .short 0x0001           /* 0x236: xloadflags: XLF_KERNEL_64 */
    .long 2047              /* 0x238: cmdline_size */
    .org 0x258
    .quad 0x100000          /* pref_address */
    .long 0x100000          /* 0x260: init_size: the kernel and its bss fit in 1 MiB (linux64.ld) */
    .org 0x400
