/*
 * svm_run(guest_vmcb_pa, host_vmcb_pa, regs): one trip into an AMD-V guest.
 *
 * VMRUN itself switches only part of the state: it saves the host's RAX,
 * RSP, RIP, RFLAGS, segments CS/SS/DS/ES, GDTR/IDTR, CR0/CR3/CR4/EFER in the
 * host save area (VM_HSAVE_PA) and loads the guest's from the VMCB. The rest
 * (FS, GS, TR, LDTR and their hidden state, KernelGsBase, STAR/LSTAR/CSTAR/
 * SFMASK, SYSENTER_*) is moved by VMSAVE/VMLOAD, and the general registers
 * other than RAX/RSP by software. AMD APM Vol. 2 15.5 "VMRUN Instruction",
 * 15.5.2 "VMSAVE and VMLOAD Instructions".
 *
 * regs points at the vCPU's register block (vmm/vcpu.ts: 16 GPRs in the order
 * rax rcx rdx rbx rsp rbp rsi rdi r8-r15, then a 512-byte FXSAVE area at 128).
 * The RAX and RSP slots are not used here: those live in the VMCB.
 */
#define REG(n) (8 * (n))
#define RCX 1
#define RDX 2
#define RBX 3
#define RBP 5
#define RSI 6
#define RDI 7
#define FXSAVE_AREA 128

    .section .text
    .code64
    .global svm_run
svm_run:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdx                       /* 16(%rsp): regs */
    push %rsi                       /*  8(%rsp): host VMCB */
    push %rdi                       /*  0(%rsp): guest VMCB */

    fxrstor FXSAVE_AREA(%rdx)       /* the guest's x87/SSE state */
    /* No interrupt, NMI or SMI between here and the guest (GIF=0). With
     * V_INTR_MASKING the host's IF at VMRUN decides whether a physical
     * interrupt ends the guest's run (APM 15.21.1), so IF=1 here; GIF=0
     * still holds interrupts off until VMRUN. */
    clgi
    sti
    mov %rsi, %rax
    vmsave
    mov (%rsp), %rax
    vmload

    mov REG(RCX)(%rdx), %rcx
    mov REG(RBX)(%rdx), %rbx
    mov REG(RBP)(%rdx), %rbp
    mov REG(RSI)(%rdx), %rsi
    mov REG(RDI)(%rdx), %rdi
    mov REG(8)(%rdx), %r8
    mov REG(9)(%rdx), %r9
    mov REG(10)(%rdx), %r10
    mov REG(11)(%rdx), %r11
    mov REG(12)(%rdx), %r12
    mov REG(13)(%rdx), %r13
    mov REG(14)(%rdx), %r14
    mov REG(15)(%rdx), %r15
    mov REG(RDX)(%rdx), %rdx
    vmrun

    /* #VMEXIT: RSP is the host's again; every other GPR but RAX is the guest's. */
    push %rdx
    mov 24(%rsp), %rdx              /* regs (one push deeper) */
    mov %rcx, REG(RCX)(%rdx)
    mov %rbx, REG(RBX)(%rdx)
    mov %rbp, REG(RBP)(%rdx)
    mov %rsi, REG(RSI)(%rdx)
    mov %rdi, REG(RDI)(%rdx)
    mov %r8, REG(8)(%rdx)
    mov %r9, REG(9)(%rdx)
    mov %r10, REG(10)(%rdx)
    mov %r11, REG(11)(%rdx)
    mov %r12, REG(12)(%rdx)
    mov %r13, REG(13)(%rdx)
    mov %r14, REG(14)(%rdx)
    mov %r15, REG(15)(%rdx)
    pop REG(RDX)(%rdx)

    mov (%rsp), %rax
    vmsave                          /* the guest's FS, GS, TR, ... */
    mov 8(%rsp), %rax
    vmload                          /* the host's */
    cli                             /* the hypervisor runs with IF=0 */
    stgi
    fxsave FXSAVE_AREA(%rdx)
    /* The x87 control word and MXCSR are callee-saved (SysV ABI): give the
     * host back its defaults instead of the guest's. */
    fninit
    ldmxcsr host_mxcsr(%rip)

    add $24, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .section .rodata
    .align 4
host_mxcsr:
    .long 0x1f80                    /* all SSE exceptions masked, round to nearest */
