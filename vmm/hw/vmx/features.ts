// What VT-x offers on this CPU, read once from the VMX capability MSRs, and
// the control words every guest runs with.
//
// Each control word has a capability MSR: its low half holds the bits that
// must be 1 (allowed-0 settings), its high half the bits that may be 1
// (allowed-1 settings). When IA32_VMX_BASIC bit 55 is set, the TRUE_* MSRs
// tell which "default1" bits (such as CR3-load exiting, needless with EPT)
// may in fact be 0. We ask for what we want, adjust to what the CPU allows,
// and then check that nothing we cannot do without was lost.
// Intel SDM Vol. 3C Appendix A "VMX Capability Reporting Facility", 31.5.1
// "Algorithms for Determining VMX Capabilities".

import {
  IA32_VMX_BASIC,
  IA32_VMX_CR0_FIXED0,
  IA32_VMX_CR0_FIXED1,
  IA32_VMX_CR4_FIXED0,
  IA32_VMX_CR4_FIXED1,
  IA32_VMX_ENTRY_CTLS,
  IA32_VMX_EPT_VPID_CAP,
  IA32_VMX_EXIT_CTLS,
  IA32_VMX_MISC,
  IA32_VMX_PINBASED_CTLS,
  IA32_VMX_PROCBASED_CTLS,
  IA32_VMX_PROCBASED_CTLS2,
  IA32_VMX_TRUE_PINBASED_CTLS,
} from "../../../kernel/arch/msrs";
import { rdmsr } from "../../../kernel/arch/shim";
import { CPUID_EXT1_EDX_NX, CR0_PE, CR0_PG, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE } from "../../../kernel/arch/x86";
import * as log from "../../../kernel/console/log";
import { query } from "../../../kernel/cpu/cpuid";
import * as C from "./controls";

const TRUE_CONTROLS_OFFSET: u32 = IA32_VMX_TRUE_PINBASED_CTLS - IA32_VMX_PINBASED_CTLS;
const BASIC_TRUE_CONTROLS: u64 = <u64>1 << 55;

// IA32_VMX_EPT_VPID_CAP bits (SDM Appendix A.10).
const EPT_WALK_4: u64 = 1 << 6;
const EPT_UC: u64 = 1 << 8;
const EPT_WB: u64 = 1 << 14;
const EPT_2M: u64 = 1 << 16;
const EPT_1G: u64 = 1 << 17;
const EPT_INVEPT: u64 = 1 << 20;
const EPT_AD: u64 = 1 << 21;
const EPT_INVEPT_SINGLE: u64 = 1 << 25;
const EPT_INVEPT_ALL: u64 = 1 << 26;
const VPID_INVVPID: u64 = <u64>1 << 32;
const VPID_INVVPID_SINGLE: u64 = <u64>1 << 41;
const VPID_INVVPID_ALL: u64 = <u64>1 << 42;

export class VmxFeatures {
  readonly basic: u64 = rdmsr(IA32_VMX_BASIC);
  readonly revision: u32 = <u32>this.basic & 0x7fffffff;
  readonly trueControls: bool = (this.basic & BASIC_TRUE_CONTROLS) != 0;
  readonly misc: u64 = rdmsr(IA32_VMX_MISC);
  readonly cr0Fixed0: u64 = rdmsr(IA32_VMX_CR0_FIXED0);
  readonly cr0Fixed1: u64 = rdmsr(IA32_VMX_CR0_FIXED1);
  readonly cr4Fixed0: u64 = rdmsr(IA32_VMX_CR4_FIXED0);
  readonly cr4Fixed1: u64 = rdmsr(IA32_VMX_CR4_FIXED1);
  // The capability MSRs of the five control words.
  readonly pinCap: u64 = this.capability(IA32_VMX_PINBASED_CTLS);
  readonly procCap: u64 = this.capability(IA32_VMX_PROCBASED_CTLS);
  readonly exitCap: u64 = this.capability(IA32_VMX_EXIT_CTLS);
  readonly entryCap: u64 = this.capability(IA32_VMX_ENTRY_CTLS);
  // Secondary controls exist only if the primary word may activate them.
  readonly proc2Cap: u64 = ((this.procCap >> 32) & C.PROC_SECONDARY) != 0 ? rdmsr(IA32_VMX_PROCBASED_CTLS2) : 0;
  readonly eptVpid: u64 = ((this.proc2Cap >> 32) & (C.PROC2_EPT | C.PROC2_VPID)) != 0
    ? rdmsr(IA32_VMX_EPT_VPID_CAP)
    : 0;

  // Control words: every port, every non-passthrough MSR, HLT, interrupts,
  // NMIs (with virtual NMIs for the guest's own, whose blocking the CPU
  // tracks), MONITOR/MWAIT, RDPMC and CR8 (TPR) accesses exit (debug registers
  // are the guest's for its slice, vcpustate/debugregs.ts); the guest's TSC
  // reads add its offset (vcpustate/tsc.ts), 0 until it moves its TSC; EPT
  // and unrestricted guest translate and run the guest; VPID, RDTSCP and
  // INVPCID when the CPU has them. EFER is switched through the VMCS. The
  // preemption timer, interrupt-window and NMI-window exiting are switched per vCPU.
  readonly pin: u32 = adjust(C.PIN_EXTERNAL_INTERRUPT | C.PIN_NMI | C.PIN_VIRTUAL_NMIS, this.pinCap);
  readonly proc: u32 = adjust(
    C.PROC_HLT | C.PROC_MWAIT | C.PROC_RDPMC | C.PROC_CR8_LOAD | C.PROC_CR8_STORE
      | C.PROC_IO_BITMAPS | C.PROC_MSR_BITMAPS | C.PROC_MONITOR | C.PROC_SECONDARY | C.PROC_TSC_OFFSETTING,
    this.procCap,
  );
  readonly proc2: u32 = adjust(
    C.PROC2_EPT | C.PROC2_UNRESTRICTED_GUEST | C.PROC2_VPID | C.PROC2_RDTSCP | C.PROC2_INVPCID,
    this.proc2Cap,
  );
  readonly exit: u32 = adjust(
    C.EXIT_SAVE_DEBUG | C.EXIT_HOST_64BIT | C.EXIT_SAVE_EFER | C.EXIT_LOAD_EFER,
    this.exitCap,
  );
  readonly entry: u32 = adjust(C.ENTRY_LOAD_DEBUG | C.ENTRY_LOAD_EFER, this.entryCap);

  // CR0 and CR4 bits VMX forces to 1 or to 0 while the guest runs (SDM 23.8
  // "Restrictions on VMX Operation", A.7, A.8); unrestricted guest frees CR0.PE and PG.
  readonly cr0Must1: u64 = this.cr0Fixed0 & ~(CR0_PE | CR0_PG) & 0xffffffff;
  readonly cr0Must0: u64 = ~this.cr0Fixed1 & 0xffffffff;
  readonly cr4Must1: u64 = this.cr4Fixed0 & 0xffffffff;
  readonly cr4Must0: u64 = ~this.cr4Fixed1 & 0xffffffff;
  // The bits we own (guest/host masks, guestmode.ts): the forced ones, and CR0.PG.
  readonly cr0Owned: u64 = this.cr0Must1 | this.cr0Must0 | CR0_PG;
  readonly cr4Owned: u64 = this.cr4Must1 | this.cr4Must0;
  // EFER bits a guest may set: SCE, LME, LMA (read-only), and NXE if the CPU has NX.
  readonly eferWritable: u64 = EFER_SCE | EFER_LME | EFER_LMA
    | ((query(0x80000001).edx & CPUID_EXT1_EDX_NX) != 0 ? EFER_NXE : 0);

  get unrestrictedGuest(): bool {
    return (this.proc2 & C.PROC2_UNRESTRICTED_GUEST) != 0;
  }
  get ept(): bool {
    return (this.proc2 & C.PROC2_EPT) != 0;
  }
  get vpid(): bool {
    return (this.proc2 & C.PROC2_VPID) != 0;
  }
  get eptWalk4(): bool {
    return (this.eptVpid & EPT_WALK_4) != 0;
  }
  get eptTablesWb(): bool {
    return (this.eptVpid & EPT_WB) != 0;
  }
  get eptTablesUc(): bool {
    return (this.eptVpid & EPT_UC) != 0;
  }
  get ept2M(): bool {
    return (this.eptVpid & EPT_2M) != 0;
  }
  get ept1G(): bool {
    return (this.eptVpid & EPT_1G) != 0;
  }
  get eptAccessedDirty(): bool {
    return (this.eptVpid & EPT_AD) != 0;
  }
  get invept(): bool {
    return (this.eptVpid & EPT_INVEPT) != 0;
  }
  get inveptSingle(): bool {
    return (this.eptVpid & EPT_INVEPT_SINGLE) != 0;
  }
  get inveptAll(): bool {
    return (this.eptVpid & EPT_INVEPT_ALL) != 0;
  }
  get invvpid(): bool {
    return (this.eptVpid & VPID_INVVPID) != 0;
  }
  get invvpidSingle(): bool {
    return (this.eptVpid & VPID_INVVPID_SINGLE) != 0;
  }
  get invvpidAll(): bool {
    return (this.eptVpid & VPID_INVVPID_ALL) != 0;
  }
  get preemptionTimer(): bool {
    return this.allowed(this.pinCap, C.PIN_PREEMPTION_TIMER);
  }
  // The timer's remaining value can be saved at each exit, so it counts guest time across exits.
  get savesPreemptionTimer(): bool {
    return this.allowed(this.exitCap, C.EXIT_SAVE_PREEMPTION_TIMER);
  }
  // The timer counts down once every 2^rate TSC ticks (SDM 25.5.1).
  get preemptionTimerRate(): u32 {
    return <u32>this.misc & 31;
  }
  get maxMsrListEntries(): u32 {
    return 512 * ((<u32>(this.misc >> 25) & 7) + 1);
  }

  // Why this CPU cannot run our guests, or null.
  problem(): string | null {
    if (!this.unrestrictedGuest) return "VT-x without unrestricted guest cannot run real-mode guests; not supported";
    if (!this.ept || !this.eptWalk4 || !(this.eptTablesWb || this.eptTablesUc)) {
      return "VT-x without EPT (4-level, WB or UC tables) is not supported";
    }
    if (!this.invept || !(this.inveptSingle || this.inveptAll)) {
      return "VT-x with EPT but without INVEPT is not supported";
    }
    if (this.vpid && (!this.invvpid || !(this.invvpidSingle || this.invvpidAll))) {
      return "VT-x with VPID but without INVVPID is not supported";
    }
    if (
      (this.exit & (C.EXIT_HOST_64BIT | C.EXIT_SAVE_EFER | C.EXIT_LOAD_EFER))
        != (C.EXIT_HOST_64BIT | C.EXIT_SAVE_EFER | C.EXIT_LOAD_EFER)
      || (this.entry & C.ENTRY_LOAD_EFER) == 0
    ) return "VT-x without the load/save IA32_EFER controls is not supported";
    const required = C.PROC_HLT | C.PROC_IO_BITMAPS | C.PROC_MSR_BITMAPS | C.PROC_CR8_LOAD | C.PROC_CR8_STORE;
    if ((this.proc & required) != required || (this.pin & C.PIN_EXTERNAL_INTERRUPT) == 0) {
      return "VT-x lacks a required exiting control (HLT, I/O or MSR bitmaps, CR8, interrupts)";
    }
    if ((this.pin & C.PIN_VIRTUAL_NMIS) == 0 || !this.allowed(this.procCap, C.PROC_NMI_WINDOW)) {
      return "VT-x without virtual NMIs and NMI-window exiting cannot give guests their NMIs";
    }
    if ((this.proc & C.PROC_MOV_DR) != 0) {
      return "VT-x forces MOV-DR exiting, which the debug-register switch (vmm/debugregs.ts) does not handle";
    }
    return null;
  }

  private capability(msr: u32): u64 {
    return rdmsr(this.trueControls ? msr + TRUE_CONTROLS_OFFSET : msr);
  }
  private allowed(cap: u64, bit: u32): bool {
    return ((<u32>(cap >> 32)) & bit) != 0;
  }
}

// Forced bits on, unsupported bits off.
function adjust(wanted: u32, cap: u64): u32 {
  return (wanted | <u32>cap) & <u32>(cap >> 32);
}

function yes(b: bool): string {
  return b ? "yes" : "no";
}

export function reportFeatures(f: VmxFeatures): void {
  log.info(
    "vmx: revision " + log.hex(f.revision) + ", VMCS " + ((<u32>(f.basic >> 32)) & 0x1fff).toString()
      + " bytes, TRUE controls " + yes(f.trueControls)
      + ", unrestricted guest " + yes(f.unrestrictedGuest) + ", CR0 fixed " + log.hex(f.cr0Fixed0) + "/"
      + log.hex(f.cr0Fixed1)
      + ", CR4 fixed " + log.hex(f.cr4Fixed0) + "/" + log.hex(f.cr4Fixed1),
  );
  log.info(
    "vmx: EPT " + yes(f.ept) + " (4-level " + yes(f.eptWalk4) + ", WB tables " + yes(f.eptTablesWb) + ", 2 MiB "
      + yes(f.ept2M)
      + ", 1 GiB " + yes(f.ept1G) + ", A/D " + yes(f.eptAccessedDirty) + ", INVEPT single " + yes(f.inveptSingle)
      + " all " + yes(f.inveptAll)
      + "), VPID " + yes(f.vpid) + " (INVVPID single " + yes(f.invvpidSingle) + " all " + yes(f.invvpidAll) + ")",
  );
  log.info(
    "vmx: preemption timer " + yes(f.preemptionTimer) + " (rate 2^" + f.preemptionTimerRate.toString() + ", saved "
      + yes(f.savesPreemptionTimer)
      + "), MSR lists " + f.maxMsrListEntries.toString() + ", RDTSCP " + yes((f.proc2 & C.PROC2_RDTSCP) != 0)
      + ", INVPCID " + yes((f.proc2 & C.PROC2_INVPCID) != 0)
      + ", VMCS shadowing " + yes(((<u32>(f.proc2Cap >> 32)) & C.PROC2_VMCS_SHADOWING) != 0) + ", PML "
      + yes(((<u32>(f.proc2Cap >> 32)) & C.PROC2_PML) != 0)
      + "; controls pin " + log.hex(f.pin) + " proc " + log.hex(f.proc) + " proc2 " + log.hex(f.proc2) + " exit "
      + log.hex(f.exit) + " entry " + log.hex(f.entry),
  );
}
