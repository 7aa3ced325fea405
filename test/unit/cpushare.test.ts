// A VM's share of the host's CPUs (vmm/core/cpushare.ts), as the scheduler
// (vmm/sched/scheduler.ts) uses it: it runs the vCPU whose virtual time is
// furthest behind, adds each run's ticks scaled by virtualTicks(), skips a
// VM that heldBack() says used its cap, and cuts a slice to what left()
// allows. The simulations below make those choices on one CPU with a clock
// of their own and check the shares that come out: weights like Xen's
// credit scheduler's, a cap that holds over time though the alarm ending
// each slice rings late.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface ShareExports {
  make(weight: number, capPercent: number, affinity: number): number;
  allows(vm: number, cpu: number): number;
  virtualTicks(vm: number, ticks: bigint, active: number): bigint;
  account(vm: number, ticks: bigint): void;
  heldBack(vm: number, now: bigint, tscPerMs: bigint): number;
  left(vm: number, tscPerMs: bigint): bigint;
  periodEnd(vm: number, tscPerMs: bigint): bigint;
}

const TSC_PER_MS = 1_000_000n;
const PERIOD = 50n * TSC_PER_MS; // CAP_PERIOD_MS
const SLICE = 20n * TSC_PER_MS; // the scheduler's SLICE_MS
const NO_CAP = 0xffff_ffff_ffff_ffffn;

let e: Exports<ShareExports>;
beforeEach(async () => {
  e = (await load<ShareExports>("cpushare.ts")).exports;
});

describe("weights", () => {
  it("a VM's virtual time runs at 256 / weight of its real time", () => {
    const normal = e.make(256, 0, 1), heavy = e.make(512, 0, 1), light = e.make(128, 0, 1);
    expect(e.virtualTicks(normal, 1000n, 1)).toBe(1000n);
    expect(e.virtualTicks(heavy, 1000n, 1)).toBe(500n);
    expect(e.virtualTicks(light, 1000n, 1)).toBe(2000n);
  });

  it("a VM's runnable vCPUs divide its weight among them", () => {
    const vm = e.make(256, 0, 1);
    expect(e.virtualTicks(vm, 1000n, 2)).toBe(2000n);
    expect(e.virtualTicks(vm, 1000n, 0)).toBe(1000n); // never less than one
  });

  it("VMs contending for one CPU get it in proportion to their weights", () => {
    const weights = [512, 256, 256];
    const vms = weights.map((w) => e.make(w, 0, 1));
    const vruntime = vms.map(() => 0n), ran = vms.map(() => 0n);
    for (let slice = 0; slice < 4000; slice++) {
      // pick(): the one furthest behind, the first among equals.
      const next = vruntime.indexOf(vruntime.reduce((a, b) => (b < a ? b : a)));
      ran[next] += SLICE;
      vruntime[next] += e.virtualTicks(vms[next], SLICE, 1);
    }
    expect(Number(ran[0]) / Number(ran[1])).toBeCloseTo(2, 2);
    expect(Number(ran[1]) / Number(ran[2])).toBeCloseTo(1, 2);
  });
});

describe("caps", () => {
  it("an uncapped VM is never held back and has no budget to cut a slice to", () => {
    const vm = e.make(256, 0, 1);
    e.account(vm, 10n * PERIOD);
    expect(e.heldBack(vm, 1n, TSC_PER_MS)).toBe(0);
    expect(e.left(vm, TSC_PER_MS)).toBe(NO_CAP);
  });

  it("a VM capped at 25 % has a quarter of each 50 ms period, then waits for the next", () => {
    const vm = e.make(256, 25, 1);
    expect(e.left(vm, TSC_PER_MS)).toBe(PERIOD / 4n);
    e.account(vm, PERIOD / 4n - 1n);
    expect(e.heldBack(vm, 10n * TSC_PER_MS, TSC_PER_MS)).toBe(0);
    e.account(vm, 1n);
    expect(e.heldBack(vm, 20n * TSC_PER_MS, TSC_PER_MS)).toBe(1);
    expect(e.left(vm, TSC_PER_MS)).toBe(0n);
    expect(e.periodEnd(vm, TSC_PER_MS)).toBe(PERIOD);
    expect(e.heldBack(vm, PERIOD, TSC_PER_MS)).toBe(0);
    expect(e.left(vm, TSC_PER_MS)).toBe(PERIOD / 4n);
    expect(e.periodEnd(vm, TSC_PER_MS)).toBe(2n * PERIOD);
  });

  it("what a period's run overshoots is taken from the next; unused time is not saved up", () => {
    const vm = e.make(256, 25, 1), budget = PERIOD / 4n, late = 5n * TSC_PER_MS;
    e.account(vm, budget + late);
    expect(e.heldBack(vm, PERIOD, TSC_PER_MS)).toBe(0);
    expect(e.left(vm, TSC_PER_MS)).toBe(budget - late);
    // Idle for ten periods: one period's budget, no more.
    expect(e.heldBack(vm, 12n * PERIOD, TSC_PER_MS)).toBe(0);
    expect(e.left(vm, TSC_PER_MS)).toBe(budget);
    // An overshoot beyond a whole budget holds it back for a period more.
    e.account(vm, 2n * budget + late);
    expect(e.heldBack(vm, 13n * PERIOD, TSC_PER_MS)).toBe(1);
    expect(e.heldBack(vm, 14n * PERIOD, TSC_PER_MS)).toBe(0);
    expect(e.left(vm, TSC_PER_MS)).toBe(budget - late);
  });

  it("holds a busy VM to its cap over time though every slice ends 3 ms late", () => {
    const vm = e.make(256, 25, 1), late = 3n * TSC_PER_MS, end = 10_000n * TSC_PER_MS;
    let now = 0n, ran = 0n;
    while (now < end) {
      if (e.heldBack(vm, now, TSC_PER_MS)) {
        now = e.periodEnd(vm, TSC_PER_MS); // the CPU idles until the period ends
        continue;
      }
      const slice = [SLICE, e.left(vm, TSC_PER_MS)].reduce((a, b) => (b < a ? b : a)) + late;
      e.account(vm, slice);
      ran += slice;
      now += slice;
    }
    expect(Number(ran) / Number(now)).toBeGreaterThan(0.245);
    expect(Number(ran) / Number(now)).toBeLessThan(0.255);
  });
});

describe("affinity", () => {
  it("names the host CPUs a VM's vCPUs may use, one bit each", () => {
    const vm = e.make(256, 0, 0b101);
    expect([0, 1, 2, 3].map((cpu) => e.allows(vm, cpu))).toEqual([1, 0, 1, 0]);
  });
});
