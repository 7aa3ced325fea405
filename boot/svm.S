/*
 * svm_run(guest_vmcb_pa, host_vmcb_pa, regs, vcpu): one trip into an AMD-V guest.
 *
 * VMRUN itself switches only part of the state: it saves the host's RAX,
 * RSP, RIP, RFLAGS, segments CS/SS/DS/ES, GDTR/IDTR, CR0/CR3/CR4/EFER in the
 * host save area (VM_HSAVE_PA) and loads the guest's from the VMCB. The rest
 * (FS, GS, TR, LDTR and their hidden state, KernelGsBase, STAR/LSTAR/CSTAR/
 * SFMASK, SYSENTER_*) is moved by VMSAVE/VMLOAD, and the general registers
 * other than RAX/RSP by software. AMD APM Vol. 2 15.5 "VMRUN Instruction",
 * 15.5.2 "VMSAVE and VMLOAD Instructions".
 *
 * regs points at the vCPU's register block (vmm/core/registers.ts: 16 GPRs in
 * the order rax rcx rdx rbx rsp rbp rsi rdi r8-r15, then a 512-byte FXSAVE area
 * at 128). The RAX and RSP slots are not used here: those live in the VMCB.
 *
 * After each #VMEXIT the stub calls svm_fast_exit(vcpu) (linker/shim.c,
 * which calls the backend's fastExit() of that vCPU). If it answers
 * FAST_EXIT_DONE, the exit is finished and the stub enters the guest again
 * at once: such an exit costs no return to cpu_loop() and its lock, no save
 * of the host's callee-saved registers and no FPU switch (the fast path
 * uses no x87/SSE register, which tools/build/check-image.sh verifies, so
 * the guest's stay loaded). Otherwise the guest's FPU state is saved, and
 * for FAST_EXIT_LANE the stub offers the exit to lane_exit()
 * (linker/shim.c), which may finish it under the hypervisor lock and enter
 * again too; if not, svm_run returns, and the exit is in the VMCB for the
 * VMM to decode. The fast path and the lane run with GIF=0 (#VMEXIT clears
 * it), so host interrupts wait for the next VMRUN, which they end at once.
 */
#include "guest-regs.h"

#define VMCB_RFLAGS 0x570 /* the state save area's RFLAGS (APM Vol. 2 Table B-2) */

    .section .text
    .code64
    .global svm_run
svm_run:
    save_host_registers
    /* The SysV ABI's 16-byte stack alignment at each call below (into C
     * and the compiled hypervisor, whose SSE spills use aligned moves):
     * the return address and six registers leave RSP 8 off, and the four
     * pushes below keep it there. */
    sub $8, %rsp
    push %rcx                       /* 24(%rsp): vcpu */
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
    vmsave                          /* the host's FS, GS, TR, ...: the same for every exit of this call */

svm_enter:
    mov (%rsp), %rax
    /* What VMRUN loads, kept for the exit: QEMU 7.2 at times saves the
     * guest's RFLAGS wrong (vmm/hw/svm/rflagsrepair.ts). */
    mov VMCB_RFLAGS(%rax), %rcx
    mov %rcx, ENTERED_RFLAGS(%rdx)
    vmload                          /* the guest's */
    load_guest_gprs %rdx
    mov REG(RDI)(%rdx), %rdi
    mov REG(RDX)(%rdx), %rdx
    vmrun

    /* #VMEXIT: RSP is the host's again, RAX the guest VMCB's address (VMRUN
     * saved it); every other GPR is the guest's. GIF=0. */
    push %rdx
    mov 24(%rsp), %rdx              /* regs (one push deeper) */
    store_guest_gprs %rdx
    mov %rdi, REG(RDI)(%rdx)
    pop REG(RDX)(%rdx)

    vmsave                          /* the guest's FS, GS, TR, ... */
    mov 8(%rsp), %rax
    vmload                          /* the host's */

    /* The frame pointer the guest left is meaningless: point it at our own
     * frame (the saved RBP, then the return address), so backtraces from
     * the fast path reach cpu_loop(). */
    lea 80(%rsp), %rbp
    mov 24(%rsp), %edi
    call svm_fast_exit
    mov 16(%rsp), %rdx
    cmp $FAST_EXIT_DONE, %eax
    je svm_enter

    fxsave FXSAVE_AREA(%rdx)
    restore_host_fpu_control        /* keeps EAX */
    cmp $FAST_EXIT_LANE, %eax
    jne 1f
    mov 24(%rsp), %edi
    call lane_exit                  /* may use the FPU: the guest's is saved */
    mov 16(%rsp), %rdx
    test %eax, %eax
    jz 1f
    fxrstor FXSAVE_AREA(%rdx)
    jmp svm_enter

1:  cli                             /* the hypervisor runs with IF=0 */
    stgi
    add $40, %rsp
    restore_host_registers
    ret
