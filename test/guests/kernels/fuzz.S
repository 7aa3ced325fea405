/*
 * The fuzzing kernel's entry and event handling (fuzz.c has the fuzzing).
 * A multiboot v1 kernel (Multiboot Specification 0.6.96, 3.1.1, 3.2): it
 * loads a GDT of its own (the loader's is not guaranteed), and its IDT sends
 * every one of the 256 vectors to a stub that counts it (events[]). A fault
 * the fuzzer provoked resumes after the faulting instruction, whose length
 * the fuzzer left in fault_skip; interrupts and traps resume where they
 * struck. The fuzzer runs with interrupts off, so only NMIs and exceptions
 * arrive, but no vector can reach an empty gate and end in a triple fault.
 */
#include "kernels/multiboot1.h"

/* The exceptions that are faults, whose saved EIP is the faulting
 * instruction's (SDM Vol. 3A Table 6-1): #DE #BR #UD #NM #TS #NP #SS #GP #PF
 * #MF #AC #XM. */
#define FAULTS 0x000b7ce1

    multiboot1_header

    .section .text
    .global _start
_start:
    mov $stack_top, %esp
    lgdt gdt_pointer
    ljmp $0x08, $1f
1:  mov $0x10, %ecx
    mov %ecx, %ds
    mov %ecx, %es
    mov %ecx, %fs
    mov %ecx, %gs
    mov %ecx, %ss
    push %ebx
    push %eax
    call fuzz_main
2:  cli
    hlt
    jmp 2b

/* One 16-byte stub per vector: drop the error code the CPU pushed for
 * this vector, if any (Table 6-1), then tell `event` which vector it was. */
    .altmacro
.macro stub n
    .align 16
    .if ((\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30))
    add $4, %esp
    .endif
    push $\n
    jmp event
.endm
    .align 16
    .global event_stubs
event_stubs:
    .set vector, 0
    .rept 256
    stub %vector
    .set vector, vector + 1
    .endr

event:
    push %eax
    push %ecx
    mov 8(%esp), %eax               /* the vector */
    incl events(, %eax, 4)
    mov $FAULTS, %ecx
    cmp $32, %eax
    jae 1f
    bt %eax, %ecx
    jnc 1f
    mov fault_skip, %ecx
    add %ecx, 12(%esp)              /* past the faulting instruction */
1:  pop %ecx
    pop %eax
    add $4, %esp
    iret

    .section .data
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
gdt_end:
gdt_pointer:
    .short gdt_end - gdt - 1
    .long gdt
    .global fault_skip, events
fault_skip: .long 0
    .align 4
events: .skip 256 * 4

    .section .bss
    .align 16
    .skip 16384
stack_top:
