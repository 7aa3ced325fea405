/*
 * A guest that floods the VMM with exits, and is right to: a million port
 * writes, as a kernel polling a device would make, then exit status 0 by
 * hypercall (VMCALL on Intel, VMMCALL on AMD: CPUID's vendor says which).
 * Its work costs a million exits; it must run to the end without being
 * stopped, while the other VMs run on beside it.
 */
#define HC_EXIT 2
/* The test device's scratch register: a device with state, so every write
 * takes the hypervisor lock, on the exit fast path when it is free and the
 * long way when not (the POST port would need no lock at all,
 * vmm/core/fastports.ts). */
#define TEST_DEVICE_SCRATCH 0x600
#define WRITES 1000000
#define GENU 0x756e6547 /* CPUID 0: EBX of "GenuineIntel" */
    .code16
    .section .entry, "ax"
    .global _start
_start:
    mov $WRITES, %ecx
    mov $TEST_DEVICE_SCRATCH, %dx
1:  out %al, %dx
    dec %ecx
    jnz 1b
    xor %eax, %eax
    cpuid
    cmp $GENU, %ebx
    mov $HC_EXIT, %eax
    mov $0, %ebx            /* the exit status; MOV leaves the flags alone */
    jne 2f
    vmcall
2:  vmmcall
3:  hlt
    jmp 3b
