/*
 * From the VMM's real-mode start to flat 32-bit protected mode, shared by the
 * protected- and long-mode entries: load the GDT (which must have a 32-bit
 * code segment at 0x08 and a data segment at 0x10), set CR0.PE, far-jump to
 * `target`, load the data segments and a stack below the image.
 */
.macro enter_protected_mode target
    .code16
    cli
    xor %ax, %ax
    mov %ax, %ds
    lgdtl gdt_pointer
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $\target
    .code32
\target:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %esp
.endm
