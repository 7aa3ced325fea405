/*
 * Constants shared by the boot assembly and the C shim: the fixed layout of
 * the image in virtual memory. Kept tiny; everything else is decided by the
 * AssemblyScript kernel at run time.
 */
#ifndef TV_LAYOUT_H
#define TV_LAYOUT_H

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_TSS 0x18 /* CPU n's TSS descriptor is at GDT_TSS + 16 * n */
#define MAX_CPUS 16
#define TRAMPOLINE 0x8000 /* where application processors start, in real mode */

/* What the exit fast paths answer the stubs (FastExit in vmm/core/entryblock.ts). */
#define FAST_EXIT_DONE 1
#define FAST_EXIT_LANE 2
#define FAST_EXIT_QUICK_IO 3 /* for the fast path's parts that may call out (linker/shim.c) */
#define FAST_EXIT_STORE 4

/* Control-register and EFER bits the 32-to-64-bit entries set (boot/entry.S
 * for the boot CPU, boot/ap.S for the others). */
#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_NE (1 << 5)
#define CR0_WP (1 << 16)
#define CR0_NW (1 << 29)
#define CR0_CD (1 << 30)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xC0000080
#define MSR_APIC_BASE 0x1B

/* Host interrupt vectors: 0-31 are exceptions; the local APIC's spurious
 * vector (kernel/cpu/lapic.ts programs it) takes no EOI (SDM Vol. 3A 11.9). */
#define FIRST_EXTERNAL_VECTOR 32
#define SPURIOUS_VECTOR 0xff
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

#define BOOT_STACK_SIZE (64 * 1024)
#define ISR_STUB_SIZE 16 /* bytes per interrupt entry stub in boot/isr.S */

/* The AssemblyScript linear memory is mapped at 1 TiB (PML4 slot 2). The
 * 8 GiB behind its base stay unmapped except for the pages in use, so any
 * out-of-bounds wasm access (32-bit address + 32-bit offset) faults. */
#define LINEAR_BASE 0x10000000000
#define LINEAR_PML4_SLOT 2
#define LINEAR_CHUNK (2 * 1024 * 1024)

#endif
