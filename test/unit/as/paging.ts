// Unit-test entry: the page-table tree (pagetable.ts), the host tables
// (hostpaging.ts) and the page allocator beneath them (linearpages.ts).

import { MemoryRegion } from "../../../kernel/boot/bootinfo";
import { Range } from "../../../kernel/mm/range";
import { PageTable, Translation } from "../../../kernel/mm/pagetable";
import { X86EntryFormat, buildHostPageTable, stackGuard, UNCACHED, WRITE_BACK } from "../../../kernel/mm/hostpaging";
import { allocPages, freePage, physOf } from "../../../kernel/mm/linearpages";

let table: PageTable = new PageTable(new X86EntryFormat(3));
let regions: MemoryRegion[] = [];

export function uncached(): u64 {
  return UNCACHED;
}
export function writeBack(): u64 {
  return WRITE_BACK;
}

export function ptCreate(maxLeafLevel: i32): void {
  table = new PageTable(new X86EntryFormat(maxLeafLevel));
}
export function ptMap(virt: u64, phys: u64, size: u64, attributes: u64): void {
  table.map(virt, phys, size, attributes);
}
export function ptUnmap(virt: u64): void {
  table.unmap(virt);
}
export function ptRoot(): usize {
  return table.root;
}
export function ptRootPhys(): u64 {
  return table.rootPhys;
}

let last: Translation | null = null;

// Whether `virt` is mapped; the translation is then read with tr*().
export function ptTranslate(virt: u64): bool {
  last = table.translate(virt);
  return last !== null;
}
export function trPhys(): u64 {
  return last!.phys;
}
export function trAttributes(): u64 {
  return last!.attributes;
}
export function trLevel(): i32 {
  return last!.level;
}

export function regionsClear(): void {
  regions = [];
}
export function regionAdd(base: u64, length: u64, type: u32): void {
  regions.push(new MemoryRegion(base, length, type));
}
export function hostBuild(hugePages: bool, framebufferStart: u64 = 0, framebufferEnd: u64 = 0): void {
  table = buildHostPageTable(
    regions,
    hugePages,
    framebufferEnd > framebufferStart ? new Range(framebufferStart, framebufferEnd) : null,
  );
}
export function hostStackGuard(): u64 {
  return stackGuard();
}

export function linearAllocPages(count: i32): usize {
  return allocPages(count);
}
export function linearFreePage(page: usize): void {
  freePage(page);
}
export function linearPhysOf(offset: usize): u64 {
  return physOf(offset);
}

// Allocates `count` heap arrays of `size` bytes filled with 0xAA and keeps
// them alive until the next call: heap growth must not land on page blocks.
let churn: Array<Uint8Array> = [];
export function heapChurn(count: i32, size: i32): i32 {
  churn = [];
  for (let i = 0; i < count; i++) {
    const a = new Uint8Array(size);
    a.fill(0xaa);
    churn.push(a);
  }
  return churn.length;
}
