// Unit-test entry: VMs' disks on one host disk (vmm/storage/vmdisk.ts with
// vmm/storage/diskarbiter.ts), each with its budget and weight, on a TSC
// the test moves. A disk's device is a resume that counts its wakes.

import { Deferred, NOT_DUE } from "../../../vmm/devices/timers/deferred";
import { DiskBacking } from "../../../vmm/storage/backing";
import { IoBudget } from "../../../vmm/storage/budget";
import { DiskArbiter } from "../../../vmm/storage/diskarbiter";
import { IoBatch } from "../../../vmm/storage/iobatch";
import { Segments } from "../../../vmm/storage/segments";
import { VmDisk } from "../../../vmm/storage/vmdisk";

// A partition whose transfers the test does not make.
class Unread extends DiskBacking {
  constructor() {
    super(1 << 20, false, "unread");
  }
  get kind(): string {
    return "none";
  }
  begin(offset: u64, data: Segments, write: bool, batch: IoBatch, tag: i32): bool {
    return false;
  }
  poll(): void {}
  finish(batch: IoBatch): u64 {
    return 0;
  }
  flush(): bool {
    return false;
  }
  discard(offset: u64, length: u64): bool {
    return false;
  }
}

class CountingResume extends Deferred {
  runs: u32 = 0;
  get dueAt(): u64 {
    return NOT_DUE;
  }
  run(): void {
    this.runs++;
  }
}

let arbiter = new DiskArbiter();
let disks: VmDisk[] = [];
let resumes: CountingResume[] = [];

export function reset(): void {
  arbiter = new DiskArbiter();
  disks = [];
  resumes = [];
}
// A VM's disk on the host disk; its index.
export function addDisk(weight: u32, iops: u32, bytesPerSecond: u64): i32 {
  const disk = new VmDisk(new Unread(), new IoBudget(iops, bytesPerSecond), arbiter, arbiter.join(weight));
  const resume = new CountingResume();
  disk.attach(resume, [], 0, 1);
  disks.push(disk);
  resumes.push(resume);
  return disks.length - 1;
}
export function admit(i: i32, bytes: u64, now: u64, tscPerMs: u64): bool {
  return disks[i].admit(bytes, now, tscPerMs);
}
export function finished(i: i32, now: u64, tscPerMs: u64): void {
  disks[i].finished(now, tscPerMs);
}
export function resumeAt(i: i32, tscPerMs: u64): u64 {
  return disks[i].resumeAt(tscPerMs);
}
export function release(i: i32, now: u64, tscPerMs: u64): void {
  disks[i].release(now, tscPerMs);
}
// How often the arbiter woke disk i.
export function wakes(i: i32): u32 {
  return resumes[i].runs;
}
