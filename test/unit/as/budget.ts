// Unit-test entry: a disk's I/O budget (vmm/storage/budget.ts) on a TSC the
// test moves, one budget at a time.

import { IoBudget } from "../../../vmm/storage/budget";

let budget = new IoBudget(0, 0);

export function make(iops: u32, bytesPerSecond: u64): void {
  budget = new IoBudget(iops, bytesPerSecond);
}
export function admit(bytes: u64, now: u64, tscPerMs: u64): bool {
  return budget.admit(bytes, now, tscPerMs);
}
export function nextStart(): u64 {
  return budget.nextStart;
}
