/*
 * Interrupt and exception entry stubs.
 *
 * One small stub per vector pushes a uniform frame (a zero where the CPU
 * pushes no error code, then the vector number) and jumps to isr_common,
 * which saves the general registers and the SSE state (the compiled
 * AssemblyScript uses SSE) and calls trap_entry(frame) in C. The IDT itself
 * is built by the AssemblyScript kernel from isr_stubs.
 * Intel SDM Vol. 3A 6.12 "Exception and Interrupt Handling", 6.14.2 (64-bit frame).
 */
#include "layout.h"

    .section .text
    .code64

/*
 * 256 stubs of exactly ISR_STUB_SIZE bytes each, so stub v is at
 * isr_stubs + v * ISR_STUB_SIZE. Vectors 8, 10-14, 17, 21, 29 and 30 come
 * with an error code from the CPU (SDM Vol. 3A Table 6-1); the rest get a 0.
 */

    .global isr_stubs
    .align ISR_STUB_SIZE
isr_stubs:
    .set vector, 0
    .rept 256
    .align ISR_STUB_SIZE
    .if (vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp isr_common
    .set vector, vector + 1
    .endr

    .align ISR_STUB_SIZE
isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi                  /* struct trap_frame* */
    mov %rsp, %rbx
    and $-16, %rsp
    sub $512, %rsp
    fxsave (%rsp)
    call trap_entry
    fxrstor (%rsp)
    mov %rbx, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp                   /* vector and error code */
    iretq
