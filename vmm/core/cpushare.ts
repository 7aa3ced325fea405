// How much of the host's CPUs a VM may have, and how much it has had: its
// configuration (affinity, weight, cap) and the scheduler's accounts.
//
// Weights are relative, like Xen's credit scheduler's (default 256): when
// VMs contend for a CPU, each gets time in proportion to its weight, which
// its runnable vCPUs share. The scheduler keeps a virtual run time per
// vCPU (core/runstate.ts): its TSC ticks run, scaled by virtualTicks(), and
// runs the vCPU furthest behind. A cap bounds a VM's time to a percentage
// of one CPU over each CAP_PERIOD, even when CPUs are idle; what a period's
// run overshoots is taken from the next.

import { MAX_CPUS } from "../../kernel/cpu/smp";

export const DEFAULT_WEIGHT: u32 = 256;
export const MAX_WEIGHT: u32 = 65535;
export const ALL_CPUS: u32 = (1 << MAX_CPUS) - 1;
// A cap is enforced over periods of this many milliseconds.
export const CAP_PERIOD_MS: u64 = 50;

export class CpuShare {
  // Bit n set: the VM's vCPUs may run on host CPU n.
  affinity: u32 = ALL_CPUS;
  weight: u32 = DEFAULT_WEIGHT;
  // At most this percentage of one CPU (summed over the VM's vCPUs); 0 for none.
  capPercent: u32 = 0;
  // The cap's current period: when it started (TSC) and the ticks used in it.
  periodStart: u64 = 0;
  periodUsed: u64 = 0;

  allows(cpu: u32): bool {
    return (this.affinity & (1 << cpu)) != 0;
  }

  // Counts `ticks` of the VM's run against its cap.
  account(ticks: u64): void {
    this.periodUsed += ticks;
  }

  // `ticks` run by one of `active` vCPUs of the VM that want to run, in
  // virtual time: each has 1/active of the VM's weight.
  virtualTicks(ticks: u64, active: u32): u64 {
    return (ticks * <u64>DEFAULT_WEIGHT * <u64>max<u32>(active, 1)) / <u64>this.weight;
  }

  // The ticks the cap allows per period, or u64.MAX_VALUE without a cap.
  budget(tscPerMs: u64): u64 {
    return this.capPercent == 0 ? u64.MAX_VALUE : CAP_PERIOD_MS * tscPerMs * <u64>this.capPercent / 100;
  }

  // Whether the cap holds the VM back at `now`: it used its budget in the
  // current period. A new period starts at the first look past the last one,
  // and what the VM ran beyond the budgets of the periods gone by counts
  // against it: a slice ends with an alarm, which may ring late (under QEMU
  // on a busy host, by milliseconds), and an overrun forgiven at every
  // period would let the VM run that much over its cap for good. Time it
  // did not use is not saved up.
  heldBack(now: u64, tscPerMs: u64): bool {
    if (this.capPercent == 0) return false;
    const period = CAP_PERIOD_MS * tscPerMs, budget = this.budget(tscPerMs);
    if (now - this.periodStart >= period) {
      const periods = (now - this.periodStart) / period, owed = periods * budget;
      this.periodStart += periods * period;
      this.periodUsed = this.periodUsed > owed ? this.periodUsed - owed : 0;
    }
    return this.periodUsed >= budget;
  }

  // The ticks left in the current period's budget, or u64.MAX_VALUE.
  left(tscPerMs: u64): u64 {
    const budget = this.budget(tscPerMs);
    return budget == u64.MAX_VALUE ? budget : budget - min(budget, this.periodUsed);
  }

  periodEnd(tscPerMs: u64): u64 {
    return this.periodStart + CAP_PERIOD_MS * tscPerMs;
  }
}
