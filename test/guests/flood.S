/* A guest that floods the VMM with exits: port writes forever, never halting. */
    .code16
    .section .entry, "ax"
    .global _start
_start:
1:  out %al, $0x80
    jmp 1b
