// The AMD-V backend as the VMM sees it: per-CPU set-up, nested page tables
// in the NPT format, and vCPUs.

import { EntryFormat, PageTable } from "../../../kernel/mm/pagetable";
import { Backend } from "../../core/backend";
import { Vcpu } from "../../core/vcpu";
import * as log from "../../../kernel/console/log";
import { NptEntryFormat } from "./npt";
import { reportFeatures, SvmCpu, SvmFeatures, svmFeatures } from "./svm";
import { SvmVcpu } from "./svmvcpu";

export class SvmBackend extends Backend {
  private features: SvmFeatures = svmFeatures();
  // One per CPU that has enabled SVM, by CPU number.
  private cpus: SvmCpu[] = [];

  get name(): string {
    return "AMD-V";
  }

  // Returns a reason if this CPU cannot run our guests, or null.
  initCpu(): string | null {
    reportFeatures(this.features);
    if (!this.features.nestedPaging) return "AMD-V without nested paging is not supported";
    return this.startCpu(0);
  }

  // Each CPU has its own host save area and host VMCB.
  startCpu(cpu: u32): string | null {
    while (<u32>this.cpus.length <= cpu) this.cpus.push(new SvmCpu(this.features.asids));
    this.cpus[cpu].enable();
    log.info(
      "svm: cpu " + cpu.toString() + ": SVM enabled (EFER.SVME, VM_HSAVE_PA " + log.hex(this.cpus[cpu].hostSavePhys)
        + ")",
    );
    return null;
  }

  nestedFormat(): EntryFormat {
    return new NptEntryFormat(2); // 2 MiB pages; 1 GiB needs CPUID.80000001:EDX[26] on the nested walk too
  }

  createVcpu(nested: PageTable): Vcpu | null {
    return new SvmVcpu(this.cpus, this.features, nested.rootPhys);
  }
}
