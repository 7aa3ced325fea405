/*
 * Application-processor start-up: the code a STARTUP IPI wakes another CPU
 * into, in real mode at TRAMPOLINE (a page below 1 MiB; the vector in the
 * IPI is its page number). It is assembled here but runs from the copy
 * linker/percpu.c puts at TRAMPOLINE, so it addresses itself through T().
 * It goes real -> protected -> long mode on the boot page tables (which
 * identity-map the image below 4 GiB and carry the linear window), then
 * jumps into the image at ap_start64. SDM Vol. 3A 10.4 (MP initialization),
 * 10.8.5 (entering IA-32e mode).
 */
#include "layout.h"

#define T(x) ((x) - ap_trampoline + TRAMPOLINE)

    .section .rodata
    .code16
    .global ap_trampoline, ap_trampoline_end, ap_efer
ap_trampoline:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl T(ap_gdt_pointer)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $T(ap_protected)

    .code32
ap_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax /* as on the BSP */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx                         /* LME and NXE as the BSP has them */
    rdmsr
    or T(ap_efer), %eax
    wrmsr
    mov %cr0, %eax
    and $~(CR0_EM | CR0_CD | CR0_NW), %eax          /* caches on: INIT left CD and NW set */
    or $(CR0_PG | CR0_WP | CR0_NE | CR0_MP), %eax
    mov %eax, %cr0
    ljmp $0x18, $T(ap_long)

    .code64
ap_long:
    movabs $ap_start64, %rax
    jmp *%rax

    .align 8
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00af9a000000ffff    /* 0x18: 64-bit code */
ap_gdt_pointer:
    .short ap_gdt_pointer - ap_gdt - 1
    .long T(ap_gdt)
ap_efer:
    .long 0                     /* patched with the BSP's EFER bits */
ap_trampoline_end:

    .section .text
    .code64
ap_start64:
    lgdt boot_gdt_pointer
    mov $GDT_KERNEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov ap_stack_top(%rip), %rsp
    /* Reload CS from the image's GDT. */
    pushq $GDT_KERNEL_CODE
    lea 1f(%rip), %rax
    push %rax
    lretq
1:  call ap_main
2:  cli
    hlt
    jmp 2b
