// The Intel VT-x backend as the VMM sees it: what the CPU offers, VMX
// operation on each CPU, nested page tables in the EPT format, and vCPUs.

import * as log from "../../../kernel/console/log";
import { EntryFormat, PageTable } from "../../../kernel/mm/pagetable";
import { Backend } from "../../core/backend";
import { Vcpu } from "../../core/vcpu";
import { VmxBitmaps } from "./bitmaps";
import { allocateVpid, VmxCpu } from "./cpu";
import { EptEntryFormat } from "./ept";
import { reportFeatures, VmxFeatures } from "./features";
import { VmxVcpu } from "./vmxvcpu";

export class VmxBackend extends Backend {
  private features: VmxFeatures = new VmxFeatures();
  // One per CPU in VMX operation, by CPU number.
  private cpus: VmxCpu[] = [];
  private bitmaps: VmxBitmaps | null = null;

  get name(): string {
    return "Intel VT-x";
  }

  // Returns a reason if this CPU cannot run our guests, or null.
  initCpu(): string | null {
    reportFeatures(this.features);
    const problem = this.features.problem();
    if (problem !== null) return problem;
    this.bitmaps = new VmxBitmaps();
    return this.startCpu(0);
  }

  // Each CPU needs its own VMXON region and its own VMX root operation.
  startCpu(cpu: u32): string | null {
    while (<u32>this.cpus.length <= cpu) this.cpus.push(new VmxCpu(this.features));
    const problem = this.cpus[cpu].enable();
    if (problem !== null) return problem;
    log.info(
      "vmx: cpu " + cpu.toString() + ": in VMX root operation (VMXON region " + log.hex(this.cpus[cpu].vmxonPhys) + ")",
    );
    return null;
  }

  nestedFormat(): EntryFormat {
    return new EptEntryFormat(this.features.ept1G ? 3 : this.features.ept2M ? 2 : 1);
  }

  createVcpu(nested: PageTable): Vcpu | null {
    const vpid = allocateVpid(this.features);
    if (vpid < 0) return null;
    return new VmxVcpu(this.cpus, this.features, this.bitmaps!, nested, <u16>vpid);
  }
}
