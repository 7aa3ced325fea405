// Unit-test entry: the memory map (memmap.ts) and the frame allocator (frames.ts).
// Regions and ranges are built up one call at a time in globals.

import { MemoryRegion } from "../../../kernel/boot/bootinfo";
import { usableRanges, subtract, totalSize, ramTop } from "../../../kernel/mm/memmap";
import { Range } from "../../../kernel/mm/range";
import { FrameAllocator } from "../../../kernel/mm/frames";

let regions: MemoryRegion[] = [];
let ranges: Range[] = [];

export function regionsClear(): void {
  regions = [];
}
export function regionAdd(base: u64, length: u64, type: u32): void {
  regions.push(new MemoryRegion(base, length, type));
}
export function regionsRamTop(): u64 {
  return ramTop(regions);
}

// ranges = usableRanges(regions)
export function computeUsable(): i32 {
  ranges = usableRanges(regions);
  return ranges.length;
}
export function rangesClear(): void {
  ranges = [];
}
export function rangeAdd(start: u64, end: u64): void {
  ranges.push(new Range(start, end));
}
export function rangeCount(): i32 {
  return ranges.length;
}
export function rangeStart(i: i32): u64 {
  return ranges[i].start;
}
export function rangeEnd(i: i32): u64 {
  return ranges[i].end;
}
export function rangesSubtract(start: u64, end: u64): i32 {
  ranges = subtract(ranges, start, end);
  return ranges.length;
}
export function rangesTotal(): u64 {
  return totalSize(ranges);
}

let frames: FrameAllocator = new FrameAllocator([]);

// A frame allocator over the current ranges.
export function framesCreate(): void {
  frames = new FrameAllocator(ranges);
}
export function framesCount(): u64 {
  return frames.frames;
}
export function framesFree(): u64 {
  return frames.freeFrames;
}
export function framesFreeBytes(): u64 {
  return frames.freeBytes;
}
export function framesReserve(start: u64, end: u64): void {
  frames.reserve(start, end);
}
export function framesIsFree(phys: u64): bool {
  return frames.isFree(phys);
}
export function framesAlloc(): u64 {
  return frames.alloc();
}
export function framesAllocContiguous(count: u64, align: u64): u64 {
  return frames.allocContiguous(count, align);
}
export function framesRelease(phys: u64): void {
  frames.free(phys);
}
