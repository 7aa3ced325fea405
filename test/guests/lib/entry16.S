/*
 * Real-mode entry: the VMM starts every guest here at 0000:8000. Sets flat
 * segments and a stack below the image, points the interrupt vector table's
 * #UD, #GP and test-interrupt vectors at our handlers, and calls guest_main().
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
    movw $ud_handler, 6 * 4
    movw $0, 6 * 4 + 2
    movw $gp_handler, 13 * 4
    movw $0, 13 * 4 + 2
    movw $irq_handler, 0x40 * 4
    movw $0, 0x40 * 4 + 2
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

    .section .data
    .global gp_faults, ud_faults, interrupts, gp_skip
    .align 4
gp_skip: .long 2
gp_faults: .long 0
ud_faults: .long 0
interrupts: .long 0
