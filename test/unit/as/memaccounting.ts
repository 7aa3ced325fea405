// Unit-test entry: the accessors behind a VM's footprint (vmm/setup/footprint.ts):
// pages held from linearpages.ts and the heap in use (heap.ts).

import { heapUsedBytes } from "../../../kernel/mm/heap";
import { allocPages, freePage, pagesInUseBytes } from "../../../kernel/mm/linearpages";

let kept: StaticArray<u8>[] = [];

export function heapUsed(): u32 {
  return <u32>heapUsedBytes();
}
export function pagesInUse(): u32 {
  return <u32>pagesInUseBytes();
}
// Keeps an array of `bytes` bytes alive.
export function keepArray(bytes: i32): void {
  kept.push(new StaticArray<u8>(bytes));
}
export function takePages(count: i32): u32 {
  return <u32>allocPages(count);
}
export function givePage(page: u32): void {
  freePage(page);
}
