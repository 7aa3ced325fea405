// One CPU in VMX operation: turning VT-x on, the current VMCS, VPIDs.
//
// Entering VMX operation takes, per CPU (Intel SDM Vol. 3C 23.7 "Enabling
// and Entering VMX Operation", 23.8 "Restrictions on VMX Operation"):
// IA32_FEATURE_CONTROL locked with "VMX outside SMX" enabled, CR0 and CR4
// within the IA32_VMX_CR*_FIXED* bounds (which sets CR4.VMXE and CR0.NE),
// and VMXON with a 4 KiB region that starts with the VMCS revision id
// (24.11.5 "VMXON Region"). Afterwards each CPU has at most one current
// VMCS, the one VMREAD, VMWRITE and VM entry use; use() makes a vCPU's VMCS
// current with VMPTRLD only when it is not already.

import {
  FEATURE_CONTROL_LOCKED,
  FEATURE_CONTROL_VMX_OUTSIDE_SMX,
  IA32_FEATURE_CONTROL,
} from "../../../kernel/arch/msrs";
import { invvpid, readCr0, readCr4, rdmsr, vmptrld, vmxon, wrmsr, writeCr0, writeCr4 } from "../../../kernel/arch/shim";
import { allocPage, physOf } from "../../../kernel/mm/linearpages";
import { VmxFeatures } from "./features";

// INVVPID types (SDM 30.3 "INVVPID").
const INVVPID_SINGLE_CONTEXT: u32 = 1;
const INVVPID_ALL_CONTEXTS: u32 = 2;

export class VmxCpu {
  readonly vmxonPhys: u64;
  // The physical address of this CPU's current VMCS, 0 if none.
  private current: u64 = 0;

  constructor(private features: VmxFeatures) {
    const region = allocPage();
    store<u32>(region, features.revision);
    this.vmxonPhys = physOf(region);
  }

  // Puts this CPU in VMX root operation; returns why it cannot, or null.
  enable(): string | null {
    const control = rdmsr(IA32_FEATURE_CONTROL);
    if ((control & FEATURE_CONTROL_LOCKED) == 0) {
      // Firmware left the MSR open: enable VMX outside SMX and lock it, as firmware would.
      wrmsr(IA32_FEATURE_CONTROL, control | FEATURE_CONTROL_VMX_OUTSIDE_SMX | FEATURE_CONTROL_LOCKED);
    } else if ((control & FEATURE_CONTROL_VMX_OUTSIDE_SMX) == 0) {
      return "VT-x is disabled by the firmware (IA32_FEATURE_CONTROL is locked with VMX off)";
    }
    // The fixed bits: VMXON fails (#GP) unless CR0 and CR4 obey them; this
    // sets CR4.VMXE and CR0.NE (SDM 23.8, Appendix A.7-A.8).
    const f = this.features;
    writeCr0((readCr0() | f.cr0Fixed0) & f.cr0Fixed1);
    writeCr4((readCr4() | f.cr4Fixed0) & f.cr4Fixed1);
    const status = vmxon(this.vmxonPhys);
    if (status != 0) return "VMXON failed (status " + status.toString() + "): this CPU refused VMX operation";
    return null;
  }

  // Makes `vmcs` (physical) the current VMCS of this CPU. (VMPTRLD fails
  // only for an address that is not a VMCS; the next VM entry then reports
  // VMfailInvalid.)
  @inline
  use(vmcs: u64): void {
    if (this.current != vmcs) {
      vmptrld(vmcs);
      this.current = vmcs;
    }
  }

  // `vmcs` was cleared: if it was the current VMCS, there is none now (SDM
  // 30.3 "VMCLEAR").
  forget(vmcs: u64): void {
    if (this.current == vmcs) this.current = 0;
  }
}

// VPIDs tag the guest's TLB entries so VM entries and exits need not flush
// them (SDM 28.1 "Virtual Processor Identifiers"); 0 is the host's. One per vCPU.
let nextVpid: u32 = 1;

// Those of destroyed vCPUs, handed out again first.
const freeVpids: u16[] = [];

// A fresh VPID, 0 if VPID is not in use, -1 when all 65535 are taken.
export function allocateVpid(features: VmxFeatures): i32 {
  if (!features.vpid) return 0;
  if (freeVpids.length > 0) return <i32>freeVpids.pop();
  if (nextVpid > 0xffff) return -1;
  const vpid = nextVpid++;
  return <i32>vpid;
}

// `vpid` is no vCPU's any more.
export function releaseVpid(vpid: u16): void {
  if (vpid != 0) freeVpids.push(vpid);
}

// Drops every cached translation tagged with `vpid` (linear and combined
// mappings, SDM 28.3.3.3): when a vCPU is created, so that nothing cached
// under its tag survives, and after we change the guest's paging mode.
export function flushVpid(features: VmxFeatures, vpid: u16): void {
  if (vpid == 0) return;
  if (features.invvpidSingle) invvpid(INVVPID_SINGLE_CONTEXT, vpid, 0);
  else invvpid(INVVPID_ALL_CONTEXTS, 0, 0);
}
