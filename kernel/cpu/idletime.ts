// How long the host's CPUs have spent halted with nothing to run. The
// scheduler (vmm/sched/scheduler.ts) marks where each CPU's idle period
// begins and ends; the sum over every CPU is what the CPUID leaf of a VM's
// exit counts reports (vmm/emul/cpuidpolicy.ts). Under QEMU's -icount with
// sleep on, a halted CPU's TSC follows the host's time, so these are the
// ticks a benchmark takes from its own to count the instructions run
// (docs/disk-bench.md).

import { MAX_CPUS } from "./smp";

// Per CPU: the ticks of its idle periods that have ended, and the TSC at
// which the one under way began (0: none is).
const ended = new StaticArray<u64>(MAX_CPUS);
const since = new StaticArray<u64>(MAX_CPUS);

// CPU `cpu` (< MAX_CPUS) halts from TSC `now` on.
export function idleFrom(cpu: u32, now: u64): void {
  since[cpu] = now;
}

// CPU `cpu`'s idle period, if one was under way, ends at TSC `now`.
export function idleUntil(cpu: u32, now: u64): void {
  if (since[cpu] == 0) return;
  ended[cpu] += now - since[cpu];
  since[cpu] = 0;
}

// Every CPU's idle ticks up to TSC `now`, the periods under way included.
export function idleTicks(now: u64): u64 {
  let sum: u64 = 0;
  for (let i: u32 = 0; i < MAX_CPUS; i++) sum += ended[i] + (since[i] != 0 ? now - since[i] : 0);
  return sum;
}
