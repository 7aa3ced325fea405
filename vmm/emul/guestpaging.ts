// The guest's own paging: guest-linear to guest-physical addresses.
//
// To emulate an instruction the VMM must read it, and the guest's RIP is a
// linear address translated by the guest's page tables, which live in guest
// RAM. GuestPageWalker walks them the way the MMU does (Intel SDM Vol. 3A
// chapter 4, AMD APM Vol. 2 chapter 5) for every paging mode: none, 32-bit
// (4 KiB and 4 MiB pages), PAE, and 4- or 5-level long mode. Every table read
// goes through GuestMemory, so a guest whose tables point outside its RAM gets
// a failure, never a read of someone else's memory. The walk serves the
// VMM's own reads of an instruction the CPU has already fetched, and the
// memory end of a string instruction the VMM carries out, which no MMU saw:
// for that, it gathers the R/W and U/S bits of every level, and
// pageFaultFor() says whether the MMU would have let the access through
// (4.6). Reserved bits and accessed/dirty flags are not looked at.

import { physRead32, physRead64 } from "../../kernel/arch/shim";
import {
  CR0_PG,
  CR0_WP,
  CR4_LA57,
  CR4_PAE,
  CR4_PSE,
  CR4_SMAP,
  EFER_LMA,
  PF_PROTECTION,
  PF_USER,
  PF_WRITE,
  PTE_ADDRESS_MASK,
  PTE_LARGE,
  PTE_PRESENT,
  PTE_USER,
  PTE_WRITABLE,
  RFLAGS_AC,
} from "../../kernel/arch/x86";
import { GuestMemory } from "../core/guestmemory";
import { MAX_WALK_ENTRIES } from "../core/storememo";

export const enum WalkResult {
  Translated,
  NotPresent,
  TableOutsideRam,
}

const OFFSET_4K: u64 = 0xfff;
// R/W and U/S: the rights a walk starts with, and each level can take away.
const RIGHTS: u64 = PTE_WRITABLE | PTE_USER;

export class GuestPageWalker {
  // The guest-physical address, after a walk that returned Translated.
  physical: u64 = 0;
  // The guest-physical address of the last entry read: after a failed
  // walk, the one that was not present or not in RAM.
  failedEntry: u64 = 0;
  // What the last translate() returned.
  lastResult: WalkResult = WalkResult.Translated;
  // The R/W and U/S bits of every level so far, ANDed: after Translated,
  // whether every level allows writes, and user access.
  private rights: u64 = RIGHTS;
  private entry: u64 = 0;
  private memory: GuestMemory | null = null;
  // The entries the last walk read, in order: where each lies
  // (host-physical), its width and its value (for core/storememo.ts).
  trailLength: i32 = 0;
  readonly trailAt: StaticArray<u64> = new StaticArray<u64>(MAX_WALK_ENTRIES);
  readonly trailWidth: StaticArray<u8> = new StaticArray<u8>(MAX_WALK_ENTRIES);
  readonly trailValue: StaticArray<u64> = new StaticArray<u64>(MAX_WALK_ENTRIES);

  // Translates `linear` through the tables in `memory` under the guest's
  // CR0, CR3, CR4 and EFER.
  translate(memory: GuestMemory, linear: u64, cr0: u64, cr3: u64, cr4: u64, efer: u64): WalkResult {
    this.memory = memory;
    this.rights = RIGHTS;
    this.trailLength = 0;
    this.lastResult = this.walk(linear, cr0, cr3, cr4, efer);
    return this.lastResult;
  }

  // After Translated: whether every level allows writes, and user access.
  get writable(): bool {
    return (this.rights & PTE_WRITABLE) != 0;
  }
  get user(): bool {
    return (this.rights & PTE_USER) != 0;
  }

  // After translate(): the error code of the page fault a data access
  // (a write if `write`, at CPL `cpl`) would take there, or -1 if the MMU
  // allows it (4.6): CPL 3 reaches user pages only, and writes need R/W
  // set at every level, which binds supervisor writes only with CR0.WP;
  // with CR4.SMAP a supervisor access to a user page faults unless
  // RFLAGS.AC is set (4.6.1). A walk that failed for want of a present
  // entry is a not-present fault.
  pageFaultFor(write: bool, cpl: u32, cr0: u64, cr4: u64, rflags: u64): i32 {
    const code = (write ? PF_WRITE : 0) | (cpl == 3 ? PF_USER : 0);
    if (this.lastResult == WalkResult.NotPresent) return <i32>code;
    if ((cr0 & CR0_PG) == 0) return -1;
    const supervisor = cpl < 3;
    let allowed = supervisor || this.user;
    if (write && !this.writable && (!supervisor || (cr0 & CR0_WP) != 0)) allowed = false;
    if (supervisor && this.user && (cr4 & CR4_SMAP) != 0 && (rflags & RFLAGS_AC) == 0) allowed = false;
    return allowed ? -1 : <i32>(code | PF_PROTECTION);
  }

  private walk(linear: u64, cr0: u64, cr3: u64, cr4: u64, efer: u64): WalkResult {
    if ((cr0 & CR0_PG) == 0) {
      this.physical = linear;
      return WalkResult.Translated;
    }
    if ((efer & EFER_LMA) != 0) return this.walkLongMode(linear, cr3, (cr4 & CR4_LA57) != 0);
    if ((cr4 & CR4_PAE) != 0) return this.walkPae(linear, cr3);
    return this.walk32(linear, cr3, (cr4 & CR4_PSE) != 0);
  }

  // 32-bit paging (SDM Vol. 3A 4.3): a page directory of 1,024 4-byte
  // entries, each a 4 MiB page (PS with CR4.PSE) or a table of 4 KiB pages.
  private walk32(linear: u64, cr3: u64, pse: bool): WalkResult {
    const directory = cr3 & 0xffff_f000;
    let result = this.readEntry(directory + ((linear >> 22) & 0x3ff) * 4, 4);
    if (result != WalkResult.Translated) return result;
    const pde = this.entry;
    if (pse && (pde & PTE_LARGE) != 0) {
      // PSE-36: PDE bits 20:13 hold physical-address bits 39:32 (Table 4-4).
      const high = ((pde >> 13) & 0xff) << 32;
      this.physical = high | (pde & 0xffc0_0000) | (linear & 0x3f_ffff);
      return WalkResult.Translated;
    }
    result = this.readEntry((pde & 0xffff_f000) + ((linear >> 12) & 0x3ff) * 4, 4);
    if (result != WalkResult.Translated) return result;
    this.physical = (this.entry & 0xffff_f000) | (linear & OFFSET_4K);
    return WalkResult.Translated;
  }

  // PAE paging (SDM Vol. 3A 4.4): CR3 bits 31:5 locate four PDPTEs, each
  // for 1 GiB, then 512-entry directories and tables of 8-byte entries.
  // The CPU caches the PDPTEs when CR3 is loaded (4.4.1); reading them from
  // memory differs only for a guest that changed them without reloading CR3.
  private walkPae(linear: u64, cr3: u64): WalkResult {
    const result = this.readEntry((cr3 & 0xffff_ffe0) + ((linear >> 30) & 3) * 8, 8);
    if (result != WalkResult.Translated) return result;
    // A PDPTE has no R/W or U/S bit (Table 4-8).
    this.rights = RIGHTS;
    return this.walkFrom(linear, this.entry & PTE_ADDRESS_MASK, 2);
  }

  // IA-32e paging (SDM Vol. 3A 4.5): PML4 (or PML5 with CR4.LA57), then
  // PDPT, directory and table, 9 bits of the address per level.
  private walkLongMode(linear: u64, cr3: u64, fiveLevels: bool): WalkResult {
    return this.walkFrom(linear, cr3 & PTE_ADDRESS_MASK, fiveLevels ? 5 : 4);
  }

  // Walks 8-byte-entry tables from `table` at `level` (1 = page table,
  // 2 = directory, 3 = PDPT, 4 = PML4, 5 = PML5) down to the page.
  private walkFrom(linear: u64, table: u64, level: i32): WalkResult {
    let shift: u64 = 0;
    for (;; level--) {
      shift = <u64>(12 + 9 * (level - 1));
      const result = this.readEntry(table + ((linear >> shift) & 0x1ff) * 8, 8);
      if (result != WalkResult.Translated) return result;
      // PS ends the walk early: a 1 GiB page in a PDPT, 2 MiB in a directory
      // (Tables 4-16 and 4-18); the bit is reserved at the other levels.
      if (level == 1 || ((level == 2 || level == 3) && (this.entry & PTE_LARGE) != 0)) break;
      table = this.entry & PTE_ADDRESS_MASK;
    }
    const offsetMask = (<u64>1 << shift) - 1;
    this.physical = (this.entry & PTE_ADDRESS_MASK & ~offsetMask) | (linear & offsetMask);
    return WalkResult.Translated;
  }

  // Reads the `width`-byte entry at `gpa` into `entry`; Translated means
  // it is in RAM and present. Inline: it runs once per level.
  @inline
  private readEntry(gpa: u64, width: u64): WalkResult {
    this.failedEntry = gpa;
    // One lookup: it both checks that the entry is RAM and finds it.
    const host = this.memory!.translate(gpa, width);
    if (host < 0) return WalkResult.TableOutsideRam;
    const entry = width == 8 ? physRead64(<u64>host) : <u64>physRead32(<u64>host);
    this.entry = entry;
    const i = this.trailLength++;
    unchecked(this.trailAt[i] = <u64>host);
    unchecked(this.trailWidth[i] = <u8>width);
    unchecked(this.trailValue[i] = entry);
    if ((entry & PTE_PRESENT) == 0) return WalkResult.NotPresent;
    this.rights &= entry;
    return WalkResult.Translated;
  }
}
