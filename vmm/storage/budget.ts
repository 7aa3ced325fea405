// A disk's I/O budget: at most so many operations and so many bytes per
// second (0: no cap on that), as a VM's configuration asks.
//
// Each request costs the time it is entitled to, the longer of 1/iops s and
// bytes/(bytes per second) s, charged on a virtual clock that runs ahead of
// the TSC while the VM uses its budget: a request may start once the clock
// is not ahead of now. Time the disk was idle builds up to BURST of credit,
// so a VM that pauses is not penalised, nor can it save up more than that.

export const BURST_MS: u64 = 50;

export class IoBudget {
  // The virtual clock, in TSC ticks.
  private clock: u64 = 0;

  constructor(readonly iops: u32, readonly bytesPerSecond: u64) {}

  get capped(): bool {
    return this.iops != 0 || this.bytesPerSecond != 0;
  }

  // Whether a request of `bytes` may start at `now` (TSC, at `tscPerMs`
  // ticks a millisecond); if so it is charged.
  admit(bytes: u64, now: u64, tscPerMs: u64): bool {
    if (!this.allows(now, tscPerMs)) return false;
    this.charge(bytes, now, tscPerMs);
    return true;
  }

  // Whether a request may start at `now`, charging nothing yet: a disk
  // asks its share of a host disk too (vmdisk.ts) before either charges.
  allows(now: u64, tscPerMs: u64): bool {
    return this.startAt(now, tscPerMs) <= now;
  }

  // Charges a request of `bytes` that starts at `now`.
  charge(bytes: u64, now: u64, tscPerMs: u64): void {
    this.clock = this.startAt(now, tscPerMs) + this.cost(bytes, tscPerMs);
  }

  // When a refused request may start.
  get nextStart(): u64 {
    return this.clock;
  }

  // The clock, or BURST before `now` if it lags further behind.
  private startAt(now: u64, tscPerMs: u64): u64 {
    const burst = BURST_MS * tscPerMs;
    return max(this.clock, now > burst ? now - burst : 0);
  }

  private cost(bytes: u64, tscPerMs: u64): u64 {
    const perSecond = <f64>tscPerMs * 1000;
    const forOps = this.iops != 0 ? perSecond / <f64>this.iops : 0;
    const forBytes = this.bytesPerSecond != 0 ? perSecond * <f64>bytes / <f64>this.bytesPerSecond : 0;
    return <u64>Math.ceil(max(forOps, forBytes));
  }
}
