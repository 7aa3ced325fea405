// The x86 architecture's register bits, exception vectors, page-table entry
// bits and CPUID feature flags: each defined once, with its meaning and the
// manual section that defines it. The host (kernel/) and the VMM (vmm/) use
// these names; no other file spells the numbers. MSR numbers are in msrs.ts,
// segment descriptors in segments.ts.
// Intel SDM = Intel 64 and IA-32 Architectures Software Developer's Manual;
// APM = AMD64 Architecture Programmer's Manual.

// The general-purpose registers in their encoding order (SDM Vol. 2A 2.1.5
// Table 2-2): the index a ModRM or REX-extended register field names.
export const enum Reg {
  Rax,
  Rcx,
  Rdx,
  Rbx,
  Rsp,
  Rbp,
  Rsi,
  Rdi,
  R8,
  R9,
  R10,
  R11,
  R12,
  R13,
  R14,
  R15,
}
export const REGISTER_NAMES: string[] = [
  "rax",
  "rcx",
  "rdx",
  "rbx",
  "rsp",
  "rbp",
  "rsi",
  "rdi",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
];

// The segment registers in their encoding order (SDM Vol. 2A 3.1.1.3,
// "Sreg"), then LDTR and TR, as the VMCS numbers its guest-state fields.
export const enum Seg {
  Es,
  Cs,
  Ss,
  Ds,
  Fs,
  Gs,
  Ldtr,
  Tr,
}

// The longest x86 instruction (SDM Vol. 2A 2.3.11).
export const MAX_INSTRUCTION_LENGTH = 15;

// CR0 (SDM Vol. 3A 2.5; APM Vol. 2 3.1.1).
export const CR0_PE: u64 = 1 << 0; // protected mode
export const CR0_MP: u64 = 1 << 1; // WAIT/FWAIT honour TS
export const CR0_ET: u64 = 1 << 4; // extension type: always 1 on modern CPUs
export const CR0_NE: u64 = 1 << 5; // x87 errors as #MF, not through IRQ 13
export const CR0_WP: u64 = 1 << 16; // supervisor writes obey read-only pages
export const CR0_AM: u64 = 1 << 18; // alignment checks in ring 3 with RFLAGS.AC
export const CR0_NW: u64 = 1 << 29; // not write-through
export const CR0_CD: u64 = 1 << 30; // cache disable
export const CR0_PG: u64 = 0x8000_0000; // paging
// CR0 after RESET or INIT: CD, NW and ET (SDM Vol. 3A 10.1.1 Table 10-1;
// APM Vol. 2 Table 14-1).
export const CR0_RESET: u64 = CR0_CD | CR0_NW | CR0_ET;

// CR4 (SDM Vol. 3A 2.5; APM Vol. 2 3.1.3).
export const CR4_DE: u64 = 1 << 3; // debugging extensions: I/O breakpoints
export const CR4_PSE: u64 = 1 << 4; // 4 MiB pages in 32-bit paging
export const CR4_PAE: u64 = 1 << 5; // 64-bit page-table entries
export const CR4_LA57: u64 = 1 << 12; // 5-level paging
export const CR4_SMAP: u64 = 1 << 21; // supervisor data accesses to user pages fault unless RFLAGS.AC
export const CR4_PKE: u64 = 1 << 22; // protection keys for user pages, PKRU
export const CR4_VMXE: u64 = 1 << 13; // VMX operation allowed
export const CR4_OSXSAVE: u64 = 1 << 18; // XSAVE, XSETBV and XCR0 enabled by the OS

// EFER, the extended feature enable register (SDM Vol. 3A 2.2.1 Table 2-1;
// APM Vol. 2 3.1.7).
export const EFER_SCE: u64 = 1 << 0; // SYSCALL/SYSRET
export const EFER_LME: u64 = 1 << 8; // long mode enable
export const EFER_LMA: u64 = 1 << 10; // long mode active: set by the CPU
export const EFER_NXE: u64 = 1 << 11; // no-execute pages
export const EFER_SVME: u64 = 1 << 12; // AMD: SVM enabled
export const EFER_LMSLE: u64 = 1 << 13; // AMD: long-mode segment limits
export const EFER_FFXSR: u64 = 1 << 14; // AMD: fast FXSAVE/FXRSTOR
export const EFER_TCE: u64 = 1 << 15; // AMD: translation cache extension

// RFLAGS (SDM Vol. 1 3.4.3; Vol. 3A 2.3).
export const RFLAGS_CF: u64 = 1 << 0; // carry (or borrow) out of the top bit
export const RFLAGS_FIXED: u64 = 1 << 1; // reserved, always 1
// Reserved, always 0: bits 3, 5, 15 and 22-63.
export const RFLAGS_RESERVED: u64 = (1 << 3) | (1 << 5) | (1 << 15) | ~((<u64>1 << 22) - 1);
export const RFLAGS_PF: u64 = 1 << 2; // parity: the result's low byte has an even number of ones
export const RFLAGS_AF: u64 = 1 << 4; // auxiliary carry, out of bit 3
export const RFLAGS_ZF: u64 = 1 << 6; // the result is zero
export const RFLAGS_SF: u64 = 1 << 7; // the result's top bit
export const RFLAGS_TF: u64 = 1 << 8; // single step: a #DB after each instruction
export const RFLAGS_IF: u64 = 1 << 9; // maskable interrupts enabled
export const RFLAGS_DF: u64 = 1 << 10; // string instructions step down
export const RFLAGS_OF: u64 = 1 << 11; // signed overflow
// The six status flags the arithmetic instructions set (SDM Vol. 1 3.4.3.1).
export const RFLAGS_STATUS: u64 = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF;
export const RFLAGS_RF: u64 = 1 << 16; // resume: no instruction breakpoint for the next instruction
export const RFLAGS_AC: u64 = 1 << 18; // alignment check; with CR4.SMAP, supervisor access to user pages
export const RFLAGS_VM: u64 = 1 << 17; // virtual-8086 mode
export const RFLAGS_IOPL: u64 = 3 << 12; // I/O privilege level
export const RFLAGS_NT: u64 = 1 << 14; // nested task: IRET returns by task switch (a #GP in long mode)
export const RFLAGS_VIF: u64 = 1 << 19; // virtual IF (CR4.VME, CR4.PVI)
export const RFLAGS_VIP: u64 = 1 << 20; // virtual interrupt pending
export const RFLAGS_ID: u64 = 1 << 21; // toggled to detect CPUID

// The debug registers after RESET (SDM Vol. 3B 18.2.3, 18.2.4): DR6 with
// all its reserved bits set, DR7 with bit 10 set.
export const DR6_RESET: u64 = 0xffff_0ff0;
export const DR7_RESET: u64 = 0x400;
// DR6's cause bits: B0-B3 (a breakpoint matched), BD (general detect), BS
// (single step); DR7.GD, which a #DB clears so that its handler may touch
// the debug registers (SDM Vol. 3B 18.2.3, 18.2.4).
export const DR6_BREAKPOINTS: u64 = 0xf; // B0-B3
export const DR6_CAUSES: u64 = DR6_BREAKPOINTS | (1 << 13) | (1 << 14);
export const DR6_BD: u64 = 1 << 13;
export const DR6_BS: u64 = 1 << 14;
export const DR7_GD: u64 = 1 << 13;
// DR7's L0-L3 and G0-G3 (bits 7:0): none set, no breakpoint is armed.
export const DR7_ENABLES: u64 = 0xff;

// Exception vectors (SDM Vol. 3A 6.3.1 Table 6-1).
export const VECTOR_DB: u8 = 1; // debug
export const VECTOR_NMI: u8 = 2;
export const VECTOR_BP: u8 = 3; // breakpoint (INT3)
export const VECTOR_OF: u8 = 4; // overflow (INTO)
export const VECTOR_UD: u8 = 6; // invalid opcode
export const VECTOR_DF: u8 = 8; // double fault
export const VECTOR_GP: u8 = 13; // general protection
export const VECTOR_PF: u8 = 14; // page fault
export const VECTOR_AC: u8 = 17; // alignment check
// The fault-class exceptions: #DE, #BR, #UD, #NM, #TS, #NP, #SS, #GP, #PF,
// #MF, #AC, #XM, #VE, #CP (Table 6-1). #DB is a fault only for an
// instruction breakpoint, which pushes RF clear (Vol. 3B 18.3.1.1).
const FAULT_VECTORS: u32 = 0x3b_7ce1;
// Delivering a fault pushes RFLAGS with RF set, so that returning to the
// faulting instruction does not hit its instruction breakpoint again (SDM
// Vol. 3B 18.3.1.1); a hypervisor injecting one must set RF itself.
export function isFault(vector: u8): bool {
  return vector < 32 && ((FAULT_VECTORS >> vector) & 1) != 0;
}
// Their names, by vector.
export const EXCEPTION_NAMES: string[] = [
  "divide error",
  "debug",
  "NMI",
  "breakpoint",
  "overflow",
  "BOUND range exceeded",
  "invalid opcode",
  "device not available",
  "double fault",
  "coprocessor segment overrun",
  "invalid TSS",
  "segment not present",
  "stack-segment fault",
  "general protection",
  "page fault",
  "reserved",
  "x87 floating-point error",
  "alignment check",
  "machine check",
  "SIMD floating-point",
  "virtualization exception",
  "control protection",
];
// The first vector an external interrupt may use: 0-31 are the exceptions'.
export const FIRST_EXTERNAL_VECTOR: u8 = 32;

// Paging-structure entries, 4-level and PAE (SDM Vol. 3A 4.5 Tables 4-14
// to 4-20; APM Vol. 2 5.4); AMD's nested page tables use the same format.
export const PTE_PRESENT: u64 = 1 << 0;
export const PTE_WRITABLE: u64 = 1 << 1;
export const PTE_USER: u64 = 1 << 2;
// A page fault's error code (SDM Vol. 3A 4.7): a protection violation (else
// the page was not present), a write, an access at CPL 3.
export const PF_PROTECTION: u32 = 1 << 0;
export const PF_WRITE: u32 = 1 << 1;
export const PF_USER: u32 = 1 << 2;
export const PTE_WRITE_THROUGH: u64 = 1 << 3; // PWT
export const PTE_CACHE_DISABLE: u64 = 1 << 4; // PCD
export const PTE_LARGE: u64 = 1 << 7; // PS: maps a 2 MiB or 1 GiB page (4 MiB in 32-bit paging)
// Bits 51:12: the physical address of a table or a 4 KiB page.
export const PTE_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

// XCR0's state components (SDM Vol. 1 13.1, 13.3).
export const XCR0_X87: u64 = 1 << 0;
export const XCR0_SSE: u64 = 1 << 1;
export const XCR0_AVX: u64 = 1 << 2;
export const XCR0_AVX512: u64 = 7 << 5; // opmask, ZMM_Hi256, Hi16_ZMM: all or none
export const XCR0_PKRU: u64 = 1 << 9; // the protection-key rights register

// CPUID feature flags the host and the VMM both test (SDM Vol. 2A "CPUID";
// APM Vol. 3 Appendix E).
export const CPUID1_ECX_VMX: u32 = 1 << 5;
export const CPUID1_ECX_XSAVE: u32 = 1 << 26;
export const CPUID1_ECX_OSXSAVE: u32 = 1 << 27;
export const CPUID1_ECX_RDRAND: u32 = 1 << 30;
export const CPUID7_EBX_RDSEED: u32 = 1 << 18; // leaf 7, subleaf 0
export const CPUID7_ECX_PKU: u32 = 1 << 3; // leaf 7, subleaf 0: protection keys
export const CPUID7_ECX_OSPKE: u32 = 1 << 4; // CR4.PKE, as the OS set it
export const CPUID_EXT1_ECX_SVM: u32 = 1 << 2; // leaf 0x80000001
export const CPUID_EXT1_EDX_NX: u32 = 1 << 20;
export const CPUID_EXT1_EDX_PAGE1GB: u32 = 1 << 26;
