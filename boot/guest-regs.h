/*
 * The vCPU register block as the world-switch stubs (svm.S, vmx.S) see it:
 * 16 GPRs in the order of Reg in kernel/arch/x86.ts (rax rcx rdx rbx rsp rbp
 * rsi rdi r8-r15), then a 512-byte FXSAVE area, then CR2 (used by vmx.S
 * only: VT-x does not switch it, AMD-V keeps it in the VMCB), then the
 * RFLAGS svm.S last entered with. The two macros move the twelve
 * registers both stubs treat alike; each stub moves RAX, RDX, RDI (its own
 * base and scratch registers) and RSP (in the VMCB/VMCS) itself.
 */
#define REG(n) (8 * (n))
#define RAX 0
#define RCX 1
#define RDX 2
#define RBX 3
#define RBP 5
#define RSI 6
#define RDI 7
#define FXSAVE_AREA 128
#define GUEST_CR2 (FXSAVE_AREA + 512)
#define ENTERED_RFLAGS (GUEST_CR2 + 8) /* svm.S only: what the last VMRUN loaded */

#include "layout.h" /* FAST_EXIT_* */

.macro load_guest_gprs base
    mov REG(RCX)(\base), %rcx
    mov REG(RBX)(\base), %rbx
    mov REG(RBP)(\base), %rbp
    mov REG(RSI)(\base), %rsi
    mov REG(8)(\base), %r8
    mov REG(9)(\base), %r9
    mov REG(10)(\base), %r10
    mov REG(11)(\base), %r11
    mov REG(12)(\base), %r12
    mov REG(13)(\base), %r13
    mov REG(14)(\base), %r14
    mov REG(15)(\base), %r15
.endm

.macro store_guest_gprs base
    mov %rcx, REG(RCX)(\base)
    mov %rbx, REG(RBX)(\base)
    mov %rbp, REG(RBP)(\base)
    mov %rsi, REG(RSI)(\base)
    mov %r8, REG(8)(\base)
    mov %r9, REG(9)(\base)
    mov %r10, REG(10)(\base)
    mov %r11, REG(11)(\base)
    mov %r12, REG(12)(\base)
    mov %r13, REG(13)(\base)
    mov %r14, REG(14)(\base)
    mov %r15, REG(15)(\base)
.endm

/* The SysV callee-saved registers the guest's values overwrite. */
.macro save_host_registers
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
.endm

.macro restore_host_registers
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
.endm

/* The x87 control word and MXCSR are callee-saved (SysV ABI): after a guest
 * ran, give the host its defaults back instead of the guest's. */
.macro restore_host_fpu_control
    fninit
    ldmxcsr host_mxcsr(%rip)
.endm
