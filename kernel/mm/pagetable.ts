// A four-level radix page table, shared by the host page tables and (through
// another entry format) the nested page tables of the virtualization backends.
//
// The tree's pages come from linearpages.ts, so the kernel writes entries with
// ordinary stores while the MMU walks the same pages by physical address. map()
// uses the largest page size that fits the alignment of each piece of the
// range, down to 4 KiB. Intel SDM Vol. 3A 4.5 "4-Level Paging".

import { PTE_ADDRESS_MASK } from "../arch/x86";
import { allocPage, freePage, physOf } from "./linearpages";
import { PAGE_SIZE, LARGE_PAGE_SIZE, HUGE_PAGE_SIZE } from "./range";

// How one kind of page table encodes its entries.
export abstract class EntryFormat {
  // Largest leaf level allowed: 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB).
  constructor(public maxLeafLevel: i32) {}
  abstract isPresent(entry: u64): bool;
  abstract isLeaf(entry: u64, level: i32): bool;
  abstract table(phys: u64): u64; // entry pointing to a lower-level table
  abstract leaf(phys: u64, level: i32, attributes: u64): u64;
  abstract leafAttributes(entry: u64, level: i32): u64;
  // Physical address in a table pointer or a leaf. (Bits below a large
  // page's size hold attributes such as PAT, so they are masked off.)
  address(entry: u64, level: i32): u64 {
    return entry & PTE_ADDRESS_MASK & ~(levelSize(level) - 1);
  }
  tableAddress(entry: u64): u64 {
    return entry & PTE_ADDRESS_MASK;
  }
}

export function levelSize(level: i32): u64 {
  return level == 1 ? PAGE_SIZE : level == 2 ? LARGE_PAGE_SIZE : level == 3 ? HUGE_PAGE_SIZE : <u64>1 << 39;
}

function indexAt(virt: u64, level: i32): usize {
  return <usize>((virt >> (12 + 9 * <u64>(level - 1))) & 511);
}

export class Translation {
  constructor(public phys: u64, public attributes: u64, public level: i32) {}
}

export class PageTable {
  readonly root: usize; // linear offset of the top-level table
  // Linear offsets of the tables, by physical address, to walk down the tree.
  private tables: Map<u64, usize> = new Map();

  constructor(public format: EntryFormat) {
    this.root = allocPage();
    this.tables.set(physOf(this.root), this.root);
  }

  get rootPhys(): u64 {
    return physOf(this.root);
  }

  // The memory its table pages take now.
  get bytes(): u64 {
    return <u64>this.tables.size * PAGE_SIZE;
  }

  // Maps [virt, virt + size) to [phys, phys + size). All three page-aligned.
  map(virt: u64, phys: u64, size: u64, attributes: u64): void {
    let done: u64 = 0;
    while (done < size) {
      const v = virt + done, p = phys + done, left = size - done;
      let level = this.format.maxLeafLevel;
      while (level > 1 && ((v | p) & (levelSize(level) - 1) || left < levelSize(level))) level--;
      this.setLeaf(v, level, this.format.leaf(p, level, attributes));
      done += levelSize(level);
    }
  }

  // Removes the 4 KiB page at `virt` (splitting a large page around it).
  unmap(virt: u64): void {
    this.setLeaf(virt, 1, 0);
  }

  // Gives every table page back (a destroyed VM's nested tables): no CPU
  // may walk the table any more.
  free(): void {
    const pages = this.tables.values();
    for (let i = 0; i < pages.length; i++) freePage(pages[i]);
    this.tables.clear();
  }

  // Points the top-level slot covering `virt` at an existing table (used to
  // share one subtree, such as the linear-memory window, between tables).
  linkTopLevel(virt: u64, entry: u64): void {
    store<u64>(this.root + indexAt(virt, 4) * 8, entry);
  }

  // The mapping of `virt`, or null if it is unmapped.
  translate(virt: u64): Translation | null {
    let table = this.root;
    for (let level = 4; level >= 1; level--) {
      const entry = load<u64>(table + indexAt(virt, level) * 8);
      if (!this.format.isPresent(entry)) return null;
      if (level == 1 || this.format.isLeaf(entry, level)) {
        const offset = virt & (levelSize(level) - 1);
        return new Translation(
          this.format.address(entry, level) + offset,
          this.format.leafAttributes(entry, level),
          level,
        );
      }
      const next = this.format.tableAddress(entry);
      if (!this.tables.has(next)) return null; // a linked foreign subtree
      table = this.tables.get(next);
    }
    return null;
  }

  private setLeaf(virt: u64, leafLevel: i32, entry: u64): void {
    let table = this.root;
    for (let level = 4; level > leafLevel; level--) {
      const slot = table + indexAt(virt, level) * 8;
      const current = load<u64>(slot);
      if (this.format.isPresent(current) && !this.format.isLeaf(current, level)) {
        table = this.tables.get(this.format.tableAddress(current));
        continue;
      }
      // Absent, or a larger page to split: a fresh table. A split fills the
      // new table with smaller pages mapping exactly what the large one did.
      const child = allocPage();
      const childPhys = physOf(child);
      this.tables.set(childPhys, child);
      if (this.format.isPresent(current)) {
        const base = this.format.address(current, level), attributes = this.format.leafAttributes(current, level);
        for (let i = 0; i < 512; i++) {
          store<u64>(
            child + <usize>i * 8,
            this.format.leaf(base + <u64>i * levelSize(level - 1), level - 1, attributes),
          );
        }
      }
      store<u64>(slot, this.format.table(childPhys));
      table = child;
    }
    store<u64>(table + indexAt(virt, leafLevel) * 8, entry);
  }
}
