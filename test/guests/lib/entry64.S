/*
 * Long-mode entry: real mode -> protected mode -> long mode, the way a
 * boot loader does it (SDM Vol. 3A 10.8.5): identity-map the first 4 GiB
 * (RAM and the test device's MMIO window) with 2 MiB pages, enable PAE, set EFER.LME (an MSR write the VMM emulates),
 * enable paging, and jump to 64-bit code with an IDT for #GP and the test
 * interrupt; then call guest_main(). The pages are user-accessible and a
 * TSS gives the stack for interrupts from CPL 3, for user_hypercall().
 */
#include "protected.h"

/* GDT selectors and the vector by which user mode returns (user_hypercall). */
    .equ USER_DATA, 0x20
    .equ USER_CODE, 0x28
    .equ TSS_SELECTOR, 0x30
    .equ USER_RETURN_VECTOR, 0x81


/* IDT[vector] = an interrupt gate to `handler` (set_gate). */
.macro gate vector, handler
    lea \handler(%rip), %rax
    mov $\vector, %ecx
    call set_gate
.endm

    .section .entry, "ax"
    .global _start
_start:
    enter_protected_mode protected
    /* PML4[0] -> PDPT, PDPT[0..3] -> four PDs in a row, PD entry i = i * 2 MiB
     * (present, writable, user, large). */
    movl $pdpt + 7, pml4
    movl $pd + 7, pdpt
    movl $pd + 0x1007, pdpt + 8
    movl $pd + 0x2007, pdpt + 16
    movl $pd + 0x3007, pdpt + 24
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x87, %eax
    mov %eax, pd(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b
    mov %cr4, %eax
    or $0x20, %eax              /* PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx       /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000000, %eax        /* PG: long mode becomes active */
    mov %eax, %cr0
    ljmp $0x18, $long

    .code64
long:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %rsp
    gate 6, ud_handler
    gate 13, gp_handler
    gate 0x40, irq_handler
    gate 1, db_handler
    gate 2, nmi_handler
    gate 14, pf_handler
    gate USER_RETURN_VECTOR, user_return
    movb $0xee, idt + USER_RETURN_VECTOR * 16 + 5   /* DPL 3: user code may INT to it */
    lidt idt_pointer
    call load_tss
    call guest_main
2:  hlt
    jmp 2b

/* IDT[ecx] = 64-bit interrupt gate to rax (SDM Vol. 3A 6.14.1). */
set_gate:
    shl $4, %rcx
    lea idt(%rcx), %rdx
    mov %ax, (%rdx)
    movw $0x18, 2(%rdx)
    movw $0x8e00, 4(%rdx)
    shr $16, %rax
    mov %ax, 6(%rdx)
    shr $16, %rax
    mov %eax, 8(%rdx)
    movl $0, 12(%rdx)
    ret

/* The TSS: RSP0 is the stack an interrupt from CPL 3 switches to (SDM
 * Vol. 3A 7.7), and the I/O map base lies past the limit (no bitmap). Its
 * 16-byte descriptor (8.2.3) is assembled here, since the base is split
 * into fields that a relocation cannot fill: limit 15:0, base 23:0 at bit
 * 16, type 0x89 (present, available 64-bit TSS) at 40, base 31:24 at 56. */
load_tss:
    lea tss(%rip), %rax
    lea ring0_stack_top(%rip), %rdx
    mov %rdx, 4(%rax)
    movw $104, 102(%rax)
    mov %rax, %rdx
    shl $16, %rdx
    mov $0xffffff0000, %rcx
    and %rcx, %rdx
    mov %rax, %rcx
    shr $24, %rcx
    shl $56, %rcx
    or %rcx, %rdx
    mov $0x0000890000000067, %rcx
    or %rcx, %rdx
    mov %rdx, gdt + TSS_SELECTOR(%rip)
    mov $TSS_SELECTOR, %ax
    ltr %ax
    ret

/*
 * unsigned long user_hypercall(unsigned long fn, int intel): RAX = fn and
 * the hypercall instruction (VMCALL if intel, else VMMCALL) at CPL 3;
 * returns RAX as it is after the instruction. IRETQ enters user mode;
 * user mode comes back through INT USER_RETURN_VECTOR to user_return,
 * which takes up this frame again. Interrupts stay off throughout.
 */
    .global user_hypercall
user_hypercall:
    mov %rsp, kernel_rsp(%rip)
    lea user_vmmcall(%rip), %rcx
    lea user_vmcall(%rip), %rdx
    test %esi, %esi
    cmovnz %rdx, %rcx
    mov %rdi, %rax
    push $USER_DATA + 3             /* SS, RPL 3 */
    lea user_stack_top(%rip), %rdx
    push %rdx                       /* RSP */
    push $2                         /* RFLAGS: IF=0 */
    push $USER_CODE + 3             /* CS, RPL 3 */
    push %rcx                       /* RIP */
    iretq

user_vmcall:
    vmcall
    int $USER_RETURN_VECTOR
user_vmmcall:
    vmmcall
    int $USER_RETURN_VECTOR

user_return:
    mov kernel_rsp(%rip), %rsp
    ret

/* #GP pushes an error code: skip it and the faulting instruction (gp_skip bytes). */
gp_handler:
    push %rax
    mov 32(%rsp), %rax
    mov %rax, gp_eflags(%rip)
    mov gp_skip(%rip), %eax
    add %rax, 16(%rsp)
    pop %rax
    incl gp_faults(%rip)
    add $8, %rsp
    iretq

/* #UD: skip the 3-byte instruction (the checks raise it with MONITOR and MWAIT). */
ud_handler:
    addq $3, (%rsp)
    incl ud_faults(%rip)
    iretq

irq_handler:
    incl interrupts(%rip)
    iretq

/* The nine registers a C function may clobber (System V AMD64 ABI), around
 * the handlers that call C. */
.macro push_scratch
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
.endm
.macro pop_scratch
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
.endm

/* #PF: page_fault_entered(CR2, error code) in C decides what to change;
 * then the faulting instruction runs again. Nine registers and 8 bytes of
 * padding over the 48-byte frame leave RSP 16-byte aligned for the call. */
pf_handler:
    push_scratch
    sub $8, %rsp
    mov %cr2, %rdi
    mov 80(%rsp), %rsi
    cld
    call page_fault_entered
    add $8, %rsp
    pop_scratch
    add $8, %rsp                    /* the error code */
    iretq

/* NMI: the C part (nmichecks.c), with the registers C may clobber saved;
 * nine of them on the 40-byte frame leave RSP 16-byte aligned for the call. */
nmi_handler:
    push_scratch
    cld
    call nmi_entered
    pop_scratch
    iretq

/* #DB: count it, note the RIP it returns to and DR6 (then reset DR6, which
 * the CPU never clears), and stop single-stepping: TF off in the saved RFLAGS. */
db_handler:
    push %rax
    mov 8(%rsp), %rax
    mov %rax, db_return(%rip)
    mov %dr6, %rax
    mov %rax, db_dr6(%rip)
    mov $0xffff0ff0, %eax
    mov %rax, %dr6
    andq $~0x100, 24(%rsp)
    pop %rax
    incl db_traps(%rip)
    iretq

    .section .data
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00af9a000000ffff    /* 0x18: 64-bit code */
    .quad 0x00cff2000000ffff    /* 0x20: user data (DPL 3) */
    .quad 0x00affa000000ffff    /* 0x28: user 64-bit code (DPL 3) */
    .quad 0, 0                  /* 0x30: the TSS (load_tss) */
gdt_end:
gdt_pointer:
    .short gdt_end - gdt - 1
    .quad gdt
idt_pointer:
    .short 256 * 16 - 1
    .quad idt

    .align 8
kernel_rsp: .quad 0

    .section .bss
    .global idt, tss, pd            /* for guests that set up gates or pages of their own */
    .align 4096
pml4: .skip 4096
pdpt: .skip 4096
pd: .skip 4 * 4096
idt: .skip 256 * 16
    .align 16
tss: .skip 104
    .align 16
    .skip 1024
ring0_stack_top:
    .skip 1024
user_stack_top:
