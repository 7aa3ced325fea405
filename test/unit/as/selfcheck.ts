// Unit-test entry: checks of the harness itself (stubs, panic and abort paths).

import {
  physRead8,
  physRead16,
  physRead32,
  physRead64,
  physWrite8,
  physWrite16,
  physWrite32,
  physWrite64,
  rdmsr,
  wrmsr,
  vmxon,
} from "../../../kernel/arch/shim";
import { panic } from "../../../kernel/console/panic";
import { initConsole, print } from "../../../kernel/console/console";
import { allocPages } from "../../../kernel/mm/linearpages";

export function read8(a: u64): u8 {
  return physRead8(a);
}
export function read16(a: u64): u16 {
  return physRead16(a);
}
export function read32(a: u64): u32 {
  return physRead32(a);
}
export function read64(a: u64): u64 {
  return physRead64(a);
}
export function write8(a: u64, v: u8): void {
  physWrite8(a, v);
}
export function write16(a: u64, v: u16): void {
  physWrite16(a, v);
}
export function write32(a: u64, v: u32): void {
  physWrite32(a, v);
}
export function write64(a: u64, v: u64): void {
  physWrite64(a, v);
}
export function msrRoundTrip(msr: u32, v: u64): u64 {
  wrmsr(msr, v);
  return rdmsr(msr);
}
export function callVmxon(region: u64): u32 {
  return vmxon(region);
}

export function doPanic(reason: string): void {
  panic(reason);
}
export function doAssert(): void {
  assert(false, "unit assertion");
}
export function outOfRange(i: i32): i32 {
  const a: i32[] = [1, 2, 3];
  return a[i];
}
// More pages than the 256 MiB maximum linear memory holds.
export function exhaustLinearMemory(): usize {
  return allocPages(70000);
}
export function consolePrint(text: string): void {
  initConsole();
  print(text);
}
