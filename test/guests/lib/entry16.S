/*
 * Real-mode entry: the VMM starts every guest here at 0000:8000. Sets flat
 * segments and a stack below the image, points the interrupt vector table's
 * #UD, #GP and test-interrupt vectors at our handlers, and calls guest_main().
 * DS and ES get 4 GiB limits ("big real mode"): a segment register keeps
 * the limit of the descriptor it was last loaded from in protected mode
 * (SDM Vol. 3A 3.4.3), so 32-bit addresses reach the test device's
 * MMIO window below 4 GiB while the code stays in real mode.
 */
    .code16
    .section .entry, "ax"
    .global _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %sp
    lgdtl gdt_pointer
    mov %cr0, %eax
    or $1, %al
    mov %eax, %cr0
    mov $0x08, %bx
    mov %bx, %ds
    mov %bx, %es
    and $0xfe, %al
    mov %eax, %cr0
    xor %ax, %ax                /* back in real mode: base 0, the limits stay */
    mov %ax, %ds
    mov %ax, %es
    movw $ud_handler, 6 * 4
    movw $0, 6 * 4 + 2
    movw $gp_handler, 13 * 4
    movw $0, 13 * 4 + 2
    movw $db_handler, 1 * 4
    movw $0, 1 * 4 + 2
    movw $irq_handler, 0x40 * 4
    movw $0, 0x40 * 4 + 2
    movw $nmi_handler, 2 * 4
    movw $0, 2 * 4 + 2
    calll guest_main
1:  hlt
    jmp 1b

/* #GP: skip the faulting instruction, gp_skip bytes long (no error code in real mode). */
gp_handler:
    push %bp
    mov %sp, %bp
    push %ax
    mov gp_skip, %ax
    add %ax, 2(%bp)
    pop %ax
    incl gp_faults
    pop %bp
    iret

/* #UD: skip the 3-byte instruction (the checks raise it with MONITOR and MWAIT). */
ud_handler:
    push %bp
    mov %sp, %bp
    addw $3, 2(%bp)
    incl ud_faults
    pop %bp
    iret

irq_handler:
    incl interrupts
    iret

/* NMI: the C part (nmichecks.c) keeps the caller-saved registers it uses here. */
nmi_handler:
    pushal
    calll nmi_entered
    popal
    iret

/* #DB: count it, note the IP it returns to and DR6 (then reset DR6, which
 * the CPU never clears), and stop single-stepping: TF off in the saved FLAGS. */
db_handler:
    push %bp
    mov %sp, %bp
    push %eax
    movzwl 2(%bp), %eax
    mov %eax, db_return
    mov %dr6, %eax
    mov %eax, db_dr6
    mov $0xffff0ff0, %eax
    mov %eax, %dr6
    andw $~0x100, 6(%bp)
    pop %eax
    incl db_traps
    pop %bp
    iret

    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00cf92000000ffff    /* 0x08: flat data, 4 GiB limit */
gdt_end:
gdt_pointer:
    .short gdt_end - gdt - 1
    .long gdt
