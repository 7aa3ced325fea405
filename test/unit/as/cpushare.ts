// Unit-test entry: a VM's share of the host's CPUs (vmm/core/cpushare.ts),
// the weights and caps the scheduler's choices follow.

import { CpuShare } from "../../../vmm/core/cpushare";

const shares: CpuShare[] = [];

// A new VM's share; returns its index.
export function make(weight: u32, capPercent: u32, affinity: u32): i32 {
  const share = new CpuShare();
  share.weight = weight;
  share.capPercent = capPercent;
  share.affinity = affinity;
  shares.push(share);
  return shares.length - 1;
}

export function allows(vm: i32, cpu: u32): bool {
  return shares[vm].allows(cpu);
}

export function virtualTicks(vm: i32, ticks: u64, active: u32): u64 {
  return shares[vm].virtualTicks(ticks, active);
}

export function account(vm: i32, ticks: u64): void {
  shares[vm].account(ticks);
}

export function heldBack(vm: i32, now: u64, tscPerMs: u64): bool {
  return shares[vm].heldBack(now, tscPerMs);
}

export function left(vm: i32, tscPerMs: u64): u64 {
  return shares[vm].left(tscPerMs);
}

export function periodEnd(vm: i32, tscPerMs: u64): u64 {
  return shares[vm].periodEnd(tscPerMs);
}
