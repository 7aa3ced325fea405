// Page-aligned, physically contiguous pages inside the linear memory.
//
// Structures the hardware reads by physical address (page tables, and later
// VMCS/VMCB, EPT/NPT tables, I/O and MSR bitmaps) must be page-aligned and
// physically contiguous. They live in the linear memory like everything else,
// so the kernel edits them with ordinary memory-safe stores; this allocator
// hands out such pages by growing the memory itself, 64 KiB at a time, apart
// from the garbage-collected heap (which grows past whatever we take).
// Physical contiguity holds inside each 2 MiB chunk of the linear memory and
// is checked, not assumed.

import { linearToPhys } from "../arch/shim";
import { PAGE_SIZE } from "./range";
import { panic } from "../console/panic";

const WASM_PAGE: usize = 65536;
const PAGE: usize = <usize>PAGE_SIZE;

let blockNext: usize = 0; // next free byte of the current block
let blockEnd: usize = 0;
let freeSingles: usize[] = []; // single pages given back
// Runs of several pages returned by freePages(): their first pages and
// lengths. A destroyed VM's structures come back as runs, and the next VM
// of its shape asks for runs of the same lengths.
let freeRuns: usize[] = [];
let freeRunPages: i32[] = [];
let pagesHandedOut: usize = 0; // pages held by callers, for accounting
let bytesGrown: usize = 0; // linear memory grown here, not the heap's

// `count` zeroed pages, contiguous in physical memory. Traps (out of memory)
// if the linear memory cannot grow.
export function allocPages(count: i32): usize {
  pagesHandedOut += <usize>count;
  if (count == 1 && freeSingles.length > 0) {
    const page = freeSingles.pop();
    memory.fill(page, 0, PAGE);
    return page;
  }
  const run = freeRunPages.indexOf(count);
  if (count > 1 && run >= 0) {
    const first = freeRuns[run];
    freeRuns.splice(run, 1);
    freeRunPages.splice(run, 1);
    memory.fill(first, 0, <usize>count * PAGE);
    return first;
  }
  const bytes = <usize>count * PAGE;
  while (true) {
    if (blockNext + bytes <= blockEnd && contiguous(blockNext, bytes)) {
      const page = blockNext;
      blockNext += bytes;
      memory.fill(page, 0, bytes);
      return page;
    }
    // Start a fresh block; what remains of the old one serves single pages.
    while (blockNext < blockEnd) {
      freeSingles.push(blockNext);
      blockNext += PAGE;
    }
    const wasmPages = <i32>((bytes + WASM_PAGE - 1) / WASM_PAGE);
    const old = memory.grow(wasmPages);
    if (old < 0) panic("out of memory: the hypervisor's linear memory cannot grow");
    bytesGrown += <usize>wasmPages * WASM_PAGE;
    blockNext = <usize>old * WASM_PAGE;
    blockEnd = blockNext + <usize>wasmPages * WASM_PAGE;
  }
}

export function allocPage(): usize {
  return allocPages(1);
}

export function freePage(page: usize): void {
  freePages(page, 1);
}

// Gives back `count` pages that allocPages(count) handed out at `first`.
export function freePages(first: usize, count: i32): void {
  pagesHandedOut -= <usize>count;
  if (count == 1) {
    freeSingles.push(first);
    return;
  }
  freeRuns.push(first);
  freeRunPages.push(count);
}

// Bytes of pages held by callers (what a VM's creation adds is its share).
export function pagesInUseBytes(): usize {
  return pagesHandedOut * PAGE;
}

// Bytes of the linear memory this allocator grew it by: the rest past the
// static data is the heap's (heap.ts).
export function linearPagesBytes(): usize {
  return bytesGrown;
}

// Physical address of a byte of the linear memory.
export function physOf(offset: usize): u64 {
  return linearToPhys(offset);
}

function contiguous(start: usize, bytes: usize): bool {
  const base = linearToPhys(start);
  for (let off: usize = PAGE; off < bytes; off += PAGE) {
    if (linearToPhys(start + off) != base + <u64>off) return false;
  }
  return true;
}
