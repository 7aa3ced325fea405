// Physical address ranges [start, end), the unit the memory code reasons in.

export const PAGE_SIZE: u64 = 4096;
export const LARGE_PAGE_SIZE: u64 = 2 << 20;
export const HUGE_PAGE_SIZE: u64 = 1 << 30;

export class Range {
  constructor(public start: u64, public end: u64) {}
  get size(): u64 {
    return this.end - this.start;
  }
  // An empty [start, start) overlaps nothing.
  overlaps(start: u64, end: u64): bool {
    return start < end && start < this.end && this.start < end;
  }
}

export function alignDown(v: u64, align: u64): u64 {
  return v & ~(align - 1);
}
export function alignUp(v: u64, align: u64): u64 {
  return (v + align - 1) & ~(align - 1);
}
