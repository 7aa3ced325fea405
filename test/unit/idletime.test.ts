// The host CPUs' idle ticks (kernel/cpu/idletime.ts): each CPU's periods
// that ended, and the one under way up to now, summed over every CPU; an
// end without a beginning counts nothing.
import { beforeAll, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface IdleExports {
  idleFrom(cpu: number, now: bigint): void;
  idleUntil(cpu: number, now: bigint): void;
  idleTicks(now: bigint): bigint;
}

let e: Exports<IdleExports>;
beforeAll(async () => {
  e = (await load<IdleExports>("idletime.ts")).exports;
});

describe("the host CPUs' idle ticks", () => {
  it("sum the periods that ended and those under way, over every CPU", () => {
    expect(e.idleTicks(1_000n)).toBe(0n);
    e.idleUntil(0, 1_000n); // no period under way: nothing
    e.idleFrom(0, 1_000n);
    e.idleUntil(0, 1_500n);
    expect(e.idleTicks(2_000n)).toBe(500n);
    e.idleFrom(1, 1_800n);
    expect(e.idleTicks(2_000n)).toBe(700n);
    e.idleFrom(0, 1_900n);
    expect(e.idleTicks(2_000n)).toBe(800n);
    e.idleUntil(1, 2_000n);
    e.idleUntil(0, 2_000n);
    expect(e.idleTicks(9_000n)).toBe(800n);
  });
});
