/*
 * A guest that computes for a long time without a single exit (2^28 loop
 * iterations), then exits with status 0. Only the host timer can take the
 * CPU back from it: the other VMs finish first if the scheduler preempts.
 */
    .code16
    .section .entry, "ax"
    .global _start
_start:
    mov $0x10000000, %ecx
1:  dec %ecx
    jnz 1b
    mov $2, %eax                /* hypercall exit(0) */
    xor %ebx, %ebx
    /* VMMCALL on AMD, VMCALL on Intel: CPUID vendor EBX "Genu" means Intel. */
    push %ebx
    xor %eax, %eax
    cpuid
    cmp $0x756e6547, %ebx
    mov $2, %eax
    pop %ebx
    je 2f
    vmmcall
2:  vmcall
3:  hlt
    jmp 3b
