// The host's own page tables: identity-mapped RAM and MMIO, plus the window
// in which the linear memory lives.
//
// The boot code's tables map the first 4 GiB write-back with 2 MiB pages,
// whatever lies there. These replace them once the memory map is known:
// RAM is write-back, everything else below 4 GiB (the PCI hole with the local
// APIC, IOAPIC, HPET and device BARs) is uncached, RAM above 4 GiB is mapped
// too, the linear memory's window is linked in unchanged, and the page
// below the boot stack stays unmapped as a guard. The screen's framebuffer,
// if any, is write-combining.
// Memory types: Intel SDM Vol. 3A 4.9 and 12.12 (PAT); a leaf's PAT, PCD and
// PWT bits pick one of the PAT's eight entries.

import { bootStackBottom, linearBase, linearWindowPdpt, writeCr3, wrmsr } from "../arch/shim";
import { IA32_PAT, PAT_POWER_ON } from "../arch/msrs";
import { PTE_CACHE_DISABLE, PTE_LARGE, PTE_PRESENT, PTE_WRITABLE, PTE_WRITE_THROUGH } from "../arch/x86";
import { MemoryRegion, RegionType } from "../boot/bootinfo";
import { EntryFormat, PageTable } from "./pagetable";
import { coalesce } from "./memmap";
import { Range, PAGE_SIZE, LARGE_PAGE_SIZE, alignDown, alignUp } from "./range";

// The host's PAT: the power-on types (WB, WT, UC-, UC, twice) with entry 1
// (PWT alone) made write-combining, for the framebuffer: writes gather into
// whole lines instead of going out one by one, many times faster to a video
// card than uncached (SDM Vol. 3A 12.3). A UC range in the MTRRs, as
// firmware leaves the PCI hole, with WC in the PAT is WC (Table 12-7).
const PAT_WRITE_COMBINING: u64 = 0x01;
export const HOST_PAT: u64 = (PAT_POWER_ON & ~(<u64>0xff << 8)) | (PAT_WRITE_COMBINING << 8);
// Leaf attributes, the PAT entry each selects: 0, 3 and 1.
export const WRITE_BACK: u64 = 0;
export const UNCACHED: u64 = PTE_CACHE_DISABLE | PTE_WRITE_THROUGH;
export const WRITE_COMBINING: u64 = PTE_WRITE_THROUGH;

// The x86-64 format: also the format of AMD's nested page tables.
export class X86EntryFormat extends EntryFormat {
  isPresent(entry: u64): bool {
    return (entry & PTE_PRESENT) != 0;
  }
  isLeaf(entry: u64, level: i32): bool {
    return level == 1 || (entry & PTE_LARGE) != 0;
  }
  table(phys: u64): u64 {
    return phys | PTE_PRESENT | PTE_WRITABLE;
  }
  leaf(phys: u64, level: i32, attributes: u64): u64 {
    return phys | PTE_PRESENT | PTE_WRITABLE | attributes | (level > 1 ? PTE_LARGE : 0);
  }
  leafAttributes(entry: u64, level: i32): u64 {
    return entry & (PTE_WRITE_THROUGH | PTE_CACHE_DISABLE);
  }
}

// Builds the host tables; `regions` is the loader's memory map, `framebuffer`
// the screen's pages (below 4 GiB) or null.
export function buildHostPageTable(regions: MemoryRegion[], hugePages: bool, framebuffer: Range | null): PageTable {
  const table = new PageTable(new X86EntryFormat(hugePages ? 3 : 2));
  const below4g: u64 = <u64>4 << 30;
  let uncachedFrom: u64 = 0;
  const ram = ramBlocks(regions);
  for (let i = 0; i < ram.length; i++) {
    const run = ram[i];
    // Above 4 GiB only RAM is mapped; the MMIO of 64-bit BARs comes with its drivers.
    if (run.start > uncachedFrom && uncachedFrom < below4g) {
      table.map(uncachedFrom, uncachedFrom, min(run.start, below4g) - uncachedFrom, UNCACHED);
    }
    table.map(run.start, run.start, run.size, WRITE_BACK);
    uncachedFrom = run.end;
  }
  if (uncachedFrom < below4g) table.map(uncachedFrom, uncachedFrom, below4g - uncachedFrom, UNCACHED);
  if (framebuffer !== null) table.map(framebuffer.start, framebuffer.start, framebuffer.size, WRITE_COMBINING);
  table.linkTopLevel(linearBase(), linearWindowPdpt() | PTE_PRESENT | PTE_WRITABLE);
  table.unmap(stackGuard());
  return table;
}

// The page below the boot stack, left unmapped so that an overflow faults.
export function stackGuard(): u64 {
  return bootStackBottom() - PAGE_SIZE;
}

// Every CPU, before it uses the host's tables: the PAT their attributes
// assume. (Guests have their own: VT-x's EPT entries ignore it, AMD-V's
// nested entries use only entries 0 and 3, which keep their types.)
export function useHostPat(): void {
  wrmsr(IA32_PAT, HOST_PAT);
}

export function activate(table: PageTable): void {
  useHostPat();
  writeCr3(table.rootPhys);
}

// The write-back runs: every 2 MiB block that RAM-like regions of any type
// (usable, ACPI, reserved RAM below the top) touch. The first megabyte's
// legacy holes and firmware regions sit inside RAM blocks, and MTRRs still
// make the VGA window and ROMs uncached there.
function ramBlocks(regions: MemoryRegion[]): Range[] {
  const blocks: Range[] = [];
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i];
    if (r.length != 0 && r.type != RegionType.Reserved) {
      blocks.push(new Range(alignDown(r.base, LARGE_PAGE_SIZE), alignUp(r.end, LARGE_PAGE_SIZE)));
    }
  }
  return coalesce(blocks);
}
