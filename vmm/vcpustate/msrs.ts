// The model-specific registers a vCPU has of its own that neither the VMCS
// nor the VMCB holds: the ones the VMM emulates (vmm/emul/msrpolicy.ts says
// which and how). Some exist on one vendor's CPUs only; the guest sees the
// host's vendor in CPUID.

import { wrmsr } from "../../kernel/arch/shim";
import { AMD_LEGACY_COUNTERS, IA32_TSC_AUX, PAT_POWER_ON } from "../../kernel/arch/msrs";
import { hasTscAux } from "../../kernel/cpu/cpuid";

const MTRR_DEF_TYPE_WRITE_BACK: u64 = (1 << 11) | 6; // MTRRs enabled, default type WB

export class MsrState {
  constructor(readonly amd: bool) {
    this.powerOn();
  }
  miscEnable: u64 = 0;
  mtrrDefType: u64 = 0;
  // Kept for the guest to read back, without effect on memory types: EPT
  // entries ignore the guest's PAT (hw/vmx/ept.ts) and on AMD-V the VMCB's
  // G_PAT keeps the power-on value.
  pat: u64 = 0;
  // IA32_TSC_AUX, where the host has it: what RDTSCP and RDPID read (Linux
  // keeps the CPU number there). Neither the VMCS nor the VMCB switches it
  // and the hypervisor never reads it, so the CPU's register simply holds
  // the running vCPU's value: loaded as its slice starts, and written
  // through by the guest's WRMSR, which exits on the vCPU's own CPU.
  readonly hasTscAux: bool = hasTscAux();
  // AMD's four legacy performance counters and their event selects: a
  // virtual PMU that counts nothing, but keeps what the guest writes.
  readonly eventSelects: StaticArray<u64> = new StaticArray<u64>(AMD_LEGACY_COUNTERS);
  readonly counters: StaticArray<u64> = new StaticArray<u64>(AMD_LEGACY_COUNTERS);
  tscAux: u64 = 0;

  // Their power-up values (loadTscAux() puts IA32_TSC_AUX's in the CPU).
  powerOn(): void {
    this.miscEnable = 1; // fast strings
    this.mtrrDefType = MTRR_DEF_TYPE_WRITE_BACK;
    this.pat = PAT_POWER_ON;
    this.eventSelects.fill(0);
    this.counters.fill(0);
    this.tscAux = 0;
  }

  loadTscAux(): void {
    if (this.hasTscAux) wrmsr(IA32_TSC_AUX, this.tscAux);
  }
}
