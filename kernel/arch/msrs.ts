// Model-specific register numbers, each defined once (Intel SDM Vol. 4
// "Model-Specific Registers"; AMD APM Vol. 2 Appendix A), and the bits of
// those whose bits more than one file reads. Which of them a guest may touch
// is vmm/emul/msrpolicy.ts's business; what EDX:EAX means is
// vmm/core/registers.ts's.

export const IA32_TIME_STAMP_COUNTER: u32 = 0x10;
export const IA32_APIC_BASE: u32 = 0x1b;
// IA32_APIC_BASE bits (SDM Vol. 3A 11.4.4): this CPU is the bootstrap
// processor; x2APIC mode; the APIC is enabled; bits 51:12 its base.
export const APIC_BASE_BSP: u64 = 1 << 8;
export const APIC_BASE_X2APIC: u64 = 1 << 10;
export const APIC_BASE_ENABLE: u64 = 1 << 11;
export const APIC_BASE_ADDRESS_MASK: u64 = 0xf_ffff_f000;

export const IA32_FEATURE_CONTROL: u32 = 0x3a;
// IA32_FEATURE_CONTROL bits (SDM Vol. 3C 24.7): writes locked until reset;
// VMXON allowed outside SMX operation.
export const FEATURE_CONTROL_LOCKED: u64 = 1 << 0;
export const FEATURE_CONTROL_VMX_OUTSIDE_SMX: u64 = 1 << 2;

export const IA32_TSC_ADJUST: u32 = 0x3b;
// Intel's IA32_BIOS_SIGN_ID, AMD's PATCH_LEVEL: the microcode revision.
export const MICROCODE_REVISION: u32 = 0x8b;
export const IA32_MTRRCAP: u32 = 0xfe;
export const IA32_SYSENTER_CS: u32 = 0x174;
export const IA32_SYSENTER_ESP: u32 = 0x175;
export const IA32_SYSENTER_EIP: u32 = 0x176;
// The machine-check architecture's global registers (SDM Vol. 3B 16.3.1).
export const IA32_MCG_CAP: u32 = 0x179;
export const IA32_MCG_STATUS: u32 = 0x17a;
export const IA32_MISC_ENABLE: u32 = 0x1a0;
export const IA32_PAT: u32 = 0x277;
// The PAT's value after RESET (SDM Vol. 3A 11.12.4): WB, WT, UC-, UC, twice.
export const PAT_POWER_ON: u64 = 0x0007_0406_0007_0406;
export const IA32_MTRR_DEF_TYPE: u32 = 0x2ff;

// VMX capability reporting (SDM Vol. 3D Appendix A). The TRUE_* controls
// (0x48d-0x490) follow the pin-based, processor-based, exit and entry
// controls at the same distance.
export const IA32_VMX_BASIC: u32 = 0x480;
export const IA32_VMX_PINBASED_CTLS: u32 = 0x481;
export const IA32_VMX_PROCBASED_CTLS: u32 = 0x482;
export const IA32_VMX_EXIT_CTLS: u32 = 0x483;
export const IA32_VMX_ENTRY_CTLS: u32 = 0x484;
export const IA32_VMX_MISC: u32 = 0x485;
export const IA32_VMX_CR0_FIXED0: u32 = 0x486;
export const IA32_VMX_CR0_FIXED1: u32 = 0x487;
export const IA32_VMX_CR4_FIXED0: u32 = 0x488;
export const IA32_VMX_CR4_FIXED1: u32 = 0x489;
export const IA32_VMX_PROCBASED_CTLS2: u32 = 0x48b;
export const IA32_VMX_EPT_VPID_CAP: u32 = 0x48c;
export const IA32_VMX_TRUE_PINBASED_CTLS: u32 = 0x48d;

export const IA32_TSC_DEADLINE: u32 = 0x6e0;
// The x2APIC's registers: MSR 0x800 + (MMIO offset >> 4) (SDM Vol. 3A 11.12.1).
export const X2APIC_FIRST: u32 = 0x800;
export const X2APIC_LAST: u32 = 0x8ff;

export const IA32_EFER: u32 = 0xc000_0080;
export const IA32_STAR: u32 = 0xc000_0081;
export const IA32_LSTAR: u32 = 0xc000_0082;
export const IA32_CSTAR: u32 = 0xc000_0083;
export const IA32_FMASK: u32 = 0xc000_0084;
export const IA32_FS_BASE: u32 = 0xc000_0100;
export const IA32_GS_BASE: u32 = 0xc000_0101;
export const IA32_KERNEL_GS_BASE: u32 = 0xc000_0102;
// What RDTSCP and RDPID return beside the TSC (SDM Vol. 2B "RDTSCP").
export const IA32_TSC_AUX: u32 = 0xc000_0103;

// AMD's legacy performance counters, on every AMD64 processor (APM Vol. 2
// 13.2.1): four event selects, then four 48-bit counters.
export const AMD_PERF_EVT_SEL0: u32 = 0xc001_0000;
export const AMD_PERF_CTR0: u32 = 0xc001_0004;
export const AMD_LEGACY_COUNTERS: u32 = 4;

// AMD family 0Fh-10h "Interrupt Pending Message" (BKDG for family 0Fh,
// MSRC001_0055): whether the cores enter C1E or raise an SMI on halt.
export const AMD_INT_PENDING_MSG: u32 = 0xc001_0055;
// AMD's VM_CR (APM Vol. 2 15.30.1): bit 4, SVMDIS, set by firmware that
// turned SVM off.
export const AMD_VM_CR: u32 = 0xc001_0114;
export const VM_CR_SVMDIS: u64 = 1 << 4;
// AMD's VM_HSAVE_PA (APM Vol. 2 15.30.4): where VMRUN saves the host's state.
export const AMD_VM_HSAVE_PA: u32 = 0xc001_0117;
