// Deciding where everything goes in a VM's RAM, and the memory map it reports.
//
// A loader first claims the ranges the image dictates (the kernel's load
// address, ELF segments), then places what it is free to put anywhere (boot
// information low, the initrd high). Every claim is checked here, once: it must
// lie in the VM's RAM (GuestMemory), stay clear of reserved ranges, and not
// overlap an earlier claim. The first failure is kept in `error` with both
// ranges named. Nothing is written to guest RAM until every claim succeeded.

import { MemoryRegion, RegionType } from "../../../kernel/boot/bootinfo";
import { subtract } from "../../../kernel/mm/memmap";
import { Range, alignDown, alignUp } from "../../../kernel/mm/range";
import { physWrite8 } from "../../../kernel/arch/shim";
import { GuestMemory } from "../../core/guestmemory";
import { bytes, span } from "./loader";

// Low memory stops at 0x9f000: [0x9f000, 0x100000) is where a PC has its
// EBDA, VGA window and BIOS ROM, and guests expect no RAM there.
export const LEGACY_START: u64 = 0x9f000;
export const LEGACY_END: u64 = 0x100000;
// Boot information goes in low memory above the real-mode IVT and BDA.
export const LOW_START: u64 = 0x1000;
export const FOUR_GIB: u64 = 0x1_0000_0000;
export const NOWHERE: u64 = u64.MAX_VALUE;

class Claim {
  constructor(public start: u64, public end: u64, public what: string) {}
}

export class GuestLayout {
  error: string | null = null;
  private claims: Claim[] = [];
  // Reserved ranges (the legacy area first), as claims that are never RAM.
  private reserved: Claim[] = [];
  private conflict: Claim | null = null;

  constructor(public memory: GuestMemory, public reservedRegions: MemoryRegion[]) {
    this.reserved.push(new Claim(LEGACY_START, LEGACY_END, "the legacy BIOS area"));
    for (let i = 0; i < reservedRegions.length; i++) {
      const r = reservedRegions[i];
      if (r.length == 0) continue;
      const end = r.base + r.length < r.base ? u64.MAX_VALUE : r.base + r.length;
      this.reserved.push(new Claim(r.base, end, "reserved memory"));
    }
  }

  fail(reason: string): bool {
    if (this.error === null) this.error = reason;
    return false;
  }

  // Claims [start, start + size) for `what`; false (and `error`) if it is not
  // all RAM, or meets a reserved range or an earlier claim.
  claim(start: u64, size: u64, what: string): bool {
    const length = size == 0 ? 1 : size; // an empty thing still needs an address
    const end = start + length;
    if (end < start) return this.fail(what + " at " + span(start, start) + " wraps around the address space");
    if (!this.memory.contains(start, length)) {
      return this.fail(
        what + " " + span(start, end) + " does not fit in the VM's RAM (" + bytes(this.memory.size) + ")",
      );
    }
    if (this.findConflict(start, end)) {
      const c = this.conflict!;
      return this.fail(what + " " + span(start, end) + " overlaps " + c.what + " " + span(c.start, c.end));
    }
    this.claims.push(new Claim(start, end, what));
    return true;
  }

  // Places `size` bytes aligned to `align` (a power of two) inside
  // [low, high), as low as possible or, with `top`, as high as possible, and
  // claims it. NOWHERE (and `error`) if no such free RAM exists.
  place(size: u64, align: u64, low: u64, high: u64, top: bool, what: string): u64 {
    const length = size == 0 ? 1 : size;
    const regions = this.sortedRam();
    const tries = this.claims.length + this.reserved.length + 2;
    for (let n = 0; n < regions.length; n++) {
      const r = regions[top ? regions.length - 1 - n : n];
      const lo = r.start > low ? r.start : low;
      const hi = r.end < high ? r.end : high;
      if (hi <= lo || hi - lo < length) continue;
      let at = top ? alignDown(hi - length, align) : alignUp(lo, align);
      for (let i = 0; i < tries; i++) {
        if (at < lo || at > hi || hi - at < length) break;
        if (!this.findConflict(at, at + length)) {
          this.claim(at, size, what);
          return at;
        }
        const c = this.conflict!;
        if (top) {
          if (c.start < length) break;
          at = alignDown(c.start - length, align);
        } else {
          const next = alignUp(c.end, align);
          if (next <= at) break;
          at = next;
        }
      }
    }
    this.fail("no room for " + what + " (" + bytes(size) + ") in the VM's RAM between " + span(low, high));
    return NOWHERE;
  }

  // The guest's memory map, sorted by address: usable RAM, then the reserved
  // ranges with their own types. It serves as the E820 map for Linux, the PVH
  // memmap and the multiboot mmap, all with the same types (ACPI 6.5 table
  // 15.4).
  memoryMap(): MemoryRegion[] {
    const out: MemoryRegion[] = [];
    const ram = this.sortedRam();
    let usable: Range[] = [];
    for (let i = 0; i < ram.length; i++) usable.push(ram[i]);
    usable = subtract(usable, LEGACY_START, LEGACY_END);
    // The legacy area, minus whatever the caller reserved in it with its own type.
    let legacy: Range[] = [new Range(LEGACY_START, LEGACY_END)];
    for (let i = 0; i < this.reservedRegions.length; i++) {
      const r = this.reservedRegions[i];
      if (r.length == 0) continue;
      const end = r.end < r.base ? u64.MAX_VALUE : r.end;
      usable = subtract(usable, r.base, end);
      legacy = subtract(legacy, r.base, end);
    }
    for (let i = 0; i < usable.length; i++) {
      out.push(new MemoryRegion(usable[i].start, usable[i].size, RegionType.Usable));
    }
    for (let i = 0; i < legacy.length; i++) {
      out.push(new MemoryRegion(legacy[i].start, legacy[i].size, RegionType.Reserved));
    }
    for (let i = 0; i < this.reservedRegions.length; i++) {
      const r = this.reservedRegions[i];
      if (r.length > 0) out.push(new MemoryRegion(r.base, r.length, r.type));
    }
    out.sort((a: MemoryRegion, b: MemoryRegion): i32 => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
    return out;
  }

  // The end of the highest RAM below `limit`.
  ramTopBelow(limit: u64): u64 {
    let top: u64 = 0;
    const ram = this.sortedRam();
    for (let i = 0; i < ram.length; i++) {
      const end = ram[i].end < limit ? ram[i].end : limit;
      if (ram[i].start < limit && end > top) top = end;
    }
    return top;
  }

  private findConflict(start: u64, end: u64): bool {
    for (let i = 0; i < this.reserved.length; i++) {
      const c = this.reserved[i];
      if (start < c.end && c.start < end) {
        this.conflict = c;
        return true;
      }
    }
    for (let i = 0; i < this.claims.length; i++) {
      const c = this.claims[i];
      if (start < c.end && c.start < end) {
        this.conflict = c;
        return true;
      }
    }
    return false;
  }

  private sortedRam(): Range[] {
    const out: Range[] = [];
    const regions = this.memory.regions;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i];
      if (r.size > 0) out.push(new Range(r.gpa, r.gpa + r.size));
    }
    out.sort((a: Range, b: Range): i32 => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return out;
  }
}

// Writing into guest RAM. Each returns false if the range is not all RAM;
// loaders only write what they claimed, so that is a bug, not bad input.

export function writeBytes(memory: GuestMemory, gpa: u64, data: Uint8Array): bool {
  const h = memory.translate(gpa, <u64>data.length);
  if (h < 0) return false;
  for (let i = 0; i < data.length; i++) physWrite8(<u64>h + <u64>i, data[i]);
  return true;
}

// `data` followed by a NUL.
export function writeCString(memory: GuestMemory, gpa: u64, data: Uint8Array): bool {
  const end = gpa + <u64>data.length;
  if (!memory.contains(end, 1) || !writeBytes(memory, gpa, data)) return false;
  memory.write8(end, 0);
  return true;
}
