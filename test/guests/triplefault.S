/* A guest that triple-faults: an empty interrupt table, then INT3. */
    .code16
    .section .entry, "ax"
    .global _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    lidt empty_idt
    int3
1:  hlt
    jmp 1b
empty_idt:
    .short 0
    .long 0
