/*
 * Long-mode entry: real mode -> protected mode -> long mode, the way a
 * boot loader does it (SDM Vol. 3A 10.8.5): identity-map the first 4 GiB
 * (RAM and the test device's MMIO window) with 2 MiB pages, enable PAE, set EFER.LME (an MSR write the VMM emulates),
 * enable paging, and jump to 64-bit code with an IDT for #GP and the test
 * interrupt; then call guest_main().
 */
#include "protected.h"

    .section .entry, "ax"
    .global _start
_start:
    enter_protected_mode protected
    /* PML4[0] -> PDPT, PDPT[0..3] -> four PDs in a row, PD entry i = i * 2 MiB
     * (present, writable, large). */
    movl $pdpt + 3, pml4
    movl $pd + 3, pdpt
    movl $pd + 0x1003, pdpt + 8
    movl $pd + 0x2003, pdpt + 16
    movl $pd + 0x3003, pdpt + 24
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, pd(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b
    mov %cr4, %eax
    or $0x20, %eax              /* PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx       /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000000, %eax        /* PG: long mode becomes active */
    mov %eax, %cr0
    ljmp $0x18, $long

    .code64
long:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %rsp
    lea ud_handler(%rip), %rax
    mov $6, %ecx
    call set_gate
    lea gp_handler(%rip), %rax
    mov $13, %ecx
    call set_gate
    lea irq_handler(%rip), %rax
    mov $0x40, %ecx
    call set_gate
    lidt idt_pointer
    call guest_main
2:  hlt
    jmp 2b

/* IDT[ecx] = 64-bit interrupt gate to rax (SDM Vol. 3A 6.14.1). */
set_gate:
    shl $4, %rcx
    lea idt(%rcx), %rdx
    mov %ax, (%rdx)
    movw $0x18, 2(%rdx)
    movw $0x8e00, 4(%rdx)
    shr $16, %rax
    mov %ax, 6(%rdx)
    shr $16, %rax
    mov %eax, 8(%rdx)
    movl $0, 12(%rdx)
    ret

/* #GP pushes an error code: skip it and the faulting instruction (gp_skip bytes). */
gp_handler:
    push %rax
    mov gp_skip(%rip), %eax
    add %rax, 16(%rsp)
    pop %rax
    incl gp_faults(%rip)
    add $8, %rsp
    iretq

/* #UD: skip the 3-byte instruction (the checks raise it with MONITOR and MWAIT). */
ud_handler:
    addq $3, (%rsp)
    incl ud_faults(%rip)
    iretq

irq_handler:
    incl interrupts(%rip)
    iretq

    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00af9a000000ffff    /* 0x18: 64-bit code */
gdt_end:
gdt_pointer:
    .short gdt_end - gdt - 1
    .quad gdt
idt_pointer:
    .short 256 * 16 - 1
    .quad idt

    .section .data
    .global gp_faults, ud_faults, interrupts, gp_skip
    .align 4
gp_skip: .long 2
gp_faults: .long 0
ud_faults: .long 0
interrupts: .long 0

    .section .bss
    .align 4096
pml4: .skip 4096
pdpt: .skip 4096
pd: .skip 4 * 4096
idt: .skip 256 * 16
