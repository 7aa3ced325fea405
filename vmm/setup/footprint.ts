// A VM's footprint: the hypervisor's own memory it costs beyond its RAM,
// measured around its creation, logged as
// "vm NAME: hypervisor memory N KiB (pages P KiB, heap H KiB, frames F KiB)"
// and kept for the management API's vm.get (Vm.hypervisorBytes), which
// adds the nested tables' growth since.
//
// Pages are the page-aligned structures from kernel/mm/linearpages.ts
// (VMCB or VMCS, I/O and MSR permission bitmaps, the nested tables' root,
// the vCPU's register page, XSAVE area and CPUID answer table); heap is
// the growth of the garbage-collected heap (the Vm, its vCPUs' state,
// APICs, device models, bus maps, and the garbage creation left,
// kernel/mm/heap.ts); frames are host frames taken besides its RAM.
// Later growth of device buffers is not in it.
// docs/memory-model.md, "What a VM costs", has the figures.

import * as log from "../../kernel/console/log";
import { FrameAllocator } from "../../kernel/mm/frames";
import { heapUsedBytes } from "../../kernel/mm/heap";
import { pagesInUseBytes } from "../../kernel/mm/linearpages";
import { PAGE_SIZE } from "../../kernel/mm/range";
import { Vm } from "../core/vm";

export class Footprint {
  private readonly freeFrames: u64;
  private readonly pages: usize;
  private readonly heap: usize;

  constructor(private frames: FrameAllocator) {
    this.freeFrames = frames.freeFrames;
    this.pages = pagesInUseBytes();
    this.heap = heapUsedBytes();
  }

  // Logs and keeps what `vm` took since the constructor, besides its RAM.
  report(vm: Vm): void {
    const heapBytes = <u64>(heapUsedBytes() - this.heap), pagesBytes = <u64>(pagesInUseBytes() - this.pages);
    const framesBytes = (this.freeFrames - this.frames.freeFrames) * PAGE_SIZE - vm.memory.size;
    const nested = vm.nested;
    vm.footprintBytes = heapBytes + pagesBytes + framesBytes;
    vm.nestedBytesAtCreation = nested !== null ? nested.bytes : 0;
    const heap = kib(heapBytes), pages = kib(pagesBytes), frames = framesBytes >> 10;
    log.info(
      "vm " + vm.name + ": hypervisor memory " + (pages + heap + frames).toString() + " KiB (pages "
        + pages.toString() + " KiB, heap " + heap.toString() + " KiB, frames " + frames.toString() + " KiB)",
    );
  }
}

// Bytes to KiB, rounded up.
function kib(bytes: u64): u64 {
  return (bytes + 1023) >> 10;
}
