// The PIT driven by the TSC (vmm/platform/pc/pcinterrupts.ts, PcInterrupts): TSC ticks
// become PIT clocks exactly however time is sliced, time starts at the first
// catch-up, and the next IRQ0 is given as a TSC, rounded up so that waking
// there finds it raised. Uses the PC devices of as/devices.ts.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface Exported {
  ioWrite(port: number, size: number, value: number): number;
  picHasInterrupt(): number;
  picAcknowledge(): number;
  pitClocks(): bigint;
  tscCatchUp(nowTsc: bigint, tscPerMs: bigint): void;
  tscIrq0At(tscPerMs: bigint): bigint;
  tscNextEventAt(tscPerMs: bigint): bigint;
  pinSettled(): number;
  pinTouched(): void;
  putOffUntil(due: bigint): void;
  putOffRuns(): number;
  newLook(): void;
  putOffMovedEarlier(): void;
}

let e: Exports<Exported>;
beforeEach(async () => {
  e = (await load<Exported>("devices.ts")).exports;
});

const outb = (port: number, v: number) => {
  e.ioWrite(port, 1, v);
};
const START = 5_000_000n;
const GHZ = 1_000_000n; // TSC ticks per millisecond of a 1 GHz TSC

describe("the PIT on the TSC", () => {
  it(
    "starts its time at the first catch-up and converts TSC ticks to 1.193182 MHz clocks exactly, in "
      + "any slices",
    () => {
      e.tscCatchUp(START, GHZ);
      expect(e.pitClocks()).toBe(0n);
      e.tscCatchUp(START + 1_000_000_000n, GHZ); // one second
      expect(e.pitClocks()).toBe(1_193_182n);
      let now = START + 1_000_000_000n;
      for (let i = 0; i < 1_000; i++) {
        now += 999_999n;
        e.tscCatchUp(now, GHZ);
      } // less than a millisecond each
      expect(e.pitClocks()).toBe(1_193_182n + (999_999_000n * 1_193_182n) / 1_000_000_000n);
    },
  );

  it("never goes back", () => {
    e.tscCatchUp(START, GHZ);
    e.tscCatchUp(START + 10_000_000n, GHZ);
    const clocks = e.pitClocks();
    e.tscCatchUp(START, GHZ);
    expect(e.pitClocks()).toBe(clocks);
  });

  it("raises IRQ0 through the 8259A when the TSC passes the period, and says when, rounded up", () => {
    // Linux's init_8259A() with only IRQ0 unmasked, then counter 0 in mode 2 with 1193 clocks (1 ms).
    outb(0x20, 0x11);
    outb(0x21, 0x30);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0x21, 0xfe);
    e.tscCatchUp(START, GHZ);
    outb(0x43, 0x34);
    outb(0x40, 1193 & 0xff);
    outb(0x40, 1193 >> 8);
    const at = e.tscIrq0At(GHZ);
    // 1193 clocks at 1.193182 MHz are 999847.4 ns.
    expect(at).toBe(START + 999_848n);
    e.tscCatchUp(at - 1n, GHZ);
    expect(e.picHasInterrupt()).toBe(0);
    e.tscCatchUp(at, GHZ);
    expect(e.picHasInterrupt()).toBe(1);
    expect(e.picAcknowledge()).toBe(0x30);
  });

  it("at an odd TSC rate, counts the floor of the whole time in any slices, and wakes exactly on IRQ0", () => {
    // 2.893017 GHz: a millisecond is no whole number of PIT clocks or nanoseconds.
    const RATE = 2_893_017n;
    const clocksAt = (ticks: bigint) => (((ticks * 1_000_000n) / RATE) * 1_193_182n) / 1_000_000_000n;
    e.tscCatchUp(START, RATE);
    let now = START;
    for (let i = 0; i < 500; i++) {
      now += 1_234_567n + BigInt(i % 7);
      e.tscCatchUp(now, RATE);
    }
    expect(e.pitClocks()).toBe(clocksAt(now - START));
    outb(0x20, 0x11);
    outb(0x21, 0x30);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0x21, 0xfe);
    outb(0x43, 0x34);
    outb(0x40, 1193 & 0xff);
    outb(0x40, 1193 >> 8);
    const at = e.tscIrq0At(RATE);
    e.tscCatchUp(at - 1n, RATE);
    expect(e.picHasInterrupt()).toBe(0);
    e.tscCatchUp(at, RATE);
    expect(e.picHasInterrupt()).toBe(1);
  });

  it("has no IRQ0 to wait for while counter 0 holds no count", () => {
    e.tscCatchUp(START, GHZ);
    outb(0x43, 0x34);
    expect(e.tscIrq0At(GHZ)).toBe(0xffff_ffff_ffff_ffffn);
  });
});

describe("the pin's settled state, which lets the scheduler's lane skip its look", () => {
  it("holds only while no interrupt waits at the 8259 and the timers' deadline is known", () => {
    // Linux's init_8259A() with every line masked, then counter 0 in mode 2 with 1193 clocks.
    for (const [port, v] of [[0x20, 0x11], [0x21, 0x30], [0x21, 0x04], [0x21, 0x01], [0x21, 0xff]]) outb(port, v);
    e.tscCatchUp(START, GHZ);
    outb(0x43, 0x34);
    outb(0x40, 1193 & 0xff);
    outb(0x40, 1193 >> 8);
    e.tscCatchUp(e.tscIrq0At(GHZ), GHZ); // IRQ 0 rises into the IRR, masked
    expect(e.pinSettled()).toBe(0); // the timers moved on: their deadline is to be worked out
    e.tscNextEventAt(GHZ);
    expect(e.pinSettled()).toBe(1);
    outb(0x21, 0xfe); // the guest unmasks IRQ 0: INT rises with no edge and no notify()
    expect(e.pinSettled()).toBe(0);
    expect(e.picAcknowledge()).toBe(0x30);
    outb(0x20, 0x20); // its EOI
    expect(e.pinSettled()).toBe(1);
    e.pinTouched();
    expect(e.pinSettled()).toBe(0);
    e.tscNextEventAt(GHZ);
    expect(e.pinSettled()).toBe(1);
  });
});

describe("the devices' deferred work among the pin's next events", () => {
  it("is worked out once a look of the scheduler, again after it ran or when a device moved it earlier", () => {
    e.tscCatchUp(START, GHZ); // no timer programmed: only the deferred work is due
    e.putOffUntil(START + 3_000n);
    expect(e.tscNextEventAt(GHZ)).toBe(START + 3_000n);
    // Later within the same look, unsaid: the look keeps what it found.
    e.putOffUntil(START + 9_000n);
    expect(e.tscNextEventAt(GHZ)).toBe(START + 3_000n);
    e.newLook();
    expect(e.tscNextEventAt(GHZ)).toBe(START + 9_000n);
    // Earlier, said: known at once.
    e.putOffUntil(START + 5_000n);
    e.putOffMovedEarlier();
    expect(e.tscNextEventAt(GHZ)).toBe(START + 5_000n);
    // The clock reaches it: the work runs once, and nothing is due after.
    e.tscCatchUp(START + 5_000n, GHZ);
    expect(e.putOffRuns()).toBe(1);
    expect(e.tscNextEventAt(GHZ)).toBe(0xffff_ffff_ffff_ffffn);
  });
});
