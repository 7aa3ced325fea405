// A disk's I/O budget (vmm/storage/budget.ts): requests admitted at the
// configured operations and bytes per second on average, with 50 ms of
// credit after idle time and no more, on a TSC of 1 GHz the test moves.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface BudgetExports {
  make(iops: number, bytesPerSecond: bigint): void;
  admit(bytes: bigint, now: bigint, tscPerMs: bigint): number;
  nextStart(): bigint;
}

const MS = 1_000_000n; // TSC ticks a millisecond
const START = 10_000n * MS;
let e: Exports<BudgetExports>;
beforeEach(async () => {
  e = (await load<BudgetExports>("budget.ts")).exports;
});

// Offers a request of `bytes` whenever the budget allows, for `seconds`;
// returns how many went through.
function saturate(bytes: bigint, seconds: number): number {
  let now = START, admitted = 0;
  const end = START + BigInt(seconds * 1000) * MS;
  while (now < end) {
    if (e.admit(bytes, now, MS)) admitted++;
    else now = e.nextStart();
  }
  return admitted;
}

describe("the I/O budget", () => {
  it("admits the configured operations per second, plus one burst", () => {
    e.make(200, 0n);
    const admitted = saturate(4096n, 10);
    expect(admitted).toBeGreaterThanOrEqual(2000);
    expect(admitted).toBeLessThanOrEqual(2000 + 10 + 1); // 50 ms of credit: 10 operations
  });

  it("admits the configured bytes per second, whatever the request size", () => {
    for (const size of [512n, 65536n, 1n << 20n]) {
      e.make(0, 4n << 20n); // 4 MiB/s
      const bytes = BigInt(saturate(size, 5)) * size;
      expect(Number(bytes) / 5).toBeGreaterThanOrEqual(4 * 1024 * 1024 * 0.99);
      expect(Number(bytes) / 5).toBeLessThanOrEqual(4 * 1024 * 1024 * 1.02 + Number(size));
    }
  });

  it("holds whichever cap binds", () => {
    e.make(1000, 1n << 20n); // 1000 IOPS, 1 MiB/s: 64 KiB requests are bound by bytes
    expect(saturate(65536n, 4)).toBeLessThanOrEqual(64 + 2);
    e.make(10, 1n << 30n); // small requests are bound by operations
    expect(saturate(512n, 4)).toBeLessThanOrEqual(40 + 1);
  });

  it("gives idle time back only up to 50 ms of credit", () => {
    e.make(100, 0n); // 10 ms an operation
    expect(e.admit(512n, START, MS)).toBe(1);
    // After a second of idleness, 5 more at once (50 ms), then the cap.
    const later = START + 1000n * MS;
    let burst = 0;
    while (e.admit(512n, later, MS)) burst++;
    expect(burst).toBe(6);
    expect(e.nextStart()).toBe(later + 10n * MS);
  });

  it("with no cap admits everything", () => {
    e.make(0, 0n);
    for (let i = 0; i < 1000; i++) expect(e.admit(1n << 20n, START, MS)).toBe(1);
  });
});
