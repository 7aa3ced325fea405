/*
 * The multiboot v1 test kernel's entry (Multiboot Specification 0.6.96):
 * the header in the first 8 KiB of the file (3.1.1), then the entry in 32-bit
 * protected mode with paging off, EAX = 0x2BADB002 and EBX = the information
 * structure (3.2). The machine state guarantees no stack, so we set our own
 * and pass EAX and EBX to mbtest_main(magic, info).
 */
#include "kernels/multiboot1.h"

    multiboot1_header

    .section .text
    .global _start
_start:
    mov $stack_top, %esp
    push %ebx
    push %eax
    call mbtest_main
1:  cli
    hlt
    jmp 1b

    .section .bss
    .align 16
    .skip 16384
stack_top:
