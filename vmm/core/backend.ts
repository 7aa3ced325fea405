// A virtualization backend: what vmm/ needs from VT-x or AMD-V beyond the vCPU.

import { EntryFormat, PageTable } from "../../kernel/mm/pagetable";
import { Vcpu } from "./vcpu";

export abstract class Backend {
  abstract get name(): string;
  // Turns virtualization on for the boot CPU; returns why it cannot, or null.
  abstract initCpu(): string | null;
  // The same on another CPU (`cpu` > 0), run on that CPU as it starts.
  abstract startCpu(cpu: u32): string | null;
  // The entry format of this backend's nested page tables (EPT or NPT).
  abstract nestedFormat(): EntryFormat;
  // A vCPU whose guest-physical memory is translated by `nested`; null when
  // a per-VM resource (such as an ASID) is exhausted.
  abstract createVcpu(nested: PageTable): Vcpu | null;
}
