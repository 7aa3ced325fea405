// Which MSRs a guest may touch, and how.
//
// Three answers, decided here once for both backends:
//  - pass through: the backend's MSR bitmap lets the access reach the
//    hardware, whose per-guest copy lives in the VMCS/VMCB (segment bases,
//    SYSENTER and SYSCALL MSRs, the TSC for reads);
//  - emulate: the VMM answers (the TSC's writes and IA32_TSC_ADJUST, for
//    the vCPU's TSC offset, guesttsc.ts; MTRRs, miscellaneous enables, the PAT, the
//    microcode revision, the machine-check globals, and on AMD the K8
//    interrupt-pending register), or
//    the vCPU's local APIC does (its base and the x2APIC registers, apics.ts);
//  - refuse: everything else raises #GP in the guest, as an absent MSR would
//    on hardware.

export const IA32_TIME_STAMP_COUNTER: u32 = 0x10;
export const IA32_APIC_BASE: u32 = 0x1b;
// Intel's IA32_BIOS_SIGN_ID, AMD's PATCH_LEVEL: the microcode revision.
export const MICROCODE_REVISION: u32 = 0x8b;
export const IA32_MTRRCAP: u32 = 0xfe;
export const IA32_TSC_DEADLINE: u32 = 0x6e0;
const X2APIC_FIRST: u32 = 0x800;
const X2APIC_LAST: u32 = 0x8ff;
// SDM Vol. 3B 16.3.1: the machine-check architecture's global registers.
export const IA32_MCG_CAP: u32 = 0x179;
export const IA32_MCG_STATUS: u32 = 0x17a;
export const IA32_SYSENTER_CS: u32 = 0x174;
export const IA32_SYSENTER_ESP: u32 = 0x175;
export const IA32_SYSENTER_EIP: u32 = 0x176;
export const IA32_MISC_ENABLE: u32 = 0x1a0;
export const IA32_PAT: u32 = 0x277;
export const IA32_MTRR_DEF_TYPE: u32 = 0x2ff;
export const IA32_EFER: u32 = 0xc0000080;
export const IA32_STAR: u32 = 0xc0000081;
export const IA32_LSTAR: u32 = 0xc0000082;
export const IA32_CSTAR: u32 = 0xc0000083;
export const IA32_FMASK: u32 = 0xc0000084;
export const IA32_FS_BASE: u32 = 0xc0000100;
export const IA32_GS_BASE: u32 = 0xc0000101;
export const IA32_KERNEL_GS_BASE: u32 = 0xc0000102;
// AMD family 0Fh-10h "Interrupt Pending Message" (BKDG for family 0Fh,
// MSRC001_0055): whether the cores enter C1E or raise an SMI on halt.
export const AMD_INT_PENDING_MSG: u32 = 0xc0010055;

// Reads and writes the backends let through to the guest's own copy.
export const PASSTHROUGH: u32[] = [
  IA32_SYSENTER_CS, IA32_SYSENTER_ESP, IA32_SYSENTER_EIP,
  IA32_STAR, IA32_LSTAR, IA32_CSTAR, IA32_FMASK,
  IA32_FS_BASE, IA32_GS_BASE, IA32_KERNEL_GS_BASE,
];
// Reads only (writes are emulated or refused).
export const PASSTHROUGH_READ: u32[] = [IA32_TIME_STAMP_COUNTER];

const MTRR_DEF_TYPE_WRITE_BACK: u64 = (1 << 11) | 6; // MTRRs enabled, default type WB
// SDM Vol. 3A 11.12.4: the PAT's power-up value (WB, WT, UC-, UC, twice).
export const PAT_POWER_ON: u64 = 0x0007040600070406;

// The MSRs the local APIC answers (SDM Vol. 3A 11.4.4, 11.5.4.1, 11.12.1).
export function isLocalApicMsr(msr: u32): bool {
  return msr == IA32_APIC_BASE || msr == IA32_TSC_DEADLINE || (msr >= X2APIC_FIRST && msr <= X2APIC_LAST);
}

// Emulated MSRs live per vCPU; some exist on one vendor's CPUs only (the
// guest sees the host's vendor in CPUID).
export class MsrState {
  constructor(readonly amd: bool) {}
  miscEnable: u64 = 1; // fast strings
  mtrrDefType: u64 = MTRR_DEF_TYPE_WRITE_BACK;
  // Kept for the guest to read back, without effect on memory types: EPT
  // entries ignore the guest's PAT (vmx/ept.ts) and on AMD-V the VMCB's G_PAT
  // keeps the power-on value.
  pat: u64 = PAT_POWER_ON;
}

// SDM Vol. 3A 11.12.2: each byte a memory type, 0 (UC), 1 (WC), 4 (WT),
// 5 (WP), 6 (WB) or 7 (UC-); bits 7:3 reserved. Anything else is #GP.
export function validPat(value: u64): bool {
  for (let i: u64 = 0; i < 8; i++) {
    const type = (value >> (i * 8)) & 0xff;
    if (type == 2 || type == 3 || type > 7) return false;
  }
  return true;
}

// The value of an emulated read, or -1 (as i64) for #GP.
export function emulateRead(state: MsrState, msr: u32): i64 {
  if (msr == IA32_MTRRCAP) return 0; // no variable or fixed ranges, no WC
  if (msr == IA32_MTRR_DEF_TYPE) return <i64>state.mtrrDefType;
  if (msr == IA32_MISC_ENABLE) return <i64>state.miscEnable;
  if (msr == IA32_PAT) return <i64>state.pat;
  // No error-reporting banks, no IA32_MCG_CTL, no extensions: a machine
  // that never reports an error; and no machine check in progress.
  if (msr == IA32_MCG_CAP || msr == IA32_MCG_STATUS) return 0;
  // No microcode update loaded: revision 0 (Linux reads it to name errata).
  if (msr == MICROCODE_REVISION) return 0;
  // Neither C1E nor SMI on halt: nothing Linux's AMD erratum 400 code must work around.
  if (msr == AMD_INT_PENDING_MSG && state.amd) return 0;
  return -1;
}

// True if the write was accepted; false means #GP.
export function emulateWrite(state: MsrState, msr: u32, value: u64): bool {
  if (msr == IA32_MTRR_DEF_TYPE) {
    if (value & ~(<u64>0xcff)) return false;
    state.mtrrDefType = value;
    return true;
  }
  if (msr == IA32_MISC_ENABLE) { state.miscEnable = value; return true; }
  // An OS clears MCIP when its handler is done (16.3.1.2); there is nothing to clear.
  if (msr == IA32_MCG_STATUS) return value == 0;
  // SDM Vol. 3A 10.11.7.1: software writes 0 to IA32_BIOS_SIGN_ID, then
  // runs CPUID, to read the revision; no update is loaded, so it stays 0.
  // AMD's PATCH_LEVEL is read-only.
  if (msr == MICROCODE_REVISION) return !state.amd;
  if (msr == IA32_PAT) {
    if (!validPat(value)) return false;
    state.pat = value;
    return true;
  }
  return false;
}
