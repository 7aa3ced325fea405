/*
 * vmx_run(regs, launched, vcpu): one trip into an Intel VT-x guest.
 *
 * VM entry loads the guest's RSP, RIP, RFLAGS, control, segment and
 * descriptor-table registers, EFER and the MSR-load list from the current
 * VMCS; the other general registers are ours to move (Intel SDM Vol. 3C
 * 26.3.2 "Loading Guest State"). A VM exit saves the guest state to the
 * VMCS and loads the host-state fields: execution continues at HOST_RIP with
 * RSP = HOST_RSP and RFLAGS = 2 (interrupts off), and every general register
 * but RSP still holds the guest's value (SDM 27.5 "Loading Host State").
 * So this stub writes HOST_RSP/HOST_RIP for its own frame, loads the guest's
 * registers and FPU state, and finds everything again at vmx_exit.
 * (A VM exit also sets the host GDTR and IDTR limits to 0xffff and the TR
 * limit to 0x67, SDM 27.5.2; our GDT and IDT are smaller but nothing ever
 * indexes past them, and 0x67 is our TSS's real limit.)
 *
 * regs points at the vCPU's register block (vmm/core/registers.ts, as in svm.S:
 * 16 GPRs rax rcx rdx rbx rsp rbp rsi rdi r8-r15, then a 512-byte FXSAVE area
 * at 128, then CR2). The RSP slot is unused: the guest's RSP lives in the VMCS.
 * CR2 is not in the VMCS (SDM Vol. 3C 25.4.1): the stub loads the guest's
 * before the entry and saves it when it returns. In between, on the fast
 * path, nothing in the host can fault, so CR2 stays the guest's.
 * launched: 0 for VMLAUNCH (the VMCS is clear), else VMRESUME.
 * Returns 0 after a VM exit; if the instruction itself fails, 1 for
 * VMfailInvalid (CF) or 2 for VMfailValid (ZF, see the VM-instruction error).
 *
 * After each VM exit the stub calls vmx_fast_exit(vcpu) (linker/shim.c,
 * which calls the backend's fastExit() of that vCPU). If it answers
 * FAST_EXIT_DONE, the exit is finished and the stub resumes the guest at
 * once, in the same frame (HOST_RSP and HOST_RIP stay valid) and with the
 * guest's x87/SSE state still loaded (the fast path uses none,
 * tools/build/check-image.sh verifies it). Otherwise the guest's FPU state
 * and CR2 are saved, and for FAST_EXIT_LANE the stub offers the exit to
 * lane_exit() (linker/shim.c), which may finish it under the hypervisor
 * lock and resume the guest too; if not, vmx_run returns and the VMM
 * decodes the exit from the VMCS.
 */
#include "guest-regs.h"
#define HOST_RSP 0x6c14               /* VMCS field encodings, SDM Appendix B.4.4 */
#define HOST_RIP 0x6c16

/* Every guest GPR from the block at RDI, RDI last; flags are kept. */
.macro load_all_guest_gprs
    mov REG(RAX)(%rdi), %rax
    mov REG(RDX)(%rdi), %rdx
    load_guest_gprs %rdi
    mov REG(RDI)(%rdi), %rdi
.endm

    .section .text
    .code64
    .global vmx_run
vmx_run:
    save_host_registers
    /* The SysV ABI's 16-byte stack alignment at each call below (into C
     * and the compiled hypervisor, whose SSE spills use aligned moves):
     * the return address and six registers leave RSP 8 off, and the two
     * pushes below keep it there. */
    sub $8, %rsp
    push %rdx                       /* 8(%rsp): vcpu */
    push %rdi                       /* 0(%rsp) = HOST_RSP: regs, found again at vmx_exit */

    /* The VM exit comes back to this very frame, at vmx_exit. */
    mov $HOST_RSP, %eax
    vmwrite %rsp, %rax
    mov $HOST_RIP, %eax
    lea vmx_exit(%rip), %rdx
    vmwrite %rdx, %rax

    fxrstor FXSAVE_AREA(%rdi)       /* the guest's x87/SSE state */
    mov GUEST_CR2(%rdi), %rax
    mov %rax, %cr2
    test %esi, %esi                 /* ZF: VMLAUNCH; MOVs below keep the flags */
    load_all_guest_gprs
    jnz 1f
    vmlaunch
    jmp vmx_failed
1:  vmresume

    /* Still here: the instruction failed and no guest code ran (SDM 30.3
     * VMLAUNCH/VMRESUME). The block still holds the guest's state. */
vmx_failed:
    mov (%rsp), %rdi                /* MOVs and FXSAVE keep the flags */
    fxsave FXSAVE_AREA(%rdi)        /* what the guest made of its FPU and CR2 before this entry */
    mov %cr2, %rax
    mov %rax, GUEST_CR2(%rdi)
    mov $1, %eax                    /* CF: VMfailInvalid */
    jc vmx_return
    mov $2, %eax                    /* ZF: VMfailValid */
    jmp vmx_return

vmx_exit:
    /* VM exit: RSP is HOST_RSP again; every other GPR is the guest's. */
    push %rdi
    mov 8(%rsp), %rdi               /* regs (one push deeper) */
    mov %rax, REG(RAX)(%rdi)
    mov %rdx, REG(RDX)(%rdi)
    store_guest_gprs %rdi
    pop REG(RDI)(%rdi)

    /* Our own frame for backtraces from the fast path (the saved RBP, then
     * the return address), instead of the guest's RBP. */
    lea 64(%rsp), %rbp
    mov 8(%rsp), %edi
    call vmx_fast_exit
    mov (%rsp), %rdi
    cmp $FAST_EXIT_DONE, %eax
    jne 2f
    load_all_guest_gprs
    vmresume
    jmp vmx_failed

2:  fxsave FXSAVE_AREA(%rdi)
    mov %cr2, %rdx
    mov %rdx, GUEST_CR2(%rdi)
    restore_host_fpu_control        /* keeps EAX */
    cmp $FAST_EXIT_LANE, %eax
    jne 3f
    mov 8(%rsp), %edi
    call lane_exit                  /* may use the FPU: the guest's is saved */
    test %eax, %eax
    jz vmx_done                     /* 0: a VM exit for the VMM */
    mov (%rsp), %rdi
    fxrstor FXSAVE_AREA(%rdi)
    mov GUEST_CR2(%rdi), %rax
    mov %rax, %cr2
    load_all_guest_gprs
    vmresume
    jmp vmx_failed

3:  xor %eax, %eax                  /* a VM exit for the VMM */
    jmp vmx_done

vmx_return:
    restore_host_fpu_control
vmx_done:
    add $24, %rsp
    restore_host_registers
    ret
