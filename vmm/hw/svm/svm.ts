// AMD-V on this CPU: what it offers, and turning it on.
//
// Enabling SVM is two steps per CPU: set EFER.SVME, and give the CPU a page
// where VMRUN saves host state (VM_HSAVE_PA). We also keep a "host VMCB"
// page for the host state VMSAVE/VMLOAD move around each VMRUN (boot/svm.S).
// AMD APM Vol. 2 15.4 "Enabling SVM", 15.30.4 "VM_HSAVE_PA MSR".

import { AMD_VM_HSAVE_PA, IA32_EFER } from "../../../kernel/arch/msrs";
import { rdmsr, wrmsr } from "../../../kernel/arch/shim";
import { EFER_SVME } from "../../../kernel/arch/x86";
import { query } from "../../../kernel/cpu/cpuid";
import * as log from "../../../kernel/console/log";
import { allocPage, physOf } from "../../../kernel/mm/linearpages";

// CPUID 0x8000000A EDX feature bits (APM Vol. 3, E.4.9).
const NESTED_PAGING: u32 = 1 << 0;
const NRIP_SAVE: u32 = 1 << 3;
const VMCB_CLEAN: u32 = 1 << 5;
const FLUSH_BY_ASID: u32 = 1 << 6;
const DECODE_ASSISTS: u32 = 1 << 7;
const PAUSE_FILTER: u32 = 1 << 10;

export class SvmFeatures {
  revision: u32 = 0;
  asids: u32 = 0;
  nestedPaging: bool = false;
  nripSave: bool = false;
  vmcbClean: bool = false;
  flushByAsid: bool = false;
  decodeAssists: bool = false;
  pauseFilter: bool = false;
}

export function svmFeatures(): SvmFeatures {
  const r = query(0x8000000a);
  const f = new SvmFeatures();
  f.revision = r.eax & 0xff;
  f.asids = r.ebx;
  f.nestedPaging = (r.edx & NESTED_PAGING) != 0;
  f.nripSave = (r.edx & NRIP_SAVE) != 0;
  f.vmcbClean = (r.edx & VMCB_CLEAN) != 0;
  f.flushByAsid = (r.edx & FLUSH_BY_ASID) != 0;
  f.decodeAssists = (r.edx & DECODE_ASSISTS) != 0;
  f.pauseFilter = (r.edx & PAUSE_FILTER) != 0;
  return f;
}

function yes(b: bool): string {
  return b ? "yes" : "no";
}

export function reportFeatures(f: SvmFeatures): void {
  log.info(
    "svm: revision " + f.revision.toString() + ", " + f.asids.toString() + " ASIDs, nested paging "
      + yes(f.nestedPaging)
      + ", NRIP save " + yes(f.nripSave) + ", VMCB clean bits " + yes(f.vmcbClean) + ", flush by ASID "
      + yes(f.flushByAsid)
      + ", decode assists " + yes(f.decodeAssists) + ", pause filter " + yes(f.pauseFilter),
  );
}

// Per-CPU state: the host save area, the host VMCB, and the CPU's ASIDs.
//
// ASIDs tag the TLB entries of guests (APM 15.16): a vCPU gets one of this
// CPU's on its first entry here, and keeps it while this CPU's generation
// lasts. When they run out, a new generation starts, every vCPU gets a new
// one at its next entry, and the first entry flushes the whole TLB. So no
// two vCPUs share an ASID on a CPU, and a vCPU coming back to a CPU never
// finds its own stale entries there.
export class SvmCpu {
  readonly hostSavePhys: u64 = physOf(allocPage());
  readonly hostVmcbPhys: u64 = physOf(allocPage());
  generation: u32 = 1;
  private nextAsid: u32 = 1;
  private flushAllPending: bool = false;

  // ASID 0 is the host's: guests have 1 to `asids` - 1.
  constructor(private asids: u32) {}

  allocateAsid(): u32 {
    if (this.nextAsid >= this.asids) {
      this.generation++;
      this.nextAsid = 1;
      this.flushAllPending = true;
    }
    return this.nextAsid++;
  }

  // Whether the next VMRUN here must flush every ASID (once per generation).
  takeFlushAll(): bool {
    const pending = this.flushAllPending;
    this.flushAllPending = false;
    return pending;
  }

  enable(): void {
    wrmsr(IA32_EFER, rdmsr(IA32_EFER) | EFER_SVME);
    wrmsr(AMD_VM_HSAVE_PA, this.hostSavePhys);
  }
}
