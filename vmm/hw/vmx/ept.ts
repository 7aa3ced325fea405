// Extended page tables: the nested page tables of VT-x.
//
// EPT has the shape of x86-64 paging (four levels of 512 entries, indexed by
// the guest-physical address) but its own entry format: bits 0-2 allow read,
// write and execute (an entry with none of them is not present), a leaf
// carries its memory type in bits 3-5 and "ignore PAT" in bit 6, and bit 7
// marks a 2 MiB or 1 GiB page. Guest RAM is ordinary write-back memory, so
// leaves say WB and ignore the guest's PAT; an uncached mapping (for device
// memory one day) says UC. Intel SDM Vol. 3C 28.2.2 "EPT Translation
// Mechanism", 28.2.6 "EPT and Memory Typing".

import { invept } from "../../../kernel/arch/shim";
import { UNCACHED, WRITE_BACK } from "../../../kernel/mm/hostpaging";
import { EntryFormat } from "../../../kernel/mm/pagetable";
import { VmxFeatures } from "./features";

const READ_WRITE_EXECUTE: u64 = 7;
const MEMORY_TYPE_SHIFT: u64 = 3;
const MEMORY_TYPE_MASK: u64 = 7 << 3;
const IGNORE_PAT: u64 = 1 << 6;
const LARGE: u64 = 1 << 7;
const TYPE_UC: u64 = 0;
const TYPE_WB: u64 = 6;

// EPTP: paging-structure memory type (bits 2:0), walk length - 1 (5:3), A/D enable (6).
const EPTP_WALK_4: u64 = 3 << 3;
const EPTP_ACCESSED_DIRTY: u64 = 1 << 6;

// INVEPT types (SDM 30.3 "INVEPT").
const INVEPT_SINGLE_CONTEXT: u32 = 1;
const INVEPT_GLOBAL: u32 = 2;

export class EptEntryFormat extends EntryFormat {
  isPresent(entry: u64): bool {
    return (entry & READ_WRITE_EXECUTE) != 0;
  }
  isLeaf(entry: u64, level: i32): bool {
    return level == 1 || (entry & LARGE) != 0;
  }
  table(phys: u64): u64 {
    return phys | READ_WRITE_EXECUTE;
  }
  // `attributes` are x86 cache attributes (kernel/mm/hostpaging.ts): WRITE_BACK or UNCACHED.
  leaf(phys: u64, level: i32, attributes: u64): u64 {
    const type = attributes == UNCACHED ? TYPE_UC : TYPE_WB;
    return phys | READ_WRITE_EXECUTE | (type << MEMORY_TYPE_SHIFT) | IGNORE_PAT | (level > 1 ? LARGE : 0);
  }
  leafAttributes(entry: u64, level: i32): u64 {
    return (entry & MEMORY_TYPE_MASK) == (TYPE_UC << MEMORY_TYPE_SHIFT) ? UNCACHED : WRITE_BACK;
  }
}

// The EPT pointer for the tables rooted at `root` (physical): it names the
// root table, the memory type of the tables themselves and the walk length,
// and turns on the accessed/dirty flags (SDM 24.6.11 "Extended-Page-Table
// Pointer (EPTP)").
export function eptPointer(root: u64, f: VmxFeatures): u64 {
  return root | EPTP_WALK_4 | (f.eptTablesWb ? TYPE_WB : TYPE_UC) | (f.eptAccessedDirty ? EPTP_ACCESSED_DIRTY : 0);
}

// Drops the cached translations derived from `eptp` (guest-physical and
// combined mappings): after its tables change, and before its first use,
// since tables at a recycled address may have been cached before (SDM
// 28.3.3.4 "Guidelines for Use of the INVEPT Instruction").
export function flushEpt(eptp: u64, f: VmxFeatures): void {
  if (f.inveptSingle) invept(INVEPT_SINGLE_CONTEXT, eptp);
  else invept(INVEPT_GLOBAL, 0);
}
