// Where a vCPU lives and runs among the host's CPUs, and the CPU time it
// had: the scheduler's record of it (sched/scheduler.ts), kept on the vCPU.

import { MAX_CPUS } from "../../kernel/cpu/smp";
import { ticksToNs } from "../../kernel/time/tsc";

export class RunState {
  // The CPU whose run queue holds the vCPU.
  homeCpu: u32 = 0;
  // The CPU whose current vCPU it is (its slice runs there), or -1.
  runningOn: i32 = -1;
  // The CPU it last ran on, or -1: arriving on another one, its cached
  // translations there may be stale.
  lastCpu: i32 = -1;
  // TSC ticks spent in the guest, in all and on each host CPU.
  ticks: u64 = 0;
  readonly ticksOn: StaticArray<u64> = new StaticArray<u64>(MAX_CPUS);
  // When its current slice ends (TSC).
  sliceEnd: u64 = 0;
  // Virtual run time (core/cpushare.ts): the scheduler runs the vCPU
  // furthest behind; and its VM's vCPUs that wanted to run when its slice
  // began, which divide the VM's weight.
  vruntime: u64 = 0;
  activeSiblings: u32 = 1;

  // Counts a run of `ticks` on `cpu`.
  account(cpu: u32, ticks: u64): void {
    this.ticks += ticks;
    unchecked(this.ticksOn[cpu] += ticks); // cpu < MAX_CPUS
  }

  // "N ns on C:N C:N": the time in the guest, in all and on each host CPU.
  describe(): string {
    let text = ticksToNs(this.ticks).toString() + " ns on";
    for (let c = 0; c < this.ticksOn.length; c++) {
      if (this.ticksOn[c] != 0) text += " " + c.toString() + ":" + ticksToNs(this.ticksOn[c]).toString();
    }
    return text;
  }
}
