/*
 * Protected-mode entry: from the VMM's real-mode start, load a flat GDT,
 * set CR0.PE, and continue in 32-bit code with an IDT whose #UD, #GP and
 * test-interrupt gates point at our handlers; then call guest_main().
 */
#include "protected.h"

    .section .entry, "ax"
    .global _start
_start:
    enter_protected_mode protected
    mov %ax, %fs
    mov %ax, %gs
    mov $ud_handler, %eax
    mov $6, %ecx
    call set_gate
    mov $gp_handler, %eax
    mov $13, %ecx
    call set_gate
    mov $irq_handler, %eax
    mov $0x40, %ecx
    call set_gate
    mov $db_handler, %eax
    mov $1, %ecx
    call set_gate
    mov $nmi_handler, %eax
    mov $2, %ecx
    call set_gate
    lidt idt_pointer
    call guest_main
1:  hlt
    jmp 1b

/* IDT[ecx] = 32-bit interrupt gate to eax (SDM Vol. 3A 6.11). */
set_gate:
    lea idt(, %ecx, 8), %edx
    mov %ax, (%edx)
    movw $0x08, 2(%edx)
    movw $0x8e00, 4(%edx)
    shr $16, %eax
    mov %ax, 6(%edx)
    ret

/* #GP pushes an error code: skip it and the faulting instruction (gp_skip bytes). */
gp_handler:
    push %eax
    mov 16(%esp), %eax
    mov %eax, gp_eflags
    mov gp_skip, %eax
    add %eax, 8(%esp)
    pop %eax
    incl gp_faults
    add $4, %esp
    iret

/* #UD: skip the 3-byte instruction (the checks raise it with MONITOR and MWAIT). */
ud_handler:
    addl $3, (%esp)
    incl ud_faults
    iret

irq_handler:
    incl interrupts
    iret

/* NMI: the C part (nmichecks.c), with the registers C may clobber saved. */
nmi_handler:
    pushal
    cld
    call nmi_entered
    popal
    iret

/* #DB: count it, note the EIP it returns to and DR6 (then reset DR6, which
 * the CPU never clears), and stop single-stepping: TF off in the saved EFLAGS. */
db_handler:
    push %eax
    mov 4(%esp), %eax
    mov %eax, db_return
    mov %dr6, %eax
    mov %eax, db_dr6
    mov $0xffff0ff0, %eax
    mov %eax, %dr6
    andl $~0x100, 12(%esp)
    pop %eax
    incl db_traps
    iret

    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00cffa000000ffff    /* 0x18: user code (DPL 3) */
    .quad 0x00cff2000000ffff    /* 0x20: user data (DPL 3) */
gdt_end:
gdt_pointer:
    .short gdt_end - gdt - 1
    .long gdt
idt_pointer:
    .short 256 * 8 - 1
    .long idt

    .section .bss
    .global idt                     /* for guests that set up gates of their own */
    .align 8
idt: .skip 256 * 8
