/*
 * Entry: from the boot loader's 32-bit protected mode to 64-bit long mode.
 *
 * The loader leaves us with paging off, an unknown GDT and no stack. We
 * check for long mode, identity-map the first 4 GiB with 2 MiB pages
 * (enough to reach the image, the boot information, the modules and the
 * local APIC), turn on PAE, SSE and long mode, and call kmain(magic, info)
 * in C. The AssemblyScript kernel later replaces these page tables with its
 * own, built from the real memory map.
 * Intel SDM Vol. 3A 10.8.5 "Initializing IA-32e Mode".
 */
#include "layout.h"

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

    .section .text.boot, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    /* Keep the loader's magic and info pointer: they become kmain's arguments. */
    mov %eax, %edi
    mov %ebx, %esi
    /* The start-up benchmark counts from here (tools/startupbench.ts). */
    rdtsc
    mov %eax, boot_tsc
    mov %edx, boot_tsc + 4
    mov $boot_stack_top, %esp

    /* Long mode needs CPUID leaf 0x80000001 EDX bit 29 (SDM Vol. 2A, CPUID). */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    bt $29, %edx
    jnc no_long_mode
    mov %edx, %ebp                  /* bit 20 = NX, used below */

    /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages. */
    mov $boot_pdpt, %eax
    or $(PTE_P | PTE_W), %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    mov $boot_pdpt, %ebx
    mov $4, %ecx
1:  mov %eax, %edx
    or $(PTE_P | PTE_W), %edx
    mov %edx, (%ebx)
    add $4096, %eax
    add $8, %ebx
    loop 1b
    xor %eax, %eax                  /* physical address, low 32 bits */
    mov $boot_pd, %ebx
    mov $2048, %ecx
2:  mov %eax, %edx
    or $(PTE_P | PTE_W | PTE_PS), %edx
    mov %edx, (%ebx)
    add $0x200000, %eax
    add $8, %ebx
    loop 2b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    /* PAE paging, and FXSAVE/SSE: the compiled AssemblyScript uses SSE. */
    mov %cr4, %eax
    or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    mov %eax, %cr4
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    bt $20, %ebp
    jnc 3f
    or $EFER_NXE, %eax
3:  wrmsr
    /* CR0.NE is also required before VMXON (SDM Vol. 3C 24.8). Clear CD and
       NW turn caching on (Vol. 3A 11.5.3), which reset leaves off and Bochs'
       BIOS too; VM exits keep them (Vol. 3C 27.5.1), Bochs' VM entry as well. */
    mov %cr0, %eax
    and $~(CR0_EM | CR0_CD | CR0_NW), %eax
    or $(CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG), %eax
    mov %eax, %cr0
    lgdt boot_gdt_pointer
    ljmp $GDT_KERNEL_CODE, $start64

no_long_mode:
    mov $no_long_mode_message, %esi
4:  lodsb
    test %al, %al
    jz 5f
    mov $0x3f8, %dx
    out %al, %dx
    jmp 4b
5:  hlt
    jmp 5b

    .code64
start64:
    mov $GDT_KERNEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack_top, %rsp
    /* The upper halves of RDI/RSI are undefined after the mode switch. */
    mov %edi, %edi
    mov %esi, %esi
    call kmain
6:  cli
    hlt
    jmp 6b

    .section .rodata
    .align 4
    .global host_mxcsr
host_mxcsr:
    .long 0x1f80                    /* all SSE exceptions masked, round to nearest */
no_long_mode_message:
    .asciz "typervisor: this CPU has no 64-bit long mode; stopping.\r\n"

    /* Writable: tss_install() fills in the TSS descriptor. */
    .section .data
    .align 16
    .global boot_gdt
boot_gdt:
    .quad 0                         /* null */
    .quad 0x00AF9A000000FFFF        /* GDT_KERNEL_CODE: 64-bit code, DPL 0 */
    .quad 0x00CF92000000FFFF        /* GDT_KERNEL_DATA: data, DPL 0 */
    .global boot_gdt_tss
boot_gdt_tss:
    .fill 2 * MAX_CPUS, 8, 0        /* GDT_TSS + 16n: CPU n's TSS, by tss_install() */
boot_gdt_end:

    .align 8
    .global boot_tsc
boot_tsc:   .quad 0                 /* the TSC at the hypervisor's first instructions */

    .align 8
    .global boot_gdt_pointer
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .section .bss
    .align 4096
    .global boot_pml4
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4 * 4096
    /* Unmapped by the kernel's page tables: a stack overflow faults here. */
boot_stack_guard: .skip 4096
    .global boot_stack
boot_stack: .skip BOOT_STACK_SIZE
    .global boot_stack_top
boot_stack_top:
