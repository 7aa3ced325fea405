// A VM's footprint: the hypervisor's own memory it costs beyond its RAM,
// measured around its creation and logged as
// "vm NAME: hypervisor memory N KiB (pages P KiB, heap H KiB, frames F KiB)".
//
// Pages are the page-aligned structures from kernel/mm/linearpages.ts
// (VMCB or VMCS, I/O and MSR permission bitmaps, the nested tables' root,
// the vCPU's register page, XSAVE area and CPUID answer table); heap is
// the growth of the garbage-collected heap (the Vm, its vCPUs' state,
// APICs, device models, bus maps, and the garbage creation left,
// kernel/mm/heap.ts); frames are host frames taken besides its RAM.
// Later growth (nested tables made as the guest first touches its RAM,
// device buffers) is not in it.
// docs/memory-model.md, "What a VM costs", has the figures.

import * as log from "../../kernel/console/log";
import { FrameAllocator } from "../../kernel/mm/frames";
import { heapUsedBytes } from "../../kernel/mm/heap";
import { pagesInUseBytes } from "../../kernel/mm/linearpages";
import { PAGE_SIZE } from "../../kernel/mm/range";

export class Footprint {
  private readonly freeFrames: u64;
  private readonly pages: usize;
  private readonly heap: usize;

  constructor(private frames: FrameAllocator) {
    this.freeFrames = frames.freeFrames;
    this.pages = pagesInUseBytes();
    this.heap = heapUsedBytes();
  }

  // Logs what the VM `name` with `ramBytes` of RAM took since the constructor.
  report(name: string, ramBytes: u64): void {
    const heap = kib(heapUsedBytes() - this.heap), pages = kib(pagesInUseBytes() - this.pages);
    const frames = ((this.freeFrames - this.frames.freeFrames) * PAGE_SIZE - ramBytes) >> 10;
    log.info(
      "vm " + name + ": hypervisor memory " + (pages + heap + frames).toString() + " KiB (pages " + pages.toString()
        + " KiB, heap " + heap.toString() + " KiB, frames " + frames.toString() + " KiB)",
    );
  }
}

// Bytes to KiB, rounded up.
function kib(bytes: usize): u64 {
  return (<u64>bytes + 1023) >> 10;
}
