// A disk as one VM has it: what stands behind it, the budget its
// configuration gives it (at most so many operations and bytes per
// second), and, for a partition of a host disk, its share of that disk
// among the VMs using it (diskarbiter.ts). A request may start when both
// let it: the budget still caps a VM that has the disk to itself.

import * as log from "../../kernel/console/log";
import { Meter, Total } from "../core/meter";
import { Deferred, NOT_DUE } from "../devices/timers/deferred";
import { DiskBacking, SECTOR_SIZE } from "./backing";
import { IoBudget } from "./budget";
import { IoBatch } from "./iobatch";
import { DiskArbiter } from "./diskarbiter";
import { DEFAULT_WEIGHT, DiskShare } from "./diskshare";

export class VmDisk {
  // "NVMe partition, 8 GiB, read-only, 500 IOPS, weight 300": what stands
  // behind it, and what its configuration gives it.
  describe(): string {
    const d = this.backing, budget = this.budget, share = this.share;
    let text = d.kind + ", " + log.size(d.sectors * SECTOR_SIZE) + (d.readOnly ? ", read-only" : "");
    if (budget.iops != 0) text += ", " + budget.iops.toString() + " IOPS";
    if (budget.bytesPerSecond != 0) text += ", " + log.size(budget.bytesPerSecond) + "/s";
    if (share !== null && share.weight != DEFAULT_WEIGHT) text += ", weight " + share.weight.toString();
    return text;
  }

  // The request refused last waits for the budget, not for its share.
  private heldByBudget: bool = false;
  // The commands of the device's batches at the disk (iobatch.ts), one a queue.
  private batches: IoBatch[] = [];
  // What the VM's requests did, since the VM was made (a restart's new
  // device counts on): reads and writes with their bytes, flushes,
  // discards and write-zeroes as `trims`, and the requests that failed.
  reads: u64 = 0;
  writes: u64 = 0;
  readBytes: u64 = 0;
  writtenBytes: u64 = 0;
  flushes: u64 = 0;
  trims: u64 = 0;
  failures: u64 = 0;

  // `share` is null for a disk no other VM shares (a RAM disk).
  constructor(
    readonly backing: DiskBacking,
    readonly budget: IoBudget,
    readonly arbiter: DiskArbiter | null = null,
    readonly share: DiskShare | null = null,
  ) {}

  // The device whose held request `resume` serves, and whose commands
  // `batches` count, drives this disk from `now` on (a VM's restart builds
  // a new one); whatever the old one held is gone.
  attach(resume: Deferred, batches: IoBatch[], now: u64, tscPerMs: u64): void {
    this.release(now, tscPerMs);
    this.batches = batches;
    if (this.share !== null) this.share!.resume = resume;
  }

  // Whether a request of `bytes` may start at `now` (TSC, at `tscPerMs`
  // ticks a millisecond); if so the budget and the share are charged.
  // Waiting for the budget, the VM does not compete for the host disk.
  admit(bytes: u64, now: u64, tscPerMs: u64): bool {
    const budget = this.budget, share = this.share;
    this.heldByBudget = budget.capped && !budget.allows(now, tscPerMs);
    if (this.heldByBudget) {
      if (share !== null) this.arbiter!.pause(share, now, tscPerMs);
      return false;
    }
    if (share !== null && !this.arbiter!.admit(share, bytes, now, tscPerMs)) return false;
    if (budget.capped) budget.charge(bytes, now, tscPerMs);
    return true;
  }

  // The request admitted last ended at `now`.
  finished(now: u64, tscPerMs: u64): void {
    if (this.share !== null) this.arbiter!.finished(this.share!, now, tscPerMs);
  }

  // When the request refused last may go, if nothing else lets it first.
  resumeAt(tscPerMs: u64): u64 {
    if (this.heldByBudget) return this.budget.nextStart;
    return this.share !== null ? this.arbiter!.wakeAt(this.share!, tscPerMs) : NOT_DUE;
  }

  // Its VM is destroyed: it leaves the host disk's arbiter.
  leave(now: u64, tscPerMs: u64): void {
    if (this.share !== null) this.arbiter!.leave(this.share!, now, tscPerMs);
  }

  // The device dropped its requests, or the VM stopped: it wants nothing
  // of the host disk. What it had at the disk ends first, so that the
  // controller writes nothing more into RAM the VM may no longer have.
  release(now: u64, tscPerMs: u64): void {
    for (let i = 0; i < this.batches.length; i++) this.backing.finish(this.batches[i]);
    this.heldByBudget = false;
    if (this.share !== null) this.arbiter!.pause(this.share!, now, tscPerMs);
  }
}

// A VM disk's counters for the management API, under the disk's serial.
export class DiskMeter extends Meter {
  constructor(private disk: VmDisk) {
    super("disk", disk.backing.serial, disk.describe());
  }

  totals(): Total[] {
    const d = this.disk;
    return [
      new Total("reads", d.reads),
      new Total("bytes_read", d.readBytes),
      new Total("writes", d.writes),
      new Total("bytes_written", d.writtenBytes),
      new Total("flushes", d.flushes),
      new Total("trims", d.trims),
      new Total("failed_requests", d.failures),
    ];
  }
}
