// From the loader's raw memory map to the page-aligned RAM we may use.
//
// Firmware memory maps are messy: entries arrive unsorted, may overlap, and a
// usable entry may overlap a reserved one. The rule here is conservative:
// a byte is usable only if some entry says usable and no entry says otherwise.

import { MemoryRegion, RegionType } from "../boot/bootinfo";
import { Range, PAGE_SIZE, alignDown, alignUp } from "./range";

// Sorted, disjoint, page-aligned usable ranges.
export function usableRanges(regions: MemoryRegion[]): Range[] {
  let ranges: Range[] = [];
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i];
    if (r.type != RegionType.Usable || r.length == 0 || r.end < r.base) continue;
    const start = alignUp(r.base, PAGE_SIZE), end = alignDown(r.end, PAGE_SIZE);
    if (start < end) ranges.push(new Range(start, end));
  }
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i];
    if (r.type == RegionType.Usable || r.length == 0) continue;
    ranges = subtract(ranges, alignDown(r.base, PAGE_SIZE), alignUp(r.end, PAGE_SIZE));
  }
  return coalesce(ranges);
}

// The same addresses as sorted, disjoint ranges; touching ones are joined.
export function coalesce(ranges: Range[]): Range[] {
  ranges.sort((a: Range, b: Range): i32 => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return merge(ranges);
}

// The ranges with [start, end) cut out.
export function subtract(ranges: Range[], start: u64, end: u64): Range[] {
  const out: Range[] = [];
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (!r.overlaps(start, end)) {
      out.push(r);
      continue;
    }
    if (r.start < start) out.push(new Range(r.start, start));
    if (end < r.end) out.push(new Range(end, r.end));
  }
  return out;
}

function merge(sorted: Range[]): Range[] {
  const out: Range[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i];
    if (out.length > 0 && out[out.length - 1].end >= r.start) {
      const last = out[out.length - 1];
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push(new Range(r.start, r.end));
    }
  }
  return out;
}

export function totalSize(ranges: Range[]): u64 {
  let total: u64 = 0;
  for (let i = 0; i < ranges.length; i++) total += ranges[i].size;
  return total;
}

// The end of the highest region of any type that is RAM-like (not MMIO-only).
export function ramTop(regions: MemoryRegion[]): u64 {
  let top: u64 = 0;
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i];
    const ram = r.type == RegionType.Usable || r.type == RegionType.AcpiReclaimable || r.type == RegionType.AcpiNvs;
    if (ram && r.end > top) top = r.end;
  }
  return top;
}
