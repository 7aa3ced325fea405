/*
 * The 64-bit test kernel's entry points. The 32-bit boot protocol enters at
 * code32_start, which this kernel does not support (ud2: the VM stops with a
 * report); the 64-bit protocol enters 0x200 bytes further on, in long mode
 * with RSI = boot_params. We keep the general registers as they arrived for
 * the checks, set a stack, clear the bss and call linux64_main(boot_params).
 */
    .section .entry32, "ax"
    .code32
    .global startup_32
startup_32:
    ud2

    .section .entry64, "ax"
    .code64
    .global startup_64
startup_64:
    mov %rax, entry_regs(%rip)
    mov %rbx, entry_regs + 8(%rip)
    mov %rdi, entry_regs + 16(%rip)
    mov %rbp, entry_regs + 24(%rip)
    mov %rsi, %r12
    lea __bss_start(%rip), %rdi
    lea _end(%rip), %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    rep stosb
    lea stack_top(%rip), %rsp
    mov %r12, %rdi
    call linux64_main
1:  cli
    hlt
    jmp 1b

    .section .data
    .global entry_regs
    .align 8
entry_regs: .quad 0, 0, 0, 0   /* rax, rbx, rdi, rbp at entry */

    .section .bss
    .align 16
    .skip 16384
stack_top:
