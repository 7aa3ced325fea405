// When a virtio-blk device (block.ts) looks whether the host disk has
// ended the batch it has there. No interrupt says so (the hypervisor
// polls its controllers), and each look while the guest runs costs an
// exit, so the looks follow the disk: the first comes at three quarters
// of the time recent batches took, or FIRST_US on, whichever is later;
// each look that finds the batch still there leaves half as long again
// before the next, up to MAX_US. A batch found ended at the first look
// brings the next first look a little earlier; one that took more looks,
// later. With a steady load that settles at about one look a batch. A
// batch found at a later look comes back at most half its own time late;
// one far quicker than those before it, at the first look.

import { NOT_DUE } from "../timers/deferred";

const FIRST_US: u64 = 10;
const MAX_US: u64 = 1000;

export class LookSchedule {
  // The TSC of the next look (NOT_DUE: no batch at the disk).
  next: u64 = NOT_DUE;
  private startedAt: u64 = 0;
  private gap: u64 = 0;
  // What batches took from start to the look that found them ended, on
  // average (TSC ticks); 0 before the first.
  private typical: u64 = 0;

  // A batch went to the disk at `now`, the TSC counting `tscPerMs` a millisecond.
  started(now: u64, tscPerMs: u64): void {
    this.startedAt = now;
    this.gap = min(max((FIRST_US * tscPerMs) / 1000, (this.typical * 3) / 4), (MAX_US * tscPerMs) / 1000);
    this.next = now + this.gap;
  }

  // A look at `now` found the batch still at the disk.
  stillThere(now: u64, tscPerMs: u64): void {
    this.gap = min(this.gap + this.gap / 2, (MAX_US * tscPerMs) / 1000);
    this.next = now + this.gap;
  }

  // A look at `now` found the batch ended.
  ended(now: u64): void {
    const took = now - this.startedAt;
    this.typical = this.typical == 0 ? took : (this.typical * 3 + took) / 4;
    this.next = NOT_DUE;
  }

  // The batch was dropped (the device was reset).
  dropped(): void {
    this.next = NOT_DUE;
  }
}
