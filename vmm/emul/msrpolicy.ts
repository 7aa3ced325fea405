// Which MSRs a guest may touch, and how.
//
// Three answers, decided here once for both backends:
//  - pass through: the backend's MSR bitmap lets the access reach the
//    hardware, whose per-guest copy lives in the VMCS/VMCB (segment bases,
//    SYSENTER and SYSCALL MSRs, the TSC for reads);
//  - emulate: the VMM answers (the TSC's writes and IA32_TSC_ADJUST,
//    vcpustate/tsc.ts; IA32_TSC_AUX, vcpustate/msrs.ts; MTRRs, miscellaneous enables, the PAT, the microcode
//    revision, the machine-check globals, on AMD the K8 interrupt-pending
//    register and the legacy performance counters, which count nothing),
//    or the vCPU's local APIC does (devices/apic/lapic.ts);
//  - refuse: everything else raises #GP, as an absent MSR would on hardware.

import {
  AMD_INT_PENDING_MSG,
  AMD_LEGACY_COUNTERS,
  AMD_PERF_CTR0,
  AMD_PERF_EVT_SEL0,
  IA32_APIC_BASE,
  IA32_CSTAR,
  IA32_FMASK,
  IA32_FS_BASE,
  IA32_GS_BASE,
  IA32_KERNEL_GS_BASE,
  IA32_LSTAR,
  IA32_MCG_CAP,
  IA32_MCG_STATUS,
  IA32_MISC_ENABLE,
  IA32_MTRRCAP,
  IA32_MTRR_DEF_TYPE,
  IA32_PAT,
  IA32_STAR,
  IA32_SYSENTER_CS,
  IA32_SYSENTER_EIP,
  IA32_SYSENTER_ESP,
  IA32_TIME_STAMP_COUNTER,
  IA32_TSC_AUX,
  IA32_TSC_DEADLINE,
  MICROCODE_REVISION,
  X2APIC_FIRST,
  X2APIC_LAST,
} from "../../kernel/arch/msrs";
import { MsrState } from "../vcpustate/msrs";

// Reads and writes the backends let through to the guest's own copy.
export const PASSTHROUGH: u32[] = [
  IA32_SYSENTER_CS,
  IA32_SYSENTER_ESP,
  IA32_SYSENTER_EIP,
  IA32_STAR,
  IA32_LSTAR,
  IA32_CSTAR,
  IA32_FMASK,
  IA32_FS_BASE,
  IA32_GS_BASE,
  IA32_KERNEL_GS_BASE,
];
// Reads only (writes are emulated or refused).
export const PASSTHROUGH_READ: u32[] = [IA32_TIME_STAMP_COUNTER];

// The MSRs the local APIC answers: its base, the TSC deadline and the x2APIC
// registers (SDM Vol. 3A 11.4.4, 11.5.4.1, 11.12.1).
export function isLocalApicMsr(msr: u32): bool {
  return msr == IA32_APIC_BASE || msr == IA32_TSC_DEADLINE || (msr >= X2APIC_FIRST && msr <= X2APIC_LAST);
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

// AMD's event selects keep bits 41:0 (event, unit mask, the flags, the
// counter mask, Host/Guest only); the counters are 48 bits wide (APM Vol. 2
// 13.2.1). The rest is reserved.
const EVENT_SELECT_BITS: u64 = (<u64>1 << 42) - 1;
const COUNTER_BITS: u64 = (<u64>1 << 48) - 1;

// RDPMC's answer for counter `index` (ECX), or -1 for #GP: on AMD the four
// legacy counters; on Intel none, as CPUID leaf 0xA says (SDM Vol. 2B "RDPMC").
export function readCounter(state: MsrState, index: u32): i64 {
  return state.amd && index < AMD_LEGACY_COUNTERS ? <i64>state.counters[index] : -1;
}

// Which of AMD's four legacy PerfEvtSel (`first` AMD_PERF_EVT_SEL0) or
// PerfCtr (AMD_PERF_CTR0) registers `msr` is, or -1 if none (or not AMD).
function legacyPmuIndex(state: MsrState, msr: u32, first: u32): i32 {
  return state.amd && msr - first < AMD_LEGACY_COUNTERS ? <i32>(msr - first) : -1;
}

// The value of an emulated read, or -1 (as i64) for #GP.
export function emulateRead(state: MsrState, msr: u32): i64 {
  if (msr == IA32_MTRRCAP) return 0; // no variable or fixed ranges, no WC
  if (msr == IA32_MTRR_DEF_TYPE) return <i64>state.mtrrDefType;
  if (msr == IA32_MISC_ENABLE) return <i64>state.miscEnable;
  if (msr == IA32_PAT) return <i64>state.pat;
  if (msr == IA32_TSC_AUX && state.hasTscAux) return <i64>state.tscAux;
  const select = legacyPmuIndex(state, msr, AMD_PERF_EVT_SEL0), counter = legacyPmuIndex(state, msr, AMD_PERF_CTR0);
  if (select >= 0) return <i64>state.eventSelects[select];
  if (counter >= 0) return <i64>state.counters[counter];
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
  if (msr == IA32_MISC_ENABLE) {
    state.miscEnable = value;
    return true;
  }
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
  const select = legacyPmuIndex(state, msr, AMD_PERF_EVT_SEL0), counter = legacyPmuIndex(state, msr, AMD_PERF_CTR0);
  if (select >= 0 && (value & ~EVENT_SELECT_BITS) == 0) {
    state.eventSelects[select] = value;
    return true;
  }
  if (counter >= 0 && (value & ~COUNTER_BITS) == 0) {
    state.counters[counter] = value;
    return true;
  }
  // Bits 63:32 are reserved (SDM Vol. 4 Table 2-2).
  if (msr == IA32_TSC_AUX && state.hasTscAux && value >> 32 == 0) {
    state.tscAux = value;
    state.loadTscAux();
    return true;
  }
  return false;
}
