// VMs sharing a host disk (vmm/storage/diskarbiter.ts through
// vmm/storage/vmdisk.ts) on a TSC of 1 GHz the test moves: a disk that
// serves one 64 KiB request at a time in 0.1 ms, and VMs that each offer
// their next request as soon as they have none held back, as a guest
// reading flat out does, or a fixed time after the last one ended. A held request goes again when the arbiter wakes
// its device or its resume time comes, as in devices/virtio/block.ts.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface ArbiterExports {
  reset(): void;
  addDisk(weight: number, iops: number, bytesPerSecond: bigint): number;
  admit(i: number, bytes: bigint, now: bigint, tscPerMs: bigint): number;
  finished(i: number, now: bigint, tscPerMs: bigint): void;
  resumeAt(i: number, tscPerMs: bigint): bigint;
  wakes(i: number): number;
}

const MS = 1_000_000n; // TSC ticks a millisecond
const BYTES = 65536n, SERVICE = MS / 10n;
const FULL_DISK = Number(BYTES) / (Number(SERVICE) / Number(MS) / 1000); // bytes a second
const IDLE_MS = 100n;
let e: Exports<ArbiterExports>;
beforeEach(async () => {
  e = (await load<ArbiterExports>("diskarbiter.ts")).exports;
});

// The VMs' disks on a new host disk, their requests and the time, from 10 s on.
class Disk {
  t = 10_000n * MS;
  held: boolean[] = [];
  seen: number[] = [];
  // When each may offer its next request.
  ready: bigint[] = [];
  constructor(readonly vms: { weight: number; bytesPerSecond?: bigint; gapMs?: number }[]) {
    e.reset();
    for (const vm of vms) {
      e.addDisk(vm.weight, 0, vm.bytesPerSecond ?? 0n);
      this.held.push(false);
      this.seen.push(0);
      this.ready.push(0n);
    }
  }

  // Serves until `ms` milliseconds on, the VMs `active` says offering
  // requests (an idle one still has its held request served); returns the
  // bytes each was served.
  run(ms: number, active: (i: number) => boolean = () => true): number[] {
    const end = this.t + BigInt(ms) * MS, served = this.held.map(() => 0);
    while (this.t < end) {
      let progressed = false;
      for (let i = 0; i < this.held.length && this.t < end; i++) {
        if (!this.held[i] && (!active(i) || this.t < this.ready[i])) continue;
        if (this.held[i]) {
          if (e.wakes(i) == this.seen[i] && this.t < e.resumeAt(i, MS)) continue;
          this.seen[i] = e.wakes(i);
        }
        this.held[i] = !e.admit(i, BYTES, this.t, MS);
        if (this.held[i]) continue;
        this.t += SERVICE;
        e.finished(i, this.t, MS);
        this.ready[i] = this.t + BigInt(Math.round((this.vms[i].gapMs ?? 0) * Number(MS)));
        served[i] += Number(BYTES);
        progressed = true;
      }
      if (!progressed) {
        const due = this.held.map((h, i) => (h ? e.resumeAt(i, MS) : active(i) ? this.ready[i] : end))
          .reduce((a, b) => (a < b ? a : b), end);
        this.t = due > this.t ? due : this.t + 1n;
      }
    }
    return served;
  }
}

// Bytes a second over `ms` milliseconds.
const perSecond = (bytes: number, ms: number) => (bytes * 1000) / ms;

describe("VMs sharing a host disk", () => {
  it("are served in proportion to their weights while all are busy, the disk never idle", () => {
    const [a, b] = new Disk([{ weight: 100 }, { weight: 300 }]).run(2000);
    expect(b / a).toBeGreaterThan(3 * 0.99);
    expect(b / a).toBeLessThan(3 * 1.01);
    expect(perSecond(a + b, 2000)).toBeCloseTo(FULL_DISK, -3);
    const three = new Disk([{ weight: 100 }, { weight: 200 }, { weight: 700 }]).run(1000);
    expect(three.map((s) => Math.round((s / three[0]) * 10) / 10)).toEqual([1, 2, 7]);
  });

  it("let a VM alone have the whole disk, whatever its weight, and never hold it", () => {
    const disk = new Disk([{ weight: 1 }, { weight: 1000 }]);
    const [alone, idle] = disk.run(1000, (i) => i == 0);
    expect(idle).toBe(0);
    expect(perSecond(alone, 1000)).toBe(FULL_DISK);
    expect(disk.held[0]).toBe(false);
    expect(e.wakes(0)).toBe(0);
  });

  it("give an idle VM's share to the others once it has been idle IDLE_MS", () => {
    const disk = new Disk([{ weight: 100 }, { weight: 300 }]);
    disk.run(1000);
    // b stops: a may wait for it up to IDLE_MS, then has the disk.
    const [a] = disk.run(1000, (i) => i == 0);
    expect(perSecond(a, 1000)).toBeGreaterThanOrEqual(FULL_DISK * (1 - Number(IDLE_MS) / 1000) - Number(BYTES));
    expect(e.wakes(0)).toBeGreaterThan(0);
  });

  it("let a light VM, one asking for less than its share, neither slow the others nor bank credit", () => {
    // a asks every 50 ms; b reads flat out, and once a's think time shows
    // (THINK_MS: 6 pauses), has all the rest.
    const disk = new Disk([{ weight: 100, gapMs: 50 }, { weight: 100 }]);
    disk.run(500);
    const [a, b] = disk.run(2000);
    expect(a).toBe(40 * Number(BYTES));
    expect(perSecond(a + b, 2000)).toBeGreaterThan(FULL_DISK * 0.99);
    // a now reads flat out too: from its first request on, half each.
    disk.vms[0].gapMs = 0;
    disk.ready[0] = disk.t;
    const [a2, b2] = disk.run(100);
    expect(a2 / b2).toBeGreaterThan(0.95);
    expect(a2 / b2).toBeLessThan(1.05);
  });

  it("let no VM bank credit while idle", () => {
    const disk = new Disk([{ weight: 100 }, { weight: 300 }]);
    const [alone] = disk.run(5000, (i) => i == 0);
    expect(perSecond(alone, 5000)).toBe(FULL_DISK);
    // b comes back after 5 s of a alone: from its first request on, 3 to 1, not the disk to itself.
    const [a, b] = disk.run(100);
    expect(b / a).toBeGreaterThan(3 * 0.95);
    expect(b / a).toBeLessThan(3 * 1.05);
    const [a2, b2] = disk.run(2000);
    expect(b2 / a2).toBeGreaterThan(3 * 0.99);
    expect(b2 / a2).toBeLessThan(3 * 1.01);
  });

  it("still cap a VM, and give what its cap leaves to the others", () => {
    const cap = 64n << 20n; // 64 MiB/s, a tenth of the disk
    const [a, b] = new Disk([{ weight: 100 }, { weight: 300, bytesPerSecond: cap }]).run(4000);
    // b: its cap, plus one burst of 50 ms and a request; a: all the rest.
    expect(perSecond(b, 4000)).toBeGreaterThan(Number(cap) * 0.99);
    expect(perSecond(b, 4000)).toBeLessThan(Number(cap) * 1.02 + Number(BYTES));
    expect(perSecond(a + b, 4000)).toBeGreaterThan(FULL_DISK * 0.99);
    // Alone with the disk free, a capped VM has its cap and no more.
    const [capped] = new Disk([{ weight: 1000, bytesPerSecond: cap }]).run(4000);
    expect(perSecond(capped, 4000)).toBeLessThan(Number(cap) * 1.02 + Number(BYTES));
    expect(perSecond(capped, 4000)).toBeGreaterThan(Number(cap) * 0.99);
  });
});
